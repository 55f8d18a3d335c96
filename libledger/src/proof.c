/* libledger: inclusion proofs (docs/formats/ledger.md §Proof). */
#include "internal.h"

#include <sodium.h>

#define PROOF_FIXED 14 /* magic 4, version 1, index 4, count 4, path length 1 */

void ledger_proof_free(ledger_proof *p) {
    if (!p)
        return;
    free(p->path);
    ledger_cert_free(p->cert);
    free(p);
}

/* Decode the header at hdr (len bytes available); *used gets its size. */
static int proof_set_header(ledger_proof *p, const uint8_t *hdr, size_t len, size_t *used) {
    ldg_header h;
    int rc = ldg_header_decode(hdr, len, &h, used);
    if (rc)
        return rc;
    if (h.ntx != p->count)
        return LEDGER_E_DECODE;
    p->height = h.height;
    p->timestamp = h.ts;
    memcpy(p->tx_root, h.tx_root, 32);
    memcpy(p->state_root, h.state_root, 32);
    p->header_len = *used;
    memcpy(p->header, hdr, *used);
    crypto_hash_sha256(p->header_hash, hdr, *used);
    return LEDGER_OK;
}

int ledger_proof_from_block(ledger_proof **out, const ledger_block *b, size_t index) {
    if (!out)
        return LEDGER_E_INVALID;
    *out = NULL;
    if (!b || !b->cert || index >= b->ntx)
        return LEDGER_E_INVALID;
    ledger_proof *p = calloc(1, sizeof *p);
    if (!p)
        return LEDGER_E_NOMEM;
    /* The block keeps its whole tree: a path costs O(log n), not O(n). */
    int rc = ldg_merkle_tree_path(b->tree, b->ntx, index, &p->path, &p->path_len);
    if (!rc)
        rc = ledger_cert_clone(&p->cert, b->cert);
    if (rc) {
        ledger_proof_free(p);
        return rc;
    }
    p->index = (uint32_t)index;
    p->count = (uint32_t)b->ntx;
    uint8_t hdr[LEDGER_HEADER_BYTES];
    size_t hlen = ldg_block_header_encode(b, hdr), used;
    rc = proof_set_header(p, hdr, hlen, &used);
    if (rc) {
        ledger_proof_free(p);
        return LEDGER_E_INTERNAL;
    }
    *out = p;
    return LEDGER_OK;
}

int ledger_proof_verify(const ledger_proof *p, const ledger_membership *m,
                        const uint8_t tx_hash[32]) {
    if (!p || !m || !tx_hash)
        return LEDGER_E_INVALID;
    int rc = ldg_merkle_verify(tx_hash, p->index, p->count, p->path, p->path_len, p->tx_root);
    if (rc)
        return rc;
    return ledger_cert_verify(p->cert, m, p->height, p->header_hash);
}

uint64_t ledger_proof_height(const ledger_proof *p) {
    return p ? p->height : 0;
}
uint32_t ledger_proof_index(const ledger_proof *p) {
    return p ? p->index : 0;
}
uint64_t ledger_proof_timestamp(const ledger_proof *p) {
    return p ? p->timestamp : 0;
}
const uint8_t *ledger_proof_header_hash(const ledger_proof *p) {
    return p ? p->header_hash : NULL;
}
const uint8_t *ledger_proof_state_root(const ledger_proof *p) {
    return p ? p->state_root : NULL;
}

int ledger_proof_encode(const ledger_proof *p, uint8_t **out, size_t *len) {
    if (!out || !len)
        return LEDGER_E_INVALID;
    *out = NULL;
    *len = 0;
    if (!p)
        return LEDGER_E_INVALID;
    size_t sz = PROOF_FIXED + 32 * p->path_len + p->header_len + ldg_cert_size(p->cert);
    uint8_t *b = malloc(sz);
    if (!b)
        return LEDGER_E_NOMEM;
    memcpy(b, LDG_PROOF_MAGIC, 4);
    b[4] = LEDGER_PROOF_FORMAT_VERSION;
    ldg_put32(b + 5, p->index);
    ldg_put32(b + 9, p->count);
    b[13] = (uint8_t)p->path_len;
    uint8_t *q = b + PROOF_FIXED;
    if (p->path_len)
        memcpy(q, p->path, 32 * p->path_len);
    q += 32 * p->path_len;
    memcpy(q, p->header, p->header_len);
    q += p->header_len;
    ldg_cert_write(p->cert, q);
    *out = b;
    *len = sz;
    return LEDGER_OK;
}

int ledger_proof_decode(ledger_proof **out, const uint8_t *buf, size_t len) {
    if (!out)
        return LEDGER_E_INVALID;
    *out = NULL;
    if (!buf && len)
        return LEDGER_E_INVALID;
    ldg_rd r = {buf, len};
    const uint8_t *h, *path;
    if (ldg_take(&r, PROOF_FIXED, &h) || memcmp(h, LDG_PROOF_MAGIC, 4) != 0)
        return LEDGER_E_DECODE;
    if (h[4] != LEDGER_PROOF_FORMAT_VERSION)
        return LEDGER_E_VERSION;
    uint32_t index = ldg_get32(h + 5), count = ldg_get32(h + 9);
    size_t plen = h[13];
    if (count == 0 || count > LEDGER_BLOCK_TXS_MAX || index >= count ||
        plen != ldg_merkle_path_len(index, count))
        return LEDGER_E_DECODE;
    if (ldg_take(&r, 32 * plen, &path))
        return LEDGER_E_DECODE;
    ledger_proof *p = calloc(1, sizeof *p);
    if (!p)
        return LEDGER_E_NOMEM;
    p->index = index;
    p->count = count;
    p->path_len = plen;
    p->path = malloc(plen ? 32 * plen : 1);
    if (!p->path) {
        ledger_proof_free(p);
        return LEDGER_E_NOMEM;
    }
    if (plen)
        memcpy(p->path, path, 32 * plen);
    size_t used = 0;
    int rc = proof_set_header(p, r.p, r.left, &used);
    if (!rc) {
        r.p += used;
        r.left -= used;
        rc = ldg_cert_read(&r, &p->cert);
    }
    if (!rc && r.left)
        rc = LEDGER_E_DECODE;
    if (rc) {
        ledger_proof_free(p);
        return rc;
    }
    *out = p;
    return LEDGER_OK;
}
