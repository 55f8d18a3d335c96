/* Cedar policy text: lexer and recursive-descent parser (grammar: Cedar's policy grammar,
 * https://docs.cedarpolicy.com/policies/syntax-grammar.html). Errors name line, column and
 * what was found, the unexpected character included. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cedar_int.h"

/* ---- pool ---- */
void *pool_alloc(pool *p, size_t n) {
    n = (n + 7u) & ~(size_t)7u;
    if (n == 0)
        n = 8;
    pchunk *c = p->head;
    for (; c; c = c->next)
        if (c->cap - c->used >= n)
            break;
    if (!c) {
        size_t cap = p->total < 4096 ? 4096 : p->total;
        if (cap < n)
            cap = n;
        c = malloc(sizeof *c);
        if (!c)
            return NULL;
        c->data = malloc(cap);
        if (!c->data) {
            free(c);
            return NULL;
        }
        c->cap = cap;
        c->used = 0;
        c->next = p->head;
        p->head = c;
        p->total += cap;
    }
    void *r = c->data + c->used;
    c->used += n;
    return r;
}

void pool_reset(pool *p) {
    for (pchunk *c = p->head; c; c = c->next)
        c->used = 0;
}

void pool_free(pool *p) {
    pchunk *c = p->head;
    while (c) {
        pchunk *n = c->next;
        free(c->data);
        free(c);
        c = n;
    }
    p->head = NULL;
    p->total = 0;
}

char *pool_dup(pool *p, const char *s, size_t n) {
    char *d = pool_alloc(p, n + 1);
    if (!d)
        return NULL;
    if (n)
        memcpy(d, s, n);
    d[n] = 0;
    return d;
}

/* ---- lexer ---- */
enum { T_EOF, T_IDENT, T_STR, T_INT, T_PUNCT, T_BAD };

typedef struct clex {
    const char *s;
    size_t len, pos;
    uint32_t line, col;
    int kind;
    size_t tpos, tlen;
    uint32_t tline, tcol;
    uint64_t ival;
    char bad[96];
    pool *mem;
    int depth;
    uint32_t *eline, *ecol;
    char *emsg;
    size_t ecap;
} clex;

static void cadv(clex *L) {
    if (L->s[L->pos] == '\n') {
        L->line++;
        L->col = 1;
    } else {
        L->col++;
    }
    L->pos++;
}

static int c_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static int c_digit(char c) {
    return c >= '0' && c <= '9';
}

static void describe_char(char *out, size_t cap, const char *s, size_t n) {
    unsigned char u = (unsigned char)s[0];
    if (u >= 0x20 && u < 0x7f) {
        snprintf(out, cap, "an unexpected character '%c'", s[0]);
    } else if (u >= 0xc0 && n >= 2) {
        /* a UTF-8 sequence: show it as itself and as a code point */
        size_t k = u >= 0xf0 ? 4 : u >= 0xe0 ? 3 : 2;
        if (k > n)
            k = n;
        uint32_t cp = u & (0x3f >> (k - 1));
        for (size_t j = 1; j < k; j++)
            cp = (cp << 6) | ((unsigned char)s[j] & 0x3f);
        snprintf(out, cap, "an unexpected character '%.*s' (U+%04X)", (int)k, s, (unsigned)cp);
    } else {
        snprintf(out, cap, "an unexpected byte 0x%02X", u);
    }
}

static void cnext(clex *L) {
    for (;;) {
        while (L->pos < L->len && (L->s[L->pos] == ' ' || L->s[L->pos] == '\t' ||
                                   L->s[L->pos] == '\n' || L->s[L->pos] == '\r'))
            cadv(L);
        if (L->pos + 1 < L->len && L->s[L->pos] == '/' && L->s[L->pos + 1] == '/') {
            while (L->pos < L->len && L->s[L->pos] != '\n')
                cadv(L);
            continue;
        }
        break;
    }
    L->tpos = L->pos;
    L->tline = L->line;
    L->tcol = L->col;
    if (L->pos >= L->len) {
        L->kind = T_EOF;
        L->tlen = 0;
        return;
    }
    char c = L->s[L->pos];
    if (c_alpha(c)) {
        while (L->pos < L->len && (c_alpha(L->s[L->pos]) || c_digit(L->s[L->pos])))
            cadv(L);
        L->kind = T_IDENT;
    } else if (c_digit(c)) {
        uint64_t v = 0;
        int over = 0;
        while (L->pos < L->len && c_digit(L->s[L->pos])) {
            uint64_t d = (uint64_t)(L->s[L->pos] - '0');
            if (v > ((uint64_t)INT64_MAX + 1u - d) / 10u)
                over = 1;
            else
                v = v * 10u + d;
            cadv(L);
        }
        L->kind = T_INT;
        L->ival = v;
        if (over) {
            L->kind = T_BAD;
            snprintf(L->bad, sizeof L->bad, "an integer out of the 64-bit range");
        }
    } else if (c == '"') {
        cadv(L);
        L->kind = T_STR;
        for (;;) {
            if (L->pos >= L->len) {
                L->kind = T_BAD;
                snprintf(L->bad, sizeof L->bad, "an unterminated string");
                break;
            }
            char d = L->s[L->pos];
            if (d == '"') {
                cadv(L);
                break;
            }
            if (d == '\\' && L->pos + 1 < L->len)
                cadv(L);
            cadv(L);
        }
    } else {
        static const char *two[] = {"==", "!=", "<=", ">=", "&&", "||", "::"};
        L->kind = T_PUNCT;
        for (size_t k = 0; k < sizeof two / sizeof two[0]; k++) {
            if (L->pos + 1 < L->len && L->s[L->pos] == two[k][0] && L->s[L->pos + 1] == two[k][1]) {
                cadv(L);
                cadv(L);
                L->tlen = 2;
                return;
            }
        }
        if (c != 0 && strchr("(){}[],;.:<>!+-*@?", c)) {
            cadv(L);
        } else {
            describe_char(L->bad, sizeof L->bad, L->s + L->pos, L->len - L->pos);
            L->kind = T_BAD;
            cadv(L);
        }
    }
    L->tlen = L->pos - L->tpos;
}

static int is_tok(const clex *L, const char *t) {
    size_t n = strlen(t);
    return (L->kind == T_IDENT || L->kind == T_PUNCT) && L->tlen == n &&
           memcmp(L->s + L->tpos, t, n) == 0;
}

__attribute__((format(printf, 4, 0))) static void cvfail(clex *L, uint32_t line, uint32_t col,
                                                         const char *fmt, va_list ap) {
    if (L->eline)
        *L->eline = line;
    if (L->ecol)
        *L->ecol = col;
    if (L->emsg && L->ecap)
        vsnprintf(L->emsg, L->ecap, fmt, ap);
}

/* error at the current token */
__attribute__((format(printf, 3, 4))) static int cfail(clex *L, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    cvfail(L, L->tline, L->tcol, fmt, ap);
    va_end(ap);
    return code;
}

/* error at a given position (a construct that began before the current token) */
__attribute__((format(printf, 5, 6))) static int cfail_at(clex *L, uint32_t line, uint32_t col,
                                                          int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    cvfail(L, line, col, fmt, ap);
    va_end(ap);
    return code;
}

static int cexpected(clex *L, const char *what) {
    char found[128];
    if (L->kind == T_EOF)
        snprintf(found, sizeof found, "end of input");
    else if (L->kind == T_BAD)
        snprintf(found, sizeof found, "%s", L->bad);
    else
        snprintf(found, sizeof found, "'%.*s'", (int)(L->tlen > 40 ? 40 : L->tlen), L->s + L->tpos);
    return cfail(L, ABAC_E_SYNTAX, "expected %s, found %s (line %u, column %u)", what, found,
                 L->tline, L->tcol);
}

static int cexpect(clex *L, const char *t, const char *what) {
    if (!is_tok(L, t))
        return cexpected(L, what);
    cnext(L);
    return 0;
}

static void put_utf8(char *o, size_t *k, uint32_t cp) {
    if (cp < 0x80) {
        o[(*k)++] = (char)cp;
    } else if (cp < 0x800) {
        o[(*k)++] = (char)(0xc0 | (cp >> 6));
        o[(*k)++] = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        o[(*k)++] = (char)(0xe0 | (cp >> 12));
        o[(*k)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[(*k)++] = (char)(0x80 | (cp & 0x3f));
    } else {
        o[(*k)++] = (char)(0xf0 | (cp >> 18));
        o[(*k)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
        o[(*k)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[(*k)++] = (char)(0x80 | (cp & 0x3f));
    }
}

/* Decode the current string token. With pat != NULL (a `like` pattern) an unescaped '*' is
 * the wildcard (-1) and "\*" a literal star. */
static int cstring(clex *L, cstr *out, int16_t **pat, uint32_t *npat) {
    if (L->kind != T_STR)
        return -1;
    const char *r = L->s + L->tpos + 1;
    size_t rn = L->tlen - 2;
    char *o = pool_alloc(L->mem, rn + 1);
    int16_t *w = pat ? pool_alloc(L->mem, (rn + 1) * sizeof *w) : NULL;
    if (!o || (pat && !w))
        return ABAC_E_NOMEM;
    size_t k = 0;
    for (size_t i = 0; i < rn; i++) {
        char c = r[i];
        size_t k0 = k;
        int wild = 0;
        if (c == '\\') {
            char e = r[++i];
            switch (e) {
                case 'n':
                    o[k++] = '\n';
                    break;
                case 'r':
                    o[k++] = '\r';
                    break;
                case 't':
                    o[k++] = '\t';
                    break;
                case '0':
                    o[k++] = '\0';
                    break;
                case '\\':
                    o[k++] = '\\';
                    break;
                case '\'':
                    o[k++] = '\'';
                    break;
                case '"':
                    o[k++] = '"';
                    break;
                case '*':
                    if (!pat)
                        return cfail(L, ABAC_E_SYNTAX,
                                     "'\\*' is only allowed in a 'like' pattern (line %u, column "
                                     "%u)",
                                     L->tline, L->tcol);
                    o[k++] = '*';
                    break;
                case 'u': {
                    if (i + 1 >= rn || r[i + 1] != '{')
                        return cfail(L, ABAC_E_SYNTAX, "expected '{' after \\u (line %u)",
                                     L->tline);
                    i += 2;
                    uint32_t cp = 0;
                    int nd = 0;
                    while (i < rn && r[i] != '}') {
                        char h = r[i++];
                        int d = h >= '0' && h <= '9'   ? h - '0'
                                : h >= 'a' && h <= 'f' ? h - 'a' + 10
                                : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                                       : -1;
                        if (d < 0 || ++nd > 6)
                            return cfail(L, ABAC_E_SYNTAX, "a bad \\u{...} escape (line %u)",
                                         L->tline);
                        cp = cp * 16u + (uint32_t)d;
                    }
                    if (i >= rn || nd == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                        return cfail(L, ABAC_E_SYNTAX, "a bad \\u{...} escape (line %u)", L->tline);
                    put_utf8(o, &k, cp);
                    break;
                }
                default:
                    return cfail(L, ABAC_E_SYNTAX,
                                 "an unknown escape '\\%c' in a string (line %u, column %u)", e,
                                 L->tline, L->tcol);
            }
        } else {
            if (c == '*' && pat)
                wild = 1;
            o[k++] = c;
        }
        if (pat) {
            if (wild) {
                w[*npat] = -1;
                (*npat)++;
            } else {
                for (size_t j = k0; j < k; j++)
                    w[(*npat)++] = (int16_t)(unsigned char)o[j];
            }
        }
    }
    o[k] = 0;
    out->p = o;
    out->n = (uint32_t)k;
    if (pat)
        *pat = w;
    return 0;
}

static int reserved(const clex *L) {
    static const char *kw[] = {"true", "false", "if", "then", "else", "in", "is", "like", "has"};
    for (size_t k = 0; k < sizeof kw / sizeof kw[0]; k++)
        if (is_tok(L, kw[k]))
            return 1;
    return 0;
}

/* Path ::= IDENT {'::' IDENT}; stops before '::' followed by a string. */
static int cpath(clex *L, cstr *out) {
    if (L->kind != T_IDENT)
        return cexpected(L, "an entity type name");
    size_t start = L->tpos, end = L->tpos + L->tlen;
    cnext(L);
    while (is_tok(L, "::")) {
        /* peek: identifier after '::'? */
        size_t save_pos = L->pos;
        uint32_t sl = L->line, sc = L->col;
        size_t tp = L->tpos, tl = L->tlen;
        uint32_t tli = L->tline, tco = L->tcol;
        cnext(L);
        if (L->kind != T_IDENT) {
            L->pos = save_pos;
            L->line = sl;
            L->col = sc;
            L->tpos = tp;
            L->tlen = tl;
            L->tline = tli;
            L->tcol = tco;
            L->kind = T_PUNCT;
            break;
        }
        end = L->tpos + L->tlen;
        cnext(L);
    }
    /* canonical form: drop whitespace and comments around '::' */
    char *o = pool_alloc(L->mem, end - start + 1);
    if (!o)
        return ABAC_E_NOMEM;
    size_t k = 0;
    for (size_t i = start; i < end; i++) {
        char c = L->s[i];
        if (c == '/' && i + 1 < end && L->s[i + 1] == '/') {
            while (i < end && L->s[i] != '\n')
                i++;
            continue;
        }
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            o[k++] = c;
    }
    o[k] = 0;
    out->p = o;
    out->n = (uint32_t)k;
    return 0;
}

/* Entity ::= Path '::' STR */
static int centity_lit(clex *L, cuid *out) {
    int rc = cpath(L, &out->type);
    if (rc)
        return rc;
    if ((rc = cexpect(L, "::", "'::' and a quoted entity id")))
        return rc;
    if (L->kind != T_STR)
        return cexpected(L, "a quoted entity id");
    if ((rc = cstring(L, &out->id, NULL, NULL)))
        return rc;
    out->h = cuid_hash(out);
    cnext(L);
    return 0;
}

static cnode *mknode(clex *L, int op, uint32_t line, uint32_t col) {
    cnode *n = pool_alloc(L->mem, sizeof *n);
    if (n) {
        memset(n, 0, sizeof *n);
        n->op = (uint8_t)op;
        n->line = line;
        n->col = col;
    }
    return n;
}

static int cexpr(clex *L, cnode **out);

static int carglist(clex *L, const char *close, cnode ***args, uint32_t *n) {
    cnode *tmp[256];
    uint32_t k = 0;
    int rc;
    if (!is_tok(L, close)) {
        for (;;) {
            if (k == 256)
                return cfail(L, ABAC_E_LIMIT, "more than 256 elements in one list");
            if ((rc = cexpr(L, &tmp[k])))
                return rc;
            k++;
            if (is_tok(L, ","))
                cnext(L);
            else
                break;
            if (is_tok(L, close)) /* trailing comma */
                break;
        }
    }
    if (!is_tok(L, close))
        return cexpected(L, close[0] == ')' ? "',' or ')'" : "',' or ']'");
    cnext(L);
    *args = pool_alloc(L->mem, (k ? k : 1) * sizeof **args);
    if (!*args)
        return ABAC_E_NOMEM;
    memcpy(*args, tmp, k * sizeof *tmp);
    *n = k;
    return 0;
}

static int cprimary(clex *L, cnode **out) {
    uint32_t line = L->tline, col = L->tcol;
    int rc;
    cnode *n;
    if (L->kind == T_INT) {
        if (L->ival > (uint64_t)INT64_MAX)
            return cfail(L, ABAC_E_SYNTAX, "integer literal %llu is out of the 64-bit range",
                         (unsigned long long)L->ival);
        if (!(n = mknode(L, X_LIT, line, col)))
            return ABAC_E_NOMEM;
        n->lit.t = V_LONG;
        n->lit.i = (int64_t)L->ival;
        cnext(L);
        *out = n;
        return 0;
    }
    if (L->kind == T_STR) {
        if (!(n = mknode(L, X_LIT, line, col)))
            return ABAC_E_NOMEM;
        cstr s;
        if ((rc = cstring(L, &s, NULL, NULL)))
            return rc;
        n->lit.t = V_STR;
        n->lit.p = s.p;
        n->lit.n = s.n;
        cnext(L);
        *out = n;
        return 0;
    }
    if (is_tok(L, "true") || is_tok(L, "false")) {
        if (!(n = mknode(L, X_LIT, line, col)))
            return ABAC_E_NOMEM;
        n->lit.t = V_BOOL;
        n->lit.i = is_tok(L, "true");
        cnext(L);
        *out = n;
        return 0;
    }
    static const char *vars[] = {"principal", "action", "resource", "context"};
    for (int v = 0; v < 4; v++) {
        if (is_tok(L, vars[v])) {
            if (!(n = mknode(L, X_VAR, line, col)))
                return ABAC_E_NOMEM;
            n->var = (uint8_t)v;
            cnext(L);
            *out = n;
            return 0;
        }
    }
    if (is_tok(L, "(")) {
        cnext(L);
        if ((rc = cexpr(L, out)))
            return rc;
        return cexpect(L, ")", "')'");
    }
    if (is_tok(L, "[")) {
        cnext(L);
        if (!(n = mknode(L, X_SET, line, col)))
            return ABAC_E_NOMEM;
        if ((rc = carglist(L, "]", &n->args, &n->n)))
            return rc;
        /* a set of literals is itself a literal: built once here, not at each decision */
        uint32_t k = 0;
        while (k < n->n && n->args[k]->op == X_LIT)
            k++;
        if (k == n->n) {
            cval *el = pool_alloc(L->mem, (n->n ? n->n : 1) * sizeof *el);
            if (!el)
                return ABAC_E_NOMEM;
            for (k = 0; k < n->n; k++)
                el[k] = n->args[k]->lit;
            n->op = X_LIT;
            n->lit.t = V_SET;
            n->lit.p = el;
            n->lit.n = n->n;
        }
        *out = n;
        return 0;
    }
    if (is_tok(L, "{")) {
        cnext(L);
        if (!(n = mknode(L, X_REC, line, col)))
            return ABAC_E_NOMEM;
        cnode *vals[256];
        cstr keys[256];
        uint32_t k = 0;
        while (!is_tok(L, "}")) {
            if (k == 256)
                return cfail(L, ABAC_E_LIMIT, "more than 256 fields in one record");
            if (L->kind == T_STR) {
                if ((rc = cstring(L, &keys[k], NULL, NULL)))
                    return rc;
            } else if (L->kind == T_IDENT) {
                keys[k].p = pool_dup(L->mem, L->s + L->tpos, L->tlen);
                keys[k].n = (uint32_t)L->tlen;
                if (!keys[k].p)
                    return ABAC_E_NOMEM;
            } else {
                return cexpected(L, "a record key (identifier or string) or '}'");
            }
            for (uint32_t j = 0; j < k; j++)
                if (cstr_eq(keys[j], keys[k]))
                    return cfail(L, ABAC_E_SYNTAX,
                                 "duplicate key '%.*s' in a record literal (line %u, column %u)",
                                 (int)(keys[k].n > 40 ? 40 : keys[k].n), keys[k].p, L->tline,
                                 L->tcol);
            cnext(L);
            if ((rc = cexpect(L, ":", "':' after a record key")))
                return rc;
            if ((rc = cexpr(L, &vals[k])))
                return rc;
            k++;
            if (is_tok(L, ","))
                cnext(L);
            else if (!is_tok(L, "}"))
                return cexpected(L, "',' or '}'");
        }
        cnext(L);
        n->n = k;
        n->args = pool_alloc(L->mem, (k ? k : 1) * sizeof *n->args);
        n->keys = pool_alloc(L->mem, (k ? k : 1) * sizeof *n->keys);
        if (!n->args || !n->keys)
            return ABAC_E_NOMEM;
        memcpy(n->args, vals, k * sizeof *vals);
        memcpy(n->keys, keys, k * sizeof *keys);
        *out = n;
        return 0;
    }
    if (L->kind == T_IDENT && !reserved(L)) {
        /* an entity literal Path::"id", or an extension function call f(...) */
        size_t p0 = L->tpos, p0len = L->tlen;
        cstr path;
        if ((rc = cpath(L, &path)))
            return rc;
        if (is_tok(L, "(")) {
            cnext(L);
            if (!(n = mknode(L, X_CALL, line, col)))
                return ABAC_E_NOMEM;
            n->name = path;
            if (cstr_eq(path, (cstr){"decimal", 7}))
                n->var = F_DECIMAL;
            else if (cstr_eq(path, (cstr){"ip", 2}))
                n->var = F_IP;
            else if (cstr_eq(path, (cstr){"datetime", 8}))
                n->var = F_DATETIME;
            else if (cstr_eq(path, (cstr){"duration", 8}))
                n->var = F_DURATION;
            else
                return cfail(L, ABAC_E_SYNTAX,
                             "unknown extension function '%.*s' (line %u, column %u)",
                             (int)(path.n > 40 ? 40 : path.n), path.p, line, col);
            if ((rc = carglist(L, ")", &n->args, &n->n)))
                return rc;
            if (n->n != 1)
                return cfail(L, ABAC_E_SYNTAX, "%.*s() takes one argument (line %u, column %u)",
                             (int)path.n, path.p, line, col);
            *out = n;
            return 0;
        }
        if (!is_tok(L, "::"))
            return cfail_at(L, line, col, ABAC_E_SYNTAX,
                            "expected an expression, found '%.*s' (line %u, column %u): not a "
                            "variable, an entity or a function",
                            (int)(p0len > 40 ? 40 : p0len), L->s + p0, line, col);
        cnext(L);
        if (L->kind != T_STR)
            return cexpected(L, "a quoted entity id after '::'");
        if (!(n = mknode(L, X_LIT, line, col)))
            return ABAC_E_NOMEM;
        cuid *u = pool_alloc(L->mem, sizeof *u);
        if (!u)
            return ABAC_E_NOMEM;
        u->type = path;
        if ((rc = cstring(L, &u->id, NULL, NULL)))
            return rc;
        u->h = cuid_hash(u);
        cnext(L);
        n->lit.t = V_ENT;
        n->lit.p = u;
        *out = n;
        return 0;
    }
    return cexpected(L, "an expression");
}

static const struct {
    const char *name;
    uint8_t m;
    int8_t nargs;
} METHODS[] = {
    {"contains", M_CONTAINS, 1},
    {"containsAll", M_CONTAINS_ALL, 1},
    {"containsAny", M_CONTAINS_ANY, 1},
    {"isEmpty", M_IS_EMPTY, 0},
    {"lessThan", M_LESS, 1},
    {"lessThanOrEqual", M_LESS_EQ, 1},
    {"greaterThan", M_GREATER, 1},
    {"greaterThanOrEqual", M_GREATER_EQ, 1},
    {"isIpv4", M_IS_IPV4, 0},
    {"isIpv6", M_IS_IPV6, 0},
    {"isLoopback", M_IS_LOOPBACK, 0},
    {"isMulticast", M_IS_MULTICAST, 0},
    {"isInRange", M_IS_IN_RANGE, 1},
    {"offset", M_OFFSET, 1},
    {"durationSince", M_DURATION_SINCE, 1},
    {"toDate", M_TO_DATE, 0},
    {"toTime", M_TO_TIME, 0},
    {"toMilliseconds", M_TO_MS, 0},
    {"toSeconds", M_TO_S, 0},
    {"toMinutes", M_TO_MIN, 0},
    {"toHours", M_TO_H, 0},
    {"toDays", M_TO_D, 0},
};

static int cmember(clex *L, cnode **out) {
    int rc = cprimary(L, out);
    if (rc)
        return rc;
    for (;;) {
        uint32_t line = L->tline, col = L->tcol;
        if (is_tok(L, ".")) {
            cnext(L);
            if (L->kind != T_IDENT)
                return cexpected(L, "an attribute or method name after '.'");
            cstr name = {L->s + L->tpos, (uint32_t)L->tlen};
            uint32_t nline = L->tline, ncol = L->tcol;
            cnext(L);
            if (is_tok(L, "(")) {
                cnext(L);
                cnode *n;
                if (!(n = mknode(L, X_METHOD, line, col)))
                    return ABAC_E_NOMEM;
                n->a = *out;
                n->name = name;
                if ((rc = carglist(L, ")", &n->args, &n->n)))
                    return rc;
                int found = 0;
                for (size_t k = 0; k < sizeof METHODS / sizeof METHODS[0]; k++) {
                    if (name.n == strlen(METHODS[k].name) &&
                        memcmp(name.p, METHODS[k].name, name.n) == 0) {
                        found = 1;
                        n->var = METHODS[k].m;
                        if ((int)n->n != METHODS[k].nargs)
                            return cfail(L, ABAC_E_SYNTAX,
                                         "%s() takes %d argument(s), found %u (line %u, column "
                                         "%u)",
                                         METHODS[k].name, METHODS[k].nargs, n->n, line, col);
                    }
                }
                if (!found) {
                    if (name.n == 6 && memcmp(name.p, "getTag", 6) == 0)
                        n->op = X_GETTAG;
                    else if (name.n == 6 && memcmp(name.p, "hasTag", 6) == 0)
                        n->op = X_HASTAG;
                    else
                        return cfail_at(L, nline, ncol, ABAC_E_SYNTAX,
                                        "unknown method '%.*s' (line %u, column %u)",
                                        (int)(name.n > 40 ? 40 : name.n), name.p, nline, ncol);
                    if (n->n != 1)
                        return cfail(L, ABAC_E_SYNTAX, "%.*s() takes one argument (line %u)",
                                     (int)name.n, name.p, line);
                    n->b = n->args[0];
                }
                *out = n;
                continue;
            }
            cnode *n;
            if (!(n = mknode(L, X_ATTR, line, col)))
                return ABAC_E_NOMEM;
            n->a = *out;
            n->name.p = pool_dup(L->mem, name.p, name.n);
            n->name.n = name.n;
            if (!n->name.p)
                return ABAC_E_NOMEM;
            *out = n;
        } else if (is_tok(L, "[")) {
            cnext(L);
            if (L->kind != T_STR)
                return cexpected(L, "a quoted attribute name in '[...]'");
            cnode *n;
            if (!(n = mknode(L, X_ATTR, line, col)))
                return ABAC_E_NOMEM;
            n->a = *out;
            if ((rc = cstring(L, &n->name, NULL, NULL)))
                return rc;
            cnext(L);
            if ((rc = cexpect(L, "]", "']'")))
                return rc;
            *out = n;
        } else {
            return 0;
        }
    }
}

static int cunary(clex *L, cnode **out) {
    uint32_t line = L->tline, col = L->tcol;
    int rc;
    if (is_tok(L, "!")) {
        cnext(L);
        cnode *n = mknode(L, X_NOT, line, col);
        if (!n)
            return ABAC_E_NOMEM;
        if ((rc = cunary(L, &n->a)))
            return rc;
        *out = n;
        return 0;
    }
    if (is_tok(L, "-")) {
        cnext(L);
        if (L->kind == T_INT) { /* a negative literal, down to -2^63 */
            cnode *n = mknode(L, X_LIT, line, col);
            if (!n)
                return ABAC_E_NOMEM;
            n->lit.t = V_LONG;
            n->lit.i = L->ival == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)L->ival;
            cnext(L);
            /* member access binds tighter than '-': keep going from the literal */
            *out = n;
            return 0;
        }
        cnode *n = mknode(L, X_NEG, line, col);
        if (!n)
            return ABAC_E_NOMEM;
        if ((rc = cunary(L, &n->a)))
            return rc;
        *out = n;
        return 0;
    }
    return cmember(L, out);
}

static int cmul(clex *L, cnode **out) {
    int rc = cunary(L, out);
    while (!rc && is_tok(L, "*")) {
        cnode *n = mknode(L, X_MUL, L->tline, L->tcol);
        if (!n)
            return ABAC_E_NOMEM;
        cnext(L);
        n->a = *out;
        rc = cunary(L, &n->b);
        *out = n;
    }
    return rc;
}

static int cadd(clex *L, cnode **out) {
    int rc = cmul(L, out);
    while (!rc && (is_tok(L, "+") || is_tok(L, "-"))) {
        cnode *n = mknode(L, is_tok(L, "+") ? X_ADD : X_SUB, L->tline, L->tcol);
        if (!n)
            return ABAC_E_NOMEM;
        cnext(L);
        n->a = *out;
        rc = cmul(L, &n->b);
        *out = n;
    }
    return rc;
}

static int crel(clex *L, cnode **out) {
    int rc = cadd(L, out);
    if (rc)
        return rc;
    static const struct {
        const char *t;
        uint8_t op;
    } rel[] = {{"==", X_EQ}, {"!=", X_NE}, {"<=", X_LE}, {">=", X_GE},
               {"<", X_LT},  {">", X_GT},  {"in", X_IN}};
    uint32_t line = L->tline, col = L->tcol;
    for (size_t k = 0; k < sizeof rel / sizeof rel[0]; k++) {
        if (is_tok(L, rel[k].t)) {
            cnext(L);
            cnode *n = mknode(L, rel[k].op, line, col);
            if (!n)
                return ABAC_E_NOMEM;
            n->a = *out;
            if ((rc = cadd(L, &n->b)))
                return rc;
            *out = n;
            return 0;
        }
    }
    if (is_tok(L, "has")) {
        cnext(L);
        cnode *n = mknode(L, X_HAS, line, col);
        if (!n)
            return ABAC_E_NOMEM;
        n->a = *out;
        if (L->kind == T_STR) {
            if ((rc = cstring(L, &n->name, NULL, NULL)))
                return rc;
        } else if (L->kind == T_IDENT) {
            n->name.p = pool_dup(L->mem, L->s + L->tpos, L->tlen);
            n->name.n = (uint32_t)L->tlen;
            if (!n->name.p)
                return ABAC_E_NOMEM;
            cnext(L);
            /* `e has a.b.c` is `e has a && e.a has b && e.a.b has c` (Cedar 4) */
            cnode *base = *out, *chain = n;
            cstr prev = n->name;
            while (is_tok(L, ".")) {
                cnext(L);
                if (L->kind != T_IDENT)
                    return cexpected(L, "an attribute name after '.' in 'has'");
                cnode *acc = mknode(L, X_ATTR, line, col), *h = mknode(L, X_HAS, line, col),
                      *and = mknode(L, X_AND, line, col);
                if (!acc || !h || !and)
                    return ABAC_E_NOMEM;
                acc->a = base;
                acc->name = prev;
                h->a = acc;
                h->name.p = pool_dup(L->mem, L->s + L->tpos, L->tlen);
                h->name.n = (uint32_t)L->tlen;
                if (!h->name.p)
                    return ABAC_E_NOMEM;
                and->a = chain;
                and->b = h;
                chain = and;
                base = acc;
                prev = h->name;
                cnext(L);
            }
            *out = chain;
            return 0;
        } else {
            return cexpected(L, "an attribute name after 'has'");
        }
        cnext(L);
        *out = n;
        return 0;
    }
    if (is_tok(L, "like")) {
        cnext(L);
        cnode *n = mknode(L, X_LIKE, line, col);
        if (!n)
            return ABAC_E_NOMEM;
        n->a = *out;
        if (L->kind != T_STR)
            return cexpected(L, "a quoted pattern after 'like'");
        int16_t *pat = NULL;
        uint32_t np = 0;
        if ((rc = cstring(L, &n->name, &pat, &np)))
            return rc;
        n->pat = pat;
        n->n = np;
        cnext(L);
        *out = n;
        return 0;
    }
    if (is_tok(L, "is")) {
        cnext(L);
        cnode *n = mknode(L, X_IS, line, col);
        if (!n)
            return ABAC_E_NOMEM;
        n->a = *out;
        if ((rc = cpath(L, &n->name)))
            return rc;
        if (is_tok(L, "in")) {
            cnext(L);
            n->has_b = 1;
            if ((rc = cadd(L, &n->b)))
                return rc;
        }
        *out = n;
        return 0;
    }
    return 0;
}

static int cand(clex *L, cnode **out) {
    int rc = crel(L, out);
    while (!rc && is_tok(L, "&&")) {
        cnode *n = mknode(L, X_AND, L->tline, L->tcol);
        if (!n)
            return ABAC_E_NOMEM;
        cnext(L);
        n->a = *out;
        rc = crel(L, &n->b);
        *out = n;
    }
    return rc;
}

static int cexpr(clex *L, cnode **out) {
    if (++L->depth > (int)C_MAX_DEPTH)
        return cfail(L, ABAC_E_LIMIT, "expression nested too deeply (more than %u levels)",
                     C_MAX_DEPTH);
    int rc;
    if (is_tok(L, "if")) { /* Expr ::= 'if' Expr 'then' Expr 'else' Expr | Or */
        uint32_t line = L->tline, col = L->tcol;
        cnode *n;
        cnext(L);
        if (!(n = mknode(L, X_IF, line, col)))
            return ABAC_E_NOMEM;
        if ((rc = cexpr(L, &n->a)) || (rc = cexpect(L, "then", "'then'")) ||
            (rc = cexpr(L, &n->b)) || (rc = cexpect(L, "else", "'else'")) || (rc = cexpr(L, &n->c)))
            return rc;
        *out = n;
        L->depth--;
        return 0;
    }
    rc = cand(L, out);
    while (!rc && is_tok(L, "||")) {
        cnode *n = mknode(L, X_OR, L->tline, L->tcol);
        if (!n)
            return ABAC_E_NOMEM;
        cnext(L);
        n->a = *out;
        rc = cand(L, &n->b);
        *out = n;
    }
    L->depth--;
    return rc;
}

/* the entity of a principal / resource scope, or its template slot (`?principal` in the
 * principal scope, `?resource` in the resource scope) */
static int cscope_ent(clex *L, cscope *sc, const char *slot) {
    if (is_tok(L, "?")) {
        cnext(L);
        if (!is_tok(L, slot))
            return cexpected(L, slot[0] == 'p' ? "'principal' after '?' (the slot of this scope "
                                                 "is ?principal)"
                                               : "'resource' after '?' (the slot of this scope "
                                                 "is ?resource)");
        cnext(L);
        sc->slot = 1;
        return 0;
    }
    cuid *u = pool_alloc(L->mem, sizeof *u);
    if (!u)
        return ABAC_E_NOMEM;
    int rc = centity_lit(L, u);
    if (!rc)
        sc->ent = u;
    return rc;
}

/* principal / resource scope: [ '==' Entity | 'in' Entity | 'is' Path ['in' Entity] ], where an
 * entity may be the scope's template slot */
static int cscope_pr(clex *L, cscope *sc, const char *slot) {
    int rc;
    sc->op = S_ANY;
    if (is_tok(L, "==") || is_tok(L, "in")) {
        sc->op = is_tok(L, "==") ? S_EQ : S_IN;
        cnext(L);
        return cscope_ent(L, sc, slot);
    } else if (is_tok(L, "is")) {
        cnext(L);
        sc->op = S_IS;
        if ((rc = cpath(L, &sc->type)))
            return rc;
        if (is_tok(L, "in")) {
            cnext(L);
            sc->op = S_IS_IN;
            return cscope_ent(L, sc, slot);
        }
    }
    return 0;
}

static int cscope_action(clex *L, cscope *sc) {
    int rc;
    cuid *u;
    sc->op = S_ANY;
    if (is_tok(L, "==") || is_tok(L, "in")) {
        sc->op = is_tok(L, "==") ? S_EQ : S_IN;
        cnext(L);
        if (sc->op == S_IN && is_tok(L, "[")) {
            cnext(L);
            cuid tmp[256];
            uint32_t k = 0;
            while (!is_tok(L, "]")) {
                if (k == 256)
                    return cfail(L, ABAC_E_LIMIT, "more than 256 actions in one scope");
                if ((rc = centity_lit(L, &tmp[k])))
                    return rc;
                k++;
                if (is_tok(L, ","))
                    cnext(L);
                else if (!is_tok(L, "]"))
                    return cexpected(L, "',' or ']'");
            }
            cnext(L);
            cuid *list = pool_alloc(L->mem, (k ? k : 1) * sizeof *list);
            if (!list)
                return ABAC_E_NOMEM;
            memcpy(list, tmp, k * sizeof *tmp);
            sc->op = S_IN_LIST;
            sc->list = list;
            sc->n_list = k;
            return 0;
        }
        if (!(u = pool_alloc(L->mem, sizeof *u)))
            return ABAC_E_NOMEM;
        if ((rc = centity_lit(L, u)))
            return rc;
        sc->ent = u;
    }
    return 0;
}

static int cpolicy_parse(clex *L, abac_cedar_policies *ps) {
    int rc;
    if (ps->n == ps->cap) {
        uint32_t nc = ps->cap ? ps->cap * 2 : 16;
        cpolicy *np = realloc(ps->pol, nc * sizeof *np);
        if (!np)
            return ABAC_E_NOMEM;
        ps->pol = np;
        ps->cap = nc;
    }
    cpolicy *p = &ps->pol[ps->n];
    memset(p, 0, sizeof *p);
    p->line = L->tline;
    p->col = L->tcol;
    cstr akeys[64], avals[64];
    uint32_t na = 0;
    while (is_tok(L, "@")) {
        cnext(L);
        if (L->kind != T_IDENT)
            return cexpected(L, "an annotation name after '@'");
        if (na == 64)
            return cfail(L, ABAC_E_LIMIT, "more than 64 annotations on one policy");
        akeys[na].p = pool_dup(L->mem, L->s + L->tpos, L->tlen);
        akeys[na].n = (uint32_t)L->tlen;
        if (!akeys[na].p)
            return ABAC_E_NOMEM;
        for (uint32_t j = 0; j < na; j++)
            if (cstr_eq(akeys[j], akeys[na]))
                return cfail(L, ABAC_E_SYNTAX, "duplicate annotation '@%.*s' (line %u, column %u)",
                             (int)akeys[na].n, akeys[na].p, L->tline, L->tcol);
        cnext(L);
        avals[na].p = "";
        avals[na].n = 0;
        if (is_tok(L, "(")) {
            cnext(L);
            if (L->kind != T_STR)
                return cexpected(L, "a quoted annotation value");
            if ((rc = cstring(L, &avals[na], NULL, NULL)))
                return rc;
            cnext(L);
            if ((rc = cexpect(L, ")", "')' after the annotation value")))
                return rc;
        }
        na++;
    }
    if (is_tok(L, "permit"))
        p->effect = ABAC_PERMIT;
    else if (is_tok(L, "forbid"))
        p->effect = ABAC_DENY;
    else
        return cexpected(L, na ? "'permit' or 'forbid' after the annotations"
                               : "'permit', 'forbid' or an annotation '@name(\"value\")'");
    cnext(L);
    if ((rc = cexpect(L, "(", "'(' to open the scope")) ||
        (rc = cexpect(L, "principal", "'principal'")) ||
        (rc = cscope_pr(L, &p->sc[0], "principal")) ||
        (rc = cexpect(L, ",", "',' or a principal constraint ('==', 'in', 'is')")) ||
        (rc = cexpect(L, "action", "'action'")) || (rc = cscope_action(L, &p->sc[1])) ||
        (rc = cexpect(L, ",", "',' or an action constraint ('==', 'in')")) ||
        (rc = cexpect(L, "resource", "'resource'")) || (rc = cscope_pr(L, &p->sc[2], "resource")) ||
        (rc = cexpect(L, ")", "')' or a resource constraint ('==', 'in', 'is')")))
        return rc;
    cnode *cond = NULL;
    while (is_tok(L, "when") || is_tok(L, "unless")) {
        int unless = is_tok(L, "unless");
        uint32_t line = L->tline, col = L->tcol;
        cnext(L);
        if ((rc = cexpect(L, "{", unless ? "'{' after 'unless'" : "'{' after 'when'")))
            return rc;
        cnode *e;
        if ((rc = cexpr(L, &e)))
            return rc;
        if ((rc = cexpect(L, "}", "'}' or an operator")))
            return rc;
        if (unless) {
            cnode *n = mknode(L, X_NOT, line, col);
            if (!n)
                return ABAC_E_NOMEM;
            n->a = e;
            e = n;
        }
        if (cond) {
            cnode *n = mknode(L, X_AND, line, col);
            if (!n)
                return ABAC_E_NOMEM;
            n->a = cond;
            n->b = e;
            e = n;
        }
        cond = e;
    }
    if ((rc = cexpect(L, ";", "'when', 'unless' or ';'")))
        return rc;
    p->cond = cond;
    p->is_template = p->sc[0].slot || p->sc[2].slot;
    p->n_ann = na;
    if (na) {
        p->ann_keys = pool_alloc(L->mem, na * sizeof(cstr));
        p->ann_vals = pool_alloc(L->mem, na * sizeof(cstr));
        if (!p->ann_keys || !p->ann_vals)
            return ABAC_E_NOMEM;
        memcpy(p->ann_keys, akeys, na * sizeof(cstr));
        memcpy(p->ann_vals, avals, na * sizeof(cstr));
    }
    snprintf(p->id, sizeof p->id, "policy%u", ps->n);
    ps->n++;
    return 0;
}

/* The action keys of policy k's scope: `action == A` and `action in A` give A, `action in
 * [A, B, …]` each distinct listed action; none for an unconstrained action. */
static uint32_t action_keys(const cpolicy *p, const cuid **keys, uint32_t cap) {
    const cscope *sc = &p->sc[1];
    if (sc->op == S_EQ || sc->op == S_IN) {
        keys[0] = sc->ent;
        return 1;
    }
    uint32_t n = 0;
    if (sc->op == S_IN_LIST)
        for (uint32_t i = 0; i < sc->n_list && n < cap; i++) {
            uint32_t j = 0;
            while (j < n && !cuid_eq(keys[j], &sc->list[i]))
                j++;
            if (j == n)
                keys[n++] = &sc->list[i];
        }
    return n;
}

static uint32_t scope_type_key(const cscope *sc) {
    if (sc->op == S_EQ && !sc->slot)
        return cedar_type_key(sc->ent->type);
    if (sc->op == S_IS || sc->op == S_IS_IN)
        return cedar_type_key(sc->type);
    return 0;
}

/* Index the policies by the actions their scopes name, so that a decision looks only at the
 * policies of its action, of the action's ancestors (`in`) and of any action; and note the
 * entity type each principal and resource scope requires (a cheap first test). */
static int build_index(abac_cedar_policies *ps) {
    uint32_t n = ps->n;
    size_t e = 0;
    const cuid *keys[256]; /* a scope lists at most 256 actions (cedar_parse) */
    for (uint32_t k = 0; k < n; k++)
        if (!ps->pol[k].is_template)
            e += action_keys(&ps->pol[k], keys, 256);
    if (e > UINT32_MAX / 4)
        return ABAC_E_LIMIT;
    ps->ght_cap = 16;
    while (ps->ght_cap < 2u * e)
        ps->ght_cap *= 2;
    ps->group_ht = calloc(ps->ght_cap, sizeof *ps->group_ht);
    ps->groups = malloc((e ? e : 1) * sizeof *ps->groups);
    ps->act_lists = malloc((e ? e : 1) * sizeof *ps->act_lists);
    ps->other = malloc((n ? n : 1) * sizeof *ps->other);
    ps->pkey = malloc((n ? n : 1) * sizeof *ps->pkey);
    ps->rkey = malloc((n ? n : 1) * sizeof *ps->rkey);
    uint32_t *gof = malloc((e ? e : 1) * sizeof *gof);
    if (!ps->group_ht || !ps->groups || !ps->act_lists || !ps->other || !gof || !ps->pkey ||
        !ps->rkey) {
        free(gof);
        return ABAC_E_NOMEM;
    }
    uint32_t m = ps->ght_cap - 1, ei = 0;
    for (uint32_t k = 0; k < n; k++) {
        ps->pkey[k] = scope_type_key(&ps->pol[k].sc[0]);
        ps->rkey[k] = scope_type_key(&ps->pol[k].sc[2]);
        uint32_t nk = action_keys(&ps->pol[k], keys, 256);
        if (ps->pol[k].is_template)
            continue; /* templates decide nothing: their links do */
        if (ps->pol[k].sc[1].op == S_ANY) {
            ps->other[ps->n_other++] = k;
            continue;
        }
        for (uint32_t j = 0; j < nk; j++) {
            uint32_t h = keys[j]->h & m;
            while (ps->group_ht[h] && !cuid_eq(ps->groups[ps->group_ht[h] - 1].uid, keys[j]))
                h = (h + 1) & m;
            if (!ps->group_ht[h]) {
                ps->groups[ps->n_groups] = (cactgroup){keys[j], 0, 0};
                ps->group_ht[h] = ++ps->n_groups;
            }
            gof[ei] = ps->group_ht[h] - 1;
            ps->groups[gof[ei]].n++;
            ei++;
        }
    }
    uint32_t off = 0;
    for (uint32_t g = 0; g < ps->n_groups; g++) {
        ps->groups[g].off = off;
        off += ps->groups[g].n;
        ps->groups[g].n = 0;
    }
    ei = 0;
    for (uint32_t k = 0; k < n; k++) {
        if (ps->pol[k].sc[1].op == S_ANY || ps->pol[k].is_template)
            continue;
        uint32_t nk = action_keys(&ps->pol[k], keys, 256);
        for (uint32_t j = 0; j < nk; j++) {
            cactgroup *g = &ps->groups[gof[ei++]];
            ps->act_lists[g->off + g->n++] = k;
        }
    }
    free(gof);
    return 0;
}

int abac_cedar_policies_parse(abac_cedar_policies **out, const char *src, size_t len,
                              uint32_t *err_line, uint32_t *err_col, char *err_msg,
                              size_t err_cap) {
    if (err_line)
        *err_line = 0;
    if (err_col)
        *err_col = 0;
    if (err_msg && err_cap)
        err_msg[0] = 0;
    if (!out || (!src && len))
        return ABAC_E_INVALID;
    *out = NULL;
    if (len > C_MAX_SRC)
        return ABAC_E_LIMIT;
    abac_cedar_policies *ps = calloc(1, sizeof *ps);
    if (!ps)
        return ABAC_E_NOMEM;
    clex L = {.s = src ? src : "", .len = len, .line = 1, .col = 1, .mem = &ps->mem};
    L.eline = err_line;
    L.ecol = err_col;
    L.emsg = err_msg;
    L.ecap = err_cap;
    cnext(&L);
    int rc = 0;
    while (L.kind != T_EOF) {
        if ((rc = cpolicy_parse(&L, ps)))
            break;
    }
    if (!rc)
        rc = build_index(ps);
    if (!rc) { /* the text as given: the canonical encoding carries it (cedar_codec.c) */
        ps->text = malloc(len ? len : 1);
        if (!ps->text)
            rc = ABAC_E_NOMEM;
        else if (len)
            memcpy(ps->text, src, len);
        ps->text_len = len;
    }
    if (rc) {
        if (rc == ABAC_E_NOMEM && err_msg && err_cap)
            snprintf(err_msg, err_cap, "out of memory");
        abac_cedar_policies_free(ps);
        return rc;
    }
    *out = ps;
    return 0;
}

void abac_cedar_policies_free(abac_cedar_policies *ps) {
    if (!ps)
        return;
    pool_free(&ps->mem);
    free(ps->pol);
    free(ps->groups);
    free(ps->group_ht);
    free(ps->act_lists);
    free(ps->other);
    free(ps->pkey);
    free(ps->rkey);
    free(ps->links);
    free(ps->text);
    free(ps->members);
    free(ps);
}

size_t abac_cedar_policy_count(const abac_cedar_policies *ps) {
    return ps ? ps->n : 0;
}

const char *abac_cedar_policy_id(const abac_cedar_policies *ps, size_t i) {
    if (!ps || i >= ps->n)
        return NULL;
    return ps->pol[i].link_id ? ps->pol[i].link_id : ps->pol[i].id;
}

int abac_cedar_policy_is_template(const abac_cedar_policies *ps, size_t i) {
    if (!ps || i >= ps->n)
        return ABAC_E_INVALID;
    return ps->pol[i].is_template;
}

size_t abac_cedar_policies_link_count(const abac_cedar_policies *ps) {
    return ps ? ps->n_links : 0;
}

static void free_index(abac_cedar_policies *ps) {
    free(ps->groups);
    free(ps->group_ht);
    free(ps->act_lists);
    free(ps->other);
    free(ps->pkey);
    free(ps->rkey);
    ps->groups = NULL;
    ps->group_ht = NULL;
    ps->act_lists = NULL;
    ps->other = NULL;
    ps->pkey = ps->rkey = NULL;
    ps->n_groups = ps->n_other = 0;
}

/* append the policy of link l (its template with the slots filled) */
static int add_link(abac_cedar_policies *ps, const clink *l) {
    if (ps->n == ps->cap) {
        uint32_t nc = ps->cap ? ps->cap * 2 : 16;
        cpolicy *np = realloc(ps->pol, nc * sizeof *np);
        if (!np)
            return ABAC_E_NOMEM;
        ps->pol = np;
        ps->cap = nc;
    }
    cpolicy *p = &ps->pol[ps->n];
    *p = ps->pol[l->tmpl];
    p->is_template = 0;
    p->link_id = l->id;
    snprintf(p->id, sizeof p->id, "policy%u", ps->n);
    if (p->sc[0].slot) {
        p->sc[0].ent = &l->p;
        p->sc[0].slot = 0;
    }
    if (p->sc[2].slot) {
        p->sc[2].ent = &l->r;
        p->sc[2].slot = 0;
    }
    ps->n++;
    return 0;
}

/* a text policy's id, "policy<i>" with i < n_text: links may not take it */
static int is_text_id(const char *id, size_t n, uint32_t n_text) {
    if (n < 7 || n > 16 || memcmp(id, "policy", 6) || (id[6] == '0' && n > 7))
        return 0;
    uint64_t v = 0;
    for (size_t k = 6; k < n; k++) {
        if (id[k] < '0' || id[k] > '9')
            return 0;
        v = v * 10 + (uint64_t)(id[k] - '0');
    }
    return v < n_text;
}

typedef struct idref {
    const char *p;
    size_t n;
} idref;

static int idref_cmp(const void *a, const void *b) {
    const idref *x = a, *y = b;
    size_t m = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->p, y->p, m);
    return c ? c : (x->n > y->n) - (x->n < y->n);
}

static int dup_uid(pool *p, cuid *dst, const cuid *src) {
    *dst = *src;
    dst->type.p = pool_dup(p, src->type.p, src->type.n);
    dst->id.p = pool_dup(p, src->id.p, src->id.n);
    dst->h = cuid_hash(dst);
    return dst->type.p && dst->id.p ? 0 : ABAC_E_NOMEM;
}

int cedar_policies_relink(abac_cedar_policies **out, const abac_cedar_policies *ps,
                          const clink_in *links, uint32_t n) {
    if (!out || !ps || !ps->text || (n && !links) || n > C_MAX_LINKS)
        return ABAC_E_INVALID;
    *out = NULL;
    abac_cedar_policies *np = NULL;
    int rc = abac_cedar_policies_parse(&np, ps->text, ps->text_len, NULL, NULL, NULL, 0);
    if (rc)
        return rc;
    uint32_t n_text = np->n;
    /* every link names a template of the text, fills exactly its slots and has a fresh id */
    for (uint32_t i = 0; i < n && !rc; i++) {
        const clink_in *l = &links[i];
        const cpolicy *t = l->tmpl < n_text ? &np->pol[l->tmpl] : NULL;
        if (!t || !t->is_template || t->sc[0].slot != l->has_p || t->sc[2].slot != l->has_r ||
            !l->id || !l->id_n || l->id_n > 256 || memchr(l->id, 0, l->id_n))
            rc = ABAC_E_INVALID;
        else if (is_text_id(l->id, l->id_n, n_text))
            rc = ABAC_E_DUPLICATE_RULE;
    }
    idref *ids = !rc && n > 1 ? malloc((size_t)n * sizeof *ids) : NULL;
    if (!rc && n > 1) {
        if (!ids) {
            rc = ABAC_E_NOMEM;
        } else {
            for (uint32_t i = 0; i < n; i++)
                ids[i] = (idref){links[i].id, links[i].id_n};
            qsort(ids, n, sizeof *ids, idref_cmp);
            for (uint32_t i = 1; i < n && !rc; i++)
                if (!idref_cmp(&ids[i - 1], &ids[i]))
                    rc = ABAC_E_DUPLICATE_RULE;
        }
    }
    free(ids);
    np->version = ps->version;
    if (!rc && ps->n_members) {
        np->members = malloc((size_t)ps->n_members * 32);
        if (!np->members) {
            rc = ABAC_E_NOMEM;
        } else {
            memcpy(np->members, ps->members, (size_t)ps->n_members * 32);
            np->n_members = ps->n_members;
        }
    }
    if (!rc && n && !(np->links = calloc(n, sizeof *np->links)))
        rc = ABAC_E_NOMEM;
    for (uint32_t i = 0; i < n && !rc; i++) {
        clink *l = &np->links[i];
        l->tmpl = links[i].tmpl;
        l->id = pool_dup(&np->mem, links[i].id, links[i].id_n);
        if (!l->id || (links[i].has_p && dup_uid(&np->mem, &l->p, &links[i].p)) ||
            (links[i].has_r && dup_uid(&np->mem, &l->r, &links[i].r)))
            rc = ABAC_E_NOMEM;
        else
            np->n_links = i + 1;
    }
    if (!rc && n) {
        free_index(np);
        for (uint32_t i = 0; i < np->n_links && !rc; i++)
            rc = add_link(np, &np->links[i]);
        if (!rc)
            rc = build_index(np);
    }
    if (rc) {
        abac_cedar_policies_free(np);
        return rc;
    }
    *out = np;
    return 0;
}

int abac_cedar_policies_link(abac_cedar_policies **out, const abac_cedar_policies *ps,
                             size_t template_index, const char *link_id, size_t link_id_len,
                             const char *principal, size_t principal_len, const char *resource,
                             size_t resource_len) {
    if (!out || !ps || !ps->text || !link_id || template_index >= ps->n)
        return ABAC_E_INVALID;
    *out = NULL;
    if (ps->n_links >= C_MAX_LINKS)
        return ABAC_E_LIMIT;
    clink_in *ls = malloc(((size_t)ps->n_links + 1) * sizeof *ls);
    if (!ls)
        return ABAC_E_NOMEM;
    for (uint32_t i = 0; i < ps->n_links; i++) {
        const clink *o = &ps->links[i];
        const cpolicy *t = &ps->pol[o->tmpl];
        ls[i] = (clink_in){o->tmpl, o->id, strlen(o->id), o->p, o->r, t->sc[0].slot, t->sc[2].slot};
    }
    pool tmp = {0};
    clink_in *l = &ls[ps->n_links];
    memset(l, 0, sizeof *l);
    l->tmpl = (uint32_t)template_index;
    l->id = link_id;
    l->id_n = link_id_len;
    l->has_p = principal != NULL;
    l->has_r = resource != NULL;
    int rc = 0;
    if ((principal && cedar_parse_uid_text(&tmp, principal, principal_len, &l->p)) ||
        (resource && cedar_parse_uid_text(&tmp, resource, resource_len, &l->r)))
        rc = ABAC_E_INVALID;
    if (!rc)
        rc = cedar_policies_relink(out, ps, ls, ps->n_links + 1);
    pool_free(&tmp);
    free(ls);
    return rc;
}

int abac_cedar_policy_effect(const abac_cedar_policies *ps, size_t i) {
    return ps && i < ps->n ? ps->pol[i].effect : ABAC_E_INVALID;
}

const char *abac_cedar_policy_annotation(const abac_cedar_policies *ps, size_t i, const char *key,
                                         size_t key_len, size_t *value_len) {
    if (!ps || i >= ps->n || (!key && key_len))
        return NULL;
    const cpolicy *p = &ps->pol[i];
    cstr k = {key, (uint32_t)key_len};
    for (uint32_t j = 0; j < p->n_ann; j++) {
        if (cstr_eq(p->ann_keys[j], k)) {
            if (value_len)
                *value_len = p->ann_vals[j].n;
            return p->ann_vals[j].p;
        }
    }
    return NULL;
}

/* `Type::"id"` as a whole string (requests in Cedar syntax). */
int cedar_parse_uid_text(pool *p, const char *s, size_t len, cuid *out) {
    clex L = {.s = s, .len = len, .line = 1, .col = 1, .mem = p};
    cnext(&L);
    if (centity_lit(&L, out))
        return ABAC_E_SYNTAX;
    return L.kind == T_EOF ? 0 : ABAC_E_SYNTAX;
}
