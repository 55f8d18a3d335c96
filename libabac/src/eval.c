/* Requests (pre-sized arena), evaluation, decisions and explanations. Nothing here calls
 * malloc after abac_request_new / abac_decision_new; no clock, no floating point. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define ANC_CAP 256u

/* ---- requests ---------------------------------------------------------------------------- */

size_t abac_request_arena_size(const abac_policyset *ps, size_t n_values, size_t string_bytes) {
    if (!ps)
        return 0;
    return (size_t)ps->n_slots * sizeof(val) + 2 * ANC_CAP * sizeof(val) +
           n_values * (sizeof(val) + 8) + string_bytes + 64;
}

static void *arena_take(abac_request *r, size_t n) {
    size_t at = (r->used + 7u) & ~(size_t)7u;
    if (at > r->cap || n > r->cap - at)
        return NULL;
    r->used = at + n;
    return r->arena + at;
}

void abac_request_reset(abac_request *r) {
    if (!r)
        return;
    r->used = r->base;
    memset(r->slots, 0, r->ps->n_slots * sizeof(val));
    memset(&r->action, 0, sizeof r->action);
    memset(r->ent_id, 0, sizeof r->ent_id);
    memset(r->ent_type, 0, sizeof r->ent_type);
    r->n_anc[0] = r->n_anc[1] = 0;
}

int abac_request_new(const abac_policyset *ps, size_t arena_bytes, abac_request **out) {
    if (!ps || !out)
        return ABAC_E_INVALID;
    *out = NULL;
    if (arena_bytes == 0)
        arena_bytes = abac_request_arena_size(ps, 1024, 64 * 1024);
    size_t min = (size_t)ps->n_slots * sizeof(val) + 2 * ANC_CAP * sizeof(val) + 64;
    if (arena_bytes < min)
        arena_bytes = min;
    abac_request *r = calloc(1, sizeof *r);
    if (!r)
        return ABAC_E_NOMEM;
    r->arena = malloc(arena_bytes);
    if (!r->arena) {
        free(r);
        return ABAC_E_NOMEM;
    }
    r->ps = ps;
    r->cap = arena_bytes;
    r->slots = arena_take(r, (size_t)ps->n_slots * sizeof(val));
    r->anc[0] = arena_take(r, ANC_CAP * sizeof(val));
    r->anc[1] = arena_take(r, ANC_CAP * sizeof(val));
    r->cap_anc[0] = r->cap_anc[1] = ANC_CAP;
    r->base = r->used;
    abac_request_reset(r);
    *out = r;
    return ABAC_OK;
}

void abac_request_free(abac_request *r) {
    if (!r)
        return;
    free(r->arena);
    free(r);
}

/* string value: interned id when the policy set knows it (then no copy), else copied */
static int mkstr(abac_request *r, const char *s, size_t len, val *v) {
    if (!s && len)
        return ABAC_E_INVALID;
    int64_t id = ps_lookup(r->ps, s ? s : "", len);
    v->t = T_STR;
    v->present = 1;
    v->n = (uint32_t)len;
    v->i = id;
    if (len > 0xFFFFFFFFu)
        return ABAC_E_INVALID;
    if (id >= 0) {
        v->p = ps_str(r->ps, (uint32_t)id);
    } else {
        char *c = arena_take(r, len ? len : 1);
        if (!c)
            return ABAC_E_BUFFER_TOO_SMALL;
        if (len)
            memcpy(c, s, len);
        v->p = c;
    }
    return 0;
}

int abac_request_set_action(abac_request *r, const char *action, size_t len) {
    if (!r || (!action && len))
        return ABAC_E_INVALID;
    size_t mark = r->used;
    val v;
    int rc = mkstr(r, action, len, &v);
    if (rc) {
        r->used = mark;
        return rc;
    }
    r->action = v;
    return 0;
}

int abac_request_set_entity(abac_request *r, int scope, const char *id, size_t id_len,
                            const char *type, size_t type_len) {
    if (!r || (scope != ABAC_SUBJECT && scope != ABAC_RESOURCE) || (!id && id_len) ||
        (!type && type_len))
        return ABAC_E_INVALID;
    size_t mark = r->used;
    val a, b;
    memset(&b, 0, sizeof b);
    int rc = mkstr(r, id, id_len, &a);
    if (!rc && type)
        rc = mkstr(r, type, type_len, &b);
    if (rc) {
        r->used = mark;
        return rc;
    }
    r->ent_id[scope] = a;
    r->ent_type[scope] = b;
    return 0;
}

int abac_request_add_ancestor(abac_request *r, int scope, const char *group, size_t len) {
    if (!r || (scope != ABAC_SUBJECT && scope != ABAC_RESOURCE) || (!group && len))
        return ABAC_E_INVALID;
    if (r->n_anc[scope] >= r->cap_anc[scope])
        return ABAC_E_BUFFER_TOO_SMALL;
    size_t mark = r->used;
    val v;
    int rc = mkstr(r, group, len, &v);
    if (rc) {
        r->used = mark;
        return rc;
    }
    r->anc[scope][r->n_anc[scope]++] = v;
    return 0;
}

/* slot of an attribute, or NULL when no rule and no schema mentions it */
static int find_slot(abac_request *r, int scope, const char *name, int type, val **out) {
    *out = NULL;
    if (!r || !name || scope < 0 || scope > 2)
        return ABAC_E_INVALID;
    int64_t id = ps_lookup(r->ps, name, strlen(name));
    if (id < 0)
        return 0;
    uint32_t s = r->ps->slot_of[(size_t)scope * r->ps->n_strs + (uint32_t)id];
    if (s == NONE32)
        return 0;
    if (r->ps->slots[s].type && r->ps->slots[s].type != type)
        return ABAC_E_ATTR_TYPE;
    *out = &r->slots[s];
    return 0;
}

static int set_scalar(abac_request *r, int scope, const char *name, int t, int64_t v) {
    val *s;
    int rc = find_slot(r, scope, name, t, &s);
    if (rc || !s)
        return rc;
    memset(s, 0, sizeof *s);
    s->t = (uint8_t)t;
    s->present = 1;
    s->i = v;
    return 0;
}

int abac_request_set_bool(abac_request *r, int scope, const char *name, int value) {
    return set_scalar(r, scope, name, T_BOOL, value ? 1 : 0);
}
int abac_request_set_int(abac_request *r, int scope, const char *name, int64_t value) {
    return set_scalar(r, scope, name, T_INT, value);
}
int abac_request_set_timestamp(abac_request *r, int scope, const char *name, int64_t seconds) {
    return set_scalar(r, scope, name, T_TIME, seconds);
}

int abac_request_set_string(abac_request *r, int scope, const char *name, const char *value,
                            size_t len) {
    val *s;
    if (!value && len)
        return ABAC_E_INVALID;
    int rc = find_slot(r, scope, name, T_STR, &s);
    if (rc || !s)
        return rc;
    size_t mark = r->used;
    val v;
    if ((rc = mkstr(r, value, len, &v))) {
        r->used = mark;
        return rc;
    }
    *s = v;
    return 0;
}

int abac_request_set_string_set(abac_request *r, int scope, const char *name,
                                const char *const *values, const size_t *lens, size_t n) {
    val *s;
    if (n && (!values || !lens))
        return ABAC_E_INVALID;
    int rc = find_slot(r, scope, name, T_SSET, &s);
    if (rc || !s)
        return rc;
    size_t mark = r->used;
    if (n > 0xFFFFFFu)
        return ABAC_E_BUFFER_TOO_SMALL;
    val *e = arena_take(r, (n ? n : 1) * sizeof(val));
    if (!e)
        return ABAC_E_BUFFER_TOO_SMALL;
    for (size_t k = 0; k < n; k++) {
        if ((rc = mkstr(r, values[k], lens[k], &e[k]))) {
            r->used = mark;
            return rc;
        }
    }
    memset(s, 0, sizeof *s);
    s->t = T_SSET;
    s->present = 1;
    s->n = (uint32_t)n;
    s->p = e;
    return 0;
}

int abac_request_set_int_set(abac_request *r, int scope, const char *name, const int64_t *values,
                             size_t n) {
    val *s;
    if (n && !values)
        return ABAC_E_INVALID;
    int rc = find_slot(r, scope, name, T_ISET, &s);
    if (rc || !s)
        return rc;
    if (n > 0xFFFFFFu)
        return ABAC_E_BUFFER_TOO_SMALL;
    val *e = arena_take(r, (n ? n : 1) * sizeof(val));
    if (!e)
        return ABAC_E_BUFFER_TOO_SMALL;
    for (size_t k = 0; k < n; k++) {
        memset(&e[k], 0, sizeof e[k]);
        e[k].t = T_INT;
        e[k].present = 1;
        e[k].i = values[k];
    }
    memset(s, 0, sizeof *s);
    s->t = T_ISET;
    s->present = 1;
    s->n = (uint32_t)n;
    s->p = e;
    return 0;
}

/* ---- evaluation -------------------------------------------------------------------------- */

/* present: 1 request value, 2 literal set (p = int64 pool: ints or string ids) */

static int str_eq(const val *a, const val *b) {
    if (a->i >= 0 || b->i >= 0)
        return a->i == b->i;
    return a->n == b->n && memcmp(a->p, b->p, a->n) == 0;
}

/* is scalar e (T_STR / T_INT) in set s? */
static int member(const val *e, const val *s) {
    if (s->present == 2) {
        const int64_t *v = s->p;
        if (e->t == T_STR && e->i < 0)
            return 0;
        for (uint32_t k = 0; k < s->n; k++)
            if (v[k] == e->i)
                return 1;
        return 0;
    }
    const val *v = s->p;
    for (uint32_t k = 0; k < s->n; k++)
        if (e->t == T_STR ? str_eq(e, &v[k]) : v[k].i == e->i)
            return 1;
    return 0;
}

static void set_elem(const val *s, uint32_t k, val *e) {
    if (s->present == 2) {
        memset(e, 0, sizeof *e);
        e->t = s->t == T_SSET ? T_STR : T_INT;
        e->present = 1;
        e->i = ((const int64_t *)s->p)[k];
        /* a literal string element: id only; str_eq compares ids when one is interned */
    } else {
        *e = ((const val *)s->p)[k];
    }
}

static int subset(const val *a, const val *b) {
    for (uint32_t k = 0; k < a->n; k++) {
        val e;
        set_elem(a, k, &e);
        if (!member(&e, b))
            return 0;
    }
    return 1;
}

static int evb(const abac_policyset *ps, const abac_request *rq, uint32_t n);

static int evv(const abac_policyset *ps, const abac_request *rq, uint32_t n, val *o) {
    const node *x = &ps->nodes[n];
    switch (x->op) {
        case N_ATTR: {
            const val *s = &rq->slots[x->slot];
            if (!s->present)
                return ABAC_E_MISSING_ATTR;
            *o = *s;
            return 0;
        }
        case N_INT:
        case N_TIME:
            o->t = x->op == N_INT ? T_INT : T_TIME;
            o->present = 1;
            o->i = x->i;
            return 0;
        case N_STR:
            o->t = T_STR;
            o->present = 1;
            o->i = x->i;
            o->n = ps_strlen(ps, (uint32_t)x->i);
            o->p = ps_str(ps, (uint32_t)x->i);
            return 0;
        case N_SET:
            o->t = x->type;
            o->present = 2;
            o->n = x->b;
            o->p = ps->setpool + x->a;
            return 0;
        case N_ACTION:
            if (!rq->action.present)
                return ABAC_E_MISSING_ATTR;
            *o = rq->action;
            return 0;
        case N_SUBJECT:
        case N_RESOURCE: {
            int sc = x->op == N_SUBJECT ? ABAC_SUBJECT : ABAC_RESOURCE;
            if (!rq->ent_id[sc].present)
                return ABAC_E_MISSING_ATTR;
            *o = rq->ent_id[sc];
            o->t = T_ENTITY;
            o->i = rq->ent_id[sc].i;
            o->present = (uint8_t)(10 + sc); /* marks which entity, for 'in' */
            return 0;
        }
        default: {
            int b = evb(ps, rq, n);
            if (b < 0)
                return b;
            o->t = T_BOOL;
            o->present = 1;
            o->i = b;
            return 0;
        }
    }
}

static int eq_vals(const abac_request *rq, const val *a, const val *b) {
    if (a->t == T_ENTITY && b->t == T_ENTITY) {
        /* Cedar compares entities by type and id: a user "x" is not a dataset "x". */
        const val *ta = &rq->ent_type[a->present - 10], *tb = &rq->ent_type[b->present - 10];
        if (ta->present != tb->present || (ta->present && !str_eq(ta, tb)))
            return 0;
        return str_eq(a, b);
    }
    int ta = a->t == T_ENTITY ? T_STR : a->t, tb = b->t == T_ENTITY ? T_STR : b->t;
    if (ta != tb)
        return ABAC_E_RUNTIME_TYPE;
    switch (ta) {
        case T_STR:
            return str_eq(a, b);
        case T_SSET:
        case T_ISET:
            return subset(a, b) && subset(b, a);
        default:
            return a->i == b->i;
    }
}

static int in_vals(const abac_request *rq, const val *a, const val *b) {
    if (a->t == T_ENTITY) {
        const val *anc = rq->anc[a->present - 10];
        uint32_t na = rq->n_anc[a->present - 10];
        val id = *a;
        id.t = T_STR;
        id.present = 1;
        if (b->t == T_STR) {
            if (str_eq(&id, b))
                return 1;
            for (uint32_t k = 0; k < na; k++)
                if (str_eq(&anc[k], b))
                    return 1;
            return 0;
        }
        if (b->t != T_SSET)
            return ABAC_E_RUNTIME_TYPE;
        if (member(&id, b))
            return 1;
        for (uint32_t k = 0; k < na; k++)
            if (member(&anc[k], b))
                return 1;
        return 0;
    }
    if (b->t != T_SSET && b->t != T_ISET)
        return ABAC_E_RUNTIME_TYPE;
    int eb = b->t == T_SSET ? T_STR : T_INT;
    if (a->t == eb)
        return member(a, b);
    if ((a->t == T_SSET && eb == T_STR) || (a->t == T_ISET && eb == T_INT))
        return subset(a, b);
    return ABAC_E_RUNTIME_TYPE;
}

static int evb(const abac_policyset *ps, const abac_request *rq, uint32_t n) {
    const node *x = &ps->nodes[n];
    int ra, rc;
    val a, b;
    switch (x->op) {
        case N_TRUE:
            return 1;
        case N_FALSE:
            return 0;
        case N_AND:
            ra = evb(ps, rq, x->a);
            if (ra <= 0)
                return ra;
            return evb(ps, rq, x->b);
        case N_OR:
            ra = evb(ps, rq, x->a);
            if (ra != 0)
                return ra;
            return evb(ps, rq, x->b);
        case N_NOT:
            ra = evb(ps, rq, x->a);
            return ra < 0 ? ra : !ra;
        case N_HAS:
            return rq->slots[x->slot].present != 0;
        case N_ATTR: {
            const val *s = &rq->slots[x->slot];
            if (!s->present)
                return ABAC_E_MISSING_ATTR;
            if (s->t != T_BOOL)
                return ABAC_E_RUNTIME_TYPE;
            return (int)s->i;
        }
        case N_EQ:
        case N_NE:
            if ((rc = evv(ps, rq, x->a, &a)) || (rc = evv(ps, rq, x->b, &b)))
                return rc;
            rc = eq_vals(rq, &a, &b);
            return rc < 0 ? rc : (x->op == N_EQ ? rc : !rc);
        case N_LT:
        case N_LE:
        case N_GT:
        case N_GE:
            if ((rc = evv(ps, rq, x->a, &a)) || (rc = evv(ps, rq, x->b, &b)))
                return rc;
            if (a.t != b.t || (a.t != T_INT && a.t != T_TIME))
                return ABAC_E_RUNTIME_TYPE;
            switch (x->op) {
                case N_LT:
                    return a.i < b.i;
                case N_LE:
                    return a.i <= b.i;
                case N_GT:
                    return a.i > b.i;
                default:
                    return a.i >= b.i;
            }
        case N_IN:
            if ((rc = evv(ps, rq, x->a, &a)) || (rc = evv(ps, rq, x->b, &b)))
                return rc;
            return in_vals(rq, &a, &b);
        default:
            return ABAC_E_RUNTIME_TYPE; /* a non-boolean used as a condition */
    }
}

/* the sub-condition to blame for a false or failing node (explain only) */
static uint32_t blame(const abac_policyset *ps, const abac_request *rq, uint32_t n) {
    const node *x = &ps->nodes[n];
    for (int guard = 0; guard < 1000 && x->op == N_AND; guard++) {
        int ra = evb(ps, rq, x->a);
        n = ra <= 0 ? x->a : x->b;
        x = &ps->nodes[n];
    }
    if (x->op == N_OR) {
        int ra = evb(ps, rq, x->a);
        if (ra < 0)
            return blame(ps, rq, x->a);
        int rb = evb(ps, rq, x->b);
        if (rb < 0)
            return blame(ps, rq, x->b);
    }
    return n;
}

/* ---- decisions --------------------------------------------------------------------------- */

int abac_decision_new(const abac_policyset *ps, abac_decision **out) {
    if (!ps || !out)
        return ABAC_E_INVALID;
    *out = NULL;
    abac_decision *d = calloc(1, sizeof *d);
    size_t nr = ps->n_rules ? ps->n_rules : 1, ns = ps->n_strs ? ps->n_strs : 1;
    if (!d)
        return ABAC_E_NOMEM;
    d->ps = ps;
    d->rules = malloc(nr * sizeof(uint32_t));
    d->obls = malloc(ns * sizeof(uint32_t));
    d->obl_seen = calloc(ns, 1);
    d->errs = malloc(nr * sizeof(rterr));
    d->expls = malloc(nr * sizeof(expl));
    if (!d->rules || !d->obls || !d->obl_seen || !d->errs || !d->expls) {
        abac_decision_free(d);
        return ABAC_E_NOMEM;
    }
    return (*out = d), ABAC_OK;
}

void abac_decision_free(abac_decision *d) {
    if (!d)
        return;
    free(d->rules);
    free(d->obls);
    free(d->obl_seen);
    free(d->errs);
    free(d->expls);
    free(d);
}

static int in_scope(const abac_policyset *ps, const abac_request *rq, const rule *ru, int *reason) {
    if (ru->n_act) {
        int ok = 0;
        for (uint32_t k = 0; k < ru->n_act && !ok; k++)
            ok = rq->action.present && rq->action.i == (int64_t)ps->u32pool[ru->act_off + k];
        if (!ok) {
            *reason = ABAC_MISS_ACTION;
            return 0;
        }
    }
    if (ru->res_type != NONE32 &&
        !(rq->ent_type[1].present && rq->ent_type[1].i == (int64_t)ru->res_type)) {
        *reason = ABAC_MISS_RESOURCE;
        return 0;
    }
    return 1;
}

int abac_decide(const abac_policyset *ps, const abac_request *rq, abac_decision *d,
                unsigned flags) {
    if (!ps || !rq || !d || rq->ps != ps || d->ps != ps)
        return ABAC_E_INVALID;
    d->n_rules = d->n_obl = d->n_err = d->n_expl = 0;
    d->effect = ABAC_DENY;
    uint32_t ai = ps->n_actidx, ti = 0;
    if (rq->action.present && rq->action.i >= 0 && ps->act_idx[rq->action.i] != NONE32)
        ai = ps->act_idx[rq->action.i];
    uint32_t T = 1;
    if (ps->index_by_type) {
        T = ps->n_typeidx + 1;
        ti = ps->n_typeidx;
        const val *ty = &rq->ent_type[1];
        if (ty->present && ty->i >= 0 && ps->type_idx[ty->i] != NONE32)
            ti = ps->type_idx[ty->i];
    }
    size_t b = (size_t)ai * T + ti;
    const uint32_t *f = ps->bucket + ps->bucket_off[2 * b];
    const uint32_t *pm = ps->bucket + ps->bucket_off[2 * b + 1];
    const uint32_t *pe = ps->bucket + ps->bucket_off[2 * b + 2];
    int check_type = !ps->index_by_type;
    for (const uint32_t *p = f; p < pm; p++) {
        const rule *ru = &ps->rules[*p];
        int why;
        if (check_type && !in_scope(ps, rq, ru, &why))
            continue;
        int m = ru->cond == NONE32 ? 1 : evb(ps, rq, ru->cond);
        if (m > 0)
            d->rules[d->n_rules++] = *p;
        else if (m < 0) {
            d->errs[d->n_err].rule = *p;
            d->errs[d->n_err++].code = m;
        }
    }
    if (d->n_rules == 0) {
        for (const uint32_t *p = pm; p < pe; p++) {
            const rule *ru = &ps->rules[*p];
            int why;
            if (check_type && !in_scope(ps, rq, ru, &why))
                continue;
            int m = ru->cond == NONE32 ? 1 : evb(ps, rq, ru->cond);
            if (m > 0) {
                d->rules[d->n_rules++] = *p;
                for (uint32_t k = 0; k < ru->n_obl; k++) {
                    uint32_t o = ps->u32pool[ru->obl_off + k];
                    if (!d->obl_seen[o]) {
                        d->obl_seen[o] = 1;
                        d->obls[d->n_obl++] = o;
                    }
                }
            } else if (m < 0) {
                d->errs[d->n_err].rule = *p;
                d->errs[d->n_err++].code = m;
            }
        }
        for (uint32_t k = 0; k < d->n_obl; k++)
            d->obl_seen[d->obls[k]] = 0;
        if (d->n_rules)
            d->effect = ABAC_PERMIT;
    }
    if (flags & ABAC_DECIDE_EXPLAIN) {
        for (uint32_t r = 0; r < ps->n_rules; r++) {
            const rule *ru = &ps->rules[r];
            if (ru->effect != ABAC_PERMIT)
                continue;
            int why = 0;
            expl *e = &d->expls[d->n_expl];
            e->rule = r;
            e->node = NONE32;
            if (!in_scope(ps, rq, ru, &why)) {
                e->reason = (uint8_t)why;
                d->n_expl++;
                continue;
            }
            if (ru->cond == NONE32)
                continue;
            int m = evb(ps, rq, ru->cond);
            if (m > 0)
                continue;
            e->reason = m < 0 ? ABAC_MISS_ERROR : ABAC_MISS_CONDITION;
            e->node = blame(ps, rq, ru->cond);
            d->n_expl++;
        }
    }
    return d->effect;
}

int abac_decision_effect(const abac_decision *d) {
    return d ? d->effect : ABAC_DENY;
}
size_t abac_decision_rule_count(const abac_decision *d) {
    return d ? d->n_rules : 0;
}
size_t abac_decision_rule(const abac_decision *d, size_t i) {
    return d && i < d->n_rules ? d->rules[i] : SIZE_MAX;
}
size_t abac_decision_obligation_count(const abac_decision *d) {
    return d ? d->n_obl : 0;
}
const char *abac_decision_obligation(const abac_decision *d, size_t i) {
    return d && i < d->n_obl ? ps_str(d->ps, d->obls[i]) : NULL;
}
size_t abac_decision_error_count(const abac_decision *d) {
    return d ? d->n_err : 0;
}
int abac_decision_error(const abac_decision *d, size_t i, size_t *rule_out, int *code) {
    if (!d)
        return ABAC_E_INVALID;
    if (i >= d->n_err)
        return ABAC_E_NOT_FOUND;
    if (rule_out)
        *rule_out = d->errs[i].rule;
    if (code)
        *code = d->errs[i].code;
    return ABAC_OK;
}
size_t abac_decision_explain_count(const abac_decision *d) {
    return d ? d->n_expl : 0;
}
int abac_decision_explain(const abac_decision *d, size_t i, size_t *rule_out, int *reason,
                          char *text, size_t text_cap, uint32_t *line, uint32_t *col) {
    if (!d)
        return ABAC_E_INVALID;
    if (i >= d->n_expl)
        return ABAC_E_NOT_FOUND;
    const expl *e = &d->expls[i];
    if (rule_out)
        *rule_out = e->rule;
    if (reason)
        *reason = e->reason;
    uint32_t ln = 0, cl = 0;
    if (e->node != NONE32) {
        ln = d->ps->nodes[e->node].line;
        cl = d->ps->nodes[e->node].col;
        if (text && text_cap)
            ps_print(d->ps, e->node, text, text_cap);
    } else if (text && text_cap) {
        text[0] = 0;
    }
    if (line)
        *line = ln;
    if (col)
        *col = cl;
    return ABAC_OK;
}
