/* Internal: bounded big-endian readers and growable writers for the consensus
 * codecs. A reader never reads past its end; every failure sets `bad`, so a
 * decoder checks once at the end. Not installed. */
#ifndef LC_WIRE_H
#define LC_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const uint8_t *p;
    size_t n;
    size_t off;
    int bad;
} lc_rd;

typedef struct {
    uint8_t *p;
    size_t n;
    size_t cap;
    int oom;
} lc_wr;

static inline void lc_rd_init(lc_rd *r, const uint8_t *p, size_t n) {
    r->p = p;
    r->n = n;
    r->off = 0;
    r->bad = 0;
}

static inline const uint8_t *lc_rd_bytes(lc_rd *r, size_t k) {
    if (r->bad || k > r->n - r->off) {
        r->bad = 1;
        return NULL;
    }
    const uint8_t *q = r->p + r->off;
    r->off += k;
    return q;
}

static inline uint64_t lc_rd_uint(lc_rd *r, int width) {
    const uint8_t *q = lc_rd_bytes(r, (size_t)width);
    uint64_t v = 0;
    if (!q)
        return 0;
    for (int i = 0; i < width; i++)
        v = (v << 8) | q[i];
    return v;
}

static inline uint8_t lc_rd_u8(lc_rd *r) {
    return (uint8_t)lc_rd_uint(r, 1);
}
static inline uint16_t lc_rd_u16(lc_rd *r) {
    return (uint16_t)lc_rd_uint(r, 2);
}
static inline uint32_t lc_rd_u32(lc_rd *r) {
    return (uint32_t)lc_rd_uint(r, 4);
}
static inline uint64_t lc_rd_u64(lc_rd *r) {
    return lc_rd_uint(r, 8);
}
static inline void lc_rd_copy(lc_rd *r, void *out, size_t k) {
    const uint8_t *q = lc_rd_bytes(r, k);
    if (q)
        memcpy(out, q, k);
    else
        memset(out, 0, k);
}
/* Length-prefixed (u32) byte string, bounded by `max`. */
static inline const uint8_t *lc_rd_var(lc_rd *r, size_t *len, size_t max) {
    uint32_t k = lc_rd_u32(r);
    if (r->bad || k > max) {
        r->bad = 1;
        *len = 0;
        return NULL;
    }
    *len = k;
    return lc_rd_bytes(r, k);
}
/* 1 when everything was read exactly (no error, no trailing bytes). */
static inline int lc_rd_done(const lc_rd *r) {
    return !r->bad && r->off == r->n;
}

static inline void lc_wr_init(lc_wr *w) {
    w->p = NULL;
    w->n = 0;
    w->cap = 0;
    w->oom = 0;
}
static inline void lc_wr_free(lc_wr *w) {
    free(w->p);
    lc_wr_init(w);
}
static inline uint8_t *lc_wr_reserve(lc_wr *w, size_t k) {
    if (w->oom)
        return NULL;
    if (k > SIZE_MAX / 2 - w->n) {
        w->oom = 1;
        return NULL;
    }
    if (w->n + k > w->cap) {
        size_t c = w->cap ? w->cap : 256;
        while (c < w->n + k)
            c *= 2;
        uint8_t *q = realloc(w->p, c);
        if (!q) {
            w->oom = 1;
            return NULL;
        }
        w->p = q;
        w->cap = c;
    }
    uint8_t *q = w->p + w->n;
    w->n += k;
    return q;
}
static inline void lc_wr_bytes(lc_wr *w, const void *src, size_t k) {
    uint8_t *q = lc_wr_reserve(w, k);
    if (q && k)
        memcpy(q, src, k);
}
static inline void lc_wr_uint(lc_wr *w, uint64_t v, int width) {
    uint8_t *q = lc_wr_reserve(w, (size_t)width);
    if (!q)
        return;
    for (int i = width - 1; i >= 0; i--) {
        q[i] = (uint8_t)v;
        v >>= 8;
    }
}
static inline void lc_wr_u8(lc_wr *w, uint8_t v) {
    lc_wr_uint(w, v, 1);
}
static inline void lc_wr_u16(lc_wr *w, uint16_t v) {
    lc_wr_uint(w, v, 2);
}
static inline void lc_wr_u32(lc_wr *w, uint32_t v) {
    lc_wr_uint(w, v, 4);
}
static inline void lc_wr_u64(lc_wr *w, uint64_t v) {
    lc_wr_uint(w, v, 8);
}
static inline void lc_wr_var(lc_wr *w, const void *src, size_t k) {
    lc_wr_u32(w, (uint32_t)k);
    lc_wr_bytes(w, src, k);
}
static inline void lc_put_u32(uint8_t *q, uint32_t v) {
    q[0] = (uint8_t)(v >> 24);
    q[1] = (uint8_t)(v >> 16);
    q[2] = (uint8_t)(v >> 8);
    q[3] = (uint8_t)v;
}
static inline uint32_t lc_get_u32(const uint8_t *q) {
    return ((uint32_t)q[0] << 24) | ((uint32_t)q[1] << 16) | ((uint32_t)q[2] << 8) | q[3];
}
static inline uint64_t lc_get_u64(const uint8_t *q) {
    return ((uint64_t)lc_get_u32(q) << 32) | lc_get_u32(q + 4);
}
static inline void lc_put_u64(uint8_t *q, uint64_t v) {
    for (int i = 7; i >= 0; i--) {
        q[i] = (uint8_t)v;
        v >>= 8;
    }
}

#endif
