/* The contracts as one libledger application: check before ordering, apply in
 * block order, and the shared bookkeeping (outcome records, trace indexes).
 * Registry, permission and key acts are here; training is in training.c. */
#include <stdlib.h>
#include <string.h>

#include <abac.h>
#include <abac/cedar.h>
#include <phe.h>
#include <phe/threshold.h>
#include <sodium.h>

#include "app_internal.h"
#include "fedshare/did.h"

int fs_require_role(const fedshare_consortium *c, const uint8_t sender[32], uint32_t role) {
    int i = fedshare_consortium_find(c, sender);
    if (i < 0)
        return FEDSHARE_E_NOT_MEMBER;
    if (role && !(fedshare_consortium_roles(c, (size_t)i) & role))
        return FEDSHARE_E_ROLE;
    return FEDSHARE_OK;
}

/* The role each act needs (0: any member; participant checks are the contract's). */
static uint32_t role_of(uint16_t op) {
    switch (op) {
        case FEDSHARE_OP_DATA_REGISTER:
            return FEDSHARE_ROLE_PROVIDER;
        case FEDSHARE_OP_KEY_RECORD:
            return FEDSHARE_ROLE_KEYHOLDER;
        case FEDSHARE_OP_MODEL_PUBLISH:
            return FEDSHARE_ROLE_PUBLISHER;
        case FEDSHARE_OP_AGGREGATE:
        case FEDSHARE_OP_ROUND_FINALIZE:
        case FEDSHARE_OP_SHARE_VERDICT:
        case FEDSHARE_OP_SUM_REFUSED:
            return FEDSHARE_ROLE_AGGREGATOR;
        case FEDSHARE_OP_DECRYPTION_SHARE:
            return FEDSHARE_ROLE_KEYHOLDER;
        default:
            return 0;
    }
}

int fedshare_precheck(const fedshare_consortium *c, uint16_t op, const uint8_t sender[32],
                      const uint8_t *payload, size_t len) {
    if (!c || !sender || (!payload && len))
        return FEDSHARE_E_INVALID;
    if (op >= LEDGER_OP_RESERVED_MIN) /* the ledger's own acts: any member may send them */
        return fs_require_role(c, sender, 0);
    fs_payload p;
    int rc = fs_payload_decode(op, payload, len, &p);
    if (rc)
        return rc;
    fs_payload_free(&p);
    return fs_require_role(c, sender, role_of(op));
}

/* ---- state helpers ---- */

int fs_get(ledger_state *st, int kind, const uint8_t id[32], const uint8_t *id2, uint32_t round,
           const uint8_t **val, size_t *vlen) {
    uint8_t key[FEDSHARE_KEY_MAX];
    size_t klen;
    int rc = fedshare_state_key(kind, id, id2, round, key, &klen);
    if (rc)
        return rc;
    rc = ledger_state_get(st, key, klen, val, vlen);
    if (rc == LEDGER_E_NOT_FOUND)
        return FEDSHARE_E_NOT_FOUND;
    return rc;
}

int fs_put(ledger_state *st, int kind, const uint8_t id[32], const uint8_t *id2, uint32_t round,
           fs_writer *w) {
    uint8_t key[FEDSHARE_KEY_MAX];
    size_t klen;
    if (w->err) {
        int e = w->err;
        fsw_free(w);
        return e;
    }
    int rc = fedshare_state_key(kind, id, id2, round, key, &klen);
    if (!rc)
        rc = ledger_state_put(st, key, klen, w->buf, w->len);
    fsw_free(w);
    return rc;
}

/* ---- registry ---- */

int fedshare_data_id(const uint8_t enc_hash[32], const uint8_t provider[32], uint64_t timestamp,
                     const char *label, uint8_t out[32]) {
    char did[FEDSHARE_DID_BUF];
    if (!enc_hash || !provider || !label || !out || strlen(label) > FS_LABEL_MAX)
        return FEDSHARE_E_INVALID;
    int rc = fedshare_did_from_pubkey(provider, did, sizeof did);
    if (rc)
        return rc;
    fs_writer w;
    fsw_init(&w);
    fsw_raw(&w, enc_hash, 32);
    fsw_raw(&w, did, strlen(did));
    fsw_u64(&w, timestamp);
    fsw_u16(&w, (uint16_t)strlen(label));
    fsw_raw(&w, label, strlen(label));
    if (w.err) {
        fsw_free(&w);
        return FEDSHARE_E_NOMEM;
    }
    crypto_hash_sha256(out, w.buf, w.len);
    fsw_free(&w);
    return FEDSHARE_OK;
}

int fedshare_model_id(const uint8_t structure_hash[32], const uint8_t model_digest[32],
                      uint8_t out[32]) {
    if (!structure_hash || !model_digest || !out)
        return FEDSHARE_E_INVALID;
    uint8_t buf[16 + 64];
    memcpy(buf, "FSMODEL/1\0\0\0\0\0\0\0", 16);
    memcpy(buf + 16, structure_hash, 32);
    memcpy(buf + 48, model_digest, 32);
    crypto_hash_sha256(out, buf, sizeof buf);
    return FEDSHARE_OK;
}

int fs_data_decode(const uint8_t *v, size_t n, fs_data *d) {
    fs_reader r;
    fsr_init(&r, v, n);
    memset(d, 0, sizeof *d);
    if (fsr_u8(&r) != FS_RECORD_VERSION)
        return FEDSHARE_E_FORMAT;
    fsr_raw(&r, d->owner, 32);
    fsr_raw(&r, d->enc_hash, 32);
    d->timestamp = fsr_u64(&r);
    d->height = fsr_u64(&r);
    size_t ll, dl;
    const uint8_t *l = fsr_bytes(&r, FS_LABEL_MAX, &ll);
    const uint8_t *ds = fsr_bytes(&r, FS_DESC_MAX, &dl);
    d->n_lineage = fsr_u32(&r);
    if (r.err || d->n_lineage > FS_LINEAGE_MAX)
        return FEDSHARE_E_FORMAT;
    memcpy(d->label, l, ll);
    d->label[ll] = 0;
    memcpy(d->description, ds, dl);
    d->description[dl] = 0;
    for (uint32_t i = 0; i < d->n_lineage; i++)
        fsr_raw(&r, d->lineage[i], 32);
    d->status = fsr_u8(&r);
    d->uses = fsr_u64(&r);
    return fsr_done(&r) ? FEDSHARE_E_FORMAT : FEDSHARE_OK;
}

void fs_data_encode(const fs_data *d, fs_writer *w) {
    fsw_u8(w, FS_RECORD_VERSION);
    fsw_raw(w, d->owner, 32);
    fsw_raw(w, d->enc_hash, 32);
    fsw_u64(w, d->timestamp);
    fsw_u64(w, d->height);
    fsw_bytes(w, d->label, strlen(d->label));
    fsw_bytes(w, d->description, strlen(d->description));
    fsw_u32(w, d->n_lineage);
    for (uint32_t i = 0; i < d->n_lineage; i++)
        fsw_raw(w, d->lineage[i], 32);
    fsw_u8(w, d->status);
    fsw_u64(w, d->uses);
}

int fs_data_load(ledger_state *st, const uint8_t id[32], fs_data *d) {
    const uint8_t *v;
    size_t n;
    int rc = fs_get(st, FEDSHARE_REC_DATA, id, NULL, 0, &v, &n);
    return rc ? rc : fs_data_decode(v, n, d);
}

static int registry_register(fs_exec *x, const fs_payload *p) {
    fs_data *d = calloc(1, sizeof *d);
    if (!d)
        return FEDSHARE_E_NOMEM;
    uint8_t id[32];
    int rc = fedshare_data_id(p->hash, x->sender, x->timestamp, p->label, id);
    const uint8_t *v;
    size_t n;
    if (!rc && fs_get(x->st, FEDSHARE_REC_DATA, id, NULL, 0, &v, &n) == FEDSHARE_OK)
        rc = FEDSHARE_E_EXISTS;
    for (size_t i = 0; !rc && i < p->n; i++)
        if (fs_get(x->st, FEDSHARE_REC_DATA, p->list + 32 * i, NULL, 0, &v, &n) != FEDSHARE_OK)
            rc = FEDSHARE_E_NOT_FOUND;
    if (!rc) {
        memcpy(d->owner, x->sender, 32);
        memcpy(d->enc_hash, p->hash, 32);
        d->timestamp = x->timestamp;
        d->height = x->height;
        strcpy(d->label, p->label);
        strcpy(d->description, p->text);
        d->n_lineage = (uint32_t)p->n;
        for (size_t i = 0; i < p->n; i++)
            memcpy(d->lineage[i], p->list + 32 * i, 32);
        d->status = FS_DATA_ACTIVE;
        fs_writer w;
        fsw_init(&w);
        fs_data_encode(d, &w);
        rc = fs_put(x->st, FEDSHARE_REC_DATA, id, NULL, 0, &w);
    }
    if (!rc)
        rc = fs_index(x, FEDSHARE_TRACE_DATA, id);
    for (size_t i = 0; !rc && i < p->n; i++)
        rc = fs_index(x, FEDSHARE_TRACE_DATA, p->list + 32 * i);
    free(d);
    return rc;
}

static int registry_change(fs_exec *x, const fs_payload *p) {
    fs_data *d = calloc(1, sizeof *d);
    if (!d)
        return FEDSHARE_E_NOMEM;
    int rc = fs_data_load(x->st, p->id, d);
    if (!rc && memcmp(d->owner, x->sender, 32))
        rc = FEDSHARE_E_NOT_OWNER;
    if (!rc && d->status != FS_DATA_ACTIVE)
        rc = FEDSHARE_E_STATE;
    if (!rc) {
        if (p->op == FEDSHARE_OP_DATA_RETIRE)
            d->status = FS_DATA_RETIRED;
        else {
            memcpy(d->enc_hash, p->hash, 32);
            strcpy(d->description, p->text);
        }
        fs_writer w;
        fsw_init(&w);
        fs_data_encode(d, &w);
        rc = fs_put(x->st, FEDSHARE_REC_DATA, p->id, NULL, 0, &w);
    }
    if (!rc)
        rc = fs_index(x, FEDSHARE_TRACE_DATA, p->id);
    free(d);
    return rc;
}

/* ---- permission ---- */

static int cmp32(const void *a, const void *b) {
    return memcmp(a, b, 32);
}

/* A first policy must name exactly the consortium's members, so its quorum is theirs. */
static int members_match(const fedshare_consortium *c, const abac_cedar_policies *ps) {
    size_t n = fedshare_consortium_size(c);
    if (abac_cedar_policies_member_count(ps) != n)
        return 0;
    uint8_t *a = malloc(32 * n), *b = malloc(32 * n);
    int ok = a && b;
    for (size_t i = 0; ok && i < n; i++) {
        memcpy(a + 32 * i, fedshare_consortium_key(c, i), 32);
        memcpy(b + 32 * i, abac_cedar_policies_member(ps, i), 32);
    }
    if (ok) {
        qsort(a, n, 32, cmp32);
        qsort(b, n, 32, cmp32);
        ok = !memcmp(a, b, 32 * n);
    }
    free(a);
    free(b);
    return ok;
}

static int put_policy(fs_exec *x, const uint8_t id[32], const abac_cedar_policies *ps) {
    size_t n = abac_cedar_policies_encoded_size(ps), wrote;
    fs_writer w;
    fsw_init(&w);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return FEDSHARE_E_NOMEM;
    int rc = abac_cedar_policies_encode(ps, buf, n, &wrote);
    if (!rc) {
        fsw_raw(&w, buf, wrote);
        rc = fs_put(x->st, FEDSHARE_REC_POLICY, id, NULL, 0, &w);
    }
    free(buf);
    return rc;
}

static int permission_set(fs_exec *x, const fs_payload *p) {
    fs_data d;
    int rc = fs_data_load(x->st, p->id, &d);
    const uint8_t *v;
    size_t n;
    if (!rc && memcmp(d.owner, x->sender, 32))
        rc = FEDSHARE_E_NOT_OWNER;
    if (!rc && d.status != FS_DATA_ACTIVE)
        rc = FEDSHARE_E_STATE; /* a retired data set accepts no new policy */
    if (!rc && fs_get(x->st, FEDSHARE_REC_POLICY, p->id, NULL, 0, &v, &n) == FEDSHARE_OK)
        rc = FEDSHARE_E_EXISTS; /* later versions go through the quorum */
    abac_cedar_policies *ps = NULL;
    if (!rc)
        rc = abac_cedar_policies_decode(&ps, p->bytes, p->bytes_len);
    if (!rc && !members_match(x->c, ps))
        rc = FEDSHARE_E_QUORUM;
    if (!rc)
        rc = put_policy(x, p->id, ps);
    if (!rc)
        rc = fs_index(x, FEDSHARE_TRACE_DATA, p->id);
    abac_cedar_policies_free(ps);
    return rc;
}

static int load_policy(ledger_state *st, const uint8_t id[32], abac_cedar_policies **ps) {
    const uint8_t *v;
    size_t n;
    int rc = fs_get(st, FEDSHARE_REC_POLICY, id, NULL, 0, &v, &n);
    return rc ? rc : abac_cedar_policies_decode(ps, v, n);
}

static int permission_update(fs_exec *x, const fs_payload *p) {
    fs_data d;
    int rc = fs_data_load(x->st, p->id, &d);
    abac_cedar_policies *cur = NULL, *next = NULL;
    if (!rc && d.status != FS_DATA_ACTIVE)
        rc = FEDSHARE_E_STATE; /* a retired data set accepts no new policy */
    if (!rc)
        rc = load_policy(x->st, p->id, &cur);
    if (!rc) {
        rc = abac_cedar_update_apply(&next, cur, p->bytes, p->bytes_len);
        if (rc == ABAC_E_NO_QUORUM)
            rc = FEDSHARE_E_QUORUM;
    }
    /* once the chain records the membership, the quorum is the members' in force, a retired
     * member's signature is refused, and the next set names exactly those members */
    if (!rc)
        rc = fs_policy_signers_ok(x, p->bytes, p->bytes_len);
    if (!rc) {
        fs_mset *m = malloc(sizeof *m);
        if (!m)
            rc = FEDSHARE_E_NOMEM;
        else if (fs_mset_load(x->st, m) == FEDSHARE_OK && !members_match(x->c, next))
            rc = FEDSHARE_E_QUORUM;
        free(m);
    }
    if (!rc)
        rc = put_policy(x, p->id, next);
    if (!rc)
        rc = fs_index(x, FEDSHARE_TRACE_DATA, p->id);
    abac_cedar_policies_free(cur);
    abac_cedar_policies_free(next);
    return rc;
}

/* A growing text buffer for the Cedar JSON of one request (err latches NOMEM). */
typedef struct {
    char *s;
    size_t n, cap;
    int err;
} cj_buf;

static void cj_raw(cj_buf *b, const char *s, size_t n) {
    if (b->err)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (b->n + n + 1 > cap)
            cap *= 2;
        char *t = realloc(b->s, cap);
        if (!t) {
            b->err = FEDSHARE_E_NOMEM;
            return;
        }
        b->s = t;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

static void cj_lit(cj_buf *b, const char *s) {
    cj_raw(b, s, strlen(s));
}

/* A JSON string: quotes, backslashes and control bytes escaped, other bytes as they are. */
static void cj_str(cj_buf *b, const char *s, size_t n) {
    cj_raw(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            cj_raw(b, e, 2);
        } else if (c < 0x20) {
            static const char hx[] = "0123456789abcdef";
            char e[6] = {'\\', 'u', '0', '0', hx[c >> 4], hx[c & 15]};
            cj_raw(b, e, 6);
        } else {
            cj_raw(b, (const char *)&c, 1);
        }
    }
    cj_raw(b, "\"", 1);
}

static void cj_uid(cj_buf *b, const char *type, const char *id, size_t id_len) {
    cj_lit(b, "{\"type\":");
    cj_str(b, type, strlen(type));
    cj_lit(b, ",\"id\":");
    cj_str(b, id, id_len);
    cj_lit(b, "}");
}

static void cj_u64(cj_buf *b, uint64_t v) {
    char t[24];
    size_t i = sizeof t;
    do {
        t[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    cj_raw(b, t + i, sizeof t - i);
}

/* Milliseconds since 1970 as a Cedar datetime ("YYYY-MM-DDTHH:MM:SS.mmmZ"), computed (no
 * clock, no locale) with the days-to-civil algorithm of H. Hinnant's "chrono-Compatible
 * Low-Level Date Algorithms"; times past 9999-12-31T23:59:59.999Z are clamped to it, the
 * last instant Cedar's datetime writes. */
static void cj_datetime(cj_buf *b, uint64_t ms) {
    const uint64_t max = 253402300799999ull;
    if (ms > max)
        ms = max;
    uint64_t days = ms / 86400000u, rem = ms % 86400000u;
    int64_t z = (int64_t)days + 719468, era = z / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    if (m <= 2)
        y++;
    unsigned f[7] = {(unsigned)y,
                     (unsigned)m,
                     (unsigned)d,
                     (unsigned)(rem / 3600000u),
                     (unsigned)(rem / 60000u % 60),
                     (unsigned)(rem / 1000u % 60),
                     (unsigned)(rem % 1000u)};
    static const int width[7] = {4, 2, 2, 2, 2, 2, 3};
    static const char sep[7] = {'-', '-', 'T', ':', ':', '.', 'Z'};
    char t[32];
    size_t k = 0;
    for (int i = 0; i < 7; i++) {
        for (int j = width[i] - 1; j >= 0; j--) {
            unsigned v = f[i];
            for (int q = 0; q < j; q++)
                v /= 10;
            t[k++] = (char)('0' + v % 10);
        }
        t[k++] = sep[i];
    }
    cj_lit(b, "{\"__extn\":{\"fn\":\"datetime\",\"arg\":");
    cj_str(b, t, k);
    cj_lit(b, "}}");
}

/* The Cedar request of an access request (docs/fedshare-contracts.md), as Cedar's JSON:
 * principal Member::"<did>" (attributes did, org, roles, credentials; parent its
 * Organisation::"<org>"), action Action::"<label>", resource Dataset::"<data id in hex>"
 * (owner, type, uses), context from the block: now (the block's timestamp), purpose,
 * period_start, period_end (datetimes) and expected_uses. */
static int fill_request(fs_exec *x, const fs_payload *p, const fs_data *d, cj_buf *ents,
                        cj_buf *req) {
    const fedshare_consortium *c = x->c;
    int mi = fedshare_consortium_find(c, x->sender);
    if (mi < 0)
        return FEDSHARE_E_NOT_MEMBER;
    char did[FEDSHARE_DID_BUF], owner[FEDSHARE_DID_BUF], hex[65];
    fedshare_did_from_pubkey(x->sender, did, sizeof did);
    fedshare_did_from_pubkey(d->owner, owner, sizeof owner);
    for (int i = 0; i < 32; i++) {
        static const char hx[] = "0123456789abcdef";
        hex[2 * i] = hx[p->id[i] >> 4];
        hex[2 * i + 1] = hx[p->id[i] & 15];
    }
    hex[64] = 0;
    static const char *const rn[] = {"provider", "aggregator", "keyholder", "publisher",
                                     "regulator"};
    uint32_t bits = fedshare_consortium_roles(c, (size_t)mi);
    const char *org = fedshare_consortium_org(c, (size_t)mi);

    cj_lit(ents, "[{\"uid\":");
    cj_uid(ents, "Member", did, strlen(did));
    cj_lit(ents, ",\"attrs\":{\"did\":");
    cj_str(ents, did, strlen(did));
    cj_lit(ents, ",\"org\":");
    cj_str(ents, org, strlen(org));
    cj_lit(ents, ",\"roles\":[");
    for (int i = 0, k = 0; i < 5; i++)
        if (bits & (1u << i)) {
            cj_lit(ents, k++ ? "," : "");
            cj_str(ents, rn[i], strlen(rn[i]));
        }
    cj_lit(ents, "],\"credentials\":[");
    size_t nc = fedshare_consortium_credential_count(c, (size_t)mi);
    for (size_t i = 0; i < nc; i++) {
        const char *cr = fedshare_consortium_credential(c, (size_t)mi, i);
        cj_lit(ents, i ? "," : "");
        cj_str(ents, cr, strlen(cr));
    }
    cj_lit(ents, "]},\"parents\":[");
    if (org[0])
        cj_uid(ents, "Organisation", org, strlen(org));
    cj_lit(ents, "]},");
    if (org[0]) {
        cj_lit(ents, "{\"uid\":");
        cj_uid(ents, "Organisation", org, strlen(org));
        cj_lit(ents, ",\"attrs\":{},\"parents\":[]},");
    }
    cj_lit(ents, "{\"uid\":");
    cj_uid(ents, "Dataset", hex, 64);
    cj_lit(ents, ",\"attrs\":{\"owner\":");
    cj_str(ents, owner, strlen(owner));
    cj_lit(ents, ",\"type\":");
    cj_str(ents, d->label, strlen(d->label));
    cj_lit(ents, ",\"uses\":");
    cj_u64(ents, d->uses);
    cj_lit(ents, "},\"parents\":[]}]");

    cj_lit(req, "{\"principal\":");
    cj_uid(req, "Member", did, strlen(did));
    cj_lit(req, ",\"action\":");
    cj_uid(req, "Action", p->label, strlen(p->label));
    cj_lit(req, ",\"resource\":");
    cj_uid(req, "Dataset", hex, 64);
    cj_lit(req, ",\"context\":{\"now\":");
    cj_datetime(req, x->timestamp);
    cj_lit(req, ",\"purpose\":");
    cj_str(req, p->text, strlen(p->text));
    cj_lit(req, ",\"period_start\":");
    cj_datetime(req, p->t0 > UINT64_MAX / 1000 ? UINT64_MAX : p->t0 * 1000);
    cj_lit(req, ",\"period_end\":");
    cj_datetime(req, p->t1 > UINT64_MAX / 1000 ? UINT64_MAX : p->t1 * 1000);
    cj_lit(req, ",\"expected_uses\":");
    cj_u64(req, p->uses);
    cj_lit(req, "}}");
    return ents->err ? ents->err : req->err;
}

/* A reason's name: its @id annotation, else Cedar's id ("policy<i>"). */
static const char *reason_name(const abac_cedar_policies *ps, size_t i, size_t *len) {
    const char *a = abac_cedar_policy_annotation(ps, i, "id", 2, len);
    if (a)
        return a;
    a = abac_cedar_policy_id(ps, i);
    *len = a ? strlen(a) : 0;
    return a ? a : "";
}

/* The obligations of a permit: the values of the @obligation annotations of the satisfied
 * permits, each value a comma-separated list of names (spaces around names dropped), in
 * reason order. Writes each to @p w (NULL: only counts) and returns how many. */
static uint32_t obligations(const abac_cedar_policies *ps, const abac_cedar_response *resp,
                            fs_writer *w) {
    uint32_t count = 0;
    size_t nr = resp ? abac_cedar_response_reason_count(resp) : 0;
    for (size_t r = 0; r < nr; r++) {
        size_t n, pi = abac_cedar_response_reason(resp, r);
        if (abac_cedar_policy_effect(ps, pi) != ABAC_PERMIT)
            continue;
        const char *v = abac_cedar_policy_annotation(ps, pi, "obligation", 10, &n);
        for (size_t s = 0; v && s < n;) {
            size_t e = s;
            while (e < n && v[e] != ',')
                e++;
            size_t a = s, z = e;
            while (a < z && v[a] == ' ')
                a++;
            while (z > a && v[z - 1] == ' ')
                z--;
            if (z > a) {
                if (w)
                    fsw_bytes(w, v + a, z - a);
                count++;
            }
            s = e + 1;
        }
    }
    return count;
}

/* GRANT and DECISION records share one shape (docs/formats/fedshare.md). */
static void put_decision(fs_writer *w, int permit, const fs_exec *x, const fs_payload *p,
                         int32_t reason, const abac_cedar_policies *ps,
                         const abac_cedar_response *resp) {
    fsw_u8(w, FS_RECORD_VERSION);
    fsw_u8(w, (uint8_t)(permit ? 1 : 0));
    fsw_raw(w, p->id, 32);
    fsw_raw(w, x->sender, 32);
    fsw_u64(w, p->t0);
    fsw_u64(w, p->t1);
    fsw_u64(w, x->height);
    fsw_u32(w, p->uses);
    fsw_bytes(w, p->label, strlen(p->label));
    fsw_bytes(w, p->text, strlen(p->text));
    fsw_u32(w, (uint32_t)reason);
    size_t nr = resp ? abac_cedar_response_reason_count(resp) : 0;
    fsw_u32(w, (uint32_t)nr);
    for (size_t i = 0; i < nr; i++) {
        size_t n;
        const char *id = reason_name(ps, abac_cedar_response_reason(resp, i), &n);
        fsw_bytes(w, id, n);
    }
    fsw_u32(w, permit ? obligations(ps, resp, NULL) : 0);
    if (permit)
        obligations(ps, resp, w);
}

static int permission_request(fs_exec *x, const fs_payload *p) {
    fs_data d;
    int rc = fs_data_load(x->st, p->id, &d);
    if (rc)
        return rc;
    abac_cedar_policies *ps = NULL;
    abac_cedar_entities *es = NULL;
    abac_cedar_request *req = NULL;
    abac_cedar_response *resp = NULL;
    cj_buf ej = {0}, rj = {0};
    int32_t verdict; /* the outcome of the act: OK (granted) or why not */
    if (d.status != FS_DATA_ACTIVE)
        verdict = FEDSHARE_E_STATE;
    else if ((rc = load_policy(x->st, p->id, &ps)) == FEDSHARE_E_NOT_FOUND)
        verdict = FEDSHARE_E_DENIED; /* no policy: default deny */
    else if (rc)
        return rc;
    else {
        rc = fill_request(x, p, &d, &ej, &rj);
        rc = rc ? rc : abac_cedar_entities_parse_json(&es, ej.s, ej.n, NULL, 0);
        rc = rc ? rc : abac_cedar_request_parse_json(&req, rj.s, rj.n, NULL, 0);
        rc = rc ? rc : abac_cedar_response_new(&resp, ps, 0);
        int eff = rc ? rc : abac_cedar_is_authorized(ps, es, req, resp);
        if (eff < 0) {
            rc = eff;
            goto done;
        }
        verdict = eff == ABAC_PERMIT ? FEDSHARE_OK : FEDSHARE_E_DENIED;
    }
    fs_writer w;
    fsw_init(&w);
    put_decision(&w, verdict == FEDSHARE_OK, x, p, verdict, ps, resp);
    rc = fs_put(x->st, FEDSHARE_REC_DECISION, x->tx_hash, NULL, 0, &w);
    if (!rc && verdict == FEDSHARE_OK) {
        fsw_init(&w);
        put_decision(&w, 1, x, p, verdict, ps, resp);
        rc = fs_put(x->st, FEDSHARE_REC_GRANT, p->id, x->sender, 0, &w);
    }
    if (!rc)
        rc = fs_index(x, FEDSHARE_TRACE_DATA, p->id);
    if (!rc)
        rc = verdict;
done:
    free(ej.s);
    free(rj.s);
    abac_cedar_response_free(resp);
    abac_cedar_request_free(req);
    abac_cedar_entities_free(es);
    abac_cedar_policies_free(ps);
    return rc;
}

/* ---- keys ---- */

static int key_record(fs_exec *x, const fs_payload *p) {
    phe_threshold_params *params = NULL;
    int rc = phe_threshold_params_decode(&params, p->bytes, p->bytes_len);
    if (rc)
        return rc;
    uint8_t key_id[32];
    const uint8_t *v;
    size_t n;
    rc = phe_threshold_params_key_id(params, key_id);
    if (!rc && phe_threshold_params_holders(params) != p->n)
        rc = FEDSHARE_E_INVALID;
    for (size_t i = 0; !rc && i < p->n; i++) {
        rc = fs_require_role(x->c, p->list + 32 * i, FEDSHARE_ROLE_KEYHOLDER);
        for (size_t j = 0; !rc && j < i; j++)
            if (!memcmp(p->list + 32 * i, p->list + 32 * j, 32))
                rc = FEDSHARE_E_INVALID;
    }
    /* a dealerless key: every holder attests it with its registered key */
    for (size_t i = 0; !rc && p->method == FEDSHARE_KEY_DEALERLESS && i < p->n; i++)
        rc = fedshare_key_attestation_verify(p->list + 32 * i, p->bytes, p->bytes_len, p->hash,
                                             p->hash2, p->list2 + 32 * i, p->sigs + 64 * i);
    if (!rc && fs_get(x->st, FEDSHARE_REC_KEY, key_id, NULL, 0, &v, &n) == FEDSHARE_OK)
        rc = FEDSHARE_E_EXISTS;
    if (!rc) {
        fs_writer w;
        fsw_init(&w);
        /* a version-1 payload keeps its version-1 record: old chains replay alike */
        fsw_u8(&w, p->version >= 2 ? FS_KEY_VERSION : FS_RECORD_VERSION);
        fsw_raw(&w, x->sender, 32);
        fsw_u32(&w, phe_threshold_params_threshold(params));
        fsw_u32(&w, (uint32_t)p->n);
        for (size_t i = 0; i < p->n; i++) {
            fsw_raw(&w, p->list + 32 * i, 32);
            fsw_raw(&w, p->list2 + 32 * i, 32);
        }
        fsw_bytes(&w, p->bytes, p->bytes_len);
        if (p->version >= 2) {
            fsw_u8(&w, p->method);
            if (p->method == FEDSHARE_KEY_DEALERLESS) {
                fsw_raw(&w, p->hash, 32);
                fsw_raw(&w, p->hash2, 32);
                fsw_raw(&w, p->sigs, 64 * p->n);
            }
        }
        rc = fs_put(x->st, FEDSHARE_REC_KEY, key_id, NULL, 0, &w);
    }
    phe_threshold_params_free(params);
    return rc;
}

int fs_key_decode(const uint8_t *v, size_t n, fs_key *k, const uint8_t **params,
                  size_t *params_len) {
    /* v ‖ submitter ‖ t ‖ n ‖ n × (holder, share) ‖ params, and from version 2:
     * method ‖ (dealerless) session ‖ commitment ‖ n × attestation
     * (docs/formats/fedshare.md) */
    fs_reader r;
    fsr_init(&r, v, n);
    memset(k, 0, sizeof *k);
    uint8_t ver = fsr_u8(&r);
    if (ver != FS_RECORD_VERSION && ver != FS_KEY_VERSION)
        return FEDSHARE_E_FORMAT;
    fsr_raw(&r, k->dealer, 32);
    k->threshold = fsr_u32(&r);
    k->n = fsr_u32(&r);
    if (r.err || k->n > FS_HOLDERS_MAX)
        return FEDSHARE_E_FORMAT;
    for (uint32_t i = 0; i < k->n; i++) {
        fsr_raw(&r, k->holders[i], 32);
        fsr_raw(&r, k->shares[i], 32);
    }
    size_t pl = 0;
    const uint8_t *pb = fsr_bytes(&r, FS_PARAMS_MAX, &pl);
    k->method = FEDSHARE_KEY_DEALT;
    if (ver >= 2) {
        k->method = fsr_u8(&r);
        if (k->method == FEDSHARE_KEY_DEALERLESS) {
            fsr_raw(&r, k->session, 32);
            fsr_raw(&r, k->commitment, 32);
            for (uint32_t i = 0; i < k->n; i++)
                fsr_raw(&r, k->attestations[i], 64);
        } else if (k->method != FEDSHARE_KEY_DEALT)
            return FEDSHARE_E_FORMAT;
    }
    if (r.err || fsr_done(&r))
        return FEDSHARE_E_FORMAT;
    if (params) {
        *params = pb;
        *params_len = pl;
    }
    return FEDSHARE_OK;
}

int fs_key_load(ledger_state *st, const uint8_t key_id[32], fs_key *k) {
    const uint8_t *v;
    size_t n;
    int rc = fs_get(st, FEDSHARE_REC_KEY, key_id, NULL, 0, &v, &n);
    return rc ? rc : fs_key_decode(v, n, k, NULL, NULL);
}

static int model_publish(fs_exec *x, const fs_payload *p) {
    uint8_t id[32];
    const uint8_t *v;
    size_t n;
    int rc = fedshare_model_id(p->hash, p->hash2, id);
    if (!rc && fs_get(x->st, FEDSHARE_REC_MODEL, id, NULL, 0, &v, &n) == FEDSHARE_OK)
        rc = FEDSHARE_E_EXISTS;
    if (!rc) {
        fs_writer w;
        fsw_init(&w);
        fsw_u8(&w, FS_RECORD_VERSION);
        fsw_raw(&w, x->sender, 32);
        fsw_raw(&w, p->hash, 32);
        fsw_raw(&w, p->hash2, 32);
        fsw_u64(&w, p->count);
        fsw_u64(&w, x->height);
        fsw_bytes(&w, p->text, strlen(p->text));
        rc = fs_put(x->st, FEDSHARE_REC_MODEL, id, NULL, 0, &w);
    }
    return rc;
}

/* ---- the callback table ---- */

int fs_index(fs_exec *x, uint16_t trace, const uint8_t key[32]) {
    return ledger_state_index(x->st, trace, key, 32);
}

static int app_check(void *ctx, ledger_state *st, const ledger_tx *tx) {
    fedshare_app *a = ctx;
    size_t len;
    const uint8_t *payload = ledger_tx_payload(tx, &len);
    /* The latest membership the chain records (check runs before ordering and does not
     * know the height the act will get; apply decides with the members in force there). */
    uint64_t h = ledger_state_height(st) ? ledger_state_height(st) + 1 : UINT64_MAX;
    const fedshare_consortium *c;
    fedshare_consortium *owned;
    int rc = fs_members_at(a, st, h, &c, &owned);
    if (rc)
        return LEDGER_E_REJECTED;
    rc = fedshare_precheck(c, ledger_tx_op(tx), ledger_tx_sender(tx), payload, len);
    fedshare_consortium_free(owned);
    /* a retired member's act is ordered so that its refusal is recorded (apply) */
    if (rc == FEDSHARE_E_NOT_MEMBER && ledger_tx_op(tx) < LEDGER_OP_RESERVED_MIN &&
        fs_member_retired(st, h, ledger_tx_sender(tx)) == FEDSHARE_E_RETIRED)
        rc = FEDSHARE_OK;
    return rc ? LEDGER_E_REJECTED : LEDGER_OK;
}

/* Record the outcome of a transaction (every applied fedshare act has one). */
static int put_outcome(ledger_state *st, const uint8_t tx_hash[32], int32_t code) {
    fs_writer w;
    fsw_init(&w);
    fsw_u32(&w, (uint32_t)code);
    return fs_put(st, FEDSHARE_REC_OUTCOME, tx_hash, NULL, 0, &w);
}

/* Errors that mean the replica itself failed (the block must not commit),
 * as opposed to a refusal of the act. */
static int is_fatal(int rc) {
    return rc == LEDGER_E_IO || rc == LEDGER_E_FULL || rc == LEDGER_E_NOMEM ||
           rc == FEDSHARE_E_NOMEM || rc == PHE_ERR_NOMEM || rc == ABAC_E_NOMEM;
}

static int app_apply(void *ctx, ledger_state *st, const ledger_block *b, size_t index,
                     const ledger_tx *tx) {
    (void)index;
    fedshare_app *a = ctx;
    size_t len;
    const uint8_t *payload = ledger_tx_payload(tx, &len);
    uint16_t op = ledger_tx_op(tx);
    uint64_t height = ledger_block_height(b);
    const fedshare_consortium *c;
    fedshare_consortium *owned;
    int rc = fs_members_at(a, st, height, &c, &owned);
    if (rc)
        return is_fatal(rc) ? LEDGER_E_NOMEM : LEDGER_E_REJECTED;
    rc = fedshare_precheck(c, op, ledger_tx_sender(tx), payload, len);
    if (rc == FEDSHARE_E_NOT_MEMBER &&
        fs_member_retired(st, height, ledger_tx_sender(tx)) == FEDSHARE_E_RETIRED) {
        /* a retired member's act: refused from the change on, and the refusal recorded */
        fedshare_consortium_free(owned);
        int orc = put_outcome(st, ledger_tx_hash(tx), FEDSHARE_E_RETIRED);
        return orc ? orc : ledger_state_index(st, FEDSHARE_TRACE_MEMBER, ledger_tx_sender(tx), 32);
    }
    /* A primary may order what check() would refuse: reject it here, writing nothing. */
    if (rc) {
        fedshare_consortium_free(owned);
        return LEDGER_E_REJECTED;
    }
    const uint8_t *v;
    size_t vn;
    static const uint8_t ckey[] = "fs/consortium";
    if (ledger_state_get(st, ckey, sizeof ckey - 1, &v, &vn) == LEDGER_E_NOT_FOUND) {
        int prc = ledger_state_put(st, ckey, sizeof ckey - 1, a->chash, 32);
        if (prc) {
            fedshare_consortium_free(owned);
            return prc;
        }
    }
    fs_payload p;
    rc = fs_payload_decode(op, payload, len, &p);
    if (rc) {
        fedshare_consortium_free(owned);
        return LEDGER_E_REJECTED;
    }
    fs_exec x;
    memset(&x, 0, sizeof x);
    x.app = a;
    x.c = c;
    x.st = st;
    x.sender = ledger_tx_sender(tx);
    x.tx_hash = ledger_tx_hash(tx);
    x.tx_sig = ledger_tx_signature(tx);
    x.timestamp = ledger_block_timestamp(b);
    x.height = ledger_block_height(b);
    switch (op) {
        case FEDSHARE_OP_DATA_REGISTER:
            rc = registry_register(&x, &p);
            break;
        case FEDSHARE_OP_DATA_UPDATE:
        case FEDSHARE_OP_DATA_RETIRE:
            rc = registry_change(&x, &p);
            break;
        case FEDSHARE_OP_POLICY_SET:
            rc = permission_set(&x, &p);
            break;
        case FEDSHARE_OP_POLICY_UPDATE:
            rc = permission_update(&x, &p);
            break;
        case FEDSHARE_OP_ACCESS_REQUEST:
            rc = permission_request(&x, &p);
            break;
        case FEDSHARE_OP_KEY_RECORD:
            rc = key_record(&x, &p);
            break;
        case FEDSHARE_OP_MODEL_PUBLISH:
            rc = model_publish(&x, &p);
            break;
        case FEDSHARE_OP_MEMBER_PROPOSE:
        case FEDSHARE_OP_MEMBER_APPROVE:
            rc = fs_member_apply(&x, &p);
            break;
        default:
            rc = fs_training_apply(&x, &p);
            break;
    }
    fs_payload_free(&p);
    fedshare_consortium_free(owned);
    if (is_fatal(rc))
        return rc == FEDSHARE_E_NOMEM || rc == PHE_ERR_NOMEM || rc == ABAC_E_NOMEM ? LEDGER_E_NOMEM
                                                                                   : rc;
    /* The ledger only knows its own codes; anything else from state calls is fatal too. */
    if (rc <= -200 && rc > -300)
        return rc;
    int orc = put_outcome(st, x.tx_hash, rc);
    if (!orc)
        orc = fs_index(&x, FEDSHARE_TRACE_MEMBER, x.sender);
    return orc;
}

static int app_query(void *ctx, ledger_state *st, const uint8_t *q, size_t qlen, uint8_t **out,
                     size_t *out_len) {
    (void)ctx;
    /* Queries are state keys: answer with the stored record (clients use ledger_client_get
     * for the same; this form lets one query name a record by kind and id). */
    const uint8_t *v;
    size_t n;
    *out = NULL;
    *out_len = 0;
    if (!q || !qlen || qlen > LEDGER_STATE_KEY_MAX)
        return LEDGER_E_INVALID;
    int rc = ledger_state_get(st, q, qlen, &v, &n);
    if (rc)
        return rc;
    if (n) {
        *out = malloc(n);
        if (!*out)
            return LEDGER_E_NOMEM;
        memcpy(*out, v, n);
        *out_len = n;
    }
    return LEDGER_OK;
}

/* Governors of the upgrade channel and of replica changes: the consortium's members in
 * force at the state's height (the configuration's until the chain records a change). */
static int app_governor(void *ctx, ledger_state *st, const uint8_t key[32], size_t *count) {
    fedshare_app *a = ctx;
    const fedshare_consortium *c;
    fedshare_consortium *owned;
    /* height 0: a check before ordering, which sees the latest membership */
    uint64_t h = ledger_state_height(st) ? ledger_state_height(st) : UINT64_MAX;
    int rc = fs_members_at(a, st, h, &c, &owned);
    if (rc)
        return rc == FEDSHARE_E_NOMEM ? LEDGER_E_NOMEM : LEDGER_E_INVALID;
    *count = fedshare_consortium_size(c);
    int is = fedshare_consortium_find(c, key) >= 0;
    fedshare_consortium_free(owned);
    return is;
}

int fedshare_app_new(fedshare_app **out, const fedshare_consortium *c) {
    if (!out || !c)
        return FEDSHARE_E_INVALID;
    *out = NULL;
    if (sodium_init() < 0)
        return FEDSHARE_E_CRYPTO;
    fedshare_app *a = calloc(1, sizeof *a);
    if (!a)
        return FEDSHARE_E_NOMEM;
    a->c = fs_consortium_copy(c);
    if (!a->c) {
        free(a);
        return FEDSHARE_E_NOMEM;
    }
    pthread_mutex_init(&a->mu, NULL);
    fedshare_consortium_hash(a->c, a->chash);
    ledger_app_init(&a->table);
    a->table.ctx = a;
    a->table.check = app_check;
    a->table.apply = app_apply;
    a->table.query = app_query;
    a->table.app_version_max = FEDSHARE_CONTRACT_VERSION_MAX;
    a->table.governor = app_governor;
    *out = a;
    return FEDSHARE_OK;
}

void fedshare_app_free(fedshare_app *a) {
    if (!a)
        return;
    fedshare_consortium_free(a->c);
    fedshare_consortium_free(a->latest);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

const ledger_app *fedshare_app_table(const fedshare_app *a) {
    return a ? &a->table : NULL;
}
