/* libledger: the LMDB store (docs/ledger-storage.md, docs/formats/ledger.md §LMDB layout). */
#include "store_internal.h"

#include "ledger/bundle.h"
#include "ledger/upgrade.h"
#include "ledger/reconfig.h"
#include "ledger/snapshot.h"

#include <errno.h>
#include <stddef.h>
#include <sodium.h>
#include <sys/stat.h>

#define META_FORMAT     "format"
#define META_MEMBERSHIP "membership"
#define META_TIP        "tip"
#define META_BLOB_BYTES "blob_bytes"
#define META_WITNESS    "mwit/" /* ‖ u64 height: witness of a block deciding a membership change */
#define TIP_BYTES       80
#define TXREC_BYTES     24 /* height u64, index u32, offset u32, length u32, status i32 */

int ledger_store_options_init(ledger_store_options *o) {
    if (!o)
        return LEDGER_E_INVALID;
    ledger_store_options d = LEDGER_STORE_OPTIONS_INIT;
    *o = d;
    return LEDGER_OK;
}

static void tip_encode(const ledger_tip *t, uint8_t out[TIP_BYTES]) {
    ldg_put64(out, t->height);
    ldg_put64(out + 8, t->timestamp);
    memcpy(out + 16, t->hash, 32);
    memcpy(out + 48, t->state_root, 32);
}

static void tip_decode(const uint8_t in[TIP_BYTES], ledger_tip *t) {
    t->height = ldg_get64(in);
    t->timestamp = ldg_get64(in + 8);
    memcpy(t->hash, in + 16, 32);
    memcpy(t->state_root, in + 48, 32);
}

static int meta_get(MDB_txn *txn, ledger_store *s, const char *name, MDB_val *v) {
    MDB_val k = ldg_val(name, strlen(name));
    return mdb_get(txn, s->meta, &k, v);
}

static int meta_put(MDB_txn *txn, ledger_store *s, const char *name, const void *p, size_t n) {
    MDB_val k = ldg_val(name, strlen(name)), v = ldg_val(p, n);
    return mdb_put(txn, s->meta, &k, &v, 0);
}

static int blob_accounting_init(ledger_store *s, MDB_txn *txn);

static int rd_begin(ledger_store *s, MDB_txn **txn) {
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
    return rc ? ldg_mdb_err(rc) : 0;
}

/* Read the tip record in txn (zero tip when absent). */
static int tip_read(MDB_txn *txn, ledger_store *s, ledger_tip *t) {
    MDB_val v;
    memset(t, 0, sizeof *t);
    int rc = meta_get(txn, s, META_TIP, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return ldg_mdb_err(rc);
    if (v.mv_size != TIP_BYTES)
        return LEDGER_E_CORRUPT;
    tip_decode(v.mv_data, t);
    return 0;
}

/* Create the format and membership records of a new store, or check them. */
static int init_or_check(ledger_store *s, MDB_txn *txn) {
    MDB_val v;
    int rc = meta_get(txn, s, META_FORMAT, &v);
    if (rc == MDB_NOTFOUND) {
        MDB_stat st;
        if (mdb_stat(txn, s->blocks, &st) == 0 && st.ms_entries)
            return LEDGER_E_CORRUPT; /* blocks without a format record */
        uint8_t f[4];
        ldg_put32(f, LEDGER_STORE_FORMAT_VERSION);
        uint8_t *enc;
        size_t len;
        int lrc = ledger_membership_encode(s->genesis, &enc, &len);
        if (lrc)
            return lrc;
        rc = meta_put(txn, s, META_FORMAT, f, 4);
        if (!rc)
            rc = meta_put(txn, s, META_MEMBERSHIP, enc, len);
        ledger_free(enc);
        return rc ? ldg_mdb_err(rc) : 0;
    }
    if (rc)
        return ldg_mdb_err(rc);
    if (v.mv_size != 4 || ldg_get32(v.mv_data) != LEDGER_STORE_FORMAT_VERSION)
        return LEDGER_E_VERSION;
    rc = meta_get(txn, s, META_MEMBERSHIP, &v);
    if (rc)
        return rc == MDB_NOTFOUND ? LEDGER_E_CORRUPT : ldg_mdb_err(rc);
    ledger_membership *stored;
    if (ledger_membership_decode(&stored, v.mv_data, v.mv_size) != LEDGER_OK)
        return LEDGER_E_CORRUPT;
    int same = ledger_membership_equal(stored, s->genesis);
    ledger_membership_free(stored);
    return same ? 0 : LEDGER_E_MEMBERSHIP;
}

/* Stores open in this process, by directory identity. */
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static ledger_store *open_list;

static int register_open(ledger_store *s, const char *path) {
    struct stat st;
    if (stat(path, &st) != 0)
        return LEDGER_E_IO;
    s->dev = (unsigned long long)st.st_dev;
    s->ino = (unsigned long long)st.st_ino;
    pthread_mutex_lock(&open_lock);
    for (ledger_store *o = open_list; o; o = o->next_open) {
        if (o->dev == s->dev && o->ino == s->ino) {
            pthread_mutex_unlock(&open_lock);
            return LEDGER_E_BUSY;
        }
    }
    s->next_open = open_list;
    open_list = s;
    s->registered = 1;
    pthread_mutex_unlock(&open_lock);
    return LEDGER_OK;
}

static void unregister_open(ledger_store *s) {
    if (!s->registered)
        return;
    pthread_mutex_lock(&open_lock);
    for (ledger_store **pp = &open_list; *pp; pp = &(*pp)->next_open) {
        if (*pp == s) {
            *pp = s->next_open;
            break;
        }
    }
    pthread_mutex_unlock(&open_lock);
    s->registered = 0;
}

void ledger_store_close(ledger_store *s) {
    if (!s)
        return;
    unregister_open(s);
    if (s->env)
        mdb_env_close(s->env);
    for (size_t i = 0; i < s->nmkeep; i++)
        ledger_membership_free(s->mkeep[i]);
    free(s->mkeep);
    ledger_membership_free(s->genesis);
    pthread_mutex_destroy(&s->wlock);
    pthread_mutex_destroy(&s->tlock);
    pthread_mutex_destroy(&s->vlock);
    free(s->vcache);
    free(s);
}

static size_t vslot(const uint8_t h[32], size_t k) {
    return ((size_t)ldg_get32(h) + k) & (LDG_VCACHE_SLOTS - 1);
}

int ldg_verify_cached(ledger_store *s, const ledger_tx *tx) {
    static const uint8_t zero[32];
    const uint8_t *h = tx->hash;
    pthread_mutex_lock(&s->vlock);
    for (size_t k = 0; k < LDG_VCACHE_PROBE; k++) {
        if (memcmp(s->vcache[vslot(h, k)], h, 32) == 0) {
            pthread_mutex_unlock(&s->vlock);
            return LEDGER_OK;
        }
    }
    pthread_mutex_unlock(&s->vlock);
    int rc = ledger_tx_verify(tx);
    if (rc || memcmp(h, zero, 32) == 0)
        return rc;
    pthread_mutex_lock(&s->vlock);
    size_t at = vslot(h, 0);
    for (size_t k = 0; k < LDG_VCACHE_PROBE; k++) {
        if (memcmp(s->vcache[vslot(h, k)], zero, 32) == 0) {
            at = vslot(h, k);
            break;
        }
    }
    memcpy(s->vcache[at], h, 32); /* full run: evict the home slot */
    pthread_mutex_unlock(&s->vlock);
    return LEDGER_OK;
}

int ledger_store_open(ledger_store **out, const char *path, const ledger_membership *m,
                      const ledger_app *app, const ledger_store_options *opts,
                      uint64_t *bad_height) {
    if (!out)
        return LEDGER_E_INVALID;
    *out = NULL;
    if (bad_height)
        *bad_height = 0;
    ledger_store_options o = LEDGER_STORE_OPTIONS_INIT;
    if (opts)
        o = *opts;
    if (!path || !*path || !m || !app || app->version < 1 || app->version > LEDGER_APP_VERSION ||
        o.version != LEDGER_STORE_OPTIONS_VERSION || o.verify > LEDGER_VERIFY_FULL ||
        o.sync > LEDGER_SYNC_DATA || o.map_size < ((uint64_t)1 << 20))
        return LEDGER_E_INVALID;
    if (ldg_init() < 0)
        return LEDGER_E_INTERNAL;
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return LEDGER_E_IO;

    ledger_store *s = calloc(1, sizeof *s);
    if (!s)
        return LEDGER_E_NOMEM;
    if (pthread_mutex_init(&s->wlock, NULL) != 0) {
        free(s);
        return LEDGER_E_INTERNAL;
    }
    if (pthread_mutex_init(&s->vlock, NULL) != 0) {
        pthread_mutex_destroy(&s->wlock);
        free(s);
        return LEDGER_E_INTERNAL;
    }
    if (pthread_mutex_init(&s->tlock, NULL) != 0) {
        pthread_mutex_destroy(&s->wlock);
        pthread_mutex_destroy(&s->vlock);
        free(s);
        return LEDGER_E_INTERNAL;
    }
    s->vcache = calloc(LDG_VCACHE_SLOTS, sizeof *s->vcache);
    if (!s->vcache) {
        ledger_store_close(s);
        return LEDGER_E_NOMEM;
    }
    if (app->version >= 2) {
        s->app = *app;
    } else { /* a version 1 table ends at query */
        memcpy(&s->app, app, offsetof(ledger_app, app_version_max));
        s->app.app_version_max = 1;
    }
    s->map_size = o.map_size;
    s->blob_limit = o.blob_limit_mib ? (uint64_t)o.blob_limit_mib << 20 : o.map_size / 2;
    int rc = LEDGER_OK;
    uint8_t *menc = NULL;
    size_t mlen;
    ledger_membership *gcopy = NULL;
    if ((rc = ledger_membership_encode(m, &menc, &mlen)) != 0 ||
        (rc = ledger_membership_decode(&s->genesis, menc, mlen)) != 0 || /* private copies */
        (rc = ledger_membership_decode(&gcopy, menc, mlen)) != 0 ||
        (rc = ldg_store_set_membership(s, gcopy)) != 0) {
        ledger_membership_free(gcopy);
        goto fail;
    }
    s->app_version = LEDGER_APP_VERSION_GENESIS;
    if ((rc = register_open(s, path)) != 0)
        goto fail;
    int mrc = mdb_env_create(&s->env);
    if (mrc) {
        s->env = NULL;
        rc = ldg_mdb_err(mrc);
        goto fail;
    }
    mdb_env_set_maxdbs(s->env, 12);
    if ((mrc = mdb_env_set_mapsize(s->env, (size_t)o.map_size)) != 0) {
        rc = LEDGER_E_INVALID;
        goto fail;
    }
    unsigned flags = MDB_NOTLS;
    if (o.sync == LEDGER_SYNC_NONE)
        flags |= MDB_NOSYNC;
    else if (o.sync == LEDGER_SYNC_DATA)
        flags |= MDB_NOMETASYNC;
    if ((mrc = mdb_env_open(s->env, path, flags, 0644)) != 0) {
        rc = mrc == MDB_INVALID ? LEDGER_E_CORRUPT : ldg_mdb_err(mrc);
        goto fail;
    }
    MDB_txn *txn;
    if ((mrc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0) {
        rc = ldg_mdb_err(mrc);
        goto fail;
    }
    struct {
        const char *name;
        MDB_dbi *dbi;
    } dbs[] = {{"meta", &s->meta},           {"blocks", &s->blocks},  {"txs", &s->txs},
               {"trace", &s->trace},         {"time", &s->time},      {"state", &s->state},
               {"nonce", &s->nonce},         {"blob", &s->blob},      {"blobuse", &s->blobuse},
               {"snapstage", &s->snapstage}, {"headers", &s->headers}};
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0] && !mrc; i++)
        mrc = mdb_dbi_open(txn, dbs[i].name, MDB_CREATE, dbs[i].dbi);
    if (mrc) {
        mdb_txn_abort(txn);
        rc = ldg_mdb_err(mrc);
        goto fail;
    }
    rc = init_or_check(s, txn);
    if (!rc)
        rc = tip_read(txn, s, &s->tip);
    if (!rc) { /* started from a snapshot (docs/ledger-storage.md §Snapshots) */
        MDB_val v;
        mrc = meta_get(txn, s, "snapbase", &v);
        if (mrc == MDB_SUCCESS && v.mv_size == 8 && ldg_get64(v.mv_data) &&
            ldg_get64(v.mv_data) <= s->tip.height)
            s->snap_base = ldg_get64(v.mv_data);
        else if (mrc != MDB_NOTFOUND)
            rc = mrc && mrc != MDB_SUCCESS ? ldg_mdb_err(mrc) : LEDGER_E_CORRUPT;
        mrc = 0;
    }
    if (!rc && s->tip.height) { /* the tip block's header format */
        uint8_t hk[8];
        ldg_put64(hk, s->tip.height);
        MDB_val k = ldg_val(hk, 8), v;
        mrc = mdb_get(txn, s->blocks, &k, &v);
        if (mrc || v.mv_size < 5 || !ldg_header_size(((const uint8_t *)v.mv_data)[4]))
            rc = mrc && mrc != MDB_NOTFOUND ? ldg_mdb_err(mrc) : LEDGER_E_CORRUPT;
        else
            s->tip_format = ((const uint8_t *)v.mv_data)[4];
        mrc = 0;
    }
    if (!rc)
        rc = ldg_upgrade_version_at(s, txn, s->tip.height + 1, &s->app_version);
    if (!rc) { /* the membership in force at the next height */
        ledger_membership *cur = NULL;
        rc = ldg_membership_at(s, txn, s->tip.height + 1, &cur);
        if (!rc && !ledger_membership_equal(cur, s->m))
            rc = ldg_store_set_membership(s, cur);
        else
            ledger_membership_free(cur);
    }
    if (!rc)
        rc = blob_accounting_init(s, txn);
    if (!rc) { /* a store written before the state digest: compute it once */
        ldg_lthash acc;
        rc = ldg_lthash_load(s, txn, &acc);
        if (rc == LEDGER_E_NOT_FOUND && s->tip.height) {
            rc = ldg_lthash_scan(s, txn, &acc);
            if (!rc)
                rc = ldg_lthash_save(s, txn, &acc);
        } else if (rc == LEDGER_E_NOT_FOUND) {
            rc = LEDGER_OK; /* an empty state: the zero accumulator */
        }
    }
    if (rc) {
        mdb_txn_abort(txn);
        goto fail;
    }
    if ((mrc = mdb_txn_commit(txn)) != 0) {
        rc = ldg_mdb_err(mrc);
        goto fail;
    }
    if (o.verify != LEDGER_VERIFY_NONE) {
        rc = ledger_verify_chain(s, (int)o.verify, bad_height);
        if (rc)
            goto fail;
    }
    ledger_free(menc);
    *out = s;
    return LEDGER_OK;
fail:
    ledger_free(menc);
    ledger_store_close(s);
    return rc;
}

const ledger_membership *ledger_store_membership(const ledger_store *s) {
    return s ? s->m : NULL;
}

int ldg_store_set_membership(ledger_store *s, ledger_membership *m) {
    uint8_t eh[32];
    ledger_membership **k = realloc(s->mkeep, (s->nmkeep + 1) * sizeof *k);
    if (!k) {
        ledger_membership_free(m);
        return LEDGER_E_NOMEM;
    }
    s->mkeep = k;
    s->mkeep[s->nmkeep++] = m;
    int rc = ldg_membership_hash(m, eh);
    if (rc)
        return rc;
    pthread_mutex_lock(&s->tlock);
    s->m = m;
    memcpy(s->epoch, eh, 32);
    pthread_mutex_unlock(&s->tlock);
    return LEDGER_OK;
}

int ledger_store_tip(ledger_store *s, ledger_tip *out) {
    if (!s || !out)
        return LEDGER_E_INVALID;
    pthread_mutex_lock(&s->tlock);
    *out = s->tip;
    pthread_mutex_unlock(&s->tlock);
    return LEDGER_OK;
}

uint64_t ledger_store_height(ledger_store *s) {
    ledger_tip t;
    return ledger_store_tip(s, &t) ? 0 : t.height;
}

int ledger_store_nonce(ledger_store *s, const uint8_t sender[32], uint64_t *nonce) {
    if (!s || !sender || !nonce)
        return LEDGER_E_INVALID;
    MDB_txn *txn;
    int rc = rd_begin(s, &txn);
    if (rc)
        return rc;
    MDB_val k = ldg_val(sender, 32), v;
    int mrc = mdb_get(txn, s->nonce, &k, &v);
    *nonce = 0;
    if (mrc == MDB_SUCCESS)
        *nonce = v.mv_size == 8 ? ldg_get64(v.mv_data) : 0;
    rc = mrc == MDB_SUCCESS || mrc == MDB_NOTFOUND ? 0 : ldg_mdb_err(mrc);
    mdb_txn_abort(txn);
    return rc;
}

/* Nonce and application check of one tx in a read transaction. */
static int check_in_txn(ledger_store *s, MDB_txn *txn, const ledger_tx *tx) {
    int rc = ldg_verify_cached(s, tx);
    if (rc)
        return rc;
    MDB_val k = ldg_val(ledger_tx_sender(tx), 32), v;
    int mrc = mdb_get(txn, s->nonce, &k, &v);
    if (mrc == MDB_SUCCESS && v.mv_size == 8 && ledger_tx_nonce(tx) <= ldg_get64(v.mv_data))
        return LEDGER_E_REPLAY;
    if (mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
        return ldg_mdb_err(mrc);
    struct ledger_state st;
    ldg_state_init(&st, s, txn, 0, 0);
    if (ledger_tx_op(tx) < LEDGER_OP_RESERVED_MIN && ledger_tx_app_version(tx) != st.app_version)
        return LEDGER_E_TX_APP_VERSION;
    if (ledger_tx_op(tx) >= LEDGER_OP_RESERVED_MIN) {
        pthread_mutex_lock(&s->tlock);
        uint64_t next = s->tip.height + 1;
        pthread_mutex_unlock(&s->tlock);
        uint16_t op = ledger_tx_op(tx);
        if (op == LEDGER_OP_MEMBER_PROPOSE || op == LEDGER_OP_MEMBER_APPROVE)
            return ldg_member_check(s, &st, tx, next);
        return ldg_upgrade_check(s, &st, tx, next);
    }
    if (!s->app.check)
        return LEDGER_OK;
    return s->app.check(s->app.ctx, &st, tx);
}

int ledger_store_check_tx(ledger_store *s, const ledger_tx *tx) {
    int status;
    if (!tx)
        return LEDGER_E_INVALID;
    int rc = ledger_store_check_txs(s, &tx, 1, &status);
    return rc ? rc : status;
}

int ledger_store_check_txs(ledger_store *s, const ledger_tx *const *txs, size_t n, int *statuses) {
    if (!s || (n && (!txs || !statuses)))
        return LEDGER_E_INVALID;
    MDB_txn *txn;
    int rc = rd_begin(s, &txn);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++)
        statuses[i] = txs[i] ? check_in_txn(s, txn, txs[i]) : LEDGER_E_INVALID;
    mdb_txn_abort(txn);
    return LEDGER_OK;
}

int ldg_store_check_context(const ledger_store *s, const ledger_block *b) {
    if (s->app_version > ldg_app_max(s))
        return LEDGER_E_UPGRADE_NEEDED; /* execute nothing at or past the activation */
    if (b->format < s->tip_format)
        return LEDGER_E_VERSION; /* a chain never goes back to an older header format */
    if (b->format < 2)
        return s->app_version == LEDGER_APP_VERSION_GENESIS ? LEDGER_OK : LEDGER_E_APP_VERSION;
    if (sodium_memcmp(b->epoch, s->epoch, 32) != 0)
        return LEDGER_E_EPOCH;
    if (b->app_version != s->app_version)
        return LEDGER_E_APP_VERSION;
    return LEDGER_OK;
}

/* Checks common to prepare and append: next height, link, timestamp, context. */
static int check_next(const ledger_store *s, const ledger_tip *t, const ledger_block *b) {
    if (b->height != t->height + 1 || sodium_memcmp(b->prev_hash, t->hash, 32) != 0)
        return LEDGER_E_HEIGHT;
    if (t->height && b->timestamp < t->timestamp)
        return LEDGER_E_TIMESTAMP;
    return ldg_store_check_context(s, b);
}

int ledger_store_block_context(ledger_store *s, uint32_t *app_version, uint8_t epoch[32]) {
    if (!s || !app_version || !epoch)
        return LEDGER_E_INVALID;
    pthread_mutex_lock(&s->wlock);
    *app_version = s->app_version;
    memcpy(epoch, s->epoch, 32);
    pthread_mutex_unlock(&s->wlock);
    return LEDGER_OK;
}

int ledger_store_prepare(ledger_store *s, const ledger_block *b, uint32_t flags,
                         uint8_t state_root[32]) {
    uint8_t digest[32];
    return ledger_store_prepare_digest(s, b, flags, state_root, digest);
}

int ledger_store_prepare_digest(ledger_store *s, const ledger_block *b, uint32_t flags,
                                uint8_t state_root[32], uint8_t state_digest[32]) {
    if (!s || !b || !state_root || !state_digest || (flags & ~LEDGER_PREPARE_VERIFY_TX))
        return LEDGER_E_INVALID;
    pthread_mutex_lock(&s->wlock);
    int rc = check_next(s, &s->tip, b);
    MDB_txn *txn = NULL;
    if (!rc) {
        int mrc = mdb_txn_begin(s->env, NULL, 0, &txn);
        rc = mrc ? ldg_mdb_err(mrc) : 0;
    }
    if (!rc)
        rc = ldg_exec_block(s, txn, b, s->tip.state_root, flags, state_root, NULL);
    if (!rc)
        rc = ldg_state_digest_txn(s, txn, state_digest);
    if (txn)
        mdb_txn_abort(txn);
    pthread_mutex_unlock(&s->wlock);
    return rc;
}

int ledger_store_append(ledger_store *s, const ledger_block *b) {
    return ledger_store_append_ex(s, b, 0);
}

static int append_impl(ledger_store *s, const ledger_block *b, uint32_t flags, int cert_checked);

int ledger_store_append_ex(ledger_store *s, const ledger_block *b, uint32_t flags) {
    return append_impl(s, b, flags, 0);
}

int ldg_store_append_verified(ledger_store *s, const ledger_block *b) {
    return append_impl(s, b, 0, 1);
}

static int append_impl(ledger_store *s, const ledger_block *b, uint32_t flags, int cert_checked) {
    if (!s || !b || (flags & ~LEDGER_PREPARE_VERIFY_TX))
        return LEDGER_E_INVALID;
    if (!b->cert)
        return LEDGER_E_CERTIFICATE;
    int rc = cert_checked ? 0 : ledger_cert_verify(b->cert, s->m, b->height, b->header_hash);
    if (rc)
        return rc;
    uint8_t *enc = NULL;
    size_t len = 0;
    if ((rc = ledger_block_encode(b, &enc, &len)) != 0)
        return rc;
    int32_t *statuses = malloc((b->ntx ? b->ntx : 1) * sizeof *statuses);
    if (!statuses) {
        ledger_free(enc);
        return LEDGER_E_NOMEM;
    }
    pthread_mutex_lock(&s->wlock);
    MDB_txn *txn = NULL;
    uint8_t root[32];
    rc = check_next(s, &s->tip, b);
    if (!rc) {
        int mrc = mdb_txn_begin(s->env, NULL, 0, &txn);
        rc = mrc ? ldg_mdb_err(mrc) : 0;
    }
    uint8_t *wit = NULL;
    size_t wit_len = 0;
    if (!rc)
        rc =
            ldg_exec_block_wit(s, txn, b, s->tip.state_root, flags, root, statuses, &wit, &wit_len);
    if (!rc && sodium_memcmp(root, b->state_root, 32) != 0)
        rc = LEDGER_E_STATE_ROOT;
    if (!rc && b->format >= 3) { /* the state digest the header commits to */
        uint8_t dg[32];
        rc = ldg_state_digest_txn(s, txn, dg);
        if (!rc && sodium_memcmp(dg, b->state_digest, 32) != 0)
            rc = LEDGER_E_STATE_ROOT;
    }
    int mrc = 0;
    if (!rc && wit) { /* a block deciding a membership change: keep its witness */
        uint8_t wk[sizeof META_WITNESS - 1 + 8];
        memcpy(wk, META_WITNESS, sizeof META_WITNESS - 1);
        ldg_put64(wk + sizeof META_WITNESS - 1, b->height);
        MDB_val k = ldg_val(wk, sizeof wk), v = ldg_val(wit, wit_len);
        mrc = mdb_put(txn, s->meta, &k, &v, 0);
    }
    free(wit);
    if (!rc) { /* block record */
        uint8_t hk[8];
        ldg_put64(hk, b->height);
        MDB_val k = ldg_val(hk, 8), v = ldg_val(enc, len);
        mrc = mdb_put(txn, s->blocks, &k, &v, MDB_APPEND);
    }
    if (!rc && !mrc) { /* time index */
        uint8_t tk[16];
        ldg_put64(tk, b->timestamp);
        ldg_put64(tk + 8, b->height);
        MDB_val k = ldg_val(tk, 16), v = ldg_val("", 0);
        mrc = mdb_put(txn, s->time, &k, &v, 0);
    }
    size_t off = ldg_header_size(b->format);
    for (size_t i = 0; !rc && !mrc && i < b->ntx; i++) { /* transaction index */
        const ledger_tx *tx = b->txs[i];
        uint8_t rec[TXREC_BYTES];
        ldg_put64(rec, b->height);
        ldg_put32(rec + 8, (uint32_t)i);
        ldg_put32(rec + 12, (uint32_t)(off + 4));
        ldg_put32(rec + 16, (uint32_t)tx->enc_len);
        ldg_put32(rec + 20, (uint32_t)statuses[i]);
        off += 4 + tx->enc_len;
        MDB_val k = ldg_val(tx->hash, 32), v = ldg_val(rec, sizeof rec);
        mrc = mdb_put(txn, s->txs, &k, &v, MDB_NOOVERWRITE);
        if (mrc == MDB_KEYEXIST)
            mrc = 0; /* an earlier copy of the same tx stays the indexed one */
    }
    ledger_tip nt;
    uint32_t next_version = s->app_version;
    if (!rc && !mrc)
        rc = ldg_upgrade_version_at(s, txn, b->height + 1, &next_version);
    ledger_membership *next_m = NULL; /* a change taking force at the next height */
    if (!rc && !mrc) {
        rc = ldg_member_record(s, txn, b->height + 1, &next_m);
        if (rc == LEDGER_E_NOT_FOUND)
            rc = LEDGER_OK;
    }
    if (!rc && !mrc) {
        nt.height = b->height;
        nt.timestamp = b->timestamp;
        memcpy(nt.hash, b->header_hash, 32);
        memcpy(nt.state_root, root, 32);
        uint8_t tb[TIP_BYTES];
        tip_encode(&nt, tb);
        mrc = meta_put(txn, s, META_TIP, tb, TIP_BYTES);
    }
    if (!rc && !mrc) {
        mrc = mdb_txn_commit(txn);
        txn = NULL;
        if (!mrc) {
            pthread_mutex_lock(&s->tlock);
            s->tip = nt;
            s->app_version = next_version;
            pthread_mutex_unlock(&s->tlock);
            s->tip_format = b->format;
            if (next_m) {
                rc = ldg_store_set_membership(s, next_m);
                next_m = NULL;
            }
        }
    }
    ledger_membership_free(next_m);
    if (!rc && mrc)
        rc = ldg_mdb_err(mrc);
    if (txn)
        mdb_txn_abort(txn);
    pthread_mutex_unlock(&s->wlock);
    free(statuses);
    ledger_free(enc);
    return rc;
}

static int block_raw(ledger_store *s, MDB_txn *txn, uint64_t height, MDB_val *v) {
    uint8_t hk[8];
    ldg_put64(hk, height);
    MDB_val k = ldg_val(hk, 8);
    return mdb_get(txn, s->blocks, &k, v);
}

/* A store started from a snapshot holds no block below its base. */
static int below_base(ledger_store *s, uint64_t height) {
    return height && height < ledger_store_snapshot_base(s);
}

int ledger_store_block_encoding(ledger_store *s, uint64_t height, uint8_t **out, size_t *len) {
    if (!out || !len)
        return LEDGER_E_INVALID;
    *out = NULL;
    *len = 0;
    if (!s)
        return LEDGER_E_INVALID;
    MDB_txn *txn;
    int rc = rd_begin(s, &txn);
    if (rc)
        return rc;
    MDB_val v;
    int mrc = block_raw(s, txn, height, &v);
    if (mrc)
        rc = mrc == MDB_NOTFOUND && below_base(s, height) ? LEDGER_E_SNAPSHOT : ldg_mdb_err(mrc);
    else if (!(*out = malloc(v.mv_size ? v.mv_size : 1)))
        rc = LEDGER_E_NOMEM;
    else {
        memcpy(*out, v.mv_data, v.mv_size);
        *len = v.mv_size;
    }
    mdb_txn_abort(txn);
    return rc;
}

int ledger_store_header(ledger_store *s, uint64_t height, uint8_t header[LEDGER_HEADER_BYTES],
                        size_t *header_len, uint8_t hash[32]) {
    if (!s || (!header && !hash) || (header && !header_len))
        return LEDGER_E_INVALID;
    MDB_txn *txn;
    int rc = rd_begin(s, &txn);
    if (rc)
        return rc;
    MDB_val v;
    int mrc = block_raw(s, txn, height, &v);
    size_t hsz = 0;
    if (!mrc && v.mv_size >= 5)
        hsz = ldg_header_size(((const uint8_t *)v.mv_data)[4]);
    if (mrc == MDB_NOTFOUND && below_base(s, height)) {
        /* a snapshot-started store: the header if it fetched it */
        const uint8_t *hp;
        size_t hl;
        rc = ldg_snapshot_header(s, txn, height, &hp, &hl, NULL, NULL);
        if (!rc && (hl > LEDGER_HEADER_BYTES || hl < 13 || ldg_get64(hp + 5) != height))
            rc = LEDGER_E_CORRUPT;
        if (!rc && header) {
            memcpy(header, hp, hl);
            *header_len = hl;
        }
        if (!rc && hash)
            crypto_hash_sha256(hash, hp, hl);
    } else if (mrc) {
        rc = ldg_mdb_err(mrc);
    } else if (!hsz || v.mv_size < hsz + 1 || memcmp(v.mv_data, LDG_BLOCK_MAGIC, 4) != 0) {
        rc = LEDGER_E_CORRUPT;
    } else {
        /* The block record starts with the header's fields behind its own magic. */
        uint8_t h[LEDGER_HEADER_BYTES];
        memcpy(h, LDG_HDR_MAGIC, 4);
        memcpy(h + 4, (const uint8_t *)v.mv_data + 4, hsz - 4);
        if (ldg_get64(h + 5) != height)
            rc = LEDGER_E_CORRUPT;
        else {
            if (header) {
                memcpy(header, h, hsz);
                *header_len = hsz;
            }
            if (hash)
                crypto_hash_sha256(hash, h, hsz);
        }
    }
    mdb_txn_abort(txn);
    return rc;
}

int ledger_store_block(ledger_store *s, uint64_t height, ledger_block **out) {
    if (!out)
        return LEDGER_E_INVALID;
    *out = NULL;
    if (!s)
        return LEDGER_E_INVALID;
    MDB_txn *txn;
    int rc = rd_begin(s, &txn);
    if (rc)
        return rc;
    MDB_val v;
    int mrc = block_raw(s, txn, height, &v);
    if (mrc)
        rc = mrc == MDB_NOTFOUND && below_base(s, height) ? LEDGER_E_SNAPSHOT : ldg_mdb_err(mrc);
    else {
        rc = ledger_block_decode(out, v.mv_data, v.mv_size);
        if (rc && rc != LEDGER_E_NOMEM)
            rc = LEDGER_E_CORRUPT;
        else if (!rc && (*out)->height != height) {
            ledger_block_free(*out);
            *out = NULL;
            rc = LEDGER_E_CORRUPT;
        }
    }
    mdb_txn_abort(txn);
    return rc;
}

int ledger_store_tx(ledger_store *s, const uint8_t hash[32], ledger_tx **out, uint64_t *height,
                    uint32_t *index, int *status) {
    if (out)
        *out = NULL;
    if (!s || !hash)
        return LEDGER_E_INVALID;
    MDB_txn *txn;
    int rc = rd_begin(s, &txn);
    if (rc)
        return rc;
    MDB_val k = ldg_val(hash, 32), v, bv;
    int mrc = mdb_get(txn, s->txs, &k, &v);
    if (mrc) {
        rc = ldg_mdb_err(mrc);
        goto done;
    }
    if (v.mv_size != TXREC_BYTES) {
        rc = LEDGER_E_CORRUPT;
        goto done;
    }
    const uint8_t *rec = v.mv_data;
    uint64_t h = ldg_get64(rec);
    uint32_t idx = ldg_get32(rec + 8), off = ldg_get32(rec + 12), tl = ldg_get32(rec + 16);
    int32_t st = (int32_t)ldg_get32(rec + 20);
    if (out) {
        mrc = block_raw(s, txn, h, &bv);
        if (mrc) {
            rc = mrc == MDB_NOTFOUND ? LEDGER_E_CORRUPT : ldg_mdb_err(mrc);
            goto done;
        }
        if ((uint64_t)off + tl > bv.mv_size) {
            rc = LEDGER_E_CORRUPT;
            goto done;
        }
        rc = ledger_tx_decode(out, (const uint8_t *)bv.mv_data + off, tl);
        if (rc) {
            rc = rc == LEDGER_E_NOMEM ? rc : LEDGER_E_CORRUPT;
            goto done;
        }
        if (sodium_memcmp((*out)->hash, hash, 32) != 0) {
            ledger_tx_free(*out);
            *out = NULL;
            rc = LEDGER_E_CORRUPT;
            goto done;
        }
    }
    if (height)
        *height = h;
    if (index)
        *index = idx;
    if (status)
        *status = st;
done:
    mdb_txn_abort(txn);
    return rc;
}

int ledger_store_get(ledger_store *s, const uint8_t *key, size_t klen, uint8_t **val,
                     size_t *vlen) {
    if (!val || !vlen)
        return LEDGER_E_INVALID;
    *val = NULL;
    *vlen = 0;
    if (!s || !key || klen == 0 || klen > LEDGER_STATE_KEY_MAX)
        return LEDGER_E_INVALID;
    MDB_txn *txn;
    int rc = rd_begin(s, &txn);
    if (rc)
        return rc;
    MDB_val k = ldg_val(key, klen), v;
    int mrc = mdb_get(txn, s->state, &k, &v);
    if (mrc)
        rc = ldg_mdb_err(mrc);
    else if (v.mv_size) {
        if (!(*val = malloc(v.mv_size)))
            rc = LEDGER_E_NOMEM;
        else {
            memcpy(*val, v.mv_data, v.mv_size);
            *vlen = v.mv_size;
        }
    }
    mdb_txn_abort(txn);
    return rc;
}

int ledger_store_query(ledger_store *s, const uint8_t *q, size_t qlen, uint8_t **out,
                       size_t *out_len) {
    if (!out || !out_len)
        return LEDGER_E_INVALID;
    *out = NULL;
    *out_len = 0;
    if (!s || (!q && qlen) || !s->app.query)
        return LEDGER_E_INVALID;
    MDB_txn *txn;
    int rc = rd_begin(s, &txn);
    if (rc)
        return rc;
    struct ledger_state st;
    pthread_mutex_lock(&s->tlock);
    uint64_t h = s->tip.height;
    pthread_mutex_unlock(&s->tlock);
    ldg_state_init(&st, s, txn, 0, h);
    rc = s->app.query(s->app.ctx, &st, q ? q : (const uint8_t *)"", qlen, out, out_len);
    if (rc) {
        free(*out);
        *out = NULL;
        *out_len = 0;
    }
    mdb_txn_abort(txn);
    return rc;
}

int ledger_store_trace(ledger_store *s, uint16_t op, const uint8_t *key, size_t klen, uint64_t from,
                       ledger_trace_entry *out, size_t max, size_t *n) {
    if (n)
        *n = 0;
    if (!s || !key || klen == 0 || klen > LEDGER_STATE_KEY_MAX || (!out && max) || !n)
        return LEDGER_E_INVALID;
    uint8_t buf[4 + LEDGER_STATE_KEY_MAX + 12];
    ldg_put16(buf, op);
    ldg_put16(buf + 2, (uint16_t)klen);
    memcpy(buf + 4, key, klen);
    ldg_put64(buf + 4 + klen, from);
    ldg_put32(buf + 12 + klen, 0);
    MDB_txn *txn;
    int rc = rd_begin(s, &txn);
    if (rc)
        return rc;
    MDB_cursor *cur;
    int mrc = mdb_cursor_open(txn, s->trace, &cur);
    if (mrc) {
        mdb_txn_abort(txn);
        return ldg_mdb_err(mrc);
    }
    MDB_val k = ldg_val(buf, 16 + klen), v;
    size_t got = 0;
    mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (mrc == MDB_SUCCESS && got < max) {
        if (k.mv_size != 16 + klen || memcmp(k.mv_data, buf, 4 + klen) != 0)
            break;
        const uint8_t *kp = k.mv_data;
        out[got].height = ldg_get64(kp + 4 + klen);
        out[got].index = ldg_get32(kp + 12 + klen);
        out[got].reserved = 0;
        got++;
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    rc = mrc == MDB_SUCCESS || mrc == MDB_NOTFOUND ? 0 : ldg_mdb_err(mrc);
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    *n = got;
    return rc;
}

int ledger_store_trace_time(ledger_store *s, uint64_t t0, uint64_t t1, uint64_t *heights,
                            size_t max, size_t *n) {
    if (n)
        *n = 0;
    if (!s || (!heights && max) || !n || t0 > t1)
        return LEDGER_E_INVALID;
    uint8_t buf[16];
    ldg_put64(buf, t0);
    ldg_put64(buf + 8, 0);
    MDB_txn *txn;
    int rc = rd_begin(s, &txn);
    if (rc)
        return rc;
    MDB_cursor *cur;
    int mrc = mdb_cursor_open(txn, s->time, &cur);
    if (mrc) {
        mdb_txn_abort(txn);
        return ldg_mdb_err(mrc);
    }
    MDB_val k = ldg_val(buf, 16), v;
    size_t got = 0;
    mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (mrc == MDB_SUCCESS && got < max) {
        if (k.mv_size != 16 || ldg_get64(k.mv_data) > t1)
            break;
        heights[got++] = ldg_get64((const uint8_t *)k.mv_data + 8);
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    rc = mrc == MDB_SUCCESS || mrc == MDB_NOTFOUND ? 0 : ldg_mdb_err(mrc);
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    *n = got;
    return rc;
}

/* Blob accounting (docs/ledger-storage.md §Blobs): meta "blob_bytes" holds the
 * bytes of every stored blob, table "blobuse" the bytes charged to each putter
 * key; both change in the write transaction that stores the blob. */
static int u64_get(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, uint64_t *v) {
    MDB_val k = ldg_val(key, klen), d;
    int mrc = mdb_get(txn, dbi, &k, &d);
    *v = 0;
    if (mrc == MDB_NOTFOUND)
        return 0;
    if (mrc)
        return ldg_mdb_err(mrc);
    if (d.mv_size != 8)
        return LEDGER_E_CORRUPT;
    *v = ldg_get64(d.mv_data);
    return 0;
}

static int u64_put(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, uint64_t v) {
    uint8_t b[8];
    ldg_put64(b, v);
    MDB_val k = ldg_val(key, klen), d = ldg_val(b, 8);
    int mrc = mdb_put(txn, dbi, &k, &d, 0);
    return mrc ? ldg_mdb_err(mrc) : 0;
}

/* A store written before blob accounting existed: count its blobs once,
 * charged to the operator (all-zero key). */
static int blob_accounting_init(ledger_store *s, MDB_txn *txn) {
    MDB_val k = ldg_val(META_BLOB_BYTES, strlen(META_BLOB_BYTES)), v;
    int mrc = mdb_get(txn, s->meta, &k, &v);
    if (mrc == 0)
        return v.mv_size == 8 ? 0 : LEDGER_E_CORRUPT;
    if (mrc != MDB_NOTFOUND)
        return ldg_mdb_err(mrc);
    MDB_cursor *cur;
    if ((mrc = mdb_cursor_open(txn, s->blob, &cur)) != 0)
        return ldg_mdb_err(mrc);
    uint64_t total = 0;
    MDB_val bk, bv;
    for (mrc = mdb_cursor_get(cur, &bk, &bv, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(cur, &bk, &bv, MDB_NEXT))
        total += bv.mv_size;
    mdb_cursor_close(cur);
    if (mrc != MDB_NOTFOUND)
        return ldg_mdb_err(mrc);
    static const uint8_t zero[32];
    int rc = u64_put(txn, s->meta, META_BLOB_BYTES, strlen(META_BLOB_BYTES), total);
    if (!rc && total)
        rc = u64_put(txn, s->blobuse, zero, 32, total);
    return rc;
}

int ldg_store_blob_put_hashed(ledger_store *s, const uint8_t putter[32], const uint8_t *data,
                              size_t len, const uint8_t h[32], uint64_t quota) {
    if (!s || !putter || !h || (!data && len) || (uint64_t)len > LEDGER_BLOB_MAX)
        return LEDGER_E_INVALID;
    pthread_mutex_lock(&s->wlock);
    MDB_txn *txn;
    int rc = 0, mrc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (mrc) {
        pthread_mutex_unlock(&s->wlock);
        return ldg_mdb_err(mrc);
    }
    MDB_val k = ldg_val(h, 32), v;
    mrc = mdb_get(txn, s->blob, &k, &v);
    if (mrc == 0) { /* stored already: nothing to do, nothing charged */
        mdb_txn_abort(txn);
        pthread_mutex_unlock(&s->wlock);
        return LEDGER_OK;
    }
    if (mrc != MDB_NOTFOUND)
        rc = ldg_mdb_err(mrc);
    uint64_t total = 0, used = 0;
    if (!rc)
        rc = u64_get(txn, s->meta, META_BLOB_BYTES, strlen(META_BLOB_BYTES), &total);
    if (!rc)
        rc = u64_get(txn, s->blobuse, putter, 32, &used);
    if (!rc && (len > quota || used > quota - len))
        rc = LEDGER_E_BLOB_QUOTA;
    if (!rc && (len > s->blob_limit || total > s->blob_limit - len))
        rc = LEDGER_E_BLOB_FULL;
    if (!rc) {
        /* keep a quarter of the map for blocks whatever the blob limit: the
         * file's highest page bounds what is in use (freed pages are reused) */
        MDB_envinfo ei;
        MDB_stat es;
        if (mdb_env_info(s->env, &ei) == 0 && mdb_env_stat(s->env, &es) == 0) {
            uint64_t psize = es.ms_psize, in_use = ((uint64_t)ei.me_last_pgno + 1) * psize;
            uint64_t need = (uint64_t)len + 4 * psize, reserve = s->map_size / 4;
            if (in_use + need > s->map_size - reserve)
                rc = LEDGER_E_BLOB_FULL;
        } else
            rc = LEDGER_E_IO;
    }
    if (!rc) {
        v = ldg_val(data ? data : (const uint8_t *)"", len);
        mrc = mdb_put(txn, s->blob, &k, &v, MDB_NOOVERWRITE);
        rc = mrc ? ldg_mdb_err(mrc) : 0;
    }
    if (!rc)
        rc = u64_put(txn, s->blobuse, putter, 32, used + len);
    if (!rc)
        rc = u64_put(txn, s->meta, META_BLOB_BYTES, strlen(META_BLOB_BYTES), total + len);
    if (!rc) {
        mrc = mdb_txn_commit(txn);
        rc = mrc ? ldg_mdb_err(mrc) : 0;
    } else
        mdb_txn_abort(txn);
    pthread_mutex_unlock(&s->wlock);
    return rc;
}

int ledger_store_blob_put_as(ledger_store *s, const uint8_t putter[32], const uint8_t *data,
                             size_t len, uint64_t quota, uint8_t hash[32]) {
    uint8_t h[32];
    if (!s || !putter || (!data && len) || (uint64_t)len > LEDGER_BLOB_MAX)
        return LEDGER_E_INVALID;
    crypto_hash_sha256(h, data ? data : (const uint8_t *)"", len);
    int rc = ldg_store_blob_put_hashed(s, putter, data, len, h, quota);
    if (!rc && hash)
        memcpy(hash, h, 32);
    return rc;
}

int ledger_store_blob_put(ledger_store *s, const uint8_t *data, size_t len, uint8_t hash[32]) {
    static const uint8_t operator_key[32];
    return ledger_store_blob_put_as(s, operator_key, data, len, LEDGER_BLOB_QUOTA_NONE, hash);
}

int ledger_store_blob_usage(ledger_store *s, const uint8_t putter[32], uint64_t *bytes) {
    if (!s || !bytes)
        return LEDGER_E_INVALID;
    *bytes = 0;
    MDB_txn *txn;
    int rc = rd_begin(s, &txn);
    if (rc)
        return rc;
    rc = putter ? u64_get(txn, s->blobuse, putter, 32, bytes)
                : u64_get(txn, s->meta, META_BLOB_BYTES, strlen(META_BLOB_BYTES), bytes);
    mdb_txn_abort(txn);
    return rc;
}

int ledger_store_blob_get(ledger_store *s, const uint8_t hash[32], uint8_t **data, size_t *len) {
    if (!data || !len)
        return LEDGER_E_INVALID;
    *data = NULL;
    *len = 0;
    if (!s || !hash)
        return LEDGER_E_INVALID;
    MDB_txn *txn;
    int rc = rd_begin(s, &txn);
    if (rc)
        return rc;
    MDB_val k = ldg_val(hash, 32), v;
    int mrc = mdb_get(txn, s->blob, &k, &v);
    if (mrc)
        rc = ldg_mdb_err(mrc);
    else {
        uint8_t h[32];
        crypto_hash_sha256(h, v.mv_data, v.mv_size);
        if (sodium_memcmp(h, hash, 32) != 0)
            rc = LEDGER_E_HASH;
        else if (!(*data = malloc(v.mv_size ? v.mv_size : 1)))
            rc = LEDGER_E_NOMEM;
        else {
            memcpy(*data, v.mv_data, v.mv_size);
            *len = v.mv_size;
        }
    }
    mdb_txn_abort(txn);
    return rc;
}

int ledger_store_proof(ledger_store *s, const uint8_t tx_hash[32], ledger_proof **out) {
    if (!out)
        return LEDGER_E_INVALID;
    *out = NULL;
    uint64_t h;
    uint32_t idx;
    int rc = ledger_store_tx(s, tx_hash, NULL, &h, &idx, NULL);
    if (rc)
        return rc;
    ledger_block *b;
    if ((rc = ledger_store_block(s, h, &b)) != 0)
        return rc == LEDGER_E_NOT_FOUND ? LEDGER_E_CORRUPT : rc;
    if (idx >= b->ntx || sodium_memcmp(b->txs[idx]->hash, tx_hash, 32) != 0 || !b->cert)
        rc = LEDGER_E_CORRUPT;
    else
        rc = ledger_proof_from_block(out, b, idx);
    ledger_block_free(b);
    return rc;
}

int ldg_store_witness(ledger_store *s, MDB_txn *txn, uint64_t height, uint8_t **out, size_t *len) {
    uint8_t wk[sizeof META_WITNESS - 1 + 8];
    memcpy(wk, META_WITNESS, sizeof META_WITNESS - 1);
    ldg_put64(wk + sizeof META_WITNESS - 1, height);
    MDB_val k = ldg_val(wk, sizeof wk), v;
    int mrc = mdb_get(txn, s->meta, &k, &v);
    if (mrc)
        return ldg_mdb_err(mrc);
    *out = malloc(v.mv_size ? v.mv_size : 1);
    if (!*out)
        return LEDGER_E_NOMEM;
    memcpy(*out, v.mv_data, v.mv_size);
    *len = v.mv_size;
    return LEDGER_OK;
}
