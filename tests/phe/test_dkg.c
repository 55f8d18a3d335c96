/*
 * Dealerless key generation (phe/dkg.h): in-process message passing among
 * 3 and 5 holders at 2048 bits, every t-subset decrypts, a wrong share is
 * named, garbage and out-of-order messages give error codes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "phe.h"
#include "phe/dkg.h"
#include "phe/threshold.h"

#include "phe_internal.h"

/* dkg.c, tests only */
void phei_dkg_cheat(phe_dkg *d, uint32_t target);
int phei_dkg_result(const phe_dkg *d, mpz_t n, mpz_t s, mpz_t v, mpz_t *vk);
int phei_dkg_sieve(const phe_dkg *d, size_t k, mpz_t m4, mpz_t share);
int phei_dkg_td(phe_dkg *d, mpz_t *N, uint32_t n, uint32_t *surv, uint32_t *nsurv);

#define MAXL 5

typedef struct qmsg {
    uint32_t from, to;
    uint8_t *data;
    size_t len;
    struct qmsg *next;
} qmsg;

typedef struct net {
    qmsg *head, *tail;
    uint32_t l;
} net;

static void net_push(net *n, uint32_t from, const phe_dkg_msg *m, size_t count) {
    for (size_t i = 0; i < count; i++) {
        for (uint32_t to = 1; to <= n->l; to++) {
            if (to == from || (m[i].to != 0 && m[i].to != to)) {
                continue;
            }
            qmsg *q = calloc(1, sizeof *q);
            assert_non_null(q);
            q->from = from;
            q->to = to;
            q->data = malloc(m[i].len);
            assert_non_null(q->data);
            memcpy(q->data, m[i].data, m[i].len);
            q->len = m[i].len;
            if (n->tail) {
                n->tail->next = q;
            } else {
                n->head = q;
            }
            n->tail = q;
        }
    }
}

static void net_clear(net *n) {
    while (n->head) {
        qmsg *q = n->head;
        n->head = q->next;
        free(q->data);
        free(q);
    }
    n->tail = NULL;
}

typedef struct result {
    phe_threshold_params *pp[MAXL + 1];
    phe_threshold_keyshare *ks[MAXL + 1];
    int rc[MAXL + 1];
    uint32_t blamed[MAXL + 1];
    uint64_t candidates;
    /* raw results (every holder that finished) */
    int raw_ok[MAXL + 1];
    mpz_t n, v, s[MAXL + 1], vk[MAXL];
} result;

static const uint8_t SESSION[32] = "test_dkg session id 0123456789";

/* Run the ceremony; holder cheat_from (0: nobody) sends a wrong share to cheat_to. */
static void run(result *res, uint32_t bits, uint32_t l, uint32_t t, uint32_t cheat_from,
                uint32_t cheat_to) {
    phe_dkg *d[MAXL + 1] = {0};
    net n = {NULL, NULL, l};
    memset(res, 0, sizeof *res);
    mpz_inits(res->n, res->v, NULL);
    for (uint32_t i = 0; i <= MAXL; i++) {
        mpz_init(res->s[i]);
    }
    for (uint32_t i = 0; i < MAXL; i++) {
        mpz_init(res->vk[i]);
    }
    for (uint32_t i = 1; i <= l; i++) {
        assert_int_equal(phe_dkg_new(&d[i], SESSION, bits, t, l, i, NULL), 0);
        if (i == cheat_from) {
            phei_dkg_cheat(d[i], cheat_to);
        }
    }
    for (uint32_t i = 1; i <= l; i++) {
        phe_dkg_msg *m;
        size_t c;
        assert_int_equal(phe_dkg_start(d[i], &m, &c), 0);
        assert_true(c > 0);
        net_push(&n, i, m, c);
        phe_dkg_msgs_free(m, c);
    }
    while (n.head) {
        qmsg *q = n.head;
        n.head = q->next;
        if (!n.head) {
            n.tail = NULL;
        }
        if (res->rc[q->to] == 0) {
            phe_dkg_msg *m;
            size_t c;
            int rc = phe_dkg_handle(d[q->to], q->data, q->len, &m, &c);
            if (rc != 0) {
                res->rc[q->to] = rc;
                res->blamed[q->to] = phe_dkg_blamed(d[q->to]);
            } else {
                net_push(&n, q->to, m, c);
                phe_dkg_msgs_free(m, c);
            }
        }
        free(q->data);
        free(q);
    }
    for (uint32_t i = 1; i <= l; i++) {
        if (res->rc[i] == 0 && phe_dkg_done(d[i])) {
            if (bits >= 2048) {
                assert_int_equal(phe_dkg_finish(d[i], &res->pp[i], &res->ks[i]), 0);
            } else {
                assert_int_equal(phe_dkg_finish(d[i], &res->pp[i], &res->ks[i]), PHE_ERR_KEY_SIZE);
            }
            assert_int_equal(phei_dkg_result(d[i], res->n, res->s[i], res->v, res->vk), 0);
            res->raw_ok[i] = 1;
        }
    }
    assert_int_equal(phe_dkg_stats(d[1], &res->candidates, NULL, NULL), 0);
    for (uint32_t i = 1; i <= l; i++) {
        phe_dkg_free(d[i]);
    }
    net_clear(&n);
}

static void free_result(result *res, uint32_t l) {
    for (uint32_t i = 1; i <= l; i++) {
        phe_threshold_params_free(res->pp[i]);
        phe_threshold_keyshare_free(res->ks[i]);
    }
    mpz_clears(res->n, res->v, NULL);
    for (uint32_t i = 0; i <= MAXL; i++) {
        mpz_clear(res->s[i]);
    }
    for (uint32_t i = 0; i < MAXL; i++) {
        mpz_clear(res->vk[i]);
    }
}

/* The threshold decryption of threshold.c done by hand over the raw result
 * (for 1024-bit runs): every t-subset recovers m, and vk_i = v^(Δ s_i). */
static void check_raw(result *res, uint32_t l, uint32_t t) {
    mpz_t n2, delta, c, m, r, ci[MAXL + 1], acc, e, num, den, x, lx;
    gmp_randstate_t rs;
    unsigned subsets = 0;
    gmp_randinit_default(rs);
    gmp_randseed_ui(rs, 12345);
    mpz_inits(n2, delta, c, m, r, acc, e, num, den, x, lx, NULL);
    mpz_mul(n2, res->n, res->n);
    mpz_fac_ui(delta, l);
    for (uint32_t i = 1; i <= l; i++) {
        assert_true(res->raw_ok[i]);
        mpz_mul(e, delta, res->s[i]);
        mpz_powm(x, res->v, e, n2);
        assert_int_equal(mpz_cmp(x, res->vk[i - 1]), 0);
    }
    mpz_urandomm(m, rs, res->n);
    mpz_urandomm(r, rs, res->n);
    mpz_powm(c, r, res->n, n2);
    mpz_mul(x, m, res->n);
    mpz_add_ui(x, x, 1);
    mpz_mul(c, c, x);
    mpz_mod(c, c, n2);
    for (uint32_t i = 1; i <= l; i++) {
        mpz_init(ci[i]);
        mpz_mul(e, delta, res->s[i]);
        mpz_mul_ui(e, e, 2);
        mpz_powm(ci[i], c, e, n2);
    }
    for (uint32_t mask = 1; mask < (1u << l); mask++) {
        if ((uint32_t)__builtin_popcount(mask) != t) {
            continue;
        }
        mpz_set_ui(acc, 1);
        for (uint32_t i = 1; i <= l; i++) {
            if (!(mask & (1u << (i - 1)))) {
                continue;
            }
            /* μ_i = Δ·Π_{j≠i} j/(j−i) */
            mpz_set(num, delta);
            mpz_set_ui(den, 1);
            for (uint32_t j = 1; j <= l; j++) {
                if (j != i && (mask & (1u << (j - 1)))) {
                    mpz_mul_ui(num, num, j);
                    mpz_mul_si(den, den, (long)j - (long)i);
                }
            }
            mpz_divexact(e, num, den);
            mpz_mul_ui(e, e, 2);
            mpz_powm(x, ci[i], e, n2); /* negative e: GMP inverts */
            mpz_mul(acc, acc, x);
            mpz_mod(acc, acc, n2);
        }
        /* acc = (1+n)^(4Δ² m): L(acc)·(4Δ²)^−1 mod n */
        mpz_sub_ui(lx, acc, 1);
        assert_true(mpz_divisible_p(lx, res->n));
        mpz_divexact(lx, lx, res->n);
        mpz_mul(x, delta, delta);
        mpz_mul_ui(x, x, 4);
        assert_true(mpz_invert(x, x, res->n) != 0);
        mpz_mul(lx, lx, x);
        mpz_mod(lx, lx, res->n);
        assert_int_equal(mpz_cmp(lx, m), 0);
        subsets++;
    }
    assert_true(subsets > 0);
    for (uint32_t i = 1; i <= l; i++) {
        mpz_clear(ci[i]);
    }
    mpz_clears(n2, delta, c, m, r, acc, e, num, den, x, lx, NULL);
    gmp_randclear(rs);
}

/* Decrypt with subset `mask` (bits i−1 for holder i) and expect m. */
static void decrypt_subset(result *res, uint32_t l, uint32_t mask, const phe_ciphertext *ct,
                           int64_t m) {
    phe_threshold_decshare *ds[MAXL] = {0};
    size_t k = 0;
    int64_t out = 0;
    for (uint32_t i = 1; i <= l; i++) {
        if (mask & (1u << (i - 1))) {
            assert_int_equal(
                phe_threshold_decshare_create(&ds[k], res->pp[1], res->ks[i], ct, NULL), 0);
            assert_int_equal(phe_threshold_decshare_verify(res->pp[1], ct, ds[k]), 0);
            k++;
        }
    }
    assert_int_equal(phe_threshold_combine_int64(
                         res->pp[1], ct, (const phe_threshold_decshare *const *)ds, k, &out),
                     0);
    assert_true(out == m);
    for (size_t j = 0; j < k; j++) {
        phe_threshold_decshare_free(ds[j]);
    }
}

static void check_key(result *res, uint32_t l, uint32_t t) {
    uint8_t id1[32], idi[32];
    phe_ciphertext *ct = NULL;
    int64_t m = -123456789;
    unsigned subsets = 0;
    for (uint32_t i = 1; i <= l; i++) {
        assert_int_equal(res->rc[i], 0);
        assert_non_null(res->pp[i]);
        assert_int_equal(phe_threshold_keyshare_check(res->pp[1], res->ks[i]), 0);
        assert_int_equal(phe_threshold_keyshare_index(res->ks[i]), i);
        assert_int_equal(phe_threshold_params_key_id(res->pp[i], idi), 0);
        if (i == 1) {
            memcpy(id1, idi, 32);
        }
        assert_memory_equal(id1, idi, 32);
    }
    assert_int_equal(phe_pubkey_bits(phe_threshold_params_pubkey(res->pp[1])), 2048);
    /* the parameters round-trip through their encoding */
    {
        size_t len = phe_threshold_params_encoded_size(res->pp[1]);
        uint8_t *buf = malloc(len);
        phe_threshold_params *pp2 = NULL;
        assert_non_null(buf);
        assert_int_equal(phe_threshold_params_encode(res->pp[1], buf, len, NULL), 0);
        assert_int_equal(phe_threshold_params_decode(&pp2, buf, len), 0);
        assert_int_equal(phe_threshold_params_key_id(pp2, idi), 0);
        assert_memory_equal(id1, idi, 32);
        phe_threshold_params_free(pp2);
        /* version 2 carries the share bound after l: too small or too large is refused */
        assert_int_equal(buf[4], 2);
        buf[13] = 0;
        buf[14] = 0;
        buf[15] = 0x01; /* 256 bits < 2|n| */
        assert_int_equal(phe_threshold_params_decode(&pp2, buf, len), PHE_ERR_DECODE);
        buf[14] = 0x7f; /* 2^23-ish bits: the proof would not fit */
        assert_int_equal(phe_threshold_params_decode(&pp2, buf, len), PHE_ERR_DECODE);
        free(buf);
    }
    assert_int_equal(phe_ciphertext_new(&ct), 0);
    assert_int_equal(phe_encrypt_i64(phe_threshold_params_pubkey(res->pp[1]), ct, m, NULL), 0);
    for (uint32_t mask = 1; mask < (1u << l); mask++) {
        if ((uint32_t)__builtin_popcount(mask) == t) {
            decrypt_subset(res, l, mask, ct, m);
            subsets++;
        }
    }
    assert_true(subsets > 0);
    phe_ciphertext_free(ct);
}

/* 2048 bits, 2-of-3: a libphe key, decrypted by threshold.c with every pair. */
static void test_dkg_3_holders_2048(void **state) {
    result res;
    (void)state;
    run(&res, 2048, 3, 2, 0, 0);
    print_message("3 holders, 2048 bits: %llu candidates\n", (unsigned long long)res.candidates);
    check_key(&res, 3, 2);
    check_raw(&res, 3, 2);
    free_result(&res, 3);
}

/* 1024 bits (fast): 3-of-5 and 2-of-3, checked by hand. */
static void test_dkg_5_holders_1024(void **state) {
    result res;
    (void)state;
    run(&res, 1024, 5, 3, 0, 0);
    print_message("5 holders, 1024 bits: %llu candidates\n", (unsigned long long)res.candidates);
    check_raw(&res, 5, 3);
    free_result(&res, 5);
}

static void test_dkg_3_holders_1024_t3(void **state) {
    result res;
    (void)state;
    run(&res, 1024, 3, 3, 0, 0);
    check_raw(&res, 3, 3);
    free_result(&res, 3);
}

static void test_dkg_wrong_share_named(void **state) {
    result res;
    (void)state;
    run(&res, 1024, 3, 2, 2, 3);
    /* holder 3 got a share from 2 that does not match 2's commitment */
    assert_int_equal(res.rc[3], PHE_ERR_DKG_BLAME);
    assert_int_equal(res.blamed[3], 2);
    assert_non_null(phe_strerror(PHE_ERR_DKG_BLAME));
    /* nobody finishes with a key (3 never confirms) */
    assert_null(res.pp[3]);
    free_result(&res, 3);
}

/* Garbage, other sessions, wrong rounds, duplicates: error codes, state unchanged. */
static void test_dkg_bad_messages(void **state) {
    phe_dkg *a = NULL, *b = NULL, *c = NULL;
    phe_dkg_msg *ma, *mb, *mx;
    size_t na, nb, nx;
    uint8_t junk[300];
    phe_threshold_params *pp;
    phe_threshold_keyshare *ks;
    (void)state;
    assert_int_equal(phe_dkg_new(&a, SESSION, 1536, 2, 3, 1, NULL), PHE_ERR_KEY_SIZE);
    assert_int_equal(phe_dkg_new(&a, SESSION, 2048, 2, 2, 1, NULL), PHE_ERR_THRESHOLD_PARAMS);
    assert_int_equal(phe_dkg_new(&a, SESSION, 2048, 4, 3, 1, NULL), PHE_ERR_THRESHOLD_PARAMS);
    assert_int_equal(phe_dkg_new(&a, SESSION, 2048, 2, 3, 4, NULL), PHE_ERR_THRESHOLD_PARAMS);
    assert_int_equal(phe_dkg_new(&a, SESSION, 2048, 2, 3, 1, NULL), 0);
    assert_int_equal(phe_dkg_new(&b, SESSION, 2048, 2, 3, 2, NULL), 0);
    assert_int_equal(phe_dkg_new(&c, SESSION, 2048, 2, 3, 3, NULL), 0);
    /* before start */
    assert_int_equal(phe_dkg_handle(a, junk, 10, &mx, &nx), PHE_ERR_DKG_STATE);
    assert_int_equal(phe_dkg_finish(a, &pp, &ks), PHE_ERR_DKG_STATE);
    assert_int_equal(phe_dkg_start(a, &ma, &na), 0);
    assert_int_equal(phe_dkg_start(a, &mx, &nx), PHE_ERR_DKG_STATE);
    assert_int_equal(phe_dkg_start(b, &mb, &nb), 0);
    assert_int_equal(na, 2);
    /* garbage */
    memset(junk, 0xa5, sizeof junk);
    assert_int_equal(phe_dkg_handle(a, junk, sizeof junk, &mx, &nx), PHE_ERR_DECODE);
    assert_int_equal(phe_dkg_handle(a, NULL, 0, &mx, &nx), PHE_ERR_DECODE);
    assert_int_equal(phe_dkg_handle(a, NULL, 5, &mx, &nx), PHE_ERR_INVALID_ARG);
    /* b's message for holder 1, truncated at every length up to the header */
    {
        const phe_dkg_msg *to1 = mb[0].to == 1 ? &mb[0] : &mb[1];
        uint8_t *copy = malloc(to1->len);
        assert_non_null(copy);
        for (size_t len = 0; len < 60; len++) {
            int rc = phe_dkg_handle(a, to1->data, len, &mx, &nx);
            assert_true(rc == PHE_ERR_DECODE);
        }
        /* truncated body */
        assert_int_equal(phe_dkg_handle(a, to1->data, to1->len - 1, &mx, &nx), PHE_ERR_DECODE);
        /* version */
        memcpy(copy, to1->data, to1->len);
        copy[4] = 9;
        assert_int_equal(phe_dkg_handle(a, copy, to1->len, &mx, &nx), PHE_ERR_VERSION);
        /* another session */
        memcpy(copy, to1->data, to1->len);
        copy[5] ^= 1;
        assert_int_equal(phe_dkg_handle(a, copy, to1->len, &mx, &nx), PHE_ERR_DKG_SESSION);
        /* a message for holder 2 delivered to holder 1: addressed to someone else */
        assert_int_equal(phe_dkg_handle(a, ma[0].data, ma[0].len, &mx, &nx), PHE_ERR_DKG_SESSION);
        /* a round far ahead */
        memcpy(copy, to1->data, to1->len);
        copy[4 + 1 + 32 + 1 + 4 + 4 + 3] = 7; /* round 7 */
        assert_int_equal(phe_dkg_handle(a, copy, to1->len, &mx, &nx), PHE_ERR_DKG_ROUND);
        /* wrong type for the round */
        memcpy(copy, to1->data, to1->len);
        copy[37] = 6;
        assert_int_equal(phe_dkg_handle(a, copy, to1->len, &mx, &nx), PHE_ERR_DKG_ROUND);
        /* the real message is accepted once, then a duplicate */
        assert_int_equal(phe_dkg_handle(a, to1->data, to1->len, &mx, &nx), 0);
        assert_int_equal(nx, 0);
        phe_dkg_msgs_free(mx, nx);
        assert_int_equal(phe_dkg_handle(a, to1->data, to1->len, &mx, &nx), PHE_ERR_DKG_DUPLICATE);
        free(copy);
    }
    assert_int_equal(phe_dkg_finish(a, &pp, &ks), PHE_ERR_DKG_STATE);
    assert_int_equal(phe_dkg_done(a), 0);
    assert_int_equal(phe_dkg_blamed(a), 0);
    phe_dkg_msgs_free(ma, na);
    phe_dkg_msgs_free(mb, nb);
    phe_dkg_free(a);
    phe_dkg_free(b);
    phe_dkg_free(c);
    phe_dkg_free(NULL);
}

/* The distributed sieve: run only its rounds (types 9 … 11; the PQ messages
 * that follow are held back), then every candidate's p and q, summed over
 * the holders' sieved shares, is ≡ 3 (mod 4) and coprime to every prime in
 * M — by construction, for all 2·2048 of them. l = 3 has no degree
 * reduction, l = 5 one. */
static void sieve_check(uint32_t l) {
    phe_dkg *d[MAXL + 1] = {0};
    net n = {NULL, NULL, l};
    qmsg *held = NULL;
    size_t nheld = 0;
    mpz_t m4, sh, sum, g;
    mpz_inits(m4, sh, sum, g, NULL);
    for (uint32_t i = 1; i <= l; i++) {
        phe_dkg_msg *m;
        size_t c;
        assert_int_equal(phe_dkg_new(&d[i], SESSION, 1024, 2, l, i, NULL), 0);
        assert_int_equal(phe_dkg_start(d[i], &m, &c), 0);
        assert_int_equal(c, l - 1);
        assert_int_equal(m[0].data[37], 9); /* SV1 */
        net_push(&n, i, m, c);
        phe_dkg_msgs_free(m, c);
    }
    while (n.head) {
        qmsg *q = n.head;
        n.head = q->next;
        if (!n.head) {
            n.tail = NULL;
        }
        if (q->data[37] == 1) { /* PQ: the sieve is over for its sender */
            q->next = held;
            held = q;
            nheld++;
            continue;
        }
        assert_true(q->data[37] >= 9 && q->data[37] <= 11);
        {
            phe_dkg_msg *m;
            size_t c;
            assert_int_equal(phe_dkg_handle(d[q->to], q->data, q->len, &m, &c), 0);
            net_push(&n, q->to, m, c);
            phe_dkg_msgs_free(m, c);
        }
        free(q->data);
        free(q);
    }
    assert_int_equal(nheld, (size_t)l * (l - 1));
    for (size_t k = 0; k < 2 * 2048; k++) {
        mpz_set_ui(sum, 0);
        for (uint32_t i = 1; i <= l; i++) {
            assert_int_equal(phei_dkg_sieve(d[i], k, m4, sh), 0);
            assert_true(mpz_sgn(sh) >= 0 && mpz_cmp(sh, m4) < 0);
            mpz_add(sum, sum, sh);
        }
        mpz_mod(sum, sum, m4);
        assert_int_equal(mpz_fdiv_ui(sum, 4), 3);
        mpz_gcd(g, sum, m4);
        assert_int_equal(mpz_cmp_ui(g, 1), 0);
    }
    /* M holds the primes 3 … at least 200 at 1024 bits */
    assert_true(mpz_sizeinbase(m4, 2) > 250);
    assert_int_equal(mpz_fdiv_ui(m4, 3 * 5 * 7 * 11 * 13), 0);
    assert_int_equal(mpz_fdiv_ui(m4, 199), 0);
    assert_int_equal(phei_dkg_sieve(d[1], 2 * 2048, m4, sh), PHE_ERR_INVALID_ARG);
    while (held) {
        qmsg *q = held;
        held = q->next;
        free(q->data);
        free(q);
    }
    for (uint32_t i = 1; i <= l; i++) {
        phe_dkg_free(d[i]);
    }
    mpz_clears(m4, sh, sum, g, NULL);
}

static void test_dkg_sieve_3(void **state) {
    (void)state;
    sieve_check(3);
}

static void test_dkg_sieve_5(void **state) {
    (void)state;
    sieve_check(5);
}

/* The batch trial division (remainder tree) agrees with a direct gcd against
 * the primorial of 2^22 for random odd numbers, products of two large primes,
 * multiples of the largest prime below 2^22 and numbers of the wrong size,
 * for batch sizes that exercise odd tree widths. */
static void test_dkg_trial_division(void **state) {
    phe_dkg *d = NULL;
    gmp_randstate_t rs;
    mpz_t prim, g, *N;
    uint32_t *surv, nsurv;
    const uint32_t sizes[] = {1, 2, 3, 7, 100, 2048};
    (void)state;
    assert_int_equal(phe_dkg_new(&d, SESSION, 2048, 2, 3, 1, NULL), 0);
    gmp_randinit_default(rs);
    gmp_randseed_ui(rs, 20261207);
    mpz_inits(prim, g, NULL);
    mpz_primorial_ui(prim, 4194304);
    N = calloc(2048, sizeof(mpz_t));
    surv = calloc(2048, sizeof(uint32_t));
    assert_non_null(N);
    assert_non_null(surv);
    for (uint32_t i = 0; i < 2048; i++) {
        mpz_init(N[i]);
    }
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        uint32_t n = sizes[s], expect = 0, k = 0;
        for (uint32_t i = 0; i < n; i++) {
            switch (i % 5) {
                case 0: /* a product of two 1024-bit primes: passes */
                    mpz_urandomb(g, rs, 1024);
                    mpz_setbit(g, 1023);
                    mpz_setbit(g, 1022);
                    mpz_nextprime(N[i], g);
                    mpz_urandomb(g, rs, 1024);
                    mpz_setbit(g, 1023);
                    mpz_setbit(g, 1022);
                    mpz_nextprime(g, g);
                    mpz_mul(N[i], N[i], g);
                    break;
                case 1: /* 4194301 (prime) times a 2026-bit number */
                    mpz_urandomb(N[i], rs, 2026);
                    mpz_setbit(N[i], 2025);
                    mpz_mul_ui(N[i], N[i], 4194301);
                    mpz_setbit(N[i], 0);
                    break;
                case 2: /* 2047 bits */
                    mpz_urandomb(N[i], rs, 2047);
                    mpz_setbit(N[i], 2046);
                    mpz_setbit(N[i], 0);
                    break;
                default: /* random odd 2048-bit */
                    mpz_urandomb(N[i], rs, 2048);
                    mpz_setbit(N[i], 2047);
                    mpz_setbit(N[i], 0);
                    break;
            }
        }
        assert_int_equal(phei_dkg_td(d, N, n, surv, &nsurv), 0);
        for (uint32_t i = 0; i < n; i++) {
            int ok;
            mpz_gcd(g, prim, N[i]);
            ok = mpz_sizeinbase(N[i], 2) == 2048 && mpz_cmp_ui(g, 1) == 0;
            if (i % 5 == 0) {
                assert_true(ok);
            }
            if (ok) {
                assert_true(k < nsurv);
                assert_int_equal(surv[k], i);
                k++;
                expect++;
            }
        }
        assert_int_equal(nsurv, expect);
    }
    for (uint32_t i = 0; i < 2048; i++) {
        mpz_clear(N[i]);
    }
    free(N);
    free(surv);
    mpz_clears(prim, g, NULL);
    gmp_randclear(rs);
    phe_dkg_free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dkg_bad_messages),      cmocka_unit_test(test_dkg_5_holders_1024),
        cmocka_unit_test(test_dkg_3_holders_1024_t3), cmocka_unit_test(test_dkg_3_holders_2048),
        cmocka_unit_test(test_dkg_wrong_share_named), cmocka_unit_test(test_dkg_sieve_3),
        cmocka_unit_test(test_dkg_sieve_5),           cmocka_unit_test(test_dkg_trial_division),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
