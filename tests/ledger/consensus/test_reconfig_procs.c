/* Membership changes with real node processes: five fedshare-ledger-node
 * processes of a consortium whose genesis membership is replicas 0…3
 * (genesis_replicas 4) and whose configuration also names replica 4.
 *
 *   4 → 5: replica 4 starts as a non-member and follows the chain by state
 *   transfer; 3 of 4 replicas approve adding it; from the change on it votes:
 *   with replica 3 stopped, a block needs its vote (quorum 4 of 5) and commits.
 *   5 → 4, removing the primary: 4 of 5 approve removing replica 0, the primary
 *   of view 0; replica 2 is killed (-9) before the change takes force; at the
 *   change the others move to view 1 and the chain goes on; replica 2,
 *   restarted, catches up across the change.
 *   After both: every node's membership at every height is the same, every
 *   chain replays from genesis to the same roots, and a certificate with the
 *   removed replica's signature is refused. A client away during both changes
 *   verifies the chain of certified changes from the genesis membership and
 *   exports a proof bundle (format 2) that verifies offline.
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

#define NREP 5

static const char *node_prog;

typedef struct {
    char dir[64];
    uint8_t seeds[NREP][32];
    char addr[NREP][32];
    char conf[128];
    char conf4[128]; /* replica 4's own file when the others do not address it */
    ledger_config *cfg;
    ledger_membership *m; /* genesis */
    pid_t pid[NREP];
    ledger_signer *rep[NREP];
    ledger_signer *alice;
    uint64_t alice_nonce;
    uint64_t rep_nonce[NREP];
    ledger_client *cl;
} procs;

static void spawn(procs *t, int i) {
    t->pid[i] = procs_spawn(node_prog, i == 4 && t->conf4[0] ? t->conf4 : t->conf, t->dir, i, NULL);
}

static int wait_exit(procs *t, int i, int seconds) {
    return procs_wait_exit(&t->pid[i], seconds);
}

static void stop(procs *t, int i) {
    procs_stop(&t->pid[i]);
}

/* The height in replica i's status file ("HEIGHT VIEW ..."), once it reaches
 * at least h (bounded wait on the state the node writes). */
static void wait_status(procs *t, int i, uint64_t h, uint64_t *view) {
    uint64_t v = 0;
    procs_wait_status(t->dir, i, h, 60, &v);
    if (view)
        *view = v;
}

/* unaddressed: the configuration of replicas 0…3 (and of the client) names
 * replica 4's key with the address "-"; only replica 4's own file has it. */
static void procs_init_opt(procs *t, int unaddressed) {
    memset(t, 0, sizeof *t);
    procs_tmpdir(t->dir, "lc_reconfig_procs");
    char text[4096], hex[65];
    size_t off = procs_config_head(text, sizeof text,
                                   "genesis_replicas 4\nblock_period_ms 5\n"
                                   "view_timeout_ms 1000\ncheckpoint_every 4\n");
    for (int i = 0; i < NREP; i++) {
        procs_replica_key(t->dir, i, t->seeds[i], &t->rep[i], hex);
        snprintf(t->addr[i], sizeof t->addr[i], "127.0.0.1:%d", test_free_port());
        if (unaddressed && i == 4) {
            char own[4096];
            memcpy(own, text, off);
            size_t on = off + (size_t)snprintf(own + off, sizeof own - off, "replica 4 %s %s\n",
                                               t->addr[i], hex);
            snprintf(t->conf4, sizeof t->conf4, "%s/replica4.conf", t->dir);
            procs_write(t->conf4, own, on);
        }
        off += (size_t)snprintf(text + off, sizeof text - off, "replica %d %s %s\n", i,
                                unaddressed && i == 4 ? "-" : t->addr[i], hex);
    }
    procs_write_config(t->conf, t->dir, text, off, &t->cfg, &t->m);
    assert_int_equal(ledger_membership_size(t->m), 4);
    t->alice = procs_alice();
    for (int i = 0; i < 4; i++)
        spawn(t, i);
    assert_int_equal(ledger_client_connect(&t->cl, t->cfg, 30000), 0);
}

static void procs_init(procs *t) {
    procs_init_opt(t, 0);
}

/* LC_KEEP_DIR=1 keeps the nodes' logs for a look. */
static void procs_free(procs *t) {
    procs_close(t->cl, t->pid, t->rep, NREP, t->alice, t->m, t->cfg, t->dir);
}

static ledger_receipt submit(procs *t, ledger_tx *tx) {
    return procs_submit(t->cl, tx);
}

/* A put; returns its height (its proof verified against the membership in
 * force there, which the client learns from the replicas); its hash in hash
 * (may be NULL). */
static uint64_t put_hash(procs *t, uint8_t hash[32]) {
    char key[32];
    uint8_t *p;
    size_t n;
    uint64_t nonce = ++t->alice_nonce;
    snprintf(key, sizeof key, "k%llu", (unsigned long long)nonce);
    assert_int_equal(
        ledger_kv_put_payload((const uint8_t *)key, strlen(key), (const uint8_t *)"v", 1, &p, &n),
        0);
    ledger_tx *tx;
    assert_int_equal(ledger_tx_create_signed(&tx, t->alice, LEDGER_KV_OP_PUT, nonce, p, n), 0);
    ledger_free(p);
    if (hash)
        memcpy(hash, ledger_tx_hash(tx), 32);
    ledger_receipt r = submit(t, tx);
    assert_int_equal(r.status, 0);
    return r.height;
}

static uint64_t put(procs *t) {
    return put_hash(t, NULL);
}

static void fill_past(procs *t, uint64_t height) {
    while (put(t) <= height)
        ;
}

/* A membership act by replica i; returns the receipt. */
static ledger_receipt propose(procs *t, int i, uint32_t kind, int who) {
    uint8_t *p;
    size_t n;
    assert_int_equal(ledger_member_propose_payload(
                         kind, ledger_signer_public_key(t->rep[who]),
                         kind == LEDGER_MEMBER_ADD_REPLICA ? t->addr[who] : NULL, &p, &n),
                     0);
    ledger_receipt r =
        procs_member_act(t->cl, t->rep[i], &t->rep_nonce[i], LEDGER_OP_MEMBER_PROPOSE, p, n);
    ledger_free(p);
    return r;
}

static ledger_receipt approve(procs *t, int i, uint64_t id) {
    uint8_t p[8];
    assert_int_equal(ledger_member_approve_payload(id, p), 0);
    return procs_member_act(t->cl, t->rep[i], &t->rep_nonce[i], LEDGER_OP_MEMBER_APPROVE, p, 8);
}

static ledger_member_change open_change(procs *t) {
    return procs_open_change(t->cl);
}

/* Did replica j sign block h's certificate (read through the client, which
 * verifies it against the membership in force at h)? */
static int signed_by(procs *t, uint64_t h, uint16_t j, uint64_t *view) {
    return procs_signed_by(t->cl, h, j, view);
}

static void test_reconfig_with_processes(void **state) {
    (void)state;
    procs *t = calloc(1, sizeof *t);
    procs_init(t);
    put(t);
    /* a second client, away during both changes: it knows the genesis membership */
    ledger_client *away;
    assert_int_equal(ledger_client_connect(&away, t->cfg, 30000), 0);
    ledger_membership *am;
    assert_int_equal(ledger_client_membership(away, 1, 30000, &am), 0);
    assert_true(ledger_membership_equal(am, t->m));
    ledger_membership_free(am);
    /* replica 4 starts before it is a member: it follows by state transfer */
    spawn(t, 4);

    /* 4 → 5: proposed by 0, approved by 1 and 2 (3 of 4) */
    ledger_receipt r = propose(t, 0, LEDGER_MEMBER_ADD_REPLICA, 4);
    assert_int_equal(r.status, 0);
    ledger_member_change c = open_change(t);
    assert_int_equal(c.approvals, 1);
    assert_int_equal(approve(t, 1, c.id).status, 0);
    r = approve(t, 2, c.id);
    assert_int_equal(r.status, 0);
    uint64_t e1 = r.height + LEDGER_MEMBER_DELAY;
    fill_past(t, e1);
    wait_status(t, 4, e1, NULL);
    /* replica 3 stops: with 5 members a block needs 4 votes, replica 4's among them */
    stop(t, 3);
    uint64_t hv = put(t);
    assert_true(hv >= e1);
    assert_true(signed_by(t, hv, 4, NULL));
    assert_false(signed_by(t, e1 - 1, 4, NULL)); /* not a member before the change */
    spawn(t, 3);
    wait_status(t, 3, hv, NULL);

    /* 5 → 4, removing the primary of view 0: 4 of 5 approve */
    r = propose(t, 1, LEDGER_MEMBER_REMOVE_REPLICA, 0);
    assert_int_equal(r.status, 0);
    c = open_change(t);
    assert_int_equal(approve(t, 2, c.id).status, 0);
    assert_int_equal(approve(t, 3, c.id).status, 0);
    r = approve(t, 0, c.id); /* the replica removed approves its own removal */
    assert_int_equal(r.status, 0);
    uint64_t e2 = r.height + LEDGER_MEMBER_DELAY;
    /* mid-change, replica 2 is killed (-9): the other members go on */
    kill(t->pid[2], SIGKILL);
    assert_int_equal(wait_exit(t, 2, 30), 128 + SIGKILL);
    /* the chain goes on: the others change view */
    uint64_t last = 0;
    while ((last = put(t)) < e2 + 3)
        ;
    uint64_t view = 0;
    assert_false(signed_by(t, last, 0, &view));
    assert_true(view >= 1);
    /* restarted, it catches up across the change */
    spawn(t, 2);
    uint8_t last_tx[32];
    last = put_hash(t, last_tx);
    for (int i = 1; i < NREP; i++)
        wait_status(t, i, last, NULL);

    /* the client that was away: the membership changed twice; it verifies the
     * certified changes from the genesis membership (one replica's answer
     * suffices, no vote on an encoding), then a proof bundle of the last put,
     * which verifies offline from the genesis membership alone */
    assert_int_equal(ledger_client_membership(away, last, 30000, &am), 0);
    assert_int_equal(ledger_membership_count(am), 4);
    assert_false(ledger_membership_active(am, 0));
    assert_true(ledger_membership_active(am, 4));
    ledger_membership *am1;
    assert_int_equal(ledger_client_membership(away, e1, 30000, &am1), 0);
    assert_int_equal(ledger_membership_count(am1), 5);
    ledger_membership_free(am1);
    {
        uint8_t *bu, *g;
        size_t bl, gl;
        assert_int_equal(ledger_client_bundle(away, last_tx, t->m, 30000, &bu, &bl), 0);
        assert_int_equal(bu[4], 2);
        assert_int_equal((bu[38] << 8) | bu[39], 2);
        assert_int_equal(ledger_membership_encode(t->m, &g, &gl), 0);
        ledger_bundle_info info;
        assert_int_equal(ledger_bundle_verify(bu, bl, g, gl, &info, NULL), 0);
        assert_int_equal(info.height, last);
        ledger_free(g);
        ledger_free(bu);
    }
    ledger_membership_free(am);
    ledger_client_close(away);

    /* every store: the same membership at every height, the same blocks, and a
     * replay from genesis to the stored roots */
    for (int i = 0; i < NREP; i++)
        stop(t, i);
    ledger_store *s[NREP];
    for (int i = 0; i < NREP; i++) {
        char data[128];
        snprintf(data, sizeof data, "%s/data%d", t->dir, i);
        ledger_store_options o = LEDGER_STORE_OPTIONS_INIT;
        o.verify = LEDGER_VERIFY_FULL;
        uint64_t bad = 99;
        assert_int_equal(ledger_store_open(&s[i], data, t->m, ledger_kv_app(), &o, &bad), 0);
        assert_int_equal(bad, 0);
    }
    for (uint64_t h = 1; h <= last; h++) {
        uint8_t *e0 = NULL, *ei;
        size_t l0 = 0, li;
        ledger_block *b0 = NULL;
        for (int i = 0; i < NREP; i++) {
            if (i == 0 && h >= e2)
                continue; /* the removed replica may have stopped following */
            ledger_membership *m;
            assert_int_equal(ledger_store_membership_at(s[i], h, &m), 0);
            assert_int_equal(ledger_membership_encode(m, &ei, &li), 0);
            ledger_block *b;
            assert_int_equal(ledger_store_block(s[i], h, &b), 0);
            if (!e0) {
                e0 = ei;
                l0 = li;
                b0 = b;
                /* the membership of each height: 4 members, then 5, then 4 */
                size_t want = h < e1 ? 4 : h < e2 ? 5 : 4;
                assert_int_equal(ledger_membership_count(m), want);
                assert_int_equal(ledger_membership_active(m, 0), h < e2);
            } else {
                assert_int_equal(li, l0);
                assert_memory_equal(ei, e0, l0);
                assert_memory_equal(ledger_block_header_hash(b), ledger_block_header_hash(b0), 32);
                assert_memory_equal(ledger_block_state_root(b), ledger_block_state_root(b0), 32);
                ledger_free(ei);
                ledger_block_free(b);
            }
            ledger_membership_free(m);
        }
        ledger_free(e0);
        ledger_block_free(b0);
    }
    /* the removed replica's signature is refused from the change on */
    ledger_block *b;
    assert_int_equal(ledger_store_block(s[1], last, &b), 0);
    ledger_membership *m;
    assert_int_equal(ledger_store_membership_at(s[1], last, &m), 0);
    uint8_t stmt[LEDGER_COMMIT_STATEMENT_BYTES], sig[64];
    ledger_cert *forged;
    assert_int_equal(ledger_cert_create(&forged, ledger_block_view(b)), 0);
    assert_int_equal(ledger_commit_statement(stmt, ledger_membership_chain_id(m), last,
                                             ledger_block_view(b), ledger_block_header_hash(b)),
                     0);
    for (int j = 0; j < 3; j++) { /* replicas 0, 1, 2: a quorum of 3 if 0 counted */
        assert_int_equal(ledger_signer_sign(t->rep[j], stmt, sizeof stmt, sig), 0);
        assert_int_equal(ledger_cert_add(forged, (uint16_t)j, sig), 0);
    }
    assert_int_equal(ledger_cert_verify(forged, m, last, ledger_block_header_hash(b)),
                     LEDGER_E_CERTIFICATE);
    assert_int_equal(ledger_cert_verify(ledger_block_cert(b), m, last, ledger_block_header_hash(b)),
                     0);
    ledger_cert_free(forged);
    ledger_membership_free(m);
    ledger_block_free(b);
    for (int i = 0; i < NREP; i++)
        ledger_store_close(s[i]);
    procs_free(t);
    free(t);
}

/* 1 when replica i's log holds the text. */
static int log_has(procs *t, int i, const char *text) {
    return procs_log_has(t->dir, i, text);
}

/* A replica whose address is only in the transaction that adds it: replicas
 * 0…3 are configured with "-" for it, dial it at the address the membership
 * in force records, and a block needing its vote commits. */
static void test_unaddressed_replica_dialled(void **state) {
    (void)state;
    procs *t = calloc(1, sizeof *t);
    procs_init_opt(t, 1);
    put(t);
    spawn(t, 4);
    ledger_receipt r = propose(t, 0, LEDGER_MEMBER_ADD_REPLICA, 4);
    assert_int_equal(r.status, 0);
    ledger_member_change c = open_change(t);
    assert_string_equal(c.addr, t->addr[4]);
    assert_int_equal(approve(t, 1, c.id).status, 0);
    r = approve(t, 2, c.id);
    assert_int_equal(r.status, 0);
    uint64_t e = r.height + LEDGER_MEMBER_DELAY;
    fill_past(t, e);
    wait_status(t, 4, e, NULL);
    /* with replica 3 stopped, a block needs 4 of {0, 1, 2, 4}: replica 4's vote */
    stop(t, 3);
    uint64_t h = put(t);
    assert_true(h > e);
    assert_true(signed_by(t, h, 4, NULL));
    char want[64];
    snprintf(want, sizeof want, "dialling %s", t->addr[4]);
    for (int i = 0; i < 3; i++)
        assert_true(log_has(t, i, want));
    procs_free(t);
    free(t);
}

int main(int argc, char **argv) {
    if (!procs_args(argc, argv, "FEDSHARE_LEDGER_NODE"))
        return 2;
    node_prog = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reconfig_with_processes),
        cmocka_unit_test(test_unaddressed_replica_dialled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
