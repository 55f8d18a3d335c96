/* libFuzzer: packed-vector decoder; accepted input re-encodes identically and unpacks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fedavg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fedavg_codec *c = NULL;
    uint64_t n;
    uint32_t w;
    size_t off;
    if (fedavg_packed_decode(data, size, &c, &n, &w, &off) != FEDAVG_OK)
        return 0;
    size_t raw = size - off;
    uint8_t *enc = malloc(size);
    float *vals = malloc((size_t)n * sizeof *vals);
    if (!enc || !vals)
        abort();
    if (fedavg_packed_encode(c, data + off, raw, n, w, enc, size) != FEDAVG_OK ||
        memcmp(enc, data, size) != 0)
        abort();
    if (fedavg_codec_unpack(c, data + off, raw, (size_t)n, w, vals) != FEDAVG_OK)
        abort();
    free(enc);
    free(vals);
    fedavg_codec_free(c);
    return 0;
}
