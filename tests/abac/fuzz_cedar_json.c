/* libFuzzer: Cedar's JSON entity and request readers (bit 0 of the first byte picks which,
 * bit 1 reads with a schema, Cedar's implicit entity and extension forms); whatever loads is
 * decided against a fixed policy set that reads attributes, tags and hierarchy, and what loads
 * with the schema must conform to it. */
#include <stddef.h>
#include <stdint.h>

#include "abac.h"
#include "abac/cedar.h"

static const char POL[] =
    "permit(principal in Group::\"g\", action, resource) when { principal.age > 1 };\n"
    "forbid(principal, action, resource) when { principal has tags && principal.tags.contains(1) "
    "};\n"
    "permit(principal, action, resource) when { context.s like \"*a*\" || context.r == {a: [1]} "
    "|| principal.getTag(\"t\") == 1 || resource in principal.owner };\n"
    "forbid(principal, action in Action::\"all\", resource) when { context has who };\n";
static const char ENTS[] = "[{\"uid\": {\"type\": \"User\", \"id\": \"a\"}, \"attrs\": {}, "
                           "\"parents\": [{\"type\": \"Group\", \"id\": \"g\"}]}]";
static const char REQ[] = "{\"principal\": \"User::\\\"a\\\"\", \"action\": \"Action::\\\"r\\\"\", "
                          "\"resource\": \"Doc::\\\"d\\\"\", \"context\": {\"s\": \"a\"}}";

static const char SCHEMA[] =
    "entity Group; entity Doc;\n"
    "entity User in [Group] { age?: Long, tags?: Set<Long>, owner?: Doc, ip?: ipaddr, d?: "
    "decimal, friends?: Set<User>, r?: { u: User, w?: datetime } } tags Long;\n"
    "action all; action grp in [all];\n" /* 1.3.0: added as entities when read with the schema */
    "action r in [grp] appliesTo { principal: User, resource: Doc, context: { s?: String, r?: { "
    "a: Set<Long> }, ip?: ipaddr, who?: User, du?: duration } };\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    abac_cedar_policies *ps = NULL;
    abac_cedar_entities *es = NULL;
    abac_cedar_request *rq = NULL;
    abac_cedar_response *resp = NULL;
    char msg[128];
    if (abac_cedar_policies_parse(&ps, POL, sizeof POL - 1, NULL, NULL, NULL, 0))
        __builtin_trap();
    abac_cedar_schema *s = NULL;
    if ((data[0] & 2) &&
        abac_cedar_schema_parse(&s, SCHEMA, sizeof SCHEMA - 1, NULL, NULL, NULL, 0))
        __builtin_trap();
    const char *text = (const char *)data + 1;
    int rc;
    if (data[0] & 1) {
        rc = abac_cedar_request_parse_json_schema(&rq, text, size - 1, s, msg, sizeof msg);
        if (abac_cedar_entities_parse_json_schema(&es, ENTS, sizeof ENTS - 1, s, NULL, 0))
            __builtin_trap();
    } else {
        rc = abac_cedar_entities_parse_json_schema(&es, text, size - 1, s, msg, sizeof msg);
        if (abac_cedar_request_parse_json_schema(&rq, REQ, sizeof REQ - 1, s, NULL, 0))
            __builtin_trap();
    }
    if (rc == 0 && s &&
        (abac_cedar_schema_check_entities(s, es, NULL, 0) ||
         abac_cedar_schema_check_request(s, rq, NULL, 0)))
        __builtin_trap(); /* what loads with the schema conforms to it */
    if (rc == 0 && abac_cedar_response_new(&resp, ps, 0) == 0) {
        int d = abac_cedar_is_authorized(ps, es, rq, resp);
        if (d != ABAC_PERMIT && d != ABAC_DENY)
            __builtin_trap();
    }
    abac_cedar_response_free(resp);
    abac_cedar_request_free(rq);
    abac_cedar_entities_free(es);
    abac_cedar_policies_free(ps);
    abac_cedar_schema_free(s);
    return 0;
}
