/* libledger: benchmark helper (ledger_bench_append, ledger_bench.h), used by
 * the ledger-store benchmark; not in the library (the ledger_bench static
 * library of libledger/meson.build). */
#include "ledger_bench.h"
#include "store_internal.h"

#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int bench_membership(ledger_membership **m, ledger_signer **sg) {
    uint8_t keys[4 * 32], seed[32], chain[32];
    memset(chain, 0xBE, sizeof chain);
    for (int i = 0; i < 4; i++) {
        memset(seed, 0x60 + i, sizeof seed);
        int rc = ledger_signer_from_seed(&sg[i], seed);
        if (rc)
            return rc;
        memcpy(keys + 32 * i, ledger_signer_public_key(sg[i]), 32);
    }
    return ledger_membership_create(m, chain, keys, 4, 1);
}

static int certify(ledger_block *b, const ledger_membership *m, ledger_signer **sg) {
    uint8_t stmt[LEDGER_COMMIT_STATEMENT_BYTES], sig[64];
    ledger_cert *c;
    int rc = ledger_cert_create(&c, 0);
    if (rc)
        return rc;
    ledger_commit_statement(stmt, ledger_membership_chain_id(m), b->height, 0, b->header_hash);
    for (uint16_t i = 0; i < 3 && !rc; i++) {
        ledger_signer_sign(sg[i], stmt, sizeof stmt, sig);
        rc = ledger_cert_add(c, i, sig);
    }
    if (!rc)
        rc = ledger_block_set_cert(b, c);
    ledger_cert_free(c);
    return rc;
}

int ledger_bench_append(const char *path, uint32_t sync, size_t blocks, size_t txs_per_block,
                        size_t payload, double *seconds) {
    if (!path || !seconds || blocks == 0 || txs_per_block == 0 ||
        txs_per_block > LEDGER_BLOCK_TXS_MAX || payload < LEDGER_TX_OVERHEAD + 2 + 16 ||
        payload > 65536 || sync > LEDGER_SYNC_DATA)
        return LEDGER_E_INVALID;
    char pa[4096], pb[4096];
    if ((size_t)snprintf(pa, sizeof pa, "%s/build", path) >= sizeof pa ||
        (size_t)snprintf(pb, sizeof pb, "%s/timed", path) >= sizeof pb)
        return LEDGER_E_INVALID;
    if (mkdir(path, 0755) != 0)
        return LEDGER_E_IO;
    ledger_signer *sg[4] = {0}, *client = NULL;
    ledger_membership *m = NULL;
    ledger_store *a = NULL, *b = NULL;
    ledger_block **bl = calloc(blocks, sizeof *bl);
    ledger_tx **txs = calloc(txs_per_block, sizeof *txs);
    size_t vlen = payload - LEDGER_TX_OVERHEAD - 2 - 16;
    uint8_t *val = calloc(1, vlen + 1);
    int rc = !bl || !txs || !val ? LEDGER_E_NOMEM : 0;
    uint8_t seed[32];
    memset(seed, 0x77, sizeof seed);
    if (!rc)
        rc = bench_membership(&m, sg);
    if (!rc)
        rc = ledger_signer_from_seed(&client, seed);
    ledger_store_options o = LEDGER_STORE_OPTIONS_INIT;
    o.sync = 0;
    o.verify = LEDGER_VERIFY_NONE;
    if (!rc)
        rc = ledger_store_open(&a, pa, m, ledger_kv_app(), &o, NULL);
    uint64_t nonce = 0;
    for (size_t h = 0; h < blocks && !rc; h++) {
        for (size_t i = 0; i < txs_per_block && !rc; i++) {
            uint8_t key[16], *pl;
            size_t plen;
            ldg_put64(key, h);
            ldg_put64(key + 8, i);
            memset(val, (int)(h + i), vlen);
            rc = ledger_kv_put_payload(key, 16, val, vlen, &pl, &plen);
            if (!rc) {
                rc = ledger_tx_create_signed(&txs[i], client, LEDGER_KV_OP_PUT, ++nonce, pl, plen);
                ledger_free(pl);
            }
        }
        ledger_tip t;
        uint8_t root[32], epoch[32], sdigest[32];
        uint32_t ver;
        if (!rc)
            rc = ledger_store_tip(a, &t);
        if (!rc) {
            rc = ledger_block_create_take(&bl[h], h + 1, t.hash, 1700000000000ull + h, 0, 0, txs,
                                          txs_per_block);
            if (rc)
                for (size_t i = 0; i < txs_per_block; i++)
                    ledger_tx_free(txs[i]);
        }
        if (!rc)
            rc = ledger_store_block_context(a, &ver, epoch);
        if (!rc)
            rc = ledger_block_set_context(bl[h], ver, epoch);
        if (!rc)
            rc = ledger_store_prepare_digest(a, bl[h], 0, root, sdigest);
        if (!rc)
            rc = ledger_block_set_state_root(bl[h], root);
        if (!rc)
            rc = ledger_block_set_state_digest(bl[h], sdigest);
        if (!rc)
            rc = certify(bl[h], m, sg);
        if (!rc)
            rc = ledger_store_append(a, bl[h]);
    }
    o.sync = sync;
    if (!rc)
        rc = ledger_store_open(&b, pb, m, ledger_kv_app(), &o, NULL);
    if (!rc) {
        double t0 = now_s();
        for (size_t h = 0; h < blocks && !rc; h++)
            rc = ledger_store_append(b, bl[h]);
        *seconds = now_s() - t0;
    }
    ledger_store_close(a);
    ledger_store_close(b);
    for (size_t h = 0; bl && h < blocks; h++)
        ledger_block_free(bl[h]);
    free(bl);
    free(txs);
    free(val);
    ledger_membership_free(m);
    for (int i = 0; i < 4; i++)
        ledger_signer_free(sg[i]);
    ledger_signer_free(client);
    return rc;
}
