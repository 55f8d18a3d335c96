/* libfedavg's part of the C text fedshare._native._lib is compiled with. */
#include "fedavg.h"
