/* libphe: ciphertexts, encryption (classic, DJN, CRT, pooled), CRT
 * decryption and the homomorphic operations. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "phe_internal.h"

static const char CT_MAGIC[4] = {'P', 'H', 'E', 'C'};
#define FORMAT_V1 1

/* ------------------------------------------------------------------ */
/* Ciphertext handles                                                   */
/* ------------------------------------------------------------------ */

int phe_ciphertext_new(phe_ciphertext **out) {
    if (out == NULL)
        return PHE_ERR_INVALID_ARG;
    if (phei_init() != 0)
        return PHE_ERR_INTERNAL;
    phe_ciphertext *ct = calloc(1, sizeof *ct);
    if (ct == NULL)
        return PHE_ERR_NOMEM;
    mpz_init(ct->c);
    *out = ct;
    return 0;
}

void phe_ciphertext_free(phe_ciphertext *ct) {
    if (ct == NULL)
        return;
    mpz_clear(ct->c);
    free(ct);
}

int phe_ciphertext_copy(phe_ciphertext *dst, const phe_ciphertext *src) {
    if (dst == NULL || src == NULL)
        return PHE_ERR_INVALID_ARG;
    if (!src->set)
        return PHE_ERR_EMPTY;
    if (dst != src) {
        mpz_set(dst->c, src->c);
        memcpy(dst->key_id, src->key_id, sizeof dst->key_id);
        dst->set = 1;
    }
    return 0;
}

int phe_ciphertext_equal(const phe_ciphertext *a, const phe_ciphertext *b) {
    if (a == NULL || b == NULL || !a->set || !b->set)
        return 0;
    return memcmp(a->key_id, b->key_id, sizeof a->key_id) == 0 && mpz_cmp(a->c, b->c) == 0;
}

void phei_ct_set(const phe_pubkey *pk, phe_ciphertext *ct, const mpz_t c) {
    if (ct->c != c)
        mpz_set(ct->c, c);
    memcpy(ct->key_id, pk->id, sizeof ct->key_id);
    ct->set = 1;
}

int phei_check_ct(const phe_pubkey *pk, const phe_ciphertext *ct) {
    if (pk == NULL || ct == NULL)
        return PHE_ERR_INVALID_ARG;
    if (!ct->set)
        return PHE_ERR_EMPTY;
    if (memcmp(ct->key_id, pk->id, sizeof ct->key_id) != 0)
        return PHE_ERR_KEY_MISMATCH;
    if (mpz_sgn(ct->c) <= 0 || mpz_cmp(ct->c, pk->n2) >= 0)
        return PHE_ERR_CIPHERTEXT_INVALID;
    return 0;
}

/* 0 < c < n² and gcd(c, n) = 1. */
static int check_value(const phe_pubkey *pk, const mpz_t c) {
    if (mpz_sgn(c) <= 0 || mpz_cmp(c, pk->n2) >= 0)
        return PHE_ERR_CIPHERTEXT_INVALID;
    mpz_t g;
    mpz_init(g);
    mpz_gcd(g, c, pk->n);
    int bad = mpz_cmp_ui(g, 1) != 0;
    mpz_clear(g);
    return bad ? PHE_ERR_CIPHERTEXT_INVALID : 0;
}

size_t phe_ciphertext_encoded_size(const phe_ciphertext *ct) {
    if (ct == NULL || !ct->set)
        return 0;
    return 4 + 1 + PHEI_KEY_ID_PREFIX + phei_mpz_field_size(ct->c);
}

size_t phe_ciphertext_size(const phe_pubkey *pk) {
    if (pk == NULL)
        return 0;
    return 4 + 1 + PHEI_KEY_ID_PREFIX + 4 + phe_ciphertext_value_size(pk);
}

int phe_ciphertext_encode(const phe_ciphertext *ct, uint8_t *out, size_t out_len, size_t *written) {
    if (ct == NULL || written == NULL)
        return PHE_ERR_INVALID_ARG;
    if (!ct->set)
        return PHE_ERR_EMPTY;
    phei_writer w = {out, out_len, 0};
    phei_put_bytes(&w, CT_MAGIC, 4);
    phei_put_u8(&w, FORMAT_V1);
    phei_put_bytes(&w, ct->key_id, PHEI_KEY_ID_PREFIX);
    phei_put_mpz(&w, ct->c);
    return phei_writer_finish(&w, written);
}

int phe_ciphertext_decode(const phe_pubkey *pk, phe_ciphertext *out, const uint8_t *in,
                          size_t in_len) {
    if (pk == NULL || out == NULL || (in == NULL && in_len > 0))
        return PHE_ERR_INVALID_ARG;
    phei_reader r = {in, in_len};
    int rc = phei_get_header(&r, CT_MAGIC, FORMAT_V1);
    if (rc != 0)
        return rc;
    uint8_t id[PHEI_KEY_ID_PREFIX];
    if (phei_get_bytes(&r, id, sizeof id) != 0)
        return PHE_ERR_DECODE;
    mpz_t c;
    mpz_init(c);
    rc = phei_get_mpz(&r, c, phe_ciphertext_value_size(pk));
    if (rc == 0)
        rc = phei_reader_end(&r);
    if (rc == 0 && memcmp(id, pk->id, sizeof id) != 0)
        rc = PHE_ERR_KEY_MISMATCH;
    if (rc == 0)
        rc = check_value(pk, c);
    if (rc == 0)
        phei_ct_set(pk, out, c);
    mpz_clear(c);
    return rc;
}

int phe_ciphertext_value(const phe_ciphertext *ct, uint8_t *out, size_t out_len) {
    if (ct == NULL || out == NULL)
        return PHE_ERR_INVALID_ARG;
    if (!ct->set)
        return PHE_ERR_EMPTY;
    return phei_mpz_to_bytes_fixed(ct->c, out, out_len);
}

int phe_ciphertext_from_value(const phe_pubkey *pk, phe_ciphertext *out, const uint8_t *c,
                              size_t c_len) {
    if (pk == NULL || out == NULL || c == NULL || c_len == 0)
        return PHE_ERR_INVALID_ARG;
    /* Leading zeros are allowed, but not so many that the value is huge. */
    if (c_len > phe_ciphertext_value_size(pk) + 64)
        return PHE_ERR_CIPHERTEXT_INVALID;
    mpz_t v;
    mpz_init(v);
    phei_bytes_to_mpz(v, c, c_len);
    int rc = check_value(pk, v);
    if (rc == 0)
        phei_ct_set(pk, out, v);
    mpz_clear(v);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Encryption                                                           */
/* ------------------------------------------------------------------ */

void phei_encrypt_with(const phe_pubkey *pk, phe_ciphertext *ct, const mpz_t m, const mpz_t r) {
    /* (1+n)^m ≡ 1 + m·n (mod n²): no exponentiation for the message part. */
    mpz_t t;
    mpz_init(t);
    mpz_mul(t, m, pk->n);
    mpz_add_ui(t, t, 1);
    mpz_mul(t, t, r);
    mpz_mod(t, t, pk->n2);
    phei_ct_set(pk, ct, t);
    mpz_clear(t);
}

/* m from bytes with the m < n check. */
int phei_plain_from_bytes(const phe_pubkey *pk, mpz_t m, const uint8_t *in, size_t len) {
    if (in == NULL && len > 0)
        return PHE_ERR_INVALID_ARG;
    if (len > phe_plaintext_size(pk) + 64)
        return PHE_ERR_PLAINTEXT_RANGE;
    phei_bytes_to_mpz(m, in, len);
    return mpz_cmp(m, pk->n) < 0 ? 0 : PHE_ERR_PLAINTEXT_RANGE;
}

static int encrypt_mpz(const phe_pubkey *pk, phe_encrypt_mode mode, phe_ciphertext *out,
                       const mpz_t m, phe_rng *rng) {
    mpz_t r;
    mpz_init(r);
    int rc;
    if (mode == PHE_ENCRYPT_DJN)
        rc = phei_djn_randomizer(pk, r, rng);
    else if (mode == PHE_ENCRYPT_CLASSIC)
        rc = phei_classic_randomizer(pk, r, rng);
    else
        rc = PHE_ERR_INVALID_ARG;
    if (rc == 0)
        phei_encrypt_with(pk, out, m, r);
    phei_mpz_clear_secret(r);
    return rc;
}

int phe_encrypt_i64_mode(const phe_pubkey *pk, phe_encrypt_mode mode, phe_ciphertext *out,
                         int64_t m, phe_rng *rng) {
    if (pk == NULL || out == NULL)
        return PHE_ERR_INVALID_ARG;
    mpz_t mm;
    mpz_init(mm);
    phei_i64_to_mpz(mm, m, pk->n);
    int rc = encrypt_mpz(pk, mode, out, mm, rng);
    phei_mpz_clear_secret(mm);
    return rc;
}

int phe_encrypt_bytes_mode(const phe_pubkey *pk, phe_encrypt_mode mode, phe_ciphertext *out,
                           const uint8_t *m, size_t m_len, phe_rng *rng) {
    if (pk == NULL || out == NULL)
        return PHE_ERR_INVALID_ARG;
    mpz_t mm;
    mpz_init(mm);
    int rc = phei_plain_from_bytes(pk, mm, m, m_len);
    if (rc == 0)
        rc = encrypt_mpz(pk, mode, out, mm, rng);
    phei_mpz_clear_secret(mm);
    return rc;
}

int phe_encrypt_i64(const phe_pubkey *pk, phe_ciphertext *out, int64_t m, phe_rng *rng) {
    return phe_encrypt_i64_mode(pk, PHE_ENCRYPT_DJN, out, m, rng);
}

int phe_encrypt_bytes(const phe_pubkey *pk, phe_ciphertext *out, const uint8_t *m, size_t m_len,
                      phe_rng *rng) {
    return phe_encrypt_bytes_mode(pk, PHE_ENCRYPT_DJN, out, m, m_len, rng);
}

/* r^n mod n² for r uniform in Z*_n, through the CRT: x ↦ x^p mod p² depends
 * only on x mod p, so r^n mod p² = (rp^(q mod (p−1)) mod p)^p mod p² with rp
 * uniform in Z*_p; likewise mod q²; then CRT. Exponents involve p, q: sec.
 * With the IFMA kernel the p and q sides run as the two numbers of
 * phei_powm_x2 (two calls); the draws (rp, then rq) are the same either way. */
static int crt_randomizer(const phe_seckey *sk, mpz_t r, phe_rng *rng) {
    mpz_t a, b, e, f, xp, xq;
    mpz_inits(a, b, e, f, xp, xq, NULL);
    int rc = phei_rand_unit(a, sk->p, rng);
    if (rc == 0)
        rc = phei_rand_unit(b, sk->q, rng);
    if (rc == 0) {
        mpz_mod(e, sk->q, sk->pm1);
        if (mpz_sgn(e) == 0)
            mpz_set(e, sk->pm1); /* cannot happen for valid keys; keeps powm_sec's e > 0 */
        mpz_mod(f, sk->p, sk->qm1);
        if (mpz_sgn(f) == 0)
            mpz_set(f, sk->qm1);
        size_t pb = mpz_sizeinbase(sk->p, 2), qb = mpz_sizeinbase(sk->q, 2);
        size_t eb = pb > qb ? pb : qb;
        mpz_ptr out[2] = {xp, xq};
        mpz_srcptr base1[2] = {a, b}, exp1[2] = {e, f}, mod1[2] = {sk->p, sk->q};
        int k = phei_powm_x2(out, base1, exp1, mod1, eb);
        if (k == 0) {
            mpz_srcptr base2[2] = {xp, xq}, exp2[2] = {sk->p, sk->q}, mod2[2] = {sk->p2, sk->q2};
            k = phei_powm_x2(out, base2, exp2, mod2, eb);
            if (k != 0) { /* the first pair is done: finish with GMP */
                mpz_powm_sec(xp, xp, sk->p, sk->p2);
                mpz_powm_sec(xq, xq, sk->q, sk->q2);
            }
        } else {
            mpz_powm_sec(xp, a, e, sk->p);
            mpz_powm_sec(xp, xp, sk->p, sk->p2);
            mpz_powm_sec(xq, b, f, sk->q);
            mpz_powm_sec(xq, xq, sk->q, sk->q2);
        }
        /* r = xq + q²·((xp − xq)·(q²)^−1 mod p²) */
        mpz_sub(r, xp, xq);
        mpz_mul(r, r, sk->q2inv_p2);
        mpz_mod(r, r, sk->p2);
        mpz_mul(r, r, sk->q2);
        mpz_add(r, r, xq);
    }
    phei_mpz_clear_secret(a);
    phei_mpz_clear_secret(b);
    phei_mpz_clear_secret(e);
    phei_mpz_clear_secret(f);
    phei_mpz_clear_secret(xp);
    phei_mpz_clear_secret(xq);
    return rc;
}

int phe_seckey_encrypt_i64(const phe_seckey *sk, phe_ciphertext *out, int64_t m, phe_rng *rng) {
    if (sk == NULL || out == NULL)
        return PHE_ERR_INVALID_ARG;
    mpz_t mm, r;
    mpz_inits(mm, r, NULL);
    phei_i64_to_mpz(mm, m, sk->pk->n);
    int rc = crt_randomizer(sk, r, rng);
    if (rc == 0)
        phei_encrypt_with(sk->pk, out, mm, r);
    phei_mpz_clear_secret(mm);
    phei_mpz_clear_secret(r);
    return rc;
}

int phe_seckey_encrypt_bytes(const phe_seckey *sk, phe_ciphertext *out, const uint8_t *m,
                             size_t m_len, phe_rng *rng) {
    if (sk == NULL || out == NULL)
        return PHE_ERR_INVALID_ARG;
    mpz_t mm, r;
    mpz_inits(mm, r, NULL);
    int rc = phei_plain_from_bytes(sk->pk, mm, m, m_len);
    if (rc == 0)
        rc = crt_randomizer(sk, r, rng);
    if (rc == 0)
        phei_encrypt_with(sk->pk, out, mm, r);
    phei_mpz_clear_secret(mm);
    phei_mpz_clear_secret(r);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Decryption                                                           */
/* ------------------------------------------------------------------ */

/* m_p = L_p(c^(p−1) mod p²) · hp mod p, with L_p(x) = (x − 1) / p. */
/* mp = c^(p−1) mod p² on entry; m_p = L_p(mp) · hp mod p on return. */
static void finish_half(mpz_t mp, const mpz_t p, const mpz_t hp) {
    mpz_sub_ui(mp, mp, 1);
    mpz_divexact(mp, mp, p);
    mpz_mul(mp, mp, hp);
    mpz_mod(mp, mp, p);
}

static void decrypt_half(mpz_t mp, const mpz_t c, const mpz_t p, const mpz_t p2, const mpz_t pm1,
                         const mpz_t hp) {
    mpz_mod(mp, c, p2);
    mpz_powm_sec(mp, mp, pm1, p2);
    finish_half(mp, p, hp);
}

/* m = mq + q·((mp − mq)·q^−1 mod p) */
static void crt_combine(const phe_seckey *sk, mpz_t m, const mpz_t mp, const mpz_t mq) {
    mpz_sub(m, mp, mq);
    mpz_mul(m, m, sk->qinv_p);
    mpz_mod(m, m, sk->p);
    mpz_mul(m, m, sk->q);
    mpz_add(m, m, mq);
}

/* Both CRT halves of one decryption in ONE phei_powm_x2 call (c^(p−1) mod
 * p² and c^(q−1) mod q², each number across the zmm lanes, the two products
 * interleaved; constant time in both; the exponent length bound is the
 * larger of bits(p), bits(q), public). Without the kernel (or 1: outside
 * its domain; or no memory for its buffer), two mpz_powm_sec. */
void phei_decrypt_mpz(const phe_seckey *sk, mpz_t m, const mpz_t c) {
    mpz_t mp, mq;
    mpz_inits(mp, mq, NULL);
    mpz_mod(mp, c, sk->p2);
    mpz_mod(mq, c, sk->q2);
    mpz_ptr out[2] = {mp, mq};
    mpz_srcptr base[2] = {mp, mq}, exp[2] = {sk->pm1, sk->qm1}, mod[2] = {sk->p2, sk->q2};
    size_t pb = mpz_sizeinbase(sk->p, 2), qb = mpz_sizeinbase(sk->q, 2);
    int rc = phei_powm_x2(out, base, exp, mod, pb > qb ? pb : qb);
    if (rc == 0) {
        finish_half(mp, sk->p, sk->hp);
        finish_half(mq, sk->q, sk->hq);
    } else { /* 1, or no memory for the kernel's buffer: the GMP path */
        decrypt_half(mp, c, sk->p, sk->p2, sk->pm1, sk->hp);
        decrypt_half(mq, c, sk->q, sk->q2, sk->qm1, sk->hq);
    }
    crt_combine(sk, m, mp, mq);
    phei_mpz_clear_secret(mp);
    phei_mpz_clear_secret(mq);
}

/* The CRT halves of up to 8 decryptions at once in the IFMA kernel's lanes:
 * c^(p−1) mod p² for every c, then c^(q−1) mod q² (secret exponents of
 * bits(p) and bits(q) bits: the kernel is constant time in them). Without
 * the kernel, one phei_decrypt_mpz per value. */
int phei_decrypt_mpz_multi(const phe_seckey *sk, mpz_t *m, const mpz_srcptr *c, size_t count) {
    if (count == 0 || count > 8)
        return PHE_ERR_INTERNAL;
    mpz_t hp[8], hq[8];
    mpz_ptr op[8], oq[8];
    mpz_srcptr bp[8], bq[8], ep[8], eq[8], mp[8], mq[8];
    for (size_t i = 0; i < count; i++) {
        mpz_inits(hp[i], hq[i], NULL);
        mpz_mod(hp[i], c[i], sk->p2);
        mpz_mod(hq[i], c[i], sk->q2);
        op[i] = hp[i];
        oq[i] = hq[i];
        bp[i] = hp[i];
        bq[i] = hq[i];
        ep[i] = sk->pm1;
        eq[i] = sk->qm1;
        mp[i] = sk->p2;
        mq[i] = sk->q2;
    }
    int rc = phei_powm_mb8(op, bp, ep, mp, count, mpz_sizeinbase(sk->p, 2));
    if (rc == 0)
        rc = phei_powm_mb8(oq, bq, eq, mq, count, mpz_sizeinbase(sk->q, 2));
    for (size_t i = 0; i < count; i++) {
        if (rc == 0) {
            finish_half(hp[i], sk->p, sk->hp);
            finish_half(hq[i], sk->q, sk->hq);
            crt_combine(sk, m[i], hp[i], hq[i]);
        } else if (rc > 0) {
            phei_decrypt_mpz(sk, m[i], c[i]);
        }
        phei_mpz_clear_secret(hp[i]);
        phei_mpz_clear_secret(hq[i]);
    }
    return rc > 0 ? 0 : rc;
}

static int decrypt_check(const phe_seckey *sk, const phe_ciphertext *ct) {
    if (sk == NULL || ct == NULL)
        return PHE_ERR_INVALID_ARG;
    return phei_check_ct(sk->pk, ct);
}

int phe_decrypt_i64(const phe_seckey *sk, const phe_ciphertext *ct, int64_t *out) {
    if (out == NULL)
        return PHE_ERR_INVALID_ARG;
    int rc = decrypt_check(sk, ct);
    if (rc != 0)
        return rc;
    mpz_t m;
    mpz_init(m);
    phei_decrypt_mpz(sk, m, ct->c);
    rc = phei_mpz_to_i64(m, sk->pk->n, out);
    phei_mpz_clear_secret(m);
    return rc;
}

int phe_decrypt_bytes(const phe_seckey *sk, const phe_ciphertext *ct, uint8_t *out,
                      size_t out_len) {
    if (out == NULL && out_len > 0)
        return PHE_ERR_INVALID_ARG;
    int rc = decrypt_check(sk, ct);
    if (rc != 0)
        return rc;
    /* Against the largest plaintext, before decrypting: whether the call
     * fails must not depend on m (it would tell m's length to the caller). */
    if (out_len < phe_plaintext_size(sk->pk))
        return PHE_ERR_BUFFER_TOO_SMALL;
    mpz_t m;
    mpz_init(m);
    phei_decrypt_mpz(sk, m, ct->c);
    rc = phei_mpz_to_bytes_fixed(m, out, out_len);
    phei_mpz_clear_secret(m);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Homomorphic operations                                               */
/* ------------------------------------------------------------------ */

int phe_add(const phe_pubkey *pk, phe_ciphertext *out, const phe_ciphertext *a,
            const phe_ciphertext *b) {
    if (out == NULL)
        return PHE_ERR_INVALID_ARG;
    int rc = phei_check_ct(pk, a);
    if (rc == 0)
        rc = phei_check_ct(pk, b);
    if (rc != 0)
        return rc;
    /* out may alias a or b: GMP allows aliased operands. */
    mpz_mul(out->c, a->c, b->c);
    mpz_mod(out->c, out->c, pk->n2);
    memcpy(out->key_id, pk->id, sizeof out->key_id);
    out->set = 1;
    return 0;
}

static int add_plain(const phe_pubkey *pk, phe_ciphertext *out, const phe_ciphertext *a,
                     const mpz_t k) {
    mpz_t t;
    mpz_init(t);
    mpz_mul(t, k, pk->n);
    mpz_add_ui(t, t, 1);
    mpz_mul(t, t, a->c);
    mpz_mod(t, t, pk->n2);
    phei_ct_set(pk, out, t);
    mpz_clear(t);
    return 0;
}

int phe_add_i64(const phe_pubkey *pk, phe_ciphertext *out, const phe_ciphertext *a, int64_t k) {
    if (out == NULL)
        return PHE_ERR_INVALID_ARG;
    int rc = phei_check_ct(pk, a);
    if (rc != 0)
        return rc;
    mpz_t kk;
    mpz_init(kk);
    phei_i64_to_mpz(kk, k, pk->n);
    rc = add_plain(pk, out, a, kk);
    mpz_clear(kk);
    return rc;
}

int phe_add_bytes(const phe_pubkey *pk, phe_ciphertext *out, const phe_ciphertext *a,
                  const uint8_t *k, size_t k_len) {
    if (out == NULL)
        return PHE_ERR_INVALID_ARG;
    int rc = phei_check_ct(pk, a);
    if (rc != 0)
        return rc;
    mpz_t kk;
    mpz_init(kk);
    rc = phei_plain_from_bytes(pk, kk, k, k_len);
    if (rc == 0)
        rc = add_plain(pk, out, a, kk);
    mpz_clear(kk);
    return rc;
}

static int mul_mpz(const phe_pubkey *pk, phe_ciphertext *out, const phe_ciphertext *a,
                   const mpz_t k, int negative) {
    mpz_t base;
    mpz_init(base);
    int rc = 0;
    if (negative) {
        if (mpz_invert(base, a->c, pk->n2) == 0)
            rc = PHE_ERR_CIPHERTEXT_INVALID;
    } else {
        mpz_set(base, a->c);
    }
    if (rc == 0) {
        /* k is public: the ordinary (faster) exponentiation. */
        mpz_powm(base, base, k, pk->n2);
        phei_ct_set(pk, out, base);
    }
    mpz_clear(base);
    return rc;
}

int phe_mul_i64(const phe_pubkey *pk, phe_ciphertext *out, const phe_ciphertext *a, int64_t k) {
    if (out == NULL)
        return PHE_ERR_INVALID_ARG;
    int rc = phei_check_ct(pk, a);
    if (rc != 0)
        return rc;
    mpz_t kk;
    mpz_init(kk);
    unsigned long mag = k >= 0 ? (unsigned long)k : (unsigned long)(-(k + 1)) + 1ul;
    mpz_set_ui(kk, mag);
    rc = mul_mpz(pk, out, a, kk, k < 0);
    mpz_clear(kk);
    return rc;
}

int phe_mul_bytes(const phe_pubkey *pk, phe_ciphertext *out, const phe_ciphertext *a,
                  const uint8_t *k, size_t k_len) {
    if (out == NULL)
        return PHE_ERR_INVALID_ARG;
    int rc = phei_check_ct(pk, a);
    if (rc != 0)
        return rc;
    mpz_t kk;
    mpz_init(kk);
    rc = phei_plain_from_bytes(pk, kk, k, k_len);
    if (rc == 0)
        rc = mul_mpz(pk, out, a, kk, 0);
    mpz_clear(kk);
    return rc;
}

int phe_negate(const phe_pubkey *pk, phe_ciphertext *out, const phe_ciphertext *a) {
    if (out == NULL)
        return PHE_ERR_INVALID_ARG;
    int rc = phei_check_ct(pk, a);
    if (rc != 0)
        return rc;
    mpz_t t;
    mpz_init(t);
    if (mpz_invert(t, a->c, pk->n2) == 0)
        rc = PHE_ERR_CIPHERTEXT_INVALID;
    else
        phei_ct_set(pk, out, t);
    mpz_clear(t);
    return rc;
}

int phe_rerandomize(const phe_pubkey *pk, phe_ciphertext *out, const phe_ciphertext *a,
                    phe_rng *rng) {
    if (out == NULL)
        return PHE_ERR_INVALID_ARG;
    int rc = phei_check_ct(pk, a);
    if (rc != 0)
        return rc;
    mpz_t r;
    mpz_init(r);
    rc = phei_djn_randomizer(pk, r, rng);
    if (rc == 0) {
        mpz_mul(r, r, a->c);
        mpz_mod(r, r, pk->n2);
        phei_ct_set(pk, out, r);
    }
    phei_mpz_clear_secret(r);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Pool of precomputed randomizers                                      */
/* ------------------------------------------------------------------ */

struct phe_pool {
    const phe_pubkey *pk;
    pthread_mutex_t lock;
    size_t capacity;
    size_t count; /* ready values are slots[0 .. count) */
    mpz_t *slots;
};

int phe_pool_new(phe_pool **out, const phe_pubkey *pk, size_t capacity) {
    if (out == NULL || pk == NULL || capacity == 0 || capacity > ((size_t)1 << 24))
        return PHE_ERR_INVALID_ARG;
    if (phei_init() != 0)
        return PHE_ERR_INTERNAL;
    phe_pool *p = calloc(1, sizeof *p);
    if (p == NULL)
        return PHE_ERR_NOMEM;
    p->slots = calloc(capacity, sizeof(mpz_t));
    if (p->slots == NULL || pthread_mutex_init(&p->lock, NULL) != 0) {
        free(p->slots);
        free(p);
        return PHE_ERR_NOMEM;
    }
    for (size_t i = 0; i < capacity; i++)
        mpz_init(p->slots[i]);
    p->pk = pk;
    p->capacity = capacity;
    *out = p;
    return 0;
}

void phe_pool_free(phe_pool *pool) {
    if (pool == NULL)
        return;
    for (size_t i = 0; i < pool->capacity; i++)
        phei_mpz_clear_secret(pool->slots[i]);
    free(pool->slots);
    pthread_mutex_destroy(&pool->lock);
    free(pool);
}

size_t phe_pool_available(const phe_pool *pool) {
    if (pool == NULL)
        return 0;
    phe_pool *p = (phe_pool *)pool;
    pthread_mutex_lock(&p->lock);
    size_t n = p->count;
    pthread_mutex_unlock(&p->lock);
    return n;
}

typedef struct fill_job {
    const phe_pubkey *pk;
    mpz_t *vals;
    const uint8_t *key; /* NULL: system generator */
    size_t count;
} fill_job;

/* Eight randomizers per task through the IFMA kernel (item i's generator
 * is the same as in fill_one, so a seeded fill gives the same values). */
#define FILL_GROUP 8
static int fill_group(void *arg, size_t g) {
    fill_job *j = arg;
    size_t lo = g * FILL_GROUP, n = j->count - lo < FILL_GROUP ? j->count - lo : FILL_GROUP;
    phe_rng *rngs[FILL_GROUP] = {NULL};
    int rc = 0;
    for (size_t k = 0; k < n && rc == 0 && j->key != NULL; k++)
        rc = phei_rng_new_from_key(&rngs[k], j->key, lo + k);
    if (rc == 0)
        rc = phei_djn_randomizer_multi(j->pk, j->vals + lo, rngs, n);
    for (size_t k = 0; k < n; k++)
        phe_rng_free(rngs[k]);
    return rc;
}

static int fill_one(void *arg, size_t i) {
    fill_job *j = arg;
    phe_rng *rng = NULL;
    if (j->key != NULL) {
        int rc = phei_rng_new_from_key(&rng, j->key, i);
        if (rc != 0)
            return rc;
    }
    int rc = phei_djn_randomizer(j->pk, j->vals[i], rng);
    phe_rng_free(rng);
    return rc;
}

int phe_pool_fill(phe_pool *pool, phe_ctx *ctx, phe_rng *rng) {
    if (pool == NULL)
        return PHE_ERR_INVALID_ARG;
    pthread_mutex_lock(&pool->lock);
    size_t need = pool->capacity - pool->count;
    pthread_mutex_unlock(&pool->lock);
    if (need == 0)
        return 0;
    int rc = phei_pubkey_table(pool->pk);
    if (rc != 0)
        return rc;
    /* Compute outside the lock so encryptions can proceed meanwhile. */
    mpz_t *vals = calloc(need, sizeof(mpz_t));
    if (vals == NULL)
        return PHE_ERR_NOMEM;
    for (size_t i = 0; i < need; i++)
        mpz_init(vals[i]);
    uint8_t key[32];
    fill_job job = {pool->pk, vals, NULL, need};
    if (rng != NULL) {
        rc = phei_rng_derive_key(rng, key);
        job.key = key;
    }
    if (rc == 0 && pool->pk->mb8 != NULL && phei_mb8_available())
        rc = phei_ctx_run(ctx, fill_group, &job, (need + FILL_GROUP - 1) / FILL_GROUP);
    else if (rc == 0)
        rc = phei_ctx_run(ctx, fill_one, &job, need);
    if (rc == 0) {
        pthread_mutex_lock(&pool->lock);
        for (size_t i = 0; i < need && pool->count < pool->capacity; i++)
            mpz_swap(pool->slots[pool->count++], vals[i]);
        pthread_mutex_unlock(&pool->lock);
    }
    for (size_t i = 0; i < need; i++)
        phei_mpz_clear_secret(vals[i]);
    free(vals);
    sodium_memzero(key, sizeof key);
    return rc;
}

/* Take one randomizer into r (swapped out, so the slot holds a dead value
 * that is overwritten or wiped later). */
static int pool_take(phe_pool *pool, mpz_t r) {
    pthread_mutex_lock(&pool->lock);
    if (pool->count == 0) {
        pthread_mutex_unlock(&pool->lock);
        return PHE_ERR_POOL_EMPTY;
    }
    pool->count--;
    mpz_swap(r, pool->slots[pool->count]);
    pthread_mutex_unlock(&pool->lock);
    return 0;
}

int phe_pool_encrypt_i64(phe_pool *pool, phe_ciphertext *out, int64_t m) {
    if (pool == NULL || out == NULL)
        return PHE_ERR_INVALID_ARG;
    mpz_t mm, r;
    mpz_inits(mm, r, NULL);
    int rc = pool_take(pool, r);
    if (rc == 0) {
        phei_i64_to_mpz(mm, m, pool->pk->n);
        phei_encrypt_with(pool->pk, out, mm, r);
    }
    phei_mpz_clear_secret(mm);
    phei_mpz_clear_secret(r);
    return rc;
}

int phe_pool_encrypt_bytes(phe_pool *pool, phe_ciphertext *out, const uint8_t *m, size_t m_len) {
    if (pool == NULL || out == NULL)
        return PHE_ERR_INVALID_ARG;
    mpz_t mm, r;
    mpz_inits(mm, r, NULL);
    int rc = phei_plain_from_bytes(pool->pk, mm, m, m_len);
    if (rc == 0)
        rc = pool_take(pool, r);
    if (rc == 0)
        phei_encrypt_with(pool->pk, out, mm, r);
    phei_mpz_clear_secret(mm);
    phei_mpz_clear_secret(r);
    return rc;
}
