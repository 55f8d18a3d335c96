/* libphe: the thread pool of a phe_ctx and the batch calls over arrays. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "phe_internal.h"

#define MAX_THREADS 1024u

/* One job at a time per context. A caller holds `job_lock` for its whole job
 * (a second caller waits there), publishes the job under `lock` with a new
 * generation number, works on it too, and waits until every worker has
 * finished that generation. Each worker joins each generation exactly once:
 * it remembers the last generation it served, copies the job description
 * under `lock` together with the generation, and reports completion only for
 * the generation it joined. Resizing and freeing take `job_lock` as well, so
 * they never run while a job is in flight. */
struct phe_ctx {
    pthread_mutex_t job_lock; /* serialises jobs, resizes and free */
    pthread_mutex_t lock;     /* guards everything below */
    pthread_cond_t wake;      /* workers wait for a new generation */
    pthread_cond_t done;      /* the caller waits for workers to finish */
    pthread_t *workers;
    atomic_uint_least32_t nworkers; /* threads − 1; read without a lock by phe_ctx_threads */
    uint64_t generation;            /* bumped per job; never wraps in practice (2^64) */
    uint64_t base_generation;       /* the generation when the current workers started */
    uint32_t active;                /* workers still in the current job (≤ nworkers) */
    int stop;
    /* the current job: valid for `generation` while active > 0 or the caller runs */
    phei_task_fn fn;
    void *arg;
    size_t count;
    atomic_size_t next;
    atomic_size_t fail_index; /* SIZE_MAX: none */
    int fail_rc;
};

typedef struct job_view {
    phei_task_fn fn;
    void *arg;
    size_t count;
} job_view;

static void run_items(phe_ctx *ctx, const job_view *job) {
    for (;;) {
        size_t i = atomic_fetch_add_explicit(&ctx->next, 1, memory_order_relaxed);
        if (i >= job->count)
            return;
        /* Items after a failure still run: the caller needs every lower index. */
        int rc = job->fn(job->arg, i);
        if (rc != 0) {
            pthread_mutex_lock(&ctx->lock);
            if (i < atomic_load(&ctx->fail_index)) {
                atomic_store(&ctx->fail_index, i);
                ctx->fail_rc = rc;
            }
            pthread_mutex_unlock(&ctx->lock);
        }
    }
}

static void *worker_main(void *p) {
    phe_ctx *ctx = p;
    pthread_mutex_lock(&ctx->lock);
    /* base_generation was set before this thread was created and cannot
     * change until it has been joined, so no job is missed or run twice. */
    uint64_t seen = ctx->base_generation;
    for (;;) {
        while (!ctx->stop && ctx->generation == seen)
            pthread_cond_wait(&ctx->wake, &ctx->lock);
        if (ctx->stop)
            break;
        seen = ctx->generation;
        job_view job = {ctx->fn, ctx->arg, ctx->count};
        pthread_mutex_unlock(&ctx->lock);
        run_items(ctx, &job);
        pthread_mutex_lock(&ctx->lock);
        /* The caller waits for active == 0 before it publishes another
         * generation, so the job is still `seen` here; the checks keep a
         * count that cannot go below zero even if that were broken. */
        if (ctx->generation == seen && ctx->active > 0 && --ctx->active == 0)
            pthread_cond_signal(&ctx->done);
    }
    pthread_mutex_unlock(&ctx->lock);
    return NULL;
}

/* Called with job_lock held and no job in flight. */
static void stop_workers(phe_ctx *ctx) {
    uint32_t nw = atomic_load(&ctx->nworkers);
    pthread_mutex_lock(&ctx->lock);
    ctx->stop = 1;
    pthread_cond_broadcast(&ctx->wake);
    pthread_mutex_unlock(&ctx->lock);
    for (uint32_t i = 0; i < nw; i++)
        pthread_join(ctx->workers[i], NULL);
    free(ctx->workers);
    ctx->workers = NULL;
    atomic_store(&ctx->nworkers, 0);
    ctx->stop = 0;
}

/* Called with job_lock held and no workers running. */
static int start_workers(phe_ctx *ctx, uint32_t threads) {
    if (threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (uint32_t)(n > (long)MAX_THREADS ? MAX_THREADS : n) : 1;
    }
    uint32_t nw = threads - 1;
    if (nw == 0)
        return 0;
    pthread_t *workers = calloc(nw, sizeof(pthread_t));
    if (workers == NULL)
        return PHE_ERR_NOMEM;
    pthread_mutex_lock(&ctx->lock);
    ctx->base_generation = ctx->generation;
    ctx->workers = workers;
    pthread_mutex_unlock(&ctx->lock);
    for (uint32_t i = 0; i < nw; i++) {
        if (pthread_create(&ctx->workers[i], NULL, worker_main, ctx) != 0) {
            atomic_store(&ctx->nworkers, i);
            stop_workers(ctx);
            return PHE_ERR_THREAD;
        }
    }
    atomic_store(&ctx->nworkers, nw);
    return 0;
}

int phe_ctx_new(phe_ctx **out, uint32_t threads) {
    if (out == NULL || threads > MAX_THREADS)
        return PHE_ERR_INVALID_ARG;
    if (phei_init() != 0)
        return PHE_ERR_INTERNAL;
    phe_ctx *ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL)
        return PHE_ERR_NOMEM;
    if (pthread_mutex_init(&ctx->job_lock, NULL) != 0) {
        free(ctx);
        return PHE_ERR_NOMEM;
    }
    if (pthread_mutex_init(&ctx->lock, NULL) != 0) {
        pthread_mutex_destroy(&ctx->job_lock);
        free(ctx);
        return PHE_ERR_NOMEM;
    }
    pthread_cond_init(&ctx->wake, NULL);
    pthread_cond_init(&ctx->done, NULL);
    pthread_mutex_lock(&ctx->job_lock);
    int rc = start_workers(ctx, threads);
    pthread_mutex_unlock(&ctx->job_lock);
    if (rc != 0) {
        pthread_cond_destroy(&ctx->wake);
        pthread_cond_destroy(&ctx->done);
        pthread_mutex_destroy(&ctx->lock);
        pthread_mutex_destroy(&ctx->job_lock);
        free(ctx);
        return rc;
    }
    *out = ctx;
    return 0;
}

void phe_ctx_free(phe_ctx *ctx) {
    if (ctx == NULL)
        return;
    /* The contract (phe.h) is that no other thread uses ctx any more; taking
     * job_lock still lets a job that is finishing end before the workers go. */
    pthread_mutex_lock(&ctx->job_lock);
    stop_workers(ctx);
    pthread_mutex_unlock(&ctx->job_lock);
    pthread_cond_destroy(&ctx->wake);
    pthread_cond_destroy(&ctx->done);
    pthread_mutex_destroy(&ctx->lock);
    pthread_mutex_destroy(&ctx->job_lock);
    free(ctx);
}

int phe_ctx_set_threads(phe_ctx *ctx, uint32_t threads) {
    if (ctx == NULL || threads > MAX_THREADS)
        return PHE_ERR_INVALID_ARG;
    pthread_mutex_lock(&ctx->job_lock); /* waits for the running job */
    stop_workers(ctx);
    int rc = start_workers(ctx, threads);
    pthread_mutex_unlock(&ctx->job_lock);
    return rc;
}

uint32_t phe_ctx_threads(const phe_ctx *ctx) {
    return ctx == NULL ? 1 : (uint32_t)atomic_load(&ctx->nworkers) + 1;
}

static int run_serial(phei_task_fn fn, void *arg, size_t count) {
    for (size_t i = 0; i < count; i++) {
        int rc = fn(arg, i);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int phei_ctx_run(phe_ctx *ctx, phei_task_fn fn, void *arg, size_t count) {
    if (count == 0)
        return 0;
    if (ctx == NULL || count == 1)
        return run_serial(fn, arg, count);
    pthread_mutex_lock(&ctx->job_lock);
    uint32_t nw = atomic_load(&ctx->nworkers);
    if (nw == 0) {
        /* No pool: the work runs on this thread, which needs no shared state. */
        pthread_mutex_unlock(&ctx->job_lock);
        return run_serial(fn, arg, count);
    }
    pthread_mutex_lock(&ctx->lock);
    ctx->fn = fn;
    ctx->arg = arg;
    ctx->count = count;
    atomic_store(&ctx->next, 0);
    atomic_store(&ctx->fail_index, SIZE_MAX);
    ctx->fail_rc = 0;
    ctx->active = nw;
    ctx->generation++;
    job_view job = {fn, arg, count};
    pthread_cond_broadcast(&ctx->wake);
    pthread_mutex_unlock(&ctx->lock);
    run_items(ctx, &job);
    pthread_mutex_lock(&ctx->lock);
    while (ctx->active > 0)
        pthread_cond_wait(&ctx->done, &ctx->lock);
    int rc = ctx->fail_rc;
    pthread_mutex_unlock(&ctx->lock);
    pthread_mutex_unlock(&ctx->job_lock);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Batch calls                                                          */
/* ------------------------------------------------------------------ */

typedef struct batch_job {
    const phe_pubkey *pk;
    const phe_seckey *sk;
    phe_ciphertext *const *out;
    const phe_ciphertext *const *a;
    const phe_ciphertext *const *b;
    const int64_t *i64;
    int64_t *i64_out;
    const uint8_t *bytes;
    uint8_t *bytes_out;
    size_t len, stride;
    size_t count;       /* items (the grouped decryption) */
    const uint8_t *key; /* derived rng key, or NULL for the system generator */
} batch_job;

static int item_rng(const batch_job *j, size_t i, phe_rng **rng) {
    *rng = NULL;
    if (j->key == NULL)
        return 0;
    return phei_rng_new_from_key(rng, j->key, i);
}

static int enc_i64_item(void *arg, size_t i) {
    batch_job *j = arg;
    phe_rng *rng;
    int rc = item_rng(j, i, &rng);
    if (rc == 0)
        rc = phe_encrypt_i64(j->pk, j->out[i], j->i64[i], rng);
    phe_rng_free(rng);
    return rc;
}

static int enc_bytes_item(void *arg, size_t i) {
    batch_job *j = arg;
    phe_rng *rng;
    int rc = item_rng(j, i, &rng);
    if (rc == 0)
        rc = phe_encrypt_bytes(j->pk, j->out[i], j->bytes + i * j->stride, j->len, rng);
    phe_rng_free(rng);
    return rc;
}

/* Encryption in groups of 8: the plaintexts are checked and converted as
 * phe_encrypt_i64 / phe_encrypt_bytes do, item i's generator is derived as
 * in enc_*_item, and the eight DJN randomizers come from the IFMA kernel;
 * the lowest failing index of the group is returned. */
#define ENC_GROUP 8
static int enc_group(void *arg, size_t g) {
    batch_job *j = arg;
    size_t lo = g * ENC_GROUP, hi = lo + ENC_GROUP;
    if (hi > j->count)
        hi = j->count;
    int rcs[ENC_GROUP] = {0};
    size_t idx[ENC_GROUP], n = 0;
    mpz_t m[ENC_GROUP], r[ENC_GROUP];
    phe_rng *rngs[ENC_GROUP] = {NULL};
    for (size_t i = lo; i < hi; i++) {
        int rc = j->out[i] == NULL ? PHE_ERR_INVALID_ARG : 0;
        mpz_init(m[n]);
        if (rc == 0 && j->i64 != NULL)
            phei_i64_to_mpz(m[n], j->i64[i], j->pk->n);
        else if (rc == 0)
            rc = phei_plain_from_bytes(j->pk, m[n], j->bytes + i * j->stride, j->len);
        if (rc == 0)
            rc = item_rng(j, i, &rngs[n]);
        rcs[i - lo] = rc;
        if (rc != 0) {
            phei_mpz_clear_secret(m[n]);
            continue;
        }
        mpz_init(r[n]);
        idx[n++] = i;
    }
    int rc = n > 0 ? phei_djn_randomizer_multi(j->pk, r, rngs, n) : 0;
    for (size_t k = 0; k < n; k++) {
        if (rc == 0)
            phei_encrypt_with(j->pk, j->out[idx[k]], m[k], r[k]);
        else
            rcs[idx[k] - lo] = rc;
        phei_mpz_clear_secret(m[k]);
        phei_mpz_clear_secret(r[k]);
        phe_rng_free(rngs[k]);
    }
    for (size_t i = lo; i < hi; i++)
        if (rcs[i - lo] != 0)
            return rcs[i - lo];
    return 0;
}

static int run_enc(phe_ctx *ctx, batch_job *j, phei_task_fn item, size_t count) {
    j->count = count;
    if (j->pk->mb8 != NULL && phei_mb8_available())
        return phei_ctx_run(ctx, enc_group, j, (count + ENC_GROUP - 1) / ENC_GROUP);
    return phei_ctx_run(ctx, item, j, count);
}

static int dec_i64_item(void *arg, size_t i) {
    batch_job *j = arg;
    return phe_decrypt_i64(j->sk, j->a[i], &j->i64_out[i]);
}

static int dec_bytes_item(void *arg, size_t i) {
    batch_job *j = arg;
    return phe_decrypt_bytes(j->sk, j->a[i], j->bytes_out + i * j->stride, j->len);
}

/* Decryption in groups of 8 (the IFMA kernel's lanes): item k of group g is
 * g·8 + k. Items that fail their checks are left out of the group and
 * report their error; the lowest failing index of the group is returned, so
 * phei_ctx_run still returns the lowest failing item overall. */
#define DEC_GROUP 8
static int dec_group(void *arg, size_t g) {
    batch_job *j = arg;
    size_t lo = g * DEC_GROUP, hi = lo + DEC_GROUP;
    if (hi > j->count)
        hi = j->count;
    int rcs[DEC_GROUP] = {0};
    size_t idx[DEC_GROUP], n = 0;
    mpz_srcptr c[DEC_GROUP];
    mpz_t m[DEC_GROUP];
    for (size_t i = lo; i < hi; i++) {
        rcs[i - lo] = j->a[i] == NULL ? PHE_ERR_INVALID_ARG : phei_check_ct(j->sk->pk, j->a[i]);
        if (rcs[i - lo] != 0)
            continue;
        idx[n] = i;
        c[n] = j->a[i]->c;
        mpz_init(m[n]);
        n++;
    }
    int rc = n > 0 ? phei_decrypt_mpz_multi(j->sk, m, c, n) : 0;
    for (size_t k = 0; k < n; k++) {
        size_t i = idx[k];
        int r = rc;
        if (r == 0 && j->i64_out != NULL)
            r = phei_mpz_to_i64(m[k], j->sk->pk->n, &j->i64_out[i]);
        else if (r == 0)
            r = phei_mpz_to_bytes_fixed(m[k], j->bytes_out + i * j->stride, j->len);
        rcs[i - lo] = r;
        phei_mpz_clear_secret(m[k]);
    }
    for (size_t i = lo; i < hi; i++)
        if (rcs[i - lo] != 0)
            return rcs[i - lo];
    return 0;
}

static int add_item(void *arg, size_t i) {
    batch_job *j = arg;
    return phe_add(j->pk, j->out[i], j->a[i], j->b[i]);
}

static int mul_item(void *arg, size_t i) {
    batch_job *j = arg;
    return phe_mul_i64(j->pk, j->out[i], j->a[i], j->i64[i]);
}

static int with_key(batch_job *j, phe_rng *rng, uint8_t key[32]) {
    if (rng == NULL)
        return 0;
    int rc = phei_rng_derive_key(rng, key);
    if (rc == 0)
        j->key = key;
    return rc;
}

static int array_ok(const void *p, size_t count) {
    return count == 0 || p != NULL;
}

int phe_encrypt_i64_batch(phe_ctx *ctx, const phe_pubkey *pk, phe_ciphertext *const *out,
                          const int64_t *m, size_t count, phe_rng *rng) {
    if (pk == NULL || !array_ok(out, count) || !array_ok(m, count))
        return PHE_ERR_INVALID_ARG;
    int rc = phei_pubkey_table(pk); /* build once, before the threads start */
    if (rc != 0)
        return rc;
    batch_job j = {.pk = pk, .out = out, .i64 = m};
    uint8_t key[32];
    rc = with_key(&j, rng, key);
    if (rc == 0)
        rc = run_enc(ctx, &j, enc_i64_item, count);
    sodium_memzero(key, sizeof key);
    return rc;
}

int phe_encrypt_bytes_batch(phe_ctx *ctx, const phe_pubkey *pk, phe_ciphertext *const *out,
                            const uint8_t *m, size_t m_len, size_t stride, size_t count,
                            phe_rng *rng) {
    if (pk == NULL || !array_ok(out, count) || !array_ok(m, count) || stride < m_len)
        return PHE_ERR_INVALID_ARG;
    /* A packed layout must fit below n whatever its values: 8·m_len < bits(n)
     * (the per-item m < n check alone would let a layout that can reach n
     * through while its current values happen to be small). */
    if (m_len >= ((size_t)phe_pubkey_bits(pk) + 7) / 8) /* ⟺ 8·m_len ≥ bits(n) */
        return PHE_ERR_PLAINTEXT_RANGE;
    int rc = phei_pubkey_table(pk);
    if (rc != 0)
        return rc;
    batch_job j = {.pk = pk, .out = out, .bytes = m, .len = m_len, .stride = stride};
    uint8_t key[32];
    rc = with_key(&j, rng, key);
    if (rc == 0)
        rc = run_enc(ctx, &j, enc_bytes_item, count);
    sodium_memzero(key, sizeof key);
    return rc;
}

int phe_decrypt_i64_batch(phe_ctx *ctx, const phe_seckey *sk, const phe_ciphertext *const *ct,
                          int64_t *out, size_t count) {
    if (sk == NULL || !array_ok(ct, count) || !array_ok(out, count))
        return PHE_ERR_INVALID_ARG;
    batch_job j = {.sk = sk, .a = ct, .i64_out = out, .count = count};
    if (phei_mb8_available())
        return phei_ctx_run(ctx, dec_group, &j, (count + DEC_GROUP - 1) / DEC_GROUP);
    return phei_ctx_run(ctx, dec_i64_item, &j, count);
}

int phe_decrypt_bytes_batch(phe_ctx *ctx, const phe_seckey *sk, const phe_ciphertext *const *ct,
                            uint8_t *out, size_t out_len, size_t stride, size_t count) {
    if (sk == NULL || !array_ok(ct, count) || !array_ok(out, count) || stride < out_len)
        return PHE_ERR_INVALID_ARG;
    if (count > 0 && out_len < phe_plaintext_size(phe_seckey_pubkey(sk)))
        return PHE_ERR_BUFFER_TOO_SMALL; /* as phe_decrypt_bytes, before any item */
    batch_job j = {
        .sk = sk, .a = ct, .bytes_out = out, .len = out_len, .stride = stride, .count = count};
    if (phei_mb8_available())
        return phei_ctx_run(ctx, dec_group, &j, (count + DEC_GROUP - 1) / DEC_GROUP);
    return phei_ctx_run(ctx, dec_bytes_item, &j, count);
}

int phe_add_batch(phe_ctx *ctx, const phe_pubkey *pk, phe_ciphertext *const *out,
                  const phe_ciphertext *const *a, const phe_ciphertext *const *b, size_t count) {
    if (pk == NULL || !array_ok(out, count) || !array_ok(a, count) || !array_ok(b, count))
        return PHE_ERR_INVALID_ARG;
    batch_job j = {.pk = pk, .out = out, .a = a, .b = b};
    return phei_ctx_run(ctx, add_item, &j, count);
}

int phe_mul_i64_batch(phe_ctx *ctx, const phe_pubkey *pk, phe_ciphertext *const *out,
                      const phe_ciphertext *const *a, const int64_t *k, size_t count) {
    if (pk == NULL || !array_ok(out, count) || !array_ok(a, count) || !array_ok(k, count))
        return PHE_ERR_INVALID_ARG;
    batch_job j = {.pk = pk, .out = out, .a = a, .i64 = k};
    return phei_ctx_run(ctx, mul_item, &j, count);
}

/* phe_sum: each thread-chunk sums a contiguous slice into a partial; the
 * partials are then added in order. */
typedef struct sum_job {
    const phe_pubkey *pk;
    const phe_ciphertext *const *a;
    size_t count, chunks;
    phe_ciphertext **partial;
} sum_job;

static int sum_chunk(void *arg, size_t k) {
    sum_job *j = arg;
    size_t lo = j->count * k / j->chunks, hi = j->count * (k + 1) / j->chunks;
    int rc = phe_ciphertext_copy(j->partial[k], j->a[lo]);
    if (rc == 0)
        rc = phei_check_ct(j->pk, j->a[lo]);
    for (size_t i = lo + 1; rc == 0 && i < hi; i++)
        rc = phe_add(j->pk, j->partial[k], j->partial[k], j->a[i]);
    return rc;
}

int phe_sum(phe_ctx *ctx, const phe_pubkey *pk, phe_ciphertext *out, const phe_ciphertext *const *a,
            size_t count) {
    if (pk == NULL || out == NULL || a == NULL || count == 0)
        return PHE_ERR_INVALID_ARG;
    size_t chunks = phe_ctx_threads(ctx);
    if (chunks > count)
        chunks = count;
    phe_ciphertext **partial = calloc(chunks, sizeof *partial);
    if (partial == NULL)
        return PHE_ERR_NOMEM;
    int rc = 0;
    for (size_t k = 0; k < chunks && rc == 0; k++)
        rc = phe_ciphertext_new(&partial[k]);
    sum_job j = {pk, a, count, chunks, partial};
    if (rc == 0)
        rc = phei_ctx_run(ctx, sum_chunk, &j, chunks);
    for (size_t k = 1; k < chunks && rc == 0; k++)
        rc = phe_add(pk, partial[0], partial[0], partial[k]);
    if (rc == 0)
        rc = phe_ciphertext_copy(out, partial[0]);
    for (size_t k = 0; k < chunks; k++)
        phe_ciphertext_free(partial[k]);
    free(partial);
    return rc;
}
