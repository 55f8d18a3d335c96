/*
 * Threshold Paillier decryption, Shoup / Damgård–Jurik style (s = 1).
 *
 * Notation (docs/guides/phe-threshold.md has the full derivation):
 *   p = 2p'+1, q = 2q'+1 safe primes, n = pq, m = p'q', Δ = l!.
 *   d ≡ 0 (mod m), d ≡ 1 (mod n); f(X) = d + a_1 X + … + a_{t−1} X^{t−1} mod nm.
 *   s_i = f(i) mod nm, v a random square in Z*_{n²}, v_i = v^{Δ s_i} mod n².
 *   Decryption share c_i = c^{2Δ s_i} mod n², with a Fiat–Shamir proof that
 *   log_{c⁴}(c_i²) = log_v(v_i).
 *   Combination over a set S of t holders: μ_i = Δ·Π_{j∈S∖i} j/(j−i) ∈ Z,
 *   c' = Π c_i^{2μ_i} = (1+n)^{4Δ² M} mod n², M = L(c')·(4Δ²)^{-1} mod n.
 */
#include "phe_internal.h"

#include "phe/dkg.h"
#include "phe/threshold.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

/* ------------------------------------------------------------------ */
/* Objects                                                              */
/* ------------------------------------------------------------------ */

struct phe_threshold_params {
    phe_pubkey *pk; /* owned; the ordinary public key */
    uint32_t t, l;
    mpz_t n, n2; /* copies of the key's modulus and its square */
    mpz_t delta; /* l! */
    mpz_t v;     /* verification base */
    mpz_t *vk;   /* l verification keys, vk[i-1] = v^{Δ s_i} */
    uint8_t key_id[32];
    size_t proof_bits;   /* bit length bound of a proof's response z */
    uint32_t share_bits; /* 0: dealt key (s_i < n·m, format v1); else the
                          * bit bound of every s_i (dealerless key, v2) */
};

struct phe_threshold_keyshare {
    uint32_t t, l, index;
    uint8_t key_id[32];
    mpz_t s; /* secret exponent s_i, wiped on free */
};

struct phe_threshold_decshare {
    uint32_t index;
    uint8_t key_id[32];
    uint8_t ct_digest[32];
    mpz_t ci;
    uint8_t e[32];
    mpz_t z;
};

/* Encoding magics and the format version (docs/formats/phe-threshold.md). */
static const char MAGIC_PARAMS[4] = {'P', 'H', 'T', 'P'};
static const char MAGIC_KEYSHARE[4] = {'P', 'H', 'T', 'K'};
static const char MAGIC_DECSHARE[4] = {'P', 'H', 'T', 'D'};
#define TH_FORMAT_VERSION 1
/* Parameters of a dealerless key (phe/dkg.h) carry the share bound: version 2. */
#define TH_PARAMS_VERSION_DKG 2

/* Domain-separation tags of every hash (never reused for anything else). */
static const char TAG_KEY_ID[] = "fedshare/phe/threshold/v1/key-id";
static const char TAG_CIPHERTEXT[] = "fedshare/phe/threshold/v1/ciphertext";
static const char TAG_PROOF[] = "fedshare/phe/threshold/v1/decshare-proof";

/* Largest big integer a threshold encoding may hold (bytes): n² of a
 * 8192-bit key (the largest libphe imports) is 2048 bytes; a response z is
 * below 2^(2·8192 + |Δ| + 256 + 128 + 1) with |Δ| ≤ 296 for l ≤ 64. */
#define TH_MAX_BIG 2200
/* Statistical hiding margin of the proof's response and challenge size. */
#define TH_STAT_BITS 128
#define TH_CHAL_BITS 256

/* ------------------------------------------------------------------ */
/* Small helpers: encoding header, hashing, range checks              */
/* ------------------------------------------------------------------ */

static size_t big_len(const mpz_t x) {
    return phei_mpz_field_size(x) - 4;
}

static void w_header(phei_writer *w, const char magic[4]) {
    phei_put_bytes(w, magic, 4);
    phei_put_u8(w, TH_FORMAT_VERSION);
}

/* Hash helpers: every field length-prefixed, so concatenations are unambiguous. */
static void h_tag(crypto_hash_sha256_state *h, const char *tag) {
    uint8_t len[4];
    size_t n = strlen(tag);
    len[0] = (uint8_t)(n >> 24);
    len[1] = (uint8_t)(n >> 16);
    len[2] = (uint8_t)(n >> 8);
    len[3] = (uint8_t)n;
    crypto_hash_sha256_update(h, len, 4);
    crypto_hash_sha256_update(h, (const uint8_t *)tag, n);
}

static int h_big(crypto_hash_sha256_state *h, const mpz_t x) {
    uint8_t stackbuf[4 + TH_MAX_BIG];
    phei_writer w = {stackbuf, sizeof stackbuf, 0};
    if (4 + big_len(x) > sizeof stackbuf) {
        return -1;
    }
    phei_put_mpz(&w, x);
    crypto_hash_sha256_update(h, stackbuf, w.len);
    return 0;
}

static void h_u32(crypto_hash_sha256_state *h, uint32_t v) {
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    crypto_hash_sha256_update(h, b, 4);
}

/* gcd(x, n) == 1 and 0 < x < n² */
static int in_zn2_star(const mpz_t x, const mpz_t n, const mpz_t n2) {
    int ok;
    mpz_t g;
    if (mpz_sgn(x) <= 0 || mpz_cmp(x, n2) >= 0) {
        return 0;
    }
    mpz_init(g);
    mpz_gcd(g, x, n);
    ok = mpz_cmp_ui(g, 1) == 0;
    mpz_clear(g);
    return ok;
}

/* ------------------------------------------------------------------ */
/* Safe primes                                                          */
/* ------------------------------------------------------------------ */

/* Sieve primes below this bound are removed from both q and 2q+1. */
#define TH_SIEVE_PRIMES_BELOW 65536u
/* Offsets examined per random starting point (q = q0 + 12k, 0 ≤ k < W). */
#define TH_SIEVE_WINDOW 32768u

static unsigned long inv_mod_small(unsigned long a, unsigned long m) {
    /* extended Euclid on small positive integers, gcd(a, m) = 1 */
    long t = 0, newt = 1;
    long r = (long)m, newr = (long)(a % m);
    while (newr != 0) {
        long quot = r / newr, tmp;
        tmp = t - quot * newt;
        t = newt;
        newt = tmp;
        tmp = r - quot * newr;
        r = newr;
        newr = tmp;
    }
    if (t < 0) {
        t += (long)m;
    }
    return (unsigned long)t;
}

/* Odd primes 5 ≤ p < TH_SIEVE_PRIMES_BELOW (2 and 3 are handled by q ≡ 11 mod 12). */
static uint32_t *small_primes(size_t *count) {
    uint8_t *composite = calloc(TH_SIEVE_PRIMES_BELOW, 1);
    uint32_t *primes = NULL;
    size_t n = 0;
    if (!composite) {
        return NULL;
    }
    for (uint32_t i = 2; i * i < TH_SIEVE_PRIMES_BELOW; i++) {
        if (!composite[i]) {
            for (uint32_t j = i * i; j < TH_SIEVE_PRIMES_BELOW; j += i) {
                composite[j] = 1;
            }
        }
    }
    primes = malloc(sizeof(uint32_t) * 6600);
    if (primes) {
        for (uint32_t i = 5; i < TH_SIEVE_PRIMES_BELOW; i++) {
            if (!composite[i]) {
                primes[n++] = i;
            }
        }
    }
    free(composite);
    *count = n;
    return primes;
}

/* out = a safe prime P = 2q+1 of exactly `bits` bits whose two top bits are
 * set (so that the product of two has exactly 2·bits bits). */
static int safe_prime_search(mpz_t out, uint32_t bits, phe_rng *rng) {
    size_t np = 0;
    uint32_t *primes = small_primes(&np);
    uint8_t *sieve = malloc(TH_SIEVE_WINDOW);
    int rc = PHE_ERR_NOMEM;
    mpz_t q0, q, P, tmp, two;
    if (!primes || !sieve) {
        free(primes);
        free(sieve);
        return PHE_ERR_NOMEM;
    }
    mpz_inits(q0, q, P, tmp, two, NULL);
    mpz_set_ui(two, 2);
    for (;;) {
        rc = phei_rand_bits(q0, bits - 1, rng);
        if (rc != 0) {
            break;
        }
        mpz_setbit(q0, bits - 2);
        mpz_setbit(q0, bits - 3);
        /* q ≡ 11 (mod 12): q odd, 3 ∤ q and 3 ∤ 2q+1, so P ≡ 23 (mod 24). */
        mpz_sub_ui(q0, q0, mpz_fdiv_ui(q0, 12));
        mpz_add_ui(q0, q0, 11);
        memset(sieve, 0, TH_SIEVE_WINDOW);
        for (size_t j = 0; j < np; j++) {
            unsigned long pj = primes[j];
            unsigned long r = mpz_fdiv_ui(q0, pj);
            /* q0 + 12k ≡ 0 (mod pj)  and  2(q0 + 12k) + 1 ≡ 0 (mod pj) */
            unsigned long k1 = ((pj - r) % pj) * inv_mod_small(12 % pj, pj) % pj;
            unsigned long k2 = ((pj - (2 * r + 1) % pj) % pj) * inv_mod_small(24 % pj, pj) % pj;
            for (unsigned long k = k1; k < TH_SIEVE_WINDOW; k += pj) {
                sieve[k] = 1;
            }
            for (unsigned long k = k2; k < TH_SIEVE_WINDOW; k += pj) {
                sieve[k] = 1;
            }
        }
        for (uint32_t k = 0; k < TH_SIEVE_WINDOW; k++) {
            if (sieve[k]) {
                continue;
            }
            mpz_set(q, q0);
            mpz_add_ui(q, q, 12ul * k);
            if (mpz_sizeinbase(q, 2) != bits - 1) {
                break;
            }
            mpz_mul_2exp(P, q, 1);
            mpz_add_ui(P, P, 1);
            /* Cheap filter: Fermat base 2 on P, then on q. */
            mpz_sub_ui(tmp, P, 1);
            mpz_powm(tmp, two, tmp, P);
            if (mpz_cmp_ui(tmp, 1) != 0) {
                continue;
            }
            mpz_sub_ui(tmp, q, 1);
            mpz_powm(tmp, two, tmp, q);
            if (mpz_cmp_ui(tmp, 1) != 0) {
                continue;
            }
            if (mpz_probab_prime_p(q, 30) && mpz_probab_prime_p(P, 30)) {
                mpz_set(out, P);
                rc = 0;
                goto done;
            }
        }
    }
done:
    mpz_clears(q0, q, P, tmp, two, NULL);
    free(primes);
    free(sieve);
    return rc;
}

static int is_safe_prime(const mpz_t p) {
    int ok;
    mpz_t h;
    if (mpz_cmp_ui(p, 7) < 0 || mpz_even_p(p)) {
        return 0;
    }
    mpz_init(h);
    mpz_sub_ui(h, p, 1);
    mpz_fdiv_q_2exp(h, h, 1);
    ok = mpz_probab_prime_p(h, 30) && mpz_probab_prime_p(p, 30);
    mpz_clear(h);
    return ok;
}

PHE_API int phe_threshold_safe_prime(uint8_t *out, size_t out_len, uint32_t bits, phe_rng *rng) {
    size_t need = ((size_t)bits + 7) / 8;
    int rc;
    mpz_t P;
    if (!out || bits < 64 || bits > 4096) {
        return PHE_ERR_INVALID_ARG;
    }
    if (out_len < need) {
        return PHE_ERR_BUFFER_TOO_SMALL;
    }
    rc = phei_init();
    if (rc != 0) {
        return rc;
    }
    mpz_init(P);
    rc = safe_prime_search(P, bits, rng);
    if (rc == 0) {
        rc = phei_mpz_to_bytes_fixed(P, out, need);
    }
    mpz_clear(P);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Parameters                                                           */
/* ------------------------------------------------------------------ */

static int check_tl(uint32_t t, uint32_t l) {
    return t >= 1 && l >= 1 && t <= l && l <= PHE_THRESHOLD_MAX_HOLDERS;
}

static phe_threshold_params *params_alloc(uint32_t t, uint32_t l) {
    phe_threshold_params *pp = calloc(1, sizeof *pp);
    if (!pp) {
        return NULL;
    }
    pp->vk = calloc(l, sizeof(mpz_t));
    if (!pp->vk) {
        free(pp);
        return NULL;
    }
    pp->t = t;
    pp->l = l;
    mpz_inits(pp->n, pp->n2, pp->delta, pp->v, NULL);
    for (uint32_t i = 0; i < l; i++) {
        mpz_init(pp->vk[i]);
    }
    mpz_fac_ui(pp->delta, l);
    return pp;
}

PHE_API void phe_threshold_params_free(phe_threshold_params *pp) {
    if (!pp) {
        return;
    }
    phe_pubkey_free(pp->pk);
    for (uint32_t i = 0; i < pp->l; i++) {
        mpz_clear(pp->vk[i]);
    }
    free(pp->vk);
    mpz_clears(pp->n, pp->n2, pp->delta, pp->v, NULL);
    free(pp);
}

static void params_write(phei_writer *w, const phe_threshold_params *pp) {
    if (pp->share_bits == 0) {
        w_header(w, MAGIC_PARAMS);
    } else {
        phei_put_bytes(w, MAGIC_PARAMS, 4);
        phei_put_u8(w, TH_PARAMS_VERSION_DKG);
    }
    phei_put_u32(w, pp->t);
    phei_put_u32(w, pp->l);
    if (pp->share_bits != 0) {
        phei_put_u32(w, pp->share_bits);
    }
    phei_put_mpz(w, pp->n);
    phei_put_mpz(w, pp->pk->hs);
    phei_put_mpz(w, pp->v);
    for (uint32_t i = 0; i < pp->l; i++) {
        phei_put_mpz(w, pp->vk[i]);
    }
}

/* Key id and proof bound, once n, v and the vk are set. */
static int params_finish(phe_threshold_params *pp) {
    crypto_hash_sha256_state h;
    phei_writer w = {NULL, 0, 0};
    uint8_t *buf;
    params_write(&w, pp);
    buf = malloc(w.len);
    if (!buf) {
        return PHE_ERR_NOMEM;
    }
    w.buf = buf;
    w.cap = w.len;
    w.len = 0;
    params_write(&w, pp);
    crypto_hash_sha256_init(&h);
    h_tag(&h, TAG_KEY_ID);
    crypto_hash_sha256_update(&h, buf, w.len);
    crypto_hash_sha256_final(&h, pp->key_id);
    free(buf);
    /* r has 2·|n| + |Δ| + 256 + 128 bits; z = r + e·Δ·s_i < 2^(that + 1).
     * A dealerless key's shares are integers below 2^share_bits instead. */
    pp->proof_bits = (pp->share_bits ? pp->share_bits : 2 * mpz_sizeinbase(pp->n, 2)) +
                     mpz_sizeinbase(pp->delta, 2) + TH_CHAL_BITS + TH_STAT_BITS;
    return 0;
}

PHE_API const phe_pubkey *phe_threshold_params_pubkey(const phe_threshold_params *pp) {
    return pp ? pp->pk : NULL;
}

PHE_API uint32_t phe_threshold_params_threshold(const phe_threshold_params *pp) {
    return pp ? pp->t : 0;
}

PHE_API uint32_t phe_threshold_params_holders(const phe_threshold_params *pp) {
    return pp ? pp->l : 0;
}

PHE_API int phe_threshold_params_key_id(const phe_threshold_params *pp, uint8_t out[32]) {
    if (!pp || !out) {
        return PHE_ERR_INVALID_ARG;
    }
    memcpy(out, pp->key_id, 32);
    return 0;
}

PHE_API size_t phe_threshold_params_encoded_size(const phe_threshold_params *pp) {
    phei_writer w = {NULL, 0, 0};
    if (!pp) {
        return 0;
    }
    params_write(&w, pp);
    return w.len;
}

PHE_API int phe_threshold_params_encode(const phe_threshold_params *pp, uint8_t *out,
                                        size_t out_len, size_t *written) {
    phei_writer w = {NULL, 0, 0};
    if (!pp || !out) {
        return PHE_ERR_INVALID_ARG;
    }
    params_write(&w, pp);
    if (w.len > out_len) {
        return PHE_ERR_BUFFER_TOO_SMALL;
    }
    w.buf = out;
    w.cap = out_len;
    w.len = 0;
    params_write(&w, pp);
    if (written) {
        *written = w.len;
    }
    return 0;
}

PHE_API int phe_threshold_params_decode(phe_threshold_params **out, const uint8_t *in,
                                        size_t in_len) {
    phei_reader r = {in, in_len};
    phe_threshold_params *pp = NULL;
    uint32_t t, l, share_bits = 0;
    int rc, dkg;
    mpz_t hs, jn;
    if (!out || (!in && in_len > 0)) {
        return PHE_ERR_INVALID_ARG;
    }
    rc = phei_init();
    if (rc != 0) {
        return rc;
    }
    *out = NULL;
    dkg = in_len > 4 && in[4] == TH_PARAMS_VERSION_DKG;
    rc = phei_get_header(&r, MAGIC_PARAMS, dkg ? TH_PARAMS_VERSION_DKG : TH_FORMAT_VERSION);
    if (rc == 0) {
        rc = phei_get_u32(&r, &t);
    }
    if (rc == 0) {
        rc = phei_get_u32(&r, &l);
    }
    if (rc == 0 && dkg) {
        rc = phei_get_u32(&r, &share_bits);
    }
    if (rc != 0) {
        return rc;
    }
    if (!check_tl(t, l)) {
        return PHE_ERR_THRESHOLD_PARAMS;
    }
    pp = params_alloc(t, l);
    if (!pp) {
        return PHE_ERR_NOMEM;
    }
    pp->share_bits = share_bits;
    mpz_inits(hs, jn, NULL);
    rc = phei_get_mpz(&r, pp->n, TH_MAX_BIG / 2);
    /* A share bound must leave the proof response inside TH_MAX_BIG and be
     * at least what a dealt key allows (2|n|). */
    if (rc == 0 && dkg &&
        (share_bits < 2 * mpz_sizeinbase(pp->n, 2) ||
         share_bits + 512 + TH_CHAL_BITS + TH_STAT_BITS > 8 * TH_MAX_BIG)) {
        rc = PHE_ERR_DECODE;
    }
    if (rc == 0) {
        rc = phei_get_mpz(&r, hs, TH_MAX_BIG);
    }
    if (rc == 0) {
        /* checks n (size, odd, no small factor …) and h_s */
        rc = phei_pubkey_from_n_hs(&pp->pk, pp->n, hs);
    }
    if (rc == 0) {
        mpz_mul(pp->n2, pp->n, pp->n);
        rc = phei_get_mpz(&r, pp->v, TH_MAX_BIG);
    }
    if (rc == 0 && !in_zn2_star(pp->v, pp->n, pp->n2)) {
        rc = PHE_ERR_DECODE;
    }
    if (rc == 0) {
        /* A square mod n² is a square mod n: its Jacobi symbol is 1. */
        mpz_mod(jn, pp->v, pp->n);
        if (mpz_jacobi(jn, pp->n) != 1) {
            rc = PHE_ERR_DECODE;
        }
    }
    for (uint32_t i = 0; rc == 0 && i < l; i++) {
        rc = phei_get_mpz(&r, pp->vk[i], TH_MAX_BIG);
        if (rc == 0 && !in_zn2_star(pp->vk[i], pp->n, pp->n2)) {
            rc = PHE_ERR_DECODE;
        }
    }
    if (rc == 0) {
        rc = phei_reader_end(&r);
    }
    if (rc == 0) {
        rc = params_finish(pp);
    }
    mpz_clears(hs, jn, NULL);
    if (rc != 0) {
        phe_threshold_params_free(pp);
        return rc;
    }
    *out = pp;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Key shares                                                           */
/* ------------------------------------------------------------------ */

static phe_threshold_keyshare *keyshare_alloc(void) {
    phe_threshold_keyshare *ks = calloc(1, sizeof *ks);
    if (ks) {
        mpz_init(ks->s);
    }
    return ks;
}

PHE_API void phe_threshold_keyshare_free(phe_threshold_keyshare *ks) {
    if (!ks) {
        return;
    }
    phei_mpz_clear_secret(ks->s);
    sodium_memzero(ks, sizeof *ks);
    free(ks);
}

PHE_API uint32_t phe_threshold_keyshare_index(const phe_threshold_keyshare *ks) {
    return ks ? ks->index : 0;
}

static void keyshare_write(phei_writer *w, const phe_threshold_keyshare *ks) {
    w_header(w, MAGIC_KEYSHARE);
    phei_put_u32(w, ks->t);
    phei_put_u32(w, ks->l);
    phei_put_u32(w, ks->index);
    phei_put_bytes(w, ks->key_id, 32);
    phei_put_mpz(w, ks->s);
}

PHE_API size_t phe_threshold_keyshare_encoded_size(const phe_threshold_keyshare *ks) {
    phei_writer w = {NULL, 0, 0};
    if (!ks) {
        return 0;
    }
    keyshare_write(&w, ks);
    return w.len;
}

PHE_API int phe_threshold_keyshare_encode(const phe_threshold_keyshare *ks, uint8_t *out,
                                          size_t out_len, size_t *written) {
    phei_writer w = {NULL, 0, 0};
    if (!ks || !out) {
        return PHE_ERR_INVALID_ARG;
    }
    keyshare_write(&w, ks);
    if (w.len > out_len) {
        return PHE_ERR_BUFFER_TOO_SMALL;
    }
    w.buf = out;
    w.cap = out_len;
    w.len = 0;
    keyshare_write(&w, ks);
    if (written) {
        *written = w.len;
    }
    return 0;
}

PHE_API int phe_threshold_keyshare_decode(phe_threshold_keyshare **out, const uint8_t *in,
                                          size_t in_len) {
    phei_reader r = {in, in_len};
    phe_threshold_keyshare *ks;
    int rc;
    if (!out || (!in && in_len > 0)) {
        return PHE_ERR_INVALID_ARG;
    }
    rc = phei_init();
    if (rc != 0) {
        return rc;
    }
    *out = NULL;
    ks = keyshare_alloc();
    if (!ks) {
        return PHE_ERR_NOMEM;
    }
    rc = phei_get_header(&r, MAGIC_KEYSHARE, TH_FORMAT_VERSION);
    if (rc == 0) {
        rc = phei_get_u32(&r, &ks->t);
    }
    if (rc == 0) {
        rc = phei_get_u32(&r, &ks->l);
    }
    if (rc == 0) {
        rc = phei_get_u32(&r, &ks->index);
    }
    if (rc == 0) {
        rc = phei_get_bytes(&r, ks->key_id, 32);
    }
    if (rc == 0 && !check_tl(ks->t, ks->l)) {
        rc = PHE_ERR_THRESHOLD_PARAMS;
    }
    if (rc == 0 && (ks->index < 1 || ks->index > ks->l)) {
        rc = PHE_ERR_THRESHOLD_INDEX_RANGE;
    }
    /* 0 < s_i ≤ n·m < n² */
    if (rc == 0) {
        rc = phei_get_mpz(&r, ks->s, TH_MAX_BIG);
    }
    if (rc == 0 && mpz_sgn(ks->s) == 0) {
        rc = PHE_ERR_DECODE;
    }
    if (rc == 0) {
        rc = phei_reader_end(&r);
    }
    if (rc != 0) {
        phe_threshold_keyshare_free(ks);
        return rc;
    }
    *out = ks;
    return 0;
}

PHE_API int phe_threshold_keyshare_check(const phe_threshold_params *pp,
                                         const phe_threshold_keyshare *ks) {
    int rc = 0;
    mpz_t e, x;
    if (!pp || !ks) {
        return PHE_ERR_INVALID_ARG;
    }
    if (sodium_memcmp(pp->key_id, ks->key_id, 32) != 0 || ks->t != pp->t || ks->l != pp->l) {
        return PHE_ERR_THRESHOLD_WRONG_KEY;
    }
    if (ks->index < 1 || ks->index > pp->l) {
        return PHE_ERR_THRESHOLD_INDEX_RANGE;
    }
    mpz_inits(e, x, NULL);
    mpz_mul(e, pp->delta, ks->s);
    mpz_powm_sec(x, pp->v, e, pp->n2);
    if (mpz_cmp(x, pp->vk[ks->index - 1]) != 0) {
        rc = PHE_ERR_THRESHOLD_WRONG_KEY;
    }
    phei_mpz_clear_secret(e);
    mpz_clear(x);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Dealerless keys (dkg.c): assemble the objects from the ceremony     */
/* ------------------------------------------------------------------ */

int phei_threshold_assemble(phe_threshold_params **params_out, phe_threshold_keyshare **share_out,
                            const mpz_t n, const mpz_t hs, const mpz_t v, const mpz_t *vk,
                            uint32_t t, uint32_t l, uint32_t share_bits, uint32_t index,
                            const mpz_t s) {
    phe_threshold_params *pp;
    phe_threshold_keyshare *ks;
    int rc;
    *params_out = NULL;
    *share_out = NULL;
    if (!check_tl(t, l) || index < 1 || index > l || share_bits == 0) {
        return PHE_ERR_THRESHOLD_PARAMS;
    }
    pp = params_alloc(t, l);
    if (!pp) {
        return PHE_ERR_NOMEM;
    }
    pp->share_bits = share_bits;
    rc = phei_pubkey_from_n_hs(&pp->pk, n, hs);
    if (rc != 0) {
        phe_threshold_params_free(pp);
        return rc;
    }
    mpz_set(pp->n, n);
    mpz_mul(pp->n2, n, n);
    mpz_set(pp->v, v);
    for (uint32_t i = 0; i < l; i++) {
        mpz_set(pp->vk[i], vk[i]);
    }
    rc = params_finish(pp);
    ks = rc == 0 ? keyshare_alloc() : NULL;
    if (rc == 0 && !ks) {
        rc = PHE_ERR_NOMEM;
    }
    if (rc != 0) {
        phe_threshold_params_free(pp);
        return rc;
    }
    ks->t = t;
    ks->l = l;
    ks->index = index;
    memcpy(ks->key_id, pp->key_id, 32);
    mpz_set(ks->s, s);
    rc = phe_threshold_keyshare_check(pp, ks);
    if (rc != 0) {
        phe_threshold_keyshare_free(ks);
        phe_threshold_params_free(pp);
        return rc;
    }
    *params_out = pp;
    *share_out = ks;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Dealer                                                               */
/* ------------------------------------------------------------------ */

/* The ceremony once p and q are fixed (both already checked). */
static int deal_core(phe_threshold_params **params_out, phe_threshold_keyshare **shares_out,
                     const mpz_t p, const mpz_t q, uint32_t t, uint32_t l, phe_rng *rng) {
    phe_threshold_params *pp = NULL;
    phe_threshold_keyshare **ks = NULL;
    mpz_t pq_, qq_, m, nm, d, tmp, r, *coef = NULL;
    int rc;

    pp = params_alloc(t, l);
    ks = calloc(l, sizeof *ks);
    coef = calloc(t, sizeof(mpz_t));
    if (!pp || !ks || !coef) {
        phe_threshold_params_free(pp);
        free(ks);
        free(coef);
        return PHE_ERR_NOMEM;
    }
    mpz_inits(pq_, qq_, m, nm, d, tmp, r, NULL);
    for (uint32_t j = 0; j < t; j++) {
        mpz_init(coef[j]);
    }

    mpz_mul(pp->n, p, q);
    mpz_mul(pp->n2, pp->n, pp->n);
    mpz_sub_ui(pq_, p, 1);
    mpz_fdiv_q_2exp(pq_, pq_, 1);
    mpz_sub_ui(qq_, q, 1);
    mpz_fdiv_q_2exp(qq_, qq_, 1);
    mpz_mul(m, pq_, qq_);
    mpz_mul(nm, pp->n, m);
    /* d ≡ 0 (mod m), d ≡ 1 (mod n): d = m·(m⁻¹ mod n); gcd(m, n) = 1 was checked. */
    if (!mpz_invert(tmp, m, pp->n)) {
        rc = PHE_ERR_THRESHOLD_NOT_SAFE_PRIME;
        goto out;
    }
    mpz_mul(d, m, tmp);

    rc = phei_pubkey_from_n(&pp->pk, pp->n, rng);
    if (rc != 0) {
        goto out;
    }

    /* f(X) = d + a_1 X + … + a_{t−1} X^{t−1} over Z_{nm}, a_j uniform. */
    mpz_set(coef[0], d);
    for (uint32_t j = 1; j < t; j++) {
        rc = phei_rand_below(coef[j], nm, rng);
        if (rc != 0) {
            goto out;
        }
    }

    /* v = r² mod n² for a uniform r ∈ Z*_{n²}: a generator of the squares
     * with overwhelming probability. */
    rc = phei_rand_unit(r, pp->n2, rng);
    if (rc != 0) {
        goto out;
    }
    mpz_powm_ui(pp->v, r, 2, pp->n2);

    for (uint32_t i = 1; i <= l; i++) {
        phe_threshold_keyshare *s = keyshare_alloc();
        if (!s) {
            rc = PHE_ERR_NOMEM;
            goto out;
        }
        ks[i - 1] = s;
        s->t = t;
        s->l = l;
        s->index = i;
        /* Horner: s_i = f(i) mod nm */
        mpz_set(s->s, coef[t - 1]);
        for (uint32_t j = t - 1; j-- > 0;) {
            mpz_mul_ui(s->s, s->s, i);
            mpz_add(s->s, s->s, coef[j]);
            mpz_mod(s->s, s->s, nm);
        }
        if (mpz_sgn(s->s) == 0) {
            /* f(i) = 0 happens with probability 1/nm; the encoding wants s_i > 0. */
            mpz_set(s->s, nm);
        }
        mpz_mul(tmp, pp->delta, s->s);
        mpz_powm_sec(pp->vk[i - 1], pp->v, tmp, pp->n2);
    }
    rc = params_finish(pp);
    if (rc != 0) {
        goto out;
    }
    for (uint32_t i = 0; i < l; i++) {
        memcpy(ks[i]->key_id, pp->key_id, 32);
    }

out:
    for (uint32_t j = 0; j < t; j++) {
        phei_mpz_clear_secret(coef[j]);
    }
    free(coef);
    phei_mpz_clear_secret(pq_);
    phei_mpz_clear_secret(qq_);
    phei_mpz_clear_secret(m);
    phei_mpz_clear_secret(nm);
    phei_mpz_clear_secret(d);
    phei_mpz_clear_secret(tmp);
    phei_mpz_clear_secret(r);
    if (rc != 0) {
        for (uint32_t i = 0; i < l; i++) {
            phe_threshold_keyshare_free(ks[i]);
        }
        free(ks);
        phe_threshold_params_free(pp);
        return rc;
    }
    *params_out = pp;
    for (uint32_t i = 0; i < l; i++) {
        shares_out[i] = ks[i];
    }
    free(ks);
    return 0;
}

/* p, q distinct safe primes of equal length with gcd(n, p'q') = 1. */
static int check_prime_pair(const mpz_t p, const mpz_t q) {
    int ok = 1;
    mpz_t pq_, qq_;
    if (mpz_cmp(p, q) == 0 || mpz_sizeinbase(p, 2) != mpz_sizeinbase(q, 2) || !is_safe_prime(p) ||
        !is_safe_prime(q)) {
        return 0;
    }
    mpz_inits(pq_, qq_, NULL);
    mpz_sub_ui(pq_, p, 1);
    mpz_fdiv_q_2exp(pq_, pq_, 1);
    mpz_sub_ui(qq_, q, 1);
    mpz_fdiv_q_2exp(qq_, qq_, 1);
    /* p' = q or q' = p would make gcd(n, m) ≠ 1 */
    if (mpz_cmp(pq_, q) == 0 || mpz_cmp(qq_, p) == 0) {
        ok = 0;
    }
    phei_mpz_clear_secret(pq_);
    phei_mpz_clear_secret(qq_);
    return ok;
}

static void null_outputs(phe_threshold_params **params_out, phe_threshold_keyshare **shares_out,
                         uint32_t l) {
    if (params_out) {
        *params_out = NULL;
    }
    if (shares_out && l <= PHE_THRESHOLD_MAX_HOLDERS) {
        for (uint32_t i = 0; i < l; i++) {
            shares_out[i] = NULL;
        }
    }
}

PHE_API int phe_threshold_deal_with_primes(phe_threshold_params **params_out,
                                           phe_threshold_keyshare **shares_out, const uint8_t *p,
                                           size_t p_len, const uint8_t *q, size_t q_len, uint32_t t,
                                           uint32_t l, phe_rng *rng) {
    int rc;
    mpz_t P, Q, nn;
    if (!params_out || !shares_out || !p || !q) {
        return PHE_ERR_INVALID_ARG;
    }
    rc = phei_init();
    if (rc != 0) {
        return rc;
    }
    null_outputs(params_out, shares_out, l);
    if (!check_tl(t, l)) {
        return PHE_ERR_THRESHOLD_PARAMS;
    }
    if (p_len == 0 || q_len == 0 || p[0] == 0 || q[0] == 0) {
        return PHE_ERR_INVALID_ARG;
    }
    /* n = pq must be a modulus libphe accepts (2048 … 8192 bits): checked
     * before the slow primality tests. */
    if (p_len + q_len > PHEI_MAX_IMPORT_BITS / 8 + 1 || p_len + q_len < PHEI_MIN_IMPORT_BITS / 8) {
        return PHE_ERR_KEY_INVALID;
    }
    mpz_inits(P, Q, nn, NULL);
    mpz_import(P, p_len, 1, 1, 1, 0, p);
    mpz_import(Q, q_len, 1, 1, 1, 0, q);
    mpz_mul(nn, P, Q);
    if (mpz_sizeinbase(nn, 2) < PHEI_MIN_IMPORT_BITS ||
        mpz_sizeinbase(nn, 2) > PHEI_MAX_IMPORT_BITS) {
        rc = PHE_ERR_KEY_INVALID;
    } else if (!check_prime_pair(P, Q)) {
        rc = PHE_ERR_THRESHOLD_NOT_SAFE_PRIME;
    } else {
        rc = deal_core(params_out, shares_out, P, Q, t, l, rng);
    }
    phei_mpz_clear_secret(P);
    phei_mpz_clear_secret(Q);
    phei_mpz_clear_secret(nn);
    return rc;
}

PHE_API int phe_threshold_deal(phe_threshold_params **params_out,
                               phe_threshold_keyshare **shares_out, uint32_t bits, uint32_t t,
                               uint32_t l, phe_rng *rng) {
    int rc;
    mpz_t P, Q;
    if (!params_out || !shares_out) {
        return PHE_ERR_INVALID_ARG;
    }
    null_outputs(params_out, shares_out, l);
    if (!check_tl(t, l)) {
        return PHE_ERR_THRESHOLD_PARAMS;
    }
    if (bits != 2048 && bits != 3072 && bits != 4096) {
        return PHE_ERR_KEY_SIZE;
    }
    rc = phei_init();
    if (rc != 0) {
        return rc;
    }
    mpz_inits(P, Q, NULL);
    do {
        rc = safe_prime_search(P, bits / 2, rng);
        if (rc == 0) {
            rc = safe_prime_search(Q, bits / 2, rng);
        }
    } while (rc == 0 && !check_prime_pair(P, Q));
    if (rc == 0) {
        rc = deal_core(params_out, shares_out, P, Q, t, l, rng);
    }
    phei_mpz_clear_secret(P);
    phei_mpz_clear_secret(Q);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Decryption shares                                                    */
/* ------------------------------------------------------------------ */

static phe_threshold_decshare *decshare_alloc(void) {
    phe_threshold_decshare *ds = calloc(1, sizeof *ds);
    if (ds) {
        mpz_inits(ds->ci, ds->z, NULL);
    }
    return ds;
}

PHE_API void phe_threshold_decshare_free(phe_threshold_decshare *ds) {
    if (!ds) {
        return;
    }
    mpz_clears(ds->ci, ds->z, NULL);
    free(ds);
}

PHE_API uint32_t phe_threshold_decshare_index(const phe_threshold_decshare *ds) {
    return ds ? ds->index : 0;
}

/* The ciphertext as an element of Z*_{n²}, or the libphe invalid-ciphertext code. */
static int ct_value(const phe_threshold_params *pp, const phe_ciphertext *ct, mpz_t c) {
    int rc = phei_check_ct(pp->pk, ct);
    if (rc != 0) {
        return rc;
    }
    mpz_set(c, ct->c);
    return in_zn2_star(c, pp->n, pp->n2) ? 0 : PHE_ERR_CIPHERTEXT_INVALID;
}

static int ct_digest(const phe_threshold_params *pp, const mpz_t c, uint8_t out[32]) {
    crypto_hash_sha256_state h;
    crypto_hash_sha256_init(&h);
    h_tag(&h, TAG_CIPHERTEXT);
    if (h_big(&h, pp->n) != 0 || h_big(&h, c) != 0) {
        return PHE_ERR_INVALID_ARG;
    }
    crypto_hash_sha256_final(&h, out);
    return 0;
}

/* e = H(tag, key id, i, ct digest, c_i, a, b) */
static int proof_challenge(const phe_threshold_params *pp, uint32_t index, const uint8_t dig[32],
                           const mpz_t ci, const mpz_t a, const mpz_t b, uint8_t e[32]) {
    crypto_hash_sha256_state h;
    crypto_hash_sha256_init(&h);
    h_tag(&h, TAG_PROOF);
    crypto_hash_sha256_update(&h, pp->key_id, 32);
    h_u32(&h, index);
    crypto_hash_sha256_update(&h, dig, 32);
    if (h_big(&h, ci) != 0 || h_big(&h, a) != 0 || h_big(&h, b) != 0) {
        return PHE_ERR_INVALID_ARG;
    }
    crypto_hash_sha256_final(&h, e);
    return 0;
}

PHE_API int phe_threshold_decshare_create(phe_threshold_decshare **out,
                                          const phe_threshold_params *pp,
                                          const phe_threshold_keyshare *ks,
                                          const phe_ciphertext *ct, phe_rng *rng) {
    phe_threshold_decshare *ds;
    mpz_t c, x, c4, r, a, b, e;
    int rc;
    if (!out || !pp || !ks || !ct) {
        return PHE_ERR_INVALID_ARG;
    }
    *out = NULL;
    rc = phei_init();
    if (rc != 0) {
        return rc;
    }
    if (sodium_memcmp(pp->key_id, ks->key_id, 32) != 0 || ks->t != pp->t || ks->l != pp->l) {
        return PHE_ERR_THRESHOLD_WRONG_KEY;
    }
    if (ks->index < 1 || ks->index > pp->l) {
        return PHE_ERR_THRESHOLD_INDEX_RANGE;
    }
    ds = decshare_alloc();
    if (!ds) {
        return PHE_ERR_NOMEM;
    }
    mpz_inits(c, x, c4, r, a, b, e, NULL);
    rc = ct_value(pp, ct, c);
    if (rc != 0) {
        goto out;
    }
    ds->index = ks->index;
    memcpy(ds->key_id, pp->key_id, 32);
    rc = ct_digest(pp, c, ds->ct_digest);
    if (rc != 0) {
        goto out;
    }
    /* x = Δ·s_i (secret); c_i = c^{2x} */
    mpz_mul(x, pp->delta, ks->s);
    mpz_mul_2exp(e, x, 1);
    /* Commit: a = (c⁴)^r, b = v^r with r of proof_bits − 1... bits. */
    mpz_powm_ui(c4, c, 4, pp->n2);
    rc = phei_rand_bits(r, pp->proof_bits, rng);
    if (rc != 0) {
        goto out;
    }
    mpz_setbit(r, 0); /* mpz_powm_sec needs a positive exponent */
    /* the three secret-exponent powers in one call: lanes of the IFMA
     * kernel when it runs, else mpz_powm_sec each; scanned over a length
     * fixed by the parameters (2x < 2Δ·nm < 2^proof_bits, r < 2^proof_bits) */
    {
        mpz_ptr o3[3] = {ds->ci, a, b};
        mpz_srcptr b3[3] = {c, c4, pp->v}, e3[3] = {e, r, r}, m3[3] = {pp->n2, pp->n2, pp->n2};
        size_t eb = pp->proof_bits;
        if (mpz_sizeinbase(e, 2) > eb) {
            eb = mpz_sizeinbase(e, 2);
        }
        rc = phei_powm_batch(o3, b3, e3, m3, 3, eb, 1);
        if (rc != 0) {
            goto out;
        }
    }
    rc = proof_challenge(pp, ds->index, ds->ct_digest, ds->ci, a, b, ds->e);
    if (rc != 0) {
        goto out;
    }
    /* z = r + e·x over the integers */
    mpz_import(e, 32, 1, 1, 1, 0, ds->e);
    mpz_mul(e, e, x);
    mpz_add(ds->z, r, e);
out:
    phei_mpz_clear_secret(x);
    phei_mpz_clear_secret(r);
    phei_mpz_clear_secret(e);
    mpz_clears(c, c4, a, b, NULL);
    if (rc != 0) {
        phe_threshold_decshare_free(ds);
        return rc;
    }
    *out = ds;
    return 0;
}

static void decshare_write(phei_writer *w, const phe_threshold_decshare *ds) {
    w_header(w, MAGIC_DECSHARE);
    phei_put_u32(w, ds->index);
    phei_put_bytes(w, ds->key_id, 32);
    phei_put_bytes(w, ds->ct_digest, 32);
    phei_put_mpz(w, ds->ci);
    phei_put_bytes(w, ds->e, 32);
    phei_put_mpz(w, ds->z);
}

PHE_API size_t phe_threshold_decshare_encoded_size(const phe_threshold_decshare *ds) {
    phei_writer w = {NULL, 0, 0};
    if (!ds) {
        return 0;
    }
    decshare_write(&w, ds);
    return w.len;
}

PHE_API int phe_threshold_decshare_encode(const phe_threshold_decshare *ds, uint8_t *out,
                                          size_t out_len, size_t *written) {
    phei_writer w = {NULL, 0, 0};
    if (!ds || !out) {
        return PHE_ERR_INVALID_ARG;
    }
    decshare_write(&w, ds);
    if (w.len > out_len) {
        return PHE_ERR_BUFFER_TOO_SMALL;
    }
    w.buf = out;
    w.cap = out_len;
    w.len = 0;
    decshare_write(&w, ds);
    if (written) {
        *written = w.len;
    }
    return 0;
}

PHE_API int phe_threshold_decshare_decode(phe_threshold_decshare **out, const uint8_t *in,
                                          size_t in_len) {
    phei_reader r = {in, in_len};
    phe_threshold_decshare *ds;
    int rc;
    if (!out || (!in && in_len > 0)) {
        return PHE_ERR_INVALID_ARG;
    }
    rc = phei_init();
    if (rc != 0) {
        return rc;
    }
    *out = NULL;
    ds = decshare_alloc();
    if (!ds) {
        return PHE_ERR_NOMEM;
    }
    rc = phei_get_header(&r, MAGIC_DECSHARE, TH_FORMAT_VERSION);
    if (rc == 0) {
        rc = phei_get_u32(&r, &ds->index);
    }
    if (rc == 0 && (ds->index < 1 || ds->index > PHE_THRESHOLD_MAX_HOLDERS)) {
        rc = PHE_ERR_THRESHOLD_INDEX_RANGE;
    }
    if (rc == 0) {
        rc = phei_get_bytes(&r, ds->key_id, 32);
    }
    if (rc == 0) {
        rc = phei_get_bytes(&r, ds->ct_digest, 32);
    }
    if (rc == 0) {
        rc = phei_get_mpz(&r, ds->ci, TH_MAX_BIG);
    }
    if (rc == 0 && mpz_sgn(ds->ci) == 0) {
        rc = PHE_ERR_DECODE;
    }
    if (rc == 0) {
        rc = phei_get_bytes(&r, ds->e, 32);
    }
    if (rc == 0) {
        rc = phei_get_mpz(&r, ds->z, TH_MAX_BIG);
    }
    if (rc == 0) {
        rc = phei_reader_end(&r);
    }
    if (rc != 0) {
        phe_threshold_decshare_free(ds);
        return rc;
    }
    *out = ds;
    return 0;
}

/* Verification with the ciphertext value c already checked. */
static int verify_with_c(const phe_threshold_params *pp, const mpz_t c, const uint8_t dig[32],
                         const phe_threshold_decshare *ds) {
    mpz_t c4, ci2, inv, a, b, e, tmp;
    uint8_t e2[32];
    int rc = 0;
    if (sodium_memcmp(pp->key_id, ds->key_id, 32) != 0) {
        return PHE_ERR_THRESHOLD_WRONG_KEY;
    }
    if (ds->index < 1 || ds->index > pp->l) {
        return PHE_ERR_THRESHOLD_INDEX_RANGE;
    }
    if (sodium_memcmp(dig, ds->ct_digest, 32) != 0) {
        return PHE_ERR_THRESHOLD_WRONG_CIPHERTEXT;
    }
    if (!in_zn2_star(ds->ci, pp->n, pp->n2)) {
        return PHE_ERR_THRESHOLD_SHARE_VALUE;
    }
    if (mpz_sizeinbase(ds->z, 2) > pp->proof_bits + 1) {
        return PHE_ERR_THRESHOLD_PROOF_INVALID;
    }
    mpz_inits(c4, ci2, inv, a, b, e, tmp, NULL);
    mpz_import(e, 32, 1, 1, 1, 0, ds->e);
    /* a = (c⁴)^z · (c_i²)^{−e} */
    mpz_powm_ui(c4, c, 4, pp->n2);
    mpz_powm_ui(ci2, ds->ci, 2, pp->n2);
    mpz_invert(inv, ci2, pp->n2); /* invertible: gcd(c_i, n) = 1 */
    mpz_powm(a, c4, ds->z, pp->n2);
    mpz_powm(tmp, inv, e, pp->n2);
    mpz_mul(a, a, tmp);
    mpz_mod(a, a, pp->n2);
    /* b = v^z · v_i^{−e} */
    mpz_invert(inv, pp->vk[ds->index - 1], pp->n2);
    mpz_powm(b, pp->v, ds->z, pp->n2);
    mpz_powm(tmp, inv, e, pp->n2);
    mpz_mul(b, b, tmp);
    mpz_mod(b, b, pp->n2);
    rc = proof_challenge(pp, ds->index, dig, ds->ci, a, b, e2);
    if (rc == 0 && sodium_memcmp(e2, ds->e, 32) != 0) {
        rc = PHE_ERR_THRESHOLD_PROOF_INVALID;
    }
    mpz_clears(c4, ci2, inv, a, b, e, tmp, NULL);
    return rc;
}

PHE_API int phe_threshold_decshare_verify(const phe_threshold_params *pp, const phe_ciphertext *ct,
                                          const phe_threshold_decshare *ds) {
    uint8_t dig[32];
    int rc;
    mpz_t c;
    if (!pp || !ct || !ds) {
        return PHE_ERR_INVALID_ARG;
    }
    mpz_init(c);
    rc = ct_value(pp, ct, c);
    if (rc == 0) {
        rc = ct_digest(pp, c, dig);
    }
    if (rc == 0) {
        rc = verify_with_c(pp, c, dig, ds);
    }
    mpz_clear(c);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Combination                                                          */
/* ------------------------------------------------------------------ */

/* Verify every share, then M = L(Π c_i^{2μ_i} mod n²)·(4Δ²)^{−1} mod n
 * over the first t shares. */
static int combine(const phe_threshold_params *pp, const phe_ciphertext *ct,
                   const phe_threshold_decshare *const *shares, size_t count, mpz_t m) {
    uint8_t dig[32];
    uint8_t seen[PHE_THRESHOLD_MAX_HOLDERS + 1];
    mpz_t c, acc, mu, den, tmp;
    int rc;
    if (!pp || !ct || (!shares && count > 0)) {
        return PHE_ERR_INVALID_ARG;
    }
    for (size_t k = 0; k < count; k++) {
        if (!shares[k]) {
            return PHE_ERR_INVALID_ARG;
        }
    }
    if (count < pp->t) {
        return PHE_ERR_THRESHOLD_TOO_FEW_SHARES;
    }
    memset(seen, 0, sizeof seen);
    for (size_t k = 0; k < count; k++) {
        uint32_t i = shares[k]->index;
        if (i < 1 || i > pp->l) {
            return PHE_ERR_THRESHOLD_INDEX_RANGE;
        }
        if (seen[i]) {
            return PHE_ERR_THRESHOLD_DUPLICATE_SHARE;
        }
        seen[i] = 1;
    }
    mpz_inits(c, acc, mu, den, tmp, NULL);
    rc = ct_value(pp, ct, c);
    if (rc == 0) {
        rc = ct_digest(pp, c, dig);
    }
    for (size_t k = 0; rc == 0 && k < count; k++) {
        rc = verify_with_c(pp, c, dig, shares[k]);
    }
    if (rc != 0) {
        goto out;
    }
    mpz_set_ui(acc, 1);
    for (uint32_t k = 0; k < pp->t; k++) {
        long i = (long)shares[k]->index;
        /* μ_i = Δ·Π j / Π (j − i), an integer because Δ = l! */
        mpz_set(mu, pp->delta);
        mpz_set_ui(den, 1);
        for (uint32_t h = 0; h < pp->t; h++) {
            long j = (long)shares[h]->index;
            if (h == k) {
                continue;
            }
            mpz_mul_ui(mu, mu, (unsigned long)j);
            mpz_mul_si(den, den, j - i);
        }
        mpz_divexact(mu, mu, den);
        mpz_mul_2exp(mu, mu, 1);
        if (mpz_sgn(mu) < 0) {
            mpz_neg(mu, mu);
            mpz_invert(tmp, shares[k]->ci, pp->n2);
            mpz_powm(tmp, tmp, mu, pp->n2);
        } else {
            mpz_powm(tmp, shares[k]->ci, mu, pp->n2);
        }
        mpz_mul(acc, acc, tmp);
        mpz_mod(acc, acc, pp->n2);
    }
    /* acc = 1 + 4Δ²M·n (mod n²) */
    mpz_sub_ui(acc, acc, 1);
    if (!mpz_divisible_p(acc, pp->n)) {
        rc = PHE_ERR_THRESHOLD_COMBINE_FAILED;
        goto out;
    }
    mpz_divexact(acc, acc, pp->n);
    mpz_mul(tmp, pp->delta, pp->delta);
    mpz_mul_2exp(tmp, tmp, 2);
    if (!mpz_invert(tmp, tmp, pp->n)) {
        rc = PHE_ERR_THRESHOLD_COMBINE_FAILED;
        goto out;
    }
    mpz_mul(m, acc, tmp);
    mpz_mod(m, m, pp->n);
out:
    mpz_clears(c, acc, mu, den, tmp, NULL);
    return rc;
}

PHE_API int phe_threshold_combine_int64(const phe_threshold_params *pp, const phe_ciphertext *ct,
                                        const phe_threshold_decshare *const *shares, size_t count,
                                        int64_t *out) {
    int rc;
    mpz_t m;
    if (!out) {
        return PHE_ERR_INVALID_ARG;
    }
    mpz_init(m);
    rc = combine(pp, ct, shares, count, m);
    if (rc == 0) {
        rc = phei_mpz_to_i64(m, pp->n, out);
    }
    phei_mpz_clear_secret(m);
    return rc;
}

PHE_API int phe_threshold_combine_bytes(const phe_threshold_params *pp, const phe_ciphertext *ct,
                                        const phe_threshold_decshare *const *shares, size_t count,
                                        uint8_t *out, size_t out_len) {
    int rc;
    mpz_t m;
    if (!out || !pp) {
        return PHE_ERR_INVALID_ARG;
    }
    if (out_len < big_len(pp->n)) {
        return PHE_ERR_BUFFER_TOO_SMALL;
    }
    mpz_init(m);
    rc = combine(pp, ct, shares, count, m);
    if (rc == 0) {
        rc = phei_mpz_to_bytes_fixed(m, out, out_len);
    }
    phei_mpz_clear_secret(m);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Batches: one proof per holder per batch of ciphertexts               */
/* ------------------------------------------------------------------ */

/*
 * Holder i's shares d_k = c_k^{2x} (x = Δ·s_i) of c_1 … c_N and ONE proof:
 * coefficients ρ_k of TH_RHO_BYTES·8 bits come from a hash of the whole
 * statement (key id — which covers n, v and every v_j —, i, every c_k,
 * every d_k); C = Π c_k^{ρ_k}, D = Π d_k^{ρ_k} mod n², and the proof is the
 * equality-of-discrete-logs proof of a single share over (C, D):
 * log_{C⁴}(D²) = log_v(v_i). docs/phe-security.md gives the soundness
 * argument (small-exponent batch verification).
 */
struct phe_threshold_decshare_batch {
    uint32_t index;
    uint8_t key_id[32];
    uint8_t cts_digest[32]; /* digest of the ciphertext list (count and values) */
    size_t count;
    mpz_t *d; /* count shares */
    uint8_t e[32];
    mpz_t z;
};

static const char MAGIC_BATCH[4] = {'P', 'H', 'T', 'B'};
static const char TAG_BATCH_CTS[] = "fedshare/phe/threshold/v1/batch-ciphertexts";
static const char TAG_BATCH_SEED[] = "fedshare/phe/threshold/v1/batch-coefficients";
static const char TAG_BATCH_RHO[] = "fedshare/phe/threshold/v1/batch-coefficient";
static const char TAG_BATCH_PROOF[] = "fedshare/phe/threshold/v1/batch-proof";

/* 128-bit combination coefficients: soundness error 2^-128 per hash query. */
#define TH_RHO_BYTES 16
/* Multi-exponentiation: bases per Straus pass (4-bit windows, 16-entry
 * tables), and the widest bucket window (2^14 buckets). */
#define TH_MSM_CHUNK      64
#define TH_MSM_MAX_WINDOW 14

static void h_u64(crypto_hash_sha256_state *h, uint64_t v) {
    h_u32(h, (uint32_t)(v >> 32));
    h_u32(h, (uint32_t)v);
}

static phe_threshold_decshare_batch *batch_alloc(size_t count) {
    phe_threshold_decshare_batch *b = calloc(1, sizeof *b);
    if (!b) {
        return NULL;
    }
    b->d = calloc(count, sizeof(mpz_t));
    if (!b->d) {
        free(b);
        return NULL;
    }
    b->count = count;
    for (size_t k = 0; k < count; k++) {
        mpz_init(b->d[k]);
    }
    mpz_init(b->z);
    return b;
}

PHE_API void phe_threshold_decshare_batch_free(phe_threshold_decshare_batch *b) {
    if (!b) {
        return;
    }
    for (size_t k = 0; k < b->count; k++) {
        mpz_clear(b->d[k]);
    }
    free(b->d);
    mpz_clear(b->z);
    free(b);
}

PHE_API uint32_t phe_threshold_decshare_batch_index(const phe_threshold_decshare_batch *b) {
    return b ? b->index : 0;
}

PHE_API size_t phe_threshold_decshare_batch_count(const phe_threshold_decshare_batch *b) {
    return b ? b->count : 0;
}

static mpz_t *mpz_array_new(size_t count) {
    mpz_t *a = calloc(count, sizeof(mpz_t));
    if (a) {
        for (size_t k = 0; k < count; k++) {
            mpz_init(a[k]);
        }
    }
    return a;
}

static void mpz_array_free(mpz_t *a, size_t count) {
    if (!a) {
        return;
    }
    for (size_t k = 0; k < count; k++) {
        mpz_clear(a[k]);
    }
    free(a);
}

/* The ciphertext values (each checked as ct_value()) and their digest. */
static int cts_load(const phe_threshold_params *pp, const phe_ciphertext *const *cts, size_t count,
                    mpz_t *c, uint8_t dig[32]) {
    crypto_hash_sha256_state h;
    crypto_hash_sha256_init(&h);
    h_tag(&h, TAG_BATCH_CTS);
    if (h_big(&h, pp->n) != 0) {
        return PHE_ERR_INVALID_ARG;
    }
    h_u64(&h, (uint64_t)count);
    for (size_t k = 0; k < count; k++) {
        int rc;
        if (!cts[k]) {
            return PHE_ERR_INVALID_ARG;
        }
        rc = ct_value(pp, cts[k], c[k]);
        if (rc != 0) {
            return rc;
        }
        if (h_big(&h, c[k]) != 0) {
            return PHE_ERR_INVALID_ARG;
        }
    }
    crypto_hash_sha256_final(&h, dig);
    return 0;
}

/* ρ_k (TH_RHO_BYTES each, big-endian) from seed = H(key id, i, ciphertext
 * digest, every d_k). */
static int batch_coefficients(const phe_threshold_params *pp, const phe_threshold_decshare_batch *b,
                              uint8_t seed[32], uint8_t *rho) {
    crypto_hash_sha256_state h;
    crypto_hash_sha256_init(&h);
    h_tag(&h, TAG_BATCH_SEED);
    crypto_hash_sha256_update(&h, pp->key_id, 32);
    h_u32(&h, b->index);
    crypto_hash_sha256_update(&h, b->cts_digest, 32);
    h_u64(&h, (uint64_t)b->count);
    for (size_t k = 0; k < b->count; k++) {
        if (h_big(&h, b->d[k]) != 0) {
            return PHE_ERR_INVALID_ARG;
        }
    }
    crypto_hash_sha256_final(&h, seed);
    for (size_t k = 0; k < b->count; k++) {
        uint8_t out[32];
        crypto_hash_sha256_init(&h);
        h_tag(&h, TAG_BATCH_RHO);
        crypto_hash_sha256_update(&h, seed, 32);
        h_u64(&h, (uint64_t)k);
        crypto_hash_sha256_final(&h, out);
        memcpy(rho + k * TH_RHO_BYTES, out, TH_RHO_BYTES);
    }
    return 0;
}

/* out = Π base[k]^{ρ_k} mod `mod` (public exponents): Straus' simultaneous
 * exponentiation with 4-bit windows, TH_MSM_CHUNK bases per pass, so the
 * squarings are shared by the bases of a pass. ρ_k: rho_bytes big-endian
 * bytes each. About 15 + 2·rho_bytes multiplications per base. */
static int multi_exp_straus(mpz_t out, mpz_t *base, const uint8_t *rho, size_t rho_bytes,
                            size_t count, const mpz_t mod) {
    mpz_t *tbl = mpz_array_new(TH_MSM_CHUNK * 16);
    mpz_t acc;
    if (!tbl) {
        return PHE_ERR_NOMEM;
    }
    mpz_init(acc);
    mpz_set_ui(out, 1);
    for (size_t s = 0; s < count; s += TH_MSM_CHUNK) {
        size_t m = count - s < TH_MSM_CHUNK ? count - s : TH_MSM_CHUNK;
        for (size_t j = 0; j < m; j++) {
            mpz_t *t = tbl + j * 16;
            mpz_set(t[1], base[s + j]);
            for (int w = 2; w < 16; w++) {
                mpz_mul(t[w], t[w - 1], t[1]);
                mpz_mod(t[w], t[w], mod);
            }
        }
        mpz_set_ui(acc, 1);
        for (size_t pos = 0; pos < 2 * rho_bytes; pos++) {
            if (pos > 0) {
                for (int q = 0; q < 4; q++) {
                    mpz_mul(acc, acc, acc);
                    mpz_mod(acc, acc, mod);
                }
            }
            for (size_t j = 0; j < m; j++) {
                uint8_t byte = rho[(s + j) * rho_bytes + pos / 2];
                unsigned nib = (pos & 1) ? (byte & 15u) : (unsigned)(byte >> 4);
                if (nib) {
                    mpz_mul(acc, acc, tbl[j * 16 + nib]);
                    mpz_mod(acc, acc, mod);
                }
            }
        }
        mpz_mul(out, out, acc);
        mpz_mod(out, out, mod);
    }
    mpz_clear(acc);
    mpz_array_free(tbl, TH_MSM_CHUNK * 16);
    return 0;
}

/* Bits [lo, lo + c) of the big-endian ρ (bits past the top read as 0). */
static unsigned rho_digit(const uint8_t *rho, size_t rho_bytes, size_t lo, unsigned c) {
    unsigned d = 0;
    for (unsigned b = 0; b < c; b++) {
        size_t bit = lo + b;
        if (bit >= 8 * rho_bytes) {
            break;
        }
        d |= (unsigned)((rho[rho_bytes - 1 - bit / 8] >> (bit % 8)) & 1u) << b;
    }
    return d;
}

/* Pippenger's bucket method (Pippenger 1980; Bernstein, "Pippenger's
 * exponentiation algorithm", 2002): the exponents are cut into c-bit digits;
 * for each digit position every base joins the bucket of its digit (one
 * multiplication), and Π_j bucket_j^j costs 2·2^c multiplications by running
 * products. About (8·rho_bytes / c)·(count + 2^(c+1)) multiplications, far
 * fewer than Straus' for the batches of a real model (15,874 bases: ~15 per
 * base instead of ~47). Public exponents only: variable time. */
static int multi_exp_buckets(mpz_t out, mpz_t *base, const uint8_t *rho, size_t rho_bytes,
                             size_t count, const mpz_t mod, unsigned c) {
    const size_t nb = ((size_t)1 << c) - 1, bits = 8 * rho_bytes;
    const size_t windows = (bits + c - 1) / c;
    mpz_t *bucket = mpz_array_new(nb + 1);
    uint8_t *used = calloc(nb + 1, 1);
    mpz_t run, sum;
    if (!bucket || !used) {
        if (bucket) {
            mpz_array_free(bucket, nb + 1);
        }
        free(used);
        return PHE_ERR_NOMEM;
    }
    mpz_inits(run, sum, NULL);
    mpz_set_ui(out, 1);
    for (size_t w = windows; w-- > 0;) {
        if (w + 1 < windows) {
            for (unsigned q = 0; q < c; q++) {
                mpz_mul(out, out, out);
                mpz_mod(out, out, mod);
            }
        }
        memset(used, 0, nb + 1);
        for (size_t k = 0; k < count; k++) {
            unsigned d = rho_digit(rho + k * rho_bytes, rho_bytes, w * c, c);
            if (d == 0) {
                continue;
            }
            if (!used[d]) {
                mpz_set(bucket[d], base[k]);
                used[d] = 1;
            } else {
                mpz_mul(bucket[d], bucket[d], base[k]);
                mpz_mod(bucket[d], bucket[d], mod);
            }
        }
        /* Π_j bucket_j^j = Π_{j = nb … 1} (Π_{i ≥ j} bucket_i) */
        int have_run = 0, have_sum = 0;
        for (size_t j = nb; j >= 1; j--) {
            if (used[j]) {
                if (have_run) {
                    mpz_mul(run, run, bucket[j]);
                    mpz_mod(run, run, mod);
                } else {
                    mpz_set(run, bucket[j]);
                    have_run = 1;
                }
            }
            if (have_run) {
                if (have_sum) {
                    mpz_mul(sum, sum, run);
                    mpz_mod(sum, sum, mod);
                } else {
                    mpz_set(sum, run);
                    have_sum = 1;
                }
            }
        }
        if (have_sum) {
            mpz_mul(out, out, sum);
            mpz_mod(out, out, mod);
        }
    }
    mpz_clears(run, sum, NULL);
    mpz_array_free(bucket, nb + 1);
    free(used);
    return 0;
}

int phei_multi_exp(mpz_t out, mpz_t *base, const uint8_t *rho, size_t rho_bytes, size_t count,
                   const mpz_t mod, int method) {
    if (rho_bytes == 0 || method < 0 || (count > 0 && (!base || !rho))) {
        return PHE_ERR_INVALID_ARG;
    }
    /* the window that minimises the estimated multiplications */
    unsigned best_c = 0;
    double best = (double)count * (15.0 + 1.9 * (double)rho_bytes) +
                  (double)((count + TH_MSM_CHUNK - 1) / TH_MSM_CHUNK) * 8.0 * (double)rho_bytes;
    for (unsigned c = 2; c <= TH_MSM_MAX_WINDOW; c++) {
        double w = (double)((8 * rho_bytes + c - 1) / c);
        double cost = w * ((double)count + 2.0 * (double)((size_t)1 << c) + (double)c);
        if (cost < best) {
            best = cost;
            best_c = c;
        }
    }
    if (method == PHEI_MSM_STRAUS || (method == PHEI_MSM_AUTO && best_c == 0)) {
        return multi_exp_straus(out, base, rho, rho_bytes, count, mod);
    }
    if (method > PHEI_MSM_BUCKETS) { /* a forced window, for the tests */
        best_c = (unsigned)(method - PHEI_MSM_BUCKETS);
    } else if (best_c == 0) {
        best_c = 2;
    }
    if (best_c < 1 || best_c > TH_MSM_MAX_WINDOW) {
        return PHE_ERR_INVALID_ARG;
    }
    return multi_exp_buckets(out, base, rho, rho_bytes, count, mod, best_c);
}

static int multi_exp(mpz_t out, mpz_t *base, const uint8_t *rho, size_t count, const mpz_t mod) {
    return phei_multi_exp(out, base, rho, TH_RHO_BYTES, count, mod, PHEI_MSM_AUTO);
}

/* C and D of a batch whose shares and digest are set; also the seed. */
static int batch_combined(const phe_threshold_params *pp, const phe_threshold_decshare_batch *b,
                          mpz_t *c, uint8_t seed[32], mpz_t C, mpz_t D) {
    uint8_t *rho = malloc(b->count * TH_RHO_BYTES);
    int rc;
    if (!rho) {
        return PHE_ERR_NOMEM;
    }
    rc = batch_coefficients(pp, b, seed, rho);
    if (rc == 0) {
        rc = multi_exp(C, c, rho, b->count, pp->n2);
    }
    if (rc == 0) {
        rc = multi_exp(D, b->d, rho, b->count, pp->n2);
    }
    free(rho);
    return rc;
}

/* e = H(tag, key id, i, seed, C, D, a, b); the seed binds the ciphertexts
 * and every share. */
static int batch_challenge(const phe_threshold_params *pp, uint32_t index, const uint8_t seed[32],
                           const mpz_t C, const mpz_t D, const mpz_t a, const mpz_t bb,
                           uint8_t e[32]) {
    crypto_hash_sha256_state h;
    crypto_hash_sha256_init(&h);
    h_tag(&h, TAG_BATCH_PROOF);
    crypto_hash_sha256_update(&h, pp->key_id, 32);
    h_u32(&h, index);
    crypto_hash_sha256_update(&h, seed, 32);
    if (h_big(&h, C) != 0 || h_big(&h, D) != 0 || h_big(&h, a) != 0 || h_big(&h, bb) != 0) {
        return PHE_ERR_INVALID_ARG;
    }
    crypto_hash_sha256_final(&h, e);
    return 0;
}

typedef struct share_job {
    const phe_threshold_params *pp;
    mpz_t *c;
    mpz_t *d;
    const mpz_t *x2; /* 2Δ·s_i, secret */
    size_t count;
    size_t exp_bits; /* a public bound on x2's length */
} share_job;

static int share_item(void *arg, size_t k) {
    share_job *job = arg;
    mpz_powm_sec(job->d[k], job->c[k], *job->x2, job->pp->n2);
    return 0;
}

/* Eight shares per task in the IFMA kernel's lanes (same secret exponent,
 * constant time in it); a group the kernel does not take falls back to
 * mpz_powm_sec item by item. */
#define SHARE_GROUP 8
static int share_group(void *arg, size_t g) {
    share_job *job = arg;
    size_t lo = g * SHARE_GROUP, n = job->count - lo < SHARE_GROUP ? job->count - lo : SHARE_GROUP;
    mpz_ptr o[SHARE_GROUP] = {NULL};
    mpz_srcptr b[SHARE_GROUP] = {NULL}, e[SHARE_GROUP] = {NULL}, m[SHARE_GROUP] = {NULL};
    for (size_t i = 0; i < n; i++) {
        o[i] = job->d[lo + i];
        b[i] = job->c[lo + i];
        e[i] = *job->x2;
        m[i] = job->pp->n2;
    }
    int rc = phei_powm_mb8(o, b, e, m, n, job->exp_bits);
    if (rc > 0) {
        for (size_t i = 0; i < n; i++)
            share_item(arg, lo + i);
        rc = 0;
    }
    return rc;
}

PHE_API int phe_threshold_decshare_batch_create(phe_threshold_decshare_batch **out,
                                                const phe_threshold_params *pp,
                                                const phe_threshold_keyshare *ks,
                                                const phe_ciphertext *const *cts, size_t count,
                                                phe_ctx *ctx, phe_rng *rng) {
    phe_threshold_decshare_batch *b = NULL;
    mpz_t *c = NULL;
    uint8_t seed[32];
    mpz_t x, x2, C, D, c4, r, a, bb, e;
    share_job job;
    int rc;
    if (!out || !pp || !ks || !cts) {
        return PHE_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (count == 0 || count > PHE_THRESHOLD_MAX_BATCH) {
        return PHE_ERR_INVALID_ARG;
    }
    rc = phei_init();
    if (rc != 0) {
        return rc;
    }
    if (sodium_memcmp(pp->key_id, ks->key_id, 32) != 0 || ks->t != pp->t || ks->l != pp->l) {
        return PHE_ERR_THRESHOLD_WRONG_KEY;
    }
    if (ks->index < 1 || ks->index > pp->l) {
        return PHE_ERR_THRESHOLD_INDEX_RANGE;
    }
    b = batch_alloc(count);
    c = mpz_array_new(count);
    if (!b || !c) {
        phe_threshold_decshare_batch_free(b);
        mpz_array_free(c, c ? count : 0);
        return PHE_ERR_NOMEM;
    }
    mpz_inits(x, x2, C, D, c4, r, a, bb, e, NULL);
    b->index = ks->index;
    memcpy(b->key_id, pp->key_id, 32);
    rc = cts_load(pp, cts, count, c, b->cts_digest);
    if (rc != 0) {
        goto out;
    }
    /* d_k = c_k^{2x}, x = Δ·s_i (secret exponent: constant time) */
    mpz_mul(x, pp->delta, ks->s);
    mpz_mul_2exp(x2, x, 1);
    job.pp = pp;
    job.c = c;
    job.d = b->d;
    job.x2 = (const mpz_t *)&x2;
    job.count = count;
    /* s_i < nm < n², so 2Δ·s_i has at most bits(n²) + bits(Δ) + 1 bits: a
     * bound fixed by the parameters, not by the secret (a decoded share
     * that exceeds it only lengthens the scan to its own length). */
    job.exp_bits = mpz_sizeinbase(pp->n2, 2) + mpz_sizeinbase(pp->delta, 2) + 1;
    if (mpz_sizeinbase(x2, 2) > job.exp_bits) {
        job.exp_bits = mpz_sizeinbase(x2, 2);
    }
    if (phei_mb8_available()) {
        rc = phei_ctx_run(ctx, share_group, &job, (count + SHARE_GROUP - 1) / SHARE_GROUP);
    } else {
        rc = phei_ctx_run(ctx, share_item, &job, count);
    }
    if (rc != 0) {
        goto out;
    }
    rc = batch_combined(pp, b, c, seed, C, D);
    if (rc != 0) {
        goto out;
    }
    /* The single-share proof over (C, D): a = (C⁴)^r, b = v^r, z = r + e·x. */
    mpz_powm_ui(c4, C, 4, pp->n2);
    rc = phei_rand_bits(r, pp->proof_bits, rng);
    if (rc != 0) {
        goto out;
    }
    mpz_setbit(r, 0); /* mpz_powm_sec needs a positive exponent */
    {
        mpz_ptr o2[2] = {a, bb};
        mpz_srcptr b2[2] = {c4, pp->v}, e2[2] = {r, r}, m2[2] = {pp->n2, pp->n2};
        rc = phei_powm_batch(o2, b2, e2, m2, 2, pp->proof_bits, 1);
        if (rc != 0) {
            goto out;
        }
    }
    rc = batch_challenge(pp, b->index, seed, C, D, a, bb, b->e);
    if (rc != 0) {
        goto out;
    }
    mpz_import(e, 32, 1, 1, 1, 0, b->e);
    mpz_mul(e, e, x);
    mpz_add(b->z, r, e);
out:
    phei_mpz_clear_secret(x);
    phei_mpz_clear_secret(x2);
    phei_mpz_clear_secret(r);
    phei_mpz_clear_secret(e);
    mpz_clears(C, D, c4, a, bb, NULL);
    mpz_array_free(c, count);
    if (rc != 0) {
        phe_threshold_decshare_batch_free(b);
        return rc;
    }
    *out = b;
    return 0;
}

/* Verification with the ciphertext values and digest already computed. */
static int verify_batch_with_c(const phe_threshold_params *pp, mpz_t *c, size_t count,
                               const uint8_t dig[32], const phe_threshold_decshare_batch *b) {
    uint8_t seed[32], e2[32];
    mpz_t C, D, c4, d2, inv, a, bb, e, tmp;
    int rc;
    if (sodium_memcmp(pp->key_id, b->key_id, 32) != 0) {
        return PHE_ERR_THRESHOLD_WRONG_KEY;
    }
    if (b->index < 1 || b->index > pp->l) {
        return PHE_ERR_THRESHOLD_INDEX_RANGE;
    }
    if (b->count != count || sodium_memcmp(dig, b->cts_digest, 32) != 0) {
        return PHE_ERR_THRESHOLD_WRONG_CIPHERTEXT;
    }
    for (size_t k = 0; k < count; k++) {
        if (!in_zn2_star(b->d[k], pp->n, pp->n2)) {
            return PHE_ERR_THRESHOLD_SHARE_VALUE;
        }
    }
    if (mpz_sizeinbase(b->z, 2) > pp->proof_bits + 1) {
        return PHE_ERR_THRESHOLD_PROOF_INVALID;
    }
    mpz_inits(C, D, c4, d2, inv, a, bb, e, tmp, NULL);
    rc = batch_combined(pp, b, c, seed, C, D);
    if (rc != 0) {
        goto out;
    }
    mpz_import(e, 32, 1, 1, 1, 0, b->e);
    /* a = (C⁴)^z · (D²)^{−e}; D is invertible as a product of units */
    mpz_powm_ui(c4, C, 4, pp->n2);
    mpz_powm_ui(d2, D, 2, pp->n2);
    mpz_invert(inv, d2, pp->n2);
    mpz_powm(a, c4, b->z, pp->n2);
    mpz_powm(tmp, inv, e, pp->n2);
    mpz_mul(a, a, tmp);
    mpz_mod(a, a, pp->n2);
    /* b = v^z · v_i^{−e} */
    mpz_invert(inv, pp->vk[b->index - 1], pp->n2);
    mpz_powm(bb, pp->v, b->z, pp->n2);
    mpz_powm(tmp, inv, e, pp->n2);
    mpz_mul(bb, bb, tmp);
    mpz_mod(bb, bb, pp->n2);
    rc = batch_challenge(pp, b->index, seed, C, D, a, bb, e2);
    if (rc == 0 && sodium_memcmp(e2, b->e, 32) != 0) {
        rc = PHE_ERR_THRESHOLD_PROOF_INVALID;
    }
out:
    mpz_clears(C, D, c4, d2, inv, a, bb, e, tmp, NULL);
    return rc;
}

PHE_API int phe_threshold_verify_batch(const phe_threshold_params *pp,
                                       const phe_ciphertext *const *cts, size_t count,
                                       const phe_threshold_decshare_batch *b) {
    uint8_t dig[32];
    mpz_t *c;
    int rc;
    if (!pp || !cts || !b || count == 0 || count > PHE_THRESHOLD_MAX_BATCH) {
        return PHE_ERR_INVALID_ARG;
    }
    c = mpz_array_new(count);
    if (!c) {
        return PHE_ERR_NOMEM;
    }
    rc = cts_load(pp, cts, count, c, dig);
    if (rc == 0) {
        rc = verify_batch_with_c(pp, c, count, dig, b);
    }
    mpz_array_free(c, count);
    return rc;
}

/* μ = Δ·Π_{h≠k} (j_h − i)/(j_h − j_k) over the holders j of `idx` (len t),
 * evaluated at point i: an integer because Δ = l! (Shoup, Lemma 2). */
static int lagrange_at(const phe_threshold_params *pp, const uint32_t *idx, uint32_t t, uint32_t k,
                       long point, mpz_t mu) {
    mpz_t den;
    mpz_init(den);
    mpz_set(mu, pp->delta);
    mpz_set_ui(den, 1);
    for (uint32_t h = 0; h < t; h++) {
        if (h == k) {
            continue;
        }
        mpz_mul_si(mu, mu, (long)idx[h] - point);
        mpz_mul_si(den, den, (long)idx[h] - (long)idx[k]);
    }
    if (!mpz_divisible_p(mu, den)) {
        mpz_clear(den);
        return PHE_ERR_INTERNAL;
    }
    mpz_divexact(mu, mu, den);
    mpz_clear(den);
    return 0;
}

/* out = base^mu mod n² for a signed mu (base a unit). */
static void powm_signed(mpz_t out, const mpz_t base, const mpz_t mu, const mpz_t n2) {
    mpz_t m;
    mpz_init(m);
    if (mpz_sgn(mu) < 0) {
        mpz_neg(m, mu);
        mpz_invert(out, base, n2);
        mpz_powm(out, out, m, n2);
    } else {
        mpz_powm(out, base, mu, n2);
    }
    mpz_clear(m);
}

/* Check indices (range, duplicates, at least t); 0 or the combine codes. */
static int check_batch_set(const phe_threshold_params *pp,
                           const phe_threshold_decshare_batch *const *batches, size_t nb,
                           uint32_t exclude) {
    uint8_t seen[PHE_THRESHOLD_MAX_HOLDERS + 1];
    for (size_t k = 0; k < nb; k++) {
        if (!batches[k]) {
            return PHE_ERR_INVALID_ARG;
        }
    }
    if (nb < pp->t) {
        return PHE_ERR_THRESHOLD_TOO_FEW_SHARES;
    }
    memset(seen, 0, sizeof seen);
    if (exclude >= 1 && exclude <= pp->l) {
        seen[exclude] = 1;
    }
    for (size_t k = 0; k < nb; k++) {
        uint32_t i = batches[k]->index;
        if (i < 1 || i > pp->l) {
            return PHE_ERR_THRESHOLD_INDEX_RANGE;
        }
        if (seen[i]) {
            return PHE_ERR_THRESHOLD_DUPLICATE_SHARE;
        }
        seen[i] = 1;
    }
    return 0;
}

/* Verify every batch (bad_holders: bit i−1 for each holder i whose batch
 * fails), then combine element by element over the first t. */
typedef int (*emit_fn)(void *arg, size_t k, const mpz_t m);

static int combine_batch(const phe_threshold_params *pp, const phe_ciphertext *const *cts,
                         size_t count, const phe_threshold_decshare_batch *const *batches,
                         size_t nb, uint64_t *bad_holders, emit_fn emit, void *arg) {
    uint8_t dig[32];
    uint32_t idx[PHE_THRESHOLD_MAX_HOLDERS];
    mpz_t mu[PHE_THRESHOLD_MAX_HOLDERS];
    mpz_t *c = NULL;
    mpz_t acc, tmp, m, inv4d2;
    uint64_t bad = 0;
    int rc;
    if (bad_holders) {
        *bad_holders = 0;
    }
    if (!pp || !cts || (!batches && nb > 0) || count == 0 || count > PHE_THRESHOLD_MAX_BATCH) {
        return PHE_ERR_INVALID_ARG;
    }
    rc = check_batch_set(pp, batches, nb, 0);
    if (rc != 0) {
        return rc;
    }
    c = mpz_array_new(count);
    if (!c) {
        return PHE_ERR_NOMEM;
    }
    rc = cts_load(pp, cts, count, c, dig);
    if (rc != 0) {
        mpz_array_free(c, count);
        return rc;
    }
    for (size_t k = 0; k < nb; k++) {
        int r1 = verify_batch_with_c(pp, c, count, dig, batches[k]);
        if (r1 != 0) {
            bad |= (uint64_t)1 << (batches[k]->index - 1);
            if (rc == 0) {
                rc = r1;
            }
        }
    }
    if (bad_holders) {
        *bad_holders = bad;
    }
    if (rc != 0) {
        mpz_array_free(c, count);
        return rc;
    }
    mpz_inits(acc, tmp, m, inv4d2, NULL);
    for (uint32_t k = 0; k < pp->t; k++) {
        idx[k] = batches[k]->index;
        mpz_init(mu[k]);
    }
    for (uint32_t k = 0; rc == 0 && k < pp->t; k++) {
        rc = lagrange_at(pp, idx, pp->t, k, 0, mu[k]);
        mpz_mul_2exp(mu[k], mu[k], 1);
    }
    mpz_mul(inv4d2, pp->delta, pp->delta);
    mpz_mul_2exp(inv4d2, inv4d2, 2);
    if (rc == 0 && !mpz_invert(inv4d2, inv4d2, pp->n)) {
        rc = PHE_ERR_THRESHOLD_COMBINE_FAILED;
    }
    for (size_t e = 0; rc == 0 && e < count; e++) {
        mpz_set_ui(acc, 1);
        for (uint32_t k = 0; k < pp->t; k++) {
            powm_signed(tmp, batches[k]->d[e], mu[k], pp->n2);
            mpz_mul(acc, acc, tmp);
            mpz_mod(acc, acc, pp->n2);
        }
        mpz_sub_ui(acc, acc, 1);
        if (!mpz_divisible_p(acc, pp->n)) {
            rc = PHE_ERR_THRESHOLD_COMBINE_FAILED;
            break;
        }
        mpz_divexact(acc, acc, pp->n);
        mpz_mul(m, acc, inv4d2);
        mpz_mod(m, m, pp->n);
        rc = emit(arg, e, m);
    }
    for (uint32_t k = 0; k < pp->t; k++) {
        mpz_clear(mu[k]);
    }
    phei_mpz_clear_secret(m);
    phei_mpz_clear_secret(acc);
    mpz_clears(tmp, inv4d2, NULL);
    mpz_array_free(c, count);
    return rc;
}

typedef struct emit_i64 {
    const mpz_t *n;
    int64_t *out;
} emit_i64;

static int emit_int64(void *arg, size_t k, const mpz_t m) {
    emit_i64 *a = arg;
    return phei_mpz_to_i64(m, *a->n, &a->out[k]);
}

typedef struct emit_b {
    uint8_t *out;
    size_t out_len, stride;
} emit_b;

static int emit_bytes(void *arg, size_t k, const mpz_t m) {
    emit_b *a = arg;
    return phei_mpz_to_bytes_fixed(m, a->out + k * a->stride, a->out_len);
}

PHE_API int phe_threshold_combine_batch_int64(const phe_threshold_params *pp,
                                              const phe_ciphertext *const *cts, size_t count,
                                              const phe_threshold_decshare_batch *const *batches,
                                              size_t nb, int64_t *out, uint64_t *bad_holders) {
    emit_i64 a;
    if (bad_holders) {
        *bad_holders = 0;
    }
    if (!pp || !out) {
        return PHE_ERR_INVALID_ARG;
    }
    a.n = (const mpz_t *)&pp->n;
    a.out = out;
    return combine_batch(pp, cts, count, batches, nb, bad_holders, emit_int64, &a);
}

PHE_API int phe_threshold_combine_batch_bytes(const phe_threshold_params *pp,
                                              const phe_ciphertext *const *cts, size_t count,
                                              const phe_threshold_decshare_batch *const *batches,
                                              size_t nb, uint8_t *out, size_t out_len,
                                              size_t stride, uint64_t *bad_holders) {
    emit_b a;
    if (bad_holders) {
        *bad_holders = 0;
    }
    if (!pp || !out) {
        return PHE_ERR_INVALID_ARG;
    }
    if (out_len < big_len(pp->n)) {
        return PHE_ERR_BUFFER_TOO_SMALL;
    }
    if (count > 1 && stride < out_len) {
        return PHE_ERR_INVALID_ARG;
    }
    a.out = out;
    a.out_len = out_len;
    a.stride = stride;
    return combine_batch(pp, cts, count, batches, nb, bad_holders, emit_bytes, &a);
}

PHE_API int phe_threshold_locate_batch(const phe_threshold_params *pp,
                                       const phe_ciphertext *const *cts, size_t count,
                                       const phe_threshold_decshare_batch *suspect,
                                       const phe_threshold_decshare_batch *const *good,
                                       size_t ngood, uint8_t *bad, size_t *nbad) {
    uint8_t dig[32];
    uint32_t idx[PHE_THRESHOLD_MAX_HOLDERS];
    mpz_t mu[PHE_THRESHOLD_MAX_HOLDERS];
    mpz_t *c = NULL;
    mpz_t lhs, rhs, tmp, twodelta;
    size_t found = 0;
    int rc;
    if (nbad) {
        *nbad = 0;
    }
    if (!pp || !cts || !suspect || !bad || !nbad || (!good && ngood > 0) || count == 0 ||
        count > PHE_THRESHOLD_MAX_BATCH) {
        return PHE_ERR_INVALID_ARG;
    }
    if (sodium_memcmp(pp->key_id, suspect->key_id, 32) != 0) {
        return PHE_ERR_THRESHOLD_WRONG_KEY;
    }
    if (suspect->index < 1 || suspect->index > pp->l) {
        return PHE_ERR_THRESHOLD_INDEX_RANGE;
    }
    rc = check_batch_set(pp, good, ngood, suspect->index);
    if (rc != 0) {
        return rc;
    }
    c = mpz_array_new(count);
    if (!c) {
        return PHE_ERR_NOMEM;
    }
    rc = cts_load(pp, cts, count, c, dig);
    if (rc == 0 && (suspect->count != count || sodium_memcmp(dig, suspect->cts_digest, 32) != 0)) {
        rc = PHE_ERR_THRESHOLD_WRONG_CIPHERTEXT;
    }
    /* The reference holders must prove their own batches. */
    for (size_t k = 0; rc == 0 && k < pp->t; k++) {
        rc = verify_batch_with_c(pp, c, count, dig, good[k]);
    }
    if (rc != 0) {
        mpz_array_free(c, count);
        return rc;
    }
    mpz_inits(lhs, rhs, tmp, twodelta, NULL);
    for (uint32_t k = 0; k < pp->t; k++) {
        idx[k] = good[k]->index;
        mpz_init(mu[k]);
    }
    for (uint32_t k = 0; rc == 0 && k < pp->t; k++) {
        rc = lagrange_at(pp, idx, pp->t, k, (long)suspect->index, mu[k]);
    }
    mpz_mul_2exp(twodelta, pp->delta, 1);
    /* d_i^{2Δ} must equal (Π_j d_j^{μ_j})² where Σ μ_j s_j ≡ Δ s_i. */
    for (size_t e = 0; rc == 0 && e < count; e++) {
        int ok = in_zn2_star(suspect->d[e], pp->n, pp->n2);
        if (ok) {
            mpz_powm(lhs, suspect->d[e], twodelta, pp->n2);
            mpz_set_ui(rhs, 1);
            for (uint32_t k = 0; k < pp->t; k++) {
                powm_signed(tmp, good[k]->d[e], mu[k], pp->n2);
                mpz_mul(rhs, rhs, tmp);
                mpz_mod(rhs, rhs, pp->n2);
            }
            mpz_powm_ui(rhs, rhs, 2, pp->n2);
            ok = mpz_cmp(lhs, rhs) == 0;
        }
        bad[e] = ok ? 0 : 1;
        found += ok ? 0 : 1;
    }
    for (uint32_t k = 0; k < pp->t; k++) {
        mpz_clear(mu[k]);
    }
    mpz_clears(lhs, rhs, tmp, twodelta, NULL);
    mpz_array_free(c, count);
    if (rc == 0) {
        *nbad = found;
    }
    return rc;
}

static void batch_write(phei_writer *w, const phe_threshold_decshare_batch *b) {
    w_header(w, MAGIC_BATCH);
    phei_put_u32(w, b->index);
    phei_put_bytes(w, b->key_id, 32);
    phei_put_bytes(w, b->cts_digest, 32);
    phei_put_u32(w, (uint32_t)b->count);
    for (size_t k = 0; k < b->count; k++) {
        phei_put_mpz(w, b->d[k]);
    }
    phei_put_bytes(w, b->e, 32);
    phei_put_mpz(w, b->z);
}

PHE_API size_t phe_threshold_decshare_batch_encoded_size(const phe_threshold_decshare_batch *b) {
    phei_writer w = {NULL, 0, 0};
    if (!b) {
        return 0;
    }
    batch_write(&w, b);
    return w.len;
}

PHE_API int phe_threshold_decshare_batch_encode(const phe_threshold_decshare_batch *b, uint8_t *out,
                                                size_t out_len, size_t *written) {
    phei_writer w = {NULL, 0, 0};
    if (!b || !out) {
        return PHE_ERR_INVALID_ARG;
    }
    batch_write(&w, b);
    if (w.len > out_len) {
        return PHE_ERR_BUFFER_TOO_SMALL;
    }
    w.buf = out;
    w.cap = out_len;
    w.len = 0;
    batch_write(&w, b);
    if (written) {
        *written = w.len;
    }
    return 0;
}

PHE_API int phe_threshold_decshare_batch_decode(phe_threshold_decshare_batch **out,
                                                const uint8_t *in, size_t in_len) {
    phei_reader r = {in, in_len};
    phe_threshold_decshare_batch *b = NULL;
    uint32_t index = 0, count = 0;
    uint8_t key_id[32], dig[32];
    int rc;
    if (!out || (!in && in_len > 0)) {
        return PHE_ERR_INVALID_ARG;
    }
    *out = NULL;
    rc = phei_init();
    if (rc != 0) {
        return rc;
    }
    rc = phei_get_header(&r, MAGIC_BATCH, TH_FORMAT_VERSION);
    if (rc == 0) {
        rc = phei_get_u32(&r, &index);
    }
    if (rc == 0 && (index < 1 || index > PHE_THRESHOLD_MAX_HOLDERS)) {
        rc = PHE_ERR_THRESHOLD_INDEX_RANGE;
    }
    if (rc == 0) {
        rc = phei_get_bytes(&r, key_id, 32);
    }
    if (rc == 0) {
        rc = phei_get_bytes(&r, dig, 32);
    }
    if (rc == 0) {
        rc = phei_get_u32(&r, &count);
    }
    /* Each share takes at least 5 bytes (length and one byte): refuse a count
     * the input cannot hold before allocating for it. */
    if (rc == 0 && (count == 0 || count > PHE_THRESHOLD_MAX_BATCH || count > r.left / 5)) {
        rc = PHE_ERR_DECODE;
    }
    if (rc != 0) {
        return rc;
    }
    b = batch_alloc(count);
    if (!b) {
        return PHE_ERR_NOMEM;
    }
    b->index = index;
    memcpy(b->key_id, key_id, 32);
    memcpy(b->cts_digest, dig, 32);
    for (size_t k = 0; rc == 0 && k < count; k++) {
        rc = phei_get_mpz(&r, b->d[k], TH_MAX_BIG);
        if (rc == 0 && mpz_sgn(b->d[k]) == 0) {
            rc = PHE_ERR_DECODE;
        }
    }
    if (rc == 0) {
        rc = phei_get_bytes(&r, b->e, 32);
    }
    if (rc == 0) {
        rc = phei_get_mpz(&r, b->z, TH_MAX_BIG);
    }
    if (rc == 0) {
        rc = phei_reader_end(&r);
    }
    if (rc != 0) {
        phe_threshold_decshare_batch_free(b);
        return rc;
    }
    *out = b;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Key share files (encrypted at rest)                                  */
/* ------------------------------------------------------------------ */

/* "PHTF" (docs/formats/phe-threshold.md; envelope versions as seal.c): the box length is bounded
 * only by the input, files hold at most 64 KiB and are never replaced. */
static const phei_seal_format SEALED_SHARE_FORMAT = {
    .magic = {'P', 'H', 'T', 'F'},
    .max_box = UINT32_MAX,
    .max_file = 65536,
    .file_mode = PHEI_SEAL_FILE_NEW,
};

PHE_API size_t phe_threshold_keyshare_sealed_size(const phe_threshold_keyshare *ks) {
    if (!ks) {
        return 0;
    }
    return phei_sealed_size(phe_threshold_keyshare_encoded_size(ks));
}

PHE_API int phe_threshold_keyshare_seal(const phe_threshold_keyshare *ks, const uint8_t *pass,
                                        size_t pass_len, phe_kdf_strength strength, phe_rng *rng,
                                        uint8_t *out, size_t out_len, size_t *written) {
    uint64_t ops, mem;
    size_t plen, need;
    uint8_t *plain;
    int rc;
    /* Unlike phe_seckey_seal(), out is required (no size query through
     * out == NULL) and written is optional. */
    if (!ks || !out || (!pass && pass_len > 0) || pass_len > crypto_pwhash_PASSWD_MAX ||
        phei_kdf_limits(strength, &ops, &mem) != 0) {
        return PHE_ERR_INVALID_ARG;
    }
    rc = phei_init();
    if (rc != 0) {
        return rc;
    }
    plen = phe_threshold_keyshare_encoded_size(ks);
    need = phei_sealed_size(plen);
    if (written) {
        *written = need;
    }
    if (out_len < need) {
        return PHE_ERR_BUFFER_TOO_SMALL;
    }
    plain = sodium_malloc(plen);
    if (!plain) {
        return PHE_ERR_NOMEM;
    }
    rc = phe_threshold_keyshare_encode(ks, plain, plen, NULL);
    if (rc == 0) {
        rc = phei_seal(&SEALED_SHARE_FORMAT, plain, plen, pass, pass_len, strength, rng, out,
                       out_len);
    }
    sodium_free(plain);
    return rc;
}

PHE_API int phe_threshold_keyshare_unseal(phe_threshold_keyshare **out, const uint8_t *in,
                                          size_t in_len, const uint8_t *pass, size_t pass_len) {
    uint8_t *plain;
    size_t plen;
    int rc;
    if (!out || (!in && in_len > 0) || (!pass && pass_len > 0) ||
        pass_len > crypto_pwhash_PASSWD_MAX) {
        return PHE_ERR_INVALID_ARG;
    }
    rc = phei_init();
    if (rc != 0) {
        return rc;
    }
    *out = NULL;
    rc = phei_unseal(&SEALED_SHARE_FORMAT, in, in_len, pass, pass_len, &plain, &plen);
    if (rc != 0) {
        return rc;
    }
    /* Authenticated bytes that do not decode keep the PHTK decoder's code
     * (PHE_ERR_DECODE, PHE_ERR_VERSION, ...), as threshold.h documents; the
     * secret key path maps them to PHE_ERR_KEY_INVALID instead. */
    rc = phe_threshold_keyshare_decode(out, plain, plen);
    sodium_free(plain);
    return rc;
}

PHE_API int phe_threshold_keyshare_write_file(const phe_threshold_keyshare *ks, const char *path,
                                              const uint8_t *pass, size_t pass_len,
                                              phe_kdf_strength strength, phe_rng *rng) {
    size_t len;
    uint8_t *buf;
    int rc;
    if (!ks || !path) {
        return PHE_ERR_INVALID_ARG;
    }
    len = phe_threshold_keyshare_sealed_size(ks);
    buf = malloc(len);
    if (!buf) {
        return PHE_ERR_NOMEM;
    }
    rc = phe_threshold_keyshare_seal(ks, pass, pass_len, strength, rng, buf, len, &len);
    if (rc == 0) {
        rc = phei_seal_write_file(&SEALED_SHARE_FORMAT, path, buf, len);
    }
    free(buf);
    return rc;
}

PHE_API int phe_threshold_keyshare_read_file(phe_threshold_keyshare **out, const char *path,
                                             const uint8_t *pass, size_t pass_len) {
    uint8_t *buf;
    size_t len;
    int rc;
    if (!out || !path) {
        return PHE_ERR_INVALID_ARG;
    }
    *out = NULL;
    rc = phei_seal_read_file(&SEALED_SHARE_FORMAT, path, &buf, &len);
    if (rc != 0) {
        return rc;
    }
    rc = phe_threshold_keyshare_unseal(out, buf, len, pass, pass_len);
    free(buf);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Error text                                                           */
/* ------------------------------------------------------------------ */

PHE_API const char *phe_threshold_strerror(int code) {
    switch (code) {
        /* clang-format off */
        /* codes:begin libphe.threshold.cases: generated from libphe/codes.tsv by tools/gen_codes.py */
        case PHE_ERR_THRESHOLD_PARAMS:
            return "threshold: t or l out of range (1 <= t <= l <= 64)";
        case PHE_ERR_THRESHOLD_NOT_SAFE_PRIME:
            return "threshold: a dealer prime is not a safe prime of the right size";
        case PHE_ERR_THRESHOLD_INDEX_RANGE:
            return "threshold: holder index out of range (1 to l)";
        case PHE_ERR_THRESHOLD_DUPLICATE_SHARE:
            return "threshold: two shares from the same holder";
        case PHE_ERR_THRESHOLD_TOO_FEW_SHARES:
            return "threshold: fewer than t shares (combine needs t from distinct holders)";
        case PHE_ERR_THRESHOLD_WRONG_KEY:
            return "threshold: share belongs to another threshold key";
        case PHE_ERR_THRESHOLD_WRONG_CIPHERTEXT:
            return "threshold: decryption share was made for another ciphertext";
        case PHE_ERR_THRESHOLD_PROOF_INVALID:
            return "threshold: decryption share proof does not verify";
        case PHE_ERR_THRESHOLD_SHARE_VALUE:
            return "threshold: decryption share value not in Z*_{n^2}";
        case PHE_ERR_THRESHOLD_COMBINE_FAILED:
            return "threshold: shares do not combine to a plaintext";
        /* codes:end */
        /* clang-format on */
        /* clang-format off */
        /* codes:begin libphe.dkg.cases: generated from libphe/codes.tsv by tools/gen_codes.py */
        case PHE_ERR_DKG_STATE:
            return "dkg: call not valid in this state";
        case PHE_ERR_DKG_SESSION:
            return "dkg: message of another session, from an unknown holder or not for this holder";
        case PHE_ERR_DKG_ROUND:
            return "dkg: message of another round or type than expected";
        case PHE_ERR_DKG_DUPLICATE:
            return "dkg: second message from the same holder in one round";
        case PHE_ERR_DKG_BLAME:
            return "dkg: a holder sent a share inconsistent with its commitment (phe_dkg_blamed names it)";
        case PHE_ERR_DKG_INCONSISTENT:
            return "dkg: the holders saw different commitments";
        case PHE_ERR_DKG_GIVE_UP:
            return "dkg: no modulus found within the candidate limit (PHE_DKG_MAX_CANDIDATES); start a new ceremony";
        /* codes:end */
        /* clang-format on */
        default:
            return NULL;
    }
}
