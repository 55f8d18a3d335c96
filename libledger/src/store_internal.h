/* libledger store internals: the LMDB environment, the state handle and the
 * block executor shared by store.c, state.c and verify.c. Never installed. */
#ifndef LEDGER_STORE_INTERNAL_H
#define LEDGER_STORE_INTERNAL_H

#include "internal.h"

#include <lmdb.h>
#include <pthread.h>

struct ledger_store {
    MDB_env *env;
    MDB_dbi meta, blocks, txs, trace, time, state, nonce, blob;
    MDB_dbi blobuse;      /* putter key → u64 blob bytes charged to it */
    MDB_dbi snapstage;    /* snapshot import staging: namespace ‖ key → value */
    MDB_dbi headers;      /* snapshot-started: height → header and certificate below the base */
    uint64_t snap_base;   /* started from a snapshot at this height (0: from genesis) */
    uint64_t blob_limit;  /* high-water mark of blob bytes */
    uint64_t map_size;    /* LMDB map size, bytes */
    ledger_membership *m; /* in force at the next height (tip + 1) */
    ledger_membership *genesis; /* the configured membership */
    /* every membership that was in force while open: readers may hold s->m */
    ledger_membership **mkeep;
    size_t nmkeep;
    ledger_app app;
    pthread_mutex_t wlock; /* serialises writers */
    pthread_mutex_t tlock; /* guards tip for readers (written under wlock + tlock) */
    ledger_tip tip;
    uint8_t tip_format;   /* header format of the tip block (0: empty chain); under wlock */
    uint8_t epoch[32];    /* SHA-256 of the membership encoding (the epoch hash) */
    uint32_t app_version; /* application version in force for the next block; under wlock */
    /* Hashes of transactions whose signature this store already verified
     * (ledger_store_check_tx, prepare with LEDGER_PREPARE_VERIFY_TX), so a
     * replica verifies each transaction once. Open addressing, bounded. */
    pthread_mutex_t vlock;
    uint8_t (*vcache)[32];
    /* Identity of the directory, registered while open (one handle per store
     * per process: LMDB forbids opening an environment twice in a process). */
    unsigned long long dev, ino;
    int registered;
    ledger_store *next_open;
};

#define LDG_VCACHE_SLOTS 16384u
#define LDG_VCACHE_PROBE 8u
/* Verify tx's signature unless its hash is cached; cache it on success. */
int ldg_verify_cached(ledger_store *s, const ledger_tx *tx);
/* ledger_store_append for a block whose certificate the caller assembled from
 * 2f+1 commit signatures of distinct members that it verified itself against
 * this block's commit statement (the consensus replica, lc_replica.c
 * try_progress): everything but the certificate's signatures is checked as
 * usual. Blocks from anyone else (state transfer) go through
 * ledger_store_append, which verifies the certificate. */
int ldg_store_append_verified(ledger_store *s, const ledger_block *b);
/* ledger_store_blob_put_as with the blob's SHA-256 already computed by the
 * caller (the node hashes it once to check the putter's signature). */
int ldg_store_blob_put_hashed(ledger_store *s, const uint8_t putter[32], const uint8_t *data,
                              size_t len, const uint8_t hash[32], uint64_t quota);

/* One entry of a block's write log (offsets into the arena). */
typedef struct ldg_write {
    uint8_t ns;   /* 0 application state, 1 nonce */
    uint8_t kind; /* 1 put, 0 delete */
    uint32_t seq;
    size_t koff, klen, voff, vlen;
} ldg_write;

/* The state digest's accumulator (lthash.c, docs/formats/ledger.md §State
 * digest): an LtHash of 1024 16-bit lanes over the state and nonce tables,
 * kept in meta "lthash" (2048 bytes, lanes little-endian) and updated in each
 * block's own LMDB transaction. */
#define LDG_LTHASH_LANES 1024u
#define LDG_LTHASH_BYTES 2048u
#define LDG_META_LTHASH  "lthash"
typedef struct ldg_lthash {
    uint16_t l[LDG_LTHASH_LANES];
} ldg_lthash;
/* The element vector of (namespace, key, value): 0 state, 1 nonce. */
void ldg_lthash_elem(uint16_t out[LDG_LTHASH_LANES], uint8_t ns, const uint8_t *k, size_t kl,
                     const uint8_t *v, size_t vl);
/* Add (add != 0) or subtract one element. */
void ldg_lthash_update(ldg_lthash *a, int add, uint8_t ns, const uint8_t *k, size_t kl,
                       const uint8_t *v, size_t vl);
void ldg_lthash_encode(const ldg_lthash *a, uint8_t out[LDG_LTHASH_BYTES]);
void ldg_lthash_decode(ldg_lthash *a, const uint8_t in[LDG_LTHASH_BYTES]);
/* The state digest: BLAKE2b-256 of the 2048-byte encoding. */
void ldg_lthash_digest(const ldg_lthash *a, uint8_t out[32]);
/* The accumulator in txn's meta table (absent: zero and LEDGER_E_NOT_FOUND). */
int ldg_lthash_load(ledger_store *s, MDB_txn *txn, ldg_lthash *a);
int ldg_lthash_save(ledger_store *s, MDB_txn *txn, const ldg_lthash *a);
/* From scratch over the state and nonce tables in txn. */
int ldg_lthash_scan(ledger_store *s, MDB_txn *txn, ldg_lthash *a);

struct ledger_state {
    ledger_store *s;
    MDB_txn *txn;
    int writable;
    uint64_t height;
    uint32_t tx_index;
    uint64_t changes;           /* writes + index entries so far (rejection check) */
    uint32_t app_version;       /* application version in force (ledger_state_app_version) */
    const ledger_membership *m; /* membership in force at height */
    ldg_lthash *acc;            /* the state digest's accumulator, updated per write (or NULL) */
    ldg_write *log;
    size_t nlog, caplog;
    uint8_t *arena;
    size_t narena, caparena;
};

int ldg_mdb_err(int rc);

/* The ledger's own state records live under this prefix (ledger/app.h). */
#define LDG_SYS_PREFIX     "\xFFLDG/"
#define LDG_SYS_PREFIX_LEN 5
/* Write (put, or delete when !put) a state key, with no reserved-prefix check. */
int ldg_state_write(struct ledger_state *st, const uint8_t *key, size_t klen, const uint8_t *val,
                    size_t vlen, int put);
/* Upgrade channel (upgrade.c). Version in force at height given the state in txn
 * (which holds the chain up to height − 1). */
int ldg_upgrade_version_at(ledger_store *s, MDB_txn *txn, uint64_t height, uint32_t *ver);
/* At the start of a block: activate or expire the open plan; *in_force gets the version
 * the block executes under. */
int ldg_upgrade_begin_block(ledger_store *s, struct ledger_state *st, uint64_t height,
                            uint32_t *in_force);
/* An upgrade transaction: check only, or apply. LEDGER_E_REJECTED when invalid. */
int ldg_upgrade_check(ledger_store *s, struct ledger_state *st, const ledger_tx *tx,
                      uint64_t height);
int ldg_upgrade_apply(ledger_store *s, struct ledger_state *st, const ledger_tx *tx,
                      uint64_t height);
/* Is key a governor (the application's, or a replica in force); how many there are. */
int ldg_governor(ledger_store *s, struct ledger_state *st, const uint8_t key[32], size_t *count);
/* Membership changes (reconfig.c). The membership in force at height given the
 * state in txn; the membership record taking force exactly at height
 * (LEDGER_E_NOT_FOUND if none). */
int ldg_membership_at(ledger_store *s, MDB_txn *txn, uint64_t height, ledger_membership **out);
int ldg_member_record(ledger_store *s, MDB_txn *txn, uint64_t height, ledger_membership **out);
int ldg_member_begin_block(ledger_store *s, struct ledger_state *st, uint64_t height);
int ldg_member_check(ledger_store *s, struct ledger_state *st, const ledger_tx *tx,
                     uint64_t height);
int ldg_member_apply(ledger_store *s, struct ledger_state *st, const ledger_tx *tx,
                     uint64_t height);
/* Make m the membership in force at the next height (keeps the old one alive). */
int ldg_store_set_membership(ledger_store *s, ledger_membership *m);
/* Highest application version the store's app executes. */
static inline uint32_t ldg_app_max(const ledger_store *s) {
    return s->app.version >= 2 && s->app.app_version_max ? s->app.app_version_max : 1;
}
/* Checks of a format 2 block's context against the store (format never goes
 * back, application version and epoch in force). Caller holds wlock. */
int ldg_store_check_context(const ledger_store *s, const ledger_block *b);
void ldg_state_init(struct ledger_state *st, ledger_store *s, MDB_txn *txn, int writable,
                    uint64_t height);
void ldg_state_release(struct ledger_state *st);

/* Execute block b in txn on top of prev_root: nonces, app apply, trace index.
 * Fills root and (if statuses is not NULL) one status per tx. */
int ldg_exec_block(ledger_store *s, MDB_txn *txn, const ledger_block *b,
                   const uint8_t prev_root[32], uint32_t flags, uint8_t root[32],
                   int32_t *statuses);
/* The state digest after the block ldg_exec_block last executed in txn: the
 * accumulator it left in txn's meta table. */
int ldg_state_digest_txn(ledger_store *s, MDB_txn *txn, uint8_t digest[32]);
/* The same; when the block writes a membership record (it decides a change),
 * *witness gets prev_root ‖ results hash ‖ u32 length ‖ the block's net writes
 * as hashed into the state root (docs/formats/ledger-bundle.md), else NULL. */
int ldg_exec_block_wit(ledger_store *s, MDB_txn *txn, const ledger_block *b,
                       const uint8_t prev_root[32], uint32_t flags, uint8_t root[32],
                       int32_t *statuses, uint8_t **witness, size_t *witness_len);
/* The stored witness of block h (LEDGER_E_NOT_FOUND if it decided no change,
 * or the store did not execute it). */
int ldg_store_witness(ledger_store *s, MDB_txn *txn, uint64_t height, uint8_t **out, size_t *len);

/* Snapshot-started stores (snapshot.c): a header held below the base
 * (LEDGER_E_SNAPSHOT when not held); the headers-below-the-base check of
 * ledger_verify_chain. */
int ldg_snapshot_header(ledger_store *s, MDB_txn *txn, uint64_t h, const uint8_t **hdr,
                        size_t *hlen, const uint8_t **cert, size_t *clen);
int ldg_snapshot_verify_headers(ledger_store *s, MDB_txn *txn, uint64_t *bad);

/* Keys. */
static inline MDB_val ldg_val(const void *p, size_t n) {
    MDB_val v;
    v.mv_data = (void *)p;
    v.mv_size = n;
    return v;
}

#endif
