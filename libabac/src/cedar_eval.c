/* Cedar evaluation (https://docs.cedarpolicy.com/policies/syntax-operators.html): scopes,
 * conditions with Cedar's dynamic types and errors, and the authorization decision (forbid
 * overrides permit, default deny, an erroring policy is skipped and reported). No clock, no
 * floating point, no locale; values built while deciding live in the response's scratch
 * pool, reset for each decision. */
#include <stdlib.h>
#include <string.h>

#include "cedar_int.h"

/* ---- extension literals ---- */
int cedar_parse_decimal(const char *s, size_t n, int64_t *out) {
    size_t i = 0;
    int neg = 0;
    if (i < n && s[i] == '-') {
        neg = 1;
        i++;
    }
    uint64_t v = 0;
    size_t d0 = i;
    /* magnitude limit: 2^63 (the most negative value) */
    const uint64_t lim = (uint64_t)INT64_MAX + (neg ? 1u : 0u);
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (lim - d) / 10u)
            return -1;
        v = v * 10u + d;
        i++;
    }
    if (i == d0 || i >= n || s[i] != '.')
        return -1;
    i++;
    size_t f0 = i;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (lim - d) / 10u)
            return -1;
        v = v * 10u + d;
        i++;
    }
    size_t nf = i - f0;
    if (nf == 0 || nf > 4 || i != n)
        return -1;
    for (; nf < 4; nf++) {
        if (v > lim / 10u)
            return -1;
        v *= 10u;
    }
    *out = neg ? (v == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)v) : (int64_t)v;
    return 0;
}

static int parse_v4(const char *s, size_t n, uint8_t out[4]) {
    size_t i = 0;
    for (int k = 0; k < 4; k++) {
        if (k) {
            if (i >= n || s[i] != '.')
                return -1;
            i++;
        }
        size_t d0 = i;
        unsigned v = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9' && i - d0 < 3) {
            v = v * 10u + (unsigned)(s[i] - '0');
            i++;
        }
        if (i == d0 || v > 255 || (i - d0 > 1 && s[d0] == '0'))
            return -1;
        out[k] = (uint8_t)v;
    }
    return i == n ? 0 : -1;
}

static int parse_v6(const char *s, size_t n, uint8_t out[16]) {
    uint16_t g[8];
    int ng = 0, gap = -1;
    size_t i = 0;
    if (n >= 2 && s[0] == ':' && s[1] == ':') {
        gap = 0;
        i = 2;
        if (i == n)
            goto done;
    } else if (n && s[0] == ':') {
        return -1;
    }
    for (;;) {
        size_t d0 = i;
        unsigned v = 0;
        while (i < n && i - d0 < 4) {
            char h = s[i];
            int d = h >= '0' && h <= '9'   ? h - '0'
                    : h >= 'a' && h <= 'f' ? h - 'a' + 10
                    : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                           : -1;
            if (d < 0)
                break;
            v = v * 16u + (unsigned)d;
            i++;
        }
        if (i == d0)
            return -1;
        if (i < n && s[i] == '.') /* Cedar refuses IPv4 embedded in IPv6 */
            return -1;
        if (ng == 8)
            return -1;
        g[ng++] = (uint16_t)v;
        if (i == n)
            break;
        if (s[i] != ':')
            return -1;
        i++;
        if (i < n && s[i] == ':') {
            if (gap >= 0)
                return -1;
            gap = ng;
            i++;
            if (i == n)
                break;
        } else if (i == n) {
            return -1;
        }
    }
done:
    if (gap < 0 && ng != 8)
        return -1;
    if (gap >= 0 && ng > 7)
        return -1;
    uint16_t full[8] = {0};
    if (gap < 0) {
        memcpy(full, g, sizeof full);
    } else {
        for (int k = 0; k < gap; k++)
            full[k] = g[k];
        int tail = ng - gap;
        for (int k = 0; k < tail; k++)
            full[8 - tail + k] = g[gap + k];
    }
    for (int k = 0; k < 8; k++) {
        out[2 * k] = (uint8_t)(full[k] >> 8);
        out[2 * k + 1] = (uint8_t)full[k];
    }
    return 0;
}

int cedar_parse_ip(const char *s, size_t n, cip *out) {
    memset(out, 0, sizeof *out);
    size_t an = n;
    const char *slash = memchr(s, '/', n);
    int prefix = -1;
    if (slash) {
        an = (size_t)(slash - s);
        size_t i = an + 1;
        if (i >= n || i + 3 < n)
            return -1;
        prefix = 0;
        for (; i < n; i++) {
            if (s[i] < '0' || s[i] > '9')
                return -1;
            prefix = prefix * 10 + (s[i] - '0');
        }
        if (n - an - 1 > 1 && s[an + 1] == '0')
            return -1;
    }
    if (memchr(s, ':', an)) {
        out->v6 = 1;
        if (parse_v6(s, an, out->addr))
            return -1;
        if (prefix > 128)
            return -1;
        out->prefix = (uint8_t)(prefix < 0 ? 128 : prefix);
    } else {
        if (parse_v4(s, an, out->addr))
            return -1;
        if (prefix > 32)
            return -1;
        out->prefix = (uint8_t)(prefix < 0 ? 32 : prefix);
    }
    return 0;
}

/* first `bits` bits of a and b agree */
static int prefix_eq(const uint8_t *a, const uint8_t *b, unsigned bits) {
    unsigned k = 0;
    for (; k + 8 <= bits; k += 8)
        if (a[k / 8] != b[k / 8])
            return 0;
    if (k < bits) {
        uint8_t m = (uint8_t)(0xffu << (8 - (bits - k)));
        if ((a[k / 8] & m) != (b[k / 8] & m))
            return 0;
    }
    return 1;
}

/* ---- datetime and duration (Cedar's RFC 80): integers of milliseconds, no clock ---- */
static int digits(const char *s, size_t n, int64_t *v) {
    int64_t r = 0;
    for (size_t k = 0; k < n; k++) {
        if (s[k] < '0' || s[k] > '9')
            return -1;
        r = r * 10 + (s[k] - '0');
    }
    *v = r;
    return 0;
}

/* days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil) */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* "YYYY-MM-DD", then optionally "Thh:mm:ss" followed by "Z", ".SSSZ", "(+|-)hhmm" or
 * ".SSS(+|-)hhmm" */
int cedar_parse_datetime(const char *s, size_t n, int64_t *out) {
    int64_t y, mo, d, h = 0, mi = 0, se = 0, ms = 0, oh = 0, om = 0;
    int sign = 0;
    if (n < 10 || s[4] != '-' || s[7] != '-' || digits(s, 4, &y) || digits(s + 5, 2, &mo) ||
        digits(s + 8, 2, &d))
        return -1;
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap))
        return -1;
    if (n > 10) {
        if (n < 20 || s[10] != 'T' || s[13] != ':' || s[16] != ':' || digits(s + 11, 2, &h) ||
            digits(s + 14, 2, &mi) || digits(s + 17, 2, &se) || h > 23 || mi > 59 || se > 59)
            return -1;
        size_t i = 19;
        if (s[i] == '.') {
            if (n < i + 4 || digits(s + i + 1, 3, &ms))
                return -1;
            i += 4;
        }
        if (i == n - 1 && s[i] == 'Z') {
            /* UTC */
        } else if (i + 5 == n && (s[i] == '+' || s[i] == '-')) {
            sign = s[i] == '+' ? 1 : -1;
            if (digits(s + i + 1, 2, &oh) || digits(s + i + 3, 2, &om) || oh > 23 || om > 59)
                return -1;
        } else {
            return -1;
        }
    }
    int64_t days = days_from_civil(y, mo, d);
    *out = days * 86400000 + h * 3600000 + mi * 60000 + se * 1000 + ms -
           sign * (oh * 3600000 + om * 60000);
    return 0;
}

/* ["-"] then <n>d <n>h <n>m <n>s <n>ms, each at most once, in this order, at least one */
int cedar_parse_duration(const char *s, size_t n, int64_t *out) {
    static const struct {
        const char *u;
        uint64_t f;
    } units[] = {{"d", 86400000u}, {"h", 3600000u}, {"m", 60000u}, {"s", 1000u}, {"ms", 1u}};
    size_t i = 0;
    int neg = 0;
    if (i < n && s[i] == '-') {
        neg = 1;
        i++;
    }
    const uint64_t lim = (uint64_t)INT64_MAX + (neg ? 1u : 0u);
    uint64_t acc = 0;
    int next_unit = 0, any = 0;
    while (i < n) {
        size_t d0 = i;
        uint64_t v = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            uint64_t dg = (uint64_t)(s[i] - '0');
            if (v > (lim - dg) / 10u)
                return -1;
            v = v * 10u + dg;
            i++;
        }
        if (i == d0 || i >= n)
            return -1;
        int u = -1;
        if (s[i] == 'm' && i + 1 < n && s[i + 1] == 's')
            u = 4;
        else
            for (int k = 0; k < 4; k++)
                if (s[i] == units[k].u[0])
                    u = k;
        if (u < next_unit)
            return -1;
        i += u == 4 ? 2 : 1;
        next_unit = u + 1;
        if (v > lim / units[u].f)
            return -1;
        uint64_t term = v * units[u].f;
        if (acc > lim - term)
            return -1;
        acc += term;
        any = 1;
    }
    if (!any)
        return -1;
    *out = neg ? (acc == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)acc) : (int64_t)acc;
    return 0;
}

/* ---- evaluation ---- */
/* the request's entities, each looked up at most once per decision and only when needed */
typedef struct entcache {
    const centity *e[3];
    unsigned loaded;
} entcache;

typedef struct ectx {
    const abac_cedar_entities *es;
    const abac_cedar_request *rq;
    entcache *ent;
    pool *scratch;
} ectx;

static const centity *req_ent(const ectx *x, int k) {
    if (!(x->ent->loaded & (1u << k))) {
        x->ent->e[k] = cedar_entity_find(x->es, &x->rq->uid[k]);
        x->ent->loaded |= 1u << k;
    }
    return x->ent->e[k];
}

static const centity *find_ent(const ectx *x, const cuid *u) {
    for (int k = 0; k < 3; k++)
        if (u == &x->rq->uid[k])
            return req_ent(x, k);
    return cedar_entity_find(x->es, u);
}

/* a in b: a == b or b is an ancestor of a */
static int uid_in(const ectx *x, const cuid *a, const cuid *b) {
    if (cuid_eq(a, b))
        return 1;
    const centity *e = find_ent(x, a);
    if (!e)
        return 0;
    for (uint32_t k = 0; k < e->n_anc; k++)
        if (cuid_eq(e->anc[k], b))
            return 1;
    return 0;
}

static int val_eq(const cval *a, const cval *b);

static int set_has(const cval *set, const cval *v) {
    const cval *el = set->p;
    for (uint32_t k = 0; k < set->n; k++)
        if (val_eq(&el[k], v))
            return 1;
    return 0;
}

static int set_subset(const cval *a, const cval *b) {
    const cval *el = a->p;
    for (uint32_t k = 0; k < a->n; k++)
        if (!set_has(b, &el[k]))
            return 0;
    return 1;
}

static const cval *rec_get(const cval *r, cstr key) {
    const cfield *f = r->p;
    for (uint32_t k = 0; k < r->n; k++)
        if (cstr_eq(f[k].key, key))
            return &f[k].v;
    return NULL;
}

static int val_eq(const cval *a, const cval *b) {
    if (a->t != b->t)
        return 0;
    switch (a->t) {
        case V_BOOL:
        case V_LONG:
        case V_DEC:
        case V_DATETIME:
        case V_DURATION:
            return a->i == b->i;
        case V_STR:
            return cstr_eq((cstr){a->p, a->n}, (cstr){b->p, b->n});
        case V_ENT:
            return cuid_eq(a->p, b->p);
        case V_SET:
            return set_subset(a, b) && set_subset(b, a);
        case V_REC: {
            if (a->n != b->n)
                return 0;
            const cfield *f = a->p;
            for (uint32_t k = 0; k < a->n; k++) {
                const cval *o = rec_get(b, f[k].key);
                if (!o || !val_eq(&f[k].v, o))
                    return 0;
            }
            return 1;
        }
        case V_IP: {
            const cip *x = a->p, *y = b->p;
            return x->v6 == y->v6 && x->prefix == y->prefix &&
                   memcmp(x->addr, y->addr, x->v6 ? 16 : 4) == 0;
        }
        default:
            return 0;
    }
}

static int like_match(const char *s, size_t n, const int16_t *p, size_t np) {
    size_t i = 0, j = 0, star_j = (size_t)-1, star_i = 0;
    while (i < n) {
        if (j < np && p[j] >= 0 && (unsigned char)s[i] == (unsigned)p[j]) {
            i++;
            j++;
        } else if (j < np && p[j] < 0) {
            star_j = j++;
            star_i = i;
        } else if (star_j != (size_t)-1) {
            j = star_j + 1;
            i = ++star_i;
        } else {
            return 0;
        }
    }
    while (j < np && p[j] < 0)
        j++;
    return j == np;
}

static int ev(const ectx *x, const cnode *n, cval *o);

static int ev_bool(const ectx *x, const cnode *n, int *b) {
    cval v;
    int rc = ev(x, n, &v);
    if (rc)
        return rc;
    if (v.t != V_BOOL)
        return ABAC_E_RUNTIME_TYPE;
    *b = (int)v.i;
    return 0;
}

static int ev_long(const ectx *x, const cnode *n, int64_t *i) {
    cval v;
    int rc = ev(x, n, &v);
    if (rc)
        return rc;
    if (v.t != V_LONG)
        return ABAC_E_RUNTIME_TYPE;
    *i = v.i;
    return 0;
}

static void set_bool(cval *o, int b) {
    o->t = V_BOOL;
    o->i = b ? 1 : 0;
    o->n = 0;
    o->p = NULL;
}

static int ev_in(const ectx *x, const cval *a, const cval *b, int *res) {
    if (a->t != V_ENT)
        return ABAC_E_RUNTIME_TYPE;
    if (b->t == V_ENT) {
        *res = uid_in(x, a->p, b->p);
        return 0;
    }
    if (b->t != V_SET)
        return ABAC_E_RUNTIME_TYPE;
    const cval *el = b->p;
    for (uint32_t k = 0; k < b->n; k++)
        if (el[k].t != V_ENT)
            return ABAC_E_RUNTIME_TYPE;
    for (uint32_t k = 0; k < b->n; k++) {
        if (uid_in(x, a->p, el[k].p)) {
            *res = 1;
            return 0;
        }
    }
    *res = 0;
    return 0;
}

static int ev_method(const ectx *x, const cnode *n, cval *o) {
    cval self, arg;
    int rc = ev(x, n->a, &self);
    if (rc)
        return rc;
    if (n->n && (rc = ev(x, n->args[0], &arg)))
        return rc;
    switch (n->var) {
        case M_CONTAINS:
            if (self.t != V_SET)
                return ABAC_E_RUNTIME_TYPE;
            set_bool(o, set_has(&self, &arg));
            return 0;
        case M_CONTAINS_ALL:
        case M_CONTAINS_ANY: {
            if (self.t != V_SET || arg.t != V_SET)
                return ABAC_E_RUNTIME_TYPE;
            if (n->var == M_CONTAINS_ALL) {
                set_bool(o, set_subset(&arg, &self));
            } else {
                int any = 0;
                const cval *el = arg.p;
                for (uint32_t k = 0; k < arg.n && !any; k++)
                    any = set_has(&self, &el[k]);
                set_bool(o, any);
            }
            return 0;
        }
        case M_IS_EMPTY:
            if (self.t != V_SET)
                return ABAC_E_RUNTIME_TYPE;
            set_bool(o, self.n == 0);
            return 0;
        case M_LESS:
        case M_LESS_EQ:
        case M_GREATER:
        case M_GREATER_EQ:
            if (self.t != V_DEC || arg.t != V_DEC)
                return ABAC_E_RUNTIME_TYPE;
            set_bool(o, n->var == M_LESS      ? self.i < arg.i
                        : n->var == M_LESS_EQ ? self.i <= arg.i
                        : n->var == M_GREATER ? self.i > arg.i
                                              : self.i >= arg.i);
            return 0;
        case M_IS_IPV4:
        case M_IS_IPV6:
        case M_IS_LOOPBACK:
        case M_IS_MULTICAST: {
            if (self.t != V_IP)
                return ABAC_E_RUNTIME_TYPE;
            const cip *ip = self.p;
            static const uint8_t v4lo[4] = {127, 0, 0, 0}, v4mc[4] = {224, 0, 0, 0};
            static const uint8_t v6lo[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
            static const uint8_t v6mc[16] = {0xff};
            int r = 0;
            if (n->var == M_IS_IPV4)
                r = !ip->v6;
            else if (n->var == M_IS_IPV6)
                r = ip->v6;
            else if (n->var == M_IS_LOOPBACK) /* the whole range lies in the loopback range */
                r = ip->v6 ? ip->prefix >= 128 && prefix_eq(ip->addr, v6lo, 128)
                           : ip->prefix >= 8 && prefix_eq(ip->addr, v4lo, 8);
            else
                r = ip->v6 ? ip->prefix >= 8 && prefix_eq(ip->addr, v6mc, 8)
                           : ip->prefix >= 4 && prefix_eq(ip->addr, v4mc, 4);
            set_bool(o, r);
            return 0;
        }
        case M_OFFSET:
        case M_DURATION_SINCE: {
            int want = n->var == M_OFFSET ? V_DURATION : V_DATETIME;
            if (self.t != V_DATETIME || arg.t != want)
                return ABAC_E_RUNTIME_TYPE;
            int64_t r;
            if (n->var == M_OFFSET ? __builtin_add_overflow(self.i, arg.i, &r)
                                   : __builtin_sub_overflow(self.i, arg.i, &r))
                return ABAC_E_OVERFLOW;
            o->t = n->var == M_OFFSET ? V_DATETIME : V_DURATION;
            o->i = r;
            return 0;
        }
        case M_TO_DATE:
        case M_TO_TIME: {
            if (self.t != V_DATETIME)
                return ABAC_E_RUNTIME_TYPE;
            int64_t day = 86400000, rem = self.i % day;
            if (rem < 0)
                rem += day;
            o->t = n->var == M_TO_DATE ? V_DATETIME : V_DURATION;
            o->i = n->var == M_TO_DATE ? self.i - rem : rem;
            if (n->var == M_TO_DATE && self.i < 0 && self.i - INT64_MIN < rem)
                return ABAC_E_OVERFLOW;
            return 0;
        }
        case M_TO_MS:
        case M_TO_S:
        case M_TO_MIN:
        case M_TO_H:
        case M_TO_D: {
            static const int64_t div[] = {1, 1000, 60000, 3600000, 86400000};
            if (self.t != V_DURATION)
                return ABAC_E_RUNTIME_TYPE;
            o->t = V_LONG;
            o->i = self.i / div[n->var - M_TO_MS]; /* toward zero, as Cedar */
            return 0;
        }
        case M_IS_IN_RANGE: {
            if (self.t != V_IP || arg.t != V_IP)
                return ABAC_E_RUNTIME_TYPE;
            const cip *a = self.p, *b = arg.p;
            set_bool(o, a->v6 == b->v6 && a->prefix >= b->prefix &&
                            prefix_eq(a->addr, b->addr, b->prefix));
            return 0;
        }
        default:
            return ABAC_E_RUNTIME_TYPE;
    }
}

static int ev(const ectx *x, const cnode *n, cval *o) {
    int rc, b;
    cval a, c;
    int64_t i, j, r;
    switch (n->op) {
        case X_LIT:
            *o = n->lit;
            return 0;
        case X_VAR:
            if (n->var == 3) {
                *o = x->rq->context;
            } else {
                o->t = V_ENT;
                o->p = &x->rq->uid[n->var];
                o->n = 0;
                o->i = 0;
            }
            return 0;
        case X_AND:
        case X_OR:
            if ((rc = ev_bool(x, n->a, &b)))
                return rc;
            if (n->op == X_AND ? !b : b) {
                set_bool(o, b);
                return 0;
            }
            if ((rc = ev_bool(x, n->b, &b)))
                return rc;
            set_bool(o, b);
            return 0;
        case X_NOT:
            if ((rc = ev_bool(x, n->a, &b)))
                return rc;
            set_bool(o, !b);
            return 0;
        case X_NEG:
            if ((rc = ev_long(x, n->a, &i)))
                return rc;
            if (i == INT64_MIN)
                return ABAC_E_OVERFLOW;
            o->t = V_LONG;
            o->i = -i;
            return 0;
        case X_IF:
            if ((rc = ev_bool(x, n->a, &b)))
                return rc;
            return ev(x, b ? n->b : n->c, o);
        case X_EQ:
        case X_NE:
            if ((rc = ev(x, n->a, &a)) || (rc = ev(x, n->b, &c)))
                return rc;
            b = val_eq(&a, &c);
            set_bool(o, n->op == X_EQ ? b : !b);
            return 0;
        case X_LT:
        case X_LE:
        case X_GT:
        case X_GE:
            /* longs, datetimes or durations, both of one type */
            if ((rc = ev(x, n->a, &a)))
                return rc;
            if (a.t != V_LONG && a.t != V_DATETIME && a.t != V_DURATION)
                return ABAC_E_RUNTIME_TYPE;
            if ((rc = ev(x, n->b, &c)))
                return rc;
            if (c.t != a.t)
                return ABAC_E_RUNTIME_TYPE;
            i = a.i;
            j = c.i;
            set_bool(o, n->op == X_LT   ? i < j
                        : n->op == X_LE ? i <= j
                        : n->op == X_GT ? i > j
                                        : i >= j);
            return 0;
        case X_ADD:
        case X_SUB:
        case X_MUL:
            if ((rc = ev_long(x, n->a, &i)) || (rc = ev_long(x, n->b, &j)))
                return rc;
            if (n->op == X_ADD   ? __builtin_add_overflow(i, j, &r)
                : n->op == X_SUB ? __builtin_sub_overflow(i, j, &r)
                                 : __builtin_mul_overflow(i, j, &r))
                return ABAC_E_OVERFLOW;
            o->t = V_LONG;
            o->i = r;
            return 0;
        case X_IN:
            if ((rc = ev(x, n->a, &a)) || (rc = ev(x, n->b, &c)))
                return rc;
            if ((rc = ev_in(x, &a, &c, &b)))
                return rc;
            set_bool(o, b);
            return 0;
        case X_HAS:
            if ((rc = ev(x, n->a, &a)))
                return rc;
            if (a.t == V_ENT) {
                const centity *e = find_ent(x, a.p);
                set_bool(o, e && rec_get(&e->attrs, n->name) != NULL);
                return 0;
            }
            if (a.t != V_REC)
                return ABAC_E_RUNTIME_TYPE;
            set_bool(o, rec_get(&a, n->name) != NULL);
            return 0;
        case X_ATTR: {
            const cval *v;
            if (n->a->op == X_VAR) { /* principal.a, context.a: no detour through a value */
                if (n->a->var == 3) {
                    v = rec_get(&x->rq->context, n->name);
                } else {
                    const centity *e = req_ent(x, n->a->var);
                    if (!e)
                        return ABAC_E_NO_ENTITY;
                    v = rec_get(&e->attrs, n->name);
                }
                if (!v)
                    return ABAC_E_MISSING_ATTR;
                *o = *v;
                return 0;
            }
            if ((rc = ev(x, n->a, &a)))
                return rc;
            if (a.t == V_ENT) {
                const centity *e = find_ent(x, a.p);
                if (!e)
                    return ABAC_E_NO_ENTITY;
                v = rec_get(&e->attrs, n->name);
            } else if (a.t == V_REC) {
                v = rec_get(&a, n->name);
            } else {
                return ABAC_E_RUNTIME_TYPE;
            }
            if (!v)
                return ABAC_E_MISSING_ATTR;
            *o = *v;
            return 0;
        }
        case X_LIKE:
            if ((rc = ev(x, n->a, &a)))
                return rc;
            if (a.t != V_STR)
                return ABAC_E_RUNTIME_TYPE;
            set_bool(o, like_match(a.p, a.n, n->pat, n->n));
            return 0;
        case X_IS:
            if ((rc = ev(x, n->a, &a)))
                return rc;
            if (a.t != V_ENT)
                return ABAC_E_RUNTIME_TYPE;
            if (!cstr_eq(((const cuid *)a.p)->type, n->name)) {
                set_bool(o, 0);
                return 0;
            }
            if (!n->has_b) {
                set_bool(o, 1);
                return 0;
            }
            if ((rc = ev(x, n->b, &c)) || (rc = ev_in(x, &a, &c, &b)))
                return rc;
            set_bool(o, b);
            return 0;
        case X_SET: {
            cval *el = pool_alloc(x->scratch, (n->n ? n->n : 1) * sizeof *el);
            if (!el)
                return ABAC_E_NOMEM;
            for (uint32_t k = 0; k < n->n; k++)
                if ((rc = ev(x, n->args[k], &el[k])))
                    return rc;
            o->t = V_SET;
            o->p = el;
            o->n = n->n;
            return 0;
        }
        case X_REC: {
            cfield *f = pool_alloc(x->scratch, (n->n ? n->n : 1) * sizeof *f);
            if (!f)
                return ABAC_E_NOMEM;
            for (uint32_t k = 0; k < n->n; k++) {
                f[k].key = n->keys[k];
                if ((rc = ev(x, n->args[k], &f[k].v)))
                    return rc;
            }
            o->t = V_REC;
            o->p = f;
            o->n = n->n;
            return 0;
        }
        case X_METHOD:
            return ev_method(x, n, o);
        case X_CALL: {
            if ((rc = ev(x, n->args[0], &a)))
                return rc;
            if (a.t != V_STR)
                return ABAC_E_RUNTIME_TYPE;
            if (n->var == F_DECIMAL) {
                o->t = V_DEC;
                if (cedar_parse_decimal(a.p, a.n, &o->i))
                    return ABAC_E_EXTENSION;
                return 0;
            }
            if (n->var == F_DATETIME || n->var == F_DURATION) {
                o->t = n->var == F_DATETIME ? V_DATETIME : V_DURATION;
                if ((n->var == F_DATETIME ? cedar_parse_datetime : cedar_parse_duration)(a.p, a.n,
                                                                                         &o->i))
                    return ABAC_E_EXTENSION;
                return 0;
            }
            cip *ip = pool_alloc(x->scratch, sizeof *ip);
            if (!ip)
                return ABAC_E_NOMEM;
            if (cedar_parse_ip(a.p, a.n, ip))
                return ABAC_E_EXTENSION;
            o->t = V_IP;
            o->p = ip;
            return 0;
        }
        case X_GETTAG:
        case X_HASTAG: {
            if ((rc = ev(x, n->a, &a)) || (rc = ev(x, n->b, &c)))
                return rc;
            if (a.t != V_ENT || c.t != V_STR)
                return ABAC_E_RUNTIME_TYPE;
            const centity *e = find_ent(x, a.p);
            const cval *v = e ? rec_get(&e->tags, (cstr){c.p, c.n}) : NULL;
            if (n->op == X_HASTAG) {
                set_bool(o, v != NULL);
                return 0;
            }
            if (!e)
                return ABAC_E_NO_ENTITY;
            if (!v)
                return ABAC_E_MISSING_ATTR;
            *o = *v;
            return 0;
        }
        default:
            return ABAC_E_RUNTIME_TYPE;
    }
}

static int scope_ok(const ectx *x, const cscope *s, const cuid *u) {
    switch (s->op) {
        case S_ANY:
            return 1;
        case S_EQ:
            return cuid_eq(u, s->ent);
        case S_IN:
            return uid_in(x, u, s->ent);
        case S_IS:
            return cstr_eq(u->type, s->type);
        case S_IS_IN:
            return cstr_eq(u->type, s->type) && uid_in(x, u, s->ent);
        case S_IN_LIST:
            for (uint32_t k = 0; k < s->n_list; k++)
                if (uid_in(x, u, &s->list[k]))
                    return 1;
            return 0;
        default:
            return 0;
    }
}

int abac_cedar_response_new(abac_cedar_response **out, const abac_cedar_policies *ps,
                            size_t scratch_bytes) {
    if (!out || !ps)
        return ABAC_E_INVALID;
    *out = NULL;
    abac_cedar_response *r = calloc(1, sizeof *r);
    if (!r)
        return ABAC_E_NOMEM;
    r->ps = ps;
    r->cap = ps->n;
    r->reasons = malloc((ps->n ? 2u * ps->n : 1) * sizeof *r->reasons); /* forbids, permits */
    r->errs = malloc((ps->n ? ps->n : 1) * sizeof *r->errs);
    if (!r->reasons || !r->errs ||
        !pool_alloc(&r->scratch, scratch_bytes ? scratch_bytes : 65536)) {
        abac_cedar_response_free(r);
        return ABAC_E_NOMEM;
    }
    pool_reset(&r->scratch);
    *out = r;
    return 0;
}

void abac_cedar_response_free(abac_cedar_response *resp) {
    if (!resp)
        return;
    free(resp->reasons);
    free(resp->errs);
    pool_free(&resp->scratch);
    free(resp);
}

int abac_cedar_is_authorized(const abac_cedar_policies *ps, const abac_cedar_entities *es,
                             const abac_cedar_request *rq, abac_cedar_response *resp) {
    if (!ps || !rq || !resp || resp->ps != ps || resp->cap < ps->n)
        return ABAC_E_INVALID;
    pool_reset(&resp->scratch);
    entcache cache = {{NULL, NULL, NULL}, 0};
    ectx x = {es, rq, &cache, &resp->scratch};
    uint32_t n_permit = 0, n_forbid = 0;
    resp->n_errs = 0;
    /* reasons: satisfied forbids in the first half, satisfied permits in the second */
    uint32_t *forbids = resp->reasons, *permits = resp->reasons + ps->n;
    /* candidates, in source order: the lists of the request's action (whose action scope
     * holds), of each of its ancestors (`action in G` may hold; checked) and of policies with
     * any action; with more ancestors than lists fit, every policy is looked at */
    struct {
        const uint32_t *p;
        uint32_t n, i, own;
    } L[18];
    uint32_t nl = 0, all = 0;
    const uint32_t pk = cedar_type_key(rq->uid[0].type), rk = cedar_type_key(rq->uid[2].type);
    if (ps->n_groups) {
        const centity *ae = req_ent(&x, 1);
        uint32_t na = ae ? ae->n_anc : 0;
        if (na > 16)
            all = 1;
        for (uint32_t a = 0; a <= na && !all; a++) {
            const cuid *u = a == 0 ? &rq->uid[1] : ae->anc[a - 1];
            uint32_t m = ps->ght_cap - 1, h = u->h & m;
            for (uint32_t v; (v = ps->group_ht[h]) != 0; h = (h + 1) & m) {
                if (cuid_eq(ps->groups[v - 1].uid, u)) {
                    L[nl].p = ps->act_lists + ps->groups[v - 1].off;
                    L[nl].n = ps->groups[v - 1].n;
                    L[nl].i = 0;
                    L[nl].own = a == 0;
                    nl++;
                    break;
                }
            }
        }
    }
    L[nl].p = ps->other;
    L[nl].n = ps->n_other;
    L[nl].i = 0;
    L[nl].own = 0; /* checked: `other` has the unconstrained action scopes (a check that returns
                    at once), and a set built by hand (libabac/analyze's one-policy views) may
                    list any policy there */
    nl++;
    uint32_t next_all = 0;
    for (;;) {
        uint32_t k = UINT32_MAX;
        int in_group = 0;
        if (all) {
            if (next_all >= ps->n)
                break;
            k = next_all++;
            if (ps->pol[k].is_template)
                continue;
        } else {
            for (uint32_t j = 0; j < nl; j++)
                if (L[j].i < L[j].n && L[j].p[L[j].i] < k)
                    k = L[j].p[L[j].i];
            if (k == UINT32_MAX)
                break;
            for (uint32_t j = 0; j < nl; j++)
                if (L[j].i < L[j].n && L[j].p[L[j].i] == k) {
                    in_group |= (int)L[j].own;
                    L[j].i++;
                }
        }
        if (ps->pkey && ((ps->pkey[k] && ps->pkey[k] != pk) || (ps->rkey[k] && ps->rkey[k] != rk)))
            continue; /* the scope requires another principal or resource type */
        const cpolicy *p = &ps->pol[k];
        if ((p->sc[0].op != S_ANY && !scope_ok(&x, &p->sc[0], &rq->uid[0])) ||
            (!in_group && p->sc[1].op != S_ANY && !scope_ok(&x, &p->sc[1], &rq->uid[1])) ||
            (p->sc[2].op != S_ANY && !scope_ok(&x, &p->sc[2], &rq->uid[2])))
            continue;
        int sat = 1;
        if (p->cond) {
            int rc = ev_bool(&x, p->cond, &sat);
            if (rc == ABAC_E_NOMEM)
                return rc;
            if (rc) {
                resp->errs[resp->n_errs].policy = k;
                resp->errs[resp->n_errs].code = rc;
                resp->n_errs++;
                continue;
            }
        }
        if (!sat)
            continue;
        if (p->effect == ABAC_DENY)
            forbids[n_forbid++] = k;
        else
            permits[n_permit++] = k;
    }
    if (n_forbid) {
        resp->decision = ABAC_DENY;
        resp->n_reasons = n_forbid;
    } else if (n_permit) {
        memmove(resp->reasons, permits, n_permit * sizeof *permits);
        resp->decision = ABAC_PERMIT;
        resp->n_reasons = n_permit;
    } else {
        resp->decision = ABAC_DENY;
        resp->n_reasons = 0;
    }
    return resp->decision;
}

size_t abac_cedar_response_reason_count(const abac_cedar_response *resp) {
    return resp ? resp->n_reasons : 0;
}

size_t abac_cedar_response_reason(const abac_cedar_response *resp, size_t i) {
    return resp && i < resp->n_reasons ? resp->reasons[i] : SIZE_MAX;
}

size_t abac_cedar_response_error_count(const abac_cedar_response *resp) {
    return resp ? resp->n_errs : 0;
}

int abac_cedar_response_error(const abac_cedar_response *resp, size_t i, size_t *policy,
                              int *code) {
    if (!resp || !policy || !code)
        return ABAC_E_INVALID;
    if (i >= resp->n_errs)
        return ABAC_E_NOT_FOUND;
    *policy = resp->errs[i].policy;
    *code = resp->errs[i].code;
    return 0;
}
