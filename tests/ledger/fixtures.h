/* Store fixtures shared by the ledger tests (include after testutil.h with
 * T_WITH_STORE): sealing a block on a store's state (context, state root,
 * state digest), certifying it by a list of replicas, and golden hex vectors. */
#ifndef LEDGER_FIXTURES_H
#define LEDGER_FIXTURES_H

#ifndef T_WITH_STORE
#error "fixtures.h needs testutil.h with T_WITH_STORE"
#endif

/* Give b the context (application version, epoch) of s's tip, and the state
 * root and state digest its transactions (checked) lead s to. */
static inline void t_seal(ledger_store *s, ledger_block *b) {
    uint8_t root[32], sdigest[32];
    t_context(s, b);
    assert_int_equal(ledger_store_prepare_digest(s, b, LEDGER_PREPARE_VERIFY_TX, root, sdigest),
                     LEDGER_OK);
    assert_int_equal(ledger_block_set_state_root(b, root), LEDGER_OK);
    assert_int_equal(ledger_block_set_state_digest(b, sdigest), LEDGER_OK);
}

/* Certify b (view 0, m's chain) by the k replicas listed in signers, replica
 * j signing with sg[j]. */
static inline void t_certify_by(ledger_block *b, const ledger_membership *m, ledger_signer **sg,
                                const int *signers, size_t k) {
    uint8_t stmt[LEDGER_COMMIT_STATEMENT_BYTES], sig[64];
    ledger_cert *c = NULL;
    assert_int_equal(ledger_cert_create(&c, 0), LEDGER_OK);
    assert_int_equal(ledger_commit_statement(stmt, ledger_membership_chain_id(m),
                                             ledger_block_height(b), 0,
                                             ledger_block_header_hash(b)),
                     LEDGER_OK);
    for (size_t i = 0; i < k; i++) {
        assert_int_equal(ledger_signer_sign(sg[signers[i]], stmt, sizeof stmt, sig), LEDGER_OK);
        assert_int_equal(ledger_cert_add(c, (uint16_t)signers[i], sig), LEDGER_OK);
    }
    assert_int_equal(ledger_block_set_cert(b, c), LEDGER_OK);
    ledger_cert_free(c);
}

#endif
