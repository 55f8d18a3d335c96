/* libFuzzer harness: the snapshot chunk decoder (ledger_snapshot_chunk_check,
 * the same strict decoder ledger_snapshot_import_chunk runs before it writes
 * anything) on arbitrary bytes. It must never crash or read out of bounds;
 * a chunk it accepts has consistent fields. */
#include <stdint.h>
#include <stdlib.h>

#include <ledger.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint64_t height = 0, index = 0;
    int last = 0;
    uint32_t count = 0;
    if (ledger_snapshot_chunk_check(data, size, &height, &index, &last, &count) != LEDGER_OK)
        return 0;
    /* accepted: a height, entries that fit, an empty chunk only as the only one */
    if (height == 0 || (size_t)count * 10 > size || (count == 0 && (index != 0 || !last)))
        abort();
    return 0;
}
