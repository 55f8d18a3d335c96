/**
 * @file ledger/client.h
 * @brief Talk to a ledger's replicas: submit a transaction and wait for its
 * commit receipt (f+1 matching replies and a verified inclusion proof), read
 * blocks, transactions and state, trace, store and fetch blobs, follow new
 * blocks (docs/guides/ledger.md).
 *
 * Every answer that a single replica could forge is checked: blocks by their
 * certificate, transactions and receipts by inclusion proofs, state and trace
 * answers by f+1 matching replies, blobs by their hash.
 *
 * Thread safety: a client may be used from several threads at once (each call
 * blocks its own thread); the follow callback runs on the client's network thread.
 */
#ifndef LEDGER_CLIENT_H
#define LEDGER_CLIENT_H

#include "common.h"
#include "tx.h"
#include "block.h"
#include "proof.h"
#include "store.h"
#include "config.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A connection to the replicas of one ledger (opaque). */
typedef struct ledger_client ledger_client;

/** What a committed transaction's receipt says. */
typedef struct ledger_receipt {
    uint64_t height;        /**< Block height. */
    uint32_t index;         /**< Position in the block. */
    int32_t status;         /**< LEDGER_OK if applied, else the code the application gave. */
    uint32_t replies;       /**< Matching replica replies gathered (≥ f+1). */
    uint32_t reserved;      /**< 0. */
    uint8_t tx_hash[32];    /**< The transaction's hash. */
    uint8_t block_hash[32]; /**< Header hash of the block. */
} ledger_receipt;

/** Flags of ledger_client_submit. */
#define LEDGER_SUBMIT_NO_PROOF 1u /**< Skip fetching and checking the inclusion proof. */

/**
 * @brief Connect to the replicas named in @p cfg.
 * @param[out] out new client, owned by the caller (ledger_client_close).
 * @param[in] cfg configuration (copied).
 * @param[in] timeout_ms how long to wait for f+1 replicas to answer the handshake.
 * @return LEDGER_OK, LEDGER_E_INVALID, LEDGER_E_NETWORK (fewer than f+1 reachable),
 * LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_client_connect(ledger_client **out, const ledger_config *cfg,
                                     uint32_t timeout_ms);
/** @brief Close the connections and free the client. NULL is a no-op. */
LEDGER_API void ledger_client_close(ledger_client *c);

/**
 * @brief Submit a signed transaction and wait until it is committed.
 * @param[in] c client. @param[in] tx transaction (not taken).
 * @param[in] flags 0 or LEDGER_SUBMIT_NO_PROOF.
 * @param[in] timeout_ms deadline (resent to all replicas every second meanwhile).
 * @param[out] receipt filled on success (may be NULL).
 * @param[out] proof the verified inclusion proof, owned by the caller (ledger_proof_free);
 * may be NULL.
 * @return LEDGER_OK (committed; receipt->status says whether it was applied or rejected),
 * LEDGER_E_SIGNATURE / LEDGER_E_REPLAY / LEDGER_E_REJECTED (refused before ordering, by f+1
 * replicas), LEDGER_E_TIMEOUT, LEDGER_E_CERTIFICATE or LEDGER_E_HASH (proof does not verify),
 * LEDGER_E_CLOSED, LEDGER_E_INVALID, LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_client_submit(ledger_client *c, const ledger_tx *tx, uint32_t flags,
                                    uint32_t timeout_ms, ledger_receipt *receipt,
                                    ledger_proof **proof);

/**
 * @brief Read a block and check its certificate against the membership.
 * @param[out] out new block (ledger_block_free).
 * @return LEDGER_OK, LEDGER_E_NOT_FOUND, LEDGER_E_CERTIFICATE, LEDGER_E_HASH, LEDGER_E_TIMEOUT,
 * LEDGER_E_INVALID, LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_client_block(ledger_client *c, uint64_t height, uint32_t timeout_ms,
                                   ledger_block **out);
/**
 * @brief Read a committed transaction, checked by its inclusion proof.
 * @param[out] out new transaction (ledger_tx_free); @param[out] height, index (may be NULL).
 * @return LEDGER_OK, LEDGER_E_NOT_FOUND, LEDGER_E_CERTIFICATE, LEDGER_E_HASH, LEDGER_E_TIMEOUT,
 * LEDGER_E_INVALID, LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_client_tx(ledger_client *c, const uint8_t hash[32], uint32_t timeout_ms,
                                ledger_tx **out, uint64_t *height, uint32_t *index);
/**
 * @brief Inclusion proof of a committed transaction, verified.
 * @param[out] out new proof (ledger_proof_free).
 * @return as ledger_client_tx.
 */
LEDGER_API int ledger_client_proof(ledger_client *c, const uint8_t hash[32], uint32_t timeout_ms,
                                   ledger_proof **out);
/**
 * @brief Read a committed state key (the stored value bytes); f+1 replicas must agree.
 * @param[out] val new buffer (ledger_free), NULL for an empty value. @param[out] vlen length.
 * @return LEDGER_OK, LEDGER_E_NOT_FOUND, LEDGER_E_DIVERGED, LEDGER_E_TIMEOUT, LEDGER_E_INVALID.
 */
LEDGER_API int ledger_client_get(ledger_client *c, const uint8_t *key, size_t klen,
                                 uint32_t timeout_ms, uint8_t **val, size_t *vlen);
/**
 * @brief Ask the application a read-only query; f+1 replicas must agree.
 * @return as ledger_client_get.
 */
LEDGER_API int ledger_client_query(ledger_client *c, const uint8_t *q, size_t qlen,
                                   uint32_t timeout_ms, uint8_t **out, size_t *out_len);
/**
 * @brief Transactions that touched (op, key), from height @p from, oldest first;
 * f+1 replicas must agree.
 * @param[out] out @p max entries; @param[out] n number written.
 * @return LEDGER_OK, LEDGER_E_DIVERGED, LEDGER_E_TIMEOUT, LEDGER_E_INVALID.
 */
LEDGER_API int ledger_client_trace(ledger_client *c, uint16_t op, const uint8_t *key, size_t klen,
                                   uint64_t from, uint32_t timeout_ms, ledger_trace_entry *out,
                                   size_t max, size_t *n);
/**
 * @brief Heights of the blocks with t0 ≤ timestamp ≤ t1; f+1 replicas must agree.
 * @return as ledger_client_trace.
 */
LEDGER_API int ledger_client_trace_time(ledger_client *c, uint64_t t0, uint64_t t1,
                                        uint32_t timeout_ms, uint64_t *heights, size_t max,
                                        size_t *n);
/**
 * @brief Set the callback that receives this client's messages (links to
 * replicas coming up and going down, at LEDGER_LOG_INFO). The library prints
 * nothing; without a callback the messages are dropped. The callback runs on
 * the client's network thread (see ledger_log_fn); links already up when it
 * is set (those ledger_client_connect waited for) are not reported again.
 * @param[in] c client. @param[in] fn callback, or NULL to drop messages again.
 * @param[in] ctx passed to @p fn. @param[in] level deliver messages at this
 * ledger_log_level and below (0: LEDGER_LOG_INFO).
 * @return LEDGER_OK, LEDGER_E_INVALID (NULL client, level above LEDGER_LOG_DEBUG).
 */
LEDGER_API int ledger_client_set_log(ledger_client *c, ledger_log_fn fn, void *ctx, uint32_t level);
/**
 * @brief Set the key that signs this client's blob puts (a copy is kept and
 * wiped at close; NULL removes it). Replicas store only signed blobs, from
 * keys their node lets put blobs, within that key's quota
 * (docs/ledger-protocol.md §Blobs).
 * @return LEDGER_OK, LEDGER_E_INVALID, LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_client_set_signer(ledger_client *c, const ledger_signer *s);
/**
 * @brief Store a blob on every reachable replica, signed by the client's
 * signer (ledger_client_set_signer); succeeds when f+1 stored it.
 * @param[out] hash its SHA-256 (may be NULL).
 * @return LEDGER_OK, LEDGER_E_BLOB_ANONYMOUS (the client has no signer: every replica
 * refuses), LEDGER_E_BLOB_DENIED (the key may not put blobs), LEDGER_E_SIGNATURE,
 * LEDGER_E_BLOB_QUOTA (the key's quota would be exceeded), LEDGER_E_BLOB_FULL (the
 * replicas' blob high-water mark), LEDGER_E_DIVERGED (replicas answered differently, e.g.
 * some full and some not), LEDGER_E_TIMEOUT, LEDGER_E_INVALID (too large: above 16 MiB
 * less 1 KiB), LEDGER_E_NOMEM. The refusals are those of f+1 replicas.
 */
LEDGER_API int ledger_client_blob_put(ledger_client *c, const uint8_t *data, size_t len,
                                      uint32_t timeout_ms, uint8_t hash[32]);
/**
 * @brief Fetch a blob by hash from any replica that has it; the bytes are checked
 * against the hash.
 * @param[out] data new buffer (ledger_free). @param[out] len length.
 * @return LEDGER_OK, LEDGER_E_NOT_FOUND, LEDGER_E_TIMEOUT, LEDGER_E_INVALID, LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_client_blob_get(ledger_client *c, const uint8_t hash[32], uint32_t timeout_ms,
                                      uint8_t **data, size_t *len);
/**
 * @brief The highest committed height that f+1 replicas have reached.
 * @return LEDGER_OK, LEDGER_E_TIMEOUT, LEDGER_E_INVALID.
 */
LEDGER_API int ledger_client_height(ledger_client *c, uint32_t timeout_ms, uint64_t *height);

/**
 * @name Read consistency (docs/ledger-protocol.md §Reads)
 * Every read is answered from state at least as new as the client's floor:
 * the highest height it has committed a transaction at, read a certified
 * block or proof at, obtained from ledger_client_height(), or been told of
 * with ledger_client_observe(). A replica that has not executed the floor
 * yet holds the read until it has, bounded by the read's timeout (and by the
 * replica's own limit: LEDGER_E_TIMEOUT or LEDGER_E_LIMIT), so a read never
 * answers NOT_FOUND for a record that this client saw committed.
 * @{
 */
/** Session reads (the default): read-your-writes and monotonic reads for one
 * client; f+1 matching answers. */
#define LEDGER_READ_SESSION 0u
/** Linearizable reads: 2f+1 matching answers, each from a replica that has
 * executed every block it voted to commit when the read arrived, so the
 * answer reflects every write whose receipt any client held before the read
 * began (Castro & Liskov's read-only optimisation). Costs one more answer. */
#define LEDGER_READ_LINEARIZABLE 1u

/** @brief Choose the read mode of every later read of @p c.
 * @return LEDGER_OK, LEDGER_E_INVALID (unknown mode). */
LEDGER_API int ledger_client_set_read_mode(ledger_client *c, uint32_t mode);
/** @return the client's floor: the lowest height its next read may reflect. */
LEDGER_API uint64_t ledger_client_seen_height(ledger_client *c);
/**
 * @brief Raise the floor to @p height (never lowers it): carry another
 * client's or process's receipt height here for read-your-writes across
 * clients. A height no replica reaches makes reads end in LEDGER_E_TIMEOUT.
 * @return LEDGER_OK, LEDGER_E_INVALID.
 */
LEDGER_API int ledger_client_observe(ledger_client *c, uint64_t height);
/**
 * @brief Wait until f+1 replicas have announced a committed block at
 * @p height or above (the client subscribes to new blocks on first use; each
 * replica announces its tip at once, so a height already reached returns
 * without waiting), then raise the floor to it. Use it to wait for other
 * members' acts: read, and if the state is not yet what you wait for,
 * wait for ledger_client_seen_height() + 1 and read again — no polling.
 * @param[out] reached the highest announced height (may be NULL).
 * @return LEDGER_OK, LEDGER_E_TIMEOUT, LEDGER_E_INVALID.
 */
LEDGER_API int ledger_client_wait_height(ledger_client *c, uint64_t height, uint32_t timeout_ms,
                                         uint64_t *reached);
/** @} */

/** Called for each new block a followed replica commits (network thread). */
typedef void (*ledger_follow_cb)(void *ctx, uint64_t height, const uint8_t hash[32],
                                 uint64_t timestamp);
/**
 * @brief Follow new blocks: @p cb runs once per new height, when f+1 replicas
 * announced the same header hash for it, in increasing height order. The
 * subscription is renewed on every replica link that (re)connects, and each
 * replica announces its current tip when the subscription reaches it; a height
 * whose announcements were all lost while links were down is skipped (read
 * it with ledger_client_block). One callback per client; NULL stops.
 * @return LEDGER_OK, LEDGER_E_INVALID.
 */
LEDGER_API int ledger_client_follow(ledger_client *c, ledger_follow_cb cb, void *ctx);

#ifdef __cplusplus
}
#endif
#endif /* LEDGER_CLIENT_H */
