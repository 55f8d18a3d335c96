/* One PBFT replica driven by hand, message by message, with no network and no
 * clock dependence: the consensus log is kept from the stable checkpoint up
 * (not truncated at commit), a checkpoint becomes stable only with 2f+1
 * matching valid signatures, the log below it is then discarded, the water
 * marks (h, h + L] bound which pre-prepares and votes are accepted, and the
 * log stays bounded over many blocks. The replica under test is replica 1 of
 * n = 4 (f = 1); the test plays replicas 0 (the primary of view 0), 2 and 3. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "consensus/lc_net.h"
#include "mock_store.h"

#define N    4
#define SELF 1
#define K    4

typedef struct {
    uint8_t pks[LC_MAX_REPLICAS][32];
    uint8_t sks[N][64];
    char addrs[LC_MAX_REPLICAS][64];
    uint8_t chain[32];
    mock_store st;  /* the replica's store */
    mock_store ref; /* the same chain, built by the test to know the header hashes */
    lc_replica *rep;
    lc_net *net; /* never run: the replica's sends go nowhere */
    lc_net_handler h;
    uint64_t ts0;
    uint32_t view_timeout_ms; /* 0: the default */
} rig;

static void rig_start(rig *g);

static void rig_init_timeout(rig *g, uint32_t view_timeout_ms) {
    memset(g, 0, sizeof *g);
    g->view_timeout_ms = view_timeout_ms;
    randombytes_buf(g->chain, 32);
    for (uint32_t i = 0; i < N; i++) {
        crypto_sign_keypair(g->pks[i], g->sks[i]);
        snprintf(g->addrs[i], 64, "127.0.0.1:%u", 1 + i);
    }
    mock_init(&g->st, N, 1, g->pks, g->chain);
    mock_init(&g->ref, N, 1, g->pks, g->chain);
    rig_start(g);
    g->ts0 = lc_wall_ms();
}

static void rig_start(rig *g) {
    lc_replica_cfg rc;
    memset(&rc, 0, sizeof rc);
    rc.n = N;
    rc.f = 1;
    rc.self = SELF;
    rc.pks = g->pks;
    memcpy(rc.sk, g->sks[SELF], 64);
    memcpy(rc.chain_id, g->chain, 32);
    rc.block_period_ms = 5;
    rc.checkpoint_every = K;
    rc.max_inflight = 4;
    rc.view_timeout_ms = g->view_timeout_ms;
    lc_store_ops ops = mock_ops(&g->st);
    assert_int_equal(lc_replica_create(&g->rep, &rc, &ops), 0);
    lc_net_config nc;
    memset(&nc, 0, sizeof nc);
    nc.self = SELF;
    nc.n = N;
    nc.addrs = g->addrs;
    nc.pks = (const uint8_t(*)[32])g->pks;
    nc.sk = g->sks[SELF];
    lc_replica_handler(g->rep, &g->h);
    assert_int_equal(lc_net_create(&g->net, &nc, &g->h), 0);
    lc_replica_attach(g->rep, g->net);
}

/* The replica process restarts: a new replica over the same store. */
static void rig_restart(rig *g) {
    lc_net_free(g->net);
    lc_replica_free(g->rep);
    rig_start(g);
}

static void rig_free(rig *g) {
    lc_net_free(g->net);
    lc_replica_free(g->rep);
    mock_free(&g->st);
    mock_free(&g->ref);
}

/* A rig on the heap (view_timeout_ms 0: the default), and its end. */
static rig *rig_new(uint32_t view_timeout_ms) {
    rig *g = calloc(1, sizeof *g);
    assert_non_null(g);
    rig_init_timeout(g, view_timeout_ms);
    return g;
}

static void rig_delete(rig *g) {
    rig_free(g);
    free(g);
}

static void deliver(rig *g, uint32_t from, uint8_t type, const lc_wr *w) {
    assert_false(w->oom);
    g->h.on_msg(g->h.ctx, 0, from, type, w->p, w->n);
}

/* The proposal of seq in view 0: empty, with a timestamp that grows with seq. */
static void proposal(rig *g, uint64_t seq, lc_wr *prop) {
    lc_proposal pr = {.height = seq, .view = 0, .proposer = 0, .ts_ms = g->ts0 + seq, .ntx = 0};
    lc_wr_init(prop);
    assert_int_equal(lc_proposal_encode(prop, &pr, NULL, NULL), 0);
}

static void send_preprepare(rig *g, uint64_t seq) {
    lc_wr prop, pp;
    proposal(g, seq, &prop);
    lc_wr_init(&pp);
    lc_preprepare_encode(&pp, 0, seq, prop.p, prop.n, g->sks[0]);
    deliver(g, 0, LC_T_PREPREPARE, &pp);
    lc_wr_free(&pp);
    lc_wr_free(&prop);
}

static void send_prepare(rig *g, uint32_t from, uint64_t seq) {
    lc_wr prop, w;
    proposal(g, seq, &prop);
    lc_vote v = {.type = LC_T_PREPARE, .view = 0, .seq = seq, .replica = from};
    crypto_hash_sha256(v.digest, prop.p, prop.n);
    lc_wr_init(&w);
    lc_vote_encode(&w, &v, g->sks[from]);
    deliver(g, from, LC_T_PREPARE, &w);
    lc_wr_free(&w);
    lc_wr_free(&prop);
}

/* Append the block of proposal pr (view 0, its height the sequence number) to
 * the reference chain, certified by replicas 0, 2 and 3; their commit
 * signatures in sigs, the block's header hash in hh. */
static void ref_commit(rig *g, const lc_proposal *pr, uint8_t sigs[3][64], uint8_t hh[32]) {
    void *blk;
    assert_int_equal(mk_prepare(&g->ref, pr, &blk, hh), 0);
    uint8_t stmt[LEDGER_COMMIT_STATEMENT_BYTES];
    ledger_commit_statement(stmt, g->chain, pr->height, 0, hh);
    uint32_t signers[3] = {0, 2, 3};
    for (int i = 0; i < 3; i++)
        crypto_sign_detached(sigs[i], NULL, stmt, sizeof stmt, g->sks[signers[i]]);
    assert_int_equal(mk_commit(&g->ref, blk, 0, signers, (const uint8_t(*)[64])sigs, 3), 0);
}

/* Append seq to the reference chain (certified by 0, 2 and 3) and return the
 * commit signatures of replicas 0 and 2. */
static void ref_append(rig *g, uint64_t seq, uint8_t sig0[64], uint8_t sig2[64], uint8_t hh[32]) {
    lc_wr prop;
    proposal(g, seq, &prop);
    lc_proposal pr;
    assert_int_equal(lc_proposal_decode(&pr, prop.p, prop.n), 0);
    uint8_t sigs[3][64];
    ref_commit(g, &pr, sigs, hh);
    memcpy(sig0, sigs[0], 64);
    memcpy(sig2, sigs[1], 64);
    lc_wr_free(&prop);
}

static void send_commit(rig *g, uint32_t from, uint64_t seq, const uint8_t sig[64]) {
    lc_wr prop, w;
    proposal(g, seq, &prop);
    lc_vote v = {.type = LC_T_COMMIT, .view = 0, .seq = seq, .replica = from};
    crypto_hash_sha256(v.digest, prop.p, prop.n);
    memcpy(v.sig, sig, 64);
    lc_wr_init(&w);
    lc_vote_encode(&w, &v, g->sks[from]);
    deliver(g, from, LC_T_COMMIT, &w);
    lc_wr_free(&w);
    lc_wr_free(&prop);
}

static void send_checkpoint(rig *g, uint32_t from, uint64_t seq, const uint8_t hash[32],
                            int forge) {
    lc_checkpoint c = {.seq = seq, .replica = from};
    memcpy(c.block_hash, hash, 32);
    lc_wr w;
    lc_wr_init(&w);
    lc_checkpoint_encode(&w, &c, g->sks[from]);
    if (forge)
        w.p[w.n - 1] ^= 1;
    deliver(g, from, LC_T_CHECKPOINT, &w);
    lc_wr_free(&w);
}

/* Run seq through the three phases: pre-prepare from the primary, prepares
 * from 2 and 3, commits from 0 and 2 (with the replica's own: 2f+1). */
static void commit_block(rig *g, uint64_t seq, uint8_t hh[32]) {
    uint8_t s0[64], s2[64];
    ref_append(g, seq, s0, s2, hh);
    send_preprepare(g, seq);
    send_prepare(g, 2, seq);
    send_prepare(g, 3, seq);
    send_commit(g, 0, seq, s0);
    send_commit(g, 2, seq, s2);
    assert_int_equal(lc_replica_height(g->rep), seq);
}

static uint32_t entries(rig *g, uint64_t *low, uint64_t *high) {
    uint32_t e;
    lc_replica_log_info(g->rep, low, high, &e);
    return e;
}

static void test_log_kept_until_stable_checkpoint(void **state) {
    (void)state;
    rig *g = rig_new(0);
    uint64_t low, high;
    const uint64_t L = 2 * K; /* K = 4, max_inflight = 4: L = 2K */
    assert_int_equal(entries(g, &low, &high), 0);
    assert_int_equal(low, 0);
    assert_int_equal(high, L);

    /* water marks: a pre-prepare beyond H = 8 is ignored, one at H is taken */
    send_preprepare(g, L + 1);
    send_prepare(g, 2, L + 1);
    assert_int_equal(entries(g, &low, &high), 0);
    send_preprepare(g, L);
    assert_int_equal(entries(g, &low, &high), 1);

    /* blocks 1..4 commit; their entries stay in the log */
    uint8_t hh[2 * K + 2][32];
    for (uint64_t s = 1; s <= K; s++)
        commit_block(g, s, hh[s]);
    assert_int_equal(entries(g, &low, &high), K + 1);
    assert_int_equal(low, 0);

    /* checkpoint 4: ours + replica 0 is not 2f+1; a forged signature and a
     * different hash do not count */
    send_checkpoint(g, 0, K, hh[K], 0);
    send_checkpoint(g, 2, K, hh[K], 1);
    send_checkpoint(g, 3, K, hh[1], 0);
    assert_int_equal(entries(g, &low, &high), K + 1);
    assert_int_equal(low, 0);
    /* a checkpoint that is not a multiple of K never becomes stable */
    send_checkpoint(g, 0, 3, hh[3], 0);
    send_checkpoint(g, 2, 3, hh[3], 0);
    send_checkpoint(g, 3, 3, hh[3], 0);
    assert_int_equal(entries(g, &low, &high), K + 1);
    assert_int_equal(low, 0);
    /* the third matching valid signature makes it stable: the log below is
     * discarded and the water marks move */
    send_checkpoint(g, 2, K, hh[K], 0);
    assert_int_equal(entries(g, &low, &high), 1); /* only sequence 8 is left */
    assert_int_equal(low, K);
    assert_int_equal(high, K + L);

    /* now 9 is inside (4, 12] and is taken, 13 is not */
    send_preprepare(g, L + 1);
    assert_int_equal(entries(g, &low, &high), 2);
    send_preprepare(g, K + L + 1);
    assert_int_equal(entries(g, &low, &high), 2);
    /* a pre-prepare at or below the low water mark is ignored */
    send_preprepare(g, K);
    assert_int_equal(entries(g, &low, &high), 2);
    rig_delete(g);
}

static void test_log_bounded_over_many_blocks(void **state) {
    (void)state;
    rig *g = rig_new(0);
    uint64_t low, high, max_entries = 0;
    for (uint64_t s = 1; s <= 200; s++) {
        uint8_t hh[32];
        commit_block(g, s, hh);
        if (s % K == 0) {
            send_checkpoint(g, 0, s, hh, 0);
            send_checkpoint(g, 3, s, hh, 0);
        }
        uint32_t e = entries(g, &low, &high);
        if (e > max_entries)
            max_entries = e;
        assert_true(e <= 2 * K);
        if (s % K == 0)
            assert_int_equal(low, s);
    }
    assert_int_equal(lc_replica_height(g->rep), 200);
    assert_int_equal(low, 200); /* the last checkpoint is stable */
    assert_int_equal(entries(g, &low, &high), 0);
    assert_true(max_entries >= K - 1); /* between checkpoints it held the committed entries */
    rig_delete(g);
}

/* A replica restarted from a store at height 8 signs its own checkpoint vote
 * for 8 at start: two peers' votes then make 8 stable (2f+1 with its own). */
static void test_restart_votes_its_checkpoint(void **state) {
    (void)state;
    rig *g = rig_new(0);
    uint8_t hh[32];
    for (uint64_t s = 1; s <= 2 * K; s++)
        commit_block(g, s, hh);
    rig_restart(g);
    uint64_t low, high;
    assert_int_equal(lc_replica_height(g->rep), 2 * K);
    assert_int_equal(entries(g, &low, &high), 0);
    assert_int_equal(low, 0); /* no proof of a stable checkpoint yet */
    send_checkpoint(g, 0, 2 * K, hh, 0);
    entries(g, &low, &high);
    assert_int_equal(low, 0);
    send_checkpoint(g, 2, 2 * K, hh, 0);
    entries(g, &low, &high);
    assert_int_equal(low, 2 * K);
    assert_int_equal(high, 4 * K);
    rig_delete(g);
}

/* Kinds of checkpoint proof in a VIEW-CHANGE. */
enum { PROOF_GOOD, PROOF_FORGED, PROOF_SHORT, PROOF_DUPLICATE, PROOF_WRONG_SEQ, PROOF_UNWANTED };

/* A VIEW-CHANGE to view 1 from `from` (nothing executed, nothing prepared)
 * whose stable checkpoint is 4 with a proof of the given kind. */
static void send_viewchange(rig *g, uint32_t from, int kind) {
    uint8_t hash[32];
    memset(hash, 0x5A, 32);
    lc_wr w;
    lc_wr_init(&w);
    lc_wr_u64(&w, 1);
    lc_wr_u64(&w, 0);
    uint8_t zero[32] = {0};
    lc_wr_bytes(&w, zero, 32);
    lc_wr_var(&w, NULL, 0);
    lc_wr_u64(&w, kind == PROOF_UNWANTED ? 0 : K);
    lc_wr_bytes(&w, kind == PROOF_UNWANTED ? zero : hash, 32);
    uint32_t signers[3] = {0, 2, 3};
    uint32_t m = kind == PROOF_SHORT ? 2 : 3;
    if (kind == PROOF_DUPLICATE)
        signers[2] = 2;
    lc_wr_u32(&w, m);
    for (uint32_t i = 0; i < m; i++) {
        lc_checkpoint c = {.seq = kind == PROOF_WRONG_SEQ && i == 1 ? 2 * K : K,
                           .replica = signers[i]};
        memcpy(c.block_hash, hash, 32);
        lc_wr one;
        lc_wr_init(&one);
        lc_checkpoint_encode(&one, &c, g->sks[signers[i]]);
        if (kind == PROOF_FORGED && i == 2)
            one.p[10] ^= 1; /* the hash no longer matches its signature */
        lc_wr_var(&w, one.p, one.n);
        lc_wr_free(&one);
    }
    lc_wr_u32(&w, from);
    lc_wr_u32(&w, 0);
    lc_msg_sign(&w, LC_T_VIEWCHANGE, 0, g->sks[from]);
    deliver(g, from, LC_T_VIEWCHANGE, &w);
    lc_wr_free(&w);
}

/* Replica 1 is the primary of view 1: with f+1 valid VIEW-CHANGEs it joins the
 * view change, and with its own 2f+1 it sends NEW-VIEW and enters view 1. A
 * VIEW-CHANGE whose checkpoint proof is bad does not count. */
static void test_viewchange_checkpoint_proof(void **state) {
    (void)state;
    static const int bad[] = {PROOF_FORGED, PROOF_SHORT, PROOF_DUPLICATE, PROOF_WRONG_SEQ,
                              PROOF_UNWANTED};
    for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
        rig *g = rig_new(0);
        send_viewchange(g, 0, bad[b]);
        send_viewchange(g, 2, PROOF_GOOD);
        assert_int_equal(lc_replica_view(g->rep), 0); /* only one valid: not f+1 */
        send_viewchange(g, 3, PROOF_GOOD);
        assert_int_equal(lc_replica_view(g->rep), 1);
        rig_delete(g);
    }
}

/* A VIEW-CHANGE to `target` that carries nothing: no stable checkpoint, no
 * prepared certificate. */
static void send_empty_viewchange(rig *g, uint32_t from, uint64_t target) {
    lc_wr w;
    lc_wr_init(&w);
    lc_wr_u64(&w, target);
    lc_wr_u64(&w, 0);
    uint8_t zero[32] = {0};
    lc_wr_bytes(&w, zero, 32);
    lc_wr_var(&w, NULL, 0);
    lc_wr_u64(&w, 0);
    lc_wr_bytes(&w, zero, 32);
    lc_wr_u32(&w, 0);
    lc_wr_u32(&w, from);
    lc_wr_u32(&w, 0);
    lc_msg_sign(&w, LC_T_VIEWCHANGE, 0, g->sks[from]);
    deliver(g, from, LC_T_VIEWCHANGE, &w);
    lc_wr_free(&w);
}

/* The counterexample of tests/formal/pbft.pml (docs/formal.md, Findings): a
 * replica that sent VIEW-CHANGE without a prepared certificate, and becomes
 * prepared afterwards, must not sign a COMMIT of the old view — with two
 * others' COMMITs that would make a quorum the new view never learns of, and
 * the new primary could commit another block at the same height. On the old
 * code the replica committed block 1 here (height 1). */
static void test_no_commit_after_viewchange(void **state) {
    (void)state;
    rig *g = rig_new(0);
    uint8_t s0[64], s2[64], hh[32];
    ref_append(g, 1, s0, s2, hh);
    send_preprepare(g, 1); /* pre-prepared, not prepared yet */
    send_empty_viewchange(g, 2, 2);
    send_empty_viewchange(g, 3, 2); /* f+1 want view 2: it sends VIEW-CHANGE(2) too */
    assert_int_equal(lc_replica_view(g->rep), 0);
    send_prepare(g, 2, 1); /* prepared now, inside the view change */
    send_commit(g, 0, 1, s0);
    send_commit(g, 2, 1, s2);
    assert_int_equal(lc_replica_height(g->rep), 0);
    rig_delete(g);

    /* the same messages without the view change: it commits */
    g = rig_new(0);
    ref_append(g, 1, s0, s2, hh);
    send_preprepare(g, 1);
    send_prepare(g, 2, 1);
    send_commit(g, 0, 1, s0);
    send_commit(g, 2, 1, s2);
    assert_int_equal(lc_replica_height(g->rep), 1);
    rig_delete(g);
}

/* The highest view the replica under test asked for (its vc_send trace lines). */
static void vc_trace(void *ctx, const char *line) {
    uint64_t *asked = ctx;
    unsigned long long v;
    if (sscanf(line, "vc_send r=%*u v=%llu", &v) == 1 && v > *asked)
        *asked = v;
}

static void tick(rig *g, uint64_t now) {
    g->h.on_tick(g->h.ctx, now);
}

/* Castro-Liskov §4.5.2: the view-change timer starts only once 2f+1 replicas
 * ask for the view (docs/ledger-protocol.md §View change). Replica 2 is cut
 * off (it never speaks); replica 1, under test, suspects the primary alone
 * and must wait for the others rather than run one view ahead of them: on
 * the old code (timer started with its own VIEW-CHANGE) it asked for view 2
 * before replicas 0 and 3 asked for view 1, and view 1 never formed — the
 * stall trace validation found with seed 10 (docs/formal.md). The clock is
 * driven by hand: each tick is past or short of a deadline whatever the real
 * clock did, since lc_now_ms() is read before and after the messages. */
static void test_viewchange_timer_waits_for_quorum(void **state) {
    (void)state;
    rig *g = rig_new(10000);
    uint64_t asked = 0;
    lc_replica_set_trace(g->rep, vc_trace, &asked);
    send_preprepare(g, 1); /* work waits: primary 0 never completes it */
    uint64_t t = lc_now_ms();
    tick(g, t + 10001);
    assert_int_equal(asked, 1); /* it suspects primary 0 alone */
    tick(g, t + 10001 + 10000);
    tick(g, t + 60000);
    assert_int_equal(asked, 1); /* alone: no timer, no view 2 (old code: 2) */
    assert_int_equal(lc_replica_view(g->rep), 0);
    /* replicas 0 and 3 time out later and ask for view 1, whose primary is
     * replica 1: with its own VIEW-CHANGE that is 2f+1, and it enters view 1 */
    send_empty_viewchange(g, 0, 1);
    assert_int_equal(lc_replica_view(g->rep), 0);
    send_empty_viewchange(g, 3, 1);
    assert_int_equal(lc_replica_view(g->rep), 1);
    assert_int_equal(asked, 1);
    rig_delete(g);

    /* With 2f+1 for a view whose primary (2) is cut off, the timer starts;
     * when it expires the replica asks for the next view, and the next timer
     * (doubled: 20 s) starts only once 2f+1 ask for that view too. */
    g = rig_new(10000);
    asked = 0;
    lc_replica_set_trace(g->rep, vc_trace, &asked);
    uint64_t t0 = lc_now_ms();
    send_empty_viewchange(g, 0, 2);
    send_empty_viewchange(g, 3, 2); /* f+1: it joins view 2, and 2f+1 start the timer */
    uint64_t t1 = lc_now_ms();
    assert_int_equal(asked, 2);
    tick(g, t0 + 9999);
    assert_int_equal(asked, 2);
    tick(g, t1 + 10000);
    assert_int_equal(asked, 3); /* expired: view 3 */
    tick(g, t1 + 10000 + 20000 + 1);
    tick(g, t1 + 200000);
    assert_int_equal(asked, 3); /* alone in view 3: no timer (old code: 4) */
    uint64_t t2 = lc_now_ms();
    send_empty_viewchange(g, 0, 3);
    send_empty_viewchange(g, 3, 3);
    uint64_t t3 = lc_now_ms();
    tick(g, t2 + 19999);
    assert_int_equal(asked, 3);
    tick(g, t3 + 20000);
    assert_int_equal(asked, 4);
    assert_int_equal(lc_replica_view(g->rep), 0);
    rig_delete(g);
}

/* The view-change timeout doubles up to 60 s and no further
 * (docs/ledger-protocol.md §View change). With a 40 s base, the second
 * timer is 60 s; the old code doubled while below 60 s and set 80 s. */
static void test_viewchange_timeout_capped(void **state) {
    (void)state;
    rig *g = rig_new(40000);
    uint64_t asked = 0;
    lc_replica_set_trace(g->rep, vc_trace, &asked);
    send_empty_viewchange(g, 0, 2);
    send_empty_viewchange(g, 3, 2); /* 2f+1 for view 2: the 40 s timer */
    uint64_t t1 = lc_now_ms();
    assert_int_equal(asked, 2);
    tick(g, t1 + 40000);
    assert_int_equal(asked, 3);
    uint64_t t2 = lc_now_ms();
    send_empty_viewchange(g, 0, 3);
    send_empty_viewchange(g, 3, 3); /* 2f+1 for view 3: the 60 s timer */
    uint64_t t3 = lc_now_ms();
    tick(g, t2 + 59999);
    assert_int_equal(asked, 3);
    tick(g, t3 + 60000);
    assert_int_equal(asked, 4); /* old code: 80 s, still 3 */
    rig_delete(g);
}

/* NEW-VIEW(2) from its primary, replica 2, on empty VIEW-CHANGEs of 0, 2
 * and 3: nothing prepared, nothing executed, no pre-prepares. */
static void send_newview2(rig *g) {
    lc_wr w;
    lc_wr_init(&w);
    lc_wr_u64(&w, 2);
    lc_wr_u32(&w, 3);
    static const uint32_t from[3] = {0, 2, 3};
    for (int i = 0; i < 3; i++) {
        lc_wr vc;
        lc_wr_init(&vc);
        lc_wr_u64(&vc, 2);
        lc_wr_u64(&vc, 0);
        uint8_t zero[32] = {0};
        lc_wr_bytes(&vc, zero, 32);
        lc_wr_var(&vc, NULL, 0);
        lc_wr_u64(&vc, 0);
        lc_wr_bytes(&vc, zero, 32);
        lc_wr_u32(&vc, 0);
        lc_wr_u32(&vc, from[i]);
        lc_wr_u32(&vc, 0);
        lc_msg_sign(&vc, LC_T_VIEWCHANGE, 0, g->sks[from[i]]);
        lc_wr_var(&w, vc.p, vc.n);
        lc_wr_free(&vc);
    }
    lc_wr_u32(&w, 0);
    lc_msg_sign(&w, LC_T_NEWVIEW, 0, g->sks[2]);
    deliver(g, 2, LC_T_NEWVIEW, &w);
    lc_wr_free(&w);
}

/* A replica that asked for view 3 does not enter view 2 when view 2's
 * NEW-VIEW arrives late (Castro-Liskov: it is already in view 3). Its signed
 * VIEW-CHANGE(3) may yet form view 3 and does not list what it would
 * prepare in view 2; with a byzantine replica and two such replicas, a
 * block committed in view 2 could be replaced at its height in view 3 (the
 * fork the model found for COMMITs sent during a view change). Trace
 * validation shows the old code doing it in most lossy runs (rule
 * nv-accept-view); on the old code the replica entered view 2 here. */
static void test_no_newview_below_asked_view(void **state) {
    (void)state;
    rig *g = rig_new(10000);
    uint64_t asked = 0;
    lc_replica_set_trace(g->rep, vc_trace, &asked);
    send_empty_viewchange(g, 0, 2);
    send_empty_viewchange(g, 3, 2); /* f+1: it asks for view 2; 2f+1 start the timer */
    assert_int_equal(asked, 2);
    tick(g, lc_now_ms() + 10001);
    assert_int_equal(asked, 3); /* no NEW-VIEW(2) in time: it asks for view 3 */
    send_newview2(g);
    assert_int_equal(lc_replica_view(g->rep), 0); /* old code: 2 */
    rig_delete(g);

    /* the same NEW-VIEW(2) before its timer expired: it enters view 2 */
    g = rig_new(10000);
    send_empty_viewchange(g, 0, 2);
    send_empty_viewchange(g, 3, 2);
    send_newview2(g);
    assert_int_equal(lc_replica_view(g->rep), 2);
    rig_delete(g);
}

/* The certificates count of the replica's latest VIEW-CHANGE (trace np=). */
static void np_trace(void *ctx, const char *line) {
    unsigned *np = ctx;
    unsigned v;
    if (sscanf(line, "vc_send r=%*u v=%*u s=%*u st=%*u np=%u", &v) == 1)
        *np = v;
}

/* A replica prepared seq 1 in view 0 (and sent COMMIT), then asked for view 2.
 * A PREPARE of view 2 for seq 1 from replica 2, one of its certificate's
 * prepares, arrives before any pre-prepare of view 2: it must not replace the
 * view-0 prepare, or the next VIEW-CHANGE (view 3) omits a slot this replica
 * sent COMMIT for (trace rule vc-complete; the old code sent np=0 here). */
static void test_viewchange_keeps_prepared_certificate(void **state) {
    (void)state;
    rig *g = rig_new(0);
    unsigned np = 99;
    lc_replica_set_trace(g->rep, np_trace, &np);
    send_preprepare(g, 1);
    send_prepare(g, 2, 1); /* prepared: its own and replica 2's, COMMIT sent */
    send_empty_viewchange(g, 0, 2);
    send_empty_viewchange(g, 3, 2); /* it joins view 2, carrying the certificate */
    assert_int_equal(np, 1);
    lc_wr prop, w;
    proposal(g, 1, &prop);
    lc_vote v = {.type = LC_T_PREPARE, .view = 2, .seq = 1, .replica = 2};
    crypto_hash_sha256(v.digest, prop.p, prop.n);
    lc_wr_init(&w);
    lc_vote_encode(&w, &v, g->sks[2]);
    deliver(g, 2, LC_T_PREPARE, &w);
    lc_wr_free(&w);
    lc_wr_free(&prop);
    np = 99;
    tick(g, lc_now_ms() + 100000); /* the timer of view 2 expires: view 3 */
    assert_int_equal(np, 1);
    assert_int_equal(lc_replica_view(g->rep), 0);
    rig_delete(g);
}

/* A VIEW-CHANGE to view 1 from `from`: last height h with the reference
 * chain's certificate of block h (header hash hh), no stable checkpoint,
 * and, when cert_seq is not 0, the prepared certificate of cert_seq in view
 * 0 (replica 0's pre-prepare of proposal(cert_seq), prepares from 2 and 3). */
static void send_viewchange_at(rig *g, uint32_t from, uint64_t h, const uint8_t hh[32],
                               uint64_t cert_seq) {
    uint8_t *c = NULL;
    size_t cl = 0;
    assert_int_equal(mk_get_cert(&g->ref, h, &c, &cl), 0);
    lc_wr w;
    lc_wr_init(&w);
    lc_wr_u64(&w, 1);
    lc_wr_u64(&w, h);
    lc_wr_bytes(&w, hh, 32);
    lc_wr_var(&w, c, cl);
    free(c);
    uint8_t zero[32] = {0};
    lc_wr_u64(&w, 0);
    lc_wr_bytes(&w, zero, 32);
    lc_wr_u32(&w, 0);
    lc_wr_u32(&w, from);
    lc_wr_u32(&w, cert_seq ? 1 : 0);
    if (cert_seq) {
        lc_wr prop, pp;
        proposal(g, cert_seq, &prop);
        lc_wr_init(&pp);
        lc_preprepare_encode(&pp, 0, cert_seq, prop.p, prop.n, g->sks[0]);
        lc_wr_var(&w, pp.p, pp.n);
        lc_wr_u32(&w, 2);
        for (uint32_t j = 2; j <= 3; j++) {
            lc_vote v = {.type = LC_T_PREPARE, .view = 0, .seq = cert_seq, .replica = j};
            crypto_hash_sha256(v.digest, prop.p, prop.n);
            lc_wr one;
            lc_wr_init(&one);
            lc_vote_encode(&one, &v, g->sks[j]);
            lc_wr_var(&w, one.p, one.n);
            lc_wr_free(&one);
        }
        lc_wr_free(&pp);
        lc_wr_free(&prop);
    }
    lc_msg_sign(&w, LC_T_VIEWCHANGE, 0, g->sks[from]);
    deliver(g, from, LC_T_VIEWCHANGE, &w);
    lc_wr_free(&w);
}

/* Blocks from .. to of the reference chain, as state transfer brings them. */
static void send_blocks(rig *g, uint64_t from, uint64_t to) {
    lc_wr b;
    lc_wr_init(&b);
    lc_wr_u32(&b, (uint32_t)(to - from + 1));
    for (uint64_t h = from; h <= to; h++) {
        uint8_t *enc;
        size_t n;
        assert_int_equal(mk_get_block(&g->ref, h, &enc, &n), 0);
        lc_wr_var(&b, enc, n);
        free(enc);
    }
    deliver(g, 0, LC_T_BLOCKS, &b);
    lc_wr_free(&b);
}

/* Prepares of (view, seq, the proposal in prop) from replicas 2 and 3, then
 * their commits of it (the header hash its block gets on the reference
 * chain): with the replica's own, 2f+1 of each. */
static void vote_23(rig *g, uint64_t view, uint64_t seq, const lc_wr *prop) {
    uint8_t digest[32], hh[32];
    crypto_hash_sha256(digest, prop->p, prop->n);
    lc_proposal dec;
    assert_int_equal(lc_proposal_decode(&dec, prop->p, prop->n), 0);
    void *blk;
    assert_int_equal(mk_prepare(&g->ref, &dec, &blk, hh), 0);
    mk_drop(&g->ref, blk);
    uint8_t stmt[LEDGER_COMMIT_STATEMENT_BYTES];
    ledger_commit_statement(stmt, g->chain, seq, view, hh);
    for (uint8_t type = LC_T_PREPARE;; type = LC_T_COMMIT) {
        for (uint32_t j = 2; j <= 3; j++) {
            lc_vote v = {.type = type, .view = view, .seq = seq, .replica = j};
            memcpy(v.digest, digest, 32);
            if (type == LC_T_COMMIT)
                crypto_sign_detached(v.sig, NULL, stmt, sizeof stmt, g->sks[j]);
            lc_wr w;
            lc_wr_init(&w);
            lc_vote_encode(&w, &v, g->sks[j]);
            deliver(g, j, type, &w);
            lc_wr_free(&w);
        }
        if (type == LC_T_COMMIT)
            break;
    }
}

/* The stall of test_view_changes_with_prepared_slots (1 run in 17 under load;
 * docs/ledger-protocol.md §View change). Replica 1, the primary of view 1,
 * has executed nothing; the others' VIEW-CHANGEs prove height 2 and carry a
 * prepared certificate at 4, so 3 is a gap, filled with an empty block
 * stamped with the time of the block before it. On the old code the primary
 * sent NEW-VIEW at once with its own tip's time (genesis, 0): a block at
 * height 3 older than block 2, which every store refuses to execute, but
 * which got prepared and was re-proposed in every later view — the chain
 * stopped (the traces: views 9 to 17 at height 4, all prepared, no COMMIT).
 * Now it waits for state transfer to bring block 2, then sends a NEW-VIEW
 * whose empty block 3 commits. */
static void test_newview_gap_block_waits_for_min_s(void **state) {
    (void)state;
    rig *g = rig_new(0);
    uint8_t s0[64], s2[64], hh1[32], hh2[32];
    ref_append(g, 1, s0, s2, hh1);
    ref_append(g, 2, s0, s2, hh2);
    send_viewchange_at(g, 0, 2, hh2, 0);
    send_viewchange_at(g, 2, 2, hh2, 4); /* f+1: it joins; with its own, 2f+1 */
    send_viewchange_at(g, 3, 2, hh2, 0);
    /* behind min_s = 2 with a gap to fill: no NEW-VIEW yet (old code: view 1) */
    assert_int_equal(lc_replica_view(g->rep), 0);
    assert_int_equal(lc_replica_height(g->rep), 0);
    /* state transfer brings blocks 1 and 2; the next tick sends the NEW-VIEW */
    send_blocks(g, 1, 2);
    assert_int_equal(lc_replica_height(g->rep), 2);
    g->h.on_tick(g->h.ctx, lc_now_ms());
    assert_int_equal(lc_replica_view(g->rep), 1);
    /* the gap block: empty, view 1, proposer 1, block 2's time; it commits */
    lc_proposal gap = {.height = 3, .view = 1, .proposer = SELF, .ts_ms = g->ts0 + 2, .ntx = 0};
    lc_wr prop;
    lc_wr_init(&prop);
    assert_int_equal(lc_proposal_encode(&prop, &gap, NULL, NULL), 0);
    vote_23(g, 1, 3, &prop);
    assert_int_equal(lc_replica_height(g->rep), 3);
    lc_wr_free(&prop);
    rig_delete(g);
}

/* The stall left after the fixes above (1 run in 54 under load): a slot
 * prepared in view 3 with a proposal of time T; the height below it was
 * committed in view 6 with a proposal made later (time > T); the NEW-VIEW of
 * view 7 must re-propose the prepared proposal (PBFT), and the store refused
 * to execute it, its time going back — every later view re-proposed it and
 * the chain stopped (traces: views 7 to 14 at height 5, all prepared, no
 * COMMIT). A block's time is now the proposal's or its parent's, the later
 * (node.c b_prepare, the mock store alike). Here block 1 has time ts0 + 100
 * and the prepared proposal at 2 time ts0 + 2; on the old code block 2
 * never commits. */
static void test_newview_reproposes_older_prepared_block(void **state) {
    (void)state;
    rig *g = rig_new(0);
    /* block 1, with a later time than the proposal prepared at 2 */
    lc_proposal p1 = {.height = 1, .view = 0, .proposer = 0, .ts_ms = g->ts0 + 100, .ntx = 0};
    lc_wr prop1;
    lc_wr_init(&prop1);
    assert_int_equal(lc_proposal_encode(&prop1, &p1, NULL, NULL), 0);
    lc_proposal d1;
    assert_int_equal(lc_proposal_decode(&d1, prop1.p, prop1.n), 0);
    uint8_t hh1[32], sigs[3][64];
    ref_commit(g, &d1, sigs, hh1);
    lc_wr_free(&prop1);
    send_blocks(g, 1, 1);
    assert_int_equal(lc_replica_height(g->rep), 1);
    send_viewchange_at(g, 0, 1, hh1, 0);
    send_viewchange_at(g, 2, 1, hh1, 2);          /* carries the certificate at 2 (time ts0 + 2) */
    assert_int_equal(lc_replica_view(g->rep), 1); /* its NEW-VIEW re-proposes it */
    lc_wr prop;
    proposal(g, 2, &prop);
    vote_23(g, 1, 2, &prop);
    assert_int_equal(lc_replica_height(g->rep), 2); /* old code: 1 */
    uint64_t h, ts;
    uint8_t tip[32];
    mk_tip(&g->st, &h, tip, &ts);
    assert_int_equal(ts, g->ts0 + 100); /* its parent's time */
    lc_wr_free(&prop);
    rig_delete(g);
}

/* The highest view in which the replica under test sent a pre-prepare for
 * seq 1 (its pp_send trace lines). */
static void pp_trace(void *ctx, const char *line) {
    uint64_t *view = ctx;
    unsigned long long v;
    if (sscanf(line, "pp_send r=%*u v=%llu s=1 ", &v) == 1 && v + 1 > *view)
        *view = v + 1;
}

/* The other stall of the lossy traced run (views 10 to 16 with no
 * pre-prepare at all): a request this replica proposed as primary, whose
 * proposal a view change dropped, must be proposed again when it leads a
 * later view. On the old code the queue dropped a request once proposed, so
 * it was pending with nothing to propose and its client's submit timed out
 * (-252) however often the client sent it again. */
static void test_request_proposed_again_after_view_change(void **state) {
    (void)state;
    rig *g = rig_new(0);
    uint64_t pp_view = 0; /* 1 + view of the last pp_send for seq 1; 0: none */
    lc_replica_set_trace(g->rep, pp_trace, &pp_view);
    send_empty_viewchange(g, 0, 1);
    send_empty_viewchange(g, 2, 1); /* it leads view 1 */
    assert_int_equal(lc_replica_view(g->rep), 1);
    ledger_signer *sg;
    uint8_t seed[32] = {7};
    assert_int_equal(ledger_signer_from_seed(&sg, seed), 0);
    ledger_tx *tx;
    uint8_t payload[16] = "one request";
    assert_int_equal(ledger_tx_create_signed(&tx, sg, 1, 1, payload, sizeof payload), 0);
    size_t n;
    const uint8_t *enc = ledger_tx_encoding(tx, &n);
    g->h.on_msg(g->h.ctx, 77, LC_CLIENT_ID, LC_T_REQUEST, enc, n);
    uint64_t t = lc_now_ms();
    g->h.on_tick(g->h.ctx, t + 10); /* past the block period: proposed */
    assert_int_equal(pp_view, 1 + 1);
    g->h.on_tick(g->h.ctx, t + 20);
    /* nobody prepares it; the view changes to 5, which it leads again, and
     * no VIEW-CHANGE carries the proposal: the request is pending again */
    send_empty_viewchange(g, 0, 5);
    send_empty_viewchange(g, 2, 5);
    assert_int_equal(lc_replica_view(g->rep), 5);
    g->h.on_tick(g->h.ctx, lc_now_ms() + 10);
    assert_int_equal(pp_view, 5 + 1); /* old code: still 2 */
    ledger_tx_free(tx);
    ledger_signer_free(sg);
    rig_delete(g);
}

int main(void) {
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_kept_until_stable_checkpoint),
        cmocka_unit_test(test_log_bounded_over_many_blocks),
        cmocka_unit_test(test_restart_votes_its_checkpoint),
        cmocka_unit_test(test_viewchange_checkpoint_proof),
        cmocka_unit_test(test_no_commit_after_viewchange),
        cmocka_unit_test(test_viewchange_timer_waits_for_quorum),
        cmocka_unit_test(test_viewchange_keeps_prepared_certificate),
        cmocka_unit_test(test_viewchange_timeout_capped),
        cmocka_unit_test(test_no_newview_below_asked_view),
        cmocka_unit_test(test_newview_gap_block_waits_for_min_s),
        cmocka_unit_test(test_newview_reproposes_older_prepared_block),
        cmocka_unit_test(test_request_proposed_again_after_view_change),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
