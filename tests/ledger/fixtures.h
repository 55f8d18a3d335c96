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

/* The bytes of a hex vector file (one line of lower-case hex); the caller
 * frees them. */
static inline uint8_t *t_read_hex_file(const char *path, size_t *len) {
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    static char line[1 << 17];
    assert_non_null(fgets(line, sizeof line, fp));
    fclose(fp);
    size_t l = strcspn(line, "\r\n");
    assert_true(l % 2 == 0);
    uint8_t *b = malloc(l / 2 + 1);
    assert_non_null(b);
    for (size_t i = 0; i < l / 2; i++) {
        unsigned v;
        assert_int_equal(sscanf(line + 2 * i, "%2x", &v), 1);
        b[i] = (uint8_t)v;
    }
    *len = l / 2;
    return b;
}

/* The golden vector at path must hold exactly these len bytes; returns its
 * bytes (the caller frees them). With T_WRITE_VECTORS set in the environment
 * the file is first rewritten from them (only when the format changes, with a
 * new format version). */
static inline uint8_t *t_golden(const char *path, const uint8_t *bytes, size_t len) {
    if (getenv("T_WRITE_VECTORS")) {
        FILE *fp = fopen(path, "w");
        assert_non_null(fp);
        for (size_t i = 0; i < len; i++)
            fprintf(fp, "%02x", bytes[i]);
        fprintf(fp, "\n");
        fclose(fp);
    }
    size_t gl;
    uint8_t *golden = t_read_hex_file(path, &gl);
    assert_int_equal(gl, len);
    assert_memory_equal(golden, bytes, len);
    return golden;
}

/* The keys of the usual fixture: the genesis membership of T_MEMBERS replicas
 * (seeds 100 …, signers in sg[0 … T_MEMBERS-1]), nsg - T_MEMBERS more
 * replicas that join later (seeds 100 + i in sg[i]) and the client alice
 * (seed 1). */
static inline void t_keys(ledger_membership **m, ledger_signer **sg, size_t nsg,
                          ledger_signer **alice) {
    *m = t_membership(T_MEMBERS, sg);
    for (size_t i = T_MEMBERS; i < nsg; i++)
        sg[i] = t_signer((uint8_t)(100 + i));
    *alice = t_signer(1);
}

static inline void t_keys_free(ledger_membership *m, ledger_signer **sg, size_t nsg,
                               ledger_signer *alice) {
    for (size_t i = 0; i < nsg; i++)
        ledger_signer_free(sg[i]);
    ledger_signer_free(alice);
    ledger_membership_free(m);
}

/* A KV store with genesis m in a fresh directory (its path in path). */
static inline void t_open_kv(ledger_store **s, char *path, size_t n, const char *tag,
                             const ledger_membership *m) {
    t_tmpdir(path, n, tag);
    assert_int_equal(ledger_store_open(s, path, m, ledger_kv_app(), NULL, NULL), LEDGER_OK);
}

/* Close s (when open) and remove its directory. */
static inline void t_close_kv(ledger_store *s, const char *path) {
    if (s)
        ledger_store_close(s);
    t_cleanup(path);
}

/* A bundle of bl bytes that verifies from genesis: with bit 0 or 7 of any
 * byte flipped, cut short anywhere, or with a trailing byte
 * (LEDGER_E_DECODE), it is refused; bu is given back unchanged. info, when
 * not NULL, is passed to the verifications of flipped bundles. */
static inline void t_bundle_tamper_refused(uint8_t *bu, size_t bl, const uint8_t *genesis,
                                           size_t genesis_len, ledger_bundle_info *info) {
    for (size_t i = 0; i < bl; i++) {
        for (int bit = 0; bit < 8; bit += 7) {
            bu[i] ^= (uint8_t)(1u << bit);
            int rc = ledger_bundle_verify(bu, bl, genesis, genesis_len, info, NULL);
            if (rc == LEDGER_OK)
                fail_msg("byte %zu bit %d flipped still verifies", i, bit);
            bu[i] ^= (uint8_t)(1u << bit);
        }
    }
    for (size_t n = 0; n < bl; n++)
        assert_int_not_equal(ledger_bundle_verify(bu, n, genesis, genesis_len, NULL, NULL),
                             LEDGER_OK);
    uint8_t *longer = malloc(bl + 1);
    assert_non_null(longer);
    memcpy(longer, bu, bl);
    longer[bl] = 0;
    assert_int_equal(ledger_bundle_verify(longer, bl + 1, genesis, genesis_len, NULL, NULL),
                     LEDGER_E_DECODE);
    free(longer);
}

#endif
