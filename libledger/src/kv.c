/* libledger: the reference application, a signed key-value store (ledger/kv.h). */
#include "internal.h"

typedef struct {
    const uint8_t *key, *val;
    size_t klen, vlen;
} kv_op;

static int kv_parse(const ledger_tx *tx, kv_op *op) {
    size_t len;
    const uint8_t *p = ledger_tx_payload(tx, &len);
    uint16_t code = ledger_tx_op(tx);
    if (code != LEDGER_KV_OP_PUT && code != LEDGER_KV_OP_DELETE)
        return LEDGER_E_REJECTED;
    if (len < 2)
        return LEDGER_E_REJECTED;
    op->klen = ldg_get16(p);
    if (op->klen == 0 || op->klen > LEDGER_STATE_KEY_MAX || len < 2 + op->klen)
        return LEDGER_E_REJECTED;
    op->key = p + 2;
    op->val = p + 2 + op->klen;
    op->vlen = len - 2 - op->klen;
    if (code == LEDGER_KV_OP_DELETE && op->vlen)
        return LEDGER_E_REJECTED;
    return LEDGER_OK;
}

/* The sender may write the key if it is absent or already its own. */
static int kv_owner_ok(ledger_state *st, const ledger_tx *tx, const kv_op *op, int *exists) {
    const uint8_t *v;
    size_t vlen;
    int rc = ledger_state_get(st, op->key, op->klen, &v, &vlen);
    *exists = rc == LEDGER_OK;
    if (rc == LEDGER_E_NOT_FOUND)
        return LEDGER_OK;
    if (rc)
        return rc;
    if (vlen < 32 || memcmp(v, ledger_tx_sender(tx), 32) != 0)
        return LEDGER_E_REJECTED;
    return LEDGER_OK;
}

static int kv_check(void *ctx, ledger_state *st, const ledger_tx *tx) {
    (void)ctx;
    kv_op op;
    int rc = kv_parse(tx, &op);
    if (rc)
        return rc;
    int exists;
    rc = kv_owner_ok(st, tx, &op, &exists);
    if (rc)
        return rc;
    if (ledger_tx_op(tx) == LEDGER_KV_OP_DELETE && !exists)
        return LEDGER_E_REJECTED;
    return LEDGER_OK;
}

static int kv_apply(void *ctx, ledger_state *st, const ledger_block *b, size_t index,
                    const ledger_tx *tx) {
    (void)ctx;
    (void)b;
    (void)index;
    kv_op op;
    int rc = kv_parse(tx, &op);
    if (rc)
        return rc;
    int exists;
    if ((rc = kv_owner_ok(st, tx, &op, &exists)) != 0)
        return rc;
    if (ledger_tx_op(tx) == LEDGER_KV_OP_DELETE) {
        if (!exists)
            return LEDGER_E_REJECTED;
        rc = ledger_state_delete(st, op.key, op.klen);
    } else {
        if (op.vlen > LEDGER_STATE_VALUE_MAX - 32)
            return LEDGER_E_REJECTED;
        uint8_t stackbuf[32 + 512];
        uint8_t *buf = op.vlen <= 512 ? stackbuf : malloc(32 + op.vlen);
        if (!buf)
            return LEDGER_E_NOMEM;
        memcpy(buf, ledger_tx_sender(tx), 32);
        if (op.vlen)
            memcpy(buf + 32, op.val, op.vlen);
        rc = ledger_state_put(st, op.key, op.klen, buf, 32 + op.vlen);
        if (buf != stackbuf)
            free(buf);
    }
    if (rc)
        return rc;
    return ledger_state_index(st, ledger_tx_op(tx), op.key, op.klen);
}

static int kv_query(void *ctx, ledger_state *st, const uint8_t *q, size_t qlen, uint8_t **out,
                    size_t *out_len) {
    (void)ctx;
    const uint8_t *v;
    size_t vlen;
    if (qlen == 0 || qlen > LEDGER_STATE_KEY_MAX)
        return LEDGER_E_INVALID;
    int rc = ledger_state_get(st, q, qlen, &v, &vlen);
    if (rc)
        return rc;
    if (vlen < 32)
        return LEDGER_E_CORRUPT;
    *out = NULL;
    *out_len = vlen - 32;
    if (vlen > 32) {
        if (!(*out = malloc(vlen - 32)))
            return LEDGER_E_NOMEM;
        memcpy(*out, v + 32, vlen - 32);
    }
    return LEDGER_OK;
}

static const ledger_app kv_app = {LEDGER_APP_VERSION, NULL, kv_check, kv_apply,
                                  kv_query,           1,    NULL,     NULL};

const ledger_app *ledger_kv_app(void) {
    return &kv_app;
}

static int kv_payload(const uint8_t *key, size_t klen, const uint8_t *value, size_t vlen,
                      uint8_t **out, size_t *len) {
    if (!out || !len)
        return LEDGER_E_INVALID;
    *out = NULL;
    *len = 0;
    if (!key || klen == 0 || klen > LEDGER_STATE_KEY_MAX || (!value && vlen) ||
        vlen > LEDGER_TX_PAYLOAD_MAX - 2 - klen)
        return LEDGER_E_INVALID;
    uint8_t *b = malloc(2 + klen + vlen);
    if (!b)
        return LEDGER_E_NOMEM;
    ldg_put16(b, (uint16_t)klen);
    memcpy(b + 2, key, klen);
    if (vlen)
        memcpy(b + 2 + klen, value, vlen);
    *out = b;
    *len = 2 + klen + vlen;
    return LEDGER_OK;
}

int ledger_kv_put_payload(const uint8_t *key, size_t klen, const uint8_t *value, size_t vlen,
                          uint8_t **out, size_t *len) {
    return kv_payload(key, klen, value, vlen, out, len);
}

int ledger_kv_delete_payload(const uint8_t *key, size_t klen, uint8_t **out, size_t *len) {
    return kv_payload(key, klen, NULL, 0, out, len);
}
