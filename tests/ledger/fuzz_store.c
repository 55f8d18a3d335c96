/* libFuzzer harness: the store reading untrusted bytes from disk. A base store
 * with two blocks is built once; each input replaces one stored record (chosen
 * by its first byte: block record, tx index record, tip, membership, format,
 * blob, state value, nonce) through raw LMDB, then the store is opened with
 * full verification and every read path runs. Nothing may crash or leak; the
 * original record is put back afterwards. */
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ledger.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[256];
static ledger_membership *mem;
static uint8_t txhash[32], blobhash[32], alice_pk[32];

typedef struct {
    const char *db;
    uint8_t key[40];
    size_t klen;
    uint8_t *orig;
    size_t olen;
} slot;
static slot slots[8];

static void die(const char *what) {
    fprintf(stderr, "fuzz_store setup: %s\n", what);
    abort(); /* set-up failure only, never on input */
}

static void build(void) {
    ledger_signer *sg[4], *alice;
    uint8_t keys[128], seed[32], chain[32] = {0};
    for (int i = 0; i < 4; i++) {
        memset(seed, 100 + i, 32);
        ledger_signer_from_seed(&sg[i], seed);
        memcpy(keys + 32 * i, ledger_signer_public_key(sg[i]), 32);
    }
    memset(seed, 1, 32);
    ledger_signer_from_seed(&alice, seed);
    memcpy(alice_pk, ledger_signer_public_key(alice), 32);
    if (ledger_membership_create(&mem, chain, keys, 4, 1))
        die("membership");
    ledger_store *s;
    if (ledger_store_open(&s, dir, mem, ledger_kv_app(), NULL, NULL))
        die("open");
    for (int h = 1; h <= 2; h++) {
        uint8_t *pl;
        size_t plen;
        ledger_tx *tx[1];
        ledger_kv_put_payload((const uint8_t *)"a", 1, (const uint8_t *)"value", 5, &pl, &plen);
        ledger_tx_create_signed(&tx[0], alice, LEDGER_KV_OP_PUT, (uint64_t)h, pl, plen);
        ledger_free(pl);
        if (h == 1)
            memcpy(txhash, ledger_tx_hash(tx[0]), 32);
        ledger_tip t;
        ledger_store_tip(s, &t);
        ledger_block *b;
        uint8_t root[32], sdigest[32], stmt[96], sig[64];
        ledger_block_create_take(&b, t.height + 1, t.hash, (uint64_t)h, 0, 0, tx, 1);
        uint32_t cv;
        uint8_t ce[32];
        ledger_store_block_context(s, &cv, ce);
        ledger_block_set_context(b, cv, ce);
        ledger_store_prepare_digest(s, b, 0, root, sdigest);
        ledger_block_set_state_root(b, root);
        ledger_block_set_state_digest(b, sdigest);
        ledger_cert *c;
        ledger_cert_create(&c, 0);
        ledger_commit_statement(stmt, chain, (uint64_t)h, 0, ledger_block_header_hash(b));
        for (uint16_t i = 0; i < 3; i++) {
            ledger_signer_sign(sg[i], stmt, 96, sig);
            ledger_cert_add(c, i, sig);
        }
        ledger_block_set_cert(b, c);
        ledger_cert_free(c);
        if (ledger_store_append(s, b))
            die("append");
        ledger_block_free(b);
    }
    if (ledger_store_blob_put(s, (const uint8_t *)"blob", 4, blobhash))
        die("blob");
    ledger_store_close(s);
    for (int i = 0; i < 4; i++)
        ledger_signer_free(sg[i]);
    ledger_signer_free(alice);
}

static void set_slot(int i, const char *db, const void *key, size_t klen) {
    slots[i].db = db;
    memcpy(slots[i].key, key, klen);
    slots[i].klen = klen;
}

static int raw_put(int i, const uint8_t *v, size_t vlen, int save) {
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    if (mdb_env_create(&env))
        return -1;
    mdb_env_set_maxdbs(env, 8);
    mdb_env_set_mapsize(env, (size_t)64 << 20);
    if (mdb_env_open(env, dir, MDB_NOSYNC, 0644) || mdb_txn_begin(env, NULL, 0, &txn)) {
        mdb_env_close(env);
        return -1;
    }
    int rc = mdb_dbi_open(txn, slots[i].db, 0, &dbi);
    MDB_val k = {slots[i].klen, slots[i].key}, val;
    if (!rc && save) {
        rc = mdb_get(txn, dbi, &k, &val);
        if (!rc) {
            slots[i].orig = malloc(val.mv_size + 1);
            memcpy(slots[i].orig, val.mv_data, val.mv_size);
            slots[i].olen = val.mv_size;
        }
    } else if (!rc) {
        val.mv_size = vlen;
        val.mv_data = (void *)(vlen ? v : (const uint8_t *)"");
        rc = mdb_put(txn, dbi, &k, &val, 0);
    }
    if (rc)
        mdb_txn_abort(txn);
    else
        rc = mdb_txn_commit(txn);
    mdb_env_close(env);
    return rc;
}

static void cleanup(void) {
    char p[300];
    if (snprintf(p, sizeof p, "%s/data.mdb", dir) < (int)sizeof p)
        unlink(p);
    if (snprintf(p, sizeof p, "%s/lock.mdb", dir) < (int)sizeof p)
        unlink(p);
    rmdir(dir);
}

static void init(void) {
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/fuzz-ledger-store-%ld", t && *t ? t : "/tmp", (long)getpid());
    build();
    atexit(cleanup);
    uint8_t h1[8] = {0, 0, 0, 0, 0, 0, 0, 1};
    set_slot(0, "blocks", h1, 8);
    set_slot(1, "txs", txhash, 32);
    set_slot(2, "meta", "tip", 3);
    set_slot(3, "meta", "membership", 10);
    set_slot(4, "meta", "format", 6);
    set_slot(5, "blob", blobhash, 32);
    set_slot(6, "state", "a", 1);
    set_slot(7, "nonce", alice_pk, 32);
    for (int i = 0; i < 8; i++)
        if (raw_put(i, NULL, 0, 1))
            die("save");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int ready;
    if (!ready) {
        init();
        ready = 1;
    }
    if (size < 1)
        return 0;
    int i = data[0] % 8;
    if (raw_put(i, data + 1, size - 1, 0))
        return 0;
    ledger_store *s = NULL;
    ledger_store_options o = LEDGER_STORE_OPTIONS_INIT;
    o.verify = LEDGER_VERIFY_NONE;
    o.sync = 0;
    o.map_size = (uint64_t)64 << 20;
    if (ledger_store_open(&s, dir, mem, ledger_kv_app(), &o, NULL) == LEDGER_OK) {
        uint64_t bad;
        ledger_verify_chain(s, LEDGER_VERIFY_FULL, &bad);
        ledger_block *b;
        for (uint64_t h = 1; h <= 2; h++)
            if (ledger_store_block(s, h, &b) == LEDGER_OK)
                ledger_block_free(b);
        ledger_tx *tx;
        uint64_t height;
        uint32_t index;
        int status;
        if (ledger_store_tx(s, txhash, &tx, &height, &index, &status) == LEDGER_OK)
            ledger_tx_free(tx);
        ledger_proof *p;
        if (ledger_store_proof(s, txhash, &p) == LEDGER_OK)
            ledger_proof_free(p);
        uint8_t *out;
        size_t len;
        if (ledger_store_query(s, (const uint8_t *)"a", 1, &out, &len) == LEDGER_OK)
            ledger_free(out);
        if (ledger_store_blob_get(s, blobhash, &out, &len) == LEDGER_OK)
            ledger_free(out);
        ledger_trace_entry te[4];
        size_t n;
        ledger_store_trace(s, LEDGER_KV_OP_PUT, (const uint8_t *)"a", 1, 0, te, 4, &n);
        uint64_t nonce;
        ledger_store_nonce(s, alice_pk, &nonce);
        ledger_store_close(s);
    }
    if (raw_put(i, slots[i].orig, slots[i].olen, 0))
        die("restore");
    return 0;
}
