/* fedshare-node: run one consortium node (a PBFT replica with the contracts).
 *
 *   fedshare-node CONFIG [--id N] [--data DIR] [--sync 0|1] [--block-period MS]
 *                        [--metrics-port P] [--status-file FILE]
 *                        [--blob-quota-mib N] [--blob-limit-mib N]
 *
 * Prints "ready ID METRICS_PORT HEIGHT" once serving (ID −1 when the file names it), then runs
 * until SIGTERM or SIGINT. With --status-file the file is rewritten every 100 ms with "HEIGHT VIEW
 * HEADER_HASH STATE_ROOT" (hex). Exit status: 0 after a clean stop, 2 on a usage or configuration
 * error, 3 when the node cannot start (the message says why, e.g. the block at which a stored chain
 * fails). The node's messages go to stderr through its log callback (LC_DEBUG set: block fetches
 * too). */
#define _GNU_SOURCE /* sigtimedwait */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fedshare.h"
#include "fedshare/node.h"

static void hex(char *out, const uint8_t *p) {
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", p[i]);
}

static void write_status(fedshare_node *node, const char *path) {
    ledger_tip t;
    ledger_node *r = fedshare_node_replica(node);
    if (ledger_node_tip(r, &t) != LEDGER_OK)
        return;
    char tmp[1024], hh[65], sr[65];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    hex(hh, t.hash);
    hex(sr, t.state_root);
    fprintf(f, "%llu %llu %s %s\n", (unsigned long long)t.height,
            (unsigned long long)ledger_node_view(r), hh, sr);
    fclose(f);
    rename(tmp, path);
}

/* The libraries print nothing: this program sends the node's messages to stderr. */
static void log_stderr(void *ctx, int level, const char *message) {
    (void)ctx;
    (void)level;
    fprintf(stderr, "%s\n", message);
}

static int usage(void) {
    fprintf(stderr, "usage: fedshare-node CONFIG [--id N] [--data DIR] [--sync 0|1] "
                    "[--block-period MS] [--metrics-port P] [--status-file FILE] "
                    "[--blob-quota-mib N] [--blob-limit-mib N]\n");
    return 2;
}

static int parse_uint(const char *s, long max, long *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < 0 || v > max)
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
        return usage();
    fedshare_node_options o = FEDSHARE_NODE_OPTIONS_INIT;
    o.log = log_stderr;
    o.log_level = getenv("LC_DEBUG") ? LEDGER_LOG_DEBUG : LEDGER_LOG_INFO;
    const char *status = NULL;
    for (int i = 2; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long x;
        if (!v)
            return usage();
        if (!strcmp(a, "--id") && !parse_uint(v, 1023, &x))
            o.id = (int32_t)x;
        else if (!strcmp(a, "--data"))
            o.data_dir = v;
        else if (!strcmp(a, "--sync") && !parse_uint(v, 1, &x))
            o.sync = x ? 1 : 2;
        else if (!strcmp(a, "--block-period") && !parse_uint(v, 600000, &x))
            o.block_period_ms = (uint32_t)x;
        else if (!strcmp(a, "--metrics-port") && !parse_uint(v, 65535, &x))
            o.metrics_port = (int32_t)x;
        else if (!strcmp(a, "--blob-quota-mib") && !parse_uint(v, 4194304, &x))
            o.blob_quota_mib = (uint32_t)x;
        else if (!strcmp(a, "--blob-limit-mib") && !parse_uint(v, 4194304, &x))
            o.blob_limit_mib = (uint32_t)x;
        else if (!strcmp(a, "--status-file"))
            status = v;
        else
            return usage();
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    fedshare_node *node;
    int rc = fedshare_node_start(&node, argv[1], &o);
    if (rc != FEDSHARE_OK) {
        fprintf(stderr, "fedshare-node: cannot start: %s (%d)\n", fedshare_strerror(rc), rc);
        return rc == FEDSHARE_E_CONFIG || rc == LEDGER_E_CONFIG || rc == FEDSHARE_E_IO ? 2 : 3;
    }
    printf("ready %d %u %llu\n", (int)o.id, fedshare_node_metrics_port(node),
           (unsigned long long)ledger_node_height(fedshare_node_replica(node)));
    fflush(stdout);
    struct timespec tick = {0, 100000000};
    while (sigtimedwait(&set, NULL, &tick) < 0)
        if (status)
            write_status(node, status);
    fedshare_node_stop(node);
    return 0;
}
