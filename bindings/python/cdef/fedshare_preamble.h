/* C text the fedshare._native._fedshare module is compiled with. */
#include <fedshare.h>
