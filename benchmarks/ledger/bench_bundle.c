/* bench_bundle: offline verifications of a proof bundle per second, one core
 * (key proof_verify_per_s, ../shared BENCHMARKS.md). The bundle is a golden
 * vector: tests/ledger/vectors/bundle_v2.hex for the key (a chain that went
 * 4 → 5 → 4 replicas: two changes, each a certificate of 3 or 4 signatures
 * and a state root recomputed over the deciding block's writes, then the
 * block's certificate of 3 signatures), or bundle_v1.hex (no change: 3
 * signatures, a 1-step Merkle path) under another name. The genesis
 * membership is rebuilt from the vectors' seeds. JSON lines.
 *   bench_bundle VECTOR_HEX [--quick] [--name NAME] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ledger.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_bundle VECTOR_HEX [--quick] [--name NAME]\n");
        return 2;
    }
    int quick = 0;
    const char *name = "proof_verify_per_s";
    for (int a = 2; a < argc; a++) {
        if (!strcmp(argv[a], "--quick"))
            quick = 1;
        else if (!strcmp(argv[a], "--name") && a + 1 < argc)
            name = argv[++a];
    }
    FILE *f = fopen(argv[1], "r");
    if (!f)
        return 2;
    static char hex[1 << 17];
    if (!fgets(hex, sizeof hex, f)) {
        fclose(f);
        return 2;
    }
    fclose(f);
    size_t hl = strcspn(hex, "\r\n"), bl = hl / 2;
    uint8_t *bu = malloc(bl ? bl : 1);
    for (size_t i = 0; i < bl; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return 2;
        bu[i] = (uint8_t)v;
    }
    uint8_t keys[128], chain[32], seed[32], *g;
    size_t gl;
    memset(chain, 0xC4, sizeof chain);
    for (int i = 0; i < 4; i++) {
        ledger_signer *s;
        memset(seed, 100 + i, sizeof seed);
        if (ledger_signer_from_seed(&s, seed))
            return 1;
        memcpy(keys + 32 * i, ledger_signer_public_key(s), 32);
        ledger_signer_free(s);
    }
    ledger_membership *m;
    if (ledger_membership_create(&m, chain, keys, 4, 1) || ledger_membership_encode(m, &g, &gl))
        return 1;
    int n = quick ? 300 : 3000, bad = 0;
    bad += ledger_bundle_verify(bu, bl, g, gl, NULL, NULL) != LEDGER_OK; /* warm up */
    int version = bl > 4 ? bu[4] : 0, changes = bl > 39 ? (bu[38] << 8) | bu[39] : 0;
    double t0 = now_s();
    for (int i = 0; i < n; i++)
        bad += ledger_bundle_verify(bu, bl, g, gl, NULL, NULL) != LEDGER_OK;
    double dt = now_s() - t0;
    printf("{\"suite\": \"ledger\", \"name\": \"%s\", \"value\": %.1f, "
           "\"unit\": \"1/s\", \"what\": \"ledger_bundle_verify of a %zu-byte bundle, format "
           "%d, %d membership changes from genesis, one thread\", \"verifications\": %d, "
           "\"failures\": %d}\n",
           name, n / dt, bl, version, changes, n, bad);
    ledger_free(g);
    ledger_membership_free(m);
    free(bu);
    return bad ? 1 : 0;
}
