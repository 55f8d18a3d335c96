/* libphe: the DJN randomizer h_s^a mod n² does the same work for every
 * secret exponent a — one masked scan of every table row and one Montgomery
 * product per row after the first, whatever the digits (zero digits
 * included) — and gives h_s^a exactly (checked against mpz_powm). The
 * memory addresses it touches are fixed by that structure:
 * mpn_sec_tabselect reads every entry of a row. */
#include <stdlib.h>
#include <string.h>

#include "phe_internal.h"
#include "phe_test_util.h"

/* A little-endian exponent of len bytes from a pattern. */
static void fill(uint8_t *a, size_t len, int pattern, phe_rng *rng) {
    for (size_t i = 0; i < len; i++) {
        switch (pattern) {
            case 0:
                a[i] = 0;
                break; /* a = 0: every digit zero */
            case 1:
                a[i] = 0xff;
                break; /* every digit 2^w − 1 */
            case 2:
                a[i] = i == 0 ? 1 : 0;
                break; /* a = 1 */
            case 3:
                a[i] = i + 1 == len ? 0x80 : 0;
                break; /* top bit only */
            case 4:
                a[i] = (i % 3) ? 0 : 0x5a;
                break; /* runs of zero digits */
            default:
                assert_int_equal(phe_rng_bytes(rng, &a[i], 1), 0);
                break;
        }
    }
}

static void check_key(const phe_pubkey *pk) {
    size_t len = (pk->djn_bits + 7) / 8;
    uint8_t *a = calloc(len, 1);
    assert_non_null(a);
    phe_rng *rng = test_rng("ct-exponents");
    phei_djn_ops first = {0, 0, 0};
    mpz_t r, want, e;
    mpz_inits(r, want, e, NULL);
    for (int pattern = 0; pattern < 9; pattern++) {
        fill(a, len, pattern, rng);
        phei_djn_ops ops = {0, 0, 0};
        assert_int_equal(phei_djn_pow(pk, r, a, len, &ops), 0);
        /* the result: h_s^a mod n² (a read little-endian, bits past djn_bits ignored) */
        mpz_import(e, len, -1, 1, 0, 0, a);
        mpz_fdiv_r_2exp(e, e, pk->djn_bits);
        mpz_powm(want, pk->hs, e, pk->n2);
        assert_int_equal(mpz_cmp(r, want), 0);
        /* the work: the same for every exponent, and every entry of every row */
        const phei_fbtable *t = &pk->table;
        assert_int_equal(ops.scans, t->rows);
        assert_int_equal(ops.products, t->rows - 1);
        assert_int_equal(ops.entries_read, (uint64_t)t->rows * t->cols);
        assert_int_equal(t->cols, (size_t)1 << t->window);
        if (pattern == 0)
            first = ops;
        assert_memory_equal(&ops, &first, sizeof ops);
    }
    /* wrong exponent length: an internal error, never a read past a */
    assert_int_equal(phei_djn_pow(pk, r, a, len - 1, NULL), PHE_ERR_INTERNAL);
    mpz_clears(r, want, e, NULL);
    phe_rng_free(rng);
    free(a);
}

static void test_djn_pow_constant_work(void **state) {
    (void)state;
    check_key(phe_seckey_pubkey(test_key(0)));
    /* a 3072-bit modulus (only the public key matters here) */
    phe_rng *rng = test_rng("ct-3072");
    phe_pubkey *pk = NULL;
    uint8_t nb[384];
    mpz_t p, q, n;
    mpz_inits(p, q, n, NULL);
    /* n = p·q with p, q odd 1536-bit numbers made prime by nextprime */
    assert_int_equal(phe_rng_bytes(rng, nb, 192), 0);
    nb[0] |= 0xc0;
    mpz_import(p, 192, 1, 1, 0, 0, nb);
    mpz_nextprime(p, p);
    assert_int_equal(phe_rng_bytes(rng, nb, 192), 0);
    nb[0] |= 0xc0;
    mpz_import(q, 192, 1, 1, 0, 0, nb);
    mpz_nextprime(q, q);
    mpz_mul(n, p, q);
    size_t cnt = 0;
    mpz_export(nb, &cnt, 1, 1, 0, 0, n);
    assert_int_equal(cnt, 384);
    assert_int_equal(phe_pubkey_from_modulus(&pk, nb, cnt, rng), 0);
    check_key(pk);
    phe_pubkey_free(pk);
    mpz_clears(p, q, n, NULL);
    phe_rng_free(rng);
}

/* Encryption through the public API agrees with the exponentiation: a DJN
 * ciphertext of m made with a seeded generator equals (1 + m·n)·h_s^a. */
static void test_djn_encrypt_matches_pow(void **state) {
    (void)state;
    const phe_pubkey *pk = phe_seckey_pubkey(test_key(0));
    size_t len = (pk->djn_bits + 7) / 8;
    uint8_t *a = calloc(len, 1);
    assert_non_null(a);
    phe_rng *r1 = test_rng("ct-enc"), *r2 = test_rng("ct-enc");
    phe_ciphertext *ct = test_ct();
    assert_int_equal(phe_encrypt_i64(pk, ct, 31337, r1), 0);
    assert_int_equal(phe_rng_bytes(r2, a, len), 0); /* the same draw */
    mpz_t r, want;
    mpz_inits(r, want, NULL);
    assert_int_equal(phei_djn_pow(pk, r, a, len, NULL), 0);
    mpz_mul_ui(want, pk->n, 31337);
    mpz_add_ui(want, want, 1);
    mpz_mul(want, want, r);
    mpz_mod(want, want, pk->n2);
    assert_int_equal(mpz_cmp(ct->c, want), 0);
    mpz_clears(r, want, NULL);
    phe_ciphertext_free(ct);
    phe_rng_free(r1);
    phe_rng_free(r2);
    free(a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_djn_pow_constant_work),
        cmocka_unit_test(test_djn_encrypt_matches_pow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
