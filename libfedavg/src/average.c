/* Plain-domain aggregation: weighted FedAvg, coordinate-wise median and
 * trimmed mean, and the deterministic statistics of an update.
 *
 * Determinism: every double sum runs in a fixed order written out here
 * (participant order for FedAvg; eight interleaved lanes combined in a fixed
 * tree for norms), the library is built with -ffp-contract=off and without
 * -ffast-math, so the compiler may vectorize across coordinates but never
 * reassociate a sum: results are bit-identical on IEEE-754 machines. */
#include <math.h>
#include <stdlib.h>

#include "internal.h"

#define BLOCK 1024u

static int check_weights(const double *w, size_t m, double *sum) {
    double s = 0.0;
    for (size_t i = 0; i < m; i++) {
        if (!isfinite(w[i]))
            return FEDAVG_E_NONFINITE;
        if (w[i] < 0.0)
            return FEDAVG_E_INVALID;
        s += w[i];
    }
    if (!isfinite(s))
        return FEDAVG_E_NONFINITE;
    if (!(s > 0.0))
        return FEDAVG_E_INVALID;
    *sum = s;
    return FEDAVG_OK;
}

static int check_rows(const float *const *x, size_t m) {
    for (size_t i = 0; i < m; i++)
        if (!x[i])
            return FEDAVG_E_INVALID;
    return FEDAVG_OK;
}

int fedavg_average(const float *const *x, const double *w, size_t m, size_t n, float *out) {
    if (!x || !w || !out || m == 0 || n == 0 || check_rows(x, m))
        return FEDAVG_E_INVALID;
    double total;
    int rc = check_weights(w, m, &total);
    if (rc)
        return rc;
    double acc[BLOCK];
    for (size_t j0 = 0; j0 < n; j0 += BLOCK) {
        size_t len = n - j0 < BLOCK ? n - j0 : BLOCK;
        const float *x0 = x[0] + j0;
        const double w0 = w[0];
        for (size_t j = 0; j < len; j++)
            acc[j] = w0 * (double)x0[j];
        size_t i = 1;
        /* Four participants per pass over acc: the same additions in the same
         * order, a quarter of the accumulator traffic. */
        for (; i + 4 <= m; i += 4) {
            const float *xa = x[i] + j0, *xb = x[i + 1] + j0;
            const float *xc = x[i + 2] + j0, *xd = x[i + 3] + j0;
            const double wa = w[i], wb = w[i + 1], wc = w[i + 2], wd = w[i + 3];
            for (size_t j = 0; j < len; j++)
                acc[j] =
                    (((acc[j] + wa * (double)xa[j]) + wb * (double)xb[j]) + wc * (double)xc[j]) +
                    wd * (double)xd[j];
        }
        for (; i < m; i++) {
            const float *xi = x[i] + j0;
            const double wi = w[i];
            for (size_t j = 0; j < len; j++)
                acc[j] += wi * (double)xi[j];
        }
        /* A NaN or infinity in any input (or an overflow) shows in acc. */
        double probe = 0.0;
        for (size_t j = 0; j < len; j++)
            probe += acc[j] * 0.0;
        if (probe != 0.0) {
            memset(out, 0, n * sizeof *out);
            return FEDAVG_E_NONFINITE;
        }
        float *o = out + j0;
        for (size_t j = 0; j < len; j++)
            o[j] = (float)(acc[j] / total);
    }
    return FEDAVG_OK;
}

/* Insertion sort: m is the number of participants (small). */
static void sort_floats(float *v, size_t m) {
    for (size_t i = 1; i < m; i++) {
        float key = v[i];
        size_t j = i;
        while (j > 0 && v[j - 1] > key) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = key;
    }
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static int gather_sorted(const float *const *x, size_t m, size_t j, float *col) {
    for (size_t i = 0; i < m; i++) {
        float v = x[i][j];
        if (!isfinite(v))
            return FEDAVG_E_NONFINITE;
        col[i] = v;
    }
    if (m <= 32)
        sort_floats(col, m);
    else
        qsort(col, m, sizeof *col, cmp_float);
    return FEDAVG_OK;
}

static int robust(const float *const *x, size_t m, size_t n, size_t trim, int median, float *out) {
    if (!x || !out || m == 0 || n == 0 || check_rows(x, m))
        return FEDAVG_E_INVALID;
    if (!median && trim > (m - 1) / 2)
        return FEDAVG_E_INVALID;
    float *col = malloc(m * sizeof *col);
    if (!col)
        return FEDAVG_E_NOMEM;
    int rc = FEDAVG_OK;
    for (size_t j = 0; j < n; j++) {
        rc = gather_sorted(x, m, j, col);
        if (rc)
            break;
        if (median) {
            if (m % 2)
                out[j] = col[m / 2];
            else
                out[j] = (float)(((double)col[m / 2 - 1] + (double)col[m / 2]) / 2.0);
        } else {
            double s = 0.0;
            for (size_t i = trim; i < m - trim; i++)
                s += (double)col[i];
            out[j] = (float)(s / (double)(m - 2 * trim));
        }
    }
    free(col);
    if (rc)
        memset(out, 0, n * sizeof *out);
    return rc;
}

int fedavg_median(const float *const *x, size_t m, size_t n, float *out) {
    return robust(x, m, n, 0, 1, out);
}

int fedavg_trimmed_mean(const float *const *x, size_t m, size_t n, size_t trim, float *out) {
    return robust(x, m, n, trim, 0, out);
}

/* Sum of a[i]*b[i] in double over eight fixed lanes (lane = i mod 8), then
 * ((l0+l1)+(l2+l3))+((l4+l5)+(l6+l7)): a fixed order whatever the compiler
 * vectorizes. Returns non-zero when an input is not finite. */
static int dot8(const float *a, const float *b, size_t n, double *out) {
    double l[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    uint32_t bad = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        for (size_t k = 0; k < 8; k++) {
            bad |= (fedavg_float_bits_(a[i + k]) & 0x7f800000u) == 0x7f800000u;
            bad |= (fedavg_float_bits_(b[i + k]) & 0x7f800000u) == 0x7f800000u;
            l[k] += (double)a[i + k] * (double)b[i + k];
        }
    }
    for (size_t k = 0; i < n; i++, k++) {
        bad |= (fedavg_float_bits_(a[i]) & 0x7f800000u) == 0x7f800000u;
        bad |= (fedavg_float_bits_(b[i]) & 0x7f800000u) == 0x7f800000u;
        l[k] += (double)a[i] * (double)b[i];
    }
    *out = ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
    return bad != 0;
}

int fedavg_stat_norm(const float *x, size_t n, double *out) {
    if (!x || !out || n == 0)
        return FEDAVG_E_INVALID;
    double s;
    if (dot8(x, x, n, &s))
        return FEDAVG_E_NONFINITE;
    *out = sqrt(s);
    return FEDAVG_OK;
}

int fedavg_stat_cosine(const float *x, const float *g, size_t n, double *out) {
    if (!x || !g || !out || n == 0)
        return FEDAVG_E_INVALID;
    double xx, gg, xg;
    if (dot8(x, x, n, &xx) || dot8(g, g, n, &gg) || dot8(x, g, n, &xg))
        return FEDAVG_E_NONFINITE;
    if (xx == 0.0 || gg == 0.0) {
        *out = 0.0;
        return FEDAVG_OK;
    }
    double c = xg / (sqrt(xx) * sqrt(gg));
    /* Rounding can step just outside [-1, 1]. */
    *out = c > 1.0 ? 1.0 : c < -1.0 ? -1.0 : c;
    return FEDAVG_OK;
}
