/* ledger_client: submit transactions and read from the replicas, checking
 * every answer that one replica could forge (docs/guides/ledger.md). */
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "ledger/bundle.h"
#include "ledger/client.h"
#include "ledger/reconfig.h"
#include "lc_config.h"
#include "lc_log.h"
#include "lc_net.h"
#include "lc_replica.h"

typedef struct pend {
    uint8_t hash[32];
    lc_reply rep[LC_MAX_REPLICAS];
    uint64_t have;
    int done;
    int err;
    lc_reply result;
    uint32_t matches;
    pthread_cond_t cv;
    struct pend *next;
} pend;

typedef struct qpend {
    uint32_t id;
    uint64_t have;
    int32_t status[LC_MAX_REPLICAS];
    uint8_t *data[LC_MAX_REPLICAS];
    size_t len[LC_MAX_REPLICAS];
    uint64_t height[LC_MAX_REPLICAS]; /* the replica's executed height (reads at a height) */
    pthread_cond_t cv;
    struct qpend *next;
} qpend;

typedef struct {
    uint32_t to; /* replica, or UINT32_MAX for all */
    uint8_t type;
    uint8_t *body;
    size_t n;
} outmsg;

#define RECENT 64
typedef struct {
    uint64_t height;
    uint8_t hash[32];
    uint64_t ts;
} note;

#define MC_MAX 32 /* memberships a client keeps (the genesis one first) */

struct ledger_client {
    ledger_config cfg;
    ledger_membership *m;
    /* memberships learnt from the replicas (docs/ledger-protocol.md
     * §Membership changes), by epoch hash; mc[0] is m (under mu) */
    ledger_membership *mc[MC_MAX];
    uint8_t mce[MC_MAX][32];
    size_t nmc;
    /* the latest membership verified by a chain of certified changes from the
     * genesis one (mc[known]), in force from height known_eff (0: genesis) */
    size_t known;
    uint64_t known_eff;
    lc_net *net;
    pthread_t thr;
    pthread_mutex_t mu;
    outmsg *out;
    size_t nout, cout;
    pend *subs;
    qpend *qs;
    uint32_t next_id;
    uint32_t linked;   /* replicas with an open link (loop thread writes, under mu) */
    uint64_t followed; /* replicas whose current link got our FOLLOW */
    uint64_t up;       /* replicas whose link was up at the last tick (loop thread) */
    lc_logger log;     /* ledger_client_set_log (under mu) */
    ledger_follow_cb cb;
    void *cb_ctx;
    ledger_signer *signer; /* signs blob puts (under mu); NULL: anonymous */
    uint64_t delivered;
    note recent[LC_MAX_REPLICAS][RECENT];
    /* reads (docs/ledger-protocol.md §Reads): never older than `floor`, the
     * highest height this client has written at, read at or been told of */
    uint64_t floor;
    uint32_t read_mode;
    /* ledger_client_wait_height: the highest height f+1 replicas announced */
    int auto_follow;
    uint64_t agreed_tip;
    pthread_cond_t tip_cv;
};

/* Raise the floor (mu held). */
static void raise_floor(ledger_client *c, uint64_t h) {
    if (h > c->floor)
        c->floor = h;
}

static void deadline_after(struct timespec *ts, uint32_t ms) {
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Queue a message for the loop thread (mu held). */
static int post(ledger_client *c, uint32_t to, uint8_t type, const uint8_t *body, size_t n) {
    if (c->nout == c->cout) {
        size_t nc = c->cout ? c->cout * 2 : 64;
        outmsg *no = realloc(c->out, nc * sizeof *no);
        if (!no)
            return LEDGER_E_NOMEM;
        c->out = no;
        c->cout = nc;
    }
    uint8_t *copy = malloc(n ? n : 1);
    if (!copy)
        return LEDGER_E_NOMEM;
    if (n)
        memcpy(copy, body, n);
    c->out[c->nout++] = (outmsg){to, type, copy, n};
    return LEDGER_OK;
}

static void on_reply(ledger_client *c, uint32_t from, const uint8_t *body, size_t n) {
    lc_reply r;
    if (lc_reply_decode(&r, body, n) != 0 || r.replica != from)
        return;
    for (pend *p = c->subs; p; p = p->next) {
        if (p->done || memcmp(p->hash, r.tx_hash, 32) != 0)
            continue;
        p->rep[from] = r;
        p->have |= 1ull << from;
        uint32_t k = 0;
        for (uint32_t j = 0; j < c->cfg.n; j++)
            if (((p->have >> j) & 1) && p->rep[j].status == r.status &&
                p->rep[j].height == r.height && p->rep[j].index == r.index &&
                memcmp(p->rep[j].block_hash, r.block_hash, 32) == 0)
                k++;
        /* An outcome in a block needs f+1 matching replies. A refusal before
         * ordering (height 0) needs n - f: it is each replica's check against
         * the state it has executed, and a replica that lags refuses an act
         * whose premise (a proposal, a grant) this client already saw
         * committed; n - f refusals meet every f+1 set that replied to that
         * receipt, so at least one of them had executed it. */
        uint32_t need = r.height == 0 ? c->cfg.n - c->cfg.f : c->cfg.f + 1;
        if (k >= need) {
            p->done = 1;
            p->result = r;
            p->matches = k;
            pthread_cond_signal(&p->cv);
        }
    }
}

static void on_qresp(ledger_client *c, uint32_t from, const uint8_t *body, size_t n) {
    lc_rd rd;
    lc_rd_init(&rd, body, n);
    uint32_t id = lc_rd_u32(&rd);
    int32_t st = (int32_t)lc_rd_u32(&rd);
    size_t len;
    const uint8_t *d = lc_rd_var(&rd, &len, LC_MAX_FRAME);
    uint64_t height = 0;
    if (rd.n - rd.off == 8)
        height = lc_rd_u64(&rd);
    if (!lc_rd_done(&rd))
        return;
    for (qpend *q = c->qs; q; q = q->next) {
        if (q->id != id || ((q->have >> from) & 1))
            continue;
        q->data[from] = malloc(len ? len : 1);
        if (!q->data[from])
            return;
        if (len)
            memcpy(q->data[from], d, len);
        q->len[from] = len;
        q->height[from] = height;
        q->status[from] = st;
        q->have |= 1ull << from;
        pthread_cond_signal(&q->cv);
    }
}

/* A note of height h that f+1 replicas announced with the same hash, or NULL. */
static const note *agreed(ledger_client *c, uint64_t h) {
    for (uint32_t i = 0; i < c->cfg.n; i++) {
        const note *o = &c->recent[i][h % RECENT];
        if (o->height != h)
            continue;
        uint32_t k = 0;
        for (uint32_t j = 0; j < c->cfg.n; j++) {
            const note *p = &c->recent[j][h % RECENT];
            if (p->height == h && memcmp(p->hash, o->hash, 32) == 0)
                k++;
        }
        if (k >= c->cfg.f + 1)
            return o;
    }
    return NULL;
}

static void deliver(ledger_client *c, const note *o) {
    note nt = *o;
    c->delivered = nt.height;
    ledger_follow_cb cb = c->cb;
    void *ctx = c->cb_ctx;
    pthread_mutex_unlock(&c->mu);
    cb(ctx, nt.height, nt.hash, nt.ts);
    pthread_mutex_lock(&c->mu);
}

static void on_notify(ledger_client *c, uint32_t from, const uint8_t *body, size_t n) {
    if (n != 48 || (!c->cb && !c->auto_follow))
        return;
    note nt;
    lc_rd rd;
    lc_rd_init(&rd, body, n);
    nt.height = lc_rd_u64(&rd);
    lc_rd_copy(&rd, nt.hash, 32);
    nt.ts = lc_rd_u64(&rd);
    if (nt.height == 0)
        return;
    c->recent[from][nt.height % RECENT] = nt;
    if (!agreed(c, nt.height))
        return;
    if (nt.height > c->delivered && c->cb) {
        /* heights below it that are agreed too go first, in order; a height
         * whose notifications were lost (link down) is skipped */
        uint64_t x = c->delivered + 1;
        if (nt.height - x >= RECENT)
            x = nt.height - RECENT + 1;
        for (; x <= nt.height && c->cb; x++) {
            const note *o = agreed(c, x);
            if (o && x > c->delivered)
                deliver(c, o);
        }
    }
    /* waiters wake after the callback saw the height */
    if (nt.height > c->agreed_tip) {
        c->agreed_tip = nt.height;
        pthread_cond_broadcast(&c->tip_cv);
    }
}

static void c_on_msg(void *ctx, uint64_t conn, uint32_t from, uint8_t type, const uint8_t *body,
                     size_t n) {
    ledger_client *c = ctx;
    (void)conn;
    if (from >= c->cfg.n)
        return;
    pthread_mutex_lock(&c->mu);
    if (type == LC_T_REPLY)
        on_reply(c, from, body, n);
    else if (type == LC_T_QUERY_RESP)
        on_qresp(c, from, body, n);
    else if (type == LC_T_NOTIFY)
        on_notify(c, from, body, n);
    pthread_mutex_unlock(&c->mu);
}

static void c_on_tick(void *ctx, uint64_t now) {
    ledger_client *c = ctx;
    (void)now;
    pthread_mutex_lock(&c->mu);
    outmsg *batch = c->out;
    size_t nb = c->nout;
    c->out = NULL;
    c->nout = c->cout = 0;
    uint32_t linked = 0;
    uint64_t follow = 0;
    for (uint32_t j = 0; j < c->cfg.n; j++) {
        int up = lc_net_linked(c->net, j);
        linked += (uint32_t)up;
        /* FOLLOW is per connection: (re)send it on every link that came up */
        if (!up)
            c->followed &= ~(1ull << j);
        else if ((c->cb || c->auto_follow) && !((c->followed >> j) & 1)) {
            follow |= 1ull << j;
            c->followed |= 1ull << j;
        }
    }
    c->linked = linked;
    lc_logger lg = c->log;
    pthread_mutex_unlock(&c->mu);
    /* links that came up or went down since the last tick (the callback runs without mu) */
    for (uint32_t j = 0; j < c->cfg.n; j++) {
        int up = lc_net_linked(c->net, j), was = (int)((c->up >> j) & 1);
        if (up == was)
            continue;
        c->up ^= 1ull << j;
        lc_log(&lg, LEDGER_LOG_INFO, "ledger client: link to replica %u (%s) %s", j,
               c->cfg.addrs[j], up ? "up" : "down");
    }
    for (size_t i = 0; i < nb; i++) {
        if (batch[i].to == UINT32_MAX) {
            for (uint32_t j = 0; j < c->cfg.n; j++)
                lc_net_send(c->net, j, batch[i].type, batch[i].body, batch[i].n);
        } else {
            lc_net_send(c->net, batch[i].to, batch[i].type, batch[i].body, batch[i].n);
        }
        free(batch[i].body);
    }
    free(batch);
    for (uint32_t j = 0; j < c->cfg.n; j++)
        if (((follow >> j) & 1) && lc_net_send(c->net, j, LC_T_FOLLOW, NULL, 0) != 0) {
            pthread_mutex_lock(&c->mu);
            c->followed &= ~(1ull << j); /* not sent: try again next round */
            pthread_mutex_unlock(&c->mu);
        }
}

static void *c_loop(void *arg) {
    ledger_client *c = arg;
    lc_net_run(c->net);
    return NULL;
}

LEDGER_API int ledger_client_connect(ledger_client **out, const ledger_config *cfg,
                                     uint32_t timeout_ms) {
    if (!out)
        return LEDGER_E_INVALID;
    *out = NULL;
    if (!cfg || cfg->n == 0)
        return LEDGER_E_INVALID;
    ledger_client *c = calloc(1, sizeof *c);
    if (!c)
        return LEDGER_E_NOMEM;
    c->cfg = *cfg;
    sodium_memzero(c->cfg.seed, 32);
    c->cfg.have_seed = 0;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->tip_cv, NULL);
    int rc = ledger_config_membership(cfg, &c->m);
    if (rc == LEDGER_OK)
        rc = ldg_membership_hash(c->m, c->mce[0]);
    if (rc != LEDGER_OK) {
        ledger_membership_free(c->m);
        pthread_mutex_destroy(&c->mu);
        free(c);
        return rc;
    }
    c->mc[0] = c->m;
    c->nmc = 1;
    lc_net_config nc;
    memset(&nc, 0, sizeof nc);
    nc.self = LC_CLIENT_ID;
    nc.n = c->cfg.n;
    nc.addrs = c->cfg.addrs;
    nc.pks = (const uint8_t(*)[32])c->cfg.keys;
    nc.connect_replicas = 1;
    nc.tick_ms = 2;
    lc_net_handler h = {c, c_on_msg, c_on_tick, NULL};
    if (lc_net_create(&c->net, &nc, &h) != 0) {
        ledger_membership_free(c->m);
        pthread_mutex_destroy(&c->mu);
        free(c);
        return LEDGER_E_NETWORK;
    }
    if (pthread_create(&c->thr, NULL, c_loop, c) != 0) {
        lc_net_free(c->net);
        ledger_membership_free(c->m);
        pthread_mutex_destroy(&c->mu);
        free(c);
        return LEDGER_E_NOMEM;
    }
    uint64_t t0 = lc_now_ms();
    for (;;) {
        pthread_mutex_lock(&c->mu);
        uint32_t linked = c->linked;
        pthread_mutex_unlock(&c->mu);
        uint64_t el = lc_now_ms() - t0;
        if (linked == c->cfg.n || (el >= 500 && linked >= 2 * c->cfg.f + 1) ||
            (el >= timeout_ms && linked >= c->cfg.f + 1))
            break;
        if (el >= timeout_ms) {
            ledger_client_close(c);
            return LEDGER_E_NETWORK;
        }
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    *out = c;
    return LEDGER_OK;
}

LEDGER_API void ledger_client_close(ledger_client *c) {
    if (!c)
        return;
    lc_net_stop(c->net);
    pthread_join(c->thr, NULL);
    lc_net_free(c->net);
    for (size_t i = 0; i < c->nout; i++)
        free(c->out[i].body);
    free(c->out);
    for (size_t i = 1; i < c->nmc; i++)
        ledger_membership_free(c->mc[i]);
    ledger_membership_free(c->m);
    pthread_cond_destroy(&c->tip_cv);
    ledger_signer_free(c->signer);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* Send a query to every replica and wait. mode 0: accept the first answer
 * that `check` accepts; mode 1: `quorum` identical (status, bytes) answers.
 * With `at` nonzero the query asks each replica to answer once it has
 * executed height `at` (LC_QF_AT_HEIGHT, and LC_QF_LINEARIZABLE when
 * `linear`); *answered_at gets the lowest height among the accepted answers. */
typedef int (*check_fn)(void *ctx, int32_t status, const uint8_t *d, size_t n);

typedef struct {
    uint64_t at;      /* 0: any state; else the height every answer must reflect */
    int linear;       /* replicas also wait for the blocks they voted to commit */
    uint32_t quorum;  /* mode 1: matching answers needed */
    uint64_t high[2]; /* out: the highest and (f+1)-th highest reported heights */
    uint64_t answered_at;
} ask_opts;

static int ask(ledger_client *c, uint8_t kind, const uint8_t *arg, size_t n, uint32_t timeout_ms,
               int mode, check_fn check, void *cctx, ask_opts *o, int32_t *status, uint8_t **data,
               size_t *len) {
    qpend *q = calloc(1, sizeof *q);
    if (!q)
        return LEDGER_E_NOMEM;
    pthread_cond_init(&q->cv, NULL);
    uint32_t quorum = o && o->quorum ? o->quorum : c->cfg.f + 1;
    lc_wr w;
    lc_wr_init(&w);
    pthread_mutex_lock(&c->mu);
    q->id = ++c->next_id;
    lc_wr_u32(&w, q->id);
    if (o && o->at) {
        lc_wr_u8(&w, (uint8_t)(kind | LC_QF_AT_HEIGHT | (o->linear ? LC_QF_LINEARIZABLE : 0)));
        lc_wr_u64(&w, o->at);
    } else {
        lc_wr_u8(&w, kind);
    }
    lc_wr_bytes(&w, arg, n);
    int rc = w.oom ? LEDGER_E_NOMEM : post(c, UINT32_MAX, LC_T_QUERY, w.p, w.n);
    lc_wr_free(&w);
    q->next = c->qs;
    c->qs = q;
    lc_net_wake(c->net);
    struct timespec dl;
    deadline_after(&dl, timeout_ms);
    uint64_t checked = 0;
    int result = LEDGER_E_TIMEOUT;
    while (rc == LEDGER_OK) {
        uint32_t answered = 0, notfound = 0;
        for (uint32_t j = 0; j < c->cfg.n; j++) {
            if (!((q->have >> j) & 1))
                continue;
            answered++;
            if (q->status[j] == LEDGER_E_NOT_FOUND)
                notfound++;
            if (mode == 0 && !((checked >> j) & 1)) {
                checked |= 1ull << j;
                int cr = check(cctx, q->status[j], q->data[j], q->len[j]);
                if (cr == 1) { /* certified by a membership this client has not learnt */
                    result = LEDGER_E_EPOCH;
                    goto done;
                }
                if (cr == 0) {
                    *status = q->status[j];
                    *data = q->data[j];
                    *len = q->len[j];
                    q->data[j] = NULL;
                    if (o)
                        o->answered_at = q->height[j];
                    result = LEDGER_OK;
                    goto done;
                }
            }
            if (mode == 1) {
                uint32_t k = 0;
                uint64_t lo = UINT64_MAX;
                for (uint32_t i = 0; i < c->cfg.n; i++)
                    if (((q->have >> i) & 1) && q->status[i] == q->status[j] &&
                        q->len[i] == q->len[j] && memcmp(q->data[i], q->data[j], q->len[j]) == 0) {
                        k++;
                        if (q->height[i] < lo)
                            lo = q->height[i];
                    }
                if (k >= quorum) {
                    *status = q->status[j];
                    *data = q->data[j];
                    *len = q->len[j];
                    q->data[j] = NULL;
                    /* among `quorum` ≥ f+1 answers one is honest: the lowest
                     * height is one an honest replica has executed */
                    if (o) {
                        o->answered_at = lo;
                        raise_floor(c, lo);
                    }
                    result = LEDGER_OK;
                    goto done;
                }
            }
        }
        if (mode == 0 && notfound >= c->cfg.f + 1 && answered == c->linked) {
            result = LEDGER_E_NOT_FOUND;
            goto done;
        }
        if (mode == 1 && answered == c->cfg.n) {
            result = LEDGER_E_DIVERGED;
            if (o) {
                /* the heights the replicas reported, for a linearizable retry */
                uint64_t hs[LC_MAX_REPLICAS];
                for (uint32_t j = 0; j < c->cfg.n; j++)
                    hs[j] = q->height[j];
                for (uint32_t a = 0; a < c->cfg.n; a++)
                    for (uint32_t b = a + 1; b < c->cfg.n; b++)
                        if (hs[b] > hs[a]) {
                            uint64_t t = hs[a];
                            hs[a] = hs[b];
                            hs[b] = t;
                        }
                o->high[0] = hs[0];
                o->high[1] = hs[c->cfg.f];
            }
            goto done;
        }
        if (pthread_cond_timedwait(&q->cv, &c->mu, &dl) == ETIMEDOUT)
            break;
    }
    if (rc != LEDGER_OK)
        result = rc;
done:
    for (qpend **pp = &c->qs; *pp; pp = &(*pp)->next)
        if (*pp == q) {
            *pp = q->next;
            break;
        }
    pthread_mutex_unlock(&c->mu);
    for (uint32_t j = 0; j < LC_MAX_REPLICAS; j++)
        free(q->data[j]);
    pthread_cond_destroy(&q->cv);
    free(q);
    return result;
}

/* The options of a read at this client's floor and in its read mode. */
static ask_opts read_opts(ledger_client *c, uint64_t at_least) {
    ask_opts o;
    memset(&o, 0, sizeof o);
    pthread_mutex_lock(&c->mu);
    o.at = c->floor > at_least ? c->floor : at_least;
    o.linear = c->read_mode == LEDGER_READ_LINEARIZABLE;
    pthread_mutex_unlock(&c->mu);
    if (o.linear && o.at == 0)
        o.at = 1; /* the flag travels with a height */
    return o;
}

LEDGER_API int ledger_client_set_read_mode(ledger_client *c, uint32_t mode) {
    if (!c || (mode != LEDGER_READ_SESSION && mode != LEDGER_READ_LINEARIZABLE))
        return LEDGER_E_INVALID;
    pthread_mutex_lock(&c->mu);
    c->read_mode = mode;
    pthread_mutex_unlock(&c->mu);
    return LEDGER_OK;
}

LEDGER_API uint64_t ledger_client_seen_height(ledger_client *c) {
    if (!c)
        return 0;
    pthread_mutex_lock(&c->mu);
    uint64_t h = c->floor;
    pthread_mutex_unlock(&c->mu);
    return h;
}

LEDGER_API int ledger_client_observe(ledger_client *c, uint64_t height) {
    if (!c)
        return LEDGER_E_INVALID;
    pthread_mutex_lock(&c->mu);
    raise_floor(c, height);
    pthread_mutex_unlock(&c->mu);
    return LEDGER_OK;
}

/* ---- submit ------------------------------------------------------------ */

/* A membership a certificate names (by its header's epoch hash) that the
 * client has not learnt yet. */
typedef struct {
    int need;
    uint64_t height;
    uint8_t epoch[32];
} epoch_need;

/* The membership whose hash is epoch (format 1 headers: the genesis one).
 * Caller holds mu. NULL, and *need filled, when it is not known yet. */
static const ledger_membership *membership_of(ledger_client *c, const uint8_t *epoch,
                                              uint64_t height, epoch_need *need) {
    if (!epoch)
        return c->m;
    for (size_t i = 0; i < c->nmc; i++)
        if (memcmp(c->mce[i], epoch, 32) == 0)
            return c->mc[i];
    need->need = 1;
    need->height = height;
    memcpy(need->epoch, epoch, 32);
    return NULL;
}

typedef struct {
    ledger_client *c;
    const uint8_t *hash;
    uint64_t height;
    uint32_t index;
    ledger_proof *proof;
    ledger_tx *tx;
    epoch_need need;
} proof_ctx;

static int check_proof(void *ctx, int32_t status, const uint8_t *d, size_t n) {
    proof_ctx *pc = ctx;
    ledger_proof *p;
    if (status != LEDGER_OK || ledger_proof_decode(&p, d, n) != LEDGER_OK)
        return -1;
    const uint8_t *epoch = p->header_len >= LEDGER_HEADER_V2_BYTES ? p->header + 135 : NULL;
    const ledger_membership *m = membership_of(pc->c, epoch, p->height, &pc->need);
    if (!m) {
        ledger_proof_free(p);
        return 1;
    }
    if (ledger_proof_verify(p, m, pc->hash) != LEDGER_OK ||
        (pc->height &&
         (ledger_proof_height(p) != pc->height || ledger_proof_index(p) != pc->index))) {
        ledger_proof_free(p);
        return -1;
    }
    pc->proof = p;
    return 0;
}

/* Membership catch-up (docs/ledger-protocol.md §Membership changes): a
 * replica sends the certified membership changes from one the client knows,
 * with a certified block at the target height; the client verifies them as a
 * bundle verifier does (ldg_changes_answer_verify). One replica suffices. */
typedef struct {
    ledger_client *c;
    const ledger_membership *from;
    uint64_t from_eff;
    const uint8_t *epoch; /* the result must hash to this (NULL: any) */
    ledger_membership *m;
    uint64_t eff, proven;
    size_t list_len;
    uint32_t refused; /* answers that did not verify */
} chain_ctx;

/* Called with c->mu held (from ask). */
static int check_chain(void *ctx, int32_t status, const uint8_t *d, size_t n) {
    chain_ctx *cc = ctx;
    ledger_membership *m = NULL;
    uint64_t eff = 0, proven = 0;
    size_t ll = 0;
    uint8_t h[32];
    int rc = status != LEDGER_OK
                 ? status
                 : ldg_changes_answer_verify(cc->from, cc->from_eff, d, n, &m, &eff, &proven, &ll);
    if (rc == LEDGER_OK && cc->epoch &&
        (ldg_membership_hash(m, h) != LEDGER_OK || memcmp(h, cc->epoch, 32) != 0))
        rc = LEDGER_E_EPOCH;
    if (rc != LEDGER_OK) {
        ledger_membership_free(m);
        /* every replica answered and none proved it: stop waiting */
        return ++cc->refused >= cc->c->cfg.n ? 1 : -1;
    }
    ledger_membership_free(cc->m);
    cc->m = m;
    cc->eff = eff;
    cc->proven = proven;
    cc->list_len = ll;
    return 0;
}

/* The membership in force at `height` (and, if epoch is set, the one whose
 * hash is epoch), verified from the latest membership the client knows (or
 * from genesis for a height below it). *out is a copy (caller frees). */
static int chain_to(ledger_client *c, uint64_t height, const uint8_t *epoch, uint32_t timeout_ms,
                    ledger_membership **out) {
    chain_ctx cc;
    memset(&cc, 0, sizeof cc);
    cc.c = c;
    cc.epoch = epoch;
    /* replicas answer once they have executed height − 2 (every change in
     * force at `height` is decided by then), or the highest height this client
     * knows is committed if that is lower: a lagging replica does not answer
     * with an older membership */
    uint64_t at = height > 2 ? height - 2 : 0;
    pthread_mutex_lock(&c->mu);
    if (c->known_eff && height >= c->known_eff) {
        cc.from = c->mc[c->known];
        cc.from_eff = c->known_eff;
    } else {
        cc.from = c->m;
    }
    if (at > c->floor)
        at = c->floor;
    pthread_mutex_unlock(&c->mu);
    uint8_t arg[16];
    lc_put_u64(arg, cc.from_eff);
    lc_put_u64(arg + 8, height);
    int32_t st;
    uint8_t *d = NULL;
    size_t n = 0;
    ask_opts o;
    memset(&o, 0, sizeof o);
    o.at = at;
    int rc = ask(c, LC_Q_CHANGES, arg, 16, timeout_ms, 0, check_chain, &cc, &o, &st, &d, &n);
    free(d);
    if (rc != LEDGER_OK) {
        ledger_membership_free(cc.m);
        /* replicas answered, none with a chain that verifies */
        return rc == LEDGER_E_EPOCH || (rc == LEDGER_E_TIMEOUT && cc.refused) ? LEDGER_E_MEMBERSHIP
                                                                              : rc;
    }
    /* keep it: by epoch hash for certificates, and as the latest known */
    uint8_t h[32];
    ledger_membership *copy = NULL;
    rc = ldg_membership_hash(cc.m, h);
    if (rc == LEDGER_OK && out) {
        uint8_t *enc;
        size_t len;
        rc = ledger_membership_encode(cc.m, &enc, &len);
        if (rc == LEDGER_OK) {
            rc = ledger_membership_decode(&copy, enc, len);
            ledger_free(enc);
        }
    }
    if (rc != LEDGER_OK) {
        ledger_membership_free(cc.m);
        return rc;
    }
    pthread_mutex_lock(&c->mu);
    size_t slot = c->nmc;
    for (size_t i = 0; i < c->nmc; i++)
        if (memcmp(c->mce[i], h, 32) == 0)
            slot = i;
    if (slot == c->nmc && c->nmc < MC_MAX) {
        c->mc[c->nmc] = cc.m;
        memcpy(c->mce[c->nmc], h, 32);
        c->nmc++;
        cc.m = NULL;
    }
    if (slot < c->nmc && cc.eff > c->known_eff) {
        c->known = slot;
        c->known_eff = cc.eff;
    }
    pthread_mutex_unlock(&c->mu);
    ledger_membership_free(cc.m);
    if (out)
        *out = copy;
    return LEDGER_OK;
}

/* Learn the membership a header names (need->epoch at need->height). */
static int learn_membership(ledger_client *c, const epoch_need *need, uint32_t timeout_ms) {
    return chain_to(c, need->height, need->epoch, timeout_ms, NULL);
}

LEDGER_API int ledger_client_membership(ledger_client *c, uint64_t height, uint32_t timeout_ms,
                                        ledger_membership **out) {
    if (!out)
        return LEDGER_E_INVALID;
    *out = NULL;
    if (!c || height == 0)
        return LEDGER_E_INVALID;
    return chain_to(c, height, NULL, timeout_ms, out);
}

/* ask() in mode 0 with a check that verifies certificates: when an answer is
 * certified by a membership not learnt yet, learn it and ask again. */
static int ask_certified(ledger_client *c, uint8_t kind, const uint8_t *arg, size_t n,
                         uint32_t timeout_ms, check_fn check, void *cctx, epoch_need *need,
                         ask_opts *o, int32_t *status, uint8_t **data, size_t *len) {
    int rc = LEDGER_E_EPOCH;
    for (int attempt = 0; attempt < 4 && rc == LEDGER_E_EPOCH; attempt++) {
        need->need = 0;
        rc = ask(c, kind, arg, n, timeout_ms, 0, check, cctx, o, status, data, len);
        if (rc == LEDGER_E_EPOCH && need->need) {
            int lrc = learn_membership(c, need, timeout_ms);
            if (lrc != LEDGER_OK)
                return lrc;
            rc = LEDGER_E_EPOCH;
        }
    }
    return rc;
}

LEDGER_API int ledger_client_proof(ledger_client *c, const uint8_t hash[32], uint32_t timeout_ms,
                                   ledger_proof **out) {
    if (!c || !hash || !out)
        return LEDGER_E_INVALID;
    *out = NULL;
    proof_ctx pc = {c, hash, 0, 0, NULL, NULL, {0, 0, {0}}};
    int32_t st;
    uint8_t *d;
    size_t n;
    ask_opts o = read_opts(c, 0);
    int rc = ask_certified(c, LC_Q_PROOF, hash, 32, timeout_ms, check_proof, &pc, &pc.need, &o, &st,
                           &d, &n);
    if (rc != LEDGER_OK) {
        ledger_proof_free(pc.proof);
        return rc;
    }
    free(d);
    ledger_client_observe(c, ledger_proof_height(pc.proof));
    *out = pc.proof;
    return LEDGER_OK;
}

LEDGER_API int ledger_client_submit(ledger_client *c, const ledger_tx *tx, uint32_t flags,
                                    uint32_t timeout_ms, ledger_receipt *receipt,
                                    ledger_proof **proof) {
    if (proof)
        *proof = NULL;
    if (!c || !tx || (flags & ~LEDGER_SUBMIT_NO_PROOF))
        return LEDGER_E_INVALID;
    size_t len;
    const uint8_t *enc = ledger_tx_encoding(tx, &len);
    if (!enc || len > LC_MAX_TX)
        return LEDGER_E_INVALID;
    pend *p = calloc(1, sizeof *p);
    if (!p)
        return LEDGER_E_NOMEM;
    memcpy(p->hash, ledger_tx_hash(tx), 32);
    pthread_cond_init(&p->cv, NULL);
    pthread_mutex_lock(&c->mu);
    p->next = c->subs;
    c->subs = p;
    uint64_t t0 = lc_now_ms();
    int rc = LEDGER_E_TIMEOUT;
    while (!p->done) {
        uint64_t el = lc_now_ms() - t0;
        if (el >= timeout_ms)
            break;
        if (post(c, UINT32_MAX, LC_T_REQUEST, enc, len) != LEDGER_OK) {
            rc = LEDGER_E_NOMEM;
            break;
        }
        lc_net_wake(c->net);
        uint32_t wait = timeout_ms - (uint32_t)el < 1000 ? timeout_ms - (uint32_t)el : 1000;
        struct timespec dl;
        deadline_after(&dl, wait);
        while (!p->done && pthread_cond_timedwait(&p->cv, &c->mu, &dl) != ETIMEDOUT)
            ;
    }
    for (pend **pp = &c->subs; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    pthread_mutex_unlock(&c->mu);
    lc_reply r = p->result;
    int done = p->done;
    uint32_t matches = p->matches;
    pthread_cond_destroy(&p->cv);
    free(p);
    if (!done)
        return rc;
    if (r.height == 0)
        return r.status < 0 ? r.status : LEDGER_E_INTERNAL; /* refused before ordering */
    ledger_client_observe(c, r.height);                     /* read-your-writes from here on */
    if (receipt) {
        memset(receipt, 0, sizeof *receipt);
        receipt->height = r.height;
        receipt->index = r.index;
        receipt->status = r.status;
        receipt->replies = matches;
        memcpy(receipt->tx_hash, r.tx_hash, 32);
        memcpy(receipt->block_hash, r.block_hash, 32);
    }
    if (!(flags & LEDGER_SUBMIT_NO_PROOF)) {
        proof_ctx pc = {c, r.tx_hash, r.height, r.index, NULL, NULL, {0, 0, {0}}};
        int32_t st;
        uint8_t *d;
        size_t n;
        uint64_t el = lc_now_ms() - t0;
        uint32_t left = el < timeout_ms ? timeout_ms - (uint32_t)el : 1;
        ask_opts o = read_opts(c, r.height);
        rc = ask_certified(c, LC_Q_PROOF, r.tx_hash, 32, left < 1000 ? 1000 : left, check_proof,
                           &pc, &pc.need, &o, &st, &d, &n);
        if (rc != LEDGER_OK)
            return rc;
        free(d);
        if (memcmp(ledger_proof_header_hash(pc.proof), r.block_hash, 32) != 0) {
            ledger_proof_free(pc.proof);
            return LEDGER_E_HASH;
        }
        if (proof)
            *proof = pc.proof;
        else
            ledger_proof_free(pc.proof);
    }
    return LEDGER_OK;
}

/* ---- reads ------------------------------------------------------------- */

typedef struct {
    ledger_client *c;
    uint64_t height;
    ledger_block *b;
    epoch_need need;
} block_ctx;

static int check_block(void *ctx, int32_t status, const uint8_t *d, size_t n) {
    block_ctx *bc = ctx;
    ledger_block *b;
    if (status != LEDGER_OK || ledger_block_decode(&b, d, n) != LEDGER_OK)
        return -1;
    if (ledger_block_height(b) != bc->height) {
        ledger_block_free(b);
        return -1;
    }
    const uint8_t *epoch = ledger_block_format(b) >= 2 ? ledger_block_epoch(b) : NULL;
    const ledger_membership *m = membership_of(bc->c, epoch, bc->height, &bc->need);
    if (!m) {
        ledger_block_free(b);
        return 1;
    }
    if (ledger_block_check(b, m) != LEDGER_OK) {
        ledger_block_free(b);
        return -1;
    }
    bc->b = b;
    return 0;
}

LEDGER_API int ledger_client_block(ledger_client *c, uint64_t height, uint32_t timeout_ms,
                                   ledger_block **out) {
    if (!c || !out || height == 0)
        return LEDGER_E_INVALID;
    *out = NULL;
    uint8_t arg[8];
    lc_put_u64(arg, height);
    block_ctx bc = {c, height, NULL, {0, 0, {0}}};
    int32_t st;
    uint8_t *d;
    size_t n;
    /* at the floor, not at `height`: a height no replica has reached is
     * NOT_FOUND, not a wait */
    ask_opts o = read_opts(c, 0);
    int rc = ask_certified(c, LC_Q_BLOCK, arg, 8, timeout_ms, check_block, &bc, &bc.need, &o, &st,
                           &d, &n);
    if (rc != LEDGER_OK)
        return rc;
    free(d);
    ledger_client_observe(c, height); /* certified: it is committed */
    *out = bc.b;
    return LEDGER_OK;
}

typedef struct {
    ledger_client *c;
    const uint8_t *hash;
    ledger_tx *tx;
    uint64_t height;
    uint32_t index;
} tx_ctx;

static int check_tx(void *ctx, int32_t status, const uint8_t *d, size_t n) {
    tx_ctx *tc = ctx;
    ledger_tx *t;
    if (status != LEDGER_OK || n < 16 || ledger_tx_decode(&t, d + 16, n - 16) != LEDGER_OK)
        return -1;
    if (memcmp(ledger_tx_hash(t), tc->hash, 32) != 0) {
        ledger_tx_free(t);
        return -1;
    }
    lc_rd rd;
    lc_rd_init(&rd, d, 16);
    tc->height = lc_rd_u64(&rd);
    tc->index = lc_rd_u32(&rd);
    tc->tx = t;
    return 0;
}

LEDGER_API int ledger_client_tx(ledger_client *c, const uint8_t hash[32], uint32_t timeout_ms,
                                ledger_tx **out, uint64_t *height, uint32_t *index) {
    if (!c || !hash || !out)
        return LEDGER_E_INVALID;
    *out = NULL;
    tx_ctx tc = {c, hash, NULL, 0, 0};
    int32_t st;
    uint8_t *d;
    size_t n;
    ask_opts o = read_opts(c, 0);
    int rc = ask(c, LC_Q_TX, hash, 32, timeout_ms, 0, check_tx, &tc, &o, &st, &d, &n);
    if (rc != LEDGER_OK)
        return rc;
    free(d);
    /* the position is proven by the inclusion proof, not taken on trust */
    ledger_proof *p;
    rc = ledger_client_proof(c, hash, timeout_ms, &p);
    if (rc == LEDGER_OK &&
        (ledger_proof_height(p) != tc.height || ledger_proof_index(p) != tc.index))
        rc = LEDGER_E_HASH;
    ledger_proof_free(p);
    if (rc != LEDGER_OK) {
        ledger_tx_free(tc.tx);
        return rc;
    }
    *out = tc.tx;
    if (height)
        *height = tc.height;
    if (index)
        *index = tc.index;
    return LEDGER_OK;
}

static int match_read(ledger_client *c, uint8_t kind, const uint8_t *arg, size_t n,
                      uint32_t timeout_ms, uint8_t **out, size_t *outn) {
    int32_t st;
    uint64_t t0 = lc_now_ms();
    ask_opts o = read_opts(c, 0);
    if (o.linear)
        o.quorum = 2 * c->cfg.f + 1;
    int rc = ask(c, kind, arg, n, timeout_ms, 1, NULL, NULL, &o, &st, out, outn);
    /* a linearizable read races writes: when the 2f+1 answers straddle a
     * write, ask again at the highest height f+1 replicas vouch for */
    while (rc == LEDGER_E_DIVERGED && o.linear && o.high[1] >= o.at &&
           lc_now_ms() - t0 < timeout_ms) {
        o.at = o.high[1] > o.at ? o.high[1] : o.at + 1;
        rc = ask(c, kind, arg, n, timeout_ms - (uint32_t)(lc_now_ms() - t0), 1, NULL, NULL, &o, &st,
                 out, outn);
    }
    if (rc != LEDGER_OK)
        return rc;
    if (st != LEDGER_OK) {
        free(*out);
        *out = NULL;
        *outn = 0;
        return st;
    }
    return LEDGER_OK;
}

LEDGER_API int ledger_client_get(ledger_client *c, const uint8_t *key, size_t klen,
                                 uint32_t timeout_ms, uint8_t **val, size_t *vlen) {
    if (!c || !key || !klen || klen > LEDGER_STATE_KEY_MAX || !val || !vlen)
        return LEDGER_E_INVALID;
    int rc = match_read(c, LC_Q_STATE, key, klen, timeout_ms, val, vlen);
    if (rc == LEDGER_OK && *vlen == 0) {
        free(*val);
        *val = NULL;
    }
    return rc;
}

LEDGER_API int ledger_client_query(ledger_client *c, const uint8_t *q, size_t qlen,
                                   uint32_t timeout_ms, uint8_t **out, size_t *out_len) {
    if (!c || (!q && qlen) || qlen > LC_MAX_TX || !out || !out_len)
        return LEDGER_E_INVALID;
    int rc = match_read(c, LC_Q_APP, q, qlen, timeout_ms, out, out_len);
    if (rc == LEDGER_OK && *out_len == 0) {
        free(*out);
        *out = NULL;
    }
    return rc;
}

LEDGER_API int ledger_client_trace(ledger_client *c, uint16_t op, const uint8_t *key, size_t klen,
                                   uint64_t from, uint32_t timeout_ms, ledger_trace_entry *out,
                                   size_t max, size_t *n) {
    if (!c || !key || !klen || klen > LEDGER_STATE_KEY_MAX || (!out && max) || !n)
        return LEDGER_E_INVALID;
    uint8_t arg[2 + 8 + LEDGER_STATE_KEY_MAX];
    arg[0] = (uint8_t)(op >> 8);
    arg[1] = (uint8_t)op;
    lc_put_u64(arg + 2, from);
    memcpy(arg + 10, key, klen);
    uint8_t *d;
    size_t dn;
    int rc = match_read(c, LC_Q_TRACE, arg, 10 + klen, timeout_ms, &d, &dn);
    if (rc != LEDGER_OK)
        return rc;
    if (dn % 12) {
        free(d);
        return LEDGER_E_DECODE;
    }
    size_t k = 0;
    lc_rd rd;
    lc_rd_init(&rd, d, dn);
    for (; k < dn / 12 && k < max; k++) {
        out[k].height = lc_rd_u64(&rd);
        out[k].index = lc_rd_u32(&rd);
        out[k].reserved = 0;
    }
    *n = k;
    free(d);
    return LEDGER_OK;
}

LEDGER_API int ledger_client_trace_time(ledger_client *c, uint64_t t0, uint64_t t1,
                                        uint32_t timeout_ms, uint64_t *heights, size_t max,
                                        size_t *n) {
    if (!c || (!heights && max) || !n || t1 < t0)
        return LEDGER_E_INVALID;
    uint8_t arg[16];
    lc_put_u64(arg, t0);
    lc_put_u64(arg + 8, t1);
    uint8_t *d;
    size_t dn;
    int rc = match_read(c, LC_Q_TRACE_TIME, arg, 16, timeout_ms, &d, &dn);
    if (rc != LEDGER_OK)
        return rc;
    if (dn % 8) {
        free(d);
        return LEDGER_E_DECODE;
    }
    lc_rd rd;
    lc_rd_init(&rd, d, dn);
    size_t k = 0;
    for (; k < dn / 8 && k < max; k++)
        heights[k] = lc_rd_u64(&rd);
    *n = k;
    free(d);
    return LEDGER_OK;
}

LEDGER_API int ledger_client_set_log(ledger_client *c, ledger_log_fn fn, void *ctx,
                                     uint32_t level) {
    if (!c || level > LEDGER_LOG_DEBUG)
        return LEDGER_E_INVALID;
    pthread_mutex_lock(&c->mu);
    c->log = (lc_logger){fn, ctx, level ? (int)level : LC_LOG_DEFAULT_LEVEL};
    pthread_mutex_unlock(&c->mu);
    return LEDGER_OK;
}

LEDGER_API int ledger_client_set_signer(ledger_client *c, const ledger_signer *s) {
    if (!c)
        return LEDGER_E_INVALID;
    ledger_signer *copy = NULL;
    if (s) {
        int rc = ldg_signer_copy(&copy, s);
        if (rc != LEDGER_OK)
            return rc;
    }
    pthread_mutex_lock(&c->mu);
    ledger_signer *old = c->signer;
    c->signer = copy;
    pthread_mutex_unlock(&c->mu);
    ledger_signer_free(old);
    return LEDGER_OK;
}

LEDGER_API int ledger_client_blob_put(ledger_client *c, const uint8_t *data, size_t len,
                                      uint32_t timeout_ms, uint8_t hash[32]) {
    if (!c || (!data && len) || len > LC_MAX_FRAME - 1024)
        return LEDGER_E_INVALID;
    uint8_t want[32];
    crypto_hash_sha256(want, data, len);
    /* signed: u8 version ‖ putter[32] ‖ sig[64] ‖ blob; without a signer the
     * unsigned form goes out and the replicas refuse it (LEDGER_E_BLOB_ANONYMOUS) */
    uint8_t *arg = malloc(LC_BLOB_PUT_HEADER + (len ? len : 1));
    if (!arg)
        return LEDGER_E_NOMEM;
    uint8_t kind = LC_Q_BLOB_PUT;
    size_t off = 0;
    pthread_mutex_lock(&c->mu);
    if (c->signer) {
        uint8_t stmt[LDG_BLOB_STMT_BYTES];
        ldg_blob_statement(stmt, c->cfg.chain_id, want, len);
        arg[0] = LC_BLOB_PUT_VERSION;
        memcpy(arg + 1, ledger_signer_public_key(c->signer), 32);
        ledger_signer_sign(c->signer, stmt, sizeof stmt, arg + 33);
        kind = LC_Q_SIGNED_PUT;
        off = LC_BLOB_PUT_HEADER;
    }
    pthread_mutex_unlock(&c->mu);
    if (len)
        memcpy(arg + off, data, len);
    uint8_t *d;
    size_t dn;
    /* blobs live outside the chain: f+1 stores, no height */
    int32_t st;
    int rc = ask(c, kind, arg, off + len, timeout_ms, 1, NULL, NULL, NULL, &st, &d, &dn);
    free(arg);
    if (rc == LEDGER_OK && st != LEDGER_OK) {
        free(d);
        rc = st;
    }
    if (rc != LEDGER_OK)
        return rc;
    rc = (dn == 32 && memcmp(d, want, 32) == 0) ? LEDGER_OK : LEDGER_E_HASH;
    free(d);
    if (rc == LEDGER_OK && hash)
        memcpy(hash, want, 32);
    return rc;
}

static int check_blob(void *ctx, int32_t status, const uint8_t *d, size_t n) {
    uint8_t h[32];
    if (status != LEDGER_OK)
        return -1;
    crypto_hash_sha256(h, d, n);
    return memcmp(h, ctx, 32) == 0 ? 0 : -1;
}

LEDGER_API int ledger_client_blob_get(ledger_client *c, const uint8_t hash[32], uint32_t timeout_ms,
                                      uint8_t **data, size_t *len) {
    if (!c || !hash || !data || !len)
        return LEDGER_E_INVALID;
    int32_t st;
    /* blobs live outside the chain: any replica's copy that hashes right will do */
    return ask(c, LC_Q_BLOB_GET, hash, 32, timeout_ms, 0, check_blob, (void *)hash, NULL, &st, data,
               len);
}

typedef struct {
    uint64_t hs[LC_MAX_REPLICAS];
    uint32_t k;
    uint32_t need;
} tip_ctx;

static int check_tip(void *ctx, int32_t status, const uint8_t *d, size_t n) {
    tip_ctx *t = ctx;
    if (status != LEDGER_OK || n != 48)
        return -1;
    lc_rd rd;
    lc_rd_init(&rd, d, 8);
    t->hs[t->k++] = lc_rd_u64(&rd);
    return t->k >= t->need ? 0 : -1;
}

LEDGER_API int ledger_client_height(ledger_client *c, uint32_t timeout_ms, uint64_t *height) {
    if (!c || !height)
        return LEDGER_E_INVALID;
    tip_ctx t;
    memset(&t, 0, sizeof t);
    t.need = c->cfg.f + 1;
    int32_t st;
    uint8_t *d;
    size_t n;
    int rc = ask(c, LC_Q_TIP, NULL, 0, timeout_ms, 0, check_tip, &t, NULL, &st, &d, &n);
    if (rc != LEDGER_OK)
        return rc;
    free(d);
    /* the lowest of f+1 answers: at least one honest replica reached it */
    uint64_t lo = UINT64_MAX;
    for (uint32_t i = 0; i < t.k; i++)
        if (t.hs[i] < lo)
            lo = t.hs[i];
    *height = lo;
    ledger_client_observe(c, lo);
    return LEDGER_OK;
}

LEDGER_API int ledger_client_follow(ledger_client *c, ledger_follow_cb cb, void *ctx) {
    if (!c)
        return LEDGER_E_INVALID;
    pthread_mutex_lock(&c->mu);
    c->cb = cb;
    c->cb_ctx = ctx;
    pthread_mutex_unlock(&c->mu);
    lc_net_wake(c->net);
    return LEDGER_OK;
}

LEDGER_API int ledger_client_wait_height(ledger_client *c, uint64_t height, uint32_t timeout_ms,
                                         uint64_t *reached) {
    if (!c)
        return LEDGER_E_INVALID;
    struct timespec dl;
    deadline_after(&dl, timeout_ms);
    pthread_mutex_lock(&c->mu);
    if (!c->auto_follow) {
        /* subscribe on every link: each replica answers with its tip at once */
        c->auto_follow = 1;
        lc_net_wake(c->net);
    }
    int rc = LEDGER_OK;
    while (c->agreed_tip < height && rc == LEDGER_OK)
        if (pthread_cond_timedwait(&c->tip_cv, &c->mu, &dl) == ETIMEDOUT)
            rc = c->agreed_tip >= height ? LEDGER_OK : LEDGER_E_TIMEOUT;
    uint64_t tip = c->agreed_tip;
    if (rc == LEDGER_OK)
        raise_floor(c, tip); /* f+1 announced it: committed */
    pthread_mutex_unlock(&c->mu);
    if (reached)
        *reached = tip;
    return rc;
}

/* The version record (version 1 when absent). */
static int read_version_record(ledger_client *c, uint32_t timeout_ms, uint32_t *version) {
    uint8_t *v = NULL;
    size_t vl = 0;
    int rc = ledger_client_get(c, (const uint8_t *)LEDGER_UPGRADE_VERSION_KEY,
                               sizeof LEDGER_UPGRADE_VERSION_KEY - 1, timeout_ms, &v, &vl);
    if (rc == LEDGER_E_NOT_FOUND) {
        *version = LEDGER_APP_VERSION_GENESIS;
        return LEDGER_OK;
    }
    if (rc != LEDGER_OK)
        return rc;
    if (vl != 12 || !v ||
        (*version =
             ((uint32_t)v[0] << 24) | ((uint32_t)v[1] << 16) | ((uint32_t)v[2] << 8) | v[3]) == 0)
        rc = LEDGER_E_CORRUPT;
    ledger_free(v);
    return rc;
}

LEDGER_API int ledger_client_app_version(ledger_client *c, uint32_t timeout_ms, uint32_t *version) {
    return ledger_client_app_version_after(c, 0, timeout_ms, version);
}

LEDGER_API int ledger_client_app_version_after(ledger_client *c, uint32_t refused,
                                               uint32_t timeout_ms, uint32_t *version) {
    if (!c || !version)
        return LEDGER_E_INVALID;
    int rc = read_version_record(c, timeout_ms, version);
    if (rc != LEDGER_OK)
        return rc;
    /* an approved plan whose height is the next block's is in force for
     * what is submitted now */
    uint8_t *name = NULL, *v = NULL;
    size_t nl = 0, vl = 0;
    rc = ledger_client_get(c, (const uint8_t *)LEDGER_UPGRADE_OPEN_KEY,
                           sizeof LEDGER_UPGRADE_OPEN_KEY - 1, timeout_ms, &name, &nl);
    if (rc == LEDGER_E_NOT_FOUND)
        return LEDGER_OK;
    if (rc != LEDGER_OK)
        return rc;
    char nm[LEDGER_UPGRADE_NAME_MAX + 1];
    uint8_t key[16 + LEDGER_UPGRADE_NAME_MAX];
    size_t kl;
    if (!name || nl == 0 || nl > LEDGER_UPGRADE_NAME_MAX) {
        ledger_free(name);
        return LEDGER_E_CORRUPT;
    }
    memcpy(nm, name, nl);
    nm[nl] = 0;
    ledger_free(name);
    if (ledger_upgrade_key(nm, key, &kl) != LEDGER_OK)
        return LEDGER_E_CORRUPT;
    rc = ledger_client_get(c, key, kl, timeout_ms, &v, &vl);
    if (rc != LEDGER_OK)
        return rc == LEDGER_E_NOT_FOUND ? LEDGER_OK : rc; /* closed meanwhile */
    ledger_upgrade_info info;
    rc = ledger_upgrade_decode(&info, v, vl);
    ledger_free(v);
    if (rc != LEDGER_OK)
        return LEDGER_E_CORRUPT;
    if (info.status != LEDGER_UPGRADE_APPROVED)
        return LEDGER_OK;
    /* refused for one of the two candidates: the other one is in force */
    if (refused && refused == *version) {
        *version = info.version;
        return LEDGER_OK;
    }
    if (refused && refused == info.version)
        return LEDGER_OK;
    uint64_t top = 0;
    rc = ledger_client_height(c, timeout_ms, &top);
    if (rc != LEDGER_OK)
        return rc;
    if (top + 1 >= info.height)
        *version = info.version;
    return LEDGER_OK;
}

LEDGER_API int ledger_client_bundle(ledger_client *c, const uint8_t tx_hash[32],
                                    const ledger_membership *genesis, uint32_t timeout_ms,
                                    uint8_t **out, size_t *len) {
    if (!out || !len)
        return LEDGER_E_INVALID;
    *out = NULL;
    *len = 0;
    if (!c || !tx_hash || !genesis)
        return LEDGER_E_INVALID;
    ledger_tx *tx = NULL;
    ledger_proof *p = NULL;
    uint64_t h;
    uint32_t idx;
    int rc = ledger_client_tx(c, tx_hash, timeout_ms, &tx, &h, &idx);
    if (!rc)
        rc = ledger_client_proof(c, tx_hash, timeout_ms, &p);
    /* the membership changes from genesis to the block, as one replica gives
     * them, verified from `genesis` up to the membership the block names */
    uint8_t *d = NULL, gh[32];
    size_t n = 0;
    chain_ctx cc;
    memset(&cc, 0, sizeof cc);
    if (!rc)
        rc = ldg_membership_hash(genesis, gh);
    int changed =
        !rc && p->header_len >= LEDGER_HEADER_V2_BYTES && memcmp(p->header + 135, gh, 32) != 0;
    if (changed) {
        cc.c = c;
        cc.from = genesis;
        cc.epoch = p->header + 135;
        uint8_t arg[16];
        lc_put_u64(arg, 0);
        lc_put_u64(arg + 8, p->height);
        int32_t st;
        ask_opts o;
        memset(&o, 0, sizeof o);
        o.at = p->height; /* committed: every replica reaches it */
        rc = ask(c, LC_Q_CHANGES, arg, 16, timeout_ms, 0, check_chain, &cc, &o, &st, &d, &n);
        if (rc == LEDGER_E_EPOCH || (rc == LEDGER_E_TIMEOUT && cc.refused))
            rc = LEDGER_E_MEMBERSHIP; /* no replica proved the changes */
        ledger_membership_free(cc.m);
    }
    if (!rc)
        rc = ledger_bundle_create_changes(genesis, changed ? d : NULL, changed ? cc.list_len : 0,
                                          tx, p, out, len);
    free(d);
    ledger_proof_free(p);
    ledger_tx_free(tx);
    return rc;
}
