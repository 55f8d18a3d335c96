/**
 * @file ledger/store.h
 * @brief The LMDB store of one node: blocks, transaction index, trace
 * indexes, application state, nonces, blobs (docs/ledger-storage.md,
 * docs/formats/ledger.md §LMDB layout).
 *
 * A block, its transactions' index entries and the application's state
 * changes commit in one LMDB write transaction (durable sync by default).
 *
 * Proposer and followers (docs/ledger-storage.md §Prepare): the primary builds
 * a block, calls ledger_store_prepare() — which executes it in a write
 * transaction that is then aborted — and sets the returned state root into the
 * header before proposing. Backups call ledger_store_prepare() on the proposal
 * too and vote only if their root equals the header's. When the block is
 * committed, ledger_store_append() executes it again for real and refuses it if
 * the root differs.
 *
 * Thread safety: a store handle may be used from several threads at once.
 * Readers run in parallel (LMDB read transactions); writers (prepare, append,
 * blob put) are serialised. A process may hold one handle per store directory
 * (a second ledger_store_open of the same directory returns LEDGER_E_BUSY).
 */
#ifndef LEDGER_STORE_H
#define LEDGER_STORE_H

#include "common.h"
#include "tx.h"
#include "block.h"
#include "membership.h"
#include "app.h"
#include "proof.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Format version of the store on disk (meta key "format"). */
#define LEDGER_STORE_FORMAT_VERSION 1

/** How much of the chain ledger_verify_chain()/open re-checks. */
typedef enum ledger_verify_level {
    LEDGER_VERIFY_NONE = 0,  /**< Nothing (open only checks format and membership). */
    LEDGER_VERIFY_LINKS = 1, /**< Encodings, hash links, Merkle roots, certificates, tx index. */
    LEDGER_VERIFY_FULL = 2   /**< LINKS + tx signatures + replay of every block from an empty
                                  state (state roots) + the stored state equals the replay. */
} ledger_verify_level;

/** Values of ledger_store_options.sync. */
#define LEDGER_SYNC_NONE 0
#define LEDGER_SYNC_FULL 1
#define LEDGER_SYNC_DATA 2

/** Options of ledger_store_open. */
typedef struct ledger_store_options {
    uint32_t version;        /**< LEDGER_STORE_OPTIONS_VERSION. */
    uint32_t sync;           /**< LEDGER_SYNC_FULL (1, default): every commit is durable when
                                  append returns (data and meta page flushed). LEDGER_SYNC_DATA
                                  (2): one flush per commit instead of two; a power loss may
                                  undo the last commit, never corrupts. LEDGER_SYNC_NONE (0):
                                  no flush; a process crash loses nothing, a power loss may
                                  lose recent commits (and, on file systems that reorder
                                  writes, corrupt the file). */
    uint32_t verify;         /**< ledger_verify_level run at open (default LEDGER_VERIFY_LINKS). */
    uint32_t blob_limit_mib; /**< High-water mark of the blob store, in MiB: a blob put that
                                  would take the stored blob bytes above it fails with
                                  LEDGER_E_BLOB_FULL. 0 (default): half the map size. Whatever
                                  the limit, a put that would leave less than a quarter of the
                                  map free is refused too, so blobs never fill the map that
                                  block application needs (docs/ledger-storage.md §Blobs). */
    uint64_t map_size;       /**< LMDB map size in bytes (default 8 GiB; sparse). */
} ledger_store_options;

#define LEDGER_STORE_OPTIONS_VERSION 1
#define LEDGER_STORE_OPTIONS_INIT                                                                  \
    { LEDGER_STORE_OPTIONS_VERSION, 1, LEDGER_VERIFY_LINKS, 0, (uint64_t)8 << 30 }

/** @brief Initialise options to LEDGER_STORE_OPTIONS_INIT. @return LEDGER_OK or LEDGER_E_INVALID.
 */
LEDGER_API int ledger_store_options_init(ledger_store_options *o);

/** The top of a stored chain. */
typedef struct ledger_tip {
    uint64_t height;        /**< 0 for an empty chain. */
    uint64_t timestamp;     /**< of the last block (0 if empty). */
    uint8_t hash[32];       /**< header hash of the last block (zero if empty). */
    uint8_t state_root[32]; /**< state root after the last block (zero if empty). */
} ledger_tip;

/** One hit of a trace: the transaction at (height, index). */
typedef struct ledger_trace_entry {
    uint64_t height;
    uint32_t index;
    uint32_t reserved; /**< 0. */
} ledger_trace_entry;

/** A node's store (opaque). */
typedef struct ledger_store ledger_store;

/**
 * @brief Open (creating if needed) the store in directory @p path.
 * A new store records the format version and the membership; an existing one
 * must have the same format version and membership. The chain is verified at
 * the level opts->verify; a store that fails is not opened.
 * @param[out] out new handle, owned by the caller (ledger_store_close).
 * @param[in] path directory (created if missing).
 * @param[in] m membership (copied).
 * @param[in] app application table (copied; app->ctx must outlive the store).
 * @param[in] opts options, or NULL for the defaults.
 * @param[out] bad_height when LEDGER_E_CORRUPT is returned, the first block
 * that fails (may be NULL).
 * @return LEDGER_OK, LEDGER_E_INVALID, LEDGER_E_VERSION (format), LEDGER_E_MEMBERSHIP,
 * LEDGER_E_CORRUPT, LEDGER_E_BUSY, LEDGER_E_IO, LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_store_open(ledger_store **out, const char *path, const ledger_membership *m,
                                 const ledger_app *app, const ledger_store_options *opts,
                                 uint64_t *bad_height);
/** @brief Close a store. NULL is a no-op. */
LEDGER_API void ledger_store_close(ledger_store *s);

/** @brief The store's membership (borrowed). */
LEDGER_API const ledger_membership *ledger_store_membership(const ledger_store *s);

/**
 * @brief The top of the chain.
 * @return LEDGER_OK, LEDGER_E_INVALID, LEDGER_E_IO.
 */
LEDGER_API int ledger_store_tip(ledger_store *s, ledger_tip *out);

/** @brief Height of the last block (0 if empty or s is NULL). */
LEDGER_API uint64_t ledger_store_height(ledger_store *s);

/**
 * @brief Check a transaction as consensus does before ordering it: signature,
 * nonce above the sender's last committed nonce, the application's check().
 * @return LEDGER_OK, LEDGER_E_SIGNATURE, LEDGER_E_REPLAY, LEDGER_E_REJECTED (or the
 * application's code), LEDGER_E_INVALID, LEDGER_E_IO.
 */
LEDGER_API int ledger_store_check_tx(ledger_store *s, const ledger_tx *tx);

/**
 * @brief ledger_store_check_tx for many transactions in one read transaction.
 * Signatures already verified by this store (a cache of recent transaction
 * hashes) are not verified again, here or in ledger_store_prepare.
 * @param[in] txs @p n transactions. @param[out] statuses one code per transaction
 * (LEDGER_OK or the code ledger_store_check_tx would return).
 * @return LEDGER_OK (see statuses), LEDGER_E_INVALID, LEDGER_E_IO.
 */
LEDGER_API int ledger_store_check_txs(ledger_store *s, const ledger_tx *const *txs, size_t n,
                                      int *statuses);

/**
 * @brief The last committed nonce of a sender (0 if it never sent).
 * @return LEDGER_OK, LEDGER_E_INVALID, LEDGER_E_IO.
 */
LEDGER_API int ledger_store_nonce(ledger_store *s, const uint8_t sender[32], uint64_t *nonce);

/** Flags of ledger_store_prepare. */
#define LEDGER_PREPARE_VERIFY_TX 1u /**< Also verify every transaction signature. */

/**
 * @brief Execute block @p b on top of the stored chain without committing:
 * checks height, previous hash, timestamp (not below the last block's) and
 * Merkle root, applies every transaction in a write transaction that is then
 * aborted, and returns the resulting state root. Nothing is stored.
 * @param[in] s store.
 * @param[in] b block (its state root and certificate are ignored).
 * @param[in] flags 0 or LEDGER_PREPARE_VERIFY_TX (transactions this store already
 * verified, e.g. through ledger_store_check_tx, are not verified twice).
 * @param[out] state_root 32 bytes.
 * @return LEDGER_OK, LEDGER_E_HEIGHT, LEDGER_E_TIMESTAMP, LEDGER_E_HASH, LEDGER_E_SIGNATURE,
 * LEDGER_E_APP, LEDGER_E_INVALID, LEDGER_E_FULL, LEDGER_E_IO, LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_store_prepare(ledger_store *s, const ledger_block *b, uint32_t flags,
                                    uint8_t state_root[32]);
/**
 * @brief ledger_store_prepare that also returns the state digest after the
 * block (what a format 3 header carries, ledger_block_set_state_digest();
 * docs/formats/ledger.md §State digest).
 * @param[out] state_digest 32 bytes.
 * @return as ledger_store_prepare.
 */
LEDGER_API int ledger_store_prepare_digest(ledger_store *s, const ledger_block *b, uint32_t flags,
                                           uint8_t state_root[32], uint8_t state_digest[32]);

/**
 * @brief Append a committed block: checks it is the next block (height,
 * previous hash, timestamp), its Merkle root and its certificate against the
 * store's membership, applies its transactions, compares the state root with
 * the header's, and commits block + indexes + state in one durable LMDB
 * transaction. On any error nothing is stored.
 * Transaction signatures are not re-verified (a valid certificate means a
 * quorum, hence an honest replica, checked them); pass through
 * ledger_store_append_ex with LEDGER_PREPARE_VERIFY_TX to verify anyway.
 * @return LEDGER_OK, LEDGER_E_HEIGHT, LEDGER_E_TIMESTAMP, LEDGER_E_HASH, LEDGER_E_CERTIFICATE,
 * LEDGER_E_STATE_ROOT, LEDGER_E_SIGNATURE, LEDGER_E_APP, LEDGER_E_INVALID, LEDGER_E_FULL,
 * LEDGER_E_IO, LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_store_append(ledger_store *s, const ledger_block *b);
/** @brief ledger_store_append with flags (0 or LEDGER_PREPARE_VERIFY_TX). */
LEDGER_API int ledger_store_append_ex(ledger_store *s, const ledger_block *b, uint32_t flags);

/**
 * @brief Read block @p height (1 … tip).
 * @param[out] out new block, owned by the caller.
 * @return LEDGER_OK, LEDGER_E_NOT_FOUND, LEDGER_E_CORRUPT (stored bytes do not decode),
 * LEDGER_E_INVALID, LEDGER_E_IO, LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_store_block(ledger_store *s, uint64_t height, ledger_block **out);
/**
 * @brief Read block @p height's header and header hash without decoding its
 * transactions (cheap; the stored block was verified when appended and at open).
 * @param[out] header buffer of LEDGER_HEADER_BYTES bytes (may be NULL).
 * @param[out] header_len bytes of the header (its format's size); required with @p header.
 * @param[out] hash its SHA-256, the block's header hash (may be NULL; not both).
 * @return LEDGER_OK, LEDGER_E_NOT_FOUND, LEDGER_E_CORRUPT, LEDGER_E_INVALID, LEDGER_E_IO.
 */
LEDGER_API int ledger_store_header(ledger_store *s, uint64_t height,
                                   uint8_t header[LEDGER_HEADER_BYTES], size_t *header_len,
                                   uint8_t hash[32]);

/**
 * @brief The context the next block's header must carry (header format 2): the
 * application version in force at the next height and the epoch hash (SHA-256
 * of the membership encoding in force). The proposer sets them with
 * ledger_block_set_context() before ledger_store_prepare(); prepare and append
 * refuse a format 2 block whose context differs (LEDGER_E_APP_VERSION,
 * LEDGER_E_EPOCH) and a block of an older format than the tip's (LEDGER_E_VERSION).
 * @return LEDGER_OK or LEDGER_E_INVALID.
 */
LEDGER_API int ledger_store_block_context(ledger_store *s, uint32_t *app_version,
                                          uint8_t epoch[32]);

/**
 * @brief Read block @p height's stored encoding (as sent for state transfer).
 * @param[out] out new buffer (ledger_free). @param[out] len its length.
 * @return LEDGER_OK, LEDGER_E_NOT_FOUND, LEDGER_E_INVALID, LEDGER_E_IO, LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_store_block_encoding(ledger_store *s, uint64_t height, uint8_t **out,
                                           size_t *len);

/**
 * @brief Find a transaction by hash.
 * @param[out] out new transaction (may be NULL if not wanted).
 * @param[out] height, index its position (may be NULL).
 * @param[out] status LEDGER_OK if applied, else the code apply() rejected it with,
 * e.g. LEDGER_E_REJECTED or LEDGER_E_REPLAY (may be NULL).
 * @return LEDGER_OK, LEDGER_E_NOT_FOUND, LEDGER_E_CORRUPT, LEDGER_E_INVALID, LEDGER_E_IO,
 * LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_store_tx(ledger_store *s, const uint8_t hash[32], ledger_tx **out,
                               uint64_t *height, uint32_t *index, int *status);

/**
 * @brief Read a committed state key.
 * @param[out] val new buffer (ledger_free); NULL for an empty value. @param[out] vlen length.
 * @return LEDGER_OK, LEDGER_E_NOT_FOUND, LEDGER_E_INVALID, LEDGER_E_IO, LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_store_get(ledger_store *s, const uint8_t *key, size_t klen, uint8_t **val,
                                size_t *vlen);

/**
 * @brief Ask the application a read-only query on committed state.
 * @param[out] out answer (ledger_free), possibly NULL. @param[out] out_len its length.
 * @return LEDGER_OK, the application's code, LEDGER_E_INVALID (no query callback), LEDGER_E_IO.
 */
LEDGER_API int ledger_store_query(ledger_store *s, const uint8_t *q, size_t qlen, uint8_t **out,
                                  size_t *out_len);

/**
 * @brief Transactions that touched (op, key) (recorded by the application with
 * ledger_state_index), oldest first, starting at height @p from.
 * @param[out] out array of @p max entries. @param[out] n number written.
 * To page through more than @p max entries, call again with @p from = the last
 * entry's height and skip entries up to and including that last (height, index).
 * @return LEDGER_OK, LEDGER_E_INVALID, LEDGER_E_IO.
 */
LEDGER_API int ledger_store_trace(ledger_store *s, uint16_t op, const uint8_t *key, size_t klen,
                                  uint64_t from, ledger_trace_entry *out, size_t max, size_t *n);

/**
 * @brief Heights of the blocks with t0 ≤ timestamp ≤ t1, ascending.
 * @param[out] heights array of @p max. @param[out] n number written.
 * @return LEDGER_OK, LEDGER_E_INVALID, LEDGER_E_IO.
 */
LEDGER_API int ledger_store_trace_time(ledger_store *s, uint64_t t0, uint64_t t1, uint64_t *heights,
                                       size_t max, size_t *n);

/** Largest blob (256 MiB; the network carries at most 16 MiB per blob put). */
#define LEDGER_BLOB_MAX ((uint64_t)LEDGER_STATE_VALUE_MAX * 16)
/** Quota meaning "no per-key limit" (the store's high-water mark still applies). */
#define LEDGER_BLOB_QUOTA_NONE UINT64_MAX

/**
 * @brief Store a blob under its SHA-256 on behalf of @p putter, charging its
 * length to that key's usage (docs/ledger-storage.md §Blobs). A blob already
 * stored is a no-op and charges nothing. Usage is kept in the store (it
 * survives restarts). The caller authenticated @p putter (the node checks the
 * putter's signature and asks its authorization hook for @p quota).
 * Blobs are local to this node (not part of the replicated state).
 * @param[in] putter 32-byte Ed25519 public key the blob is charged to.
 * @param[in] quota bytes @p putter may hold in total (LEDGER_BLOB_QUOTA_NONE: no limit).
 * @param[out] hash 32 bytes (may be NULL).
 * @return LEDGER_OK, LEDGER_E_INVALID (too large: > LEDGER_BLOB_MAX), LEDGER_E_BLOB_QUOTA
 * (the putter's usage would exceed @p quota), LEDGER_E_BLOB_FULL (the store's blob high-water
 * mark, ledger_store_options.blob_limit_mib, or the map's reserve would be crossed),
 * LEDGER_E_FULL, LEDGER_E_IO. On any error nothing is stored.
 */
LEDGER_API int ledger_store_blob_put_as(ledger_store *s, const uint8_t putter[32],
                                        const uint8_t *data, size_t len, uint64_t quota,
                                        uint8_t hash[32]);
/**
 * @brief ledger_store_blob_put_as by the store's own operator (charged to the
 * all-zero key, with no quota; the high-water mark applies).
 * @param[out] hash 32 bytes (may be NULL).
 * @return as ledger_store_blob_put_as.
 */
LEDGER_API int ledger_store_blob_put(ledger_store *s, const uint8_t *data, size_t len,
                                     uint8_t hash[32]);
/**
 * @brief Blob bytes stored, in total (@p putter NULL) or charged to one key.
 * @param[out] bytes the count (0 for a key that never put a blob).
 * @return LEDGER_OK, LEDGER_E_INVALID, LEDGER_E_IO.
 */
LEDGER_API int ledger_store_blob_usage(ledger_store *s, const uint8_t putter[32], uint64_t *bytes);
/**
 * @brief Fetch a blob by hash; its bytes are re-hashed and must match.
 * @param[out] data new buffer (ledger_free). @param[out] len its length.
 * @return LEDGER_OK, LEDGER_E_NOT_FOUND, LEDGER_E_HASH (stored bytes altered), LEDGER_E_INVALID,
 * LEDGER_E_IO, LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_store_blob_get(ledger_store *s, const uint8_t hash[32], uint8_t **data,
                                     size_t *len);

/**
 * @brief Inclusion proof of a stored transaction.
 * @return LEDGER_OK, LEDGER_E_NOT_FOUND, LEDGER_E_CORRUPT, LEDGER_E_INVALID, LEDGER_E_IO,
 * LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_store_proof(ledger_store *s, const uint8_t tx_hash[32], ledger_proof **out);

/**
 * @brief Re-check the stored chain (see ledger_verify_level) and name the first
 * block that fails.
 * @param[in] s store. @param[in] level LEDGER_VERIFY_LINKS or LEDGER_VERIFY_FULL.
 * @param[out] bad_height first failing height (0 if the failure is not tied to a
 * block, e.g. state that differs from the replay); may be NULL.
 * @return LEDGER_OK, LEDGER_E_CORRUPT, LEDGER_E_INVALID, LEDGER_E_IO, LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_verify_chain(ledger_store *s, int level, uint64_t *bad_height);

#ifdef __cplusplus
}
#endif
#endif /* LEDGER_STORE_H */
