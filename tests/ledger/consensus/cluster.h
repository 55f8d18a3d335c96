/* In-process test cluster: n replicas (each an lc_net loop thread + lc_replica
 * over a mock store) on loopback ports chosen by the kernel, and the public
 * client API against them. */
#ifndef CLUSTER_H
#define CLUSTER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ledger/client.h"
#include "mock_store.h"
#include "../../fixtures/free_port.h"

#define CL_MAX 10

typedef struct {
    mock_store st;
    lc_replica *rep;
    lc_net *net;
    pthread_t thr;
    int running;
} cl_node;

typedef struct {
    uint32_t n, f;
    uint8_t pks[LC_MAX_REPLICAS][32];
    uint8_t sks[CL_MAX][64];
    char addrs[LC_MAX_REPLICAS][64];
    uint8_t chain[32];
    cl_node nodes[CL_MAX];
    ledger_config *cfg;
    uint32_t view_timeout_ms;
    /* trace validation (docs/formal.md): each replica's protocol events go to
     * TRACE_DIR/replica-<i>.trace, kept across restarts; NULL: no trace */
    FILE *trace[CL_MAX];
    uint32_t commit_early; /* bit i: replica i runs the injected fault */
} cluster;

static void cl_trace_line(void *ctx, const char *line) {
    FILE *f = ctx;
    fputs(line, f);
    fputc('\n', f);
}

static int free_port(void) {
    return test_free_port();
}

static void *cl_loop(void *arg) {
    cl_node *nd = arg;
    lc_net_run(nd->net);
    return NULL;
}

static int cl_start(cluster *c, uint32_t i) {
    cl_node *nd = &c->nodes[i];
    lc_replica_cfg rc;
    memset(&rc, 0, sizeof rc);
    rc.n = c->n;
    rc.f = c->f;
    rc.self = i;
    rc.pks = c->pks;
    memcpy(rc.sk, c->sks[i], 64);
    memcpy(rc.chain_id, c->chain, 32);
    rc.block_period_ms = 5;
    rc.max_block_txs = 64;
    rc.checkpoint_every = 4;
    rc.view_timeout_ms = c->view_timeout_ms ? c->view_timeout_ms : 600;
    lc_store_ops ops = mock_ops(&nd->st);
    if (lc_replica_create(&nd->rep, &rc, &ops) != 0)
        return -1;
    lc_net_config nc;
    memset(&nc, 0, sizeof nc);
    nc.self = i;
    nc.n = c->n;
    nc.addrs = c->addrs;
    nc.pks = (const uint8_t(*)[32])c->pks;
    nc.sk = c->sks[i];
    nc.listen = 1;
    nc.connect_replicas = 1;
    nc.tick_ms = 2;
    lc_net_handler h;
    lc_replica_handler(nd->rep, &h);
    for (int tries = 0; lc_net_create(&nd->net, &nc, &h) != 0; tries++) {
        if (tries > 100)
            return -1; /* the port is still in TIME_WAIT use: retry briefly */
        usleep(20000);
    }
    lc_replica_attach(nd->rep, nd->net);
    if (c->trace[i])
        lc_replica_set_trace(nd->rep, cl_trace_line, c->trace[i]);
    if ((c->commit_early >> i) & 1)
        lc_replica_set_commit_early(nd->rep, 1);
    nd->running = 1;
    return pthread_create(&nd->thr, NULL, cl_loop, nd);
}

static void cl_stop(cluster *c, uint32_t i) {
    cl_node *nd = &c->nodes[i];
    if (!nd->running)
        return;
    lc_net_stop(nd->net);
    pthread_join(nd->thr, NULL);
    lc_net_free(nd->net);
    lc_replica_free(nd->rep);
    nd->net = NULL;
    nd->rep = NULL;
    nd->running = 0;
}

/* trace_dir: write traces there (NULL: none); commit_early: replicas (bits)
 * that run the injected "commit before prepared" fault. */
static int cl_init_traced(cluster *c, uint32_t n, uint32_t view_timeout_ms, const char *trace_dir,
                          uint32_t commit_early) {
    memset(c, 0, sizeof *c);
    c->commit_early = commit_early;
    for (uint32_t i = 0; trace_dir && i < n; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/replica-%u.trace", trace_dir, i);
        if (!(c->trace[i] = fopen(path, "w")))
            return -1;
    }
    c->n = n;
    c->f = (n - 1) / 3;
    c->view_timeout_ms = view_timeout_ms;
    randombytes_buf(c->chain, 32);
    char text[8192];
    size_t off = 0;
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, c->chain, 32);
    off += (size_t)snprintf(text + off, sizeof text - off, "chain_id %s\nf %u\n", hex, c->f);
    for (uint32_t i = 0; i < n; i++) {
        crypto_sign_keypair(c->pks[i], c->sks[i]);
        snprintf(c->addrs[i], 64, "127.0.0.1:%d", free_port());
        sodium_bin2hex(hex, sizeof hex, c->pks[i], 32);
        off += (size_t)snprintf(text + off, sizeof text - off, "replica %u %s %s\n", i, c->addrs[i],
                                hex);
    }
    if (ledger_config_parse(&c->cfg, text, off) != 0)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        mock_init(&c->nodes[i].st, n, c->f, c->pks, c->chain);
        if (cl_start(c, i) != 0)
            return -1;
    }
    return 0;
}

static int cl_init(cluster *c, uint32_t n, uint32_t view_timeout_ms) {
    return cl_init_traced(c, n, view_timeout_ms, NULL, 0);
}

static void cl_free(cluster *c) {
    for (uint32_t i = 0; i < c->n; i++) {
        cl_stop(c, i);
        mock_free(&c->nodes[i].st);
        if (c->trace[i])
            fclose(c->trace[i]);
        c->trace[i] = NULL;
    }
    ledger_config_free(c->cfg);
}

static uint64_t cl_height(cluster *c, uint32_t i) {
    uint64_t h;
    uint8_t hh[32];
    uint64_t ts;
    mk_tip(&c->nodes[i].st, &h, hh, &ts);
    return h;
}

/* Safety: every two stores agree on every height both have. Returns the
 * number of disagreements (0 is safe). */
static int cl_disagreements(cluster *c) {
    int bad = 0;
    for (uint32_t i = 0; i < c->n; i++)
        for (uint32_t j = i + 1; j < c->n; j++) {
            mock_store *a = &c->nodes[i].st, *b = &c->nodes[j].st;
            pthread_mutex_lock(&a->mu);
            pthread_mutex_lock(&b->mu);
            uint64_t top = a->height < b->height ? a->height : b->height;
            for (uint64_t h = 1; h <= top; h++)
                if (memcmp(a->blocks[h].hh, b->blocks[h].hh, 32) != 0)
                    bad++;
            pthread_mutex_unlock(&b->mu);
            pthread_mutex_unlock(&a->mu);
        }
    return bad;
}

/* Wait (bounded) until every running replica reaches height >= h. */
static int cl_wait_height(cluster *c, uint64_t h, int seconds) {
    for (int t = 0; t < seconds * 100; t++) {
        int ok = 1;
        for (uint32_t i = 0; i < c->n; i++)
            if (c->nodes[i].running && cl_height(c, i) < h)
                ok = 0;
        if (ok)
            return 0;
        usleep(10000);
    }
    return -1;
}

static uint64_t cl_max_height(cluster *c) {
    uint64_t m = 0;
    for (uint32_t i = 0; i < c->n; i++)
        if (cl_height(c, i) > m)
            m = cl_height(c, i);
    return m;
}

typedef struct {
    cluster *c;
    ledger_client *cli;
    int count;
    int ok;
    int fail_code;
    uint64_t seed;
} submitter;

/* Submit `count` signed transactions one after another (closed loop). */
static void *submit_main(void *arg) {
    submitter *s = arg;
    ledger_signer *sg;
    uint8_t seed[32];
    memset(seed, 0, 32);
    memcpy(seed, &s->seed, sizeof s->seed);
    ledger_signer_from_seed(&sg, seed);
    for (int i = 0; i < s->count; i++) {
        uint8_t payload[64];
        snprintf((char *)payload, sizeof payload, "tx %d of %llu", i, (unsigned long long)s->seed);
        ledger_tx *tx;
        ledger_tx_create_signed(&tx, sg, 1, (uint64_t)i + 1, payload, sizeof payload);
        ledger_receipt rcpt;
        int rc = ledger_client_submit(s->cli, tx, LEDGER_SUBMIT_NO_PROOF, 30000, &rcpt, NULL);
        if (rc == 0 && rcpt.height > 0 && rcpt.replies >= s->c->f + 1)
            s->ok++;
        else
            s->fail_code = rc;
        ledger_tx_free(tx);
    }
    ledger_signer_free(sg);
    return NULL;
}

/* k concurrent submitters of `each` transactions; returns how many committed. */
static int cl_load(cluster *c, ledger_client *cli, int k, int each, uint64_t seed0) {
    pthread_t th[16];
    submitter s[16];
    for (int i = 0; i < k; i++) {
        s[i] = (submitter){c, cli, each, 0, 0, seed0 + (uint64_t)i};
        pthread_create(&th[i], NULL, submit_main, &s[i]);
    }
    int ok = 0;
    for (int i = 0; i < k; i++) {
        pthread_join(th[i], NULL);
        ok += s[i].ok;
        if (s[i].fail_code)
            fprintf(stderr, "submitter %d: last failure %d\n", i, s[i].fail_code);
    }
    return ok;
}

#endif
