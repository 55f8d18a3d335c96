/* libFuzzer harness: ledger_membership_decode on arbitrary bytes; a decoded object
 * must re-encode to exactly the input (canonical encoding). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ledger.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ledger_membership *obj = NULL;
    if (ledger_membership_decode(&obj, data, size) != LEDGER_OK)
        return 0;
    uint8_t *enc = NULL;
    size_t len = 0;
    if (ledger_membership_encode(obj, &enc, &len) != LEDGER_OK)
        abort();
    if (len != size || memcmp(enc, data, size) != 0)
        abort(); /* not canonical */
    ledger_free(enc);
    ledger_membership_free(obj);
    return 0;
}
