/* libFuzzer harness: ledger_changes_verify (the list of membership changes of
 * bundle format 2 and of the client's membership catch-up) on arbitrary bytes,
 * from the genesis membership of the golden bundles (seeds 100…103, chain id
 * C4…C4, f = 1). It must never crash or leak; a list that verifies hands back a
 * membership of the same chain with its effective height. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ledger.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
    if (ledger_membership_create(&gm, chain, keys, 4, 1) != LEDGER_OK)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!gm)
        init();
    ledger_membership *m = NULL;
    uint64_t eff = 0;
    int rc = ledger_changes_verify(gm, data, size, &m, &eff);
    if (rc != LEDGER_OK) {
        if (m)
            abort(); /* nothing handed back on failure */
        return 0;
    }
    if (!m || memcmp(ledger_membership_chain_id(m), ledger_membership_chain_id(gm), 32) != 0 ||
        (eff != 0 && eff < 3))
        abort();
    ledger_membership_free(m);
    return 0;
}
