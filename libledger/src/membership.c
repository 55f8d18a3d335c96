/* libledger: membership, commit statements, certificates
 * (docs/formats/ledger.md §Membership, §Commit statement, §Certificate). */
#include "internal.h"

#include <sodium.h>

#define MEMB_HDR   45 /* magic 4, version 1, chain id 32, f 4, n 4 */
#define CERT_HDR   15 /* magic 4, version 1, view 8, count 2 */
#define CERT_ENTRY 66

int ledger_membership_create(ledger_membership **out, const uint8_t chain_id[32],
                             const uint8_t *pubkeys, size_t n, uint32_t f) {
    if (!out)
        return LEDGER_E_INVALID;
    *out = NULL;
    if (!chain_id || !pubkeys || n == 0 || n > LEDGER_MEMBERS_MAX ||
        (uint64_t)3 * f + 1 > (uint64_t)n)
        return LEDGER_E_INVALID;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (memcmp(pubkeys + 32 * i, pubkeys + 32 * j, 32) == 0)
                return LEDGER_E_INVALID;
    ledger_membership *m = malloc(sizeof *m);
    if (!m)
        return LEDGER_E_NOMEM;
    m->keys = malloc(32 * n);
    if (!m->keys) {
        free(m);
        return LEDGER_E_NOMEM;
    }
    memcpy(m->keys, pubkeys, 32 * n);
    memcpy(m->chain_id, chain_id, 32);
    m->n = n;
    m->f = f;
    *out = m;
    return LEDGER_OK;
}

void ledger_membership_free(ledger_membership *m) {
    if (!m)
        return;
    free(m->keys);
    free(m);
}

size_t ledger_membership_size(const ledger_membership *m) {
    return m ? m->n : 0;
}
uint32_t ledger_membership_f(const ledger_membership *m) {
    return m ? m->f : 0;
}
size_t ledger_membership_quorum(const ledger_membership *m) {
    return m ? (m->n + m->f) / 2 + 1 : 0;
}
const uint8_t *ledger_membership_key(const ledger_membership *m, size_t i) {
    return m && i < m->n ? m->keys + 32 * i : NULL;
}
const uint8_t *ledger_membership_chain_id(const ledger_membership *m) {
    return m ? m->chain_id : NULL;
}

int ledger_membership_find(const ledger_membership *m, const uint8_t pubkey[32]) {
    if (!m || !pubkey)
        return LEDGER_E_INVALID;
    for (size_t i = 0; i < m->n; i++)
        if (memcmp(m->keys + 32 * i, pubkey, 32) == 0)
            return (int)i;
    return LEDGER_E_NOT_FOUND;
}

int ledger_membership_encode(const ledger_membership *m, uint8_t **out, size_t *len) {
    if (!out || !len)
        return LEDGER_E_INVALID;
    *out = NULL;
    *len = 0;
    if (!m)
        return LEDGER_E_INVALID;
    size_t sz = MEMB_HDR + 32 * m->n;
    uint8_t *b = malloc(sz);
    if (!b)
        return LEDGER_E_NOMEM;
    memcpy(b, LDG_MEMB_MAGIC, 4);
    b[4] = 1;
    memcpy(b + 5, m->chain_id, 32);
    ldg_put32(b + 37, m->f);
    ldg_put32(b + 41, (uint32_t)m->n);
    memcpy(b + MEMB_HDR, m->keys, 32 * m->n);
    *out = b;
    *len = sz;
    return LEDGER_OK;
}

int ledger_membership_decode(ledger_membership **out, const uint8_t *buf, size_t len) {
    if (!out)
        return LEDGER_E_INVALID;
    *out = NULL;
    if (!buf && len)
        return LEDGER_E_INVALID;
    if (len < MEMB_HDR || memcmp(buf, LDG_MEMB_MAGIC, 4) != 0)
        return LEDGER_E_DECODE;
    if (buf[4] != 1)
        return LEDGER_E_VERSION;
    uint32_t f = ldg_get32(buf + 37), n = ldg_get32(buf + 41);
    if (n == 0 || n > LEDGER_MEMBERS_MAX || len != MEMB_HDR + 32 * (size_t)n)
        return LEDGER_E_DECODE;
    int rc = ledger_membership_create(out, buf + 5, buf + MEMB_HDR, n, f);
    return rc == LEDGER_E_INVALID ? LEDGER_E_DECODE : rc;
}

int ledger_membership_equal(const ledger_membership *a, const ledger_membership *b) {
    if (!a || !b)
        return 0;
    return a->n == b->n && a->f == b->f && memcmp(a->chain_id, b->chain_id, 32) == 0 &&
           memcmp(a->keys, b->keys, 32 * a->n) == 0;
}

int ledger_commit_statement(uint8_t out[96], const uint8_t chain_id[32], uint64_t height,
                            uint64_t view, const uint8_t header_hash[32]) {
    if (!out || !chain_id || !header_hash)
        return LEDGER_E_INVALID;
    memcpy(out, LDG_TAG_COMMIT, LDG_TAG_LEN);
    memcpy(out + 16, chain_id, 32);
    ldg_put64(out + 48, height);
    ldg_put64(out + 56, view);
    memcpy(out + 64, header_hash, 32);
    return LEDGER_OK;
}

/* ---- certificates ---- */

int ledger_cert_create(ledger_cert **out, uint64_t view) {
    if (!out)
        return LEDGER_E_INVALID;
    ledger_cert *c = calloc(1, sizeof *c);
    if (!c) {
        *out = NULL;
        return LEDGER_E_NOMEM;
    }
    c->view = view;
    *out = c;
    return LEDGER_OK;
}

static int cert_reserve(ledger_cert *c, size_t want) {
    if (want <= c->cap)
        return 0;
    size_t cap = c->cap ? c->cap * 2 : 8;
    while (cap < want)
        cap *= 2;
    uint16_t *r = realloc(c->replicas, cap * sizeof *r);
    if (!r)
        return LEDGER_E_NOMEM;
    c->replicas = r;
    uint8_t *s = realloc(c->sigs, cap * 64);
    if (!s)
        return LEDGER_E_NOMEM;
    c->sigs = s;
    c->cap = cap;
    return 0;
}

int ledger_cert_add(ledger_cert *c, uint16_t replica, const uint8_t sig[64]) {
    if (!c || !sig || c->count >= LEDGER_MEMBERS_MAX)
        return LEDGER_E_INVALID;
    size_t pos = 0;
    while (pos < c->count && c->replicas[pos] < replica)
        pos++;
    if (pos < c->count && c->replicas[pos] == replica)
        return LEDGER_E_INVALID;
    if (cert_reserve(c, c->count + 1))
        return LEDGER_E_NOMEM;
    memmove(c->replicas + pos + 1, c->replicas + pos, (c->count - pos) * sizeof *c->replicas);
    memmove(c->sigs + 64 * (pos + 1), c->sigs + 64 * pos, (c->count - pos) * 64);
    c->replicas[pos] = replica;
    memcpy(c->sigs + 64 * pos, sig, 64);
    c->count++;
    return LEDGER_OK;
}

uint64_t ledger_cert_view(const ledger_cert *c) {
    return c ? c->view : 0;
}
size_t ledger_cert_count(const ledger_cert *c) {
    return c ? c->count : 0;
}

int ledger_cert_entry(const ledger_cert *c, size_t i, uint16_t *replica, uint8_t sig[64]) {
    if (!c || i >= c->count)
        return LEDGER_E_INVALID;
    if (replica)
        *replica = c->replicas[i];
    if (sig)
        memcpy(sig, c->sigs + 64 * i, 64);
    return LEDGER_OK;
}

int ledger_cert_verify(const ledger_cert *c, const ledger_membership *m, uint64_t height,
                       const uint8_t header_hash[32]) {
    if (!c || !m || !header_hash)
        return LEDGER_E_INVALID;
    if (ldg_init() < 0)
        return LEDGER_E_INTERNAL;
    if (c->count < ledger_membership_quorum(m))
        return LEDGER_E_CERTIFICATE;
    uint8_t stmt[LEDGER_COMMIT_STATEMENT_BYTES];
    ledger_commit_statement(stmt, m->chain_id, height, c->view, header_hash);
    for (size_t i = 0; i < c->count; i++) {
        if (i && c->replicas[i] <= c->replicas[i - 1])
            return LEDGER_E_CERTIFICATE;
        if (c->replicas[i] >= m->n)
            return LEDGER_E_CERTIFICATE;
        if (crypto_sign_verify_detached(c->sigs + 64 * i, stmt, sizeof stmt,
                                        m->keys + 32 * (size_t)c->replicas[i]) != 0)
            return LEDGER_E_CERTIFICATE;
    }
    return LEDGER_OK;
}

size_t ldg_cert_size(const ledger_cert *c) {
    return CERT_HDR + CERT_ENTRY * c->count;
}

void ldg_cert_write(const ledger_cert *c, uint8_t *b) {
    memcpy(b, LDG_CERT_MAGIC, 4);
    b[4] = 1;
    ldg_put64(b + 5, c->view);
    ldg_put16(b + 13, (uint16_t)c->count);
    uint8_t *p = b + CERT_HDR;
    for (size_t i = 0; i < c->count; i++, p += CERT_ENTRY) {
        ldg_put16(p, c->replicas[i]);
        memcpy(p + 2, c->sigs + 64 * i, 64);
    }
}

int ldg_cert_read(ldg_rd *r, ledger_cert **out) {
    const uint8_t *h;
    *out = NULL;
    if (ldg_take(r, CERT_HDR, &h))
        return LEDGER_E_DECODE;
    if (memcmp(h, LDG_CERT_MAGIC, 4) != 0)
        return LEDGER_E_DECODE;
    if (h[4] != 1)
        return LEDGER_E_VERSION;
    size_t count = ldg_get16(h + 13);
    if (count > LEDGER_MEMBERS_MAX || r->left < count * CERT_ENTRY)
        return LEDGER_E_DECODE;
    ledger_cert *c;
    if (ledger_cert_create(&c, ldg_get64(h + 5)))
        return LEDGER_E_NOMEM;
    if (count && cert_reserve(c, count)) {
        ledger_cert_free(c);
        return LEDGER_E_NOMEM;
    }
    for (size_t i = 0; i < count; i++) {
        const uint8_t *e = NULL;
        if (ldg_take(r, CERT_ENTRY, &e)) { /* cannot happen: length checked above */
            ledger_cert_free(c);
            return LEDGER_E_DECODE;
        }
        uint16_t rep = ldg_get16(e);
        if (i && rep <= c->replicas[i - 1]) { /* canonical: strictly ascending */
            ledger_cert_free(c);
            return LEDGER_E_DECODE;
        }
        c->replicas[i] = rep;
        memcpy(c->sigs + 64 * i, e + 2, 64);
        c->count = i + 1;
    }
    *out = c;
    return LEDGER_OK;
}

int ledger_cert_encode(const ledger_cert *c, uint8_t **out, size_t *len) {
    if (!out || !len)
        return LEDGER_E_INVALID;
    *out = NULL;
    *len = 0;
    if (!c)
        return LEDGER_E_INVALID;
    size_t sz = ldg_cert_size(c);
    uint8_t *b = malloc(sz);
    if (!b)
        return LEDGER_E_NOMEM;
    ldg_cert_write(c, b);
    *out = b;
    *len = sz;
    return LEDGER_OK;
}

int ledger_cert_decode(ledger_cert **out, const uint8_t *buf, size_t len) {
    if (!out)
        return LEDGER_E_INVALID;
    *out = NULL;
    if (!buf && len)
        return LEDGER_E_INVALID;
    ldg_rd r = {buf, len};
    ledger_cert *c;
    int rc = ldg_cert_read(&r, &c);
    if (rc)
        return rc;
    if (r.left) {
        ledger_cert_free(c);
        return LEDGER_E_DECODE;
    }
    *out = c;
    return LEDGER_OK;
}

int ledger_cert_clone(ledger_cert **out, const ledger_cert *c) {
    if (!out)
        return LEDGER_E_INVALID;
    *out = NULL;
    if (!c)
        return LEDGER_E_INVALID;
    ledger_cert *d;
    if (ledger_cert_create(&d, c->view))
        return LEDGER_E_NOMEM;
    if (c->count && cert_reserve(d, c->count)) {
        ledger_cert_free(d);
        return LEDGER_E_NOMEM;
    }
    if (c->count) {
        memcpy(d->replicas, c->replicas, c->count * sizeof *c->replicas);
        memcpy(d->sigs, c->sigs, c->count * 64);
    }
    d->count = c->count;
    *out = d;
    return LEDGER_OK;
}

void ledger_cert_free(ledger_cert *c) {
    if (!c)
        return;
    free(c->replicas);
    free(c->sigs);
    free(c);
}
