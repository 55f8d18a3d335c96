/* libphe: public and secret keys: generation, validation, the DJN base and
 * its fixed-base table, encodings, sealed files. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "phe_internal.h"

static const char PUBKEY_MAGIC[4] = {'P', 'H', 'E', 'P'};
static const char SECKEY_MAGIC[4] = {'P', 'H', 'E', 'S'};
#define FORMAT_V1 1

/* ------------------------------------------------------------------ */
/* Public keys                                                          */
/* ------------------------------------------------------------------ */

phe_pubkey *phei_pubkey_alloc(void) {
    phe_pubkey *pk = calloc(1, sizeof *pk);
    if (pk == NULL)
        return NULL;
    if (pthread_mutex_init(&pk->table_lock, NULL) != 0) {
        free(pk);
        return NULL;
    }
    mpz_inits(pk->n, pk->n2, pk->hs, NULL);
    atomic_init(&pk->table_ready, 0);
    return pk;
}

static void table_free(phei_fbtable *t) {
    free(t->mont);
    free(t->mod);
    t->mont = NULL;
    t->mod = NULL;
}

void phe_pubkey_free(phe_pubkey *pk) {
    if (pk == NULL)
        return;
    table_free(&pk->table);
    phei_mb8_fb_free(pk->mb8);
    mpz_clears(pk->n, pk->n2, pk->hs, NULL);
    pthread_mutex_destroy(&pk->table_lock);
    free(pk);
}

/* Odd primes below 2^16 are ruled out by trial division: one gcd with their
 * product (computed once). */
static pthread_once_t small_once = PTHREAD_ONCE_INIT;
static mpz_t small_primorial;

static void small_primorial_init(void) {
    mpz_init(small_primorial);
    mpz_primorial_ui(small_primorial, 65535);
}

int phei_check_modulus(const mpz_t n) {
    if (mpz_sgn(n) <= 0)
        return PHE_ERR_KEY_INVALID;
    size_t bits = mpz_sizeinbase(n, 2);
    /* The size is checked first and told apart from other faults: a 1024-bit
     * key (python-paillier's default) is refused as too small, not as broken. */
    if (bits < PHEI_MIN_IMPORT_BITS || bits > PHEI_MAX_IMPORT_BITS)
        return PHE_ERR_KEY_SIZE;
    if (mpz_even_p(n))
        return PHE_ERR_KEY_INVALID;
    pthread_once(&small_once, small_primorial_init);
    mpz_t g;
    mpz_init(g);
    mpz_gcd(g, n, small_primorial);
    int bad = mpz_cmp_ui(g, 1) != 0;
    mpz_clear(g);
    if (bad)
        return PHE_ERR_KEY_INVALID;
    if (mpz_perfect_power_p(n))
        return PHE_ERR_KEY_INVALID;
    if (mpz_probab_prime_p(n, 25) > 0)
        return PHE_ERR_KEY_INVALID;
    return 0;
}

static int check_hs(const mpz_t n, const mpz_t n2, const mpz_t hs) {
    if (mpz_cmp_ui(hs, 1) <= 0 || mpz_cmp(hs, n2) >= 0)
        return PHE_ERR_KEY_INVALID;
    mpz_t g;
    mpz_init(g);
    mpz_gcd(g, hs, n);
    int bad = mpz_cmp_ui(g, 1) != 0;
    mpz_clear(g);
    return bad ? PHE_ERR_KEY_INVALID : 0;
}

static void pubkey_set_n(phe_pubkey *pk, const mpz_t n) {
    mpz_set(pk->n, n);
    mpz_mul(pk->n2, n, n);
    pk->bits = (uint32_t)mpz_sizeinbase(n, 2);
    pk->djn_bits = (pk->bits + 1) / 2;
    phei_key_id(n, pk->id);
}

int phei_pubkey_from_n_hs(phe_pubkey **out, const mpz_t n, const mpz_t hs) {
    int rc = phei_check_modulus(n);
    if (rc != 0)
        return rc;
    phe_pubkey *pk = phei_pubkey_alloc();
    if (pk == NULL)
        return PHE_ERR_NOMEM;
    pubkey_set_n(pk, n);
    rc = check_hs(pk->n, pk->n2, hs);
    if (rc != 0) {
        phe_pubkey_free(pk);
        return rc;
    }
    mpz_set(pk->hs, hs);
    *out = pk;
    return 0;
}

int phei_pubkey_from_n(phe_pubkey **out, const mpz_t n, phe_rng *rng) {
    int rc = phei_check_modulus(n);
    if (rc != 0)
        return rc;
    phe_pubkey *pk = phei_pubkey_alloc();
    if (pk == NULL)
        return PHE_ERR_NOMEM;
    pubkey_set_n(pk, n);
    /* h = −x² mod n for x uniform in Z*_n; h_s = h^n mod n² (DJN 2010, §4). */
    mpz_t x;
    mpz_init(x);
    rc = phei_rand_unit(x, n, rng);
    if (rc == 0) {
        mpz_mul(x, x, x);
        mpz_mod(x, x, n);
        mpz_sub(x, n, x);
        mpz_powm(pk->hs, x, n, pk->n2);
        rc = check_hs(pk->n, pk->n2, pk->hs);
    }
    phei_mpz_clear_secret(x);
    if (rc != 0) {
        phe_pubkey_free(pk);
        return rc;
    }
    *out = pk;
    return 0;
}

int phe_pubkey_from_modulus(phe_pubkey **out, const uint8_t *n, size_t n_len, phe_rng *rng) {
    if (out == NULL || n == NULL || n_len == 0)
        return PHE_ERR_INVALID_ARG;
    if (phei_init() != 0)
        return PHE_ERR_INTERNAL;
    if (n[0] == 0)
        return PHE_ERR_KEY_INVALID;
    if (n_len > PHEI_MAX_IMPORT_BITS / 8)
        return PHE_ERR_KEY_SIZE;
    mpz_t nn;
    mpz_init(nn);
    phei_bytes_to_mpz(nn, n, n_len);
    int rc = phei_pubkey_from_n(out, nn, rng);
    mpz_clear(nn);
    return rc;
}

int phe_pubkey_copy(phe_pubkey **out, const phe_pubkey *pk) {
    if (out == NULL || pk == NULL)
        return PHE_ERR_INVALID_ARG;
    phe_pubkey *c = phei_pubkey_alloc();
    if (c == NULL)
        return PHE_ERR_NOMEM;
    pubkey_set_n(c, pk->n);
    mpz_set(c->hs, pk->hs);
    *out = c;
    return 0;
}

uint32_t phe_pubkey_bits(const phe_pubkey *pk) {
    return pk == NULL ? 0 : pk->bits;
}

size_t phe_plaintext_size(const phe_pubkey *pk) {
    return pk == NULL ? 0 : (pk->bits + 7) / 8;
}

size_t phe_ciphertext_value_size(const phe_pubkey *pk) {
    return pk == NULL ? 0 : (mpz_sizeinbase(pk->n2, 2) + 7) / 8;
}

int phe_pubkey_modulus(const phe_pubkey *pk, uint8_t *out, size_t out_len) {
    if (pk == NULL || out == NULL)
        return PHE_ERR_INVALID_ARG;
    return phei_mpz_to_bytes_fixed(pk->n, out, out_len);
}

int phe_pubkey_id(const phe_pubkey *pk, uint8_t out[32]) {
    if (pk == NULL || out == NULL)
        return PHE_ERR_INVALID_ARG;
    memcpy(out, pk->id, 32);
    return 0;
}

int phe_pubkey_equal(const phe_pubkey *a, const phe_pubkey *b) {
    if (a == NULL || b == NULL)
        return 0;
    return mpz_cmp(a->n, b->n) == 0 && mpz_cmp(a->hs, b->hs) == 0;
}

int phe_pubkey_validate(const phe_pubkey *pk) {
    if (pk == NULL)
        return PHE_ERR_INVALID_ARG;
    int rc = phei_check_modulus(pk->n);
    if (rc != 0)
        return rc;
    return check_hs(pk->n, pk->n2, pk->hs);
}

static void pubkey_write(phei_writer *w, const phe_pubkey *pk) {
    phei_put_bytes(w, PUBKEY_MAGIC, 4);
    phei_put_u8(w, FORMAT_V1);
    phei_put_mpz(w, pk->n);
    phei_put_mpz(w, pk->hs);
}

size_t phe_pubkey_encoded_size(const phe_pubkey *pk) {
    if (pk == NULL)
        return 0;
    phei_writer w = {NULL, 0, 0};
    pubkey_write(&w, pk);
    return w.len;
}

int phe_pubkey_encode(const phe_pubkey *pk, uint8_t *out, size_t out_len, size_t *written) {
    if (pk == NULL || written == NULL)
        return PHE_ERR_INVALID_ARG;
    phei_writer w = {out, out_len, 0};
    pubkey_write(&w, pk);
    return phei_writer_finish(&w, written);
}

int phe_pubkey_decode(phe_pubkey **out, const uint8_t *in, size_t in_len) {
    if (out == NULL || (in == NULL && in_len > 0))
        return PHE_ERR_INVALID_ARG;
    if (phei_init() != 0)
        return PHE_ERR_INTERNAL;
    phei_reader r = {in, in_len};
    int rc = phei_get_header(&r, PUBKEY_MAGIC, FORMAT_V1);
    if (rc != 0)
        return rc;
    mpz_t n, hs;
    mpz_inits(n, hs, NULL);
    rc = phei_get_mpz(&r, n, PHEI_MAX_IMPORT_BITS / 8);
    if (rc == 0)
        rc = phei_get_mpz(&r, hs, PHEI_MAX_IMPORT_BITS / 4);
    if (rc == 0)
        rc = phei_reader_end(&r);
    if (rc == 0)
        rc = phei_pubkey_from_n_hs(out, n, hs);
    mpz_clears(n, hs, NULL);
    return rc;
}

/* ------------------------------------------------------------------ */
/* DJN fixed-base table and randomizers                                 */
/* ------------------------------------------------------------------ */

static unsigned table_window(uint32_t bits) {
    /* Every randomizer scans the whole table once (constant time), so a wide
     * window no longer pays: cost ≈ rows · (one product + a scan of 2^w
     * entries). Measured on this project's 2-core EPYC with w = 4 … 9
     * (docs/phe-security.md): w = 5 is fastest at 2048 and 3072 bits and ties
     * with 6 at 4096. Table size rows · 2^w · |n²|: 3.2 MiB at 2048 bits (205
     * rows), 7.2 MiB at 3072 (308), 12.8 MiB at 4096 (410), 32 MiB at 8192
     * (w 4, 1024 rows). Built on first DJN use only. */
    if (bits <= 4096)
        return 5;
    return 4;
}

/* Montgomery reduction (REDC) of tp[0 .. 2k) into rp[0 .. k): rp ≡ T·R^−1
 * (mod N), rp < R. tp is destroyed. The carry of row i is parked in tp[i]
 * (zero after its addmul) and added at the end. The final subtraction is
 * masked (mpn_cnd_sub_n), so the time does not depend on the values. */
static void redc(mp_limb_t *rp, mp_limb_t *tp, const mp_limb_t *np, size_t k, mp_limb_t ninv) {
    for (size_t i = 0; i < k; i++) {
        mp_limb_t u = tp[i] * ninv;
        tp[i] = mpn_addmul_1(tp + i, np, (mp_size_t)k, u);
    }
    mp_limb_t carry = mpn_add_n(rp, tp + k, tp, (mp_size_t)k);
    mpn_cnd_sub_n(carry, rp, rp, np, (mp_size_t)k);
}

/* rp = a·b·R^−1 mod N (rp may alias a or b); tp: 2k limbs of scratch. For
 * public operands (building the table): mpn_mul_n picks Karatsuba/Toom,
 * whose sign handling branches on the operands. */
static void mont_mul(mp_limb_t *rp, const mp_limb_t *a, const mp_limb_t *b, mp_limb_t *tp,
                     const phei_fbtable *t) {
    mpn_mul_n(tp, a, b, (mp_size_t)t->limbs);
    redc(rp, tp, t->mod, t->limbs, t->ninv);
}

/* The same for secret operands: mpn_sec_mul (GMP's side-channel silent
 * basecase product) and the branch-free REDC. sp: PHEI_SEC_SCRATCH limbs. */
#define PHEI_SEC_SCRATCH 64
static void mont_mul_sec(mp_limb_t *rp, const mp_limb_t *a, const mp_limb_t *b, mp_limb_t *tp,
                         mp_limb_t *sp, const phei_fbtable *t) {
    mpn_sec_mul(tp, a, (mp_size_t)t->limbs, b, (mp_size_t)t->limbs, sp);
    redc(rp, tp, t->mod, t->limbs, t->ninv);
}

static void limbs_from_mpz(mp_limb_t *out, size_t k, const mpz_t x) {
    size_t n = mpz_size(x);
    for (size_t i = 0; i < k; i++)
        out[i] = i < n ? mpz_getlimbn(x, (mp_size_t)i) : 0;
}

#define MAX_LIMBS (2 * PHEI_MAX_IMPORT_BITS / GMP_NUMB_BITS)

int phei_pubkey_table(const phe_pubkey *cpk) {
    phe_pubkey *pk = (phe_pubkey *)cpk; /* the table is a cache: logically const */
    if (atomic_load_explicit(&pk->table_ready, memory_order_acquire))
        return 0;
    if (pthread_mutex_lock(&pk->table_lock) != 0)
        return PHE_ERR_INTERNAL;
    int rc = 0;
    if (!atomic_load_explicit(&pk->table_ready, memory_order_relaxed)) {
        phei_fbtable t;
        memset(&t, 0, sizeof t);
        t.window = table_window(pk->bits);
        t.rows = (pk->djn_bits + t.window - 1) / t.window;
        t.cols = (size_t)1 << t.window;
        t.limbs = mpz_size(pk->n2);
        size_t k = t.limbs;
        t.mod = calloc(k, sizeof(mp_limb_t));
        t.mont = calloc((size_t)t.rows * t.cols * k, sizeof(mp_limb_t));
        if (t.mod == NULL || t.mont == NULL || k > MAX_LIMBS) {
            table_free(&t);
            rc = PHE_ERR_NOMEM;
        } else {
            limbs_from_mpz(t.mod, k, pk->n2);
            /* ninv = −N^−1 mod 2^64 by Newton's iteration (N odd). */
            mp_limb_t inv = 1;
            for (int i = 0; i < 7; i++)
                inv *= 2 - t.mod[0] * inv;
            t.ninv = (mp_limb_t)0 - inv;
            mp_limb_t one[MAX_LIMBS], base[MAX_LIMBS], tmp[2 * MAX_LIMBS];
            mpz_t x;
            mpz_init(x);
            mpz_set_ui(x, 1);
            mpz_mul_2exp(x, x, (mp_bitcnt_t)(k * GMP_NUMB_BITS));
            mpz_mod(x, x, pk->n2);
            limbs_from_mpz(one, k, x); /* R mod n²: 1 in Montgomery form */
            mpz_mul_2exp(x, pk->hs, (mp_bitcnt_t)(k * GMP_NUMB_BITS));
            mpz_mod(x, x, pk->n2);
            limbs_from_mpz(base, k, x);
            mpz_clear(x);
            for (unsigned j = 0; j < t.rows; j++) {
                mp_limb_t *row = t.mont + (size_t)j * t.cols * k;
                memcpy(row, one, k * sizeof(mp_limb_t));
                memcpy(row + k, base, k * sizeof(mp_limb_t));
                for (size_t d = 2; d < t.cols; d++)
                    mont_mul(row + d * k, row + (d - 1) * k, base, tmp, &t);
                /* next base = base^(2^w) = base^(2^w − 1) · base */
                mont_mul(base, row + (t.cols - 1) * k, base, tmp, &t);
            }
            pk->table = t;
            /* the IFMA kernel's copy, when it runs here (1: too large for it) */
            if (phei_mb8_available()) {
                int r2 = phei_mb8_fb_build(&pk->mb8, &pk->table, pk->n2);
                if (r2 < 0) {
                    table_free(&pk->table);
                    rc = r2;
                }
            }
            if (rc == 0)
                atomic_store_explicit(&pk->table_ready, 1, memory_order_release);
        }
    }
    pthread_mutex_unlock(&pk->table_lock);
    return rc;
}

/* h_s^a mod n² for a secret a of djn_bits bits, in constant time: every
 * w-bit digit of a (zero or not) selects its row entry by a masked scan of
 * the whole row (mpn_sec_tabselect reads every entry), and every row after
 * the first costs one Montgomery product (mpn_sec_mul, then a REDC of
 * mpn_addmul_1 rows) whose final subtraction is masked.
 * The sequence of operations and of memory addresses depends only on the
 * public key, never on a. */
int phei_djn_pow(const phe_pubkey *pk, mpz_t r, const uint8_t *a, size_t a_len, phei_djn_ops *ops) {
    int rc = phei_pubkey_table(pk);
    if (rc != 0)
        return rc;
    const phei_fbtable *t = &pk->table;
    size_t k = t->limbs;
    size_t nbytes = (pk->djn_bits + 7) / 8;
    if (a == NULL || a_len != nbytes || k > MAX_LIMBS ||
        mpn_sec_mul_itch((mp_size_t)k, (mp_size_t)k) > PHEI_SEC_SCRATCH)
        return PHE_ERR_INTERNAL;
    mp_limb_t acc[MAX_LIMBS], e[MAX_LIMBS], tmp[2 * MAX_LIMBS], scratch[PHEI_SEC_SCRATCH];
    for (unsigned j = 0; j < t->rows; j++) {
        size_t bitpos = (size_t)j * t->window;
        mp_size_t d = 0;
        for (unsigned b = 0; b < t->window; b++) {
            size_t pos = bitpos + b; /* public: depends on j and b only */
            if (pos < pk->djn_bits)
                d |= (mp_size_t)((a[pos / 8] >> (pos % 8)) & 1u) << b;
        }
        const mp_limb_t *row = t->mont + (size_t)j * t->cols * k;
        mpn_sec_tabselect(j == 0 ? acc : e, row, (mp_size_t)k, (mp_size_t)t->cols, d);
        d = 0;
        if (j > 0)
            mont_mul_sec(acc, acc, e, tmp, scratch, t);
        if (ops != NULL) {
            ops->scans++;
            ops->entries_read += t->cols;
            ops->products += j > 0;
        }
    }
    /* leave Montgomery form: REDC(acc) = acc·R^−1 mod N; acc < R, so the
     * result is at most N and, acc being a unit, below it. The masked
     * subtraction keeps that true without a branch even if it were not. */
    memcpy(tmp, acc, k * sizeof(mp_limb_t));
    memset(tmp + k, 0, k * sizeof(mp_limb_t));
    redc(acc, tmp, t->mod, k, t->ninv);
    mp_limb_t borrow = mpn_sub_n(e, acc, t->mod, (mp_size_t)k);
    mpn_cnd_sub_n(borrow ^ 1, acc, acc, t->mod, (mp_size_t)k);
    mp_limb_t *dst = mpz_limbs_write(r, (mp_size_t)k);
    memcpy(dst, acc, k * sizeof(mp_limb_t));
    /* Normalising the top limbs is the one value-dependent loop: it runs
     * past a zero top limb only with probability about 2^−64. */
    mp_size_t used = (mp_size_t)k;
    while (used > 0 && dst[used - 1] == 0)
        used--;
    mpz_limbs_finish(r, used);
    sodium_memzero(acc, k * sizeof(mp_limb_t));
    sodium_memzero(e, k * sizeof(mp_limb_t));
    sodium_memzero(tmp, 2 * k * sizeof(mp_limb_t));
    sodium_memzero(scratch, sizeof scratch);
    return 0;
}

int phei_djn_randomizer(const phe_pubkey *pk, mpz_t r, phe_rng *rng) {
    size_t nbytes = (pk->djn_bits + 7) / 8;
    uint8_t a[PHEI_MAX_IMPORT_BITS / 16 + 1];
    if (nbytes > sizeof a)
        return PHE_ERR_INTERNAL;
    int rc = phei_pubkey_table(pk); /* before drawing, as the KATs expect */
    if (rc == 0)
        rc = phei_rng_bytes(rng, a, nbytes);
    /* the IFMA kernel, one exponent split across its lanes, when it runs;
     * else (or 1: switched off meanwhile) the GMP comb: the same value */
    if (rc == 0 && pk->mb8 != NULL)
        rc = phei_mb8_fb_pow1(pk->mb8, r, a, pk->djn_bits);
    else if (rc == 0)
        rc = 1;
    if (rc > 0)
        rc = phei_djn_pow(pk, r, a, nbytes, NULL);
    sodium_memzero(a, sizeof a);
    return rc;
}

int phei_djn_randomizer_multi(const phe_pubkey *pk, mpz_t *r, phe_rng *const *rngs, size_t count) {
    size_t nbytes = (pk->djn_bits + 7) / 8;
    uint8_t a[8][PHEI_MAX_IMPORT_BITS / 16 + 1];
    if (count == 0 || count > 8 || nbytes > sizeof a[0])
        return PHE_ERR_INTERNAL;
    int rc = phei_pubkey_table(pk);
    if (rc != 0)
        return rc;
    if (pk->mb8 == NULL || !phei_mb8_available()) {
        for (size_t i = 0; i < count && rc == 0; i++)
            rc = phei_djn_randomizer(pk, r[i], rngs[i]);
        return rc;
    }
    const uint8_t *ap[8];
    mpz_ptr rp[8];
    for (size_t i = 0; i < count && rc == 0; i++) {
        rc = phei_rng_bytes(rngs[i], a[i], nbytes);
        ap[i] = a[i];
        rp[i] = r[i];
    }
    if (rc == 0)
        rc = phei_mb8_fb_pow(pk->mb8, rp, ap, pk->djn_bits, count);
    if (rc > 0) { /* the kernel was switched off meanwhile: same values, scalar */
        rc = 0;
        for (size_t i = 0; i < count && rc == 0; i++)
            rc = phei_djn_pow(pk, r[i], a[i], nbytes, NULL);
    }
    sodium_memzero(a, sizeof a);
    return rc;
}

int phei_classic_randomizer(const phe_pubkey *pk, mpz_t r, phe_rng *rng) {
    mpz_t s;
    mpz_init(s);
    int rc = phei_rand_unit(s, pk->n, rng);
    if (rc == 0)
        mpz_powm(r, s, pk->n, pk->n2);
    phei_mpz_clear_secret(s);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Secret keys                                                          */
/* ------------------------------------------------------------------ */

static phe_seckey *seckey_alloc(void) {
    phe_seckey *sk = calloc(1, sizeof *sk);
    if (sk == NULL)
        return NULL;
    mpz_inits(sk->p, sk->q, sk->p2, sk->q2, sk->pm1, sk->qm1, sk->hp, sk->hq, sk->qinv_p,
              sk->q2inv_p2, NULL);
    return sk;
}

void phe_seckey_free(phe_seckey *sk) {
    if (sk == NULL)
        return;
    phei_mpz_clear_secret(sk->p);
    phei_mpz_clear_secret(sk->q);
    phei_mpz_clear_secret(sk->p2);
    phei_mpz_clear_secret(sk->q2);
    phei_mpz_clear_secret(sk->pm1);
    phei_mpz_clear_secret(sk->qm1);
    phei_mpz_clear_secret(sk->hp);
    phei_mpz_clear_secret(sk->hq);
    phei_mpz_clear_secret(sk->qinv_p);
    phei_mpz_clear_secret(sk->q2inv_p2);
    phe_pubkey_free(sk->pk);
    phei_free_secret(sk, sizeof *sk);
}

const phe_pubkey *phe_seckey_pubkey(const phe_seckey *sk) {
    return sk == NULL ? NULL : sk->pk;
}

/* Structural checks on p < q (no primality: callers choose the rounds). */
static int check_pq(const mpz_t p, const mpz_t q) {
    if (mpz_cmp_ui(p, 3) < 0 || mpz_cmp(p, q) >= 0)
        return PHE_ERR_KEY_INVALID;
    if (mpz_sizeinbase(p, 2) != mpz_sizeinbase(q, 2))
        return PHE_ERR_KEY_INVALID;
    /* |p − q| > 2^(k − 100) for k-bit primes (Fermat factoring is out of reach). */
    mpz_t d;
    mpz_init(d);
    mpz_sub(d, q, p);
    int bad = mpz_sizeinbase(d, 2) <= mpz_sizeinbase(p, 2) - 100;
    mpz_clear(d);
    return bad ? PHE_ERR_KEY_INVALID : 0;
}

/* Fill the CRT constants of sk from p, q (p < q) and its public key. */
static int seckey_complete(phe_seckey *sk) {
    mpz_mul(sk->p2, sk->p, sk->p);
    mpz_mul(sk->q2, sk->q, sk->q);
    mpz_sub_ui(sk->pm1, sk->p, 1);
    mpz_sub_ui(sk->qm1, sk->q, 1);
    /* (1+n)^(p−1) ≡ 1 + (p−1)·n (mod p²), so L_p of it is (p−1)·q ≡ −q (mod p):
     * hp = (−q)^−1 mod p. Likewise hq = (−p)^−1 mod q. */
    mpz_t t;
    mpz_init(t);
    mpz_mod(t, sk->q, sk->p);
    mpz_sub(t, sk->p, t);
    int ok = mpz_invert(sk->hp, t, sk->p);
    mpz_mod(t, sk->p, sk->q);
    mpz_sub(t, sk->q, t);
    ok = ok && mpz_invert(sk->hq, t, sk->q);
    ok = ok && mpz_invert(sk->qinv_p, sk->q, sk->p);
    ok = ok && mpz_invert(sk->q2inv_p2, sk->q2, sk->p2);
    phei_mpz_clear_secret(t);
    return ok ? 0 : PHE_ERR_KEY_INVALID;
}

static int gcd_n_phi_ok(const mpz_t n, const mpz_t pm1, const mpz_t qm1) {
    mpz_t phi, g;
    mpz_inits(phi, g, NULL);
    mpz_mul(phi, pm1, qm1);
    mpz_gcd(g, n, phi);
    int ok = mpz_cmp_ui(g, 1) == 0;
    phei_mpz_clear_secret(phi);
    mpz_clear(g);
    return ok;
}

int phe_key_generate(phe_seckey **out, uint32_t bits, phe_rng *rng) {
    if (out == NULL)
        return PHE_ERR_INVALID_ARG;
    if (bits != 2048 && bits != 3072 && bits != 4096)
        return PHE_ERR_KEY_SIZE;
    if (phei_init() != 0)
        return PHE_ERR_INTERNAL;
    phe_seckey *sk = seckey_alloc();
    if (sk == NULL)
        return PHE_ERR_NOMEM;
    mpz_t n;
    mpz_init(n);
    int rc;
    for (int attempt = 0;; attempt++) {
        if (attempt == 64) {
            rc = PHE_ERR_RNG;
            break;
        }
        rc = phei_rand_prime(sk->p, bits / 2, rng);
        if (rc == 0)
            rc = phei_rand_prime(sk->q, bits / 2, rng);
        if (rc != 0)
            break;
        if (mpz_cmp(sk->p, sk->q) > 0)
            mpz_swap(sk->p, sk->q);
        if (check_pq(sk->p, sk->q) != 0)
            continue;
        mpz_mul(n, sk->p, sk->q);
        mpz_sub_ui(sk->pm1, sk->p, 1);
        mpz_sub_ui(sk->qm1, sk->q, 1);
        if (mpz_sizeinbase(n, 2) != bits || !gcd_n_phi_ok(n, sk->pm1, sk->qm1))
            continue;
        rc = phei_pubkey_from_n(&sk->pk, n, rng);
        if (rc == 0)
            rc = seckey_complete(sk);
        break;
    }
    mpz_clear(n);
    if (rc != 0) {
        phe_seckey_free(sk);
        return rc;
    }
    *out = sk;
    return 0;
}

static int seckey_validate_parts(const mpz_t p, const mpz_t q, const phe_pubkey *pk) {
    int rc = check_pq(p, q);
    if (rc != 0)
        return rc;
    mpz_t n, pm1, qm1;
    mpz_inits(n, pm1, qm1, NULL);
    mpz_mul(n, p, q);
    mpz_sub_ui(pm1, p, 1);
    mpz_sub_ui(qm1, q, 1);
    if (mpz_cmp(n, pk->n) != 0 || !gcd_n_phi_ok(n, pm1, qm1))
        rc = PHE_ERR_KEY_INVALID;
    else if (mpz_probab_prime_p(p, 40) == 0 || mpz_probab_prime_p(q, 40) == 0)
        rc = PHE_ERR_KEY_INVALID;
    mpz_clear(n);
    phei_mpz_clear_secret(pm1);
    phei_mpz_clear_secret(qm1);
    return rc;
}

int phe_seckey_validate(const phe_seckey *sk) {
    if (sk == NULL || sk->pk == NULL)
        return PHE_ERR_INVALID_ARG;
    int rc = phe_pubkey_validate(sk->pk);
    if (rc != 0)
        return rc;
    return seckey_validate_parts(sk->p, sk->q, sk->pk);
}

static void seckey_write(phei_writer *w, const phe_seckey *sk) {
    phei_put_bytes(w, SECKEY_MAGIC, 4);
    phei_put_u8(w, FORMAT_V1);
    phei_put_mpz(w, sk->p);
    phei_put_mpz(w, sk->q);
    phei_put_mpz(w, sk->pk->hs);
}

size_t phe_seckey_encoded_size(const phe_seckey *sk) {
    if (sk == NULL)
        return 0;
    phei_writer w = {NULL, 0, 0};
    seckey_write(&w, sk);
    return w.len;
}

int phe_seckey_encode(const phe_seckey *sk, uint8_t *out, size_t out_len, size_t *written) {
    if (sk == NULL || written == NULL)
        return PHE_ERR_INVALID_ARG;
    phei_writer w = {out, out_len, 0};
    seckey_write(&w, sk);
    return phei_writer_finish(&w, written);
}

int phe_seckey_decode(phe_seckey **out, const uint8_t *in, size_t in_len) {
    if (out == NULL || (in == NULL && in_len > 0))
        return PHE_ERR_INVALID_ARG;
    if (phei_init() != 0)
        return PHE_ERR_INTERNAL;
    phei_reader r = {in, in_len};
    int rc = phei_get_header(&r, SECKEY_MAGIC, FORMAT_V1);
    if (rc != 0)
        return rc;
    phe_seckey *sk = seckey_alloc();
    if (sk == NULL)
        return PHE_ERR_NOMEM;
    mpz_t hs, n;
    mpz_inits(hs, n, NULL);
    rc = phei_get_mpz(&r, sk->p, PHEI_MAX_IMPORT_BITS / 16);
    if (rc == 0)
        rc = phei_get_mpz(&r, sk->q, PHEI_MAX_IMPORT_BITS / 16);
    if (rc == 0)
        rc = phei_get_mpz(&r, hs, PHEI_MAX_IMPORT_BITS / 4);
    if (rc == 0)
        rc = phei_reader_end(&r);
    if (rc == 0)
        rc = check_pq(sk->p, sk->q);
    if (rc == 0) {
        mpz_mul(n, sk->p, sk->q);
        rc = phei_pubkey_from_n_hs(&sk->pk, n, hs);
    }
    if (rc == 0)
        rc = seckey_validate_parts(sk->p, sk->q, sk->pk);
    if (rc == 0)
        rc = seckey_complete(sk);
    mpz_clears(hs, n, NULL);
    if (rc != 0) {
        phe_seckey_free(sk);
        return rc;
    }
    *out = sk;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Sealed secret keys                                                   */
/* ------------------------------------------------------------------ */

/* "PHEF" (docs/formats/phe.md): a box of at most 64 KiB, files of at most
 * 1 MiB, replaced atomically when written. */
static const phei_seal_format SEALED_FORMAT = {
    .magic = {'P', 'H', 'E', 'F'},
    .max_box = 65536u,
    .max_file = (size_t)1 << 20,
    .file_mode = PHEI_SEAL_FILE_REPLACE,
};

size_t phe_seckey_sealed_size(const phe_seckey *sk) {
    if (sk == NULL)
        return 0;
    return phei_sealed_size(phe_seckey_encoded_size(sk));
}

int phe_seckey_seal(const phe_seckey *sk, const uint8_t *pass, size_t pass_len,
                    phe_kdf_strength strength, uint8_t *out, size_t out_len, size_t *written) {
    uint64_t ops, mem;
    if (sk == NULL || written == NULL || (pass == NULL && pass_len > 0))
        return PHE_ERR_INVALID_ARG;
    if (phei_kdf_limits(strength, &ops, &mem) != 0)
        return PHE_ERR_INVALID_ARG;
    if (phei_init() != 0)
        return PHE_ERR_INTERNAL;
    size_t plen = phe_seckey_encoded_size(sk);
    size_t total = phei_sealed_size(plen);
    *written = total;
    if (out == NULL)
        return 0; /* a size query */
    if (out_len < total)
        return PHE_ERR_BUFFER_TOO_SMALL;
    uint8_t *plain = sodium_malloc(plen);
    if (plain == NULL)
        return PHE_ERR_NOMEM;
    size_t wr;
    int rc = phe_seckey_encode(sk, plain, plen, &wr);
    if (rc == 0)
        rc = phei_seal(&SEALED_FORMAT, plain, plen, pass, pass_len, strength, NULL, out, out_len);
    sodium_free(plain);
    return rc;
}

int phe_seckey_unseal(phe_seckey **out, const uint8_t *in, size_t in_len, const uint8_t *pass,
                      size_t pass_len) {
    if (out == NULL || (in == NULL && in_len > 0) || (pass == NULL && pass_len > 0))
        return PHE_ERR_INVALID_ARG;
    if (phei_init() != 0)
        return PHE_ERR_INTERNAL;
    uint8_t *plain;
    size_t plen;
    int rc = phei_unseal(&SEALED_FORMAT, in, in_len, pass, pass_len, &plain, &plen);
    if (rc != 0)
        return rc;
    rc = phe_seckey_decode(out, plain, plen);
    /* Authenticated bytes that do not decode are a broken key, not a format
     * error of the file (phe.h documents PHE_ERR_KEY_INVALID). */
    if (rc == PHE_ERR_DECODE || rc == PHE_ERR_VERSION)
        rc = PHE_ERR_KEY_INVALID;
    sodium_free(plain);
    return rc;
}

int phe_seckey_write_file(const phe_seckey *sk, const char *path, const uint8_t *pass,
                          size_t pass_len, phe_kdf_strength strength) {
    if (sk == NULL || path == NULL)
        return PHE_ERR_INVALID_ARG;
    size_t len;
    int rc = phe_seckey_seal(sk, pass, pass_len, strength, NULL, 0, &len);
    if (rc != 0)
        return rc;
    uint8_t *buf = malloc(len);
    if (buf == NULL)
        return PHE_ERR_NOMEM;
    rc = phe_seckey_seal(sk, pass, pass_len, strength, buf, len, &len);
    if (rc == 0)
        rc = phei_seal_write_file(&SEALED_FORMAT, path, buf, len);
    free(buf);
    return rc;
}

int phe_seckey_read_file(phe_seckey **out, const char *path, const uint8_t *pass, size_t pass_len) {
    if (out == NULL || path == NULL)
        return PHE_ERR_INVALID_ARG;
    uint8_t *buf;
    size_t len;
    int rc = phei_seal_read_file(&SEALED_FORMAT, path, &buf, &len);
    if (rc != 0)
        return rc;
    rc = phe_seckey_unseal(out, buf, len, pass, pass_len);
    free(buf);
    return rc;
}
