/* libFuzzer: the consortium parser (the `member` lines of a configuration) on
 * untrusted text. Beyond "no crash": an accepted consortium has 1…256
 * members with distinct keys, and its hash is deterministic. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fedshare.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fedshare_consortium *c = NULL;
    uint32_t line = 0;
    int rc = fedshare_consortium_parse(&c, (const char *)data, size, &line);
    if (rc != FEDSHARE_OK) {
        if (c)
            abort();
        return 0;
    }
    size_t n = fedshare_consortium_size(c);
    if (n < 1 || n > FEDSHARE_MEMBERS_MAX)
        abort();
    for (size_t i = 0; i < n; i++)
        if (fedshare_consortium_find(c, fedshare_consortium_key(c, i)) != (int)i)
            abort();
    uint8_t h1[32], h2[32];
    if (fedshare_consortium_hash(c, h1) || fedshare_consortium_hash(c, h2) || memcmp(h1, h2, 32))
        abort();
    fedshare_consortium_free(c);
    return 0;
}
