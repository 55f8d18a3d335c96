/* libledger: the state digest, an incremental multiset hash of the state
 * (docs/formats/ledger.md §State digest). LtHash: Bellare and Micciancio,
 * "A new paradigm for collision-free hashing: incrementality at reduced
 * cost" (EUROCRYPT 1997); parameters of Lewi et al., "Securing Update
 * Propagation with Homomorphic Hashing" (IACR ePrint 2019/227): 1024 lanes of
 * 16 bits added lane-wise mod 2^16. The element hash is our own choice:
 * BLAKE2b-256 of a domain-separated encoding keys ChaCha20, whose first 2048
 * bytes of keystream are the element's vector. */
#include "store_internal.h"

#include <sodium.h>

#define LTHASH_TAG "FSLEDGER/LTHASH1"

void ldg_lthash_elem(uint16_t out[LDG_LTHASH_LANES], uint8_t ns, const uint8_t *k, size_t kl,
                     const uint8_t *v, size_t vl) {
    crypto_generichash_state h;
    uint8_t key[crypto_stream_chacha20_KEYBYTES], hd[5];
    crypto_generichash_init(&h, NULL, 0, sizeof key);
    crypto_generichash_update(&h, (const uint8_t *)LTHASH_TAG, LDG_TAG_LEN);
    hd[0] = ns;
    ldg_put32(hd + 1, (uint32_t)kl);
    crypto_generichash_update(&h, hd, 5);
    crypto_generichash_update(&h, k, kl);
    ldg_put32(hd, (uint32_t)vl);
    crypto_generichash_update(&h, hd, 4);
    if (vl)
        crypto_generichash_update(&h, v, vl);
    crypto_generichash_final(&h, key, sizeof key);
    static const uint8_t nonce[crypto_stream_chacha20_NONCEBYTES] = {0};
    uint8_t ks[LDG_LTHASH_BYTES];
    crypto_stream_chacha20(ks, sizeof ks, nonce, key);
    for (size_t i = 0; i < LDG_LTHASH_LANES; i++) /* lanes are little-endian */
        out[i] = (uint16_t)(ks[2 * i] | (ks[2 * i + 1] << 8));
    sodium_memzero(key, sizeof key);
}

void ldg_lthash_update(ldg_lthash *a, int add, uint8_t ns, const uint8_t *k, size_t kl,
                       const uint8_t *v, size_t vl) {
    uint16_t e[LDG_LTHASH_LANES];
    ldg_lthash_elem(e, ns, k, kl, v, vl);
    if (add)
        for (size_t i = 0; i < LDG_LTHASH_LANES; i++)
            a->l[i] = (uint16_t)(a->l[i] + e[i]);
    else
        for (size_t i = 0; i < LDG_LTHASH_LANES; i++)
            a->l[i] = (uint16_t)(a->l[i] - e[i]);
}

void ldg_lthash_encode(const ldg_lthash *a, uint8_t out[LDG_LTHASH_BYTES]) {
    for (size_t i = 0; i < LDG_LTHASH_LANES; i++) {
        out[2 * i] = (uint8_t)a->l[i];
        out[2 * i + 1] = (uint8_t)(a->l[i] >> 8);
    }
}

void ldg_lthash_decode(ldg_lthash *a, const uint8_t in[LDG_LTHASH_BYTES]) {
    for (size_t i = 0; i < LDG_LTHASH_LANES; i++)
        a->l[i] = (uint16_t)(in[2 * i] | (in[2 * i + 1] << 8));
}

void ldg_lthash_digest(const ldg_lthash *a, uint8_t out[32]) {
    uint8_t enc[LDG_LTHASH_BYTES];
    ldg_lthash_encode(a, enc);
    crypto_generichash(out, 32, enc, sizeof enc, NULL, 0);
}

int ldg_lthash_load(ledger_store *s, MDB_txn *txn, ldg_lthash *a) {
    MDB_val k = ldg_val(LDG_META_LTHASH, strlen(LDG_META_LTHASH)), v;
    int mrc = mdb_get(txn, s->meta, &k, &v);
    if (mrc == MDB_NOTFOUND) {
        memset(a, 0, sizeof *a);
        return LEDGER_E_NOT_FOUND;
    }
    if (mrc)
        return ldg_mdb_err(mrc);
    if (v.mv_size != LDG_LTHASH_BYTES)
        return LEDGER_E_CORRUPT;
    ldg_lthash_decode(a, v.mv_data);
    return LEDGER_OK;
}

int ldg_lthash_save(ledger_store *s, MDB_txn *txn, const ldg_lthash *a) {
    uint8_t enc[LDG_LTHASH_BYTES];
    ldg_lthash_encode(a, enc);
    MDB_val k = ldg_val(LDG_META_LTHASH, strlen(LDG_META_LTHASH)), v = ldg_val(enc, sizeof enc);
    return ldg_mdb_err(mdb_put(txn, s->meta, &k, &v, 0));
}

int ldg_lthash_scan(ledger_store *s, MDB_txn *txn, ldg_lthash *a) {
    memset(a, 0, sizeof *a);
    MDB_dbi dbis[2] = {s->state, s->nonce};
    for (uint8_t d = 0; d < 2; d++) {
        MDB_cursor *cur;
        int mrc = mdb_cursor_open(txn, dbis[d], &cur);
        if (mrc)
            return ldg_mdb_err(mrc);
        MDB_val k, v;
        for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == MDB_SUCCESS;
             mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
            ldg_lthash_update(a, 1, d, k.mv_data, k.mv_size, v.mv_data, v.mv_size);
        mdb_cursor_close(cur);
        if (mrc != MDB_NOTFOUND)
            return ldg_mdb_err(mrc);
    }
    return LEDGER_OK;
}
