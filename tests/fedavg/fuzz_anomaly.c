/* libFuzzer: anomaly-history decoder; accepted input re-encodes identically and judges. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fedavg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fedavg_anomaly *a = NULL;
    if (fedavg_anomaly_decode(&a, data, size) != FEDAVG_OK)
        return 0;
    size_t len = fedavg_anomaly_encoded_bytes(a);
    uint8_t *out = malloc(len ? len : 1);
    if (!out || len != size || fedavg_anomaly_encode(a, out, len) != FEDAVG_OK ||
        memcmp(out, data, size) != 0)
        abort();
    double probe[64] = {0};
    uint8_t v;
    if (fedavg_anomaly_judge(a, probe, 1, &v) != FEDAVG_OK)
        abort();
    free(out);
    fedavg_anomaly_free(a);
    return 0;
}
