/* bench_ledger: n replica processes of the reference key-value ledger on this
 * machine (fedshare-ledger-node), closed-loop clients submitting signed
 * transactions with 256-byte payloads; prints JSON lines (BENCHMARKS.md).
 *
 *   bench_ledger --node PATH [--replicas 4] [--clients 64] [--seconds 10]
 *                [--rate TX_PER_S] [--sync 0|1] [--block-period MS] [--quick]
 *
 * Without --rate every client submits its next transaction as soon as the
 * previous one commits (closed loop: throughput). With --rate the clients
 * together pace submissions at that rate (latency at a given load). Every
 * node runs in one process group that is killed at the end.
 *
 * --flood: the measurement runs twice in the same run, first as usual, then
 * while an attacker thread holds 2,000 idle and 100 slow-handshake (one HELLO
 * byte every 0.5 s, never finished) connections open to replica 0 (the first
 * primary), reopening any the node closes; prints a "flood" line with both
 * p99 latencies, their ratio (p99_ms_under_flood_ratio) and replica 0's
 * largest resident memory during the flood (rss_mib_under_flood). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "ledger.h"
#include "../../tests/fixtures/free_port.h"

static pid_t pids[64];
static int npids;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int free_port(void) {
    return test_free_port();
}

static void kill_nodes(void) {
    for (int i = 0; i < npids; i++)
        if (pids[i] > 0)
            kill(pids[i], SIGKILL);
    for (int i = 0; i < npids; i++)
        if (pids[i] > 0)
            waitpid(pids[i], NULL, 0);
    npids = 0;
}

static double cpu_of(pid_t pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t k = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[k] = 0;
    char *p = strrchr(buf, ')');
    if (!p)
        return 0;
    unsigned long ut = 0, st = 0;
    /* fields after ')': state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime
     * stime */
    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st);
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

typedef struct {
    ledger_client *cli;
    int id;
    double rate; /* tx/s for this client, 0 = closed loop */
    double t_end;
    size_t ok, fail;
    double *lat;
    size_t nlat, cap;
} worker;

static void *work(void *arg) {
    worker *w = arg;
    ledger_signer *sg;
    uint8_t seed[32] = {0};
    snprintf((char *)seed, sizeof seed, "bench-client-%d-%ld", w->id, (long)getpid());
    ledger_signer_from_seed(&sg, seed);
    uint8_t payload[256];
    memset(payload, 'v', sizeof payload);
    double next = now_s();
    for (uint64_t nonce = 1;; nonce++) {
        if (w->rate > 0) {
            next += 1.0 / w->rate;
            double d = next - now_s();
            if (d > 0) {
                struct timespec ts = {(time_t)d, (long)((d - (double)(time_t)d) * 1e9)};
                nanosleep(&ts, NULL);
            }
        }
        double t0 = now_s();
        if (t0 >= w->t_end)
            break;
        /* a key-value put: u16 key length ‖ key ‖ value, 256 bytes in all */
        int kl = snprintf((char *)payload + 2, 40, "k%d-%llu", w->id, (unsigned long long)nonce);
        payload[0] = 0;
        payload[1] = (uint8_t)kl;
        ledger_tx *tx;
        if (ledger_tx_create_signed(&tx, sg, LEDGER_KV_OP_PUT, nonce, payload, sizeof payload))
            break;
        ledger_receipt r;
        int rc = ledger_client_submit(w->cli, tx, LEDGER_SUBMIT_NO_PROOF, 30000, &r, NULL);
        ledger_tx_free(tx);
        double t1 = now_s();
        if (rc == 0 && r.status == 0) {
            w->ok++;
            if (w->nlat == w->cap) {
                w->cap = w->cap ? w->cap * 2 : 1024;
                w->lat = realloc(w->lat, w->cap * sizeof *w->lat);
            }
            w->lat[w->nlat++] = (t1 - t0) * 1000.0;
        } else {
            w->fail++;
        }
    }
    ledger_signer_free(sg);
    return NULL;
}

/* ---- the flood (--flood) ------------------------------------------------- */

#define FLOOD_IDLE 2000
#define FLOOD_SLOW 100
typedef struct {
    int port;
    volatile int stop;
    int fd[FLOOD_IDLE + FLOOD_SLOW];
    int sent[FLOOD_IDLE + FLOOD_SLOW]; /* HELLO bytes sent (slow ones) */
    size_t reopened, open_now;
} flood;

static int flood_open(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

static void *flood_main(void *arg) {
    flood *fl = arg;
    const int total = FLOOD_IDLE + FLOOD_SLOW;
    /* a client HELLO: u32 length 106 ‖ "LCHS" 2 1 ffffffff ‖ 32-byte key ‖ zeros */
    uint8_t hello[110] = {0, 0, 0, 106, 'L', 'C', 'H', 'S', 2, 1, 0xFF, 0xFF, 0xFF, 0xFF};
    struct pollfd *p = calloc((size_t)total, sizeof *p);
    double next_byte = now_s() + 0.5;
    while (!fl->stop) {
        size_t open_now = 0;
        for (int i = 0; i < total; i++) {
            if (fl->fd[i] < 0) {
                fl->fd[i] = flood_open(fl->port);
                fl->sent[i] = 0;
                if (fl->fd[i] >= 0)
                    fl->reopened++;
            }
            p[i] = (struct pollfd){fl->fd[i], POLLIN, 0};
            open_now += fl->fd[i] >= 0;
        }
        fl->open_now = open_now;
        poll(p, (nfds_t)total, 100);
        for (int i = 0; i < total; i++) {
            if (fl->fd[i] < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            uint8_t b[256];
            ssize_t k = recv(fl->fd[i], b, sizeof b, MSG_DONTWAIT);
            if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR)) {
                close(fl->fd[i]); /* closed by the node: hold it again */
                fl->fd[i] = -1;
            }
        }
        if (now_s() >= next_byte) {
            next_byte += 0.5;
            for (int i = FLOOD_IDLE; i < total; i++) {
                if (fl->fd[i] < 0)
                    continue;
                if (fl->sent[i] >= (int)sizeof hello - 1) { /* never finish: start again */
                    close(fl->fd[i]);
                    fl->fd[i] = -1;
                    continue;
                }
                if (send(fl->fd[i], hello + fl->sent[i], 1, MSG_DONTWAIT | MSG_NOSIGNAL) == 1)
                    fl->sent[i]++;
            }
        }
    }
    for (int i = 0; i < total; i++)
        if (fl->fd[i] >= 0)
            close(fl->fd[i]);
    free(p);
    return NULL;
}

static double rss_mib(pid_t pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    double kb = 0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6))
            kb = atof(line + 6);
    fclose(f);
    return kb / 1024.0;
}

/* replica 0's largest resident memory, sampled every 50 ms */
typedef struct {
    volatile int stop;
    pid_t pid;
    double max;
} sampler;

static void *sample_rss(void *arg) {
    sampler *sm = arg;
    while (!sm->stop) {
        double r = rss_mib(sm->pid);
        if (r > sm->max)
            sm->max = r;
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

typedef struct {
    double tps, p50, p99, el;
    size_t ok, fail;
} phase;

static int cmp_d(const void *a, const void *b);

/* One measurement: `clients` threads over the shared connections for `seconds`. */
static phase measure(ledger_client **cli, int ncli, int clients, double rate, double seconds) {
    worker *ws = calloc((size_t)clients, sizeof *ws);
    pthread_t *th = calloc((size_t)clients, sizeof *th);
    double t0 = now_s();
    for (int i = 0; i < clients; i++) {
        ws[i] = (worker){
            cli[i % ncli], i + 1000, rate > 0 ? rate / clients : 0, t0 + seconds, 0, 0, NULL, 0, 0};
        pthread_create(&th[i], NULL, work, &ws[i]);
    }
    phase ph = {0};
    size_t nl = 0;
    for (int i = 0; i < clients; i++) {
        pthread_join(th[i], NULL);
        ph.ok += ws[i].ok;
        ph.fail += ws[i].fail;
        nl += ws[i].nlat;
    }
    ph.el = now_s() - t0;
    double *all = malloc((nl ? nl : 1) * sizeof *all);
    size_t k = 0;
    for (int i = 0; i < clients; i++) {
        memcpy(all + k, ws[i].lat, ws[i].nlat * sizeof *all);
        k += ws[i].nlat;
        free(ws[i].lat);
    }
    qsort(all, nl, sizeof *all, cmp_d);
    ph.tps = (double)ph.ok / ph.el;
    ph.p50 = nl ? all[nl / 2] : 0;
    ph.p99 = nl ? all[(size_t)((double)nl * 0.99)] : 0;
    free(all);
    free(ws);
    free(th);
    return ph;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    const char *node = NULL;
    int n = 4, clients = 64, sync = 0, period = 2;
    double seconds = 10, rate = 0;
    int quick = 0, do_flood = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            quick = 1;
        else if (!strcmp(argv[i], "--flood"))
            do_flood = 1;
        else if (i + 1 < argc && !strcmp(argv[i], "--node"))
            node = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--replicas"))
            n = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--clients"))
            clients = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--seconds"))
            seconds = atof(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--rate"))
            rate = atof(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--sync"))
            sync = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--block-period"))
            period = atoi(argv[++i]);
        else {
            fprintf(stderr, "bench_ledger: unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    if (!node || n < 4 || n > 64 || clients < 1 || clients > 1024) {
        fprintf(stderr, "bench_ledger: --node PATH required; 4 <= replicas <= 64\n");
        return 2;
    }
    if (quick)
        seconds = seconds > 3 ? 3 : seconds;
    /* the flood holds 2,100 sockets here and as many in replica 0: take the
     * hard descriptor limit (the nodes inherit it) */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        if (do_flood && rl.rlim_cur < FLOOD_IDLE + FLOOD_SLOW + 256) {
            fprintf(stderr, "bench_ledger: --flood needs %d descriptors (ulimit -Hn is %llu)\n",
                    FLOOD_IDLE + FLOOD_SLOW + 256, (unsigned long long)rl.rlim_cur);
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    char dir[] = "/tmp/bench_ledger.XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    int f = (n - 1) / 3;
    int port0 = -1;
    char cfgpath[256];
    snprintf(cfgpath, sizeof cfgpath, "%s/ledger.conf", dir);
    FILE *cf = fopen(cfgpath, "w");
    fprintf(cf, "chain_id %064x\nf %d\nblock_period_ms %d\nmax_block_txs 4000\n", 7, f, period);
    for (int i = 0; i < n; i++) {
        uint8_t seed[32] = {0};
        snprintf((char *)seed, sizeof seed, "bench-node-%d", i);
        ledger_signer *s;
        ledger_signer_from_seed(&s, seed);
        const uint8_t *pk = ledger_signer_public_key(s);
        int port = free_port();
        if (i == 0)
            port0 = port;
        fprintf(cf, "replica %d 127.0.0.1:%d ", i, port);
        for (int j = 0; j < 32; j++)
            fprintf(cf, "%02x", pk[j]);
        fprintf(cf, "\n");
        ledger_signer_free(s);
        char kp[256];
        snprintf(kp, sizeof kp, "%s/node%d.key", dir, i);
        FILE *kf = fopen(kp, "w");
        for (int j = 0; j < 32; j++)
            fprintf(kf, "%02x", seed[j]);
        fclose(kf);
    }
    fclose(cf);
    atexit(kill_nodes);
    for (int i = 0; i < n; i++) {
        char id[16], kp[256], dd[256], sy[4];
        snprintf(id, sizeof id, "%d", i);
        snprintf(kp, sizeof kp, "%s/node%d.key", dir, i);
        snprintf(dd, sizeof dd, "%s/data%d", dir, i);
        snprintf(sy, sizeof sy, "%d", sync);
        pid_t p = fork();
        if (p == 0) {
            int devnull = open("/dev/null", 1);
            dup2(devnull, 1);
            execl(node, node, cfgpath, "--id", id, "--key", kp, "--data", dd, "--sync", sy,
                  (char *)NULL);
            _exit(127);
        }
        pids[npids++] = p;
    }
    ledger_config *cfg;
    if (ledger_config_load(&cfg, cfgpath) != 0)
        return 1;
    ledger_client *cli[16];
    int ncli = clients < 16 ? clients : 16; /* connections shared by the client threads */
    for (int i = 0; i < ncli; i++) {
        int rc = -1;
        for (int t = 0; t < 50 && rc != 0; t++)
            rc = ledger_client_connect(&cli[i], cfg, 2000);
        if (rc != 0) {
            fprintf(stderr, "bench_ledger: cannot connect (%d)\n", rc);
            return 1;
        }
    }
    /* warm-up: one transaction through consensus */
    worker warm = {cli[0], 100000, 0, now_s() + 1.0, 0, 0, NULL, 0, 0};
    work(&warm);
    free(warm.lat);
    double cpu0[64];
    for (int i = 0; i < n; i++)
        cpu0[i] = cpu_of(pids[i]);
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    worker *ws = calloc((size_t)clients, sizeof *ws);
    pthread_t *th = calloc((size_t)clients, sizeof *th);
    double t0 = now_s();
    for (int i = 0; i < clients; i++) {
        ws[i] = (worker){
            cli[i % ncli], i, rate > 0 ? rate / clients : 0, t0 + seconds, 0, 0, NULL, 0, 0};
        pthread_create(&th[i], NULL, work, &ws[i]);
    }
    size_t ok = 0, fail = 0, nl = 0;
    for (int i = 0; i < clients; i++) {
        pthread_join(th[i], NULL);
        ok += ws[i].ok;
        fail += ws[i].fail;
        nl += ws[i].nlat;
    }
    double el = now_s() - t0;
    getrusage(RUSAGE_SELF, &ru1);
    double node_cpu = 0;
    for (int i = 0; i < n; i++)
        node_cpu += cpu_of(pids[i]) - cpu0[i];
    double client_cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
                        (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
                        (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6 +
                        (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
    double *all = malloc((nl ? nl : 1) * sizeof *all);
    size_t k = 0;
    for (int i = 0; i < clients; i++) {
        memcpy(all + k, ws[i].lat, ws[i].nlat * sizeof *all);
        k += ws[i].nlat;
        free(ws[i].lat);
    }
    qsort(all, nl, sizeof *all, cmp_d);
    double p50 = nl ? all[nl / 2] : 0, p99 = nl ? all[(size_t)((double)nl * 0.99)] : 0;
    uint64_t height = 0;
    ledger_client_height(cli[0], 5000, &height);
    printf("{\"suite\": \"ledger\", \"name\": \"run\", \"value\": %.1f, \"unit\": \"tx/s\", "
           "\"replicas\": %d, \"clients\": %d, \"rate\": %.0f, \"seconds\": %.2f, "
           "\"committed\": %zu, \"failed\": %zu, \"p50_ms\": %.2f, \"p99_ms\": %.2f, "
           "\"blocks\": %llu, \"node_cpu_s\": %.2f, \"client_cpu_s\": %.2f, "
           "\"cpu_us_per_tx_nodes\": %.1f, \"cpu_us_per_tx_client\": %.1f, \"sync\": %d}\n",
           (double)ok / el, n, clients, rate, el, ok, fail, p50, p99, (unsigned long long)height,
           node_cpu, client_cpu, ok ? node_cpu * 1e6 / (double)ok : 0,
           ok ? client_cpu * 1e6 / (double)ok : 0, sync);
    fflush(stdout);
    if (do_flood) {
        /* the same load again, now under the flood: both in this run, so the
         * ratio does not depend on the machine's drift between runs */
        phase calm = measure(cli, ncli, clients, rate, seconds);
        flood *fl = calloc(1, sizeof *fl);
        fl->port = port0;
        for (int i = 0; i < FLOOD_IDLE + FLOOD_SLOW; i++)
            fl->fd[i] = -1;
        pthread_t ft;
        pthread_create(&ft, NULL, flood_main, fl);
        /* let the flood build up: every socket opened once */
        for (int t = 0; t < 100 && fl->reopened < FLOOD_IDLE + FLOOD_SLOW; t++) {
            struct timespec ts = {0, 50000000};
            nanosleep(&ts, NULL);
        }
        double rss0 = rss_mib(pids[0]);
        sampler sm = {0, pids[0], rss0};
        pthread_t st;
        pthread_create(&st, NULL, sample_rss, &sm);
        phase hot = measure(cli, ncli, clients, rate, seconds);
        sm.stop = 1;
        pthread_join(st, NULL);
        double rss_max = sm.max;
        size_t held = fl->open_now, reopened = fl->reopened;
        fl->stop = 1;
        pthread_join(ft, NULL);
        free(fl);
        double ratio = calm.p99 > 0 ? hot.p99 / calm.p99 : 0;
        printf("{\"suite\": \"ledger\", \"name\": \"flood\", \"value\": %.3f, \"unit\": "
               "\"ratio\", \"p99_ms_calm\": %.2f, \"p99_ms_flood\": %.2f, \"p50_ms_calm\": "
               "%.2f, \"p50_ms_flood\": %.2f, \"tps_calm\": %.1f, \"tps_flood\": %.1f, "
               "\"failed_calm\": %zu, \"failed_flood\": %zu, \"rss_mib_flood\": %.1f, "
               "\"rss_mib_before\": %.1f, \"flood_idle\": %d, \"flood_slow\": %d, "
               "\"flood_held_at_end\": %zu, \"flood_connects\": %zu, \"rate\": %.0f, "
               "\"clients\": %d, \"replicas\": %d}\n",
               ratio, calm.p99, hot.p99, calm.p50, hot.p50, calm.tps, hot.tps, calm.fail, hot.fail,
               rss_max, rss0, FLOOD_IDLE, FLOOD_SLOW, held, reopened, rate, clients, n);
        fflush(stdout);
    }
    for (int i = 0; i < ncli; i++)
        ledger_client_close(cli[i]);
    ledger_config_free(cfg);
    kill_nodes();
    free(all);
    free(ws);
    free(th);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    return 0;
}
