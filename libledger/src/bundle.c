/* libledger: proof bundles (ledger/bundle.h, docs/formats/ledger-bundle.md). */
#include "internal.h"
#include "ledger/bundle.h"

#include <sodium.h>

#define LDG_BUNDLE_MAGIC "LDBU"
/* Largest proof and transaction a bundle carries: a proof is a path of at most
 * 17 hashes, a header, and a certificate of at most 1,024 entries. */
#define PROOF_BYTES_MAX (14 + 32 * 17 + LEDGER_HEADER_BYTES + 15 + 66 * 1024)
#define TX_BYTES_MAX    (LEDGER_TX_OVERHEAD_V2 + LEDGER_TX_PAYLOAD_MAX)

static int membership_hash(const ledger_membership *m, uint8_t out[32]) {
    uint8_t *enc;
    size_t len;
    int rc = ledger_membership_encode(m, &enc, &len);
    if (rc)
        return rc;
    crypto_hash_sha256(out, enc, len);
    ledger_free(enc);
    return LEDGER_OK;
}

int ledger_bundle_create(const ledger_membership *genesis, const ledger_tx *tx,
                         const ledger_proof *proof, uint8_t **out, size_t *len) {
    if (!out || !len)
        return LEDGER_E_INVALID;
    *out = NULL;
    *len = 0;
    if (!genesis || !tx || !proof)
        return LEDGER_E_INVALID;
    uint8_t gh[32], *penc = NULL;
    size_t plen = 0, tlen = 0;
    int rc = membership_hash(genesis, gh);
    /* a block certified by a membership other than the genesis one would need
     * the chain of membership changes, which bundles do not carry yet */
    if (!rc && proof->header_len == LEDGER_HEADER_V2_BYTES &&
        sodium_memcmp(proof->header + 135, gh, 32) != 0)
        rc = LEDGER_E_MEMBERSHIP;
    if (!rc)
        rc = ledger_proof_encode(proof, &penc, &plen);
    if (rc)
        return rc;
    const uint8_t *tenc = ledger_tx_encoding(tx, &tlen);
    size_t n = 4 + 1 + 1 + 32 + 2 + 4 + tlen + 4 + plen;
    uint8_t *b = malloc(n);
    if (!b) {
        ledger_free(penc);
        return LEDGER_E_NOMEM;
    }
    uint8_t *p = b;
    memcpy(p, LDG_BUNDLE_MAGIC, 4);
    p[4] = LEDGER_BUNDLE_FORMAT_VERSION;
    p[5] = LEDGER_BUNDLE_KIND_TX;
    memcpy(p + 6, gh, 32);
    ldg_put16(p + 38, 0); /* membership changes: none (static membership) */
    p += 40;
    ldg_put32(p, (uint32_t)tlen);
    memcpy(p + 4, tenc, tlen);
    p += 4 + tlen;
    ldg_put32(p, (uint32_t)plen);
    memcpy(p + 4, penc, plen);
    ledger_free(penc);
    *out = b;
    *len = n;
    return LEDGER_OK;
}

/* A decoded bundle: pointers into the caller's buffer. */
typedef struct bundle {
    uint8_t kind;
    const uint8_t *genesis_hash;
    size_t nchanges;
    const uint8_t *tx, *proof;
    size_t tx_len, proof_len;
} bundle;

/* Strict structural decode (no cryptography). */
static int bundle_decode(const uint8_t *buf, size_t len, bundle *b) {
    memset(b, 0, sizeof *b);
    if (len > LEDGER_BUNDLE_BYTES_MAX)
        return LEDGER_E_DECODE;
    ldg_rd r = {buf, len};
    const uint8_t *h, *l;
    if (ldg_take(&r, 40, &h) || memcmp(h, LDG_BUNDLE_MAGIC, 4) != 0)
        return LEDGER_E_DECODE;
    if (h[4] != LEDGER_BUNDLE_FORMAT_VERSION)
        return LEDGER_E_VERSION;
    if (h[5] != LEDGER_BUNDLE_KIND_TX)
        return LEDGER_E_DECODE;
    b->kind = h[5];
    b->genesis_hash = h + 6;
    b->nchanges = ldg_get16(h + 38);
    if (b->nchanges > LEDGER_BUNDLE_CHANGES_MAX)
        return LEDGER_E_DECODE;
    /* membership changes: height u64 ‖ u32 n ‖ LDMS ‖ u32 n ‖ LDCC, heights increasing */
    uint64_t last = 0;
    for (size_t i = 0; i < b->nchanges; i++) {
        const uint8_t *e, *x;
        if (ldg_take(&r, 12, &e))
            return LEDGER_E_DECODE;
        uint64_t height = ldg_get64(e);
        uint32_t ml = ldg_get32(e + 8);
        if (height <= last || ldg_take(&r, ml, &x))
            return LEDGER_E_DECODE;
        ledger_membership *m;
        int rc = ledger_membership_decode(&m, x, ml);
        if (rc)
            return rc == LEDGER_E_NOMEM ? rc : LEDGER_E_DECODE;
        ledger_membership_free(m);
        if (ldg_take(&r, 4, &e) || ldg_take(&r, ldg_get32(e), &x))
            return LEDGER_E_DECODE;
        ledger_cert *c;
        rc = ledger_cert_decode(&c, x, ldg_get32(e));
        if (rc)
            return rc == LEDGER_E_NOMEM ? rc : LEDGER_E_DECODE;
        ledger_cert_free(c);
        last = height;
    }
    if (ldg_take(&r, 4, &l))
        return LEDGER_E_DECODE;
    b->tx_len = ldg_get32(l);
    if (b->tx_len > TX_BYTES_MAX || ldg_take(&r, b->tx_len, &b->tx) || ldg_take(&r, 4, &l))
        return LEDGER_E_DECODE;
    b->proof_len = ldg_get32(l);
    if (b->proof_len > PROOF_BYTES_MAX || ldg_take(&r, b->proof_len, &b->proof) || r.left)
        return LEDGER_E_DECODE;
    return LEDGER_OK;
}

int ledger_bundle_verify(const uint8_t *buf, size_t len, const uint8_t *genesis, size_t genesis_len,
                         ledger_bundle_info *info, ledger_tx **tx_out) {
    if (tx_out)
        *tx_out = NULL;
    if ((!buf && len) || !genesis)
        return LEDGER_E_INVALID;
    if (ldg_init() < 0)
        return LEDGER_E_INTERNAL;
    bundle b;
    int rc = bundle_decode(buf, len, &b);
    if (rc)
        return rc;
    ledger_membership *g = NULL;
    ledger_tx *tx = NULL;
    ledger_proof *p = NULL;
    if (ledger_membership_decode(&g, genesis, genesis_len) != LEDGER_OK)
        return LEDGER_E_MEMBERSHIP;
    uint8_t gh[32];
    crypto_hash_sha256(gh, genesis, genesis_len);
    if (sodium_memcmp(gh, b.genesis_hash, 32) != 0)
        rc = LEDGER_E_MEMBERSHIP; /* another chain's genesis */
    else if (b.nchanges)
        rc = LEDGER_E_MEMBERSHIP; /* this release has static memberships only */
    if (!rc) {
        rc = ledger_tx_decode(&tx, b.tx, b.tx_len);
        if (rc && rc != LEDGER_E_NOMEM)
            rc = LEDGER_E_DECODE;
    }
    if (!rc) {
        rc = ledger_proof_decode(&p, b.proof, b.proof_len);
        if (rc && rc != LEDGER_E_NOMEM && rc != LEDGER_E_VERSION)
            rc = LEDGER_E_DECODE;
    }
    ldg_header h;
    size_t used;
    if (!rc)
        rc = ldg_header_decode(p->header, p->header_len, &h, &used);
    if (!rc && h.format >= 2 && sodium_memcmp(h.epoch, gh, 32) != 0)
        rc = LEDGER_E_EPOCH; /* the membership in force is the genesis one */
    if (!rc)
        rc = ledger_proof_verify(p, g, ledger_tx_hash(tx));
    if (!rc && info) {
        memset(info, 0, sizeof *info);
        info->kind = b.kind;
        info->height = h.height;
        info->index = p->index;
        info->timestamp = h.ts;
        info->header_format = h.format;
        info->app_version = h.app_version;
        memcpy(info->tx_hash, ledger_tx_hash(tx), 32);
        memcpy(info->header_hash, p->header_hash, 32);
        memcpy(info->state_root, h.state_root, 32);
        memcpy(info->chain_id, ledger_membership_chain_id(g), 32);
    }
    ledger_proof_free(p);
    ledger_membership_free(g);
    if (!rc && tx_out)
        *tx_out = tx;
    else
        ledger_tx_free(tx);
    return rc;
}
