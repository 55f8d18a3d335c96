/* C text the fedshare._native._ledger CFFI module compiles with. */
#include "ledger.h"
