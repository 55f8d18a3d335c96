/* The upgrade channel with real node processes: four fedshare-ledger-node
 * processes, three built "with" application version 2 (--app-version-max 2)
 * and one without. A plan approved by 2 of 4 expires; a plan approved and then
 * cancelled by 3 of 4 before its height does not activate; a plan approved by 3
 * of 4 switches every node that has the version at H (blocks below H name
 * version 1, from H on version 2), and the node without it halts with exit
 * status 4 having executed nothing at or past H. Restarted with the version,
 * it catches up, and every store replays from genesis to the same roots.
 *
 * argv[1]: the fedshare-ledger-node program. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ledger.h"
#include "../../fixtures/free_port.h"
#include "procs.h"

static const char *node_prog;

typedef struct {
    char dir[64];
    uint8_t seeds[4][32];
    char conf[128];
    ledger_config *cfg;
    ledger_membership *m;
    pid_t pid[4];
    ledger_signer *rep[4];
    ledger_signer *alice;
    uint64_t alice_nonce;
    uint64_t rep_nonce[4];
    uint32_t version; /* application version the puts are built for */
    int refused_for_version;
    ledger_client *cl;
} procs;

static void spawn(procs *t, int i, uint32_t app_max) {
    char max[16];
    snprintf(max, sizeof max, "%u", app_max);
    const char *extra[] = {"--app-version-max", max, NULL};
    t->pid[i] = procs_spawn(node_prog, t->conf, t->dir, i, extra);
}

/* Wait for process i to exit (bounded); returns its exit status, -1 on timeout. */
static int wait_exit(procs *t, int i, int seconds) {
    return procs_wait_exit(&t->pid[i], seconds);
}

static int running(procs *t, int i) {
    int st;
    return t->pid[i] > 0 && waitpid(t->pid[i], &st, WNOHANG) == 0;
}

static void stop(procs *t, int i) {
    procs_stop(&t->pid[i]);
}

static void procs_init(procs *t, const uint32_t app_max[4]) {
    memset(t, 0, sizeof *t);
    procs_tmpdir(t->dir, "lc_upgrade_procs");
    char text[2048], hex[65];
    size_t off = procs_config_head(text, sizeof text, "block_period_ms 5\nview_timeout_ms 1000\n");
    for (int i = 0; i < 4; i++) {
        procs_replica_key(t->dir, i, t->seeds[i], &t->rep[i], hex);
        off += (size_t)snprintf(text + off, sizeof text - off, "replica %d 127.0.0.1:%d %s\n", i,
                                test_free_port(), hex);
    }
    procs_write_config(t->conf, t->dir, text, off, &t->cfg, &t->m);
    t->alice = procs_alice();
    for (int i = 0; i < 4; i++)
        spawn(t, i, app_max[i]);
    assert_int_equal(ledger_client_connect(&t->cl, t->cfg, 30000), 0);
    t->version = 1;
}

/* LC_KEEP_DIR=1 keeps the nodes' logs for a look. */
static void procs_free(procs *t) {
    procs_close(t->cl, t->pid, t->rep, 4, t->alice, t->m, t->cfg, t->dir);
}

/* Submit and return the receipt (status and height). */
static ledger_receipt submit(procs *t, ledger_tx *tx) {
    return procs_submit(t->cl, tx);
}

/* A put built for the application version the client believes in force; a
 * refusal for another version (an upgrade activated) makes it read the version
 * again and rebuild, as a client does. */
static uint64_t put(procs *t) {
    for (int attempt = 0; attempt < 3; attempt++) {
        char key[32];
        uint8_t *p;
        size_t n;
        uint64_t nonce = ++t->alice_nonce;
        snprintf(key, sizeof key, "k%llu", (unsigned long long)nonce);
        assert_int_equal(ledger_kv_put_payload((const uint8_t *)key, strlen(key),
                                               (const uint8_t *)"v", 1, &p, &n),
                         0);
        ledger_tx *tx;
        assert_int_equal(
            ledger_tx_create_signed_for(&tx, t->alice, LEDGER_KV_OP_PUT, nonce, p, n, t->version),
            0);
        ledger_free(p);
        ledger_receipt r;
        memset(&r, 0, sizeof r);
        int rc = ledger_client_submit(t->cl, tx, 0, 60000, &r, NULL);
        ledger_tx_free(tx);
        if (rc == LEDGER_E_TX_APP_VERSION || (rc == 0 && r.status == LEDGER_E_TX_APP_VERSION)) {
            t->refused_for_version++;
            uint32_t refused = t->version;
            assert_int_equal(ledger_client_app_version_after(t->cl, refused, 30000, &t->version),
                             0);
            continue;
        }
        assert_int_equal(rc, 0);
        assert_int_equal(r.status, 0);
        return r.height;
    }
    fail_msg("a put kept being refused for its application version");
    return 0;
}

static void fill_past(procs *t, uint64_t height) {
    while (put(t) <= height)
        ;
}

/* An upgrade act by replica i's key; returns the committed height. */
static uint64_t act(procs *t, int i, uint16_t op, const char *name, uint64_t at) {
    uint8_t *p, build[32];
    size_t n;
    memset(build, 0x5A, sizeof build);
    if (op == LEDGER_OP_UPGRADE_PROPOSE)
        assert_int_equal(ledger_upgrade_propose_payload(name, 2, build, at, &p, &n), 0);
    else
        assert_int_equal(ledger_upgrade_name_payload(name, &p, &n), 0);
    ledger_tx *tx;
    assert_int_equal(ledger_tx_create_signed(&tx, t->rep[i], op, ++t->rep_nonce[i], p, n), 0);
    ledger_free(p);
    ledger_receipt r = submit(t, tx);
    assert_int_equal(r.status, 0);
    return r.height;
}

static ledger_upgrade_info plan(procs *t, const char *name) {
    uint8_t key[96], *v;
    size_t kl, vl;
    assert_int_equal(ledger_upgrade_key(name, key, &kl), 0);
    assert_int_equal(ledger_client_get(t->cl, key, kl, 30000, &v, &vl), 0);
    ledger_upgrade_info info;
    assert_int_equal(ledger_upgrade_decode(&info, v, vl), 0);
    ledger_free(v);
    return info;
}

static uint32_t version_of_block(procs *t, uint64_t h) {
    ledger_block *b;
    assert_int_equal(ledger_client_block(t->cl, h, 30000, &b), 0);
    assert_int_equal(ledger_block_format(b), 3);
    uint32_t v = ledger_block_app_version(b);
    ledger_block_free(b);
    return v;
}

static int file_contains(const char *path, const char *needle) {
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return strstr(buf, needle) != NULL;
}

static void test_upgrade_with_processes(void **state) {
    (void)state;
    procs *t = calloc(1, sizeof *t);
    const uint32_t max[4] = {2, 2, 2, 1};
    procs_init(t, max);
    uint64_t h = put(t);

    /* 2 of 4 approvals: expires at H, nothing changes */
    uint64_t H1 = h + LEDGER_UPGRADE_LEAD_MIN + 4;
    act(t, 0, LEDGER_OP_UPGRADE_PROPOSE, "half", H1);
    act(t, 1, LEDGER_OP_UPGRADE_APPROVE, "half", 0);
    fill_past(t, H1);
    ledger_upgrade_info info = plan(t, "half");
    assert_int_equal(info.status, LEDGER_UPGRADE_EXPIRED);
    assert_int_equal(info.approvals, 2);
    assert_int_equal(version_of_block(t, H1), 1);
    assert_true(running(t, 3));

    /* approved by 3 of 4, then cancelled by 3 of 4 before H */
    h = put(t);
    uint64_t H2 = h + LEDGER_UPGRADE_LEAD_MIN + 8;
    act(t, 0, LEDGER_OP_UPGRADE_PROPOSE, "undone", H2);
    act(t, 1, LEDGER_OP_UPGRADE_APPROVE, "undone", 0);
    act(t, 2, LEDGER_OP_UPGRADE_APPROVE, "undone", 0);
    assert_int_equal(plan(t, "undone").status, LEDGER_UPGRADE_APPROVED);
    act(t, 1, LEDGER_OP_UPGRADE_CANCEL, "undone", 0);
    act(t, 2, LEDGER_OP_UPGRADE_CANCEL, "undone", 0);
    uint64_t hc = act(t, 3, LEDGER_OP_UPGRADE_CANCEL, "undone", 0);
    assert_true(hc < H2);
    info = plan(t, "undone");
    assert_int_equal(info.status, LEDGER_UPGRADE_CANCELLED);
    fill_past(t, H2);
    assert_int_equal(version_of_block(t, H2), 1);
    assert_true(running(t, 3));

    /* approved by 3 of 4 (replica 3 approves too, though it lacks the version) */
    h = put(t);
    uint64_t H = h + LEDGER_UPGRADE_LEAD_MIN + 4;
    act(t, 0, LEDGER_OP_UPGRADE_PROPOSE, "v2", H);
    act(t, 3, LEDGER_OP_UPGRADE_APPROVE, "v2", 0);
    uint64_t ha = act(t, 1, LEDGER_OP_UPGRADE_APPROVE, "v2", 0);
    assert_true(ha < H);
    assert_int_equal(plan(t, "v2").status, LEDGER_UPGRADE_APPROVED);
    fill_past(t, H + 2);
    /* the node without version 2 halted with status 4 and says why */
    assert_int_equal(wait_exit(t, 3, 120), 4);
    char logf[128];
    snprintf(logf, sizeof logf, "%s/log3", t->dir);
    assert_true(file_contains(logf, "UPGRADE NEEDED"));
    assert_true(file_contains(logf, "\"v2\""));
    assert_true(file_contains(logf, "version 2"));
    for (uint64_t k = H - 2; k < H; k++)
        assert_int_equal(version_of_block(t, k), 1);
    for (uint64_t k = H; k <= H + 2; k++)
        assert_int_equal(version_of_block(t, k), 2);
    info = plan(t, "v2");
    assert_int_equal(info.status, LEDGER_UPGRADE_ACTIVATED);
    assert_int_equal(info.decided_at, H);
    /* the puts switched to version 2 after one refusal; a put for version 1 is
     * now refused by f+1 replicas before ordering, with its own code */
    assert_int_equal(t->version, 2);
    assert_true(t->refused_for_version >= 1);
    uint32_t in_force = 0;
    assert_int_equal(ledger_client_app_version(t->cl, 30000, &in_force), 0);
    assert_int_equal(in_force, 2);
    {
        uint8_t *p;
        size_t n;
        assert_int_equal(
            ledger_kv_put_payload((const uint8_t *)"old", 3, (const uint8_t *)"v", 1, &p, &n), 0);
        ledger_tx *tx;
        assert_int_equal(
            ledger_tx_create_signed(&tx, t->alice, LEDGER_KV_OP_PUT, ++t->alice_nonce, p, n), 0);
        ledger_free(p);
        ledger_receipt r;
        assert_int_equal(ledger_client_submit(t->cl, tx, 0, 30000, &r, NULL),
                         LEDGER_E_TX_APP_VERSION);
        ledger_tx_free(tx);
    }
    /* its store: nothing at or past H */
    char data[128];
    snprintf(data, sizeof data, "%s/data3", t->dir);
    ledger_store *s;
    ledger_app v1 = *ledger_kv_app(), v2 = *ledger_kv_app();
    v2.app_version_max = 2;
    assert_int_equal(ledger_store_open(&s, data, t->m, &v1, NULL, NULL), 0);
    assert_int_equal(ledger_store_height(s), H - 1);
    uint32_t ver;
    assert_int_equal(ledger_store_app_version(s, &ver), 0);
    assert_int_equal(ver, 2);
    ledger_store_close(s);

    /* restarted with the version, it catches up */
    spawn(t, 3, 2);
    uint64_t last = put(t);
    procs_wait_status(t->dir, 3, last, 120, NULL);

    /* every store replays from genesis to its stored roots, and they agree */
    for (int i = 0; i < 4; i++)
        stop(t, i);
    uint8_t hash0[32], root0[32];
    for (int i = 0; i < 4; i++) {
        snprintf(data, sizeof data, "%s/data%d", t->dir, i);
        ledger_store_options o = LEDGER_STORE_OPTIONS_INIT;
        o.verify = LEDGER_VERIFY_FULL;
        assert_int_equal(ledger_store_open(&s, data, t->m, &v2, &o, NULL), 0);
        ledger_block *b;
        assert_int_equal(ledger_store_block(s, last, &b), 0);
        if (i == 0) {
            memcpy(hash0, ledger_block_header_hash(b), 32);
            memcpy(root0, ledger_block_state_root(b), 32);
        } else {
            assert_memory_equal(ledger_block_header_hash(b), hash0, 32);
            assert_memory_equal(ledger_block_state_root(b), root0, 32);
        }
        ledger_block_free(b);
        ledger_store_close(s);
    }
    procs_free(t);
    free(t);
}

int main(int argc, char **argv) {
    if (!procs_args(argc, argv, "FEDSHARE_LEDGER_NODE"))
        return 2;
    node_prog = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upgrade_with_processes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
