/* bench_reconfig: a membership change under load (docs/ledger-protocol.md
 * §Membership changes). Five replica processes of the reference key-value
 * ledger are configured, replicas 0…3 form the genesis membership.
 *
 *   bench_reconfig --node PATH [--history 1000] [--clients 32] [--seconds 5] [--quick]
 *                  [--timeline] [--log DIR] [--restart-windows] [--absent-joiner S]
 *
 * 1. History: sequential transactions until the chain holds --history blocks.
 * 2. Steady: closed-loop clients, four replicas; after a warm-up (1 s) the
 *    committed count is taken over --seconds.
 * 3. The cycle, under the same closed-loop load (the same client threads,
 *    not restarted): replicas 0, 1, 2 sign the addition of replica 4 (3 of
 *    4); at the approving receipt replica 4 is started (it has none of the
 *    history); then replicas 0…3 sign its removal (4 of 5) and the load runs
 *    until the removal is in force.
 * Prints reconfig_seconds_4to5 — from the approving receipt until replica 4
 * has executed the change's height and is within one block of the chain's
 * height (from then on it votes on every block; read from its status file
 * every 20 ms) — and tps_during_reconfig_ratio — transactions per second
 * during the cycle over the steady phase's (BENCHMARKS.md), with detail
 * fields: the steady rate over the cycle's length just before it
 * (tps_steady_cycle_length, ratio_cycle_length), the submissions that failed
 * in the cycle, and each phase's seconds and rate (proposed/approved: the
 * addition's, then the removal's; caught_up: replica 4 votes).
 * Diagnosis: --timeline writes the rate every 25 ms to stderr; --log DIR
 * keeps the replicas' stderr; --restart-windows starts and joins the load
 * for each window (the method before 2026-12-08); --absent-joiner S adds
 * replica 4 without starting it and waits S seconds before the removal (five
 * members, one silent: the cost of the quorum without the joiner's work);
 * --joiner-first starts replica 4 before the steady phase and waits until it
 * follows the chain (the order of docs/guides/fedshare-node.md: the new node
 * catches up as a non-member, then is added). */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ledger.h"
#include "../../tests/fixtures/free_port.h"

#define NREP 5

static pid_t pids[NREP];
static char dir[] = "/tmp/bench_reconfig.XXXXXX";
static char cfgpath[256];
static const char *node;
static ledger_signer *rep[NREP];
static uint64_t rep_nonce[NREP];
static char addr[NREP][32];
static const char *logdir;      /* --log DIR: the replicas' stderr, kept */
static atomic_size_t committed; /* transactions of the load committed so far */
static atomic_size_t failed;    /* submissions of the load refused or timed out */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void pause_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void kill_nodes(void) {
    for (int i = 0; i < NREP; i++)
        if (pids[i] > 0) {
            kill(pids[i], SIGKILL);
            waitpid(pids[i], NULL, 0);
            pids[i] = 0;
        }
}

static void spawn(int i) {
    char id[16], kp[256], dd[256], st[256];
    snprintf(id, sizeof id, "%d", i);
    snprintf(kp, sizeof kp, "%s/node%d.key", dir, i);
    snprintf(dd, sizeof dd, "%s/data%d", dir, i);
    snprintf(st, sizeof st, "%s/status%d", dir, i);
    pid_t p = fork();
    if (p == 0) {
        char lp[300];
        if (logdir)
            snprintf(lp, sizeof lp, "%s/node%d.log", logdir, i);
        FILE *o = freopen("/dev/null", "w", stdout);
        FILE *e = freopen(logdir ? lp : "/dev/null", "w", stderr);
        (void)o;
        (void)e;
        execl(node, node, cfgpath, "--id", id, "--key", kp, "--data", dd, "--sync", "0",
              "--status-file", st, (char *)NULL);
        _exit(127);
    }
    pids[i] = p;
}

static uint64_t status_height(int i) {
    char st[256];
    snprintf(st, sizeof st, "%s/status%d", dir, i);
    FILE *f = fopen(st, "r");
    unsigned long long h = 0;
    if (f) {
        if (fscanf(f, "%llu", &h) != 1)
            h = 0;
        fclose(f);
    }
    return h;
}

typedef struct {
    ledger_client *cli;
    int id;
    volatile int *stop;
    double t_end;
    size_t ok;
    uint64_t nonce;
} worker;

static int put(ledger_client *cli, ledger_signer *sg, int id, uint64_t nonce, uint64_t *height) {
    uint8_t payload[256];
    memset(payload, 'v', sizeof payload);
    int kl = snprintf((char *)payload + 2, 40, "k%d-%llu", id, (unsigned long long)nonce);
    payload[0] = 0;
    payload[1] = (uint8_t)kl;
    ledger_tx *tx;
    if (ledger_tx_create_signed(&tx, sg, LEDGER_KV_OP_PUT, nonce, payload, sizeof payload))
        return -1;
    ledger_receipt r;
    int rc = ledger_client_submit(cli, tx, LEDGER_SUBMIT_NO_PROOF, 30000, &r, NULL);
    ledger_tx_free(tx);
    if (rc == 0 && r.status == 0) {
        if (height)
            *height = r.height;
        return 0;
    }
    return -1;
}

static void *work(void *arg) {
    worker *w = arg;
    ledger_signer *sg;
    uint8_t seed[32] = {0};
    snprintf((char *)seed, sizeof seed, "reconf-client-%d-%ld", w->id, (long)getpid());
    ledger_signer_from_seed(&sg, seed);
    while (!*w->stop && (w->t_end == 0 || now_s() < w->t_end))
        if (put(w->cli, sg, w->id, ++w->nonce, NULL) == 0) {
            w->ok++;
            atomic_fetch_add(&committed, 1);
        } else {
            atomic_fetch_add(&failed, 1);
        }
    ledger_signer_free(sg);
    return NULL;
}

/* A membership act by replica i; returns the receipt's height (0 on failure). */
static uint64_t act(ledger_client *cli, int i, uint16_t op, const uint8_t *pl, size_t n) {
    ledger_tx *tx;
    if (ledger_tx_create_signed(&tx, rep[i], op, ++rep_nonce[i], pl, n))
        return 0;
    ledger_receipt r;
    int rc = ledger_client_submit(cli, tx, LEDGER_SUBMIT_NO_PROOF, 60000, &r, NULL);
    ledger_tx_free(tx);
    if (rc != 0 || r.status != 0)
        fprintf(stderr, "bench_reconfig: act %u by replica %d: rc %d, status %d\n", op, i, rc,
                rc == 0 ? (int)r.status : 0);
    return rc == 0 && r.status == 0 ? r.height : 0;
}

static uint64_t open_id(ledger_client *cli) {
    uint8_t *v;
    size_t vl;
    if (ledger_client_get(cli, (const uint8_t *)LEDGER_MEMBER_OPEN_KEY,
                          sizeof LEDGER_MEMBER_OPEN_KEY - 1, 30000, &v, &vl) != 0)
        return 0;
    ledger_member_change c;
    int rc = ledger_member_change_decode(&c, v, vl);
    ledger_free(v);
    return rc == 0 ? c.id : 0;
}

/* Phase marks of the cycle: name, time, committed count. */
#define PH_MAX 32
static const char *ph_name[PH_MAX];
static double ph_t[PH_MAX];
static size_t ph_c[PH_MAX];
static int ph_n;
static void ph_mark(const char *name) {
    if (ph_n < PH_MAX) {
        ph_name[ph_n] = name;
        ph_t[ph_n] = now_s();
        ph_c[ph_n++] = atomic_load(&committed);
    }
}

/* Propose (by replica 0) and approve (by the others listed) one change; returns
 * the approving block's height. */
static uint64_t change(ledger_client *cli, uint32_t kind, int who, const int *approvers, int k) {
    uint8_t *pl;
    size_t n;
    if (ledger_member_propose_payload(kind, ledger_signer_public_key(rep[who]),
                                      kind == LEDGER_MEMBER_ADD_REPLICA ? addr[who] : NULL, &pl,
                                      &n))
        return 0;
    uint64_t h = act(cli, 0, LEDGER_OP_MEMBER_PROPOSE, pl, n);
    ledger_free(pl);
    ph_mark("proposed");
    uint64_t id = h ? open_id(cli) : 0;
    uint8_t ap[8];
    if (!id || ledger_member_approve_payload(id, ap))
        return 0;
    for (int j = 0; j < k && h; j++)
        h = act(cli, approvers[j], LEDGER_OP_MEMBER_APPROVE, ap, 8);
    ph_mark("approved");
    return h;
}

/* The committed count every 25 ms (--timeline: written to stderr at the end,
 * as transactions per second between samples). */
#define TL_MAX 8192
static double tl_t[TL_MAX];
static size_t tl_c[TL_MAX];
static atomic_int tl_n, tl_stop;
static void *sampler(void *arg) {
    (void)arg;
    while (!atomic_load(&tl_stop)) {
        int k = atomic_load(&tl_n);
        if (k < TL_MAX) {
            tl_t[k] = now_s();
            tl_c[k] = atomic_load(&committed);
            atomic_store(&tl_n, k + 1);
        }
        pause_ms(25);
    }
    return NULL;
}

static size_t run_load(ledger_client **cli, int ncli, worker *ws, pthread_t *th, int clients,
                       volatile int *stop, double t_end) {
    for (int i = 0; i < clients; i++) {
        ws[i] = (worker){cli[i % ncli], i, stop, t_end, 0, ws[i].nonce};
        pthread_create(&th[i], NULL, work, &ws[i]);
    }
    return 0;
}

static size_t join_load(worker *ws, pthread_t *th, int clients) {
    size_t ok = 0;
    for (int i = 0; i < clients; i++) {
        pthread_join(th[i], NULL);
        ok += ws[i].ok;
    }
    return ok;
}

int main(int argc, char **argv) {
    int history = 1000, clients = 32, quick = 0, timeline = 0, restart = 0;
    double absent = 0; /* --absent-joiner S: replica 4 is added but not started */
    int first = 0;     /* --joiner-first: replica 4 started before the steady phase */
    double seconds = 5;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            quick = 1;
        else if (!strcmp(argv[i], "--restart-windows"))
            restart = 1;
        else if (i + 1 < argc && !strcmp(argv[i], "--absent-joiner"))
            absent = atof(argv[++i]);
        else if (!strcmp(argv[i], "--joiner-first"))
            first = 1;
        else if (!strcmp(argv[i], "--timeline"))
            timeline = 1;
        else if (i + 1 < argc && !strcmp(argv[i], "--log"))
            logdir = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--node"))
            node = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--history"))
            history = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--clients"))
            clients = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--seconds"))
            seconds = atof(argv[++i]);
        else {
            fprintf(stderr, "bench_reconfig: unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    if (!node || clients < 1 || clients > 256 || history < 1) {
        fprintf(stderr, "bench_reconfig: --node PATH required\n");
        return 2;
    }
    if (quick) {
        history = history > 200 ? 200 : history;
        seconds = seconds > 2 ? 2 : seconds;
    }
    signal(SIGPIPE, SIG_IGN);
    if (!mkdtemp(dir))
        return 1;
    snprintf(cfgpath, sizeof cfgpath, "%s/ledger.conf", dir);
    FILE *cf = fopen(cfgpath, "w");
    fprintf(cf, "chain_id %064x\nf 1\ngenesis_replicas 4\nblock_period_ms 5\nmax_block_txs 4000\n",
            9);
    for (int i = 0; i < NREP; i++) {
        uint8_t seed[32] = {0};
        snprintf((char *)seed, sizeof seed, "reconf-node-%d", i);
        ledger_signer_from_seed(&rep[i], seed);
        const uint8_t *pk = ledger_signer_public_key(rep[i]);
        snprintf(addr[i], sizeof addr[i], "127.0.0.1:%d", test_free_port());
        fprintf(cf, "replica %d %s ", i, addr[i]);
        for (int j = 0; j < 32; j++)
            fprintf(cf, "%02x", pk[j]);
        fprintf(cf, "\n");
        char kp[256];
        snprintf(kp, sizeof kp, "%s/node%d.key", dir, i);
        FILE *kf = fopen(kp, "w");
        for (int j = 0; j < 32; j++)
            fprintf(kf, "%02x", seed[j]);
        fclose(kf);
    }
    fclose(cf);
    atexit(kill_nodes);
    for (int i = 0; i < 4; i++)
        spawn(i);
    ledger_config *cfg;
    if (ledger_config_load(&cfg, cfgpath) != 0)
        return 1;
    ledger_client *cli[8];
    int ncli = clients < 8 ? clients : 8;
    for (int i = 0; i < ncli; i++) {
        int rc = -1;
        for (int t = 0; t < 50 && rc != 0; t++)
            rc = ledger_client_connect(&cli[i], cfg, 2000);
        if (rc != 0) {
            fprintf(stderr, "bench_reconfig: cannot connect (%d)\n", rc);
            return 1;
        }
    }
    /* 1. history: one transaction per block */
    ledger_signer *hs;
    uint8_t hseed[32] = {0};
    memcpy(hseed, "reconf-history", 14);
    ledger_signer_from_seed(&hs, hseed);
    uint64_t height = 0, hn = 0;
    double th0 = now_s();
    while (height < (uint64_t)history)
        if (put(cli[0], hs, 9999, ++hn, &height) != 0) {
            fprintf(stderr, "bench_reconfig: history put failed\n");
            return 1;
        }
    double history_s = now_s() - th0;
    ledger_signer_free(hs);
    if (first) { /* the guide's order: the new node follows the chain before its addition */
        spawn(4);
        int near = 0;
        for (int k = 0; k < 120 * 50 && !near; k++) {
            near = status_height(4) + 1 >= height;
            if (!near)
                pause_ms(20);
        }
        if (!near) {
            fprintf(stderr, "bench_reconfig: replica 4 did not follow the chain\n");
            return 1;
        }
    }

    /* 2. steady load, four replicas. The load runs without a break from
     * here to the end of the cycle (the same clients, warm): the steady
     * window and the cycle window are counted from the committed counter at
     * their ends, not from thread starts and joins (which would charge a
     * ramp-up and a tail to each window, a larger share of the shorter one).
     * --restart-windows: the earlier method (the load started and joined for
     * each window), kept for comparison. */
    worker *ws = calloc((size_t)clients, sizeof *ws);
    pthread_t *th = calloc((size_t)clients, sizeof *th);
    volatile int stop = 0;
    pthread_t smp;
    pthread_create(&smp, NULL, sampler, NULL);
    double t0, tps_steady, warm = quick ? 0.3 : 1.0;
    size_t ok, c0 = 0;
    if (restart) {
        t0 = now_s();
        run_load(cli, ncli, ws, th, clients, &stop, t0 + seconds);
        ok = join_load(ws, th, clients);
        tps_steady = (double)ok / (now_s() - t0);
    } else {
        run_load(cli, ncli, ws, th, clients, &stop, 0);
        pause_ms((long)(warm * 1000));
        c0 = atomic_load(&committed);
        t0 = now_s();
        pause_ms((long)(seconds * 1000));
        tps_steady = (double)(atomic_load(&committed) - c0) / (now_s() - t0);
    }

    /* 3. the cycle 4 -> 5 -> 4 under the same load */
    t0 = now_s();
    c0 = atomic_load(&committed);
    size_t f0 = atomic_load(&failed);
    ph_mark("start");
    if (restart)
        run_load(cli, ncli, ws, th, clients, &stop, 0);
    const int add_by[] = {1, 2};
    uint64_t ha = change(cli[0], LEDGER_MEMBER_ADD_REPLICA, 4, add_by, 2);
    double t_add = now_s();
    if (!ha) {
        fprintf(stderr, "bench_reconfig: the addition failed\n");
        stop = 1;
        join_load(ws, th, clients);
        return 1;
    }
    uint64_t eff = ha + LEDGER_MEMBER_DELAY;
    double t_vote = 0;
    if (absent > 0) { /* diagnosis: five members, one of them silent, then the removal */
        pause_ms((long)(absent * 1000));
        t_vote = now_s();
    } else if (!first) {
        spawn(4);
    }
    for (int k = 0; k < 120 * 50 && !t_vote; k++) {
        uint64_t h4 = status_height(4), top = 0;
        for (int i = 0; i < 4; i++) {
            uint64_t h = status_height(i);
            top = h > top ? h : top;
        }
        if (h4 >= eff && h4 + 1 >= top)
            t_vote = now_s();
        else
            pause_ms(20);
    }
    ph_mark("caught_up");
    const int remove_by[] = {1, 2, 3};
    uint64_t hr = t_vote ? change(cli[0], LEDGER_MEMBER_REMOVE_REPLICA, 4, remove_by, 3) : 0;
    uint64_t h = 0;
    while (hr && h <= hr + LEDGER_MEMBER_DELAY && ledger_client_height(cli[0], 30000, &h) == 0 &&
           h <= hr + LEDGER_MEMBER_DELAY)
        pause_ms(10);
    ph_mark("removed");
    size_t f_cycle = atomic_load(&failed) - f0;
    double cycle_s, tps_cycle;
    if (restart) {
        stop = 1;
        ok = join_load(ws, th, clients);
        cycle_s = now_s() - t0;
        tps_cycle = (double)ok / cycle_s;
    } else {
        cycle_s = now_s() - t0;
        tps_cycle = (double)(atomic_load(&committed) - c0) / cycle_s;
        stop = 1;
        join_load(ws, th, clients);
    }
    atomic_store(&tl_stop, 1);
    pthread_join(smp, NULL);
    int tn = atomic_load(&tl_n);
    if (timeline)
        for (int i = 1; i < tn; i++)
            fprintf(stderr, "timeline %.3f %.0f\n", tl_t[i] - t0,
                    (double)(tl_c[i] - tl_c[i - 1]) / (tl_t[i] - tl_t[i - 1]));
    /* the steady throughput over the window of the cycle's length (at most
     * --seconds) just before the cycle: the same clients, the same length */
    double tps_adj = 0, w = cycle_s < seconds ? cycle_s : seconds;
    for (int i = tn; !restart && i-- > 0;)
        if (tl_t[i] <= t0 - w) {
            tps_adj = t0 > tl_t[i] ? (double)(c0 - tl_c[i]) / (t0 - tl_t[i]) : 0;
            break;
        }
    if (!t_vote || !hr) {
        fprintf(stderr, "bench_reconfig: replica 4 did not catch up, or the removal failed\n");
        return 1;
    }
    printf("{\"suite\": \"ledger\", \"name\": \"reconfig_seconds_4to5\", \"value\": %.3f, "
           "\"unit\": \"s\", \"history_blocks\": %d, \"history_seconds\": %.2f, "
           "\"effective_height\": %llu, \"clients\": %d}\n",
           t_vote - t_add, history, history_s, (unsigned long long)eff, clients);
    /* the phases of the cycle: seconds and transactions per second of each */
    char phases[2048];
    size_t pn = 0;
    for (int i = 1; i < ph_n && pn < sizeof phases - 128; i++) {
        double d = ph_t[i] - ph_t[i - 1];
        pn += (size_t)snprintf(phases + pn, sizeof phases - pn,
                               "%s{\"phase\": \"%s_%d\", \"seconds\": %.3f, \"tps\": %.1f}",
                               i > 1 ? ", " : "", ph_name[i], i, d,
                               d > 0 ? (double)(ph_c[i] - ph_c[i - 1]) / d : 0);
    }
    printf(
        "{\"suite\": \"ledger\", \"name\": \"tps_during_reconfig_ratio\", \"value\": %.3f, "
        "\"unit\": \"ratio\", \"tps_steady\": %.1f, \"tps_cycle\": %.1f, \"steady_seconds\": "
        "%.2f, \"cycle_seconds\": %.2f, \"tps_steady_cycle_length\": %.1f, \"ratio_cycle_length\": "
        "%.3f, \"failed_in_cycle\": %zu, \"clients\": %d, \"windows\": \"%s\", "
        "\"phases\": [%s]}\n",
        tps_steady > 0 ? tps_cycle / tps_steady : 0, tps_steady, tps_cycle, seconds, cycle_s,
        tps_adj, tps_adj > 0 ? tps_cycle / tps_adj : 0, f_cycle, clients,
        restart ? "restart" : "continuous", phases);
    fflush(stdout);
    for (int i = 0; i < ncli; i++)
        ledger_client_close(cli[i]);
    ledger_config_free(cfg);
    kill_nodes();
    for (int i = 0; i < NREP; i++)
        ledger_signer_free(rep[i]);
    free(ws);
    free(th);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) != 0;
}
