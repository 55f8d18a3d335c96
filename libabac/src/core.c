/* Policy-set storage, type checking, linking (attribute slots, rule index), the compile
 * entry point, error texts and the canonical printer. */
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

const char *abac_version_string(void) {
    return ABAC_VERSION_STRING;
}

const char *abac_strerror(int code) {
    switch (code) {
        /* clang-format off */
        /* codes:begin libabac.core.cases: generated from libabac/codes.tsv by tools/gen_codes.py */
        case ABAC_OK:
            return "success";
        case ABAC_E_INVALID:
            return "invalid argument (NULL or out of range)";
        case ABAC_E_NOMEM:
            return "out of memory";
        case ABAC_E_SYNTAX:
            return "policy syntax error";
        case ABAC_E_TYPE:
            return "policy type error";
        case ABAC_E_SCHEMA:
            return "invalid schema";
        case ABAC_E_UNKNOWN_ATTR:
            return "attribute not declared in the schema";
        case ABAC_E_DUPLICATE_RULE:
            return "duplicate rule id (rule ids must be unique)";
        case ABAC_E_LIMIT:
            return "size or nesting limit exceeded";
        case ABAC_E_JSON:
            return "malformed Cedar JSON (entities or request)";
        case ABAC_E_FORMAT:
            return "malformed or non-canonical encoding";
        case ABAC_E_FORMAT_VERSION:
            return "unknown magic or format version";
        case ABAC_E_BUFFER_TOO_SMALL:
            return "output buffer or request arena too small";
        case ABAC_E_ATTR_TYPE:
            return "request attribute has the wrong type for the schema";
        case ABAC_E_NOT_FOUND:
            return "not found (no such rule, attribute or item)";
        case ABAC_E_MISSING_ATTR:
            return "condition read a missing attribute";
        case ABAC_E_RUNTIME_TYPE:
            return "condition operand has the wrong type";
        case ABAC_E_NO_ENTITY:
            return "condition read an attribute of an entity that does not exist";
        case ABAC_E_OVERFLOW:
            return "integer overflow (64-bit arithmetic)";
        case ABAC_E_EXTENSION:
            return "extension function error (bad decimal, ip, datetime or duration)";
        case ABAC_E_STALE_VERSION:
            return "policy set version is not newer than the current one";
        case ABAC_E_REPLAY:
            return "update replays the current policy set";
        case ABAC_E_DUPLICATE_SIGNER:
            return "a member signed the update twice";
        case ABAC_E_NOT_MEMBER:
            return "a signer is not a member of the current policy set";
        case ABAC_E_BAD_SIGNATURE:
            return "a signature does not verify";
        case ABAC_E_NO_QUORUM:
            return "not more than two thirds of the members signed (more than 2/3 are needed)";
        case ABAC_E_WRONG_BASE:
            return "update was made against another policy set";
        case ABAC_E_NO_MEMBERS:
            return "the current policy set has no members and cannot be updated";
        /* codes:end */
        /* clang-format on */
        default:
            return "unknown error code";
    }
}

const char *abac_type_name(int t) {
    static const char *n[] = {"unknown",   "bool",        "int",      "string",
                              "timestamp", "set<string>", "set<int>", "entity"};
    return t >= 0 && t <= T_ENTITY ? n[t] : "?";
}

int abac_compile_options_init(abac_compile_options *opts) {
    if (!opts)
        return ABAC_E_INVALID;
    abac_compile_options d = ABAC_COMPILE_OPTIONS_INIT;
    *opts = d;
    return ABAC_OK;
}

/* ---- storage ----------------------------------------------------------------------------- */

static int grow(void **p, uint32_t *cap, uint32_t need, size_t elem) {
    if (need <= *cap)
        return 0;
    uint32_t nc = *cap ? *cap : 16;
    while (nc < need) {
        if (nc > 0x7FFFFFFFu)
            return -1;
        nc *= 2;
    }
    void *q = realloc(*p, (size_t)nc * elem);
    if (!q)
        return -1;
    *p = q;
    *cap = nc;
    return 0;
}

abac_policyset *ps_alloc(void) {
    return calloc(1, sizeof(abac_policyset));
}

static uint32_t fnv(const char *s, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t k = 0; k < n; k++) {
        h ^= (uint8_t)s[k];
        h *= 16777619u;
    }
    return h;
}

static int rehash(abac_policyset *ps, uint32_t cap) {
    uint32_t *t = calloc(cap, sizeof(uint32_t));
    if (!t)
        return -1;
    for (uint32_t id = 0; id < ps->n_strs; id++) {
        uint32_t h = fnv(ps_str(ps, id), ps_strlen(ps, id)) & (cap - 1);
        while (t[h])
            h = (h + 1) & (cap - 1);
        t[h] = id + 1;
    }
    free(ps->shash);
    ps->shash = t;
    ps->hcap = cap;
    return 0;
}

int64_t ps_lookup(const abac_policyset *ps, const char *s, size_t len) {
    if (!ps->hcap)
        return -1;
    uint32_t h = fnv(s, len) & (ps->hcap - 1);
    while (ps->shash[h]) {
        uint32_t id = ps->shash[h] - 1;
        if (ps->strs[id].len == len && memcmp(ps->blob + ps->strs[id].off, s, len) == 0)
            return id;
        h = (h + 1) & (ps->hcap - 1);
    }
    return -1;
}

int ps_intern(abac_policyset *ps, const char *s, size_t len, uint32_t *id) {
    int64_t f = ps_lookup(ps, s, len);
    if (f >= 0) {
        *id = (uint32_t)f;
        return 0;
    }
    if (len > MAX_STRLEN || ps->n_strs >= (1u << 24))
        return -1;
    if ((ps->n_strs + 1) * 2 > ps->hcap && rehash(ps, ps->hcap ? ps->hcap * 2 : 64))
        return -1;
    if (ps->blob_len + len + 1 > ps->blob_cap) {
        size_t nc = ps->blob_cap ? ps->blob_cap * 2 : 1024;
        while (nc < ps->blob_len + len + 1)
            nc *= 2;
        char *q = realloc(ps->blob, nc);
        if (!q)
            return -1;
        ps->blob = q;
        ps->blob_cap = nc;
    }
    if (grow((void **)&ps->strs, &ps->cap_strs, ps->n_strs + 1, sizeof(strent)))
        return -1;
    if (len)
        memcpy(ps->blob + ps->blob_len, s, len);
    ps->blob[ps->blob_len + len] = 0;
    ps->strs[ps->n_strs].off = (uint32_t)ps->blob_len;
    ps->strs[ps->n_strs].len = (uint32_t)len;
    ps->blob_len += len + 1;
    uint32_t h = fnv(s, len) & (ps->hcap - 1);
    while (ps->shash[h])
        h = (h + 1) & (ps->hcap - 1);
    ps->shash[h] = ps->n_strs + 1;
    *id = ps->n_strs++;
    return 0;
}

int ps_push_node(abac_policyset *ps, const node *n, uint32_t *idx) {
    if (grow((void **)&ps->nodes, &ps->cap_nodes, ps->n_nodes + 1, sizeof(node)))
        return -1;
    ps->nodes[ps->n_nodes] = *n;
    *idx = ps->n_nodes++;
    return 0;
}

int ps_push_set(abac_policyset *ps, int64_t v) {
    if (grow((void **)&ps->setpool, &ps->cap_setpool, ps->n_setpool + 1, sizeof(int64_t)))
        return -1;
    ps->setpool[ps->n_setpool++] = v;
    return 0;
}

int ps_push_u32(abac_policyset *ps, uint32_t v) {
    if (grow((void **)&ps->u32pool, &ps->cap_u32, ps->n_u32 + 1, sizeof(uint32_t)))
        return -1;
    ps->u32pool[ps->n_u32++] = v;
    return 0;
}

int ps_push_rule(abac_policyset *ps, const rule *r) {
    if (grow((void **)&ps->rules, &ps->cap_rules, ps->n_rules + 1, sizeof(rule)))
        return -1;
    ps->rules[ps->n_rules++] = *r;
    return 0;
}

int ps_push_schema(abac_policyset *ps, uint8_t scope, uint8_t type, uint32_t name) {
    if (grow((void **)&ps->schema, &ps->cap_schema, ps->n_schema + 1, sizeof(sattr)))
        return -1;
    ps->schema[ps->n_schema].scope = scope;
    ps->schema[ps->n_schema].type = type;
    ps->schema[ps->n_schema].name = name;
    ps->n_schema++;
    return 0;
}

static int cmp_key(const void *a, const void *b) {
    return memcmp(a, b, ABAC_PUBKEY_BYTES);
}

int ps_set_members(abac_policyset *ps, const uint8_t *members, size_t n) {
    if (n > MAX_MEMBERS || (n && !members))
        return ABAC_E_INVALID;
    free(ps->members);
    ps->members = NULL;
    ps->n_members = 0;
    if (!n)
        return 0;
    ps->members = malloc(n * ABAC_PUBKEY_BYTES);
    if (!ps->members)
        return ABAC_E_NOMEM;
    memcpy(ps->members, members, n * ABAC_PUBKEY_BYTES);
    qsort(ps->members, n, ABAC_PUBKEY_BYTES, cmp_key);
    for (size_t k = 1; k < n; k++)
        if (!memcmp(ps->members + (k - 1) * 32, ps->members + k * 32, 32))
            return ABAC_E_INVALID;
    ps->n_members = (uint32_t)n;
    return 0;
}

void abac_policyset_free(abac_policyset *ps) {
    if (!ps)
        return;
    free(ps->blob);
    free(ps->strs);
    free(ps->shash);
    free(ps->nodes);
    free(ps->setpool);
    free(ps->u32pool);
    free(ps->rules);
    free(ps->schema);
    free(ps->members);
    free(ps->slots);
    free(ps->slot_of);
    free(ps->act_idx);
    free(ps->type_idx);
    free(ps->bucket_off);
    free(ps->bucket);
    free(ps);
}

/* ---- type checking ----------------------------------------------------------------------- */

typedef struct tctx {
    abac_policyset *ps;
    uint32_t bad;
    char *msg;
    size_t cap;
} tctx;

__attribute__((format(printf, 4, 5))) static int tfail(tctx *c, uint32_t n, int code,
                                                       const char *fmt, ...) {
    c->bad = n;
    if (c->msg && c->cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->msg, c->cap, fmt, ap);
        va_end(ap);
    }
    return code;
}

static int schema_type(const abac_policyset *ps, int scope, uint32_t name) {
    for (uint32_t k = 0; k < ps->n_schema; k++)
        if (ps->schema[k].scope == scope && ps->schema[k].name == name)
            return ps->schema[k].type;
    return -1;
}

static const char *scope_name(int s) {
    return s == ABAC_SUBJECT ? "subject" : s == ABAC_RESOURCE ? "resource" : "context";
}

static int tc(tctx *c, uint32_t n, int depth, int *ty) {
    abac_policyset *ps = c->ps;
    if (n >= ps->n_nodes)
        return tfail(c, NONE32, ABAC_E_FORMAT, "node out of range");
    if (depth > (int)MAX_DEPTH * 3)
        return tfail(c, n, ABAC_E_LIMIT, "expression nested too deeply (at most %u levels)",
                     MAX_DEPTH * 3);
    node *x = &ps->nodes[n];
    int ta = 0, tb = 0, rc;
    switch (x->op) {
        case N_TRUE:
        case N_FALSE:
            *ty = T_BOOL;
            break;
        case N_INT:
            *ty = T_INT;
            break;
        case N_STR:
            *ty = T_STR;
            break;
        case N_TIME:
            *ty = T_TIME;
            break;
        case N_SET:
            *ty = x->type;
            break;
        case N_ACTION:
            *ty = T_STR;
            break;
        case N_SUBJECT:
        case N_RESOURCE:
            *ty = T_ENTITY;
            break;
        case N_ATTR:
        case N_HAS: {
            int st = ps->has_schema ? schema_type(ps, x->scope, (uint32_t)x->i) : 0;
            if (st < 0) {
                char what[64];
                snprintf(what, sizeof what, "%s", scope_name(x->scope));
                return tfail(c, n, ABAC_E_UNKNOWN_ATTR,
                             "attribute '%s' is not declared in the schema of %s",
                             ps_str(ps, (uint32_t)x->i), what);
            }
            *ty = x->op == N_HAS ? T_BOOL : st;
            break;
        }
        case N_NOT:
            if ((rc = tc(c, x->a, depth + 1, &ta)))
                return rc;
            if (ta && ta != T_BOOL)
                return tfail(c, x->a, ABAC_E_TYPE, "expected bool after '!', found %s",
                             abac_type_name(ta));
            *ty = T_BOOL;
            break;
        case N_AND:
        case N_OR:
            if ((rc = tc(c, x->a, depth + 1, &ta)) || (rc = tc(c, x->b, depth + 1, &tb)))
                return rc;
            if (ta && ta != T_BOOL)
                return tfail(c, x->a, ABAC_E_TYPE, "expected bool operand of '%s', found %s",
                             x->op == N_AND ? "&&" : "||", abac_type_name(ta));
            if (tb && tb != T_BOOL)
                return tfail(c, x->b, ABAC_E_TYPE, "expected bool operand of '%s', found %s",
                             x->op == N_AND ? "&&" : "||", abac_type_name(tb));
            *ty = T_BOOL;
            break;
        case N_EQ:
        case N_NE:
            if ((rc = tc(c, x->a, depth + 1, &ta)) || (rc = tc(c, x->b, depth + 1, &tb)))
                return rc;
            if (ta && tb && ta != tb &&
                !((ta == T_ENTITY && tb == T_STR) || (ta == T_STR && tb == T_ENTITY)))
                return tfail(c, n, ABAC_E_TYPE, "expected operands of one type, found %s and %s",
                             abac_type_name(ta), abac_type_name(tb));
            *ty = T_BOOL;
            break;
        case N_LT:
        case N_LE:
        case N_GT:
        case N_GE:
            if ((rc = tc(c, x->a, depth + 1, &ta)) || (rc = tc(c, x->b, depth + 1, &tb)))
                return rc;
            if ((ta && ta != T_INT && ta != T_TIME) || (tb && tb != T_INT && tb != T_TIME) ||
                (ta && tb && ta != tb))
                return tfail(c, n, ABAC_E_TYPE,
                             "expected two ints or two timestamps to order, found %s and %s",
                             abac_type_name(ta), abac_type_name(tb));
            *ty = T_BOOL;
            break;
        case N_IN:
            if ((rc = tc(c, x->a, depth + 1, &ta)) || (rc = tc(c, x->b, depth + 1, &tb)))
                return rc;
            if (ta == T_ENTITY) {
                if (tb && tb != T_STR && tb != T_SSET)
                    return tfail(c, x->b, ABAC_E_TYPE,
                                 "expected a group (string) or set<string> after 'in', found %s",
                                 abac_type_name(tb));
            } else {
                if (tb && tb != T_SSET && tb != T_ISET)
                    return tfail(c, x->b, ABAC_E_TYPE, "expected a set after 'in', found %s",
                                 abac_type_name(tb));
                if (ta == T_BOOL || ta == T_TIME)
                    return tfail(c, x->a, ABAC_E_TYPE,
                                 "expected a string, int or set before 'in', found %s",
                                 abac_type_name(ta));
                if (ta && tb) {
                    int ea = ta == T_SSET ? T_STR : ta == T_ISET ? T_INT : ta;
                    int eb = tb == T_SSET ? T_STR : T_INT;
                    if (ea != eb)
                        return tfail(c, n, ABAC_E_TYPE,
                                     "expected matching element types, "
                                     "found %s in %s",
                                     abac_type_name(ta), abac_type_name(tb));
                }
            }
            *ty = T_BOOL;
            break;
        default:
            return tfail(c, n, ABAC_E_FORMAT, "unknown operator");
    }
    x->type = (uint8_t)*ty;
    return 0;
}

/* ---- linking and index ------------------------------------------------------------------- */

static int cmp_ids(const abac_policyset *ps, uint32_t x, uint32_t y) {
    uint32_t lx = ps_strlen(ps, x), ly = ps_strlen(ps, y);
    int c = memcmp(ps_str(ps, x), ps_str(ps, y), lx < ly ? lx : ly);
    return c ? c : (lx < ly ? -1 : lx > ly);
}

static int add_slot(abac_policyset *ps, int scope, uint32_t name, int type, uint32_t *out) {
    uint32_t *so = &ps->slot_of[(size_t)scope * ps->n_strs + name];
    if (*so == NONE32) {
        slotinfo *q = realloc(ps->slots, (ps->n_slots + 1) * sizeof(slotinfo));
        if (!q)
            return ABAC_E_NOMEM;
        ps->slots = q;
        q[ps->n_slots].scope = (uint8_t)scope;
        q[ps->n_slots].type = (uint8_t)type;
        q[ps->n_slots].name = name;
        *so = ps->n_slots++;
    }
    *out = *so;
    return 0;
}

int ps_finish(abac_policyset *ps, uint32_t *bad_node, uint32_t *bad_rule, char *msg, size_t cap) {
    *bad_node = NONE32;
    *bad_rule = NONE32;
    /* schema in canonical order: (scope, name bytes) */
    for (uint32_t k = 1; k < ps->n_schema; k++) {
        sattr x = ps->schema[k];
        uint32_t j = k;
        while (j > 0 && (ps->schema[j - 1].scope > x.scope ||
                         (ps->schema[j - 1].scope == x.scope &&
                          cmp_ids(ps, ps->schema[j - 1].name, x.name) > 0))) {
            ps->schema[j] = ps->schema[j - 1];
            j--;
        }
        ps->schema[j] = x;
    }
    tctx c = {ps, NONE32, msg, cap};
    for (uint32_t r = 0; r < ps->n_rules; r++) {
        if (ps->rules[r].cond == NONE32)
            continue;
        int ty = 0, rc = tc(&c, ps->rules[r].cond, 0, &ty);
        if (!rc && ty && ty != T_BOOL)
            rc = tfail(&c, ps->rules[r].cond, ABAC_E_TYPE, "expected a bool condition, found %s",
                       abac_type_name(ty));
        if (rc) {
            *bad_node = c.bad;
            *bad_rule = r;
            return rc;
        }
    }
    /* slots */
    size_t ns = ps->n_strs ? ps->n_strs : 1;
    ps->slot_of = malloc(3 * ns * sizeof(uint32_t));
    ps->act_idx = malloc(ns * sizeof(uint32_t));
    ps->type_idx = malloc(ns * sizeof(uint32_t));
    if (!ps->slot_of || !ps->act_idx || !ps->type_idx)
        return ABAC_E_NOMEM;
    memset(ps->slot_of, 0xFF, 3 * ns * sizeof(uint32_t));
    memset(ps->act_idx, 0xFF, ns * sizeof(uint32_t));
    memset(ps->type_idx, 0xFF, ns * sizeof(uint32_t));
    uint32_t sl;
    for (uint32_t k = 0; k < ps->n_schema; k++)
        if (add_slot(ps, ps->schema[k].scope, ps->schema[k].name, ps->schema[k].type, &sl))
            return ABAC_E_NOMEM;
    for (uint32_t k = 0; k < ps->n_nodes; k++) {
        node *x = &ps->nodes[k];
        if (x->op == N_ATTR || x->op == N_HAS) {
            if (add_slot(ps, x->scope, (uint32_t)x->i, 0, &sl))
                return ABAC_E_NOMEM;
            x->slot = sl;
        }
    }
    /* index: actions x resource types */
    for (uint32_t r = 0; r < ps->n_rules; r++) {
        rule *ru = &ps->rules[r];
        for (uint32_t k = 0; k < ru->n_act; k++) {
            uint32_t a = ps->u32pool[ru->act_off + k];
            if (ps->act_idx[a] == NONE32)
                ps->act_idx[a] = ps->n_actidx++;
        }
        if (ru->res_type != NONE32 && ps->type_idx[ru->res_type] == NONE32)
            ps->type_idx[ru->res_type] = ps->n_typeidx++;
    }
    uint64_t A = ps->n_actidx + 1, T = ps->n_typeidx + 1, total = 0;
    for (uint32_t r = 0; r < ps->n_rules; r++) {
        rule *ru = &ps->rules[r];
        total += (ru->n_act ? ru->n_act : A) * (ru->res_type != NONE32 ? 1 : T);
    }
    ps->index_by_type = A * T <= 65536 && total <= (4u << 20);
    if (!ps->index_by_type) {
        T = 1;
        total = 0;
        for (uint32_t r = 0; r < ps->n_rules; r++)
            total += ps->rules[r].n_act ? ps->rules[r].n_act : A;
    }
    if (total > (16u << 20))
        return tfail(&c, NONE32, ABAC_E_LIMIT, "rule index too large");
    uint64_t nb = A * T;
    ps->bucket_off = calloc(nb * 2 + 1, sizeof(uint32_t));
    ps->bucket = malloc((total ? total : 1) * sizeof(uint32_t));
    uint32_t *fill = calloc(nb * 2 + 1, sizeof(uint32_t));
    if (!ps->bucket_off || !ps->bucket || !fill) {
        free(fill);
        return ABAC_E_NOMEM;
    }
    /* layout per bucket b: [off[2b], off[2b+1]) forbids, [off[2b+1], off[2b+2]) permits,
     * each in rule order. Two sweeps: count, then place. */
    for (int sweep = 0; sweep < 2; sweep++) {
        for (uint32_t r = 0; r < ps->n_rules; r++) {
            const rule *ru = &ps->rules[r];
            uint64_t pass = ru->effect == ABAC_DENY ? 0 : 1;
            uint64_t na = ru->n_act ? ru->n_act : A;
            for (uint64_t ka = 0; ka < na; ka++) {
                uint64_t ai = ru->n_act ? ps->act_idx[ps->u32pool[ru->act_off + ka]] : ka;
                int any_t = !ps->index_by_type || ru->res_type == NONE32;
                uint64_t t0 = any_t ? 0 : ps->type_idx[ru->res_type];
                uint64_t t1 = any_t ? T : t0 + 1;
                for (uint64_t ti = t0; ti < t1; ti++) {
                    uint64_t slot = 2 * (ai * T + ti) + pass;
                    if (sweep == 0)
                        fill[slot]++;
                    else
                        ps->bucket[fill[slot]++] = r;
                }
            }
        }
        if (sweep == 0) {
            uint32_t pos = 0;
            for (uint64_t k = 0; k < 2 * nb; k++) {
                uint32_t cnt = fill[k];
                ps->bucket_off[k] = pos;
                fill[k] = pos;
                pos += cnt;
            }
            ps->bucket_off[2 * nb] = pos;
        }
    }
    free(fill);
    return 0;
}

/* ---- compile ----------------------------------------------------------------------------- */

int abac_policyset_compile(const char *src, size_t len, const abac_compile_options *opts,
                           abac_policyset **out, uint32_t *err_line, uint32_t *err_col,
                           char *err_msg, size_t err_msg_cap) {
    if (err_line)
        *err_line = 0;
    if (err_col)
        *err_col = 0;
    if (err_msg && err_msg_cap)
        err_msg[0] = 0;
    if (!out || (!src && len) || len > MAX_SRC)
        return len > MAX_SRC ? ABAC_E_LIMIT : ABAC_E_INVALID;
    *out = NULL;
    abac_compile_options d = ABAC_COMPILE_OPTIONS_INIT;
    if (!opts)
        opts = &d;
    if (opts->version != ABAC_COMPILE_OPTIONS_VERSION || (!opts->schema && opts->schema_len))
        return ABAC_E_INVALID;
    abac_policyset *ps = ps_alloc();
    if (!ps)
        return ABAC_E_NOMEM;
    int rc = ps_set_members(ps, opts->members, opts->n_members);
    ps->version = opts->set_version;
    if (!rc && opts->schema) {
        rc = ps_parse_schema(ps, opts->schema, opts->schema_len, err_line, err_col, err_msg,
                             err_msg_cap);
        if (rc == ABAC_E_SYNTAX)
            rc = ABAC_E_SCHEMA;
    }
    if (!rc)
        rc = ps_parse_policies(ps, src ? src : "", len, err_line, err_col, err_msg, err_msg_cap);
    if (!rc) {
        uint32_t bn, br;
        rc = ps_finish(ps, &bn, &br, err_msg, err_msg_cap);
        if (rc && bn != NONE32) {
            if (err_line)
                *err_line = ps->nodes[bn].line;
            if (err_col)
                *err_col = ps->nodes[bn].col;
        }
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

size_t abac_policyset_rule_count(const abac_policyset *ps) {
    return ps ? ps->n_rules : 0;
}

const char *abac_policyset_rule_id(const abac_policyset *ps, size_t i) {
    return ps && i < ps->n_rules ? ps_str(ps, ps->rules[i].id) : NULL;
}

uint64_t abac_policyset_version(const abac_policyset *ps) {
    return ps ? ps->version : 0;
}

size_t abac_policyset_member_count(const abac_policyset *ps) {
    return ps ? ps->n_members : 0;
}

const uint8_t *abac_policyset_member(const abac_policyset *ps, size_t i) {
    return ps && i < ps->n_members ? ps->members + i * ABAC_PUBKEY_BYTES : NULL;
}

/* ---- printer ----------------------------------------------------------------------------- */

typedef struct pbuf {
    char *o;
    size_t cap, n;
} pbuf;

static void put(pbuf *b, const char *s, size_t n) {
    for (size_t k = 0; k < n; k++) {
        if (b->n + 1 < b->cap)
            b->o[b->n] = s[k];
        b->n++;
    }
}
static void puts_(pbuf *b, const char *s) {
    put(b, s, strlen(s));
}

static void put_str(pbuf *b, const abac_policyset *ps, uint32_t id) {
    const char *s = ps_str(ps, id);
    put(b, "\"", 1);
    for (uint32_t k = 0; k < ps_strlen(ps, id); k++) {
        char c = s[k];
        if (c == '"' || c == '\\') {
            put(b, "\\", 1);
            put(b, &c, 1);
        } else if (c == '\n')
            puts_(b, "\\n");
        else if (c == '\t')
            puts_(b, "\\t");
        else
            put(b, &c, 1);
    }
    put(b, "\"", 1);
}

static void put_i64(pbuf *b, int64_t v) {
    char t[32];
    snprintf(t, sizeof t, "%lld", (long long)v);
    puts_(b, t);
}

static void pr(pbuf *b, const abac_policyset *ps, uint32_t n, int depth) {
    if (depth > 200) {
        puts_(b, "...");
        return;
    }
    const node *x = &ps->nodes[n];
    static const char *bin[] = {
        [N_EQ] = " == ", [N_NE] = " != ", [N_LT] = " < ",   [N_LE] = " <= ", [N_GT] = " > ",
        [N_GE] = " >= ", [N_IN] = " in ", [N_AND] = " && ", [N_OR] = " || "};
    switch (x->op) {
        case N_TRUE:
            puts_(b, "true");
            break;
        case N_FALSE:
            puts_(b, "false");
            break;
        case N_INT:
            put_i64(b, x->i);
            break;
        case N_TIME:
            puts_(b, "time(");
            put_i64(b, x->i);
            puts_(b, ")");
            break;
        case N_STR:
            put_str(b, ps, (uint32_t)x->i);
            break;
        case N_SET:
            puts_(b, "[");
            for (uint32_t k = 0; k < x->b; k++) {
                if (k)
                    puts_(b, ", ");
                if (x->type == T_SSET)
                    put_str(b, ps, (uint32_t)ps->setpool[x->a + k]);
                else
                    put_i64(b, ps->setpool[x->a + k]);
            }
            puts_(b, "]");
            break;
        case N_ATTR:
            puts_(b, scope_name(x->scope));
            puts_(b, ".");
            puts_(b, ps_str(ps, (uint32_t)x->i));
            break;
        case N_HAS:
            puts_(b, scope_name(x->scope));
            puts_(b, " has ");
            puts_(b, ps_str(ps, (uint32_t)x->i));
            break;
        case N_SUBJECT:
            puts_(b, "subject");
            break;
        case N_RESOURCE:
            puts_(b, "resource");
            break;
        case N_ACTION:
            puts_(b, "action");
            break;
        case N_NOT: {
            int paren = ps->nodes[x->a].op >= N_EQ && ps->nodes[x->a].op != N_NOT;
            puts_(b, paren ? "!(" : "!");
            pr(b, ps, x->a, depth + 1);
            if (paren)
                puts_(b, ")");
            break;
        }
        default: {
            if (x->op < N_EQ || x->op > N_OR)
                break;
            for (int side = 0; side < 2; side++) {
                uint32_t ch = side ? x->b : x->a;
                uint8_t cop = ps->nodes[ch].op;
                int paren;
                if (x->op == N_AND)
                    paren = cop == N_OR;
                else if (x->op == N_OR)
                    paren = 0;
                else
                    paren = cop >= N_EQ && cop <= N_OR;
                /* left-assoc chains print without parens; a right operand of the same
                 * operator needs them to keep the tree */
                if (side == 1 && (x->op == N_AND || x->op == N_OR) && cop == x->op)
                    paren = 1;
                if (paren)
                    puts_(b, "(");
                pr(b, ps, ch, depth + 1);
                if (paren)
                    puts_(b, ")");
                if (!side)
                    puts_(b, bin[x->op]);
            }
        }
    }
}

size_t ps_print(const abac_policyset *ps, uint32_t n, char *out, size_t cap) {
    pbuf b = {out, cap, 0};
    if (n < ps->n_nodes)
        pr(&b, ps, n, 0);
    if (cap)
        out[b.n < cap ? b.n : cap - 1] = 0;
    return b.n;
}
