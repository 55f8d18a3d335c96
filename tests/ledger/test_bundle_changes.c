/* Proof bundles across membership changes (ledger/bundle.h, format version 2,
 * docs/formats/ledger-bundle.md): a chain goes 4 → 5 replicas (replica 4
 * added) → 4 (replica 1 removed); the bundle of a transaction committed after
 * both changes verifies from the genesis membership alone; every flipped byte
 * and every truncation is refused; another chain's genesis is refused; a
 * forged change (certified by a removed replica, or by too few) is refused; the
 * golden vector vectors/bundle_v2.hex is exported byte for byte; a replica's
 * answer to a client's membership catch-up (QUERY kind 13) verifies, and one
 * that leaves out a change or is tampered with does not. Set
 * T_WRITE_VECTORS=1 to rewrite it (only with a new format version). */
#define T_WITH_STORE
#include "testutil.h"
#include "fixtures.h"

#include "ledger/reconfig.h"

#ifndef T_VECTORS
#error "T_VECTORS (the vectors directory) must be defined"
#endif

#define NSIG 6

typedef struct {
    ledger_signer *sg[NSIG]; /* seeds 100 … 105: 0 … 3 genesis, 4 joins */
    ledger_membership *m;    /* genesis: replicas 0 … 3, f = 1 */
    ledger_signer *alice;
    char path[512];
    ledger_store *s;
    uint64_t nonce[NSIG], put_nonce;
    uint8_t *genesis;
    size_t genesis_len;
    uint64_t e1, e2;     /* heights the two changes take force */
    uint8_t before[32];  /* a transaction committed before any change */
    uint8_t between[32]; /* one committed between the changes */
    uint8_t target[32];  /* one committed after both */
} fixture;

static const int q012[] = {0, 1, 2}, q0234[] = {0, 2, 3, 4}, q023[] = {0, 2, 3};

/* The next block on the tip holding txs (taken), certified by the listed replicas. */
static ledger_block *next_block(fixture *f, ledger_tx **txs, size_t n, const int *signers,
                                size_t k) {
    ledger_tip t;
    assert_int_equal(ledger_store_tip(f->s, &t), LEDGER_OK);
    ledger_block *b = NULL;
    assert_int_equal(ledger_block_create_take(&b, t.height + 1, t.hash,
                                              1700000000000ull + 1000u * (t.height + 1), 0, 0, txs,
                                              n),
                     LEDGER_OK);
    t_seal(f->s, b);
    t_certify_by(b, f->m, f->sg, signers, k);
    return b;
}

static void commit_by(fixture *f, ledger_tx *tx, const int *signers, size_t k) {
    uint8_t hash[32];
    memcpy(hash, ledger_tx_hash(tx), 32);
    ledger_tx *txs[1] = {tx};
    ledger_block *b = next_block(f, txs, 1, signers, k);
    assert_int_equal(ledger_store_append(f->s, b), LEDGER_OK);
    ledger_block_free(b);
    int status = 1;
    assert_int_equal(ledger_store_tx(f->s, hash, NULL, NULL, NULL, &status), LEDGER_OK);
    assert_int_equal(status, LEDGER_OK);
}

/* A change proposed by replica 0 and approved by the listed replicas. */
static uint64_t change_by(fixture *f, uint32_t kind, int who, const char *addr,
                          const int *approvers, size_t na, const int *cert, size_t k) {
    uint8_t *pl;
    size_t plen;
    assert_int_equal(
        ledger_member_propose_payload(kind, ledger_signer_public_key(f->sg[who]), addr, &pl, &plen),
        LEDGER_OK);
    ledger_tx *tx = NULL;
    assert_int_equal(
        ledger_tx_create_signed(&tx, f->sg[0], LEDGER_OP_MEMBER_PROPOSE, ++f->nonce[0], pl, plen),
        LEDGER_OK);
    ledger_free(pl);
    commit_by(f, tx, cert, k);
    ledger_member_change c;
    assert_int_equal(ledger_store_member_change(f->s, 0, &c), LEDGER_OK);
    for (size_t i = 0; i < na; i++) {
        uint8_t ap[8];
        assert_int_equal(ledger_member_approve_payload(c.id, ap), LEDGER_OK);
        int by = approvers[i];
        assert_int_equal(ledger_tx_create_signed(&tx, f->sg[by], LEDGER_OP_MEMBER_APPROVE,
                                                 ++f->nonce[by], ap, 8),
                         LEDGER_OK);
        commit_by(f, tx, cert, k);
    }
    assert_int_equal(ledger_store_member_change(f->s, c.id, &c), LEDGER_OK);
    assert_int_equal(c.status, LEDGER_MEMBER_APPROVED);
    return c.effective;
}

/* A put certified by cert; its hash in out (may be NULL). */
static void put_by(fixture *f, const char *key, const int *cert, size_t k, uint8_t out[32]) {
    ledger_tx *tx = t_put(f->alice, ++f->put_nonce, key, "value");
    if (out)
        memcpy(out, ledger_tx_hash(tx), 32);
    commit_by(f, tx, cert, k);
}

static void fill_until(fixture *f, uint64_t h, const int *cert, size_t k) {
    while (ledger_store_height(f->s) + 1 < h)
        put_by(f, "fill", cert, k, NULL);
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    t_keys(&f->m, f->sg, NSIG, &f->alice);
    t_open_kv(&f->s, f->path, sizeof f->path, "bundle2", f->m);
    assert_int_equal(ledger_membership_encode(f->m, &f->genesis, &f->genesis_len), LEDGER_OK);
    const int a12[] = {1, 2}, a234[] = {2, 3, 4};
    put_by(f, "before", q012, 3, f->before);
    /* 4 → 5: replica 4 added, approved by 0 (proposer), 1, 2 */
    f->e1 = change_by(f, LEDGER_MEMBER_ADD_REPLICA, 4, "127.0.0.1:7104", a12, 2, q012, 3);
    fill_until(f, f->e1, q012, 3);
    put_by(f, "between", q0234, 4, f->between);
    /* 5 → 4: replica 1 removed, approved by 0, 2, 3, 4 (4 of 5) */
    f->e2 = change_by(f, LEDGER_MEMBER_REMOVE_REPLICA, 1, NULL, a234, 3, q0234, 4);
    fill_until(f, f->e2, q0234, 4);
    put_by(f, "target", q023, 3, f->target);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    t_close_kv(f->s, f->path);
    t_keys_free(f->m, f->sg, NSIG, f->alice);
    ledger_free(f->genesis);
    free(f);
    return 0;
}

static void export(fixture *f, const uint8_t h[32], uint8_t **bu, size_t *bl) {
    assert_int_equal(ledger_store_bundle(f->s, h, bu, bl), LEDGER_OK);
}

/* The bundle spanning two changes verifies from the genesis membership alone;
 * bundles of earlier transactions carry only the changes before them. */
static void test_two_changes(void **state) {
    fixture *f = *state;
    uint8_t *bu;
    size_t bl;
    export(f, f->target, &bu, &bl);
    assert_int_equal(bu[4], 2);                  /* format version 2 */
    assert_int_equal((bu[38] << 8) | bu[39], 2); /* two changes */
    ledger_bundle_info info;
    ledger_tx *tx = NULL;
    assert_int_equal(ledger_bundle_verify(bu, bl, f->genesis, f->genesis_len, &info, &tx),
                     LEDGER_OK);
    assert_int_equal(info.height, ledger_store_height(f->s));
    assert_true(info.height >= f->e2);
    assert_memory_equal(info.tx_hash, f->target, 32);
    assert_non_null(tx);
    ledger_tx_free(tx);
    ledger_free(bu);
    /* one change */
    export(f, f->between, &bu, &bl);
    assert_int_equal(bu[4], 2);
    assert_int_equal((bu[38] << 8) | bu[39], 1);
    assert_int_equal(ledger_bundle_verify(bu, bl, f->genesis, f->genesis_len, &info, NULL),
                     LEDGER_OK);
    ledger_free(bu);
    /* none: format version 1, as before */
    export(f, f->before, &bu, &bl);
    assert_int_equal(bu[4], 1);
    assert_int_equal(ledger_bundle_verify(bu, bl, f->genesis, f->genesis_len, &info, NULL),
                     LEDGER_OK);
    ledger_free(bu);
    /* the change list alone: from genesis to the membership in force */
    uint8_t *cl;
    size_t cll;
    assert_int_equal(ledger_store_changes(f->s, 0, ledger_store_height(f->s), &cl, &cll),
                     LEDGER_OK);
    ledger_membership *end = NULL;
    uint64_t eff = 0;
    assert_int_equal(ledger_changes_verify(f->m, cl, cll, &end, &eff), LEDGER_OK);
    assert_int_equal(eff, f->e2);
    assert_true(ledger_membership_equal(end, ledger_store_membership(f->s)));
    ledger_membership_free(end);
    /* from the first change on, starting from the membership after it */
    ledger_membership *m1;
    assert_int_equal(ledger_store_membership_at(f->s, f->e1, &m1), LEDGER_OK);
    uint8_t *cl2;
    size_t cll2;
    assert_int_equal(ledger_store_changes(f->s, f->e1, f->e2, &cl2, &cll2), LEDGER_OK);
    assert_int_equal((cl2[0] << 8) | cl2[1], 1);
    assert_int_equal(ledger_changes_verify(m1, cl2, cll2, &end, &eff), LEDGER_OK);
    assert_int_equal(eff, f->e2);
    ledger_membership_free(end);
    /* the same list from the genesis membership: a change is missing */
    assert_int_equal(ledger_changes_verify(f->m, cl2, cll2, &end, &eff), LEDGER_E_EPOCH);
    assert_null(end);
    ledger_membership_free(m1);
    free(cl2);
    /* no change in a range: m = 0, the membership handed back unchanged */
    assert_int_equal(ledger_store_changes(f->s, f->e2, f->e2 + 100, &cl2, &cll2), LEDGER_OK);
    assert_int_equal(cll2, 2);
    assert_int_equal(ledger_changes_verify(f->m, cl2, cll2, &end, &eff), LEDGER_OK);
    assert_int_equal(eff, 0);
    assert_true(ledger_membership_equal(end, f->m));
    ledger_membership_free(end);
    free(cl2);
    /* a bundle that omits the last change: the block names another membership */
    uint8_t *half;
    size_t hl;
    assert_int_equal(ledger_store_changes(f->s, 0, f->e1, &cl2, &cll2), LEDGER_OK);
    ledger_proof *p;
    assert_int_equal(ledger_store_proof(f->s, f->target, &p), LEDGER_OK);
    assert_int_equal(ledger_store_tx(f->s, f->target, &tx, NULL, NULL, NULL), LEDGER_OK);
    assert_int_equal(ledger_bundle_create_changes(f->m, cl2, cll2, tx, p, &half, &hl), LEDGER_OK);
    assert_int_equal(ledger_bundle_verify(half, hl, f->genesis, f->genesis_len, NULL, NULL),
                     LEDGER_E_EPOCH);
    ledger_free(half);
    /* nor without any (the old create refuses a block of another membership) */
    assert_int_equal(ledger_bundle_create(f->m, tx, p, &half, &hl), LEDGER_E_MEMBERSHIP);
    /* a bundle carrying a change above its block is refused */
    uint8_t *early;
    size_t el;
    ledger_proof *pb;
    ledger_tx *txb;
    assert_int_equal(ledger_store_proof(f->s, f->between, &pb), LEDGER_OK);
    assert_int_equal(ledger_store_tx(f->s, f->between, &txb, NULL, NULL, NULL), LEDGER_OK);
    assert_int_equal(ledger_bundle_create_changes(f->m, cl, cll, txb, pb, &early, &el), LEDGER_OK);
    assert_int_not_equal(ledger_bundle_verify(early, el, f->genesis, f->genesis_len, NULL, NULL),
                         LEDGER_OK);
    ledger_free(early);
    ledger_proof_free(pb);
    ledger_tx_free(txb);
    ledger_proof_free(p);
    ledger_tx_free(tx);
    free(cl2);
    free(cl);
}

/* Any flipped bit (0 and 7 of every byte), any truncation, a trailing byte: refused. */
static void test_tamper(void **state) {
    fixture *f = *state;
    uint8_t *bu;
    size_t bl;
    export(f, f->target, &bu, &bl);
    t_bundle_tamper_refused(bu, bl, f->genesis, f->genesis_len, NULL);
    /* version 2 with no change is not canonical (version 1 is its form) */
    uint8_t *b1;
    size_t b1l;
    export(f, f->before, &b1, &b1l);
    assert_int_equal(ledger_bundle_verify(b1, b1l, f->genesis, f->genesis_len, NULL, NULL),
                     LEDGER_OK);
    b1[4] = 2;
    assert_int_equal(ledger_bundle_verify(b1, b1l, f->genesis, f->genesis_len, NULL, NULL),
                     LEDGER_E_DECODE);
    ledger_free(b1);
    assert_int_equal(ledger_bundle_verify(bu, bl, f->genesis, f->genesis_len, NULL, NULL),
                     LEDGER_OK);
    /* the change list too */
    uint8_t *cl;
    size_t cll;
    assert_int_equal(ledger_store_changes(f->s, 0, f->e2, &cl, &cll), LEDGER_OK);
    ledger_membership *end = NULL;
    for (size_t i = 0; i < cll; i++) {
        cl[i] ^= 0x80;
        if (ledger_changes_verify(f->m, cl, cll, &end, NULL) == LEDGER_OK)
            fail_msg("change list byte %zu flipped still verifies", i);
        cl[i] ^= 0x80;
    }
    for (size_t n = 0; n < cll; n++)
        assert_int_not_equal(ledger_changes_verify(f->m, cl, n, &end, NULL), LEDGER_OK);
    free(cl);
    ledger_free(bu);
}

/* Another chain's genesis (another chain id; other keys) is refused. */
static void test_other_genesis(void **state) {
    fixture *f = *state;
    uint8_t *bu;
    size_t bl;
    export(f, f->target, &bu, &bl);
    uint8_t *g2 = malloc(f->genesis_len);
    assert_non_null(g2);
    memcpy(g2, f->genesis, f->genesis_len);
    g2[5] ^= 1; /* chain id */
    assert_int_equal(ledger_bundle_verify(bu, bl, g2, f->genesis_len, NULL, NULL),
                     LEDGER_E_MEMBERSHIP);
    memcpy(g2, f->genesis, f->genesis_len);
    g2[45] ^= 1; /* replica 0's key */
    assert_int_equal(ledger_bundle_verify(bu, bl, g2, f->genesis_len, NULL, NULL),
                     LEDGER_E_MEMBERSHIP);
    free(g2);
    /* the membership after the first change is not the genesis either */
    ledger_membership *m1;
    uint8_t *e1;
    size_t e1l;
    assert_int_equal(ledger_store_membership_at(f->s, f->e1, &m1), LEDGER_OK);
    assert_int_equal(ledger_membership_encode(m1, &e1, &e1l), LEDGER_OK);
    assert_int_equal(ledger_bundle_verify(bu, bl, e1, e1l, NULL, NULL), LEDGER_E_MEMBERSHIP);
    ledger_free(e1);
    ledger_membership_free(m1);
    ledger_free(bu);
}

/* A forged change appended after the real ones: the block that "decides" it
 * is well formed (its state root covers writes holding a new membership of
 * the attacker's keys) and names the membership in force; only its
 * certificate differs. By replicas 0, 2, 3 (a quorum in force) it would be
 * accepted — the forgery is otherwise perfect; by 0, 1, 2 (1 was removed)
 * or by 0, 2 (too few) it is refused. */
static void forged_list(fixture *f, const int *signers, size_t k, uint8_t **out, size_t *len) {
    uint8_t *cl;
    size_t cll;
    uint64_t tip = ledger_store_height(f->s);
    assert_int_equal(ledger_store_changes(f->s, 0, tip, &cl, &cll), LEDGER_OK);
    /* the attacker's membership: replica 0 and three keys of its own */
    ledger_signer *evil[3];
    uint8_t keys[32 * 4], chain[32];
    memset(chain, 0xC4, sizeof chain);
    memcpy(keys, ledger_signer_public_key(f->sg[0]), 32);
    for (int i = 0; i < 3; i++) {
        evil[i] = t_signer((uint8_t)(200 + i));
        memcpy(keys + 32 * (i + 1), ledger_signer_public_key(evil[i]), 32);
        ledger_signer_free(evil[i]);
    }
    ledger_membership *em;
    assert_int_equal(ledger_membership_create(&em, chain, keys, 4, 1), LEDGER_OK);
    uint8_t *ee;
    size_t el;
    assert_int_equal(ledger_membership_encode(em, &ee, &el), LEDGER_OK);
    ledger_membership_free(em);
    uint64_t h = tip + 1;
    /* writes: one put, 0xFF "LDG/mship/" ‖ (h + 2) = the attacker's membership */
    static const char mk[] = "\xFF"
                             "LDG/mship/";
    size_t kl = sizeof mk - 1 + 8, wl = 6 + kl + 4 + el;
    uint8_t *w = malloc(wl);
    assert_non_null(w);
    w[0] = 0;
    w[1] = 1;
    w[2] = w[3] = w[4] = 0;
    w[5] = (uint8_t)kl;
    memcpy(w + 6, mk, sizeof mk - 1);
    for (int i = 0; i < 8; i++)
        w[6 + sizeof mk - 1 + i] = (uint8_t)((h + 2) >> (56 - 8 * i));
    uint8_t *v = w + 6 + kl;
    v[0] = (uint8_t)(el >> 24);
    v[1] = (uint8_t)(el >> 16);
    v[2] = (uint8_t)(el >> 8);
    v[3] = (uint8_t)el;
    memcpy(v + 4, ee, el);
    ledger_free(ee);
    uint8_t prev[32] = {0}, res[32] = {0}, wh[32], root[32];
    uint8_t *wt = malloc(16 + wl);
    assert_non_null(wt);
    memcpy(wt, "FSLEDGER/WRITES1", 16);
    memcpy(wt + 16, w, wl);
    assert_int_equal(ledger_sha256(wh, wt, 16 + wl), LEDGER_OK);
    free(wt);
    uint8_t st[16 + 32 + 8 + 32 + 32];
    memcpy(st, "FSLEDGER/STATE/1", 16);
    memcpy(st + 16, prev, 32);
    for (int i = 0; i < 8; i++)
        st[48 + i] = (uint8_t)(h >> (56 - 8 * i));
    memcpy(st + 56, wh, 32);
    memcpy(st + 88, res, 32);
    assert_int_equal(ledger_sha256(root, st, sizeof st), LEDGER_OK);
    /* the block: height h, naming the membership in force */
    ledger_tip t;
    assert_int_equal(ledger_store_tip(f->s, &t), LEDGER_OK);
    ledger_block *b;
    assert_int_equal(ledger_block_create(&b, h, t.hash, t.timestamp + 1, 0, 0, NULL, 0), LEDGER_OK);
    uint8_t epoch[32];
    uint32_t ver;
    assert_int_equal(ledger_store_block_context(f->s, &ver, epoch), LEDGER_OK);
    assert_int_equal(ledger_block_set_context(b, ver, epoch), LEDGER_OK);
    assert_int_equal(ledger_block_set_state_root(b, root), LEDGER_OK);
    uint8_t hdr[LEDGER_HEADER_BYTES], stmt[LEDGER_COMMIT_STATEMENT_BYTES], sig[64];
    size_t hl;
    assert_int_equal(ledger_block_header(b, hdr, &hl), LEDGER_OK);
    assert_int_equal(hl, LEDGER_HEADER_V3_BYTES);
    ledger_cert *c;
    assert_int_equal(ledger_cert_create(&c, 0), LEDGER_OK);
    assert_int_equal(ledger_commit_statement(stmt, chain, h, 0, ledger_block_header_hash(b)),
                     LEDGER_OK);
    for (size_t i = 0; i < k; i++) {
        assert_int_equal(ledger_signer_sign(f->sg[signers[i]], stmt, sizeof stmt, sig), LEDGER_OK);
        assert_int_equal(ledger_cert_add(c, (uint16_t)signers[i], sig), LEDGER_OK);
    }
    ledger_block_free(b);
    uint8_t *ce;
    size_t cel;
    assert_int_equal(ledger_cert_encode(c, &ce, &cel), LEDGER_OK);
    ledger_cert_free(c);
    /* list = the real changes, then this one */
    size_t n = cll + hl + 4 + cel + 32 + 32 + 4 + wl;
    uint8_t *o = malloc(n), *p = o + cll;
    assert_non_null(o);
    memcpy(o, cl, cll);
    o[1] = (uint8_t)(o[1] + 1);
    memcpy(p, hdr, hl);
    p += hl;
    p[0] = p[1] = 0;
    p[2] = (uint8_t)(cel >> 8);
    p[3] = (uint8_t)cel;
    memcpy(p + 4, ce, cel);
    p += 4 + cel;
    memcpy(p, prev, 32);
    memcpy(p + 32, res, 32);
    p += 64;
    p[0] = p[1] = 0;
    p[2] = (uint8_t)(wl >> 8);
    p[3] = (uint8_t)wl;
    memcpy(p + 4, w, wl);
    ledger_free(ce);
    free(w);
    free(cl);
    *out = o;
    *len = n;
}

static void test_forged_change(void **state) {
    fixture *f = *state;
    static const int q02[] = {0, 2};
    uint8_t *fl;
    size_t fll;
    ledger_membership *end = NULL;
    uint64_t eff;
    /* the control: signed by a quorum in force, the forgery would pass */
    forged_list(f, q023, 3, &fl, &fll);
    assert_int_equal(ledger_changes_verify(f->m, fl, fll, &end, &eff), LEDGER_OK);
    assert_int_equal(eff, ledger_store_height(f->s) + 3);
    assert_false(ledger_membership_equal(end, ledger_store_membership(f->s)));
    ledger_membership_free(end);
    free(fl);
    /* signed with a removed replica's key */
    forged_list(f, q012, 3, &fl, &fll);
    assert_int_equal(ledger_changes_verify(f->m, fl, fll, &end, &eff), LEDGER_E_CERTIFICATE);
    assert_null(end);
    /* in a bundle too */
    ledger_proof *p;
    ledger_tx *tx;
    uint8_t *bu;
    size_t bl;
    assert_int_equal(ledger_store_proof(f->s, f->target, &p), LEDGER_OK);
    assert_int_equal(ledger_store_tx(f->s, f->target, &tx, NULL, NULL, NULL), LEDGER_OK);
    assert_int_equal(ledger_bundle_create_changes(f->m, fl, fll, tx, p, &bu, &bl), LEDGER_OK);
    assert_int_equal(ledger_bundle_verify(bu, bl, f->genesis, f->genesis_len, NULL, NULL),
                     LEDGER_E_CERTIFICATE);
    ledger_free(bu);
    free(fl);
    /* signed by too few */
    forged_list(f, q02, 2, &fl, &fll);
    assert_int_equal(ledger_changes_verify(f->m, fl, fll, &end, &eff), LEDGER_E_CERTIFICATE);
    assert_int_equal(ledger_bundle_create_changes(f->m, fl, fll, tx, p, &bu, &bl), LEDGER_OK);
    assert_int_equal(ledger_bundle_verify(bu, bl, f->genesis, f->genesis_len, NULL, NULL),
                     LEDGER_E_CERTIFICATE);
    ledger_free(bu);
    free(fl);
    ledger_proof_free(p);
    ledger_tx_free(tx);
}

/* The golden bundle: this fixture's chain exports exactly these bytes; they verify. */
static void test_golden(void **state) {
    fixture *f = *state;
    uint8_t *bu;
    size_t bl;
    export(f, f->target, &bu, &bl);
    /* bundle_v2.hex was written when headers were format 2: it still verifies */
    size_t ol;
    uint8_t *old = t_read_hex_file(T_VECTORS "/bundle_v2.hex", &ol);
    assert_int_equal(ledger_bundle_verify(old, ol, f->genesis, f->genesis_len, NULL, NULL),
                     LEDGER_OK);
    free(old);
    const char *path = T_VECTORS "/bundle_v2_h3.hex";
    uint8_t *golden = t_golden(path, bu, bl);
    size_t gl = bl;
    ledger_bundle_info info;
    assert_int_equal(ledger_bundle_verify(golden, gl, f->genesis, f->genesis_len, &info, NULL),
                     LEDGER_OK);
    assert_memory_equal(info.tx_hash, f->target, 32);
    free(golden);
    ledger_free(bu);
}

/* The client's membership catch-up (QUERY kind 13): libledger internals
 * (src/internal.h), reached through the static library the tests link. */
int ldg_changes_answer(ledger_store *s, uint64_t after, uint64_t upto, uint8_t **out, size_t *len);
int ldg_changes_answer_verify(const ledger_membership *from, uint64_t from_eff, const uint8_t *buf,
                              size_t len, ledger_membership **out, uint64_t *eff, uint64_t *proven,
                              size_t *list_len);

/* list ‖ u32 n ‖ header of block h ‖ u32 n ‖ its certificate */
static uint8_t *answer_of(fixture *f, const uint8_t *list, size_t ll, uint64_t h, size_t *len) {
    ledger_block *b;
    assert_int_equal(ledger_store_block(f->s, h, &b), LEDGER_OK);
    uint8_t hdr[LEDGER_HEADER_BYTES], *ce;
    size_t hl, cl;
    assert_int_equal(ledger_block_header(b, hdr, &hl), LEDGER_OK);
    assert_int_equal(ledger_cert_encode(ledger_block_cert(b), &ce, &cl), LEDGER_OK);
    ledger_block_free(b);
    uint8_t *o = malloc(ll + 8 + hl + cl);
    assert_non_null(o);
    memcpy(o, list, ll);
    uint8_t *p = o + ll;
    p[0] = p[1] = 0;
    p[2] = (uint8_t)(hl >> 8);
    p[3] = (uint8_t)hl;
    memcpy(p + 4, hdr, hl);
    p += 4 + hl;
    p[0] = p[1] = 0;
    p[2] = (uint8_t)(cl >> 8);
    p[3] = (uint8_t)cl;
    memcpy(p + 4, ce, cl);
    ledger_free(ce);
    *len = ll + 8 + hl + cl;
    return o;
}

static void test_client_answer(void **state) {
    fixture *f = *state;
    uint64_t tip = ledger_store_height(f->s), eff, proven;
    size_t al, ll;
    uint8_t *a;
    ledger_membership *m = NULL;
    /* an honest replica's answer, from genesis */
    assert_int_equal(ldg_changes_answer(f->s, 0, tip, &a, &al), LEDGER_OK);
    assert_int_equal(ldg_changes_answer_verify(f->m, 0, a, al, &m, &eff, &proven, &ll), LEDGER_OK);
    assert_true(ledger_membership_equal(m, ledger_store_membership(f->s)));
    assert_int_equal(eff, f->e2);
    assert_int_equal(proven, tip);
    ledger_membership_free(m);
    /* every flipped byte and every truncation refused */
    for (size_t i = 0; i < al; i++) {
        a[i] ^= 0x80;
        if (ldg_changes_answer_verify(f->m, 0, a, al, &m, &eff, &proven, NULL) == LEDGER_OK)
            fail_msg("answer byte %zu flipped still verifies", i);
        assert_null(m);
        a[i] ^= 0x80;
    }
    for (size_t n = 0; n < al; n++)
        assert_int_not_equal(ldg_changes_answer_verify(f->m, 0, a, n, &m, &eff, &proven, NULL),
                             LEDGER_OK);
    /* from the genesis membership claimed to be in force from e1: the changes
     * were decided before it */
    assert_int_not_equal(ldg_changes_answer_verify(f->m, f->e2, a, al, &m, &eff, &proven, NULL),
                         LEDGER_OK);
    free(a);
    /* from the membership after the first change */
    ledger_membership *m1;
    assert_int_equal(ledger_store_membership_at(f->s, f->e1, &m1), LEDGER_OK);
    assert_int_equal(ldg_changes_answer(f->s, f->e1, tip, &a, &al), LEDGER_OK);
    assert_int_equal(ldg_changes_answer_verify(m1, f->e1, a, al, &m, &eff, &proven, NULL),
                     LEDGER_OK);
    assert_int_equal(eff, f->e2);
    ledger_membership_free(m);
    free(a);
    /* a replica that leaves out the last change: the closing block names
     * another membership */
    uint8_t *l1, *l2;
    size_t l1l, l2l;
    assert_int_equal(ledger_store_changes(f->s, 0, f->e1, &l1, &l1l), LEDGER_OK);
    a = answer_of(f, l1, l1l, tip, &al);
    assert_int_equal(ldg_changes_answer_verify(f->m, 0, a, al, &m, &eff, &proven, NULL),
                     LEDGER_E_EPOCH);
    free(a);
    /* a closing block between the decision and the change's height: checked
     * against the membership before it; below the decision: refused */
    assert_int_equal(ledger_store_changes(f->s, 0, f->e2, &l2, &l2l), LEDGER_OK);
    a = answer_of(f, l2, l2l, f->e2 - 1, &al);
    assert_int_equal(ldg_changes_answer_verify(f->m, 0, a, al, &m, &eff, &proven, NULL), LEDGER_OK);
    assert_int_equal(eff, f->e2);
    assert_int_equal(proven, f->e2 - 1);
    assert_true(ledger_membership_equal(m, ledger_store_membership(f->s)));
    ledger_membership_free(m);
    free(a);
    a = answer_of(f, l2, l2l, f->e2 - 3, &al);
    assert_int_equal(ldg_changes_answer_verify(f->m, 0, a, al, &m, &eff, &proven, NULL),
                     LEDGER_E_MEMBERSHIP);
    free(a);
    /* the store's answer above its tip: the changes decided up to it */
    assert_int_equal(ldg_changes_answer(f->s, 0, tip + 50, &a, &al), LEDGER_OK);
    assert_int_equal(ldg_changes_answer_verify(f->m, 0, a, al, &m, &eff, &proven, NULL), LEDGER_OK);
    assert_int_equal(proven, tip);
    ledger_membership_free(m);
    free(a);
    free(l1);
    free(l2);
    ledger_membership_free(m1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_two_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_genesis, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forged_change, setup, teardown),
        cmocka_unit_test_setup_teardown(test_golden, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_answer, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
