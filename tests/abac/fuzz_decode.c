/* libFuzzer: the canonical policy-set decoder. A decoded set must re-encode to the input
 * and decide without crashing. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "abac.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    abac_policyset *ps = NULL;
    if (abac_policyset_decode(data, size, &ps) != 0)
        return 0;
    size_t n = abac_policyset_encoded_size(ps);
    uint8_t *b = malloc(n ? n : 1);
    size_t got;
    if (!b || abac_policyset_encode(ps, b, n, &got) != 0 || got != size || memcmp(b, data, size))
        __builtin_trap();
    free(b);
    abac_request *r;
    abac_decision *d;
    if (abac_request_new(ps, 0, &r) == 0 && abac_decision_new(ps, &d) == 0) {
        abac_request_set_action(r, "train", 5);
        abac_request_set_entity(r, ABAC_RESOURCE, "d", 1, "dataset", 7);
        abac_decide(ps, r, d, ABAC_DECIDE_EXPLAIN);
        abac_decision_free(d);
    }
    abac_request_free(r);
    abac_policyset_free(ps);
    return 0;
}
