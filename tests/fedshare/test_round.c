/* One training round end to end with real crypto against four live fedshare
 * nodes (in this process, real sockets and LMDB): data registered, policies
 * set, access granted, a 2-of-3 key recorded, a task created and joined,
 * three encrypted updates, the encrypted sum, a key holder's bad batch of
 * decryption shares (one proof; element 0 is the share of another ciphertext)
 * named by the aggregator on the ledger and the two batches it verified
 * recorded as verified, the global model computed by the aggregator and
 * recomputed by every participant, evaluations; the model equals plain FedAvg
 * within the codec's bound. Then a round left with one accepted update is
 * skipped and no holder's client posts a share for it. Also the metrics
 * endpoint. Mid-task, the consortium upgrades its contracts to version 2 (the
 * robust anomaly rule for every round; issue 20): four of the five members
 * approve a plan right after the task is created, it activates during round 1,
 * and the task goes on — the clients rebuild their transactions for version 2
 * after one refusal, and every block from the activation height names it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <abac.h>
#include <abac/cedar.h>
#include <fedavg.h>

#include "fedshare.h"
#include "test_primes.h"
#include "../fixtures/free_port.h"

#define T  20000 /* ms per act */
#define NP 40    /* model parameters */

static int free_port(void) {
    return test_free_port();
}

typedef struct world {
    char dir[64], cfg_path[128];
    uint8_t node_seed[4][32], member_seed[5][32], member_pk[5][32], member_sk[5][64];
    fedshare_node *nodes[4];
    fedshare_client *cl[5]; /* 0..2 hospitals, 3 regulator, 4 aggregator+publisher */
} world;

static uint32_t blob_quota_mib; /* node option of the next setup (0: default) */

static int setup(void **state) {
    world *w = calloc(1, sizeof *w);
    strcpy(w->dir, "/tmp/fedshare_round.XXXXXX");
    assert_non_null(mkdtemp(w->dir));
    snprintf(w->cfg_path, sizeof w->cfg_path, "%s/consortium.conf", w->dir);
    FILE *f = fopen(w->cfg_path, "w");
    assert_non_null(f);
    uint8_t chain[32];
    char hex[65];
    randombytes_buf(chain, 32);
    sodium_bin2hex(hex, sizeof hex, chain, 32);
    fprintf(f, "chain_id %s\nf 1\nblock_period_ms 10\nview_timeout_ms 2000\n", hex);
    for (int i = 0; i < 4; i++) {
        uint8_t pk[32], sk[64];
        randombytes_buf(w->node_seed[i], 32);
        crypto_sign_seed_keypair(pk, sk, w->node_seed[i]);
        sodium_bin2hex(hex, sizeof hex, pk, 32);
        fprintf(f, "replica %d 127.0.0.1:%d %s\n", i, free_port(), hex);
    }
    const char *roles[] = {"provider,keyholder", "provider,keyholder", "provider,keyholder",
                           "regulator", "aggregator,publisher"};
    const char *orgs[] = {"hospital-a", "hospital-b", "hospital-c", "regulator", "consortium"};
    for (int i = 0; i < 5; i++) {
        randombytes_buf(w->member_seed[i], 32);
        crypto_sign_seed_keypair(w->member_pk[i], w->member_sk[i], w->member_seed[i]);
        sodium_bin2hex(hex, sizeof hex, w->member_pk[i], 32);
        fprintf(f, "member m%d %s roles=%s org=%s credentials=irb\n", i, hex, roles[i], orgs[i]);
    }
    fclose(f);
    for (int i = 0; i < 4; i++) {
        char dd[128];
        snprintf(dd, sizeof dd, "%s/node%d", w->dir, i);
        fedshare_node_options o = FEDSHARE_NODE_OPTIONS_INIT;
        o.id = i;
        o.data_dir = dd;
        o.seed = w->node_seed[i];
        o.sync = 2;
        o.blob_quota_mib = blob_quota_mib;
        o.metrics_port = i == 0 ? 0 : 0;
        if (i == 0)
            o.metrics_port = free_port();
        assert_int_equal(fedshare_node_start(&w->nodes[i], w->cfg_path, &o), FEDSHARE_OK);
    }
    for (int i = 0; i < 5; i++)
        assert_int_equal(fedshare_client_connect(&w->cl[i], w->cfg_path, w->member_seed[i], 5000),
                         FEDSHARE_OK);
    *state = w;
    return 0;
}

static int teardown(void **state) {
    world *w = *state;
    for (int i = 0; i < 5; i++)
        fedshare_client_close(w->cl[i]);
    for (int i = 0; i < 4; i++)
        fedshare_node_stop(w->nodes[i]);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", w->dir);
    assert_int_equal(system(cmd), 0);
    free(w);
    return 0;
}

static void set_open_policy(world *w, int owner, const uint8_t data_id[32]) {
    const char *src = "@id(\"members_train\")\n"
                      "permit (principal, action == Action::\"train\", resource)\n"
                      "when { context.purpose == \"training\" && "
                      "principal.credentials.contains(\"irb\") };";
    uint8_t members[5 * 32];
    for (int i = 0; i < 5; i++)
        memcpy(members + 32 * i, w->member_pk[i], 32);
    abac_compile_options o;
    abac_compile_options_init(&o);
    o.set_version = 1;
    o.members = members;
    o.n_members = 5;
    abac_cedar_policies *ps = NULL;
    assert_int_equal(abac_cedar_policies_compile(&ps, src, strlen(src), &o, NULL, NULL, NULL, 0),
                     0);
    size_t n = abac_cedar_policies_encoded_size(ps), wrote;
    uint8_t *buf = malloc(n), *pl;
    size_t len;
    assert_int_equal(abac_cedar_policies_encode(ps, buf, n, &wrote), 0);
    assert_int_equal(fedshare_payload_policy_set(data_id, buf, wrote, &pl, &len), 0);
    assert_int_equal(
        fedshare_client_submit(w->cl[owner], FEDSHARE_OP_POLICY_SET, pl, len, T, NULL, NULL),
        FEDSHARE_OK);
    fedshare_free(pl);
    free(buf);
    abac_cedar_policies_free(ps);
}

static void http_get(int port, const char *path, char *out, size_t cap) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    char req[128];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\n\r\n", path);
    assert_int_equal(write(fd, req, (size_t)n), n);
    size_t got = 0;
    ssize_t k;
    while (got < cap - 1 && (k = read(fd, out + got, cap - 1 - got)) > 0)
        got += (size_t)k;
    out[got] = 0;
    close(fd);
}

/* The hex value of "key":"…" after the first occurrence of `after` in json. */
static void json_hex32(const char *json, const char *after, const char *key, uint8_t out[32]) {
    const char *p = strstr(json, after);
    assert_non_null(p);
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    p = strstr(p, pat);
    assert_non_null(p);
    assert_int_equal(sodium_hex2bin(out, 32, p + strlen(pat), 64, NULL, NULL, NULL), 0);
}

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The ciphertexts of an "FSCV" vector blob (at most cap of them). */
static size_t vector_cts(const phe_threshold_params *pp, const uint8_t *b, size_t bl,
                         phe_ciphertext **cts, size_t cap) {
    assert_true(bl > 9 && !memcmp(b, "FSCV\x01", 5));
    uint32_t n = get_u32(b + 5);
    assert_true(n <= cap);
    size_t off = 9;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t cl = get_u32(b + off);
        assert_int_equal(phe_ciphertext_new(&cts[i]), 0);
        assert_int_equal(
            phe_ciphertext_decode(phe_threshold_params_pubkey(pp), cts[i], b + off + 4, cl), 0);
        off += 4 + cl;
    }
    return n;
}

/* Holder `who` posts a batch of shares (one proof) of the aggregate in which
 * element 0 is the share of participant 0's update instead: well formed, its
 * own index, of the aggregate's list, the other elements right, but its proof
 * does not verify. */
static void post_wrong_share(world *w, const uint8_t task[32], const phe_threshold_params *pp,
                             const phe_threshold_keyshare *ks, int who, uint8_t blob_out[32]) {
    char *json = NULL;
    assert_int_equal(
        fedshare_client_record_json(w->cl[3], FEDSHARE_REC_ROUND, task, NULL, 1, T, &json), 0);
    uint8_t upd_hash[32], agg_hash[32];
    json_hex32(json, "\"updates\"", "blob", upd_hash);
    json_hex32(json, "\"total_weight\"", "aggregate", agg_hash);
    fedshare_free(json);
    ledger_client *lc = fedshare_client_ledger(w->cl[who]);
    uint8_t *b = NULL;
    size_t bl = 0;
    phe_ciphertext *cts[8] = {0}, *upd[8] = {0};
    assert_int_equal(ledger_client_blob_get(lc, agg_hash, T, &b, &bl), 0);
    size_t n = vector_cts(pp, b, bl, cts, 8);
    ledger_free(b);
    assert_int_equal(ledger_client_blob_get(lc, upd_hash, T, &b, &bl), 0);
    size_t nu = vector_cts(pp, b, bl, upd, 8);
    ledger_free(b);
    assert_int_equal(nu, n);
    phe_ciphertext *wrong[8];
    for (size_t i = 0; i < n; i++)
        wrong[i] = i == 0 ? upd[0] : cts[i];
    phe_threshold_decshare_batch *bt = NULL;
    assert_int_equal(phe_threshold_decshare_batch_create(
                         &bt, pp, ks, (const phe_ciphertext *const *)wrong, n, NULL, NULL),
                     0);
    size_t sz = phe_threshold_decshare_batch_encoded_size(bt), wrote = 0;
    uint8_t *out = malloc(13 + sz);
    assert_non_null(out);
    memcpy(out, "FSDS\x02", 5);
    put_u32(out + 5, phe_threshold_keyshare_index(ks));
    put_u32(out + 9, (uint32_t)n);
    assert_int_equal(phe_threshold_decshare_batch_encode(bt, out + 13, sz, &wrote), 0);
    phe_threshold_decshare_batch_free(bt);
    /* claim the aggregate's list (its digest, PHTB offset 41, from an honest
     * batch): the batch is then of the right list, wrong in element 0 only */
    assert_int_equal(phe_threshold_decshare_batch_create(
                         &bt, pp, ks, (const phe_ciphertext *const *)cts, n, NULL, NULL),
                     0);
    uint8_t *honest = malloc(phe_threshold_decshare_batch_encoded_size(bt));
    size_t hl = 0;
    assert_non_null(honest);
    assert_int_equal(phe_threshold_decshare_batch_encode(
                         bt, honest, phe_threshold_decshare_batch_encoded_size(bt), &hl),
                     0);
    memcpy(out + 13 + 41, honest + 41, 32);
    free(honest);
    phe_threshold_decshare_batch_free(bt);
    /* structurally sound; its one proof fails against the aggregate */
    phe_threshold_decshare_batch *bad = NULL;
    assert_int_equal(phe_threshold_decshare_batch_decode(&bad, out + 13, wrote), 0);
    assert_int_equal(phe_threshold_verify_batch(pp, (const phe_ciphertext *const *)cts, n, bad),
                     PHE_ERR_THRESHOLD_PROOF_INVALID);
    phe_threshold_decshare_batch_free(bad);
    for (size_t i = 0; i < n; i++) {
        phe_ciphertext_free(cts[i]);
        phe_ciphertext_free(upd[i]);
    }
    uint8_t share_hash[32], *pl;
    size_t len;
    assert_int_equal(ledger_client_blob_put(lc, out, 13 + wrote, T, share_hash), 0);
    if (blob_out)
        memcpy(blob_out, share_hash, 32);
    free(out);
    assert_int_equal(fedshare_payload_decryption_share(task, 1, agg_hash, share_hash, &pl, &len),
                     0);
    /* the contract holds hashes only: it takes the share */
    assert_int_equal(
        fedshare_client_submit(w->cl[who], FEDSHARE_OP_DECRYPTION_SHARE, pl, len, T, NULL, NULL),
        FEDSHARE_OK);
    fedshare_free(pl);
}

static void expect_record(world *w, int kind, const uint8_t id[32], uint32_t round,
                          const char *needle) {
    char *json = NULL;
    assert_int_equal(fedshare_client_record_json(w->cl[3], kind, id, NULL, round, T, &json),
                     FEDSHARE_OK);
    if (!strstr(json, needle))
        fail_msg("%s not in %s", needle, json);
    fedshare_free(json);
}

static void test_one_round(void **state) {
    world *w = *state;
    /* data sets and their policies */
    uint8_t data[3][32];
    for (int i = 0; i < 3; i++) {
        uint8_t enc[32];
        randombytes_buf(enc, 32);
        assert_int_equal(
            fedshare_register_data(w->cl[i], enc, "ehr", "synthetic", NULL, 0, T, data[i]),
            FEDSHARE_OK);
        char *json = NULL;
        assert_int_equal(
            fedshare_client_record_json(w->cl[3], FEDSHARE_REC_DATA, data[i], NULL, 0, T, &json),
            FEDSHARE_OK);
        assert_non_null(strstr(json, "\"label\":\"ehr\""));
        fedshare_free(json);
        set_open_policy(w, i, data[i]);
    }
    /* hospital A asks for B's and C's data; a wrong purpose is denied first */
    char *dec = NULL;
    uint64_t now = (uint64_t)time(NULL);
    assert_int_equal(fedshare_request_access(w->cl[0], data[1], "train", "marketing", now,
                                             now + 3600, 1, T, &dec),
                     FEDSHARE_E_DENIED);
    assert_non_null(dec);
    assert_non_null(strstr(dec, "\"effect\":\"deny\""));
    fedshare_free(dec);
    for (int i = 1; i < 3; i++)
        assert_int_equal(fedshare_request_access(w->cl[0], data[i], "train", "training", now,
                                                 now + 3600, 1, T, NULL),
                         FEDSHARE_OK);
    /* the consortium key, dealt by hospital A (test primes), recorded */
    uint8_t p[128], q[128];
    size_t pn = unhex(PRIME1, p), qn = unhex(PRIME2, q);
    phe_threshold_params *pp = NULL;
    phe_threshold_keyshare *ks[3] = {0};
    assert_int_equal(phe_threshold_deal_with_primes(&pp, ks, p, pn, q, qn, 2, 3, NULL), 0);
    size_t en = phe_threshold_params_encoded_size(pp), wrote, len;
    uint8_t *enc = malloc(en), holders[96], shares[96], key_id[32], *pl;
    assert_int_equal(phe_threshold_params_encode(pp, enc, en, &wrote), 0);
    for (int i = 0; i < 3; i++) {
        memcpy(holders + 32 * i, w->member_pk[i], 32);
        randombytes_buf(shares + 32 * i, 32);
    }
    assert_int_equal(fedshare_payload_key_record(enc, wrote, holders, shares, 3, &pl, &len), 0);
    assert_int_equal(
        fedshare_client_submit(w->cl[0], FEDSHARE_OP_KEY_RECORD, pl, len, T, NULL, NULL),
        FEDSHARE_OK);
    fedshare_free(pl);
    free(enc);
    assert_int_equal(phe_threshold_params_key_id(pp, key_id), 0);
    phe_threshold_params *fetched = NULL;
    assert_int_equal(fedshare_client_key_params(w->cl[1], key_id, T, &fetched), FEDSHARE_OK);
    const phe_pubkey *pk = phe_threshold_params_pubkey(fetched);

    /* the initial model, published */
    float init[NP];
    for (int i = 0; i < NP; i++)
        init[i] = 0.01f * (float)i;
    uint8_t digest[32], structure[32], model_id[32];
    assert_int_equal(fedshare_put_model(w->cl[4], init, NP, T, digest), FEDSHARE_OK);
    memset(structure, 0x5A, 32);
    assert_int_equal(fedshare_payload_model_publish(structure, digest, NP, "test", &pl, &len), 0);
    assert_int_equal(
        fedshare_client_submit(w->cl[4], FEDSHARE_OP_MODEL_PUBLISH, pl, len, T, NULL, NULL),
        FEDSHARE_OK);
    fedshare_free(pl);
    assert_int_equal(fedshare_model_id(structure, digest, model_id), 0);

    /* the task */
    fedavg_codec_config cc;
    fedavg_codec_config_init(&cc);
    cc.plaintext_bytes = (uint32_t)phe_plaintext_size(pk) - 1;
    cc.max_weight = 10000;
    cc.precision = 1e-5;
    fedavg_codec *codec = NULL;
    assert_int_equal(fedavg_codec_select(&codec, &cc), 0);
    uint8_t cbytes[256];
    assert_int_equal(fedavg_codec_encode(codec, cbytes, sizeof cbytes), 0);
    uint8_t parts[96], datas[96], task[32];
    for (int i = 0; i < 3; i++) {
        memcpy(parts + 32 * i, w->member_pk[i], 32);
        memcpy(datas + 32 * i, data[i], 32);
    }
    fedshare_task_spec s;
    fedshare_task_spec_init(&s);
    memcpy(s.model_id, model_id, 32);
    memcpy(s.key_id, key_id, 32);
    memcpy(s.aggregator, w->member_pk[4], 32);
    s.n_participants = 3;
    s.participants = parts;
    s.data_ids = datas;
    s.codec = cbytes;
    s.codec_len = fedavg_codec_encoded_bytes();
    s.anomaly_warmup = 3; /* round 1's three updates warm the test up for round 2 */
    assert_int_equal(fedshare_payload_task_create(&s, &pl, &len), 0);
    uint64_t created_at = 0;
    assert_int_equal(
        fedshare_client_submit(w->cl[0], FEDSHARE_OP_TASK_CREATE, pl, len, T, task, &created_at),
        FEDSHARE_OK);
    fedshare_free(pl);

    /* the contract upgrade, approved by 4 of the 5 members (more than two thirds) */
    uint64_t up_h = created_at + LEDGER_UPGRADE_LEAD_MIN + 4;
    uint8_t build[32];
    memset(build, 0xB2, sizeof build);
    assert_int_equal(ledger_upgrade_propose_payload("robust-rule", 2, build, up_h, &pl, &len), 0);
    assert_int_equal(
        fedshare_client_submit(w->cl[4], LEDGER_OP_UPGRADE_PROPOSE, pl, len, T, NULL, NULL),
        FEDSHARE_OK);
    ledger_free(pl);
    assert_int_equal(ledger_upgrade_name_payload("robust-rule", &pl, &len), 0);
    for (int i = 0; i < 3; i++) {
        uint64_t at = 0;
        assert_int_equal(
            fedshare_client_submit(w->cl[i], LEDGER_OP_UPGRADE_APPROVE, pl, len, T, NULL, &at),
            FEDSHARE_OK);
        assert_true(at < up_h);
    }
    ledger_free(pl);

    for (int i = 0; i < 3; i++)
        assert_int_equal(fedshare_join_task(w->cl[i], task, T), FEDSHARE_OK);

    /* round 1: three weighted updates, encrypted */
    float upd[3][NP];
    uint32_t weight[3] = {120, 200, 80};
    size_t npt = fedavg_codec_plaintexts(codec, NP), ptb = fedavg_codec_plaintext_bytes(codec);
    uint8_t *packed = malloc(npt * ptb);
    for (int i = 0; i < 3; i++) {
        for (int k = 0; k < NP; k++)
            upd[i][k] = (float)((k % 7) - 3) * 0.05f * (float)(i + 1);
        assert_int_equal(fedavg_codec_pack(codec, upd[i], NP, weight[i], packed, npt * ptb, NULL),
                         0);
        assert_int_equal(fedshare_upload_update(w->cl[i], task, 1, pk, NULL, packed, npt, ptb,
                                                weight[i], 1.0, 0.0, T),
                         FEDSHARE_OK);
    }
    free(packed);
    assert_int_equal(fedshare_aggregate(w->cl[4], task, 1, pk, NULL, T), FEDSHARE_OK);
    int matches = 0;
    assert_int_equal(fedshare_check_aggregate(w->cl[2], task, 1, pk, NULL, T, &matches),
                     FEDSHARE_OK);
    assert_int_equal(matches, 1);
    /* issue 23 (3): holder A's share does not verify; with B's, t = 2 are recorded.
     * The aggregator finds one good share, names A on the ledger and cannot
     * finalize yet; C's share is still taken (on the old contract it was refused
     * with -511 and the round stalled), and the round finalizes with B's and C's. */
    post_wrong_share(w, task, fetched, ks[0], 0, NULL);
    assert_int_equal(fedshare_post_decryption_share(w->cl[1], task, 1, fetched, ks[1], T),
                     FEDSHARE_OK);
    expect_record(w, FEDSHARE_REC_TASK, task, 0, "\"phase\":4");
    assert_int_equal(fedshare_finalize_round(w->cl[4], task, 1, fetched, T), FEDSHARE_E_SHARE);
    expect_record(w, FEDSHARE_REC_ROUND, task, 1, "\"refused\":true");
    expect_record(w, FEDSHARE_REC_TASK, task, 0, "\"phase\":3");
    assert_int_equal(fedshare_post_decryption_share(w->cl[0], task, 1, fetched, ks[0], T),
                     FEDSHARE_E_EXISTS);
    assert_int_equal(fedshare_post_decryption_share(w->cl[2], task, 1, fetched, ks[2], T),
                     FEDSHARE_OK);
    assert_int_equal(fedshare_finalize_round(w->cl[4], task, 1, fetched, T), FEDSHARE_OK);
    /* the two batches combined carry the aggregator's recorded "verified" verdict */
    expect_record(w, FEDSHARE_REC_ROUND, task, 1, "\"refused\":false,\"verified\":true");
    expect_record(w, FEDSHARE_REC_ROUND, task, 1, "\"refused\":true,\"verified\":false");

    /* every participant recomputes the model, checks it against plain FedAvg, evaluates */
    const float *rows[3] = {upd[0], upd[1], upd[2]};
    double wd[3] = {120, 200, 80};
    float mean[NP];
    assert_int_equal(fedavg_average(rows, wd, 3, NP, mean), 0);
    double bound = fedavg_codec_error_bound(codec);
    for (int i = 0; i < 3; i++) {
        float *model = NULL;
        size_t n = 0;
        assert_int_equal(fedshare_compute_global(w->cl[i], task, 1, fetched, T, &model, &n),
                         FEDSHARE_OK);
        assert_int_equal(n, NP);
        for (int k = 0; k < NP; k++)
            assert_true(fabs((double)model[k] - (double)(init[k] + mean[k])) <= bound + 1e-6);
        uint8_t d[32];
        assert_int_equal(fedavg_model_digest(model, n, d), 0);
        fedshare_free(model);
        assert_int_equal(fedshare_evaluate(w->cl[i], task, 1, d, 0.9, 50, T), FEDSHARE_OK);
    }
    char *json = NULL;
    assert_int_equal(
        fedshare_client_record_json(w->cl[3], FEDSHARE_REC_TASK, task, NULL, 0, T, &json),
        FEDSHARE_OK);
    assert_non_null(strstr(json, "\"phase\":1,\"stop_reason\":0,\"round\":2"));
    fedshare_free(json);
    float *global = NULL;
    size_t gn = 0;
    uint32_t gr = 0;
    assert_int_equal(fedshare_fetch_global(w->cl[2], task, T, &global, &gn, &gr), FEDSHARE_OK);
    assert_int_equal(gr, 1);
    assert_int_equal(gn, NP);
    fedshare_free(global);

    /* issue 23 (5): round 2 with two updates judged suspicious leaves one accepted
     * (fewer than the default minimum of 3): skipped, and no holder's client posts a
     * share for it (on the old contract the round went on to decryption) */
    double norms[3] = {1e6, 1e-6, 1.0};
    packed = malloc(npt * ptb);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(fedavg_codec_pack(codec, upd[i], NP, weight[i], packed, npt * ptb, NULL),
                         0);
        assert_int_equal(fedshare_upload_update(w->cl[i], task, 2, pk, NULL, packed, npt, ptb,
                                                weight[i], norms[i], 0.0, T),
                         FEDSHARE_OK);
    }
    free(packed);
    expect_record(w, FEDSHARE_REC_ROUND, task, 2, "\"skipped\":true");
    expect_record(w, FEDSHARE_REC_TASK, task, 0, "\"phase\":1,\"stop_reason\":0,\"round\":3");
    assert_int_equal(fedshare_aggregate(w->cl[4], task, 2, pk, NULL, T), FEDSHARE_E_STATE);
    for (int i = 0; i < 3; i++)
        assert_int_equal(fedshare_post_decryption_share(w->cl[i], task, 2, fetched, ks[i], T),
                         FEDSHARE_E_TOO_FEW);
    expect_record(w, FEDSHARE_REC_ROUND, task, 2, "\"shares\":[]");

    /* the upgrade took force during the task, which went on */
    {
        ledger_client *lc = fedshare_client_ledger(w->cl[3]);
        uint8_t key[96], *v = NULL;
        size_t kl, vl;
        assert_int_equal(ledger_upgrade_key("robust-rule", key, &kl), 0);
        assert_int_equal(ledger_client_get(lc, key, kl, T, &v, &vl), 0);
        ledger_upgrade_info info;
        assert_int_equal(ledger_upgrade_decode(&info, v, vl), 0);
        ledger_free(v);
        assert_int_equal(info.status, LEDGER_UPGRADE_ACTIVATED);
        assert_int_equal(info.approvals, 4);
        assert_int_equal(info.decided_at, up_h);
        uint32_t ver = 0;
        assert_int_equal(ledger_client_app_version(lc, T, &ver), 0);
        assert_int_equal(ver, 2);
        for (uint64_t h = up_h - 1; h <= up_h; h++) {
            ledger_block *b = NULL;
            assert_int_equal(ledger_client_block(lc, h, T, &b), 0);
            assert_int_equal(ledger_block_app_version(b), h < up_h ? 1 : 2);
            ledger_block_free(b);
        }
        /* round 2 was judged under version 2 (it closed after the activation) */
        char *rj = NULL;
        assert_int_equal(
            fedshare_client_record_json(w->cl[3], FEDSHARE_REC_TASK, task, NULL, 0, T, &rj),
            FEDSHARE_OK);
        fedshare_free(rj);
    }

    /* the metrics endpoint of node 0 */
    char page[8192];
    http_get((int)fedshare_node_metrics_port(w->nodes[0]), "/metrics", page, sizeof page);
    assert_non_null(strstr(page, "200 OK"));
    assert_non_null(strstr(page, "fedshare_height "));
    assert_non_null(strstr(page, "fedshare_peers 3"));
    http_get((int)fedshare_node_metrics_port(w->nodes[0]), "/health", page, sizeof page);
    assert_non_null(strstr(page, "ok"));

    fedavg_codec_free(codec);
    phe_threshold_params_free(fetched);
    phe_threshold_params_free(pp);
    for (int i = 0; i < 3; i++)
        phe_threshold_keyshare_free(ks[i]);
}

/* A lying aggregator (issue 12): holder A posts a forged batch of shares (one
 * element decrypts another ciphertext; its proof fails), B and C honest ones.
 * The aggregator records A's batch as VERIFIED — a verdict the contract takes
 * on its word — and finalizes with the digest of a model that is not the
 * decryption of the aggregate. A participant must not accept it: its client
 * verifies every batch it combines whatever the ledger says (a client that
 * trusted the recorded verdict would combine A's forged batch), so it sets A
 * aside, combines B's and C's, gets the true model, and its evaluation
 * disputes the recorded one (the round goes back to finalize, no metric). */
static void test_forged_share_marked_verified_is_not_accepted(void **state) {
    world *w = *state;
    uint8_t data[3][32];
    for (int i = 0; i < 3; i++) {
        uint8_t enc[32];
        randombytes_buf(enc, 32);
        assert_int_equal(
            fedshare_register_data(w->cl[i], enc, "ehr", "synthetic", NULL, 0, T, data[i]),
            FEDSHARE_OK);
        set_open_policy(w, i, data[i]);
    }
    uint64_t now = (uint64_t)time(NULL);
    for (int i = 1; i < 3; i++)
        assert_int_equal(fedshare_request_access(w->cl[0], data[i], "train", "training", now,
                                                 now + 3600, 1, T, NULL),
                         FEDSHARE_OK);
    uint8_t p[128], q[128];
    size_t pn = unhex(PRIME1, p), qn = unhex(PRIME2, q);
    phe_threshold_params *pp = NULL;
    phe_threshold_keyshare *ks[3] = {0};
    assert_int_equal(phe_threshold_deal_with_primes(&pp, ks, p, pn, q, qn, 2, 3, NULL), 0);
    size_t en = phe_threshold_params_encoded_size(pp), wrote, len;
    uint8_t *enc = malloc(en), holders[96], shares[96], key_id[32], *pl;
    assert_int_equal(phe_threshold_params_encode(pp, enc, en, &wrote), 0);
    for (int i = 0; i < 3; i++) {
        memcpy(holders + 32 * i, w->member_pk[i], 32);
        randombytes_buf(shares + 32 * i, 32);
    }
    assert_int_equal(fedshare_payload_key_record(enc, wrote, holders, shares, 3, &pl, &len), 0);
    assert_int_equal(
        fedshare_client_submit(w->cl[0], FEDSHARE_OP_KEY_RECORD, pl, len, T, NULL, NULL),
        FEDSHARE_OK);
    fedshare_free(pl);
    free(enc);
    assert_int_equal(phe_threshold_params_key_id(pp, key_id), 0);
    const phe_pubkey *pk = phe_threshold_params_pubkey(pp);
    float init[NP];
    for (int i = 0; i < NP; i++)
        init[i] = 0.02f * (float)i;
    uint8_t digest[32], structure[32], model_id[32];
    assert_int_equal(fedshare_put_model(w->cl[4], init, NP, T, digest), FEDSHARE_OK);
    memset(structure, 0x6B, 32);
    assert_int_equal(fedshare_payload_model_publish(structure, digest, NP, "lying", &pl, &len), 0);
    assert_int_equal(
        fedshare_client_submit(w->cl[4], FEDSHARE_OP_MODEL_PUBLISH, pl, len, T, NULL, NULL),
        FEDSHARE_OK);
    fedshare_free(pl);
    assert_int_equal(fedshare_model_id(structure, digest, model_id), 0);
    fedavg_codec_config cc;
    fedavg_codec_config_init(&cc);
    cc.plaintext_bytes = (uint32_t)phe_plaintext_size(pk) - 1;
    cc.max_weight = 10000;
    cc.precision = 1e-5;
    fedavg_codec *codec = NULL;
    assert_int_equal(fedavg_codec_select(&codec, &cc), 0);
    uint8_t cbytes[256];
    assert_int_equal(fedavg_codec_encode(codec, cbytes, sizeof cbytes), 0);
    uint8_t parts[96], datas[96], task[32];
    for (int i = 0; i < 3; i++) {
        memcpy(parts + 32 * i, w->member_pk[i], 32);
        memcpy(datas + 32 * i, data[i], 32);
    }
    fedshare_task_spec s;
    fedshare_task_spec_init(&s);
    memcpy(s.model_id, model_id, 32);
    memcpy(s.key_id, key_id, 32);
    memcpy(s.aggregator, w->member_pk[4], 32);
    s.n_participants = 3;
    s.participants = parts;
    s.data_ids = datas;
    s.codec = cbytes;
    s.codec_len = fedavg_codec_encoded_bytes();
    assert_int_equal(fedshare_payload_task_create(&s, &pl, &len), 0);
    assert_int_equal(
        fedshare_client_submit(w->cl[0], FEDSHARE_OP_TASK_CREATE, pl, len, T, task, NULL),
        FEDSHARE_OK);
    fedshare_free(pl);
    for (int i = 0; i < 3; i++)
        assert_int_equal(fedshare_join_task(w->cl[i], task, T), FEDSHARE_OK);
    float upd[3][NP];
    uint32_t weight[3] = {100, 150, 50};
    size_t npt = fedavg_codec_plaintexts(codec, NP), ptb = fedavg_codec_plaintext_bytes(codec);
    uint8_t *packed = malloc(npt * ptb);
    for (int i = 0; i < 3; i++) {
        for (int k = 0; k < NP; k++)
            upd[i][k] = (float)((k % 5) - 2) * 0.03f * (float)(i + 1);
        assert_int_equal(fedavg_codec_pack(codec, upd[i], NP, weight[i], packed, npt * ptb, NULL),
                         0);
        assert_int_equal(fedshare_upload_update(w->cl[i], task, 1, pk, NULL, packed, npt, ptb,
                                                weight[i], 1.0, 0.0, T),
                         FEDSHARE_OK);
    }
    free(packed);
    assert_int_equal(fedshare_aggregate(w->cl[4], task, 1, pk, NULL, T), FEDSHARE_OK);

    /* A's forged batch, B's and C's honest ones (C's taken in finalize) */
    uint8_t forged[32];
    post_wrong_share(w, task, pp, ks[0], 0, forged);
    assert_int_equal(fedshare_post_decryption_share(w->cl[1], task, 1, pp, ks[1], T), FEDSHARE_OK);
    expect_record(w, FEDSHARE_REC_TASK, task, 0, "\"phase\":4");
    assert_int_equal(fedshare_post_decryption_share(w->cl[2], task, 1, pp, ks[2], T), FEDSHARE_OK);
    /* the lie: A's forged batch "verified", then a model that is not the sum's */
    assert_int_equal(fedshare_payload_share_verified(task, 1, w->member_pk[0], forged, &pl, &len),
                     0);
    assert_int_equal(
        fedshare_client_submit(w->cl[4], FEDSHARE_OP_SHARE_VERDICT, pl, len, T, NULL, NULL),
        FEDSHARE_OK);
    fedshare_free(pl);
    expect_record(w, FEDSHARE_REC_ROUND, task, 1, "\"refused\":false,\"verified\":true");
    const float *rows[3] = {upd[0], upd[1], upd[2]};
    double wd[3] = {100, 150, 50};
    float mean[NP], lie[NP];
    assert_int_equal(fedavg_average(rows, wd, 3, NP, mean), 0);
    for (int k = 0; k < NP; k++)
        lie[k] = init[k] + mean[k] + (k == 0 ? 0.5f : 0.0f); /* element 0 poisoned */
    uint8_t lie_digest[32], lie_blob[32];
    assert_int_equal(fedavg_model_digest(lie, NP, lie_digest), 0);
    assert_int_equal(fedshare_put_model(w->cl[4], lie, NP, T, lie_blob), FEDSHARE_OK);
    assert_int_equal(fedshare_payload_round_finalize(task, 1, lie_digest, lie_blob, &pl, &len), 0);
    assert_int_equal(
        fedshare_client_submit(w->cl[4], FEDSHARE_OP_ROUND_FINALIZE, pl, len, T, NULL, NULL),
        FEDSHARE_OK);
    fedshare_free(pl);
    expect_record(w, FEDSHARE_REC_TASK, task, 0, "\"phase\":5");

    /* each participant recomputes: A's batch fails its proof whatever the ledger
     * says, B's and C's give the true model, and the evaluation disputes the lie */
    double bound = fedavg_codec_error_bound(codec);
    uint8_t d[32];
    for (int i = 0; i < 3; i++) {
        float *model = NULL;
        size_t n = 0;
        assert_int_equal(fedshare_compute_global(w->cl[i], task, 1, pp, T, &model, &n),
                         FEDSHARE_OK);
        assert_int_equal(n, NP);
        for (int k = 0; k < NP; k++)
            assert_true(fabs((double)model[k] - (double)(init[k] + mean[k])) <= bound + 1e-6);
        assert_int_equal(fedavg_model_digest(model, n, d), 0);
        fedshare_free(model);
        assert_memory_not_equal(d, lie_digest, 32);
    }
    assert_int_equal(fedshare_evaluate(w->cl[1], task, 1, d, 0.9, 50, T), FEDSHARE_OK);
    /* disputed: back to finalize, no metric recorded, the lie is not the global model */
    expect_record(w, FEDSHARE_REC_TASK, task, 0, "\"phase\":4");
    expect_record(w, FEDSHARE_REC_TASK, task, 0, "\"metrics\":[]");
    char *json = NULL;
    assert_int_equal(
        fedshare_client_record_json(w->cl[3], FEDSHARE_REC_TASK, task, NULL, 0, T, &json),
        FEDSHARE_OK);
    char lie_hex[65];
    sodium_bin2hex(lie_hex, sizeof lie_hex, lie_digest, 32);
    assert_null(strstr(json, lie_hex));
    fedshare_free(json);
    fedavg_codec_free(codec);
    phe_threshold_params_free(pp);
    for (int i = 0; i < 3; i++)
        phe_threshold_keyshare_free(ks[i]);
}

/* Blob puts on fedshare nodes (issue 23): a raw ledger client without a
 * signer is refused, so is a key that is not a consortium member (a replica's
 * own key); a member's client signs without being asked, within its quota. */
static int setup_small_quota(void **state) {
    blob_quota_mib = 1;
    int rc = setup(state);
    blob_quota_mib = 0;
    return rc;
}

static uint64_t node_blobs(world *w, int i, const uint8_t *pk) {
    uint64_t b = 0;
    assert_int_equal(ledger_node_blob_usage(fedshare_node_replica(w->nodes[i]), pk, &b), 0);
    return b;
}

static void test_blob_puts(void **state) {
    world *w = *state;
    size_t n = 700 << 10;
    uint8_t *x = malloc(n), h[32], *v = NULL;
    size_t vl;
    for (size_t i = 0; i < n; i++)
        x[i] = (uint8_t)(i * 7 + 3);
    char *text;
    ledger_config *cfg;
    assert_int_equal(fedshare_config_load(w->cfg_path, &text, NULL, NULL, NULL), 0);
    assert_int_equal(ledger_config_parse(&cfg, text, strlen(text)), 0);
    fedshare_free(text);
    ledger_client *raw;
    assert_int_equal(ledger_client_connect(&raw, cfg, 5000), 0);
    assert_int_equal(ledger_client_blob_put(raw, x, 4096, T, h), LEDGER_E_BLOB_ANONYMOUS);
    ledger_signer *replica_key;
    assert_int_equal(ledger_signer_from_seed(&replica_key, w->node_seed[1]), 0);
    assert_int_equal(ledger_client_set_signer(raw, replica_key), 0);
    assert_int_equal(ledger_client_blob_put(raw, x, 4096, T, h), LEDGER_E_BLOB_DENIED);
    ledger_sha256(h, x, 4096);
    assert_int_equal(ledger_client_blob_get(raw, h, T, &v, &vl), LEDGER_E_NOT_FOUND);
    /* a member's client: signed by fedshare_client_connect's key, quota 1 MiB */
    ledger_client *lc = fedshare_client_ledger(w->cl[0]);
    assert_int_equal(ledger_client_blob_put(lc, x, n, T, h), 0);
    assert_int_equal(ledger_client_blob_put(lc, x + 1, n - 1, T, h), LEDGER_E_BLOB_QUOTA);
    ledger_sha256(h, x + 1, n - 1);
    assert_int_equal(ledger_client_blob_get(lc, h, T, &v, &vl), LEDGER_E_NOT_FOUND);
    for (int i = 0; i < 4; i++) {
        for (int tries = 0; tries < 500 && node_blobs(w, i, NULL) < n; tries++)
            usleep(10000);
        assert_int_equal(node_blobs(w, i, NULL), n);
        assert_int_equal(node_blobs(w, i, w->member_pk[0]), n);
    }
    ledger_signer_free(replica_key);
    ledger_client_close(raw);
    ledger_config_free(cfg);
    free(x);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_round, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forged_share_marked_verified_is_not_accepted, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_blob_puts, setup_small_quota, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
