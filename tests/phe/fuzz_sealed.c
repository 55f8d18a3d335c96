/* libFuzzer: phe_seckey_unseal (the "PHEF" file parser) on arbitrary bytes.
 * Inputs asking for Argon2id costs above libsodium's minimum are skipped
 * here (each would take a second or more; the unit tests cover the limit
 * checks) so the fuzzer spends its time on the parser. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "phe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t be64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size >= 21 && (be64(data + 5) > crypto_pwhash_OPSLIMIT_MIN || be64(data + 13) > 64 * 1024))
        return 0;
    phe_seckey *sk = NULL;
    int rc = phe_seckey_unseal(&sk, data, size, (const uint8_t *)"fuzz", 4);
    if (rc == 0) {
        if (phe_seckey_validate(sk) != 0)
            __builtin_trap();
        phe_seckey_free(sk);
    } else if (sk != NULL) {
        __builtin_trap();
    }
    return 0;
}
