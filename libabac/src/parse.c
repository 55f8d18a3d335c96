/* Lexer and recursive-descent parsers of the policy language and the schema
 * (grammar: docs/abac-language.md). Errors name line, column and what was expected. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

enum { K_EOF, K_IDENT, K_STRING, K_INT, K_PUNCT, K_BAD };

typedef struct lexer {
    const char *s;
    size_t len, pos;
    uint32_t line, col;
    /* current token */
    int kind;
    size_t tpos, tlen;
    uint32_t tline, tcol;
    int64_t ival;
    char sbuf[MAX_STRLEN];
    size_t slen;
    const char *bad; /* lexical error text */
    char badbuf[48];
    /* error out */
    uint32_t *eline, *ecol;
    char *emsg;
    size_t ecap;
    int depth;
} lexer;

static void adv(lexer *L) {
    if (L->s[L->pos] == '\n') {
        L->line++;
        L->col = 1;
    } else {
        L->col++;
    }
    L->pos++;
}

static int is_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static int is_digit(char c) {
    return c >= '0' && c <= '9';
}

static void next(lexer *L) {
    for (;;) {
        while (L->pos < L->len && (L->s[L->pos] == ' ' || L->s[L->pos] == '\t' ||
                                   L->s[L->pos] == '\n' || L->s[L->pos] == '\r'))
            adv(L);
        if (L->pos + 1 < L->len && L->s[L->pos] == '/' && L->s[L->pos + 1] == '/') {
            while (L->pos < L->len && L->s[L->pos] != '\n')
                adv(L);
            continue;
        }
        break;
    }
    L->tpos = L->pos;
    L->tline = L->line;
    L->tcol = L->col;
    L->bad = NULL;
    if (L->pos >= L->len) {
        L->kind = K_EOF;
        L->tlen = 0;
        return;
    }
    char c = L->s[L->pos];
    if (is_alpha(c)) {
        while (L->pos < L->len && (is_alpha(L->s[L->pos]) || is_digit(L->s[L->pos])))
            adv(L);
        L->kind = K_IDENT;
        if (L->pos - L->tpos > MAX_STRLEN) {
            L->kind = K_BAD;
            L->bad = "an identifier longer than 4096 bytes";
        }
    } else if (is_digit(c) || (c == '-' && L->pos + 1 < L->len && is_digit(L->s[L->pos + 1]))) {
        int neg = c == '-';
        if (neg)
            adv(L);
        uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX;
        L->kind = K_INT;
        while (L->pos < L->len && is_digit(L->s[L->pos])) {
            uint64_t d = (uint64_t)(L->s[L->pos] - '0');
            if (v > (lim - d) / 10u)
                L->bad = "integer out of the int64 range";
            else
                v = v * 10u + d;
            adv(L);
        }
        if (L->pos < L->len && is_alpha(L->s[L->pos]))
            L->bad = "a letter right after a number";
        if (L->bad)
            L->kind = K_BAD;
        L->ival = neg ? (v == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)v) : (int64_t)v;
    } else if (c == '"') {
        adv(L);
        L->slen = 0;
        L->kind = K_STRING;
        for (;;) {
            if (L->pos >= L->len) {
                L->bad = "an unterminated string";
                L->kind = K_BAD;
                break;
            }
            char d = L->s[L->pos];
            if (d == '"') {
                adv(L);
                break;
            }
            if (d == '\\') {
                adv(L);
                if (L->pos >= L->len)
                    continue;
                char e = L->s[L->pos];
                d = e == 'n' ? '\n' : e == 't' ? '\t' : e == '"' ? '"' : e == '\\' ? '\\' : 0;
                if (!d && !L->bad) {
                    L->bad = "an unknown escape (only \\\" \\\\ \\n \\t)";
                }
            }
            if (L->slen >= MAX_STRLEN) {
                if (!L->bad)
                    L->bad = "a string longer than 4096 bytes";
            } else {
                L->sbuf[L->slen++] = d;
            }
            adv(L);
        }
        if (L->bad)
            L->kind = K_BAD;
    } else {
        static const char *two[] = {"==", "!=", "<=", ">=", "&&", "||"};
        L->kind = K_PUNCT;
        for (size_t k = 0; k < sizeof two / sizeof two[0]; k++) {
            if (L->pos + 1 < L->len && L->s[L->pos] == two[k][0] && L->s[L->pos + 1] == two[k][1]) {
                adv(L);
                adv(L);
                L->tlen = 2;
                return;
            }
        }
        if (strchr("(){}[],;.:<>!", c) && c != 0) {
            adv(L);
        } else {
            /* name the character: printable ASCII as itself, anything else as a byte */
            unsigned char u = (unsigned char)c;
            if (u >= 0x20 && u < 0x7f)
                snprintf(L->badbuf, sizeof L->badbuf, "an unexpected character '%c'", c);
            else
                snprintf(L->badbuf, sizeof L->badbuf, "an unexpected byte 0x%02X", u);
            L->kind = K_BAD;
            L->bad = L->badbuf;
            adv(L);
        }
    }
    L->tlen = L->pos - L->tpos;
}

static int tok_is(const lexer *L, const char *t) {
    size_t n = strlen(t);
    return (L->kind == K_IDENT || L->kind == K_PUNCT) && L->tlen == n &&
           memcmp(L->s + L->tpos, t, n) == 0;
}

__attribute__((format(printf, 5, 6))) static int fail_at(lexer *L, uint32_t line, uint32_t col,
                                                         int code, const char *fmt, ...) {
    if (L->eline)
        *L->eline = line;
    if (L->ecol)
        *L->ecol = col;
    if (L->emsg && L->ecap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(L->emsg, L->ecap, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* "expected WHAT, found TOKEN" at the current token */
static int expected(lexer *L, const char *what) {
    char found[64];
    if (L->kind == K_EOF)
        snprintf(found, sizeof found, "end of input");
    else if (L->kind == K_BAD)
        snprintf(found, sizeof found, "%s", L->bad);
    else
        snprintf(found, sizeof found, "'%.*s'", (int)(L->tlen > 40 ? 40 : L->tlen), L->s + L->tpos);
    char msg[256];
    snprintf(msg, sizeof msg, "expected %s, found %s", what, found);
    return fail_at(L, L->tline, L->tcol, ABAC_E_SYNTAX, "%s", msg);
}

static int expect(lexer *L, const char *t, const char *what) {
    if (!tok_is(L, t))
        return expected(L, what);
    next(L);
    return 0;
}

static int scope_of(const lexer *L) {
    if (tok_is(L, "subject"))
        return ABAC_SUBJECT;
    if (tok_is(L, "resource"))
        return ABAC_RESOURCE;
    if (tok_is(L, "context"))
        return ABAC_CONTEXT;
    return -1;
}

static void lex_init(lexer *L, const char *src, size_t len, uint32_t *line, uint32_t *col,
                     char *msg, size_t cap) {
    memset(L, 0, sizeof *L);
    L->s = src;
    L->len = len;
    L->line = 1;
    L->col = 1;
    L->eline = line;
    L->ecol = col;
    L->emsg = msg;
    L->ecap = cap;
    next(L);
}

/* ---- schema ------------------------------------------------------------------------------ */

int ps_parse_schema(abac_policyset *ps, const char *src, size_t len, uint32_t *line, uint32_t *col,
                    char *msg, size_t cap) {
    lexer local;
    lexer *lp = &local;
    lex_init(lp, src, len, line, col, msg, cap);
    ps->has_schema = 1;
    while (lp->kind != K_EOF) {
        int sc = scope_of(lp);
        if (sc < 0)
            return expected(lp, "'subject', 'resource' or 'context'");
        next(lp);
        int rc = expect(lp, "{", "'{'");
        if (rc)
            return rc;
        while (!tok_is(lp, "}")) {
            if (lp->kind != K_IDENT)
                return expected(lp, "an attribute name or '}'");
            uint32_t aline = lp->tline, acol = lp->tcol, name;
            if (ps_intern(ps, lp->s + lp->tpos, lp->tlen, &name))
                return ABAC_E_NOMEM;
            next(lp);
            if ((rc = expect(lp, ":", "':'")))
                return rc;
            int t = 0;
            if (tok_is(lp, "bool"))
                t = T_BOOL;
            else if (tok_is(lp, "int"))
                t = T_INT;
            else if (tok_is(lp, "string"))
                t = T_STR;
            else if (tok_is(lp, "timestamp"))
                t = T_TIME;
            else if (tok_is(lp, "set")) {
                next(lp);
                if ((rc = expect(lp, "<", "'<'")))
                    return rc;
                if (tok_is(lp, "string"))
                    t = T_SSET;
                else if (tok_is(lp, "int"))
                    t = T_ISET;
                else
                    return expected(lp, "'string' or 'int'");
                next(lp);
                if (!tok_is(lp, ">"))
                    return expected(lp, "'>'");
            } else {
                return expected(lp, "a type (bool, int, string, timestamp, set<string>, set<int>)");
            }
            next(lp);
            for (uint32_t k = 0; k < ps->n_schema; k++)
                if (ps->schema[k].scope == sc && ps->schema[k].name == name)
                    return fail_at(lp, aline, acol, ABAC_E_SCHEMA, "attribute '%s' declared twice",
                                   ps_str(ps, name));
            if (ps->n_schema >= MAX_ATTRS)
                return fail_at(lp, aline, acol, ABAC_E_LIMIT, "too many attributes");
            if (ps_push_schema(ps, (uint8_t)sc, (uint8_t)t, name))
                return ABAC_E_NOMEM;
            if (tok_is(lp, ","))
                next(lp);
            else if (!tok_is(lp, "}"))
                return expected(lp, "',' or '}'");
        }
        next(lp);
    }
    return 0;
}

/* ---- policies ---------------------------------------------------------------------------- */

static int days_from_civil(int64_t y, int64_t m, int64_t d) {
    /* proleptic Gregorian day count since 1970-01-01 (H. Hinnant's civil-date algorithm) */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (int)(era * 146097 + doe - 719468);
}

/* "YYYY-MM-DDTHH:MM:SSZ" -> seconds; -1 on a malformed text */
static int parse_time(const char *s, size_t n, int64_t *out) {
    static const char pat[] = "dddd-dd-ddTdd:dd:ddZ";
    if (n != 20)
        return -1;
    for (size_t k = 0; k < 20; k++) {
        if (pat[k] == 'd' ? !is_digit(s[k]) : s[k] != pat[k])
            return -1;
    }
    int64_t v[6];
    static const int off[6] = {0, 5, 8, 11, 14, 17}, wid[6] = {4, 2, 2, 2, 2, 2};
    for (int k = 0; k < 6; k++) {
        v[k] = 0;
        for (int j = 0; j < wid[k]; j++)
            v[k] = v[k] * 10 + (s[off[k] + j] - '0');
    }
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > mdays[v[1] - 1] || v[3] > 23 || v[4] > 59 ||
        v[5] > 59)
        return -1;
    int leap = (v[0] % 4 == 0 && v[0] % 100 != 0) || v[0] % 400 == 0;
    if (v[1] == 2 && v[2] == 29 && !leap)
        return -1;
    *out = (int64_t)days_from_civil(v[0], v[1], v[2]) * 86400 + v[3] * 3600 + v[4] * 60 + v[5];
    return 0;
}

static int parse_expr(abac_policyset *ps, lexer *L, uint32_t *out);

static int mk(abac_policyset *ps, lexer *L, uint8_t op, uint32_t line, uint32_t col, uint32_t a,
              uint32_t b, int64_t i, uint32_t *out) {
    node n;
    memset(&n, 0, sizeof n);
    n.op = op;
    n.a = a;
    n.b = b;
    n.i = i;
    n.line = line;
    n.col = col;
    n.slot = NONE32;
    if (ps->n_nodes >= MAX_NODES)
        return fail_at(L, line, col, ABAC_E_LIMIT, "too many expression nodes");
    return ps_push_node(ps, &n, out) ? ABAC_E_NOMEM : 0;
}

static int cmp_str_ids(const abac_policyset *ps, uint32_t x, uint32_t y) {
    uint32_t lx = ps_strlen(ps, x), ly = ps_strlen(ps, y);
    int c = memcmp(ps_str(ps, x), ps_str(ps, y), lx < ly ? lx : ly);
    return c ? c : (lx < ly ? -1 : lx > ly);
}

/* sort (insertion; literal sets are small) and drop duplicates; returns new count */
static uint32_t canon_set(abac_policyset *ps, uint32_t off, uint32_t n, int strings) {
    int64_t *v = ps->setpool + off;
    for (uint32_t k = 1; k < n; k++) {
        int64_t x = v[k];
        uint32_t j = k;
        while (j > 0 &&
               (strings ? cmp_str_ids(ps, (uint32_t)v[j - 1], (uint32_t)x) > 0 : v[j - 1] > x)) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
    uint32_t m = 0;
    for (uint32_t k = 0; k < n; k++)
        if (m == 0 || v[m - 1] != v[k])
            v[m++] = v[k];
    return m;
}

static int parse_set(abac_policyset *ps, lexer *L, uint32_t *out) {
    uint32_t line = L->tline, col = L->tcol;
    next(L); /* [ */
    uint32_t off = ps->n_setpool, n = 0;
    int elem = 0;
    while (!tok_is(L, "]")) {
        int t;
        int64_t v;
        if (L->kind == K_STRING) {
            uint32_t id;
            if (ps_intern(ps, L->sbuf, L->slen, &id))
                return ABAC_E_NOMEM;
            t = T_STR;
            v = id;
        } else if (L->kind == K_INT) {
            t = T_INT;
            v = L->ival;
        } else {
            return expected(L, n ? "a string or integer literal"
                                 : "a string or integer literal "
                                   "(set literals are not empty)");
        }
        if (elem && t != elem)
            return fail_at(L, L->tline, L->tcol, ABAC_E_TYPE,
                           "set elements must all be strings or all integers");
        elem = t;
        if (n >= MAX_SET_ELEMS)
            return fail_at(L, L->tline, L->tcol, ABAC_E_LIMIT, "set literal too large");
        if (ps_push_set(ps, v))
            return ABAC_E_NOMEM;
        n++;
        next(L);
        if (tok_is(L, ","))
            next(L);
        else if (!tok_is(L, "]"))
            return expected(L, "',' or ']'");
    }
    if (n == 0)
        return expected(L, "a string or integer literal (set literals are not empty)");
    next(L);
    n = canon_set(ps, off, n, elem == T_STR);
    ps->n_setpool = off + n;
    int rc = mk(ps, L, N_SET, line, col, off, n, 0, out);
    if (!rc)
        ps->nodes[*out].type = elem == T_STR ? T_SSET : T_ISET;
    return rc;
}

static int parse_primary(abac_policyset *ps, lexer *L, uint32_t *out) {
    uint32_t line = L->tline, col = L->tcol;
    int sc;
    if (L->kind == K_STRING) {
        uint32_t id;
        if (ps_intern(ps, L->sbuf, L->slen, &id))
            return ABAC_E_NOMEM;
        next(L);
        return mk(ps, L, N_STR, line, col, 0, 0, id, out);
    }
    if (L->kind == K_INT) {
        int64_t v = L->ival;
        next(L);
        return mk(ps, L, N_INT, line, col, 0, 0, v, out);
    }
    if (tok_is(L, "true") || tok_is(L, "false")) {
        uint8_t op = tok_is(L, "true") ? N_TRUE : N_FALSE;
        next(L);
        return mk(ps, L, op, line, col, 0, 0, 0, out);
    }
    if (tok_is(L, "[")) {
        return parse_set(ps, L, out);
    }
    if (tok_is(L, "(")) {
        next(L);
        int rc = parse_expr(ps, L, out);
        if (rc)
            return rc;
        return expect(L, ")", "')'");
    }
    if (tok_is(L, "time")) {
        next(L);
        int rc = expect(L, "(", "'(' after time");
        if (rc)
            return rc;
        int64_t v;
        if (L->kind == K_INT) {
            v = L->ival;
        } else if (L->kind == K_STRING) {
            if (parse_time(L->sbuf, L->slen, &v))
                return fail_at(L, L->tline, L->tcol, ABAC_E_SYNTAX,
                               "expected a time \"YYYY-MM-DDTHH:MM:SSZ\"");
        } else {
            return expected(L, "a time \"YYYY-MM-DDTHH:MM:SSZ\" or integer seconds");
        }
        next(L);
        if ((rc = expect(L, ")", "')'")))
            return rc;
        return mk(ps, L, N_TIME, line, col, 0, 0, v, out);
    }
    if (tok_is(L, "action")) {
        next(L);
        return mk(ps, L, N_ACTION, line, col, 0, 0, 0, out);
    }
    if ((sc = scope_of(L)) >= 0) {
        next(L);
        if (tok_is(L, ".")) {
            next(L);
            if (L->kind != K_IDENT)
                return expected(L, "an attribute name after '.'");
            uint32_t id;
            if (ps_intern(ps, L->s + L->tpos, L->tlen, &id))
                return ABAC_E_NOMEM;
            next(L);
            int rc = mk(ps, L, N_ATTR, line, col, 0, 0, id, out);
            if (!rc)
                ps->nodes[*out].scope = (uint8_t)sc;
            return rc;
        }
        if (tok_is(L, "has")) {
            next(L);
            uint32_t id;
            if (L->kind == K_IDENT) {
                if (ps_intern(ps, L->s + L->tpos, L->tlen, &id))
                    return ABAC_E_NOMEM;
            } else if (L->kind == K_STRING) {
                /* no API can set a name with a NUL byte: refuse it rather than never match */
                if (memchr(L->sbuf, 0, L->slen))
                    return fail_at(L, L->tline, L->tcol, ABAC_E_SYNTAX,
                                   "an attribute name must not contain a NUL byte");
                if (ps_intern(ps, L->sbuf, L->slen, &id))
                    return ABAC_E_NOMEM;
            } else {
                return expected(L, "an attribute name after 'has'");
            }
            next(L);
            int rc = mk(ps, L, N_HAS, line, col, 0, 0, id, out);
            if (!rc)
                ps->nodes[*out].scope = (uint8_t)sc;
            return rc;
        }
        if (sc == ABAC_CONTEXT)
            return expected(L, "'.' or 'has' after context");
        return mk(ps, L, sc == ABAC_SUBJECT ? N_SUBJECT : N_RESOURCE, line, col, 0, 0, 0, out);
    }
    return expected(L, "an expression (literal, subject, action, resource, context, '(', '!')");
}

static int parse_cmp(abac_policyset *ps, lexer *L, uint32_t *out) {
    uint32_t a;
    int rc = parse_primary(ps, L, &a);
    if (rc)
        return rc;
    static const struct {
        const char *t;
        uint8_t op;
    } ops[] = {{"==", N_EQ}, {"!=", N_NE}, {"<", N_LT}, {"<=", N_LE},
               {">", N_GT},  {">=", N_GE}, {"in", N_IN}};
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
        if (tok_is(L, ops[k].t)) {
            uint32_t line = L->tline, col = L->tcol, b;
            next(L);
            if ((rc = parse_primary(ps, L, &b)))
                return rc;
            rc = mk(ps, L, ops[k].op, line, col, a, b, 0, out);
            if (rc)
                return rc;
            for (size_t j = 0; j < sizeof ops / sizeof ops[0]; j++)
                if (tok_is(L, ops[j].t))
                    return expected(L, "'&&', '||' or the end of the condition (comparisons "
                                       "do not chain; use parentheses)");
            return 0;
        }
    }
    *out = a;
    return 0;
}

static int parse_unary(abac_policyset *ps, lexer *L, uint32_t *out) {
    if (++L->depth > (int)MAX_DEPTH)
        return fail_at(L, L->tline, L->tcol, ABAC_E_LIMIT, "expression nested too deeply");
    int rc;
    if (tok_is(L, "!")) {
        uint32_t line = L->tline, col = L->tcol, a;
        next(L);
        if ((rc = parse_unary(ps, L, &a)))
            return rc;
        rc = mk(ps, L, N_NOT, line, col, a, 0, 0, out);
    } else {
        rc = parse_cmp(ps, L, out);
    }
    L->depth--;
    return rc;
}

static int parse_and(abac_policyset *ps, lexer *L, uint32_t *out) {
    uint32_t a;
    int rc = parse_unary(ps, L, &a);
    while (!rc && tok_is(L, "&&")) {
        uint32_t line = L->tline, col = L->tcol, b;
        next(L);
        if ((rc = parse_unary(ps, L, &b)))
            return rc;
        rc = mk(ps, L, N_AND, line, col, a, b, 0, &a);
    }
    *out = a;
    return rc;
}

static int parse_expr(abac_policyset *ps, lexer *L, uint32_t *out) {
    if (++L->depth > (int)MAX_DEPTH)
        return fail_at(L, L->tline, L->tcol, ABAC_E_LIMIT, "expression nested too deeply");
    uint32_t a;
    int rc = parse_and(ps, L, &a);
    while (!rc && tok_is(L, "||")) {
        uint32_t line = L->tline, col = L->tcol, b;
        next(L);
        if ((rc = parse_and(ps, L, &b)))
            return rc;
        rc = mk(ps, L, N_OR, line, col, a, b, 0, &a);
    }
    *out = a;
    L->depth--;
    return rc;
}

static int sort_unique_u32(abac_policyset *ps, uint32_t off, uint32_t n) {
    uint32_t *v = ps->u32pool + off;
    for (uint32_t k = 1; k < n; k++) {
        uint32_t x = v[k], j = k;
        while (j > 0 && cmp_str_ids(ps, v[j - 1], x) > 0) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
    uint32_t m = 0;
    for (uint32_t k = 0; k < n; k++)
        if (m == 0 || v[m - 1] != v[k])
            v[m++] = v[k];
    return (int)m;
}

int ps_parse_policies(abac_policyset *ps, const char *src, size_t len, uint32_t *line,
                      uint32_t *col, char *msg, size_t cap) {
    lexer Lx;
    lexer *L = &Lx;
    lex_init(L, src, len, line, col, msg, cap);
    int rc;
    while (L->kind != K_EOF) {
        rule r;
        memset(&r, 0, sizeof r);
        r.cond = NONE32;
        r.res_type = NONE32;
        r.line = L->tline;
        r.col = L->tcol;
        if (tok_is(L, "permit"))
            r.effect = ABAC_PERMIT;
        else if (tok_is(L, "forbid"))
            r.effect = ABAC_DENY;
        else
            return expected(L, "'permit' or 'forbid'");
        next(L);
        if (L->kind != K_IDENT)
            return expected(L, "a rule id");
        uint32_t idl = L->tline, idc = L->tcol;
        if (ps_intern(ps, L->s + L->tpos, L->tlen, &r.id))
            return ABAC_E_NOMEM;
        for (uint32_t k = 0; k < ps->n_rules; k++)
            if (ps->rules[k].id == r.id)
                return fail_at(L, idl, idc, ABAC_E_DUPLICATE_RULE, "rule id '%s' is used twice",
                               ps_str(ps, r.id));
        next(L);
        if ((rc = expect(L, "(", "'(' to open the scope")))
            return rc;
        if ((rc = expect(L, "subject", "'subject'")))
            return rc;
        if ((rc = expect(L, ",", "','")))
            return rc;
        if ((rc = expect(L, "action", "'action'")))
            return rc;
        r.act_off = ps->n_u32;
        if (tok_is(L, "==") || tok_is(L, "in")) {
            int list = tok_is(L, "in");
            next(L);
            if (list && (rc = expect(L, "[", "'['")))
                return rc;
            for (;;) {
                if (L->kind != K_STRING)
                    return expected(L, "an action name (a string)");
                uint32_t id;
                if (ps_intern(ps, L->sbuf, L->slen, &id) || ps_push_u32(ps, id))
                    return ABAC_E_NOMEM;
                r.n_act++;
                if (r.n_act > MAX_ACTIONS)
                    return fail_at(L, L->tline, L->tcol, ABAC_E_LIMIT, "too many actions");
                next(L);
                if (!list)
                    break;
                if (tok_is(L, ","))
                    next(L);
                else if (tok_is(L, "]")) {
                    next(L);
                    break;
                } else
                    return expected(L, "',' or ']'");
            }
            r.n_act = (uint32_t)sort_unique_u32(ps, r.act_off, r.n_act);
            ps->n_u32 = r.act_off + r.n_act;
        }
        if ((rc = expect(L, ",", "',' or an action constraint ('==' or 'in')")))
            return rc;
        if ((rc = expect(L, "resource", "'resource'")))
            return rc;
        if (tok_is(L, "is")) {
            next(L);
            if (L->kind != K_STRING)
                return expected(L, "a resource type (a string)");
            if (ps_intern(ps, L->sbuf, L->slen, &r.res_type))
                return ABAC_E_NOMEM;
            next(L);
        }
        if ((rc = expect(L, ")", "')' or 'is' after resource")))
            return rc;
        if (tok_is(L, "when")) {
            next(L);
            if ((rc = expect(L, "{", "'{'")))
                return rc;
            if ((rc = parse_expr(ps, L, &r.cond)))
                return rc;
            if ((rc = expect(L, "}", "'}' or an operator")))
                return rc;
        }
        if (tok_is(L, "obligations")) {
            if (r.effect != ABAC_PERMIT)
                return fail_at(L, L->tline, L->tcol, ABAC_E_SYNTAX,
                               "expected ';' (obligations are only allowed on permit)");
            next(L);
            if ((rc = expect(L, "[", "'['")))
                return rc;
            r.obl_off = ps->n_u32;
            for (;;) {
                if (L->kind != K_IDENT)
                    return expected(L, "an obligation name");
                uint32_t id;
                if (ps_intern(ps, L->s + L->tpos, L->tlen, &id))
                    return ABAC_E_NOMEM;
                int dup = 0;
                for (uint32_t k = 0; k < r.n_obl; k++)
                    dup |= ps->u32pool[r.obl_off + k] == id;
                if (!dup) {
                    if (r.n_obl >= MAX_OBLS)
                        return fail_at(L, L->tline, L->tcol, ABAC_E_LIMIT, "too many obligations");
                    if (ps_push_u32(ps, id))
                        return ABAC_E_NOMEM;
                    r.n_obl++;
                }
                next(L);
                if (tok_is(L, ","))
                    next(L);
                else if (tok_is(L, "]")) {
                    next(L);
                    break;
                } else
                    return expected(L, "',' or ']'");
            }
        }
        if ((rc = expect(L, ";",
                         r.cond == NONE32 ? "'when', 'obligations' or ';'"
                                          : "'obligations' or ';'")))
            return rc;
        if (ps->n_rules >= MAX_RULES)
            return fail_at(L, r.line, r.col, ABAC_E_LIMIT, "too many rules");
        if (ps_push_rule(ps, &r))
            return ABAC_E_NOMEM;
    }
    return 0;
}
