/* libphe batch calls: results equal the one-at-a-time calls, do not depend
 * on the thread count (seeded), report the lowest failing index, and the
 * context can be resized; several threads may share one context. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "phe_test_util.h"

#define COUNT 37

typedef struct arrays {
    phe_ciphertext *ct[COUNT], *out[COUNT], *ref[COUNT];
    int64_t m[COUNT], k[COUNT], dec[COUNT];
} arrays;

static arrays *make_arrays(void) {
    arrays *a = calloc(1, sizeof *a);
    assert_non_null(a);
    for (int i = 0; i < COUNT; i++) {
        a->ct[i] = test_ct();
        a->out[i] = test_ct();
        a->ref[i] = test_ct();
        a->m[i] = (int64_t)i * 1000003 - 17000000;
        a->k[i] = (i % 2 ? -1 : 1) * (int64_t)(i * i + 1);
    }
    return a;
}

static void free_arrays(arrays *a) {
    for (int i = 0; i < COUNT; i++) {
        phe_ciphertext_free(a->ct[i]);
        phe_ciphertext_free(a->out[i]);
        phe_ciphertext_free(a->ref[i]);
    }
    free(a);
}

static void test_batch_matches_scalar(void **state) {
    (void)state;
    const phe_seckey *sk = test_key(0);
    const phe_pubkey *pk = phe_seckey_pubkey(sk);
    arrays *a = make_arrays();
    phe_ctx *ctx = NULL;
    assert_int_equal(phe_ctx_new(&ctx, 3), 0);
    assert_int_equal(phe_ctx_threads(ctx), 3);
    assert_int_equal(phe_encrypt_i64_batch(ctx, pk, a->ct, a->m, COUNT, NULL), 0);
    assert_int_equal(
        phe_decrypt_i64_batch(ctx, sk, (const phe_ciphertext *const *)a->ct, a->dec, COUNT), 0);
    assert_memory_equal(a->dec, a->m, sizeof a->m);
    /* add: ct + ct */
    assert_int_equal(phe_add_batch(ctx, pk, a->out, (const phe_ciphertext *const *)a->ct,
                                   (const phe_ciphertext *const *)a->ct, COUNT),
                     0);
    for (int i = 0; i < COUNT; i++) {
        assert_int_equal(phe_add(pk, a->ref[i], a->ct[i], a->ct[i]), 0);
        assert_true(phe_ciphertext_equal(a->ref[i], a->out[i]));
    }
    /* scalar multiply */
    assert_int_equal(
        phe_mul_i64_batch(ctx, pk, a->out, (const phe_ciphertext *const *)a->ct, a->k, COUNT), 0);
    assert_int_equal(
        phe_decrypt_i64_batch(ctx, sk, (const phe_ciphertext *const *)a->out, a->dec, COUNT), 0);
    for (int i = 0; i < COUNT; i++)
        assert_int_equal(a->dec[i], a->m[i] * a->k[i]);
    /* sum */
    phe_ciphertext *sum = test_ct();
    int64_t total = 0, got;
    for (int i = 0; i < COUNT; i++)
        total += a->m[i];
    assert_int_equal(phe_sum(ctx, pk, sum, (const phe_ciphertext *const *)a->ct, COUNT), 0);
    assert_int_equal(phe_decrypt_i64(sk, sum, &got), 0);
    assert_int_equal(got, total);
    assert_int_equal(phe_sum(NULL, pk, sum, (const phe_ciphertext *const *)a->ct, 1), 0);
    assert_int_equal(phe_decrypt_i64(sk, sum, &got), 0);
    assert_int_equal(got, a->m[0]);
    /* bytes: plaintext rows of 9 bytes, stride 11 */
    uint8_t rows[COUNT * 11], back[COUNT * 11];
    memset(rows, 0xee, sizeof rows);
    for (int i = 0; i < COUNT; i++)
        for (int b = 0; b < 9; b++)
            rows[i * 11 + b] = (uint8_t)(i * 31 + b);
    assert_int_equal(phe_encrypt_bytes_batch(ctx, pk, a->ct, rows, 9, 11, COUNT, NULL), 0);
    /* rows narrower than phe_plaintext_size() are refused before any item */
    memset(back, 0xee, sizeof back);
    assert_int_equal(
        phe_decrypt_bytes_batch(ctx, sk, (const phe_ciphertext *const *)a->ct, back, 9, 11, COUNT),
        PHE_ERR_BUFFER_TOO_SMALL);
    for (size_t i = 0; i < sizeof back; i++)
        assert_int_equal(back[i], 0xee);
    size_t L = phe_plaintext_size(pk);
    uint8_t *wide = malloc(COUNT * (L + 2));
    assert_non_null(wide);
    assert_int_equal(phe_decrypt_bytes_batch(ctx, sk, (const phe_ciphertext *const *)a->ct, wide, L,
                                             L + 2, COUNT),
                     0);
    for (int i = 0; i < COUNT; i++) {
        uint8_t *row = wide + (size_t)i * (L + 2);
        assert_memory_equal(row + L - 9, rows + i * 11, 9);
        for (size_t b = 0; b < L - 9; b++)
            assert_int_equal(row[b], 0);
    }
    free(wide);
    phe_ciphertext_free(sum);
    phe_ctx_free(ctx);
    free_arrays(a);
}

static void test_seeded_batch_independent_of_threads(void **state) {
    (void)state;
    const phe_pubkey *pk = phe_seckey_pubkey(test_key(0));
    arrays *a = make_arrays();
    phe_ctx *one = NULL, *four = NULL;
    assert_int_equal(phe_ctx_new(&one, 1), 0);
    assert_int_equal(phe_ctx_new(&four, 4), 0);
    phe_rng *r1 = test_rng("batch"), *r2 = test_rng("batch");
    assert_int_equal(phe_encrypt_i64_batch(one, pk, a->ct, a->m, COUNT, r1), 0);
    assert_int_equal(phe_encrypt_i64_batch(four, pk, a->out, a->m, COUNT, r2), 0);
    for (int i = 0; i < COUNT; i++)
        assert_true(phe_ciphertext_equal(a->ct[i], a->out[i]));
    /* pool filled with a seed is also thread-count independent */
    phe_pool *p1 = NULL, *p4 = NULL;
    assert_int_equal(phe_pool_new(&p1, pk, 5), 0);
    assert_int_equal(phe_pool_new(&p4, pk, 5), 0);
    assert_int_equal(phe_pool_fill(p1, one, r1), 0);
    assert_int_equal(phe_pool_fill(p4, four, r2), 0);
    assert_int_equal(phe_pool_available(p4), 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(phe_pool_encrypt_i64(p1, a->ct[i], i), 0);
        assert_int_equal(phe_pool_encrypt_i64(p4, a->out[i], i), 0);
        assert_true(phe_ciphertext_equal(a->ct[i], a->out[i]));
    }
    phe_pool_free(p1);
    phe_pool_free(p4);
    phe_rng_free(r1);
    phe_rng_free(r2);
    /* resize */
    assert_int_equal(phe_ctx_set_threads(four, 2), 0);
    assert_int_equal(phe_ctx_threads(four), 2);
    assert_int_equal(phe_ctx_set_threads(four, 0), 0);
    assert_true(phe_ctx_threads(four) >= 1);
    assert_int_equal(phe_ctx_set_threads(four, 5000), PHE_ERR_INVALID_ARG);
    assert_int_equal(phe_ctx_new(&one, 5000), PHE_ERR_INVALID_ARG);
    phe_ctx_free(one);
    phe_ctx_free(four);
    phe_ctx_free(NULL);
    free_arrays(a);
}

static void test_batch_errors(void **state) {
    (void)state;
    const phe_seckey *sk = test_key(0);
    const phe_pubkey *pk = phe_seckey_pubkey(sk);
    arrays *a = make_arrays();
    phe_ctx *ctx = NULL;
    assert_int_equal(phe_ctx_new(&ctx, 2), 0);
    assert_int_equal(phe_encrypt_i64_batch(ctx, pk, a->ct, a->m, COUNT, NULL), 0);
    /* item 30 is empty, item 20 under another key: the lowest index wins */
    phe_ciphertext *empty = test_ct(), *other = test_ct();
    assert_int_equal(phe_encrypt_i64(phe_seckey_pubkey(test_key(1)), other, 1, NULL), 0);
    phe_ciphertext *save20 = a->ct[20], *save30 = a->ct[30];
    a->ct[20] = other;
    a->ct[30] = empty;
    assert_int_equal(
        phe_decrypt_i64_batch(ctx, sk, (const phe_ciphertext *const *)a->ct, a->dec, COUNT),
        PHE_ERR_KEY_MISMATCH);
    assert_int_equal(phe_add_batch(ctx, pk, a->out, (const phe_ciphertext *const *)a->ct,
                                   (const phe_ciphertext *const *)a->ct, COUNT),
                     PHE_ERR_KEY_MISMATCH);
    a->ct[20] = save20;
    assert_int_equal(
        phe_mul_i64_batch(ctx, pk, a->out, (const phe_ciphertext *const *)a->ct, a->k, COUNT),
        PHE_ERR_EMPTY);
    assert_int_equal(phe_sum(ctx, pk, a->out[0], (const phe_ciphertext *const *)a->ct, COUNT),
                     PHE_ERR_EMPTY);
    a->ct[30] = save30;
    /* a packed layout as wide as n is refused whatever the values (these
     * rows are all zero, each < n): 8·m_len must be below bits(n) */
    size_t L = phe_plaintext_size(pk);
    assert_int_equal(phe_pubkey_bits(pk), 8 * L);
    uint8_t *rows = calloc(3, L);
    assert_int_equal(phe_encrypt_bytes_batch(ctx, pk, a->out, rows, L, L, 3, NULL),
                     PHE_ERR_PLAINTEXT_RANGE);
    assert_int_equal(phe_encrypt_bytes_batch(ctx, pk, a->out, rows, L + 5, L + 5, 1, NULL),
                     PHE_ERR_PLAINTEXT_RANGE);
    /* one byte narrower fits: every value is below 2^(8(L−1)) < n */
    memset(rows, 0xff, L - 1);
    assert_int_equal(phe_encrypt_bytes_batch(ctx, pk, a->out, rows, L - 1, L, 2, NULL), 0);
    uint8_t *back = malloc(L);
    assert_int_equal(phe_decrypt_bytes(sk, a->out[0], back, L), 0);
    assert_int_equal(back[0], 0);
    assert_memory_equal(back + 1, rows, L - 1);
    free(back);
    memset(rows, 0, 3 * L);
    /* a plaintext ≥ n in a bytes batch */
    assert_int_equal(phe_pubkey_modulus(pk, rows + L, L), 0);
    assert_int_equal(phe_encrypt_bytes_batch(ctx, pk, a->out, rows, L, L, 3, NULL),
                     PHE_ERR_PLAINTEXT_RANGE);
    /* argument checks */
    assert_int_equal(phe_encrypt_i64_batch(ctx, NULL, a->ct, a->m, COUNT, NULL),
                     PHE_ERR_INVALID_ARG);
    assert_int_equal(phe_encrypt_i64_batch(ctx, pk, NULL, a->m, 1, NULL), PHE_ERR_INVALID_ARG);
    assert_int_equal(phe_encrypt_i64_batch(ctx, pk, NULL, NULL, 0, NULL), 0);
    assert_int_equal(phe_encrypt_bytes_batch(ctx, pk, a->out, rows, L, L - 1, 2, NULL),
                     PHE_ERR_INVALID_ARG);
    assert_int_equal(phe_sum(ctx, pk, a->out[0], (const phe_ciphertext *const *)a->ct, 0),
                     PHE_ERR_INVALID_ARG);
    free(rows);
    phe_ciphertext_free(empty);
    phe_ciphertext_free(other);
    phe_ctx_free(ctx);
    free_arrays(a);
}

/* Several threads share one context: each runs batch encrypt, add, multiply
 * and decrypt on its own arrays while another thread resizes the pool. Every
 * result is checked by decryption. CMocka's assertions are not thread-safe,
 * so the threads count their failures and the test thread asserts. A
 * deadlock shows as the meson test timeout (no timing assertion here). */
#define SHARED_THREADS 4
#define SHARED_ROUNDS  12
#define SHARED_COUNT   9

typedef struct shared_arg {
    phe_ctx *ctx;
    const phe_seckey *sk;
    int id;
    atomic_int *failures;
    atomic_int *running;
} shared_arg;

static void *shared_worker(void *p) {
    shared_arg *s = p;
    const phe_pubkey *pk = phe_seckey_pubkey(s->sk);
    phe_ciphertext *ct[SHARED_COUNT] = {0}, *sum[SHARED_COUNT] = {0}, *prod[SHARED_COUNT] = {0};
    int64_t m[SHARED_COUNT], k[SHARED_COUNT], dec[SHARED_COUNT];
    int bad = 0;
    for (int i = 0; i < SHARED_COUNT; i++)
        if (phe_ciphertext_new(&ct[i]) != 0 || phe_ciphertext_new(&sum[i]) != 0 ||
            phe_ciphertext_new(&prod[i]) != 0)
            bad++;
    for (int r = 0; r < SHARED_ROUNDS && bad == 0; r++) {
        for (int i = 0; i < SHARED_COUNT; i++) {
            m[i] = (int64_t)s->id * 1000000 + r * 1000 + i - 500000;
            k[i] = (int64_t)(s->id + 2) * (i % 2 ? -1 : 1);
        }
        const phe_ciphertext *const *cct = (const phe_ciphertext *const *)ct;
        if (phe_encrypt_i64_batch(s->ctx, pk, ct, m, SHARED_COUNT, NULL) != 0 ||
            phe_add_batch(s->ctx, pk, sum, cct, cct, SHARED_COUNT) != 0 ||
            phe_mul_i64_batch(s->ctx, pk, prod, cct, k, SHARED_COUNT) != 0) {
            bad++;
            break;
        }
        if (phe_decrypt_i64_batch(s->ctx, s->sk, cct, dec, SHARED_COUNT) != 0)
            bad++;
        for (int i = 0; i < SHARED_COUNT; i++)
            bad += dec[i] != m[i];
        if (phe_decrypt_i64_batch(s->ctx, s->sk, (const phe_ciphertext *const *)sum, dec,
                                  SHARED_COUNT) != 0)
            bad++;
        for (int i = 0; i < SHARED_COUNT; i++)
            bad += dec[i] != 2 * m[i];
        if (phe_decrypt_i64_batch(s->ctx, s->sk, (const phe_ciphertext *const *)prod, dec,
                                  SHARED_COUNT) != 0)
            bad++;
        for (int i = 0; i < SHARED_COUNT; i++)
            bad += dec[i] != k[i] * m[i];
    }
    for (int i = 0; i < SHARED_COUNT; i++) {
        phe_ciphertext_free(ct[i]);
        phe_ciphertext_free(sum[i]);
        phe_ciphertext_free(prod[i]);
    }
    atomic_fetch_add(s->failures, bad);
    atomic_fetch_sub(s->running, 1);
    return NULL;
}

static void test_shared_ctx_many_threads(void **state) {
    (void)state;
    const phe_seckey *sk = test_key(0); /* generated here, before the threads */
    phe_ctx *ctx = NULL;
    assert_int_equal(phe_ctx_new(&ctx, 3), 0);
    atomic_int failures = 0, running = SHARED_THREADS;
    pthread_t th[SHARED_THREADS];
    shared_arg args[SHARED_THREADS];
    for (int t = 0; t < SHARED_THREADS; t++) {
        args[t] = (shared_arg){ctx, sk, t, &failures, &running};
        assert_int_equal(pthread_create(&th[t], NULL, shared_worker, &args[t]), 0);
    }
    /* resize the pool while the jobs run: each resize waits for the running job */
    uint32_t sizes[] = {2, 4, 1, 3};
    int resize_errors = 0;
    for (unsigned i = 0; atomic_load(&running) > 0; i++) {
        resize_errors += phe_ctx_set_threads(ctx, sizes[i % 4]) != 0;
        uint32_t n = phe_ctx_threads(ctx);
        resize_errors += n < 1 || n > 4;
        if (i > 200)
            break; /* enough resizes; the workers still finish below */
    }
    for (int t = 0; t < SHARED_THREADS; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
    assert_int_equal(resize_errors, 0);
    assert_int_equal(atomic_load(&failures), 0);
    /* the pool still works after all that */
    assert_int_equal(phe_ctx_set_threads(ctx, 2), 0);
    assert_int_equal(phe_ctx_threads(ctx), 2);
    arrays *a = make_arrays();
    assert_int_equal(phe_encrypt_i64_batch(ctx, phe_seckey_pubkey(sk), a->ct, a->m, COUNT, NULL),
                     0);
    assert_int_equal(
        phe_decrypt_i64_batch(ctx, sk, (const phe_ciphertext *const *)a->ct, a->dec, COUNT), 0);
    assert_memory_equal(a->dec, a->m, sizeof a->m);
    free_arrays(a);
    phe_ctx_free(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_matches_scalar),
        cmocka_unit_test(test_seeded_batch_independent_of_threads),
        cmocka_unit_test(test_batch_errors),
        cmocka_unit_test(test_shared_ctx_many_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
