/**
 * @file ledger/reconfig.h
 * @brief Membership changes by quorum, inside the chain (docs/ledger-protocol.md
 * §Membership changes, docs/formats/ledger.md §Membership change).
 *
 * A governor (a replica in force, unless the application names the governors,
 * ledger_app.governor) proposes a change — add a replica (its key and
 * address: it takes the next replica id), or remove one (its id is never
 * reused) — by a transaction with op LEDGER_OP_MEMBER_PROPOSE; the proposal is
 * its first approval. Other governors approve it (LEDGER_OP_MEMBER_APPROVE with
 * the proposal's id). When more than two thirds of the governors in force
 * approved, in block h, the new membership is in force from height h + 2
 * (LEDGER_MEMBER_DELAY): every block from then on names its hash in its
 * header (the epoch hash) and is certified by its members. A proposal not
 * approved within LEDGER_MEMBER_TTL blocks expires. One proposal is open at a
 * time, and none while an approved change is not yet in force.
 *
 * Every proposal, approval and membership is a state record (keys under
 * 0xFF "LDG/"), so the state root covers them and a replay from genesis
 * derives the membership in force at every height.
 */
#ifndef LEDGER_RECONFIG_H
#define LEDGER_RECONFIG_H

#include "common.h"
#include "membership.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Transaction ops of membership changes (in the ledger's reserved range). */
#define LEDGER_OP_MEMBER_PROPOSE 0xFF04
#define LEDGER_OP_MEMBER_APPROVE 0xFF05
/** A change approved in block h is in force from h + this. */
#define LEDGER_MEMBER_DELAY 2
/** A proposal open longer than this many blocks expires. */
#define LEDGER_MEMBER_TTL 64

/** Status of a membership proposal. */
typedef enum ledger_member_status {
    LEDGER_MEMBER_PROPOSED = 0, /**< open */
    LEDGER_MEMBER_APPROVED = 1, /**< the quorum approved: in force at its effective height */
    LEDGER_MEMBER_EXPIRED = 2   /**< not approved within LEDGER_MEMBER_TTL blocks */
} ledger_member_status;

/** A membership proposal as recorded in the state. */
typedef struct ledger_member_change {
    uint64_t id;                           /**< 1, 2, … in proposal order */
    uint32_t kind;                         /**< LEDGER_MEMBER_ADD_REPLICA or _REMOVE_REPLICA */
    uint8_t key[32];                       /**< the replica's Ed25519 key */
    char addr[LEDGER_MEMBER_ADDR_MAX + 1]; /**< its address (add; "" for remove) */
    uint64_t proposed_at;                  /**< height of the proposing block */
    uint32_t status;                       /**< ledger_member_status */
    uint64_t decided_at;                   /**< height approved or expired (0 while open) */
    uint64_t effective;                    /**< first height in force (approved), else 0 */
    uint32_t approvals;                    /**< approving governors */
} ledger_member_change;

/**
 * @brief Payload of LEDGER_OP_MEMBER_PROPOSE: kind (u8) ‖ key (32) ‖ address
 * length (u8) ‖ address (add: 1 … 63 printable bytes; remove: none).
 * @return LEDGER_OK, LEDGER_E_INVALID, LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_member_propose_payload(uint32_t kind, const uint8_t key[32], const char *addr,
                                             uint8_t **out, size_t *len);
/** @brief Payload of LEDGER_OP_MEMBER_APPROVE: the proposal id (u64). */
LEDGER_API int ledger_member_approve_payload(uint64_t id, uint8_t out[8]);
/**
 * @brief Decode a proposal record (state key 0xFF "LDG/mprop" for the open one,
 * 0xFF "LDG/mchg/" ‖ id (u64 BE) once decided).
 * @return LEDGER_OK, LEDGER_E_DECODE, LEDGER_E_VERSION, LEDGER_E_INVALID.
 */
LEDGER_API int ledger_member_change_decode(ledger_member_change *out, const uint8_t *buf,
                                           size_t len);
/** State key of the open proposal. */
#define LEDGER_MEMBER_OPEN_KEY                                                                     \
    "\xFF"                                                                                         \
    "LDG/mprop"
/**
 * @brief The membership in force at @p height as the store's chain says (heights
 * up to the tip + LEDGER_MEMBER_DELAY are decided; above, the latest known).
 * @param[out] out new membership (ledger_membership_free).
 * @return LEDGER_OK, LEDGER_E_INVALID, LEDGER_E_CORRUPT, LEDGER_E_IO, LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_store_membership_at(ledger_store *s, uint64_t height,
                                          ledger_membership **out);
/**
 * @brief The open proposal (id 0), or proposal @p id.
 * @return LEDGER_OK, LEDGER_E_NOT_FOUND, LEDGER_E_INVALID, LEDGER_E_CORRUPT, LEDGER_E_IO.
 */
LEDGER_API int ledger_store_member_change(ledger_store *s, uint64_t id, ledger_member_change *out);

struct ledger_client; /* ledger/client.h */
/**
 * @brief The membership in force at @p height, read through a client: the
 * encoding f+1 replicas give identically, of the configuration's chain.
 * @param[out] out new membership (ledger_membership_free).
 * @return LEDGER_OK, LEDGER_E_INVALID (NULL, height 0), LEDGER_E_DECODE,
 * LEDGER_E_MEMBERSHIP (another chain's), or ledger_client_get's codes.
 */
LEDGER_API int ledger_client_membership(struct ledger_client *c, uint64_t height,
                                        uint32_t timeout_ms, ledger_membership **out);

#ifdef __cplusplus
}
#endif
#endif /* LEDGER_RECONFIG_H */
