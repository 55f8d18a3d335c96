/* Store append throughput (blocks/s and tx/s) with signed KV put transactions
 * of a given encoded size, sync on and off. Prints JSON lines.
 * Usage: bench_store [blocks] [txs_per_block] [tx_bytes] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ledger.h>

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
    for (uint32_t sync = 0; sync <= 1; sync++) {
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
