/**
 * @file phe.h
 * @brief libphe: Paillier encryption over GMP with randomness from libsodium.
 *
 * Keys of 2048, 3072 or 4096 bits; encryption in the classic form
 * c = (1+n)^m r^n mod n², in the Damgård–Jurik–Nielsen (DJN) form
 * c = (1+n)^m h_s^a mod n² with a fixed-base table, with the secret key's
 * CRT, or from a pool of precomputed randomness; CRT decryption with
 * constant-time exponentiation; DJN randomness h_s^a computed in constant
 * time in the secret exponent a (docs/phe-security.md); homomorphic add, add-plaintext, scalar
 * multiply, negate and rerandomize; batch calls over arrays run on the thread
 * pool of a ::phe_ctx; canonical versioned encodings (docs/formats/phe.md).
 *
 * Plaintexts cross the API as signed 64-bit integers or as big-endian
 * unsigned byte strings m ∈ [0, n). A negative value x is encrypted as n − x;
 * the int64 calls do that conversion both ways.
 *
 * Thread safety: keys (::phe_pubkey, ::phe_seckey) are immutable once made
 * and may be shared by any number of threads (the DJN table of a public key
 * is built once, under a lock, on first use). A ::phe_ciphertext, a seeded
 * ::phe_rng and a ::phe_pool are used by one thread at a time unless stated.
 * Passing a NULL ::phe_rng selects the system generator (libsodium
 * randombytes), which is thread-safe.
 *
 * A ::phe_ctx may be shared by any number of threads:
 * - batch calls (and phe_pool_fill()) on one context from several threads
 *   are serialised: a call that finds another running waits until that one
 *   has returned, then runs on every thread of the pool. Each call's results
 *   are those it would give alone; calls on different contexts overlap.
 * - phe_ctx_set_threads() may be called at any time from any thread; it
 *   waits for the running batch call, then resizes (calls that start later
 *   see the new size). phe_ctx_threads() may be called at any time.
 * - phe_ctx_free() must be the last use: call it only when no other thread
 *   is using the context or can still start to.
 * The handles and arrays a batch call writes (out[i], a pool) belong to that
 * call until it returns; the inputs it reads must not change meanwhile.
 *
 * Ownership: every handle is allocated by libphe and released with its
 * _free() function, which accepts NULL. Secret values are wiped when freed
 * (libphe installs GMP memory functions that wipe limbs before release).
 *
 * Return codes: 0 on success, otherwise a negative ::phe_error (range
 * −100 … −199; −170 … −189 belong to phe/threshold.h). Bad input never
 * aborts the process and leaves every output handle as it was unless the
 * function says otherwise.
 */
#ifndef PHE_H
#define PHE_H

#include <stddef.h>
#include <stdint.h>

#include "phe/version.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef PHE_API
#if defined(PHE_BUILDING) && defined(__GNUC__)
#define PHE_API __attribute__((visibility("default")))
#else
#define PHE_API
#endif
#endif

/** Return codes of libphe (0 is success). */
typedef enum phe_error {
    /* clang-format off */
    /* codes:begin libphe.core.enum: generated from libphe/codes.tsv by tools/gen_codes.py */
    /** Success. */
    PHE_OK = 0,
    /** A NULL pointer, a zero length or another argument outside its domain. */
    PHE_ERR_INVALID_ARG = -101,
    /** Malformed encoding: bad magic, truncated, trailing bytes, non-canonical. */
    PHE_ERR_DECODE = -102,
    /** The encoding names a format version this library does not read. */
    PHE_ERR_VERSION = -103,
    /** The key fails validation (structure, primality, consistency). */
    PHE_ERR_KEY_INVALID = -104,
    /** Unsupported key size: generation takes 2048, 3072 or 4096 bits; a modulus imported (decoded,
     *  python-paillier JSON, phe_pubkey_from_modulus) must have 2048 … 8192 bits. */
    PHE_ERR_KEY_SIZE = -105,
    /** A ciphertext is out of range or not invertible modulo n². */
    PHE_ERR_CIPHERTEXT_INVALID = -106,
    /** A plaintext or scalar is too large for n, or a result does not fit. */
    PHE_ERR_PLAINTEXT_RANGE = -107,
    /** The objects belong to different keys. */
    PHE_ERR_KEY_MISMATCH = -108,
    /** The output buffer is too small (the needed size is reported). */
    PHE_ERR_BUFFER_TOO_SMALL = -109,
    /** A sealed file does not verify: wrong passphrase or tampered bytes. */
    PHE_ERR_AUTH = -110,
    /** The ciphertext handle holds no value yet. */
    PHE_ERR_EMPTY = -111,
    /** The pool of precomputed randomness is empty (refill it). */
    PHE_ERR_POOL_EMPTY = -112,
    /** Sealed data asks for Argon2id costs libphe does not accept (below libsodium's minimum, or
     *  above 4 passes or 256 MiB): refused before any memory is allocated or any work is done. */
    PHE_ERR_KDF_LIMIT = -113,
    /** Out of memory. */
    PHE_ERR_NOMEM = -120,
    /** A file could not be read or written. */
    PHE_ERR_IO = -121,
    /** The random source failed. */
    PHE_ERR_RNG = -122,
    /** A thread could not be started. */
    PHE_ERR_THREAD = -123,
    /** libsodium could not be initialised or an internal invariant failed. */
    PHE_ERR_INTERNAL = -124
    /* codes:end */
    /* clang-format on */
} phe_error;

/** Ways to encrypt with a public key. */
typedef enum phe_encrypt_mode {
    /** DJN: randomness h_s^a mod n² with a short exponent and a fixed-base table (default). */
    PHE_ENCRYPT_DJN = 0,
    /** Classic Paillier: randomness r^n mod n², r uniform in Z*_n. */
    PHE_ENCRYPT_CLASSIC = 1
} phe_encrypt_mode;

/** Cost of the Argon2id key derivation that protects a sealed secret key. */
typedef enum phe_kdf_strength {
    /** libsodium's INTERACTIVE limits (64 MiB, 2 passes). */
    PHE_KDF_INTERACTIVE = 0,
    /** libsodium's MODERATE limits (256 MiB, 3 passes). */
    PHE_KDF_MODERATE = 1,
    /** libsodium's SENSITIVE pass count with MODERATE memory (256 MiB, 4
     *  passes): the most a reader accepts, so that a hostile file cannot make
     *  it allocate more than 256 MiB before authentication. */
    PHE_KDF_SENSITIVE = 2,
    /** libsodium's MIN limits: fast and weak, for tests only. */
    PHE_KDF_TEST_ONLY_MIN = 3
} phe_kdf_strength;

/** A Paillier public key (n, n², the DJN base h_s and its table). */
typedef struct phe_pubkey phe_pubkey;
/** A Paillier secret key (p, q and CRT constants); owns its public key. */
typedef struct phe_seckey phe_seckey;
/** A ciphertext c ∈ Z*_{n²}, bound to the key it was made under. */
typedef struct phe_ciphertext phe_ciphertext;
/** A context for batch calls: owns a pool of worker threads. */
typedef struct phe_ctx phe_ctx;
/** A random source: a deterministic generator seeded by the caller (tests). */
typedef struct phe_rng phe_rng;
/** A pool of precomputed encryption randomness for one public key. */
typedef struct phe_pool phe_pool;

/* ------------------------------------------------------------------ */
/* Library                                                              */
/* ------------------------------------------------------------------ */

/** Static English text for any libphe code (including threshold codes); never NULL. */
PHE_API const char *phe_strerror(int code);

/** Version of the library at run time, e.g. "0.1.0". */
PHE_API const char *phe_version_string(void);

/** Version number at run time (same encoding as PHE_VERSION_NUMBER). */
PHE_API uint32_t phe_version_number(void);

/* ------------------------------------------------------------------ */
/* Random sources                                                       */
/* ------------------------------------------------------------------ */

/**
 * Make a deterministic generator (ChaCha20 keyed by a hash of @p seed): the
 * same seed gives the same keys and ciphertexts. For tests and known-answer
 * vectors only; production code passes NULL (the system generator).
 * @param[out] out   receives the generator (free with phe_rng_free()).
 * @param[in]  seed  @p seed_len bytes (borrowed), 1 … 1024 bytes.
 * @return 0; PHE_ERR_INVALID_ARG; PHE_ERR_NOMEM; PHE_ERR_INTERNAL.
 */
PHE_API int phe_rng_new_seeded(phe_rng **out, const uint8_t *seed, size_t seed_len);

/** Free a generator (wiping its state); NULL is a no-op. */
PHE_API void phe_rng_free(phe_rng *rng);

/**
 * Fill @p buf with @p len bytes from @p rng (NULL: the system generator).
 * @return 0; PHE_ERR_INVALID_ARG.
 */
PHE_API int phe_rng_bytes(phe_rng *rng, uint8_t *buf, size_t len);

/* ------------------------------------------------------------------ */
/* Keys                                                                 */
/* ------------------------------------------------------------------ */

/**
 * Generate a key pair: n = pq with p, q primes of bits/2 bits each (top two
 * bits set so n has exactly @p bits), |p − q| > 2^(bits/2 − 100), and
 * gcd(n, (p−1)(q−1)) = 1.
 * @param[out] out   receives the secret key (free with phe_seckey_free()).
 * @param bits       2048, 3072 or 4096.
 * @param rng        random source, NULL for the system generator.
 * @return 0; PHE_ERR_KEY_SIZE; PHE_ERR_INVALID_ARG; PHE_ERR_NOMEM; PHE_ERR_RNG.
 */
PHE_API int phe_key_generate(phe_seckey **out, uint32_t bits, phe_rng *rng);

/** Free a secret key, wiping every secret limb; NULL is a no-op. */
PHE_API void phe_seckey_free(phe_seckey *sk);

/** Free a public key; NULL is a no-op. */
PHE_API void phe_pubkey_free(phe_pubkey *pk);

/**
 * The public key of a secret key, borrowed: valid while @p sk lives.
 * @return the key, or NULL if @p sk is NULL.
 */
PHE_API const phe_pubkey *phe_seckey_pubkey(const phe_seckey *sk);

/**
 * A new, independent copy of a public key.
 * @param[out] out  receives the copy (free with phe_pubkey_free()).
 * @return 0; PHE_ERR_INVALID_ARG; PHE_ERR_NOMEM.
 */
PHE_API int phe_pubkey_copy(phe_pubkey **out, const phe_pubkey *pk);

/**
 * Make a public key from a modulus alone (for example one read from
 * python-paillier's JSON form): validates n and draws a fresh DJN base
 * h_s = (−x²)^n mod n² from @p rng.
 * @param[in] n      big-endian n, @p n_len bytes, no leading zero byte.
 * @return 0; PHE_ERR_INVALID_ARG; PHE_ERR_KEY_SIZE (n outside 2048 … 8192
 *         bits); PHE_ERR_KEY_INVALID (n even, prime, a perfect power or with a
 *         small factor);
 *         PHE_ERR_NOMEM; PHE_ERR_RNG.
 */
PHE_API int phe_pubkey_from_modulus(phe_pubkey **out, const uint8_t *n, size_t n_len, phe_rng *rng);

/** Bit length of n (0 for NULL). */
PHE_API uint32_t phe_pubkey_bits(const phe_pubkey *pk);

/** Byte length of n: the size of a big-endian plaintext (0 for NULL). */
PHE_API size_t phe_plaintext_size(const phe_pubkey *pk);

/** Byte length of n², the largest ciphertext value (0 for NULL). */
PHE_API size_t phe_ciphertext_value_size(const phe_pubkey *pk);

/**
 * Write n as big-endian of exactly @p out_len bytes (left-padded with zeros).
 * @return 0; PHE_ERR_INVALID_ARG; PHE_ERR_BUFFER_TOO_SMALL.
 */
PHE_API int phe_pubkey_modulus(const phe_pubkey *pk, uint8_t *out, size_t out_len);

/**
 * The key identifier: SHA-256 of the canonical encoding of n (as a big
 * integer field, docs/formats/phe.md). Ciphertexts carry its first 8 bytes.
 * @return 0; PHE_ERR_INVALID_ARG.
 */
PHE_API int phe_pubkey_id(const phe_pubkey *pk, uint8_t out[32]);

/** 1 if the two keys have the same n and h_s, 0 otherwise (or if either is NULL). */
PHE_API int phe_pubkey_equal(const phe_pubkey *a, const phe_pubkey *b);

/** Size of phe_pubkey_encode()'s output (0 for NULL). */
PHE_API size_t phe_pubkey_encoded_size(const phe_pubkey *pk);

/**
 * Canonical encoding of a public key ("PHEP", version 1).
 * @param[out] out      @p out_len bytes; may be NULL to ask for the size.
 * @param[out] written  receives the byte count written (or needed).
 * @return 0; PHE_ERR_INVALID_ARG; PHE_ERR_BUFFER_TOO_SMALL (with *written set).
 */
PHE_API int phe_pubkey_encode(const phe_pubkey *pk, uint8_t *out, size_t out_len, size_t *written);

/**
 * Decode and validate a public key.
 * @param[out] out  receives the key (free with phe_pubkey_free()); untouched on error.
 * @return 0; PHE_ERR_INVALID_ARG; PHE_ERR_DECODE; PHE_ERR_VERSION;
 *         PHE_ERR_KEY_INVALID; PHE_ERR_NOMEM.
 */
PHE_API int phe_pubkey_decode(phe_pubkey **out, const uint8_t *in, size_t in_len);

/**
 * Check a public key: size 2048 … 8192 bits, n odd, composite, not a
 * perfect power, no prime factor below 2^16; h_s a unit below n² and not 1.
 * @return 0; PHE_ERR_INVALID_ARG; PHE_ERR_KEY_INVALID.
 */
PHE_API int phe_pubkey_validate(const phe_pubkey *pk);

/**
 * Check a secret key: p, q probable primes (Miller–Rabin, 40 rounds) of equal
 * length, p < q, n = pq, gcd(n, (p−1)(q−1)) = 1, and the public key valid.
 * @return 0; PHE_ERR_INVALID_ARG; PHE_ERR_KEY_INVALID.
 */
PHE_API int phe_seckey_validate(const phe_seckey *sk);

/** Size of phe_seckey_encode()'s output (0 for NULL). */
PHE_API size_t phe_seckey_encoded_size(const phe_seckey *sk);

/**
 * Canonical encoding of a secret key ("PHES", version 1: p, q and h_s).
 * The output is secret: wipe it after use, or seal it (phe_seckey_seal()).
 * @return as phe_pubkey_encode().
 */
PHE_API int phe_seckey_encode(const phe_seckey *sk, uint8_t *out, size_t out_len, size_t *written);

/**
 * Decode and validate a secret key.
 * @param[out] out  receives the key (free with phe_seckey_free()).
 * @return 0; PHE_ERR_INVALID_ARG; PHE_ERR_DECODE; PHE_ERR_VERSION;
 *         PHE_ERR_KEY_INVALID; PHE_ERR_NOMEM.
 */
PHE_API int phe_seckey_decode(phe_seckey **out, const uint8_t *in, size_t in_len);

/** Size of phe_seckey_seal()'s output (0 for NULL). */
PHE_API size_t phe_seckey_sealed_size(const phe_seckey *sk);

/**
 * Encrypt a secret key under a passphrase ("PHEF", version 2): a key from
 * Argon2id (libsodium crypto_pwhash, random 16-byte salt) and XChaCha20-
 * Poly1305 (random nonce) over phe_seckey_encode(), with every header byte
 * authenticated as associated data (docs/formats/phe.md).
 * @param[in] pass      passphrase bytes (borrowed), may be empty.
 * @param strength      Argon2id cost.
 * @param[out] out      @p out_len bytes, or NULL to ask for the size.
 * @param[out] written  receives the byte count written (or needed).
 * @return 0; PHE_ERR_INVALID_ARG; PHE_ERR_BUFFER_TOO_SMALL; PHE_ERR_NOMEM.
 */
PHE_API int phe_seckey_seal(const phe_seckey *sk, const uint8_t *pass, size_t pass_len,
                            phe_kdf_strength strength, uint8_t *out, size_t out_len,
                            size_t *written);

/**
 * Open a sealed secret key (version 2, or version 1 as earlier builds wrote).
 * @return 0; PHE_ERR_INVALID_ARG; PHE_ERR_DECODE; PHE_ERR_VERSION;
 *         PHE_ERR_KDF_LIMIT (Argon2id limits outside libsodium's MIN …
 *         4 passes / 256 MiB, or a memory limit that is not a whole number
 *         of KiB; refused before any work);
 *         PHE_ERR_AUTH (wrong passphrase or tampered); PHE_ERR_KEY_INVALID;
 *         PHE_ERR_NOMEM.
 */
PHE_API int phe_seckey_unseal(phe_seckey **out, const uint8_t *in, size_t in_len,
                              const uint8_t *pass, size_t pass_len);

/**
 * phe_seckey_seal() to a file, created with mode 0600 (replaced atomically).
 * @return as phe_seckey_seal(); PHE_ERR_IO.
 */
PHE_API int phe_seckey_write_file(const phe_seckey *sk, const char *path, const uint8_t *pass,
                                  size_t pass_len, phe_kdf_strength strength);

/**
 * phe_seckey_unseal() from a file (at most 1 MiB).
 * @return as phe_seckey_unseal(); PHE_ERR_IO.
 */
PHE_API int phe_seckey_read_file(phe_seckey **out, const char *path, const uint8_t *pass,
                                 size_t pass_len);

/* ------------------------------------------------------------------ */
/* Ciphertexts                                                          */
/* ------------------------------------------------------------------ */

/**
 * A new, empty ciphertext handle (fill it by encrypting, decoding or copying).
 * @return 0; PHE_ERR_INVALID_ARG; PHE_ERR_NOMEM.
 */
PHE_API int phe_ciphertext_new(phe_ciphertext **out);

/** Free a ciphertext; NULL is a no-op. */
PHE_API void phe_ciphertext_free(phe_ciphertext *ct);

/**
 * Copy @p src into @p dst.
 * @return 0; PHE_ERR_INVALID_ARG; PHE_ERR_EMPTY.
 */
PHE_API int phe_ciphertext_copy(phe_ciphertext *dst, const phe_ciphertext *src);

/** 1 if both hold the same value under the same key, else 0. */
PHE_API int phe_ciphertext_equal(const phe_ciphertext *a, const phe_ciphertext *b);

/** Size of phe_ciphertext_encode()'s output for this ciphertext (0 if empty or NULL). */
PHE_API size_t phe_ciphertext_encoded_size(const phe_ciphertext *ct);

/** The largest ciphertext encoding under @p pk (0 for NULL): size buffers with it. */
PHE_API size_t phe_ciphertext_size(const phe_pubkey *pk);

/**
 * Canonical encoding of a ciphertext ("PHEC", version 1: key id prefix, c).
 * @return 0; PHE_ERR_INVALID_ARG; PHE_ERR_EMPTY; PHE_ERR_BUFFER_TOO_SMALL.
 */
PHE_API int phe_ciphertext_encode(const phe_ciphertext *ct, uint8_t *out, size_t out_len,
                                  size_t *written);

/**
 * Decode a ciphertext made under @p pk into @p out, checking 0 < c < n² and
 * gcd(c, n) = 1. @p out is unchanged on error.
 * @return 0; PHE_ERR_INVALID_ARG; PHE_ERR_DECODE; PHE_ERR_VERSION;
 *         PHE_ERR_KEY_MISMATCH; PHE_ERR_CIPHERTEXT_INVALID; PHE_ERR_NOMEM.
 */
PHE_API int phe_ciphertext_decode(const phe_pubkey *pk, phe_ciphertext *out, const uint8_t *in,
                                  size_t in_len);

/**
 * The raw value c as big-endian of exactly @p out_len bytes (for the
 * python-paillier JSON form, which carries c as a decimal number).
 * @return 0; PHE_ERR_INVALID_ARG; PHE_ERR_EMPTY; PHE_ERR_BUFFER_TOO_SMALL.
 */
PHE_API int phe_ciphertext_value(const phe_ciphertext *ct, uint8_t *out, size_t out_len);

/**
 * Set a ciphertext from a raw big-endian value c under @p pk (leading zero
 * bytes allowed), with the checks of phe_ciphertext_decode().
 * @return 0; PHE_ERR_INVALID_ARG; PHE_ERR_CIPHERTEXT_INVALID; PHE_ERR_NOMEM.
 */
PHE_API int phe_ciphertext_from_value(const phe_pubkey *pk, phe_ciphertext *out, const uint8_t *c,
                                      size_t c_len);

/* ------------------------------------------------------------------ */
/* Encryption and decryption                                            */
/* ------------------------------------------------------------------ */

/**
 * Encrypt a signed 64-bit integer with the public key (DJN form). The
 * randomizer h_s^a is computed in constant time in a: every table row is
 * scanned in full with masks and every row costs one product.
 * @param[out] out  receives the ciphertext (overwritten).
 * @param rng       random source, NULL for the system generator.
 * @return 0; PHE_ERR_INVALID_ARG; PHE_ERR_NOMEM; PHE_ERR_RNG.
 */
PHE_API int phe_encrypt_i64(const phe_pubkey *pk, phe_ciphertext *out, int64_t m, phe_rng *rng);

/**
 * Encrypt a big-endian unsigned plaintext m < n (DJN form).
 * @param[in] m  @p m_len bytes (borrowed); leading zero bytes allowed.
 * @return 0; PHE_ERR_INVALID_ARG; PHE_ERR_PLAINTEXT_RANGE (m ≥ n); PHE_ERR_NOMEM; PHE_ERR_RNG.
 */
PHE_API int phe_encrypt_bytes(const phe_pubkey *pk, phe_ciphertext *out, const uint8_t *m,
                              size_t m_len, phe_rng *rng);

/** phe_encrypt_i64() with an explicit ::phe_encrypt_mode. Codes as there. */
PHE_API int phe_encrypt_i64_mode(const phe_pubkey *pk, phe_encrypt_mode mode, phe_ciphertext *out,
                                 int64_t m, phe_rng *rng);

/** phe_encrypt_bytes() with an explicit ::phe_encrypt_mode. Codes as there. */
PHE_API int phe_encrypt_bytes_mode(const phe_pubkey *pk, phe_encrypt_mode mode, phe_ciphertext *out,
                                   const uint8_t *m, size_t m_len, phe_rng *rng);

/**
 * Encrypt with the secret key's CRT (randomness computed modulo p² and q²,
 * constant-time in the secret exponents): the same ciphertext distribution
 * as the classic form, several times faster.
 * @return as phe_encrypt_i64().
 */
PHE_API int phe_seckey_encrypt_i64(const phe_seckey *sk, phe_ciphertext *out, int64_t m,
                                   phe_rng *rng);

/** CRT encryption of a big-endian plaintext. Codes as phe_encrypt_bytes(). */
PHE_API int phe_seckey_encrypt_bytes(const phe_seckey *sk, phe_ciphertext *out, const uint8_t *m,
                                     size_t m_len, phe_rng *rng);

/**
 * Decrypt to a signed 64-bit integer: m ≤ 2^63 − 1 is itself, n − m ≤ 2^63 is −(n − m).
 * CRT decryption; the secret exponents p − 1 and q − 1 go through GMP's
 * constant-time mpz_powm_sec.
 * @param[out] out  receives the value.
 * @return 0; PHE_ERR_INVALID_ARG; PHE_ERR_EMPTY; PHE_ERR_KEY_MISMATCH;
 *         PHE_ERR_PLAINTEXT_RANGE (does not fit in int64); PHE_ERR_NOMEM.
 */
PHE_API int phe_decrypt_i64(const phe_seckey *sk, const phe_ciphertext *ct, int64_t *out);

/**
 * Decrypt to m ∈ [0, n) as big-endian of exactly @p out_len bytes (left-padded).
 * @p out_len must be at least phe_plaintext_size(): that is checked before
 * decrypting, so the error never depends on the plaintext (a smaller buffer
 * that the value would have fitted is refused too, and nothing leaks m's size).
 * @return 0; PHE_ERR_INVALID_ARG; PHE_ERR_EMPTY; PHE_ERR_KEY_MISMATCH;
 *         PHE_ERR_BUFFER_TOO_SMALL (@p out_len < phe_plaintext_size()); PHE_ERR_NOMEM.
 */
PHE_API int phe_decrypt_bytes(const phe_seckey *sk, const phe_ciphertext *ct, uint8_t *out,
                              size_t out_len);

/* ------------------------------------------------------------------ */
/* Pool of precomputed randomness                                       */
/* ------------------------------------------------------------------ */

/**
 * A pool that holds up to @p capacity precomputed DJN randomizers for @p pk
 * (which must outlive it). An encryption from the pool costs one modular
 * multiplication; each randomizer is used once and wiped.
 * Thread safety: a pool may be filled and used from several threads at once.
 * @return 0; PHE_ERR_INVALID_ARG (capacity 0 or above 2^24); PHE_ERR_NOMEM.
 */
PHE_API int phe_pool_new(phe_pool **out, const phe_pubkey *pk, size_t capacity);

/** Free a pool (wiping unused randomizers); NULL is a no-op. */
PHE_API void phe_pool_free(phe_pool *pool);

/**
 * Fill the pool up to its capacity, on the threads of @p ctx (NULL: this thread).
 * @return 0; PHE_ERR_INVALID_ARG; PHE_ERR_NOMEM; PHE_ERR_RNG.
 */
PHE_API int phe_pool_fill(phe_pool *pool, phe_ctx *ctx, phe_rng *rng);

/** Number of randomizers ready in the pool. */
PHE_API size_t phe_pool_available(const phe_pool *pool);

/**
 * Encrypt with one randomizer from the pool.
 * @return 0; PHE_ERR_INVALID_ARG; PHE_ERR_POOL_EMPTY; PHE_ERR_NOMEM.
 */
PHE_API int phe_pool_encrypt_i64(phe_pool *pool, phe_ciphertext *out, int64_t m);

/** Pooled encryption of a big-endian plaintext; codes as phe_pool_encrypt_i64() and
 * PHE_ERR_PLAINTEXT_RANGE. */
PHE_API int phe_pool_encrypt_bytes(phe_pool *pool, phe_ciphertext *out, const uint8_t *m,
                                   size_t m_len);

/* ------------------------------------------------------------------ */
/* Homomorphic operations (out may alias an input)                      */
/* ------------------------------------------------------------------ */

/**
 * out = a ⊕ b: Enc(ma + mb mod n).
 * @return 0; PHE_ERR_INVALID_ARG; PHE_ERR_EMPTY; PHE_ERR_KEY_MISMATCH; PHE_ERR_NOMEM.
 */
PHE_API int phe_add(const phe_pubkey *pk, phe_ciphertext *out, const phe_ciphertext *a,
                    const phe_ciphertext *b);

/** out = Enc(ma + k mod n) for a signed 64-bit k (not rerandomized). Codes as phe_add(). */
PHE_API int phe_add_i64(const phe_pubkey *pk, phe_ciphertext *out, const phe_ciphertext *a,
                        int64_t k);

/**
 * out = Enc(ma + k mod n) for a big-endian unsigned k < n (not rerandomized).
 * @return as phe_add(); PHE_ERR_PLAINTEXT_RANGE.
 */
PHE_API int phe_add_bytes(const phe_pubkey *pk, phe_ciphertext *out, const phe_ciphertext *a,
                          const uint8_t *k, size_t k_len);

/** out = Enc(k · ma mod n) for a signed 64-bit k (negative: via the inverse). Codes as phe_add().
 */
PHE_API int phe_mul_i64(const phe_pubkey *pk, phe_ciphertext *out, const phe_ciphertext *a,
                        int64_t k);

/**
 * out = Enc(k · ma mod n) for a big-endian unsigned k < n.
 * @return as phe_add(); PHE_ERR_PLAINTEXT_RANGE.
 */
PHE_API int phe_mul_bytes(const phe_pubkey *pk, phe_ciphertext *out, const phe_ciphertext *a,
                          const uint8_t *k, size_t k_len);

/** out = Enc(−ma mod n) (the inverse modulo n²). Codes as phe_add(). */
PHE_API int phe_negate(const phe_pubkey *pk, phe_ciphertext *out, const phe_ciphertext *a);

/**
 * out = a · h_s^r mod n²: the same plaintext, fresh randomness (DJN form).
 * @return as phe_add(); PHE_ERR_RNG.
 */
PHE_API int phe_rerandomize(const phe_pubkey *pk, phe_ciphertext *out, const phe_ciphertext *a,
                            phe_rng *rng);

/* ------------------------------------------------------------------ */
/* Batch calls on a thread pool                                         */
/* ------------------------------------------------------------------ */

/**
 * A context whose pool has @p threads workers (0: one per online CPU).
 * Thread safety: see the top of this file; concurrent batch calls on one
 * context are serialised (a second caller waits).
 * @return 0; PHE_ERR_INVALID_ARG (more than 1024 threads); PHE_ERR_NOMEM; PHE_ERR_THREAD.
 */
PHE_API int phe_ctx_new(phe_ctx **out, uint32_t threads);

/**
 * Stop the workers and free the context; NULL is a no-op. Must be the last
 * use of @p ctx: no other thread may be using it or start to.
 */
PHE_API void phe_ctx_free(phe_ctx *ctx);

/**
 * Resize the pool (0: one per online CPU). Safe from any thread at any time:
 * waits for the running batch call on @p ctx, if any, then resizes.
 * @return 0; PHE_ERR_INVALID_ARG; PHE_ERR_NOMEM; PHE_ERR_THREAD.
 */
PHE_API int phe_ctx_set_threads(phe_ctx *ctx, uint32_t threads);

/** Number of threads a batch call uses (the caller's thread is one of them). */
PHE_API uint32_t phe_ctx_threads(const phe_ctx *ctx);

/*
 * Batch calls: item i of every array is processed independently, spread over
 * the context's threads. On error the call returns the code of the lowest
 * failing index and the outputs of other items may or may not be written.
 * With a seeded @p rng, item i draws from a generator derived from the rng
 * and i, so the outputs do not depend on the number of threads.
 * @p ctx may be NULL: the caller's thread does all the work.
 */

/**
 * out[i] = Enc(m[i]) (DJN form), i < @p count.
 * @param[out] out  @p count ciphertext handles (borrowed, made with phe_ciphertext_new()).
 * @return 0; PHE_ERR_INVALID_ARG; PHE_ERR_NOMEM; PHE_ERR_RNG; PHE_ERR_THREAD.
 */
PHE_API int phe_encrypt_i64_batch(phe_ctx *ctx, const phe_pubkey *pk, phe_ciphertext *const *out,
                                  const int64_t *m, size_t count, phe_rng *rng);

/**
 * out[i] = Enc(m_i) where m_i is the big-endian plaintext at m + i·stride of
 * @p m_len bytes (a packed layout). The layout must fit below n whatever the
 * values: 8·@p m_len < bits(n), else PHE_ERR_PLAINTEXT_RANGE before any item
 * is encrypted (a row that could reach n would wrap when rows are summed).
 * @return as phe_encrypt_i64_batch(); PHE_ERR_PLAINTEXT_RANGE.
 */
PHE_API int phe_encrypt_bytes_batch(phe_ctx *ctx, const phe_pubkey *pk, phe_ciphertext *const *out,
                                    const uint8_t *m, size_t m_len, size_t stride, size_t count,
                                    phe_rng *rng);

/** out[i] = Dec(ct[i]) as int64. Codes as phe_decrypt_i64() and PHE_ERR_THREAD. */
PHE_API int phe_decrypt_i64_batch(phe_ctx *ctx, const phe_seckey *sk,
                                  const phe_ciphertext *const *ct, int64_t *out, size_t count);

/**
 * Decrypt ct[i] into the @p out_len bytes at out + i·stride; @p out_len at
 * least phe_plaintext_size(), as for phe_decrypt_bytes() (checked first).
 * @return as phe_decrypt_bytes(); PHE_ERR_THREAD.
 */
PHE_API int phe_decrypt_bytes_batch(phe_ctx *ctx, const phe_seckey *sk,
                                    const phe_ciphertext *const *ct, uint8_t *out, size_t out_len,
                                    size_t stride, size_t count);

/** out[i] = a[i] ⊕ b[i]. Codes as phe_add() and PHE_ERR_THREAD. */
PHE_API int phe_add_batch(phe_ctx *ctx, const phe_pubkey *pk, phe_ciphertext *const *out,
                          const phe_ciphertext *const *a, const phe_ciphertext *const *b,
                          size_t count);

/** out[i] = k[i] ⊗ a[i]. Codes as phe_mul_i64() and PHE_ERR_THREAD. */
PHE_API int phe_mul_i64_batch(phe_ctx *ctx, const phe_pubkey *pk, phe_ciphertext *const *out,
                              const phe_ciphertext *const *a, const int64_t *k, size_t count);

/**
 * out = a[0] ⊕ a[1] ⊕ … ⊕ a[count−1] (a tree sum over the context's threads).
 * @return as phe_add(); PHE_ERR_THREAD.
 */
PHE_API int phe_sum(phe_ctx *ctx, const phe_pubkey *pk, phe_ciphertext *out,
                    const phe_ciphertext *const *a, size_t count);

#ifdef __cplusplus
}
#endif

/* Threshold decryption (t-of-n key shares, verifiable decryption shares). */
#include "phe/threshold.h"

#endif /* PHE_H */
