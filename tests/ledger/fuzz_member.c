/* libFuzzer harness: the membership-change decoders on arbitrary bytes —
 * ledger_member_change_decode (proposal records) and, on the same input,
 * ledger_membership_decode (a version 2 membership must re-encode to exactly
 * the input). Nothing may crash, leak or read out of bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ledger.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ledger_member_change c;
    if (ledger_member_change_decode(&c, data, size) == LEDGER_OK) {
        if (c.id == 0 || strlen(c.addr) > LEDGER_MEMBER_ADDR_MAX)
            abort();
    }
    ledger_membership *m = NULL;
    if (ledger_membership_decode(&m, data, size) == LEDGER_OK) {
        uint8_t *enc = NULL;
        size_t len = 0;
        if (ledger_membership_encode(m, &enc, &len) != LEDGER_OK || len != size ||
            memcmp(enc, data, size) != 0)
            abort(); /* not canonical */
        if (ledger_membership_count(m) == 0 ||
            ledger_membership_count(m) < 3 * (size_t)ledger_membership_f(m) + 1)
            abort();
        ledger_free(enc);
        ledger_membership_free(m);
    }
    return 0;
}
