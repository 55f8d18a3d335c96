/**
 * @file abac/cedar.h
 * @brief libabac's Cedar engine: Cedar policy text, Cedar's JSON entities and requests.
 *
 * The language is Cedar's (https://docs.cedarpolicy.com, policy syntax and semantics); the
 * subset implemented and its limits are in docs/abac-language.md. Decisions follow Cedar:
 * a satisfied forbid denies, otherwise a satisfied permit allows, otherwise deny; a policy
 * whose condition raises an error is skipped and reported with its index. Policy ids are
 * Cedar's ids for policies read from one text: "policy0", "policy1", … in source order; the
 * `@id("…")` annotation and the others are kept and can be read back.
 *
 * Deterministic: no clock, no floating point, no locale. Once the policies, the entities and
 * a response object exist, abac_cedar_is_authorized() allocates only when a condition builds
 * more set or record values than the response's scratch arena holds (the arena then grows
 * once and is kept).
 *
 * Thread safety: policies and entities are immutable once made and may be shared by any
 * number of threads; a request and a response belong to one thread at a time.
 */
#ifndef ABAC_CEDAR_H
#define ABAC_CEDAR_H

#include <stddef.h>
#include <stdint.h>

#include "../abac.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A parsed Cedar policy set (immutable). */
typedef struct abac_cedar_policies abac_cedar_policies;
/** A set of Cedar entities with their attributes and transitive ancestors (immutable). */
typedef struct abac_cedar_entities abac_cedar_entities;
/** One request: principal, action, resource (entity UIDs) and context (a record). */
typedef struct abac_cedar_request abac_cedar_request;
/** The outcome of abac_cedar_is_authorized(), sized for one policy set. */
typedef struct abac_cedar_response abac_cedar_response;

/**
 * Parse Cedar policy text (any number of policies).
 *
 * @param out      out: the policies, owned by the caller (abac_cedar_policies_free)
 * @param src      in: policy text, UTF-8, need not be NUL-terminated (at most 16 MiB)
 * @param len      in: bytes of @p src
 * @param err_line out, may be NULL: 1-based line of the first error (0 if none)
 * @param err_col  out, may be NULL: 1-based column (in bytes) of the first error
 * @param err_msg  out, may be NULL: NUL-terminated message naming what was found
 * @param err_cap  in: bytes at @p err_msg
 * @return ABAC_OK; ABAC_E_INVALID, ABAC_E_SYNTAX, ABAC_E_LIMIT, ABAC_E_NOMEM.
 */
ABAC_API int abac_cedar_policies_parse(abac_cedar_policies **out, const char *src, size_t len,
                                       uint32_t *err_line, uint32_t *err_col, char *err_msg,
                                       size_t err_cap);
/** Free policies; NULL is a no-op. Responses made for them must go first. */
ABAC_API void abac_cedar_policies_free(abac_cedar_policies *ps);
/** Number of policies. */
ABAC_API size_t abac_cedar_policy_count(const abac_cedar_policies *ps);
/** Id of policy @p i ("policy<i>", or a template link's id), NUL-terminated, owned by @p ps;
 * NULL if out of range. */
ABAC_API const char *abac_cedar_policy_id(const abac_cedar_policies *ps, size_t i);
/** Effect of policy @p i: ABAC_PERMIT or ABAC_DENY (forbid); ABAC_E_INVALID if out of range. */
ABAC_API int abac_cedar_policy_effect(const abac_cedar_policies *ps, size_t i);
/**
 * Value of annotation @p key (e.g. "id") of policy @p i, owned by @p ps, with its length in
 * @p value_len; NULL if the policy has no such annotation. An annotation without a value
 * (`@key`) has the empty string as value.
 */
ABAC_API const char *abac_cedar_policy_annotation(const abac_cedar_policies *ps, size_t i,
                                                  const char *key, size_t key_len,
                                                  size_t *value_len);

/**
 * Read entities in Cedar's JSON entity format: an array of
 * `{"uid": {"type": T, "id": I}, "attrs": {…}, "parents": [uid, …], "tags": {…}}`.
 * Attribute values: JSON booleans, integers (int64), strings, arrays (sets), objects
 * (records), `{"__entity": uid}` and `{"__extn": {"fn": F, "arg": A}}`. Ancestors are closed
 * transitively here. Every name is taken with its length: a NUL byte is an ordinary byte.
 *
 * @param out     out: the entities, owned by the caller (abac_cedar_entities_free)
 * @param json    in: JSON text (at most 256 MiB), need not be NUL-terminated
 * @param err_msg out, may be NULL: what was wrong and where (byte offset)
 * @return ABAC_OK; ABAC_E_INVALID, ABAC_E_JSON, ABAC_E_LIMIT, ABAC_E_NOMEM.
 */
ABAC_API int abac_cedar_entities_parse_json(abac_cedar_entities **out, const char *json, size_t len,
                                            char *err_msg, size_t err_cap);
/** Free entities; NULL is a no-op. */
ABAC_API void abac_cedar_entities_free(abac_cedar_entities *es);
/** Number of entities. */
ABAC_API size_t abac_cedar_entity_count(const abac_cedar_entities *es);

/**
 * Read a request from JSON: `{"principal": uid, "action": uid, "resource": uid,
 * "context": {…}}`, where a uid is `{"type": T, "id": I}`, `{"__entity": …}` or a string in
 * Cedar syntax (`"User::\"alice\""`). "context" may be absent (the empty record).
 * @return ABAC_OK; ABAC_E_INVALID, ABAC_E_JSON, ABAC_E_LIMIT, ABAC_E_NOMEM.
 */
ABAC_API int abac_cedar_request_parse_json(abac_cedar_request **out, const char *json, size_t len,
                                           char *err_msg, size_t err_cap);
/** Free a request; NULL is a no-op. */
ABAC_API void abac_cedar_request_free(abac_cedar_request *rq);

/**
 * Make a response object for @p ps (allocates its result arrays and a scratch arena of
 * @p scratch_bytes, 0 for a default of 64 KiB).
 * @return ABAC_OK, ABAC_E_INVALID, ABAC_E_NOMEM.
 */
ABAC_API int abac_cedar_response_new(abac_cedar_response **out, const abac_cedar_policies *ps,
                                     size_t scratch_bytes);
/** Free a response; NULL is a no-op. */
ABAC_API void abac_cedar_response_free(abac_cedar_response *resp);

/**
 * Decide @p rq under @p ps and @p es (NULL: no entities) into @p resp.
 * @return ABAC_PERMIT (1, Cedar's Allow) or ABAC_DENY (0); ABAC_E_INVALID if an argument is
 *         NULL or @p resp was made for other policies; ABAC_E_NOMEM if the scratch arena
 *         could not grow.
 */
ABAC_API int abac_cedar_is_authorized(const abac_cedar_policies *ps, const abac_cedar_entities *es,
                                      const abac_cedar_request *rq, abac_cedar_response *resp);
/** Number of reasons of the last decision (satisfied forbids on deny, satisfied permits on
 * allow, none on default deny). */
ABAC_API size_t abac_cedar_response_reason_count(const abac_cedar_response *resp);
/** Policy index of reason @p i (source order), or SIZE_MAX if out of range. */
ABAC_API size_t abac_cedar_response_reason(const abac_cedar_response *resp, size_t i);
/** Number of policies whose condition raised an error (in source order). */
ABAC_API size_t abac_cedar_response_error_count(const abac_cedar_response *resp);
/**
 * Error @p i: the policy index and the code (ABAC_E_MISSING_ATTR, ABAC_E_RUNTIME_TYPE,
 * ABAC_E_NO_ENTITY, ABAC_E_OVERFLOW, ABAC_E_EXTENSION).
 * @return ABAC_OK, ABAC_E_INVALID, ABAC_E_NOT_FOUND.
 */
ABAC_API int abac_cedar_response_error(const abac_cedar_response *resp, size_t i, size_t *policy,
                                       int *code);

/* ---- templates (1.1.0) -------------------------------------------------------------------- */

/**
 * 1 if policy @p i is a template (its scope has the slot `?principal` or `?resource`:
 * `principal == ?principal`, `principal in ?principal`, `principal is T in ?principal`, the same
 * for `?resource`), 0 if not; ABAC_E_INVALID if out of range. A template decides nothing; its
 * links do.
 */
ABAC_API int abac_cedar_policy_is_template(const abac_cedar_policies *ps, size_t i);
/**
 * Link template @p template_index of @p ps: a NEW set with the policies of @p ps and one more,
 * the template with its slots set to @p principal / @p resource (entity uids in Cedar syntax,
 * `User::"alice"`; NULL exactly when the template has no such slot), whose id is @p link_id
 * (1–256 bytes, no NUL; unique among the set's ids). Links are appended after the text's
 * policies, in link order; @p ps is unchanged. Since 1.3.0 the links are part of the set's
 * canonical encoding (ABCP version 2, docs/formats/abac.md), so a linked set is hashed, stored
 * and updated like any other.
 * @return ABAC_OK; ABAC_E_INVALID (not a template, a slot missing or extra, a bad uid or id),
 *         ABAC_E_DUPLICATE_RULE (the id is taken), ABAC_E_LIMIT (65536 links), ABAC_E_NOMEM.
 */
ABAC_API int abac_cedar_policies_link(abac_cedar_policies **out, const abac_cedar_policies *ps,
                                      size_t template_index, const char *link_id,
                                      size_t link_id_len, const char *principal,
                                      size_t principal_len, const char *resource,
                                      size_t resource_len);
/** Number of template links of the set. */
ABAC_API size_t abac_cedar_policies_link_count(const abac_cedar_policies *ps);

/* ---- schemas (1.1.0) ---------------------------------------------------------------------- */

/** A Cedar schema: entity types, actions and common types of any number of namespaces
 * (immutable; shareable between threads). */
typedef struct abac_cedar_schema abac_cedar_schema;
/** The outcome of abac_cedar_validate(): the validation errors, in policy order. */
typedef struct abac_cedar_validation abac_cedar_validation;

/**
 * Read a schema in Cedar's JSON schema format: `{"Namespace": {"entityTypes": {…},
 * "actions": {…}, "commonTypes": {…}}}` ("" is the empty namespace). Unknown fields, unknown
 * type names and cycles among common types or action groups are errors.
 * @param err_msg out, may be NULL: what was wrong
 * @return ABAC_OK; ABAC_E_INVALID, ABAC_E_SCHEMA, ABAC_E_LIMIT, ABAC_E_NOMEM.
 */
ABAC_API int abac_cedar_schema_parse_json(abac_cedar_schema **out, const char *json, size_t len,
                                          char *err_msg, size_t err_cap);
/**
 * Read a schema in Cedar's human-readable schema syntax (`namespace N { entity User in
 * [Group] = {…} tags String; action view appliesTo {principal: User, resource: Doc,
 * context: {…}}; type T = …; }`). Annotations are accepted and ignored.
 * @return ABAC_OK; ABAC_E_INVALID, ABAC_E_SCHEMA (with line and column), ABAC_E_LIMIT,
 *         ABAC_E_NOMEM.
 */
ABAC_API int abac_cedar_schema_parse(abac_cedar_schema **out, const char *src, size_t len,
                                     uint32_t *err_line, uint32_t *err_col, char *err_msg,
                                     size_t err_cap);
/** Free a schema; NULL is a no-op. Validations made with it need not go first. */
ABAC_API void abac_cedar_schema_free(abac_cedar_schema *s);
/** Number of entity types / actions declared (0 if NULL). */
ABAC_API size_t abac_cedar_schema_entity_type_count(const abac_cedar_schema *s);
ABAC_API size_t abac_cedar_schema_action_count(const abac_cedar_schema *s);

/**
 * Validate @p ps against @p s as Cedar's validator does in strict mode: for every action the
 * scope admits and every principal and resource type it applies to, each condition must
 * type-check (known entity types, actions and attributes, optional attributes and tags read
 * only under a `has` / `hasTag` test, operands of the right types, set elements and `if`
 * branches of one type, no empty set literal, extension constructors on valid literals), and
 * the scope must admit at least one such combination. Success means the call ran: read the
 * errors with abac_cedar_validation_error_count() (0: the policies are valid).
 * @return ABAC_OK, ABAC_E_INVALID, ABAC_E_NOMEM; ABAC_E_LIMIT if one policy would be checked
 *         in more than 2^20 (action, principal type, resource type) combinations.
 */
ABAC_API int abac_cedar_validate(abac_cedar_validation **out, const abac_cedar_schema *s,
                                 const abac_cedar_policies *ps);
/** Free a validation; NULL is a no-op. */
ABAC_API void abac_cedar_validation_free(abac_cedar_validation *v);
/** Number of validation errors (at most 32 kept per policy). */
ABAC_API size_t abac_cedar_validation_error_count(const abac_cedar_validation *v);
/**
 * Error @p i: the policy index, its code (ABAC_E_UNKNOWN_TYPE, ABAC_E_UNKNOWN_ATTR,
 * ABAC_E_UNSAFE_ATTR, ABAC_E_TYPE, ABAC_E_EXTENSION, ABAC_E_NOT_APPLICABLE), a message in
 * Cedar's words (not NUL-terminated in general: use @p msg_len; owned by @p v) and where in
 * the policy text it is. Any out pointer may be NULL.
 * @return ABAC_OK, ABAC_E_INVALID, ABAC_E_NOT_FOUND.
 */
ABAC_API int abac_cedar_validation_error(const abac_cedar_validation *v, size_t i, size_t *policy,
                                         int *code, const char **msg, size_t *msg_len,
                                         uint32_t *line, uint32_t *col);
/**
 * Kinds of validation warnings (1.3.0), Cedar's validator warnings: they do not fail
 * validation. Messages are Cedar's.
 */
enum abac_cedar_warning {
    ABAC_CEDAR_WARN_MIXED_SCRIPT_STRING = 1, /**< string `"…"` contains mixed scripts */
    ABAC_CEDAR_WARN_BIDI_STRING = 2,         /**< string `"…"` contains BIDI control characters */
    ABAC_CEDAR_WARN_BIDI_IDENTIFIER = 3, /**< identifier `…` contains BIDI control characters */
    ABAC_CEDAR_WARN_MIXED_SCRIPT_IDENTIFIER = 4, /**< identifier `…` contains mixed scripts */
    ABAC_CEDAR_WARN_CONFUSABLE_IDENTIFIER = 5,   /**< … outside the General Security Profile */
    ABAC_CEDAR_WARN_IMPOSSIBLE_POLICY = 6        /**< the condition is false for every request */
};

/** Number of validation warnings (1.3.0; at most 4096 kept, each message once per policy). */
ABAC_API size_t abac_cedar_validation_warning_count(const abac_cedar_validation *v);
/**
 * Warning @p i (1.3.0), in policy order: the policy index, its kind (enum abac_cedar_warning),
 * Cedar's message (@p msg_len bytes, owned by @p v) and where it is. The text checks (UTS #39:
 * BIDI control characters U+202A–U+202E and U+2066–U+2069; more than one script; identifier
 * characters outside Identifier_Status=Allowed) look at string literals and `like` patterns
 * (as strings) and at entity ids, attribute names and record keys (as identifiers) of the
 * text's policies and templates; ImpossiblePolicy is reported when the condition types as
 * False for every (action, principal type, resource type) the scope admits, or when it admits
 * none. Any out pointer may be NULL.
 * @return ABAC_OK, ABAC_E_INVALID, ABAC_E_NOT_FOUND.
 */
ABAC_API int abac_cedar_validation_warning(const abac_cedar_validation *v, size_t i, size_t *policy,
                                           int *kind, const char **msg, size_t *msg_len,
                                           uint32_t *line, uint32_t *col);

/**
 * Check entities against @p s: declared types (and enum ids), every required attribute
 * present, no undeclared attribute (unless the record allows additional ones), values of the
 * declared types, parents of a type memberOfTypes reaches (transitively), tags of the declared tag
 * type; action entities must be declared actions without attributes or tags whose ancestors
 * (closed over @p es) are exactly their action groups, transitively (since 1.3.0; before, any
 * subset of the direct groups was accepted).
 * @return ABAC_OK; ABAC_E_INVALID, ABAC_E_UNKNOWN_TYPE, ABAC_E_UNKNOWN_ATTR,
 *         ABAC_E_REQUIRED_ATTR, ABAC_E_ATTR_TYPE, ABAC_E_LIMIT (with the first problem in
 *         @p err_msg).
 */
ABAC_API int abac_cedar_schema_check_entities(const abac_cedar_schema *s,
                                              const abac_cedar_entities *es, char *err_msg,
                                              size_t err_cap);
/**
 * Check a request against @p s: a declared action that applies to the principal's and the
 * resource's types, and a context of the action's context type.
 * @return ABAC_OK; ABAC_E_INVALID, ABAC_E_UNKNOWN_TYPE, ABAC_E_NOT_APPLICABLE,
 *         ABAC_E_UNKNOWN_ATTR, ABAC_E_REQUIRED_ATTR, ABAC_E_ATTR_TYPE, ABAC_E_LIMIT.
 */
ABAC_API int abac_cedar_schema_check_request(const abac_cedar_schema *s,
                                             const abac_cedar_request *rq, char *err_msg,
                                             size_t err_cap);

/**
 * Read entities like abac_cedar_entities_parse_json(), interpreting values by the types
 * @p s declares (Cedar's schema-based parsing, since 1.2.0): where an attribute or tag is
 * declared as an entity type, `{"type": T, "id": I}` is an entity reference without
 * `__entity`; where it is declared as an extension type, `{"fn": F, "arg": A}` is accepted
 * without `__extn` and so is the constructor's argument alone (`"10.0.0.1"` for ipaddr,
 * `"1.23"` for decimal, datetime and duration text); sets and records are interpreted element by
 * element. The result is then checked as abac_cedar_schema_check_entities() does, and refused
 * if it does not conform. Since 1.3.0 the schema's actions are then added as entities, as Cedar
 * adds them: parents their `memberOf` groups, ancestors the groups' closure (an action listed in
 * @p json too must be exactly the declared one). @p s NULL: exactly
 * abac_cedar_entities_parse_json().
 * @return ABAC_OK; the codes of abac_cedar_entities_parse_json() and of
 *         abac_cedar_schema_check_entities() (a bad extension literal: ABAC_E_ATTR_TYPE).
 */
ABAC_API int abac_cedar_entities_parse_json_schema(abac_cedar_entities **out, const char *json,
                                                   size_t len, const abac_cedar_schema *s,
                                                   char *err_msg, size_t err_cap);
/**
 * Read a request like abac_cedar_request_parse_json(), interpreting the context by the
 * context type the schema declares for the request's action (the same implicit forms as
 * abac_cedar_entities_parse_json_schema()), then checked as abac_cedar_schema_check_request()
 * does. @p s NULL: exactly abac_cedar_request_parse_json(). Since 1.2.0.
 * @return ABAC_OK; the codes of abac_cedar_request_parse_json() and of
 *         abac_cedar_schema_check_request() (a bad extension literal: ABAC_E_ATTR_TYPE).
 */
ABAC_API int abac_cedar_request_parse_json_schema(abac_cedar_request **out, const char *json,
                                                  size_t len, const abac_cedar_schema *s,
                                                  char *err_msg, size_t err_cap);

/* ---- versioned policy sets on the ledger, replaced by a quorum of members ---------------- */

/**
 * Parse Cedar policy text as a versioned set: like abac_cedar_policies_parse(), with the set's
 * version and members from @p opts (NULL opts: version 0, no members). With `opts->schema`
 * (1.1.0; JSON when it starts with '{', else the human-readable syntax) the policies must also
 * pass abac_cedar_validate(): the first error's code, place and message are returned (the
 * schema is not part of the set or its encoding).
 * @return ABAC_OK; ABAC_E_INVALID (also a member listed twice), ABAC_E_SYNTAX, ABAC_E_LIMIT,
 *         ABAC_E_NOMEM; with a schema also ABAC_E_SCHEMA and the validation codes.
 */
ABAC_API int abac_cedar_policies_compile(abac_cedar_policies **out, const char *src, size_t len,
                                         const abac_compile_options *opts, uint32_t *err_line,
                                         uint32_t *err_col, char *err_msg, size_t err_cap);
/** Version number of the set. */
ABAC_API uint64_t abac_cedar_policies_version(const abac_cedar_policies *ps);
/** Number of members. */
ABAC_API size_t abac_cedar_policies_member_count(const abac_cedar_policies *ps);
/** Member @p i's Ed25519 public key (members sorted bytewise), 32 bytes owned by @p ps; NULL if
 * out of range. */
ABAC_API const uint8_t *abac_cedar_policies_member(const abac_cedar_policies *ps, size_t i);
/** Bytes of the canonical encoding (ABCP, docs/formats/abac.md: version 1 for a set without
 * template links, version 2 with them, since 1.3.0); 0 if @p ps is NULL. */
ABAC_API size_t abac_cedar_policies_encoded_size(const abac_cedar_policies *ps);
/** Canonical encoding: version, members, the policy text as given, and (version 2, 1.3.0) the
 * template links: template index, link id, slot values.
 * @return ABAC_OK, ABAC_E_INVALID, ABAC_E_BUFFER_TOO_SMALL (with the size in @p out_len). */
ABAC_API int abac_cedar_policies_encode(const abac_cedar_policies *ps, uint8_t *out, size_t cap,
                                        size_t *out_len);
/** SHA-256 of the canonical encoding. @return ABAC_OK, ABAC_E_INVALID, ABAC_E_NOMEM. */
ABAC_API int abac_cedar_policies_hash(const abac_cedar_policies *ps, uint8_t out[ABAC_HASH_BYTES]);
/** Decode a canonical encoding, ABCP version 1 or 2 (untrusted bytes; the text must parse; the
 * links of version 2 must name templates of the text, fill exactly their slots with uids that
 * read back as written, and have unique ids).
 * @return ABAC_OK; ABAC_E_INVALID, ABAC_E_FORMAT, ABAC_E_FORMAT_VERSION, ABAC_E_LIMIT,
 *         ABAC_E_NOMEM. */
ABAC_API int abac_cedar_policies_decode(abac_cedar_policies **out, const uint8_t *in, size_t len);

/** The 32 bytes members sign to move from @p cur to @p next: SHA-256("fedshare/abac/cedar-
 * update/v1" ‖ hash(cur) ‖ hash(next)). @return ABAC_OK, ABAC_E_INVALID, ABAC_E_NOMEM. */
ABAC_API int abac_cedar_update_message(const abac_cedar_policies *cur,
                                       const abac_cedar_policies *next,
                                       uint8_t out[ABAC_HASH_BYTES]);
/** A member's Ed25519 signature (libsodium 64-byte secret key) of that message.
 * @return ABAC_OK, ABAC_E_INVALID, ABAC_E_NOMEM. */
ABAC_API int abac_cedar_update_sign(const abac_cedar_policies *cur, const abac_cedar_policies *next,
                                    const uint8_t seckey[ABAC_SECKEY_BYTES],
                                    uint8_t sig[ABAC_SIG_BYTES]);
/** Bytes of an update (ABCU) of @p next with @p n_sigs signatures. */
ABAC_API size_t abac_cedar_update_encoded_size(const abac_cedar_policies *next, size_t n_sigs);
/** Encode an update: the base hash, the next set and the (public key, signature) pairs sorted
 * by key. @p pubkeys: n × 32 bytes, @p sigs: n × 64 bytes, same order.
 * @return ABAC_OK, ABAC_E_INVALID, ABAC_E_BUFFER_TOO_SMALL, ABAC_E_DUPLICATE_SIGNER,
 *         ABAC_E_NOMEM. */
ABAC_API int abac_cedar_update_encode(const abac_cedar_policies *cur,
                                      const abac_cedar_policies *next, const uint8_t *pubkeys,
                                      const uint8_t *sigs, size_t n, uint8_t *out, size_t cap,
                                      size_t *out_len);
/**
 * Verify an update against @p cur and return the next set. Accepted iff the bytes are
 * canonical, the base is @p cur, the version is newer and more than 2/3 of @p cur's members
 * (3·k > 2·n) signed validly, with no duplicate, no non-member and no bad signature. Nothing
 * changes on refusal.
 * @return ABAC_OK; ABAC_E_INVALID, ABAC_E_FORMAT, ABAC_E_FORMAT_VERSION, ABAC_E_NO_MEMBERS,
 *         ABAC_E_REPLAY, ABAC_E_STALE_VERSION, ABAC_E_WRONG_BASE, ABAC_E_DUPLICATE_SIGNER,
 *         ABAC_E_NOT_MEMBER, ABAC_E_BAD_SIGNATURE, ABAC_E_NO_QUORUM, ABAC_E_NOMEM.
 */
ABAC_API int abac_cedar_update_apply(abac_cedar_policies **out, const abac_cedar_policies *cur,
                                     const uint8_t *in, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* ABAC_CEDAR_H */
