/* Internal declarations of libfedavg (never installed). */
#ifndef FEDAVG_INTERNAL_H
#define FEDAVG_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "fedavg.h"

struct fedavg_codec {
    uint32_t plaintext_bytes; /* P */
    uint32_t slot_bits;       /* w, a multiple of 8 unless FEDAVG_CODEC_BIT_SLOTS */
    uint32_t slot_bytes;      /* w / 8; 0 when w is not a multiple of 8 */
    uint32_t per_plaintext;   /* k = floor(8P / w) */
    uint32_t frac_bits;       /* f */
    uint32_t max_weight;      /* M */
    uint32_t flags;
    float clip;
    float scale;  /* 2^f */
    uint32_t q;   /* Q = round(clip * 2^f) <= 2^30 */
    double bound; /* stated error bound */
};

/* Build a codec from its defining fields; checks everything. */
int fedavg_codec_make_(uint32_t plaintext_bytes, uint32_t max_weight, uint32_t frac_bits,
                       float clip, uint32_t flags, struct fedavg_codec *out);

/* Check a raw packed form against a total weight (slots in range, padding 0). */
int fedavg_codec_check_raw_(const struct fedavg_codec *c, const uint8_t *in, size_t n,
                            uint64_t total_weight);

int fedavg_sodium_init_(void);

/* Host <-> big-endian for memcpy'd words (identity on big-endian hosts). */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define FEDAVG_BE32(v) (v)
#define FEDAVG_BE64(v) (v)
#else
#define FEDAVG_BE32(v) __builtin_bswap32(v)
#define FEDAVG_BE64(v) __builtin_bswap64(v)
#endif

static inline void fedavg_put_u32_(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void fedavg_put_u64_(uint8_t *p, uint64_t v) {
    fedavg_put_u32_(p, (uint32_t)(v >> 32));
    fedavg_put_u32_(p + 4, (uint32_t)v);
}

static inline uint32_t fedavg_get_u32_(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline uint64_t fedavg_get_u64_(const uint8_t *p) {
    return ((uint64_t)fedavg_get_u32_(p) << 32) | fedavg_get_u32_(p + 4);
}

static inline uint32_t fedavg_float_bits_(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float fedavg_bits_float_(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

#endif
