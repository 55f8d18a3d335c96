#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

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

size_t test_hand_seal(const char magic[4], const uint8_t *plain, size_t plain_len,
                      const uint8_t *pass, size_t pass_len, uint8_t *out) {
    uint64_t ops = crypto_pwhash_OPSLIMIT_MIN, mem = crypto_pwhash_MEMLIMIT_MIN;
    uint8_t key[crypto_secretbox_KEYBYTES];
    uint8_t salt[crypto_pwhash_SALTBYTES], nonce[crypto_secretbox_NONCEBYTES];
    uint32_t blen = (uint32_t)(plain_len + crypto_secretbox_MACBYTES);
    size_t o = 0;
    memset(salt, 0x11, sizeof salt);
    memset(nonce, 0x22, sizeof nonce);
    assert_int_equal(sodium_init() < 0, 0);
    assert_int_equal(crypto_pwhash(key, sizeof key, (const char *)pass, pass_len, salt, ops,
                                   (size_t)mem, crypto_pwhash_ALG_ARGON2ID13),
                     0);
    memcpy(out, magic, 4);
    o = 4;
    out[o++] = 1;
    for (int i = 7; i >= 0; i--)
        out[o++] = (uint8_t)(ops >> (8 * i));
    for (int i = 7; i >= 0; i--)
        out[o++] = (uint8_t)(mem >> (8 * i));
    memcpy(out + o, salt, sizeof salt);
    o += sizeof salt;
    memcpy(out + o, nonce, sizeof nonce);
    o += sizeof nonce;
    for (int i = 3; i >= 0; i--)
        out[o++] = (uint8_t)(blen >> (8 * i));
    assert_int_equal(o, 65);
    assert_int_equal(crypto_secretbox_easy(out + o, plain, plain_len, nonce, key), 0);
    return o + blen;
}

size_t test_hand_seal_v2(const char magic[4], const uint8_t *plain, size_t plain_len,
                         const uint8_t *pass, size_t pass_len, uint8_t *out) {
    uint8_t key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
    uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
    /* the v1 header, then version 2 and the AEAD box in place of secretbox */
    size_t len = test_hand_seal(magic, plain, plain_len, pass, pass_len, out);
    out[4] = 2;
    memset(nonce, 0x22, sizeof nonce);
    assert_int_equal(crypto_pwhash(key, sizeof key, (const char *)pass, pass_len, out + 21,
                                   crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN,
                                   crypto_pwhash_ALG_ARGON2ID13),
                     0);
    assert_int_equal(crypto_aead_xchacha20poly1305_ietf_encrypt(out + 65, NULL, plain, plain_len,
                                                                out, 65, NULL, nonce, key),
                     0);
    return len;
}

void test_every_header_change_fails(test_unseal_fn open_fn, uint8_t *buf, size_t len,
                                    const uint8_t *pass, size_t pass_len) {
    static const uint8_t masks[] = {0x01, 0x02, 0x04, 0x80, 0xff};
    assert_true(len > 65);
    assert_int_equal(open_fn(buf, len, pass, pass_len), 0);
    for (size_t i = 0; i < 65; i++) {
        for (size_t m = 0; m < sizeof masks; m++) {
            buf[i] ^= masks[m];
            int rc = open_fn(buf, len, pass, pass_len);
            if (rc == 0)
                fail_msg("header byte %zu ^ 0x%02x: the envelope still opens", i, masks[m]);
            buf[i] ^= masks[m];
        }
    }
    assert_int_equal(open_fn(buf, len, pass, pass_len), 0);
}
