/* libFuzzer: phe_seckey_decode on arbitrary bytes; a key that decodes must
 * validate, re-encode canonically and decrypt what it encrypts. */
#include <stdlib.h>
#include <string.h>

#include "phe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    phe_seckey *sk = NULL;
    if (phe_seckey_decode(&sk, data, size) != 0)
        return 0;
    size_t len = phe_seckey_encoded_size(sk), w = 0;
    uint8_t *buf = malloc(len);
    if (buf == NULL || phe_seckey_encode(sk, buf, len, &w) != 0 || w != size ||
        memcmp(buf, data, size) != 0 || phe_seckey_validate(sk) != 0)
        __builtin_trap();
    phe_ciphertext *ct = NULL;
    int64_t v = 0;
    if (phe_ciphertext_new(&ct) != 0 ||
        phe_encrypt_i64_mode(phe_seckey_pubkey(sk), PHE_ENCRYPT_CLASSIC, ct, -5, NULL) != 0 ||
        phe_decrypt_i64(sk, ct, &v) != 0 || v != -5)
        __builtin_trap();
    phe_ciphertext_free(ct);
    free(buf);
    phe_seckey_free(sk);
    return 0;
}
