/* Durability and tamper evidence: bytes edited in the LMDB file on disk are
 * named by ledger_verify_chain and the store refuses to open; kill -9 in the
 * middle of appends never leaves a partial block. */
#define T_WITH_STORE
#include "testutil.h"

#include <lmdb.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

static ledger_signer *sg[4];
static ledger_membership *mem;

static int group_setup(void **state) {
    (void)state;
    mem = t_membership(4, sg);
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    ledger_membership_free(mem);
    for (int i = 0; i < 4; i++)
        ledger_signer_free(sg[i]);
    return 0;
}

static uint8_t *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* XOR one byte at offset `delta` from every occurrence of pattern in the
 * file (stale page copies included, so the live copy is surely hit). */
static int patch_file(const char *dir, const uint8_t *pat, size_t plen, long delta) {
    char path[600];
    assert_true(snprintf(path, sizeof path, "%s/data.mdb", dir) < (int)sizeof path);
    size_t len;
    uint8_t *b = read_file(path, &len);
    int hits = 0;
    for (size_t i = 0; i + plen <= len; i++) {
        if (memcmp(b + i, pat, plen) == 0) {
            long at = (long)i + delta;
            assert_true(at >= 0 && (size_t)at < len);
            b[at] ^= 0x01;
            hits++;
        }
    }
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, len, f), len);
    fclose(f);
    free(b);
    return hits;
}

static void build_chain(const char *path, ledger_signer *alice, int blocks, ledger_tx **keep) {
    ledger_store *s;
    assert_int_equal(ledger_store_open(&s, path, mem, ledger_kv_app(), NULL, NULL), LEDGER_OK);
    for (int h = 1; h <= blocks; h++) {
        char key[32], val[32];
        snprintf(key, sizeof key, "key-%d", h);
        snprintf(val, sizeof val, "VALUE-OF-BLOCK-%d", h);
        ledger_tx *tx[2] = {t_put(alice, (uint64_t)(2 * h), key, val), NULL};
        snprintf(key, sizeof key, "other-%d", h);
        tx[1] = t_put(alice, (uint64_t)(2 * h + 1), key, "x");
        if (keep)
            ledger_tx_clone(&keep[h], tx[0]);
        ledger_block *b = t_next_block(s, mem, sg, tx, 2, (uint64_t)h * 10);
        assert_int_equal(ledger_store_append(s, b), LEDGER_OK);
        ledger_block_free(b);
    }
    ledger_store_close(s);
}

static void expect_refused(const char *path, uint64_t bad) {
    ledger_store *s = (ledger_store *)1;
    uint64_t got = 0;
    assert_int_equal(ledger_store_open(&s, path, mem, ledger_kv_app(), NULL, &got),
                     LEDGER_E_CORRUPT);
    assert_null(s);
    assert_int_equal(got, bad);
    /* Opened without verification, the explicit check names the same block. */
    ledger_store_options o = LEDGER_STORE_OPTIONS_INIT;
    o.verify = LEDGER_VERIFY_NONE;
    assert_int_equal(ledger_store_open(&s, path, mem, ledger_kv_app(), &o, NULL), LEDGER_OK);
    got = 0;
    assert_int_equal(ledger_verify_chain(s, LEDGER_VERIFY_LINKS, &got), LEDGER_E_CORRUPT);
    assert_int_equal(got, bad);
    ledger_store_close(s);
}

/* A transaction's signature exists only inside its block record. */
static void test_tamper_tx_bytes(void **state) {
    (void)state;
    char path[512];
    t_tmpdir(path, sizeof path, "tamper");
    ledger_signer *alice = t_signer(1);
    ledger_tx *keep[8] = {0};
    build_chain(path, alice, 6, keep);
    assert_true(patch_file(path, ledger_tx_signature(keep[4]), 64, 10) >= 1);
    expect_refused(path, 4);
    for (int i = 0; i < 8; i++)
        ledger_tx_free(keep[i]);
    ledger_signer_free(alice);
    t_cleanup(path);
}

/* A header field (the timestamp of block 3). */
static void test_tamper_header(void **state) {
    (void)state;
    char path[512];
    t_tmpdir(path, sizeof path, "tamperhdr");
    ledger_signer *alice = t_signer(1);
    build_chain(path, alice, 5, NULL);
    uint8_t pat[13] = {'L', 'D', 'B', 'K', LEDGER_BLOCK_FORMAT_VERSION, 0, 0, 0, 0, 0, 0, 0, 3};
    /* record = magic ‖ version ‖ height(8) ‖ prev(32) ‖ timestamp(8): flip the timestamp's
     * last byte (a later timestamp, so only the certificate can catch it). */
    assert_true(patch_file(path, pat, sizeof pat, 5 + 8 + 32 + 7) >= 1);
    expect_refused(path, 3);
    ledger_signer_free(alice);
    t_cleanup(path);
}

/* The stored state (owner ‖ value of key-2): only the full replay sees it. */
static void test_tamper_state(void **state) {
    (void)state;
    char path[512];
    t_tmpdir(path, sizeof path, "tamperstate");
    ledger_signer *alice = t_signer(1);
    build_chain(path, alice, 4, NULL);
    uint8_t pat[32 + 16];
    memcpy(pat, ledger_signer_public_key(alice), 32);
    memcpy(pat + 32, "VALUE-OF-BLOCK-2", 16);
    assert_true(patch_file(path, pat, sizeof pat, 40) >= 1);
    ledger_store *s;
    assert_int_equal(ledger_store_open(&s, path, mem, ledger_kv_app(), NULL, NULL), LEDGER_OK);
    uint64_t bad = 99;
    assert_int_equal(ledger_verify_chain(s, LEDGER_VERIFY_LINKS, &bad), LEDGER_OK);
    assert_int_equal(ledger_verify_chain(s, LEDGER_VERIFY_FULL, &bad), LEDGER_E_CORRUPT);
    assert_int_equal(bad, 0);
    ledger_store_close(s);
    ledger_store_options o = LEDGER_STORE_OPTIONS_INIT;
    o.verify = LEDGER_VERIFY_FULL;
    assert_int_equal(ledger_store_open(&s, path, mem, ledger_kv_app(), &o, NULL), LEDGER_E_CORRUPT);
    ledger_signer_free(alice);
    t_cleanup(path);
}

/* Index records edited through LMDB itself (valid pages, wrong content). */
static void raw_put(const char *path, const char *db, const void *k, size_t kl, const void *v,
                    size_t vl) {
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 8);
    assert_int_equal(mdb_env_open(env, path, 0, 0644), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, db, 0, &dbi), 0);
    MDB_val key = {kl, (void *)k}, val = {vl, (void *)v};
    assert_int_equal(mdb_put(txn, dbi, &key, &val, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static void test_tamper_indexes(void **state) {
    (void)state;
    ledger_signer *alice = t_signer(1);
    ledger_tx *keep[8] = {0};
    char path[512];
    /* The tx index entry of block 2's transaction points to index 1. */
    t_tmpdir(path, sizeof path, "tamperidx");
    build_chain(path, alice, 4, keep);
    uint8_t rec[24] = {0};
    rec[7] = 2;  /* height 2 */
    rec[11] = 1; /* index 1 */
    raw_put(path, "txs", ledger_tx_hash(keep[2]), 32, rec, sizeof rec);
    expect_refused(path, 2);
    t_cleanup(path);
    /* A trace entry that no transaction made: only the full replay sees it. */
    t_tmpdir(path, sizeof path, "tampertrace");
    build_chain(path, alice, 3, NULL);
    uint8_t tk[2 + 2 + 4 + 12] = {0, 1, 0, 4, 'f', 'a', 'k', 'e'};
    tk[15] = 1;
    raw_put(path, "trace", tk, sizeof tk, "", 0);
    ledger_store *s;
    assert_int_equal(ledger_store_open(&s, path, mem, ledger_kv_app(), NULL, NULL), LEDGER_OK);
    uint64_t bad = 9;
    assert_int_equal(ledger_verify_chain(s, LEDGER_VERIFY_FULL, &bad), LEDGER_E_CORRUPT);
    assert_int_equal(bad, 0);
    ledger_store_close(s);
    t_cleanup(path);
    /* A time entry naming no block. */
    t_tmpdir(path, sizeof path, "tampertime");
    build_chain(path, alice, 3, NULL);
    uint8_t tm[16] = {0};
    tm[7] = 5;
    tm[15] = 9;
    raw_put(path, "time", tm, sizeof tm, "", 0);
    s = (ledger_store *)1;
    assert_int_equal(ledger_store_open(&s, path, mem, ledger_kv_app(), NULL, &bad),
                     LEDGER_E_CORRUPT);
    assert_null(s);
    t_cleanup(path);
    for (int i = 0; i < 8; i++)
        ledger_tx_free(keep[i]);
    ledger_signer_free(alice);
}

static void test_tamper_blob(void **state) {
    (void)state;
    char path[512];
    t_tmpdir(path, sizeof path, "tamperblob");
    ledger_store *s;
    assert_int_equal(ledger_store_open(&s, path, mem, ledger_kv_app(), NULL, NULL), LEDGER_OK);
    const char *text = "BLOB-CONTENT-that-is-stored-once-and-verified-on-read";
    uint8_t h[32];
    assert_int_equal(ledger_store_blob_put(s, (const uint8_t *)text, strlen(text), h), LEDGER_OK);
    ledger_store_close(s);
    assert_true(patch_file(path, (const uint8_t *)"BLOB-CONTENT", 12, 20) >= 1);
    assert_int_equal(ledger_store_open(&s, path, mem, ledger_kv_app(), NULL, NULL), LEDGER_OK);
    uint8_t *out = (uint8_t *)1;
    size_t len = 1;
    assert_int_equal(ledger_store_blob_get(s, h, &out, &len), LEDGER_E_HASH);
    assert_null(out);
    ledger_store_close(s);
    t_cleanup(path);
}

/* ---- kill -9 in the middle of appends ---- */

static int child_next_block(ledger_store *s, ledger_signer *alice, uint64_t *nonce) {
    ledger_tip t;
    if (ledger_store_tip(s, &t))
        return 1;
    ledger_tx *txs[50];
    for (int i = 0; i < 50; i++) {
        char key[32];
        snprintf(key, sizeof key, "k-%d", (int)((t.height * 50 + (uint64_t)i) % 997));
        uint8_t *pl;
        size_t plen;
        uint8_t val[200];
        memset(val, (int)t.height, sizeof val);
        if (ledger_kv_put_payload((const uint8_t *)key, strlen(key), val, sizeof val, &pl, &plen) ||
            ledger_tx_create_signed(&txs[i], alice, LEDGER_KV_OP_PUT, ++*nonce, pl, plen))
            return 1;
        ledger_free(pl);
    }
    ledger_block *b;
    uint8_t root[32], sdigest[32], stmt[96], sig[64];
    uint32_t cv;
    uint8_t ce[32];
    if (ledger_block_create_take(&b, t.height + 1, t.hash, t.timestamp + 1, 0, 0, txs, 50) ||
        ledger_store_block_context(s, &cv, ce) || ledger_block_set_context(b, cv, ce) ||
        ledger_store_prepare_digest(s, b, 0, root, sdigest) ||
        ledger_block_set_state_root(b, root) || ledger_block_set_state_digest(b, sdigest))
        return 1;
    ledger_cert *c;
    ledger_cert_create(&c, 0);
    ledger_commit_statement(stmt, ledger_membership_chain_id(mem), t.height + 1, 0,
                            ledger_block_header_hash(b));
    for (uint16_t i = 0; i < 3; i++) {
        ledger_signer_sign(sg[i], stmt, sizeof stmt, sig);
        ledger_cert_add(c, i, sig);
    }
    ledger_block_set_cert(b, c);
    ledger_cert_free(c);
    int rc = ledger_store_append(s, b);
    ledger_block_free(b);
    return rc != 0;
}

static void child_run(const char *path, int fd) {
    ledger_store *s;
    ledger_signer *alice = t_signer(1);
    if (ledger_store_open(&s, path, mem, ledger_kv_app(), NULL, NULL))
        _exit(3);
    uint64_t nonce;
    if (ledger_store_nonce(s, ledger_signer_public_key(alice), &nonce))
        _exit(3);
    for (;;) {
        if (child_next_block(s, alice, &nonce))
            _exit(4);
        uint8_t one = 1;
        if (write(fd, &one, 1) != 1)
            _exit(5);
    }
}

static void test_kill9_during_appends(void **state) {
    (void)state;
    char path[512];
    t_tmpdir(path, sizeof path, "crash");
    uint32_t seed = 20261124;
    uint64_t acked = 0;
    for (int round = 0; round < 8; round++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            child_run(path, fds[1]);
        }
        close(fds[1]);
        seed = seed * 1103515245u + 12345u;
        int want = 1 + (int)((seed >> 8) % 6);
        for (int i = 0; i < want; i++) {
            uint8_t one;
            assert_int_equal(read(fds[0], &one, 1), 1);
            acked++;
        }
        /* Land the kill at a varying point of the next append. */
        struct timespec ts = {0, (long)((seed >> 4) % 4000) * 1000};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        uint8_t one;
        while (read(fds[0], &one, 1) == 1)
            acked++; /* appends confirmed before the kill */
        close(fds[0]);

        /* Reopen: fully verified (replayed) chain, nothing acknowledged lost. */
        ledger_store *s;
        ledger_store_options o = LEDGER_STORE_OPTIONS_INIT;
        o.verify = LEDGER_VERIFY_FULL;
        uint64_t bad = 0;
        assert_int_equal(ledger_store_open(&s, path, mem, ledger_kv_app(), &o, &bad), LEDGER_OK);
        ledger_tip t;
        ledger_store_tip(s, &t);
        assert_true(t.height >= acked);
        assert_true(t.height <= acked + 1); /* at most the one in flight */
        acked = t.height;
        ledger_store_close(s);
    }
    assert_true(acked >= 8);
    t_cleanup(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tamper_tx_bytes), cmocka_unit_test(test_tamper_header),
        cmocka_unit_test(test_tamper_state),    cmocka_unit_test(test_tamper_indexes),
        cmocka_unit_test(test_tamper_blob),     cmocka_unit_test(test_kill9_during_appends),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
