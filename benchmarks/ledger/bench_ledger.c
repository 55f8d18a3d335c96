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
 * node runs in one process group that is killed at the end. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
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

static pid_t pids[64];
static int npids;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    socklen_t len = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &len);
    close(fd);
    return ntohs(sa.sin_port);
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

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    const char *node = NULL;
    int n = 4, clients = 64, sync = 0, period = 2;
    double seconds = 10, rate = 0;
    int quick = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            quick = 1;
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
    struct rlimit rl = {4096, 4096};
    setrlimit(RLIMIT_NOFILE, &rl);
    signal(SIGPIPE, SIG_IGN);
    char dir[] = "/tmp/bench_ledger.XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    int f = (n - 1) / 3;
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
        fprintf(cf, "replica %d 127.0.0.1:%d ", i, free_port());
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
