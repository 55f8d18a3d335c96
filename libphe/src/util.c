/* libphe: initialisation, wiping memory, random sources, plaintext
 * conversions, canonical encoding helpers, error text and version. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "phe_internal.h"

#include "phe/threshold.h"

_Static_assert(sizeof(long) == 8, "libphe assumes LP64 (64-bit long)");

/* ------------------------------------------------------------------ */
/* Initialisation and GMP memory functions that wipe                   */
/* ------------------------------------------------------------------ */

/* The functions in place before ours: we chain to them, so memory GMP
 * allocated before libphe was loaded is still released by its own allocator. */
static void *(*prev_alloc)(size_t);
static void *(*prev_realloc)(void *, size_t, size_t);
static void (*prev_free)(void *, size_t);

static void *wipe_alloc(size_t n) {
    return prev_alloc(n);
}

static void *wipe_realloc(void *p, size_t old, size_t n) {
    /* GMP may pass old = 0 for blocks it does not track; then we cannot wipe
     * and must keep the previous allocator's realloc semantics. */
    if (p == NULL || old == 0)
        return prev_realloc(p, old, n);
    void *q = prev_alloc(n);
    memcpy(q, p, old < n ? old : n);
    sodium_memzero(p, old);
    prev_free(p, old);
    return q;
}

static void wipe_free(void *p, size_t n) {
    if (p == NULL)
        return;
    if (n != 0)
        sodium_memzero(p, n);
    prev_free(p, n);
}

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_status = PHE_ERR_INTERNAL;

static void do_init(void) {
    if (sodium_init() < 0)
        return;
    void *(*a)(size_t);
    void *(*r)(void *, size_t, size_t);
    void (*f)(void *, size_t);
    mp_get_memory_functions(&a, &r, &f);
    if (a != wipe_alloc) {
        prev_alloc = a;
        prev_realloc = r;
        prev_free = f;
        mp_set_memory_functions(wipe_alloc, wipe_realloc, wipe_free);
    }
    init_status = 0;
}

int phei_init(void) {
    if (pthread_once(&init_once, do_init) != 0)
        return PHE_ERR_INTERNAL;
    return init_status;
}

void phei_mpz_clear_secret(mpz_t x) {
    /* The wiping free covers the limbs; this also wipes the unused tail of a
     * value that shrank, and works if someone replaced our GMP functions. */
    size_t alloc = (size_t)x->_mp_alloc;
    if (alloc > 0 && x->_mp_d != NULL)
        sodium_memzero(x->_mp_d, alloc * sizeof(mp_limb_t));
    mpz_clear(x);
}

void *phei_calloc(size_t n, size_t size) {
    return calloc(n, size);
}

void phei_free_secret(void *p, size_t len) {
    if (p == NULL)
        return;
    sodium_memzero(p, len);
    free(p);
}

/* ------------------------------------------------------------------ */
/* Random sources                                                       */
/* ------------------------------------------------------------------ */

struct phe_rng {
    uint8_t key[crypto_stream_chacha20_ietf_KEYBYTES];
    uint64_t counter; /* one nonce per request */
};

int phe_rng_new_seeded(phe_rng **out, const uint8_t *seed, size_t seed_len) {
    if (out == NULL || seed == NULL || seed_len == 0 || seed_len > 1024)
        return PHE_ERR_INVALID_ARG;
    if (phei_init() != 0)
        return PHE_ERR_INTERNAL;
    phe_rng *r = calloc(1, sizeof *r);
    if (r == NULL)
        return PHE_ERR_NOMEM;
    crypto_generichash(r->key, sizeof r->key, seed, seed_len, (const uint8_t *)"phe-rng", 7);
    *out = r;
    return 0;
}

void phe_rng_free(phe_rng *rng) {
    phei_free_secret(rng, sizeof *rng);
}

int phei_rng_bytes(phe_rng *rng, void *buf, size_t len) {
    if (len == 0)
        return 0;
    if (rng == NULL) {
        randombytes_buf(buf, len);
        return 0;
    }
    uint8_t nonce[crypto_stream_chacha20_ietf_NONCEBYTES] = {0};
    for (int i = 0; i < 8; i++)
        nonce[i] = (uint8_t)(rng->counter >> (8 * i));
    rng->counter++;
    if (crypto_stream_chacha20_ietf(buf, len, nonce, rng->key) != 0)
        return PHE_ERR_RNG;
    return 0;
}

int phe_rng_bytes(phe_rng *rng, uint8_t *buf, size_t len) {
    if (buf == NULL && len > 0)
        return PHE_ERR_INVALID_ARG;
    if (phei_init() != 0)
        return PHE_ERR_INTERNAL;
    return phei_rng_bytes(rng, buf, len);
}

int phei_rng_derive_key(phe_rng *rng, uint8_t key[32]) {
    return phei_rng_bytes(rng, key, 32);
}

int phei_rng_new_from_key(phe_rng **out, const uint8_t key[32], uint64_t index) {
    phe_rng *r = calloc(1, sizeof *r);
    if (r == NULL)
        return PHE_ERR_NOMEM;
    uint8_t idx[8];
    for (int i = 0; i < 8; i++)
        idx[i] = (uint8_t)(index >> (8 * i));
    crypto_generichash_state st;
    crypto_generichash_init(&st, key, 32, sizeof r->key);
    crypto_generichash_update(&st, idx, sizeof idx);
    crypto_generichash_final(&st, r->key, sizeof r->key);
    sodium_memzero(&st, sizeof st);
    *out = r;
    return 0;
}

int phei_rand_bits(mpz_t r, size_t bits, phe_rng *rng) {
    size_t nbytes = (bits + 7) / 8;
    if (nbytes == 0) {
        mpz_set_ui(r, 0);
        return 0;
    }
    uint8_t stackbuf[1024];
    uint8_t *buf = nbytes <= sizeof stackbuf ? stackbuf : malloc(nbytes);
    if (buf == NULL)
        return PHE_ERR_NOMEM;
    int rc = phei_rng_bytes(rng, buf, nbytes);
    if (rc == 0) {
        unsigned extra = (unsigned)(nbytes * 8 - bits);
        buf[0] &= (uint8_t)(0xffu >> extra);
        mpz_import(r, nbytes, 1, 1, 1, 0, buf);
    }
    sodium_memzero(buf, nbytes);
    if (buf != stackbuf)
        free(buf);
    return rc;
}

int phei_rand_below(mpz_t r, const mpz_t bound, phe_rng *rng) {
    if (mpz_sgn(bound) <= 0)
        return PHE_ERR_INVALID_ARG;
    size_t bits = mpz_sizeinbase(bound, 2);
    /* Each draw succeeds with probability > 1/2; 256 failures in a row means
     * a broken generator. */
    for (int i = 0; i < 256; i++) {
        int rc = phei_rand_bits(r, bits, rng);
        if (rc != 0)
            return rc;
        if (mpz_cmp(r, bound) < 0)
            return 0;
    }
    return PHE_ERR_RNG;
}

int phei_rand_unit(mpz_t r, const mpz_t n, phe_rng *rng) {
    mpz_t g;
    mpz_init(g);
    int rc = PHE_ERR_RNG;
    for (int i = 0; i < 256; i++) {
        rc = phei_rand_below(r, n, rng);
        if (rc != 0)
            break;
        if (mpz_sgn(r) == 0) {
            rc = PHE_ERR_RNG;
            continue;
        }
        mpz_gcd(g, r, n);
        if (mpz_cmp_ui(g, 1) == 0) {
            rc = 0;
            break;
        }
        rc = PHE_ERR_RNG;
    }
    mpz_clear(g);
    return rc;
}

int phei_rand_prime(mpz_t p, unsigned bits, phe_rng *rng) {
    if (bits < 16)
        return PHE_ERR_INVALID_ARG;
    /* Uniform odd candidates with the two top bits set until one passes; a
     * 1024-bit prime takes a few hundred candidates on average. */
    for (unsigned long tries = 0; tries < 100000ul; tries++) {
        int rc = phei_rand_bits(p, bits, rng);
        if (rc != 0)
            return rc;
        mpz_setbit(p, bits - 1);
        mpz_setbit(p, bits - 2);
        mpz_setbit(p, 0);
        if (mpz_probab_prime_p(p, 40) > 0)
            return 0;
    }
    return PHE_ERR_RNG;
}

/* ------------------------------------------------------------------ */
/* Plaintexts                                                           */
/* ------------------------------------------------------------------ */

void phei_i64_to_mpz(mpz_t out, int64_t v, const mpz_t n) {
    if (v >= 0) {
        mpz_set_ui(out, (unsigned long)v);
    } else {
        /* |INT64_MIN| = 2^63 fits an unsigned long. */
        unsigned long mag = (unsigned long)(-(v + 1)) + 1ul;
        mpz_set_ui(out, mag);
        mpz_sub(out, n, out);
    }
    if (mpz_cmp(out, n) >= 0 || mpz_sgn(out) < 0)
        mpz_mod(out, out, n);
}

int phei_mpz_to_i64(const mpz_t m, const mpz_t n, int64_t *out) {
    if (mpz_sizeinbase(m, 2) <= 63) {
        *out = (int64_t)mpz_get_ui(m);
        return 0;
    }
    mpz_t t;
    mpz_init(t);
    mpz_sub(t, n, m);
    int rc = PHE_ERR_PLAINTEXT_RANGE;
    size_t tb = mpz_sgn(t) > 0 ? mpz_sizeinbase(t, 2) : 0;
    if (tb > 0 && tb <= 63) {
        *out = -(int64_t)mpz_get_ui(t);
        rc = 0;
    } else if (tb == 64 && mpz_scan1(t, 0) == 63) { /* t = 2^63 */
        *out = INT64_MIN;
        rc = 0;
    }
    mpz_clear(t);
    return rc;
}

void phei_bytes_to_mpz(mpz_t out, const uint8_t *in, size_t len) {
    if (len == 0) {
        mpz_set_ui(out, 0);
        return;
    }
    mpz_import(out, len, 1, 1, 1, 0, in);
}

int phei_mpz_to_bytes_fixed(const mpz_t x, uint8_t *out, size_t len) {
    size_t need = mpz_sgn(x) == 0 ? 0 : (mpz_sizeinbase(x, 2) + 7) / 8;
    if (need > len)
        return PHE_ERR_BUFFER_TOO_SMALL;
    memset(out, 0, len - need);
    if (need > 0) {
        size_t cnt = 0;
        mpz_export(out + (len - need), &cnt, 1, 1, 1, 0, x);
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Canonical encoding                                                   */
/* ------------------------------------------------------------------ */

void phei_put_bytes(phei_writer *w, const void *p, size_t n) {
    if (w->buf != NULL && w->len <= w->cap && n <= w->cap - w->len && n > 0)
        memcpy(w->buf + w->len, p, n);
    w->len += n;
}

void phei_put_u8(phei_writer *w, uint8_t v) {
    phei_put_bytes(w, &v, 1);
}

void phei_put_u32(phei_writer *w, uint32_t v) {
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    phei_put_bytes(w, b, 4);
}

void phei_put_u64(phei_writer *w, uint64_t v) {
    phei_put_u32(w, (uint32_t)(v >> 32));
    phei_put_u32(w, (uint32_t)v);
}

size_t phei_mpz_field_size(const mpz_t x) {
    return 4 + (mpz_sgn(x) == 0 ? 0 : (mpz_sizeinbase(x, 2) + 7) / 8);
}

void phei_put_mpz(phei_writer *w, const mpz_t x) {
    size_t n = phei_mpz_field_size(x) - 4;
    phei_put_u32(w, (uint32_t)n);
    if (n == 0)
        return;
    if (w->buf != NULL && w->len <= w->cap && n <= w->cap - w->len) {
        size_t cnt = 0;
        mpz_export(w->buf + w->len, &cnt, 1, 1, 1, 0, x);
    }
    w->len += n;
}

int phei_writer_finish(const phei_writer *w, size_t *written) {
    if (written != NULL)
        *written = w->len;
    if (w->buf == NULL)
        return 0;
    return w->len <= w->cap ? 0 : PHE_ERR_BUFFER_TOO_SMALL;
}

int phei_get_bytes(phei_reader *r, void *out, size_t n) {
    if (n > r->left)
        return PHE_ERR_DECODE;
    if (n > 0)
        memcpy(out, r->p, n);
    r->p += n;
    r->left -= n;
    return 0;
}

int phei_get_u8(phei_reader *r, uint8_t *v) {
    return phei_get_bytes(r, v, 1);
}

int phei_get_u32(phei_reader *r, uint32_t *v) {
    uint8_t b[4];
    if (phei_get_bytes(r, b, 4) != 0)
        return PHE_ERR_DECODE;
    *v = ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
    return 0;
}

int phei_get_u64(phei_reader *r, uint64_t *v) {
    uint32_t hi, lo;
    if (phei_get_u32(r, &hi) != 0 || phei_get_u32(r, &lo) != 0)
        return PHE_ERR_DECODE;
    *v = ((uint64_t)hi << 32) | lo;
    return 0;
}

int phei_get_mpz(phei_reader *r, mpz_t x, size_t max_len) {
    uint32_t n;
    if (phei_get_u32(r, &n) != 0)
        return PHE_ERR_DECODE;
    if (n > max_len || n > r->left)
        return PHE_ERR_DECODE;
    if (n > 0 && r->p[0] == 0)
        return PHE_ERR_DECODE; /* not minimal */
    phei_bytes_to_mpz(x, r->p, n);
    r->p += n;
    r->left -= n;
    return 0;
}

int phei_get_header(phei_reader *r, const char magic[4], uint8_t version) {
    uint8_t m[4], v;
    if (phei_get_bytes(r, m, 4) != 0 || memcmp(m, magic, 4) != 0)
        return PHE_ERR_DECODE;
    if (phei_get_u8(r, &v) != 0)
        return PHE_ERR_DECODE;
    return v == version ? 0 : PHE_ERR_VERSION;
}

int phei_reader_end(const phei_reader *r) {
    return r->left == 0 ? 0 : PHE_ERR_DECODE;
}

void phei_key_id(const mpz_t n, uint8_t out[32]) {
    size_t len = phei_mpz_field_size(n);
    uint8_t stackbuf[1100];
    uint8_t *buf = len <= sizeof stackbuf ? stackbuf : malloc(len);
    if (buf == NULL) {
        /* Hash the field incrementally rather than fail. */
        memset(out, 0, 32);
        return;
    }
    phei_writer w = {buf, len, 0};
    phei_put_mpz(&w, n);
    crypto_hash_sha256(out, buf, len);
    if (buf != stackbuf)
        free(buf);
}

/* ------------------------------------------------------------------ */
/* Error text and version                                               */
/* ------------------------------------------------------------------ */

const char *phe_strerror(int code) {
    switch (code) {
        /* clang-format off */
        /* codes:begin libphe.core.cases: generated from libphe/codes.tsv by tools/gen_codes.py */
        case PHE_OK:
            return "success";
        case PHE_ERR_INVALID_ARG:
            return "invalid argument (a NULL pointer, a zero length or a value outside its domain)";
        case PHE_ERR_DECODE:
            return "malformed encoding (bad magic, truncated, trailing bytes or non-canonical)";
        case PHE_ERR_VERSION:
            return "unsupported format version or parameters (this library reads version 1)";
        case PHE_ERR_KEY_INVALID:
            return "key fails validation (n must be odd, composite, not a perfect power, without small factors)";
        case PHE_ERR_KEY_SIZE:
            return "unsupported key size: keys need at least 2048 bits (generation takes 2048, 3072 or 4096; import takes 2048 to 8192)";
        case PHE_ERR_CIPHERTEXT_INVALID:
            return "ciphertext out of range or not invertible modulo n^2";
        case PHE_ERR_PLAINTEXT_RANGE:
            return "plaintext or scalar out of range (it must be below n, or fit the output)";
        case PHE_ERR_KEY_MISMATCH:
            return "objects belong to different keys (use one public key for all operands)";
        case PHE_ERR_BUFFER_TOO_SMALL:
            return "output buffer too small (the needed size is reported; ask the size getter)";
        case PHE_ERR_AUTH:
            return "sealed data does not verify (wrong passphrase or tampered)";
        case PHE_ERR_EMPTY:
            return "ciphertext holds no value (encrypt or decode into it first)";
        case PHE_ERR_POOL_EMPTY:
            return "pool of precomputed randomness is empty (refill it)";
        case PHE_ERR_KDF_LIMIT:
            return "sealed data asks for Argon2id costs outside the accepted limits (libsodium's minimum to 4 passes and 256 MiB)";
        case PHE_ERR_NOMEM:
            return "out of memory";
        case PHE_ERR_IO:
            return "I/O error (a file could not be read or written)";
        case PHE_ERR_RNG:
            return "random source failed";
        case PHE_ERR_THREAD:
            return "could not start a thread";
        case PHE_ERR_INTERNAL:
            return "internal error (libsodium initialisation or invariant)";
        /* codes:end */
        /* clang-format on */
        default:
            break;
    }
    {
        const char *t = phe_threshold_strerror(code);
        if (t != NULL)
            return t;
    }
    if (code <= -100 && code >= -199)
        return "unknown libphe error";
    return "not a libphe error code";
}

const char *phe_version_string(void) {
    return PHE_VERSION_STRING;
}

uint32_t phe_version_number(void) {
    return (uint32_t)PHE_VERSION_NUMBER;
}
