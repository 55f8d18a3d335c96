/**
 * @file fedshare/consortium.h
 * @brief The consortium: its members (participants with an Ed25519 key, a
 * name, an organisation, roles and credentials), read from the `member`
 * lines of the node configuration file (docs/formats/fedshare.md §Consortium).
 *
 *     member hospital-a <64 hex Ed25519 public key> roles=provider,keyholder org=hospital-a
 * credentials=irb,hipaa
 *
 * Roles: provider (registers data, trains), aggregator, keyholder (holds a
 * share of the consortium key), publisher (posts initial models), regulator
 * (reads everything; decides nothing). Every replica must load the same
 * members: the contracts decide by them, and a replica with other members
 * computes other state roots and is caught by consensus.
 *
 * Thread safety: a consortium is immutable once parsed and may be shared.
 */
#ifndef FEDSHARE_CONSORTIUM_H
#define FEDSHARE_CONSORTIUM_H

#include "fedshare/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Role bits of a member. */
enum fedshare_role {
    FEDSHARE_ROLE_PROVIDER = 1,
    FEDSHARE_ROLE_AGGREGATOR = 2,
    FEDSHARE_ROLE_KEYHOLDER = 4,
    FEDSHARE_ROLE_PUBLISHER = 8,
    FEDSHARE_ROLE_REGULATOR = 16
};

/** Largest number of members. */
#define FEDSHARE_MEMBERS_MAX 256
/** Longest name, organisation or credential (bytes). */
#define FEDSHARE_NAME_MAX 64

/** A parsed consortium (opaque). */
typedef struct fedshare_consortium fedshare_consortium;

/**
 * @brief Parse the `member` lines of a configuration text (other lines are
 * the ledger's and are skipped).
 * @param[out] out new consortium (fedshare_consortium_free).
 * @param[in] text configuration bytes (need not be NUL-terminated), at most 1 MiB.
 * @param[out] err_line line of the first error (may be NULL).
 * @return FEDSHARE_OK, FEDSHARE_E_INVALID, FEDSHARE_E_CONFIG (bad line, duplicate name or key,
 * unknown role, no member), FEDSHARE_E_NOMEM.
 */
FEDSHARE_API int fedshare_consortium_parse(fedshare_consortium **out, const char *text, size_t len,
                                           uint32_t *err_line);
/** @brief Read and parse a configuration file. @return as parse, and FEDSHARE_E_IO. */
FEDSHARE_API int fedshare_consortium_load(fedshare_consortium **out, const char *path,
                                          uint32_t *err_line);
/** @brief Free; NULL is a no-op. */
FEDSHARE_API void fedshare_consortium_free(fedshare_consortium *c);
/** @return number of members (0 if NULL). */
FEDSHARE_API size_t fedshare_consortium_size(const fedshare_consortium *c);
/** @return index of the member with this key, or −1. */
FEDSHARE_API int fedshare_consortium_find(const fedshare_consortium *c, const uint8_t pubkey[32]);
/** @return member i's key (32 bytes owned by c) or NULL. */
FEDSHARE_API const uint8_t *fedshare_consortium_key(const fedshare_consortium *c, size_t i);
/** @return member i's name (owned by c) or NULL. */
FEDSHARE_API const char *fedshare_consortium_name(const fedshare_consortium *c, size_t i);
/** @return member i's organisation (owned by c; "" when unset) or NULL. */
FEDSHARE_API const char *fedshare_consortium_org(const fedshare_consortium *c, size_t i);
/** @return member i's role bits (0 if out of range). */
FEDSHARE_API uint32_t fedshare_consortium_roles(const fedshare_consortium *c, size_t i);
/** @return number of member i's credentials. */
FEDSHARE_API size_t fedshare_consortium_credential_count(const fedshare_consortium *c, size_t i);
/** @return credential j of member i (owned by c) or NULL. */
FEDSHARE_API const char *fedshare_consortium_credential(const fedshare_consortium *c, size_t i,
                                                        size_t j);
/**
 * @brief SHA-256 of the consortium's canonical encoding (members sorted by key;
 * docs/formats/fedshare.md), recorded in the state so replicas that loaded
 * different members diverge at the first block.
 */
FEDSHARE_API int fedshare_consortium_hash(const fedshare_consortium *c, uint8_t out[32]);

#ifdef __cplusplus
}
#endif

#endif /* FEDSHARE_CONSORTIUM_H */
