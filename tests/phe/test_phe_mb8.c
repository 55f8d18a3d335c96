/* libphe: the AVX-512 IFMA multi-buffer exponentiation (modexp_mb8.c) gives
 * exactly GMP's mpz_powm at every modulus size libphe uses (p² and n² at
 * 2048- and 3072-bit n, and the 1024/1536-bit p of those keys), for random
 * bases and moduli and for the exponents 0, 1, all ones, short and random,
 * in any mix across the eight lanes; the batch wrapper gives the same
 * results with the kernel and with the GMP fallback forced. Where the CPU
 * lacks IFMA the kernel tests are skipped and the fallback tests still run. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "phe_internal.h"
#include "phe_test_util.h"

static gmp_randstate_t rs;

static void rand_modulus(mpz_t m, size_t bits) {
    mpz_urandomb(m, rs, (mp_bitcnt_t)bits);
    mpz_setbit(m, (mp_bitcnt_t)bits - 1);
    mpz_setbit(m, 0);
}

/* exponent pattern p for lane i: 0, 1, all ones, short, random */
static void pattern_exp(mpz_t e, int p, size_t bits) {
    switch (p % 5) {
        case 0:
            mpz_set_ui(e, 0);
            break;
        case 1:
            mpz_set_ui(e, 1);
            break;
        case 2:
            mpz_set_ui(e, 1);
            mpz_mul_2exp(e, e, (mp_bitcnt_t)bits);
            mpz_sub_ui(e, e, 1);
            break;
        case 3:
            mpz_urandomb(e, rs, 7);
            break;
        default:
            mpz_urandomb(e, rs, (mp_bitcnt_t)bits);
            break;
    }
}

/* One kernel call of `count` lanes against mpz_powm. same_mod: every lane
 * the same modulus (as libphe's callers do), else one per lane. */
static void check_call(size_t mbits, size_t ebits, size_t count, int same_mod, int shift) {
    mpz_t m[8], b[8], e[8], r[8], want;
    mpz_ptr ro[8];
    mpz_srcptr bo[8], eo[8], mo[8];
    mpz_init(want);
    for (size_t i = 0; i < 8; i++) {
        mpz_inits(m[i], b[i], e[i], r[i], NULL);
        if (i == 0 || !same_mod)
            rand_modulus(m[i], mbits);
        else
            mpz_set(m[i], m[0]);
        mpz_urandomm(b[i], rs, m[i]);
        if (i == 5)
            mpz_set_ui(b[i], 1);
        if (i == 6)
            mpz_add(b[i], b[i], m[i]); /* ≥ modulus: reduced first */
        pattern_exp(e[i], (int)i + shift, ebits);
        ro[i] = r[i];
        bo[i] = b[i];
        eo[i] = e[i];
        mo[i] = m[i];
    }
    assert_int_equal(phei_powm_mb8(ro, bo, eo, mo, count, ebits), 0);
    for (size_t i = 0; i < count; i++) {
        mpz_powm(want, b[i], e[i], m[i]);
        if (mpz_cmp(want, r[i]) != 0)
            fail_msg("modulus %zu bits, exponent bits %zu, lane %zu (pattern %d) differs", mbits,
                     ebits, i, (int)(i + (size_t)shift) % 5);
    }
    for (size_t i = 0; i < 8; i++)
        mpz_clears(m[i], b[i], e[i], r[i], NULL);
    mpz_clear(want);
}

static const size_t SIZES[] = {1024, 1536, 2048, 3072, 4096, 6144};

static void test_mb8_matches_gmp(void **state) {
    (void)state;
    if (!phei_mb8_available())
        skip();
    for (size_t s = 0; s < sizeof SIZES / sizeof SIZES[0]; s++) {
        size_t bits = SIZES[s];
        /* full-length exponents, every pattern in every lane position */
        check_call(bits, bits, 8, 1, 0);
        check_call(bits, bits, 8, 0, 3);
        /* short exponent bounds and odd lengths, partial calls */
        check_call(bits, 64, 3, 1, 2);
        check_call(bits, bits / 2 + 1, 8, 0, 1);
        check_call(bits - 1, 17, 1, 1, 4);
    }
}

/* Moduli near the top of their limb count: 52·L − 2 bits is the largest the
 * almost-Montgomery bound (4m ≤ R) allows for L limbs. */
static void test_mb8_limb_edges(void **state) {
    (void)state;
    if (!phei_mb8_available())
        skip();
    static const size_t edge[] = {52 * 40 - 2, 52 * 40 - 1, 52 * 79 - 2, 52 * 79 + 1, 1, 5};
    for (size_t k = 0; k < 4; k++)
        check_call(edge[k], 300, 8, 0, (int)k);
    check_call(3, 40, 8, 0, 0); /* tiny moduli */
    check_call(64, 64, 8, 0, 2);
}

static void test_mb8_domain(void **state) {
    (void)state;
    mpz_t m, b, e, r;
    mpz_inits(m, b, e, r, NULL);
    mpz_ptr ro[1] = {r};
    mpz_srcptr bo[1] = {b}, eo[1] = {e}, mo[1] = {m};
    mpz_set_ui(b, 3);
    mpz_set_ui(e, 5);
    mpz_set_ui(m, 1000); /* even: not the kernel's */
    assert_int_equal(phei_powm_mb8(ro, bo, eo, mo, 1, 8), 1);
    mpz_set_ui(m, 1001);
    mpz_set_ui(e, 300); /* longer than exp_bits */
    assert_int_equal(phei_powm_mb8(ro, bo, eo, mo, 1, 8), 1);
    assert_int_equal(phei_powm_mb8(ro, bo, eo, mo, 0, 8), PHE_ERR_INTERNAL);
    assert_int_equal(phei_powm_mb8(ro, bo, eo, mo, 9, 8), PHE_ERR_INTERNAL);
    phei_mb8_force_fallback(1);
    assert_int_equal(phei_mb8_available(), 0);
    mpz_set_ui(e, 5);
    assert_int_equal(phei_powm_mb8(ro, bo, eo, mo, 1, 8), 1);
    phei_mb8_force_fallback(0);
    mpz_clears(m, b, e, r, NULL);
}

/* phei_powm_batch with the kernel and with the fallback forced: equal, and
 * equal to mpz_powm, for 13 items (one full group and a partial one). */
static void test_batch_fallback_equals_kernel(void **state) {
    (void)state;
    enum { N = 13 };
    static const size_t bits[] = {2048, 4096};
    for (size_t s = 0; s < 2; s++) {
        mpz_t m, b[N], e[N], r1[N], r2[N], want;
        mpz_ptr o1[N], o2[N];
        mpz_srcptr bo[N], eo[N], mo[N];
        mpz_inits(m, want, NULL);
        rand_modulus(m, bits[s]);
        for (size_t i = 0; i < N; i++) {
            mpz_inits(b[i], e[i], r1[i], r2[i], NULL);
            mpz_urandomm(b[i], rs, m);
            pattern_exp(e[i], (int)i + 1, bits[s] / 2);
            if (mpz_sgn(e[i]) == 0)
                mpz_set_ui(e[i], 2); /* powm_sec needs e > 0 in the secret fallback */
            o1[i] = r1[i];
            o2[i] = r2[i];
            bo[i] = b[i];
            eo[i] = e[i];
            mo[i] = m;
        }
        assert_int_equal(phei_powm_batch(o1, bo, eo, mo, N, bits[s] / 2, 1), 0);
        phei_mb8_force_fallback(1);
        assert_int_equal(phei_powm_batch(o2, bo, eo, mo, N, bits[s] / 2, 1), 0);
        phei_mb8_force_fallback(0);
        for (size_t i = 0; i < N; i++) {
            mpz_powm(want, b[i], e[i], m);
            assert_int_equal(mpz_cmp(r1[i], want), 0);
            assert_int_equal(mpz_cmp(r2[i], want), 0);
            mpz_clears(b[i], e[i], r1[i], r2[i], NULL);
        }
        mpz_clears(m, want, NULL);
    }
}

/* Batch decryption (groups of 8 through the kernel) equals the forced
 * fallback and the plaintexts, for i64 and bytes; inside one group the
 * lowest failing index still decides the error. */
static void test_batch_decrypt_kernel_equals_fallback(void **state) {
    (void)state;
    enum { N = 19 };
    const phe_seckey *sk = test_key(0);
    const phe_pubkey *pk = phe_seckey_pubkey(sk);
    phe_ciphertext *ct[N];
    int64_t m[N], d1[N], d2[N];
    for (size_t i = 0; i < N; i++) {
        ct[i] = test_ct();
        m[i] = (int64_t)(i * 7919) - 50000 + (i == 3 ? INT64_MAX - 60000 : 0);
        if (i == 4)
            m[i] = INT64_MIN;
        assert_int_equal(phe_encrypt_i64(pk, ct[i], m[i], NULL), 0);
    }
    const phe_ciphertext *const *cc = (const phe_ciphertext *const *)ct;
    phe_ctx *ctx = NULL;
    assert_int_equal(phe_ctx_new(&ctx, 2), 0);
    assert_int_equal(phe_decrypt_i64_batch(ctx, sk, cc, d1, N), 0);
    phei_mb8_force_fallback(1);
    assert_int_equal(phe_decrypt_i64_batch(ctx, sk, cc, d2, N), 0);
    phei_mb8_force_fallback(0);
    assert_memory_equal(d1, m, sizeof m);
    assert_memory_equal(d2, m, sizeof m);
    size_t L = phe_plaintext_size(pk);
    uint8_t *b1 = calloc(N, L), *b2 = calloc(N, L);
    assert_non_null(b1);
    assert_non_null(b2);
    assert_int_equal(phe_decrypt_bytes_batch(ctx, sk, cc, b1, L, L, N), 0);
    phei_mb8_force_fallback(1);
    assert_int_equal(phe_decrypt_bytes_batch(ctx, sk, cc, b2, L, L, N), 0);
    phei_mb8_force_fallback(0);
    assert_memory_equal(b1, b2, (size_t)N * L);
    free(b1);
    free(b2);
    /* items 9 (other key) and 10 (empty) share a group: 9 wins; then 10 */
    phe_ciphertext *other = test_ct(), *empty = test_ct();
    assert_int_equal(phe_encrypt_i64(phe_seckey_pubkey(test_key(1)), other, 1, NULL), 0);
    phe_ciphertext *s9 = ct[9], *s10 = ct[10];
    ct[10] = empty;
    ct[9] = other;
    for (int forced = 0; forced < 2; forced++) {
        phei_mb8_force_fallback(forced);
        assert_int_equal(phe_decrypt_i64_batch(ctx, sk, cc, d1, N), PHE_ERR_KEY_MISMATCH);
        ct[9] = s9;
        assert_int_equal(phe_decrypt_i64_batch(ctx, sk, cc, d1, N), PHE_ERR_EMPTY);
        ct[9] = other;
    }
    phei_mb8_force_fallback(0);
    ct[9] = s9;
    ct[10] = s10;
    phe_ciphertext_free(other);
    phe_ciphertext_free(empty);
    phe_ctx_free(ctx);
    for (size_t i = 0; i < N; i++)
        phe_ciphertext_free(ct[i]);
}

/* The kernel's fixed-base DJN randomizer h_s^a equals mpz_powm for the
 * exponents 0, all ones, 1 and random, in every lane. */
static void test_fixed_base_matches_powm(void **state) {
    (void)state;
    const phe_pubkey *pk = phe_seckey_pubkey(test_key(0));
    assert_int_equal(phei_pubkey_table(pk), 0);
    if (!phei_mb8_available() || pk->mb8 == NULL)
        skip();
    size_t nbytes = (pk->djn_bits + 7) / 8;
    uint8_t a[8][1100];
    const uint8_t *ap[8];
    mpz_t r[8], e, want;
    mpz_ptr rp[8];
    mpz_inits(e, want, NULL);
    for (size_t i = 0; i < 8; i++) {
        for (size_t b = 0; b < nbytes; b++)
            a[i][b] = i == 0   ? 0
                      : i == 1 ? 0xff
                      : i == 2 ? (b == 0)
                               : (uint8_t)gmp_urandomb_ui(rs, 8);
        ap[i] = a[i];
        mpz_init(r[i]);
        rp[i] = r[i];
    }
    static const size_t counts[] = {8, 3};
    for (size_t c = 0; c < 2; c++) {
        size_t count = counts[c];
        assert_int_equal(phei_mb8_fb_pow(pk->mb8, rp, ap, pk->djn_bits, count), 0);
        for (size_t i = 0; i < count; i++) {
            mpz_import(e, nbytes, -1, 1, 0, 0, a[i]);
            mpz_fdiv_r_2exp(e, e, pk->djn_bits); /* bits past djn_bits are ignored */
            mpz_powm(want, pk->hs, e, pk->n2);
            assert_int_equal(mpz_cmp(want, r[i]), 0);
        }
    }
    for (size_t i = 0; i < 8; i++)
        mpz_clear(r[i]);
    mpz_clears(e, want, NULL);
}

/* Seeded batch encryption (i64 and bytes) and a seeded pool fill give the
 * same ciphertexts with the kernel and with the fallback forced: the same
 * bytes are drawn for every item either way. */
static void test_batch_encrypt_kernel_equals_fallback(void **state) {
    (void)state;
    enum { N = 19 };
    const phe_seckey *sk = test_key(0);
    const phe_pubkey *pk = phe_seckey_pubkey(sk);
    phe_ciphertext *c1[N], *c2[N];
    int64_t m[N], back[N];
    for (size_t i = 0; i < N; i++) {
        c1[i] = test_ct();
        c2[i] = test_ct();
        m[i] = (int64_t)i * 104729 - 900000;
    }
    phe_ctx *ctx = NULL;
    assert_int_equal(phe_ctx_new(&ctx, 2), 0);
    for (int bytes = 0; bytes < 2; bytes++) {
        size_t L = phe_plaintext_size(pk) - 1;
        uint8_t *rows = calloc(N, L);
        assert_non_null(rows);
        for (size_t i = 0; i < N * L; i++)
            rows[i] = (uint8_t)(i * 31 + 7);
        for (int forced = 0; forced < 2; forced++) {
            phe_rng *rng = test_rng("ifma-batch-encrypt");
            phei_mb8_force_fallback(forced);
            phe_ciphertext **dst = forced ? c2 : c1;
            if (bytes)
                assert_int_equal(phe_encrypt_bytes_batch(ctx, pk, dst, rows, L, L, N, rng), 0);
            else
                assert_int_equal(phe_encrypt_i64_batch(ctx, pk, dst, m, N, rng), 0);
            phe_rng_free(rng);
        }
        phei_mb8_force_fallback(0);
        for (size_t i = 0; i < N; i++)
            assert_true(phe_ciphertext_equal(c1[i], c2[i]));
        if (!bytes) {
            assert_int_equal(
                phe_decrypt_i64_batch(ctx, sk, (const phe_ciphertext *const *)c1, back, N), 0);
            assert_memory_equal(back, m, sizeof m);
        }
        free(rows);
    }
    /* the pool: the same seeded values either way */
    for (int forced = 0; forced < 2; forced++) {
        phe_pool *pool = NULL;
        assert_int_equal(phe_pool_new(&pool, pk, 11), 0);
        phe_rng *rng = test_rng("ifma-pool");
        phei_mb8_force_fallback(forced);
        assert_int_equal(phe_pool_fill(pool, ctx, rng), 0);
        phei_mb8_force_fallback(0);
        phe_rng_free(rng);
        assert_int_equal(phe_pool_available(pool), 11);
        for (size_t i = 0; i < 11; i++)
            assert_int_equal(phe_pool_encrypt_i64(pool, forced ? c2[i] : c1[i], m[i]), 0);
        phe_pool_free(pool);
    }
    for (size_t i = 0; i < 11; i++)
        assert_true(phe_ciphertext_equal(c1[i], c2[i]));
    /* an empty handle inside a group: its index is reported */
    phe_ciphertext *save = c1[12];
    c1[12] = NULL;
    assert_int_equal(phe_encrypt_i64_batch(ctx, pk, c1, m, N, NULL), PHE_ERR_INVALID_ARG);
    c1[12] = save;
    phe_ctx_free(ctx);
    for (size_t i = 0; i < N; i++) {
        phe_ciphertext_free(c1[i]);
        phe_ciphertext_free(c2[i]);
    }
}

int main(void) {
    gmp_randinit_default(rs);
    gmp_randseed_ui(rs, 20261207);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mb8_matches_gmp),
        cmocka_unit_test(test_mb8_limb_edges),
        cmocka_unit_test(test_mb8_domain),
        cmocka_unit_test(test_batch_fallback_equals_kernel),
        cmocka_unit_test(test_batch_decrypt_kernel_equals_fallback),
        cmocka_unit_test(test_fixed_base_matches_powm),
        cmocka_unit_test(test_batch_encrypt_kernel_equals_fallback),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    gmp_randclear(rs);
    return rc;
}
