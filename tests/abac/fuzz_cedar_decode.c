/* libFuzzer: the decoder of versioned Cedar policy sets (ABCP) and of their quorum updates
 * (ABCU); the first byte picks which. What decodes must re-encode to the same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "abac.h"
#include "abac/cedar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    const uint8_t *in = data + 1;
    size_t len = size - 1;
    if (data[0] & 1) {
        static const uint8_t seed[32] = {1};
        uint8_t pk[32], sk[64];
        abac_keypair_from_seed(seed, pk, sk);
        abac_compile_options o = ABAC_COMPILE_OPTIONS_INIT;
        o.members = pk;
        o.n_members = 1;
        static const char text[] = "permit(principal, action, resource);";
        abac_cedar_policies *cur = NULL, *next = NULL;
        if (abac_cedar_policies_compile(&cur, text, sizeof text - 1, &o, NULL, NULL, NULL, 0))
            __builtin_trap();
        if (abac_cedar_update_apply(&next, cur, in, len) == 0 && !next)
            __builtin_trap();
        abac_cedar_policies_free(next);
        abac_cedar_policies_free(cur);
        return 0;
    }
    abac_cedar_policies *ps = NULL;
    if (abac_cedar_policies_decode(&ps, in, len) == 0) {
        uint8_t buf[1 << 16];
        size_t got = 0;
        if (abac_cedar_policies_encode(ps, buf, sizeof buf, &got) == 0 &&
            (got != len || memcmp(buf, in, len)))
            __builtin_trap(); /* not canonical */
        abac_cedar_policies_free(ps);
    }
    return 0;
}
