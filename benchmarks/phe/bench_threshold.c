/*
 * Threshold decryption benchmark: batches of decryption shares with one
 * proof per holder per batch (ciphertexts per second: shares, batch
 * verification, verification + combination; batches of 1,000 at 2048 bits),
 * then single decryption shares (with proof), share verification and
 * combination per second, for 2048- and 3072-bit keys
 * dealt from checked-in safe primes, and the time of one safe-prime search.
 * Prints JSON lines ({"suite":"phe", "name", "value", "unit", ...}) for
 * benchmarks/run; one thread. "value" uses the process CPU time (this
 * machine's 2 cores are shared, so wall time mostly measures the neighbours);
 * "wall_value" gives the same figure from wall-clock time.
 *
 *   bench_threshold [--quick]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "phe.h"
#include "phe/threshold.h"
#include "../../tests/fixtures/safe_primes.h"

static double clock_s(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A timer over both clocks. */
typedef struct {
    double cpu, wall;
} stamp;

static stamp now(void) {
    stamp s = {clock_s(CLOCK_PROCESS_CPUTIME_ID), clock_s(CLOCK_MONOTONIC)};
    return s;
}

static stamp since(stamp t0) {
    stamp t = now();
    t.cpu -= t0.cpu;
    t.wall -= t0.wall;
    return t;
}

static size_t unhex(const char *hex, uint8_t *out) {
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) {
            return 0;
        }
        out[i] = (uint8_t)v;
    }
    return n;
}

/* rate: samples per second (per_s) or seconds per sample (!per_s) */
static void emit(const char *name, stamp dt, int per_s, const char *unit, unsigned bits, unsigned t,
                 unsigned l, unsigned samples) {
    double cpu = per_s ? samples / dt.cpu : dt.cpu / samples;
    double wall = per_s ? samples / dt.wall : dt.wall / samples;
    printf("{\"suite\": \"phe\", \"name\": \"%s_%u\", \"value\": %.6g, \"unit\": \"%s\", "
           "\"clock\": \"process_cpu\", \"wall_value\": %.6g, \"bits\": %u, \"t\": %u, "
           "\"l\": %u, \"samples\": %u, \"threads\": 1}\n",
           name, bits, cpu, unit, wall, bits, t, l, samples);
    fflush(stdout);
}

/* A batch figure: ciphertexts per second over one batch of `count`. */
static void emit_batch(const char *name, stamp dt, unsigned bits, unsigned t, unsigned l,
                       size_t count) {
    printf("{\"suite\": \"phe\", \"name\": \"%s_%u\", \"value\": %.6g, \"unit\": \"1/s\", "
           "\"clock\": \"process_cpu\", \"wall_value\": %.6g, \"bits\": %u, \"t\": %u, "
           "\"l\": %u, \"batch\": %zu, \"proofs\": 1, \"threads\": 1}\n",
           name, bits, (double)count / dt.cpu, (double)count / dt.wall, bits, t, l, count);
    fflush(stdout);
}

#define CHECK(expr)                                                                                \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ != 0) {                                                                            \
            fprintf(stderr, "bench_threshold: %s failed: %s\n", #expr, phe_strerror(rc_));         \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static void bench_key(unsigned bits, const char *phex, const char *qhex, unsigned samples) {
    enum { T = 2, L = 3 };
    uint8_t p[256], q[256];
    size_t pl = unhex(phex, p), ql = unhex(qhex, q);
    phe_threshold_params *pp = NULL;
    phe_threshold_keyshare *ks[L] = {0};
    phe_threshold_decshare *ds[L] = {0};
    phe_ciphertext *ct = NULL;
    const phe_threshold_decshare *set[T];
    int64_t m = 0;
    stamp t0, dt;

    CHECK(phe_threshold_deal_with_primes(&pp, ks, p, pl, q, ql, T, L, NULL));
    CHECK(phe_ciphertext_new(&ct));
    CHECK(phe_encrypt_i64(phe_threshold_params_pubkey(pp), ct, 424242, NULL));

    /* decryption share with proof (holder 1), each made afresh */
    t0 = now();
    for (unsigned i = 0; i < samples; i++) {
        phe_threshold_decshare_free(ds[0]);
        ds[0] = NULL;
        CHECK(phe_threshold_decshare_create(&ds[0], pp, ks[0], ct, NULL));
    }
    dt = since(t0);
    emit("threshold_single_decshare_per_s", dt, 1, "1/s", bits, T, L, samples);
    CHECK(phe_threshold_decshare_create(&ds[1], pp, ks[1], ct, NULL));

    t0 = now();
    for (unsigned i = 0; i < samples; i++) {
        CHECK(phe_threshold_decshare_verify(pp, ct, ds[0]));
    }
    dt = since(t0);
    emit("threshold_single_verify_per_s", dt, 1, "1/s", bits, T, L, samples);

    /* combine t = 2 shares; includes verifying both proofs, as the API always does */
    set[0] = ds[0];
    set[1] = ds[1];
    t0 = now();
    for (unsigned i = 0; i < samples; i++) {
        CHECK(phe_threshold_combine_int64(pp, ct, set, T, &m));
    }
    dt = since(t0);
    if (m != 424242) {
        fprintf(stderr, "bench_threshold: combined %lld, expected 424242\n", (long long)m);
        exit(1);
    }
    emit("threshold_single_combine_per_s", dt, 1, "1/s", bits, T, L, samples);

    for (unsigned i = 0; i < L; i++) {
        phe_threshold_decshare_free(ds[i]);
        phe_threshold_keyshare_free(ks[i]);
    }
    phe_ciphertext_free(ct);
    phe_threshold_params_free(pp);
}

/* Batches (one proof per holder per batch): ciphertexts per second for which
 * one holder makes its shares (the contract's threshold_decshare_per_s_2048),
 * verifies one holder's batch, and verifies t batches and combines them. */
static void bench_batch(unsigned bits, const char *phex, const char *qhex, size_t count) {
    enum { T = 2, L = 3 };
    uint8_t p[256], q[256];
    size_t pl = unhex(phex, p), ql = unhex(qhex, q);
    phe_threshold_params *pp = NULL;
    phe_threshold_keyshare *ks[L] = {0};
    phe_threshold_decshare_batch *b[T] = {0};
    const phe_threshold_decshare_batch *set[T];
    phe_ciphertext **ct = calloc(count, sizeof *ct);
    int64_t *m = calloc(count, sizeof *m), *out = calloc(count, sizeof *out);
    stamp t0, dt;
    if (!ct || !m || !out) {
        fprintf(stderr, "bench_threshold: out of memory\n");
        exit(1);
    }
    CHECK(phe_threshold_deal_with_primes(&pp, ks, p, pl, q, ql, T, L, NULL));
    for (size_t k = 0; k < count; k++) {
        m[k] = (int64_t)k * 1000003 - 500;
        CHECK(phe_ciphertext_new(&ct[k]));
    }
    CHECK(phe_encrypt_i64_batch(NULL, phe_threshold_params_pubkey(pp), ct, m, count, NULL));

    t0 = now();
    CHECK(phe_threshold_decshare_batch_create(&b[0], pp, ks[0], (const phe_ciphertext *const *)ct,
                                              count, NULL, NULL));
    dt = since(t0);
    emit_batch("threshold_decshare_per_s", dt, bits, T, L, count);
    CHECK(phe_threshold_decshare_batch_create(&b[1], pp, ks[1], (const phe_ciphertext *const *)ct,
                                              count, NULL, NULL));

    t0 = now();
    CHECK(phe_threshold_verify_batch(pp, (const phe_ciphertext *const *)ct, count, b[0]));
    dt = since(t0);
    emit_batch("threshold_batch_verify_per_s", dt, bits, T, L, count);

    set[0] = b[0];
    set[1] = b[1];
    t0 = now();
    CHECK(phe_threshold_combine_batch_int64(pp, (const phe_ciphertext *const *)ct, count, set, T,
                                            out, NULL));
    dt = since(t0);
    for (size_t k = 0; k < count; k++) {
        if (out[k] != m[k]) {
            fprintf(stderr, "bench_threshold: batch item %zu combined wrong\n", k);
            exit(1);
        }
    }
    emit_batch("threshold_batch_combine_per_s", dt, bits, T, L, count);

    for (unsigned i = 0; i < T; i++) {
        phe_threshold_decshare_batch_free(b[i]);
    }
    for (unsigned i = 0; i < L; i++) {
        phe_threshold_keyshare_free(ks[i]);
    }
    for (size_t k = 0; k < count; k++) {
        phe_ciphertext_free(ct[k]);
    }
    free(ct);
    free(m);
    free(out);
    phe_threshold_params_free(pp);
}

/* Mean wall time of one safe-prime search of bits/2 bits (half of a key). */
static void bench_safe_prime(unsigned bits, unsigned samples) {
    uint8_t out[512];
    stamp t0 = now();
    for (unsigned i = 0; i < samples; i++) {
        CHECK(phe_threshold_safe_prime(out, sizeof out, bits / 2, NULL));
    }
    emit("threshold_safe_prime_s", since(t0), 0, "s", bits, 0, 0, samples);
}

int main(int argc, char **argv) {
    int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    unsigned n = quick ? 3 : 20;
    bench_batch(2048, SAFE_PRIME_1024_1, SAFE_PRIME_1024_2, quick ? 50 : 1000);
    bench_batch(3072, SAFE_PRIME_1536_1, SAFE_PRIME_1536_2, quick ? 20 : 250);
    bench_key(2048, SAFE_PRIME_1024_1, SAFE_PRIME_1024_2, n);
    bench_key(3072, SAFE_PRIME_1536_1, SAFE_PRIME_1536_2, n);
    bench_safe_prime(2048, quick ? 1 : 10);
    if (!quick) {
        bench_safe_prime(3072, 4);
    }
    return 0;
}
