/* libabac unit tests: every construct, every error, the seed paper's policies, the canonical
 * form. Deterministic; no timing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "abac.h"

static const char *SCHEMA = "subject { org: string, role: string, credentials: set<string>,\n"
                            "          clearance: int, active: bool }\n"
                            "resource { owner: string, uses: int, sensitivity: int,\n"
                            "           allowed_orgs: set<string>, tags: set<int> }\n"
                            "context { purpose: string, now: timestamp, export_raw: bool }\n";

/* The seed paper's permission contract: training only, no export of raw data, a validity
 * window, at most 100 uses, allowed organisations, required credentials. */
static const char *PAPER =
    "// data set D1 of hospital A\n"
    "permit train_only (subject, action == \"train\", resource is \"dataset\")\n"
    "when {\n"
    "  context.purpose == \"training\"\n"
    "  && context.now >= time(\"2026-01-01T00:00:00Z\")\n"
    "  && context.now < time(\"2027-01-01T00:00:00Z\")\n"
    "  && resource.uses < 100\n"
    "  && subject.org in [\"hospital_a\", \"hospital_b\", \"lab_c\"]\n"
    "  && [\"ethics_approval\", \"gcp_certified\"] in subject.credentials\n"
    "}\n"
    "obligations [no_export, log_access];\n"
    "forbid no_raw_export (subject, action in [\"export\", \"download\"], resource is "
    "\"dataset\")\n"
    "when { context has export_raw && context.export_raw };\n"
    "forbid never_export (subject, action == \"export\", resource);\n"
    "permit owner_reads (subject, action == \"read\", resource)\n"
    "when { resource.owner == subject.org } obligations [log_access];\n";

static abac_policyset *compile_ok(const char *src, const char *schema) {
    abac_compile_options o = ABAC_COMPILE_OPTIONS_INIT;
    o.schema = schema;
    o.schema_len = schema ? strlen(schema) : 0;
    abac_policyset *ps = NULL;
    char msg[256];
    uint32_t l, c;
    int rc = abac_policyset_compile(src, strlen(src), &o, &ps, &l, &c, msg, sizeof msg);
    if (rc)
        fprintf(stderr, "compile failed %d at %u:%u: %s\n", rc, l, c, msg);
    assert_int_equal(rc, ABAC_OK);
    assert_non_null(ps);
    return ps;
}

static int compile_err(const char *src, const char *schema, uint32_t *l, uint32_t *c, char *msg,
                       size_t cap) {
    abac_compile_options o = ABAC_COMPILE_OPTIONS_INIT;
    o.schema = schema;
    o.schema_len = schema ? strlen(schema) : 0;
    abac_policyset *ps = NULL;
    int rc = abac_policyset_compile(src, strlen(src), &o, &ps, l, c, msg, cap);
    assert_null(ps);
    return rc;
}

static const int64_t T2026_06 = 1780272000; /* 2026-06-01T00:00:00Z */

static void paper_request(abac_request *r, const char *action, const char *purpose, int64_t now,
                          int64_t uses, const char *org, int with_creds) {
    abac_request_reset(r);
    assert_int_equal(abac_request_set_action(r, action, strlen(action)), 0);
    assert_int_equal(abac_request_set_entity(r, ABAC_SUBJECT, "alice", 5, "user", 4), 0);
    assert_int_equal(abac_request_set_entity(r, ABAC_RESOURCE, "d1", 2, "dataset", 7), 0);
    assert_int_equal(abac_request_set_string(r, ABAC_CONTEXT, "purpose", purpose, strlen(purpose)),
                     0);
    assert_int_equal(abac_request_set_timestamp(r, ABAC_CONTEXT, "now", now), 0);
    assert_int_equal(abac_request_set_int(r, ABAC_RESOURCE, "uses", uses), 0);
    assert_int_equal(abac_request_set_string(r, ABAC_SUBJECT, "org", org, strlen(org)), 0);
    assert_int_equal(abac_request_set_string(r, ABAC_RESOURCE, "owner", "hospital_a", 10), 0);
    const char *creds[] = {"gcp_certified", "phd", "ethics_approval"};
    size_t lens[] = {13, 3, 15};
    assert_int_equal(abac_request_set_string_set(r, ABAC_SUBJECT, "credentials", creds, lens,
                                                 with_creds ? 3 : 2),
                     0);
}

static void expect_first_miss(abac_decision *d, const abac_policyset *ps, const char *rule,
                              int reason, const char *text) {
    char t[256];
    size_t ri;
    int why;
    uint32_t l, c;
    for (size_t i = 0; i < abac_decision_explain_count(d); i++) {
        assert_int_equal(abac_decision_explain(d, i, &ri, &why, t, sizeof t, &l, &c), 0);
        if (strcmp(abac_policyset_rule_id(ps, ri), rule) == 0) {
            assert_int_equal(why, reason);
            if (text) {
                assert_string_equal(t, text);
                assert_true(l > 0 && c > 0);
            }
            return;
        }
    }
    fail_msg("no explanation for rule %s", rule);
}

static void test_paper_policies(void **state) {
    (void)state;
    abac_policyset *ps = compile_ok(PAPER, SCHEMA);
    assert_int_equal(abac_policyset_rule_count(ps), 4);
    abac_request *r;
    abac_decision *d;
    assert_int_equal(abac_request_new(ps, 0, &r), 0);
    assert_int_equal(abac_decision_new(ps, &d), 0);

    /* all conditions hold: permit by train_only with both obligations */
    paper_request(r, "train", "training", T2026_06, 99, "hospital_b", 1);
    assert_int_equal(abac_decide(ps, r, d, 0), ABAC_PERMIT);
    assert_int_equal(abac_decision_rule_count(d), 1);
    assert_string_equal(abac_policyset_rule_id(ps, abac_decision_rule(d, 0)), "train_only");
    assert_int_equal(abac_decision_obligation_count(d), 2);
    assert_string_equal(abac_decision_obligation(d, 0), "no_export");
    assert_string_equal(abac_decision_obligation(d, 1), "log_access");
    assert_null(abac_decision_obligation(d, 2));

    /* purpose */
    paper_request(r, "train", "marketing", T2026_06, 10, "hospital_a", 1);
    assert_int_equal(abac_decide(ps, r, d, ABAC_DECIDE_EXPLAIN), ABAC_DENY);
    assert_int_equal(abac_decision_rule_count(d), 0);
    assert_int_equal(abac_decision_obligation_count(d), 0);
    expect_first_miss(d, ps, "train_only", ABAC_MISS_CONDITION, "context.purpose == \"training\"");
    expect_first_miss(d, ps, "owner_reads", ABAC_MISS_ACTION, NULL);
    /* validity window: before, at the end (exclusive), inside */
    paper_request(r, "train", "training", 1767225599, 10, "hospital_a", 1);
    assert_int_equal(abac_decide(ps, r, d, ABAC_DECIDE_EXPLAIN), ABAC_DENY);
    expect_first_miss(d, ps, "train_only", ABAC_MISS_CONDITION, "context.now >= time(1767225600)");
    paper_request(r, "train", "training", 1798761600, 10, "hospital_a", 1);
    assert_int_equal(abac_decide(ps, r, d, 0), ABAC_DENY);
    paper_request(r, "train", "training", 1767225600, 10, "hospital_a", 1);
    assert_int_equal(abac_decide(ps, r, d, 0), ABAC_PERMIT);
    /* max uses */
    paper_request(r, "train", "training", T2026_06, 100, "hospital_a", 1);
    assert_int_equal(abac_decide(ps, r, d, ABAC_DECIDE_EXPLAIN), ABAC_DENY);
    expect_first_miss(d, ps, "train_only", ABAC_MISS_CONDITION, "resource.uses < 100");
    /* organisation */
    paper_request(r, "train", "training", T2026_06, 0, "bank_x", 1);
    assert_int_equal(abac_decide(ps, r, d, ABAC_DECIDE_EXPLAIN), ABAC_DENY);
    expect_first_miss(d, ps, "train_only", ABAC_MISS_CONDITION,
                      "subject.org in [\"hospital_a\", \"hospital_b\", \"lab_c\"]");
    /* credentials */
    paper_request(r, "train", "training", T2026_06, 0, "lab_c", 0);
    assert_int_equal(abac_decide(ps, r, d, ABAC_DECIDE_EXPLAIN), ABAC_DENY);
    expect_first_miss(d, ps, "train_only", ABAC_MISS_CONDITION,
                      "[\"ethics_approval\", \"gcp_certified\"] in subject.credentials");
    /* wrong resource type */
    paper_request(r, "train", "training", T2026_06, 0, "lab_c", 1);
    assert_int_equal(abac_request_set_entity(r, ABAC_RESOURCE, "m1", 2, "model", 5), 0);
    assert_int_equal(abac_decide(ps, r, d, ABAC_DECIDE_EXPLAIN), ABAC_DENY);
    expect_first_miss(d, ps, "train_only", ABAC_MISS_RESOURCE, NULL);
    /* export: forbidden by both forbids (export_raw set) and by never_export alone */
    paper_request(r, "export", "training", T2026_06, 0, "hospital_a", 1);
    assert_int_equal(abac_decide(ps, r, d, 0), ABAC_DENY);
    assert_int_equal(abac_decision_rule_count(d), 1);
    assert_string_equal(abac_policyset_rule_id(ps, abac_decision_rule(d, 0)), "never_export");
    assert_int_equal(abac_request_set_bool(r, ABAC_CONTEXT, "export_raw", 1), 0);
    assert_int_equal(abac_decide(ps, r, d, 0), ABAC_DENY);
    assert_int_equal(abac_decision_rule_count(d), 2);
    assert_string_equal(abac_policyset_rule_id(ps, abac_decision_rule(d, 0)), "no_raw_export");
    /* download with export_raw = false: no forbid, no permit -> default deny */
    paper_request(r, "download", "training", T2026_06, 0, "hospital_a", 1);
    assert_int_equal(abac_request_set_bool(r, ABAC_CONTEXT, "export_raw", 0), 0);
    assert_int_equal(abac_decide(ps, r, d, 0), ABAC_DENY);
    assert_int_equal(abac_decision_rule_count(d), 0);
    /* owner reads */
    paper_request(r, "read", "x", 0, 0, "hospital_a", 0);
    assert_int_equal(abac_decide(ps, r, d, 0), ABAC_PERMIT);
    assert_string_equal(abac_decision_obligation(d, 0), "log_access");

    abac_decision_free(d);
    abac_request_free(r);
    abac_policyset_free(ps);
}

/* Decide one request under an untyped policy: the request's context holds a=int 5,
 * s="x", b=true, is=[1,2,3], ss={"p","q"}; subject "u" in groups g1, g2; action "act";
 * resource of type "doc". */
static int decide_expr(const char *cond, int *n_err) {
    char src[2048];
    snprintf(src, sizeof src, "permit r (subject, action, resource) when { %s };", cond);
    abac_policyset *ps = compile_ok(src, NULL);
    abac_request *r;
    abac_decision *d;
    assert_int_equal(abac_request_new(ps, 0, &r), 0);
    assert_int_equal(abac_decision_new(ps, &d), 0);
    assert_int_equal(abac_request_set_action(r, "act", 3), 0);
    assert_int_equal(abac_request_set_entity(r, ABAC_SUBJECT, "u", 1, "user", 4), 0);
    assert_int_equal(abac_request_add_ancestor(r, ABAC_SUBJECT, "g1", 2), 0);
    assert_int_equal(abac_request_add_ancestor(r, ABAC_SUBJECT, "g2", 2), 0);
    assert_int_equal(abac_request_set_entity(r, ABAC_RESOURCE, "doc1", 4, "doc", 3), 0);
    assert_int_equal(abac_request_set_int(r, ABAC_CONTEXT, "a", 5), 0);
    assert_int_equal(abac_request_set_string(r, ABAC_CONTEXT, "s", "x", 1), 0);
    assert_int_equal(abac_request_set_bool(r, ABAC_CONTEXT, "b", 1), 0);
    assert_int_equal(abac_request_set_timestamp(r, ABAC_CONTEXT, "t", 1000), 0);
    int64_t is[] = {1, 2, 3};
    assert_int_equal(abac_request_set_int_set(r, ABAC_CONTEXT, "is", is, 3), 0);
    const char *ss[] = {"p", "q", "unknown-to-policy"};
    size_t sl[] = {1, 1, 17};
    assert_int_equal(abac_request_set_string_set(r, ABAC_CONTEXT, "ss", ss, sl, 3), 0);
    assert_int_equal(abac_request_set_string(r, ABAC_SUBJECT, "name", "zed", 3), 0);
    int e = abac_decide(ps, r, d, ABAC_DECIDE_EXPLAIN);
    assert_true(e == ABAC_PERMIT || e == ABAC_DENY);
    *n_err = (int)abac_decision_error_count(d);
    if (*n_err) {
        size_t ri;
        int code;
        assert_int_equal(abac_decision_error(d, 0, &ri, &code), 0);
        assert_int_equal(ri, 0);
        assert_true(code == ABAC_E_MISSING_ATTR || code == ABAC_E_RUNTIME_TYPE);
        *n_err = code;
        assert_int_equal(abac_decision_error(d, 1, &ri, &code), ABAC_E_NOT_FOUND);
    }
    abac_decision_free(d);
    abac_request_free(r);
    abac_policyset_free(ps);
    return e;
}

static void test_constructs(void **state) {
    (void)state;
    static const struct {
        const char *cond;
        int want; /* 1 permit, 0 deny, negative: deny with that runtime error */
    } cases[] = {
        {"true", 1},
        {"false", 0},
        {"context.a == 5", 1},
        {"context.a != 5", 0},
        {"context.a < 6 && context.a <= 5 && context.a > 4 && context.a >= 5", 1},
        {"context.a < 5", 0},
        {"context.a > -1", 1},
        {"context.a >= 6", 0},
        {"context.s == \"x\"", 1},
        {"context.s != \"y\"", 1},
        {"context.b", 1},
        {"!context.b", 0},
        {"context.b == true", 1},
        {"context.t > time(999) && context.t < time(\"1970-01-01T00:16:41Z\")", 1},
        {"context.t == time(\"1970-01-01T00:16:40Z\")", 1},
        {"2 in context.is", 1},
        {"4 in context.is", 0},
        {"context.a in [4, 5, 6]", 1},
        {"context.a in [1, 2]", 0},
        {"[1, 3] in context.is", 1},
        {"[1, 4] in context.is", 0},
        {"\"p\" in context.ss", 1},
        {"\"z\" in context.ss", 0},
        {"context.ss in [\"p\", \"q\", \"r\", \"unknown-to-policy\"]", 1},
        {"context.ss in [\"p\", \"q\", \"r\"]", 0},
        {"context.is == [3, 2, 1]", 1},
        {"context.s in [\"x\", \"y\"]", 1},
        {"context has a", 1},
        {"context has missing", 0},
        {"subject has name && subject.name == \"zed\"", 1},
        {"resource has name", 0},
        {"subject == \"u\"", 1},
        {"subject != \"u\"", 0},
        {"resource == \"doc1\"", 1},
        {"subject in \"g2\"", 1},
        {"subject in \"u\"", 1},
        {"subject in \"g3\"", 0},
        {"subject in [\"g3\", \"g1\"]", 1},
        {"resource in \"g1\"", 0},
        {"action == \"act\"", 1},
        {"action in [\"a\", \"act\"]", 1},
        {"action != \"act\"", 0},
        {"(context.a == 1 || context.a == 5) && !(context.s == \"y\")", 1},
        {"context.a == 1 || context.a == 2", 0},
        {"!(context.a == 5 && context.b)", 0},
        {"!!context.b", 1},
        /* short-circuit: the missing attribute is never read */
        {"false && context.nope == 1", 0},
        {"true || context.nope == 1", 1},
        {"context has nope && context.nope == 1", 0},
        /* runtime errors deny the rule and are reported */
        {"context.nope == 1", ABAC_E_MISSING_ATTR},
        {"context.a == 5 && context.nope", ABAC_E_MISSING_ATTR},
        {"context.s < 3", ABAC_E_RUNTIME_TYPE},
        {"context.a == \"5\"", ABAC_E_RUNTIME_TYPE},
        {"context.a", ABAC_E_RUNTIME_TYPE},
        {"context.s in [1, 2]", ABAC_E_RUNTIME_TYPE},
        {"context.t < 5", ABAC_E_RUNTIME_TYPE},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int err = 0;
        int e = decide_expr(cases[k].cond, &err);
        int want_e = cases[k].want > 0 ? ABAC_PERMIT : ABAC_DENY;
        if (e != want_e || (cases[k].want < 0 ? err != cases[k].want : err != 0))
            fail_msg("case %zu '%s': effect %d error %d", k, cases[k].cond, e, err);
    }
}

static void test_forbid_wins_and_deciders(void **state) {
    (void)state;
    const char *src = "permit p1 (subject, action, resource) obligations [a, b];\n"
                      "permit p2 (subject, action == \"x\", resource) obligations [b, c, b];\n"
                      "forbid f1 (subject, action == \"y\", resource);\n"
                      "permit p3 (subject, action in [\"y\", \"x\"], resource is \"t\");\n"
                      "forbid f2 (subject, action, resource is \"t\") when { context.stop };\n";
    abac_policyset *ps = compile_ok(src, NULL);
    abac_request *r;
    abac_decision *d;
    assert_int_equal(abac_request_new(ps, 0, &r), 0);
    assert_int_equal(abac_decision_new(ps, &d), 0);
    assert_int_equal(abac_request_set_action(r, "x", 1), 0);
    assert_int_equal(abac_request_set_entity(r, ABAC_RESOURCE, "o", 1, "t", 1), 0);
    assert_int_equal(abac_request_set_bool(r, ABAC_CONTEXT, "stop", 0), 0);
    assert_int_equal(abac_decide(ps, r, d, 0), ABAC_PERMIT);
    assert_int_equal(abac_decision_rule_count(d), 3);
    assert_int_equal(abac_decision_rule(d, 0), 0);
    assert_int_equal(abac_decision_rule(d, 1), 1);
    assert_int_equal(abac_decision_rule(d, 2), 3);
    assert_int_equal(abac_decision_rule(d, 3), SIZE_MAX);
    assert_int_equal(abac_decision_obligation_count(d), 3);
    assert_string_equal(abac_decision_obligation(d, 0), "a");
    assert_string_equal(abac_decision_obligation(d, 1), "b");
    assert_string_equal(abac_decision_obligation(d, 2), "c");
    /* a second decision starts clean (obligation dedup state reset) */
    assert_int_equal(abac_decide(ps, r, d, 0), ABAC_PERMIT);
    assert_int_equal(abac_decision_obligation_count(d), 3);
    /* forbid wins over three permits */
    assert_int_equal(abac_request_set_bool(r, ABAC_CONTEXT, "stop", 1), 0);
    assert_int_equal(abac_decide(ps, r, d, 0), ABAC_DENY);
    assert_int_equal(abac_decision_rule_count(d), 1);
    assert_int_equal(abac_decision_rule(d, 0), 4);
    assert_int_equal(abac_decision_obligation_count(d), 0);
    /* y: f1 matches; type u: f2 out of scope */
    assert_int_equal(abac_request_set_action(r, "y", 1), 0);
    assert_int_equal(abac_request_set_entity(r, ABAC_RESOURCE, "o", 1, "u", 1), 0);
    assert_int_equal(abac_decide(ps, r, d, 0), ABAC_DENY);
    assert_int_equal(abac_decision_rule_count(d), 1);
    assert_int_equal(abac_decision_rule(d, 0), 2);
    /* unknown action, no type: only p1 */
    assert_int_equal(abac_request_set_action(r, "zzz", 3), 0);
    assert_int_equal(abac_request_set_entity(r, ABAC_RESOURCE, "o", 1, NULL, 0), 0);
    assert_int_equal(abac_decide(ps, r, d, 0), ABAC_PERMIT);
    assert_int_equal(abac_decision_rule_count(d), 1);
    assert_int_equal(abac_decision_rule(d, 0), 0);
    /* an erroring forbid does not apply; its error is reported */
    assert_int_equal(abac_request_set_entity(r, ABAC_RESOURCE, "o", 1, "t", 1), 0);
    abac_request_reset(r);
    assert_int_equal(abac_request_set_action(r, "x", 1), 0);
    assert_int_equal(abac_request_set_entity(r, ABAC_RESOURCE, "o", 1, "t", 1), 0);
    assert_int_equal(abac_decide(ps, r, d, 0), ABAC_PERMIT);
    assert_int_equal(abac_decision_error_count(d), 1);
    size_t ri;
    int code;
    assert_int_equal(abac_decision_error(d, 0, &ri, &code), 0);
    assert_int_equal(ri, 4);
    assert_int_equal(code, ABAC_E_MISSING_ATTR);
    /* a decision or request made for another set is refused */
    abac_policyset *other = compile_ok(src, NULL);
    assert_int_equal(abac_decide(other, r, d, 0), ABAC_E_INVALID);
    assert_int_equal(abac_decide(NULL, r, d, 0), ABAC_E_INVALID);
    abac_policyset_free(other);
    abac_decision_free(d);
    abac_request_free(r);
    abac_policyset_free(ps);
}

/* Regression (issue 21): `subject == resource` compared ids only, so a user "x" equalled a
 * dataset "x"; Cedar compares type and id. */
static void test_entity_eq_compares_type(void **state) {
    (void)state;
    abac_policyset *ps = compile_ok("permit same (subject, action, resource)\n"
                                    "  when { subject == resource };",
                                    NULL);
    abac_request *r;
    abac_decision *d;
    assert_int_equal(abac_request_new(ps, 0, &r), 0);
    assert_int_equal(abac_decision_new(ps, &d), 0);
    assert_int_equal(abac_request_set_action(r, "a", 1), 0);
    assert_int_equal(abac_request_set_entity(r, ABAC_SUBJECT, "x", 1, "user", 4), 0);
    assert_int_equal(abac_request_set_entity(r, ABAC_RESOURCE, "x", 1, "dataset", 7), 0);
    assert_int_equal(abac_decide(ps, r, d, 0), ABAC_DENY);
    assert_int_equal(abac_request_set_entity(r, ABAC_RESOURCE, "x", 1, "user", 4), 0);
    assert_int_equal(abac_decide(ps, r, d, 0), ABAC_PERMIT);
    assert_int_equal(abac_request_set_entity(r, ABAC_RESOURCE, "y", 1, "user", 4), 0);
    assert_int_equal(abac_decide(ps, r, d, 0), ABAC_DENY);
    abac_decision_free(d);
    abac_request_free(r);
    abac_policyset_free(ps);
}

/* Regression (issue 21): `has "k<NUL>"` compiled a name no API can set. */
static void test_nul_attribute_name_refused(void **state) {
    (void)state;
    static const char src[] = "permit r (subject, action, resource) when { context has \"k\0z\" };";
    abac_policyset *ps = NULL;
    uint32_t l = 0, c = 0;
    char msg[128] = "";
    assert_int_equal(
        abac_policyset_compile(src, sizeof src - 1, NULL, &ps, &l, &c, msg, sizeof msg),
        ABAC_E_SYNTAX);
    assert_null(ps);
    assert_int_equal(l, 1);
    assert_int_equal(c, 57);
    assert_non_null(strstr(msg, "NUL"));
}

static void test_syntax_errors(void **state) {
    (void)state;
    int bad = 0;
    static const struct {
        const char *src;
        int code;
        uint32_t line, col;
        const char *msg;
    } cases[] = {
        {"allow r (subject, action, resource);", ABAC_E_SYNTAX, 1, 1,
         "expected 'permit' or 'forbid', found 'allow'"},
        {"permit (subject, action, resource);", ABAC_E_SYNTAX, 1, 8,
         "expected a rule id, found '('"},
        {"permit r subject", ABAC_E_SYNTAX, 1, 10, "expected '(' to open the scope"},
        {"permit r (user, action, resource);", ABAC_E_SYNTAX, 1, 11, "expected 'subject'"},
        {"permit r (subject, action, resource)", ABAC_E_SYNTAX, 1, 37,
         "expected 'when', 'obligations' or ';', found end of input"},
        {"permit r (subject, action == train, resource);", ABAC_E_SYNTAX, 1, 30,
         "expected an action name (a string)"},
        {"permit r (subject, action, resource is dataset);", ABAC_E_SYNTAX, 1, 40,
         "expected a resource type"},
        {"permit r (subject, action, resource)\n  when { context.a == }", ABAC_E_SYNTAX, 2, 23,
         "expected an expression"},
        {"permit r (subject, action, resource)\nwhen {\n  context.a == 1 &&\n}", ABAC_E_SYNTAX, 4,
         1, "expected an expression"},
        {"permit r (subject, action, resource) when { context.a == 1 ;", ABAC_E_SYNTAX, 1, 60,
         "expected '}' or an operator, found ';'"},
        {"permit r (subject, action, resource) when { (context.a == 1 };", ABAC_E_SYNTAX, 1, 61,
         "expected ')'"},
        {"permit r (subject, action, resource) when { 1 < 2 < 3 };", ABAC_E_SYNTAX, 1, 51,
         "comparisons do not chain"},
        {"permit r (subject, action, resource) when { context.s == \"abc };", ABAC_E_SYNTAX, 1, 58,
         "an unterminated string"},
        {"permit r (subject, action, resource) when { context.a == 99999999999999999999 };",
         ABAC_E_SYNTAX, 1, 58, "integer out of the int64 range"},
        {"permit r (subject, action, resource) when { context.a # 1 };", ABAC_E_SYNTAX, 1, 55,
         "found an unexpected character '#'"},
        {"permit r (subject, action, resource)\n  when { context.a @ 1 };", ABAC_E_SYNTAX, 2, 20,
         "found an unexpected character '@'"},
        {"permit r (subject, action, resource) when { context.\xc3\xa9 };", ABAC_E_SYNTAX, 1, 53,
         "found an unexpected byte 0xC3"},
        {"permit r (subject, action, resource) when { context };", ABAC_E_SYNTAX, 1, 53,
         "expected '.' or 'has' after context"},
        {"permit r (subject, action, resource) when { context.t < time(\"2026-02-30T00:00:00Z\") "
         "};",
         ABAC_E_SYNTAX, 1, 62, "expected a time"},
        {"permit r (subject, action, resource) when { context.a in [] };", ABAC_E_SYNTAX, 1, 59,
         "set literals are not empty"},
        {"permit r (subject, action, resource) when { context.a in [1, \"x\"] };", ABAC_E_TYPE, 1,
         62, "set elements must all be strings or all integers"},
        {"forbid r (subject, action, resource) obligations [x];", ABAC_E_SYNTAX, 1, 38,
         "obligations are only allowed on permit"},
        {"permit r (subject, action, resource) obligations [x,];", ABAC_E_SYNTAX, 1, 53,
         "expected an obligation name"},
        {"permit r (subject, action, resource);\npermit r (subject, action, resource);",
         ABAC_E_DUPLICATE_RULE, 2, 8, "rule id 'r' is used twice"},
        {"permit r (subject, action, resource) when { 1 < \"a\" };", ABAC_E_TYPE, 1, 47,
         "expected two ints or two timestamps"},
        {"permit r (subject, action, resource) when { 1 == \"a\" };", ABAC_E_TYPE, 1, 47,
         "expected operands of one type, found int and string"},
        {"permit r (subject, action, resource) when { 1 };", ABAC_E_TYPE, 1, 45,
         "expected a bool condition, found int"},
        {"permit r (subject, action, resource) when { 1 && true };", ABAC_E_TYPE, 1, 45,
         "expected bool operand of '&&', found int"},
        {"permit r (subject, action, resource) when { !\"x\" };", ABAC_E_TYPE, 1, 46,
         "expected bool after '!'"},
        {"permit r (subject, action, resource) when { 1 in 2 };", ABAC_E_TYPE, 1, 50,
         "expected a set after 'in'"},
        {"permit r (subject, action, resource) when { \"a\" in [1] };", ABAC_E_TYPE, 1, 49,
         "expected matching element types"},
        {"permit r (subject, action, resource) when { subject in 3 };", ABAC_E_TYPE, 1, 56,
         "expected a group (string) or set<string> after 'in'"},
        {"permit r (subject, action, resource) when { time(1) in [1] };", ABAC_E_TYPE, 1, 45,
         "expected a string, int or set before 'in'"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        uint32_t l = 0, c = 0;
        char msg[256];
        int rc = compile_err(cases[k].src, NULL, &l, &c, msg, sizeof msg);
        if (rc != cases[k].code || l != cases[k].line || c != cases[k].col ||
            !strstr(msg, cases[k].msg)) {
            print_error("case %zu: got %d at %u:%u '%s'\n", k, rc, l, c, msg);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
    /* nesting limit */
    char deep[1024] = "permit r (subject, action, resource) when { ";
    for (int k = 0; k < 100; k++)
        strcat(deep, "(");
    strcat(deep, "true");
    for (int k = 0; k < 100; k++)
        strcat(deep, ")");
    strcat(deep, " };");
    uint32_t l, c;
    char msg[128];
    assert_int_equal(compile_err(deep, NULL, &l, &c, msg, sizeof msg), ABAC_E_LIMIT);
    assert_non_null(strstr(msg, "nested too deeply"));
    /* NULL arguments and bad options */
    abac_policyset *ps = NULL;
    assert_int_equal(abac_policyset_compile("x", 1, NULL, NULL, NULL, NULL, NULL, 0),
                     ABAC_E_INVALID);
    assert_int_equal(abac_policyset_compile(NULL, 3, NULL, &ps, NULL, NULL, NULL, 0),
                     ABAC_E_INVALID);
    abac_compile_options o;
    assert_int_equal(abac_compile_options_init(&o), 0);
    assert_int_equal(abac_compile_options_init(NULL), ABAC_E_INVALID);
    o.version = 99;
    assert_int_equal(abac_policyset_compile("", 0, &o, &ps, NULL, NULL, NULL, 0), ABAC_E_INVALID);
    uint8_t dupkeys[64] = {0};
    abac_compile_options_init(&o);
    o.members = dupkeys;
    o.n_members = 2;
    assert_int_equal(abac_policyset_compile("", 0, &o, &ps, NULL, NULL, NULL, 0), ABAC_E_INVALID);
    assert_null(ps);
    /* empty policy: compiles, everything is denied */
    ps = compile_ok("// nothing\n", NULL);
    abac_request *r;
    abac_decision *d;
    assert_int_equal(abac_request_new(ps, 0, &r), 0);
    assert_int_equal(abac_decision_new(ps, &d), 0);
    assert_int_equal(abac_decide(ps, r, d, ABAC_DECIDE_EXPLAIN), ABAC_DENY);
    abac_decision_free(d);
    abac_request_free(r);
    abac_policyset_free(ps);
}

static void test_schema_errors(void **state) {
    (void)state;
    static const struct {
        const char *schema, *src;
        int code;
        uint32_t line, col;
        const char *msg;
    } cases[] = {
        {"subject { org: strin }", "", ABAC_E_SCHEMA, 1, 16, "expected a type"},
        {"subjects { }", "", ABAC_E_SCHEMA, 1, 1, "expected 'subject', 'resource' or 'context'"},
        {"subject { a: int, a: bool }", "", ABAC_E_SCHEMA, 1, 19, "declared twice"},
        {"subject { a: set<bool> }", "", ABAC_E_SCHEMA, 1, 18, "expected 'string' or 'int'"},
        {"subject { a int }", "", ABAC_E_SCHEMA, 1, 13, "expected ':'"},
        {"context { a: int }", "permit r (subject, action, resource) when { context.b == 1 };",
         ABAC_E_UNKNOWN_ATTR, 1, 45, "attribute 'b' is not declared in the schema of context"},
        {"context { a: int }", "permit r (subject, action, resource) when { subject has a };",
         ABAC_E_UNKNOWN_ATTR, 1, 45, "schema of subject"},
        {"context { a: int }", "permit r (subject, action, resource) when { context.a == \"x\" };",
         ABAC_E_TYPE, 1, 55, "found int and string"},
        {"context { a: string }", "permit r (subject, action, resource) when { context.a };",
         ABAC_E_TYPE, 1, 45, "expected a bool condition, found string"},
        {"context { t: timestamp }",
         "permit r (subject, action, resource) when { context.t < 100 };", ABAC_E_TYPE, 1, 55,
         "found timestamp and int"},
        {"context { s: set<int> }",
         "permit r (subject, action, resource) when { \"x\" in context.s };", ABAC_E_TYPE, 1, 49,
         "found string in set<int>"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        uint32_t l = 0, c = 0;
        char msg[256];
        int rc = compile_err(cases[k].src, cases[k].schema, &l, &c, msg, sizeof msg);
        if (rc != cases[k].code || l != cases[k].line || c != cases[k].col ||
            !strstr(msg, cases[k].msg))
            fail_msg("case %zu: got %d at %u:%u '%s'", k, rc, l, c, msg);
    }
    /* request values are checked against the schema */
    abac_policyset *ps = compile_ok(PAPER, SCHEMA);
    abac_request *r;
    assert_int_equal(abac_request_new(ps, 0, &r), 0);
    assert_int_equal(abac_request_set_string(r, ABAC_RESOURCE, "uses", "7", 1), ABAC_E_ATTR_TYPE);
    assert_int_equal(abac_request_set_int(r, ABAC_CONTEXT, "now", 7), ABAC_E_ATTR_TYPE);
    assert_int_equal(abac_request_set_bool(r, ABAC_SUBJECT, "org", 1), ABAC_E_ATTR_TYPE);
    assert_int_equal(abac_request_set_int(r, 7, "uses", 1), ABAC_E_INVALID);
    assert_int_equal(abac_request_set_int(r, ABAC_RESOURCE, NULL, 1), ABAC_E_INVALID);
    assert_int_equal(abac_request_set_entity(r, ABAC_CONTEXT, "x", 1, NULL, 0), ABAC_E_INVALID);
    /* undeclared and unused attributes are accepted and ignored */
    assert_int_equal(abac_request_set_int(r, ABAC_RESOURCE, "colour", 1), ABAC_OK);
    abac_request_free(r);
    abac_policyset_free(ps);
}

static void test_arena_limits(void **state) {
    (void)state;
    abac_policyset *ps = compile_ok(
        "permit r (subject, action, resource) when { context.s == \"a\" && subject in \"g\" };",
        NULL);
    abac_request *r;
    size_t small = abac_request_arena_size(ps, 0, 0);
    assert_true(small > 0);
    assert_int_equal(abac_request_new(ps, small, &r), 0);
    char big[200];
    memset(big, 'z', sizeof big);
    /* no room for an uninterned 200-byte string: refused, request unchanged */
    assert_int_equal(abac_request_set_string(r, ABAC_CONTEXT, "s", big, sizeof big),
                     ABAC_E_BUFFER_TOO_SMALL);
    /* an interned value needs no arena */
    assert_int_equal(abac_request_set_string(r, ABAC_CONTEXT, "s", "a", 1), ABAC_OK);
    abac_decision *d;
    assert_int_equal(abac_decision_new(ps, &d), 0);
    assert_int_equal(abac_request_set_entity(r, ABAC_SUBJECT, "g", 1, NULL, 0), 0);
    assert_int_equal(abac_decide(ps, r, d, 0), ABAC_PERMIT);
    for (int k = 0; k < 256; k++)
        assert_int_equal(abac_request_add_ancestor(r, ABAC_SUBJECT, "g", 1), 0);
    assert_int_equal(abac_request_add_ancestor(r, ABAC_SUBJECT, "g", 1), ABAC_E_BUFFER_TOO_SMALL);
    abac_request_reset(r);
    assert_int_equal(abac_decide(ps, r, d, 0), ABAC_DENY);
    assert_int_equal(abac_decision_error_count(d), 1);
    abac_decision_free(d);
    abac_request_free(r);
    assert_int_equal(abac_request_new(NULL, 0, &r), ABAC_E_INVALID);
    assert_int_equal(abac_decision_new(ps, NULL), ABAC_E_INVALID);
    abac_request_free(NULL);
    abac_decision_free(NULL);
    abac_policyset_free(NULL);
    abac_policyset_free(ps);
}

static uint8_t *encode_all(const abac_policyset *ps, size_t *n) {
    *n = abac_policyset_encoded_size(ps);
    uint8_t *b = malloc(*n);
    size_t got;
    assert_int_equal(abac_policyset_encode(ps, b, *n, &got), 0);
    assert_int_equal(got, *n);
    return b;
}

static void test_canonical_form(void **state) {
    (void)state;
    /* the same policy written two ways encodes to the same bytes */
    const char *a = "permit p (subject, action in [\"b\", \"a\", \"b\"], resource is \"t\")\n"
                    "  when { context.x in [3, 1, 2, 1] && subject.o in [\"z\", \"y\"] }\n"
                    "  obligations [o1, o2, o1];";
    const char *b = "// reformatted\npermit p(subject,action in[\"a\",\"b\"],resource is \"t\")"
                    "when{context.x in[1,2,3]&&subject.o in[\"y\",\"z\"]}obligations[o1,o2];";
    abac_policyset *pa = compile_ok(a, NULL), *pb = compile_ok(b, NULL);
    size_t na, nb;
    uint8_t *ea = encode_all(pa, &na), *eb = encode_all(pb, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(ea, eb, na);
    uint8_t ha[32], hb[32];
    assert_int_equal(abac_policyset_hash(pa, ha), 0);
    assert_int_equal(abac_policyset_hash(pb, hb), 0);
    assert_memory_equal(ha, hb, 32);
    assert_memory_equal(ea, "ABPS\x01", 5);
    free(eb);
    abac_policyset_free(pb);

    /* round trip of the paper policies with schema and members */
    abac_compile_options o = ABAC_COMPILE_OPTIONS_INIT;
    uint8_t keys[3 * 32];
    for (int k = 0; k < 96; k++)
        keys[k] = (uint8_t)(250 - k);
    o.schema = SCHEMA;
    o.schema_len = strlen(SCHEMA);
    o.set_version = 7;
    o.members = keys;
    o.n_members = 3;
    abac_policyset *pp;
    assert_int_equal(abac_policyset_compile(PAPER, strlen(PAPER), &o, &pp, NULL, NULL, NULL, 0), 0);
    assert_int_equal(abac_policyset_version(pp), 7);
    assert_int_equal(abac_policyset_member_count(pp), 3);
    assert_true(memcmp(abac_policyset_member(pp, 0), abac_policyset_member(pp, 1), 32) < 0);
    assert_null(abac_policyset_member(pp, 3));
    size_t n;
    uint8_t *e = encode_all(pp, &n);
    abac_policyset *dd;
    assert_int_equal(abac_policyset_decode(e, n, &dd), 0);
    size_t n2;
    uint8_t *e2 = encode_all(dd, &n2);
    assert_int_equal(n, n2);
    assert_memory_equal(e, e2, n);
    assert_int_equal(abac_policyset_version(dd), 7);
    assert_string_equal(abac_policyset_rule_id(dd, 3), "owner_reads");
    /* the decoded set decides like the compiled one */
    abac_request *r;
    abac_decision *d;
    assert_int_equal(abac_request_new(dd, 0, &r), 0);
    assert_int_equal(abac_decision_new(dd, &d), 0);
    paper_request(r, "train", "training", T2026_06, 5, "lab_c", 1);
    assert_int_equal(abac_decide(dd, r, d, 0), ABAC_PERMIT);
    assert_string_equal(abac_decision_obligation(d, 0), "no_export");
    paper_request(r, "train", "training", T2026_06, 100, "lab_c", 1);
    assert_int_equal(abac_decide(dd, r, d, ABAC_DECIDE_EXPLAIN), ABAC_DENY);
    char t[128];
    size_t ri;
    int why;
    uint32_t l = 9, c = 9;
    assert_int_equal(abac_decision_explain(d, 0, &ri, &why, t, sizeof t, &l, &c), 0);
    assert_string_equal(t, "resource.uses < 100");
    assert_int_equal(l, 0); /* no source positions in the canonical form */
    assert_int_equal(abac_decision_explain(d, 99, &ri, &why, t, sizeof t, &l, &c),
                     ABAC_E_NOT_FOUND);
    abac_decision_free(d);
    abac_request_free(r);

    /* decoder: truncation, trailing byte, magic, version, non-canonical */
    abac_policyset *bad = NULL;
    for (size_t k = 0; k < n; k++) {
        int rc = abac_policyset_decode(e, k, &bad);
        assert_true(rc == ABAC_E_FORMAT || rc == ABAC_E_FORMAT_VERSION);
        assert_null(bad);
    }
    uint8_t *longer = malloc(n + 1);
    memcpy(longer, e, n);
    longer[n] = 0;
    assert_int_equal(abac_policyset_decode(longer, n + 1, &bad), ABAC_E_FORMAT);
    longer[0] = 'X';
    assert_int_equal(abac_policyset_decode(longer, n, &bad), ABAC_E_FORMAT_VERSION);
    longer[0] = 'A';
    longer[4] = 2;
    assert_int_equal(abac_policyset_decode(longer, n, &bad), ABAC_E_FORMAT_VERSION);
    free(longer);
    /* every single-byte change is refused or gives a set that re-encodes to itself */
    uint8_t *m = malloc(n);
    for (size_t k = 0; k < n; k++) {
        memcpy(m, e, n);
        m[k] ^= 0x41;
        int rc = abac_policyset_decode(m, n, &bad);
        if (rc == 0) {
            size_t n3;
            uint8_t *e3 = encode_all(bad, &n3);
            assert_int_equal(n3, n);
            assert_memory_equal(e3, m, n);
            free(e3);
            abac_policyset_free(bad);
            bad = NULL;
        } else {
            assert_true(rc <= -400 && rc >= -499);
        }
    }
    free(m);
    /* a set literal out of order is not canonical */
    size_t na2;
    uint8_t *ea2 = encode_all(pa, &na2);
    for (size_t k = 0; k + 8 < na2; k++) { /* find the int set [1,2,3]: swap 1 and 2 */
        static const uint8_t one[8] = {0, 0, 0, 0, 0, 0, 0, 1}, two[8] = {0, 0, 0, 0, 0, 0, 0, 2};
        if (!memcmp(ea2 + k, one, 8) && !memcmp(ea2 + k + 8, two, 8)) {
            memcpy(ea2 + k, two, 8);
            memcpy(ea2 + k + 8, one, 8);
            break;
        }
    }
    assert_int_equal(abac_policyset_decode(ea2, na2, &bad), ABAC_E_FORMAT);
    free(ea2);
    size_t got;
    assert_int_equal(abac_policyset_encode(pp, e, 3, &got), ABAC_E_BUFFER_TOO_SMALL);
    assert_int_equal(got, n);
    free(e);
    free(e2);
    free(ea);
    abac_policyset_free(dd);
    abac_policyset_free(pp);
    abac_policyset_free(pa);
}

static void test_index_many_rules(void **state) {
    (void)state;
    /* 1,000 rules over 10 actions and 5 types, some wildcards; the indexed decision must list
     * exactly the rules a direct reading of the scopes gives. */
    size_t cap = 1 << 20, len = 0;
    char *src = malloc(cap);
    for (int k = 0; k < 1000; k++) {
        const char *eff = k % 13 == 0 ? "forbid" : "permit";
        char act[64] = "", typ[32] = "";
        if (k % 7 != 0)
            snprintf(act, sizeof act, " == \"a%d\"", k % 10);
        if (k % 5 != 0)
            snprintf(typ, sizeof typ, " is \"t%d\"", k % 5);
        len += (size_t)snprintf(src + len, cap - len,
                                "%s r%d (subject, action%s, resource%s) when { context.v > %d };\n",
                                eff, k, act, typ, k % 50);
    }
    abac_policyset *ps = compile_ok(src, NULL);
    abac_request *r;
    abac_decision *d;
    assert_int_equal(abac_request_new(ps, 0, &r), 0);
    assert_int_equal(abac_decision_new(ps, &d), 0);
    for (int a = 0; a < 11; a++) {
        for (int t = 0; t < 6; t++) {
            for (int v = 0; v < 60; v += 7) {
                char an[8], tn[8];
                snprintf(an, sizeof an, "a%d", a);
                snprintf(tn, sizeof tn, "t%d", t);
                abac_request_reset(r);
                assert_int_equal(abac_request_set_action(r, an, strlen(an)), 0);
                assert_int_equal(abac_request_set_entity(r, ABAC_RESOURCE, "x", 1, tn, 2), 0);
                assert_int_equal(abac_request_set_int(r, ABAC_CONTEXT, "v", v), 0);
                int e = abac_decide(ps, r, d, 0);
                /* reference */
                int nf = 0, np = 0, want[1000], nw = 0;
                for (int k = 0; k < 1000; k++) {
                    int am = k % 7 == 0 || (k % 10 == a);
                    int tm = k % 5 == 0 || (k % 5 == t);
                    if (am && tm && v > k % 50) {
                        if (k % 13 == 0)
                            nf++;
                        else
                            np++;
                    }
                }
                int fwin = nf > 0;
                for (int k = 0; k < 1000; k++) {
                    int am = k % 7 == 0 || (k % 10 == a);
                    int tm = k % 5 == 0 || (k % 5 == t);
                    if (am && tm && v > k % 50 && ((k % 13 == 0) == fwin))
                        want[nw++] = k;
                }
                assert_int_equal(e, fwin ? ABAC_DENY : (np ? ABAC_PERMIT : ABAC_DENY));
                assert_int_equal(abac_decision_rule_count(d), (size_t)nw);
                for (int k = 0; k < nw; k++)
                    assert_int_equal(abac_decision_rule(d, (size_t)k), (size_t)want[k]);
            }
        }
    }
    abac_decision_free(d);
    abac_request_free(r);
    abac_policyset_free(ps);
    free(src);
}

/* abac_decide never allocates: glibc's heap counters do not move over many decisions (under
 * ASan the counters are not glibc's and the check is vacuous). */
static void test_decide_does_not_allocate(void **state) {
    (void)state;
    abac_policyset *ps = compile_ok(PAPER, SCHEMA);
    abac_request *r;
    abac_decision *d;
    assert_int_equal(abac_request_new(ps, 0, &r), 0);
    assert_int_equal(abac_decision_new(ps, &d), 0);
    paper_request(r, "train", "training", T2026_06, 99, "hospital_b", 1);
    int permits = 0;
#ifdef __GLIBC__
    struct mallinfo2 before = mallinfo2();
#endif
    for (int k = 0; k < 1000; k++)
        permits += abac_decide(ps, r, d, k % 2 ? ABAC_DECIDE_EXPLAIN : 0) == ABAC_PERMIT;
#ifdef __GLIBC__
    struct mallinfo2 after = mallinfo2();
    assert_int_equal(before.uordblks, after.uordblks);
    assert_int_equal(before.hblkhd, after.hblkhd);
#endif
    assert_int_equal(permits, 1000);
    abac_decision_free(d);
    abac_request_free(r);
    abac_policyset_free(ps);
}

static void test_deep_chain_limit(void **state) {
    (void)state;
    /* a chain of 300 conjuncts is 300 levels deep: refused with a position */
    size_t cap = 16384, n = 0;
    char *src = malloc(cap);
    n += (size_t)snprintf(src + n, cap - n, "permit r (subject, action, resource) when { true");
    for (int k = 0; k < 300; k++)
        n += (size_t)snprintf(src + n, cap - n, " && true");
    snprintf(src + n, cap - n, " };");
    uint32_t l = 0, c = 0;
    char msg[128];
    assert_int_equal(compile_err(src, NULL, &l, &c, msg, sizeof msg), ABAC_E_LIMIT);
    assert_int_equal(l, 1);
    assert_true(c > 45);
    assert_non_null(strstr(msg, "nested too deeply"));
    /* an over-long identifier is a syntax error, not an allocation failure */
    n = (size_t)snprintf(src, cap, "permit ");
    memset(src + n, 'x', 5000);
    snprintf(src + n + 5000, cap - n - 5000, " (subject, action, resource);");
    assert_int_equal(compile_err(src, NULL, &l, &c, msg, sizeof msg), ABAC_E_SYNTAX);
    assert_int_equal(c, 8);
    assert_non_null(strstr(msg, "an identifier longer than 4096 bytes"));
    free(src);
}

static void test_strerror_version(void **state) {
    (void)state;
    int codes[] = {ABAC_OK,
                   ABAC_E_INVALID,
                   ABAC_E_NOMEM,
                   ABAC_E_SYNTAX,
                   ABAC_E_TYPE,
                   ABAC_E_SCHEMA,
                   ABAC_E_UNKNOWN_ATTR,
                   ABAC_E_DUPLICATE_RULE,
                   ABAC_E_LIMIT,
                   ABAC_E_FORMAT,
                   ABAC_E_FORMAT_VERSION,
                   ABAC_E_BUFFER_TOO_SMALL,
                   ABAC_E_ATTR_TYPE,
                   ABAC_E_NOT_FOUND,
                   ABAC_E_MISSING_ATTR,
                   ABAC_E_RUNTIME_TYPE,
                   ABAC_E_STALE_VERSION,
                   ABAC_E_REPLAY,
                   ABAC_E_DUPLICATE_SIGNER,
                   ABAC_E_NOT_MEMBER,
                   ABAC_E_BAD_SIGNATURE,
                   ABAC_E_NO_QUORUM,
                   ABAC_E_WRONG_BASE,
                   ABAC_E_NO_MEMBERS};
    size_t n = sizeof codes / sizeof codes[0];
    for (size_t i = 0; i < n; i++) {
        assert_true(codes[i] == 0 || (codes[i] <= -400 && codes[i] >= -499));
        for (size_t j = i + 1; j < n; j++)
            assert_string_not_equal(abac_strerror(codes[i]), abac_strerror(codes[j]));
        assert_string_not_equal(abac_strerror(codes[i]), abac_strerror(-499));
    }
    char v[32];
    snprintf(v, sizeof v, "%d.%d.%d", ABAC_VERSION_MAJOR, ABAC_VERSION_MINOR, ABAC_VERSION_PATCH);
    assert_string_equal(abac_version_string(), v);
    assert_string_equal(ABAC_VERSION_STRING, v);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paper_policies),
        cmocka_unit_test(test_constructs),
        cmocka_unit_test(test_forbid_wins_and_deciders),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_entity_eq_compares_type),
        cmocka_unit_test(test_nul_attribute_name_refused),
        cmocka_unit_test(test_schema_errors),
        cmocka_unit_test(test_arena_limits),
        cmocka_unit_test(test_canonical_form),
        cmocka_unit_test(test_index_many_rules),
        cmocka_unit_test(test_strerror_version),
        cmocka_unit_test(test_decide_does_not_allocate),
        cmocka_unit_test(test_deep_chain_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
