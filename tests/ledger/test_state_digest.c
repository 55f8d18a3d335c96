/* The state digest (docs/formats/ledger.md §State digest): header format 3
 * commits to an LtHash of the state and nonce tables. After every block of a
 * random run of puts, overwrites and deletes, the header's digest equals a
 * from-scratch recomputation by this file's own implementation of the
 * documented rule (over the state as a snapshot exports it); a second store
 * replaying the blocks and a full replay from genesis reproduce every digest;
 * a wrong digest is refused; a format 2 block after format 3 is refused; the
 * golden vector vectors/block_v3.hex pins the encoding and the digest. */
#define T_WITH_STORE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "testutil.h"
#include "fixtures.h"
#include "ledger/snapshot.h"

typedef struct fixture {
    ledger_signer *sg[T_MEMBERS];
    ledger_signer *alice;
    ledger_membership *m;
    ledger_store *s, *r; /* r replays what s commits */
    char path[256], rpath[256];
    uint64_t nonce;
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    t_keys(&f->m, f->sg, T_MEMBERS, &f->alice);
    t_open_kv(&f->s, f->path, sizeof f->path, "sdigest", f->m);
    t_open_kv(&f->r, f->rpath, sizeof f->rpath, "sdigestr", f->m);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    t_close_kv(f->s, f->path);
    t_close_kv(f->r, f->rpath);
    t_keys_free(f->m, f->sg, T_MEMBERS, f->alice);
    free(f);
    return 0;
}

/* The documented rule, written independently of the library: element key =
 * BLAKE2b-256("FSLEDGER/LTHASH1" ‖ ns ‖ u32 klen ‖ key ‖ u32 vlen ‖ value);
 * element = first 2048 bytes of ChaCha20 (IETF-less, 8-byte zero nonce) under
 * it, read as 1024 little-endian u16 lanes; lanes add mod 2^16. */
static void lt_add(uint16_t acc[1024], uint8_t ns, const uint8_t *k, uint32_t kl, const uint8_t *v,
                   uint32_t vl) {
    uint8_t hd[5], key[32], ks[2048], nonce[8] = {0};
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, 32);
    crypto_generichash_update(&h, (const uint8_t *)"FSLEDGER/LTHASH1", 16);
    hd[0] = ns;
    hd[1] = (uint8_t)(kl >> 24), hd[2] = (uint8_t)(kl >> 16), hd[3] = (uint8_t)(kl >> 8),
    hd[4] = (uint8_t)kl;
    crypto_generichash_update(&h, hd, 5);
    crypto_generichash_update(&h, k, kl);
    hd[0] = (uint8_t)(vl >> 24), hd[1] = (uint8_t)(vl >> 16), hd[2] = (uint8_t)(vl >> 8),
    hd[3] = (uint8_t)vl;
    crypto_generichash_update(&h, hd, 4);
    crypto_generichash_update(&h, v, vl);
    crypto_generichash_final(&h, key, 32);
    crypto_stream_chacha20(ks, sizeof ks, nonce, key);
    for (int i = 0; i < 1024; i++)
        acc[i] = (uint16_t)(acc[i] + (ks[2 * i] | (ks[2 * i + 1] << 8)));
}

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* From scratch: the digest of the state s holds at its tip, over the entries
 * of a snapshot export (every state and nonce record, in chunks). */
static void recompute(ledger_store *s, uint8_t out[32]) {
    uint16_t acc[1024] = {0};
    ledger_snapshot *x = NULL;
    assert_int_equal(ledger_store_snapshot_begin(s, &x), LEDGER_OK);
    uint8_t resume[LEDGER_SNAPSHOT_RESUME_MAX];
    size_t rlen = 0;
    for (uint64_t i = 0;; i++) {
        uint8_t *c;
        size_t n;
        assert_int_equal(ledger_snapshot_chunk(x, i, resume, rlen, &c, &n), LEDGER_OK);
        int last = 0;
        uint32_t cnt = 0;
        assert_int_equal(ledger_snapshot_chunk_check(c, n, NULL, NULL, &last, &cnt), LEDGER_OK);
        const uint8_t *p = c + 26;
        for (uint32_t e = 0; e < cnt; e++) {
            uint32_t kl = be32(p + 1);
            const uint8_t *v = p + 5 + kl;
            uint32_t vl = be32(v);
            lt_add(acc, p[0], p + 5, kl, v + 4, vl);
            resume[0] = p[0];
            memcpy(resume + 1, p + 5, kl);
            rlen = kl + 1;
            p = v + 4 + vl;
        }
        ledger_free(c);
        if (last)
            break;
    }
    ledger_snapshot_free(x);
    uint8_t enc[2048];
    for (int i = 0; i < 1024; i++) {
        enc[2 * i] = (uint8_t)acc[i];
        enc[2 * i + 1] = (uint8_t)(acc[i] >> 8);
    }
    crypto_generichash(out, 32, enc, sizeof enc, NULL, 0);
}

static void tip_digest(ledger_store *s, uint8_t out[32]) {
    ledger_block *b = NULL;
    assert_int_equal(ledger_store_block(s, ledger_store_height(s), &b), LEDGER_OK);
    assert_int_equal(ledger_block_format(b), 3);
    memcpy(out, ledger_block_state_digest(b), 32);
    ledger_block_free(b);
}

/* Property: after each of 40 blocks of random puts, overwrites (other value
 * lengths) and deletes over 12 keys, the header's digest is the from-scratch
 * one; the replaying store takes every block (it checks each digest); a full
 * replay from genesis at open reproduces every digest. */
static void test_random_writes_match_recomputation(void **state) {
    fixture *f = *state;
    uint32_t seed = 20261207;
    char key[16], val[400];
    uint8_t want[32], got[32];
    for (int h = 1; h <= 40; h++) {
        ledger_tx *txs[6];
        seed = seed * 1103515245u + 12345u;
        size_t n = 1 + (seed >> 8) % 6;
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            snprintf(key, sizeof key, "key%u", (seed >> 4) % 12);
            if ((seed >> 16) % 4 == 0) {
                txs[i] = t_del(f->alice, ++f->nonce, key);
            } else {
                size_t vl = (seed >> 12) % (sizeof val - 1);
                memset(val, 'a' + (int)((seed >> 20) % 26), vl);
                val[vl] = 0;
                txs[i] = t_put(f->alice, ++f->nonce, key, val);
            }
        }
        ledger_block *b = t_next_block(f->s, f->m, f->sg, txs, n, 1700000000000ull + (uint64_t)h);
        assert_int_equal(ledger_store_append(f->s, b), LEDGER_OK);
        assert_int_equal(ledger_store_append(f->r, b), LEDGER_OK);
        ledger_block_free(b);
        tip_digest(f->s, got);
        recompute(f->s, want);
        assert_memory_equal(got, want, 32);
        recompute(f->r, want);
        assert_memory_equal(got, want, 32);
    }
    /* a full replay from genesis (ledger_verify_chain FULL at open) */
    ledger_store_close(f->s);
    ledger_store_options o = LEDGER_STORE_OPTIONS_INIT;
    o.verify = LEDGER_VERIFY_FULL;
    uint64_t bad = 99;
    assert_int_equal(ledger_store_open(&f->s, f->path, f->m, ledger_kv_app(), &o, &bad), LEDGER_OK);
    assert_int_equal(bad, 0);
    assert_int_equal(ledger_store_height(f->s), 40);
}

/* A block whose header names another state digest is refused by prepare's
 * caller's peers: append refuses it (nothing stored); so is a format 2 block
 * on top of format 3. */
static void test_wrong_digest_and_format_refused(void **state) {
    fixture *f = *state;
    ledger_tx *txs[1] = {t_put(f->alice, ++f->nonce, "k", "v")};
    ledger_block *b = t_next_block(f->s, f->m, f->sg, txs, 1, 1700000000001ull);
    assert_int_equal(ledger_store_append(f->s, b), LEDGER_OK);
    ledger_block_free(b);
    uint8_t before[32];
    tip_digest(f->s, before);

    txs[0] = t_put(f->alice, ++f->nonce, "k", "w");
    b = t_next_block(f->s, f->m, f->sg, txs, 1, 1700000000002ull);
    uint8_t d[32];
    memcpy(d, ledger_block_state_digest(b), 32);
    d[31] ^= 1;
    assert_int_equal(ledger_block_set_state_digest(b, d), LEDGER_OK);
    t_certify(b, f->m, f->sg, 3, 0);
    assert_int_equal(ledger_store_append(f->s, b), LEDGER_E_STATE_ROOT);
    assert_int_equal(ledger_store_height(f->s), 1);

    /* the same block as format 2 (the digest dropped): the chain never goes back */
    uint8_t *enc;
    size_t len;
    assert_int_equal(ledger_block_encode(b, &enc, &len), LEDGER_OK);
    uint8_t *v2 = malloc(len);
    assert_non_null(v2);
    memcpy(v2, enc, LEDGER_HEADER_V2_BYTES);
    v2[4] = 2;
    memcpy(v2 + LEDGER_HEADER_V2_BYTES, enc + LEDGER_HEADER_V3_BYTES, len - LEDGER_HEADER_V3_BYTES);
    ledger_block *b2 = NULL;
    assert_int_equal(
        ledger_block_decode(&b2, v2, len - (LEDGER_HEADER_V3_BYTES - LEDGER_HEADER_V2_BYTES)),
        LEDGER_OK);
    assert_int_equal(ledger_block_format(b2), 2);
    assert_null(ledger_block_state_digest(b2));
    assert_int_equal(ledger_block_set_state_digest(b2, d), LEDGER_E_INVALID);
    t_certify(b2, f->m, f->sg, 3, 0);
    uint8_t root[32];
    assert_int_equal(ledger_store_prepare(f->s, b2, 0, root), LEDGER_E_VERSION);
    assert_int_equal(ledger_store_append(f->s, b2), LEDGER_E_VERSION);
    assert_int_equal(ledger_store_height(f->s), 1);
    uint8_t after[32];
    tip_digest(f->s, after);
    assert_memory_equal(before, after, 32);
    ledger_block_free(b2);
    free(v2);
    ledger_free(enc);
    ledger_block_free(b);
}

/* Golden: two deterministic blocks (a put, then an overwrite and a delete);
 * the second one's encoding, certificate included, is vectors/block_v3.hex. */
static void test_golden_block_v3(void **state) {
    fixture *f = *state;
    ledger_tx *txs[2] = {t_put(f->alice, 1, "alpha", "one"), t_put(f->alice, 2, "beta", "two")};
    ledger_block *b = t_next_block(f->s, f->m, f->sg, txs, 2, 1765000000000ull);
    assert_int_equal(ledger_store_append(f->s, b), LEDGER_OK);
    ledger_block_free(b);
    txs[0] = t_put(f->alice, 3, "alpha", "uno");
    txs[1] = t_del(f->alice, 4, "beta");
    b = t_next_block(f->s, f->m, f->sg, txs, 2, 1765000001000ull);
    assert_int_equal(ledger_store_append(f->s, b), LEDGER_OK);
    uint8_t *enc;
    size_t len;
    assert_int_equal(ledger_block_encode(b, &enc, &len), LEDGER_OK);
    const char *path = T_VECTORS "/block_v3.hex";
    uint8_t *golden = t_golden(path, enc, len);
    size_t gl = len;
    ledger_block *g = NULL;
    assert_int_equal(ledger_block_decode(&g, golden, gl), LEDGER_OK);
    assert_int_equal(ledger_block_format(g), 3);
    uint8_t want[32];
    recompute(f->s, want);
    assert_memory_equal(ledger_block_state_digest(g), want, 32);
    /* every truncation of the golden block is refused */
    for (size_t cut = 0; cut < gl; cut += 7) {
        ledger_block *t = NULL;
        assert_int_not_equal(ledger_block_decode(&t, golden, cut), LEDGER_OK);
        assert_null(t);
    }
    ledger_block_free(g);
    free(golden);
    ledger_free(enc);
    ledger_block_free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_random_writes_match_recomputation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_digest_and_format_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_golden_block_v3, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
