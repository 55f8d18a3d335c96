/* The contracts applied by a real libledger store (LMDB), one act per block:
 * registry, permission (ABAC, quorum), keys, models, and a whole training task
 * with its refusals — every refusal leaves the domain state unchanged and is
 * itself recorded with its code. */
#define T_WITH_STORE
#include "../ledger/testutil.h"

#include <math.h>

#include <abac.h>
#include <abac/cedar.h>
#include <fedavg.h>
#include <phe.h>
#include <phe/threshold.h>

#include "fedshare.h"
#include "test_primes.h"

/* Members: 0..2 hospitals (provider, keyholder), 3 regulator, 4 aggregator+publisher,
 * 5 outsider (not a member). Seeds are 1..6 repeated. */
#define N_SIGNERS 6
static ledger_signer *g_member[N_SIGNERS];
static uint8_t g_pk[N_SIGNERS][32];
static uint8_t g_sk[N_SIGNERS][64]; /* libsodium form for libabac signatures */

typedef struct world {
    char dir[512];
    ledger_signer *replicas[T_MEMBERS];
    ledger_membership *m;
    fedshare_consortium *c;
    fedshare_app *app;
    ledger_store *s;
    uint64_t nonce[N_SIGNERS];
    uint64_t ts; /* consensus time of the next block, ms */
} world;

static void hex32(char *out, const uint8_t *p) {
    for (int i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
}

static int setup(void **state) {
    world *w = calloc(1, sizeof *w);
    assert_non_null(w);
    for (int i = 0; i < N_SIGNERS; i++) {
        uint8_t seed[32];
        memset(seed, i + 1, 32);
        g_member[i] = t_signer((uint8_t)(i + 1));
        assert_int_equal(abac_keypair_from_seed(seed, g_pk[i], g_sk[i]), ABAC_OK);
        assert_memory_equal(g_pk[i], ledger_signer_public_key(g_member[i]), 32);
    }
    const char *roles[] = {"provider,keyholder", "provider,keyholder", "provider,keyholder",
                           "regulator", "aggregator,publisher"};
    const char *orgs[] = {"hospital-a", "hospital-b", "hospital-c", "regulator", "consortium"};
    char text[4096], h[65];
    size_t n = 0;
    for (int i = 0; i < 5; i++) {
        hex32(h, g_pk[i]);
        n += (size_t)snprintf(text + n, sizeof text - n,
                              "member m%d %s roles=%s org=%s credentials=irb\n", i, h, roles[i],
                              orgs[i]);
    }
    assert_int_equal(fedshare_consortium_parse(&w->c, text, n, NULL), FEDSHARE_OK);
    assert_int_equal(fedshare_app_new(&w->app, w->c), FEDSHARE_OK);
    w->m = t_membership(T_MEMBERS, w->replicas);
    t_tmpdir(w->dir, sizeof w->dir, "fedshare");
    ledger_store_options o;
    ledger_store_options_init(&o);
    o.sync = LEDGER_SYNC_NONE;
    assert_int_equal(ledger_store_open(&w->s, w->dir, w->m, fedshare_app_table(w->app), &o, NULL),
                     LEDGER_OK);
    w->ts = 1780000000000ull; /* 2026-05-28, inside the policies' windows */
    *state = w;
    return 0;
}

static int teardown(void **state) {
    world *w = *state;
    ledger_store_close(w->s);
    fedshare_app_free(w->app);
    fedshare_consortium_free(w->c);
    ledger_membership_free(w->m);
    for (int i = 0; i < T_MEMBERS; i++)
        ledger_signer_free(w->replicas[i]);
    for (int i = 0; i < N_SIGNERS; i++)
        ledger_signer_free(g_member[i]);
    t_cleanup(w->dir);
    free(w);
    return 0;
}

/* Commit one act from member `who`; return its recorded outcome (or
 * LEDGER_E_REJECTED when the ledger rejected it before the contracts). */
static int32_t act(world *w, int who, uint16_t op, uint8_t *payload, size_t len,
                   uint8_t tx_hash[32]) {
    ledger_tx *tx = NULL;
    assert_int_equal(ledger_tx_create_signed(&tx, g_member[who], op, ++w->nonce[who], payload, len),
                     LEDGER_OK);
    fedshare_free(payload);
    uint8_t h[32];
    memcpy(h, ledger_tx_hash(tx), 32);
    if (tx_hash)
        memcpy(tx_hash, h, 32);
    ledger_tx *txs[1] = {tx};
    w->ts += 1000;
    ledger_block *b = t_next_block(w->s, w->m, w->replicas, txs, 1, w->ts);
    assert_int_equal(ledger_store_append(w->s, b), LEDGER_OK);
    ledger_block_free(b);
    uint8_t key[FEDSHARE_KEY_MAX], *val = NULL;
    size_t klen, vlen;
    assert_int_equal(fedshare_state_key(FEDSHARE_REC_OUTCOME, h, NULL, 0, key, &klen), FEDSHARE_OK);
    int rc = ledger_store_get(w->s, key, klen, &val, &vlen);
    if (rc == LEDGER_E_NOT_FOUND)
        return LEDGER_E_REJECTED;
    assert_int_equal(rc, LEDGER_OK);
    assert_int_equal(vlen, 4);
    int32_t code =
        (int32_t)((uint32_t)val[0] << 24 | (uint32_t)val[1] << 16 | (uint32_t)val[2] << 8 | val[3]);
    ledger_free(val);
    return code;
}

/* A record as JSON (NULL when absent). */
static char *record(world *w, int kind, const uint8_t *id, const uint8_t *id2, uint32_t round) {
    uint8_t key[FEDSHARE_KEY_MAX], *val = NULL;
    size_t klen, vlen;
    assert_int_equal(fedshare_state_key(kind, id, id2, round, key, &klen), FEDSHARE_OK);
    if (ledger_store_get(w->s, key, klen, &val, &vlen) != LEDGER_OK)
        return NULL;
    char *json = NULL;
    assert_int_equal(fedshare_record_json(kind, val, vlen, &json), FEDSHARE_OK);
    ledger_free(val);
    return json;
}

static void expect_in(world *w, int kind, const uint8_t *id, const uint8_t *id2, uint32_t round,
                      const char *needle) {
    char *j = record(w, kind, id, id2, round);
    assert_non_null(j);
    if (!strstr(j, needle))
        fail_msg("%s not in %s", needle, j);
    fedshare_free(j);
}

static void register_data(world *w, int who, const char *label, uint8_t id[32]) {
    uint8_t enc[32], *pl;
    size_t len;
    memset(enc, 0x40 + who, 32);
    assert_int_equal(
        fedshare_payload_data_register(enc, label, "patients 2020-2025", NULL, 0, &pl, &len),
        FEDSHARE_OK);
    assert_int_equal(act(w, who, FEDSHARE_OP_DATA_REGISTER, pl, len, NULL), FEDSHARE_OK);
    assert_int_equal(fedshare_data_id(enc, g_pk[who], w->ts, label, id), FEDSHARE_OK);
}

static const char *POLICY =
    "@id(\"train_members\")\n"
    "@obligation(\"no_export\")\n"
    "permit (principal is Member, action == Action::\"train\", resource is Dataset)\n"
    "when {\n"
    "  context.purpose == \"training\"\n"
    "  && context.now >= datetime(\"2026-01-01T00:00:00Z\")\n"
    "  && context.now < datetime(\"2027-01-01T00:00:00Z\")\n"
    "  && context.period_end < datetime(\"2027-01-01T00:00:00Z\")\n"
    "  && resource.uses < 2\n"
    "  && principal in [Organisation::\"hospital-a\", Organisation::\"hospital-b\",\n"
    "                   Organisation::\"hospital-c\"]\n"
    "  && principal.credentials.contains(\"irb\")\n"
    "};\n";

static abac_cedar_policies *compile(world *w, const char *src, uint64_t version) {
    uint8_t members[5 * 32];
    for (int i = 0; i < 5; i++)
        memcpy(members + 32 * i, g_pk[i], 32);
    (void)w;
    abac_compile_options o;
    abac_compile_options_init(&o);
    o.set_version = version;
    o.members = members;
    o.n_members = 5;
    abac_cedar_policies *ps = NULL;
    uint32_t line, col;
    char msg[256];
    int rc = abac_cedar_policies_compile(&ps, src, strlen(src), &o, &line, &col, msg, sizeof msg);
    if (rc)
        fprintf(stderr, "policy: line %u col %u: %s\n", line, col, msg);
    assert_int_equal(rc, ABAC_OK);
    return ps;
}

static void set_policy_text(world *w, int owner, const uint8_t data_id[32], const char *src) {
    abac_cedar_policies *ps = compile(w, src, 1);
    size_t n = abac_cedar_policies_encoded_size(ps), wrote;
    uint8_t *buf = malloc(n), *pl;
    size_t len;
    assert_int_equal(abac_cedar_policies_encode(ps, buf, n, &wrote), ABAC_OK);
    assert_int_equal(fedshare_payload_policy_set(data_id, buf, wrote, &pl, &len), FEDSHARE_OK);
    assert_int_equal(act(w, owner, FEDSHARE_OP_POLICY_SET, pl, len, NULL), FEDSHARE_OK);
    free(buf);
    abac_cedar_policies_free(ps);
}

static void set_policy(world *w, int owner, const uint8_t data_id[32]) {
    set_policy_text(w, owner, data_id, POLICY);
}

static int32_t request(world *w, int who, const uint8_t data_id[32], const char *purpose,
                       uint64_t t1, uint8_t tx_hash[32]) {
    uint8_t *pl;
    size_t len;
    assert_int_equal(
        fedshare_payload_access_request(data_id, "train", purpose, w->ts / 1000, t1, 1, &pl, &len),
        FEDSHARE_OK);
    return act(w, who, FEDSHARE_OP_ACCESS_REQUEST, pl, len, tx_hash);
}

static void test_registry(void **state) {
    world *w = *state;
    uint8_t id[32], *pl;
    size_t len;
    register_data(w, 0, "ehr-cardiology", id);
    expect_in(w, FEDSHARE_REC_DATA, id, NULL, 0, "\"label\":\"ehr-cardiology\"");
    expect_in(w, FEDSHARE_REC_DATA, id, NULL, 0, "\"status\":\"active\"");
    /* a regulator may not register data (role), an outsider is refused before ordering */
    uint8_t enc[32] = {9};
    assert_int_equal(fedshare_payload_data_register(enc, "x", "", NULL, 0, &pl, &len), 0);
    assert_int_equal(act(w, 3, FEDSHARE_OP_DATA_REGISTER, pl, len, NULL), LEDGER_E_REJECTED);
    assert_int_equal(fedshare_payload_data_register(enc, "x", "", NULL, 0, &pl, &len), 0);
    assert_int_equal(act(w, 5, FEDSHARE_OP_DATA_REGISTER, pl, len, NULL), LEDGER_E_REJECTED);
    /* lineage must name registered data */
    uint8_t bogus[32] = {1, 2, 3};
    assert_int_equal(fedshare_payload_data_register(enc, "derived", "", bogus, 1, &pl, &len), 0);
    assert_int_equal(act(w, 0, FEDSHARE_OP_DATA_REGISTER, pl, len, NULL), FEDSHARE_E_NOT_FOUND);
    /* only the owner updates or retires */
    assert_int_equal(fedshare_payload_data_update(id, enc, "new", &pl, &len), 0);
    assert_int_equal(act(w, 1, FEDSHARE_OP_DATA_UPDATE, pl, len, NULL), FEDSHARE_E_NOT_OWNER);
    expect_in(w, FEDSHARE_REC_DATA, id, NULL, 0, "\"description\":\"patients 2020-2025\"");
    assert_int_equal(fedshare_payload_data_update(id, enc, "new", &pl, &len), 0);
    assert_int_equal(act(w, 0, FEDSHARE_OP_DATA_UPDATE, pl, len, NULL), FEDSHARE_OK);
    expect_in(w, FEDSHARE_REC_DATA, id, NULL, 0, "\"description\":\"new\"");
    assert_int_equal(fedshare_payload_data_retire(id, &pl, &len), 0);
    assert_int_equal(act(w, 0, FEDSHARE_OP_DATA_RETIRE, pl, len, NULL), FEDSHARE_OK);
    expect_in(w, FEDSHARE_REC_DATA, id, NULL, 0, "\"status\":\"retired\"");
    assert_int_equal(fedshare_payload_data_retire(id, &pl, &len), 0);
    assert_int_equal(act(w, 0, FEDSHARE_OP_DATA_RETIRE, pl, len, NULL), FEDSHARE_E_STATE);
    /* every act is traceable by its data ID, in order */
    ledger_trace_entry e[16];
    size_t n = 0;
    assert_int_equal(ledger_store_trace(w->s, FEDSHARE_TRACE_DATA, id, 32, 0, e, 16, &n),
                     LEDGER_OK);
    assert_int_equal(n, 3); /* register, update, retire (refused acts touch no data index) */
    assert_true(e[0].height < e[1].height && e[1].height < e[2].height);
}

static void test_permission(void **state) {
    world *w = *state;
    uint8_t id[32], h[32], *pl;
    size_t len;
    register_data(w, 0, "ehr", id);
    /* no policy yet: default deny, recorded */
    assert_int_equal(request(w, 1, id, "training", w->ts / 1000 + 3600, h), FEDSHARE_E_DENIED);
    expect_in(w, FEDSHARE_REC_DECISION, h, NULL, 0, "\"effect\":\"deny\"");
    /* only the owner sets the first policy, and only once */
    abac_cedar_policies *ps1 = compile(w, POLICY, 1);
    size_t n1 = abac_cedar_policies_encoded_size(ps1), wrote;
    uint8_t *b1 = malloc(n1);
    assert_int_equal(abac_cedar_policies_encode(ps1, b1, n1, &wrote), ABAC_OK);
    assert_int_equal(fedshare_payload_policy_set(id, b1, wrote, &pl, &len), 0);
    assert_int_equal(act(w, 1, FEDSHARE_OP_POLICY_SET, pl, len, NULL), FEDSHARE_E_NOT_OWNER);
    set_policy(w, 0, id);
    assert_int_equal(fedshare_payload_policy_set(id, b1, wrote, &pl, &len), 0);
    assert_int_equal(act(w, 0, FEDSHARE_OP_POLICY_SET, pl, len, NULL), FEDSHARE_E_EXISTS);
    /* permitted: decision names the rule and the obligation; a grant exists */
    assert_int_equal(request(w, 1, id, "training", w->ts / 1000 + 3600, h), FEDSHARE_OK);
    expect_in(w, FEDSHARE_REC_DECISION, h, NULL, 0, "\"rules\":[{\"id\":\"train_members\"}]");
    expect_in(w, FEDSHARE_REC_DECISION, h, NULL, 0, "\"obligations\":[{\"id\":\"no_export\"}]");
    expect_in(w, FEDSHARE_REC_GRANT, id, g_pk[1], 0, "\"effect\":\"permit\"");
    /* wrong purpose, a period beyond the window, a non-member organisation */
    assert_int_equal(request(w, 2, id, "marketing", w->ts / 1000 + 3600, h), FEDSHARE_E_DENIED);
    expect_in(w, FEDSHARE_REC_DECISION, h, NULL, 0, "\"purpose\":\"marketing\"");
    assert_null(record(w, FEDSHARE_REC_GRANT, id, g_pk[2], 0));
    assert_int_equal(request(w, 2, id, "training", 1900000000, h), FEDSHARE_E_DENIED);
    assert_int_equal(request(w, 3, id, "training", w->ts / 1000 + 60, h), FEDSHARE_E_DENIED);
    /* a non-member cannot even ask */
    assert_int_equal(fedshare_payload_access_request(id, "train", "training", 0, 1, 1, &pl, &len),
                     0);
    assert_int_equal(act(w, 5, FEDSHARE_OP_ACCESS_REQUEST, pl, len, NULL), LEDGER_E_REJECTED);

    /* policy update: 3 of 5 signatures (not > 2/3) refused, 4 accepted */
    abac_cedar_policies *ps2 = compile(w, "permit (principal, action, resource);", 2);
    uint8_t pks[5 * 32], sigs[5 * 64];
    for (int i = 0; i < 4; i++) {
        memcpy(pks + 32 * i, g_pk[i], 32);
        assert_int_equal(abac_cedar_update_sign(ps1, ps2, g_sk[i], sigs + 64 * i), ABAC_OK);
    }
    uint8_t upd[1 << 14];
    size_t ulen;
    assert_int_equal(abac_cedar_update_encode(ps1, ps2, pks, sigs, 3, upd, sizeof upd, &ulen),
                     ABAC_OK);
    assert_int_equal(fedshare_payload_policy_update(id, upd, ulen, &pl, &len), 0);
    assert_int_equal(act(w, 0, FEDSHARE_OP_POLICY_UPDATE, pl, len, NULL), FEDSHARE_E_QUORUM);
    assert_int_equal(request(w, 2, id, "marketing", w->ts / 1000 + 60, h), FEDSHARE_E_DENIED);
    assert_int_equal(abac_cedar_update_encode(ps1, ps2, pks, sigs, 4, upd, sizeof upd, &ulen),
                     ABAC_OK);
    assert_int_equal(fedshare_payload_policy_update(id, upd, ulen, &pl, &len), 0);
    assert_int_equal(act(w, 2, FEDSHARE_OP_POLICY_UPDATE, pl, len, NULL), FEDSHARE_OK);
    assert_int_equal(request(w, 2, id, "marketing", w->ts / 1000 + 60, h), FEDSHARE_OK);
    /* the same update again is a replay */
    assert_int_equal(fedshare_payload_policy_update(id, upd, ulen, &pl, &len), 0);
    assert_int_not_equal(act(w, 2, FEDSHARE_OP_POLICY_UPDATE, pl, len, NULL), FEDSHARE_OK);
    free(b1);
    abac_cedar_policies_free(ps1);
    abac_cedar_policies_free(ps2);
}

/* ---- training ---- */

static void record_key(world *w, uint8_t key_id[32]) {
    uint8_t p[128], q[128], *pl;
    size_t pn = unhex(PRIME1, p), qn = unhex(PRIME2, q), len;
    phe_rng *rng = NULL;
    assert_int_equal(phe_rng_new_seeded(&rng, (const uint8_t *)"contracts", 9), 0);
    phe_threshold_params *pp = NULL;
    phe_threshold_keyshare *ks[3] = {0};
    assert_int_equal(phe_threshold_deal_with_primes(&pp, ks, p, pn, q, qn, 2, 3, rng), 0);
    size_t en = phe_threshold_params_encoded_size(pp), wrote;
    uint8_t *enc = malloc(en), holders[96], shares[96];
    assert_int_equal(phe_threshold_params_encode(pp, enc, en, &wrote), 0);
    for (int i = 0; i < 3; i++) {
        memcpy(holders + 32 * i, g_pk[i], 32);
        memset(shares + 32 * i, 0x70 + i, 32);
    }
    /* holders must be key holders */
    uint8_t bad[96];
    memcpy(bad, holders, 96);
    memcpy(bad + 64, g_pk[3], 32);
    assert_int_equal(fedshare_payload_key_record(enc, wrote, bad, shares, 3, &pl, &len), 0);
    assert_int_equal(act(w, 0, FEDSHARE_OP_KEY_RECORD, pl, len, NULL), FEDSHARE_E_ROLE);
    assert_int_equal(fedshare_payload_key_record(enc, wrote, holders, shares, 3, &pl, &len), 0);
    assert_int_equal(act(w, 0, FEDSHARE_OP_KEY_RECORD, pl, len, NULL), FEDSHARE_OK);
    assert_int_equal(phe_threshold_params_key_id(pp, key_id), 0);
    expect_in(w, FEDSHARE_REC_KEY, key_id, NULL, 0, "\"threshold\":2");
    free(enc);
    for (int i = 0; i < 3; i++)
        phe_threshold_keyshare_free(ks[i]);
    phe_threshold_params_free(pp);
    phe_rng_free(rng);
}

typedef struct task_fixture {
    uint8_t data[3][32], key_id[32], model_id[32], task[32];
} task_fixture;

/* The server optimizer make_task asks for (0: FedAvg; Adam with eta 0.1 otherwise). */
static uint32_t g_make_server;
/* make_task returns once the task is created, before the participants join. */
static int g_make_no_join;

static void make_task(world *w, task_fixture *f, uint32_t round_limit, int with_grant,
                      uint32_t min_updates) {
    uint8_t *pl;
    size_t len;
    for (int i = 0; i < 3; i++) {
        char label[16];
        snprintf(label, sizeof label, "ehr-%d", i);
        register_data(w, i, label, f->data[i]);
    }
    set_policy(w, 1, f->data[1]);
    record_key(w, f->key_id);
    uint8_t structure[32], digest[32];
    memset(structure, 0x11, 32);
    memset(digest, 0x22, 32);
    assert_int_equal(fedshare_payload_model_publish(structure, digest, 31, "logreg", &pl, &len), 0);
    assert_int_equal(act(w, 0, FEDSHARE_OP_MODEL_PUBLISH, pl, len, NULL), LEDGER_E_REJECTED);
    assert_int_equal(fedshare_payload_model_publish(structure, digest, 31, "logreg", &pl, &len), 0);
    assert_int_equal(act(w, 4, FEDSHARE_OP_MODEL_PUBLISH, pl, len, NULL), FEDSHARE_OK);
    assert_int_equal(fedshare_model_id(structure, digest, f->model_id), 0);

    fedavg_codec_config cc;
    fedavg_codec_config_init(&cc);
    cc.max_weight = 1000;
    fedavg_codec *codec = NULL;
    assert_int_equal(fedavg_codec_select(&codec, &cc), FEDAVG_OK);
    uint8_t cbytes[256];
    size_t cn = fedavg_codec_encoded_bytes();
    assert_int_equal(fedavg_codec_encode(codec, cbytes, sizeof cbytes), FEDAVG_OK);
    fedavg_codec_free(codec);

    uint8_t parts[96], datas[96];
    for (int i = 0; i < 3; i++) {
        memcpy(parts + 32 * i, g_pk[i], 32);
        memcpy(datas + 32 * i, f->data[i], 32);
    }
    fedshare_task_spec s;
    fedshare_task_spec_init(&s);
    memcpy(s.model_id, f->model_id, 32);
    memcpy(s.key_id, f->key_id, 32);
    memcpy(s.aggregator, g_pk[4], 32);
    s.n_participants = 3;
    s.participants = parts;
    s.data_ids = datas;
    s.round_limit = round_limit;
    s.anomaly_warmup = 3;
    s.codec = cbytes;
    s.codec_len = cn;
    s.min_updates = min_updates;
    if (g_make_server) {
        s.server_optimizer = g_make_server;
        s.server_eta = 0.1;
        s.server_beta1 = 0.9;
        s.server_beta2 = 0.99;
        s.server_tau = 1e-3;
    }
    /* hospital A may not start a task on B's and C's data without grants */
    assert_int_equal(fedshare_payload_task_create(&s, &pl, &len), 0);
    assert_int_equal(act(w, 0, FEDSHARE_OP_TASK_CREATE, pl, len, NULL), FEDSHARE_E_NOT_GRANTED);
    if (!with_grant)
        return;
    uint8_t h[32];
    assert_int_equal(request(w, 0, f->data[1], "training", w->ts / 1000 + 86400, h), FEDSHARE_OK);
    set_policy(w, 2, f->data[2]);
    assert_int_equal(request(w, 0, f->data[2], "training", w->ts / 1000 + 86400, h), FEDSHARE_OK);
    assert_int_equal(fedshare_payload_task_create(&s, &pl, &len), 0);
    assert_int_equal(act(w, 0, FEDSHARE_OP_TASK_CREATE, pl, len, f->task), FEDSHARE_OK);
    expect_in(w, FEDSHARE_REC_TASK, f->task, NULL, 0, "\"phase\":0");
    expect_in(w, FEDSHARE_REC_DATA, f->data[1], NULL, 0, "\"uses\":1");
    /* the grant's single use is spent: a second task is refused */
    assert_int_equal(fedshare_payload_task_create(&s, &pl, &len), 0);
    assert_int_equal(act(w, 0, FEDSHARE_OP_TASK_CREATE, pl, len, NULL), FEDSHARE_E_NOT_GRANTED);
    /* the use counter feeds the policy: resource.uses < 2 */
    assert_int_equal(request(w, 0, f->data[1], "training", w->ts / 1000 + 86400, h), FEDSHARE_OK);
    if (g_make_no_join)
        return;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(fedshare_payload_task_join(f->task, &pl, &len), 0);
        assert_int_equal(act(w, i, FEDSHARE_OP_TASK_JOIN, pl, len, NULL), FEDSHARE_OK);
    }
    assert_int_equal(fedshare_payload_task_join(f->task, &pl, &len), 0);
    assert_int_equal(act(w, 3, FEDSHARE_OP_TASK_JOIN, pl, len, NULL), FEDSHARE_E_ROLE);
    expect_in(w, FEDSHARE_REC_TASK, f->task, NULL, 0, "\"phase\":1,\"stop_reason\":0,\"round\":1");
}

static void upload(world *w, const task_fixture *f, int who, uint32_t round, double norm,
                   int32_t expect) {
    uint8_t blob[32], *pl;
    size_t len;
    memset(blob, 0x30 + who + (int)round * 8, 32);
    assert_int_equal(
        fedshare_payload_update_upload(f->task, round, blob, 100, norm, 0.5, &pl, &len), 0);
    assert_int_equal(act(w, who, FEDSHARE_OP_UPDATE_UPLOAD, pl, len, NULL), expect);
}

static void round_hashes(world *w, const task_fixture *f, uint32_t round, int who, uint16_t op,
                         uint8_t a, uint8_t b, int32_t expect) {
    uint8_t h1[32], h2[32], *pl = NULL;
    size_t len = 0;
    memset(h1, a, 32);
    memset(h2, b, 32);
    switch (op) {
        case FEDSHARE_OP_AGGREGATE:
            fedshare_payload_aggregate(f->task, round, h1, &pl, &len);
            break;
        case FEDSHARE_OP_AGGREGATE_CHECK:
            fedshare_payload_aggregate_check(f->task, round, h1, &pl, &len);
            break;
        case FEDSHARE_OP_DECRYPTION_SHARE:
            fedshare_payload_decryption_share(f->task, round, h1, h2, &pl, &len);
            break;
        case FEDSHARE_OP_ROUND_FINALIZE:
            fedshare_payload_round_finalize(f->task, round, h1, h2, &pl, &len);
            break;
        case FEDSHARE_OP_SUM_REFUSED:
            fedshare_payload_sum_refused(f->task, round, h1, &pl, &len);
            break;
        default:
            fail();
    }
    assert_non_null(pl);
    assert_int_equal(act(w, who, op, pl, len, NULL), expect);
}

static void evaluate(world *w, const task_fixture *f, uint32_t round, int who, uint8_t model,
                     double metric, int32_t expect) {
    uint8_t h[32], *pl;
    size_t len;
    memset(h, model, 32);
    assert_int_equal(fedshare_payload_evaluation(f->task, round, h, metric, 50, &pl, &len), 0);
    assert_int_equal(act(w, who, FEDSHARE_OP_EVALUATION, pl, len, NULL), expect);
}

/* Uploads and the aggregate of an honest round. */
static void honest_round_uploads(world *w, const task_fixture *f, uint32_t r) {
    for (int i = 0; i < 3; i++)
        upload(w, f, i, r, 1.0 + 0.01 * i, FEDSHARE_OK);
    round_hashes(w, f, r, 4, FEDSHARE_OP_AGGREGATE, 0xA0, 0, FEDSHARE_OK);
}

/* The shares of holders 0 and 1 and the aggregator's finalize (model 0xC0 + r)
 * of an honest round, each accepted. */
static void honest_round_decrypt(world *w, const task_fixture *f, uint32_t r) {
    round_hashes(w, f, r, 0, FEDSHARE_OP_DECRYPTION_SHARE, 0xA0, 0xB0, FEDSHARE_OK);
    round_hashes(w, f, r, 1, FEDSHARE_OP_DECRYPTION_SHARE, 0xA0, 0xB1, FEDSHARE_OK);
    round_hashes(w, f, r, 4, FEDSHARE_OP_ROUND_FINALIZE, 0xC0 + (uint8_t)r, 0xD0, FEDSHARE_OK);
}

/* One honest round: uploads, aggregate, 2 shares, finalize, 3 evaluations. */
static void honest_round(world *w, const task_fixture *f, uint32_t r, double metric) {
    honest_round_uploads(w, f, r);
    honest_round_decrypt(w, f, r);
    for (int i = 0; i < 3; i++)
        evaluate(w, f, r, i, 0xC0 + (uint8_t)r, metric, FEDSHARE_OK);
}

/* The whole chain replays from genesis (LEDGER_VERIFY_FULL: every state root). */
static void assert_chain_replays(world *w) {
    uint64_t bad = 0;
    assert_int_equal(ledger_verify_chain(w->s, LEDGER_VERIFY_FULL, &bad), LEDGER_OK);
}

/* The Cedar request the contract builds from the ledger (docs/fedshare-contracts.md): each
 * entity, attribute and context value checked exactly, the block's timestamp as context.now,
 * reasons named by @id (else Cedar's "policy<i>"), obligations from @obligation of the
 * satisfied permits; a forbid overrides and carries no obligation. */
static void test_cedar_request(void **state) {
    world *w = *state;
    uint8_t id[32], h[32];
    char did1[FEDSHARE_DID_BUF], did0[FEDSHARE_DID_BUF], hex[65], src[4096];
    register_data(w, 0, "ehr", id);
    fedshare_did_from_pubkey(g_pk[1], did1, sizeof did1);
    fedshare_did_from_pubkey(g_pk[0], did0, sizeof did0);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", id[i]);
    /* after set_policy_text: the request is the second act, its block at ts + 2000 */
    uint64_t t0 = (w->ts + 1000) / 1000, now = w->ts + 2000;
    snprintf(src, sizeof src,
             "@id(\"exact\")\n"
             "permit (principal == Member::\"%s\", action == Action::\"train\",\n"
             "        resource == Dataset::\"%s\")\n"
             "when {\n"
             "  principal in Organisation::\"hospital-b\" && principal.did == \"%s\"\n"
             "  && principal.org == \"hospital-b\" && principal.roles == [\"keyholder\", "
             "\"provider\"]\n"
             "  && principal.credentials == [\"irb\"]\n"
             "  && resource.owner == \"%s\" && resource.type == \"ehr\" && resource.uses == 0\n"
             "  && context.purpose == \"training\" && context.expected_uses == 1\n"
             "  && context.now == datetime(\"1970-01-01\").offset(duration(\"%llums\"))\n"
             "  && context.period_start == datetime(\"1970-01-01\").offset(duration(\"%llus\"))\n"
             "  && context.period_end == datetime(\"2027-01-01T00:00:00Z\")\n"
             "};\n"
             "@id(\"second\") @obligation(\" report, no_export \")\n"
             "permit (principal, action, resource);\n"
             "forbid (principal in Organisation::\"hospital-c\", action, resource);\n",
             did1, hex, did1, did0, (unsigned long long)now, (unsigned long long)t0);
    set_policy_text(w, 0, id, src);
    assert_int_equal(w->ts / 1000, t0);
    assert_int_equal(request(w, 1, id, "training", 1798761600, h), FEDSHARE_OK);
    expect_in(w, FEDSHARE_REC_DECISION, h, NULL, 0,
              "\"rules\":[{\"id\":\"exact\"},{\"id\":\"second\"}]");
    expect_in(w, FEDSHARE_REC_DECISION, h, NULL, 0,
              "\"obligations\":[{\"id\":\"report\"},{\"id\":\"no_export\"}]");
    /* one second later the block's time no longer matches: only "second" permits */
    assert_int_equal(request(w, 1, id, "training", 1798761600, h), FEDSHARE_OK);
    expect_in(w, FEDSHARE_REC_DECISION, h, NULL, 0, "\"rules\":[{\"id\":\"second\"}]");
    /* hospital C: the forbid wins, named by Cedar's id, no obligation */
    assert_int_equal(request(w, 2, id, "training", 1798761600, h), FEDSHARE_E_DENIED);
    expect_in(w, FEDSHARE_REC_DECISION, h, NULL, 0, "\"rules\":[{\"id\":\"policy2\"}]");
    expect_in(w, FEDSHARE_REC_DECISION, h, NULL, 0, "\"obligations\":[]");
}

static void test_training_task(void **state) {
    world *w = *state;
    task_fixture f;
    make_task(w, &f, 50, 1, 2); /* round 4 below has two accepted updates */
    expect_in(w, FEDSHARE_REC_TASK, f.task, NULL, 0, "\"min_updates\":2");
    /* round 1, with every refusal on the way */
    upload(w, &f, 3, 1, 1.0, FEDSHARE_E_ROLE);  /* regulator is no participant */
    upload(w, &f, 0, 2, 1.0, FEDSHARE_E_STATE); /* wrong round */
    upload(w, &f, 0, 1, 1.0, FEDSHARE_OK);
    upload(w, &f, 0, 1, 1.0, FEDSHARE_E_EXISTS);
    round_hashes(w, &f, 1, 4, FEDSHARE_OP_AGGREGATE, 0xA0, 0, FEDSHARE_E_STATE); /* too early */
    upload(w, &f, 1, 1, 1.1, FEDSHARE_OK);
    upload(w, &f, 2, 1, 0.9, FEDSHARE_OK);
    round_hashes(w, &f, 1, 0, FEDSHARE_OP_AGGREGATE, 0xA0, 0, LEDGER_E_REJECTED); /* role */
    /* a cheating aggregator: hospital B recomputes another sum → refused */
    round_hashes(w, &f, 1, 4, FEDSHARE_OP_AGGREGATE, 0xEE, 0, FEDSHARE_OK);
    round_hashes(w, &f, 1, 1, FEDSHARE_OP_AGGREGATE_CHECK, 0xA0, 0, FEDSHARE_OK);
    expect_in(w, FEDSHARE_REC_ROUND, f.task, NULL, 1, "\"aggregates_refused\":1");
    expect_in(w, FEDSHARE_REC_TASK, f.task, NULL, 0, "\"phase\":2");
    /* shares for a refused aggregate are refused; the honest aggregate goes through */
    round_hashes(w, &f, 1, 0, FEDSHARE_OP_DECRYPTION_SHARE, 0xEE, 0xB0, FEDSHARE_E_STATE);
    round_hashes(w, &f, 1, 4, FEDSHARE_OP_AGGREGATE, 0xA0, 0, FEDSHARE_OK);
    round_hashes(w, &f, 1, 2, FEDSHARE_OP_AGGREGATE_CHECK, 0xA0, 0, FEDSHARE_OK);
    round_hashes(w, &f, 1, 0, FEDSHARE_OP_DECRYPTION_SHARE, 0xA0, 0xB0, FEDSHARE_OK);
    round_hashes(w, &f, 1, 0, FEDSHARE_OP_DECRYPTION_SHARE, 0xA0, 0xB0, FEDSHARE_E_EXISTS);
    round_hashes(w, &f, 1, 1, FEDSHARE_OP_DECRYPTION_SHARE, 0xA0, 0xB1, FEDSHARE_OK);
    expect_in(w, FEDSHARE_REC_TASK, f.task, NULL, 0, "\"phase\":4");
    /* shares beyond t are still taken (a bad one must not keep them out); one naming
     * another aggregate after t holders vouched for this one is refused */
    round_hashes(w, &f, 1, 2, FEDSHARE_OP_DECRYPTION_SHARE, 0xEE, 0xB2, FEDSHARE_E_MISMATCH);
    round_hashes(w, &f, 1, 2, FEDSHARE_OP_DECRYPTION_SHARE, 0xA0, 0xB2, FEDSHARE_OK);
    expect_in(w, FEDSHARE_REC_TASK, f.task, NULL, 0, "\"phase\":4");
    /* a finalized model that a participant does not reproduce is disputed */
    round_hashes(w, &f, 1, 4, FEDSHARE_OP_ROUND_FINALIZE, 0xBB, 0xD0, FEDSHARE_OK);
    evaluate(w, &f, 1, 0, 0xC1, 0.80, FEDSHARE_OK);
    expect_in(w, FEDSHARE_REC_ROUND, f.task, NULL, 1, "\"models_disputed\":1");
    round_hashes(w, &f, 1, 4, FEDSHARE_OP_ROUND_FINALIZE, 0xC1, 0xD0, FEDSHARE_OK);
    expect_in(w, FEDSHARE_REC_ROUND, f.task, NULL, 1, "\"param_id\":\"");
    for (int i = 0; i < 3; i++)
        evaluate(w, &f, 1, i, 0xC1, 0.80 + 0.01 * i, FEDSHARE_OK);
    expect_in(w, FEDSHARE_REC_TASK, f.task, NULL, 0, "\"phase\":1,\"stop_reason\":0,\"round\":2");
    expect_in(w, FEDSHARE_REC_TASK, f.task, NULL, 0, "\"metrics\":[0.81");

    /* rounds 2..3 fill the anomaly history (warm-up 3 updates: already past) */
    honest_round(w, &f, 2, 0.85);
    honest_round(w, &f, 3, 0.86);
    /* round 4: hospital C's update norm is far outside the history → left out */
    upload(w, &f, 0, 4, 1.0, FEDSHARE_OK);
    upload(w, &f, 1, 4, 1.01, FEDSHARE_OK);
    upload(w, &f, 2, 4, 50.0, FEDSHARE_OK);
    expect_in(w, FEDSHARE_REC_ROUND, f.task, NULL, 4, "\"verdict\":\"suspicious\"");
    expect_in(w, FEDSHARE_REC_ROUND, f.task, NULL, 4, "\"total_weight\":200");
    round_hashes(w, &f, 4, 4, FEDSHARE_OP_AGGREGATE, 0xA0, 0, FEDSHARE_OK);
    round_hashes(w, &f, 4, 0, FEDSHARE_OP_DECRYPTION_SHARE, 0xA0, 0xB0, FEDSHARE_OK);
    round_hashes(w, &f, 4, 2, FEDSHARE_OP_DECRYPTION_SHARE, 0xA0, 0xB2, FEDSHARE_OK);
    round_hashes(w, &f, 4, 4, FEDSHARE_OP_ROUND_FINALIZE, 0xC4, 0xD0, FEDSHARE_OK);
    for (int i = 0; i < 3; i++)
        evaluate(w, &f, 4, i, 0xC4, 0.8605, FEDSHARE_OK);
    /* rounds 5, 6: improvement < 0.001 three rounds in a row (4, 5, 6) → converged */
    honest_round(w, &f, 5, 0.8608);
    expect_in(w, FEDSHARE_REC_TASK, f.task, NULL, 0, "\"round\":6");
    honest_round(w, &f, 6, 0.8610);
    expect_in(w, FEDSHARE_REC_TASK, f.task, NULL, 0, "\"phase\":6,\"stop_reason\":1,\"round\":6");
    upload(w, &f, 0, 6, 1.0, FEDSHARE_E_STATE); /* the task is over */

    /* the trail of hospital B's data set: registration, policy, grant request,
     * task, joins, every round act — ordered */
    ledger_trace_entry e[256];
    size_t n = 0;
    assert_int_equal(ledger_store_trace(w->s, FEDSHARE_TRACE_DATA, f.data[1], 32, 0, e, 256, &n),
                     LEDGER_OK);
    assert_true(n > 40);
    for (size_t i = 1; i < n; i++)
        assert_true(e[i].height > e[i - 1].height);
    /* and the chain verifies end to end */
    assert_chain_replays(w);
}

static void test_round_limit(void **state) {
    world *w = *state;
    task_fixture f;
    make_task(w, &f, 2, 1, 0);
    honest_round(w, &f, 1, 0.5);
    honest_round(w, &f, 2, 0.7);
    expect_in(w, FEDSHARE_REC_TASK, f.task, NULL, 0, "\"phase\":6,\"stop_reason\":2,\"round\":2");
}

/* Issue 18 (4): the aggregator found the decrypted sum out of range: only it,
 * only in finalize, only for the recorded aggregate; the round is refused, the
 * model stays, the next round opens; at the round limit the task ends. */
static void test_sum_refused(void **state) {
    world *w = *state;
    task_fixture f;
    make_task(w, &f, 2, 1, 0);
    honest_round_uploads(w, &f, 1);
    round_hashes(w, &f, 1, 4, FEDSHARE_OP_SUM_REFUSED, 0xA0, 0, FEDSHARE_E_STATE); /* decrypt */
    round_hashes(w, &f, 1, 0, FEDSHARE_OP_DECRYPTION_SHARE, 0xA0, 0xB0, FEDSHARE_OK);
    round_hashes(w, &f, 1, 1, FEDSHARE_OP_DECRYPTION_SHARE, 0xA0, 0xB1, FEDSHARE_OK);
    round_hashes(w, &f, 1, 0, FEDSHARE_OP_SUM_REFUSED, 0xA0, 0, LEDGER_E_REJECTED); /* role */
    round_hashes(w, &f, 1, 4, FEDSHARE_OP_SUM_REFUSED, 0xEE, 0, FEDSHARE_E_MISMATCH);
    expect_in(w, FEDSHARE_REC_ROUND, f.task, NULL, 1, "\"sum_refused\":false");
    round_hashes(w, &f, 1, 4, FEDSHARE_OP_SUM_REFUSED, 0xA0, 0, FEDSHARE_OK);
    expect_in(w, FEDSHARE_REC_ROUND, f.task, NULL, 1, "\"sum_refused\":true");
    expect_in(w, FEDSHARE_REC_TASK, f.task, NULL, 0, "\"phase\":1,\"stop_reason\":0,\"round\":2");
    expect_in(w, FEDSHARE_REC_TASK, f.task, NULL, 0, "\"metrics\":[]");
    round_hashes(w, &f, 1, 4, FEDSHARE_OP_ROUND_FINALIZE, 0xC1, 0xD0, FEDSHARE_E_STATE);
    honest_round_uploads(w, &f, 2);
    round_hashes(w, &f, 2, 0, FEDSHARE_OP_DECRYPTION_SHARE, 0xA0, 0xB0, FEDSHARE_OK);
    round_hashes(w, &f, 2, 1, FEDSHARE_OP_DECRYPTION_SHARE, 0xA0, 0xB1, FEDSHARE_OK);
    round_hashes(w, &f, 2, 4, FEDSHARE_OP_SUM_REFUSED, 0xA0, 0, FEDSHARE_OK);
    expect_in(w, FEDSHARE_REC_TASK, f.task, NULL, 0, "\"phase\":6,\"stop_reason\":2,\"round\":2");
}

static void finalize_server(world *w, const task_fixture *f, uint32_t round, uint8_t g, uint8_t x,
                            int32_t expect) {
    uint8_t h1[32], h2[32], h3[32], *pl = NULL;
    size_t len = 0;
    memset(h1, g, 32);
    memset(h2, 0xD0, 32);
    memset(h3, x, 32);
    assert_int_equal(fedshare_payload_round_finalize_server(f->task, round, h1, h2, h3, &pl, &len),
                     0);
    assert_int_equal(act(w, 4, FEDSHARE_OP_ROUND_FINALIZE, pl, len, NULL), expect);
}

/* Issue 14: a task with a server optimizer (TASK_CREATE v4) records x_r beside
 * g_r; the evaluations name x_r, and another digest disputes the finalize. */
static void test_server_optimizer_task(void **state) {
    world *w = *state;
    task_fixture f;
    g_make_server = FEDSHARE_SERVER_ADAM;
    make_task(w, &f, 3, 1, 0);
    g_make_server = 0;
    expect_in(w, FEDSHARE_REC_TASK, f.task, NULL, 0,
              "\"server_optimizer\":\"adam\",\"server_eta\":0.10000000000000001,"
              "\"server_beta1\":0.90000000000000002,\"server_beta2\":0.98999999999999999,"
              "\"server_tau\":0.001,\"server_model\":\"2222");
    honest_round_uploads(w, &f, 1);
    round_hashes(w, &f, 1, 0, FEDSHARE_OP_DECRYPTION_SHARE, 0xA0, 0xB0, FEDSHARE_OK);
    round_hashes(w, &f, 1, 1, FEDSHARE_OP_DECRYPTION_SHARE, 0xA0, 0xB1, FEDSHARE_OK);
    /* the plain finalize leaves x_r out: refused */
    round_hashes(w, &f, 1, 4, FEDSHARE_OP_ROUND_FINALIZE, 0xC1, 0xD0, FEDSHARE_E_INVALID);
    finalize_server(w, &f, 1, 0xC1, 0xE1, FEDSHARE_OK);
    expect_in(w, FEDSHARE_REC_ROUND, f.task, NULL, 1, "\"server_model\":\"e1e1");
    /* an evaluation of g_r (not x_r) disputes the model */
    evaluate(w, &f, 1, 0, 0xC1, 0.8, FEDSHARE_OK);
    expect_in(w, FEDSHARE_REC_ROUND, f.task, NULL, 1, "\"models_disputed\":1");
    char *j = record(w, FEDSHARE_REC_ROUND, f.task, NULL, 1);
    assert_non_null(j);
    assert_null(strstr(j, "server_model"));
    fedshare_free(j);
    /* a forged x_r (the aggregator's) is disputed by a participant's replay */
    finalize_server(w, &f, 1, 0xC1, 0xEE, FEDSHARE_OK);
    evaluate(w, &f, 1, 1, 0xE1, 0.8, FEDSHARE_OK);
    expect_in(w, FEDSHARE_REC_ROUND, f.task, NULL, 1, "\"models_disputed\":2");
    finalize_server(w, &f, 1, 0xC1, 0xE1, FEDSHARE_OK);
    for (int i = 0; i < 3; i++)
        evaluate(w, &f, 1, i, 0xE1, 0.8, FEDSHARE_OK);
    expect_in(w, FEDSHARE_REC_TASK, f.task, NULL, 0, "\"server_model\":\"e1e1");
    expect_in(w, FEDSHARE_REC_TASK, f.task, NULL, 0, "\"global_model\":\"c1c1");
    expect_in(w, FEDSHARE_REC_TASK, f.task, NULL, 0, "\"phase\":1,\"stop_reason\":0,\"round\":2");
}

/* Issue 14: a FedAvg task refuses a finalize naming an x_r. */
static void test_fedavg_refuses_server_model(void **state) {
    world *w = *state;
    char *j;
    task_fixture g;
    make_task(w, &g, 3, 1, 0);
    j = record(w, FEDSHARE_REC_TASK, g.task, NULL, 0);
    assert_non_null(j);
    assert_non_null(strstr(j, "\"server_optimizer\":\"fedavg\""));
    assert_null(strstr(j, "server_eta"));
    fedshare_free(j);
    honest_round_uploads(w, &g, 1);
    round_hashes(w, &g, 1, 0, FEDSHARE_OP_DECRYPTION_SHARE, 0xA0, 0xB0, FEDSHARE_OK);
    round_hashes(w, &g, 1, 1, FEDSHARE_OP_DECRYPTION_SHARE, 0xA0, 0xB1, FEDSHARE_OK);
    finalize_server(w, &g, 1, 0xC1, 0xE1, FEDSHARE_E_INVALID);
    round_hashes(w, &g, 1, 4, FEDSHARE_OP_ROUND_FINALIZE, 0xC1, 0xD0, FEDSHARE_OK);
}

/* Issue 14: the optimizer's numbers are checked like the other
 * hyper-parameters; FedAvg is written as format 3, byte for byte as before. */
static void test_server_optimizer_payload(void **state) {
    world *w = *state;
    uint8_t parts[64] = {0}, datas[64] = {0}, codec[8] = {1}, *pl = NULL, *pl3 = NULL;
    size_t len = 0, len3 = 0;
    fedshare_task_spec s;
    fedshare_task_spec_init(&s);
    assert_int_equal(s.version, 4);
    assert_int_equal(s.server_optimizer, FEDSHARE_SERVER_FEDAVG);
    s.participants = parts;
    s.data_ids = datas;
    s.codec = codec;
    s.codec_len = sizeof codec;
    s.n_participants = 2;
    assert_int_equal(fedshare_payload_task_create(&s, &pl3, &len3), FEDSHARE_OK);
    assert_int_equal(pl3[0], 3);
    /* the same spec as version 3 gives the same bytes */
    s.version = 3;
    assert_int_equal(fedshare_payload_task_create(&s, &pl, &len), FEDSHARE_OK);
    assert_int_equal(len, len3);
    assert_memory_equal(pl, pl3, len);
    fedshare_free(pl);
    s.version = 4;
    /* FedAvg with numbers, an unknown optimizer, and each number out of range */
    s.server_eta = 0.1;
    assert_int_equal(fedshare_payload_task_create(&s, &pl, &len), FEDSHARE_E_INVALID);
    s.server_optimizer = 3;
    s.server_beta1 = 0.9;
    s.server_beta2 = 0.99;
    s.server_tau = 1e-3;
    assert_int_equal(fedshare_payload_task_create(&s, &pl, &len), FEDSHARE_E_INVALID);
    s.server_optimizer = FEDSHARE_SERVER_YOGI;
    const struct {
        double *field, bad;
    } cases[] = {{&s.server_eta, 0.0},   {&s.server_eta, -1.0},   {&s.server_eta, INFINITY},
                 {&s.server_beta1, 1.0}, {&s.server_beta1, -0.1}, {&s.server_beta2, 1.0},
                 {&s.server_beta2, NAN}, {&s.server_tau, 0.0},    {&s.server_tau, -1e-3}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double keep = *cases[i].field;
        *cases[i].field = cases[i].bad;
        assert_int_equal(fedshare_payload_task_create(&s, &pl, &len), FEDSHARE_E_INVALID);
        *cases[i].field = keep;
    }
    assert_int_equal(fedshare_payload_task_create(&s, &pl, &len), FEDSHARE_OK);
    assert_int_equal(pl[0], 4);
    assert_int_equal(len, len3 + 4 + 32);
    assert_memory_equal(pl + 1, pl3 + 1, len3 - 1); /* format 4 = format 3 + the optimizer */
    assert_int_equal(fedshare_precheck(w->c, FEDSHARE_OP_TASK_CREATE, g_pk[0], pl, len),
                     FEDSHARE_OK);
    /* hand-made: beta1 = 1.0, optimizer 3, FedAvg in format 4, truncated: refused */
    uint8_t *h = malloc(len);
    assert_non_null(h);
    const uint8_t one[8] = {0x3F, 0xF0, 0, 0, 0, 0, 0, 0};
    memcpy(h, pl, len);
    memcpy(h + len - 24, one, 8); /* beta1 (big-endian IEEE-754) */
    assert_int_equal(fedshare_precheck(w->c, FEDSHARE_OP_TASK_CREATE, g_pk[0], h, len),
                     FEDSHARE_E_FORMAT);
    memcpy(h, pl, len);
    h[len - 33] = 3;
    assert_int_equal(fedshare_precheck(w->c, FEDSHARE_OP_TASK_CREATE, g_pk[0], h, len),
                     FEDSHARE_E_FORMAT);
    memcpy(h, pl, len);
    h[len - 33] = 0;
    assert_int_equal(fedshare_precheck(w->c, FEDSHARE_OP_TASK_CREATE, g_pk[0], h, len),
                     FEDSHARE_E_FORMAT);
    assert_int_equal(fedshare_precheck(w->c, FEDSHARE_OP_TASK_CREATE, g_pk[0], pl, len - 8),
                     FEDSHARE_E_FORMAT);
    /* version 5 is not read */
    memcpy(h, pl, len);
    h[0] = 5;
    assert_int_equal(fedshare_precheck(w->c, FEDSHARE_OP_TASK_CREATE, g_pk[0], h, len),
                     FEDSHARE_E_VERSION);
    free(h);
    /* the old formats still read: 3 (the FedAvg bytes), and 2 */
    assert_int_equal(fedshare_precheck(w->c, FEDSHARE_OP_TASK_CREATE, g_pk[0], pl3, len3),
                     FEDSHARE_OK);
    pl3[0] = 2;
    assert_int_equal(fedshare_precheck(w->c, FEDSHARE_OP_TASK_CREATE, g_pk[0], pl3, len3 - 4),
                     FEDSHARE_OK);
    fedshare_free(pl);
    fedshare_free(pl3);
    /* the finalize with x_r: every hash required; a short tail is refused */
    uint8_t id[32] = {1}, a[32] = {2}, b[32] = {3}, c[32] = {4};
    assert_int_equal(fedshare_payload_round_finalize_server(id, 1, a, b, NULL, &pl, &len),
                     FEDSHARE_E_INVALID);
    assert_int_equal(fedshare_payload_round_finalize_server(id, 0, a, b, c, &pl, &len),
                     FEDSHARE_E_INVALID);
    assert_int_equal(fedshare_payload_round_finalize_server(id, 1, a, b, c, &pl, &len),
                     FEDSHARE_OK);
    assert_int_equal(len, 1 + 32 + 4 + 96);
    assert_int_equal(fedshare_precheck(w->c, FEDSHARE_OP_ROUND_FINALIZE, g_pk[4], pl, len - 1),
                     FEDSHARE_E_FORMAT);
    fedshare_free(pl);
}

static void test_payloads_reject_garbage(void **state) {
    world *w = *state;
    uint8_t junk[40] = {1, 2, 3};
    for (uint16_t op = FEDSHARE_OP_DATA_REGISTER; op <= FEDSHARE_OP_SUM_REFUSED; op++) {
        assert_int_not_equal(fedshare_precheck(w->c, op, g_pk[0], junk, sizeof junk), FEDSHARE_OK);
        assert_int_not_equal(fedshare_precheck(w->c, op, g_pk[0], junk, 0), FEDSHARE_OK);
    }
    uint8_t *pl;
    size_t len;
    uint8_t id[32] = {0};
    assert_int_equal(fedshare_payload_data_retire(id, &pl, &len), 0);
    assert_int_equal(fedshare_precheck(w->c, FEDSHARE_OP_DATA_RETIRE, g_pk[0], pl, len), 0);
    assert_int_equal(fedshare_precheck(w->c, FEDSHARE_OP_DATA_RETIRE, g_pk[0], pl, len - 1),
                     FEDSHARE_E_FORMAT);
    pl[0] = 2;
    assert_int_equal(fedshare_precheck(w->c, FEDSHARE_OP_DATA_RETIRE, g_pk[0], pl, len),
                     FEDSHARE_E_VERSION);
    fedshare_free(pl);
    assert_int_equal(fedshare_payload_access_request(id, "train", "x", 5, 4, 1, &pl, &len),
                     FEDSHARE_E_INVALID);
}

/* Issue 23 (3): a share that does not verify is named by the aggregator's verdict and
 * stops counting; further holders' shares are taken, and the round finalizes. On the
 * old contract the third holder's share was refused (-511) and the round stalled. */
static void test_bad_share_does_not_stall(void **state) {
    world *w = *state;
    task_fixture f;
    make_task(w, &f, 50, 1, 0);
    honest_round_uploads(w, &f, 1);
    /* holder 0's share blob does not exist (or its proof fails: the contract holds
     * hashes only); with holder 1's, t = 2 are recorded */
    round_hashes(w, &f, 1, 0, FEDSHARE_OP_DECRYPTION_SHARE, 0xA0, 0xBB, FEDSHARE_OK);
    round_hashes(w, &f, 1, 1, FEDSHARE_OP_DECRYPTION_SHARE, 0xA0, 0xB1, FEDSHARE_OK);
    expect_in(w, FEDSHARE_REC_TASK, f.task, NULL, 0, "\"phase\":4");
    /* the honest third holder is not kept out */
    round_hashes(w, &f, 1, 2, FEDSHARE_OP_DECRYPTION_SHARE, 0xA0, 0xB2, FEDSHARE_OK);
    /* the aggregator names the bad share: only it may, only a recorded share, once */
    uint8_t h0[32], blob[32], *pl;
    size_t len;
    memcpy(h0, g_pk[0], 32);
    memset(blob, 0xBB, 32);
    assert_int_equal(fedshare_payload_share_verdict(f.task, 1, h0, blob, &pl, &len), 0);
    assert_int_equal(act(w, 1, FEDSHARE_OP_SHARE_VERDICT, pl, len, NULL), LEDGER_E_REJECTED);
    uint8_t other[32];
    memset(other, 0xB9, 32);
    assert_int_equal(fedshare_payload_share_verdict(f.task, 1, h0, other, &pl, &len), 0);
    assert_int_equal(act(w, 4, FEDSHARE_OP_SHARE_VERDICT, pl, len, NULL), FEDSHARE_E_NOT_FOUND);
    assert_int_equal(fedshare_payload_share_verdict(f.task, 1, h0, blob, &pl, &len), 0);
    assert_int_equal(act(w, 4, FEDSHARE_OP_SHARE_VERDICT, pl, len, NULL), FEDSHARE_OK);
    /* the verdict is in the bad holder's own trail (its latest entry) */
    ledger_trace_entry e[64];
    size_t n = 0;
    assert_int_equal(ledger_store_trace(w->s, FEDSHARE_TRACE_MEMBER, g_pk[0], 32, 0, e, 64, &n),
                     LEDGER_OK);
    assert_true(n > 0 && n < 64);
    assert_int_equal(e[n - 1].height, ledger_store_height(w->s));
    expect_in(w, FEDSHARE_REC_ROUND, f.task, NULL, 1,
              "\"blob\":\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\","
              "\"refused\":true");
    assert_int_equal(fedshare_payload_share_verdict(f.task, 1, h0, blob, &pl, &len), 0);
    assert_int_equal(act(w, 4, FEDSHARE_OP_SHARE_VERDICT, pl, len, NULL), FEDSHARE_E_EXISTS);
    /* the aggregator records that holder 1's batch verified: once, and then no
     * refusal of it; any other verdict byte does not decode */
    memcpy(h0, g_pk[1], 32);
    memset(blob, 0xB1, 32);
    assert_int_equal(fedshare_payload_share_verified(f.task, 1, h0, blob, &pl, &len), 0);
    pl[len - 1] = 3;
    assert_int_equal(fedshare_precheck(w->c, FEDSHARE_OP_SHARE_VERDICT, g_pk[4], pl, len),
                     FEDSHARE_E_FORMAT);
    fedshare_free(pl);
    assert_int_equal(fedshare_payload_share_verified(f.task, 1, h0, blob, &pl, &len), 0);
    assert_int_equal(act(w, 1, FEDSHARE_OP_SHARE_VERDICT, pl, len, NULL), LEDGER_E_REJECTED);
    assert_int_equal(fedshare_payload_share_verified(f.task, 1, h0, blob, &pl, &len), 0);
    assert_int_equal(act(w, 4, FEDSHARE_OP_SHARE_VERDICT, pl, len, NULL), FEDSHARE_OK);
    expect_in(w, FEDSHARE_REC_ROUND, f.task, NULL, 1,
              "\"blob\":\"b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1\","
              "\"refused\":false,\"verified\":true");
    assert_int_equal(fedshare_payload_share_verified(f.task, 1, h0, blob, &pl, &len), 0);
    assert_int_equal(act(w, 4, FEDSHARE_OP_SHARE_VERDICT, pl, len, NULL), FEDSHARE_E_EXISTS);
    assert_int_equal(fedshare_payload_share_verdict(f.task, 1, h0, blob, &pl, &len), 0);
    assert_int_equal(act(w, 4, FEDSHARE_OP_SHARE_VERDICT, pl, len, NULL), FEDSHARE_E_EXISTS);
    /* two good shares remain: still finalize; the bad holder cannot post again */
    expect_in(w, FEDSHARE_REC_TASK, f.task, NULL, 0, "\"phase\":4");
    round_hashes(w, &f, 1, 0, FEDSHARE_OP_DECRYPTION_SHARE, 0xA0, 0xB0, FEDSHARE_E_EXISTS);
    round_hashes(w, &f, 1, 4, FEDSHARE_OP_ROUND_FINALIZE, 0xC1, 0xD0, FEDSHARE_OK);
    for (int i = 0; i < 3; i++)
        evaluate(w, &f, 1, i, 0xC1, 0.8, FEDSHARE_OK);
    expect_in(w, FEDSHARE_REC_TASK, f.task, NULL, 0, "\"phase\":1,\"stop_reason\":0,\"round\":2");

    /* round 2: two bad shares of three leave one good: back to decrypt, and the
     * round waits (a coalition of n − t + 1 holders can always stall by silence) */
    honest_round_uploads(w, &f, 2);
    round_hashes(w, &f, 2, 0, FEDSHARE_OP_DECRYPTION_SHARE, 0xA0, 0xBB, FEDSHARE_OK);
    round_hashes(w, &f, 2, 1, FEDSHARE_OP_DECRYPTION_SHARE, 0xA0, 0xBC, FEDSHARE_OK);
    expect_in(w, FEDSHARE_REC_TASK, f.task, NULL, 0, "\"phase\":4");
    memcpy(h0, g_pk[1], 32);
    memset(blob, 0xBC, 32);
    assert_int_equal(fedshare_payload_share_verdict(f.task, 2, h0, blob, &pl, &len), 0);
    assert_int_equal(act(w, 4, FEDSHARE_OP_SHARE_VERDICT, pl, len, NULL), FEDSHARE_OK);
    expect_in(w, FEDSHARE_REC_TASK, f.task, NULL, 0, "\"phase\":3");
    round_hashes(w, &f, 2, 4, FEDSHARE_OP_ROUND_FINALIZE, 0xC2, 0xD0, FEDSHARE_E_STATE);
    round_hashes(w, &f, 2, 2, FEDSHARE_OP_DECRYPTION_SHARE, 0xA0, 0xB2, FEDSHARE_OK);
    expect_in(w, FEDSHARE_REC_TASK, f.task, NULL, 0, "\"phase\":4");
}

/* Issue 23 (4): an evaluation of 1e308 × 4e9 samples overflowed the stored sum to +inf
 * and every later read failed. Now the encoder and the contract refuse evaluations
 * outside the documented bounds, the round stays readable and honest ones complete. */
static void test_evaluation_bounds(void **state) {
    world *w = *state;
    task_fixture f;
    make_task(w, &f, 50, 1, 0);
    honest_round_uploads(w, &f, 1);
    honest_round_decrypt(w, &f, 1);
    uint8_t model[32], *pl;
    size_t len;
    memset(model, 0xC1, 32);
    assert_int_equal(fedshare_payload_evaluation(f.task, 1, model, 1e308, 4000000000u, &pl, &len),
                     FEDSHARE_E_INVALID);
    assert_int_equal(fedshare_payload_evaluation(f.task, 1, model, 0.5, 4000000000u, &pl, &len),
                     FEDSHARE_E_INVALID);
    assert_int_equal(fedshare_payload_evaluation(f.task, 1, model, -2e6, 10, &pl, &len),
                     FEDSHARE_E_INVALID);
    /* the same act made by hand, as a hostile client would */
    assert_int_equal(fedshare_payload_evaluation(f.task, 1, model, 0.5, 50, &pl, &len), 0);
    double big = 1e308;
    uint64_t bits;
    memcpy(&bits, &big, 8);
    size_t off = 1 + 32 + 4 + 32;
    for (int i = 0; i < 8; i++)
        pl[off + (size_t)i] = (uint8_t)(bits >> (56 - 8 * i));
    uint32_t samples = 4000000000u;
    for (int i = 0; i < 4; i++)
        pl[off + 8 + (size_t)i] = (uint8_t)(samples >> (24 - 8 * i));
    assert_int_equal(fedshare_precheck(w->c, FEDSHARE_OP_EVALUATION, g_pk[0], pl, len),
                     FEDSHARE_E_FORMAT);
    assert_int_equal(act(w, 0, FEDSHARE_OP_EVALUATION, pl, len, NULL), LEDGER_E_REJECTED);
    /* nothing stored: the round reads, no one has evaluated, honest evaluations finish it */
    expect_in(w, FEDSHARE_REC_ROUND, f.task, NULL, 1, "\"metric_sum\":0,\"samples\":0");
    evaluate(w, &f, 1, 0, 0xC1, 1e6, FEDSHARE_OK); /* the bound itself is fine */
    evaluate(w, &f, 1, 1, 0xC1, 0.8, FEDSHARE_OK);
    evaluate(w, &f, 1, 2, 0xC1, 0.8, FEDSHARE_OK);
    expect_in(w, FEDSHARE_REC_TASK, f.task, NULL, 0, "\"phase\":1,\"stop_reason\":0,\"round\":2");
}

/* Issue 23 (5): a round whose accepted updates are fewer than the task's minimum (3
 * by default with 3 participants) is skipped and recorded, and no share is taken;
 * on the old contract it went on to aggregation and decryption of one update. */
static void test_too_few_updates(void **state) {
    world *w = *state;
    task_fixture f;
    make_task(w, &f, 50, 1, 0);
    expect_in(w, FEDSHARE_REC_TASK, f.task, NULL, 0, "\"min_updates\":3");
    honest_round(w, &f, 1, 0.5); /* three warm-up updates fill the anomaly history */
    /* round 2: two far-off norms are judged suspicious, one update is accepted */
    upload(w, &f, 0, 2, 1e6, FEDSHARE_OK);
    upload(w, &f, 1, 2, 1e-6, FEDSHARE_OK);
    upload(w, &f, 2, 2, 1.0, FEDSHARE_OK);
    expect_in(w, FEDSHARE_REC_ROUND, f.task, NULL, 2, "\"skipped\":true");
    expect_in(w, FEDSHARE_REC_ROUND, f.task, NULL, 2, "\"total_weight\":0");
    expect_in(w, FEDSHARE_REC_TASK, f.task, NULL, 0, "\"phase\":1,\"stop_reason\":0,\"round\":3");
    round_hashes(w, &f, 2, 4, FEDSHARE_OP_AGGREGATE, 0xA0, 0, FEDSHARE_E_STATE);
    round_hashes(w, &f, 2, 0, FEDSHARE_OP_DECRYPTION_SHARE, 0xA0, 0xB0, FEDSHARE_E_TOO_FEW);
    expect_in(w, FEDSHARE_REC_ROUND, f.task, NULL, 2, "\"shares\":[]");
    /* an ordinary round still decrypts */
    honest_round(w, &f, 3, 0.6);
    expect_in(w, FEDSHARE_REC_ROUND, f.task, NULL, 3, "\"skipped\":false");
}

/* Issue 23 (5): tasks need two participants and a minimum of 2 … n. */
static void test_task_minimums(void **state) {
    world *w = *state;
    uint8_t parts[64] = {0}, datas[64] = {0}, codec[8] = {1}, *pl = NULL;
    size_t len = 0;
    fedshare_task_spec s;
    fedshare_task_spec_init(&s);
    assert_int_equal(s.version, FEDSHARE_TASK_SPEC_VERSION);
    assert_int_equal(s.min_updates, 0);
    s.participants = parts;
    s.data_ids = datas;
    s.codec = codec;
    s.codec_len = sizeof codec;
    s.n_participants = 1;
    assert_int_equal(fedshare_payload_task_create(&s, &pl, &len), FEDSHARE_E_INVALID);
    s.n_participants = 2;
    s.min_updates = 1;
    assert_int_equal(fedshare_payload_task_create(&s, &pl, &len), FEDSHARE_E_INVALID);
    s.min_updates = 3;
    assert_int_equal(fedshare_payload_task_create(&s, &pl, &len), FEDSHARE_E_INVALID);
    s.min_updates = 2;
    assert_int_equal(fedshare_payload_task_create(&s, &pl, &len), FEDSHARE_OK);
    assert_int_equal(pl[0], 3); /* TASK_CREATE version 3 carries the minimum and the rule */
    assert_int_equal(fedshare_precheck(w->c, FEDSHARE_OP_TASK_CREATE, g_pk[0], pl, len),
                     FEDSHARE_OK);
    /* a hand-made payload with one participant is refused by every replica */
    pl[1 + 96 + 3] = 1;
    assert_int_equal(fedshare_precheck(w->c, FEDSHARE_OP_TASK_CREATE, g_pk[0], pl, len),
                     FEDSHARE_E_FORMAT);
    fedshare_free(pl);
    /* the default rule is robust2; robust3 (5) is accepted; an unknown rule is refused */
    assert_int_equal(s.anomaly_rule, FEDSHARE_RULE_ROBUST2);
    s.anomaly_rule = FEDSHARE_RULE_ROBUST3;
    assert_int_equal(fedshare_payload_task_create(&s, &pl, &len), FEDSHARE_OK);
    assert_int_equal(fedshare_precheck(w->c, FEDSHARE_OP_TASK_CREATE, g_pk[0], pl, len),
                     FEDSHARE_OK);
    fedshare_free(pl);
    s.anomaly_rule = 6;
    assert_int_equal(fedshare_payload_task_create(&s, &pl, &len), FEDSHARE_E_INVALID);
    s.anomaly_rule = FEDSHARE_RULE_POOLED;
    assert_int_equal(fedshare_payload_task_create(&s, &pl, &len), FEDSHARE_OK);
    assert_int_equal(fedshare_precheck(w->c, FEDSHARE_OP_TASK_CREATE, g_pk[0], pl, len),
                     FEDSHARE_OK);
    /* a hand-made payload naming an unknown rule is refused by every replica */
    pl[len - 1] = 7;
    assert_int_equal(fedshare_precheck(w->c, FEDSHARE_OP_TASK_CREATE, g_pk[0], pl, len),
                     FEDSHARE_E_FORMAT);
    /* a version-2 payload (no rule field) still reads */
    pl[0] = 2;
    assert_int_equal(fedshare_precheck(w->c, FEDSHARE_OP_TASK_CREATE, g_pk[0], pl, len - 4),
                     FEDSHARE_OK);
    fedshare_free(pl);
    /* a version-1 spec (no minimum field read) gets the default */
    s.version = 1;
    s.min_updates = 7;
    s.anomaly_rule = 9; /* not read from a version-1 spec */
    assert_int_equal(fedshare_payload_task_create(&s, &pl, &len), FEDSHARE_OK);
    fedshare_free(pl);
}

/* Issue 23 (6): a retired data set accepts no new policy, first or updated. */
static void test_retired_policy(void **state) {
    world *w = *state;
    uint8_t a[32], b[32], *pl;
    size_t len;
    register_data(w, 0, "ehr-a", a);
    register_data(w, 0, "ehr-b", b);
    set_policy(w, 0, b);
    abac_cedar_policies *ps1 = compile(w, POLICY, 1);
    size_t n1 = abac_cedar_policies_encoded_size(ps1), wrote;
    uint8_t *b1 = malloc(n1);
    assert_int_equal(abac_cedar_policies_encode(ps1, b1, n1, &wrote), ABAC_OK);
    for (int k = 0; k < 2; k++) {
        assert_int_equal(fedshare_payload_data_retire(k ? b : a, &pl, &len), 0);
        assert_int_equal(act(w, 0, FEDSHARE_OP_DATA_RETIRE, pl, len, NULL), FEDSHARE_OK);
    }
    assert_int_equal(fedshare_payload_policy_set(a, b1, wrote, &pl, &len), 0);
    assert_int_equal(act(w, 0, FEDSHARE_OP_POLICY_SET, pl, len, NULL), FEDSHARE_E_STATE);
    assert_null(record(w, FEDSHARE_REC_POLICY, a, NULL, 0));
    /* an update with a full quorum is refused too, and the policy in force stays */
    abac_cedar_policies *ps2 = compile(w, "permit (principal, action, resource);", 2);
    uint8_t pks[5 * 32], sigs[5 * 64], upd[1 << 14];
    for (int i = 0; i < 5; i++) {
        memcpy(pks + 32 * i, g_pk[i], 32);
        assert_int_equal(abac_cedar_update_sign(ps1, ps2, g_sk[i], sigs + 64 * i), ABAC_OK);
    }
    size_t ulen;
    assert_int_equal(abac_cedar_update_encode(ps1, ps2, pks, sigs, 5, upd, sizeof upd, &ulen),
                     ABAC_OK);
    uint8_t key[FEDSHARE_KEY_MAX], *before = NULL, *after = NULL;
    size_t klen, nb, na;
    assert_int_equal(fedshare_state_key(FEDSHARE_REC_POLICY, b, NULL, 0, key, &klen), 0);
    assert_int_equal(ledger_store_get(w->s, key, klen, &before, &nb), LEDGER_OK);
    assert_int_equal(fedshare_payload_policy_update(b, upd, ulen, &pl, &len), 0);
    assert_int_equal(act(w, 0, FEDSHARE_OP_POLICY_UPDATE, pl, len, NULL), FEDSHARE_E_STATE);
    assert_int_equal(ledger_store_get(w->s, key, klen, &after, &na), LEDGER_OK);
    assert_int_equal(na, nb);
    assert_memory_equal(after, before, nb);
    ledger_free(before);
    ledger_free(after);
    free(b1);
    abac_cedar_policies_free(ps1);
    abac_cedar_policies_free(ps2);
}

/* A dealerless key record: recorded only when every holder's attestation verifies
 * against its registered key; a forged, missing or other-session attestation is
 * refused (FEDSHARE_E_ATTESTATION) and stores nothing; a version-1 payload (the
 * format before the method byte) still records, as a dealt key. */
static void test_key_dealerless(void **state) {
    world *w = *state;
    uint8_t p[128], q[128], *pl;
    size_t pn = unhex(PRIME1, p), qn = unhex(PRIME2, q), len;
    phe_rng *rng = NULL;
    assert_int_equal(phe_rng_new_seeded(&rng, (const uint8_t *)"dealerless", 10), 0);
    phe_threshold_params *pp = NULL;
    phe_threshold_keyshare *ks[3] = {0};
    assert_int_equal(phe_threshold_deal_with_primes(&pp, ks, p, pn, q, qn, 2, 3, rng), 0);
    size_t en = phe_threshold_params_encoded_size(pp), wrote;
    uint8_t *enc = malloc(en), holders[96], shares[96], sigs[192], bad[192], key_id[32];
    assert_int_equal(phe_threshold_params_encode(pp, enc, en, &wrote), 0);
    assert_int_equal(phe_threshold_params_key_id(pp, key_id), 0);
    uint8_t session[32], other[32], commit[32];
    memset(session, 0x51, 32);
    memset(other, 0x52, 32);
    memset(commit, 0x53, 32);
    for (int i = 0; i < 3; i++) {
        uint8_t seed[32];
        memset(seed, i + 1, 32);
        memcpy(holders + 32 * i, g_pk[i], 32);
        memset(shares + 32 * i, 0x70 + i, 32);
        assert_int_equal(
            fedshare_key_attest(seed, enc, wrote, session, commit, shares + 32 * i, sigs + 64 * i),
            FEDSHARE_OK);
        assert_int_equal(fedshare_key_attestation_verify(g_pk[i], enc, wrote, session, commit,
                                                         shares + 32 * i, sigs + 64 * i),
                         FEDSHARE_OK);
    }
    /* forged: one bit of holder 2's signature flipped */
    memcpy(bad, sigs, 192);
    bad[64 + 10] ^= 1;
    assert_int_equal(fedshare_payload_key_record_dealerless(enc, wrote, holders, shares, 3, session,
                                                            commit, bad, &pl, &len),
                     FEDSHARE_OK);
    assert_int_equal(act(w, 0, FEDSHARE_OP_KEY_RECORD, pl, len, NULL), FEDSHARE_E_ATTESTATION);
    assert_null(record(w, FEDSHARE_REC_KEY, key_id, NULL, 0));
    /* missing holder: holder 3's attestation absent (zeros), or made by holder 1 for it */
    memcpy(bad, sigs, 192);
    memset(bad + 128, 0, 64);
    assert_int_equal(fedshare_payload_key_record_dealerless(enc, wrote, holders, shares, 3, session,
                                                            commit, bad, &pl, &len),
                     FEDSHARE_OK);
    assert_int_equal(act(w, 0, FEDSHARE_OP_KEY_RECORD, pl, len, NULL), FEDSHARE_E_ATTESTATION);
    {
        uint8_t seed[32];
        memset(seed, 1, 32);
        assert_int_equal(
            fedshare_key_attest(seed, enc, wrote, session, commit, shares + 64, bad + 128),
            FEDSHARE_OK);
    }
    assert_int_equal(fedshare_payload_key_record_dealerless(enc, wrote, holders, shares, 3, session,
                                                            commit, bad, &pl, &len),
                     FEDSHARE_OK);
    assert_int_equal(act(w, 0, FEDSHARE_OP_KEY_RECORD, pl, len, NULL), FEDSHARE_E_ATTESTATION);
    /* the payload cut short of the last attestation does not decode */
    assert_int_equal(fedshare_payload_key_record_dealerless(enc, wrote, holders, shares, 3, session,
                                                            commit, sigs, &pl, &len),
                     FEDSHARE_OK);
    assert_int_equal(fedshare_precheck(w->c, FEDSHARE_OP_KEY_RECORD, g_pk[0], pl, len - 64),
                     FEDSHARE_E_FORMAT);
    fedshare_free(pl);
    /* wrong session: the attestations signed another session than the one recorded */
    assert_int_equal(fedshare_payload_key_record_dealerless(enc, wrote, holders, shares, 3, other,
                                                            commit, sigs, &pl, &len),
                     FEDSHARE_OK);
    assert_int_equal(act(w, 0, FEDSHARE_OP_KEY_RECORD, pl, len, NULL), FEDSHARE_E_ATTESTATION);
    /* another share hash than the one holder 2 signed */
    uint8_t sh2[96];
    memcpy(sh2, shares, 96);
    sh2[40] ^= 1;
    assert_int_equal(fedshare_payload_key_record_dealerless(enc, wrote, holders, sh2, 3, session,
                                                            commit, sigs, &pl, &len),
                     FEDSHARE_OK);
    assert_int_equal(act(w, 0, FEDSHARE_OP_KEY_RECORD, pl, len, NULL), FEDSHARE_E_ATTESTATION);
    assert_null(record(w, FEDSHARE_REC_KEY, key_id, NULL, 0));
    /* good: recorded, says how it was made, every attestation verifies */
    assert_int_equal(fedshare_payload_key_record_dealerless(enc, wrote, holders, shares, 3, session,
                                                            commit, sigs, &pl, &len),
                     FEDSHARE_OK);
    assert_int_equal(act(w, 0, FEDSHARE_OP_KEY_RECORD, pl, len, NULL), FEDSHARE_OK);
    char *j = record(w, FEDSHARE_REC_KEY, key_id, NULL, 0);
    assert_non_null(j);
    assert_non_null(strstr(j, "\"made\":\"dealerless\""));
    assert_null(strstr(j, "\"dealer\""));
    assert_null(strstr(j, "\"attested\":false"));
    int n_ok = 0;
    for (const char *c = j; (c = strstr(c, "\"attested\":true")); c++)
        n_ok++;
    assert_int_equal(n_ok, 3);
    fedshare_free(j);
    /* a version-1 payload (no method byte) is still a dealt key's record */
    phe_threshold_params *pp2 = NULL;
    phe_threshold_keyshare *ks2[3] = {0};
    assert_int_equal(phe_threshold_deal_with_primes(&pp2, ks2, q, qn, p, pn, 2, 3, rng), 0);
    size_t en2 = phe_threshold_params_encoded_size(pp2), wrote2;
    uint8_t *enc2 = malloc(en2), key2[32];
    assert_int_equal(phe_threshold_params_encode(pp2, enc2, en2, &wrote2), 0);
    assert_int_equal(phe_threshold_params_key_id(pp2, key2), 0);
    assert_int_equal(fedshare_payload_key_record(enc2, wrote2, holders, shares, 3, &pl, &len),
                     FEDSHARE_OK);
    assert_int_equal(pl[0], 2);
    assert_int_equal(pl[len - 1], FEDSHARE_KEY_DEALT);
    pl[0] = 1; /* version 1 ends after the share hashes */
    assert_int_equal(act(w, 1, FEDSHARE_OP_KEY_RECORD, pl, len - 1, NULL), FEDSHARE_OK);
    expect_in(w, FEDSHARE_REC_KEY, key2, NULL, 0, "\"made\":\"dealt\"");
    expect_in(w, FEDSHARE_REC_KEY, key2, NULL, 0, "\"dealer\"");
    free(enc);
    free(enc2);
    for (int i = 0; i < 3; i++) {
        phe_threshold_keyshare_free(ks[i]);
        phe_threshold_keyshare_free(ks2[i]);
    }
    phe_threshold_params_free(pp);
    phe_threshold_params_free(pp2);
    phe_rng_free(rng);
}

static void test_data_seal(void **state) {
    (void)state;
    uint8_t key[32], other[32], msg[100], sealed[100 + FEDSHARE_SEAL_OVERHEAD], back[100];
    memset(key, 7, 32);
    memset(other, 8, 32);
    for (int i = 0; i < 100; i++)
        msg[i] = (uint8_t)i;
    assert_int_equal(fedshare_data_seal(key, msg, 100, sealed), FEDSHARE_OK);
    assert_memory_equal(sealed, "FSDE\x01", 5);
    assert_int_equal(fedshare_data_open(key, sealed, sizeof sealed, back), FEDSHARE_OK);
    assert_memory_equal(back, msg, 100);
    assert_int_equal(fedshare_data_open(other, sealed, sizeof sealed, back), FEDSHARE_E_MISMATCH);
    sealed[60] ^= 1;
    assert_int_equal(fedshare_data_open(key, sealed, sizeof sealed, back), FEDSHARE_E_MISMATCH);
    sealed[60] ^= 1;
    sealed[4] = 2;
    assert_int_equal(fedshare_data_open(key, sealed, sizeof sealed, back), FEDSHARE_E_FORMAT);
    assert_int_equal(fedshare_data_open(key, sealed, 10, back), FEDSHARE_E_FORMAT);
    /* two seals of the same data differ (random nonce) */
    uint8_t s2[100 + FEDSHARE_SEAL_OVERHEAD];
    sealed[4] = 1;
    assert_int_equal(fedshare_data_seal(key, msg, 100, s2), FEDSHARE_OK);
    assert_memory_not_equal(s2, sealed, sizeof s2);
    /* every bit of every header byte (magic, version, nonce) is checked or
     * authenticated as associated data: no change opens (the PHTF weakness
     * of issue 23 does not exist here) */
    for (int i = 0; i < 29; i++) {
        for (int bit = 0; bit < 8; bit++) {
            sealed[i] ^= (uint8_t)(1u << bit);
            assert_int_not_equal(fedshare_data_open(key, sealed, sizeof sealed, back), FEDSHARE_OK);
            sealed[i] ^= (uint8_t)(1u << bit);
        }
    }
    assert_int_equal(fedshare_data_open(key, sealed, sizeof sealed, back), FEDSHARE_OK);
}

/* ---- membership by quorum (docs/fedshare-contracts.md §Membership) ---- */

static const uint8_t ZERO32[32];

static int32_t propose(world *w, int who, uint8_t kind, int subject, uint32_t roles,
                       const char *name, const char *org) {
    uint8_t *pl;
    size_t len;
    const char *creds[] = {"irb"};
    assert_int_equal(fedshare_payload_member_propose(kind, g_pk[subject], roles, name, org,
                                                     name ? creds : NULL, name ? 1 : 0, &pl, &len),
                     FEDSHARE_OK);
    return act(w, who, FEDSHARE_OP_MEMBER_PROPOSE, pl, len, NULL);
}

static int32_t approve(world *w, int who, uint64_t id) {
    uint8_t *pl;
    size_t len;
    assert_int_equal(fedshare_payload_member_approve(id, &pl, &len), FEDSHARE_OK);
    return act(w, who, FEDSHARE_OP_MEMBER_APPROVE, pl, len, NULL);
}

static void expect_change(world *w, uint64_t id, const char *needle) {
    uint8_t rid[32] = {0};
    for (int i = 0; i < 8; i++)
        rid[24 + i] = (uint8_t)(id >> (56 - 8 * i));
    expect_in(w, FEDSHARE_REC_MEMBER_CHANGE, rid, NULL, 0, needle);
}

static int32_t publish(world *w, int who, uint8_t tag) {
    uint8_t structure[32], digest[32], *pl;
    size_t len;
    memset(structure, 0x51, 32);
    memset(digest, tag, 32);
    assert_int_equal(fedshare_payload_model_publish(structure, digest, 31, "m", &pl, &len), 0);
    return act(w, who, FEDSHARE_OP_MODEL_PUBLISH, pl, len, NULL);
}

static uint64_t tip_height(world *w) {
    ledger_tip t;
    assert_int_equal(ledger_store_tip(w->s, &t), LEDGER_OK);
    return t.height;
}

/* A member's roles change by more than two thirds of the members in force (4 of 5),
 * two blocks after the approving one; 3 of 5 leave it proposed; one proposal at a
 * time, none while an approved change is not in force; a proposal expires. */
static void test_member_roles(void **state) {
    world *w = *state;
    /* member 3 (regulator) may not publish */
    assert_int_equal(publish(w, 3, 1), LEDGER_E_REJECTED); /* refused before the contracts */
    /* nothing recorded until the first proposal: the configuration is in force */
    assert_null(record(w, FEDSHARE_REC_MEMBERS, ZERO32, NULL, 0));
    uint32_t pub = FEDSHARE_ROLE_REGULATOR | FEDSHARE_ROLE_PUBLISHER;
    /* malformed proposals never decode */
    uint8_t *pl;
    size_t len;
    assert_int_equal(fedshare_payload_member_propose(FEDSHARE_MEMBER_ROLES, g_pk[3], 64, NULL, NULL,
                                                     NULL, 0, &pl, &len),
                     FEDSHARE_E_INVALID);
    assert_int_equal(fedshare_payload_member_propose(FEDSHARE_MEMBER_RETIRE, g_pk[3], 1, NULL, NULL,
                                                     NULL, 0, &pl, &len),
                     FEDSHARE_E_INVALID);
    assert_int_equal(fedshare_payload_member_propose(FEDSHARE_MEMBER_JOIN, g_pk[5], 1, "bad name",
                                                     NULL, NULL, 0, &pl, &len),
                     FEDSHARE_E_INVALID);
    assert_int_equal(fedshare_payload_member_approve(0, &pl, &len), FEDSHARE_E_INVALID);
    /* a non-member cannot propose; a change that changes nothing is refused */
    assert_int_equal(propose(w, 5, FEDSHARE_MEMBER_ROLES, 3, pub, NULL, NULL), LEDGER_E_REJECTED);
    assert_int_equal(propose(w, 0, FEDSHARE_MEMBER_ROLES, 3, FEDSHARE_ROLE_REGULATOR, NULL, NULL),
                     FEDSHARE_E_STATE);
    assert_null(record(w, FEDSHARE_REC_MEMBERS, ZERO32, NULL, 0));

    assert_int_equal(propose(w, 0, FEDSHARE_MEMBER_ROLES, 3, pub, NULL, NULL), FEDSHARE_OK);
    expect_change(w, 1, "\"status\":\"proposed\"");
    /* one proposal at a time; approvals once each; only the open id */
    assert_int_equal(propose(w, 1, FEDSHARE_MEMBER_ROLES, 2, FEDSHARE_ROLE_PROVIDER, NULL, NULL),
                     FEDSHARE_E_STATE);
    assert_int_equal(approve(w, 0, 1), FEDSHARE_E_EXISTS);
    assert_int_equal(approve(w, 1, 2), FEDSHARE_E_NOT_FOUND);
    assert_int_equal(approve(w, 1, 1), FEDSHARE_OK);
    assert_int_equal(approve(w, 2, 1), FEDSHARE_OK);
    /* 3 of 5: not more than two thirds */
    expect_change(w, 1, "\"status\":\"proposed\"");
    assert_int_equal(publish(w, 3, 2), LEDGER_E_REJECTED);
    assert_int_equal(approve(w, 4, 1), FEDSHARE_OK);
    uint64_t h = tip_height(w);
    char want[96];
    snprintf(want, sizeof want, "\"status\":\"approved\",\"decided_at\":%llu,\"effective\":%llu",
             (unsigned long long)h, (unsigned long long)h + 2);
    expect_change(w, 1, want);
    /* block h + 1: not in force yet, and no new proposal while it is pending */
    assert_int_equal(propose(w, 0, FEDSHARE_MEMBER_ROLES, 2, FEDSHARE_ROLE_PROVIDER, NULL, NULL),
                     FEDSHARE_E_STATE);
    /* block h + 2: in force */
    assert_int_equal(publish(w, 3, 3), FEDSHARE_OK);
    expect_in(w, FEDSHARE_REC_MEMBERS, ZERO32, NULL, 0,
              "\"roles\":[\"publisher\",\"regulator\"],\"status\":\"active\"");

    /* a proposal that is not approved within FEDSHARE_MEMBER_TTL blocks expires */
    assert_int_equal(propose(w, 0, FEDSHARE_MEMBER_ROLES, 3, FEDSHARE_ROLE_REGULATOR, NULL, NULL),
                     FEDSHARE_OK);
    for (int i = 0; i < FEDSHARE_MEMBER_TTL; i++)
        assert_int_equal(publish(w, 4, (uint8_t)(10 + i)), FEDSHARE_OK);
    assert_int_equal(approve(w, 1, 2), FEDSHARE_E_STATE);
    /* a new proposal closes it as expired */
    assert_int_equal(propose(w, 1, FEDSHARE_MEMBER_ROLES, 3, FEDSHARE_ROLE_REGULATOR, NULL, NULL),
                     FEDSHARE_OK);
    expect_change(w, 2, "\"status\":\"expired\"");
    expect_change(w, 3, "\"status\":\"proposed\"");
    assert_chain_replays(w);
}

static abac_cedar_policies *compile_members(const char *src, uint64_t version, const int *who,
                                            size_t n) {
    uint8_t members[8 * 32];
    for (size_t i = 0; i < n; i++)
        memcpy(members + 32 * i, g_pk[who[i]], 32);
    abac_compile_options o;
    abac_compile_options_init(&o);
    o.set_version = version;
    o.members = members;
    o.n_members = n;
    abac_cedar_policies *ps = NULL;
    uint32_t line, col;
    char msg[128];
    assert_int_equal(
        abac_cedar_policies_compile(&ps, src, strlen(src), &o, &line, &col, msg, sizeof msg),
        ABAC_OK);
    return ps;
}

static int32_t policy_update(world *w, int who, const uint8_t id[32], abac_cedar_policies *cur,
                             abac_cedar_policies *next, const int *signers, size_t n) {
    uint8_t pks[8 * 32], sigs[8 * 64], upd[1 << 14], *pl;
    size_t ulen, len;
    /* abac_cedar_update_encode wants them sorted by key */
    int order[8];
    for (size_t i = 0; i < n; i++)
        order[i] = signers[i];
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (memcmp(g_pk[order[j]], g_pk[order[i]], 32) < 0) {
                int t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
    for (size_t i = 0; i < n; i++) {
        memcpy(pks + 32 * i, g_pk[order[i]], 32);
        assert_int_equal(abac_cedar_update_sign(cur, next, g_sk[order[i]], sigs + 64 * i), ABAC_OK);
    }
    assert_int_equal(abac_cedar_update_encode(cur, next, pks, sigs, n, upd, sizeof upd, &ulen),
                     ABAC_OK);
    assert_int_equal(fedshare_payload_policy_update(id, upd, ulen, &pl, &len), 0);
    return act(w, who, FEDSHARE_OP_POLICY_UPDATE, pl, len, NULL);
}

/* Run a change proposed by `who` and approved by `approvers` to its height. */
static void change_in_force(world *w, int who, uint8_t kind, int subject, uint32_t roles,
                            const char *name, const char *org, const int *approvers, size_t n,
                            uint64_t id) {
    assert_int_equal(propose(w, who, kind, subject, roles, name, org), FEDSHARE_OK);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(approve(w, approvers[i], id), FEDSHARE_OK);
    expect_change(w, id, "\"status\":\"approved\"");
    /* one block for h + 1 (a request nobody minds), then h + 2 is the next act */
    assert_int_equal(publish(w, 4, (uint8_t)(0x80 + id)), FEDSHARE_OK);
}

/* A member joins (its acts refused before its height, accepted from it), a key holder
 * retires (its acts and signatures refused with FEDSHARE_E_RETIRED from the change on),
 * a retirement or role change that would leave a key with fewer than t holders is
 * refused (FEDSHARE_E_KEYHOLDERS), policy quorums count the members in force, and a
 * replay from genesis gives every state root. */
static void test_member_join_retire(void **state) {
    world *w = *state;
    uint8_t key_id[32], data[32];
    record_key(w, key_id); /* 2 of 3: holders 0, 1, 2 */
    register_data(w, 0, "ehr", data);
    int v1m[] = {0, 1, 2, 3, 4};
    abac_cedar_policies *p1 = compile_members(POLICY, 1, v1m, 5);
    size_t n1 = abac_cedar_policies_encoded_size(p1), wrote, len;
    uint8_t *b1 = malloc(n1), *pl, enc[32];
    assert_int_equal(abac_cedar_policies_encode(p1, b1, n1, &wrote), ABAC_OK);
    assert_int_equal(fedshare_payload_policy_set(data, b1, wrote, &pl, &len), 0);
    assert_int_equal(act(w, 0, FEDSHARE_OP_POLICY_SET, pl, len, NULL), FEDSHARE_OK);
    free(b1);

    /* member 5 joins as a provider: refused before, accepted at its height */
    memset(enc, 0x99, 32);
    assert_int_equal(fedshare_payload_data_register(enc, "ehr-d", "", NULL, 0, &pl, &len), 0);
    assert_int_equal(act(w, 5, FEDSHARE_OP_DATA_REGISTER, pl, len, NULL), LEDGER_E_REJECTED);
    /* a key already used, or a name already taken, cannot join */
    assert_int_equal(propose(w, 0, FEDSHARE_MEMBER_JOIN, 1, FEDSHARE_ROLE_PROVIDER, "m9", NULL),
                     FEDSHARE_E_EXISTS);
    assert_int_equal(
        propose(w, 0, FEDSHARE_MEMBER_JOIN, 5, FEDSHARE_ROLE_PROVIDER, "m1", "hospital-d"),
        FEDSHARE_E_EXISTS);
    assert_int_equal(
        propose(w, 0, FEDSHARE_MEMBER_JOIN, 5, FEDSHARE_ROLE_PROVIDER, "m5", "hospital-d"),
        FEDSHARE_OK);
    assert_int_equal(approve(w, 1, 1), FEDSHARE_OK);
    assert_int_equal(approve(w, 2, 1), FEDSHARE_OK);
    assert_int_equal(approve(w, 3, 1), FEDSHARE_OK);
    /* block h + 1: still refused */
    assert_int_equal(fedshare_payload_data_register(enc, "ehr-d", "", NULL, 0, &pl, &len), 0);
    assert_int_equal(act(w, 5, FEDSHARE_OP_DATA_REGISTER, pl, len, NULL), LEDGER_E_REJECTED);
    /* block h + 2: a member */
    assert_int_equal(fedshare_payload_data_register(enc, "ehr-d", "", NULL, 0, &pl, &len), 0);
    assert_int_equal(act(w, 5, FEDSHARE_OP_DATA_REGISTER, pl, len, NULL), FEDSHARE_OK);
    expect_in(w, FEDSHARE_REC_MEMBERS, ZERO32, NULL, 0, "\"name\":\"m5\",\"org\":\"hospital-d\"");

    /* six members now: 4 approvals are not more than two thirds, 5 are */
    int ap[] = {1, 3, 4, 5};
    assert_int_equal(propose(w, 0, FEDSHARE_MEMBER_RETIRE, 2, 0, NULL, NULL), FEDSHARE_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(approve(w, ap[i], 2), FEDSHARE_OK);
    expect_change(w, 2, "\"status\":\"proposed\"");
    assert_int_equal(approve(w, ap[3], 2), FEDSHARE_OK);
    expect_change(w, 2, "\"status\":\"approved\"");
    /* block h + 1: member 2 still acts */
    register_data(w, 2, "ehr-c2", enc);
    /* from h + 2 on: refused with its own code, and the refusal recorded */
    assert_int_equal(fedshare_payload_data_register(enc, "ehr-c3", "", NULL, 0, &pl, &len), 0);
    assert_int_equal(act(w, 2, FEDSHARE_OP_DATA_REGISTER, pl, len, NULL), FEDSHARE_E_RETIRED);
    assert_int_equal(approve(w, 2, 9), FEDSHARE_E_RETIRED);
    expect_in(w, FEDSHARE_REC_MEMBERS, ZERO32, NULL, 0, "\"name\":\"m2\"");
    expect_in(w, FEDSHARE_REC_MEMBERS, ZERO32, NULL, 0, "\"status\":\"retired\"");

    /* holders 0 and 1 are left of the 2-of-3 key: neither may leave nor lose the role */
    assert_int_equal(propose(w, 0, FEDSHARE_MEMBER_RETIRE, 1, 0, NULL, NULL),
                     FEDSHARE_E_KEYHOLDERS);
    assert_int_equal(propose(w, 1, FEDSHARE_MEMBER_ROLES, 0, FEDSHARE_ROLE_PROVIDER, NULL, NULL),
                     FEDSHARE_E_KEYHOLDERS);
    /* a retired member's key is never brought back */
    assert_int_equal(propose(w, 0, FEDSHARE_MEMBER_JOIN, 2, FEDSHARE_ROLE_PROVIDER, "m2b", NULL),
                     FEDSHARE_E_EXISTS);
    assert_int_equal(propose(w, 0, FEDSHARE_MEMBER_ROLES, 2, FEDSHARE_ROLE_PROVIDER, NULL, NULL),
                     FEDSHARE_E_RETIRED);
    /* a key holder added by a role change counts, and then one of the others may leave */
    int ap5[] = {1, 3, 4}; /* with the proposer 4 of the 5 in force */
    change_in_force(w, 0, FEDSHARE_MEMBER_ROLES, 5,
                    FEDSHARE_ROLE_PROVIDER | FEDSHARE_ROLE_KEYHOLDER, NULL, NULL, ap5, 3, 3);
    assert_int_equal(propose(w, 0, FEDSHARE_MEMBER_RETIRE, 1, 0, NULL, NULL),
                     FEDSHARE_E_KEYHOLDERS); /* 5 is a key holder, but of no recorded key */

    /* policy quorums count the members in force (0, 1, 3, 4, 5): the next set must name
     * them; a retired member's signature is refused; 3 of 5 current members are too few */
    int v2m[] = {0, 1, 3, 4, 5};
    abac_cedar_policies *p2 = compile_members("permit (principal, action, resource);", 2, v2m, 5);
    abac_cedar_policies *p2old =
        compile_members("permit (principal, action, resource);", 2, v1m, 5);
    int s_retired[] = {0, 1, 2, 3};
    assert_int_equal(policy_update(w, 0, data, p1, p2, s_retired, 4), FEDSHARE_E_RETIRED);
    int s_ok[] = {0, 1, 3, 4};
    assert_int_equal(policy_update(w, 0, data, p1, p2old, s_ok, 4), FEDSHARE_E_QUORUM);
    assert_int_equal(policy_update(w, 0, data, p1, p2, s_ok, 4), FEDSHARE_OK);
    expect_in(w, FEDSHARE_REC_MEMBERS, ZERO32, NULL, 0, "\"last_change\":3,\"open_change\":0");
    abac_cedar_policies_free(p1);
    abac_cedar_policies_free(p2);
    abac_cedar_policies_free(p2old);

    /* replay from genesis reproduces every state root */
    assert_chain_replays(w);
}

/* With four members in force (member 3 retired), a roles change approved by 2 of 4
 * stays proposed and by 3 of 4 takes force at h + 2; the retired member cannot
 * approve. */
static void test_member_quorum_of_four(void **state) {
    world *w = *state;
    int ap[] = {1, 2, 4};
    change_in_force(w, 0, FEDSHARE_MEMBER_RETIRE, 3, 0, NULL, NULL, ap, 3, 1);
    uint8_t enc[32], *pl;
    size_t len;
    memset(enc, 0x77, 32);
    /* member 4 (aggregator, publisher) may not register data */
    assert_int_equal(fedshare_payload_data_register(enc, "ehr-4", "", NULL, 0, &pl, &len), 0);
    assert_int_equal(act(w, 4, FEDSHARE_OP_DATA_REGISTER, pl, len, NULL), LEDGER_E_REJECTED);
    uint32_t roles = FEDSHARE_ROLE_AGGREGATOR | FEDSHARE_ROLE_PUBLISHER | FEDSHARE_ROLE_PROVIDER;
    assert_int_equal(propose(w, 0, FEDSHARE_MEMBER_ROLES, 4, roles, NULL, NULL), FEDSHARE_OK);
    assert_int_equal(approve(w, 3, 2), FEDSHARE_E_RETIRED);
    assert_int_equal(approve(w, 1, 2), FEDSHARE_OK);
    expect_change(w, 2, "\"status\":\"proposed\""); /* 2 of 4 */
    assert_int_equal(fedshare_payload_data_register(enc, "ehr-4", "", NULL, 0, &pl, &len), 0);
    assert_int_equal(act(w, 4, FEDSHARE_OP_DATA_REGISTER, pl, len, NULL), LEDGER_E_REJECTED);
    assert_int_equal(approve(w, 2, 2), FEDSHARE_OK); /* 3 of 4 */
    uint64_t h = tip_height(w);
    char want[96];
    snprintf(want, sizeof want, "\"status\":\"approved\",\"decided_at\":%llu,\"effective\":%llu",
             (unsigned long long)h, (unsigned long long)h + 2);
    expect_change(w, 2, want);
    /* h + 1: not yet */
    assert_int_equal(fedshare_payload_data_register(enc, "ehr-4", "", NULL, 0, &pl, &len), 0);
    assert_int_equal(act(w, 4, FEDSHARE_OP_DATA_REGISTER, pl, len, NULL), LEDGER_E_REJECTED);
    /* h + 2: in force */
    assert_int_equal(fedshare_payload_data_register(enc, "ehr-4", "", NULL, 0, &pl, &len), 0);
    assert_int_equal(act(w, 4, FEDSHARE_OP_DATA_REGISTER, pl, len, NULL), FEDSHARE_OK);
    assert_chain_replays(w);
}

/* The retirement of member 2 (participant, key holder), approved by 0, 1, 3 and 4 (4 of 5):
 * returns the height of the deciding block. */
static uint64_t retire_two(world *w) {
    assert_int_equal(propose(w, 0, FEDSHARE_MEMBER_RETIRE, 2, 0, NULL, NULL), FEDSHARE_OK);
    assert_int_equal(approve(w, 1, 1), FEDSHARE_OK);
    assert_int_equal(approve(w, 3, 1), FEDSHARE_OK);
    expect_change(w, 1, "\"status\":\"proposed\"");
    assert_int_equal(approve(w, 4, 1), FEDSHARE_OK);
    expect_change(w, 1, "\"status\":\"approved\"");
    return tip_height(w);
}

/* The aggregator of a task in progress cannot be retired (nobody else may aggregate),
 * nor a participant whose task would keep fewer participants than its minimum of
 * accepted updates (here the default 3 of 3): FEDSHARE_E_IN_TASK; once the task
 * ended, both can. */
static void test_member_retire_refused(void **state) {
    world *w = *state;
    task_fixture f;
    make_task(w, &f, 1, 1, 0);
    assert_int_equal(propose(w, 0, FEDSHARE_MEMBER_RETIRE, 2, 0, NULL, NULL), FEDSHARE_E_IN_TASK);
    assert_int_equal(propose(w, 0, FEDSHARE_MEMBER_RETIRE, 4, 0, NULL, NULL), FEDSHARE_E_IN_TASK);
    honest_round(w, &f, 1, 0.5);
    expect_in(w, FEDSHARE_REC_TASK, f.task, NULL, 0, "\"phase\":6");
    uint8_t h[32];
    assert_int_equal(request(w, 0, f.data[2], "training", w->ts / 1000 + 86400, h), FEDSHARE_OK);
    retire_two(w);
    /* h + 1: member 2 is still in force, but a new task may not name it */
    uint8_t *pl, parts[64], datas[64];
    size_t len;
    memcpy(parts, g_pk[0], 32);
    memcpy(parts + 32, g_pk[2], 32);
    memcpy(datas, f.data[0], 32);
    memcpy(datas + 32, f.data[2], 32);
    fedshare_task_spec s;
    fedshare_task_spec_init(&s);
    memcpy(s.model_id, f.model_id, 32);
    memcpy(s.key_id, f.key_id, 32);
    memcpy(s.aggregator, g_pk[4], 32);
    s.n_participants = 2;
    s.participants = parts;
    s.data_ids = datas;
    s.round_limit = 1;
    fedavg_codec_config cc;
    fedavg_codec_config_init(&cc);
    cc.max_weight = 1000;
    fedavg_codec *codec = NULL;
    assert_int_equal(fedavg_codec_select(&codec, &cc), FEDAVG_OK);
    uint8_t cbytes[256];
    assert_int_equal(fedavg_codec_encode(codec, cbytes, sizeof cbytes), FEDAVG_OK);
    fedavg_codec_free(codec);
    s.codec = cbytes;
    s.codec_len = fedavg_codec_encoded_bytes();
    assert_int_equal(fedshare_payload_task_create(&s, &pl, &len), 0);
    assert_int_equal(act(w, 0, FEDSHARE_OP_TASK_CREATE, pl, len, NULL), FEDSHARE_E_RETIRED);
}

/* A participant retires in round 2 of a 3-round task (minimum 2 accepted updates):
 * its round-2 update, uploaded but not yet aggregated, is dropped when the
 * retirement is decided; its later acts in the task are refused with
 * FEDSHARE_E_RETIRED (by the task at h + 1, by the membership from h + 2); its
 * entries leave the anomaly history; rounds 2 and 3 complete with the other two
 * participants and a full replay from genesis gives every state root. Fails on
 * the code before: the retirement was refused with FEDSHARE_E_IN_TASK. */
static void test_member_retire_in_task(void **state) {
    world *w = *state;
    task_fixture f;
    make_task(w, &f, 3, 1, 2);
    honest_round(w, &f, 1, 0.5);
    expect_in(w, FEDSHARE_REC_TASK, f.task, NULL, 0, "\"round\":2,");
    expect_in(w, FEDSHARE_REC_TASK, f.task, NULL, 0, "\"history\":3}");
    upload(w, &f, 2, 2, 1.02, FEDSHARE_OK);
    upload(w, &f, 0, 2, 1.0, FEDSHARE_OK);
    expect_in(w, FEDSHARE_REC_ROUND, f.task, NULL, 2, "\"evaluated\":false},{\"present\":true");
    /* the aggregator still cannot leave */
    assert_int_equal(propose(w, 0, FEDSHARE_MEMBER_RETIRE, 4, 0, NULL, NULL), FEDSHARE_E_IN_TASK);
    retire_two(w);
    /* decided: the task lists it as left, its round-2 update is dropped, its history gone */
    expect_in(w, FEDSHARE_REC_TASK, f.task, NULL, 0, "\"joined\":true,\"left\":true}");
    expect_in(w, FEDSHARE_REC_TASK, f.task, NULL, 0, "\"history\":2}");
    expect_in(w, FEDSHARE_REC_TASK, f.task, NULL, 0, "\"phase\":1,\"stop_reason\":0,\"round\":2");
    expect_in(w, FEDSHARE_REC_ROUND, f.task, NULL, 2,
              "{\"present\":false,\"checked\":false,\"evaluated\":false}]");
    /* h + 1: still a member, but out of the task */
    upload(w, &f, 2, 2, 1.02, FEDSHARE_E_RETIRED);
    /* the last remaining upload closes the round: two accepted updates */
    upload(w, &f, 1, 2, 1.01, FEDSHARE_OK);
    expect_in(w, FEDSHARE_REC_TASK, f.task, NULL, 0, "\"phase\":2,");
    expect_in(w, FEDSHARE_REC_ROUND, f.task, NULL, 2, "\"total_weight\":200");
    round_hashes(w, &f, 2, 4, FEDSHARE_OP_AGGREGATE, 0xA0, 0, FEDSHARE_OK);
    /* h + 2 on: its acts are refused by the membership */
    round_hashes(w, &f, 2, 2, FEDSHARE_OP_DECRYPTION_SHARE, 0xA0, 0xB2, FEDSHARE_E_RETIRED);
    honest_round_decrypt(w, &f, 2);
    evaluate(w, &f, 2, 2, 0xC2, 0.6, FEDSHARE_E_RETIRED);
    evaluate(w, &f, 2, 0, 0xC2, 0.6, FEDSHARE_OK);
    evaluate(w, &f, 2, 1, 0xC2, 0.6, FEDSHARE_OK);
    expect_in(w, FEDSHARE_REC_TASK, f.task, NULL, 0, "\"phase\":1,\"stop_reason\":0,\"round\":3");
    /* round 3 with the two */
    upload(w, &f, 2, 3, 1.02, FEDSHARE_E_RETIRED);
    upload(w, &f, 0, 3, 1.0, FEDSHARE_OK);
    upload(w, &f, 1, 3, 1.01, FEDSHARE_OK);
    round_hashes(w, &f, 3, 4, FEDSHARE_OP_AGGREGATE, 0xA0, 0, FEDSHARE_OK);
    honest_round_decrypt(w, &f, 3);
    evaluate(w, &f, 3, 0, 0xC3, 0.7, FEDSHARE_OK);
    evaluate(w, &f, 3, 1, 0xC3, 0.7, FEDSHARE_OK);
    expect_in(w, FEDSHARE_REC_TASK, f.task, NULL, 0, "\"phase\":6,\"stop_reason\":");
    expect_in(w, FEDSHARE_REC_TASK, f.task, NULL, 0, "\"round\":3,");
    expect_in(w, FEDSHARE_REC_TASK, f.task, NULL, 0, "\"metrics\":[0.5,0.59999999999999998,");
    /* replay from genesis reproduces every state root */
    assert_chain_replays(w);
}

/* A participant retiring while the task is joining: the task no longer waits for its
 * join; the decision opens round 1 when the others have joined; its join is refused. */
static void test_member_retire_joining(void **state) {
    world *w = *state;
    task_fixture f;
    uint8_t *pl;
    size_t len;
    g_make_no_join = 1;
    make_task(w, &f, 3, 1, 2);
    g_make_no_join = 0;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(fedshare_payload_task_join(f.task, &pl, &len), 0);
        assert_int_equal(act(w, i, FEDSHARE_OP_TASK_JOIN, pl, len, NULL), FEDSHARE_OK);
    }
    expect_in(w, FEDSHARE_REC_TASK, f.task, NULL, 0, "\"phase\":0,");
    retire_two(w);
    expect_in(w, FEDSHARE_REC_TASK, f.task, NULL, 0, "\"joined\":false,\"left\":true}");
    expect_in(w, FEDSHARE_REC_TASK, f.task, NULL, 0, "\"phase\":1,\"stop_reason\":0,\"round\":1");
    assert_int_equal(fedshare_payload_task_join(f.task, &pl, &len), 0);
    assert_int_equal(act(w, 2, FEDSHARE_OP_TASK_JOIN, pl, len, NULL), FEDSHARE_E_RETIRED);
    upload(w, &f, 0, 1, 1.0, FEDSHARE_OK);
    upload(w, &f, 1, 1, 1.01, FEDSHARE_OK);
    expect_in(w, FEDSHARE_REC_TASK, f.task, NULL, 0, "\"phase\":2,");
    assert_chain_replays(w);
}

/* A participant retiring once the round's updates were judged: the round completes
 * with its update in the sum and waits no longer for its evaluation (here the
 * other two had evaluated: the deciding act finishes the round and opens the
 * next). */
static void test_member_retire_mid_evaluate(void **state) {
    world *w = *state;
    task_fixture f;
    make_task(w, &f, 3, 1, 2);
    honest_round_uploads(w, &f, 1);
    honest_round_decrypt(w, &f, 1);
    evaluate(w, &f, 1, 0, 0xC1, 0.5, FEDSHARE_OK);
    evaluate(w, &f, 1, 1, 0xC1, 0.5, FEDSHARE_OK);
    expect_in(w, FEDSHARE_REC_TASK, f.task, NULL, 0, "\"phase\":5,");
    retire_two(w);
    expect_in(w, FEDSHARE_REC_TASK, f.task, NULL, 0, "\"phase\":1,\"stop_reason\":0,\"round\":2");
    expect_in(w, FEDSHARE_REC_TASK, f.task, NULL, 0, "\"metrics\":[0.5]");
    /* round 1 keeps its three updates */
    expect_in(w, FEDSHARE_REC_ROUND, f.task, NULL, 1, "\"total_weight\":300");
    /* its acts in the task are refused as a retired member's, whatever the round */
    evaluate(w, &f, 1, 2, 0xC1, 0.5, FEDSHARE_E_RETIRED);
    upload(w, &f, 0, 2, 1.0, FEDSHARE_OK);
    upload(w, &f, 1, 2, 1.01, FEDSHARE_OK);
    expect_in(w, FEDSHARE_REC_TASK, f.task, NULL, 0, "\"phase\":2,");
    assert_chain_replays(w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_registry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_permission, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cedar_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_training_task, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_payloads_reject_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sum_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_share_does_not_stall, setup, teardown),
        cmocka_unit_test_setup_teardown(test_evaluation_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_few_updates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_task_minimums, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retired_policy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_optimizer_task, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fedavg_refuses_server_model, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_optimizer_payload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_dealerless, setup, teardown),
        cmocka_unit_test_setup_teardown(test_member_roles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_member_join_retire, setup, teardown),
        cmocka_unit_test_setup_teardown(test_member_quorum_of_four, setup, teardown),
        cmocka_unit_test_setup_teardown(test_member_retire_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_member_retire_in_task, setup, teardown),
        cmocka_unit_test_setup_teardown(test_member_retire_mid_evaluate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_member_retire_joining, setup, teardown),
        cmocka_unit_test(test_data_seal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
