/* Error text, version, libsodium initialisation. */
#include <sodium.h>

#include "internal.h"

const char *fedavg_strerror(int code) {
    switch (code) {
        /* clang-format off */
        /* codes:begin libfedavg.core.cases: generated from libfedavg/codes.tsv by tools/gen_codes.py */
        case FEDAVG_OK:
            return "success";
        case FEDAVG_E_INVALID:
            return "invalid argument (NULL, zero length or out of range)";
        case FEDAVG_E_NONFINITE:
            return "input holds NaN or infinity (only finite values are accepted)";
        case FEDAVG_E_PARAMS:
            return "precision too fine for the clip: clip * 2^f must not exceed 2^30";
        case FEDAVG_E_OVERFLOW:
            return "sum exceeds the codec headroom (total weight above max_weight, or a carry)";
        case FEDAVG_E_FORMAT:
            return "malformed or non-canonical encoding";
        case FEDAVG_E_VERSION:
            return "unsupported format version";
        case FEDAVG_E_MISMATCH:
            return "digest does not verify (a delta applied to the wrong base?)";
        case FEDAVG_E_BUFFER_TOO_SMALL:
            return "output buffer too small";
        case FEDAVG_E_SLOT:
            return "2 * Q * max_weight needs more than 64 bits per slot (lower the clip, precision or max_weight)";
        case FEDAVG_E_PLAINTEXT:
            return "plaintext smaller than one slot (use a larger key)";
        case FEDAVG_E_NOMEM:
            return "out of memory";
        case FEDAVG_E_CRYPTO:
            return "libsodium initialisation failed";
        /* codes:end */
        /* clang-format on */
        default:
            return "unknown error";
    }
}

const char *fedavg_version_string(void) {
    return FEDAVG_VERSION_STRING;
}

int fedavg_sodium_init_(void) {
    /* sodium_init() is thread-safe and idempotent; 1 means "already done". */
    return sodium_init() < 0 ? FEDAVG_E_CRYPTO : FEDAVG_OK;
}
