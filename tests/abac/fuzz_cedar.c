/* libFuzzer: the Cedar policy parser and evaluator. The input is policy text; whatever
 * parses is decided against a fixed entity graph and request (no input may crash or leak).
 * Every template is linked (slots User::"a" / Doc::"d") into the set that is decided. */
#include <stddef.h>
#include <stdint.h>

#include "abac.h"
#include "abac/cedar.h"

static const char ENTS[] =
    "[{\"uid\": {\"type\": \"User\", \"id\": \"a\"}, \"attrs\": {\"age\": 3, \"name\": \"x\", "
    "\"tags\": [\"a\"], \"rec\": {\"a\": 1}, \"d\": {\"__extn\": {\"fn\": \"decimal\", \"arg\": "
    "\"1.5\"}}}, \"parents\": [{\"type\": \"Group\", \"id\": \"g\"}], \"tags\": {\"t\": 1}},"
    "{\"uid\": {\"type\": \"Group\", \"id\": \"g\"}, \"attrs\": {}, \"parents\": []}]";
static const char REQ[] =
    "{\"principal\": \"User::\\\"a\\\"\", \"action\": \"Action::\\\"r\\\"\", "
    "\"resource\": \"Doc::\\\"d\\\"\", \"context\": {\"n\": 1, \"s\": \"y\"}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    abac_cedar_policies *ps = NULL;
    char msg[128];
    uint32_t l, c;
    if (abac_cedar_policies_parse(&ps, (const char *)data, size, &l, &c, msg, sizeof msg) == 0) {
        size_t n = abac_cedar_policy_count(ps);
        for (size_t i = 0; i < n && i < 8; i++) {
            if (abac_cedar_policy_is_template(ps, i) != 1)
                continue;
            char id[16] = {'l', 'i', 'n', 'k', (char)('0' + i), 0};
            abac_cedar_policies *next = NULL;
            int rc =
                abac_cedar_policies_link(&next, ps, i, id, 5, "User::\"a\"", 9, "Doc::\"d\"", 8);
            if (rc == ABAC_E_INVALID) /* the template has only one of the slots */
                rc = abac_cedar_policies_link(&next, ps, i, id, 5, "User::\"a\"", 9, NULL, 0);
            if (rc == ABAC_E_INVALID)
                rc = abac_cedar_policies_link(&next, ps, i, id, 5, NULL, 0, "Doc::\"d\"", 8);
            if (rc == 0) {
                abac_cedar_policies_free(ps);
                ps = next;
            } else if (rc != ABAC_E_NOMEM && rc != ABAC_E_DUPLICATE_RULE) {
                __builtin_trap();
            }
        }
        abac_cedar_entities *es = NULL;
        abac_cedar_request *rq = NULL;
        abac_cedar_response *resp = NULL;
        if (abac_cedar_entities_parse_json(&es, ENTS, sizeof ENTS - 1, NULL, 0) ||
            abac_cedar_request_parse_json(&rq, REQ, sizeof REQ - 1, NULL, 0))
            __builtin_trap();
        if (abac_cedar_response_new(&resp, ps, 256) == 0) {
            int rc = abac_cedar_is_authorized(ps, es, rq, resp);
            if (rc != ABAC_PERMIT && rc != ABAC_DENY && rc != ABAC_E_NOMEM)
                __builtin_trap();
        }
        abac_cedar_response_free(resp);
        abac_cedar_request_free(rq);
        abac_cedar_entities_free(es);
    }
    abac_cedar_policies_free(ps);
    return 0;
}
