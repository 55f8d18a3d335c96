/**
 * @file ledger/upgrade.h
 * @brief The upgrade channel: application versions changed by quorum, inside
 * the chain (docs/ledger-protocol.md §Upgrades, docs/formats/ledger.md §Upgrade).
 *
 * Every block is executed under the application version in force at its
 * height and names it in its header. The version is 1 from genesis. A
 * governor (by default a replica of the membership; the application may name
 * others, ledger_app.governor) proposes a plan — a name, a new version, the
 * SHA-256 of the contract build, an activation height H at least
 * LEDGER_UPGRADE_LEAD_MIN blocks ahead — by a transaction with op
 * LEDGER_OP_UPGRADE_PROPOSE; the proposal is its first approval. Other
 * governors approve (LEDGER_OP_UPGRADE_APPROVE). With approvals from more than
 * two thirds of the governors before H the plan is scheduled; at block H the
 * new version is in force (and the application's migrate callback runs once,
 * inside block H). Cancel votes (LEDGER_OP_UPGRADE_CANCEL) from more than two
 * thirds before H cancel it. A plan that did not reach the quorum by H
 * expires. One plan is open at a time. Proposals, approvals, cancels and
 * activation are records in the state (keys under 0xFF "LDG/"), so the state
 * root covers them.
 *
 * A node whose application does not execute the version in force at its next
 * height executes nothing more: prepare and append return
 * LEDGER_E_UPGRADE_NEEDED, and the node halts (ledger_node_halted).
 *
 * These transactions are ordinary signed transactions (sender = governor,
 * nonces as usual) that the ledger executes itself: the application sees
 * neither their check nor their apply. An invalid one (not a governor, wrong
 * state, bad payload) is rejected (LEDGER_E_REJECTED) before ordering and, if
 * ordered anyway, recorded as rejected.
 *
 * Thread safety: the functions here are pure or read a store like its other readers.
 */
#ifndef LEDGER_UPGRADE_H
#define LEDGER_UPGRADE_H

#include "common.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ledger_client; /* ledger/client.h */

/** Transaction ops the ledger executes itself (0xFF00 … 0xFFFF are reserved to it). */
#define LEDGER_OP_UPGRADE_PROPOSE 0xFF01
#define LEDGER_OP_UPGRADE_APPROVE 0xFF02
#define LEDGER_OP_UPGRADE_CANCEL  0xFF03
/** First op reserved to the ledger. */
#define LEDGER_OP_RESERVED_MIN 0xFF00

/** Longest plan name (bytes of [A-Za-z0-9._-]). */
#define LEDGER_UPGRADE_NAME_MAX 64
/** Least lead: a plan proposed in block h activates at H ≥ h + this. */
#define LEDGER_UPGRADE_LEAD_MIN 8

/** Status of a plan. */
typedef enum ledger_upgrade_status {
    LEDGER_UPGRADE_PROPOSED = 0,  /**< open, fewer than the quorum approved */
    LEDGER_UPGRADE_APPROVED = 1,  /**< open, the quorum approved: activates at its height */
    LEDGER_UPGRADE_CANCELLED = 2, /**< the quorum cancelled it before its height */
    LEDGER_UPGRADE_ACTIVATED = 3, /**< in force since its height */
    LEDGER_UPGRADE_EXPIRED = 4    /**< its height came without the quorum */
} ledger_upgrade_status;

/** A plan as recorded in the state. */
typedef struct ledger_upgrade_info {
    char name[LEDGER_UPGRADE_NAME_MAX + 1]; /**< NUL-terminated */
    uint32_t version;                       /**< the application version it brings */
    uint8_t build_hash[32];                 /**< SHA-256 of the contract build */
    uint64_t height;                        /**< activation height H */
    uint64_t proposed_at;                   /**< height of the proposing block */
    uint32_t status;                        /**< ledger_upgrade_status */
    uint32_t approvals;                     /**< approving governors (the proposer included) */
    uint32_t cancels;                       /**< governors that voted to cancel */
    uint64_t decided_at; /**< height at which it was approved, cancelled, activated or expired
                              (0 while proposed) */
} ledger_upgrade_info;

/**
 * @brief Payload of LEDGER_OP_UPGRADE_PROPOSE: name length (u8) ‖ name ‖
 * version (u32) ‖ build hash (32) ‖ height (u64).
 * @param[out] out new buffer (ledger_free). @param[out] len its length.
 * @return LEDGER_OK, LEDGER_E_INVALID (name empty, too long or with other characters,
 * version 0), LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_upgrade_propose_payload(const char *name, uint32_t version,
                                              const uint8_t build_hash[32], uint64_t height,
                                              uint8_t **out, size_t *len);
/**
 * @brief Payload of LEDGER_OP_UPGRADE_APPROVE and LEDGER_OP_UPGRADE_CANCEL:
 * name length (u8) ‖ name.
 * @return LEDGER_OK, LEDGER_E_INVALID, LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_upgrade_name_payload(const char *name, uint8_t **out, size_t *len);

/**
 * @brief Decode a plan record as stored under 0xFF "LDG/plan/" ‖ name (what
 * ledger_client_get returns for that key).
 * @return LEDGER_OK, LEDGER_E_DECODE, LEDGER_E_VERSION, LEDGER_E_INVALID.
 */
LEDGER_API int ledger_upgrade_decode(ledger_upgrade_info *out, const uint8_t *buf, size_t len);
/**
 * @brief The state key of plan @p name (for ledger_client_get).
 * @param[out] key buffer of at least 5 + 5 + LEDGER_UPGRADE_NAME_MAX bytes. @param[out] klen.
 * @return LEDGER_OK or LEDGER_E_INVALID.
 */
LEDGER_API int ledger_upgrade_key(const char *name, uint8_t *key, size_t *klen);

/** State key of the version record: u32 version in force ‖ u64 height it took force
 * (absent until the first activation: version 1). */
#define LEDGER_UPGRADE_VERSION_KEY                                                                 \
    "\xFF"                                                                                         \
    "LDG/version"
/** State key naming the open plan (absent when none is open). */
#define LEDGER_UPGRADE_OPEN_KEY                                                                    \
    "\xFF"                                                                                         \
    "LDG/open"
/**
 * @brief The application version a transaction submitted now must name, read
 * through a client: the version record (version 1 when there is none yet), or
 * the version of an approved plan whose height is the next block's (f+1
 * replicas agreeing on each read). A transaction built for it may still be
 * refused with LEDGER_E_TX_APP_VERSION if an upgrade activates before it is
 * ordered: read again and rebuild.
 * @return LEDGER_OK, LEDGER_E_CORRUPT (a malformed record), or ledger_client_get's codes.
 */
LEDGER_API int ledger_client_app_version(struct ledger_client *c, uint32_t timeout_ms,
                                         uint32_t *version);
/**
 * @brief ledger_client_app_version after a refusal (LEDGER_E_TX_APP_VERSION) of
 * a transaction built for @p refused: while an approved plan is about to take
 * force the replicas' tips straddle its height, and the version to build for
 * is the candidate (the one in force, or the plan's) that was not refused.
 * @p refused 0: no hint (as ledger_client_app_version).
 */
LEDGER_API int ledger_client_app_version_after(struct ledger_client *c, uint32_t refused,
                                               uint32_t timeout_ms, uint32_t *version);

/** @brief Application version in force at the store's next block. @return LEDGER_OK or
 * LEDGER_E_INVALID. */
LEDGER_API int ledger_store_app_version(ledger_store *s, uint32_t *version);
/**
 * @brief Read plan @p name, or with @p name NULL the open plan.
 * @return LEDGER_OK, LEDGER_E_NOT_FOUND, LEDGER_E_INVALID, LEDGER_E_CORRUPT, LEDGER_E_IO.
 */
LEDGER_API int ledger_store_upgrade(ledger_store *s, const char *name, ledger_upgrade_info *out);

#ifdef __cplusplus
}
#endif
#endif /* LEDGER_UPGRADE_H */
