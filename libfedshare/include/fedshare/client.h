/**
 * @file fedshare/client.h
 * @brief A participant's connection to the consortium: submit acts and learn
 * their recorded outcome, read records, and the higher operations of each
 * role — register data, request access, join a task, upload an encrypted
 * update, aggregate, check an aggregate, post decryption shares, finalize a
 * round, fetch and verify the global model, evaluate it
 * (docs/guides/fedshare-client.md).
 *
 * Blobs the operations exchange (docs/formats/fedshare.md §Blobs): an
 * encrypted vector ("FSCV": libphe ciphertexts), decryption shares ("FSDS"),
 * a model (its float32 values big-endian; its hash is fedavg_model_digest()),
 * a delta (libfedavg's "FADL").
 *
 * Thread safety: one client may be used by several threads; each call blocks
 * its own thread.
 */
#ifndef FEDSHARE_CLIENT_H
#define FEDSHARE_CLIENT_H

#include <ledger.h>
#include <phe.h>

#include "fedshare/common.h"
#include "fedshare/consortium.h"
#include "fedshare/contracts.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A member's client (opaque). */
typedef struct fedshare_client fedshare_client;

/**
 * @brief Connect to the nodes named in a configuration file as the member
 * whose Ed25519 seed is given.
 *
 * Reads are linearizable (LEDGER_READ_LINEARIZABLE on the ledger client
 * underneath): once any member's act has returned, every member's later read
 * sees it, and a read never answers FEDSHARE_E_NOT_FOUND for a record that
 * exists — a lagging replica is waited for, bounded by the timeout
 * (LEDGER_E_TIMEOUT). For cheaper session reads (read-your-writes and
 * monotonic reads of this client only) call
 * ledger_client_set_read_mode(fedshare_client_ledger(c), LEDGER_READ_SESSION);
 * ledger_client_observe() carries a height between clients
 * (docs/ledger-protocol.md §Reads).
 * @param[in] seed 32 bytes (copied and wiped on close).
 * @return FEDSHARE_OK, FEDSHARE_E_INVALID, FEDSHARE_E_IO, FEDSHARE_E_CONFIG,
 * FEDSHARE_E_NOT_MEMBER (the key is not a member's), LEDGER_E_NETWORK, FEDSHARE_E_NOMEM.
 */
FEDSHARE_API int fedshare_client_connect(fedshare_client **out, const char *config_path,
                                         const uint8_t seed[32], uint32_t timeout_ms);
/** @brief Close and free. NULL is a no-op. */
FEDSHARE_API void fedshare_client_close(fedshare_client *c);
/** @return the ledger client underneath (owned by @p c): blocks, proofs, blobs, follow. */
FEDSHARE_API ledger_client *fedshare_client_ledger(fedshare_client *c);
/** @return the consortium (owned by @p c). */
FEDSHARE_API const fedshare_consortium *fedshare_client_consortium(const fedshare_client *c);
/** @return the member's public key (32 bytes owned by @p c). */
FEDSHARE_API const uint8_t *fedshare_client_public_key(const fedshare_client *c);

/**
 * @brief Nanoseconds this client has spent inside libphe (encryption,
 * homomorphic sums, decryption shares and their proofs, combination) since it
 * connected: the "crypto" share of a round's wall time; the rest of an
 * operation's time is the ledger's (network, consensus, blob store).
 */
FEDSHARE_API uint64_t fedshare_client_crypto_ns(const fedshare_client *c);

/**
 * @brief Sign and submit an act, wait for its commit (f+1 replies and a
 * verified inclusion proof) and read its recorded outcome.
 * @param[out] tx_hash the transaction's hash (may be NULL).
 * @param[out] height block height (may be NULL).
 * @return FEDSHARE_OK (applied), the contracts' refusal code (recorded on the ledger), the
 * precheck's code (refused locally before sending: not a member, wrong role, malformed),
 * LEDGER_E_REJECTED, LEDGER_E_TIMEOUT, LEDGER_E_NETWORK, FEDSHARE_E_NOMEM.
 */
FEDSHARE_API int fedshare_client_submit(fedshare_client *c, uint16_t op, const uint8_t *payload,
                                        size_t len, uint32_t timeout_ms, uint8_t tx_hash[32],
                                        uint64_t *height);

/**
 * @brief Read a record (fedshare_state_key()) agreed by f+1 nodes.
 * @param[out] rec new buffer (fedshare_free). @return FEDSHARE_OK, FEDSHARE_E_NOT_FOUND,
 * LEDGER_E_DIVERGED, LEDGER_E_TIMEOUT, FEDSHARE_E_INVALID.
 */
FEDSHARE_API int fedshare_client_record(fedshare_client *c, int kind, const uint8_t id[32],
                                        const uint8_t *id2, uint32_t round, uint32_t timeout_ms,
                                        uint8_t **rec, size_t *len);
/** @brief The same record rendered as JSON (fedshare_record_json). */
FEDSHARE_API int fedshare_client_record_json(fedshare_client *c, int kind, const uint8_t id[32],
                                             const uint8_t *id2, uint32_t round,
                                             uint32_t timeout_ms, char **json);

/** Bytes fedshare_data_seal adds to a data set ("FSDE" ‖ 01 ‖ 24-byte nonce ‖ 16-byte tag). */
#define FEDSHARE_SEAL_OVERHEAD 45

/**
 * @brief Encrypt a data set at rest before registering it (XChaCha20-Poly1305
 * from libsodium under the provider's 32-byte key, random nonce); register the
 * SHA-256 of the output. Format: docs/formats/fedshare.md §Sealed data.
 * @param[out] out @p len + FEDSHARE_SEAL_OVERHEAD bytes.
 * @return FEDSHARE_OK, FEDSHARE_E_INVALID, FEDSHARE_E_CRYPTO.
 */
FEDSHARE_API int fedshare_data_seal(const uint8_t key[32], const uint8_t *in, size_t len,
                                    uint8_t *out);
/**
 * @brief Decrypt and authenticate a sealed data set.
 * @param[out] out @p len − FEDSHARE_SEAL_OVERHEAD bytes.
 * @return FEDSHARE_OK, FEDSHARE_E_INVALID, FEDSHARE_E_FORMAT (not sealed data),
 * FEDSHARE_E_MISMATCH (wrong key or altered bytes: nothing is written).
 */
FEDSHARE_API int fedshare_data_open(const uint8_t key[32], const uint8_t *in, size_t len,
                                    uint8_t *out);

/**
 * @brief Register a data set by the hash of its encrypted form; returns its data ID.
 * @return as fedshare_client_submit.
 */
FEDSHARE_API int fedshare_register_data(fedshare_client *c, const uint8_t enc_hash[32],
                                        const char *label, const char *description,
                                        const uint8_t *lineage, size_t n_lineage,
                                        uint32_t timeout_ms, uint8_t data_id[32]);
/**
 * @brief Ask for access; the decision (permit or deny, deciding rules,
 * obligations) is recorded under the request's hash.
 * @param[out] decision_json new JSON text of the decision (fedshare_free; may be NULL).
 * @return FEDSHARE_OK (granted), FEDSHARE_E_DENIED, other refusals as fedshare_client_submit.
 */
FEDSHARE_API int fedshare_request_access(fedshare_client *c, const uint8_t data_id[32],
                                         const char *action, const char *purpose, uint64_t t0,
                                         uint64_t t1, uint32_t uses, uint32_t timeout_ms,
                                         char **decision_json);
/** @brief Join a task one is a participant of. */
FEDSHARE_API int fedshare_join_task(fedshare_client *c, const uint8_t task_id[32],
                                    uint32_t timeout_ms);

/**
 * @brief Encrypt a packed update (libfedavg's raw packed form: @p n_pt
 * plaintexts of @p pt_bytes each) under the task's key, store it as a blob and
 * upload it for round @p round with its weight and anomaly statistics.
 * @param[in] ctx libphe thread pool (NULL: one thread).
 * @return as fedshare_client_submit, and libphe's codes; FEDSHARE_E_RETIRED, before
 *         anything is encrypted or stored, when the task records this member as a
 *         participant that left it (retired from the consortium).
 */
FEDSHARE_API int fedshare_upload_update(fedshare_client *c, const uint8_t task_id[32],
                                        uint32_t round, const phe_pubkey *pk, phe_ctx *ctx,
                                        const uint8_t *packed, size_t n_pt, size_t pt_bytes,
                                        uint32_t weight, double norm, double cosine,
                                        uint32_t timeout_ms);

/**
 * @brief The aggregator's step: sum the round's accepted encrypted updates
 * (fetched from the blob store and checked against their recorded hashes),
 * store the sum and record its hash.
 */
FEDSHARE_API int fedshare_aggregate(fedshare_client *c, const uint8_t task_id[32], uint32_t round,
                                    const phe_pubkey *pk, phe_ctx *ctx, uint32_t timeout_ms);

/**
 * @brief Recompute the round's aggregate and record the check (a mismatch
 * makes the contract refuse the aggregate).
 * @param[out] matches 1 if the recorded aggregate is the sum (may be NULL).
 */
FEDSHARE_API int fedshare_check_aggregate(fedshare_client *c, const uint8_t task_id[32],
                                          uint32_t round, const phe_pubkey *pk, phe_ctx *ctx,
                                          uint32_t timeout_ms, int *matches);

/**
 * @brief A key holder's step: recompute the aggregate; if it is the recorded
 * one, make its decryption shares as ONE libphe batch with one proof for the
 * whole aggregate (on every core), store it ("FSDS" version 2) and record it;
 * if not, record the recomputed hash, which refuses the aggregate.
 * @return FEDSHARE_OK, FEDSHARE_E_MISMATCH (the aggregate was refused), as submit.
 */
FEDSHARE_API int fedshare_post_decryption_share(fedshare_client *c, const uint8_t task_id[32],
                                                uint32_t round, const phe_threshold_params *params,
                                                const phe_threshold_keyshare *share,
                                                uint32_t timeout_ms);

/**
 * @brief Compute round @p round's global model from the recorded shares:
 * verify the batch proof of each of the t shares combined (a bad batch is set
 * aside and the next share used), combine,
 * unpack the weighted mean update, add it to the previous global model.
 * Deterministic: every participant gets the same bits.
 * @param[out] model new array of *n float32 values (fedshare_free).
 * @return FEDSHARE_OK, FEDSHARE_E_SHARE, FEDSHARE_E_MISMATCH (a blob is not what was
 * recorded), FEDSHARE_E_STATE, FEDSHARE_E_RANGE or FEDAVG_E_OVERFLOW (the
 * decrypted sum is outside what the accepted updates allow: a slot above
 * 2·Q·W, non-zero padding, or a carry out of a plaintext), libphe/libfedavg
 * codes, transport codes.
 */
FEDSHARE_API int fedshare_compute_global(fedshare_client *c, const uint8_t task_id[32],
                                         uint32_t round, const phe_threshold_params *params,
                                         uint32_t timeout_ms, float **model, size_t *n);

/**
 * @brief The aggregator's last step: compute the global model, record a
 * SHARE_VERDICT for each share it judged (refused: the batch does not verify
 * or is malformed; verified: its batch proof verified in the combination),
 * store the model and its delta from the previous one, record its digest.
 * When the decrypted sum is outside what the accepted updates' weights and the
 * clipping bound allow (a slot above 2·Q·W, non-zero padding, or a carry out
 * of a plaintext: a member wrote past its slots), it records SUM_REFUSED
 * instead (the round is refused, the model stays) and returns FEDSHARE_E_RANGE.
 * @return FEDSHARE_OK, FEDSHARE_E_RANGE (the round refused and recorded), as
 * fedshare_compute_global, submission codes.
 */
FEDSHARE_API int fedshare_finalize_round(fedshare_client *c, const uint8_t task_id[32],
                                         uint32_t round, const phe_threshold_params *params,
                                         uint32_t timeout_ms);

/**
 * @brief fedshare_finalize_round for a task with a server optimizer: also
 * store @p server_model (x_r, the optimizer applied to the chain, as the
 * caller computed it; @p n floats, the model's size) and record its digest
 * beside g_r's. Refused (FEDSHARE_E_INVALID) for a FedAvg task, as the plain
 * form is for a task with an optimizer.
 * @return as fedshare_finalize_round.
 */
FEDSHARE_API int fedshare_finalize_round_server(fedshare_client *c, const uint8_t task_id[32],
                                                uint32_t round, const phe_threshold_params *params,
                                                const float *server_model, size_t n,
                                                uint32_t timeout_ms);

/**
 * @brief Fetch the global model of the task's last finished round (or the
 * initial model before round 1) and check it against the recorded digest.
 * @param[out] model new array (fedshare_free); @param[out] n its length.
 * @param[out] round the round it is from (0: the initial model; may be NULL).
 * @return FEDSHARE_OK, FEDSHARE_E_MISMATCH, FEDSHARE_E_NOT_FOUND, transport codes.
 */
FEDSHARE_API int fedshare_fetch_global(fedshare_client *c, const uint8_t task_id[32],
                                       uint32_t timeout_ms, float **model, size_t *n,
                                       uint32_t *round);

/**
 * @brief Evaluate round @p round's model: recompute it from the shares
 * (fedshare_compute_global), hand it to the caller's metric, record the
 * metric with the digest the participant computed (a digest other than the
 * recorded one disputes the round's model).
 */
FEDSHARE_API int fedshare_evaluate(fedshare_client *c, const uint8_t task_id[32], uint32_t round,
                                   const uint8_t model_digest[32], double metric, uint32_t samples,
                                   uint32_t timeout_ms);

/**
 * @brief The threshold key recorded under @p key_id (its public parameters:
 * public key and verification keys).
 * @param[out] params new parameters (phe_threshold_params_free).
 */
FEDSHARE_API int fedshare_client_key_params(fedshare_client *c, const uint8_t key_id[32],
                                            uint32_t timeout_ms, phe_threshold_params **params);

/**
 * @brief Store a model blob (initial model of a publisher) and return its digest.
 */
FEDSHARE_API int fedshare_put_model(fedshare_client *c, const float *model, size_t n,
                                    uint32_t timeout_ms, uint8_t digest[32]);

#ifdef __cplusplus
}
#endif

#endif /* FEDSHARE_CLIENT_H */
