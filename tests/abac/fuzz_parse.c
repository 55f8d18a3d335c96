/* libFuzzer: the policy parser and type checker (first byte picks schema or policy text). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "abac.h"

static const char SCHEMA[] = "subject { org: string, credentials: set<string>, n: int }\n"
                             "resource { uses: int } context { now: timestamp, ok: bool }";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    abac_compile_options o = ABAC_COMPILE_OPTIONS_INIT;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    if (data[0] & 1) {
        o.schema = SCHEMA;
        o.schema_len = sizeof SCHEMA - 1;
    }
    if (data[0] & 2) { /* fuzz the schema parser itself */
        o.schema = text;
        o.schema_len = len;
        text = "";
        len = 0;
    }
    abac_policyset *ps = NULL;
    char msg[128];
    uint32_t l, c;
    if (abac_policyset_compile(text, len, &o, &ps, &l, &c, msg, sizeof msg) == 0) {
        /* anything that compiles encodes, decodes to the same bytes and decides */
        size_t n = abac_policyset_encoded_size(ps);
        uint8_t buf[1 << 16];
        size_t got;
        if (n <= sizeof buf && abac_policyset_encode(ps, buf, sizeof buf, &got) == 0) {
            abac_policyset *d = NULL;
            if (abac_policyset_decode(buf, got, &d) != 0)
                __builtin_trap();
            abac_policyset_free(d);
        }
        abac_request *r;
        abac_decision *dec;
        if (abac_request_new(ps, 0, &r) == 0 && abac_decision_new(ps, &dec) == 0) {
            abac_request_set_action(r, "train", 5);
            abac_request_set_int(r, ABAC_SUBJECT, "n", 3);
            abac_request_set_string(r, ABAC_SUBJECT, "org", "a", 1);
            abac_request_set_timestamp(r, ABAC_CONTEXT, "now", 5);
            abac_decide(ps, r, dec, ABAC_DECIDE_EXPLAIN);
            char t[64];
            size_t ri;
            int why;
            for (size_t k = 0; k < abac_decision_explain_count(dec); k++)
                abac_decision_explain(dec, k, &ri, &why, t, sizeof t, &l, &c);
            abac_decision_free(dec);
        }
        abac_request_free(r);
    }
    abac_policyset_free(ps);
    return 0;
}
