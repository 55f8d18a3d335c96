/**
 * @file ledger/bundle.h
 * @brief Proof bundles: everything a third party needs to check, offline and
 * with no store, that a transaction (an act) was committed on a chain whose
 * genesis membership it knows (docs/formats/ledger-bundle.md).
 *
 * A bundle carries the transaction, its inclusion proof (Merkle path, block
 * header, commit certificate), the hash of the genesis membership, and the
 * chain of membership changes from genesis to the block's height, each
 * certified by the membership before it. libledger's membership is static, so
 * the chain is empty today; the format carries it so that bundles stay
 * verifiable once memberships change.
 *
 * Thread safety: pure functions.
 */
#ifndef LEDGER_BUNDLE_H
#define LEDGER_BUNDLE_H

#include "common.h"
#include "tx.h"
#include "proof.h"
#include "membership.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ledger_client; /* ledger/client.h */

/** Bundle format version. */
#define LEDGER_BUNDLE_FORMAT_VERSION 1
/** Kind: a transaction and its inclusion proof. */
#define LEDGER_BUNDLE_KIND_TX 1
/** Largest bundle the decoder reads (4 MiB). */
#define LEDGER_BUNDLE_BYTES_MAX (4u << 20)
/** Most membership changes a bundle carries. */
#define LEDGER_BUNDLE_CHANGES_MAX 1024

/** What a verified bundle proves. */
typedef struct ledger_bundle_info {
    uint32_t kind;          /**< LEDGER_BUNDLE_KIND_TX */
    uint64_t height;        /**< height of the block holding the transaction */
    uint32_t index;         /**< index of the transaction in the block */
    uint64_t timestamp;     /**< the block's consensus timestamp, ms */
    uint32_t header_format; /**< 1 or 2 */
    uint32_t app_version;   /**< application version the block was executed under */
    uint8_t tx_hash[32];    /**< the transaction's hash */
    uint8_t header_hash[32];
    uint8_t state_root[32]; /**< state root after the block */
    uint8_t chain_id[32];   /**< from the genesis membership */
} ledger_bundle_info;

/**
 * @brief Build a bundle from a transaction and its inclusion proof (no check of
 * the proof).
 * @param[in] genesis the chain's genesis membership.
 * @param[out] out new buffer (ledger_free). @param[out] len its length.
 * @return LEDGER_OK, LEDGER_E_INVALID, LEDGER_E_NOMEM, LEDGER_E_MEMBERSHIP (the
 * block's header names another membership than the genesis one: bundles do not
 * carry membership changes yet, docs/formats/ledger-bundle.md).
 */
LEDGER_API int ledger_bundle_create(const ledger_membership *genesis, const ledger_tx *tx,
                                    const ledger_proof *proof, uint8_t **out, size_t *len);
/**
 * @brief Verify a bundle against a genesis membership, with nothing else: the
 * bundle names this genesis (its hash), each membership change is certified by
 * the membership before it, the transaction's Merkle path leads to the header's
 * root, the header's commit certificate verifies under the membership in force,
 * and (header format 2) the header's epoch hash is that membership's hash.
 * @param[in] buf,len the bundle. @param[in] genesis,genesis_len the genesis
 * membership's encoding (LDMS).
 * @param[out] info what the bundle proves (may be NULL).
 * @param[out] tx the transaction, decoded (may be NULL; ledger_tx_free).
 * @return LEDGER_OK; LEDGER_E_DECODE, LEDGER_E_VERSION (not a canonical bundle);
 * LEDGER_E_MEMBERSHIP (another chain's genesis, or a membership change, which this
 * release cannot check); LEDGER_E_HASH (path); LEDGER_E_CERTIFICATE; LEDGER_E_EPOCH;
 * LEDGER_E_INVALID; LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_bundle_verify(const uint8_t *buf, size_t len, const uint8_t *genesis,
                                    size_t genesis_len, ledger_bundle_info *info, ledger_tx **tx);

/**
 * @brief Export the bundle of a committed transaction from a store (its
 * membership is the genesis).
 * @return LEDGER_OK, LEDGER_E_NOT_FOUND, LEDGER_E_INVALID, LEDGER_E_IO, LEDGER_E_NOMEM,
 * LEDGER_E_MEMBERSHIP (a block after a membership change, as ledger_bundle_create).
 */
LEDGER_API int ledger_store_bundle(ledger_store *s, const uint8_t tx_hash[32], uint8_t **out,
                                   size_t *len);
/**
 * @brief Export the bundle of a committed transaction through a client: the
 * transaction and its proof as f+1 replicas give them (the proof is verified
 * first), for the genesis membership @p genesis.
 * @return LEDGER_OK, ledger_client_tx's and ledger_client_proof's codes,
 * LEDGER_E_MEMBERSHIP (a block after a membership change, as ledger_bundle_create).
 */
LEDGER_API int ledger_client_bundle(struct ledger_client *c, const uint8_t tx_hash[32],
                                    const ledger_membership *genesis, uint32_t timeout_ms,
                                    uint8_t **out, size_t *len);

#ifdef __cplusplus
}
#endif
#endif /* LEDGER_BUNDLE_H */
