/*
 * Multi-buffer modular exponentiation on AVX-512 IFMA: eight independent
 * exponentiations x_i^e_i mod m_i, one per 64-bit lane of a zmm register.
 *
 * Numbers are held in radix 2^52, L limbs, "lane-interleaved": limb j of the
 * eight numbers is the 64-byte vector v[8j .. 8j+8). Montgomery products
 * (R = 2^(52L)) are computed by operand scanning with vpmadd52luq/huq, which
 * add the low / high 52 bits of a 52×52-bit product to a 64-bit accumulator;
 * the accumulators are left unnormalised during a product (at most 4L
 * additions of < 2^52 each per limb, < 2^61 for L ≤ 256) and their carries
 * propagated once at the end. A product of inputs below 2m is below 2m when
 * 4m ≤ R ("almost Montgomery" form), so no conditional subtraction is needed
 * inside the exponentiation; one masked subtraction at the end gives the
 * canonical result. The exponent is scanned in fixed windows of w bits from
 * the top; each window costs w squarings and one product by a table entry,
 * the entry chosen by reading all 2^w entries under a lane mask
 * (vpcmpeqq + masked moves). The instruction and memory-address sequence
 * therefore depends only on L, w and the public exponent length, never on
 * the values of bases or exponents. docs/phe-security.md ("The IFMA
 * kernel") gives the argument and the sources of the facts used here.
 *
 * Only the functions marked PHEI_IFMA are compiled for AVX-512; the rest of
 * the library stays baseline x86-64, and they are called only after
 * phei_mb8_available() has checked CPUID and XCR0 at run time.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "phe_internal.h"

/* PHEI_NO_IFMA: build without the kernel (the portable path, as on other
 * architectures). */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(PHEI_NO_IFMA)
#define PHEI_MB8_X86 1
#include <cpuid.h>
#include <immintrin.h>
#define PHEI_IFMA __attribute__((target("avx512f,avx512ifma")))
#else
#define PHEI_MB8_X86 0
#endif

#define LANES  8
#define MASK52 ((UINT64_C(1) << 52) - 1)
/* Largest modulus: n² at 4096-bit n; L = ceil((8192 + 2) / 52) = 158. */
#define MAX_MOD_BITS 8192u
#define MAX_L        ((MAX_MOD_BITS + 2 + 51) / 52)
#define MAX_WINDOW   7u

/* ------------------------------------------------------------------ */
/* Dispatch                                                             */
/* ------------------------------------------------------------------ */

static pthread_once_t detect_once = PTHREAD_ONCE_INIT;
static int cpu_ok;                 /* CPU and OS support, PHE_IFMA not "0" */
static atomic_int forced_fallback; /* phei_mb8_force_fallback */

static void detect(void) {
#if PHEI_MB8_X86
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) /* OSXSAVE */
        return;
    uint32_t xlo, xhi;
    __asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
    (void)xhi;
    /* XCR0: SSE (1), AVX (2), opmask (5), ZMM_Hi256 (6), Hi16_ZMM (7) */
    if ((xlo & 0xE6u) != 0xE6u)
        return;
    if (__get_cpuid_max(0, NULL) < 7)
        return;
    __cpuid_count(7, 0, a, b, c, d);
    if (!(b & (1u << 16)) || !(b & (1u << 21))) /* AVX512F, AVX512IFMA */
        return;
    const char *env = getenv("PHE_IFMA");
    if (env != NULL && strcmp(env, "0") == 0)
        return;
    cpu_ok = 1;
#endif
}

int phei_mb8_available(void) {
    pthread_once(&detect_once, detect);
    return cpu_ok && !atomic_load(&forced_fallback);
}

void phei_mb8_force_fallback(int on) {
    atomic_store(&forced_fallback, on != 0);
}

/* ------------------------------------------------------------------ */
/* Conversions (plain C)                                                */
/* ------------------------------------------------------------------ */

/* limb j (52 bits) of x ≥ 0, reading x's 64-bit limbs at public positions. */
static uint64_t limb52(mpz_srcptr x, size_t j) {
    size_t bit = 52 * j, q = bit / 64, s = bit % 64;
    uint64_t lo = (uint64_t)mpz_getlimbn(x, (mp_size_t)q) >> s;
    uint64_t hi = s > 12 ? (uint64_t)mpz_getlimbn(x, (mp_size_t)q + 1) << (64 - s) : 0;
    return (lo | hi) & MASK52;
}

/* lane `lane` of the interleaved vector v (L limbs) from x < 2^(52L). */
static void put_lane(uint64_t *v, size_t L, size_t lane, mpz_srcptr x) {
    for (size_t j = 0; j < L; j++)
        v[LANES * j + lane] = limb52(x, j);
}

#if PHEI_MB8_X86

/* x = lane `lane` of v (limbs < 2^52). */
static void get_lane(mpz_ptr x, const uint64_t *v, size_t L, size_t lane) {
    size_t words = (52 * L + 63) / 64;
    mp_limb_t *dst = mpz_limbs_write(x, (mp_size_t)words);
    memset(dst, 0, words * sizeof(mp_limb_t));
    for (size_t j = 0; j < L; j++) {
        uint64_t l = v[LANES * j + lane];
        size_t bit = 52 * j, q = bit / 64, s = bit % 64;
        dst[q] |= (mp_limb_t)(l << s);
        if (s > 12)
            dst[q + 1] |= (mp_limb_t)(l >> (64 - s));
    }
    mp_size_t used = (mp_size_t)words;
    while (used > 0 && dst[used - 1] == 0) /* public length normalisation */
        used--;
    mpz_limbs_finish(x, used);
}

/* Window width minimising (table products) + (window products) + (scan
 * cost: 2^w entries of L masked moves per window, ≈ 1/(4L) of a product
 * each). */
static unsigned pick_window(size_t exp_bits, size_t L) {
    unsigned best = 1;
    double best_cost = 0;
    for (unsigned w = 1; w <= MAX_WINDOW; w++) {
        double wins = (double)((exp_bits + w - 1) / w);
        double cost = (double)((1u << w) - 2) + wins + wins * (double)(1u << w) / (4.0 * (double)L);
        if (w == 1 || cost < best_cost) {
            best = w;
            best_cost = cost;
        }
    }
    return best;
}

/* ------------------------------------------------------------------ */
/* The AVX-512 IFMA kernel                                              */
/* ------------------------------------------------------------------ */

typedef struct mb8_mod {
    size_t L;
    const uint64_t *m;  /* L vectors: the moduli */
    const uint64_t *k0; /* 1 vector: −m^−1 mod 2^52 */
    uint64_t *acc;      /* L vectors of scratch */
} mb8_mod;

#define LD(p)    _mm512_load_si512((const void *)(p))
#define ST(p, v) _mm512_store_si512((void *)(p), (v))

/* r = a·b·R^−1 mod m, "almost": a, b < 2m (limbs < 2^52) gives r < 2m with
 * limbs < 2^52. r may alias a or b. */
PHEI_IFMA static void mb8_mul(uint64_t *r, const uint64_t *a, const uint64_t *b, const mb8_mod *c) {
    const size_t L = c->L;
    const uint64_t *m = c->m;
    uint64_t *acc = c->acc;
    const __m512i zero = _mm512_setzero_si512();
    const __m512i k0 = LD(c->k0);
    for (size_t j = 0; j < L; j++)
        ST(acc + LANES * j, zero);
    for (size_t i = 0; i < L; i++) {
        const __m512i bi = LD(b + LANES * i);
        __m512i aj = LD(a), mj = LD(m);
        __m512i t0 = _mm512_madd52lo_epu64(LD(acc), aj, bi);
        /* q = t0 · k0 mod 2^52 (only the low 52 bits of t0 count) */
        const __m512i q = _mm512_madd52lo_epu64(zero, t0, k0);
        t0 = _mm512_madd52lo_epu64(t0, mj, q); /* ≡ 0 mod 2^52 */
        const __m512i carry = _mm512_srli_epi64(t0, 52);
        /* acc'[j] = acc[j+1] + lo(a[j+1]·bi) + lo(m[j+1]·q) + hi(a[j]·bi) + hi(m[j]·q):
         * the product row and the shift by one limb in one pass. */
        for (size_t j = 0; j + 1 < L; j++) {
            const __m512i aj1 = LD(a + LANES * (j + 1)), mj1 = LD(m + LANES * (j + 1));
            __m512i lo = _mm512_madd52lo_epu64(LD(acc + LANES * (j + 1)), aj1, bi);
            __m512i hi = _mm512_madd52hi_epu64(zero, aj, bi);
            lo = _mm512_madd52lo_epu64(lo, mj1, q);
            hi = _mm512_madd52hi_epu64(hi, mj, q);
            ST(acc + LANES * j, _mm512_add_epi64(lo, hi));
            aj = aj1;
            mj = mj1;
        }
        __m512i top = _mm512_madd52hi_epu64(zero, aj, bi);
        top = _mm512_madd52hi_epu64(top, mj, q);
        ST(acc + LANES * (L - 1), top);
        ST(acc, _mm512_add_epi64(LD(acc), carry));
    }
    const __m512i mask = _mm512_set1_epi64((long long)MASK52);
    __m512i carry = zero;
    for (size_t j = 0; j < L; j++) {
        __m512i t = _mm512_add_epi64(LD(acc + LANES * j), carry);
        ST(r + LANES * j, _mm512_and_si512(t, mask));
        carry = _mm512_srli_epi64(t, 52);
    }
}

/* r = the entry of tbl (n entries of L vectors) each lane's digit names:
 * every entry is read, and kept only in the lanes whose digit equals it. */
PHEI_IFMA static void mb8_select(uint64_t *r, const uint64_t *tbl, size_t n, size_t L,
                                 __m512i digit) {
    const __m512i zero = _mm512_setzero_si512();
    for (size_t j = 0; j < L; j++)
        ST(r + LANES * j, zero);
    for (size_t d = 0; d < n; d++) {
        const __mmask8 k = _mm512_cmpeq_epi64_mask(digit, _mm512_set1_epi64((long long)d));
        const uint64_t *e = tbl + d * L * LANES;
        for (size_t j = 0; j < L; j++)
            ST(r + LANES * j, _mm512_mask_mov_epi64(LD(r + LANES * j), k, LD(e + LANES * j)));
    }
}

/* The w-bit digit at bit pos of each lane's exponent; ew: words [q][lane],
 * one zero word past the last. */
PHEI_IFMA static __m512i mb8_digit(const uint64_t *ew, size_t pos, unsigned w) {
    size_t q = pos / 64, s = pos % 64;
    __m512i lo = _mm512_srlv_epi64(LD(ew + LANES * q), _mm512_set1_epi64((long long)s));
    /* a shift count of 64 gives 0, so s = 0 needs no branch */
    __m512i hi =
        _mm512_sllv_epi64(LD(ew + LANES * (q + 1)), _mm512_set1_epi64((long long)(64 - s)));
    return _mm512_and_si512(_mm512_or_si512(lo, hi), _mm512_set1_epi64((long long)((1u << w) - 1)));
}

/* r = r − m if r ≥ m, lane by lane, with masks (r < 2m, limbs < 2^52). */
PHEI_IFMA static void mb8_reduce_once(uint64_t *r, uint64_t *diff, const mb8_mod *c) {
    const __m512i mask = _mm512_set1_epi64((long long)MASK52);
    __m512i borrow = _mm512_setzero_si512();
    for (size_t j = 0; j < c->L; j++) {
        __m512i t =
            _mm512_sub_epi64(_mm512_sub_epi64(LD(r + LANES * j), LD(c->m + LANES * j)), borrow);
        ST(diff + LANES * j, _mm512_and_si512(t, mask));
        borrow = _mm512_srli_epi64(t, 63);
    }
    const __mmask8 keep = _mm512_cmpeq_epi64_mask(borrow, _mm512_setzero_si512());
    for (size_t j = 0; j < c->L; j++)
        ST(r + LANES * j, _mm512_mask_mov_epi64(LD(r + LANES * j), keep, LD(diff + LANES * j)));
}

/* x (L vectors, plain form, < m) to x^e mod m in place. one: R mod m, rr:
 * R² mod m, unit: the integer 1; tbl: 2^w entries; tmp: L vectors. */
PHEI_IFMA static void mb8_exp(uint64_t *x, const uint64_t *ew, size_t exp_bits, unsigned w,
                              const uint64_t *one, const uint64_t *rr, const uint64_t *unit,
                              uint64_t *tbl, uint64_t *tmp, const mb8_mod *c) {
    const size_t L = c->L, V = L * LANES, n = (size_t)1 << w;
    memcpy(tbl, one, V * sizeof(uint64_t));
    mb8_mul(tbl + V, x, rr, c); /* x·R mod m */
    for (size_t d = 2; d < n; d++)
        mb8_mul(tbl + d * V, tbl + (d - 1) * V, tbl + V, c);
    size_t wins = exp_bits == 0 ? 1 : (exp_bits + w - 1) / w;
    mb8_select(x, tbl, n, L, mb8_digit(ew, (wins - 1) * w, w));
    for (size_t k = wins - 1; k-- > 0;) {
        for (unsigned s = 0; s < w; s++)
            mb8_mul(x, x, x, c);
        mb8_select(tmp, tbl, n, L, mb8_digit(ew, k * w, w));
        mb8_mul(x, x, tmp, c);
    }
    mb8_mul(x, x, unit, c); /* leave Montgomery form: ≤ m */
    mb8_reduce_once(x, tmp, c);
}

/* r = the entry of a shared row (n entries of L plain limbs, one copy for
 * every lane) each lane's digit names, every entry read and broadcast,
 * kept under the lane mask. */
PHEI_IFMA static void mb8_select_shared(uint64_t *r, const uint64_t *row, size_t n, size_t L,
                                        __m512i digit) {
    const __m512i zero = _mm512_setzero_si512();
    for (size_t j = 0; j < L; j++)
        ST(r + LANES * j, zero);
    for (size_t d = 0; d < n; d++) {
        const __mmask8 k = _mm512_cmpeq_epi64_mask(digit, _mm512_set1_epi64((long long)d));
        const uint64_t *e = row + d * L;
        for (size_t j = 0; j < L; j++)
            ST(r + LANES * j, _mm512_mask_set1_epi64(LD(r + LANES * j), k, (long long)e[j]));
    }
}

/* x = Π_j row_j[digit_j] (Montgomery form in, plain form out, reduced).
 * digits: rows vectors of 8 lane digits; tmp: L vectors. */
PHEI_IFMA static void mb8_fixed_base(uint64_t *x, const uint64_t *digits, const uint64_t *tbl,
                                     size_t rows, size_t cols, const uint64_t *unit, uint64_t *tmp,
                                     const mb8_mod *c) {
    const size_t L = c->L;
    mb8_select_shared(x, tbl, cols, L, LD(digits));
    for (size_t j = 1; j < rows; j++) {
        mb8_select_shared(tmp, tbl + j * cols * L, cols, L, LD(digits + LANES * j));
        mb8_mul(x, x, tmp, c);
    }
    mb8_mul(x, x, unit, c);
    mb8_reduce_once(x, tmp, c);
}

/* x = h^a for ONE exponent a split across the lanes: lane i multiplies the
 * entries its digits name in rows i, 8 + i, 16 + i, … (tbl: the split
 * layout, steps · cols entries of L vectors, entry d of step k holding row
 * 8k + i's entry d in lane i), then the eight lane products are multiplied
 * together in three rounds (lane i by lane i XOR s, s = 4, 2, 1), so every
 * lane holds Π of all rows. digits: steps vectors (digit of row 8k + i in
 * lane i). Montgomery form in, plain form out, reduced. tmp: L vectors. */
PHEI_IFMA static void mb8_fixed_base_split(uint64_t *x, const uint64_t *digits, const uint64_t *tbl,
                                           size_t steps, size_t cols, const uint64_t *unit,
                                           uint64_t *tmp, const mb8_mod *c) {
    const size_t L = c->L, E = cols * L * LANES;
    mb8_select(x, tbl, cols, L, LD(digits));
    for (size_t k = 1; k < steps; k++) {
        mb8_select(tmp, tbl + k * E, cols, L, LD(digits + LANES * k));
        mb8_mul(x, x, tmp, c);
    }
    const __m512i lane = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
    for (long long s = 4; s > 0; s /= 2) {
        const __m512i idx = _mm512_xor_si512(lane, _mm512_set1_epi64(s));
        for (size_t j = 0; j < L; j++)
            ST(tmp + LANES * j, _mm512_permutexvar_epi64(idx, LD(x + LANES * j)));
        mb8_mul(x, x, tmp, c);
    }
    mb8_mul(x, x, unit, c);
    mb8_reduce_once(x, tmp, c);
}

/* ------------------------------------------------------------------ */
/* Two exponentiations, each number across the lanes ("x2")            */
/* ------------------------------------------------------------------ */

/* A number of L radix-2^52 limbs is NV = ceil(L / 8) vectors: limb j in
 * lane j mod 8 of vector j / 8, the limbs past L zero. Two independent
 * Montgomery products (different moduli) run interleaved in one loop, so
 * that the latency of one (the scalar q of each row) hides behind the
 * other's work. Same "almost Montgomery" bounds as mb8_mul: inputs < 2m,
 * output < 2m when 4m ≤ R = 2^(52L). */
#define HX_MAXV ((MAX_L + LANES - 1) / LANES)

typedef struct hx2_mod {
    size_t L, NV;
    const uint64_t *m[2]; /* NV vectors each */
    uint64_t k0[2];       /* −m^−1 mod 2^52 */
    uint64_t *norm;       /* 2 · NV · 8 words of scratch, 64-byte aligned */
} hx2_mod;

/* r_k = a_k · b_k · R^−1 mod m_k (almost), k = 0, 1; r may alias a or b.
 * NV is a compile-time constant in each instance (always inlined). */
PHEI_IFMA static inline __attribute__((always_inline)) void
hx2_mul_nv(uint64_t *r0, const uint64_t *a0, const uint64_t *b0, uint64_t *r1, const uint64_t *a1,
           const uint64_t *b1, const hx2_mod *c, const size_t NV) {
    const size_t L = c->L;
    const uint64_t *m0 = c->m[0], *m1 = c->m[1];
    const uint64_t k00 = c->k0[0], k01 = c->k0[1], m00 = m0[0], m10 = m1[0];
    const __m512i zero = _mm512_setzero_si512();
    __m512i X[HX_MAXV], Y[HX_MAXV];
    for (size_t v = 0; v < NV; v++) {
        X[v] = zero;
        Y[v] = zero;
    }
    for (size_t i = 0; i < L; i++) {
        const uint64_t bs0 = b0[i], bs1 = b1[i];
        const __m512i bi0 = _mm512_set1_epi64((long long)bs0);
        const __m512i bi1 = _mm512_set1_epi64((long long)bs1);
        for (size_t v = 0; v < NV; v++) {
            X[v] = _mm512_madd52lo_epu64(X[v], LD(a0 + LANES * v), bi0);
            Y[v] = _mm512_madd52lo_epu64(Y[v], LD(a1 + LANES * v), bi1);
        }
        const uint64_t t0 = (uint64_t)_mm_cvtsi128_si64(_mm512_castsi512_si128(X[0]));
        const uint64_t t1 = (uint64_t)_mm_cvtsi128_si64(_mm512_castsi512_si128(Y[0]));
        const uint64_t q0 = (t0 * k00) & MASK52, q1 = (t1 * k01) & MASK52;
        /* limb 0 + lo(m0·q) ≡ 0 mod 2^52: its carry, in scalar */
        const uint64_t c0 = (t0 + ((m00 * q0) & MASK52)) >> 52;
        const uint64_t c1 = (t1 + ((m10 * q1) & MASK52)) >> 52;
        const __m512i qv0 = _mm512_set1_epi64((long long)q0);
        const __m512i qv1 = _mm512_set1_epi64((long long)q1);
        for (size_t v = 0; v < NV; v++) {
            X[v] = _mm512_madd52lo_epu64(X[v], LD(m0 + LANES * v), qv0);
            Y[v] = _mm512_madd52lo_epu64(Y[v], LD(m1 + LANES * v), qv1);
        }
        /* drop limb 0 (its low 52 bits are zero), everything one limb down */
        for (size_t v = 0; v + 1 < NV; v++) {
            X[v] = _mm512_alignr_epi64(X[v + 1], X[v], 1);
            Y[v] = _mm512_alignr_epi64(Y[v + 1], Y[v], 1);
        }
        X[NV - 1] = _mm512_alignr_epi64(zero, X[NV - 1], 1);
        Y[NV - 1] = _mm512_alignr_epi64(zero, Y[NV - 1], 1);
        X[0] = _mm512_add_epi64(X[0], _mm512_maskz_set1_epi64(1, (long long)c0));
        Y[0] = _mm512_add_epi64(Y[0], _mm512_maskz_set1_epi64(1, (long long)c1));
        /* the high halves of row i land one limb up: after the shift, in place */
        for (size_t v = 0; v < NV; v++) {
            X[v] = _mm512_madd52hi_epu64(X[v], LD(a0 + LANES * v), bi0);
            Y[v] = _mm512_madd52hi_epu64(Y[v], LD(a1 + LANES * v), bi1);
            X[v] = _mm512_madd52hi_epu64(X[v], LD(m0 + LANES * v), qv0);
            Y[v] = _mm512_madd52hi_epu64(Y[v], LD(m1 + LANES * v), qv1);
        }
    }
    /* carries, limb by limb (the same steps whatever the values) */
    uint64_t *nx = c->norm, *ny = c->norm + NV * LANES;
    for (size_t v = 0; v < NV; v++) {
        ST(nx + LANES * v, X[v]);
        ST(ny + LANES * v, Y[v]);
    }
    uint64_t cx = 0, cy = 0;
    for (size_t j = 0; j < L; j++) {
        const uint64_t tx = nx[j] + cx, ty = ny[j] + cy;
        r0[j] = tx & MASK52;
        r1[j] = ty & MASK52;
        cx = tx >> 52;
        cy = ty >> 52;
    }
}

PHEI_IFMA static void hx2_mul(uint64_t *r0, const uint64_t *a0, const uint64_t *b0, uint64_t *r1,
                              const uint64_t *a1, const uint64_t *b1, const hx2_mod *c) {
    switch (c->NV) {
        case 5: /* p² of a 2048-bit n */
            hx2_mul_nv(r0, a0, b0, r1, a1, b1, c, 5);
            break;
        case 8: /* p² of a 3072-bit n */
            hx2_mul_nv(r0, a0, b0, r1, a1, b1, c, 8);
            break;
        case 10: /* n² of a 2048-bit n */
            hx2_mul_nv(r0, a0, b0, r1, a1, b1, c, 10);
            break;
        default:
            hx2_mul_nv(r0, a0, b0, r1, a1, b1, c, c->NV);
            break;
    }
}

/* r = the entry of tbl (n entries of NV vectors) the secret digit names:
 * every entry is read, kept under an all-or-nothing mask. */
PHEI_IFMA static void hx_select(uint64_t *r, const uint64_t *tbl, size_t n, size_t NV,
                                uint64_t digit) {
    const __m512i dv = _mm512_set1_epi64((long long)digit);
    for (size_t v = 0; v < NV; v++)
        ST(r + LANES * v, _mm512_setzero_si512());
    for (size_t d = 0; d < n; d++) {
        const __mmask8 k = _mm512_cmpeq_epi64_mask(dv, _mm512_set1_epi64((long long)d));
        const uint64_t *e = tbl + d * NV * LANES;
        for (size_t v = 0; v < NV; v++)
            ST(r + LANES * v, _mm512_mask_mov_epi64(LD(r + LANES * v), k, LD(e + LANES * v)));
    }
}

/* The w-bit digit at public bit position pos of the exponent words ew (one
 * zero word past the last). */
static uint64_t hx_digit(const uint64_t *ew, size_t pos, unsigned w) {
    size_t q = pos / 64, s = pos % 64;
    uint64_t d = ew[q] >> s;
    if (s != 0) /* public */
        d |= ew[q + 1] << (64 - s);
    return d & (((uint64_t)1 << w) - 1);
}

/* r = r − m if r ≥ m (r < 2m, L limbs < 2^52), by a borrow and a mask. */
static void hx_reduce_once(uint64_t *r, const uint64_t *m, size_t L) {
    uint64_t diff[MAX_L], borrow = 0;
    for (size_t j = 0; j < L; j++) {
        uint64_t t = r[j] - m[j] - borrow;
        diff[j] = t & MASK52;
        borrow = t >> 63;
    }
    const uint64_t keep = borrow - 1; /* all ones when r ≥ m */
    for (size_t j = 0; j < L; j++)
        r[j] = (diff[j] & keep) | (r[j] & ~keep);
    sodium_memzero(diff, sizeof diff);
}

#endif /* PHEI_MB8_X86 */

/* ------------------------------------------------------------------ */
/* Entry points                                                         */
/* ------------------------------------------------------------------ */

int phei_powm_mb8(mpz_ptr *out, mpz_srcptr const *base, mpz_srcptr const *exp,
                  mpz_srcptr const *mod, size_t count, size_t exp_bits) {
    if (count == 0 || count > LANES || out == NULL || base == NULL || exp == NULL || mod == NULL)
        return PHE_ERR_INTERNAL;
    if (!phei_mb8_available())
        return 1;
#if PHEI_MB8_X86
    size_t mbits = 0;
    for (size_t i = 0; i < count; i++) {
        if (mpz_sgn(mod[i]) <= 0 || mpz_even_p(mod[i]) || mpz_cmp_ui(mod[i], 1) == 0 ||
            mpz_sgn(exp[i]) < 0 || mpz_sgn(base[i]) < 0)
            return 1; /* outside the kernel's domain: the caller's fallback decides */
        if (mpz_sizeinbase(exp[i], 2) > exp_bits && mpz_sgn(exp[i]) != 0)
            return 1;
        size_t b = mpz_sizeinbase(mod[i], 2);
        if (b > mbits)
            mbits = b;
    }
    if (mbits > MAX_MOD_BITS || exp_bits > 4 * MAX_MOD_BITS)
        return 1;
    const size_t L = (mbits + 2 + 51) / 52, V = L * LANES;
    const unsigned w = pick_window(exp_bits, L);
    const size_t ewords = (exp_bits + 63) / 64 + 2;
    const size_t nvec = 8 * L + 1 + ((size_t)1 << w) * L + ewords;
    uint64_t *buf = aligned_alloc(64, nvec * LANES * sizeof(uint64_t));
    if (buf == NULL)
        return PHE_ERR_NOMEM;
    memset(buf, 0, nvec * LANES * sizeof(uint64_t));
    uint64_t *m = buf, *k0 = m + V, *one = k0 + LANES, *rr = one + V, *unit = rr + V, *x = unit + V,
             *tmp = x + V, *acc = tmp + V, *ew = acc + V, *tbl = ew + ewords * LANES;
    mpz_t t, r;
    mpz_inits(t, r, NULL);
    for (size_t i = 0; i < LANES; i++) {
        if (i >= count) { /* idle lanes repeat lane 0's modulus, x = 1, e = 0 */
            for (size_t j = 0; j < L; j++) {
                m[LANES * j + i] = m[LANES * j];
                one[LANES * j + i] = one[LANES * j];
                rr[LANES * j + i] = rr[LANES * j];
            }
            k0[i] = k0[0];
            unit[i] = 1;
            x[i] = 1;
            continue;
        }
        mpz_srcptr mi = mod[i];
        put_lane(m, L, i, mi);
        uint64_t m0 = (uint64_t)mpz_getlimbn(mi, 0), inv = 1;
        for (int it = 0; it < 7; it++) /* Newton: inv = m0^−1 mod 2^64 */
            inv *= 2 - m0 * inv;
        k0[i] = (0 - inv) & MASK52;
        mpz_set_ui(r, 1);
        mpz_mul_2exp(r, r, (mp_bitcnt_t)(52 * L));
        mpz_mod(t, r, mi);
        put_lane(one, L, i, t);
        mpz_mul(t, t, t);
        mpz_mod(t, t, mi);
        put_lane(rr, L, i, t);
        unit[i] = 1;
        if (mpz_cmp(base[i], mi) >= 0) {
            mpz_mod(t, base[i], mi);
            put_lane(x, L, i, t);
        } else {
            put_lane(x, L, i, base[i]);
        }
        /* the words below exp_bits (the exponent fits: checked above);
         * the two above stay zero for mb8_digit */
        for (size_t q = 0; q + 2 < ewords; q++)
            ew[LANES * q + i] = (uint64_t)mpz_getlimbn(exp[i], (mp_size_t)q);
    }
    mb8_mod c = {L, m, k0, acc};
    mb8_exp(x, ew, exp_bits, w, one, rr, unit, tbl, tmp, &c);
    for (size_t i = 0; i < count; i++)
        get_lane(out[i], x, L, i);
    mpz_clears(t, r, NULL);
    sodium_memzero(buf, nvec * LANES * sizeof(uint64_t));
    free(buf);
    return 0;
#else
    (void)exp_bits;
    return 1;
#endif
}

int phei_powm_batch(mpz_ptr *out, mpz_srcptr const *base, mpz_srcptr const *exp,
                    mpz_srcptr const *mod, size_t count, size_t exp_bits, int secret) {
    for (size_t s = 0; s < count; s += LANES) {
        size_t k = count - s < LANES ? count - s : LANES;
        int rc = phei_powm_mb8(out + s, base + s, exp + s, mod + s, k, exp_bits);
        if (rc < 0)
            return rc;
        if (rc == 0)
            continue;
        for (size_t i = s; i < s + k; i++) {
            if (mpz_sgn(exp[i]) == 0)
                mpz_set_ui(out[i], mpz_cmp_ui(mod[i], 1) == 0 ? 0 : 1);
            else if (secret && mpz_odd_p(mod[i]) && mpz_sgn(exp[i]) > 0)
                mpz_powm_sec(out[i], base[i], exp[i], mod[i]);
            else
                mpz_powm(out[i], base[i], exp[i], mod[i]);
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Fixed base: the DJN randomizer h_s^a in lanes                        */
/* ------------------------------------------------------------------ */

struct phei_mb8_fb {
    size_t L, rows, cols;
    size_t steps; /* ceil(rows / 8): rows per lane in the split layout */
    unsigned window;
    uint64_t *mod;   /* L vectors (8 copies of n²), 64-byte aligned */
    uint64_t *k0;    /* 1 vector */
    uint64_t *unit;  /* L vectors: the integer 1 */
    uint64_t *tbl;   /* rows · cols entries of L plain limbs: h^(d·2^(wj))·R mod n² */
    uint64_t *split; /* steps · cols entries of L vectors, 64-byte aligned: entry
                      * d of step k has row 8k + i's entry d in lane i (rows past
                      * the last: the identity R mod n² in every column) */
};

void phei_mb8_fb_free(phei_mb8_fb *f) {
    if (f == NULL)
        return;
    free(f->mod);
    free(f->tbl);
    free(f->split);
    free(f);
}

int phei_mb8_fb_build(phei_mb8_fb **out, const phei_fbtable *t, const mpz_t n2) {
    *out = NULL;
    size_t bits = mpz_sizeinbase(n2, 2);
    if (bits > MAX_MOD_BITS)
        return 1;
    phei_mb8_fb *f = calloc(1, sizeof *f);
    if (f == NULL)
        return PHE_ERR_NOMEM;
    f->L = (bits + 2 + 51) / 52;
    f->rows = t->rows;
    f->cols = t->cols;
    f->window = t->window;
    f->steps = (f->rows + LANES - 1) / LANES;
    size_t L = f->L, V = L * LANES;
    f->mod = aligned_alloc(64, (2 * V + LANES) * sizeof(uint64_t));
    f->tbl = malloc(f->rows * f->cols * L * sizeof(uint64_t));
    f->split = aligned_alloc(64, f->steps * f->cols * V * sizeof(uint64_t));
    if (f->mod == NULL || f->tbl == NULL || f->split == NULL) {
        phei_mb8_fb_free(f);
        return PHE_ERR_NOMEM;
    }
    memset(f->mod, 0, (2 * V + LANES) * sizeof(uint64_t));
    f->k0 = f->mod + V;
    f->unit = f->k0 + LANES;
    uint64_t m0 = (uint64_t)mpz_getlimbn(n2, 0), inv = 1;
    for (int it = 0; it < 7; it++)
        inv *= 2 - m0 * inv;
    for (size_t i = 0; i < LANES; i++) {
        put_lane(f->mod, L, i, n2);
        f->k0[i] = (0 - inv) & MASK52;
        f->unit[i] = 1;
    }
    /* entry·R52 = (entry·R64)·(R52·R64^−1) mod n²: one product per entry
     * from the existing table (public values: mpz is fine here) */
    mpz_t c, x;
    mpz_inits(c, x, NULL);
    mpz_set_ui(x, 1);
    mpz_mul_2exp(x, x, (mp_bitcnt_t)(t->limbs * GMP_NUMB_BITS));
    int ok = mpz_invert(c, x, n2);
    mpz_set_ui(x, 1);
    mpz_mul_2exp(x, x, (mp_bitcnt_t)(52 * L));
    mpz_mul(c, c, x);
    mpz_mod(c, c, n2);
    for (size_t e = 0; ok && e < f->rows * f->cols; e++) {
        mpz_import(x, t->limbs, -1, sizeof(mp_limb_t), 0, 0, t->mont + e * t->limbs);
        mpz_mul(x, x, c);
        mpz_mod(x, x, n2);
        for (size_t j = 0; j < L; j++)
            f->tbl[e * L + j] = limb52(x, j);
    }
    mpz_clears(c, x, NULL);
    if (!ok) {
        phei_mb8_fb_free(f);
        return PHE_ERR_INTERNAL;
    }
    /* the split layout: row 8k + i in lane i of step k; column 0 of row 0
     * is the identity, which fills the rows past the last */
    for (size_t k = 0; k < f->steps; k++)
        for (size_t d = 0; d < f->cols; d++)
            for (size_t i = 0; i < LANES; i++) {
                size_t row = LANES * k + i;
                const uint64_t *src = row < f->rows ? f->tbl + (row * f->cols + d) * L : f->tbl;
                uint64_t *dst = f->split + (k * f->cols + d) * V + i;
                for (size_t j = 0; j < L; j++)
                    dst[LANES * j] = src[j];
            }
    *out = f;
    return 0;
}

int phei_mb8_fb_pow(const phei_mb8_fb *f, mpz_ptr *out, const uint8_t *const *a, size_t a_bits,
                    size_t count) {
    if (f == NULL || count == 0 || count > LANES)
        return PHE_ERR_INTERNAL;
    if (!phei_mb8_available())
        return 1;
#if PHEI_MB8_X86
    const size_t L = f->L, V = L * LANES;
    const size_t nvec = 3 * L + f->rows;
    uint64_t *buf = aligned_alloc(64, nvec * LANES * sizeof(uint64_t));
    if (buf == NULL)
        return PHE_ERR_NOMEM;
    memset(buf, 0, nvec * LANES * sizeof(uint64_t));
    uint64_t *x = buf, *tmp = x + V, *acc = tmp + V, *dig = acc + V;
    /* digit j of lane i: bits j·w … j·w + w − 1 of a[i] (public positions) */
    for (size_t i = 0; i < count; i++)
        for (size_t j = 0; j < f->rows; j++) {
            uint64_t d = 0;
            for (unsigned b = 0; b < f->window; b++) {
                size_t pos = j * f->window + b;
                if (pos < a_bits)
                    d |= (uint64_t)((a[i][pos / 8] >> (pos % 8)) & 1u) << b;
            }
            dig[LANES * j + i] = d;
        }
    mb8_mod c = {L, f->mod, f->k0, acc};
    mb8_fixed_base(x, dig, f->tbl, f->rows, f->cols, f->unit, tmp, &c);
    for (size_t i = 0; i < count; i++)
        get_lane(out[i], x, L, i);
    sodium_memzero(buf, nvec * LANES * sizeof(uint64_t));
    free(buf);
    return 0;
#else
    (void)out;
    (void)a;
    (void)a_bits;
    return 1;
#endif
}

int phei_mb8_fb_pow1(const phei_mb8_fb *f, mpz_t out, const uint8_t *a, size_t a_bits) {
    if (f == NULL || a == NULL)
        return PHE_ERR_INTERNAL;
    if (!phei_mb8_available())
        return 1;
#if PHEI_MB8_X86
    const size_t L = f->L, V = L * LANES;
    const size_t nvec = 3 * L + f->steps;
    uint64_t *buf = aligned_alloc(64, nvec * LANES * sizeof(uint64_t));
    if (buf == NULL)
        return PHE_ERR_NOMEM;
    memset(buf, 0, nvec * LANES * sizeof(uint64_t));
    uint64_t *x = buf, *tmp = x + V, *acc = tmp + V, *dig = acc + V;
    /* digit j (bits j·w … j·w + w − 1 of a, public positions) goes to lane
     * j mod 8 of step j / 8: the linear order of the digits is exactly that;
     * the padding digits stay 0 */
    for (size_t j = 0; j < f->rows; j++) {
        uint64_t d = 0;
        for (unsigned b = 0; b < f->window; b++) {
            size_t pos = j * f->window + b;
            if (pos < a_bits)
                d |= (uint64_t)((a[pos / 8] >> (pos % 8)) & 1u) << b;
        }
        dig[j] = d;
    }
    mb8_mod c = {L, f->mod, f->k0, acc};
    mb8_fixed_base_split(x, dig, f->split, f->steps, f->cols, f->unit, tmp, &c);
    get_lane(out, x, L, 0);
    sodium_memzero(buf, nvec * LANES * sizeof(uint64_t));
    free(buf);
    return 0;
#else
    (void)out;
    (void)a_bits;
    return 1;
#endif
}

int phei_powm_x2(mpz_ptr *out, mpz_srcptr const *base, mpz_srcptr const *exp, mpz_srcptr const *mod,
                 size_t exp_bits) {
    if (out == NULL || base == NULL || exp == NULL || mod == NULL)
        return PHE_ERR_INTERNAL;
    if (!phei_mb8_available())
        return 1;
#if PHEI_MB8_X86
    size_t mbits = 0;
    for (size_t k = 0; k < 2; k++) {
        if (mpz_sgn(mod[k]) <= 0 || mpz_even_p(mod[k]) || mpz_cmp_ui(mod[k], 1) == 0 ||
            mpz_sgn(exp[k]) < 0 || mpz_sgn(base[k]) < 0)
            return 1;
        if (mpz_sizeinbase(exp[k], 2) > exp_bits && mpz_sgn(exp[k]) != 0)
            return 1;
        size_t b = mpz_sizeinbase(mod[k], 2);
        if (b > mbits)
            mbits = b;
    }
    if (mbits > MAX_MOD_BITS || exp_bits > 4 * MAX_MOD_BITS)
        return 1;
    const size_t L = (mbits + 2 + 51) / 52, NV = (L + LANES - 1) / LANES, V = NV * LANES;
    const unsigned w = pick_window(exp_bits, L);
    const size_t n = (size_t)1 << w;
    const size_t ewords = (exp_bits + 63) / 64 + 2;
    /* per number: m, one, rr, x, tmp (5 · 2), unit, norm (2), table (2n) */
    const size_t nvec = 13 + 2 * n;
    /* a whole number of 64-byte vectors: aligned_alloc wants a multiple */
    const size_t total = nvec * V + (2 * ewords + LANES - 1) / LANES * LANES;
    uint64_t *buf = aligned_alloc(64, total * sizeof(uint64_t));
    if (buf == NULL)
        return PHE_ERR_NOMEM;
    memset(buf, 0, total * sizeof(uint64_t));
    uint64_t *m[2], *one[2], *rr[2], *x[2], *tmp[2], *tbl[2], *ew[2];
    uint64_t *p = buf;
    for (size_t k = 0; k < 2; k++) {
        m[k] = p;
        one[k] = p + V;
        rr[k] = p + 2 * V;
        x[k] = p + 3 * V;
        tmp[k] = p + 4 * V;
        p += 5 * V;
    }
    uint64_t *unit = p, *norm = p + V;
    p += 3 * V;
    for (size_t k = 0; k < 2; k++) {
        tbl[k] = p;
        p += n * V;
    }
    for (size_t k = 0; k < 2; k++) {
        ew[k] = p;
        p += ewords;
    }
    unit[0] = 1;
    hx2_mod c = {L, NV, {NULL, NULL}, {0, 0}, norm};
    mpz_t t, r;
    mpz_inits(t, r, NULL);
    for (size_t k = 0; k < 2; k++) {
        mpz_srcptr mk = mod[k];
        for (size_t j = 0; j < L; j++)
            m[k][j] = limb52(mk, j);
        uint64_t m0 = (uint64_t)mpz_getlimbn(mk, 0), inv = 1;
        for (int it = 0; it < 7; it++)
            inv *= 2 - m0 * inv;
        c.m[k] = m[k];
        c.k0[k] = (0 - inv) & MASK52;
        mpz_set_ui(r, 1);
        mpz_mul_2exp(r, r, (mp_bitcnt_t)(52 * L));
        mpz_mod(t, r, mk);
        for (size_t j = 0; j < L; j++)
            one[k][j] = limb52(t, j);
        mpz_mul(t, t, t);
        mpz_mod(t, t, mk);
        for (size_t j = 0; j < L; j++)
            rr[k][j] = limb52(t, j);
        mpz_srcptr bk = base[k];
        if (mpz_cmp(bk, mk) >= 0) {
            mpz_mod(t, bk, mk);
            bk = t;
        }
        for (size_t j = 0; j < L; j++)
            x[k][j] = limb52(bk, j);
        for (size_t q = 0; q + 2 < ewords; q++)
            ew[k][q] = (uint64_t)mpz_getlimbn(exp[k], (mp_size_t)q);
    }
    /* table: entry d = x^d · R mod m */
    for (size_t k = 0; k < 2; k++)
        memcpy(tbl[k], one[k], V * sizeof(uint64_t));
    hx2_mul(tbl[0] + V, x[0], rr[0], tbl[1] + V, x[1], rr[1], &c);
    for (size_t d = 2; d < n; d++)
        hx2_mul(tbl[0] + d * V, tbl[0] + (d - 1) * V, tbl[0] + V, tbl[1] + d * V,
                tbl[1] + (d - 1) * V, tbl[1] + V, &c);
    size_t wins = exp_bits == 0 ? 1 : (exp_bits + w - 1) / w;
    for (size_t k = 0; k < 2; k++)
        hx_select(x[k], tbl[k], n, NV, hx_digit(ew[k], (wins - 1) * w, w));
    for (size_t win = wins - 1; win-- > 0;) {
        for (unsigned b = 0; b < w; b++)
            hx2_mul(x[0], x[0], x[0], x[1], x[1], x[1], &c);
        for (size_t k = 0; k < 2; k++)
            hx_select(tmp[k], tbl[k], n, NV, hx_digit(ew[k], win * w, w));
        hx2_mul(x[0], x[0], tmp[0], x[1], x[1], tmp[1], &c);
    }
    hx2_mul(x[0], x[0], unit, x[1], x[1], unit, &c); /* out of Montgomery form */
    for (size_t k = 0; k < 2; k++) {
        hx_reduce_once(x[k], m[k], L);
        /* x[k] as L limbs of 52 bits: the same layout as one lane of an
         * interleaved vector with a stride of 1 */
        size_t words = (52 * L + 63) / 64;
        mp_limb_t *dst = mpz_limbs_write(out[k], (mp_size_t)words);
        memset(dst, 0, words * sizeof(mp_limb_t));
        for (size_t j = 0; j < L; j++) {
            uint64_t l = x[k][j];
            size_t bit = 52 * j, q = bit / 64, s = bit % 64;
            dst[q] |= (mp_limb_t)(l << s);
            if (s > 12)
                dst[q + 1] |= (mp_limb_t)(l >> (64 - s));
        }
        mp_size_t used = (mp_size_t)words;
        while (used > 0 && dst[used - 1] == 0) /* public length normalisation */
            used--;
        mpz_limbs_finish(out[k], used);
    }
    mpz_clears(t, r, NULL);
    sodium_memzero(buf, total * sizeof(uint64_t));
    free(buf);
    return 0;
#else
    (void)exp_bits;
    return 1;
#endif
}
