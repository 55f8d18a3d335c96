/**
 * @file ledger/bundle.h
 * @brief Proof bundles: everything a third party needs to check, offline and
 * with no store, that a transaction (an act) was committed on a chain whose
 * genesis membership it knows (docs/formats/ledger-bundle.md).
 *
 * A bundle carries the transaction, its inclusion proof (Merkle path, block
 * header, commit certificate), the hash of the genesis membership, and the
 * chain of membership changes from genesis to the block's height (format
 * version 2): for each change, the header and commit certificate of the block
 * that decided it, certified by the membership then in force, and the block's
 * net writes, which its state root covers and which hold the next membership.
 * A verifier that knows only the genesis membership derives every next one.
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

/** Bundle format version written when the chain's membership changed (a bundle
 * of a block certified by the genesis membership is written as version 1,
 * which stays readable). */
#define LEDGER_BUNDLE_FORMAT_VERSION 2
/** Kind: a transaction and its inclusion proof. */
#define LEDGER_BUNDLE_KIND_TX 1
/** Largest bundle the decoder reads (4 MiB). */
#define LEDGER_BUNDLE_BYTES_MAX (4u << 20)
/** Most membership changes a bundle carries. */
#define LEDGER_BUNDLE_CHANGES_MAX 1024
/** Largest list of membership changes ledger_changes_verify reads (16 MiB). */
#define LEDGER_CHANGES_BYTES_MAX (16u << 20)

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
 * block's header names another membership than the genesis one: use
 * ledger_bundle_create_changes with the changes, docs/formats/ledger-bundle.md).
 */
LEDGER_API int ledger_bundle_create(const ledger_membership *genesis, const ledger_tx *tx,
                                    const ledger_proof *proof, uint8_t **out, size_t *len);
/**
 * @brief Build a bundle that carries membership changes: @p changes is a list
 * as ledger_store_changes() gives it (u16 m ‖ m changes), from genesis to the
 * block's height; with m = 0 (or @p changes NULL) this is ledger_bundle_create.
 * The list must decode; nothing is verified.
 * @return LEDGER_OK, LEDGER_E_INVALID (the list does not decode, or a format 1
 * header with changes), LEDGER_E_NOMEM, LEDGER_E_FULL (over
 * LEDGER_BUNDLE_BYTES_MAX), LEDGER_E_MEMBERSHIP (no change, and the header
 * names another membership than the genesis one).
 */
LEDGER_API int ledger_bundle_create_changes(const ledger_membership *genesis,
                                            const uint8_t *changes, size_t changes_len,
                                            const ledger_tx *tx, const ledger_proof *proof,
                                            uint8_t **out, size_t *len);
/**
 * @brief Verify a list of membership changes (u16 m ‖ m changes,
 * docs/formats/ledger-bundle.md) starting from the membership @p from: each
 * change's block names the membership then in force, its certificate verifies
 * under it, its state root covers its writes, which hold the next membership
 * (in force two blocks later), of the same chain.
 * @param[out] out the membership after the last change (a copy of @p from if
 * m = 0; ledger_membership_free). @param[out] effective its first height (0 if
 * m = 0; may be NULL).
 * @return LEDGER_OK, LEDGER_E_INVALID, LEDGER_E_DECODE, LEDGER_E_EPOCH (a block
 * names another membership: a change is missing or forged), LEDGER_E_CERTIFICATE,
 * LEDGER_E_STATE_ROOT, LEDGER_E_MEMBERSHIP, LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_changes_verify(const ledger_membership *from, const uint8_t *buf, size_t len,
                                     ledger_membership **out, uint64_t *effective);
/**
 * @brief The list of the membership changes a store's chain holds that take
 * force at heights in (@p after, @p upto], in order, for ledger_changes_verify
 * and ledger_bundle_create_changes.
 * @param[out] out new buffer (ledger_free). @param[out] len its length.
 * @return LEDGER_OK, LEDGER_E_INVALID, LEDGER_E_MEMBERSHIP (the store did not
 * execute a deciding block itself — it joined from a snapshot, or the block was
 * written before bundle format 2 — so it holds no witness of it), LEDGER_E_FULL
 * (over LEDGER_CHANGES_BYTES_MAX or LEDGER_BUNDLE_CHANGES_MAX changes),
 * LEDGER_E_CORRUPT, LEDGER_E_IO, LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_store_changes(ledger_store *s, uint64_t after, uint64_t upto, uint8_t **out,
                                    size_t *len);
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
 * LEDGER_E_MEMBERSHIP (another chain's genesis; a version 1 bundle with changes;
 * the block below the last change's height); LEDGER_E_HASH (path);
 * LEDGER_E_CERTIFICATE; LEDGER_E_EPOCH; LEDGER_E_STATE_ROOT (a change's writes);
 * LEDGER_E_INVALID; LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_bundle_verify(const uint8_t *buf, size_t len, const uint8_t *genesis,
                                    size_t genesis_len, ledger_bundle_info *info, ledger_tx **tx);

/**
 * @brief Export the bundle of a committed transaction from a store, with the
 * membership changes from genesis to its block (ledger_store_changes).
 * @return LEDGER_OK, LEDGER_E_NOT_FOUND, LEDGER_E_INVALID, LEDGER_E_IO, LEDGER_E_NOMEM,
 * LEDGER_E_FULL, LEDGER_E_MEMBERSHIP (as ledger_store_changes).
 */
LEDGER_API int ledger_store_bundle(ledger_store *s, const uint8_t tx_hash[32], uint8_t **out,
                                   size_t *len);
/**
 * @brief Export the bundle of a committed transaction through a client: the
 * transaction and its proof as f+1 replicas give them (the proof is verified
 * first), and the membership changes from @p genesis to its block, as a
 * replica gives them and the client verifies them (ledger_changes_verify).
 * @return LEDGER_OK, ledger_client_tx's and ledger_client_proof's codes,
 * LEDGER_E_MEMBERSHIP (no replica proved the changes).
 */
LEDGER_API int ledger_client_bundle(struct ledger_client *c, const uint8_t tx_hash[32],
                                    const ledger_membership *genesis, uint32_t timeout_ms,
                                    uint8_t **out, size_t *len);

#ifdef __cplusplus
}
#endif
#endif /* LEDGER_BUNDLE_H */
