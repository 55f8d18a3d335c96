/* libphe's part of the C text fedshare._native._lib is compiled with: the
 * umbrella header (which brings phe/threshold.h) and phe/dkg.h. */
#include <phe.h>
#include <phe/dkg.h>
