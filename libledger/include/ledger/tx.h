/**
 * @file ledger/tx.h
 * @brief Signing keys and signed transactions (docs/formats/ledger.md §Transaction).
 *
 * Thread safety: a ledger_signer or ledger_tx may be read (encode, verify,
 * accessors, sign with a signer) from several threads at once; mutating calls
 * (ledger_tx_sign) need exclusive access to that tx. Distinct objects are
 * independent.
 */
#ifndef LEDGER_TX_H
#define LEDGER_TX_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Transaction format version made by ledger_tx_create (the byte after the
 * magic "LDTX"): format 1 names no application version (it stands for
 * version 1). ledger_tx_create_for makes format 2, which names the
 * application version the transaction was built for (LEDGER_TX_FORMAT_V2).
 */
#define LEDGER_TX_FORMAT_VERSION 1
/** Transaction format that names an application version. */
#define LEDGER_TX_FORMAT_V2 2
/** Largest transaction payload; larger data goes to the blob store. */
#define LEDGER_TX_PAYLOAD_MAX (1u << 20)
/** Bytes of a format 1 transaction encoding besides its payload (the least of any format). */
#define LEDGER_TX_OVERHEAD 115
/** Bytes of a format 2 transaction encoding besides its payload. */
#define LEDGER_TX_OVERHEAD_V2 119

/** An Ed25519 signing key (opaque; the secret is wiped when freed). */
typedef struct ledger_signer ledger_signer;
/** A transaction (opaque). */
typedef struct ledger_tx ledger_tx;

/**
 * @brief Make a signing key from a 32-byte seed (deterministic).
 * @param[out] out new signer, owned by the caller (ledger_signer_free).
 * @param[in] seed 32 secret bytes.
 * @return LEDGER_OK, LEDGER_E_INVALID, LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_signer_from_seed(ledger_signer **out, const uint8_t seed[32]);

/**
 * @brief Make a random signing key (libsodium randombytes).
 * @param[out] out new signer, owned by the caller.
 * @return LEDGER_OK, LEDGER_E_INVALID, LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_signer_generate(ledger_signer **out);

/** @brief Free a signer, wiping its secret. NULL is a no-op. */
LEDGER_API void ledger_signer_free(ledger_signer *s);

/**
 * @brief The signer's public key.
 * @param[in] s signer.
 * @return pointer to 32 bytes owned by @p s (valid until it is freed), or NULL if s is NULL.
 */
LEDGER_API const uint8_t *ledger_signer_public_key(const ledger_signer *s);

/**
 * @brief Ed25519-sign an arbitrary message (used by consensus for its own,
 * domain-separated messages such as ledger_commit_statement()).
 * @param[in] s signer.
 * @param[in] msg message bytes (may be NULL if len is 0).
 * @param[in] len message length.
 * @param[out] sig 64-byte signature.
 * @return LEDGER_OK or LEDGER_E_INVALID.
 */
LEDGER_API int ledger_signer_sign(const ledger_signer *s, const uint8_t *msg, size_t len,
                                  uint8_t sig[64]);

/**
 * @brief Verify an Ed25519 signature of an arbitrary message.
 * @return LEDGER_OK, LEDGER_E_SIGNATURE, LEDGER_E_INVALID.
 */
LEDGER_API int ledger_sig_verify(const uint8_t pubkey[32], const uint8_t *msg, size_t len,
                                 const uint8_t sig[64]);

/**
 * @brief Create an unsigned transaction (signature all zero).
 * @param[out] out new transaction, owned by the caller (ledger_tx_free).
 * @param[in] op application-defined operation type.
 * @param[in] sender 32-byte Ed25519 public key of the sender.
 * @param[in] nonce sender's nonce: must be above the sender's last committed nonce.
 * @param[in] payload payload bytes, copied (may be NULL if len is 0).
 * @param[in] len payload length, at most LEDGER_TX_PAYLOAD_MAX.
 * @return LEDGER_OK, LEDGER_E_INVALID, LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_tx_create(ledger_tx **out, uint16_t op, const uint8_t sender[32],
                                uint64_t nonce, const uint8_t *payload, size_t len);

/**
 * @brief Create and sign a transaction in one call (sender = signer's key).
 * @return LEDGER_OK, LEDGER_E_INVALID, LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_tx_create_signed(ledger_tx **out, const ledger_signer *s, uint16_t op,
                                       uint64_t nonce, const uint8_t *payload, size_t len);
/**
 * @brief Like ledger_tx_create, in format 2: the transaction names the
 * application version it was built for (1 or more). A transaction for another
 * version than the one in force when it is checked or executed is refused with
 * LEDGER_E_TX_APP_VERSION (ledger/upgrade.h).
 * @return LEDGER_OK, LEDGER_E_INVALID (also version 0), LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_tx_create_for(ledger_tx **out, uint16_t op, const uint8_t sender[32],
                                    uint64_t nonce, const uint8_t *payload, size_t len,
                                    uint32_t app_version);
/** @brief ledger_tx_create_signed in format 2 (see ledger_tx_create_for). */
LEDGER_API int ledger_tx_create_signed_for(ledger_tx **out, const ledger_signer *s, uint16_t op,
                                           uint64_t nonce, const uint8_t *payload, size_t len,
                                           uint32_t app_version);

/**
 * @brief Sign a transaction: Ed25519 over SHA-256("FSLEDGER/TX/v1\0\0" ‖ encoding
 * without the signature) (docs/formats/ledger.md).
 * @param[in,out] tx transaction whose sender must be the signer's public key.
 * @param[in] s signer.
 * @return LEDGER_OK, LEDGER_E_INVALID (NULL or sender is not the signer's key).
 */
LEDGER_API int ledger_tx_sign(ledger_tx *tx, const ledger_signer *s);

/**
 * @brief Attach a signature computed elsewhere (e.g. a hardware key).
 * @return LEDGER_OK or LEDGER_E_INVALID.
 */
LEDGER_API int ledger_tx_set_signature(ledger_tx *tx, const uint8_t sig[64]);

/**
 * @brief The 32-byte digest a signer signs for this transaction.
 * @return LEDGER_OK or LEDGER_E_INVALID.
 */
LEDGER_API int ledger_tx_signing_digest(const ledger_tx *tx, uint8_t out[32]);

/**
 * @brief Verify the transaction's signature against its sender key.
 * @return LEDGER_OK, LEDGER_E_SIGNATURE, LEDGER_E_INVALID.
 */
LEDGER_API int ledger_tx_verify(const ledger_tx *tx);

/**
 * @brief Verify many transactions; on failure names the first bad one.
 * @param[in] txs array of @p n transactions.
 * @param[in] n count.
 * @param[out] bad_index index of the first failing tx (may be NULL).
 * @return LEDGER_OK, LEDGER_E_SIGNATURE, LEDGER_E_INVALID.
 */
LEDGER_API int ledger_tx_verify_batch(const ledger_tx *const *txs, size_t n, size_t *bad_index);

/**
 * @brief Decode a canonical transaction encoding (strict: magic, version, lengths,
 * no trailing bytes). The signature is not verified here.
 * @param[out] out new transaction, owned by the caller.
 * @param[in] buf encoding.
 * @param[in] len length.
 * @return LEDGER_OK, LEDGER_E_DECODE, LEDGER_E_VERSION, LEDGER_E_INVALID, LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_tx_decode(ledger_tx **out, const uint8_t *buf, size_t len);

/**
 * @brief The canonical encoding (borrowed; valid until the tx is changed or freed).
 * @param[in] tx transaction.
 * @param[out] len encoding length.
 * @return pointer to the bytes, or NULL if an argument is NULL.
 */
LEDGER_API const uint8_t *ledger_tx_encoding(const ledger_tx *tx, size_t *len);

/**
 * @brief Copy the canonical encoding into a new buffer.
 * @param[out] out new buffer, owned by the caller (ledger_free).
 * @param[out] len its length.
 * @return LEDGER_OK, LEDGER_E_INVALID, LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_tx_encode(const ledger_tx *tx, uint8_t **out, size_t *len);

/** @brief Size of the encoding of a transaction with a payload of @p payload_len bytes. */
LEDGER_API size_t ledger_tx_encoded_size(size_t payload_len);

/**
 * @brief The transaction hash: SHA-256 of its full encoding (signature included).
 * @return pointer to 32 bytes owned by tx, or NULL if tx is NULL.
 */
LEDGER_API const uint8_t *ledger_tx_hash(const ledger_tx *tx);

/** @brief Operation type (0 if tx is NULL). */
LEDGER_API uint16_t ledger_tx_op(const ledger_tx *tx);
/** @brief Sender public key (32 bytes owned by tx, NULL if tx is NULL). */
LEDGER_API const uint8_t *ledger_tx_sender(const ledger_tx *tx);
/** @brief Nonce (0 if tx is NULL). */
LEDGER_API uint64_t ledger_tx_nonce(const ledger_tx *tx);
/** @brief Payload (borrowed, owned by tx); sets *len. NULL if tx or len is NULL. */
LEDGER_API const uint8_t *ledger_tx_payload(const ledger_tx *tx, size_t *len);
/** @brief Signature (64 bytes owned by tx, NULL if tx is NULL). */
LEDGER_API const uint8_t *ledger_tx_signature(const ledger_tx *tx);
/** @brief Format version of the encoding (1 or 2; 0 if NULL). */
LEDGER_API uint32_t ledger_tx_format(const ledger_tx *tx);
/** @brief Application version the transaction was built for (1 for format 1; 0 if NULL). */
LEDGER_API uint32_t ledger_tx_app_version(const ledger_tx *tx);

/**
 * @brief Copy a transaction.
 * @return LEDGER_OK, LEDGER_E_INVALID, LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_tx_clone(ledger_tx **out, const ledger_tx *tx);

/** @brief Free a transaction. NULL is a no-op. */
LEDGER_API void ledger_tx_free(ledger_tx *tx);

#ifdef __cplusplus
}
#endif
#endif /* LEDGER_TX_H */
