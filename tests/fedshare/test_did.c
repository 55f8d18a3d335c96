/* did:key over Ed25519: the did:key Method specification's published examples
 * (W3C CCG, test-vectors/ed25519-x25519.json and the example document),
 * base58btc known answers and round trips, every malformed input, buffer sizes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "fedshare.h"

/* The spec's Ed25519 test vectors: key pair from a 32-byte seed, its DID, the
 * public key in base58, and the X25519 key-agreement key (id, public and private). */
typedef struct vector {
    uint8_t seed_last; /* seed = 31 zero bytes ‖ seed_last */
    const char *did;
    const char *pub_b58;
    const char *x_id;
    const char *x_pub_b58;
    const char *x_priv_b58;
} vector;

static const vector VECTORS[] = {
    {0, "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp",
     "4zvwRjXUKGfvwnParsHAS3HuSVzV5cA4McphgmoCtajS",
     "z6LShs9GGnqk85isEBzzshkuVWrVKsRp24GnDuHk8QWkARMW",
     "7By6kV2t2d188odEM4ExAve1UithKT6dLva4dwsDT3ak",
     "6QN8DfuN9hjgHgPvLXqgzqYE3jRRGRrmJQZkd5tL8paR"},
    {1, "did:key:z6MkjchhfUsD6mmvni8mCdXHw216Xrm9bQe2mBH1P5RDjVJG",
     "6ASf5EcmmEHTgDJ4X4ZT5vT6iHVJBXPg5AN5YoTCpGWt",
     "z6LSrHyXiPBhUbvPUtyUCdf32sniiMGPTAesgHrtEa4FePtr",
     "FcoNC5NqP9CePWbhfz95iHaEsCjGkZUioK9Ck7Qiw286",
     "HBTcN2MrXNRj9xF9oi8QqYyuEPv3JLLjQKuEgW9oxVKP"},
    {2, "did:key:z6MknGc3ocHs3zdPiJbnaaqDi58NGb4pk1Sp9WxWufuXSdxf",
     "8pM1DN3RiT8vbom5u1sNryaNT1nyL8CTTW3b5PwWXRBH",
     "z6LSkkqoZRC34AEpbkhZCqLDcHQVAxuLpQ7kC8XCXMVUfvjE",
     "A5fe37PAxhX5WNKngBpGHhC1KpNE7nwbK9oX2tqwxYxU",
     "ACa4PPJ1LnPNq1iwS33V3Akh7WtnC71WkKFZ9ccM6sX2"},
    {3, "did:key:z6MkvqoYXQfDDJRv8L4wKzxYeuKyVZBfi9Qo6Ro8MiLH3kDQ",
     "HPYVwAQmskwT1qEEeRzhoomyfyupJGASQQtCXSNG8XS2",
     "z6LSiUo6AEDat8Ze4nQzDo67SGuHLLwsUGkxndHGUjsywHow",
     "7ocvdvQinfqtyQ3Dh9aA7ggoVCQkmfaoueZazHETDv3B",
     "FZrzd1osCnbK6y6MJzMBW1RcVfL524sNKhSbqRwMuwHT"},
    {4, "did:key:z6MkwW6aqMnjgrhJXFUko3NnZPGzVpkNzhYK7yEhnsibmLwL",
     "J3qYF7YJMKCqQke47UQwiHizgFUXapHxRxKmxbkar89x",
     "z6LSrGb3qm4xMCEBjvwkLb2WEcXfTM94Tu1RyGCbT5wbg8i9",
     "FbQtKTG6FjWSeYZyowWYv2KBcCbwmHqH6HUuxdJ4xkwP",
     "8Zybi2bqQ8YB4uPm3iy2rkDCmbB4wkG2Y2ig5YAkgNdg"},
};
#define N_VECTORS (sizeof VECTORS / sizeof VECTORS[0])

/* Other published DIDs with the key-agreement id given beside them: the spec's
 * example document, and the expected document of the reference implementation
 * (digitalbazaar/did-method-key test/expected-did-doc.json). */
static const char *const EXAMPLES[][2] = {
    {"did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
     "z6LSj72tK8brWgZja8NLRwPigth2T9QRiG1uH9oKZuKjdh9p"},
    {"did:key:z6Mkpw72M9suPCBv48X2Xj4YKZJH9W7wzEK1aS6JioKSo89C",
     "z6LSgxJr5q1pwHPbiK7u8Pw1GvnfMTZSMxkhaorQ1aJYWFz3"},
};

/* The spec's example document for z6MkhaXg…, written canonically (members in the
 * example's order, no insignificant white space). */
static const char EXAMPLE_DOC[] =
    "{\"@context\":[\"https://www.w3.org/ns/did/v1\","
    "\"https://w3id.org/security/suites/ed25519-2020/v1\","
    "\"https://w3id.org/security/suites/x25519-2020/v1\"],"
    "\"id\":\"did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK\","
    "\"verificationMethod\":[{"
    "\"id\":\"did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK#"
    "z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK\","
    "\"type\":\"Ed25519VerificationKey2020\","
    "\"controller\":\"did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK\","
    "\"publicKeyMultibase\":\"z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK\"}],"
    "\"authentication\":[\"did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK#"
    "z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK\"],"
    "\"assertionMethod\":[\"did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK#"
    "z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK\"],"
    "\"capabilityDelegation\":[\"did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK#"
    "z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK\"],"
    "\"capabilityInvocation\":[\"did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK#"
    "z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK\"],"
    "\"keyAgreement\":[{"
    "\"id\":\"did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK#"
    "z6LSj72tK8brWgZja8NLRwPigth2T9QRiG1uH9oKZuKjdh9p\","
    "\"type\":\"X25519KeyAgreementKey2020\","
    "\"controller\":\"did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK\","
    "\"publicKeyMultibase\":\"z6LSj72tK8brWgZja8NLRwPigth2T9QRiG1uH9oKZuKjdh9p\"}]}";

static void b58_decode_exact(const char *s, uint8_t *out, size_t want) {
    size_t n = 0;
    assert_int_equal(fedshare_base58_decode(s, strlen(s), out, want, &n), FEDSHARE_OK);
    assert_int_equal(n, want);
}

/* Document text of a DID (NUL-terminated), asserting success. */
static size_t document(const char *did, char *out, size_t cap) {
    size_t n = 0;
    assert_int_equal(fedshare_did_document(did, strlen(did), out, cap, &n), FEDSHARE_OK);
    assert_true(n < cap);
    return n;
}

/* The key-agreement id the document lists: the text after the DID's '#' in
 * "keyAgreement":[{"id":"<did>#<id>". */
static void key_agreement_id(const char *doc, const char *did, char out[64]) {
    char needle[160];
    snprintf(needle, sizeof needle, "\"keyAgreement\":[{\"id\":\"%s#", did);
    const char *p = strstr(doc, needle);
    assert_non_null(p);
    p += strlen(needle);
    const char *q = strchr(p, '"');
    assert_non_null(q);
    assert_true((size_t)(q - p) < 64);
    memcpy(out, p, (size_t)(q - p));
    out[q - p] = '\0';
}

static void test_spec_vectors(void **state) {
    (void)state;
    for (size_t i = 0; i < N_VECTORS; i++) {
        const vector *v = &VECTORS[i];
        /* The seed gives the key pair; its public key is the one the spec lists. */
        uint8_t seed[32] = {0}, pk[32], sk[64], listed[32];
        seed[31] = v->seed_last;
        assert_int_equal(crypto_sign_seed_keypair(pk, sk, seed), 0);
        b58_decode_exact(v->pub_b58, listed, 32);
        assert_memory_equal(pk, listed, 32);

        /* Encode: key -> the spec's DID. */
        char did[FEDSHARE_DID_BUF];
        assert_int_equal(fedshare_did_from_pubkey(pk, did, sizeof did), FEDSHARE_OK);
        assert_string_equal(did, v->did);
        assert_int_equal(strlen(did), FEDSHARE_DID_KEY_LEN);

        /* Decode: the spec's DID -> the key. */
        uint8_t back[32];
        assert_int_equal(fedshare_did_to_pubkey(v->did, strlen(v->did), back), FEDSHARE_OK);
        assert_memory_equal(back, pk, 32);

        /* The document lists the spec's key-agreement id and key. */
        char doc[2048], xid[64];
        document(v->did, doc, sizeof doc);
        key_agreement_id(doc, v->did, xid);
        assert_string_equal(xid, v->x_id);
        char field[128];
        snprintf(field, sizeof field, "\"publicKeyMultibase\":\"%s\"}]}", v->x_id);
        assert_non_null(strstr(doc, field));

        /* The X25519 key is the Ed25519 key mapped to Curve25519, as the
         * spec's key-agreement key pair shows (private and public halves). */
        uint8_t xpub[32], xpriv[32], xpub_listed[32], xpriv_listed[32], xmb[40];
        assert_int_equal(crypto_sign_ed25519_pk_to_curve25519(xpub, pk), 0);
        assert_int_equal(crypto_sign_ed25519_sk_to_curve25519(xpriv, sk), 0);
        b58_decode_exact(v->x_pub_b58, xpub_listed, 32);
        b58_decode_exact(v->x_priv_b58, xpriv_listed, 32);
        assert_memory_equal(xpub, xpub_listed, 32);
        assert_memory_equal(xpriv, xpriv_listed, 32);
        uint8_t derived[32];
        assert_int_equal(crypto_scalarmult_curve25519_base(derived, xpriv), 0);
        assert_memory_equal(derived, xpub, 32);
        /* And the id is multibase(multicodec x25519-pub 0xec01 ‖ that key). */
        b58_decode_exact(v->x_id + 1, xmb, 34);
        assert_int_equal(xmb[0], 0xec);
        assert_int_equal(xmb[1], 0x01);
        assert_memory_equal(xmb + 2, xpub, 32);
    }
}

static void test_spec_examples(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof EXAMPLES / sizeof EXAMPLES[0]; i++) {
        const char *d = EXAMPLES[i][0];
        uint8_t pk[32];
        assert_int_equal(fedshare_did_to_pubkey(d, strlen(d), pk), FEDSHARE_OK);
        char did[FEDSHARE_DID_BUF];
        assert_int_equal(fedshare_did_from_pubkey(pk, did, sizeof did), FEDSHARE_OK);
        assert_string_equal(did, d);
        char doc[2048], xid[64];
        document(d, doc, sizeof doc);
        key_agreement_id(doc, d, xid);
        assert_string_equal(xid, EXAMPLES[i][1]);
    }
    /* The older example DID of the spec and the base58 key it lists. */
    const char *old = "did:key:z6MkpTHR8VNsBxYAAWHut2Geadd9jSwuBV8xRoAnwWsdvktH";
    uint8_t pk[32], listed[32];
    assert_int_equal(fedshare_did_to_pubkey(old, strlen(old), pk), FEDSHARE_OK);
    b58_decode_exact("B12NYF8RrR3h41TDCTJojY59usg3mbtbjnFs7Eud1Y6u", listed, 32);
    assert_memory_equal(pk, listed, 32);
}

static void test_example_document_exact(void **state) {
    (void)state;
    const char *d = EXAMPLES[0][0];
    char doc[2048];
    size_t n = document(d, doc, sizeof doc);
    assert_int_equal(n, strlen(EXAMPLE_DOC));
    assert_string_equal(doc, EXAMPLE_DOC);
}

static void test_base58_known_answers(void **state) {
    (void)state;
    /* Known answers of the base58 draft (draft-msporny-base58) and Bitcoin's. */
    static const struct {
        const char *hex;
        const char *b58;
    } kat[] = {
        {"", ""},
        {"00", "1"},
        {"0000", "11"},
        {"61", "2g"},
        {"626262", "a3gV"},
        {"636363", "aPEr"},
        {"48656c6c6f20576f726c6421", "2NEpo7TZRRrLZSi2U"},
        {"0000287fb4cd", "11233QC4"},
        {"00eb15231dfceb60925886b67d065299925915aeb172c06647",
         "1NS17iag9jJgTHD1VXjvLCEnZuQ3rJDE9L"},
        {"516b6fcd0f", "ABnLTmg"},
        {"572e4794", "3EFU7m"},
        {"ecac89cad93923c02321", "EJDM8drfXA6uyA"},
        {"10c8511e", "Rt5zm"},
    };
    for (size_t i = 0; i < sizeof kat / sizeof kat[0]; i++) {
        uint8_t bin[64];
        size_t blen = 0;
        assert_int_equal(
            sodium_hex2bin(bin, sizeof bin, kat[i].hex, strlen(kat[i].hex), NULL, &blen, NULL), 0);
        char txt[128];
        size_t n = 0;
        assert_int_equal(fedshare_base58_encode(bin, blen, txt, sizeof txt, &n), FEDSHARE_OK);
        assert_int_equal(n, strlen(kat[i].b58));
        assert_string_equal(txt, kat[i].b58);
        uint8_t back[64];
        assert_int_equal(fedshare_base58_decode(kat[i].b58, n, back, sizeof back, &n), FEDSHARE_OK);
        assert_int_equal(n, blen);
        assert_memory_equal(back, bin, blen);
    }
}

static void test_base58_round_trips(void **state) {
    (void)state;
    /* Deterministic pseudo-random bytes, with 0..5 leading zero bytes, every
     * length up to the limit. */
    static const uint8_t seed[randombytes_SEEDBYTES] = {42};
    uint8_t pool[256 * 8];
    randombytes_buf_deterministic(pool, sizeof pool, seed);
    for (size_t len = 0; len <= 256; len++) {
        for (size_t zeros = 0; zeros <= 5 && zeros <= len; zeros++) {
            uint8_t in[256];
            memcpy(in, pool + (len * 7) % (sizeof pool - 256), len);
            memset(in, 0, zeros);
            if (zeros < len && in[zeros] == 0)
                in[zeros] = 1; /* exactly `zeros` leading zero bytes */
            char txt[400];
            size_t n = 0;
            assert_int_equal(fedshare_base58_encode(in, len, txt, sizeof txt, &n), FEDSHARE_OK);
            assert_true(n <= 350);
            /* leading '1's <-> leading zero bytes, and no other '1' in front */
            for (size_t k = 0; k < zeros; k++)
                assert_int_equal(txt[k], '1');
            if (zeros < len)
                assert_int_not_equal(txt[zeros], '1');
            if (n > 256)
                continue; /* beyond the decoder's bound, tested below */
            uint8_t back[256];
            size_t m = 0;
            assert_int_equal(fedshare_base58_decode(txt, n, back, sizeof back, &m), FEDSHARE_OK);
            assert_int_equal(m, len);
            assert_memory_equal(back, in, len);
        }
    }
    /* A string of 256 '1's is 256 zero bytes; 257 characters are refused. */
    char ones[258];
    memset(ones, '1', sizeof ones);
    uint8_t zeros[257];
    size_t m = 0;
    assert_int_equal(fedshare_base58_decode(ones, 256, zeros, sizeof zeros, &m), FEDSHARE_OK);
    assert_int_equal(m, 256);
    for (size_t i = 0; i < 256; i++)
        assert_int_equal(zeros[i], 0);
    assert_int_equal(fedshare_base58_decode(ones, 257, zeros, sizeof zeros, &m), FEDSHARE_E_FORMAT);
    /* Every string decodes to bytes that re-encode to it (canonical). */
    const char *s = "1112zZ9xXkKmM";
    uint8_t b[32];
    assert_int_equal(fedshare_base58_decode(s, strlen(s), b, sizeof b, &m), FEDSHARE_OK);
    char again[32];
    size_t n = 0;
    assert_int_equal(fedshare_base58_encode(b, m, again, sizeof again, &n), FEDSHARE_OK);
    assert_string_equal(again, s);
}

static void test_base58_malformed(void **state) {
    (void)state;
    /* The four characters Bitcoin's alphabet leaves out, and others. */
    static const char *const bad[] = {"0",   "O",   "I",    "l", "abc0",     "+",  "/",
                                      " 2g", "2g ", "2g\n", "#", "\xc3\xa9", "z-", "2g="};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t out[16] = {0x55};
        size_t n = 777;
        assert_int_equal(fedshare_base58_decode(bad[i], strlen(bad[i]), out, sizeof out, &n),
                         FEDSHARE_E_FORMAT);
        assert_int_equal(out[0], 0x55); /* untouched */
        assert_int_equal(n, 777);
    }
    char nul[3] = {'2', '\0', 'g'};
    uint8_t out[8];
    size_t n = 0;
    assert_int_equal(fedshare_base58_decode(nul, 3, out, sizeof out, &n), FEDSHARE_E_FORMAT);
    assert_int_equal(fedshare_base58_decode(NULL, 1, out, sizeof out, &n), FEDSHARE_E_INVALID);
    assert_int_equal(fedshare_base58_decode("2g", 2, out, sizeof out, NULL), FEDSHARE_E_INVALID);
    assert_int_equal(fedshare_base58_decode("2g", 2, NULL, 4, &n), FEDSHARE_E_INVALID);
    assert_int_equal(fedshare_base58_decode(NULL, 0, out, sizeof out, &n), FEDSHARE_OK);
    assert_int_equal(n, 0);
    uint8_t big[257] = {0};
    char txt[8];
    assert_int_equal(fedshare_base58_encode(big, 257, NULL, 0, &n), FEDSHARE_E_INVALID);
    assert_int_equal(fedshare_base58_encode(NULL, 1, txt, sizeof txt, &n), FEDSHARE_E_INVALID);
    assert_int_equal(fedshare_base58_encode(big, 1, txt, sizeof txt, NULL), FEDSHARE_E_INVALID);
    assert_int_equal(fedshare_base58_encode(big, 1, NULL, 3, &n), FEDSHARE_E_INVALID);
}

static void test_base58_buffer_sizes(void **state) {
    (void)state;
    const uint8_t in[] = {0x00, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    size_t need = 0;
    assert_int_equal(fedshare_base58_encode(in, sizeof in, NULL, 0, &need), FEDSHARE_OK);
    char full[32];
    size_t n = 0;
    assert_int_equal(fedshare_base58_encode(in, sizeof in, full, sizeof full, &n), FEDSHARE_OK);
    assert_int_equal(n, need);
    assert_int_equal(strlen(full), need);

    char small[32];
    memset(small, 'X', sizeof small);
    n = 0;
    assert_int_equal(fedshare_base58_encode(in, sizeof in, small, need - 1, &n),
                     FEDSHARE_E_BUFFER_TOO_SMALL);
    assert_int_equal(n, need);
    for (size_t i = 0; i < sizeof small; i++)
        assert_int_equal(small[i], 'X'); /* untouched */
    /* Exactly the size: no room for the NUL, none written. */
    assert_int_equal(fedshare_base58_encode(in, sizeof in, small, need, &n), FEDSHARE_OK);
    assert_memory_equal(small, full, need);
    assert_int_equal(small[need], 'X');

    uint8_t bytes[16];
    memset(bytes, 0xAA, sizeof bytes);
    size_t dneed = 0;
    assert_int_equal(fedshare_base58_decode(full, need, NULL, 0, &dneed), FEDSHARE_OK);
    assert_int_equal(dneed, sizeof in);
    assert_int_equal(fedshare_base58_decode(full, need, bytes, dneed - 1, &n),
                     FEDSHARE_E_BUFFER_TOO_SMALL);
    assert_int_equal(n, dneed);
    assert_int_equal(bytes[0], 0xAA);
    assert_int_equal(fedshare_base58_decode(full, need, bytes, dneed, &n), FEDSHARE_OK);
    assert_memory_equal(bytes, in, sizeof in);
}

/* "did:key:z" ‖ base58(bytes) as a string. */
static void did_of_bytes(const uint8_t *b, size_t len, char *out, size_t cap) {
    memcpy(out, "did:key:z", 9);
    size_t n = 0;
    assert_int_equal(fedshare_base58_encode(b, len, out + 9, cap - 9, &n), FEDSHARE_OK);
    assert_true(9 + n < cap);
    out[9 + n] = '\0';
}

static void expect_did_error(const char *s, size_t len) {
    uint8_t pk[32];
    memset(pk, 0x5A, sizeof pk);
    assert_int_equal(fedshare_did_to_pubkey(s, len, pk), FEDSHARE_E_DID);
    for (size_t i = 0; i < 32; i++)
        assert_int_equal(pk[i], 0x5A); /* untouched */
    char doc[16] = "untouched";
    size_t n = 12345;
    assert_int_equal(fedshare_did_document(s, len, doc, sizeof doc, &n), FEDSHARE_E_DID);
    assert_int_equal(n, 12345);
    assert_string_equal(doc, "untouched");
    assert_int_equal(fedshare_did_document(s, len, NULL, 0, &n), FEDSHARE_E_DID);
}

static void test_did_malformed(void **state) {
    (void)state;
    const char *good = VECTORS[0].did;
    char s[256];

    /* Wrong scheme or method, wrong case, wrong multibase prefix. */
    static const char *const prefixes[] = {
        "did:kex:", "DID:key:", "did:KEY:", "did:web:", "did:key ", "did-key:"};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        memcpy(s, good, FEDSHARE_DID_KEY_LEN);
        memcpy(s, prefixes[i], 8);
        expect_did_error(s, FEDSHARE_DID_KEY_LEN);
    }
    static const char multibases[] = {'Z', 'u', 'f', 'm', 'b', '1'};
    for (size_t i = 0; i < sizeof multibases; i++) {
        memcpy(s, good, FEDSHARE_DID_KEY_LEN);
        s[8] = multibases[i];
        expect_did_error(s, FEDSHARE_DID_KEY_LEN);
    }
    /* A character outside the alphabet at every position of the key. */
    static const char badc[] = {'0', 'O', 'I', 'l', '#', ' ', '\0', '/', '?', '+'};
    for (size_t pos = 9; pos < FEDSHARE_DID_KEY_LEN; pos++) {
        for (size_t i = 0; i < sizeof badc; i++) {
            memcpy(s, good, FEDSHARE_DID_KEY_LEN);
            s[pos] = badc[i];
            expect_did_error(s, FEDSHARE_DID_KEY_LEN);
        }
    }
    /* Truncated at every length, and one character more. */
    for (size_t len = 0; len < FEDSHARE_DID_KEY_LEN; len++)
        expect_did_error(good, len);
    snprintf(s, sizeof s, "%s1", good);
    expect_did_error(s, strlen(s));
    snprintf(s, sizeof s, "%sz", good);
    expect_did_error(s, strlen(s));
    /* DID URLs: fragment, query, path, the verification-method id itself. */
    snprintf(s, sizeof s, "%s#%s", good, good + 8);
    expect_did_error(s, strlen(s));
    snprintf(s, sizeof s, "%s#keys-1", good);
    expect_did_error(s, strlen(s));
    snprintf(s, sizeof s, "%s?versionId=1", good);
    expect_did_error(s, strlen(s));
    snprintf(s, sizeof s, "%s/path", good);
    expect_did_error(s, strlen(s));
    snprintf(s, sizeof s, "%s#", good);
    expect_did_error(s, strlen(s));

    /* Wrong multicodec: the key-agreement (x25519-pub) DID, and other codes,
     * non-minimal varints and wrong key lengths, all properly base58-encoded. */
    char xdid[80];
    snprintf(xdid, sizeof xdid, "did:key:%s", VECTORS[0].x_id);
    expect_did_error(xdid, strlen(xdid));
    uint8_t pk[32];
    assert_int_equal(fedshare_did_to_pubkey(good, FEDSHARE_DID_KEY_LEN, pk), FEDSHARE_OK);
    static const uint8_t codecs[][3] = {
        {0xec, 0x01}, {0xe7, 0x01}, {0xed, 0x00}, {0xed, 0x02}, {0x6d, 0x01}, {0x01, 0xed},
    };
    for (size_t i = 0; i < sizeof codecs / sizeof codecs[0]; i++) {
        uint8_t mk[34];
        memcpy(mk, codecs[i], 2);
        memcpy(mk + 2, pk, 32);
        did_of_bytes(mk, sizeof mk, s, sizeof s);
        expect_did_error(s, strlen(s));
    }
    uint8_t mk[40];
    mk[0] = 0xed;
    mk[1] = 0x81; /* 0xed as a three-byte (non-minimal) varint */
    mk[2] = 0x00;
    memcpy(mk + 3, pk, 32);
    did_of_bytes(mk, 35, s, sizeof s);
    expect_did_error(s, strlen(s));
    mk[1] = 0x01;
    memcpy(mk + 2, pk, 32);
    did_of_bytes(mk, 33, s, sizeof s); /* 31-byte key */
    expect_did_error(s, strlen(s));
    mk[34] = 0x00;
    did_of_bytes(mk, 35, s, sizeof s); /* 33-byte key */
    expect_did_error(s, strlen(s));
    uint8_t lead[35] = {0};
    memcpy(lead + 1, mk, 34);
    did_of_bytes(lead, 35, s, sizeof s); /* a leading zero byte: "z1…" */
    expect_did_error(s, strlen(s));
    did_of_bytes(mk, 0, s, sizeof s); /* "did:key:z" */
    expect_did_error(s, strlen(s));

    assert_int_equal(fedshare_did_to_pubkey(NULL, 56, pk), FEDSHARE_E_INVALID);
    assert_int_equal(fedshare_did_to_pubkey(good, 56, NULL), FEDSHARE_E_INVALID);
    size_t n;
    assert_int_equal(fedshare_did_document(NULL, 56, NULL, 0, &n), FEDSHARE_E_INVALID);
    assert_int_equal(fedshare_did_document(good, 56, NULL, 0, NULL), FEDSHARE_E_INVALID);
    assert_int_equal(fedshare_did_document(good, 56, NULL, 10, &n), FEDSHARE_E_INVALID);
}

static void test_not_a_point(void **state) {
    (void)state;
    /* 32-byte strings that are not valid Ed25519 public keys: the identity and
     * other small-order points, y = 2 (no x on the curve), y = p (non-canonical). */
    static const char *const hex[] = {
        "0100000000000000000000000000000000000000000000000000000000000000", /* identity */
        "0000000000000000000000000000000000000000000000000000000000000000", /* y=0, order 4 */
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", /* y=-1, order 2 */
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", /* order 8 */
        "0200000000000000000000000000000000000000000000000000000000000000", /* not on curve */
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", /* y = p */
    };
    for (size_t i = 0; i < sizeof hex / sizeof hex[0]; i++) {
        uint8_t pk[32];
        assert_int_equal(sodium_hex2bin(pk, 32, hex[i], 64, NULL, NULL, NULL), 0);
        char did[FEDSHARE_DID_BUF] = "untouched";
        assert_int_equal(fedshare_did_from_pubkey(pk, did, sizeof did), FEDSHARE_E_DID);
        assert_string_equal(did, "untouched");
        /* The same key wrapped by hand as a did:key is refused on decoding. */
        uint8_t mk[34] = {0xed, 0x01};
        memcpy(mk + 2, pk, 32);
        char s[80];
        did_of_bytes(mk, sizeof mk, s, sizeof s);
        assert_int_equal(strlen(s), FEDSHARE_DID_KEY_LEN);
        expect_did_error(s, strlen(s));
    }
}

static void test_did_buffer_sizes(void **state) {
    (void)state;
    uint8_t pk[32];
    const char *d = VECTORS[2].did;
    assert_int_equal(fedshare_did_to_pubkey(d, strlen(d), pk), FEDSHARE_OK);
    char did[FEDSHARE_DID_BUF + 4];
    memset(did, 'X', sizeof did);
    assert_int_equal(fedshare_did_from_pubkey(pk, did, FEDSHARE_DID_BUF - 1),
                     FEDSHARE_E_BUFFER_TOO_SMALL);
    assert_int_equal(did[0], 'X');
    assert_int_equal(fedshare_did_from_pubkey(NULL, did, sizeof did), FEDSHARE_E_INVALID);
    assert_int_equal(fedshare_did_from_pubkey(pk, NULL, sizeof did), FEDSHARE_E_INVALID);
    assert_int_equal(fedshare_did_from_pubkey(pk, did, FEDSHARE_DID_BUF), FEDSHARE_OK);
    assert_string_equal(did, d);
    assert_int_equal(did[FEDSHARE_DID_BUF], 'X');

    size_t need = 0;
    assert_int_equal(fedshare_did_document(d, strlen(d), NULL, 0, &need), FEDSHARE_OK);
    char full[2048];
    size_t n = document(d, full, sizeof full);
    assert_int_equal(n, need);
    assert_int_equal(strlen(full), need);

    char doc[2048];
    memset(doc, 'X', sizeof doc);
    n = 0;
    assert_int_equal(fedshare_did_document(d, strlen(d), doc, need - 1, &n),
                     FEDSHARE_E_BUFFER_TOO_SMALL);
    assert_int_equal(n, need);
    for (size_t i = 0; i < need; i++)
        assert_int_equal(doc[i], 'X'); /* untouched */
    assert_int_equal(fedshare_did_document(d, strlen(d), doc, need, &n), FEDSHARE_OK);
    assert_memory_equal(doc, full, need);
    assert_int_equal(doc[need], 'X'); /* no room for the NUL, none written */
    assert_int_equal(fedshare_did_document(d, strlen(d), doc, need + 1, &n), FEDSHARE_OK);
    assert_int_equal(doc[need], '\0');
}

static void test_random_keys(void **state) {
    (void)state;
    /* Keys from deterministic seeds: DID is 56 characters, starts "did:key:z6Mk",
     * decodes to the key; the document is the same size for every key. */
    size_t size0 = 0;
    for (unsigned i = 0; i < 200; i++) {
        uint8_t seed[32] = {0}, pk[32], sk[64];
        seed[0] = (uint8_t)i;
        seed[1] = 0xA5;
        seed[2] = (uint8_t)(i >> 8);
        crypto_sign_seed_keypair(pk, sk, seed);
        char did[FEDSHARE_DID_BUF];
        assert_int_equal(fedshare_did_from_pubkey(pk, did, sizeof did), FEDSHARE_OK);
        assert_int_equal(strlen(did), FEDSHARE_DID_KEY_LEN);
        assert_memory_equal(did, "did:key:z6Mk", 12);
        uint8_t back[32];
        assert_int_equal(fedshare_did_to_pubkey(did, strlen(did), back), FEDSHARE_OK);
        assert_memory_equal(back, pk, 32);
        size_t n = 0;
        assert_int_equal(fedshare_did_document(did, strlen(did), NULL, 0, &n), FEDSHARE_OK);
        if (i == 0)
            size0 = n;
        assert_int_equal(n, size0);
    }
}

int main(void) {
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_vectors),
        cmocka_unit_test(test_spec_examples),
        cmocka_unit_test(test_example_document_exact),
        cmocka_unit_test(test_base58_known_answers),
        cmocka_unit_test(test_base58_round_trips),
        cmocka_unit_test(test_base58_malformed),
        cmocka_unit_test(test_base58_buffer_sizes),
        cmocka_unit_test(test_did_malformed),
        cmocka_unit_test(test_not_a_point),
        cmocka_unit_test(test_did_buffer_sizes),
        cmocka_unit_test(test_random_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
