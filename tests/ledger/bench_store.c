/* Store append throughput (blocks/s and tx/s) with signed KV put transactions
 * of a given encoded size, sync on and off. Prints JSON lines.
 * Usage: bench_store [blocks] [txs_per_block] [tx_bytes] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <time.h>

#include <ledger.h>

#include "ledger_bench.h" /* libledger's benchmark hooks (not public) */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of this thread: on a shared machine, the cost without the waiting. */
static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Signature verifications per second and block execution (prepare) per tx,
 * on tx_bytes-byte KV puts, n per block. */
static int bench_cpu(const char *dir, size_t n, size_t txb) {
    ledger_signer *sg[4], *client;
    uint8_t seed[32], keys[128], chain[32] = {0};
    for (int i = 0; i < 4; i++) {
        memset(seed, 0x50 + i, 32);
        ledger_signer_from_seed(&sg[i], seed);
        memcpy(keys + 32 * i, ledger_signer_public_key(sg[i]), 32);
    }
    memset(seed, 0x33, 32);
    ledger_signer_from_seed(&client, seed);
    ledger_membership *m;
    ledger_membership_create(&m, chain, keys, 4, 1);
    ledger_tx **txs = calloc(n, sizeof *txs);
    size_t vlen = txb - 115 - 2 - 16;
    uint8_t *val = calloc(1, vlen);
    for (size_t i = 0; i < n; i++) {
        uint8_t key[16] = {0}, *pl;
        size_t plen;
        memcpy(key, &i, sizeof i);
        ledger_kv_put_payload(key, 16, val, vlen, &pl, &plen);
        ledger_tx_create_signed(&txs[i], client, LEDGER_KV_OP_PUT, i + 1, pl, plen);
        ledger_free(pl);
    }
    double t0 = now_s(), c0 = cpu_s();
    for (size_t i = 0; i < n; i++)
        if (ledger_tx_verify(txs[i]))
            return 1;
    double tv = now_s() - t0, cv = cpu_s() - c0;
    printf("{\"suite\": \"ledger-store\", \"name\": \"tx_verify_per_s\", \"value\": %.0f, "
           "\"unit\": \"1/s\", \"tx_bytes\": %zu, \"samples\": %zu}\n",
           (double)n / tv, txb, n);
    printf("{\"suite\": \"ledger-store\", \"name\": \"tx_verify_per_cpu_s\", \"value\": %.0f, "
           "\"unit\": \"1/s\", \"what\": \"per second of this thread's CPU time\", "
           "\"tx_bytes\": %zu, \"samples\": %zu}\n",
           (double)n / cv, txb, n);
    ledger_store *s;
    ledger_store_options o = LEDGER_STORE_OPTIONS_INIT;
    o.sync = LEDGER_SYNC_NONE;
    if (ledger_store_open(&s, dir, m, ledger_kv_app(), &o, NULL))
        return 1;
    ledger_block *b;
    uint8_t zero[32] = {0}, root[32];
    if (ledger_block_create(&b, 1, zero, 1, 0, 0, (const ledger_tx *const *)txs, n))
        return 1;
    {
        uint32_t bcv;
        uint8_t ce[32];
        if (ledger_store_block_context(s, &bcv, ce) || ledger_block_set_context(b, bcv, ce))
            return 1;
    }
    int reps = 5;
    t0 = now_s();
    c0 = cpu_s();
    for (int r = 0; r < reps; r++)
        if (ledger_store_prepare(s, b, 0, root))
            return 1;
    double tp = (now_s() - t0) / reps, cp = (cpu_s() - c0) / reps;
    printf("{\"suite\": \"ledger-store\", \"name\": \"execute_tx_per_cpu_s\", \"value\": %.0f, "
           "\"unit\": \"tx/s\", \"txs_per_block\": %zu, \"tx_bytes\": %zu}\n",
           (double)n / cp, n, txb);
    printf("{\"suite\": \"ledger-store\", \"name\": \"execute_tx_per_s\", \"value\": %.0f, "
           "\"unit\": \"tx/s\", \"what\": \"ledger_store_prepare, kv app, no signature "
           "check\", \"txs_per_block\": %zu, \"tx_bytes\": %zu}\n",
           (double)n / tp, n, txb);
    ledger_block_free(b);
    ledger_store_close(s);
    for (size_t i = 0; i < n; i++)
        ledger_tx_free(txs[i]);
    free(txs);
    free(val);
    ledger_membership_free(m);
    for (int i = 0; i < 4; i++)
        ledger_signer_free(sg[i]);
    ledger_signer_free(client);
    return 0;
}

static void rmtree(const char *p) {
    char cmd[1200];
    if (snprintf(cmd, sizeof cmd, "rm -rf '%s'", p) < (int)sizeof cmd && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", p);
}

int main(int argc, char **argv) {
    size_t blocks = argc > 1 ? strtoul(argv[1], NULL, 10) : 50;
    size_t per = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000;
    size_t txb = argc > 3 ? strtoul(argv[3], NULL, 10) : 256;
    const char *tmp = getenv("TMPDIR");
    char dir[1024];
    {
        int w = snprintf(dir, sizeof dir, "%s/ledger-bench-%ld-cpu", tmp && *tmp ? tmp : "/tmp",
                         (long)getpid());
        if (w < 0 || (size_t)w >= sizeof dir || txb < 140)
            return 2;
        int rc = bench_cpu(dir, per, txb);
        rmtree(dir);
        if (rc)
            return 1;
    }
    for (uint32_t sync = 0; sync <= 2; sync++) {
        int w = snprintf(dir, sizeof dir, "%s/ledger-bench-%ld-%u", tmp && *tmp ? tmp : "/tmp",
                         (long)getpid(), sync);
        if (w < 0 || (size_t)w >= sizeof dir)
            return 2;
        double s = 0;
        int rc = ledger_bench_append(dir, sync, blocks, per, txb, &s);
        rmtree(dir);
        if (rc) {
            fprintf(stderr, "ledger_bench_append: %s\n", ledger_strerror(rc));
            return 1;
        }
        printf("{\"suite\": \"ledger-store\", \"name\": \"append_blocks_per_s\", \"value\": %.1f, "
               "\"unit\": \"blocks/s\", \"sync\": %u, \"txs_per_block\": %zu, \"tx_bytes\": %zu, "
               "\"blocks\": %zu}\n",
               (double)blocks / s, sync, per, txb, blocks);
        printf("{\"suite\": \"ledger-store\", \"name\": \"append_tx_per_s\", \"value\": %.0f, "
               "\"unit\": \"tx/s\", \"sync\": %u, \"txs_per_block\": %zu, \"tx_bytes\": %zu, "
               "\"blocks\": %zu}\n",
               (double)(blocks * per) / s, sync, per, txb, blocks);
    }
    return 0;
}
