/* A small in-memory store for testing the replica alone (no LMDB): blocks are
 * (height, view, proposal bytes, certificate); the header hash is
 * SHA-256(prev hash ‖ SHA-256(proposal)); commit and put_block verify the
 * certificate against the member keys exactly as the real store does. */
#ifndef MOCK_STORE_H
#define MOCK_STORE_H

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/lc_map.h"
#include "consensus/lc_replica.h"
#include "ledger/membership.h"
#include "ledger/tx.h"

#define MOCK_MAX_BLOCKS 2048

typedef struct {
    uint64_t view;
    uint8_t hh[32];
    uint64_t ts;
    uint8_t *prop;
    size_t prop_len;
    uint32_t nsig;
    uint32_t signers[16];
    uint8_t sigs[16][64];
} mock_block;

typedef struct {
    pthread_mutex_t mu;
    uint32_t n, f;
    uint8_t (*pks)[32];
    uint8_t chain_id[32];
    uint64_t height;
    mock_block *blocks; /* MOCK_MAX_BLOCKS + 1 */
    lc_map txs;         /* hash -> height << 20 | index */
} mock_store;

typedef struct {
    uint64_t height;
    uint8_t hh[32];
    uint8_t *prop;
    size_t prop_len;
    uint64_t ts;
} mock_pending;

static void mk_tip(void *ctx, uint64_t *h, uint8_t hash[32], uint64_t *ts) {
    mock_store *m = ctx;
    pthread_mutex_lock(&m->mu);
    *h = m->height;
    if (m->height) {
        memcpy(hash, m->blocks[m->height].hh, 32);
        *ts = m->blocks[m->height].ts;
    } else {
        memset(hash, 0, 32);
        *ts = 0;
    }
    pthread_mutex_unlock(&m->mu);
}

static void mk_check_txs(void *ctx, const uint8_t *const *tx, const size_t *len, size_t n,
                         int *status) {
    (void)ctx;
    for (size_t i = 0; i < n; i++) {
        ledger_tx *t;
        status[i] = ledger_tx_decode(&t, tx[i], len[i]);
        if (status[i] == 0) {
            status[i] = ledger_tx_verify(t);
            ledger_tx_free(t);
        }
    }
}

static void mk_header(const uint8_t prev[32], const uint8_t *prop, size_t n, uint8_t out[32]) {
    uint8_t d[64];
    memcpy(d, prev, 32);
    crypto_hash_sha256(d + 32, prop, n);
    crypto_hash_sha256(out, d, 64);
}

static int mk_prepare(void *ctx, const lc_proposal *pr, void **blk, uint8_t hh[32]) {
    mock_store *m = ctx;
    uint64_t h;
    uint8_t prev[32];
    uint64_t ts;
    mk_tip(ctx, &h, prev, &ts);
    if (pr->height != h + 1)
        return -207;
    /* the block's time: the proposal's, or the parent's if later (as node.c) */
    uint64_t bts = pr->ts_ms > ts ? pr->ts_ms : ts;
    /* every transaction must verify (a byzantine primary may have added junk) */
    size_t off = 0;
    const uint8_t *t;
    size_t len;
    for (uint32_t i = 0; i < pr->ntx; i++) {
        ledger_tx *x;
        if (lc_proposal_next_tx(pr, &off, &t, &len) != 0 || ledger_tx_decode(&x, t, len) != 0)
            return -201;
        int rc = ledger_tx_verify(x);
        ledger_tx_free(x);
        if (rc)
            return rc;
    }
    (void)m;
    /* re-encode the proposal: it is what the block holds */
    lc_wr w;
    lc_wr_init(&w);
    lc_wr_bytes(&w, "LCPR", 4);
    lc_wr_u8(&w, LC_MSG_VERSION);
    lc_wr_u64(&w, pr->height);
    lc_wr_u64(&w, pr->view);
    lc_wr_u32(&w, pr->proposer);
    lc_wr_u64(&w, bts);
    lc_wr_u32(&w, pr->ntx);
    lc_wr_bytes(&w, pr->txs, pr->txs_len);
    mock_pending *p = calloc(1, sizeof *p);
    p->height = pr->height;
    p->prop = w.p;
    p->prop_len = w.n;
    p->ts = bts;
    mk_header(prev, w.p, w.n, p->hh);
    memcpy(hh, p->hh, 32);
    *blk = p;
    return 0;
}

static int mk_verify_cert(mock_store *m, uint64_t height, uint64_t view, const uint8_t hh[32],
                          uint32_t k, const uint32_t *signers, const uint8_t (*sigs)[64]) {
    uint8_t stmt[LEDGER_COMMIT_STATEMENT_BYTES];
    ledger_commit_statement(stmt, m->chain_id, height, view, hh);
    uint64_t seen = 0;
    uint32_t good = 0;
    for (uint32_t i = 0; i < k; i++) {
        if (signers[i] >= m->n || ((seen >> signers[i]) & 1))
            return -204;
        if (crypto_sign_verify_detached(sigs[i], stmt, sizeof stmt, m->pks[signers[i]]) != 0)
            return -204;
        seen |= 1ull << signers[i];
        good++;
    }
    return good >= (m->n + m->f) / 2 + 1 ? 0 : -204;
}

static int mk_append(mock_store *m, uint64_t height, uint64_t view, const uint8_t hh[32],
                     uint64_t ts, uint8_t *prop, size_t prop_len, uint32_t k,
                     const uint32_t *signers, const uint8_t (*sigs)[64]) {
    pthread_mutex_lock(&m->mu);
    if (height != m->height + 1 || height > MOCK_MAX_BLOCKS || k > 16) {
        pthread_mutex_unlock(&m->mu);
        return -207;
    }
    mock_block *b = &m->blocks[height];
    b->view = view;
    memcpy(b->hh, hh, 32);
    b->ts = ts;
    b->prop = prop;
    b->prop_len = prop_len;
    b->nsig = k;
    memcpy(b->signers, signers, k * sizeof *signers);
    memcpy(b->sigs, sigs, (size_t)k * 64);
    lc_proposal pr;
    if (lc_proposal_decode(&pr, prop, prop_len) == 0) {
        size_t off = 0;
        const uint8_t *t;
        size_t len;
        for (uint32_t i = 0; i < pr.ntx; i++) {
            uint8_t th[32];
            lc_proposal_next_tx(&pr, &off, &t, &len);
            crypto_hash_sha256(th, t, len);
            lc_map_put(&m->txs, th, (height << 20) | i);
        }
    }
    m->height = height;
    pthread_mutex_unlock(&m->mu);
    return 0;
}

static int mk_commit(void *ctx, void *blk, uint64_t view, const uint32_t *signers,
                     const uint8_t (*sigs)[64], size_t k) {
    mock_store *m = ctx;
    mock_pending *p = blk;
    int rc = mk_verify_cert(m, p->height, view, p->hh, (uint32_t)k, signers, sigs);
    if (rc)
        return rc;
    rc = mk_append(m, p->height, view, p->hh, p->ts, p->prop, p->prop_len, (uint32_t)k, signers,
                   sigs);
    if (rc)
        return rc;
    free(p);
    return 0;
}

static void mk_drop(void *ctx, void *blk) {
    (void)ctx;
    mock_pending *p = blk;
    if (p)
        free(p->prop);
    free(p);
}

static int mk_find_tx(void *ctx, const uint8_t hash[32], uint64_t *height, uint32_t *index,
                      int32_t *status, uint8_t bh[32]) {
    mock_store *m = ctx;
    pthread_mutex_lock(&m->mu);
    lc_map_ent *e = lc_map_get(&m->txs, hash);
    int rc = -208;
    if (e) {
        *height = e->val >> 20;
        *index = (uint32_t)(e->val & 0xFFFFF);
        *status = 0;
        memcpy(bh, m->blocks[*height].hh, 32);
        rc = 0;
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static int32_t mk_tx_status(void *ctx, const uint8_t hash[32]) {
    (void)ctx;
    (void)hash;
    return 0;
}

/* block encoding: u64 height ‖ u64 view ‖ u64 ts ‖ var proposal ‖ u32 k ‖ k × (u32 signer ‖ sig) */
static int mk_get_block(void *ctx, uint64_t height, uint8_t **enc, size_t *n) {
    mock_store *m = ctx;
    pthread_mutex_lock(&m->mu);
    if (height == 0 || height > m->height) {
        pthread_mutex_unlock(&m->mu);
        return -208;
    }
    mock_block *b = &m->blocks[height];
    lc_wr w;
    lc_wr_init(&w);
    lc_wr_u64(&w, height);
    lc_wr_u64(&w, b->view);
    lc_wr_u64(&w, b->ts);
    lc_wr_var(&w, b->prop, b->prop_len);
    lc_wr_u32(&w, b->nsig);
    for (uint32_t i = 0; i < b->nsig; i++) {
        lc_wr_u32(&w, b->signers[i]);
        lc_wr_bytes(&w, b->sigs[i], 64);
    }
    pthread_mutex_unlock(&m->mu);
    *enc = w.p;
    *n = w.n;
    return 0;
}

static int mk_put_block(void *ctx, const uint8_t *enc, size_t n) {
    mock_store *m = ctx;
    lc_rd rd;
    lc_rd_init(&rd, enc, n);
    uint64_t height = lc_rd_u64(&rd), view = lc_rd_u64(&rd), ts = lc_rd_u64(&rd);
    size_t pl;
    const uint8_t *prop = lc_rd_var(&rd, &pl, 1u << 24);
    uint32_t k = lc_rd_u32(&rd);
    if (rd.bad || k > 64)
        return -201;
    uint32_t signers[64];
    uint8_t sigs[64][64];
    for (uint32_t i = 0; i < k; i++) {
        signers[i] = lc_rd_u32(&rd);
        lc_rd_copy(&rd, sigs[i], 64);
    }
    if (!lc_rd_done(&rd))
        return -201;
    uint64_t th;
    uint8_t prev[32];
    uint64_t tts;
    mk_tip(ctx, &th, prev, &tts);
    if (height != th + 1)
        return -207;
    uint8_t hh[32];
    mk_header(prev, prop, pl, hh);
    int rc = mk_verify_cert(m, height, view, hh, k, signers, (const uint8_t(*)[64])sigs);
    if (rc)
        return rc;
    uint8_t *copy = malloc(pl);
    memcpy(copy, prop, pl);
    return mk_append(m, height, view, hh, ts, copy, pl, k, signers, (const uint8_t(*)[64])sigs);
}

/* certificate encoding: u64 view ‖ u32 k ‖ k × (u32 signer ‖ sig) */
static int mk_get_cert(void *ctx, uint64_t height, uint8_t **enc, size_t *n) {
    mock_store *m = ctx;
    pthread_mutex_lock(&m->mu);
    if (height == 0 || height > m->height) {
        pthread_mutex_unlock(&m->mu);
        return -208;
    }
    mock_block *b = &m->blocks[height];
    lc_wr w;
    lc_wr_init(&w);
    lc_wr_u64(&w, b->view);
    lc_wr_u32(&w, b->nsig);
    for (uint32_t i = 0; i < b->nsig; i++) {
        lc_wr_u32(&w, b->signers[i]);
        lc_wr_bytes(&w, b->sigs[i], 64);
    }
    pthread_mutex_unlock(&m->mu);
    *enc = w.p;
    *n = w.n;
    return 0;
}

static int mk_check_cert(void *ctx, uint64_t height, const uint8_t hh[32], const uint8_t *cert,
                         size_t n) {
    mock_store *m = ctx;
    lc_rd rd;
    lc_rd_init(&rd, cert, n);
    uint64_t view = lc_rd_u64(&rd);
    uint32_t k = lc_rd_u32(&rd);
    if (rd.bad || k > 64)
        return -201;
    uint32_t signers[64];
    uint8_t sigs[64][64];
    for (uint32_t i = 0; i < k; i++) {
        signers[i] = lc_rd_u32(&rd);
        lc_rd_copy(&rd, sigs[i], 64);
    }
    if (!lc_rd_done(&rd))
        return -201;
    return mk_verify_cert(m, height, view, hh, k, signers, (const uint8_t(*)[64])sigs);
}

static int mk_query(void *ctx, uint8_t kind, const uint8_t *arg, size_t n, uint8_t **out,
                    size_t *outn) {
    if (kind == LC_Q_TIP && n == 0) {
        uint64_t h, ts;
        uint8_t hh[32];
        mk_tip(ctx, &h, hh, &ts);
        uint8_t *b = malloc(48);
        lc_put_u64(b, h);
        memcpy(b + 8, hh, 32);
        lc_put_u64(b + 40, ts);
        *out = b;
        *outn = 48;
        return 0;
    }
    /* a state key that exists once its height is executed: the u64 height */
    if (kind == LC_Q_STATE && n == 8) {
        mock_store *m = ctx;
        uint64_t want = lc_get_u64(arg);
        pthread_mutex_lock(&m->mu);
        int have = m->height >= want;
        pthread_mutex_unlock(&m->mu);
        if (!have)
            return -208;
        *out = malloc(8);
        memcpy(*out, arg, 8);
        *outn = 8;
        return 0;
    }
    return -200;
}

static void mock_init(mock_store *m, uint32_t n, uint32_t f, uint8_t (*pks)[32],
                      const uint8_t chain[32]) {
    memset(m, 0, sizeof *m);
    pthread_mutex_init(&m->mu, NULL);
    m->n = n;
    m->f = f;
    m->pks = pks;
    memcpy(m->chain_id, chain, 32);
    m->blocks = calloc(MOCK_MAX_BLOCKS + 1, sizeof *m->blocks);
}

static void mock_free(mock_store *m) {
    for (uint64_t h = 1; h <= m->height; h++)
        free(m->blocks[h].prop);
    lc_map_free(&m->txs);
    free(m->blocks);
    pthread_mutex_destroy(&m->mu);
}

static int mk_hash_at(void *ctx, uint64_t height, uint8_t hash[32]) {
    mock_store *m = ctx;
    pthread_mutex_lock(&m->mu);
    int rc = height == 0 || height > m->height ? -208 : 0;
    if (rc == 0)
        memcpy(hash, m->blocks[height].hh, 32);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static lc_store_ops mock_ops(mock_store *m) {
    lc_store_ops o = {m, mk_check_txs, mk_tip, mk_prepare, mk_commit, mk_drop, mk_find_tx,
                      mk_tx_status, mk_get_block, mk_put_block, mk_check_cert, mk_get_cert,
                      mk_query, mk_hash_at, NULL,
                      /* no snapshots: the mock store has no state to export */
                      NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    return o;
}

#endif
