/* C text of the fedshare._native._phe module: libphe's umbrella header
 * (which brings phe/threshold.h once it exists). */
#include <phe.h>
