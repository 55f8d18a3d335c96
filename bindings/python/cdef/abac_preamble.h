/* libabac's part of the C text fedshare._native._lib is compiled with. */
#include "abac.h"
#include "abac/cedar.h"
