/* libledger: ledger_verify_chain — re-check a stored chain and name the first
 * block that fails (docs/ledger-storage.md §Verification). */
#include "store_internal.h"

#include <sodium.h>

/* Check one block's transaction index entries. */
static int check_tx_index(ledger_store *s, MDB_txn *txn, const ledger_block *b) {
    size_t off = ldg_header_size(b->format);
    for (size_t i = 0; i < b->ntx; i++) {
        const ledger_tx *tx = b->txs[i];
        MDB_val k = ldg_val(tx->hash, 32), v;
        if (mdb_get(txn, s->txs, &k, &v) != MDB_SUCCESS || v.mv_size != 24)
            return LEDGER_E_CORRUPT;
        const uint8_t *rec = v.mv_data;
        uint64_t h = ldg_get64(rec);
        uint32_t idx = ldg_get32(rec + 8);
        if (h > b->height || (h == b->height && idx > i))
            return LEDGER_E_CORRUPT;
        if (h == b->height && idx == i &&
            (ldg_get32(rec + 12) != off + 4 || ldg_get32(rec + 16) != tx->enc_len))
            return LEDGER_E_CORRUPT;
        if (h == b->height && idx < i && sodium_memcmp(b->txs[idx]->hash, tx->hash, 32) != 0)
            return LEDGER_E_CORRUPT;
        off += 4 + tx->enc_len;
    }
    return LEDGER_OK;
}

/* The block's (timestamp, height) entry of the time index exists. */
static int check_time_index(ledger_store *s, MDB_txn *txn, const ledger_block *b) {
    uint8_t tk[16];
    ldg_put64(tk, b->timestamp);
    ldg_put64(tk + 8, b->height);
    MDB_val k = ldg_val(tk, 16), v;
    return mdb_get(txn, s->time, &k, &v) == MDB_SUCCESS && v.mv_size == 0 ? LEDGER_OK
                                                                          : LEDGER_E_CORRUPT;
}

static int verify_links(ledger_store *s, int full, uint64_t *bad) {
    MDB_txn *txn;
    int mrc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (mrc)
        return ldg_mdb_err(mrc);
    MDB_cursor *cur;
    if ((mrc = mdb_cursor_open(txn, s->blocks, &cur)) != 0) {
        mdb_txn_abort(txn);
        return ldg_mdb_err(mrc);
    }
    /* a store started from a snapshot holds its chain from the base block on */
    uint64_t first = s->snap_base ? s->snap_base : 1;
    uint64_t expect = first, prev_ts = 0;
    /* the membership in force at each height, from the recorded changes */
    ledger_membership *gm = NULL, *cur_m = NULL;
    uint8_t epoch[32];
    int rc0 = ldg_membership_at(s, txn, first, &gm);
    if (!rc0)
        rc0 = ldg_membership_hash(gm, epoch);
    if (rc0) {
        ledger_membership_free(gm);
        mdb_cursor_close(cur);
        mdb_txn_abort(txn);
        return rc0;
    }
    uint8_t prev_format = 0;
    uint8_t prev_hash[32] = {0}, last_root[32] = {0};
    int rc = LEDGER_OK;
    MDB_val k, v;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == MDB_SUCCESS;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT), expect++) {
        ledger_block *b = NULL;
        rc = LEDGER_E_CORRUPT;
        if (k.mv_size != 8 || ldg_get64(k.mv_data) != expect)
            break;
        if (expect > first) {
            ledger_membership *nm = NULL;
            int mr = ldg_member_record(s, txn, expect, &nm);
            if (mr == LEDGER_OK && ldg_membership_hash(nm, epoch) == LEDGER_OK) {
                ledger_membership_free(cur_m);
                cur_m = nm;
            } else {
                ledger_membership_free(nm);
                if (mr != LEDGER_E_NOT_FOUND) {
                    rc = mr == LEDGER_E_NOMEM ? mr : LEDGER_E_CORRUPT;
                    break;
                }
            }
        }
        const ledger_membership *mh = cur_m ? cur_m : gm;
        int drc = ledger_block_decode(&b, v.mv_data, v.mv_size);
        if (drc == LEDGER_E_NOMEM) {
            rc = drc;
            break;
        }
        if (drc == LEDGER_OK && expect == first && first > 1)
            memcpy(prev_hash, b->prev_hash, 32); /* the base links to blocks not held */
        if (drc == LEDGER_OK && b->height == expect &&
            sodium_memcmp(b->prev_hash, prev_hash, 32) == 0 &&
            (expect == first || b->timestamp >= prev_ts) && b->format >= prev_format &&
            (b->format < 2 || sodium_memcmp(b->epoch, epoch, 32) == 0) && b->cert &&
            ledger_cert_verify(b->cert, mh, b->height, b->header_hash) == LEDGER_OK &&
            (expect == first && first > 1 ? LEDGER_OK : check_tx_index(s, txn, b)) == LEDGER_OK &&
            check_time_index(s, txn, b) == LEDGER_OK &&
            (!full ||
             ledger_tx_verify_batch((const ledger_tx *const *)b->txs, b->ntx, NULL) == LEDGER_OK))
            rc = LEDGER_OK;
        if (b) {
            memcpy(prev_hash, b->header_hash, 32);
            memcpy(last_root, b->state_root, 32);
            prev_ts = b->timestamp;
            prev_format = b->format;
        }
        ledger_block_free(b);
        if (rc)
            break;
    }
    if (!rc && mrc != MDB_NOTFOUND)
        rc = ldg_mdb_err(mrc);
    ledger_membership_free(gm);
    ledger_membership_free(cur_m);
    mdb_cursor_close(cur);
    int untied = 0;
    if (!rc) {
        MDB_stat ts;
        if (mdb_stat(txn, s->time, &ts) == 0 && ts.ms_entries != expect - first) {
            rc = LEDGER_E_CORRUPT; /* a time entry that names no stored block */
            untied = 1;
        }
    }
    if (rc == LEDGER_E_CORRUPT) {
        *bad = untied ? 0 : expect;
    } else if (!rc) {
        /* The tip record must describe the last block. */
        uint64_t last = expect - 1;
        MDB_val tk = ldg_val("tip", 3), tv;
        mrc = mdb_get(txn, s->meta, &tk, &tv);
        if (last == 0 && mrc == MDB_NOTFOUND) {
            rc = LEDGER_OK;
        } else if (mrc || tv.mv_size != 80 || ldg_get64(tv.mv_data) != last ||
                   sodium_memcmp((const uint8_t *)tv.mv_data + 16, prev_hash, 32) != 0 ||
                   sodium_memcmp((const uint8_t *)tv.mv_data + 48, last_root, 32) != 0) {
            rc = LEDGER_E_CORRUPT;
            *bad = last ? last : 1;
        }
    }
    mdb_txn_abort(txn);
    return rc;
}

/* SHA-256 over every (key, value) of the state, nonce and trace tables, in order. */
static int digest_state(ledger_store *s, MDB_txn *txn, uint8_t out[32]) {
    crypto_hash_sha256_state h;
    crypto_hash_sha256_init(&h);
    MDB_dbi dbis[3] = {s->state, s->nonce, s->trace};
    for (int d = 0; d < 3; d++) {
        MDB_cursor *cur;
        int mrc = mdb_cursor_open(txn, dbis[d], &cur);
        if (mrc)
            return ldg_mdb_err(mrc);
        MDB_val k, v;
        for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == MDB_SUCCESS;
             mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            uint8_t l[9];
            l[0] = (uint8_t)d;
            ldg_put32(l + 1, (uint32_t)k.mv_size);
            ldg_put32(l + 5, (uint32_t)v.mv_size);
            crypto_hash_sha256_update(&h, l, 9);
            crypto_hash_sha256_update(&h, k.mv_data, k.mv_size);
            crypto_hash_sha256_update(&h, v.mv_data, v.mv_size);
        }
        mdb_cursor_close(cur);
        if (mrc != MDB_NOTFOUND)
            return ldg_mdb_err(mrc);
    }
    crypto_hash_sha256_final(&h, out);
    return LEDGER_OK;
}

/* Replay every block from an empty state inside a write transaction that is
 * aborted at the end: each state root must match, and the final state, nonce
 * and trace tables must equal the stored ones. */
static int verify_replay(ledger_store *s, uint64_t *bad) {
    pthread_mutex_lock(&s->wlock);
    MDB_txn *txn;
    int mrc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (mrc) {
        pthread_mutex_unlock(&s->wlock);
        return ldg_mdb_err(mrc);
    }
    uint8_t before[32], after[32], root[32] = {0}, got[32];
    int rc = digest_state(s, txn, before);
    ldg_lthash stored; /* the state digest's accumulator as stored */
    if (!rc) {
        rc = ldg_lthash_load(s, txn, &stored);
        if (rc == LEDGER_E_NOT_FOUND)
            rc = LEDGER_OK;
    }
    if (!rc) {
        MDB_val ak = ldg_val(LDG_META_LTHASH, strlen(LDG_META_LTHASH));
        mrc = mdb_del(txn, s->meta, &ak, NULL);
        if (mrc == MDB_NOTFOUND)
            mrc = 0;
        if (!mrc)
            mrc = mdb_drop(txn, s->state, 0);
        if (!mrc)
            mrc = mdb_drop(txn, s->nonce, 0);
        if (!mrc)
            mrc = mdb_drop(txn, s->trace, 0);
        rc = ldg_mdb_err(mrc);
    }
    for (uint64_t h = 1; !rc; h++) {
        uint8_t hk[8];
        ldg_put64(hk, h);
        MDB_val k = ldg_val(hk, 8), v;
        mrc = mdb_get(txn, s->blocks, &k, &v);
        if (mrc == MDB_NOTFOUND)
            break;
        if (mrc) {
            rc = ldg_mdb_err(mrc);
            break;
        }
        ledger_block *b;
        rc = ledger_block_decode(&b, v.mv_data, v.mv_size);
        if (rc) {
            rc = rc == LEDGER_E_NOMEM ? rc : LEDGER_E_CORRUPT;
            *bad = h;
            break;
        }
        /* ldg_exec_block runs every block under the application version in
         * force at its height and checks that its header names it */
        rc = ldg_exec_block(s, txn, b, root, 0, got, NULL);
        uint8_t dg[32];
        if (!rc && b->format >= 3 && (rc = ldg_state_digest_txn(s, txn, dg)) == 0 &&
            sodium_memcmp(dg, b->state_digest, 32) != 0)
            rc = LEDGER_E_CORRUPT; /* the header's state digest is not the replayed state's */
        if (rc == LEDGER_E_APP || rc == LEDGER_E_APP_VERSION || rc == LEDGER_E_CORRUPT ||
            rc == LEDGER_E_EPOCH || (!rc && sodium_memcmp(got, b->state_root, 32) != 0)) {
            rc = LEDGER_E_CORRUPT;
            *bad = h;
        }
        memcpy(root, b->state_root, 32);
        ledger_block_free(b);
    }
    if (!rc) {
        rc = digest_state(s, txn, after);
        ldg_lthash replayed;
        int arc = rc ? rc : ldg_lthash_load(s, txn, &replayed);
        if (arc && arc != LEDGER_E_NOT_FOUND)
            rc = arc;
        if (!rc && (sodium_memcmp(before, after, 32) != 0 ||
                    sodium_memcmp(stored.l, replayed.l, sizeof stored.l) != 0)) {
            rc = LEDGER_E_CORRUPT;
            *bad = 0; /* the stored state, not a block, differs */
        }
    }
    mdb_txn_abort(txn);
    pthread_mutex_unlock(&s->wlock);
    return rc;
}

int ledger_verify_chain(ledger_store *s, int level, uint64_t *bad_height) {
    uint64_t bad = 0;
    if (bad_height)
        *bad_height = 0;
    if (!s || level < LEDGER_VERIFY_LINKS || level > LEDGER_VERIFY_FULL)
        return LEDGER_E_INVALID;
    int rc = verify_links(s, level == LEDGER_VERIFY_FULL, &bad);
    if (!rc && s->snap_base) { /* the headers it holds below its base */
        MDB_txn *txn;
        int mrc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
        rc = mrc ? ldg_mdb_err(mrc) : ldg_snapshot_verify_headers(s, txn, &bad);
        if (!mrc)
            mdb_txn_abort(txn);
    }
    /* a snapshot-started store has no state from before its base to replay
     * from: LINKS and signatures passed, the replay cannot be done */
    if (!rc && level == LEDGER_VERIFY_FULL)
        rc = s->snap_base ? LEDGER_E_SNAPSHOT : verify_replay(s, &bad);
    if (bad_height)
        *bad_height = bad;
    return rc;
}
