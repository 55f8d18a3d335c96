/* Cedar policy analysis by the Z3 SMT solver (docs/policy-analysis.md).
 *
 * Policies come from libabac's parser (its internal AST, cedar_int.h: this library is built in
 * libabac's tree and links its static archive). A request is encoded over finite universes:
 * entity uids are indices into the entity literals of the policies plus fresh uids of every
 * type named (and of one unnamed type), strings are indices into the string literals plus
 * fresh strings, longs / datetimes / durations are 64-bit bit-vectors, string sets are
 * membership vectors over the string universe, sets of longs arrays from bit-vectors to
 * booleans; ancestry is an uninterpreted relation
 * anc(entity, target) over the entities used on the right of `in`, closed transitively. Each
 * attribute path (principal.a, resource.a.b, context.a) has a type tag and one payload per
 * type. A condition is encoded as (err, value) following cedar_eval.c operator by operator.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <z3.h>

#include "abac_analyze.h"
#include "cedar_int.h"
#include "cedar_schema_int.h"

enum {
    T_ABSENT = 0,
    T_BOOL,
    T_LONG,
    T_STR,
    T_ENT,
    T_SETSTR,
    T_DATETIME,
    T_DURATION,
    T_REC,
    T_SETLONG /* a set of longs: an array from 64-bit vectors to booleans */
};

/* datetimes a request can carry: years 0000 to 9999 (Cedar's datetime text) */
#define DT_MIN (-62167219200000LL)
#define DT_MAX (253402300799999LL)

typedef struct sb {
    char *p;
    size_t n, cap;
    int oom;
} sb;

static void sb_put(sb *b, const char *s, size_t n) {
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 256;
        while (c < b->n + n + 1)
            c *= 2;
        char *q = realloc(b->p, c);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = c;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}
static void sb_s(sb *b, const char *s) {
    sb_put(b, s, strlen(s));
}
static void sb_f(sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_f(sb *b, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k > 0)
        sb_put(b, tmp, (size_t)k < sizeof tmp ? (size_t)k : sizeof tmp - 1);
}
static void sb_json_str(sb *b, const char *s, size_t n) {
    sb_s(b, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            sb_put(b, e, 2);
        } else if (c < 0x20) {
            sb_f(b, "\\u%04x", c);
        } else {
            sb_put(b, (const char *)&s[i], 1);
        }
    }
    sb_s(b, "\"");
}

/* ---- analysis state ---- */
typedef struct apath {
    int root;   /* 0 principal, 2 resource, 3 context */
    int parent; /* path index, -1 at the root */
    cstr name;
    int has_children, mirror;
    int rec_ok; /* under a schema: a record value without child paths read */
    Z3_ast ty, b, l, s, e;
    Z3_ast *mem;
    Z3_ast ls; /* set of longs */
} apath;

typedef struct euni {
    cstr type, id; /* id of a fresh uid is made up (fresh != 0) */
    int fresh;
} euni;

typedef struct sv {
    Z3_ast err, ty, b, l, s, e;
    Z3_ast *mem; /* string-set membership (NULL: empty) */
    int may_rec;
    Z3_ast ls; /* set of longs */
} sv;

typedef struct an {
    Z3_context z;
    int rc;
    char msg[512];
    /* universes */
    cstr *str;
    size_t nstr, capstr, nstr_lit;
    euni *ent;
    size_t nent, capent;
    cstr *types;
    size_t ntypes, captypes;
    size_t *type_lo, *type_hi; /* entity index range of each type (after build) */
    int *targets;              /* entity indices used on the right of `in` */
    size_t ntargets, captargets;
    apath *paths;
    size_t npaths, cappaths;
    int set_vs_set;
    /* solver terms */
    Z3_sort I, B, BV, LS;
    int64_t *cand; /* long values a printed set of longs is read over: literals, then values a
                      model gave */
    size_t ncand, capcand, nlit_longs;
    Z3_ast P, A, R; /* request entity indices */
    Z3_func_decl anc;
    Z3_ast *axioms;
    size_t naxioms, capaxioms;
    char fresh_tag[32];
    size_t nprefs, max_prefs; /* solver calls spent on readable requests */
    char *other_type;         /* the type no policy names (owned) */
    int built;                /* str[nstr_lit..nstr) are owned */
    Z3_ast **owned;           /* membership vectors of set literals and conditionals */
    size_t nowned, capowned;
    const abac_cedar_schema *S; /* NULL: every request; else only those S allows */
    int aliased; /* the request printed gives attributes to an entity reached through an
                    attribute (json_ent_attrs): it may not be realisable (see report()) */
} an;

static void z3_err(Z3_context c, Z3_error_code e) {
    (void)c;
    (void)e; /* checked after each solver call through Z3_get_error_code */
}

static int fail(an *A, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(an *A, int rc, const char *fmt, ...) {
    if (A->rc)
        return A->rc;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(A->msg, sizeof A->msg, fmt, ap);
    va_end(ap);
    A->rc = rc;
    return rc;
}
static int unsupported(an *A, const cnode *n, const char *what) {
    return fail(A, ABAC_ANALYZE_E_UNSUPPORTED, "line %u:%u: %s is not supported by the analysis",
                n ? n->line : 0, n ? n->col : 0, what);
}

static int grow(void **p, size_t *cap, size_t need, size_t el) {
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 16;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * el);
    if (!q)
        return -1;
    *p = q;
    *cap = c;
    return 0;
}

static int add_str(an *A, cstr s) {
    for (size_t k = 0; k < A->nstr; k++)
        if (cstr_eq(A->str[k], s))
            return (int)k;
    if (grow((void **)&A->str, &A->capstr, A->nstr + 1, sizeof *A->str))
        return fail(A, ABAC_E_NOMEM, "out of memory"), -1;
    A->str[A->nstr] = s;
    return (int)A->nstr++;
}
static int find_str(const an *A, cstr s) {
    for (size_t k = 0; k < A->nstr_lit; k++)
        if (cstr_eq(A->str[k], s))
            return (int)k;
    return -1;
}
static void add_type(an *A, cstr t) {
    for (size_t k = 0; k < A->ntypes; k++)
        if (cstr_eq(A->types[k], t))
            return;
    if (grow((void **)&A->types, &A->captypes, A->ntypes + 1, sizeof *A->types)) {
        fail(A, ABAC_E_NOMEM, "out of memory");
        return;
    }
    A->types[A->ntypes++] = t;
}
static int add_ent(an *A, cstr type, cstr id, int fresh) {
    for (size_t k = 0; k < A->nent; k++)
        if (!A->ent[k].fresh && !fresh && cstr_eq(A->ent[k].type, type) &&
            cstr_eq(A->ent[k].id, id))
            return (int)k;
    if (grow((void **)&A->ent, &A->capent, A->nent + 1, sizeof *A->ent))
        return fail(A, ABAC_E_NOMEM, "out of memory"), -1;
    A->ent[A->nent] = (euni){type, id, fresh};
    add_type(A, type);
    return (int)A->nent++;
}
static int find_ent(const an *A, const cuid *u) {
    for (size_t k = 0; k < A->nent; k++)
        if (!A->ent[k].fresh && cstr_eq(A->ent[k].type, u->type) && cstr_eq(A->ent[k].id, u->id))
            return (int)k;
    return -1;
}
static void add_cand(an *A, int64_t v) {
    for (size_t k = 0; k < A->ncand; k++)
        if (A->cand[k] == v)
            return;
    if (grow((void **)&A->cand, &A->capcand, A->ncand + 1, sizeof *A->cand)) {
        fail(A, ABAC_E_NOMEM, "out of memory");
        return;
    }
    A->cand[A->ncand++] = v;
}
static void add_target(an *A, int e) {
    for (size_t k = 0; k < A->ntargets; k++)
        if (A->targets[k] == e)
            return;
    if (grow((void **)&A->targets, &A->captargets, A->ntargets + 1, sizeof *A->targets)) {
        fail(A, ABAC_E_NOMEM, "out of memory");
        return;
    }
    A->targets[A->ntargets++] = e;
}

static int path_find(an *A, int root, int parent, cstr name, int create) {
    for (size_t k = 0; k < A->npaths; k++)
        if (A->paths[k].root == root && A->paths[k].parent == parent &&
            cstr_eq(A->paths[k].name, name))
            return (int)k;
    if (!create)
        return -1;
    if (grow((void **)&A->paths, &A->cappaths, A->npaths + 1, sizeof *A->paths))
        return fail(A, ABAC_E_NOMEM, "out of memory"), -1;
    memset(&A->paths[A->npaths], 0, sizeof *A->paths);
    A->paths[A->npaths].root = root;
    A->paths[A->npaths].parent = parent;
    A->paths[A->npaths].name = name;
    A->paths[A->npaths].mirror = -1;
    if (parent >= 0)
        A->paths[parent].has_children = 1;
    return (int)A->npaths++;
}

/* the path of `base.name` where base is principal, resource, context or a path; -1 if base is
 * none of these (-2: base is the context itself, for `context has x` callers) */
static int path_of_base(an *A, const cnode *base, int create) {
    if (base->op == X_VAR)
        return base->var == 1 ? -1 : -10 - (int)base->var; /* -10 principal, -12, -13 */
    if (base->op == X_ATTR) {
        int q = path_of_base(A, base->a, create);
        if (q == -1)
            return -1;
        int root = q <= -10 ? -10 - q : A->paths[q].root;
        return path_find(A, root, q <= -10 ? -1 : q, base->name, create);
    }
    return -1;
}
static int path_child(an *A, const cnode *base, cstr name, int create) {
    int q = path_of_base(A, base, create);
    if (q == -1)
        return -1;
    int root = q <= -10 ? -10 - q : A->paths[q].root;
    return path_find(A, root, q <= -10 ? -1 : q, name, create);
}

/* a set written with literals only (an X_SET of X_LIT, or a literal set the parser folded):
 * its number of elements, element k in *out if out; -1 if not such a set */
static int set_lit(const cnode *n, uint32_t k, cval *out) {
    if (n->op == X_LIT && n->lit.t == V_SET) {
        if (out && k < n->lit.n)
            *out = ((const cval *)n->lit.p)[k];
        return (int)n->lit.n;
    }
    if (n->op != X_SET)
        return -1;
    for (uint32_t j = 0; j < n->n; j++)
        if (n->args[j]->op != X_LIT)
            return -1;
    if (out && k < n->n)
        *out = n->args[k]->lit;
    return (int)n->n;
}

/* ---- pass 1: literals, types, targets, paths ---- */
static int is_set_method(int m) {
    return m == M_CONTAINS || m == M_CONTAINS_ALL || m == M_CONTAINS_ANY || m == M_IS_EMPTY;
}

static void collect_in_rhs(an *A, const cnode *b) {
    if (b->op == X_LIT && b->lit.t == V_ENT) {
        const cuid *u = b->lit.p;
        add_target(A, add_ent(A, u->type, u->id, 0));
        return;
    }
    int ne = set_lit(b, 0, NULL);
    for (int k = 0; k < ne; k++) {
        cval v = {0};
        set_lit(b, (uint32_t)k, &v);
        if (v.t == V_ENT) {
            const cuid *u = v.p;
            add_target(A, add_ent(A, u->type, u->id, 0));
        }
    }
}

static void collect(an *A, const cnode *n) {
    if (!n || A->rc)
        return;
    switch (n->op) {
        case X_LIT:
            if (n->lit.t == V_LONG)
                add_cand(A, n->lit.i);
            if (n->lit.t == V_STR)
                add_str(A, (cstr){n->lit.p, n->lit.n});
            else if (n->lit.t == V_ENT) {
                const cuid *u = n->lit.p;
                add_ent(A, u->type, u->id, 0);
            } else if (n->lit.t == V_SET) {
                const cval *el = n->lit.p;
                for (uint32_t k = 0; k < n->lit.n; k++)
                    if (el[k].t == V_LONG)
                        add_cand(A, el[k].i);
                    else if (el[k].t == V_STR)
                        add_str(A, (cstr){el[k].p, el[k].n});
                    else if (el[k].t == V_ENT)
                        add_ent(A, ((const cuid *)el[k].p)->type, ((const cuid *)el[k].p)->id, 0);
            }
            break;
        case X_ATTR:
            if (n->a->op == X_VAR || n->a->op == X_ATTR)
                path_child(A, n->a, n->name, 1);
            break;
        case X_HAS:
            if (n->a->op == X_VAR || n->a->op == X_ATTR)
                path_child(A, n->a, n->name, 1);
            break;
        case X_IS:
            add_type(A, n->name);
            if (n->has_b)
                collect_in_rhs(A, n->b);
            break;
        case X_IN:
            collect_in_rhs(A, n->b);
            break;
        case X_EQ:
        case X_NE:
            if (n->a->op == X_ATTR && n->b->op == X_ATTR)
                A->set_vs_set++; /* perhaps two sets */
            break;
        case X_METHOD:
            if (is_set_method(n->var) && n->n &&
                (n->var == M_CONTAINS_ALL || n->var == M_CONTAINS_ANY) && n->args[0]->op != X_SET)
                A->set_vs_set++;
            break;
        default:
            break;
    }
    collect(A, n->a);
    collect(A, n->b);
    collect(A, n->c);
    for (uint32_t k = 0; k < n->n && n->args; k++)
        collect(A, n->args[k]);
}

static void collect_scope(an *A, const cscope *s) {
    switch (s->op) {
        case S_EQ:
            add_ent(A, s->ent->type, s->ent->id, 0);
            break;
        case S_IN:
            add_target(A, add_ent(A, s->ent->type, s->ent->id, 0));
            break;
        case S_IS:
            add_type(A, s->type);
            break;
        case S_IS_IN:
            add_type(A, s->type);
            add_target(A, add_ent(A, s->ent->type, s->ent->id, 0));
            break;
        case S_IN_LIST:
            for (uint32_t k = 0; k < s->n_list; k++)
                add_target(A, add_ent(A, s->list[k].type, s->list[k].id, 0));
            break;
        default:
            break;
    }
}

static void collect_set(an *A, const abac_cedar_policies *ps) {
    for (uint32_t i = 0; i < ps->n; i++) {
        for (int k = 0; k < 3; k++)
            collect_scope(A, &ps->pol[i].sc[k]);
        collect(A, ps->pol[i].cond);
    }
}

/* ---- Z3 helpers ---- */
static Z3_ast zi(an *A, int64_t v) {
    return Z3_mk_int64(A->z, v, A->I);
}
static Z3_ast zbv(an *A, int64_t v) {
    return Z3_mk_int64(A->z, v, A->BV);
}
static Z3_ast zt(an *A) {
    return Z3_mk_true(A->z);
}
static Z3_ast zf(an *A) {
    return Z3_mk_false(A->z);
}
static Z3_ast zand(an *A, Z3_ast a, Z3_ast b) {
    Z3_ast v[2] = {a, b};
    return Z3_mk_and(A->z, 2, v);
}
static Z3_ast zor(an *A, Z3_ast a, Z3_ast b) {
    Z3_ast v[2] = {a, b};
    return Z3_mk_or(A->z, 2, v);
}
static Z3_ast znot(an *A, Z3_ast a) {
    return Z3_mk_not(A->z, a);
}
static Z3_ast zeq(an *A, Z3_ast a, Z3_ast b) {
    return Z3_mk_eq(A->z, a, b);
}
static Z3_ast zite(an *A, Z3_ast c, Z3_ast a, Z3_ast b) {
    return Z3_mk_ite(A->z, c, a, b);
}
static Z3_ast zvar(an *A, const char *name, Z3_sort s) {
    return Z3_mk_fresh_const(A->z, name, s);
}
static void axiom(an *A, Z3_ast f) {
    if (grow((void **)&A->axioms, &A->capaxioms, A->naxioms + 1, sizeof *A->axioms)) {
        fail(A, ABAC_E_NOMEM, "out of memory");
        return;
    }
    A->axioms[A->naxioms++] = f;
}
static Z3_ast in_range(an *A, Z3_ast x, int64_t lo, int64_t hi) { /* lo <= x < hi */
    return zand(A, Z3_mk_ge(A->z, x, zi(A, lo)), Z3_mk_lt(A->z, x, zi(A, hi)));
}
static Z3_ast *owned_vec(an *A) {
    Z3_ast *v = calloc(A->nstr ? A->nstr : 1, sizeof *v);
    if (!v || grow((void **)&A->owned, &A->capowned, A->nowned + 1, sizeof *A->owned)) {
        free(v);
        return NULL;
    }
    A->owned[A->nowned++] = v;
    return v;
}
static Z3_ast tyis(an *A, const sv *v, int t) {
    return zeq(A, v->ty, zi(A, t));
}

/* mem[s] for a symbolic string index s */
static Z3_ast mem_at(an *A, Z3_ast *mem, Z3_ast s) {
    if (!mem)
        return zf(A);
    int k;
    if (Z3_is_numeral_ast(A->z, s) && Z3_get_numeral_int(A->z, s, &k))
        return k >= 0 && (size_t)k < A->nstr ? mem[k] : zf(A);
    Z3_ast acc = zf(A);
    for (size_t u = 0; u < A->nstr; u++)
        acc = zor(A, acc, zand(A, zeq(A, s, zi(A, (int64_t)u)), mem[u]));
    return acc;
}

static sv sv_const(an *A, int t) {
    sv v = {zf(A),     zi(A, t), zf(A),
            zbv(A, 0), zi(A, 0), zi(A, 0),
            NULL,      0,        Z3_mk_empty_set(A->z, A->BV)};
    return v;
}
static sv sv_bool(an *A, Z3_ast err, Z3_ast b) {
    sv v = sv_const(A, T_BOOL);
    v.err = err;
    v.b = b;
    return v;
}
static sv sv_path(an *A, int p, Z3_ast err) {
    apath *q = &A->paths[p];
    sv v = {err, q->ty, q->b, q->l, q->s, q->e, q->mem, q->has_children || q->rec_ok, q->ls};
    return v;
}
/* the value is a boolean and evaluated without error */
static Z3_ast ok_bool(an *A, const sv *v) {
    return zand(A, znot(A, v->err), tyis(A, v, T_BOOL));
}

/* entity index x in target entity t (index): x == t or anc(x, t) */
static Z3_ast in_ent(an *A, Z3_ast x, int t) {
    Z3_ast args[2] = {x, zi(A, t)};
    return zor(A, zeq(A, x, zi(A, t)), Z3_mk_app(A->z, A->anc, 2, args));
}
static Z3_ast is_type(an *A, Z3_ast x, cstr type) {
    for (size_t k = 0; k < A->ntypes; k++)
        if (cstr_eq(A->types[k], type))
            return in_range(A, x, (int64_t)A->type_lo[k], (int64_t)A->type_hi[k]);
    return zf(A);
}

static Z3_ast is_set(an *A, const sv *v) {
    return zor(A, tyis(A, v, T_SETSTR), tyis(A, v, T_SETLONG));
}
/* the value is an empty set (of either kind: Cedar's `[]` has no element type) */
static Z3_ast set_empty(an *A, const sv *v) {
    Z3_ast none = zt(A);
    for (size_t u = 0; u < A->nstr && v->mem; u++)
        none = zand(A, none, znot(A, v->mem[u]));
    return zor(A, zand(A, tyis(A, v, T_SETSTR), none),
               zand(A, tyis(A, v, T_SETLONG), zeq(A, v->ls, Z3_mk_empty_set(A->z, A->BV))));
}

/* val_eq of cedar_eval.c (no error of its own) */
static int val_eq(an *A, const cnode *n, const sv *a, const sv *b, Z3_ast *out) {
    if (a->may_rec && b->may_rec)
        return unsupported(A, n, "equality of two record-valued attributes");
    Z3_ast acc = zf(A);
    Z3_ast both;
#define BOTH(t) zand(A, tyis(A, a, t), tyis(A, b, t))
    both = BOTH(T_BOOL);
    acc = zor(A, acc, zand(A, both, zeq(A, a->b, b->b)));
    for (int t = T_LONG; t <= T_DURATION; t++) {
        if (t == T_SETSTR) {
            Z3_ast all = zt(A);
            for (size_t u = 0; u < A->nstr; u++)
                all = zand(A, all, zeq(A, a->mem ? a->mem[u] : zf(A), b->mem ? b->mem[u] : zf(A)));
            acc = zor(A, acc, zand(A, BOTH(t), all));
        } else {
            Z3_ast pa = t == T_STR ? a->s : t == T_ENT ? a->e : a->l;
            Z3_ast pb = t == T_STR ? b->s : t == T_ENT ? b->e : b->l;
            acc = zor(A, acc, zand(A, BOTH(t), zeq(A, pa, pb)));
        }
    }
    acc = zor(A, acc, zand(A, BOTH(T_SETLONG), zeq(A, a->ls, b->ls)));
    acc = zor(A, acc, zand(A, set_empty(A, a), set_empty(A, b)));
#undef BOTH
    *out = acc;
    return 0;
}

static int enc(an *A, const cnode *n, sv *o);

/* `x in rhs` where rhs is an entity literal or a set literal of entity literals */
static int enc_in(an *A, const cnode *n, const sv *x, const cnode *rhs, Z3_ast *err, Z3_ast *val) {
    (void)n;
    *err = znot(A, tyis(A, x, T_ENT));
    *err = zor(A, x->err, *err);
    if (rhs->op == X_LIT && rhs->lit.t == V_ENT) {
        *val = in_ent(A, x->e, find_ent(A, rhs->lit.p));
        return 0;
    }
    int ne = set_lit(rhs, 0, NULL);
    if (ne >= 0) {
        Z3_ast acc = zf(A);
        for (int k = 0; k < ne; k++) {
            cval v = {0};
            set_lit(rhs, (uint32_t)k, &v);
            if (v.t != V_ENT) /* libabac: a non-entity element is a type error */
                return unsupported(A, rhs, "`in` a set with an element that is not an entity");
            acc = zor(A, acc, in_ent(A, x->e, find_ent(A, v.p)));
        }
        *val = acc;
        return 0;
    }
    return unsupported(A, rhs,
                       rhs->op == X_ATTR
                           ? "`in` an attribute (a set of entities or an entity held by an "
                             "attribute: `in` is modelled only for entity literals, see "
                             "docs/policy-analysis.md, restriction 1)"
                           : "`in` with a right side other than entity literals");
}

static int enc_strset_lit(an *A, const cnode *n, sv *o) {
    *o = sv_const(A, T_SETSTR);
    o->mem = owned_vec(A);
    if (!o->mem)
        return fail(A, ABAC_E_NOMEM, "out of memory");
    for (size_t u = 0; u < A->nstr; u++)
        o->mem[u] = zf(A);
    int ne = set_lit(n, 0, NULL);
    if (ne < 0)
        return unsupported(A, n, "a set literal with an element other than a literal");
    cval v0 = {0};
    if (ne > 0 && (set_lit(n, 0, &v0), v0.t == V_LONG)) { /* a set of longs */
        o->ty = zi(A, T_SETLONG);
        for (int k = 0; k < ne; k++) {
            cval v = {0};
            set_lit(n, (uint32_t)k, &v);
            if (v.t != V_LONG)
                return unsupported(A, n, "a set literal of longs and other values");
            o->ls = Z3_mk_set_add(A->z, o->ls, zbv(A, v.i));
        }
        return 0;
    }
    for (int k = 0; k < ne; k++) {
        cval v = {0};
        set_lit(n, (uint32_t)k, &v);
        if (v.t != V_STR)
            return unsupported(A, n,
                               "a set literal with an element other than a string or a long "
                               "(sets of entities and mixed sets)");
        o->mem[find_str(A, (cstr){v.p, v.n})] = zt(A);
    }
    return 0;
}

static int enc_attr_like(an *A, const cnode *n, int is_has, sv *o) {
    const cnode *base = n->a;
    if (base->op == X_VAR && base->var == 3) { /* context.x / context has x */
        int p = path_child(A, base, n->name, 0);
        Z3_ast absent = zeq(A, A->paths[p].ty, zi(A, T_ABSENT));
        if (is_has)
            *o = sv_bool(A, zf(A), znot(A, absent));
        else
            *o = sv_path(A, p, absent);
        return 0;
    }
    if (base->op == X_VAR && (base->var == 0 || base->var == 2)) {
        int p = path_child(A, base, n->name, 0);
        Z3_ast absent = zeq(A, A->paths[p].ty, zi(A, T_ABSENT));
        if (is_has)
            *o = sv_bool(A, zf(A), znot(A, absent));
        else
            *o = sv_path(A, p, absent);
        return 0;
    }
    if (base->op == X_ATTR) {
        int q = path_of_base(A, base, 0);
        if (q >= 0) {
            sv pv;
            if (enc(A, base, &pv))
                return A->rc;
            int p = path_child(A, base, n->name, 0);
            Z3_ast absent = zeq(A, A->paths[p].ty, zi(A, T_ABSENT));
            /* path p is a field of the record or an attribute of the entity pv holds (the
             * entity's attributes are p and its siblings: see entity_axioms) */
            Z3_ast rec_or_ent = zor(A, tyis(A, &pv, T_REC), tyis(A, &pv, T_ENT));
            if (is_has)
                *o = sv_bool(A, zor(A, pv.err, znot(A, rec_or_ent)),
                             zand(A, rec_or_ent, znot(A, absent)));
            else
                *o = sv_path(A, p, zor(A, pv.err, zor(A, znot(A, rec_or_ent), absent)));
            return 0;
        }
    }
    return unsupported(A, n,
                       is_has ? "`has` on an expression other than principal, resource, context "
                                "or their attributes"
                              : "an attribute of an expression other than principal, resource, "
                                "context or their attributes");
}

static int enc(an *A, const cnode *n, sv *o) {
    if (A->rc)
        return A->rc;
    sv a, b, c;
    switch (n->op) {
        case X_LIT:
            switch (n->lit.t) {
                case V_BOOL:
                    *o = sv_bool(A, zf(A), n->lit.i ? zt(A) : zf(A));
                    return 0;
                case V_LONG:
                    *o = sv_const(A, T_LONG);
                    o->l = zbv(A, n->lit.i);
                    return 0;
                case V_STR:
                    *o = sv_const(A, T_STR);
                    o->s = zi(A, find_str(A, (cstr){n->lit.p, n->lit.n}));
                    return 0;
                case V_ENT:
                    *o = sv_const(A, T_ENT);
                    o->e = zi(A, find_ent(A, n->lit.p));
                    return 0;
                case V_SET:
                    return enc_strset_lit(A, n, o);
                default:
                    return unsupported(A, n, "a literal of this type");
            }
        case X_VAR:
            if (n->var == 3)
                return unsupported(A, n, "`context` as a value");
            *o = sv_const(A, T_ENT);
            o->e = n->var == 0 ? A->P : n->var == 1 ? A->A : A->R;
            return 0;
        case X_AND:
        case X_OR: {
            if (enc(A, n->a, &a) || enc(A, n->b, &b))
                return A->rc;
            Z3_ast oka = ok_bool(A, &a), okb = ok_bool(A, &b);
            if (n->op == X_AND)
                *o =
                    sv_bool(A, zor(A, znot(A, oka), zand(A, a.b, znot(A, okb))), zand(A, a.b, b.b));
            else
                *o = sv_bool(A, zor(A, znot(A, oka), zand(A, znot(A, a.b), znot(A, okb))),
                             zor(A, a.b, b.b));
            return 0;
        }
        case X_NOT:
            if (enc(A, n->a, &a))
                return A->rc;
            *o = sv_bool(A, znot(A, ok_bool(A, &a)), znot(A, a.b));
            return 0;
        case X_NEG:
            if (enc(A, n->a, &a))
                return A->rc;
            *o = sv_const(A, T_LONG);
            o->err =
                zor(A, zor(A, a.err, znot(A, tyis(A, &a, T_LONG))), zeq(A, a.l, zbv(A, INT64_MIN)));
            o->l = Z3_mk_bvneg(A->z, a.l);
            return 0;
        case X_IF: {
            if (enc(A, n->a, &a) || enc(A, n->b, &b) || enc(A, n->c, &c))
                return A->rc;
            Z3_ast k = a.b;
            sv r;
            r.err = zor(A, znot(A, ok_bool(A, &a)), zite(A, k, b.err, c.err));
            r.ty = zite(A, k, b.ty, c.ty);
            r.b = zite(A, k, b.b, c.b);
            r.l = zite(A, k, b.l, c.l);
            r.s = zite(A, k, b.s, c.s);
            r.e = zite(A, k, b.e, c.e);
            r.may_rec = b.may_rec || c.may_rec;
            r.ls = zite(A, k, b.ls, c.ls);
            r.mem = NULL;
            if (b.mem || c.mem) {
                r.mem = owned_vec(A);
                if (!r.mem)
                    return fail(A, ABAC_E_NOMEM, "out of memory");
                for (size_t u = 0; u < A->nstr; u++)
                    r.mem[u] = zite(A, k, b.mem ? b.mem[u] : zf(A), c.mem ? c.mem[u] : zf(A));
            }
            *o = r;
            return 0;
        }
        case X_EQ:
        case X_NE: {
            if (enc(A, n->a, &a) || enc(A, n->b, &b))
                return A->rc;
            Z3_ast e = NULL;
            if (val_eq(A, n, &a, &b, &e))
                return A->rc;
            *o = sv_bool(A, zor(A, a.err, b.err), n->op == X_EQ ? e : znot(A, e));
            return 0;
        }
        case X_LT:
        case X_LE:
        case X_GT:
        case X_GE: {
            if (enc(A, n->a, &a) || enc(A, n->b, &b))
                return A->rc;
            Z3_ast num = zor(A, tyis(A, &a, T_LONG),
                             zor(A, tyis(A, &a, T_DATETIME), tyis(A, &a, T_DURATION)));
            Z3_ast err =
                zor(A, zor(A, a.err, znot(A, num)), zor(A, b.err, znot(A, zeq(A, a.ty, b.ty))));
            Z3_ast v = n->op == X_LT   ? Z3_mk_bvslt(A->z, a.l, b.l)
                       : n->op == X_LE ? Z3_mk_bvsle(A->z, a.l, b.l)
                       : n->op == X_GT ? Z3_mk_bvsgt(A->z, a.l, b.l)
                                       : Z3_mk_bvsge(A->z, a.l, b.l);
            *o = sv_bool(A, err, v);
            return 0;
        }
        case X_ADD:
        case X_SUB:
        case X_MUL: {
            if (enc(A, n->a, &a) || enc(A, n->b, &b))
                return A->rc;
            Z3_ast err = zor(A, zor(A, a.err, znot(A, tyis(A, &a, T_LONG))),
                             zor(A, b.err, znot(A, tyis(A, &b, T_LONG))));
            Z3_ast ov, r;
            if (n->op == X_ADD) {
                ov = znot(A, zand(A, Z3_mk_bvadd_no_overflow(A->z, a.l, b.l, true),
                                  Z3_mk_bvadd_no_underflow(A->z, a.l, b.l)));
                r = Z3_mk_bvadd(A->z, a.l, b.l);
            } else if (n->op == X_SUB) {
                ov = znot(A, zand(A, Z3_mk_bvsub_no_overflow(A->z, a.l, b.l),
                                  Z3_mk_bvsub_no_underflow(A->z, a.l, b.l, true)));
                r = Z3_mk_bvsub(A->z, a.l, b.l);
            } else {
                ov = znot(A, zand(A, Z3_mk_bvmul_no_overflow(A->z, a.l, b.l, true),
                                  Z3_mk_bvmul_no_underflow(A->z, a.l, b.l)));
                r = Z3_mk_bvmul(A->z, a.l, b.l);
            }
            *o = sv_const(A, T_LONG);
            o->err = zor(A, err, ov);
            o->l = r;
            return 0;
        }
        case X_IN: {
            if (enc(A, n->a, &a))
                return A->rc;
            Z3_ast err, v;
            if (enc_in(A, n, &a, n->b, &err, &v))
                return A->rc;
            *o = sv_bool(A, err, v);
            return 0;
        }
        case X_IS: {
            if (enc(A, n->a, &a))
                return A->rc;
            Z3_ast err = zor(A, a.err, znot(A, tyis(A, &a, T_ENT)));
            Z3_ast v = is_type(A, a.e, n->name);
            if (n->has_b) {
                Z3_ast e2, v2;
                if (enc_in(A, n, &a, n->b, &e2, &v2))
                    return A->rc;
                err = zor(A, err, zand(A, v, e2)); /* `in` is evaluated only for the type */
                v = zand(A, v, v2);
            }
            *o = sv_bool(A, err, v);
            return 0;
        }
        case X_HAS:
            return enc_attr_like(A, n, 1, o);
        case X_ATTR:
            return enc_attr_like(A, n, 0, o);
        case X_SET:
            return enc_strset_lit(A, n, o);
        case X_METHOD: {
            if (!is_set_method(n->var))
                return unsupported(A, n, "this method");
            if (enc(A, n->a, &a))
                return A->rc;
            Z3_ast err = zor(A, a.err, znot(A, is_set(A, &a)));
            if (n->var == M_IS_EMPTY) {
                *o = sv_bool(A, err, set_empty(A, &a));
                return 0;
            }
            const cnode *arg = n->args[0];
            if (n->var == M_CONTAINS) {
                if (arg->op == X_LIT && arg->lit.t != V_STR && arg->lit.t != V_LONG)
                    return unsupported(A, arg,
                                       "`contains` of a value other than a string or a long "
                                       "(sets of entities)");
                if (enc(A, arg, &b))
                    return A->rc;
                Z3_ast in_str = zand(A, zand(A, tyis(A, &a, T_SETSTR), tyis(A, &b, T_STR)),
                                     mem_at(A, a.mem, b.s));
                Z3_ast in_long = zand(A, zand(A, tyis(A, &a, T_SETLONG), tyis(A, &b, T_LONG)),
                                      Z3_mk_set_member(A->z, b.l, a.ls));
                *o = sv_bool(A, zor(A, err, b.err), zor(A, in_str, in_long));
                return 0;
            }
            if (enc(A, arg, &b))
                return A->rc;
            Z3_ast longs = zand(A, tyis(A, &a, T_SETLONG), tyis(A, &b, T_SETLONG));
            Z3_ast strs = zand(A, tyis(A, &a, T_SETSTR), tyis(A, &b, T_SETSTR));
            err = zor(A, err, zor(A, b.err, znot(A, is_set(A, &b))));
            Z3_ast acc = n->var == M_CONTAINS_ALL ? zt(A) : zf(A);
            for (size_t u = 0; u < A->nstr; u++) {
                Z3_ast ma = a.mem ? a.mem[u] : zf(A), mb = b.mem ? b.mem[u] : zf(A);
                if (n->var == M_CONTAINS_ALL)
                    acc = zand(A, acc, Z3_mk_implies(A->z, mb, ma));
                else
                    acc = zor(A, acc, zand(A, ma, mb));
            }
            /* sets of two kinds: containsAll only of an empty set, containsAny never */
            if (n->var == M_CONTAINS_ALL)
                acc = zor(A, zor(A, zand(A, strs, acc), set_empty(A, &b)),
                          zand(A, longs, Z3_mk_set_subset(A->z, b.ls, a.ls)));
            else {
                Z3_ast both[2] = {a.ls, b.ls};
                Z3_ast meet = Z3_mk_set_intersect(A->z, 2, both);
                acc = zor(A, zand(A, strs, acc),
                          zand(A, longs, znot(A, zeq(A, meet, Z3_mk_empty_set(A->z, A->BV)))));
            }
            *o = sv_bool(A, err, acc);
            return 0;
        }
        case X_CALL: {
            if (n->var != F_DATETIME && n->var != F_DURATION)
                return unsupported(A, n, "decimal and ip values");
            const cnode *arg = n->args[0];
            if (arg->op != X_LIT || arg->lit.t != V_STR)
                return unsupported(A, n, "datetime()/duration() of a non-literal");
            int64_t v = 0;
            int bad = (n->var == F_DATETIME ? cedar_parse_datetime
                                            : cedar_parse_duration)(arg->lit.p, arg->lit.n, &v);
            *o = sv_const(A, n->var == F_DATETIME ? T_DATETIME : T_DURATION);
            o->err = bad ? zt(A) : zf(A);
            o->l = zbv(A, v);
            return 0;
        }
        case X_LIKE:
            return unsupported(A, n, "`like`");
        case X_REC:
            return unsupported(A, n, "a record literal");
        case X_GETTAG:
        case X_HASTAG:
            return unsupported(A, n, "entity tags");
        default:
            return unsupported(A, n, "this expression");
    }
}

static Z3_ast scope_f(an *A, const cscope *s, Z3_ast x) {
    switch (s->op) {
        case S_ANY:
            return zt(A);
        case S_EQ:
            return zeq(A, x, zi(A, find_ent(A, s->ent)));
        case S_IN:
            return in_ent(A, x, find_ent(A, s->ent));
        case S_IS:
            return is_type(A, x, s->type);
        case S_IS_IN:
            return zand(A, is_type(A, x, s->type), in_ent(A, x, find_ent(A, s->ent)));
        case S_IN_LIST: {
            Z3_ast acc = zf(A);
            for (uint32_t k = 0; k < s->n_list; k++)
                acc = zor(A, acc, in_ent(A, x, find_ent(A, &s->list[k])));
            return acc;
        }
        default:
            return zf(A);
    }
}

typedef struct polf {
    Z3_ast scope, err, sat; /* sat: scope, no error, condition true */
} polf;

static int enc_policy(an *A, const cpolicy *p, polf *o) {
    Z3_ast s = zand(A, scope_f(A, &p->sc[0], A->P),
                    zand(A, scope_f(A, &p->sc[1], A->A), scope_f(A, &p->sc[2], A->R)));
    o->scope = s;
    if (!p->cond) {
        o->err = zf(A);
        o->sat = s;
        return 0;
    }
    sv c;
    if (enc(A, p->cond, &c))
        return A->rc;
    o->err = znot(A, ok_bool(A, &c));
    o->sat = zand(A, s, zand(A, ok_bool(A, &c), c.b));
    return 0;
}

/* permitted: some permit applies, no forbid applies */
static int enc_set(an *A, const abac_cedar_policies *ps, polf **pf, Z3_ast *permit,
                   Z3_ast *forbid) {
    *pf = calloc(ps->n ? ps->n : 1, sizeof **pf);
    if (!*pf)
        return fail(A, ABAC_E_NOMEM, "out of memory");
    Z3_ast anyp = zf(A), anyf = zf(A);
    for (uint32_t i = 0; i < ps->n; i++) {
        if (enc_policy(A, &ps->pol[i], &(*pf)[i]))
            return A->rc;
        if (ps->pol[i].effect == ABAC_DENY)
            anyf = zor(A, anyf, (*pf)[i].sat);
        else
            anyp = zor(A, anyp, (*pf)[i].sat);
    }
    *permit = zand(A, anyp, znot(A, anyf));
    if (forbid)
        *forbid = anyf;
    return 0;
}

/* ---- under a schema: only the requests and entities it allows ---- */
static const sent *s_ent(const abac_cedar_schema *S, cstr name) {
    for (uint32_t i = 0; i < S->ne; i++)
        if (cstr_eq(S->e[i].name, name))
            return &S->e[i];
    return NULL;
}
static int64_t s_act(const abac_cedar_schema *S, cstr type, cstr id) {
    for (uint32_t i = 0; i < S->na; i++)
        if (cstr_eq(S->a[i].uid.id, id) && cstr_eq(S->a[i].uid.type, type))
            return i;
    return -1;
}
static int s_bit(const uint64_t *rows, size_t words, size_t i, size_t j) {
    return (int)((rows[i * words + (j >> 6)] >> (j & 63)) & 1);
}
/* as libabac's conformance check: declared action types, and Action / NS::Action */
static int s_is_action_type(const abac_cedar_schema *S, cstr t) {
    if (s_ent(S, t))
        return 0;
    for (uint32_t i = 0; i < S->na; i++)
        if (cstr_eq(S->a[i].uid.type, t))
            return 1;
    return (t.n == 6 && memcmp(t.p, "Action", 6) == 0) ||
           (t.n > 8 && memcmp(t.p + t.n - 8, "::Action", 8) == 0);
}
static const cattrd *s_attr(const ctype *rec, cstr name) {
    for (uint32_t i = 0; rec && i < rec->n; i++)
        if (cstr_eq(rec->attrs[i].name, name))
            return &rec->attrs[i];
    return NULL;
}
static const ctype *s_shape(an *A, int64_t e) {
    const sent *d = s_ent(A->S, A->ent[e].type);
    return d ? d->shape : NULL;
}
static const ctype *s_context(an *A, int64_t act) {
    int64_t i = A->ent[act].fresh ? -1 : s_act(A->S, A->ent[act].type, A->ent[act].id);
    return i < 0 ? NULL : A->S->a[i].ctx;
}

/* the schema's entity types, its actions and its enum ids join the universes */
static void schema_universe(an *A) {
    const abac_cedar_schema *S = A->S;
    for (uint32_t i = 0; i < S->ne && !A->rc; i++) {
        add_type(A, S->e[i].name);
        for (uint32_t k = 0; S->e[i].is_enum && k < S->e[i].n_enum; k++)
            add_ent(A, S->e[i].name, S->e[i].enums[k], 0);
    }
    for (uint32_t i = 0; i < S->na && !A->rc; i++)
        add_ent(A, S->a[i].uid.type, S->a[i].uid.id, 0);
}

static Z3_ast path_typed(an *A, size_t c, const ctype *t);

/* the attribute paths below (root, parent) hold a record of type rec (NULL: the empty one) */
static Z3_ast rec_cons(an *A, int root, int parent, const ctype *rec) {
    Z3_ast acc = zt(A);
    for (size_t c = 0; c < A->npaths && !A->rc; c++) {
        apath *p = &A->paths[c];
        if (p->root != root || p->parent != parent)
            continue;
        const cattrd *ad = s_attr(rec, p->name);
        Z3_ast absent = zeq(A, p->ty, zi(A, T_ABSENT));
        if (!ad) { /* undeclared: absent, unless the record admits additional attributes */
            if (!(rec && rec->open))
                acc = zand(A, acc, absent);
            continue;
        }
        Z3_ast f = Z3_mk_implies(A->z, znot(A, absent), path_typed(A, c, ad->t));
        if (ad->req)
            f = zand(A, f, znot(A, absent));
        acc = zand(A, acc, f);
    }
    return acc;
}

/* path c, present, holds a value of schema type t */
static Z3_ast path_typed(an *A, size_t c, const ctype *t) {
    apath *p = &A->paths[c];
    int tag;
    switch (t->k) {
        case K_BOOL:
        case K_TRUE:
        case K_FALSE:
            tag = T_BOOL;
            break;
        case K_LONG:
            tag = T_LONG;
            break;
        case K_STR:
            tag = T_STR;
            break;
        case K_DT:
            tag = T_DATETIME;
            break;
        case K_DUR:
            tag = T_DURATION;
            break;
        case K_ENT:
            return zand(A, zeq(A, p->ty, zi(A, T_ENT)), is_type(A, p->e, t->name));
        case K_REC:
            p->rec_ok = 1;
            return zand(A, zeq(A, p->ty, zi(A, T_REC)), rec_cons(A, p->root, (int)c, t));
        case K_SET:
            if (t->elem && (t->elem->k == K_STR || t->elem->k == K_LONG)) {
                tag = t->elem->k == K_STR ? T_SETSTR : T_SETLONG;
                break;
            }
            fail(A, ABAC_ANALYZE_E_UNSUPPORTED,
                 "attribute `%.*s` is a set of entities or of other values than strings and "
                 "longs under the schema: not supported by the analysis",
                 (int)p->name.n, p->name.p);
            return zf(A);
        default:
            fail(A, ABAC_ANALYZE_E_UNSUPPORTED,
                 "attribute `%.*s` is a decimal or ipaddr under the schema: not supported by the "
                 "analysis",
                 (int)p->name.n, p->name.p);
            return zf(A);
    }
    return zeq(A, p->ty, zi(A, tag));
}

/* an entity of an action type is a declared action; of an enum type, one of its ids */
static Z3_ast closed_ok(an *A, Z3_ast x) {
    const abac_cedar_schema *S = A->S;
    Z3_ast acc = zt(A);
    for (size_t k = 0; k < A->ntypes; k++) {
        const sent *d = s_ent(S, A->types[k]);
        int action = !d && s_is_action_type(S, A->types[k]);
        if (!action && !(d && d->is_enum))
            continue;
        Z3_ast any = zf(A);
        for (size_t i = A->type_lo[k]; i < A->type_hi[k]; i++) {
            const euni *u = &A->ent[i];
            int ok = 0;
            if (u->fresh)
                continue;
            if (action)
                ok = s_act(S, u->type, u->id) >= 0;
            for (uint32_t j = 0; !action && j < d->n_enum; j++)
                ok |= cstr_eq(d->enums[j], u->id);
            if (ok)
                any = zor(A, any, zeq(A, x, zi(A, (int64_t)i)));
        }
        acc = zand(A, acc,
                   Z3_mk_implies(
                       A->z, in_range(A, x, (int64_t)A->type_lo[k], (int64_t)A->type_hi[k]), any));
    }
    return acc;
}

static void schema_axioms(an *A, const Z3_ast *terms, size_t nterms) {
    const abac_cedar_schema *S = A->S;
    /* a declared action that applies to the principal's and the resource's types, with a
     * context of its context type (abac_cedar_schema_check_request) */
    Z3_ast req = zf(A);
    for (uint32_t i = 0; i < S->na && !A->rc; i++) {
        const sact *a = &S->a[i];
        if (!a->applies || !a->n_pt || !a->n_rt)
            continue;
        Z3_ast pt = zf(A), rt = zf(A);
        for (uint32_t k = 0; k < a->n_pt; k++)
            pt = zor(A, pt, is_type(A, A->P, a->pt[k]));
        for (uint32_t k = 0; k < a->n_rt; k++)
            rt = zor(A, rt, is_type(A, A->R, a->rt[k]));
        Z3_ast is_a = zeq(A, A->A, zi(A, find_ent(A, &a->uid)));
        req = zor(A, req, zand(A, is_a, zand(A, pt, zand(A, rt, rec_cons(A, 3, -1, a->ctx)))));
    }
    axiom(A, req);
    /* the principal's and the resource's attributes: the shape of their type */
    for (uint32_t i = 0; i < S->ne && !A->rc; i++) {
        axiom(A, Z3_mk_implies(A->z, is_type(A, A->P, S->e[i].name),
                               rec_cons(A, 0, -1, S->e[i].shape)));
        axiom(A, Z3_mk_implies(A->z, is_type(A, A->R, S->e[i].name),
                               rec_cons(A, 2, -1, S->e[i].shape)));
    }
    for (size_t x = 0; x < nterms; x++)
        axiom(A, closed_ok(A, terms[x]));
    /* ancestry: an entity's ancestors are of types its memberOfTypes reach (transitively); an
     * action's are exactly its declared groups' closure */
    for (size_t x = 0; x < nterms + A->ntargets && !A->rc; x++) {
        Z3_ast xv = x < nterms ? terms[x] : zi(A, A->targets[x - nterms]);
        for (size_t t = 0; t < A->ntargets; t++) {
            const euni *tu = &A->ent[A->targets[t]];
            Z3_ast args[2] = {xv, zi(A, A->targets[t])};
            Z3_ast anc = Z3_mk_app(A->z, A->anc, 2, args);
            Z3_ast f = zf(A);
            if (s_is_action_type(S, tu->type)) {
                int64_t j = s_act(S, tu->type, tu->id);
                for (uint32_t d = 0; j >= 0 && d < S->na; d++)
                    if ((int64_t)d != j && s_bit(S->aanc, S->awords, d, (size_t)j))
                        f = zor(A, f, zeq(A, xv, zi(A, find_ent(A, &S->a[d].uid))));
                axiom(A, zeq(A, anc, f));
                continue;
            }
            const sent *te = s_ent(S, tu->type);
            for (uint32_t u = 0; te && u < S->ne; u++)
                if (s_bit(S->eanc, S->ewords, u, (size_t)(te - S->e)))
                    f = zor(A, f, is_type(A, xv, S->e[u].name));
            axiom(A, Z3_mk_implies(A->z, anc, f));
        }
    }
    for (size_t k = 0; k < A->npaths && !A->rc; k++) {
        apath *p = &A->paths[k];
        /* an entity reached through an attribute whose attributes are read: in the store
         * with the shape of its type, or not in the store (no attributes, no ancestors) */
        for (uint32_t i = 0; p->has_children && i < S->ne && !A->rc; i++) {
            Z3_ast out = znot(A, zor(A, zeq(A, p->e, A->P), zeq(A, p->e, A->R)));
            for (size_t c = 0; c < A->npaths; c++)
                if (A->paths[c].parent == (int)k)
                    out = zand(A, out, zeq(A, A->paths[c].ty, zi(A, T_ABSENT)));
            for (size_t t = 0; t < A->ntargets; t++) {
                Z3_ast args[2] = {p->e, zi(A, A->targets[t])};
                out = zand(A, out, znot(A, Z3_mk_app(A->z, A->anc, 2, args)));
            }
            axiom(A, Z3_mk_implies(
                         A->z, zand(A, zeq(A, p->ty, zi(A, T_ENT)), is_type(A, p->e, S->e[i].name)),
                         zor(A, rec_cons(A, p->root, (int)k, S->e[i].shape), out)));
        }
        if (!p->has_children && !p->rec_ok)
            axiom(A, znot(A, zeq(A, p->ty, zi(A, T_REC))));
    }
}

/* ---- entities reached through attributes ---- */

/* an entity holder: the principal, the resource, or an attribute path whose attributes are
 * read (it holds a record or an entity) */
typedef struct holder {
    int root, parent; /* its attribute paths: those below (root, parent) */
    Z3_ast e, is_ent;
} holder;

static size_t holders(an *A, holder *h) {
    size_t n = 0;
    h[n++] = (holder){0, -1, A->P, zt(A)};
    h[n++] = (holder){2, -1, A->R, zt(A)};
    for (size_t k = 0; k < A->npaths; k++)
        if (A->paths[k].has_children)
            h[n++] = (holder){A->paths[k].root, (int)k, A->paths[k].e,
                              zeq(A, A->paths[k].ty, zi(A, T_ENT))};
    return n;
}

static Z3_ast same_fields(an *A, const apath *a, const apath *b) {
    Z3_ast f =
        zand(A, zeq(A, a->ty, b->ty),
             zand(A, zeq(A, a->b, b->b),
                  zand(A, zeq(A, a->l, b->l), zand(A, zeq(A, a->s, b->s), zeq(A, a->e, b->e)))));
    for (size_t u = 0; u < A->nstr; u++)
        f = zand(A, f, zeq(A, a->mem[u], b->mem[u]));
    return zand(A, f, zeq(A, a->ls, b->ls));
}

/* paths a and b read one attribute of one entity: they hold one value. A record value is
 * compared field by field as far as both read it; a path that reads no field of a record may
 * be a record where the other is not (restriction 3) */
static Z3_ast same_value(an *A, size_t a, size_t b) {
    apath *pa = &A->paths[a], *pb = &A->paths[b];
    Z3_ast ra = zeq(A, pa->ty, zi(A, T_REC)), rb = zeq(A, pb->ty, zi(A, T_REC));
    Z3_ast f = Z3_mk_implies(A->z, zand(A, znot(A, ra), znot(A, rb)), same_fields(A, pa, pb));
    Z3_ast sub = zt(A);
    for (size_t c = 0; c < A->npaths; c++) {
        if (A->paths[c].parent != (int)a)
            continue;
        int d = path_find(A, pb->root, (int)b, A->paths[c].name, 0);
        if (d >= 0)
            sub = zand(A, sub, same_value(A, c, (size_t)d));
    }
    return zand(A, f, Z3_mk_implies(A->z, zand(A, ra, rb), sub));
}

/* an entity reached through an attribute carries attributes: the child paths of each path
 * that holds it. Two holders of one entity (or a holder of the principal or the resource)
 * agree on every attribute both read; nothing else constrains them (without a schema) */
static void entity_axioms(an *A) {
    holder *h = calloc(A->npaths + 2, sizeof *h);
    if (!h) {
        fail(A, ABAC_E_NOMEM, "out of memory");
        return;
    }
    size_t nh = holders(A, h);
    for (size_t i = 0; i < nh; i++)
        for (size_t j = i + 1; j < nh; j++) {
            if (i == 0 && j == 1)
                continue; /* principal == resource: the mirror paths */
            Z3_ast sub = zt(A);
            int any = 0;
            for (size_t c = 0; c < A->npaths; c++) {
                if (A->paths[c].root != h[i].root || A->paths[c].parent != h[i].parent)
                    continue;
                int d = path_find(A, h[j].root, h[j].parent, A->paths[c].name, 0);
                if (d < 0)
                    continue;
                sub = zand(A, sub, same_value(A, c, (size_t)d));
                any = 1;
            }
            if (any)
                axiom(A,
                      Z3_mk_implies(
                          A->z, zand(A, zand(A, h[i].is_ent, h[j].is_ent), zeq(A, h[i].e, h[j].e)),
                          sub));
        }
    free(h);
}

/* a value of schema type t for an attribute no policy reads (JSON) */
static void json_default(an *A, sb *b, const ctype *t) {
    switch (t ? t->k : K_REC) {
        case K_BOOL:
        case K_TRUE:
        case K_FALSE:
            sb_s(b, "false");
            break;
        case K_LONG:
            sb_s(b, "0");
            break;
        case K_STR:
            sb_s(b, "\"\"");
            break;
        case K_SET:
            sb_s(b, "[]");
            break;
        case K_ENT: {
            const sent *d = s_ent(A->S, t->name);
            sb_s(b, "{\"__entity\": {\"type\": ");
            sb_json_str(b, t->name.p, t->name.n);
            sb_s(b, ", \"id\": ");
            if (d && d->is_enum && d->n_enum)
                sb_json_str(b, d->enums[0].p, d->enums[0].n);
            else
                sb_f(b, "\"%sdefault\"", A->fresh_tag);
            sb_s(b, "}}");
            break;
        }
        case K_DT:
            sb_s(b, "{\"__extn\": {\"fn\": \"datetime\", \"arg\": \"1970-01-01\"}}");
            break;
        case K_DUR:
            sb_s(b, "{\"__extn\": {\"fn\": \"duration\", \"arg\": \"0ms\"}}");
            break;
        case K_DEC:
            sb_s(b, "{\"__extn\": {\"fn\": \"decimal\", \"arg\": \"0.0\"}}");
            break;
        case K_IP:
            sb_s(b, "{\"__extn\": {\"fn\": \"ip\", \"arg\": \"0.0.0.0\"}}");
            break;
        default: {
            sb_s(b, "{");
            int first = 1;
            for (uint32_t i = 0; t && i < t->n; i++) {
                if (!t->attrs[i].req)
                    continue;
                sb_s(b, first ? "" : ", ");
                first = 0;
                sb_json_str(b, t->attrs[i].name.p, t->attrs[i].name.n);
                sb_s(b, ": ");
                json_default(A, b, t->attrs[i].t);
            }
            sb_s(b, "}");
        }
    }
}

/* ---- universes and the request's variables ---- */
static int build(an *A) {
    /* every principal path has a resource twin and back (principal == resource shares them) */
    for (size_t k = 0; k < A->npaths && !A->rc; k++) {
        apath *p = &A->paths[k];
        if (p->root == 3)
            continue;
        int other = p->root == 0 ? 2 : 0;
        int par = p->parent < 0 ? -1 : A->paths[p->parent].mirror;
        int m = path_find(A, other, par, A->paths[k].name, 1);
        if (m < 0)
            return A->rc;
        A->paths[k].mirror = m;
        A->paths[m].mirror = (int)k;
    }
    if (A->rc)
        return A->rc;
    /* strings: the literals, a fresh one per path and one more; more for set-vs-set tests */
    A->nstr_lit = A->nstr;
    A->nlit_longs = A->ncand;
    A->built = 1;
    size_t m = A->npaths;
    size_t nfresh = A->npaths + 1 + (A->set_vs_set ? 4 * m * m : 0);
    for (size_t k = 0; k < nfresh; k++) {
        char *name = malloc(64);
        if (!name)
            return fail(A, ABAC_E_NOMEM, "out of memory");
        snprintf(name, 64, "%.31s%zu", A->fresh_tag, k);
        if (grow((void **)&A->str, &A->capstr, A->nstr + 1, sizeof *A->str))
            return fail(A, ABAC_E_NOMEM, "out of memory");
        A->str[A->nstr++] = (cstr){name, (uint32_t)strlen(name)};
    }
    /* entities grouped by type: the literals, then fresh ones (one per entity-valued term);
     * then one type no policy names */
    char *other = malloc(64);
    if (!other)
        return fail(A, ABAC_E_NOMEM, "out of memory");
    A->other_type = other;
    snprintf(other, 64, "%.31sType", A->fresh_tag);
    add_type(A, (cstr){other, (uint32_t)strlen(other)});
    size_t kfresh = 3 + A->npaths;
    euni *old = A->ent;
    size_t nold = A->nent;
    A->ent = NULL;
    A->nent = A->capent = 0;
    A->type_lo = calloc(A->ntypes, sizeof *A->type_lo);
    A->type_hi = calloc(A->ntypes, sizeof *A->type_hi);
    int *remap = calloc(nold ? nold : 1, sizeof *remap);
    if (!A->type_lo || !A->type_hi || !remap) {
        free(old);
        free(remap);
        return fail(A, ABAC_E_NOMEM, "out of memory");
    }
    for (size_t t = 0; t < A->ntypes; t++) {
        A->type_lo[t] = A->nent;
        for (size_t k = 0; k < nold; k++)
            if (cstr_eq(old[k].type, A->types[t])) {
                if (grow((void **)&A->ent, &A->capent, A->nent + 1, sizeof *A->ent))
                    break;
                remap[k] = (int)A->nent;
                A->ent[A->nent++] = old[k];
            }
        for (size_t k = 0; k < kfresh; k++) {
            if (grow((void **)&A->ent, &A->capent, A->nent + 1, sizeof *A->ent))
                break;
            A->ent[A->nent++] = (euni){A->types[t], {NULL, 0}, (int)k + 1};
        }
        A->type_hi[t] = A->nent;
    }
    for (size_t k = 0; k < A->ntargets; k++)
        A->targets[k] = remap[A->targets[k]];
    free(old);
    free(remap);
    if (A->nent == 0 || A->type_hi[A->ntypes - 1] != A->nent)
        return fail(A, ABAC_E_NOMEM, "out of memory");

    /* variables */
    A->P = zvar(A, "principal", A->I);
    A->A = zvar(A, "action", A->I);
    A->R = zvar(A, "resource", A->I);
    Z3_sort dom[2] = {A->I, A->I};
    A->anc = Z3_mk_fresh_func_decl(A->z, "anc", 2, dom, A->B);
    Z3_ast *terms = calloc(3 + A->npaths, sizeof *terms);
    if (!terms)
        return fail(A, ABAC_E_NOMEM, "out of memory");
    size_t nterms = 0;
    terms[nterms++] = A->P;
    terms[nterms++] = A->A;
    terms[nterms++] = A->R;
    for (size_t k = 0; k < A->npaths; k++) {
        apath *p = &A->paths[k];
        p->ty = zvar(A, "ty", A->I);
        p->b = zvar(A, "b", A->B);
        p->l = zvar(A, "l", A->BV);
        p->s = zvar(A, "s", A->I);
        p->e = zvar(A, "e", A->I);
        p->mem = calloc(A->nstr ? A->nstr : 1, sizeof *p->mem);
        if (!p->mem) {
            free(terms);
            return fail(A, ABAC_E_NOMEM, "out of memory");
        }
        for (size_t u = 0; u < A->nstr; u++)
            p->mem[u] = zvar(A, "m", A->B);
        p->ls = zvar(A, "ls", A->LS);
        terms[nterms++] = p->e;
        axiom(A, in_range(A, p->ty, 0, T_SETLONG + 1));
        if (!p->has_children && !A->S) /* under a schema: schema_axioms */
            axiom(A, znot(A, zeq(A, p->ty, zi(A, T_REC))));
        axiom(A, in_range(A, p->s, 0, (int64_t)A->nstr));
        axiom(A, in_range(A, p->e, 0, (int64_t)A->nent));
        Z3_ast isdt = zeq(A, p->ty, zi(A, T_DATETIME));
        axiom(A, Z3_mk_implies(A->z, isdt,
                               zand(A, Z3_mk_bvsge(A->z, p->l, zbv(A, DT_MIN)),
                                    Z3_mk_bvsle(A->z, p->l, zbv(A, DT_MAX)))));
        if (p->parent >= 0)
            axiom(A, Z3_mk_implies(A->z, znot(A, zeq(A, p->ty, zi(A, T_ABSENT))),
                                   zor(A, zeq(A, A->paths[p->parent].ty, zi(A, T_REC)),
                                       zeq(A, A->paths[p->parent].ty, zi(A, T_ENT)))));
    }
    entity_axioms(A);
    for (size_t k = 0; k < A->npaths; k++) {
        apath *p = &A->paths[k];
        if (p->root == 0) { /* principal == resource: one entity, one set of attributes */
            apath *q = &A->paths[p->mirror];
            Z3_ast same = zand(
                A, zeq(A, p->ty, q->ty),
                zand(A, zeq(A, p->b, q->b),
                     zand(A, zeq(A, p->l, q->l), zand(A, zeq(A, p->s, q->s), zeq(A, p->e, q->e)))));
            for (size_t u = 0; u < A->nstr; u++)
                same = zand(A, same, zeq(A, p->mem[u], q->mem[u]));
            same = zand(A, same, zeq(A, p->ls, q->ls));
            axiom(A, Z3_mk_implies(A->z, zeq(A, A->P, A->R), same));
        }
    }
    for (int k = 0; k < 3; k++)
        axiom(A, in_range(A, terms[k], 0, (int64_t)A->nent));
    /* ancestry closed transitively over the terms and the targets */
    for (size_t t = 0; t < A->ntargets; t++)
        for (size_t t2 = 0; t2 < A->ntargets; t2++) {
            Z3_ast a1[2] = {zi(A, A->targets[t]), zi(A, A->targets[t2])};
            Z3_ast t_t2 = Z3_mk_app(A->z, A->anc, 2, a1);
            for (size_t x = 0; x < nterms + A->ntargets; x++) {
                Z3_ast xv = x < nterms ? terms[x] : zi(A, A->targets[x - nterms]);
                Z3_ast a2[2] = {xv, a1[0]}, a3[2] = {xv, a1[1]};
                axiom(A, Z3_mk_implies(A->z, zand(A, Z3_mk_app(A->z, A->anc, 2, a2), t_t2),
                                       Z3_mk_app(A->z, A->anc, 2, a3)));
            }
        }
    if (A->S)
        schema_axioms(A, terms, nterms);
    free(terms);
    return A->rc;
}

static void an_init(an *A, unsigned timeout_ms) {
    memset(A, 0, sizeof *A);
    Z3_config cfg = Z3_mk_config();
    char tbuf[32];
    snprintf(tbuf, sizeof tbuf, "%u", timeout_ms ? timeout_ms : 60000u);
    Z3_set_param_value(cfg, "timeout", tbuf);
    Z3_set_param_value(cfg, "model", "true");
    A->z = Z3_mk_context(cfg);
    Z3_del_config(cfg);
    Z3_set_error_handler(A->z, z3_err);
    A->I = Z3_mk_int_sort(A->z);
    A->B = Z3_mk_bool_sort(A->z);
    A->BV = Z3_mk_bv_sort(A->z, 64);
    A->LS = Z3_mk_set_sort(A->z, A->BV);
    snprintf(A->fresh_tag, sizeof A->fresh_tag, "__fresh_");
}

static void an_free(an *A) {
    if (A->built)
        for (size_t k = A->nstr_lit; k < A->nstr; k++)
            free((char *)A->str[k].p);
    free(A->other_type);
    for (size_t k = 0; k < A->nowned; k++)
        free(A->owned[k]);
    free(A->owned);
    for (size_t k = 0; k < A->npaths; k++)
        free(A->paths[k].mem);
    free(A->str);
    free(A->ent);
    free(A->types);
    free(A->type_lo);
    free(A->type_hi);
    free(A->targets);
    free(A->cand);
    free(A->paths);
    free(A->axioms);
    if (A->z)
        Z3_del_context(A->z);
}

/* make the fresh-name tag differ from every string and entity id of the policies */
static void pick_tag(an *A) {
    for (int round = 0; round < 1000; round++) {
        size_t tl = strlen(A->fresh_tag);
        int clash = 0;
        for (size_t k = 0; k < A->nstr && !clash; k++)
            if (A->str[k].n >= tl && memcmp(A->str[k].p, A->fresh_tag, tl) == 0)
                clash = 1;
        for (size_t k = 0; k < A->nent && !clash; k++)
            if ((A->ent[k].id.n >= tl && memcmp(A->ent[k].id.p, A->fresh_tag, tl) == 0) ||
                (A->ent[k].type.n >= tl && memcmp(A->ent[k].type.p, A->fresh_tag, tl) == 0))
                clash = 1;
        for (size_t k = 0; k < A->ntypes && !clash; k++)
            if (A->types[k].n >= tl && memcmp(A->types[k].p, A->fresh_tag, tl) == 0)
                clash = 1;
        if (!clash)
            return;
        snprintf(A->fresh_tag, sizeof A->fresh_tag, "__fresh%d_", round);
    }
}

/* ---- solving and models ---- */
typedef struct solved {
    Z3_solver s;
    Z3_model m;
} solved;

/* keep f asserted if the goal stays satisfiable with it: 1 kept, 0 not */
static int prefer(an *A, Z3_solver s, Z3_ast f) {
    if (A->nprefs++ > A->max_prefs)
        return 0;
    Z3_solver_push(A->z, s);
    Z3_solver_assert(A->z, s, f);
    if (Z3_solver_check(A->z, s) == Z3_L_TRUE)
        return 1;
    Z3_solver_pop(A->z, s, 1);
    return 0;
}

/* the 64-bit numerals of a model's value (a set of longs: a store chain, or an as-array
 * function whose entries are its elements) join the candidates */
static void cand_walk(an *A, Z3_model m, Z3_ast t, int depth) {
    if (depth > 64 || A->ncand > 4096)
        return;
    if (Z3_get_sort_kind(A->z, Z3_get_sort(A->z, t)) == Z3_BV_SORT && Z3_is_numeral_ast(A->z, t)) {
        uint64_t u = 0;
        if (Z3_get_numeral_uint64(A->z, t, &u))
            add_cand(A, (int64_t)u);
        return;
    }
    if (Z3_get_ast_kind(A->z, t) != Z3_APP_AST)
        return;
    if (Z3_is_as_array(A->z, t)) {
        Z3_func_interp fi = Z3_model_get_func_interp(A->z, m, Z3_get_as_array_func_decl(A->z, t));
        if (!fi)
            return;
        Z3_func_interp_inc_ref(A->z, fi);
        for (unsigned k = 0; k < Z3_func_interp_get_num_entries(A->z, fi); k++) {
            Z3_func_entry e = Z3_func_interp_get_entry(A->z, fi, k);
            Z3_func_entry_inc_ref(A->z, e);
            for (unsigned j = 0; j < Z3_func_entry_get_num_args(A->z, e); j++)
                cand_walk(A, m, Z3_func_entry_get_arg(A->z, e, j), depth + 1);
            Z3_func_entry_dec_ref(A->z, e);
        }
        Z3_func_interp_dec_ref(A->z, fi);
        return;
    }
    Z3_app app = Z3_to_app(A->z, t);
    for (unsigned k = 0; k < Z3_get_app_num_args(A->z, app); k++)
        cand_walk(A, m, Z3_get_app_arg(A->z, app, k), depth + 1);
}

static int64_t mval(an *A, const solved *v, Z3_ast t);

/* sets of longs are finite in a request: each set of longs the model gives is fixed to its
 * members among the candidates (the literals, the values of longs and the elements the model
 * names), if the goal stays satisfiable so; the printed set is read over the candidates
 * (replay checks the request whatever happens here) */
static void finite_sets(an *A, solved *v) {
    A->ncand = A->nlit_longs;
    int any = 0;
    for (size_t k = 0; k < A->npaths; k++) {
        if (mval(A, v, A->paths[k].ty) != T_SETLONG)
            continue;
        any = 1;
        Z3_ast r;
        if (Z3_model_eval(A->z, v->m, A->paths[k].ls, true, &r))
            cand_walk(A, v->m, r, 0);
    }
    if (!any)
        return;
    for (size_t k = 0; k < A->npaths; k++) {
        Z3_ast r;
        if (mval(A, v, A->paths[k].ty) != T_ABSENT &&
            Z3_model_eval(A->z, v->m, A->paths[k].l, true, &r))
            cand_walk(A, v->m, r, 0);
    }
    int fixed = 0;
    for (size_t k = 0; k < A->npaths; k++) {
        if (mval(A, v, A->paths[k].ty) != T_SETLONG)
            continue;
        Z3_ast set = Z3_mk_empty_set(A->z, A->BV);
        for (size_t c = 0; c < A->ncand; c++)
            if (mval(A, v, Z3_mk_set_member(A->z, zbv(A, A->cand[c]), A->paths[k].ls)))
                set = Z3_mk_set_add(A->z, set, zbv(A, A->cand[c]));
        A->max_prefs++;
        fixed += prefer(A, v->s, zeq(A, A->paths[k].ls, set));
    }
    if (fixed && Z3_solver_check(A->z, v->s) == Z3_L_TRUE) {
        Z3_model m = Z3_solver_get_model(A->z, v->s);
        Z3_model_inc_ref(A->z, m);
        Z3_model_dec_ref(A->z, v->m);
        v->m = m;
    }
}

/* 1 sat (model in *out), 0 unsat, <0 error */
static int solve(an *A, Z3_ast goal, solved *out) {
    Z3_solver s = Z3_mk_solver(A->z);
    Z3_solver_inc_ref(A->z, s);
    for (size_t k = 0; k < A->naxioms; k++)
        Z3_solver_assert(A->z, s, A->axioms[k]);
    Z3_solver_assert(A->z, s, goal);
    Z3_lbool r = Z3_solver_check(A->z, s);
    A->nprefs = 0;
    A->max_prefs = 400;
    if (Z3_get_error_code(A->z) != Z3_OK) {
        Z3_solver_dec_ref(A->z, s);
        return fail(A, ABAC_ANALYZE_E_UNKNOWN, "solver error: %s",
                    Z3_get_error_msg(A->z, Z3_get_error_code(A->z)));
    }
    if (r == Z3_L_UNDEF) {
        const char *why = Z3_solver_get_reason_unknown(A->z, s);
        fail(A, ABAC_ANALYZE_E_UNKNOWN, "the solver gave no answer (%s)", why ? why : "?");
        Z3_solver_dec_ref(A->z, s);
        return A->rc;
    }
    if (r == Z3_L_FALSE) {
        Z3_solver_dec_ref(A->z, s);
        return 0;
    }
    /* realisable requests: entities reached through attributes are other than the principal,
     * the resource and each other where the goal allows it (their attributes need not meet) */
    for (size_t k = 0; k < A->npaths; k++) {
        apath *p = &A->paths[k];
        if (!p->has_children)
            continue;
        Z3_ast d = znot(A, zor(A, zeq(A, p->e, A->P), zeq(A, p->e, A->R)));
        for (size_t j = 0; j < k; j++)
            if (A->paths[j].has_children)
                d = zand(A, d, znot(A, zeq(A, p->e, A->paths[j].e)));
        prefer(A, s, Z3_mk_implies(A->z, zeq(A, p->ty, zi(A, T_ENT)), d));
    }
    /* readable requests: greedily drop attributes, set elements and ancestors the answer
     * does not need (each preference kept only while the goal stays satisfiable) */
    for (size_t k = 0; k < A->npaths; k++)
        prefer(A, s, zeq(A, A->paths[k].ty, zi(A, T_ABSENT)));
    for (size_t k = 0; k < A->npaths; k++) {
        Z3_ast none = zt(A);
        for (size_t u = 0; u < A->nstr; u++)
            none = zand(A, none, znot(A, A->paths[k].mem[u]));
        if (!prefer(A, s, none))
            for (size_t u = 0; u < A->nstr; u++)
                prefer(A, s, znot(A, A->paths[k].mem[u]));
        prefer(A, s, zeq(A, A->paths[k].ls, Z3_mk_empty_set(A->z, A->BV)));
    }
    Z3_ast xs[3] = {A->P, A->A, A->R};
    for (int x = 0; x < 3; x++)
        for (size_t t = 0; t < A->ntargets; t++) {
            Z3_ast args[2] = {xs[x], zi(A, A->targets[t])};
            prefer(A, s, znot(A, Z3_mk_app(A->z, A->anc, 2, args)));
        }
    if (Z3_solver_check(A->z, s) != Z3_L_TRUE) {
        Z3_solver_dec_ref(A->z, s);
        return fail(A, ABAC_ANALYZE_E_UNKNOWN, "the solver gave no answer");
    }
    out->s = s;
    out->m = Z3_solver_get_model(A->z, s);
    Z3_model_inc_ref(A->z, out->m);
    finite_sets(A, out);
    return 1;
}
static void solved_free(an *A, solved *v) {
    Z3_model_dec_ref(A->z, v->m);
    Z3_solver_dec_ref(A->z, v->s);
}

static int64_t mval(an *A, const solved *v, Z3_ast t) {
    Z3_ast r;
    if (!Z3_model_eval(A->z, v->m, t, true, &r))
        return 0;
    if (Z3_get_sort_kind(A->z, Z3_get_sort(A->z, r)) == Z3_BOOL_SORT)
        return Z3_get_bool_value(A->z, r) == Z3_L_TRUE;
    if (Z3_get_sort_kind(A->z, Z3_get_sort(A->z, r)) == Z3_BV_SORT) {
        uint64_t u = 0;
        Z3_get_numeral_uint64(A->z, r, &u);
        return (int64_t)u;
    }
    int64_t i = 0;
    Z3_get_numeral_int64(A->z, r, &i);
    return i;
}

static void json_uid(an *A, sb *b, int64_t e) {
    euni *u = &A->ent[e];
    sb_s(b, "{\"type\": ");
    sb_json_str(b, u->type.p, u->type.n);
    sb_s(b, ", \"id\": ");
    if (u->fresh) {
        char id[64];
        snprintf(id, sizeof id, "%sid%d", A->fresh_tag, u->fresh - 1);
        sb_json_str(b, id, strlen(id));
    } else {
        sb_json_str(b, u->id.p, u->id.n);
    }
    sb_s(b, "}");
}

/* civil date from days since 1970-01-01 (H. Hinnant's civil_from_days) */
static void civil(int64_t z, int64_t *y, int64_t *m, int64_t *d) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yoe + era * 400 + (*m <= 2);
}

static void json_children(an *A, const solved *v, sb *b, int root, int parent, const ctype *rec);

/* the value of path k; t: its schema type (NULL without a schema) */
static void json_value(an *A, const solved *v, sb *b, size_t k, const ctype *t) {
    apath *p = &A->paths[k];
    int64_t ty = mval(A, v, p->ty);
    switch (ty) {
        case T_BOOL:
            sb_s(b, mval(A, v, p->b) ? "true" : "false");
            break;
        case T_LONG:
            sb_f(b, "%" PRId64, mval(A, v, p->l));
            break;
        case T_STR: {
            int64_t s = mval(A, v, p->s);
            sb_json_str(b, A->str[s].p, A->str[s].n);
            break;
        }
        case T_ENT:
            sb_s(b, "{\"__entity\": ");
            json_uid(A, b, mval(A, v, p->e));
            sb_s(b, "}");
            break;
        case T_SETSTR: {
            sb_s(b, "[");
            int first = 1;
            for (size_t u = 0; u < A->nstr; u++)
                if (mval(A, v, p->mem[u])) {
                    if (!first)
                        sb_s(b, ", ");
                    first = 0;
                    sb_json_str(b, A->str[u].p, A->str[u].n);
                }
            sb_s(b, "]");
            break;
        }
        case T_SETLONG: {
            sb_s(b, "[");
            int first = 1;
            for (size_t c = 0; c < A->ncand; c++)
                if (mval(A, v, Z3_mk_set_member(A->z, zbv(A, A->cand[c]), p->ls))) {
                    sb_f(b, first ? "%" PRId64 : ", %" PRId64, A->cand[c]);
                    first = 0;
                }
            sb_s(b, "]");
            break;
        }
        case T_DATETIME: {
            int64_t ms = mval(A, v, p->l), day = ms / 86400000, rem = ms % 86400000;
            if (rem < 0) {
                rem += 86400000;
                day--;
            }
            int64_t y, mo, d;
            civil(day, &y, &mo, &d);
            sb_f(b,
                 "{\"__extn\": {\"fn\": \"datetime\", \"arg\": "
                 "\"%04" PRId64 "-%02" PRId64 "-%02" PRId64 "T%02" PRId64 ":%02" PRId64
                 ":%02" PRId64 ".%03" PRId64 "Z\"}}",
                 y, mo, d, rem / 3600000, rem / 60000 % 60, rem / 1000 % 60, rem % 1000);
            break;
        }
        case T_DURATION: {
            int64_t ms = mval(A, v, p->l);
            if (ms < 0)
                sb_f(b, "{\"__extn\": {\"fn\": \"duration\", \"arg\": \"-%" PRIu64 "ms\"}}",
                     (uint64_t)0 - (uint64_t)ms);
            else
                sb_f(b, "{\"__extn\": {\"fn\": \"duration\", \"arg\": \"%" PRId64 "ms\"}}", ms);
            break;
        }
        case T_REC:
            json_children(A, v, b, p->root, (int)k, t && t->k == K_REC ? t : NULL);
            break;
        default:
            sb_s(b, "null");
    }
}

/* the record below (root, parent); under a schema (rec: its type) the required attributes no
 * policy reads get a value of their type */
static void json_children(an *A, const solved *v, sb *b, int root, int parent, const ctype *rec) {
    sb_s(b, "{");
    int first = 1;
    for (size_t k = 0; k < A->npaths; k++) {
        apath *p = &A->paths[k];
        if (p->root != root || p->parent != parent || mval(A, v, p->ty) == T_ABSENT)
            continue;
        if (!first)
            sb_s(b, ", ");
        first = 0;
        sb_json_str(b, p->name.p, p->name.n);
        sb_s(b, ": ");
        const cattrd *ad = A->S ? s_attr(rec, p->name) : NULL;
        json_value(A, v, b, k, ad ? ad->t : NULL);
    }
    for (uint32_t i = 0; A->S && rec && i < rec->n; i++) {
        if (!rec->attrs[i].req || path_find(A, root, parent, rec->attrs[i].name, 0) >= 0)
            continue;
        sb_s(b, first ? "" : ", ");
        first = 0;
        sb_json_str(b, rec->attrs[i].name.p, rec->attrs[i].name.n);
        sb_s(b, ": ");
        json_default(A, b, rec->attrs[i].t);
    }
    sb_s(b, "}");
}

/* the attributes of entity x: the union of what its holders read (the principal's or
 * resource's paths, each path holding x); under a schema (shape) the required attributes no
 * policy reads get a value of their type. Sets A->aliased when two holders' attributes meet */
static void json_ent_attrs(an *A, const solved *v, sb *b, int64_t x, const ctype *shape) {
    holder *h = calloc(A->npaths + 2, sizeof *h);
    size_t *done = calloc(A->npaths + 1, sizeof *done);
    if (!h || !done) {
        free(h);
        free(done);
        b->oom = 1;
        return;
    }
    size_t nh = holders(A, h), nd = 0, nsrc = 0;
    int64_t P = mval(A, v, A->P), R = mval(A, v, A->R);
    sb_s(b, "{");
    for (size_t i = 0; i < nh; i++) {
        if ((i == 0 && x != P) || (i == 1 && (x != R || P == R)))
            continue;
        if (i >= 2 && (mval(A, v, A->paths[h[i].parent].ty) != T_ENT ||
                       mval(A, v, A->paths[h[i].parent].e) != x))
            continue;
        nsrc++;
        for (size_t k = 0; k < A->npaths; k++) {
            apath *p = &A->paths[k];
            if (p->root != h[i].root || p->parent != h[i].parent || mval(A, v, p->ty) == T_ABSENT)
                continue;
            int seen = 0;
            for (size_t d = 0; d < nd && !seen; d++)
                seen = cstr_eq(A->paths[done[d]].name, p->name);
            if (seen)
                continue;
            sb_s(b, nd ? ", " : "");
            done[nd++] = k;
            sb_json_str(b, p->name.p, p->name.n);
            sb_s(b, ": ");
            const cattrd *ad = A->S ? s_attr(shape, p->name) : NULL;
            json_value(A, v, b, k, ad ? ad->t : NULL);
        }
    }
    size_t nread = nd;
    for (uint32_t i = 0; A->S && shape && i < shape->n; i++) {
        int seen = 0;
        for (size_t d = 0; d < nread && !seen; d++)
            seen = cstr_eq(A->paths[done[d]].name, shape->attrs[i].name);
        if (!shape->attrs[i].req || seen)
            continue;
        sb_s(b, nd ? ", " : "");
        nd++;
        sb_json_str(b, shape->attrs[i].name.p, shape->attrs[i].name.n);
        sb_s(b, ": ");
        json_default(A, b, shape->attrs[i].t);
    }
    sb_s(b, "}");
    if (nsrc > 1 || (nsrc == 1 && x != P && x != R && nread))
        A->aliased = 1;
    free(h);
    free(done);
}

static int anc_val(an *A, const solved *v, size_t i, int tg) {
    Z3_ast args[2] = {zi(A, (int64_t)i), zi(A, tg)};
    return (size_t)tg != i && mval(A, v, Z3_mk_app(A->z, A->anc, 2, args));
}
/* under a schema: the declared action entity i is (-1: it is not one) */
static int64_t act_of(an *A, size_t i) {
    return A->S && !A->ent[i].fresh ? s_act(A->S, A->ent[i].type, A->ent[i].id) : -1;
}

/* the request and the entities of a model: {"request": …, "entities": […]}. Under a schema
 * the store holds what conforms to it: the request's entities and the entity-valued
 * attributes' that have ancestors (with a value for every required attribute), and each
 * action with its declared groups (and theirs); other ancestors are named only as parents. */
static void json_request(an *A, const solved *v, sb *b) {
    int64_t P = mval(A, v, A->P), Ac = mval(A, v, A->A), R = mval(A, v, A->R);
    sb_s(b, "{\"request\": {\"principal\": ");
    json_uid(A, b, P);
    sb_s(b, ", \"action\": ");
    json_uid(A, b, Ac);
    sb_s(b, ", \"resource\": ");
    json_uid(A, b, R);
    sb_s(b, ", \"context\": ");
    json_children(A, v, b, 3, -1, A->S ? s_context(A, Ac) : NULL);
    sb_s(b, "}, \"entities\": [");
    /* entities: the request's, entity-valued attributes', and every ancestor named */
    char *out = calloc(A->nent, 1);
    if (!out) {
        b->oom = 1;
        return;
    }
    out[P] = out[Ac] = out[R] = 1;
    char *held = calloc(A->nent, 1); /* entities reached through an attribute, attributes read */
    if (!held) {
        free(out);
        b->oom = 1;
        return;
    }
    for (size_t k = 0; k < A->npaths; k++)
        if (mval(A, v, A->paths[k].ty) == T_ENT) {
            int64_t e = mval(A, v, A->paths[k].e);
            int keep = !A->S || act_of(A, (size_t)e) >= 0;
            for (size_t c = 0; A->paths[k].has_children && c < A->npaths; c++)
                if (A->paths[c].parent == (int)k && mval(A, v, A->paths[c].ty) != T_ABSENT)
                    keep = held[e] = 1;
            for (size_t t = 0; !keep && t < A->ntargets; t++)
                keep = anc_val(A, v, (size_t)e, A->targets[t]);
            if (keep)
                out[e] = 1;
        }
    for (int changed = 1; changed;) {
        changed = 0;
        for (size_t i = 0; i < A->nent; i++) {
            if (!out[i])
                continue;
            int64_t ai = act_of(A, i);
            for (uint32_t g = 0; ai >= 0 && g < A->S->a[ai].n_mem; g++) {
                int tg = find_ent(A, &A->S->a[ai].mem[g]);
                if (tg >= 0 && !out[tg]) {
                    out[tg] = 1;
                    changed = 1;
                }
            }
            for (size_t t = 0; !A->S && t < A->ntargets; t++) {
                int tg = A->targets[t];
                if (!out[tg] && anc_val(A, v, i, tg)) {
                    out[tg] = 1;
                    changed = 1;
                }
            }
        }
    }
    int first = 1;
    for (size_t i = 0; i < A->nent; i++) {
        if (!out[i])
            continue;
        if (!first)
            sb_s(b, ", ");
        first = 0;
        sb_s(b, "{\"uid\": ");
        json_uid(A, b, (int64_t)i);
        sb_s(b, ", \"attrs\": ");
        int64_t ai = act_of(A, i);
        if ((int64_t)i == P || (int64_t)i == R || held[i])
            json_ent_attrs(A, v, b, (int64_t)i, A->S ? s_shape(A, (int64_t)i) : NULL);
        else if (A->S && ai < 0)
            json_default(A, b, s_shape(A, (int64_t)i));
        else
            sb_s(b, "{}");
        sb_s(b, ", \"parents\": [");
        int pf = 1;
        for (uint32_t g = 0; ai >= 0 && g < A->S->a[ai].n_mem; g++) {
            int tg = find_ent(A, &A->S->a[ai].mem[g]);
            if (tg < 0)
                continue;
            sb_s(b, pf ? "" : ", ");
            pf = 0;
            json_uid(A, b, tg);
        }
        for (size_t t = 0; ai < 0 && t < A->ntargets; t++) {
            int tg = A->targets[t];
            if (anc_val(A, v, i, tg)) {
                sb_s(b, pf ? "" : ", ");
                pf = 0;
                json_uid(A, b, tg);
            }
        }
        sb_s(b, "]}");
    }
    sb_s(b, "]}");
    free(out);
    free(held);
}

/* ---- replay through libabac ---- */
typedef struct replay {
    abac_cedar_request *rq;
    abac_cedar_entities *es;
} replay;

/* split {"request": R, "entities": E} (as json_request writes it) and parse both */
static int replay_parse(an *A, const char *j, size_t len, replay *r) {
    memset(r, 0, sizeof *r);
    const char *e = strstr(j, "}, \"entities\": ");
    if (strncmp(j, "{\"request\": ", 12) != 0 || !e)
        return fail(A, ABAC_ANALYZE_E_REPLAY, "internal: malformed request text");
    char msg[256];
    int rc =
        abac_cedar_request_parse_json(&r->rq, j + 12, (size_t)(e + 1 - (j + 12)), msg, sizeof msg);
    if (rc == 0) {
        const char *es = e + 15;
        rc =
            abac_cedar_entities_parse_json(&r->es, es, (size_t)(j + len - 1 - es), msg, sizeof msg);
    }
    if (rc)
        return fail(A, ABAC_ANALYZE_E_REPLAY, "replay: libabac refused the request made: %s", msg);
    if (A->S) { /* a request shown under a schema conforms to it */
        rc = abac_cedar_schema_check_entities(A->S, r->es, msg, sizeof msg);
        if (!rc)
            rc = abac_cedar_schema_check_request(A->S, r->rq, msg, sizeof msg);
        if (rc) {
            abac_cedar_request_free(r->rq);
            abac_cedar_entities_free(r->es);
            memset(r, 0, sizeof *r);
            return fail(A, ABAC_ANALYZE_E_REPLAY,
                        "replay: the request made does not conform to the schema: %s", msg);
        }
    }
    return 0;
}
static void replay_free(replay *r) {
    abac_cedar_request_free(r->rq);
    abac_cedar_entities_free(r->es);
}

/* decision of ps, and whether policy `pol` (or -1) raised an error / was a reason */
static int decide(an *A, const abac_cedar_policies *ps, const replay *r, int pol, int *errored,
                  int *reason) {
    abac_cedar_response *resp;
    int rc = abac_cedar_response_new(&resp, ps, 0);
    if (rc)
        return fail(A, rc, "out of memory");
    int d = abac_cedar_is_authorized(ps, r->es, r->rq, resp);
    if (errored) {
        *errored = 0;
        for (size_t k = 0; k < abac_cedar_response_error_count(resp); k++) {
            size_t p;
            int code;
            if (abac_cedar_response_error(resp, k, &p, &code) == 0 && (int)p == pol)
                *errored = 1;
        }
    }
    if (reason) {
        *reason = 0;
        for (size_t k = 0; k < abac_cedar_response_reason_count(resp); k++)
            if ((int)abac_cedar_response_reason(resp, k) == pol)
                *reason = 1;
    }
    abac_cedar_response_free(resp);
    if (d < 0)
        return fail(A, d, "libabac: %s", abac_strerror(d));
    return d;
}

/* a policy set of policy `i` of ps alone (a view, no copy), with or without its condition */
typedef struct view {
    abac_cedar_policies v;
    cpolicy p;
    uint32_t zero;
} view;
static const abac_cedar_policies *make_view(view *w, const abac_cedar_policies *ps, uint32_t i,
                                            int keep_cond, int as_permit) {
    memset(w, 0, sizeof *w);
    w->p = ps->pol[i];
    if (!keep_cond)
        w->p.cond = NULL;
    if (as_permit)
        w->p.effect = ABAC_PERMIT;
    w->v.pol = &w->p;
    w->v.n = 1;
    w->v.other = &w->zero;
    w->v.n_other = 1;
    return &w->v;
}

static int parse_set(an *A, const char *what, const char *src, size_t len,
                     abac_cedar_policies **out) {
    uint32_t line = 0, col = 0;
    char msg[256] = "";
    int rc = abac_cedar_policies_parse(out, src, len, &line, &col, msg, sizeof msg);
    if (rc)
        return fail(A, rc, "%s: line %u:%u: %s", what, line, col, msg);
    return 0;
}

static const char *policy_name(const abac_cedar_policies *ps, size_t i, size_t *n) {
    const char *v = abac_cedar_policy_annotation(ps, i, "id", 2, n);
    if (v)
        return v;
    v = abac_cedar_policy_id(ps, i);
    *n = strlen(v);
    return v;
}

static void copy_msg(const an *A, char *err_msg, size_t err_cap) {
    if (err_msg && err_cap) {
        snprintf(err_msg, err_cap, "%s", A->msg);
    }
}

static int finish(an *A, sb *b, char **json_out, char *err_msg, size_t err_cap) {
    int rc = A->rc;
    if (!rc && b->oom)
        rc = fail(A, ABAC_E_NOMEM, "out of memory");
    if (rc) {
        copy_msg(A, err_msg, err_cap);
        free(b->p);
        *json_out = NULL;
    } else {
        *json_out = b->p;
        if (err_msg && err_cap)
            err_msg[0] = 0;
    }
    an_free(A);
    return rc;
}

/* ---- queries ---- */

/* a query's policy sets (OLD and NEW, SET and invariants, or SET alone), encoded */
typedef struct query {
    abac_cedar_policies *ps[2];
    polf *pf[2];
    Z3_ast perm[2], forbid[2];
    abac_cedar_schema *schema;
} query;

/* read the sets and the schema (JSON when it starts with '{', else Cedar's human syntax),
 * build the universes and encode the sets; 0 or A->rc */
static int q_open(an *A, query *q, int nsets, const char *const names[2], const char *const src[2],
                  const size_t len[2], const char *schema, size_t schema_len) {
    memset(q, 0, sizeof *q);
    for (int k = 0; k < nsets; k++)
        if (parse_set(A, names[k], src[k], len[k], &q->ps[k]))
            return A->rc;
    if (schema) {
        size_t i = 0;
        while (i < schema_len &&
               (schema[i] == ' ' || schema[i] == '\t' || schema[i] == '\n' || schema[i] == '\r'))
            i++;
        uint32_t line = 0, col = 0;
        char msg[256] = "";
        int rc = i < schema_len && schema[i] == '{'
                     ? abac_cedar_schema_parse_json(&q->schema, schema, schema_len, msg, sizeof msg)
                     : abac_cedar_schema_parse(&q->schema, schema, schema_len, &line, &col, msg,
                                               sizeof msg);
        if (rc)
            return line ? fail(A, rc, "schema: line %u:%u: %s", line, col, msg)
                        : fail(A, rc, "schema: %s", msg);
        A->S = q->schema;
    }
    for (int k = 0; k < nsets; k++)
        collect_set(A, q->ps[k]);
    if (A->S)
        schema_universe(A);
    pick_tag(A);
    if (A->rc || build(A))
        return A->rc;
    for (int k = 0; k < nsets; k++)
        if (enc_set(A, q->ps[k], &q->pf[k], &q->perm[k], &q->forbid[k]))
            return A->rc;
    return 0;
}

static void q_close(query *q) {
    for (int k = 0; k < 2; k++) {
        free(q->pf[k]);
        abac_cedar_policies_free(q->ps[k]);
    }
    abac_cedar_schema_free(q->schema);
}

/* libabac's decisions on a request the solver made agree with the solver: 0, or A->rc */
typedef int (*agree_fn)(an *A, const query *q, const replay *rp, const void *arg);

/* the request of model v, replayed (conformance to the schema, then agree()), appended to b
 * without its closing brace; frees v */
static int report(an *A, const query *q, solved *v, sb *b, agree_fn agree, const void *arg) {
    sb req = {0};
    A->aliased = 0;
    json_request(A, v, &req);
    solved_free(A, v);
    replay rp;
    if (req.oom || !req.p) {
        fail(A, ABAC_E_NOMEM, "out of memory");
    } else {
        if (!replay_parse(A, req.p, req.n, &rp)) {
            agree(A, q, &rp, arg);
            replay_free(&rp);
        }
        /* the attributes of entities reached through attributes are over-approximated (each
         * path its own value where no other path reads the same attribute): a request that
         * relies on them and does not replay is a possible answer, not a confirmed one. Any
         * other disagreement is an error of the encoding */
        int confirmed = 1;
        if (A->rc == ABAC_ANALYZE_E_REPLAY && A->aliased) {
            A->rc = 0;
            A->msg[0] = 0;
            confirmed = 0;
        }
        if (!A->rc) {
            sb_put(b, req.p, req.n - 1);
            sb_f(b, ", \"confirmed\": %s", confirmed ? "true" : "false");
        }
    }
    free(req.p);
    return A->rc;
}

/* the end of every answer: over which requests it speaks */
static void tail(an *A, sb *b) {
    sb_f(b, "\"under_schema\": %s}", A->S ? "true" : "false");
}

static int agree_diff(an *A, const query *q, const replay *rp, const void *arg) {
    int new_permits = *(const int *)arg;
    int d0 = decide(A, q->ps[0], rp, -1, NULL, NULL), dn = decide(A, q->ps[1], rp, -1, NULL, NULL);
    if (!A->rc && (dn != new_permits || d0 != !new_permits))
        fail(A, ABAC_ANALYZE_E_REPLAY,
             "replay: libabac decides OLD %s, NEW %s on the request the solver made",
             d0 ? "Allow" : "Deny", dn ? "Allow" : "Deny");
    return A->rc;
}

int abac_analyze_diff_schema(const char *old_src, size_t old_len, const char *new_src,
                             size_t new_len, const char *schema, size_t schema_len,
                             unsigned timeout_ms, char **json_out, char *err_msg, size_t err_cap) {
    if (!old_src || !new_src || !json_out)
        return ABAC_E_INVALID;
    an A;
    sb b = {0};
    query q;
    an_init(&A, timeout_ms);
    const char *const names[2] = {"OLD", "NEW"}, *const src[2] = {old_src, new_src};
    const size_t len[2] = {old_len, new_len};
    if (q_open(&A, &q, 2, names, src, len, schema, schema_len))
        goto out;
    const char *keys[2] = {"new_permits", "old_permits"};
    int found[2] = {0, 0};
    sb_s(&b, "{");
    for (int k = 0; k < 2 && !A.rc; k++) {
        solved v;
        int new_permits = k == 0;
        Z3_ast goal = new_permits ? zand(&A, q.perm[1], znot(&A, q.perm[0]))
                                  : zand(&A, q.perm[0], znot(&A, q.perm[1]));
        int r = solve(&A, goal, &v);
        if (r < 0)
            break;
        sb_f(&b, "\"%s\": ", keys[k]);
        if (r == 0) {
            sb_s(&b, "null, ");
            continue;
        }
        found[k] = 1;
        if (!report(&A, &q, &v, &b, agree_diff, &new_permits))
            sb_f(&b, ", \"old\": \"%s\", \"new\": \"%s\"}, ", new_permits ? "Deny" : "Allow",
                 new_permits ? "Allow" : "Deny");
    }
    if (!A.rc) {
        const char *verdict = !found[0] && !found[1] ? "equivalent"
                              : found[0] && found[1] ? "incomparable"
                              : found[0]             ? "new_more_permissive"
                                                     : "new_less_permissive";
        sb_f(&b, "\"verdict\": \"%s\", ", verdict);
        tail(&A, &b);
    }
out:
    q_close(&q);
    return finish(&A, &b, json_out, err_msg, err_cap);
}

int abac_analyze_diff(const char *old_src, size_t old_len, const char *new_src, size_t new_len,
                      unsigned timeout_ms, char **json_out, char *err_msg, size_t err_cap) {
    return abac_analyze_diff_schema(old_src, old_len, new_src, new_len, NULL, 0, timeout_ms,
                                    json_out, err_msg, err_cap);
}

static int agree_check(an *A, const query *q, const replay *rp, const void *arg) {
    uint32_t j = *(const uint32_t *)arg;
    int never = q->ps[1]->pol[j].effect == ABAC_DENY;
    view w1, w2;
    int d = decide(A, q->ps[0], rp, -1, NULL, NULL);
    int inv = decide(A, make_view(&w1, q->ps[1], j, 1, 1), rp, -1, NULL, NULL);
    int in_scope = decide(A, make_view(&w2, q->ps[1], j, 0, 1), rp, -1, NULL, NULL);
    if (!A->rc && (d != 1 || (never ? inv != 1 : (in_scope != 1 || inv != 0))))
        fail(A, ABAC_ANALYZE_E_REPLAY, "replay: libabac disagrees with the solver on invariant %u",
             j);
    return A->rc;
}

int abac_analyze_check_schema(const char *src, size_t len, const char *inv_src, size_t inv_len,
                              const char *schema, size_t schema_len, unsigned timeout_ms,
                              char **json_out, char *err_msg, size_t err_cap) {
    if (!src || !inv_src || !json_out)
        return ABAC_E_INVALID;
    an A;
    sb b = {0};
    query q;
    an_init(&A, timeout_ms);
    const char *const names[2] = {"SET", "invariants"}, *const srcs[2] = {src, inv_src};
    const size_t lens[2] = {len, inv_len};
    if (q_open(&A, &q, 2, names, srcs, lens, schema, schema_len))
        goto out;
    const abac_cedar_policies *pi = q.ps[1];
    int all = 1;
    sb_s(&b, "{\"invariants\": [");
    for (uint32_t j = 0; j < pi->n && !A.rc; j++) {
        int never = pi->pol[j].effect == ABAC_DENY;
        const polf *fi = &q.pf[1][j];
        Z3_ast goal = never ? zand(&A, q.perm[0], fi->sat)
                            : zand(&A, q.perm[0], zand(&A, fi->scope, znot(&A, fi->sat)));
        solved v;
        int r = solve(&A, goal, &v);
        if (r < 0)
            break;
        size_t nl;
        const char *name = policy_name(pi, j, &nl);
        sb_s(&b, j ? ", {\"id\": " : "{\"id\": ");
        sb_json_str(&b, name, nl);
        sb_f(&b, ", \"kind\": \"%s\", \"holds\": %s, \"counterexample\": ",
             never ? "never" : "requires", r ? "false" : "true");
        if (!r) {
            sb_s(&b, "null}");
            continue;
        }
        all = 0;
        if (!report(&A, &q, &v, &b, agree_check, &j))
            sb_s(&b, "}}");
    }
    if (!A.rc) {
        sb_f(&b, "], \"all_hold\": %s, ", all ? "true" : "false");
        tail(&A, &b);
    }
out:
    q_close(&q);
    return finish(&A, &b, json_out, err_msg, err_cap);
}

int abac_analyze_check(const char *src, size_t len, const char *inv_src, size_t inv_len,
                       unsigned timeout_ms, char **json_out, char *err_msg, size_t err_cap) {
    return abac_analyze_check_schema(src, len, inv_src, inv_len, NULL, 0, timeout_ms, json_out,
                                     err_msg, err_cap);
}

static int agree_lint(an *A, const query *q, const replay *rp, const void *arg) {
    uint32_t i = *(const uint32_t *)arg;
    int errored = 0;
    decide(A, q->ps[0], rp, (int)i, &errored, NULL);
    if (!A->rc && !errored)
        fail(A, ABAC_ANALYZE_E_REPLAY,
             "replay: policy %u raises no error under libabac on the request made", i);
    return A->rc;
}

int abac_analyze_lint_schema(const char *src, size_t len, const char *schema, size_t schema_len,
                             unsigned timeout_ms, char **json_out, char *err_msg, size_t err_cap) {
    if (!src || !json_out)
        return ABAC_E_INVALID;
    an A;
    sb b = {0};
    query q;
    an_init(&A, timeout_ms);
    const char *const names[2] = {"SET", NULL}, *const srcs[2] = {src, NULL};
    const size_t lens[2] = {len, 0};
    if (q_open(&A, &q, 1, names, srcs, lens, schema, schema_len))
        goto out;
    const abac_cedar_policies *ps = q.ps[0];
    const polf *fs = q.pf[0];
    sb_s(&b, "{\"policies\": [");
    for (uint32_t i = 0; i < ps->n && !A.rc; i++) {
        solved v;
        int r = solve(&A, fs[i].sat, &v);
        if (r < 0)
            break;
        int dead = r == 0;
        if (r)
            solved_free(&A, &v);
        int shadowed = 0;
        if (!dead && ps->pol[i].effect == ABAC_PERMIT) {
            r = solve(&A, zand(&A, fs[i].sat, znot(&A, q.forbid[0])), &v);
            if (r < 0)
                break;
            shadowed = r == 0;
            if (r)
                solved_free(&A, &v);
        }
        r = solve(&A, zand(&A, fs[i].scope, fs[i].err), &v);
        if (r < 0)
            break;
        size_t nl;
        const char *name = policy_name(ps, i, &nl);
        sb_s(&b, i ? ", {\"id\": " : "{\"id\": ");
        sb_json_str(&b, name, nl);
        sb_f(&b,
             ", \"effect\": \"%s\", \"dead\": %s, \"shadowed\": %s, \"may_error\": %s, "
             "\"error_example\": ",
             ps->pol[i].effect == ABAC_DENY ? "forbid" : "permit", dead ? "true" : "false",
             shadowed ? "true" : "false", r ? "true" : "false");
        if (!r) {
            sb_s(&b, "null}");
            continue;
        }
        if (!report(&A, &q, &v, &b, agree_lint, &i))
            sb_s(&b, "}}");
    }
    if (!A.rc) {
        sb_s(&b, "], ");
        tail(&A, &b);
    }
out:
    q_close(&q);
    return finish(&A, &b, json_out, err_msg, err_cap);
}

int abac_analyze_lint(const char *src, size_t len, unsigned timeout_ms, char **json_out,
                      char *err_msg, size_t err_cap) {
    return abac_analyze_lint_schema(src, len, NULL, 0, timeout_ms, json_out, err_msg, err_cap);
}

void abac_analyze_free(char *json) {
    free(json);
}
