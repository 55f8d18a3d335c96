/*
 * Dealerless threshold Paillier key generation (docs/phe-dkg.md).
 *
 * Semi-honest, honest majority, l ≥ 3 holders, τ = ⌊(l−1)/2⌋:
 *   1. Candidates (batches of DKG_BATCH): holder i draws additive shares
 *      p_i, q_i (holder 1: ≡ 3 mod 4 with the two top bits set; others ≡ 0
 *      mod 4), Shamir-shares them with degree τ over F_P (P a Mersenne prime
 *      above 2^bits), each holder multiplies its two summed shares (BGW) and
 *      broadcasts the product share; N is interpolated from all l points.
 *   2. Public trial division of N by every odd prime below 2^16.
 *   3. Boneh–Franklin biprimality test with public bases g (Jacobi(g, N) = 1,
 *      derived from the transcript): g^((N+1−p_1−q_1)/4) = ±Π_{i>1} g^((p_i+q_i)/4).
 *   4. θ = β·φ(N) mod N opened through integer Shamir shares of β = Σβ_i and
 *      φ = Σφ_i (degree τ), the local product, the integer Lagrange weights
 *      (−1)^(j−1)·C(l, j) and a pairwise zero-sharing mask; then
 *      d = θ^−1·β·φ ≡ 0 (mod φ), ≡ 1 (mod N) is additively shared over Z.
 *   5. Each holder re-shares its additive share of d t-of-l over the integers
 *      with Feldman commitments v^(Δ·c) in Z*_{N²}; a share inconsistent with
 *      its commitment names its sender. The verification keys are the
 *      commitments evaluated in the exponent; a last round compares the
 *      commitments every holder saw.
 */
#include "phe_internal.h"

#include "phe/dkg.h"
#include "phe/threshold.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define DKG_KAPPA     80u      /* statistical hiding of every integer sharing */
#define DKG_BATCH     2048u    /* candidates per batch */
#define DKG_BIP_ITERS 64u      /* biprimality bases for the chosen candidate */
#define DKG_BIP_WIN   32u      /* survivors tested per BIP1 round */
#define DKG_MAX_L     16u      /* holders */
#define DKG_SIEVE     65536u   /* primes considered for the sieve modulus M */
#define DKG_TD_BOUND  4194304u /* public trial division of N: primes below 2^22 */
#define DKG_VERSION   2
#define DKG_SV_MARGIN 128u  /* bits of p's random multiple of 4M beyond the sieve */
#define DKG_MAX_BIG   2200u /* largest big integer in a message (bytes) */
#define DKG_MAX_MSG   (64u << 20)

static const char MAGIC_DKG[4] = {'P', 'H', 'D', 'K'};
static const char TAG_BIP[] = "fedshare/phe/dkg/v1/biprimality-base";
static const char TAG_V[] = "fedshare/phe/dkg/v1/verification-base";
static const char TAG_HS[] = "fedshare/phe/dkg/v1/djn-base";
static const char TAG_COMMIT[] = "fedshare/phe/dkg/v1/commitments";

enum {
    T_PQ = 1,
    T_NSHARE = 2,
    T_BIP1 = 3,
    T_BIP2 = 4,
    T_BETA = 5,
    T_THETA = 6,
    T_DSHARE = 7,
    T_CONFIRM = 8,
    T_SV1 = 9,
    T_SVRED = 10,
    T_SVOPEN = 11,
};

enum {
    PH_NEW,
    PH_SV1,
    PH_SVRED,
    PH_SVOPEN,
    PH_PQ,
    PH_NSHARE,
    PH_BIP1,
    PH_BIP2,
    PH_BETA,
    PH_THETA,
    PH_DSHARE,
    PH_CONFIRM,
    PH_DONE,
    PH_FAILED
};

struct phe_dkg {
    uint8_t session[32];
    uint32_t bits, t, l, me, tau, lg;
    phe_rng *rng;
    int phase;
    uint32_t round;
    uint8_t got[DKG_MAX_L + 1];
    uint8_t *pend[DKG_MAX_L + 1];
    size_t pend_len[DKG_MAX_L + 1];
    uint64_t candidates, bytes;
    uint32_t blamed;
    int cheat_target; /* tests only (phei_dkg_cheat) */
    /* bounds (bits) */
    uint32_t coef_bits, rho_bits, d_coef_bits, share_bits;
    mpz_t P, prim, delta;
    /* batch */
    mpz_t my_p[DKG_BATCH], my_q[DKG_BATCH], sp[DKG_BATCH], sq[DKG_BATCH], nacc[DKG_BATCH];
    uint32_t nsurv, surv[DKG_BATCH], chosen, bip_off, bip_n;
    mpz_t *bv1, *bprod; /* bip_n (round 1) or DKG_BIP_ITERS (round 2) entries */
    size_t nbip;
    /* after N */
    mpz_t N, N2, v, hs, p, q, beta, phi, Bsh, Fsh, rho_net, zp, d, s;
    mpz_t *coef;                       /* t coefficients c_0 = d_i … c_{t−1} (secret) */
    mpz_t E[DKG_MAX_L + 1][DKG_MAX_L]; /* commitments per sender */
    uint8_t ch[DKG_MAX_L + 1][32];     /* hash of each sender's commitments */
    mpz_t theta;
    mpz_t vk[DKG_MAX_L];
    /* distributed sieve (docs/phe-dkg.md, "Distributed sieve") */
    uint32_t m_bits, m_maxprime, contrib, sv_next;
    mpz_t M, M4, cu, cv, R0, Rw, Rr;
    mpz_t *sva; /* shares of each contributor's unit: contrib × 2·DKG_BATCH */
    mpz_t *svc; /* current product share, 2·DKG_BATCH */
    mpz_t *svz; /* this holder's masks z, 2·DKG_BATCH */
    mpz_t *svw; /* opened masked products W, 2·DKG_BATCH */
    mpz_t *svx; /* this holder's additive share of p (even k) or q mod 4M */
    uint8_t seed_out[DKG_MAX_L + 1][32], seed_in[DKG_MAX_L + 1][32];
    phe_threshold_params *pp;
    phe_threshold_keyshare *ks;
};

/* ------------------------------------------------------------------ */
/* Output buffers                                                       */
/* ------------------------------------------------------------------ */

typedef struct dbuf {
    uint8_t *p;
    size_t len, cap;
    int err;
} dbuf;

static void db_put(dbuf *b, const void *src, size_t n) {
    if (b->err) {
        return;
    }
    if (b->len + n > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->len + n) {
            nc *= 2;
        }
        uint8_t *np = realloc(b->p, nc);
        if (!np) {
            b->err = 1;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void db_u8(dbuf *b, uint8_t v) {
    db_put(b, &v, 1);
}

static void db_u32(dbuf *b, uint32_t v) {
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    db_put(b, x, 4);
}

/* Big-endian minimal bytes of x ≥ 0 into out (n bytes), limb by limb. */
static void export_be(uint8_t *out, size_t n, const mpz_t x) {
    size_t nl = mpz_size(x);
    const mp_limb_t *lp = mpz_limbs_read(x);
    size_t pos = n;
    for (size_t i = 0; i < nl && pos > 0; i++) {
        uint64_t w = (uint64_t)lp[i];
        if (pos >= 8) {
            uint64_t be = __builtin_bswap64(w);
            memcpy(out + pos - 8, &be, 8);
            pos -= 8;
        } else {
            while (pos > 0) {
                out[--pos] = (uint8_t)w;
                w >>= 8;
            }
        }
    }
}

/* x = the n big-endian bytes at in. */
static void import_be(mpz_t x, const uint8_t *in, size_t n) {
    size_t nl = (n + 7) / 8;
    mp_limb_t *lp;
    size_t pos = n;
    if (n == 0) {
        mpz_set_ui(x, 0);
        return;
    }
    lp = mpz_limbs_write(x, (mp_size_t)nl);
    for (size_t i = 0; i < nl; i++) {
        uint64_t w = 0;
        if (pos >= 8) {
            memcpy(&w, in + pos - 8, 8);
            w = __builtin_bswap64(w);
            pos -= 8;
        } else {
            for (size_t k = 0; k < pos; k++) {
                w = (w << 8) | in[k];
            }
            pos = 0;
        }
        lp[i] = (mp_limb_t)w;
    }
    mpz_limbs_finish(x, (mp_size_t)nl);
}

static void db_mpz(dbuf *b, const mpz_t x) {
    size_t n = mpz_sgn(x) == 0 ? 0 : (mpz_sizeinbase(x, 2) + 7) / 8;
    db_u32(b, (uint32_t)n);
    if (b->err || n == 0) {
        return;
    }
    if (b->len + n > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->len + n) {
            nc *= 2;
        }
        uint8_t *np = realloc(b->p, nc);
        if (!np) {
            b->err = 1;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
    export_be(b->p + b->len, n, x);
    b->len += n;
}

/* A big-integer field (as phei_get_mpz: minimal, at most max_len bytes). */
static int get_mpz(phei_reader *r, mpz_t x, size_t max_len) {
    uint32_t n;
    if (phei_get_u32(r, &n) != 0 || n > max_len || n > r->left || (n > 0 && r->p[0] == 0)) {
        return PHE_ERR_DECODE;
    }
    import_be(x, r->p, n);
    r->p += n;
    r->left -= n;
    return 0;
}

/* signed integer: u8 sign (1 = negative), then the magnitude */
static void db_smpz(dbuf *b, const mpz_t x) {
    mpz_t a;
    db_u8(b, mpz_sgn(x) < 0 ? 1 : 0);
    mpz_init(a);
    mpz_abs(a, x);
    db_mpz(b, a);
    phei_mpz_clear_secret(a);
}

typedef struct outq {
    phe_dkg_msg *m;
    size_t n, cap;
    int err;
} outq;

static void db_free_secret(dbuf *b) {
    if (b->p) {
        sodium_memzero(b->p, b->cap);
        free(b->p);
    }
    b->p = NULL;
    b->len = b->cap = 0;
}

/* Move a finished buffer into the queue (the queue owns it). */
static void out_push(phe_dkg *d, outq *q, uint32_t to, dbuf *b) {
    if (b->err || q->err) {
        q->err = 1;
        db_free_secret(b);
        return;
    }
    if (q->n == q->cap) {
        size_t nc = q->cap ? 2 * q->cap : 8;
        phe_dkg_msg *nm = realloc(q->m, nc * sizeof *nm);
        if (!nm) {
            q->err = 1;
            db_free_secret(b);
            return;
        }
        q->m = nm;
        q->cap = nc;
    }
    q->m[q->n].to = to;
    q->m[q->n].data = b->p;
    q->m[q->n].len = b->len;
    q->n++;
    d->bytes += to == 0 ? (uint64_t)b->len * (d->l - 1) : b->len;
    b->p = NULL;
    b->len = b->cap = 0;
}

PHE_API void phe_dkg_msgs_free(phe_dkg_msg *msgs, size_t count) {
    if (!msgs) {
        return;
    }
    for (size_t i = 0; i < count; i++) {
        if (msgs[i].data) {
            sodium_memzero(msgs[i].data, msgs[i].len);
            free(msgs[i].data);
        }
    }
    free(msgs);
}

static void msg_header(const phe_dkg *d, dbuf *b, uint8_t type, uint32_t to) {
    db_put(b, MAGIC_DKG, 4);
    db_u8(b, DKG_VERSION);
    db_put(b, d->session, 32);
    db_u8(b, type);
    db_u32(b, d->me);
    db_u32(b, to);
    db_u32(b, d->round);
}

/* ------------------------------------------------------------------ */
/* Input parsing                                                        */
/* ------------------------------------------------------------------ */

typedef struct msg_hdr {
    uint8_t type;
    uint32_t from, to, round;
    phei_reader body;
} msg_hdr;

static int parse_header(const phe_dkg *d, const uint8_t *in, size_t len, msg_hdr *h) {
    phei_reader r = {in, len};
    uint8_t sess[32];
    int rc = phei_get_header(&r, MAGIC_DKG, DKG_VERSION);
    if (rc != 0) {
        return rc;
    }
    if (phei_get_bytes(&r, sess, 32) != 0 || phei_get_u8(&r, &h->type) != 0 ||
        phei_get_u32(&r, &h->from) != 0 || phei_get_u32(&r, &h->to) != 0 ||
        phei_get_u32(&r, &h->round) != 0) {
        return PHE_ERR_DECODE;
    }
    if (h->type < T_PQ || h->type > T_SVOPEN) {
        return PHE_ERR_DECODE;
    }
    if (sodium_memcmp(sess, d->session, 32) != 0 || h->from < 1 || h->from > d->l ||
        h->from == d->me || (h->to != 0 && h->to != d->me)) {
        return PHE_ERR_DKG_SESSION;
    }
    h->body = r;
    return 0;
}

static int get_smpz(phei_reader *r, mpz_t x) {
    uint8_t sign;
    if (phei_get_u8(r, &sign) != 0 || sign > 1) {
        return PHE_ERR_DECODE;
    }
    if (get_mpz(r, x, DKG_MAX_BIG) != 0) {
        return PHE_ERR_DECODE;
    }
    if (sign) {
        if (mpz_sgn(x) == 0) {
            return PHE_ERR_DECODE;
        }
        mpz_neg(x, x);
    }
    return 0;
}

/* The type each phase expects, and whether it is addressed (1) or broadcast (0). */
static int phase_type(int phase) {
    switch (phase) {
        case PH_SV1:
            return T_SV1;
        case PH_SVRED:
            return T_SVRED;
        case PH_SVOPEN:
            return T_SVOPEN;
        case PH_PQ:
            return T_PQ;
        case PH_NSHARE:
            return T_NSHARE;
        case PH_BIP1:
            return T_BIP1;
        case PH_BIP2:
            return T_BIP2;
        case PH_BETA:
            return T_BETA;
        case PH_THETA:
            return T_THETA;
        case PH_DSHARE:
            return T_DSHARE;
        case PH_CONFIRM:
            return T_CONFIRM;
        default:
            return 0;
    }
}

static int type_direct(int type) {
    return type == T_PQ || type == T_BETA || type == T_DSHARE || type == T_SV1 || type == T_SVRED;
}

/* ------------------------------------------------------------------ */
/* Arithmetic helpers                                                   */
/* ------------------------------------------------------------------ */

/* Integer Lagrange weight at 0 over the points 1 … l: (−1)^(j−1)·C(l, j). */
static void lagrange0(mpz_t out, uint32_t l, uint32_t j) {
    mpz_bin_uiui(out, l, j);
    if ((j - 1) & 1) {
        mpz_neg(out, out);
    }
}

/* out = H(tag, session, a, b, c) expanded to |mod| + 128 bits, mod `mod`. */
static void derive(const phe_dkg *d, mpz_t out, const mpz_t mod, const char *tag, uint32_t a,
                   uint32_t b, uint32_t c) {
    size_t nbytes = (mpz_sizeinbase(mod, 2) + 128 + 7) / 8;
    size_t blocks = (nbytes + 63) / 64;
    uint8_t *buf = malloc(blocks * 64);
    uint8_t hdr[12] = {(uint8_t)(a >> 24), (uint8_t)(a >> 16), (uint8_t)(a >> 8), (uint8_t)a,
                       (uint8_t)(b >> 24), (uint8_t)(b >> 16), (uint8_t)(b >> 8), (uint8_t)b,
                       (uint8_t)(c >> 24), (uint8_t)(c >> 16), (uint8_t)(c >> 8), (uint8_t)c};
    if (!buf) {
        mpz_set_ui(out, 2);
        return;
    }
    for (size_t k = 0; k < blocks; k++) {
        crypto_generichash_state h;
        uint8_t ctr[4] = {(uint8_t)(k >> 24), (uint8_t)(k >> 16), (uint8_t)(k >> 8), (uint8_t)k};
        crypto_generichash_init(&h, NULL, 0, 64);
        crypto_generichash_update(&h, (const uint8_t *)tag, strlen(tag) + 1);
        crypto_generichash_update(&h, d->session, 32);
        crypto_generichash_update(&h, hdr, sizeof hdr);
        crypto_generichash_update(&h, ctr, 4);
        crypto_generichash_final(&h, buf + 64 * k, 64);
    }
    mpz_import(out, nbytes, 1, 1, 1, 0, buf);
    mpz_mod(out, out, mod);
    free(buf);
}

/* r = b^e mod m for a secret signed e (constant time in |e|). */
static void powm_signed(mpz_t r, const mpz_t b, const mpz_t e, const mpz_t m) {
    mpz_t a;
    if (mpz_sgn(e) == 0) {
        mpz_set_ui(r, 1);
        return;
    }
    mpz_init(a);
    mpz_abs(a, e);
    mpz_powm_sec(r, b, a, m);
    if (mpz_sgn(e) < 0) {
        mpz_invert(r, r, m);
    }
    phei_mpz_clear_secret(a);
}

/* Shamir share at point j of secret x with coefficients a[0 … deg−1] (for
 * X^1 … X^deg), over Z (mod NULL) or mod m. */
static void share_at(mpz_t out, const mpz_t x, mpz_t *a, uint32_t deg, uint32_t j, const mpz_t m) {
    mpz_set_ui(out, 0);
    for (uint32_t k = deg; k >= 1; k--) {
        mpz_add(out, out, a[k - 1]);
        mpz_mul_ui(out, out, j);
    }
    mpz_add(out, out, x);
    if (m) {
        mpz_mod(out, out, m);
    }
}

/* ------------------------------------------------------------------ */
/* Object                                                               */
/* ------------------------------------------------------------------ */

static uint32_t bitlen(uint32_t x) {
    uint32_t b = 0;
    while (x) {
        b++;
        x >>= 1;
    }
    return b;
}

static int mersenne_exponent(uint32_t bits) {
    switch (bits) {
        case 1024:
            return 1279;
        case 2048:
            return 2203;
        case 3072:
            return 3217;
        case 4096:
            return 4253;
        default:
            return 0;
    }
}

PHE_API int phe_dkg_new(phe_dkg **out, const uint8_t session[32], uint32_t bits, uint32_t t,
                        uint32_t l, uint32_t index, phe_rng *rng) {
    phe_dkg *d;
    int e;
    uint32_t wb, z, dbits;
    if (!out || !session) {
        return PHE_ERR_INVALID_ARG;
    }
    *out = NULL;
    e = mersenne_exponent(bits);
    if (e == 0) {
        return PHE_ERR_KEY_SIZE;
    }
    if (l < 3 || l > DKG_MAX_L || t < 1 || t > l || index < 1 || index > l) {
        return PHE_ERR_THRESHOLD_PARAMS;
    }
    if (phei_init() != 0) {
        return PHE_ERR_INTERNAL;
    }
    d = calloc(1, sizeof *d);
    if (!d) {
        return PHE_ERR_NOMEM;
    }
    memcpy(d->session, session, 32);
    d->bits = bits;
    d->t = t;
    d->l = l;
    d->me = index;
    d->tau = (l - 1) / 2;
    d->lg = bitlen(l);
    d->rng = rng;
    d->phase = PH_NEW;
    d->cheat_target = 0;
    /* Bounds (docs/phe-dkg.md, "Sizes"). */
    d->coef_bits = bits + 2 * DKG_KAPPA + 8;
    wb = d->coef_bits + (d->tau + 2) * d->lg; /* |B_j|, |Φ_j| < 2^wb */
    d->rho_bits = 2 * wb + l + DKG_KAPPA;     /* zero-sharing masks */
    z = d->rho_bits + d->lg + 1;              /* |z'_j| < 2^z */
    dbits = bits + z;                         /* |d_j| < 2^dbits */
    d->d_coef_bits = dbits + DKG_KAPPA;       /* t-of-l coefficients */
    d->share_bits = d->d_coef_bits + (t + 1) * d->lg + 1;
    mpz_inits(d->P, d->prim, d->delta, d->N, d->N2, d->v, d->hs, d->p, d->q, d->beta, d->phi,
              d->Bsh, d->Fsh, d->rho_net, d->zp, d->d, d->s, d->theta, NULL);
    for (uint32_t c = 0; c < DKG_BATCH; c++) {
        mpz_inits(d->my_p[c], d->my_q[c], d->sp[c], d->sq[c], d->nacc[c], NULL);
    }
    for (uint32_t j = 0; j <= DKG_MAX_L; j++) {
        for (uint32_t m = 0; m < DKG_MAX_L; m++) {
            mpz_init(d->E[j][m]);
        }
    }
    for (uint32_t j = 0; j < DKG_MAX_L; j++) {
        mpz_init(d->vk[j]);
    }
    mpz_inits(d->M, d->M4, d->cu, d->cv, d->R0, d->Rw, d->Rr, NULL);
    d->contrib = d->tau + 1;
    d->sva = calloc((size_t)d->contrib * 2 * DKG_BATCH, sizeof(mpz_t));
    d->svc = calloc(2 * DKG_BATCH, sizeof(mpz_t));
    d->svz = calloc(2 * DKG_BATCH, sizeof(mpz_t));
    d->svw = calloc(2 * DKG_BATCH, sizeof(mpz_t));
    d->svx = calloc(2 * DKG_BATCH, sizeof(mpz_t));
    if (!d->sva || !d->svc || !d->svz || !d->svw || !d->svx) {
        phe_dkg_free(d);
        return PHE_ERR_NOMEM;
    }
    for (size_t k = 0; k < (size_t)d->contrib * 2 * DKG_BATCH; k++) {
        mpz_init(d->sva[k]);
    }
    for (size_t k = 0; k < 2 * DKG_BATCH; k++) {
        mpz_inits(d->svc[k], d->svz[k], d->svw[k], d->svx[k], NULL);
    }
    /* The sieve modulus M (odd primes 3, 5, 7, … while |M| ≤ m_bits): the
     * masked product of contrib units below M must stay below P, and p keeps
     * DKG_SV_MARGIN random bits above 4M. */
    {
        uint32_t half = bits / 2;
        uint32_t by_field = ((uint32_t)e - DKG_KAPPA - l - d->lg - 2) / d->contrib;
        uint32_t by_size = half - 4 - d->lg - 2 - DKG_SV_MARGIN;
        d->m_bits = by_field < by_size ? by_field : by_size;
    }
    mpz_set_ui(d->P, 1);
    mpz_mul_2exp(d->P, d->P, (mp_bitcnt_t)e);
    mpz_sub_ui(d->P, d->P, 1);
    mpz_fac_ui(d->delta, l);
    /* the sieve modulus M; the trial-division primorial (below DKG_TD_BOUND) */
    {
        uint8_t *comp = calloc(DKG_SIEVE, 1);
        int m_open = 1;
        if (!comp) {
            phe_dkg_free(d);
            return PHE_ERR_NOMEM;
        }
        mpz_set_ui(d->prim, 1);
        mpz_set_ui(d->M, 1);
        for (uint32_t i = 3; i < DKG_SIEVE; i += 2) {
            if (comp[i]) {
                continue;
            }
            if (m_open) {
                mpz_mul_ui(d->cu, d->M, i);
                if (mpz_sizeinbase(d->cu, 2) <= d->m_bits) {
                    mpz_swap(d->M, d->cu);
                    d->m_maxprime = i;
                } else {
                    m_open = 0;
                }
            }
            for (uint64_t j = (uint64_t)i * i; j < DKG_SIEVE; j += 2 * i) {
                comp[j] = 1;
            }
        }
        free(comp);
        mpz_primorial_ui(d->prim, DKG_TD_BOUND);
        mpz_fdiv_q_2exp(d->prim, d->prim, 1); /* odd primes only */
    }
    {
        uint32_t half = bits / 2;
        mpz_t four;
        mpz_init_set_ui(four, 4);
        mpz_mul_2exp(d->M4, d->M, 2);
        /* cu ≡ 1 (mod M), ≡ 0 (mod 4); cv ≡ 0 (mod M), ≡ 1 (mod 4) */
        mpz_invert(d->cu, four, d->M);
        mpz_mul_2exp(d->cu, d->cu, 2);
        mpz_mul_ui(d->cv, d->M, mpz_fdiv_ui(d->M, 4));
        mpz_clear(four);
        /* holder 1's multiple r_1 of 4M: 4M·r_1 in [3·2^(h−2), 3·2^(h−2) + 2^(h−3));
         * the others' r_j below 2^(h−4−lg)/(4M) */
        mpz_set_ui(d->R0, 3);
        mpz_mul_2exp(d->R0, d->R0, half - 2);
        mpz_cdiv_q(d->R0, d->R0, d->M4);
        mpz_set_ui(d->Rw, 1);
        mpz_mul_2exp(d->Rw, d->Rw, half - 3);
        mpz_fdiv_q(d->Rw, d->Rw, d->M4);
        mpz_set_ui(d->Rr, 1);
        mpz_mul_2exp(d->Rr, d->Rr, half - 4 - d->lg);
        mpz_fdiv_q(d->Rr, d->Rr, d->M4);
    }
    *out = d;
    return 0;
}

static void free_bip(phe_dkg *d) {
    for (size_t i = 0; i < d->nbip; i++) {
        mpz_clear(d->bv1[i]);
        mpz_clear(d->bprod[i]);
    }
    free(d->bv1);
    free(d->bprod);
    d->bv1 = d->bprod = NULL;
    d->nbip = 0;
}

static int alloc_bip(phe_dkg *d, size_t n) {
    free_bip(d);
    d->bv1 = calloc(n, sizeof(mpz_t));
    d->bprod = calloc(n, sizeof(mpz_t));
    if (!d->bv1 || !d->bprod) {
        free(d->bv1);
        free(d->bprod);
        d->bv1 = d->bprod = NULL;
        return PHE_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        mpz_init(d->bv1[i]);
        mpz_init_set_ui(d->bprod[i], 1);
    }
    d->nbip = n;
    return 0;
}

static void free_coef(phe_dkg *d) {
    if (d->coef) {
        for (uint32_t m = 0; m < d->t; m++) {
            phei_mpz_clear_secret(d->coef[m]);
        }
        free(d->coef);
        d->coef = NULL;
    }
}

PHE_API void phe_dkg_free(phe_dkg *d) {
    if (!d) {
        return;
    }
    for (uint32_t c = 0; c < DKG_BATCH; c++) {
        phei_mpz_clear_secret(d->my_p[c]);
        phei_mpz_clear_secret(d->my_q[c]);
        phei_mpz_clear_secret(d->sp[c]);
        phei_mpz_clear_secret(d->sq[c]);
        mpz_clear(d->nacc[c]);
    }
    free_bip(d);
    free_coef(d);
    for (uint32_t j = 0; j <= DKG_MAX_L; j++) {
        for (uint32_t m = 0; m < DKG_MAX_L; m++) {
            mpz_clear(d->E[j][m]);
        }
        if (d->pend[j]) {
            sodium_memzero(d->pend[j], d->pend_len[j]);
            free(d->pend[j]);
        }
    }
    for (uint32_t j = 0; j < DKG_MAX_L; j++) {
        mpz_clear(d->vk[j]);
    }
    if (d->sva) {
        for (size_t k = 0; k < (size_t)d->contrib * 2 * DKG_BATCH; k++) {
            phei_mpz_clear_secret(d->sva[k]);
        }
    }
    for (size_t k = 0; k < 2 * DKG_BATCH; k++) {
        if (d->svc) {
            phei_mpz_clear_secret(d->svc[k]);
        }
        if (d->svz) {
            phei_mpz_clear_secret(d->svz[k]);
        }
        if (d->svw) {
            mpz_clear(d->svw[k]);
        }
        if (d->svx) {
            phei_mpz_clear_secret(d->svx[k]);
        }
    }
    free(d->sva);
    free(d->svc);
    free(d->svz);
    free(d->svw);
    free(d->svx);
    mpz_clears(d->M, d->M4, d->cu, d->cv, d->R0, d->Rw, d->Rr, NULL);
    mpz_clears(d->P, d->prim, d->delta, d->N, d->N2, d->v, d->hs, d->theta, NULL);
    phei_mpz_clear_secret(d->p);
    phei_mpz_clear_secret(d->q);
    phei_mpz_clear_secret(d->beta);
    phei_mpz_clear_secret(d->phi);
    phei_mpz_clear_secret(d->Bsh);
    phei_mpz_clear_secret(d->Fsh);
    phei_mpz_clear_secret(d->rho_net);
    phei_mpz_clear_secret(d->zp);
    phei_mpz_clear_secret(d->d);
    phei_mpz_clear_secret(d->s);
    phe_threshold_params_free(d->pp);
    phe_threshold_keyshare_free(d->ks);
    sodium_memzero(d, sizeof *d);
    free(d);
}

PHE_API int phe_dkg_done(const phe_dkg *d) {
    return d && d->phase == PH_DONE;
}

PHE_API uint32_t phe_dkg_blamed(const phe_dkg *d) {
    return d ? d->blamed : 0;
}

PHE_API int phe_dkg_stats(const phe_dkg *d, uint64_t *candidates, uint64_t *bytes_sent,
                          uint32_t *rounds) {
    if (!d) {
        return PHE_ERR_INVALID_ARG;
    }
    if (candidates) {
        *candidates = d->candidates;
    }
    if (bytes_sent) {
        *bytes_sent = d->bytes;
    }
    if (rounds) {
        *rounds = d->round;
    }
    return 0;
}

static const char TAG_FINAL[] = "fedshare/phe/dkg/v1/final-commitments";

PHE_API int phe_dkg_commitment_hash(const phe_dkg *d, uint8_t out[32]) {
    crypto_hash_sha256_state h;
    uint8_t c[4];
    if (!d || !out) {
        return PHE_ERR_INVALID_ARG;
    }
    if (d->phase != PH_DONE) {
        return PHE_ERR_DKG_STATE;
    }
    /* what the CONFIRM round compared: every sender's commitment hash, in order */
    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, (const uint8_t *)TAG_FINAL, sizeof TAG_FINAL);
    crypto_hash_sha256_update(&h, d->session, 32);
    c[0] = (uint8_t)(d->l >> 24);
    c[1] = (uint8_t)(d->l >> 16);
    c[2] = (uint8_t)(d->l >> 8);
    c[3] = (uint8_t)d->l;
    crypto_hash_sha256_update(&h, c, 4);
    for (uint32_t j = 1; j <= d->l; j++) {
        crypto_hash_sha256_update(&h, d->ch[j], 32);
    }
    crypto_hash_sha256_final(&h, out);
    return 0;
}

/* Tests only: the raw result (N, this holder's s_i, the verification base
 * and keys), also for 1024-bit runs that libphe does not turn into a key. */
PHEI_HIDDEN int phei_dkg_result(const phe_dkg *d, mpz_t n, mpz_t s, mpz_t v, mpz_t *vk);
int phei_dkg_result(const phe_dkg *d, mpz_t n, mpz_t s, mpz_t v, mpz_t *vk) {
    if (d->phase != PH_DONE) {
        return PHE_ERR_DKG_STATE;
    }
    mpz_set(n, d->N);
    mpz_set(s, d->s);
    mpz_set(v, d->v);
    for (uint32_t i = 0; i < d->l; i++) {
        mpz_set(vk[i], d->vk[i]);
    }
    return 0;
}

/* Tests only: make this holder send a wrong key share to holder `target`. */
PHEI_HIDDEN void phei_dkg_cheat(phe_dkg *d, uint32_t target);
void phei_dkg_cheat(phe_dkg *d, uint32_t target) {
    d->cheat_target = (int)target;
}

/* ------------------------------------------------------------------ */
/* Rounds: producing messages                                           */
/* ------------------------------------------------------------------ */

static void next_round(phe_dkg *d, int phase) {
    d->phase = phase;
    d->round++;
    memset(d->got, 0, sizeof d->got);
    d->got[d->me] = 1;
}

/* x = the first `bits` bits of the stream at *pp (advanced). */
static void take_bits(mpz_t x, const uint8_t **pp, uint32_t bits) {
    size_t n = (bits + 7) / 8;
    import_be(x, *pp, n);
    *pp += n;
    if (n * 8 > bits) {
        mpz_fdiv_r_2exp(x, x, bits);
    }
}

/* ------------------------------------------------------------------ */
/* Distributed sieve                                                    */
/* ------------------------------------------------------------------ */

/* A keyed stream: XChaCha20 under key, nonce = (a, b, ctr). */
typedef struct prg {
    uint8_t key[crypto_stream_xchacha20_KEYBYTES];
    uint32_t a;
    uint64_t ctr;
} prg;

static int prg_init(phe_dkg *d, prg *g) {
    g->a = 0;
    g->ctr = 0;
    return phei_rng_bytes(d->rng, g->key, sizeof g->key);
}

static void prg_bytes(prg *g, uint8_t *out, size_t n) {
    uint8_t nonce[crypto_stream_xchacha20_NONCEBYTES];
    memset(nonce, 0, sizeof nonce);
    for (int k = 0; k < 4; k++) {
        nonce[k] = (uint8_t)(g->a >> (24 - 8 * k));
    }
    for (int k = 0; k < 8; k++) {
        nonce[4 + k] = (uint8_t)(g->ctr >> (56 - 8 * k));
    }
    g->ctr++;
    crypto_stream_xchacha20(out, n, nonce, g->key);
}

/* x = `bits` bits of the stream. */
static void prg_mpz(prg *g, mpz_t x, uint32_t bits) {
    uint8_t buf[1024];
    size_t n = (bits + 7) / 8;
    if (n > sizeof buf) {
        n = sizeof buf; /* not reached: every caller asks for < 8192 bits */
    }
    prg_bytes(g, buf, n);
    import_be(x, buf, n);
    mpz_fdiv_r_2exp(x, x, bits);
    sodium_memzero(buf, n);
}

/* x uniform mod m (|m| + 64 bits reduced). */
static void prg_mod(prg *g, mpz_t x, const mpz_t m) {
    prg_mpz(g, x, (uint32_t)mpz_sizeinbase(m, 2) + 64);
    mpz_mod(x, x, m);
}

/* Round SV1: fresh pairwise seeds for every other holder; a contributor
 * (holder ≤ τ+1) also sends degree-τ Shamir shares over F_P of a random unit
 * mod M for every candidate's p and q. Every holder draws its masks z. */
static int send_sv1(phe_dkg *d, outq *q) {
    uint32_t l = d->l, tau = d->tau;
    size_t nk = 2 * DKG_BATCH;
    uint32_t zbits = d->contrib * d->m_bits + DKG_KAPPA;
    int contributor = d->me <= d->contrib;
    prg g;
    mpz_t a[DKG_MAX_L], x, sh, gc;
    dbuf b[DKG_MAX_L + 1];
    int rc;
    if (d->candidates >= PHE_DKG_MAX_CANDIDATES) {
        return PHE_ERR_DKG_GIVE_UP;
    }
    rc = prg_init(d, &g);
    if (rc != 0) {
        return rc;
    }
    next_round(d, PH_SV1);
    memset(b, 0, sizeof b);
    for (uint32_t j = 1; j <= l; j++) {
        if (j != d->me) {
            prg_bytes(&g, d->seed_out[j], 32);
            msg_header(d, &b[j], T_SV1, j);
            db_u32(&b[j], DKG_BATCH);
            db_put(&b[j], d->seed_out[j], 32);
        }
    }
    mpz_inits(x, sh, gc, NULL);
    for (uint32_t k = 0; k < tau; k++) {
        mpz_init(a[k]);
    }
    for (size_t k = 0; k < nk; k++) {
        prg_mpz(&g, d->svz[k], zbits);
        if (!contributor) {
            continue;
        }
        do {
            prg_mod(&g, x, d->M);
            mpz_gcd(gc, x, d->M);
        } while (mpz_cmp_ui(gc, 1) != 0);
        for (uint32_t m = 0; m < tau; m++) {
            prg_mod(&g, a[m], d->P);
        }
        for (uint32_t j = 1; j <= l; j++) {
            share_at(sh, x, a, tau, j, d->P);
            if (j == d->me) {
                mpz_set(d->sva[(size_t)(d->me - 1) * nk + k], sh);
            } else {
                db_mpz(&b[j], sh);
            }
        }
    }
    for (uint32_t k = 0; k < tau; k++) {
        phei_mpz_clear_secret(a[k]);
    }
    phei_mpz_clear_secret(x);
    phei_mpz_clear_secret(sh);
    mpz_clear(gc);
    sodium_memzero(&g, sizeof g);
    for (uint32_t j = 1; j <= l; j++) {
        if (j != d->me) {
            out_push(d, q, j, &b[j]);
        }
    }
    return 0;
}

/* Round SVRED (τ ≥ 2): re-share the degree-2τ product share with degree τ;
 * the new share is Σ_j λ_j·(holder j's share for me). */
static int send_svred(phe_dkg *d, outq *q) {
    uint32_t l = d->l, tau = d->tau;
    size_t nk = 2 * DKG_BATCH;
    prg g;
    mpz_t a[DKG_MAX_L], sh, w;
    dbuf b[DKG_MAX_L + 1];
    int rc = prg_init(d, &g);
    if (rc != 0) {
        return rc;
    }
    next_round(d, PH_SVRED);
    memset(b, 0, sizeof b);
    for (uint32_t j = 1; j <= l; j++) {
        if (j != d->me) {
            msg_header(d, &b[j], T_SVRED, j);
            db_u32(&b[j], DKG_BATCH);
        }
    }
    mpz_inits(sh, w, NULL);
    lagrange0(w, l, d->me);
    for (uint32_t k = 0; k < tau; k++) {
        mpz_init(a[k]);
    }
    for (size_t k = 0; k < nk; k++) {
        for (uint32_t m = 0; m < tau; m++) {
            prg_mod(&g, a[m], d->P);
        }
        for (uint32_t j = 1; j <= l; j++) {
            if (j == d->me) {
                continue;
            }
            share_at(sh, d->svc[k], a, tau, j, d->P);
            db_mpz(&b[j], sh);
        }
        share_at(sh, d->svc[k], a, tau, d->me, d->P);
        mpz_mul(d->svc[k], w, sh);
    }
    for (uint32_t k = 0; k < tau; k++) {
        phei_mpz_clear_secret(a[k]);
    }
    phei_mpz_clear_secret(sh);
    mpz_clear(w);
    sodium_memzero(&g, sizeof g);
    for (uint32_t j = 1; j <= l; j++) {
        if (j != d->me) {
            out_push(d, q, j, &b[j]);
        }
    }
    return 0;
}

/* Round SVOPEN: broadcast u_j = λ_j·y_j + |λ_j|·z_j + o_j (mod P), where y_j
 * is the degree-2τ share of the product A of the contributors' units and
 * o_j the pairwise zero-sharing from the SV1 seeds; Σ u_j = W = A + Σ|λ_j|·z_j. */
static int send_svopen(phe_dkg *d, outq *q) {
    size_t nk = 2 * DKG_BATCH;
    dbuf b = {0};
    mpz_t w, wa, o, t;
    uint32_t pbits = (uint32_t)mpz_sizeinbase(d->P, 2) + 64;
    next_round(d, PH_SVOPEN);
    msg_header(d, &b, T_SVOPEN, 0);
    db_u32(&b, DKG_BATCH);
    mpz_inits(w, wa, o, t, NULL);
    lagrange0(w, d->l, d->me);
    mpz_abs(wa, w);
    for (size_t k = 0; k < nk; k++) {
        mpz_set_ui(o, 0);
        for (uint32_t j = 1; j <= d->l; j++) {
            prg g;
            if (j == d->me) {
                continue;
            }
            memcpy(g.key, d->seed_out[j], 32);
            g.a = (uint32_t)k;
            g.ctr = 0;
            prg_mpz(&g, t, pbits);
            mpz_add(o, o, t);
            memcpy(g.key, d->seed_in[j], 32);
            g.ctr = 0;
            prg_mpz(&g, t, pbits);
            mpz_sub(o, o, t);
            sodium_memzero(&g, sizeof g);
        }
        mpz_mul(t, w, d->svc[k]);
        mpz_addmul(t, wa, d->svz[k]);
        mpz_add(t, t, o);
        mpz_mod(d->svw[k], t, d->P);
        db_mpz(&b, d->svw[k]);
    }
    phei_mpz_clear_secret(o);
    phei_mpz_clear_secret(t);
    mpz_clears(w, wa, NULL);
    out_push(d, q, 0, &b);
    return 0;
}

/* After SVOPEN: this holder's additive share of p (k even) or q (k odd)
 * modulo 4M: x_j = [j = 1]·W − |λ_j|·z_j ≡ share of A (mod M), lifted by CRT
 * so that the sum is ≡ A (mod M) and ≡ 3 (mod 4). */
static void sieve_shares(phe_dkg *d) {
    mpz_t wa, x;
    mpz_inits(wa, x, NULL);
    lagrange0(wa, d->l, d->me);
    mpz_abs(wa, wa);
    for (size_t k = 0; k < 2 * DKG_BATCH; k++) {
        mpz_mod(d->svw[k], d->svw[k], d->P);
        if (d->me == 1) {
            mpz_set(x, d->svw[k]);
        } else {
            mpz_set_ui(x, 0);
        }
        mpz_submul(x, wa, d->svz[k]);
        mpz_mod(x, x, d->M);
        mpz_mul(x, x, d->cu);
        if (d->me == 1) {
            mpz_addmul_ui(x, d->cv, 3);
        }
        mpz_mod(d->svx[k], x, d->M4);
        mpz_set_ui(d->svz[k], 0);
        mpz_set_ui(d->svc[k], 0);
    }
    phei_mpz_clear_secret(x);
    mpz_clear(wa);
}

/* Tests only: the sieve modulus 4M and this holder's sieved share k. */
PHEI_HIDDEN int phei_dkg_sieve(const phe_dkg *d, size_t k, mpz_t m4, mpz_t share);
int phei_dkg_sieve(const phe_dkg *d, size_t k, mpz_t m4, mpz_t share) {
    if (k >= 2 * DKG_BATCH) {
        return PHE_ERR_INVALID_ARG;
    }
    mpz_set(m4, d->M4);
    mpz_set(share, d->svx[k]);
    return 0;
}

/* Round PQ: draw a batch of share pairs and send their Shamir shares. The
 * batch's randomness is an XChaCha20 stream under 32 bytes of the random
 * source (one system call per batch instead of thousands). */
static int send_pq(phe_dkg *d, outq *q) {
    uint32_t half = d->bits / 2, l = d->l, tau = d->tau;
    uint32_t pbits = (uint32_t)mpz_sizeinbase(d->P, 2);
    size_t per = 2 * ((size_t)(half + 7) / 8 + (size_t)tau * ((pbits + 7) / 8));
    size_t rlen = per * DKG_BATCH;
    uint8_t key[crypto_stream_xchacha20_KEYBYTES], nonce[crypto_stream_xchacha20_NONCEBYTES];
    uint8_t *rnd;
    const uint8_t *rp;
    int rc = 0;
    mpz_t a[DKG_MAX_L], sh;
    dbuf b[DKG_MAX_L + 1];
    if (d->candidates >= PHE_DKG_MAX_CANDIDATES) {
        return PHE_ERR_DKG_GIVE_UP;
    }
    rnd = malloc(rlen);
    if (!rnd) {
        return PHE_ERR_NOMEM;
    }
    rc = phei_rng_bytes(d->rng, key, sizeof key);
    if (rc != 0) {
        free(rnd);
        return rc;
    }
    memset(nonce, 0, sizeof nonce);
    memset(rnd, 0, rlen);
    crypto_stream_xchacha20_xor(rnd, rnd, rlen, nonce, key);
    sodium_memzero(key, sizeof key);
    rp = rnd;
    next_round(d, PH_PQ);
    memset(b, 0, sizeof b);
    for (uint32_t j = 1; j <= l; j++) {
        if (j != d->me) {
            msg_header(d, &b[j], T_PQ, j);
            db_u32(&b[j], DKG_BATCH);
        }
    }
    mpz_init(sh);
    for (uint32_t k = 0; k < tau; k++) {
        mpz_init(a[k]);
    }
    for (uint32_t c = 0; c < DKG_BATCH; c++) {
        for (int w = 0; w < 2; w++) {
            mpz_ptr x = w == 0 ? d->my_p[c] : d->my_q[c];
            mpz_ptr acc = w == 0 ? d->sp[c] : d->sq[c];
            /* x = (sieved share mod 4M) + 4M·r */
            take_bits(x, &rp, half);
            if (d->me == 1) {
                mpz_mod(x, x, d->Rw);
                mpz_add(x, x, d->R0);
            } else {
                mpz_mod(x, x, d->Rr);
            }
            mpz_mul(x, x, d->M4);
            mpz_add(x, x, d->svx[2 * c + (uint32_t)w]);
            for (uint32_t k = 0; k < tau; k++) {
                /* uniform below 2^|P| = P + 1: P itself (probability
                 * 2^−|P|) is folded to 0 */
                take_bits(a[k], &rp, pbits);
                if (mpz_cmp(a[k], d->P) >= 0) {
                    mpz_set_ui(a[k], 0);
                }
            }
            for (uint32_t j = 1; j <= l; j++) {
                share_at(sh, x, a, tau, j, d->P);
                if (j == d->me) {
                    mpz_set(acc, sh);
                } else {
                    db_mpz(&b[j], sh);
                }
            }
        }
    }
    sodium_memzero(rnd, rlen);
    free(rnd);
    for (uint32_t k = 0; k < tau; k++) {
        phei_mpz_clear_secret(a[k]);
    }
    phei_mpz_clear_secret(sh);
    for (uint32_t j = 1; j <= l; j++) {
        if (j == d->me) {
            continue;
        }
        if (rc == 0) {
            out_push(d, q, j, &b[j]);
        } else {
            db_free_secret(&b[j]);
        }
    }
    return rc;
}

static int send_nshare(phe_dkg *d, outq *q) {
    dbuf b = {0};
    mpz_t nj, w;
    next_round(d, PH_NSHARE);
    msg_header(d, &b, T_NSHARE, 0);
    db_u32(&b, DKG_BATCH);
    mpz_inits(nj, w, NULL);
    lagrange0(w, d->l, d->me);
    for (uint32_t c = 0; c < DKG_BATCH; c++) {
        mpz_mul(nj, d->sp[c], d->sq[c]);
        mpz_mod(nj, nj, d->P);
        db_mpz(&b, nj);
        mpz_mul(d->nacc[c], w, nj);
    }
    mpz_clears(nj, w, NULL);
    out_push(d, q, 0, &b);
    return 0;
}

/* This holder's biprimality value for candidate N with base index (c, it). */
static int bip_value(phe_dkg *d, mpz_t out, const mpz_t N, uint32_t c, uint32_t it) {
    mpz_t g, e;
    uint32_t ctr = 0;
    mpz_inits(g, e, NULL);
    do {
        derive(d, g, N, TAG_BIP, d->round, c * DKG_BIP_ITERS + it, ctr++);
    } while (mpz_jacobi(g, N) != 1);
    if (d->me == 1) {
        mpz_add_ui(e, N, 1);
        mpz_sub(e, e, d->my_p[c]);
        mpz_sub(e, e, d->my_q[c]);
    } else {
        mpz_add(e, d->my_p[c], d->my_q[c]);
    }
    mpz_fdiv_q_2exp(e, e, 2);
    mpz_powm_sec(out, g, e, N);
    phei_mpz_clear_secret(e);
    mpz_clear(g);
    return 0;
}

static void bip_accumulate(phe_dkg *d, uint32_t from, size_t slot, const mpz_t val, const mpz_t N) {
    if (from == 1) {
        mpz_set(d->bv1[slot], val);
    } else {
        mpz_mul(d->bprod[slot], d->bprod[slot], val);
        mpz_mod(d->bprod[slot], d->bprod[slot], N);
    }
}

/* Round BIP1 for the next window of up to DKG_BIP_WIN survivors
 * (surv[bip_off …]); the first that passes goes on, so a batch's later
 * survivors are not exponentiated once a biprime is found. */
static int send_bip1(phe_dkg *d, outq *q) {
    dbuf b = {0};
    mpz_t val;
    uint32_t n = d->nsurv - d->bip_off;
    int rc;
    if (n > DKG_BIP_WIN) {
        n = DKG_BIP_WIN;
    }
    rc = alloc_bip(d, n);
    if (rc != 0) {
        return rc;
    }
    d->bip_n = n;
    next_round(d, PH_BIP1);
    msg_header(d, &b, T_BIP1, 0);
    db_u32(&b, n);
    mpz_init(val);
    for (uint32_t k = 0; k < n; k++) {
        uint32_t c = d->surv[d->bip_off + k];
        bip_value(d, val, d->nacc[c], c, 0);
        db_mpz(&b, val);
        bip_accumulate(d, d->me, k, val, d->nacc[c]);
    }
    mpz_clear(val);
    out_push(d, q, 0, &b);
    return 0;
}

static int send_bip2(phe_dkg *d, outq *q) {
    dbuf b = {0};
    mpz_t val;
    uint32_t c = d->chosen;
    int rc = alloc_bip(d, DKG_BIP_ITERS);
    if (rc != 0) {
        return rc;
    }
    next_round(d, PH_BIP2);
    msg_header(d, &b, T_BIP2, 0);
    db_u32(&b, DKG_BIP_ITERS);
    mpz_init(val);
    for (uint32_t it = 0; it < DKG_BIP_ITERS; it++) {
        bip_value(d, val, d->nacc[c], c, it + 1);
        db_mpz(&b, val);
        bip_accumulate(d, d->me, it, val, d->nacc[c]);
    }
    mpz_clear(val);
    out_push(d, q, 0, &b);
    return 0;
}

/* Integer Shamir shares of x (degree τ, coefficients below 2^coef_bits). */
static int int_shares(phe_dkg *d, const mpz_t x, mpz_t *out /* l+1 */) {
    mpz_t a[DKG_MAX_L];
    int rc = 0;
    for (uint32_t k = 0; k < d->tau; k++) {
        mpz_init(a[k]);
        if (rc == 0) {
            rc = phei_rand_bits(a[k], d->coef_bits, d->rng);
        }
    }
    for (uint32_t j = 1; rc == 0 && j <= d->l; j++) {
        share_at(out[j], x, a, d->tau, j, NULL);
    }
    for (uint32_t k = 0; k < d->tau; k++) {
        phei_mpz_clear_secret(a[k]);
    }
    return rc;
}

/* N is fixed: public bases, then round BETA. */
static int send_beta(phe_dkg *d, outq *q) {
    uint32_t c = d->chosen, l = d->l;
    mpz_t bs[DKG_MAX_L + 1], fs[DKG_MAX_L + 1], rho, x, h;
    dbuf b[DKG_MAX_L + 1];
    int rc = 0;
    mpz_set(d->N, d->nacc[c]);
    mpz_mul(d->N2, d->N, d->N);
    mpz_set(d->p, d->my_p[c]);
    mpz_set(d->q, d->my_q[c]);
    /* wipe the batch */
    for (uint32_t k = 0; k < DKG_BATCH; k++) {
        mpz_set_ui(d->my_p[k], 0);
        mpz_set_ui(d->my_q[k], 0);
        mpz_set_ui(d->svx[2 * k], 0);
        mpz_set_ui(d->svx[2 * k + 1], 0);
    }
    free_bip(d);
    mpz_inits(rho, x, h, NULL);
    /* v = (H mod N²)² (a square, in Z*_{N²} except with negligible probability) */
    derive(d, x, d->N2, TAG_V, 0, 0, 0);
    mpz_powm_ui(d->v, x, 2, d->N2);
    mpz_gcd(h, d->v, d->N);
    if (mpz_cmp_ui(h, 1) != 0) {
        rc = PHE_ERR_INTERNAL;
    }
    /* h_s = (−x²)^N mod N² */
    derive(d, x, d->N, TAG_HS, 0, 0, 0);
    mpz_mul(x, x, x);
    mpz_mod(x, x, d->N);
    mpz_sub(x, d->N, x);
    mpz_powm(d->hs, x, d->N, d->N2);
    /* φ_i and β_i */
    if (d->me == 1) {
        mpz_add_ui(d->phi, d->N, 1);
        mpz_sub(d->phi, d->phi, d->p);
        mpz_sub(d->phi, d->phi, d->q);
    } else {
        mpz_add(d->phi, d->p, d->q);
        mpz_neg(d->phi, d->phi);
    }
    if (rc == 0) {
        rc = phei_rand_bits(d->beta, d->bits + DKG_KAPPA, d->rng);
    }
    for (uint32_t j = 0; j <= l; j++) {
        mpz_init(bs[j]);
        mpz_init(fs[j]);
    }
    if (rc == 0) {
        rc = int_shares(d, d->beta, bs);
    }
    if (rc == 0) {
        rc = int_shares(d, d->phi, fs);
    }
    next_round(d, PH_BETA);
    memset(b, 0, sizeof b);
    mpz_set(d->Bsh, bs[d->me]);
    mpz_set(d->Fsh, fs[d->me]);
    mpz_set_ui(d->rho_net, 0);
    for (uint32_t j = 1; rc == 0 && j <= l; j++) {
        if (j == d->me) {
            continue;
        }
        rc = phei_rand_bits(rho, d->rho_bits, d->rng);
        mpz_add(d->rho_net, d->rho_net, rho);
        msg_header(d, &b[j], T_BETA, j);
        db_smpz(&b[j], bs[j]);
        db_smpz(&b[j], fs[j]);
        db_mpz(&b[j], rho);
        out_push(d, q, j, &b[j]);
    }
    for (uint32_t j = 0; j <= l; j++) {
        phei_mpz_clear_secret(bs[j]);
        phei_mpz_clear_secret(fs[j]);
        db_free_secret(&b[j]);
    }
    phei_mpz_clear_secret(rho);
    phei_mpz_clear_secret(x);
    mpz_clear(h);
    return rc;
}

static int send_theta(phe_dkg *d, outq *q) {
    dbuf b = {0};
    mpz_t w, y;
    mpz_inits(w, y, NULL);
    lagrange0(w, d->l, d->me);
    mpz_mul(d->zp, d->Bsh, d->Fsh);
    mpz_mul(d->zp, d->zp, w);
    mpz_add(d->zp, d->zp, d->rho_net);
    mpz_mod(y, d->zp, d->N);
    mpz_set(d->theta, y);
    next_round(d, PH_THETA);
    msg_header(d, &b, T_THETA, 0);
    db_mpz(&b, y);
    out_push(d, q, 0, &b);
    mpz_clears(w, y, NULL);
    return 0;
}

static void commit_hash(const phe_dkg *d, uint32_t j, uint8_t out[32]) {
    crypto_hash_sha256_state h;
    dbuf b = {0};
    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, (const uint8_t *)TAG_COMMIT, sizeof TAG_COMMIT);
    crypto_hash_sha256_update(&h, d->session, 32);
    db_u32(&b, j);
    for (uint32_t m = 0; m < d->t; m++) {
        db_mpz(&b, d->E[j][m]);
    }
    if (!b.err) {
        crypto_hash_sha256_update(&h, b.p, b.len);
    }
    crypto_hash_sha256_final(&h, out);
    free(b.p);
}

static int send_dshare(phe_dkg *d, outq *q) {
    mpz_t gamma, e, f;
    dbuf b = {0};
    int rc = 0;
    mpz_inits(gamma, e, f, NULL);
    if (!mpz_invert(gamma, d->theta, d->N)) {
        rc = PHE_ERR_INTERNAL; /* θ shares a factor with N: negligible */
    }
    d->coef = calloc(d->t, sizeof(mpz_t));
    if (rc == 0 && !d->coef) {
        rc = PHE_ERR_NOMEM;
    }
    if (rc == 0) {
        for (uint32_t m = 0; m < d->t; m++) {
            mpz_init(d->coef[m]);
        }
        mpz_mul(d->d, gamma, d->zp);
        mpz_set(d->coef[0], d->d);
        for (uint32_t m = 1; rc == 0 && m < d->t; m++) {
            rc = phei_rand_bits(d->coef[m], d->d_coef_bits, d->rng);
        }
    }
    for (uint32_t m = 0; rc == 0 && m < d->t; m++) {
        mpz_mul(e, d->delta, d->coef[m]);
        powm_signed(d->E[d->me][m], d->v, e, d->N2);
    }
    next_round(d, PH_DSHARE);
    for (uint32_t j = 1; rc == 0 && j <= d->l; j++) {
        share_at(f, d->coef[0], d->coef + 1, d->t - 1, j, NULL);
        if (j == d->me) {
            mpz_set(d->s, f);
            continue;
        }
        if (d->cheat_target == (int)j) {
            mpz_add_ui(f, f, 1);
        }
        msg_header(d, &b, T_DSHARE, j);
        db_smpz(&b, f);
        db_u32(&b, d->t);
        for (uint32_t m = 0; m < d->t; m++) {
            db_mpz(&b, d->E[d->me][m]);
        }
        out_push(d, q, j, &b);
    }
    if (rc == 0) {
        commit_hash(d, d->me, d->ch[d->me]);
    }
    phei_mpz_clear_secret(e);
    phei_mpz_clear_secret(f);
    mpz_clear(gamma);
    return rc;
}

static int send_confirm(phe_dkg *d, outq *q) {
    dbuf b = {0};
    mpz_t acc, pw, x, jm;
    int rc = 0;
    /* verification keys: vk_i = Π_j Π_m E_{j,m}^(i^m) */
    mpz_inits(acc, pw, x, jm, NULL);
    for (uint32_t i = 1; i <= d->l; i++) {
        mpz_set_ui(acc, 1);
        for (uint32_t j = 1; j <= d->l; j++) {
            mpz_set_ui(jm, 1);
            for (uint32_t m = 0; m < d->t; m++) {
                mpz_powm(pw, d->E[j][m], jm, d->N2);
                mpz_mul(acc, acc, pw);
                mpz_mod(acc, acc, d->N2);
                mpz_mul_ui(jm, jm, i);
            }
        }
        mpz_set(d->vk[i - 1], acc);
    }
    if (mpz_sgn(d->s) <= 0 || mpz_sizeinbase(d->s, 2) > d->share_bits) {
        rc = PHE_ERR_INTERNAL;
    }
    mpz_clears(acc, pw, x, jm, NULL);
    next_round(d, PH_CONFIRM);
    msg_header(d, &b, T_CONFIRM, 0);
    db_u32(&b, d->l);
    for (uint32_t j = 1; j <= d->l; j++) {
        db_put(&b, d->ch[j], 32);
    }
    out_push(d, q, 0, &b);
    return rc;
}

static int finish_key(phe_dkg *d) {
    int rc;
    if (d->bits < PHEI_MIN_IMPORT_BITS) {
        /* comparison runs: every round ran, libphe does not accept the key */
        d->phase = PH_DONE;
        free_coef(d);
        return 0;
    }
    rc = phei_threshold_assemble(&d->pp, &d->ks, d->N, d->hs, d->v, d->vk, d->t, d->l,
                                 d->share_bits, d->me, d->s);
    if (rc == 0) {
        d->phase = PH_DONE;
    }
    free_coef(d);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Rounds: end of a round (every message in)                            */
/* ------------------------------------------------------------------ */

static int round_complete(const phe_dkg *d) {
    for (uint32_t j = 1; j <= d->l; j++) {
        if (!d->got[j]) {
            return 0;
        }
    }
    return 1;
}

/* Public trial division of the batch: candidate c survives when N_c has `bits`
 * bits and no odd prime factor below DKG_TD_BOUND. One remainder tree over the
 * batch: the primorial is reduced modulo the product of all candidates, then
 * down the product tree to each N_c, and gcd(remainder, N_c) = 1 is checked. */
static int trial_division(phe_dkg *d) {
    uint32_t idx[DKG_BATCH], n = 0, levels = 0, cnt[24];
    mpz_t *tree[24];
    mpz_t g;
    int rc = 0;
    d->nsurv = 0;
    for (uint32_t c = 0; c < DKG_BATCH; c++) {
        if (mpz_sizeinbase(d->nacc[c], 2) == d->bits) {
            idx[n++] = c;
        }
    }
    if (n == 0) {
        return 0;
    }
    memset(tree, 0, sizeof tree);
    /* product tree: level 0 the candidates, each level the products of pairs */
    for (uint32_t w = n;; w = (w + 1) / 2) {
        tree[levels] = calloc(w, sizeof(mpz_t));
        if (!tree[levels]) {
            rc = PHE_ERR_NOMEM;
            break;
        }
        cnt[levels] = w;
        for (uint32_t i = 0; i < w; i++) {
            mpz_init(tree[levels][i]);
            if (levels == 0) {
                mpz_set(tree[0][i], d->nacc[idx[i]]);
            } else if (2 * i + 1 < cnt[levels - 1]) {
                mpz_mul(tree[levels][i], tree[levels - 1][2 * i], tree[levels - 1][2 * i + 1]);
            } else {
                mpz_set(tree[levels][i], tree[levels - 1][2 * i]);
            }
        }
        levels++;
        if (w == 1) {
            break;
        }
    }
    if (rc == 0) {
        /* remainders down the tree, in place: tree[k][i] = prim mod tree[k][i] */
        mpz_mod(tree[levels - 1][0], d->prim, tree[levels - 1][0]);
        for (uint32_t k = levels - 1; k-- > 1;) {
            for (uint32_t i = 0; i < cnt[k]; i++) {
                mpz_mod(tree[k][i], tree[k + 1][i / 2], tree[k][i]);
            }
        }
        mpz_init(g);
        for (uint32_t i = 0; i < n; i++) {
            const mpz_ptr N = d->nacc[idx[i]];
            if (levels > 1) {
                mpz_mod(g, tree[1][i / 2], N);
            } else {
                mpz_mod(g, tree[0][0], N);
            }
            mpz_gcd(g, g, N);
            if (mpz_cmp_ui(g, 1) == 0) {
                d->surv[d->nsurv++] = idx[i];
            }
        }
        mpz_clear(g);
    }
    for (uint32_t k = 0; k < levels; k++) {
        for (uint32_t i = 0; i < cnt[k]; i++) {
            mpz_clear(tree[k][i]);
        }
        free(tree[k]);
    }
    return rc;
}

/* Tests only: run the batch trial division on n given moduli (n ≤ DKG_BATCH);
 * surv receives the indexes that pass. */
PHEI_HIDDEN int phei_dkg_td(phe_dkg *d, mpz_t *N, uint32_t n, uint32_t *surv, uint32_t *nsurv);
int phei_dkg_td(phe_dkg *d, mpz_t *N, uint32_t n, uint32_t *surv, uint32_t *nsurv) {
    int rc;
    if (n > DKG_BATCH) {
        return PHE_ERR_INVALID_ARG;
    }
    for (uint32_t c = 0; c < DKG_BATCH; c++) {
        if (c < n) {
            mpz_set(d->nacc[c], N[c]);
        } else {
            mpz_set_ui(d->nacc[c], 0);
        }
    }
    rc = trial_division(d);
    *nsurv = d->nsurv;
    memcpy(surv, d->surv, d->nsurv * sizeof(uint32_t));
    return rc;
}

static int bip_pass(const phe_dkg *d, size_t slot, const mpz_t N) {
    mpz_t neg;
    int ok;
    if (mpz_cmp(d->bv1[slot], d->bprod[slot]) == 0) {
        return 1;
    }
    mpz_init(neg);
    mpz_sub(neg, N, d->bprod[slot]);
    ok = mpz_cmp(d->bv1[slot], neg) == 0;
    mpz_clear(neg);
    return ok;
}

static int advance(phe_dkg *d, outq *q) {
    switch (d->phase) {
        case PH_SV1:
            for (size_t k = 0; k < 2 * DKG_BATCH; k++) {
                mpz_mul(d->svc[k], d->sva[k], d->sva[2 * DKG_BATCH + k]);
                mpz_mod(d->svc[k], d->svc[k], d->P);
            }
            d->sv_next = 3;
            return d->sv_next > d->contrib ? send_svopen(d, q) : send_svred(d, q);
        case PH_SVRED: {
            mpz_t *a = &d->sva[(size_t)(d->sv_next - 1) * 2 * DKG_BATCH];
            for (size_t k = 0; k < 2 * DKG_BATCH; k++) {
                mpz_mod(d->svc[k], d->svc[k], d->P);
                mpz_mul(d->svc[k], d->svc[k], a[k]);
                mpz_mod(d->svc[k], d->svc[k], d->P);
            }
            d->sv_next++;
            return d->sv_next > d->contrib ? send_svopen(d, q) : send_svred(d, q);
        }
        case PH_SVOPEN:
            sieve_shares(d);
            return send_pq(d, q);
        case PH_PQ:
            return send_nshare(d, q);
        case PH_NSHARE: {
            int rc;
            for (uint32_t c = 0; c < DKG_BATCH; c++) {
                mpz_mod(d->nacc[c], d->nacc[c], d->P);
                mpz_set_ui(d->sp[c], 0);
                mpz_set_ui(d->sq[c], 0);
            }
            rc = trial_division(d);
            if (rc != 0) {
                return rc;
            }
            d->candidates += DKG_BATCH;
            d->bip_off = 0;
            return d->nsurv ? send_bip1(d, q) : send_sv1(d, q);
        }
        case PH_BIP1: {
            for (uint32_t k = 0; k < d->bip_n; k++) {
                uint32_t c = d->surv[d->bip_off + k];
                if (bip_pass(d, k, d->nacc[c])) {
                    d->chosen = c;
                    return send_bip2(d, q);
                }
            }
            d->bip_off += d->bip_n;
            return d->bip_off < d->nsurv ? send_bip1(d, q) : send_sv1(d, q);
        }
        case PH_BIP2: {
            for (uint32_t it = 0; it < DKG_BIP_ITERS; it++) {
                if (!bip_pass(d, it, d->nacc[d->chosen])) {
                    return send_sv1(d, q);
                }
            }
            return send_beta(d, q);
        }
        case PH_BETA:
            return send_theta(d, q);
        case PH_THETA:
            return send_dshare(d, q);
        case PH_DSHARE:
            return send_confirm(d, q);
        case PH_CONFIRM:
            return finish_key(d);
        default:
            return PHE_ERR_DKG_STATE;
    }
}

/* ------------------------------------------------------------------ */
/* Applying one message of the current round                            */
/* ------------------------------------------------------------------ */

static int apply(phe_dkg *d, const msg_hdr *h0) {
    msg_hdr h = *h0;
    phei_reader *r = &h.body;
    uint32_t cnt, from = h.from;
    int rc = 0;
    switch (h.type) {
        case T_SV1:
        case T_SVRED:
        case T_SVOPEN: {
            size_t nk = 2 * DKG_BATCH, nv;
            uint8_t seed[32];
            mpz_t *tmp;
            if (phei_get_u32(r, &cnt) != 0 || cnt != DKG_BATCH) {
                return PHE_ERR_DECODE;
            }
            if (h.type == T_SV1 && phei_get_bytes(r, seed, 32) != 0) {
                return PHE_ERR_DECODE;
            }
            nv = (h.type == T_SV1 && from > d->contrib) ? 0 : nk;
            tmp = calloc(nv ? nv : 1, sizeof(mpz_t));
            if (!tmp) {
                sodium_memzero(seed, sizeof seed);
                return PHE_ERR_NOMEM;
            }
            for (size_t k = 0; k < nv; k++) {
                mpz_init(tmp[k]);
                if (rc == 0 &&
                    (get_mpz(r, tmp[k], DKG_MAX_BIG) != 0 || mpz_cmp(tmp[k], d->P) >= 0)) {
                    rc = PHE_ERR_DECODE;
                }
            }
            if (rc == 0) {
                rc = phei_reader_end(r);
            }
            if (rc == 0) {
                if (h.type == T_SV1) {
                    memcpy(d->seed_in[from], seed, 32);
                    for (size_t k = 0; k < nv; k++) {
                        mpz_swap(d->sva[(size_t)(from - 1) * nk + k], tmp[k]);
                    }
                } else if (h.type == T_SVRED) {
                    mpz_t w;
                    mpz_init(w);
                    lagrange0(w, d->l, from);
                    for (size_t k = 0; k < nv; k++) {
                        mpz_addmul(d->svc[k], w, tmp[k]);
                    }
                    mpz_clear(w);
                } else {
                    for (size_t k = 0; k < nv; k++) {
                        mpz_add(d->svw[k], d->svw[k], tmp[k]);
                    }
                }
            }
            for (size_t k = 0; k < nv; k++) {
                phei_mpz_clear_secret(tmp[k]);
            }
            free(tmp);
            sodium_memzero(seed, sizeof seed);
            return rc;
        }
        case T_PQ:
        case T_NSHARE: {
            mpz_t *tmp;
            uint32_t per = h.type == T_PQ ? 2 : 1;
            if (phei_get_u32(r, &cnt) != 0 || cnt != DKG_BATCH) {
                return PHE_ERR_DECODE;
            }
            tmp = calloc((size_t)cnt * per, sizeof(mpz_t));
            if (!tmp) {
                return PHE_ERR_NOMEM;
            }
            for (uint32_t k = 0; k < cnt * per; k++) {
                mpz_init(tmp[k]);
                if (rc == 0 &&
                    (get_mpz(r, tmp[k], DKG_MAX_BIG) != 0 || mpz_cmp(tmp[k], d->P) >= 0)) {
                    rc = PHE_ERR_DECODE;
                }
            }
            if (rc == 0) {
                rc = phei_reader_end(r);
            }
            if (rc == 0) {
                if (h.type == T_PQ) {
                    for (uint32_t c = 0; c < cnt; c++) {
                        mpz_add(d->sp[c], d->sp[c], tmp[2 * c]);
                        mpz_mod(d->sp[c], d->sp[c], d->P);
                        mpz_add(d->sq[c], d->sq[c], tmp[2 * c + 1]);
                        mpz_mod(d->sq[c], d->sq[c], d->P);
                    }
                } else {
                    mpz_t w;
                    mpz_init(w);
                    lagrange0(w, d->l, from);
                    for (uint32_t c = 0; c < cnt; c++) {
                        mpz_addmul(d->nacc[c], w, tmp[c]);
                    }
                    mpz_clear(w);
                }
            }
            for (uint32_t k = 0; k < cnt * per; k++) {
                phei_mpz_clear_secret(tmp[k]);
            }
            free(tmp);
            return rc;
        }
        case T_BIP1:
        case T_BIP2: {
            uint32_t want = h.type == T_BIP1 ? d->bip_n : DKG_BIP_ITERS;
            mpz_t *tmp;
            if (phei_get_u32(r, &cnt) != 0 || cnt != want) {
                return PHE_ERR_DECODE;
            }
            tmp = calloc(cnt, sizeof(mpz_t));
            if (!tmp) {
                return PHE_ERR_NOMEM;
            }
            for (uint32_t k = 0; k < cnt; k++) {
                const mpz_ptr N = d->nacc[h.type == T_BIP1 ? d->surv[d->bip_off + k] : d->chosen];
                mpz_init(tmp[k]);
                if (rc == 0 && (get_mpz(r, tmp[k], DKG_MAX_BIG) != 0 || mpz_sgn(tmp[k]) == 0 ||
                                mpz_cmp(tmp[k], N) >= 0)) {
                    rc = PHE_ERR_DECODE;
                }
            }
            if (rc == 0) {
                rc = phei_reader_end(r);
            }
            for (uint32_t k = 0; rc == 0 && k < cnt; k++) {
                const mpz_ptr N = d->nacc[h.type == T_BIP1 ? d->surv[d->bip_off + k] : d->chosen];
                bip_accumulate(d, from, k, tmp[k], N);
            }
            for (uint32_t k = 0; k < cnt; k++) {
                mpz_clear(tmp[k]);
            }
            free(tmp);
            return rc;
        }
        case T_BETA: {
            mpz_t bsh, fsh, rho;
            mpz_inits(bsh, fsh, rho, NULL);
            rc = get_smpz(r, bsh);
            if (rc == 0) {
                rc = get_smpz(r, fsh);
            }
            if (rc == 0 && get_mpz(r, rho, DKG_MAX_BIG) != 0) {
                rc = PHE_ERR_DECODE;
            }
            if (rc == 0) {
                rc = phei_reader_end(r);
            }
            if (rc == 0) {
                mpz_add(d->Bsh, d->Bsh, bsh);
                mpz_add(d->Fsh, d->Fsh, fsh);
                mpz_sub(d->rho_net, d->rho_net, rho);
            }
            phei_mpz_clear_secret(bsh);
            phei_mpz_clear_secret(fsh);
            phei_mpz_clear_secret(rho);
            return rc;
        }
        case T_THETA: {
            mpz_t y;
            mpz_init(y);
            if (get_mpz(r, y, DKG_MAX_BIG) != 0 || mpz_cmp(y, d->N) >= 0) {
                rc = PHE_ERR_DECODE;
            }
            if (rc == 0) {
                rc = phei_reader_end(r);
            }
            if (rc == 0) {
                mpz_add(d->theta, d->theta, y);
                mpz_mod(d->theta, d->theta, d->N);
            }
            mpz_clear(y);
            return rc;
        }
        case T_DSHARE: {
            mpz_t f, e, lhs, rhs, pw, jm, Ev[DKG_MAX_L];
            mpz_inits(f, e, lhs, rhs, pw, jm, NULL);
            for (uint32_t m = 0; m < DKG_MAX_L; m++) {
                mpz_init(Ev[m]);
            }
            rc = get_smpz(r, f);
            if (rc == 0 && (phei_get_u32(r, &cnt) != 0 || cnt != d->t)) {
                rc = PHE_ERR_DECODE;
            }
            for (uint32_t m = 0; rc == 0 && m < d->t; m++) {
                if (get_mpz(r, Ev[m], DKG_MAX_BIG) != 0 || mpz_sgn(Ev[m]) == 0 ||
                    mpz_cmp(Ev[m], d->N2) >= 0) {
                    rc = PHE_ERR_DECODE;
                }
                mpz_gcd(pw, Ev[m], d->N);
                if (rc == 0 && mpz_cmp_ui(pw, 1) != 0) {
                    rc = PHE_ERR_DECODE;
                }
            }
            if (rc == 0) {
                rc = phei_reader_end(r);
            }
            if (rc == 0 && mpz_sizeinbase(f, 2) > d->share_bits) {
                rc = PHE_ERR_DKG_BLAME;
            }
            if (rc == 0) {
                /* Feldman check: v^(Δ·f) = Π_m E_m^(me^m) */
                mpz_mul(e, d->delta, f);
                powm_signed(lhs, d->v, e, d->N2);
                mpz_set_ui(rhs, 1);
                mpz_set_ui(jm, 1);
                for (uint32_t m = 0; m < d->t; m++) {
                    mpz_powm(pw, Ev[m], jm, d->N2);
                    mpz_mul(rhs, rhs, pw);
                    mpz_mod(rhs, rhs, d->N2);
                    mpz_mul_ui(jm, jm, d->me);
                }
                if (mpz_cmp(lhs, rhs) != 0) {
                    rc = PHE_ERR_DKG_BLAME;
                }
            }
            if (rc == PHE_ERR_DKG_BLAME) {
                d->blamed = from;
            }
            if (rc == 0) {
                mpz_add(d->s, d->s, f);
                for (uint32_t m = 0; m < d->t; m++) {
                    mpz_set(d->E[from][m], Ev[m]);
                }
                commit_hash(d, from, d->ch[from]);
            }
            for (uint32_t m = 0; m < DKG_MAX_L; m++) {
                mpz_clear(Ev[m]);
            }
            phei_mpz_clear_secret(f);
            phei_mpz_clear_secret(e);
            mpz_clears(lhs, rhs, pw, jm, NULL);
            return rc;
        }
        case T_CONFIRM: {
            uint8_t hv[32];
            if (phei_get_u32(r, &cnt) != 0 || cnt != d->l) {
                return PHE_ERR_DECODE;
            }
            if (r->left != 32u * d->l) {
                return PHE_ERR_DECODE;
            }
            for (uint32_t j = 1; j <= d->l; j++) {
                phei_get_bytes(r, hv, 32);
                if (sodium_memcmp(hv, d->ch[j], 32) != 0) {
                    d->blamed = j;
                    return PHE_ERR_DKG_INCONSISTENT;
                }
            }
            return 0;
        }
        default:
            return PHE_ERR_DECODE;
    }
}

/* ------------------------------------------------------------------ */
/* Public driving functions                                             */
/* ------------------------------------------------------------------ */

static int finish_out(outq *q, phe_dkg_msg **msgs, size_t *count, int rc) {
    if (rc == 0 && q->err) {
        rc = PHE_ERR_NOMEM;
    }
    if (rc != 0) {
        phe_dkg_msgs_free(q->m, q->n);
        *msgs = NULL;
        *count = 0;
        return rc;
    }
    *msgs = q->m;
    *count = q->n;
    return 0;
}

static int fatal(int rc) {
    return rc == PHE_ERR_DKG_BLAME || rc == PHE_ERR_DKG_INCONSISTENT || rc == PHE_ERR_NOMEM ||
           rc == PHE_ERR_RNG || rc == PHE_ERR_INTERNAL || rc == PHE_ERR_DKG_GIVE_UP ||
           rc == PHE_ERR_KEY_INVALID || rc == PHE_ERR_THRESHOLD_WRONG_KEY ||
           rc == PHE_ERR_THRESHOLD_PARAMS;
}

PHE_API int phe_dkg_start(phe_dkg *d, phe_dkg_msg **msgs, size_t *count) {
    outq q = {0};
    int rc;
    if (!d || !msgs || !count) {
        return PHE_ERR_INVALID_ARG;
    }
    *msgs = NULL;
    *count = 0;
    if (d->phase != PH_NEW) {
        return PHE_ERR_DKG_STATE;
    }
    rc = send_sv1(d, &q);
    if (rc != 0) {
        d->phase = PH_FAILED;
    }
    return finish_out(&q, msgs, count, rc);
}

/* One message: the current round (applied) or the next (kept). */
static int take(phe_dkg *d, const uint8_t *in, size_t in_len, outq *q) {
    msg_hdr h;
    int rc = parse_header(d, in, in_len, &h);
    if (rc != 0) {
        return rc;
    }
    if (h.round == d->round + 1) {
        if (d->pend[h.from]) {
            return PHE_ERR_DKG_DUPLICATE;
        }
        d->pend[h.from] = malloc(in_len);
        if (!d->pend[h.from]) {
            return PHE_ERR_NOMEM;
        }
        memcpy(d->pend[h.from], in, in_len);
        d->pend_len[h.from] = in_len;
        return 0;
    }
    if (h.round != d->round || h.type != phase_type(d->phase)) {
        return PHE_ERR_DKG_ROUND;
    }
    if (type_direct(h.type) != (h.to != 0)) {
        return PHE_ERR_DKG_ROUND;
    }
    if (d->got[h.from]) {
        return PHE_ERR_DKG_DUPLICATE;
    }
    rc = apply(d, &h);
    if (rc != 0) {
        return rc;
    }
    d->got[h.from] = 1;
    /* End of round: advance, then replay what was kept for the new round. */
    while (rc == 0 && round_complete(d) && d->phase != PH_DONE) {
        rc = advance(d, q);
        for (uint32_t j = 1; rc == 0 && j <= d->l && d->phase != PH_DONE; j++) {
            if (d->pend[j]) {
                uint8_t *m = d->pend[j];
                size_t len = d->pend_len[j];
                d->pend[j] = NULL;
                d->pend_len[j] = 0;
                rc = parse_header(d, m, len, &h);
                if (rc == 0 && (h.round != d->round || h.type != phase_type(d->phase) ||
                                type_direct(h.type) != (h.to != 0))) {
                    rc = PHE_ERR_DKG_ROUND;
                }
                if (rc == 0) {
                    rc = apply(d, &h);
                }
                if (rc == 0) {
                    d->got[h.from] = 1;
                }
                sodium_memzero(m, len);
                free(m);
            }
        }
    }
    return rc;
}

PHE_API int phe_dkg_handle(phe_dkg *d, const uint8_t *in, size_t in_len, phe_dkg_msg **msgs,
                           size_t *count) {
    outq q = {0};
    int rc;
    if (!d || !msgs || !count || (!in && in_len > 0)) {
        return PHE_ERR_INVALID_ARG;
    }
    *msgs = NULL;
    *count = 0;
    if (d->phase == PH_NEW || d->phase == PH_DONE || d->phase == PH_FAILED) {
        return PHE_ERR_DKG_STATE;
    }
    if (in_len > DKG_MAX_MSG) {
        return PHE_ERR_DECODE;
    }
    rc = take(d, in, in_len, &q);
    if (rc != 0 && fatal(rc)) {
        d->phase = PH_FAILED;
    }
    if (rc != 0 && !fatal(rc) && q.n > 0) {
        /* a kept message of the new round was bad: the round's own messages
         * still go out */
        int keep = rc;
        finish_out(&q, msgs, count, 0);
        return keep;
    }
    return finish_out(&q, msgs, count, rc);
}

PHE_API int phe_dkg_finish(phe_dkg *d, phe_threshold_params **params_out,
                           phe_threshold_keyshare **share_out) {
    size_t len;
    uint8_t *buf;
    int rc;
    if (!d || !params_out || !share_out) {
        return PHE_ERR_INVALID_ARG;
    }
    *params_out = NULL;
    *share_out = NULL;
    if (d->phase != PH_DONE) {
        return PHE_ERR_DKG_STATE;
    }
    if (!d->pp) {
        return PHE_ERR_KEY_SIZE; /* a 1024-bit comparison run */
    }
    /* hand out copies (the state keeps its own until freed) */
    len = phe_threshold_params_encoded_size(d->pp);
    buf = malloc(len);
    if (!buf) {
        return PHE_ERR_NOMEM;
    }
    rc = phe_threshold_params_encode(d->pp, buf, len, NULL);
    if (rc == 0) {
        rc = phe_threshold_params_decode(params_out, buf, len);
    }
    free(buf);
    if (rc != 0) {
        return rc;
    }
    len = phe_threshold_keyshare_encoded_size(d->ks);
    buf = malloc(len);
    if (!buf) {
        phe_threshold_params_free(*params_out);
        *params_out = NULL;
        return PHE_ERR_NOMEM;
    }
    rc = phe_threshold_keyshare_encode(d->ks, buf, len, NULL);
    if (rc == 0) {
        rc = phe_threshold_keyshare_decode(share_out, buf, len);
    }
    sodium_memzero(buf, len);
    free(buf);
    if (rc != 0) {
        phe_threshold_params_free(*params_out);
        *params_out = NULL;
    }
    return rc;
}
