/* Versioned policy sets: an update takes effect only with valid signatures of more than two
 * thirds of the current members; every refusal has its own code. Deterministic keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "abac.h"

#define MAXN 16

static uint8_t PK[MAXN + 2][32], SK[MAXN + 2][64];

static void keys(void) {
    for (int k = 0; k < MAXN + 2; k++) {
        uint8_t seed[32];
        memset(seed, k + 1, sizeof seed);
        crypto_sign_seed_keypair(PK[k], SK[k], seed);
    }
}

static abac_policyset *mkset(uint64_t version, int first, int n, const char *extra) {
    uint8_t m[MAXN * 32];
    for (int k = 0; k < n; k++)
        memcpy(m + 32 * k, PK[first + k], 32);
    abac_compile_options o = ABAC_COMPILE_OPTIONS_INIT;
    o.set_version = version;
    o.members = m;
    o.n_members = (size_t)n;
    char src[256];
    snprintf(src, sizeof src, "permit p (subject, action == \"train\", resource) %s;", extra);
    abac_policyset *ps = NULL;
    assert_int_equal(abac_policyset_compile(src, strlen(src), &o, &ps, NULL, NULL, NULL, 0), 0);
    return ps;
}

/* update cur -> next signed by the listed members of cur */
static uint8_t *mkupdate(const abac_policyset *cur, const abac_policyset *next, const int *who,
                         int n, size_t *len) {
    uint8_t pks[MAXN * 2 * 32], sigs[MAXN * 2 * 64];
    for (int k = 0; k < n; k++) {
        memcpy(pks + 32 * k, PK[who[k]], 32);
        assert_int_equal(abac_update_sign(cur, next, SK[who[k]], sigs + 64 * k), 0);
    }
    size_t cap = abac_update_encoded_size(next, (size_t)n);
    uint8_t *b = malloc(cap);
    assert_int_equal(abac_update_encode(cur, next, pks, sigs, (size_t)n, b, cap, len), 0);
    assert_int_equal(*len, cap);
    return b;
}

static void test_threshold(void **state) {
    (void)state;
    int ns[] = {1, 2, 3, 4, 5, 6, 7, 9, 10, 13, 16};
    for (size_t t = 0; t < sizeof ns / sizeof ns[0]; t++) {
        int n = ns[t];
        abac_policyset *cur = mkset(1, 0, n, "");
        abac_policyset *next = mkset(2, 0, n, "obligations [log]");
        int who[MAXN];
        for (int k = 0; k < n; k++)
            who[k] = n - 1 - k; /* any order: the encoder sorts */
        int floor23 = 2 * n / 3;
        size_t len;
        abac_policyset *out = NULL;
        /* exactly floor(2n/3) signatures: refused */
        uint8_t *u = mkupdate(cur, next, who, floor23, &len);
        assert_int_equal(abac_update_apply(cur, u, len, &out), ABAC_E_NO_QUORUM);
        assert_null(out);
        free(u);
        /* floor(2n/3) + 1: accepted, and the new set is the one signed */
        u = mkupdate(cur, next, who, floor23 + 1, &len);
        assert_int_equal(abac_update_apply(cur, u, len, &out), 0);
        assert_non_null(out);
        assert_int_equal(abac_policyset_version(out), 2);
        uint8_t h1[32], h2[32];
        abac_policyset_hash(out, h1);
        abac_policyset_hash(next, h2);
        assert_memory_equal(h1, h2, 32);
        /* applying it again to the new set is a replay */
        abac_policyset *again = NULL;
        assert_int_equal(abac_update_apply(out, u, len, &again), ABAC_E_REPLAY);
        assert_null(again);
        abac_policyset_free(out);
        free(u);
        abac_policyset_free(cur);
        abac_policyset_free(next);
    }
}

static void test_refusals(void **state) {
    (void)state;
    abac_policyset *v1 = mkset(1, 0, 4, "");
    abac_policyset *v2 = mkset(2, 0, 4, "obligations [a]");
    abac_policyset *v3 = mkset(3, 1, 4, "obligations [b]"); /* membership changes in v3 */
    abac_policyset *v1b = mkset(1, 0, 4, "obligations [c]");
    int all[] = {0, 1, 2, 3};
    size_t len;
    abac_policyset *out = NULL;
    uint8_t *u12 = mkupdate(v1, v2, all, 3, &len);
    size_t len12 = len;
    assert_int_equal(abac_update_apply(v1, u12, len12, &out), 0);
    abac_policyset *cur = out;
    out = NULL;
    /* v2 -> v3 signed by v2's members (0..3), v3's members are 1..4 */
    uint8_t *u23 = mkupdate(cur, v3, all, 3, &len);
    size_t len23 = len;
    assert_int_equal(abac_update_apply(cur, u23, len23, &out), 0);
    abac_policyset *cur3 = out;
    out = NULL;
    /* the old v1->v2 update against v3: stale */
    assert_int_equal(abac_update_apply(cur3, u12, len12, &out), ABAC_E_STALE_VERSION);
    /* a same-version different set: stale */
    uint8_t *ub = mkupdate(v1, v1b, all, 4, &len);
    assert_int_equal(abac_update_apply(v1, ub, len, &out), ABAC_E_STALE_VERSION);
    free(ub);
    /* signed against another base (v1b) but applied to v1 */
    abac_policyset *v2b = mkset(2, 0, 4, "obligations [d]");
    ub = mkupdate(v1b, v2b, all, 4, &len);
    assert_int_equal(abac_update_apply(v1, ub, len, &out), ABAC_E_WRONG_BASE);
    free(ub);
    /* a non-member among the signers (key 5) */
    uint8_t pks[5 * 32], sigs[5 * 64];
    int who[] = {0, 1, 2, 5};
    for (int k = 0; k < 4; k++) {
        memcpy(pks + 32 * k, PK[who[k]], 32);
        abac_update_sign(v1, v2b, SK[who[k]], sigs + 64 * k);
    }
    uint8_t buf[8192];
    assert_int_equal(abac_update_encode(v1, v2b, pks, sigs, 4, buf, sizeof buf, &len), 0);
    assert_int_equal(abac_update_apply(v1, buf, len, &out), ABAC_E_NOT_MEMBER);
    /* a bad signature: member 2 signed another message */
    abac_update_sign(v1, v2, SK[2], sigs + 64 * 2);
    assert_int_equal(abac_update_encode(v1, v2b, pks, sigs, 3, buf, sizeof buf, &len), 0);
    assert_int_equal(abac_update_apply(v1, buf, len, &out), ABAC_E_BAD_SIGNATURE);
    /* a flipped signature bit */
    abac_update_sign(v1, v2b, SK[2], sigs + 64 * 2);
    assert_int_equal(abac_update_encode(v1, v2b, pks, sigs, 3, buf, sizeof buf, &len), 0);
    assert_int_equal(abac_update_apply(v1, buf, len, &out), 0);
    abac_policyset_free(out);
    out = NULL;
    buf[len - 1] ^= 1;
    assert_int_equal(abac_update_apply(v1, buf, len, &out), ABAC_E_BAD_SIGNATURE);
    buf[len - 1] ^= 1;
    /* duplicate signer: the encoder refuses; hand-made bytes are refused by apply */
    memcpy(pks + 32 * 3, PK[1], 32);
    memcpy(sigs + 64 * 3, sigs + 64 * 1, 64);
    assert_int_equal(abac_update_encode(v1, v2b, pks, sigs, 4, buf, sizeof buf, &len),
                     ABAC_E_DUPLICATE_SIGNER);
    assert_int_equal(abac_update_encode(v1, v2b, pks, sigs, 3, buf, sizeof buf, &len), 0);
    /* rewrite the count to 4 and append a copy of the last (pk, sig) entry */
    size_t cnt_at = len - 3 * 96 - 4;
    buf[cnt_at + 3] = 4;
    memcpy(buf + len, buf + len - 96, 96);
    assert_int_equal(abac_update_apply(v1, buf, len + 96, &out), ABAC_E_DUPLICATE_SIGNER);
    /* malformed bytes */
    for (size_t k = 0; k < len; k += 7)
        assert_int_equal(abac_update_apply(v1, buf, k, &out) < 0, 1);
    buf[cnt_at + 3] = 3;
    buf[0] = 'Z';
    assert_int_equal(abac_update_apply(v1, buf, len, &out), ABAC_E_FORMAT_VERSION);
    assert_null(out);
    /* a set without members cannot be updated */
    abac_policyset *open = mkset(1, 0, 0, "");
    uint8_t *uo = mkupdate(open, v2, all, 0, &len);
    assert_int_equal(abac_update_apply(open, uo, len, &out), ABAC_E_NO_MEMBERS);
    free(uo);
    /* argument checks */
    assert_int_equal(abac_update_apply(NULL, buf, len, &out), ABAC_E_INVALID);
    assert_int_equal(abac_update_sign(v1, v2, NULL, sigs), ABAC_E_INVALID);
    uint8_t msg1[32], msg2[32];
    assert_int_equal(abac_update_message(v1, v2, msg1), 0);
    assert_int_equal(abac_update_message(v1, v2b, msg2), 0);
    assert_memory_not_equal(msg1, msg2, 32);
    abac_policyset_free(open);
    abac_policyset_free(v2b);
    free(u12);
    free(u23);
    abac_policyset_free(cur);
    abac_policyset_free(cur3);
    abac_policyset_free(v1);
    abac_policyset_free(v2);
    abac_policyset_free(v3);
    abac_policyset_free(v1b);
}

int main(void) {
    if (sodium_init() < 0)
        return 1;
    keys();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threshold),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
