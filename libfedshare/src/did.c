/* did:key identifiers over Ed25519 keys and the DID documents they resolve to.
 *
 * Source of the encoding: the did:key Method specification of the W3C
 * Credentials Community Group (https://w3c-ccg.github.io/did-method-key/, v0.7),
 * the multicodec table (ed25519-pub 0xed, x25519-pub 0xec, unsigned varint)
 * and multibase (base58btc, prefix 'z'). docs/formats/fedshare-did.md gives
 * every byte. */
#include <string.h>

#include <sodium.h>

#include "fedshare/did.h"

/* Limits of the base58 functions: they bound the work (quadratic) and the
 * stack buffers. 256 characters decode to at most 256 bytes (all '1');
 * 256 bytes encode to at most 350 characters. */
#define B58_MAX_CHARS  256
#define B58_MAX_BYTES  256
#define B58_DIGITS_CAP (B58_MAX_BYTES * 138 / 100 + 1) /* log(256)/log(58) < 1.38 */
/* Each leading '1' is one zero byte, so a string of '1's decodes to as many
 * bytes as it has characters; other digits give fewer (log(58)/log(256) < 0.733). */
#define B58_BYTES_CAP    B58_MAX_CHARS

#define DID_PREFIX       "did:key:"
#define DID_PREFIX_LEN   8
#define ED25519_PK_BYTES 32
#define MULTICODEC_LEN   2
#define MULTIKEY_BYTES   (MULTICODEC_LEN + ED25519_PK_BYTES)
#define MULTIBASE_LEN    (FEDSHARE_DID_KEY_LEN - DID_PREFIX_LEN) /* 'z' + 47 digits */

static const char B58_ALPHABET[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/* Digit value of an ASCII character, or -1 outside the alphabet. */
static int b58_digit(unsigned char c) {
    if (c >= '1' && c <= '9')
        return c - '1';
    if (c >= 'A' && c <= 'H')
        return c - 'A' + 9;
    if (c >= 'J' && c <= 'N')
        return c - 'J' + 17;
    if (c >= 'P' && c <= 'Z')
        return c - 'P' + 22;
    if (c >= 'a' && c <= 'k')
        return c - 'a' + 33;
    if (c >= 'm' && c <= 'z')
        return c - 'm' + 44;
    return -1;
}

/* Base58 digits of in[0..len) into digits[] (most significant first, values
 * 0..57), leading zero bytes becoming leading zero digits. Returns the count.
 * len <= B58_MAX_BYTES. */
static size_t b58_encode_digits(const uint8_t *in, size_t len, uint8_t digits[B58_DIGITS_CAP]) {
    size_t zeros = 0;
    while (zeros < len && in[zeros] == 0)
        zeros++;
    /* Little-endian base-58 big number, grown one input byte at a time. */
    uint8_t le[B58_DIGITS_CAP];
    size_t n = 0;
    for (size_t i = zeros; i < len; i++) {
        unsigned carry = in[i];
        for (size_t j = 0; j < n; j++) {
            carry += (unsigned)le[j] << 8;
            le[j] = (uint8_t)(carry % 58);
            carry /= 58;
        }
        while (carry) {
            le[n++] = (uint8_t)(carry % 58);
            carry /= 58;
        }
    }
    size_t k = 0;
    for (size_t i = 0; i < zeros; i++)
        digits[k++] = 0;
    while (n)
        digits[k++] = le[--n];
    return k;
}

int fedshare_base58_encode(const uint8_t *in, size_t len, char *out, size_t cap, size_t *written) {
    if (!written || (!in && len) || (!out && cap) || len > B58_MAX_BYTES)
        return FEDSHARE_E_INVALID;
    uint8_t digits[B58_DIGITS_CAP];
    size_t n = b58_encode_digits(in, len, digits);
    *written = n;
    if (!out)
        return FEDSHARE_OK;
    if (cap < n)
        return FEDSHARE_E_BUFFER_TOO_SMALL;
    for (size_t i = 0; i < n; i++)
        out[i] = B58_ALPHABET[digits[i]];
    if (cap > n)
        out[n] = '\0';
    return FEDSHARE_OK;
}

/* Bytes of a base58 string into bytes[] (big-endian); returns the count or -1
 * on a character outside the alphabet. len <= B58_MAX_CHARS. */
static int b58_decode_bytes(const char *in, size_t len, uint8_t bytes[B58_BYTES_CAP]) {
    size_t ones = 0;
    while (ones < len && in[ones] == '1')
        ones++;
    uint8_t le[B58_BYTES_CAP]; /* little-endian base-256 big number */
    size_t n = 0;
    for (size_t i = ones; i < len; i++) {
        int d = b58_digit((unsigned char)in[i]);
        if (d < 0)
            return -1;
        unsigned carry = (unsigned)d;
        for (size_t j = 0; j < n; j++) {
            carry += (unsigned)le[j] * 58;
            le[j] = (uint8_t)(carry & 0xff);
            carry >>= 8;
        }
        while (carry) {
            le[n++] = (uint8_t)(carry & 0xff);
            carry >>= 8;
        }
    }
    size_t k = 0;
    for (size_t i = 0; i < ones; i++)
        bytes[k++] = 0;
    while (n)
        bytes[k++] = le[--n];
    return (int)k;
}

int fedshare_base58_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *written) {
    if (!written || (!in && len) || (!out && cap))
        return FEDSHARE_E_INVALID;
    if (len > B58_MAX_CHARS)
        return FEDSHARE_E_FORMAT;
    uint8_t bytes[B58_BYTES_CAP];
    int n = b58_decode_bytes(in, len, bytes);
    if (n < 0)
        return FEDSHARE_E_FORMAT;
    *written = (size_t)n;
    if (!out)
        return FEDSHARE_OK;
    if (cap < (size_t)n)
        return FEDSHARE_E_BUFFER_TOO_SMALL;
    if (n)
        memcpy(out, bytes, (size_t)n);
    return FEDSHARE_OK;
}

/* 'z' ‖ base58btc(codec ‖ 0x01 ‖ key): the multibase form of a 32-byte key
 * whose multicodec code is 0xed (ed25519-pub) or 0xec (x25519-pub); both codes
 * are > 0x7f, so their unsigned varint takes two bytes, code|0x80 then 0x01.
 * Always MULTIBASE_LEN characters for these two codes. */
static void multibase_key(uint8_t codec, const uint8_t key[ED25519_PK_BYTES],
                          char out[MULTIBASE_LEN + 1]) {
    uint8_t mk[MULTIKEY_BYTES];
    mk[0] = codec;
    mk[1] = 0x01;
    memcpy(mk + MULTICODEC_LEN, key, ED25519_PK_BYTES);
    uint8_t digits[B58_DIGITS_CAP];
    size_t n = b58_encode_digits(mk, sizeof mk, digits);
    out[0] = 'z';
    for (size_t i = 0; i < n && i < MULTIBASE_LEN - 1; i++)
        out[1 + i] = B58_ALPHABET[digits[i]];
    out[MULTIBASE_LEN] = '\0';
}

/* libsodium's point check: canonical encoding, on the curve, in the prime-order
 * subgroup, not of small order. */
static int valid_ed25519_point(const uint8_t pk[ED25519_PK_BYTES]) {
    if (sodium_init() < 0)
        return FEDSHARE_E_CRYPTO;
    return crypto_core_ed25519_is_valid_point(pk) ? FEDSHARE_OK : FEDSHARE_E_DID;
}

int fedshare_did_from_pubkey(const uint8_t pubkey[32], char *out, size_t cap) {
    if (!pubkey || !out)
        return FEDSHARE_E_INVALID;
    if (cap < FEDSHARE_DID_BUF)
        return FEDSHARE_E_BUFFER_TOO_SMALL;
    int rc = valid_ed25519_point(pubkey);
    if (rc != FEDSHARE_OK)
        return rc;
    memcpy(out, DID_PREFIX, DID_PREFIX_LEN);
    multibase_key(0xed, pubkey, out + DID_PREFIX_LEN);
    return FEDSHARE_OK;
}

int fedshare_did_to_pubkey(const char *did, size_t len, uint8_t pubkey[32]) {
    if (!did || !pubkey)
        return FEDSHARE_E_INVALID;
    /* Every did:key of an Ed25519 key has the same length; anything longer
     * (a DID URL with path, query or fragment) or shorter is refused here. */
    if (len != FEDSHARE_DID_KEY_LEN || memcmp(did, DID_PREFIX, DID_PREFIX_LEN) != 0 ||
        did[DID_PREFIX_LEN] != 'z')
        return FEDSHARE_E_DID;
    uint8_t bytes[B58_BYTES_CAP];
    int n = b58_decode_bytes(did + DID_PREFIX_LEN + 1, MULTIBASE_LEN - 1, bytes);
    if (n != MULTIKEY_BYTES || bytes[0] != 0xed || bytes[1] != 0x01)
        return FEDSHARE_E_DID;
    int rc = valid_ed25519_point(bytes + MULTICODEC_LEN);
    if (rc != FEDSHARE_OK)
        return rc;
    memcpy(pubkey, bytes + MULTICODEC_LEN, ED25519_PK_BYTES);
    return FEDSHARE_OK;
}

/* Appends to a buffer that may be too small (or absent): counts always. */
typedef struct sbuf {
    char *p;
    size_t cap;
    size_t len;
} sbuf;

static void put(sbuf *b, const char *s) {
    size_t n = strlen(s);
    if (b->p && b->len + n <= b->cap)
        memcpy(b->p + b->len, s, n);
    b->len += n;
}

/* {"id":"<did>#<mb>","type":"<type>","controller":"<did>","publicKeyMultibase":"<mb>"} */
static void put_method(sbuf *b, const char *did, const char *mb, const char *type) {
    put(b, "{\"id\":\"");
    put(b, did);
    put(b, "#");
    put(b, mb);
    put(b, "\",\"type\":\"");
    put(b, type);
    put(b, "\",\"controller\":\"");
    put(b, did);
    put(b, "\",\"publicKeyMultibase\":\"");
    put(b, mb);
    put(b, "\"}");
}

/* "<name>":["<did>#<mb>"] */
static void put_reference(sbuf *b, const char *name, const char *did, const char *mb) {
    put(b, ",\"");
    put(b, name);
    put(b, "\":[\"");
    put(b, did);
    put(b, "#");
    put(b, mb);
    put(b, "\"]");
}

int fedshare_did_document(const char *did, size_t len, char *out, size_t cap, size_t *written) {
    if (!did || !written || (!out && cap))
        return FEDSHARE_E_INVALID;
    uint8_t pk[ED25519_PK_BYTES];
    int rc = fedshare_did_to_pubkey(did, len, pk);
    if (rc != FEDSHARE_OK)
        return rc;
    uint8_t xpk[crypto_scalarmult_curve25519_BYTES];
    if (crypto_sign_ed25519_pk_to_curve25519(xpk, pk) != 0)
        return FEDSHARE_E_DID; /* unreachable for a valid point; kept as a guard */

    /* The identifier as we encode it: equal to the input, which was canonical. */
    char id[FEDSHARE_DID_BUF];
    memcpy(id, DID_PREFIX, DID_PREFIX_LEN);
    multibase_key(0xed, pk, id + DID_PREFIX_LEN);
    const char *mb = id + DID_PREFIX_LEN;
    char xmb[MULTIBASE_LEN + 1];
    multibase_key(0xec, xpk, xmb);

    /* Count first, then write only when the whole document fits: a failed
     * call leaves out untouched. */
    sbuf b = {NULL, 0, 0};
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            if (!out)
                break;
            if (cap < b.len)
                return FEDSHARE_E_BUFFER_TOO_SMALL;
            b.p = out;
            b.cap = cap;
            b.len = 0;
        }
        put(&b, "{\"@context\":[\"https://www.w3.org/ns/did/v1\","
                "\"https://w3id.org/security/suites/ed25519-2020/v1\","
                "\"https://w3id.org/security/suites/x25519-2020/v1\"],\"id\":\"");
        put(&b, id);
        put(&b, "\",\"verificationMethod\":[");
        put_method(&b, id, mb, "Ed25519VerificationKey2020");
        put(&b, "]");
        put_reference(&b, "authentication", id, mb);
        put_reference(&b, "assertionMethod", id, mb);
        put_reference(&b, "capabilityDelegation", id, mb);
        put_reference(&b, "capabilityInvocation", id, mb);
        put(&b, ",\"keyAgreement\":[");
        put_method(&b, id, xmb, "X25519KeyAgreementKey2020");
        put(&b, "]}");
        *written = b.len;
    }
    if (out && cap > b.len)
        out[b.len] = '\0';
    return FEDSHARE_OK;
}
