/* A member's client: acts with their recorded outcome, records, blobs, and the
 * higher operations of each role (fedshare/client.h). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <fedavg.h>
#include <phe.h>
#include <phe/threshold.h>
#include <sodium.h>

#include "app_internal.h"
#include "fedshare/client.h"
#include "fedshare/node.h"

#define BLOB_MAGIC_VECTOR "FSCV"
#define BLOB_MAGIC_SHARES "FSDS"
#define BLOB_VERSION      1
/* Version 2 of the shares blob: one libphe batch (PHTB) with one proof for the
 * whole aggregate; version 1 (one share and proof per element) is no longer
 * written nor read (docs/formats/fedshare.md). */
#define SHARES_VERSION 2
#define VECTOR_MAX     (1u << 20) /* ciphertexts in one blob */

struct fedshare_client {
    ledger_client *lc;
    ledger_config *cfg;
    fedshare_consortium *consortium;
    ledger_signer *signer;
    uint8_t pk[32];
    pthread_mutex_t mu;
    uint64_t last_nonce;
    _Atomic uint32_t app_version; /* contract version the client builds for (1 until refused) */
    _Atomic uint64_t crypto_ns;   /* time inside libphe (encrypt, add, shares, combine) */
};

static uint64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Run a libphe statement and add its time to the client's crypto counter. */
#define CRYPTO(c, stmt)                                                                            \
    do {                                                                                           \
        uint64_t t0_ = mono_ns();                                                                  \
        stmt;                                                                                      \
        atomic_fetch_add(&(c)->crypto_ns, mono_ns() - t0_);                                        \
    } while (0)

uint64_t fedshare_client_crypto_ns(const fedshare_client *c) {
    return c ? atomic_load(&((fedshare_client *)c)->crypto_ns) : 0;
}

static uint64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int fedshare_client_connect(fedshare_client **out, const char *config_path, const uint8_t seed[32],
                            uint32_t timeout_ms) {
    if (!out || !config_path || !seed)
        return FEDSHARE_E_INVALID;
    *out = NULL;
    fedshare_client *c = calloc(1, sizeof *c);
    if (!c)
        return FEDSHARE_E_NOMEM;
    pthread_mutex_init(&c->mu, NULL);
    char *text = NULL;
    int rc = fedshare_config_load(config_path, &text, &c->consortium, NULL, NULL);
    if (!rc && ledger_config_parse(&c->cfg, text, strlen(text)) != LEDGER_OK)
        rc = FEDSHARE_E_CONFIG;
    free(text);
    if (!rc && ledger_signer_from_seed(&c->signer, seed) != LEDGER_OK)
        rc = FEDSHARE_E_INVALID;
    if (!rc) {
        memcpy(c->pk, ledger_signer_public_key(c->signer), 32);
        if (fedshare_consortium_find(c->consortium, c->pk) < 0)
            rc = FEDSHARE_E_NOT_MEMBER;
    }
    if (!rc)
        rc = ledger_client_connect(&c->lc, c->cfg, timeout_ms);
    /* members coordinate through the ledger across processes: a read sees
     * every act whose receipt anyone held before it began (client.h) */
    if (!rc)
        rc = ledger_client_set_read_mode(c->lc, LEDGER_READ_LINEARIZABLE);
    if (!rc) /* every blob this client puts is signed by the member */
        rc = ledger_client_set_signer(c->lc, c->signer);
    if (rc) {
        fedshare_client_close(c);
        return rc;
    }
    *out = c;
    return FEDSHARE_OK;
}

void fedshare_client_close(fedshare_client *c) {
    if (!c)
        return;
    ledger_client_close(c->lc);
    ledger_signer_free(c->signer);
    ledger_config_free(c->cfg);
    fedshare_consortium_free(c->consortium);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

ledger_client *fedshare_client_ledger(fedshare_client *c) {
    return c ? c->lc : NULL;
}

const fedshare_consortium *fedshare_client_consortium(const fedshare_client *c) {
    return c ? c->consortium : NULL;
}

const uint8_t *fedshare_client_public_key(const fedshare_client *c) {
    return c ? c->pk : NULL;
}

/* Nonces only need to grow: microseconds of wall time, or last + 1. */
static uint64_t next_nonce(fedshare_client *c) {
    pthread_mutex_lock(&c->mu);
    uint64_t n = now_us();
    if (n <= c->last_nonce)
        n = c->last_nonce + 1;
    c->last_nonce = n;
    pthread_mutex_unlock(&c->mu);
    return n;
}

int fedshare_client_record(fedshare_client *c, int kind, const uint8_t id[32], const uint8_t *id2,
                           uint32_t round, uint32_t timeout_ms, uint8_t **rec, size_t *len) {
    if (!c || !rec || !len)
        return FEDSHARE_E_INVALID;
    uint8_t key[FEDSHARE_KEY_MAX];
    size_t klen;
    int rc = fedshare_state_key(kind, id, id2, round, key, &klen);
    if (rc)
        return rc;
    uint8_t *v = NULL;
    size_t vn = 0;
    rc = ledger_client_get(c->lc, key, klen, timeout_ms, &v, &vn);
    if (rc == LEDGER_E_NOT_FOUND)
        return FEDSHARE_E_NOT_FOUND;
    if (rc)
        return rc;
    /* hand out a buffer fedshare_free can free */
    *rec = malloc(vn ? vn : 1);
    if (!*rec) {
        ledger_free(v);
        return FEDSHARE_E_NOMEM;
    }
    if (vn)
        memcpy(*rec, v, vn);
    *len = vn;
    ledger_free(v);
    return FEDSHARE_OK;
}

int fedshare_client_record_json(fedshare_client *c, int kind, const uint8_t id[32],
                                const uint8_t *id2, uint32_t round, uint32_t timeout_ms,
                                char **json) {
    uint8_t *rec;
    size_t len;
    if (!json)
        return FEDSHARE_E_INVALID;
    int rc = fedshare_client_record(c, kind, id, id2, round, timeout_ms, &rec, &len);
    if (rc)
        return rc;
    rc = fedshare_record_json(kind, rec, len, json);
    free(rec);
    return rc;
}

int fedshare_client_submit(fedshare_client *c, uint16_t op, const uint8_t *payload, size_t len,
                           uint32_t timeout_ms, uint8_t tx_hash[32], uint64_t *height) {
    if (!c || (!payload && len))
        return FEDSHARE_E_INVALID;
    uint64_t deadline = mono_ms() + timeout_ms;
    /* The configuration names the genesis members; the chain may have changed roles or
     * added members since (docs/fedshare-contracts.md §Membership). So a membership or
     * role refusal from it is only a hint: the replicas decide with the members in force,
     * and the hint is the reason given if they refuse the act before ordering. */
    int pre = fedshare_precheck(c->consortium, op, c->pk, payload, len);
    if (pre && pre != FEDSHARE_E_NOT_MEMBER && pre != FEDSHARE_E_ROLE)
        return pre;
    int rc;
    ledger_receipt r;
    uint8_t h[32];
    /* built for the contract version the client knows; refused for another
     * one (an upgrade activated), read the version in force and build again */
    for (int attempt = 0;; attempt++) {
        uint32_t ver = atomic_load(&c->app_version);
        ledger_tx *tx = NULL;
        rc = ver <= 1 ? ledger_tx_create_signed(&tx, c->signer, op, next_nonce(c), payload, len)
                      : ledger_tx_create_signed_for(&tx, c->signer, op, next_nonce(c), payload, len,
                                                    ver);
        if (rc)
            return rc;
        memcpy(h, ledger_tx_hash(tx), 32);
        if (tx_hash)
            memcpy(tx_hash, h, 32);
        uint64_t now = mono_ms();
        rc = ledger_client_submit(c->lc, tx, 0, deadline > now ? (uint32_t)(deadline - now) : 1, &r,
                                  NULL);
        ledger_tx_free(tx);
        int stale = rc == LEDGER_E_TX_APP_VERSION ||
                    (rc == LEDGER_OK && r.status == LEDGER_E_TX_APP_VERSION);
        if (!stale || attempt >= 2)
            break;
        uint32_t now_ver;
        now = mono_ms();
        int vrc = ledger_client_app_version_after(
            c->lc, ver ? ver : 1, deadline > now ? (uint32_t)(deadline - now) : 1, &now_ver);
        if (vrc)
            return vrc;
        atomic_store(&c->app_version, now_ver);
    }
    if (pre && (rc == LEDGER_E_REJECTED || (rc == LEDGER_OK && r.status == LEDGER_E_REJECTED)))
        return pre;
    if (rc)
        return rc;
    if (height)
        *height = r.height;
    if (r.status != LEDGER_OK || op >= LEDGER_OP_RESERVED_MIN)
        return r.status; /* the ledger's own acts leave no outcome record */
    /* the receipt raised the ledger client's floor to its height: the read
     * waits for replicas that lag (docs/ledger-protocol.md §Reads) */
    uint8_t *rec;
    size_t rl;
    uint64_t now = mono_ms();
    rc = fedshare_client_record(c, FEDSHARE_REC_OUTCOME, h, NULL, 0,
                                deadline > now ? (uint32_t)(deadline - now) : 1, &rec, &rl);
    if (rc)
        return rc;
    int32_t code = rl == 4 ? (int32_t)((uint32_t)rec[0] << 24 | (uint32_t)rec[1] << 16 |
                                       (uint32_t)rec[2] << 8 | rec[3])
                           : FEDSHARE_E_FORMAT;
    free(rec);
    return code;
}

/* Submit a payload the encoder just made, and free it. */
static int submit_owned(fedshare_client *c, uint16_t op, int enc_rc, uint8_t *pl, size_t len,
                        uint32_t timeout_ms, uint8_t tx_hash[32], uint64_t *height) {
    if (enc_rc)
        return enc_rc;
    int rc = fedshare_client_submit(c, op, pl, len, timeout_ms, tx_hash, height);
    free(pl);
    return rc;
}

/* ---- registry and permission ---- */

int fedshare_register_data(fedshare_client *c, const uint8_t enc_hash[32], const char *label,
                           const char *description, const uint8_t *lineage, size_t n_lineage,
                           uint32_t timeout_ms, uint8_t data_id[32]) {
    if (!c || !data_id)
        return FEDSHARE_E_INVALID;
    uint8_t *pl = NULL;
    size_t len = 0;
    uint64_t height = 0;
    int rc =
        fedshare_payload_data_register(enc_hash, label, description, lineage, n_lineage, &pl, &len);
    rc = submit_owned(c, FEDSHARE_OP_DATA_REGISTER, rc, pl, len, timeout_ms, NULL, &height);
    if (rc)
        return rc;
    /* the data ID binds the block's consensus timestamp: read it from the certified block */
    ledger_block *b = NULL;
    rc = ledger_client_block(c->lc, height, timeout_ms, &b);
    if (rc)
        return rc;
    rc = fedshare_data_id(enc_hash, c->pk, ledger_block_timestamp(b), label, data_id);
    ledger_block_free(b);
    return rc;
}

int fedshare_request_access(fedshare_client *c, const uint8_t data_id[32], const char *action,
                            const char *purpose, uint64_t t0, uint64_t t1, uint32_t uses,
                            uint32_t timeout_ms, char **decision_json) {
    if (!c)
        return FEDSHARE_E_INVALID;
    if (decision_json)
        *decision_json = NULL;
    uint8_t *pl = NULL, h[32];
    size_t len = 0;
    uint64_t deadline = mono_ms() + timeout_ms;
    int rc = fedshare_payload_access_request(data_id, action, purpose, t0, t1, uses, &pl, &len);
    rc = submit_owned(c, FEDSHARE_OP_ACCESS_REQUEST, rc, pl, len, timeout_ms, h, NULL);
    if ((rc == FEDSHARE_OK || rc == FEDSHARE_E_DENIED) && decision_json) {
        uint8_t *rec;
        size_t rl;
        uint64_t now = mono_ms();
        int jr = fedshare_client_record(c, FEDSHARE_REC_DECISION, h, NULL, 0,
                                        deadline > now ? (uint32_t)(deadline - now) : 1, &rec, &rl);
        if (!jr) {
            fedshare_record_json(FEDSHARE_REC_DECISION, rec, rl, decision_json);
            free(rec);
        }
    }
    return rc;
}

int fedshare_join_task(fedshare_client *c, const uint8_t task_id[32], uint32_t timeout_ms) {
    uint8_t *pl = NULL;
    size_t len = 0;
    int rc = fedshare_payload_task_join(task_id, &pl, &len);
    return submit_owned(c, FEDSHARE_OP_TASK_JOIN, rc, pl, len, timeout_ms, NULL, NULL);
}

/* ---- blobs of ciphertext vectors ---- */

static void free_cts(phe_ciphertext **v, size_t n) {
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        phe_ciphertext_free(v[i]);
    free(v);
}

static phe_ciphertext **new_cts(size_t n) {
    phe_ciphertext **v = calloc(n ? n : 1, sizeof *v);
    for (size_t i = 0; v && i < n; i++)
        if (phe_ciphertext_new(&v[i])) {
            free_cts(v, i);
            return NULL;
        }
    return v;
}

static int encode_vector(phe_ciphertext *const *v, size_t n, uint8_t **out, size_t *len) {
    fs_writer w;
    fsw_init(&w);
    fsw_raw(&w, BLOB_MAGIC_VECTOR, 4);
    fsw_u8(&w, BLOB_VERSION);
    fsw_u32(&w, (uint32_t)n);
    for (size_t i = 0; i < n && !w.err; i++) {
        size_t sz = phe_ciphertext_encoded_size(v[i]), wrote = 0;
        uint8_t *tmp = malloc(sz ? sz : 1);
        if (!tmp) {
            fsw_free(&w);
            return FEDSHARE_E_NOMEM;
        }
        int rc = phe_ciphertext_encode(v[i], tmp, sz, &wrote);
        if (rc) {
            free(tmp);
            fsw_free(&w);
            return rc;
        }
        fsw_bytes(&w, tmp, wrote);
        free(tmp);
    }
    return fsw_take(&w, out, len);
}

static int decode_vector(const phe_pubkey *pk, const uint8_t *b, size_t len, phe_ciphertext ***out,
                         size_t *n) {
    fs_reader r;
    fsr_init(&r, b, len);
    uint8_t magic[4];
    fsr_raw(&r, magic, 4);
    uint8_t v = fsr_u8(&r);
    uint32_t count = fsr_u32(&r);
    if (r.err || memcmp(magic, BLOB_MAGIC_VECTOR, 4) || v != BLOB_VERSION || !count ||
        count > VECTOR_MAX)
        return FEDSHARE_E_FORMAT;
    phe_ciphertext **cts = new_cts(count);
    if (!cts)
        return FEDSHARE_E_NOMEM;
    for (uint32_t i = 0; i < count; i++) {
        size_t cl;
        const uint8_t *cb = fsr_bytes(&r, 1u << 16, &cl);
        if (r.err || phe_ciphertext_decode(pk, cts[i], cb, cl)) {
            free_cts(cts, count);
            return FEDSHARE_E_FORMAT;
        }
    }
    if (fsr_done(&r)) {
        free_cts(cts, count);
        return FEDSHARE_E_FORMAT;
    }
    *out = cts;
    *n = count;
    return FEDSHARE_OK;
}

static int blob_get_checked(fedshare_client *c, const uint8_t hash[32], uint32_t timeout_ms,
                            uint8_t **data, size_t *len) {
    int rc = ledger_client_blob_get(c->lc, hash, timeout_ms, data, len);
    if (rc == LEDGER_E_NOT_FOUND)
        return FEDSHARE_E_NOT_FOUND;
    if (rc == LEDGER_E_HASH)
        return FEDSHARE_E_MISMATCH;
    return rc;
}

static int load_task(fedshare_client *c, const uint8_t id[32], uint32_t timeout_ms, fs_task *t);

/* FEDSHARE_E_RETIRED when the ledger records this member as a participant that left the
 * task (retired from the consortium): the contract would refuse its act, and the node
 * would refuse its blob, so nothing is encrypted or stored. 0 otherwise, also when the
 * task cannot be read (the act then says what is wrong). */
static int sender_left(fedshare_client *c, const uint8_t task_id[32], uint32_t timeout_ms) {
    fs_task *t = malloc(sizeof *t);
    if (!t)
        return FEDSHARE_E_NOMEM;
    int out = 0;
    if (!load_task(c, task_id, timeout_ms, t))
        for (uint32_t i = 0; i < t->n; i++)
            if (!memcmp(t->p[i].pk, c->pk, 32) && (t->p[i].joined & FS_P_LEFT))
                out = FEDSHARE_E_RETIRED;
    free(t);
    return out;
}

int fedshare_upload_update(fedshare_client *c, const uint8_t task_id[32], uint32_t round,
                           const phe_pubkey *pk, phe_ctx *ctx, const uint8_t *packed, size_t n_pt,
                           size_t pt_bytes, uint32_t weight, double norm, double cosine,
                           uint32_t timeout_ms) {
    if (!c || !task_id || !pk || !packed || !n_pt || !pt_bytes || n_pt > VECTOR_MAX)
        return FEDSHARE_E_INVALID;
    int left = sender_left(c, task_id, timeout_ms);
    if (left)
        return left;
    phe_ciphertext **cts = new_cts(n_pt);
    if (!cts)
        return FEDSHARE_E_NOMEM;
    phe_ctx *own = NULL;
    int rc = ctx ? 0 : phe_ctx_new(&own, 1);
    if (!rc)
        CRYPTO(c, rc = phe_encrypt_bytes_batch(ctx ? ctx : own, pk, cts, packed, pt_bytes, pt_bytes,
                                               n_pt, NULL));
    phe_ctx_free(own);
    uint8_t *blob = NULL, hash[32];
    size_t blen = 0;
    if (!rc)
        rc = encode_vector(cts, n_pt, &blob, &blen);
    free_cts(cts, n_pt);
    if (!rc)
        rc = ledger_client_blob_put(c->lc, blob, blen, timeout_ms, hash);
    free(blob);
    if (rc)
        return rc;
    uint8_t *pl = NULL;
    size_t len = 0;
    rc = fedshare_payload_update_upload(task_id, round, hash, weight, norm, cosine, &pl, &len);
    return submit_owned(c, FEDSHARE_OP_UPDATE_UPLOAD, rc, pl, len, timeout_ms, NULL, NULL);
}

/* ---- records the operations read ---- */

static int load_task(fedshare_client *c, const uint8_t id[32], uint32_t timeout_ms, fs_task *t) {
    uint8_t *rec;
    size_t len;
    int rc = fedshare_client_record(c, FEDSHARE_REC_TASK, id, NULL, 0, timeout_ms, &rec, &len);
    if (rc)
        return rc;
    rc = fs_task_decode(rec, len, t);
    free(rec);
    return rc;
}

static int load_round(fedshare_client *c, const uint8_t id[32], uint32_t round, uint32_t timeout_ms,
                      fs_round *r) {
    uint8_t *rec;
    size_t len;
    int rc = fedshare_client_record(c, FEDSHARE_REC_ROUND, id, NULL, round, timeout_ms, &rec, &len);
    if (rc)
        return rc;
    rc = fs_round_decode(rec, len, r);
    free(rec);
    return rc;
}

/* The encrypted sum of the round's accepted updates, encoded; its hash is what
 * the aggregator records and everyone recomputes. */
static int compute_aggregate(fedshare_client *c, const fs_round *r, const phe_pubkey *pk,
                             phe_ctx *ctx, uint32_t timeout_ms, uint8_t **out, size_t *out_len) {
    (void)ctx;
    phe_ciphertext **acc = NULL;
    size_t n = 0;
    int rc = FEDSHARE_OK, have = 0;
    for (uint32_t i = 0; i < r->n && !rc; i++) {
        const fs_upload *u = &r->up[i];
        if (!u->present || u->verdict == 1)
            continue; /* 1: suspicious, left out */
        uint8_t *b;
        size_t bl;
        rc = blob_get_checked(c, u->blob, timeout_ms, &b, &bl);
        if (rc)
            break;
        phe_ciphertext **v = NULL;
        size_t vn = 0;
        rc = decode_vector(pk, b, bl, &v, &vn);
        free(b);
        if (rc)
            break;
        if (!have) {
            acc = v;
            n = vn;
            have = 1;
            continue;
        }
        if (vn != n)
            rc = FEDSHARE_E_FORMAT;
        for (size_t k = 0; !rc && k < n; k++)
            CRYPTO(c, rc = phe_add(pk, acc[k], acc[k], v[k]));
        free_cts(v, vn);
    }
    if (!rc && !have)
        rc = FEDSHARE_E_STATE;
    if (!rc)
        rc = encode_vector(acc, n, out, out_len);
    free_cts(acc, n);
    return rc;
}

static int task_round(fedshare_client *c, const uint8_t task_id[32], uint32_t round,
                      uint32_t timeout_ms, fs_task **t, fs_round **r) {
    *t = malloc(sizeof **t);
    *r = malloc(sizeof **r);
    if (!*t || !*r)
        return FEDSHARE_E_NOMEM;
    int rc = load_task(c, task_id, timeout_ms, *t);
    if (!rc && (*t)->round != round)
        rc = FEDSHARE_E_STATE;
    if (!rc)
        rc = load_round(c, task_id, round, timeout_ms, *r);
    return rc;
}

int fedshare_aggregate(fedshare_client *c, const uint8_t task_id[32], uint32_t round,
                       const phe_pubkey *pk, phe_ctx *ctx, uint32_t timeout_ms) {
    if (!c || !task_id || !pk)
        return FEDSHARE_E_INVALID;
    fs_task *t;
    fs_round *r;
    int rc = task_round(c, task_id, round, timeout_ms, &t, &r);
    if (!rc && t->phase != FEDSHARE_PHASE_AGGREGATE)
        rc = FEDSHARE_E_STATE;
    uint8_t *agg = NULL, hash[32];
    size_t alen = 0;
    if (!rc)
        rc = compute_aggregate(c, r, pk, ctx, timeout_ms, &agg, &alen);
    if (!rc)
        rc = ledger_client_blob_put(c->lc, agg, alen, timeout_ms, hash);
    free(agg);
    free(t);
    free(r);
    if (rc)
        return rc;
    uint8_t *pl = NULL;
    size_t len = 0;
    rc = fedshare_payload_aggregate(task_id, round, hash, &pl, &len);
    return submit_owned(c, FEDSHARE_OP_AGGREGATE, rc, pl, len, timeout_ms, NULL, NULL);
}

/* Recompute and compare with the recorded aggregate. */
static int recompute(fedshare_client *c, const fs_round *r, const phe_pubkey *pk, phe_ctx *ctx,
                     uint32_t timeout_ms, uint8_t hash[32], int *matches) {
    uint8_t *agg = NULL;
    size_t alen = 0;
    int rc = compute_aggregate(c, r, pk, ctx, timeout_ms, &agg, &alen);
    if (rc)
        return rc;
    crypto_hash_sha256(hash, agg, alen);
    free(agg);
    *matches = r->has_aggregate && !memcmp(hash, r->aggregate, 32);
    return FEDSHARE_OK;
}

int fedshare_check_aggregate(fedshare_client *c, const uint8_t task_id[32], uint32_t round,
                             const phe_pubkey *pk, phe_ctx *ctx, uint32_t timeout_ms,
                             int *matches) {
    if (!c || !task_id || !pk)
        return FEDSHARE_E_INVALID;
    fs_task *t;
    fs_round *r;
    uint8_t hash[32];
    int m = 0;
    int rc = task_round(c, task_id, round, timeout_ms, &t, &r);
    if (!rc && t->phase != FEDSHARE_PHASE_DECRYPT)
        rc = FEDSHARE_E_STATE;
    if (!rc)
        rc = recompute(c, r, pk, ctx, timeout_ms, hash, &m);
    free(t);
    free(r);
    if (rc)
        return rc;
    if (matches)
        *matches = m;
    uint8_t *pl = NULL;
    size_t len = 0;
    rc = fedshare_payload_aggregate_check(task_id, round, hash, &pl, &len);
    return submit_owned(c, FEDSHARE_OP_AGGREGATE_CHECK, rc, pl, len, timeout_ms, NULL, NULL);
}

int fedshare_client_key_params(fedshare_client *c, const uint8_t key_id[32], uint32_t timeout_ms,
                               phe_threshold_params **params) {
    if (!c || !key_id || !params)
        return FEDSHARE_E_INVALID;
    uint8_t *rec;
    size_t len;
    int rc = fedshare_client_record(c, FEDSHARE_REC_KEY, key_id, NULL, 0, timeout_ms, &rec, &len);
    if (rc)
        return rc;
    fs_key *k = malloc(sizeof *k);
    const uint8_t *pb = NULL;
    size_t pl = 0;
    rc = k ? fs_key_decode(rec, len, k, &pb, &pl) : FEDSHARE_E_NOMEM;
    free(k);
    if (!rc)
        rc = phe_threshold_params_decode(params, pb, pl);
    uint8_t id[32];
    if (!rc && (phe_threshold_params_key_id(*params, id) || memcmp(id, key_id, 32))) {
        phe_threshold_params_free(*params);
        *params = NULL;
        rc = FEDSHARE_E_MISMATCH;
    }
    free(rec);
    return rc;
}

int fedshare_post_decryption_share(fedshare_client *c, const uint8_t task_id[32], uint32_t round,
                                   const phe_threshold_params *params,
                                   const phe_threshold_keyshare *share, uint32_t timeout_ms) {
    if (!c || !task_id || !params || !share)
        return FEDSHARE_E_INVALID;
    const phe_pubkey *pk = phe_threshold_params_pubkey(params);
    fs_task *t;
    fs_round *r;
    uint8_t hash[32], share_hash[32];
    int m = 0;
    int rc = task_round(c, task_id, round, timeout_ms, &t, &r);
    if (rc == FEDSHARE_E_STATE && t && r && round && round < t->round &&
        load_round(c, task_id, round, timeout_ms, r) == FEDSHARE_OK && r->skipped)
        rc = FEDSHARE_E_TOO_FEW; /* the round was skipped: never decrypt its sum */
    if (!rc) {
        /* refuse before sending: a sum of fewer accepted updates than the task's
         * minimum would reveal (nearly) one member's update */
        uint32_t accepted = 0;
        for (uint32_t i = 0; i < r->n; i++)
            accepted += r->up[i].present && r->up[i].verdict != FEDAVG_VERDICT_SUSPICIOUS;
        if (r->skipped || accepted < t->min_updates)
            rc = FEDSHARE_E_TOO_FEW;
    }
    /* shares are taken until finalized (a bad one must not keep ours out) */
    if (!rc && t->phase != FEDSHARE_PHASE_DECRYPT && t->phase != FEDSHARE_PHASE_FINALIZE)
        rc = FEDSHARE_E_STATE;
    for (uint32_t i = 0; !rc && i < r->n_shares; i++)
        if (!memcmp(r->share_holder[i], c->pk, 32))
            rc = FEDSHARE_E_EXISTS;
    if (!rc)
        rc = recompute(c, r, pk, NULL, timeout_ms, hash, &m);
    fs_writer w;
    fsw_init(&w);
    if (!rc && m) {
        /* decrypt only what we recomputed ourselves: never an individual update */
        uint8_t *agg = NULL;
        size_t alen = 0, n = 0;
        phe_ciphertext **cts = NULL;
        rc = blob_get_checked(c, r->aggregate, timeout_ms, &agg, &alen);
        if (!rc)
            rc = decode_vector(pk, agg, alen, &cts, &n);
        free(agg);
        /* one batch of shares with one proof for the whole aggregate, on every core */
        phe_threshold_decshare_batch *bt = NULL;
        phe_ctx *own = NULL;
        if (!rc)
            rc = phe_ctx_new(&own, 0);
        if (!rc)
            CRYPTO(c, rc = phe_threshold_decshare_batch_create(
                          &bt, params, share, (const phe_ciphertext *const *)cts, n, own, NULL));
        phe_ctx_free(own);
        size_t sz = rc ? 0 : phe_threshold_decshare_batch_encoded_size(bt), wrote = 0;
        uint8_t *tmp = rc ? NULL : malloc(sz);
        if (!rc && !tmp)
            rc = FEDSHARE_E_NOMEM;
        if (!rc)
            rc = phe_threshold_decshare_batch_encode(bt, tmp, sz, &wrote);
        fsw_raw(&w, BLOB_MAGIC_SHARES, 4);
        fsw_u8(&w, SHARES_VERSION);
        fsw_u32(&w, phe_threshold_keyshare_index(share));
        fsw_u32(&w, (uint32_t)n);
        if (!rc)
            fsw_raw(&w, tmp, wrote);
        free(tmp);
        phe_threshold_decshare_batch_free(bt);
        free_cts(cts, n);
        uint8_t *blob = NULL;
        size_t blen = 0;
        if (!rc)
            rc = fsw_take(&w, &blob, &blen);
        if (!rc)
            rc = ledger_client_blob_put(c->lc, blob, blen, timeout_ms, share_hash);
        free(blob);
    } else if (!rc)
        memset(share_hash, 0, 32); /* no share: the recomputed hash refuses the aggregate */
    fsw_free(&w);
    free(t);
    free(r);
    if (rc)
        return rc;
    uint8_t *pl = NULL;
    size_t len = 0;
    rc = fedshare_payload_decryption_share(task_id, round, hash, share_hash, &pl, &len);
    rc = submit_owned(c, FEDSHARE_OP_DECRYPTION_SHARE, rc, pl, len, timeout_ms, NULL, NULL);
    return rc ? rc : (m ? FEDSHARE_OK : FEDSHARE_E_MISMATCH);
}

/* ---- the global model ---- */

static int decode_model(const uint8_t *b, size_t len, float **out, size_t *n) {
    if (len % 4)
        return FEDSHARE_E_FORMAT;
    float *m = malloc(len ? len : 1);
    if (!m)
        return FEDSHARE_E_NOMEM;
    for (size_t i = 0; i < len / 4; i++) {
        uint32_t u = (uint32_t)b[4 * i] << 24 | (uint32_t)b[4 * i + 1] << 16 |
                     (uint32_t)b[4 * i + 2] << 8 | b[4 * i + 3];
        memcpy(&m[i], &u, 4);
    }
    *out = m;
    *n = len / 4;
    return FEDSHARE_OK;
}

static uint8_t *encode_model(const float *m, size_t n) {
    uint8_t *b = malloc(n ? 4 * n : 1);
    for (size_t i = 0; b && i < n; i++) {
        uint32_t u;
        memcpy(&u, &m[i], 4);
        b[4 * i] = (uint8_t)(u >> 24);
        b[4 * i + 1] = (uint8_t)(u >> 16);
        b[4 * i + 2] = (uint8_t)(u >> 8);
        b[4 * i + 3] = (uint8_t)u;
    }
    return b;
}

static int fetch_model(fedshare_client *c, const uint8_t digest[32], uint32_t timeout_ms,
                       float **model, size_t *n) {
    uint8_t *b;
    size_t len;
    int rc = blob_get_checked(c, digest, timeout_ms, &b, &len);
    if (rc)
        return rc;
    rc = decode_model(b, len, model, n);
    free(b);
    uint8_t d[32];
    if (!rc && (fedavg_model_digest(*model, *n, d) || memcmp(d, digest, 32))) {
        free(*model);
        *model = NULL;
        rc = FEDSHARE_E_MISMATCH;
    }
    return rc;
}

int fedshare_put_model(fedshare_client *c, const float *model, size_t n, uint32_t timeout_ms,
                       uint8_t digest[32]) {
    if (!c || !model || !n || !digest)
        return FEDSHARE_E_INVALID;
    uint8_t *b = encode_model(model, n);
    if (!b)
        return FEDSHARE_E_NOMEM;
    int rc = ledger_client_blob_put(c->lc, b, 4 * n, timeout_ms, digest);
    free(b);
    uint8_t d[32];
    if (!rc && (fedavg_model_digest(model, n, d) || memcmp(d, digest, 32)))
        rc = FEDSHARE_E_MISMATCH; /* the blob hash is the model digest by construction */
    return rc;
}

/* The holders of a key in share-index order (holder i has index i + 1). */
static int key_holders(fedshare_client *c, const uint8_t key_id[32], uint32_t timeout_ms,
                       fs_key *k) {
    uint8_t *rec;
    size_t len;
    int rc = fedshare_client_record(c, FEDSHARE_REC_KEY, key_id, NULL, 0, timeout_ms, &rec, &len);
    if (rc)
        return rc;
    rc = fs_key_decode(rec, len, k, NULL, NULL);
    free(rec);
    return rc;
}

static int is_share_error(int rc) {
    return rc == PHE_ERR_THRESHOLD_PROOF_INVALID || rc == PHE_ERR_THRESHOLD_SHARE_VALUE ||
           rc == PHE_ERR_THRESHOLD_WRONG_CIPHERTEXT || rc == PHE_ERR_THRESHOLD_WRONG_KEY ||
           rc == PHE_ERR_THRESHOLD_INDEX_RANGE || rc == PHE_ERR_THRESHOLD_DUPLICATE_SHARE ||
           rc == PHE_ERR_KEY_MISMATCH || rc == PHE_ERR_CIPHERTEXT_INVALID;
}

/* Fetch and decode recorded share s of the round (one batch of decryption
 * shares of the aggregate's n elements with one proof) into *out.
 * FEDSHARE_E_SHARE when the share is bad in a way anyone can check: its blob
 * is absent from every replica, malformed, of another version, or not the
 * holder's (index) or not of n elements; other codes (a timeout) blame no one. */
static int load_share(fedshare_client *c, const fs_round *r, const fs_key *k, uint32_t s, size_t n,
                      uint32_t timeout_ms, phe_threshold_decshare_batch **out) {
    uint32_t want = 0;
    for (uint32_t i = 0; i < k->n && !want; i++)
        if (!memcmp(k->holders[i], r->share_holder[s], 32))
            want = i + 1;
    if (!want)
        return FEDSHARE_E_SHARE;
    uint8_t *b;
    size_t bl;
    int rc = blob_get_checked(c, r->share_blob[s], timeout_ms, &b, &bl);
    if (rc == FEDSHARE_E_NOT_FOUND || rc == FEDSHARE_E_MISMATCH)
        return FEDSHARE_E_SHARE;
    if (rc)
        return rc;
    fs_reader rd;
    fsr_init(&rd, b, bl);
    uint8_t magic[4];
    fsr_raw(&rd, magic, 4);
    uint8_t v = fsr_u8(&rd);
    uint32_t index = fsr_u32(&rd), count = fsr_u32(&rd);
    if (rd.err || memcmp(magic, BLOB_MAGIC_SHARES, 4) || v != SHARES_VERSION || index != want ||
        count != n)
        rc = FEDSHARE_E_SHARE;
    if (!rc) {
        int dr = phe_threshold_decshare_batch_decode(out, b + rd.off, bl - rd.off);
        if (dr == PHE_ERR_NOMEM)
            rc = FEDSHARE_E_NOMEM;
        else if (dr || phe_threshold_decshare_batch_index(*out) != want ||
                 phe_threshold_decshare_batch_count(*out) != n)
            rc = FEDSHARE_E_SHARE;
        if (rc && !dr) {
            phe_threshold_decshare_batch_free(*out);
            *out = NULL;
        }
    }
    free(b);
    return rc;
}

/* The plaintext sum of the aggregate from any t recorded shares that verify,
 * not refused by a verdict. Shares are taken in recorded order; each holder's
 * batch proof is verified once (by the combination); a batch that does not
 * verify is set aside (bad[s] = 1) and the next share takes its place. The t
 * shares combined are marked ok[s] = 1. Any t valid shares give the same
 * plaintext, so everyone who recomputes gets the same model. */
static int combine_shares(fedshare_client *c, const fs_task *t, const fs_round *r,
                          const phe_threshold_params *params, phe_ciphertext *const *cts, size_t n,
                          size_t ptb, uint32_t timeout_ms, uint8_t *raw,
                          uint8_t bad[FS_HOLDERS_MAX], uint8_t ok[FS_HOLDERS_MAX]) {
    const uint32_t ts = t->threshold;
    size_t full = phe_plaintext_size(phe_threshold_params_pubkey(params));
    fs_key *k = malloc(sizeof *k);
    phe_threshold_decshare_batch *bt[FS_HOLDERS_MAX] = {0};
    const phe_threshold_decshare_batch *use[FS_HOLDERS_MAX];
    uint8_t *tmp = malloc((n ? n : 1) * full);
    uint32_t chosen[FS_HOLDERS_MAX], nc = 0, next = 0;
    int rc = k && tmp ? FEDSHARE_OK : FEDSHARE_E_NOMEM;
    if (!rc)
        rc = key_holders(c, t->key_id, timeout_ms, k);
    if (!rc && (!ts || ts > FS_HOLDERS_MAX))
        rc = FEDSHARE_E_FORMAT;
    while (!rc) {
        /* fill the chosen set up to t with the next shares that load */
        while (!rc && nc < ts && next < r->n_shares) {
            uint32_t s = next++;
            if (r->share_refused[s] == FS_SHARE_REFUSED || bad[s])
                continue;
            int lr = load_share(c, r, k, s, n, timeout_ms, &bt[s]);
            if (lr == FEDSHARE_E_SHARE)
                bad[s] = 1;
            else if (lr)
                rc = lr;
            else
                chosen[nc++] = s;
        }
        if (rc)
            break;
        if (nc < ts) {
            rc = FEDSHARE_E_SHARE; /* fewer than t shares that verify, so far */
            break;
        }
        for (uint32_t i = 0; i < ts; i++)
            use[i] = bt[chosen[i]];
        uint64_t mask = 0;
        int cr;
        CRYPTO(c, cr = phe_threshold_combine_batch_bytes(params, (const phe_ciphertext *const *)cts,
                                                         n, use, ts, tmp, full, full, &mask));
        if (is_share_error(cr) && mask) {
            /* the batches named by the mask leave the chosen set */
            uint32_t kept = 0;
            for (uint32_t i = 0; i < ts; i++) {
                uint32_t hi = phe_threshold_decshare_batch_index(use[i]);
                if (hi >= 1 && hi <= 64 && (mask >> (hi - 1)) & 1)
                    bad[chosen[i]] = 1;
                else
                    chosen[kept++] = chosen[i];
            }
            nc = kept;
            continue;
        }
        if (is_share_error(cr))
            rc = FEDSHARE_E_SHARE; /* combination failed with t valid batches */
        else if (cr)
            rc = cr;
        for (size_t e = 0; !rc && e < n; e++) {
            const uint8_t *pt = tmp + e * full;
            for (size_t z = 0; z + ptb < full; z++)
                if (pt[z])
                    rc = FEDSHARE_E_RANGE; /* wider than a plaintext: a slot carried out of it */
            memcpy(raw + e * ptb, pt + full - ptb, ptb);
        }
        for (uint32_t i = 0; !rc && i < ts; i++)
            ok[chosen[i]] = 1;
        break;
    }
    for (uint32_t s = 0; s < FS_HOLDERS_MAX; s++)
        phe_threshold_decshare_batch_free(bt[s]);
    free(tmp);
    free(k);
    return rc;
}

/* The new global model of the round (phase finalize or evaluate): the previous
 * global plus the unpacked sum. bad[s] is set for each share found bad. */
static int global_model(fedshare_client *c, const fs_task *t, const fs_round *r,
                        const phe_threshold_params *params, uint32_t timeout_ms, float **model,
                        size_t *n_out, uint8_t bad[FS_HOLDERS_MAX], uint8_t ok[FS_HOLDERS_MAX]) {
    const phe_pubkey *pk = phe_threshold_params_pubkey(params);
    uint8_t *agg = NULL;
    size_t alen = 0, n = 0, nprev = 0;
    phe_ciphertext **cts = NULL;
    int rc = blob_get_checked(c, r->aggregate, timeout_ms, &agg, &alen);
    if (!rc)
        rc = decode_vector(pk, agg, alen, &cts, &n);
    free(agg);
    fedavg_codec *codec = NULL;
    if (!rc && fedavg_codec_decode(&codec, t->codec, t->codec_len) != FEDAVG_OK)
        rc = FEDSHARE_E_FORMAT;
    size_t ptb = codec ? fedavg_codec_plaintext_bytes(codec) : 0;
    uint8_t *raw = !rc ? calloc(n ? n : 1, ptb) : NULL;
    if (!rc && !raw)
        rc = FEDSHARE_E_NOMEM;
    if (!rc)
        rc = combine_shares(c, t, r, params, cts, n, ptb, timeout_ms, raw, bad, ok);
    float *prev = NULL;
    if (!rc)
        rc = fetch_model(c, t->global, timeout_ms, &prev, &nprev);
    float *mean = !rc ? malloc(sizeof(float) * (nprev ? nprev : 1)) : NULL;
    if (!rc && !mean)
        rc = FEDSHARE_E_NOMEM;
    if (!rc && fedavg_codec_plaintexts(codec, nprev) != n)
        rc = FEDSHARE_E_FORMAT;
    if (!rc)
        rc = fedavg_codec_unpack(codec, raw, n * ptb, nprev, r->total_weight, mean);
    if (!rc) {
        for (size_t i = 0; i < nprev; i++)
            prev[i] += mean[i];
        *model = prev;
        *n_out = nprev;
        prev = NULL;
    }
    free(mean);
    free(prev);
    free(raw);
    fedavg_codec_free(codec);
    free_cts(cts, n);
    return rc;
}

int fedshare_compute_global(fedshare_client *c, const uint8_t task_id[32], uint32_t round,
                            const phe_threshold_params *params, uint32_t timeout_ms, float **model,
                            size_t *n_out) {
    if (!c || !task_id || !params || !model || !n_out)
        return FEDSHARE_E_INVALID;
    *model = NULL;
    fs_task *t;
    fs_round *r;
    uint8_t bad[FS_HOLDERS_MAX] = {0}, ok[FS_HOLDERS_MAX] = {0};
    int rc = task_round(c, task_id, round, timeout_ms, &t, &r);
    if (!rc && (t->phase != FEDSHARE_PHASE_FINALIZE && t->phase != FEDSHARE_PHASE_EVALUATE))
        rc = FEDSHARE_E_STATE;
    if (!rc && fs_round_good_shares(r) < t->threshold)
        rc = FEDSHARE_E_STATE;
    if (!rc)
        rc = global_model(c, t, r, params, timeout_ms, model, n_out, bad, ok);
    free(t);
    free(r);
    return rc;
}

/* The aggregator's finalize; @p server: x_r (n_server floats) for a task with
 * a server optimizer, NULL for FedAvg. */
static int finalize(fedshare_client *c, const uint8_t task_id[32], uint32_t round,
                    const phe_threshold_params *params, const float *server, size_t n_server,
                    uint32_t timeout_ms) {
    if (!c || !task_id || !params || (server && !n_server))
        return FEDSHARE_E_INVALID;
    float *model = NULL, *prev = NULL;
    size_t n = 0, np = 0;
    fs_task *t;
    fs_round *r;
    uint8_t bad[FS_HOLDERS_MAX] = {0}, ok[FS_HOLDERS_MAX] = {0};
    int rc = task_round(c, task_id, round, timeout_ms, &t, &r);
    if (!rc && t->phase != FEDSHARE_PHASE_FINALIZE)
        rc = FEDSHARE_E_STATE;
    if (!rc)
        rc = global_model(c, t, r, params, timeout_ms, &model, &n, bad, ok);
    if (rc == FEDAVG_E_OVERFLOW || rc == FEDSHARE_E_RANGE) {
        /* a slot of the decrypted sum is beyond what the accepted weights and
         * the clipping bound allow: refuse the round on the ledger */
        uint8_t *pl = NULL;
        size_t len = 0;
        int vr = fedshare_payload_sum_refused(task_id, round, r->aggregate, &pl, &len);
        vr = submit_owned(c, FEDSHARE_OP_SUM_REFUSED, vr, pl, len, timeout_ms, NULL, NULL);
        free(t);
        free(r);
        return vr ? vr : FEDSHARE_E_RANGE;
    }
    /* name every share found bad on the ledger, even when the round cannot
     * finalize yet (the contract then waits for more shares) */
    for (uint32_t s = 0; t && r && s < r->n_shares && (!rc || rc == FEDSHARE_E_SHARE); s++) {
        if (!bad[s])
            continue;
        uint8_t *pl = NULL;
        size_t len = 0;
        int vr = fedshare_payload_share_verdict(task_id, round, r->share_holder[s],
                                                r->share_blob[s], &pl, &len);
        vr = submit_owned(c, FEDSHARE_OP_SHARE_VERDICT, vr, pl, len, timeout_ms, NULL, NULL);
        if (vr && vr != FEDSHARE_E_EXISTS)
            rc = vr;
    }
    /* record the batches whose proof verified in the combination, once each,
     * so that other members may skip the check (docs/fedshare-contracts.md) */
    for (uint32_t s = 0; !rc && s < r->n_shares; s++) {
        if (!ok[s] || r->share_refused[s])
            continue;
        uint8_t *pl = NULL;
        size_t len = 0;
        int vr = fedshare_payload_share_verified(task_id, round, r->share_holder[s],
                                                 r->share_blob[s], &pl, &len);
        vr = submit_owned(c, FEDSHARE_OP_SHARE_VERDICT, vr, pl, len, timeout_ms, NULL, NULL);
        if (vr && vr != FEDSHARE_E_EXISTS)
            rc = vr;
    }
    /* x_r exactly when the task has an optimizer (checked after the verdicts
     * above, which a caller without x_r still records) */
    if (!rc && !server != !t->server_opt)
        rc = FEDSHARE_E_INVALID;
    if (!rc)
        rc = fetch_model(c, t->global, timeout_ms, &prev, &np);
    uint8_t digest[32], delta_hash[32], server_digest[32];
    if (!rc && server && n_server != n)
        rc = FEDSHARE_E_INVALID;
    if (!rc)
        rc = fedshare_put_model(c, model, n, timeout_ms, digest);
    if (!rc && server)
        rc = fedshare_put_model(c, server, n_server, timeout_ms, server_digest);
    size_t dsz = 0, dl = 0;
    uint8_t *delta = NULL;
    if (!rc)
        rc = fedavg_delta_size(prev, model, n, &dsz);
    if (!rc && !(delta = malloc(dsz)))
        rc = FEDSHARE_E_NOMEM;
    if (!rc)
        rc = fedavg_delta_encode(prev, model, n, delta, dsz, &dl);
    if (!rc)
        rc = ledger_client_blob_put(c->lc, delta, dl, timeout_ms, delta_hash);
    free(delta);
    free(model);
    free(prev);
    free(t);
    free(r);
    if (rc)
        return rc;
    uint8_t *pl = NULL;
    size_t len = 0;
    if (server)
        rc = fedshare_payload_round_finalize_server(task_id, round, digest, delta_hash,
                                                    server_digest, &pl, &len);
    else
        rc = fedshare_payload_round_finalize(task_id, round, digest, delta_hash, &pl, &len);
    return submit_owned(c, FEDSHARE_OP_ROUND_FINALIZE, rc, pl, len, timeout_ms, NULL, NULL);
}

int fedshare_finalize_round(fedshare_client *c, const uint8_t task_id[32], uint32_t round,
                            const phe_threshold_params *params, uint32_t timeout_ms) {
    return finalize(c, task_id, round, params, NULL, 0, timeout_ms);
}

int fedshare_finalize_round_server(fedshare_client *c, const uint8_t task_id[32], uint32_t round,
                                   const phe_threshold_params *params, const float *server_model,
                                   size_t n, uint32_t timeout_ms) {
    if (!server_model)
        return FEDSHARE_E_INVALID;
    return finalize(c, task_id, round, params, server_model, n, timeout_ms);
}

int fedshare_fetch_global(fedshare_client *c, const uint8_t task_id[32], uint32_t timeout_ms,
                          float **model, size_t *n, uint32_t *round) {
    if (!c || !task_id || !model || !n)
        return FEDSHARE_E_INVALID;
    *model = NULL;
    fs_task *t = malloc(sizeof *t);
    if (!t)
        return FEDSHARE_E_NOMEM;
    int rc = load_task(c, task_id, timeout_ms, t);
    if (!rc)
        rc = fetch_model(c, t->global, timeout_ms, model, n);
    if (!rc && round)
        *round = t->n_metrics; /* finished rounds (the global changes only when one finishes) */
    free(t);
    return rc;
}

int fedshare_evaluate(fedshare_client *c, const uint8_t task_id[32], uint32_t round,
                      const uint8_t model_digest[32], double metric, uint32_t samples,
                      uint32_t timeout_ms) {
    uint8_t *pl = NULL;
    size_t len = 0;
    int rc = fedshare_payload_evaluation(task_id, round, model_digest, metric, samples, &pl, &len);
    return submit_owned(c, FEDSHARE_OP_EVALUATION, rc, pl, len, timeout_ms, NULL, NULL);
}

/* ---- data sealed at rest ---- */

int fedshare_data_seal(const uint8_t key[32], const uint8_t *in, size_t len, uint8_t *out) {
    if (!key || (!in && len) || !out || len > SIZE_MAX - FEDSHARE_SEAL_OVERHEAD)
        return FEDSHARE_E_INVALID;
    if (sodium_init() < 0)
        return FEDSHARE_E_CRYPTO;
    memcpy(out, "FSDE", 4);
    out[4] = 1;
    randombytes_buf(out + 5, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    unsigned long long clen = 0;
    /* the header is authenticated as associated data */
    if (crypto_aead_xchacha20poly1305_ietf_encrypt(out + 29, &clen, in, len, out, 29, NULL, out + 5,
                                                   key))
        return FEDSHARE_E_CRYPTO;
    return FEDSHARE_OK;
}

int fedshare_data_open(const uint8_t key[32], const uint8_t *in, size_t len, uint8_t *out) {
    if (!key || !in || (!out && len > FEDSHARE_SEAL_OVERHEAD))
        return FEDSHARE_E_INVALID;
    if (len < FEDSHARE_SEAL_OVERHEAD || memcmp(in, "FSDE", 4) || in[4] != 1)
        return FEDSHARE_E_FORMAT;
    if (sodium_init() < 0)
        return FEDSHARE_E_CRYPTO;
    unsigned long long mlen = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, &mlen, NULL, in + 29, len - 29, in, 29,
                                                   in + 5, key)) {
        if (out)
            sodium_memzero(out, len - FEDSHARE_SEAL_OVERHEAD);
        return FEDSHARE_E_MISMATCH;
    }
    return FEDSHARE_OK;
}
