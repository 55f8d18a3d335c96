#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phe_test_util.h"

static phe_seckey *keys[4];

phe_rng *test_rng(const char *seed) {
    phe_rng *r = NULL;
    assert_int_equal(phe_rng_new_seeded(&r, (const uint8_t *)seed, strlen(seed)), 0);
    return r;
}

const phe_seckey *test_key(int which) {
    if (which < 0 || which >= 4)
        fail_msg("bad key index");
    if (keys[which] == NULL) {
        char seed[64];
        snprintf(seed, sizeof seed, "fedshare-test-key-%d", which);
        phe_rng *r = test_rng(seed);
        assert_int_equal(phe_key_generate(&keys[which], 2048, r), 0);
        phe_rng_free(r);
    }
    return keys[which];
}

phe_ciphertext *test_ct(void) {
    phe_ciphertext *c = NULL;
    assert_int_equal(phe_ciphertext_new(&c), 0);
    return c;
}

uint8_t *test_encode_pubkey(const phe_pubkey *pk, size_t *len) {
    *len = phe_pubkey_encoded_size(pk);
    uint8_t *b = malloc(*len);
    size_t w = 0;
    assert_non_null(b);
    assert_int_equal(phe_pubkey_encode(pk, b, *len, &w), 0);
    assert_int_equal(w, *len);
    return b;
}

uint8_t *test_encode_ct(const phe_ciphertext *ct, size_t *len) {
    *len = phe_ciphertext_encoded_size(ct);
    uint8_t *b = malloc(*len);
    size_t w = 0;
    assert_non_null(b);
    assert_int_equal(phe_ciphertext_encode(ct, b, *len, &w), 0);
    assert_int_equal(w, *len);
    return b;
}

char *test_hex(const uint8_t *p, size_t len) {
    char *s = malloc(2 * len + 1);
    assert_non_null(s);
    for (size_t i = 0; i < len; i++)
        sprintf(s + 2 * i, "%02x", p[i]);
    s[2 * len] = 0;
    return s;
}

/* Free the cached keys at exit so LeakSanitizer stays quiet. */
__attribute__((destructor)) static void free_keys(void) {
    for (int i = 0; i < 4; i++)
        phe_seckey_free(keys[i]);
}
