"""Hand-written Cedar cases, one or more per operator, method and error of the language:
libabac's answer is checked in here and compared with Cedar's own (cedarpy)."""
import json

import pytest

from fedshare import abac

ENTITIES = [
    {"uid": {"type": "User", "id": "alice"},
     "attrs": {"age": 30, "name": "Alice", "tags": ["a", "b"], "flag": True,
               "rec": {"a": 1, "inner": {"deep": "x"}}, "boss": {"__entity": {"type": "User",
                                                                            "id": "bob"}},
               "team": {"__entity": {"type": "Group", "id": "eng"}},
               "limit": {"__extn": {"fn": "decimal", "arg": "1.5"}},
               "addr": {"__extn": {"fn": "ip", "arg": "10.1.2.3"}},
               "max": 9223372036854775807,
               "since": {"__extn": {"fn": "duration", "arg": "50h"}}},
     "parents": [{"type": "Group", "id": "eng"}],
     "tags": {"clearance": "secret", "level": 3}},
    {"uid": {"type": "User", "id": "bob"}, "attrs": {"name": "Bob"}, "parents": []},
    {"uid": {"type": "Group", "id": "eng"}, "attrs": {},
     "parents": [{"type": "Group", "id": "all"}]},
    {"uid": {"type": "Group", "id": "all"}, "attrs": {}, "parents": []},
    {"uid": {"type": "Doc", "id": "d1"},
     "attrs": {"owner": {"__entity": {"type": "User", "id": "alice"}}, "size": 10},
     "parents": [{"type": "Folder", "id": "f"}]},
    {"uid": {"type": "Folder", "id": "f"}, "attrs": {}, "parents": []},
    {"uid": {"type": "Action", "id": "read"}, "attrs": {},
     "parents": [{"type": "Action", "id": "readOnly"}]},
    {"uid": {"type": "Action", "id": "readOnly"}, "attrs": {}, "parents": []},
]
REQUEST = {"principal": {"type": "User", "id": "alice"}, "action": {"type": "Action", "id": "read"},
           "resource": {"type": "Doc", "id": "d1"},
           "context": {"n": 5, "s": "hello*world", "set": [1, 2, 3], "r": {"x": {"y": 2}},
                       "u": "caf\u00e9",
                       "when": {"__extn": {"fn": "datetime", "arg": "2026-06-01T08:00:00Z"}}}}

# (condition, expected): True permit, False deny, an error name: the policy errors
CONDITIONS = [
    # literals, logic, short-circuit
    ("true", True), ("false", False), ("!false", True), ("true && false", False),
    ("false && (1 + 1)", False), ("true || (1 + 1)", True), ("true && (1 + 1)", "RUNTIME_TYPE"),
    ("false || 1", "RUNTIME_TYPE"), ("!1", "RUNTIME_TYPE"),
    ("if context.n > 3 then true else 1", True), ("if 1 then true else true", "RUNTIME_TYPE"),
    ("if false then 1 else context.n == 5", True),
    # comparison and equality
    ("context.n == 5 && context.n != 6", True), ("context.n < 5", False), ("context.n <= 5", True),
    ("context.n > 4 && context.n >= 5", True), ("\"a\" < \"b\"", "RUNTIME_TYPE"),
    ("1 == \"1\"", False), ("User::\"alice\" == User::\"alice\"", True),
    ("User::\"x\" == Group::\"x\"", False), ("principal == resource.owner", True),
    ("[1, 2] == [2, 1, 1]", True), ("{a: 1, b: [2]} == {b: [2], a: 1}", True),
    ("{a: 1} == {a: 1, b: 2}", False), ("[] == []", True),
    ("decimal(\"1.50\") == principal.limit", True), ("ip(\"10.1.2.3\") == principal.addr", True),
    # arithmetic and overflow
    ("context.n + 1 == 6 && context.n - 10 == -5 && context.n * -2 == -10", True),
    ("principal.max + 1 > 0", "OVERFLOW"), ("-9223372036854775808 - 1 < 0", "OVERFLOW"),
    ("principal.max * 2 > 0", "OVERFLOW"), ("-(-9223372036854775807 - 1) > 0", "OVERFLOW"),
    ("-9223372036854775808 < 0", True), ("\"a\" + 1 == 2", "RUNTIME_TYPE"),
    # hierarchy: in
    ("principal in Group::\"all\"", True), ("principal in Group::\"nope\"", False),
    ("principal in [Group::\"x\", Group::\"eng\"]", True), ("principal in principal.team", True),
    ("User::\"alice\" in Group::\"eng\"", True), ("User::\"ghost\" in User::\"ghost\"", True),
    ("User::\"ghost\" in Group::\"all\"", False), ("action in Action::\"readOnly\"", True),
    ("resource in Folder::\"f\"", True), ("1 in [1]", "RUNTIME_TYPE"),
    ("principal in [1]", "RUNTIME_TYPE"), ("principal in []", False),
    # has, attributes, records
    ("principal has age && !(principal has nope)", True), ("principal has \"name\"", True),
    ("User::\"ghost\" has age", False), ("context has n", True),
    ("principal.rec.inner.deep == \"x\"", True), ("principal.rec has inner", True),
    ("principal[\"age\"] == 30", True), ("context.r.x.y == 2", True),
    ("{a: {b: 1}}.a.b == 1", True), ("principal.nope", "MISSING_ATTR"),
    ("User::\"ghost\".age > 1", "NO_ENTITY"), ("resource.owner.name == \"Alice\"", True),
    ("principal.boss.name == \"Bob\"", True), ("principal.boss.age > 1", "MISSING_ATTR"),
    ("1 has a", "RUNTIME_TYPE"), ("context.n.x == 1", "RUNTIME_TYPE"),
    ("context has r.x.y && !(context has r.x.z) && !(context has q.x.y)", True),
    ("principal has rec.inner.deep && principal.rec has inner.deep", True),
    ("context has n.x", "RUNTIME_TYPE"), ("User::\"ghost\" has a.b", False),
    # like
    ("principal.name like \"A*e\"", True), ("principal.name like \"*\"", True),
    ("principal.name like \"a*\"", False), ("context.s like \"hello\\*world\"", True),
    ("\"hello-world\" like \"hello\\*world\"", False), ("context.u like \"caf*\"", True),
    ("context.u == \"caf\\u{e9}\"", True), ("1 like \"*\"", "RUNTIME_TYPE"),
    # is
    ("principal is User", True), ("principal is Group", False),
    ("principal is User in Group::\"all\"", True), ("resource is Doc in Group::\"all\"", False),
    ("1 is User", "RUNTIME_TYPE"),
    # sets
    ("context.set.contains(2)", True), ("context.set.contains(\"2\")", False),
    ("context.set.containsAll([1, 3])", True), ("context.set.containsAll([1, 4])", False),
    ("context.set.containsAny([9, 3])", True), ("context.set.containsAny([])", False),
    ("[].isEmpty() && !context.set.isEmpty()", True), ("principal.tags.contains(\"b\")", True),
    ("[principal.age, context.n].contains(30)", True), ("1.contains(1)", "RUNTIME_TYPE"),
    ("context.set.containsAll(1)", "RUNTIME_TYPE"),
    # extension types
    ("decimal(\"1.2345\").lessThan(decimal(\"1.2346\"))", True),
    ("principal.limit.greaterThanOrEqual(decimal(\"-0.5\"))", True),
    ("decimal(\"1.23456\") == decimal(\"1\")", "EXTENSION"),
    ("decimal(\"922337203685477.5807\").greaterThan(decimal(\"0.0\"))", True),
    ("decimal(\"922337203685477.5808\").greaterThan(decimal(\"0.0\"))", "EXTENSION"),
    ("ip(\"10.1.2.3\").isInRange(ip(\"10.0.0.0/8\"))", True),
    ("ip(\"10.1.2.3\").isInRange(ip(\"10.2.0.0/16\"))", False),
    ("ip(\"127.0.0.1\").isLoopback() && ip(\"::1\").isLoopback()", True),
    ("ip(\"224.1.1.1\").isMulticast() && ip(\"ff02::1\").isMulticast()", True),
    ("ip(\"2001:db8::1\").isIpv6() && !ip(\"2001:db8::1\").isIpv4()", True),
    ("ip(\"2001:db8::1\").isInRange(ip(\"2001:db8::/32\"))", True),
    ("ip(\"1.2.3.4/33\").isIpv4()", "EXTENSION"), ("ip(\"::ffff:1.2.3.4\").isIpv6()", "EXTENSION"),
    ("principal.addr.isInRange(ip(\"10.1.0.0/16\"))", True),
    # datetime and duration (no clock: the request brings the time)
    ("datetime(\"2024-10-15\") < datetime(\"2024-10-16\")", True),
    ("datetime(\"2024-10-15T11:35:00Z\").toDate() == datetime(\"2024-10-15\")", True),
    ("datetime(\"2024-10-15T11:35:00.123+0100\").toTime() == duration(\"10h35m123ms\")", True),
    ("duration(\"1d2h3m4s5ms\").toMilliseconds() == 93784005", True),
    ("datetime(\"2024-10-15\").offset(duration(\"-1d\")) == datetime(\"2024-10-14\")", True),
    ("datetime(\"2024-10-15\").durationSince(datetime(\"2024-10-14\")) == duration(\"24h\")",
     True),
    ("duration(\"-1h\") < duration(\"1s\")", True),
    ("datetime(\"1969-12-31T23:59:59Z\").toDate() == datetime(\"1969-12-31\")", True),
    ("datetime(\"2024-13-01\") == datetime(\"2024-01-01\")", "EXTENSION"),
    ("duration(\"1h\").toHours() == 1 && duration(\"-90m\").toHours() == -1", True),
    ("duration(\"1h\") == duration(\"60m\")", True),
    ("datetime(\"2024-02-30\") == datetime(\"2024-03-01\")", "EXTENSION"),
    ("datetime(\"2024-10-15T11:35:00.1Z\") == datetime(\"2024-10-15\")", "EXTENSION"),
    ("duration(\"1h1h\") == duration(\"2h\")", "EXTENSION"),
    ("duration(\"\") == duration(\"0ms\")", "EXTENSION"),
    ("datetime(\"2024-10-15\") < 1", "RUNTIME_TYPE"), ("decimal(\"1.0\") < decimal(\"2.0\")",
                                                          "RUNTIME_TYPE"),
    ("datetime(\"2024-10-15T23:59:59+2359\") < datetime(\"2024-10-16\")", True),
    ("datetime(\"2024-10-15T23:59:60Z\") < datetime(\"2024-10-16\")", "EXTENSION"),
    ("datetime(\"2024-10-15T23:59:59+2400\") < datetime(\"2024-10-16\")", "EXTENSION"),
    ("duration(\"9223372036854775807ms\") > duration(\"0ms\")", True),
    ("duration(\"9223372036854775808ms\") > duration(\"0ms\")", "EXTENSION"),
    ("duration(\"-9223372036854775808ms\") < duration(\"0ms\")", True),
    ("datetime(\"2024-10-15\").offset(duration(\"9223372036854775807ms\")) > "
     "datetime(\"2024-10-15\")", "OVERFLOW"),
    ("duration(\"-36h\").toDays() == -1 && duration(\"119s\").toMinutes() == 1", True),
    ("datetime(\"2024-10-15\") == duration(\"1ms\")", False),
    ("datetime(\"2024-1-15\") < datetime(\"2024-10-16\")", "EXTENSION"),
    ("duration(\"1m1h\") > duration(\"0ms\")", "EXTENSION"),
    ("datetime(\"1900-02-29\") < datetime(\"2024-01-01\")", "EXTENSION"),
    ("datetime(\"2000-02-29\") < datetime(\"2024-01-01\")", True),
    ("context.when < datetime(\"2030-01-01\") && principal.since.toDays() == 2", True),
    # entity tags
    ("principal.hasTag(\"clearance\") && principal.getTag(\"clearance\") == \"secret\"", True),
    ("principal.hasTag(\"nope\")", False), ("principal.getTag(\"nope\") == 1", "MISSING_ATTR"),
    ("principal.getTag(\"level\") > 2", True), ("User::\"ghost\".hasTag(\"x\")", False),
]


def cedar(policies, request=REQUEST, entities=ENTITIES):
    cedarpy = pytest.importorskip("cedarpy")
    r = cedarpy.is_authorized(request, policies, json.dumps(entities))
    errs = ["policy" + e.split("`policy", 1)[1].split("`", 1)[0]
            for e in r.diagnostics.errors if "`policy" in e]
    return str(r.decision).split(".")[-1], sorted(r.diagnostics.reasons), errs


@pytest.fixture(scope="module")
def entities():
    return abac.CedarEntities(ENTITIES)


@pytest.mark.parametrize("cond,want", CONDITIONS, ids=[c for c, _ in CONDITIONS])
def test_operator(cond, want, entities):
    text = f"permit(principal, action, resource) when {{ {cond} }};"
    got = abac.CedarPolicies(text).is_authorized(REQUEST, entities)
    if want is True:
        assert (got.decision, got.reasons, got.errors) == ("Allow", ["policy0"], [])
    elif want is False:
        assert (got.decision, got.reasons, got.errors) == ("Deny", [], [])
    else:
        assert (got.decision, got.reasons, got.errors) == ("Deny", [], [("policy0", want)])
    assert cedar(text) == (got.decision, got.reasons, [p for p, _ in got.errors])


SCOPES = [
    ("principal == User::\"alice\"", True), ("principal == User::\"bob\"", False),
    ("principal in Group::\"all\"", True), ("principal is User", True),
    ("principal is Group", False), ("principal is User in Group::\"eng\"", True),
    ("principal is User in Group::\"x\"", False),
    ("action == Action::\"read\"", True), ("action in Action::\"readOnly\"", True),
    ("action in [Action::\"write\", Action::\"readOnly\"]", True),
    ("action in [Action::\"write\"]", False), ("action in []", False),
    ("resource == Doc::\"d1\"", True), ("resource in Folder::\"f\"", True),
    ("resource is Doc in Folder::\"f\"", True), ("resource is Folder", False),
]


@pytest.mark.parametrize("scope,want", SCOPES, ids=[s for s, _ in SCOPES])
def test_scope(scope, want, entities):
    slots = {"principal": "principal", "action": "action", "resource": "resource"}
    slots[scope.split()[0]] = scope
    text = f"permit({slots['principal']}, {slots['action']}, {slots['resource']});"
    got = abac.CedarPolicies(text).is_authorized(REQUEST, entities)
    assert got.allowed is want
    assert cedar(text)[0] == got.decision


def test_forbid_overrides_permit_and_reasons(entities):
    text = """
        @id("allow-all") permit(principal, action, resource);
        permit(principal in Group::"eng", action, resource) when { context.n > 1 };
        forbid(principal, action, resource) unless { principal.age > 40 };
        forbid(principal, action, resource) when { principal.nope };
    """
    ps = abac.CedarPolicies(text)
    got = ps.is_authorized(REQUEST, entities)
    assert (got.decision, got.reasons, got.errors) == \
        ("Deny", ["policy2"], [("policy3", "MISSING_ATTR")])
    assert cedar(text) == ("Deny", ["policy2"], ["policy3"])
    assert ps.annotation(0, "id") == "allow-all" and ps.annotation(1, "id") is None
    text2 = text.replace("unless", "when")
    got = abac.CedarPolicies(text2).is_authorized(REQUEST, entities)
    assert (got.decision, got.reasons) == ("Allow", ["policy0", "policy1"])
    assert cedar(text2)[:2] == ("Allow", ["policy0", "policy1"])
    got = abac.CedarPolicies("").is_authorized(REQUEST, entities)
    assert (got.decision, got.reasons, got.errors) == ("Deny", [], [])


def test_request_forms_and_json_errors(entities):
    ps = abac.CedarPolicies('permit(principal == User::"alice", action, resource);')
    req = {"principal": 'User::"alice"', "action": 'Action::"read"', "resource": 'Doc::"d1"'}
    assert ps.is_authorized(req, entities).allowed
    req["principal"] = {"__entity": {"type": "User", "id": "alice"}}
    assert ps.is_authorized(req, entities).allowed
    for bad in ('{"principal": 1}', '{"principal": "User::\\"a\\"", "action": "A::\\"b\\""}',
                '{"principal": "x", "action": "y", "resource": "z"}', '[', '{"context": []}'):
        with pytest.raises(abac.InvalidInputError):
            ps.is_authorized(bad, entities)
    for bad in ('{}', '[{"uid": {"type": "A"}}]', '[{"uid": {"type": "A", "id": "a"}, "x": 1}]',
                '[{"uid": {"type": "A", "id": "a"}, "attrs": {"f": 1.5}}]',
                '[{"uid": {"type": "A", "id": "a"}, "attrs": {}, "parents": []}, '
                '{"uid": {"type": "A", "id": "a"}, "attrs": {}, "parents": []}]',
                '[{"uid": {"type": "A", "id": "a"}, "attrs": {"n": null}}]'):
        with pytest.raises(abac.InvalidInputError):
            abac.CedarEntities(bad)


def test_names_with_nul_are_bytes_not_cut():
    # Regression (issue 21): a NUL byte in a name is part of the name in the Cedar API.
    ents = [{"uid": {"type": "User", "id": "a"}, "attrs": {"k\u0000zz": 1}, "parents": []}]
    req = {"principal": {"type": "User", "id": "a"}, "action": 'Action::"x"',
           "resource": 'R::"r"'}
    ps = abac.CedarPolicies('permit(principal, action, resource) when { principal has k };\n'
                            'permit(principal, action, resource) when { principal has "k\\0zz" };')
    got = ps.is_authorized(req, ents)
    assert got.reasons == ["policy1"]
    assert cedar(ps_text := 'permit(principal, action, resource) when { principal has k };',
                 req, ents)[0] == "Deny"
    assert abac.CedarPolicies(ps_text).is_authorized(req, ents).decision == "Deny"


PARSE_ERRORS = [
    ("permit(principal, action, resource) when { a é };", 1, 44, "found 'a'"),
    ("permit(principal, action, resource) when { context.x # 1 };", 1, 54,
     "unexpected character '#'"),
    ("permit(principal, action, resource)\n  when { context.\u00e9 };", 2, 18,
     "unexpected character 'é' (U+00E9)"),
    ("permit(principal, action, resource) when { 1 < 2 < 3 };", 1, 50, "found '<'"),
    ("allow(principal, action, resource);", 1, 1, "expected 'permit', 'forbid'"),
    ("permit(principal, action, resource) when { {a: 1, a: 2} };", 1, 51, "duplicate key"),
    ("permit(principal, action, resource) when { 9223372036854775808 };", 1, 44, "64-bit"),
    ("permit(principal, action, resource) when { context.x.foo() };", 1, 54, "unknown method"),
    ("permit(principal, action, resource) when { true }", 1, 50, "found end of input"),
    # found by the differential test: an early parser took `if` after `&&`; Cedar does not
    ("permit(principal, action, resource) when { true && if true then true else false };", 1,
     52, "found 'if'"),
]


@pytest.mark.parametrize("text,line,col,msg", PARSE_ERRORS, ids=[p[3] for p in PARSE_ERRORS])
def test_parse_errors_name_character_line_column(text, line, col, msg):
    with pytest.raises(abac.PolicyError) as ei:
        abac.CedarPolicies(text)
    e = ei.value
    assert msg in e.detail and (e.line, e.column) == (line, col), (e.line, e.column, e.detail)
    cedarpy = pytest.importorskip("cedarpy")
    with pytest.raises(ValueError):
        cedarpy.PolicySet.from_str(text)
