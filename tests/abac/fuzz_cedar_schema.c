/* libFuzzer: Cedar's schema readers (the first byte picks the JSON format or the human-readable
 * syntax); whatever loads validates a fixed policy set and checks fixed entities and a request
 * against it. No input may crash, leak or make a reader return something other than a code. */
#include <stddef.h>
#include <stdint.h>

#include "abac.h"
#include "abac/cedar.h"

static const char POL[] =
    "permit(principal in Group::\"g\", action == Action::\"view\", resource) when { "
    "principal.age > 1 && principal has nick && principal.nick like \"a*\" && "
    "principal.nick != \"say_\u04bbello\" };\n"
    "forbid(principal is User, action, resource) when { resource.hasTag(\"t\") && "
    "resource.getTag(\"t\") == \"x\" || context.n == 1 || [principal.rec.a, 2].contains(1) };\n"
    "permit(principal, action in [Action::\"edit\"], resource is Doc in Folder::\"f\") unless "
    "{ if context has d then context.d.lessThan(decimal(\"1.5\")) else resource.owner == "
    "principal };\n";
static const char ENTS[] =
    "[{\"uid\": {\"type\": \"User\", \"id\": \"a\"}, \"attrs\": {\"age\": 3, \"rec\": {\"a\": 1}},"
    " \"parents\": [{\"type\": \"Group\", \"id\": \"g\"}]},"
    " {\"uid\": {\"type\": \"Doc\", \"id\": \"d\"}, \"attrs\": {}, \"parents\": [], \"tags\": "
    "{\"t\": \"x\"}}]";
static const char REQ[] =
    "{\"principal\": \"User::\\\"a\\\"\", \"action\": \"Action::\\\"view\\\"\", "
    "\"resource\": \"Doc::\\\"d\\\"\", \"context\": {\"n\": 1}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    abac_cedar_schema *s = NULL;
    char msg[160];
    uint32_t line, col;
    const char *text = (const char *)data + 1;
    int rc = (data[0] & 1)
                 ? abac_cedar_schema_parse_json(&s, text, size - 1, msg, sizeof msg)
                 : abac_cedar_schema_parse(&s, text, size - 1, &line, &col, msg, sizeof msg);
    if (rc > 0 || (rc == 0) != (s != NULL))
        __builtin_trap();
    if (rc)
        return 0;
    abac_cedar_policies *ps = NULL;
    abac_cedar_entities *es = NULL;
    abac_cedar_request *rq = NULL;
    abac_cedar_validation *v = NULL;
    if (abac_cedar_policies_parse(&ps, POL, sizeof POL - 1, NULL, NULL, NULL, 0) ||
        abac_cedar_entities_parse_json(&es, ENTS, sizeof ENTS - 1, NULL, 0) ||
        abac_cedar_request_parse_json(&rq, REQ, sizeof REQ - 1, NULL, 0))
        __builtin_trap();
    if (abac_cedar_validate(&v, s, ps) == 0) {
        size_t n = abac_cedar_validation_error_count(v);
        for (size_t i = 0; i < n; i++) {
            size_t pi, ml;
            int code;
            const char *m;
            if (abac_cedar_validation_error(v, i, &pi, &code, &m, &ml, NULL, NULL) || pi >= 3 ||
                code >= 0 || !m || !ml)
                __builtin_trap();
        }
        n = abac_cedar_validation_warning_count(v); /* 1.3.0: warnings, apart */
        for (size_t i = 0; i < n; i++) {
            size_t pi, ml;
            int kind;
            const char *m;
            if (abac_cedar_validation_warning(v, i, &pi, &kind, &m, &ml, NULL, NULL) || pi >= 3 ||
                kind < ABAC_CEDAR_WARN_MIXED_SCRIPT_STRING ||
                kind > ABAC_CEDAR_WARN_IMPOSSIBLE_POLICY || !m || !ml)
                __builtin_trap();
        }
    }
    if (abac_cedar_schema_check_entities(s, es, msg, sizeof msg) > 0 ||
        abac_cedar_schema_check_request(s, rq, msg, sizeof msg) > 0)
        __builtin_trap();
    abac_cedar_validation_free(v);
    abac_cedar_request_free(rq);
    abac_cedar_entities_free(es);
    abac_cedar_policies_free(ps);
    abac_cedar_schema_free(s);
    return 0;
}
