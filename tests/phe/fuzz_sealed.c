/* libFuzzer: phe_seckey_unseal (the "PHEF" file parser) on arbitrary bytes.
 * Inputs whose Argon2id costs libphe accepts but that are above libsodium's
 * minimum are skipped here (each would take up to seconds and 256 MiB; the
 * unit tests cover them); inputs above the accepted limits run, because
 * they must be refused at once with PHE_ERR_KDF_LIMIT (the harness traps if
 * such an input gets any other answer after its header parsed). */
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
    int over = 0;
    if (size >= 21) {
        uint64_t ops = be64(data + 5), mem = be64(data + 13);
        over = ops > crypto_pwhash_OPSLIMIT_SENSITIVE || mem > crypto_pwhash_MEMLIMIT_MODERATE;
        if (!over && (ops > crypto_pwhash_OPSLIMIT_MIN || mem > 64 * 1024))
            return 0;
    }
    phe_seckey *sk = NULL;
    int rc = phe_seckey_unseal(&sk, data, size, (const uint8_t *)"fuzz", 4);
    /* a well-formed header asking for too much: refused before any work */
    if (over && rc != PHE_ERR_KDF_LIMIT && rc != PHE_ERR_DECODE && rc != PHE_ERR_VERSION)
        __builtin_trap();
    if (rc == 0) {
        if (phe_seckey_validate(sk) != 0)
            __builtin_trap();
        phe_seckey_free(sk);
    } else if (sk != NULL) {
        __builtin_trap();
    }
    return 0;
}
