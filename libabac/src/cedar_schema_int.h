/* The in-memory Cedar schema (cedar_schema.c), shared with libabac/analyze/, which reads it to
 * restrict its analysis to the requests a schema allows. Internal: not part of libabac's API. */
#ifndef CEDAR_SCHEMA_INT_H
#define CEDAR_SCHEMA_INT_H

#include "cedar_int.h"

enum {
    K_ERR = 0, /* an error was already reported below */
    K_BOOL,
    K_TRUE,
    K_FALSE,
    K_LONG,
    K_STR,
    K_SET,
    K_REC,
    K_ENT,
    K_DEC,
    K_IP,
    K_DT,
    K_DUR,
    K_REF /* a name not yet resolved (schema reading only) */
};

typedef struct ctype ctype;
typedef struct cattrd {
    cstr name;
    ctype *t;
    uint8_t req;
} cattrd;

struct ctype {
    uint8_t k, open, want; /* K_REF want: 0 entity or common, 1 entity, 2 common */
    uint8_t resolving;
    uint32_t n;
    ctype *elem;
    cattrd *attrs;
    cstr name; /* K_ENT: qualified name; K_REF: name as written */
    cstr ns;   /* K_REF: namespace it was written in */
};

typedef struct sent {
    cstr name;
    cstr *mem; /* memberOfTypes, qualified after resolution */
    uint32_t n_mem;
    ctype *shape; /* record */
    ctype *tags;  /* NULL: no tags */
    cstr *enums;
    uint32_t n_enum;
    uint8_t is_enum;
    cstr ns;
} sent;

typedef struct sact {
    cuid uid;
    cuid *mem;
    uint32_t n_mem;
    cstr *pt, *rt; /* principal / resource types */
    uint32_t n_pt, n_rt;
    uint32_t *pti, *rti; /* their entity indices */
    ctype *ctx;
    uint8_t applies;
    cstr ns;
} sact;

typedef struct sctype {
    cstr name;
    ctype *t;
} sctype;

struct abac_cedar_schema {
    pool mem;
    sent *e;
    uint32_t ne, cape;
    sact *a;
    uint32_t na, capa;
    sctype *ct;
    uint32_t nct, capct;
    uint64_t *eanc; /* ne rows of ewords words: bit j of row i: type j is a (transitive)
                       memberOfType of type i */
    uint64_t *aanc; /* na rows of awords words: action j is an ancestor of action i */
    size_t ewords, awords;
};

#endif
