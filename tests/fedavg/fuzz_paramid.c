/* libFuzzer: parameter-ID input parser; accepted input re-encodes identically. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fedavg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *m, *s;
    size_t ml, sl;
    uint64_t r;
    if (fedavg_param_id_input_parse(data, size, &m, &ml, &r, &s, &sl) != FEDAVG_OK)
        return 0;
    uint8_t *out = malloc(size);
    if (!out || fedavg_param_id_input(m, ml, r, s, sl, out, size) != FEDAVG_OK ||
        memcmp(out, data, size) != 0)
        abort();
    free(out);
    return 0;
}
