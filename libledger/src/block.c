/* libledger: blocks (docs/formats/ledger.md §Block). */
#include "internal.h"

#include <sodium.h>

/* The header fields after magic and version; returns their length. */
static size_t header_body(const ledger_block *b, uint8_t *p) {
    ldg_put64(p, b->height);
    memcpy(p + 8, b->prev_hash, 32);
    ldg_put64(p + 40, b->timestamp);
    memcpy(p + 48, b->tx_root, 32);
    memcpy(p + 80, b->state_root, 32);
    ldg_put16(p + 112, b->proposer);
    ldg_put64(p + 114, b->view);
    ldg_put32(p + 122, (uint32_t)b->ntx);
    if (b->format == 1)
        return LEDGER_HEADER_V1_BYTES - 5;
    ldg_put32(p + 126, b->app_version);
    memcpy(p + 130, b->epoch, 32);
    if (b->format == 2)
        return LEDGER_HEADER_V2_BYTES - 5;
    memcpy(p + 162, b->state_digest, 32);
    return LEDGER_HEADER_V3_BYTES - 5;
}

size_t ldg_block_header_encode(const ledger_block *b, uint8_t out[LEDGER_HEADER_BYTES]) {
    memcpy(out, LDG_HDR_MAGIC, 4);
    out[4] = b->format;
    return 5 + header_body(b, out + 5);
}

int ldg_header_decode(const uint8_t *buf, size_t len, ldg_header *h, size_t *used) {
    if (len < 5 || memcmp(buf, LDG_HDR_MAGIC, 4) != 0)
        return LEDGER_E_DECODE;
    size_t sz = ldg_header_size(buf[4]);
    if (!sz)
        return LEDGER_E_VERSION;
    if (len < sz)
        return LEDGER_E_DECODE;
    memset(h, 0, sizeof *h);
    h->format = buf[4];
    const uint8_t *p = buf + 5;
    h->height = ldg_get64(p);
    memcpy(h->prev, p + 8, 32);
    h->ts = ldg_get64(p + 40);
    memcpy(h->tx_root, p + 48, 32);
    memcpy(h->state_root, p + 80, 32);
    h->proposer = ldg_get16(p + 112);
    h->view = ldg_get64(p + 114);
    h->ntx = ldg_get32(p + 122);
    if (h->ntx > LEDGER_BLOCK_TXS_MAX)
        return LEDGER_E_DECODE;
    if (h->format == 1) {
        h->app_version = LEDGER_APP_VERSION_GENESIS;
    } else {
        h->app_version = ldg_get32(p + 126);
        memcpy(h->epoch, p + 130, 32);
        if (h->app_version == 0)
            return LEDGER_E_DECODE;
        if (h->format >= 3)
            memcpy(h->state_digest, p + 162, 32);
    }
    *used = sz;
    return LEDGER_OK;
}

void ldg_block_rehash(ledger_block *b) {
    uint8_t h[LEDGER_HEADER_BYTES];
    size_t n = ldg_block_header_encode(b, h);
    crypto_hash_sha256(b->header_hash, h, n);
}

/* Merkle root of b's transactions; with tree != NULL also keep every level. */
static int compute_tx_root(const ledger_block *b, uint8_t root[32], uint8_t **tree) {
    if (tree)
        *tree = NULL;
    if (b->ntx == 0)
        return ledger_merkle_root(NULL, 0, root);
    uint8_t *hs = malloc(32 * b->ntx);
    if (!hs)
        return LEDGER_E_NOMEM;
    for (size_t i = 0; i < b->ntx; i++)
        memcpy(hs + 32 * i, b->txs[i]->hash, 32);
    uint8_t *t = NULL;
    int rc = ldg_merkle_tree(hs, b->ntx, &t, root);
    free(hs);
    if (tree)
        *tree = t;
    else
        free(t);
    return rc;
}

static ledger_block *block_new(uint64_t height, const uint8_t prev_hash[32], uint64_t timestamp,
                               uint16_t proposer, uint64_t view, size_t n) {
    ledger_block *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->txs = calloc(n ? n : 1, sizeof *b->txs);
    if (!b->txs) {
        free(b);
        return NULL;
    }
    b->format = LEDGER_BLOCK_FORMAT_VERSION;
    b->app_version = LEDGER_APP_VERSION_GENESIS;
    b->height = height;
    memcpy(b->prev_hash, prev_hash, 32);
    b->timestamp = timestamp;
    b->proposer = proposer;
    b->view = view;
    return b;
}

int ledger_block_create_take(ledger_block **out, uint64_t height, const uint8_t prev_hash[32],
                             uint64_t timestamp, uint16_t proposer, uint64_t view, ledger_tx **txs,
                             size_t n) {
    if (!out)
        return LEDGER_E_INVALID;
    *out = NULL;
    if (!prev_hash || (!txs && n) || n > LEDGER_BLOCK_TXS_MAX)
        return LEDGER_E_INVALID;
    for (size_t i = 0; i < n; i++)
        if (!txs[i])
            return LEDGER_E_INVALID;
    ledger_block *b = block_new(height, prev_hash, timestamp, proposer, view, n);
    if (!b)
        return LEDGER_E_NOMEM;
    for (size_t i = 0; i < n; i++)
        b->txs[i] = txs[i];
    b->ntx = n;
    int rc = compute_tx_root(b, b->tx_root, &b->tree);
    if (rc) {
        b->ntx = 0; /* caller keeps the transactions */
        ledger_block_free(b);
        return rc;
    }
    ldg_block_rehash(b);
    *out = b;
    return LEDGER_OK;
}

int ledger_block_create(ledger_block **out, uint64_t height, const uint8_t prev_hash[32],
                        uint64_t timestamp, uint16_t proposer, uint64_t view,
                        const ledger_tx *const *txs, size_t n) {
    if (!out)
        return LEDGER_E_INVALID;
    *out = NULL;
    if (!prev_hash || (!txs && n) || n > LEDGER_BLOCK_TXS_MAX)
        return LEDGER_E_INVALID;
    ledger_tx **copies = calloc(n ? n : 1, sizeof *copies);
    if (!copies)
        return LEDGER_E_NOMEM;
    int rc = LEDGER_OK;
    for (size_t i = 0; i < n && !rc; i++)
        rc = ledger_tx_clone(&copies[i], txs[i]);
    if (!rc)
        rc = ledger_block_create_take(out, height, prev_hash, timestamp, proposer, view, copies, n);
    if (rc)
        for (size_t i = 0; i < n; i++)
            ledger_tx_free(copies[i]);
    free(copies);
    return rc;
}

void ledger_block_free(ledger_block *b) {
    if (!b)
        return;
    for (size_t i = 0; i < b->ntx; i++)
        ledger_tx_free(b->txs[i]);
    free(b->txs);
    ledger_cert_free(b->cert);
    free(b->tree);
    free(b);
}

uint64_t ledger_block_height(const ledger_block *b) {
    return b ? b->height : 0;
}
const uint8_t *ledger_block_prev_hash(const ledger_block *b) {
    return b ? b->prev_hash : NULL;
}
uint64_t ledger_block_timestamp(const ledger_block *b) {
    return b ? b->timestamp : 0;
}
const uint8_t *ledger_block_tx_root(const ledger_block *b) {
    return b ? b->tx_root : NULL;
}
const uint8_t *ledger_block_state_root(const ledger_block *b) {
    return b ? b->state_root : NULL;
}
uint16_t ledger_block_proposer(const ledger_block *b) {
    return b ? b->proposer : 0;
}
uint64_t ledger_block_view(const ledger_block *b) {
    return b ? b->view : 0;
}
size_t ledger_block_tx_count(const ledger_block *b) {
    return b ? b->ntx : 0;
}
const ledger_tx *ledger_block_tx(const ledger_block *b, size_t i) {
    return b && i < b->ntx ? b->txs[i] : NULL;
}
const uint8_t *ledger_block_header_hash(const ledger_block *b) {
    return b ? b->header_hash : NULL;
}

int ledger_block_header(const ledger_block *b, uint8_t out[LEDGER_HEADER_BYTES], size_t *len) {
    if (!b || !out || !len)
        return LEDGER_E_INVALID;
    *len = ldg_block_header_encode(b, out);
    return LEDGER_OK;
}

uint32_t ledger_block_format(const ledger_block *b) {
    return b ? b->format : 0;
}
uint32_t ledger_block_app_version(const ledger_block *b) {
    return b ? b->app_version : 0;
}
const uint8_t *ledger_block_epoch(const ledger_block *b) {
    return b && b->format >= 2 ? b->epoch : NULL;
}

int ledger_block_set_context(ledger_block *b, uint32_t app_version, const uint8_t epoch[32]) {
    if (!b || !epoch || app_version == 0 || b->format < 2)
        return LEDGER_E_INVALID;
    b->app_version = app_version;
    memcpy(b->epoch, epoch, 32);
    ldg_block_rehash(b);
    ledger_cert_free(b->cert);
    b->cert = NULL;
    return LEDGER_OK;
}

const uint8_t *ledger_block_state_digest(const ledger_block *b) {
    return b && b->format >= 3 ? b->state_digest : NULL;
}

int ledger_block_set_state_digest(ledger_block *b, const uint8_t digest[32]) {
    if (!b || !digest || b->format < 3)
        return LEDGER_E_INVALID;
    memcpy(b->state_digest, digest, 32);
    ldg_block_rehash(b);
    ledger_cert_free(b->cert);
    b->cert = NULL;
    return LEDGER_OK;
}

int ledger_block_set_state_root(ledger_block *b, const uint8_t root[32]) {
    if (!b || !root)
        return LEDGER_E_INVALID;
    memcpy(b->state_root, root, 32);
    ldg_block_rehash(b);
    ledger_cert_free(b->cert);
    b->cert = NULL;
    return LEDGER_OK;
}

const ledger_cert *ledger_block_cert(const ledger_block *b) {
    return b ? b->cert : NULL;
}

int ledger_block_set_cert(ledger_block *b, const ledger_cert *c) {
    if (!b)
        return LEDGER_E_INVALID;
    ledger_cert *copy = NULL;
    if (c) {
        int rc = ledger_cert_clone(&copy, c);
        if (rc)
            return rc;
    }
    ledger_cert_free(b->cert);
    b->cert = copy;
    return LEDGER_OK;
}

int ledger_block_check(const ledger_block *b, const ledger_membership *m) {
    uint8_t root[32];
    if (!b)
        return LEDGER_E_INVALID;
    int rc = compute_tx_root(b, root, NULL);
    if (rc)
        return rc;
    if (sodium_memcmp(root, b->tx_root, 32) != 0)
        return LEDGER_E_HASH;
    if (m) {
        if (!b->cert)
            return LEDGER_E_CERTIFICATE;
        return ledger_cert_verify(b->cert, m, b->height, b->header_hash);
    }
    return LEDGER_OK;
}

int ledger_block_encode(const ledger_block *b, uint8_t **out, size_t *len) {
    if (!out || !len)
        return LEDGER_E_INVALID;
    *out = NULL;
    *len = 0;
    if (!b)
        return LEDGER_E_INVALID;
    size_t hsz = ldg_header_size(b->format);
    size_t sz = hsz + 1;
    for (size_t i = 0; i < b->ntx; i++)
        sz += 4 + b->txs[i]->enc_len;
    if (b->cert)
        sz += ldg_cert_size(b->cert);
    uint8_t *buf = malloc(sz);
    if (!buf)
        return LEDGER_E_NOMEM;
    memcpy(buf, LDG_BLOCK_MAGIC, 4);
    buf[4] = b->format;
    header_body(b, buf + 5);
    uint8_t *p = buf + hsz;
    for (size_t i = 0; i < b->ntx; i++) {
        ldg_put32(p, (uint32_t)b->txs[i]->enc_len);
        memcpy(p + 4, b->txs[i]->enc, b->txs[i]->enc_len);
        p += 4 + b->txs[i]->enc_len;
    }
    *p++ = b->cert ? 1 : 0;
    if (b->cert)
        ldg_cert_write(b->cert, p);
    *out = buf;
    *len = sz;
    return LEDGER_OK;
}

int ledger_block_decode(ledger_block **out, const uint8_t *buf, size_t len) {
    if (!out)
        return LEDGER_E_INVALID;
    *out = NULL;
    if (!buf && len)
        return LEDGER_E_INVALID;
    if (len > LEDGER_BLOCK_BYTES_MAX || len < 5)
        return LEDGER_E_DECODE;
    if (memcmp(buf, LDG_BLOCK_MAGIC, 4) != 0)
        return LEDGER_E_DECODE;
    size_t hsz = ldg_header_size(buf[4]);
    if (!hsz)
        return LEDGER_E_VERSION;
    if (len < hsz + 1)
        return LEDGER_E_DECODE;
    /* Reuse the header decoder on a copy carrying the header magic. */
    uint8_t hdr[LEDGER_HEADER_BYTES];
    memcpy(hdr, LDG_HDR_MAGIC, 4);
    memcpy(hdr + 4, buf + 4, hsz - 4);
    ldg_header h;
    size_t used;
    int rc = ldg_header_decode(hdr, hsz, &h, &used);
    if (rc)
        return rc;
    uint32_t ntx = h.ntx;
    ldg_rd r = {buf + hsz, len - hsz};
    /* Every tx takes at least 4 + LEDGER_TX_OVERHEAD bytes: bound ntx before allocating. */
    if ((uint64_t)ntx * (4 + LEDGER_TX_OVERHEAD) > r.left)
        return LEDGER_E_DECODE;
    ledger_block *b = block_new(h.height, h.prev, h.ts, h.proposer, h.view, ntx);
    if (!b)
        return LEDGER_E_NOMEM;
    b->format = h.format;
    b->app_version = h.app_version;
    memcpy(b->epoch, h.epoch, 32);
    memcpy(b->state_digest, h.state_digest, 32);
    const uint8_t *txr = h.tx_root, *str = h.state_root;
    memcpy(b->tx_root, txr, 32);
    memcpy(b->state_root, str, 32);
    for (uint32_t i = 0; i < ntx; i++) {
        const uint8_t *lp, *tp;
        if (ldg_take(&r, 4, &lp)) {
            rc = LEDGER_E_DECODE;
            goto fail;
        }
        uint32_t tl = ldg_get32(lp);
        if (ldg_take(&r, tl, &tp)) {
            rc = LEDGER_E_DECODE;
            goto fail;
        }
        rc = ledger_tx_decode(&b->txs[i], tp, tl);
        if (rc)
            goto fail;
        b->ntx = i + 1;
    }
    const uint8_t *flag;
    if (ldg_take(&r, 1, &flag) || *flag > 1) {
        rc = LEDGER_E_DECODE;
        goto fail;
    }
    if (*flag == 1) {
        rc = ldg_cert_read(&r, &b->cert);
        if (rc)
            goto fail;
    }
    if (r.left) {
        rc = LEDGER_E_DECODE;
        goto fail;
    }
    uint8_t root[32];
    rc = compute_tx_root(b, root, &b->tree);
    if (rc)
        goto fail;
    if (sodium_memcmp(root, b->tx_root, 32) != 0) {
        rc = LEDGER_E_HASH;
        goto fail;
    }
    ldg_block_rehash(b);
    *out = b;
    return LEDGER_OK;
fail:
    ledger_block_free(b);
    return rc;
}
