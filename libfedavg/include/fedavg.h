/**
 * @file fedavg.h
 * @brief libfedavg: the arithmetic of federated averaging, plain and packed.
 *
 * - Codec: float32 updates <-> fixed-point integers packed into big
 *   plaintexts (BatchCrypt-style slots with headroom for up to M summed
 *   vectors) that libphe encrypts as big-endian byte strings.
 * - Averaging: weighted FedAvg in the plain domain (double accumulation) and
 *   in the packed-integer domain; coordinate-wise median and trimmed mean.
 * - Round rules: the k-sigma anomaly test, the stop rule, delta encoding of
 *   successive models, and the parameter ID of a round.
 *
 * Thread safety: every function is reentrant. A ::fedavg_codec is immutable
 * after creation and may be shared by any number of threads. A
 * ::fedavg_anomaly is not synchronised: one thread at a time may use it.
 * Functions that hash (delta, parameter ID) call sodium_init() once.
 *
 * Floating point: the library assumes the default IEEE-754 environment
 * (round to nearest even, no flush-to-zero); it is built without FMA
 * contraction or reassociation, so float results are bit-identical on every
 * conforming machine (docs/fedavg-codec.md).
 *
 * Encodings: docs/formats/fedavg.md. Error bound: docs/fedavg-codec.md.
 */
#ifndef FEDAVG_H
#define FEDAVG_H

#include <stddef.h>
#include <stdint.h>

#include "fedavg/version.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(FEDAVG_BUILDING) && defined(__GNUC__)
#define FEDAVG_API __attribute__((visibility("default")))
#else
#define FEDAVG_API
#endif

/** Return codes (0 is success). Range -300 ... -399. */
typedef enum fedavg_error {
    /* clang-format off */
    /* codes:begin libfedavg.core.enum: generated from libfedavg/codes.tsv by tools/gen_codes.py */
    /** Success. */
    FEDAVG_OK = 0,
    /** An argument is invalid (NULL, zero length, out of range). */
    FEDAVG_E_INVALID = -300,
    /** An input holds NaN or infinity. */
    FEDAVG_E_NONFINITE = -301,
    /** Precision too fine for the clip (Q = clip·2^f > 2^30). */
    FEDAVG_E_PARAMS = -302,
    /** A sum would exceed the codec headroom (weight > M, carry). */
    FEDAVG_E_OVERFLOW = -303,
    /** Malformed or non-canonical encoding. */
    FEDAVG_E_FORMAT = -304,
    /** Unknown format version. */
    FEDAVG_E_VERSION = -305,
    /** A digest does not verify (delta applied to the wrong base). */
    FEDAVG_E_MISMATCH = -306,
    /** The output buffer is too small. */
    FEDAVG_E_BUFFER_TOO_SMALL = -307,
    /** 2·Q·M needs more than 64 bits per slot. */
    FEDAVG_E_SLOT = -308,
    /** The plaintext is smaller than one slot. */
    FEDAVG_E_PLAINTEXT = -309,
    /** Out of memory. */
    FEDAVG_E_NOMEM = -390,
    /** libsodium could not be initialised. */
    FEDAVG_E_CRYPTO = -391
    /* codes:end */
    /* clang-format on */
} fedavg_error;

/* clang-format off */
/* codes:begin libfedavg.core.aliases: generated from libfedavg/codes.tsv by tools/gen_codes.py */
#define FEDAVG_E_BUFFER FEDAVG_E_BUFFER_TOO_SMALL /**< Deprecated name of FEDAVG_E_BUFFER_TOO_SMALL. */
/* codes:end */
/* clang-format on */

/** @return static text for a return code (never NULL). */
FEDAVG_API const char *fedavg_strerror(int code);

/** @return the runtime library version, e.g. "0.1.0" (static). */
FEDAVG_API const char *fedavg_version_string(void);

/* ------------------------------------------------------------------------ */
/* Codec                                                                     */
/* ------------------------------------------------------------------------ */

/** Opaque, immutable codec parameters. */
typedef struct fedavg_codec fedavg_codec;

/** Codec may only use slot widths of 16, 32 or 64 bits (fastest packing). */
#define FEDAVG_CODEC_ALIGNED_SLOTS 1u
/**
 * Dense packing: the slot is exactly bitlen(2*Q*M) bits wide, not rounded up
 * to whole bytes, so more values fit in a plaintext (since 0.2.0; encoded as
 * "FAPR" version 2, docs/formats/fedavg.md). Not with FEDAVG_CODEC_ALIGNED_SLOTS.
 * For N participants of weight at most w each, M = N*w and the slot needs
 * bitlen(2*Q) + ceil(log2 M) bits at most: ceil(log2 N) bits of headroom when w = 1.
 */
#define FEDAVG_CODEC_BIT_SLOTS 2u

/** Request for fedavg_codec_select(). */
typedef struct fedavg_codec_config {
    uint32_t version;         /**< FEDAVG_CODEC_CONFIG_VERSION */
    uint32_t plaintext_bytes; /**< bytes of one plaintext (1 ... 65536); see the n condition */
    uint32_t max_weight;      /**< M: largest total integer weight ever summed (>= 1) */
    double precision;         /**< wanted max quantization error of one value (> 0) */
    float clip;               /**< values are clipped to [-clip, clip] (finite, > 0) */
    uint32_t flags;           /**< 0, FEDAVG_CODEC_ALIGNED_SLOTS or FEDAVG_CODEC_BIT_SLOTS */
} fedavg_codec_config;

#define FEDAVG_CODEC_CONFIG_VERSION 1u
#define FEDAVG_CODEC_CONFIG_INIT                                                                   \
    { FEDAVG_CODEC_CONFIG_VERSION, 255u, 16u, 1e-6, 1.0f, 0u }

/** Fill @p cfg (out) with the defaults of FEDAVG_CODEC_CONFIG_INIT. */
FEDAVG_API void fedavg_codec_config_init(fedavg_codec_config *cfg);

/**
 * Choose codec parameters: scale 2^f with the smallest f such that
 * 2^-(f+1) <= precision, Q = round(clip * 2^f) <= 2^30, slot width the
 * smallest multiple of 8 bits (16/32/64 with FEDAVG_CODEC_ALIGNED_SLOTS,
 * exactly bitlen(2*Q*M) with FEDAVG_CODEC_BIT_SLOTS) holding 2*Q*M, and
 * floor(8*plaintext_bytes / slot_bits) values per plaintext.
 * @param[out] out  new codec; free with fedavg_codec_free(). Untouched on error.
 * @param[in]  cfg  request.
 * @return FEDAVG_OK; FEDAVG_E_INVALID (NULL, bad version, value out of range,
 *         non-finite precision or clip, unknown flags or both slot flags); FEDAVG_E_PARAMS
 * (precision finer than clip*2^-31); FEDAVG_E_SLOT (2*Q*M needs more than 64 bits: lower M,
 *         precision or clip); FEDAVG_E_PLAINTEXT (plaintext smaller than one
 *         slot); FEDAVG_E_NOMEM.
 */
FEDAVG_API int fedavg_codec_select(fedavg_codec **out, const fedavg_codec_config *cfg);

/** Free a codec; NULL is a no-op. */
FEDAVG_API void fedavg_codec_free(fedavg_codec *c);

/** @return plaintext size in bytes. */
FEDAVG_API uint32_t fedavg_codec_plaintext_bytes(const fedavg_codec *c);
/** @return slot width in bits (8 ... 64, a multiple of 8; 1 ... 64 with
 *  FEDAVG_CODEC_BIT_SLOTS). */
FEDAVG_API uint32_t fedavg_codec_slot_bits(const fedavg_codec *c);
/** @return values packed into one plaintext. */
FEDAVG_API uint32_t fedavg_codec_values_per_plaintext(const fedavg_codec *c);
/** @return f, the number of fractional bits (scale = 2^f). */
FEDAVG_API uint32_t fedavg_codec_frac_bits(const fedavg_codec *c);
/** @return the codec's flags (FEDAVG_CODEC_ALIGNED_SLOTS, FEDAVG_CODEC_BIT_SLOTS); since 0.2.0. */
FEDAVG_API uint32_t fedavg_codec_flags(const fedavg_codec *c);
/** @return M, the largest total weight a sum may carry. */
FEDAVG_API uint32_t fedavg_codec_max_weight(const fedavg_codec *c);
/** @return the clipping bound (float32). */
FEDAVG_API float fedavg_codec_clip(const fedavg_codec *c);
/** @return the bound on |unpacked weighted mean - exact weighted mean of the
 *  clipped inputs|: 2^-(f+1) + clip*2^-23 (docs/fedavg-codec.md). */
FEDAVG_API double fedavg_codec_error_bound(const fedavg_codec *c);
/** @return plaintexts needed for @p n values (0 for n = 0). */
FEDAVG_API size_t fedavg_codec_plaintexts(const fedavg_codec *c, size_t n);
/** @return bytes of the raw packed form of @p n values (plaintexts * plaintext_bytes). */
FEDAVG_API size_t fedavg_codec_packed_bytes(const fedavg_codec *c, size_t n);

/** Bytes of the canonical codec-parameter encoding (fixed). */
FEDAVG_API size_t fedavg_codec_encoded_bytes(void);

/**
 * Canonical encoding of the codec parameters (docs/formats/fedavg.md, "FAPR").
 * @param[in]  c    codec.
 * @param[out] out  buffer of @p cap bytes.
 * @param[in]  cap  at least fedavg_codec_encoded_bytes().
 * @return FEDAVG_OK, FEDAVG_E_INVALID, FEDAVG_E_BUFFER_TOO_SMALL.
 */
FEDAVG_API int fedavg_codec_encode(const fedavg_codec *c, uint8_t *out, size_t cap);

/**
 * Decode codec parameters (untrusted input).
 * @param[out] out  new codec (free with fedavg_codec_free()); untouched on error.
 * @return FEDAVG_OK; FEDAVG_E_FORMAT (wrong magic, length, inconsistent or
 *         non-canonical fields); FEDAVG_E_VERSION; FEDAVG_E_INVALID; FEDAVG_E_NOMEM.
 */
FEDAVG_API int fedavg_codec_decode(fedavg_codec **out, const uint8_t *in, size_t len);

/**
 * Quantize and pack @p n float32 values multiplied by an integer weight:
 * slot = weight * (round(clamp(x) * 2^f) + Q). Writes the raw packed form:
 * fedavg_codec_plaintexts(n) big-endian unsigned integers of plaintext_bytes
 * each, sum of slot_j * 2^(slot_bits*j) (slot 0 least significant); unused
 * slots and bits are zero.
 * @param[in]  c        codec.
 * @param[in]  x        n values (not modified; may be unaligned float32).
 * @param[in]  n        number of values (>= 1).
 * @param[in]  weight   1 ... M.
 * @param[out] out      buffer of @p cap bytes; contents unspecified on error
 *                      except FEDAVG_E_NONFINITE, where it is zeroed.
 * @param[in]  cap      at least fedavg_codec_packed_bytes(n).
 * @param[out] clipped  optional: count of values with |x| > clip.
 * @return FEDAVG_OK, FEDAVG_E_INVALID, FEDAVG_E_NONFINITE, FEDAVG_E_BUFFER_TOO_SMALL.
 */
FEDAVG_API int fedavg_codec_pack(const fedavg_codec *c, const float *x, size_t n, uint32_t weight,
                                 uint8_t *out, size_t cap, size_t *clipped);

/**
 * Add packed plaintexts @p in to @p acc, each as a plain big-endian integer
 * (what Paillier addition of their ciphertexts yields when the sum stays
 * below n). @p acc is unchanged on error.
 * @param[in]     c    codec.
 * @param[in,out] acc  fedavg_codec_packed_bytes(n) bytes.
 * @param[in]     in   same length.
 * @param[in]     len  byte length, a multiple of plaintext_bytes.
 * @return FEDAVG_OK, FEDAVG_E_INVALID, FEDAVG_E_OVERFLOW (a plaintext sum
 *         carries out of plaintext_bytes).
 */
FEDAVG_API int fedavg_codec_add(const fedavg_codec *c, uint8_t *acc, const uint8_t *in, size_t len);

/**
 * Unpack a (summed) raw packed form into the weighted mean:
 * out[j] = (slot_j - W*Q) / (2^f * W), rounded to float32.
 * @param[in]  c             codec.
 * @param[in]  in            raw packed form of @p n values.
 * @param[in]  len           fedavg_codec_packed_bytes(n).
 * @param[in]  n             number of values (>= 1).
 * @param[in]  total_weight  W: the sum of the weights packed (1 ... M).
 * @param[out] out           n floats; untouched on FEDAVG_E_INVALID or
 *                           W > M, all zero when a slot is out of range.
 * @return FEDAVG_OK, FEDAVG_E_INVALID, FEDAVG_E_OVERFLOW (W > M, or a slot
 *         above 2*Q*W, or non-zero padding: not a sum of valid vectors).
 */
FEDAVG_API int fedavg_codec_unpack(const fedavg_codec *c, const uint8_t *in, size_t len, size_t n,
                                   uint64_t total_weight, float *out);

/**
 * Size of the canonical packed-vector encoding ("FAPK") of @p n values.
 */
FEDAVG_API size_t fedavg_packed_encoded_bytes(const fedavg_codec *c, size_t n);

/**
 * Encode a raw packed form with its codec, value count and total weight.
 * @return FEDAVG_OK, FEDAVG_E_INVALID, FEDAVG_E_BUFFER_TOO_SMALL, FEDAVG_E_OVERFLOW
 *         (raw form not valid for @p weight).
 */
FEDAVG_API int fedavg_packed_encode(const fedavg_codec *c, const uint8_t *raw, size_t raw_len,
                                    uint64_t n, uint32_t weight, uint8_t *out, size_t cap);

/**
 * Decode a packed vector (untrusted input). The raw form is not copied:
 * @p raw_offset gives its position inside @p in.
 * @param[out] codec       new codec (free it); untouched on error.
 * @param[out] n           number of values.
 * @param[out] weight      total weight carried.
 * @param[out] raw_offset  offset of the raw packed form in @p in.
 * @return FEDAVG_OK, FEDAVG_E_FORMAT, FEDAVG_E_VERSION, FEDAVG_E_INVALID,
 *         FEDAVG_E_OVERFLOW (a slot out of range for the weight), FEDAVG_E_NOMEM.
 */
FEDAVG_API int fedavg_packed_decode(const uint8_t *in, size_t len, fedavg_codec **codec,
                                    uint64_t *n, uint32_t *weight, size_t *raw_offset);

/**
 * Quantize real non-negative weights to integers summing to about
 * @p resolution: q_i = round(w_i / sum(w) * resolution).
 * @param[in]  w           m finite weights >= 0, sum > 0.
 * @param[out] q           m integers.
 * @return FEDAVG_OK, FEDAVG_E_INVALID, FEDAVG_E_NONFINITE.
 */
FEDAVG_API int fedavg_weights_quantize(const double *w, size_t m, uint32_t resolution, uint32_t *q);

/**
 * Extra error of averaging with integer weights @p q in place of @p w, for
 * inputs in [-clip, clip]: clip * sum_i |q_i/sum(q) - w_i/sum(w)| (rounded up).
 * @return FEDAVG_OK, FEDAVG_E_INVALID (sum zero), FEDAVG_E_NONFINITE.
 */
FEDAVG_API int fedavg_weights_error_bound(const double *w, const uint32_t *q, size_t m, float clip,
                                          double *bound);

/* ------------------------------------------------------------------------ */
/* Averaging (plain domain)                                                  */
/* ------------------------------------------------------------------------ */

/**
 * Weighted FedAvg: out[j] = (sum_i w_i * x_i[j]) / (sum_i w_i), accumulated
 * in double in participant order, rounded once to float32.
 * @param[in]  x    m pointers to n floats each.
 * @param[in]  w    m finite weights >= 0 with a positive sum.
 * @param[out] out  n floats (may alias none of the inputs); untouched on a
 *                  bad argument or weight, all zero when a value is not finite.
 * @return FEDAVG_OK, FEDAVG_E_INVALID, FEDAVG_E_NONFINITE (a weight or a value).
 */
FEDAVG_API int fedavg_average(const float *const *x, const double *w, size_t m, size_t n,
                              float *out);

/**
 * Coordinate-wise median (mean of the two middle values for even m, in double).
 * @p out is all zero after FEDAVG_E_NONFINITE.
 * @return FEDAVG_OK, FEDAVG_E_INVALID, FEDAVG_E_NONFINITE, FEDAVG_E_NOMEM.
 */
FEDAVG_API int fedavg_median(const float *const *x, size_t m, size_t n, float *out);

/**
 * Coordinate-wise trimmed mean: drop the @p trim smallest and @p trim largest
 * values of each coordinate, average the rest in double (2*trim < m).
 * @return FEDAVG_OK, FEDAVG_E_INVALID, FEDAVG_E_NONFINITE, FEDAVG_E_NOMEM.
 */
FEDAVG_API int fedavg_trimmed_mean(const float *const *x, size_t m, size_t n, size_t trim,
                                   float *out);

/* ------------------------------------------------------------------------ */
/* Statistics and the anomaly test                                           */
/* ------------------------------------------------------------------------ */

/**
 * Euclidean norm of @p x in a fixed summation order (deterministic).
 * @return FEDAVG_OK, FEDAVG_E_INVALID, FEDAVG_E_NONFINITE.
 */
FEDAVG_API int fedavg_stat_norm(const float *x, size_t n, double *out);

/**
 * Cosine similarity of @p x and @p g (0 when either is the zero vector),
 * fixed summation order.
 * @return FEDAVG_OK, FEDAVG_E_INVALID, FEDAVG_E_NONFINITE.
 */
FEDAVG_API int fedavg_stat_cosine(const float *x, const float *g, size_t n, double *out);

/** Opaque history of accepted statistics. */
typedef struct fedavg_anomaly fedavg_anomaly;

typedef struct fedavg_anomaly_config {
    uint32_t version; /**< FEDAVG_ANOMALY_CONFIG_VERSION */
    uint32_t stats;   /**< statistics per update (1 ... 64) */
    double k;         /**< suspicious when |s - mean| > k * sd (finite, > 0) */
    uint32_t warmup;  /**< accept everything until this many updates are in history (>= 2) */
    uint32_t window;  /**< history keeps the last `window` accepted updates (0: all) */
} fedavg_anomaly_config;

#define FEDAVG_ANOMALY_CONFIG_VERSION 1u
#define FEDAVG_ANOMALY_CONFIG_INIT                                                                 \
    { FEDAVG_ANOMALY_CONFIG_VERSION, 1u, 3.0, 5u, 0u }

/** Verdicts of fedavg_anomaly_judge(). */
enum {
    FEDAVG_VERDICT_ACCEPTED = 0,   /**< within k sd on every statistic */
    FEDAVG_VERDICT_SUSPICIOUS = 1, /**< more than k sd away on some statistic */
    FEDAVG_VERDICT_WARMUP = 2      /**< accepted: history shorter than warmup */
};

/** Fill @p cfg (out) with the defaults. */
FEDAVG_API void fedavg_anomaly_config_init(fedavg_anomaly_config *cfg);

/**
 * @param[out] out  new empty history (free with fedavg_anomaly_free()).
 * @return FEDAVG_OK, FEDAVG_E_INVALID, FEDAVG_E_NOMEM.
 */
FEDAVG_API int fedavg_anomaly_new(fedavg_anomaly **out, const fedavg_anomaly_config *cfg);

/** Free; NULL is a no-op. */
FEDAVG_API void fedavg_anomaly_free(fedavg_anomaly *a);

/** @return updates currently in the history. */
FEDAVG_API size_t fedavg_anomaly_count(const fedavg_anomaly *a);

/**
 * Mean and sample standard deviation (n-1) of statistic @p s over the history.
 * @return FEDAVG_OK, FEDAVG_E_INVALID (s out of range or fewer than 2 entries).
 */
FEDAVG_API int fedavg_anomaly_moments(const fedavg_anomaly *a, uint32_t s, double *mean,
                                      double *sd);

/**
 * Judge @p m updates of one round against the same history (order-free).
 * The history is not changed.
 * @param[in]  stats     m * stats doubles, row per update.
 * @param[out] verdicts  m FEDAVG_VERDICT_* values.
 * @return FEDAVG_OK, FEDAVG_E_INVALID, FEDAVG_E_NONFINITE.
 */
FEDAVG_API int fedavg_anomaly_judge(const fedavg_anomaly *a, const double *stats, size_t m,
                                    uint8_t *verdicts);

/**
 * Append @p m accepted updates to the history (oldest dropped past the window).
 * @return FEDAVG_OK, FEDAVG_E_INVALID, FEDAVG_E_NONFINITE, FEDAVG_E_NOMEM
 *         (history unchanged on any error).
 */
FEDAVG_API int fedavg_anomaly_accept(fedavg_anomaly *a, const double *stats, size_t m);

/**
 * Bytes of the canonical encoding ("FAAN") of the configuration and history.
 * @return 0 when @p a is NULL.
 */
FEDAVG_API size_t fedavg_anomaly_encoded_bytes(const fedavg_anomaly *a);

/**
 * Canonical encoding of configuration and history (oldest first), so that a
 * replica can store it in its state and restore it bit for bit.
 * @param[out] out  buffer of @p cap >= fedavg_anomaly_encoded_bytes() bytes.
 * @return FEDAVG_OK, FEDAVG_E_INVALID, FEDAVG_E_BUFFER_TOO_SMALL.
 */
FEDAVG_API int fedavg_anomaly_encode(const fedavg_anomaly *a, uint8_t *out, size_t cap);

/**
 * Decode (untrusted input) into a new history.
 * @param[out] out  new history (free it); untouched on error.
 * @return FEDAVG_OK, FEDAVG_E_FORMAT, FEDAVG_E_VERSION, FEDAVG_E_INVALID, FEDAVG_E_NOMEM.
 */
FEDAVG_API int fedavg_anomaly_decode(fedavg_anomaly **out, const uint8_t *in, size_t len);

/* ------------------------------------------------------------------------ */
/* Judging a round: the rule a task chose                                    */
/* ------------------------------------------------------------------------ */

/** Rules of fedavg_round_judge(). */
enum {
    /** The seed's pooled k·σ test of (norm ÷ round median, cosine) against the
     * accepted history of every member (fedavg_anomaly). */
    FEDAVG_RULE_POOLED = 0,
    /** Suspicious when FEDAVG_RULE_MAD or FEDAVG_RULE_MEMBER says so (the
     * default before FEDAVG_RULE_ROBUST2; kept so that its tasks replay alike). */
    FEDAVG_RULE_ROBUST = 1,
    /** Per-member baseline: the log norm ratio against the member's own
     * accepted history (median and MAD), once it holds min_own entries. */
    FEDAVG_RULE_MEMBER = 2,
    /** Median and MAD over the round's members and the accepted history:
     * log norm ratio two-sided, cosine on the low side only, once the round
     * has min_members updates. */
    FEDAVG_RULE_MAD = 3,
    /** The default: FEDAVG_RULE_ROBUST with the cosine judged as its gap to
     * the round's median cosine (the recorded second statistic is that gap)
     * against the gaps of the round and the accepted history: suspicious when
     * gap < -k·max(1.4826·median |gap|, floor_cosine). Norm tests as in
     * FEDAVG_RULE_ROBUST. A round of fewer than FEDAVG_GAP_MIN_MEMBERS
     * updates is judged (and recorded) exactly as FEDAVG_RULE_ROBUST does. */
    FEDAVG_RULE_ROBUST2 = 4
};

/** Updates a round needs before FEDAVG_RULE_ROBUST2 judges cosine gaps (with 3,
 * the median member's gap is 0 by construction and the scale cannot be told
 * from an outlier). */
#define FEDAVG_GAP_MIN_MEMBERS 4

typedef struct fedavg_judge_config {
    uint32_t version; /**< FEDAVG_JUDGE_CONFIG_VERSION */
    uint32_t rule;    /**< FEDAVG_RULE_* */
    double k;         /**< pooled: k of k·σ (3); robust rules: limit of the robust z (3.5) */
    uint32_t warmup;  /**< pooled: accepted updates before it judges (>= 2; 5) */
    uint32_t window;  /**< history entries used, newest (0: all given) */
    uint32_t
        min_members;   /**< robust: updates in the round before the pool test applies (>= 3; 3) */
    uint32_t min_own;  /**< robust: own accepted entries before the member test applies (>= 3; 5) */
    double floor_norm; /**< robust: smallest scale of the log norm ratio (> 0; 0.4) */
    double floor_cosine; /**< robust: smallest scale of the cosine (> 0; 0.15) */
} fedavg_judge_config;

#define FEDAVG_JUDGE_CONFIG_VERSION 1u
#define FEDAVG_JUDGE_CONFIG_INIT                                                                   \
    { FEDAVG_JUDGE_CONFIG_VERSION, FEDAVG_RULE_ROBUST2, 3.5, 5u, 0u, 3u, 5u, 0.4, 0.15 }

/** Largest norm ratio kept (a larger one is capped, and judged). */
#define FEDAVG_RATIO_MAX 1e6

/** Fill @p cfg (out) with the defaults (the robust2 rule). */
FEDAVG_API void fedavg_judge_config_init(fedavg_judge_config *cfg);

/**
 * Judge one round's updates. Each update's first statistic is its norm
 * divided by the median norm of the round (capped at FEDAVG_RATIO_MAX, 1
 * when the median is 0), its second its cosine to the previous global update
 * (FEDAVG_RULE_ROBUST2 with at least FEDAVG_GAP_MIN_MEMBERS updates: that
 * cosine minus the round's median cosine).
 * Deterministic on every IEEE-754 machine: only +, -, *, / and comparisons in
 * a fixed order (the logarithm is a fixed series, not libm's), no FMA.
 *
 * @param[in]  members      m member indices (any u32; equal index = same member).
 * @param[in]  norms        m update norms (finite, >= 0).
 * @param[in]  cosines      m cosines (finite).
 * @param[in]  hist_members h member indices of the accepted history (oldest first);
 *                          may be NULL (then no member test).
 * @param[in]  hist_stats   h rows (ratio, cosine or gap) as written to @p stats_out when accepted.
 * @param[out] verdicts     m FEDAVG_VERDICT_* values.
 * @param[out] stats_out    m rows (ratio, cosine or gap): what to append to the history
 *                          for an accepted update.
 * @return FEDAVG_OK, FEDAVG_E_INVALID, FEDAVG_E_NONFINITE, FEDAVG_E_NOMEM.
 */
FEDAVG_API int fedavg_round_judge(const fedavg_judge_config *cfg, const uint32_t *members,
                                  const double *norms, const double *cosines, size_t m,
                                  const uint32_t *hist_members, const double *hist_stats, size_t h,
                                  uint8_t *verdicts, double *stats_out);

/* ------------------------------------------------------------------------ */
/* Stop rule                                                                 */
/* ------------------------------------------------------------------------ */

/** Improvement measured as a difference of metric values (default). */
#define FEDAVG_STOP_ABSOLUTE 0u
/** Improvement measured relative to the previous value: (m_t - m_{t-1}) / |m_{t-1}|. */
#define FEDAVG_STOP_RELATIVE 1u

typedef struct fedavg_stop_config {
    uint32_t version;         /**< FEDAVG_STOP_CONFIG_VERSION */
    double threshold;         /**< improvement < threshold counts as "no progress" (>= 0) */
    uint32_t patience;        /**< r: stop after r such rounds in a row (>= 1) */
    uint32_t max_rounds;      /**< stop when this many rounds are done (>= 1) */
    uint32_t mode;            /**< FEDAVG_STOP_ABSOLUTE or FEDAVG_STOP_RELATIVE */
    uint32_t lower_is_better; /**< 0: accuracy-like metric; 1: loss-like */
} fedavg_stop_config;

#define FEDAVG_STOP_CONFIG_VERSION 1u
#define FEDAVG_STOP_CONFIG_INIT                                                                    \
    { FEDAVG_STOP_CONFIG_VERSION, 0.001, 3u, 50u, 0u, 0u }

/** Reasons given by fedavg_stop_evaluate(). */
enum {
    FEDAVG_STOP_CONTINUE = 0,  /**< keep training */
    FEDAVG_STOP_CONVERGED = 1, /**< r rounds in a row improved by less than the threshold */
    FEDAVG_STOP_LIMIT = 2      /**< the round limit is reached */
};

/** Fill @p cfg (out) with the defaults (0.001 absolute, r = 3, 50 rounds). */
FEDAVG_API void fedavg_stop_config_init(fedavg_stop_config *cfg);

/**
 * Decide after round @p rounds, given the metric of every round so far
 * (metrics[0] is round 1). Improvement of round t >= 2 is metrics[t] -
 * metrics[t-1] (negated when lower_is_better), divided by |metrics[t-1]| in
 * relative mode. Converged when the last r rounds each improved by strictly
 * less than the threshold; the limit applies when rounds >= max_rounds.
 * @param[out] decision  FEDAVG_STOP_CONTINUE, _CONVERGED or _LIMIT.
 * @return FEDAVG_OK, FEDAVG_E_INVALID, FEDAVG_E_NONFINITE.
 */
FEDAVG_API int fedavg_stop_evaluate(const fedavg_stop_config *cfg, const double *metrics,
                                    size_t rounds, int *decision);

/* ------------------------------------------------------------------------ */
/* Delta encoding of successive models                                       */
/* ------------------------------------------------------------------------ */

/**
 * Bytes of the delta ("FADL") from @p base to @p next (n float32 each).
 * @return FEDAVG_OK, FEDAVG_E_INVALID.
 */
FEDAVG_API int fedavg_delta_size(const float *base, const float *next, size_t n, size_t *size);

/**
 * Encode the exact delta from @p base to @p next (bit patterns, NaN payloads
 * and signed zeros included).
 * @param[out] out  buffer of @p cap >= fedavg_delta_size() bytes.
 * @param[out] len  bytes written.
 * @return FEDAVG_OK, FEDAVG_E_INVALID, FEDAVG_E_BUFFER_TOO_SMALL, FEDAVG_E_CRYPTO.
 */
FEDAVG_API int fedavg_delta_encode(const float *base, const float *next, size_t n, uint8_t *out,
                                   size_t cap, size_t *len);

/**
 * Number of parameters a delta applies to (header check only).
 * @return FEDAVG_OK, FEDAVG_E_FORMAT, FEDAVG_E_VERSION, FEDAVG_E_INVALID.
 */
FEDAVG_API int fedavg_delta_count(const uint8_t *in, size_t len, uint64_t *n);

/**
 * Apply a delta (untrusted input) to @p base, giving the next model in @p out
 * (may equal @p base). Verifies the base digest before writing and the next
 * digest after; on any error @p out is left as it was when out != base, and
 * restored when out == base.
 * @return FEDAVG_OK, FEDAVG_E_FORMAT, FEDAVG_E_VERSION, FEDAVG_E_INVALID,
 *         FEDAVG_E_MISMATCH (wrong base, or the result does not verify),
 *         FEDAVG_E_CRYPTO.
 */
FEDAVG_API int fedavg_delta_apply(const uint8_t *in, size_t len, const float *base, size_t n,
                                  float *out);

/**
 * SHA-256 of a model: of its n float32 values as big-endian IEEE-754 bits.
 * @return FEDAVG_OK, FEDAVG_E_INVALID, FEDAVG_E_CRYPTO.
 */
FEDAVG_API int fedavg_model_digest(const float *x, size_t n, uint8_t out[32]);

/* ------------------------------------------------------------------------ */
/* Parameter ID                                                              */
/* ------------------------------------------------------------------------ */

/** Bytes of the canonical parameter-ID input ("FAPI"). */
FEDAVG_API size_t fedavg_param_id_input_bytes(size_t model_id_len, size_t sig_len);

/**
 * Canonical parameter-ID input: "FAPI" 01 | u32 len | model ID | u64 round |
 * u32 len | signature. Lengths 1 ... 4096 each.
 * @return FEDAVG_OK, FEDAVG_E_INVALID, FEDAVG_E_BUFFER_TOO_SMALL.
 */
FEDAVG_API int fedavg_param_id_input(const uint8_t *model_id, size_t model_id_len, uint64_t round,
                                     const uint8_t *sig, size_t sig_len, uint8_t *out, size_t cap);

/**
 * Parameter ID = SHA-256(canonical input above).
 * @param[out] out  32 bytes.
 * @return FEDAVG_OK, FEDAVG_E_INVALID, FEDAVG_E_CRYPTO.
 */
FEDAVG_API int fedavg_param_id(const uint8_t *model_id, size_t model_id_len, uint64_t round,
                               const uint8_t *sig, size_t sig_len, uint8_t out[32]);

/**
 * Parse a canonical parameter-ID input (untrusted): returns pointers into @p in.
 * @return FEDAVG_OK, FEDAVG_E_FORMAT, FEDAVG_E_VERSION, FEDAVG_E_INVALID.
 */
FEDAVG_API int fedavg_param_id_input_parse(const uint8_t *in, size_t len, const uint8_t **model_id,
                                           size_t *model_id_len, uint64_t *round,
                                           const uint8_t **sig, size_t *sig_len);

#ifdef __cplusplus
}
#endif

#endif /* FEDAVG_H */
