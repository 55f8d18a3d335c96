/**
 * @file abac_analyze.h
 * @brief Policy analysis of Cedar policy sets by the Z3 SMT solver (optional companion of
 *        libabac; built only where z3 is found). docs/policy-analysis.md.
 *
 * Policy text is read by libabac's own parser and encoded, for a supported subset of Cedar,
 * exactly as abac_cedar_is_authorized() decides: a satisfied forbid denies, otherwise a
 * satisfied permit allows, otherwise deny; a policy whose condition raises an error does not
 * apply; && and || short-circuit. Every request the solver returns is replayed through
 * libabac's evaluator before it is reported; a disagreement is ABAC_ANALYZE_E_REPLAY.
 *
 * Results are JSON text (UTF-8, NUL-terminated, owned by the caller: abac_analyze_free). A
 * request is `{"request": {"principal", "action", "resource", "context"}, "entities": [...]}`
 * in Cedar's JSON formats, the same that abac_cedar_request_parse_json() and
 * abac_cedar_entities_parse_json() read.
 */
#ifndef ABAC_ANALYZE_H
#define ABAC_ANALYZE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(ABAC_ANALYZE_BUILDING)
#define ABAC_ANALYZE_API __attribute__((visibility("default")))
#else
#define ABAC_ANALYZE_API
#endif

/** Codes of the analyzer beyond libabac's (ABAC_OK, ABAC_E_INVALID, ABAC_E_NOMEM,
 * ABAC_E_SYNTAX, ABAC_E_LIMIT come from libabac). */
enum {
    /** the policies use Cedar outside the supported subset (the message names what) */
    ABAC_ANALYZE_E_UNSUPPORTED = -480,
    /** the solver answered neither sat nor unsat (time limit, resource limit) */
    ABAC_ANALYZE_E_UNKNOWN = -481,
    /** a request the solver produced did not decide as the solver said under libabac: a bug
     * of the encoding; nothing is reported as proven */
    ABAC_ANALYZE_E_REPLAY = -482
};

/**
 * Compare two policy sets. JSON: `{"verdict": V, "new_permits": R|null, "old_permits":
 * R|null}` where V is "equivalent", "new_less_permissive" (NEW permits nothing OLD denies;
 * OLD permits something NEW denies), "new_more_permissive" or "incomparable", and R a request
 * with `"old"` and `"new"` decisions ("Allow"/"Deny") and the entities that show it.
 * @return ABAC_OK; ABAC_E_INVALID, ABAC_E_SYNTAX (message with line:column),
 *         ABAC_ANALYZE_E_UNSUPPORTED, ABAC_ANALYZE_E_UNKNOWN, ABAC_ANALYZE_E_REPLAY,
 *         ABAC_E_NOMEM.
 */
ABAC_ANALYZE_API int abac_analyze_diff(const char *old_src, size_t old_len, const char *new_src,
                                       size_t new_len, unsigned timeout_ms, char **json_out,
                                       char *err_msg, size_t err_cap);

/**
 * Check invariants against a policy set. Invariants are Cedar policies: `forbid (scope) when
 * {c};` says no request in scope with c true is ever permitted; `permit (scope) when {c};`
 * says every permitted request in scope has c true (evaluated without error). JSON:
 * `{"invariants": [{"id", "holds": bool, "counterexample": R|null}, ...], "all_hold": bool}`.
 */
ABAC_ANALYZE_API int abac_analyze_check(const char *src, size_t len, const char *inv_src,
                                        size_t inv_len, unsigned timeout_ms, char **json_out,
                                        char *err_msg, size_t err_cap);

/**
 * Policies of one set that never apply (dead), permits that apply only where a forbid applies
 * too (shadowed) and conditions that can raise an error. JSON: `{"policies": [{"id", "effect",
 * "dead": bool, "shadowed": bool, "may_error": bool, "error_example": R|null}, ...]}`.
 */
ABAC_ANALYZE_API int abac_analyze_lint(const char *src, size_t len, unsigned timeout_ms,
                                       char **json_out, char *err_msg, size_t err_cap);

/**
 * The three questions above asked about the requests a Cedar schema allows only (1.1): the
 * solver considers only requests and entities that abac_cedar_schema_check_request() and
 * abac_cedar_schema_check_entities() accept — a declared action applying to the principal's
 * and resource's types, a context of its context type, attributes of their declared types
 * (required ones present, undeclared ones absent unless the record admits more), entity-typed
 * attributes of their declared entity type, ancestors of the types memberOfTypes reaches, an
 * action's ancestors its declared groups. Every request returned conforms (it is checked).
 * @p schema is JSON (Cedar's JSON schema format, when it starts with `{`) or the human
 * syntax; NULL: every request (then these are the calls above). Answers carry
 * `"under_schema": true` (false without a schema).
 * @return as above; also ABAC_E_SCHEMA (with the schema's line:column in the message), and
 *         ABAC_ANALYZE_E_UNSUPPORTED for an attribute the policies read that the schema
 *         declares as a set of entities (or of anything but strings or longs), a decimal
 *         or an ipaddr.
 */
ABAC_ANALYZE_API int abac_analyze_diff_schema(const char *old_src, size_t old_len,
                                              const char *new_src, size_t new_len,
                                              const char *schema, size_t schema_len,
                                              unsigned timeout_ms, char **json_out, char *err_msg,
                                              size_t err_cap);
ABAC_ANALYZE_API int abac_analyze_check_schema(const char *src, size_t len, const char *inv_src,
                                               size_t inv_len, const char *schema,
                                               size_t schema_len, unsigned timeout_ms,
                                               char **json_out, char *err_msg, size_t err_cap);
ABAC_ANALYZE_API int abac_analyze_lint_schema(const char *src, size_t len, const char *schema,
                                              size_t schema_len, unsigned timeout_ms,
                                              char **json_out, char *err_msg, size_t err_cap);

/** Free a result; NULL is a no-op. */
ABAC_ANALYZE_API void abac_analyze_free(char *json);

#ifdef __cplusplus
}
#endif

#endif
