/* libFuzzer: phe_ciphertext_decode and phe_ciphertext_from_value under a
 * fixed key; whatever decodes is canonical and goes through every
 * homomorphic operation and decryption without failing. */
#include <stdlib.h>
#include <string.h>

#include "phe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static phe_seckey *key(void) {
    static phe_seckey *sk;
    if (sk == NULL) {
        phe_rng *r = NULL;
        if (phe_rng_new_seeded(&r, (const uint8_t *)"fuzz-key", 8) != 0 ||
            phe_key_generate(&sk, 2048, r) != 0)
            __builtin_trap();
        phe_rng_free(r);
    }
    return sk;
}

static void exercise(const phe_seckey *sk, const phe_ciphertext *ct) {
    const phe_pubkey *pk = phe_seckey_pubkey(sk);
    phe_ciphertext *r = NULL;
    uint8_t out[256];
    int64_t v;
    if (phe_ciphertext_new(&r) != 0)
        __builtin_trap();
    if (phe_add(pk, r, ct, ct) != 0 || phe_add_i64(pk, r, ct, -3) != 0 ||
        phe_mul_i64(pk, r, ct, -2) != 0 || phe_negate(pk, r, ct) != 0 ||
        phe_decrypt_bytes(sk, ct, out, sizeof out) != 0)
        __builtin_trap();
    int rc = phe_decrypt_i64(sk, ct, &v);
    if (rc != 0 && rc != PHE_ERR_PLAINTEXT_RANGE)
        __builtin_trap();
    phe_ciphertext_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const phe_seckey *sk = key();
    const phe_pubkey *pk = phe_seckey_pubkey(sk);
    phe_ciphertext *ct = NULL;
    if (phe_ciphertext_new(&ct) != 0)
        __builtin_trap();
    if (phe_ciphertext_decode(pk, ct, data, size) == 0) {
        size_t len = phe_ciphertext_encoded_size(ct), w = 0;
        uint8_t *buf = malloc(len);
        if (buf == NULL || phe_ciphertext_encode(ct, buf, len, &w) != 0 || w != size ||
            memcmp(buf, data, size) != 0)
            __builtin_trap();
        free(buf);
        exercise(sk, ct);
    }
    if (size > 0 && phe_ciphertext_from_value(pk, ct, data, size) == 0)
        exercise(sk, ct);
    phe_ciphertext_free(ct);
    return 0;
}
