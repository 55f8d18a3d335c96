/* libFuzzer harness: ledger_block_decode on arbitrary bytes (header formats
 * 1, 2 and 3; seeds in corpus/block, v3_cert = vectors/block_v3.hex); a
 * decoded object must re-encode to exactly the input (canonical encoding). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ledger.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ledger_block *obj = NULL;
    if (ledger_block_decode(&obj, data, size) != LEDGER_OK)
        return 0;
    uint8_t *enc = NULL;
    size_t len = 0;
    if (ledger_block_encode(obj, &enc, &len) != LEDGER_OK)
        abort();
    if (len != size || memcmp(enc, data, size) != 0)
        abort(); /* not canonical */
    /* header format 3 (and only it) carries the state digest */
    if ((ledger_block_format(obj) >= 3) != (ledger_block_state_digest(obj) != NULL))
        abort();
    ledger_free(enc);
    ledger_block_free(obj);
    return 0;
}
