/* Helpers shared by the ledger tests: deterministic keys, memberships, certs. */
#ifndef LEDGER_TESTUTIL_H
#define LEDGER_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <ledger.h>

#define T_MEMBERS 4

/* Deterministic signer number i (seed = i repeated). */
static inline ledger_signer *t_signer(uint8_t i) {
    uint8_t seed[32];
    memset(seed, i, sizeof seed);
    ledger_signer *s = NULL;
    assert_int_equal(ledger_signer_from_seed(&s, seed), LEDGER_OK);
    return s;
}

/* Membership of replicas with seeds 100 … 100+n−1, f = (n−1)/3. */
static inline ledger_membership *t_membership(size_t n, ledger_signer **signers) {
    uint8_t keys[32 * 16], chain[32];
    memset(chain, 0xC4, sizeof chain);
    for (size_t i = 0; i < n; i++) {
        signers[i] = t_signer((uint8_t)(100 + i));
        memcpy(keys + 32 * i, ledger_signer_public_key(signers[i]), 32);
    }
    ledger_membership *m = NULL;
    assert_int_equal(ledger_membership_create(&m, chain, keys, n, (uint32_t)((n - 1) / 3)),
                     LEDGER_OK);
    return m;
}

/* Certify a block with replicas [0, count). */
static inline void t_certify(ledger_block *b, const ledger_membership *m, ledger_signer **signers,
                             size_t count, uint64_t view) {
    uint8_t stmt[LEDGER_COMMIT_STATEMENT_BYTES], sig[64];
    ledger_cert *c = NULL;
    assert_int_equal(ledger_cert_create(&c, view), LEDGER_OK);
    assert_int_equal(ledger_commit_statement(stmt, ledger_membership_chain_id(m),
                                             ledger_block_height(b), view,
                                             ledger_block_header_hash(b)),
                     LEDGER_OK);
    for (size_t i = 0; i < count; i++) {
        assert_int_equal(ledger_signer_sign(signers[i], stmt, sizeof stmt, sig), LEDGER_OK);
        assert_int_equal(ledger_cert_add(c, (uint16_t)i, sig), LEDGER_OK);
    }
    assert_int_equal(ledger_block_set_cert(b, c), LEDGER_OK);
    ledger_cert_free(c);
}

#ifdef T_WITH_STORE
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

/* A fresh temporary directory path (not created: the store creates it). */
static inline void t_tmpdir(char *out, size_t n, const char *tag) {
    const char *base = getenv("TMPDIR");
    char tmpl[512];
    snprintf(tmpl, sizeof tmpl, "%s/ledger-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    assert_non_null(mkdtemp(tmpl));
    int w = snprintf(out, n, "%s/db", tmpl);
    assert_true(w > 0 && (size_t)w < n);
}

static inline void t_rmtree(const char *path) {
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char p[1024];
            int w = snprintf(p, sizeof p, "%s/%s", path, e->d_name);
            if (w < 0 || (size_t)w >= sizeof p)
                continue;
            struct stat st;
            if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
                t_rmtree(p);
            else
                unlink(p);
        }
        closedir(d);
    }
    rmdir(path);
}

/* Remove the store directory and its mkdtemp parent. */
static inline void t_cleanup(const char *dbpath) {
    char parent[512];
    if (snprintf(parent, sizeof parent, "%s", dbpath) >= (int)sizeof parent)
        return;
    char *slash = strrchr(parent, '/');
    if (slash)
        *slash = 0;
    t_rmtree(parent);
}

/* Set the application version and epoch the store expects of its next block. */
static inline void t_context(ledger_store *s, ledger_block *b) {
    uint8_t epoch[32];
    uint32_t ver;
    assert_int_equal(ledger_store_block_context(s, &ver, epoch), LEDGER_OK);
    assert_int_equal(ledger_block_set_context(b, ver, epoch), LEDGER_OK);
}

/* Build the next block on the store's tip from txs (taken), prepare it, set the
 * state root, certify it with replicas 0..2. Returns the block (not appended). */
static inline ledger_block *t_next_block(ledger_store *s, const ledger_membership *m,
                                         ledger_signer **sg, ledger_tx **txs, size_t n,
                                         uint64_t ts) {
    ledger_tip t;
    assert_int_equal(ledger_store_tip(s, &t), LEDGER_OK);
    ledger_block *b = NULL;
    assert_int_equal(ledger_block_create_take(&b, t.height + 1, t.hash, ts, 0, 0, txs, n),
                     LEDGER_OK);
    uint8_t root[32], epoch[32], sdigest[32];
    uint32_t ver;
    assert_int_equal(ledger_store_block_context(s, &ver, epoch), LEDGER_OK);
    assert_int_equal(ledger_block_set_context(b, ver, epoch), LEDGER_OK);
    assert_int_equal(ledger_store_prepare_digest(s, b, LEDGER_PREPARE_VERIFY_TX, root, sdigest),
                     LEDGER_OK);
    assert_int_equal(ledger_block_set_state_root(b, root), LEDGER_OK);
    assert_int_equal(ledger_block_set_state_digest(b, sdigest), LEDGER_OK);
    t_certify(b, m, sg, 3, 0);
    return b;
}

/* A signed KV put. */
static inline ledger_tx *t_put(ledger_signer *s, uint64_t nonce, const char *key, const char *val) {
    uint8_t *pl;
    size_t plen;
    assert_int_equal(ledger_kv_put_payload((const uint8_t *)key, strlen(key), (const uint8_t *)val,
                                           strlen(val), &pl, &plen),
                     LEDGER_OK);
    ledger_tx *tx = NULL;
    assert_int_equal(ledger_tx_create_signed(&tx, s, LEDGER_KV_OP_PUT, nonce, pl, plen), LEDGER_OK);
    ledger_free(pl);
    return tx;
}

static inline ledger_tx *t_del(ledger_signer *s, uint64_t nonce, const char *key) {
    uint8_t *pl;
    size_t plen;
    assert_int_equal(ledger_kv_delete_payload((const uint8_t *)key, strlen(key), &pl, &plen),
                     LEDGER_OK);
    ledger_tx *tx = NULL;
    assert_int_equal(ledger_tx_create_signed(&tx, s, LEDGER_KV_OP_DELETE, nonce, pl, plen),
                     LEDGER_OK);
    ledger_free(pl);
    return tx;
}
#endif

#endif
