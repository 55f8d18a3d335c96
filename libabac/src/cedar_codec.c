/* Versioned Cedar policy sets for the ledger: a canonical encoding (ABCP: version, members,
 * the Cedar text; format version 2 adds the template links), its SHA-256, and updates signed
 * by more than two thirds of the current members (ABCU), as docs/formats/abac.md describes. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cedar_int.h"

#define CFORMAT_V   1 /* ABCU, and ABCP of a set without template links */
#define CFORMAT_V2  2 /* ABCP of a set with template links (1.3.0) */
#define MAX_MEMBERS 1024u

static const uint8_t CP_MAGIC[4] = {'A', 'B', 'C', 'P'};
static const uint8_t CU_MAGIC[4] = {'A', 'B', 'C', 'U'};
static const char CU_DOMAIN[] = "fedshare/abac/cedar-update/v1";

static int cmp32(const void *a, const void *b) {
    return memcmp(a, b, 32);
}

int abac_cedar_policies_compile(abac_cedar_policies **out, const char *src, size_t len,
                                const abac_compile_options *opts, uint32_t *err_line,
                                uint32_t *err_col, char *err_msg, size_t err_cap) {
    if (!out)
        return ABAC_E_INVALID;
    *out = NULL;
    if (opts &&
        (opts->version != ABAC_COMPILE_OPTIONS_VERSION || (!opts->schema && opts->schema_len) ||
         (opts->n_members && !opts->members) || opts->n_members > MAX_MEMBERS))
        return ABAC_E_INVALID;
    size_t nm = opts ? opts->n_members : 0;
    uint8_t *mem = NULL;
    if (nm) {
        if (!(mem = malloc(nm * 32)))
            return ABAC_E_NOMEM;
        memcpy(mem, opts->members, nm * 32);
        qsort(mem, nm, 32, cmp32);
        for (size_t k = 1; k < nm; k++)
            if (!memcmp(mem + (k - 1) * 32, mem + k * 32, 32)) {
                free(mem);
                return ABAC_E_INVALID; /* a member twice */
            }
    }
    abac_cedar_policies *ps = NULL;
    int rc = abac_cedar_policies_parse(&ps, src, len, err_line, err_col, err_msg, err_cap);
    if (rc) {
        free(mem);
        return rc;
    }
    if (opts && opts->schema) { /* validated here, not stored: the ledger keeps the text */
        rc = cedar_validate_against_text(ps, opts->schema, opts->schema_len, err_line, err_col,
                                         err_msg, err_cap);
        if (rc) {
            abac_cedar_policies_free(ps);
            free(mem);
            return rc;
        }
    }
    ps->version = opts ? opts->set_version : 0;
    ps->members = mem;
    ps->n_members = (uint32_t)nm;
    *out = ps;
    return 0;
}

uint64_t abac_cedar_policies_version(const abac_cedar_policies *ps) {
    return ps ? ps->version : 0;
}

size_t abac_cedar_policies_member_count(const abac_cedar_policies *ps) {
    return ps ? ps->n_members : 0;
}

const uint8_t *abac_cedar_policies_member(const abac_cedar_policies *ps, size_t i) {
    return ps && i < ps->n_members ? ps->members + 32 * i : NULL;
}

static size_t uid_size(const cuid *u) {
    return 8 + (size_t)u->type.n + u->id.n;
}

/* bytes of the links part of a version-2 encoding (after the text) */
static size_t links_size(const abac_cedar_policies *ps) {
    size_t n = 4;
    for (uint32_t i = 0; i < ps->n_links; i++) {
        const clink *l = &ps->links[i];
        const cpolicy *t = &ps->pol[l->tmpl];
        n += 4 + 4 + strlen(l->id) + 1;
        if (t->sc[0].slot)
            n += uid_size(&l->p);
        if (t->sc[2].slot)
            n += uid_size(&l->r);
    }
    return n;
}

size_t abac_cedar_policies_encoded_size(const abac_cedar_policies *ps) {
    if (!ps || !ps->text)
        return 0;
    return 4 + 1 + 8 + 4 + 32 * (size_t)ps->n_members + 4 + ps->text_len +
           (ps->n_links ? links_size(ps) : 0);
}

static void put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static size_t put_bytes(uint8_t *o, const char *p, size_t n) {
    put_u32(o, (uint32_t)n);
    if (n)
        memcpy(o + 4, p, n);
    return 4 + n;
}

static size_t put_uid(uint8_t *o, const cuid *u) {
    size_t at = put_bytes(o, u->type.p, u->type.n);
    return at + put_bytes(o + at, u->id.p, u->id.n);
}

static void encode_into(const abac_cedar_policies *ps, uint8_t *o) {
    memcpy(o, CP_MAGIC, 4);
    o[4] = ps->n_links ? CFORMAT_V2 : CFORMAT_V;
    for (int k = 0; k < 8; k++)
        o[5 + k] = (uint8_t)(ps->version >> (56 - 8 * k));
    put_u32(o + 13, ps->n_members);
    size_t at = 17;
    if (ps->n_members)
        memcpy(o + at, ps->members, 32 * (size_t)ps->n_members);
    at += 32 * (size_t)ps->n_members;
    at += put_bytes(o + at, ps->text, ps->text_len);
    if (!ps->n_links)
        return;
    put_u32(o + at, ps->n_links);
    at += 4;
    for (uint32_t i = 0; i < ps->n_links; i++) {
        const clink *l = &ps->links[i];
        const cpolicy *t = &ps->pol[l->tmpl];
        put_u32(o + at, l->tmpl);
        at += 4;
        at += put_bytes(o + at, l->id, strlen(l->id));
        o[at++] = (uint8_t)((t->sc[0].slot ? 1 : 0) | (t->sc[2].slot ? 2 : 0));
        if (t->sc[0].slot)
            at += put_uid(o + at, &l->p);
        if (t->sc[2].slot)
            at += put_uid(o + at, &l->r);
    }
}

int abac_cedar_policies_encode(const abac_cedar_policies *ps, uint8_t *out, size_t cap,
                               size_t *out_len) {
    if (!ps || !ps->text || (!out && cap))
        return ABAC_E_INVALID;
    size_t need = abac_cedar_policies_encoded_size(ps);
    if (out_len)
        *out_len = need;
    if (!out || cap < need)
        return ABAC_E_BUFFER_TOO_SMALL;
    encode_into(ps, out);
    return 0;
}

int abac_cedar_policies_hash(const abac_cedar_policies *ps, uint8_t out[ABAC_HASH_BYTES]) {
    if (!ps || !ps->text || !out || sodium_init() < 0)
        return ABAC_E_INVALID;
    size_t n = abac_cedar_policies_encoded_size(ps);
    uint8_t *b = malloc(n);
    if (!b)
        return ABAC_E_NOMEM;
    encode_into(ps, b);
    crypto_hash_sha256(out, b, n);
    free(b);
    return 0;
}

/* a reader over untrusted bytes: every read checks the length first */
typedef struct rd {
    const uint8_t *p;
    size_t n, at;
} rd;

static int rd_u32(rd *r, uint32_t *v) {
    if (r->n - r->at < 4)
        return -1;
    *v = get_u32(r->p + r->at);
    r->at += 4;
    return 0;
}

static int rd_bytes(rd *r, const char **p, uint32_t *n) {
    if (rd_u32(r, n) || r->n - r->at < *n)
        return -1;
    *p = (const char *)r->p + r->at;
    r->at += *n;
    return 0;
}

/* One uid of a link: its type and id must be exactly what Cedar syntax `type::"id"` reads back
 * (a valid, canonical entity type name), so that each link has one encoding. */
static int rd_uid(rd *r, pool *p, cuid *u) {
    const char *tp, *ip;
    uint32_t tn, in;
    if (rd_bytes(r, &tp, &tn) || rd_bytes(r, &ip, &in) || !tn || tn > 4096 || in > C_MAX_STR)
        return ABAC_E_FORMAT;
    char *txt = pool_alloc(p, (size_t)tn + 6 * (size_t)in + 8);
    if (!txt)
        return ABAC_E_NOMEM;
    size_t k = 0;
    memcpy(txt, tp, tn);
    k = tn;
    memcpy(txt + k, "::\"", 3);
    k += 3;
    for (uint32_t j = 0; j < in; j++) {
        uint8_t c = (uint8_t)ip[j];
        if (c < 0x20 || c == 0x7f)
            k += (size_t)snprintf(txt + k, 8, "\\u{%x}", c);
        else if (c == '"' || c == '\\') {
            txt[k++] = '\\';
            txt[k++] = (char)c;
        } else
            txt[k++] = (char)c;
    }
    txt[k++] = '"';
    if (cedar_parse_uid_text(p, txt, k, u) || u->type.n != tn || memcmp(u->type.p, tp, tn) ||
        u->id.n != in || (in && memcmp(u->id.p, ip, in)))
        return ABAC_E_FORMAT;
    return 0;
}

static int decode_links(abac_cedar_policies **out, abac_cedar_policies *base, rd *r) {
    uint32_t n;
    if (rd_u32(r, &n) || n == 0 || n > C_MAX_LINKS || (r->n - r->at) / 13 < n)
        return ABAC_E_FORMAT; /* 0 links: the canonical encoding is version 1 */
    clink_in *ls = calloc(n, sizeof *ls);
    pool tmp = {0};
    int rc = ls ? 0 : ABAC_E_NOMEM;
    for (uint32_t i = 0; i < n && !rc; i++) {
        clink_in *l = &ls[i];
        const char *id;
        uint32_t idn;
        if (rd_u32(r, &l->tmpl) || rd_bytes(r, &id, &idn) || r->at >= r->n) {
            rc = ABAC_E_FORMAT;
            break;
        }
        l->id = id;
        l->id_n = idn;
        uint8_t slots = r->p[r->at++];
        if (slots == 0 || slots > 3) {
            rc = ABAC_E_FORMAT;
            break;
        }
        l->has_p = slots & 1;
        l->has_r = (slots >> 1) & 1;
        if ((l->has_p && (rc = rd_uid(r, &tmp, &l->p))) ||
            (l->has_r && (rc = rd_uid(r, &tmp, &l->r))))
            break;
    }
    if (!rc && r->at != r->n)
        rc = ABAC_E_FORMAT; /* trailing bytes */
    if (!rc) {
        rc = cedar_policies_relink(out, base, ls, n);
        if (rc == ABAC_E_INVALID || rc == ABAC_E_DUPLICATE_RULE)
            rc = ABAC_E_FORMAT;
    }
    pool_free(&tmp);
    free(ls);
    return rc;
}

int abac_cedar_policies_decode(abac_cedar_policies **out, const uint8_t *in, size_t len) {
    if (!out || (!in && len))
        return ABAC_E_INVALID;
    *out = NULL;
    if (len < 5)
        return ABAC_E_FORMAT;
    if (memcmp(in, CP_MAGIC, 4) || (in[4] != CFORMAT_V && in[4] != CFORMAT_V2))
        return ABAC_E_FORMAT_VERSION;
    if (len < 17)
        return ABAC_E_FORMAT;
    uint64_t ver = 0;
    for (int k = 0; k < 8; k++)
        ver = ver << 8 | in[5 + k];
    uint32_t nm = get_u32(in + 13);
    if (nm > MAX_MEMBERS || len - 17 < 32 * (size_t)nm + 4)
        return ABAC_E_FORMAT;
    const uint8_t *mem = in + 17;
    for (uint32_t k = 1; k < nm; k++) /* canonical: strictly ascending */
        if (memcmp(mem + 32 * (k - 1), mem + 32 * k, 32) >= 0)
            return ABAC_E_FORMAT;
    rd r = {in, len, 17 + 32 * (size_t)nm};
    const char *text;
    uint32_t tl;
    if (rd_bytes(&r, &text, &tl) || (in[4] == CFORMAT_V && r.at != len))
        return ABAC_E_FORMAT;
    abac_compile_options o = ABAC_COMPILE_OPTIONS_INIT;
    o.set_version = ver;
    o.members = nm ? mem : NULL;
    o.n_members = nm;
    abac_cedar_policies *ps = NULL;
    int rc = abac_cedar_policies_compile(&ps, text, tl, &o, NULL, NULL, NULL, 0);
    if (rc)
        return rc == ABAC_E_SYNTAX ? ABAC_E_FORMAT : rc;
    if (in[4] == CFORMAT_V) {
        *out = ps;
        return 0;
    }
    rc = decode_links(out, ps, &r);
    abac_cedar_policies_free(ps);
    return rc;
}

/* ---- updates ----------------------------------------------------------------------------- */

int abac_cedar_update_message(const abac_cedar_policies *cur, const abac_cedar_policies *next,
                              uint8_t out[ABAC_HASH_BYTES]) {
    uint8_t hc[32], hn[32];
    if (!out)
        return ABAC_E_INVALID;
    int rc = abac_cedar_policies_hash(cur, hc);
    if (!rc)
        rc = abac_cedar_policies_hash(next, hn);
    if (rc)
        return rc;
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)CU_DOMAIN, sizeof CU_DOMAIN - 1);
    crypto_hash_sha256_update(&st, hc, 32);
    crypto_hash_sha256_update(&st, hn, 32);
    crypto_hash_sha256_final(&st, out);
    return 0;
}

int abac_cedar_update_sign(const abac_cedar_policies *cur, const abac_cedar_policies *next,
                           const uint8_t seckey[ABAC_SECKEY_BYTES], uint8_t sig[ABAC_SIG_BYTES]) {
    uint8_t m[32];
    if (!seckey || !sig)
        return ABAC_E_INVALID;
    int rc = abac_cedar_update_message(cur, next, m);
    if (rc)
        return rc;
    crypto_sign_detached(sig, NULL, m, 32, seckey);
    return 0;
}

size_t abac_cedar_update_encoded_size(const abac_cedar_policies *next, size_t n_sigs) {
    if (!next || !next->text || n_sigs > MAX_MEMBERS)
        return 0;
    return 4 + 1 + 32 + 4 + abac_cedar_policies_encoded_size(next) + 4 + 96 * n_sigs;
}

int abac_cedar_update_encode(const abac_cedar_policies *cur, const abac_cedar_policies *next,
                             const uint8_t *pubkeys, const uint8_t *sigs, size_t n, uint8_t *out,
                             size_t cap, size_t *out_len) {
    if (!cur || !next || !next->text || (n && (!pubkeys || !sigs)) || (!out && cap) ||
        n > MAX_MEMBERS)
        return ABAC_E_INVALID;
    size_t need = abac_cedar_update_encoded_size(next, n);
    if (out_len)
        *out_len = need;
    if (!out || cap < need)
        return ABAC_E_BUFFER_TOO_SMALL;
    uint8_t *e = malloc(n ? 96 * n : 1); /* (pk ‖ sig) entries, sorted by pk */
    if (!e)
        return ABAC_E_NOMEM;
    for (size_t k = 0; k < n; k++) {
        memcpy(e + 96 * k, pubkeys + 32 * k, 32);
        memcpy(e + 96 * k + 32, sigs + 64 * k, 64);
    }
    qsort(e, n, 96, cmp32);
    for (size_t k = 1; k < n; k++)
        if (!memcmp(e + 96 * (k - 1), e + 96 * k, 32)) {
            free(e);
            return ABAC_E_DUPLICATE_SIGNER;
        }
    uint8_t hc[32];
    int rc = abac_cedar_policies_hash(cur, hc);
    if (rc) {
        free(e);
        return rc;
    }
    memcpy(out, CU_MAGIC, 4);
    out[4] = CFORMAT_V;
    memcpy(out + 5, hc, 32);
    size_t body = abac_cedar_policies_encoded_size(next);
    put_u32(out + 37, (uint32_t)body);
    encode_into(next, out + 41);
    put_u32(out + 41 + body, (uint32_t)n);
    if (n)
        memcpy(out + 45 + body, e, 96 * n);
    free(e);
    return 0;
}

static int is_member(const abac_cedar_policies *ps, const uint8_t *pk) {
    return ps->n_members && bsearch(pk, ps->members, ps->n_members, 32, cmp32) != NULL;
}

int abac_cedar_update_apply(abac_cedar_policies **out, const abac_cedar_policies *cur,
                            const uint8_t *in, size_t len) {
    if (!out || !cur || !cur->text || (!in && len) || sodium_init() < 0)
        return ABAC_E_INVALID;
    *out = NULL;
    if (len < 5)
        return ABAC_E_FORMAT;
    if (memcmp(in, CU_MAGIC, 4) || in[4] != CFORMAT_V)
        return ABAC_E_FORMAT_VERSION;
    if (len < 41)
        return ABAC_E_FORMAT;
    const uint8_t *base = in + 5;
    uint32_t blen = get_u32(in + 37);
    if (len - 41 < (size_t)blen + 4)
        return ABAC_E_FORMAT;
    uint32_t ns = get_u32(in + 41 + blen);
    if (ns > MAX_MEMBERS || len - 45 - blen != 96 * (size_t)ns)
        return ABAC_E_FORMAT;
    const uint8_t *sigs = in + 45 + blen;
    for (uint32_t k = 1; k < ns; k++) {
        int c = memcmp(sigs + 96 * (k - 1), sigs + 96 * k, 32);
        if (c == 0)
            return ABAC_E_DUPLICATE_SIGNER;
        if (c > 0)
            return ABAC_E_FORMAT; /* not sorted: not canonical */
    }
    abac_cedar_policies *next = NULL;
    int rc = abac_cedar_policies_decode(&next, in + 41, blen);
    if (rc)
        return rc;
    uint8_t hc[32], hn[32], msg[32];
    if ((rc = abac_cedar_policies_hash(cur, hc)) || (rc = abac_cedar_policies_hash(next, hn)))
        goto fail;
    rc = cur->n_members == 0             ? ABAC_E_NO_MEMBERS
         : !memcmp(hc, hn, 32)           ? ABAC_E_REPLAY
         : next->version <= cur->version ? ABAC_E_STALE_VERSION
         : memcmp(base, hc, 32)          ? ABAC_E_WRONG_BASE
                                         : 0;
    if (rc)
        goto fail;
    for (uint32_t k = 0; k < ns; k++)
        if (!is_member(cur, sigs + 96 * k)) {
            rc = ABAC_E_NOT_MEMBER;
            goto fail;
        }
    if ((rc = abac_cedar_update_message(cur, next, msg)))
        goto fail;
    for (uint32_t k = 0; k < ns; k++)
        if (crypto_sign_verify_detached(sigs + 96 * k + 32, msg, 32, sigs + 96 * k) != 0) {
            rc = ABAC_E_BAD_SIGNATURE;
            goto fail;
        }
    if (!(3 * (uint64_t)ns > 2 * (uint64_t)cur->n_members)) {
        rc = ABAC_E_NO_QUORUM;
        goto fail;
    }
    *out = next;
    return 0;
fail:
    abac_cedar_policies_free(next);
    return rc;
}
