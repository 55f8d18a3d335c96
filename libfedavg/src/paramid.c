/* The parameter ID of a round: SHA-256 of the canonical input
 * "FAPI" | 01 | u32 len | model ID | u64 round | u32 len | signature. */
#include <sodium.h>

#include "internal.h"

#define MAGIC_PID      "FAPI"
#define FORMAT_VERSION 1u
#define MAX_FIELD      4096u

size_t fedavg_param_id_input_bytes(size_t model_id_len, size_t sig_len) {
    if (model_id_len > MAX_FIELD || sig_len > MAX_FIELD)
        return 0;
    return 4 + 1 + 4 + model_id_len + 8 + 4 + sig_len;
}

static int check(const uint8_t *model_id, size_t model_id_len, const uint8_t *sig, size_t sig_len) {
    if (!model_id || !sig || model_id_len < 1 || model_id_len > MAX_FIELD || sig_len < 1 ||
        sig_len > MAX_FIELD)
        return FEDAVG_E_INVALID;
    return FEDAVG_OK;
}

int fedavg_param_id_input(const uint8_t *model_id, size_t model_id_len, uint64_t round,
                          const uint8_t *sig, size_t sig_len, uint8_t *out, size_t cap) {
    if (check(model_id, model_id_len, sig, sig_len) || !out)
        return FEDAVG_E_INVALID;
    size_t need = fedavg_param_id_input_bytes(model_id_len, sig_len);
    if (cap < need)
        return FEDAVG_E_BUFFER_TOO_SMALL;
    uint8_t *p = out;
    memcpy(p, MAGIC_PID, 4);
    p[4] = FORMAT_VERSION;
    fedavg_put_u32_(p + 5, (uint32_t)model_id_len);
    p += 9;
    memcpy(p, model_id, model_id_len);
    p += model_id_len;
    fedavg_put_u64_(p, round);
    fedavg_put_u32_(p + 8, (uint32_t)sig_len);
    memcpy(p + 12, sig, sig_len);
    return FEDAVG_OK;
}

int fedavg_param_id(const uint8_t *model_id, size_t model_id_len, uint64_t round,
                    const uint8_t *sig, size_t sig_len, uint8_t out[32]) {
    if (check(model_id, model_id_len, sig, sig_len) || !out)
        return FEDAVG_E_INVALID;
    if (fedavg_sodium_init_())
        return FEDAVG_E_CRYPTO;
    uint8_t head[9], mid[12];
    memcpy(head, MAGIC_PID, 4);
    head[4] = FORMAT_VERSION;
    fedavg_put_u32_(head + 5, (uint32_t)model_id_len);
    fedavg_put_u64_(mid, round);
    fedavg_put_u32_(mid + 8, (uint32_t)sig_len);
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, head, sizeof head);
    crypto_hash_sha256_update(&st, model_id, model_id_len);
    crypto_hash_sha256_update(&st, mid, sizeof mid);
    crypto_hash_sha256_update(&st, sig, sig_len);
    crypto_hash_sha256_final(&st, out);
    return FEDAVG_OK;
}

int fedavg_param_id_input_parse(const uint8_t *in, size_t len, const uint8_t **model_id,
                                size_t *model_id_len, uint64_t *round, const uint8_t **sig,
                                size_t *sig_len) {
    if (!model_id || !model_id_len || !round || !sig || !sig_len || (!in && len))
        return FEDAVG_E_INVALID;
    if (!in || len < 5 || memcmp(in, MAGIC_PID, 4) != 0)
        return FEDAVG_E_FORMAT;
    if (in[4] != FORMAT_VERSION)
        return FEDAVG_E_VERSION;
    if (len < 9)
        return FEDAVG_E_FORMAT;
    uint32_t ml = fedavg_get_u32_(in + 5);
    if (ml < 1 || ml > MAX_FIELD || len - 9 < (size_t)ml + 12)
        return FEDAVG_E_FORMAT;
    const uint8_t *p = in + 9 + ml;
    uint64_t r = fedavg_get_u64_(p);
    uint32_t sl = fedavg_get_u32_(p + 8);
    if (sl < 1 || sl > MAX_FIELD || len != fedavg_param_id_input_bytes(ml, sl))
        return FEDAVG_E_FORMAT;
    *model_id = in + 9;
    *model_id_len = ml;
    *round = r;
    *sig = p + 12;
    *sig_len = sl;
    return FEDAVG_OK;
}
