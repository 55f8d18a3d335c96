/* Proof bundles (ledger/bundle.h, docs/formats/ledger-bundle.md): export from a
 * store, verification with nothing but the genesis membership, the golden
 * vectors tests/ledger/vectors/bundle_v1.hex (a format 2 chain) and a bundle
 * into the format 1 golden chain, every flipped byte and every truncation
 * refused, another chain's genesis refused. Set T_WRITE_VECTORS=1 to rewrite
 * bundle_v1.hex (only when the format changes, with a new format version). */
#define T_WITH_STORE
#include "testutil.h"
#include "fixtures.h"

#ifndef T_VECTORS
#error "T_VECTORS (the vectors directory) must be defined"
#endif

typedef struct {
    ledger_signer *sg[T_MEMBERS];
    ledger_membership *m;
    ledger_signer *alice;
    char path[512];
    ledger_store *s;
    uint8_t *genesis;
    size_t genesis_len;
    uint8_t tx_hash[32]; /* block 2, index 1 */
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    t_keys(&f->m, f->sg, T_MEMBERS, &f->alice);
    t_open_kv(&f->s, f->path, sizeof f->path, "bundle", f->m);
    assert_int_equal(ledger_membership_encode(f->m, &f->genesis, &f->genesis_len), LEDGER_OK);
    uint64_t nonce = 1;
    for (int h = 1; h <= 3; h++) {
        ledger_tx *txs[3];
        char key[16];
        for (int i = 0; i < h; i++) {
            snprintf(key, sizeof key, "k%d-%d", h, i);
            txs[i] = t_put(f->alice, nonce++, key, "value");
        }
        if (h == 2)
            memcpy(f->tx_hash, ledger_tx_hash(txs[1]), 32);
        ledger_block *b =
            t_next_block(f->s, f->m, f->sg, txs, (size_t)h, 1700000000000ull + 1000u * (unsigned)h);
        assert_int_equal(ledger_store_append(f->s, b), LEDGER_OK);
        ledger_block_free(b);
    }
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    t_close_kv(f->s, f->path);
    t_keys_free(f->m, f->sg, T_MEMBERS, f->alice);
    ledger_free(f->genesis);
    free(f);
    return 0;
}

static void test_bundle_export_verify(void **state) {
    fixture *f = *state;
    uint8_t *bu;
    size_t bl;
    assert_int_equal(ledger_store_bundle(f->s, f->tx_hash, &bu, &bl), LEDGER_OK);
    ledger_bundle_info info;
    ledger_tx *tx = NULL;
    assert_int_equal(ledger_bundle_verify(bu, bl, f->genesis, f->genesis_len, &info, &tx),
                     LEDGER_OK);
    assert_int_equal(info.kind, LEDGER_BUNDLE_KIND_TX);
    assert_int_equal(info.height, 2);
    assert_int_equal(info.index, 1);
    assert_int_equal(info.header_format, 3);
    assert_int_equal(info.app_version, 1);
    assert_int_equal(info.timestamp, 1700000002000ull);
    assert_memory_equal(info.tx_hash, f->tx_hash, 32);
    assert_memory_equal(info.chain_id, ledger_membership_chain_id(f->m), 32);
    uint8_t hh[32];
    assert_int_equal(ledger_store_header(f->s, 2, NULL, NULL, hh), LEDGER_OK);
    assert_memory_equal(info.header_hash, hh, 32);
    assert_non_null(tx);
    assert_memory_equal(ledger_tx_hash(tx), f->tx_hash, 32);
    size_t pl;
    const uint8_t *p = ledger_tx_payload(tx, &pl);
    assert_non_null(p);
    ledger_tx_free(tx);
    ledger_free(bu);
    /* a transaction that is not committed has no bundle */
    uint8_t none[32] = {0};
    assert_int_equal(ledger_store_bundle(f->s, none, &bu, &bl), LEDGER_E_NOT_FOUND);
    assert_null(bu);
}

/* Any flipped bit, any truncation, any extra byte: refused. */
static void test_bundle_tamper(void **state) {
    fixture *f = *state;
    uint8_t *bu;
    size_t bl;
    assert_int_equal(ledger_store_bundle(f->s, f->tx_hash, &bu, &bl), LEDGER_OK);
    ledger_bundle_info info;
    t_bundle_tamper_refused(bu, bl, f->genesis, f->genesis_len, &info);
    assert_int_equal(ledger_bundle_verify(bu, bl, f->genesis, f->genesis_len, NULL, NULL),
                     LEDGER_OK);
    ledger_free(bu);
}

/* Another chain's genesis (other chain id, or same chain id and other keys) fails. */
static void test_bundle_other_genesis(void **state) {
    fixture *f = *state;
    uint8_t *bu;
    size_t bl;
    assert_int_equal(ledger_store_bundle(f->s, f->tx_hash, &bu, &bl), LEDGER_OK);
    uint8_t *g2 = malloc(f->genesis_len);
    assert_non_null(g2);
    memcpy(g2, f->genesis, f->genesis_len);
    g2[5] ^= 1; /* chain id */
    assert_int_equal(ledger_bundle_verify(bu, bl, g2, f->genesis_len, NULL, NULL),
                     LEDGER_E_MEMBERSHIP);
    memcpy(g2, f->genesis, f->genesis_len);
    g2[45] ^= 1; /* replica 0's key */
    assert_int_equal(ledger_bundle_verify(bu, bl, g2, f->genesis_len, NULL, NULL),
                     LEDGER_E_MEMBERSHIP);
    assert_int_equal(ledger_bundle_verify(bu, bl, g2, 3, NULL, NULL), LEDGER_E_MEMBERSHIP);
    free(g2);
    ledger_free(bu);
}

/* The golden bundle: this fixture's chain exports exactly these bytes, and they verify. */
static void test_bundle_golden(void **state) {
    fixture *f = *state;
    uint8_t *bu;
    size_t bl;
    assert_int_equal(ledger_store_bundle(f->s, f->tx_hash, &bu, &bl), LEDGER_OK);
    /* bundle_v1.hex was written when headers were format 2: it still verifies */
    size_t ol;
    uint8_t *old = t_read_hex_file(T_VECTORS "/bundle_v1.hex", &ol);
    assert_int_equal(ledger_bundle_verify(old, ol, f->genesis, f->genesis_len, NULL, NULL),
                     LEDGER_OK);
    free(old);
    const char *path = T_VECTORS "/bundle_v1_h3.hex";
    uint8_t *golden = t_golden(path, bu, bl);
    size_t gl = bl;
    assert_int_equal(ledger_bundle_verify(golden, gl, f->genesis, f->genesis_len, NULL, NULL),
                     LEDGER_OK);
    free(golden);
    ledger_free(bu);
}

/* A bundle into the format 1 golden chain (written by 0.2) verifies. */
static void test_bundle_into_v1_chain(void **state) {
    fixture *f = *state;
    (void)f;
    ledger_signer *sg[T_MEMBERS];
    ledger_membership *m = t_membership(T_MEMBERS, sg);
    char path[512];
    t_tmpdir(path, sizeof path, "bundle-v1");
    ledger_store *s;
    assert_int_equal(ledger_store_open(&s, path, m, ledger_kv_app(), NULL, NULL), LEDGER_OK);
    FILE *fp = fopen(T_VECTORS "/chain_v1.hex", "r");
    assert_non_null(fp);
    static char line[1 << 16];
    uint8_t first[32];
    for (int k = 0; k < 3 && fgets(line, sizeof line, fp); k++) {
        size_t l = strcspn(line, "\r\n");
        uint8_t *enc = malloc(l / 2);
        assert_non_null(enc);
        for (size_t i = 0; i < l / 2; i++) {
            unsigned v;
            assert_int_equal(sscanf(line + 2 * i, "%2x", &v), 1);
            enc[i] = (uint8_t)v;
        }
        ledger_block *b;
        assert_int_equal(ledger_block_decode(&b, enc, l / 2), LEDGER_OK);
        if (k == 0)
            memcpy(first, ledger_tx_hash(ledger_block_tx(b, 1)), 32);
        assert_int_equal(ledger_store_append(s, b), LEDGER_OK);
        ledger_block_free(b);
        free(enc);
    }
    fclose(fp);
    uint8_t *bu, *g;
    size_t bl, gl;
    assert_int_equal(ledger_store_bundle(s, first, &bu, &bl), LEDGER_OK);
    assert_int_equal(ledger_membership_encode(m, &g, &gl), LEDGER_OK);
    ledger_bundle_info info;
    assert_int_equal(ledger_bundle_verify(bu, bl, g, gl, &info, NULL), LEDGER_OK);
    assert_int_equal(info.header_format, 1);
    assert_int_equal(info.height, 1);
    assert_int_equal(info.index, 1);
    ledger_free(bu);
    ledger_free(g);
    ledger_store_close(s);
    t_cleanup(path);
    for (int i = 0; i < T_MEMBERS; i++)
        ledger_signer_free(sg[i]);
    ledger_membership_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bundle_export_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bundle_tamper, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bundle_other_genesis, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bundle_golden, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bundle_into_v1_chain, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
