/**
 * @file fedshare/contracts.h
 * @brief The contracts (registry, permission, keys, training, audit) as one
 * libledger application, the transaction payloads they accept and the state
 * records they keep (docs/fedshare-contracts.md, docs/formats/fedshare.md).
 *
 * Every fedshare transaction that decodes and comes from a consortium member
 * is ordered and applied; its outcome (FEDSHARE_OK or the refusal code) is
 * itself recorded in the state under "fs/out/" ‖ tx hash, so a refused act
 * (access denied, a wrong aggregate) is as traceable as an accepted one.
 * Domain state changes only when the outcome is FEDSHARE_OK.
 *
 * Thread safety: a fedshare_app may be used by one ledger node; the payload
 * encoders and record functions are reentrant.
 */
#ifndef FEDSHARE_CONTRACTS_H
#define FEDSHARE_CONTRACTS_H

#include <ledger.h>

#include "fedshare/common.h"
#include "fedshare/consortium.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Transaction operation types of the contracts (libledger's 16-bit op). */
enum fedshare_op {
    FEDSHARE_OP_DATA_REGISTER = 0x0F01,
    FEDSHARE_OP_DATA_UPDATE = 0x0F02,
    FEDSHARE_OP_DATA_RETIRE = 0x0F03,
    FEDSHARE_OP_POLICY_SET = 0x0F10,
    FEDSHARE_OP_POLICY_UPDATE = 0x0F11,
    FEDSHARE_OP_ACCESS_REQUEST = 0x0F12,
    FEDSHARE_OP_KEY_RECORD = 0x0F20,
    FEDSHARE_OP_MODEL_PUBLISH = 0x0F30,
    FEDSHARE_OP_TASK_CREATE = 0x0F31,
    FEDSHARE_OP_TASK_JOIN = 0x0F32,
    FEDSHARE_OP_UPDATE_UPLOAD = 0x0F33,
    FEDSHARE_OP_AGGREGATE = 0x0F34,
    FEDSHARE_OP_AGGREGATE_CHECK = 0x0F35,
    FEDSHARE_OP_DECRYPTION_SHARE = 0x0F36,
    FEDSHARE_OP_ROUND_FINALIZE = 0x0F37,
    FEDSHARE_OP_EVALUATION = 0x0F38,
    FEDSHARE_OP_SHARE_VERDICT = 0x0F39,
    FEDSHARE_OP_SUM_REFUSED = 0x0F3A,
    /** Propose a membership change (roles, join, retire); the proposer's approval. */
    FEDSHARE_OP_MEMBER_PROPOSE = 0x0F40,
    /** Approve the open membership change by its id. */
    FEDSHARE_OP_MEMBER_APPROVE = 0x0F41
};

/** Kinds of membership change (FEDSHARE_OP_MEMBER_PROPOSE; docs/fedshare-contracts.md
 * §Membership). */
enum fedshare_member_change {
    FEDSHARE_MEMBER_ROLES = 1, /**< set a member's roles. */
    FEDSHARE_MEMBER_JOIN = 2,  /**< add a member: key, name, organisation, roles, credentials. */
    FEDSHARE_MEMBER_RETIRE = 3 /**< retire a member: from the change on its acts are refused. */
};

/** A membership proposal not approved within this many blocks expires. */
#define FEDSHARE_MEMBER_TTL 64

/** Trace indexes (libledger (op, key) index): every act touching a data set,
 * by a member, or of a task is findable with ledger_client_trace(). */
enum fedshare_trace {
    FEDSHARE_TRACE_DATA = 0x0FA0,   /**< key: 32-byte data ID. */
    FEDSHARE_TRACE_MEMBER = 0x0FA1, /**< key: the member's 32-byte public key. */
    FEDSHARE_TRACE_TASK = 0x0FA2    /**< key: 32-byte task ID. */
};

/** Phases of a training task (the task record's "phase"). */
enum fedshare_phase {
    FEDSHARE_PHASE_JOINING = 0,   /**< waiting for every participant's TASK_JOIN. */
    FEDSHARE_PHASE_UPLOAD = 1,    /**< waiting for every participant's encrypted update. */
    FEDSHARE_PHASE_AGGREGATE = 2, /**< waiting for the aggregator's encrypted sum. */
    FEDSHARE_PHASE_DECRYPT = 3,   /**< waiting for t decryption shares not refused. */
    FEDSHARE_PHASE_FINALIZE = 4,  /**< waiting for the new global model's hash (further
                                       shares are still accepted). */
    FEDSHARE_PHASE_EVALUATE = 5,  /**< waiting for every participant's evaluation. */
    FEDSHARE_PHASE_DONE = 6       /**< the stop rule ended the task. */
};

/* ---- The application ---------------------------------------------------- */

/** The contracts bound to one consortium (opaque). */
typedef struct fedshare_app fedshare_app;

/**
 * @brief Make the contracts application for a consortium.
 * @param[out] out new application (fedshare_app_free after the node stopped).
 * @param[in] c the consortium (copied).
 * @return FEDSHARE_OK, FEDSHARE_E_INVALID, FEDSHARE_E_NOMEM.
 */
FEDSHARE_API int fedshare_app_new(fedshare_app **out, const fedshare_consortium *c);
/** @brief Free; NULL is a no-op. */
FEDSHARE_API void fedshare_app_free(fedshare_app *a);
/** @return the callback table to give ledger_node_start (owned by @p a). */
FEDSHARE_API const ledger_app *fedshare_app_table(const fedshare_app *a);

/**
 * @brief Check a payload as the contracts would before ordering (decoding,
 * membership, role): lets a client give the precise reason a replica would
 * only call "rejected".
 * @return FEDSHARE_OK or the refusal code.
 */
FEDSHARE_API int fedshare_precheck(const fedshare_consortium *c, uint16_t op,
                                   const uint8_t sender[32], const uint8_t *payload, size_t len);

/* ---- State keys --------------------------------------------------------- */

/** Longest state key the contracts use. */
#define FEDSHARE_KEY_MAX 80

/**
 * Contract versions this build executes (the application version of the
 * ledger, changed by quorum: ledger/upgrade.h, docs/fedshare-contracts.md
 * §Versions). 1: the contracts as first released. 2: the robust anomaly rule
 * is the rule of every round closed under it — a task whose record names the
 * pooled k-sigma rule is judged with the robust rule from the upgrade on.
 */
#define FEDSHARE_CONTRACT_VERSION_MAX 2

/** Kinds of state record (fedshare_state_key, fedshare_record_json). */
enum fedshare_record_kind {
    FEDSHARE_REC_OUTCOME = 1,  /**< id: tx hash → i32 outcome. */
    FEDSHARE_REC_DATA = 2,     /**< id: data ID. */
    FEDSHARE_REC_POLICY = 3,   /**< id: data ID → libabac canonical policy set. */
    FEDSHARE_REC_GRANT = 4,    /**< id: data ID, id2: grantee public key. */
    FEDSHARE_REC_DECISION = 5, /**< id: access request tx hash. */
    FEDSHARE_REC_KEY = 6,      /**< id: threshold key ID. */
    FEDSHARE_REC_MODEL = 7,    /**< id: model ID. */
    FEDSHARE_REC_TASK = 8,     /**< id: task ID. */
    FEDSHARE_REC_ROUND = 9,    /**< id: task ID, round number. */
    /** id: 32 zero bytes → the membership (only once a change was proposed: before, it is
     * the configuration's). */
    FEDSHARE_REC_MEMBERS = 10,
    /** id: 24 zero bytes ‖ change id (u64 big-endian) → a membership change proposal. */
    FEDSHARE_REC_MEMBER_CHANGE = 11
};

/**
 * @brief The state key of a record.
 * @param[in] kind a fedshare_record_kind. @param[in] id 32 bytes.
 * @param[in] id2 32 bytes for GRANT (else NULL). @param[in] round for ROUND.
 * @param[out] out FEDSHARE_KEY_MAX bytes. @param[out] len key length.
 * @return FEDSHARE_OK, FEDSHARE_E_INVALID.
 */
FEDSHARE_API int fedshare_state_key(int kind, const uint8_t id[32], const uint8_t *id2,
                                    uint32_t round, uint8_t *out, size_t *len);

/**
 * @brief Render a stored record as canonical JSON (hashes and keys in hex,
 * members also as DIDs), for clients, the CLI and auditors.
 * @param[out] json new NUL-terminated text (fedshare_free).
 * @return FEDSHARE_OK, FEDSHARE_E_INVALID, FEDSHARE_E_FORMAT, FEDSHARE_E_NOMEM.
 */
FEDSHARE_API int fedshare_record_json(int kind, const uint8_t *rec, size_t len, char **json);

/* ---- Payload encoders (the client side) --------------------------------- */
/* Each returns a malloc()ed payload in *out (fedshare_free) and its length;
 * FEDSHARE_OK, FEDSHARE_E_INVALID (a field out of range), FEDSHARE_E_NOMEM. */

/**
 * @brief A membership change proposal (docs/formats/fedshare.md §Membership).
 * @param[in] kind a fedshare_member_change.
 * @param[in] key the member's Ed25519 public key (its did:key).
 * @param[in] roles role bits (FEDSHARE_MEMBER_ROLES, _JOIN; 0 for _RETIRE).
 * @param[in] name, org JOIN: name (1…64 of [A-Za-z0-9._:-]) and organisation (0…64);
 * NULL otherwise.
 * @param[in] creds, ncred JOIN: credentials (each 1…64 of the same characters, at most 16,
 * no repeat); NULL, 0 otherwise.
 */
FEDSHARE_API int fedshare_payload_member_propose(uint8_t kind, const uint8_t key[32],
                                                 uint32_t roles, const char *name, const char *org,
                                                 const char *const *creds, size_t ncred,
                                                 uint8_t **out, size_t *len);
/** Approve the open membership change @p id (≥ 1). */
FEDSHARE_API int fedshare_payload_member_approve(uint64_t id, uint8_t **out, size_t *len);

/** Register a data set: the hash of its encrypted form, a type label (1…64
 * bytes), a description (≤ 1024) and the data IDs it derives from (≤ 64). */
FEDSHARE_API int fedshare_payload_data_register(const uint8_t enc_hash[32], const char *label,
                                                const char *description, const uint8_t *lineage,
                                                size_t n_lineage, uint8_t **out, size_t *len);
/** Update a data set's description and encrypted-data hash (owner only). */
FEDSHARE_API int fedshare_payload_data_update(const uint8_t data_id[32], const uint8_t enc_hash[32],
                                              const char *description, uint8_t **out, size_t *len);
/** Retire a data set (owner only): no new grant or task may use it. */
FEDSHARE_API int fedshare_payload_data_retire(const uint8_t data_id[32], uint8_t **out,
                                              size_t *len);
/** First policy of a data set (owner only): a libabac canonical policy set of
 * version 1 whose members are exactly the consortium's members. */
FEDSHARE_API int fedshare_payload_policy_set(const uint8_t data_id[32], const uint8_t *policy,
                                             size_t policy_len, uint8_t **out, size_t *len);
/** A new policy version: a libabac signed update (> 2/3 of the current members). */
FEDSHARE_API int fedshare_payload_policy_update(const uint8_t data_id[32], const uint8_t *update,
                                                size_t update_len, uint8_t **out, size_t *len);
/** Ask for access: action (e.g. "train"), purpose, period [t0, t1] (seconds)
 * and the expected number of uses. */
FEDSHARE_API int fedshare_payload_access_request(const uint8_t data_id[32], const char *action,
                                                 const char *purpose, uint64_t t0, uint64_t t1,
                                                 uint32_t uses, uint8_t **out, size_t *len);
/** Record a threshold key (keyholder only): libphe's threshold-params encoding,
 * the n holders' public keys in share-index order, and the hashes of the n
 * sealed shares (blobs). */
FEDSHARE_API int fedshare_payload_key_record(const uint8_t *params, size_t params_len,
                                             const uint8_t *holders, const uint8_t *share_hashes,
                                             size_t n, uint8_t **out, size_t *len);
/** How a recorded key was made (the key record's method byte). */
enum { FEDSHARE_KEY_DEALT = 1, FEDSHARE_KEY_DEALERLESS = 2 };
/** Record a dealerless key (keyholder only; payload version 2): as
 * fedshare_payload_key_record, plus the DKG session id, the ceremony's final
 * commitment hash (phe_dkg_commitment_hash) and one 64-byte attestation per
 * holder in share order (fedshare_key_attest). The contract refuses the record
 * (FEDSHARE_E_ATTESTATION, nothing stored) unless every holder's attestation
 * verifies against that holder's registered key. */
FEDSHARE_API int fedshare_payload_key_record_dealerless(
    const uint8_t *params, size_t params_len, const uint8_t *holders, const uint8_t *share_hashes,
    size_t n, const uint8_t session[32], const uint8_t commitment[32], const uint8_t *attestations,
    uint8_t **out, size_t *len);
/** A key holder's attestation of a dealerless key: its Ed25519 signature (seed:
 * the member's 32-byte key seed) over SHA-256(tag ‖ SHA-256(params) ‖ session ‖
 * commitment ‖ share_hash) — the public key and verification keys (params), the
 * DKG session, the final commitment hash and its own sealed-share hash
 * (docs/formats/fedshare.md). */
FEDSHARE_API int fedshare_key_attest(const uint8_t seed[32], const uint8_t *params,
                                     size_t params_len, const uint8_t session[32],
                                     const uint8_t commitment[32], const uint8_t share_hash[32],
                                     uint8_t signature[64]);
/** 0 when signature is holder pk's attestation of these fields, otherwise
 * FEDSHARE_E_ATTESTATION (FEDSHARE_E_INVALID on a NULL argument). */
FEDSHARE_API int fedshare_key_attestation_verify(const uint8_t pk[32], const uint8_t *params,
                                                 size_t params_len, const uint8_t session[32],
                                                 const uint8_t commitment[32],
                                                 const uint8_t share_hash[32],
                                                 const uint8_t signature[64]);
/** Publish an initial model (publisher only): hash of its structure, digest of
 * its parameters (fedavg_model_digest; the blob holding them has that hash),
 * number of parameters, description. */
FEDSHARE_API int fedshare_payload_model_publish(const uint8_t structure_hash[32],
                                                const uint8_t model_digest[32], uint64_t n_params,
                                                const char *description, uint8_t **out,
                                                size_t *len);

/** Hyper-parameters and rules of a training task. */
typedef struct fedshare_task_spec {
    uint32_t version;            /**< FEDSHARE_TASK_SPEC_VERSION. */
    uint8_t model_id[32];        /**< A published model. */
    uint8_t key_id[32];          /**< A recorded threshold key. */
    uint8_t aggregator[32];      /**< A member with the aggregator role. */
    size_t n_participants;       /**< 2 … 64. */
    const uint8_t *participants; /**< n × 32-byte public keys (providers). */
    const uint8_t *data_ids;     /**< n × 32-byte data IDs, one per participant. */
    double learning_rate;        /**< > 0. */
    uint32_t batch_size;         /**< 32 in the seed paper. */
    uint32_t upload_every;       /**< Batches between uploads (10). */
    uint32_t round_limit;        /**< 1 … 1000 (50). */
    double stop_threshold;       /**< Improvement below this counts as none (0.001). */
    uint32_t stop_patience;      /**< Rounds in a row (3). */
    double anomaly_k;            /**< k of the k·σ test (3). */
    uint32_t anomaly_warmup;     /**< Accepted updates before the test applies (≥ 2). */
    const uint8_t *codec;        /**< libfedavg codec encoding. */
    size_t codec_len;
    /** Accepted updates a round needs before its sum may be decrypted: 2 …
     * n_participants, or 0 for the default (3 with 3 or more participants,
     * else 2). A round with fewer is skipped. (Version 2; a version-1 spec
     * gets the default.) */
    uint32_t min_updates;
    /** The anomaly rule (version 3): FEDSHARE_RULE_ROBUST2 (the default: median
     * and MAD over the round and the history, the cosine as its gap to the
     * round's median cosine, and each member against its own history;
     * anomaly_k and anomaly_warmup do not apply), FEDSHARE_RULE_ROBUST (the
     * same with the raw cosine, the default until issue 18), FEDSHARE_RULE_POOLED
     * (the seed's pooled k·σ test), FEDSHARE_RULE_MEMBER or FEDSHARE_RULE_MAD
     * (each half of the robust rule alone), FEDSHARE_RULE_ROBUST3 (robust2 with
     * the capture test; a release before it refuses 5). Versions 1 and 2 get
     * the pooled rule. */
    uint32_t anomaly_rule;
    /** The server optimizer (version 4): FEDSHARE_SERVER_FEDAVG (the default:
     * the participants train from the aggregate chain g_r), FEDSHARE_SERVER_ADAM
     * or FEDSHARE_SERVER_YOGI (they train from x_r, the optimizer applied to the
     * chain; docs/fedshare-contracts.md §Server optimizers). With FedAvg the
     * four numbers below must be 0 (a FedAvg task is written in format 3);
     * otherwise finite, eta > 0, 0 ≤ beta1 < 1, 0 ≤ beta2 < 1, tau > 0. */
    uint32_t server_optimizer;
    double server_eta, server_beta1, server_beta2, server_tau;
} fedshare_task_spec;
#define FEDSHARE_TASK_SPEC_VERSION 4
/** The values fedshare_task_spec_init() sets (the seed paper's defaults), as an initializer. */
#define FEDSHARE_TASK_SPEC_INIT                                                                    \
    {                                                                                              \
        FEDSHARE_TASK_SPEC_VERSION, {0}, {0}, {0}, 0, NULL, NULL, 0.01, 32, 10, 50, 0.001, 3, 3.0, \
            5, NULL, 0, 0, 4 /* FEDSHARE_RULE_ROBUST2 */, 0, 0.0, 0.0, 0.0, 0.0                    \
    }

/** Server optimizers of a task (fedshare_task_spec.server_optimizer). */
enum { FEDSHARE_SERVER_FEDAVG = 0, FEDSHARE_SERVER_ADAM = 1, FEDSHARE_SERVER_YOGI = 2 };

/** Anomaly rules of a task (the same numbers as libfedavg's FEDAVG_RULE_*). */
enum {
    FEDSHARE_RULE_POOLED = 0,
    FEDSHARE_RULE_ROBUST = 1,
    FEDSHARE_RULE_MEMBER = 2,
    FEDSHARE_RULE_MAD = 3,
    FEDSHARE_RULE_ROBUST2 = 4,
    FEDSHARE_RULE_ROBUST3 = 5
};

/** @brief Fill @p s with the seed paper's defaults (no model, key or participants). */
FEDSHARE_API void fedshare_task_spec_init(fedshare_task_spec *s);
/** Create a training task (the task ID is the transaction's hash); FEDSHARE_E_INVALID
 * also for fewer than 2 participants or a minimum of accepted updates outside
 * 2 … n_participants. */
FEDSHARE_API int fedshare_payload_task_create(const fedshare_task_spec *s, uint8_t **out,
                                              size_t *len);
/** Join a task one is a participant of. */
FEDSHARE_API int fedshare_payload_task_join(const uint8_t task_id[32], uint8_t **out, size_t *len);
/** Upload round @p round's encrypted update (its blob's hash), the weight
 * (local data size) and the statistics of the anomaly test (update norm,
 * cosine to the previous global update). */
FEDSHARE_API int fedshare_payload_update_upload(const uint8_t task_id[32], uint32_t round,
                                                const uint8_t blob_hash[32], uint32_t weight,
                                                double norm, double cosine, uint8_t **out,
                                                size_t *len);
/** The aggregator's encrypted sum of the accepted updates (its blob's hash). */
FEDSHARE_API int fedshare_payload_aggregate(const uint8_t task_id[32], uint32_t round,
                                            const uint8_t blob_hash[32], uint8_t **out,
                                            size_t *len);
/** A participant's recomputed aggregate hash (a mismatch refuses the aggregate). */
FEDSHARE_API int fedshare_payload_aggregate_check(const uint8_t task_id[32], uint32_t round,
                                                  const uint8_t hash[32], uint8_t **out,
                                                  size_t *len);
/** A key holder's decryption shares of the aggregate it recomputed (hash) and
 * the blob holding the shares. Accepted from each holder once, in the decrypt
 * and finalize phases (so a bad share never keeps honest ones out). */
FEDSHARE_API int fedshare_payload_decryption_share(const uint8_t task_id[32], uint32_t round,
                                                   const uint8_t aggregate_hash[32],
                                                   const uint8_t share_hash[32], uint8_t **out,
                                                   size_t *len);
/** The aggregator's verdict that holder @p holder's recorded share (blob
 * @p share_hash) does not verify (missing blob, malformed, or a proof that
 * fails): the share is marked refused and no longer counts toward t. */
FEDSHARE_API int fedshare_payload_share_verdict(const uint8_t task_id[32], uint32_t round,
                                                const uint8_t holder[32],
                                                const uint8_t share_hash[32], uint8_t **out,
                                                size_t *len);
/** The aggregator's verdict that the threshold decryption of the round's
 * aggregate (@p aggregate_hash, as recorded) has a slot outside what the
 * accepted updates' weights and the codec's clipping bound allow (some member
 * wrote past its slots): the round is refused, its sum is not used, the global
 * model stays. Anyone can check it by combining the recorded shares. */
FEDSHARE_API int fedshare_payload_sum_refused(const uint8_t task_id[32], uint32_t round,
                                              const uint8_t aggregate_hash[32], uint8_t **out,
                                              size_t *len);
/** The aggregator's verdict that holder @p holder's recorded share (blob
 * @p share_hash) verified: its one batch proof was checked when the round was
 * combined. Recorded on the round (`"verified": true`) for the audit trail;
 * it is the aggregator's word only, so every participant's client still
 * verifies the batches it combines (docs/fedshare-contracts.md); a share
 * carries one verdict at most. */
FEDSHARE_API int fedshare_payload_share_verified(const uint8_t task_id[32], uint32_t round,
                                                 const uint8_t holder[32],
                                                 const uint8_t share_hash[32], uint8_t **out,
                                                 size_t *len);
/** The new global model's digest and the blob of its delta from the last one. */
FEDSHARE_API int fedshare_payload_round_finalize(const uint8_t task_id[32], uint32_t round,
                                                 const uint8_t model_digest[32],
                                                 const uint8_t delta_hash[32], uint8_t **out,
                                                 size_t *len);
/** ROUND_FINALIZE of a task with a server optimizer: beside the chain model
 * g_r (@p model_digest, @p delta_hash), the digest of the model x_r the
 * optimizer made of the chain (its blob has that hash). The contract refuses
 * it for a FedAvg task, and the plain form for a task with an optimizer. */
FEDSHARE_API int fedshare_payload_round_finalize_server(const uint8_t task_id[32], uint32_t round,
                                                        const uint8_t model_digest[32],
                                                        const uint8_t delta_hash[32],
                                                        const uint8_t server_digest[32],
                                                        uint8_t **out, size_t *len);
/** A participant's evaluation of round @p round's global model (whose digest
 * it recomputed; with a server optimizer, x_r's digest): the metric (accuracy-like, higher is
 * better; finite, within ±10⁶) on its samples (1 … 2³⁰). */
FEDSHARE_API int fedshare_payload_evaluation(const uint8_t task_id[32], uint32_t round,
                                             const uint8_t model_digest[32], double metric,
                                             uint32_t samples, uint8_t **out, size_t *len);

/**
 * @brief The data ID the registry assigns:
 * SHA-256(enc_hash ‖ provider DID ‖ u64 consensus timestamp ‖ u16 len ‖ label)
 * (docs/formats/fedshare.md §Data ID).
 * @return FEDSHARE_OK, FEDSHARE_E_INVALID.
 */
FEDSHARE_API int fedshare_data_id(const uint8_t enc_hash[32], const uint8_t provider[32],
                                  uint64_t timestamp, const char *label, uint8_t out[32]);

/** @brief Model ID = SHA-256("FSMODEL/1" ‖ structure hash ‖ parameter digest). */
FEDSHARE_API int fedshare_model_id(const uint8_t structure_hash[32], const uint8_t model_digest[32],
                                   uint8_t out[32]);

#ifdef __cplusplus
}
#endif

#endif /* FEDSHARE_CONTRACTS_H */
