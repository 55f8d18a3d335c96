/**
 * @file fedshare/node.h
 * @brief Run one consortium node: a PBFT replica of libledger running the
 * fedshare contracts, configured by one file, with a health and metrics
 * endpoint in Prometheus text format (docs/guides/fedshare-node.md).
 *
 * The configuration file is libledger's (chain_id, f, replica lines, id,
 * key_file, data_dir, block_period_ms …) plus fedshare's own lines:
 *
 *     member NAME <64 hex public key> roles=… org=… credentials=…   (fedshare/consortium.h)
 *     metrics_port 9100                                              (0 or absent: none)
 *
 * Thread safety: start and stop must not race on one node; the getters may be
 * called from any thread while it runs.
 */
#ifndef FEDSHARE_NODE_H
#define FEDSHARE_NODE_H

#include <ledger.h>

#include "fedshare/common.h"
#include "fedshare/consortium.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief Read a configuration file and split it: the ledger's settings
 * (relative paths made relative to the file's directory), the consortium, and
 * the metrics port.
 * @param[out] ledger_text new NUL-terminated ledger configuration text (fedshare_free), or NULL
 * if not wanted. @param[out] consortium new consortium (may be NULL if not wanted).
 * @param[out] metrics_port the metrics_port setting, 0 when absent (may be NULL).
 * @param[out] err_line line of the first fedshare error (may be NULL).
 * @return FEDSHARE_OK, FEDSHARE_E_INVALID, FEDSHARE_E_IO, FEDSHARE_E_CONFIG, FEDSHARE_E_NOMEM.
 */
FEDSHARE_API int fedshare_config_load(const char *path, char **ledger_text,
                                      fedshare_consortium **consortium, uint32_t *metrics_port,
                                      uint32_t *err_line);

/** Options of fedshare_node_start (zero fields take the configuration's values). */
typedef struct fedshare_node_options {
    uint32_t version;         /**< FEDSHARE_NODE_OPTIONS_VERSION. */
    int32_t id;               /**< Replica index; −1: the configuration's "id". */
    const char *data_dir;     /**< NULL: the configuration's. */
    const uint8_t *seed;      /**< 32-byte Ed25519 seed; NULL: the configuration's key_file. */
    uint32_t sync;            /**< 1 (default) fsync every block; 2 no fsync (tests). */
    uint32_t block_period_ms; /**< 0: configuration or libledger's default. */
    int32_t metrics_port;     /**< −1: the configuration's; 0: none; else the TCP port. */
    /* version 2 */
    uint32_t blob_quota_mib; /**< Blob bytes each consortium member may store on this node,
                                  in MiB; 0: FEDSHARE_BLOB_QUOTA_MIB_DEFAULT. Only members
                                  (their signed puts) store blobs at all. */
    uint32_t blob_limit_mib; /**< The store's blob high-water mark in MiB; 0: half the
                                  LMDB map (ledger_store_options.blob_limit_mib). */
    /* version 3 */
    ledger_log_fn log;  /**< Receives the node's messages (ledger/common.h): an invalid
                             configuration line, then the replica's (ledger_node_options.log).
                             NULL: they are dropped; the library never prints. */
    void *log_ctx;      /**< Passed to log. */
    uint32_t log_level; /**< ledger_log_level, 1 … 4; 0: LEDGER_LOG_INFO. */
    uint32_t reserved;  /**< 0. */
} fedshare_node_options;
/** Version 3 added the log callback, version 2 the blob fields; versions 1 and 2 (without
 * them) are still accepted. */
#define FEDSHARE_NODE_OPTIONS_VERSION 3
#define FEDSHARE_NODE_OPTIONS_INIT                                                                 \
    { FEDSHARE_NODE_OPTIONS_VERSION, -1, NULL, NULL, 0, 0, -1, 0, 0, NULL, NULL, 0, 0 }
/** @brief Fill @p opts with FEDSHARE_NODE_OPTIONS_INIT (the current version, every field
 * taken from the configuration). @return FEDSHARE_OK, FEDSHARE_E_INVALID (NULL). */
FEDSHARE_API int fedshare_node_options_init(fedshare_node_options *opts);
/** Default per-member blob quota (MiB). */
#define FEDSHARE_BLOB_QUOTA_MIB_DEFAULT 1024

/** A running node (opaque). */
typedef struct fedshare_node fedshare_node;

/**
 * @brief Start a node: verify its stored chain, bind its replica and metrics
 * addresses, run the contracts.
 * @return FEDSHARE_OK, FEDSHARE_E_INVALID, FEDSHARE_E_CONFIG (the log callback gets the line),
 * FEDSHARE_E_IO (metrics port in use), libledger's codes of ledger_node_start (e.g.
 * LEDGER_E_CORRUPT: the log message names the block), FEDSHARE_E_NOMEM.
 */
FEDSHARE_API int fedshare_node_start(fedshare_node **out, const char *config_path,
                                     const fedshare_node_options *opts);
/** @brief Stop and free. NULL is a no-op. */
FEDSHARE_API void fedshare_node_stop(fedshare_node *n);
/** @return the underlying replica (owned by @p n), for its getters. */
FEDSHARE_API ledger_node *fedshare_node_replica(fedshare_node *n);
/**
 * @brief Whether the node halted because an upgrade puts in force a contract
 * version this build lacks (ledger_node_halted; docs/fedshare-contracts.md §Versions).
 * @param[out] info the plan (may be NULL).
 * @return FEDSHARE_OK (running), LEDGER_E_UPGRADE_NEEDED (halted), FEDSHARE_E_INVALID.
 */
FEDSHARE_API int fedshare_node_halted(fedshare_node *n, ledger_upgrade_info *info);
/** @return the metrics port actually bound (0 when none). */
FEDSHARE_API uint32_t fedshare_node_metrics_port(const fedshare_node *n);
/**
 * @brief The metrics text the endpoint serves (Prometheus exposition format).
 * @param[out] text new NUL-terminated text (fedshare_free).
 * @return FEDSHARE_OK, FEDSHARE_E_INVALID, FEDSHARE_E_NOMEM.
 */
FEDSHARE_API int fedshare_node_metrics(fedshare_node *n, char **text);

/**
 * @brief Verify a stopped node's stored chain end to end (hash links, Merkle
 * roots, certificates, and every state root re-executed through the
 * contracts) — the tamper check of the seed paper.
 * @param[in] data_dir the node's data directory (NULL: the configuration's).
 * @param[out] bad_height the first block that fails (0 if none).
 * Run it on a stopped node: a running node's store is not locked against
 * another process's reader, and a chain still growing may be read mid-append.
 * @return FEDSHARE_OK, LEDGER_E_CORRUPT (and *bad_height), FEDSHARE_E_CONFIG, FEDSHARE_E_IO,
 * libledger's open codes.
 */
FEDSHARE_API int fedshare_verify_store(const char *config_path, const char *data_dir,
                                       uint64_t *bad_height);

#ifdef __cplusplus
}
#endif

#endif /* FEDSHARE_NODE_H */
