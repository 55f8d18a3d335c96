/* libledger: proof bundles (ledger/bundle.h, docs/formats/ledger-bundle.md). */
#include "store_internal.h"
#include "ledger/bundle.h"
#include "ledger/reconfig.h"

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

/* ---- membership changes (format version 2) ------------------------------
 * One change: the header (format 2) of the block h that decided it ‖ u32 n ‖
 * its commit certificate (LDCC) ‖ the state root before h (32) ‖ h's results
 * hash (32) ‖ u32 n ‖ h's net writes as hashed into its state root. The
 * writes hold the record 0xFF "LDG/mship/" ‖ (h + 2) whose value is the new
 * membership (docs/formats/ledger-bundle.md). */

#define MSHIP_KEY     LDG_SYS_PREFIX "mship/"
#define MSHIP_KEY_LEN (sizeof MSHIP_KEY - 1)

typedef struct change {
    const uint8_t *header, *cert, *prev_root, *results, *writes;
    size_t header_len, cert_len, writes_len;
    const uint8_t *mship; /* value of the membership record (in writes) */
    size_t mship_len;
    ldg_header h;
} change;

/* Strictly parse a block's net writes: canonical order (namespace, then key
 * bytewise, a prefix first; no key twice); find the membership record of
 * height `eff`. */
static int writes_parse(const uint8_t *w, size_t n, uint64_t eff, change *c) {
    ldg_rd r = {w, n};
    const uint8_t *pk = NULL;
    size_t pkl = 0;
    int pns = -1;
    uint8_t want[MSHIP_KEY_LEN + 8];
    memcpy(want, MSHIP_KEY, MSHIP_KEY_LEN);
    ldg_put64(want + MSHIP_KEY_LEN, eff);
    c->mship = NULL;
    while (r.left) {
        const uint8_t *hd, *k, *vl, *v = NULL;
        if (ldg_take(&r, 6, &hd) || hd[0] > 1 || hd[1] > 1)
            return LEDGER_E_DECODE;
        size_t kl = ldg_get32(hd + 2), vn = 0;
        if (ldg_take(&r, kl, &k))
            return LEDGER_E_DECODE;
        if (hd[1]) {
            if (ldg_take(&r, 4, &vl) || ldg_take(&r, ldg_get32(vl), &v))
                return LEDGER_E_DECODE;
            vn = ldg_get32(vl);
        }
        if (pns == hd[0]) { /* strictly increasing keys */
            size_t m = pkl < kl ? pkl : kl;
            int cmp = memcmp(pk, k, m);
            if (cmp > 0 || (cmp == 0 && pkl >= kl))
                return LEDGER_E_DECODE;
        } else if (pns > hd[0]) {
            return LEDGER_E_DECODE;
        }
        pns = hd[0];
        pk = k;
        pkl = kl;
        if (hd[0] == 0 && hd[1] == 1 && kl == sizeof want && memcmp(k, want, sizeof want) == 0) {
            c->mship = v;
            c->mship_len = vn;
        }
    }
    return LEDGER_OK;
}

/* Structural decode of one change (no cryptography). */
static int change_read(ldg_rd *r, change *c) {
    memset(c, 0, sizeof *c);
    const uint8_t *l;
    size_t used;
    /* a header of format 2 or 3, its size told by its version byte */
    if (r->left < 5 || (r->p[4] != 2 && r->p[4] != 3))
        return LEDGER_E_DECODE;
    c->header_len = ldg_header_size(r->p[4]);
    if (ldg_take(r, c->header_len, &c->header) ||
        ldg_header_decode(c->header, c->header_len, &c->h, &used) != LEDGER_OK ||
        used != c->header_len || c->h.height > UINT64_MAX - 2)
        return LEDGER_E_DECODE;
    if (ldg_take(r, 4, &l))
        return LEDGER_E_DECODE;
    c->cert_len = ldg_get32(l);
    if (ldg_take(r, c->cert_len, &c->cert) || ldg_take(r, 32, &c->prev_root) ||
        ldg_take(r, 32, &c->results) || ldg_take(r, 4, &l))
        return LEDGER_E_DECODE;
    c->writes_len = ldg_get32(l);
    if (ldg_take(r, c->writes_len, &c->writes))
        return LEDGER_E_DECODE;
    ledger_cert *ct;
    int rc = ledger_cert_decode(&ct, c->cert, c->cert_len);
    if (rc)
        return rc == LEDGER_E_NOMEM ? rc : LEDGER_E_DECODE;
    ledger_cert_free(ct);
    rc = writes_parse(c->writes, c->writes_len, c->h.height + 2, c);
    if (rc)
        return rc;
    if (!c->mship)
        return LEDGER_E_DECODE; /* not a block that decided a change */
    ledger_membership *m;
    rc = ledger_membership_decode(&m, c->mship, c->mship_len);
    if (rc)
        return rc == LEDGER_E_NOMEM ? rc : LEDGER_E_DECODE;
    ledger_membership_free(m);
    return LEDGER_OK;
}

/* Verify change c under *cur (in force since *eff): the header names *cur, its
 * certificate verifies under it, the state root covers the writes, which hold
 * the next membership. On success *cur becomes it (the old one freed) and *eff
 * its first height. */
static int change_apply(const change *c, ledger_membership **cur, uint64_t *eff) {
    uint8_t mh[32], hh[32], wh[32], root[32], buf[LDG_TAG_LEN + 32 + 8 + 32 + 32];
    int rc = membership_hash(*cur, mh);
    if (rc)
        return rc;
    if (c->h.height < *eff)
        return LEDGER_E_MEMBERSHIP; /* decided before the previous change took force */
    if (sodium_memcmp(c->h.epoch, mh, 32) != 0)
        return LEDGER_E_EPOCH;
    crypto_hash_sha256(hh, c->header, c->header_len);
    ledger_cert *ct;
    if ((rc = ledger_cert_decode(&ct, c->cert, c->cert_len)) != 0)
        return rc == LEDGER_E_NOMEM ? rc : LEDGER_E_DECODE;
    rc = ledger_cert_verify(ct, *cur, c->h.height, hh);
    ledger_cert_free(ct);
    if (rc)
        return rc == LEDGER_E_NOMEM ? rc : LEDGER_E_CERTIFICATE;
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)LDG_TAG_WRITES, LDG_TAG_LEN);
    crypto_hash_sha256_update(&st, c->writes, c->writes_len);
    crypto_hash_sha256_final(&st, wh);
    memcpy(buf, LDG_TAG_STATE, LDG_TAG_LEN);
    memcpy(buf + 16, c->prev_root, 32);
    ldg_put64(buf + 48, c->h.height);
    memcpy(buf + 56, wh, 32);
    memcpy(buf + 88, c->results, 32);
    crypto_hash_sha256(root, buf, sizeof buf);
    if (sodium_memcmp(root, c->h.state_root, 32) != 0)
        return LEDGER_E_STATE_ROOT;
    ledger_membership *nm;
    rc = ledger_membership_decode(&nm, c->mship, c->mship_len);
    if (rc)
        return rc == LEDGER_E_NOMEM ? rc : LEDGER_E_DECODE;
    if (memcmp(ledger_membership_chain_id(nm), ledger_membership_chain_id(*cur), 32) != 0) {
        ledger_membership_free(nm);
        return LEDGER_E_MEMBERSHIP;
    }
    ledger_membership_free(*cur);
    *cur = nm;
    *eff = c->h.height + 2;
    return LEDGER_OK;
}

static int clone_membership(const ledger_membership *m, ledger_membership **out) {
    uint8_t *enc;
    size_t len;
    int rc = ledger_membership_encode(m, &enc, &len);
    if (rc)
        return rc;
    rc = ledger_membership_decode(out, enc, len);
    ledger_free(enc);
    return rc;
}

/* Read m changes from r (structure), then apply them in order from *cur. */
static int changes_run(ldg_rd *r, size_t m, ledger_membership **cur, uint64_t *eff) {
    for (size_t i = 0; i < m; i++) {
        change c;
        int rc = change_read(r, &c);
        if (!rc)
            rc = change_apply(&c, cur, eff);
        if (rc)
            return rc;
    }
    return LEDGER_OK;
}

int ledger_changes_verify(const ledger_membership *from, const uint8_t *buf, size_t len,
                          ledger_membership **out, uint64_t *effective) {
    if (out)
        *out = NULL;
    if (effective)
        *effective = 0;
    if (!from || !out || (!buf && len))
        return LEDGER_E_INVALID;
    if (ldg_init() < 0)
        return LEDGER_E_INTERNAL;
    if (len > LEDGER_CHANGES_BYTES_MAX)
        return LEDGER_E_DECODE;
    ldg_rd r = {buf, len};
    const uint8_t *h;
    if (ldg_take(&r, 2, &h) || ldg_get16(h) > LEDGER_BUNDLE_CHANGES_MAX)
        return LEDGER_E_DECODE;
    ledger_membership *cur;
    int rc = clone_membership(from, &cur);
    if (rc)
        return rc;
    uint64_t eff = 0;
    rc = changes_run(&r, ldg_get16(h), &cur, &eff);
    if (!rc && r.left)
        rc = LEDGER_E_DECODE;
    if (rc) {
        ledger_membership_free(cur);
        return rc;
    }
    *out = cur;
    if (effective)
        *effective = eff;
    return LEDGER_OK;
}

/* The changes taking force in (after, upto], as u16 m ‖ entries. */
static int store_changes(ledger_store *s, uint64_t after, uint64_t upto, uint8_t **out,
                         size_t *len) {
    MDB_txn *txn;
    int mrc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (mrc)
        return ldg_mdb_err(mrc);
    MDB_cursor *cur;
    mrc = mdb_cursor_open(txn, s->state, &cur);
    if (mrc) {
        mdb_txn_abort(txn);
        return ldg_mdb_err(mrc);
    }
    uint8_t key[MSHIP_KEY_LEN + 8];
    memcpy(key, MSHIP_KEY, MSHIP_KEY_LEN);
    ldg_put64(key + MSHIP_KEY_LEN, after + 1);
    MDB_val k = ldg_val(key, sizeof key), v;
    size_t cap = 2, n = 2, m = 0;
    uint8_t *b = malloc(cap);
    int rc = b ? LEDGER_OK : LEDGER_E_NOMEM;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); !rc && mrc == MDB_SUCCESS;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != sizeof key || memcmp(k.mv_data, MSHIP_KEY, MSHIP_KEY_LEN) != 0)
            break;
        uint64_t e = ldg_get64((const uint8_t *)k.mv_data + MSHIP_KEY_LEN);
        if (e > upto)
            break;
        if (e < 3 || m == LEDGER_BUNDLE_CHANGES_MAX) {
            rc = e < 3 ? LEDGER_E_CORRUPT : LEDGER_E_FULL;
            break;
        }
        uint8_t hdr[LEDGER_HEADER_BYTES], *wit = NULL;
        size_t hl = 0, wl = 0;
        ledger_block *blk = NULL;
        rc = ldg_store_witness(s, txn, e - 2, &wit, &wl);
        if (rc == LEDGER_E_NOT_FOUND)
            rc = LEDGER_E_MEMBERSHIP; /* this store did not execute that block */
        if (!rc)
            rc = ledger_store_block(s, e - 2, &blk);
        if (!rc && !blk->cert)
            rc = LEDGER_E_CORRUPT;
        if (!rc) {
            hl = ldg_block_header_encode(blk, hdr);
            if (hl < LEDGER_HEADER_V2_BYTES)
                rc = LEDGER_E_CORRUPT;
        }
        size_t cl = rc ? 0 : ldg_cert_size(blk->cert), need = hl + 4 + cl + wl;
        if (!rc && (n + need > LEDGER_CHANGES_BYTES_MAX || wl < 68))
            rc = wl < 68 ? LEDGER_E_CORRUPT : LEDGER_E_FULL;
        if (!rc && n + need > cap) {
            size_t nc = 2 * (n + need);
            uint8_t *nb = realloc(b, nc);
            if (!nb)
                rc = LEDGER_E_NOMEM;
            else {
                b = nb;
                cap = nc;
            }
        }
        if (!rc) {
            memcpy(b + n, hdr, hl);
            ldg_put32(b + n + hl, (uint32_t)cl);
            ldg_cert_write(blk->cert, b + n + hl + 4);
            memcpy(b + n + hl + 4 + cl, wit, wl);
            n += need;
            m++;
        }
        free(wit);
        ledger_block_free(blk);
    }
    if (!rc && mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
        rc = ldg_mdb_err(mrc);
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    if (rc) {
        free(b);
        return rc;
    }
    ldg_put16(b, (uint16_t)m);
    *out = b;
    *len = n;
    return LEDGER_OK;
}

int ledger_store_changes(ledger_store *s, uint64_t after, uint64_t upto, uint8_t **out,
                         size_t *len) {
    if (!out || !len)
        return LEDGER_E_INVALID;
    *out = NULL;
    *len = 0;
    if (!s || upto < after)
        return LEDGER_E_INVALID;
    return store_changes(s, after, upto, out, len);
}

int ledger_bundle_create_changes(const ledger_membership *genesis, const uint8_t *changes,
                                 size_t changes_len, const ledger_tx *tx, const ledger_proof *proof,
                                 uint8_t **out, size_t *len) {
    if (!out || !len)
        return LEDGER_E_INVALID;
    *out = NULL;
    *len = 0;
    if (!genesis || !tx || !proof || (!changes && changes_len))
        return LEDGER_E_INVALID;
    size_t m = 0;
    if (changes) { /* the list must decode: u16 m ‖ m changes, nothing after */
        ldg_rd r = {changes, changes_len};
        const uint8_t *h;
        if (changes_len > LEDGER_CHANGES_BYTES_MAX || ldg_take(&r, 2, &h) ||
            ldg_get16(h) > LEDGER_BUNDLE_CHANGES_MAX)
            return LEDGER_E_INVALID;
        m = ldg_get16(h);
        for (size_t i = 0; i < m; i++) {
            change c;
            int rc = change_read(&r, &c);
            if (rc)
                return rc == LEDGER_E_NOMEM ? rc : LEDGER_E_INVALID;
        }
        if (r.left)
            return LEDGER_E_INVALID;
    }
    uint8_t gh[32], *penc = NULL;
    size_t plen = 0, tlen = 0;
    int rc = membership_hash(genesis, gh);
    /* with no change, the block must be certified by the genesis membership */
    if (!rc && m == 0 && proof->header_len >= LEDGER_HEADER_V2_BYTES &&
        sodium_memcmp(proof->header + 135, gh, 32) != 0)
        rc = LEDGER_E_MEMBERSHIP;
    if (!rc && m > 0 && proof->header_len < LEDGER_HEADER_V2_BYTES)
        rc = LEDGER_E_INVALID;
    if (!rc)
        rc = ledger_proof_encode(proof, &penc, &plen);
    if (rc)
        return rc;
    const uint8_t *tenc = ledger_tx_encoding(tx, &tlen);
    size_t clen = m ? changes_len : 2;
    size_t n = 4 + 1 + 1 + 32 + clen + 4 + tlen + 4 + plen;
    uint8_t *b = n <= LEDGER_BUNDLE_BYTES_MAX ? malloc(n) : NULL;
    if (!b) {
        ledger_free(penc);
        return n <= LEDGER_BUNDLE_BYTES_MAX ? LEDGER_E_NOMEM : LEDGER_E_FULL;
    }
    uint8_t *p = b;
    memcpy(p, LDG_BUNDLE_MAGIC, 4);
    /* canonical: version 1 when no membership changed, else version 2 */
    p[4] = m ? LEDGER_BUNDLE_FORMAT_VERSION : 1;
    p[5] = LEDGER_BUNDLE_KIND_TX;
    memcpy(p + 6, gh, 32);
    if (m)
        memcpy(p + 38, changes, changes_len);
    else
        ldg_put16(p + 38, 0);
    p += 38 + clen;
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

int ledger_bundle_create(const ledger_membership *genesis, const ledger_tx *tx,
                         const ledger_proof *proof, uint8_t **out, size_t *len) {
    return ledger_bundle_create_changes(genesis, NULL, 0, tx, proof, out, len);
}

/* A decoded bundle: pointers into the caller's buffer. */
typedef struct bundle {
    uint8_t version, kind;
    const uint8_t *genesis_hash;
    size_t nchanges;
    const uint8_t *changes; /* version 2: the first change */
    size_t changes_len;
    const uint8_t *tx, *proof;
    size_t tx_len, proof_len;
} bundle;

/* Version 1 change entries (never exported; m > 0 is refused at verify):
 * height u64 ‖ u32 n ‖ LDMS ‖ u32 n ‖ LDCC, heights increasing. */
static int v1_changes(ldg_rd *r, size_t m) {
    uint64_t last = 0;
    for (size_t i = 0; i < m; i++) {
        const uint8_t *e, *x;
        if (ldg_take(r, 12, &e))
            return LEDGER_E_DECODE;
        uint64_t height = ldg_get64(e);
        uint32_t ml = ldg_get32(e + 8);
        if (height <= last || ldg_take(r, ml, &x))
            return LEDGER_E_DECODE;
        ledger_membership *mm;
        int rc = ledger_membership_decode(&mm, x, ml);
        if (rc)
            return rc == LEDGER_E_NOMEM ? rc : LEDGER_E_DECODE;
        ledger_membership_free(mm);
        if (ldg_take(r, 4, &e) || ldg_take(r, ldg_get32(e), &x))
            return LEDGER_E_DECODE;
        ledger_cert *c;
        rc = ledger_cert_decode(&c, x, ldg_get32(e));
        if (rc)
            return rc == LEDGER_E_NOMEM ? rc : LEDGER_E_DECODE;
        ledger_cert_free(c);
        last = height;
    }
    return LEDGER_OK;
}

/* Strict structural decode (no cryptography). */
static int bundle_decode(const uint8_t *buf, size_t len, bundle *b) {
    memset(b, 0, sizeof *b);
    if (len > LEDGER_BUNDLE_BYTES_MAX)
        return LEDGER_E_DECODE;
    ldg_rd r = {buf, len};
    const uint8_t *h, *l;
    if (ldg_take(&r, 40, &h) || memcmp(h, LDG_BUNDLE_MAGIC, 4) != 0)
        return LEDGER_E_DECODE;
    if (h[4] != 1 && h[4] != 2)
        return LEDGER_E_VERSION;
    if (h[5] != LEDGER_BUNDLE_KIND_TX)
        return LEDGER_E_DECODE;
    b->version = h[4];
    b->kind = h[5];
    b->genesis_hash = h + 6;
    b->nchanges = ldg_get16(h + 38);
    if (b->nchanges > LEDGER_BUNDLE_CHANGES_MAX || (b->version == 2 && b->nchanges == 0))
        return LEDGER_E_DECODE; /* version 2 carries at least one change */
    b->changes = r.p;
    int rc;
    if (b->version == 1) {
        rc = v1_changes(&r, b->nchanges);
    } else {
        rc = LEDGER_OK;
        for (size_t i = 0; i < b->nchanges && !rc; i++) {
            change c;
            rc = change_read(&r, &c);
        }
    }
    if (rc)
        return rc;
    b->changes_len = (size_t)(r.p - b->changes);
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
    ledger_membership *g = NULL, *cur = NULL;
    ledger_tx *tx = NULL;
    ledger_proof *p = NULL;
    if (ledger_membership_decode(&g, genesis, genesis_len) != LEDGER_OK)
        return LEDGER_E_MEMBERSHIP;
    uint8_t gh[32], ch[32];
    uint64_t eff = 0;
    crypto_hash_sha256(gh, genesis, genesis_len);
    if (sodium_memcmp(gh, b.genesis_hash, 32) != 0)
        rc = LEDGER_E_MEMBERSHIP; /* another chain's genesis */
    else if (b.version == 1 && b.nchanges)
        rc = LEDGER_E_MEMBERSHIP; /* version 1 never defined what a change proves */
    if (!rc)
        rc = clone_membership(g, &cur);
    if (!rc && b.version == 2) { /* from the genesis membership, change by change */
        ldg_rd r = {b.changes, b.changes_len};
        rc = changes_run(&r, b.nchanges, &cur, &eff);
    }
    if (!rc)
        rc = membership_hash(cur, ch);
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
    /* the block is at or above the last change's height, and names the
     * membership then in force (a format 1 header predates every change) */
    if (!rc && (h.height < eff || (b.nchanges && h.format < 2)))
        rc = LEDGER_E_MEMBERSHIP;
    if (!rc && h.format >= 2 && sodium_memcmp(h.epoch, ch, 32) != 0)
        rc = LEDGER_E_EPOCH;
    if (!rc)
        rc = ledger_proof_verify(p, cur, ledger_tx_hash(tx));
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
    ledger_membership_free(cur);
    ledger_membership_free(g);
    if (!rc && tx_out)
        *tx_out = tx;
    else
        ledger_tx_free(tx);
    return rc;
}

/* ---- export ---------------------------------------------------------------- */

int ledger_store_bundle(ledger_store *s, const uint8_t tx_hash[32], uint8_t **out, size_t *len) {
    if (!out || !len)
        return LEDGER_E_INVALID;
    *out = NULL;
    *len = 0;
    if (!s || !tx_hash)
        return LEDGER_E_INVALID;
    ledger_tx *tx = NULL;
    ledger_proof *p = NULL;
    uint8_t *ch = NULL;
    size_t chl = 0;
    int rc = ledger_store_tx(s, tx_hash, &tx, NULL, NULL, NULL);
    if (!rc)
        rc = ledger_store_proof(s, tx_hash, &p);
    if (!rc)
        rc = store_changes(s, 0, ledger_proof_height(p), &ch, &chl);
    if (!rc)
        rc = ledger_bundle_create_changes(s->genesis, ch, chl, tx, p, out, len);
    free(ch);
    ledger_proof_free(p);
    ledger_tx_free(tx);
    return rc;
}

/* ---- the client's membership catch-up (QUERY kind 13) ----------------------- */

int ldg_changes_answer(ledger_store *s, uint64_t after, uint64_t upto, uint8_t **out, size_t *len) {
    *out = NULL;
    *len = 0;
    if (upto < after)
        return LEDGER_E_INVALID;
    uint8_t *cl = NULL, hdr[LEDGER_HEADER_BYTES];
    size_t cll = 0, hl = 0, certl = 0;
    /* the changes decided up to the tip (in force up to tip + 2), and the
     * block at min(upto, tip) */
    uint64_t tip = ledger_store_height(s), hh = upto < tip ? upto : tip;
    uint64_t last = upto < tip + 2 ? upto : tip + 2;
    ledger_block *b = NULL;
    int rc = store_changes(s, after, last < after ? after : last, &cl, &cll);
    if (!rc && hh > 0) { /* the block at min(upto, tip) shows no change is left out */
        rc = ledger_store_block(s, hh, &b);
        if (!rc && !b->cert)
            rc = LEDGER_E_CORRUPT;
        if (!rc) {
            hl = ldg_block_header_encode(b, hdr);
            certl = ldg_cert_size(b->cert);
        }
    }
    uint8_t *o = rc ? NULL : malloc(cll + 8 + hl + certl);
    if (!rc && !o)
        rc = LEDGER_E_NOMEM;
    if (!rc) {
        memcpy(o, cl, cll);
        ldg_put32(o + cll, (uint32_t)hl);
        memcpy(o + cll + 4, hdr, hl);
        ldg_put32(o + cll + 4 + hl, (uint32_t)certl);
        if (certl)
            ldg_cert_write(b->cert, o + cll + 8 + hl);
        *out = o;
        *len = cll + 8 + hl + certl;
    }
    ledger_block_free(b);
    free(cl);
    return rc;
}

int ldg_changes_answer_verify(const ledger_membership *from, uint64_t from_eff, const uint8_t *buf,
                              size_t len, ledger_membership **out, uint64_t *eff, uint64_t *proven,
                              size_t *list_len) {
    *out = NULL;
    if (ldg_init() < 0)
        return LEDGER_E_INTERNAL;
    if (len > LEDGER_CHANGES_BYTES_MAX + 8 + LEDGER_HEADER_BYTES + PROOF_BYTES_MAX)
        return LEDGER_E_DECODE;
    ldg_rd r = {buf, len};
    const uint8_t *p, *hb = NULL, *cb = NULL;
    if (ldg_take(&r, 2, &p) || ldg_get16(p) > LEDGER_BUNDLE_CHANGES_MAX)
        return LEDGER_E_DECODE;
    size_t m = ldg_get16(p);
    /* cur: after every change; at: in force at the closing block (the one
     * before the last change if that change takes force above the block) */
    ledger_membership *cur = NULL, *before = NULL;
    int rc = clone_membership(from, &cur);
    uint64_t e = from_eff, e_before = from_eff, decided = 0;
    for (size_t i = 0; i < m && !rc; i++) {
        change c;
        rc = change_read(&r, &c);
        ledger_membership_free(before);
        before = NULL;
        e_before = e;
        if (!rc)
            rc = clone_membership(cur, &before);
        if (!rc)
            rc = change_apply(&c, &cur, &e);
        decided = c.h.height;
    }
    if (list_len)
        *list_len = (size_t)(r.p - buf);
    size_t hl = 0, cl = 0;
    if (!rc && (ldg_take(&r, 4, &p) || ldg_take(&r, hl = ldg_get32(p), &hb) ||
                ldg_take(&r, 4, &p) || ldg_take(&r, cl = ldg_get32(p), &cb) || r.left))
        rc = LEDGER_E_DECODE;
    ldg_header h;
    memset(&h, 0, sizeof h);
    if (!rc && hl == 0 && (m || cl))
        rc = LEDGER_E_DECODE; /* a replica with no block proves no change */
    if (!rc && hl) {
        size_t used;
        uint8_t mh[32], hh[32];
        ledger_cert *ct = NULL;
        rc = ldg_header_decode(hb, hl, &h, &used);
        if (!rc && used != hl)
            rc = LEDGER_E_DECODE;
        /* every change was decided at or below the block, which names the
         * membership in force at its height and is certified by it: no change
         * taking force up to it was left out */
        const ledger_membership *at = cur;
        if (!rc && m && h.height < e) {
            at = before;
            if (h.height < e_before || decided > h.height)
                rc = LEDGER_E_MEMBERSHIP;
        } else if (!rc && h.height < e) {
            rc = LEDGER_E_MEMBERSHIP; /* m = 0: the block is below `from` */
        }
        if (!rc && h.format < 2 && (m || from_eff))
            rc = LEDGER_E_MEMBERSHIP;
        if (!rc)
            rc = membership_hash(at, mh);
        if (!rc && h.format >= 2 && sodium_memcmp(h.epoch, mh, 32) != 0)
            rc = LEDGER_E_EPOCH;
        if (!rc) {
            rc = ledger_cert_decode(&ct, cb, cl);
            if (rc && rc != LEDGER_E_NOMEM)
                rc = LEDGER_E_DECODE;
        }
        if (!rc) {
            crypto_hash_sha256(hh, hb, hl);
            rc = ledger_cert_verify(ct, at, h.height, hh);
        }
        ledger_cert_free(ct);
    }
    ledger_membership_free(before);
    if (rc) {
        ledger_membership_free(cur);
        return rc;
    }
    *out = cur;
    *eff = e;
    *proven = h.height;
    return LEDGER_OK;
}
