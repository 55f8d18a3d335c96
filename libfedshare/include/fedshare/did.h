/**
 * @file fedshare/did.h
 * @brief W3C decentralized identifiers of consortium participants: the
 * did:key method over an Ed25519 public key (multicodec ed25519-pub 0xed01,
 * multibase base58btc 'z'), and the DID document it resolves to
 * (docs/formats/fedshare.md §Identities).
 *
 * A participant's ledger address is its Ed25519 public key, so a DID and an
 * address convert into each other without any lookup.
 *
 * Thread safety: every function is reentrant.
 */
#ifndef FEDSHARE_DID_H
#define FEDSHARE_DID_H

#include "fedshare/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Length of a did:key string of an Ed25519 key ("did:key:z6Mk…", 56 characters). */
#define FEDSHARE_DID_KEY_LEN 56
/** Buffer size that holds a did:key string and its terminating NUL. */
#define FEDSHARE_DID_BUF 57

/**
 * @brief The did:key identifier of an Ed25519 public key.
 * @param[in] pubkey 32 bytes.
 * @param[out] out buffer of at least FEDSHARE_DID_BUF bytes; NUL-terminated on success.
 * @param[in] cap its size.
 * @return FEDSHARE_OK, FEDSHARE_E_INVALID (NULL), FEDSHARE_E_BUFFER.
 */
FEDSHARE_API int fedshare_did_from_pubkey(const uint8_t pubkey[32], char *out, size_t cap);

/**
 * @brief Decode a did:key identifier into its Ed25519 public key (untrusted input).
 * Accepts exactly "did:key:" ‖ 'z' ‖ base58btc(0xed 0x01 ‖ 32 bytes), canonical
 * base58 (no leading-zero ambiguity), and a key that is a valid Ed25519 point.
 * A DID URL fragment ("#…") is refused here: resolve it with the document.
 * @param[in] did the identifier (need not be NUL-terminated). @param[in] len its length.
 * @param[out] pubkey 32 bytes.
 * @return FEDSHARE_OK, FEDSHARE_E_INVALID (NULL), FEDSHARE_E_DID (not did:key, wrong
 * multibase or multicodec, bad base58, wrong length, not a curve point).
 */
FEDSHARE_API int fedshare_did_to_pubkey(const char *did, size_t len, uint8_t pubkey[32]);

/**
 * @brief The DID document a did:key identifier resolves to (JSON, UTF-8,
 * canonical: fixed member order, no insignificant white space), as the did:key
 * method specification derives it: an Ed25519VerificationKey2020 verification
 * method used for authentication, assertion, capability invocation and
 * delegation, and the X25519KeyAgreementKey2020 key derived from it for key
 * agreement.
 * @param[in] did the identifier. @param[in] len its length.
 * @param[out] out buffer, or NULL to ask for the size. @param[in] cap its size.
 * @param[out] written bytes of the document (without a NUL; one is added when room allows).
 * @return FEDSHARE_OK, FEDSHARE_E_INVALID, FEDSHARE_E_DID, FEDSHARE_E_BUFFER (*written says
 * the size needed).
 */
FEDSHARE_API int fedshare_did_document(const char *did, size_t len, char *out, size_t cap,
                                       size_t *written);

/**
 * @brief Base58btc (Bitcoin alphabet) encoding, the multibase 'z' body.
 * @param[out] out buffer; @param[in] cap its size; @param[out] written characters written
 * (a NUL is added when room allows).
 * @return FEDSHARE_OK, FEDSHARE_E_INVALID, FEDSHARE_E_BUFFER (*written says the size needed).
 */
FEDSHARE_API int fedshare_base58_encode(const uint8_t *in, size_t len, char *out, size_t cap,
                                        size_t *written);

/**
 * @brief Base58btc decoding (untrusted input; at most 256 characters).
 * @return FEDSHARE_OK, FEDSHARE_E_INVALID, FEDSHARE_E_FORMAT (a character outside the
 * alphabet, too long), FEDSHARE_E_BUFFER (*written says the size needed).
 */
FEDSHARE_API int fedshare_base58_decode(const char *in, size_t len, uint8_t *out, size_t cap,
                                        size_t *written);

#ifdef __cplusplus
}
#endif

#endif /* FEDSHARE_DID_H */
