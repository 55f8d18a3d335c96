/* libphe: the AVX-512 IFMA multi-buffer exponentiation (modexp_mb8.c) gives
 * exactly GMP's mpz_powm at every modulus size libphe uses (p² and n² at
 * 2048- and 3072-bit n, and the 1024/1536-bit p of those keys), for random
 * bases and moduli and for the exponents 0, 1, all ones, short and random,
 * in any mix across the eight lanes; the batch wrapper gives the same
 * results with the kernel and with the GMP fallback forced; so do the
 * two-number kernel (phei_powm_x2, single decryption's CRT halves) and the
 * DJN exponent split across the lanes (single encryption). Where the CPU
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

/* phei_powm_x2 (each number across the lanes, two interleaved) against
 * mpz_powm: random moduli of every size libphe uses and a different one in
 * each half, the limb-count edges, every exponent pattern, bases 0, 1 and
 * ≥ the modulus. */
static void check_x2(size_t mbits0, size_t mbits1, size_t ebits, int shift) {
    mpz_t m[2], b[2], e[2], r[2], want;
    mpz_ptr ro[2];
    mpz_srcptr bo[2], eo[2], mo[2];
    mpz_init(want);
    for (size_t k = 0; k < 2; k++) {
        mpz_inits(m[k], b[k], e[k], r[k], NULL);
        rand_modulus(m[k], k == 0 ? mbits0 : mbits1);
        mpz_urandomm(b[k], rs, m[k]);
        pattern_exp(e[k], (int)k + shift, ebits);
        ro[k] = r[k];
        bo[k] = b[k];
        eo[k] = e[k];
        mo[k] = m[k];
    }
    if (shift % 4 == 1)
        mpz_set_ui(b[0], 1);
    if (shift % 4 == 2)
        mpz_add(b[1], b[1], m[1]); /* ≥ modulus: reduced first */
    if (shift % 4 == 3)
        mpz_set_ui(b[1], 0);
    assert_int_equal(phei_powm_x2(ro, bo, eo, mo, ebits), 0);
    for (size_t k = 0; k < 2; k++) {
        mpz_powm(want, b[k], e[k], m[k]);
        if (mpz_cmp(want, r[k]) != 0)
            fail_msg("x2: moduli %zu/%zu bits, exponent bits %zu, half %zu (pattern %d) differs",
                     mbits0, mbits1, ebits, k, (int)(k + (size_t)shift) % 5);
        mpz_clears(m[k], b[k], e[k], r[k], NULL);
    }
    mpz_clear(want);
}

static void test_x2_matches_gmp(void **state) {
    (void)state;
    if (!phei_mb8_available())
        skip();
    for (size_t s = 0; s < sizeof SIZES / sizeof SIZES[0]; s++) {
        size_t bits = SIZES[s];
        for (int shift = 0; shift < 5; shift++)
            check_x2(bits, bits, bits / 2, shift); /* CRT decryption's shape */
        check_x2(bits, bits - 9, bits, 4);
        check_x2(bits - 1, bits, 61, 3);
    }
    check_x2(8192, 8192, 4096, 4); /* the largest modulus */
    static const size_t edge[] = {52 * 40 - 2, 52 * 40 - 1, 52 * 79 - 2, 52 * 79 + 1, 52 * 8 - 2};
    for (size_t k = 0; k < sizeof edge / sizeof edge[0]; k++)
        check_x2(edge[k], edge[k], 300, (int)k);
    check_x2(3, 64, 40, 1); /* tiny moduli */
    /* outside the domain: 1, the caller's fallback decides */
    mpz_t m, b, e, r;
    mpz_inits(m, b, e, r, NULL);
    mpz_ptr ro[2] = {r, r};
    mpz_srcptr bo[2] = {b, b}, eo[2] = {e, e}, mo[2] = {m, m};
    mpz_set_ui(b, 3);
    mpz_set_ui(e, 300);
    mpz_set_ui(m, 1000);
    assert_int_equal(phei_powm_x2(ro, bo, eo, mo, 16), 1); /* even modulus */
    mpz_set_ui(m, 1001);
    assert_int_equal(phei_powm_x2(ro, bo, eo, mo, 8), 1); /* exponent too long */
    assert_int_equal(phei_powm_x2(ro, bo, eo, mo, 16), 0);
    mpz_powm(b, b, e, m);
    assert_int_equal(mpz_cmp(r, b), 0);
    phei_mb8_force_fallback(1);
    assert_int_equal(phei_powm_x2(ro, bo, eo, mo, 16), 1);
    phei_mb8_force_fallback(0);
    mpz_clears(m, b, e, r, NULL);
}

/* One DJN exponent split across the lanes (phei_mb8_fb_pow1) equals
 * mpz_powm and the GMP comb (phei_djn_pow) for the exponents 0, all ones,
 * 1, a single top bit and random ones, at every key size: 2048 (the test
 * key), 3072 and 4096 (public keys from random biprimes). */
static void check_pow1(const phe_pubkey *pk) {
    assert_int_equal(phei_pubkey_table(pk), 0);
    if (pk->mb8 == NULL)
        fail_msg("no kernel table at %u bits", (unsigned)pk->bits);
    size_t nbytes = (pk->djn_bits + 7) / 8;
    uint8_t a[1100];
    mpz_t r, g, e, want;
    mpz_inits(r, g, e, want, NULL);
    for (int k = 0; k < 9; k++) {
        for (size_t b = 0; b < nbytes; b++)
            a[b] = k == 0   ? 0
                   : k == 1 ? 0xff
                   : k == 2 ? (b == 0)
                   : k == 3 ? (b == nbytes - 1 ? 0x80 : 0)
                            : (uint8_t)gmp_urandomb_ui(rs, 8);
        mpz_import(e, nbytes, -1, 1, 0, 0, a);
        mpz_fdiv_r_2exp(e, e, pk->djn_bits); /* bits past djn_bits are ignored */
        mpz_powm(want, pk->hs, e, pk->n2);
        assert_int_equal(phei_mb8_fb_pow1(pk->mb8, r, a, pk->djn_bits), 0);
        assert_int_equal(phei_djn_pow(pk, g, a, nbytes, NULL), 0);
        if (mpz_cmp(want, r) != 0 || mpz_cmp(want, g) != 0)
            fail_msg("split fixed base at %u bits, exponent pattern %d differs", (unsigned)pk->bits,
                     k);
    }
    mpz_clears(r, g, e, want, NULL);
}

static void test_split_fixed_base_matches_powm(void **state) {
    (void)state;
    if (!phei_mb8_available())
        skip();
    check_pow1(phe_seckey_pubkey(test_key(0)));
    static const unsigned bits[] = {3072, 4096};
    for (size_t s = 0; s < 2; s++) {
        mpz_t p, q, n;
        mpz_inits(p, q, n, NULL);
        mpz_urandomb(p, rs, bits[s] / 2);
        mpz_setbit(p, bits[s] / 2 - 1);
        mpz_setbit(p, bits[s] / 2 - 2);
        mpz_nextprime(p, p);
        mpz_urandomb(q, rs, bits[s] / 2);
        mpz_setbit(q, bits[s] / 2 - 1);
        mpz_setbit(q, bits[s] / 2 - 2);
        mpz_nextprime(q, q);
        mpz_mul(n, p, q);
        phe_pubkey *pk = NULL;
        phe_rng *rng = test_rng("split-fixed-base");
        assert_int_equal(phei_pubkey_from_n(&pk, n, rng), 0);
        phe_rng_free(rng);
        assert_int_equal(pk->bits, bits[s]);
        check_pow1(pk);
        phe_pubkey_free(pk);
        mpz_clears(p, q, n, NULL);
    }
}

/* Single encryption and decryption (phe_encrypt_i64, phe_decrypt_i64 and
 * _bytes) give the same ciphertexts and plaintexts with the kernel and with
 * the GMP fallback forced: seeded encryptions are byte-identical either way
 * (the same bytes are drawn), and every ciphertext decrypts to its value
 * both ways. */
static void test_single_kernel_equals_fallback(void **state) {
    (void)state;
    enum { N = 6 };
    const phe_seckey *sk = test_key(0);
    const phe_pubkey *pk = phe_seckey_pubkey(sk);
    static const int64_t m[N] = {0, 1, -1, INT64_MAX, INT64_MIN, 123456789};
    phe_ciphertext *c[2][N];
    for (int forced = 0; forced < 2; forced++) {
        phei_mb8_force_fallback(forced);
        phe_rng *rng = test_rng("single-encrypt");
        for (size_t i = 0; i < N; i++) {
            c[forced][i] = test_ct();
            assert_int_equal(phe_encrypt_i64(pk, c[forced][i], m[i], rng), 0);
        }
        phe_rng_free(rng);
    }
    phei_mb8_force_fallback(0);
    size_t L = phe_plaintext_size(pk);
    uint8_t *b1 = calloc(1, L), *b2 = calloc(1, L);
    assert_non_null(b1);
    assert_non_null(b2);
    for (size_t i = 0; i < N; i++) {
        assert_true(phe_ciphertext_equal(c[0][i], c[1][i]));
        for (int forced = 0; forced < 2; forced++) {
            int64_t back = 0;
            phei_mb8_force_fallback(forced);
            assert_int_equal(phe_decrypt_i64(sk, c[0][i], &back), 0);
            assert_int_equal(phe_decrypt_bytes(sk, c[0][i], forced ? b2 : b1, L), 0);
            phei_mb8_force_fallback(0);
            assert_true(back == m[i]);
        }
        assert_memory_equal(b1, b2, L);
        phe_ciphertext_free(c[0][i]);
        phe_ciphertext_free(c[1][i]);
    }
    free(b1);
    free(b2);
    /* CRT encryption by the secret-key holder: the same ciphertext both ways */
    phe_ciphertext *s1 = test_ct(), *s2 = test_ct();
    for (int forced = 0; forced < 2; forced++) {
        phei_mb8_force_fallback(forced);
        phe_rng *rng = test_rng("single-crt-encrypt");
        assert_int_equal(phe_seckey_encrypt_i64(sk, forced ? s2 : s1, -4242, rng), 0);
        phe_rng_free(rng);
    }
    phei_mb8_force_fallback(0);
    assert_true(phe_ciphertext_equal(s1, s2));
    int64_t back = 0;
    assert_int_equal(phe_decrypt_i64(sk, s1, &back), 0);
    assert_true(back == -4242);
    phe_ciphertext_free(s1);
    phe_ciphertext_free(s2);
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
        cmocka_unit_test(test_x2_matches_gmp),
        cmocka_unit_test(test_split_fixed_base_matches_powm),
        cmocka_unit_test(test_single_kernel_equals_fallback),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    gmp_randclear(rs);
    return rc;
}
