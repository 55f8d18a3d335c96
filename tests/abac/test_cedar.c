/* libabac's Cedar engine from C: parsing, entities and requests in Cedar's JSON, decisions
 * (forbid overrides permit, errors reported per policy), parse errors with line and column,
 * NUL bytes in names kept, and no allocation per decision once warmed up. */
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "abac.h"
#include "abac/cedar.h"

static const char POLICIES[] =
    "@id(\"members-train\")\n"
    "permit(principal is Member in Org::\"hospital_a\", action == Action::\"train\",\n"
    "       resource is Dataset)\n"
    "when { context.purpose == \"training\" && resource.uses < 100 }\n"
    "unless { context has export && context.export };\n"
    "forbid(principal, action, resource) when { principal.suspended };\n"
    "permit(principal, action in [Action::\"read\"], resource) when { principal.nope };\n";

static const char ENTITIES[] =
    "[{\"uid\": {\"type\": \"Member\", \"id\": \"did:a\"}, \"attrs\": {\"suspended\": false},"
    "  \"parents\": [{\"type\": \"Org\", \"id\": \"hospital_a\"}]},"
    " {\"uid\": {\"type\": \"Member\", \"id\": \"did:s\"}, \"attrs\": {\"suspended\": true},"
    "  \"parents\": [{\"type\": \"Org\", \"id\": \"hospital_a\"}]},"
    " {\"uid\": {\"type\": \"Org\", \"id\": \"hospital_a\"}, \"attrs\": {}, \"parents\": []},"
    " {\"uid\": {\"type\": \"Dataset\", \"id\": \"d1\"}, \"attrs\": {\"uses\": 3}, \"parents\": "
    "[]}]";

static abac_cedar_request *request(const char *json) {
    abac_cedar_request *rq = NULL;
    char msg[128];
    int rc = abac_cedar_request_parse_json(&rq, json, strlen(json), msg, sizeof msg);
    if (rc)
        print_error("request: %d %s\n", rc, msg);
    assert_int_equal(rc, 0);
    return rq;
}

static void test_decide(void **state) {
    (void)state;
    abac_cedar_policies *ps = NULL;
    abac_cedar_entities *es = NULL;
    abac_cedar_response *resp = NULL;
    char msg[256];
    assert_int_equal(
        abac_cedar_policies_parse(&ps, POLICIES, sizeof POLICIES - 1, NULL, NULL, msg, sizeof msg),
        0);
    assert_int_equal(abac_cedar_policy_count(ps), 3);
    assert_string_equal(abac_cedar_policy_id(ps, 2), "policy2");
    assert_null(abac_cedar_policy_id(ps, 3));
    assert_int_equal(abac_cedar_policy_effect(ps, 1), ABAC_DENY);
    size_t vl = 0;
    const char *v = abac_cedar_policy_annotation(ps, 0, "id", 2, &vl);
    assert_non_null(v);
    assert_int_equal(vl, 13);
    assert_memory_equal(v, "members-train", 13);
    assert_null(abac_cedar_policy_annotation(ps, 1, "id", 2, &vl));
    assert_int_equal(
        abac_cedar_entities_parse_json(&es, ENTITIES, sizeof ENTITIES - 1, msg, sizeof msg), 0);
    assert_int_equal(abac_cedar_entity_count(es), 4);
    assert_int_equal(abac_cedar_response_new(&resp, ps, 0), 0);

    abac_cedar_request *ok =
        request("{\"principal\": {\"type\": \"Member\", \"id\": \"did:a\"}, \"action\": "
                "\"Action::\\\"train\\\"\", \"resource\": {\"type\": \"Dataset\", \"id\": \"d1\"}, "
                "\"context\": {\"purpose\": \"training\"}}");
    assert_int_equal(abac_cedar_is_authorized(ps, es, ok, resp), ABAC_PERMIT);
    assert_int_equal(abac_cedar_response_reason_count(resp), 1);
    assert_int_equal(abac_cedar_response_reason(resp, 0), 0);
    assert_int_equal(abac_cedar_response_reason(resp, 1), SIZE_MAX);
    assert_int_equal(abac_cedar_response_error_count(resp), 0);

    /* forbid overrides permit; the suspended member is denied with the forbid as reason */
    abac_cedar_request *susp =
        request("{\"principal\": \"Member::\\\"did:s\\\"\", \"action\": \"Action::\\\"train\\\"\", "
                "\"resource\": \"Dataset::\\\"d1\\\"\", \"context\": {\"purpose\": \"training\"}}");
    assert_int_equal(abac_cedar_is_authorized(ps, es, susp, resp), ABAC_DENY);
    assert_int_equal(abac_cedar_response_reason_count(resp), 1);
    assert_int_equal(abac_cedar_response_reason(resp, 0), 1);

    /* an erroring policy is skipped and reported: default deny */
    abac_cedar_request *rd =
        request("{\"principal\": \"Member::\\\"did:a\\\"\", \"action\": \"Action::\\\"read\\\"\", "
                "\"resource\": \"Dataset::\\\"d1\\\"\"}");
    assert_int_equal(abac_cedar_is_authorized(ps, es, rd, resp), ABAC_DENY);
    assert_int_equal(abac_cedar_response_reason_count(resp), 0);
    assert_int_equal(abac_cedar_response_error_count(resp), 1);
    size_t pi;
    int code;
    assert_int_equal(abac_cedar_response_error(resp, 0, &pi, &code), 0);
    assert_int_equal(pi, 2);
    assert_int_equal(code, ABAC_E_MISSING_ATTR);
    assert_int_equal(abac_cedar_response_error(resp, 1, &pi, &code), ABAC_E_NOT_FOUND);

    /* no entities at all: the member is in no organisation (policy0's scope fails) and the
     * forbid reads an attribute of an entity that does not exist */
    assert_int_equal(abac_cedar_is_authorized(ps, NULL, ok, resp), ABAC_DENY);
    assert_int_equal(abac_cedar_response_error_count(resp), 1);
    assert_int_equal(abac_cedar_response_error(resp, 0, &pi, &code), 0);
    assert_int_equal(pi, 1);
    assert_int_equal(code, ABAC_E_NO_ENTITY);

    /* a response made for other policies is refused */
    abac_cedar_policies *other = NULL;
    assert_int_equal(abac_cedar_policies_parse(&other, "", 0, NULL, NULL, NULL, 0), 0);
    assert_int_equal(abac_cedar_is_authorized(other, es, ok, resp), ABAC_E_INVALID);
    assert_int_equal(abac_cedar_is_authorized(ps, es, NULL, resp), ABAC_E_INVALID);
    abac_cedar_policies_free(other);

#ifdef __GLIBC__
    abac_cedar_is_authorized(ps, es, ok, resp);
    struct mallinfo2 before = mallinfo2();
#endif
    int permits = 0;
    for (int k = 0; k < 1000; k++)
        permits += abac_cedar_is_authorized(ps, es, k % 2 ? ok : susp, resp) == ABAC_PERMIT;
#ifdef __GLIBC__
    struct mallinfo2 after = mallinfo2();
    assert_int_equal(before.uordblks, after.uordblks);
    assert_int_equal(before.hblkhd, after.hblkhd);
#endif
    assert_int_equal(permits, 500);

    abac_cedar_request_free(ok);
    abac_cedar_request_free(susp);
    abac_cedar_request_free(rd);
    abac_cedar_response_free(resp);
    abac_cedar_entities_free(es);
    abac_cedar_policies_free(ps);
}

static void test_parse_errors(void **state) {
    (void)state;
    static const struct {
        const char *src;
        int code;
        uint32_t line, col;
        const char *msg;
    } cases[] = {
        {"permit(principal, action, resource) when { context.x # 1 };", ABAC_E_SYNTAX, 1, 54,
         "found an unexpected character '#'"},
        {"permit(principal, action, resource)\nwhen { context.\xc3\xa9 };", ABAC_E_SYNTAX, 2, 16,
         "unexpected character '\xc3\xa9' (U+00E9)"},
        {"permit(principal, action, resource) when { context.x \x01 };", ABAC_E_SYNTAX, 1, 54,
         "unexpected byte 0x01"},
        {"permit (subject, action, resource);", ABAC_E_SYNTAX, 1, 9, "expected 'principal'"},
        {"permit(principal, action, resource)", ABAC_E_SYNTAX, 1, 36, "found end of input"},
        {"permit(principal, action, resource) when { \"abc };", ABAC_E_SYNTAX, 1, 44,
         "unterminated string"},
        {"permit(principal, action, resource) when { \"\\q\" };", ABAC_E_SYNTAX, 1, 44,
         "unknown escape"},
        {"@id(\"a\") @id(\"b\") permit(principal, action, resource);", ABAC_E_SYNTAX, 1, 11,
         "duplicate annotation"},
        /* templates (1.1.0): a scope's own slot only */
        {"permit(principal == ?resource, action, resource);", ABAC_E_SYNTAX, 1, 22,
         "'principal' after '?'"},
        {"permit(principal, action == ?action, resource);", ABAC_E_SYNTAX, 1, 29, "'?'"},
    };
    int bad = 0;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        abac_cedar_policies *ps = NULL;
        uint32_t l = 0, c = 0;
        char msg[256] = "";
        int rc = abac_cedar_policies_parse(&ps, cases[k].src, strlen(cases[k].src), &l, &c, msg,
                                           sizeof msg);
        if (rc != cases[k].code || l != cases[k].line || c != cases[k].col ||
            !strstr(msg, cases[k].msg)) {
            print_error("case %zu: got %d at %u:%u '%s'\n", k, rc, l, c, msg);
            bad++;
        }
        if (ps)
            bad++;
    }
    assert_int_equal(bad, 0);
    /* nesting limit */
    char deep[1024] = "permit(principal, action, resource) when { ";
    for (int k = 0; k < 100; k++)
        strcat(deep, "(");
    strcat(deep, "true");
    for (int k = 0; k < 100; k++)
        strcat(deep, ")");
    strcat(deep, " };");
    abac_cedar_policies *ps = NULL;
    assert_int_equal(abac_cedar_policies_parse(&ps, deep, strlen(deep), NULL, NULL, NULL, 0),
                     ABAC_E_LIMIT);
    assert_int_equal(abac_cedar_policies_parse(NULL, "", 0, NULL, NULL, NULL, 0), ABAC_E_INVALID);
    assert_int_equal(abac_cedar_policies_parse(&ps, NULL, 3, NULL, NULL, NULL, 0), ABAC_E_INVALID);
}

/* Regression (issue 21): names are taken with their length; a NUL byte is part of a name. */
static void test_nul_in_names(void **state) {
    (void)state;
    static const char pol[] = "permit(principal, action, resource) when { principal has k };\n"
                              "permit(principal, action, resource) when { principal has \"k\\0zz\" "
                              "};";
    static const char ents[] = "[{\"uid\": {\"type\": \"U\", \"id\": \"a\"}, \"attrs\": "
                               "{\"k\\u0000zz\": 1}, \"parents\": []}]";
    abac_cedar_policies *ps = NULL;
    abac_cedar_entities *es = NULL;
    abac_cedar_response *resp = NULL;
    assert_int_equal(abac_cedar_policies_parse(&ps, pol, sizeof pol - 1, NULL, NULL, NULL, 0), 0);
    assert_int_equal(abac_cedar_entities_parse_json(&es, ents, sizeof ents - 1, NULL, 0), 0);
    assert_int_equal(abac_cedar_response_new(&resp, ps, 0), 0);
    abac_cedar_request *rq =
        request("{\"principal\": \"U::\\\"a\\\"\", \"action\": \"A::\\\"x\\\"\", "
                "\"resource\": \"R::\\\"r\\\"\"}");
    assert_int_equal(abac_cedar_is_authorized(ps, es, rq, resp), ABAC_PERMIT);
    assert_int_equal(abac_cedar_response_reason_count(resp), 1);
    assert_int_equal(abac_cedar_response_reason(resp, 0), 1);
    abac_cedar_request_free(rq);
    abac_cedar_response_free(resp);
    abac_cedar_entities_free(es);
    abac_cedar_policies_free(ps);
}

static void test_json_errors(void **state) {
    (void)state;
    static const char *bad_ents[] = {
        "",
        "{}",
        "[1]",
        "[{\"uid\": {\"type\": \"A\", \"id\": \"a\"}, \"attrs\": {}}]",
        "[{\"uid\": {\"type\": \"A\", \"id\": \"a\"}, \"attrs\": {\"x\": 1.5}, \"parents\": []}]",
        "[{\"uid\": {\"type\": \"A\", \"id\": \"a\"}, \"attrs\": {\"x\": 99999999999999999999}, "
        "\"parents\": []}]",
        "[{\"uid\": {\"type\": \"A\", \"id\": \"a\"}, \"attrs\": {\"x\": \"\\ud800\"}, "
        "\"parents\": []}]",
        "[{\"uid\": {\"type\": \"A\", \"id\": \"a\"}, \"attrs\": {}, \"parents\": [1]}]",
        "[{\"uid\": {\"type\": \"A\", \"id\": \"a\"}, \"attrs\": {\"a\": 1, \"a\": 2}, "
        "\"parents\": []}]",
        "[] x",
    };
    for (size_t k = 0; k < sizeof bad_ents / sizeof bad_ents[0]; k++) {
        abac_cedar_entities *es = NULL;
        char msg[128] = "";
        int rc =
            abac_cedar_entities_parse_json(&es, bad_ents[k], strlen(bad_ents[k]), msg, sizeof msg);
        if (rc != ABAC_E_JSON || es || !msg[0])
            print_error("entities case %zu: %d '%s'\n", k, rc, msg);
        assert_int_equal(rc, ABAC_E_JSON);
        assert_null(es);
    }
    /* a cycle in the parents is closed without looping */
    static const char cyc[] =
        "[{\"uid\": {\"type\": \"G\", \"id\": \"a\"}, \"attrs\": {}, \"parents\": [{\"type\": "
        "\"G\", "
        "\"id\": \"b\"}]}, {\"uid\": {\"type\": \"G\", \"id\": \"b\"}, \"attrs\": {}, \"parents\": "
        "[{\"type\": \"G\", \"id\": \"a\"}, {\"type\": \"G\", \"id\": \"c\"}]}]";
    abac_cedar_entities *es = NULL;
    assert_int_equal(abac_cedar_entities_parse_json(&es, cyc, sizeof cyc - 1, NULL, 0), 0);
    abac_cedar_policies *ps = NULL;
    static const char pol[] = "permit(principal in G::\"c\", action, resource);";
    assert_int_equal(abac_cedar_policies_parse(&ps, pol, sizeof pol - 1, NULL, NULL, NULL, 0), 0);
    abac_cedar_response *resp = NULL;
    assert_int_equal(abac_cedar_response_new(&resp, ps, 0), 0);
    abac_cedar_request *rq =
        request("{\"principal\": \"G::\\\"a\\\"\", \"action\": \"A::\\\"x\\\"\", "
                "\"resource\": \"R::\\\"r\\\"\"}");
    assert_int_equal(abac_cedar_is_authorized(ps, es, rq, resp), ABAC_PERMIT);
    abac_cedar_request_free(rq);
    abac_cedar_response_free(resp);
    abac_cedar_policies_free(ps);
    abac_cedar_entities_free(es);
    static const char *bad_req[] = {
        "{}",
        "{\"principal\": \"U::\\\"a\\\"\", \"action\": \"A::\\\"x\\\"\"}",
        "{\"principal\": \"nope\", \"action\": \"A::\\\"x\\\"\", \"resource\": \"R::\\\"r\\\"\"}",
        "{\"principal\": \"U::\\\"a\\\"\", \"action\": \"A::\\\"x\\\"\", \"resource\": "
        "\"R::\\\"r\\\"\", \"context\": 1}",
        "{\"principal\": \"U::\\\"a\\\"\", \"action\": \"A::\\\"x\\\"\", \"resource\": "
        "\"R::\\\"r\\\"\", \"other\": 1}",
    };
    for (size_t k = 0; k < sizeof bad_req / sizeof bad_req[0]; k++) {
        abac_cedar_request *r = NULL;
        assert_int_equal(abac_cedar_request_parse_json(&r, bad_req[k], strlen(bad_req[k]), NULL, 0),
                         ABAC_E_JSON);
        assert_null(r);
    }
}

static abac_cedar_policies *versioned(const char *text, uint64_t ver, const uint8_t *members,
                                      size_t n) {
    abac_compile_options o = ABAC_COMPILE_OPTIONS_INIT;
    o.set_version = ver;
    o.members = members;
    o.n_members = n;
    abac_cedar_policies *ps = NULL;
    assert_int_equal(abac_cedar_policies_compile(&ps, text, strlen(text), &o, NULL, NULL, NULL, 0),
                     0);
    return ps;
}

static size_t update(const abac_cedar_policies *cur, const abac_cedar_policies *next,
                     const uint8_t (*pk)[32], const uint8_t (*sk)[64], const int *who, size_t n,
                     uint8_t *buf, size_t cap) {
    uint8_t pks[8][32], sigs[8][64];
    for (size_t k = 0; k < n; k++) {
        memcpy(pks[k], pk[who[k]], 32);
        assert_int_equal(abac_cedar_update_sign(cur, next, sk[who[k]], sigs[k]), 0);
    }
    size_t len = 0;
    assert_int_equal(
        abac_cedar_update_encode(cur, next, &pks[0][0], &sigs[0][0], n, buf, cap, &len), 0);
    return len;
}

/* Versioned Cedar sets: canonical encoding, decoding of untrusted bytes, quorum updates. */
static void test_versioned_sets(void **state) {
    (void)state;
    uint8_t pk[5][32], sk[5][64], members[4][32];
    for (int k = 0; k < 5; k++) {
        uint8_t seed[32] = {(uint8_t)(k + 1)};
        assert_int_equal(abac_keypair_from_seed(seed, pk[k], sk[k]), 0);
    }
    for (int k = 0; k < 4; k++)
        memcpy(members[k], pk[3 - k], 32); /* given unsorted */
    const char *t1 = "permit(principal, action == Action::\"train\", resource);";
    const char *t2 = "permit(principal, action == Action::\"train\", resource)\n"
                     "  when { context.purpose == \"training\" };";
    abac_cedar_policies *v1 = versioned(t1, 1, &members[0][0], 4);
    assert_int_equal(abac_cedar_policies_version(v1), 1);
    assert_int_equal(abac_cedar_policies_member_count(v1), 4);
    for (size_t k = 1; k < 4; k++) /* sorted bytewise */
        assert_true(memcmp(abac_cedar_policies_member(v1, k - 1), abac_cedar_policies_member(v1, k),
                           32) < 0);
    assert_null(abac_cedar_policies_member(v1, 4));

    /* encode -> decode -> the same bytes and hash */
    size_t n = abac_cedar_policies_encoded_size(v1), got = 0;
    uint8_t buf[4096], buf2[4096], h1[32], h2[32];
    assert_int_equal(abac_cedar_policies_encode(v1, buf, n - 1, &got), ABAC_E_BUFFER_TOO_SMALL);
    assert_int_equal(got, n);
    assert_int_equal(abac_cedar_policies_encode(v1, buf, sizeof buf, &got), 0);
    abac_cedar_policies *d = NULL;
    assert_int_equal(abac_cedar_policies_decode(&d, buf, got), 0);
    assert_int_equal(abac_cedar_policies_encode(d, buf2, sizeof buf2, &got), 0);
    assert_int_equal(got, n);
    assert_memory_equal(buf, buf2, n);
    assert_int_equal(abac_cedar_policies_hash(v1, h1), 0);
    assert_int_equal(abac_cedar_policies_hash(d, h2), 0);
    assert_memory_equal(h1, h2, 32);
    assert_int_equal(abac_cedar_policy_count(d), 1);
    abac_cedar_policies_free(d);

    /* refused bytes: magic, truncation, trailing byte, unsorted members, text that does not
     * parse */
    d = NULL;
    memcpy(buf2, buf, n);
    buf2[0] = 'X';
    assert_int_equal(abac_cedar_policies_decode(&d, buf2, n), ABAC_E_FORMAT_VERSION);
    for (size_t cut = 0; cut < n; cut++)
        assert_true(abac_cedar_policies_decode(&d, buf, cut) != 0);
    memcpy(buf2, buf, n);
    buf2[n] = ' ';
    assert_int_equal(abac_cedar_policies_decode(&d, buf2, n + 1), ABAC_E_FORMAT);
    memcpy(buf2, buf, n);
    memcpy(buf2 + 17, buf + 17 + 32, 32); /* members 0 and 1 swapped */
    memcpy(buf2 + 17 + 32, buf + 17, 32);
    assert_int_equal(abac_cedar_policies_decode(&d, buf2, n), ABAC_E_FORMAT);
    memcpy(buf2, buf, n);
    buf2[n - 1] = '(';
    assert_int_equal(abac_cedar_policies_decode(&d, buf2, n), ABAC_E_FORMAT);
    assert_null(d);
    abac_compile_options o = ABAC_COMPILE_OPTIONS_INIT;
    o.members = &members[0][0];
    o.n_members = 2;
    memcpy(members[1], members[0], 32);
    assert_int_equal(abac_cedar_policies_compile(&d, t1, strlen(t1), &o, NULL, NULL, NULL, 0),
                     ABAC_E_INVALID); /* a member twice */
    for (int k = 0; k < 4; k++)
        memcpy(members[k], pk[k], 32);

    /* updates: more than 2/3 of 4 members, i.e. 3 */
    abac_cedar_policies *v2 = versioned(t2, 2, &members[0][0], 4), *nx = NULL;
    uint8_t up[8192];
    static const int two[] = {0, 1}, three[] = {2, 0, 1}, dup[] = {0, 0, 1}, outsider[] = {0, 1, 4};
    size_t ul =
        update(v1, v2, (const uint8_t(*)[32])pk, (const uint8_t(*)[64])sk, two, 2, up, sizeof up);
    assert_int_equal(abac_cedar_update_apply(&nx, v1, up, ul), ABAC_E_NO_QUORUM);
    ul = update(v1, v2, (const uint8_t(*)[32])pk, (const uint8_t(*)[64])sk, outsider, 3, up,
                sizeof up);
    assert_int_equal(abac_cedar_update_apply(&nx, v1, up, ul), ABAC_E_NOT_MEMBER);
    uint8_t pks[3][32], sigs[3][64];
    for (int k = 0; k < 3; k++) {
        memcpy(pks[k], pk[dup[k]], 32);
        abac_cedar_update_sign(v1, v2, sk[dup[k]], sigs[k]);
    }
    assert_int_equal(
        abac_cedar_update_encode(v1, v2, &pks[0][0], &sigs[0][0], 3, up, sizeof up, &ul),
        ABAC_E_DUPLICATE_SIGNER);
    ul =
        update(v1, v2, (const uint8_t(*)[32])pk, (const uint8_t(*)[64])sk, three, 3, up, sizeof up);
    up[ul - 1] ^= 1; /* a bad signature */
    assert_int_equal(abac_cedar_update_apply(&nx, v1, up, ul), ABAC_E_BAD_SIGNATURE);
    up[ul - 1] ^= 1;
    assert_null(nx);
    assert_int_equal(abac_cedar_update_apply(&nx, v1, up, ul), 0);
    assert_non_null(nx);
    assert_int_equal(abac_cedar_policies_version(nx), 2);
    assert_int_equal(abac_cedar_policy_count(nx), 1);
    /* the same update against the new set: wrong base; v1 again: stale; v2 to itself: replay */
    abac_cedar_policies *nx2 = NULL;
    assert_int_equal(abac_cedar_update_apply(&nx2, nx, up, ul), ABAC_E_REPLAY);
    abac_cedar_policies *v3 = versioned(t1, 3, &members[0][0], 4);
    ul =
        update(v1, v3, (const uint8_t(*)[32])pk, (const uint8_t(*)[64])sk, three, 3, up, sizeof up);
    assert_int_equal(abac_cedar_update_apply(&nx2, nx, up, ul), ABAC_E_WRONG_BASE);
    ul =
        update(v2, v1, (const uint8_t(*)[32])pk, (const uint8_t(*)[64])sk, three, 3, up, sizeof up);
    assert_int_equal(abac_cedar_update_apply(&nx2, v2, up, ul), ABAC_E_STALE_VERSION);
    abac_cedar_policies *none = versioned(t1, 1, NULL, 0);
    ul = update(none, v2, (const uint8_t(*)[32])pk, (const uint8_t(*)[64])sk, three, 3, up,
                sizeof up);
    assert_int_equal(abac_cedar_update_apply(&nx2, none, up, ul), ABAC_E_NO_MEMBERS);
    assert_null(nx2);
    abac_cedar_policies_free(none);
    abac_cedar_policies_free(v3);
    abac_cedar_policies_free(nx);
    abac_cedar_policies_free(v2);
    abac_cedar_policies_free(v1);
}

/* schemas: both formats read into one model, strict validation with Cedar's messages, the
 * error accessors, and conformance of entities and requests */
static const char SCHEMA_H[] = "namespace App {\n"
                               "  entity Org;\n"
                               "  entity Member in [Org] = {suspended: Bool, nick?: String};\n"
                               "  entity Dataset = {uses: Long} tags String;\n"
                               "  action train appliesTo {principal: Member, resource: Dataset,\n"
                               "                          context: {purpose: String}};\n"
                               "}\n";
static const char SCHEMA_J[] =
    "{\"App\": {\"entityTypes\": {\"Org\": {}, \"Member\": {\"memberOfTypes\": [\"Org\"],"
    " \"shape\": {\"type\": \"Record\", \"attributes\": {\"suspended\": {\"type\": \"Boolean\"},"
    " \"nick\": {\"type\": \"String\", \"required\": false}}}},"
    " \"Dataset\": {\"shape\": {\"type\": \"Record\", \"attributes\": {\"uses\": {\"type\": "
    "\"Long\"}}}, \"tags\": {\"type\": \"String\"}}},"
    " \"actions\": {\"train\": {\"appliesTo\": {\"principalTypes\": [\"Member\"],"
    " \"resourceTypes\": [\"Dataset\"], \"context\": {\"type\": \"Record\", \"attributes\":"
    " {\"purpose\": {\"type\": \"String\"}}}}}}}}";

static int first_error(const abac_cedar_schema *s, const char *pol, char *msg, size_t cap) {
    abac_cedar_policies *ps = NULL;
    abac_cedar_validation *v = NULL;
    assert_int_equal(abac_cedar_policies_parse(&ps, pol, strlen(pol), NULL, NULL, NULL, 0), 0);
    assert_int_equal(abac_cedar_validate(&v, s, ps), 0);
    int code = 0;
    if (abac_cedar_validation_error_count(v)) {
        size_t pi, ml;
        const char *m;
        uint32_t line, col;
        assert_int_equal(abac_cedar_validation_error(v, 0, &pi, &code, &m, &ml, &line, &col), 0);
        assert_true(line >= 1 && col >= 1);
        snprintf(msg, cap, "%.*s", (int)ml, m);
    }
    assert_int_equal(abac_cedar_validation_error(v, abac_cedar_validation_error_count(v), NULL,
                                                 NULL, NULL, NULL, NULL, NULL),
                     ABAC_E_NOT_FOUND);
    abac_cedar_validation_free(v);
    abac_cedar_policies_free(ps);
    return code;
}

static void test_schema(void **state) {
    (void)state;
    abac_cedar_schema *sh = NULL, *sj = NULL;
    char msg[256];
    uint32_t line, col;
    assert_int_equal(
        abac_cedar_schema_parse(&sh, SCHEMA_H, sizeof SCHEMA_H - 1, &line, &col, msg, sizeof msg),
        0);
    assert_int_equal(
        abac_cedar_schema_parse_json(&sj, SCHEMA_J, sizeof SCHEMA_J - 1, msg, sizeof msg), 0);
    abac_cedar_schema *both[2] = {sh, sj};
    for (int k = 0; k < 2; k++) {
        abac_cedar_schema *s = both[k];
        assert_int_equal(abac_cedar_schema_entity_type_count(s), 3);
        assert_int_equal(abac_cedar_schema_action_count(s), 1);
        assert_int_equal(
            first_error(s,
                        "permit(principal, action == App::Action::\"train\", resource) when { "
                        "!principal.suspended && context.purpose == \"training\" && "
                        "resource.uses < 10 && principal in App::Org::\"o\" };",
                        msg, sizeof msg),
            0);
        assert_int_equal(first_error(s,
                                     "permit(principal, action, resource) when { "
                                     "principal.nick == \"a\" };",
                                     msg, sizeof msg),
                         ABAC_E_UNSAFE_ATTR);
        assert_string_equal(msg, "unable to guarantee safety of access to optional attribute "
                                 "`nick` on entity type `App::Member`");
        assert_int_equal(first_error(s, "permit(principal, action, resource) when { resource.x };",
                                     msg, sizeof msg),
                         ABAC_E_UNKNOWN_ATTR);
        assert_string_equal(msg, "attribute `x` on entity type `App::Dataset` not found");
        assert_int_equal(first_error(s,
                                     "permit(principal, action, resource) when { resource.uses "
                                     "== \"1\" };",
                                     msg, sizeof msg),
                         ABAC_E_TYPE);
        assert_string_equal(msg, "the types Long and String are not compatible");
        assert_int_equal(
            first_error(s, "permit(principal is App::Org, action, resource);", msg, sizeof msg),
            ABAC_E_NOT_APPLICABLE);
        assert_int_equal(first_error(s, "permit(principal == Member::\"a\", action, resource);",
                                     msg, sizeof msg),
                         ABAC_E_UNKNOWN_TYPE);
        assert_string_equal(msg, "unrecognized entity type `Member`");

        /* entities and requests */
        static const char E_OK[] =
            "[{\"uid\": {\"type\": \"App::Member\", \"id\": \"m\"}, \"attrs\": {\"suspended\": "
            "false}, \"parents\": [{\"type\": \"App::Org\", \"id\": \"o\"}]}]";
        static const char E_BAD[] = "[{\"uid\": {\"type\": \"App::Member\", \"id\": \"m\"}, "
                                    "\"attrs\": {\"suspended\": 1}, \"parents\": []}]";
        static const char R_OK[] =
            "{\"principal\": {\"type\": \"App::Member\", \"id\": \"m\"}, \"action\": {\"type\": "
            "\"App::Action\", \"id\": \"train\"}, \"resource\": {\"type\": \"App::Dataset\", "
            "\"id\": \"d\"}, \"context\": {\"purpose\": \"x\"}}";
        static const char R_BAD[] =
            "{\"principal\": {\"type\": \"App::Org\", \"id\": \"m\"}, \"action\": {\"type\": "
            "\"App::Action\", \"id\": \"train\"}, \"resource\": {\"type\": \"App::Dataset\", "
            "\"id\": \"d\"}, \"context\": {\"purpose\": \"x\"}}";
        abac_cedar_entities *es = NULL;
        abac_cedar_request *rq = NULL;
        assert_int_equal(abac_cedar_entities_parse_json(&es, E_OK, sizeof E_OK - 1, NULL, 0), 0);
        assert_int_equal(abac_cedar_schema_check_entities(s, es, msg, sizeof msg), 0);
        abac_cedar_entities_free(es);
        assert_int_equal(abac_cedar_entities_parse_json(&es, E_BAD, sizeof E_BAD - 1, NULL, 0), 0);
        assert_int_equal(abac_cedar_schema_check_entities(s, es, msg, sizeof msg),
                         ABAC_E_ATTR_TYPE);
        assert_non_null(strstr(msg, "suspended"));
        abac_cedar_entities_free(es);
        assert_int_equal(abac_cedar_request_parse_json(&rq, R_OK, sizeof R_OK - 1, NULL, 0), 0);
        assert_int_equal(abac_cedar_schema_check_request(s, rq, msg, sizeof msg), 0);
        abac_cedar_request_free(rq);
        assert_int_equal(abac_cedar_request_parse_json(&rq, R_BAD, sizeof R_BAD - 1, NULL, 0), 0);
        assert_int_equal(abac_cedar_schema_check_request(s, rq, msg, sizeof msg),
                         ABAC_E_NOT_APPLICABLE);
        abac_cedar_request_free(rq);
    }
    abac_cedar_schema_free(sh);
    abac_cedar_schema_free(sj);

    /* syntax errors name the place; names are taken with their length (a NUL is a byte) */
    static const char BAD[] = "entity A;\nentity B in [A] = {x: Long,\n  y: Strng};";
    abac_cedar_schema *s = (abac_cedar_schema *)1;
    assert_int_equal(abac_cedar_schema_parse(&s, BAD, sizeof BAD - 1, &line, &col, msg, sizeof msg),
                     ABAC_E_SCHEMA);
    assert_null(s);
    assert_non_null(strstr(msg, "Strng"));
    static const char BAD2[] = "entity A;\n  entity $;";
    assert_int_equal(
        abac_cedar_schema_parse(&s, BAD2, sizeof BAD2 - 1, &line, &col, msg, sizeof msg),
        ABAC_E_SCHEMA);
    assert_int_equal(line, 2);
    assert_int_equal(col, 10);
    static const char NUL[] = "entity A = {\"k\\0z\": Long, \"k\": String};";
    assert_int_equal(abac_cedar_schema_parse(&s, NUL, sizeof NUL - 1, &line, &col, msg, sizeof msg),
                     0);
    abac_cedar_schema_free(s);
    assert_int_equal(abac_cedar_schema_parse_json(NULL, "{}", 2, NULL, 0), ABAC_E_INVALID);
    assert_int_equal(abac_cedar_validate(NULL, NULL, NULL), ABAC_E_INVALID);
    abac_cedar_schema_free(NULL);
    abac_cedar_validation_free(NULL);
}

/* templates: a slot in the scope makes a template that decides nothing; a link is a new set */
static void test_templates(void **state) {
    (void)state;
    static const char T[] = "permit(principal == ?principal, action, resource in ?resource);\n"
                            "permit(principal, action, resource) when { false };\n";
    abac_cedar_policies *ps = NULL, *l1 = NULL, *l2 = NULL;
    assert_int_equal(abac_cedar_policies_parse(&ps, T, sizeof T - 1, NULL, NULL, NULL, 0), 0);
    assert_int_equal(abac_cedar_policy_is_template(ps, 0), 1);
    assert_int_equal(abac_cedar_policy_is_template(ps, 1), 0);
    assert_int_equal(abac_cedar_policy_is_template(ps, 2), ABAC_E_INVALID);
    static const char P[] = "User::\"a\"", R[] = "Folder::\"f\"";
    assert_int_equal(abac_cedar_policies_link(&l1, ps, 1, "x", 1, P, sizeof P - 1, R, sizeof R - 1),
                     ABAC_E_INVALID); /* not a template */
    assert_int_equal(abac_cedar_policies_link(&l1, ps, 0, "x", 1, P, sizeof P - 1, NULL, 0),
                     ABAC_E_INVALID); /* ?resource missing */
    assert_int_equal(
        abac_cedar_policies_link(&l1, ps, 0, "policy1", 7, P, sizeof P - 1, R, sizeof R - 1),
        ABAC_E_DUPLICATE_RULE);
    assert_int_equal(
        abac_cedar_policies_link(&l1, ps, 0, "link-1", 6, P, sizeof P - 1, R, sizeof R - 1), 0);
    assert_int_equal(
        abac_cedar_policies_link(&l2, l1, 0, "link-2", 6, R, sizeof R - 1, R, sizeof R - 1), 0);
    assert_int_equal(abac_cedar_policy_count(ps), 2);
    assert_int_equal(abac_cedar_policy_count(l2), 4);
    assert_int_equal(abac_cedar_policies_link_count(l2), 2);
    assert_string_equal(abac_cedar_policy_id(l2, 2), "link-1");
    assert_string_equal(abac_cedar_policy_id(l2, 3), "link-2");
    uint8_t buf[512];
    size_t n;
    assert_int_equal(abac_cedar_policies_encode(l2, buf, sizeof buf, &n), 0); /* 1.3.0: ABCP v2 */
    assert_int_equal(buf[4], 2);
    assert_int_equal(abac_cedar_policies_encode(ps, buf, sizeof buf, &n), 0);
    assert_int_equal(buf[4], 1); /* a set without links keeps its version-1 encoding */

    static const char E[] = "[{\"uid\": {\"type\": \"Doc\", \"id\": \"d\"}, \"attrs\": {},"
                            " \"parents\": [{\"type\": \"Folder\", \"id\": \"f\"}]}]";
    static const char Q1[] = "{\"principal\": \"User::\\\"a\\\"\", \"action\": \"A::\\\"r\\\"\","
                             " \"resource\": \"Doc::\\\"d\\\"\"}";
    static const char Q2[] = "{\"principal\": \"User::\\\"b\\\"\", \"action\": \"A::\\\"r\\\"\","
                             " \"resource\": \"Doc::\\\"d\\\"\"}";
    abac_cedar_entities *es = NULL;
    abac_cedar_request *q1 = NULL, *q2 = NULL;
    abac_cedar_response *r0 = NULL, *r2 = NULL;
    assert_int_equal(abac_cedar_entities_parse_json(&es, E, sizeof E - 1, NULL, 0), 0);
    assert_int_equal(abac_cedar_request_parse_json(&q1, Q1, sizeof Q1 - 1, NULL, 0), 0);
    assert_int_equal(abac_cedar_request_parse_json(&q2, Q2, sizeof Q2 - 1, NULL, 0), 0);
    assert_int_equal(abac_cedar_response_new(&r0, ps, 0), 0);
    assert_int_equal(abac_cedar_response_new(&r2, l2, 0), 0);
    assert_int_equal(abac_cedar_is_authorized(ps, es, q1, r0), ABAC_DENY); /* template alone */
    assert_int_equal(abac_cedar_is_authorized(l2, es, q1, r2), ABAC_PERMIT);
    assert_int_equal(abac_cedar_response_reason_count(r2), 1);
    assert_int_equal(abac_cedar_response_reason(r2, 0), 2);
    assert_int_equal(abac_cedar_is_authorized(l2, es, q2, r2), ABAC_DENY);
    abac_cedar_response_free(r0);
    abac_cedar_response_free(r2);
    abac_cedar_request_free(q1);
    abac_cedar_request_free(q2);
    abac_cedar_entities_free(es);
    abac_cedar_policies_free(l2);
    abac_cedar_policies_free(l1);
    abac_cedar_policies_free(ps);
}

static int hexval(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c - 'a' + 10;
}

static size_t unhex(const char *h, uint8_t *out) {
    size_t n = strlen(h) / 2;
    for (size_t k = 0; k < n; k++)
        out[k] = (uint8_t)(hexval(h[2 * k]) << 4 | hexval(h[2 * k + 1]));
    return n;
}

/* ABCP version 2 (1.3.0): template-linked sets have a canonical encoding. The golden vector
 * was written by an independent encoder (docs/formats/abac.md) and must not change. */
static void test_linked_encoding(void **state) {
    (void)state;
    static const char GOLD[] = "4142435002000000000000000700000000000000327065726d6974287072696e"
                               "636970616c203d3d203f7072696e636970616c2c20616374696f6e2c20726573"
                               "6f75726365293b0000000100000000000000024c310100000004557365720000"
                               "000161";
    static const char GOLD_SHA[] =
        "a5659b7590c5cdfe12bf738fd4a3a15498d163eee636c430e872a777a061318a";
    static const char T[] = "permit(principal == ?principal, action, resource);";
    abac_cedar_policies *base = versioned(T, 7, NULL, 0), *l = NULL, *d = NULL;
    static const char UA[] = "User::\"a\"";
    assert_int_equal(abac_cedar_policies_link(&l, base, 0, "L1", 2, UA, sizeof UA - 1, NULL, 0), 0);
    uint8_t gold[128], buf[512], buf2[512], h[32], hg[32];
    size_t gn = unhex(GOLD, gold), n = 0;
    assert_int_equal(abac_cedar_policies_encoded_size(l), gn);
    assert_int_equal(abac_cedar_policies_encode(l, buf, sizeof buf, &n), 0);
    assert_int_equal(n, gn);
    assert_memory_equal(buf, gold, gn);
    assert_int_equal(abac_cedar_policies_hash(l, h), 0);
    unhex(GOLD_SHA, hg);
    assert_memory_equal(h, hg, 32);
    /* decode: the same links, ids and decisions; re-encodes to the same bytes */
    assert_int_equal(abac_cedar_policies_decode(&d, gold, gn), 0);
    assert_int_equal(abac_cedar_policies_link_count(d), 1);
    assert_int_equal(abac_cedar_policy_count(d), 2);
    assert_string_equal(abac_cedar_policy_id(d, 1), "L1");
    assert_int_equal(abac_cedar_policies_version(d), 7);
    assert_int_equal(abac_cedar_policies_encode(d, buf2, sizeof buf2, &n), 0);
    assert_memory_equal(buf2, gold, gn);
    abac_cedar_policies_free(d);
    d = NULL;
    /* every truncation is refused; so is a trailing byte */
    for (size_t cut = 0; cut < gn; cut++)
        assert_true(abac_cedar_policies_decode(&d, gold, cut) < 0);
    memcpy(buf2, gold, gn);
    buf2[gn] = 0;
    assert_int_equal(abac_cedar_policies_decode(&d, buf2, gn + 1), ABAC_E_FORMAT);
    /* every flipped bit of the links part: the structure (count, template index, lengths, slot
     * byte) is refused; a flip inside the link id or the uid's type or id may give another
     * valid link, which then is a different set (it re-encodes to exactly those bytes, another
     * hash), or is refused (not a Cedar name, not UTF-8 text the parser reads back) */
    size_t links_at = 17 + 4 + (sizeof T - 1);
    for (size_t at = 0; at < gn; at++)
        for (int bit = 0; bit < 8; bit++) {
            memcpy(buf2, gold, gn);
            buf2[at] ^= (uint8_t)(1u << bit);
            int rc = abac_cedar_policies_decode(&d, buf2, gn);
            int in_id = (at >= links_at + 12 && at < links_at + 14) ||
                        (at >= links_at + 19 && at < links_at + 23) || at == gn - 1;
            if (at >= links_at && !in_id)
                assert_true(rc < 0);
            if (rc == 0) {
                assert_int_equal(abac_cedar_policies_encode(d, buf, sizeof buf, &n), 0);
                assert_int_equal(n, gn);
                assert_memory_equal(buf, buf2, gn);
                assert_int_equal(abac_cedar_policies_hash(d, h), 0);
                assert_memory_not_equal(h, hg, 32);
                abac_cedar_policies_free(d);
                d = NULL;
            }
        }
    /* non-canonical: version 2 with no links; a slot byte the template does not have; an id
     * taken by a text policy or by another link; a type that is not a Cedar name */
    static const uint8_t v2_no_links[] = {'A', 'B', 'C', 'P', 2, 0, 0, 0, 0, 0, 0, 0, 7,
                                          0,   0,   0,   0,   0, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(abac_cedar_policies_decode(&d, v2_no_links, sizeof v2_no_links),
                     ABAC_E_FORMAT);
    static const uint8_t v3[] = {'A', 'B', 'C', 'P', 3, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0};
    assert_int_equal(abac_cedar_policies_decode(&d, v3, sizeof v3), ABAC_E_FORMAT_VERSION);
    memcpy(buf2, gold, gn);
    buf2[links_at + 14] = 3; /* ?principal and ?resource, the template has one slot */
    assert_int_equal(abac_cedar_policies_decode(&d, buf2, gn), ABAC_E_FORMAT);
    /* the id "policy0" (a text policy's): refused */
    {
        uint8_t e[160];
        size_t k = links_at;
        memcpy(e, gold, k);
        static const uint8_t tail[] = {0, 0,   0,   1,   0,   0,   0,   0,   0, 0, 0,
                                       7, 'p', 'o', 'l', 'i', 'c', 'y', '0', 1, 0, 0,
                                       0, 4,   'U', 's', 'e', 'r', 0,   0,   0, 1, 'a'};
        memcpy(e + k, tail, sizeof tail);
        assert_int_equal(abac_cedar_policies_decode(&d, e, k + sizeof tail), ABAC_E_FORMAT);
        e[k + 18] = '1'; /* "policy1": not a text policy's id, accepted */
        assert_int_equal(abac_cedar_policies_decode(&d, e, k + sizeof tail), 0);
        abac_cedar_policies_free(d);
        d = NULL;
        static const uint8_t bad_type[] = {0,   0,   0,   1,   0, 0, 0, 0, 0,  0,
                                           0,   2,   'L', '1', 1, 0, 0, 0, 5,  'U',
                                           's', 'e', 'r', ' ', 0, 0, 0, 1, 'a'};
        memcpy(e + k, bad_type, sizeof bad_type); /* "User " reads back as "User" */
        assert_int_equal(abac_cedar_policies_decode(&d, e, k + sizeof bad_type), ABAC_E_FORMAT);
    }
    assert_null(d);

    /* two links (namespaced type, an id with a quote, a newline and a NUL) round-trip, and a
     * linked set is replaced by a quorum-signed update like any other */
    uint8_t pk[3][32], sk[3][64];
    for (int k = 0; k < 3; k++) {
        uint8_t seed[32] = {(uint8_t)(k + 9)};
        assert_int_equal(abac_keypair_from_seed(seed, pk[k], sk[k]), 0);
    }
    static const char T2[] = "permit(principal in ?principal, action, resource == ?resource);\n"
                             "forbid(principal, action, resource) when { context.x };\n";
    abac_cedar_policies *c1 = versioned(T2, 1, &pk[0][0], 3), *c2 = versioned(T2, 2, &pk[0][0], 3);
    abac_cedar_policies *c2a = NULL, *c2b = NULL, *got = NULL;
    static const char P1[] = "NS::Group::\"g\\\"1\\n\\0\"", R1[] = "Doc::\"d\"";
    assert_int_equal(
        abac_cedar_policies_link(&c2a, c2, 0, "first", 5, P1, sizeof P1 - 1, R1, sizeof R1 - 1), 0);
    assert_int_equal(
        abac_cedar_policies_link(&c2b, c2a, 0, "second", 6, R1, sizeof R1 - 1, R1, sizeof R1 - 1),
        0);
    assert_int_equal(abac_cedar_policies_encode(c2b, buf, sizeof buf, &n), 0);
    assert_int_equal(abac_cedar_policies_decode(&d, buf, n), 0);
    assert_int_equal(abac_cedar_policies_encode(d, buf2, sizeof buf2, &gn), 0);
    assert_int_equal(gn, n);
    assert_memory_equal(buf, buf2, n);
    assert_string_equal(abac_cedar_policy_id(d, 3), "second");
    abac_cedar_policies_free(d);
    d = NULL;
    static const int all[] = {2, 0, 1}, two[] = {0, 1}; /* 3 · 2 > 2 · 3 fails */
    uint8_t up[2048];
    size_t ul =
        update(c1, c2b, (const uint8_t(*)[32])pk, (const uint8_t(*)[64])sk, two, 2, up, sizeof up);
    assert_int_equal(abac_cedar_update_apply(&got, c1, up, ul), ABAC_E_NO_QUORUM);
    ul = update(c1, c2b, (const uint8_t(*)[32])pk, (const uint8_t(*)[64])sk, all, 3, up, sizeof up);
    assert_int_equal(abac_cedar_update_apply(&got, c1, up, ul), 0);
    assert_int_equal(abac_cedar_policies_link_count(got), 2);
    uint8_t h1[32], h2[32];
    assert_int_equal(abac_cedar_policies_hash(got, h1), 0);
    assert_int_equal(abac_cedar_policies_hash(c2b, h2), 0);
    assert_memory_equal(h1, h2, 32);
    /* the linked set differs from the same text with one link less: another hash */
    assert_int_equal(abac_cedar_policies_hash(c2a, h2), 0);
    assert_memory_not_equal(h1, h2, 32);
    abac_cedar_policies_free(got);
    abac_cedar_policies_free(c2b);
    abac_cedar_policies_free(c2a);
    abac_cedar_policies_free(c2);
    abac_cedar_policies_free(c1);
    abac_cedar_policies_free(l);
    abac_cedar_policies_free(base);
}

/* 1.3.0: entities read with a schema get the schema's actions, with their groups as parents and
 * their closure as ancestors, as Cedar does; an action the entities also list must be exactly
 * the declared one (ancestors closed over the given entities), else the input is refused. */
static const char SA_SCHEMA[] = "entity User; entity Doc;\n"
                                "action all; action readers in [all];\n"
                                "action read in [readers] appliesTo { principal: User, resource: "
                                "Doc };\n";

static int sa_load(const char *json, abac_cedar_entities **es) {
    abac_cedar_schema *s = NULL;
    assert_int_equal(
        abac_cedar_schema_parse(&s, SA_SCHEMA, sizeof SA_SCHEMA - 1, NULL, NULL, NULL, 0), 0);
    char msg[256];
    int rc = abac_cedar_entities_parse_json_schema(es, json, strlen(json), s, msg, sizeof msg);
    abac_cedar_schema_free(s); /* the entities do not borrow from the schema */
    return rc;
}

static void test_schema_actions(void **state) {
    (void)state;
    static const char POL[] = "permit(principal, action in Action::\"all\", resource);";
    static const char RQ[] =
        "{\"principal\": \"User::\\\"a\\\"\", \"action\": \"Action::\\\"read\\\"\","
        " \"resource\": \"Doc::\\\"d\\\"\"}";
    abac_cedar_policies *ps = NULL;
    abac_cedar_request *rq = NULL;
    abac_cedar_response *r = NULL;
    abac_cedar_entities *es = NULL, *plain = NULL;
    assert_int_equal(abac_cedar_policies_parse(&ps, POL, sizeof POL - 1, NULL, NULL, NULL, 0), 0);
    assert_int_equal(abac_cedar_request_parse_json(&rq, RQ, sizeof RQ - 1, NULL, 0), 0);
    assert_int_equal(abac_cedar_response_new(&r, ps, 0), 0);
    static const char U[] = "[{\"uid\": {\"type\": \"User\", \"id\": \"a\"}, \"attrs\": {}, "
                            "\"parents\": []}]";
    /* without a schema: no action entities, `action in Action::"all"` is false */
    assert_int_equal(abac_cedar_entities_parse_json(&plain, U, sizeof U - 1, NULL, 0), 0);
    assert_int_equal(abac_cedar_entity_count(plain), 1);
    assert_int_equal(abac_cedar_is_authorized(ps, plain, rq, r), ABAC_DENY);
    /* with the schema: the three actions are added, read in readers in all */
    assert_int_equal(sa_load(U, &es), 0);
    assert_int_equal(abac_cedar_entity_count(es), 4);
    assert_int_equal(abac_cedar_is_authorized(ps, es, rq, r), ABAC_PERMIT);
    abac_cedar_entities_free(es);
    es = NULL;
    assert_int_equal(sa_load("[]", &es), 0);
    assert_int_equal(abac_cedar_entity_count(es), 3);
    assert_int_equal(abac_cedar_is_authorized(ps, es, rq, r), ABAC_PERMIT);
    abac_cedar_entities_free(es);
    es = NULL;
#define ACT(i, ps)                                                                                 \
    "{\"uid\": {\"type\": \"Action\", \"id\": \"" i "\"}, \"attrs\": {}, \"parents\": [" ps "]}"
#define AP(i) "{\"type\": \"Action\", \"id\": \"" i "\"}"
    /* listed as declared (ancestors closed over the entities given): kept, nothing twice */
    assert_int_equal(sa_load("[" ACT("read", AP("readers") "," AP("all")) "]", &es), 0);
    assert_int_equal(abac_cedar_entity_count(es), 3);
    assert_int_equal(abac_cedar_is_authorized(ps, es, rq, r), ABAC_PERMIT);
    abac_cedar_entities_free(es);
    es = NULL;
    assert_int_equal(sa_load("[" ACT("read", AP("readers")) "," ACT("readers", AP("all")) "]", &es),
                     0);
    assert_int_equal(abac_cedar_entity_count(es), 3);
    abac_cedar_entities_free(es);
    es = NULL;
    /* listed otherwise: refused, as Cedar refuses it ("does not match its schema declaration") */
    assert_int_equal(sa_load("[" ACT("read", AP("readers")) "]", &es), ABAC_E_ATTR_TYPE);
    assert_int_equal(sa_load("[" ACT("read", ) "]", &es), ABAC_E_ATTR_TYPE);
    assert_int_equal(sa_load("[" ACT("readers", ) "]", &es), ABAC_E_ATTR_TYPE);
    assert_int_equal(sa_load("[" ACT("zzz", ) "]", &es), ABAC_E_UNKNOWN_TYPE);
    assert_null(es);
#undef ACT
#undef AP
    abac_cedar_entities_free(plain);
    abac_cedar_response_free(r);
    abac_cedar_request_free(rq);
    abac_cedar_policies_free(ps);
}

/* 1.3.0: Cedar's validator warnings, apart from the errors (validation still passes) */
static void test_validation_warnings(void **state) {
    (void)state;
    static const char SCH[] = "entity User = {name: String, tags: {a: Long}};\n"
                              "action view appliesTo { principal: User, resource: User };\n";
    static const char POL[] =
        "permit(principal, action, resource) when { principal.name == \"plain\" };\n" /* 0 */
        "permit(principal, action, resource) when { principal.name == \"a\u202eb\" };\n"
        "permit(principal == User::\"say_\u04bbello\", action, resource);\n" /* 2: mixed */
        "permit(principal == User::\"alice smith\", action, resource);\n"    /* 3: GSP */
        "permit(principal, action, resource) when { principal.name like \"*_\u04bbello\" };\n"
        "permit(principal, action, resource) when { false };\n" /* 5: impossible */
        "forbid(principal, action, resource) unless { true };\n"
        "permit(principal, action, resource) when { {\"a\u0430\": 1} has \"a\u0430\" };\n"
        "permit(principal, action, resource) when { principal.name == \"\u0436\u0443\u043a\" };\n";
    abac_cedar_schema *s = NULL;
    abac_cedar_policies *ps = NULL;
    abac_cedar_validation *v = NULL;
    assert_int_equal(abac_cedar_schema_parse(&s, SCH, sizeof SCH - 1, NULL, NULL, NULL, 0), 0);
    assert_int_equal(abac_cedar_policies_parse(&ps, POL, sizeof POL - 1, NULL, NULL, NULL, 0), 0);
    assert_int_equal(abac_cedar_validate(&v, s, ps), 0);
    assert_int_equal(abac_cedar_validation_error_count(v), 0); /* warnings do not fail it */
    static const struct {
        size_t policy;
        int kind;
        const char *msg;
    } want[] = {
        {1, ABAC_CEDAR_WARN_BIDI_STRING, "string `\"a\u202eb\"` contains BIDI control characters"},
        {2, ABAC_CEDAR_WARN_MIXED_SCRIPT_IDENTIFIER,
         "identifier `say_\u04bbello` contains mixed scripts"},
        {3, ABAC_CEDAR_WARN_CONFUSABLE_IDENTIFIER,
         "identifier `alice smith` contains characters that fall outside of the General "
         "Security Profile for Identifiers"},
        {4, ABAC_CEDAR_WARN_MIXED_SCRIPT_STRING,
         "string `\"*_\u04bbello\"` contains mixed scripts"},
        {5, ABAC_CEDAR_WARN_IMPOSSIBLE_POLICY,
         "policy is impossible: the policy expression evaluates to false for all valid requests"},
        {6, ABAC_CEDAR_WARN_IMPOSSIBLE_POLICY,
         "policy is impossible: the policy expression evaluates to false for all valid requests"},
        {7, ABAC_CEDAR_WARN_MIXED_SCRIPT_IDENTIFIER, "identifier `a\u0430` contains mixed scripts"},
    };
    size_t nw = sizeof want / sizeof want[0];
    assert_int_equal(abac_cedar_validation_warning_count(v), nw);
    for (size_t i = 0; i < nw; i++) {
        size_t pol = 99, ml = 0;
        int kind = 0;
        const char *m = NULL;
        uint32_t line = 0, col = 0;
        assert_int_equal(abac_cedar_validation_warning(v, i, &pol, &kind, &m, &ml, &line, &col), 0);
        assert_int_equal(pol, want[i].policy);
        assert_int_equal(kind, want[i].kind);
        assert_int_equal(ml, strlen(want[i].msg));
        assert_memory_equal(m, want[i].msg, ml);
        assert_true(line == pol + 1);
    }
    assert_int_equal(abac_cedar_validation_warning(v, nw, NULL, NULL, NULL, NULL, NULL, NULL),
                     ABAC_E_NOT_FOUND);
    assert_int_equal(abac_cedar_validation_warning(NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL),
                     ABAC_E_INVALID);
    assert_int_equal(abac_cedar_validation_warning_count(NULL), 0);
    abac_cedar_validation_free(v);
    abac_cedar_policies_free(ps);
    abac_cedar_schema_free(s);
}

/* Entities and requests read with a schema: Cedar's implicit entity and extension forms. */
static const char SE_SCHEMA[] =
    "entity User { boss?: User, friends?: Set<User>, r?: { u: User }, ip?: ipaddr, d?: decimal, "
    "dt?: datetime, du?: duration } tags ipaddr;\n"
    "action a appliesTo { principal: User, resource: User, context: { src: ipaddr, who: User } "
    "};\n";
static const char SE_POL[] =
    "permit(principal, action, resource) when { principal.boss == User::\"bob\" && "
    "principal.friends.contains(User::\"bob\") && principal.r.u == User::\"bob\" && "
    "principal.ip.isInRange(ip(\"10.0.0.0/8\")) && principal.d.lessThan(decimal(\"2.0\")) && "
    "principal.dt < datetime(\"2025-01-01\") && principal.du < duration(\"2h\") && "
    "principal.getTag(\"t\").isLoopback() && context.src.isIpv4() && context.who == "
    "User::\"bob\" };";

static int se_load(const abac_cedar_schema *s, const char *attrs, abac_cedar_entities **es,
                   char *msg, size_t cap) {
    char buf[1024];
    int n = snprintf(buf, sizeof buf,
                     "[{\"uid\": {\"type\": \"User\", \"id\": \"alice\"}, \"attrs\": %s, "
                     "\"parents\": [], \"tags\": {\"t\": \"127.0.0.1\"}}, {\"uid\": {\"type\": "
                     "\"User\", \"id\": \"bob\"}, \"attrs\": {}, \"parents\": []}]",
                     attrs);
    return abac_cedar_entities_parse_json_schema(es, buf, (size_t)n, s, msg, cap);
}

static void test_schema_based_parsing(void **state) {
    (void)state;
    abac_cedar_schema *s = NULL;
    abac_cedar_policies *ps = NULL;
    abac_cedar_entities *es = NULL;
    abac_cedar_request *rq = NULL;
    abac_cedar_response *resp = NULL;
    char msg[256];
    uint32_t line, col;
    assert_int_equal(
        abac_cedar_schema_parse(&s, SE_SCHEMA, sizeof SE_SCHEMA - 1, &line, &col, msg, sizeof msg),
        0);
    assert_int_equal(
        abac_cedar_policies_parse(&ps, SE_POL, sizeof SE_POL - 1, NULL, NULL, msg, sizeof msg), 0);
    assert_int_equal(abac_cedar_response_new(&resp, ps, 0), 0);
    static const char IMPLICIT[] =
        "{\"boss\": {\"type\": \"User\", \"id\": \"bob\"}, \"friends\": [{\"type\": \"User\", "
        "\"id\": \"bob\"}], \"r\": {\"u\": {\"type\": \"User\", \"id\": \"bob\"}}, \"ip\": "
        "\"10.0.0.1\", \"d\": {\"fn\": \"decimal\", \"arg\": \"1.23\"}, \"dt\": \"2024-01-01\", "
        "\"du\": \"1h\"}";
    static const char REQ[] =
        "{\"principal\": \"User::\\\"alice\\\"\", \"action\": \"Action::\\\"a\\\"\", "
        "\"resource\": \"User::\\\"bob\\\"\", \"context\": {\"src\": \"1.2.3.4\", \"who\": "
        "{\"type\": \"User\", \"id\": \"bob\"}}}";
    assert_int_equal(se_load(s, IMPLICIT, &es, msg, sizeof msg), 0);
    assert_int_equal(
        abac_cedar_request_parse_json_schema(&rq, REQ, sizeof REQ - 1, s, msg, sizeof msg), 0);
    assert_int_equal(abac_cedar_is_authorized(ps, es, rq, resp), ABAC_PERMIT);
    assert_int_equal(abac_cedar_response_error_count(resp), 0);
    abac_cedar_entities_free(es);
    abac_cedar_request_free(rq);
    es = NULL;
    rq = NULL;

    /* without a schema the same text is records and strings (the old behaviour, unchanged):
     * `principal.boss == User::"bob"` compares a record with an entity, false */
    assert_int_equal(se_load(NULL, IMPLICIT, &es, msg, sizeof msg), 0);
    assert_int_equal(
        abac_cedar_request_parse_json_schema(&rq, REQ, sizeof REQ - 1, NULL, msg, sizeof msg), 0);
    assert_int_equal(abac_cedar_is_authorized(ps, es, rq, resp), ABAC_DENY);
    assert_int_equal(abac_cedar_response_error_count(resp), 0);
    abac_cedar_entities_free(es);
    abac_cedar_request_free(rq);
    es = NULL;
    rq = NULL;

    /* values that do not fit the declared type are refused */
    assert_int_equal(se_load(s, "{\"ip\": \"zzz\"}", &es, msg, sizeof msg), ABAC_E_ATTR_TYPE);
    assert_null(es);
    assert_non_null(strstr(msg, "zzz"));
    assert_int_equal(se_load(s, "{\"d\": \"1.2345678\"}", &es, msg, sizeof msg), ABAC_E_ATTR_TYPE);
    assert_int_equal(
        se_load(s, "{\"boss\": {\"type\": \"Usr\", \"id\": \"bob\"}}", &es, msg, sizeof msg),
        ABAC_E_ATTR_TYPE);
    assert_int_equal(se_load(s, "{\"boss\": \"User::\\\"bob\\\"\"}", &es, msg, sizeof msg),
                     ABAC_E_ATTR_TYPE);
    assert_int_equal(se_load(s, "{\"ip\": {\"__extn\": {\"fn\": \"decimal\", \"arg\": \"1.0\"}}}",
                             &es, msg, sizeof msg),
                     ABAC_E_ATTR_TYPE);
    assert_int_equal(se_load(s, "{\"du\": 5}", &es, msg, sizeof msg), ABAC_E_ATTR_TYPE);
    assert_null(es);
    static const char REQ_BAD[] =
        "{\"principal\": \"User::\\\"alice\\\"\", \"action\": \"Action::\\\"a\\\"\", "
        "\"resource\": \"User::\\\"bob\\\"\", \"context\": {\"src\": \"bad\", \"who\": "
        "{\"type\": \"User\", \"id\": \"bob\"}}}";
    assert_int_equal(
        abac_cedar_request_parse_json_schema(&rq, REQ_BAD, sizeof REQ_BAD - 1, s, msg, sizeof msg),
        ABAC_E_ATTR_TYPE);
    assert_null(rq);
    assert_int_equal(abac_cedar_entities_parse_json_schema(NULL, "[]", 2, s, NULL, 0),
                     ABAC_E_INVALID);
    abac_cedar_response_free(resp);
    abac_cedar_policies_free(ps);
    abac_cedar_schema_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decide),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_nul_in_names),
        cmocka_unit_test(test_json_errors),
        cmocka_unit_test(test_versioned_sets),
        cmocka_unit_test(test_schema),
        cmocka_unit_test(test_templates),
        cmocka_unit_test(test_linked_encoding),
        cmocka_unit_test(test_schema_actions),
        cmocka_unit_test(test_validation_warnings),
        cmocka_unit_test(test_schema_based_parsing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
