/* libabac's Cedar engine internals: values, the policy AST, entities, and the bump pools
 * they live in (cedar_parse.c, cedar_json.c, cedar_eval.c). */
#ifndef ABAC_CEDAR_INT_H
#define ABAC_CEDAR_INT_H

#include <stddef.h>
#include <stdint.h>

#include "abac.h"
#include "abac/cedar.h"

#define C_MAX_SRC   (16u << 20)
#define C_MAX_JSON  (256u << 20)
#define C_MAX_DEPTH 64u
#define C_MAX_STR   (1u << 20)

/* ---- bump pool: everything of one object is freed at once ---- */
typedef struct pchunk {
    struct pchunk *next;
    size_t cap, used;
    uint8_t *data;
} pchunk;

typedef struct pool {
    pchunk *head;
    size_t total;
} pool;

void *pool_alloc(pool *p, size_t n); /* 8-aligned, NULL on out of memory */
void pool_reset(pool *p);            /* keep the chunks, forget their contents */
void pool_free(pool *p);
char *pool_dup(pool *p, const char *s, size_t n); /* NUL-terminated copy */

/* ---- values ---- */
enum {
    V_BOOL = 1,
    V_LONG = 2,
    V_STR = 3,
    V_ENT = 4,
    V_SET = 5,
    V_REC = 6,
    V_DEC = 7,
    V_IP = 8,
    V_DATETIME = 9, /* i: milliseconds since 1970-01-01T00:00:00Z */
    V_DURATION = 10 /* i: milliseconds */
};

typedef struct cstr {
    const char *p;
    uint32_t n;
} cstr;

typedef struct cuid {
    cstr type, id;
    uint32_t h; /* cuid_hash(), set wherever a uid is made: compared first */
} cuid;

typedef struct cip {
    uint8_t v6, prefix;
    uint8_t addr[16];
} cip;

typedef struct cval {
    uint8_t t;
    uint32_t n;    /* string bytes, set elements, record fields */
    int64_t i;     /* bool, long, decimal (value × 10^4) */
    const void *p; /* string bytes, cuid, cval[], cfield[], cip */
} cval;

typedef struct cfield {
    cstr key;
    cval v;
} cfield;

static inline int cstr_eq(cstr a, cstr b) {
    if (a.n != b.n)
        return 0;
    if (a.n == 0 || a.p == b.p)
        return 1;
    if (a.p[0] != b.p[0] || a.p[a.n - 1] != b.p[a.n - 1])
        return 0;
    if (a.n <= 16) { /* names and ids are short: no call */
        for (uint32_t k = 1; k + 1 < a.n; k++)
            if (a.p[k] != b.p[k])
                return 0;
        return 1;
    }
    return __builtin_memcmp(a.p + 1, b.p + 1, a.n - 2) == 0;
}
static inline int cuid_eq(const cuid *a, const cuid *b) {
    return a == b || (a->h == b->h && cstr_eq(a->id, b->id) && cstr_eq(a->type, b->type));
}

/* ---- AST ---- */
enum {
    X_LIT = 1, /* lit */
    X_VAR,     /* var: 0 principal, 1 action, 2 resource, 3 context */
    X_AND,
    X_OR,
    X_NOT,
    X_NEG,
    X_IF, /* a ? b : c */
    X_EQ,
    X_NE,
    X_LT,
    X_LE,
    X_GT,
    X_GE,
    X_ADD,
    X_SUB,
    X_MUL,
    X_IN,
    X_HAS,    /* a has name */
    X_LIKE,   /* a like pattern (pat, npat) */
    X_IS,     /* a is name [in b] */
    X_ATTR,   /* a.name / a["name"] */
    X_SET,    /* args */
    X_REC,    /* keys, args */
    X_METHOD, /* a.name(args) */
    X_CALL,   /* name(args): extension constructors */
    X_GETTAG, /* a.getTag(b) */
    X_HASTAG  /* a.hasTag(b) */
};

enum {
    M_CONTAINS = 1,
    M_CONTAINS_ALL,
    M_CONTAINS_ANY,
    M_IS_EMPTY,
    M_LESS,
    M_LESS_EQ,
    M_GREATER,
    M_GREATER_EQ,
    M_IS_IPV4,
    M_IS_IPV6,
    M_IS_LOOPBACK,
    M_IS_MULTICAST,
    M_IS_IN_RANGE,
    M_OFFSET,
    M_DURATION_SINCE,
    M_TO_DATE,
    M_TO_TIME,
    M_TO_MS,
    M_TO_S,
    M_TO_MIN,
    M_TO_H,
    M_TO_D,
    F_DECIMAL,
    F_IP,
    F_DATETIME,
    F_DURATION
};

typedef struct cnode {
    uint8_t op;
    uint8_t var;   /* X_VAR: variable; X_METHOD / X_CALL: M_* / F_* */
    uint8_t has_b; /* X_IS: with 'in' */
    uint32_t n;    /* args / pattern length */
    struct cnode *a, *b, *c;
    struct cnode **args;
    cstr *keys;
    cstr name;
    const int16_t *pat; /* like: bytes, -1 for the wildcard */
    cval lit;
    uint32_t line, col;
} cnode;

/* scope constraints */
enum { S_ANY = 0, S_EQ = 1, S_IN = 2, S_IS = 3, S_IS_IN = 4, S_IN_LIST = 5 };

typedef struct cscope {
    uint8_t op;
    uint8_t slot;    /* S_EQ, S_IN, S_IS_IN of a template: the entity is the slot (ent NULL) */
    cstr type;       /* S_IS, S_IS_IN */
    const cuid *ent; /* S_EQ, S_IN, S_IS_IN */
    const cuid *list;
    uint32_t n_list; /* S_IN_LIST (actions) */
} cscope;

typedef struct cpolicy {
    uint8_t effect;      /* ABAC_PERMIT or ABAC_DENY */
    uint8_t is_template; /* a slot in its scope: decides nothing, its links do */
    const char *link_id; /* a template link's id (NULL: the id is `id`) */
    cscope sc[3];        /* principal, action, resource */
    cnode *cond;         /* NULL: true */
    cstr *ann_keys, *ann_vals;
    uint32_t n_ann;
    char id[24];
    uint32_t line, col;
} cpolicy;

typedef struct clink {
    uint32_t tmpl; /* index of the template */
    char *id;
    cuid p, r; /* slot values (unused if the template has no such slot) */
} clink;

typedef struct cactgroup {
    const cuid *uid;
    uint32_t off, n; /* policy indices in act_lists, ascending */
} cactgroup;

struct abac_cedar_policies {
    pool mem;
    cpolicy *pol;
    uint32_t n, cap;
    /* the versioned set the ledger stores (cedar_codec.c): the text as given, the version
     * and the members whose quorum may replace it */
    char *text;
    size_t text_len;
    uint64_t version;
    uint8_t *members; /* sorted, 32 bytes each */
    uint32_t n_members;
    /* index (1.1.0): the policies whose action scope names actions (`action == A`,
     * `action in A`, `action in [A, B]`) listed under each action named; a decision looks at
     * the lists of its action and of that action's ancestors, and at `other` (any action) */
    cactgroup *groups;
    uint32_t n_groups;
    uint32_t *group_ht; /* open addressing, group index + 1 */
    uint32_t ght_cap;
    uint32_t *act_lists;
    uint32_t *other; /* ascending: policies with an unconstrained action */
    uint32_t n_other;
    /* template links (abac_cedar_policies_link), appended as policies after the text's */
    struct clink *links;
    uint32_t n_links;
    /* per policy: cedar_type_key() of the principal / resource type its scope requires
     * (`==`, `is`, `is … in`), 0 if any type may match; both NULL in a set built without
     * build_index (then not used) */
    uint32_t *pkey, *rkey;
};

/* a non-zero hash of an entity type name: different keys mean different types */
static inline uint32_t cedar_type_key(cstr t) {
    uint32_t h = 2166136261u;
    for (uint32_t k = 0; k < t.n; k++)
        h = (h ^ (uint8_t)t.p[k]) * 16777619u;
    return h | 1u;
}

typedef struct centity {
    cuid uid;
    cval attrs; /* record */
    cval tags;  /* record */
    const cuid **anc;
    uint32_t n_anc;
    const cuid *parents;
    uint32_t n_parents;
} centity;

struct abac_cedar_entities {
    pool mem;
    centity *e;
    uint32_t n, cap;
    uint32_t *ht; /* open addressing, entity index + 1 */
    uint32_t hcap;
};

struct abac_cedar_request {
    pool mem;
    cuid uid[3]; /* principal, action, resource */
    cval context;
};

typedef struct cerr {
    uint32_t policy;
    int code;
} cerr;

struct abac_cedar_response {
    const abac_cedar_policies *ps;
    uint32_t cap;
    uint32_t *reasons;
    uint32_t n_reasons;
    cerr *errs;
    uint32_t n_errs;
    int decision;
    pool scratch;
};

uint32_t cuid_hash(const cuid *u);
const centity *cedar_entity_find(const abac_cedar_entities *es, const cuid *u);

/* JSON values into the pool (cedar_json.c). */
int cedar_json_value(pool *p, const char *s, size_t len, size_t *pos, cval *out, int depth,
                     char *msg, size_t cap);
/* Parse `Type::"id"` (with namespaces) in full: 0 or ABAC_E_SYNTAX. */
int cedar_parse_uid_text(pool *p, const char *s, size_t len, cuid *out);
/* ip text into *out: 0 or -1. decimal text into *out: 0 or -1. */
int cedar_parse_ip(const char *s, size_t n, cip *out);
int cedar_parse_decimal(const char *s, size_t n, int64_t *out);
/* datetime / duration text into milliseconds: 0 or -1 */
int cedar_parse_datetime(const char *s, size_t n, int64_t *out);
int cedar_parse_duration(const char *s, size_t n, int64_t *out);

/* Unicode checks of the validator's warnings (cedar_unicode.c, UTS #39): a BIDI control
 * character (U+202A–U+202E, U+2066–U+2069); one script for the whole text (Common and Inherited
 * go with any); every character of Identifier_Status Allowed. */
int cedar_text_has_bidi(const char *s, size_t n);
int cedar_text_single_script(const char *s, size_t n);
int cedar_ident_allowed(const char *s, size_t n);

/* Template links as given to cedar_policies_relink(): strings owned by the caller. */
#define C_MAX_LINKS 65536u
typedef struct clink_in {
    uint32_t tmpl; /* index of a template of the text */
    const char *id;
    size_t id_n;
    cuid p, r;
    uint8_t has_p, has_r; /* exactly the template's slots */
} clink_in;
/* A new set: the text, version and members of ps (its own links ignored) with the links
 * `links[0..n)` appended in order. ABAC_E_INVALID (no such template, slots missing or extra,
 * a bad id), ABAC_E_DUPLICATE_RULE (an id taken), ABAC_E_NOMEM (cedar_parse.c). */
int cedar_policies_relink(abac_cedar_policies **out, const abac_cedar_policies *ps,
                          const clink_in *links, uint32_t n);

/* Read a schema (JSON when its first non-blank byte is '{', else the human syntax) and validate
 * ps against it: 0, the schema's error, or the code of the first validation error with its
 * place and message (cedar_schema.c). */
int cedar_validate_against_text(const abac_cedar_policies *ps, const char *schema, size_t len,
                                uint32_t *line, uint32_t *col, char *msg, size_t cap);

#endif
