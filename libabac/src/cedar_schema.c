/* Cedar schemas (https://docs.cedarpolicy.com/schema/schema.html): the JSON schema format and
 * the human-readable schema syntax read into one in-memory schema; strict validation of a
 * policy set against it (Cedar's validator in strict mode: per request environment — action,
 * principal type, resource type — every condition is type-checked, optional attributes need a
 * `has` test, set and `if` branches need one type), and conformance of entities and requests. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cedar_int.h"

#define S_MAX_TYPES  4096u /* entity types, actions, common types: each */
#define S_MAX_ERRS   4096u /* validation errors kept */
#define S_MAX_PERPOL 32u
#define S_MAX_ENVS   (1u << 20) /* (action, principal type, resource type) per policy */

#include "cedar_schema_int.h"

static ctype T_ERR_ = {K_ERR, 0, 0, 0, 0, 0, 0, {0, 0}, {0, 0}};
static ctype T_BOOL_ = {K_BOOL, 0, 0, 0, 0, 0, 0, {0, 0}, {0, 0}};
static ctype T_TRUE_ = {K_TRUE, 0, 0, 0, 0, 0, 0, {0, 0}, {0, 0}};
static ctype T_FALSE_ = {K_FALSE, 0, 0, 0, 0, 0, 0, {0, 0}, {0, 0}};
static ctype T_LONG_ = {K_LONG, 0, 0, 0, 0, 0, 0, {0, 0}, {0, 0}};
static ctype T_STR_ = {K_STR, 0, 0, 0, 0, 0, 0, {0, 0}, {0, 0}};
static ctype T_DEC_ = {K_DEC, 0, 0, 0, 0, 0, 0, {0, 0}, {0, 0}};
static ctype T_IP_ = {K_IP, 0, 0, 0, 0, 0, 0, {0, 0}, {0, 0}};
static ctype T_DT_ = {K_DT, 0, 0, 0, 0, 0, 0, {0, 0}, {0, 0}};
static ctype T_DUR_ = {K_DUR, 0, 0, 0, 0, 0, 0, {0, 0}, {0, 0}};
static ctype T_EMPTYREC_ = {K_REC, 0, 0, 0, 0, 0, 0, {0, 0}, {0, 0}};
#define T_ERR      (&T_ERR_)
#define T_BOOL     (&T_BOOL_)
#define T_TRUE     (&T_TRUE_)
#define T_FALSE    (&T_FALSE_)
#define T_LONG     (&T_LONG_)
#define T_STR      (&T_STR_)
#define T_DEC      (&T_DEC_)
#define T_IP       (&T_IP_)
#define T_DT       (&T_DT_)
#define T_DUR      (&T_DUR_)
#define T_EMPTYREC (&T_EMPTYREC_)

static int is_bool(const ctype *t) {
    return t->k == K_BOOL || t->k == K_TRUE || t->k == K_FALSE;
}

static cstr CS(const char *s) {
    return (cstr){s, (uint32_t)strlen(s)};
}

static cstr qualify(pool *p, cstr ns, cstr name) {
    if (!ns.n)
        return name;
    char *d = pool_alloc(p, ns.n + 2 + name.n + 1);
    if (!d)
        return (cstr){NULL, 0};
    memcpy(d, ns.p, ns.n);
    memcpy(d + ns.n, "::", 2);
    memcpy(d + ns.n + 2, name.p, name.n);
    d[ns.n + 2 + name.n] = 0;
    return (cstr){d, ns.n + 2 + name.n};
}

static int has_colons(cstr s) {
    for (uint32_t i = 0; i + 1 < s.n; i++)
        if (s.p[i] == ':' && s.p[i + 1] == ':')
            return 1;
    return 0;
}

static int64_t find_ent(const abac_cedar_schema *S, cstr name) {
    for (uint32_t i = 0; i < S->ne; i++)
        if (cstr_eq(S->e[i].name, name))
            return i;
    return -1;
}
static int64_t find_ct(const abac_cedar_schema *S, cstr name) {
    for (uint32_t i = 0; i < S->nct; i++)
        if (cstr_eq(S->ct[i].name, name))
            return i;
    return -1;
}
static int64_t find_act(const abac_cedar_schema *S, const cuid *u) {
    for (uint32_t i = 0; i < S->na; i++)
        if (cstr_eq(S->a[i].uid.id, u->id) && cstr_eq(S->a[i].uid.type, u->type))
            return i;
    return -1;
}
static int is_action_type(const abac_cedar_schema *S, cstr t) {
    for (uint32_t i = 0; i < S->na; i++)
        if (cstr_eq(S->a[i].uid.type, t))
            return 1;
    /* "Action" and "NS::Action" are action entity types even with no action declared */
    return (t.n == 6 && memcmp(t.p, "Action", 6) == 0) ||
           (t.n > 8 && memcmp(t.p + t.n - 8, "::Action", 8) == 0);
}

/* ---- errors while reading ---- */
typedef struct sread {
    abac_cedar_schema *S;
    char *msg;
    size_t cap;
    uint32_t *eline, *ecol;
} sread;

__attribute__((format(printf, 3, 4))) static int sfail(sread *R, int code, const char *fmt, ...) {
    if (R->msg && R->cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(R->msg, R->cap, fmt, ap);
        va_end(ap);
    }
    return code;
}

static ctype *newtype(pool *p, int k) {
    ctype *t = pool_alloc(p, sizeof *t);
    if (t) {
        memset(t, 0, sizeof *t);
        t->k = (uint8_t)k;
    }
    return t;
}

static int grow(void **arr, uint32_t *cap, uint32_t n, size_t elt) {
    if (n < *cap)
        return 0;
    if (n >= S_MAX_TYPES)
        return ABAC_E_LIMIT;
    uint32_t nc = *cap ? *cap * 2 : 16;
    void *na = realloc(*arr, nc * elt);
    if (!na)
        return ABAC_E_NOMEM;
    *arr = na;
    *cap = nc;
    return 0;
}

static int add_ent(sread *R, cstr ns, cstr name, sent **out) {
    abac_cedar_schema *S = R->S;
    if (cstr_eq(name, CS("Action")))
        return sfail(R, ABAC_E_SCHEMA, "entity type `Action` declared in `entityTypes` list");
    cstr q = qualify(&S->mem, ns, name);
    if (!q.p)
        return ABAC_E_NOMEM;
    if (find_ent(S, q) >= 0)
        return sfail(R, ABAC_E_SCHEMA, "entity type `%.*s` is declared twice", (int)q.n, q.p);
    int rc = grow((void **)&S->e, &S->cape, S->ne, sizeof *S->e);
    if (rc)
        return rc == ABAC_E_LIMIT ? sfail(R, rc, "more than %u entity types", S_MAX_TYPES) : rc;
    sent *e = &S->e[S->ne++];
    memset(e, 0, sizeof *e);
    e->name = q;
    e->ns = ns;
    e->shape = T_EMPTYREC;
    *out = e;
    return 0;
}

static int add_act(sread *R, cstr ns, cstr id, sact **out) {
    abac_cedar_schema *S = R->S;
    cuid u;
    u.type = qualify(&S->mem, ns, CS("Action"));
    u.id = id;
    if (!u.type.p)
        return ABAC_E_NOMEM;
    u.h = cuid_hash(&u);
    if (find_act(S, &u) >= 0)
        return sfail(R, ABAC_E_SCHEMA, "action `%.*s::\"%.*s\"` is declared twice", (int)u.type.n,
                     u.type.p, (int)id.n, id.p);
    int rc = grow((void **)&S->a, &S->capa, S->na, sizeof *S->a);
    if (rc)
        return rc == ABAC_E_LIMIT ? sfail(R, rc, "more than %u actions", S_MAX_TYPES) : rc;
    sact *a = &S->a[S->na++];
    memset(a, 0, sizeof *a);
    a->uid = u;
    a->ns = ns;
    *out = a;
    return 0;
}

static int add_ct(sread *R, cstr ns, cstr name, ctype *t) {
    abac_cedar_schema *S = R->S;
    static const char *const reserved[] = {
        "Long",      "String",  "Bool",   "Boolean",  "Record",   "Set",           "Entity",
        "Extension", "decimal", "ipaddr", "datetime", "duration", "EntityOrCommon"};
    for (size_t k = 0; k < sizeof reserved / sizeof reserved[0]; k++)
        if (cstr_eq(name, CS(reserved[k])))
            return sfail(R, ABAC_E_SCHEMA, "common type name `%s` is reserved", reserved[k]);
    cstr q = qualify(&S->mem, ns, name);
    if (!q.p)
        return ABAC_E_NOMEM;
    if (find_ct(S, q) >= 0)
        return sfail(R, ABAC_E_SCHEMA, "common type `%.*s` is declared twice", (int)q.n, q.p);
    int rc = grow((void **)&S->ct, &S->capct, S->nct, sizeof *S->ct);
    if (rc)
        return rc == ABAC_E_LIMIT ? sfail(R, rc, "more than %u common types", S_MAX_TYPES) : rc;
    S->ct[S->nct].name = q;
    S->ct[S->nct].t = t;
    S->nct++;
    return 0;
}

/* builtin type names (also with the __cedar:: prefix); NULL if not one */
static ctype *builtin(cstr n, int json) {
    if (n.n > 9 && memcmp(n.p, "__cedar::", 9) == 0) {
        n.p += 9;
        n.n -= 9;
    }
    if (cstr_eq(n, CS("Long")))
        return T_LONG;
    if (cstr_eq(n, CS("String")))
        return T_STR;
    if (cstr_eq(n, CS(json ? "Boolean" : "Bool")))
        return T_BOOL;
    if (cstr_eq(n, CS("decimal")))
        return T_DEC;
    if (cstr_eq(n, CS("ipaddr")))
        return T_IP;
    if (cstr_eq(n, CS("datetime")))
        return T_DT;
    if (cstr_eq(n, CS("duration")))
        return T_DUR;
    return NULL;
}

static int resolve(sread *R, ctype *t, int depth);

/* a name as written in namespace ns: common type, then entity type, in ns then the empty
 * namespace, then a builtin (Cedar's resolution order) */
static int resolve_ref(sread *R, ctype *t, int depth) {
    abac_cedar_schema *S = R->S;
    cstr cands[2];
    int nc = 0;
    if (!has_colons(t->name) && t->ns.n) {
        cands[nc] = qualify(&S->mem, t->ns, t->name);
        if (!cands[nc].p)
            return ABAC_E_NOMEM;
        nc++;
    }
    cands[nc++] = t->name;
    for (int c = 0; c < nc; c++) {
        if (t->want != 1) {
            int64_t i = find_ct(S, cands[c]);
            if (i >= 0) {
                ctype *ct = S->ct[i].t;
                if (ct->resolving)
                    return sfail(R, ABAC_E_SCHEMA, "common type `%.*s` refers to itself",
                                 (int)cands[c].n, cands[c].p);
                ct->resolving = 1;
                int rc = resolve(R, ct, depth + 1);
                ct->resolving = 0;
                if (rc)
                    return rc;
                *t = *ct;
                return 0;
            }
        }
        if (t->want != 2 && find_ent(S, cands[c]) >= 0) {
            t->k = K_ENT;
            t->name = cands[c];
            return 0;
        }
    }
    if (t->want != 1) { /* 3: written in the human syntax, whose boolean type is `Bool` */
        ctype *b = builtin(t->name, t->want == 2 ? 1 : 0);
        if (!b && t->want == 0)
            b = builtin(t->name, 1);
        if (b) {
            *t = *b;
            return 0;
        }
    }
    return sfail(R, ABAC_E_SCHEMA, "failed to resolve %s `%.*s`",
                 t->want == 1   ? "entity type"
                 : t->want == 2 ? "common type"
                                : "type",
                 (int)t->name.n, t->name.p);
}

static int resolve(sread *R, ctype *t, int depth) {
    if (depth > (int)C_MAX_DEPTH)
        return sfail(R, ABAC_E_LIMIT, "types nested too deeply");
    int rc;
    if (t->k == K_REF)
        return resolve_ref(R, t, depth);
    if (t->k == K_SET)
        return resolve(R, t->elem, depth + 1);
    if (t->k == K_REC)
        for (uint32_t i = 0; i < t->n; i++)
            if ((rc = resolve(R, t->attrs[i].t, depth + 1)))
                return rc;
    return 0;
}

static int resolve_ent_name(sread *R, cstr ns, cstr *name) {
    ctype t = {K_REF, 0, 1, 0, 0, 0, 0, *name, ns};
    int rc = resolve_ref(R, &t, 0);
    if (rc)
        return rc;
    *name = t.name;
    return 0;
}

static void setbit(uint64_t *rows, size_t words, size_t i, size_t j) {
    rows[i * words + (j >> 6)] |= (uint64_t)1 << (j & 63);
}
static int getbit(const uint64_t *rows, size_t words, size_t i, size_t j) {
    return (rows[i * words + (j >> 6)] >> (j & 63)) & 1;
}

/* transitive closure, a row at a time (Warshall with 64-bit words) */
static void close_rows(uint64_t *rows, size_t n, size_t words) {
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; i < n; i++)
            if (getbit(rows, words, i, k))
                for (size_t w = 0; w < words; w++)
                    rows[i * words + w] |= rows[k * words + w];
}

/* resolve every name, then close the hierarchies transitively */
static int finish(sread *R) {
    abac_cedar_schema *S = R->S;
    int rc;
    for (uint32_t i = 0; i < S->nct; i++) {
        S->ct[i].t->resolving = 1;
        rc = resolve(R, S->ct[i].t, 0);
        S->ct[i].t->resolving = 0;
        if (rc)
            return rc;
    }
    for (uint32_t i = 0; i < S->ne; i++) {
        sent *e = &S->e[i];
        for (uint32_t j = 0; j < e->n_mem; j++)
            if ((rc = resolve_ent_name(R, e->ns, &e->mem[j])))
                return rc;
        if ((rc = resolve(R, e->shape, 0)) || (e->tags && (rc = resolve(R, e->tags, 0))))
            return rc;
        if (e->shape->k != K_REC)
            return sfail(R, ABAC_E_SCHEMA, "the shape of entity type `%.*s` is not a record",
                         (int)e->name.n, e->name.p);
    }
    for (uint32_t i = 0; i < S->na; i++) {
        sact *a = &S->a[i];
        a->pti = pool_alloc(&S->mem, (a->n_pt + a->n_rt + 1) * sizeof(uint32_t));
        if (!a->pti)
            return ABAC_E_NOMEM;
        a->rti = a->pti + a->n_pt;
        for (uint32_t j = 0; j < a->n_pt; j++) {
            if ((rc = resolve_ent_name(R, a->ns, &a->pt[j])))
                return rc;
            a->pti[j] = (uint32_t)find_ent(S, a->pt[j]);
        }
        for (uint32_t j = 0; j < a->n_rt; j++) {
            if ((rc = resolve_ent_name(R, a->ns, &a->rt[j])))
                return rc;
            a->rti[j] = (uint32_t)find_ent(S, a->rt[j]);
        }
        if (a->ctx) {
            if ((rc = resolve(R, a->ctx, 0)))
                return rc;
            if (a->ctx->k != K_REC)
                return sfail(R, ABAC_E_SCHEMA, "the context of action `%.*s` is not a record",
                             (int)a->uid.id.n, a->uid.id.p);
        }
        for (uint32_t j = 0; j < a->n_mem; j++)
            if (find_act(S, &a->mem[j]) < 0)
                return sfail(R, ABAC_E_SCHEMA,
                             "action `%.*s` is a member of undeclared action "
                             "`%.*s::\"%.*s\"`",
                             (int)a->uid.id.n, a->uid.id.p, (int)a->mem[j].type.n, a->mem[j].type.p,
                             (int)a->mem[j].id.n, a->mem[j].id.p);
    }
    size_t ne = S->ne, na = S->na;
    S->ewords = (ne + 63) / 64 + 1;
    S->awords = (na + 63) / 64 + 1;
    S->eanc = calloc(ne * S->ewords + 1, sizeof *S->eanc);
    S->aanc = calloc(na * S->awords + 1, sizeof *S->aanc);
    if (!S->eanc || !S->aanc)
        return ABAC_E_NOMEM;
    for (size_t i = 0; i < ne; i++)
        for (uint32_t j = 0; j < S->e[i].n_mem; j++)
            setbit(S->eanc, S->ewords, i, (size_t)find_ent(S, S->e[i].mem[j]));
    for (size_t i = 0; i < na; i++)
        for (uint32_t j = 0; j < S->a[i].n_mem; j++)
            setbit(S->aanc, S->awords, i, (size_t)find_act(S, &S->a[i].mem[j]));
    close_rows(S->eanc, ne, S->ewords);
    close_rows(S->aanc, na, S->awords);
    for (size_t i = 0; i < na; i++)
        if (getbit(S->aanc, S->awords, i, i))
            return sfail(R, ABAC_E_SCHEMA, "action `%.*s` is its own ancestor (a cycle)",
                         (int)S->a[i].uid.id.n, S->a[i].uid.id.p);
    return 0;
}

/* ---- the JSON schema format ---- */
static const cval *jget(const cval *obj, const char *key) {
    const cfield *f = obj->p;
    for (uint32_t i = 0; i < obj->n; i++)
        if (cstr_eq(f[i].key, CS(key)))
            return &f[i].v;
    return NULL;
}

static int jonly(sread *R, const cval *obj, const char *what, const char *const *keys) {
    const cfield *f = obj->p;
    for (uint32_t i = 0; i < obj->n; i++) {
        int ok = 0;
        for (size_t k = 0; keys[k]; k++)
            ok |= cstr_eq(f[i].key, CS(keys[k]));
        if (!ok)
            return sfail(R, ABAC_E_SCHEMA, "unknown field `%.*s` in %s", (int)f[i].key.n,
                         f[i].key.p, what);
    }
    return 0;
}

static int jtype(sread *R, cstr ns, const cval *v, ctype **out, int depth);

static int jrecord(sread *R, cstr ns, const cval *v, ctype *t, int depth) {
    static const char *const rkeys[] = {"type",        "attributes", "additionalAttributes",
                                        "annotations", "required",   NULL};
    static const char *const akeys[] = {"type",        "element",  "attributes",
                                        "name",        "required", "additionalAttributes",
                                        "annotations", NULL};
    int rc;
    if ((rc = jonly(R, v, "a record type", rkeys)))
        return rc;
    const cval *at = jget(v, "attributes"), *aa = jget(v, "additionalAttributes");
    if (!at)
        return sfail(R, ABAC_E_SCHEMA, "a Record type needs `attributes`");
    if (aa && aa->t != V_BOOL)
        return sfail(R, ABAC_E_SCHEMA, "additionalAttributes must be a boolean");
    t->k = K_REC;
    t->open = aa && aa->i;
    if (!at)
        return 0;
    if (at->t != V_REC)
        return sfail(R, ABAC_E_SCHEMA, "attributes must be an object");
    const cfield *f = at->p;
    t->n = at->n;
    t->attrs = pool_alloc(&R->S->mem, (at->n ? at->n : 1) * sizeof *t->attrs);
    if (!t->attrs)
        return ABAC_E_NOMEM;
    for (uint32_t i = 0; i < at->n; i++) {
        if (f[i].v.t != V_REC)
            return sfail(R, ABAC_E_SCHEMA, "attribute `%.*s` must be a type object",
                         (int)f[i].key.n, f[i].key.p);
        if ((rc = jonly(R, &f[i].v, "an attribute", akeys)))
            return rc;
        const cval *req = jget(&f[i].v, "required");
        if (req && req->t != V_BOOL)
            return sfail(R, ABAC_E_SCHEMA, "required must be a boolean");
        t->attrs[i].name = f[i].key;
        t->attrs[i].req = !req || req->i;
        if ((rc = jtype(R, ns, &f[i].v, &t->attrs[i].t, depth + 1)))
            return rc;
    }
    return 0;
}

static int jtype(sread *R, cstr ns, const cval *v, ctype **out, int depth) {
    if (depth > (int)C_MAX_DEPTH)
        return sfail(R, ABAC_E_LIMIT, "types nested too deeply");
    if (v->t != V_REC)
        return sfail(R, ABAC_E_SCHEMA, "a type must be an object");
    const cval *ty = jget(v, "type");
    if (!ty || ty->t != V_STR)
        return sfail(R, ABAC_E_SCHEMA, "a type needs a string field `type`");
    cstr k = {ty->p, ty->n};
    pool *p = &R->S->mem;
    ctype *t = newtype(p, K_REF);
    if (!t)
        return ABAC_E_NOMEM;
    *out = t;
    int rc;
    if (cstr_eq(k, CS("Record")))
        return jrecord(R, ns, v, t, depth);
    const cval *name = jget(v, "name");
    if (cstr_eq(k, CS("Set"))) {
        const cval *el = jget(v, "element");
        if (!el)
            return sfail(R, ABAC_E_SCHEMA, "a Set type needs `element`");
        t->k = K_SET;
        return jtype(R, ns, el, &t->elem, depth + 1);
    }
    if (cstr_eq(k, CS("Entity")) || cstr_eq(k, CS("EntityOrCommon")) ||
        cstr_eq(k, CS("Extension"))) {
        if (!name || name->t != V_STR)
            return sfail(R, ABAC_E_SCHEMA, "a %.*s type needs a string `name`", (int)k.n, k.p);
        cstr nm = {name->p, name->n};
        if (k.p[1] == 'x') { /* Extension */
            ctype *b = builtin(nm, 1);
            if (!b || b == T_LONG || b == T_STR || b == T_BOOL)
                return sfail(R, ABAC_E_SCHEMA, "unknown extension type `%.*s`", (int)nm.n, nm.p);
            *out = b;
            return 0;
        }
        t->name = nm;
        t->ns = ns;
        t->want = cstr_eq(k, CS("Entity")) ? 1 : 0;
        return 0;
    }
    static const char *const skeys[] = {"type", "required", "annotations", NULL};
    if ((rc = jonly(R, v, "a type", skeys)))
        return rc;
    ctype *b = builtin(k, 1);
    if (!b) /* Cedar's JSON reader also takes the human name `Bool` */
        b = builtin(k, 0);
    if (b) {
        *out = b;
        return 0;
    }
    t->name = k;
    t->ns = ns;
    t->want = 2;
    return 0;
}

static int jstrlist(sread *R, const cval *v, const char *what, cstr **out, uint32_t *n) {
    if (v->t != V_SET)
        return sfail(R, ABAC_E_SCHEMA, "%s must be an array of strings", what);
    const cval *el = v->p;
    *out = pool_alloc(&R->S->mem, (v->n ? v->n : 1) * sizeof **out);
    if (!*out)
        return ABAC_E_NOMEM;
    for (uint32_t i = 0; i < v->n; i++) {
        if (el[i].t != V_STR)
            return sfail(R, ABAC_E_SCHEMA, "%s must be an array of strings", what);
        (*out)[i] = (cstr){el[i].p, el[i].n};
    }
    *n = v->n;
    return 0;
}

static int jnamespace(sread *R, cstr ns, const cval *v) {
    static const char *const nkeys[] = {"entityTypes", "actions", "commonTypes", "annotations",
                                        NULL};
    static const char *const ekeys[] = {"memberOfTypes", "shape",       "tags",
                                        "enum",          "annotations", NULL};
    static const char *const akeys[] = {"memberOf", "appliesTo", "annotations", NULL};
    static const char *const pkeys[] = {"principalTypes", "resourceTypes", "context", NULL};
    int rc;
    if (v->t != V_REC)
        return sfail(R, ABAC_E_SCHEMA, "namespace `%.*s` must be an object", (int)ns.n, ns.p);
    if ((rc = jonly(R, v, "a namespace", nkeys)))
        return rc;
    const cval *et = jget(v, "entityTypes"), *ac = jget(v, "actions"), *ct = jget(v, "commonTypes");
    if (!et || !ac)
        return sfail(R, ABAC_E_SCHEMA, "namespace `%.*s` needs `entityTypes` and `actions`",
                     (int)ns.n, ns.p);
    if (ct) {
        if (ct->t != V_REC)
            return sfail(R, ABAC_E_SCHEMA, "commonTypes must be an object");
        const cfield *f = ct->p;
        for (uint32_t i = 0; i < ct->n; i++) {
            ctype *t;
            if ((rc = jtype(R, ns, &f[i].v, &t, 0)) || (rc = add_ct(R, ns, f[i].key, t)))
                return rc;
        }
    }
    if (et->t != V_REC)
        return sfail(R, ABAC_E_SCHEMA, "entityTypes must be an object");
    const cfield *f = et->p;
    for (uint32_t i = 0; i < et->n; i++) {
        sent *e;
        const cval *d = &f[i].v;
        if (d->t != V_REC)
            return sfail(R, ABAC_E_SCHEMA, "entity type `%.*s` must be an object", (int)f[i].key.n,
                         f[i].key.p);
        if ((rc = jonly(R, d, "an entity type", ekeys)) || (rc = add_ent(R, ns, f[i].key, &e)))
            return rc;
        const cval *m = jget(d, "memberOfTypes"), *sh = jget(d, "shape"), *tg = jget(d, "tags"),
                   *en = jget(d, "enum");
        if (m && (rc = jstrlist(R, m, "memberOfTypes", &e->mem, &e->n_mem)))
            return rc;
        if (sh && (rc = jtype(R, ns, sh, &e->shape, 0)))
            return rc;
        if (tg && (rc = jtype(R, ns, tg, &e->tags, 0)))
            return rc;
        if (en) {
            if (sh || tg)
                return sfail(R, ABAC_E_SCHEMA, "an enumerated entity type has no shape or tags");
            if ((rc = jstrlist(R, en, "enum", &e->enums, &e->n_enum)))
                return rc;
            if (!e->n_enum)
                return sfail(R, ABAC_E_SCHEMA, "an enum needs at least one id");
            e->is_enum = 1;
        }
    }
    if (ac->t != V_REC)
        return sfail(R, ABAC_E_SCHEMA, "actions must be an object");
    f = ac->p;
    for (uint32_t i = 0; i < ac->n; i++) {
        sact *a;
        const cval *d = &f[i].v;
        if (d->t != V_REC)
            return sfail(R, ABAC_E_SCHEMA, "action `%.*s` must be an object", (int)f[i].key.n,
                         f[i].key.p);
        if ((rc = jonly(R, d, "an action", akeys)) || (rc = add_act(R, ns, f[i].key, &a)))
            return rc;
        const cval *m = jget(d, "memberOf"), *ap = jget(d, "appliesTo");
        if (m) {
            if (m->t != V_SET)
                return sfail(R, ABAC_E_SCHEMA, "memberOf must be an array");
            const cval *el = m->p;
            a->mem = pool_alloc(&R->S->mem, (m->n ? m->n : 1) * sizeof *a->mem);
            if (!a->mem)
                return ABAC_E_NOMEM;
            for (uint32_t j = 0; j < m->n; j++) {
                static const char *const mkeys[] = {"id", "type", NULL};
                const cval *id = el[j].t == V_REC ? jget(&el[j], "id") : NULL,
                           *ty = el[j].t == V_REC ? jget(&el[j], "type") : NULL;
                if (!id || id->t != V_STR || (ty && ty->t != V_STR))
                    return sfail(R, ABAC_E_SCHEMA, "memberOf entries are {\"id\": …, \"type\": …}");
                if ((rc = jonly(R, &el[j], "a memberOf entry", mkeys)))
                    return rc;
                cuid *u = &a->mem[j];
                u->id = (cstr){id->p, id->n};
                if (ty) {
                    cstr tn = {ty->p, ty->n};
                    /* a relative action type is taken in this namespace */
                    u->type = has_colons(tn) ? tn : qualify(&R->S->mem, ns, tn);
                } else {
                    u->type = a->uid.type;
                }
                if (!u->type.p)
                    return ABAC_E_NOMEM;
                u->h = cuid_hash(u);
            }
            a->n_mem = m->n;
        }
        if (ap) {
            if (ap->t != V_REC)
                return sfail(R, ABAC_E_SCHEMA, "appliesTo must be an object");
            if ((rc = jonly(R, ap, "appliesTo", pkeys)))
                return rc;
            const cval *pt = jget(ap, "principalTypes"), *rt = jget(ap, "resourceTypes"),
                       *cx = jget(ap, "context");
            a->applies = 1;
            if (!pt || !rt)
                return sfail(R, ABAC_E_SCHEMA,
                             "appliesTo of action `%.*s` needs `principalTypes` and "
                             "`resourceTypes`",
                             (int)f[i].key.n, f[i].key.p);
            if (pt && (rc = jstrlist(R, pt, "principalTypes", &a->pt, &a->n_pt)))
                return rc;
            if (rt && (rc = jstrlist(R, rt, "resourceTypes", &a->rt, &a->n_rt)))
                return rc;
            if (cx && (rc = jtype(R, ns, cx, &a->ctx, 0)))
                return rc;
        }
    }
    return 0;
}

static void schema_free(abac_cedar_schema *S) {
    if (!S)
        return;
    free(S->e);
    free(S->a);
    free(S->ct);
    free(S->eanc);
    free(S->aanc);
    pool_free(&S->mem);
    free(S);
}

void abac_cedar_schema_free(abac_cedar_schema *s) {
    schema_free(s);
}

int abac_cedar_schema_parse_json(abac_cedar_schema **out, const char *json, size_t len,
                                 char *err_msg, size_t err_cap) {
    if (err_msg && err_cap)
        err_msg[0] = 0;
    if (!out || (!json && len))
        return ABAC_E_INVALID;
    *out = NULL;
    if (len > C_MAX_SRC)
        return ABAC_E_LIMIT;
    abac_cedar_schema *S = calloc(1, sizeof *S);
    if (!S)
        return ABAC_E_NOMEM;
    sread R = {S, err_msg, err_cap, NULL, NULL};
    /* names point into the text: keep a copy */
    json = json ? pool_dup(&S->mem, json, len) : NULL;
    if (!json && len) {
        schema_free(S);
        return ABAC_E_NOMEM;
    }
    cval root;
    size_t pos = 0;
    int rc = cedar_json_value(&S->mem, json ? json : "", len, &pos, &root, 0, err_msg, err_cap);
    if (rc == ABAC_E_JSON)
        rc = ABAC_E_SCHEMA;
    if (!rc) {
        while (pos < len &&
               (json[pos] == ' ' || json[pos] == '\n' || json[pos] == '\r' || json[pos] == '\t'))
            pos++;
        if (pos != len)
            rc = sfail(&R, ABAC_E_SCHEMA, "text after the schema (at byte %zu)", pos);
        else if (root.t != V_REC)
            rc = sfail(&R, ABAC_E_SCHEMA, "a JSON schema is an object of namespaces");
    }
    if (!rc) {
        const cfield *f = root.p;
        for (uint32_t i = 0; i < root.n && !rc; i++)
            rc = jnamespace(&R, f[i].key, &f[i].v);
    }
    if (!rc)
        rc = finish(&R);
    if (rc) {
        schema_free(S);
        return rc;
    }
    *out = S;
    return 0;
}

/* ---- the human-readable schema syntax ---- */
enum { H_EOF, H_ID, H_STR, H_PUNCT };

typedef struct hlex {
    sread *R;
    const char *s;
    size_t n, i;
    uint32_t line, col;
    int kind;
    cstr tok; /* identifier, string (unescaped, in the pool) or punctuation */
    uint32_t tline, tcol;
    int err;
} hlex;

__attribute__((format(printf, 2, 3))) static int hfail(hlex *L, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (L->R->eline)
        *L->R->eline = L->tline;
    if (L->R->ecol)
        *L->R->ecol = L->tcol;
    return sfail(L->R, ABAC_E_SCHEMA, "%s (line %u, column %u)", tmp, L->tline, L->tcol);
}

static void hadv(hlex *L) {
    if (L->s[L->i] == '\n') {
        L->line++;
        L->col = 1;
    } else {
        L->col++;
    }
    L->i++;
}

static int hnext(hlex *L) {
    for (;;) {
        while (L->i < L->n && (L->s[L->i] == ' ' || L->s[L->i] == '\t' || L->s[L->i] == '\n' ||
                               L->s[L->i] == '\r'))
            hadv(L);
        if (L->i + 1 < L->n && L->s[L->i] == '/' && L->s[L->i + 1] == '/') {
            while (L->i < L->n && L->s[L->i] != '\n')
                hadv(L);
            continue;
        }
        break;
    }
    L->tline = L->line;
    L->tcol = L->col;
    if (L->i >= L->n) {
        L->kind = H_EOF;
        L->tok = CS("end of input");
        return 0;
    }
    char c = L->s[L->i];
    size_t st = L->i;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') {
        while (L->i < L->n && ((L->s[L->i] >= 'a' && L->s[L->i] <= 'z') ||
                               (L->s[L->i] >= 'A' && L->s[L->i] <= 'Z') || L->s[L->i] == '_' ||
                               (L->s[L->i] >= '0' && L->s[L->i] <= '9')))
            hadv(L);
        L->kind = H_ID;
        L->tok = (cstr){L->s + st, (uint32_t)(L->i - st)};
        return 0;
    }
    if (c == '"') {
        hadv(L);
        char *d = pool_alloc(&L->R->S->mem, L->n - L->i + 1);
        if (!d)
            return ABAC_E_NOMEM;
        uint32_t k = 0;
        while (L->i < L->n && L->s[L->i] != '"') {
            char ch = L->s[L->i];
            if (ch == '\\') {
                hadv(L);
                if (L->i >= L->n)
                    break;
                char e = L->s[L->i];
                ch = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == '0' ? '\0' : e;
                if (e != '"' && e != '\\' && e != 'n' && e != 't' && e != 'r' && e != '0' &&
                    e != '\'')
                    return hfail(L, "unsupported escape '\\%c' in a string", e);
            }
            d[k++] = ch;
            hadv(L);
        }
        if (L->i >= L->n)
            return hfail(L, "unterminated string");
        hadv(L);
        d[k] = 0;
        L->kind = H_STR;
        L->tok = (cstr){d, k};
        return 0;
    }
    if (c == ':' && L->i + 1 < L->n && L->s[L->i + 1] == ':') {
        hadv(L);
        hadv(L);
        L->kind = H_PUNCT;
        L->tok = CS("::");
        return 0;
    }
    if (strchr("{}[]<>,;:=?@()", c) && c) {
        hadv(L);
        L->kind = H_PUNCT;
        L->tok = (cstr){L->s + st, 1};
        return 0;
    }
    unsigned char u = (unsigned char)c;
    if (u >= 0x20 && u < 0x7f)
        return hfail(L, "unexpected character '%c'", c);
    return hfail(L, "unexpected byte 0x%02X", u);
}

static int hp(const hlex *L, const char *p) {
    return L->kind == H_PUNCT && cstr_eq(L->tok, CS(p));
}
static int hkw(const hlex *L, const char *w) {
    return L->kind == H_ID && cstr_eq(L->tok, CS(w));
}
static int hexpect(hlex *L, const char *p) {
    if (!hp(L, p))
        return hfail(L, "expected '%s', found '%.*s'", p, (int)(L->tok.n > 40 ? 40 : L->tok.n),
                     L->tok.p);
    return hnext(L);
}

/* annotations before a declaration or an attribute: @name or @name("value"), skipped */
static int hannots(hlex *L) {
    int rc;
    while (hp(L, "@")) {
        if ((rc = hnext(L)))
            return rc;
        if (L->kind != H_ID)
            return hfail(L, "expected an annotation name after '@'");
        if ((rc = hnext(L)))
            return rc;
        if (hp(L, "(")) {
            if ((rc = hnext(L)))
                return rc;
            if (L->kind != H_STR)
                return hfail(L, "expected a quoted annotation value");
            if ((rc = hnext(L)) || (rc = hexpect(L, ")")))
                return rc;
        }
    }
    return 0;
}

/* Path ::= IDENT {'::' IDENT} */
static int hpath(hlex *L, cstr *out) {
    if (L->kind != H_ID)
        return hfail(L, "expected a name, found '%.*s'", (int)(L->tok.n > 40 ? 40 : L->tok.n),
                     L->tok.p);
    const char *st = L->tok.p;
    const char *end = L->tok.p + L->tok.n;
    int rc;
    if ((rc = hnext(L)))
        return rc;
    while (hp(L, "::")) {
        /* peek: a string after '::' belongs to an entity reference, stop before it */
        size_t save_i = L->i;
        uint32_t sl = L->line, sc = L->col;
        if ((rc = hnext(L)))
            return rc;
        if (L->kind != H_ID) {
            L->i = save_i;
            L->line = sl;
            L->col = sc;
            L->kind = H_PUNCT;
            L->tok = CS("::");
            break;
        }
        end = L->tok.p + L->tok.n;
        if ((rc = hnext(L)))
            return rc;
    }
    /* keep the text as written but without whitespace: copy the identifiers */
    char *d = pool_alloc(&L->R->S->mem, (size_t)(end - st) + 1);
    if (!d)
        return ABAC_E_NOMEM;
    size_t k = 0;
    for (const char *q = st; q < end; q++)
        if (*q != ' ' && *q != '\t' && *q != '\n' && *q != '\r')
            d[k++] = *q;
    d[k] = 0;
    *out = (cstr){d, (uint32_t)k};
    return 0;
}

static int htype(hlex *L, cstr ns, ctype **out, int depth);

static int hrecord(hlex *L, cstr ns, ctype **out, int depth) {
    int rc;
    ctype *t = newtype(&L->R->S->mem, K_REC);
    if (!t)
        return ABAC_E_NOMEM;
    *out = t;
    if ((rc = hexpect(L, "{")))
        return rc;
    cattrd tmp[512];
    uint32_t k = 0;
    while (!hp(L, "}")) {
        if ((rc = hannots(L)))
            return rc;
        if (L->kind != H_ID && L->kind != H_STR)
            return hfail(L, "expected an attribute name or '}'");
        if (k == 512)
            return hfail(L, "more than 512 attributes in one record");
        tmp[k].name = L->tok;
        if ((rc = hnext(L)))
            return rc;
        tmp[k].req = 1;
        if (hp(L, "?")) {
            tmp[k].req = 0;
            if ((rc = hnext(L)))
                return rc;
        }
        if ((rc = hexpect(L, ":")) || (rc = htype(L, ns, &tmp[k].t, depth + 1)))
            return rc;
        /* an attribute declared twice: the last declaration holds (as in Cedar) */
        uint32_t j = 0;
        while (j < k && !cstr_eq(tmp[j].name, tmp[k].name))
            j++;
        if (j < k)
            tmp[j] = tmp[k];
        else
            k++;
        if (hp(L, ","))
            rc = hnext(L);
        else if (!hp(L, "}"))
            return hfail(L, "expected ',' or '}' in a record type");
        if (rc)
            return rc;
    }
    t->n = k;
    t->attrs = pool_alloc(&L->R->S->mem, (k ? k : 1) * sizeof *t->attrs);
    if (!t->attrs)
        return ABAC_E_NOMEM;
    memcpy(t->attrs, tmp, k * sizeof *tmp);
    return hnext(L);
}

static int htype(hlex *L, cstr ns, ctype **out, int depth) {
    if (depth > (int)C_MAX_DEPTH)
        return hfail(L, "types nested too deeply");
    int rc;
    if (hp(L, "{"))
        return hrecord(L, ns, out, depth);
    if (hkw(L, "Set")) {
        if ((rc = hnext(L)))
            return rc;
        if (hp(L, "<")) {
            ctype *t = newtype(&L->R->S->mem, K_SET);
            if (!t)
                return ABAC_E_NOMEM;
            *out = t;
            if ((rc = hnext(L)) || (rc = htype(L, ns, &t->elem, depth + 1)))
                return rc;
            return hexpect(L, ">");
        }
        return hfail(L, "expected '<' after Set");
    }
    ctype *t = newtype(&L->R->S->mem, K_REF);
    if (!t)
        return ABAC_E_NOMEM;
    *out = t;
    t->ns = ns;
    t->want = 3;
    return hpath(L, &t->name);
}

/* EntOrTypes ::= Path | '[' [Path {',' Path}] ']' */
static int hpathlist(hlex *L, cstr **out, uint32_t *n) {
    cstr tmp[512];
    uint32_t k = 0;
    int rc;
    if (hp(L, "[")) {
        if ((rc = hnext(L)))
            return rc;
        while (!hp(L, "]")) {
            if (k == 512)
                return hfail(L, "more than 512 names in a list");
            if ((rc = hpath(L, &tmp[k++])))
                return rc;
            if (hp(L, ","))
                rc = hnext(L);
            else if (!hp(L, "]"))
                return hfail(L, "expected ',' or ']'");
            if (rc)
                return rc;
        }
        if ((rc = hnext(L)))
            return rc;
    } else {
        if ((rc = hpath(L, &tmp[k++])))
            return rc;
    }
    *out = pool_alloc(&L->R->S->mem, (k ? k : 1) * sizeof **out);
    if (!*out)
        return ABAC_E_NOMEM;
    memcpy(*out, tmp, k * sizeof *tmp);
    *n = k;
    return 0;
}

/* Names ::= Name {',' Name}, where a name is an identifier or (actions) a string */
static int hnames(hlex *L, int strings, cstr *out, uint32_t *n) {
    uint32_t k = 0;
    int rc;
    for (;;) {
        if (L->kind != H_ID && !(strings && L->kind == H_STR))
            return hfail(L, "expected a name, found '%.*s'", (int)(L->tok.n > 40 ? 40 : L->tok.n),
                         L->tok.p);
        if (k == 64)
            return hfail(L, "more than 64 names in one declaration");
        out[k++] = L->tok;
        if ((rc = hnext(L)))
            return rc;
        if (!hp(L, ","))
            break;
        if ((rc = hnext(L)))
            return rc;
    }
    *n = k;
    return 0;
}

/* an action reference: "id", id, or Path::"id" */
static int haref(hlex *L, cstr ns, cuid *u) {
    int rc;
    if (L->kind == H_STR) {
        u->id = L->tok;
        u->type = qualify(&L->R->S->mem, ns, CS("Action"));
        if ((rc = hnext(L)))
            return rc;
    } else {
        cstr path;
        if ((rc = hpath(L, &path)))
            return rc;
        if (hp(L, "::")) {
            if ((rc = hnext(L)))
                return rc;
            if (L->kind != H_STR)
                return hfail(L, "expected a quoted action id after '::'");
            u->type = has_colons(path) ? path : qualify(&L->R->S->mem, ns, path);
            u->id = L->tok;
            if ((rc = hnext(L)))
                return rc;
        } else {
            if (has_colons(path))
                return hfail(L, "expected an action name or Path::\"id\"");
            u->id = path;
            u->type = qualify(&L->R->S->mem, ns, CS("Action"));
        }
    }
    if (!u->type.p)
        return ABAC_E_NOMEM;
    u->h = cuid_hash(u);
    return 0;
}

static int hdecl(hlex *L, cstr ns) {
    int rc;
    sread *R = L->R;
    if ((rc = hannots(L)))
        return rc;
    cstr names[64];
    uint32_t nn;
    if (hkw(L, "entity")) {
        if ((rc = hnext(L)) || (rc = hnames(L, 0, names, &nn)))
            return rc;
        cstr *mem = NULL, *enums = NULL;
        uint32_t n_mem = 0, n_enum = 0;
        ctype *shape = T_EMPTYREC, *tags = NULL;
        int is_enum = 0;
        if (hkw(L, "enum")) {
            if ((rc = hnext(L)) || (rc = hexpect(L, "[")))
                return rc;
            cstr tmp[512];
            while (!hp(L, "]")) {
                if (L->kind != H_STR || n_enum == 512)
                    return hfail(L, "expected a quoted id in an enum");
                tmp[n_enum++] = L->tok;
                if ((rc = hnext(L)))
                    return rc;
                if (hp(L, ","))
                    rc = hnext(L);
                else if (!hp(L, "]"))
                    return hfail(L, "expected ',' or ']'");
                if (rc)
                    return rc;
            }
            if ((rc = hnext(L)))
                return rc;
            if (!n_enum)
                return hfail(L, "an enum needs at least one id");
            enums = pool_alloc(&R->S->mem, n_enum * sizeof *enums);
            if (!enums)
                return ABAC_E_NOMEM;
            memcpy(enums, tmp, n_enum * sizeof *tmp);
            is_enum = 1;
        } else {
            if (hkw(L, "in")) {
                if ((rc = hnext(L)) || (rc = hpathlist(L, &mem, &n_mem)))
                    return rc;
            }
            if (hp(L, "=")) {
                if ((rc = hnext(L)))
                    return rc;
                if (!hp(L, "{"))
                    return hfail(L, "expected a record type after '='");
            }
            if (hp(L, "{") && (rc = hrecord(L, ns, &shape, 0)))
                return rc;
            if (hkw(L, "tags")) {
                if ((rc = hnext(L)) || (rc = htype(L, ns, &tags, 0)))
                    return rc;
            }
        }
        if ((rc = hexpect(L, ";")))
            return rc;
        for (uint32_t i = 0; i < nn; i++) {
            sent *e;
            if ((rc = add_ent(R, ns, names[i], &e)))
                return rc;
            e->mem = mem;
            e->n_mem = n_mem;
            e->shape = shape;
            e->tags = tags;
            e->enums = enums;
            e->n_enum = n_enum;
            e->is_enum = (uint8_t)is_enum;
        }
        return 0;
    }
    if (hkw(L, "action")) {
        if ((rc = hnext(L)) || (rc = hnames(L, 1, names, &nn)))
            return rc;
        cuid mem[256];
        uint32_t n_mem = 0;
        if (hkw(L, "in")) {
            if ((rc = hnext(L)))
                return rc;
            if (hp(L, "[")) {
                if ((rc = hnext(L)))
                    return rc;
                while (!hp(L, "]")) {
                    if (n_mem == 256)
                        return hfail(L, "more than 256 action groups");
                    if ((rc = haref(L, ns, &mem[n_mem++])))
                        return rc;
                    if (hp(L, ","))
                        rc = hnext(L);
                    else if (!hp(L, "]"))
                        return hfail(L, "expected ',' or ']'");
                    if (rc)
                        return rc;
                }
                if ((rc = hnext(L)))
                    return rc;
            } else if ((rc = haref(L, ns, &mem[n_mem++]))) {
                return rc;
            }
        }
        int applies = 0;
        cstr *pt = NULL, *rt = NULL;
        uint32_t n_pt = 0, n_rt = 0;
        ctype *ctx = NULL;
        if (hkw(L, "appliesTo")) {
            applies = 1;
            if ((rc = hnext(L)) || (rc = hexpect(L, "{")))
                return rc;
            while (!hp(L, "}")) {
                if (hkw(L, "principal") && !pt) {
                    if ((rc = hnext(L)) || (rc = hexpect(L, ":")) ||
                        (rc = hpathlist(L, &pt, &n_pt)))
                        return rc;
                } else if (hkw(L, "resource") && !rt) {
                    if ((rc = hnext(L)) || (rc = hexpect(L, ":")) ||
                        (rc = hpathlist(L, &rt, &n_rt)))
                        return rc;
                } else if (hkw(L, "context") && !ctx) {
                    if ((rc = hnext(L)) || (rc = hexpect(L, ":")) || (rc = htype(L, ns, &ctx, 0)))
                        return rc;
                } else {
                    return hfail(L, "expected 'principal', 'resource' or 'context' (once each)");
                }
                if (hp(L, ","))
                    rc = hnext(L);
                else if (!hp(L, "}"))
                    return hfail(L, "expected ',' or '}' in appliesTo");
                if (rc)
                    return rc;
            }
            if (!pt || !rt)
                return hfail(L,
                             "appliesTo of action `%.*s` needs both `principal` and "
                             "`resource`",
                             (int)names[0].n, names[0].p);
            if (!n_pt || !n_rt)
                return hfail(L,
                             "appliesTo of action `%.*s` has an empty `principal` or "
                             "`resource` list",
                             (int)names[0].n, names[0].p);
            if ((rc = hnext(L)))
                return rc;
        }
        if ((rc = hexpect(L, ";")))
            return rc;
        cuid *m = pool_alloc(&R->S->mem, (n_mem ? n_mem : 1) * sizeof *m);
        if (!m)
            return ABAC_E_NOMEM;
        memcpy(m, mem, n_mem * sizeof *mem);
        for (uint32_t i = 0; i < nn; i++) {
            sact *a;
            if ((rc = add_act(R, ns, names[i], &a)))
                return rc;
            a->mem = m;
            a->n_mem = n_mem;
            a->applies = (uint8_t)applies;
            a->pt = pt;
            a->n_pt = n_pt;
            a->rt = rt;
            a->n_rt = n_rt;
            a->ctx = ctx;
        }
        return 0;
    }
    if (hkw(L, "type")) {
        if ((rc = hnext(L)))
            return rc;
        if (L->kind != H_ID)
            return hfail(L, "expected a type name after 'type'");
        cstr name = L->tok;
        ctype *t;
        if ((rc = hnext(L)) || (rc = hexpect(L, "=")) || (rc = htype(L, ns, &t, 0)) ||
            (rc = hexpect(L, ";")))
            return rc;
        return add_ct(R, ns, name, t);
    }
    return hfail(L, "expected 'entity', 'action', 'type' or 'namespace', found '%.*s'",
                 (int)(L->tok.n > 40 ? 40 : L->tok.n), L->tok.p);
}

int abac_cedar_schema_parse(abac_cedar_schema **out, const char *src, size_t len,
                            uint32_t *err_line, uint32_t *err_col, char *err_msg, size_t err_cap) {
    if (err_msg && err_cap)
        err_msg[0] = 0;
    if (err_line)
        *err_line = 0;
    if (err_col)
        *err_col = 0;
    if (!out || (!src && len))
        return ABAC_E_INVALID;
    *out = NULL;
    if (len > C_MAX_SRC)
        return ABAC_E_LIMIT;
    abac_cedar_schema *S = calloc(1, sizeof *S);
    if (!S)
        return ABAC_E_NOMEM;
    sread R = {S, err_msg, err_cap, err_line, err_col};
    src = src ? pool_dup(&S->mem, src, len) : NULL;
    if (!src && len) {
        schema_free(S);
        return ABAC_E_NOMEM;
    }
    hlex L = {&R, src ? src : "", len, 0, 1, 1, H_EOF, {0, 0}, 1, 1, 0};
    int rc = hnext(&L);
    cstr seen_ns[256];
    uint32_t n_ns = 0;
    while (!rc && L.kind != H_EOF) {
        if ((rc = hannots(&L)))
            break;
        if (hkw(&L, "namespace")) {
            cstr ns;
            if ((rc = hnext(&L)) || (rc = hpath(&L, &ns)))
                break;
            int dup = 0;
            for (uint32_t i = 0; i < n_ns; i++)
                dup |= cstr_eq(seen_ns[i], ns);
            if (dup) {
                rc = hfail(&L, "duplicate namespace id: `%.*s`", (int)ns.n, ns.p);
                break;
            }
            if (n_ns < 256)
                seen_ns[n_ns++] = ns;
            if ((rc = hexpect(&L, "{")))
                break;
            while (!rc && !hp(&L, "}")) {
                if (L.kind == H_EOF) {
                    rc = hfail(&L, "expected '}' to close namespace `%.*s`", (int)ns.n, ns.p);
                    break;
                }
                rc = hdecl(&L, ns);
            }
            if (!rc)
                rc = hnext(&L);
        } else {
            rc = hdecl(&L, (cstr){"", 0});
        }
    }
    if (!rc)
        rc = finish(&R);
    if (rc) {
        schema_free(S);
        return rc;
    }
    *out = S;
    return 0;
}

size_t abac_cedar_schema_entity_type_count(const abac_cedar_schema *s) {
    return s ? s->ne : 0;
}
size_t abac_cedar_schema_action_count(const abac_cedar_schema *s) {
    return s ? s->na : 0;
}

/* ---- strict validation ---- */
typedef struct verr {
    uint32_t policy;
    int code;
    uint32_t line, col;
    char *msg;
    uint32_t msg_len;
} verr;

/* a list of diagnostics: the validation's errors, or its warnings (1.3.0) */
typedef struct vlist {
    verr *e;
    uint32_t n, cap;
} vlist;

struct abac_cedar_validation {
    pool mem;
    verr *e; /* errors */
    uint32_t n, cap;
    vlist warn;
};

typedef struct caps {
    cstr *v;
    uint32_t n;
} caps;

typedef struct vctx {
    const abac_cedar_schema *S;
    const abac_cedar_policies *ps;
    uint32_t pi;
    int64_t act, pt, rt; /* the environment: action index, principal and resource types */
    abac_cedar_validation *out;
    pool tmp;
    int nomem;
    uint32_t per_pol;
} vctx;

static void tname(const ctype *t, char *buf, size_t cap, int depth) {
    /* Cedar's names of the types without parts */
    static const char *const simple[] = {[K_BOOL] = "Bool",
                                         [K_TRUE] = "__cedar::internal::True",
                                         [K_FALSE] = "__cedar::internal::False",
                                         [K_LONG] = "Long",
                                         [K_STR] = "String",
                                         [K_DEC] = "decimal",
                                         [K_IP] = "ipaddr",
                                         [K_DT] = "datetime",
                                         [K_DUR] = "duration"};
    if (!cap)
        return;
    buf[0] = 0;
    if (t->k < sizeof simple / sizeof simple[0] && simple[t->k]) {
        snprintf(buf, cap, "%s", simple[t->k]);
        return;
    }
    switch (t->k) {
        case K_ENT:
            snprintf(buf, cap, "%.*s", (int)t->name.n, t->name.p);
            return;
        case K_SET: {
            char in[128];
            if (depth > 4)
                snprintf(in, sizeof in, "...");
            else
                tname(t->elem, in, sizeof in, depth + 1);
            snprintf(buf, cap, "Set<%s>", in);
            return;
        }
        case K_REC: {
            size_t k = (size_t)snprintf(buf, cap, "{");
            for (uint32_t i = 0; i < t->n && k < cap; i++) {
                char in[128];
                if (depth > 4)
                    snprintf(in, sizeof in, "...");
                else
                    tname(t->attrs[i].t, in, sizeof in, depth + 1);
                k += (size_t)snprintf(buf + k, cap - k, "%.*s%s: %s,", (int)t->attrs[i].name.n,
                                      t->attrs[i].name.p, t->attrs[i].req ? "" : "?", in);
            }
            if (k < cap)
                snprintf(buf + k, cap - k, "}");
            return;
        }
        default:
            snprintf(buf, cap, "(error)");
    }
}

/* append (code, message, place) to a list, once per policy and message; 0, or -1 when full */
static int vpush(vctx *V, verr **list, uint32_t *n, uint32_t *cap, int code, const cnode *at,
                 const char *m) {
    abac_cedar_validation *o = V->out;
    uint32_t ml = (uint32_t)strlen(m);
    for (uint32_t i = *n; i-- > 0 && (*list)[i].policy == V->pi;)
        if ((*list)[i].msg_len == ml && memcmp((*list)[i].msg, m, ml) == 0)
            return -1;
    if (*n >= S_MAX_ERRS)
        return -1;
    if (*n == *cap) {
        uint32_t nc = *cap ? *cap * 2 : 16;
        verr *ne = realloc(*list, nc * sizeof *ne);
        if (!ne) {
            V->nomem = 1;
            return -1;
        }
        *list = ne;
        *cap = nc;
    }
    verr *e = &(*list)[*n];
    e->policy = V->pi;
    e->code = code;
    const cpolicy *p = &V->ps->pol[V->pi];
    e->line = at ? at->line : p->line;
    e->col = at ? at->col : p->col;
    e->msg = pool_dup(&o->mem, m, ml);
    e->msg_len = ml;
    if (!e->msg) {
        V->nomem = 1;
        return -1;
    }
    (*n)++;
    return 0;
}

/* format a diagnostic and append it to the errors (warn 0) or the warnings; 0 if appended */
__attribute__((format(printf, 5, 0))) static int vadd(vctx *V, int warn, int code, const cnode *at,
                                                      const char *fmt, va_list ap) {
    char m[512];
    vsnprintf(m, sizeof m, fmt, ap);
    abac_cedar_validation *o = V->out;
    return warn ? vpush(V, &o->warn.e, &o->warn.n, &o->warn.cap, code, at, m)
                : vpush(V, &o->e, &o->n, &o->cap, code, at, m);
}

__attribute__((format(printf, 4, 5))) static const ctype *verror(vctx *V, int code, const cnode *at,
                                                                 const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (V->per_pol < S_MAX_PERPOL && vadd(V, 0, code, at, fmt, ap) == 0)
        V->per_pol++;
    va_end(ap);
    return T_ERR;
}

/* a warning (1.3.0): kept apart from the errors, validation still passes */
__attribute__((format(printf, 4, 5))) static void note_warning(vctx *V, int kind, const cnode *at,
                                                               const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    (void)vadd(V, 1, kind, at, fmt, ap);
    va_end(ap);
}

static ctype *vnew(vctx *V, int k) {
    ctype *t = newtype(&V->tmp, k);
    if (!t)
        V->nomem = 1;
    return t;
}

/* least upper bound in strict mode; NULL if the types are not compatible */
static const ctype *lub(vctx *V, const ctype *a, const ctype *b, int depth) {
    if (a->k == K_ERR || b->k == K_ERR)
        return T_ERR;
    if (is_bool(a) && is_bool(b))
        return a->k == b->k ? a : T_BOOL;
    if (a->k != b->k || depth > (int)C_MAX_DEPTH)
        return NULL;
    switch (a->k) {
        case K_ENT:
            return cstr_eq(a->name, b->name) ? a : NULL;
        case K_SET: {
            const ctype *e = lub(V, a->elem, b->elem, depth + 1);
            if (!e)
                return NULL;
            if (e == a->elem)
                return a;
            ctype *t = vnew(V, K_SET);
            if (!t)
                return T_ERR;
            t->elem = (ctype *)e;
            return t;
        }
        case K_REC: {
            if (a->n != b->n || a->open != b->open)
                return NULL;
            ctype *t = vnew(V, K_REC);
            if (!t)
                return T_ERR;
            t->n = a->n;
            t->open = a->open;
            t->attrs = pool_alloc(&V->tmp, (a->n ? a->n : 1) * sizeof *t->attrs);
            if (!t->attrs) {
                V->nomem = 1;
                return T_ERR;
            }
            for (uint32_t i = 0; i < a->n; i++) {
                const cattrd *y = NULL;
                for (uint32_t j = 0; j < b->n; j++)
                    if (cstr_eq(a->attrs[i].name, b->attrs[j].name))
                        y = &b->attrs[j];
                if (!y || y->req != a->attrs[i].req)
                    return NULL;
                const ctype *e = lub(V, a->attrs[i].t, y->t, depth + 1);
                if (!e)
                    return NULL;
                t->attrs[i] = a->attrs[i];
                t->attrs[i].t = (ctype *)e;
            }
            return t;
        }
        default:
            return a;
    }
}

static const ctype *incompatible(vctx *V, const cnode *at, const ctype *a, const ctype *b) {
    char x[256], y[256];
    tname(a, x, sizeof x, 0);
    tname(b, y, sizeof y, 0);
    return verror(V, ABAC_E_TYPE, at, "the types %s and %s are not compatible", x, y);
}

static const ctype *unexpected(vctx *V, const cnode *at, const char *want, const ctype *saw) {
    char y[256];
    tname(saw, y, sizeof y, 0);
    return verror(V, ABAC_E_TYPE, at, "unexpected type: expected %s but saw %s", want, y);
}

/* the canonical text of a variable / literal entity / attribute chain, for capabilities */
static int vpath(const cnode *e, char *buf, size_t cap, size_t *len, int depth) {
    if (depth > 32)
        return -1;
    if (e->op == X_VAR) {
        if (cap < 2)
            return -1;
        buf[0] = 'v';
        buf[1] = (char)('0' + e->var);
        *len = 2;
        return 0;
    }
    if (e->op == X_LIT && e->lit.t == V_ENT) {
        const cuid *u = e->lit.p;
        size_t need = 1 + u->type.n + 1 + u->id.n + 1;
        if (need > cap)
            return -1;
        buf[0] = 'e';
        memcpy(buf + 1, u->type.p, u->type.n);
        buf[1 + u->type.n] = 0;
        memcpy(buf + 2 + u->type.n, u->id.p, u->id.n);
        buf[2 + u->type.n + u->id.n] = 1;
        *len = need;
        return 0;
    }
    if (e->op == X_ATTR) {
        size_t l;
        if (vpath(e->a, buf, cap, &l, depth + 1))
            return -1;
        if (l + 1 + e->name.n + 1 > cap)
            return -1;
        buf[l] = 2;
        memcpy(buf + l + 1, e->name.p, e->name.n);
        buf[l + 1 + e->name.n] = 3;
        *len = l + 2 + e->name.n;
        return 0;
    }
    return -1;
}

/* capability key: path of the object, a kind byte (has / hasTag), the name */
static cstr capkey(vctx *V, const cnode *obj, char kind, cstr name) {
    char buf[1024];
    size_t l;
    if (vpath(obj, buf, sizeof buf, &l, 0) || l + 1 + name.n > sizeof buf)
        return (cstr){NULL, 0};
    buf[l] = kind;
    memcpy(buf + l + 1, name.p, name.n);
    char *d = pool_dup(&V->tmp, buf, l + 1 + name.n);
    if (!d) {
        V->nomem = 1;
        return (cstr){NULL, 0};
    }
    return (cstr){d, (uint32_t)(l + 1 + name.n)};
}

static int caps_has(caps c, cstr k) {
    if (!k.p)
        return 0;
    for (uint32_t i = 0; i < c.n; i++)
        if (cstr_eq(c.v[i], k))
            return 1;
    return 0;
}

static caps caps_union(vctx *V, caps a, caps b) {
    if (!b.n)
        return a;
    if (!a.n)
        return b;
    caps r = {pool_alloc(&V->tmp, (a.n + b.n) * sizeof(cstr)), 0};
    if (!r.v) {
        V->nomem = 1;
        return a;
    }
    for (uint32_t i = 0; i < a.n; i++)
        r.v[r.n++] = a.v[i];
    for (uint32_t i = 0; i < b.n; i++)
        if (!caps_has(a, b.v[i]))
            r.v[r.n++] = b.v[i];
    return r;
}

static caps caps_inter(vctx *V, caps a, caps b) {
    caps r = {NULL, 0};
    if (!a.n || !b.n)
        return r;
    r.v = pool_alloc(&V->tmp, a.n * sizeof(cstr));
    if (!r.v) {
        V->nomem = 1;
        return r;
    }
    for (uint32_t i = 0; i < a.n; i++)
        if (caps_has(b, a.v[i]))
            r.v[r.n++] = a.v[i];
    return r;
}

static caps caps_one(vctx *V, cstr k) {
    caps r = {NULL, 0};
    if (!k.p)
        return r;
    r.v = pool_alloc(&V->tmp, sizeof(cstr));
    if (!r.v) {
        V->nomem = 1;
        return r;
    }
    r.v[0] = k;
    r.n = 1;
    return r;
}

static ctype *ent_type(vctx *V, cstr name) {
    ctype *t = vnew(V, K_ENT);
    if (t)
        t->name = name;
    return t;
}

/* does an entity literal name a declared type (or action)? reports if not */
static int check_euid(vctx *V, const cnode *at, const cuid *u) {
    const abac_cedar_schema *S = V->S;
    if (is_action_type(S, u->type)) {
        if (find_act(S, u) < 0) {
            verror(V, ABAC_E_UNKNOWN_TYPE, at, "unrecognized action `%.*s::\"%.*s\"`",
                   (int)u->type.n, u->type.p, (int)u->id.n, u->id.p);
            return -1;
        }
        return 0;
    }
    int64_t i = find_ent(S, u->type);
    if (i < 0) {
        verror(V, ABAC_E_UNKNOWN_TYPE, at, "unrecognized entity type `%.*s`", (int)u->type.n,
               u->type.p);
        return -1;
    }
    const sent *e = &S->e[i];
    if (e->is_enum) {
        for (uint32_t k = 0; k < e->n_enum; k++)
            if (cstr_eq(e->enums[k], u->id))
                return 0;
        verror(V, ABAC_E_UNKNOWN_TYPE, at,
               "entity `%.*s::\"%.*s\"` is not one of the enumerated ids of its type",
               (int)u->type.n, u->type.p, (int)u->id.n, u->id.p);
        return -1;
    }
    return 0;
}

static const ctype *lit_type(vctx *V, const cnode *at, const cval *v, int depth) {
    switch (v->t) {
        case V_BOOL:
            return v->i ? T_TRUE : T_FALSE;
        case V_LONG:
            return T_LONG;
        case V_STR:
            return T_STR;
        case V_DEC:
            return T_DEC;
        case V_IP:
            return T_IP;
        case V_DATETIME:
            return T_DT;
        case V_DURATION:
            return T_DUR;
        case V_ENT: {
            const cuid *u = v->p;
            if (check_euid(V, at, u))
                return T_ERR;
            ctype *t = ent_type(V, u->type);
            return t ? t : T_ERR;
        }
        case V_SET: {
            if (!v->n)
                return verror(V, ABAC_E_TYPE, at, "empty set literals are forbidden in policies");
            if (depth > (int)C_MAX_DEPTH)
                return T_ERR;
            const cval *el = v->p;
            const ctype *e = lit_type(V, at, &el[0], depth + 1);
            for (uint32_t i = 1; i < v->n && e->k != K_ERR; i++) {
                const ctype *x = lit_type(V, at, &el[i], depth + 1);
                const ctype *l = lub(V, e, x, 0);
                e = l ? l : incompatible(V, at, e, x);
            }
            if (e->k == K_ERR)
                return T_ERR;
            ctype *t = vnew(V, K_SET);
            if (!t)
                return T_ERR;
            t->elem = (ctype *)e;
            return t;
        }
        default:
            return verror(V, ABAC_E_TYPE, at, "a literal of an unsupported kind");
    }
}

static const cattrd *find_attr(const ctype *rec, cstr name) {
    for (uint32_t i = 0; i < rec->n; i++)
        if (cstr_eq(rec->attrs[i].name, name))
            return &rec->attrs[i];
    return NULL;
}

/* entity types of the schema by name (actions have no attributes) */
static const sent *ent_decl(const vctx *V, cstr name) {
    int64_t i = find_ent(V->S, name);
    return i < 0 ? NULL : &V->S->e[i];
}

/* can an entity of type l be `in` one of type r? */
static int can_be_in(const vctx *V, cstr l, cstr r) {
    if (cstr_eq(l, r))
        return 1;
    int64_t i = find_ent(V->S, l), j = find_ent(V->S, r);
    if (i < 0 || j < 0)
        return is_action_type(V->S, l) && is_action_type(V->S, r);
    return getbit(V->S->eanc, V->S->ewords, (size_t)i, (size_t)j);
}

/* the environment's action `in` / `==` action literal(s): known statically */
static int act_is_in(const vctx *V, const cuid *u, int eq) {
    int64_t j = find_act(V->S, u);
    if (j < 0)
        return 0;
    if (j == V->act)
        return 1;
    return !eq && getbit(V->S->aanc, V->S->awords, (size_t)V->act, (size_t)j);
}

static const ctype *tc(vctx *V, const cnode *e, caps in, caps *ct, int depth);

static const ctype *tc_bool(vctx *V, const cnode *e, caps in, caps *ct, int depth) {
    const ctype *t = tc(V, e, in, ct, depth);
    if (t->k != K_ERR && !is_bool(t))
        return unexpected(V, e, "Bool", t);
    return t;
}

static const ctype *want_kind(vctx *V, const cnode *e, const ctype *t, int k, const char *name) {
    if (t->k == K_ERR || t->k == k)
        return t;
    return unexpected(V, e, name, t);
}

static const ctype *access(vctx *V, const cnode *e, const ctype *ta, caps in) {
    /* attribute access e.a.name on an entity or a record */
    const ctype *rec = NULL;
    char where[300];
    where[0] = 0;
    if (ta->k == K_ENT) {
        const sent *d = ent_decl(V, ta->name);
        rec = d ? d->shape : T_EMPTYREC;
        snprintf(where, sizeof where, " on entity type `%.*s`", (int)ta->name.n, ta->name.p);
    } else if (ta->k == K_REC) {
        rec = ta;
        if (e->a->op == X_VAR && e->a->var == 3) {
            const cuid *u = &V->S->a[V->act].uid;
            snprintf(where, sizeof where, " in context for %.*s::\"%.*s\"", (int)u->type.n,
                     u->type.p, (int)u->id.n, u->id.p);
        }
    } else {
        return unexpected(V, e->a,
                          "__cedar::internal::AnyEntity, or __cedar::internal::OpenRecord{}", ta);
    }
    const cattrd *ad = find_attr(rec, e->name);
    if (!ad)
        return verror(V, ABAC_E_UNKNOWN_ATTR, e, "attribute `%.*s`%s not found", (int)e->name.n,
                      e->name.p, where);
    if (!ad->req && !caps_has(in, capkey(V, e->a, 'h', e->name)))
        return verror(V, ABAC_E_UNSAFE_ATTR, e,
                      "unable to guarantee safety of access to optional attribute `%.*s`%s",
                      (int)e->name.n, e->name.p, where);
    return ad->t;
}

static const ctype *tc(vctx *V, const cnode *e, caps in, caps *ct, int depth) {
    caps none = {NULL, 0}, ca = none, cb = none, cc = none;
    *ct = none;
    if (V->nomem || depth > 2 * (int)C_MAX_DEPTH)
        return T_ERR;
    const ctype *ta, *tb, *tcx;
    switch (e->op) {
        case X_LIT:
            return lit_type(V, e, &e->lit, 0);
        case X_VAR: {
            const sact *a = &V->S->a[V->act];
            if (e->var == 0)
                return ent_type(V, V->S->e[V->pt].name);
            if (e->var == 2)
                return ent_type(V, V->S->e[V->rt].name);
            if (e->var == 1)
                return ent_type(V, a->uid.type);
            return a->ctx ? a->ctx : T_EMPTYREC;
        }
        case X_AND:
            ta = tc_bool(V, e->a, in, &ca, depth + 1);
            if (ta->k == K_FALSE)
                return T_FALSE;
            tb = tc_bool(V, e->b, caps_union(V, in, ca), &cb, depth + 1);
            if (ta->k == K_ERR || tb->k == K_ERR)
                return T_ERR;
            *ct = caps_union(V, ca, cb);
            if (tb->k == K_FALSE)
                return T_FALSE;
            return ta->k == K_TRUE && tb->k == K_TRUE ? T_TRUE : T_BOOL;
        case X_OR:
            ta = tc_bool(V, e->a, in, &ca, depth + 1);
            if (ta->k == K_TRUE) {
                *ct = ca;
                return T_TRUE;
            }
            tb = tc_bool(V, e->b, in, &cb, depth + 1);
            if (ta->k == K_ERR || tb->k == K_ERR)
                return T_ERR;
            if (ta->k == K_FALSE) {
                *ct = cb;
                return tb;
            }
            *ct = caps_inter(V, ca, cb);
            return tb->k == K_TRUE ? T_TRUE : T_BOOL;
        case X_NOT:
            ta = tc_bool(V, e->a, in, &ca, depth + 1);
            return ta->k == K_TRUE ? T_FALSE : ta->k == K_FALSE ? T_TRUE : ta;
        case X_IF:
            ta = tc_bool(V, e->a, in, &ca, depth + 1);
            if (ta->k == K_ERR)
                return T_ERR;
            if (ta->k == K_TRUE) {
                tb = tc(V, e->b, caps_union(V, in, ca), &cb, depth + 1);
                *ct = caps_union(V, ca, cb);
                return tb;
            }
            if (ta->k == K_FALSE)
                return tc(V, e->c, in, ct, depth + 1);
            tb = tc(V, e->b, caps_union(V, in, ca), &cb, depth + 1);
            tcx = tc(V, e->c, in, &cc, depth + 1);
            if (tb->k == K_ERR || tcx->k == K_ERR)
                return T_ERR;
            *ct = caps_inter(V, caps_union(V, ca, cb), cc);
            {
                const ctype *l = lub(V, tb, tcx, 0);
                return l ? l : incompatible(V, e, tb, tcx);
            }
        case X_NEG:
            return want_kind(V, e->a, tc(V, e->a, in, &ca, depth + 1), K_LONG, "Long");
        case X_ADD:
        case X_SUB:
        case X_MUL:
            ta = want_kind(V, e->a, tc(V, e->a, in, &ca, depth + 1), K_LONG, "Long");
            tb = want_kind(V, e->b, tc(V, e->b, in, &cb, depth + 1), K_LONG, "Long");
            return ta->k == K_ERR || tb->k == K_ERR ? T_ERR : T_LONG;
        case X_LT:
        case X_LE:
        case X_GT:
        case X_GE: {
            ta = tc(V, e->a, in, &ca, depth + 1);
            tb = tc(V, e->b, in, &cb, depth + 1);
            int bad = 0;
            if (ta->k != K_ERR && ta->k != K_LONG && ta->k != K_DT && ta->k != K_DUR)
                bad = 1, unexpected(V, e->a, "datetime, or duration, or Long", ta);
            if (tb->k != K_ERR && tb->k != K_LONG && tb->k != K_DT && tb->k != K_DUR)
                bad = 1, unexpected(V, e->b, "datetime, or duration, or Long", tb);
            if (bad || ta->k == K_ERR || tb->k == K_ERR)
                return T_ERR;
            if (ta->k != tb->k)
                return incompatible(V, e, ta, tb);
            return T_BOOL;
        }
        case X_EQ:
        case X_NE: {
            int neg = e->op == X_NE;
            if (e->a->op == X_LIT && e->b->op == X_LIT && e->a->lit.t != V_SET &&
                e->b->lit.t != V_SET) {
                ta = lit_type(V, e->a, &e->a->lit, 0);
                tb = lit_type(V, e->b, &e->b->lit, 0);
                if (ta->k == K_ERR || tb->k == K_ERR)
                    return T_ERR;
                const cval *x = &e->a->lit, *y = &e->b->lit;
                int eq =
                    x->t == y->t && (x->t == V_STR ? cstr_eq((cstr){x->p, x->n}, (cstr){y->p, y->n})
                                     : x->t == V_ENT ? cuid_eq(x->p, y->p)
                                                     : x->i == y->i);
                return eq != neg ? T_TRUE : T_FALSE;
            }
            /* `action == Action::"x"`: known in each environment */
            if (e->a->op == X_VAR && e->a->var == 1 && e->b->op == X_LIT && e->b->lit.t == V_ENT &&
                is_action_type(V->S, ((const cuid *)e->b->lit.p)->type)) {
                if (check_euid(V, e->b, e->b->lit.p))
                    return T_ERR;
                return act_is_in(V, e->b->lit.p, 1) != neg ? T_TRUE : T_FALSE;
            }
            ta = tc(V, e->a, in, &ca, depth + 1);
            tb = tc(V, e->b, in, &cb, depth + 1);
            if (ta->k == K_ERR || tb->k == K_ERR)
                return T_ERR;
            if (ta->k == K_ENT && tb->k == K_ENT)
                return cstr_eq(ta->name, tb->name) ? T_BOOL : (neg ? T_TRUE : T_FALSE);
            if (!lub(V, ta, tb, 0))
                return incompatible(V, e, ta, tb);
            return T_BOOL;
        }
        case X_IN: {
            ta = tc(V, e->a, in, &ca, depth + 1);
            if (ta->k != K_ERR && ta->k != K_ENT)
                ta = unexpected(V, e->a, "__cedar::internal::AnyEntity", ta);
            /* action in action literal(s): known in each environment */
            if (e->a->op == X_VAR && e->a->var == 1 && e->b->op == X_LIT &&
                (e->b->lit.t == V_ENT || e->b->lit.t == V_SET)) {
                const cval *lv = &e->b->lit;
                const cval *el = lv->t == V_SET ? lv->p : lv;
                uint32_t n = lv->t == V_SET ? lv->n : 1;
                int all_act = n > 0;
                for (uint32_t i = 0; i < n; i++)
                    all_act &=
                        el[i].t == V_ENT && is_action_type(V->S, ((const cuid *)el[i].p)->type);
                if (all_act) {
                    tb = lit_type(V, e->b, lv, 0);
                    if (tb->k == K_ERR)
                        return T_ERR;
                    int r = 0;
                    for (uint32_t i = 0; i < n; i++)
                        r |= act_is_in(V, el[i].p, 0);
                    return r ? T_TRUE : T_FALSE;
                }
            }
            tb = tc(V, e->b, in, &cb, depth + 1);
            if (tb->k == K_SET && tb->elem->k == K_ENT) {
                tb = tb->elem;
            } else if (tb->k != K_ERR && tb->k != K_ENT) {
                return unexpected(V, e->b,
                                  "Set<__cedar::internal::AnyEntity>, or "
                                  "__cedar::internal::AnyEntity",
                                  tb);
            }
            if (ta->k == K_ERR || tb->k == K_ERR)
                return T_ERR;
            return can_be_in(V, ta->name, tb->name) ? T_BOOL : T_FALSE;
        }
        case X_HAS: {
            ta = tc(V, e->a, in, &ca, depth + 1);
            if (ta->k == K_ERR)
                return T_ERR;
            const ctype *rec;
            if (ta->k == K_ENT) {
                const sent *d = ent_decl(V, ta->name);
                rec = d ? d->shape : T_EMPTYREC;
            } else if (ta->k == K_REC) {
                rec = ta;
            } else {
                return unexpected(
                    V, e->a, "__cedar::internal::AnyEntity, or __cedar::internal::OpenRecord{}",
                    ta);
            }
            const cattrd *ad = find_attr(rec, e->name);
            if (!ad)
                return rec->open ? T_BOOL : T_FALSE;
            cstr k = capkey(V, e->a, 'h', e->name);
            if (ad->req && ta->k == K_REC)
                return T_TRUE;
            if (caps_has(in, k))
                return T_TRUE;
            *ct = caps_one(V, k);
            return ad->req ? T_TRUE : T_BOOL;
        }
        case X_ATTR:
            ta = tc(V, e->a, in, &ca, depth + 1);
            if (ta->k == K_ERR)
                return T_ERR;
            return access(V, e, ta, in);
        case X_LIKE:
            ta = want_kind(V, e->a, tc(V, e->a, in, &ca, depth + 1), K_STR, "String");
            return ta->k == K_ERR ? T_ERR : T_BOOL;
        case X_IS: {
            ta = tc(V, e->a, in, &ca, depth + 1);
            if (ta->k != K_ERR && ta->k != K_ENT)
                ta = unexpected(V, e->a, "__cedar::internal::AnyEntity", ta);
            int known = find_ent(V->S, e->name) >= 0 || is_action_type(V->S, e->name);
            if (!known)
                verror(V, ABAC_E_UNKNOWN_TYPE, e, "unrecognized entity type `%.*s`", (int)e->name.n,
                       e->name.p);
            tb = NULL;
            if (e->has_b) {
                tb = tc(V, e->b, in, &cb, depth + 1);
                if (tb->k == K_SET && tb->elem->k == K_ENT)
                    tb = tb->elem;
                else if (tb->k != K_ERR && tb->k != K_ENT)
                    tb = unexpected(V, e->b,
                                    "Set<__cedar::internal::AnyEntity>, or "
                                    "__cedar::internal::AnyEntity",
                                    tb);
            }
            if (ta->k == K_ERR || !known || (tb && tb->k == K_ERR))
                return T_ERR;
            if (!cstr_eq(ta->name, e->name))
                return T_FALSE;
            if (!tb)
                return T_TRUE;
            return can_be_in(V, ta->name, tb->name) ? T_BOOL : T_FALSE;
        }
        case X_SET: {
            if (!e->n)
                return verror(V, ABAC_E_TYPE, e, "empty set literals are forbidden in policies");
            const ctype *el = tc(V, e->args[0], in, &ca, depth + 1);
            int err = el->k == K_ERR;
            for (uint32_t i = 1; i < e->n; i++) {
                const ctype *x = tc(V, e->args[i], in, &ca, depth + 1);
                if (x->k == K_ERR || err) {
                    err = 1;
                    continue;
                }
                const ctype *l = lub(V, el, x, 0);
                if (!l) {
                    incompatible(V, e, el, x);
                    err = 1;
                } else {
                    el = l;
                }
            }
            if (err)
                return T_ERR;
            ctype *t = vnew(V, K_SET);
            if (!t)
                return T_ERR;
            t->elem = (ctype *)el;
            return t;
        }
        case X_REC: {
            ctype *t = vnew(V, K_REC);
            if (!t)
                return T_ERR;
            t->n = e->n;
            t->attrs = pool_alloc(&V->tmp, (e->n ? e->n : 1) * sizeof *t->attrs);
            if (!t->attrs) {
                V->nomem = 1;
                return T_ERR;
            }
            int err = 0;
            for (uint32_t i = 0; i < e->n; i++) {
                const ctype *x = tc(V, e->args[i], in, &ca, depth + 1);
                err |= x->k == K_ERR;
                t->attrs[i].name = e->keys[i];
                t->attrs[i].req = 1;
                t->attrs[i].t = (ctype *)x;
            }
            return err ? T_ERR : t;
        }
        case X_CALL: {
            const cnode *a = e->args[0];
            if (a->op != X_LIT || a->lit.t != V_STR) {
                tc(V, a, in, &ca, depth + 1);
                return verror(V, ABAC_E_TYPE, e,
                              "extension constructors may not be called with non-literal "
                              "expressions");
            }
            cip ip;
            int64_t x;
            const char *s = a->lit.p;
            size_t n = a->lit.n;
            switch (e->var) {
                case F_DECIMAL:
                    if (cedar_parse_decimal(s, n, &x))
                        return verror(
                            V, ABAC_E_EXTENSION, e,
                            "error during extension function argument validation: failed to "
                            "parse as a decimal value: `\"%.*s\"`",
                            (int)(n > 64 ? 64 : n), s);
                    return T_DEC;
                case F_IP:
                    if (cedar_parse_ip(s, n, &ip))
                        return verror(
                            V, ABAC_E_EXTENSION, e,
                            "error during extension function argument validation: failed to "
                            "parse as IP address: `\"%.*s\"`",
                            (int)(n > 64 ? 64 : n), s);
                    return T_IP;
                case F_DATETIME:
                    if (cedar_parse_datetime(s, n, &x))
                        return verror(
                            V, ABAC_E_EXTENSION, e,
                            "error during extension function argument validation: failed to "
                            "parse as a datetime value: `\"%.*s\"`",
                            (int)(n > 64 ? 64 : n), s);
                    return T_DT;
                default:
                    if (cedar_parse_duration(s, n, &x))
                        return verror(
                            V, ABAC_E_EXTENSION, e,
                            "error during extension function argument validation: failed to "
                            "parse as a duration value: `\"%.*s\"`",
                            (int)(n > 64 ? 64 : n), s);
                    return T_DUR;
            }
        }
        case X_METHOD: {
            ta = tc(V, e->a, in, &ca, depth + 1);
            tb = e->n ? tc(V, e->args[0], in, &cb, depth + 1) : NULL;
            if (ta->k == K_ERR || (tb && tb->k == K_ERR))
                return T_ERR;
            switch (e->var) {
                case M_CONTAINS:
                case M_CONTAINS_ALL:
                case M_CONTAINS_ANY:
                case M_IS_EMPTY: {
                    if (ta->k != K_SET)
                        return unexpected(V, e->a, "Set<__cedar::internal::Any>", ta);
                    if (e->var == M_IS_EMPTY)
                        return T_BOOL;
                    const ctype *el = tb;
                    if (e->var != M_CONTAINS) {
                        if (tb->k != K_SET)
                            return unexpected(V, e->args[0], "Set<__cedar::internal::Any>", tb);
                        if (!lub(V, ta, tb, 0))
                            return incompatible(V, e, ta, tb);
                        return T_BOOL;
                    }
                    if (!lub(V, ta->elem, el, 0))
                        return incompatible(V, e, ta->elem, el);
                    return T_BOOL;
                }
                case M_LESS:
                case M_LESS_EQ:
                case M_GREATER:
                case M_GREATER_EQ:
                    if (ta->k != K_DEC)
                        return unexpected(V, e->a, "decimal", ta);
                    if (tb->k != K_DEC)
                        return unexpected(V, e->args[0], "decimal", tb);
                    return T_BOOL;
                case M_IS_IPV4:
                case M_IS_IPV6:
                case M_IS_LOOPBACK:
                case M_IS_MULTICAST:
                case M_IS_IN_RANGE:
                    if (ta->k != K_IP)
                        return unexpected(V, e->a, "ipaddr", ta);
                    if (tb && tb->k != K_IP)
                        return unexpected(V, e->args[0], "ipaddr", tb);
                    return T_BOOL;
                case M_OFFSET:
                case M_DURATION_SINCE:
                case M_TO_DATE:
                case M_TO_TIME:
                    if (ta->k != K_DT)
                        return unexpected(V, e->a, "datetime", ta);
                    if (e->var == M_OFFSET && tb->k != K_DUR)
                        return unexpected(V, e->args[0], "duration", tb);
                    if (e->var == M_DURATION_SINCE && tb->k != K_DT)
                        return unexpected(V, e->args[0], "datetime", tb);
                    return e->var == M_OFFSET || e->var == M_TO_DATE ? T_DT : T_DUR;
                default:
                    if (ta->k != K_DUR)
                        return unexpected(V, e->a, "duration", ta);
                    return T_LONG;
            }
        }
        case X_HASTAG:
        case X_GETTAG: {
            ta = tc(V, e->a, in, &ca, depth + 1);
            tb = want_kind(V, e->b, tc(V, e->b, in, &cb, depth + 1), K_STR, "String");
            if (ta->k != K_ERR && ta->k != K_ENT)
                ta = unexpected(V, e->a, "__cedar::internal::AnyEntity", ta);
            if (ta->k == K_ERR || tb->k == K_ERR)
                return T_ERR;
            const sent *d = ent_decl(V, ta->name);
            cstr key = {NULL, 0};
            char kb[1024];
            size_t kl;
            if (e->b->op == X_LIT && e->b->lit.t == V_STR) {
                key = (cstr){e->b->lit.p, e->b->lit.n};
            } else if (!vpath(e->b, kb, sizeof kb, &kl, 0)) {
                key = (cstr){pool_dup(&V->tmp, kb, kl), (uint32_t)kl};
            }
            cstr k = key.p ? capkey(V, e->a, e->b->op == X_LIT ? 't' : 'T', key) : key;
            if (e->op == X_HASTAG) {
                if (!d || !d->tags)
                    return T_FALSE;
                if (caps_has(in, k))
                    return T_TRUE;
                *ct = caps_one(V, k);
                return T_BOOL;
            }
            if (!d || !d->tags)
                return verror(V, ABAC_E_UNKNOWN_ATTR, e, "entity type `%.*s` has no tags",
                              (int)ta->name.n, ta->name.p);
            if (!caps_has(in, k)) {
                if (e->b->op == X_LIT && e->b->lit.t == V_STR)
                    return verror(
                        V, ABAC_E_UNSAFE_ATTR, e,
                        "unable to guarantee safety of access to tag `\"%.*s\"` on entity "
                        "type `%.*s`",
                        (int)e->b->lit.n, (const char *)e->b->lit.p, (int)ta->name.n, ta->name.p);
                return verror(V, ABAC_E_UNSAFE_ATTR, e,
                              "unable to guarantee safety of access to a tag on entity type `%.*s`",
                              (int)ta->name.n, ta->name.p);
            }
            return d->tags;
        }
        default:
            return verror(V, ABAC_E_TYPE, e, "an expression of an unsupported kind");
    }
}

/* does a principal / resource scope admit entity type t? */
static int scope_admits(const vctx *V, const cscope *sc, uint32_t t) {
    cstr name = V->S->e[t].name;
    if (sc->slot) /* a template's slot: any entity (Cedar types it by the schema) */
        return sc->op != S_IS_IN || cstr_eq(sc->type, name);
    switch (sc->op) {
        case S_ANY:
            return 1;
        case S_EQ:
            return cstr_eq(sc->ent->type, name);
        case S_IN:
            return can_be_in(V, name, sc->ent->type);
        case S_IS:
            return cstr_eq(sc->type, name);
        case S_IS_IN:
            return cstr_eq(sc->type, name) && can_be_in(V, name, sc->ent->type);
        default:
            return 0;
    }
}

static int action_admits(const vctx *V, const cscope *sc, uint32_t ai) {
    const cuid *u = &V->S->a[ai].uid;
    vctx tmp = *V;
    tmp.act = ai;
    switch (sc->op) {
        case S_ANY:
            return 1;
        case S_EQ:
            return cuid_eq(u, sc->ent);
        case S_IN:
            return act_is_in(&tmp, sc->ent, 0);
        case S_IN_LIST:
            for (uint32_t i = 0; i < sc->n_list; i++)
                if (act_is_in(&tmp, &sc->list[i], 0))
                    return 1;
            return 0;
        default:
            return 0;
    }
}

static void check_scope_names(vctx *V, const cpolicy *p) {
    for (int s = 0; s < 3; s += 2) {
        const cscope *sc = &p->sc[s];
        if ((sc->op == S_IS || sc->op == S_IS_IN) && find_ent(V->S, sc->type) < 0)
            verror(V, ABAC_E_UNKNOWN_TYPE, NULL, "unrecognized entity type `%.*s`", (int)sc->type.n,
                   sc->type.p);
        if ((sc->op == S_EQ || sc->op == S_IN || sc->op == S_IS_IN) && !sc->slot)
            check_euid(V, NULL, sc->ent);
    }
    const cscope *sa = &p->sc[1];
    if (sa->op == S_EQ || sa->op == S_IN) {
        if (!is_action_type(V->S, sa->ent->type))
            verror(V, ABAC_E_UNKNOWN_TYPE, NULL, "`%.*s::\"%.*s\"` is not an action",
                   (int)sa->ent->type.n, sa->ent->type.p, (int)sa->ent->id.n, sa->ent->id.p);
        else
            check_euid(V, NULL, sa->ent);
    }
    if (sa->op == S_IN_LIST)
        for (uint32_t i = 0; i < sa->n_list; i++) {
            if (!is_action_type(V->S, sa->list[i].type))
                verror(V, ABAC_E_UNKNOWN_TYPE, NULL, "`%.*s::\"%.*s\"` is not an action",
                       (int)sa->list[i].type.n, sa->list[i].type.p, (int)sa->list[i].id.n,
                       sa->list[i].id.p);
            else
                check_euid(V, NULL, &sa->list[i]);
        }
}

/* Cedar checks every entity literal and `is` type of a condition, also in branches that the
 * type checker skips (`false && …`) */
static void scan_lit(vctx *V, const cnode *at, const cval *v, int depth) {
    if (v->t == V_ENT)
        check_euid(V, at, v->p);
    else if (v->t == V_SET && depth < (int)C_MAX_DEPTH)
        for (uint32_t i = 0; i < v->n; i++)
            scan_lit(V, at, &((const cval *)v->p)[i], depth + 1);
}

static void scan_names(vctx *V, const cnode *e, int depth) {
    if (!e || depth > 2 * (int)C_MAX_DEPTH || V->nomem)
        return;
    if (e->op == X_LIT)
        scan_lit(V, e, &e->lit, 0);
    if (e->op == X_IS && find_ent(V->S, e->name) < 0 && !is_action_type(V->S, e->name))
        verror(V, ABAC_E_UNKNOWN_TYPE, e, "unrecognized entity type `%.*s`", (int)e->name.n,
               e->name.p);
    scan_names(V, e->a, depth + 1);
    scan_names(V, e->b, depth + 1);
    scan_names(V, e->c, depth + 1);
    if (e->op == X_SET || e->op == X_REC || e->op == X_METHOD || e->op == X_CALL)
        for (uint32_t i = 0; i < e->n; i++)
            scan_names(V, e->args[i], depth + 1);
}

/* ---- warnings: Cedar's checks of the text of policies (UTS #39), 1.3.0 ---- */

/* at most 200 bytes of s for a message, cut at a UTF-8 boundary */
static int shown(const char *s, size_t n) {
    if (n <= 200)
        return (int)n;
    n = 200;
    while (n && ((uint8_t)s[n] & 0xc0) == 0x80)
        n--;
    return (int)n;
}

static void warn_str(vctx *V, const cnode *at, const char *s, size_t n) {
    if (cedar_text_has_bidi(s, n))
        note_warning(V, ABAC_CEDAR_WARN_BIDI_STRING, at,
                     "string `\"%.*s\"` contains BIDI control characters", shown(s, n), s);
    else if (!cedar_text_single_script(s, n))
        note_warning(V, ABAC_CEDAR_WARN_MIXED_SCRIPT_STRING, at,
                     "string `\"%.*s\"` contains mixed scripts", shown(s, n), s);
}

static void warn_ident(vctx *V, const cnode *at, const char *s, size_t n) {
    if (cedar_text_has_bidi(s, n))
        note_warning(V, ABAC_CEDAR_WARN_BIDI_IDENTIFIER, at,
                     "identifier `%.*s` contains BIDI control characters", shown(s, n), s);
    else if (!cedar_ident_allowed(s, n))
        note_warning(
            V, ABAC_CEDAR_WARN_CONFUSABLE_IDENTIFIER, at,
            "identifier `%.*s` contains characters that fall outside of the General Security "
            "Profile for Identifiers",
            shown(s, n), s);
    else if (!cedar_text_single_script(s, n))
        note_warning(V, ABAC_CEDAR_WARN_MIXED_SCRIPT_IDENTIFIER, at,
                     "identifier `%.*s` contains mixed scripts", shown(s, n), s);
}

/* an entity uid: its type's components are ASCII identifiers (nothing to warn about), its id is
 * checked as an identifier, as Cedar does */
static void warn_uid(vctx *V, const cnode *at, const cuid *u) {
    if (u)
        warn_ident(V, at, u->id.p, u->id.n);
}

static void warn_lit(vctx *V, const cnode *at, const cval *v, int depth) {
    if (depth > (int)C_MAX_DEPTH)
        return;
    if (v->t == V_STR)
        warn_str(V, at, v->p, v->n);
    else if (v->t == V_ENT)
        warn_uid(V, at, v->p);
    else if (v->t == V_SET)
        for (uint32_t i = 0; i < v->n; i++)
            warn_lit(V, at, &((const cval *)v->p)[i], depth + 1);
    else if (v->t == V_REC)
        for (uint32_t i = 0; i < v->n; i++) {
            const cfield *f = &((const cfield *)v->p)[i];
            warn_ident(V, at, f->key.p, f->key.n);
            warn_lit(V, at, &f->v, depth + 1);
        }
}

/* Cedar's text of an expression: string literals, entity ids, attribute names (`.a`, `["a"]`,
 * `has`), record keys, `like` patterns (shown with `*` for the wildcard, `\*` for a star) */
static void warn_text(vctx *V, const cnode *e, int depth) {
    if (!e || depth > 2 * (int)C_MAX_DEPTH || V->nomem)
        return;
    switch (e->op) {
        case X_LIT:
            warn_lit(V, e, &e->lit, 0);
            break;
        case X_ATTR:
        case X_HAS:
            warn_ident(V, e, e->name.p, e->name.n);
            break;
        case X_REC:
            for (uint32_t i = 0; i < e->n; i++)
                warn_ident(V, e, e->keys[i].p, e->keys[i].n);
            break;
        case X_LIKE: {
            char *buf = pool_alloc(&V->tmp, 2 * (size_t)e->n + 1);
            size_t k = 0;
            if (!buf) {
                V->nomem = 1;
                return;
            }
            for (uint32_t i = 0; i < e->n; i++) {
                if (e->pat[i] < 0) {
                    buf[k++] = '*';
                } else {
                    if (e->pat[i] == '*')
                        buf[k++] = '\\';
                    buf[k++] = (char)e->pat[i];
                }
            }
            warn_str(V, e, buf, k);
            break;
        }
        default:
            break;
    }
    warn_text(V, e->a, depth + 1);
    warn_text(V, e->b, depth + 1);
    warn_text(V, e->c, depth + 1);
    if (e->op == X_SET || e->op == X_REC || e->op == X_METHOD || e->op == X_CALL)
        for (uint32_t i = 0; i < e->n; i++)
            warn_text(V, e->args[i], depth + 1);
}

static void warn_policy_text(vctx *V, const cpolicy *p) {
    for (int k = 0; k < 3; k++) {
        const cscope *sc = &p->sc[k];
        if ((sc->op == S_EQ || sc->op == S_IN || sc->op == S_IS_IN) && !sc->slot)
            warn_uid(V, NULL, sc->ent);
        if (sc->op == S_IN_LIST)
            for (uint32_t i = 0; i < sc->n_list; i++)
                warn_uid(V, NULL, &sc->list[i]);
    }
    warn_text(V, p->cond, 0);
    pool_reset(&V->tmp);
}

void abac_cedar_validation_free(abac_cedar_validation *v) {
    if (!v)
        return;
    free(v->e);
    free(v->warn.e);
    pool_free(&v->mem);
    free(v);
}

int abac_cedar_validate(abac_cedar_validation **out, const abac_cedar_schema *s,
                        const abac_cedar_policies *ps) {
    if (!out || !s || !ps)
        return ABAC_E_INVALID;
    *out = NULL;
    abac_cedar_validation *o = calloc(1, sizeof *o);
    if (!o)
        return ABAC_E_NOMEM;
    vctx V;
    memset(&V, 0, sizeof V);
    V.S = s;
    V.ps = ps;
    V.out = o;
    for (uint32_t pi = 0; pi < ps->n && !V.nomem; pi++) {
        const cpolicy *p = &ps->pol[pi];
        V.pi = pi;
        V.per_pol = 0;
        check_scope_names(&V, p);
        scan_names(&V, p->cond, 0);
        if (!p->link_id) /* as Cedar: the text of templates and static policies, not links */
            warn_policy_text(&V, p);
        uint32_t envs = 0;
        int all_false = 1; /* the condition types as False in every environment */
        for (uint32_t ai = 0; ai < s->na && !V.nomem; ai++) {
            const sact *a = &s->a[ai];
            if (!a->applies || !action_admits(&V, &p->sc[1], ai))
                continue;
            for (uint32_t i = 0; i < a->n_pt && !V.nomem; i++) {
                if (!scope_admits(&V, &p->sc[0], a->pti[i]))
                    continue;
                for (uint32_t j = 0; j < a->n_rt; j++) {
                    if (!scope_admits(&V, &p->sc[2], a->rti[j]))
                        continue;
                    if (++envs > S_MAX_ENVS) {
                        V.nomem = 2; /* too many: refuse rather than run for long */
                        break;
                    }
                    if (!p->cond) {
                        all_false = 0;
                        continue;
                    }
                    V.act = ai;
                    V.pt = a->pti[i];
                    V.rt = a->rti[j];
                    caps none = {NULL, 0}, ct;
                    if (tc_bool(&V, p->cond, none, &ct, 0)->k != K_FALSE)
                        all_false = 0;
                    pool_reset(&V.tmp);
                }
            }
        }
        if (!envs)
            verror(&V, ABAC_E_NOT_APPLICABLE, NULL,
                   "unable to find an applicable action given the policy scope constraints");
        /* Cedar's ImpossiblePolicy warning: also when no environment applies (vacuously) */
        if (all_false && !p->link_id && !V.nomem)
            note_warning(
                &V, ABAC_CEDAR_WARN_IMPOSSIBLE_POLICY, NULL,
                "policy is impossible: the policy expression evaluates to false for all valid "
                "requests");
    }
    pool_free(&V.tmp);
    if (V.nomem) {
        abac_cedar_validation_free(o);
        return V.nomem == 2 ? ABAC_E_LIMIT : ABAC_E_NOMEM;
    }
    /* source order of policies, then of discovery */
    *out = o;
    return 0;
}

size_t abac_cedar_validation_error_count(const abac_cedar_validation *v) {
    return v ? v->n : 0;
}

static void verr_out(const verr *e, size_t *policy, int *code, const char **msg, size_t *msg_len,
                     uint32_t *line, uint32_t *col) {
    if (policy)
        *policy = e->policy;
    if (code)
        *code = e->code;
    if (msg)
        *msg = e->msg;
    if (msg_len)
        *msg_len = e->msg_len;
    if (line)
        *line = e->line;
    if (col)
        *col = e->col;
}

int abac_cedar_validation_error(const abac_cedar_validation *v, size_t i, size_t *policy, int *code,
                                const char **msg, size_t *msg_len, uint32_t *line, uint32_t *col) {
    if (!v)
        return ABAC_E_INVALID;
    if (i >= v->n)
        return ABAC_E_NOT_FOUND;
    verr_out(&v->e[i], policy, code, msg, msg_len, line, col);
    return 0;
}

size_t abac_cedar_validation_warning_count(const abac_cedar_validation *v) {
    return v ? v->warn.n : 0;
}

int abac_cedar_validation_warning(const abac_cedar_validation *v, size_t i, size_t *policy,
                                  int *kind, const char **msg, size_t *msg_len, uint32_t *line,
                                  uint32_t *col) {
    if (!v)
        return ABAC_E_INVALID;
    if (i >= v->warn.n)
        return ABAC_E_NOT_FOUND;
    verr_out(&v->warn.e[i], policy, kind, msg, msg_len, line, col);
    return 0;
}

/* ---- entities and requests against the schema ---- */
typedef struct cctx {
    const abac_cedar_schema *S;
    char *msg;
    size_t cap;
} cctx;

__attribute__((format(printf, 3, 4))) static int cfailm(cctx *C, int code, const char *fmt, ...) {
    if (C->msg && C->cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(C->msg, C->cap, fmt, ap);
        va_end(ap);
    }
    return code;
}

static const char *vkind(const cval *v) {
    static const char *const k[] = {"?",      "Bool",    "Long",   "String",   "entity",  "Set",
                                    "Record", "decimal", "ipaddr", "datetime", "duration"};
    return v->t <= V_DURATION ? k[v->t] : "?";
}

static int conforms(cctx *C, const cval *v, const ctype *t, const char *where, cstr name,
                    int depth);

static int conforms_rec(cctx *C, const cval *v, const ctype *t, const char *where, int depth) {
    const cfield *f = v->p;
    int rc;
    for (uint32_t i = 0; i < t->n; i++) {
        const cattrd *a = &t->attrs[i];
        const cval *x = NULL;
        for (uint32_t j = 0; j < v->n; j++)
            if (cstr_eq(f[j].key, a->name))
                x = &f[j].v;
        if (!x) {
            if (a->req)
                return cfailm(C, ABAC_E_REQUIRED_ATTR, "%s: required attribute `%.*s` is missing",
                              where, (int)a->name.n, a->name.p);
            continue;
        }
        if ((rc = conforms(C, x, a->t, where, a->name, depth + 1)))
            return rc;
    }
    if (!t->open)
        for (uint32_t j = 0; j < v->n; j++)
            if (!find_attr(t, f[j].key))
                return cfailm(C, ABAC_E_UNKNOWN_ATTR, "%s: attribute `%.*s` is not declared", where,
                              (int)f[j].key.n, f[j].key.p);
    return 0;
}

static int conforms(cctx *C, const cval *v, const ctype *t, const char *where, cstr name,
                    int depth) {
    if (depth > (int)C_MAX_DEPTH)
        return cfailm(C, ABAC_E_LIMIT, "%s: nested too deeply", where);
    int ok;
    switch (t->k) {
        case K_BOOL:
            ok = v->t == V_BOOL;
            break;
        case K_LONG:
            ok = v->t == V_LONG;
            break;
        case K_STR:
            ok = v->t == V_STR;
            break;
        case K_DEC:
            ok = v->t == V_DEC;
            break;
        case K_IP:
            ok = v->t == V_IP;
            break;
        case K_DT:
            ok = v->t == V_DATETIME;
            break;
        case K_DUR:
            ok = v->t == V_DURATION;
            break;
        case K_ENT:
            ok = v->t == V_ENT && cstr_eq(((const cuid *)v->p)->type, t->name);
            if (!ok && v->t == V_ENT)
                return cfailm(C, ABAC_E_ATTR_TYPE,
                              "%s: `%.*s` is an entity of type `%.*s`, not `%.*s`", where,
                              (int)name.n, name.p, (int)((const cuid *)v->p)->type.n,
                              ((const cuid *)v->p)->type.p, (int)t->name.n, t->name.p);
            break;
        case K_SET: {
            if (v->t != V_SET) {
                ok = 0;
                break;
            }
            const cval *el = v->p;
            for (uint32_t i = 0; i < v->n; i++) {
                int rc = conforms(C, &el[i], t->elem, where, name, depth + 1);
                if (rc)
                    return rc;
            }
            return 0;
        }
        case K_REC:
            if (v->t != V_REC) {
                ok = 0;
                break;
            }
            return conforms_rec(C, v, t, where, depth);
        default:
            ok = 0;
    }
    if (!ok) {
        char tn[256];
        tname(t, tn, sizeof tn, 0);
        return cfailm(C, ABAC_E_ATTR_TYPE, "%s: `%.*s` should be %s, found %s", where, (int)name.n,
                      name.p, tn, vkind(v));
    }
    return 0;
}

/* the closed ancestors of action entity e are exactly the schema's ancestors of action ai */
static int action_matches(const abac_cedar_schema *s, size_t ai, const centity *e) {
    uint32_t want = 0;
    for (size_t j = 0; j < s->na; j++)
        want += (uint32_t)getbit(s->aanc, s->awords, ai, j);
    if (e->n_anc != want) /* the ancestors are distinct: equal counts and inclusion suffice */
        return 0;
    for (uint32_t k = 0; k < e->n_anc; k++) {
        int64_t aj = find_act(s, e->anc[k]);
        if (aj < 0 || !getbit(s->aanc, s->awords, ai, (size_t)aj))
            return 0;
    }
    return 1;
}

int abac_cedar_schema_check_entities(const abac_cedar_schema *s, const abac_cedar_entities *es,
                                     char *err_msg, size_t err_cap) {
    if (err_msg && err_cap)
        err_msg[0] = 0;
    if (!s || !es)
        return ABAC_E_INVALID;
    cctx C = {s, err_msg, err_cap};
    int rc;
    for (uint32_t i = 0; i < es->n; i++) {
        const centity *e = &es->e[i];
        char where[200];
        snprintf(where, sizeof where, "entity `%.*s::\"%.*s\"`",
                 (int)(e->uid.type.n > 60 ? 60 : e->uid.type.n), e->uid.type.p,
                 (int)(e->uid.id.n > 60 ? 60 : e->uid.id.n), e->uid.id.p);
        if (is_action_type(s, e->uid.type)) {
            int64_t ai = find_act(s, &e->uid);
            if (ai < 0)
                return cfailm(&C, ABAC_E_UNKNOWN_TYPE, "%s: action not declared in the schema",
                              where);
            if (e->attrs.n || e->tags.n)
                return cfailm(&C, ABAC_E_UNKNOWN_ATTR,
                              "%s: definition of action does not match its schema declaration "
                              "(actions have no attributes or tags)",
                              where);
            /* as Cedar: the action's ancestors (closed over the given entities) must be exactly
             * its groups in the schema, transitively */
            if (!action_matches(s, (size_t)ai, e))
                return cfailm(&C, ABAC_E_ATTR_TYPE,
                              "%s: definition of action does not match its schema declaration "
                              "(its ancestors must be exactly its action groups, transitively)",
                              where);
            continue;
        }
        const sent *d = ent_decl(&(vctx){.S = s}, e->uid.type);
        if (!d)
            return cfailm(&C, ABAC_E_UNKNOWN_TYPE, "%s: entity type not declared in the schema",
                          where);
        if (d->is_enum) {
            int ok = 0;
            for (uint32_t k = 0; k < d->n_enum; k++)
                ok |= cstr_eq(d->enums[k], e->uid.id);
            if (!ok)
                return cfailm(&C, ABAC_E_UNKNOWN_TYPE, "%s: id is not one of the type's enum",
                              where);
        }
        if ((rc = conforms_rec(&C, &e->attrs, d->shape, where, 0)))
            return rc;
        for (uint32_t j = 0; j < e->n_parents; j++) {
            /* as in Cedar: any type its memberOfTypes reach, transitively */
            int64_t pt = find_ent(s, e->parents[j].type);
            if (pt < 0 || !getbit(s->eanc, s->ewords, (size_t)(d - s->e), (size_t)pt))
                return cfailm(&C, ABAC_E_ATTR_TYPE,
                              "%s: is not allowed to have an ancestor of type `%.*s` according "
                              "to the schema",
                              where, (int)e->parents[j].type.n, e->parents[j].type.p);
        }
        if (e->tags.n) {
            if (!d->tags)
                return cfailm(&C, ABAC_E_UNKNOWN_ATTR, "%s: its type declares no tags", where);
            const cfield *f = e->tags.p;
            for (uint32_t j = 0; j < e->tags.n; j++)
                if ((rc = conforms(&C, &f[j].v, d->tags, where, f[j].key, 0)))
                    return rc;
        }
    }
    return 0;
}

int abac_cedar_schema_check_request(const abac_cedar_schema *s, const abac_cedar_request *rq,
                                    char *err_msg, size_t err_cap) {
    if (err_msg && err_cap)
        err_msg[0] = 0;
    if (!s || !rq)
        return ABAC_E_INVALID;
    cctx C = {s, err_msg, err_cap};
    int64_t ai = find_act(s, &rq->uid[1]);
    const cuid *au = &rq->uid[1];
    if (ai < 0)
        return cfailm(&C, ABAC_E_UNKNOWN_TYPE, "action `%.*s::\"%.*s\"` is not declared",
                      (int)au->type.n, au->type.p, (int)au->id.n, au->id.p);
    const sact *a = &s->a[ai];
    static const char *const role[] = {"principal", "", "resource"};
    for (int r = 0; r < 3; r += 2) {
        const cuid *u = &rq->uid[r];
        if (find_ent(s, u->type) < 0)
            return cfailm(&C, ABAC_E_UNKNOWN_TYPE, "%s type `%.*s` is not declared", role[r],
                          (int)u->type.n, u->type.p);
        const cstr *ts = r ? a->rt : a->pt;
        uint32_t n = r ? a->n_rt : a->n_pt, ok = 0;
        for (uint32_t k = 0; k < n; k++)
            ok |= cstr_eq(ts[k], u->type);
        if (!ok || !a->applies)
            return cfailm(&C, ABAC_E_NOT_APPLICABLE,
                          "action `%.*s` does not apply to a %s of type `%.*s`", (int)au->id.n,
                          au->id.p, role[r], (int)u->type.n, u->type.p);
    }
    char where[200];
    snprintf(where, sizeof where, "context of action `%.*s`", (int)(au->id.n > 60 ? 60 : au->id.n),
             au->id.p);
    return conforms_rec(&C, &rq->context, a->ctx ? a->ctx : T_EMPTYREC, where, 0);
}

int cedar_validate_against_text(const abac_cedar_policies *ps, const char *schema, size_t len,
                                uint32_t *line, uint32_t *col, char *msg, size_t cap) {
    size_t i = 0;
    while (i < len &&
           (schema[i] == ' ' || schema[i] == '\t' || schema[i] == '\n' || schema[i] == '\r'))
        i++;
    abac_cedar_schema *s = NULL;
    int rc = i < len && schema[i] == '{'
                 ? abac_cedar_schema_parse_json(&s, schema, len, msg, cap)
                 : abac_cedar_schema_parse(&s, schema, len, line, col, msg, cap);
    if (rc)
        return rc;
    abac_cedar_validation *v = NULL;
    rc = abac_cedar_validate(&v, s, ps);
    if (!rc && v->n) {
        const verr *e = &v->e[0];
        rc = e->code;
        if (line)
            *line = e->line;
        if (col)
            *col = e->col;
        if (msg && cap)
            snprintf(msg, cap, "%s: %.*s", ps->pol[e->policy].id, (int)e->msg_len, e->msg);
    }
    abac_cedar_validation_free(v);
    abac_cedar_schema_free(s);
    return rc;
}

/* ---- reading entities and requests with a schema (1.2.0) ----
 * Cedar's JSON formats let a value whose declared type is known omit its escape: an entity
 * reference as {"type": T, "id": I} (other keys ignored, as Cedar does), an extension value
 * as {"fn": F, "arg": A} or as the constructor's argument alone ("10.0.0.1" for ipaddr).
 * The value read without a schema is rewritten in place by the declared type; a value that
 * does not fit is left for conforms() to refuse. */
static int field_str(const cval *v, const char *k, size_t kn, cstr *out) {
    const cfield *f = v->p;
    for (uint32_t j = 0; j < v->n; j++)
        if (cstr_eq(f[j].key, (cstr){k, kn})) {
            if (f[j].v.t != V_STR)
                return 0;
            *out = (cstr){f[j].v.p, f[j].v.n};
            return 1;
        }
    return 0;
}

static int coerce_extn(cctx *C, pool *p, cval *v, cstr fn, cstr arg, cstr name) {
    int bad;
    if (cstr_eq(fn, (cstr){"decimal", 7})) {
        v->t = V_DEC;
        bad = cedar_parse_decimal(arg.p, arg.n, &v->i);
    } else if (cstr_eq(fn, (cstr){"ip", 2})) { /* Cedar's constructor; "ipaddr" is the type */
        cip *ip = pool_alloc(p, sizeof *ip);
        if (!ip)
            return ABAC_E_NOMEM;
        bad = cedar_parse_ip(arg.p, arg.n, ip);
        v->t = V_IP;
        v->p = ip;
    } else if (cstr_eq(fn, (cstr){"datetime", 8})) {
        v->t = V_DATETIME;
        bad = cedar_parse_datetime(arg.p, arg.n, &v->i);
    } else if (cstr_eq(fn, (cstr){"duration", 8})) {
        v->t = V_DURATION;
        bad = cedar_parse_duration(arg.p, arg.n, &v->i);
    } else {
        return cfailm(C, ABAC_E_ATTR_TYPE, "`%.*s`: unknown extension function `%.*s`", (int)name.n,
                      name.p, (int)fn.n, fn.p);
    }
    v->n = 0;
    if (bad)
        return cfailm(C, ABAC_E_ATTR_TYPE, "`%.*s`: `%.*s` is not a valid %.*s literal",
                      (int)name.n, name.p, (int)(arg.n > 60 ? 60 : arg.n), arg.p, (int)fn.n, fn.p);
    return 0;
}

static int coerce(cctx *C, pool *p, cval *v, const ctype *t, cstr name, int depth) {
    if (depth > (int)C_MAX_DEPTH)
        return cfailm(C, ABAC_E_LIMIT, "`%.*s`: nested too deeply", (int)name.n, name.p);
    switch (t->k) {
        case K_ENT: {
            cstr ty, id;
            if (v->t == V_REC && field_str(v, "type", 4, &ty) && field_str(v, "id", 2, &id)) {
                cuid *u = pool_alloc(p, sizeof *u);
                if (!u)
                    return ABAC_E_NOMEM;
                u->type = ty;
                u->id = id;
                u->h = cuid_hash(u);
                v->t = V_ENT;
                v->p = u;
                v->n = 0;
            }
            return 0;
        }
        case K_DEC:
        case K_IP:
        case K_DT:
        case K_DUR: {
            static const char *const fns[] = {"decimal", "ip", "datetime", "duration"};
            cstr fn, arg;
            if (v->t == V_STR) {
                const char *f = fns[t->k == K_DEC ? 0 : t->k == K_IP ? 1 : t->k == K_DT ? 2 : 3];
                return coerce_extn(C, p, v, (cstr){f, strlen(f)}, (cstr){v->p, v->n}, name);
            }
            if (v->t == V_REC && v->n == 2 && field_str(v, "fn", 2, &fn) &&
                field_str(v, "arg", 3, &arg))
                return coerce_extn(C, p, v, fn, arg, name);
            return 0;
        }
        case K_SET:
            if (v->t == V_SET) {
                cval *el = (cval *)v->p;
                for (uint32_t i = 0; i < v->n; i++) {
                    int rc = coerce(C, p, &el[i], t->elem, name, depth + 1);
                    if (rc)
                        return rc;
                }
            }
            return 0;
        case K_REC:
            if (v->t == V_REC) {
                cfield *f = (cfield *)v->p;
                for (uint32_t j = 0; j < v->n; j++) {
                    const cattrd *a = find_attr(t, f[j].key);
                    if (a) {
                        int rc = coerce(C, p, &f[j].v, a->t, f[j].key, depth + 1);
                        if (rc)
                            return rc;
                    }
                }
            }
            return 0;
        default:
            return 0;
    }
}

static int copy_uid(pool *p, cuid *dst, const cuid *src) {
    *dst = *src;
    dst->type.p = pool_dup(p, src->type.p, src->type.n);
    dst->id.p = pool_dup(p, src->id.p, src->id.n);
    return dst->type.p && dst->id.p ? 0 : ABAC_E_NOMEM;
}

/* Cedar, given a schema, adds the schema's actions as entities: each with its action groups as
 * parents and their closure as ancestors. An action the entities list too was checked to be
 * exactly the declared one (abac_cedar_schema_check_entities), so it stays as it is. */
static int add_schema_actions(const abac_cedar_schema *s, abac_cedar_entities *es) {
    uint32_t missing = 0;
    for (uint32_t i = 0; i < s->na; i++)
        missing += !cedar_entity_find(es, &s->a[i].uid);
    if (!missing)
        return 0;
    uint32_t n = es->n + missing, hcap = 16;
    while (hcap < 2u * n)
        hcap *= 2;
    centity *ne = calloc(n, sizeof *ne);
    uint32_t *ht = calloc(hcap, sizeof *ht);
    if (!ne || !ht) {
        free(ne);
        free(ht);
        return ABAC_E_NOMEM;
    }
    /* ancestors that are listed entities point into es->e: move them to the new array */
    if (es->n) {
        memcpy(ne, es->e, es->n * sizeof *ne);
        uintptr_t lo = (uintptr_t)es->e, hi = (uintptr_t)(es->e + es->n);
        for (uint32_t i = 0; i < es->n; i++)
            for (uint32_t k = 0; k < ne[i].n_anc; k++) {
                uintptr_t a = (uintptr_t)ne[i].anc[k];
                if (a >= lo && a < hi)
                    ne[i].anc[k] = (const cuid *)((char *)ne + (a - lo));
            }
    }
    uint32_t at = es->n;
    int rc = 0;
    for (uint32_t i = 0; i < s->na && !rc; i++) {
        const sact *a = &s->a[i];
        if (cedar_entity_find(es, &a->uid))
            continue;
        centity *e = &ne[at++];
        e->attrs.t = V_REC;
        e->tags.t = V_REC;
        cuid *par = pool_alloc(&es->mem, (a->n_mem ? a->n_mem : 1) * sizeof *par);
        if (!par || copy_uid(&es->mem, &e->uid, &a->uid)) {
            rc = ABAC_E_NOMEM;
            break;
        }
        for (uint32_t j = 0; j < a->n_mem && !rc; j++)
            rc = copy_uid(&es->mem, &par[j], &a->mem[j]);
        e->parents = par;
        e->n_parents = a->n_mem;
    }
    free(es->e);
    free(es->ht);
    es->e = ne;
    es->ht = ht;
    es->hcap = hcap;
    es->n = rc ? es->n : n;
    for (uint32_t k = 0; k < es->n; k++) { /* the hash table over all of them */
        uint32_t m = hcap - 1, h = ne[k].uid.h & m;
        while (ht[h])
            h = (h + 1) & m;
        ht[h] = k + 1;
    }
    if (rc)
        return rc;
    /* the added actions' ancestors: the schema's closure, as the entities now held */
    for (uint32_t k = n - missing; k < n; k++) {
        centity *e = &ne[k];
        int64_t ai = find_act(s, &e->uid);
        uint32_t na = 0;
        for (size_t j = 0; j < s->na; j++)
            na += (uint32_t)getbit(s->aanc, s->awords, (size_t)ai, j);
        const cuid **anc = pool_alloc(&es->mem, (na ? na : 1) * sizeof *anc);
        if (!anc)
            return ABAC_E_NOMEM;
        uint32_t q = 0;
        for (size_t j = 0; j < s->na; j++)
            if (getbit(s->aanc, s->awords, (size_t)ai, j))
                anc[q++] = &cedar_entity_find(es, &s->a[j].uid)->uid;
        e->anc = anc;
        e->n_anc = na;
    }
    return 0;
}

int abac_cedar_entities_parse_json_schema(abac_cedar_entities **out, const char *json, size_t len,
                                          const abac_cedar_schema *s, char *err_msg,
                                          size_t err_cap) {
    if (!out)
        return ABAC_E_INVALID;
    *out = NULL;
    abac_cedar_entities *es = NULL;
    int rc = abac_cedar_entities_parse_json(&es, json, len, err_msg, err_cap);
    if (rc || !s) {
        *out = es;
        return rc;
    }
    cctx C = {s, err_msg, err_cap};
    for (uint32_t i = 0; i < es->n && !rc; i++) {
        centity *e = &es->e[i];
        if (is_action_type(s, e->uid.type))
            continue;
        const sent *d = ent_decl(&(vctx){.S = s}, e->uid.type);
        if (!d)
            continue; /* refused by the check below */
        rc = coerce(&C, &es->mem, &e->attrs, d->shape, (cstr){"attrs", 5}, 0);
        if (!rc && d->tags && e->tags.t == V_REC) {
            cfield *f = (cfield *)e->tags.p;
            for (uint32_t j = 0; j < e->tags.n && !rc; j++)
                rc = coerce(&C, &es->mem, &f[j].v, d->tags, f[j].key, 0);
        }
    }
    if (!rc)
        rc = abac_cedar_schema_check_entities(s, es, err_msg, err_cap);
    if (!rc)
        rc = add_schema_actions(s, es);
    if (rc) {
        if (rc == ABAC_E_NOMEM && err_msg && err_cap)
            snprintf(err_msg, err_cap, "out of memory");
        abac_cedar_entities_free(es);
        return rc;
    }
    *out = es;
    return 0;
}

int abac_cedar_request_parse_json_schema(abac_cedar_request **out, const char *json, size_t len,
                                         const abac_cedar_schema *s, char *err_msg,
                                         size_t err_cap) {
    if (!out)
        return ABAC_E_INVALID;
    *out = NULL;
    abac_cedar_request *rq = NULL;
    int rc = abac_cedar_request_parse_json(&rq, json, len, err_msg, err_cap);
    if (rc || !s) {
        *out = rq;
        return rc;
    }
    cctx C = {s, err_msg, err_cap};
    int64_t ai = find_act(s, &rq->uid[1]);
    if (ai >= 0 && s->a[ai].ctx)
        rc = coerce(&C, &rq->mem, &rq->context, s->a[ai].ctx, (cstr){"context", 7}, 0);
    if (!rc)
        rc = abac_cedar_schema_check_request(s, rq, err_msg, err_cap);
    if (rc) {
        abac_cedar_request_free(rq);
        return rc;
    }
    *out = rq;
    return 0;
}
