/* C text the fedshare._native._abac module is compiled with. */
#include "abac.h"
