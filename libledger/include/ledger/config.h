/**
 * @file ledger/config.h
 * @brief Static consortium configuration shared by replicas and clients, and
 * the error codes of libledger's consensus half (−250 … −299).
 *
 * The configuration file is text, one setting per line, '#' starts a comment
 * (docs/formats/ledger-consensus.md §Configuration):
 *
 *     chain_id <64 hex>
 *     f 1
 *     replica 0 127.0.0.1:7100 <Ed25519 public key, 64 hex>
 *     ...                                  (n = 3f+1 … 64 replica lines, ids 0…n−1)
 *     genesis_replicas 4                   (optional: replicas 0…3 form the genesis
 *                                           membership; the others join by a change)
 *     block_period_ms 5000                 (optional settings)
 *     id 0                                 (node-only settings)
 *     key_file node0.key                   (64 hex: the Ed25519 seed)
 *     data_dir /var/lib/fedshare/node0
 *
 * Thread safety: a configuration is immutable once loaded and may be read from
 * several threads at once.
 */
#ifndef LEDGER_CONFIG_H
#define LEDGER_CONFIG_H

#include "common.h"
#include "membership.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Error codes of the consensus half (see ledger_strerror()). */
enum ledger_consensus_error {
    /* clang-format off */
    /* codes:begin libledger.consensus.enum: generated from libledger/codes.tsv by tools/gen_codes.py */
    /** The configuration is invalid (ledger_config_parse_ex names the line). */
    LEDGER_E_CONFIG = -250,
    /** No connection to enough replicas, or a socket failed. */
    LEDGER_E_NETWORK = -251,
    /** No answer (f+1 matching replies) before the deadline. */
    LEDGER_E_TIMEOUT = -252,
    /** Replicas gave answers that do not agree. */
    LEDGER_E_DIVERGED = -253,
    /** The node or client is stopping or stopped. */
    LEDGER_E_CLOSED = -254,
    /** The node could not start (address in use, store refused). */
    LEDGER_E_STARTED = -255,
    /** A replica's per-client limit was reached (e.g. reads waiting for a height); try again later.
     *  −257 … −259 are left free for transport limits. */
    LEDGER_E_LIMIT = -256,
    /** A blob put carried no signature (client without a signer: ledger_client_set_signer). */
    LEDGER_E_BLOB_ANONYMOUS = -260,
    /** The node's policy does not let this key put blobs. */
    LEDGER_E_BLOB_DENIED = -261
    /* codes:end */
    /* clang-format on */
};

/** A parsed configuration (opaque). */
typedef struct ledger_config ledger_config;

/**
 * @brief Parse configuration text.
 * @param[out] out new configuration, owned by the caller (ledger_config_free).
 * @param[in] text the bytes of the file (need not be NUL-terminated).
 * @param[in] len their length (at most 1 MiB).
 * @return LEDGER_OK, LEDGER_E_CONFIG (syntax, missing or duplicate replica,
 * n < 3f+1, bad key or address), LEDGER_E_INVALID (NULL), LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_config_parse(ledger_config **out, const char *text, size_t len);

/** A buffer this large holds every message ledger_config_parse_ex writes (any
 * size works: a longer message is cut to fit and still NUL-terminated). */
#define LEDGER_CONFIG_ERROR_BYTES 1024

/**
 * @brief ledger_config_parse that also says what is wrong: on LEDGER_E_CONFIG
 * @p err gets one line of text naming the line and the setting, e.g.
 * "line 11: invalid setting 'f'" or "chain_id and f are required". The
 * library prints nothing; the caller decides where the text goes.
 * @param[out] out as ledger_config_parse.
 * @param[in] text,len as ledger_config_parse.
 * @param[out] err caller's buffer, or NULL; set to "" on success, on NULL
 * arguments and when out of memory.
 * @param[in] err_size its size in bytes (0: @p err is not written).
 * @return as ledger_config_parse.
 */
LEDGER_API int ledger_config_parse_ex(ledger_config **out, const char *text, size_t len, char *err,
                                      size_t err_size);
/**
 * @brief Read and parse a configuration file; relative key_file and data_dir
 * paths are taken relative to the file's directory.
 * @return as ledger_config_parse, and LEDGER_E_IO when the file cannot be read.
 */
LEDGER_API int ledger_config_load(ledger_config **out, const char *path);
/**
 * @brief ledger_config_load with the error text of ledger_config_parse_ex
 * (also "cannot read the file" on LEDGER_E_IO).
 * @param[out] err caller's buffer, or NULL. @param[in] err_size its size.
 * @return as ledger_config_load.
 */
LEDGER_API int ledger_config_load_ex(ledger_config **out, const char *path, char *err,
                                     size_t err_size);
/** @brief Free a configuration. NULL is a no-op. */
LEDGER_API void ledger_config_free(ledger_config *c);
/** @brief Number of replicas n (0 if NULL). */
LEDGER_API size_t ledger_config_replicas(const ledger_config *c);
/** @brief f (0 if NULL). */
LEDGER_API uint32_t ledger_config_f(const ledger_config *c);
/** @brief Replica i's "host:port" (static per config; NULL if out of range). */
LEDGER_API const char *ledger_config_address(const ledger_config *c, size_t i);
/** @brief Replica i's public key (32 bytes owned by c; NULL if out of range). */
LEDGER_API const uint8_t *ledger_config_key(const ledger_config *c, size_t i);
/** @brief The node id setting ("id"), or −1 when absent. */
LEDGER_API int ledger_config_self(const ledger_config *c);
/** @brief The "data_dir" setting (owned by c), or NULL. */
LEDGER_API const char *ledger_config_data_dir(const ledger_config *c);
/**
 * @brief The genesis membership the configuration names (chain id, f, the keys
 * of replicas 0 … genesis_replicas − 1, all replicas when that setting is absent).
 * @param[out] out new membership, owned by the caller (ledger_membership_free).
 * @return LEDGER_OK, LEDGER_E_INVALID, LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_config_membership(const ledger_config *c, ledger_membership **out);

#ifdef __cplusplus
}
#endif
#endif /* LEDGER_CONFIG_H */
