/* libFuzzer: the decoder of versioned Cedar policy sets (ABCP, versions 1 and 2 — the latter
 * with template links) and of their quorum updates (ABCU); bit 0 of the first byte picks
 * which, bit 1 makes the update's current set a template-linked one (an ABCP version 2).
 * What decodes must re-encode to the same bytes and hash. */
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
        static const char text[] = "permit(principal, action, resource);\n"
                                   "permit(principal == ?principal, action, resource);";
        static const char who[] = "User::\"a\"";
        abac_cedar_policies *cur = NULL, *next = NULL, *linked = NULL;
        if (abac_cedar_policies_compile(&cur, text, sizeof text - 1, &o, NULL, NULL, NULL, 0))
            __builtin_trap();
        if (data[0] & 2) {
            if (abac_cedar_policies_link(&linked, cur, 1, "L", 1, who, sizeof who - 1, NULL, 0))
                __builtin_trap();
            abac_cedar_policies_free(cur);
            cur = linked;
        }
        if (abac_cedar_update_apply(&next, cur, in, len) == 0 && !next)
            __builtin_trap();
        abac_cedar_policies_free(next);
        abac_cedar_policies_free(cur);
        return 0;
    }
    abac_cedar_policies *ps = NULL, *again = NULL;
    if (abac_cedar_policies_decode(&ps, in, len) == 0) {
        static uint8_t buf[1 << 20];
        uint8_t h1[32], h2[32];
        size_t got = 0;
        if (abac_cedar_policies_encode(ps, buf, sizeof buf, &got) == 0 &&
            (got != len || memcmp(buf, in, len)))
            __builtin_trap(); /* not canonical */
        if (abac_cedar_policies_hash(ps, h1) || abac_cedar_policies_decode(&again, in, len) ||
            abac_cedar_policies_hash(again, h2) || memcmp(h1, h2, 32) ||
            abac_cedar_policy_count(again) != abac_cedar_policy_count(ps) ||
            abac_cedar_policies_link_count(again) != abac_cedar_policies_link_count(ps))
            __builtin_trap();
        abac_cedar_policies_free(again);
        abac_cedar_policies_free(ps);
    }
    return 0;
}
