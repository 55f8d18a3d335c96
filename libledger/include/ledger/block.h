/**
 * @file ledger/block.h
 * @brief Blocks and their Merkle tree of transactions (docs/formats/ledger.md §Block).
 *
 * A block's header is: height, previous header hash, consensus timestamp,
 * Merkle root of its transactions, state root after applying them, proposer
 * (replica index), view, transaction count and, from header format 2, the
 * application version the block was executed under and the epoch hash
 * (SHA-256 of the membership in force); from format 3, the state digest
 * (BLAKE2b-256 of an LtHash of the state's contents after the block). The header hash (SHA-256 of
 * the header encoding) identifies the block; it excludes the certificate, which is carried beside
 * the header.
 *
 * Blocks are created in format 3; format 1 and 2 blocks (chains written
 * before) are decoded, verified and stored as they are, never created.
 *
 * Thread safety: a block may be read from several threads at once; setters
 * need exclusive access to that block.
 */
#ifndef LEDGER_BLOCK_H
#define LEDGER_BLOCK_H

#include "common.h"
#include "tx.h"
#include "membership.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Current block (and header) format version: the one ledger_block_create makes. */
#define LEDGER_BLOCK_FORMAT_VERSION 3
/** Size of a format 1 header encoding (chains written before 0.3). */
#define LEDGER_HEADER_V1_BYTES 131
/** Size of a format 2 header encoding (with application version and epoch hash). */
#define LEDGER_HEADER_V2_BYTES 167
/** Size of a format 3 header encoding (format 2 and the state digest). */
#define LEDGER_HEADER_V3_BYTES 199
/** Largest header encoding: the size of a buffer that holds any header. */
#define LEDGER_HEADER_BYTES LEDGER_HEADER_V3_BYTES
/** Application version of every block of format 1, and of a chain's genesis. */
#define LEDGER_APP_VERSION_GENESIS 1
/** Largest number of transactions in a block. */
#define LEDGER_BLOCK_TXS_MAX 65536
/** Largest block encoding accepted by the decoder (64 MiB). */
#define LEDGER_BLOCK_BYTES_MAX (64u << 20)

/** A block (opaque). */
typedef struct ledger_block ledger_block;

/**
 * @brief Create a block (no certificate, state root all zero) from transactions.
 * The transactions are copied; the Merkle root is computed.
 * @param[out] out new block, owned by the caller (ledger_block_free).
 * @param[in] height 1 for the first block.
 * @param[in] prev_hash header hash of block height−1 (32 zero bytes for height 1).
 * @param[in] timestamp consensus timestamp, milliseconds since the Unix epoch.
 * @param[in] proposer replica index of the proposer.
 * @param[in] view view in which it is proposed.
 * @param[in] txs array of @p n transactions (may be NULL if n is 0).
 * @param[in] n count, at most LEDGER_BLOCK_TXS_MAX.
 * @return LEDGER_OK, LEDGER_E_INVALID, LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_block_create(ledger_block **out, uint64_t height, const uint8_t prev_hash[32],
                                   uint64_t timestamp, uint16_t proposer, uint64_t view,
                                   const ledger_tx *const *txs, size_t n);
/**
 * @brief Like ledger_block_create, but takes ownership of the transactions
 * (no copies). On success the block owns them and the array itself remains
 * the caller's; on failure the caller keeps them.
 */
LEDGER_API int ledger_block_create_take(ledger_block **out, uint64_t height,
                                        const uint8_t prev_hash[32], uint64_t timestamp,
                                        uint16_t proposer, uint64_t view, ledger_tx **txs,
                                        size_t n);
/** @brief Free a block (and its transactions and certificate). NULL is a no-op. */
LEDGER_API void ledger_block_free(ledger_block *b);

/** @brief Height (0 if NULL). */
LEDGER_API uint64_t ledger_block_height(const ledger_block *b);
/** @brief Previous header hash (32 bytes owned by b; NULL if b is NULL). */
LEDGER_API const uint8_t *ledger_block_prev_hash(const ledger_block *b);
/** @brief Consensus timestamp in ms (0 if NULL). */
LEDGER_API uint64_t ledger_block_timestamp(const ledger_block *b);
/** @brief Merkle root of the transactions (32 bytes owned by b). */
LEDGER_API const uint8_t *ledger_block_tx_root(const ledger_block *b);
/** @brief State root after applying this block (32 bytes owned by b). */
LEDGER_API const uint8_t *ledger_block_state_root(const ledger_block *b);
/** @brief Proposer replica index (0 if NULL). */
LEDGER_API uint16_t ledger_block_proposer(const ledger_block *b);
/** @brief View of the proposal (0 if NULL). */
LEDGER_API uint64_t ledger_block_view(const ledger_block *b);
/** @brief Number of transactions (0 if NULL). */
LEDGER_API size_t ledger_block_tx_count(const ledger_block *b);
/** @brief Transaction i (borrowed, owned by b), NULL if out of range. */
LEDGER_API const ledger_tx *ledger_block_tx(const ledger_block *b, size_t i);
/** @brief Header hash (32 bytes owned by b; recomputed after setters). */
LEDGER_API const uint8_t *ledger_block_header_hash(const ledger_block *b);
/**
 * @brief The header encoding (LEDGER_HEADER_V1_BYTES, LEDGER_HEADER_V2_BYTES or
 * LEDGER_HEADER_V3_BYTES bytes, by the block's format).
 * @param[out] out buffer of LEDGER_HEADER_BYTES bytes. @param[out] len bytes written.
 * @return LEDGER_OK or LEDGER_E_INVALID.
 */
LEDGER_API int ledger_block_header(const ledger_block *b, uint8_t out[LEDGER_HEADER_BYTES],
                                   size_t *len);
/** @brief Header format version of the block (1, 2 or 3; 0 if NULL). */
LEDGER_API uint32_t ledger_block_format(const ledger_block *b);
/** @brief Application version the block was executed under (format 1: 1; 0 if NULL). */
LEDGER_API uint32_t ledger_block_app_version(const ledger_block *b);
/**
 * @brief Epoch hash: SHA-256 of the membership encoding (LDMS) in force at the
 * block's height (32 bytes owned by b; NULL for a format 1 block or NULL b).
 */
LEDGER_API const uint8_t *ledger_block_epoch(const ledger_block *b);
/**
 * @brief Set the application version and epoch hash of a format 2 block (the
 * proposer takes them from ledger_store_block_context()). Changes the header
 * hash and drops any certificate.
 * @return LEDGER_OK or LEDGER_E_INVALID (NULL, version 0, or a format 1 block).
 */
LEDGER_API int ledger_block_set_context(ledger_block *b, uint32_t app_version,
                                        const uint8_t epoch[32]);

/**
 * @brief State digest: BLAKE2b-256 of the LtHash accumulator of the state and
 * nonce tables after the block (docs/formats/ledger.md §State digest); 32
 * bytes owned by b, NULL below format 3 or for NULL b.
 */
LEDGER_API const uint8_t *ledger_block_state_digest(const ledger_block *b);
/**
 * @brief Set the state digest of a format 3 block (the proposer takes it from
 * ledger_store_prepare_digest()). Changes the header hash and drops any certificate.
 * @return LEDGER_OK or LEDGER_E_INVALID (NULL, or a block below format 3).
 */
LEDGER_API int ledger_block_set_state_digest(ledger_block *b, const uint8_t digest[32]);

/**
 * @brief Set the state root (the proposer does this with the root
 * ledger_store_prepare() computes). Changes the header hash and drops any certificate.
 * @return LEDGER_OK or LEDGER_E_INVALID.
 */
LEDGER_API int ledger_block_set_state_root(ledger_block *b, const uint8_t root[32]);

/** @brief The certificate (borrowed, owned by b), NULL if none. */
LEDGER_API const ledger_cert *ledger_block_cert(const ledger_block *b);
/**
 * @brief Attach a copy of a certificate (replacing any). Not verified here.
 * @param[in] c certificate, or NULL to remove it.
 * @return LEDGER_OK, LEDGER_E_INVALID, LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_block_set_cert(ledger_block *b, const ledger_cert *c);

/**
 * @brief Check what a block proves by itself: the Merkle root matches the
 * transactions and, when @p m is not NULL, the certificate verifies against
 * @p m (a certificate is then required). Transaction signatures are not checked.
 * @return LEDGER_OK, LEDGER_E_HASH, LEDGER_E_CERTIFICATE, LEDGER_E_INVALID.
 */
LEDGER_API int ledger_block_check(const ledger_block *b, const ledger_membership *m);

/**
 * @brief Canonical encoding: header fields, transactions, certificate (if any).
 * @param[out] out new buffer (ledger_free). @param[out] len its length.
 * @return LEDGER_OK, LEDGER_E_INVALID, LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_block_encode(const ledger_block *b, uint8_t **out, size_t *len);
/**
 * @brief Decode a block (strict). Recomputes the Merkle root and fails with
 * LEDGER_E_HASH if the header's root does not match the transactions.
 * @return LEDGER_OK, LEDGER_E_DECODE, LEDGER_E_VERSION, LEDGER_E_HASH, LEDGER_E_INVALID,
 * LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_block_decode(ledger_block **out, const uint8_t *buf, size_t len);

/**
 * @brief Merkle root of a list of transaction hashes (RFC 6962 tree, leaves
 * SHA-256(0x00 ‖ tx hash), nodes SHA-256(0x01 ‖ left ‖ right); empty = SHA-256("")).
 * @param[in] hashes n × 32 bytes. @param[in] n count. @param[out] root 32 bytes.
 * @return LEDGER_OK, LEDGER_E_INVALID, LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_merkle_root(const uint8_t *hashes, size_t n, uint8_t root[32]);

#ifdef __cplusplus
}
#endif
#endif /* LEDGER_BLOCK_H */
