/* Fixed-point quantization and BatchCrypt-style packing (docs/fedavg-codec.md).
 *
 * A value x becomes q = round_half_even(clamp(x, -clip, clip) * 2^f), an
 * integer in [-Q, Q]; a participant with integer weight w stores the slot
 * w * (q + Q) in [0, 2*Q*w]. Slots are unsigned, so a sum of packed
 * plaintexts never borrows: slot j of the sum is sum_i w_i (q_ij + Q), which
 * stays below 2^slot_bits as long as the total weight W <= M, and the whole
 * plaintext stays below 2^(8P) <= n. Unpacking subtracts W*Q and divides by
 * 2^f * W. */
#include <math.h>
#include <stdlib.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "internal.h"

#define MAGIC_PARAMS        "FAPR"
#define MAGIC_PACKED        "FAPK"
#define FORMAT_VERSION      1u
#define FORMAT_VERSION_BITS 2u /* FAPR of a codec with FEDAVG_CODEC_BIT_SLOTS */
#define KNOWN_FLAGS         (FEDAVG_CODEC_ALIGNED_SLOTS | FEDAVG_CODEC_BIT_SLOTS)
#define PARAMS_BYTES        24u
#define PACKED_HEADER       21u /* magic, version, u64 n, u32 weight, u32 plaintexts */
#define MAX_PLAINTEXT_BYTES 65536u
#define MAX_Q               (1u << 30)
#define MAX_FRAC_BITS       126u
#define CHUNK               256u

void fedavg_codec_config_init(fedavg_codec_config *cfg) {
    if (cfg) {
        fedavg_codec_config d = FEDAVG_CODEC_CONFIG_INIT;
        *cfg = d;
    }
}

static unsigned bitlen64(uint64_t v) {
    unsigned b = 0;
    while (v) {
        b++;
        v >>= 1;
    }
    return b;
}

int fedavg_codec_make_(uint32_t plaintext_bytes, uint32_t max_weight, uint32_t frac_bits,
                       float clip, uint32_t flags, struct fedavg_codec *out) {
    if (plaintext_bytes < 1 || plaintext_bytes > MAX_PLAINTEXT_BYTES || max_weight < 1 ||
        (flags & ~KNOWN_FLAGS) != 0 || flags == KNOWN_FLAGS)
        return FEDAVG_E_INVALID;
    if (!isfinite(clip) || !(clip > 0.0f))
        return FEDAVG_E_INVALID;
    if (frac_bits > MAX_FRAC_BITS)
        return FEDAVG_E_PARAMS;
    /* clip * 2^f is exact in double (a float times a power of two). */
    double qd = rint(ldexp((double)clip, (int)frac_bits));
    if (qd > (double)MAX_Q)
        return FEDAVG_E_PARAMS;
    uint32_t q = (uint32_t)qd;
    uint64_t top = 2u * (uint64_t)q * max_weight; /* < 2^63 */
    unsigned need = bitlen64(top);
    unsigned bits;
    if (flags & FEDAVG_CODEC_ALIGNED_SLOTS) {
        bits = need <= 16 ? 16 : need <= 32 ? 32 : need <= 64 ? 64 : 0;
    } else if (flags & FEDAVG_CODEC_BIT_SLOTS) {
        bits = need < 1 ? 1 : need; /* exactly the bits 2QM needs */
    } else {
        bits = need < 8 ? 8 : (need + 7) / 8 * 8;
    }
    if (bits == 0 || bits > 64)
        return FEDAVG_E_SLOT;
    uint32_t k = (uint32_t)((uint64_t)plaintext_bytes * 8u / bits);
    if (k == 0)
        return FEDAVG_E_PLAINTEXT;
    out->plaintext_bytes = plaintext_bytes;
    out->slot_bits = bits;
    out->slot_bytes = bits % 8 == 0 ? bits / 8 : 0; /* 0: a bit-granular width */
    out->per_plaintext = k;
    out->frac_bits = frac_bits;
    out->max_weight = max_weight;
    out->flags = flags;
    out->clip = clip;
    out->scale = ldexpf(1.0f, (int)frac_bits);
    out->q = q;
    /* Quantization 2^-(f+1) (plus the float rounding of a mean that may
     * exceed clip by 2^-(f+1)), float32 output rounding and double
     * arithmetic within clip * 2^-23, and the smallest subnormal half-ulp. */
    out->bound = ldexp(1.0, -(int)frac_bits - 1) * (1.0 + ldexp(1.0, -23)) +
                 (double)clip * ldexp(1.0, -23) + ldexp(1.0, -149);
    return FEDAVG_OK;
}

int fedavg_codec_select(fedavg_codec **out, const fedavg_codec_config *cfg) {
    if (!out || !cfg || cfg->version != FEDAVG_CODEC_CONFIG_VERSION)
        return FEDAVG_E_INVALID;
    if (!isfinite(cfg->precision) || !(cfg->precision > 0.0))
        return FEDAVG_E_INVALID;
    /* Smallest f >= 0 with 2^-(f+1) <= precision. */
    uint32_t f = 0;
    while (ldexp(1.0, -(int)f - 1) > cfg->precision) {
        if (++f > MAX_FRAC_BITS)
            return FEDAVG_E_PARAMS;
    }
    struct fedavg_codec tmp;
    int rc =
        fedavg_codec_make_(cfg->plaintext_bytes, cfg->max_weight, f, cfg->clip, cfg->flags, &tmp);
    if (rc)
        return rc;
    fedavg_codec *c = malloc(sizeof *c);
    if (!c)
        return FEDAVG_E_NOMEM;
    *c = tmp;
    *out = c;
    return FEDAVG_OK;
}

void fedavg_codec_free(fedavg_codec *c) {
    free(c);
}

uint32_t fedavg_codec_plaintext_bytes(const fedavg_codec *c) {
    return c ? c->plaintext_bytes : 0;
}
uint32_t fedavg_codec_slot_bits(const fedavg_codec *c) {
    return c ? c->slot_bits : 0;
}
uint32_t fedavg_codec_values_per_plaintext(const fedavg_codec *c) {
    return c ? c->per_plaintext : 0;
}
uint32_t fedavg_codec_frac_bits(const fedavg_codec *c) {
    return c ? c->frac_bits : 0;
}
uint32_t fedavg_codec_flags(const fedavg_codec *c) {
    return c ? c->flags : 0;
}
uint32_t fedavg_codec_max_weight(const fedavg_codec *c) {
    return c ? c->max_weight : 0;
}
float fedavg_codec_clip(const fedavg_codec *c) {
    return c ? c->clip : 0.0f;
}
double fedavg_codec_error_bound(const fedavg_codec *c) {
    return c ? c->bound : 0.0;
}
size_t fedavg_codec_plaintexts(const fedavg_codec *c, size_t n) {
    if (!c)
        return 0;
    return n / c->per_plaintext + (n % c->per_plaintext != 0);
}
size_t fedavg_codec_packed_bytes(const fedavg_codec *c, size_t n) {
    size_t p = fedavg_codec_plaintexts(c, n);
    if (!c || p > SIZE_MAX / c->plaintext_bytes)
        return 0;
    return p * c->plaintext_bytes;
}

size_t fedavg_codec_encoded_bytes(void) {
    return PARAMS_BYTES;
}

int fedavg_codec_encode(const fedavg_codec *c, uint8_t *out, size_t cap) {
    if (!c || !out)
        return FEDAVG_E_INVALID;
    if (cap < PARAMS_BYTES)
        return FEDAVG_E_BUFFER_TOO_SMALL;
    memcpy(out, MAGIC_PARAMS, 4);
    /* Version 1 stays byte for byte what it was; bit-granular slots are version 2. */
    out[4] = (c->flags & FEDAVG_CODEC_BIT_SLOTS) ? FORMAT_VERSION_BITS : FORMAT_VERSION;
    fedavg_put_u32_(out + 5, c->plaintext_bytes);
    out[9] = (uint8_t)c->slot_bits;
    out[10] = (uint8_t)c->frac_bits;
    fedavg_put_u32_(out + 11, c->max_weight);
    fedavg_put_u32_(out + 15, fedavg_float_bits_(c->clip));
    fedavg_put_u32_(out + 19, c->per_plaintext);
    out[23] = (uint8_t)c->flags;
    return FEDAVG_OK;
}

static int params_decode(const uint8_t *in, size_t len, struct fedavg_codec *c) {
    if (len < 5 || memcmp(in, MAGIC_PARAMS, 4) != 0)
        return FEDAVG_E_FORMAT;
    if (in[4] != FORMAT_VERSION && in[4] != FORMAT_VERSION_BITS)
        return FEDAVG_E_VERSION;
    if (len != PARAMS_BYTES)
        return FEDAVG_E_FORMAT;
    /* The version says the layout: 2 exactly when the bit-slot flag is set. */
    if (((in[23] & FEDAVG_CODEC_BIT_SLOTS) != 0) != (in[4] == FORMAT_VERSION_BITS))
        return FEDAVG_E_FORMAT;
    uint32_t clip_bits = fedavg_get_u32_(in + 15);
    float clip = fedavg_bits_float_(clip_bits);
    int rc = fedavg_codec_make_(fedavg_get_u32_(in + 5), fedavg_get_u32_(in + 11), in[10], clip,
                                in[23], c);
    if (rc)
        return FEDAVG_E_FORMAT;
    /* Derived fields must be the ones the parameters imply (canonical). */
    if (c->slot_bits != in[9] || c->per_plaintext != fedavg_get_u32_(in + 19))
        return FEDAVG_E_FORMAT;
    return FEDAVG_OK;
}

int fedavg_codec_decode(fedavg_codec **out, const uint8_t *in, size_t len) {
    if (!out || (!in && len))
        return FEDAVG_E_INVALID;
    if (!in)
        return FEDAVG_E_FORMAT;
    struct fedavg_codec tmp;
    int rc = params_decode(in, len, &tmp);
    if (rc)
        return rc;
    fedavg_codec *c = malloc(sizeof *c);
    if (!c)
        return FEDAVG_E_NOMEM;
    *c = tmp;
    *out = c;
    return FEDAVG_OK;
}

/* ---- packing ------------------------------------------------------------ */

/* t[i] = round(clamp(x[i]) * 2^f) + Q for cnt values; counts |x| > clip and
 * flags a non-finite input (exponent all ones). */
static void quantize(const struct fedavg_codec *c, const float *x, size_t cnt, uint32_t *t,
                     size_t *clipped, uint32_t *bad) {
    size_t i = 0;
    size_t nclip = 0;
    uint32_t nonfinite = 0;
#if defined(__SSE2__)
    const __m128 vclip = _mm_set1_ps(c->clip);
    const __m128 vnclip = _mm_set1_ps(-c->clip);
    const __m128 vscale = _mm_set1_ps(c->scale);
    const __m128i vq = _mm_set1_epi32((int32_t)c->q);
    const __m128i vexp = _mm_set1_epi32(0x7f800000);
    const __m128i vabs = _mm_set1_epi32(0x7fffffff);
    __m128i vbad = _mm_setzero_si128();
    __m128i vcnt = _mm_setzero_si128();
    for (; i + 4 <= cnt; i += 4) {
        __m128 v = _mm_loadu_ps(x + i);
        __m128i bits = _mm_castps_si128(v);
        vbad = _mm_or_si128(vbad, _mm_cmpeq_epi32(_mm_and_si128(bits, vexp), vexp));
        __m128 a = _mm_castsi128_ps(_mm_and_si128(bits, vabs));
        /* cmpgt gives -1 per lane: subtracting counts. */
        vcnt = _mm_sub_epi32(vcnt, _mm_castps_si128(_mm_cmpgt_ps(a, vclip)));
        v = _mm_min_ps(_mm_max_ps(v, vnclip), vclip);
        __m128i q = _mm_cvtps_epi32(_mm_mul_ps(v, vscale)); /* nearest even */
        _mm_storeu_si128((__m128i *)(void *)(t + i), _mm_add_epi32(q, vq));
    }
    uint32_t lanes[4];
    _mm_storeu_si128((__m128i *)(void *)lanes, vbad);
    nonfinite |= lanes[0] | lanes[1] | lanes[2] | lanes[3];
    _mm_storeu_si128((__m128i *)(void *)lanes, vcnt);
    nclip += (size_t)lanes[0] + lanes[1] + lanes[2] + lanes[3];
#endif
    for (; i < cnt; i++) {
        float v = x[i];
        uint32_t bits = fedavg_float_bits_(v);
        nonfinite |= (bits & 0x7f800000u) == 0x7f800000u;
        nclip += fabsf(v) > c->clip;
        v = v < -c->clip ? -c->clip : v > c->clip ? c->clip : v;
        /* In [0, 2^31]: add as unsigned (2Q may be 2^31). */
        t[i] = (uint32_t)(int32_t)lrintf(v * c->scale) + c->q;
    }
    *clipped += nclip;
    *bad |= nonfinite;
}

/* Write cnt slots starting at slot index j0 of plaintext pt: slot j occupies
 * the slot_bytes bytes ending slot_bytes*j bytes before the plaintext's end. */
static void store_slots(const struct fedavg_codec *c, uint8_t *pt, uint32_t j0, const uint32_t *t,
                        size_t cnt, uint32_t w) {
    const uint32_t B = c->slot_bytes;
    uint8_t *end = pt + c->plaintext_bytes - (size_t)j0 * B;
    switch (B) {
        case 2:
            for (size_t i = 0; i < cnt; i++) {
                uint32_t v = t[i] * w;
                end[-2 * (ptrdiff_t)i - 2] = (uint8_t)(v >> 8);
                end[-2 * (ptrdiff_t)i - 1] = (uint8_t)v;
            }
            break;
        case 4:
            for (size_t i = 0; i < cnt; i++) {
                uint32_t v = t[i] * w;
                v = FEDAVG_BE32(v);
                memcpy(end - 4 * (i + 1), &v, 4);
            }
            break;
        case 8:
            for (size_t i = 0; i < cnt; i++) {
                uint64_t v = (uint64_t)t[i] * w;
                v = FEDAVG_BE64(v);
                memcpy(end - 8 * (i + 1), &v, 8);
            }
            break;
        default:
            for (size_t i = 0; i < cnt; i++) {
                uint64_t v = (uint64_t)t[i] * w;
                uint8_t *p = end - (size_t)B * (i + 1);
                for (uint32_t b = 0; b < B; b++)
                    p[B - 1 - b] = (uint8_t)(v >> (8 * b));
            }
            break;
    }
}

/* Bit-granular slots (FEDAVG_CODEC_BIT_SLOTS with a width that is not a
 * multiple of 8): slot j occupies bits [w*j, w*(j+1)) of the big-endian
 * plaintext integer, so the writer fills bytes from the plaintext's end. At
 * most 32 bits go in at a time, so acc never holds more than 39 bits. */
typedef struct bitwriter {
    uint8_t *p; /* next byte to write is p[-1] */
    uint64_t acc;
    unsigned cnt;
} bitwriter;

static inline void bw_put32(bitwriter *bw, uint64_t v, unsigned nbits) {
    bw->acc |= v << bw->cnt;
    bw->cnt += nbits;
    while (bw->cnt >= 8) {
        *--bw->p = (uint8_t)bw->acc;
        bw->acc >>= 8;
        bw->cnt -= 8;
    }
}

static void store_bits(bitwriter *bw, const uint32_t *t, size_t cnt, uint32_t w, unsigned bits) {
    if (bits <= 32) {
        for (size_t i = 0; i < cnt; i++)
            bw_put32(bw, (uint64_t)t[i] * w, bits);
    } else {
        for (size_t i = 0; i < cnt; i++) {
            uint64_t v = (uint64_t)t[i] * w;
            bw_put32(bw, v & 0xffffffffu, 32);
            bw_put32(bw, v >> 32, bits - 32);
        }
    }
}

typedef struct bitreader {
    const uint8_t *p; /* next byte to read is p[-1] */
    uint64_t acc;
    unsigned cnt;
} bitreader;

static inline uint64_t br_get32(bitreader *br, unsigned nbits) {
    while (br->cnt < nbits) {
        br->acc |= (uint64_t) * --br->p << br->cnt;
        br->cnt += 8;
    }
    uint64_t v = br->acc & ((UINT64_C(1) << nbits) - 1);
    br->acc >>= nbits;
    br->cnt -= nbits;
    return v;
}

static inline uint64_t br_get(bitreader *br, unsigned bits) {
    if (bits <= 32)
        return br_get32(br, bits);
    uint64_t lo = br_get32(br, 32);
    return lo | br_get32(br, bits - 32) << 32;
}

/* After the last slot of a plaintext: the rest of the bits read into the
 * current byte and every byte above must be zero. */
static inline int br_rest_zero(const bitreader *br, const uint8_t *pt) {
    uint64_t over = br->acc;
    for (const uint8_t *b = pt; b < br->p; b++)
        over |= *b;
    return over == 0;
}

static int pack_bits(const struct fedavg_codec *c, const float *x, size_t n, uint32_t weight,
                     uint8_t *out, size_t *nclip, uint32_t *bad) {
    const uint32_t k = c->per_plaintext;
    const size_t P = c->plaintext_bytes;
    uint32_t t[CHUNK];
    size_t done = 0;
    for (uint8_t *pt = out; done < n; pt += P) {
        size_t here = n - done < k ? n - done : k;
        memset(pt, 0, P);
        bitwriter bw = {pt + P, 0, 0};
        for (size_t j = 0; j < here; j += CHUNK) {
            size_t cnt = here - j < CHUNK ? here - j : CHUNK;
            quantize(c, x + done + j, cnt, t, nclip, bad);
            store_bits(&bw, t, cnt, weight, c->slot_bits);
        }
        if (bw.cnt) /* k * w <= 8P: the partial byte is inside the plaintext */
            *--bw.p = (uint8_t)bw.acc;
        done += here;
    }
    return FEDAVG_OK;
}

int fedavg_codec_pack(const fedavg_codec *c, const float *x, size_t n, uint32_t weight,
                      uint8_t *out, size_t cap, size_t *clipped) {
    if (!c || !x || !out || n == 0 || weight < 1 || weight > c->max_weight)
        return FEDAVG_E_INVALID;
    size_t need = fedavg_codec_packed_bytes(c, n);
    if (need == 0)
        return FEDAVG_E_INVALID;
    if (cap < need)
        return FEDAVG_E_BUFFER_TOO_SMALL;
    const uint32_t k = c->per_plaintext;
    const size_t P = c->plaintext_bytes;
    const size_t used = (size_t)k * c->slot_bytes;
    size_t nclip = 0;
    uint32_t bad = 0;
    uint32_t t[CHUNK];
    size_t done = c->slot_bytes ? 0 : n;
    if (!c->slot_bytes)
        pack_bits(c, x, n, weight, out, &nclip, &bad);
    for (uint8_t *pt = out; done < n; pt += P) {
        size_t here = n - done < k ? n - done : k;
        /* padding: bytes above the last slot, and unused slots of the last plaintext */
        memset(pt, 0, P - used);
        if (here < k)
            memset(pt + P - used, 0, (k - here) * c->slot_bytes);
        for (size_t j = 0; j < here; j += CHUNK) {
            size_t cnt = here - j < CHUNK ? here - j : CHUNK;
            quantize(c, x + done + j, cnt, t, &nclip, &bad);
            store_slots(c, pt, (uint32_t)j, t, cnt, weight);
        }
        done += here;
    }
    if (bad) {
        memset(out, 0, need);
        return FEDAVG_E_NONFINITE;
    }
    if (clipped)
        *clipped = nclip;
    return FEDAVG_OK;
}

/* acc + in for one big-endian plaintext of P bytes, 64-bit words from the
 * least significant end; returns the carry out. Writes only when asked. */
static unsigned add_plaintext(uint8_t *acc, const uint8_t *in, size_t P, int write) {
    unsigned carry = 0;
    size_t b = P;
    while (b >= 8) {
        b -= 8;
        uint64_t x, y;
        memcpy(&x, acc + b, 8);
        memcpy(&y, in + b, 8);
        x = FEDAVG_BE64(x);
        y = FEDAVG_BE64(y);
        uint64_t s = x + y;
        unsigned c1 = s < x;
        uint64_t s2 = s + carry;
        carry = c1 | (s2 < s);
        if (write) {
            s2 = FEDAVG_BE64(s2);
            memcpy(acc + b, &s2, 8);
        }
    }
    while (b > 0) {
        b--;
        unsigned s = (unsigned)acc[b] + in[b] + carry;
        if (write)
            acc[b] = (uint8_t)s;
        carry = s >> 8;
    }
    return carry;
}

int fedavg_codec_add(const fedavg_codec *c, uint8_t *acc, const uint8_t *in, size_t len) {
    if (!c || !acc || !in || len == 0 || len % c->plaintext_bytes != 0)
        return FEDAVG_E_INVALID;
    const size_t P = c->plaintext_bytes;
    /* First pass: find any carry out of a plaintext, so acc stays untouched. */
    for (size_t off = 0; off < len; off += P)
        if (add_plaintext(acc + off, in + off, P, 0))
            return FEDAVG_E_OVERFLOW;
    for (size_t off = 0; off < len; off += P)
        add_plaintext(acc + off, in + off, P, 1);
    return FEDAVG_OK;
}

static inline uint64_t load_slot(const uint8_t *p, uint32_t B) {
    uint64_t v = 0;
    for (uint32_t b = 0; b < B; b++)
        v = (v << 8) | p[b];
    return v;
}

int fedavg_codec_check_raw_(const struct fedavg_codec *c, const uint8_t *in, size_t n,
                            uint64_t total_weight) {
    const uint32_t k = c->per_plaintext, B = c->slot_bytes;
    const size_t P = c->plaintext_bytes, used = (size_t)k * B;
    const uint64_t top = 2u * (uint64_t)c->q * total_weight;
    size_t done = 0;
    if (!B) {
        for (const uint8_t *pt = in; done < n; pt += P) {
            size_t here = n - done < k ? n - done : k;
            bitreader br = {pt + P, 0, 0};
            for (size_t j = 0; j < here; j++)
                if (br_get(&br, c->slot_bits) > top)
                    return FEDAVG_E_OVERFLOW;
            if (!br_rest_zero(&br, pt))
                return FEDAVG_E_OVERFLOW;
            done += here;
        }
        return FEDAVG_OK;
    }
    for (const uint8_t *pt = in; done < n; pt += P) {
        size_t here = n - done < k ? n - done : k;
        for (size_t b = 0; b < P - used; b++)
            if (pt[b])
                return FEDAVG_E_OVERFLOW;
        for (size_t b = P - used; b < P - here * B; b++)
            if (pt[b])
                return FEDAVG_E_OVERFLOW;
        const uint8_t *end = pt + P;
        for (size_t j = 0; j < here; j++)
            if (load_slot(end - B * (j + 1), B) > top)
                return FEDAVG_E_OVERFLOW;
        done += here;
    }
    return FEDAVG_OK;
}

int fedavg_codec_unpack(const fedavg_codec *c, const uint8_t *in, size_t len, size_t n,
                        uint64_t total_weight, float *out) {
    if (!c || !in || !out || n == 0 || total_weight == 0)
        return FEDAVG_E_INVALID;
    size_t need = fedavg_codec_packed_bytes(c, n);
    if (need == 0 || len != need)
        return FEDAVG_E_INVALID;
    if (total_weight > c->max_weight)
        return FEDAVG_E_OVERFLOW;
    const uint32_t k = c->per_plaintext, B = c->slot_bytes;
    const size_t P = c->plaintext_bytes;
    const uint64_t top = 2u * (uint64_t)c->q * total_weight;
    const int64_t offset = (int64_t)((uint64_t)c->q * total_weight);
    /* 1/W rounded once, times an exact power of two. */
    const double inv = ldexp(1.0 / (double)total_weight, -(int)c->frac_bits);
    size_t done = 0;
    if (!B) {
        for (const uint8_t *pt = in; done < n; pt += P) {
            size_t here = n - done < k ? n - done : k;
            bitreader br = {pt + P, 0, 0};
            uint64_t over = 0;
            float *o = out + done;
            for (size_t j = 0; j < here; j++) {
                uint64_t v = br_get(&br, c->slot_bits);
                over |= v > top;
                o[j] = (float)((double)((int64_t)v - offset) * inv);
            }
            if (over || !br_rest_zero(&br, pt)) {
                memset(out, 0, n * sizeof *out);
                return FEDAVG_E_OVERFLOW;
            }
            done += here;
        }
        return FEDAVG_OK;
    }
    for (const uint8_t *pt = in; done < n; pt += P) {
        size_t here = n - done < k ? n - done : k;
        uint64_t over = 0;
        for (size_t b = 0; b < P - here * B; b++)
            over |= pt[b];
        const uint8_t *end = pt + P;
        float *o = out + done;
        switch (B) {
            case 4:
                for (size_t j = 0; j < here; j++) {
                    uint32_t v;
                    memcpy(&v, end - 4 * (j + 1), 4);
                    v = FEDAVG_BE32(v);
                    over |= v > top;
                    o[j] = (float)((double)((int64_t)v - offset) * inv);
                }
                break;
            case 8:
                for (size_t j = 0; j < here; j++) {
                    uint64_t v;
                    memcpy(&v, end - 8 * (j + 1), 8);
                    v = FEDAVG_BE64(v);
                    over |= v > top;
                    o[j] = (float)((double)((int64_t)v - offset) * inv);
                }
                break;
            default:
                for (size_t j = 0; j < here; j++) {
                    uint64_t v = load_slot(end - (size_t)B * (j + 1), B);
                    over |= v > top;
                    o[j] = (float)((double)((int64_t)v - offset) * inv);
                }
                break;
        }
        if (over) {
            memset(out, 0, n * sizeof *out);
            return FEDAVG_E_OVERFLOW;
        }
        done += here;
    }
    return FEDAVG_OK;
}

/* ---- packed-vector encoding --------------------------------------------- */

size_t fedavg_packed_encoded_bytes(const fedavg_codec *c, size_t n) {
    size_t raw = fedavg_codec_packed_bytes(c, n);
    if (raw == 0 || raw > SIZE_MAX - PACKED_HEADER - PARAMS_BYTES)
        return 0;
    return PACKED_HEADER + PARAMS_BYTES + raw;
}

int fedavg_packed_encode(const fedavg_codec *c, const uint8_t *raw, size_t raw_len, uint64_t n,
                         uint32_t weight, uint8_t *out, size_t cap) {
    if (!c || !raw || !out || n == 0 || n > SIZE_MAX || weight < 1 || weight > c->max_weight)
        return FEDAVG_E_INVALID;
    size_t total = fedavg_packed_encoded_bytes(c, (size_t)n);
    size_t plaintexts = fedavg_codec_plaintexts(c, (size_t)n);
    if (total == 0 || plaintexts > UINT32_MAX || raw_len != fedavg_codec_packed_bytes(c, (size_t)n))
        return FEDAVG_E_INVALID;
    if (cap < total)
        return FEDAVG_E_BUFFER_TOO_SMALL;
    int rc = fedavg_codec_check_raw_(c, raw, (size_t)n, weight);
    if (rc)
        return rc;
    memcpy(out, MAGIC_PACKED, 4);
    out[4] = FORMAT_VERSION;
    fedavg_codec_encode(c, out + 5, PARAMS_BYTES);
    uint8_t *h = out + 5 + PARAMS_BYTES;
    fedavg_put_u64_(h, n);
    fedavg_put_u32_(h + 8, weight);
    fedavg_put_u32_(h + 12, (uint32_t)plaintexts);
    memcpy(h + 16, raw, raw_len);
    return FEDAVG_OK;
}

int fedavg_packed_decode(const uint8_t *in, size_t len, fedavg_codec **codec, uint64_t *n,
                         uint32_t *weight, size_t *raw_offset) {
    if (!codec || !n || !weight || !raw_offset || (!in && len))
        return FEDAVG_E_INVALID;
    if (!in || len < 5 || memcmp(in, MAGIC_PACKED, 4) != 0)
        return FEDAVG_E_FORMAT;
    if (in[4] != FORMAT_VERSION)
        return FEDAVG_E_VERSION;
    if (len < PACKED_HEADER + PARAMS_BYTES)
        return FEDAVG_E_FORMAT;
    struct fedavg_codec c;
    int rc = params_decode(in + 5, PARAMS_BYTES, &c);
    if (rc)
        return rc;
    const uint8_t *h = in + 5 + PARAMS_BYTES;
    uint64_t cnt = fedavg_get_u64_(h);
    uint32_t w = fedavg_get_u32_(h + 8);
    uint32_t plaintexts = fedavg_get_u32_(h + 12);
    if (cnt == 0 || cnt > SIZE_MAX || w < 1 || w > c.max_weight)
        return FEDAVG_E_FORMAT;
    /* plaintexts must equal ceil(cnt / k); compare without overflow. */
    if ((uint64_t)plaintexts != cnt / c.per_plaintext + (cnt % c.per_plaintext != 0))
        return FEDAVG_E_FORMAT;
    uint64_t raw = (uint64_t)plaintexts * c.plaintext_bytes;
    if (raw != (uint64_t)(len - PACKED_HEADER - PARAMS_BYTES))
        return FEDAVG_E_FORMAT;
    rc = fedavg_codec_check_raw_(&c, h + 16, (size_t)cnt, w);
    if (rc)
        return rc;
    fedavg_codec *out = malloc(sizeof *out);
    if (!out)
        return FEDAVG_E_NOMEM;
    *out = c;
    *codec = out;
    *n = cnt;
    *weight = w;
    *raw_offset = PACKED_HEADER + PARAMS_BYTES;
    return FEDAVG_OK;
}

/* ---- weights ------------------------------------------------------------- */

static int weights_sum(const double *w, size_t m, double *sum) {
    double s = 0.0;
    for (size_t i = 0; i < m; i++) {
        if (!isfinite(w[i]))
            return FEDAVG_E_NONFINITE;
        if (w[i] < 0.0)
            return FEDAVG_E_INVALID;
        s += w[i];
    }
    if (!(s > 0.0) || !isfinite(s))
        return FEDAVG_E_INVALID;
    *sum = s;
    return FEDAVG_OK;
}

int fedavg_weights_quantize(const double *w, size_t m, uint32_t resolution, uint32_t *q) {
    if (!w || !q || m == 0 || resolution == 0)
        return FEDAVG_E_INVALID;
    double s;
    int rc = weights_sum(w, m, &s);
    if (rc)
        return rc;
    uint64_t total = 0;
    for (size_t i = 0; i < m; i++) {
        double v = rint(w[i] / s * (double)resolution);
        total += (uint64_t)v;
    }
    if (total == 0 || total > UINT32_MAX)
        return FEDAVG_E_INVALID;
    for (size_t i = 0; i < m; i++)
        q[i] = (uint32_t)rint(w[i] / s * (double)resolution);
    return FEDAVG_OK;
}

int fedavg_weights_error_bound(const double *w, const uint32_t *q, size_t m, float clip,
                               double *bound) {
    if (!w || !q || !bound || m == 0 || !isfinite(clip) || clip < 0.0f)
        return FEDAVG_E_INVALID;
    double s;
    int rc = weights_sum(w, m, &s);
    if (rc)
        return rc;
    uint64_t qs = 0;
    for (size_t i = 0; i < m; i++)
        qs += q[i];
    if (qs == 0)
        return FEDAVG_E_INVALID;
    double acc = 0.0;
    for (size_t i = 0; i < m; i++)
        acc += fabs((double)q[i] / (double)qs - w[i] / s);
    /* Round up generously for the few double operations above. */
    *bound = (double)clip * (acc * (1.0 + ldexp(1.0, -40)) + (double)m * ldexp(1.0, -50));
    return FEDAVG_OK;
}
