/* Consensus codecs, frame splitting, configuration parsing and the hash map:
 * round trips, and rejection of every truncation, trailing byte and
 * tampered signature. Run with `--write-corpus DIR` to (re)write fuzz seeds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "capture_stderr.h"
#include "consensus/lc_map.h"
#include "consensus/lc_msg.h"
#include "ledger/config.h"

static uint8_t pk[32], sk[64];

static void build_preprepare(lc_wr *out) {
    const uint8_t t1[] = "first transaction", t2[] = "second";
    const uint8_t *txs[2] = {t1, t2};
    size_t lens[2] = {sizeof t1, sizeof t2};
    lc_proposal pr = {.height = 7, .view = 2, .proposer = 2, .ts_ms = 1700000000000ull, .ntx = 2};
    lc_wr prop;
    lc_wr_init(&prop);
    assert_int_equal(lc_proposal_encode(&prop, &pr, txs, lens), 0);
    lc_wr_init(out);
    assert_int_equal(lc_preprepare_encode(out, 2, 7, prop.p, prop.n, sk), 0);
    lc_wr_free(&prop);
}

static void test_preprepare(void **state) {
    (void)state;
    lc_wr w;
    build_preprepare(&w);
    lc_preprepare m;
    assert_int_equal(lc_preprepare_decode(&m, w.p, w.n), 0);
    assert_int_equal(m.view, 2);
    assert_int_equal(m.seq, 7);
    assert_int_equal(lc_preprepare_verify(w.p, w.n, pk), 0);
    lc_proposal pr;
    assert_int_equal(lc_proposal_decode(&pr, m.proposal, m.proposal_len), 0);
    assert_int_equal(pr.ntx, 2);
    size_t off = 0;
    const uint8_t *t;
    size_t len;
    assert_int_equal(lc_proposal_next_tx(&pr, &off, &t, &len), 0);
    assert_memory_equal(t, "first transaction", len);
    /* every truncation and a trailing byte are refused */
    for (size_t k = 0; k < w.n; k++)
        assert_int_not_equal(lc_preprepare_decode(&m, w.p, k), 0);
    uint8_t *longer = malloc(w.n + 1);
    memcpy(longer, w.p, w.n);
    longer[w.n] = 0;
    assert_int_not_equal(lc_preprepare_decode(&m, longer, w.n + 1), 0);
    free(longer);
    /* any flipped byte breaks the decode or the signature */
    for (size_t k = 0; k < w.n; k++) {
        w.p[k] ^= 0x40;
        int ok = lc_preprepare_decode(&m, w.p, w.n) == 0 && lc_preprepare_verify(w.p, w.n, pk) == 0;
        assert_false(ok);
        w.p[k] ^= 0x40;
    }
    lc_wr_free(&w);
}

static void test_vote_checkpoint_reply(void **state) {
    (void)state;
    lc_vote v = {.type = LC_T_PREPARE, .view = 3, .seq = 9, .replica = 1};
    memset(v.digest, 0xAB, 32);
    lc_wr w;
    lc_wr_init(&w);
    assert_int_equal(lc_vote_encode(&w, &v, sk), 0);
    lc_vote d;
    assert_int_equal(lc_vote_decode(&d, LC_T_PREPARE, w.p, w.n), 0);
    assert_int_equal(d.seq, 9);
    assert_int_equal(d.replica, 1);
    assert_int_equal(lc_prepare_verify(w.p, w.n, pk), 0);
    w.p[3] ^= 1;
    assert_int_not_equal(lc_prepare_verify(w.p, w.n, pk), 0);
    for (size_t k = 0; k < w.n; k++)
        assert_int_not_equal(lc_vote_decode(&d, LC_T_PREPARE, w.p, k), 0);
    lc_wr_free(&w);

    lc_checkpoint c = {.seq = 64, .replica = 3};
    memset(c.block_hash, 7, 32);
    lc_wr_init(&w);
    assert_int_equal(lc_checkpoint_encode(&w, &c, sk), 0);
    lc_checkpoint cd;
    assert_int_equal(lc_checkpoint_decode(&cd, w.p, w.n), 0);
    assert_int_equal(cd.seq, 64);
    assert_int_equal(lc_checkpoint_verify(w.p, w.n, pk), 0);
    assert_int_not_equal(lc_checkpoint_decode(&cd, w.p, w.n - 1), 0);
    lc_wr_free(&w);

    lc_reply r = {.status = -209, .height = 5, .index = 17, .replica = 2};
    memset(r.tx_hash, 1, 32);
    memset(r.block_hash, 2, 32);
    lc_wr_init(&w);
    lc_reply_encode(&w, &r);
    lc_reply rd;
    assert_int_equal(lc_reply_decode(&rd, w.p, w.n), 0);
    assert_int_equal(rd.status, -209);
    assert_int_equal(rd.index, 17);
    assert_int_not_equal(lc_reply_decode(&rd, w.p, w.n - 1), 0);
    lc_wr_free(&w);
}

static void test_hello_and_frames(void **state) {
    (void)state;
    lc_hello h = {.role = 0, .id = 3};
    memset(h.eph_pk, 9, 32);
    memset(h.sig, 0, 64);
    uint8_t enc[LC_HELLO_BYTES];
    lc_hello_encode(&h, enc);
    lc_hello d;
    assert_int_equal(lc_hello_decode(&d, enc, sizeof enc), 0);
    assert_int_equal(d.id, 3);
    assert_int_not_equal(lc_hello_decode(&d, enc, sizeof enc - 1), 0);
    enc[5] = 1; /* client role with a replica id */
    assert_int_not_equal(lc_hello_decode(&d, enc, sizeof enc), 0);
    enc[5] = 0;
    enc[0] = 'X';
    assert_int_not_equal(lc_hello_decode(&d, enc, sizeof enc), 0);

    uint8_t stream[4 + 3 + 4 + 2 + 2] = {0, 0, 0, 3, 'a', 'b', 'c', 0, 0, 0, 2, 'd', 'e', 0, 0};
    size_t off = 0;
    const uint8_t *b;
    size_t bl;
    assert_int_equal(lc_frame_next(stream, sizeof stream, &off, &b, &bl), 1);
    assert_int_equal(bl, 3);
    assert_int_equal(lc_frame_next(stream, sizeof stream, &off, &b, &bl), 1);
    assert_memory_equal(b, "de", 2);
    assert_int_equal(lc_frame_next(stream, sizeof stream, &off, &b, &bl), 0); /* partial */
    uint8_t zero[4] = {0, 0, 0, 0};
    off = 0;
    assert_int_equal(lc_frame_next(zero, 4, &off, &b, &bl), -1);
    uint8_t huge[4] = {0xFF, 0xFF, 0xFF, 0xFF};
    off = 0;
    assert_int_equal(lc_frame_next(huge, 4, &off, &b, &bl), -1);
}

static const char good_cfg[] =
    "# test\n"
    "chain_id 0101010101010101010101010101010101010101010101010101010101010101\n"
    "f 1\n"
    "replica 0 127.0.0.1:7000 a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0\n"
    "replica 1 127.0.0.1:7001 a1a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0\n"
    "replica 2 127.0.0.1:7002 a2a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0\n"
    "replica 3 127.0.0.1:7003 a3a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0\n"
    "block_period_ms 10\n";

static void test_config(void **state) {
    (void)state;
    ledger_config *c;
    assert_int_equal(ledger_config_parse(&c, good_cfg, sizeof good_cfg - 1), 0);
    assert_int_equal(ledger_config_replicas(c), 4);
    assert_int_equal(ledger_config_f(c), 1);
    assert_string_equal(ledger_config_address(c, 2), "127.0.0.1:7002");
    assert_int_equal(ledger_config_key(c, 1)[0], 0xa1);
    assert_null(ledger_config_address(c, 4));
    assert_int_equal(ledger_config_self(c), -1);
    ledger_membership *m;
    assert_int_equal(ledger_config_membership(c, &m), 0);
    assert_int_equal(ledger_membership_size(m), 4);
    ledger_membership_free(m);
    ledger_config_free(c);
    const char *bad[] = {
        "f 1\n",              /* no chain id, no replicas */
        "chain_id 01\nf 1\n", /* short chain id */
        "chain_id 0101010101010101010101010101010101010101010101010101010101010101\nf 2\n",
        "chain_id 0101010101010101010101010101010101010101010101010101010101010101\nf 1\nbogus 1\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        c = (ledger_config *)1;
        assert_int_equal(ledger_config_parse(&c, bad[i], strlen(bad[i])), LEDGER_E_CONFIG);
        assert_null(c);
    }
    /* f = 2 needs 7 replicas; a duplicate id, a bad address, a bad key */
    char buf[2048];
    snprintf(buf, sizeof buf, "%s", good_cfg);
    char *p = strstr(buf, "f 1");
    p[2] = '2';
    assert_int_equal(ledger_config_parse(&c, buf, strlen(buf)), LEDGER_E_CONFIG);
    snprintf(buf, sizeof buf, "%s", good_cfg);
    strstr(buf, "replica 3")[8] = '2';
    assert_int_equal(ledger_config_parse(&c, buf, strlen(buf)), LEDGER_E_CONFIG);
    snprintf(buf, sizeof buf, "%s", good_cfg);
    memcpy(strstr(buf, "127.0.0.1:7003"), "999.0.0.1:7003", 14);
    assert_int_equal(ledger_config_parse(&c, buf, strlen(buf)), LEDGER_E_CONFIG);
    snprintf(buf, sizeof buf, "%s", good_cfg);
    strstr(buf, "a3a0")[0] = 'z';
    assert_int_equal(ledger_config_parse(&c, buf, strlen(buf)), LEDGER_E_CONFIG);
    /* "-": a replica not addressed in the file (dialled at the address its
     * addition records); two of them do not clash, "--" is not an address */
    snprintf(buf, sizeof buf,
             "%sreplica 4 - "
             "a4a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0\nreplica 5 - "
             "a5a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0\n"
             "genesis_replicas 4\n",
             good_cfg);
    assert_int_equal(ledger_config_parse(&c, buf, strlen(buf)), 0);
    assert_string_equal(ledger_config_address(c, 4), "-");
    assert_string_equal(ledger_config_address(c, 5), "-");
    ledger_config_free(c);
    snprintf(buf, sizeof buf,
             "%sreplica 4 -- "
             "a4a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0\n"
             "genesis_replicas 4\n",
             good_cfg);
    assert_int_equal(ledger_config_parse(&c, buf, strlen(buf)), LEDGER_E_CONFIG);
    /* checkpoint_every: 1 … 1024 (the log holds at least 2K entries) */
    snprintf(buf, sizeof buf, "%scheckpoint_every 1024\n", good_cfg);
    assert_int_equal(ledger_config_parse(&c, buf, strlen(buf)), 0);
    ledger_config_free(c);
    snprintf(buf, sizeof buf, "%scheckpoint_every 1025\n", good_cfg);
    assert_int_equal(ledger_config_parse(&c, buf, strlen(buf)), LEDGER_E_CONFIG);
    snprintf(buf, sizeof buf, "%scheckpoint_every 0\n", good_cfg);
    assert_int_equal(ledger_config_parse(&c, buf, strlen(buf)), LEDGER_E_CONFIG);
    /* genesis_replicas: replicas above it join later by a membership change */
    snprintf(
        buf, sizeof buf,
        "%sreplica 4 127.0.0.1:7004 "
        "a4a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0\ngenesis_replicas 4\n",
        good_cfg);
    assert_int_equal(ledger_config_parse(&c, buf, strlen(buf)), 0);
    assert_int_equal(ledger_config_replicas(c), 5);
    ledger_membership *gm;
    assert_int_equal(ledger_config_membership(c, &gm), 0);
    assert_int_equal(ledger_membership_size(gm), 4);
    ledger_membership_free(gm);
    ledger_config_free(c);
    snprintf(buf, sizeof buf, "%sgenesis_replicas 5\n", good_cfg); /* more than configured */
    assert_int_equal(ledger_config_parse(&c, buf, strlen(buf)), LEDGER_E_CONFIG);
    snprintf(buf, sizeof buf, "%sgenesis_replicas 3\n", good_cfg); /* below 4 */
    assert_int_equal(ledger_config_parse(&c, buf, strlen(buf)), LEDGER_E_CONFIG);
    assert_int_equal(ledger_config_parse(NULL, good_cfg, 10), LEDGER_E_INVALID);
    assert_int_equal(ledger_config_load(&c, "/nonexistent/ledger.conf"), LEDGER_E_IO);
    assert_string_equal(ledger_strerror(LEDGER_E_TIMEOUT),
                        "timed out waiting for replicas (f+1 matching replies)");
}

/* The parser prints nothing: the caller gets the text naming the line
 * (ledger_config_parse_ex, ledger_config_load_ex). Before the log API the
 * library wrote these lines to stderr. */
static void test_config_error_text(void **state) {
    (void)state;
    char buf[2048], err[LEDGER_CONFIG_ERROR_BYTES], small[8], out[512];
    snprintf(buf, sizeof buf, "%sbogus 1\n", good_cfg);
    ledger_config *c = (ledger_config *)1, *c2 = (ledger_config *)1, *c3 = NULL, *c4 = NULL;
    stderr_capture cap;
    assert_int_equal(capture_begin(&cap), 0);
    int rc_bad = ledger_config_parse_ex(&c, buf, strlen(buf), err, sizeof err);
    char err_bad[sizeof err];
    memcpy(err_bad, err, sizeof err);
    memset(small, 'x', sizeof small);
    int rc_small = ledger_config_parse_ex(&c2, buf, strlen(buf), small, sizeof small);
    int rc_good = ledger_config_parse_ex(&c3, good_cfg, sizeof good_cfg - 1, err, sizeof err);
    char err_good[sizeof err];
    memcpy(err_good, err, sizeof err);
    int rc_io = ledger_config_load_ex(&c4, "/nonexistent/ledger.conf", err, sizeof err);
    char err_io[sizeof err];
    memcpy(err_io, err, sizeof err);
    int rc_req = ledger_config_parse_ex(&c4, "f 1\n", 4, err, sizeof err);
    char err_req[sizeof err];
    memcpy(err_req, err, sizeof err);
    int rc_noerr = ledger_config_parse_ex(&c4, buf, strlen(buf), NULL, 0);
    int rc_old = ledger_config_parse(&c4, buf, strlen(buf)); /* the old call: silent too */
    long printed = capture_end(&cap, out, sizeof out);
    assert_int_equal(printed, 0);
    assert_int_equal(rc_bad, LEDGER_E_CONFIG);
    assert_null(c);
    assert_string_equal(err_bad, "line 9: invalid setting 'bogus'");
    assert_int_equal(rc_small, LEDGER_E_CONFIG);
    assert_null(c2);
    assert_string_equal(small, "line 9:"); /* cut to fit, NUL-terminated */
    assert_int_equal(rc_good, 0);
    assert_string_equal(err_good, "");
    ledger_config_free(c3);
    assert_int_equal(rc_io, LEDGER_E_IO);
    assert_string_equal(err_io, "cannot open the file");
    assert_int_equal(rc_req, LEDGER_E_CONFIG);
    assert_string_equal(err_req, "chain_id and f are required");
    assert_int_equal(rc_noerr, LEDGER_E_CONFIG);
    assert_int_equal(rc_old, LEDGER_E_CONFIG);
    assert_null(c4);
}

static void test_map(void **state) {
    (void)state;
    lc_map m = {0};
    uint8_t k[32];
    for (uint32_t i = 0; i < 5000; i++) {
        crypto_hash_sha256(k, (const uint8_t *)&i, sizeof i);
        assert_int_equal(lc_map_put(&m, k, i), 0);
    }
    assert_int_equal(m.n, 5000);
    for (uint32_t i = 0; i < 5000; i += 2) {
        crypto_hash_sha256(k, (const uint8_t *)&i, sizeof i);
        lc_map_del(&m, k);
    }
    for (uint32_t i = 0; i < 5000; i++) {
        crypto_hash_sha256(k, (const uint8_t *)&i, sizeof i);
        lc_map_ent *e = lc_map_get(&m, k);
        if (i % 2)
            assert_true(e && e->val == i);
        else
            assert_null(e);
    }
    assert_int_equal(m.n, 2500);
    lc_map_free(&m);
}

/* A VIEW-CHANGE (format 2) with stable checkpoint `stable` proven by k
 * checkpoint messages and no prepared entries. */
static void build_viewchange(lc_wr *w, uint64_t stable, uint32_t k) {
    uint8_t hash[32];
    memset(hash, 7, 32);
    lc_wr_init(w);
    lc_wr_u64(w, 1);
    lc_wr_u64(w, 0);
    uint8_t zero[32] = {0};
    lc_wr_bytes(w, zero, 32);
    lc_wr_var(w, NULL, 0);
    lc_wr_u64(w, stable);
    lc_wr_bytes(w, hash, 32);
    lc_wr_u32(w, k);
    for (uint32_t i = 0; i < k; i++) {
        lc_checkpoint c = {.seq = stable, .replica = i};
        memcpy(c.block_hash, hash, 32);
        lc_wr one;
        lc_wr_init(&one);
        lc_checkpoint_encode(&one, &c, sk);
        lc_wr_var(w, one.p, one.n);
        lc_wr_free(&one);
    }
    lc_wr_u32(w, 2);
    lc_wr_u32(w, 0);
    lc_msg_sign(w, LC_T_VIEWCHANGE, 0, sk);
}

static void test_viewchange(void **state) {
    (void)state;
    lc_wr w;
    build_viewchange(&w, 32, 3);
    lc_viewchange vc;
    assert_int_equal(lc_viewchange_decode(&vc, w.p, w.n), 0);
    assert_int_equal(lc_viewchange_verify(w.p, w.n, pk), 0);
    assert_int_equal(vc.new_view, 1);
    assert_int_equal(vc.stable, 32);
    assert_int_equal(vc.nckpt, 3);
    assert_int_equal(vc.replica, 2);
    assert_int_equal(vc.nprepared, 0);
    size_t off = 0;
    for (uint32_t i = 0; i < 3; i++) {
        const uint8_t *rec;
        size_t k;
        lc_checkpoint c;
        assert_int_equal(lc_next_var(vc.ckpts, vc.ckpts_len, &off, &rec, &k), 0);
        assert_int_equal(lc_checkpoint_decode(&c, rec, k), 0);
        assert_int_equal(c.seq, 32);
        assert_int_equal(c.replica, i);
        assert_int_equal(lc_checkpoint_verify(rec, k, pk), 0);
    }
    assert_int_equal(off, vc.ckpts_len);
    /* every truncation and a trailing byte are refused */
    for (size_t n = 0; n < w.n; n++)
        assert_int_not_equal(lc_viewchange_decode(&vc, w.p, n), 0);
    lc_wr_u8(&w, 0);
    assert_int_not_equal(lc_viewchange_decode(&vc, w.p, w.n), 0);
    lc_wr_free(&w);
    /* a proof count above the member limit is refused */
    build_viewchange(&w, 32, 0);
    lc_put_u32(w.p + 8 + 8 + 32 + 4 + 8 + 32, LC_MAX_REPLICAS + 1);
    assert_int_not_equal(lc_viewchange_decode(&vc, w.p, w.n), 0);
    lc_wr_free(&w);
}

static void write_seed(const char *dir, const char *name, const uint8_t *p, size_t n) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/seed1", dir, name);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(p, 1, n, f);
        fclose(f);
    }
}

static int write_corpus(const char *dir) {
    lc_wr w;
    build_preprepare(&w);
    write_seed(dir, "preprepare", w.p, w.n);
    lc_wr_free(&w);
    lc_vote v = {.type = LC_T_PREPARE, .view = 1, .seq = 2, .replica = 1};
    lc_wr_init(&w);
    lc_vote_encode(&w, &v, sk);
    write_seed(dir, "vote", w.p, w.n);
    lc_wr_free(&w);
    lc_checkpoint c = {.seq = 32, .replica = 0};
    lc_wr_init(&w);
    lc_checkpoint_encode(&w, &c, sk);
    write_seed(dir, "checkpoint", w.p, w.n);
    lc_wr_free(&w);
    lc_reply r = {.height = 1};
    lc_wr_init(&w);
    lc_reply_encode(&w, &r);
    write_seed(dir, "reply", w.p, w.n);
    lc_wr_free(&w);
    lc_hello h = {.role = 0, .id = 1};
    uint8_t enc[LC_HELLO_BYTES + 4];
    lc_put_u32(enc, LC_HELLO_BYTES);
    lc_hello_encode(&h, enc + 4);
    write_seed(dir, "hello", enc + 4, LC_HELLO_BYTES);
    write_seed(dir, "frame", enc, sizeof enc);
    write_seed(dir, "config", (const uint8_t *)good_cfg, sizeof good_cfg - 1);
    /* a view change with a stable checkpoint and no prepared entries, and a
     * new view carrying it */
    build_viewchange(&w, 32, 3);
    write_seed(dir, "viewchange", w.p, w.n);
    lc_wr nv;
    lc_wr_init(&nv);
    lc_wr_u64(&nv, 1);
    lc_wr_u32(&nv, 1);
    lc_wr_var(&nv, w.p, w.n);
    lc_wr_u32(&nv, 0);
    lc_msg_sign(&nv, LC_T_NEWVIEW, 0, sk);
    write_seed(dir, "newview", nv.p, nv.n);
    lc_wr_free(&nv);
    lc_wr_free(&w);
    return 0;
}

int main(int argc, char **argv) {
    if (sodium_init() < 0)
        return 1;
    uint8_t seed[32] = {42};
    crypto_sign_seed_keypair(pk, sk, seed);
    if (argc == 3 && !strcmp(argv[1], "--write-corpus"))
        return write_corpus(argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_preprepare),        cmocka_unit_test(test_vote_checkpoint_reply),
        cmocka_unit_test(test_hello_and_frames),  cmocka_unit_test(test_config),
        cmocka_unit_test(test_config_error_text), cmocka_unit_test(test_map),
        cmocka_unit_test(test_viewchange),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
