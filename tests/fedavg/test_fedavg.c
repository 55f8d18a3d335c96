/* CMocka tests of libfedavg: codec, packed sums at the overflow edge, FedAvg,
 * robust aggregation, anomaly test, stop rule, deltas, parameter IDs.
 * Deterministic: a fixed-seed xorshift generator. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "fedavg.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Uniform in [-a, a]. */
static float urand(float a) {
    return (float)(((double)(rng() >> 11) / 9007199254740992.0 * 2.0 - 1.0) * a);
}

static fedavg_codec *make_codec(uint32_t P, uint32_t M, double prec, float clip, uint32_t flags) {
    fedavg_codec_config cfg;
    fedavg_codec_config_init(&cfg);
    cfg.plaintext_bytes = P;
    cfg.max_weight = M;
    cfg.precision = prec;
    cfg.clip = clip;
    cfg.flags = flags;
    fedavg_codec *c = NULL;
    assert_int_equal(fedavg_codec_select(&c, &cfg), FEDAVG_OK);
    assert_non_null(c);
    return c;
}

static void test_strerror_and_version(void **state) {
    (void)state;
    assert_string_equal(fedavg_strerror(FEDAVG_E_NONFINITE),
                        "input holds NaN or infinity (only finite values are accepted)");
    assert_string_equal(fedavg_strerror(12345), "unknown error");
    for (int code = -399; code <= 0; code++)
        assert_non_null(fedavg_strerror(code));
    assert_string_equal(fedavg_strerror(FEDAVG_E_SLOT),
                        "2 * Q * max_weight needs more than 64 bits per slot (lower the clip, "
                        "precision or max_weight)");
    assert_string_equal(fedavg_version_string(), FEDAVG_VERSION_STRING);
}

static void test_select_parameters(void **state) {
    (void)state;
    /* precision 1e-6 -> f = 19 (2^-20 <= 1e-6 < 2^-19); Q = 2^19; 2QM = 2^24 (M=16) -> 25 bits
     * -> 32-bit slots; 255 bytes -> 63 values. */
    fedavg_codec *c = make_codec(255, 16, 1e-6, 1.0f, 0);
    assert_int_equal(fedavg_codec_frac_bits(c), 19);
    assert_int_equal(fedavg_codec_slot_bits(c), 32);
    assert_int_equal(fedavg_codec_values_per_plaintext(c), 63);
    assert_true(fedavg_codec_error_bound(c) >= ldexp(1.0, -20));
    assert_true(fedavg_codec_error_bound(c) <= ldexp(1.0, -20) + ldexp(1.0, -22));
    assert_int_equal(fedavg_codec_plaintexts(c, 63), 1);
    assert_int_equal(fedavg_codec_plaintexts(c, 64), 2);
    assert_int_equal(fedavg_codec_packed_bytes(c, 64), 510);
    fedavg_codec_free(c);
    /* M = 15 -> 2QM < 2^24 -> 24-bit slots (byte granularity), 85 values. */
    c = make_codec(255, 15, 1e-6, 1.0f, 0);
    assert_int_equal(fedavg_codec_slot_bits(c), 24);
    assert_int_equal(fedavg_codec_values_per_plaintext(c), 85);
    fedavg_codec_free(c);
    c = make_codec(255, 15, 1e-6, 1.0f, FEDAVG_CODEC_ALIGNED_SLOTS);
    assert_int_equal(fedavg_codec_slot_bits(c), 32);
    fedavg_codec_free(c);

    fedavg_codec_config cfg;
    fedavg_codec_config_init(&cfg);
    fedavg_codec *out = (fedavg_codec *)0x1;
    cfg.precision = 1e-12; /* Q would exceed 2^30 */
    assert_int_equal(fedavg_codec_select(&out, &cfg), FEDAVG_E_PARAMS);
    assert_ptr_equal(out, (fedavg_codec *)0x1);
    fedavg_codec_config_init(&cfg);
    cfg.max_weight = UINT32_MAX; /* 2QM needs 52 bits: fine */
    assert_int_equal(fedavg_codec_select(&out, &cfg), FEDAVG_OK);
    assert_int_equal(fedavg_codec_slot_bits(out), 56);
    fedavg_codec_free(out);
    cfg.plaintext_bytes = 6; /* smaller than one 56-bit slot */
    assert_int_equal(fedavg_codec_select(&out, &cfg), FEDAVG_E_PLAINTEXT);
    cfg.plaintext_bytes = 255;
    cfg.precision = ldexp(1.0, -31); /* Q = 2^30, 2QM needs 63 bits: fits */
    assert_int_equal(fedavg_codec_select(&out, &cfg), FEDAVG_OK);
    assert_int_equal(fedavg_codec_slot_bits(out), 64);
    fedavg_codec_free(out);
    cfg.clip = 2.0f; /* Q = 2^31 */
    assert_int_equal(fedavg_codec_select(&out, &cfg), FEDAVG_E_PARAMS);
    cfg.clip = 1.0f;
    cfg.flags = FEDAVG_CODEC_ALIGNED_SLOTS;
    cfg.precision = 1e-6;
    assert_int_equal(fedavg_codec_select(&out, &cfg), FEDAVG_OK);
    fedavg_codec_free(out);
    cfg.precision = ldexp(1.0, -31);
    cfg.max_weight = UINT32_MAX; /* 2^31 * (2^32 - 1): 63 bits, still fits */
    assert_int_equal(fedavg_codec_select(&out, &cfg), FEDAVG_OK);
    fedavg_codec_free(out);
    fedavg_codec_config_init(&cfg);
    cfg.clip = NAN;
    assert_int_equal(fedavg_codec_select(&out, &cfg), FEDAVG_E_INVALID);
    cfg.clip = 1.0f;
    cfg.precision = 0.0;
    assert_int_equal(fedavg_codec_select(&out, &cfg), FEDAVG_E_INVALID);
    cfg.precision = 1e-6;
    cfg.version = 99;
    assert_int_equal(fedavg_codec_select(&out, &cfg), FEDAVG_E_INVALID);
    cfg.version = FEDAVG_CODEC_CONFIG_VERSION;
    cfg.max_weight = 0;
    assert_int_equal(fedavg_codec_select(&out, &cfg), FEDAVG_E_INVALID);
    assert_int_equal(fedavg_codec_select(NULL, &cfg), FEDAVG_E_INVALID);
}

/* Round trip of one vector at weight 1 within the bound, every slot width. */
static void roundtrip(uint32_t P, uint32_t M, double prec, float clip, uint32_t flags) {
    fedavg_codec *c = make_codec(P, M, prec, clip, flags);
    const size_t n = 1000;
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++)
        x[i] = urand(clip);
    x[0] = clip;
    x[1] = -clip;
    x[2] = 0.0f;
    x[3] = -0.0f;
    x[4] = 1e-30f;
    x[5] = -1.4e-45f; /* smallest subnormal */
    /* Extremes also in the scalar tail of a chunk (values 60..62 of 63). */
    x[61] = -clip;
    x[62] = clip;
    x[n - 1] = clip;
    size_t len = fedavg_codec_packed_bytes(c, n);
    uint8_t *buf = malloc(len);
    size_t clipped = 99;
    assert_int_equal(fedavg_codec_pack(c, x, n, 1, buf, len, &clipped), FEDAVG_OK);
    assert_int_equal(clipped, 0);
    assert_int_equal(fedavg_codec_unpack(c, buf, len, n, 1, y), FEDAVG_OK);
    double bound = fedavg_codec_error_bound(c);
    for (size_t i = 0; i < n; i++)
        assert_true(fabs((double)y[i] - (double)x[i]) <= bound);
    free(x);
    free(y);
    free(buf);
    fedavg_codec_free(c);
}

static void test_roundtrip_widths(void **state) {
    (void)state;
    roundtrip(255, 1, 0.01, 1.0f, 0);                                   /* 8-bit slots */
    roundtrip(255, 4, 1e-4, 1.0f, FEDAVG_CODEC_ALIGNED_SLOTS);          /* 16 */
    roundtrip(255, 15, 1e-6, 1.0f, 0);                                  /* 24 */
    roundtrip(256, 100, 1e-6, 0.5f, FEDAVG_CODEC_ALIGNED_SLOTS);        /* 32 */
    roundtrip(384, 1u << 20, 1e-7, 2.0f, 0);                            /* 48+ */
    roundtrip(512, UINT32_MAX, 1e-9, 1.0f, FEDAVG_CODEC_ALIGNED_SLOTS); /* 64 */
    roundtrip(7, 3, 1e-3, 100.0f, 0);                                   /* odd plaintext size */
    roundtrip(255, 1, ldexp(1.0, -31), 1.0f, 0); /* Q = 2^30: slots reach 2^31 */
}

static void test_clipping_counted(void **state) {
    (void)state;
    fedavg_codec *c = make_codec(255, 4, 1e-4, 0.5f, 0);
    float x[5] = {0.75f, -3.0f, 0.5f, -0.5f, 0.25f};
    float y[5];
    uint8_t buf[255];
    size_t clipped = 0;
    assert_int_equal(fedavg_codec_pack(c, x, 5, 1, buf, sizeof buf, &clipped), FEDAVG_OK);
    assert_int_equal(clipped, 2);
    assert_int_equal(fedavg_codec_unpack(c, buf, sizeof buf, 5, 1, y), FEDAVG_OK);
    assert_true(y[0] == 0.5f && y[1] == -0.5f && y[2] == 0.5f && y[3] == -0.5f && y[4] == 0.25f);
    fedavg_codec_free(c);
}

static void test_nonfinite_rejected(void **state) {
    (void)state;
    fedavg_codec *c = make_codec(64, 4, 1e-4, 1.0f, 0);
    float bad[3][9];
    float vals[3] = {NAN, INFINITY, -INFINITY};
    for (int v = 0; v < 3; v++) {
        for (int i = 0; i < 9; i++)
            bad[v][i] = 0.1f;
        bad[v][v * 3 + 2] = vals[v];
        uint8_t buf[64 * 2];
        memset(buf, 0xab, sizeof buf);
        assert_int_equal(fedavg_codec_pack(c, bad[v], 9, 1, buf, sizeof buf, NULL),
                         FEDAVG_E_NONFINITE);
        for (size_t i = 0; i < fedavg_codec_packed_bytes(c, 9); i++)
            assert_int_equal(buf[i], 0);
    }
    float ok[2] = {0, 0};
    uint8_t small[8];
    assert_int_equal(fedavg_codec_pack(c, ok, 2, 1, small, sizeof small, NULL),
                     FEDAVG_E_BUFFER_TOO_SMALL);
    uint8_t buf[64];
    assert_int_equal(fedavg_codec_pack(c, ok, 2, 0, buf, sizeof buf, NULL), FEDAVG_E_INVALID);
    assert_int_equal(fedavg_codec_pack(c, ok, 2, 5, buf, sizeof buf, NULL), FEDAVG_E_INVALID);
    assert_int_equal(fedavg_codec_pack(c, ok, 0, 1, buf, sizeof buf, NULL), FEDAVG_E_INVALID);
    fedavg_codec_free(c);
}

/* M vectors at +clip and at -clip with total weight exactly M: the slot sum
 * reaches 2QM (the top) or 0 and the mean is exact; weight M+1 is refused. */
static void test_overflow_edge(void **state) {
    (void)state;
    const uint32_t M = 15; /* 2QM = 15 * 2^20 < 2^24: slots of exactly 24 bits */
    fedavg_codec *c = make_codec(255, M, 1e-6, 1.0f, 0);
    assert_int_equal(fedavg_codec_slot_bits(c), 24);
    const size_t n = 200;
    size_t len = fedavg_codec_packed_bytes(c, n);
    uint8_t *acc = calloc(1, len), *one = malloc(len);
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++)
        x[i] = (i % 2) ? 1.0f : -1.0f;
    for (uint32_t k = 0; k < M; k++) {
        assert_int_equal(fedavg_codec_pack(c, x, n, 1, one, len, NULL), FEDAVG_OK);
        assert_int_equal(fedavg_codec_add(c, acc, one, len), FEDAVG_OK);
    }
    assert_int_equal(fedavg_codec_unpack(c, acc, len, n, M, y), FEDAVG_OK);
    for (size_t i = 0; i < n; i++)
        assert_true(y[i] == x[i]);
    /* The +clip slot is exactly 2QM = 0xF00000: top byte of a 24-bit slot. */
    size_t P = 255;
    assert_int_equal(acc[P - 6], 0xF0);
    /* One more: slot 84 of plaintext 1 (x[169] = +1) would reach 2^24 and
     * carry out of the 255 bytes: refused, acc unchanged. */
    uint8_t *keep_acc = malloc(len);
    memcpy(keep_acc, acc, len);
    assert_int_equal(fedavg_codec_add(c, acc, one, len), FEDAVG_E_OVERFLOW);
    assert_memory_equal(acc, keep_acc, len);
    free(keep_acc);
    /* With 84 values (top slot unused) the M+1-th add succeeds in the big-integer
     * sense; unpacking refuses both the true weight M+1 (> M) and a false claim
     * of M (a slot above 2QM or a carry into the padding). */
    size_t l84 = fedavg_codec_packed_bytes(c, 84);
    memset(acc, 0, l84);
    for (uint32_t k = 0; k <= M; k++) {
        assert_int_equal(fedavg_codec_pack(c, x, 84, 1, one, l84, NULL), FEDAVG_OK);
        assert_int_equal(fedavg_codec_add(c, acc, one, l84), FEDAVG_OK);
    }
    assert_int_equal(fedavg_codec_unpack(c, acc, l84, 84, M + 1, y), FEDAVG_E_OVERFLOW);
    y[0] = 5.0f;
    assert_int_equal(fedavg_codec_unpack(c, acc, l84, 84, M, y), FEDAVG_E_OVERFLOW);
    for (size_t i = 0; i < 84; i++)
        assert_true(y[i] == 0.0f);
    /* A plaintext carry out of P bytes is refused and acc left unchanged. */
    uint8_t a2[255], b2[255], keep[255];
    memset(a2, 0xff, sizeof a2);
    memset(b2, 0, sizeof b2);
    b2[254] = 1;
    memcpy(keep, a2, sizeof a2);
    assert_int_equal(fedavg_codec_add(c, a2, b2, 255), FEDAVG_E_OVERFLOW);
    assert_memory_equal(a2, keep, sizeof keep);
    assert_int_equal(fedavg_codec_add(c, a2, b2, 254), FEDAVG_E_INVALID);
    free(acc);
    free(one);
    free(x);
    free(y);
    fedavg_codec_free(c);
}

/* Weighted packed FedAvg equals plain FedAvg within the codec bound. */
static void test_packed_vs_plain(void **state) {
    (void)state;
    const size_t m = 5, n = 777;
    const uint32_t w[5] = {3, 1, 7, 2, 5};
    double wd[5];
    fedavg_codec *c = make_codec(256, 18, 1e-5, 0.25f, 0);
    size_t len = fedavg_codec_packed_bytes(c, n);
    uint8_t *acc = calloc(1, len), *one = malloc(len);
    float *xs[5];
    float *plain = malloc(n * sizeof(float)), *packed = malloc(n * sizeof(float));
    uint64_t W = 0;
    for (size_t i = 0; i < m; i++) {
        xs[i] = malloc(n * sizeof(float));
        for (size_t j = 0; j < n; j++)
            xs[i][j] = urand(0.25f);
        wd[i] = w[i];
        W += w[i];
        assert_int_equal(fedavg_codec_pack(c, xs[i], n, w[i], one, len, NULL), FEDAVG_OK);
        assert_int_equal(fedavg_codec_add(c, acc, one, len), FEDAVG_OK);
    }
    assert_int_equal(fedavg_average((const float *const *)xs, wd, m, n, plain), FEDAVG_OK);
    assert_int_equal(fedavg_codec_unpack(c, acc, len, n, W, packed), FEDAVG_OK);
    double bound = fedavg_codec_error_bound(c);
    for (size_t j = 0; j < n; j++) {
        double exact = 0;
        for (size_t i = 0; i < m; i++)
            exact += wd[i] * xs[i][j];
        exact /= (double)W;
        assert_true(fabs(packed[j] - exact) <= bound);
        assert_true(fabs(plain[j] - exact) <= fabs(exact) * ldexp(1.0, -23) + 1e-30);
    }
    /* Packed-vector encoding round trip. */
    size_t elen = fedavg_packed_encoded_bytes(c, n);
    uint8_t *enc = malloc(elen);
    assert_int_equal(fedavg_packed_encode(c, acc, len, n, (uint32_t)W, enc, elen), FEDAVG_OK);
    fedavg_codec *c2 = NULL;
    uint64_t n2;
    uint32_t w2;
    size_t off;
    assert_int_equal(fedavg_packed_decode(enc, elen, &c2, &n2, &w2, &off), FEDAVG_OK);
    assert_int_equal(n2, n);
    assert_int_equal(w2, W);
    assert_memory_equal(enc + off, acc, len);
    assert_int_equal(fedavg_codec_slot_bits(c2), fedavg_codec_slot_bits(c));
    fedavg_codec_free(c2);
    /* Claimed weight too small for the slots: refused by encode and decode. */
    assert_int_equal(fedavg_packed_encode(c, acc, len, n, 1, enc, elen), FEDAVG_E_OVERFLOW);
    assert_int_equal(fedavg_packed_decode(enc, elen - 1, &c2, &n2, &w2, &off), FEDAVG_E_FORMAT);
    enc[4] = 2;
    assert_int_equal(fedavg_packed_decode(enc, elen, &c2, &n2, &w2, &off), FEDAVG_E_VERSION);
    for (size_t i = 0; i < m; i++)
        free(xs[i]);
    free(enc);
    free(acc);
    free(one);
    free(plain);
    free(packed);
    fedavg_codec_free(c);
}

static void test_codec_encoding(void **state) {
    (void)state;
    fedavg_codec *c = make_codec(255, 16, 1e-6, 1.0f, 0);
    uint8_t enc[24];
    assert_int_equal(fedavg_codec_encoded_bytes(), 24);
    assert_int_equal(fedavg_codec_encode(c, enc, sizeof enc), FEDAVG_OK);
    const uint8_t want[24] = {'F', 'A', 'P', 'R',  1,    0, 0, 0, 255, 32, 19, 0,
                              0,   0,   16,  0x3f, 0x80, 0, 0, 0, 0,   0,  63, 0};
    assert_memory_equal(enc, want, 24);
    fedavg_codec *d = NULL;
    assert_int_equal(fedavg_codec_decode(&d, enc, 24), FEDAVG_OK);
    assert_int_equal(fedavg_codec_values_per_plaintext(d), 63);
    fedavg_codec_free(d);
    uint8_t bad[24];
    memcpy(bad, enc, 24);
    bad[9] = 40; /* slot width not the minimal one: non-canonical */
    assert_int_equal(fedavg_codec_decode(&d, bad, 24), FEDAVG_E_FORMAT);
    memcpy(bad, enc, 24);
    bad[22] = 62;
    assert_int_equal(fedavg_codec_decode(&d, bad, 24), FEDAVG_E_FORMAT);
    memcpy(bad, enc, 24);
    bad[15] = 0x7f, bad[16] = 0xc0; /* NaN clip */
    assert_int_equal(fedavg_codec_decode(&d, bad, 24), FEDAVG_E_FORMAT);
    assert_int_equal(fedavg_codec_decode(&d, enc, 23), FEDAVG_E_FORMAT);
    memcpy(bad, enc, 24);
    bad[4] = 9;
    assert_int_equal(fedavg_codec_decode(&d, bad, 24), FEDAVG_E_VERSION);
    assert_int_equal(fedavg_codec_encode(c, enc, 23), FEDAVG_E_BUFFER_TOO_SMALL);
    fedavg_codec_free(c);
}

/* ---- dense (bit-granular) slots ----------------------------------------- */

static void test_bit_slots_select(void **state) {
    (void)state;
    /* Same request as test_select_parameters: 2QM = 2^24 needs 25 bits; dense
     * slots are exactly 25 bits: floor(2040 / 25) = 81 values, not 63. */
    fedavg_codec *c = make_codec(255, 16, 1e-6, 1.0f, FEDAVG_CODEC_BIT_SLOTS);
    assert_int_equal(fedavg_codec_slot_bits(c), 25);
    assert_int_equal(fedavg_codec_values_per_plaintext(c), 81);
    assert_int_equal(fedavg_codec_flags(c), FEDAVG_CODEC_BIT_SLOTS);
    fedavg_codec *byte = make_codec(255, 16, 1e-6, 1.0f, 0);
    /* The width does not change the stated bound. */
    assert_true(fedavg_codec_error_bound(c) == fedavg_codec_error_bound(byte));
    assert_int_equal(fedavg_codec_flags(byte), 0);
    fedavg_codec_free(byte);
    fedavg_codec_free(c);
    /* Three participants of weight 100: M = 300; precision 1e-5 (f = 16), clip 1:
     * 2QM = 2^17 * 300 needs 26 bits -> 78 values per 2048-bit plaintext. */
    c = make_codec(255, 300, 1e-5, 1.0f, FEDAVG_CODEC_BIT_SLOTS);
    assert_int_equal(fedavg_codec_frac_bits(c), 16);
    assert_int_equal(fedavg_codec_slot_bits(c), 26);
    assert_int_equal(fedavg_codec_values_per_plaintext(c), 78);
    fedavg_codec_free(c);
    /* A width that is a multiple of 8 lays slots out as the byte codec does. */
    c = make_codec(255, 15, 1e-6, 1.0f, FEDAVG_CODEC_BIT_SLOTS);
    assert_int_equal(fedavg_codec_slot_bits(c), 24);
    assert_int_equal(fedavg_codec_values_per_plaintext(c), 85);
    fedavg_codec_free(c);

    fedavg_codec_config cfg;
    fedavg_codec_config_init(&cfg);
    fedavg_codec *out = (fedavg_codec *)0x1;
    cfg.flags = FEDAVG_CODEC_BIT_SLOTS | FEDAVG_CODEC_ALIGNED_SLOTS; /* contradictory */
    assert_int_equal(fedavg_codec_select(&out, &cfg), FEDAVG_E_INVALID);
    cfg.flags = 4u; /* unknown */
    assert_int_equal(fedavg_codec_select(&out, &cfg), FEDAVG_E_INVALID);
    cfg.flags = FEDAVG_CODEC_BIT_SLOTS;
    cfg.precision = 1e-12; /* Q > 2^30: the clip/precision pair does not fit */
    assert_int_equal(fedavg_codec_select(&out, &cfg), FEDAVG_E_PARAMS);
    cfg.precision = 1e-6;
    cfg.max_weight = 10;
    cfg.plaintext_bytes = 2; /* 2QM = 10 * 2^20 needs 24 bits > 16 */
    assert_int_equal(fedavg_codec_select(&out, &cfg), FEDAVG_E_PLAINTEXT);
    assert_ptr_equal(out, (fedavg_codec *)0x1);
    cfg.plaintext_bytes = 3; /* exactly one 24-bit slot */
    assert_int_equal(fedavg_codec_select(&out, &cfg), FEDAVG_OK);
    assert_int_equal(fedavg_codec_values_per_plaintext(out), 1);
    fedavg_codec_free(out);
}

/* N participants (2 ... 10) pack random values with random weights (total
 * W <= M), the packed forms are summed as big integers, and the sum unpacks to
 * the exact weighted mean within the stated bound. */
static void sum_of_n(fedavg_codec *c, unsigned N) {
    const uint32_t M = fedavg_codec_max_weight(c);
    const float clip = fedavg_codec_clip(c);
    const size_t n = 2 * fedavg_codec_values_per_plaintext(c) + 7;
    const size_t len = fedavg_codec_packed_bytes(c, n);
    uint8_t *acc = calloc(len, 1), *buf = malloc(len);
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    double *want = calloc(n, sizeof *want);
    uint64_t W = 0;
    for (unsigned i = 0; i < N; i++) {
        uint32_t cap = M / N; /* >= 1: the callers keep M >= N */
        uint32_t w = 1 + (uint32_t)(rng() % cap);
        for (size_t j = 0; j < n; j++) {
            /* 1 in 8 at an extreme, some beyond the clip */
            uint64_t r = rng();
            x[j] = (r & 7) == 0 ? ((r & 8) ? clip : -clip) : urand(clip * 1.1f);
            double xc = x[j] > clip ? clip : x[j] < -clip ? -clip : x[j];
            want[j] += (double)w * xc;
        }
        assert_int_equal(fedavg_codec_pack(c, x, n, w, buf, len, NULL), FEDAVG_OK);
        assert_int_equal(fedavg_codec_add(c, acc, buf, len), FEDAVG_OK);
        W += w;
    }
    assert_int_equal(fedavg_codec_unpack(c, acc, len, n, W, y), FEDAVG_OK);
    const double bound = fedavg_codec_error_bound(c);
    for (size_t j = 0; j < n; j++)
        assert_true(fabs((double)y[j] - want[j] / (double)W) <= bound);
    /* The sum's FAPK encoding is accepted for W (every slot <= 2QW). */
    size_t elen = fedavg_packed_encoded_bytes(c, n);
    uint8_t *enc = malloc(elen);
    assert_int_equal(fedavg_packed_encode(c, acc, len, n, (uint32_t)W, enc, elen), FEDAVG_OK);
    fedavg_codec *d = NULL;
    uint64_t dn = 0;
    uint32_t dw = 0;
    size_t off = 0;
    assert_int_equal(fedavg_packed_decode(enc, elen, &d, &dn, &dw, &off), FEDAVG_OK);
    assert_int_equal(fedavg_codec_slot_bits(d), fedavg_codec_slot_bits(c));
    assert_int_equal(dn, n);
    assert_int_equal(dw, W);
    fedavg_codec_free(d);
    free(enc);
    free(acc);
    free(buf);
    free(x);
    free(y);
    free(want);
}

static void test_bit_slots_every_width(void **state) {
    (void)state;
    static const float clips[] = {1.0f, 3.0f, 100.0f, 0.125f};
    static const uint32_t plains[] = {255, 7, 33};
    unsigned seen[65] = {0};
    for (unsigned N = 2; N <= 10; N++) {
        for (uint32_t f = 0; f <= 30; f++) {
            const float clip = clips[(N + f) % 4];
            const uint32_t P = plains[(N * 3 + f) % 3];
            /* unweighted (M = N) and data-size weights (M = N * 1000 ... ~2^32) */
            const uint32_t Ms[] = {N, N * 1000u, N * (1u << 22), UINT32_MAX / N * N};
            for (unsigned m = 0; m < 4; m++) {
                fedavg_codec_config cfg;
                fedavg_codec_config_init(&cfg);
                cfg.plaintext_bytes = P;
                cfg.max_weight = Ms[m];
                cfg.precision = ldexp(1.0, -(int)f - 1);
                cfg.clip = clip;
                cfg.flags = FEDAVG_CODEC_BIT_SLOTS;
                fedavg_codec *c = NULL;
                int rc = fedavg_codec_select(&c, &cfg);
                if (rc == FEDAVG_E_PARAMS || rc == FEDAVG_E_PLAINTEXT)
                    continue; /* does not fit: refused, and nothing allocated */
                assert_int_equal(rc, FEDAVG_OK);
                assert_int_equal(fedavg_codec_frac_bits(c), f);
                /* exactly bitlen(2QM) bits */
                uint64_t top = 2u * (uint64_t)rint(ldexp(clip, (int)f)) * Ms[m];
                unsigned need = 0;
                while (top >> need)
                    need++;
                if (need == 0) /* Q = 0 (clip 0.125 at f = 0): one-bit slots */
                    need = 1;
                assert_int_equal(fedavg_codec_slot_bits(c), need);
                assert_int_equal(fedavg_codec_values_per_plaintext(c), 8u * P / need);
                seen[need] = 1;
                sum_of_n(c, N);
                fedavg_codec_free(c);
            }
        }
    }
    /* f = 0, Q = 1, M = N = 2: 2QM = 4 needs 3 bits */
    fedavg_codec *c3 = make_codec(255, 2, 0.5, 1.0f, FEDAVG_CODEC_BIT_SLOTS);
    assert_int_equal(fedavg_codec_slot_bits(c3), 3);
    sum_of_n(c3, 2);
    seen[3] = 1;
    fedavg_codec_free(c3);
    /* every width from 3 to 63 bits (2QM < 2^63) was tried */
    for (unsigned b = 3; b <= 63; b++)
        assert_true(seen[b]);
}

static void test_bit_slots_refusals(void **state) {
    (void)state;
    fedavg_codec *c = make_codec(255, 3, 1e-5, 1.0f, FEDAVG_CODEC_BIT_SLOTS); /* 19-bit slots */
    assert_int_equal(fedavg_codec_slot_bits(c), 19);
    const uint32_t k = fedavg_codec_values_per_plaintext(c); /* 107: 2033 of 2040 bits */
    assert_int_equal(k, 107);
    const size_t n = k + 5;
    const size_t len = fedavg_codec_packed_bytes(c, n);
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    uint8_t *buf = malloc(len);
    for (size_t j = 0; j < n; j++)
        x[j] = 1.0f; /* every slot at 2Q: the top bits of each slot set */
    assert_int_equal(fedavg_codec_pack(c, x, n, 3, buf, len, NULL), FEDAVG_OK);
    assert_int_equal(fedavg_codec_unpack(c, buf, len, n, 3, y), FEDAVG_OK);
    for (size_t j = 0; j < n; j++)
        assert_true(y[j] == 1.0f);
    /* The 7 bits above the top slot (bits 2033 ... 2039) are zero: a bit set
     * there is refused. Bit 2032 is slot 106's top bit. */
    assert_int_equal(buf[0], 0x01);
    buf[0] |= 0x80;
    assert_int_equal(fedavg_codec_unpack(c, buf, len, n, 3, y), FEDAVG_E_OVERFLOW);
    for (size_t j = 0; j < n; j++)
        assert_true(y[j] == 0.0f);
    uint8_t enc[4096];
    assert_int_equal(fedavg_packed_encode(c, buf, len, n, 3, enc, sizeof enc), FEDAVG_E_OVERFLOW);
    buf[0] = 0x01;
    /* The unused slots of the last plaintext (5 used of 107) must be zero. */
    buf[255 + 255 - 13] ^= 0x80; /* bit 103 of plaintext 1: slot 5 */
    assert_int_equal(fedavg_codec_unpack(c, buf, len, n, 3, y), FEDAVG_E_OVERFLOW);
    buf[255 + 255 - 13] ^= 0x80;
    /* A slot above 2QW for the claimed weight is refused. */
    assert_int_equal(fedavg_codec_unpack(c, buf, len, n, 2, y), FEDAVG_E_OVERFLOW);
    /* Out-of-range input: the existing codes. */
    assert_int_equal(fedavg_codec_pack(c, x, n, 4, buf, len, NULL), FEDAVG_E_INVALID); /* w > M */
    assert_int_equal(fedavg_codec_unpack(c, buf, len, n, 4, y), FEDAVG_E_OVERFLOW);    /* W > M */
    x[50] = NAN;
    assert_int_equal(fedavg_codec_pack(c, x, n, 1, buf, len, NULL), FEDAVG_E_NONFINITE);
    for (size_t j = 0; j < len; j++)
        assert_int_equal(buf[j], 0);
    free(x);
    free(y);
    free(buf);
    fedavg_codec_free(c);
}

static void test_bit_slots_encoding(void **state) {
    (void)state;
    fedavg_codec *c = make_codec(255, 16, 1e-6, 1.0f, FEDAVG_CODEC_BIT_SLOTS);
    uint8_t enc[24];
    assert_int_equal(fedavg_codec_encode(c, enc, sizeof enc), FEDAVG_OK);
    /* version 2, 25-bit slots, 81 values, flags 2 */
    const uint8_t want[24] = {'F', 'A', 'P', 'R',  2,    0, 0, 0, 255, 25, 19, 0,
                              0,   0,   16,  0x3f, 0x80, 0, 0, 0, 0,   0,  81, 2};
    assert_memory_equal(enc, want, 24);
    fedavg_codec *d = NULL;
    assert_int_equal(fedavg_codec_decode(&d, enc, 24), FEDAVG_OK);
    assert_int_equal(fedavg_codec_slot_bits(d), 25);
    assert_int_equal(fedavg_codec_flags(d), FEDAVG_CODEC_BIT_SLOTS);
    fedavg_codec_free(d);
    uint8_t bad[24];
    memcpy(bad, enc, 24);
    bad[4] = 1; /* version 1 has no bit slots */
    assert_int_equal(fedavg_codec_decode(&d, bad, 24), FEDAVG_E_FORMAT);
    memcpy(bad, enc, 24);
    bad[23] = 0; /* version 2 always has them */
    assert_int_equal(fedavg_codec_decode(&d, bad, 24), FEDAVG_E_FORMAT);
    memcpy(bad, enc, 24);
    bad[9] = 32; /* not the minimal width */
    assert_int_equal(fedavg_codec_decode(&d, bad, 24), FEDAVG_E_FORMAT);
    memcpy(bad, enc, 24);
    bad[4] = 3;
    assert_int_equal(fedavg_codec_decode(&d, bad, 24), FEDAVG_E_VERSION);
    fedavg_codec_free(c);
    /* A version-1 codec still encodes as version 1 (the checked-in bytes of
     * test_codec_encoding) and decodes as before. */
    c = make_codec(255, 16, 1e-6, 1.0f, 0);
    assert_int_equal(fedavg_codec_encode(c, enc, sizeof enc), FEDAVG_OK);
    assert_int_equal(enc[4], 1);
    assert_int_equal(enc[23], 0);
    fedavg_codec_free(c);
}

static void test_weights(void **state) {
    (void)state;
    double w[3] = {0.5, 0.3, 0.2};
    uint32_t q[3];
    assert_int_equal(fedavg_weights_quantize(w, 3, 1000, q), FEDAVG_OK);
    assert_true(q[0] == 500 && q[1] == 300 && q[2] == 200);
    double b;
    assert_int_equal(fedavg_weights_error_bound(w, q, 3, 1.0f, &b), FEDAVG_OK);
    assert_true(b < 1e-12);
    double w2[3] = {1.0, 1.0, 1.0};
    assert_int_equal(fedavg_weights_quantize(w2, 3, 10, q), FEDAVG_OK);
    assert_true(q[0] == 3 && q[1] == 3 && q[2] == 3);
    assert_int_equal(fedavg_weights_error_bound(w2, q, 3, 2.0f, &b), FEDAVG_OK);
    assert_true(b < 1e-12); /* equal integers give the exact weights */
    uint32_t q2[3] = {4, 3, 3};
    assert_int_equal(fedavg_weights_error_bound(w2, q2, 3, 1.0f, &b), FEDAVG_OK);
    /* |0.4-1/3| + 2|0.3-1/3| = 0.1333... */
    assert_true(fabs(b - 0.4 / 3.0) < 1e-9);
    double nan_w[2] = {1.0, NAN};
    assert_int_equal(fedavg_weights_quantize(nan_w, 2, 10, q), FEDAVG_E_NONFINITE);
    double neg[2] = {1.0, -1.0};
    assert_int_equal(fedavg_weights_quantize(neg, 2, 10, q), FEDAVG_E_INVALID);
}

static void test_average_errors(void **state) {
    (void)state;
    float a[3] = {1, 2, 3}, b[3] = {3, 2, NAN}, o[3];
    const float *rows[2] = {a, b};
    double w[2] = {1, 1};
    assert_int_equal(fedavg_average(rows, w, 2, 2, o), FEDAVG_OK);
    assert_true(o[0] == 2.0f && o[1] == 2.0f);
    assert_int_equal(fedavg_average(rows, w, 2, 3, o), FEDAVG_E_NONFINITE);
    assert_true(o[0] == 0.0f && o[1] == 0.0f && o[2] == 0.0f);
    double z[2] = {0, 0};
    assert_int_equal(fedavg_average(rows, z, 2, 2, o), FEDAVG_E_INVALID);
    double ninf[2] = {1, INFINITY};
    assert_int_equal(fedavg_average(rows, ninf, 2, 2, o), FEDAVG_E_NONFINITE);
    const float *nullrow[2] = {a, NULL};
    assert_int_equal(fedavg_average(nullrow, w, 2, 2, o), FEDAVG_E_INVALID);
}

static void test_median_trimmed(void **state) {
    (void)state;
    float r[5][2] = {{1, 10}, {5, -1}, {3, 100}, {2, 7}, {4, 8}};
    const float *rows[5] = {r[0], r[1], r[2], r[3], r[4]};
    float o[2];
    assert_int_equal(fedavg_median(rows, 5, 2, o), FEDAVG_OK);
    assert_true(o[0] == 3.0f && o[1] == 8.0f);
    assert_int_equal(fedavg_median(rows, 4, 2, o), FEDAVG_OK);
    assert_true(o[0] == 2.5f && o[1] == 8.5f);
    assert_int_equal(fedavg_trimmed_mean(rows, 5, 2, 1, o), FEDAVG_OK);
    assert_true(o[0] == 3.0f && fabsf(o[1] - 25.0f / 3.0f) < 1e-5f);
    assert_int_equal(fedavg_trimmed_mean(rows, 5, 2, 2, o), FEDAVG_OK);
    assert_true(o[0] == 3.0f && o[1] == 8.0f);
    assert_int_equal(fedavg_trimmed_mean(rows, 5, 2, 3, o), FEDAVG_E_INVALID);
    assert_int_equal(fedavg_trimmed_mean(rows, 4, 2, 2, o), FEDAVG_E_INVALID);
    r[2][1] = INFINITY;
    assert_int_equal(fedavg_median(rows, 5, 2, o), FEDAVG_E_NONFINITE);
}

static void test_stats(void **state) {
    (void)state;
    float x[10], g[10], z[10] = {0};
    for (int i = 0; i < 10; i++) {
        x[i] = 3.0f;
        g[i] = -1.0f;
    }
    double v;
    assert_int_equal(fedavg_stat_norm(x, 10, &v), FEDAVG_OK);
    assert_true(fabs(v - sqrt(90.0)) < 1e-12);
    assert_int_equal(fedavg_stat_cosine(x, g, 10, &v), FEDAVG_OK);
    assert_true(fabs(v + 1.0) < 1e-15);
    assert_int_equal(fedavg_stat_cosine(x, z, 10, &v), FEDAVG_OK);
    assert_true(v == 0.0);
    x[7] = NAN;
    assert_int_equal(fedavg_stat_norm(x, 10, &v), FEDAVG_E_NONFINITE);
}

static void test_anomaly(void **state) {
    (void)state;
    fedavg_anomaly_config cfg;
    fedavg_anomaly_config_init(&cfg);
    cfg.stats = 2;
    fedavg_anomaly *a = NULL;
    assert_int_equal(fedavg_anomaly_new(&a, &cfg), FEDAVG_OK);
    /* History: norms 9, 10, 11, 10, 10 (mean 10, sd sqrt(0.5)); cosines all 0.5. */
    double hist[10] = {9, 0.5, 10, 0.5, 11, 0.5, 10, 0.5, 10, 0.5};
    uint8_t v[3];
    double probe[6] = {10, 0.5, 100, 0.5, 12.1, 0.5};
    assert_int_equal(fedavg_anomaly_accept(a, hist, 4), FEDAVG_OK);
    assert_int_equal(fedavg_anomaly_judge(a, probe, 3, v), FEDAVG_OK);
    assert_true(v[0] == FEDAVG_VERDICT_WARMUP && v[1] == FEDAVG_VERDICT_WARMUP);
    assert_int_equal(fedavg_anomaly_accept(a, hist + 8, 1), FEDAVG_OK);
    assert_int_equal(fedavg_anomaly_count(a), 5);
    double mu, sd;
    assert_int_equal(fedavg_anomaly_moments(a, 0, &mu, &sd), FEDAVG_OK);
    assert_true(mu == 10.0 && sd == sqrt(0.5));
    assert_int_equal(fedavg_anomaly_judge(a, probe, 3, v), FEDAVG_OK);
    /* 3 sd = 2.1213: 12.1 is 2.1 away (accepted), 100 far (suspicious). */
    assert_int_equal(v[0], FEDAVG_VERDICT_ACCEPTED);
    assert_int_equal(v[1], FEDAVG_VERDICT_SUSPICIOUS);
    assert_int_equal(v[2], FEDAVG_VERDICT_ACCEPTED);
    /* Cosine has sd 0: any other cosine is suspicious. */
    double off[2] = {10, 0.4};
    assert_int_equal(fedavg_anomaly_judge(a, off, 1, v), FEDAVG_OK);
    assert_int_equal(v[0], FEDAVG_VERDICT_SUSPICIOUS);
    double bad[2] = {NAN, 0};
    assert_int_equal(fedavg_anomaly_judge(a, bad, 1, v), FEDAVG_E_NONFINITE);
    assert_int_equal(fedavg_anomaly_accept(a, bad, 1), FEDAVG_E_NONFINITE);
    assert_int_equal(fedavg_anomaly_count(a), 5);
    fedavg_anomaly_free(a);
    /* Window: only the last 3 are kept. */
    cfg.stats = 1;
    cfg.warmup = 2;
    cfg.window = 3;
    assert_int_equal(fedavg_anomaly_new(&a, &cfg), FEDAVG_OK);
    double s[5] = {100, 200, 1, 2, 3};
    assert_int_equal(fedavg_anomaly_accept(a, s, 2), FEDAVG_OK);
    assert_int_equal(fedavg_anomaly_accept(a, s + 2, 3), FEDAVG_OK);
    assert_int_equal(fedavg_anomaly_count(a), 3);
    assert_int_equal(fedavg_anomaly_moments(a, 0, &mu, &sd), FEDAVG_OK);
    assert_true(mu == 2.0 && sd == 1.0);
    fedavg_anomaly_free(a);
    cfg.warmup = 1;
    assert_int_equal(fedavg_anomaly_new(&a, &cfg), FEDAVG_E_INVALID);
    /* Encoding: ring order is preserved (oldest first) through decode. */
    cfg.warmup = 2;
    cfg.window = 3;
    assert_int_equal(fedavg_anomaly_new(&a, &cfg), FEDAVG_OK);
    assert_int_equal(fedavg_anomaly_accept(a, s, 5), FEDAVG_OK); /* keeps 1, 2, 3 */
    size_t elen = fedavg_anomaly_encoded_bytes(a);
    assert_int_equal(elen, 33 + 3 * 8);
    uint8_t enc[57], enc2[57];
    assert_int_equal(fedavg_anomaly_encode(a, enc, sizeof enc), FEDAVG_OK);
    assert_memory_equal(enc, "FAAN\x01\x00\x00\x00\x01", 9);
    assert_int_equal(enc[32], 3);    /* count */
    assert_int_equal(enc[33], 0x3f); /* 1.0 = 3ff0... */
    fedavg_anomaly *b = NULL;
    assert_int_equal(fedavg_anomaly_decode(&b, enc, elen), FEDAVG_OK);
    assert_int_equal(fedavg_anomaly_count(b), 3);
    assert_int_equal(fedavg_anomaly_encode(b, enc2, sizeof enc2), FEDAVG_OK);
    assert_memory_equal(enc, enc2, elen);
    double more = 4.0;
    assert_int_equal(fedavg_anomaly_accept(a, &more, 1), FEDAVG_OK);
    assert_int_equal(fedavg_anomaly_accept(b, &more, 1), FEDAVG_OK);
    assert_int_equal(fedavg_anomaly_encode(a, enc, sizeof enc), FEDAVG_OK);
    assert_int_equal(fedavg_anomaly_encode(b, enc2, sizeof enc2), FEDAVG_OK);
    assert_memory_equal(enc, enc2, elen);
    enc[32] = 4; /* count beyond the window and the bytes */
    assert_int_equal(fedavg_anomaly_decode(&b, enc, elen), FEDAVG_E_FORMAT);
    enc[32] = 3;
    enc[33] = 0x7f, enc[34] = 0xf0; /* +inf */
    for (int i = 35; i < 41; i++)
        enc[i] = 0;
    fedavg_anomaly *keep = b;
    assert_int_equal(fedavg_anomaly_decode(&b, enc, elen), FEDAVG_E_FORMAT);
    assert_ptr_equal(b, keep);
    assert_int_equal(fedavg_anomaly_decode(&b, enc, elen - 1), FEDAVG_E_FORMAT);
    fedavg_anomaly_free(a);
    fedavg_anomaly_free(b);
    fedavg_anomaly_free(NULL);
}

static void test_stop_rule(void **state) {
    (void)state;
    fedavg_stop_config cfg;
    fedavg_stop_config_init(&cfg);
    assert_true(cfg.threshold == 0.001 && cfg.patience == 3 && cfg.max_rounds == 50);
    int d;
    /* Exactly representable steps: threshold 2^-10. */
    cfg.threshold = ldexp(1.0, -10);
    const double t = ldexp(1.0, -10);
    double eq[4] = {0.5, 0.5 + t, 0.5 + 2 * t, 0.5 + 3 * t}; /* gains == threshold */
    assert_int_equal(fedavg_stop_evaluate(&cfg, eq, 4, &d), FEDAVG_OK);
    assert_int_equal(d, FEDAVG_STOP_CONTINUE);
    double lt[4] = {0.5, 0.5 + t / 2, 0.5 + t, 0.5 + 1.5 * t}; /* gains just below */
    assert_int_equal(fedavg_stop_evaluate(&cfg, lt, 4, &d), FEDAVG_OK);
    assert_int_equal(d, FEDAVG_STOP_CONVERGED);
    assert_int_equal(fedavg_stop_evaluate(&cfg, lt, 3, &d), FEDAVG_OK);
    assert_int_equal(d, FEDAVG_STOP_CONTINUE); /* only 2 such rounds */
    cfg.max_rounds = 3;
    assert_int_equal(fedavg_stop_evaluate(&cfg, lt, 3, &d), FEDAVG_OK);
    assert_int_equal(d, FEDAVG_STOP_LIMIT);
    /* Relative: from 0.5, a gain of 2^-11 is relative 2^-10 (not < threshold). */
    cfg.max_rounds = 50;
    cfg.mode = FEDAVG_STOP_RELATIVE;
    double rel[2] = {0.5, 0.5 + ldexp(1.0, -11)};
    cfg.patience = 1;
    assert_int_equal(fedavg_stop_evaluate(&cfg, rel, 2, &d), FEDAVG_OK);
    assert_int_equal(d, FEDAVG_STOP_CONTINUE);
    double rel2[2] = {0.5, 0.5 + ldexp(1.0, -12)};
    assert_int_equal(fedavg_stop_evaluate(&cfg, rel2, 2, &d), FEDAVG_OK);
    assert_int_equal(d, FEDAVG_STOP_CONVERGED);
    /* Loss-like metric. */
    cfg.mode = FEDAVG_STOP_ABSOLUTE;
    cfg.lower_is_better = 1;
    double loss[2] = {1.0, 0.5};
    assert_int_equal(fedavg_stop_evaluate(&cfg, loss, 2, &d), FEDAVG_OK);
    assert_int_equal(d, FEDAVG_STOP_CONTINUE);
    double nanm[2] = {1.0, NAN};
    assert_int_equal(fedavg_stop_evaluate(&cfg, nanm, 2, &d), FEDAVG_E_NONFINITE);
    cfg.patience = 0;
    assert_int_equal(fedavg_stop_evaluate(&cfg, loss, 2, &d), FEDAVG_E_INVALID);
}

static void test_delta(void **state) {
    (void)state;
    const size_t n = 10000;
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *c = malloc(n * sizeof *c);
    for (size_t i = 0; i < n; i++)
        a[i] = b[i] = urand(1.0f);
    b[0] = -0.0f;
    uint32_t nanbits = 0x7fc12345u;
    memcpy(&b[17], &nanbits, 4);
    b[18] = a[18] * 2.0f;
    b[n - 1] = 42.0f;
    size_t sz;
    assert_int_equal(fedavg_delta_size(a, b, n, &sz), FEDAVG_OK);
    assert_true(sz < 77 + 4 * 4 + 12);
    uint8_t *d = malloc(sz);
    size_t len;
    assert_int_equal(fedavg_delta_encode(a, b, n, d, sz, &len), FEDAVG_OK);
    assert_int_equal(len, sz);
    uint64_t cnt;
    assert_int_equal(fedavg_delta_count(d, len, &cnt), FEDAVG_OK);
    assert_int_equal(cnt, n);
    assert_int_equal(fedavg_delta_apply(d, len, a, n, c), FEDAVG_OK);
    assert_memory_equal(b, c, n * sizeof *c);
    /* Applying to the wrong base is refused and changes nothing. */
    memcpy(c, b, n * sizeof *c);
    assert_int_equal(fedavg_delta_apply(d, len, b, n, c), FEDAVG_E_MISMATCH);
    assert_memory_equal(b, c, n * sizeof *c);
    /* Corrupt a XOR word: the next digest fails, in-place apply is undone. */
    memcpy(c, a, n * sizeof *c);
    d[len - 1] ^= 1;
    assert_int_equal(fedavg_delta_apply(d, len, c, n, c), FEDAVG_E_MISMATCH);
    assert_memory_equal(a, c, n * sizeof *c);
    d[len - 1] ^= 1;
    assert_int_equal(fedavg_delta_apply(d, len - 1, a, n, c), FEDAVG_E_FORMAT);
    assert_int_equal(fedavg_delta_apply(d, len, a, n - 1, c), FEDAVG_E_INVALID);
    /* Identical models: header only. */
    assert_int_equal(fedavg_delta_size(a, a, n, &sz), FEDAVG_OK);
    assert_int_equal(sz, 77);
    free(a);
    free(b);
    free(c);
    free(d);
}

static void test_param_id(void **state) {
    (void)state;
    const uint8_t model[] = "resnet-18";
    uint8_t sig[64];
    for (int i = 0; i < 64; i++)
        sig[i] = (uint8_t)i;
    size_t len = fedavg_param_id_input_bytes(9, 64);
    assert_int_equal(len, 4 + 1 + 4 + 9 + 8 + 4 + 64);
    uint8_t *in = malloc(len);
    assert_int_equal(fedavg_param_id_input(model, 9, 7, sig, 64, in, len), FEDAVG_OK);
    assert_memory_equal(in,
                        "FAPI\x01\x00\x00\x00\x09resnet-18\x00\x00\x00\x00\x00\x00\x00\x07"
                        "\x00\x00\x00\x40",
                        4 + 1 + 4 + 9 + 8 + 4);
    uint8_t id[32], ref[32];
    assert_int_equal(fedavg_param_id(model, 9, 7, sig, 64, id), FEDAVG_OK);
    assert_int_equal(sodium_init() >= 0, 1);
    crypto_hash_sha256(ref, in, len);
    assert_memory_equal(id, ref, 32);
    const uint8_t *pm, *ps;
    size_t pml, psl;
    uint64_t r;
    assert_int_equal(fedavg_param_id_input_parse(in, len, &pm, &pml, &r, &ps, &psl), FEDAVG_OK);
    assert_true(pml == 9 && r == 7 && psl == 64 && memcmp(ps, sig, 64) == 0);
    assert_int_equal(fedavg_param_id_input_parse(in, len - 1, &pm, &pml, &r, &ps, &psl),
                     FEDAVG_E_FORMAT);
    assert_int_equal(fedavg_param_id(model, 0, 7, sig, 64, id), FEDAVG_E_INVALID);
    free(in);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strerror_and_version),
        cmocka_unit_test(test_select_parameters),
        cmocka_unit_test(test_roundtrip_widths),
        cmocka_unit_test(test_clipping_counted),
        cmocka_unit_test(test_nonfinite_rejected),
        cmocka_unit_test(test_overflow_edge),
        cmocka_unit_test(test_packed_vs_plain),
        cmocka_unit_test(test_codec_encoding),
        cmocka_unit_test(test_bit_slots_select),
        cmocka_unit_test(test_bit_slots_every_width),
        cmocka_unit_test(test_bit_slots_refusals),
        cmocka_unit_test(test_bit_slots_encoding),
        cmocka_unit_test(test_weights),
        cmocka_unit_test(test_average_errors),
        cmocka_unit_test(test_median_trimmed),
        cmocka_unit_test(test_stats),
        cmocka_unit_test(test_anomaly),
        cmocka_unit_test(test_stop_rule),
        cmocka_unit_test(test_delta),
        cmocka_unit_test(test_param_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
