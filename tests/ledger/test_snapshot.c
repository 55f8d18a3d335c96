/* State snapshots on a store (ledger/snapshot.h): export in bounded chunks,
 * import into an empty store with the same tip, state root, state and
 * membership; refusals (flipped byte, truncated chunk, another height, a
 * wrong digest, a block whose certificate does not verify) leave nothing
 * installed; an import killed (-9) mid-way resumes; what a snapshot-started
 * store answers below its base and how it verifies. */
#define T_WITH_STORE
#include "testutil.h"
#include "fixtures.h"

#include "ledger/reconfig.h"
#include "ledger/snapshot.h"

#include <lmdb.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define NSIGNERS 5

typedef struct {
    ledger_signer *sg[NSIGNERS]; /* 0 … 3 genesis, 4 joins */
    ledger_membership *m;
    ledger_signer *alice;
    uint64_t nonce[NSIGNERS], anonce;
    char src_path[512], dst_path[512];
    ledger_store *src, *dst;
    const int *cert; /* who certifies the next block */
    size_t ncert;
} fixture;

static const int q012[] = {0, 1, 2}, q0124[] = {0, 1, 2, 4};

static ledger_block *next_block(fixture *f, ledger_tx **txs, size_t n) {
    ledger_tip t;
    assert_int_equal(ledger_store_tip(f->src, &t), LEDGER_OK);
    ledger_block *b = NULL;
    assert_int_equal(
        ledger_block_create_take(&b, t.height + 1, t.hash, t.height + 100, 0, 0, txs, n),
        LEDGER_OK);
    t_seal(f->src, b);
    t_certify_by(b, f->m, f->sg, f->cert, f->ncert);
    return b;
}

static void commit(fixture *f, ledger_tx *tx) {
    ledger_tx *txs[1] = {tx};
    ledger_block *b = next_block(f, txs, 1);
    assert_int_equal(ledger_store_append(f->src, b), LEDGER_OK);
    ledger_block_free(b);
}

static ledger_tx *member_tx(fixture *f, int by, uint16_t op, const uint8_t *pl, size_t plen) {
    ledger_tx *tx = NULL;
    assert_int_equal(ledger_tx_create_signed(&tx, f->sg[by], op, ++f->nonce[by], pl, plen),
                     LEDGER_OK);
    return tx;
}

/* A chain of ~40 blocks: replica 4 added by 3 of 4, then certified by 0,1,2,4;
 * 300 keys of 3 KiB (several chunks) and one value larger than a chunk. */
static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    t_keys(&f->m, f->sg, NSIGNERS, &f->alice);
    f->anonce = 1000;
    f->cert = q012;
    f->ncert = 3;
    t_open_kv(&f->src, f->src_path, sizeof f->src_path, "snapsrc", f->m);
    t_open_kv(&f->dst, f->dst_path, sizeof f->dst_path, "snapdst", f->m);
    uint8_t *pl;
    size_t plen;
    assert_int_equal(ledger_member_propose_payload(LEDGER_MEMBER_ADD_REPLICA,
                                                   ledger_signer_public_key(f->sg[4]),
                                                   "127.0.0.1:7104", &pl, &plen),
                     LEDGER_OK);
    commit(f, member_tx(f, 0, LEDGER_OP_MEMBER_PROPOSE, pl, plen));
    ledger_free(pl);
    ledger_member_change c;
    assert_int_equal(ledger_store_member_change(f->src, 0, &c), LEDGER_OK);
    uint8_t ap[8];
    assert_int_equal(ledger_member_approve_payload(c.id, ap), LEDGER_OK);
    commit(f, member_tx(f, 1, LEDGER_OP_MEMBER_APPROVE, ap, 8));
    commit(f, member_tx(f, 2, LEDGER_OP_MEMBER_APPROVE, ap, 8));
    assert_int_equal(ledger_store_member_change(f->src, c.id, &c), LEDGER_OK);
    assert_int_equal(c.status, LEDGER_MEMBER_APPROVED);
    while (ledger_store_height(f->src) + 1 < c.effective)
        commit(f, t_put(f->alice, ++f->anonce, "pad", "x"));
    f->cert = q0124;
    f->ncert = 4;
    char val[3072 + 1];
    for (int blk = 0; blk < 30; blk++) {
        ledger_tx *txs[10];
        for (int i = 0; i < 10; i++) {
            char key[32];
            snprintf(key, sizeof key, "k%03d", blk * 10 + i);
            memset(val, 'a' + (blk + i) % 26, sizeof val - 1);
            val[sizeof val - 1] = 0;
            txs[i] = t_put(f->alice, ++f->anonce, key, val);
        }
        ledger_block *b = next_block(f, txs, 10);
        assert_int_equal(ledger_store_append(f->src, b), LEDGER_OK);
        ledger_block_free(b);
    }
    char *big = malloc(400001);
    assert_non_null(big);
    memset(big, 'B', 400000);
    big[400000] = 0;
    commit(f, t_put(f->alice, ++f->anonce, "big", big));
    free(big);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    t_close_kv(f->src, f->src_path);
    t_close_kv(f->dst, f->dst_path);
    t_keys_free(f->m, f->sg, NSIGNERS, f->alice);
    free(f);
    return 0;
}

/* Every chunk of an export, in order. */
typedef struct chunks {
    uint8_t *c[64];
    size_t n[64];
    size_t count;
    uint8_t *block;
    size_t block_len;
    uint8_t digest[32];
    uint64_t height;
} chunks;

static void export_all(ledger_store *s, chunks *out) {
    memset(out, 0, sizeof *out);
    ledger_snapshot *x = NULL;
    assert_int_equal(ledger_store_snapshot_begin(s, &x), LEDGER_OK);
    out->height = ledger_snapshot_height(x);
    uint64_t nchunks = 0;
    assert_int_equal(ledger_snapshot_digest(x, out->digest, &nchunks), LEDGER_OK);
    assert_int_equal(ledger_snapshot_block(x, &out->block, &out->block_len), LEDGER_OK);
    /* drive the export exactly as a receiver does: from import_next's resume keys */
    uint8_t resume[LEDGER_SNAPSHOT_RESUME_MAX];
    size_t rlen = 0;
    for (uint64_t i = 0;; i++) {
        assert_true(i < 64);
        assert_int_equal(ledger_snapshot_chunk(x, i, resume, rlen, &out->c[i], &out->n[i]),
                         LEDGER_OK);
        out->count++;
        int last = 0;
        uint64_t h, idx;
        uint32_t cnt;
        assert_int_equal(ledger_snapshot_chunk_check(out->c[i], out->n[i], &h, &idx, &last, &cnt),
                         LEDGER_OK);
        assert_int_equal(h, out->height);
        assert_int_equal(idx, i);
        assert_true(out->n[i] <= LEDGER_SNAPSHOT_CHUNK_BYTES || cnt == 1);
        if (last)
            break;
        /* the resume key: the last entry's namespace and key */
        const uint8_t *p = out->c[i] + 26;
        for (uint32_t e = 0; e < cnt; e++) {
            uint32_t kl = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
            const uint8_t *v = p + 5 + kl;
            uint32_t vl = (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 | (uint32_t)v[2] << 8 | v[3];
            if (e == cnt - 1) {
                resume[0] = p[0];
                memcpy(resume + 1, p + 5, kl);
                rlen = kl + 1;
            }
            p = v + 4 + vl;
        }
    }
    assert_int_equal(out->count, nchunks);
    ledger_snapshot_free(x);
}

static void chunks_free(chunks *c) {
    for (size_t i = 0; i < c->count; i++)
        ledger_free(c->c[i]);
    ledger_free(c->block);
}

/* Feed chunks from index `from`, checking each answer; return the last code. */
static int feed(ledger_snapshot_import *im, const chunks *c, size_t from) {
    int rc = LEDGER_OK;
    for (size_t i = from; i < c->count && rc == LEDGER_OK; i++)
        rc = ledger_snapshot_import_chunk(im, c->c[i], c->n[i]);
    return rc;
}

static void assert_untouched(ledger_store *s) {
    assert_int_equal(ledger_store_height(s), 0);
    assert_int_equal(ledger_store_snapshot_base(s), 0);
    uint8_t *v = NULL;
    size_t vl = 0;
    assert_int_equal(ledger_store_get(s, (const uint8_t *)"k000", 4, &v, &vl), LEDGER_E_NOT_FOUND);
}

static void next_of(ledger_snapshot_import *im, uint64_t *index, int *complete) {
    uint8_t r[LEDGER_SNAPSHOT_RESUME_MAX];
    size_t rl;
    assert_int_equal(ledger_snapshot_import_next(im, index, r, &rl, complete), LEDGER_OK);
}

/* The import completes (LEDGER_OK) and is freed; the importing store's tip has
 * the source's state root. */
static void finish_same_state(fixture *f, ledger_snapshot_import *im) {
    assert_int_equal(ledger_snapshot_import_finish(im), LEDGER_OK);
    ledger_snapshot_import_free(im);
    ledger_tip a, b;
    assert_int_equal(ledger_store_tip(f->src, &a), LEDGER_OK);
    assert_int_equal(ledger_store_tip(f->dst, &b), LEDGER_OK);
    assert_memory_equal(a.state_root, b.state_root, 32);
}

static void test_round_trip(void **state) {
    fixture *f = *state;
    chunks c;
    export_all(f->src, &c);
    assert_true(c.count >= 4); /* 900 KiB of state, and the big value alone */
    ledger_snapshot_import *im = NULL;
    assert_int_equal(
        ledger_store_snapshot_import_begin(f->dst, c.block, c.block_len, c.digest, &im), LEDGER_OK);
    assert_int_equal(ledger_snapshot_import_finish(im), LEDGER_E_INVALID); /* not complete */
    assert_int_equal(feed(im, &c, 0), LEDGER_OK);
    uint64_t idx;
    int complete;
    next_of(im, &idx, &complete);
    assert_int_equal(idx, c.count);
    assert_true(complete);
    assert_untouched(f->dst); /* staged, not installed */
    assert_int_equal(ledger_snapshot_import_finish(im), LEDGER_OK);
    ledger_snapshot_import_free(im);

    ledger_tip a, b;
    assert_int_equal(ledger_store_tip(f->src, &a), LEDGER_OK);
    assert_int_equal(ledger_store_tip(f->dst, &b), LEDGER_OK);
    assert_int_equal(a.height, b.height);
    assert_memory_equal(a.hash, b.hash, 32);
    assert_memory_equal(a.state_root, b.state_root, 32);
    assert_int_equal(ledger_store_snapshot_base(f->dst), c.height);
    assert_true(
        ledger_membership_equal(ledger_store_membership(f->src), ledger_store_membership(f->dst)));
    uint8_t *v1, *v2;
    size_t l1, l2;
    assert_int_equal(ledger_store_get(f->src, (const uint8_t *)"big", 3, &v1, &l1), LEDGER_OK);
    assert_int_equal(ledger_store_get(f->dst, (const uint8_t *)"big", 3, &v2, &l2), LEDGER_OK);
    assert_int_equal(l1, l2);
    assert_memory_equal(v1, v2, l1);
    ledger_free(v1);
    ledger_free(v2);
    uint64_t n1, n2;
    assert_int_equal(ledger_store_nonce(f->src, ledger_signer_public_key(f->alice), &n1), 0);
    assert_int_equal(ledger_store_nonce(f->dst, ledger_signer_public_key(f->alice), &n2), 0);
    assert_int_equal(n1, n2);
    /* the same snapshot digest from the imported store */
    chunks c2;
    export_all(f->dst, &c2);
    assert_memory_equal(c.digest, c2.digest, 32);
    assert_int_equal(c.count, c2.count);
    chunks_free(&c2);

    /* below the base: a clear code; the base block itself is held */
    ledger_block *blk = NULL;
    assert_int_equal(ledger_store_block(f->dst, c.height - 1, &blk), LEDGER_E_SNAPSHOT);
    assert_int_equal(ledger_store_block(f->dst, 1, &blk), LEDGER_E_SNAPSHOT);
    uint8_t hh[32];
    assert_int_equal(ledger_store_header(f->dst, 1, NULL, NULL, hh), LEDGER_E_SNAPSHOT);
    assert_int_equal(ledger_store_block(f->dst, c.height, &blk), LEDGER_OK);
    ledger_block_free(blk);
    assert_int_equal(ledger_store_block(f->dst, c.height + 1, &blk), LEDGER_E_NOT_FOUND);
    /* a second import into a store that is no longer empty */
    assert_int_equal(
        ledger_store_snapshot_import_begin(f->dst, c.block, c.block_len, c.digest, &im),
        LEDGER_E_INVALID);

    /* headers below the base, fetched downwards: each must link, decode and
     * carry a certificate of the membership in force at its height */
    uint64_t lowest = 0;
    assert_int_equal(ledger_store_snapshot_headers(f->dst, &lowest), LEDGER_OK);
    assert_int_equal(lowest, c.height);
    assert_int_equal(ledger_store_snapshot_headers(f->src, &lowest), LEDGER_OK);
    assert_int_equal(lowest, 1);
    for (uint64_t h = c.height - 1; h >= 1; h--) {
        uint8_t hdr[LEDGER_HEADER_BYTES];
        size_t hl;
        assert_int_equal(ledger_store_header(f->src, h, hdr, &hl, NULL), LEDGER_OK);
        ledger_block *sb = NULL;
        assert_int_equal(ledger_store_block(f->src, h, &sb), LEDGER_OK);
        uint8_t *ce;
        size_t cl;
        assert_int_equal(ledger_cert_encode(ledger_block_cert(sb), &ce, &cl), LEDGER_OK);
        ledger_block_free(sb);
        if (h == c.height - 1 || h == 3) { /* refusals first: nothing stored */
            hdr[hl / 2] ^= 0x10;
            assert_int_not_equal(ledger_store_snapshot_put_header(f->dst, hdr, hl, ce, cl),
                                 LEDGER_OK);
            hdr[hl / 2] ^= 0x10;
            ce[cl - 1] ^= 0x01;
            assert_int_equal(ledger_store_snapshot_put_header(f->dst, hdr, hl, ce, cl),
                             LEDGER_E_CERTIFICATE);
            ce[cl - 1] ^= 0x01;
            if (h > 1) { /* the header below, out of turn */
                uint8_t h2[LEDGER_HEADER_BYTES];
                size_t hl2;
                assert_int_equal(ledger_store_header(f->src, h - 1, h2, &hl2, NULL), LEDGER_OK);
                assert_int_not_equal(ledger_store_snapshot_put_header(f->dst, h2, hl2, ce, cl),
                                     LEDGER_OK);
            }
            assert_int_equal(ledger_store_snapshot_headers(f->dst, &lowest), LEDGER_OK);
            assert_int_equal(lowest, h + 1);
            assert_int_equal(ledger_store_header(f->dst, h, NULL, NULL, hh), LEDGER_E_SNAPSHOT);
            uint8_t *nc = NULL;
            size_t ncl = 0;
            assert_int_equal(ledger_store_certificate(f->dst, h, &nc, &ncl), LEDGER_E_SNAPSHOT);
        }
        assert_int_equal(ledger_store_snapshot_put_header(f->dst, hdr, hl, ce, cl), LEDGER_OK);
        ledger_free(ce);
    }
    assert_int_equal(ledger_store_snapshot_headers(f->dst, &lowest), LEDGER_OK);
    assert_int_equal(lowest, 1);
    uint8_t h1a[32], h1b[32];
    assert_int_equal(ledger_store_header(f->src, 1, NULL, NULL, h1a), LEDGER_OK);
    assert_int_equal(ledger_store_header(f->dst, 1, NULL, NULL, h1b), LEDGER_OK);
    assert_memory_equal(h1a, h1b, 32);
    assert_int_equal(ledger_store_block(f->dst, 1, &blk), LEDGER_E_SNAPSHOT); /* no bodies */
    /* the certificates it holds, below the base and above, equal the source's */
    for (uint64_t h = 1; h <= c.height; h += c.height / 5) {
        uint8_t *ca, *cb;
        size_t la, lb;
        assert_int_equal(ledger_store_certificate(f->src, h, &ca, &la), LEDGER_OK);
        assert_int_equal(ledger_store_certificate(f->dst, h, &cb, &lb), LEDGER_OK);
        assert_int_equal(la, lb);
        assert_memory_equal(ca, cb, la);
        ledger_free(ca);
        ledger_free(cb);
    }
    uint64_t vbad = 99;
    assert_int_equal(ledger_verify_chain(f->dst, LEDGER_VERIFY_LINKS, &vbad), LEDGER_OK);

    /* the chain goes on by blocks (state transfer), certified by 0,1,2,4 */
    for (int i = 0; i < 3; i++) {
        commit(f, t_put(f->alice, ++f->anonce, "after", "y"));
        ledger_block *nb = NULL;
        assert_int_equal(ledger_store_block(f->src, ledger_store_height(f->src), &nb), LEDGER_OK);
        assert_int_equal(ledger_store_append(f->dst, nb), LEDGER_OK);
        ledger_block_free(nb);
    }
    assert_int_equal(ledger_store_tip(f->src, &a), LEDGER_OK);
    assert_int_equal(ledger_store_tip(f->dst, &b), LEDGER_OK);
    assert_memory_equal(a.state_root, b.state_root, 32);
    assert_memory_equal(a.hash, b.hash, 32);

    /* reopen: LINKS verifies from the base; FULL cannot replay from genesis */
    ledger_store_close(f->dst);
    f->dst = NULL;
    uint64_t bad = 99;
    assert_int_equal(ledger_store_open(&f->dst, f->dst_path, f->m, ledger_kv_app(), NULL, &bad),
                     LEDGER_OK);
    assert_int_equal(ledger_store_snapshot_base(f->dst), c.height);
    assert_int_equal(ledger_verify_chain(f->dst, LEDGER_VERIFY_LINKS, &bad), LEDGER_OK);
    assert_int_equal(ledger_verify_chain(f->dst, LEDGER_VERIFY_FULL, &bad), LEDGER_E_SNAPSHOT);
    assert_int_equal(ledger_store_height(f->dst), c.height + 3);

    /* a header held below the base edited on disk: the store refuses to open
     * and names its height */
    ledger_store_close(f->dst);
    f->dst = NULL;
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi hdrs;
    assert_int_equal(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 12);
    assert_int_equal(mdb_env_open(env, f->dst_path, 0, 0644), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "headers", 0, &hdrs), 0);
    uint8_t hk[8] = {0, 0, 0, 0, 0, 0, 0, 2};
    MDB_val k = {8, hk}, v;
    assert_int_equal(mdb_get(txn, hdrs, &k, &v), 0);
    uint8_t *copy = malloc(v.mv_size);
    assert_non_null(copy);
    memcpy(copy, v.mv_data, v.mv_size);
    copy[4 + 60] ^= 0x01; /* a byte of the header's timestamp and roots area */
    MDB_val nv = {v.mv_size, copy};
    assert_int_equal(mdb_put(txn, hdrs, &k, &nv, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    free(copy);
    bad = 0;
    assert_int_equal(ledger_store_open(&f->dst, f->dst_path, f->m, ledger_kv_app(), NULL, &bad),
                     LEDGER_E_CORRUPT);
    assert_int_equal(bad, 2);
    assert_null(f->dst);
    chunks_free(&c);
}

static void fresh_dst(fixture *f) {
    ledger_store_close(f->dst);
    t_cleanup(f->dst_path);
    t_tmpdir(f->dst_path, sizeof f->dst_path, "snapdst");
    assert_int_equal(ledger_store_open(&f->dst, f->dst_path, f->m, ledger_kv_app(), NULL, NULL),
                     LEDGER_OK);
}

/* A flipped byte anywhere in any chunk: refused (at decode, or by the digest
 * at the last chunk), nothing installed; then the right chunks ("another
 * peer") complete the import. */
static void test_flipped_and_truncated(void **state) {
    fixture *f = *state;
    chunks c;
    export_all(f->src, &c);
    ledger_snapshot_import *im = NULL;
    assert_int_equal(
        ledger_store_snapshot_import_begin(f->dst, c.block, c.block_len, c.digest, &im), LEDGER_OK);
    size_t tried = 0;
    for (size_t ci = 0; ci < c.count; ci++) {
        /* positions: every header byte, then spread over the entries */
        size_t step = c.n[ci] / 40 + 1;
        for (size_t pos = 0; pos < c.n[ci]; pos += pos < 26 ? 1 : step) {
            int complete;
            ledger_snapshot_import_free(im);
            im = NULL;
            fresh_dst(f);
            assert_int_equal(
                ledger_store_snapshot_import_begin(f->dst, c.block, c.block_len, c.digest, &im),
                LEDGER_OK);
            int rc = LEDGER_OK;
            for (size_t i = 0; i < c.count && rc == LEDGER_OK; i++) {
                if (i != ci) {
                    rc = ledger_snapshot_import_chunk(im, c.c[i], c.n[i]);
                    continue;
                }
                c.c[i][pos] ^= 0x01;
                rc = ledger_snapshot_import_chunk(im, c.c[i], c.n[i]);
                c.c[i][pos] ^= 0x01;
                if (rc != LEDGER_OK) { /* refused at once: nothing of it staged */
                    uint64_t ni;
                    next_of(im, &ni, &complete);
                    assert_int_equal(ni, ci);
                }
            }
            uint64_t ni;
            next_of(im, &ni, &complete);
            /* refused, or (the last chunk's "last" flag cleared) still incomplete */
            assert_true(rc != LEDGER_OK || !complete);
            assert_untouched(f->dst);
            assert_int_equal(ledger_snapshot_import_finish(im), LEDGER_E_INVALID);
            tried++;
            if (tried > 60)
                break;
        }
        if (tried > 60)
            break;
    }
    /* truncations of the first chunk: refused, nothing staged */
    ledger_snapshot_import_free(im);
    fresh_dst(f);
    assert_int_equal(
        ledger_store_snapshot_import_begin(f->dst, c.block, c.block_len, c.digest, &im), LEDGER_OK);
    for (size_t cut = 0; cut < c.n[0]; cut += c.n[0] / 50 + 1) {
        assert_int_equal(ledger_snapshot_import_chunk(im, c.c[0], cut), LEDGER_E_DECODE);
        uint64_t idx;
        int complete;
        next_of(im, &idx, &complete);
        assert_int_equal(idx, 0);
    }
    /* then the right chunks from "another peer" complete it */
    assert_int_equal(feed(im, &c, 0), LEDGER_OK);
    finish_same_state(f, im);
    chunks_free(&c);
}

/* The snapshot digest of chunks as f+1 colluding replicas would compute it over
 * the chunks they serve (docs/formats/ledger.md §Snapshot chunk, the chunk
 * chain): d = SHA-256("FSLEDGER/SNAP/S1" ‖ B ‖ header hash), then per chunk
 * d = SHA-256("FSLEDGER/SNAP/C1" ‖ d ‖ SHA-256(chunk)). */
static void chain_digest(const chunks *c, uint8_t out[32]) {
    ledger_block *b = NULL;
    assert_int_equal(ledger_block_decode(&b, c->block, c->block_len), LEDGER_OK);
    uint8_t buf[16 + 32 + 32], d[32], ch[32];
    memcpy(buf, "FSLEDGER/SNAP/S1", 16);
    for (int i = 0; i < 8; i++)
        buf[16 + i] = (uint8_t)(c->height >> (56 - 8 * i));
    memcpy(buf + 24, ledger_block_header_hash(b), 32);
    assert_int_equal(ledger_sha256(d, buf, 56), LEDGER_OK);
    for (size_t i = 0; i < c->count; i++) {
        assert_int_equal(ledger_sha256(ch, c->c[i], c->n[i]), LEDGER_OK);
        memcpy(buf, "FSLEDGER/SNAP/C1", 16);
        memcpy(buf + 16, d, 32);
        memcpy(buf + 48, ch, 32);
        assert_int_equal(ledger_sha256(d, buf, sizeof buf), LEDGER_OK);
    }
    memcpy(out, d, 32);
    ledger_block_free(b);
}

/* Offset of a value byte of the first entry of chunk i whose value is longer than 64. */
static size_t value_byte(const chunks *c, size_t i) {
    const uint8_t *p = c->c[i] + 26, *end = c->c[i] + c->n[i];
    while (p < end) {
        uint32_t kl = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
        const uint8_t *v = p + 5 + kl;
        uint32_t vl = (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 | (uint32_t)v[2] << 8 | v[3];
        if (vl > 64)
            return (size_t)(v + 4 + 40 - c->c[i]);
        p = v + 4 + vl;
    }
    fail_msg("no long value in chunk %zu", i);
    return 0;
}

/* f+1 colluding replicas serve a state altered consistently: every chunk
 * decodes, the chunk chain they offer is computed over the altered chunks, so
 * the f+1 rule alone (the old check) installed it. The base block's header
 * commits to the state digest, which the altered entries do not reproduce:
 * refused, nothing installed, and the honest snapshot then installs. The old
 * code installed the altered state (it checked only the offered chain). */
static void test_colluding_snapshot_refused(void **state) {
    fixture *f = *state;
    chunks c;
    export_all(f->src, &c);
    ledger_block *b = NULL;
    assert_int_equal(ledger_block_decode(&b, c.block, c.block_len), LEDGER_OK);
    assert_int_equal(ledger_block_format(b), 3);
    assert_non_null(ledger_block_state_digest(b));
    assert_memory_equal(ledger_block_state_digest(b), c.digest,
                        32); /* what honest replicas offer */
    ledger_block_free(b);
    assert_true(c.count >= 3);

    /* alter one value in chunk 1 (same length: every boundary stays) */
    chunks bad = c;
    size_t off = value_byte(&c, 1);
    uint8_t *alt = malloc(c.n[1]);
    assert_non_null(alt);
    memcpy(alt, c.c[1], c.n[1]);
    alt[off] ^= 0x01;
    bad.c[1] = alt;
    uint8_t colluders[32];
    chain_digest(&bad, colluders);
    assert_memory_not_equal(colluders, c.digest, 32);

    /* the colluders' digest: not the one the header names */
    ledger_snapshot_import *im = NULL;
    int rc = ledger_store_snapshot_import_begin(f->dst, bad.block, bad.block_len, colluders, &im);
    if (rc == LEDGER_OK) { /* (the old code took it, and installed the altered state) */
        rc = feed(im, &bad, 0);
        if (rc == LEDGER_OK)
            rc = ledger_snapshot_import_finish(im);
        ledger_snapshot_import_free(im);
        im = NULL;
    }
    assert_int_not_equal(rc, LEDGER_OK);
    assert_untouched(f->dst);

    /* the header's digest with the altered chunks: the last chunk fails, all dropped */
    assert_int_equal(
        ledger_store_snapshot_import_begin(f->dst, bad.block, bad.block_len, c.digest, &im),
        LEDGER_OK);
    assert_int_equal(feed(im, &bad, 0), LEDGER_E_HASH);
    uint64_t idx;
    int complete;
    next_of(im, &idx, &complete);
    assert_int_equal(idx, 0);
    assert_false(complete);
    assert_int_equal(ledger_snapshot_import_finish(im), LEDGER_E_INVALID);
    assert_untouched(f->dst);

    /* a byte flipped anywhere in any chunk (header, keys, values; sampled
     * positions): refused — at that chunk, or at the last one against the
     * header's digest — and nothing is ever installed */
    size_t flips = 0;
    for (size_t i = 0; i < c.count; i++) {
        for (size_t k = 0; k < c.n[i]; k += c.n[i] / 11 + 1) {
            uint8_t *x = malloc(c.n[i]);
            assert_non_null(x);
            memcpy(x, c.c[i], c.n[i]);
            x[k] ^= 0x20;
            chunks fl = c;
            fl.c[i] = x;
            next_of(im, &idx, &complete);
            assert_true(idx <= i); /* whatever is staged, the flipped chunk is still to come */
            assert_int_not_equal(feed(im, &fl, (size_t)idx), LEDGER_OK);
            free(x);
            next_of(im, &idx, &complete);
            assert_false(complete);
            assert_untouched(f->dst);
            flips++;
        }
    }
    assert_true(flips > 20);
    ledger_snapshot_import_free(im);
    free(alt);

    /* the honest chunks install, and the store's state digest is the header's */
    assert_int_equal(
        ledger_store_snapshot_import_begin(f->dst, c.block, c.block_len, c.digest, &im), LEDGER_OK);
    next_of(im, &idx, &complete); /* (resumes what the flips left staged) */
    assert_int_equal(feed(im, &c, (size_t)idx), LEDGER_OK);
    assert_int_equal(ledger_snapshot_import_finish(im), LEDGER_OK);
    ledger_snapshot_import_free(im);
    assert_int_equal(ledger_store_height(f->dst), c.height);
    /* the next block appended on the snapshot-started store carries a digest
     * computed from the installed accumulator: the source agrees */
    ledger_tx *txs[1] = {t_put(f->alice, ++f->anonce, "after", "snap")};
    ledger_block *nb = next_block(f, txs, 1);
    assert_int_equal(ledger_store_append(f->src, nb), LEDGER_OK);
    assert_int_equal(ledger_store_append(f->dst, nb), LEDGER_OK);
    ledger_block_free(nb);
    chunks_free(&c);
}

/* Another height's chunks, a wrong digest, a block with a forged certificate. */
static void test_wrong_height_digest_block(void **state) {
    fixture *f = *state;
    chunks old;
    export_all(f->src, &old);
    commit(f, t_put(f->alice, ++f->anonce, "later", "z"));
    chunks c;
    export_all(f->src, &c);
    assert_int_equal(c.height, old.height + 1);
    ledger_snapshot_import *im = NULL;
    assert_int_equal(
        ledger_store_snapshot_import_begin(f->dst, c.block, c.block_len, c.digest, &im), LEDGER_OK);
    assert_int_equal(ledger_snapshot_import_chunk(im, old.c[0], old.n[0]), LEDGER_E_HEIGHT);
    /* chunk 1 before chunk 0 */
    assert_int_equal(ledger_snapshot_import_chunk(im, c.c[1], c.n[1]), LEDGER_E_HEIGHT);
    assert_untouched(f->dst);
    ledger_snapshot_import_free(im);

    /* a digest that is not the one the block's (format 3) header names:
     * refused at once, nothing staged */
    uint8_t wrong[32];
    memcpy(wrong, c.digest, 32);
    wrong[7] ^= 0x80;
    assert_int_equal(ledger_store_snapshot_import_begin(f->dst, c.block, c.block_len, wrong, &im),
                     LEDGER_E_HASH);
    assert_null(im);
    assert_untouched(f->dst);

    /* the block of the older height with this snapshot's digest: refused */
    assert_int_equal(
        ledger_store_snapshot_import_begin(f->dst, old.block, old.block_len, c.digest, &im),
        LEDGER_E_HASH);
    assert_null(im);
    assert_untouched(f->dst);

    /* the older block with its own digest, fed this snapshot's chunks: they
     * name another height */
    assert_int_equal(
        ledger_store_snapshot_import_begin(f->dst, old.block, old.block_len, old.digest, &im),
        LEDGER_OK);
    assert_int_equal(feed(im, &c, 0), LEDGER_E_HEIGHT);
    assert_untouched(f->dst);
    ledger_snapshot_import_free(im);

    /* a block whose certificate has a flipped signature byte (last bytes of
     * the encoding): refused at begin or at finish, nothing installed */
    uint8_t *bad = malloc(c.block_len);
    assert_non_null(bad);
    memcpy(bad, c.block, c.block_len);
    bad[c.block_len - 3] ^= 0x04;
    int rc = ledger_store_snapshot_import_begin(f->dst, bad, c.block_len, c.digest, &im);
    if (rc == LEDGER_OK) {
        /* the digest binds the header hash, which the signature does not change */
        assert_int_equal(feed(im, &c, 0), LEDGER_OK);
        assert_int_equal(ledger_snapshot_import_finish(im), LEDGER_E_CERTIFICATE);
        ledger_snapshot_import_free(im);
    }
    assert_untouched(f->dst);
    free(bad);

    /* the good import still works after all that */
    fresh_dst(f);
    assert_int_equal(
        ledger_store_snapshot_import_begin(f->dst, c.block, c.block_len, c.digest, &im), LEDGER_OK);
    assert_int_equal(feed(im, &c, 0), LEDGER_OK);
    assert_int_equal(ledger_snapshot_import_finish(im), LEDGER_OK);
    ledger_snapshot_import_free(im);
    assert_int_equal(ledger_store_height(f->dst), c.height);
    chunks_free(&old);
    chunks_free(&c);
}

/* A process importing is killed (-9) after staging two chunks; a new one
 * resumes at chunk 2 and completes. */
static void test_killed_mid_import(void **state) {
    fixture *f = *state;
    chunks c;
    export_all(f->src, &c);
    assert_true(c.count > 3);
    ledger_store_close(f->dst);
    f->dst = NULL;
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        ledger_store *s = NULL;
        ledger_snapshot_import *im = NULL;
        if (ledger_store_open(&s, f->dst_path, f->m, ledger_kv_app(), NULL, NULL) ||
            ledger_store_snapshot_import_begin(s, c.block, c.block_len, c.digest, &im) ||
            ledger_snapshot_import_chunk(im, c.c[0], c.n[0]) ||
            ledger_snapshot_import_chunk(im, c.c[1], c.n[1]))
            _exit(1);
        char ok = 'k';
        if (write(p[1], &ok, 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    close(p[1]);
    char got = 0;
    assert_int_equal(read(p[0], &got, 1), 1);
    close(p[0]);
    assert_int_equal(got, 'k');
    assert_int_equal(kill(pid, SIGKILL), 0);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st));

    assert_int_equal(ledger_store_open(&f->dst, f->dst_path, f->m, ledger_kv_app(), NULL, NULL),
                     LEDGER_OK);
    assert_untouched(f->dst);
    ledger_snapshot_import *im = NULL;
    assert_int_equal(
        ledger_store_snapshot_import_begin(f->dst, c.block, c.block_len, c.digest, &im), LEDGER_OK);
    uint64_t idx;
    int complete;
    next_of(im, &idx, &complete);
    assert_int_equal(idx, 2);
    assert_int_equal(feed(im, &c, 2), LEDGER_OK);
    finish_same_state(f, im);
    chunks c2;
    export_all(f->dst, &c2);
    assert_memory_equal(c.digest, c2.digest, 32);
    chunks_free(&c2);
    chunks_free(&c);
}

/* The chunk decoder refuses what is out of range. */
static void test_chunk_codec(void **state) {
    (void)state;
    uint8_t c[26 + 5 + 1 + 4 + 1];
    memcpy(c, "LDSC", 4);
    c[4] = 1;
    memset(c + 5, 0, 8);
    c[12] = 7; /* height 7 */
    memset(c + 13, 0, 8);
    c[21] = 1; /* last */
    c[22] = c[23] = c[24] = 0;
    c[25] = 1; /* one entry */
    c[26] = 0; /* state */
    c[27] = c[28] = c[29] = 0;
    c[30] = 1;
    c[31] = 'k';
    c[32] = c[33] = c[34] = 0;
    c[35] = 1;
    c[36] = 'v';
    uint64_t h, i;
    int last;
    uint32_t n;
    assert_int_equal(ledger_snapshot_chunk_check(c, sizeof c, &h, &i, &last, &n), LEDGER_OK);
    assert_int_equal(h, 7);
    assert_int_equal(n, 1);
    assert_true(last);
    for (size_t cut = 0; cut < sizeof c; cut++)
        assert_int_not_equal(ledger_snapshot_chunk_check(c, cut, NULL, NULL, NULL, NULL),
                             LEDGER_OK);
    uint8_t t[sizeof c + 1];
    memcpy(t, c, sizeof c);
    t[sizeof c] = 0;
    assert_int_equal(ledger_snapshot_chunk_check(t, sizeof t, NULL, NULL, NULL, NULL),
                     LEDGER_E_DECODE);
    c[4] = 2;
    assert_int_equal(ledger_snapshot_chunk_check(c, sizeof c, NULL, NULL, NULL, NULL),
                     LEDGER_E_VERSION);
    c[4] = 1;
    c[26] = 2; /* namespace 2 */
    assert_int_equal(ledger_snapshot_chunk_check(c, sizeof c, NULL, NULL, NULL, NULL),
                     LEDGER_E_DECODE);
    c[26] = 1; /* a nonce entry must have a 32-byte key and 8-byte value */
    assert_int_equal(ledger_snapshot_chunk_check(c, sizeof c, NULL, NULL, NULL, NULL),
                     LEDGER_E_DECODE);
    c[26] = 0;
    c[21] = 3; /* unknown flag */
    assert_int_equal(ledger_snapshot_chunk_check(c, sizeof c, NULL, NULL, NULL, NULL),
                     LEDGER_E_DECODE);
    assert_int_equal(ledger_snapshot_chunk_check(NULL, 0, NULL, NULL, NULL, NULL),
                     LEDGER_E_INVALID);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flipped_and_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_height_digest_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_colluding_snapshot_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_killed_mid_import, setup, teardown),
        cmocka_unit_test(test_chunk_codec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
