/* libphe core: keys, every encryption form, decryption, homomorphic
 * identities, plaintext ranges and error paths. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "phe_test_util.h"

static const int64_t VALUES[] = {
    0, 1, -1, 42, -42, INT64_MAX, INT64_MIN, 1234567890123LL, -987654321098LL};
#define NVALUES (sizeof VALUES / sizeof VALUES[0])

static int64_t dec(const phe_seckey *sk, const phe_ciphertext *ct) {
    int64_t v = 0;
    assert_int_equal(phe_decrypt_i64(sk, ct, &v), 0);
    return v;
}

static void test_strerror_version(void **state) {
    (void)state;
    static const int codes[] = {PHE_OK,
                                PHE_ERR_INVALID_ARG,
                                PHE_ERR_DECODE,
                                PHE_ERR_VERSION,
                                PHE_ERR_KEY_INVALID,
                                PHE_ERR_KEY_SIZE,
                                PHE_ERR_CIPHERTEXT_INVALID,
                                PHE_ERR_PLAINTEXT_RANGE,
                                PHE_ERR_KEY_MISMATCH,
                                PHE_ERR_BUFFER_TOO_SMALL,
                                PHE_ERR_AUTH,
                                PHE_ERR_EMPTY,
                                PHE_ERR_POOL_EMPTY,
                                PHE_ERR_KDF_LIMIT,
                                PHE_ERR_NOMEM,
                                PHE_ERR_IO,
                                PHE_ERR_RNG,
                                PHE_ERR_THREAD,
                                PHE_ERR_INTERNAL};
    size_t n = sizeof codes / sizeof codes[0];
    for (size_t i = 0; i < n; i++) {
        const char *s = phe_strerror(codes[i]);
        assert_non_null(s);
        assert_true(codes[i] == 0 || (codes[i] <= -100 && codes[i] >= -199));
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(s, phe_strerror(codes[j]));
    }
    assert_string_equal(phe_strerror(-150), "unknown libphe error");
    assert_string_equal(phe_strerror(7), "not a libphe error code");
    assert_string_equal(phe_version_string(), PHE_VERSION_STRING);
    assert_int_equal(phe_version_number(), PHE_VERSION_NUMBER);
}

static void test_keygen_args(void **state) {
    (void)state;
    phe_seckey *sk = NULL;
    assert_int_equal(phe_key_generate(&sk, 1024, NULL), PHE_ERR_KEY_SIZE);
    assert_int_equal(phe_key_generate(&sk, 2047, NULL), PHE_ERR_KEY_SIZE);
    assert_int_equal(phe_key_generate(NULL, 2048, NULL), PHE_ERR_INVALID_ARG);
    assert_null(sk);
    phe_seckey_free(NULL);
    phe_pubkey_free(NULL);
    phe_ciphertext_free(NULL);
    phe_rng_free(NULL);
}

static void test_keygen_deterministic(void **state) {
    (void)state;
    const phe_seckey *a = test_key(0);
    phe_rng *r = test_rng("fedshare-test-key-0");
    phe_seckey *b = NULL;
    assert_int_equal(phe_key_generate(&b, 2048, r), 0);
    phe_rng_free(r);
    assert_int_equal(phe_seckey_validate(a), 0);
    assert_int_equal(phe_seckey_validate(b), 0);
    assert_int_equal(phe_pubkey_bits(phe_seckey_pubkey(a)), 2048);
    assert_true(phe_pubkey_equal(phe_seckey_pubkey(a), phe_seckey_pubkey(b)));
    assert_false(phe_pubkey_equal(phe_seckey_pubkey(a), phe_seckey_pubkey(test_key(1))));
    assert_int_equal(phe_plaintext_size(phe_seckey_pubkey(a)), 256);
    assert_int_equal(phe_ciphertext_value_size(phe_seckey_pubkey(a)), 512);
    phe_seckey_free(b);
}

typedef enum { ENC_DJN, ENC_CLASSIC, ENC_CRT, ENC_POOL } enc_kind;

static void encrypt_kind(const phe_seckey *sk, enc_kind k, phe_ciphertext *ct, int64_t m,
                         phe_rng *rng) {
    const phe_pubkey *pk = phe_seckey_pubkey(sk);
    switch (k) {
        case ENC_DJN:
            assert_int_equal(phe_encrypt_i64(pk, ct, m, rng), 0);
            break;
        case ENC_CLASSIC:
            assert_int_equal(phe_encrypt_i64_mode(pk, PHE_ENCRYPT_CLASSIC, ct, m, rng), 0);
            break;
        case ENC_CRT:
            assert_int_equal(phe_seckey_encrypt_i64(sk, ct, m, rng), 0);
            break;
        case ENC_POOL: {
            phe_pool *pool = NULL;
            assert_int_equal(phe_pool_new(&pool, pk, 1), 0);
            assert_int_equal(phe_pool_fill(pool, NULL, rng), 0);
            assert_int_equal(phe_pool_encrypt_i64(pool, ct, m), 0);
            phe_pool_free(pool);
            break;
        }
    }
}

static void test_roundtrip_all_forms(void **state) {
    (void)state;
    const phe_seckey *sk = test_key(0);
    phe_rng *rng = test_rng("roundtrip");
    phe_ciphertext *ct = test_ct(), *ct2 = test_ct();
    for (int k = ENC_DJN; k <= ENC_POOL; k++) {
        for (size_t i = 0; i < NVALUES; i++) {
            encrypt_kind(sk, (enc_kind)k, ct, VALUES[i], rng);
            assert_int_equal(dec(sk, ct), VALUES[i]);
            /* fresh randomness: the same message never gives the same ciphertext */
            encrypt_kind(sk, (enc_kind)k, ct2, VALUES[i], rng);
            assert_false(phe_ciphertext_equal(ct, ct2));
        }
    }
    phe_ciphertext_free(ct);
    phe_ciphertext_free(ct2);
    phe_rng_free(rng);
}

static void test_homomorphic(void **state) {
    (void)state;
    const phe_seckey *sk = test_key(0);
    const phe_pubkey *pk = phe_seckey_pubkey(sk);
    phe_rng *rng = test_rng("homomorphic");
    phe_ciphertext *a = test_ct(), *b = test_ct(), *r = test_ct();
    const int64_t xs[] = {5, -7, 1000000007, -3, 0};
    for (size_t i = 0; i < 5; i++) {
        for (size_t j = 0; j < 5; j++) {
            int64_t x = xs[i], y = xs[j];
            assert_int_equal(phe_encrypt_i64(pk, a, x, rng), 0);
            assert_int_equal(phe_encrypt_i64(pk, b, y, rng), 0);
            assert_int_equal(phe_add(pk, r, a, b), 0);
            assert_int_equal(dec(sk, r), x + y);
            assert_int_equal(phe_add_i64(pk, r, a, y), 0);
            assert_int_equal(dec(sk, r), x + y);
            assert_int_equal(phe_mul_i64(pk, r, a, y), 0);
            assert_int_equal(dec(sk, r), x * y);
        }
        assert_int_equal(phe_negate(pk, r, a), 0);
        assert_int_equal(dec(sk, r), -xs[i]);
        assert_int_equal(phe_rerandomize(pk, r, a, rng), 0);
        assert_false(phe_ciphertext_equal(r, a));
        assert_int_equal(dec(sk, r), xs[i]);
    }
    /* aliasing: a = a + a */
    assert_int_equal(phe_encrypt_i64(pk, a, 21, rng), 0);
    assert_int_equal(phe_add(pk, a, a, a), 0);
    assert_int_equal(dec(sk, a), 42);
    assert_int_equal(phe_mul_i64(pk, a, a, INT64_MIN), 0);
    /* 42 · −2^63 does not fit in int64 */
    int64_t v;
    assert_int_equal(phe_decrypt_i64(sk, a, &v), PHE_ERR_PLAINTEXT_RANGE);
    phe_ciphertext_free(a);
    phe_ciphertext_free(b);
    phe_ciphertext_free(r);
    phe_rng_free(rng);
}

static void test_bytes_plaintexts(void **state) {
    (void)state;
    const phe_seckey *sk = test_key(0);
    const phe_pubkey *pk = phe_seckey_pubkey(sk);
    size_t L = phe_plaintext_size(pk);
    uint8_t *n = malloc(L), *m = malloc(L), *out = malloc(L + 3);
    assert_int_equal(phe_pubkey_modulus(pk, n, L), 0);
    assert_int_equal(phe_pubkey_modulus(pk, n, L - 1), PHE_ERR_BUFFER_TOO_SMALL);
    phe_ciphertext *ct = test_ct(), *k = test_ct();
    /* m = n − 1 (the largest plaintext) is −1 as int64 */
    memcpy(m, n, L);
    m[L - 1] -= 1; /* n is odd, so no borrow */
    assert_int_equal(phe_encrypt_bytes(pk, ct, m, L, NULL), 0);
    assert_int_equal(dec(sk, ct), -1);
    assert_int_equal(phe_decrypt_bytes(sk, ct, out, L + 3), 0);
    assert_memory_equal(out + 3, m, L);
    assert_int_equal(out[0] | out[1] | out[2], 0);
    assert_int_equal(phe_decrypt_bytes(sk, ct, out, L - 1), PHE_ERR_BUFFER_TOO_SMALL);
    /* the size check does not depend on the plaintext: a small value that
     * would fit is refused too (else the error would tell m's length), and
     * the output is left as it was */
    phe_ciphertext *small = test_ct();
    assert_int_equal(phe_encrypt_i64(pk, small, 5, NULL), 0);
    memset(out, 0xa5, L + 3);
    assert_int_equal(phe_decrypt_bytes(sk, small, out, L - 1), PHE_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(phe_decrypt_bytes(sk, small, out, 1), PHE_ERR_BUFFER_TOO_SMALL);
    for (size_t i = 0; i < L + 3; i++)
        assert_int_equal(out[i], 0xa5);
    assert_int_equal(phe_decrypt_bytes(sk, small, out, L), 0);
    assert_int_equal(out[L - 1], 5);
    phe_ciphertext_free(small);
    /* m = n and above: out of range, output untouched */
    assert_int_equal(phe_encrypt_bytes(pk, k, n, L, NULL), PHE_ERR_PLAINTEXT_RANGE);
    uint8_t *ff = malloc(L + 1);
    memset(ff, 0xff, L + 1);
    assert_int_equal(phe_encrypt_bytes(pk, k, ff, L, NULL), PHE_ERR_PLAINTEXT_RANGE);
    assert_int_equal(phe_encrypt_bytes(pk, k, ff, L + 1, NULL), PHE_ERR_PLAINTEXT_RANGE);
    free(ff);
    assert_int_equal(phe_seckey_encrypt_bytes(sk, k, n, L, NULL), PHE_ERR_PLAINTEXT_RANGE);
    assert_int_equal(phe_add_bytes(pk, k, ct, n, L), PHE_ERR_PLAINTEXT_RANGE);
    assert_int_equal(phe_mul_bytes(pk, k, ct, n, L), PHE_ERR_PLAINTEXT_RANGE);
    /* a short plaintext with leading zeros: 2^64 + 5 */
    uint8_t big[12] = {0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5};
    assert_int_equal(phe_encrypt_bytes(pk, k, big, sizeof big, NULL), 0);
    int64_t v;
    assert_int_equal(phe_decrypt_i64(sk, k, &v), PHE_ERR_PLAINTEXT_RANGE);
    /* (n − 1) + (2^64 + 5) = 2^64 + 4; times 3 = 3·2^64 + 12 */
    assert_int_equal(phe_add_bytes(pk, k, ct, big, sizeof big), 0);
    assert_int_equal(phe_mul_bytes(pk, k, k, (const uint8_t *)"\x03", 1), 0);
    assert_int_equal(phe_decrypt_bytes(sk, k, out, L), 0);
    const uint8_t want[9] = {3, 0, 0, 0, 0, 0, 0, 0, 12};
    assert_memory_equal(out + L - 9, want, 9);
    for (size_t i = 0; i < L - 9; i++)
        assert_int_equal(out[i], 0);
    /* empty plaintext is zero */
    assert_int_equal(phe_encrypt_bytes(pk, k, NULL, 0, NULL), 0);
    assert_int_equal(dec(sk, k), 0);
    phe_ciphertext_free(ct);
    phe_ciphertext_free(k);
    free(n);
    free(m);
    free(out);
}

static void test_bad_arguments(void **state) {
    (void)state;
    const phe_seckey *sk = test_key(0);
    const phe_pubkey *pk = phe_seckey_pubkey(sk);
    const phe_seckey *sk1 = test_key(1);
    phe_ciphertext *empty = test_ct(), *a = test_ct(), *other = test_ct(), *r = test_ct();
    int64_t v;
    assert_int_equal(phe_encrypt_i64(pk, a, 3, NULL), 0);
    assert_int_equal(phe_encrypt_i64(phe_seckey_pubkey(sk1), other, 3, NULL), 0);
    assert_int_equal(phe_decrypt_i64(sk, empty, &v), PHE_ERR_EMPTY);
    assert_int_equal(phe_add(pk, r, a, empty), PHE_ERR_EMPTY);
    assert_int_equal(phe_add(pk, r, a, other), PHE_ERR_KEY_MISMATCH);
    assert_int_equal(phe_decrypt_i64(sk, other, &v), PHE_ERR_KEY_MISMATCH);
    assert_int_equal(phe_mul_i64(pk, r, other, 2), PHE_ERR_KEY_MISMATCH);
    assert_int_equal(phe_negate(pk, r, empty), PHE_ERR_EMPTY);
    assert_int_equal(phe_add(NULL, r, a, a), PHE_ERR_INVALID_ARG);
    assert_int_equal(phe_add(pk, NULL, a, a), PHE_ERR_INVALID_ARG);
    assert_int_equal(phe_encrypt_i64(NULL, a, 1, NULL), PHE_ERR_INVALID_ARG);
    assert_int_equal(phe_encrypt_i64_mode(pk, (phe_encrypt_mode)9, r, 1, NULL),
                     PHE_ERR_INVALID_ARG);
    assert_int_equal(phe_decrypt_i64(sk, a, NULL), PHE_ERR_INVALID_ARG);
    assert_int_equal(phe_ciphertext_copy(r, empty), PHE_ERR_EMPTY);
    assert_int_equal(phe_ciphertext_copy(r, a), 0);
    assert_true(phe_ciphertext_equal(r, a));
    assert_int_equal(phe_rng_new_seeded(NULL, (const uint8_t *)"x", 1), PHE_ERR_INVALID_ARG);
    phe_rng *rng = NULL;
    assert_int_equal(phe_rng_new_seeded(&rng, NULL, 0), PHE_ERR_INVALID_ARG);
    /* a failing call leaves the output as it was */
    assert_int_equal(phe_add(pk, r, a, other), PHE_ERR_KEY_MISMATCH);
    assert_true(phe_ciphertext_equal(r, a));
    phe_pool *pool = NULL;
    assert_int_equal(phe_pool_new(&pool, pk, 0), PHE_ERR_INVALID_ARG);
    assert_int_equal(phe_pool_new(&pool, pk, 2), 0);
    assert_int_equal(phe_pool_encrypt_i64(pool, r, 1), PHE_ERR_POOL_EMPTY);
    assert_int_equal(phe_pool_fill(pool, NULL, NULL), 0);
    assert_int_equal(phe_pool_available(pool), 2);
    assert_int_equal(phe_pool_encrypt_i64(pool, r, 7), 0);
    assert_int_equal(phe_pool_encrypt_bytes(pool, r, (const uint8_t *)"\x08", 1), 0);
    assert_int_equal(dec(sk, r), 8);
    assert_int_equal(phe_pool_encrypt_i64(pool, r, 1), PHE_ERR_POOL_EMPTY);
    phe_pool_free(pool);
    phe_ciphertext_free(empty);
    phe_ciphertext_free(a);
    phe_ciphertext_free(other);
    phe_ciphertext_free(r);
}

static void test_rng_deterministic(void **state) {
    (void)state;
    phe_rng *a = test_rng("same"), *b = test_rng("same"), *c = test_rng("other");
    uint8_t x[64], y[64], z[64];
    assert_int_equal(phe_rng_bytes(a, x, sizeof x), 0);
    assert_int_equal(phe_rng_bytes(b, y, sizeof y), 0);
    assert_int_equal(phe_rng_bytes(c, z, sizeof z), 0);
    assert_memory_equal(x, y, sizeof x);
    assert_memory_not_equal(x, z, sizeof x);
    assert_int_equal(phe_rng_bytes(a, x, sizeof x), 0);
    assert_memory_not_equal(x, y, sizeof x); /* the stream moves on */
    /* the same seed gives the same ciphertext */
    const phe_pubkey *pk = phe_seckey_pubkey(test_key(0));
    phe_rng *r1 = test_rng("ct"), *r2 = test_rng("ct");
    phe_ciphertext *c1 = test_ct(), *c2 = test_ct();
    assert_int_equal(phe_encrypt_i64(pk, c1, 99, r1), 0);
    assert_int_equal(phe_encrypt_i64(pk, c2, 99, r2), 0);
    assert_true(phe_ciphertext_equal(c1, c2));
    phe_ciphertext_free(c1);
    phe_ciphertext_free(c2);
    phe_rng_free(r1);
    phe_rng_free(r2);
    phe_rng_free(a);
    phe_rng_free(b);
    phe_rng_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strerror_version),     cmocka_unit_test(test_keygen_args),
        cmocka_unit_test(test_keygen_deterministic), cmocka_unit_test(test_roundtrip_all_forms),
        cmocka_unit_test(test_homomorphic),          cmocka_unit_test(test_bytes_plaintexts),
        cmocka_unit_test(test_bad_arguments),        cmocka_unit_test(test_rng_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
