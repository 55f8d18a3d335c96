/* Helpers for tests that run real fedshare-ledger-node processes: replica i
 * of a test keeps its files in the test's directory DIR (DIR/data<i>,
 * DIR/key<i>, DIR/log<i>, DIR/status<i>, and for the fault build
 * DIR/fault<i>). Every wait is bounded and polls a state the node states
 * (its exit, its status file, its log, a file it writes); a wait that runs
 * out fails the test. Include after <cmocka.h>. */
#ifndef PROCS_H
#define PROCS_H

#include <signal.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ledger.h"

#define PROCS_POLL_PER_SECOND 50 /* 20 ms a poll */
#define PROCS_EXTRA_MAX       8

static inline void procs_poll_pause(void) {
    struct timespec d = {0, 1000 * 1000 * 1000 / PROCS_POLL_PER_SECOND};
    nanosleep(&d, NULL);
}

/* out = DIR/<name><i> */
static inline void procs_path(char *out, size_t n, const char *dir, const char *name, int i) {
    snprintf(out, n, "%s/%s%d", dir, name, i);
}

/* Start replica i of the consortium in conf: prog --id i --data DIR/data<i>
 * --key DIR/key<i> --sync 0 --block-period 5 --view-timeout 1000
 * --status-file DIR/status<i>, then the NULL-terminated extra arguments
 * (NULL for none); stderr goes to DIR/log<i> (appended), stdout nowhere. */
static inline pid_t procs_spawn(const char *prog, const char *conf, const char *dir, int i,
                                const char *const *extra) {
    char id[8], data[128], key[128], logf[128], status[128];
    snprintf(id, sizeof id, "%d", i);
    procs_path(data, sizeof data, dir, "data", i);
    procs_path(key, sizeof key, dir, "key", i);
    procs_path(logf, sizeof logf, dir, "log", i);
    procs_path(status, sizeof status, dir, "status", i);
    const char *common[] = {
        prog,     conf, "--id",           id,  "--data",         data,   "--key",         key,
        "--sync", "0",  "--block-period", "5", "--view-timeout", "1000", "--status-file", status};
    const size_t ncommon = sizeof common / sizeof common[0];
    const char *argv[sizeof common / sizeof common[0] + PROCS_EXTRA_MAX + 1];
    memcpy(argv, common, sizeof common);
    size_t argc = ncommon;
    for (size_t k = 0; extra && extra[k]; k++) {
        assert_true(k < PROCS_EXTRA_MAX);
        argv[argc++] = extra[k];
    }
    argv[argc] = NULL;
    pid_t p = fork();
    assert_true(p >= 0);
    if (p == 0) {
        /* a test killed mid-way (a meson timeout) takes its nodes with it:
         * orphans would keep ports and CPU for the rest of the run */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() == 1)
            _exit(127);
        FILE *lf = freopen(logf, "a", stderr);
        FILE *of = freopen("/dev/null", "w", stdout);
        (void)lf;
        (void)of;
        execv(prog, (char *const *)argv);
        _exit(127);
    }
    return p;
}

/* Wait (bounded) for the process *pid to exit; then *pid = 0 and the exit
 * status (128 + the signal when a signal ended it); -1 on timeout. */
static inline int procs_wait_exit(pid_t *pid, int seconds) {
    for (int k = 0; k < seconds * PROCS_POLL_PER_SECOND; k++) {
        int st;
        pid_t r = waitpid(*pid, &st, WNOHANG);
        if (r == *pid) {
            *pid = 0;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        procs_poll_pause();
    }
    return -1;
}

/* SIGTERM to a running process (*pid > 0); it must exit with status 0. */
static inline void procs_stop(pid_t *pid) {
    if (*pid <= 0)
        return;
    kill(*pid, SIGTERM);
    assert_int_equal(procs_wait_exit(pid, 60), 0);
}

/* Bounded wait until replica i's status file ("HEIGHT VIEW ...") says a
 * height >= h. With view non-NULL the file must hold both numbers and the
 * view is returned in *view. */
static inline void procs_wait_status(const char *dir, int i, uint64_t h, int seconds,
                                     uint64_t *view) {
    char status[128];
    procs_path(status, sizeof status, dir, "status", i);
    unsigned long long sh = 0, sv = 0;
    for (int k = 0; k < seconds * PROCS_POLL_PER_SECOND; k++) {
        FILE *f = fopen(status, "r");
        if (f) {
            if (fscanf(f, "%llu %llu", &sh, &sv) < (view ? 2 : 1))
                sh = 0;
            fclose(f);
        }
        if (sh >= h)
            break;
        procs_poll_pause();
    }
    assert_true(sh >= h);
    if (view)
        *view = sv;
}

/* 1 when a line of replica i's log holds the text. */
static inline int procs_log_has(const char *dir, int i, const char *text) {
    char logf[128], line[1024];
    procs_path(logf, sizeof logf, dir, "log", i);
    FILE *f = fopen(logf, "r");
    if (!f)
        return 0;
    int found = 0;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, text) != NULL;
    fclose(f);
    return found;
}

/* Write n bytes of text to path (replacing it). */
static inline void procs_write(const char *path, const char *text, size_t n) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, n, f), n);
    fclose(f);
}

/* DIR/key<i>: the replica's 32-byte seed in hex, as the node reads it. */
static inline void procs_write_key(const char *dir, int i, const uint8_t seed[32]) {
    char kp[128], sh[65];
    procs_path(kp, sizeof kp, dir, "key", i);
    sodium_bin2hex(sh, sizeof sh, seed, 32);
    procs_write(kp, sh, strlen(sh));
}

/* Remove the test's directory, unless LC_KEEP_DIR is set (it keeps the
 * nodes' logs for a look). */
static inline void procs_remove_dir(const char *dir) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (!getenv("LC_KEEP_DIR"))
        assert_int_equal(system(cmd), 0);
}

/* Submit through the client (waiting up to 60 s) and return the receipt;
 * the transaction is freed. */
static inline ledger_receipt procs_submit(ledger_client *cl, ledger_tx *tx) {
    ledger_receipt r;
    memset(&r, 0, sizeof r);
    assert_int_equal(ledger_client_submit(cl, tx, 0, 60000, &r, NULL), 0);
    ledger_tx_free(tx);
    return r;
}

/* Did replica j sign block h's certificate (read through the client, which
 * verifies it against the membership in force at h)? The block's view in
 * *view when view is non-NULL. */
static inline int procs_signed_by(ledger_client *cl, uint64_t h, uint16_t j, uint64_t *view) {
    ledger_block *b;
    assert_int_equal(ledger_client_block(cl, h, 30000, &b), 0);
    const ledger_cert *c = ledger_block_cert(b);
    int found = 0;
    for (size_t i = 0; i < ledger_cert_count(c); i++) {
        uint16_t r;
        assert_int_equal(ledger_cert_entry(c, i, &r, NULL), 0);
        found |= r == j;
    }
    if (view)
        *view = ledger_block_view(b);
    ledger_block_free(b);
    return found;
}

/* A fresh directory /tmp/<name>.XXXXXX, its path in dir. */
static inline void procs_tmpdir(char dir[64], const char *name) {
    snprintf(dir, 64, "/tmp/%s.XXXXXX", name);
    assert_non_null(mkdtemp(dir));
}

/* The head of a consortium file in text: "chain_id" with a random chain id,
 * "f 1", then the lines in rest; returns its length. */
static inline size_t procs_config_head(char *text, size_t n, const char *rest) {
    uint8_t chain[32];
    char hex[65];
    randombytes_buf(chain, 32);
    sodium_bin2hex(hex, sizeof hex, chain, 32);
    int w = snprintf(text, n, "chain_id %s\nf 1\n%s", hex, rest);
    assert_true(w > 0 && (size_t)w < n);
    return (size_t)w;
}

/* Replica i's key: a random seed (in seed and, in hex, in DIR/key<i>), its
 * signer in *sg and its public key in hex. */
static inline void procs_replica_key(const char *dir, int i, uint8_t seed[32], ledger_signer **sg,
                                     char hex[65]) {
    randombytes_buf(seed, 32);
    assert_int_equal(ledger_signer_from_seed(sg, seed), 0);
    sodium_bin2hex(hex, 65, ledger_signer_public_key(*sg), 32);
    procs_write_key(dir, i, seed);
}

/* DIR/consortium.conf (its path in conf) holds the off bytes of text; the
 * configuration parsed from them in *cfg, its genesis membership in *m. */
static inline void procs_write_config(char conf[128], const char *dir, const char *text, size_t off,
                                      ledger_config **cfg, ledger_membership **m) {
    snprintf(conf, 128, "%s/consortium.conf", dir);
    procs_write(conf, text, off);
    assert_int_equal(ledger_config_parse(cfg, text, off), 0);
    assert_int_equal(ledger_config_membership(*cfg, m), 0);
}

/* The client's signer: seed 0xA1 repeated. */
static inline ledger_signer *procs_alice(void) {
    uint8_t seed[32];
    memset(seed, 0xA1, sizeof seed);
    ledger_signer *sg = NULL;
    assert_int_equal(ledger_signer_from_seed(&sg, seed), 0);
    return sg;
}

/* argv[1] must name the node program (usage says which); SIGPIPE is
 * ignored (a node may close a connection first). 0 when it is missing. */
static inline int procs_args(int argc, char **argv, const char *usage) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s %s\n", argv[0], usage);
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);
    return 1;
}

/* A membership act (op, payload p of n bytes) signed by sg with the next of
 * its nonces, submitted; the receipt. */
static inline ledger_receipt procs_member_act(ledger_client *cl, ledger_signer *sg, uint64_t *nonce,
                                              uint16_t op, const uint8_t *p, size_t n) {
    ledger_tx *tx;
    assert_int_equal(ledger_tx_create_signed(&tx, sg, op, ++*nonce, p, n), 0);
    return procs_submit(cl, tx);
}

/* The membership change open now, read through the client. */
static inline ledger_member_change procs_open_change(ledger_client *cl) {
    uint8_t *v;
    size_t vl;
    assert_int_equal(ledger_client_get(cl, (const uint8_t *)LEDGER_MEMBER_OPEN_KEY,
                                       sizeof LEDGER_MEMBER_OPEN_KEY - 1, 30000, &v, &vl),
                     0);
    ledger_member_change c;
    assert_int_equal(ledger_member_change_decode(&c, v, vl), 0);
    ledger_free(v);
    return c;
}

/* The end of a test: the client closed, the n processes stopped (each must
 * exit with status 0), the signers and the configuration freed, the
 * directory removed (procs_remove_dir). */
static inline void procs_close(ledger_client *cl, pid_t *pid, ledger_signer **rep, int n,
                               ledger_signer *alice, ledger_membership *m, ledger_config *cfg,
                               const char *dir) {
    ledger_client_close(cl);
    for (int i = 0; i < n; i++) {
        procs_stop(&pid[i]);
        ledger_signer_free(rep[i]);
    }
    ledger_signer_free(alice);
    ledger_membership_free(m);
    ledger_config_free(cfg);
    procs_remove_dir(dir);
}

#endif
