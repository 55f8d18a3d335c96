/* Readers on several threads while one thread appends: every read sees a
 * consistent committed chain (no torn block, proofs verify, tip only grows). */
#define T_WITH_STORE
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>

static ledger_signer *sg[4];
static ledger_membership *mem;
static ledger_store *store;
static atomic_int done;
static uint8_t first_hash[32];

typedef struct {
    int id;
    long reads;
    int errors;
} reader_ctx;

static void *reader(void *arg) {
    reader_ctx *c = arg;
    uint64_t last = 0;
    while (!atomic_load(&done)) {
        ledger_tip t;
        if (ledger_store_tip(store, &t) != LEDGER_OK || t.height < last) {
            c->errors++;
            break;
        }
        last = t.height;
        if (t.height == 0)
            continue;
        uint64_t h = 1 + (uint64_t)(c->reads % (long)t.height);
        ledger_block *b;
        if (ledger_store_block(store, h, &b) != LEDGER_OK || ledger_block_check(b, mem) != 0) {
            c->errors++;
            break;
        }
        ledger_block_free(b);
        ledger_proof *p;
        if (ledger_store_proof(store, first_hash, &p) != LEDGER_OK ||
            ledger_proof_verify(p, mem, first_hash) != LEDGER_OK) {
            c->errors++;
            break;
        }
        ledger_proof_free(p);
        uint8_t *v;
        size_t vl;
        if (ledger_store_query(store, (const uint8_t *)"counter", 7, &v, &vl) != LEDGER_OK) {
            c->errors++;
            break;
        }
        ledger_free(v);
        ledger_trace_entry te[4];
        size_t n;
        if (ledger_store_trace(store, LEDGER_KV_OP_PUT, (const uint8_t *)"counter", 7, 0, te, 4,
                               &n) != LEDGER_OK ||
            n == 0) {
            c->errors++;
            break;
        }
        c->reads++;
    }
    return NULL;
}

static void test_readers_during_appends(void **state) {
    (void)state;
    mem = t_membership(4, sg);
    char path[512];
    t_tmpdir(path, sizeof path, "conc");
    ledger_store_options o = LEDGER_STORE_OPTIONS_INIT;
    o.sync = LEDGER_SYNC_NONE;
    assert_int_equal(ledger_store_open(&store, path, mem, ledger_kv_app(), &o, NULL), LEDGER_OK);
    ledger_signer *alice = t_signer(1);
    ledger_tx *tx0[1] = {t_put(alice, 1, "counter", "0")};
    memcpy(first_hash, ledger_tx_hash(tx0[0]), 32);
    ledger_block *b = t_next_block(store, mem, sg, tx0, 1, 1);
    assert_int_equal(ledger_store_append(store, b), LEDGER_OK);
    ledger_block_free(b);

    pthread_t th[3];
    reader_ctx ctx[3] = {{0, 0, 0}, {1, 0, 0}, {2, 0, 0}};
    atomic_store(&done, 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&th[i], NULL, reader, &ctx[i]), 0);
    for (uint64_t h = 2; h <= 40; h++) {
        ledger_tx *txs[10];
        char val[32];
        for (int i = 0; i < 10; i++) {
            snprintf(val, sizeof val, "%llu-%d", (unsigned long long)h, i);
            txs[i] = t_put(alice, h * 10 + (uint64_t)i, i ? "other" : "counter", val);
        }
        b = t_next_block(store, mem, sg, txs, 10, h);
        assert_int_equal(ledger_store_append(store, b), LEDGER_OK);
        ledger_block_free(b);
        uint8_t data[64];
        memset(data, (int)h, sizeof data);
        assert_int_equal(ledger_store_blob_put(store, data, sizeof data, NULL), LEDGER_OK);
    }
    atomic_store(&done, 1);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(ctx[i].errors, 0);
    }
    assert_int_equal(ledger_store_height(store), 40);
    assert_int_equal(ledger_verify_chain(store, LEDGER_VERIFY_FULL, NULL), LEDGER_OK);
    ledger_store_close(store);
    ledger_signer_free(alice);
    t_cleanup(path);
    ledger_membership_free(mem);
    for (int i = 0; i < 4; i++)
        ledger_signer_free(sg[i]);
}

/* Trace paging: more entries than fit, read in pages from a height. */
static void test_trace_paging(void **state) {
    (void)state;
    mem = t_membership(4, sg);
    char path[512];
    t_tmpdir(path, sizeof path, "page");
    assert_int_equal(ledger_store_open(&store, path, mem, ledger_kv_app(), NULL, NULL), LEDGER_OK);
    ledger_signer *alice = t_signer(1);
    uint64_t nonce = 0;
    for (uint64_t h = 1; h <= 6; h++) {
        ledger_tx *txs[3];
        for (int i = 0; i < 3; i++)
            txs[i] = t_put(alice, ++nonce, "k", "v");
        ledger_block *b = t_next_block(store, mem, sg, txs, 3, 100 + h);
        assert_int_equal(ledger_store_append(store, b), LEDGER_OK);
        ledger_block_free(b);
    }
    ledger_trace_entry te[4];
    size_t n, total = 0;
    uint64_t from = 0;
    ledger_trace_entry prev = {0, 0, 0};
    for (;;) {
        assert_int_equal(
            ledger_store_trace(store, LEDGER_KV_OP_PUT, (const uint8_t *)"k", 1, from, te, 4, &n),
            LEDGER_OK);
        size_t fresh = 0;
        for (size_t i = 0; i < n; i++) {
            if (total && (te[i].height < prev.height ||
                          (te[i].height == prev.height && te[i].index <= prev.index)))
                continue; /* already seen on the previous page */
            prev = te[i];
            total++;
            fresh++;
        }
        if (n < 4)
            break;
        assert_true(fresh > 0);
        from = prev.height;
    }
    assert_int_equal(total, 18);
    assert_int_equal(prev.height, 6);
    assert_int_equal(prev.index, 2);
    uint64_t hs[10];
    assert_int_equal(ledger_store_trace_time(store, 102, 104, hs, 10, &n), LEDGER_OK);
    assert_int_equal(n, 3);
    assert_int_equal(hs[0], 2);
    assert_int_equal(ledger_store_trace_time(store, 0, UINT64_MAX, hs, 2, &n), LEDGER_OK);
    assert_int_equal(n, 2);
    ledger_store_close(store);
    ledger_signer_free(alice);
    t_cleanup(path);
    ledger_membership_free(mem);
    for (int i = 0; i < 4; i++)
        ledger_signer_free(sg[i]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_readers_during_appends),
        cmocka_unit_test(test_trace_paging),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
