/* libFuzzer: signed policy-set updates against a fixed current set. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "abac.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static abac_policyset *cur;
    if (!cur) {
        uint8_t members[3 * 32];
        for (int k = 0; k < 96; k++)
            members[k] = (uint8_t)(k * 7);
        abac_compile_options o = ABAC_COMPILE_OPTIONS_INIT;
        o.set_version = 1;
        o.members = members;
        o.n_members = 3;
        const char *src = "permit p (subject, action, resource);";
        if (abac_policyset_compile(src, strlen(src), &o, &cur, NULL, NULL, NULL, 0))
            __builtin_trap();
    }
    abac_policyset *next = NULL;
    int rc = abac_update_apply(cur, data, size, &next);
    if (rc == 0)
        __builtin_trap(); /* no valid signatures are reachable without the secret keys */
    if (next)
        __builtin_trap();
    return 0;
}
