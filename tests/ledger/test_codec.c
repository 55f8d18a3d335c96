/* Transactions, memberships, certificates, blocks, Merkle trees, proofs:
 * encode/decode round trips, strictness, signatures, known answers. */
#include "testutil.h"

static void test_tx_roundtrip(void **state) {
    (void)state;
    ledger_signer *s = t_signer(1);
    const uint8_t payload[] = "hello ledger";
    ledger_tx *tx = NULL;
    assert_int_equal(ledger_tx_create_signed(&tx, s, 7, 42, payload, sizeof payload), LEDGER_OK);
    assert_int_equal(ledger_tx_op(tx), 7);
    assert_int_equal(ledger_tx_nonce(tx), 42);
    assert_memory_equal(ledger_tx_sender(tx), ledger_signer_public_key(s), 32);
    size_t plen = 0;
    assert_memory_equal(ledger_tx_payload(tx, &plen), payload, sizeof payload);
    assert_int_equal(plen, sizeof payload);
    assert_int_equal(ledger_tx_verify(tx), LEDGER_OK);

    uint8_t *enc = NULL;
    size_t len = 0;
    assert_int_equal(ledger_tx_encode(tx, &enc, &len), LEDGER_OK);
    assert_int_equal(len, ledger_tx_encoded_size(sizeof payload));
    assert_memory_equal(enc, "LDTX\x01", 5);
    ledger_tx *back = NULL;
    assert_int_equal(ledger_tx_decode(&back, enc, len), LEDGER_OK);
    assert_memory_equal(ledger_tx_hash(back), ledger_tx_hash(tx), 32);
    uint8_t h[32];
    ledger_sha256(h, enc, len);
    assert_memory_equal(h, ledger_tx_hash(tx), 32);
    assert_int_equal(ledger_tx_verify(back), LEDGER_OK);

    /* Strict decoding: truncation, trailing byte, bad magic, bad version, bad length. */
    ledger_tx *bad = (ledger_tx *)1;
    assert_int_equal(ledger_tx_decode(&bad, enc, len - 1), LEDGER_E_DECODE);
    assert_null(bad);
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, enc, len);
    longer[len] = 0;
    assert_int_equal(ledger_tx_decode(&bad, longer, len + 1), LEDGER_E_DECODE);
    free(longer);
    enc[0] ^= 1;
    assert_int_equal(ledger_tx_decode(&bad, enc, len), LEDGER_E_DECODE);
    enc[0] ^= 1;
    enc[4] = 3;
    assert_int_equal(ledger_tx_decode(&bad, enc, len), LEDGER_E_VERSION);
    enc[4] = 1;
    enc[50] ^= 1; /* payload length */
    assert_int_equal(ledger_tx_decode(&bad, enc, len), LEDGER_E_DECODE);
    enc[50] ^= 1;

    /* Any flipped bit of the signed part or signature breaks verification. */
    for (size_t i = 5; i < len; i += 7) {
        enc[i] ^= 0x20;
        ledger_tx *t2 = NULL;
        if (ledger_tx_decode(&t2, enc, len) == LEDGER_OK) {
            assert_int_equal(ledger_tx_verify(t2), LEDGER_E_SIGNATURE);
            ledger_tx_free(t2);
        }
        enc[i] ^= 0x20;
    }
    ledger_free(enc);
    ledger_tx_free(back);
    ledger_tx_free(tx);
    ledger_signer_free(s);
}

static void test_tx_errors(void **state) {
    (void)state;
    ledger_signer *s = t_signer(1), *other = t_signer(2);
    ledger_tx *tx = NULL;
    assert_int_equal(ledger_tx_create(NULL, 1, ledger_signer_public_key(s), 1, NULL, 0),
                     LEDGER_E_INVALID);
    assert_int_equal(ledger_tx_create(&tx, 1, NULL, 1, NULL, 0), LEDGER_E_INVALID);
    assert_int_equal(ledger_tx_create(&tx, 1, ledger_signer_public_key(s), 1, NULL, 3),
                     LEDGER_E_INVALID);
    uint8_t one = 1;
    assert_int_equal(ledger_tx_create(&tx, 1, ledger_signer_public_key(s), 1, &one,
                                      (size_t)LEDGER_TX_PAYLOAD_MAX + 1),
                     LEDGER_E_INVALID);
    assert_int_equal(ledger_tx_create(&tx, 1, ledger_signer_public_key(s), 1, NULL, 0), LEDGER_OK);
    assert_int_equal(ledger_tx_verify(tx), LEDGER_E_SIGNATURE);    /* unsigned */
    assert_int_equal(ledger_tx_sign(tx, other), LEDGER_E_INVALID); /* wrong signer */
    assert_int_equal(ledger_tx_sign(tx, s), LEDGER_OK);
    assert_int_equal(ledger_tx_verify(tx), LEDGER_OK);

    /* External signature over the signing digest. */
    uint8_t d[32], sig[64];
    assert_int_equal(ledger_tx_signing_digest(tx, d), LEDGER_OK);
    assert_int_equal(ledger_signer_sign(s, d, 32, sig), LEDGER_OK);
    assert_memory_equal(sig, ledger_tx_signature(tx), 64);
    sig[0] ^= 1;
    assert_int_equal(ledger_tx_set_signature(tx, sig), LEDGER_OK);
    assert_int_equal(ledger_tx_verify(tx), LEDGER_E_SIGNATURE);

    const ledger_tx *arr[1] = {tx};
    size_t bad = 99;
    assert_int_equal(ledger_tx_verify_batch(arr, 1, &bad), LEDGER_E_SIGNATURE);
    assert_int_equal(bad, 0);
    assert_null(ledger_tx_hash(NULL));
    ledger_tx_free(NULL);
    ledger_tx_free(tx);
    ledger_signer_free(s);
    ledger_signer_free(other);
}

static void test_strerror(void **state) {
    (void)state;
    assert_string_equal(ledger_strerror(LEDGER_OK), "success");
    assert_string_equal(ledger_strerror(LEDGER_E_SIGNATURE), "signature does not verify");
    assert_non_null(ledger_strerror(-260));
    assert_string_equal(ledger_strerror(12345), "unknown error");
    assert_string_equal(ledger_version_string(), LEDGER_VERSION_STRING);
    assert_int_equal(ledger_hash_bytes(), 32);
    assert_int_equal(ledger_pubkey_bytes(), 32);
    assert_int_equal(ledger_sig_bytes(), 64);
}

static void test_membership(void **state) {
    (void)state;
    ledger_signer *sg[7];
    ledger_membership *m = t_membership(4, sg);
    assert_int_equal(ledger_membership_size(m), 4);
    assert_int_equal(ledger_membership_f(m), 1);
    assert_int_equal(ledger_membership_quorum(m), 3);
    assert_int_equal(ledger_membership_find(m, ledger_signer_public_key(sg[2])), 2);
    uint8_t *enc;
    size_t len;
    assert_int_equal(ledger_membership_encode(m, &enc, &len), LEDGER_OK);
    assert_int_equal(len, 45 + 4 * 32);
    ledger_membership *back;
    assert_int_equal(ledger_membership_decode(&back, enc, len), LEDGER_OK);
    assert_true(ledger_membership_equal(m, back));
    ledger_membership_free(back);
    assert_int_equal(ledger_membership_decode(&back, enc, len - 1), LEDGER_E_DECODE);
    enc[40] = 2; /* f = 2 needs n >= 7 */
    assert_int_equal(ledger_membership_decode(&back, enc, len), LEDGER_E_DECODE);
    ledger_free(enc);

    /* Duplicate keys, n < 3f+1, n = 0. */
    uint8_t keys[64], chain[32] = {0};
    memcpy(keys, ledger_signer_public_key(sg[0]), 32);
    memcpy(keys + 32, ledger_signer_public_key(sg[0]), 32);
    assert_int_equal(ledger_membership_create(&back, chain, keys, 2, 0), LEDGER_E_INVALID);
    assert_int_equal(ledger_membership_create(&back, chain, keys, 1, 1), LEDGER_E_INVALID);
    assert_int_equal(ledger_membership_create(&back, chain, keys, 0, 0), LEDGER_E_INVALID);
    ledger_membership_free(m);
    for (int i = 0; i < 4; i++)
        ledger_signer_free(sg[i]);

    /* n = 7, f = 2: quorum 5; n = 5, f = 1: quorum 4 (> 2f+1, still intersecting). */
    m = t_membership(7, sg);
    assert_int_equal(ledger_membership_quorum(m), 5);
    ledger_membership_free(m);
    for (int i = 0; i < 7; i++)
        ledger_signer_free(sg[i]);
    m = t_membership(5, sg);
    assert_int_equal(ledger_membership_quorum(m), 4);
    ledger_membership_free(m);
    for (int i = 0; i < 5; i++)
        ledger_signer_free(sg[i]);
}

static ledger_block *make_block(size_t ntx, uint64_t height) {
    ledger_signer *s = t_signer(9);
    ledger_tx **txs = calloc(ntx ? ntx : 1, sizeof *txs);
    for (size_t i = 0; i < ntx; i++) {
        uint8_t pl[8];
        memset(pl, (int)i, sizeof pl);
        assert_int_equal(ledger_tx_create_signed(&txs[i], s, 1, i + 1, pl, sizeof pl), LEDGER_OK);
    }
    uint8_t prev[32] = {0};
    ledger_block *b = NULL;
    assert_int_equal(ledger_block_create_take(&b, height, prev, 1700000000000ull, 1, 0, txs, ntx),
                     LEDGER_OK);
    free(txs);
    ledger_signer_free(s);
    return b;
}

static void test_block_roundtrip(void **state) {
    (void)state;
    ledger_signer *sg[4];
    ledger_membership *m = t_membership(4, sg);
    for (size_t ntx = 0; ntx < 6; ntx++) {
        ledger_block *b = make_block(ntx, 1);
        assert_int_equal(ledger_block_check(b, NULL), LEDGER_OK);
        assert_int_equal(ledger_block_check(b, m), LEDGER_E_CERTIFICATE); /* no cert */
        uint8_t root[32] = {7};
        assert_int_equal(ledger_block_set_state_root(b, root), LEDGER_OK);
        t_certify(b, m, sg, 3, 5);
        assert_int_equal(ledger_block_check(b, m), LEDGER_OK);
        uint8_t *enc;
        size_t len;
        assert_int_equal(ledger_block_encode(b, &enc, &len), LEDGER_OK);
        ledger_block *back;
        assert_int_equal(ledger_block_decode(&back, enc, len), LEDGER_OK);
        assert_memory_equal(ledger_block_header_hash(back), ledger_block_header_hash(b), 32);
        assert_int_equal(ledger_block_tx_count(back), ntx);
        assert_int_equal(ledger_cert_view(ledger_block_cert(back)), 5);
        assert_int_equal(ledger_block_check(back, m), LEDGER_OK);
        uint8_t *enc2;
        size_t len2;
        assert_int_equal(ledger_block_encode(back, &enc2, &len2), LEDGER_OK);
        assert_int_equal(len, len2);
        assert_memory_equal(enc, enc2, len);
        ledger_free(enc2);
        ledger_block_free(back);
        /* Truncations never decode. */
        for (size_t cut = 0; cut < len; cut += 13) {
            back = (ledger_block *)1;
            assert_int_not_equal(ledger_block_decode(&back, enc, cut), LEDGER_OK);
            assert_null(back);
        }
        /* A changed state root changes the header hash: the certificate no longer verifies. */
        enc[5 + 80] ^= 1;
        assert_int_equal(ledger_block_decode(&back, enc, len), LEDGER_OK);
        assert_int_equal(ledger_block_check(back, m), LEDGER_E_CERTIFICATE);
        ledger_block_free(back);
        enc[5 + 80] ^= 1;
        /* A changed tx root: decode fails (root recomputed). */
        enc[5 + 48] ^= 1;
        assert_int_equal(ledger_block_decode(&back, enc, len), LEDGER_E_HASH);
        enc[5 + 48] ^= 1;
        ledger_free(enc);
        ledger_block_free(b);
    }
    ledger_membership_free(m);
    for (int i = 0; i < 4; i++)
        ledger_signer_free(sg[i]);
}

static void test_cert(void **state) {
    (void)state;
    ledger_signer *sg[4];
    ledger_membership *m = t_membership(4, sg);
    ledger_block *b = make_block(3, 9);
    /* Too few signatures. */
    t_certify(b, m, sg, 2, 0);
    assert_int_equal(ledger_block_check(b, m), LEDGER_E_CERTIFICATE);
    /* Quorum. */
    t_certify(b, m, sg, 4, 0);
    assert_int_equal(ledger_block_check(b, m), LEDGER_OK);
    const ledger_cert *c = ledger_block_cert(b);
    assert_int_equal(ledger_cert_count(c), 4);
    /* Wrong height or header hash. */
    assert_int_equal(ledger_cert_verify(c, m, 10, ledger_block_header_hash(b)),
                     LEDGER_E_CERTIFICATE);
    uint8_t other[32] = {1};
    assert_int_equal(ledger_cert_verify(c, m, 9, other), LEDGER_E_CERTIFICATE);
    /* Duplicate replica refused; unknown replica fails verification. */
    uint8_t sig[64];
    uint16_t rep;
    assert_int_equal(ledger_cert_entry(c, 1, &rep, sig), LEDGER_OK);
    assert_int_equal(rep, 1);
    ledger_cert *c2;
    assert_int_equal(ledger_cert_clone(&c2, c), LEDGER_OK);
    assert_int_equal(ledger_cert_add(c2, 1, sig), LEDGER_E_INVALID);
    assert_int_equal(ledger_cert_add(c2, 9, sig), LEDGER_OK);
    assert_int_equal(ledger_cert_verify(c2, m, 9, ledger_block_header_hash(b)),
                     LEDGER_E_CERTIFICATE);
    /* Encoding round trip and canonical order check. */
    uint8_t *enc;
    size_t len;
    assert_int_equal(ledger_cert_encode(c, &enc, &len), LEDGER_OK);
    assert_int_equal(len, 15 + 4 * 66);
    ledger_cert *back;
    assert_int_equal(ledger_cert_decode(&back, enc, len), LEDGER_OK);
    assert_int_equal(ledger_cert_verify(back, m, 9, ledger_block_header_hash(b)), LEDGER_OK);
    ledger_cert_free(back);
    enc[15 + 66 + 1] = 0; /* second entry's replica becomes 0: not ascending */
    assert_int_equal(ledger_cert_decode(&back, enc, len), LEDGER_E_DECODE);
    ledger_free(enc);
    ledger_cert_free(c2);
    /* Statement layout. */
    uint8_t st[96], chain[32];
    memset(chain, 0xC4, 32);
    assert_int_equal(ledger_commit_statement(st, chain, 0x0102, 0x0304, other), LEDGER_OK);
    assert_memory_equal(st, "FSLEDGER/COMMIT1", 16);
    assert_int_equal(st[55], 0x02);
    assert_int_equal(st[63], 0x04);
    assert_memory_equal(st + 64, other, 32);
    ledger_block_free(b);
    ledger_membership_free(m);
    for (int i = 0; i < 4; i++)
        ledger_signer_free(sg[i]);
}

/* RFC 6962 definition, recursive, as the reference. */
static void ref_mth(const uint8_t *hs, size_t n, uint8_t out[32]) {
    uint8_t buf[65];
    if (n == 0) {
        ledger_sha256(out, NULL, 0);
        return;
    }
    if (n == 1) {
        buf[0] = 0;
        memcpy(buf + 1, hs, 32);
        ledger_sha256(out, buf, 33);
        return;
    }
    size_t k = 1;
    while (k * 2 < n)
        k *= 2;
    buf[0] = 1;
    ref_mth(hs, k, buf + 1);
    ref_mth(hs + 32 * k, n - k, buf + 33);
    ledger_sha256(out, buf, 65);
}

static void test_merkle(void **state) {
    (void)state;
    uint8_t hs[32 * 40], a[32], b[32];
    for (size_t i = 0; i < sizeof hs; i++)
        hs[i] = (uint8_t)(i * 31 + 7);
    for (size_t n = 0; n <= 40; n++) {
        assert_int_equal(ledger_merkle_root(n ? hs : NULL, n, a), LEDGER_OK);
        ref_mth(hs, n, b);
        assert_memory_equal(a, b, 32);
    }
    /* Known answer: the empty tree is SHA-256 of nothing. */
    static const uint8_t empty[32] = {0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14,
                                      0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
                                      0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c,
                                      0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55};
    ledger_merkle_root(NULL, 0, a);
    assert_memory_equal(a, empty, 32);
}

static void test_proof(void **state) {
    (void)state;
    ledger_signer *sg[4];
    ledger_membership *m = t_membership(4, sg);
    for (size_t ntx = 1; ntx <= 9; ntx++) {
        ledger_block *b = make_block(ntx, 3);
        t_certify(b, m, sg, 3, 1);
        for (size_t i = 0; i < ntx; i++) {
            ledger_proof *p;
            assert_int_equal(ledger_proof_from_block(&p, b, i), LEDGER_OK);
            const uint8_t *th = ledger_tx_hash(ledger_block_tx(b, i));
            assert_int_equal(ledger_proof_verify(p, m, th), LEDGER_OK);
            assert_int_equal(ledger_proof_height(p), 3);
            assert_int_equal(ledger_proof_index(p), i);
            /* Another tx's hash does not verify at this position. */
            const uint8_t *other = ledger_tx_hash(ledger_block_tx(b, (i + 1) % ntx));
            if (ntx > 1)
                assert_int_equal(ledger_proof_verify(p, m, other), LEDGER_E_HASH);
            uint8_t *enc;
            size_t len;
            assert_int_equal(ledger_proof_encode(p, &enc, &len), LEDGER_OK);
            ledger_proof *q;
            assert_int_equal(ledger_proof_decode(&q, enc, len), LEDGER_OK);
            assert_int_equal(ledger_proof_verify(q, m, th), LEDGER_OK);
            assert_memory_equal(ledger_proof_header_hash(q), ledger_block_header_hash(b), 32);
            ledger_proof_free(q);
            /* Flip a bit anywhere: it no longer decodes or no longer verifies. */
            for (size_t k = 0; k < len; k += 5) {
                enc[k] ^= 0x04;
                if (ledger_proof_decode(&q, enc, len) == LEDGER_OK) {
                    assert_int_not_equal(ledger_proof_verify(q, m, th), LEDGER_OK);
                    ledger_proof_free(q);
                }
                enc[k] ^= 0x04;
            }
            assert_int_equal(ledger_proof_decode(&q, enc, len - 1), LEDGER_E_DECODE);
            ledger_free(enc);
            ledger_proof_free(p);
        }
        ledger_block_free(b);
    }
    ledger_membership_free(m);
    for (int i = 0; i < 4; i++)
        ledger_signer_free(sg[i]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tx_roundtrip),    cmocka_unit_test(test_tx_errors),
        cmocka_unit_test(test_strerror),        cmocka_unit_test(test_membership),
        cmocka_unit_test(test_block_roundtrip), cmocka_unit_test(test_cert),
        cmocka_unit_test(test_merkle),          cmocka_unit_test(test_proof),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
