/*
 * libphe internal interface: struct layouts and helpers shared by the
 * implementation files (core, encoding, batch, threshold). Never installed.
 * Every name here is hidden (not in the version script's export list); the
 * prefix is phei_ so it never collides with a public phe_ symbol.
 */
#ifndef PHE_INTERNAL_H
#define PHE_INTERNAL_H

#include <gmp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "phe.h"

#define PHEI_HIDDEN __attribute__((visibility("hidden")))

/* Key sizes: generation accepts exactly these; import accepts 2048 … 8192. */
#define PHEI_MIN_IMPORT_BITS 2048u
#define PHEI_MAX_IMPORT_BITS 8192u

/* Length of the key id prefix a ciphertext carries (and encodes). */
#define PHEI_KEY_ID_PREFIX 8

/* ------------------------------------------------------------------ */
/* Structures                                                           */
/* ------------------------------------------------------------------ */

/* Fixed-base table for h_s, in Montgomery form (x·R mod n², R = 2^(64·limbs)):
 * row j, column d holds h_s^(d · 2^(w·j)) for d = 0 … 2^w − 1 (column 0 is
 * the identity R mod n², so that a zero digit costs the same as any other).
 * A DJN randomizer is one masked scan of each row and one Montgomery product
 * per row (keys.c: constant time in the secret exponent). */
typedef struct phei_fbtable {
    unsigned window; /* w bits per digit */
    unsigned rows;   /* ceil(exp_bits / w) */
    size_t cols;     /* 2^w */
    size_t limbs;    /* limbs of n² */
    mp_limb_t ninv;  /* −(n²)^−1 mod 2^64 */
    mp_limb_t *mod;  /* n² as `limbs` limbs */
    mp_limb_t *mont; /* rows · cols · limbs limbs, row-major */
} phei_fbtable;

/* The same table for the IFMA kernel (modexp_mb8.c): radix 2^52, R = 2^(52L). */
typedef struct phei_mb8_fb phei_mb8_fb;

struct phe_pubkey {
    mpz_t n;           /* modulus */
    mpz_t n2;          /* n² */
    mpz_t hs;          /* DJN base h_s = (−x²)^n mod n² */
    uint32_t bits;     /* bit length of n */
    uint32_t djn_bits; /* DJN exponent length: ceil(bits / 2) */
    uint8_t id[32];    /* SHA-256 of n's canonical big-integer field */
    /* The fixed-base table is built once on first DJN use. */
    pthread_mutex_t table_lock;
    atomic_int table_ready;
    phei_fbtable table;
    phei_mb8_fb *mb8; /* built with the table when the kernel runs, else NULL */
};

struct phe_seckey {
    phe_pubkey *pk; /* owned */
    mpz_t p, q;     /* p < q */
    mpz_t p2, q2;   /* p², q² */
    mpz_t pm1, qm1; /* p − 1, q − 1: the secret decryption exponents */
    mpz_t hp, hq;   /* L_p((1+n)^(p−1) mod p²)^−1 mod p, same for q */
    mpz_t qinv_p;   /* q^−1 mod p (CRT recombination of the plaintext) */
    mpz_t q2inv_p2; /* (q²)^−1 mod p² (CRT recombination of r^n) */
};

struct phe_ciphertext {
    mpz_t c;                            /* 0 < c < n², gcd(c, n) = 1 */
    uint8_t key_id[PHEI_KEY_ID_PREFIX]; /* first bytes of the key's id */
    int set;                            /* 0 until a value is stored */
};

/* ------------------------------------------------------------------ */
/* Library initialisation, memory                                      */
/* ------------------------------------------------------------------ */

/* Initialise libsodium and install the wiping GMP memory functions (once,
 * thread-safe). Every public entry point that allocates calls it.
 * Returns 0 or PHE_ERR_INTERNAL. */
PHEI_HIDDEN int phei_init(void);

/* Wipe an mpz's limbs and clear it (also safe on a value that never grew). */
PHEI_HIDDEN void phei_mpz_clear_secret(mpz_t x);

/* calloc / free wrappers; phei_free_secret wipes len bytes first. */
PHEI_HIDDEN void *phei_calloc(size_t n, size_t size);
PHEI_HIDDEN void phei_free_secret(void *p, size_t len);

/* ------------------------------------------------------------------ */
/* Randomness                                                           */
/* ------------------------------------------------------------------ */

/* rng NULL: libsodium randombytes_buf (thread-safe). Returns 0 or PHE_ERR_RNG. */
PHEI_HIDDEN int phei_rng_bytes(phe_rng *rng, void *buf, size_t len);

/* A generator derived from rng (32 fresh bytes of it) and an index, so that
 * batch item i gets the same stream whatever thread runs it. With rng NULL,
 * *out is NULL (the system generator). Returns 0, PHE_ERR_NOMEM or PHE_ERR_RNG. */
PHEI_HIDDEN int phei_rng_derive_key(phe_rng *rng, uint8_t key[32]);
PHEI_HIDDEN int phei_rng_new_from_key(phe_rng **out, const uint8_t key[32], uint64_t index);

/* r uniform in [0, bound), bound > 0, by rejection sampling. */
PHEI_HIDDEN int phei_rand_below(mpz_t r, const mpz_t bound, phe_rng *rng);
/* r uniform in [0, 2^bits). */
PHEI_HIDDEN int phei_rand_bits(mpz_t r, size_t bits, phe_rng *rng);
/* r uniform in Z*_n (1 ≤ r < n, gcd(r, n) = 1). */
PHEI_HIDDEN int phei_rand_unit(mpz_t r, const mpz_t n, phe_rng *rng);
/* A random probable prime of exactly `bits` bits with the top two bits set,
 * checked with 40 Miller–Rabin rounds (mpz_probab_prime_p). */
PHEI_HIDDEN int phei_rand_prime(mpz_t p, unsigned bits, phe_rng *rng);

/* ------------------------------------------------------------------ */
/* Keys                                                                 */
/* ------------------------------------------------------------------ */

/* Allocate an empty public key (mpz initialised to 0, lock ready). */
PHEI_HIDDEN phe_pubkey *phei_pubkey_alloc(void);

/* Build a complete public key from n: validates n (phei_check_modulus),
 * sets n², bits, djn_bits, id, and draws h_s = (−x²)^n mod n² from rng.
 * The DJN table is built lazily on first use. Returns 0, PHE_ERR_KEY_INVALID,
 * PHE_ERR_NOMEM or PHE_ERR_RNG; *out untouched on error. */
PHEI_HIDDEN int phei_pubkey_from_n(phe_pubkey **out, const mpz_t n, phe_rng *rng);

/* Same with a given h_s (checked: 1 < h_s < n², gcd(h_s, n) = 1). */
PHEI_HIDDEN int phei_pubkey_from_n_hs(phe_pubkey **out, const mpz_t n, const mpz_t hs);

/* Structural checks of a modulus (size, odd, not prime, not a perfect power,
 * no factor < 2^16). 0 or PHE_ERR_KEY_INVALID. */
PHEI_HIDDEN int phei_check_modulus(const mpz_t n);

/* Build (if not yet) the DJN fixed-base table; thread-safe. 0 or PHE_ERR_NOMEM. */
PHEI_HIDDEN int phei_pubkey_table(const phe_pubkey *pk);

/* r = h_s^a mod n² for a fresh a of djn_bits bits (uses the table). */
PHEI_HIDDEN int phei_djn_randomizer(const phe_pubkey *pk, mpz_t r, phe_rng *rng);

/* What phei_djn_pow did, for the tests that check it does not depend on the
 * exponent: Montgomery products, masked row scans, table entries read. */
typedef struct phei_djn_ops {
    uint64_t products;
    uint64_t scans;
    uint64_t entries_read;
} phei_djn_ops;

/* r = h_s^a mod n² for the little-endian exponent a of ceil(djn_bits / 8)
 * bytes (bits past djn_bits ignored), in constant time in a. ops may be
 * NULL; otherwise the counts are added to it. 0, PHE_ERR_NOMEM or
 * PHE_ERR_INTERNAL (a_len differs from ceil(djn_bits / 8)). */
PHEI_HIDDEN int phei_djn_pow(const phe_pubkey *pk, mpz_t r, const uint8_t *a, size_t a_len,
                             phei_djn_ops *ops);

/* r = s^n mod n² for a fresh s uniform in Z*_n (classic randomizer). */
PHEI_HIDDEN int phei_classic_randomizer(const phe_pubkey *pk, mpz_t r, phe_rng *rng);

/* c = (1 + m·n) · r mod n²: m ∈ [0, n), r a randomizer. Sets ct->key_id. */
PHEI_HIDDEN void phei_encrypt_with(const phe_pubkey *pk, phe_ciphertext *ct, const mpz_t m,
                                   const mpz_t r);

/* m ∈ [0, n) from c (CRT; the secret exponents through phei_powm_x2 when
 * the IFMA kernel runs, else mpz_powm_sec). */
PHEI_HIDDEN void phei_decrypt_mpz(const phe_seckey *sk, mpz_t m, const mpz_t c);

/* m from big-endian bytes with the m < n check (PHE_ERR_INVALID_ARG,
 * PHE_ERR_PLAINTEXT_RANGE). */
PHEI_HIDDEN int phei_plain_from_bytes(const phe_pubkey *pk, mpz_t m, const uint8_t *in, size_t len);

/* m[i] for c[i], i < count ≤ 8 (m[i] initialised), through the IFMA kernel
 * when it runs (both CRT halves of every value in its lanes), else one
 * phei_decrypt_mpz each. Returns 0, PHE_ERR_NOMEM or PHE_ERR_INTERNAL. */
PHEI_HIDDEN int phei_decrypt_mpz_multi(const phe_seckey *sk, mpz_t *m, const mpz_srcptr *c,
                                       size_t count);

/* 0 if ct is set, under pk (key id prefix matches) and 0 < c < n²; else
 * PHE_ERR_INVALID_ARG / PHE_ERR_EMPTY / PHE_ERR_KEY_MISMATCH / PHE_ERR_CIPHERTEXT_INVALID. */
PHEI_HIDDEN int phei_check_ct(const phe_pubkey *pk, const phe_ciphertext *ct);

/* out = Π base[k]^{ρ_k} mod `mod` for public exponents ρ_k of rho_bytes
 * big-endian bytes each (threshold.c: the batch proofs' combinations).
 * method: PHEI_MSM_AUTO (the cheaper of Straus and Pippenger's buckets for
 * this count), PHEI_MSM_STRAUS, PHEI_MSM_BUCKETS (window chosen), or
 * PHEI_MSM_BUCKETS + c (buckets with c-bit windows, 2 ≤ c ≤ 14): every
 * method gives the same value (tests). 0, PHE_ERR_NOMEM or PHE_ERR_INVALID_ARG. */
enum { PHEI_MSM_AUTO = 0, PHEI_MSM_STRAUS = 1, PHEI_MSM_BUCKETS = 2 };
PHEI_HIDDEN int phei_multi_exp(mpz_t out, mpz_t *base, const uint8_t *rho, size_t rho_bytes,
                               size_t count, const mpz_t mod, int method);

/* Store c (already checked) in ct under pk. */
PHEI_HIDDEN void phei_ct_set(const phe_pubkey *pk, phe_ciphertext *ct, const mpz_t c);

/* ------------------------------------------------------------------ */
/* Plaintexts                                                           */
/* ------------------------------------------------------------------ */

/* out = v mod n (a negative v becomes n − |v|). */
PHEI_HIDDEN void phei_i64_to_mpz(mpz_t out, int64_t v, const mpz_t n);

/* m ∈ [0, n) to int64: m ≤ 2^63−1 → m; n − m ≤ 2^63 → −(n − m);
 * else PHE_ERR_PLAINTEXT_RANGE. */
PHEI_HIDDEN int phei_mpz_to_i64(const mpz_t m, const mpz_t n, int64_t *out);

/* Big-endian bytes (leading zeros allowed) to mpz; in may be NULL when len is 0. */
PHEI_HIDDEN void phei_bytes_to_mpz(mpz_t out, const uint8_t *in, size_t len);

/* x ≥ 0 as big-endian of exactly len bytes, left-padded; PHE_ERR_BUFFER_TOO_SMALL
 * if it does not fit. */
PHEI_HIDDEN int phei_mpz_to_bytes_fixed(const mpz_t x, uint8_t *out, size_t len);

/* ------------------------------------------------------------------ */
/* Canonical encoding (docs/formats/phe.md)                             */
/* ------------------------------------------------------------------ */

/* A writer over a caller buffer: with buf NULL it only counts. Writes past
 * cap are counted but not stored; check w.len <= cap at the end. */
typedef struct phei_writer {
    uint8_t *buf;
    size_t cap;
    size_t len;
} phei_writer;

PHEI_HIDDEN void phei_put_bytes(phei_writer *w, const void *p, size_t n);
PHEI_HIDDEN void phei_put_u8(phei_writer *w, uint8_t v);
PHEI_HIDDEN void phei_put_u32(phei_writer *w, uint32_t v);
PHEI_HIDDEN void phei_put_u64(phei_writer *w, uint64_t v);
/* Big integer field: u32 length, then minimal big-endian (zero: empty). */
PHEI_HIDDEN void phei_put_mpz(phei_writer *w, const mpz_t x);
/* Bytes the big-integer field of x takes (4 + minimal length). */
PHEI_HIDDEN size_t phei_mpz_field_size(const mpz_t x);

/* Finish an encode call: sets *written, returns 0 or PHE_ERR_BUFFER_TOO_SMALL
 * (also when out is NULL and out_len 0: then only the size is reported and
 * the return is 0). */
PHEI_HIDDEN int phei_writer_finish(const phei_writer *w, size_t *written);

/* A reader: every get returns 0 or PHE_ERR_DECODE (truncated or non-canonical). */
typedef struct phei_reader {
    const uint8_t *p;
    size_t left;
} phei_reader;

PHEI_HIDDEN int phei_get_bytes(phei_reader *r, void *out, size_t n);
PHEI_HIDDEN int phei_get_u8(phei_reader *r, uint8_t *v);
PHEI_HIDDEN int phei_get_u32(phei_reader *r, uint32_t *v);
PHEI_HIDDEN int phei_get_u64(phei_reader *r, uint64_t *v);
/* Big integer field of at most max_len bytes; a leading zero byte is
 * PHE_ERR_DECODE; longer than max_len is PHE_ERR_DECODE. */
PHEI_HIDDEN int phei_get_mpz(phei_reader *r, mpz_t x, size_t max_len);
/* Magic (4 bytes) and version (1 byte): PHE_ERR_DECODE or PHE_ERR_VERSION. */
PHEI_HIDDEN int phei_get_header(phei_reader *r, const char magic[4], uint8_t version);
/* PHE_ERR_DECODE if bytes are left. */
PHEI_HIDDEN int phei_reader_end(const phei_reader *r);

/* SHA-256 of n's big-integer field (the key id). */
PHEI_HIDDEN void phei_key_id(const mpz_t n, uint8_t out[32]);

/* ------------------------------------------------------------------ */
/* Sealed envelopes (seal.c): "PHEF" secret keys, "PHTF" key shares     */
/* ------------------------------------------------------------------ */

/* How a sealed file is written. */
typedef enum phei_seal_file_mode {
    /* path.tmpXXX is written, fsync'ed and renamed over path (an existing
     * file is replaced atomically; the temporary is unlinked on failure). */
    PHEI_SEAL_FILE_REPLACE,
    /* path is created with O_EXCL (an existing file is never replaced) and
     * unlinked if writing it fails. */
    PHEI_SEAL_FILE_NEW
} phei_seal_file_mode;

/* One sealed format: magic ‖ u8 version ‖ u64 opslimit ‖ u64 memlimit ‖
 * salt ‖ nonce ‖ u32 box length ‖ box; version 2 (written) is
 * XChaCha20-Poly1305 under the Argon2id key with the whole 65-byte header as
 * associated data, version 1 (read only) a secretbox. The versions are the
 * envelope's, the same for every magic. Everything in which two formats
 * differ is a field here. */
typedef struct phei_seal_format {
    char magic[4];
    uint32_t max_box;              /* unseal: a longer box is PHE_ERR_DECODE */
    size_t max_file;               /* read_file: a longer file is PHE_ERR_DECODE */
    phei_seal_file_mode file_mode; /* write_file */
} phei_seal_format;

/* Argon2id limits of a strength; PHE_ERR_INVALID_ARG for an unknown one. */
PHEI_HIDDEN int phei_kdf_limits(phe_kdf_strength s, uint64_t *ops, uint64_t *mem);

/* Bytes of the envelope around plain_len bytes of plaintext. */
PHEI_HIDDEN size_t phei_sealed_size(size_t plain_len);

/* Seal plain into out (phei_sealed_size(plain_len) bytes are written). Salt
 * then nonce are drawn from rng (NULL: libsodium's randombytes_buf). The
 * caller has called phei_init(). Returns 0, PHE_ERR_INVALID_ARG (NULL with a
 * length, unknown strength), PHE_ERR_BUFFER_TOO_SMALL, PHE_ERR_RNG or
 * PHE_ERR_NOMEM (key derivation). */
PHEI_HIDDEN int phei_seal(const phei_seal_format *f, const uint8_t *plain, size_t plain_len,
                          const uint8_t *pass, size_t pass_len, phe_kdf_strength strength,
                          phe_rng *rng, uint8_t *out, size_t out_len);

/* Open an envelope of format f. On success *plain is a sodium_malloc'd
 * buffer of *plain_len bytes the caller releases with sodium_free(); on
 * error nothing is allocated. The caller has called phei_init(). Returns 0,
 * PHE_ERR_INVALID_ARG, PHE_ERR_DECODE, PHE_ERR_VERSION (not version 1 or 2),
 * PHE_ERR_KDF_LIMIT (Argon2id limits outside libsodium's MIN … 4 passes /
 * 256 MiB, or a memlimit that is not a whole number of KiB), PHE_ERR_AUTH or
 * PHE_ERR_NOMEM. */
PHEI_HIDDEN int phei_unseal(const phei_seal_format *f, const uint8_t *in, size_t in_len,
                            const uint8_t *pass, size_t pass_len, uint8_t **plain,
                            size_t *plain_len);

/* Write len bytes to path (mode 0600) as f->file_mode says.
 * Returns 0, PHE_ERR_INVALID_ARG, PHE_ERR_NOMEM or PHE_ERR_IO. */
PHEI_HIDDEN int phei_seal_write_file(const phei_seal_format *f, const char *path,
                                     const uint8_t *buf, size_t len);

/* Read all of path into a malloc'd *buf (the caller frees it) of *len bytes.
 * Returns 0, PHE_ERR_INVALID_ARG, PHE_ERR_IO, PHE_ERR_NOMEM or
 * PHE_ERR_DECODE (longer than f->max_file). */
PHEI_HIDDEN int phei_seal_read_file(const phei_seal_format *f, const char *path, uint8_t **buf,
                                    size_t *len);

/* ------------------------------------------------------------------ */
/* Thread pool                                                          */
/* ------------------------------------------------------------------ */

/* Run fn(arg, i) for i in [0, count) over the context's threads (the caller
 * runs too). Returns the lowest-index nonzero return of fn, or 0;
 * PHE_ERR_THREAD if the pool is unusable. ctx NULL: a plain loop. */
typedef int (*phei_task_fn)(void *arg, size_t i);
PHEI_HIDDEN int phei_ctx_run(phe_ctx *ctx, phei_task_fn fn, void *arg, size_t count);

/* ------------------------------------------------------------------ */
/* Multi-buffer modular exponentiation (modexp_mb8.c)                   */
/* ------------------------------------------------------------------ */

/* 1 if the AVX-512 IFMA kernel runs here: the CPU has AVX512F and
 * AVX512IFMA, the OS saves zmm state (XCR0), the environment variable
 * PHE_IFMA is not "0", and phei_mb8_force_fallback is off. */
PHEI_HIDDEN int phei_mb8_available(void);

/* Tests and benchmarks: nonzero makes phei_mb8_available() return 0 (the
 * GMP fallback runs everywhere) until called again with 0. */
PHEI_HIDDEN void phei_mb8_force_fallback(int on);

/* out[i] = base[i]^exp[i] mod mod[i] for i < count ≤ 8, in the lanes of the
 * IFMA kernel: constant time in the values of base and exp (their lengths:
 * exp_bits, a public bound, and the moduli's sizes are public). Moduli odd,
 * > 1, at most 8192 bits; 0 ≤ exp[i] < 2^exp_bits; base[i] ≥ 0 (reduced
 * first if ≥ mod[i], not in constant time). out[i] may alias base[i].
 * Returns 0 (done), 1 (not done: kernel unavailable or an input outside its
 * domain; the caller computes another way), PHE_ERR_NOMEM or
 * PHE_ERR_INTERNAL (count 0 or > 8, NULL arrays). */
PHEI_HIDDEN int phei_powm_mb8(mpz_ptr *out, mpz_srcptr const *base, mpz_srcptr const *exp,
                              mpz_srcptr const *mod, size_t count, size_t exp_bits);

/* out[k] = base[k]^exp[k] mod mod[k] for k = 0, 1: the same contract as
 * phei_powm_mb8 with count 2, but each number spread across the lanes of
 * the registers (8 limbs per vector) and the two products interleaved, so
 * that the pair takes about a third of two mpz_powm_sec (phei_powm_mb8
 * takes as long for two lanes as for eight). For the two CRT halves of one
 * decryption and of CRT encryption. Constant time in bases and exponents. Returns 0, 1 (kernel
 * unavailable or outside its domain), PHE_ERR_NOMEM or PHE_ERR_INTERNAL. */
PHEI_HIDDEN int phei_powm_x2(mpz_ptr *out, mpz_srcptr const *base, mpz_srcptr const *exp,
                             mpz_srcptr const *mod, size_t exp_bits);

/* The same for any count: groups of 8 through the kernel, or, where it does
 * not run, mpz_powm_sec (secret != 0: moduli odd, exponents > 0) or
 * mpz_powm. Returns 0 or PHE_ERR_NOMEM / PHE_ERR_INTERNAL. */
PHEI_HIDDEN int phei_powm_batch(mpz_ptr *out, mpz_srcptr const *base, mpz_srcptr const *exp,
                                mpz_srcptr const *mod, size_t count, size_t exp_bits, int secret);

/* Build the kernel's copy of a DJN table (t complete, n2 its modulus):
 * 0 (*out set), 1 (modulus too large for the kernel: *out NULL),
 * PHE_ERR_NOMEM or PHE_ERR_INTERNAL. */
PHEI_HIDDEN int phei_mb8_fb_build(phei_mb8_fb **out, const phei_fbtable *t, const mpz_t n2);
PHEI_HIDDEN void phei_mb8_fb_free(phei_mb8_fb *f);

/* out[i] = h_s^a[i] mod n² for i < count ≤ 8 from the table f: a[i] little
 * endian, a_bits bits read (public). Constant time in the digits: every
 * entry of every row is read in every lane, one product per row. Returns 0,
 * 1 (kernel unavailable), PHE_ERR_NOMEM or PHE_ERR_INTERNAL. */
PHEI_HIDDEN int phei_mb8_fb_pow(const phei_mb8_fb *f, mpz_ptr *out, const uint8_t *const *a,
                                size_t a_bits, size_t count);

/* out = h_s^a mod n² for ONE exponent a (little endian, a_bits bits read,
 * public) from the table f, the digits split across the eight lanes: lane i
 * takes rows i, 8 + i, 16 + i, … and the lane products are multiplied
 * together at the end. Constant time in a: every entry of every row is read
 * (under a lane mask), one product per step of 8 rows, three to join the
 * lanes. Returns 0, 1 (kernel unavailable), PHE_ERR_NOMEM or
 * PHE_ERR_INTERNAL. */
PHEI_HIDDEN int phei_mb8_fb_pow1(const phei_mb8_fb *f, mpz_t out, const uint8_t *a, size_t a_bits);

/* Up to 8 DJN randomizers r[i] (initialised), the bytes of item i drawn from
 * rngs[i] exactly as phei_djn_randomizer draws them (so seeded results are
 * the same), through the kernel when it runs. Returns 0, PHE_ERR_NOMEM,
 * PHE_ERR_RNG or PHE_ERR_INTERNAL. */
PHEI_HIDDEN int phei_djn_randomizer_multi(const phe_pubkey *pk, mpz_t *r, phe_rng *const *rngs,
                                          size_t count);

/* ------------------------------------------------------------------ */
/* Threshold keys built by the dealerless ceremony (threshold.c, dkg.c) */
/* ------------------------------------------------------------------ */

struct phe_threshold_params;
struct phe_threshold_keyshare;

/* Parameters (format version 2, share bound share_bits) and holder index's
 * key share s from a finished dealerless ceremony. n is checked as a
 * modulus, h_s as a DJN base; the share is checked against vk[index−1].
 * 0, PHE_ERR_THRESHOLD_PARAMS, PHE_ERR_KEY_INVALID, PHE_ERR_THRESHOLD_WRONG_KEY
 * or PHE_ERR_NOMEM; both outputs NULL on error. */
PHEI_HIDDEN int phei_threshold_assemble(struct phe_threshold_params **params_out,
                                        struct phe_threshold_keyshare **share_out, const mpz_t n,
                                        const mpz_t hs, const mpz_t v, const mpz_t *vk, uint32_t t,
                                        uint32_t l, uint32_t share_bits, uint32_t index,
                                        const mpz_t s);

#endif /* PHE_INTERNAL_H */
