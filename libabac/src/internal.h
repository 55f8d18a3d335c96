/* libabac internals: the compiled form shared by the parser, the codec and the evaluator. */
#ifndef ABAC_INTERNAL_H
#define ABAC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "abac.h"

#define NONE32 0xFFFFFFFFu

/* Limits keep untrusted input (text or bytes) bounded. */
#define MAX_SRC       (16u << 20)
#define MAX_RULES     65536u
#define MAX_NODES     (1u << 20)
#define MAX_DEPTH     64u
#define MAX_STRLEN    4096u
#define MAX_SET_ELEMS 4096u
#define MAX_MEMBERS   1024u
#define MAX_ACTIONS   256u
#define MAX_OBLS      64u
#define MAX_ATTRS     4096u

/* Static types (0 = unknown: no schema, checked at run time). */
enum {
    T_UNKNOWN = 0,
    T_BOOL = 1,
    T_INT = 2,
    T_STR = 3,
    T_TIME = 4,
    T_SSET = 5,
    T_ISET = 6,
    T_ENTITY = 7
};

/* Node operators; the numbers are part of the binary format (docs/formats/abac.md). */
enum {
    N_TRUE = 1,
    N_FALSE = 2,
    N_INT = 3,  /* i */
    N_STR = 4,  /* i = string id */
    N_TIME = 5, /* i */
    N_SET = 6,  /* a = first element in set pool, b = count; type T_SSET / T_ISET */
    N_ATTR = 7, /* scope, i = attribute name string id, slot */
    N_HAS = 8,  /* scope, i, slot */
    N_SUBJECT = 9,
    N_RESOURCE = 10,
    N_ACTION = 11,
    N_EQ = 12,
    N_NE = 13,
    N_LT = 14,
    N_LE = 15,
    N_GT = 16,
    N_GE = 17,
    N_IN = 18,
    N_AND = 19,
    N_OR = 20,
    N_NOT = 21 /* a */
};
#define N_LAST N_NOT

typedef struct node {
    uint8_t op;
    uint8_t type; /* static type */
    uint8_t scope;
    uint8_t pad;
    uint32_t a, b; /* children / set range */
    uint32_t slot;
    uint32_t line, col;
    int64_t i;
} node;

typedef struct rule {
    uint8_t effect;          /* ABAC_PERMIT / ABAC_DENY(forbid) */
    uint32_t id;             /* string id of the rule id */
    uint32_t cond;           /* root node or NONE32 */
    uint32_t act_off, n_act; /* string ids in act pool; n_act = 0: any action */
    uint32_t res_type;       /* string id or NONE32: any type */
    uint32_t obl_off, n_obl; /* string ids in obl pool */
    uint32_t line, col;
} rule;

typedef struct sattr { /* schema attribute */
    uint8_t scope;
    uint8_t type;
    uint32_t name; /* string id */
} sattr;

typedef struct slotinfo {
    uint8_t scope;
    uint8_t type; /* schema type or T_UNKNOWN */
    uint32_t name;
} slotinfo;

typedef struct strent {
    uint32_t off, len;
} strent;

struct abac_policyset {
    /* strings: NUL-terminated copies in blob */
    char *blob;
    size_t blob_len, blob_cap;
    strent *strs;
    uint32_t n_strs, cap_strs;
    uint32_t *shash; /* open addressing, size hcap, values string id+1 */
    uint32_t hcap;

    node *nodes;
    uint32_t n_nodes, cap_nodes;
    int64_t *setpool; /* set literal elements: ints or string ids, sorted canonically */
    uint32_t n_setpool, cap_setpool;
    uint32_t *u32pool; /* actions and obligations of rules */
    uint32_t n_u32, cap_u32;
    rule *rules;
    uint32_t n_rules, cap_rules;
    sattr *schema;
    uint32_t n_schema, cap_schema;
    int has_schema;

    uint64_t version;
    uint8_t *members;
    uint32_t n_members;

    /* linked: attribute slots, per-string slot lookups, index */
    slotinfo *slots;
    uint32_t n_slots;
    uint32_t *slot_of; /* [3 * n_strs]: slot of (scope, name) or NONE32 */
    uint32_t *act_idx; /* [n_strs]: action index or NONE32 */
    uint32_t n_actidx;
    uint32_t *type_idx; /* [n_strs]: resource type index or NONE32 */
    uint32_t n_typeidx;
    uint32_t *bucket_off; /* [(n_actidx+1)*(n_typeidx+1) + 1] */
    uint32_t *bucket;     /* rule indices */
    int index_by_type;
};

/* Request value. */
typedef struct val {
    uint8_t t;
    uint8_t present;
    uint32_t n;    /* string length / set count */
    int64_t i;     /* int, time, bool; string id or -1 */
    const void *p; /* string bytes / set elements (struct val[]) */
} val;

struct abac_request {
    const abac_policyset *ps;
    uint8_t *arena;
    size_t cap, used, base;
    val *slots;
    val action;
    val ent_id[2];
    val ent_type[2];
    val *anc[2];
    uint32_t n_anc[2], cap_anc[2];
};

typedef struct rterr {
    uint32_t rule;
    int code;
} rterr;

typedef struct expl {
    uint32_t rule;
    uint8_t reason;
    uint32_t node;
} expl;

struct abac_decision {
    const abac_policyset *ps;
    int effect;
    uint32_t n_rules, n_obl, n_err, n_expl;
    uint32_t *rules;
    uint32_t *obls;
    uint8_t *obl_seen;
    rterr *errs;
    expl *expls;
};

/* strings */
int ps_intern(abac_policyset *ps, const char *s, size_t len, uint32_t *id);
int64_t ps_lookup(const abac_policyset *ps, const char *s, size_t len);
static inline const char *ps_str(const abac_policyset *ps, uint32_t id) {
    return ps->blob + ps->strs[id].off;
}
static inline uint32_t ps_strlen(const abac_policyset *ps, uint32_t id) {
    return ps->strs[id].len;
}

int ps_push_node(abac_policyset *ps, const node *n, uint32_t *idx);
int ps_push_set(abac_policyset *ps, int64_t v);
int ps_push_u32(abac_policyset *ps, uint32_t v);
int ps_push_rule(abac_policyset *ps, const rule *r);
int ps_push_schema(abac_policyset *ps, uint8_t scope, uint8_t type, uint32_t name);
abac_policyset *ps_alloc(void);
int ps_set_members(abac_policyset *ps, const uint8_t *members, size_t n);

/* check types (with or without schema), canonicalise sets, link slots and build the index.
 * On error fills *bad_node with the offending node (or NONE32) and msg. */
int ps_finish(abac_policyset *ps, uint32_t *bad_node, uint32_t *bad_rule, char *msg, size_t cap);

/* print a node in canonical syntax; returns length that would be written */
size_t ps_print(const abac_policyset *ps, uint32_t node, char *out, size_t cap);

int ps_parse_schema(abac_policyset *ps, const char *src, size_t len, uint32_t *line, uint32_t *col,
                    char *msg, size_t cap);
int ps_parse_policies(abac_policyset *ps, const char *src, size_t len, uint32_t *line,
                      uint32_t *col, char *msg, size_t cap);

const char *abac_type_name(int t);

#endif
