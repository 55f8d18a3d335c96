/**
 * @file ledger/proof.h
 * @brief Inclusion proofs: a transaction's Merkle path to a block header that
 * carries a commit certificate, checkable with only the members' public keys
 * (docs/formats/ledger.md §Proof).
 *
 * Thread safety: a proof may be read from several threads at once.
 */
#ifndef LEDGER_PROOF_H
#define LEDGER_PROOF_H

#include "common.h"
#include "block.h"
#include "membership.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Current proof format version. */
#define LEDGER_PROOF_FORMAT_VERSION 1

/** An inclusion proof (opaque). */
typedef struct ledger_proof ledger_proof;

/**
 * @brief Build the proof that transaction @p index is in block @p b.
 * @param[out] out new proof, owned by the caller (ledger_proof_free).
 * @param[in] b block; it must carry a certificate.
 * @param[in] index transaction index.
 * @return LEDGER_OK, LEDGER_E_INVALID (no certificate, index out of range), LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_proof_from_block(ledger_proof **out, const ledger_block *b, size_t index);
/**
 * @brief Verify: the Merkle path leads from @p tx_hash to the header's tx root,
 * and the certificate commits to the header under @p m.
 * @return LEDGER_OK, LEDGER_E_HASH (path), LEDGER_E_CERTIFICATE, LEDGER_E_INVALID.
 */
LEDGER_API int ledger_proof_verify(const ledger_proof *p, const ledger_membership *m,
                                   const uint8_t tx_hash[32]);
/** @brief Height of the block (0 if NULL). */
LEDGER_API uint64_t ledger_proof_height(const ledger_proof *p);
/** @brief Index of the transaction in its block (0 if NULL). */
LEDGER_API uint32_t ledger_proof_index(const ledger_proof *p);
/** @brief Consensus timestamp of the block (0 if NULL). */
LEDGER_API uint64_t ledger_proof_timestamp(const ledger_proof *p);
/** @brief Header hash of the block (32 bytes owned by p; NULL if p is NULL). */
LEDGER_API const uint8_t *ledger_proof_header_hash(const ledger_proof *p);
/** @brief State root in the block's header (32 bytes owned by p). */
LEDGER_API const uint8_t *ledger_proof_state_root(const ledger_proof *p);
/**
 * @brief Canonical encoding.
 * @param[out] out new buffer (ledger_free). @param[out] len its length.
 * @return LEDGER_OK, LEDGER_E_INVALID, LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_proof_encode(const ledger_proof *p, uint8_t **out, size_t *len);
/**
 * @brief Decode a proof (strict; the path length must match index and count).
 * @return LEDGER_OK, LEDGER_E_DECODE, LEDGER_E_VERSION, LEDGER_E_INVALID, LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_proof_decode(ledger_proof **out, const uint8_t *buf, size_t len);
/** @brief Free a proof. NULL is a no-op. */
LEDGER_API void ledger_proof_free(ledger_proof *p);

#ifdef __cplusplus
}
#endif
#endif /* LEDGER_PROOF_H */
