/* Exact delta encoding of successive float32 models and model digests
 * (docs/formats/fedavg.md, "FADL").
 *
 * The delta XORs bit patterns, so the round trip is bit for bit (NaN
 * payloads, signed zeros). Changed parameters form maximal runs; each run is
 * (gap, length) as LEB128 followed by length big-endian u32 XOR words, so an
 * unchanged model costs only the header and each changed parameter about 4
 * bytes. Both models' SHA-256 digests are carried: the base digest is
 * checked before anything is written, the next digest after. */
#include <sodium.h>

#include "internal.h"

#define MAGIC_DELTA    "FADL"
#define FORMAT_VERSION 1u
#define HEADER         (4u + 1u + 8u + 32u + 32u)

int fedavg_model_digest(const float *x, size_t n, uint8_t out[32]) {
    if (!x || !out)
        return FEDAVG_E_INVALID;
    if (fedavg_sodium_init_())
        return FEDAVG_E_CRYPTO;
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    uint8_t buf[4096];
    size_t i = 0;
    while (i < n) {
        size_t cnt = n - i < sizeof buf / 4 ? n - i : sizeof buf / 4;
        for (size_t k = 0; k < cnt; k++)
            fedavg_put_u32_(buf + 4 * k, fedavg_float_bits_(x[i + k]));
        crypto_hash_sha256_update(&st, buf, cnt * 4);
        i += cnt;
    }
    crypto_hash_sha256_final(&st, out);
    return FEDAVG_OK;
}

static size_t leb_len(uint64_t v) {
    size_t l = 1;
    while (v >= 0x80) {
        v >>= 7;
        l++;
    }
    return l;
}

static uint8_t *leb_put(uint8_t *p, uint64_t v) {
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* Canonical LEB128 read: at most 10 bytes, no redundant trailing zero group. */
static int leb_get(const uint8_t **p, const uint8_t *end, uint64_t *v) {
    uint64_t r = 0;
    for (unsigned i = 0; i < 10; i++) {
        if (*p >= end)
            return FEDAVG_E_FORMAT;
        uint8_t b = *(*p)++;
        if (i == 9 && b > 1)
            return FEDAVG_E_FORMAT;
        r |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            if (b == 0 && i > 0)
                return FEDAVG_E_FORMAT;
            *v = r;
            return FEDAVG_OK;
        }
    }
    return FEDAVG_E_FORMAT;
}

static inline uint32_t xor_at(const float *a, const float *b, size_t i) {
    return fedavg_float_bits_(a[i]) ^ fedavg_float_bits_(b[i]);
}

/* Walk maximal runs of changed parameters; with out == NULL only sizes. */
static size_t runs(const float *base, const float *next, size_t n, uint8_t *out) {
    size_t size = 0, i = 0, prev_end = 0;
    while (i < n) {
        if (xor_at(base, next, i) == 0) {
            i++;
            continue;
        }
        size_t start = i;
        while (i < n && xor_at(base, next, i) != 0)
            i++;
        size_t len = i - start, gap = start - prev_end;
        size += leb_len(gap) + leb_len(len) + 4 * len;
        if (out) {
            out = leb_put(out, gap);
            out = leb_put(out, len);
            for (size_t k = start; k < i; k++, out += 4)
                fedavg_put_u32_(out, xor_at(base, next, k));
        }
        prev_end = i;
    }
    return size;
}

int fedavg_delta_size(const float *base, const float *next, size_t n, size_t *size) {
    if (!base || !next || !size || n == 0)
        return FEDAVG_E_INVALID;
    *size = HEADER + runs(base, next, n, NULL);
    return FEDAVG_OK;
}

int fedavg_delta_encode(const float *base, const float *next, size_t n, uint8_t *out, size_t cap,
                        size_t *len) {
    if (!base || !next || !out || !len || n == 0)
        return FEDAVG_E_INVALID;
    size_t need = HEADER + runs(base, next, n, NULL);
    if (cap < need)
        return FEDAVG_E_BUFFER_TOO_SMALL;
    uint8_t db[32], dn[32];
    if (fedavg_model_digest(base, n, db) || fedavg_model_digest(next, n, dn))
        return FEDAVG_E_CRYPTO;
    memcpy(out, MAGIC_DELTA, 4);
    out[4] = FORMAT_VERSION;
    fedavg_put_u64_(out + 5, (uint64_t)n);
    memcpy(out + 13, db, 32);
    memcpy(out + 45, dn, 32);
    runs(base, next, n, out + HEADER);
    *len = need;
    return FEDAVG_OK;
}

static int header(const uint8_t *in, size_t len, uint64_t *n) {
    if (!in || len < 5 || memcmp(in, MAGIC_DELTA, 4) != 0)
        return FEDAVG_E_FORMAT;
    if (in[4] != FORMAT_VERSION)
        return FEDAVG_E_VERSION;
    if (len < HEADER)
        return FEDAVG_E_FORMAT;
    *n = fedavg_get_u64_(in + 5);
    if (*n == 0)
        return FEDAVG_E_FORMAT;
    return FEDAVG_OK;
}

int fedavg_delta_count(const uint8_t *in, size_t len, uint64_t *n) {
    if (!n || (!in && len))
        return FEDAVG_E_INVALID;
    return header(in, len, n);
}

/* Parse every run; with out != NULL XOR the words into out. */
static int walk(const uint8_t *in, size_t len, size_t n, float *out) {
    const uint8_t *p = in + HEADER, *end = in + len;
    uint64_t pos = 0;
    int first = 1;
    while (p < end) {
        uint64_t gap, cnt;
        if (leb_get(&p, end, &gap) || leb_get(&p, end, &cnt))
            return FEDAVG_E_FORMAT;
        /* Runs are maximal: a gap of zero only before the first run. */
        if ((!first && gap == 0) || cnt == 0 || gap > n - pos || cnt > n - pos - gap)
            return FEDAVG_E_FORMAT;
        if ((uint64_t)(end - p) / 4 < cnt)
            return FEDAVG_E_FORMAT;
        pos += gap;
        for (uint64_t k = 0; k < cnt; k++, p += 4) {
            uint32_t x = fedavg_get_u32_(p);
            if (x == 0)
                return FEDAVG_E_FORMAT;
            if (out)
                out[pos + k] = fedavg_bits_float_(fedavg_float_bits_(out[pos + k]) ^ x);
        }
        pos += cnt;
        first = 0;
    }
    return FEDAVG_OK;
}

int fedavg_delta_apply(const uint8_t *in, size_t len, const float *base, size_t n, float *out) {
    if (!base || !out || n == 0 || (!in && len))
        return FEDAVG_E_INVALID;
    uint64_t cnt;
    int rc = header(in, len, &cnt);
    if (rc)
        return rc;
    if (cnt != (uint64_t)n)
        return FEDAVG_E_INVALID;
    rc = walk(in, len, n, NULL);
    if (rc)
        return rc;
    uint8_t d[32];
    if (fedavg_model_digest(base, n, d))
        return FEDAVG_E_CRYPTO;
    if (sodium_memcmp(d, in + 13, 32) != 0)
        return FEDAVG_E_MISMATCH;
    if (out != base)
        memcpy(out, base, n * sizeof *out);
    walk(in, len, n, out);
    if (fedavg_model_digest(out, n, d))
        return FEDAVG_E_CRYPTO;
    if (sodium_memcmp(d, in + 45, 32) != 0) {
        walk(in, len, n, out); /* XOR again: back to base */
        return FEDAVG_E_MISMATCH;
    }
    return FEDAVG_OK;
}
