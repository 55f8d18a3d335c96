/* libFuzzer: the contracts' payload decoder (every op) and the record decoders
 * on untrusted bytes. The first two input bytes pick the op (payloads) or the
 * record kind; the rest is the encoding. Beyond "no crash": a payload the
 * decoder accepts from a member is accepted again (deterministic), and
 * rendering a record never yields a half-written result. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fedshare.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static fedshare_consortium *g_c;
static uint8_t g_pk[32];

static void init(void) {
    if (g_c)
        return;
    /* one member with every role; the key is a fixed valid Ed25519 point */
    static const char *text =
        "member m0 d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a "
        "roles=provider,aggregator,keyholder,publisher,regulator org=o credentials=c\n";
    if (fedshare_consortium_parse(&g_c, text, strlen(text), NULL) != FEDSHARE_OK)
        abort();
    memcpy(g_pk, fedshare_consortium_key(g_c, 0), 32);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    init();
    if (size < 2)
        return 0;
    uint16_t sel = (uint16_t)(data[0] << 8 | data[1]);
    const uint8_t *p = data + 2;
    size_t n = size - 2;
    if (sel & 0x8000) { /* a record */
        int kind = 1 + (sel & 0x0F) % 9;
        char *json = (char *)0x1;
        int rc = fedshare_record_json(kind, p, n, &json);
        if (rc == FEDSHARE_OK) {
            if (!json || strlen(json) < 2)
                abort();
            fedshare_free(json);
        } else if (json != NULL)
            abort();
        return 0;
    }
    uint16_t op = (uint16_t)(0x0F00 | (sel & 0xFF));
    int a = fedshare_precheck(g_c, op, g_pk, p, n);
    int b = fedshare_precheck(g_c, op, g_pk, p, n);
    if (a != b)
        abort();
    return 0;
}
