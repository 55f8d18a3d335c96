/* Membership changes by quorum on a store (ledger/reconfig.h): a replica added
 * and one removed by more than two thirds of the replicas in force, in force
 * two blocks after the approving one; certificates checked against the
 * membership at their height (a removed replica's signature refused, the new
 * replica's needed); epoch hash in every header; replay from genesis; refusals. */
#define T_WITH_STORE
#include "testutil.h"
#include "fixtures.h"

#include "ledger/reconfig.h"

#define NSIG 8

typedef struct {
    ledger_signer *sg[NSIG]; /* seeds 100 … 107: 0 … 3 genesis, the others join later */
    ledger_membership *m;    /* genesis: replicas 0 … 3, f = 1 */
    ledger_signer *alice;
    char path[512];
    ledger_store *s;
    uint64_t nonce[NSIG];
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    t_keys(&f->m, f->sg, NSIG, &f->alice);
    t_open_kv(&f->s, f->path, sizeof f->path, "reconfig", f->m);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    t_close_kv(f->s, f->path);
    t_keys_free(f->m, f->sg, NSIG, f->alice);
    free(f);
    return 0;
}

/* The next block on the tip holding txs (taken), certified by the listed replicas. */
static ledger_block *next_block(fixture *f, ledger_tx **txs, size_t n, const int *signers,
                                size_t k) {
    ledger_tip t;
    assert_int_equal(ledger_store_tip(f->s, &t), LEDGER_OK);
    ledger_block *b = NULL;
    assert_int_equal(
        ledger_block_create_take(&b, t.height + 1, t.hash, t.height + 100, 0, 0, txs, n),
        LEDGER_OK);
    t_seal(f->s, b);
    t_certify_by(b, f->m, f->sg, signers, k);
    return b;
}

static const int q012[] = {0, 1, 2};

/* Commit one block holding tx (taken), certified by signers; return the tx's status. */
static int commit_by(fixture *f, ledger_tx *tx, const int *signers, size_t k) {
    uint8_t hash[32];
    memcpy(hash, ledger_tx_hash(tx), 32);
    ledger_tx *txs[1] = {tx};
    ledger_block *b = next_block(f, txs, 1, signers, k);
    assert_int_equal(ledger_store_append(f->s, b), LEDGER_OK);
    ledger_block_free(b);
    int status = 1;
    assert_int_equal(ledger_store_tx(f->s, hash, NULL, NULL, NULL, &status), LEDGER_OK);
    return status;
}

static ledger_tx *propose(fixture *f, int by, uint32_t kind, int who, const char *addr) {
    uint8_t *pl;
    size_t plen;
    assert_int_equal(
        ledger_member_propose_payload(kind, ledger_signer_public_key(f->sg[who]), addr, &pl, &plen),
        LEDGER_OK);
    ledger_tx *tx = NULL;
    ledger_signer *s = by < 0 ? f->alice : f->sg[by];
    assert_int_equal(ledger_tx_create_signed(&tx, s, LEDGER_OP_MEMBER_PROPOSE,
                                             ++f->nonce[by < 0 ? 0 : by] + 1000 * (by < 0), pl,
                                             plen),
                     LEDGER_OK);
    ledger_free(pl);
    return tx;
}

static ledger_tx *approve(fixture *f, int by, uint64_t id) {
    uint8_t pl[8];
    assert_int_equal(ledger_member_approve_payload(id, pl), LEDGER_OK);
    ledger_tx *tx = NULL;
    assert_int_equal(
        ledger_tx_create_signed(&tx, f->sg[by], LEDGER_OP_MEMBER_APPROVE, ++f->nonce[by], pl, 8),
        LEDGER_OK);
    return tx;
}

static void epoch_of(const ledger_membership *m, uint8_t out[32]) {
    uint8_t *enc;
    size_t len;
    assert_int_equal(ledger_membership_encode(m, &enc, &len), LEDGER_OK);
    assert_int_equal(ledger_sha256(out, enc, len), LEDGER_OK);
    ledger_free(enc);
}

/* Members in force at height h, as a bit mask of replica ids. */
static unsigned members_at(fixture *f, uint64_t h) {
    ledger_membership *m;
    assert_int_equal(ledger_store_membership_at(f->s, h, &m), LEDGER_OK);
    unsigned mask = 0;
    for (size_t i = 0; i < ledger_membership_size(m); i++)
        if (ledger_membership_active(m, i))
            mask |= 1u << i;
    assert_int_equal(ledger_membership_count(m), (size_t)__builtin_popcount(mask));
    ledger_membership_free(m);
    return mask;
}

/* 4 → 5 → 4: add replica 4 (3 of 4 approve), then remove replica 1 (4 of 5). */
static void test_add_then_remove(void **state) {
    fixture *f = *state;
    /* h1: replica 0 proposes adding replica 4; one approval of four is not enough */
    assert_int_equal(
        commit_by(f, propose(f, 0, LEDGER_MEMBER_ADD_REPLICA, 4, "127.0.0.1:7104"), q012, 3),
        LEDGER_OK);
    ledger_member_change c;
    assert_int_equal(ledger_store_member_change(f->s, 0, &c), LEDGER_OK);
    assert_int_equal(c.id, 1);
    assert_int_equal(c.status, LEDGER_MEMBER_PROPOSED);
    assert_int_equal(c.approvals, 1);
    assert_string_equal(c.addr, "127.0.0.1:7104");
    /* h2: a second proposal while one is open is refused, and so is a stranger's */
    assert_int_equal(
        commit_by(f, propose(f, 1, LEDGER_MEMBER_ADD_REPLICA, 5, "127.0.0.1:7105"), q012, 3),
        LEDGER_E_REJECTED);
    assert_int_equal(commit_by(f, approve(f, 1, 1), q012, 3), LEDGER_OK);         /* h3: 2 of 4 */
    assert_int_equal(commit_by(f, approve(f, 1, 1), q012, 3), LEDGER_E_REJECTED); /* h4 again */
    assert_int_equal(commit_by(f, approve(f, 2, 7), q012, 3), LEDGER_E_REJECTED); /* h5 wrong id */
    assert_int_equal(ledger_store_member_change(f->s, 0, &c), LEDGER_OK);
    assert_int_equal(c.approvals, 2);
    assert_int_equal(commit_by(f, approve(f, 2, 1), q012, 3), LEDGER_OK); /* h6: 3 of 4 */
    assert_int_equal(ledger_store_member_change(f->s, 0, &c), LEDGER_E_NOT_FOUND);
    assert_int_equal(ledger_store_member_change(f->s, 1, &c), LEDGER_OK);
    assert_int_equal(c.status, LEDGER_MEMBER_APPROVED);
    assert_int_equal(c.decided_at, 6);
    assert_int_equal(c.effective, 6 + LEDGER_MEMBER_DELAY);
    assert_int_equal(members_at(f, 7), 0xF);
    assert_int_equal(members_at(f, 8), 0x1F);
    /* h7: no new proposal while the approved change is not in force */
    assert_int_equal(commit_by(f, propose(f, 3, LEDGER_MEMBER_REMOVE_REPLICA, 1, NULL), q012, 3),
                     LEDGER_E_REJECTED);
    /* h8 needs 4 of the 5 signatures: replicas 0, 1, 2 alone are refused */
    assert_int_equal(ledger_membership_count(ledger_store_membership(f->s)), 5);
    assert_int_equal(ledger_membership_quorum(ledger_store_membership(f->s)), 4);
    ledger_tx *txs[1] = {t_put(f->alice, 1, "k", "v")};
    ledger_block *b = next_block(f, txs, 1, q012, 3);
    assert_int_equal(ledger_store_append(f->s, b), LEDGER_E_CERTIFICATE);
    ledger_block_free(b);
    uint8_t epoch[32];
    epoch_of(ledger_store_membership(f->s), epoch);
    const int q0124[] = {0, 1, 2, 4};
    txs[0] = t_put(f->alice, 1, "k", "v");
    b = next_block(f, txs, 1, q0124, 4);
    assert_memory_equal(ledger_block_epoch(b), epoch, 32);
    assert_int_equal(ledger_store_append(f->s, b), LEDGER_OK); /* the new replica's vote counts */
    ledger_block_free(b);

    /* h9 … h12: remove replica 1; 3 of 5 approvals are not enough, 4 are */
    assert_int_equal(commit_by(f, propose(f, 0, LEDGER_MEMBER_REMOVE_REPLICA, 1, NULL), q0124, 4),
                     LEDGER_OK);
    assert_int_equal(commit_by(f, approve(f, 2, 2), q0124, 4), LEDGER_OK);
    assert_int_equal(commit_by(f, approve(f, 4, 2), q0124, 4), LEDGER_OK);
    assert_int_equal(members_at(f, 13), 0x1F);
    assert_int_equal(commit_by(f, approve(f, 3, 2), q0124, 4), LEDGER_OK); /* h12 */
    assert_int_equal(members_at(f, 13), 0x1F);
    assert_int_equal(members_at(f, 14), 0x1D);
    const int q0234[] = {0, 2, 3, 4};
    assert_int_equal(commit_by(f, t_put(f->alice, 2, "k2", "v"), q0234, 4), LEDGER_OK); /* h13 */
    /* h14: replica 1 is out: a certificate with its signature is refused */
    txs[0] = t_put(f->alice, 3, "k3", "v");
    b = next_block(f, txs, 1, q012, 3);
    assert_int_equal(ledger_store_append(f->s, b), LEDGER_E_CERTIFICATE);
    ledger_block_free(b);
    assert_int_equal(commit_by(f, t_put(f->alice, 3, "k3", "v"), q0234 + 1, 3), LEDGER_OK);
    /* the removed replica is no governor any more; removing below 4 is refused */
    assert_int_equal(commit_by(f, propose(f, 1, LEDGER_MEMBER_REMOVE_REPLICA, 2, NULL), q0234, 3),
                     LEDGER_E_REJECTED);
    assert_int_equal(commit_by(f, propose(f, 0, LEDGER_MEMBER_REMOVE_REPLICA, 2, NULL), q0234, 3),
                     LEDGER_E_REJECTED);
    /* a removed key does not come back; a key in force cannot be added twice */
    assert_int_equal(
        commit_by(f, propose(f, 0, LEDGER_MEMBER_ADD_REPLICA, 1, "127.0.0.1:7101"), q0234, 3),
        LEDGER_E_REJECTED);
    assert_int_equal(
        commit_by(f, propose(f, 0, LEDGER_MEMBER_ADD_REPLICA, 4, "127.0.0.1:7104"), q0234, 3),
        LEDGER_E_REJECTED);
    assert_int_equal(
        commit_by(f, propose(f, -1, LEDGER_MEMBER_ADD_REPLICA, 5, "127.0.0.1:7105"), q0234, 3),
        LEDGER_E_REJECTED);
    uint64_t tip = ledger_store_height(f->s);
    uint8_t roots[32][32];
    for (uint64_t h = 1; h <= tip; h++) {
        ledger_block *x;
        assert_int_equal(ledger_store_block(f->s, h, &x), LEDGER_OK);
        memcpy(roots[h], ledger_block_state_root(x), 32);
        ledger_block_free(x);
    }

    /* replay from genesis: every certificate against the membership at its
     * height, every epoch, every state root */
    ledger_store_close(f->s);
    ledger_store_options o = LEDGER_STORE_OPTIONS_INIT;
    o.verify = LEDGER_VERIFY_FULL;
    uint64_t bad = 99;
    assert_int_equal(ledger_store_open(&f->s, f->path, f->m, ledger_kv_app(), &o, &bad), LEDGER_OK);
    assert_int_equal(bad, 0);
    assert_int_equal(ledger_verify_chain(f->s, LEDGER_VERIFY_FULL, &bad), LEDGER_OK);
    assert_int_equal(ledger_membership_count(ledger_store_membership(f->s)), 4);
    assert_false(ledger_membership_active(ledger_store_membership(f->s), 1));
    assert_true(ledger_membership_active(ledger_store_membership(f->s), 4));
    assert_string_equal(ledger_membership_address(ledger_store_membership(f->s), 4),
                        "127.0.0.1:7104");
    for (uint64_t h = 1; h <= tip; h++) {
        ledger_block *x;
        assert_int_equal(ledger_store_block(f->s, h, &x), LEDGER_OK);
        ledger_membership *m;
        assert_int_equal(ledger_store_membership_at(f->s, h, &m), LEDGER_OK);
        epoch_of(m, epoch);
        assert_memory_equal(ledger_block_epoch(x), epoch, 32);
        assert_memory_equal(ledger_block_state_root(x), roots[h], 32);
        assert_int_equal(
            ledger_cert_verify(ledger_block_cert(x), m, h, ledger_block_header_hash(x)), LEDGER_OK);
        ledger_membership_free(m);
        ledger_block_free(x);
    }
    /* a proof bundle of a block before the change exports (format 1); after
     * it, the bundle carries the changes (format 2) and verifies from the
     * genesis membership alone (tests/ledger/test_bundle_changes.c) */
    {
        ledger_block *x;
        size_t blen = 0;
        uint8_t *bun = NULL;
        assert_int_equal(ledger_store_block(f->s, 1, &x), LEDGER_OK);
        assert_int_equal(
            ledger_store_bundle(f->s, ledger_tx_hash(ledger_block_tx(x, 0)), &bun, &blen),
            LEDGER_OK);
        uint8_t *genc;
        size_t glen;
        assert_int_equal(ledger_membership_encode(f->m, &genc, &glen), LEDGER_OK);
        assert_int_equal(ledger_bundle_verify(bun, blen, genc, glen, NULL, NULL), LEDGER_OK);
        ledger_free(genc);
        ledger_free(bun);
        ledger_block_free(x);
        assert_int_equal(ledger_store_block(f->s, tip, &x), LEDGER_OK);
        assert_int_equal(
            ledger_store_bundle(f->s, ledger_tx_hash(ledger_block_tx(x, 0)), &bun, &blen),
            LEDGER_OK);
        assert_int_equal(bun[4], 2);
        assert_int_equal(ledger_membership_encode(f->m, &genc, &glen), LEDGER_OK);
        assert_int_equal(ledger_bundle_verify(bun, blen, genc, glen, NULL, NULL), LEDGER_OK);
        ledger_free(genc);
        ledger_free(bun);
        ledger_block_free(x);
    }
    /* a fresh store fed the same blocks (state transfer) reaches the same roots */
    char path2[512];
    t_tmpdir(path2, sizeof path2, "reconfig2");
    ledger_store *s2;
    assert_int_equal(ledger_store_open(&s2, path2, f->m, ledger_kv_app(), NULL, NULL), LEDGER_OK);
    for (uint64_t h = 1; h <= tip; h++) {
        ledger_block *x;
        assert_int_equal(ledger_store_block(f->s, h, &x), LEDGER_OK);
        assert_int_equal(ledger_store_append(s2, x), LEDGER_OK);
        ledger_block_free(x);
    }
    assert_true(
        ledger_membership_equal(ledger_store_membership(s2), ledger_store_membership(f->s)));
    /* it executed the deciding blocks itself: it proves the same changes */
    {
        uint8_t *c1, *c2;
        size_t l1, l2;
        assert_int_equal(ledger_store_changes(f->s, 0, tip, &c1, &l1), LEDGER_OK);
        assert_int_equal(ledger_store_changes(s2, 0, tip, &c2, &l2), LEDGER_OK);
        assert_true(l1 > 2);
        assert_int_equal(l1, l2);
        assert_memory_equal(c1, c2, l1);
        ledger_free(c1);
        ledger_free(c2);
    }
    ledger_store_close(s2);
    t_cleanup(path2);
}

/* A block naming the old membership after a change is refused (epoch). */
static void test_epoch_after_change(void **state) {
    fixture *f = *state;
    assert_int_equal(
        commit_by(f, propose(f, 0, LEDGER_MEMBER_ADD_REPLICA, 4, "127.0.0.1:7104"), q012, 3),
        LEDGER_OK);
    assert_int_equal(commit_by(f, approve(f, 1, 1), q012, 3), LEDGER_OK);
    assert_int_equal(commit_by(f, approve(f, 2, 1), q012, 3), LEDGER_OK);             /* h3 */
    assert_int_equal(commit_by(f, t_put(f->alice, 1, "a", "b"), q012, 3), LEDGER_OK); /* h4 */
    /* h5 in the new membership: a header with the genesis epoch is refused */
    ledger_tip t;
    assert_int_equal(ledger_store_tip(f->s, &t), LEDGER_OK);
    ledger_block *b = NULL;
    ledger_tx *txs[1] = {t_put(f->alice, 2, "c", "d")};
    assert_int_equal(ledger_block_create_take(&b, t.height + 1, t.hash, 999, 0, 0, txs, 1),
                     LEDGER_OK);
    uint8_t old[32], root[32];
    epoch_of(f->m, old);
    assert_int_equal(ledger_block_set_context(b, 1, old), LEDGER_OK);
    assert_int_equal(ledger_store_prepare(f->s, b, 0, root), LEDGER_E_EPOCH);
    ledger_block_free(b);
    assert_int_equal(ledger_store_height(f->s), 4);
}

/* A proposal that does not reach the quorum expires after LEDGER_MEMBER_TTL blocks. */
static void test_expiry(void **state) {
    fixture *f = *state;
    assert_int_equal(
        commit_by(f, propose(f, 0, LEDGER_MEMBER_ADD_REPLICA, 4, "127.0.0.1:7104"), q012, 3),
        LEDGER_OK);
    for (uint64_t i = 0; i < LEDGER_MEMBER_TTL; i++)
        assert_int_equal(commit_by(f, t_put(f->alice, i + 1, "x", "y"), q012, 3), LEDGER_OK);
    ledger_member_change c;
    assert_int_equal(ledger_store_member_change(f->s, 0, &c), LEDGER_OK);
    assert_int_equal(commit_by(f, approve(f, 1, 1), q012, 3), LEDGER_E_REJECTED);
    assert_int_equal(ledger_store_member_change(f->s, 0, &c), LEDGER_E_NOT_FOUND);
    assert_int_equal(ledger_store_member_change(f->s, 1, &c), LEDGER_OK);
    assert_int_equal(c.status, LEDGER_MEMBER_EXPIRED);
    assert_int_equal(members_at(f, ledger_store_height(f->s) + 5), 0xF);
}

/* Codecs: a changed membership round-trips; truncations and bad fields are refused. */
static void test_codec(void **state) {
    fixture *f = *state;
    uint8_t *pl;
    size_t plen;
    const uint8_t *k4 = ledger_signer_public_key(f->sg[4]);
    assert_int_equal(ledger_member_propose_payload(LEDGER_MEMBER_ADD_REPLICA, k4, "", &pl, &plen),
                     LEDGER_E_INVALID);
    assert_int_equal(
        ledger_member_propose_payload(LEDGER_MEMBER_ADD_REPLICA, k4, "a b", &pl, &plen),
        LEDGER_E_INVALID);
    assert_int_equal(
        ledger_member_propose_payload(LEDGER_MEMBER_REMOVE_REPLICA, k4, "x", &pl, &plen),
        LEDGER_E_INVALID);
    assert_int_equal(ledger_member_propose_payload(9, k4, NULL, &pl, &plen), LEDGER_E_INVALID);
    uint8_t eight[8];
    assert_int_equal(ledger_member_approve_payload(0, eight), LEDGER_E_INVALID);
    /* a membership changed on the chain (version 2) */
    assert_int_equal(
        commit_by(f, propose(f, 0, LEDGER_MEMBER_ADD_REPLICA, 4, "127.0.0.1:7104"), q012, 3),
        LEDGER_OK);
    assert_int_equal(commit_by(f, approve(f, 1, 1), q012, 3), LEDGER_OK);
    assert_int_equal(commit_by(f, approve(f, 2, 1), q012, 3), LEDGER_OK);
    ledger_membership *m;
    assert_int_equal(ledger_store_membership_at(f->s, 5, &m), LEDGER_OK);
    uint8_t *enc;
    size_t len;
    assert_int_equal(ledger_membership_encode(m, &enc, &len), LEDGER_OK);
    assert_int_equal(enc[4], 2);
    ledger_membership *back;
    assert_int_equal(ledger_membership_decode(&back, enc, len), LEDGER_OK);
    assert_true(ledger_membership_equal(m, back));
    assert_int_equal(ledger_membership_f(back), 1);
    ledger_membership_free(back);
    for (size_t cut = 0; cut < len; cut++) {
        assert_int_not_equal(ledger_membership_decode(&back, enc, cut), LEDGER_OK);
        assert_null(back);
    }
    enc[45 + 32] = 2; /* active flag must be 0 or 1 */
    assert_int_equal(ledger_membership_decode(&back, enc, len), LEDGER_E_DECODE);
    enc[45 + 32] = 0; /* four members left: still valid */
    assert_int_equal(ledger_membership_decode(&back, enc, len), LEDGER_OK);
    ledger_membership_free(back);
    enc[45 + 35 + 32] = 0; /* three members cannot carry f = 1 */
    assert_int_equal(ledger_membership_decode(&back, enc, len), LEDGER_E_DECODE);
    enc[45 + 35 + 32] = 1;
    enc[45 + 33] = 0; /* an empty address */
    assert_int_equal(ledger_membership_decode(&back, enc, len), LEDGER_E_DECODE);
    ledger_free(enc);
    ledger_membership_free(m);
}

/* Commit a change proposed by `by` and approved by the listed replicas; the
 * block certificates are signed by `cert` (k signers). Returns the change's
 * effective height. */
static uint64_t change_by(fixture *f, uint32_t kind, int who, const char *addr, int by,
                          const int *approvers, size_t na, const int *cert, size_t k) {
    assert_int_equal(commit_by(f, propose(f, by, kind, who, addr), cert, k), LEDGER_OK);
    ledger_member_change c;
    assert_int_equal(ledger_store_member_change(f->s, 0, &c), LEDGER_OK);
    for (size_t i = 0; i < na; i++)
        assert_int_equal(commit_by(f, approve(f, approvers[i], c.id), cert, k), LEDGER_OK);
    assert_int_equal(ledger_store_member_change(f->s, c.id, &c), LEDGER_OK);
    assert_int_equal(c.status, LEDGER_MEMBER_APPROVED);
    return c.effective;
}

/* Fill with puts certified by `cert` until the chain's next height is h. */
static uint64_t put_nonce = 500;
static void fill_until(fixture *f, uint64_t h, const int *cert, size_t k) {
    while (ledger_store_height(f->s) + 1 < h)
        assert_int_equal(commit_by(f, t_put(f->alice, ++put_nonce, "f", "x"), cert, k), LEDGER_OK);
}

/* Add, remove, add again (another key: a removed key never comes back): the
 * slots keep their ids, the third replica takes id 5. */
static void test_add_remove_add(void **state) {
    fixture *f = *state;
    const int q0124[] = {0, 1, 2, 4};
    const int a12[] = {1, 2}, a123[] = {1, 2, 3};
    uint64_t e = change_by(f, LEDGER_MEMBER_ADD_REPLICA, 4, "127.0.0.1:7104", 0, a12, 2, q012, 3);
    fill_until(f, e, q012, 3);
    e = change_by(f, LEDGER_MEMBER_REMOVE_REPLICA, 4, NULL, 0, a123, 3, q0124, 4);
    fill_until(f, e, q0124, 4);
    e = change_by(f, LEDGER_MEMBER_ADD_REPLICA, 5, "127.0.0.1:7105", 0, a12, 2, q012, 3);
    fill_until(f, e, q012, 3);
    const ledger_membership *m = ledger_store_membership(f->s);
    assert_int_equal(ledger_membership_size(m), 6);
    assert_int_equal(ledger_membership_count(m), 5);
    assert_false(ledger_membership_active(m, 4));
    assert_true(ledger_membership_active(m, 5));
    /* replica 4's signature no longer counts; replica 5's does */
    const int q0125[] = {0, 1, 2, 5}, q0124b[] = {0, 1, 2, 4};
    ledger_tx *txs[1] = {t_put(f->alice, ++put_nonce, "g", "y")};
    ledger_block *b = next_block(f, txs, 1, q0124b, 4);
    assert_int_equal(ledger_store_append(f->s, b), LEDGER_E_CERTIFICATE);
    ledger_block_free(b);
    assert_int_equal(commit_by(f, t_put(f->alice, put_nonce, "g", "y"), q0125, 4), LEDGER_OK);
    ledger_store_close(f->s);
    ledger_store_options o = LEDGER_STORE_OPTIONS_INIT;
    o.verify = LEDGER_VERIFY_FULL;
    uint64_t bad = 99;
    assert_int_equal(ledger_store_open(&f->s, f->path, f->m, ledger_kv_app(), &o, &bad), LEDGER_OK);
    assert_int_equal(bad, 0);
}

/* 7 → 4: the quorums shrink with the membership (f 2 → 1; quorum 5, 4, 4, 3). */
static void test_seven_to_four(void **state) {
    fixture *f = *state;
    ledger_store_close(f->s);
    t_cleanup(f->path);
    ledger_membership_free(f->m);
    for (int i = 0; i < NSIG; i++)
        ledger_signer_free(f->sg[i]);
    f->m = t_membership(7, f->sg);
    f->sg[7] = t_signer(107);
    t_tmpdir(f->path, sizeof f->path, "reconfig7");
    assert_int_equal(ledger_store_open(&f->s, f->path, f->m, ledger_kv_app(), NULL, NULL),
                     LEDGER_OK);
    assert_int_equal(ledger_membership_quorum(ledger_store_membership(f->s)), 5);
    const int q7[] = {0, 1, 2, 3, 4}, q6[] = {0, 1, 2, 3, 4}, q5[] = {0, 1, 2, 3}, q4[] = {0, 1, 2};
    /* remove 6 (5 of 7 approve: 3·5 > 14), then 5 (5 of 6), then 4 (4 of 5) */
    const int a4[] = {1, 2, 3, 4}, a3[] = {1, 2, 3};
    uint64_t e = change_by(f, LEDGER_MEMBER_REMOVE_REPLICA, 6, NULL, 0, a4, 4, q7, 5);
    fill_until(f, e, q7, 5);
    assert_int_equal(ledger_membership_quorum(ledger_store_membership(f->s)), 4); /* n 6, f 1 */
    e = change_by(f, LEDGER_MEMBER_REMOVE_REPLICA, 5, NULL, 0, a4, 4, q6, 5);
    fill_until(f, e, q6, 5);
    assert_int_equal(ledger_membership_quorum(ledger_store_membership(f->s)), 4); /* n 5, f 1 */
    e = change_by(f, LEDGER_MEMBER_REMOVE_REPLICA, 4, NULL, 0, a3, 3, q5, 4);
    fill_until(f, e, q5, 4);
    const ledger_membership *m = ledger_store_membership(f->s);
    assert_int_equal(ledger_membership_count(m), 4);
    assert_int_equal(ledger_membership_f(m), 1);
    assert_int_equal(ledger_membership_quorum(m), 3);
    /* three signatures now commit a block; the removed replicas' do not count */
    assert_int_equal(commit_by(f, t_put(f->alice, ++put_nonce, "h", "z"), q4, 3), LEDGER_OK);
    const int with_removed[] = {0, 5, 6};
    ledger_tx *txs[1] = {t_put(f->alice, ++put_nonce, "h", "z")};
    ledger_block *b = next_block(f, txs, 1, with_removed, 3);
    assert_int_equal(ledger_store_append(f->s, b), LEDGER_E_CERTIFICATE);
    ledger_block_free(b);
    ledger_store_close(f->s);
    ledger_store_options o = LEDGER_STORE_OPTIONS_INIT;
    o.verify = LEDGER_VERIFY_FULL;
    uint64_t bad = 99;
    assert_int_equal(ledger_store_open(&f->s, f->path, f->m, ledger_kv_app(), &o, &bad), LEDGER_OK);
    assert_int_equal(bad, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_add_then_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_epoch_after_change, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_codec, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_remove_add, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seven_to_four, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
