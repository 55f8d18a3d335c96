/**
 * @file abac.h
 * @brief libabac: access control in the Cedar language that every replica decides alike.
 *
 * This header holds what all of libabac shares: return codes, the version, effects, key
 * sizes, the options of a versioned policy set and member keys. The Cedar engine — policies,
 * entities, requests, decisions, versioned sets and their quorum-signed updates — is in
 * abac/cedar.h (docs/abac-language.md, formats in docs/formats/abac.md).
 *
 * Thread safety: abac_strerror() and abac_version_string() are always safe.
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
    /** Entity type or action not declared in the schema. */
    ABAC_E_UNKNOWN_TYPE = -415,
    /** Optional attribute or tag read without a `has` test. */
    ABAC_E_UNSAFE_ATTR = -416,
    /** Scope or request names no action/principal/resource combination of the schema. */
    ABAC_E_NOT_APPLICABLE = -417,
    /** Entity or context lacks an attribute the schema requires. */
    ABAC_E_REQUIRED_ATTR = -418,
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

/** Effects. */
enum abac_effect { ABAC_DENY = 0, ABAC_PERMIT = 1 };

/** Size of an Ed25519 public key, secret key (libsodium form), signature; SHA-256 digest. */
#define ABAC_PUBKEY_BYTES 32
#define ABAC_SECKEY_BYTES 64
#define ABAC_SIG_BYTES    64
#define ABAC_HASH_BYTES   32

/** Options of abac_cedar_policies_compile() (abac/cedar.h). */
typedef struct abac_compile_options {
    uint32_t version;       /**< ABAC_COMPILE_OPTIONS_VERSION */
    const char *schema;     /**< NULL, or a Cedar schema (JSON or human-readable) to validate
                                 the policies against (1.1.0; not stored in the encoding) */
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
 * Derive an Ed25519 member key pair from a 32-byte seed (libsodium's seed form), for tests and
 * tools; production keys come from the identity layer.
 * @param seed in: 32 bytes; @param pubkey out: 32 bytes; @param seckey out: 64 bytes (secret)
 * @return ABAC_OK, ABAC_E_INVALID.
 */
ABAC_API int abac_keypair_from_seed(const uint8_t seed[32], uint8_t pubkey[ABAC_PUBKEY_BYTES],
                                    uint8_t seckey[ABAC_SECKEY_BYTES]);

#ifdef __cplusplus
}
#endif

#endif /* ABAC_H */
