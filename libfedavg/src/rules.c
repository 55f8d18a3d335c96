/* Round rules: the k-sigma anomaly test and the stop rule.
 *
 * Determinism: the history holds the doubles exactly as accepted; mean and
 * sample standard deviation are computed two-pass in history order
 * (oldest first) with IEEE-754 double operations and a correctly rounded
 * sqrt, no FMA contraction: every replica that accepted the same updates in
 * the same order reaches the same verdict bit for bit. */
#include <math.h>
#include <stdlib.h>

#include "internal.h"

#define MAX_STATS 64u

struct fedavg_anomaly {
    fedavg_anomaly_config cfg;
    double *hist; /* ring of cap rows of cfg.stats doubles (or growable) */
    size_t cap;   /* rows allocated */
    size_t count; /* rows held */
    size_t head;  /* index of the oldest row */
};

void fedavg_anomaly_config_init(fedavg_anomaly_config *cfg) {
    if (cfg) {
        fedavg_anomaly_config d = FEDAVG_ANOMALY_CONFIG_INIT;
        *cfg = d;
    }
}

int fedavg_anomaly_new(fedavg_anomaly **out, const fedavg_anomaly_config *cfg) {
    if (!out || !cfg || cfg->version != FEDAVG_ANOMALY_CONFIG_VERSION)
        return FEDAVG_E_INVALID;
    if (cfg->stats < 1 || cfg->stats > MAX_STATS || !isfinite(cfg->k) || !(cfg->k > 0.0) ||
        cfg->warmup < 2 || (cfg->window != 0 && cfg->window < cfg->warmup))
        return FEDAVG_E_INVALID;
    fedavg_anomaly *a = calloc(1, sizeof *a);
    if (!a)
        return FEDAVG_E_NOMEM;
    a->cfg = *cfg;
    *out = a;
    return FEDAVG_OK;
}

void fedavg_anomaly_free(fedavg_anomaly *a) {
    if (a) {
        free(a->hist);
        free(a);
    }
}

size_t fedavg_anomaly_count(const fedavg_anomaly *a) {
    return a ? a->count : 0;
}

static const double *row(const fedavg_anomaly *a, size_t i) {
    return a->hist + ((a->head + i) % a->cap) * a->cfg.stats;
}

static void moments(const fedavg_anomaly *a, uint32_t s, double *mean, double *sd) {
    double sum = 0.0;
    for (size_t i = 0; i < a->count; i++)
        sum += row(a, i)[s];
    double mu = sum / (double)a->count;
    double ss = 0.0;
    for (size_t i = 0; i < a->count; i++) {
        double d = row(a, i)[s] - mu;
        ss += d * d;
    }
    *mean = mu;
    *sd = sqrt(ss / (double)(a->count - 1));
}

int fedavg_anomaly_moments(const fedavg_anomaly *a, uint32_t s, double *mean, double *sd) {
    if (!a || !mean || !sd || s >= a->cfg.stats || a->count < 2)
        return FEDAVG_E_INVALID;
    moments(a, s, mean, sd);
    return FEDAVG_OK;
}

static int check_stats(const double *stats, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (!isfinite(stats[i]))
            return FEDAVG_E_NONFINITE;
    return FEDAVG_OK;
}

int fedavg_anomaly_judge(const fedavg_anomaly *a, const double *stats, size_t m,
                         uint8_t *verdicts) {
    if (!a || !stats || !verdicts || m == 0)
        return FEDAVG_E_INVALID;
    const uint32_t S = a->cfg.stats;
    if (m > SIZE_MAX / S)
        return FEDAVG_E_INVALID;
    int rc = check_stats(stats, m * S);
    if (rc)
        return rc;
    if (a->count < a->cfg.warmup) {
        memset(verdicts, FEDAVG_VERDICT_WARMUP, m);
        return FEDAVG_OK;
    }
    memset(verdicts, FEDAVG_VERDICT_ACCEPTED, m);
    for (uint32_t s = 0; s < S; s++) {
        double mu, sd;
        moments(a, s, &mu, &sd);
        double lim = a->cfg.k * sd;
        for (size_t i = 0; i < m; i++)
            if (fabs(stats[i * S + s] - mu) > lim)
                verdicts[i] = FEDAVG_VERDICT_SUSPICIOUS;
    }
    return FEDAVG_OK;
}

int fedavg_anomaly_accept(fedavg_anomaly *a, const double *stats, size_t m) {
    if (!a || !stats || m == 0)
        return FEDAVG_E_INVALID;
    const size_t S = a->cfg.stats;
    if (m > SIZE_MAX / S / sizeof(double) / 2)
        return FEDAVG_E_INVALID;
    int rc = check_stats(stats, m * S);
    if (rc)
        return rc;
    const size_t window = a->cfg.window;
    size_t want = a->count + m;
    if (window && want > window)
        want = window;
    if (want > a->cap) {
        /* Grow (window 0) or allocate the full ring once; re-linearise. */
        size_t cap = a->cap ? a->cap : 16;
        while (cap < want)
            cap *= 2;
        if (window && cap > window)
            cap = window;
        double *h = malloc(cap * S * sizeof *h);
        if (!h)
            return FEDAVG_E_NOMEM;
        for (size_t i = 0; i < a->count; i++)
            memcpy(h + i * S, row(a, i), S * sizeof *h);
        free(a->hist);
        a->hist = h;
        a->cap = cap;
        a->head = 0;
    }
    for (size_t r = 0; r < m; r++) {
        const double *src = stats + r * S;
        if (a->count < a->cap) {
            memcpy(a->hist + ((a->head + a->count) % a->cap) * S, src, S * sizeof(double));
            a->count++;
        } else { /* full ring (window reached): overwrite the oldest */
            memcpy(a->hist + a->head * S, src, S * sizeof(double));
            a->head = (a->head + 1) % a->cap;
        }
    }
    return FEDAVG_OK;
}

/* ---- encoding: "FAAN" 01 | u32 stats | f64 k | u32 warmup | u32 window |
 *      u64 count | count rows of `stats` f64, oldest first ---------------- */

#define MAGIC_ANOMALY  "FAAN"
#define ANOMALY_HEADER (4u + 1u + 4u + 8u + 4u + 4u + 8u)

static void put_f64(uint8_t *p, double d) {
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    fedavg_put_u64_(p, u);
}

static double get_f64(const uint8_t *p) {
    uint64_t u = fedavg_get_u64_(p);
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

size_t fedavg_anomaly_encoded_bytes(const fedavg_anomaly *a) {
    if (!a)
        return 0;
    return ANOMALY_HEADER + a->count * a->cfg.stats * 8u;
}

int fedavg_anomaly_encode(const fedavg_anomaly *a, uint8_t *out, size_t cap) {
    if (!a || !out)
        return FEDAVG_E_INVALID;
    if (cap < fedavg_anomaly_encoded_bytes(a))
        return FEDAVG_E_BUFFER_TOO_SMALL;
    const uint32_t S = a->cfg.stats;
    memcpy(out, MAGIC_ANOMALY, 4);
    out[4] = 1;
    fedavg_put_u32_(out + 5, S);
    put_f64(out + 9, a->cfg.k);
    fedavg_put_u32_(out + 17, a->cfg.warmup);
    fedavg_put_u32_(out + 21, a->cfg.window);
    fedavg_put_u64_(out + 25, (uint64_t)a->count);
    uint8_t *p = out + ANOMALY_HEADER;
    for (size_t i = 0; i < a->count; i++)
        for (uint32_t s = 0; s < S; s++, p += 8)
            put_f64(p, row(a, i)[s]);
    return FEDAVG_OK;
}

int fedavg_anomaly_decode(fedavg_anomaly **out, const uint8_t *in, size_t len) {
    if (!out || (!in && len))
        return FEDAVG_E_INVALID;
    if (!in || len < 5 || memcmp(in, MAGIC_ANOMALY, 4) != 0)
        return FEDAVG_E_FORMAT;
    if (in[4] != 1)
        return FEDAVG_E_VERSION;
    if (len < ANOMALY_HEADER)
        return FEDAVG_E_FORMAT;
    fedavg_anomaly_config cfg = FEDAVG_ANOMALY_CONFIG_INIT;
    cfg.stats = fedavg_get_u32_(in + 5);
    cfg.k = get_f64(in + 9);
    cfg.warmup = fedavg_get_u32_(in + 17);
    cfg.window = fedavg_get_u32_(in + 21);
    uint64_t count = fedavg_get_u64_(in + 25);
    if (cfg.stats < 1 || cfg.stats > MAX_STATS || !isfinite(cfg.k) || !(cfg.k > 0.0) ||
        cfg.warmup < 2 || (cfg.window != 0 && cfg.window < cfg.warmup))
        return FEDAVG_E_FORMAT;
    if ((cfg.window && count > cfg.window) || count > (len - ANOMALY_HEADER) / 8 / cfg.stats ||
        count * cfg.stats * 8 != len - ANOMALY_HEADER)
        return FEDAVG_E_FORMAT;
    const uint8_t *p = in + ANOMALY_HEADER;
    for (uint64_t i = 0; i < count * cfg.stats; i++)
        if (!isfinite(get_f64(p + 8 * i)))
            return FEDAVG_E_FORMAT;
    fedavg_anomaly *a;
    int rc = fedavg_anomaly_new(&a, &cfg);
    if (rc)
        return rc;
    if (count) {
        double *rows = malloc((size_t)count * cfg.stats * sizeof *rows);
        if (!rows) {
            fedavg_anomaly_free(a);
            return FEDAVG_E_NOMEM;
        }
        for (uint64_t i = 0; i < count * cfg.stats; i++)
            rows[i] = get_f64(p + 8 * i);
        rc = fedavg_anomaly_accept(a, rows, (size_t)count);
        free(rows);
        if (rc) {
            fedavg_anomaly_free(a);
            return rc;
        }
    }
    *out = a;
    return FEDAVG_OK;
}

/* ---- stop rule ----------------------------------------------------------- */

void fedavg_stop_config_init(fedavg_stop_config *cfg) {
    if (cfg) {
        fedavg_stop_config d = FEDAVG_STOP_CONFIG_INIT;
        *cfg = d;
    }
}

int fedavg_stop_evaluate(const fedavg_stop_config *cfg, const double *metrics, size_t rounds,
                         int *decision) {
    if (!cfg || !decision || (!metrics && rounds) || cfg->version != FEDAVG_STOP_CONFIG_VERSION)
        return FEDAVG_E_INVALID;
    if (!isfinite(cfg->threshold) || cfg->threshold < 0.0 || cfg->patience < 1 ||
        cfg->max_rounds < 1 || cfg->mode > FEDAVG_STOP_RELATIVE || cfg->lower_is_better > 1)
        return FEDAVG_E_INVALID;
    for (size_t i = 0; i < rounds; i++)
        if (!isfinite(metrics[i]))
            return FEDAVG_E_NONFINITE;
    /* Count the trailing rounds with improvement < threshold. */
    size_t run = 0;
    for (size_t t = rounds; t >= 2 && run < cfg->patience; t--) {
        double prev = metrics[t - 2], cur = metrics[t - 1];
        double gain = cfg->lower_is_better ? prev - cur : cur - prev;
        if (cfg->mode == FEDAVG_STOP_RELATIVE) {
            double base = fabs(prev);
            /* From zero any positive gain is infinite progress, none is none. */
            if (base == 0.0)
                gain = gain > 0.0 ? INFINITY : gain < 0.0 ? -INFINITY : 0.0;
            else
                gain = gain / base;
        }
        if (gain < cfg->threshold)
            run++;
        else
            break;
    }
    if (run >= cfg->patience)
        *decision = FEDAVG_STOP_CONVERGED;
    else if (rounds >= cfg->max_rounds)
        *decision = FEDAVG_STOP_LIMIT;
    else
        *decision = FEDAVG_STOP_CONTINUE;
    return FEDAVG_OK;
}
