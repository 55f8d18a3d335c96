/* Cedar's JSON formats (https://docs.cedarpolicy.com/auth/entities-syntax.html): values,
 * entities with their parents (closed transitively here) and requests. A small strict JSON
 * reader (RFC 8259) builds values straight into the owner's pool; names keep their length,
 * so a NUL byte is an ordinary byte and is never cut. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cedar_int.h"

typedef struct jctx {
    pool *p;
    const char *s;
    size_t n, i;
    char *msg;
    size_t cap;
} jctx;

__attribute__((format(printf, 2, 3))) static int jfail(jctx *J, const char *fmt, ...) {
    if (J->msg && J->cap) {
        char tmp[200];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(tmp, sizeof tmp, fmt, ap);
        va_end(ap);
        snprintf(J->msg, J->cap, "%s (at byte %zu)", tmp, J->i);
    }
    return ABAC_E_JSON;
}

static void jws(jctx *J) {
    while (J->i < J->n &&
           (J->s[J->i] == ' ' || J->s[J->i] == '\t' || J->s[J->i] == '\n' || J->s[J->i] == '\r'))
        J->i++;
}

static int hex4(const char *s, uint32_t *out) {
    uint32_t v = 0;
    for (int k = 0; k < 4; k++) {
        char h = s[k];
        int d = h >= '0' && h <= '9'   ? h - '0'
                : h >= 'a' && h <= 'f' ? h - 'a' + 10
                : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v * 16u + (uint32_t)d;
    }
    *out = v;
    return 0;
}

static int jstring(jctx *J, cstr *out) {
    jws(J);
    if (J->i >= J->n || J->s[J->i] != '"')
        return jfail(J, "expected a string");
    size_t st = ++J->i, e = st;
    int esc = 0;
    while (e < J->n && J->s[e] != '"') {
        if ((unsigned char)J->s[e] < 0x20)
            return jfail(J, "a control character in a string");
        if (J->s[e] == '\\') {
            esc = 1;
            e++;
        }
        e++;
    }
    if (e >= J->n)
        return jfail(J, "an unterminated string");
    if (e - st > C_MAX_STR)
        return jfail(J, "a string longer than 1 MiB");
    if (!esc) {
        out->p = J->s + st; /* points into the caller's text: copied below */
        char *c = pool_dup(J->p, J->s + st, e - st);
        if (!c)
            return ABAC_E_NOMEM;
        out->p = c;
        out->n = (uint32_t)(e - st);
        J->i = e + 1;
        return 0;
    }
    char *o = pool_alloc(J->p, e - st + 1);
    if (!o)
        return ABAC_E_NOMEM;
    size_t k = 0;
    for (size_t i = st; i < e; i++) {
        char c = J->s[i];
        if (c != '\\') {
            o[k++] = c;
            continue;
        }
        c = J->s[++i];
        switch (c) {
            case '"':
                o[k++] = '"';
                break;
            case '\\':
                o[k++] = '\\';
                break;
            case '/':
                o[k++] = '/';
                break;
            case 'b':
                o[k++] = '\b';
                break;
            case 'f':
                o[k++] = '\f';
                break;
            case 'n':
                o[k++] = '\n';
                break;
            case 'r':
                o[k++] = '\r';
                break;
            case 't':
                o[k++] = '\t';
                break;
            case 'u': {
                uint32_t cp, lo;
                if (i + 4 >= e || hex4(J->s + i + 1, &cp))
                    return jfail(J, "a bad \\u escape");
                i += 4;
                if (cp >= 0xd800 && cp < 0xdc00) {
                    if (i + 6 >= e || J->s[i + 1] != '\\' || J->s[i + 2] != 'u' ||
                        hex4(J->s + i + 3, &lo) || lo < 0xdc00 || lo > 0xdfff)
                        return jfail(J, "an unpaired surrogate in a \\u escape");
                    i += 6;
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                    return jfail(J, "an unpaired surrogate in a \\u escape");
                }
                if (cp < 0x80) {
                    o[k++] = (char)cp;
                } else if (cp < 0x800) {
                    o[k++] = (char)(0xc0 | (cp >> 6));
                    o[k++] = (char)(0x80 | (cp & 0x3f));
                } else if (cp < 0x10000) {
                    o[k++] = (char)(0xe0 | (cp >> 12));
                    o[k++] = (char)(0x80 | ((cp >> 6) & 0x3f));
                    o[k++] = (char)(0x80 | (cp & 0x3f));
                } else {
                    o[k++] = (char)(0xf0 | (cp >> 18));
                    o[k++] = (char)(0x80 | ((cp >> 12) & 0x3f));
                    o[k++] = (char)(0x80 | ((cp >> 6) & 0x3f));
                    o[k++] = (char)(0x80 | (cp & 0x3f));
                }
                break;
            }
            default:
                return jfail(J, "an unknown escape '\\%c'", c);
        }
    }
    o[k] = 0;
    out->p = o;
    out->n = (uint32_t)k;
    J->i = e + 1;
    return 0;
}

static int jlit(jctx *J, const char *w) {
    size_t n = strlen(w);
    if (J->n - J->i >= n && memcmp(J->s + J->i, w, n) == 0) {
        J->i += n;
        return 1;
    }
    return 0;
}

/* uid: {"type": T, "id": I} (either order, nothing else) or {"__entity": {...}}, or a string
 * in Cedar syntax when allow_text. */
static int juid_fields(jctx *J, const cfield *f, uint32_t n, cuid *out) {
    int have_t = 0, have_i = 0;
    for (uint32_t k = 0; k < n; k++) {
        if (f[k].v.t != V_STR)
            return -1;
        if (cstr_eq(f[k].key, (cstr){"type", 4})) {
            out->type = (cstr){f[k].v.p, f[k].v.n};
            have_t = 1;
        } else if (cstr_eq(f[k].key, (cstr){"id", 2})) {
            out->id = (cstr){f[k].v.p, f[k].v.n};
            have_i = 1;
        } else {
            return -1;
        }
    }
    (void)J;
    if (!have_t || !have_i || n != 2)
        return -1;
    out->h = cuid_hash(out);
    return 0;
}

static int jvalue(jctx *J, cval *out, int depth);

static int juid(jctx *J, cuid *out, int allow_text, int depth) {
    jws(J);
    if (allow_text && J->i < J->n && J->s[J->i] == '"') {
        cstr s;
        int rc = jstring(J, &s);
        if (rc)
            return rc;
        if (cedar_parse_uid_text(J->p, s.p, s.n, out))
            return jfail(J, "expected an entity uid like Type::\"id\"");
        return 0;
    }
    cval v;
    int rc = jvalue(J, &v, depth);
    if (rc)
        return rc;
    if (v.t == V_ENT) {
        *out = *(const cuid *)v.p;
        return 0;
    }
    if (v.t == V_REC && juid_fields(J, v.p, v.n, out) == 0)
        return 0;
    return jfail(J, "expected an entity uid {\"type\": ..., \"id\": ...}");
}

static int jvalue(jctx *J, cval *out, int depth) {
    if (depth > (int)C_MAX_DEPTH)
        return jfail(J, "nested too deeply (more than %u levels)", C_MAX_DEPTH);
    jws(J);
    if (J->i >= J->n)
        return jfail(J, "expected a value, found end of input");
    char c = J->s[J->i];
    memset(out, 0, sizeof *out);
    int rc;
    if (c == '"') {
        cstr s;
        if ((rc = jstring(J, &s)))
            return rc;
        out->t = V_STR;
        out->p = s.p;
        out->n = s.n;
        return 0;
    }
    if (jlit(J, "true") || jlit(J, "false")) {
        out->t = V_BOOL;
        out->i = J->s[J->i - 1] == 'e' && J->s[J->i - 2] == 'u';
        return 0;
    }
    if (jlit(J, "null"))
        return jfail(J, "null is not a Cedar value");
    if (c == '-' || (c >= '0' && c <= '9')) {
        int neg = c == '-';
        if (neg)
            J->i++;
        if (J->i >= J->n || J->s[J->i] < '0' || J->s[J->i] > '9')
            return jfail(J, "a bad number");
        if (J->s[J->i] == '0' && J->i + 1 < J->n && J->s[J->i + 1] >= '0' && J->s[J->i + 1] <= '9')
            return jfail(J, "a number with a leading zero");
        uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX;
        while (J->i < J->n && J->s[J->i] >= '0' && J->s[J->i] <= '9') {
            uint64_t d = (uint64_t)(J->s[J->i] - '0');
            if (v > (lim - d) / 10u)
                return jfail(J, "an integer out of the 64-bit range");
            v = v * 10u + d;
            J->i++;
        }
        if (J->i < J->n && (J->s[J->i] == '.' || J->s[J->i] == 'e' || J->s[J->i] == 'E'))
            return jfail(J, "a number with a fraction or exponent (Cedar integers are int64)");
        out->t = V_LONG;
        out->i = neg ? (v == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)v) : (int64_t)v;
        return 0;
    }
    if (c == '[') {
        J->i++;
        uint32_t k = 0, cap = 8;
        cval *el = malloc(cap * sizeof *el);
        if (!el)
            return ABAC_E_NOMEM;
        jws(J);
        if (J->i < J->n && J->s[J->i] == ']') {
            J->i++;
        } else {
            for (;;) {
                if (k == cap) {
                    cval *ne = cap > (1u << 24) ? NULL : realloc(el, 2 * cap * sizeof *el);
                    if (!ne) {
                        free(el);
                        return ABAC_E_NOMEM;
                    }
                    el = ne;
                    cap *= 2;
                }
                if ((rc = jvalue(J, &el[k], depth + 1))) {
                    free(el);
                    return rc;
                }
                k++;
                jws(J);
                if (J->i < J->n && J->s[J->i] == ',') {
                    J->i++;
                    continue;
                }
                if (J->i < J->n && J->s[J->i] == ']') {
                    J->i++;
                    break;
                }
                free(el);
                return jfail(J, "expected ',' or ']'");
            }
        }
        cval *dst = pool_alloc(J->p, (k ? k : 1) * sizeof *dst);
        if (!dst) {
            free(el);
            return ABAC_E_NOMEM;
        }
        memcpy(dst, el, k * sizeof *el);
        free(el);
        out->t = V_SET;
        out->p = dst;
        out->n = k;
        return 0;
    }
    if (c == '{') {
        J->i++;
        uint32_t k = 0, cap = 8;
        cfield *f = malloc(cap * sizeof *f);
        if (!f)
            return ABAC_E_NOMEM;
        jws(J);
        if (J->i < J->n && J->s[J->i] == '}') {
            J->i++;
        } else {
            for (;;) {
                if (k == cap) {
                    cfield *nf = cap > (1u << 24) ? NULL : realloc(f, 2 * cap * sizeof *f);
                    if (!nf) {
                        free(f);
                        return ABAC_E_NOMEM;
                    }
                    f = nf;
                    cap *= 2;
                }
                if ((rc = jstring(J, &f[k].key))) {
                    free(f);
                    return rc;
                }
                for (uint32_t j = 0; j < k; j++) {
                    if (cstr_eq(f[j].key, f[k].key)) {
                        free(f);
                        return jfail(J, "duplicate key in an object");
                    }
                }
                jws(J);
                if (J->i >= J->n || J->s[J->i] != ':') {
                    free(f);
                    return jfail(J, "expected ':'");
                }
                J->i++;
                /* escapes: "__entity" and "__extn" as the only key */
                if (k == 0 && cstr_eq(f[0].key, (cstr){"__entity", 8})) {
                    cuid *u = pool_alloc(J->p, sizeof *u);
                    if (!u) {
                        free(f);
                        return ABAC_E_NOMEM;
                    }
                    if ((rc = juid(J, u, 0, depth + 1))) {
                        free(f);
                        return rc;
                    }
                    f[k].v.t = V_ENT;
                    f[k].v.p = u;
                } else if ((rc = jvalue(J, &f[k].v, depth + 1))) {
                    free(f);
                    return rc;
                }
                k++;
                jws(J);
                if (J->i < J->n && J->s[J->i] == ',') {
                    J->i++;
                    continue;
                }
                if (J->i < J->n && J->s[J->i] == '}') {
                    J->i++;
                    break;
                }
                free(f);
                return jfail(J, "expected ',' or '}'");
            }
        }
        if (k == 1 && cstr_eq(f[0].key, (cstr){"__entity", 8})) {
            *out = f[0].v;
            free(f);
            return 0;
        }
        if (k == 1 && cstr_eq(f[0].key, (cstr){"__extn", 6})) {
            const cval xv = f[0].v, *x = &xv;
            free(f);
            cstr fn = {0}, arg = {0};
            int hf = 0, ha = 0;
            if (x->t == V_REC) {
                const cfield *xf = x->p;
                for (uint32_t j = 0; j < x->n; j++) {
                    if (cstr_eq(xf[j].key, (cstr){"fn", 2}) && xf[j].v.t == V_STR) {
                        fn = (cstr){xf[j].v.p, xf[j].v.n};
                        hf = 1;
                    } else if (cstr_eq(xf[j].key, (cstr){"arg", 3}) && xf[j].v.t == V_STR) {
                        arg = (cstr){xf[j].v.p, xf[j].v.n};
                        ha = 1;
                    }
                }
            }
            if (!hf || !ha)
                return jfail(J, "expected {\"__extn\": {\"fn\": ..., \"arg\": ...}}");
            if (cstr_eq(fn, (cstr){"decimal", 7})) {
                out->t = V_DEC;
                if (cedar_parse_decimal(arg.p, arg.n, &out->i))
                    return jfail(J, "a bad decimal literal");
                return 0;
            }
            if (cstr_eq(fn, (cstr){"ip", 2})) { /* as Cedar: "ipaddr" names the type only */
                cip *ip = pool_alloc(J->p, sizeof *ip);
                if (!ip)
                    return ABAC_E_NOMEM;
                if (cedar_parse_ip(arg.p, arg.n, ip))
                    return jfail(J, "a bad ip literal");
                out->t = V_IP;
                out->p = ip;
                return 0;
            }
            if (cstr_eq(fn, (cstr){"datetime", 8}) || cstr_eq(fn, (cstr){"duration", 8})) {
                int dt = fn.p[1] == 'a';
                out->t = dt ? V_DATETIME : V_DURATION;
                if ((dt ? cedar_parse_datetime : cedar_parse_duration)(arg.p, arg.n, &out->i))
                    return jfail(J, "a bad %s literal", dt ? "datetime" : "duration");
                return 0;
            }
            return jfail(J, "an unknown extension function");
        }
        cfield *dst = pool_alloc(J->p, (k ? k : 1) * sizeof *dst);
        if (!dst) {
            free(f);
            return ABAC_E_NOMEM;
        }
        memcpy(dst, f, k * sizeof *f);
        free(f);
        out->t = V_REC;
        out->p = dst;
        out->n = k;
        return 0;
    }
    return jfail(J, "expected a value");
}

int cedar_json_value(pool *p, const char *s, size_t len, size_t *pos, cval *out, int depth,
                     char *msg, size_t cap) {
    jctx J = {p, s, len, *pos, msg, cap};
    int rc = jvalue(&J, out, depth);
    *pos = J.i;
    return rc;
}

/* ---- entities ---- */
uint32_t cuid_hash(const cuid *u) {
    uint32_t h = 2166136261u;
    for (uint32_t k = 0; k < u->type.n; k++)
        h = (h ^ (uint8_t)u->type.p[k]) * 16777619u;
    h = (h ^ 0xffu) * 16777619u;
    h = (h ^ u->type.n) * 16777619u;
    for (uint32_t k = 0; k < u->id.n; k++)
        h = (h ^ (uint8_t)u->id.p[k]) * 16777619u;
    /* FNV's low bits barely change between "u1" and "u2": mix before masking */
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

const centity *cedar_entity_find(const abac_cedar_entities *es, const cuid *u) {
    if (!es || !es->hcap)
        return NULL;
    uint32_t m = es->hcap - 1, h = u->h & m;
    for (;;) {
        uint32_t v = es->ht[h];
        if (!v)
            return NULL;
        if (cuid_eq(&es->e[v - 1].uid, u))
            return &es->e[v - 1];
        h = (h + 1) & m;
    }
}

static int ent_fields(jctx *J, const cval *obj, centity *e) {
    if (obj->t != V_REC)
        return jfail(J, "expected an entity object");
    const cfield *f = obj->p;
    int have_uid = 0, have_attrs = 0, have_parents = 0;
    e->attrs.t = V_REC;
    e->tags.t = V_REC;
    for (uint32_t k = 0; k < obj->n; k++) {
        if (cstr_eq(f[k].key, (cstr){"uid", 3})) {
            if (f[k].v.t == V_ENT)
                e->uid = *(const cuid *)f[k].v.p;
            else if (f[k].v.t != V_REC || juid_fields(J, f[k].v.p, f[k].v.n, &e->uid))
                return jfail(J, "an entity's \"uid\" is {\"type\": ..., \"id\": ...}");
            have_uid = 1;
        } else if (cstr_eq(f[k].key, (cstr){"attrs", 5})) {
            if (f[k].v.t != V_REC)
                return jfail(J, "an entity's \"attrs\" is an object");
            e->attrs = f[k].v;
            have_attrs = 1;
        } else if (cstr_eq(f[k].key, (cstr){"tags", 4})) {
            if (f[k].v.t != V_REC)
                return jfail(J, "an entity's \"tags\" is an object");
            e->tags = f[k].v;
        } else if (cstr_eq(f[k].key, (cstr){"parents", 7})) {
            if (f[k].v.t != V_SET)
                return jfail(J, "an entity's \"parents\" is an array");
            const cval *pv = f[k].v.p;
            cuid *par = pool_alloc(J->p, (f[k].v.n ? f[k].v.n : 1) * sizeof *par);
            if (!par)
                return ABAC_E_NOMEM;
            for (uint32_t j = 0; j < f[k].v.n; j++) {
                if (pv[j].t == V_ENT)
                    par[j] = *(const cuid *)pv[j].p;
                else if (pv[j].t != V_REC || juid_fields(J, pv[j].p, pv[j].n, &par[j]))
                    return jfail(J, "a parent is {\"type\": ..., \"id\": ...}");
            }
            e->parents = par;
            have_parents = 1;
            e->n_parents = f[k].v.n;
        } else {
            return jfail(J, "an unknown key in an entity (uid, attrs, parents, tags)");
        }
    }
    /* Cedar requires all three */
    if (!have_uid || !have_attrs || !have_parents)
        return jfail(J, "an entity needs \"uid\", \"attrs\" and \"parents\"");
    return 0;
}

int abac_cedar_entities_parse_json(abac_cedar_entities **out, const char *json, size_t len,
                                   char *err_msg, size_t err_cap) {
    if (err_msg && err_cap)
        err_msg[0] = 0;
    if (!out || (!json && len))
        return ABAC_E_INVALID;
    *out = NULL;
    if (len > C_MAX_JSON)
        return ABAC_E_LIMIT;
    abac_cedar_entities *es = calloc(1, sizeof *es);
    if (!es)
        return ABAC_E_NOMEM;
    jctx J = {&es->mem, json ? json : "", len, 0, err_msg, err_cap};
    cval top;
    int rc = jvalue(&J, &top, 0);
    if (!rc) {
        jws(&J);
        if (J.i != J.n)
            rc = jfail(&J, "trailing bytes after the JSON value");
        else if (top.t != V_SET)
            rc = jfail(&J, "expected an array of entities");
    }
    uint32_t *mark = NULL;
    if (!rc && top.n) {
        es->e = calloc(top.n, sizeof *es->e);
        es->hcap = 16;
        while (es->hcap < 2u * top.n)
            es->hcap *= 2;
        es->ht = calloc(es->hcap, sizeof *es->ht);
        mark = calloc(top.n, sizeof *mark);
        if (!es->e || !es->ht || !mark)
            rc = ABAC_E_NOMEM;
    }
    const cval *items = rc ? NULL : top.p;
    for (uint32_t k = 0; !rc && k < top.n; k++) {
        centity *e = &es->e[k];
        if ((rc = ent_fields(&J, &items[k], e)))
            break;
        uint32_t m = es->hcap - 1, h = e->uid.h & m;
        while (es->ht[h]) {
            if (cuid_eq(&es->e[es->ht[h] - 1].uid, &e->uid)) {
                rc = jfail(&J, "duplicate entity %.*s::\"%.*s\"", (int)(e->uid.type.n % 64),
                           e->uid.type.p, (int)(e->uid.id.n % 64), e->uid.id.p);
                break;
            }
            h = (h + 1) & m;
        }
        if (rc)
            break;
        es->ht[h] = k + 1;
        es->n = k + 1;
    }
    /* transitive closure of the parents: a depth-first walk per entity (marks by walk id) */
    const cuid **stack = NULL, **acc = NULL;
    size_t scap = 0;
    for (uint32_t k = 0; !rc && k < es->n; k++) {
        centity *e = &es->e[k];
        size_t sp = 0, na = 0;
        if (scap < 16u + e->n_parents) {
            scap = 16u + e->n_parents;
            stack = realloc(stack, scap * sizeof *stack);
            acc = realloc(acc, scap * sizeof *acc);
            if (!stack || !acc) {
                rc = ABAC_E_NOMEM;
                break;
            }
        }
        mark[k] = k + 1;
        for (uint32_t j = 0; j < e->n_parents; j++)
            stack[sp++] = &e->parents[j];
        while (sp) {
            const cuid *u = stack[--sp];
            const centity *pe = cedar_entity_find(es, u);
            int seen = 0;
            if (pe) {
                uint32_t pi = (uint32_t)(pe - es->e);
                if (mark[pi] == k + 1)
                    seen = 1;
                else
                    mark[pi] = k + 1;
                if (pe != e && !seen)
                    u = &pe->uid;
            } else {
                for (size_t q = 0; q < na; q++)
                    if (cuid_eq(acc[q], u))
                        seen = 1;
            }
            if (seen)
                continue;
            if (pe == e)
                continue;
            if (na + 1 + (pe ? pe->n_parents : 0) + sp >= scap) {
                size_t nc = scap * 2 + (pe ? pe->n_parents : 0) + sp;
                const cuid **ns = realloc(stack, nc * sizeof *ns);
                if (!ns) {
                    rc = ABAC_E_NOMEM;
                    break;
                }
                stack = ns;
                const cuid **na2 = realloc(acc, nc * sizeof *na2);
                if (!na2) {
                    rc = ABAC_E_NOMEM;
                    break;
                }
                acc = na2;
                scap = nc;
            }
            acc[na++] = u;
            if (pe)
                for (uint32_t j = 0; j < pe->n_parents; j++)
                    stack[sp++] = &pe->parents[j];
        }
        if (rc)
            break;
        e->anc = pool_alloc(&es->mem, (na ? na : 1) * sizeof *e->anc);
        if (!e->anc) {
            rc = ABAC_E_NOMEM;
            break;
        }
        memcpy(e->anc, acc, na * sizeof *acc);
        e->n_anc = (uint32_t)na;
    }
    free(stack);
    free(acc);
    free(mark);
    if (rc) {
        if (rc == ABAC_E_NOMEM && err_msg && err_cap)
            snprintf(err_msg, err_cap, "out of memory");
        abac_cedar_entities_free(es);
        return rc;
    }
    *out = es;
    return 0;
}

void abac_cedar_entities_free(abac_cedar_entities *es) {
    if (!es)
        return;
    pool_free(&es->mem);
    free(es->e);
    free(es->ht);
    free(es);
}

size_t abac_cedar_entity_count(const abac_cedar_entities *es) {
    return es ? es->n : 0;
}

/* ---- requests ---- */
int abac_cedar_request_parse_json(abac_cedar_request **out, const char *json, size_t len,
                                  char *err_msg, size_t err_cap) {
    if (err_msg && err_cap)
        err_msg[0] = 0;
    if (!out || (!json && len))
        return ABAC_E_INVALID;
    *out = NULL;
    if (len > C_MAX_JSON)
        return ABAC_E_LIMIT;
    abac_cedar_request *rq = calloc(1, sizeof *rq);
    if (!rq)
        return ABAC_E_NOMEM;
    rq->context.t = V_REC;
    jctx J = {&rq->mem, json ? json : "", len, 0, err_msg, err_cap};
    int rc = 0, have[3] = {0, 0, 0};
    static const char *names[3] = {"principal", "action", "resource"};
    jws(&J);
    if (J.i >= J.n || J.s[J.i] != '{')
        rc = jfail(&J, "expected a request object");
    else
        J.i++;
    jws(&J);
    if (!rc && J.i < J.n && J.s[J.i] == '}') {
        J.i++;
    } else {
        while (!rc) {
            cstr key;
            if ((rc = jstring(&J, &key)))
                break;
            jws(&J);
            if (J.i >= J.n || J.s[J.i] != ':') {
                rc = jfail(&J, "expected ':'");
                break;
            }
            J.i++;
            int which = -1;
            for (int k = 0; k < 3; k++)
                if (cstr_eq(key, (cstr){names[k], (uint32_t)strlen(names[k])}))
                    which = k;
            if (which >= 0) {
                if (have[which]) {
                    rc = jfail(&J, "duplicate key \"%s\"", names[which]);
                    break;
                }
                have[which] = 1;
                if ((rc = juid(&J, &rq->uid[which], 1, 1)))
                    break;
            } else if (cstr_eq(key, (cstr){"context", 7})) {
                if ((rc = jvalue(&J, &rq->context, 1)))
                    break;
                if (rq->context.t != V_REC) {
                    rc = jfail(&J, "\"context\" is an object");
                    break;
                }
            } else {
                rc = jfail(&J, "an unknown request key (principal, action, resource, context)");
                break;
            }
            jws(&J);
            if (J.i < J.n && J.s[J.i] == ',') {
                J.i++;
                continue;
            }
            if (J.i < J.n && J.s[J.i] == '}') {
                J.i++;
                break;
            }
            rc = jfail(&J, "expected ',' or '}'");
        }
    }
    if (!rc) {
        jws(&J);
        if (J.i != J.n)
            rc = jfail(&J, "trailing bytes after the request");
        else if (!have[0] || !have[1] || !have[2])
            rc = jfail(&J, "a request needs principal, action and resource");
    }
    if (rc) {
        if (rc == ABAC_E_NOMEM && err_msg && err_cap)
            snprintf(err_msg, err_cap, "out of memory");
        abac_cedar_request_free(rq);
        return rc;
    }
    *out = rq;
    return 0;
}

void abac_cedar_request_free(abac_cedar_request *rq) {
    if (!rq)
        return;
    pool_free(&rq->mem);
    free(rq);
}
