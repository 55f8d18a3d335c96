/* What every part of libabac shares: the version, error texts, compile options and member
 * keys. */
#include <sodium.h>

#include "abac.h"

const char *abac_version_string(void) {
    return ABAC_VERSION_STRING;
}

const char *abac_strerror(int code) {
    switch (code) {
        /* clang-format off */
        /* codes:begin libabac.core.cases: generated from libabac/codes.tsv by tools/gen_codes.py */
        case ABAC_OK:
            return "success";
        case ABAC_E_INVALID:
            return "invalid argument (NULL or out of range)";
        case ABAC_E_NOMEM:
            return "out of memory";
        case ABAC_E_SYNTAX:
            return "policy syntax error";
        case ABAC_E_TYPE:
            return "policy type error";
        case ABAC_E_SCHEMA:
            return "invalid schema";
        case ABAC_E_UNKNOWN_ATTR:
            return "attribute not declared in the schema";
        case ABAC_E_DUPLICATE_RULE:
            return "duplicate rule id (rule ids must be unique)";
        case ABAC_E_LIMIT:
            return "size or nesting limit exceeded";
        case ABAC_E_JSON:
            return "malformed Cedar JSON (entities or request)";
        case ABAC_E_FORMAT:
            return "malformed or non-canonical encoding";
        case ABAC_E_FORMAT_VERSION:
            return "unknown magic or format version";
        case ABAC_E_BUFFER_TOO_SMALL:
            return "output buffer or request arena too small";
        case ABAC_E_ATTR_TYPE:
            return "request attribute has the wrong type for the schema";
        case ABAC_E_NOT_FOUND:
            return "not found (no such rule, attribute or item)";
        case ABAC_E_UNKNOWN_TYPE:
            return "entity type or action not declared in the schema";
        case ABAC_E_UNSAFE_ATTR:
            return "optional attribute or tag read without a has / hasTag test (schema validation)";
        case ABAC_E_NOT_APPLICABLE:
            return "no action of the schema applies to this principal and resource";
        case ABAC_E_REQUIRED_ATTR:
            return "a required attribute of the schema is missing";
        case ABAC_E_MISSING_ATTR:
            return "condition read a missing attribute";
        case ABAC_E_RUNTIME_TYPE:
            return "condition operand has the wrong type";
        case ABAC_E_NO_ENTITY:
            return "condition read an attribute of an entity that does not exist";
        case ABAC_E_OVERFLOW:
            return "integer overflow (64-bit arithmetic)";
        case ABAC_E_EXTENSION:
            return "extension function error (bad decimal, ip, datetime or duration)";
        case ABAC_E_STALE_VERSION:
            return "policy set version is not newer than the current one";
        case ABAC_E_REPLAY:
            return "update replays the current policy set";
        case ABAC_E_DUPLICATE_SIGNER:
            return "a member signed the update twice";
        case ABAC_E_NOT_MEMBER:
            return "a signer is not a member of the current policy set";
        case ABAC_E_BAD_SIGNATURE:
            return "a signature does not verify";
        case ABAC_E_NO_QUORUM:
            return "not more than two thirds of the members signed (more than 2/3 are needed)";
        case ABAC_E_WRONG_BASE:
            return "update was made against another policy set";
        case ABAC_E_NO_MEMBERS:
            return "the current policy set has no members and cannot be updated";
        /* codes:end */
        /* clang-format on */
        default:
            return "unknown error code";
    }
}

int abac_compile_options_init(abac_compile_options *opts) {
    if (!opts)
        return ABAC_E_INVALID;
    abac_compile_options d = ABAC_COMPILE_OPTIONS_INIT;
    *opts = d;
    return ABAC_OK;
}

int abac_keypair_from_seed(const uint8_t seed[32], uint8_t pubkey[ABAC_PUBKEY_BYTES],
                           uint8_t seckey[ABAC_SECKEY_BYTES]) {
    if (!seed || !pubkey || !seckey || sodium_init() < 0)
        return ABAC_E_INVALID;
    crypto_sign_seed_keypair(pubkey, seckey, seed);
    return ABAC_OK;
}
