/* Canonical writer/reader (see fs_codec.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fedshare/common.h"
#include "fs_codec.h"

void fsw_init(fs_writer *w) {
    memset(w, 0, sizeof *w);
}

void fsw_free(fs_writer *w) {
    free(w->buf);
    fsw_init(w);
}

static int grow(fs_writer *w, size_t n) {
    if (w->err)
        return -1;
    if (n > SIZE_MAX - w->len) {
        w->err = FEDSHARE_E_NOMEM;
        return -1;
    }
    if (w->len + n <= w->cap)
        return 0;
    size_t cap = w->cap ? w->cap : 256;
    while (cap < w->len + n)
        cap = cap > SIZE_MAX / 2 ? w->len + n : cap * 2;
    uint8_t *b = realloc(w->buf, cap);
    if (!b) {
        w->err = FEDSHARE_E_NOMEM;
        return -1;
    }
    w->buf = b;
    w->cap = cap;
    return 0;
}

void fsw_raw(fs_writer *w, const void *p, size_t n) {
    if (!n || grow(w, n))
        return;
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

void fsw_u8(fs_writer *w, uint8_t v) {
    fsw_raw(w, &v, 1);
}

void fsw_u16(fs_writer *w, uint16_t v) {
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    fsw_raw(w, b, 2);
}

void fsw_u32(fs_writer *w, uint32_t v) {
    uint8_t b[4];
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(v >> (24 - 8 * i));
    fsw_raw(w, b, 4);
}

void fsw_u64(fs_writer *w, uint64_t v) {
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (56 - 8 * i));
    fsw_raw(w, b, 8);
}

void fsw_f64(fs_writer *w, double v) {
    uint64_t u;
    if (!isfinite(v)) { /* never written: a reader would refuse the record */
        w->err = FEDSHARE_E_INVALID;
        return;
    }
    if (v == 0)
        v = 0; /* one encoding of zero: -0.0 becomes +0.0 */
    memcpy(&u, &v, 8);
    fsw_u64(w, u);
}

void fsw_bytes(fs_writer *w, const void *p, size_t n) {
    if (n > UINT32_MAX) {
        w->err = FEDSHARE_E_INVALID;
        return;
    }
    fsw_u32(w, (uint32_t)n);
    fsw_raw(w, p, n);
}

int fsw_take(fs_writer *w, uint8_t **out, size_t *len) {
    if (w->err) {
        int e = w->err;
        fsw_free(w);
        return e;
    }
    *out = w->buf;
    *len = w->len;
    w->buf = NULL;
    w->len = w->cap = 0;
    return FEDSHARE_OK;
}

void fsr_init(fs_reader *r, const uint8_t *p, size_t len) {
    r->p = p;
    r->len = p ? len : 0;
    r->off = 0;
    r->err = 0;
}

const uint8_t *fsr_take(fs_reader *r, size_t n) {
    if (r->err || n > r->len - r->off) {
        r->err = FEDSHARE_E_FORMAT;
        return NULL;
    }
    const uint8_t *q = r->p + r->off;
    r->off += n;
    return q;
}

uint8_t fsr_u8(fs_reader *r) {
    const uint8_t *q = fsr_take(r, 1);
    return q ? q[0] : 0;
}

uint16_t fsr_u16(fs_reader *r) {
    const uint8_t *q = fsr_take(r, 2);
    return q ? (uint16_t)((q[0] << 8) | q[1]) : 0;
}

uint32_t fsr_u32(fs_reader *r) {
    const uint8_t *q = fsr_take(r, 4);
    if (!q)
        return 0;
    return ((uint32_t)q[0] << 24) | ((uint32_t)q[1] << 16) | ((uint32_t)q[2] << 8) | q[3];
}

uint64_t fsr_u64(fs_reader *r) {
    uint64_t hi = fsr_u32(r);
    return (hi << 32) | fsr_u32(r);
}

double fsr_f64(fs_reader *r) {
    uint64_t u = fsr_u64(r);
    double v;
    memcpy(&v, &u, 8);
    if (!isfinite(v) || (v == 0 && u != 0)) { /* no NaN, no infinity, no -0.0 */
        r->err = FEDSHARE_E_FORMAT;
        return 0;
    }
    return v;
}

void fsr_raw(fs_reader *r, void *out, size_t n) {
    const uint8_t *q = fsr_take(r, n);
    if (q)
        memcpy(out, q, n);
    else
        memset(out, 0, n);
}

const uint8_t *fsr_bytes(fs_reader *r, size_t max, size_t *n) {
    uint32_t len = fsr_u32(r);
    *n = 0;
    if (r->err)
        return NULL;
    if (len > max) {
        r->err = FEDSHARE_E_FORMAT;
        return NULL;
    }
    const uint8_t *q = fsr_take(r, len);
    if (q)
        *n = len;
    return q;
}

char *fsr_str(fs_reader *r, size_t max) {
    size_t n;
    const uint8_t *q = fsr_bytes(r, max, &n);
    if (r->err)
        return NULL;
    if (n && memchr(q, 0, n)) {
        r->err = FEDSHARE_E_FORMAT;
        return NULL;
    }
    char *s = malloc(n + 1);
    if (!s) {
        r->err = FEDSHARE_E_NOMEM;
        return NULL;
    }
    if (n)
        memcpy(s, q, n);
    s[n] = 0;
    return s;
}

int fsr_done(fs_reader *r) {
    if (!r->err && r->off != r->len)
        r->err = FEDSHARE_E_FORMAT; /* trailing bytes: not canonical */
    return r->err;
}
