/* libFuzzer: codec-parameter decoder; a decoded codec re-encodes to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fedavg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fedavg_codec *c = NULL;
    if (fedavg_codec_decode(&c, data, size) == FEDAVG_OK) {
        uint8_t out[64];
        if (fedavg_codec_encode(c, out, sizeof out) != FEDAVG_OK ||
            size != fedavg_codec_encoded_bytes() || memcmp(out, data, size) != 0)
            abort(); /* a harness may abort: decode -> encode must be the identity */
        fedavg_codec_free(c);
    }
    return 0;
}
