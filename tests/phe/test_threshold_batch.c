/*
 * Batches of decryption shares with one proof per holder per batch
 * (phe_threshold_decshare_batch_*): honest batches verify and combine to the
 * plaintexts; one altered share at any position makes verification fail and
 * is located exactly; a proof moved to another batch fails; the PHTB
 * encoding round-trips and every truncation is refused; the proofs'
 * multi-exponentiation gives Π b_k^{ρ_k} exactly (GMP mpz_powm as the
 * reference) by Straus' method and by Pippenger's buckets at every window
 * width, for every batch size shape. Deterministic:
 * every random draw comes from a seeded phe_rng.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <gmp.h>

#include "phe.h"
#include "phe/threshold.h"
#include "phe_internal.h"
#include "phe_test_util.h"
#include "../fixtures/safe_primes.h"

#define N_CT 6
#define L    3
#define T    2

typedef struct {
    phe_threshold_params *pp;
    phe_threshold_keyshare *ks[L];
    phe_ciphertext *ct[N_CT];
    phe_ciphertext *ct2[N_CT]; /* another batch of the same size */
    int64_t m[N_CT];
    phe_threshold_decshare_batch *b[L];  /* holder i+1's batch of ct */
    phe_threshold_decshare_batch *b2[L]; /* of ct2 */
    phe_rng *rng;
} fixture;

static size_t unhex(const char *hex, uint8_t *out, size_t cap) {
    size_t n = strlen(hex) / 2;
    assert_true(n <= cap);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    return n;
}

static int setup(void **state) {
    static const int64_t values[N_CT] = {0, 1, -1, 42, INT64_MAX, INT64_MIN + 1};
    fixture *f = calloc(1, sizeof *f);
    uint8_t p[128], q[128];
    size_t pl = unhex(SAFE_PRIME_1024_1, p, sizeof p), ql = unhex(SAFE_PRIME_1024_2, q, sizeof q);
    assert_non_null(f);
    assert_int_equal(phe_rng_new_seeded(&f->rng, (const uint8_t *)"batch", 5), 0);
    assert_int_equal(phe_threshold_deal_with_primes(&f->pp, f->ks, p, pl, q, ql, T, L, f->rng), 0);
    for (size_t k = 0; k < N_CT; k++) {
        const phe_pubkey *pk = phe_threshold_params_pubkey(f->pp);
        f->m[k] = values[k];
        assert_int_equal(phe_ciphertext_new(&f->ct[k]), 0);
        assert_int_equal(phe_ciphertext_new(&f->ct2[k]), 0);
        assert_int_equal(phe_encrypt_i64(pk, f->ct[k], values[k], f->rng), 0);
        assert_int_equal(phe_encrypt_i64(pk, f->ct2[k], values[k], f->rng), 0);
    }
    for (uint32_t i = 0; i < L; i++) {
        assert_int_equal(phe_threshold_decshare_batch_create(&f->b[i], f->pp, f->ks[i],
                                                             (const phe_ciphertext *const *)f->ct,
                                                             N_CT, NULL, f->rng),
                         0);
        assert_int_equal(phe_threshold_decshare_batch_create(&f->b2[i], f->pp, f->ks[i],
                                                             (const phe_ciphertext *const *)f->ct2,
                                                             N_CT, NULL, f->rng),
                         0);
        assert_int_equal(phe_threshold_decshare_batch_index(f->b[i]), i + 1);
        assert_int_equal(phe_threshold_decshare_batch_count(f->b[i]), N_CT);
    }
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    for (uint32_t i = 0; i < L; i++) {
        phe_threshold_decshare_batch_free(f->b[i]);
        phe_threshold_decshare_batch_free(f->b2[i]);
        phe_threshold_keyshare_free(f->ks[i]);
    }
    for (size_t k = 0; k < N_CT; k++) {
        phe_ciphertext_free(f->ct[k]);
        phe_ciphertext_free(f->ct2[k]);
    }
    phe_threshold_params_free(f->pp);
    phe_rng_free(f->rng);
    free(f);
    return 0;
}

#define CTS(a) ((const phe_ciphertext *const *)(a))

static uint8_t *encode_batch(const phe_threshold_decshare_batch *b, size_t *len) {
    size_t n = phe_threshold_decshare_batch_encoded_size(b), w = 0;
    uint8_t *buf = malloc(n);
    assert_non_null(buf);
    assert_int_equal(phe_threshold_decshare_batch_encode(b, buf, n, &w), 0);
    assert_int_equal(w, n);
    *len = n;
    return buf;
}

static phe_threshold_decshare_batch *decode_batch(const uint8_t *buf, size_t len) {
    phe_threshold_decshare_batch *b = NULL;
    assert_int_equal(phe_threshold_decshare_batch_decode(&b, buf, len), 0);
    return b;
}

static uint32_t be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* PHTB layout: magic 4, version 1, index 4, key id 32, digest 32, count 4. */
#define OFF_DIGEST 41
#define OFF_FIELDS 77

/* Offset of share k's length field (k == count: the challenge e). */
static size_t share_offset(const uint8_t *enc, size_t k) {
    size_t off = OFF_FIELDS;
    for (size_t j = 0; j < k; j++) {
        off += 4 + be32(enc + off);
    }
    return off;
}

/* A copy of the encoding with share k replaced by x (its own length). */
static uint8_t *with_share(const uint8_t *enc, size_t len, size_t k, const mpz_t x,
                           size_t *out_len) {
    size_t off = share_offset(enc, k), end = off + 4 + be32(enc + off);
    size_t xl = (mpz_sizeinbase(x, 2) + 7) / 8, cnt = 0;
    uint8_t *out;
    if (mpz_sgn(x) == 0) {
        xl = 0; /* the empty field */
    }
    out = malloc(len + xl + 4);
    assert_non_null(out);
    memcpy(out, enc, off);
    out[off] = (uint8_t)(xl >> 24);
    out[off + 1] = (uint8_t)(xl >> 16);
    out[off + 2] = (uint8_t)(xl >> 8);
    out[off + 3] = (uint8_t)xl;
    mpz_export(out + off + 4, &cnt, 1, 1, 1, 0, x);
    memcpy(out + off + 4 + xl, enc + end, len - end);
    *out_len = off + 4 + xl + (len - end);
    return out;
}

static void share_value(const uint8_t *enc, size_t k, mpz_t out) {
    size_t off = share_offset(enc, k);
    mpz_import(out, be32(enc + off), 1, 1, 1, 0, enc + off + 4);
}

static void modulus(const phe_threshold_params *pp, mpz_t n, mpz_t n2) {
    const phe_pubkey *pk = phe_threshold_params_pubkey(pp);
    size_t len = phe_plaintext_size(pk);
    uint8_t buf[1024];
    assert_true(len <= sizeof buf);
    assert_int_equal(phe_pubkey_modulus(pk, buf, len), 0);
    mpz_import(n, len, 1, 1, 1, 0, buf);
    mpz_mul(n2, n, n);
}

/* Honest batches verify, and every t-subset combines to the plaintexts, as
 * integers and as bytes. */
static void test_honest_batches_combine(void **state) {
    fixture *f = *state;
    size_t plen = phe_plaintext_size(phe_threshold_params_pubkey(f->pp));
    for (uint32_t i = 0; i < L; i++) {
        assert_int_equal(phe_threshold_verify_batch(f->pp, CTS(f->ct), N_CT, f->b[i]), 0);
        assert_int_equal(phe_threshold_verify_batch(f->pp, CTS(f->ct2), N_CT, f->b2[i]), 0);
    }
    for (uint32_t a = 0; a < L; a++) {
        for (uint32_t c = 0; c < L; c++) {
            const phe_threshold_decshare_batch *set[T] = {f->b[a], f->b[c]};
            int64_t out[N_CT];
            uint64_t bad = 99;
            if (a == c) {
                assert_int_equal(
                    phe_threshold_combine_batch_int64(f->pp, CTS(f->ct), N_CT, set, T, out, &bad),
                    PHE_ERR_THRESHOLD_DUPLICATE_SHARE);
                continue;
            }
            memset(out, 0, sizeof out);
            assert_int_equal(
                phe_threshold_combine_batch_int64(f->pp, CTS(f->ct), N_CT, set, T, out, &bad), 0);
            assert_int_equal(bad, 0);
            for (size_t k = 0; k < N_CT; k++) {
                assert_true(out[k] == f->m[k]);
            }
        }
    }
    {
        const phe_threshold_decshare_batch *set[L] = {f->b[2], f->b[0], f->b[1]};
        size_t stride = plen + 3;
        uint8_t *buf = calloc(N_CT, stride);
        mpz_t n, n2, v, want;
        assert_non_null(buf);
        mpz_inits(n, n2, v, want, NULL);
        modulus(f->pp, n, n2);
        assert_int_equal(phe_threshold_combine_batch_bytes(f->pp, CTS(f->ct), N_CT, set, L, buf,
                                                           plen, stride, NULL),
                         0);
        for (size_t k = 0; k < N_CT; k++) {
            mpz_import(v, plen, 1, 1, 1, 0, buf + k * stride);
            mpz_set_si(want, 0);
            if (f->m[k] < 0) {
                mpz_set_si(want, f->m[k]);
                mpz_add(want, want, n);
            } else {
                mpz_set_ui(want, (unsigned long)f->m[k]);
            }
            assert_int_equal(mpz_cmp(v, want), 0);
        }
        mpz_clears(n, n2, v, want, NULL);
        free(buf);
    }
    /* fewer than t batches */
    {
        const phe_threshold_decshare_batch *set[1] = {f->b[0]};
        int64_t out[N_CT];
        assert_int_equal(
            phe_threshold_combine_batch_int64(f->pp, CTS(f->ct), N_CT, set, 1, out, NULL),
            PHE_ERR_THRESHOLD_TOO_FEW_SHARES);
    }
}

/* One share altered (multiplied by 1 + n: still a unit, a different
 * plaintext contribution) at each position in turn: verification fails,
 * combine names the holder, and locate names exactly that position. */
static void test_altered_share_anywhere_fails(void **state) {
    fixture *f = *state;
    size_t len = 0;
    uint8_t *enc = encode_batch(f->b[1], &len);
    mpz_t n, n2, x;
    mpz_inits(n, n2, x, NULL);
    modulus(f->pp, n, n2);
    for (size_t k = 0; k < N_CT; k++) {
        size_t blen = 0, nbad = 99;
        uint8_t *bad_enc, flags[N_CT];
        phe_threshold_decshare_batch *bad;
        share_value(enc, k, x);
        mpz_addmul(x, x, n); /* x·(1 + n) */
        mpz_mod(x, x, n2);
        bad_enc = with_share(enc, len, k, x, &blen);
        bad = decode_batch(bad_enc, blen);
        assert_int_equal(phe_threshold_verify_batch(f->pp, CTS(f->ct), N_CT, bad),
                         PHE_ERR_THRESHOLD_PROOF_INVALID);
        {
            const phe_threshold_decshare_batch *set[L] = {f->b[0], bad, f->b[2]};
            int64_t out[N_CT];
            uint64_t mask = 0;
            assert_int_equal(
                phe_threshold_combine_batch_int64(f->pp, CTS(f->ct), N_CT, set, L, out, &mask),
                PHE_ERR_THRESHOLD_PROOF_INVALID);
            assert_int_equal(mask, 1u << 1); /* holder 2 */
        }
        {
            const phe_threshold_decshare_batch *good[T] = {f->b[2], f->b[0]};
            memset(flags, 7, sizeof flags);
            assert_int_equal(
                phe_threshold_locate_batch(f->pp, CTS(f->ct), N_CT, bad, good, T, flags, &nbad), 0);
            assert_int_equal(nbad, 1);
            for (size_t j = 0; j < N_CT; j++) {
                assert_int_equal(flags[j], j == k ? 1 : 0);
            }
        }
        phe_threshold_decshare_batch_free(bad);
        free(bad_enc);
    }
    /* two shares swapped: both located, the proof fails */
    {
        size_t blen = 0, blen2 = 0, nbad = 0;
        uint8_t *e1, *e2, flags[N_CT];
        phe_threshold_decshare_batch *bad;
        mpz_t y;
        mpz_init(y);
        share_value(enc, 0, x);
        share_value(enc, 3, y);
        e1 = with_share(enc, len, 0, y, &blen);
        e2 = with_share(e1, blen, 3, x, &blen2);
        bad = decode_batch(e2, blen2);
        assert_int_equal(phe_threshold_verify_batch(f->pp, CTS(f->ct), N_CT, bad),
                         PHE_ERR_THRESHOLD_PROOF_INVALID);
        {
            const phe_threshold_decshare_batch *good[T] = {f->b[0], f->b[2]};
            assert_int_equal(
                phe_threshold_locate_batch(f->pp, CTS(f->ct), N_CT, bad, good, T, flags, &nbad), 0);
            assert_int_equal(nbad, 2);
            assert_int_equal(flags[0], 1);
            assert_int_equal(flags[3], 1);
            assert_int_equal(flags[1] + flags[2] + flags[4] + flags[5], 0);
            /* the suspect's own holder cannot be a reference */
            const phe_threshold_decshare_batch *self[T] = {f->b[1], f->b[2]};
            assert_int_equal(
                phe_threshold_locate_batch(f->pp, CTS(f->ct), N_CT, bad, self, T, flags, &nbad),
                PHE_ERR_THRESHOLD_DUPLICATE_SHARE);
            /* an unverified reference is refused */
            const phe_threshold_decshare_batch *unv[T] = {bad, f->b[2]};
            assert_int_equal(
                phe_threshold_locate_batch(f->pp, CTS(f->ct), N_CT, f->b[0], unv, T, flags, &nbad),
                PHE_ERR_THRESHOLD_PROOF_INVALID);
        }
        /* an honest batch has no wrong share */
        {
            const phe_threshold_decshare_batch *good[T] = {f->b[0], f->b[2]};
            assert_int_equal(
                phe_threshold_locate_batch(f->pp, CTS(f->ct), N_CT, f->b[1], good, T, flags, &nbad),
                0);
            assert_int_equal(nbad, 0);
        }
        phe_threshold_decshare_batch_free(bad);
        free(e1);
        free(e2);
        mpz_clear(y);
    }
    mpz_clears(n, n2, x, NULL);
    free(enc);
}

/* A batch and its proof belong to one list of ciphertexts. */
static void test_replayed_proof_fails(void **state) {
    fixture *f = *state;
    size_t la = 0, lb = 0;
    uint8_t *a = encode_batch(f->b[0], &la);
    uint8_t *b = encode_batch(f->b2[0], &lb);
    phe_threshold_decshare_batch *x;
    /* the whole batch against other ciphertexts, or the same ones reordered or cut */
    assert_int_equal(phe_threshold_verify_batch(f->pp, CTS(f->ct2), N_CT, f->b[0]),
                     PHE_ERR_THRESHOLD_WRONG_CIPHERTEXT);
    {
        phe_ciphertext *rev[N_CT];
        for (size_t k = 0; k < N_CT; k++) {
            rev[k] = f->ct[N_CT - 1 - k];
        }
        assert_int_equal(phe_threshold_verify_batch(f->pp, CTS(rev), N_CT, f->b[0]),
                         PHE_ERR_THRESHOLD_WRONG_CIPHERTEXT);
        assert_int_equal(phe_threshold_verify_batch(f->pp, CTS(f->ct), N_CT - 1, f->b[0]),
                         PHE_ERR_THRESHOLD_WRONG_CIPHERTEXT);
    }
    /* batch A relabelled with B's ciphertext digest */
    memcpy(a + OFF_DIGEST, b + OFF_DIGEST, 32);
    x = decode_batch(a, la);
    assert_int_equal(phe_threshold_verify_batch(f->pp, CTS(f->ct2), N_CT, x),
                     PHE_ERR_THRESHOLD_PROOF_INVALID);
    phe_threshold_decshare_batch_free(x);
    /* B's shares with A's proof (e and z) */
    {
        size_t pa = share_offset(a, N_CT), pb = share_offset(b, N_CT);
        size_t len = pb + (la - pa);
        uint8_t *mix = malloc(len);
        assert_non_null(mix);
        memcpy(mix, b, pb);
        memcpy(mix + pb, a + pa, la - pa);
        x = decode_batch(mix, len);
        assert_int_equal(phe_threshold_verify_batch(f->pp, CTS(f->ct2), N_CT, x),
                         PHE_ERR_THRESHOLD_PROOF_INVALID);
        phe_threshold_decshare_batch_free(x);
        free(mix);
    }
    /* holder 1's batch claimed by holder 3 */
    {
        size_t lc = 0;
        uint8_t *c = encode_batch(f->b[0], &lc);
        c[8] = 3;
        x = decode_batch(c, lc);
        assert_int_equal(phe_threshold_verify_batch(f->pp, CTS(f->ct), N_CT, x),
                         PHE_ERR_THRESHOLD_PROOF_INVALID);
        phe_threshold_decshare_batch_free(x);
        free(c);
    }
    free(a);
    free(b);
}

/* Round trip; every truncation, a trailing byte, another version and bad
 * counts are refused. */
static void test_encoding(void **state) {
    fixture *f = *state;
    size_t len = 0, len2 = 0;
    uint8_t *enc = encode_batch(f->b[2], &len), *enc2, *big;
    phe_threshold_decshare_batch *x = NULL;
    x = decode_batch(enc, len);
    enc2 = encode_batch(x, &len2);
    assert_int_equal(len, len2);
    assert_memory_equal(enc, enc2, len);
    assert_int_equal(phe_threshold_verify_batch(f->pp, CTS(f->ct), N_CT, x), 0);
    phe_threshold_decshare_batch_free(x);
    for (size_t cut = 0; cut < len; cut++) {
        x = (phe_threshold_decshare_batch *)1;
        assert_int_equal(phe_threshold_decshare_batch_decode(&x, enc, cut), PHE_ERR_DECODE);
        assert_null(x);
    }
    big = malloc(len + 1);
    assert_non_null(big);
    memcpy(big, enc, len);
    big[len] = 0;
    assert_int_equal(phe_threshold_decshare_batch_decode(&x, big, len + 1), PHE_ERR_DECODE);
    memcpy(big, enc, len);
    big[4] = 2;
    assert_int_equal(phe_threshold_decshare_batch_decode(&x, big, len), PHE_ERR_VERSION);
    big[4] = 1;
    /* count 0, count one more than present, count beyond the maximum */
    big[73] = big[74] = big[75] = big[76] = 0;
    assert_int_equal(phe_threshold_decshare_batch_decode(&x, big, len), PHE_ERR_DECODE);
    big[76] = N_CT + 1;
    assert_int_equal(phe_threshold_decshare_batch_decode(&x, big, len), PHE_ERR_DECODE);
    big[73] = 0xff;
    assert_int_equal(phe_threshold_decshare_batch_decode(&x, big, len), PHE_ERR_DECODE);
    memcpy(big, enc, len);
    big[5] = big[6] = big[7] = big[8] = 0; /* index 0 */
    assert_int_equal(phe_threshold_decshare_batch_decode(&x, big, len),
                     PHE_ERR_THRESHOLD_INDEX_RANGE);
    /* a zero share (empty field) is refused */
    {
        mpz_t z;
        size_t zl = 0;
        uint8_t *ze;
        mpz_init(z);
        ze = with_share(enc, len, 2, z, &zl);
        assert_int_equal(phe_threshold_decshare_batch_decode(&x, ze, zl), PHE_ERR_DECODE);
        free(ze);
        mpz_clear(z);
    }
    /* too small a buffer */
    assert_int_equal(phe_threshold_decshare_batch_encode(f->b[2], big, len - 1, NULL),
                     PHE_ERR_BUFFER_TOO_SMALL);
    free(big);
    free(enc);
    free(enc2);
}

/* A share value outside Z*_{n²}, bad arguments, a batch of one, a thread pool. */
static void test_edges(void **state) {
    fixture *f = *state;
    phe_threshold_decshare_batch *one = NULL, *pooled = NULL;
    phe_ctx *ctx = NULL;
    size_t len = 0, blen = 0;
    uint8_t *enc = encode_batch(f->b[0], &len), *bad_enc;
    mpz_t n, n2;
    int64_t out[N_CT];
    mpz_inits(n, n2, NULL);
    modulus(f->pp, n, n2);
    bad_enc = with_share(enc, len, 4, n, &blen); /* gcd(n, n) ≠ 1 */
    {
        phe_threshold_decshare_batch *x = decode_batch(bad_enc, blen);
        assert_int_equal(phe_threshold_verify_batch(f->pp, CTS(f->ct), N_CT, x),
                         PHE_ERR_THRESHOLD_SHARE_VALUE);
        phe_threshold_decshare_batch_free(x);
    }
    assert_int_equal(
        phe_threshold_decshare_batch_create(&one, f->pp, f->ks[0], CTS(f->ct), 0, NULL, f->rng),
        PHE_ERR_INVALID_ARG);
    assert_null(one);
    assert_int_equal(
        phe_threshold_decshare_batch_create(&one, f->pp, f->ks[0], NULL, 1, NULL, f->rng),
        PHE_ERR_INVALID_ARG);
    assert_int_equal(phe_threshold_verify_batch(f->pp, CTS(f->ct), 0, f->b[0]),
                     PHE_ERR_INVALID_ARG);
    assert_int_equal(phe_threshold_verify_batch(NULL, CTS(f->ct), N_CT, f->b[0]),
                     PHE_ERR_INVALID_ARG);
    assert_int_equal(phe_threshold_combine_batch_int64(f->pp, CTS(f->ct), N_CT, NULL, 2, out, NULL),
                     PHE_ERR_INVALID_ARG);
    assert_int_equal(phe_threshold_decshare_batch_decode(NULL, enc, len), PHE_ERR_INVALID_ARG);
    assert_int_equal(phe_threshold_decshare_batch_index(NULL), 0);
    assert_int_equal(phe_threshold_decshare_batch_count(NULL), 0);
    assert_int_equal(phe_threshold_decshare_batch_encoded_size(NULL), 0);
    phe_threshold_decshare_batch_free(NULL);
    /* a batch of one, and a batch made on a pool of 2 threads */
    assert_int_equal(
        phe_threshold_decshare_batch_create(&one, f->pp, f->ks[2], CTS(f->ct + 3), 1, NULL, f->rng),
        0);
    assert_int_equal(phe_threshold_verify_batch(f->pp, CTS(f->ct + 3), 1, one), 0);
    assert_int_equal(phe_ctx_new(&ctx, 2), 0);
    assert_int_equal(phe_threshold_decshare_batch_create(&pooled, f->pp, f->ks[1], CTS(f->ct), N_CT,
                                                         ctx, f->rng),
                     0);
    assert_int_equal(phe_threshold_verify_batch(f->pp, CTS(f->ct), N_CT, pooled), 0);
    {
        const phe_threshold_decshare_batch *set[T] = {pooled, f->b[0]};
        assert_int_equal(
            phe_threshold_combine_batch_int64(f->pp, CTS(f->ct), N_CT, set, T, out, NULL), 0);
        for (size_t k = 0; k < N_CT; k++) {
            assert_true(out[k] == f->m[k]);
        }
    }
    /* a ciphertext of another key in the list */
    {
        const phe_seckey *other = test_key(0);
        phe_ciphertext *mixed[N_CT];
        phe_ciphertext *foreign = test_ct();
        assert_int_equal(phe_encrypt_i64(phe_seckey_pubkey(other), foreign, 5, f->rng), 0);
        memcpy(mixed, f->ct, sizeof mixed);
        mixed[5] = foreign;
        phe_threshold_decshare_batch_free(pooled);
        assert_int_equal(phe_threshold_decshare_batch_create(&pooled, f->pp, f->ks[1], CTS(mixed),
                                                             N_CT, NULL, f->rng),
                         PHE_ERR_KEY_MISMATCH);
        assert_null(pooled);
        assert_int_equal(phe_threshold_verify_batch(f->pp, CTS(mixed), N_CT, f->b[0]),
                         PHE_ERR_KEY_MISMATCH);
        phe_ciphertext_free(foreign);
    }
    phe_ctx_free(ctx);
    phe_threshold_decshare_batch_free(one);
    mpz_clears(n, n2, NULL);
    free(enc);
    free(bad_enc);
}

/* phei_multi_exp against Π mpz_powm(b_k, ρ_k): random 4096-bit odd moduli
 * (the size of n² at 2048-bit n) and bases, random 16-byte ρ with some
 * zero, all-ones and one-bit coefficients mixed in, counts from 0 to 700;
 * every method and every bucket window give the reference value. */
static void test_multi_exp_matches_powm(void **state) {
    (void)state;
    gmp_randstate_t rs;
    gmp_randinit_default(rs);
    gmp_randseed_ui(rs, 20261207);
    static const size_t counts[] = {0, 1, 2, 5, 63, 64, 65, 200, 700};
    mpz_t mod, ref, got, t;
    mpz_inits(mod, ref, got, t, NULL);
    for (size_t ci = 0; ci < sizeof counts / sizeof counts[0]; ci++) {
        size_t count = counts[ci];
        mpz_t *base = malloc((count ? count : 1) * sizeof *base);
        uint8_t *rho = malloc((count ? count : 1) * 16);
        assert_non_null(base);
        assert_non_null(rho);
        mpz_urandomb(mod, rs, 4096);
        mpz_setbit(mod, 4095);
        mpz_setbit(mod, 0);
        mpz_set_ui(ref, 1);
        for (size_t k = 0; k < count; k++) {
            mpz_init(base[k]);
            mpz_urandomm(base[k], rs, mod);
            for (int j = 0; j < 16; j++)
                rho[k * 16 + j] = (uint8_t)gmp_urandomb_ui(rs, 8);
            if (k % 11 == 3)
                memset(rho + k * 16, 0, 16);
            if (k % 13 == 5)
                memset(rho + k * 16, 0xFF, 16);
            if (k % 17 == 7) {
                memset(rho + k * 16, 0, 16);
                rho[k * 16 + 15] = 1;
            }
            mpz_import(t, 16, 1, 1, 1, 0, rho + k * 16);
            mpz_powm(t, base[k], t, mod);
            mpz_mul(ref, ref, t);
            mpz_mod(ref, ref, mod);
        }
        int methods[3 + 14];
        size_t nm = 0;
        methods[nm++] = PHEI_MSM_AUTO;
        methods[nm++] = PHEI_MSM_STRAUS;
        methods[nm++] = PHEI_MSM_BUCKETS;
        for (int c = 1; c <= 14; c++)
            if (count <= 200 || c % 4 == 0)
                methods[nm++] = PHEI_MSM_BUCKETS + c;
        for (size_t mi = 0; mi < nm; mi++) {
            mpz_set_ui(got, 12345);
            assert_int_equal(phei_multi_exp(got, base, rho, 16, count, mod, methods[mi]), 0);
            if (mpz_cmp(got, ref) != 0)
                fail_msg("count %zu, method %d: not the reference product", count, methods[mi]);
        }
        assert_int_equal(phei_multi_exp(got, base, rho, 0, count, mod, PHEI_MSM_AUTO),
                         PHE_ERR_INVALID_ARG);
        assert_int_equal(phei_multi_exp(got, base, rho, 16, count, mod, -1), PHE_ERR_INVALID_ARG);
        for (size_t k = 0; k < count; k++)
            mpz_clear(base[k]);
        free(base);
        free(rho);
    }
    mpz_clears(mod, ref, got, t, NULL);
    gmp_randclear(rs);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_multi_exp_matches_powm),
        cmocka_unit_test(test_honest_batches_combine),
        cmocka_unit_test(test_altered_share_anywhere_fails),
        cmocka_unit_test(test_replayed_proof_fails),
        cmocka_unit_test(test_encoding),
        cmocka_unit_test(test_edges),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
