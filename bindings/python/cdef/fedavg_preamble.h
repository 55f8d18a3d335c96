/* C text the fedshare._native._fedavg CFFI module compiles with. */
#include "fedavg.h"
