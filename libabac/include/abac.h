/**
 * @file abac.h
 * @brief libabac: attribute-based access control that every replica decides alike.
 *
 * A small policy language in the spirit of Cedar (docs/abac-language.md): `permit` and
 * `forbid` rules with ids, forbid wins, default deny; conditions over subject, action,
 * resource and context attributes; obligations on permits; an optional schema that policies
 * are type-checked against. Compiled policy sets have a canonical binary form
 * (docs/formats/abac.md) and are replaced only by updates signed by more than two thirds of
 * the members of the current set.
 *
 * Evaluation is deterministic: no clock, no floating point, no locale, and no allocation in
 * abac_decide() (requests and decisions are pre-sized).
 *
 * Thread safety: an abac_policyset is immutable after it is built and may be shared by any
 * number of threads. An abac_request or abac_decision belongs to one thread at a time.
 * abac_strerror() and abac_version_string() are always safe.
 */
#ifndef ABAC_H
#define ABAC_H

#include <stddef.h>
#include <stdint.h>

#include "abac/version.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(ABAC_BUILDING) && defined(__GNUC__)
#define ABAC_API __attribute__((visibility("default")))
#else
#define ABAC_API
#endif

/** Return codes: 0 is success, every error is in −400 … −499. */
enum abac_error {
    /* clang-format off */
    /* codes:begin libabac.core.enum: generated from libabac/codes.tsv by tools/gen_codes.py */
    /** Success. */
    ABAC_OK = 0,
    /** An argument is invalid (NULL, out of range). */
    ABAC_E_INVALID = -400,
    /** Out of memory. */
    ABAC_E_NOMEM = -401,
    /** Policy text does not parse. */
    ABAC_E_SYNTAX = -402,
    /** Policy does not type-check. */
    ABAC_E_TYPE = -403,
    /** Schema text is invalid. */
    ABAC_E_SCHEMA = -404,
    /** Attribute not declared in the schema. */
    ABAC_E_UNKNOWN_ATTR = -405,
    /** Two rules share one id. */
    ABAC_E_DUPLICATE_RULE = -406,
    /** A size or nesting limit was exceeded. */
    ABAC_E_LIMIT = -407,
    /** Cedar JSON text (entities, request) is malformed. */
    ABAC_E_JSON = -408,
    /** Encoded bytes are malformed or not canonical. */
    ABAC_E_FORMAT = -410,
    /** Unknown magic or format version. */
    ABAC_E_FORMAT_VERSION = -411,
    /** Output buffer or request arena too small. */
    ABAC_E_BUFFER_TOO_SMALL = -412,
    /** Request value has another type than the schema says. */
    ABAC_E_ATTR_TYPE = -413,
    /** No such rule / attribute / item. */
    ABAC_E_NOT_FOUND = -414,
    /** Runtime: a condition read an absent attribute. */
    ABAC_E_MISSING_ATTR = -420,
    /** Runtime: operand of the wrong type. */
    ABAC_E_RUNTIME_TYPE = -421,
    /** Runtime: an attribute of an entity that is not in the entities. */
    ABAC_E_NO_ENTITY = -422,
    /** Runtime: 64-bit integer overflow. */
    ABAC_E_OVERFLOW = -423,
    /** Runtime: an extension function refused its argument. */
    ABAC_E_EXTENSION = -424,
    /** Update's version is not newer than the current one. */
    ABAC_E_STALE_VERSION = -440,
    /** Update is the current set itself, seen again. */
    ABAC_E_REPLAY = -441,
    /** One member signed twice. */
    ABAC_E_DUPLICATE_SIGNER = -442,
    /** A signer is not a member of the current set. */
    ABAC_E_NOT_MEMBER = -443,
    /** A signature does not verify. */
    ABAC_E_BAD_SIGNATURE = -444,
    /** Not more than 2/3 of the current members signed. */
    ABAC_E_NO_QUORUM = -445,
    /** Update was signed against another current set. */
    ABAC_E_WRONG_BASE = -446,
    /** Current set names no members: it cannot be updated. */
    ABAC_E_NO_MEMBERS = -447
    /* codes:end */
    /* clang-format on */
};

/* clang-format off */
/* codes:begin libabac.core.aliases: generated from libabac/codes.tsv by tools/gen_codes.py */
#define ABAC_E_NOSPACE ABAC_E_BUFFER_TOO_SMALL /**< Deprecated name of ABAC_E_BUFFER_TOO_SMALL. */
/* codes:end */
/* clang-format on */

/** Static English text for a return code (never NULL). */
ABAC_API const char *abac_strerror(int code);

/** Runtime version string "MAJOR.MINOR.PATCH". */
ABAC_API const char *abac_version_string(void);

/** Value types of attributes (schema and request). */
enum abac_type {
    ABAC_TYPE_BOOL = 1,
    ABAC_TYPE_INT = 2,       /**< int64 */
    ABAC_TYPE_STRING = 3,    /**< bytes, compared bytewise */
    ABAC_TYPE_TIMESTAMP = 4, /**< int64 seconds since 1970-01-01T00:00:00Z */
    ABAC_TYPE_SET_STRING = 5,
    ABAC_TYPE_SET_INT = 6
};

/** The three attribute scopes of a request. */
enum abac_scope { ABAC_SUBJECT = 0, ABAC_RESOURCE = 1, ABAC_CONTEXT = 2 };

/** Effects. */
enum abac_effect { ABAC_DENY = 0, ABAC_PERMIT = 1 };

/** Size of an Ed25519 public key, secret key (libsodium form), signature; SHA-256 digest. */
#define ABAC_PUBKEY_BYTES 32
#define ABAC_SECKEY_BYTES 64
#define ABAC_SIG_BYTES    64
#define ABAC_HASH_BYTES   32

/** A compiled, immutable policy set (rules, schema, version, members). */
typedef struct abac_policyset abac_policyset;
/** A request being built against one policy set (pre-sized arena). */
typedef struct abac_request abac_request;
/** The outcome of abac_decide(), pre-sized for one policy set. */
typedef struct abac_decision abac_decision;

/** Options of abac_policyset_compile(). */
typedef struct abac_compile_options {
    uint32_t version;       /**< ABAC_COMPILE_OPTIONS_VERSION */
    const char *schema;     /**< schema text (docs/abac-language.md) or NULL: untyped */
    size_t schema_len;      /**< bytes of schema */
    uint64_t set_version;   /**< version number of this policy set */
    const uint8_t *members; /**< n_members Ed25519 public keys, 32 bytes each, or NULL */
    size_t n_members;       /**< number of members (at most 1024) */
} abac_compile_options;

#define ABAC_COMPILE_OPTIONS_VERSION 1
#define ABAC_COMPILE_OPTIONS_INIT                                                                  \
    { ABAC_COMPILE_OPTIONS_VERSION, NULL, 0, 0, NULL, 0 }

/** Set @p opts (out) to the defaults. @return ABAC_OK, ABAC_E_INVALID if NULL. */
ABAC_API int abac_compile_options_init(abac_compile_options *opts);

/**
 * Parse, type-check (against opts->schema if given) and index a policy set.
 *
 * @param src         in: policy text (need not be NUL-terminated)
 * @param len         in: bytes of @p src (at most 16 MiB)
 * @param opts        in: options, or NULL for defaults (no schema, version 0, no members)
 * @param out         out: the new policy set, owned by the caller (abac_policyset_free)
 * @param err_line    out, may be NULL: 1-based line of the first error (0 if none)
 * @param err_col     out, may be NULL: 1-based column of the first error
 * @param err_msg     out, may be NULL: NUL-terminated message ("expected ... , found ...")
 * @param err_msg_cap in: bytes available at @p err_msg
 * @return ABAC_OK; ABAC_E_INVALID, ABAC_E_SYNTAX, ABAC_E_TYPE, ABAC_E_SCHEMA,
 *         ABAC_E_UNKNOWN_ATTR, ABAC_E_DUPLICATE_RULE, ABAC_E_LIMIT, ABAC_E_NOMEM.
 */
ABAC_API int abac_policyset_compile(const char *src, size_t len, const abac_compile_options *opts,
                                    abac_policyset **out, uint32_t *err_line, uint32_t *err_col,
                                    char *err_msg, size_t err_msg_cap);

/** Free a policy set; NULL is a no-op. Requests and decisions made for it must go first. */
ABAC_API void abac_policyset_free(abac_policyset *ps);

/** Number of rules. */
ABAC_API size_t abac_policyset_rule_count(const abac_policyset *ps);
/** Id of rule @p i (0-based, in source order), NUL-terminated, owned by @p ps; NULL if out of
 * range. */
ABAC_API const char *abac_policyset_rule_id(const abac_policyset *ps, size_t i);
/** Version number of the set. */
ABAC_API uint64_t abac_policyset_version(const abac_policyset *ps);
/** Number of members. */
ABAC_API size_t abac_policyset_member_count(const abac_policyset *ps);
/** Public key of member @p i (members are sorted bytewise), 32 bytes owned by @p ps; NULL if
 * out of range. */
ABAC_API const uint8_t *abac_policyset_member(const abac_policyset *ps, size_t i);

/**
 * Canonical binary form (docs/formats/abac.md). Query the size with
 * abac_policyset_encoded_size().
 * @param out     out: buffer of @p cap bytes
 * @param out_len out: bytes written
 * @return ABAC_OK, ABAC_E_INVALID, ABAC_E_BUFFER_TOO_SMALL.
 */
ABAC_API int abac_policyset_encode(const abac_policyset *ps, uint8_t *out, size_t cap,
                                   size_t *out_len);
/** Bytes of the canonical form of @p ps (0 if @p ps is NULL). */
ABAC_API size_t abac_policyset_encoded_size(const abac_policyset *ps);
/** SHA-256 of the canonical form. @return ABAC_OK, ABAC_E_INVALID. */
ABAC_API int abac_policyset_hash(const abac_policyset *ps, uint8_t out[ABAC_HASH_BYTES]);

/**
 * Decode a canonical policy set (untrusted bytes); the result is type-checked and indexed
 * like a compiled one.
 * @return ABAC_OK; ABAC_E_INVALID, ABAC_E_FORMAT, ABAC_E_FORMAT_VERSION, ABAC_E_TYPE,
 *         ABAC_E_UNKNOWN_ATTR, ABAC_E_DUPLICATE_RULE, ABAC_E_LIMIT, ABAC_E_NOMEM.
 */
ABAC_API int abac_policyset_decode(const uint8_t *in, size_t len, abac_policyset **out);

/* ---- requests ---------------------------------------------------------------------------- */

/** Arena bytes a request needs for @p n_values scalar values and @p string_bytes of strings. */
ABAC_API size_t abac_request_arena_size(const abac_policyset *ps, size_t n_values,
                                        size_t string_bytes);

/**
 * Make a request for @p ps with an arena of @p arena_bytes (allocated once here; setters copy
 * into it and never allocate). 0 picks a default of 64 KiB.
 * @return ABAC_OK, ABAC_E_INVALID, ABAC_E_NOMEM.
 */
ABAC_API int abac_request_new(const abac_policyset *ps, size_t arena_bytes, abac_request **out);
/** Free a request; NULL is a no-op. */
ABAC_API void abac_request_free(abac_request *req);
/** Forget every value so the request can be filled again (no allocation). */
ABAC_API void abac_request_reset(abac_request *req);

/**
 * Set the action (a string). @return ABAC_OK, ABAC_E_INVALID, ABAC_E_BUFFER_TOO_SMALL.
 */
ABAC_API int abac_request_set_action(abac_request *req, const char *action, size_t len);
/**
 * Set the id and type of the subject (ABAC_SUBJECT) or resource (ABAC_RESOURCE) entity.
 * @p type may be NULL (no type). @return ABAC_OK, ABAC_E_INVALID, ABAC_E_BUFFER_TOO_SMALL.
 */
ABAC_API int abac_request_set_entity(abac_request *req, int scope, const char *id, size_t id_len,
                                     const char *type, size_t type_len);
/**
 * Add an ancestor (group) of the subject or resource entity; `subject in "g"` holds when g is
 * the entity itself or one of its ancestors. The caller gives the transitive closure.
 * @return ABAC_OK, ABAC_E_INVALID, ABAC_E_BUFFER_TOO_SMALL.
 */
ABAC_API int abac_request_add_ancestor(abac_request *req, int scope, const char *group, size_t len);

/**
 * Attribute setters; @p name is NUL-terminated, values are copied into the arena (strings the
 * policy set already holds are referenced, not copied). Setting an attribute again replaces
 * it (the old value's arena space comes back at abac_request_reset). Attributes that no rule
 * mentions and the schema does not declare are accepted and ignored. With a schema, a value of
 * another type is refused. On error the request is unchanged.
 * @return ABAC_OK; ABAC_E_INVALID (bad scope or NULL), ABAC_E_ATTR_TYPE, ABAC_E_BUFFER_TOO_SMALL.
 */
ABAC_API int abac_request_set_bool(abac_request *req, int scope, const char *name, int value);
ABAC_API int abac_request_set_int(abac_request *req, int scope, const char *name, int64_t value);
ABAC_API int abac_request_set_timestamp(abac_request *req, int scope, const char *name,
                                        int64_t seconds);
ABAC_API int abac_request_set_string(abac_request *req, int scope, const char *name,
                                     const char *value, size_t len);
/** A set of strings given as @p n pointers and lengths. */
ABAC_API int abac_request_set_string_set(abac_request *req, int scope, const char *name,
                                         const char *const *values, const size_t *lens, size_t n);
/** A set of integers. */
ABAC_API int abac_request_set_int_set(abac_request *req, int scope, const char *name,
                                      const int64_t *values, size_t n);

/* ---- decisions --------------------------------------------------------------------------- */

/** Make a decision object sized for @p ps. @return ABAC_OK, ABAC_E_INVALID, ABAC_E_NOMEM. */
ABAC_API int abac_decision_new(const abac_policyset *ps, abac_decision **out);
/** Free a decision; NULL is a no-op. */
ABAC_API void abac_decision_free(abac_decision *dec);

/** Flags of abac_decide(). */
#define ABAC_DECIDE_EXPLAIN 1u /**< also record why each applicable permit did not match */

/**
 * Decide @p req under @p ps into @p dec. Forbid wins; no matching permit means deny. A rule
 * whose condition hits a runtime error does not apply; the error is recorded in @p dec.
 * Never allocates.
 * @return ABAC_PERMIT (1) or ABAC_DENY (0); ABAC_E_INVALID if an argument is NULL or @p req
 *         / @p dec were made for another policy set.
 */
ABAC_API int abac_decide(const abac_policyset *ps, const abac_request *req, abac_decision *dec,
                         unsigned flags);

/** Effect of the last decision: ABAC_PERMIT or ABAC_DENY. */
ABAC_API int abac_decision_effect(const abac_decision *dec);
/** Number of deciding rules (matching permits on permit; matching forbids on a forbid deny;
 * zero on default deny). */
ABAC_API size_t abac_decision_rule_count(const abac_decision *dec);
/** Index (into the policy set) of deciding rule @p i, or SIZE_MAX if out of range. */
ABAC_API size_t abac_decision_rule(const abac_decision *dec, size_t i);
/** Number of obligations (permits only; union over the deciding rules, first-seen order). */
ABAC_API size_t abac_decision_obligation_count(const abac_decision *dec);
/** Obligation @p i, NUL-terminated, owned by the policy set; NULL if out of range. */
ABAC_API const char *abac_decision_obligation(const abac_decision *dec, size_t i);
/** Number of rules whose condition raised a runtime error. */
ABAC_API size_t abac_decision_error_count(const abac_decision *dec);
/**
 * Runtime error @p i: the rule index and error code (ABAC_E_MISSING_ATTR or
 * ABAC_E_RUNTIME_TYPE). @return ABAC_OK, ABAC_E_NOT_FOUND.
 */
ABAC_API int abac_decision_error(const abac_decision *dec, size_t i, size_t *rule, int *code);

/** Why a permit did not match (abac_decide with ABAC_DECIDE_EXPLAIN). */
enum abac_miss {
    ABAC_MISS_ACTION = 1,    /**< scope: the action is not the rule's */
    ABAC_MISS_RESOURCE = 2,  /**< scope: resource type differs */
    ABAC_MISS_CONDITION = 3, /**< a condition was false */
    ABAC_MISS_ERROR = 4      /**< a condition raised a runtime error */
};

/** Number of explained permits (every permit rule that did not match). */
ABAC_API size_t abac_decision_explain_count(const abac_decision *dec);
/**
 * Explanation @p i: rule index, reason (enum abac_miss), and for conditions the first failing
 * sub-condition printed in canonical syntax into @p text (NUL-terminated, truncated to
 * @p text_cap), with its line and column in the source (0 for decoded sets).
 * @return ABAC_OK, ABAC_E_NOT_FOUND, ABAC_E_INVALID.
 */
ABAC_API int abac_decision_explain(const abac_decision *dec, size_t i, size_t *rule, int *reason,
                                   char *text, size_t text_cap, uint32_t *line, uint32_t *col);

/* ---- versioned updates with a quorum ---------------------------------------------------- */

/**
 * The 32-byte message members sign to move from @p current to @p next:
 * SHA-256("fedshare/abac/update/v1" ‖ hash(current) ‖ hash(next)).
 * @return ABAC_OK, ABAC_E_INVALID, ABAC_E_NOMEM.
 */
ABAC_API int abac_update_message(const abac_policyset *current, const abac_policyset *next,
                                 uint8_t out[ABAC_HASH_BYTES]);

/** Sign the update message with an Ed25519 secret key (libsodium 64-byte form).
 * @return ABAC_OK, ABAC_E_INVALID, ABAC_E_NOMEM. */
ABAC_API int abac_update_sign(const abac_policyset *current, const abac_policyset *next,
                              const uint8_t seckey[ABAC_SECKEY_BYTES], uint8_t sig[ABAC_SIG_BYTES]);

/**
 * Derive an Ed25519 member key pair from a 32-byte seed (libsodium's seed form), for tests and
 * tools; production keys come from the identity layer.
 * @param seed in: 32 bytes; @param pubkey out: 32 bytes; @param seckey out: 64 bytes (secret)
 * @return ABAC_OK, ABAC_E_INVALID.
 */
ABAC_API int abac_keypair_from_seed(const uint8_t seed[32], uint8_t pubkey[ABAC_PUBKEY_BYTES],
                                    uint8_t seckey[ABAC_SECKEY_BYTES]);

/** Bytes of the encoded update of @p next with @p n_sigs signatures. */
ABAC_API size_t abac_update_encoded_size(const abac_policyset *next, size_t n_sigs);

/**
 * Encode a signed update (docs/formats/abac.md): base hash, the canonical next set, and the
 * (public key, signature) pairs sorted by public key.
 * @param pubkeys in: n × 32 bytes; @param sigs in: n × 64 bytes (same order)
 * @return ABAC_OK, ABAC_E_INVALID, ABAC_E_BUFFER_TOO_SMALL, ABAC_E_DUPLICATE_SIGNER, ABAC_E_NOMEM.
 */
ABAC_API int abac_update_encode(const abac_policyset *current, const abac_policyset *next,
                                const uint8_t *pubkeys, const uint8_t *sigs, size_t n, uint8_t *out,
                                size_t cap, size_t *out_len);

/**
 * Verify an update against the current set and, if it is accepted, return the new set.
 * Nothing changes on refusal. Accepted iff the bytes decode, the base is @p current, the
 * version is newer, and more than 2/3 of @p current's members (3·k > 2·n) signed validly with
 * no duplicate, no non-member and no bad signature.
 * @return ABAC_OK; ABAC_E_INVALID, ABAC_E_FORMAT, ABAC_E_FORMAT_VERSION, ABAC_E_NO_MEMBERS,
 *         ABAC_E_WRONG_BASE, ABAC_E_REPLAY, ABAC_E_STALE_VERSION, ABAC_E_DUPLICATE_SIGNER,
 *         ABAC_E_NOT_MEMBER, ABAC_E_BAD_SIGNATURE, ABAC_E_NO_QUORUM, ABAC_E_NOMEM, and the
 *         codes of abac_policyset_decode().
 */
ABAC_API int abac_update_apply(const abac_policyset *current, const uint8_t *update, size_t len,
                               abac_policyset **out);

#ifdef __cplusplus
}
#endif

#endif /* ABAC_H */
