/* ledger_node: one replica = store + application + transport + PBFT loop. */
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stddef.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ledger/kv.h"
#include "ledger/reconfig.h"
#include "ledger/node.h"
#include "ledger/snapshot.h"
#include "ledger/store.h"
#include "ledger/upgrade.h"
#include "lc_config.h"
#include "lc_net.h"
#include "lc_replica.h"
#include "store_internal.h"

struct ledger_node {
    ledger_store *st;
    ledger_membership *m;
    lc_net *net;
    lc_replica *rep;
    pthread_t thr;
    uint32_t self;
    uint64_t height, view; /* mirrored for other threads (atomics) */
    lc_net_handler inner;
    char (*keep_addrs)[64];
    uint8_t (*keep_pks)[32];
    uint8_t *keep_sk;
    uint8_t chain_id[32];                    /* signed over by blob putters */
    ledger_blob_authorize_fn blob_authorize; /* NULL: replica member keys only */
    void *blob_ctx;
    char fault_file[512];
    time_t fault_mtime;
    uint64_t fault_check;
    uint64_t addr_check; /* last look for replica addresses in the membership */
    uint32_t nrep;       /* configured replicas */
#ifdef LEDGER_FAULT_INJECTION
    int trace_fd; /* trace validation: protocol events (docs/formal.md); -1: none */
#endif
    lc_logger lg;
    uint32_t app_max; /* highest application version the app executes */
    int halted;       /* atomic: an upgrade this build lacks is in force */
    ledger_upgrade_info halt_info;
    pthread_mutex_t halt_lock; /* guards halt_info */
    /* snapshots pinned at the last two multiples of K, for joining replicas,
     * and an import in progress (loop thread only) */
    ledger_snapshot *pin[2];
    uint8_t pin_hash[2][32], pin_digest[2][32];
    int pin_digest_ok[2];
    ledger_snapshot_import *imp;
};

/* The next block needs an application version this build lacks: execute
 * nothing more, say so once. */
static void node_halt(ledger_node *nd) {
    if (__atomic_exchange_n(&nd->halted, 1, __ATOMIC_SEQ_CST))
        return;
    ledger_upgrade_info info;
    memset(&info, 0, sizeof info);
    uint32_t v = 0;
    ledger_store_app_version(nd->st, &v);
    if (ledger_store_upgrade(nd->st, NULL, &info) != LEDGER_OK) {
        info.version = v;
        snprintf(info.name, sizeof info.name, "?");
    }
    pthread_mutex_lock(&nd->halt_lock);
    nd->halt_info = info;
    pthread_mutex_unlock(&nd->halt_lock);
    ledger_tip t;
    ledger_store_tip(nd->st, &t);
    lc_log(&nd->lg, LEDGER_LOG_ERROR,
           "ledger node %u: UPGRADE NEEDED: halted before block %llu: upgrade \"%s\" puts "
           "application version %u in force at height %llu, and this build executes versions 1 "
           "to %u; install a release with version %u and restart",
           nd->self, (unsigned long long)(t.height + 1), info.name, info.version,
           (unsigned long long)info.height, nd->app_max, info.version);
}

/* After a store call: halt when it refused for a missing version, and also as
 * soon as the block just committed makes the next block need one — without
 * waiting for a proposal that a halted primary would never send. */
static int halt_if_needed(ledger_node *nd, int rc) {
    uint32_t next = 0;
    if (rc == LEDGER_E_UPGRADE_NEEDED ||
        (rc == LEDGER_OK && ledger_store_app_version(nd->st, &next) == LEDGER_OK &&
         next > nd->app_max))
        node_halt(nd);
    return rc;
}

/* ---- binding of the replica to the store ------------------------------ */

static void b_check_txs(void *ctx, const uint8_t *const *tx, const size_t *len, size_t n,
                        int *status) {
    ledger_node *nd = ctx;
    for (size_t i = 0; i < n; i++) {
        ledger_tx *t;
        status[i] = ledger_tx_decode(&t, tx[i], len[i]);
        if (status[i] != LEDGER_OK)
            continue;
        status[i] = ledger_store_check_tx(nd->st, t);
        ledger_tx_free(t);
    }
}

static void b_tip(void *ctx, uint64_t *height, uint8_t hash[32], uint64_t *ts) {
    ledger_node *nd = ctx;
    ledger_tip t;
    if (ledger_store_tip(nd->st, &t) != LEDGER_OK)
        memset(&t, 0, sizeof t);
    *height = t.height;
    memcpy(hash, t.hash, 32);
    *ts = t.timestamp;
}

static int b_prepare(void *ctx, const lc_proposal *pr, void **blk, uint8_t header_hash[32]) {
    ledger_node *nd = ctx;
    if (__atomic_load_n(&nd->halted, __ATOMIC_SEQ_CST))
        return LEDGER_E_UPGRADE_NEEDED;
    ledger_tip tip;
    int rc = ledger_store_tip(nd->st, &tip);
    if (rc != LEDGER_OK)
        return rc;
    if (tip.height + 1 != pr->height)
        return LEDGER_E_HEIGHT;
    ledger_tx **txs = calloc(pr->ntx ? pr->ntx : 1, sizeof *txs);
    if (!txs)
        return LEDGER_E_NOMEM;
    size_t off = 0, k = 0;
    const uint8_t *t;
    size_t len;
    rc = LEDGER_OK;
    for (; k < pr->ntx; k++) {
        if (lc_proposal_next_tx(pr, &off, &t, &len) != 0) {
            rc = LEDGER_E_DECODE;
            break;
        }
        rc = ledger_tx_decode(&txs[k], t, len);
        if (rc != LEDGER_OK)
            break;
    }
    ledger_block *b = NULL;
    if (rc == LEDGER_OK)
        rc = ledger_block_create_take(&b, pr->height, tip.hash, pr->ts_ms, (uint16_t)pr->proposer,
                                      pr->view, txs, pr->ntx);
    if (rc != LEDGER_OK) {
        for (size_t i = 0; i < k; i++)
            ledger_tx_free(txs[i]);
        free(txs);
        return rc;
    }
    free(txs);
    /* the proposer checked every transaction before ordering; others verify once here */
    uint32_t flags = pr->proposer == nd->self ? 0 : LEDGER_PREPARE_VERIFY_TX;
    uint8_t root[32], epoch[32], digest[32];
    uint32_t app_version;
    /* the application version and membership in force: every replica derives
     * them from its own chain, so they are not part of the proposal */
    rc = ledger_store_block_context(nd->st, &app_version, epoch);
    if (rc == LEDGER_OK)
        rc = ledger_block_set_context(b, app_version, epoch);
    if (rc == LEDGER_OK)
        rc = halt_if_needed(nd, ledger_store_prepare_digest(nd->st, b, flags, root, digest));
    if (rc == LEDGER_OK)
        rc = ledger_block_set_state_root(b, root);
    if (rc == LEDGER_OK && ledger_block_format(b) >= 3)
        rc = ledger_block_set_state_digest(b, digest);
    if (rc != LEDGER_OK) {
        ledger_block_free(b);
        return rc;
    }
    memcpy(header_hash, ledger_block_header_hash(b), 32);
    *blk = b;
    return LEDGER_OK;
}

static int b_commit(void *ctx, void *blk, uint64_t view, const uint32_t *signers,
                    const uint8_t (*sigs)[64], size_t k) {
    ledger_node *nd = ctx;
    ledger_block *b = blk;
    ledger_cert *c;
    int rc = ledger_cert_create(&c, view);
    for (size_t i = 0; rc == LEDGER_OK && i < k; i++)
        rc = ledger_cert_add(c, (uint16_t)signers[i], sigs[i]);
    if (rc == LEDGER_OK)
        rc = ledger_block_set_cert(b, c);
    /* the replica verified each of these signatures against the commit
     * statement of this very block (try_progress): not again */
    if (rc == LEDGER_OK)
        rc = halt_if_needed(nd, ldg_store_append_verified(nd->st, b));
    ledger_cert_free(c);
    if (rc == LEDGER_OK)
        ledger_block_free(b);
    return rc;
}

static void b_drop(void *ctx, void *blk) {
    (void)ctx;
    ledger_block_free(blk);
}

static int b_find_tx(void *ctx, const uint8_t hash[32], uint64_t *height, uint32_t *index,
                     int32_t *status, uint8_t block_hash[32]) {
    ledger_node *nd = ctx;
    int st;
    int rc = ledger_store_tx(nd->st, hash, NULL, height, index, &st);
    if (rc != LEDGER_OK)
        return rc;
    *status = st;
    ledger_block *b;
    rc = ledger_store_block(nd->st, *height, &b);
    if (rc != LEDGER_OK)
        return rc;
    memcpy(block_hash, ledger_block_header_hash(b), 32);
    ledger_block_free(b);
    return LEDGER_OK;
}

static int32_t b_tx_status(void *ctx, const uint8_t hash[32]) {
    ledger_node *nd = ctx;
    int st = LEDGER_E_NOT_FOUND;
    if (ledger_store_tx(nd->st, hash, NULL, NULL, NULL, &st) != LEDGER_OK)
        return LEDGER_E_NOT_FOUND;
    return st;
}

static int b_get_block(void *ctx, uint64_t height, uint8_t **enc, size_t *n) {
    ledger_node *nd = ctx;
    return ledger_store_block_encoding(nd->st, height, enc, n);
}

static int b_put_block(void *ctx, const uint8_t *enc, size_t n) {
    ledger_node *nd = ctx;
    ledger_block *b;
    int rc = ledger_block_decode(&b, enc, n);
    if (rc != LEDGER_OK)
        return rc;
    /* checks link, certificate, state root */
    rc = halt_if_needed(nd, ledger_store_append(nd->st, b));
    ledger_block_free(b);
    return rc;
}

static int b_check_cert(void *ctx, uint64_t height, const uint8_t hh[32], const uint8_t *cert,
                        size_t n) {
    ledger_node *nd = ctx;
    ledger_cert *c;
    int rc = ledger_cert_decode(&c, cert, n);
    if (rc != LEDGER_OK)
        return rc;
    /* against the membership in force at that height */
    ledger_membership *m = NULL;
    rc = ledger_store_membership_at(nd->st, height, &m);
    if (rc == LEDGER_OK)
        rc = ledger_cert_verify(c, m, height, hh);
    ledger_membership_free(m);
    ledger_cert_free(c);
    return rc;
}

/* ---- snapshots (ledger/snapshot.h, docs/ledger-protocol.md §Snapshot catch-up) ---- */

static void b_snap_pin(void *ctx) {
    ledger_node *nd = ctx;
    ledger_snapshot *x = NULL;
    uint8_t hash[32];
    if (ledger_store_snapshot_begin(nd->st, &x) != LEDGER_OK ||
        ledger_store_header(nd->st, ledger_snapshot_height(x), NULL, NULL, hash) != LEDGER_OK) {
        ledger_snapshot_free(x);
        return;
    }
    ledger_snapshot_free(nd->pin[1]);
    nd->pin[1] = nd->pin[0];
    memcpy(nd->pin_hash[1], nd->pin_hash[0], 32);
    memcpy(nd->pin_digest[1], nd->pin_digest[0], 32);
    nd->pin_digest_ok[1] = nd->pin_digest_ok[0];
    nd->pin[0] = x;
    memcpy(nd->pin_hash[0], hash, 32);
    nd->pin_digest_ok[0] = 0; /* computed when first offered */
}

static int b_snap_offer(void *ctx, int which, uint64_t *height, uint8_t hash[32],
                        uint8_t digest[32]) {
    ledger_node *nd = ctx;
    if (which < 0 || which > 1 || !nd->pin[which])
        return LEDGER_E_NOT_FOUND;
    if (!nd->pin_digest_ok[which]) {
        int rc = ledger_snapshot_digest(nd->pin[which], nd->pin_digest[which], NULL);
        if (rc != LEDGER_OK)
            return rc;
        nd->pin_digest_ok[which] = 1;
    }
    *height = ledger_snapshot_height(nd->pin[which]);
    memcpy(hash, nd->pin_hash[which], 32);
    memcpy(digest, nd->pin_digest[which], 32);
    return LEDGER_OK;
}

static int b_snap_get(void *ctx, uint8_t kind, uint64_t height, uint64_t index,
                      const uint8_t *resume, size_t rlen, uint8_t **out, size_t *n) {
    ledger_node *nd = ctx;
    for (int i = 0; i < 2; i++) {
        ledger_snapshot *x = nd->pin[i];
        if (!x || ledger_snapshot_height(x) != height)
            continue;
        if (kind == LC_SNAP_BLOCK)
            return ledger_snapshot_block(x, out, n);
        return ledger_snapshot_chunk(x, index, resume, rlen, out, n);
    }
    return LEDGER_E_NOT_FOUND;
}

static int b_snap_begin(void *ctx, const uint8_t *block, size_t n, const uint8_t hash[32],
                        const uint8_t digest[32]) {
    ledger_node *nd = ctx;
    ledger_block *b = NULL;
    int rc = ledger_block_decode(&b, block, n);
    if (rc == LEDGER_OK && sodium_memcmp(ledger_block_header_hash(b), hash, 32) != 0)
        rc = LEDGER_E_HASH; /* not the block the offers name */
    ledger_block_free(b);
    if (rc != LEDGER_OK)
        return rc;
    ledger_snapshot_import_free(nd->imp);
    nd->imp = NULL;
    return ledger_store_snapshot_import_begin(nd->st, block, n, digest, &nd->imp);
}

static int b_snap_next(void *ctx, uint64_t *index, uint8_t *resume, size_t *rlen, int *complete) {
    ledger_node *nd = ctx;
    return nd->imp ? ledger_snapshot_import_next(nd->imp, index, resume, rlen, complete)
                   : LEDGER_E_INVALID;
}

static int b_snap_chunk(void *ctx, const uint8_t *chunk, size_t n) {
    ledger_node *nd = ctx;
    return nd->imp ? ledger_snapshot_import_chunk(nd->imp, chunk, n) : LEDGER_E_INVALID;
}

static int b_snap_finish(void *ctx) {
    ledger_node *nd = ctx;
    if (!nd->imp)
        return LEDGER_E_INVALID;
    int rc = ledger_snapshot_import_finish(nd->imp);
    ledger_snapshot_import_free(nd->imp);
    nd->imp = NULL;
    return rc;
}

static int b_hdr_get(void *ctx, uint64_t height, uint8_t **hdr, size_t *hl, uint8_t **cert,
                     size_t *cl) {
    ledger_node *nd = ctx;
    uint8_t h[LEDGER_HEADER_BYTES];
    size_t len = 0;
    *hdr = NULL;
    *cert = NULL;
    int rc = ledger_store_header(nd->st, height, h, &len, NULL);
    if (rc == LEDGER_OK) /* from the block, or from a header held below a snapshot */
        rc = ledger_store_certificate(nd->st, height, cert, cl);
    if (rc == LEDGER_OK && !(*hdr = malloc(len)))
        rc = LEDGER_E_NOMEM;
    if (rc != LEDGER_OK) {
        free(*cert);
        *cert = NULL;
        return rc;
    }
    memcpy(*hdr, h, len);
    *hl = len;
    return LEDGER_OK;
}

static int b_hdr_lowest(void *ctx, uint64_t *lowest) {
    ledger_node *nd = ctx;
    return ledger_store_snapshot_headers(nd->st, lowest);
}

static int b_hdr_put(void *ctx, const uint8_t *hdr, size_t hl, const uint8_t *cert, size_t cl) {
    ledger_node *nd = ctx;
    return ledger_store_snapshot_put_header(nd->st, hdr, hl, cert, cl);
}

static int b_members(void *ctx, uint64_t height, uint64_t *mask, uint32_t *f) {
    ledger_node *nd = ctx;
    ledger_membership *m = NULL;
    int rc = ledger_store_membership_at(nd->st, height, &m);
    if (rc != LEDGER_OK)
        return rc;
    *mask = 0;
    for (size_t i = 0; i < ledger_membership_size(m) && i < 64; i++)
        if (ledger_membership_active(m, i))
            *mask |= 1ull << i;
    *f = ledger_membership_f(m);
    ledger_membership_free(m);
    return LEDGER_OK;
}

static int b_get_cert(void *ctx, uint64_t height, uint8_t **enc, size_t *n) {
    ledger_node *nd = ctx;
    ledger_block *b;
    int rc = ledger_store_block(nd->st, height, &b);
    if (rc != LEDGER_OK)
        return rc;
    const ledger_cert *c = ledger_block_cert(b);
    rc = c ? ledger_cert_encode(c, enc, n) : LEDGER_E_CERTIFICATE;
    ledger_block_free(b);
    return rc;
}

static int b_hash_at(void *ctx, uint64_t height, uint8_t hash[32]) {
    ledger_node *nd = ctx;
    ledger_block *b;
    int rc = ledger_store_block(nd->st, height, &b);
    if (rc != LEDGER_OK)
        return rc;
    memcpy(hash, ledger_block_header_hash(b), 32);
    ledger_block_free(b);
    return LEDGER_OK;
}

static int default_blob_authorize(ledger_node *nd, const uint8_t putter[32], uint64_t *quota) {
    /* the replicas in force (a removed replica's key no longer puts blobs) */
    if (ledger_membership_find(ledger_store_membership(nd->st), putter) >= 0) {
        *quota = LEDGER_BLOB_QUOTA_NONE;
        return LEDGER_OK;
    }
    return LEDGER_E_BLOB_DENIED;
}

/* A signed blob put (docs/formats/ledger-consensus.md §QUERY kinds):
 * u8 version=1 ‖ putter[32] ‖ sig[64] ‖ blob. The signature covers the chain
 * id, the blob's hash and its length; the hook then decides and gives the
 * putter's quota; the store checks quota and high-water mark before writing. */
static int blob_put_signed(ledger_node *nd, const uint8_t *arg, size_t n, uint8_t **out,
                           size_t *outn) {
    if (n < LC_BLOB_PUT_HEADER)
        return LEDGER_E_INVALID;
    if (arg[0] != LC_BLOB_PUT_VERSION)
        return LEDGER_E_VERSION;
    const uint8_t *putter = arg + 1, *sig = arg + 33, *data = arg + LC_BLOB_PUT_HEADER;
    size_t len = n - LC_BLOB_PUT_HEADER;
    if ((uint64_t)len > LEDGER_BLOB_MAX)
        return LEDGER_E_INVALID;
    uint8_t *h = malloc(32);
    if (!h)
        return LEDGER_E_NOMEM;
    crypto_hash_sha256(h, data, len);
    uint8_t stmt[LDG_BLOB_STMT_BYTES];
    ldg_blob_statement(stmt, nd->chain_id, h, len);
    uint64_t quota = 0;
    int rc = crypto_sign_verify_detached(sig, stmt, sizeof stmt, putter) == 0 ? LEDGER_OK
                                                                              : LEDGER_E_SIGNATURE;
    if (rc == LEDGER_OK)
        rc = nd->blob_authorize ? nd->blob_authorize(nd->blob_ctx, putter, len, &quota)
                                : default_blob_authorize(nd, putter, &quota);
    if (rc > 0)
        rc = LEDGER_E_BLOB_DENIED; /* a hook must refuse with a negative code */
    if (rc == LEDGER_OK)
        rc = ldg_store_blob_put_hashed(nd->st, putter, data, len, h, quota);
    if (rc != LEDGER_OK) {
        free(h);
        return rc;
    }
    *out = h;
    *outn = 32;
    return LEDGER_OK;
}

static int b_query(void *ctx, uint8_t kind, const uint8_t *arg, size_t n, uint8_t **out,
                   size_t *outn) {
    ledger_node *nd = ctx;
    lc_rd rd;
    lc_rd_init(&rd, arg, n);
    *out = NULL;
    *outn = 0;
    switch (kind) {
        case LC_Q_MEMBERSHIP: {
            uint64_t h = lc_rd_u64(&rd);
            if (!lc_rd_done(&rd) || h == 0)
                return LEDGER_E_INVALID;
            ledger_membership *m;
            int rc = ledger_store_membership_at(nd->st, h, &m);
            if (rc == LEDGER_OK)
                rc = ledger_membership_encode(m, out, outn);
            ledger_membership_free(m);
            return rc;
        }
        case LC_Q_CHANGES: {
            uint64_t after = lc_rd_u64(&rd), upto = lc_rd_u64(&rd);
            if (!lc_rd_done(&rd) || upto < after)
                return LEDGER_E_INVALID;
            return ldg_changes_answer(nd->st, after, upto, out, outn);
        }
        case LC_Q_BLOCK: {
            uint64_t h = lc_rd_u64(&rd);
            if (!lc_rd_done(&rd))
                return LEDGER_E_INVALID;
            return ledger_store_block_encoding(nd->st, h, out, outn);
        }
        case LC_Q_TX: {
            ledger_tx *t;
            uint64_t h;
            uint32_t idx;
            int st;
            if (n != 32)
                return LEDGER_E_INVALID;
            int rc = ledger_store_tx(nd->st, arg, &t, &h, &idx, &st);
            if (rc != LEDGER_OK)
                return rc;
            size_t tl;
            const uint8_t *te = ledger_tx_encoding(t, &tl);
            lc_wr w;
            lc_wr_init(&w);
            lc_wr_u64(&w, h);
            lc_wr_u32(&w, idx);
            lc_wr_u32(&w, (uint32_t)st);
            lc_wr_bytes(&w, te, tl);
            ledger_tx_free(t);
            if (w.oom) {
                lc_wr_free(&w);
                return LEDGER_E_NOMEM;
            }
            *out = w.p;
            *outn = w.n;
            return LEDGER_OK;
        }
        case LC_Q_STATE:
            return ledger_store_get(nd->st, arg, n, out, outn);
        case LC_Q_APP:
            return ledger_store_query(nd->st, arg, n, out, outn);
        case LC_Q_TRACE: {
            uint16_t op = lc_rd_u16(&rd);
            uint64_t from = lc_rd_u64(&rd);
            if (rd.bad || n - rd.off == 0)
                return LEDGER_E_INVALID;
            ledger_trace_entry ent[1024];
            size_t k;
            int rc = ledger_store_trace(nd->st, op, arg + rd.off, n - rd.off, from, ent, 1024, &k);
            if (rc != LEDGER_OK)
                return rc;
            lc_wr w;
            lc_wr_init(&w);
            for (size_t i = 0; i < k; i++) {
                lc_wr_u64(&w, ent[i].height);
                lc_wr_u32(&w, ent[i].index);
            }
            if (w.oom)
                return LEDGER_E_NOMEM;
            *out = w.p;
            *outn = w.n;
            return LEDGER_OK;
        }
        case LC_Q_TRACE_TIME: {
            uint64_t t0 = lc_rd_u64(&rd), t1 = lc_rd_u64(&rd);
            if (!lc_rd_done(&rd))
                return LEDGER_E_INVALID;
            uint64_t hs[4096];
            size_t k;
            int rc = ledger_store_trace_time(nd->st, t0, t1, hs, 4096, &k);
            if (rc != LEDGER_OK)
                return rc;
            lc_wr w;
            lc_wr_init(&w);
            for (size_t i = 0; i < k; i++)
                lc_wr_u64(&w, hs[i]);
            if (w.oom)
                return LEDGER_E_NOMEM;
            *out = w.p;
            *outn = w.n;
            return LEDGER_OK;
        }
        case LC_Q_BLOB_PUT: /* the unsigned form of format version 2 */
            return LEDGER_E_BLOB_ANONYMOUS;
        case LC_Q_SIGNED_PUT:
            return blob_put_signed(nd, arg, n, out, outn);
        case LC_Q_BLOB_GET:
            if (n != 32)
                return LEDGER_E_INVALID;
            return ledger_store_blob_get(nd->st, arg, out, outn);
        case LC_Q_PROOF: {
            if (n != 32)
                return LEDGER_E_INVALID;
            ledger_proof *p;
            int rc = ledger_store_proof(nd->st, arg, &p);
            if (rc != LEDGER_OK)
                return rc;
            rc = ledger_proof_encode(p, out, outn);
            ledger_proof_free(p);
            return rc;
        }
        case LC_Q_TIP: {
            ledger_tip t;
            if (n != 0)
                return LEDGER_E_INVALID;
            int rc = ledger_store_tip(nd->st, &t);
            if (rc != LEDGER_OK)
                return rc;
            uint8_t *b = malloc(48);
            if (!b)
                return LEDGER_E_NOMEM;
            lc_put_u64(b, t.height);
            memcpy(b + 8, t.hash, 32);
            lc_put_u64(b + 40, t.timestamp);
            *out = b;
            *outn = 48;
            return LEDGER_OK;
        }
        default:
            return LEDGER_E_INVALID;
    }
}

/* ---- fault settings (test builds) -------------------------------------- */

#ifdef LEDGER_FAULT_INJECTION
/* Lines: "drop P", "dup P" (per mille), "delay MS", "block i j ...", "seed S",
 * "equivocate 0|1", "snapshot_kill N" (SIGKILL after staging N snapshot
 * chunks), "snapshot_corrupt N" (serve N chunks with a flipped byte). The file is re-read when its
 * mtime changes. */
static void load_faults(ledger_node *nd) {
    struct stat sb;
    if (stat(nd->fault_file, &sb) != 0 || sb.st_mtime == nd->fault_mtime)
        return;
    nd->fault_mtime = sb.st_mtime;
    FILE *f = fopen(nd->fault_file, "r");
    if (!f)
        return;
    lc_fault ft;
    memset(&ft, 0, sizeof ft);
    int equiv = 0;
    uint64_t snap_kill = 0, snap_corrupt = 0;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char *save = NULL;
        char *k = strtok_r(line, " \t\n", &save);
        if (!k)
            continue;
        char *v;
        if (!strcmp(k, "block")) {
            while ((v = strtok_r(NULL, " \t\n", &save)))
                ft.blocked |= 1ull << (strtoul(v, NULL, 10) & 63);
            continue;
        }
        v = strtok_r(NULL, " \t\n", &save);
        uint32_t x = v ? (uint32_t)strtoul(v, NULL, 10) : 0;
        if (!strcmp(k, "drop"))
            ft.drop_permille = x;
        else if (!strcmp(k, "dup"))
            ft.dup_permille = x;
        else if (!strcmp(k, "delay"))
            ft.delay_ms_max = x;
        else if (!strcmp(k, "seed"))
            ft.seed = x;
        else if (!strcmp(k, "equivocate"))
            equiv = x != 0;
        else if (!strcmp(k, "snapshot_kill"))
            snap_kill = x;
        else if (!strcmp(k, "snapshot_corrupt"))
            snap_corrupt = x;
    }
    fclose(f);
    lc_net_set_fault(nd->net, &ft);
    lc_replica_set_equivocate(nd->rep, equiv);
    lc_replica_set_snapshot_kill(nd->rep, snap_kill);
    lc_replica_set_snapshot_corrupt(nd->rep, snap_corrupt);
    /* acknowledge: FILE.applied holds the mtime (s) of the settings now in
     * force, so a test waits for it instead of sleeping */
    char ack[sizeof nd->fault_file + 16], tmp[sizeof nd->fault_file + 16];
    snprintf(ack, sizeof ack, "%s.applied", nd->fault_file);
    snprintf(tmp, sizeof tmp, "%s.applied~", nd->fault_file);
    FILE *a = fopen(tmp, "w");
    if (a) {
        fprintf(a, "%lld\n", (long long)sb.st_mtime);
        if (fclose(a) == 0)
            rename(tmp, ack);
    }
}

/* Trace validation (docs/formal.md §Trace validation): a "trace PATH" line in
 * the fault file, read once before the loop starts, appends the replica's
 * protocol events to PATH, one write() per line (a node killed with SIGKILL
 * leaves whole lines). */
static void trace_write(void *ctx, const char *line) {
    ledger_node *nd = ctx;
    char buf[640];
    int k = snprintf(buf, sizeof buf, "%s\n", line);
    if (k > 0 && (size_t)k < sizeof buf && write(nd->trace_fd, buf, (size_t)k) != k)
        lc_log(&nd->lg, LEDGER_LOG_ERROR, "ledger node %u: trace write failed", nd->self);
}

static void open_trace(ledger_node *nd) {
    nd->trace_fd = -1;
    FILE *f = nd->fault_file[0] ? fopen(nd->fault_file, "r") : NULL;
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char *save = NULL, *k = strtok_r(line, " \t\n", &save);
        char *path = k && !strcmp(k, "trace") ? strtok_r(NULL, " \t\n", &save) : NULL;
        if (path && nd->trace_fd < 0)
            nd->trace_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    }
    fclose(f);
    if (nd->trace_fd >= 0)
        lc_replica_set_trace(nd->rep, trace_write, nd);
}
#endif

static void n_on_msg(void *ctx, uint64_t conn, uint32_t from, uint8_t type, const uint8_t *body,
                     size_t n) {
    ledger_node *nd = ctx;
    nd->inner.on_msg(nd->inner.ctx, conn, from, type, body, n);
}

static void n_on_close(void *ctx, uint64_t conn) {
    ledger_node *nd = ctx;
    nd->inner.on_close(nd->inner.ctx, conn);
}

/* A replica configured with the address "-" is dialled at the address its
 * addition recorded in the membership in force (docs/ledger-protocol.md
 * §Membership changes). Loop thread: the transport reads keep_addrs there. */
static void learn_addresses(ledger_node *nd) {
    const ledger_membership *m = ledger_store_membership(nd->st);
    for (size_t i = 0; i < ledger_membership_size(m) && i < nd->nrep; i++) {
        const char *a = ledger_membership_address(m, i);
        struct sockaddr_in sa;
        if (i == nd->self || strcmp(nd->keep_addrs[i], "-") != 0 || !a || strlen(a) >= 64 ||
            lc_parse_addr(a, &sa) != 0)
            continue;
        strcpy(nd->keep_addrs[i], a);
        lc_log(&nd->lg, LEDGER_LOG_INFO,
               "ledger node %u: replica %zu not addressed in the configuration: dialling %s, "
               "its address in the membership",
               nd->self, i, a);
    }
}

static void n_on_tick(void *ctx, uint64_t now) {
    ledger_node *nd = ctx;
    nd->inner.on_tick(nd->inner.ctx, now);
    if (now - nd->addr_check >= 100) {
        nd->addr_check = now;
        learn_addresses(nd);
    }
    __atomic_store_n(&nd->height, lc_replica_height(nd->rep), __ATOMIC_RELAXED);
    __atomic_store_n(&nd->view, lc_replica_view(nd->rep), __ATOMIC_RELAXED);
#ifdef LEDGER_FAULT_INJECTION
    if (nd->fault_file[0] && now - nd->fault_check >= 50) {
        nd->fault_check = now;
        load_faults(nd);
    }
#endif
}

static void *loop_main(void *arg) {
    ledger_node *nd = arg;
    lc_net_run(nd->net);
    return NULL;
}

LEDGER_API int ledger_node_options_init(ledger_node_options *o) {
    if (!o)
        return LEDGER_E_INVALID;
    ledger_node_options d = LEDGER_NODE_OPTIONS_INIT;
    *o = d;
    return LEDGER_OK;
}

static void node_free(ledger_node *nd) {
    lc_net_free(nd->net);
    lc_replica_free(nd->rep);
    ledger_snapshot_free(nd->pin[0]);
    ledger_snapshot_free(nd->pin[1]);
    ledger_snapshot_import_free(nd->imp);
#ifdef LEDGER_FAULT_INJECTION
    if (nd->trace_fd >= 0)
        close(nd->trace_fd);
#endif
    ledger_store_close(nd->st);
    free(nd->keep_addrs);
    free(nd->keep_pks);
    if (nd->keep_sk)
        sodium_memzero(nd->keep_sk, 64);
    free(nd->keep_sk);
    ledger_membership_free(nd->m);
    free(nd);
}

LEDGER_API int ledger_node_start(ledger_node **out, const ledger_config *cfg,
                                 const ledger_node_options *opts) {
    if (!out)
        return LEDGER_E_INVALID;
    *out = NULL;
    ledger_node_options o = LEDGER_NODE_OPTIONS_INIT;
    if (!cfg)
        return LEDGER_E_INVALID;
    if (opts && opts->version == 1) /* a version-1 struct ends at fault_file */
        memcpy(&o, opts, offsetof(ledger_node_options, blob_authorize));
    else if (opts && opts->version == 2) /* a version-2 struct ends at reserved */
        memcpy(&o, opts, offsetof(ledger_node_options, log));
    else if (opts)
        o = *opts;
    o.version = opts ? opts->version : o.version;
    opts = &o;
    if (opts->version < 1 || opts->version > LEDGER_NODE_OPTIONS_VERSION || opts->sync > 2 ||
        opts->checkpoint_every > LC_MAX_CHECKPOINT_EVERY || opts->log_level > LEDGER_LOG_DEBUG)
        return LEDGER_E_INVALID;
    lc_logger lg = {opts->log, opts->log_ctx,
                    opts->log_level ? (int)opts->log_level : LC_LOG_DEFAULT_LEVEL};
    if ((opts->handshake_timeout_ms &&
         (opts->handshake_timeout_ms < 50 || opts->handshake_timeout_ms > 600000)) ||
        opts->max_pending_conns > LC_LIM_MAX_PENDING || opts->max_clients > LC_LIM_MAX_CLIENTS ||
        opts->max_clients_per_addr > LC_LIM_MAX_CLIENTS ||
        (opts->client_idle_ms && (opts->client_idle_ms < 100 || opts->client_idle_ms > 86400000)))
        return LEDGER_E_INVALID;
    int id = opts->id >= 0 ? opts->id : cfg->self;
    const char *dir = opts->data_dir ? opts->data_dir : (cfg->data_dir[0] ? cfg->data_dir : NULL);
    const uint8_t *seed = opts->seed ? opts->seed : (cfg->have_seed ? cfg->seed : NULL);
    if (id < 0 || (uint32_t)id >= cfg->n || !dir || !seed)
        return LEDGER_E_CONFIG;
    uint8_t pk[32], sk[64];
    crypto_sign_seed_keypair(pk, sk, seed);
    if (memcmp(pk, cfg->keys[id], 32) != 0) {
        sodium_memzero(sk, sizeof sk);
        lc_log(&lg, LEDGER_LOG_ERROR, "ledger node: the key is not replica %d's member key", id);
        return LEDGER_E_CONFIG;
    }
    ledger_node *nd = calloc(1, sizeof *nd);
    if (!nd) {
        sodium_memzero(sk, sizeof sk);
        return LEDGER_E_NOMEM;
    }
    nd->self = (uint32_t)id;
    nd->nrep = cfg->n;
    nd->lg = lg;
#ifdef LEDGER_FAULT_INJECTION
    nd->trace_fd = -1;
#endif
    pthread_mutex_init(&nd->halt_lock, NULL);
    const ledger_app *app = opts->app ? opts->app : ledger_kv_app();
    nd->app_max = app->version >= 2 && app->app_version_max ? app->app_version_max : 1;
    int rc = ledger_config_membership(cfg, &nd->m);
    if (rc != LEDGER_OK)
        goto fail;
    ledger_store_options so;
    ledger_store_options_init(&so);
    uint32_t sync = opts->sync ? opts->sync : (cfg->sync ? cfg->sync : 1);
    so.sync = sync == 1;
    so.blob_limit_mib = opts->blob_limit_mib;
    memcpy(nd->chain_id, cfg->chain_id, 32);
    nd->blob_authorize = opts->blob_authorize;
    nd->blob_ctx = opts->blob_ctx;
    uint64_t bad = 0;
    rc = ledger_store_open(&nd->st, dir, nd->m, app, &so, &bad);
    if (rc != LEDGER_OK) {
        if (rc == LEDGER_E_CORRUPT)
            lc_log(&lg, LEDGER_LOG_ERROR,
                   "ledger node %d: stored chain fails verification at block %llu", id,
                   (unsigned long long)bad);
        goto fail;
    }
    uint32_t in_force = 0;
    ledger_store_app_version(nd->st, &in_force);
    if (in_force > nd->app_max)
        node_halt(nd); /* it serves reads and executes nothing */
    lc_replica_cfg rc_cfg;
    memset(&rc_cfg, 0, sizeof rc_cfg);
    rc_cfg.n = cfg->n;
    rc_cfg.f = cfg->f;
    rc_cfg.self = (uint32_t)id;
    memcpy(rc_cfg.sk, sk, 64);
    memcpy(rc_cfg.chain_id, cfg->chain_id, 32);
    rc_cfg.block_period_ms = opts->block_period_ms  ? opts->block_period_ms
                             : cfg->block_period_ms ? cfg->block_period_ms
                                                    : 5000;
    rc_cfg.max_block_txs = opts->max_block_txs ? opts->max_block_txs : cfg->max_block_txs;
    rc_cfg.checkpoint_every = opts->checkpoint_every  ? opts->checkpoint_every
                              : cfg->checkpoint_every ? cfg->checkpoint_every
                                                      : 32;
    rc_cfg.view_timeout_ms = opts->view_timeout_ms ? opts->view_timeout_ms : cfg->view_timeout_ms;
    rc_cfg.max_inflight = cfg->max_inflight;
    rc_cfg.log = lg;
    lc_store_ops ops = {nd,           b_check_txs,   b_tip,       b_prepare,    b_commit,
                        b_drop,       b_find_tx,     b_tx_status, b_get_block,  b_put_block,
                        b_check_cert, b_get_cert,    b_query,     b_hash_at,    b_members,
                        b_snap_pin,   b_snap_offer,  b_snap_get,  b_snap_begin, b_snap_next,
                        b_snap_chunk, b_snap_finish, b_hdr_get,   b_hdr_lowest, b_hdr_put};
    /* the replica keeps pointers to the member keys: copy them into the node */
    rc = LEDGER_E_NOMEM;
    nd->keep_pks = malloc(sizeof cfg->keys);
    nd->keep_addrs = malloc(sizeof cfg->addrs);
    nd->keep_sk = malloc(64);
    if (!nd->keep_pks || !nd->keep_addrs || !nd->keep_sk)
        goto fail_sk;
    memcpy(nd->keep_pks, cfg->keys, sizeof cfg->keys);
    memcpy(nd->keep_addrs, cfg->addrs, sizeof cfg->addrs);
    memcpy(nd->keep_sk, sk, 64);
    rc_cfg.pks = nd->keep_pks;
    if (lc_replica_create(&nd->rep, &rc_cfg, &ops) != 0)
        goto fail_sk;
    lc_replica_handler(nd->rep, &nd->inner);
    lc_net_config nc;
    memset(&nc, 0, sizeof nc);
    nc.self = (uint32_t)id;
    nc.n = cfg->n;
    nc.addrs = nd->keep_addrs;
    nc.pks = (const uint8_t(*)[32])nd->keep_pks;
    nc.sk = nd->keep_sk;
    nc.listen = 1;
    nc.connect_replicas = 1;
    nc.tick_ms = 2;
#define PICK(o, c) (opts->o ? opts->o : cfg->c)
    nc.handshake_ms = PICK(handshake_timeout_ms, handshake_timeout_ms);
    nc.max_pending = PICK(max_pending_conns, max_pending_conns);
    nc.max_clients = PICK(max_clients, max_clients);
    nc.max_clients_per_addr = PICK(max_clients_per_addr, max_clients_per_addr);
    nc.client_idle_ms = PICK(client_idle_ms, client_idle_ms);
#undef PICK
    lc_net_handler h = {nd, n_on_msg, n_on_tick, n_on_close};
    if (lc_net_create(&nd->net, &nc, &h) != 0) {
        lc_log(&lg, LEDGER_LOG_ERROR, "ledger node %d: cannot listen on %s", id, cfg->addrs[id]);
        rc = LEDGER_E_STARTED;
        goto fail_sk;
    }
    lc_replica_attach(nd->rep, nd->net);
    const char *ff = opts->fault_file ? opts->fault_file : cfg->fault_file;
    snprintf(nd->fault_file, sizeof nd->fault_file, "%s", ff ? ff : "");
#ifdef LEDGER_FAULT_INJECTION
    open_trace(nd);
#endif
    nd->height = lc_replica_height(nd->rep);
    if (pthread_create(&nd->thr, NULL, loop_main, nd) != 0) {
        rc = LEDGER_E_NOMEM;
        goto fail_sk;
    }
    sodium_memzero(sk, sizeof sk);
    *out = nd;
    return LEDGER_OK;
fail_sk:
    sodium_memzero(sk, sizeof sk);
fail:
    node_free(nd);
    return rc;
}

LEDGER_API void ledger_node_stop(ledger_node *nd) {
    if (!nd)
        return;
    lc_net_stop(nd->net);
    pthread_join(nd->thr, NULL);
    node_free(nd);
}

LEDGER_API uint64_t ledger_node_height(const ledger_node *nd) {
    return nd ? __atomic_load_n(&nd->height, __ATOMIC_RELAXED) : 0;
}

LEDGER_API uint64_t ledger_node_view(const ledger_node *nd) {
    return nd ? __atomic_load_n(&nd->view, __ATOMIC_RELAXED) : 0;
}

LEDGER_API int ledger_node_blob_usage(const ledger_node *nd, const uint8_t putter[32],
                                      uint64_t *bytes) {
    if (!nd || !bytes)
        return LEDGER_E_INVALID;
    return ledger_store_blob_usage(nd->st, putter, bytes);
}

LEDGER_API int ledger_node_transport_stats(const ledger_node *nd, ledger_transport_stats *out) {
    if (!nd || !out || out->version != LEDGER_TRANSPORT_STATS_VERSION)
        return LEDGER_E_INVALID;
    lc_net_stats st;
    lc_net_get_stats(nd->net, &st);
    out->reserved = 0;
    out->pending = st.pending;
    out->clients = st.clients;
    out->replica_links = st.replica_links;
    out->rx_buffer_bytes = st.rx_buffer_bytes;
    out->accepted = st.accepted;
    out->handshake_timeouts = st.handshake_timeouts;
    out->first_frame_refused = st.first_frame_refused;
    out->pending_evicted = st.pending_evicted;
    out->clients_evicted = st.clients_evicted;
    out->idle_closed = st.idle_closed;
    out->links_replaced = st.links_replaced;
    out->accept_paused = st.accept_paused;
    return LEDGER_OK;
}

LEDGER_API int ledger_node_halted(const ledger_node *nd, ledger_upgrade_info *info) {
    if (!nd)
        return LEDGER_E_INVALID;
    if (!__atomic_load_n(&nd->halted, __ATOMIC_SEQ_CST))
        return LEDGER_OK;
    if (info) {
        pthread_mutex_lock((pthread_mutex_t *)&nd->halt_lock);
        *info = nd->halt_info;
        pthread_mutex_unlock((pthread_mutex_t *)&nd->halt_lock);
    }
    return LEDGER_E_UPGRADE_NEEDED;
}

LEDGER_API int ledger_node_tip(const ledger_node *nd, ledger_tip *out) {
    if (!nd || !out)
        return LEDGER_E_INVALID;
    return ledger_store_tip(nd->st, out);
}
