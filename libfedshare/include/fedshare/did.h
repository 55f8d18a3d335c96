/**
 * @file fedshare/did.h
 * @brief W3C decentralized identifiers of consortium participants: the
 * did:key method over an Ed25519 public key (multicodec ed25519-pub 0xed01,
 * multibase base58btc 'z'), and the DID document it resolves to, as the
 * did:key Method specification (W3C CCG, https://w3c-ccg.github.io/did-method-key/)
 * defines them; every byte is in docs/formats/fedshare-did.md, the how-to in
 * docs/guides/fedshare-identities.md.
 *
 * A participant's ledger address is its Ed25519 public key (the sender key of
 * its libledger transactions), so a DID and an address convert into each other
 * without any lookup: fedshare_did_from_pubkey() one way, fedshare_did_to_pubkey()
 * the other.
 *
 * Size queries: where a function takes (out, cap, written), out may be NULL with
 * cap 0; the call then only sets *written to the size needed and returns
 * FEDSHARE_OK. On any error the output buffer is left untouched.
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
 * @param[in] pubkey 32 bytes (the participant's ledger address).
 * @param[out] out buffer of at least FEDSHARE_DID_BUF bytes; on success it holds the
 * FEDSHARE_DID_KEY_LEN characters of the DID and a terminating NUL.
 * @param[in] cap its size.
 * @return FEDSHARE_OK, FEDSHARE_E_INVALID (NULL), FEDSHARE_E_BUFFER_TOO_SMALL (cap <
 * FEDSHARE_DID_BUF), FEDSHARE_E_DID (the key is not a valid Ed25519 point — not canonical, not on
 * the curve, or of small order — so its DID could not be resolved), FEDSHARE_E_CRYPTO.
 */
FEDSHARE_API int fedshare_did_from_pubkey(const uint8_t pubkey[32], char *out, size_t cap);

/**
 * @brief Decode a did:key identifier into its Ed25519 public key (untrusted input).
 * Accepts exactly "did:key:" ‖ 'z' ‖ base58btc(0xed 0x01 ‖ 32 bytes), canonical
 * base58 (no leading-zero ambiguity), and a key that is a valid Ed25519 point.
 * A DID URL fragment ("#…") is refused here: resolve it with the document.
 * @param[in] did the identifier (need not be NUL-terminated). @param[in] len its length.
 * @param[out] pubkey 32 bytes, written only on success.
 * @return FEDSHARE_OK, FEDSHARE_E_INVALID (NULL), FEDSHARE_E_DID (not did:key, wrong
 * multibase or multicodec, bad base58, wrong length, not a curve point), FEDSHARE_E_CRYPTO.
 */
FEDSHARE_API int fedshare_did_to_pubkey(const char *did, size_t len, uint8_t pubkey[32]);

/**
 * @brief The DID document a did:key identifier resolves to (JSON, UTF-8,
 * canonical: fixed member order, no insignificant white space), as the did:key
 * method specification derives it: an Ed25519VerificationKey2020 verification
 * method used for authentication, assertion, capability invocation and
 * delegation, and the X25519KeyAgreementKey2020 key derived from it for key
 * agreement.
 * The keyAgreement entry embeds its method, as in the specification's example
 * document; the X25519 key is crypto_sign_ed25519_pk_to_curve25519() of the
 * Ed25519 key (RFC 7748 birational map), multicodec x25519-pub 0xec01.
 * @param[in] did the identifier (as for fedshare_did_to_pubkey()). @param[in] len its length.
 * @param[out] out buffer, or NULL (with cap 0) to ask for the size. @param[in] cap its size.
 * @param[out] written bytes of the document (without a NUL; one is added when room allows).
 * @return FEDSHARE_OK, FEDSHARE_E_INVALID (NULL), FEDSHARE_E_DID (as
 * fedshare_did_to_pubkey()), FEDSHARE_E_BUFFER_TOO_SMALL (*written says the size needed),
 * FEDSHARE_E_CRYPTO.
 */
FEDSHARE_API int fedshare_did_document(const char *did, size_t len, char *out, size_t cap,
                                       size_t *written);

/**
 * @brief Base58btc (Bitcoin alphabet) encoding, the multibase 'z' body: each leading
 * zero byte becomes one '1', the rest is the big-endian number in base 58.
 * @param[in] in bytes (NULL only when len is 0). @param[in] len at most 256.
 * @param[out] out buffer, or NULL (with cap 0) to ask for the size. @param[in] cap its size.
 * @param[out] written characters written (a NUL is added when room allows).
 * @return FEDSHARE_OK, FEDSHARE_E_INVALID (NULL, len > 256), FEDSHARE_E_BUFFER_TOO_SMALL (*written
 * says the size needed).
 */
FEDSHARE_API int fedshare_base58_encode(const uint8_t *in, size_t len, char *out, size_t cap,
                                        size_t *written);

/**
 * @brief Base58btc decoding (untrusted input; at most 256 characters). Canonical by
 * construction: each leading '1' is one zero byte, so every string has one decoding
 * and re-encodes to itself.
 * @param[in] in characters (NULL only when len is 0). @param[in] len their count.
 * @param[out] out buffer, or NULL (with cap 0) to ask for the size. @param[in] cap its size.
 * @param[out] written bytes decoded.
 * @return FEDSHARE_OK, FEDSHARE_E_INVALID (NULL), FEDSHARE_E_FORMAT (a character outside
 * the alphabet, more than 256 characters), FEDSHARE_E_BUFFER_TOO_SMALL (*written says the size
 * needed).
 */
FEDSHARE_API int fedshare_base58_decode(const char *in, size_t len, uint8_t *out, size_t cap,
                                        size_t *written);

#ifdef __cplusplus
}
#endif

#endif /* FEDSHARE_DID_H */
