/* libledger: state snapshots — export in bounded chunks, staged import into an
 * empty store (docs/ledger-storage.md §Snapshots, docs/formats/ledger.md
 * §Snapshot chunk). */
#include "store_internal.h"

#include "ledger/snapshot.h"

#include <sodium.h>

#define CHUNK_MAGIC   "LDSC"
#define CHUNK_VERSION 1
#define CHUNK_HDR     26 /* magic 4, version 1, height 8, index 8, flags 1, count 4 */
#define CHUNK_LAST    0x01
#define KEY_MAX       510u        /* namespace byte + key must fit LMDB's 511-byte key */
#define VAL_MAX       (16u << 20) /* state values are bounded at 16 MiB */
#define TAG_START     "FSLEDGER/SNAP/S1"
#define TAG_CHUNK     "FSLEDGER/SNAP/C1"
#define META_IMPORT   "snapimport"
#define META_BASE     "snapbase"
#define IMPORT_FIXED  (1 + 8 + 32 + 32 + 8 + 32 + 1 + 2)
#define IMPORT_VER    2 /* 2: the state digest's accumulator follows the fixed part */

struct ledger_snapshot {
    ledger_store *s;
    MDB_txn *txn;
    uint64_t height;
    uint8_t header_hash[32];
    uint8_t format;           /* header format of the block at height */
    uint8_t state_digest[32]; /* format 3: the state digest its header commits to */
};

struct ledger_snapshot_import {
    ledger_store *s;
    ledger_block *b;
    uint8_t expect[32]; /* the trusted digest */
    uint64_t next;      /* index of the next chunk */
    uint8_t d[32];      /* the digest chain so far */
    ldg_lthash acc;     /* LtHash of the entries staged so far (the state digest's) */
    int complete;
    size_t rlen;
    uint8_t resume[LEDGER_SNAPSHOT_RESUME_MAX];
};

size_t ledger_snapshot_chunk_bytes(void) {
    return LEDGER_SNAPSHOT_CHUNK_BYTES;
}

/* LMDB's default key order: bytewise over the common length, then shorter first. */
static int key_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl) {
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c)
        return c;
    return al < bl ? -1 : al > bl ? 1 : 0;
}

static void digest_start(uint64_t height, const uint8_t header_hash[32], uint8_t d[32]) {
    crypto_hash_sha256_state h;
    uint8_t hb[8];
    ldg_put64(hb, height);
    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, (const uint8_t *)TAG_START, 16);
    crypto_hash_sha256_update(&h, hb, 8);
    crypto_hash_sha256_update(&h, header_hash, 32);
    crypto_hash_sha256_final(&h, d);
}

static void digest_step(uint8_t d[32], const uint8_t *chunk, size_t len) {
    uint8_t ch[32];
    crypto_hash_sha256(ch, chunk, len);
    crypto_hash_sha256_state h;
    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, (const uint8_t *)TAG_CHUNK, 16);
    crypto_hash_sha256_update(&h, d, 32);
    crypto_hash_sha256_update(&h, ch, 32);
    crypto_hash_sha256_final(&h, d);
}

/* ---- chunk codec ---- */

typedef struct chunk_hdr {
    uint64_t height, index;
    int last;
    uint32_t count;
} chunk_hdr;

typedef int (*entry_fn)(void *ctx, uint8_t ns, const uint8_t *k, size_t kl, const uint8_t *v,
                        size_t vl);

/* Strict decoder: every field in range, entries in increasing (namespace, key)
 * order, nothing after the last entry. Calls fn (when not NULL) per entry. */
static int chunk_parse(const uint8_t *p, size_t n, chunk_hdr *h, entry_fn fn, void *ctx) {
    if (!p || n < CHUNK_HDR || memcmp(p, CHUNK_MAGIC, 4) != 0)
        return LEDGER_E_DECODE;
    if (p[4] != CHUNK_VERSION)
        return LEDGER_E_VERSION;
    h->height = ldg_get64(p + 5);
    h->index = ldg_get64(p + 13);
    if (p[21] & ~CHUNK_LAST)
        return LEDGER_E_DECODE;
    h->last = p[21] & CHUNK_LAST;
    h->count = ldg_get32(p + 22);
    if (h->height == 0 || (h->count == 0 && !(h->index == 0 && h->last)))
        return LEDGER_E_DECODE;
    if (n > LEDGER_SNAPSHOT_CHUNK_BYTES && h->count != 1)
        return LEDGER_E_DECODE;
    size_t off = CHUNK_HDR;
    const uint8_t *pk = NULL;
    size_t pkl = 0;
    uint8_t pns = 0;
    for (uint32_t i = 0; i < h->count; i++) {
        if (n - off < 5)
            return LEDGER_E_DECODE;
        uint8_t ns = p[off];
        uint32_t kl = ldg_get32(p + off + 1);
        off += 5;
        if (ns > 1 || kl == 0 || kl > KEY_MAX || n - off < (size_t)kl + 4)
            return LEDGER_E_DECODE;
        const uint8_t *k = p + off;
        off += kl;
        uint32_t vl = ldg_get32(p + off);
        off += 4;
        if (vl > VAL_MAX || n - off < vl || (ns == 1 && (kl != 32 || vl != 8)))
            return LEDGER_E_DECODE;
        const uint8_t *v = p + off;
        off += vl;
        if (pk && (ns < pns || (ns == pns && key_cmp(pk, pkl, k, kl) >= 0)))
            return LEDGER_E_DECODE;
        pk = k;
        pkl = kl;
        pns = ns;
        if (fn) {
            int rc = fn(ctx, ns, k, kl, v, vl);
            if (rc)
                return rc;
        }
    }
    return off == n ? LEDGER_OK : LEDGER_E_DECODE;
}

int ledger_snapshot_chunk_check(const uint8_t *chunk, size_t len, uint64_t *height, uint64_t *index,
                                int *last, uint32_t *count) {
    chunk_hdr h;
    if (!chunk)
        return LEDGER_E_INVALID;
    int rc = chunk_parse(chunk, len, &h, NULL, NULL);
    if (rc)
        return rc;
    if (height)
        *height = h.height;
    if (index)
        *index = h.index;
    if (last)
        *last = h.last;
    if (count)
        *count = h.count;
    return LEDGER_OK;
}

/* ---- export ---- */

int ledger_store_snapshot_begin(ledger_store *s, ledger_snapshot **out) {
    if (!out)
        return LEDGER_E_INVALID;
    *out = NULL;
    if (!s)
        return LEDGER_E_INVALID;
    ledger_snapshot *x = calloc(1, sizeof *x);
    if (!x)
        return LEDGER_E_NOMEM;
    x->s = s;
    int mrc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &x->txn);
    if (mrc) {
        free(x);
        return ldg_mdb_err(mrc);
    }
    /* the tip as this read transaction sees it */
    MDB_val k = ldg_val("tip", 3), v;
    mrc = mdb_get(x->txn, s->meta, &k, &v);
    int rc = LEDGER_OK;
    if (mrc == MDB_NOTFOUND)
        rc = LEDGER_E_NOT_FOUND;
    else if (mrc)
        rc = ldg_mdb_err(mrc);
    else if (v.mv_size != 80)
        rc = LEDGER_E_CORRUPT;
    else {
        x->height = ldg_get64(v.mv_data);
        memcpy(x->header_hash, (const uint8_t *)v.mv_data + 16, 32);
        uint8_t hk[8];
        ldg_put64(hk, x->height);
        MDB_val bk = ldg_val(hk, 8), bv;
        mrc = mdb_get(x->txn, s->blocks, &bk, &bv);
        const uint8_t *bp = bv.mv_data;
        if (mrc)
            rc = mrc == MDB_NOTFOUND ? LEDGER_E_CORRUPT : ldg_mdb_err(mrc);
        else if (bv.mv_size < LEDGER_HEADER_V3_BYTES || bp[4] < 3)
            x->format = bv.mv_size >= 5 ? bp[4] : 0;
        else {
            x->format = bp[4];
            memcpy(x->state_digest, bp + 167, 32); /* the block repeats the header's fields */
        }
    }
    if (rc) {
        ledger_snapshot_free(x);
        return rc;
    }
    *out = x;
    return LEDGER_OK;
}

void ledger_snapshot_free(ledger_snapshot *x) {
    if (!x)
        return;
    if (x->txn)
        mdb_txn_abort(x->txn);
    free(x);
}

uint64_t ledger_snapshot_height(const ledger_snapshot *x) {
    return x ? x->height : 0;
}

typedef struct buf {
    uint8_t *p;
    size_t n, cap;
} buf;

static int buf_put(buf *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        size_t c = b->cap ? b->cap : 4096;
        while (c < b->n + n)
            c *= 2;
        uint8_t *q = realloc(b->p, c);
        if (!q)
            return LEDGER_E_NOMEM;
        b->p = q;
        b->cap = c;
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
    return LEDGER_OK;
}

/* The last (namespace, key) of a chunk, as a resume key. */
typedef struct last_key {
    uint8_t k[LEDGER_SNAPSHOT_RESUME_MAX];
    size_t n;
} last_key;

static int remember_last(void *ctx, uint8_t ns, const uint8_t *k, size_t kl, const uint8_t *v,
                         size_t vl) {
    last_key *l = ctx;
    (void)v;
    (void)vl;
    l->k[0] = ns;
    memcpy(l->k + 1, k, kl);
    l->n = kl + 1;
    return LEDGER_OK;
}

/* Position cur at the first entry of namespace ns after key (or the first). */
static int seek_after(MDB_cursor *cur, const uint8_t *key, size_t kl, MDB_val *k, MDB_val *v) {
    if (!key)
        return mdb_cursor_get(cur, k, v, MDB_FIRST);
    *k = ldg_val(key, kl);
    int mrc = mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
    if (mrc == MDB_SUCCESS && key_cmp(k->mv_data, k->mv_size, key, kl) == 0)
        mrc = mdb_cursor_get(cur, k, v, MDB_NEXT);
    return mrc;
}

/* Is there an entry after (ns, key) in the export (in ns, or in a later namespace)? */
static int has_after(ledger_snapshot *x, unsigned ns, const uint8_t *key, size_t kl, int *more) {
    MDB_dbi dbis[2] = {x->s->state, x->s->nonce};
    *more = 0;
    for (; ns < 2 && !*more; ns++, key = NULL) {
        MDB_cursor *cur;
        int mrc = mdb_cursor_open(x->txn, dbis[ns], &cur);
        if (mrc)
            return ldg_mdb_err(mrc);
        MDB_val k, v;
        mrc = seek_after(cur, key, kl, &k, &v);
        mdb_cursor_close(cur);
        if (mrc == MDB_SUCCESS)
            *more = 1;
        else if (mrc != MDB_NOTFOUND)
            return ldg_mdb_err(mrc);
    }
    return LEDGER_OK;
}

int ledger_snapshot_chunk(ledger_snapshot *x, uint64_t index, const uint8_t *resume,
                          size_t resume_len, uint8_t **out, size_t *len) {
    if (!out || !len)
        return LEDGER_E_INVALID;
    *out = NULL;
    *len = 0;
    if (!x || (resume_len && !resume) || resume_len == 1 ||
        resume_len > LEDGER_SNAPSHOT_RESUME_MAX || (resume_len && resume[0] > 1) ||
        (index == 0) != (resume_len == 0))
        return LEDGER_E_INVALID;
    MDB_dbi dbis[2] = {x->s->state, x->s->nonce};
    buf b = {0};
    uint8_t hdr[CHUNK_HDR] = {0};
    int rc = buf_put(&b, hdr, sizeof hdr);
    uint32_t count = 0;
    int more = 0, full = 0;
    last_key lk = {.n = 0};
    for (unsigned ns = resume_len ? resume[0] : 0; !rc && ns < 2 && !full; ns++) {
        MDB_cursor *cur;
        int mrc = mdb_cursor_open(x->txn, dbis[ns], &cur);
        if (mrc) {
            rc = ldg_mdb_err(mrc);
            break;
        }
        MDB_val k, v;
        int from_resume = resume_len && ns == resume[0];
        mrc = seek_after(cur, from_resume ? resume + 1 : NULL, from_resume ? resume_len - 1 : 0, &k,
                         &v);
        for (; mrc == MDB_SUCCESS; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            size_t esz = 9 + k.mv_size + v.mv_size;
            if (k.mv_size == 0 || k.mv_size > KEY_MAX || v.mv_size > VAL_MAX) {
                rc = LEDGER_E_CORRUPT;
                break;
            }
            if (count && b.n + esz > LEDGER_SNAPSHOT_CHUNK_BYTES) {
                more = full = 1; /* this entry opens the next chunk */
                break;
            }
            uint8_t eh[5], vh[4];
            eh[0] = (uint8_t)ns;
            ldg_put32(eh + 1, (uint32_t)k.mv_size);
            ldg_put32(vh, (uint32_t)v.mv_size);
            if ((rc = buf_put(&b, eh, 5)) != 0 || (rc = buf_put(&b, k.mv_data, k.mv_size)) != 0 ||
                (rc = buf_put(&b, vh, 4)) != 0 || (rc = buf_put(&b, v.mv_data, v.mv_size)) != 0)
                break;
            count++;
            if (b.n >= LEDGER_SNAPSHOT_CHUNK_BYTES) { /* a single large entry travels alone */
                remember_last(&lk, (uint8_t)ns, k.mv_data, k.mv_size, NULL, 0);
                full = 1;
                break;
            }
        }
        if (!rc && !full && mrc != MDB_NOTFOUND)
            rc = ldg_mdb_err(mrc);
        mdb_cursor_close(cur);
    }
    if (!rc && full && !more)
        rc = has_after(x, lk.k[0], lk.k + 1, lk.n - 1, &more);
    if (rc) {
        free(b.p);
        return rc;
    }
    memcpy(b.p, CHUNK_MAGIC, 4);
    b.p[4] = CHUNK_VERSION;
    ldg_put64(b.p + 5, x->height);
    ldg_put64(b.p + 13, index);
    b.p[21] = more ? 0 : CHUNK_LAST;
    ldg_put32(b.p + 22, count);
    *out = b.p;
    *len = b.n;
    return LEDGER_OK;
}

int ledger_snapshot_digest(ledger_snapshot *x, uint8_t digest[32], uint64_t *nchunks) {
    if (!x || !digest)
        return LEDGER_E_INVALID;
    if (x->format >= 3 && !nchunks) {
        /* the header commits to the state: no walk (and no pause on the
         * replica's loop thread); the receiver checks the entries against it */
        memcpy(digest, x->state_digest, 32);
        return LEDGER_OK;
    }
    uint8_t d[32];
    digest_start(x->height, x->header_hash, d);
    last_key lk = {.n = 0};
    for (uint64_t i = 0;; i++) {
        uint8_t *c;
        size_t n;
        int rc = ledger_snapshot_chunk(x, i, lk.k, lk.n, &c, &n);
        if (rc)
            return rc;
        chunk_hdr h;
        rc = chunk_parse(c, n, &h, remember_last, &lk);
        if (!rc)
            digest_step(d, c, n);
        free(c);
        if (rc)
            return rc == LEDGER_E_NOMEM ? rc : LEDGER_E_CORRUPT;
        if (h.last) {
            memcpy(digest, x->format >= 3 ? x->state_digest : d, 32);
            if (nchunks)
                *nchunks = i + 1;
            return LEDGER_OK;
        }
    }
}

int ledger_snapshot_block(ledger_snapshot *x, uint8_t **out, size_t *len) {
    if (!out || !len)
        return LEDGER_E_INVALID;
    *out = NULL;
    *len = 0;
    if (!x)
        return LEDGER_E_INVALID;
    uint8_t hk[8];
    ldg_put64(hk, x->height);
    MDB_val k = ldg_val(hk, 8), v;
    int mrc = mdb_get(x->txn, x->s->blocks, &k, &v);
    if (mrc)
        return mrc == MDB_NOTFOUND ? LEDGER_E_CORRUPT : ldg_mdb_err(mrc);
    if (!(*out = malloc(v.mv_size ? v.mv_size : 1)))
        return LEDGER_E_NOMEM;
    memcpy(*out, v.mv_data, v.mv_size);
    *len = v.mv_size;
    return LEDGER_OK;
}

/* ---- import ---- */

static int meta_put(MDB_txn *txn, ledger_store *s, const char *name, const void *p, size_t n) {
    MDB_val k = ldg_val(name, strlen(name)), v = ldg_val(p, n);
    return mdb_put(txn, s->meta, &k, &v, 0);
}

static int import_save(MDB_txn *txn, const ledger_snapshot_import *im) {
    uint8_t rec[IMPORT_FIXED + LDG_LTHASH_BYTES + LEDGER_SNAPSHOT_RESUME_MAX];
    rec[0] = IMPORT_VER;
    ldg_put64(rec + 1, im->b->height);
    memcpy(rec + 9, im->b->header_hash, 32);
    memcpy(rec + 41, im->expect, 32);
    ldg_put64(rec + 73, im->next);
    memcpy(rec + 81, im->d, 32);
    rec[113] = (uint8_t)im->complete;
    ldg_put16(rec + 114, (uint16_t)im->rlen);
    ldg_lthash_encode(&im->acc, rec + IMPORT_FIXED);
    memcpy(rec + IMPORT_FIXED + LDG_LTHASH_BYTES, im->resume, im->rlen);
    return meta_put(txn, im->s, META_IMPORT, rec, IMPORT_FIXED + LDG_LTHASH_BYTES + im->rlen);
}

/* Drop what was staged and start again from chunk 0 (in txn). */
static int import_reset(MDB_txn *txn, ledger_snapshot_import *im) {
    int mrc = mdb_drop(txn, im->s->snapstage, 0);
    im->next = 0;
    im->complete = 0;
    im->rlen = 0;
    memset(&im->acc, 0, sizeof im->acc);
    digest_start(im->b->height, im->b->header_hash, im->d);
    return mrc ? mrc : import_save(txn, im);
}

static int store_is_empty(ledger_store *s) {
    pthread_mutex_lock(&s->tlock);
    int empty = s->tip.height == 0;
    pthread_mutex_unlock(&s->tlock);
    return empty && s->snap_base == 0;
}

int ledger_store_snapshot_import_begin(ledger_store *s, const uint8_t *block, size_t block_len,
                                       const uint8_t digest[32], ledger_snapshot_import **out) {
    if (!out)
        return LEDGER_E_INVALID;
    *out = NULL;
    if (!s || !block || !digest)
        return LEDGER_E_INVALID;
    ledger_snapshot_import *im = calloc(1, sizeof *im);
    if (!im)
        return LEDGER_E_NOMEM;
    im->s = s;
    memcpy(im->expect, digest, 32);
    int rc = ledger_block_decode(&im->b, block, block_len);
    if (!rc && !im->b->cert)
        rc = LEDGER_E_CERTIFICATE;
    /* a format 3 block names the state digest: the trusted digest must be it */
    if (!rc && im->b->format >= 3 && sodium_memcmp(digest, im->b->state_digest, 32) != 0)
        rc = LEDGER_E_HASH;
    if (rc) {
        ledger_snapshot_import_free(im);
        return rc;
    }
    pthread_mutex_lock(&s->wlock);
    MDB_txn *txn = NULL;
    int mrc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (mrc)
        rc = ldg_mdb_err(mrc);
    if (!rc && !store_is_empty(s)) {
        rc = LEDGER_E_INVALID;
        /* a store that went on by blocks has no use for a staged import */
        MDB_val k = ldg_val(META_IMPORT, strlen(META_IMPORT));
        mdb_del(txn, s->meta, &k, NULL);
        mdb_drop(txn, s->snapstage, 0);
        if (mdb_txn_commit(txn) == 0)
            txn = NULL;
    }
    if (!rc) {
        MDB_val k = ldg_val(META_IMPORT, strlen(META_IMPORT)), v;
        mrc = mdb_get(txn, s->meta, &k, &v);
        const uint8_t *r = v.mv_data;
        /* (a version 1 record, written before the state digest, is not
         * resumed: the import starts over) */
        if (mrc == MDB_SUCCESS && v.mv_size >= IMPORT_FIXED + LDG_LTHASH_BYTES &&
            r[0] == IMPORT_VER && ldg_get64(r + 1) == im->b->height &&
            memcmp(r + 9, im->b->header_hash, 32) == 0 && memcmp(r + 41, digest, 32) == 0 &&
            ldg_get16(r + 114) <= LEDGER_SNAPSHOT_RESUME_MAX &&
            v.mv_size == IMPORT_FIXED + LDG_LTHASH_BYTES + (size_t)ldg_get16(r + 114) &&
            r[113] <= 1) {
            /* resume where a previous process stopped */
            im->next = ldg_get64(r + 73);
            memcpy(im->d, r + 81, 32);
            im->complete = r[113];
            im->rlen = ldg_get16(r + 114);
            ldg_lthash_decode(&im->acc, r + IMPORT_FIXED);
            memcpy(im->resume, r + IMPORT_FIXED + LDG_LTHASH_BYTES, im->rlen);
            mdb_txn_abort(txn);
            txn = NULL;
        } else if (mrc == MDB_SUCCESS || mrc == MDB_NOTFOUND) {
            mrc = import_reset(txn, im);
            if (!mrc)
                mrc = mdb_txn_commit(txn);
            txn = NULL;
            rc = ldg_mdb_err(mrc);
        } else {
            rc = ldg_mdb_err(mrc);
        }
    }
    if (txn)
        mdb_txn_abort(txn);
    pthread_mutex_unlock(&s->wlock);
    if (rc) {
        ledger_snapshot_import_free(im);
        return rc;
    }
    *out = im;
    return LEDGER_OK;
}

void ledger_snapshot_import_free(ledger_snapshot_import *im) {
    if (!im)
        return;
    ledger_block_free(im->b);
    free(im);
}

int ledger_snapshot_import_next(const ledger_snapshot_import *im, uint64_t *index, uint8_t *resume,
                                size_t *resume_len, int *complete) {
    if (!im || !index || !resume || !resume_len || !complete)
        return LEDGER_E_INVALID;
    *index = im->next;
    memcpy(resume, im->resume, im->rlen);
    *resume_len = im->rlen;
    *complete = im->complete;
    return LEDGER_OK;
}

typedef struct stage_ctx {
    MDB_txn *txn;
    MDB_dbi dbi;
    last_key lk;
    ldg_lthash *acc; /* each staged entry joins the import's accumulator */
} stage_ctx;

static int stage_entry(void *ctx, uint8_t ns, const uint8_t *k, size_t kl, const uint8_t *v,
                       size_t vl) {
    stage_ctx *c = ctx;
    remember_last(&c->lk, ns, k, kl, v, vl);
    ldg_lthash_update(c->acc, 1, ns, k, kl, v, vl);
    MDB_val mk = ldg_val(c->lk.k, c->lk.n), mv = ldg_val(v, vl);
    int mrc = mdb_put(c->txn, c->dbi, &mk, &mv, MDB_APPEND);
    if (mrc == MDB_KEYEXIST)
        return LEDGER_E_HEIGHT; /* not after what is staged */
    return mrc ? ldg_mdb_err(mrc) : LEDGER_OK;
}

int ledger_snapshot_import_chunk(ledger_snapshot_import *im, const uint8_t *chunk, size_t len) {
    if (!im || !chunk)
        return LEDGER_E_INVALID;
    chunk_hdr h;
    int rc = chunk_parse(chunk, len, &h, NULL, NULL); /* decode fully before writing */
    if (rc)
        return rc;
    if (im->complete || h.height != im->b->height || h.index != im->next)
        return LEDGER_E_HEIGHT;
    ledger_store *s = im->s;
    pthread_mutex_lock(&s->wlock);
    if (!store_is_empty(s)) {
        pthread_mutex_unlock(&s->wlock);
        return LEDGER_E_INVALID;
    }
    MDB_txn *txn;
    int mrc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (mrc) {
        pthread_mutex_unlock(&s->wlock);
        return ldg_mdb_err(mrc);
    }
    ledger_snapshot_import saved = *im;
    stage_ctx c = {.txn = txn, .dbi = s->snapstage, .acc = &im->acc};
    c.lk.n = 0;
    rc = chunk_parse(chunk, len, &h, stage_entry, &c);
    /* the first key must come after the resume key (MDB_APPEND checks it only
     * against the staging table's last key, which is the same thing) */
    if (!rc) {
        digest_step(im->d, chunk, len);
        im->next++;
        if (c.lk.n) {
            memcpy(im->resume, c.lk.k, c.lk.n);
            im->rlen = c.lk.n;
        }
        if (h.last)
            im->complete = 1;
    }
    /* the last chunk: a format 3 block's header commits to the state digest,
     * which the staged entries must reproduce; older blocks name none, and the
     * chain of chunk hashes must be the digest the caller trusts */
    int mismatch = 0;
    if (!rc && h.last && im->b->format >= 3) {
        uint8_t dg[32];
        ldg_lthash_digest(&im->acc, dg);
        mismatch = sodium_memcmp(dg, im->b->state_digest, 32) != 0;
    } else if (!rc && h.last) {
        mismatch = sodium_memcmp(im->d, im->expect, 32) != 0;
    }
    if (!rc && !mismatch) {
        mrc = import_save(txn, im);
        if (!mrc)
            mrc = mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
        txn = NULL;
        rc = ldg_mdb_err(mrc);
    }
    if (txn)
        mdb_txn_abort(txn);
    if (rc) {
        *im = saved; /* nothing of this chunk was staged */
    } else if (mismatch) {
        /* some chunk (this one or an earlier one) was not the snapshot the
         * digest names: drop everything staged */
        *im = saved;
        rc = LEDGER_E_HASH;
        if ((mrc = mdb_txn_begin(s->env, NULL, 0, &txn)) == 0) {
            mrc = import_reset(txn, im);
            if (!mrc)
                mrc = mdb_txn_commit(txn);
            else
                mdb_txn_abort(txn);
        }
        if (mrc)
            rc = ldg_mdb_err(mrc);
    }
    pthread_mutex_unlock(&s->wlock);
    return rc;
}

int ledger_snapshot_import_finish(ledger_snapshot_import *im) {
    if (!im || !im->complete)
        return LEDGER_E_INVALID;
    ledger_store *s = im->s;
    const ledger_block *b = im->b;
    uint8_t *enc = NULL;
    size_t elen = 0;
    int rc = ledger_block_encode(b, &enc, &elen);
    if (rc)
        return rc;
    pthread_mutex_lock(&s->wlock);
    MDB_txn *txn = NULL;
    ledger_membership *mb = NULL, *next_m = NULL;
    uint32_t ver = 0, next_ver = 0;
    if (!store_is_empty(s))
        rc = LEDGER_E_INVALID;
    int mrc = 0;
    if (!rc && (mrc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
        rc = ldg_mdb_err(mrc);
    if (!rc) { /* staged entries into the state and nonce tables (both empty) */
        MDB_cursor *cur;
        if ((mrc = mdb_cursor_open(txn, s->snapstage, &cur)) == 0) {
            MDB_val k, v;
            for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == MDB_SUCCESS;
                 mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
                const uint8_t *kk = k.mv_data;
                if (k.mv_size < 2 || kk[0] > 1) {
                    mrc = MDB_CORRUPTED;
                    break;
                }
                MDB_val dk = ldg_val(kk + 1, k.mv_size - 1);
                if ((mrc = mdb_put(txn, kk[0] ? s->nonce : s->state, &dk, &v, MDB_APPEND)) != 0)
                    break;
            }
            if (mrc == MDB_NOTFOUND)
                mrc = 0;
            mdb_cursor_close(cur);
        }
        rc = mrc == MDB_CORRUPTED ? LEDGER_E_CORRUPT : ldg_mdb_err(mrc);
    }
    /* the block must agree with the state it claims: certified by the
     * membership in force at its height, naming it and the version in force */
    if (!rc)
        rc = ldg_membership_at(s, txn, b->height, &mb);
    if (!rc)
        rc = ledger_cert_verify(b->cert, mb, b->height, b->header_hash);
    if (!rc && b->format >= 2) {
        uint8_t eh[32];
        rc = ldg_membership_hash(mb, eh);
        if (!rc && sodium_memcmp(eh, b->epoch, 32) != 0)
            rc = LEDGER_E_EPOCH;
        if (!rc)
            rc = ldg_upgrade_version_at(s, txn, b->height, &ver);
        if (!rc && ver != b->app_version)
            rc = LEDGER_E_APP_VERSION;
    }
    if (!rc)
        rc = ldg_upgrade_version_at(s, txn, b->height + 1, &next_ver);
    if (!rc)
        rc = ldg_membership_at(s, txn, b->height + 1, &next_m);
    if (!rc) { /* the block (the store's first), its time entry, the tip, the base */
        uint8_t hk[8], tk[16], tip[80], base[8];
        ldg_put64(hk, b->height);
        MDB_val k = ldg_val(hk, 8), v = ldg_val(enc, elen);
        mrc = mdb_put(txn, s->blocks, &k, &v, MDB_NOOVERWRITE);
        ldg_put64(tk, b->timestamp);
        ldg_put64(tk + 8, b->height);
        k = ldg_val(tk, 16);
        v = ldg_val("", 0);
        if (!mrc)
            mrc = mdb_put(txn, s->time, &k, &v, 0);
        ldg_put64(tip, b->height);
        ldg_put64(tip + 8, b->timestamp);
        memcpy(tip + 16, b->header_hash, 32);
        memcpy(tip + 48, b->state_root, 32);
        if (!mrc)
            mrc = meta_put(txn, s, "tip", tip, 80);
        ldg_put64(base, b->height);
        if (!mrc)
            mrc = meta_put(txn, s, META_BASE, base, 8);
        if (!mrc) /* the state digest's accumulator of the installed state */
        {
            uint8_t acc[LDG_LTHASH_BYTES];
            ldg_lthash_encode(&im->acc, acc);
            mrc = meta_put(txn, s, LDG_META_LTHASH, acc, sizeof acc);
        }
        if (!mrc)
            mrc = mdb_drop(txn, s->snapstage, 0);
        MDB_val ik = ldg_val(META_IMPORT, strlen(META_IMPORT));
        if (!mrc)
            mrc = mdb_del(txn, s->meta, &ik, NULL);
        if (!mrc) {
            mrc = mdb_txn_commit(txn);
            txn = NULL;
        }
        rc = ldg_mdb_err(mrc);
    }
    if (txn)
        mdb_txn_abort(txn);
    if (!rc) {
        ledger_tip t;
        t.height = b->height;
        t.timestamp = b->timestamp;
        memcpy(t.hash, b->header_hash, 32);
        memcpy(t.state_root, b->state_root, 32);
        pthread_mutex_lock(&s->tlock);
        s->tip = t;
        s->app_version = next_ver;
        s->snap_base = b->height;
        pthread_mutex_unlock(&s->tlock);
        s->tip_format = b->format;
        if (!ledger_membership_equal(next_m, s->m)) {
            rc = ldg_store_set_membership(s, next_m);
            next_m = NULL;
        }
        im->complete = 0; /* installed: the handle is spent */
    }
    ledger_membership_free(mb);
    ledger_membership_free(next_m);
    pthread_mutex_unlock(&s->wlock);
    ledger_free(enc);
    return rc;
}

uint64_t ledger_store_snapshot_base(ledger_store *s) {
    if (!s)
        return 0;
    pthread_mutex_lock(&s->tlock);
    uint64_t b = s->snap_base;
    pthread_mutex_unlock(&s->tlock);
    return b;
}

/* ---- headers below the base (docs/ledger-storage.md §Snapshots) ---- */

#define META_HDR "snaphdr" /* u64: the lowest height whose header the store holds */

static int hdr_lowest_txn(ledger_store *s, MDB_txn *txn, uint64_t *lowest) {
    MDB_val k = ldg_val(META_HDR, strlen(META_HDR)), v;
    int mrc = mdb_get(txn, s->meta, &k, &v);
    if (mrc == MDB_NOTFOUND) {
        *lowest = s->snap_base;
        return LEDGER_OK;
    }
    if (mrc)
        return ldg_mdb_err(mrc);
    if (v.mv_size != 8 || ldg_get64(v.mv_data) == 0 || ldg_get64(v.mv_data) > s->snap_base)
        return LEDGER_E_CORRUPT;
    *lowest = ldg_get64(v.mv_data);
    return LEDGER_OK;
}

int ledger_store_snapshot_headers(ledger_store *s, uint64_t *lowest) {
    if (!s || !lowest)
        return LEDGER_E_INVALID;
    *lowest = 1;
    if (!ledger_store_snapshot_base(s))
        return LEDGER_OK; /* a chain from genesis holds every header */
    MDB_txn *txn;
    int mrc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (mrc)
        return ldg_mdb_err(mrc);
    int rc = hdr_lowest_txn(s, txn, lowest);
    mdb_txn_abort(txn);
    return rc;
}

/* The header stored below the base at height h (headers table). */
int ldg_snapshot_header(ledger_store *s, MDB_txn *txn, uint64_t h, const uint8_t **hdr,
                        size_t *hlen, const uint8_t **cert, size_t *clen) {
    uint8_t hk[8];
    ldg_put64(hk, h);
    MDB_val k = ldg_val(hk, 8), v;
    int mrc = mdb_get(txn, s->headers, &k, &v);
    if (mrc)
        return mrc == MDB_NOTFOUND ? LEDGER_E_SNAPSHOT : ldg_mdb_err(mrc);
    const uint8_t *p = v.mv_data;
    if (v.mv_size < 4 || ldg_get32(p) > v.mv_size - 4)
        return LEDGER_E_CORRUPT;
    *hdr = p + 4;
    *hlen = ldg_get32(p);
    if (cert) {
        *cert = p + 4 + *hlen;
        *clen = v.mv_size - 4 - *hlen;
    }
    return LEDGER_OK;
}

/* Check a header and its certificate at height h against the membership in
 * force there and the hash the header above names. */
static int check_header(ledger_store *s, MDB_txn *txn, uint64_t h, const uint8_t *hdr, size_t hlen,
                        const uint8_t *cert, size_t clen, const uint8_t want[32],
                        uint8_t prev[32]) {
    ldg_header hd;
    size_t used;
    int rc = ldg_header_decode(hdr, hlen, &hd, &used);
    if (rc)
        return rc;
    if (used != hlen || hd.height != h)
        return LEDGER_E_DECODE;
    uint8_t hash[32];
    crypto_hash_sha256(hash, hdr, hlen);
    if (sodium_memcmp(hash, want, 32) != 0)
        return LEDGER_E_HASH;
    ledger_cert *c = NULL;
    ledger_membership *m = NULL;
    rc = ledger_cert_decode(&c, cert, clen);
    if (!rc)
        rc = ldg_membership_at(s, txn, h, &m);
    if (!rc)
        rc = ledger_cert_verify(c, m, h, hash);
    if (!rc && hd.format >= 2) {
        uint8_t eh[32];
        rc = ldg_membership_hash(m, eh);
        if (!rc && sodium_memcmp(eh, hd.epoch, 32) != 0)
            rc = LEDGER_E_EPOCH;
    }
    ledger_cert_free(c);
    ledger_membership_free(m);
    if (!rc)
        memcpy(prev, hd.prev, 32);
    return rc;
}

/* The previous-hash field of the header at height h (h = the base: block B). */
static int prev_of(ledger_store *s, MDB_txn *txn, uint64_t h, uint8_t prev[32]) {
    const uint8_t *hdr = NULL;
    size_t hlen = 0;
    ldg_header hd;
    size_t used;
    if (h == s->snap_base) {
        uint8_t hk[8];
        ldg_put64(hk, h);
        MDB_val k = ldg_val(hk, 8), v;
        int mrc = mdb_get(txn, s->blocks, &k, &v);
        if (mrc)
            return mrc == MDB_NOTFOUND ? LEDGER_E_CORRUPT : ldg_mdb_err(mrc);
        /* the block record starts with the header's fields behind the block magic */
        uint8_t tmp[LEDGER_HEADER_BYTES];
        size_t sz = v.mv_size >= 5 ? ldg_header_size(((const uint8_t *)v.mv_data)[4]) : 0;
        if (!sz || v.mv_size < sz)
            return LEDGER_E_CORRUPT;
        memcpy(tmp, LDG_HDR_MAGIC, 4);
        memcpy(tmp + 4, (const uint8_t *)v.mv_data + 4, sz - 4);
        hdr = tmp;
        hlen = sz;
        if (ldg_header_decode(hdr, hlen, &hd, &used) != LEDGER_OK)
            return LEDGER_E_CORRUPT;
        memcpy(prev, hd.prev, 32);
        return LEDGER_OK;
    }
    int rc = ldg_snapshot_header(s, txn, h, &hdr, &hlen, NULL, NULL);
    if (rc)
        return rc == LEDGER_E_SNAPSHOT ? LEDGER_E_CORRUPT : rc;
    if (ldg_header_decode(hdr, hlen, &hd, &used) != LEDGER_OK)
        return LEDGER_E_CORRUPT;
    memcpy(prev, hd.prev, 32);
    return LEDGER_OK;
}

int ledger_store_snapshot_put_header(ledger_store *s, const uint8_t *header, size_t hlen,
                                     const uint8_t *cert, size_t clen) {
    if (!s || !header || !cert || hlen > LEDGER_HEADER_BYTES || clen > (1u << 20))
        return LEDGER_E_INVALID;
    pthread_mutex_lock(&s->wlock);
    MDB_txn *txn = NULL;
    int rc = s->snap_base ? LEDGER_OK : LEDGER_E_INVALID;
    uint64_t lowest = 0;
    uint8_t want[32], prev[32];
    int mrc = 0;
    if (!rc && (mrc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
        rc = ldg_mdb_err(mrc);
    if (!rc)
        rc = hdr_lowest_txn(s, txn, &lowest);
    if (!rc && lowest <= 1)
        rc = LEDGER_E_INVALID; /* every header is held */
    if (!rc)
        rc = prev_of(s, txn, lowest, want);
    if (!rc)
        rc = check_header(s, txn, lowest - 1, header, hlen, cert, clen, want, prev);
    if (!rc) {
        uint8_t hk[8], lb[8];
        ldg_put64(hk, lowest - 1);
        MDB_val k = ldg_val(hk, 8), v;
        v.mv_size = 4 + hlen + clen;
        mrc = mdb_put(txn, s->headers, &k, &v, MDB_RESERVE);
        if (!mrc) {
            uint8_t *p = v.mv_data;
            ldg_put32(p, (uint32_t)hlen);
            memcpy(p + 4, header, hlen);
            memcpy(p + 4 + hlen, cert, clen);
            ldg_put64(lb, lowest - 1);
            mrc = meta_put(txn, s, META_HDR, lb, 8);
        }
        if (!mrc) {
            mrc = mdb_txn_commit(txn);
            txn = NULL;
        }
        rc = ldg_mdb_err(mrc);
    }
    if (txn)
        mdb_txn_abort(txn);
    pthread_mutex_unlock(&s->wlock);
    return rc;
}

int ldg_snapshot_verify_headers(ledger_store *s, MDB_txn *txn, uint64_t *bad) {
    uint64_t lowest;
    int rc = hdr_lowest_txn(s, txn, &lowest);
    if (rc)
        return rc == LEDGER_E_CORRUPT ? (*bad = 0, rc) : rc;
    uint8_t want[32], prev[32];
    rc = prev_of(s, txn, s->snap_base, want);
    for (uint64_t h = s->snap_base; !rc && h-- > lowest;) {
        const uint8_t *hdr = NULL, *cert = NULL;
        size_t hlen = 0, clen = 0;
        rc = ldg_snapshot_header(s, txn, h, &hdr, &hlen, &cert, &clen);
        if (!rc)
            rc = check_header(s, txn, h, hdr, hlen, cert, clen, want, prev);
        if (rc && rc != LEDGER_E_NOMEM) {
            rc = LEDGER_E_CORRUPT;
            *bad = h;
        }
        memcpy(want, prev, 32);
    }
    if (rc == LEDGER_E_CORRUPT && !*bad)
        *bad = s->snap_base;
    return rc;
}

int ledger_store_certificate(ledger_store *s, uint64_t height, uint8_t **out, size_t *len) {
    if (!out || !len)
        return LEDGER_E_INVALID;
    *out = NULL;
    *len = 0;
    if (!s || !height)
        return LEDGER_E_INVALID;
    if (height >= ledger_store_snapshot_base(s)) {
        ledger_block *b = NULL;
        int rc = ledger_store_block(s, height, &b);
        if (!rc)
            rc = ledger_block_cert(b) ? ledger_cert_encode(ledger_block_cert(b), out, len)
                                      : LEDGER_E_CORRUPT;
        ledger_block_free(b);
        return rc;
    }
    MDB_txn *txn;
    int mrc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (mrc)
        return ldg_mdb_err(mrc);
    const uint8_t *hdr, *cert = NULL;
    size_t hl, cl = 0;
    int rc = ldg_snapshot_header(s, txn, height, &hdr, &hl, &cert, &cl);
    if (!rc && !(*out = malloc(cl ? cl : 1)))
        rc = LEDGER_E_NOMEM;
    if (!rc) {
        memcpy(*out, cert, cl);
        *len = cl;
    }
    mdb_txn_abort(txn);
    return rc;
}
