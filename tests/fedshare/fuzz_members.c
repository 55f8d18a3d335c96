/* libFuzzer: the membership decoders on untrusted bytes — the membership and
 * change records (FEDSHARE_REC_MEMBERS, FEDSHARE_REC_MEMBER_CHANGE) and the
 * MEMBER_PROPOSE / MEMBER_APPROVE payloads. The first input byte picks which.
 * Beyond "no crash": a record that renders renders to the same text twice, a
 * refused one yields nothing; a payload is judged alike twice. */
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
    static const char *text =
        "member m0 d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a "
        "roles=provider,keyholder org=o credentials=c\n";
    if (fedshare_consortium_parse(&g_c, text, strlen(text), NULL) != FEDSHARE_OK)
        abort();
    memcpy(g_pk, fedshare_consortium_key(g_c, 0), 32);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    init();
    if (size < 1)
        return 0;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    switch (data[0] & 3) {
        case 0:
        case 1: {
            int kind = data[0] & 1 ? FEDSHARE_REC_MEMBER_CHANGE : FEDSHARE_REC_MEMBERS;
            char *a = (char *)0x1, *b = (char *)0x1;
            int ra = fedshare_record_json(kind, p, n, &a);
            int rb = fedshare_record_json(kind, p, n, &b);
            if (ra != rb)
                abort();
            if (ra == FEDSHARE_OK) {
                if (!a || !b || strlen(a) < 2 || strcmp(a, b))
                    abort();
                fedshare_free(a);
                fedshare_free(b);
            } else if (a != NULL || b != NULL)
                abort();
            return 0;
        }
        default: {
            uint16_t op = data[0] & 1 ? FEDSHARE_OP_MEMBER_APPROVE : FEDSHARE_OP_MEMBER_PROPOSE;
            int a = fedshare_precheck(g_c, op, g_pk, p, n);
            int b = fedshare_precheck(g_c, op, g_pk, p, n);
            if (a != b || a > 0)
                abort();
            return 0;
        }
    }
}
