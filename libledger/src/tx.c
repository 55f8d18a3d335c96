/* libledger: signing keys and transactions (docs/formats/ledger.md §Transaction). */
#include "internal.h"

#include <sodium.h>

struct ledger_signer {
    uint8_t sk[crypto_sign_SECRETKEYBYTES];
    uint8_t pk[crypto_sign_PUBLICKEYBYTES];
};

int ledger_signer_from_seed(ledger_signer **out, const uint8_t seed[32]) {
    if (!out || !seed)
        return LEDGER_E_INVALID;
    *out = NULL;
    if (ldg_init() < 0)
        return LEDGER_E_INTERNAL;
    ledger_signer *s = malloc(sizeof *s);
    if (!s)
        return LEDGER_E_NOMEM;
    crypto_sign_seed_keypair(s->pk, s->sk, seed);
    *out = s;
    return LEDGER_OK;
}

int ledger_signer_generate(ledger_signer **out) {
    uint8_t seed[32];
    if (!out)
        return LEDGER_E_INVALID;
    if (ldg_init() < 0)
        return LEDGER_E_INTERNAL;
    randombytes_buf(seed, sizeof seed);
    int rc = ledger_signer_from_seed(out, seed);
    sodium_memzero(seed, sizeof seed);
    return rc;
}

void ledger_signer_free(ledger_signer *s) {
    if (!s)
        return;
    sodium_memzero(s, sizeof *s);
    free(s);
}

int ldg_signer_copy(ledger_signer **out, const ledger_signer *s) {
    if (!out || !s)
        return LEDGER_E_INVALID;
    *out = malloc(sizeof **out);
    if (!*out)
        return LEDGER_E_NOMEM;
    memcpy(*out, s, sizeof *s);
    return LEDGER_OK;
}

const uint8_t *ledger_signer_public_key(const ledger_signer *s) {
    return s ? s->pk : NULL;
}

int ledger_signer_sign(const ledger_signer *s, const uint8_t *msg, size_t len, uint8_t sig[64]) {
    if (!s || !sig || (!msg && len))
        return LEDGER_E_INVALID;
    crypto_sign_detached(sig, NULL, msg ? msg : (const uint8_t *)"", len, s->sk);
    return LEDGER_OK;
}

int ledger_sig_verify(const uint8_t pubkey[32], const uint8_t *msg, size_t len,
                      const uint8_t sig[64]) {
    if (!pubkey || !sig || (!msg && len))
        return LEDGER_E_INVALID;
    if (ldg_init() < 0)
        return LEDGER_E_INTERNAL;
    return crypto_sign_verify_detached(sig, msg ? msg : (const uint8_t *)"", len, pubkey) == 0
               ? LEDGER_OK
               : LEDGER_E_SIGNATURE;
}

size_t ledger_tx_encoded_size(size_t payload_len) {
    return LEDGER_TX_OVERHEAD + payload_len;
}

void ldg_tx_refresh_hash(ledger_tx *tx) {
    crypto_hash_sha256(tx->hash, tx->enc, tx->enc_len);
}

static size_t tx_overhead(uint8_t format) {
    return format == 2 ? LEDGER_TX_OVERHEAD_V2 : LEDGER_TX_OVERHEAD;
}

static ledger_tx *tx_alloc(size_t payload_len, uint8_t format) {
    ledger_tx *tx = malloc(sizeof *tx);
    if (!tx)
        return NULL;
    tx->enc_len = tx_overhead(format) + payload_len;
    tx->enc = malloc(tx->enc_len);
    if (!tx->enc) {
        free(tx);
        return NULL;
    }
    return tx;
}

/* app_version 0: format 1 (no version field). */
static int tx_create(ledger_tx **out, uint16_t op, const uint8_t sender[32], uint64_t nonce,
                     const uint8_t *payload, size_t len, uint32_t app_version) {
    if (!out)
        return LEDGER_E_INVALID;
    *out = NULL;
    if (!sender || (!payload && len) || len > LEDGER_TX_PAYLOAD_MAX)
        return LEDGER_E_INVALID;
    uint8_t format = app_version ? 2 : 1;
    ledger_tx *tx = tx_alloc(len, format);
    if (!tx)
        return LEDGER_E_NOMEM;
    uint8_t *p = tx->enc;
    memcpy(p, LDG_TX_MAGIC, 4);
    p[4] = format;
    if (format == 2)
        ldg_put32(p + LDG_TX_OFF_PAYLOAD + len, app_version);
    ldg_put16(p + LDG_TX_OFF_OP, op);
    memcpy(p + LDG_TX_OFF_SENDER, sender, 32);
    ldg_put64(p + LDG_TX_OFF_NONCE, nonce);
    ldg_put32(p + LDG_TX_OFF_PLEN, (uint32_t)len);
    if (len)
        memcpy(p + LDG_TX_OFF_PAYLOAD, payload, len);
    memset(p + tx->enc_len - 64, 0, 64);
    ldg_tx_refresh_hash(tx);
    *out = tx;
    return LEDGER_OK;
}

int ledger_tx_create(ledger_tx **out, uint16_t op, const uint8_t sender[32], uint64_t nonce,
                     const uint8_t *payload, size_t len) {
    return tx_create(out, op, sender, nonce, payload, len, 0);
}

int ledger_tx_create_for(ledger_tx **out, uint16_t op, const uint8_t sender[32], uint64_t nonce,
                         const uint8_t *payload, size_t len, uint32_t app_version) {
    if (!app_version) {
        if (out)
            *out = NULL;
        return LEDGER_E_INVALID;
    }
    return tx_create(out, op, sender, nonce, payload, len, app_version);
}

int ledger_tx_signing_digest(const ledger_tx *tx, uint8_t out[32]) {
    if (!tx || !out)
        return LEDGER_E_INVALID;
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)LDG_TAG_TX, LDG_TAG_LEN);
    crypto_hash_sha256_update(&st, tx->enc, tx->enc_len - 64);
    crypto_hash_sha256_final(&st, out);
    return LEDGER_OK;
}

int ledger_tx_sign(ledger_tx *tx, const ledger_signer *s) {
    uint8_t d[32];
    if (!tx || !s)
        return LEDGER_E_INVALID;
    if (memcmp(tx->enc + LDG_TX_OFF_SENDER, s->pk, 32) != 0)
        return LEDGER_E_INVALID;
    ledger_tx_signing_digest(tx, d);
    crypto_sign_detached(tx->enc + tx->enc_len - 64, NULL, d, 32, s->sk);
    ldg_tx_refresh_hash(tx);
    return LEDGER_OK;
}

static int create_signed(ledger_tx **out, const ledger_signer *s, uint16_t op, uint64_t nonce,
                         const uint8_t *payload, size_t len, uint32_t app_version) {
    if (!out)
        return LEDGER_E_INVALID;
    *out = NULL;
    if (!s)
        return LEDGER_E_INVALID;
    ledger_tx *tx;
    int rc = tx_create(&tx, op, s->pk, nonce, payload, len, app_version);
    if (rc)
        return rc;
    rc = ledger_tx_sign(tx, s);
    if (rc) {
        ledger_tx_free(tx);
        return rc;
    }
    *out = tx;
    return LEDGER_OK;
}

int ledger_tx_create_signed(ledger_tx **out, const ledger_signer *s, uint16_t op, uint64_t nonce,
                            const uint8_t *payload, size_t len) {
    return create_signed(out, s, op, nonce, payload, len, 0);
}

int ledger_tx_create_signed_for(ledger_tx **out, const ledger_signer *s, uint16_t op,
                                uint64_t nonce, const uint8_t *payload, size_t len,
                                uint32_t app_version) {
    if (!app_version) {
        if (out)
            *out = NULL;
        return LEDGER_E_INVALID;
    }
    return create_signed(out, s, op, nonce, payload, len, app_version);
}

int ledger_tx_set_signature(ledger_tx *tx, const uint8_t sig[64]) {
    if (!tx || !sig)
        return LEDGER_E_INVALID;
    memcpy(tx->enc + tx->enc_len - 64, sig, 64);
    ldg_tx_refresh_hash(tx);
    return LEDGER_OK;
}

int ledger_tx_verify(const ledger_tx *tx) {
    uint8_t d[32];
    if (!tx)
        return LEDGER_E_INVALID;
    if (ldg_init() < 0)
        return LEDGER_E_INTERNAL;
    ledger_tx_signing_digest(tx, d);
    return ldg_verify32(tx->enc + LDG_TX_OFF_SENDER, d, tx->enc + tx->enc_len - 64);
}

int ledger_tx_verify_batch(const ledger_tx *const *txs, size_t n, size_t *bad_index) {
    if (!txs && n)
        return LEDGER_E_INVALID;
    for (size_t i = 0; i < n; i++) {
        int rc = ledger_tx_verify(txs[i]);
        if (rc) {
            if (bad_index)
                *bad_index = i;
            return rc;
        }
    }
    return LEDGER_OK;
}

int ledger_tx_decode(ledger_tx **out, const uint8_t *buf, size_t len) {
    if (!out)
        return LEDGER_E_INVALID;
    *out = NULL;
    if (!buf && len)
        return LEDGER_E_INVALID;
    if (len < LEDGER_TX_OVERHEAD)
        return LEDGER_E_DECODE;
    if (memcmp(buf, LDG_TX_MAGIC, 4) != 0)
        return LEDGER_E_DECODE;
    if (buf[4] != 1 && buf[4] != 2)
        return LEDGER_E_VERSION;
    uint32_t plen = ldg_get32(buf + LDG_TX_OFF_PLEN);
    if (plen > LEDGER_TX_PAYLOAD_MAX || (size_t)plen + tx_overhead(buf[4]) != len)
        return LEDGER_E_DECODE;
    if (buf[4] == 2 && ldg_get32(buf + LDG_TX_OFF_PAYLOAD + plen) == 0)
        return LEDGER_E_DECODE; /* application versions start at 1 */
    ledger_tx *tx = tx_alloc(plen, buf[4]);
    if (!tx)
        return LEDGER_E_NOMEM;
    memcpy(tx->enc, buf, len);
    ldg_tx_refresh_hash(tx);
    *out = tx;
    return LEDGER_OK;
}

const uint8_t *ledger_tx_encoding(const ledger_tx *tx, size_t *len) {
    if (!tx || !len)
        return NULL;
    *len = tx->enc_len;
    return tx->enc;
}

int ledger_tx_encode(const ledger_tx *tx, uint8_t **out, size_t *len) {
    if (!out || !len)
        return LEDGER_E_INVALID;
    *out = NULL;
    *len = 0;
    if (!tx)
        return LEDGER_E_INVALID;
    uint8_t *b = malloc(tx->enc_len);
    if (!b)
        return LEDGER_E_NOMEM;
    memcpy(b, tx->enc, tx->enc_len);
    *out = b;
    *len = tx->enc_len;
    return LEDGER_OK;
}

const uint8_t *ledger_tx_hash(const ledger_tx *tx) {
    if (!tx)
        return NULL;
    return tx->hash;
}

uint16_t ledger_tx_op(const ledger_tx *tx) {
    return tx ? ldg_get16(tx->enc + LDG_TX_OFF_OP) : 0;
}
const uint8_t *ledger_tx_sender(const ledger_tx *tx) {
    return tx ? tx->enc + LDG_TX_OFF_SENDER : NULL;
}
uint64_t ledger_tx_nonce(const ledger_tx *tx) {
    return tx ? ldg_get64(tx->enc + LDG_TX_OFF_NONCE) : 0;
}
const uint8_t *ledger_tx_payload(const ledger_tx *tx, size_t *len) {
    if (!tx || !len)
        return NULL;
    *len = tx->enc_len - tx_overhead(tx->enc[4]);
    return tx->enc + LDG_TX_OFF_PAYLOAD;
}
uint32_t ledger_tx_format(const ledger_tx *tx) {
    return tx ? tx->enc[4] : 0;
}
uint32_t ledger_tx_app_version(const ledger_tx *tx) {
    if (!tx)
        return 0;
    return tx->enc[4] == 2 ? ldg_get32(tx->enc + tx->enc_len - 68) : LEDGER_APP_VERSION_GENESIS;
}
const uint8_t *ledger_tx_signature(const ledger_tx *tx) {
    return tx ? tx->enc + tx->enc_len - 64 : NULL;
}

int ledger_tx_clone(ledger_tx **out, const ledger_tx *tx) {
    if (!out)
        return LEDGER_E_INVALID;
    *out = NULL;
    if (!tx)
        return LEDGER_E_INVALID;
    ledger_tx *c = tx_alloc(tx->enc_len - tx_overhead(tx->enc[4]), tx->enc[4]);
    if (!c)
        return LEDGER_E_NOMEM;
    memcpy(c->enc, tx->enc, tx->enc_len);
    memcpy(c->hash, tx->hash, 32);
    *out = c;
    return LEDGER_OK;
}

void ledger_tx_free(ledger_tx *tx) {
    if (!tx)
        return;
    free(tx->enc);
    free(tx);
}
