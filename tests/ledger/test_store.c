/* The LMDB store: append, reads, traces, blobs, proofs, rejections, errors
 * that change nothing, reopen checks, determinism. */
#define T_WITH_STORE
#include "testutil.h"

#include <lmdb.h>

typedef struct {
    char path[512];
    ledger_signer *sg[4];
    ledger_membership *m;
    ledger_store *s;
    ledger_signer *alice, *bob;
} fx;

static int setup(void **state) {
    fx *f = calloc(1, sizeof *f);
    t_tmpdir(f->path, sizeof f->path, "store");
    f->m = t_membership(4, f->sg);
    f->alice = t_signer(1);
    f->bob = t_signer(2);
    assert_int_equal(ledger_store_open(&f->s, f->path, f->m, ledger_kv_app(), NULL, NULL),
                     LEDGER_OK);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fx *f = *state;
    ledger_store_close(f->s);
    t_cleanup(f->path);
    ledger_membership_free(f->m);
    for (int i = 0; i < 4; i++)
        ledger_signer_free(f->sg[i]);
    ledger_signer_free(f->alice);
    ledger_signer_free(f->bob);
    free(f);
    return 0;
}

static void append_txs(fx *f, ledger_tx **txs, size_t n, uint64_t ts) {
    ledger_block *b = t_next_block(f->s, f->m, f->sg, txs, n, ts);
    assert_int_equal(ledger_store_append(f->s, b), LEDGER_OK);
    ledger_block_free(b);
}

static void get_value(fx *f, const char *key, const char *want) {
    uint8_t *out;
    size_t len;
    int rc = ledger_store_query(f->s, (const uint8_t *)key, strlen(key), &out, &len);
    if (!want) {
        assert_int_equal(rc, LEDGER_E_NOT_FOUND);
        return;
    }
    assert_int_equal(rc, LEDGER_OK);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(out, want, len);
    ledger_free(out);
}

static void test_append_and_read(void **state) {
    fx *f = *state;
    ledger_tip t;
    assert_int_equal(ledger_store_tip(f->s, &t), LEDGER_OK);
    assert_int_equal(t.height, 0);

    ledger_tx *txs[3] = {t_put(f->alice, 1, "a", "1"), t_put(f->alice, 2, "b", "2"),
                         t_put(f->bob, 1, "c", "3")};
    uint8_t h0[32];
    memcpy(h0, ledger_tx_hash(txs[0]), 32);
    uint8_t h2[32];
    memcpy(h2, ledger_tx_hash(txs[2]), 32);
    append_txs(f, txs, 3, 1000);
    ledger_tx *txs2[2] = {t_put(f->alice, 3, "a", "one"), t_del(f->bob, 2, "c")};
    append_txs(f, txs2, 2, 2000);
    ledger_tx *txs3[1] = {t_put(f->bob, 3, "d", "4")};
    append_txs(f, txs3, 1, 3000);

    assert_int_equal(ledger_store_height(f->s), 3);
    get_value(f, "a", "one");
    get_value(f, "b", "2");
    get_value(f, "c", NULL);
    get_value(f, "d", "4");

    /* Raw state: owner key ‖ value. */
    uint8_t *v;
    size_t vlen;
    assert_int_equal(ledger_store_get(f->s, (const uint8_t *)"a", 1, &v, &vlen), LEDGER_OK);
    assert_int_equal(vlen, 35);
    assert_memory_equal(v, ledger_signer_public_key(f->alice), 32);
    ledger_free(v);

    /* Blocks read back, linked. */
    ledger_block *b1, *b2;
    assert_int_equal(ledger_store_block(f->s, 1, &b1), LEDGER_OK);
    assert_int_equal(ledger_store_block(f->s, 2, &b2), LEDGER_OK);
    assert_memory_equal(ledger_block_prev_hash(b2), ledger_block_header_hash(b1), 32);
    uint8_t hdr[LEDGER_HEADER_BYTES], hh[32], want_hdr[LEDGER_HEADER_BYTES];
    size_t hlen = 0, want_len = 0;
    assert_int_equal(ledger_store_header(f->s, 2, hdr, &hlen, hh), LEDGER_OK);
    assert_int_equal(ledger_block_header(b2, want_hdr, &want_len), LEDGER_OK);
    assert_int_equal(hlen, LEDGER_HEADER_V3_BYTES);
    assert_int_equal(want_len, hlen);
    assert_memory_equal(hdr, want_hdr, hlen);
    assert_memory_equal(hh, ledger_block_header_hash(b2), 32);
    assert_int_equal(ledger_store_header(f->s, 9, hdr, &hlen, NULL), LEDGER_E_NOT_FOUND);
    assert_int_equal(ledger_block_check(b2, f->m), LEDGER_OK);
    ledger_block_free(b1);
    ledger_block_free(b2);
    assert_int_equal(ledger_store_block(f->s, 4, &b1), LEDGER_E_NOT_FOUND);
    uint8_t *enc;
    size_t elen;
    assert_int_equal(ledger_store_block_encoding(f->s, 3, &enc, &elen), LEDGER_OK);
    assert_int_equal(ledger_block_decode(&b1, enc, elen), LEDGER_OK);
    assert_int_equal(ledger_block_height(b1), 3);
    ledger_block_free(b1);
    ledger_free(enc);

    /* Transaction by hash, with position and status. */
    ledger_tx *tx;
    uint64_t height;
    uint32_t index;
    int status;
    assert_int_equal(ledger_store_tx(f->s, h2, &tx, &height, &index, &status), LEDGER_OK);
    assert_int_equal(height, 1);
    assert_int_equal(index, 2);
    assert_int_equal(status, LEDGER_OK);
    assert_memory_equal(ledger_tx_hash(tx), h2, 32);
    ledger_tx_free(tx);
    uint8_t nohash[32] = {0};
    assert_int_equal(ledger_store_tx(f->s, nohash, &tx, NULL, NULL, NULL), LEDGER_E_NOT_FOUND);

    /* Trace of key "a" (puts at heights 1 and 2) and of deletes of "c". */
    ledger_trace_entry te[8];
    size_t n;
    assert_int_equal(
        ledger_store_trace(f->s, LEDGER_KV_OP_PUT, (const uint8_t *)"a", 1, 0, te, 8, &n),
        LEDGER_OK);
    assert_int_equal(n, 2);
    assert_int_equal(te[0].height, 1);
    assert_int_equal(te[0].index, 0);
    assert_int_equal(te[1].height, 2);
    assert_int_equal(te[1].index, 0);
    assert_int_equal(
        ledger_store_trace(f->s, LEDGER_KV_OP_PUT, (const uint8_t *)"a", 1, 2, te, 8, &n),
        LEDGER_OK);
    assert_int_equal(n, 1);
    assert_int_equal(
        ledger_store_trace(f->s, LEDGER_KV_OP_DELETE, (const uint8_t *)"c", 1, 0, te, 8, &n),
        LEDGER_OK);
    assert_int_equal(n, 1);
    assert_int_equal(te[0].height, 2);
    assert_int_equal(te[0].index, 1);
    /* "a" must not match the longer key "ab" nor the other op. */
    assert_int_equal(
        ledger_store_trace(f->s, LEDGER_KV_OP_DELETE, (const uint8_t *)"a", 1, 0, te, 8, &n),
        LEDGER_OK);
    assert_int_equal(n, 0);

    /* Time range. */
    uint64_t hs[8];
    assert_int_equal(ledger_store_trace_time(f->s, 1500, 3000, hs, 8, &n), LEDGER_OK);
    assert_int_equal(n, 2);
    assert_int_equal(hs[0], 2);
    assert_int_equal(hs[1], 3);
    assert_int_equal(ledger_store_trace_time(f->s, 3001, 9000, hs, 8, &n), LEDGER_OK);
    assert_int_equal(n, 0);

    /* Inclusion proof from the store, checked with the member keys only. */
    ledger_proof *p;
    assert_int_equal(ledger_store_proof(f->s, h0, &p), LEDGER_OK);
    assert_int_equal(ledger_proof_verify(p, f->m, h0), LEDGER_OK);
    assert_int_equal(ledger_proof_height(p), 1);
    assert_int_equal(ledger_proof_verify(p, f->m, h2), LEDGER_E_HASH);
    ledger_proof_free(p);

    /* Nonces. */
    uint64_t nonce;
    assert_int_equal(ledger_store_nonce(f->s, ledger_signer_public_key(f->alice), &nonce),
                     LEDGER_OK);
    assert_int_equal(nonce, 3);

    assert_int_equal(ledger_verify_chain(f->s, LEDGER_VERIFY_FULL, NULL), LEDGER_OK);
}

static void test_rejections(void **state) {
    fx *f = *state;
    ledger_tx *txs[1] = {t_put(f->alice, 5, "k", "alice")};
    append_txs(f, txs, 1, 10);
    /* Bob may not overwrite Alice's key; a replayed nonce is refused. */
    ledger_tx *bobput = t_put(f->bob, 1, "k", "bob");
    ledger_tx *replay = t_put(f->alice, 5, "z", "again");
    ledger_tx *older = t_put(f->alice, 4, "y", "older");
    ledger_tx *baddel = t_del(f->alice, 9, "nothing");
    assert_int_equal(ledger_store_check_tx(f->s, bobput), LEDGER_E_REJECTED);
    assert_int_equal(ledger_store_check_tx(f->s, replay), LEDGER_E_REPLAY);
    assert_int_equal(ledger_store_check_tx(f->s, older), LEDGER_E_REPLAY);
    assert_int_equal(ledger_store_check_tx(f->s, baddel), LEDGER_E_REJECTED);
    ledger_tx *good = t_put(f->alice, 6, "k", "alice2");
    assert_int_equal(ledger_store_check_tx(f->s, good), LEDGER_OK);
    /* Unknown op, malformed payload. */
    ledger_tx *weird = NULL;
    uint8_t pl[3] = {0, 5, 'x'};
    assert_int_equal(ledger_tx_create_signed(&weird, f->alice, 99, 7, pl, 3), LEDGER_OK);
    assert_int_equal(ledger_store_check_tx(f->s, weird), LEDGER_E_REJECTED);
    ledger_tx *shortpl = NULL;
    assert_int_equal(ledger_tx_create_signed(&shortpl, f->alice, LEDGER_KV_OP_PUT, 7, pl, 3),
                     LEDGER_OK);
    assert_int_equal(ledger_store_check_tx(f->s, shortpl), LEDGER_E_REJECTED);
    /* A bad signature. */
    uint8_t sig[64];
    memcpy(sig, ledger_tx_signature(good), 64);
    sig[3] ^= 1;
    ledger_tx *forged;
    assert_int_equal(ledger_tx_clone(&forged, good), LEDGER_OK);
    ledger_tx_set_signature(forged, sig);
    assert_int_equal(ledger_store_check_tx(f->s, forged), LEDGER_E_SIGNATURE);
    /* Batch form: one status each; a second check of a verified tx gives the same answer. */
    const ledger_tx *batch[4] = {good, forged, replay, good};
    int st4[4] = {1, 1, 1, 1};
    assert_int_equal(ledger_store_check_txs(f->s, batch, 4, st4), LEDGER_OK);
    assert_int_equal(st4[0], LEDGER_OK);
    assert_int_equal(st4[1], LEDGER_E_SIGNATURE);
    assert_int_equal(st4[2], LEDGER_E_REPLAY);
    assert_int_equal(st4[3], LEDGER_OK);
    assert_int_equal(ledger_store_check_tx(f->s, forged), LEDGER_E_SIGNATURE);

    /* A block carrying them anyway records each outcome deterministically. */
    uint8_t hb[32], hr[32], hg[32], hw[32];
    memcpy(hb, ledger_tx_hash(bobput), 32);
    memcpy(hr, ledger_tx_hash(replay), 32);
    memcpy(hg, ledger_tx_hash(good), 32);
    memcpy(hw, ledger_tx_hash(weird), 32);
    ledger_tx *blk[5] = {bobput, replay, good, weird, shortpl};
    append_txs(f, blk, 5, 20);
    int status;
    assert_int_equal(ledger_store_tx(f->s, hb, NULL, NULL, NULL, &status), LEDGER_OK);
    assert_int_equal(status, LEDGER_E_REJECTED);
    assert_int_equal(ledger_store_tx(f->s, hr, NULL, NULL, NULL, &status), LEDGER_OK);
    assert_int_equal(status, LEDGER_E_REPLAY);
    assert_int_equal(ledger_store_tx(f->s, hg, NULL, NULL, NULL, &status), LEDGER_OK);
    assert_int_equal(status, LEDGER_OK);
    assert_int_equal(ledger_store_tx(f->s, hw, NULL, NULL, NULL, &status), LEDGER_OK);
    assert_int_equal(status, LEDGER_E_REJECTED);
    get_value(f, "k", "alice2");
    get_value(f, "z", NULL);
    /* A rejected tx still consumes its nonce (no later replay of the same intent). */
    uint64_t nonce;
    ledger_store_nonce(f->s, ledger_signer_public_key(f->bob), &nonce);
    assert_int_equal(nonce, 1);
    /* A block whose tx signature is bad: prepare with VERIFY_TX refuses. */
    ledger_tip t;
    ledger_store_tip(f->s, &t);
    ledger_block *b;
    ledger_tx *fa[1] = {forged};
    assert_int_equal(ledger_block_create_take(&b, t.height + 1, t.hash, 30, 0, 0, fa, 1),
                     LEDGER_OK);
    uint8_t root[32];
    t_context(f->s, b);
    assert_int_equal(ledger_store_prepare(f->s, b, LEDGER_PREPARE_VERIFY_TX, root),
                     LEDGER_E_SIGNATURE);
    ledger_block_free(b);
    ledger_tx_free(baddel);
    ledger_tx_free(older);
    assert_int_equal(ledger_verify_chain(f->s, LEDGER_VERIFY_FULL, NULL), LEDGER_OK);
}

/* Hash of every committed state key we know, and the tip. */
static void snapshot(fx *f, ledger_tip *t, uint8_t *a, size_t *alen) {
    assert_int_equal(ledger_store_tip(f->s, t), LEDGER_OK);
    uint8_t *v;
    size_t vlen;
    *alen = 0;
    if (ledger_store_get(f->s, (const uint8_t *)"a", 1, &v, &vlen) == LEDGER_OK) {
        memcpy(a, v, vlen);
        *alen = vlen;
        ledger_free(v);
    }
}

static void test_bad_blocks_change_nothing(void **state) {
    fx *f = *state;
    ledger_tx *txs[1] = {t_put(f->alice, 1, "a", "first")};
    append_txs(f, txs, 1, 100);
    ledger_tip t0, t1;
    uint8_t a0[64], a1[64];
    size_t l0, l1;
    snapshot(f, &t0, a0, &l0);

    ledger_tx *n1[1] = {t_put(f->alice, 2, "a", "second")};
    ledger_block *b = t_next_block(f->s, f->m, f->sg, n1, 1, 200);

    /* Wrong state root (certified, so only the root check can catch it). */
    ledger_block *wrong;
    uint8_t *enc;
    size_t len;
    assert_int_equal(ledger_block_encode(b, &enc, &len), LEDGER_OK);
    assert_int_equal(ledger_block_decode(&wrong, enc, len), LEDGER_OK);
    uint8_t root[32];
    memcpy(root, ledger_block_state_root(b), 32);
    root[0] ^= 1;
    ledger_block_set_state_root(wrong, root);
    t_certify(wrong, f->m, f->sg, 3, 0);
    assert_int_equal(ledger_store_append(f->s, wrong), LEDGER_E_STATE_ROOT);
    ledger_block_free(wrong);

    /* No certificate, too few signatures, wrong chain's signatures. */
    assert_int_equal(ledger_block_decode(&wrong, enc, len), LEDGER_OK);
    ledger_block_set_cert(wrong, NULL);
    assert_int_equal(ledger_store_append(f->s, wrong), LEDGER_E_CERTIFICATE);
    t_certify(wrong, f->m, f->sg, 2, 0);
    assert_int_equal(ledger_store_append(f->s, wrong), LEDGER_E_CERTIFICATE);
    ledger_block_free(wrong);

    /* Wrong height / previous hash / timestamp going back. */
    ledger_tx *n2[1] = {t_put(f->alice, 2, "a", "x")};
    ledger_tip t;
    ledger_store_tip(f->s, &t);
    assert_int_equal(ledger_block_create_take(&wrong, t.height + 2, t.hash, 300, 0, 0, n2, 1),
                     LEDGER_OK);
    t_certify(wrong, f->m, f->sg, 3, 0);
    assert_int_equal(ledger_store_append(f->s, wrong), LEDGER_E_HEIGHT);
    assert_int_equal(ledger_store_prepare(f->s, wrong, 0, root), LEDGER_E_HEIGHT);
    ledger_block_free(wrong);
    uint8_t badprev[32] = {1};
    ledger_tx *n3[1] = {t_put(f->alice, 2, "a", "x")};
    assert_int_equal(ledger_block_create_take(&wrong, t.height + 1, badprev, 300, 0, 0, n3, 1),
                     LEDGER_OK);
    t_certify(wrong, f->m, f->sg, 3, 0);
    assert_int_equal(ledger_store_append(f->s, wrong), LEDGER_E_HEIGHT);
    ledger_block_free(wrong);
    ledger_tx *n4[1] = {t_put(f->alice, 2, "a", "x")};
    assert_int_equal(ledger_block_create_take(&wrong, t.height + 1, t.hash, 99, 0, 0, n4, 1),
                     LEDGER_OK);
    assert_int_equal(ledger_store_prepare(f->s, wrong, 0, root), LEDGER_E_TIMESTAMP);
    ledger_block_free(wrong);

    /* Random corruption of the valid encoding: whatever decodes is refused. */
    uint32_t seed = 12345;
    for (int iter = 0; iter < 300; iter++) {
        uint8_t *c = malloc(len);
        memcpy(c, enc, len);
        for (int k = 0; k < 1 + iter % 3; k++) {
            seed = seed * 1103515245u + 12345u;
            c[(seed >> 8) % len] ^= (uint8_t)(1u << ((seed >> 4) % 8));
        }
        ledger_block *x;
        if (ledger_block_decode(&x, c, len) == LEDGER_OK) {
            int rc = ledger_store_append(f->s, x);
            /* Only a flip inside the unsigned padding could leave it valid; there is none. */
            assert_int_not_equal(rc, LEDGER_OK);
            ledger_block_free(x);
        }
        free(c);
    }
    ledger_free(enc);

    snapshot(f, &t1, a1, &l1);
    assert_memory_equal(&t0, &t1, sizeof t0);
    assert_int_equal(l0, l1);
    assert_memory_equal(a0, a1, l0);
    /* The good block still appends afterwards. */
    assert_int_equal(ledger_store_append(f->s, b), LEDGER_OK);
    get_value(f, "a", "second");
    /* And the same block again is refused. */
    assert_int_equal(ledger_store_append(f->s, b), LEDGER_E_HEIGHT);
    ledger_block_free(b);
    assert_int_equal(ledger_verify_chain(f->s, LEDGER_VERIFY_FULL, NULL), LEDGER_OK);
}

/* Applications that break the contract. */
static int bad_apply_write_then_reject(void *ctx, ledger_state *st, const ledger_block *b, size_t i,
                                       const ledger_tx *tx) {
    (void)ctx, (void)b, (void)i, (void)tx;
    ledger_state_put(st, (const uint8_t *)"x", 1, (const uint8_t *)"y", 1);
    return LEDGER_E_REJECTED;
}
static int bad_apply_fail(void *ctx, ledger_state *st, const ledger_block *b, size_t i,
                          const ledger_tx *tx) {
    (void)ctx, (void)st, (void)b, (void)i, (void)tx;
    return -1;
}

static void test_bad_app(void **state) {
    fx *f = *state;
    ledger_store_close(f->s);
    f->s = NULL;
    t_cleanup(f->path);
    ledger_app apps[2];
    ledger_app_init(&apps[0]);
    apps[0].apply = bad_apply_write_then_reject;
    ledger_app_init(&apps[1]);
    apps[1].apply = bad_apply_fail;
    for (int k = 0; k < 2; k++) {
        char path[512];
        t_tmpdir(path, sizeof path, "badapp");
        ledger_store *s;
        assert_int_equal(ledger_store_open(&s, path, f->m, &apps[k], NULL, NULL), LEDGER_OK);
        ledger_tx *tx[1] = {t_put(f->alice, 1, "a", "b")};
        ledger_block *b;
        uint8_t z[32] = {0}, root[32];
        assert_int_equal(ledger_block_create_take(&b, 1, z, 1, 0, 0, tx, 1), LEDGER_OK);
        t_context(s, b);
        assert_int_equal(ledger_store_prepare(s, b, 0, root), LEDGER_E_APP);
        t_certify(b, f->m, f->sg, 3, 0);
        assert_int_equal(ledger_store_append(s, b), LEDGER_E_APP);
        assert_int_equal(ledger_store_height(s), 0);
        uint8_t *v;
        size_t vl;
        assert_int_equal(ledger_store_get(s, (const uint8_t *)"x", 1, &v, &vl), LEDGER_E_NOT_FOUND);
        ledger_block_free(b);
        ledger_store_close(s);
        t_cleanup(path);
    }
    /* Version mismatch of the table and bad options. */
    ledger_app a;
    ledger_app_init(&a);
    a.version = 99;
    ledger_store *s = (ledger_store *)1;
    assert_int_equal(ledger_store_open(&s, f->path, f->m, &a, NULL, NULL), LEDGER_E_INVALID);
    assert_null(s);
    ledger_store_options o;
    ledger_store_options_init(&o);
    o.verify = 7;
    assert_int_equal(ledger_store_open(&s, f->path, f->m, ledger_kv_app(), &o, NULL),
                     LEDGER_E_INVALID);
    t_tmpdir(f->path, sizeof f->path, "store");
    assert_int_equal(ledger_store_open(&f->s, f->path, f->m, ledger_kv_app(), NULL, NULL),
                     LEDGER_OK);
}

/* ledger_state_next walks the keys after a key, in bytewise order, seeing the block's
 * own writes and never the ledger's records. The app writes p/b, p/a and q, then
 * records what a walk from "p/" finds while inside "p/", and what lies after "q". */
static int walk_apply(void *ctx, ledger_state *st, const ledger_block *b, size_t i,
                      const ledger_tx *tx) {
    (void)ctx, (void)b, (void)i, (void)tx;
    const char *keys[] = {"p/b", "p/a", "q"};
    for (int k = 0; k < 3; k++)
        if (ledger_state_put(st, (const uint8_t *)keys[k], strlen(keys[k]), (const uint8_t *)"v",
                             1))
            return -1;
    char out[64] = "";
    uint8_t cur[16] = "p/";
    size_t clen = 2, nl, vl;
    const uint8_t *next, *v;
    while (ledger_state_next(st, cur, clen, &next, &nl, &v, &vl) == LEDGER_OK && nl >= 2 &&
           !memcmp(next, "p/", 2) && nl < sizeof cur) {
        strncat(out, (const char *)next, nl);
        strcat(out, ",");
        memcpy(cur, next, nl);
        clen = nl;
    }
    int after_q = ledger_state_next(st, (const uint8_t *)"q", 1, &next, &nl, &v, &vl);
    strcat(out, after_q == LEDGER_E_NOT_FOUND ? "end" : "more");
    if (ledger_state_next(NULL, cur, clen, &next, &nl, &v, &vl) != LEDGER_E_INVALID)
        return -1;
    return ledger_state_put(st, (const uint8_t *)"walk", 4, (const uint8_t *)out, strlen(out));
}

static void test_state_next(void **state) {
    fx *f = *state;
    ledger_app a;
    ledger_app_init(&a);
    a.apply = walk_apply;
    char path[512];
    t_tmpdir(path, sizeof path, "walk");
    ledger_store *s;
    assert_int_equal(ledger_store_open(&s, path, f->m, &a, NULL, NULL), LEDGER_OK);
    ledger_tx *tx[1] = {t_put(f->alice, 1, "a", "b")};
    ledger_block *b = t_next_block(s, f->m, f->sg, tx, 1, 1);
    assert_int_equal(ledger_store_append(s, b), LEDGER_OK);
    uint8_t *v;
    size_t vl;
    assert_int_equal(ledger_store_get(s, (const uint8_t *)"walk", 4, &v, &vl), LEDGER_OK);
    assert_int_equal(vl, strlen("p/a,p/b,end"));
    assert_memory_equal(v, "p/a,p/b,end", vl);
    ledger_free(v);
    ledger_block_free(b);
    ledger_store_close(s);
    t_cleanup(path);
}

static void test_blobs(void **state) {
    fx *f = *state;
    uint8_t data[5000], h[32], h2[32];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7);
    assert_int_equal(ledger_store_blob_put(f->s, data, sizeof data, h), LEDGER_OK);
    assert_int_equal(ledger_store_blob_put(f->s, data, sizeof data, h2), LEDGER_OK);
    assert_memory_equal(h, h2, 32);
    uint8_t want[32];
    ledger_sha256(want, data, sizeof data);
    assert_memory_equal(h, want, 32);
    uint8_t *out;
    size_t len;
    assert_int_equal(ledger_store_blob_get(f->s, h, &out, &len), LEDGER_OK);
    assert_int_equal(len, sizeof data);
    assert_memory_equal(out, data, len);
    ledger_free(out);
    h[0] ^= 1;
    assert_int_equal(ledger_store_blob_get(f->s, h, &out, &len), LEDGER_E_NOT_FOUND);
    assert_int_equal(ledger_store_blob_put(f->s, NULL, 0, h), LEDGER_OK); /* empty blob */
    assert_int_equal(ledger_store_blob_get(f->s, h, &out, &len), LEDGER_OK);
    assert_int_equal(len, 0);
    ledger_free(out);
}

static uint64_t usage(ledger_store *s, const uint8_t *pk) {
    uint64_t b = 0;
    assert_int_equal(ledger_store_blob_usage(s, pk, &b), LEDGER_OK);
    return b;
}

static uint8_t *filled(size_t n, uint8_t tag) {
    uint8_t *p = malloc(n);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 31 + tag);
    return p;
}

/* Per-key quotas and the high-water mark refuse a blob before anything is
 * written; usage survives a reopen; blocks still append once blobs are refused. */
static void test_blob_quota_and_limit(void **state) {
    fx *f = *state;
    ledger_store_close(f->s);
    ledger_store_options o;
    ledger_store_options_init(&o);
    o.map_size = 64u << 20;
    o.blob_limit_mib = 1;
    assert_int_equal(ledger_store_open(&f->s, f->path, f->m, ledger_kv_app(), &o, NULL), 0);
    const uint8_t *a = ledger_signer_public_key(f->alice), *b = ledger_signer_public_key(f->bob);
    uint8_t *x = filled(400 << 10, 1), *y = filled(200 << 10, 2), *z = filled(500 << 10, 3);
    uint8_t h[32], *out;
    size_t len;
    assert_int_equal(ledger_store_blob_put_as(f->s, a, x, 400 << 10, 500 << 10, h), LEDGER_OK);
    assert_int_equal(usage(f->s, a), 400 << 10);
    /* over alice's quota: refused, nothing stored or charged */
    assert_int_equal(ledger_store_blob_put_as(f->s, a, y, 200 << 10, 500 << 10, h),
                     LEDGER_E_BLOB_QUOTA);
    assert_int_equal(usage(f->s, a), 400 << 10);
    assert_int_equal(usage(f->s, NULL), 400 << 10);
    ledger_sha256(h, y, 200 << 10);
    assert_int_equal(ledger_store_blob_get(f->s, h, &out, &len), LEDGER_E_NOT_FOUND);
    /* a blob already stored costs nothing */
    assert_int_equal(ledger_store_blob_put_as(f->s, a, x, 400 << 10, 500 << 10, h), LEDGER_OK);
    assert_int_equal(usage(f->s, a), 400 << 10);
    /* bob has no quota, but the store's 1 MiB mark stops him */
    assert_int_equal(ledger_store_blob_put_as(f->s, b, z, 500 << 10, LEDGER_BLOB_QUOTA_NONE, h),
                     LEDGER_OK);
    assert_int_equal(ledger_store_blob_put_as(f->s, b, y, 200 << 10, LEDGER_BLOB_QUOTA_NONE, h),
                     LEDGER_E_BLOB_FULL);
    assert_int_equal(ledger_store_blob_put(f->s, y, 200 << 10, h), LEDGER_E_BLOB_FULL);
    assert_int_equal(usage(f->s, NULL), 900 << 10);
    assert_int_equal(usage(f->s, b), 500 << 10);
    /* transactions still commit */
    ledger_tx *txs[1] = {t_put(f->alice, 1, "k", "v")};
    append_txs(f, txs, 1, 1);
    get_value(f, "k", "v");
    /* usage is stored: a reopen keeps it */
    ledger_store_close(f->s);
    assert_int_equal(ledger_store_open(&f->s, f->path, f->m, ledger_kv_app(), &o, NULL), 0);
    assert_int_equal(usage(f->s, a), 400 << 10);
    assert_int_equal(usage(f->s, b), 500 << 10);
    assert_int_equal(usage(f->s, NULL), 900 << 10);
    /* a high limit does not let blobs take the map's last quarter */
    ledger_store_close(f->s);
    t_cleanup(f->path);
    t_tmpdir(f->path, sizeof f->path, "store");
    o.map_size = 2u << 20;
    o.blob_limit_mib = 64;
    assert_int_equal(ledger_store_open(&f->s, f->path, f->m, ledger_kv_app(), &o, NULL), 0);
    uint8_t *big = filled(1200 << 10, 4);
    assert_int_equal(ledger_store_blob_put_as(f->s, b, big, 1200 << 10, LEDGER_BLOB_QUOTA_NONE, h),
                     LEDGER_OK);
    assert_int_equal(ledger_store_blob_put_as(f->s, b, x, 400 << 10, LEDGER_BLOB_QUOTA_NONE, h),
                     LEDGER_E_BLOB_FULL);
    assert_int_equal(usage(f->s, NULL), 1200 << 10);
    ledger_tx *more[1] = {t_put(f->alice, 1, "k2", "v2")};
    append_txs(f, more, 1, 2);
    get_value(f, "k2", "v2");
    free(big);
    free(x);
    free(y);
    free(z);
}

static void test_reopen_checks(void **state) {
    fx *f = *state;
    ledger_tx *txs[1] = {t_put(f->alice, 1, "a", "1")};
    append_txs(f, txs, 1, 1);
    ledger_tip t;
    ledger_store_tip(f->s, &t);
    ledger_store_close(f->s);
    f->s = NULL;
    /* Same membership: reopens at the same tip. */
    assert_int_equal(ledger_store_open(&f->s, f->path, f->m, ledger_kv_app(), NULL, NULL),
                     LEDGER_OK);
    ledger_tip t2;
    ledger_store_tip(f->s, &t2);
    assert_memory_equal(&t, &t2, sizeof t);
    ledger_store_close(f->s);
    f->s = NULL;
    /* Another membership: refused. */
    ledger_signer *sg7[7];
    ledger_membership *m7 = t_membership(7, sg7);
    ledger_store *s = NULL;
    assert_int_equal(ledger_store_open(&s, f->path, m7, ledger_kv_app(), NULL, NULL),
                     LEDGER_E_MEMBERSHIP);
    ledger_membership_free(m7);
    for (int i = 0; i < 7; i++)
        ledger_signer_free(sg7[i]);
    /* A future format version: refused. */
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta;
    assert_int_equal(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 8);
    assert_int_equal(mdb_env_open(env, f->path, 0, 0644), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    uint8_t two[4] = {0, 0, 0, 2};
    MDB_val k = {6, "format"}, v = {4, two};
    assert_int_equal(mdb_put(txn, meta, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    assert_int_equal(ledger_store_open(&s, f->path, f->m, ledger_kv_app(), NULL, NULL),
                     LEDGER_E_VERSION);
    assert_null(s);
    t_cleanup(f->path);
    t_tmpdir(f->path, sizeof f->path, "store");
    assert_int_equal(ledger_store_open(&f->s, f->path, f->m, ledger_kv_app(), NULL, NULL),
                     LEDGER_OK);
}

static void test_determinism(void **state) {
    fx *f = *state;
    char p2[512];
    t_tmpdir(p2, sizeof p2, "det");
    ledger_store *s2;
    assert_int_equal(ledger_store_open(&s2, p2, f->m, ledger_kv_app(), NULL, NULL), LEDGER_OK);
    for (int h = 0; h < 5; h++) {
        ledger_tx *txs[4];
        char key[16], val[16];
        for (int i = 0; i < 4; i++) {
            snprintf(key, sizeof key, "k%d", (h * 3 + i) % 7);
            snprintf(val, sizeof val, "v%d-%d", h, i);
            txs[i] = i == 3 && h % 2 ? t_del(f->alice, (uint64_t)(h * 4 + i + 1), "k1")
                                     : t_put(f->alice, (uint64_t)(h * 4 + i + 1), key, val);
        }
        ledger_block *b = t_next_block(f->s, f->m, f->sg, txs, 4, (uint64_t)h);
        uint8_t r2[32];
        assert_int_equal(ledger_store_prepare(s2, b, 0, r2), LEDGER_OK);
        assert_memory_equal(r2, ledger_block_state_root(b), 32);
        assert_int_equal(ledger_store_append(f->s, b), LEDGER_OK);
        assert_int_equal(ledger_store_append(s2, b), LEDGER_OK);
        ledger_block_free(b);
    }
    ledger_tip a, c;
    ledger_store_tip(f->s, &a);
    ledger_store_tip(s2, &c);
    assert_memory_equal(&a, &c, sizeof a);
    ledger_store_close(s2);
    t_cleanup(p2);
}

static void test_invalid_args(void **state) {
    fx *f = *state;
    ledger_store *again = (ledger_store *)1;
    assert_int_equal(ledger_store_open(&again, f->path, f->m, ledger_kv_app(), NULL, NULL),
                     LEDGER_E_BUSY);
    assert_null(again);
    uint8_t *v;
    size_t n;
    assert_int_equal(ledger_store_get(f->s, NULL, 1, &v, &n), LEDGER_E_INVALID);
    uint8_t big[LEDGER_STATE_KEY_MAX + 1] = {0};
    assert_int_equal(ledger_store_get(f->s, big, sizeof big, &v, &n), LEDGER_E_INVALID);
    assert_int_equal(ledger_store_trace(f->s, 1, big, 0, 0, NULL, 0, &n), LEDGER_E_INVALID);
    uint64_t hs[1];
    assert_int_equal(ledger_store_trace_time(f->s, 5, 4, hs, 1, &n), LEDGER_E_INVALID);
    assert_int_equal(ledger_store_append(NULL, NULL), LEDGER_E_INVALID);
    assert_int_equal(ledger_verify_chain(f->s, 0, NULL), LEDGER_E_INVALID);
    assert_int_equal(ledger_store_query(f->s, NULL, 0, &v, &n), LEDGER_E_INVALID);
    ledger_store_close(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_and_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_blocks_change_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_app, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_next, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blobs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blob_quota_and_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_determinism, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_args, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
