/* libFuzzer: phe_pubkey_decode and phe_pubkey_from_modulus on arbitrary bytes
 * must return a code (never crash, leak or abort); what decodes re-encodes
 * to the same bytes (canonical). */
#include <stdlib.h>
#include <string.h>

#include "phe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    phe_pubkey *pk = NULL;
    if (phe_pubkey_decode(&pk, data, size) == 0) {
        size_t len = phe_pubkey_encoded_size(pk), w = 0;
        uint8_t *buf = malloc(len);
        if (buf == NULL || phe_pubkey_encode(pk, buf, len, &w) != 0 || w != size ||
            memcmp(buf, data, size) != 0)
            __builtin_trap(); /* decode ∘ encode must be the identity */
        free(buf);
        phe_pubkey_free(pk);
    }
    pk = NULL;
    if (size > 0 && size <= 1024 && phe_pubkey_from_modulus(&pk, data, size, NULL) == 0) {
        if (phe_pubkey_validate(pk) != 0)
            __builtin_trap();
        phe_pubkey_free(pk);
    }
    return 0;
}
