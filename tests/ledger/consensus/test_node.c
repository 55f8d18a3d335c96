/* The public node and client APIs with the real LMDB store: four ledger_node
 * replicas in this process (each with its own event-loop thread), the
 * client's submit with a verified inclusion proof, every client read, the
 * follow callback, agreement of the stored tips, and start-up errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "capture_stderr.h"
#include "ledger.h"
#include "../../fixtures/free_port.h"

static int free_port(void) {
    return test_free_port();
}

typedef struct {
    char dir[64];
    uint8_t seeds[4][32];
    char text[2048]; /* the configuration */
    ledger_config *cfg;
    ledger_membership *m;
    ledger_node *nodes[4];
    ledger_blob_authorize_fn hook;
    void *hook_ctx;
    uint32_t blob_limit_mib;
    ledger_log_fn log; /* every node's log callback */
    void *log_ctx;
} net4;

static void node_start(net4 *t, int i) {
    char dd[128];
    snprintf(dd, sizeof dd, "%s/data%d", t->dir, i);
    ledger_node_options o;
    assert_int_equal(ledger_node_options_init(&o), 0);
    o.id = i;
    o.seed = t->seeds[i];
    o.data_dir = dd;
    o.sync = 2;
    o.blob_authorize = t->hook;
    o.blob_ctx = t->hook_ctx;
    o.blob_limit_mib = t->blob_limit_mib;
    o.log = t->log;
    o.log_ctx = t->log_ctx;
    assert_int_equal(ledger_node_start(&t->nodes[i], t->cfg, &o), 0);
}

static void net4_init(net4 *t) {
    strcpy(t->dir, "/tmp/lc_node_test.XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    char text[2048];
    size_t off = 0;
    uint8_t chain[32];
    randombytes_buf(chain, 32);
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, chain, 32);
    off += (size_t)snprintf(text + off, sizeof text - off,
                            "chain_id %s\nf 1\nblock_period_ms 5\nview_timeout_ms 1000\n", hex);
    for (int i = 0; i < 4; i++) {
        randombytes_buf(t->seeds[i], 32);
        ledger_signer *s;
        assert_int_equal(ledger_signer_from_seed(&s, t->seeds[i]), 0);
        sodium_bin2hex(hex, sizeof hex, ledger_signer_public_key(s), 32);
        ledger_signer_free(s);
        off += (size_t)snprintf(text + off, sizeof text - off, "replica %d 127.0.0.1:%d %s\n", i,
                                free_port(), hex);
    }
    assert_int_equal(ledger_config_parse(&t->cfg, text, off), 0);
    assert_int_equal(ledger_config_membership(t->cfg, &t->m), 0);
    memcpy(t->text, text, off + 1);
    for (int i = 0; i < 4; i++)
        node_start(t, i);
}

static void net4_free(net4 *t) {
    for (int i = 0; i < 4; i++)
        ledger_node_stop(t->nodes[i]);
    ledger_membership_free(t->m);
    ledger_config_free(t->cfg);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", t->dir);
    assert_int_equal(system(cmd), 0);
}

typedef struct {
    pthread_mutex_t mu;
    uint64_t last;
    int calls;
    int out_of_order;
} follow_state;

static void on_block(void *ctx, uint64_t height, const uint8_t hash[32], uint64_t ts) {
    follow_state *f = ctx;
    (void)hash;
    (void)ts;
    pthread_mutex_lock(&f->mu);
    if (height <= f->last)
        f->out_of_order++;
    else
        f->last = height;
    f->calls++;
    pthread_mutex_unlock(&f->mu);
}

static ledger_tx *kv_tx(ledger_signer *s, uint64_t nonce, const char *key, const char *val) {
    uint8_t *p;
    size_t n;
    assert_int_equal(ledger_kv_put_payload((const uint8_t *)key, strlen(key), (const uint8_t *)val,
                                           strlen(val), &p, &n),
                     0);
    ledger_tx *tx;
    assert_int_equal(ledger_tx_create_signed(&tx, s, LEDGER_KV_OP_PUT, nonce, p, n), 0);
    ledger_free(p);
    return tx;
}

static void test_node_and_client(void **state) {
    (void)state;
    net4 *t = calloc(1, sizeof *t);
    net4_init(t);
    ledger_client *cl;
    assert_int_equal(ledger_client_connect(&cl, t->cfg, 5000), 0);
    follow_state fs = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0};
    assert_int_equal(ledger_client_follow(cl, on_block, &fs), 0);
    uint8_t seed[32] = {9};
    ledger_signer *me;
    assert_int_equal(ledger_signer_from_seed(&me, seed), 0);
    ledger_receipt r;
    uint8_t first_hash[32];
    for (uint64_t k = 1; k <= 12; k++) {
        char key[16];
        snprintf(key, sizeof key, "key%llu", (unsigned long long)k);
        ledger_tx *tx = kv_tx(me, k, key, "value");
        ledger_proof *proof;
        assert_int_equal(ledger_client_submit(cl, tx, 0, 30000, &r, &proof), 0);
        assert_int_equal(r.status, 0);
        assert_true(r.replies >= 2);
        assert_int_equal(ledger_proof_verify(proof, t->m, ledger_tx_hash(tx)), 0);
        assert_int_equal(ledger_proof_height(proof), r.height);
        if (k == 1)
            memcpy(first_hash, ledger_tx_hash(tx), 32);
        ledger_proof_free(proof);
        ledger_tx_free(tx);
    }
    /* a replay of nonce 1 is refused by f+1 replicas before ordering */
    ledger_tx *old = kv_tx(me, 1, "again", "x");
    assert_int_equal(ledger_client_submit(cl, old, 0, 10000, &r, NULL), LEDGER_E_REPLAY);
    ledger_tx_free(old);
    /* reads */
    uint8_t *v;
    size_t vl;
    assert_int_equal(ledger_client_query(cl, (const uint8_t *)"key3", 4, 5000, &v, &vl), 0);
    assert_int_equal(vl, 5);
    assert_memory_equal(v, "value", 5);
    ledger_free(v);
    assert_int_equal(ledger_client_get(cl, (const uint8_t *)"key3", 4, 5000, &v, &vl), 0);
    assert_true(vl > 5);
    ledger_free(v);
    assert_int_equal(ledger_client_query(cl, (const uint8_t *)"none", 4, 5000, &v, &vl),
                     LEDGER_E_NOT_FOUND);
    ledger_tx *got;
    uint64_t h;
    uint32_t idx;
    assert_int_equal(ledger_client_tx(cl, first_hash, 5000, &got, &h, &idx), 0);
    assert_memory_equal(ledger_tx_hash(got), first_hash, 32);
    ledger_tx_free(got);
    ledger_block *b;
    assert_int_equal(ledger_client_block(cl, h, 5000, &b), 0);
    assert_int_equal(ledger_block_height(b), h);
    /* committed blocks carry header format 3: the application version in force
     * (1 from genesis), the hash of the membership that certified them and the
     * state digest */
    assert_int_equal(ledger_block_format(b), 3);
    assert_non_null(ledger_block_state_digest(b));
    assert_int_equal(ledger_block_app_version(b), LEDGER_APP_VERSION_GENESIS);
    {
        uint8_t *menc, epoch[32];
        size_t mlen;
        assert_int_equal(ledger_membership_encode(t->m, &menc, &mlen), 0);
        assert_int_equal(ledger_sha256(epoch, menc, mlen), 0);
        ledger_free(menc);
        assert_non_null(ledger_block_epoch(b));
        assert_memory_equal(ledger_block_epoch(b), epoch, 32);
    }
    assert_int_equal(ledger_block_check(b, t->m), 0);
    ledger_block_free(b);
    assert_int_equal(ledger_client_block(cl, 1000000, 3000, &b), LEDGER_E_NOT_FOUND);
    ledger_trace_entry te[8];
    size_t n;
    assert_int_equal(
        ledger_client_trace(cl, LEDGER_KV_OP_PUT, (const uint8_t *)"key1", 4, 0, 5000, te, 8, &n),
        0);
    assert_int_equal(n, 1);
    assert_int_equal(te[0].height, h);
    uint64_t hs[64];
    assert_int_equal(ledger_client_trace_time(cl, 0, UINT64_MAX / 2, 5000, hs, 64, &n), 0);
    assert_true(n >= 1);
    uint8_t blob[5000], bh[32];
    for (size_t i = 0; i < sizeof blob; i++)
        blob[i] = (uint8_t)(i * 7);
    /* blobs: only signed puts, and by default only from the replicas' member keys */
    assert_int_equal(ledger_client_blob_put(cl, blob, sizeof blob, 5000, bh),
                     LEDGER_E_BLOB_ANONYMOUS);
    assert_int_equal(ledger_client_set_signer(cl, me), 0);
    assert_int_equal(ledger_client_blob_put(cl, blob, sizeof blob, 5000, bh), LEDGER_E_BLOB_DENIED);
    ledger_signer *member;
    assert_int_equal(ledger_signer_from_seed(&member, t->seeds[2]), 0);
    assert_int_equal(ledger_client_set_signer(cl, member), 0);
    ledger_signer_free(member); /* the client keeps its own copy */
    assert_int_equal(ledger_client_blob_put(cl, blob, sizeof blob, 5000, bh), 0);
    assert_int_equal(ledger_client_blob_get(cl, bh, 5000, &v, &vl), 0);
    assert_int_equal(vl, sizeof blob);
    assert_memory_equal(v, blob, sizeof blob);
    ledger_free(v);
    uint64_t top;
    assert_int_equal(ledger_client_height(cl, 5000, &top), 0);
    assert_true(top >= r.height);
    /* every replica holds the same chain and state */
    ledger_tip tips[4];
    for (int tries = 0; tries < 500; tries++) {
        int same = 1;
        for (int i = 0; i < 4; i++) {
            assert_int_equal(ledger_node_tip(t->nodes[i], &tips[i]), 0);
            if (tips[i].height != tips[0].height)
                same = 0;
        }
        if (same && tips[0].height >= top)
            break;
        usleep(10000);
    }
    for (int i = 1; i < 4; i++) {
        assert_int_equal(tips[i].height, tips[0].height);
        assert_memory_equal(tips[i].hash, tips[0].hash, 32);
        assert_memory_equal(tips[i].state_root, tips[0].state_root, 32);
    }
    /* the follower saw the chain grow: the callback ran before the wait ends */
    assert_int_equal(ledger_client_wait_height(cl, r.height, 20000, NULL), 0);
    assert_true(fs.last >= r.height);
    assert_true(fs.calls >= 1);
    assert_int_equal(fs.out_of_order, 0);
    assert_int_equal(ledger_client_follow(cl, NULL, NULL), 0);
    ledger_signer_free(me);
    ledger_client_close(cl);
    net4_free(t);
    free(t);
}

/* Following works with a replica down (the subscription goes to every link
 * that is up, and to a link when it comes up), heights in increasing order. */
static void test_follow_with_replica_down(void **state) {
    (void)state;
    net4 *t = calloc(1, sizeof *t);
    net4_init(t);
    ledger_node_stop(t->nodes[3]);
    t->nodes[3] = NULL;
    ledger_client *cl;
    assert_int_equal(ledger_client_connect(&cl, t->cfg, 5000), 0);
    follow_state fs = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0};
    assert_int_equal(ledger_client_follow(cl, on_block, &fs), 0);
    uint8_t seed[32] = {10};
    ledger_signer *me;
    assert_int_equal(ledger_signer_from_seed(&me, seed), 0);
    ledger_receipt r;
    for (uint64_t k = 1; k <= 3; k++) {
        ledger_tx *tx = kv_tx(me, k, "k", "v");
        assert_int_equal(ledger_client_submit(cl, tx, 0, 20000, &r, NULL), 0);
        ledger_tx_free(tx);
    }
    assert_int_equal(ledger_client_wait_height(cl, r.height, 20000, NULL), 0);
    pthread_mutex_lock(&fs.mu);
    assert_true(fs.last >= r.height);
    assert_int_equal(fs.out_of_order, 0);
    pthread_mutex_unlock(&fs.mu);
    assert_int_equal(ledger_client_follow(cl, NULL, NULL), 0);
    ledger_signer_free(me);
    ledger_client_close(cl);
    net4_free(t);
    free(t);
}

/* Blob puts (issue 23): anonymous, non-member and forged puts are refused and
 * store nothing; a member is held to its quota and every putter to the
 * store's high-water mark, while transactions still commit; usage survives a
 * restart. */
typedef struct {
    uint8_t a[32], b[32];
} blob_policy;

static int blob_hook(void *ctx, const uint8_t putter[32], uint64_t len, uint64_t *quota) {
    blob_policy *p = ctx;
    (void)len;
    if (memcmp(putter, p->a, 32) == 0) {
        *quota = 64 << 10;
        return LEDGER_OK;
    }
    if (memcmp(putter, p->b, 32) == 0) {
        *quota = LEDGER_BLOB_QUOTA_NONE;
        return LEDGER_OK;
    }
    return LEDGER_E_BLOB_DENIED;
}

static uint64_t node_blobs(net4 *t, int i, const uint8_t *pk) {
    uint64_t b = 0;
    assert_int_equal(ledger_node_blob_usage(t->nodes[i], pk, &b), 0);
    return b;
}

/* Nothing of `data` on any linked replica (each answers the put first: the
 * link delivers queries in order). */
static void assert_absent(ledger_client *cl, const uint8_t *data, size_t n) {
    uint8_t h[32], *v = NULL;
    size_t vl;
    ledger_sha256(h, data, n);
    assert_int_equal(ledger_client_blob_get(cl, h, 5000, &v, &vl), LEDGER_E_NOT_FOUND);
}

static void test_blob_puts(void **state) {
    (void)state;
    net4 *t = calloc(1, sizeof *t);
    blob_policy pol;
    uint8_t sa[32] = {21}, sb[32] = {22}, sc[32] = {23};
    ledger_signer *a, *b, *c;
    assert_int_equal(ledger_signer_from_seed(&a, sa), 0);
    assert_int_equal(ledger_signer_from_seed(&b, sb), 0);
    assert_int_equal(ledger_signer_from_seed(&c, sc), 0);
    memcpy(pol.a, ledger_signer_public_key(a), 32);
    memcpy(pol.b, ledger_signer_public_key(b), 32);
    t->hook = blob_hook;
    t->hook_ctx = &pol;
    t->blob_limit_mib = 1;
    net4_init(t);
    ledger_client *cl;
    assert_int_equal(ledger_client_connect(&cl, t->cfg, 5000), 0);
    size_t n = 8 << 10;
    uint8_t *x = malloc(300 << 10);
    for (size_t i = 0; i < (300 << 10); i++)
        x[i] = (uint8_t)(i * 13 + 1);
    uint8_t h[32];
    /* anonymous */
    assert_int_equal(ledger_client_blob_put(cl, x, n, 10000, h), LEDGER_E_BLOB_ANONYMOUS);
    assert_absent(cl, x, n);
    /* a key the policy does not know */
    assert_int_equal(ledger_client_set_signer(cl, c), 0);
    assert_int_equal(ledger_client_blob_put(cl, x, n, 10000, h), LEDGER_E_BLOB_DENIED);
    assert_absent(cl, x, n);
    /* a member's signature over another statement (another chain's): forged here */
    ledger_config *other;
    char text[2048];
    memcpy(text, t->text, sizeof text);
    text[9] = text[9] == '0' ? '1' : '0'; /* a hex digit of chain_id */
    assert_int_equal(ledger_config_parse(&other, text, strlen(text)), 0);
    ledger_client *forger;
    assert_int_equal(ledger_client_connect(&forger, other, 5000), 0);
    assert_int_equal(ledger_client_set_signer(forger, a), 0);
    assert_int_equal(ledger_client_blob_put(forger, x, n, 10000, h), LEDGER_E_SIGNATURE);
    assert_absent(forger, x, n);
    ledger_client_close(forger);
    ledger_config_free(other);
    for (int i = 0; i < 4; i++)
        assert_int_equal(node_blobs(t, i, NULL), 0);
    /* member a: 40 KiB fits its 64 KiB quota, 40 KiB more does not */
    assert_int_equal(ledger_client_set_signer(cl, a), 0);
    assert_int_equal(ledger_client_blob_put(cl, x, 40 << 10, 10000, h), 0);
    assert_int_equal(ledger_client_blob_put(cl, x + 1, 40 << 10, 10000, h), LEDGER_E_BLOB_QUOTA);
    assert_absent(cl, x + 1, 40 << 10);
    assert_int_equal(ledger_client_blob_put(cl, x, 40 << 10, 10000, h), 0); /* stored: free */
    /* member b: no quota, but each store holds at most 1 MiB of blobs */
    assert_int_equal(ledger_client_set_signer(cl, b), 0);
    for (int k = 0; k < 3; k++) {
        x[0] = (uint8_t)(100 + k);
        assert_int_equal(ledger_client_blob_put(cl, x, 300 << 10, 10000, h), 0);
    }
    x[0] = 200;
    assert_int_equal(ledger_client_blob_put(cl, x, 300 << 10, 10000, h), LEDGER_E_BLOB_FULL);
    assert_absent(cl, x, 300 << 10);
    /* transactions still commit */
    ledger_tx *tx = kv_tx(c, 1, "after", "blobs");
    ledger_receipt r;
    assert_int_equal(ledger_client_submit(cl, tx, 0, 30000, &r, NULL), 0);
    assert_int_equal(r.status, 0);
    ledger_tx_free(tx);
    /* every replica stored exactly the accepted blobs */
    uint64_t want = (40 << 10) + 3 * (300 << 10);
    for (int i = 0; i < 4; i++) {
        for (int tries = 0; tries < 500 && node_blobs(t, i, NULL) < want; tries++)
            usleep(10000);
        assert_int_equal(node_blobs(t, i, NULL), want);
        assert_int_equal(node_blobs(t, i, pol.a), 40 << 10);
        assert_int_equal(node_blobs(t, i, pol.b), 3 * (300 << 10));
    }
    /* usage survives a restart */
    ledger_node_stop(t->nodes[0]);
    node_start(t, 0);
    assert_int_equal(node_blobs(t, 0, pol.a), 40 << 10);
    assert_int_equal(node_blobs(t, 0, NULL), want);
    free(x);
    ledger_client_close(cl);
    ledger_signer_free(a);
    ledger_signer_free(b);
    ledger_signer_free(c);
    net4_free(t);
    free(t);
}

static void test_start_errors(void **state) {
    (void)state;
    net4 *t = calloc(1, sizeof *t);
    net4_init(t);
    ledger_node_options o;
    ledger_node_options_init(&o);
    char dd[128];
    snprintf(dd, sizeof dd, "%s/other", t->dir);
    o.id = 1;
    o.seed = t->seeds[2]; /* not replica 1's key */
    o.data_dir = dd;
    ledger_node *nd = (ledger_node *)1;
    assert_int_equal(ledger_node_start(&nd, t->cfg, &o), LEDGER_E_CONFIG);
    assert_null(nd);
    o.seed = t->seeds[1]; /* right key, but replica 1's address is in use */
    assert_int_equal(ledger_node_start(&nd, t->cfg, &o), LEDGER_E_STARTED);
    o.checkpoint_every = 1025; /* above the largest K */
    assert_int_equal(ledger_node_start(&nd, t->cfg, &o), LEDGER_E_INVALID);
    o.checkpoint_every = 0;
    o.version = 99;
    assert_int_equal(ledger_node_start(&nd, t->cfg, &o), LEDGER_E_INVALID);
    assert_int_equal(ledger_node_start(NULL, t->cfg, NULL), LEDGER_E_INVALID);
    /* a version-1 options structure (before the blob fields) still starts a node */
    ledger_node_stop(t->nodes[3]);
    snprintf(dd, sizeof dd, "%s/data3", t->dir);
    o.version = 1;
    o.id = 3;
    o.seed = t->seeds[3];
    assert_int_equal(ledger_node_start(&t->nodes[3], t->cfg, &o), 0);
    assert_int_equal(ledger_node_height(NULL), 0);
    ledger_node_stop(NULL);
    ledger_client *cl = (ledger_client *)1;
    assert_int_equal(ledger_client_connect(&cl, NULL, 100), LEDGER_E_INVALID);
    assert_int_equal(ledger_client_submit(NULL, NULL, 0, 100, NULL, NULL), LEDGER_E_INVALID);
    net4_free(t);
    free(t);
}

/* Log callbacks: the messages of a view change, a bad key and a lost link
 * reach the callbacks, and nothing reaches stderr (before the log API, the
 * replicas and the node wrote these lines to stderr themselves). */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char text[16384]; /* "LEVEL message\n" per message, while there is room */
    size_t len;
    int calls;
} log_sink;

static void sink_log(void *ctx, int level, const char *message) {
    log_sink *k = ctx;
    pthread_mutex_lock(&k->mu);
    int w = snprintf(k->text + k->len, sizeof k->text - k->len, "%d %s\n", level, message);
    if (w > 0 && (size_t)w < sizeof k->text - k->len)
        k->len += (size_t)w;
    k->calls++;
    pthread_cond_broadcast(&k->cv);
    pthread_mutex_unlock(&k->mu);
}

/* Wait (at most ms) until the sink holds needle; 1 if it does. */
static int sink_wait(log_sink *k, const char *needle, uint32_t ms) {
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += ms / 1000;
    dl.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&k->mu);
    int found;
    while (!(found = strstr(k->text, needle) != NULL))
        if (pthread_cond_timedwait(&k->cv, &k->mu, &dl) != 0) {
            found = strstr(k->text, needle) != NULL;
            break;
        }
    pthread_mutex_unlock(&k->mu);
    return found;
}

static void test_log_callback(void **state) {
    (void)state;
    static log_sink nodes = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}, 0, 0};
    static log_sink client = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}, 0, 0};
    static log_sink bad = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}, 0, 0};
    net4 *t = calloc(1, sizeof *t);
    assert_non_null(t);
    t->log = sink_log;
    t->log_ctx = &nodes;
    stderr_capture cap;
    assert_int_equal(capture_begin(&cap), 0);
    net4_init(t);
    /* a key that is not the member's: the node says so through the callback */
    ledger_node_options o;
    ledger_node_options_init(&o);
    char dd[128];
    snprintf(dd, sizeof dd, "%s/other", t->dir);
    o.id = 1;
    o.seed = t->seeds[2];
    o.data_dir = dd;
    o.log = sink_log;
    o.log_ctx = &bad;
    ledger_node *nd = NULL;
    int rc_key = ledger_node_start(&nd, t->cfg, &o);
    o.log_level = LEDGER_LOG_DEBUG + 1;
    int rc_level = ledger_node_start(&nd, t->cfg, &o);
    /* the client reports the link to the stopped primary going down */
    ledger_client *cl = NULL;
    int rc_connect = ledger_client_connect(&cl, t->cfg, 5000);
    int rc_setlog = cl ? ledger_client_set_log(cl, sink_log, &client, 0) : -1;
    int rc_setlog_bad = ledger_client_set_log(cl, sink_log, &client, LEDGER_LOG_DEBUG + 1);
    ledger_node_stop(t->nodes[0]);
    t->nodes[0] = NULL;
    int link_down = sink_wait(&client, "link to replica 0 (", 20000);
    /* a request with the primary down: the replicas change to view 1 */
    uint8_t seed[32] = {11};
    ledger_signer *me = NULL;
    int rc_submit = -1;
    if (cl && ledger_signer_from_seed(&me, seed) == 0) {
        ledger_tx *tx = kv_tx(me, 1, "k", "v");
        ledger_receipt r;
        rc_submit = ledger_client_submit(cl, tx, 0, 30000, &r, NULL);
        ledger_tx_free(tx);
    }
    int vc = sink_wait(&nodes, "view change to 1", 30000);
    int nv = sink_wait(&nodes, "view 1 (primary 1)", 30000);
    ledger_signer_free(me);
    ledger_client_close(cl);
    net4_free(t);
    free(t);
    char out[1024];
    long printed = capture_end(&cap, out, sizeof out);
    if (printed != 0)
        print_error("written to stderr: %s\n", out);
    assert_int_equal(printed, 0);
    assert_int_equal(rc_key, LEDGER_E_CONFIG);
    assert_int_equal(rc_level, LEDGER_E_INVALID);
    assert_null(nd);
    assert_non_null(strstr(bad.text, "1 ledger node: the key is not replica 1's member key"));
    assert_int_equal(bad.calls, 1);
    assert_int_equal(rc_connect, 0);
    assert_int_equal(rc_setlog, 0);
    assert_int_equal(rc_setlog_bad, LEDGER_E_INVALID);
    assert_true(link_down);
    assert_non_null(strstr(client.text, ") down"));
    assert_int_equal(rc_submit, 0);
    assert_true(vc);
    assert_true(nv);
    /* levels: a view change is a warning, the new view information */
    assert_non_null(strstr(nodes.text, "2 ledger replica"));
    assert_non_null(strstr(nodes.text, "3 ledger replica"));
    assert_null(strstr(nodes.text, "\n4 ")); /* debug messages not asked for */
    assert_true(strncmp(nodes.text, "4 ", 2) != 0);
}

int main(void) {
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node_and_client), cmocka_unit_test(test_follow_with_replica_down),
        cmocka_unit_test(test_blob_puts),       cmocka_unit_test(test_start_errors),
        cmocka_unit_test(test_log_callback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
