/**
 * @file ledger/common.h
 * @brief libledger: export macro, error codes, sizes, memory release.
 *
 * Thread safety: every function here is thread-safe (no shared state).
 */
#ifndef LEDGER_COMMON_H
#define LEDGER_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(LEDGER_BUILDING) && defined(__GNUC__)
#define LEDGER_API __attribute__((visibility("default")))
#else
#define LEDGER_API
#endif

/** Sizes of the fixed-width byte strings (also available as functions). */
#define LEDGER_HASH_BYTES   32 /**< SHA-256 digest. */
#define LEDGER_PUBKEY_BYTES 32 /**< Ed25519 public key. */
#define LEDGER_SIG_BYTES    64 /**< Ed25519 signature. */
#define LEDGER_SEED_BYTES   32 /**< Ed25519 secret seed. */

/**
 * Error codes of libledger: 0 is success, every failure is negative, in
 * −200 … −299. The data and storage half uses −200 … −249; the range
 * −250 … −299 is reserved for the consensus half (ledger/node.h,
 * ledger/client.h, ledger/transport.h), which defines its codes there.
 */
typedef enum ledger_error {
    /* clang-format off */
    /* codes:begin libledger.data.enum: generated from libledger/codes.tsv by tools/gen_codes.py */
    /** Success. */
    LEDGER_OK = 0,
    /** An argument is invalid (NULL, out of range, too large). */
    LEDGER_E_INVALID = -200,
    /** Bytes are not a canonical encoding of the object. */
    LEDGER_E_DECODE = -201,
    /** Unknown format version (encoding or store on disk). */
    LEDGER_E_VERSION = -202,
    /** A signature does not verify. */
    LEDGER_E_SIGNATURE = -203,
    /** A commit certificate does not verify (quorum, members). */
    LEDGER_E_CERTIFICATE = -204,
    /** A hash link, Merkle root or content hash does not match. */
    LEDGER_E_HASH = -205,
    /** The state root after applying a block does not match. */
    LEDGER_E_STATE_ROOT = -206,
    /** A block is not the next one (height or previous hash). */
    LEDGER_E_HEIGHT = -207,
    /** No such block, transaction, key or blob. */
    LEDGER_E_NOT_FOUND = -208,
    /** The application rejected a transaction. */
    LEDGER_E_REJECTED = -209,
    /** A transaction's nonce is not above its sender's last. */
    LEDGER_E_REPLAY = -210,
    /** The store fails verification (see the block named). */
    LEDGER_E_CORRUPT = -211,
    /** Membership invalid or not the one the store holds. */
    LEDGER_E_MEMBERSHIP = -212,
    /** A block's timestamp goes backwards. */
    LEDGER_E_TIMESTAMP = -213,
    /** The application failed (not a rejection of one tx). */
    LEDGER_E_APP = -214,
    /** An output buffer is too small. */
    LEDGER_E_BUFFER_TOO_SMALL = -215,
    /** The store's map is full (raise map_size). */
    LEDGER_E_FULL = -216,
    /** The putter's blob quota would be exceeded. */
    LEDGER_E_BLOB_QUOTA = -217,
    /** The blob store reached its high-water mark. */
    LEDGER_E_BLOB_FULL = -218,
    /** A block's header names another application version than the one in force at its height. */
    LEDGER_E_APP_VERSION = -219,
    /** A block's epoch hash is not the hash of the membership in force at its height. */
    LEDGER_E_EPOCH = -220,
    /** The application version in force at the next block is above what this build executes
     *  (ledger_app.app_version_max): nothing more is executed; install the release that has it. */
    LEDGER_E_UPGRADE_NEEDED = -221,
    /** A transaction names another application version than the one in force (an upgrade
     *  activated): build it again for the version in force. */
    LEDGER_E_TX_APP_VERSION = -222,
    /** The store started from a snapshot at its base height (ledger_store_snapshot_base): blocks
     *  and headers below the base are not held, and LEDGER_VERIFY_FULL cannot replay from genesis
     *  (docs/ledger-storage.md §Snapshots). */
    LEDGER_E_SNAPSHOT = -223,
    /** Out of memory. */
    LEDGER_E_NOMEM = -240,
    /** I/O or LMDB failure. */
    LEDGER_E_IO = -241,
    /** The store is in use by another handle or process. */
    LEDGER_E_BUSY = -242,
    /** Internal inconsistency (a bug): please report. */
    LEDGER_E_INTERNAL = -243
    /* codes:end */
    /* clang-format on */
} ledger_error;

/* clang-format off */
/* codes:begin libledger.data.aliases: generated from libledger/codes.tsv by tools/gen_codes.py */
#define LEDGER_E_BUFFER LEDGER_E_BUFFER_TOO_SMALL /**< Deprecated name of LEDGER_E_BUFFER_TOO_SMALL. */
/* codes:end */
/* clang-format on */

/**
 * @brief Static text for an error code (never NULL).
 * @param[in] code a return value of a libledger function.
 * @return a static, NUL-terminated English description.
 */
LEDGER_API const char *ledger_strerror(int code);

/** @brief Runtime version string, e.g. "0.1.0" (static). */
LEDGER_API const char *ledger_version_string(void);

/**
 * @brief Release memory that a libledger function returned to the caller
 * (encodings, values, query answers). NULL is a no-op.
 * @param[in] p owned pointer from libledger.
 */
LEDGER_API void ledger_free(void *p);

/** @brief Size of a hash (32). */
LEDGER_API size_t ledger_hash_bytes(void);
/** @brief Size of an Ed25519 public key (32). */
LEDGER_API size_t ledger_pubkey_bytes(void);
/** @brief Size of an Ed25519 signature (64). */
LEDGER_API size_t ledger_sig_bytes(void);

/**
 * Severity of a message passed to a ledger_log_fn. Lower is more severe; a
 * log level setting delivers the messages at that level and below.
 */
typedef enum ledger_log_level {
    LEDGER_LOG_ERROR = 1, /**< Something failed (a commit, a stored chain, a configuration). */
    LEDGER_LOG_WARN = 2,  /**< Unusual but handled (a view change started). */
    LEDGER_LOG_INFO = 3,  /**< Normal events worth an operator's eye (a new view, a link). */
    LEDGER_LOG_DEBUG = 4  /**< Detail for debugging (block fetches and their results). */
} ledger_log_level;

/**
 * Log callback. libledger never writes to stderr or stdout itself: a node
 * (ledger_node_options.log) or a client (ledger_client_set_log) hands each
 * message to this function, and without one the message is dropped.
 *
 * @param[in] ctx the pointer given with the callback.
 * @param[in] level a ledger_log_level.
 * @param[in] message one line of English text without a trailing newline,
 * NUL-terminated, valid only during the call.
 *
 * It may be called from the library's threads (a node's event loop, a
 * client's network thread) and, during ledger_node_start, from the caller's
 * thread; it must be thread-safe, must not block for long, and must not call
 * back into the node or client that logged.
 */
typedef void (*ledger_log_fn)(void *ctx, int level, const char *message);

/**
 * @brief SHA-256 of a byte string.
 * @param[out] out 32 bytes.
 * @param[in] data bytes (may be NULL when len is 0).
 * @param[in] len length.
 * @return LEDGER_OK or LEDGER_E_INVALID.
 */
LEDGER_API int ledger_sha256(uint8_t out[32], const uint8_t *data, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* LEDGER_COMMON_H */
