/* Transaction payloads of the contracts: canonical encoders (client side) and
 * the decoder every replica runs on untrusted bytes (docs/formats/fedshare.md). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "contracts_internal.h"

static void put_head(fs_writer *w) {
    fsw_u8(w, FS_PAYLOAD_VERSION);
}

static int text_ok(const char *s, size_t lo, size_t hi) {
    if (!s)
        return lo == 0;
    size_t n = strlen(s);
    return n >= lo && n <= hi;
}

static int finish(fs_writer *w, uint8_t **out, size_t *len) {
    if (!out || !len) {
        fsw_free(w);
        return FEDSHARE_E_INVALID;
    }
    return fsw_take(w, out, len);
}

static void put_text(fs_writer *w, const char *s) {
    fsw_bytes(w, s ? s : "", s ? strlen(s) : 0);
}

int fedshare_payload_data_register(const uint8_t enc_hash[32], const char *label,
                                   const char *description, const uint8_t *lineage,
                                   size_t n_lineage, uint8_t **out, size_t *len) {
    if (!enc_hash || !text_ok(label, 1, FS_LABEL_MAX) || !text_ok(description, 0, FS_DESC_MAX) ||
        n_lineage > FS_LINEAGE_MAX || (n_lineage && !lineage))
        return FEDSHARE_E_INVALID;
    fs_writer w;
    fsw_init(&w);
    put_head(&w);
    fsw_raw(&w, enc_hash, 32);
    put_text(&w, label);
    put_text(&w, description);
    fsw_u32(&w, (uint32_t)n_lineage);
    fsw_raw(&w, lineage, 32 * n_lineage);
    return finish(&w, out, len);
}

int fedshare_payload_data_update(const uint8_t data_id[32], const uint8_t enc_hash[32],
                                 const char *description, uint8_t **out, size_t *len) {
    if (!data_id || !enc_hash || !text_ok(description, 0, FS_DESC_MAX))
        return FEDSHARE_E_INVALID;
    fs_writer w;
    fsw_init(&w);
    put_head(&w);
    fsw_raw(&w, data_id, 32);
    fsw_raw(&w, enc_hash, 32);
    put_text(&w, description);
    return finish(&w, out, len);
}

int fedshare_payload_data_retire(const uint8_t data_id[32], uint8_t **out, size_t *len) {
    if (!data_id)
        return FEDSHARE_E_INVALID;
    fs_writer w;
    fsw_init(&w);
    put_head(&w);
    fsw_raw(&w, data_id, 32);
    return finish(&w, out, len);
}

static int id_and_bytes(const uint8_t id[32], const uint8_t *b, size_t n, size_t max, uint8_t **out,
                        size_t *len) {
    if (!id || !b || !n || n > max)
        return FEDSHARE_E_INVALID;
    fs_writer w;
    fsw_init(&w);
    put_head(&w);
    fsw_raw(&w, id, 32);
    fsw_bytes(&w, b, n);
    return finish(&w, out, len);
}

int fedshare_payload_policy_set(const uint8_t data_id[32], const uint8_t *policy, size_t policy_len,
                                uint8_t **out, size_t *len) {
    return id_and_bytes(data_id, policy, policy_len, FS_POLICY_MAX, out, len);
}

int fedshare_payload_policy_update(const uint8_t data_id[32], const uint8_t *update,
                                   size_t update_len, uint8_t **out, size_t *len) {
    return id_and_bytes(data_id, update, update_len, FS_POLICY_MAX, out, len);
}

int fedshare_payload_access_request(const uint8_t data_id[32], const char *action,
                                    const char *purpose, uint64_t t0, uint64_t t1, uint32_t uses,
                                    uint8_t **out, size_t *len) {
    if (!data_id || !text_ok(action, 1, FS_LABEL_MAX) || !text_ok(purpose, 1, FS_LABEL_MAX) ||
        t1 < t0 || !uses)
        return FEDSHARE_E_INVALID;
    fs_writer w;
    fsw_init(&w);
    put_head(&w);
    fsw_raw(&w, data_id, 32);
    put_text(&w, action);
    put_text(&w, purpose);
    fsw_u64(&w, t0);
    fsw_u64(&w, t1);
    fsw_u32(&w, uses);
    return finish(&w, out, len);
}

int fedshare_payload_key_record(const uint8_t *params, size_t params_len, const uint8_t *holders,
                                const uint8_t *share_hashes, size_t n, uint8_t **out, size_t *len) {
    if (!params || !params_len || params_len > FS_PARAMS_MAX || !holders || !share_hashes ||
        n < 2 || n > FS_HOLDERS_MAX)
        return FEDSHARE_E_INVALID;
    fs_writer w;
    fsw_init(&w);
    fsw_u8(&w, FS_KEY_VERSION);
    fsw_bytes(&w, params, params_len);
    fsw_u32(&w, (uint32_t)n);
    fsw_raw(&w, holders, 32 * n);
    fsw_raw(&w, share_hashes, 32 * n);
    fsw_u8(&w, FEDSHARE_KEY_DEALT);
    return finish(&w, out, len);
}

int fedshare_payload_key_record_dealerless(const uint8_t *params, size_t params_len,
                                           const uint8_t *holders, const uint8_t *share_hashes,
                                           size_t n, const uint8_t session[32],
                                           const uint8_t commitment[32],
                                           const uint8_t *attestations, uint8_t **out,
                                           size_t *len) {
    if (!params || !params_len || params_len > FS_PARAMS_MAX || !holders || !share_hashes ||
        n < 2 || n > FS_HOLDERS_MAX || !session || !commitment || !attestations)
        return FEDSHARE_E_INVALID;
    fs_writer w;
    fsw_init(&w);
    fsw_u8(&w, FS_KEY_VERSION);
    fsw_bytes(&w, params, params_len);
    fsw_u32(&w, (uint32_t)n);
    fsw_raw(&w, holders, 32 * n);
    fsw_raw(&w, share_hashes, 32 * n);
    fsw_u8(&w, FEDSHARE_KEY_DEALERLESS);
    fsw_raw(&w, session, 32);
    fsw_raw(&w, commitment, 32);
    fsw_raw(&w, attestations, 64 * n);
    return finish(&w, out, len);
}

static const char ATTEST_TAG[] = "fedshare/key-attestation/v1";

static int attest_digest(const uint8_t *params, size_t params_len, const uint8_t session[32],
                         const uint8_t commitment[32], const uint8_t share_hash[32],
                         uint8_t out[32]) {
    if (!params || !params_len || !session || !commitment || !share_hash)
        return FEDSHARE_E_INVALID;
    if (sodium_init() < 0)
        return FEDSHARE_E_CRYPTO;
    uint8_t ph[32];
    crypto_hash_sha256(ph, params, params_len);
    crypto_hash_sha256_state h;
    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, (const uint8_t *)ATTEST_TAG, sizeof ATTEST_TAG);
    crypto_hash_sha256_update(&h, ph, 32);
    crypto_hash_sha256_update(&h, session, 32);
    crypto_hash_sha256_update(&h, commitment, 32);
    crypto_hash_sha256_update(&h, share_hash, 32);
    crypto_hash_sha256_final(&h, out);
    return FEDSHARE_OK;
}

int fedshare_key_attest(const uint8_t seed[32], const uint8_t *params, size_t params_len,
                        const uint8_t session[32], const uint8_t commitment[32],
                        const uint8_t share_hash[32], uint8_t signature[64]) {
    uint8_t d[32], pk[32], sk[64];
    if (!seed || !signature)
        return FEDSHARE_E_INVALID;
    int rc = attest_digest(params, params_len, session, commitment, share_hash, d);
    if (rc)
        return rc;
    crypto_sign_seed_keypair(pk, sk, seed);
    crypto_sign_detached(signature, NULL, d, 32, sk);
    sodium_memzero(sk, sizeof sk);
    return FEDSHARE_OK;
}

int fedshare_key_attestation_verify(const uint8_t pk[32], const uint8_t *params, size_t params_len,
                                    const uint8_t session[32], const uint8_t commitment[32],
                                    const uint8_t share_hash[32], const uint8_t signature[64]) {
    uint8_t d[32];
    if (!pk || !signature)
        return FEDSHARE_E_INVALID;
    int rc = attest_digest(params, params_len, session, commitment, share_hash, d);
    if (rc)
        return rc;
    return crypto_sign_verify_detached(signature, d, 32, pk) == 0 ? FEDSHARE_OK
                                                                  : FEDSHARE_E_ATTESTATION;
}

int fedshare_payload_model_publish(const uint8_t structure_hash[32], const uint8_t model_digest[32],
                                   uint64_t n_params, const char *description, uint8_t **out,
                                   size_t *len) {
    if (!structure_hash || !model_digest || !n_params || n_params > (1ull << 32) ||
        !text_ok(description, 0, FS_DESC_MAX))
        return FEDSHARE_E_INVALID;
    fs_writer w;
    fsw_init(&w);
    put_head(&w);
    fsw_raw(&w, structure_hash, 32);
    fsw_raw(&w, model_digest, 32);
    fsw_u64(&w, n_params);
    put_text(&w, description);
    return finish(&w, out, len);
}

void fedshare_task_spec_init(fedshare_task_spec *s) {
    if (!s)
        return;
    memset(s, 0, sizeof *s);
    s->version = FEDSHARE_TASK_SPEC_VERSION;
    s->learning_rate = 0.01;
    s->batch_size = 32;
    s->upload_every = 10;
    s->round_limit = 50;
    s->stop_threshold = 0.001;
    s->stop_patience = 3;
    s->anomaly_k = 3.0;
    s->anomaly_warmup = 5;
    s->min_updates = 0; /* the default: 3 with 3 or more participants, else 2 */
    s->anomaly_rule = FEDSHARE_RULE_ROBUST2;
}

/* The rule a spec asks for: versions 1 and 2 predate the field (the seed's rule). */
static uint32_t spec_rule(const fedshare_task_spec *s) {
    return s->version >= 3 ? s->anomaly_rule : FEDSHARE_RULE_POOLED;
}

/* The minimum of accepted updates a spec asks for (0: the default rule). */
static uint32_t spec_min_updates(const fedshare_task_spec *s) {
    return s->version >= 2 ? s->min_updates : 0;
}

/* The server optimizer a spec asks for: versions 1 to 3 predate the field (FedAvg). */
static uint32_t spec_server(const fedshare_task_spec *s) {
    return s->version >= 4 ? s->server_optimizer : FEDSHARE_SERVER_FEDAVG;
}

/* The optimizer's numbers: all 0 for FedAvg (one encoding per spec), else
 * finite with eta > 0, 0 <= beta < 1, tau > 0. */
int fs_server_ok(uint32_t opt, double eta, double b1, double b2, double tau) {
    if (opt == FEDSHARE_SERVER_FEDAVG)
        return eta == 0 && b1 == 0 && b2 == 0 && tau == 0;
    if (opt > FEDSHARE_SERVER_YOGI)
        return 0;
    return isfinite(eta) && isfinite(b1) && isfinite(b2) && isfinite(tau) && eta > 0 && b1 >= 0 &&
           b1 < 1 && b2 >= 0 && b2 < 1 && tau > 0;
}

static int spec_ok(const fedshare_task_spec *s) {
    if (!s || s->version < 1 || s->version > FEDSHARE_TASK_SPEC_VERSION)
        return 0;
    if (spec_rule(s) > FEDSHARE_RULE_ROBUST3)
        return 0;
    if (s->version >= 4 && !fs_server_ok(s->server_optimizer, s->server_eta, s->server_beta1,
                                         s->server_beta2, s->server_tau))
        return 0;
    uint32_t mu = spec_min_updates(s);
    /* a round must never decrypt one member's update: at least two participants, and a
     * minimum of accepted updates of at least two that the participants can reach */
    if (mu && (mu < 2 || mu > s->n_participants))
        return 0;
    return s->n_participants >= 2 && s->n_participants <= FS_PARTICIPANTS_MAX && s->participants &&
           s->data_ids && isfinite(s->learning_rate) && s->learning_rate > 0 &&
           s->batch_size >= 1 && s->upload_every >= 1 && s->round_limit >= 1 &&
           s->round_limit <= 1000 && isfinite(s->stop_threshold) && s->stop_threshold >= 0 &&
           s->stop_patience >= 1 && isfinite(s->anomaly_k) && s->anomaly_k > 0 &&
           s->anomaly_warmup >= 2 && s->codec && s->codec_len >= 1 && s->codec_len <= FS_CODEC_MAX;
}

int fedshare_payload_task_create(const fedshare_task_spec *s, uint8_t **out, size_t *len) {
    if (!spec_ok(s))
        return FEDSHARE_E_INVALID;
    fs_writer w;
    fsw_init(&w);
    /* a FedAvg task keeps format 3, byte for byte as before the optimizers */
    uint32_t opt = spec_server(s);
    fsw_u8(&w, opt ? FS_TASK_CREATE_VERSION : 3);
    fsw_raw(&w, s->model_id, 32);
    fsw_raw(&w, s->key_id, 32);
    fsw_raw(&w, s->aggregator, 32);
    fsw_u32(&w, (uint32_t)s->n_participants);
    for (size_t i = 0; i < s->n_participants; i++) {
        fsw_raw(&w, s->participants + 32 * i, 32);
        fsw_raw(&w, s->data_ids + 32 * i, 32);
    }
    fsw_f64(&w, s->learning_rate);
    fsw_u32(&w, s->batch_size);
    fsw_u32(&w, s->upload_every);
    fsw_u32(&w, s->round_limit);
    fsw_f64(&w, s->stop_threshold);
    fsw_u32(&w, s->stop_patience);
    fsw_f64(&w, s->anomaly_k);
    fsw_u32(&w, s->anomaly_warmup);
    fsw_bytes(&w, s->codec, s->codec_len);
    fsw_u32(&w, spec_min_updates(s));
    fsw_u32(&w, spec_rule(s));
    if (opt) { /* version 4: the server optimizer and its numbers */
        fsw_u32(&w, opt);
        fsw_f64(&w, s->server_eta);
        fsw_f64(&w, s->server_beta1);
        fsw_f64(&w, s->server_beta2);
        fsw_f64(&w, s->server_tau);
    }
    return finish(&w, out, len);
}

int fedshare_payload_task_join(const uint8_t task_id[32], uint8_t **out, size_t *len) {
    return fedshare_payload_data_retire(task_id, out, len); /* same shape: v ‖ id */
}

static void round_head(fs_writer *w, const uint8_t task_id[32], uint32_t round) {
    put_head(w);
    fsw_raw(w, task_id, 32);
    fsw_u32(w, round);
}

int fedshare_payload_update_upload(const uint8_t task_id[32], uint32_t round,
                                   const uint8_t blob_hash[32], uint32_t weight, double norm,
                                   double cosine, uint8_t **out, size_t *len) {
    if (!task_id || !round || !blob_hash || !weight || !isfinite(norm) || norm < 0 ||
        norm > FS_NORM_MAX || !isfinite(cosine) || cosine < -1.0001 || cosine > 1.0001)
        return FEDSHARE_E_INVALID;
    fs_writer w;
    fsw_init(&w);
    round_head(&w, task_id, round);
    fsw_raw(&w, blob_hash, 32);
    fsw_u32(&w, weight);
    fsw_f64(&w, norm);
    fsw_f64(&w, cosine);
    return finish(&w, out, len);
}

static int round_hash(const uint8_t task_id[32], uint32_t round, const uint8_t h[32],
                      const uint8_t *h2, uint8_t **out, size_t *len) {
    if (!task_id || !round || !h)
        return FEDSHARE_E_INVALID;
    fs_writer w;
    fsw_init(&w);
    round_head(&w, task_id, round);
    fsw_raw(&w, h, 32);
    if (h2)
        fsw_raw(&w, h2, 32);
    return finish(&w, out, len);
}

int fedshare_payload_aggregate(const uint8_t task_id[32], uint32_t round,
                               const uint8_t blob_hash[32], uint8_t **out, size_t *len) {
    return round_hash(task_id, round, blob_hash, NULL, out, len);
}

int fedshare_payload_sum_refused(const uint8_t task_id[32], uint32_t round,
                                 const uint8_t aggregate_hash[32], uint8_t **out, size_t *len) {
    return round_hash(task_id, round, aggregate_hash, NULL, out, len);
}

int fedshare_payload_aggregate_check(const uint8_t task_id[32], uint32_t round,
                                     const uint8_t hash[32], uint8_t **out, size_t *len) {
    return round_hash(task_id, round, hash, NULL, out, len);
}

int fedshare_payload_decryption_share(const uint8_t task_id[32], uint32_t round,
                                      const uint8_t aggregate_hash[32],
                                      const uint8_t share_hash[32], uint8_t **out, size_t *len) {
    if (!share_hash)
        return FEDSHARE_E_INVALID;
    return round_hash(task_id, round, aggregate_hash, share_hash, out, len);
}

int fedshare_payload_round_finalize(const uint8_t task_id[32], uint32_t round,
                                    const uint8_t model_digest[32], const uint8_t delta_hash[32],
                                    uint8_t **out, size_t *len) {
    if (!delta_hash)
        return FEDSHARE_E_INVALID;
    return round_hash(task_id, round, model_digest, delta_hash, out, len);
}

int fedshare_payload_round_finalize_server(const uint8_t task_id[32], uint32_t round,
                                           const uint8_t model_digest[32],
                                           const uint8_t delta_hash[32],
                                           const uint8_t server_digest[32], uint8_t **out,
                                           size_t *len) {
    if (!task_id || !round || !model_digest || !delta_hash || !server_digest || !out || !len)
        return FEDSHARE_E_INVALID;
    fs_writer w;
    fsw_init(&w);
    round_head(&w, task_id, round);
    fsw_raw(&w, model_digest, 32);
    fsw_raw(&w, delta_hash, 32);
    fsw_raw(&w, server_digest, 32);
    return finish(&w, out, len);
}

int fedshare_payload_evaluation(const uint8_t task_id[32], uint32_t round,
                                const uint8_t model_digest[32], double metric, uint32_t samples,
                                uint8_t **out, size_t *len) {
    if (!task_id || !round || !model_digest || !isfinite(metric) || metric < -FS_METRIC_MAX ||
        metric > FS_METRIC_MAX || !samples || samples > FS_SAMPLES_MAX)
        return FEDSHARE_E_INVALID;
    fs_writer w;
    fsw_init(&w);
    round_head(&w, task_id, round);
    fsw_raw(&w, model_digest, 32);
    fsw_f64(&w, metric);
    fsw_u32(&w, samples);
    return finish(&w, out, len);
}

int fedshare_payload_share_verdict(const uint8_t task_id[32], uint32_t round,
                                   const uint8_t holder[32], const uint8_t share_hash[32],
                                   uint8_t **out, size_t *len) {
    if (!holder)
        return FEDSHARE_E_INVALID;
    return round_hash(task_id, round, holder, share_hash, out, len);
}

int fedshare_payload_share_verified(const uint8_t task_id[32], uint32_t round,
                                    const uint8_t holder[32], const uint8_t share_hash[32],
                                    uint8_t **out, size_t *len) {
    if (!task_id || !round || !holder || !share_hash || !out || !len)
        return FEDSHARE_E_INVALID;
    fs_writer w;
    fsw_init(&w);
    round_head(&w, task_id, round);
    fsw_raw(&w, holder, 32);
    fsw_raw(&w, share_hash, 32);
    fsw_u8(&w, FS_SHARE_VERIFIED);
    return finish(&w, out, len);
}

/* ---- Membership ---- */

#define FS_ROLES_ALL 31u

/* The fields of a change are well-formed for its kind (encoder and decoder alike). */
static int member_change_ok(uint8_t kind, const uint8_t key[32], uint32_t roles, const char *name,
                            const char *org, size_t ncred, const char (*creds)[65],
                            const char *const *cred_ptrs) {
    if (!key || crypto_core_ed25519_is_valid_point(key) != 1 || (roles & ~FS_ROLES_ALL) ||
        ncred > 16)
        return 0;
    size_t nl = name ? strlen(name) : 0, ol = org ? strlen(org) : 0;
    if (kind == FEDSHARE_MEMBER_JOIN) {
        if (!fs_word_ok(name, nl) || (ol && !fs_word_ok(org, ol)))
            return 0;
        for (size_t i = 0; i < ncred; i++) {
            const char *c = creds ? creds[i] : cred_ptrs[i];
            if (!c || !fs_word_ok(c, strlen(c)))
                return 0;
            for (size_t j = 0; j < i; j++)
                if (!strcmp(c, creds ? creds[j] : cred_ptrs[j]))
                    return 0;
        }
        return 1;
    }
    if (kind == FEDSHARE_MEMBER_ROLES)
        return !nl && !ol && !ncred;
    if (kind == FEDSHARE_MEMBER_RETIRE)
        return !nl && !ol && !ncred && !roles;
    return 0;
}

int fedshare_payload_member_propose(uint8_t kind, const uint8_t key[32], uint32_t roles,
                                    const char *name, const char *org, const char *const *creds,
                                    size_t ncred, uint8_t **out, size_t *len) {
    if ((ncred && !creds) || !member_change_ok(kind, key, roles, name, org, ncred, NULL, creds))
        return FEDSHARE_E_INVALID;
    fs_writer w;
    fsw_init(&w);
    put_head(&w);
    fsw_u8(&w, kind);
    fsw_raw(&w, key, 32);
    fsw_u32(&w, roles);
    put_text(&w, name);
    put_text(&w, org);
    fsw_u32(&w, (uint32_t)ncred);
    for (size_t i = 0; i < ncred; i++)
        put_text(&w, creds[i]);
    return finish(&w, out, len);
}

int fedshare_payload_member_approve(uint64_t id, uint8_t **out, size_t *len) {
    if (!id)
        return FEDSHARE_E_INVALID;
    fs_writer w;
    fsw_init(&w);
    put_head(&w);
    fsw_u64(&w, id);
    return finish(&w, out, len);
}

/* ---- Decoding (untrusted) ---- */

void fs_payload_free(fs_payload *p) {
    if (!p)
        return;
    free(p->label);
    free(p->text);
    free(p->text2);
    p->label = p->text = p->text2 = NULL;
}

static int nonempty_text(const char *s) {
    return s && s[0];
}

int fs_payload_decode(uint16_t op, const uint8_t *buf, size_t len, fs_payload *p) {
    memset(p, 0, sizeof *p);
    p->op = op;
    fs_reader r;
    fsr_init(&r, buf, len);
    uint8_t v = fsr_u8(&r);
    if (r.err)
        return FEDSHARE_E_FORMAT;
    if (v != FS_PAYLOAD_VERSION &&
        !(op == FEDSHARE_OP_TASK_CREATE && v >= 2 && v <= FS_TASK_CREATE_VERSION) &&
        !(op == FEDSHARE_OP_KEY_RECORD && v == FS_KEY_VERSION))
        return FEDSHARE_E_VERSION;
    p->version = v;
    int bad = 0; /* a field decoded but out of range */
    switch (op) {
        case FEDSHARE_OP_DATA_REGISTER:
            p->hash = fsr_take(&r, 32);
            p->label = fsr_str(&r, FS_LABEL_MAX);
            p->text = fsr_str(&r, FS_DESC_MAX);
            p->n = fsr_u32(&r);
            if (p->n > FS_LINEAGE_MAX)
                bad = 1;
            else
                p->list = fsr_take(&r, 32 * p->n);
            if (!r.err && !nonempty_text(p->label))
                bad = 1;
            break;
        case FEDSHARE_OP_DATA_UPDATE:
            p->id = fsr_take(&r, 32);
            p->hash = fsr_take(&r, 32);
            p->text = fsr_str(&r, FS_DESC_MAX);
            break;
        case FEDSHARE_OP_DATA_RETIRE:
        case FEDSHARE_OP_TASK_JOIN:
            p->id = fsr_take(&r, 32);
            break;
        case FEDSHARE_OP_POLICY_SET:
        case FEDSHARE_OP_POLICY_UPDATE:
            p->id = fsr_take(&r, 32);
            p->bytes = fsr_bytes(&r, FS_POLICY_MAX, &p->bytes_len);
            if (!r.err && !p->bytes_len)
                bad = 1;
            break;
        case FEDSHARE_OP_ACCESS_REQUEST:
            p->id = fsr_take(&r, 32);
            p->label = fsr_str(&r, FS_LABEL_MAX);
            p->text = fsr_str(&r, FS_LABEL_MAX);
            p->t0 = fsr_u64(&r);
            p->t1 = fsr_u64(&r);
            p->uses = fsr_u32(&r);
            if (!r.err &&
                (!nonempty_text(p->label) || !nonempty_text(p->text) || p->t1 < p->t0 || !p->uses))
                bad = 1;
            break;
        case FEDSHARE_OP_KEY_RECORD:
            p->bytes = fsr_bytes(&r, FS_PARAMS_MAX, &p->bytes_len);
            p->n = fsr_u32(&r);
            if (!r.err && (p->n < 2 || p->n > FS_HOLDERS_MAX || !p->bytes_len))
                bad = 1;
            else {
                p->list = fsr_take(&r, 32 * p->n);
                p->list2 = fsr_take(&r, 32 * p->n);
            }
            p->method = FEDSHARE_KEY_DEALT; /* version 1: the dealer's record */
            if (!r.err && !bad && v >= 2) {
                p->method = fsr_u8(&r);
                if (!r.err && p->method == FEDSHARE_KEY_DEALERLESS) {
                    p->hash = fsr_take(&r, 32);  /* DKG session */
                    p->hash2 = fsr_take(&r, 32); /* final commitment hash */
                    p->sigs = fsr_take(&r, 64 * p->n);
                } else if (!r.err && p->method != FEDSHARE_KEY_DEALT)
                    bad = 1;
            }
            break;
        case FEDSHARE_OP_MODEL_PUBLISH:
            p->hash = fsr_take(&r, 32);
            p->hash2 = fsr_take(&r, 32);
            p->count = fsr_u64(&r);
            p->text = fsr_str(&r, FS_DESC_MAX);
            if (!r.err && (!p->count || p->count > (1ull << 32)))
                bad = 1;
            break;
        case FEDSHARE_OP_TASK_CREATE: {
            fedshare_task_spec *s = &p->spec;
            fedshare_task_spec_init(s);
            const uint8_t *m = fsr_take(&r, 32), *k = fsr_take(&r, 32), *a = fsr_take(&r, 32);
            p->n = fsr_u32(&r);
            if (!r.err && (p->n < 2 || p->n > FS_PARTICIPANTS_MAX)) {
                bad = 1;
                break;
            }
            p->list = fsr_take(&r, 64 * p->n);
            s->learning_rate = fsr_f64(&r);
            s->batch_size = fsr_u32(&r);
            s->upload_every = fsr_u32(&r);
            s->round_limit = fsr_u32(&r);
            s->stop_threshold = fsr_f64(&r);
            s->stop_patience = fsr_u32(&r);
            s->anomaly_k = fsr_f64(&r);
            s->anomaly_warmup = fsr_u32(&r);
            s->codec = fsr_bytes(&r, FS_CODEC_MAX, &s->codec_len);
            if (v >= 2) /* version 1: the default minimum */
                s->min_updates = fsr_u32(&r);
            /* versions 1 and 2: the seed's pooled rule, so that old chains replay alike */
            s->anomaly_rule = v >= 3 ? fsr_u32(&r) : FEDSHARE_RULE_POOLED;
            if (v >= 4) { /* the server optimizer; FedAvg is written as version 3 */
                s->server_optimizer = fsr_u32(&r);
                s->server_eta = fsr_f64(&r);
                s->server_beta1 = fsr_f64(&r);
                s->server_beta2 = fsr_f64(&r);
                s->server_tau = fsr_f64(&r);
                if (!r.err && s->server_optimizer == FEDSHARE_SERVER_FEDAVG)
                    bad = 1;
            }
            if (r.err)
                break;
            memcpy(s->model_id, m, 32);
            memcpy(s->key_id, k, 32);
            memcpy(s->aggregator, a, 32);
            s->n_participants = p->n;
            /* spec_ok wants separate arrays; the participant list interleaves them */
            s->participants = p->list;
            s->data_ids = p->list + 32;
            if (!spec_ok(s))
                bad = 1;
            break;
        }
        case FEDSHARE_OP_UPDATE_UPLOAD:
            p->id = fsr_take(&r, 32);
            p->round = fsr_u32(&r);
            p->hash = fsr_take(&r, 32);
            p->weight = fsr_u32(&r);
            p->x = fsr_f64(&r);
            p->y = fsr_f64(&r);
            if (!r.err && (!p->round || !p->weight || p->x < 0 || p->x > FS_NORM_MAX ||
                           p->y < -1.0001 || p->y > 1.0001))
                bad = 1;
            break;
        case FEDSHARE_OP_AGGREGATE:
        case FEDSHARE_OP_AGGREGATE_CHECK:
        case FEDSHARE_OP_SUM_REFUSED:
            p->id = fsr_take(&r, 32);
            p->round = fsr_u32(&r);
            p->hash = fsr_take(&r, 32);
            if (!r.err && !p->round)
                bad = 1;
            break;
        case FEDSHARE_OP_DECRYPTION_SHARE:
        case FEDSHARE_OP_ROUND_FINALIZE:
        case FEDSHARE_OP_SHARE_VERDICT:
            p->id = fsr_take(&r, 32);
            p->round = fsr_u32(&r);
            p->hash = fsr_take(&r, 32);
            p->hash2 = fsr_take(&r, 32);
            if (!r.err && !p->round)
                bad = 1;
            /* a verdict without its trailing byte is a refusal (the first form) */
            p->verdict = FS_SHARE_REFUSED;
            if (op == FEDSHARE_OP_SHARE_VERDICT && !r.err && r.off < r.len) {
                p->verdict = fsr_u8(&r);
                if (p->verdict != FS_SHARE_VERIFIED)
                    bad = 1;
            }
            /* a finalize of a task with a server optimizer also names x_r */
            if (op == FEDSHARE_OP_ROUND_FINALIZE && !r.err && r.off < r.len) {
                p->hash3 = fsr_take(&r, 32);
                p->has_server = !r.err;
            }
            break;
        case FEDSHARE_OP_EVALUATION:
            p->id = fsr_take(&r, 32);
            p->round = fsr_u32(&r);
            p->hash = fsr_take(&r, 32);
            p->x = fsr_f64(&r);
            p->samples = fsr_u32(&r);
            if (!r.err && (!p->round || !p->samples || p->samples > FS_SAMPLES_MAX ||
                           p->x < -FS_METRIC_MAX || p->x > FS_METRIC_MAX))
                bad = 1;
            break;
        case FEDSHARE_OP_MEMBER_PROPOSE:
            p->method = fsr_u8(&r);
            p->hash = fsr_take(&r, 32);
            p->uses = fsr_u32(&r);
            p->label = fsr_str(&r, FEDSHARE_NAME_MAX);
            p->text = fsr_str(&r, FEDSHARE_NAME_MAX);
            p->ncred = fsr_u32(&r);
            if (!r.err && p->ncred > 16)
                bad = 1;
            for (uint32_t i = 0; !r.err && !bad && i < p->ncred; i++) {
                size_t cn;
                const uint8_t *c = fsr_bytes(&r, FEDSHARE_NAME_MAX, &cn);
                if (!r.err) {
                    memcpy(p->creds[i], c, cn);
                    p->creds[i][cn] = 0;
                    if (strlen(p->creds[i]) != cn)
                        bad = 1;
                }
            }
            if (!r.err && !bad &&
                !member_change_ok(p->method, p->hash, p->uses, p->label, p->text, p->ncred,
                                  (const char(*)[65])p->creds, NULL))
                bad = 1;
            break;
        case FEDSHARE_OP_MEMBER_APPROVE:
            p->count = fsr_u64(&r);
            if (!r.err && !p->count)
                bad = 1;
            break;
        default:
            return FEDSHARE_E_INVALID;
    }
    int rc = bad ? FEDSHARE_E_FORMAT : fsr_done(&r);
    if (rc) {
        fs_payload_free(p);
        return rc == FEDSHARE_E_NOMEM ? rc : FEDSHARE_E_FORMAT;
    }
    return FEDSHARE_OK;
}
