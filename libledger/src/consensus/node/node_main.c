/* fedshare-ledger-node: run one replica of the reference key-value ledger.
 *
 *   fedshare-ledger-node CONFIG [--id N] [--data DIR] [--key FILE]
 *                        [--sync 0|1] [--block-period MS] [--max-block-txs N]
 *                        [--view-timeout MS] [--fault-file FILE]
 *                        [--status-file FILE] [--app-version-max N]
 *
 * CONFIG is the consortium file (ledger/config.h); the options override its
 * node settings. Prints "ready ID ADDRESS HEIGHT" once serving, then runs
 * until SIGTERM or SIGINT. With --status-file, the file is rewritten
 * (atomically) every 100 ms with "HEIGHT VIEW HEADER_HASH STATE_ROOT" (hex). Exit status: 0 after a
 * clean stop, 2 on a usage or configuration error, 3 when the node cannot start (the message says
 * why, e.g. the block at which a stored chain fails verification), 4 when it halted because an
 * upgrade puts in force an application version this build lacks (the message names the upgrade
 * and the version; no block at or past its height was executed). --app-version-max N makes the
 * reference key-value application claim versions 1 … N (default 1; its rules are the same in every
 * version), to rehearse upgrades (docs/ledger-protocol.md §Upgrades). The node's messages (view
 * changes, failed commits) go to stderr through its log callback; with LC_DEBUG set in the
 * environment, block fetches too. */
#define _GNU_SOURCE /* sigtimedwait */
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger.h"

static int read_seed(const char *path, uint8_t seed[32]) {
    FILE *f = fopen(path, "r");
    char hex[80] = {0};
    if (!f)
        return -1;
    size_t k = fread(hex, 1, 64, f);
    fclose(f);
    if (k != 64)
        return -1;
    for (int i = 0; i < 32; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        seed[i] = (uint8_t)v;
    }
    return 0;
}

static void hex(char *out, const uint8_t *p) {
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", p[i]);
}

static void write_status(ledger_node *node, const char *path) {
    ledger_tip t;
    if (ledger_node_tip(node, &t) != LEDGER_OK)
        return;
    char tmp[1024], hh[65], sr[65];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    hex(hh, t.hash);
    hex(sr, t.state_root);
    fprintf(f, "%llu %llu %s %s\n", (unsigned long long)t.height,
            (unsigned long long)ledger_node_view(node), hh, sr);
    fclose(f);
    rename(tmp, path);
}

/* The library prints nothing: this program sends the node's messages to stderr. */
static void log_stderr(void *ctx, int level, const char *message) {
    (void)ctx;
    (void)level;
    fprintf(stderr, "%s\n", message);
}

static int usage(void) {
    fprintf(stderr, "usage: fedshare-ledger-node CONFIG [--id N] [--data DIR] [--key FILE] "
                    "[--sync 0|1] [--block-period MS] [--max-block-txs N] [--view-timeout MS] "
                    "[--fault-file FILE] [--status-file FILE] [--app-version-max N]\n");
    return 2;
}

int main(int argc, char **argv) {
    if (argc < 2)
        return usage();
    ledger_config *cfg;
    char err[LEDGER_CONFIG_ERROR_BYTES];
    int rc = ledger_config_load_ex(&cfg, argv[1], err, sizeof err);
    if (rc != LEDGER_OK) {
        if (err[0])
            fprintf(stderr, "ledger config: %s\n", err);
        fprintf(stderr, "fedshare-ledger-node: %s: %s\n", argv[1], ledger_strerror(rc));
        return 2;
    }
    /* the node may hold max_pending_conns + max_clients + 3n sockets, above the
     * usual soft limit of 1,024: take the hard limit */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    ledger_node_options o;
    ledger_node_options_init(&o);
    o.log = log_stderr;
    o.log_level = getenv("LC_DEBUG") ? LEDGER_LOG_DEBUG : LEDGER_LOG_INFO;
    uint8_t seed[32];
    const char *status = NULL;
    ledger_app kv = *ledger_kv_app();
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) {
            ledger_config_free(cfg);
            return usage();
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--id"))
            o.id = atoi(v);
        else if (!strcmp(a, "--data"))
            o.data_dir = v;
        else if (!strcmp(a, "--key")) {
            if (read_seed(v, seed) != 0) {
                fprintf(stderr, "fedshare-ledger-node: %s: not a 64-hex seed\n", v);
                ledger_config_free(cfg);
                return 2;
            }
            o.seed = seed;
        } else if (!strcmp(a, "--sync"))
            o.sync = atoi(v) ? 1 : 2;
        else if (!strcmp(a, "--block-period"))
            o.block_period_ms = (uint32_t)atoi(v);
        else if (!strcmp(a, "--max-block-txs"))
            o.max_block_txs = (uint32_t)atoi(v);
        else if (!strcmp(a, "--view-timeout"))
            o.view_timeout_ms = (uint32_t)atoi(v);
        else if (!strcmp(a, "--fault-file"))
            o.fault_file = v;
        else if (!strcmp(a, "--status-file"))
            status = v;
        else if (!strcmp(a, "--app-version-max")) {
            kv.app_version_max = (uint32_t)strtoul(v, NULL, 10);
            if (kv.app_version_max == 0) {
                ledger_config_free(cfg);
                return usage();
            }
            o.app = &kv;
        } else {
            ledger_config_free(cfg);
            return usage();
        }
    }
    /* block the stop signals in every thread; this one waits for them */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    ledger_node *node;
    rc = ledger_node_start(&node, cfg, &o);
    if (rc != LEDGER_OK) {
        fprintf(stderr, "fedshare-ledger-node: cannot start: %s (%d)\n", ledger_strerror(rc), rc);
        ledger_config_free(cfg);
        return rc == LEDGER_E_CONFIG ? 2 : 3;
    }
    int id = o.id >= 0 ? o.id : ledger_config_self(cfg);
    printf("ready %d %s %llu\n", id, ledger_config_address(cfg, (size_t)id),
           (unsigned long long)ledger_node_height(node));
    fflush(stdout);
    struct timespec tick = {0, 100000000};
    int code = 0;
    while (sigtimedwait(&set, NULL, &tick) < 0) {
        if (status)
            write_status(node, status);
        ledger_upgrade_info up;
        if (ledger_node_halted(node, &up) == LEDGER_E_UPGRADE_NEEDED) {
            fprintf(stderr,
                    "fedshare-ledger-node: UPGRADE NEEDED: upgrade \"%s\" puts application "
                    "version %u in force at height %llu; this build lacks it (halted at height "
                    "%llu)\n",
                    up.name, up.version, (unsigned long long)up.height,
                    (unsigned long long)ledger_node_height(node));
            code = 4;
            break;
        }
    }
    ledger_node_stop(node);
    ledger_config_free(cfg);
    return code;
}
