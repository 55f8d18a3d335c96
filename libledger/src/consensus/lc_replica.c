/* One PBFT replica (Castro & Liskov, OSDI 1999, "Practical Byzantine Fault
 * Tolerance"), adapted to a ledger: a sequence number is a block height, the
 * ordered request is a proposal (lc_proposal), and the commit phase signs the
 * store's commit statement so that 2f+1 commits form the block's certificate.
 * See docs/ledger-protocol.md. */
#include "lc_replica.h"

#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/config.h"
#include "ledger/membership.h"
#include "lc_map.h"

#define FETCH_MAX     32 /* blocks per state-transfer reply */
#define FETCH_BYTES   (8u << 20)
#define MAX_FOLLOWERS 256
#define RESEND_MS     250        /* retransmission of the waiting slot's messages */
#define STATUS_MS     500        /* heartbeat checkpoint of the tip */
#define VC_RESEND_MS  1000       /* our VIEW-CHANGE again while its view gathers no 2f+1 */
#define VC_UNARMED    UINT64_MAX /* vc_deadline: the view-change timer not started */
#define VC_MAX_MS     60000u     /* the view-change timeout doubles up to this */
#define CK_KEEP       4          /* checkpoint votes kept per replica (distinct multiples of K) */
#define CK_BYTES      (8 + 32 + 4 + 64) /* a signed CHECKPOINT body */
#define PARK_MAX      1024              /* reads waiting for a height, all clients */
#define PARK_PER_CONN 32                /* ... per client connection */
#define PARK_MS       30000             /* a parked read is answered "not yet" after this */
/* Snapshot catch-up (docs/ledger-protocol.md §Snapshot catch-up). */
#define SNAP_REQ_MS    500   /* ask every peer for offers this often */
#define SNAP_WAIT_MS   2000  /* no answer from the chosen peer: ask another */
#define SNAP_OFFERS_MS 10000 /* no f+1 matching offers by then: fetch blocks instead */
#define SNAP_BEHIND_K  2     /* use a snapshot when a peer is this many K ahead of an empty store */
enum { SNAP_OFF, SNAP_OFFERS, SNAP_BLOCK, SNAP_CHUNKS, SNAP_DONE };

typedef struct {
    int have;
    uint64_t view;
    uint8_t digest[32];
    uint8_t *msg; /* the signed prepare, kept as view-change evidence */
    size_t len;
} prep_rec;

typedef struct {
    int have;
    int checked; /* 1 verified against stmt, -1 failed, 0 not yet */
    uint64_t view;
    uint8_t digest[32];
    uint8_t sig[64];
} commit_rec;

typedef struct {
    int used;
    uint64_t seq;
    int have_pp;
    uint64_t view;
    uint8_t digest[32];
    uint8_t *pp; /* the signed pre-prepare body */
    size_t pp_len;
    lc_proposal prop;
    prep_rec *prep;  /* n records (owned by the replica's pool) */
    commit_rec *com; /* n records */
    int prepared;
    int commit_sent;
    int committed; /* executed here: kept, with its votes, until a stable checkpoint covers it */
    void *blk;
    uint8_t header_hash[32];
    uint8_t stmt[LEDGER_COMMIT_STATEMENT_BYTES];
    uint64_t t_pp;
    uint64_t t_resend;
} slot;

typedef struct {
    uint8_t hash[32];
    uint8_t *tx;
    size_t len;
    uint64_t at;
} preq;

/* A signed CHECKPOINT of a multiple of K received from one replica. */
typedef struct {
    uint64_t seq;
    uint8_t hash[32];
    uint8_t msg[CK_BYTES];
} ck_vote;

typedef struct {
    uint64_t min_s, max_s;
    const uint8_t **pp; /* L entries: the proposal chosen for min_s + 1 + i */
    size_t *pp_len;
    uint64_t *pp_view;
} nv_plan;

/* A client read that asked for a height this replica has not executed yet
 * (docs/ledger-protocol.md §Reads). */
typedef struct {
    uint64_t conn;
    uint64_t min_height;
    uint64_t expires;
    uint8_t *body; /* the QUERY body as received */
    size_t n;
} parked_read;

struct lc_replica;
static void serve_parked(struct lc_replica *r);

/* The membership in force from a height on (docs/ledger-protocol.md
 * §Membership changes): which replicas vote, f and the quorum. */
typedef struct {
    uint64_t from;
    uint64_t mask;
    uint32_t f, quorum;
} mem_ent;
#define MEM_HIST 16

struct lc_replica {
    lc_replica_cfg cfg;
    lc_store_ops ops;
    lc_net *net;
    uint32_t quorum;       /* of the configured membership (static: ops.members NULL) */
    mem_ent mem[MEM_HIST]; /* changes known from the chain, by height */
    uint32_t nmem;
    uint64_t now;
    /* view */
    uint64_t view;
    int in_vc;
    uint64_t vc_target;
    uint64_t vc_deadline; /* VC_UNARMED until 2f+1 VIEW-CHANGEs for vc_target */
    uint64_t vc_resent;
    uint32_t vc_timeout;
    uint64_t nv_sent;
    uint8_t *nv_msg; /* the NEW-VIEW we sent for view nv_sent, sent again on request */
    size_t nv_len;
    uint64_t nv_resent[LC_MAX_REPLICAS];
    uint8_t *vc_msg[LC_MAX_REPLICAS];
    size_t vc_len[LC_MAX_REPLICAS];
    uint64_t vc_view[LC_MAX_REPLICAS];
    uint64_t seen_view[LC_MAX_REPLICAS];
    /* chain */
    uint64_t last_exec;
    uint8_t last_hash[32];
    uint64_t last_ts;
    uint64_t last_progress;
    /* primary */
    uint64_t next_seq;
    uint64_t last_prop_ts;
    /* log: the slots of sequences in (stable, stable + L], ring-indexed by seq % L */
    uint32_t K, L;
    slot *slots;
    prep_rec *prep_pool;
    commit_rec *com_pool;
    nv_plan plan;
    /* requests */
    preq *q;
    size_t qh, qt, qcap, q_bytes;
    size_t q_scan;  /* no pending request below this index (proposed ones stay queued) */
    lc_map known;   /* tx hash -> 1 pending, 2 proposed */
    lc_map waiters; /* tx hash -> client connection */
    /* checkpoints: stable = low water mark h, with its proof (2f+1 signed
     * CHECKPOINTs); high water mark H = h + L */
    uint64_t stable;
    uint8_t stable_hash[32];
    uint8_t stable_proof[LC_MAX_REPLICAS][CK_BYTES];
    uint32_t stable_nproof;
    ck_vote ck[LC_MAX_REPLICAS][CK_KEEP];
    uint8_t my_ck[CK_BYTES]; /* our latest signed checkpoint of a multiple of K */
    uint64_t my_ck_seq;
    /* catch-up */
    uint64_t peer_height[LC_MAX_REPLICAS];
    uint64_t last_fetch;
    uint32_t fetch_rr;
    uint64_t last_status;
    /* snapshot catch-up */
    int snap_state;
    uint64_t snap_t0, snap_req, snap_sent;
    lc_snap_offer offers[LC_MAX_REPLICAS][2]; /* height 0: none */
    uint64_t snap_h;
    uint8_t snap_hash[32], snap_digest[32];
    uint64_t snap_peers; /* replicas that offered the chosen snapshot */
    uint32_t snap_peer;
    uint64_t snap_index; /* the chunk asked for */
    uint64_t snap_installed, snap_chunks;
    uint64_t snap_kill;    /* test builds: SIGKILL itself after staging this many chunks */
    uint64_t snap_corrupt; /* test builds: flip the last byte of this many chunks served */
    /* headers below a snapshot's base */
    int hdr_done;
    uint64_t hdr_req;
    uint32_t hdr_rr;
    /* followers */
    uint64_t followers[MAX_FOLLOWERS];
    size_t nfollowers;
    /* reads waiting until this replica has executed a height */
    uint64_t commit_hi; /* highest sequence we sent COMMIT for */
    parked_read *parked;
    size_t nparked;
#ifdef LEDGER_FAULT_INJECTION
    /* trace validation and injected faults: test builds only */
    void (*trace_fn)(void *ctx, const char *line);
    void *trace_ctx;
    int commit_early;
#endif
};

static uint32_t primary_of(const lc_replica *r, uint64_t v) {
    return (uint32_t)(v % r->cfg.n);
}

/* ---- trace validation (test builds only; docs/formal.md) ---------------
 * TRACE(r, event, view, seq, digest or NULL) writes one line
 * "event r=R v=V s=S [d=16 hex]" through the test's hook; TRACEF(..., format,
 * ...) appends more fields. The release library compiles both to nothing. */
#ifdef LEDGER_FAULT_INJECTION
static void trace_line(lc_replica *r, const char *ev, uint64_t v, uint64_t s, const uint8_t *d,
                       const char *extra) {
    char line[512], dh[17] = "";
    if (d)
        sodium_bin2hex(dh, sizeof dh, d, 8);
    snprintf(line, sizeof line, "%s r=%u v=%llu s=%llu%s%s%s t=%llu", ev, r->cfg.self,
             (unsigned long long)v, (unsigned long long)s, d ? " d=" : "", dh, extra ? extra : "",
             (unsigned long long)r->now);
    r->trace_fn(r->trace_ctx, line);
}
static void trace_fmt(lc_replica *r, const char *ev, uint64_t v, uint64_t s, const uint8_t *d,
                      const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void trace_fmt(lc_replica *r, const char *ev, uint64_t v, uint64_t s, const uint8_t *d,
                      const char *fmt, ...) {
    char extra[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(extra, sizeof extra, fmt, ap);
    va_end(ap);
    trace_line(r, ev, v, s, d, extra);
}
#define TRACE(r, ev, v, s, d)                                                                      \
    do {                                                                                           \
        if ((r)->trace_fn)                                                                         \
            trace_line((r), (ev), (v), (s), (d), NULL);                                            \
    } while (0)
#define TRACEF(r, ...)                                                                             \
    do {                                                                                           \
        if ((r)->trace_fn)                                                                         \
            trace_fmt((r), __VA_ARGS__);                                                           \
    } while (0)
/* one "nv_pp" line per pre-prepare of a NEW-VIEW (npp encoded in p) */
static void trace_pps(lc_replica *r, uint64_t v, const uint8_t *p, size_t n, uint32_t npp) {
    size_t off = 0;
    const uint8_t *rec;
    size_t len;
    lc_preprepare pp;
    for (uint32_t i = 0; i < npp && lc_next_var(p, n, &off, &rec, &len) == 0; i++)
        if (lc_preprepare_decode(&pp, rec, len) == 0)
            trace_line(r, "nv_pp", v, pp.seq, pp.digest, NULL);
}
#define TRACE_PPS(r, ...)                                                                          \
    do {                                                                                           \
        if ((r)->trace_fn)                                                                         \
            trace_pps((r), __VA_ARGS__);                                                           \
    } while (0)
#else
#define TRACE(r, ...)     ((void)0)
#define TRACEF(r, ...)    ((void)0)
#define TRACE_PPS(r, ...) ((void)0)
#endif

static uint32_t popcount64(uint64_t x) {
    uint32_t k = 0;
    for (; x; x &= x - 1)
        k++;
    return k;
}

static void mem_make(mem_ent *e, uint64_t from, uint64_t mask, uint32_t f) {
    e->from = from;
    e->mask = mask;
    e->f = f;
    e->quorum = (popcount64(mask) + f) / 2 + 1;
}

/* The membership in force at height h: the latest known change at or below
 * h (heights above the tip + 2 are not decided yet: the latest known). */
static mem_ent mem_at(const lc_replica *r, uint64_t h) {
    mem_ent e;
    if (!r->ops.members || r->nmem == 0) {
        uint64_t all = r->cfg.n >= 64 ? ~0ull : (1ull << r->cfg.n) - 1;
        mem_make(&e, 0, all, r->cfg.f);
        return e;
    }
    for (uint32_t i = r->nmem; i-- > 0;)
        if (r->mem[i].from <= h)
            return r->mem[i];
    /* older than what we keep: ask the store */
    uint64_t mask = 0;
    uint32_t f = 0;
    if (r->ops.members(r->ops.ctx, h, &mask, &f) != 0)
        return r->mem[0];
    mem_make(&e, h, mask, f);
    return e;
}

static int is_member(const lc_replica *r, uint32_t j, uint64_t h) {
    return j < 64 && ((mem_at(r, h).mask >> j) & 1);
}

/* After each executed block: learn the membership of the next two heights. */
static void mem_refresh(lc_replica *r) {
    if (!r->ops.members)
        return;
    for (uint64_t h = r->last_exec + 1; h <= r->last_exec + 2; h++) {
        uint64_t mask;
        uint32_t f;
        if (r->ops.members(r->ops.ctx, h, &mask, &f) != 0)
            return;
        if (r->nmem && r->mem[r->nmem - 1].mask == mask && r->mem[r->nmem - 1].f == f)
            continue;
        if (r->nmem && r->mem[r->nmem - 1].from >= h)
            r->nmem--; /* replaced (cannot happen on one chain) */
        if (r->nmem == MEM_HIST) {
            memmove(r->mem, r->mem + 1, (MEM_HIST - 1) * sizeof *r->mem);
            r->nmem--;
        }
        /* the first entry stands for every height from the next one on; older
         * heights are asked of the store (mem_at) */
        mem_make(&r->mem[r->nmem], h, mask, f);
        r->nmem++;
        if (r->nmem > 1)
            lc_log(&r->cfg.log, LEDGER_LOG_INFO,
                   "ledger replica %u: membership from height %llu: %u replicas, f = %u",
                   r->cfg.self, (unsigned long long)h, popcount64(mask), f);
    }
}

/* The first view from v on whose primary is a member at height h. */
static uint64_t next_member_view(const lc_replica *r, uint64_t v, uint64_t h) {
    mem_ent e = mem_at(r, h);
    for (uint32_t i = 0; i < r->cfg.n; i++, v++)
        if ((e.mask >> primary_of(r, v)) & 1)
            return v;
    return v;
}

static void slot_clear(lc_replica *r, slot *s) {
    free(s->pp);
    prep_rec *p = s->prep;
    commit_rec *c = s->com;
    for (uint32_t j = 0; j < r->cfg.n; j++)
        free(p[j].msg);
    if (s->blk)
        r->ops.drop(r->ops.ctx, s->blk);
    memset(p, 0, r->cfg.n * sizeof *p);
    memset(c, 0, r->cfg.n * sizeof *c);
    memset(s, 0, sizeof *s);
    s->prep = p;
    s->com = c;
}

/* The log entry of seq when the log holds it (committed or not), else NULL. */
static slot *log_slot(lc_replica *r, uint64_t seq) {
    if (seq <= r->stable || seq > r->stable + r->L)
        return NULL;
    slot *s = &r->slots[seq % r->L];
    return s->used && s->seq == seq ? s : NULL;
}

/* The slot of a sequence open to consensus messages: above the last executed
 * block and within the water marks (stable, stable + L]; created on first use. */
static slot *slot_of(lc_replica *r, uint64_t seq) {
    if (seq <= r->last_exec || seq <= r->stable || seq > r->stable + r->L)
        return NULL;
    slot *s = &r->slots[seq % r->L];
    if (!s->used || s->seq != seq) {
        slot_clear(r, s); /* cannot hold a live entry: the ring covers exactly (h, H] */
        s->used = 1;
        s->seq = seq;
    }
    return s;
}

/* Forget the proposal of a slot (view change) but keep votes. */
static void slot_reset_pp(lc_replica *r, slot *s) {
    free(s->pp);
    s->pp = NULL;
    s->have_pp = 0;
    s->prepared = 0;
    s->commit_sent = 0;
    if (s->blk)
        r->ops.drop(r->ops.ctx, s->blk);
    s->blk = NULL;
}

/* ---- requests ---------------------------------------------------------- */

static int q_push(lc_replica *r, const uint8_t hash[32], const uint8_t *tx, size_t len) {
    if (r->qt == r->qcap) {
        if (r->qh > 0) {
            memmove(r->q, r->q + r->qh, (r->qt - r->qh) * sizeof *r->q);
            r->q_scan = r->q_scan > r->qh ? r->q_scan - r->qh : 0;
            r->qt -= r->qh;
            r->qh = 0;
        }
        if (r->qt == r->qcap) {
            size_t c = r->qcap ? r->qcap * 2 : 1024;
            preq *nq = realloc(r->q, c * sizeof *nq);
            if (!nq)
                return -1;
            r->q = nq;
            r->qcap = c;
        }
    }
    uint8_t *copy = malloc(len);
    if (!copy)
        return -1;
    memcpy(copy, tx, len);
    preq *p = &r->q[r->qt++];
    memcpy(p->hash, hash, 32);
    p->tx = copy;
    p->len = len;
    p->at = r->now;
    r->q_bytes += len;
    return 0;
}

/* Drop queue heads that are done (committed or refused: no longer known).
 * A proposed request stays queued until it commits: if its proposal is lost
 * in a view change, enter_view makes it pending again and the bytes are
 * still here to propose it. Before, proposed heads were dropped, so a
 * request proposed by this replica (as primary, or from a NEW-VIEW) and not
 * re-proposed was pending with nothing to propose, and its client's submit
 * timed out (seen in the traced lossy run; docs/ledger-protocol.md). */
static void q_trim(lc_replica *r) {
    while (r->qh < r->qt) {
        preq *p = &r->q[r->qh];
        if (lc_map_get(&r->known, p->hash))
            break;
        r->q_bytes -= p->len;
        free(p->tx);
        r->qh++;
    }
}

static void send_reply(lc_replica *r, uint64_t conn, const uint8_t hash[32], int32_t status,
                       uint64_t height, uint32_t index, const uint8_t bhash[32]) {
    lc_reply rep;
    lc_wr w;
    memcpy(rep.tx_hash, hash, 32);
    rep.status = status;
    rep.height = height;
    rep.index = index;
    rep.replica = r->cfg.self;
    if (bhash)
        memcpy(rep.block_hash, bhash, 32);
    else
        memset(rep.block_hash, 0, 32);
    lc_wr_init(&w);
    lc_reply_encode(&w, &rep);
    if (!w.oom)
        lc_net_send_conn(r->net, conn, LC_T_REPLY, w.p, w.n);
    lc_wr_free(&w);
}

static void on_request(lc_replica *r, uint64_t conn, const uint8_t *tx, size_t len) {
    uint8_t h[32];
    if (len == 0 || len > LC_MAX_TX) {
        memset(h, 0, 32);
        send_reply(r, conn, h, -200 /* LEDGER_E_INVALID */, 0, 0, NULL);
        return;
    }
    crypto_hash_sha256(h, tx, len);
    uint64_t height;
    uint32_t index;
    int32_t status;
    uint8_t bh[32];
    if (r->ops.find_tx(r->ops.ctx, h, &height, &index, &status, bh) == 0) {
        send_reply(r, conn, h, status, height, index, bh);
        return;
    }
    if (lc_map_get(&r->known, h)) {
        lc_map_put(&r->waiters, h, conn);
        return;
    }
    if (r->q_bytes > (256u << 20))
        return; /* bounded: the client will time out and retry */
    /* every replica checks a request when it arrives (signature, nonce,
     * application), so that a refusal reaches the client from f+1 replicas;
     * the store caches the verified signature for the block's turn */
    int st;
    const uint8_t *one = tx;
    r->ops.check_txs(r->ops.ctx, &one, &len, 1, &st);
    if (st != 0) {
        send_reply(r, conn, h, st, 0, 0, NULL);
        return;
    }
    lc_map_put(&r->waiters, h, conn);
    if (lc_map_put(&r->known, h, 1) != 0 || q_push(r, h, tx, len) != 0)
        lc_map_del(&r->known, h);
}

/* ---- sending ----------------------------------------------------------- */

static void bcast(lc_replica *r, uint8_t type, const lc_wr *w) {
    if (!w->oom)
        lc_net_broadcast(r->net, type, w->p, w->n);
}

static void accept_preprepare(lc_replica *r, const uint8_t *body, size_t n, int from_newview);
static void try_progress(lc_replica *r);

/* Primary: cut a block from pending requests when the batch is full or old enough. */
static void maybe_propose(lc_replica *r) {
    if (r->in_vc || primary_of(r, r->view) != r->cfg.self || r->last_exec < r->stable)
        return; /* behind the stable checkpoint: catch up first */
    if (r->next_seq <= r->last_exec)
        r->next_seq = r->last_exec + 1;
    if (!is_member(r, r->cfg.self, r->next_seq))
        return; /* not (or no longer) a member: a view change follows */
    /* at most max_inflight proposals ahead of the last executed block, and
     * never above the high water mark */
    while (r->next_seq <= r->last_exec + r->cfg.max_inflight && r->next_seq <= r->stable + r->L) {
        q_trim(r);
        /* the pending requests (proposed ones stay queued until committed:
         * q_scan skips them, so a full pipeline costs no rescan per request) */
        if (r->q_scan < r->qh)
            r->q_scan = r->qh;
        while (r->q_scan < r->qt) {
            lc_map_ent *e = lc_map_get(&r->known, r->q[r->q_scan].hash);
            if (e && e->val == 1)
                break;
            r->q_scan++;
        }
        size_t waiting = 0, bytes_waiting = 0, first = r->qt;
        for (size_t i = r->q_scan; i < r->qt && waiting < r->cfg.max_block_txs; i++) {
            lc_map_ent *e = lc_map_get(&r->known, r->q[i].hash);
            if (!e || e->val != 1)
                continue;
            if (first == r->qt)
                first = i;
            waiting++;
            bytes_waiting += r->q[i].len;
        }
        if (!waiting)
            return;
        int full = waiting >= r->cfg.max_block_txs || bytes_waiting >= r->cfg.max_block_bytes;
        if (!full && r->now - r->q[first].at < r->cfg.block_period_ms)
            return;
        /* take up to max_block_txs pending requests */
        size_t cap = waiting < r->cfg.max_block_txs ? waiting : r->cfg.max_block_txs;
        const uint8_t **txp = malloc(cap * sizeof *txp);
        size_t *txl = malloc(cap * sizeof *txl);
        int *st = malloc(cap * sizeof *st);
        size_t *qi = malloc(cap * sizeof *qi);
        if (!txp || !txl || !st || !qi) {
            free(txp);
            free(txl);
            free(st);
            free(qi);
            return;
        }
        size_t k = 0, bytes = 0;
        for (size_t i = first; i < r->qt && k < cap; i++) {
            preq *p = &r->q[i];
            lc_map_ent *e = lc_map_get(&r->known, p->hash);
            if (!e || e->val != 1)
                continue;
            if (k > 0 && bytes + p->len > r->cfg.max_block_bytes)
                break;
            e->val = 2;
            txp[k] = p->tx;
            txl[k] = p->len;
            qi[k] = i;
            bytes += p->len;
            k++;
        }
        r->ops.check_txs(r->ops.ctx, txp, txl, k, st);
        size_t good = 0;
        for (size_t i = 0; i < k; i++) {
            preq *p = &r->q[qi[i]];
            uint64_t hh;
            uint32_t ii;
            int32_t ss;
            uint8_t bh[32];
            if (st[i] == 0 && r->ops.find_tx(r->ops.ctx, p->hash, &hh, &ii, &ss, bh) == 0)
                st[i] = -210; /* already committed: a replay */
            if (st[i] != 0) {
                lc_map_ent *w = lc_map_get(&r->waiters, p->hash);
                if (w) {
                    send_reply(r, w->val, p->hash, st[i], 0, 0, NULL);
                    lc_map_del(&r->waiters, p->hash);
                }
                lc_map_del(&r->known, p->hash);
                continue;
            }
            txp[good] = txp[i];
            txl[good] = txl[i];
            good++;
        }
        lc_proposal pr;
        uint64_t ts = lc_wall_ms();
        if (ts <= r->last_prop_ts)
            ts = r->last_prop_ts + 1;
        if (ts <= r->last_ts)
            ts = r->last_ts + 1;
        pr.height = r->next_seq;
        pr.view = r->view;
        pr.proposer = r->cfg.self;
        pr.ts_ms = ts;
        pr.ntx = (uint32_t)good;
        lc_wr prop, pp;
        lc_wr_init(&prop);
        lc_wr_init(&pp);
        lc_proposal_encode(&prop, &pr, txp, txl);
        lc_preprepare_encode(&pp, r->view, r->next_seq, prop.p, prop.n, r->cfg.sk);
        free(txp);
        free(txl);
        free(st);
        free(qi);
        lc_wr_free(&prop);
        if (pp.oom) {
            lc_wr_free(&pp);
            return;
        }
        r->last_prop_ts = ts;
        r->next_seq++;
#ifdef LEDGER_FAULT_INJECTION
        if (r->trace_fn) {
            lc_preprepare tm;
            if (lc_preprepare_decode(&tm, pp.p, pp.n) == 0)
                TRACE(r, "pp_send", tm.view, tm.seq, tm.digest);
        }
        if (r->cfg.equivocate) {
            /* byzantine: odd replicas get a different block (another timestamp) */
            lc_wr prop2, pp2;
            lc_wr_init(&prop2);
            lc_wr_init(&pp2);
            pr.ts_ms = ts + 1;
            pr.ntx = 0;
            lc_proposal_encode(&prop2, &pr, NULL, NULL);
            lc_preprepare_encode(&pp2, r->view, pr.height, prop2.p, prop2.n, r->cfg.sk);
            for (uint32_t j = 0; j < r->cfg.n; j++) {
                if (j == r->cfg.self)
                    continue;
                const lc_wr *w = (j % 2) ? &pp2 : &pp;
                if (!w->oom)
                    lc_net_send(r->net, j, LC_T_PREPREPARE, w->p, w->n);
            }
            lc_wr_free(&prop2);
            lc_wr_free(&pp2);
        } else
#endif
            bcast(r, LC_T_PREPREPARE, &pp);
        accept_preprepare(r, pp.p, pp.n, 0);
        lc_wr_free(&pp);
    }
}

/* ---- normal case ------------------------------------------------------- */

static void send_prepare(lc_replica *r, slot *s) {
    lc_vote v = {.type = LC_T_PREPARE, .view = s->view, .seq = s->seq, .replica = r->cfg.self};
    memcpy(v.digest, s->digest, 32);
    lc_wr w;
    lc_wr_init(&w);
    lc_vote_encode(&w, &v, r->cfg.sk);
    if (!w.oom) {
        prep_rec *pr = &s->prep[r->cfg.self];
        free(pr->msg);
        pr->msg = malloc(w.n);
        if (pr->msg) {
            memcpy(pr->msg, w.p, w.n);
            pr->len = w.n;
            pr->have = 1;
            pr->view = s->view;
            memcpy(pr->digest, s->digest, 32);
        }
        TRACE(r, "prep_send", s->view, s->seq, s->digest);
        bcast(r, LC_T_PREPARE, &w);
    }
    lc_wr_free(&w);
}

/* Install a verified pre-prepare (body = signed encoding). */
static void accept_preprepare(lc_replica *r, const uint8_t *body, size_t n, int from_newview) {
    lc_preprepare m;
    if (lc_preprepare_decode(&m, body, n) != 0)
        return;
    slot *s = slot_of(r, m.seq); /* NULL outside the water marks */
    if (!s)
        return;
    if (s->have_pp) {
        if (s->view == m.view)
            return; /* same view: first one wins; a different digest is equivocation */
        slot_reset_pp(r, s);
    }
    s->pp = malloc(n);
    if (!s->pp)
        return;
    memcpy(s->pp, body, n);
    s->pp_len = n;
    lc_preprepare_decode(&m, s->pp, n);
    lc_proposal_decode(&s->prop, m.proposal, m.proposal_len);
    s->have_pp = 1;
    s->view = m.view;
    memcpy(s->digest, m.digest, 32);
    s->t_pp = r->now;
    s->t_resend = r->now;
    (void)from_newview;
    TRACEF(r, "pp_accept", s->view, s->seq, s->digest, " nv=%d", from_newview);
    if (primary_of(r, m.view) != r->cfg.self && is_member(r, r->cfg.self, m.seq))
        send_prepare(r, s);
    if (s->prop.ts_ms > r->last_prop_ts)
        r->last_prop_ts = s->prop.ts_ms;
    try_progress(r);
}

static void on_preprepare(lc_replica *r, uint32_t from, const uint8_t *body, size_t n) {
    lc_preprepare m;
    lc_proposal pr;
    if (lc_preprepare_decode(&m, body, n) != 0)
        return;
    /* any replica may relay a pre-prepare (retransmission): the primary's
     * signature is what counts */
    uint32_t prim = primary_of(r, m.view);
    if (r->in_vc || m.view != r->view)
        return;
    /* water marks: only sequences in (h, H] = (stable, stable + L], and above
     * what we executed */
    if (m.seq <= r->last_exec || m.seq <= r->stable || m.seq > r->stable + r->L)
        return;
    slot *cur = log_slot(r, m.seq);
    if (cur && cur->have_pp && cur->view == m.view)
        return; /* already have one for this view */
    if (!is_member(r, prim, m.seq))
        return; /* a removed replica proposes nothing */
    if (lc_preprepare_verify(body, n, r->cfg.pks[prim]) != 0)
        return;
    (void)from;
    lc_proposal_decode(&pr, m.proposal, m.proposal_len);
    if (pr.view != m.view || pr.proposer != prim)
        return;
    /* consensus time: bounded by our clock, monotonic along the chain */
    uint64_t wall = lc_wall_ms();
    if (pr.ts_ms > wall + r->cfg.max_clock_skew_ms || pr.ts_ms + r->cfg.max_clock_skew_ms < wall)
        return;
    if (pr.ts_ms < r->last_ts)
        return;
    slot *prev = log_slot(r, m.seq - 1);
    if (prev && prev->have_pp && pr.ts_ms < prev->prop.ts_ms)
        return;
    accept_preprepare(r, body, n, 0);
}

/* A peer still voting on a block we executed lost commits: send it our COMMIT
 * from the log (at most every RESEND_MS per entry), so that it completes the
 * block without state transfer. */
static void help_lagging(lc_replica *r, uint32_t to, uint64_t seq) {
    slot *s = log_slot(r, seq);
    if (!s || !s->committed || !s->com[r->cfg.self].have || r->now - s->t_resend < RESEND_MS)
        return;
    s->t_resend = r->now;
    lc_vote v = {.type = LC_T_COMMIT, .view = s->view, .seq = seq, .replica = r->cfg.self};
    memcpy(v.digest, s->digest, 32);
    memcpy(v.sig, s->com[r->cfg.self].sig, 64);
    lc_wr w;
    lc_wr_init(&w);
    lc_vote_encode(&w, &v, r->cfg.sk);
    if (!w.oom)
        lc_net_send(r->net, to, LC_T_COMMIT, w.p, w.n);
    lc_wr_free(&w);
}

static uint32_t count_prepares(const lc_replica *r, const slot *s, uint32_t primary);

static void on_prepare(lc_replica *r, uint32_t from, const uint8_t *body, size_t n) {
    lc_vote v;
    if (lc_vote_decode(&v, LC_T_PREPARE, body, n) != 0 || v.replica != from)
        return;
#ifdef LEDGER_FAULT_INJECTION
    /* injected fault: a replica that commits early ignores PREPAREs, so it is
     * never prepared and every COMMIT it sends breaks the rule the trace
     * check's broken twin must find (whatever order messages arrive in) */
    if (r->commit_early)
        return;
#endif
    if (v.view > r->seen_view[from])
        r->seen_view[from] = v.view;
    if (v.seq <= r->last_exec) {
        help_lagging(r, from, v.seq);
        return;
    }
    slot *s = slot_of(r, v.seq);
    if (!s || lc_prepare_verify(body, n, r->cfg.pks[from]) != 0)
        return;
    prep_rec *p = &s->prep[from];
    if (p->have && p->view >= v.view)
        return;
    /* Keep a prepared certificate: a PREPARE of a later view whose pre-prepare
     * this replica does not hold would replace one of the 2f prepares its
     * next VIEW-CHANGE must carry (Castro-Liskov: P keeps the certificate of
     * the highest view in which it prepared; trace rule vc-complete). The
     * sender sends that PREPARE again while it waits. */
    if (p->have && s->have_pp && v.view > s->view && p->view == s->view &&
        memcmp(p->digest, s->digest, 32) == 0 &&
        count_prepares(r, s, primary_of(r, s->view)) + 1 >= mem_at(r, s->seq).quorum)
        return;
    free(p->msg);
    p->msg = malloc(n);
    if (!p->msg) {
        p->have = 0;
        return;
    }
    memcpy(p->msg, body, n);
    p->len = n;
    p->have = 1;
    p->view = v.view;
    memcpy(p->digest, v.digest, 32);
    TRACEF(r, "prep_count", v.view, v.seq, v.digest, " j=%u", from);
    try_progress(r);
}

static void on_commit(lc_replica *r, uint32_t from, const uint8_t *body, size_t n) {
    lc_vote v;
    if (lc_vote_decode(&v, LC_T_COMMIT, body, n) != 0 || v.replica != from)
        return;
    if (v.view > r->seen_view[from])
        r->seen_view[from] = v.view;
    if (v.seq > r->peer_height[from] + 1)
        r->peer_height[from] = v.seq - 1; /* it prepared seq: it has seq-1 */
    if (v.seq <= r->last_exec) {
        help_lagging(r, from, v.seq);
        return;
    }
    slot *s = slot_of(r, v.seq);
    if (!s)
        return;
    commit_rec *c = &s->com[from];
    if (c->have && c->view >= v.view)
        return;
    c->have = 1;
    c->checked = 0;
    c->view = v.view;
    memcpy(c->digest, v.digest, 32);
    memcpy(c->sig, v.sig, 64);
    TRACEF(r, "commit_count", v.view, v.seq, v.digest, " j=%u", from);
    try_progress(r);
}

/* Prepares matching the slot's pre-prepare from members at its height other
 * than the primary; prepared needs quorum − 1 of them (2f when n = 3f+1). */
static uint32_t count_prepares(const lc_replica *r, const slot *s, uint32_t primary) {
    uint32_t k = 0;
    uint64_t mask = mem_at(r, s->seq).mask;
    for (uint32_t j = 0; j < r->cfg.n; j++)
        if (j != primary && ((mask >> j) & 1) && s->prep[j].have && s->prep[j].view == s->view &&
            memcmp(s->prep[j].digest, s->digest, 32) == 0)
            k++;
    return k;
}

static void notify_followers(lc_replica *r, uint64_t height) {
    if (!r->nfollowers)
        return;
    uint8_t b[8 + 32 + 8];
    lc_put_u64(b, height);
    memcpy(b + 8, r->last_hash, 32);
    lc_put_u64(b + 40, r->last_ts);
    for (size_t i = 0; i < r->nfollowers; i++)
        lc_net_send_conn(r->net, r->followers[i], LC_T_NOTIFY, b, sizeof b);
}

static void maybe_propose(lc_replica *r);

/* Discard the log at and below a new stable checkpoint h: pre-prepares,
 * prepares, commits and any proposal not executed yet (a replica behind h
 * fetches those blocks with their certificates). */
static void truncate_log(lc_replica *r, uint64_t h) {
    for (uint32_t i = 0; i < r->L; i++) {
        slot *s = &r->slots[i];
        if (s->used && s->seq <= h)
            slot_clear(r, s);
    }
}

/* Record a verified CHECKPOINT of a multiple of K; when 2f+1 replicas signed
 * the same (seq, hash) it becomes the stable checkpoint: the low water mark
 * moves to it, its proof is kept for view changes and the log below it is
 * discarded. */
static void ck_record(lc_replica *r, const lc_checkpoint *c, const uint8_t *msg) {
    if (c->seq <= r->stable || c->seq % r->K != 0)
        return;
    ck_vote *v = &r->ck[c->replica][(c->seq / r->K) % CK_KEEP];
    if (v->seq > c->seq)
        return;
    v->seq = c->seq;
    memcpy(v->hash, c->block_hash, 32);
    memcpy(v->msg, msg, CK_BYTES);
    uint32_t idx = (uint32_t)((c->seq / r->K) % CK_KEEP), k = 0;
    /* the members that certified block c->seq sign its checkpoint */
    mem_ent me = mem_at(r, c->seq);
    for (uint32_t j = 0; j < r->cfg.n; j++)
        if (((me.mask >> j) & 1) && r->ck[j][idx].seq == c->seq &&
            memcmp(r->ck[j][idx].hash, c->block_hash, 32) == 0)
            k++;
    if (k < me.quorum)
        return;
    if (c->seq <= r->last_exec) {
        /* our own block at that height must be the one 2f+1 replicas signed:
         * with certified blocks this cannot differ, but say so if it does */
        uint8_t mine[32];
        if (r->ops.hash_at(r->ops.ctx, c->seq, mine) == 0 && memcmp(mine, c->block_hash, 32) != 0)
            lc_log(&r->cfg.log, LEDGER_LOG_ERROR,
                   "ledger replica %u: block %llu differs from the stable checkpoint", r->cfg.self,
                   (unsigned long long)c->seq);
    }
    r->stable_nproof = 0;
    for (uint32_t j = 0; j < r->cfg.n && r->stable_nproof < me.quorum; j++)
        if (((me.mask >> j) & 1) && r->ck[j][idx].seq == c->seq &&
            memcmp(r->ck[j][idx].hash, c->block_hash, 32) == 0)
            memcpy(r->stable_proof[r->stable_nproof++], r->ck[j][idx].msg, CK_BYTES);
    memcpy(r->stable_hash, c->block_hash, 32);
    truncate_log(r, c->seq);
    r->stable = c->seq;
    TRACEF(r, "ckpt_stable", r->view, c->seq, NULL, " h=%02x%02x%02x%02x%02x%02x%02x%02x n=%u",
           c->block_hash[0], c->block_hash[1], c->block_hash[2], c->block_hash[3], c->block_hash[4],
           c->block_hash[5], c->block_hash[6], c->block_hash[7], r->stable_nproof);
}

/* Sign and send a CHECKPOINT of the block at `seq` (our tip, or at start the
 * last multiple of K we hold). A multiple of K is a checkpoint vote; any other
 * height only tells peers how far we are (heartbeat). */
static void send_checkpoint_at(lc_replica *r, uint64_t seq, const uint8_t hash[32]) {
    lc_checkpoint c = {.seq = seq, .replica = r->cfg.self};
    memcpy(c.block_hash, hash, 32);
    lc_wr w;
    lc_wr_init(&w);
    lc_checkpoint_encode(&w, &c, r->cfg.sk);
    if (!w.oom && w.n == CK_BYTES) {
        bcast(r, LC_T_CHECKPOINT, &w);
        if (seq > 0 && seq % r->K == 0 && seq >= r->my_ck_seq) {
            memcpy(r->my_ck, w.p, CK_BYTES);
            r->my_ck_seq = seq;
            ck_record(r, &c, w.p);
        }
    }
    lc_wr_free(&w);
}

static void send_checkpoint(lc_replica *r) {
    send_checkpoint_at(r, r->last_exec, r->last_hash);
}

/* A block was appended at `height`: take the new tip. */
static void after_commit(lc_replica *r, uint64_t height) {
    uint64_t h;
    r->ops.tip(r->ops.ctx, &h, r->last_hash, &r->last_ts);
    r->last_exec = height;
    TRACEF(r, "exec", r->view, height, NULL, " h=%02x%02x%02x%02x%02x%02x%02x%02x", r->last_hash[0],
           r->last_hash[1], r->last_hash[2], r->last_hash[3], r->last_hash[4], r->last_hash[5],
           r->last_hash[6], r->last_hash[7]);
    r->last_progress = r->now;
    r->vc_timeout = r->cfg.view_timeout_ms;
    mem_refresh(r);
    if (r->last_prop_ts < r->last_ts)
        r->last_prop_ts = r->last_ts;
}

/* Then, once the block's replies are out: our checkpoint vote (which may make
 * a checkpoint stable and discard log entries, that of this block included)
 * and the followers' notification. */
static void announce_commit(lc_replica *r, uint64_t height) {
    if (height % r->K == 0) {
        send_checkpoint(r);
        if (r->ops.snap_pin)
            r->ops.snap_pin(r->ops.ctx); /* what a joining replica can start from */
    }
    notify_followers(r, height);
    serve_parked(r);
}

static void reply_block_txs(lc_replica *r, const lc_proposal *pr) {
    size_t off = 0;
    const uint8_t *tx;
    size_t len;
    for (uint32_t i = 0; i < pr->ntx; i++) {
        if (lc_proposal_next_tx(pr, &off, &tx, &len) != 0)
            break;
        uint8_t h[32];
        crypto_hash_sha256(h, tx, len);
        lc_map_del(&r->known, h);
        lc_map_ent *w = lc_map_get(&r->waiters, h);
        if (w) {
            send_reply(r, w->val, h, r->ops.tx_status(r->ops.ctx, h), pr->height, i, r->last_hash);
            lc_map_del(&r->waiters, h);
        }
    }
    q_trim(r);
}

/* Reply for the transactions of a proposal that the store has committed (where
 * the store says they are); the others stay pending. */
static void reply_found_txs(lc_replica *r, const lc_proposal *pr) {
    size_t off = 0;
    const uint8_t *tx;
    size_t len;
    for (uint32_t i = 0; i < pr->ntx; i++) {
        if (lc_proposal_next_tx(pr, &off, &tx, &len) != 0)
            break;
        uint8_t h[32], bh[32];
        uint64_t height;
        uint32_t index;
        int32_t status;
        crypto_hash_sha256(h, tx, len);
        if (r->ops.find_tx(r->ops.ctx, h, &height, &index, &status, bh) != 0)
            continue;
        lc_map_del(&r->known, h);
        lc_map_ent *w = lc_map_get(&r->waiters, h);
        if (w) {
            send_reply(r, w->val, h, status, height, index, bh);
            lc_map_del(&r->waiters, h);
        }
    }
    q_trim(r);
}

/* Advance the next slot through prepared -> commit sent -> committed. */
static void try_progress(lc_replica *r) {
    for (;;) {
        uint64_t seq = r->last_exec + 1;
        slot *s = log_slot(r, seq);
        if (!s || !s->have_pp)
            return;
        uint32_t prim = primary_of(r, s->view);
        mem_ent mm = mem_at(r, seq); /* decided: seq ≤ last_exec + 2 */
        if (!s->prepared) {
            if (!((mm.mask >> prim) & 1) || count_prepares(r, s, prim) + 1 < mm.quorum) {
#ifdef LEDGER_FAULT_INJECTION
                if (!r->commit_early || s->commit_sent) /* injected fault: vote unprepared */
#endif
                    return;
            } else {
                s->prepared = 1;
                TRACE(r, "prepared", s->view, seq, s->digest);
            }
        }
        if (!s->commit_sent) {
            /* No COMMIT once this replica asked for a view change, nor for a
             * slot of another view (Castro-Liskov §4.4): its VIEW-CHANGE did
             * not carry this prepared certificate, so a COMMIT now could make
             * a quorum the new view never learns of. Found by tests/formal's
             * PBFT model (docs/formal.md). A block the others committed
             * comes by state transfer, with their certificate. */
            if (r->in_vc || s->view != r->view)
                return;
            uint8_t hh[32];
            if (r->ops.prepare(r->ops.ctx, &s->prop, &s->blk, hh) != 0) {
                s->blk = NULL;
                return; /* cannot execute: wait for a view change or state transfer */
            }
            memcpy(s->header_hash, hh, 32);
            ledger_commit_statement(s->stmt, r->cfg.chain_id, seq, s->view, hh);
            s->commit_sent = 1;
            TRACE(r, "commit_send", s->view, seq, s->digest);
            /* a replica that is not a member executes and collects the
             * members' commits, but does not vote */
            if (!((mm.mask >> r->cfg.self) & 1))
                goto collect;
            commit_rec *me = &s->com[r->cfg.self];
            crypto_sign_detached(me->sig, NULL, s->stmt, sizeof s->stmt, r->cfg.sk);
            me->have = 1;
            me->checked = 1;
            me->view = s->view;
            memcpy(me->digest, s->digest, 32);
            lc_vote v = {.type = LC_T_COMMIT, .view = s->view, .seq = seq, .replica = r->cfg.self};
            memcpy(v.digest, s->digest, 32);
            memcpy(v.sig, me->sig, 64);
            lc_wr w;
            lc_wr_init(&w);
            lc_vote_encode(&w, &v, r->cfg.sk);
            bcast(r, LC_T_COMMIT, &w);
            lc_wr_free(&w);
            if (seq > r->commit_hi)
                r->commit_hi = seq;
        }
    collect:;
        uint32_t signers[LC_MAX_REPLICAS];
        uint8_t sigs[LC_MAX_REPLICAS][64];
        size_t k = 0;
        for (uint32_t j = 0; j < r->cfg.n && k < mm.quorum; j++) {
            commit_rec *c = &s->com[j];
            if (!((mm.mask >> j) & 1) || !c->have || c->view != s->view ||
                memcmp(c->digest, s->digest, 32) != 0)
                continue;
            if (c->checked == 0)
                c->checked =
                    crypto_sign_verify_detached(c->sig, s->stmt, sizeof s->stmt, r->cfg.pks[j]) == 0
                        ? 1
                        : -1;
            if (c->checked != 1)
                continue;
            signers[k] = j;
            memcpy(sigs[k], c->sig, 64);
            k++;
        }
        if (k < mm.quorum)
            return;
        int rc = r->ops.commit(r->ops.ctx, s->blk, s->view, signers, (const uint8_t(*)[64])sigs, k);
        if (rc != 0) {
            lc_log(&r->cfg.log, LEDGER_LOG_ERROR,
                   "ledger replica %u: commit of block %llu failed (%d)", r->cfg.self,
                   (unsigned long long)seq, rc);
            return;
        }
        s->blk = NULL;
        TRACEF(r, "committed", s->view, seq, s->digest, " k=%u", (unsigned)k);
        /* the entry stays in the log (pre-prepare, prepares, commits) until a
         * stable checkpoint covers it */
        s->committed = 1;
        s->t_resend = r->now;
        after_commit(r, seq);
        reply_block_txs(r, &s->prop);
        announce_commit(r, seq); /* may free s */
    }
}

/* ---- checkpoints and state transfer ----------------------------------- */

static void on_checkpoint(lc_replica *r, uint32_t from, const uint8_t *body, size_t n) {
    lc_checkpoint c;
    if (n != CK_BYTES || lc_checkpoint_decode(&c, body, n) != 0 || c.replica != from ||
        lc_checkpoint_verify(body, n, r->cfg.pks[from]) != 0)
        return;
    if (c.seq > r->peer_height[from])
        r->peer_height[from] = c.seq;
    uint64_t before = r->stable;
    ck_record(r, &c, body);
    if (r->stable != before)
        maybe_propose(r); /* the high water mark moved */
}

static void on_fetch(lc_replica *r, uint32_t from, const uint8_t *body, size_t n) {
    lc_rd rd;
    lc_rd_init(&rd, body, n);
    uint64_t h0 = lc_rd_u64(&rd);
    uint32_t max = lc_rd_u32(&rd);
    if (!lc_rd_done(&rd) || h0 == 0)
        return;
    if (max > FETCH_MAX)
        max = FETCH_MAX;
    lc_wr w;
    lc_wr_init(&w);
    lc_wr_u32(&w, 0);
    uint32_t k = 0;
    for (uint64_t h = h0; h <= r->last_exec && k < max && w.n < FETCH_BYTES; h++) {
        uint8_t *enc;
        size_t len;
        if (r->ops.get_block(r->ops.ctx, h, &enc, &len) != 0)
            break;
        lc_wr_var(&w, enc, len);
        free(enc);
        k++;
    }
    if (!w.oom && k > 0) {
        lc_put_u32(w.p, k);
        lc_net_send(r->net, from, LC_T_BLOCKS, w.p, w.n);
    }
    lc_wr_free(&w);
}

static int snap_active(const lc_replica *r) {
    return r->snap_state == SNAP_OFFERS || r->snap_state == SNAP_BLOCK ||
           r->snap_state == SNAP_CHUNKS;
}

static void on_blocks(lc_replica *r, uint32_t from, const uint8_t *body, size_t n) {
    if (n < 4 || snap_active(r))
        return; /* a snapshot import needs the store empty */
    uint32_t k = lc_get_u32(body);
    size_t off = 4;
    uint64_t start = r->last_exec;
    for (uint32_t i = 0; i < k; i++) {
        const uint8_t *b;
        size_t len;
        if (lc_next_var(body, n, &off, &b, &len) != 0)
            return;
        uint64_t before = r->last_exec;
        /* the store verifies height, links, Merkle root, certificate and state root */
        int prc = r->ops.put_block(r->ops.ctx, b, len);
        lc_log(&r->cfg.log, LEDGER_LOG_DEBUG, "ledger replica %u: fetched block %llu: %d",
               r->cfg.self, (unsigned long long)before + 1, prc);
        if (prc != 0)
            continue;
        uint64_t h;
        uint8_t hh[32];
        uint64_t ts;
        r->ops.tip(r->ops.ctx, &h, hh, &ts);
        if (h != before + 1)
            return;
        TRACE(r, "fetched", r->view, h, NULL);
        after_commit(r, h);
        slot *s = log_slot(r, h);
        if (s) {
            /* our entry may not be the block that was committed: answer for
             * its transactions from the store */
            if (s->have_pp)
                reply_found_txs(r, &s->prop);
            slot_clear(r, s);
        }
        announce_commit(r, h);
    }
    /* a full batch applied and the peer is further ahead: ask it for the next
     * batch at once (a replica far behind, e.g. one that just joined, catches
     * up at the speed of its store, not of the 300 ms grace) */
    if (k == FETCH_MAX && r->last_exec == start + k && from < r->cfg.n &&
        r->peer_height[from] > r->last_exec) {
        uint8_t b[12];
        lc_put_u64(b, r->last_exec + 1);
        lc_put_u32(b + 8, FETCH_MAX);
        lc_net_send(r->net, from, LC_T_FETCH, b, sizeof b);
        r->last_fetch = r->now;
    }
    try_progress(r);
}

static void maybe_fetch(lc_replica *r) {
    if (snap_active(r))
        return;
    uint64_t best = 0;
    for (uint32_t j = 0; j < r->cfg.n; j++)
        if (j != r->cfg.self && r->peer_height[j] > best)
            best = r->peer_height[j];
    if (best <= r->last_exec)
        return;
    /* behind: after a short grace (normal commits may be in flight), ask a peer */
    if (r->now - r->last_progress < 300 || r->now - r->last_fetch < 200)
        return;
    for (uint32_t t = 0; t < r->cfg.n; t++) {
        uint32_t j = (r->fetch_rr + t) % r->cfg.n;
        if (j == r->cfg.self || r->peer_height[j] <= r->last_exec)
            continue;
        uint8_t b[12];
        lc_put_u64(b, r->last_exec + 1);
        lc_put_u32(b + 8, FETCH_MAX);
        lc_net_send(r->net, j, LC_T_FETCH, b, sizeof b);
        lc_log(&r->cfg.log, LEDGER_LOG_DEBUG,
               "ledger replica %u: fetch from %u at %llu (peer says %llu)", r->cfg.self, j,
               (unsigned long long)r->last_exec + 1, (unsigned long long)r->peer_height[j]);
        r->fetch_rr = j + 1;
        break;
    }
    r->last_fetch = r->now;
}

/* ---- snapshot catch-up ------------------------------------------------- */

/* Serve: our offers of the pinned snapshots. */
static void on_snap_req(lc_replica *r, uint32_t from, const uint8_t *body, size_t n) {
    if (!r->ops.snap_offer || n != 1 || body[0] != LC_SNAP_VERSION)
        return;
    for (int which = 0; which < 2; which++) {
        lc_snap_offer o;
        memset(&o, 0, sizeof o);
        o.replica = r->cfg.self;
        if (r->ops.snap_offer(r->ops.ctx, which, &o.height, o.hash, o.digest) != 0)
            continue;
        lc_wr w;
        lc_wr_init(&w);
        if (lc_snap_offer_encode(&w, &o, r->cfg.sk) == 0)
            lc_net_send(r->net, from, LC_T_SNAP_OFFER, w.p, w.n);
        lc_wr_free(&w);
    }
}

/* Serve: the base block or a chunk of a pinned snapshot. */
static void on_snap_get(lc_replica *r, uint32_t from, const uint8_t *body, size_t n) {
    lc_snap_get g;
    if (!r->ops.snap_get || lc_snap_get_decode(&g, body, n) != 0)
        return;
    uint8_t *out = NULL;
    size_t len = 0;
    lc_snap_data d = {.kind = g.kind, .height = g.height, .index = g.index};
    int rc =
        r->ops.snap_get(r->ops.ctx, g.kind, g.height, g.index, g.resume, g.resume_len, &out, &len);
    d.status = rc < 0 ? rc : 0;
    if (rc == 0 && len > LC_MAX_FRAME - 64)
        d.status = -1; /* cannot travel (state values are bounded well below) */
    if (d.status == 0) {
        d.data = out;
        d.len = len;
#ifdef LEDGER_FAULT_INJECTION
        if (g.kind == LC_SNAP_CHUNK && r->snap_corrupt && len) {
            r->snap_corrupt--;
            out[len - 1] ^= 0x01; /* a byzantine server: one value byte */
        }
#endif
    }
    lc_wr w;
    lc_wr_init(&w);
    lc_snap_data_encode(&w, &d);
    if (!w.oom)
        lc_net_send(r->net, from, LC_T_SNAP_DATA, w.p, w.n);
    lc_wr_free(&w);
    free(out);
}

static void snap_request(lc_replica *r) {
    lc_snap_get g = {.kind = LC_SNAP_BLOCK, .height = r->snap_h};
    uint8_t resume[LC_SNAP_RESUME_MAX];
    if (r->snap_state == SNAP_CHUNKS) {
        int complete = 0;
        size_t rl = 0;
        if (r->ops.snap_next(r->ops.ctx, &g.index, resume, &rl, &complete) != 0)
            return;
        g.kind = LC_SNAP_CHUNK;
        g.resume = resume;
        g.resume_len = rl;
        r->snap_index = g.index;
    }
    lc_wr w;
    lc_wr_init(&w);
    lc_snap_get_encode(&w, &g);
    if (!w.oom)
        lc_net_send(r->net, r->snap_peer, LC_T_SNAP_GET, w.p, w.n);
    lc_wr_free(&w);
    r->snap_sent = r->now;
}

/* Ask the next replica that offered the chosen snapshot; none left: collect
 * offers again. */
static void snap_next_peer(lc_replica *r, int drop) {
    if (drop)
        r->snap_peers &= ~(1ull << r->snap_peer);
    if (!r->snap_peers) {
        r->snap_state = SNAP_OFFERS;
        r->snap_t0 = r->now;
        return;
    }
    for (uint32_t t = 1; t <= r->cfg.n; t++) {
        uint32_t j = (r->snap_peer + t) % r->cfg.n;
        if ((r->snap_peers >> j) & 1) {
            r->snap_peer = j;
            break;
        }
    }
    snap_request(r);
}

static uint32_t snap_need(const lc_replica *r) {
    /* f+1 of the configured replicas: at least one honest replica signed the
     * same (height, header hash, digest) */
    uint32_t f = (r->cfg.n - 1) / 3;
    return (f > r->cfg.f ? f : r->cfg.f) + 1;
}

static void on_snap_offer(lc_replica *r, uint32_t from, const uint8_t *body, size_t n) {
    lc_snap_offer o;
    if (n != LC_SNAP_OFFER_BYTES || lc_snap_offer_decode(&o, body, n) != 0 || o.replica != from ||
        lc_snap_offer_verify(body, n, r->cfg.pks[from]) != 0)
        return;
    lc_snap_offer *k = r->offers[from];
    int at = k[0].height == o.height      ? 0
             : k[1].height == o.height    ? 1
             : k[0].height <= k[1].height ? 0
                                          : 1;
    k[at] = o;
    if (r->snap_state != SNAP_OFFERS)
        return;
    /* the highest snapshot f+1 replicas offer identically */
    const lc_snap_offer *best = NULL;
    uint64_t best_mask = 0;
    for (uint32_t i = 0; i < r->cfg.n; i++)
        for (int a = 0; a < 2; a++) {
            const lc_snap_offer *c = &r->offers[i][a];
            if (!c->height || (best && c->height <= best->height))
                continue;
            uint64_t mask = 0;
            for (uint32_t j = 0; j < r->cfg.n; j++)
                for (int b = 0; b < 2; b++) {
                    const lc_snap_offer *d = &r->offers[j][b];
                    if (d->height == c->height && !memcmp(d->hash, c->hash, 32) &&
                        !memcmp(d->digest, c->digest, 32))
                        mask |= 1ull << j;
                }
            if (popcount64(mask) >= snap_need(r)) {
                best = c;
                best_mask = mask;
            }
        }
    if (!best)
        return;
    r->snap_h = best->height;
    memcpy(r->snap_hash, best->hash, 32);
    memcpy(r->snap_digest, best->digest, 32);
    r->snap_peers = best_mask;
    r->snap_peer = (best_mask >> from) & 1 ? from : best->replica;
    r->snap_state = SNAP_BLOCK;
    lc_log(&r->cfg.log, LEDGER_LOG_INFO,
           "ledger replica %u: snapshot at height %llu offered by %u replicas: fetching it",
           r->cfg.self, (unsigned long long)r->snap_h, popcount64(best_mask));
    snap_request(r);
}

static void snap_install(lc_replica *r) {
    int rc = r->ops.snap_finish(r->ops.ctx);
    if (rc != 0) {
        lc_log(&r->cfg.log, LEDGER_LOG_ERROR,
               "ledger replica %u: the snapshot at height %llu does not install (%d): fetching "
               "blocks instead",
               r->cfg.self, (unsigned long long)r->snap_h, rc);
        r->snap_state = SNAP_DONE;
        return;
    }
    r->snap_state = SNAP_DONE;
    r->snap_installed = r->snap_h;
    r->hdr_done = 0; /* now the headers below the base */
    after_commit(r, r->snap_h);
    lc_log(&r->cfg.log, LEDGER_LOG_INFO,
           "ledger replica %u: installed a snapshot at height %llu (%llu chunks staged by this "
           "process); fetching the blocks after it",
           r->cfg.self, (unsigned long long)r->snap_h, (unsigned long long)r->snap_chunks);
    announce_commit(r, r->snap_h);
}

static void on_snap_data(lc_replica *r, uint32_t from, const uint8_t *body, size_t n) {
    lc_snap_data d;
    if ((r->snap_state != SNAP_BLOCK && r->snap_state != SNAP_CHUNKS) || from != r->snap_peer ||
        lc_snap_data_decode(&d, body, n) != 0 || d.height != r->snap_h)
        return;
    if (d.status != 0) { /* the peer no longer pins it */
        snap_next_peer(r, 1);
        return;
    }
    if (d.kind == LC_SNAP_BLOCK && r->snap_state == SNAP_BLOCK) {
        int rc = r->ops.snap_begin(r->ops.ctx, d.data, d.len, r->snap_hash, r->snap_digest);
        if (rc != 0) {
            lc_log(&r->cfg.log, LEDGER_LOG_WARN,
                   "ledger replica %u: snapshot block from replica %u refused (%d)", r->cfg.self,
                   from, rc);
            snap_next_peer(r, 1);
            return;
        }
        uint64_t idx = 0;
        int complete = 0;
        uint8_t resume[LC_SNAP_RESUME_MAX];
        size_t rl;
        if (r->ops.snap_next(r->ops.ctx, &idx, resume, &rl, &complete) != 0)
            return;
        if (idx > 0)
            lc_log(&r->cfg.log, LEDGER_LOG_INFO,
                   "ledger replica %u: resuming the snapshot import at chunk %llu", r->cfg.self,
                   (unsigned long long)idx);
        r->snap_state = SNAP_CHUNKS;
        if (complete)
            snap_install(r);
        else
            snap_request(r);
        return;
    }
    if (d.kind != LC_SNAP_CHUNK || r->snap_state != SNAP_CHUNKS || d.index != r->snap_index)
        return;
    int rc = r->ops.snap_chunk(r->ops.ctx, d.data, d.len);
    if (rc != 0) {
        /* a chunk that does not decode or is not the next one: this peer is
         * wrong; a digest mismatch (LEDGER_E_HASH): the store dropped what it
         * staged and the import starts again from chunk 0 with another peer */
        lc_log(&r->cfg.log, LEDGER_LOG_WARN,
               "ledger replica %u: snapshot chunk %llu from replica %u refused (%d): asking "
               "another replica",
               r->cfg.self, (unsigned long long)d.index, from, rc);
        snap_next_peer(r, 1);
        return;
    }
    r->snap_chunks++;
#ifdef LEDGER_FAULT_INJECTION
    if (r->snap_kill && r->snap_chunks >= r->snap_kill)
        raise(SIGKILL); /* the test's "killed -9 mid-snapshot", at a known point */
#endif
    uint64_t idx;
    int complete = 0;
    uint8_t resume[LC_SNAP_RESUME_MAX];
    size_t rl;
    if (r->ops.snap_next(r->ops.ctx, &idx, resume, &rl, &complete) != 0)
        return;
    if (complete)
        snap_install(r);
    else
        snap_request(r);
}

/* Far behind with an empty store: start from a snapshot (on every tick). */
static void maybe_snapshot(lc_replica *r) {
    if (!r->ops.snap_begin || !r->ops.snap_next || !r->ops.snap_chunk || !r->ops.snap_finish ||
        r->snap_state == SNAP_DONE)
        return;
    if (r->snap_state == SNAP_OFF) {
        uint64_t best = 0;
        for (uint32_t j = 0; j < r->cfg.n; j++)
            if (j != r->cfg.self && r->peer_height[j] > best)
                best = r->peer_height[j];
        if (r->last_exec != 0) {
            r->snap_state = SNAP_DONE; /* it has blocks: blocks follow */
            return;
        }
        if (best == 0)
            return; /* no peer heard from yet */
        if (best < (uint64_t)SNAP_BEHIND_K * r->K) {
            r->snap_state = SNAP_DONE;
            return;
        }
        r->snap_state = SNAP_OFFERS;
        r->snap_t0 = r->now;
        r->snap_req = 0;
        lc_log(&r->cfg.log, LEDGER_LOG_INFO,
               "ledger replica %u: empty store, a peer is at %llu: catching up from a snapshot",
               r->cfg.self, (unsigned long long)best);
    }
    if (r->snap_state == SNAP_OFFERS) {
        if (r->now - r->snap_t0 > SNAP_OFFERS_MS) {
            lc_log(&r->cfg.log, LEDGER_LOG_WARN,
                   "ledger replica %u: no snapshot offered alike by %u replicas: fetching blocks",
                   r->cfg.self, snap_need(r));
            r->snap_state = SNAP_DONE;
            return;
        }
        if (r->now - r->snap_req >= SNAP_REQ_MS) {
            uint8_t v = LC_SNAP_VERSION;
            lc_net_broadcast(r->net, LC_T_SNAP_REQ, &v, 1);
            r->snap_req = r->now;
        }
        return;
    }
    if (r->now - r->snap_sent > SNAP_WAIT_MS)
        snap_next_peer(r, 0); /* no answer: ask another (or the same again) */
}

void lc_replica_snapshot_info(const lc_replica *r, uint64_t *installed_height, uint64_t *chunks) {
    if (installed_height)
        *installed_height = r->snap_installed;
    if (chunks)
        *chunks = r->snap_chunks;
}

/* ---- headers below a snapshot's base ----------------------------------- */

static void on_hdr_get(lc_replica *r, uint32_t from, const uint8_t *body, size_t n) {
    lc_hdr_get g;
    if (!r->ops.hdr_get || lc_hdr_get_decode(&g, body, n) != 0 || g.top > r->last_exec)
        return;
    lc_wr w;
    lc_wr_init(&w);
    lc_wr_u8(&w, LC_SNAP_VERSION);
    lc_wr_u64(&w, g.top);
    lc_wr_u32(&w, 0);
    uint32_t k = 0;
    for (uint64_t h = g.top; h >= 1 && k < g.max; h--, k++) {
        uint8_t *hdr = NULL, *cert = NULL;
        size_t hl = 0, cl = 0;
        if (r->ops.hdr_get(r->ops.ctx, h, &hdr, &hl, &cert, &cl) != 0) {
            free(hdr);
            free(cert);
            break;
        }
        lc_wr_var(&w, hdr, hl);
        lc_wr_var(&w, cert, cl);
        free(hdr);
        free(cert);
    }
    if (!w.oom && k > 0) {
        lc_put_u32(w.p + 9, k);
        lc_net_send(r->net, from, LC_T_HDRS, w.p, w.n);
    }
    lc_wr_free(&w);
}

static void hdr_request(lc_replica *r, uint32_t to, uint64_t top) {
    lc_hdr_get g = {.top = top, .max = LC_HDRS_MAX};
    lc_wr w;
    lc_wr_init(&w);
    lc_hdr_get_encode(&w, &g);
    if (!w.oom)
        lc_net_send(r->net, to, LC_T_HDR_GET, w.p, w.n);
    lc_wr_free(&w);
    r->hdr_req = r->now;
}

static void on_hdrs(lc_replica *r, uint32_t from, const uint8_t *body, size_t n) {
    lc_hdrs m;
    uint64_t lowest = 0;
    if (!r->ops.hdr_put || r->hdr_done || lc_hdrs_decode(&m, body, n) != 0 ||
        r->ops.hdr_lowest(r->ops.ctx, &lowest) != 0 || lowest <= 1 || m.top != lowest - 1)
        return;
    size_t off = 0;
    uint32_t put = 0;
    for (uint32_t i = 0; i < m.k; i++) {
        const uint8_t *h, *c;
        size_t hl, cl;
        if (lc_hdrs_next(&m, &off, &h, &hl, &c, &cl) != 0)
            break;
        /* the store checks the link, the decoding and the certificate */
        int rc = r->ops.hdr_put(r->ops.ctx, h, hl, c, cl);
        if (rc != 0) {
            lc_log(&r->cfg.log, LEDGER_LOG_WARN,
                   "ledger replica %u: header %llu from replica %u refused (%d)", r->cfg.self,
                   (unsigned long long)(m.top - i), from, rc);
            return; /* another peer is asked at the next round */
        }
        put++;
    }
    if (r->ops.hdr_lowest(r->ops.ctx, &lowest) != 0)
        return;
    if (lowest <= 1) {
        r->hdr_done = 1;
        lc_log(&r->cfg.log, LEDGER_LOG_INFO,
               "ledger replica %u: holds every header and certificate below its snapshot "
               "(down to height 1)",
               r->cfg.self);
    } else if (put) {
        hdr_request(r, from, lowest - 1); /* the next batch at once */
    }
}

/* A snapshot-started store fetches the headers below its base, downwards. */
static void maybe_fetch_headers(lc_replica *r) {
    if (!r->ops.hdr_lowest || !r->ops.hdr_put || r->hdr_done || snap_active(r) ||
        r->last_exec == 0 || r->now - r->hdr_req < 300)
        return; /* (an empty store may yet start from a snapshot) */
    r->hdr_req = r->now;
    uint64_t lowest = 0;
    if (r->ops.hdr_lowest(r->ops.ctx, &lowest) != 0)
        return;
    if (lowest <= 1) {
        r->hdr_done = 1; /* a chain from genesis, or every header held */
        return;
    }
    for (uint32_t t = 0; t < r->cfg.n; t++) {
        uint32_t j = (r->hdr_rr + t) % r->cfg.n;
        if (j == r->cfg.self || r->peer_height[j] == 0)
            continue;
        r->hdr_rr = j + 1;
        hdr_request(r, j, lowest - 1);
        break;
    }
}

/* ---- view change ------------------------------------------------------- */

/* Castro-Liskov §4.5.2 (liveness): the timer of the view change to
 * vc_target starts only once 2f+1 replicas (this one included) have asked
 * for it or a higher view; a replica that suspects the primary alone waits
 * for the others instead of running ahead of them one view at a time. The
 * timeout doubles at each start, up to 60 s, back to the base after a commit. */
static void vc_arm(lc_replica *r) {
    if (!r->in_vc || r->vc_deadline != VC_UNARMED)
        return;
    mem_ent me = mem_at(r, r->last_exec + 1);
    uint32_t k = 0;
    for (uint32_t j = 0; j < r->cfg.n; j++)
        if (((me.mask >> j) & 1) && r->vc_msg[j] && r->vc_view[j] >= r->vc_target)
            k++;
    if (k < me.quorum)
        return;
    r->vc_deadline = r->now + r->vc_timeout;
    /* doubled up to VC_MAX_MS, not beyond (before: doubled while below it,
     * so a base of 600 ms reached 76.8 s and one of 200 ms 102.4 s); a
     * configured base above it stays as it is */
    if (r->vc_timeout < VC_MAX_MS)
        r->vc_timeout = r->vc_timeout > VC_MAX_MS / 2 ? VC_MAX_MS : r->vc_timeout * 2;
}

static void start_view_change(lc_replica *r, uint64_t target) {
    if (target <= r->view || (r->in_vc && target <= r->vc_target))
        return;
    if (!is_member(r, r->cfg.self, r->last_exec + 1))
        return; /* not a member: it follows the members' views */
    /* a view whose primary is not a member would only time out */
    target = next_member_view(r, target, r->last_exec + 1);
    r->in_vc = 1;
    r->vc_target = target;
    /* the timer starts once 2f+1 replicas ask for this view (vc_arm) */
    r->vc_deadline = VC_UNARMED;
    r->vc_resent = r->now;
    lc_wr w;
    lc_wr_init(&w);
    lc_wr_u64(&w, target);
    lc_wr_u64(&w, r->last_exec);
    lc_wr_bytes(&w, r->last_hash, 32);
    uint8_t *cert = NULL;
    size_t cert_len = 0;
    if (r->last_exec > 0 && r->ops.get_cert(r->ops.ctx, r->last_exec, &cert, &cert_len) != 0) {
        cert = NULL;
        cert_len = 0;
    }
    lc_wr_var(&w, cert, cert_len);
    free(cert);
    /* the stable checkpoint and its proof: 2f+1 signed CHECKPOINTs */
    lc_wr_u64(&w, r->stable);
    lc_wr_bytes(&w, r->stable_hash, 32);
    lc_wr_u32(&w, r->stable_nproof);
    for (uint32_t i = 0; i < r->stable_nproof; i++)
        lc_wr_var(&w, r->stable_proof[i], CK_BYTES);
    lc_wr_u32(&w, r->cfg.self);
    size_t npos = w.n;
    lc_wr_u32(&w, 0);
    uint32_t np = 0;
    /* prepared certificates of the log above the stable checkpoint; those at
     * or below last_exec are covered by the certificate of block last_exec */
    uint64_t from = r->last_exec > r->stable ? r->last_exec : r->stable;
    for (uint64_t seq = from + 1; seq <= r->stable + r->L; seq++) {
        slot *s = log_slot(r, seq);
        if (!s || !s->have_pp)
            continue;
        uint32_t prim = primary_of(r, s->view);
        mem_ent me = mem_at(r, seq);
        if (!((me.mask >> prim) & 1) || count_prepares(r, s, prim) + 1 < me.quorum)
            continue;
        TRACEF(r, "vc_cert", target, seq, s->digest, " pv=%llu", (unsigned long long)s->view);
        lc_wr_var(&w, s->pp, s->pp_len);
        size_t cpos = w.n;
        lc_wr_u32(&w, 0);
        uint32_t c = 0;
        for (uint32_t j = 0; j < r->cfg.n && c + 1 < me.quorum; j++) {
            prep_rec *p = &s->prep[j];
            if (j == prim || !((me.mask >> j) & 1) || !p->have || p->view != s->view ||
                memcmp(p->digest, s->digest, 32) != 0)
                continue;
            lc_wr_var(&w, p->msg, p->len);
            c++;
        }
        if (!w.oom)
            lc_put_u32(w.p + cpos, c);
        np++;
    }
    if (!w.oom)
        lc_put_u32(w.p + npos, np);
    lc_msg_sign(&w, LC_T_VIEWCHANGE, 0, r->cfg.sk);
    if (!w.oom) {
        free(r->vc_msg[r->cfg.self]);
        r->vc_msg[r->cfg.self] = malloc(w.n);
        if (r->vc_msg[r->cfg.self]) {
            memcpy(r->vc_msg[r->cfg.self], w.p, w.n);
            r->vc_len[r->cfg.self] = w.n;
            r->vc_view[r->cfg.self] = target;
        }
        TRACEF(r, "vc_send", target, r->last_exec, NULL, " st=%llu np=%u",
               (unsigned long long)r->stable, np);
        bcast(r, LC_T_VIEWCHANGE, &w);
    }
    lc_wr_free(&w);
    lc_log(&r->cfg.log, LEDGER_LOG_WARN, "ledger replica %u: view change to %llu (height %llu)",
           r->cfg.self, (unsigned long long)target, (unsigned long long)r->last_exec);
    vc_arm(r);
}

/* Check a view-change message fully: signature, certificate of its last
 * block, and every prepared certificate it carries. */
static int vc_valid(lc_replica *r, const uint8_t *p, size_t n, lc_viewchange *vc) {
    /* its sender must be a member now (at our next height): a removed
     * replica takes no part in view changes */
    if (lc_viewchange_decode(vc, p, n) != 0 || vc->replica >= r->cfg.n ||
        !is_member(r, vc->replica, r->last_exec + 1) ||
        lc_viewchange_verify(p, n, r->cfg.pks[vc->replica]) != 0)
        return -1;
    if (vc->last_height > 0 &&
        r->ops.check_cert(r->ops.ctx, vc->last_height, vc->last_hash, vc->cert, vc->cert_len) != 0)
        return -1;
    /* the stable checkpoint: none (0), or 2f+1 distinct replicas' signed
     * CHECKPOINTs of exactly that height and hash */
    mem_ent ck_mem = mem_at(r, vc->stable);
    if (vc->stable == 0 ? vc->nckpt != 0 : vc->nckpt < ck_mem.quorum)
        return -1;
    size_t off = 0;
    uint64_t ck_seen = 0;
    for (uint32_t i = 0; i < vc->nckpt; i++) {
        const uint8_t *rec;
        size_t k;
        lc_checkpoint c;
        lc_next_var(vc->ckpts, vc->ckpts_len, &off, &rec, &k);
        if (lc_checkpoint_decode(&c, rec, k) != 0 || c.replica >= r->cfg.n ||
            !((ck_mem.mask >> c.replica) & 1) || ((ck_seen >> c.replica) & 1) ||
            c.seq != vc->stable || memcmp(c.block_hash, vc->stable_hash, 32) != 0 ||
            lc_checkpoint_verify(rec, k, r->cfg.pks[c.replica]) != 0)
            return -1;
        ck_seen |= 1ull << c.replica;
    }
    off = 0;
    for (uint32_t i = 0; i < vc->nprepared; i++) {
        const uint8_t *rec;
        size_t k;
        lc_preprepare pp;
        lc_next_var(vc->prepared, vc->prepared_len, &off, &rec, &k);
        lc_preprepare_decode(&pp, rec, k);
        uint32_t prim = primary_of(r, pp.view);
        /* prepared certificates only above the sender's stable checkpoint */
        mem_ent pm = mem_at(r, pp.seq);
        if (pp.view >= vc->new_view || pp.seq <= vc->stable || !((pm.mask >> prim) & 1) ||
            lc_preprepare_verify(rec, k, r->cfg.pks[prim]) != 0)
            return -1;
        uint32_t np = lc_get_u32(vc->prepared + off);
        off += 4;
        uint64_t seen = 0;
        uint32_t good = 0;
        for (uint32_t j = 0; j < np; j++) {
            lc_vote v;
            lc_next_var(vc->prepared, vc->prepared_len, &off, &rec, &k);
            lc_vote_decode(&v, LC_T_PREPARE, rec, k);
            if (v.replica >= r->cfg.n || v.replica == prim || !((pm.mask >> v.replica) & 1) ||
                ((seen >> v.replica) & 1) || v.view != pp.view || v.seq != pp.seq ||
                memcmp(v.digest, pp.digest, 32) != 0 ||
                lc_prepare_verify(rec, k, r->cfg.pks[v.replica]) != 0)
                return -1;
            seen |= 1ull << v.replica;
            good++;
        }
        if (good + 1 < pm.quorum)
            return -1;
    }
    return 0;
}

/* The deterministic choice of a new view: start after the highest stable
 * checkpoint or certified height (both proven), and for every later sequence
 * up to L above it the prepared proposal of the highest view. */
static void plan_newview(lc_replica *r, const uint8_t *const *vcs, const size_t *lens, uint32_t k,
                         nv_plan *pl) {
    pl->min_s = 0;
    memset(pl->pp, 0, r->L * sizeof *pl->pp);
    memset(pl->pp_len, 0, r->L * sizeof *pl->pp_len);
    memset(pl->pp_view, 0, r->L * sizeof *pl->pp_view);
    lc_viewchange vc;
    for (uint32_t i = 0; i < k; i++) {
        lc_viewchange_decode(&vc, vcs[i], lens[i]);
        if (vc.last_height > pl->min_s)
            pl->min_s = vc.last_height;
        if (vc.stable > pl->min_s)
            pl->min_s = vc.stable;
    }
    pl->max_s = pl->min_s;
    for (uint32_t i = 0; i < k; i++) {
        lc_viewchange_decode(&vc, vcs[i], lens[i]);
        size_t off = 0;
        for (uint32_t e = 0; e < vc.nprepared; e++) {
            const uint8_t *rec;
            size_t len;
            lc_preprepare pp;
            lc_next_var(vc.prepared, vc.prepared_len, &off, &rec, &len);
            lc_preprepare_decode(&pp, rec, len);
            uint32_t np = lc_get_u32(vc.prepared + off);
            off += 4;
            for (uint32_t j = 0; j < np; j++) {
                const uint8_t *x;
                size_t xl;
                lc_next_var(vc.prepared, vc.prepared_len, &off, &x, &xl);
            }
            if (pp.seq <= pl->min_s || pp.seq > pl->min_s + r->L)
                continue;
            size_t idx = (size_t)(pp.seq - pl->min_s - 1);
            if (!pl->pp[idx] || pp.view > pl->pp_view[idx]) {
                pl->pp[idx] = pp.proposal;
                pl->pp_len[idx] = pp.proposal_len;
                pl->pp_view[idx] = pp.view;
            }
            if (pp.seq > pl->max_s)
                pl->max_s = pp.seq;
        }
    }
}

static void enter_view(lc_replica *r, uint64_t v) {
    TRACE(r, "view", v, r->last_exec, NULL);
    r->view = v;
    r->in_vc = 0;
    r->vc_target = v;
    r->last_progress = r->now;
    for (uint32_t j = 0; j < r->cfg.n; j++)
        if (r->vc_view[j] <= v) {
            free(r->vc_msg[j]);
            r->vc_msg[j] = NULL;
            r->vc_view[j] = 0;
        }
    /* requests proposed in the old view but not re-proposed become pending again */
    for (size_t i = 0; i < r->known.cap; i++)
        if (r->known.e[i].used)
            r->known.e[i].val = 1;
    r->q_scan = r->qh;
    lc_log(&r->cfg.log, LEDGER_LOG_INFO, "ledger replica %u: view %llu (primary %u)", r->cfg.self,
           (unsigned long long)v, primary_of(r, v));
}

/* Install the plan's proposals as pre-prepares of view v (signed by body). */
static void install_plan_pp(lc_replica *r, const uint8_t *body, size_t n) {
    lc_preprepare m;
    if (lc_preprepare_decode(&m, body, n) != 0)
        return;
    lc_proposal pr;
    lc_proposal_decode(&pr, m.proposal, m.proposal_len);
    size_t off = 0;
    const uint8_t *tx;
    size_t len;
    for (uint32_t i = 0; i < pr.ntx; i++) {
        if (lc_proposal_next_tx(&pr, &off, &tx, &len) != 0)
            break;
        uint8_t h[32];
        crypto_hash_sha256(h, tx, len);
        lc_map_ent *e = lc_map_get(&r->known, h);
        if (e)
            e->val = 2;
    }
    accept_preprepare(r, body, n, 1);
}

/* The NEW-VIEW's pre-prepares: the plan's proposals, and an empty block for
 * each gap. A gap's timestamp is that of the block before it (the plan's
 * proposal, or our tip: maybe_send_newview waits until we have executed
 * min_s, so that the tip's timestamp is at least block min_s's). */
static void build_pp_list(lc_replica *r, uint64_t v, const nv_plan *pl, lc_wr *out, uint32_t *npp) {
    uint64_t prev_ts = r->last_ts;
    *npp = 0;
    for (uint64_t seq = pl->min_s + 1; seq <= pl->max_s; seq++) {
        size_t idx = (size_t)(seq - pl->min_s - 1);
        lc_wr prop, pp;
        lc_wr_init(&prop);
        lc_wr_init(&pp);
        if (pl->pp[idx]) {
            lc_wr_bytes(&prop, pl->pp[idx], pl->pp_len[idx]);
            lc_proposal x;
            if (lc_proposal_decode(&x, pl->pp[idx], pl->pp_len[idx]) == 0 && x.ts_ms > prev_ts)
                prev_ts = x.ts_ms;
        } else {
            /* a gap nobody prepared: fill it with an empty block */
            lc_proposal x = {
                .height = seq, .view = v, .proposer = primary_of(r, v), .ts_ms = prev_ts, .ntx = 0};
            lc_proposal_encode(&prop, &x, NULL, NULL);
        }
        lc_preprepare_encode(&pp, v, seq, prop.p, prop.n, r->cfg.sk);
        lc_wr_var(out, pp.p, pp.n);
        (*npp)++;
        lc_wr_free(&prop);
        lc_wr_free(&pp);
    }
}

static void maybe_send_newview(lc_replica *r) {
    uint64_t v = r->vc_target;
    if (!r->in_vc || primary_of(r, v) != r->cfg.self || r->nv_sent >= v)
        return;
    const uint8_t *vcs[LC_MAX_REPLICAS];
    size_t lens[LC_MAX_REPLICAS];
    uint32_t k = 0;
    uint64_t from = 0; /* who sent them (trace) */
    mem_ent me = mem_at(r, r->last_exec + 1);
    for (uint32_t j = 0; j < r->cfg.n && k < me.quorum; j++)
        if (((me.mask >> j) & 1) && r->vc_msg[j] && r->vc_view[j] == v) {
            vcs[k] = r->vc_msg[j];
            lens[k] = r->vc_len[j];
            from |= 1ull << j;
            k++;
        }
    (void)from;
    if (k < me.quorum)
        return;
    nv_plan *pl = &r->plan;
    plan_newview(r, vcs, lens, k, pl);
    /* A gap gets an empty block stamped with the time of the block before
     * it, which for the first height is block min_s. Our tip below min_s has
     * an older time: the store refuses to execute such a block (its time
     * goes back), yet once prepared it is re-proposed in every later view
     * and the chain stops for good (found by trace validation: all four
     * replicas prepared it view after view and none sent COMMIT;
     * docs/ledger-protocol.md §View change). Wait for state transfer to
     * bring min_s (a stable checkpoint or certified height: f+1 correct
     * replicas hold it); on_tick tries again. */
    if (r->last_exec < pl->min_s)
        for (uint64_t seq = pl->min_s + 1; seq <= pl->max_s; seq++)
            if (!pl->pp[seq - pl->min_s - 1])
                return;
    lc_wr w, pps;
    lc_wr_init(&w);
    lc_wr_init(&pps);
    uint32_t npp;
    build_pp_list(r, v, pl, &pps, &npp);
    lc_wr_u64(&w, v);
    lc_wr_u32(&w, k);
    for (uint32_t i = 0; i < k; i++)
        lc_wr_var(&w, vcs[i], lens[i]);
    lc_wr_u32(&w, npp);
    lc_wr_bytes(&w, pps.p, pps.n);
    lc_msg_sign(&w, LC_T_NEWVIEW, 0, r->cfg.sk);
    if (w.oom || pps.oom) {
        lc_wr_free(&w);
        lc_wr_free(&pps);
        return;
    }
    TRACE_PPS(r, v, pps.p, pps.n, npp);
    TRACEF(r, "nv_send", v, pl->min_s, NULL, " m=%llx np=%u", (unsigned long long)from, npp);
    bcast(r, LC_T_NEWVIEW, &w);
    r->nv_sent = v;
    free(r->nv_msg);
    r->nv_len = 0;
    if ((r->nv_msg = malloc(w.n)) != NULL) {
        memcpy(r->nv_msg, w.p, w.n);
        r->nv_len = w.n;
    }
    for (uint32_t j = 0; j < k; j++) {
        lc_viewchange vc;
        if (lc_viewchange_decode(&vc, vcs[j], lens[j]) == 0 &&
            vc.last_height > r->peer_height[vc.replica])
            r->peer_height[vc.replica] = vc.last_height;
    }
    enter_view(r, v); /* frees the view-change messages vcs[] points into */
    r->next_seq = pl->max_s + 1;
    size_t off = 0;
    const uint8_t *rec;
    size_t len;
    for (uint32_t i = 0; i < npp; i++)
        if (lc_next_var(pps.p, pps.n, &off, &rec, &len) == 0)
            install_plan_pp(r, rec, len);
    lc_wr_free(&w);
    lc_wr_free(&pps);
}

static void on_viewchange(lc_replica *r, uint32_t from, const uint8_t *body, size_t n) {
    lc_viewchange vc;
    if (vc_valid(r, body, n, &vc) != 0 || vc.replica != from)
        return;
    if (vc.last_height > r->peer_height[from])
        r->peer_height[from] = vc.last_height;
    /* A replica still asking for the view we lead, or a lower one, lost our
     * NEW-VIEW (it sends its VIEW-CHANGE again while it waits): send it the
     * NEW-VIEW again, at most every RESEND_MS; it enters our view (a higher
     * view than it asked for, as Castro-Liskov allow). Before, it stayed
     * out until the next view change. */
    if (vc.new_view <= r->view && !r->in_vc && r->nv_sent == r->view && r->nv_msg &&
        primary_of(r, r->view) == r->cfg.self && r->now - r->nv_resent[from] >= RESEND_MS) {
        r->nv_resent[from] = r->now;
        lc_net_send(r->net, from, LC_T_NEWVIEW, r->nv_msg, r->nv_len);
    }
    if (vc.new_view <= r->view || vc.new_view < r->vc_view[from])
        return;
    free(r->vc_msg[from]);
    r->vc_msg[from] = malloc(n);
    if (!r->vc_msg[from])
        return;
    memcpy(r->vc_msg[from], body, n);
    r->vc_len[from] = n;
    r->vc_view[from] = vc.new_view;
    /* f+1 replicas want a view above ours: join the smallest such view */
    uint64_t target = 0;
    uint32_t cnt = 0;
    mem_ent me = mem_at(r, r->last_exec + 1);
    for (uint32_t j = 0; j < r->cfg.n; j++)
        if (((me.mask >> j) & 1) && r->vc_msg[j] &&
            r->vc_view[j] > (r->in_vc ? r->vc_target : r->view)) {
            cnt++;
            if (!target || r->vc_view[j] < target)
                target = r->vc_view[j];
        }
    if (cnt >= me.f + 1 && target)
        start_view_change(r, target);
    vc_arm(r);
    maybe_send_newview(r);
}

static void on_newview(lc_replica *r, uint32_t from, const uint8_t *body, size_t n) {
    lc_newview m;
    if (lc_newview_decode(&m, body, n) != 0 || from != primary_of(r, m.view) || m.view <= r->view ||
        lc_newview_verify(body, n, r->cfg.pks[from]) != 0)
        return;
    /* Not a view below the one our VIEW-CHANGE asked for: that signed
     * VIEW-CHANGE stays out there and may yet form its view, and it does not
     * list what we would prepare in the lower view; a COMMIT there could
     * make a quorum that view never learns of, the same fork as a COMMIT
     * sent during a view change (docs/formal.md §Findings). Castro-Liskov:
     * the replica is already in the view it asked for. */
    if (r->in_vc && m.view < r->vc_target)
        return;
    const uint8_t *vcs[LC_MAX_REPLICAS];
    size_t lens[LC_MAX_REPLICAS];
    uint64_t seen = 0;
    size_t off = 0;
    for (uint32_t i = 0; i < m.nvc; i++) {
        lc_viewchange vc;
        lc_next_var(m.vcs, m.vcs_len, &off, &vcs[i], &lens[i]);
        if (vc_valid(r, vcs[i], lens[i], &vc) != 0 || vc.new_view != m.view ||
            ((seen >> vc.replica) & 1))
            return;
        seen |= 1ull << vc.replica;
        if (vc.last_height > r->peer_height[vc.replica])
            r->peer_height[vc.replica] = vc.last_height;
    }
    if (m.nvc < mem_at(r, r->last_exec + 1).quorum)
        return;
    nv_plan *pl = &r->plan;
    plan_newview(r, vcs, lens, m.nvc, pl);
    /* the pre-prepares must be exactly the plan's */
    off = 0;
    int ok = m.npp == (uint32_t)(pl->max_s - pl->min_s);
    /* a gap's empty block is stamped no earlier than the block before it
     * (build_pp_list); for the first, that is block min_s, whose time we
     * know when it is our tip. An older one could never execute. */
    uint64_t prev_ts = r->last_exec == pl->min_s ? r->last_ts : 0;
    for (uint32_t i = 0; ok && i < m.npp; i++) {
        const uint8_t *rec;
        size_t len;
        lc_preprepare pp;
        lc_proposal pr;
        lc_next_var(m.pps, m.pps_len, &off, &rec, &len);
        lc_preprepare_decode(&pp, rec, len);
        int pr_ok = lc_proposal_decode(&pr, pp.proposal, pp.proposal_len) == 0;
        size_t idx = i;
        if (pp.view != m.view || pp.seq != pl->min_s + 1 + i)
            ok = 0;
        else if (pl->pp[idx])
            ok = pp.proposal_len == pl->pp_len[idx] &&
                 memcmp(pp.proposal, pl->pp[idx], pp.proposal_len) == 0;
        else
            ok = pr_ok && pr.ntx == 0 && pr.view == m.view && pr.proposer == from &&
                 pr.ts_ms >= prev_ts;
        if (pr_ok && pr.ts_ms > prev_ts)
            prev_ts = pr.ts_ms;
        if (ok && lc_preprepare_verify(rec, len, r->cfg.pks[from]) != 0)
            ok = 0;
    }
    if (!ok) {
        return;
    }
    TRACE_PPS(r, m.view, m.pps, m.pps_len, m.npp);
    TRACEF(r, "nv_accept", m.view, pl->min_s, NULL, " m=%llx np=%u", (unsigned long long)seen,
           m.npp);
    enter_view(r, m.view);
    off = 0;
    for (uint32_t i = 0; i < m.npp; i++) {
        const uint8_t *rec;
        size_t len;
        lc_next_var(m.pps, m.pps_len, &off, &rec, &len);
        install_plan_pp(r, rec, len);
    }
    try_progress(r);
}

/* ---- clients ----------------------------------------------------------- */

/* Answer a read now: u32 id ‖ i32 status ‖ var answer, then, for a read that
 * named a height, u64 the height this replica has executed. */
static void answer_query(lc_replica *r, uint64_t conn, const uint8_t *body, size_t n,
                         int32_t status) {
    uint32_t id = lc_get_u32(body);
    uint8_t flags = body[4] & LC_QF_MASK;
    uint8_t kind = body[4] & (uint8_t)~LC_QF_MASK;
    size_t off = flags ? 13 : 5;
    uint8_t *out = NULL;
    size_t outn = 0;
    int rc = status;
    if (rc == 0)
        rc = r->ops.query(r->ops.ctx, kind, body + off, n - off, &out, &outn);
    lc_wr w;
    lc_wr_init(&w);
    lc_wr_u32(&w, id);
    lc_wr_u32(&w, (uint32_t)rc);
    lc_wr_var(&w, rc == 0 ? out : NULL, rc == 0 ? outn : 0);
    if (flags)
        lc_wr_u64(&w, r->last_exec);
    free(out);
    if (!w.oom)
        lc_net_send_conn(r->net, conn, LC_T_QUERY_RESP, w.p, w.n);
    lc_wr_free(&w);
}

static void on_query(lc_replica *r, uint64_t conn, const uint8_t *body, size_t n) {
    if (n < 5)
        return;
    uint8_t flags = body[4] & LC_QF_MASK;
    if (!flags) {
        answer_query(r, conn, body, n, 0);
        return;
    }
    if (n < 13)
        return;
    uint64_t want = lc_get_u64(body + 5);
    /* a linearizable read also waits for every block this replica has voted
     * to commit: a write whose receipt a client holds is among them at f+1
     * honest replicas of any 2f+1 (Castro & Liskov, OSDI '99, §4.5) */
    if ((flags & LC_QF_LINEARIZABLE) && r->commit_hi > want)
        want = r->commit_hi;
    if (want <= r->last_exec) {
        answer_query(r, conn, body, n, 0);
        return;
    }
    size_t mine = 0;
    for (size_t i = 0; i < r->nparked; i++)
        mine += r->parked[i].conn == conn;
    if (r->nparked >= PARK_MAX || mine >= PARK_PER_CONN) {
        answer_query(r, conn, body, n, LEDGER_E_LIMIT);
        return;
    }
    uint8_t *copy = malloc(n);
    if (!copy) {
        answer_query(r, conn, body, n, LEDGER_E_NOMEM);
        return;
    }
    memcpy(copy, body, n);
    if (!r->parked) {
        r->parked = calloc(PARK_MAX, sizeof *r->parked);
        if (!r->parked) {
            free(copy);
            answer_query(r, conn, body, n, LEDGER_E_NOMEM);
            return;
        }
    }
    r->parked[r->nparked++] = (parked_read){conn, want, r->now + PARK_MS, copy, n};
}

/* Answer the parked reads whose height is executed (or whose time is up:
 * LEDGER_E_TIMEOUT with our height, so the client knows we lag). */
static void serve_parked(lc_replica *r) {
    for (size_t i = 0; i < r->nparked;) {
        parked_read *p = &r->parked[i];
        int ready = p->min_height <= r->last_exec;
        if (!ready && r->now < p->expires) {
            i++;
            continue;
        }
        answer_query(r, p->conn, p->body, p->n, ready ? 0 : LEDGER_E_TIMEOUT);
        free(p->body);
        r->parked[i] = r->parked[--r->nparked];
    }
}

static void on_msg(void *ctx, uint64_t conn, uint32_t from, uint8_t type, const uint8_t *body,
                   size_t n) {
    lc_replica *r = ctx;
    r->now = lc_now_ms();
    if (from == LC_CLIENT_ID) {
        switch (type) {
            case LC_T_REQUEST:
                on_request(r, conn, body, n);
                maybe_propose(r);
                break;
            case LC_T_QUERY:
                on_query(r, conn, body, n);
                break;
            case LC_T_FOLLOW:
                if (r->nfollowers < MAX_FOLLOWERS) {
                    int dup = 0;
                    for (size_t i = 0; i < r->nfollowers; i++)
                        dup |= r->followers[i] == conn;
                    if (!dup)
                        r->followers[r->nfollowers++] = conn;
                    /* our tip at once: a follower waiting for a height we
                     * already reached need not wait for the next block */
                    if (r->last_exec > 0) {
                        uint8_t b[8 + 32 + 8];
                        lc_put_u64(b, r->last_exec);
                        memcpy(b + 8, r->last_hash, 32);
                        lc_put_u64(b + 40, r->last_ts);
                        lc_net_send_conn(r->net, conn, LC_T_NOTIFY, b, sizeof b);
                    }
                }
                break;
            default:
                break; /* clients may send nothing else */
        }
        return;
    }
    if (from >= r->cfg.n)
        return;
    switch (type) {
        case LC_T_PREPREPARE:
            on_preprepare(r, from, body, n);
            break;
        case LC_T_PREPARE:
            on_prepare(r, from, body, n);
            break;
        case LC_T_COMMIT:
            on_commit(r, from, body, n);
            break;
        case LC_T_CHECKPOINT:
            on_checkpoint(r, from, body, n);
            break;
        case LC_T_VIEWCHANGE:
            on_viewchange(r, from, body, n);
            break;
        case LC_T_NEWVIEW:
            on_newview(r, from, body, n);
            break;
        case LC_T_FETCH:
            on_fetch(r, from, body, n);
            break;
        case LC_T_BLOCKS:
            on_blocks(r, from, body, n);
            break;
        case LC_T_SNAP_REQ:
            on_snap_req(r, from, body, n);
            break;
        case LC_T_SNAP_OFFER:
            on_snap_offer(r, from, body, n);
            break;
        case LC_T_SNAP_GET:
            on_snap_get(r, from, body, n);
            break;
        case LC_T_SNAP_DATA:
            on_snap_data(r, from, body, n);
            break;
        case LC_T_HDR_GET:
            on_hdr_get(r, from, body, n);
            break;
        case LC_T_HDRS:
            on_hdrs(r, from, body, n);
            break;
        default:
            break;
    }
}

static void on_close(void *ctx, uint64_t conn) {
    lc_replica *r = ctx;
    for (size_t i = 0; i < r->nparked;)
        if (r->parked[i].conn == conn) {
            free(r->parked[i].body);
            r->parked[i] = r->parked[--r->nparked];
        } else {
            i++;
        }
    for (size_t i = 0; i < r->nfollowers; i++)
        if (r->followers[i] == conn) {
            r->followers[i] = r->followers[--r->nfollowers];
            break;
        }
}

/* Messages can be lost (a link not yet up, a full queue, faults): the next
 * slot's pre-prepare, our prepare and our commit are sent again while it waits. */
static void retransmit(lc_replica *r) {
    for (uint64_t seq = r->last_exec + 1; seq <= r->last_exec + r->cfg.max_inflight; seq++) {
        slot *s = log_slot(r, seq);
        if (!s || !s->have_pp || r->now - s->t_resend < RESEND_MS)
            continue;
        s->t_resend = r->now;
        lc_net_broadcast(r->net, LC_T_PREPREPARE, s->pp, s->pp_len);
        prep_rec *p = &s->prep[r->cfg.self];
        if (p->have && p->view == s->view)
            lc_net_broadcast(r->net, LC_T_PREPARE, p->msg, p->len);
        commit_rec *c = &s->com[r->cfg.self];
        if (s->commit_sent && c->have) {
            lc_vote v = {.type = LC_T_COMMIT, .view = s->view, .seq = seq, .replica = r->cfg.self};
            memcpy(v.digest, s->digest, 32);
            memcpy(v.sig, c->sig, 64);
            lc_wr w;
            lc_wr_init(&w);
            lc_vote_encode(&w, &v, r->cfg.sk);
            bcast(r, LC_T_COMMIT, &w);
            lc_wr_free(&w);
        }
    }
}

static void on_tick(void *ctx, uint64_t now) {
    lc_replica *r = ctx;
    r->now = now;
    if (r->nparked)
        serve_parked(r);
    maybe_propose(r);
    maybe_snapshot(r);
    maybe_fetch(r);
    maybe_fetch_headers(r);
    retransmit(r);
    /* heartbeat: a signed checkpoint of our tip tells lagging peers how far we are */
    if (now - r->last_status >= STATUS_MS) {
        r->last_status = now;
        send_checkpoint(r);
        /* and our latest checkpoint vote again, for peers that missed it or
         * restarted: a stable checkpoint needs 2f+1 of them */
        if (r->my_ck_seq > 0 && r->my_ck_seq != r->last_exec)
            lc_net_broadcast(r->net, LC_T_CHECKPOINT, r->my_ck, CK_BYTES);
    }
    /* a replica that missed a new view follows f+1 peers seen in a higher view */
    mem_ent me = mem_at(r, r->last_exec + 1);
    if (!r->in_vc) {
        uint32_t cnt = 0;
        uint64_t low = UINT64_MAX;
        for (uint32_t j = 0; j < r->cfg.n; j++)
            if (j != r->cfg.self && ((me.mask >> j) & 1) && r->seen_view[j] > r->view) {
                cnt++;
                if (r->seen_view[j] < low)
                    low = r->seen_view[j];
            }
        if (cnt >= me.f + 1)
            enter_view(r, low);
    }
    if (!((me.mask >> r->cfg.self) & 1))
        return; /* not a member: it suspects nobody */
    if (r->in_vc) {
        maybe_send_newview(r); /* a primary that waited to catch up to min_s */
        if (!r->in_vc)
            return;
        if (r->vc_deadline != VC_UNARMED && now >= r->vc_deadline) {
            start_view_change(r, r->vc_target + 1);
        } else if (now - r->vc_resent >= VC_RESEND_MS && r->vc_msg[r->cfg.self]) {
            /* not sent again, a lost VIEW-CHANGE could keep its view from
             * ever gathering the 2f+1 that start the timers */
            r->vc_resent = now;
            lc_net_broadcast(r->net, LC_T_VIEWCHANGE, r->vc_msg[r->cfg.self],
                             r->vc_len[r->cfg.self]);
        }
        return;
    }
    /* the primary left the membership: change view at once */
    if (!((me.mask >> primary_of(r, r->view)) & 1)) {
        start_view_change(r, r->view + 1);
        return;
    }
    /* suspect the primary when work waits (a request, or a proposal not yet
     * committed) for longer than the timeout without any commit meanwhile */
    uint64_t oldest = UINT64_MAX;
    q_trim(r);
    if (r->qh < r->qt)
        oldest = r->q[r->qh].at;
    slot *s = log_slot(r, r->last_exec + 1);
    if (s && s->have_pp && s->t_pp < oldest)
        oldest = s->t_pp;
    uint64_t since = oldest > r->last_progress ? oldest : r->last_progress;
    if (oldest != UINT64_MAX && now - since > r->vc_timeout)
        start_view_change(r, r->view + 1);
}

int lc_replica_create(lc_replica **out, const lc_replica_cfg *cfg, const lc_store_ops *ops) {
    *out = NULL;
    if (cfg->n < 4 || cfg->n > LC_MAX_REPLICAS || cfg->n < 3 * cfg->f + 1 || cfg->self >= cfg->n)
        return -1;
    uint32_t K = cfg->checkpoint_every ? cfg->checkpoint_every : 32;
    uint32_t inflight = cfg->max_inflight ? cfg->max_inflight : 4;
    if (K > LC_MAX_CHECKPOINT_EVERY || inflight > 64)
        return -1;
    lc_replica *r = calloc(1, sizeof *r);
    if (!r)
        return -1;
    /* the log spans L = a multiple of K, at least 2K and K + max_inflight:
     * the primary keeps proposing while the next checkpoint becomes stable */
    r->K = K;
    r->L = K * (1 + (inflight + K - 1) / K);
    r->slots = calloc(r->L, sizeof *r->slots);
    r->prep_pool = calloc((size_t)r->L * cfg->n, sizeof *r->prep_pool);
    r->com_pool = calloc((size_t)r->L * cfg->n, sizeof *r->com_pool);
    r->plan.pp = calloc(r->L, sizeof *r->plan.pp);
    r->plan.pp_len = calloc(r->L, sizeof *r->plan.pp_len);
    r->plan.pp_view = calloc(r->L, sizeof *r->plan.pp_view);
    if (!r->slots || !r->prep_pool || !r->com_pool || !r->plan.pp || !r->plan.pp_len ||
        !r->plan.pp_view) {
        free(r->slots);
        free(r->prep_pool);
        free(r->com_pool);
        free(r->plan.pp);
        free(r->plan.pp_len);
        free(r->plan.pp_view);
        free(r);
        return -1;
    }
    for (uint32_t i = 0; i < r->L; i++) {
        r->slots[i].prep = &r->prep_pool[(size_t)i * cfg->n];
        r->slots[i].com = &r->com_pool[(size_t)i * cfg->n];
    }
    r->cfg = *cfg;
    r->cfg.checkpoint_every = K;
    r->cfg.max_inflight = inflight;
    r->ops = *ops;
    if (!r->cfg.max_block_txs)
        r->cfg.max_block_txs = 2000;
    if (!r->cfg.max_block_bytes)
        r->cfg.max_block_bytes = 4u << 20;
    if (!r->cfg.view_timeout_ms)
        r->cfg.view_timeout_ms = 2000;
    if (!r->cfg.max_clock_skew_ms)
        r->cfg.max_clock_skew_ms = 5000;
    r->quorum = (cfg->n + cfg->f) / 2 + 1;
    r->vc_timeout = r->cfg.view_timeout_ms;
    r->now = lc_now_ms();
    uint64_t h;
    r->ops.tip(r->ops.ctx, &h, r->last_hash, &r->last_ts);
    r->last_exec = h;
    mem_refresh(r);
    /* no stable checkpoint yet (it needs 2f+1 signatures): sign our vote for
     * the last multiple of K we hold; it goes out with the first heartbeat */
    r->stable = 0;
    uint64_t hk = h - h % K;
    uint8_t hh[32];
    if (hk > 0 && r->ops.hash_at(r->ops.ctx, hk, hh) == 0) {
        lc_checkpoint c = {.seq = hk, .replica = cfg->self};
        memcpy(c.block_hash, hh, 32);
        lc_wr w;
        lc_wr_init(&w);
        lc_checkpoint_encode(&w, &c, r->cfg.sk);
        if (!w.oom && w.n == CK_BYTES) {
            memcpy(r->my_ck, w.p, CK_BYTES);
            r->my_ck_seq = hk;
            ck_record(r, &c, w.p);
        }
        lc_wr_free(&w);
    }
    r->next_seq = h + 1;
    r->last_prop_ts = r->last_ts;
    r->last_progress = r->now;
    *out = r;
    return 0;
}

void lc_replica_free(lc_replica *r) {
    if (!r)
        return;
    for (size_t i = 0; i < r->L; i++)
        if (r->slots[i].used)
            slot_clear(r, &r->slots[i]);
    free(r->slots);
    free(r->prep_pool);
    free(r->com_pool);
    free(r->plan.pp);
    free(r->plan.pp_len);
    free(r->plan.pp_view);
    for (size_t i = r->qh; i < r->qt; i++)
        free(r->q[i].tx);
    free(r->q);
    lc_map_free(&r->known);
    lc_map_free(&r->waiters);
    for (size_t i = 0; i < r->nparked; i++)
        free(r->parked[i].body);
    free(r->parked);
    for (uint32_t j = 0; j < LC_MAX_REPLICAS; j++)
        free(r->vc_msg[j]);
    free(r->nv_msg);
    sodium_memzero(r->cfg.sk, sizeof r->cfg.sk);
    free(r);
}

void lc_replica_handler(lc_replica *r, lc_net_handler *h) {
    h->ctx = r;
    h->on_msg = on_msg;
    h->on_tick = on_tick;
    h->on_close = on_close;
}

void lc_replica_attach(lc_replica *r, lc_net *net) {
    r->net = net;
}

uint64_t lc_replica_view(const lc_replica *r) {
    return r->view;
}

uint64_t lc_replica_height(const lc_replica *r) {
    return r->last_exec;
}

void lc_replica_log_info(const lc_replica *r, uint64_t *low, uint64_t *high, uint32_t *entries) {
    uint32_t k = 0;
    for (uint32_t i = 0; i < r->L; i++)
        if (r->slots[i].used)
            k++;
    *low = r->stable;
    *high = r->stable + r->L;
    *entries = k;
}

#ifdef LEDGER_FAULT_INJECTION
void lc_replica_set_equivocate(lc_replica *r, int on) {
    r->cfg.equivocate = on;
}

void lc_replica_set_snapshot_kill(lc_replica *r, uint64_t after_chunks) {
    r->snap_kill = after_chunks;
}

void lc_replica_set_snapshot_corrupt(lc_replica *r, uint64_t chunks) {
    r->snap_corrupt = chunks;
}

void lc_replica_set_trace(lc_replica *r, void (*fn)(void *ctx, const char *line), void *ctx) {
    r->trace_fn = fn;
    r->trace_ctx = ctx;
    TRACEF(r, "start", r->view, r->last_exec, NULL, " n=%u f=%u k=%u q=%u", r->cfg.n, r->cfg.f,
           r->K, r->quorum);
}

void lc_replica_set_commit_early(lc_replica *r, int on) {
    r->commit_early = on;
}
#endif
