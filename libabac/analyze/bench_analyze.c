/* Policy analysis benchmark (JSON lines, ../../shared/BENCHMARKS.md): wall seconds of
 * abac_analyze_diff for a generated 100-rule set against a copy with one rule loosened (a
 * difference found, its request replayed), the same set against itself reordered
 * (equivalence proven), the first diff again under a schema (abac_analyze_diff_schema), and
 * the demo's policy set against a loosened copy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "abac_analyze.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* rule i of the generated set; `loose` moves rule 50's threshold */
static int rule(char *o, size_t cap, int i, int loose) {
    if (i % 10 == 9)
        return snprintf(o, cap,
                        "@id(\"r%d\") forbid (principal in Group::\"g%d\", action == "
                        "Action::\"a%d\", resource is Doc) when { context.risk > %d };\n",
                        i, i % 10, i % 7, 50 + i);
    return snprintf(o, cap,
                    "@id(\"r%d\") permit (principal in Group::\"g%d\", action == Action::\"a%d\", "
                    "resource is Doc) when { context.level >= %d && "
                    "resource.tags.contains(\"t%d\") && context.purpose == \"p%d\" && "
                    "(principal has clearance && principal.clearance > %d) };\n",
                    i, i % 10, i % 7, i == 50 && loose ? 40 : i, i % 5, i % 3, i % 4);
}

static char *gen(int n, int loose, int reverse) {
    size_t cap = (size_t)n * 400 + 1, len = 0;
    char *s = malloc(cap);
    if (!s)
        exit(1);
    s[0] = 0;
    for (int k = 0; k < n; k++)
        len += (size_t)rule(s + len, cap - len, reverse ? n - 1 - k : k, loose);
    return s;
}

/* a schema the generated sets are valid under */
static const char SCHEMA[] =
    "entity Group;\n"
    "entity User in [Group] = { clearance?: Long };\n"
    "entity Doc = { tags: Set<String> };\n"
    "type Ctx = { level: Long, risk: Long, purpose: String };\n"
    "action a0, a1, a2, a3, a4, a5, a6 appliesTo { principal: User, resource: Doc, context: Ctx "
    "};\n";

static double timed_diff_schema(const char *a, const char *b, const char *schema, char **verdict) {
    char *j = NULL, msg[512];
    double t0 = now();
    int rc = abac_analyze_diff_schema(a, strlen(a), b, strlen(b), schema,
                                      schema ? strlen(schema) : 0, 600000, &j, msg, sizeof msg);
    double t = now() - t0;
    if (rc) {
        fprintf(stderr, "bench_analyze: %d %s\n", rc, msg);
        exit(1);
    }
    const char *v = strstr(j, "\"verdict\": \"");
    *verdict = strdup(v ? v + 12 : "?");
    char *q = strchr(*verdict, '"');
    if (q)
        *q = 0;
    abac_analyze_free(j);
    return t;
}
static double timed_diff(const char *a, const char *b, char **verdict) {
    return timed_diff_schema(a, b, NULL, verdict);
}

static const char DEMO[] =
    "@id(\"hospitals_train\")\n"
    "permit (principal is Member, action == Action::\"train\", resource is Dataset)\n"
    "when { context.purpose == \"training\" && context.now < datetime(\"2027-01-01T00:00:00Z\")\n"
    "  && context.period_end <= datetime(\"2027-01-01T00:00:00Z\") && resource.uses < 100\n"
    "  && principal in [Organisation::\"hospital-a\", Organisation::\"hospital-b\", "
    "Organisation::\"hospital-c\"]\n"
    "  && principal.credentials.contains(\"irb\") };\n"
    "@id(\"no_raw_export\")\n"
    "forbid (principal, action in [Action::\"export\", Action::\"download\"], resource is "
    "Dataset);\n";

int main(void) {
    char *old = gen(100, 0, 0), *loose = gen(100, 1, 0), *rev = gen(100, 0, 1), *v;
    double t = timed_diff(old, loose, &v);
    printf("{\"suite\": \"abac\", \"name\": \"policy_diff_seconds_100\", \"value\": %.3f, "
           "\"unit\": \"s\", \"rules\": 100, \"verdict\": \"%s\", \"what\": \"abac_analyze_diff, "
           "one rule loosened: the difference found and its request replayed through "
           "libabac\"}\n",
           t, v);
    free(v);
    t = timed_diff_schema(old, loose, SCHEMA, &v);
    printf("{\"suite\": \"abac\", \"name\": \"policy_diff_seconds_100_schema\", \"value\": "
           "%.3f, \"unit\": \"s\", \"rules\": 100, \"verdict\": \"%s\", \"what\": \"the same "
           "diff under a schema (7 actions, 3 entity types): only requests it allows, the "
           "request checked against it and replayed\"}\n",
           t, v);
    free(v);
    t = timed_diff(old, rev, &v);
    printf("{\"suite\": \"abac\", \"name\": \"policy_equiv_seconds_100\", \"value\": %.3f, "
           "\"unit\": \"s\", \"rules\": 100, \"verdict\": \"%s\", \"what\": \"the set against "
           "itself in reverse order: equivalence proven\"}\n",
           t, v);
    free(v);
    char *demo2 = strdup(DEMO);
    char *p = strstr(demo2, "uses < 100");
    memcpy(p, "uses < 200", 10);
    t = timed_diff(DEMO, demo2, &v);
    printf("{\"suite\": \"abac\", \"name\": \"policy_diff_seconds_demo\", \"value\": %.3f, "
           "\"unit\": \"s\", \"rules\": 2, \"verdict\": \"%s\", \"what\": \"the demo's set "
           "against a copy allowing 200 uses\"}\n",
           t, v);
    free(v);
    free(demo2);
    free(old);
    free(loose);
    free(rev);
    return 0;
}
