/* libfedavg benchmarks (JSON lines, ../shared/BENCHMARKS.md): pack and unpack
 * throughput on one core, packed sum, plain FedAvg on 1 M parameters for 3,
 * 10 and 100 participants. The numpy comparison runs in
 * benchmarks/suites/fedavg.py in the same process run. Each figure is the
 * best of several repetitions (this machine is shared and noisy). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fedavg.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t st = 88172645463325252u;
static float urand(float a) {
    st ^= st << 13;
    st ^= st >> 7;
    st ^= st << 17;
    return (float)(((double)(st >> 11) / 9007199254740992.0 * 2.0 - 1.0) * a);
}

static void die(const char *what, int rc) {
    fprintf(stderr, "bench_fedavg: %s: %s (%d)\n", what, fedavg_strerror(rc), rc);
    exit(1);
}

static fedavg_codec *codec(uint32_t M, uint32_t flags) {
    fedavg_codec_config cfg;
    fedavg_codec_config_init(&cfg);
    cfg.plaintext_bytes = 255;
    cfg.max_weight = M;
    cfg.precision = 1e-6;
    cfg.clip = 1.0f;
    cfg.flags = flags;
    fedavg_codec *c;
    int rc = fedavg_codec_select(&c, &cfg);
    if (rc)
        die("codec", rc);
    return c;
}

static void bench_codec(const char *tag, fedavg_codec *c, const float *x, size_t n, int reps) {
    size_t len = fedavg_codec_packed_bytes(c, n);
    uint8_t *buf = malloc(len), *acc = calloc(1, len);
    float *y = malloc(n * sizeof *y);
    double best_pack = 1e9, best_unpack = 1e9, best_add = 1e9;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        int rc = fedavg_codec_pack(c, x, n, 1, buf, len, NULL);
        double t1 = now();
        if (rc)
            die("pack", rc);
        memset(acc, 0, len);
        double t2 = now();
        rc = fedavg_codec_add(c, acc, buf, len);
        double t3 = now();
        if (rc)
            die("add", rc);
        rc = fedavg_codec_unpack(c, acc, len, n, 1, y);
        double t4 = now();
        if (rc)
            die("unpack", rc);
        if (t1 - t0 < best_pack)
            best_pack = t1 - t0;
        if (t3 - t2 < best_add)
            best_add = t3 - t2;
        if (t4 - t3 < best_unpack)
            best_unpack = t4 - t3;
    }
    printf("{\"name\": \"pack_values_per_s_%s\", \"value\": %.0f, \"unit\": \"values/s\", "
           "\"n\": %zu, \"slot_bits\": %u, \"values_per_plaintext\": %u, \"threads\": 1}\n",
           tag, (double)n / best_pack, n, fedavg_codec_slot_bits(c),
           fedavg_codec_values_per_plaintext(c));
    printf("{\"name\": \"unpack_values_per_s_%s\", \"value\": %.0f, \"unit\": \"values/s\", "
           "\"n\": %zu, \"slot_bits\": %u, \"threads\": 1}\n",
           tag, (double)n / best_unpack, n, fedavg_codec_slot_bits(c));
    printf("{\"name\": \"packed_add_values_per_s_%s\", \"value\": %.0f, \"unit\": \"values/s\", "
           "\"n\": %zu, \"bytes\": %zu, \"threads\": 1}\n",
           tag, (double)n / best_add, n, len);
    free(buf);
    free(acc);
    free(y);
}

int main(int argc, char **argv) {
    int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    const size_t n = 1000000;
    const int reps = quick ? 3 : 15;
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = urand(1.0f);

    /* The required key: 32-bit slots (M = 16 at 1e-6, clip 1: 25 bits needed). */
    fedavg_codec *c32 = codec(16, FEDAVG_CODEC_ALIGNED_SLOTS);
    bench_codec("slot32", c32, x, n, reps);
    fedavg_codec *c24 = codec(15, 0);
    bench_codec("slot24", c24, x, n, reps);
    fedavg_codec *c64 = codec(1u << 30, FEDAVG_CODEC_ALIGNED_SLOTS);
    bench_codec("slot64", c64, x, n, reps);

    /* Packed sum of 10 vectors (what the aggregator's ciphertext product mirrors). */
    {
        size_t len = fedavg_codec_packed_bytes(c32, n);
        uint8_t *acc = calloc(1, len), *one = malloc(len);
        fedavg_codec_pack(c32, x, n, 1, one, len, NULL);
        double best = 1e9;
        for (int r = 0; r < (quick ? 1 : 5); r++) {
            memset(acc, 0, len);
            double t0 = now();
            for (int i = 0; i < 10; i++)
                fedavg_codec_add(c32, acc, one, len);
            double t = now() - t0;
            if (t < best)
                best = t;
        }
        printf("{\"name\": \"packed_sum_10x1M_ms\", \"value\": %.3f, \"unit\": \"ms\", "
               "\"participants\": 10, \"n\": %zu}\n",
               best * 1e3, n);
        free(acc);
        free(one);
    }

    /* Plain FedAvg, 1 M parameters. */
    const size_t parts[3] = {3, 10, 100};
    for (int k = 0; k < 3; k++) {
        size_t m = parts[k];
        if (quick && m == 100)
            continue;
        float **rows = malloc(m * sizeof *rows);
        double *w = malloc(m * sizeof *w);
        for (size_t i = 0; i < m; i++) {
            rows[i] = malloc(n * sizeof(float));
            for (size_t j = 0; j < n; j++)
                rows[i][j] = urand(1.0f);
            w[i] = 100.0 + (double)i;
        }
        float *out = malloc(n * sizeof *out);
        double best = 1e9;
        for (int r = 0; r < (quick ? 2 : (m == 100 ? 5 : 15)); r++) {
            double t0 = now();
            int rc = fedavg_average((const float *const *)rows, w, m, n, out);
            double t = now() - t0;
            if (rc)
                die("average", rc);
            if (t < best)
                best = t;
        }
        printf("{\"name\": \"fedavg_plain_ms_%zu\", \"value\": %.3f, \"unit\": \"ms\", "
               "\"participants\": %zu, \"n\": %zu, \"threads\": 1}\n",
               m, best * 1e3, m, n);
        for (size_t i = 0; i < m; i++)
            free(rows[i]);
        free(rows);
        free(w);
        free(out);
    }
    fedavg_codec_free(c32);
    fedavg_codec_free(c24);
    fedavg_codec_free(c64);
    free(x);
    return 0;
}
