/* Judging a round's updates under the rule a task chose (fedavg.h §Judging).
 *
 * Determinism: contracts run this on every replica, so every verdict must be
 * the same bit for bit. Only IEEE-754 +, -, *, / and comparisons are used, in
 * a fixed order, with FMA contraction off (meson.build); medians come from
 * sorting, whose result for finite doubles does not depend on the sort; the
 * logarithm is the fixed series below, not libm's log (whose last bit may
 * differ between C libraries). frexp/ldexp are exact. */
#include <math.h>
#include <stdlib.h>

#include "internal.h"

#define MAD_SCALE 1.4826 /* MAD of a normal sample × this ≈ its standard deviation */

void fedavg_judge_config_init(fedavg_judge_config *cfg) {
    if (cfg) {
        fedavg_judge_config d = FEDAVG_JUDGE_CONFIG_INIT;
        *cfg = d;
    }
}

/* ln x for finite x > 0: x = m·2^e with m in [√½, √2), ln m = 2·atanh(t),
 * t = (m-1)/(m+1) in (-0.172, 0.172), 15 terms of the series (error < 1e-23
 * relative, far below double precision), summed smallest term first. */
static double det_log(double x) {
    int e;
    double m = frexp(x, &e);
    if (m < 0.70710678118654752440) {
        m *= 2.0;
        e -= 1;
    }
    double t = (m - 1.0) / (m + 1.0), t2 = t * t;
    double pw[15];
    pw[0] = t;
    for (int j = 1; j < 15; j++)
        pw[j] = pw[j - 1] * t2;
    double s = 0.0;
    for (int j = 14; j >= 0; j--)
        s += pw[j] / (double)(2 * j + 1);
    return 2.0 * s + (double)e * 0.69314718055994530942;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median of v[0..n) (n >= 1); sorts v. */
static double median(double *v, size_t n) {
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : v[n / 2 - 1] / 2 + v[n / 2] / 2;
}

/* Median and scale max(1.4826·MAD, floor) of v[0..n); uses tmp[0..n). */
static void robust(const double *v, size_t n, double floor, double *tmp, double *med,
                   double *scale) {
    memcpy(tmp, v, n * sizeof *tmp);
    double md = median(tmp, n);
    for (size_t i = 0; i < n; i++)
        tmp[i] = fabs(v[i] - md);
    double s = MAD_SCALE * median(tmp, n);
    *med = md;
    *scale = s > floor ? s : floor;
}

static int config_ok(const fedavg_judge_config *c) {
    if (!c || c->version != FEDAVG_JUDGE_CONFIG_VERSION || c->rule > FEDAVG_RULE_ROBUST3 ||
        !isfinite(c->k) || !(c->k > 0.0))
        return 0;
    if (c->rule == FEDAVG_RULE_POOLED)
        return c->warmup >= 2;
    return c->min_members >= 3 && c->min_own >= 3 && isfinite(c->floor_norm) && c->floor_norm > 0 &&
           isfinite(c->floor_cosine) && c->floor_cosine > 0;
}

static int pooled(const fedavg_judge_config *cfg, const double *stats, size_t m, const double *hist,
                  size_t h, uint8_t *verdicts) {
    fedavg_anomaly_config ac;
    fedavg_anomaly_config_init(&ac);
    ac.stats = 2;
    ac.k = cfg->k;
    ac.warmup = cfg->warmup;
    fedavg_anomaly *a = NULL;
    int rc = fedavg_anomaly_new(&a, &ac);
    if (!rc && h)
        rc = fedavg_anomaly_accept(a, hist, h);
    if (!rc)
        rc = fedavg_anomaly_judge(a, stats, m, verdicts);
    fedavg_anomaly_free(a);
    return rc;
}

int fedavg_round_judge(const fedavg_judge_config *cfg, const uint32_t *members, const double *norms,
                       const double *cosines, size_t m, const uint32_t *hist_members,
                       const double *hist_stats, size_t h, uint8_t *verdicts, double *stats_out) {
    if (!config_ok(cfg) || !members || !norms || !cosines || !verdicts || !stats_out || m == 0 ||
        (h && !hist_stats) || m > SIZE_MAX / 32 || h > SIZE_MAX / 32)
        return FEDAVG_E_INVALID;
    for (size_t i = 0; i < m; i++)
        if (!isfinite(norms[i]) || !isfinite(cosines[i]))
            return FEDAVG_E_NONFINITE;
    for (size_t i = 0; i < m; i++)
        if (norms[i] < 0)
            return FEDAVG_E_INVALID;
    for (size_t i = 0; i < 2 * h; i++)
        if (!isfinite(hist_stats[i]))
            return FEDAVG_E_NONFINITE;
    if (cfg->window && h > cfg->window) { /* the newest `window` entries */
        hist_stats += 2 * (h - cfg->window);
        if (hist_members)
            hist_members += h - cfg->window;
        h = cfg->window;
    }
    double *buf = malloc((2 * (m + h) + m) * sizeof *buf);
    if (!buf)
        return FEDAVG_E_NOMEM;
    double *pool = buf, *tmp = buf + (m + h), *logs = buf + 2 * (m + h);

    /* the statistics: norm ÷ the round's median norm (as the seed computed it), cosine;
     * robust2 records the cosine's gap to the round's median cosine instead */
    memcpy(tmp, norms, m * sizeof *tmp);
    double med = median(tmp, m);
    /* with 3 updates one gap is 0 by construction and the other two carry both
     * the spread and any outlier: robust2 judges such a round as robust does */
    const int gap = (cfg->rule == FEDAVG_RULE_ROBUST2 || cfg->rule == FEDAVG_RULE_ROBUST3) &&
                    m >= FEDAVG_GAP_MIN_MEMBERS;
    double medc = 0;
    if (gap) {
        memcpy(tmp, cosines, m * sizeof *tmp);
        medc = median(tmp, m);
    }
    for (size_t i = 0; i < m; i++) {
        double ratio = med > 0 ? norms[i] / med : 1.0;
        stats_out[2 * i] = ratio <= FEDAVG_RATIO_MAX ? ratio : FEDAVG_RATIO_MAX;
        stats_out[2 * i + 1] = gap ? cosines[i] - medc : cosines[i];
    }
    int rc = FEDAVG_OK;
    if (cfg->rule == FEDAVG_RULE_POOLED) {
        rc = pooled(cfg, stats_out, m, hist_stats, h, verdicts);
        free(buf);
        return rc;
    }
    /* log ratio: a ratio of 0 (a zero update) counts as 1/FEDAVG_RATIO_MAX */
    for (size_t i = 0; i < m; i++) {
        double r =
            stats_out[2 * i] >= 1.0 / FEDAVG_RATIO_MAX ? stats_out[2 * i] : 1.0 / FEDAVG_RATIO_MAX;
        logs[i] = det_log(r);
    }
    const double k = cfg->k;
    /* robust3's capture test: most members move against the previous global step */
    const int capture = gap && cfg->rule == FEDAVG_RULE_ROBUST3 && medc < 0;
    const int use_mad = cfg->rule != FEDAVG_RULE_MEMBER && m >= cfg->min_members;
    const int use_own = cfg->rule != FEDAVG_RULE_MAD && hist_members;
    double mu = 0, su = 1, mc = 0, sc = 1;
    if (use_mad) {
        size_t n = 0;
        for (size_t i = 0; i < m; i++)
            pool[n++] = logs[i];
        for (size_t j = 0; j < h; j++) {
            double r = hist_stats[2 * j] >= 1.0 / FEDAVG_RATIO_MAX ? hist_stats[2 * j]
                                                                   : 1.0 / FEDAVG_RATIO_MAX;
            pool[n++] = det_log(r);
        }
        robust(pool, n, cfg->floor_norm, tmp, &mu, &su);
        n = 0;
        for (size_t i = 0; i < m; i++)
            pool[n++] = stats_out[2 * i + 1];
        for (size_t j = 0; j < h; j++)
            pool[n++] = hist_stats[2 * j + 1];
        if (gap) { /* the gaps' centre is 0 by definition: scale = 1.4826 · median |gap| */
            for (size_t j = 0; j < n; j++)
                tmp[j] = fabs(pool[j]);
            double s = MAD_SCALE * median(tmp, n);
            sc = s > cfg->floor_cosine ? s : cfg->floor_cosine;
        } else {
            robust(pool, n, cfg->floor_cosine, tmp, &mc, &sc);
        }
    }
    for (size_t i = 0; i < m; i++) {
        int judged = 0, bad = 0;
        if (use_mad) {
            judged = 1;
            bad = fabs(logs[i] - mu) > k * su || mc - stats_out[2 * i + 1] > k * sc ||
                  (capture && stats_out[2 * i + 1] - mc > k * sc);
        }
        if (use_own) {
            size_t n = 0;
            for (size_t j = 0; j < h; j++)
                if (hist_members[j] == members[i]) {
                    double r = hist_stats[2 * j] >= 1.0 / FEDAVG_RATIO_MAX ? hist_stats[2 * j]
                                                                           : 1.0 / FEDAVG_RATIO_MAX;
                    pool[n++] = det_log(r);
                }
            if (n >= cfg->min_own) {
                double om, os;
                robust(pool, n, cfg->floor_norm, tmp, &om, &os);
                judged = 1;
                bad = bad || fabs(logs[i] - om) > k * os;
            }
        }
        verdicts[i] = !judged ? FEDAVG_VERDICT_WARMUP
                      : bad   ? FEDAVG_VERDICT_SUSPICIOUS
                              : FEDAVG_VERDICT_ACCEPTED;
    }
    free(buf);
    return rc;
}
