/**
 * @file ledger/app.h
 * @brief The application plugged into a ledger: a table of deterministic
 * callbacks, and the state handle they read and write through.
 *
 * Contract (docs/ledger-storage.md §Application):
 * - check(): before ordering; may read committed state (read-only handle); 0
 *   accepts, LEDGER_E_REJECTED (or any negative) refuses the transaction.
 * - apply(): called for each transaction of a block, in order, inside the
 *   block's LMDB write transaction. Returns 0 (applied), LEDGER_E_REJECTED (the
 *   transaction is recorded as rejected; the callback must then not have
 *   written anything, else the block fails with LEDGER_E_APP), or another
 *   negative code (the block fails, nothing is stored). It must be
 *   deterministic: only the state, the block (height, timestamp) and the
 *   transaction may influence it — no clock, no randomness, no I/O.
 * - query(): answers a read-only query from committed state.
 * - Keys that begin with the byte 0xFF followed by "LDG/" are the ledger's own
 *   records (the upgrade channel, ledger/upgrade.h): the application may read
 *   them, and a put or delete there returns LEDGER_E_REJECTED.
 *
 * The state root of block h is SHA-256("FSLEDGER/STATE/1" ‖ root(h−1) ‖ h ‖
 * writes hash ‖ results hash), where the writes hash covers the block's net
 * writes sorted by key (docs/formats/ledger.md §State root).
 *
 * Thread safety: a ledger_state is valid only inside the callback that
 * received it and only on that thread.
 */
#ifndef LEDGER_APP_H
#define LEDGER_APP_H

#include "common.h"
#include "tx.h"
#include "block.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Current version of the ledger_app table (not the application's version: that
 * is the application version in force, ledger/upgrade.h). 2 adds
 * app_version_max, governor and migrate; a table of version 1 (ending at
 * query) is still accepted and executes application version 1 only.
 */
#define LEDGER_APP_VERSION 2
/** Largest state key (also the largest traced key). */
#define LEDGER_STATE_KEY_MAX 448
/** Largest state value (16 MiB). */
#define LEDGER_STATE_VALUE_MAX (16u << 20)

/** State seen by the application (opaque; lent for one callback). */
typedef struct ledger_state ledger_state;

/** The application callback table. */
typedef struct ledger_app {
    uint32_t version; /**< LEDGER_APP_VERSION. */
    void *ctx;        /**< Passed to every callback. */
    /** Check a transaction before ordering (signature already verified). */
    int (*check)(void *ctx, ledger_state *st, const ledger_tx *tx);
    /** Apply transaction @p index of block @p b. */
    int (*apply)(void *ctx, ledger_state *st, const ledger_block *b, size_t index,
                 const ledger_tx *tx);
    /**
     * Answer a query: on success set *out to a malloc()ed buffer (the caller
     * frees it with ledger_free) and *out_len, or *out = NULL for an empty answer.
     */
    int (*query)(void *ctx, ledger_state *st, const uint8_t *q, size_t qlen, uint8_t **out,
                 size_t *out_len);
    /* Version 2: application versions and the upgrade channel (ledger/upgrade.h). */
    /**
     * Highest application version this build executes (it executes every
     * version from 1 up to it; ledger_state_app_version() tells which one is
     * in force). 0 means 1. A store whose next block needs a higher version
     * refuses to execute it (LEDGER_E_UPGRADE_NEEDED).
     */
    uint32_t app_version_max;
    /**
     * Who may propose, approve and cancel upgrades: return 1 if @p key is one
     * of them, 0 if not (or a negative error), and set *count to how many
     * there are (a plan needs more than two thirds of them). It may read the
     * state. NULL: the replicas of the membership.
     */
    int (*governor)(void *ctx, ledger_state *st, const uint8_t key[32], size_t *count);
    /**
     * Optional state migration, run once at the start of the block at which
     * an upgrade activates (so its writes are covered by that block's state
     * root), before its transactions. Returns 0 or a negative code (the block
     * fails). NULL: none.
     */
    int (*migrate)(void *ctx, ledger_state *st, uint32_t from_version, uint32_t to_version);
} ledger_app;

/** Initialiser of an empty table. */
#define LEDGER_APP_INIT                                                                            \
    { LEDGER_APP_VERSION, NULL, NULL, NULL, NULL, 1, NULL, NULL }

/** @brief Initialise an application table to LEDGER_APP_INIT. @return LEDGER_OK or
 * LEDGER_E_INVALID. */
LEDGER_API int ledger_app_init(ledger_app *app);

/**
 * @brief Read a state key.
 * @param[in] st state handle.
 * @param[in] key key bytes, 1 … LEDGER_STATE_KEY_MAX.
 * @param[in] klen key length.
 * @param[out] val borrowed pointer, valid until the next write through @p st or the
 * callback returns.
 * @param[out] vlen value length.
 * @return LEDGER_OK, LEDGER_E_NOT_FOUND, LEDGER_E_INVALID, LEDGER_E_IO.
 */
LEDGER_API int ledger_state_get(ledger_state *st, const uint8_t *key, size_t klen,
                                const uint8_t **val, size_t *vlen);
/**
 * @brief The first state key after @p key in bytewise order, with its value
 * (apply, check or query): lets an application walk the records under a prefix
 * (start from the prefix itself; stop when a key leaves it). The block's own
 * earlier writes are seen. The ledger's records (0xFF "LDG/") are never returned.
 * @param[out] next, next_len the key found; @param[out] val, vlen its value (both
 * borrowed, valid until the next write through @p st or the callback returns).
 * @return LEDGER_OK, LEDGER_E_NOT_FOUND (no later key), LEDGER_E_INVALID, LEDGER_E_IO.
 */
LEDGER_API int ledger_state_next(ledger_state *st, const uint8_t *key, size_t klen,
                                 const uint8_t **next, size_t *next_len, const uint8_t **val,
                                 size_t *vlen);
/**
 * @brief Write a state key (apply only).
 * @return LEDGER_OK, LEDGER_E_INVALID (read-only handle, bad sizes), LEDGER_E_NOMEM,
 * LEDGER_E_FULL, LEDGER_E_IO.
 */
LEDGER_API int ledger_state_put(ledger_state *st, const uint8_t *key, size_t klen,
                                const uint8_t *val, size_t vlen);
/**
 * @brief Delete a state key (apply only).
 * @return LEDGER_OK, LEDGER_E_NOT_FOUND (nothing written), LEDGER_E_INVALID, LEDGER_E_NOMEM,
 * LEDGER_E_IO.
 */
LEDGER_API int ledger_state_delete(ledger_state *st, const uint8_t *key, size_t klen);
/**
 * @brief Record that the current transaction touches (op, key), so that
 * ledger_store_trace() finds it (apply only).
 * @return LEDGER_OK, LEDGER_E_INVALID, LEDGER_E_NOMEM, LEDGER_E_IO.
 */
LEDGER_API int ledger_state_index(ledger_state *st, uint16_t op, const uint8_t *key, size_t klen);
/** @brief Height of the block being applied (0 in check/query: the committed height there). */
LEDGER_API uint64_t ledger_state_height(const ledger_state *st);
/**
 * @brief Application version in force: for apply and migrate, at the block
 * being applied; for check and query, at the next block. 0 if NULL.
 */
LEDGER_API uint32_t ledger_state_app_version(const ledger_state *st);

#ifdef __cplusplus
}
#endif
#endif /* LEDGER_APP_H */
