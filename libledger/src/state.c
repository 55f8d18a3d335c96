/* libledger: the application's state handle, the block executor and the state
 * root rule (docs/formats/ledger.md §State root). */
#include "store_internal.h"
#include "ledger/reconfig.h"

#include "ledger/upgrade.h"

#include <errno.h>
#include <sodium.h>

int ldg_mdb_err(int rc) {
    switch (rc) {
        case MDB_SUCCESS:
            return LEDGER_OK;
        case MDB_NOTFOUND:
            return LEDGER_E_NOT_FOUND;
        case MDB_MAP_FULL:
        case MDB_TXN_FULL:
            return LEDGER_E_FULL;
        case ENOMEM:
            return LEDGER_E_NOMEM;
        case MDB_VERSION_MISMATCH:
            return LEDGER_E_VERSION;
        case EAGAIN:
        case EBUSY:
            return LEDGER_E_BUSY;
        default:
            return LEDGER_E_IO;
    }
}

int ledger_app_init(ledger_app *app) {
    if (!app)
        return LEDGER_E_INVALID;
    memset(app, 0, sizeof *app);
    app->version = LEDGER_APP_VERSION;
    app->app_version_max = 1;
    return LEDGER_OK;
}

void ldg_state_init(struct ledger_state *st, ledger_store *s, MDB_txn *txn, int writable,
                    uint64_t height) {
    memset(st, 0, sizeof *st);
    st->s = s;
    st->txn = txn;
    st->writable = writable;
    st->height = height;
    if (writable) { /* the writer holds wlock */
        st->app_version = s->app_version;
        st->m = s->m;
    } else {
        pthread_mutex_lock(&s->tlock);
        st->app_version = s->app_version;
        st->m = s->m;
        pthread_mutex_unlock(&s->tlock);
    }
}

void ldg_state_release(struct ledger_state *st) {
    free(st->log);
    free(st->arena);
    st->log = NULL;
    st->arena = NULL;
}

static int arena_add(struct ledger_state *st, const uint8_t *p, size_t n, size_t *off) {
    if (st->narena + n > st->caparena) {
        size_t cap = st->caparena ? st->caparena : 4096;
        while (cap < st->narena + n)
            cap *= 2;
        uint8_t *a = realloc(st->arena, cap);
        if (!a)
            return LEDGER_E_NOMEM;
        st->arena = a;
        st->caparena = cap;
    }
    *off = st->narena;
    if (n)
        memcpy(st->arena + st->narena, p, n);
    st->narena += n;
    return 0;
}

static int log_write(struct ledger_state *st, uint8_t ns, uint8_t kind, const uint8_t *k,
                     size_t klen, const uint8_t *v, size_t vlen) {
    if (st->nlog == st->caplog) {
        size_t cap = st->caplog ? st->caplog * 2 : 256;
        ldg_write *l = realloc(st->log, cap * sizeof *l);
        if (!l)
            return LEDGER_E_NOMEM;
        st->log = l;
        st->caplog = cap;
    }
    ldg_write *w = &st->log[st->nlog];
    w->ns = ns;
    w->kind = kind;
    w->seq = (uint32_t)st->nlog;
    w->klen = klen;
    w->vlen = vlen;
    w->voff = 0;
    if (arena_add(st, k, klen, &w->koff) || (kind && arena_add(st, v, vlen, &w->voff)))
        return LEDGER_E_NOMEM;
    st->nlog++;
    return 0;
}

static int key_ok(const uint8_t *key, size_t klen) {
    return key && klen >= 1 && klen <= LEDGER_STATE_KEY_MAX;
}

int ledger_state_get(ledger_state *st, const uint8_t *key, size_t klen, const uint8_t **val,
                     size_t *vlen) {
    if (!st || !key_ok(key, klen) || !val || !vlen)
        return LEDGER_E_INVALID;
    MDB_val k = ldg_val(key, klen), v;
    int rc = mdb_get(st->txn, st->s->state, &k, &v);
    if (rc)
        return ldg_mdb_err(rc);
    *val = v.mv_data;
    *vlen = v.mv_size;
    return LEDGER_OK;
}

/* The first key after @p key (a cursor in the block's own LMDB transaction, so the
 * block's earlier writes are seen); the ledger's own records (0xFF "LDG/") are skipped. */
int ledger_state_next(ledger_state *st, const uint8_t *key, size_t klen, const uint8_t **next,
                      size_t *next_len, const uint8_t **val, size_t *vlen) {
    if (!st || !key_ok(key, klen) || !next || !next_len || !val || !vlen)
        return LEDGER_E_INVALID;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(st->txn, st->s->state, &cur);
    if (rc)
        return ldg_mdb_err(rc);
    MDB_val k = ldg_val(key, klen), v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (!rc && k.mv_size == klen && !memcmp(k.mv_data, key, klen))
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    mdb_cursor_close(cur);
    if (rc)
        return ldg_mdb_err(rc);
    if (k.mv_size >= LDG_SYS_PREFIX_LEN && !memcmp(k.mv_data, LDG_SYS_PREFIX, LDG_SYS_PREFIX_LEN))
        return LEDGER_E_NOT_FOUND;
    *next = k.mv_data;
    *next_len = k.mv_size;
    *val = v.mv_data;
    *vlen = v.mv_size;
    return LEDGER_OK;
}

static int reserved(const uint8_t *key, size_t klen) {
    return klen >= LDG_SYS_PREFIX_LEN && memcmp(key, LDG_SYS_PREFIX, LDG_SYS_PREFIX_LEN) == 0;
}

int ldg_state_write(struct ledger_state *st, const uint8_t *key, size_t klen, const uint8_t *val,
                    size_t vlen, int put) {
    MDB_val k = ldg_val(key, klen);
    int rc;
    if (st->acc) { /* the old element leaves the state digest (before LMDB reuses its page) */
        MDB_val ov;
        rc = mdb_get(st->txn, st->s->state, &k, &ov);
        if (rc == MDB_SUCCESS)
            ldg_lthash_update(st->acc, 0, 0, key, klen, ov.mv_data, ov.mv_size);
        else if (rc != MDB_NOTFOUND)
            return ldg_mdb_err(rc);
        if (put)
            ldg_lthash_update(st->acc, 1, 0, key, klen, val, vlen);
    }
    if (put) {
        MDB_val v = ldg_val(val ? val : (const uint8_t *)"", vlen);
        rc = mdb_put(st->txn, st->s->state, &k, &v, 0);
    } else {
        rc = mdb_del(st->txn, st->s->state, &k, NULL);
    }
    if (rc)
        return ldg_mdb_err(rc);
    st->changes++;
    return log_write(st, 0, put ? 1 : 0, key, klen, val, put ? vlen : 0);
}

int ledger_state_put(ledger_state *st, const uint8_t *key, size_t klen, const uint8_t *val,
                     size_t vlen) {
    if (!st || !st->writable || !key_ok(key, klen) || (!val && vlen) ||
        vlen > LEDGER_STATE_VALUE_MAX)
        return LEDGER_E_INVALID;
    if (reserved(key, klen))
        return LEDGER_E_REJECTED;
    return ldg_state_write(st, key, klen, val, vlen, 1);
}

int ledger_state_delete(ledger_state *st, const uint8_t *key, size_t klen) {
    if (!st || !st->writable || !key_ok(key, klen))
        return LEDGER_E_INVALID;
    if (reserved(key, klen))
        return LEDGER_E_REJECTED;
    return ldg_state_write(st, key, klen, NULL, 0, 0);
}

/* Trace key: op u16 ‖ key length u16 ‖ key ‖ height u64 ‖ index u32. */
int ledger_state_index(ledger_state *st, uint16_t op, const uint8_t *key, size_t klen) {
    if (!st || !st->writable || !key_ok(key, klen))
        return LEDGER_E_INVALID;
    uint8_t buf[4 + LEDGER_STATE_KEY_MAX + 12];
    ldg_put16(buf, op);
    ldg_put16(buf + 2, (uint16_t)klen);
    memcpy(buf + 4, key, klen);
    ldg_put64(buf + 4 + klen, st->height);
    ldg_put32(buf + 12 + klen, st->tx_index);
    MDB_val k = ldg_val(buf, 16 + klen), v = ldg_val("", 0);
    int rc = mdb_put(st->txn, st->s->trace, &k, &v, 0);
    if (rc)
        return ldg_mdb_err(rc);
    st->changes++;
    return LEDGER_OK;
}

uint64_t ledger_state_height(const ledger_state *st) {
    return st ? st->height : 0;
}

uint32_t ledger_state_app_version(const ledger_state *st) {
    return st ? st->app_version : 0;
}

/* ---- state root ---- */

typedef struct {
    const ldg_write *w;
    const uint8_t *k;
} sort_rec;

static int cmp_rec(const void *a, const void *b) {
    const sort_rec *x = a, *y = b;
    if (x->w->ns != y->w->ns)
        return x->w->ns < y->w->ns ? -1 : 1;
    size_t n = x->w->klen < y->w->klen ? x->w->klen : y->w->klen;
    int c = memcmp(x->k, y->k, n);
    if (c)
        return c;
    if (x->w->klen != y->w->klen)
        return x->w->klen < y->w->klen ? -1 : 1;
    return x->w->seq < y->w->seq ? -1 : (x->w->seq > y->w->seq);
}

static int same_key(const sort_rec *x, const sort_rec *y) {
    return x->w->ns == y->w->ns && x->w->klen == y->w->klen && memcmp(x->k, y->k, x->w->klen) == 0;
}

/* writes hash = SHA-256(tag ‖ for each net write in (ns, key) order:
 * ns u8 ‖ kind u8 ‖ klen u32 ‖ key ‖ [vlen u32 ‖ value if put]). */
static int writes_hash(const struct ledger_state *st, uint8_t out[32], uint8_t **enc,
                       size_t *enc_len) {
    sort_rec *r = malloc((st->nlog ? st->nlog : 1) * sizeof *r);
    if (!r)
        return LEDGER_E_NOMEM;
    for (size_t i = 0; i < st->nlog; i++) {
        r[i].w = &st->log[i];
        r[i].k = st->arena + st->log[i].koff;
    }
    qsort(r, st->nlog, sizeof *r, cmp_rec);
    /* enc (optional): the same bytes as hashed after the tag, for the witness
     * of a block that decides a membership change (ledger-bundle.md) */
    size_t cap = 0, used = 0;
    uint8_t *e = NULL;
    if (enc) {
        for (size_t i = 0; i < st->nlog; i++)
            cap += 10 + r[i].w->klen + (r[i].w->kind ? r[i].w->vlen : 0);
        e = malloc(cap ? cap : 1);
        if (!e) {
            free(r);
            return LEDGER_E_NOMEM;
        }
    }
    crypto_hash_sha256_state h;
    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, (const uint8_t *)LDG_TAG_WRITES, LDG_TAG_LEN);
    for (size_t i = 0; i < st->nlog; i++) {
        if (i + 1 < st->nlog && same_key(&r[i], &r[i + 1]))
            continue; /* the last write of a key wins */
        const ldg_write *w = r[i].w;
        uint8_t hd[6];
        hd[0] = w->ns;
        hd[1] = w->kind;
        ldg_put32(hd + 2, (uint32_t)w->klen);
        crypto_hash_sha256_update(&h, hd, 6);
        crypto_hash_sha256_update(&h, r[i].k, w->klen);
        if (e) {
            memcpy(e + used, hd, 6);
            memcpy(e + used + 6, r[i].k, w->klen);
            used += 6 + w->klen;
        }
        if (w->kind) {
            ldg_put32(hd, (uint32_t)w->vlen);
            crypto_hash_sha256_update(&h, hd, 4);
            crypto_hash_sha256_update(&h, st->arena + w->voff, w->vlen);
            if (e) {
                memcpy(e + used, hd, 4);
                memcpy(e + used + 4, st->arena + w->voff, w->vlen);
                used += 4 + w->vlen;
            }
        }
    }
    crypto_hash_sha256_final(&h, out);
    free(r);
    if (enc) {
        *enc = e;
        *enc_len = used;
    }
    return LEDGER_OK;
}

/* Did the block write a membership record (0xFF "LDG/mship/" ‖ u64)? */
static int wrote_membership(const struct ledger_state *st) {
    static const char k[] = LDG_SYS_PREFIX "mship/";
    for (size_t i = 0; i < st->nlog; i++) {
        const ldg_write *w = &st->log[i];
        if (w->ns == 0 && w->kind && w->klen == sizeof k - 1 + 8 &&
            memcmp(st->arena + w->koff, k, sizeof k - 1) == 0)
            return 1;
    }
    return 0;
}

int ldg_exec_block(ledger_store *s, MDB_txn *txn, const ledger_block *b,
                   const uint8_t prev_root[32], uint32_t flags, uint8_t root[32],
                   int32_t *statuses) {
    return ldg_exec_block_wit(s, txn, b, prev_root, flags, root, statuses, NULL, NULL);
}

int ldg_exec_block_wit(ledger_store *s, MDB_txn *txn, const ledger_block *b,
                       const uint8_t prev_root[32], uint32_t flags, uint8_t root[32],
                       int32_t *statuses, uint8_t **witness, size_t *witness_len) {
    if (witness) {
        *witness = NULL;
        *witness_len = 0;
    }
    struct ledger_state st;
    ldg_state_init(&st, s, txn, 1, b->height);
    crypto_hash_sha256_state res;
    crypto_hash_sha256_init(&res);
    crypto_hash_sha256_update(&res, (const uint8_t *)LDG_TAG_RESULT, LDG_TAG_LEN);
    uint8_t nb[8];
    ldg_put32(nb, (uint32_t)b->ntx);
    crypto_hash_sha256_update(&res, nb, 4);
    /* the membership in force: the store's at its next height, else (a replay
     * from genesis) derived from the state in txn, and named by the header */
    ledger_membership *derived = NULL;
    /* the state digest's accumulator, carried in txn from block to block */
    ldg_lthash acc;
    int rc = ldg_lthash_load(s, txn, &acc);
    if (rc == LEDGER_E_NOT_FOUND)
        rc = LEDGER_OK; /* an empty state (the store computes it at open otherwise) */
    st.acc = &acc;
    if (!rc && b->height != s->tip.height + 1) {
        rc = ldg_membership_at(s, txn, b->height, &derived);
        if (!rc)
            st.m = derived;
        uint8_t eh[32];
        if (!rc && b->format >= 2 &&
            (ldg_membership_hash(derived, eh) || sodium_memcmp(eh, b->epoch, 32) != 0))
            rc = LEDGER_E_EPOCH;
    }
    if (!rc)
        rc = ldg_member_begin_block(s, &st, b->height);
    /* an upgrade activating at this height does so before the transactions */
    uint32_t in_force = st.app_version;
    if (!rc)
        rc = ldg_upgrade_begin_block(s, &st, b->height, &in_force);
    st.app_version = in_force;
    if (!rc && in_force > ldg_app_max(s))
        rc = LEDGER_E_UPGRADE_NEEDED;
    if (!rc && b->app_version != in_force)
        rc = LEDGER_E_APP_VERSION;
    for (size_t i = 0; i < b->ntx && !rc; i++) {
        const ledger_tx *tx = b->txs[i];
        int32_t status = LEDGER_OK;
        if (flags & LEDGER_PREPARE_VERIFY_TX) {
            rc = ldg_verify_cached(s, tx);
            if (rc)
                break;
        }
        /* Replay protection: nonce strictly above the sender's last. */
        const uint8_t *sender = tx->enc + LDG_TX_OFF_SENDER;
        uint64_t nonce = ldg_get64(tx->enc + LDG_TX_OFF_NONCE), last = 0;
        MDB_val k = ldg_val(sender, 32), v;
        int mrc = mdb_get(txn, s->nonce, &k, &v);
        if (mrc == MDB_SUCCESS && v.mv_size == 8)
            last = ldg_get64(v.mv_data);
        else if (mrc != MDB_NOTFOUND) {
            rc = mrc == MDB_SUCCESS ? LEDGER_E_CORRUPT : ldg_mdb_err(mrc);
            break;
        }
        if (ledger_tx_op(tx) < LEDGER_OP_RESERVED_MIN && ledger_tx_app_version(tx) != in_force) {
            status = LEDGER_E_TX_APP_VERSION; /* built for other rules: nothing happens */
        } else if (nonce <= last) {
            status = LEDGER_E_REPLAY;
        } else {
            if (mrc == MDB_SUCCESS) /* the sender's old nonce record leaves the digest */
                ldg_lthash_update(&acc, 0, 1, sender, 32, v.mv_data, 8);
            ldg_put64(nb, nonce);
            ldg_lthash_update(&acc, 1, 1, sender, 32, nb, 8);
            v = ldg_val(nb, 8);
            mrc = mdb_put(txn, s->nonce, &k, &v, 0);
            if (mrc) {
                rc = ldg_mdb_err(mrc);
                break;
            }
            if ((rc = log_write(&st, 1, 1, sender, 32, nb, 8)) != 0)
                break;
            if (ledger_tx_op(tx) >= LEDGER_OP_RESERVED_MIN) {
                /* the ledger's own transactions: the application never sees them */
                st.tx_index = (uint32_t)i;
                uint16_t op = ledger_tx_op(tx);
                int urc = op == LEDGER_OP_MEMBER_PROPOSE || op == LEDGER_OP_MEMBER_APPROVE
                              ? ldg_member_apply(s, &st, tx, b->height)
                              : ldg_upgrade_apply(s, &st, tx, b->height);
                if (urc == LEDGER_E_REJECTED) {
                    status = LEDGER_E_REJECTED;
                } else if (urc) {
                    rc = urc;
                    break;
                }
            } else if (s->app.apply) {
                st.tx_index = (uint32_t)i;
                uint64_t before = st.changes;
                int arc = s->app.apply(s->app.ctx, &st, b, i, tx);
                if (arc == LEDGER_E_REJECTED) {
                    if (st.changes != before) {
                        rc = LEDGER_E_APP; /* wrote, then rejected: contract broken */
                        break;
                    }
                    status = LEDGER_E_REJECTED;
                } else if (arc == LEDGER_E_FULL || arc == LEDGER_E_NOMEM || arc == LEDGER_E_IO) {
                    rc = arc;
                    break;
                } else if (arc != LEDGER_OK) {
                    rc = LEDGER_E_APP;
                    break;
                }
            }
        }
        if (statuses)
            statuses[i] = status;
        uint8_t sb[4];
        ldg_put32(sb, (uint32_t)status);
        crypto_hash_sha256_update(&res, sb, 4);
    }
    if (!rc) {
        uint8_t wh[32], rh[32], buf[LDG_TAG_LEN + 32 + 8 + 32 + 32];
        uint8_t *we = NULL;
        size_t wl = 0;
        int wit = witness && wrote_membership(&st);
        rc = writes_hash(&st, wh, wit ? &we : NULL, &wl);
        if (!rc) {
            crypto_hash_sha256_final(&res, rh);
            if (wit) { /* prev root ‖ results hash ‖ u32 length ‖ net writes */
                uint8_t *x = malloc(68 + wl);
                if (x) {
                    memcpy(x, prev_root, 32);
                    memcpy(x + 32, rh, 32);
                    ldg_put32(x + 64, (uint32_t)wl);
                    memcpy(x + 68, we, wl);
                    *witness = x;
                    *witness_len = 68 + wl;
                } else {
                    rc = LEDGER_E_NOMEM;
                }
            }
            if (!rc)
                rc = ldg_lthash_save(s, txn, &acc);
            memcpy(buf, LDG_TAG_STATE, LDG_TAG_LEN);
            memcpy(buf + 16, prev_root, 32);
            ldg_put64(buf + 48, b->height);
            memcpy(buf + 56, wh, 32);
            memcpy(buf + 88, rh, 32);
            crypto_hash_sha256(root, buf, sizeof buf);
        }
        free(we);
    }
    ldg_state_release(&st);
    ledger_membership_free(derived);
    return rc;
}

int ldg_state_digest_txn(ledger_store *s, MDB_txn *txn, uint8_t digest[32]) {
    ldg_lthash a;
    int rc = ldg_lthash_load(s, txn, &a);
    if (rc && rc != LEDGER_E_NOT_FOUND)
        return rc;
    ldg_lthash_digest(&a, digest);
    return LEDGER_OK;
}
