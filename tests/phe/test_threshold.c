/*
 * Threshold decryption (phe/threshold.h): dealer ceremony from checked-in
 * safe primes, every t-subset decrypts, t−1 shares do not, every kind of bad
 * share is named by its own code, encodings round-trip, bad input never
 * aborts. Deterministic: every random draw comes from a seeded phe_rng.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <gmp.h>
#include <sodium.h>

#include "phe.h"
#include "phe/threshold.h"
#include "phe_test_util.h"
#include "../fixtures/safe_primes.h"

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

static phe_rng *seeded(const char *label) {
    phe_rng *rng = NULL;
    assert_int_equal(phe_rng_new_seeded(&rng, (const uint8_t *)label, strlen(label)), 0);
    return rng;
}

/* A dealt key: parameters and l key shares. */
typedef struct {
    phe_threshold_params *pp;
    phe_threshold_keyshare *ks[PHE_THRESHOLD_MAX_HOLDERS];
    uint32_t t, l;
} dealt;

static void deal_primes(dealt *d, const char *p_hex, const char *q_hex, uint32_t t, uint32_t l,
                        const char *seed) {
    uint8_t p[128], q[128];
    size_t pl = unhex(p_hex, p, sizeof p), ql = unhex(q_hex, q, sizeof q);
    phe_rng *rng = seeded(seed);
    memset(d, 0, sizeof *d);
    d->t = t;
    d->l = l;
    assert_int_equal(phe_threshold_deal_with_primes(&d->pp, d->ks, p, pl, q, ql, t, l, rng), 0);
    assert_non_null(d->pp);
    for (uint32_t i = 0; i < l; i++) {
        assert_non_null(d->ks[i]);
        assert_int_equal(phe_threshold_keyshare_index(d->ks[i]), i + 1);
    }
    phe_rng_free(rng);
}

static void undeal(dealt *d) {
    phe_threshold_params_free(d->pp);
    for (uint32_t i = 0; i < d->l; i++) {
        phe_threshold_keyshare_free(d->ks[i]);
    }
}

static phe_ciphertext *encrypt(const phe_threshold_params *pp, int64_t m, phe_rng *rng) {
    phe_ciphertext *ct = NULL;
    assert_int_equal(phe_ciphertext_new(&ct), 0);
    assert_int_equal(phe_encrypt_i64(phe_threshold_params_pubkey(pp), ct, m, rng), 0);
    return ct;
}

/* All l decryption shares of ct, each verified. */
static void all_shares(const dealt *d, const phe_ciphertext *ct, phe_threshold_decshare **ds,
                       phe_rng *rng) {
    for (uint32_t i = 0; i < d->l; i++) {
        assert_int_equal(phe_threshold_decshare_create(&ds[i], d->pp, d->ks[i], ct, rng), 0);
        assert_int_equal(phe_threshold_decshare_index(ds[i]), i + 1);
        assert_int_equal(phe_threshold_decshare_verify(d->pp, ct, ds[i]), 0);
    }
}

static void free_shares(phe_threshold_decshare **ds, uint32_t l) {
    for (uint32_t i = 0; i < l; i++) {
        phe_threshold_decshare_free(ds[i]);
        ds[i] = NULL;
    }
}

/* Every t-subset of {1..l} (as bit masks), combined in index order and in
 * reverse order, gives m. */
static void check_every_subset(const dealt *d, const phe_ciphertext *ct,
                               phe_threshold_decshare *const *ds, int64_t m) {
    unsigned subsets = 0;
    for (uint32_t mask = 0; mask < (1u << d->l); mask++) {
        const phe_threshold_decshare *pick[PHE_THRESHOLD_MAX_HOLDERS];
        const phe_threshold_decshare *rev[PHE_THRESHOLD_MAX_HOLDERS];
        size_t k = 0;
        int64_t out = 0;
        if ((uint32_t)__builtin_popcount(mask) != d->t) {
            continue;
        }
        for (uint32_t i = 0; i < d->l; i++) {
            if (mask & (1u << i)) {
                pick[k++] = ds[i];
            }
        }
        for (size_t j = 0; j < k; j++) {
            rev[j] = pick[k - 1 - j];
        }
        assert_int_equal(phe_threshold_combine_int64(d->pp, ct, pick, k, &out), 0);
        assert_true(out == m);
        out = 0;
        if (subsets == 0) { /* order does not matter (checked once: each call verifies t proofs) */
            assert_int_equal(phe_threshold_combine_int64(d->pp, ct, rev, k, &out), 0);
            assert_true(out == m);
        }
        /* t−1 of the same shares are refused, never combined */
        if (k > 1) {
            assert_int_equal(phe_threshold_combine_int64(d->pp, ct, pick, k - 1, &out),
                             PHE_ERR_THRESHOLD_TOO_FEW_SHARES);
        }
        subsets++;
    }
    assert_true(subsets > 0);
}

static void run_subsets(uint32_t t, uint32_t l, const char *seed, size_t nvalues) {
    dealt d;
    phe_threshold_decshare *ds[PHE_THRESHOLD_MAX_HOLDERS] = {0};
    const int64_t values[] = {-987654321, 123456789};
    phe_rng *rng = seeded(seed);
    deal_primes(&d, SAFE_PRIME_1024_1, SAFE_PRIME_1024_2, t, l, seed);
    assert_int_equal(phe_threshold_params_threshold(d.pp), t);
    assert_int_equal(phe_threshold_params_holders(d.pp), l);
    for (size_t v = 0; v < nvalues && v < sizeof values / sizeof values[0]; v++) {
        phe_ciphertext *ct = encrypt(d.pp, values[v], rng);
        all_shares(&d, ct, ds, rng);
        check_every_subset(&d, ct, ds, values[v]);
        free_shares(ds, l);
        phe_ciphertext_free(ct);
    }
    phe_rng_free(rng);
    undeal(&d);
}

static void test_every_subset_2_of_3(void **state) {
    (void)state;
    run_subsets(2, 3, "2-of-3", 2);
}

static void test_every_subset_3_of_5(void **state) {
    (void)state;
    run_subsets(3, 5, "3-of-5", 1);
}

static void test_every_subset_1_of_2_and_3_of_3(void **state) {
    (void)state;
    run_subsets(1, 2, "1-of-2", 1);
    run_subsets(3, 3, "3-of-3", 1);
}

/* A homomorphic sum of DJN and classic encryptions decrypts by threshold,
 * as int64 and as big-endian bytes (negative values as n − x). */
static void test_sum_and_bytes(void **state) {
    dealt d;
    phe_threshold_decshare *ds[3] = {0};
    phe_rng *rng = seeded("sum");
    phe_ciphertext *a, *b = NULL, *sum = NULL;
    const phe_pubkey *pk;
    uint8_t out[256], nbuf[256], expect[256];
    int64_t m = 0;
    size_t plen;
    (void)state;
    deal_primes(&d, SAFE_PRIME_1024_1, SAFE_PRIME_1024_2, 2, 3, "sum-key");
    pk = phe_threshold_params_pubkey(d.pp);
    assert_non_null(pk);
    assert_int_equal(phe_pubkey_bits(pk), 2048);
    a = encrypt(d.pp, -5000, rng);
    assert_int_equal(phe_ciphertext_new(&b), 0);
    assert_int_equal(phe_encrypt_i64_mode(pk, PHE_ENCRYPT_CLASSIC, b, 1234, rng), 0);
    assert_int_equal(phe_ciphertext_new(&sum), 0);
    assert_int_equal(phe_add(pk, sum, a, b), 0);
    all_shares(&d, sum, ds, rng);
    {
        const phe_threshold_decshare *two[2] = {ds[2], ds[0]};
        assert_int_equal(phe_threshold_combine_int64(d.pp, sum, two, 2, &m), 0);
        assert_true(m == -3766);
        plen = phe_plaintext_size(pk);
        assert_true(plen <= sizeof out);
        assert_int_equal(phe_threshold_combine_bytes(d.pp, sum, two, 2, out, plen - 1),
                         PHE_ERR_BUFFER_TOO_SMALL);
        assert_int_equal(phe_threshold_combine_bytes(d.pp, sum, two, 2, out, plen), 0);
        /* expect n − 3766, big-endian */
        assert_int_equal(phe_pubkey_modulus(pk, nbuf, plen), 0);
        memcpy(expect, nbuf, plen);
        {
            unsigned borrow = 3766;
            for (size_t i = plen; i-- > 0 && borrow;) {
                unsigned sub = borrow & 0xff;
                unsigned v = expect[i];
                borrow >>= 8;
                if (v < sub) {
                    v += 256;
                    borrow += 1;
                }
                expect[i] = (uint8_t)(v - sub);
            }
        }
        assert_memory_equal(out, expect, plen);
    }
    free_shares(ds, 3);
    phe_ciphertext_free(a);
    phe_ciphertext_free(b);
    phe_ciphertext_free(sum);
    phe_rng_free(rng);
    undeal(&d);
}

/* Re-encode a share with one byte changed and decode it back. */
static phe_threshold_decshare *tamper(const phe_threshold_decshare *ds, size_t at, uint8_t x) {
    uint8_t buf[4096];
    size_t len = 0;
    phe_threshold_decshare *out = NULL;
    assert_int_equal(phe_threshold_decshare_encode(ds, buf, sizeof buf, &len), 0);
    assert_true(at < len);
    buf[at] ^= x;
    if (phe_threshold_decshare_decode(&out, buf, len) != 0) {
        return NULL;
    }
    return out;
}

/* Offsets in the PHTD encoding (docs/formats/phe-threshold.md). */
#define OFF_INDEX  5
#define OFF_KEYID  9
#define OFF_DIGEST 41
#define OFF_CI     73 /* u32 length, then c_i */

static size_t off_e(const phe_threshold_decshare *ds) {
    uint8_t buf[4096];
    size_t len = 0;
    uint32_t cil;
    assert_int_equal(phe_threshold_decshare_encode(ds, buf, sizeof buf, &len), 0);
    cil = ((uint32_t)buf[OFF_CI] << 24) | ((uint32_t)buf[OFF_CI + 1] << 16) |
          ((uint32_t)buf[OFF_CI + 2] << 8) | buf[OFF_CI + 3];
    return OFF_CI + 4 + cil;
}

static void test_bad_shares_are_named(void **state) {
    dealt d, other;
    phe_threshold_decshare *ds[3] = {0}, *x = NULL;
    phe_rng *rng = seeded("bad");
    phe_ciphertext *ct, *ct2, *foreign;
    int64_t m = 0;
    (void)state;
    deal_primes(&d, SAFE_PRIME_1024_1, SAFE_PRIME_1024_2, 2, 3, "bad-key");
    deal_primes(&other, SAFE_PRIME_1024_1, SAFE_PRIME_1024_3, 2, 3, "other-key");
    ct = encrypt(d.pp, 42, rng);
    ct2 = encrypt(d.pp, 43, rng);
    foreign = encrypt(other.pp, 42, rng);
    all_shares(&d, ct, ds, rng);

    /* a proof value changed: response z, challenge e, share value c_i */
    {
        uint8_t buf[4096];
        size_t len = 0;
        assert_int_equal(phe_threshold_decshare_encode(ds[0], buf, sizeof buf, &len), 0);
        x = tamper(ds[0], len - 1, 0x01); /* last byte of z */
        assert_non_null(x);
        assert_int_equal(phe_threshold_decshare_verify(d.pp, ct, x),
                         PHE_ERR_THRESHOLD_PROOF_INVALID);
        {
            const phe_threshold_decshare *set[2] = {x, ds[1]};
            m = 77;
            assert_int_equal(phe_threshold_combine_int64(d.pp, ct, set, 2, &m),
                             PHE_ERR_THRESHOLD_PROOF_INVALID);
            assert_true(m == 77); /* output untouched */
        }
        phe_threshold_decshare_free(x);
    }
    x = tamper(ds[0], off_e(ds[0]) + 5, 0x80);
    assert_non_null(x);
    assert_int_equal(phe_threshold_decshare_verify(d.pp, ct, x), PHE_ERR_THRESHOLD_PROOF_INVALID);
    phe_threshold_decshare_free(x);
    x = tamper(ds[0], OFF_CI + 4 + 100, 0x10);
    assert_non_null(x);
    {
        int rc = phe_threshold_decshare_verify(d.pp, ct, x);
        assert_true(rc == PHE_ERR_THRESHOLD_PROOF_INVALID || rc == PHE_ERR_THRESHOLD_SHARE_VALUE);
    }
    phe_threshold_decshare_free(x);

    /* the index of another holder: the proof no longer matches */
    x = tamper(ds[0], OFF_INDEX + 3, 0x01 ^ 0x02); /* 1 -> 2 */
    assert_non_null(x);
    assert_int_equal(phe_threshold_decshare_index(x), 2);
    assert_int_equal(phe_threshold_decshare_verify(d.pp, ct, x), PHE_ERR_THRESHOLD_PROOF_INVALID);
    phe_threshold_decshare_free(x);

    /* an index beyond l */
    x = tamper(ds[0], OFF_INDEX + 3, 0x01 ^ 0x07); /* 1 -> 7 */
    assert_non_null(x);
    assert_int_equal(phe_threshold_decshare_verify(d.pp, ct, x), PHE_ERR_THRESHOLD_INDEX_RANGE);
    {
        const phe_threshold_decshare *set[2] = {ds[1], x};
        assert_int_equal(phe_threshold_combine_int64(d.pp, ct, set, 2, &m),
                         PHE_ERR_THRESHOLD_INDEX_RANGE);
    }
    phe_threshold_decshare_free(x);

    /* index 0 is refused by the decoder */
    assert_null(tamper(ds[0], OFF_INDEX + 3, 0x01));

    /* key id of another key */
    x = tamper(ds[0], OFF_KEYID, 0x01);
    assert_non_null(x);
    assert_int_equal(phe_threshold_decshare_verify(d.pp, ct, x), PHE_ERR_THRESHOLD_WRONG_KEY);
    phe_threshold_decshare_free(x);
    assert_int_equal(phe_threshold_decshare_verify(other.pp, ct, ds[0]), PHE_ERR_KEY_MISMATCH);

    /* a share for another ciphertext */
    assert_int_equal(phe_threshold_decshare_verify(d.pp, ct2, ds[0]),
                     PHE_ERR_THRESHOLD_WRONG_CIPHERTEXT);
    x = tamper(ds[0], OFF_DIGEST + 7, 0x40);
    assert_non_null(x);
    assert_int_equal(phe_threshold_decshare_verify(d.pp, ct, x),
                     PHE_ERR_THRESHOLD_WRONG_CIPHERTEXT);
    phe_threshold_decshare_free(x);
    {
        const phe_threshold_decshare *set[2] = {ds[0], ds[1]};
        assert_int_equal(phe_threshold_combine_int64(d.pp, ct2, set, 2, &m),
                         PHE_ERR_THRESHOLD_WRONG_CIPHERTEXT);
    }

    /* duplicates */
    {
        const phe_threshold_decshare *set[3] = {ds[1], ds[1], ds[2]};
        assert_int_equal(phe_threshold_combine_int64(d.pp, ct, set, 2, &m),
                         PHE_ERR_THRESHOLD_DUPLICATE_SHARE);
        assert_int_equal(phe_threshold_combine_int64(d.pp, ct, set, 3, &m),
                         PHE_ERR_THRESHOLD_DUPLICATE_SHARE);
    }

    /* a forged share: holder 2's value relabelled as holder 1 with holder 1's
     * proof; and holder 1's proof spliced onto holder 2's value */
    {
        uint8_t b1[4096], b2[4096], f[4096];
        size_t l1 = 0, l2 = 0, e1, e2;
        assert_int_equal(phe_threshold_decshare_encode(ds[0], b1, sizeof b1, &l1), 0);
        assert_int_equal(phe_threshold_decshare_encode(ds[1], b2, sizeof b2, &l2), 0);
        e1 = off_e(ds[0]);
        e2 = off_e(ds[1]);
        /* header..c_i of share 2, index of share 1, proof (e, z) of share 1 */
        memcpy(f, b2, e2);
        memcpy(f + OFF_INDEX, b1 + OFF_INDEX, 4);
        memcpy(f + e2, b1 + e1, l1 - e1);
        assert_int_equal(phe_threshold_decshare_decode(&x, f, e2 + (l1 - e1)), 0);
        assert_int_equal(phe_threshold_decshare_verify(d.pp, ct, x),
                         PHE_ERR_THRESHOLD_PROOF_INVALID);
        phe_threshold_decshare_free(x);
    }

    /* a ciphertext of another key */
    assert_int_equal(phe_threshold_decshare_create(&x, d.pp, d.ks[0], foreign, rng),
                     PHE_ERR_KEY_MISMATCH);
    assert_null(x);
    /* a key share of another key */
    assert_int_equal(phe_threshold_decshare_create(&x, d.pp, other.ks[0], ct, rng),
                     PHE_ERR_THRESHOLD_WRONG_KEY);
    assert_null(x);
    assert_int_equal(phe_threshold_keyshare_check(d.pp, d.ks[1]), 0);
    assert_int_equal(phe_threshold_keyshare_check(d.pp, other.ks[1]), PHE_ERR_THRESHOLD_WRONG_KEY);

    /* the valid shares still combine after all that */
    {
        const phe_threshold_decshare *set[2] = {ds[2], ds[1]};
        assert_int_equal(phe_threshold_combine_int64(d.pp, ct, set, 2, &m), 0);
        assert_true(m == 42);
    }
    free_shares(ds, 3);
    phe_ciphertext_free(ct);
    phe_ciphertext_free(ct2);
    phe_ciphertext_free(foreign);
    phe_rng_free(rng);
    undeal(&other);
    undeal(&d);
}

/* encode → decode → encode gives the same bytes; every truncation and a
 * trailing byte are refused. */
typedef int (*decode_fn)(void **out, const uint8_t *in, size_t len);
typedef int (*encode_fn)(const void *obj, uint8_t *out, size_t cap, size_t *written);
typedef void (*free_fn)(void *obj);

static int dec_params(void **o, const uint8_t *in, size_t n) {
    return phe_threshold_params_decode((phe_threshold_params **)o, in, n);
}
static int enc_params(const void *o, uint8_t *out, size_t cap, size_t *w) {
    return phe_threshold_params_encode(o, out, cap, w);
}
static void free_params(void *o) {
    phe_threshold_params_free(o);
}
static int dec_ks(void **o, const uint8_t *in, size_t n) {
    return phe_threshold_keyshare_decode((phe_threshold_keyshare **)o, in, n);
}
static int enc_ks(const void *o, uint8_t *out, size_t cap, size_t *w) {
    return phe_threshold_keyshare_encode(o, out, cap, w);
}
static void free_ks(void *o) {
    phe_threshold_keyshare_free(o);
}
static int dec_ds(void **o, const uint8_t *in, size_t n) {
    return phe_threshold_decshare_decode((phe_threshold_decshare **)o, in, n);
}
static int enc_ds(const void *o, uint8_t *out, size_t cap, size_t *w) {
    return phe_threshold_decshare_encode(o, out, cap, w);
}
static void free_ds(void *o) {
    phe_threshold_decshare_free(o);
}

static void round_trip(const void *obj, size_t size, encode_fn enc, decode_fn dec, free_fn fr) {
    uint8_t *a = malloc(size + 1), *b = malloc(size + 1);
    size_t la = 0, lb = 0;
    void *back = NULL;
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(enc(obj, a, size - 1, &la), PHE_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(enc(obj, a, size, &la), 0);
    assert_int_equal(la, size);
    assert_int_equal(dec(&back, a, la), 0);
    assert_int_equal(enc(back, b, size, &lb), 0);
    assert_int_equal(lb, la);
    assert_memory_equal(a, b, la);
    fr(back);
    for (size_t cut = 0; cut < la; cut += (cut < 80 ? 1 : 97)) {
        back = (void *)1;
        assert_int_not_equal(dec(&back, a, cut), 0);
        assert_null(back);
    }
    a[la] = 0;
    assert_int_equal(dec(&back, a, la + 1), PHE_ERR_DECODE);
    a[4] = 9; /* an unknown format version (2 is the dealerless PHTP) */
    assert_int_equal(dec(&back, a, la), PHE_ERR_VERSION);
    a[4] = 1;
    a[0] ^= 0x20; /* magic */
    assert_int_equal(dec(&back, a, la), PHE_ERR_DECODE);
    free(a);
    free(b);
}

static void test_encodings_round_trip(void **state) {
    dealt d;
    phe_threshold_decshare *ds = NULL;
    phe_rng *rng = seeded("codec");
    phe_ciphertext *ct;
    uint8_t id1[32], id2[32];
    (void)state;
    deal_primes(&d, SAFE_PRIME_1024_2, SAFE_PRIME_1024_3, 2, 3, "codec-key");
    ct = encrypt(d.pp, 7, rng);
    assert_int_equal(phe_threshold_decshare_create(&ds, d.pp, d.ks[1], ct, rng), 0);
    round_trip(d.pp, phe_threshold_params_encoded_size(d.pp), enc_params, dec_params, free_params);
    round_trip(d.ks[1], phe_threshold_keyshare_encoded_size(d.ks[1]), enc_ks, dec_ks, free_ks);
    round_trip(ds, phe_threshold_decshare_encoded_size(ds), enc_ds, dec_ds, free_ds);

    /* decoded parameters keep the key id; decoded objects still work together */
    {
        size_t n = phe_threshold_params_encoded_size(d.pp), w = 0;
        uint8_t *buf = malloc(n);
        phe_threshold_params *pp2 = NULL;
        phe_threshold_decshare *ds2 = NULL;
        int64_t m = 0;
        assert_non_null(buf);
        assert_int_equal(phe_threshold_params_encode(d.pp, buf, n, &w), 0);
        assert_int_equal(phe_threshold_params_decode(&pp2, buf, w), 0);
        assert_int_equal(phe_threshold_params_key_id(d.pp, id1), 0);
        assert_int_equal(phe_threshold_params_key_id(pp2, id2), 0);
        assert_memory_equal(id1, id2, 32);
        assert_int_equal(
            phe_pubkey_equal(phe_threshold_params_pubkey(d.pp), phe_threshold_params_pubkey(pp2)),
            1);
        assert_int_equal(phe_threshold_decshare_verify(pp2, ct, ds), 0);
        assert_int_equal(phe_threshold_decshare_create(&ds2, pp2, d.ks[0], ct, rng), 0);
        {
            const phe_threshold_decshare *set[2] = {ds, ds2};
            assert_int_equal(phe_threshold_combine_int64(pp2, ct, set, 2, &m), 0);
            assert_true(m == 7);
        }
        /* a verification key out of Z*_{n²} (zero-length field → 0) is refused */
        phe_threshold_decshare_free(ds2);
        phe_threshold_params_free(pp2);
        free(buf);
    }
    phe_threshold_decshare_free(ds);
    phe_ciphertext_free(ct);
    phe_rng_free(rng);
    undeal(&d);
}

/* PHTP with field k (0 = n, 1 = h_s, 2 = v, 3… = v_i) replaced by x. */
static size_t params_with_field(const uint8_t *enc, size_t len, unsigned k, const mpz_t x,
                                uint8_t *out, size_t cap) {
    size_t off = 13, end, xl = (mpz_sizeinbase(x, 2) + 7) / 8, o = 0, cnt = 0;
    if (mpz_sgn(x) == 0) {
        xl = 0;
    }
    for (unsigned f = 0; f < k; f++) {
        off += 4 + (((size_t)enc[off] << 24) | ((size_t)enc[off + 1] << 16) |
                    ((size_t)enc[off + 2] << 8) | enc[off + 3]);
    }
    end = off + 4 +
          (((size_t)enc[off] << 24) | ((size_t)enc[off + 1] << 16) | ((size_t)enc[off + 2] << 8) |
           enc[off + 3]);
    assert_true(off + 4 + xl + (len - end) <= cap);
    memcpy(out, enc, off);
    o = off;
    out[o++] = (uint8_t)(xl >> 24);
    out[o++] = (uint8_t)(xl >> 16);
    out[o++] = (uint8_t)(xl >> 8);
    out[o++] = (uint8_t)xl;
    if (xl) {
        mpz_export(out + o, &cnt, 1, 1, 1, 0, x);
    }
    o += xl;
    memcpy(out + o, enc + end, len - end);
    return o + (len - end);
}

/* Parameters whose values are not what a dealer makes are refused. */
static void test_params_values_checked(void **state) {
    dealt d;
    uint8_t enc[4096], bad[4096], nb[256];
    size_t len = 0, bl;
    phe_threshold_params *pp = NULL;
    mpz_t n, x;
    (void)state;
    deal_primes(&d, SAFE_PRIME_1024_1, SAFE_PRIME_1024_2, 2, 3, "values");
    assert_int_equal(phe_threshold_params_encode(d.pp, enc, sizeof enc, &len), 0);
    assert_int_equal(phe_pubkey_modulus(phe_threshold_params_pubkey(d.pp), nb, sizeof nb), 0);
    mpz_inits(n, x, NULL);
    mpz_import(n, sizeof nb, 1, 1, 1, 0, nb);
    /* unchanged: accepted (the helper itself is right) */
    assert_int_equal(phe_threshold_params_decode(&pp, enc, len), 0);
    phe_threshold_params_free(pp);
    pp = NULL;
    /* v_1 = n: not a unit */
    bl = params_with_field(enc, len, 3, n, bad, sizeof bad);
    assert_int_equal(phe_threshold_params_decode(&pp, bad, bl), PHE_ERR_DECODE);
    /* v = 0, v = n² */
    mpz_set_ui(x, 0);
    bl = params_with_field(enc, len, 2, x, bad, sizeof bad);
    assert_int_equal(phe_threshold_params_decode(&pp, bad, bl), PHE_ERR_DECODE);
    mpz_mul(x, n, n);
    bl = params_with_field(enc, len, 2, x, bad, sizeof bad);
    assert_int_equal(phe_threshold_params_decode(&pp, bad, bl), PHE_ERR_DECODE);
    /* v with Jacobi symbol −1: not a square */
    for (mpz_set_ui(x, 3); mpz_jacobi(x, n) != -1; mpz_add_ui(x, x, 1)) {
    }
    bl = params_with_field(enc, len, 2, x, bad, sizeof bad);
    assert_int_equal(phe_threshold_params_decode(&pp, bad, bl), PHE_ERR_DECODE);
    /* n even (n + 1): not a modulus */
    mpz_add_ui(x, n, 1);
    bl = params_with_field(enc, len, 0, x, bad, sizeof bad);
    assert_int_equal(phe_threshold_params_decode(&pp, bad, bl), PHE_ERR_KEY_INVALID);
    /* t > l */
    memcpy(bad, enc, len);
    bad[8] = 4;
    assert_int_equal(phe_threshold_params_decode(&pp, bad, len), PHE_ERR_THRESHOLD_PARAMS);
    assert_null(pp);
    mpz_clears(n, x, NULL);
    undeal(&d);
}

/* The same seed gives the same ceremony, byte for byte; another seed does not. */
static void test_deterministic_ceremony(void **state) {
    dealt a, b, c;
    uint8_t ia[32], ib[32], ic[32];
    (void)state;
    deal_primes(&a, SAFE_PRIME_1024_1, SAFE_PRIME_1024_2, 2, 3, "same");
    deal_primes(&b, SAFE_PRIME_1024_1, SAFE_PRIME_1024_2, 2, 3, "same");
    deal_primes(&c, SAFE_PRIME_1024_1, SAFE_PRIME_1024_2, 2, 3, "different");
    phe_threshold_params_key_id(a.pp, ia);
    phe_threshold_params_key_id(b.pp, ib);
    phe_threshold_params_key_id(c.pp, ic);
    assert_memory_equal(ia, ib, 32);
    assert_memory_not_equal(ia, ic, 32);
    undeal(&a);
    undeal(&b);
    undeal(&c);
}

static void test_sealed_key_share(void **state) {
    dealt d;
    phe_rng *rng = seeded("seal");
    uint8_t buf[2048];
    size_t len = 0, need;
    phe_threshold_keyshare *back = NULL;
    const uint8_t pass[] = "correct horse";
    char path[] = "/tmp/phe_threshold_test_XXXXXX";
    int fd;
    (void)state;
    deal_primes(&d, SAFE_PRIME_1024_1, SAFE_PRIME_1024_2, 2, 3, "seal-key");
    need = phe_threshold_keyshare_sealed_size(d.ks[2]);
    assert_true(need <= sizeof buf);
    assert_int_equal(phe_threshold_keyshare_seal(d.ks[2], pass, sizeof pass - 1,
                                                 PHE_KDF_TEST_ONLY_MIN, rng, buf, need - 1, &len),
                     PHE_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(phe_threshold_keyshare_seal(d.ks[2], pass, sizeof pass - 1,
                                                 PHE_KDF_TEST_ONLY_MIN, rng, buf, sizeof buf, &len),
                     0);
    assert_int_equal(len, need);
    assert_int_equal(phe_threshold_keyshare_unseal(&back, buf, len, pass, sizeof pass - 1), 0);
    assert_int_equal(phe_threshold_keyshare_index(back), 3);
    assert_int_equal(phe_threshold_keyshare_check(d.pp, back), 0);
    phe_threshold_keyshare_free(back);
    back = NULL;
    assert_int_equal(phe_threshold_keyshare_unseal(&back, buf, len, (const uint8_t *)"wrong", 5),
                     PHE_ERR_AUTH);
    assert_null(back);
    buf[len - 3] ^= 1;
    assert_int_equal(phe_threshold_keyshare_unseal(&back, buf, len, pass, sizeof pass - 1),
                     PHE_ERR_AUTH);
    buf[len - 3] ^= 1;
    for (size_t cut = 0; cut < len; cut += 7) {
        assert_int_not_equal(phe_threshold_keyshare_unseal(&back, buf, cut, pass, sizeof pass - 1),
                             0);
        assert_null(back);
    }
    /* an absurd Argon2 memory limit is refused before any work */
    buf[13] = 0xff;
    assert_int_equal(phe_threshold_keyshare_unseal(&back, buf, len, pass, sizeof pass - 1),
                     PHE_ERR_KDF_LIMIT);

    /* files: created 0600, never overwritten, read back */
    fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(phe_threshold_keyshare_write_file(d.ks[0], path, pass, sizeof pass - 1,
                                                       PHE_KDF_TEST_ONLY_MIN, rng),
                     PHE_ERR_IO);
    unlink(path);
    assert_int_equal(phe_threshold_keyshare_write_file(d.ks[0], path, pass, sizeof pass - 1,
                                                       PHE_KDF_TEST_ONLY_MIN, rng),
                     0);
    assert_int_equal(phe_threshold_keyshare_read_file(&back, path, pass, sizeof pass - 1), 0);
    assert_int_equal(phe_threshold_keyshare_index(back), 1);
    assert_int_equal(phe_threshold_keyshare_check(d.pp, back), 0);
    phe_threshold_keyshare_free(back);
    assert_int_equal(phe_threshold_keyshare_read_file(&back, path, (const uint8_t *)"x", 1),
                     PHE_ERR_AUTH);
    unlink(path);
    assert_int_equal(phe_threshold_keyshare_read_file(&back, path, pass, sizeof pass - 1),
                     PHE_ERR_IO);
    phe_rng_free(rng);
    undeal(&d);
}

static int open_share(const uint8_t *in, size_t len, const uint8_t *pass, size_t pass_len) {
    phe_threshold_keyshare *ks = NULL;
    int rc = phe_threshold_keyshare_unseal(&ks, in, len, pass, pass_len);
    if (rc == 0)
        assert_non_null(ks);
    else
        assert_null(ks);
    phe_threshold_keyshare_free(ks);
    return rc;
}

/* docs/formats/phe-threshold.md: a changed header byte fails to open. Every
 * byte of the header, in a share libphe wrote (version 2: the header is the
 * AEAD's associated data), in one built with libsodium alone to the written
 * layout, and in a version 1 envelope as earlier builds wrote (its memlimit's
 * low byte did not feed Argon2id, which counts KiB, and opened when
 * changed). */
static void test_sealed_share_header_changes(void **state) {
    dealt d;
    phe_rng *rng = seeded("seal-flip");
    const uint8_t pass[] = "pw";
    uint8_t buf[2048];
    uint8_t *env = malloc(65 + 2048 + 16), *enc;
    size_t len = 0, elen;
    (void)state;
    deal_primes(&d, SAFE_PRIME_1024_1, SAFE_PRIME_1024_2, 2, 3, "seal-flip-key");
    assert_int_equal(phe_threshold_keyshare_seal(d.ks[0], pass, 2, PHE_KDF_TEST_ONLY_MIN, rng, buf,
                                                 sizeof buf, &len),
                     0);
    assert_int_equal(buf[4], 2);
    test_every_header_change_fails(open_share, buf, len, pass, 2);
    elen = phe_threshold_keyshare_encoded_size(d.ks[0]);
    enc = malloc(elen);
    assert_int_equal(phe_threshold_keyshare_encode(d.ks[0], enc, elen, NULL), 0);
    len = test_hand_seal_v2("PHTF", enc, elen, pass, 2, env);
    test_every_header_change_fails(open_share, env, len, pass, 2);
    len = test_hand_seal("PHTF", enc, elen, pass, 2, env);
    test_every_header_change_fails(open_share, env, len, pass, 2);
    /* the v1 case named in the report: memlimit 8192 -> 8193 */
    env[20] ^= 0x01;
    assert_int_equal(open_share(env, len, pass, 2), PHE_ERR_KDF_LIMIT);
    /* the one unknown version after 2 is refused as such */
    env[20] ^= 0x01;
    env[4] = 3;
    assert_int_equal(open_share(env, len, pass, 2), PHE_ERR_VERSION);
    /* a share file is created 0600 whatever the umask */
    {
        char dir[] = "/tmp/phe_threshold_mode_XXXXXX", path[64];
        struct stat st;
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/share", dir);
        mode_t old = umask(0);
        assert_int_equal(
            phe_threshold_keyshare_write_file(d.ks[0], path, pass, 2, PHE_KDF_TEST_ONLY_MIN, rng),
            0);
        umask(old);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        unlink(path);
        rmdir(dir);
    }
    free(enc);
    free(env);
    phe_rng_free(rng);
    undeal(&d);
}

/* What the sealed-share format promises beyond a round trip: salt then
 * nonce come from the rng, an envelope built with libsodium alone opens,
 * authenticated bytes that are not a share keep the PHTK decoder's code,
 * the box has no bound of its own, files are never replaced and at most
 * 64 KiB are read, argument checks, *out cleared once arguments pass. */
static void test_sealed_share_policies(void **state) {
    dealt d;
    phe_rng *rng = seeded("seal-policies"), *rng2 = seeded("seal-policies");
    const uint8_t pass[] = "pw";
    uint8_t buf[2048], expect[16 + 24];
    uint8_t *env = malloc(65 + 70000 + 16), *enc, *big;
    size_t len, elen;
    phe_threshold_keyshare *back = NULL;
    phe_threshold_keyshare *sentinel = (phe_threshold_keyshare *)(uintptr_t)0x10;
    char path[] = "/tmp/phe_threshold_pol_XXXXXX";
    FILE *f;
    int fd;
    (void)state;
    deal_primes(&d, SAFE_PRIME_1024_1, SAFE_PRIME_1024_2, 2, 3, "seal-pol-key");
    assert_int_equal(phe_threshold_keyshare_seal(d.ks[1], pass, 2, PHE_KDF_TEST_ONLY_MIN, rng, buf,
                                                 sizeof buf, NULL),
                     0);
    assert_int_equal(phe_rng_bytes(rng2, expect, 16), 0);
    assert_int_equal(phe_rng_bytes(rng2, expect + 16, 24), 0);
    assert_memory_equal(buf, "PHTF\x02", 5);
    assert_memory_equal(buf + 21, expect, sizeof expect);

    elen = phe_threshold_keyshare_encoded_size(d.ks[1]);
    enc = malloc(elen);
    assert_int_equal(phe_threshold_keyshare_encode(d.ks[1], enc, elen, NULL), 0);
    len = test_hand_seal("PHTF", enc, elen, pass, 2, env);
    assert_int_equal(len, phe_threshold_keyshare_sealed_size(d.ks[1]));
    assert_int_equal(phe_threshold_keyshare_unseal(&back, env, len, pass, 2), 0);
    assert_int_equal(phe_threshold_keyshare_index(back), 2);
    phe_threshold_keyshare_free(back);
    /* authenticated, but not a PHTK encoding: the decoder's own code */
    back = sentinel;
    len = test_hand_seal("PHTF", (const uint8_t *)"not a share", 11, pass, 2, env);
    assert_int_equal(phe_threshold_keyshare_unseal(&back, env, len, pass, 2), PHE_ERR_DECODE);
    assert_null(back);
    enc[4] = 2;
    len = test_hand_seal("PHTF", enc, elen, pass, 2, env);
    assert_int_equal(phe_threshold_keyshare_unseal(&back, env, len, pass, 2), PHE_ERR_VERSION);
    enc[4] = 1;
    len = test_hand_seal("PHEF", enc, elen, pass, 2, env);
    assert_int_equal(phe_threshold_keyshare_unseal(&back, env, len, pass, 2), PHE_ERR_DECODE);
    /* no bound on the box in memory: a 70000-byte box is derived and fails to
     * authenticate under a wrong passphrase */
    big = calloc(1, 70000);
    len = test_hand_seal("PHTF", big, 70000, pass, 2, env);
    assert_int_equal(phe_threshold_keyshare_unseal(&back, env, len, (const uint8_t *)"no", 2),
                     PHE_ERR_AUTH);
    /* argument checks leave *out alone */
    back = sentinel;
    assert_int_equal(phe_threshold_keyshare_unseal(&back, NULL, 1, pass, 2), PHE_ERR_INVALID_ARG);
    assert_int_equal(phe_threshold_keyshare_unseal(&back, env, len, NULL, 2), PHE_ERR_INVALID_ARG);
    assert_ptr_equal(back, sentinel);
    assert_int_equal(
        phe_threshold_keyshare_seal(d.ks[1], pass, 2, PHE_KDF_TEST_ONLY_MIN, rng, NULL, 0, &len),
        PHE_ERR_INVALID_ARG);
    assert_int_equal(phe_threshold_keyshare_seal(d.ks[1], pass, 2, (phe_kdf_strength)4, rng, buf,
                                                 sizeof buf, &len),
                     PHE_ERR_INVALID_ARG);
    assert_int_equal(phe_threshold_keyshare_seal(d.ks[1], NULL, 2, PHE_KDF_TEST_ONLY_MIN, rng, buf,
                                                 sizeof buf, &len),
                     PHE_ERR_INVALID_ARG);
    /* files: an existing one is kept as it was; at most 64 KiB are read */
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "old", 3), 3);
    close(fd);
    assert_int_equal(
        phe_threshold_keyshare_write_file(d.ks[1], path, pass, 2, PHE_KDF_TEST_ONLY_MIN, rng),
        PHE_ERR_IO);
    f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fread(buf, 1, sizeof buf, f), 3);
    fclose(f);
    assert_memory_equal(buf, "old", 3);
    assert_int_equal(phe_threshold_keyshare_read_file(&back, path, pass, 2), PHE_ERR_DECODE);
    assert_null(back);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(big, 1, 65537, f), 65537);
    fclose(f);
    back = sentinel;
    assert_int_equal(phe_threshold_keyshare_read_file(&back, path, pass, 2), PHE_ERR_DECODE);
    assert_null(back);
    len = test_hand_seal("PHTF", enc, elen, pass, 2, env);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(env, 1, len, f), len);
    fclose(f);
    assert_int_equal(phe_threshold_keyshare_read_file(&back, path, pass, 2), 0);
    assert_int_equal(phe_threshold_keyshare_index(back), 2);
    phe_threshold_keyshare_free(back);
    unlink(path);
    back = sentinel;
    assert_int_equal(phe_threshold_keyshare_read_file(&back, path, pass, 2), PHE_ERR_IO);
    assert_null(back);
    free(big);
    free(enc);
    free(env);
    phe_rng_free(rng);
    phe_rng_free(rng2);
    undeal(&d);
}

static void test_bad_arguments(void **state) {
    dealt d;
    phe_threshold_params *pp = NULL;
    phe_threshold_keyshare *ks[4] = {0};
    phe_threshold_decshare *ds = NULL;
    phe_rng *rng = seeded("args");
    uint8_t p[128], q[128], buf[64];
    size_t pl = unhex(SAFE_PRIME_1024_1, p, sizeof p), ql = unhex(SAFE_PRIME_1024_2, q, sizeof q);
    phe_ciphertext *ct, *empty = NULL;
    int64_t m = 0;
    (void)state;
    /* t, l out of range */
    assert_int_equal(phe_threshold_deal_with_primes(&pp, ks, p, pl, q, ql, 0, 3, rng),
                     PHE_ERR_THRESHOLD_PARAMS);
    assert_int_equal(phe_threshold_deal_with_primes(&pp, ks, p, pl, q, ql, 4, 3, rng),
                     PHE_ERR_THRESHOLD_PARAMS);
    assert_int_equal(phe_threshold_deal(&pp, ks, 2048, 2, PHE_THRESHOLD_MAX_HOLDERS + 1, rng),
                     PHE_ERR_THRESHOLD_PARAMS);
    assert_int_equal(phe_threshold_deal(&pp, ks, 1024, 2, 3, rng), PHE_ERR_KEY_SIZE);
    assert_int_equal(phe_threshold_deal(NULL, ks, 2048, 2, 3, rng), PHE_ERR_INVALID_ARG);
    assert_null(pp);
    /* primes that are not a suitable pair */
    assert_int_equal(phe_threshold_deal_with_primes(&pp, ks, p, pl, p, pl, 2, 3, rng),
                     PHE_ERR_THRESHOLD_NOT_SAFE_PRIME);
    q[ql - 1] ^= 0x02; /* q + 2 or q − 2: not a safe prime */
    assert_int_equal(phe_threshold_deal_with_primes(&pp, ks, p, pl, q, ql, 2, 3, rng),
                     PHE_ERR_THRESHOLD_NOT_SAFE_PRIME);
    /* n of 2040 bits, and of 16 bits: not a modulus libphe accepts */
    assert_int_equal(phe_threshold_deal_with_primes(&pp, ks, p, pl, q, ql - 1, 2, 3, rng),
                     PHE_ERR_KEY_INVALID);
    assert_int_equal(phe_threshold_deal_with_primes(&pp, ks, (const uint8_t *)"\x0b", 1,
                                                    (const uint8_t *)"\x17", 1, 2, 3, rng),
                     PHE_ERR_KEY_INVALID);
    assert_int_equal(phe_threshold_deal_with_primes(&pp, ks, p, 0, q, ql, 2, 3, rng),
                     PHE_ERR_INVALID_ARG);
    assert_null(pp);
    for (int i = 0; i < 4; i++) {
        assert_null(ks[i]);
    }
    /* safe prime search */
    assert_int_equal(phe_threshold_safe_prime(buf, sizeof buf, 32, rng), PHE_ERR_INVALID_ARG);
    assert_int_equal(phe_threshold_safe_prime(buf, 7, 64, rng), PHE_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(phe_threshold_safe_prime(buf, 8, 64, rng), 0);
    assert_true(buf[0] & 0x80);
    assert_true(buf[7] & 1);

    deal_primes(&d, SAFE_PRIME_1024_1, SAFE_PRIME_1024_2, 2, 3, "args-key");
    ct = encrypt(d.pp, 1, rng);
    assert_int_equal(phe_ciphertext_new(&empty), 0);
    assert_int_equal(phe_threshold_decshare_create(&ds, d.pp, d.ks[0], empty, rng), PHE_ERR_EMPTY);
    assert_int_equal(phe_threshold_decshare_create(NULL, d.pp, d.ks[0], ct, rng),
                     PHE_ERR_INVALID_ARG);
    assert_int_equal(phe_threshold_decshare_create(&ds, NULL, d.ks[0], ct, rng),
                     PHE_ERR_INVALID_ARG);
    assert_int_equal(phe_threshold_decshare_verify(d.pp, ct, NULL), PHE_ERR_INVALID_ARG);
    assert_int_equal(phe_threshold_combine_int64(d.pp, ct, NULL, 0, &m),
                     PHE_ERR_THRESHOLD_TOO_FEW_SHARES);
    {
        const phe_threshold_decshare *set[2] = {NULL, NULL};
        assert_int_equal(phe_threshold_combine_int64(d.pp, ct, set, 2, &m), PHE_ERR_INVALID_ARG);
    }
    assert_int_equal(phe_threshold_combine_int64(d.pp, ct, NULL, 2, NULL), PHE_ERR_INVALID_ARG);
    assert_int_equal(phe_threshold_params_decode(&pp, NULL, 0), PHE_ERR_DECODE);
    assert_int_equal(phe_threshold_params_decode(NULL, buf, 3), PHE_ERR_INVALID_ARG);
    assert_int_equal(phe_threshold_params_encode(d.pp, NULL, 0, NULL), PHE_ERR_INVALID_ARG);
    assert_int_equal(phe_threshold_params_encoded_size(NULL), 0);
    assert_int_equal(phe_threshold_keyshare_encoded_size(NULL), 0);
    assert_int_equal(phe_threshold_decshare_encoded_size(NULL), 0);
    assert_null(phe_threshold_params_pubkey(NULL));
    phe_threshold_params_free(NULL);
    phe_threshold_keyshare_free(NULL);
    phe_threshold_decshare_free(NULL);
    /* every threshold code has its own text, also through phe_strerror */
    for (int code = PHE_ERR_THRESHOLD_COMBINE_FAILED; code <= PHE_ERR_THRESHOLD_PARAMS; code++) {
        const char *t = phe_threshold_strerror(code);
        assert_non_null(t);
        assert_string_equal(phe_strerror(code), t);
        for (int other = code + 1; other <= PHE_ERR_THRESHOLD_PARAMS; other++) {
            assert_string_not_equal(t, phe_threshold_strerror(other));
        }
    }
    assert_null(phe_threshold_strerror(0));
    assert_null(phe_threshold_strerror(PHE_ERR_DECODE));
    phe_ciphertext_free(ct);
    phe_ciphertext_free(empty);
    phe_rng_free(rng);
    undeal(&d);
}

/* Known answers: a ceremony, a key share and a decryption share made from
 * seeded generators, pinned by their SHA-256 (the same values are checked
 * from Python in tests/python/test_phe_threshold.py). A change here means the
 * encodings, the ceremony or the proof changed: bump the format version. */
static void hex32(const uint8_t *d, char out[65]) {
    for (int i = 0; i < 32; i++) {
        snprintf(out + 2 * i, 3, "%02x", d[i]);
    }
}

static void sha_of(const uint8_t *buf, size_t len, char out[65]) {
    uint8_t h[32];
    crypto_hash_sha256(h, buf, len);
    hex32(h, out);
}

static void test_known_answers(void **state) {
    dealt d;
    phe_rng *rct = seeded("kat-ct"), *rsh = seeded("kat-share");
    phe_ciphertext *ct;
    phe_threshold_decshare *ds = NULL;
    uint8_t id[32], buf[4096];
    size_t len = 0;
    char hex[65];
    int64_t m = 0;
    (void)state;
    deal_primes(&d, SAFE_PRIME_1024_1, SAFE_PRIME_1024_2, 2, 3, "kat");
    assert_int_equal(phe_threshold_params_key_id(d.pp, id), 0);
    hex32(id, hex);
    assert_string_equal(hex, "f2fa22d8775a4423f1ff8dfbf6f681ef03576c9fb0a32f746be1f7af88f9d594");
    assert_int_equal(phe_threshold_keyshare_encode(d.ks[1], buf, sizeof buf, &len), 0);
    sha_of(buf, len, hex);
    assert_string_equal(hex, "06d368c6cec40db3a57c347c3ed0f2f4c384c2f5c501e067c7647250af4ee398");
    ct = encrypt(d.pp, -42, rct);
    assert_int_equal(phe_threshold_decshare_create(&ds, d.pp, d.ks[1], ct, rsh), 0);
    assert_int_equal(phe_threshold_decshare_encode(ds, buf, sizeof buf, &len), 0);
    sha_of(buf, len, hex);
    assert_string_equal(hex, "2b5ffead3f692a112b103977b473095dff507d0eb4331f31bb64c26194c09781");
    {
        phe_threshold_decshare *d3 = NULL;
        const phe_threshold_decshare *set[2];
        assert_int_equal(phe_threshold_decshare_create(&d3, d.pp, d.ks[2], ct, rsh), 0);
        set[0] = ds;
        set[1] = d3;
        assert_int_equal(phe_threshold_combine_int64(d.pp, ct, set, 2, &m), 0);
        assert_true(m == -42);
        phe_threshold_decshare_free(d3);
    }
    phe_threshold_decshare_free(ds);
    phe_ciphertext_free(ct);
    phe_rng_free(rct);
    phe_rng_free(rsh);
    undeal(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_subset_2_of_3),
        cmocka_unit_test(test_every_subset_3_of_5),
        cmocka_unit_test(test_every_subset_1_of_2_and_3_of_3),
        cmocka_unit_test(test_sum_and_bytes),
        cmocka_unit_test(test_bad_shares_are_named),
        cmocka_unit_test(test_encodings_round_trip),
        cmocka_unit_test(test_deterministic_ceremony),
        cmocka_unit_test(test_known_answers),
        cmocka_unit_test(test_params_values_checked),
        cmocka_unit_test(test_sealed_key_share),
        cmocka_unit_test(test_sealed_share_policies),
        cmocka_unit_test(test_sealed_share_header_changes),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests_name("phe_threshold", tests, NULL, NULL);
}
