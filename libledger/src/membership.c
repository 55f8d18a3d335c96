/* libledger: membership, commit statements, certificates
 * (docs/formats/ledger.md §Membership, §Commit statement, §Certificate). */
#include "internal.h"

#include <sodium.h>
#include <stdio.h>

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
    ledger_membership *m = calloc(1, sizeof *m);
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
    m->nactive = n;
    *out = m;
    return LEDGER_OK;
}

void ledger_membership_free(ledger_membership *m) {
    if (!m)
        return;
    free(m->keys);
    free(m->active);
    free(m->addrs);
    free(m);
}

size_t ledger_membership_size(const ledger_membership *m) {
    return m ? m->n : 0;
}
size_t ledger_membership_count(const ledger_membership *m) {
    return m ? m->nactive : 0;
}
int ledger_membership_active(const ledger_membership *m, size_t i) {
    return m && i < m->n && (!m->active || m->active[i]);
}
const char *ledger_membership_address(const ledger_membership *m, size_t i) {
    return m && m->addrs && i < m->n ? m->addrs[i] : NULL;
}
uint32_t ledger_membership_f(const ledger_membership *m) {
    return m ? m->f : 0;
}
size_t ledger_membership_quorum(const ledger_membership *m) {
    return m ? (m->nactive + m->f) / 2 + 1 : 0;
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
            return ledger_membership_active(m, i) ? (int)i : LEDGER_E_NOT_FOUND;
    return LEDGER_E_NOT_FOUND;
}

#define SLOT_FIXED 34 /* key 32, active 1, address length 1 */

int ledger_membership_encode(const ledger_membership *m, uint8_t **out, size_t *len) {
    if (!out || !len)
        return LEDGER_E_INVALID;
    *out = NULL;
    *len = 0;
    if (!m)
        return LEDGER_E_INVALID;
    size_t sz = MEMB_HDR;
    if (m->active)
        for (size_t i = 0; i < m->n; i++)
            sz += SLOT_FIXED + strlen(m->addrs[i]);
    else
        sz += 32 * m->n;
    uint8_t *b = malloc(sz);
    if (!b)
        return LEDGER_E_NOMEM;
    memcpy(b, LDG_MEMB_MAGIC, 4);
    b[4] = m->active ? 2 : 1;
    memcpy(b + 5, m->chain_id, 32);
    ldg_put32(b + 37, m->f);
    ldg_put32(b + 41, (uint32_t)m->n);
    if (m->active) {
        uint8_t *p = b + MEMB_HDR;
        for (size_t i = 0; i < m->n; i++) {
            size_t al = strlen(m->addrs[i]);
            memcpy(p, m->keys + 32 * i, 32);
            p[32] = m->active[i];
            p[33] = (uint8_t)al;
            memcpy(p + 34, m->addrs[i], al);
            p += SLOT_FIXED + al;
        }
    } else {
        memcpy(b + MEMB_HDR, m->keys, 32 * m->n);
    }
    *out = b;
    *len = sz;
    return LEDGER_OK;
}

static int addr_ok(const uint8_t *a, size_t n) {
    if (n == 0 || n > LEDGER_MEMBER_ADDR_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (a[i] <= 0x20 || a[i] >= 0x7f)
            return 0;
    return 1;
}

/* Version 2 parts of m (slots, flags, addresses) allocated; nactive counted. */
static int v2_alloc(ledger_membership *m) {
    m->active = calloc(m->n, 1);
    m->addrs = calloc(m->n, sizeof *m->addrs);
    return m->active && m->addrs ? LEDGER_OK : LEDGER_E_NOMEM;
}

static int v2_check(const ledger_membership *m) {
    /* at least one member, n ≥ 3f+1 over the members, keys distinct (checked by create) */
    if (m->nactive == 0 || (uint64_t)3 * m->f + 1 > m->nactive)
        return LEDGER_E_DECODE;
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
    if (buf[4] != 1 && buf[4] != 2)
        return LEDGER_E_VERSION;
    uint32_t f = ldg_get32(buf + 37), n = ldg_get32(buf + 41);
    if (n == 0 || n > LEDGER_MEMBERS_MAX)
        return LEDGER_E_DECODE;
    if (buf[4] == 1) {
        if (len != MEMB_HDR + 32 * (size_t)n)
            return LEDGER_E_DECODE;
        int rc = ledger_membership_create(out, buf + 5, buf + MEMB_HDR, n, f);
        return rc == LEDGER_E_INVALID ? LEDGER_E_DECODE : rc;
    }
    /* version 2: keys first into one array, then create (distinct keys checked) */
    uint8_t *keys = malloc(32 * (size_t)n);
    ledger_membership *m = NULL;
    if (!keys)
        return LEDGER_E_NOMEM;
    ldg_rd r = {buf + MEMB_HDR, len - MEMB_HDR};
    int rc = LEDGER_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        const uint8_t *e, *a;
        if (ldg_take(&r, SLOT_FIXED, &e) || e[32] > 1 || ldg_take(&r, e[33], &a) ||
            !addr_ok(a, e[33]))
            rc = LEDGER_E_DECODE;
        else
            memcpy(keys + 32 * i, e, 32);
    }
    if (!rc && r.left)
        rc = LEDGER_E_DECODE;
    if (!rc) {
        /* f is checked against the members below, not the slots */
        rc = ledger_membership_create(&m, buf + 5, keys, n, 0);
        rc = rc == LEDGER_E_INVALID ? LEDGER_E_DECODE : rc;
    }
    free(keys);
    if (!rc)
        rc = v2_alloc(m);
    if (!rc) {
        m->f = f;
        m->nactive = 0;
        const uint8_t *p = buf + MEMB_HDR;
        for (size_t i = 0; i < n; i++) {
            m->active[i] = p[32];
            m->nactive += p[32];
            memcpy(m->addrs[i], p + 34, p[33]);
            p += SLOT_FIXED + p[33];
        }
        rc = v2_check(m);
    }
    if (rc) {
        ledger_membership_free(m);
        return rc;
    }
    *out = m;
    return LEDGER_OK;
}

int ldg_membership_hash(const ledger_membership *m, uint8_t out[32]) {
    uint8_t *enc;
    size_t len;
    int rc = ledger_membership_encode(m, &enc, &len);
    if (rc)
        return rc;
    crypto_hash_sha256(out, enc, len);
    free(enc);
    return LEDGER_OK;
}

int ldg_membership_change(const ledger_membership *m, int kind, const uint8_t key[32],
                          const char *addr, ledger_membership **out) {
    *out = NULL;
    int at = -1;
    for (size_t i = 0; i < m->n; i++)
        if (memcmp(m->keys + 32 * i, key, 32) == 0)
            at = (int)i;
    size_t n = m->n;
    if (kind == LEDGER_MEMBER_ADD_REPLICA) {
        /* a key is used once: a removed replica's key does not come back */
        if (at >= 0 || !addr || !addr_ok((const uint8_t *)addr, strlen(addr)) || n >= 64)
            return LEDGER_E_INVALID;
        n++;
    } else if (kind == LEDGER_MEMBER_REMOVE_REPLICA) {
        if (at < 0 || !ledger_membership_active(m, (size_t)at) || m->nactive <= 4)
            return LEDGER_E_INVALID;
    } else {
        return LEDGER_E_INVALID;
    }
    ledger_membership *d = calloc(1, sizeof *d);
    if (!d)
        return LEDGER_E_NOMEM;
    d->n = n;
    memcpy(d->chain_id, m->chain_id, 32);
    d->keys = malloc(32 * n);
    if (!d->keys || v2_alloc(d)) {
        ledger_membership_free(d);
        return LEDGER_E_NOMEM;
    }
    memcpy(d->keys, m->keys, 32 * m->n);
    for (size_t i = 0; i < m->n; i++) {
        d->active[i] = (uint8_t)ledger_membership_active(m, i);
        if (m->addrs)
            memcpy(d->addrs[i], m->addrs[i], sizeof d->addrs[i]);
        else
            strcpy(d->addrs[i], "-"); /* configured, address not recorded */
    }
    if (kind == LEDGER_MEMBER_ADD_REPLICA) {
        memcpy(d->keys + 32 * m->n, key, 32);
        d->active[m->n] = 1;
        snprintf(d->addrs[m->n], sizeof d->addrs[m->n], "%s", addr);
    } else {
        d->active[at] = 0;
    }
    d->nactive = 0;
    for (size_t i = 0; i < n; i++)
        d->nactive += d->active[i];
    d->f = (uint32_t)((d->nactive - 1) / 3);
    *out = d;
    return LEDGER_OK;
}

int ledger_membership_equal(const ledger_membership *a, const ledger_membership *b) {
    if (!a || !b)
        return 0;
    uint8_t *ea = NULL, *eb = NULL;
    size_t la = 0, lb = 0;
    int same = ledger_membership_encode(a, &ea, &la) == LEDGER_OK &&
               ledger_membership_encode(b, &eb, &lb) == LEDGER_OK && la == lb &&
               memcmp(ea, eb, la) == 0;
    free(ea);
    free(eb);
    return same;
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
        if (!ledger_membership_active(m, c->replicas[i]))
            return LEDGER_E_CERTIFICATE; /* unknown, or removed from the membership */
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
