/**
 * @file ledger/kv.h
 * @brief The reference application: a signed key-value store.
 *
 * Operations (the tx op type): LEDGER_KV_OP_PUT with payload
 * u16 key length ‖ key ‖ value (the rest); LEDGER_KV_OP_DELETE with payload
 * u16 key length ‖ key. A key belongs to its first writer: a put or delete by
 * another sender is rejected (LEDGER_E_REJECTED). State: key → owner public key
 * (32) ‖ value. Each applied tx is indexed under (op, key) for tracing.
 * Query: the key's bytes → its value (LEDGER_E_NOT_FOUND if absent).
 *
 * Thread safety: the table is static and immutable.
 */
#ifndef LEDGER_KV_H
#define LEDGER_KV_H

#include "common.h"
#include "app.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LEDGER_KV_OP_PUT    1
#define LEDGER_KV_OP_DELETE 2

/** @brief The key-value application table (static; never NULL). */
LEDGER_API const ledger_app *ledger_kv_app(void);

/**
 * @brief Build a put payload.
 * @param[in] key 1 … LEDGER_STATE_KEY_MAX bytes. @param[in] value (NULL if vlen is 0).
 * @param[out] out new buffer (ledger_free). @param[out] len its length.
 * @return LEDGER_OK, LEDGER_E_INVALID, LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_kv_put_payload(const uint8_t *key, size_t klen, const uint8_t *value,
                                     size_t vlen, uint8_t **out, size_t *len);
/**
 * @brief Build a delete payload.
 * @return LEDGER_OK, LEDGER_E_INVALID, LEDGER_E_NOMEM.
 */
LEDGER_API int ledger_kv_delete_payload(const uint8_t *key, size_t klen, uint8_t **out,
                                        size_t *len);

#ifdef __cplusplus
}
#endif
#endif /* LEDGER_KV_H */
