/* libFuzzer harness: ledger_bundle_verify on arbitrary bytes against the
 * genesis membership of the golden bundle (tests/ledger/vectors/bundle_v1.hex:
 * seeds 100…103, chain id C4…C4, f = 1). The decoder must never crash or
 * leak, and a bundle that verifies must hand back the transaction it names. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ledger.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *genesis;
static size_t genesis_len;
static ledger_membership *gm;

static void init(void) {
    uint8_t keys[32 * 4], chain[32], seed[32];
    memset(chain, 0xC4, sizeof chain);
    for (int i = 0; i < 4; i++) {
        ledger_signer *s = NULL;
        memset(seed, 100 + i, sizeof seed);
        if (ledger_signer_from_seed(&s, seed) != LEDGER_OK)
            abort();
        memcpy(keys + 32 * i, ledger_signer_public_key(s), 32);
        ledger_signer_free(s);
    }
    if (ledger_membership_create(&gm, chain, keys, 4, 1) != LEDGER_OK ||
        ledger_membership_encode(gm, &genesis, &genesis_len) != LEDGER_OK)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!genesis)
        init();
    ledger_bundle_info info;
    ledger_tx *tx = NULL;
    if (ledger_bundle_verify(data, size, genesis, genesis_len, &info, &tx) != LEDGER_OK)
        return 0;
    /* it verified: the transaction handed back is the one proven */
    if (!tx || memcmp(info.tx_hash, ledger_tx_hash(tx), 32) != 0)
        abort();
    ledger_tx_free(tx);
    return 0;
}
