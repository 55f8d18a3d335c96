/**
 * @file ledger/node.h
 * @brief Run one PBFT replica of a ledger: the store (LMDB), the application,
 * the transport (TCP, authenticated frames) and the consensus event loop on a
 * thread of its own (docs/ledger-protocol.md).
 *
 * Thread safety: ledger_node_start and ledger_node_stop must not race on the
 * same node; the getters may be called from any thread while it runs.
 */
#ifndef LEDGER_NODE_H
#define LEDGER_NODE_H

#include "common.h"
#include "app.h"
#include "config.h"
#include "store.h"
#include "upgrade.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Blob authorization hook (ledger_node_options.blob_authorize): may the key
 * @p putter, whose signature over the blob the node has verified, store a
 * blob of @p len bytes? Return LEDGER_OK and set *quota to the bytes that key
 * may hold in total on this node (LEDGER_BLOB_QUOTA_NONE: no per-key limit),
 * or a negative code to refuse (LEDGER_E_BLOB_DENIED is the usual one; the
 * client gets the code). Called on the node's event-loop thread for each
 * signed blob put; it must not block and must not call back into the node.
 */
typedef int (*ledger_blob_authorize_fn)(void *ctx, const uint8_t putter[32], uint64_t len,
                                        uint64_t *quota);

/** Options of ledger_node_start (every field has a default when zero). */
typedef struct ledger_node_options {
    uint32_t version;          /**< LEDGER_NODE_OPTIONS_VERSION. */
    int32_t id;                /**< Replica index; −1: the configuration's "id". */
    const char *data_dir;      /**< LMDB directory; NULL: the configuration's "data_dir". */
    const uint8_t *seed;       /**< 32-byte Ed25519 seed; NULL: the configuration's key_file. */
    const ledger_app *app;     /**< Application; NULL: the key-value app (ledger_kv_app()). */
    uint32_t sync;             /**< 1 (default): fsync every block; 2: no fsync (tests, bench). */
    uint32_t block_period_ms;  /**< Longest wait before a block is cut; 0: config or 5000. */
    uint32_t max_block_txs;    /**< Largest block; 0: config or 2000. */
    uint32_t checkpoint_every; /**< K, 1 … 1024 and equal on every replica; 0: config or 32. */
    uint32_t view_timeout_ms;  /**< First view-change timeout; 0: config or 2000. */
    const char *fault_file;    /**< Test builds only (LEDGER_FAULT_INJECTION): fault settings
                                    re-read while running; ignored otherwise. */
    /* Version 2 (docs/ledger-protocol.md): blob authorization and transport limits. */
    ledger_blob_authorize_fn blob_authorize; /**< Who may put blobs, and their quota; NULL:
                                                  the replicas' member keys only, with no
                                                  per-key quota. Unsigned puts are always
                                                  refused (LEDGER_E_BLOB_ANONYMOUS). */
    void *blob_ctx;                          /**< Passed to blob_authorize. */
    uint32_t blob_limit_mib;                 /**< The store's blob high-water mark in MiB
                                                  (ledger_store_options.blob_limit_mib); 0: half the map. */
    /* transport limits; 0: the configuration's setting, else the default */
    uint32_t handshake_timeout_ms; /**< An incoming connection's HELLO must be complete within
                                        this (50 … 600000; default 5000). */
    uint32_t max_pending_conns;    /**< Incoming connections held before their HELLO (1 … 16384;
                                        default 4096); the oldest is closed for a newcomer. */
    uint32_t max_clients;          /**< Client connections after their HELLO (1 … 32768; default
                                        1024); the least recently active is closed for a newcomer. */
    uint32_t max_clients_per_addr; /**< Of those, from one IPv4 address (1 … 32768; default 256). */
    uint32_t client_idle_ms;       /**< A client connection with no traffic either way for this
                                        long is closed (100 … 86400000; default 300000). */
    uint32_t reserved;             /**< 0. */
    /* Version 3: the log callback (the library itself never prints). */
    ledger_log_fn log;  /**< Receives the node's messages: a stored chain that fails
                             verification, a key that is not the member's, view changes,
                             failed commits, block fetches (ledger_log_level). NULL: they
                             are dropped. Called from ledger_node_start's thread and then
                             from the node's event-loop thread. */
    void *log_ctx;      /**< Passed to log. */
    uint32_t log_level; /**< Deliver messages at this ledger_log_level and below (1 … 4);
                             0: LEDGER_LOG_INFO. */
    uint32_t reserved3; /**< 0. */
} ledger_node_options;

/** 3: adds the log callback; 2: blob authorization and the transport limits. A caller
 * built with version 1 or 2 passes its version (its options end at fault_file, or at
 * reserved) and gets the defaults for the rest. */
#define LEDGER_NODE_OPTIONS_VERSION 3
#define LEDGER_NODE_OPTIONS_INIT                                                                   \
    {                                                                                              \
        LEDGER_NODE_OPTIONS_VERSION, -1, NULL, NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, 0, 0,  \
            0, 0, 0, 0, 0, NULL, NULL, 0, 0                                                        \
    }

/** @brief Initialise options to LEDGER_NODE_OPTIONS_INIT. @return LEDGER_OK or LEDGER_E_INVALID. */
LEDGER_API int ledger_node_options_init(ledger_node_options *o);

/** A running replica (opaque). */
typedef struct ledger_node ledger_node;

/**
 * @brief Open the store (verifying the stored chain), bind the replica's
 * address and start its event-loop thread.
 * @param[out] out new node, owned by the caller (ledger_node_stop).
 * @param[in] cfg configuration (copied what is needed; may be freed after).
 * @param[in] opts options, or NULL for the defaults.
 * @return LEDGER_OK, LEDGER_E_INVALID (also checkpoint_every above 1024, log_level above 4),
 * LEDGER_E_CONFIG (no id, key or data dir; key not the member's: logged), LEDGER_E_CORRUPT
 * (stored chain fails; the log message names the block), LEDGER_E_STARTED (address in use),
 * the store's open codes, LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_node_start(ledger_node **out, const ledger_config *cfg,
                                 const ledger_node_options *opts);
/** @brief Stop the loop, close the store and free the node. NULL is a no-op. */
LEDGER_API void ledger_node_stop(ledger_node *n);
/** @brief Height of the last committed block (0 if NULL). */
LEDGER_API uint64_t ledger_node_height(const ledger_node *n);
/** @brief Current view (0 if NULL). */
LEDGER_API uint64_t ledger_node_view(const ledger_node *n);

/** The node's transport: connections held and what the limits closed (counters since start). */
typedef struct ledger_transport_stats {
    uint32_t version;             /**< Set by the caller: LEDGER_TRANSPORT_STATS_VERSION. */
    uint32_t reserved;            /**< 0. */
    uint64_t pending;             /**< Incoming connections before their HELLO, now. */
    uint64_t clients;             /**< Client connections after their HELLO, now. */
    uint64_t replica_links;       /**< Authenticated replica links (both directions), now. */
    uint64_t rx_buffer_bytes;     /**< Receive buffer bytes allocated over all connections, now. */
    uint64_t accepted;            /**< Incoming connections accepted. */
    uint64_t handshake_timeouts;  /**< Closed: HELLO not complete within the deadline. */
    uint64_t first_frame_refused; /**< Closed: a first frame whose length is not a HELLO's. */
    uint64_t pending_evicted;     /**< Closed: the oldest pending connection, for a newcomer. */
    uint64_t clients_evicted;     /**< Closed: the least recently active client, for a newcomer. */
    uint64_t idle_closed;         /**< Closed: a client idle longer than client_idle_ms. */
    uint64_t links_replaced;      /**< Closed: an older incoming link of the same replica. */
    uint64_t accept_paused;       /**< Times accepting paused for lack of file descriptors. */
} ledger_transport_stats;

#define LEDGER_TRANSPORT_STATS_VERSION 1

/**
 * @brief Read the node's transport counters (from any thread; each value is read atomically,
 * the set is not one snapshot).
 * @param[in] n node. @param[in,out] out out->version set by the caller; filled on success.
 * @return LEDGER_OK, LEDGER_E_INVALID (NULL, or an unknown version).
 */
LEDGER_API int ledger_node_transport_stats(const ledger_node *n, ledger_transport_stats *out);
/**
 * @brief Blob bytes this node stores, in total (@p putter NULL) or charged to one key.
 * @return LEDGER_OK, LEDGER_E_INVALID, LEDGER_E_IO.
 */
LEDGER_API int ledger_node_blob_usage(const ledger_node *n, const uint8_t putter[32],
                                      uint64_t *bytes);
/**
 * @brief The top of the node's stored chain (height, header hash, state root).
 * @param[out] out filled on success.
 * @return LEDGER_OK, LEDGER_E_INVALID, LEDGER_E_IO.
 */
LEDGER_API int ledger_node_tip(const ledger_node *n, ledger_tip *out);
/**
 * @brief Whether the node halted for an upgrade it lacks: the application
 * version in force at its next block is above what its application executes
 * (ledger_app.app_version_max). A halted node executes no block at or past the
 * activation height; it still serves reads of what it holds. Stop it and start
 * a release with that version (fedshare-ledger-node exits with status 4).
 * @param[out] info the plan that needs it (may be NULL).
 * @return LEDGER_OK (running), LEDGER_E_UPGRADE_NEEDED (halted), LEDGER_E_INVALID.
 */
LEDGER_API int ledger_node_halted(const ledger_node *n, ledger_upgrade_info *info);

#ifdef __cplusplus
}
#endif
#endif /* LEDGER_NODE_H */
