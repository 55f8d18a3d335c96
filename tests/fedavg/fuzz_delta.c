/* libFuzzer: delta decoder, applied to a small fixed base (in place and not). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fedavg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint64_t n;
    if (fedavg_delta_count(data, size, &n) != FEDAVG_OK)
        return 0;
    if (n > 4096)
        n = 16; /* still parse against a small model: count mismatch path */
    float base[4096], out[4096], keep[4096];
    for (size_t i = 0; i < n; i++)
        base[i] = (float)i * 0.5f;
    memcpy(out, base, n * sizeof *out);
    memcpy(keep, base, n * sizeof *out);
    int rc = fedavg_delta_apply(data, size, base, (size_t)n, out);
    if (rc != FEDAVG_OK && memcmp(out, keep, n * sizeof *out) != 0)
        abort();
    rc = fedavg_delta_apply(data, size, keep, (size_t)n, keep);
    if (rc != FEDAVG_OK && memcmp(keep, base, n * sizeof *out) != 0)
        abort();
    return 0;
}
