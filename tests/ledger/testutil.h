/* Helpers shared by the ledger tests: deterministic keys, memberships, certs. */
#ifndef LEDGER_TESTUTIL_H
#define LEDGER_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <ledger.h>

#define T_MEMBERS 4

/* Deterministic signer number i (seed = i repeated). */
static inline ledger_signer *t_signer(uint8_t i) {
    uint8_t seed[32];
    memset(seed, i, sizeof seed);
    ledger_signer *s = NULL;
    assert_int_equal(ledger_signer_from_seed(&s, seed), LEDGER_OK);
    return s;
}

/* Membership of replicas with seeds 100 … 100+n−1, f = (n−1)/3. */
static inline ledger_membership *t_membership(size_t n, ledger_signer **signers) {
    uint8_t keys[32 * 16], chain[32];
    memset(chain, 0xC4, sizeof chain);
    for (size_t i = 0; i < n; i++) {
        signers[i] = t_signer((uint8_t)(100 + i));
        memcpy(keys + 32 * i, ledger_signer_public_key(signers[i]), 32);
    }
    ledger_membership *m = NULL;
    assert_int_equal(ledger_membership_create(&m, chain, keys, n, (uint32_t)((n - 1) / 3)),
                     LEDGER_OK);
    return m;
}

/* Certify a block with replicas [0, count). */
static inline void t_certify(ledger_block *b, const ledger_membership *m, ledger_signer **signers,
                             size_t count, uint64_t view) {
    uint8_t stmt[LEDGER_COMMIT_STATEMENT_BYTES], sig[64];
    ledger_cert *c = NULL;
    assert_int_equal(ledger_cert_create(&c, view), LEDGER_OK);
    assert_int_equal(ledger_commit_statement(stmt, ledger_membership_chain_id(m),
                                             ledger_block_height(b), view,
                                             ledger_block_header_hash(b)),
                     LEDGER_OK);
    for (size_t i = 0; i < count; i++) {
        assert_int_equal(ledger_signer_sign(signers[i], stmt, sizeof stmt, sig), LEDGER_OK);
        assert_int_equal(ledger_cert_add(c, (uint16_t)i, sig), LEDGER_OK);
    }
    assert_int_equal(ledger_block_set_cert(b, c), LEDGER_OK);
    ledger_cert_free(c);
}

#endif
