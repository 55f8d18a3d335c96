/**
 * @file phe/threshold.h
 * @brief t-of-n threshold Paillier decryption (Shoup / Damgård–Jurik style).
 *
 * A dealer generates n = pq from two safe primes, shares the decryption
 * exponent among @c l holders with a degree t−1 polynomial, and publishes
 * the threshold parameters: the ordinary public key (usable by every libphe
 * encryption path), a verification base @c v and one verification key per
 * holder. Any t holders each produce a decryption share with a
 * non-interactive zero-knowledge proof that it is correct; anyone holding
 * the parameters verifies the shares and combines t of them into the
 * plaintext. See docs/guides/phe-threshold.md for the ceremony and its trust
 * assumptions and docs/formats/phe-threshold.md for every encoding.
 *
 * Thread safety: every function is reentrant. Objects are immutable after
 * creation, so one object may be read from many threads at once; freeing an
 * object while another thread uses it is undefined. Randomness comes from
 * libphe's random source (libsodium unless a test replaced it).
 *
 * Return codes: 0 on success, otherwise a negative code: the ::phe_error
 * codes of phe.h or the threshold codes below (range −170 … −189).
 * phe_strerror() names every one of them.
 */
#ifndef PHE_THRESHOLD_H
#define PHE_THRESHOLD_H

#include <stddef.h>
#include <stdint.h>

/* The core handles (phe_pubkey, phe_ciphertext, phe_rng), PHE_API and the
 * error codes; phe.h may itself include this header, the guards make either
 * order work. */
#include "../phe.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Threshold public parameters: public key, t, l, verification base and keys. */
typedef struct phe_threshold_params phe_threshold_params;
/** One holder's secret key share (index i, exponent s_i). Wiped on free. */
typedef struct phe_threshold_keyshare phe_threshold_keyshare;
/** One holder's decryption share of one ciphertext, with its proof. */
typedef struct phe_threshold_decshare phe_threshold_decshare;
/** One holder's decryption shares of a batch of ciphertexts, with one proof. */
typedef struct phe_threshold_decshare_batch phe_threshold_decshare_batch;

/** Error codes of the threshold module (all in libphe's range). */
enum phe_threshold_error {
    /* clang-format off */
    /* codes:begin libphe.threshold.enum: generated from libphe/codes.tsv by tools/gen_codes.py */
    /** t or l out of range (1 ≤ t ≤ l ≤ PHE_THRESHOLD_MAX_HOLDERS). */
    PHE_ERR_THRESHOLD_PARAMS = -170,
    /** A prime given to the dealer is not a safe prime of the right size. */
    PHE_ERR_THRESHOLD_NOT_SAFE_PRIME = -171,
    /** A share's holder index is 0 or greater than l. */
    PHE_ERR_THRESHOLD_INDEX_RANGE = -172,
    /** Two shares passed to combine come from the same holder. */
    PHE_ERR_THRESHOLD_DUPLICATE_SHARE = -173,
    /** Fewer than t shares were passed to combine. */
    PHE_ERR_THRESHOLD_TOO_FEW_SHARES = -174,
    /** The share or key share belongs to other threshold parameters (key id differs). */
    PHE_ERR_THRESHOLD_WRONG_KEY = -175,
    /** The decryption share was made for another ciphertext. */
    PHE_ERR_THRESHOLD_WRONG_CIPHERTEXT = -176,
    /** The decryption share's zero-knowledge proof does not verify (forged or tampered). */
    PHE_ERR_THRESHOLD_PROOF_INVALID = -177,
    /** The decryption share value is not an invertible element of Z*_{n²}. */
    PHE_ERR_THRESHOLD_SHARE_VALUE = -178,
    /** The combined value is not of the form 1 + kn: the shares are inconsistent. */
    PHE_ERR_THRESHOLD_COMBINE_FAILED = -179
    /* codes:end */
    /* clang-format on */
};

/** The largest number of holders l a threshold key may have. */
#define PHE_THRESHOLD_MAX_HOLDERS 64

/* ------------------------------------------------------------------ */
/* Dealer ceremony                                                      */
/* ------------------------------------------------------------------ */

/**
 * Run the dealer ceremony: generate two safe primes p = 2p'+1, q = 2q'+1 of
 * @p bits/2 bits each, n = pq, and share the decryption exponent t-of-l.
 *
 * @param[out] params_out  receives the public parameters (free with
 *                         phe_threshold_params_free()).
 * @param[out] shares_out  array of at least @p l pointers; shares_out[i]
 *                         receives the key share of holder i+1 (free each
 *                         with phe_threshold_keyshare_free()).
 * @param bits             modulus size: 2048, 3072 or 4096.
 * @param t                shares needed to decrypt, 1 ≤ t ≤ l.
 * @param l                number of holders, 1 ≤ l ≤ PHE_THRESHOLD_MAX_HOLDERS.
 * @param rng              random source, NULL for the system generator.
 * @return 0; PHE_ERR_THRESHOLD_PARAMS for a bad t or l; PHE_ERR_KEY_SIZE
 *         for another @p bits; PHE_ERR_INVALID_ARG for a NULL pointer;
 *         PHE_ERR_NOMEM; PHE_ERR_RNG. On error nothing is allocated and the
 *         outputs are set to NULL.
 */
PHE_API int phe_threshold_deal(phe_threshold_params **params_out,
                               phe_threshold_keyshare **shares_out, uint32_t bits, uint32_t t,
                               uint32_t l, phe_rng *rng);

/**
 * The dealer ceremony with the two safe primes given (big-endian, no
 * leading zero byte): for test vectors and pre-generated keys. The primes are
 * checked (both safe primes, equal bit length, distinct, product of an
 * accepted modulus size); the sharing polynomial and verification base are
 * still drawn at random.
 *
 * @param[out] params_out, shares_out  as phe_threshold_deal().
 * @param[in]  p, p_len, q, q_len       the primes (read only, not kept).
 * @param t, l, rng                     as phe_threshold_deal().
 * @return 0; PHE_ERR_THRESHOLD_NOT_SAFE_PRIME if a prime is not a safe prime
 *         or the pair is unsuitable; PHE_ERR_KEY_INVALID if n is not an
 *         accepted modulus (2048 … 8192 bits); PHE_ERR_THRESHOLD_PARAMS;
 *         PHE_ERR_INVALID_ARG; PHE_ERR_NOMEM; PHE_ERR_RNG.
 */
PHE_API int phe_threshold_deal_with_primes(phe_threshold_params **params_out,
                                           phe_threshold_keyshare **shares_out, const uint8_t *p,
                                           size_t p_len, const uint8_t *q, size_t q_len, uint32_t t,
                                           uint32_t l, phe_rng *rng);

/**
 * Generate one safe prime P = 2P'+1 (P' prime) of exactly @p bits bits with
 * a combined sieve (see docs/guides/phe-threshold.md for its cost).
 *
 * @param[out] out      receives the prime, big-endian, exactly (bits+7)/8 bytes.
 * @param out_len       size of @p out; must be at least (bits+7)/8.
 * @param bits          64 ≤ bits ≤ 4096.
 * @param rng           random source, NULL for the system generator.
 * @return 0; PHE_ERR_INVALID_ARG; PHE_ERR_BUFFER_TOO_SMALL; PHE_ERR_NOMEM; PHE_ERR_RNG.
 */
PHE_API int phe_threshold_safe_prime(uint8_t *out, size_t out_len, uint32_t bits, phe_rng *rng);

/* ------------------------------------------------------------------ */
/* Public parameters                                                    */
/* ------------------------------------------------------------------ */

/** Free parameters; NULL is a no-op. */
PHE_API void phe_threshold_params_free(phe_threshold_params *params);

/**
 * The ordinary public key of the threshold key (borrowed: valid while
 * @p params lives; do not free). Every libphe encryption path accepts it.
 * @return the key, or NULL if @p params is NULL.
 */
PHE_API const phe_pubkey *phe_threshold_params_pubkey(const phe_threshold_params *params);

/** Shares needed to decrypt (t); 0 if @p params is NULL. */
PHE_API uint32_t phe_threshold_params_threshold(const phe_threshold_params *params);

/** Number of holders (l); 0 if @p params is NULL. */
PHE_API uint32_t phe_threshold_params_holders(const phe_threshold_params *params);

/**
 * The 32-byte key id: SHA-256 of the canonical parameter encoding, carried
 * by every key share and decryption share of this key.
 * @param[out] out  32 bytes.
 * @return 0 or PHE_ERR_INVALID_ARG.
 */
PHE_API int phe_threshold_params_key_id(const phe_threshold_params *params, uint8_t out[32]);

/** Exact size in bytes of the parameters' encoding; 0 if @p params is NULL. */
PHE_API size_t phe_threshold_params_encoded_size(const phe_threshold_params *params);

/**
 * Canonical encoding of the parameters (docs/formats/phe-threshold.md, "PHTP").
 * @param[out] out      buffer of @p out_len bytes.
 * @param[out] written  receives the number of bytes written (may be NULL).
 * @return 0; PHE_ERR_INVALID_ARG; PHE_ERR_BUFFER_TOO_SMALL.
 */
PHE_API int phe_threshold_params_encode(const phe_threshold_params *params, uint8_t *out,
                                        size_t out_len, size_t *written);

/**
 * Decode and validate parameters.
 * @param[out] out  receives new parameters (NULL on error).
 * @return 0; PHE_ERR_INVALID_ARG; PHE_ERR_DECODE for malformed, truncated,
 *         oversized or non-canonical input or values outside Z*_{n²};
 *         PHE_ERR_VERSION; PHE_ERR_KEY_INVALID for a bad modulus;
 *         PHE_ERR_THRESHOLD_PARAMS for a bad t or l; PHE_ERR_NOMEM.
 */
PHE_API int phe_threshold_params_decode(phe_threshold_params **out, const uint8_t *in,
                                        size_t in_len);

/* ------------------------------------------------------------------ */
/* Key shares (secret)                                                  */
/* ------------------------------------------------------------------ */

/** Free and wipe a key share; NULL is a no-op. */
PHE_API void phe_threshold_keyshare_free(phe_threshold_keyshare *share);

/** The holder index i (1 … l) of the key share; 0 if NULL. */
PHE_API uint32_t phe_threshold_keyshare_index(const phe_threshold_keyshare *share);

/** Exact size of the key share's encoding; 0 if NULL. */
PHE_API size_t phe_threshold_keyshare_encoded_size(const phe_threshold_keyshare *share);

/**
 * Canonical encoding of a key share ("PHTK"). The bytes are secret: the
 * caller wipes them (or writes them with phe_threshold_keyshare_write_file()).
 * @return 0; PHE_ERR_INVALID_ARG; PHE_ERR_BUFFER_TOO_SMALL.
 */
PHE_API int phe_threshold_keyshare_encode(const phe_threshold_keyshare *share, uint8_t *out,
                                          size_t out_len, size_t *written);

/**
 * Decode a key share.
 * @return 0; PHE_ERR_INVALID_ARG; PHE_ERR_DECODE; PHE_ERR_VERSION;
 *         PHE_ERR_THRESHOLD_INDEX_RANGE; PHE_ERR_THRESHOLD_PARAMS; PHE_ERR_NOMEM.
 */
PHE_API int phe_threshold_keyshare_decode(phe_threshold_keyshare **out, const uint8_t *in,
                                          size_t in_len);

/**
 * Check that a key share belongs to @p params: same key id, index in range,
 * and v^(Δ·s_i) equal to the holder's verification key.
 * @return 0; PHE_ERR_THRESHOLD_WRONG_KEY; PHE_ERR_THRESHOLD_INDEX_RANGE;
 *         PHE_ERR_INVALID_ARG.
 */
PHE_API int phe_threshold_keyshare_check(const phe_threshold_params *params,
                                         const phe_threshold_keyshare *share);

/** Size of phe_threshold_keyshare_seal()'s output; 0 if NULL. */
PHE_API size_t phe_threshold_keyshare_sealed_size(const phe_threshold_keyshare *share);

/**
 * Encrypt a key share under a passphrase for storage at rest ("PHTF",
 * version 2): XChaCha20-Poly1305 (random nonce, every header byte
 * authenticated as associated data) under a key derived with Argon2id
 * (crypto_pwhash, random 16-byte salt) at the given cost.
 * @param[in] pass      passphrase bytes (borrowed), may be empty.
 * @param strength      Argon2id cost (phe_kdf_strength of phe.h).
 * @param rng           random source for salt and nonce, NULL for the system generator.
 * @param[out] out      @p out_len bytes.
 * @param[out] written  receives the number of bytes written (may be NULL).
 * @return 0; PHE_ERR_INVALID_ARG; PHE_ERR_BUFFER_TOO_SMALL; PHE_ERR_NOMEM; PHE_ERR_RNG.
 */
PHE_API int phe_threshold_keyshare_seal(const phe_threshold_keyshare *share, const uint8_t *pass,
                                        size_t pass_len, phe_kdf_strength strength, phe_rng *rng,
                                        uint8_t *out, size_t out_len, size_t *written);

/**
 * Open a sealed key share (version 2, or version 1 as earlier builds wrote).
 * @return 0; PHE_ERR_INVALID_ARG; PHE_ERR_DECODE; PHE_ERR_VERSION;
 *         PHE_ERR_KDF_LIMIT (Argon2id limits outside libsodium's MIN …
 *         4 passes / 256 MiB, or a memory limit that is not a whole number
 *         of KiB; refused before any work);
 *         PHE_ERR_AUTH (wrong passphrase or modified bytes);
 *         PHE_ERR_THRESHOLD_PARAMS; PHE_ERR_THRESHOLD_INDEX_RANGE; PHE_ERR_NOMEM.
 */
PHE_API int phe_threshold_keyshare_unseal(phe_threshold_keyshare **out, const uint8_t *in,
                                          size_t in_len, const uint8_t *pass, size_t pass_len);

/**
 * phe_threshold_keyshare_seal() to a new file created with mode 0600 (the
 * path must not exist; a partly written file is removed).
 * @return as phe_threshold_keyshare_seal(); PHE_ERR_IO.
 */
PHE_API int phe_threshold_keyshare_write_file(const phe_threshold_keyshare *share, const char *path,
                                              const uint8_t *pass, size_t pass_len,
                                              phe_kdf_strength strength, phe_rng *rng);

/**
 * phe_threshold_keyshare_unseal() of a file (at most 64 KiB).
 * @return as phe_threshold_keyshare_unseal(); PHE_ERR_IO.
 */
PHE_API int phe_threshold_keyshare_read_file(phe_threshold_keyshare **out, const char *path,
                                             const uint8_t *pass, size_t pass_len);

/* ------------------------------------------------------------------ */
/* Decryption shares                                                    */
/* ------------------------------------------------------------------ */

/**
 * Holder i's decryption share of @p ct: c_i = c^(2Δ·s_i) mod n² with a
 * Fiat–Shamir proof that log_{c⁴}(c_i²) = log_v(v_i).
 * @param[out] out  receives the share (free with phe_threshold_decshare_free()).
 * @param rng       random source of the proof's commitment, NULL for the system generator.
 * @return 0; PHE_ERR_THRESHOLD_WRONG_KEY if @p share is not of @p params;
 *         PHE_ERR_THRESHOLD_INDEX_RANGE; PHE_ERR_KEY_MISMATCH (ciphertext of
 *         another key); PHE_ERR_CIPHERTEXT_INVALID (out of range or not
 *         invertible mod n²); PHE_ERR_EMPTY; PHE_ERR_INVALID_ARG;
 *         PHE_ERR_NOMEM; PHE_ERR_RNG.
 */
PHE_API int phe_threshold_decshare_create(phe_threshold_decshare **out,
                                          const phe_threshold_params *params,
                                          const phe_threshold_keyshare *share,
                                          const phe_ciphertext *ct, phe_rng *rng);

/** Free a decryption share; NULL is a no-op. */
PHE_API void phe_threshold_decshare_free(phe_threshold_decshare *share);

/** The holder index of a decryption share; 0 if NULL. */
PHE_API uint32_t phe_threshold_decshare_index(const phe_threshold_decshare *share);

/**
 * Verify a decryption share against the holder's verification key.
 * @return 0 if valid; PHE_ERR_THRESHOLD_WRONG_KEY; PHE_ERR_THRESHOLD_INDEX_RANGE;
 *         PHE_ERR_THRESHOLD_WRONG_CIPHERTEXT; PHE_ERR_THRESHOLD_SHARE_VALUE;
 *         PHE_ERR_THRESHOLD_PROOF_INVALID; PHE_ERR_KEY_MISMATCH;
 *         PHE_ERR_CIPHERTEXT_INVALID; PHE_ERR_EMPTY; PHE_ERR_INVALID_ARG.
 */
PHE_API int phe_threshold_decshare_verify(const phe_threshold_params *params,
                                          const phe_ciphertext *ct,
                                          const phe_threshold_decshare *share);

/** Exact size of the decryption share's encoding; 0 if NULL. */
PHE_API size_t phe_threshold_decshare_encoded_size(const phe_threshold_decshare *share);

/**
 * Canonical encoding of a decryption share with its proof ("PHTD").
 * @return 0; PHE_ERR_INVALID_ARG; PHE_ERR_BUFFER_TOO_SMALL.
 */
PHE_API int phe_threshold_decshare_encode(const phe_threshold_decshare *share, uint8_t *out,
                                          size_t out_len, size_t *written);

/**
 * Decode a decryption share (structure only; verify it with
 * phe_threshold_decshare_verify()).
 * @return 0; PHE_ERR_INVALID_ARG; PHE_ERR_DECODE; PHE_ERR_VERSION;
 *         PHE_ERR_THRESHOLD_INDEX_RANGE; PHE_ERR_NOMEM.
 */
PHE_API int phe_threshold_decshare_decode(phe_threshold_decshare **out, const uint8_t *in,
                                          size_t in_len);

/* ------------------------------------------------------------------ */
/* Combination                                                          */
/* ------------------------------------------------------------------ */

/**
 * Verify @p count decryption shares of @p ct and combine the first t of
 * them into the plaintext, as a signed 64-bit integer (values above n/2 are
 * negative: x − n).
 * @param[in] shares  @p count borrowed share pointers.
 * @param[out] out    receives the plaintext.
 * @return 0; PHE_ERR_THRESHOLD_TOO_FEW_SHARES; PHE_ERR_THRESHOLD_DUPLICATE_SHARE;
 *         PHE_ERR_THRESHOLD_INDEX_RANGE; PHE_ERR_THRESHOLD_WRONG_KEY;
 *         PHE_ERR_THRESHOLD_WRONG_CIPHERTEXT; PHE_ERR_THRESHOLD_SHARE_VALUE;
 *         PHE_ERR_THRESHOLD_PROOF_INVALID; PHE_ERR_THRESHOLD_COMBINE_FAILED;
 *         PHE_ERR_PLAINTEXT_RANGE when the value does not fit in int64;
 *         PHE_ERR_INVALID_ARG; PHE_ERR_KEY_MISMATCH; PHE_ERR_CIPHERTEXT_INVALID;
 *         PHE_ERR_EMPTY.
 *         No share that fails verification is ever combined.
 */
PHE_API int phe_threshold_combine_int64(const phe_threshold_params *params,
                                        const phe_ciphertext *ct,
                                        const phe_threshold_decshare *const *shares, size_t count,
                                        int64_t *out);

/**
 * As phe_threshold_combine_int64(), but writes the plaintext m ∈ [0, n) as
 * a big-endian unsigned integer of exactly @p out_len bytes (left-padded
 * with zeros). A negative value x was encrypted as n − x, as everywhere in
 * libphe.
 * @param out_len  at least the byte length of n (phe_plaintext_size()).
 * @return as phe_threshold_combine_int64() (without PHE_ERR_PLAINTEXT_RANGE),
 *         plus PHE_ERR_BUFFER_TOO_SMALL.
 */
PHE_API int phe_threshold_combine_bytes(const phe_threshold_params *params,
                                        const phe_ciphertext *ct,
                                        const phe_threshold_decshare *const *shares, size_t count,
                                        uint8_t *out, size_t out_len);

/* ------------------------------------------------------------------ */
/* Batches: one proof per holder per batch of ciphertexts               */
/* ------------------------------------------------------------------ */

/** The largest number of ciphertexts in one batch of decryption shares. */
#define PHE_THRESHOLD_MAX_BATCH 1048576u

/**
 * Holder i's decryption shares d_k = c_k^(2Δ·s_i) mod n² of @p count
 * ciphertexts with ONE zero-knowledge proof for the whole batch: the
 * equality-of-discrete-logs proof of a single share, made over the random
 * linear combination C = Π c_k^(ρ_k), D = Π d_k^(ρ_k) whose 128-bit
 * coefficients ρ_k are a hash of the statement (key id, i, every c_k, every
 * d_k). docs/phe-security.md gives the soundness argument; the proof binds
 * this exact list of ciphertexts (order and count included).
 *
 * @param[out] out    receives the batch (free with phe_threshold_decshare_batch_free()).
 * @param[in]  cts    @p count borrowed ciphertext handles of @p params' key.
 * @param count       1 … PHE_THRESHOLD_MAX_BATCH.
 * @param ctx         thread pool for the exponentiations, NULL for the caller's thread.
 * @param rng         random source of the proof's commitment, NULL for the system generator.
 * @return 0; PHE_ERR_THRESHOLD_WRONG_KEY; PHE_ERR_THRESHOLD_INDEX_RANGE;
 *         PHE_ERR_KEY_MISMATCH, PHE_ERR_CIPHERTEXT_INVALID or PHE_ERR_EMPTY
 *         for a bad ciphertext; PHE_ERR_INVALID_ARG (NULL, count 0 or too
 *         large); PHE_ERR_NOMEM; PHE_ERR_RNG; PHE_ERR_THREAD.
 */
PHE_API int phe_threshold_decshare_batch_create(phe_threshold_decshare_batch **out,
                                                const phe_threshold_params *params,
                                                const phe_threshold_keyshare *share,
                                                const phe_ciphertext *const *cts, size_t count,
                                                phe_ctx *ctx, phe_rng *rng);

/** Free a batch of decryption shares; NULL is a no-op. */
PHE_API void phe_threshold_decshare_batch_free(phe_threshold_decshare_batch *batch);

/** The holder index of a batch; 0 if NULL. */
PHE_API uint32_t phe_threshold_decshare_batch_index(const phe_threshold_decshare_batch *batch);

/** The number of shares (ciphertexts) in a batch; 0 if NULL. */
PHE_API size_t phe_threshold_decshare_batch_count(const phe_threshold_decshare_batch *batch);

/**
 * Verify a batch against the holder's verification key and the list of
 * ciphertexts it was made for. A failure is the fault of the holder named
 * by phe_threshold_decshare_batch_index(): an honest holder's batch always
 * verifies.
 * @return 0 if valid; PHE_ERR_THRESHOLD_WRONG_KEY; PHE_ERR_THRESHOLD_INDEX_RANGE;
 *         PHE_ERR_THRESHOLD_WRONG_CIPHERTEXT (another list, count or order);
 *         PHE_ERR_THRESHOLD_SHARE_VALUE; PHE_ERR_THRESHOLD_PROOF_INVALID (a
 *         share or the proof altered); PHE_ERR_KEY_MISMATCH;
 *         PHE_ERR_CIPHERTEXT_INVALID; PHE_ERR_EMPTY; PHE_ERR_INVALID_ARG; PHE_ERR_NOMEM.
 */
PHE_API int phe_threshold_verify_batch(const phe_threshold_params *params,
                                       const phe_ciphertext *const *cts, size_t count,
                                       const phe_threshold_decshare_batch *batch);

/**
 * Verify every one of @p nbatches batches of @p cts and combine the first t
 * of them into the @p count plaintexts, as signed 64-bit integers (as
 * phe_threshold_combine_int64()).
 * @param[out] out          @p count values.
 * @param[out] bad_holders  may be NULL; receives a mask with bit i−1 set for
 *                          every holder i whose batch does not verify (0 on success).
 * @return 0; the first failing batch's code from phe_threshold_verify_batch()
 *         (nothing is combined then: drop the named holders and call again);
 *         PHE_ERR_THRESHOLD_TOO_FEW_SHARES; PHE_ERR_THRESHOLD_DUPLICATE_SHARE;
 *         PHE_ERR_THRESHOLD_COMBINE_FAILED; PHE_ERR_PLAINTEXT_RANGE (some
 *         outputs may then be written); PHE_ERR_INVALID_ARG; PHE_ERR_NOMEM.
 */
PHE_API int phe_threshold_combine_batch_int64(const phe_threshold_params *params,
                                              const phe_ciphertext *const *cts, size_t count,
                                              const phe_threshold_decshare_batch *const *batches,
                                              size_t nbatches, int64_t *out, uint64_t *bad_holders);

/**
 * As phe_threshold_combine_batch_int64(), writing plaintext k as a
 * big-endian unsigned integer of exactly @p out_len bytes at out + k·stride.
 * @param out_len  at least phe_plaintext_size(); @param stride ≥ out_len.
 * @return as phe_threshold_combine_batch_int64() (without
 *         PHE_ERR_PLAINTEXT_RANGE), plus PHE_ERR_BUFFER_TOO_SMALL.
 */
PHE_API int phe_threshold_combine_batch_bytes(const phe_threshold_params *params,
                                              const phe_ciphertext *const *cts, size_t count,
                                              const phe_threshold_decshare_batch *const *batches,
                                              size_t nbatches, uint8_t *out, size_t out_len,
                                              size_t stride, uint64_t *bad_holders);

/**
 * Name the wrong shares in a batch whose proof failed. Each share of
 * @p suspect is checked against the share of the same holder that the
 * first t batches of @p good (other holders, each verified here) determine
 * by Lagrange interpolation in the exponent: d_i^(2Δ) = (Π_j d_j^(μ_j))².
 * The check is exact (no probability): it holds if and only if d_i² is the
 * correct value, the only part of a share that combination uses.
 * @param[out] bad   @p count flags: 1 for a wrong share, 0 for a correct one.
 * @param[out] nbad  receives the number of wrong shares.
 * @return 0; PHE_ERR_THRESHOLD_TOO_FEW_SHARES (fewer than t good batches);
 *         PHE_ERR_THRESHOLD_DUPLICATE_SHARE (a good batch from the suspect's
 *         holder or twice the same holder); a verification code of a good
 *         batch; PHE_ERR_THRESHOLD_WRONG_CIPHERTEXT or
 *         PHE_ERR_THRESHOLD_WRONG_KEY for a suspect of other ciphertexts or
 *         another key (then every share is wrong, and nothing is written);
 *         PHE_ERR_INVALID_ARG; PHE_ERR_NOMEM.
 */
PHE_API int phe_threshold_locate_batch(const phe_threshold_params *params,
                                       const phe_ciphertext *const *cts, size_t count,
                                       const phe_threshold_decshare_batch *suspect,
                                       const phe_threshold_decshare_batch *const *good,
                                       size_t ngood, uint8_t *bad, size_t *nbad);

/** Exact size of the batch's encoding; 0 if NULL. */
PHE_API size_t phe_threshold_decshare_batch_encoded_size(const phe_threshold_decshare_batch *batch);

/**
 * Canonical encoding of a batch of shares with its proof ("PHTB",
 * docs/formats/phe-threshold.md).
 * @return 0; PHE_ERR_INVALID_ARG; PHE_ERR_BUFFER_TOO_SMALL.
 */
PHE_API int phe_threshold_decshare_batch_encode(const phe_threshold_decshare_batch *batch,
                                                uint8_t *out, size_t out_len, size_t *written);

/**
 * Decode a batch (structure only; verify it with phe_threshold_verify_batch()).
 * @return 0; PHE_ERR_INVALID_ARG; PHE_ERR_DECODE (malformed, truncated,
 *         trailing bytes, count 0 or above PHE_THRESHOLD_MAX_BATCH or more
 *         than the input can hold); PHE_ERR_VERSION; PHE_ERR_THRESHOLD_INDEX_RANGE;
 *         PHE_ERR_NOMEM.
 */
PHE_API int phe_threshold_decshare_batch_decode(phe_threshold_decshare_batch **out,
                                                const uint8_t *in, size_t in_len);

/** Static text for a threshold error code, or NULL if @p code is not one. */
PHE_API const char *phe_threshold_strerror(int code);

#ifdef __cplusplus
}
#endif

#endif /* PHE_THRESHOLD_H */
