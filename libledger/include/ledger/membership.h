/**
 * @file ledger/membership.h
 * @brief Consortium membership, commit statements and commit certificates
 * (docs/formats/ledger.md §Membership, §Commit statement, §Certificate).
 *
 * Thread safety: a membership or certificate may be read from several threads
 * at once; ledger_cert_add needs exclusive access to that certificate.
 */
#ifndef LEDGER_MEMBERSHIP_H
#define LEDGER_MEMBERSHIP_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Size of a commit statement (ledger_commit_statement). */
#define LEDGER_COMMIT_STATEMENT_BYTES 96
/** Largest number of members. */
#define LEDGER_MEMBERS_MAX 1024
/** Longest replica address recorded in a changed membership ("host:port"). */
#define LEDGER_MEMBER_ADDR_MAX 63
/** Membership changes (ledger/reconfig.h). */
#define LEDGER_MEMBER_ADD_REPLICA    1
#define LEDGER_MEMBER_REMOVE_REPLICA 2

/** The replicas of a chain: chain id, member public keys (index = replica id), f. */
typedef struct ledger_membership ledger_membership;
/** A commit certificate: a view and quorum (replica index, signature) pairs. */
typedef struct ledger_cert ledger_cert;

/**
 * @brief Create a membership.
 * @param[out] out new membership, owned by the caller (ledger_membership_free).
 * @param[in] chain_id 32 bytes naming the chain (signed into every commit statement).
 * @param[in] pubkeys n × 32 bytes, member i's Ed25519 key at offset 32·i; all distinct.
 * @param[in] n number of members, 1 … LEDGER_MEMBERS_MAX.
 * @param[in] f faults tolerated; n must be at least 3f+1.
 * @return LEDGER_OK, LEDGER_E_INVALID (NULL, n < 3f+1, n too large, duplicate key), LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_membership_create(ledger_membership **out, const uint8_t chain_id[32],
                                        const uint8_t *pubkeys, size_t n, uint32_t f);
/** @brief Free a membership. NULL is a no-op. */
LEDGER_API void ledger_membership_free(ledger_membership *m);
/**
 * @brief Number of replica slots n (0 if m is NULL): replica ids are 0 … n−1.
 * In a membership changed on the chain (encoding version 2) a removed
 * replica keeps its slot, inactive (ledger_membership_active).
 */
LEDGER_API size_t ledger_membership_size(const ledger_membership *m);
/** @brief Number of members in force (slots that are active; 0 if m is NULL). */
LEDGER_API size_t ledger_membership_count(const ledger_membership *m);
/** @brief 1 if slot i is a member in force, else 0. */
LEDGER_API int ledger_membership_active(const ledger_membership *m, size_t i);
/** @brief Slot i's recorded address (NUL-terminated, owned by m), or NULL when the
 * membership records none (version 1) or i is out of range. */
LEDGER_API const char *ledger_membership_address(const ledger_membership *m, size_t i);
/** @brief f (0 if m is NULL). */
LEDGER_API uint32_t ledger_membership_f(const ledger_membership *m);
/**
 * @brief Signatures a certificate needs: ⌊(n+f)/2⌋+1 with n the members in force,
 * which is 2f+1 when n = 3f+1 (any two quorums then share at least f+1 members,
 * so an honest one).
 */
LEDGER_API size_t ledger_membership_quorum(const ledger_membership *m);
/** @brief Member i's public key (32 bytes owned by m), NULL if out of range. */
LEDGER_API const uint8_t *ledger_membership_key(const ledger_membership *m, size_t i);
/** @brief The chain id (32 bytes owned by m), NULL if m is NULL. */
LEDGER_API const uint8_t *ledger_membership_chain_id(const ledger_membership *m);
/**
 * @brief Index of a member in force by public key (a removed replica is not found).
 * @return the index (≥ 0), or LEDGER_E_NOT_FOUND / LEDGER_E_INVALID.
 */
LEDGER_API int ledger_membership_find(const ledger_membership *m, const uint8_t pubkey[32]);
/**
 * @brief Canonical encoding: version 1 ("LDMS" ‖ 1 ‖ chain id ‖ f ‖ n ‖ keys) for a
 * configured membership, version 2 ("LDMS" ‖ 2 ‖ chain id ‖ f ‖ n ‖ n × (key ‖
 * active u8 ‖ address length u8 ‖ address)) for one changed on the chain.
 * @param[out] out new buffer owned by the caller (ledger_free); @param[out] len its length.
 * @return LEDGER_OK, LEDGER_E_INVALID, LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_membership_encode(const ledger_membership *m, uint8_t **out, size_t *len);
/**
 * @brief Decode a membership (strict).
 * @return LEDGER_OK, LEDGER_E_DECODE, LEDGER_E_VERSION, LEDGER_E_INVALID, LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_membership_decode(ledger_membership **out, const uint8_t *buf, size_t len);
/** @brief 1 if both memberships are the same (same encoding), else 0. */
LEDGER_API int ledger_membership_equal(const ledger_membership *a, const ledger_membership *b);

/**
 * @brief Build the commit statement a replica signs to commit a block:
 * "FSLEDGER/COMMIT1" (16 bytes) ‖ chain id (32) ‖ height (u64 BE) ‖ view (u64 BE) ‖
 * header hash (32) = 96 bytes. Consensus signs exactly these bytes.
 * @param[out] out LEDGER_COMMIT_STATEMENT_BYTES bytes.
 * @param[in] chain_id 32 bytes. @param[in] height block height. @param[in] view commit view.
 * @param[in] header_hash the block's header hash (ledger_block_header_hash()).
 * @return LEDGER_OK or LEDGER_E_INVALID.
 */
LEDGER_API int ledger_commit_statement(uint8_t out[96], const uint8_t chain_id[32], uint64_t height,
                                       uint64_t view, const uint8_t header_hash[32]);

/**
 * @brief Create an empty certificate for a commit in @p view.
 * @return LEDGER_OK, LEDGER_E_INVALID, LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_cert_create(ledger_cert **out, uint64_t view);
/**
 * @brief Add replica @p replica's signature (kept sorted by replica index).
 * No check is made here; ledger_cert_verify checks.
 * @return LEDGER_OK, LEDGER_E_INVALID (NULL, duplicate replica, more than LEDGER_MEMBERS_MAX),
 * LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_cert_add(ledger_cert *c, uint16_t replica, const uint8_t sig[64]);
/** @brief The certificate's view (0 if c is NULL). */
LEDGER_API uint64_t ledger_cert_view(const ledger_cert *c);
/** @brief Number of signatures (0 if c is NULL). */
LEDGER_API size_t ledger_cert_count(const ledger_cert *c);
/**
 * @brief Entry i (ascending replica order).
 * @param[out] replica replica index (may be NULL). @param[out] sig 64 bytes (may be NULL).
 * @return LEDGER_OK or LEDGER_E_INVALID (out of range).
 */
LEDGER_API int ledger_cert_entry(const ledger_cert *c, size_t i, uint16_t *replica,
                                 uint8_t sig[64]);
/**
 * @brief Verify: at least ledger_membership_quorum() distinct members in force
 * (a removed replica's signature is refused) signed the commit statement (chain id, height, the
 * cert's view, header hash). Signatures beyond a quorum must verify too.
 * @return LEDGER_OK, LEDGER_E_CERTIFICATE (too few, unknown replica, bad signature),
 * LEDGER_E_INVALID.
 */
LEDGER_API int ledger_cert_verify(const ledger_cert *c, const ledger_membership *m, uint64_t height,
                                  const uint8_t header_hash[32]);
/**
 * @brief Canonical encoding ("LDCC" ‖ version ‖ view ‖ count ‖ (replica ‖ sig)*).
 * @param[out] out new buffer (ledger_free). @param[out] len its length.
 * @return LEDGER_OK, LEDGER_E_INVALID, LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_cert_encode(const ledger_cert *c, uint8_t **out, size_t *len);
/**
 * @brief Decode a certificate (strict: ascending distinct replicas, no trailing bytes).
 * @return LEDGER_OK, LEDGER_E_DECODE, LEDGER_E_VERSION, LEDGER_E_INVALID, LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_cert_decode(ledger_cert **out, const uint8_t *buf, size_t len);
/** @brief Copy a certificate. @return LEDGER_OK, LEDGER_E_INVALID, LEDGER_E_NOMEM. */
LEDGER_API int ledger_cert_clone(ledger_cert **out, const ledger_cert *c);
/** @brief Free a certificate. NULL is a no-op. */
LEDGER_API void ledger_cert_free(ledger_cert *c);

#ifdef __cplusplus
}
#endif
#endif /* LEDGER_MEMBERSHIP_H */
