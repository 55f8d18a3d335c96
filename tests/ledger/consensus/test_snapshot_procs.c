/* Snapshot catch-up with real node processes (docs/ledger-protocol.md
 * §Snapshot catch-up): four fedshare-ledger-node processes (genesis 0…3,
 * K = 4) write 1,000 blocks of history; replica 4 starts with an empty
 * store and catches up from a snapshot offered alike by f+1 replicas. The
 * first time it is killed (-9, by the fault build's "snapshot_kill 2")
 * right after staging two chunks; restarted, reaching only replicas 0 and 1,
 * which each serve one chunk with a flipped byte ("snapshot_corrupt 1"), it
 * refuses what does not verify, asks the other, resumes at chunk 2,
 * installs the snapshot, fetches the blocks after it and the headers with
 * certificates below it (no bodies). Then it is added
 * by 3 of 4, replica 3 stops, and a block that needs its vote commits.
 * Its store says it started from a snapshot (ledger_store_snapshot_base),
 * holds the same tip as the others, verifies its links, and refuses a
 * replay from genesis (LEDGER_E_SNAPSHOT); the others replay.
 *
 * argv[1]: the fault-injection build of fedshare-ledger-node. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ledger.h"
#include "../../fixtures/free_port.h"
#include "procs.h"

#define NREP    5
#define HISTORY 1000

static const char *node_prog;

typedef struct {
    char dir[64];
    uint8_t seeds[NREP][32];
    char addr[NREP][32];
    char conf[128];
    ledger_config *cfg;
    ledger_membership *m;
    pid_t pid[NREP];
    ledger_signer *rep[NREP];
    ledger_signer *alice;
    uint64_t alice_nonce, rep_nonce[NREP];
    ledger_client *cl;
} procs;

static void spawn(procs *t, int i) {
    char fault[128];
    procs_path(fault, sizeof fault, t->dir, "fault", i);
    const char *extra[] = {"--fault-file", fault, NULL};
    t->pid[i] = procs_spawn(node_prog, t->conf, t->dir, i, extra);
}

static int wait_exit(procs *t, int i, int seconds) {
    return procs_wait_exit(&t->pid[i], seconds);
}

static void stop(procs *t, int i) {
    procs_stop(&t->pid[i]);
}

/* Bounded wait until replica i's status file says height >= h. */
static void wait_status(procs *t, int i, uint64_t h) {
    procs_wait_status(t->dir, i, h, 120, NULL);
}

/* Does replica i's log hold this text? */
static int log_has(procs *t, int i, const char *text) {
    return procs_log_has(t->dir, i, text);
}

/* Bounded wait until replica i's log holds this text (a state the node states). */
static void wait_log(procs *t, int i, const char *text) {
    for (int k = 0; k < 120 * PROCS_POLL_PER_SECOND && !log_has(t, i, text); k++)
        procs_poll_pause();
    assert_true(log_has(t, i, text));
}

/* Bounded wait until a file exists (a node's acknowledgement of its faults). */
static void wait_file(const char *path) {
    for (int k = 0; k < 60 * PROCS_POLL_PER_SECOND && access(path, F_OK) != 0; k++)
        procs_poll_pause();
    assert_int_equal(access(path, F_OK), 0);
}

static void write_file(const char *path, const char *text) {
    procs_write(path, text, strlen(text));
}

static void procs_init(procs *t) {
    memset(t, 0, sizeof *t);
    procs_tmpdir(t->dir, "lc_snapshot_procs");
    char text[4096], hex[65];
    size_t off = procs_config_head(text, sizeof text,
                                   "genesis_replicas 4\nblock_period_ms 5\n"
                                   "view_timeout_ms 1000\ncheckpoint_every 4\n");
    for (int i = 0; i < NREP; i++) {
        procs_replica_key(t->dir, i, t->seeds[i], &t->rep[i], hex);
        snprintf(t->addr[i], sizeof t->addr[i], "127.0.0.1:%d", test_free_port());
        off += (size_t)snprintf(text + off, sizeof text - off, "replica %d %s %s\n", i, t->addr[i],
                                hex);
    }
    procs_write_config(t->conf, t->dir, text, off, &t->cfg, &t->m);
    t->alice = procs_alice();
    for (int i = 0; i < 4; i++)
        spawn(t, i);
    assert_int_equal(ledger_client_connect(&t->cl, t->cfg, 30000), 0);
}

/* LC_KEEP_DIR=1 keeps the nodes' logs for a look. */
static void procs_free(procs *t) {
    procs_close(t->cl, t->pid, t->rep, NREP, t->alice, t->m, t->cfg, t->dir);
}

static ledger_receipt submit(procs *t, ledger_tx *tx) {
    return procs_submit(t->cl, tx);
}

/* A put of a 1 KiB value (so the state spans several snapshot chunks). */
static uint64_t put(procs *t) {
    char key[32], val[1024];
    uint8_t *p;
    size_t n;
    uint64_t nonce = ++t->alice_nonce;
    snprintf(key, sizeof key, "k%llu", (unsigned long long)nonce);
    memset(val, 'a' + (int)(nonce % 26), sizeof val);
    assert_int_equal(ledger_kv_put_payload((const uint8_t *)key, strlen(key), (const uint8_t *)val,
                                           sizeof val, &p, &n),
                     0);
    ledger_tx *tx;
    assert_int_equal(ledger_tx_create_signed(&tx, t->alice, LEDGER_KV_OP_PUT, nonce, p, n), 0);
    ledger_free(p);
    ledger_receipt r = submit(t, tx);
    assert_int_equal(r.status, 0);
    return r.height;
}

static ledger_receipt member_act(procs *t, int i, uint16_t op, const uint8_t *p, size_t n) {
    return procs_member_act(t->cl, t->rep[i], &t->rep_nonce[i], op, p, n);
}

static int signed_by(procs *t, uint64_t h, uint16_t j) {
    return procs_signed_by(t->cl, h, j, NULL);
}

static void test_join_from_snapshot(void **state) {
    (void)state;
    procs *t = calloc(1, sizeof *t);
    assert_non_null(t);
    procs_init(t);
    uint64_t top = 0;
    while (top < HISTORY)
        top = put(t);

    /* replica 4, empty store, is killed (-9) right after staging two chunks */
    char fault[128];
    snprintf(fault, sizeof fault, "%s/fault4", t->dir);
    write_file(fault, "snapshot_kill 2\n");
    spawn(t, 4);
    assert_int_equal(wait_exit(t, 4, 120), 128 + SIGKILL);
    assert_true(log_has(t, 4, "catching up from a snapshot"));
    assert_false(log_has(t, 4, "installed a snapshot"));

    /* restarted: replicas 0 and 1 now serve their first chunk with a flipped
     * byte, and replica 4 reaches only them (2 and 3 blocked): whichever it
     * asks first, a bad chunk is refused or the digest fails at the end
     * (everything staged dropped), and the other is asked; the import still
     * completes from chunks that verify */
    for (int i = 0; i < 2; i++) {
        char fi[128], ack[140];
        snprintf(fi, sizeof fi, "%s/fault%d", t->dir, i);
        snprintf(ack, sizeof ack, "%s.applied", fi);
        write_file(fi, "snapshot_corrupt 1\n");
        wait_file(ack);
    }
    write_file(fault, "block 2 3\n");
    spawn(t, 4);
    wait_status(t, 4, top);
    assert_true(log_has(t, 4, "resuming the snapshot import at chunk 2"));
    assert_true(log_has(t, 4, "installed a snapshot at height"));
    assert_true(log_has(t, 4, "refused")); /* a flipped byte was caught */
    /* links to 2 and 3 again */
    char ack4[140];
    snprintf(ack4, sizeof ack4, "%s.applied", fault);
    unlink(ack4);
    write_file(fault, "seed 1\n");
    /* the node re-reads the file when its mtime (seconds) changes: make sure it does */
    struct timespec ts[2] = {{0, UTIME_OMIT}, {time(NULL) + 5, 0}};
    assert_int_equal(utimensat(AT_FDCWD, fault, ts, 0), 0);
    wait_file(ack4);
    /* then the headers and certificates below the base, downwards */
    wait_log(t, 4, "holds every header and certificate below its snapshot");

    /* 4 → 5 by 3 of 4; then with replica 3 stopped a block needs replica 4 */
    uint8_t *p;
    size_t n;
    assert_int_equal(ledger_member_propose_payload(LEDGER_MEMBER_ADD_REPLICA,
                                                   ledger_signer_public_key(t->rep[4]), t->addr[4],
                                                   &p, &n),
                     0);
    assert_int_equal(member_act(t, 0, LEDGER_OP_MEMBER_PROPOSE, p, n).status, 0);
    ledger_free(p);
    ledger_member_change c = procs_open_change(t->cl);
    uint8_t ap[8];
    assert_int_equal(ledger_member_approve_payload(c.id, ap), 0);
    assert_int_equal(member_act(t, 1, LEDGER_OP_MEMBER_APPROVE, ap, 8).status, 0);
    ledger_receipt r = member_act(t, 2, LEDGER_OP_MEMBER_APPROVE, ap, 8);
    assert_int_equal(r.status, 0);
    uint64_t e1 = r.height + LEDGER_MEMBER_DELAY;
    while (put(t) <= e1)
        ;
    wait_status(t, 4, e1);
    stop(t, 3);
    uint64_t hv = put(t);
    assert_true(hv >= e1);
    assert_true(signed_by(t, hv, 4));

    /* the stores: replica 4 started from a snapshot and agrees with the others */
    for (int i = 0; i < NREP; i++)
        stop(t, i);
    ledger_store *s[NREP];
    for (int i = 0; i < NREP; i++) {
        char data[128];
        snprintf(data, sizeof data, "%s/data%d", t->dir, i);
        uint64_t bad = 99;
        assert_int_equal(ledger_store_open(&s[i], data, t->m, ledger_kv_app(), NULL, &bad), 0);
    }
    uint64_t base = ledger_store_snapshot_base(s[4]);
    assert_true(base >= HISTORY - 8 && base % 4 == 0); /* a checkpoint height, not replayed */
    assert_true(ledger_store_height(s[4]) >= hv);
    for (uint64_t h = base; h <= hv; h++) {
        uint8_t a[32], b[32];
        assert_int_equal(ledger_store_header(s[0], h, NULL, NULL, a), 0);
        assert_int_equal(ledger_store_header(s[4], h, NULL, NULL, b), 0);
        assert_memory_equal(a, b, 32);
    }
    uint64_t lowest = 0;
    assert_int_equal(ledger_store_snapshot_headers(s[4], &lowest), 0);
    assert_int_equal(lowest, 1);
    for (uint64_t h = 1; h < base; h += 97) { /* headers below the base, no bodies */
        uint8_t a[32], b[32];
        assert_int_equal(ledger_store_header(s[0], h, NULL, NULL, a), 0);
        assert_int_equal(ledger_store_header(s[4], h, NULL, NULL, b), 0);
        assert_memory_equal(a, b, 32);
    }
    ledger_block *blk = NULL;
    assert_int_equal(ledger_store_block(s[4], base - 1, &blk), LEDGER_E_SNAPSHOT);
    uint64_t bad = 0;
    assert_int_equal(ledger_verify_chain(s[4], LEDGER_VERIFY_LINKS, &bad), 0);
    assert_int_equal(ledger_verify_chain(s[4], LEDGER_VERIFY_FULL, &bad), LEDGER_E_SNAPSHOT);
    assert_int_equal(ledger_verify_chain(s[0], LEDGER_VERIFY_FULL, &bad), 0);
    assert_int_equal(ledger_store_snapshot_base(s[0]), 0);
    for (int i = 0; i < NREP; i++)
        ledger_store_close(s[i]);
    procs_free(t);
    free(t);
}

int main(int argc, char **argv) {
    if (!procs_args(argc, argv, "FEDSHARE_LEDGER_NODE_FAULT"))
        return 2;
    node_prog = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_join_from_snapshot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
