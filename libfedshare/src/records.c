/* State keys and records of the contracts: canonical encodings of the task and
 * round records, and the JSON rendering of every record kind for readers. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fedavg.h>

#include "contracts_internal.h"
#include "fedshare/did.h"

static const char *const prefix[] = {NULL,        "fs/out/",      "fs/data/",    "fs/policy/",
                                     "fs/grant/", "fs/decision/", "fs/key/",     "fs/model/",
                                     "fs/task/",  "fs/round/",    "fs/members/", "fs/mchange/"};

int fedshare_state_key(int kind, const uint8_t id[32], const uint8_t *id2, uint32_t round,
                       uint8_t *out, size_t *len) {
    if (kind < FEDSHARE_REC_OUTCOME || kind > FEDSHARE_REC_MEMBER_CHANGE || !id || !out || !len ||
        (kind == FEDSHARE_REC_GRANT && !id2))
        return FEDSHARE_E_INVALID;
    size_t pl = strlen(prefix[kind]), n = pl;
    memcpy(out, prefix[kind], pl);
    memcpy(out + n, id, 32);
    n += 32;
    if (kind == FEDSHARE_REC_GRANT) {
        memcpy(out + n, id2, 32);
        n += 32;
    } else if (kind == FEDSHARE_REC_ROUND) {
        for (int i = 0; i < 4; i++)
            out[n + (size_t)i] = (uint8_t)(round >> (24 - 8 * i));
        n += 4;
    }
    *len = n;
    return FEDSHARE_OK;
}

/* ---- task and round records ---- */

int fs_task_encode(const fs_task *t, fs_writer *w) {
    /* a FedAvg task keeps record version 3, byte for byte as before the optimizers */
    fsw_u8(w, t->server_opt ? FS_TASK_RECORD_VERSION : 3);
    fsw_raw(w, t->creator, 32);
    fsw_raw(w, t->model_id, 32);
    fsw_raw(w, t->key_id, 32);
    fsw_raw(w, t->aggregator, 32);
    fsw_u32(w, t->n);
    for (uint32_t i = 0; i < t->n; i++) {
        fsw_raw(w, t->p[i].pk, 32);
        fsw_raw(w, t->p[i].data_id, 32);
        fsw_u8(w, t->p[i].joined);
    }
    fsw_f64(w, t->lr);
    fsw_u32(w, t->batch);
    fsw_u32(w, t->upload_every);
    fsw_u32(w, t->round_limit);
    fsw_f64(w, t->stop_threshold);
    fsw_u32(w, t->stop_patience);
    fsw_f64(w, t->anomaly_k);
    fsw_u32(w, t->anomaly_warmup);
    fsw_u32(w, t->min_updates);
    fsw_bytes(w, t->codec, t->codec_len);
    fsw_u32(w, t->threshold);
    fsw_u32(w, t->max_weight);
    fsw_u8(w, t->phase);
    fsw_u8(w, t->stop_reason);
    fsw_u32(w, t->round);
    fsw_raw(w, t->global, 32);
    fsw_u32(w, t->n_metrics);
    for (uint32_t i = 0; i < t->n_metrics; i++)
        fsw_f64(w, t->metrics[i]);
    fsw_u32(w, t->n_hist);
    for (uint32_t i = 0; i < 2 * t->n_hist; i++)
        fsw_f64(w, t->hist[i]);
    /* version 3: the rule and the member of each history entry */
    fsw_u32(w, t->anomaly_rule);
    fsw_raw(w, t->hist_member, t->n_hist);
    if (t->server_opt) { /* version 4: the server optimizer and x of the last round */
        fsw_u32(w, t->server_opt);
        fsw_f64(w, t->server_eta);
        fsw_f64(w, t->server_beta1);
        fsw_f64(w, t->server_beta2);
        fsw_f64(w, t->server_tau);
        fsw_raw(w, t->server_global, 32);
    }
    return w->err;
}

int fs_task_decode(const uint8_t *p, size_t len, fs_task *t) {
    fs_reader r;
    fsr_init(&r, p, len);
    memset(t, 0, sizeof *t);
    uint8_t version = fsr_u8(&r);
    if (version < 1 || version > FS_TASK_RECORD_VERSION)
        return FEDSHARE_E_FORMAT;
    fsr_raw(&r, t->creator, 32);
    fsr_raw(&r, t->model_id, 32);
    fsr_raw(&r, t->key_id, 32);
    fsr_raw(&r, t->aggregator, 32);
    t->n = fsr_u32(&r);
    if (t->n > FS_PARTICIPANTS_MAX)
        return FEDSHARE_E_FORMAT;
    for (uint32_t i = 0; i < t->n; i++) {
        fsr_raw(&r, t->p[i].pk, 32);
        fsr_raw(&r, t->p[i].data_id, 32);
        t->p[i].joined = fsr_u8(&r);
        if (t->p[i].joined > (FS_P_JOINED | FS_P_LEFT))
            return FEDSHARE_E_FORMAT;
    }
    t->lr = fsr_f64(&r);
    t->batch = fsr_u32(&r);
    t->upload_every = fsr_u32(&r);
    t->round_limit = fsr_u32(&r);
    t->stop_threshold = fsr_f64(&r);
    t->stop_patience = fsr_u32(&r);
    t->anomaly_k = fsr_f64(&r);
    t->anomaly_warmup = fsr_u32(&r);
    /* version 1 had no minimum: the default rule of its participant count */
    t->min_updates = version == 1 ? fs_default_min_updates(t->n) : fsr_u32(&r);
    if (t->min_updates < 2 || t->min_updates > FS_PARTICIPANTS_MAX)
        return FEDSHARE_E_FORMAT;
    size_t cl;
    const uint8_t *c = fsr_bytes(&r, FS_CODEC_MAX, &cl);
    if (c)
        memcpy(t->codec, c, cl);
    t->codec_len = (uint32_t)cl;
    t->threshold = fsr_u32(&r);
    t->max_weight = fsr_u32(&r);
    t->phase = fsr_u8(&r);
    t->stop_reason = fsr_u8(&r);
    t->round = fsr_u32(&r);
    fsr_raw(&r, t->global, 32);
    t->n_metrics = fsr_u32(&r);
    if (t->n_metrics > 1000)
        return FEDSHARE_E_FORMAT;
    for (uint32_t i = 0; i < t->n_metrics; i++)
        t->metrics[i] = fsr_f64(&r);
    t->n_hist = fsr_u32(&r);
    if (t->n_hist > 1024)
        return FEDSHARE_E_FORMAT;
    for (uint32_t i = 0; i < 2 * t->n_hist; i++)
        t->hist[i] = fsr_f64(&r);
    if (version >= 3) {
        t->anomaly_rule = fsr_u32(&r);
        fsr_raw(&r, t->hist_member, t->n_hist);
        if (t->anomaly_rule > FEDAVG_RULE_ROBUST3)
            return FEDSHARE_E_FORMAT;
        for (uint32_t i = 0; i < t->n_hist; i++)
            if (t->hist_member[i] >= t->n && t->hist_member[i] != 0xFF) /* 0xFF: from v1/v2 */
                return FEDSHARE_E_FORMAT;
    } else { /* the seed's rule; members unknown */
        t->anomaly_rule = FEDAVG_RULE_POOLED;
        memset(t->hist_member, 0xFF, t->n_hist);
    }
    if (version >= 4) {
        t->server_opt = fsr_u32(&r);
        t->server_eta = fsr_f64(&r);
        t->server_beta1 = fsr_f64(&r);
        t->server_beta2 = fsr_f64(&r);
        t->server_tau = fsr_f64(&r);
        fsr_raw(&r, t->server_global, 32);
        if (!r.err && (t->server_opt == FEDSHARE_SERVER_FEDAVG ||
                       !fs_server_ok(t->server_opt, t->server_eta, t->server_beta1, t->server_beta2,
                                     t->server_tau)))
            return FEDSHARE_E_FORMAT;
    }
    return fsr_done(&r) ? FEDSHARE_E_FORMAT : FEDSHARE_OK;
}

uint32_t fs_round_good_shares(const fs_round *r) {
    uint32_t good = 0;
    for (uint32_t i = 0; i < r->n_shares; i++)
        good += r->share_refused[i] != FS_SHARE_REFUSED;
    return good;
}

int fs_round_encode(const fs_round *o, fs_writer *w) {
    /* version 4 only while the round names an x_r (a server optimizer's) */
    fsw_u8(w, o->has_server ? FS_ROUND_RECORD_VERSION : 3);
    fsw_u32(w, o->n);
    for (uint32_t i = 0; i < o->n; i++) {
        const fs_upload *u = &o->up[i];
        fsw_u8(w, u->present);
        fsw_u8(w, u->verdict);
        fsw_raw(w, u->blob, 32);
        fsw_u32(w, u->weight);
        fsw_f64(w, u->norm);
        fsw_f64(w, u->cosine);
        fsw_u8(w, o->checked[i]);
        fsw_u8(w, o->evaluated[i]);
    }
    fsw_u64(w, o->total_weight);
    fsw_u8(w, o->has_aggregate);
    fsw_raw(w, o->aggregate, 32);
    fsw_u32(w, o->refused);
    fsw_u32(w, o->n_shares);
    for (uint32_t i = 0; i < o->n_shares; i++) {
        fsw_raw(w, o->share_holder[i], 32);
        fsw_raw(w, o->share_blob[i], 32);
        fsw_u8(w, o->share_refused[i]);
    }
    fsw_u8(w, o->skipped);
    fsw_u8(w, o->has_model);
    fsw_raw(w, o->model, 32);
    fsw_raw(w, o->delta, 32);
    fsw_raw(w, o->param_id, 32);
    fsw_u32(w, o->disputes);
    fsw_f64(w, o->metric_sum);
    fsw_u64(w, o->samples);
    fsw_u8(w, o->sum_refused);
    if (o->has_server)
        fsw_raw(w, o->server_model, 32);
    return w->err;
}

int fs_round_decode(const uint8_t *p, size_t len, fs_round *o) {
    fs_reader r;
    fsr_init(&r, p, len);
    memset(o, 0, sizeof *o);
    uint8_t version = fsr_u8(&r);
    if (version < 1 || version > FS_ROUND_RECORD_VERSION)
        return FEDSHARE_E_FORMAT;
    o->n = fsr_u32(&r);
    if (o->n > FS_PARTICIPANTS_MAX)
        return FEDSHARE_E_FORMAT;
    for (uint32_t i = 0; i < o->n; i++) {
        fs_upload *u = &o->up[i];
        u->present = fsr_u8(&r);
        u->verdict = fsr_u8(&r);
        fsr_raw(&r, u->blob, 32);
        u->weight = fsr_u32(&r);
        u->norm = fsr_f64(&r);
        u->cosine = fsr_f64(&r);
        o->checked[i] = fsr_u8(&r);
        o->evaluated[i] = fsr_u8(&r);
    }
    o->total_weight = fsr_u64(&r);
    o->has_aggregate = fsr_u8(&r);
    fsr_raw(&r, o->aggregate, 32);
    o->refused = fsr_u32(&r);
    o->n_shares = fsr_u32(&r);
    if (o->n_shares > FS_HOLDERS_MAX)
        return FEDSHARE_E_FORMAT;
    for (uint32_t i = 0; i < o->n_shares; i++) {
        fsr_raw(&r, o->share_holder[i], 32);
        fsr_raw(&r, o->share_blob[i], 32);
        o->share_refused[i] = version == 1 ? 0 : fsr_u8(&r);
        if (o->share_refused[i] > FS_SHARE_VERIFIED)
            return FEDSHARE_E_FORMAT;
    }
    o->skipped = version == 1 ? 0 : fsr_u8(&r);
    if (o->skipped > 1)
        return FEDSHARE_E_FORMAT;
    o->has_model = fsr_u8(&r);
    fsr_raw(&r, o->model, 32);
    fsr_raw(&r, o->delta, 32);
    fsr_raw(&r, o->param_id, 32);
    o->disputes = fsr_u32(&r);
    o->metric_sum = fsr_f64(&r);
    o->samples = fsr_u64(&r);
    o->sum_refused = version >= 3 ? fsr_u8(&r) : 0;
    if (o->sum_refused > 1)
        return FEDSHARE_E_FORMAT;
    if (version >= 4) {
        fsr_raw(&r, o->server_model, 32);
        o->has_server = 1;
    }
    return fsr_done(&r) ? FEDSHARE_E_FORMAT : FEDSHARE_OK;
}

/* ---- JSON rendering ---- */

typedef struct jbuf {
    char *s;
    size_t len, cap;
    int err;
} jbuf;

static void jraw(jbuf *j, const char *s, size_t n) {
    if (j->err)
        return;
    if (j->len + n + 1 > j->cap) {
        size_t cap = j->cap ? j->cap * 2 : 512;
        while (cap < j->len + n + 1)
            cap *= 2;
        char *b = realloc(j->s, cap);
        if (!b) {
            j->err = FEDSHARE_E_NOMEM;
            return;
        }
        j->s = b;
        j->cap = cap;
    }
    memcpy(j->s + j->len, s, n);
    j->len += n;
    j->s[j->len] = 0;
}

static void jstr(jbuf *j, const char *s) {
    jraw(j, s, strlen(s));
}

static void jfmt(jbuf *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#include <stdarg.h>
static void jfmt(jbuf *j, const char *fmt, ...) {
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        jraw(j, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void jhex(jbuf *j, const char *key, const uint8_t *p, size_t n) {
    static const char hx[] = "0123456789abcdef";
    jfmt(j, "\"%s\":\"", key);
    for (size_t i = 0; i < n; i++) {
        char b[2] = {hx[p[i] >> 4], hx[p[i] & 15]};
        jraw(j, b, 2);
    }
    jstr(j, "\"");
}

static void jdid(jbuf *j, const char *key, const uint8_t pk[32]) {
    char did[FEDSHARE_DID_BUF];
    if (fedshare_did_from_pubkey(pk, did, sizeof did) != FEDSHARE_OK)
        did[0] = 0;
    jfmt(j, "\"%s\":\"%s\"", key, did);
}

/* Strings in records are printable ASCII words or free text: escape what JSON needs. */
static void jtextv(jbuf *j, const uint8_t *s, size_t n) {
    jstr(j, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c == '"' || c == '\\') {
            char b[2] = {'\\', (char)c};
            jraw(j, b, 2);
        } else if (c < 0x20 || c == 0x7f)
            jfmt(j, "\\u%04x", c);
        else
            jraw(j, (const char *)&c, 1);
    }
    jstr(j, "\"");
}

static void jtext(jbuf *j, const char *key, const uint8_t *s, size_t n) {
    jfmt(j, "\"%s\":", key);
    jtextv(j, s, n);
}

static void jf64(jbuf *j, const char *key, double v) {
    jfmt(j, "\"%s\":%.17g", key, v);
}

static int render_task(jbuf *j, const uint8_t *rec, size_t len) {
    fs_task *t = malloc(sizeof *t);
    if (!t)
        return FEDSHARE_E_NOMEM;
    int rc = fs_task_decode(rec, len, t);
    if (!rc) {
        jstr(j, "{");
        jdid(j, "creator", t->creator);
        jstr(j, ",");
        jhex(j, "model_id", t->model_id, 32);
        jstr(j, ",");
        jhex(j, "key_id", t->key_id, 32);
        jstr(j, ",");
        jdid(j, "aggregator", t->aggregator);
        jstr(j, ",\"participants\":[");
        for (uint32_t i = 0; i < t->n; i++) {
            jstr(j, i ? ",{" : "{");
            jdid(j, "did", t->p[i].pk);
            jstr(j, ",");
            jhex(j, "public_key", t->p[i].pk, 32);
            jstr(j, ",");
            jhex(j, "data_id", t->p[i].data_id, 32);
            jfmt(j, ",\"joined\":%s%s}", t->p[i].joined & FS_P_JOINED ? "true" : "false",
                 t->p[i].joined & FS_P_LEFT ? ",\"left\":true" : "");
        }
        jstr(j, "],");
        jf64(j, "learning_rate", t->lr);
        jfmt(j, ",\"batch_size\":%u,\"upload_every\":%u,\"round_limit\":%u,", t->batch,
             t->upload_every, t->round_limit);
        jf64(j, "stop_threshold", t->stop_threshold);
        jfmt(j, ",\"stop_patience\":%u,", t->stop_patience);
        jf64(j, "anomaly_k", t->anomaly_k);
        jfmt(j, ",\"anomaly_warmup\":%u,\"min_updates\":%u,", t->anomaly_warmup, t->min_updates);
        static const char *const rules[] = {"pooled", "robust",  "member",
                                            "mad",    "robust2", "robust3"};
        jfmt(j, "\"anomaly_rule\":\"%s\",", rules[t->anomaly_rule <= 5 ? t->anomaly_rule : 0]);
        jhex(j, "codec", t->codec, t->codec_len);
        static const char *const opts[] = {"fedavg", "adam", "yogi"};
        jfmt(j, ",\"server_optimizer\":\"%s\"", opts[t->server_opt <= 2 ? t->server_opt : 0]);
        if (t->server_opt) {
            jstr(j, ",");
            jf64(j, "server_eta", t->server_eta);
            jstr(j, ",");
            jf64(j, "server_beta1", t->server_beta1);
            jstr(j, ",");
            jf64(j, "server_beta2", t->server_beta2);
            jstr(j, ",");
            jf64(j, "server_tau", t->server_tau);
            jstr(j, ",");
            jhex(j, "server_model", t->server_global, 32);
        }
        jfmt(j, ",\"threshold\":%u,\"max_weight\":%u,\"phase\":%u,\"stop_reason\":%u,\"round\":%u,",
             t->threshold, t->max_weight, t->phase, t->stop_reason, t->round);
        jhex(j, "global_model", t->global, 32);
        jstr(j, ",\"metrics\":[");
        for (uint32_t i = 0; i < t->n_metrics; i++)
            jfmt(j, "%s%.17g", i ? "," : "", t->metrics[i]);
        jfmt(j, "],\"history\":%u}", t->n_hist);
    }
    free(t);
    return rc;
}

static int render_round(jbuf *j, const uint8_t *rec, size_t len) {
    fs_round *o = malloc(sizeof *o);
    if (!o)
        return FEDSHARE_E_NOMEM;
    int rc = fs_round_decode(rec, len, o);
    if (!rc) {
        jstr(j, "{\"updates\":[");
        for (uint32_t i = 0; i < o->n; i++) {
            const fs_upload *u = &o->up[i];
            jfmt(j, "%s{\"present\":%s", i ? "," : "", u->present ? "true" : "false");
            if (u->present) {
                jstr(j, ",");
                jhex(j, "blob", u->blob, 32);
                jfmt(j, ",\"weight\":%u,", u->weight);
                jf64(j, "norm", u->norm);
                jstr(j, ",");
                jf64(j, "cosine", u->cosine);
                jfmt(j, ",\"verdict\":\"%s\"",
                     u->verdict == 1   ? "suspicious"
                     : u->verdict == 2 ? "warmup"
                                       : "accepted");
            }
            jfmt(j, ",\"checked\":%s,\"evaluated\":%s}", o->checked[i] ? "true" : "false",
                 o->evaluated[i] ? "true" : "false");
        }
        jfmt(j, "],\"total_weight\":%" PRIu64 ",\"aggregates_refused\":%u", o->total_weight,
             o->refused);
        if (o->has_aggregate) {
            jstr(j, ",");
            jhex(j, "aggregate", o->aggregate, 32);
        }
        jstr(j, ",\"shares\":[");
        for (uint32_t i = 0; i < o->n_shares; i++) {
            jstr(j, i ? ",{" : "{");
            jdid(j, "holder", o->share_holder[i]);
            jstr(j, ",");
            jhex(j, "blob", o->share_blob[i], 32);
            jfmt(j, ",\"refused\":%s,\"verified\":%s}",
                 o->share_refused[i] == FS_SHARE_REFUSED ? "true" : "false",
                 o->share_refused[i] == FS_SHARE_VERIFIED ? "true" : "false");
        }
        jfmt(j, "],\"skipped\":%s,\"sum_refused\":%s", o->skipped ? "true" : "false",
             o->sum_refused ? "true" : "false");
        if (o->has_model) {
            jstr(j, ",");
            jhex(j, "global_model", o->model, 32);
            jstr(j, ",");
            jhex(j, "delta", o->delta, 32);
            jstr(j, ",");
            jhex(j, "param_id", o->param_id, 32);
            if (o->has_server) {
                jstr(j, ",");
                jhex(j, "server_model", o->server_model, 32);
            }
        }
        jfmt(j, ",\"models_disputed\":%u,", o->disputes);
        jf64(j, "metric_sum", o->metric_sum);
        jfmt(j, ",\"samples\":%" PRIu64 "}", o->samples);
    }
    free(o);
    return rc;
}

/* Generic rendering of the simpler records, field by field (formats doc). */
static int render_simple(jbuf *j, int kind, const uint8_t *rec, size_t len) {
    fs_reader r;
    fsr_init(&r, rec, len);
    if (kind == FEDSHARE_REC_OUTCOME) {
        int32_t code = (int32_t)fsr_u32(&r);
        if (fsr_done(&r))
            return FEDSHARE_E_FORMAT;
        jfmt(j, "{\"code\":%d,\"text\":", code);
        const char *t = fedshare_strerror(code);
        jtextv(j, (const uint8_t *)t, strlen(t));
        jstr(j, "}");
        return FEDSHARE_OK;
    }
    uint8_t ver = fsr_u8(&r);
    if (ver != FS_RECORD_VERSION && !(kind == FEDSHARE_REC_KEY && ver == FS_KEY_VERSION))
        return FEDSHARE_E_FORMAT;
    uint8_t a[32], b[32], c[32];
    size_t n1, n2;
    const uint8_t *s1, *s2;
    jstr(j, "{");
    switch (kind) {
        case FEDSHARE_REC_DATA: {
            fsr_raw(&r, a, 32); /* owner */
            fsr_raw(&r, b, 32); /* encrypted-data hash */
            uint64_t ts = fsr_u64(&r), height = fsr_u64(&r);
            s1 = fsr_bytes(&r, FS_LABEL_MAX, &n1);
            s2 = fsr_bytes(&r, FS_DESC_MAX, &n2);
            uint32_t nl = fsr_u32(&r);
            if (r.err || nl > FS_LINEAGE_MAX)
                return FEDSHARE_E_FORMAT;
            jdid(j, "owner", a);
            jstr(j, ",");
            jhex(j, "encrypted_hash", b, 32);
            jfmt(j, ",\"timestamp\":%" PRIu64 ",\"height\":%" PRIu64 ",", ts, height);
            jtext(j, "label", s1, n1);
            jstr(j, ",");
            jtext(j, "description", s2, n2);
            jstr(j, ",\"lineage\":[");
            for (uint32_t i = 0; i < nl; i++) {
                fsr_raw(&r, c, 32);
                jstr(j, i ? ",{" : "{");
                jhex(j, "data_id", c, 32);
                jstr(j, "}");
            }
            uint8_t st = fsr_u8(&r);
            uint64_t uses = fsr_u64(&r);
            jfmt(j, "],\"status\":\"%s\",\"uses\":%" PRIu64, st == 2 ? "retired" : "active", uses);
            break;
        }
        case FEDSHARE_REC_GRANT:
        case FEDSHARE_REC_DECISION: {
            uint8_t effect = fsr_u8(&r);
            fsr_raw(&r, a, 32); /* data ID */
            fsr_raw(&r, b, 32); /* requester */
            uint64_t t0 = fsr_u64(&r), t1 = fsr_u64(&r), height = fsr_u64(&r);
            uint32_t uses = fsr_u32(&r);
            s1 = fsr_bytes(&r, FS_LABEL_MAX, &n1);
            s2 = fsr_bytes(&r, FS_LABEL_MAX, &n2);
            int32_t reason = (int32_t)fsr_u32(&r);
            jfmt(j, "\"effect\":\"%s\",", effect ? "permit" : "deny");
            jhex(j, "data_id", a, 32);
            jstr(j, ",");
            jdid(j, "requester", b);
            jfmt(j, ",\"t0\":%" PRIu64 ",\"t1\":%" PRIu64 ",\"height\":%" PRIu64 ",\"uses\":%u,",
                 t0, t1, height, uses);
            jtext(j, "action", s1, n1);
            jstr(j, ",");
            jtext(j, "purpose", s2, n2);
            jfmt(j, ",\"reason\":%d", reason);
            for (int list = 0; list < 2 && !r.err; list++) {
                uint32_t k = fsr_u32(&r);
                if (k > 4096)
                    return FEDSHARE_E_FORMAT;
                jstr(j, list ? ",\"obligations\":[" : ",\"rules\":[");
                for (uint32_t i = 0; i < k && !r.err; i++) {
                    const uint8_t *s = fsr_bytes(&r, 256, &n1);
                    if (i)
                        jstr(j, ",");
                    jstr(j, "{");
                    jtext(j, "id", s ? s : (const uint8_t *)"", s ? n1 : 0);
                    jstr(j, "}");
                }
                jstr(j, "]");
            }
            break;
        }
        case FEDSHARE_REC_KEY: {
            /* fields after the holders (version 2): read them first, then write in order */
            fsr_raw(&r, a, 32); /* the submitter: the dealer of a dealt key */
            uint32_t t = fsr_u32(&r), n = fsr_u32(&r);
            if (r.err || n > FS_HOLDERS_MAX)
                return FEDSHARE_E_FORMAT;
            const uint8_t *pairs = fsr_take(&r, 64 * (size_t)n);
            s1 = fsr_bytes(&r, FS_PARAMS_MAX, &n1);
            uint8_t method = ver >= 2 ? fsr_u8(&r) : FEDSHARE_KEY_DEALT;
            const uint8_t *sess = NULL, *com = NULL, *sigs = NULL;
            if (method == FEDSHARE_KEY_DEALERLESS) {
                sess = fsr_take(&r, 32);
                com = fsr_take(&r, 32);
                sigs = fsr_take(&r, 64 * (size_t)n);
            } else if (method != FEDSHARE_KEY_DEALT)
                return FEDSHARE_E_FORMAT;
            if (r.err || !s1)
                return FEDSHARE_E_FORMAT;
            jfmt(j, "\"made\":\"%s\",", method == FEDSHARE_KEY_DEALERLESS ? "dealerless" : "dealt");
            if (method == FEDSHARE_KEY_DEALT) {
                jdid(j, "dealer", a);
                jstr(j, ",");
            }
            jdid(j, "recorded_by", a);
            if (sess) {
                jstr(j, ",");
                jhex(j, "session", sess, 32);
                jstr(j, ",");
                jhex(j, "commitment", com, 32);
            }
            jfmt(j, ",\"threshold\":%u,\"holders\":[", t);
            for (uint32_t i = 0; i < n; i++) {
                jstr(j, i ? ",{" : "{");
                jdid(j, "did", pairs + 64 * i);
                jstr(j, ",");
                jhex(j, "sealed_share", pairs + 64 * i + 32, 32);
                jfmt(j, ",\"index\":%u", i + 1);
                if (sigs) {
                    /* checked again here: what an auditor reads is what verifies */
                    int ok = fedshare_key_attestation_verify(pairs + 64 * i, s1, n1, sess, com,
                                                             pairs + 64 * i + 32,
                                                             sigs + 64 * i) == FEDSHARE_OK;
                    jstr(j, ",");
                    jhex(j, "attestation", sigs + 64 * i, 64);
                    jfmt(j, ",\"attested\":%s", ok ? "true" : "false");
                }
                jstr(j, "}");
            }
            jstr(j, "],");
            jhex(j, "params", s1, n1);
            break;
        }
        case FEDSHARE_REC_MODEL: {
            fsr_raw(&r, a, 32);
            fsr_raw(&r, b, 32);
            fsr_raw(&r, c, 32);
            uint64_t np = fsr_u64(&r), height = fsr_u64(&r);
            s1 = fsr_bytes(&r, FS_DESC_MAX, &n1);
            jdid(j, "publisher", a);
            jstr(j, ",");
            jhex(j, "structure_hash", b, 32);
            jstr(j, ",");
            jhex(j, "model_digest", c, 32);
            jfmt(j, ",\"parameters\":%" PRIu64 ",\"height\":%" PRIu64 ",", np, height);
            jtext(j, "description", s1 ? s1 : (const uint8_t *)"", s1 ? n1 : 0);
            break;
        }
        default:
            return FEDSHARE_E_INVALID;
    }
    jstr(j, "}");
    return fsr_done(&r) ? FEDSHARE_E_FORMAT : FEDSHARE_OK;
}

static void jroles(jbuf *j, const char *key, uint32_t roles) {
    static const char *const rn[] = {"provider", "aggregator", "keyholder", "publisher",
                                     "regulator"};
    jfmt(j, "\"%s\":[", key);
    for (int i = 0, k = 0; i < 5; i++)
        if (roles & (1u << i))
            jfmt(j, "%s\"%s\"", k++ ? "," : "", rn[i]);
    jstr(j, "]");
}

static void jcreds(jbuf *j, uint32_t n, const char (*cred)[FEDSHARE_NAME_MAX + 1]) {
    jstr(j, "\"credentials\":[");
    for (uint32_t i = 0; i < n; i++) {
        if (i)
            jstr(j, ",");
        jtextv(j, (const uint8_t *)cred[i], strlen(cred[i]));
    }
    jstr(j, "]");
}

static const char *status_name(uint8_t s) {
    return s == FS_MEMBER_ACTIVE ? "active" : s == FS_MEMBER_RETIRED ? "retired" : "none";
}

static int render_members(jbuf *j, const uint8_t *rec, size_t len) {
    fs_mset *m = malloc(sizeof *m);
    if (!m)
        return FEDSHARE_E_NOMEM;
    int rc = fs_mset_decode(rec, len, m);
    if (!rc) {
        jfmt(j, "{\"last_change\":%" PRIu64 ",\"open_change\":%" PRIu64 ",\"members\":[",
             m->last_id, m->open_id);
        for (uint32_t i = 0; i < m->n; i++) {
            const fs_mentry *e = &m->e[i];
            jstr(j, i ? ",{" : "{");
            jhex(j, "key", e->key, 32);
            jstr(j, ",");
            jdid(j, "did", e->key);
            jstr(j, ",");
            jtext(j, "name", (const uint8_t *)e->name, strlen(e->name));
            jstr(j, ",");
            jtext(j, "org", (const uint8_t *)e->org, strlen(e->org));
            jstr(j, ",");
            jcreds(j, e->ncred, e->cred);
            jstr(j, ",");
            jroles(j, "roles_before", e->roles0);
            jfmt(j, ",\"status_before\":\"%s\",", status_name(e->status0));
            jroles(j, "roles", e->roles);
            jfmt(j, ",\"status\":\"%s\",\"since\":%" PRIu64 "}", status_name(e->status), e->since);
        }
        jstr(j, "]}");
    }
    free(m);
    return rc;
}

static int render_change(jbuf *j, const uint8_t *rec, size_t len) {
    fs_mchange *c = malloc(sizeof *c);
    if (!c)
        return FEDSHARE_E_NOMEM;
    int rc = fs_mchange_decode(rec, len, c);
    if (!rc) {
        static const char *const kinds[] = {"", "roles", "join", "retire"};
        static const char *const st[] = {"proposed", "approved", "expired"};
        jfmt(j, "{\"id\":%" PRIu64 ",\"kind\":\"%s\",", c->id, kinds[c->kind]);
        jhex(j, "key", c->key, 32);
        jstr(j, ",");
        jdid(j, "did", c->key);
        jstr(j, ",");
        jroles(j, "roles", c->roles);
        jstr(j, ",");
        jtext(j, "name", (const uint8_t *)c->name, strlen(c->name));
        jstr(j, ",");
        jtext(j, "org", (const uint8_t *)c->org, strlen(c->org));
        jstr(j, ",");
        jcreds(j, c->ncred, c->cred);
        jfmt(j, ",\"proposed_at\":%" PRIu64 ",\"expires_after\":%" PRIu64, c->proposed_at,
             c->proposed_at + FEDSHARE_MEMBER_TTL);
        jfmt(j, ",\"status\":\"%s\",\"decided_at\":%" PRIu64, st[c->status], c->decided_at);
        jfmt(j, ",\"effective\":%" PRIu64 ",\"approvals\":[", c->effective);
        for (uint32_t i = 0; i < c->n_approvals; i++) {
            char did[FEDSHARE_DID_BUF];
            if (fedshare_did_from_pubkey(c->approvals[i], did, sizeof did) != FEDSHARE_OK)
                did[0] = 0;
            jfmt(j, "%s\"%s\"", i ? "," : "", did);
        }
        jstr(j, "]}");
    }
    free(c);
    return rc;
}

int fedshare_record_json(int kind, const uint8_t *rec, size_t len, char **json) {
    if (!json || (!rec && len))
        return FEDSHARE_E_INVALID;
    *json = NULL;
    jbuf j = {0};
    int rc;
    if (kind == FEDSHARE_REC_TASK)
        rc = render_task(&j, rec, len);
    else if (kind == FEDSHARE_REC_MEMBERS)
        rc = render_members(&j, rec, len);
    else if (kind == FEDSHARE_REC_MEMBER_CHANGE)
        rc = render_change(&j, rec, len);
    else if (kind == FEDSHARE_REC_ROUND)
        rc = render_round(&j, rec, len);
    else if (kind == FEDSHARE_REC_POLICY) {
        jstr(&j, "{");
        jhex(&j, "policy", rec, len);
        jstr(&j, "}");
        rc = FEDSHARE_OK;
    } else
        rc = render_simple(&j, kind, rec, len);
    if (!rc)
        rc = j.err;
    if (rc) {
        free(j.s);
        return rc;
    }
    *json = j.s;
    return FEDSHARE_OK;
}
