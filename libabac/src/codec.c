/* Canonical binary form of a policy set and of a signed update (docs/formats/abac.md), and
 * the quorum rule for updates. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

static const uint8_t PS_MAGIC[4] = {'A', 'B', 'P', 'S'};
static const uint8_t UP_MAGIC[4] = {'A', 'B', 'U', 'P'};
#define FORMAT_V 1
static const char UPDATE_DOMAIN[] = "fedshare/abac/update/v1";

/* ---- writer ------------------------------------------------------------------------------ */

typedef struct wr {
    uint8_t *o;
    size_t cap, n;
} wr;

static void w_bytes(wr *w, const void *p, size_t n) {
    if (w->o && w->n + n <= w->cap && n)
        memcpy(w->o + w->n, p, n);
    w->n += n;
}
static void w_u8(wr *w, uint8_t v) {
    w_bytes(w, &v, 1);
}
static void w_u32(wr *w, uint32_t v) {
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    w_bytes(w, b, 4);
}
static void w_u64(wr *w, uint64_t v) {
    w_u32(w, (uint32_t)(v >> 32));
    w_u32(w, (uint32_t)v);
}
static void w_str(wr *w, const abac_policyset *ps, uint32_t id) {
    w_u32(w, ps_strlen(ps, id));
    w_bytes(w, ps_str(ps, id), ps_strlen(ps, id));
}

static void w_expr(wr *w, const abac_policyset *ps, uint32_t n) {
    const node *x = &ps->nodes[n];
    w_u8(w, x->op);
    switch (x->op) {
        case N_INT:
        case N_TIME:
            w_u64(w, (uint64_t)x->i);
            break;
        case N_STR:
            w_str(w, ps, (uint32_t)x->i);
            break;
        case N_SET:
            w_u8(w, x->type);
            w_u32(w, x->b);
            for (uint32_t k = 0; k < x->b; k++) {
                if (x->type == T_SSET)
                    w_str(w, ps, (uint32_t)ps->setpool[x->a + k]);
                else
                    w_u64(w, (uint64_t)ps->setpool[x->a + k]);
            }
            break;
        case N_ATTR:
        case N_HAS:
            w_u8(w, x->scope);
            w_str(w, ps, (uint32_t)x->i);
            break;
        case N_NOT:
            w_expr(w, ps, x->a);
            break;
        default:
            if (x->op >= N_EQ && x->op <= N_OR) {
                w_expr(w, ps, x->a);
                w_expr(w, ps, x->b);
            }
    }
}

static size_t encode(const abac_policyset *ps, uint8_t *out, size_t cap) {
    wr w = {out, cap, 0};
    w_bytes(&w, PS_MAGIC, 4);
    w_u8(&w, FORMAT_V);
    w_u64(&w, ps->version);
    w_u32(&w, ps->n_members);
    w_bytes(&w, ps->members, (size_t)ps->n_members * ABAC_PUBKEY_BYTES);
    w_u8(&w, (uint8_t)ps->has_schema);
    w_u32(&w, ps->n_schema);
    for (uint32_t k = 0; k < ps->n_schema; k++) {
        w_u8(&w, ps->schema[k].scope);
        w_u8(&w, ps->schema[k].type);
        w_str(&w, ps, ps->schema[k].name);
    }
    w_u32(&w, ps->n_rules);
    for (uint32_t r = 0; r < ps->n_rules; r++) {
        const rule *ru = &ps->rules[r];
        w_u8(&w, ru->effect);
        w_str(&w, ps, ru->id);
        w_u32(&w, ru->n_act);
        for (uint32_t k = 0; k < ru->n_act; k++)
            w_str(&w, ps, ps->u32pool[ru->act_off + k]);
        w_u8(&w, ru->res_type != NONE32);
        if (ru->res_type != NONE32)
            w_str(&w, ps, ru->res_type);
        w_u32(&w, ru->n_obl);
        for (uint32_t k = 0; k < ru->n_obl; k++)
            w_str(&w, ps, ps->u32pool[ru->obl_off + k]);
        w_u8(&w, ru->cond != NONE32);
        if (ru->cond != NONE32)
            w_expr(&w, ps, ru->cond);
    }
    return w.n;
}

size_t abac_policyset_encoded_size(const abac_policyset *ps) {
    return ps ? encode(ps, NULL, 0) : 0;
}

int abac_policyset_encode(const abac_policyset *ps, uint8_t *out, size_t cap, size_t *out_len) {
    if (!ps || (!out && cap))
        return ABAC_E_INVALID;
    size_t n = encode(ps, NULL, 0);
    if (out_len)
        *out_len = n;
    if (n > cap || !out)
        return ABAC_E_BUFFER_TOO_SMALL;
    encode(ps, out, cap);
    return ABAC_OK;
}

static int hash_ps(const abac_policyset *ps, uint8_t out[32]) {
    size_t n = encode(ps, NULL, 0);
    uint8_t *b = malloc(n);
    if (!b)
        return ABAC_E_NOMEM;
    encode(ps, b, n);
    crypto_hash_sha256(out, b, n);
    free(b);
    return 0;
}

int abac_policyset_hash(const abac_policyset *ps, uint8_t out[ABAC_HASH_BYTES]) {
    if (!ps || !out)
        return ABAC_E_INVALID;
    return hash_ps(ps, out);
}

/* ---- reader ------------------------------------------------------------------------------ */

typedef struct rd {
    const uint8_t *p;
    size_t n, pos;
    int err;
} rd;

static const uint8_t *r_take(rd *r, size_t n) {
    if (r->err || n > r->n - r->pos) {
        r->err = 1;
        return NULL;
    }
    const uint8_t *q = r->p + r->pos;
    r->pos += n;
    return q;
}
static uint8_t r_u8(rd *r) {
    const uint8_t *q = r_take(r, 1);
    return q ? q[0] : 0;
}
static uint32_t r_u32(rd *r) {
    const uint8_t *q = r_take(r, 4);
    return q ? ((uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3]) : 0;
}
static uint64_t r_u64(rd *r) {
    uint64_t hi = r_u32(r);
    return hi << 32 | r_u32(r);
}
static int r_str(rd *r, abac_policyset *ps, uint32_t *id) {
    uint32_t len = r_u32(r);
    if (len > MAX_STRLEN) {
        r->err = 1;
        return ABAC_E_FORMAT;
    }
    const uint8_t *q = r_take(r, len);
    if (!q)
        return ABAC_E_FORMAT;
    return ps_intern(ps, (const char *)q, len, id) ? ABAC_E_NOMEM : 0;
}

static int r_expr(rd *r, abac_policyset *ps, int depth, uint32_t *out) {
    if (depth > (int)MAX_DEPTH * 3 || ps->n_nodes >= MAX_NODES)
        return ABAC_E_LIMIT;
    node x;
    memset(&x, 0, sizeof x);
    x.slot = NONE32;
    x.op = r_u8(r);
    if (r->err)
        return ABAC_E_FORMAT;
    int rc = 0;
    uint32_t id;
    switch (x.op) {
        case N_TRUE:
        case N_FALSE:
        case N_SUBJECT:
        case N_RESOURCE:
        case N_ACTION:
            break;
        case N_INT:
        case N_TIME:
            x.i = (int64_t)r_u64(r);
            break;
        case N_STR:
            rc = r_str(r, ps, &id);
            x.i = id;
            break;
        case N_SET: {
            x.type = r_u8(r);
            x.b = r_u32(r);
            if (r->err || (x.type != T_SSET && x.type != T_ISET) || x.b == 0 || x.b > MAX_SET_ELEMS)
                return ABAC_E_FORMAT;
            x.a = ps->n_setpool;
            for (uint32_t k = 0; k < x.b && !rc; k++) {
                int64_t v = 0;
                if (x.type == T_SSET) {
                    rc = r_str(r, ps, &id);
                    v = id;
                } else {
                    v = (int64_t)r_u64(r);
                }
                if (!rc && ps_push_set(ps, v))
                    rc = ABAC_E_NOMEM;
            }
            /* canonical order is checked by re-encoding; here only reject what would make
             * the evaluator wrong: duplicates and order are both caught by the re-encode */
            break;
        }
        case N_ATTR:
        case N_HAS:
            x.scope = r_u8(r);
            if (x.scope > ABAC_CONTEXT)
                return ABAC_E_FORMAT;
            rc = r_str(r, ps, &id);
            x.i = id;
            break;
        case N_NOT:
            rc = r_expr(r, ps, depth + 1, &x.a);
            break;
        default:
            if (x.op < N_EQ || x.op > N_OR)
                return ABAC_E_FORMAT;
            rc = r_expr(r, ps, depth + 1, &x.a);
            if (!rc)
                rc = r_expr(r, ps, depth + 1, &x.b);
    }
    if (r->err)
        return ABAC_E_FORMAT;
    if (rc)
        return rc;
    return ps_push_node(ps, &x, out) ? ABAC_E_NOMEM : 0;
}

static int str_cmp(const abac_policyset *ps, uint32_t x, uint32_t y) {
    uint32_t lx = ps_strlen(ps, x), ly = ps_strlen(ps, y);
    int c = memcmp(ps_str(ps, x), ps_str(ps, y), lx < ly ? lx : ly);
    return c ? c : (lx < ly ? -1 : lx > ly);
}

static int decode_body(rd *r, abac_policyset *ps) {
    const uint8_t *m = r_take(r, 4);
    if (!m)
        return ABAC_E_FORMAT;
    if (memcmp(m, PS_MAGIC, 4) || r_u8(r) != FORMAT_V)
        return r->err ? ABAC_E_FORMAT : ABAC_E_FORMAT_VERSION;
    ps->version = r_u64(r);
    uint32_t nm = r_u32(r);
    if (r->err || nm > MAX_MEMBERS)
        return ABAC_E_FORMAT;
    const uint8_t *keys = r_take(r, (size_t)nm * ABAC_PUBKEY_BYTES);
    if (!keys)
        return ABAC_E_FORMAT;
    for (uint32_t k = 1; k < nm; k++)
        if (memcmp(keys + (k - 1) * 32, keys + k * 32, 32) >= 0)
            return ABAC_E_FORMAT;
    int rc = ps_set_members(ps, keys, nm);
    if (rc)
        return rc == ABAC_E_INVALID ? ABAC_E_FORMAT : rc;
    uint8_t hs = r_u8(r);
    uint32_t ns = r_u32(r);
    if (r->err || hs > 1 || ns > MAX_ATTRS || (!hs && ns))
        return ABAC_E_FORMAT;
    ps->has_schema = hs;
    for (uint32_t k = 0; k < ns; k++) {
        uint8_t sc = r_u8(r), ty = r_u8(r);
        uint32_t id;
        if (r->err || sc > ABAC_CONTEXT || ty < T_BOOL || ty > T_ISET)
            return ABAC_E_FORMAT;
        if ((rc = r_str(r, ps, &id)))
            return rc;
        if (k && (ps->schema[k - 1].scope > sc ||
                  (ps->schema[k - 1].scope == sc && str_cmp(ps, ps->schema[k - 1].name, id) >= 0)))
            return ABAC_E_FORMAT;
        if (ps_push_schema(ps, sc, ty, id))
            return ABAC_E_NOMEM;
    }
    uint32_t nr = r_u32(r);
    if (r->err || nr > MAX_RULES)
        return ABAC_E_FORMAT;
    for (uint32_t k = 0; k < nr; k++) {
        rule ru;
        memset(&ru, 0, sizeof ru);
        ru.cond = NONE32;
        ru.res_type = NONE32;
        ru.effect = r_u8(r);
        if (r->err || ru.effect > 1)
            return ABAC_E_FORMAT;
        if ((rc = r_str(r, ps, &ru.id)))
            return rc;
        for (uint32_t j = 0; j < ps->n_rules; j++)
            if (ps->rules[j].id == ru.id)
                return ABAC_E_DUPLICATE_RULE;
        ru.n_act = r_u32(r);
        if (r->err || ru.n_act > MAX_ACTIONS)
            return ABAC_E_FORMAT;
        ru.act_off = ps->n_u32;
        for (uint32_t j = 0; j < ru.n_act; j++) {
            uint32_t id;
            if ((rc = r_str(r, ps, &id)))
                return rc;
            if (j && str_cmp(ps, ps->u32pool[ps->n_u32 - 1], id) >= 0)
                return ABAC_E_FORMAT;
            if (ps_push_u32(ps, id))
                return ABAC_E_NOMEM;
        }
        uint8_t ht = r_u8(r);
        if (r->err || ht > 1)
            return ABAC_E_FORMAT;
        if (ht && (rc = r_str(r, ps, &ru.res_type)))
            return rc;
        ru.n_obl = r_u32(r);
        if (r->err || ru.n_obl > MAX_OBLS || (ru.n_obl && ru.effect != ABAC_PERMIT))
            return ABAC_E_FORMAT;
        ru.obl_off = ps->n_u32;
        for (uint32_t j = 0; j < ru.n_obl; j++) {
            uint32_t id;
            if ((rc = r_str(r, ps, &id)))
                return rc;
            for (uint32_t q = 0; q < j; q++)
                if (ps->u32pool[ru.obl_off + q] == id)
                    return ABAC_E_FORMAT;
            if (ps_push_u32(ps, id))
                return ABAC_E_NOMEM;
        }
        uint8_t hc = r_u8(r);
        if (r->err || hc > 1)
            return ABAC_E_FORMAT;
        if (hc && (rc = r_expr(r, ps, 0, &ru.cond)))
            return rc;
        if (ps_push_rule(ps, &ru))
            return ABAC_E_NOMEM;
    }
    return r->err ? ABAC_E_FORMAT : 0;
}

/* sets must be strictly ascending (ints numerically, strings bytewise) */
static int sets_canonical(const abac_policyset *ps) {
    for (uint32_t n = 0; n < ps->n_nodes; n++) {
        const node *x = &ps->nodes[n];
        if (x->op != N_SET)
            continue;
        for (uint32_t k = 1; k < x->b; k++) {
            int64_t p = ps->setpool[x->a + k - 1], q = ps->setpool[x->a + k];
            if (x->type == T_SSET ? str_cmp(ps, (uint32_t)p, (uint32_t)q) >= 0 : p >= q)
                return 0;
        }
    }
    return 1;
}

int abac_policyset_decode(const uint8_t *in, size_t len, abac_policyset **out) {
    if (!out || (!in && len))
        return ABAC_E_INVALID;
    *out = NULL;
    abac_policyset *ps = ps_alloc();
    if (!ps)
        return ABAC_E_NOMEM;
    rd r = {in, len, 0, 0};
    int rc = decode_body(&r, ps);
    if (!rc && r.pos != len)
        rc = ABAC_E_FORMAT; /* trailing bytes */
    if (!rc && !sets_canonical(ps))
        rc = ABAC_E_FORMAT;
    if (!rc) {
        uint32_t bn, br;
        rc = ps_finish(ps, &bn, &br, NULL, 0);
    }
    if (!rc) {
        /* canonical: the only encoding of this object is the one we produce */
        size_t n = encode(ps, NULL, 0);
        uint8_t *b = n == len ? malloc(n ? n : 1) : NULL;
        if (n != len)
            rc = ABAC_E_FORMAT;
        else if (!b)
            rc = ABAC_E_NOMEM;
        else {
            encode(ps, b, n);
            if (memcmp(b, in, n))
                rc = ABAC_E_FORMAT;
        }
        free(b);
    }
    if (rc) {
        if (rc == -1)
            rc = ABAC_E_NOMEM;
        abac_policyset_free(ps);
        return rc;
    }
    *out = ps;
    return ABAC_OK;
}

/* ---- updates ----------------------------------------------------------------------------- */

static int msg_of(const uint8_t base[32], const uint8_t next[32], uint8_t out[32]) {
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)UPDATE_DOMAIN, sizeof UPDATE_DOMAIN - 1);
    crypto_hash_sha256_update(&st, base, 32);
    crypto_hash_sha256_update(&st, next, 32);
    crypto_hash_sha256_final(&st, out);
    return 0;
}

int abac_update_message(const abac_policyset *cur, const abac_policyset *next,
                        uint8_t out[ABAC_HASH_BYTES]) {
    if (!cur || !next || !out || sodium_init() < 0)
        return ABAC_E_INVALID;
    uint8_t hb[32], hn[32];
    int rc = hash_ps(cur, hb);
    if (!rc)
        rc = hash_ps(next, hn);
    if (rc)
        return rc;
    return msg_of(hb, hn, out);
}

int abac_update_sign(const abac_policyset *cur, const abac_policyset *next,
                     const uint8_t seckey[ABAC_SECKEY_BYTES], uint8_t sig[ABAC_SIG_BYTES]) {
    if (!seckey || !sig)
        return ABAC_E_INVALID;
    uint8_t m[32];
    int rc = abac_update_message(cur, next, m);
    if (rc)
        return rc;
    crypto_sign_detached(sig, NULL, m, 32, seckey);
    return ABAC_OK;
}

int abac_keypair_from_seed(const uint8_t seed[32], uint8_t pubkey[ABAC_PUBKEY_BYTES],
                           uint8_t seckey[ABAC_SECKEY_BYTES]) {
    if (!seed || !pubkey || !seckey || sodium_init() < 0)
        return ABAC_E_INVALID;
    crypto_sign_seed_keypair(pubkey, seckey, seed);
    return ABAC_OK;
}

size_t abac_update_encoded_size(const abac_policyset *next, size_t n_sigs) {
    if (!next)
        return 0;
    return 4 + 1 + 32 + 4 + encode(next, NULL, 0) + 4 + n_sigs * 96;
}

typedef struct sigent {
    uint8_t pk[32];
    uint8_t sig[64];
} sigent;

static int cmp_sigent(const void *a, const void *b) {
    return memcmp(a, b, 32);
}

int abac_update_encode(const abac_policyset *cur, const abac_policyset *next,
                       const uint8_t *pubkeys, const uint8_t *sigs, size_t n, uint8_t *out,
                       size_t cap, size_t *out_len) {
    if (!cur || !next || (n && (!pubkeys || !sigs)) || (!out && cap) || n > MAX_MEMBERS)
        return ABAC_E_INVALID;
    size_t need = abac_update_encoded_size(next, n);
    if (out_len)
        *out_len = need;
    if (!out || cap < need)
        return ABAC_E_BUFFER_TOO_SMALL;
    sigent *e = malloc((n ? n : 1) * sizeof *e);
    if (!e)
        return ABAC_E_NOMEM;
    for (size_t k = 0; k < n; k++) {
        memcpy(e[k].pk, pubkeys + 32 * k, 32);
        memcpy(e[k].sig, sigs + 64 * k, 64);
    }
    qsort(e, n, sizeof *e, cmp_sigent);
    for (size_t k = 1; k < n; k++)
        if (!memcmp(e[k - 1].pk, e[k].pk, 32)) {
            free(e);
            return ABAC_E_DUPLICATE_SIGNER;
        }
    uint8_t hb[32];
    int rc = hash_ps(cur, hb);
    if (rc) {
        free(e);
        return rc;
    }
    wr w = {out, cap, 0};
    w_bytes(&w, UP_MAGIC, 4);
    w_u8(&w, FORMAT_V);
    w_bytes(&w, hb, 32);
    size_t body = encode(next, NULL, 0);
    w_u32(&w, (uint32_t)body);
    w.n += encode(next, out + w.n, cap - w.n);
    w_u32(&w, (uint32_t)n);
    for (size_t k = 0; k < n; k++) {
        w_bytes(&w, e[k].pk, 32);
        w_bytes(&w, e[k].sig, 64);
    }
    free(e);
    return ABAC_OK;
}

static int is_member(const abac_policyset *ps, const uint8_t *pk) {
    size_t lo = 0, hi = ps->n_members;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = memcmp(ps->members + mid * 32, pk, 32);
        if (!c)
            return 1;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

int abac_update_apply(const abac_policyset *cur, const uint8_t *in, size_t len,
                      abac_policyset **out) {
    if (!cur || !out || (!in && len) || sodium_init() < 0)
        return ABAC_E_INVALID;
    *out = NULL;
    rd r = {in, len, 0, 0};
    const uint8_t *m = r_take(&r, 4);
    if (!m)
        return ABAC_E_FORMAT;
    if (memcmp(m, UP_MAGIC, 4) || r_u8(&r) != FORMAT_V)
        return r.err ? ABAC_E_FORMAT : ABAC_E_FORMAT_VERSION;
    const uint8_t *base = r_take(&r, 32);
    uint32_t blen = r_u32(&r);
    const uint8_t *body = r_take(&r, blen);
    uint32_t ns = r_u32(&r);
    if (r.err || ns > MAX_MEMBERS)
        return ABAC_E_FORMAT;
    const uint8_t *sigs = r_take(&r, (size_t)ns * 96);
    if (!sigs || r.pos != len)
        return ABAC_E_FORMAT;
    abac_policyset *next = NULL;
    int rc = abac_policyset_decode(body, blen, &next);
    if (rc)
        return rc;
    uint8_t hc[32], hn[32], msg[32];
    if ((rc = hash_ps(cur, hc)) || (rc = hash_ps(next, hn)))
        goto fail;
    if (cur->n_members == 0) {
        rc = ABAC_E_NO_MEMBERS;
        goto fail;
    }
    if (!memcmp(hc, hn, 32)) {
        rc = ABAC_E_REPLAY;
        goto fail;
    }
    if (next->version <= cur->version) {
        rc = ABAC_E_STALE_VERSION;
        goto fail;
    }
    if (memcmp(base, hc, 32)) {
        rc = ABAC_E_WRONG_BASE;
        goto fail;
    }
    for (uint32_t k = 1; k < ns; k++) {
        int c = memcmp(sigs + (k - 1) * 96, sigs + k * 96, 32);
        if (c == 0) {
            rc = ABAC_E_DUPLICATE_SIGNER;
            goto fail;
        }
        if (c > 0) {
            /* unsorted: a duplicate further away is still a duplicate */
            for (uint32_t a = 0; a < ns; a++)
                for (uint32_t b = a + 1; b < ns; b++)
                    if (!memcmp(sigs + a * 96, sigs + b * 96, 32)) {
                        rc = ABAC_E_DUPLICATE_SIGNER;
                        goto fail;
                    }
            rc = ABAC_E_FORMAT;
            goto fail;
        }
    }
    for (uint32_t k = 0; k < ns; k++)
        if (!is_member(cur, sigs + k * 96)) {
            rc = ABAC_E_NOT_MEMBER;
            goto fail;
        }
    msg_of(hc, hn, msg);
    for (uint32_t k = 0; k < ns; k++)
        if (crypto_sign_verify_detached(sigs + k * 96 + 32, msg, 32, sigs + k * 96) != 0) {
            rc = ABAC_E_BAD_SIGNATURE;
            goto fail;
        }
    if (!(3 * (uint64_t)ns > 2 * (uint64_t)cur->n_members)) {
        rc = ABAC_E_NO_QUORUM;
        goto fail;
    }
    *out = next;
    return ABAC_OK;
fail:
    abac_policyset_free(next);
    return rc;
}
