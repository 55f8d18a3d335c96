"""Entities and requests read with a Cedar schema (libabac 1.2.0): values whose declared type
is an entity or an extension type may omit the ``__entity`` / ``__extn`` escapes, and Cedar
interprets them by the declared type. Differential against Cedar itself (cedarpy, with the
same schema) on a hand-written corpus of every implicit form and on seeded random inputs:
equal load pass/fail, and on accepted inputs equal decisions, reasons and erroring or not."""
import json
import random

import pytest

from fedshare import abac
from fedshare.errors import InvalidInputError

cedarpy = pytest.importorskip("cedarpy")

ATTRS = {
    "boss": {"type": "Entity", "name": "User", "required": False},
    "friends": {"type": "Set", "element": {"type": "Entity", "name": "User"}, "required": False},
    "r": {"type": "Record", "attributes": {"u": {"type": "Entity", "name": "User"},
                                            "ips": {"type": "Set", "element": {
                                                "type": "Extension", "name": "ipaddr"}}},
          "required": False},
    "ip": {"type": "Extension", "name": "ipaddr", "required": False},
    "d": {"type": "Extension", "name": "decimal", "required": False},
    "dt": {"type": "Extension", "name": "datetime", "required": False},
    "du": {"type": "Extension", "name": "duration", "required": False},
    "n": {"type": "Long", "required": False},
    "s": {"type": "String", "required": False},
}
SCHEMA = {"": {
    "entityTypes": {
        "User": {"memberOfTypes": ["Team"], "shape": {"type": "Record", "attributes": ATTRS},
                 "tags": {"type": "Extension", "name": "ipaddr"}},
        "Team": {}},
    "actions": {"a": {"appliesTo": {
        "principalTypes": ["User"], "resourceTypes": ["User"],
        "context": {"type": "Record", "attributes": {
            "src": {"type": "Extension", "name": "ipaddr"},
            "who": {"type": "Entity", "name": "User"},
            "whom": {"type": "Set", "element": {"type": "Entity", "name": "User"},
                     "required": False},
            "when": {"type": "Extension", "name": "datetime", "required": False},
            "amt": {"type": "Extension", "name": "decimal", "required": False},
            "rec": {"type": "Record", "attributes": {"t": {"type": "Entity", "name": "Team"}},
                    "required": False}}}}}}}}

CONDS = [
    'principal.boss == User::"bob"',
    'principal.friends.contains(User::"bob")',
    'principal.r.u == User::"bob"',
    'principal.r.ips.contains(ip("10.0.0.1"))',
    'principal.ip.isInRange(ip("10.0.0.0/8"))',
    'principal.d.lessThan(decimal("2.0"))',
    'principal.dt < datetime("2025-01-01")',
    'principal.du < duration("2h")',
    'principal.getTag("t").isLoopback()',
    'context.src.isIpv4()',
    'context.who == User::"bob"',
    'context.whom.contains(User::"bob")',
    'context.when > datetime("2020-01-01T00:00:00Z")',
    'context.amt.greaterThan(decimal("0.5"))',
    'context.rec.t == Team::"t"',
    'principal.boss in Team::"t"',
    'principal has boss && principal.boss == context.who',
]
POLICIES = "\n".join(f"permit(principal, action, resource) when {{ {c} }};" for c in CONDS)
REQ = {"principal": {"type": "User", "id": "alice"}, "action": {"type": "Action", "id": "a"},
       "resource": {"type": "User", "id": "bob"}}
ENT = {"type": "User", "id": "bob"}


def ent(attrs, tags=None):
    e = {"uid": {"type": "User", "id": "alice"}, "attrs": attrs, "parents": []}
    if tags is not None:
        e["tags"] = tags
    return [e, {"uid": ENT, "attrs": {}, "parents": [{"type": "Team", "id": "t"}]},
            {"uid": {"type": "Team", "id": "t"}, "attrs": {}, "parents": []}]


def cedar(entities, context):
    r = cedarpy.is_authorized(dict(REQ, context=context), POLICIES, json.dumps(entities),
                              schema=SCHEMA)
    if r.decision == cedarpy.Decision.NoDecision:
        return None
    return (r.decision.value, sorted(r.diagnostics.reasons), bool(r.diagnostics.errors))


_POL = None


def ours(entities, context):
    global _POL
    if _POL is None:
        _POL = (abac.CedarPolicies(POLICIES), abac.CedarSchema(SCHEMA))
    ps, sch = _POL
    try:
        r = ps.is_authorized(dict(REQ, context=context), entities, schema=sch)
    except InvalidInputError:
        return None
    return (r.decision, sorted(r.reasons), bool(r.errors))


CTX = {"src": "1.2.3.4", "who": ENT}
CORPUS = [
    # (attrs, tags, context)
    ({"boss": ENT}, None, CTX),
    ({"boss": {"__entity": ENT}}, None, CTX),
    ({"boss": 'User::"bob"'}, None, CTX),                       # refused by Cedar too
    ({"boss": {"type": "Team", "id": "t"}}, None, CTX),         # wrong entity type
    ({"boss": {"type": "User", "id": "bob", "x": 1}}, None, CTX),
    ({"boss": {"type": "User"}}, None, CTX),
    ({"friends": [ENT, {"__entity": {"type": "User", "id": "alice"}}]}, None, CTX),
    ({"friends": []}, None, CTX),
    ({"friends": [ENT, "x"]}, None, CTX),
    ({"r": {"u": ENT, "ips": ["10.0.0.1", {"fn": "ip", "arg": "10.0.0.2"}]}}, None, CTX),
    ({"r": {"u": ENT, "ips": ["nope"]}}, None, CTX),
    ({"r": {"u": ENT}}, None, CTX),                             # required `ips` missing
    ({"ip": "10.0.0.1"}, None, CTX),
    ({"ip": "10.1.0.0/16"}, None, CTX),
    ({"ip": "::1"}, None, CTX),
    ({"ip": {"fn": "ip", "arg": "10.0.0.1"}}, None, CTX),
    ({"ip": {"fn": "ipaddr", "arg": "10.0.0.1"}}, None, CTX),
    ({"ip": {"__extn": {"fn": "ip", "arg": "10.0.0.1"}}}, None, CTX),
    ({"ip": {"__extn": {"fn": "ipaddr", "arg": "10.0.0.1"}}}, None, CTX),  # no such function
    ({"ip": "zzz"}, None, CTX),
    ({"ip": 7}, None, CTX),
    ({"ip": {"fn": "decimal", "arg": "1.0"}}, None, CTX),
    ({"d": "1.23"}, None, CTX),
    ({"d": "-0.5"}, None, CTX),
    ({"d": {"fn": "decimal", "arg": "3.0"}}, None, CTX),
    ({"d": "1.2345678"}, None, CTX),
    ({"d": "1"}, None, CTX),
    ({"dt": "2024-01-01"}, None, CTX),
    ({"dt": "2024-01-01T10:00:00Z"}, None, CTX),
    ({"dt": "2024-01-01T10:00:00.123+0130"}, None, CTX),
    ({"dt": {"fn": "datetime", "arg": "2026-01-01"}}, None, CTX),
    ({"dt": "yesterday"}, None, CTX),
    ({"du": "1h"}, None, CTX),
    ({"du": "-3h30m"}, None, CTX),
    ({"du": "1d2h3m4s5ms"}, None, CTX),
    ({"du": {"fn": "duration", "arg": "5h"}}, None, CTX),
    ({"du": "1x"}, None, CTX),
    ({"n": 3, "s": "10.0.0.1"}, None, CTX),                     # strings stay strings
    ({"s": ENT}, None, CTX),                                    # a record is no String
    ({}, {"t": "127.0.0.1"}, CTX),
    ({}, {"t": {"fn": "ip", "arg": "10.0.0.1"}}, CTX),
    ({}, {"t": "bad ip"}, CTX),
    ({}, None, {"src": "1.2.3.4", "who": {"__entity": ENT}}),
    ({}, None, {"src": {"__extn": {"fn": "ip", "arg": "::1"}}, "who": ENT}),
    ({}, None, {"src": "bad", "who": ENT}),
    ({}, None, {"src": "1.2.3.4", "who": {"type": "Team", "id": "t"}}),
    ({}, None, {"src": "1.2.3.4"}),
    ({}, None, dict(CTX, whom=[ENT])),
    ({}, None, dict(CTX, whom=[{"type": "User"}])),
    ({}, None, dict(CTX, when="2024-06-01T00:00:00Z", amt="0.75")),
    ({}, None, dict(CTX, when="2024-06-01T00:00:00Z", amt="x")),
    ({}, None, dict(CTX, rec={"t": {"type": "Team", "id": "t"}})),
    ({}, None, dict(CTX, extra=1)),
    ({"boss": ENT, "ip": "10.0.0.1", "d": "0.1", "dt": "2024-01-01", "du": "1m",
      "friends": [ENT], "r": {"u": ENT, "ips": ["10.0.0.1"]}}, {"t": "127.0.0.1"},
     dict(CTX, whom=[ENT], when="2024-06-01", amt="1.0", rec={"t": {"type": "Team", "id": "t"}})),
]


@pytest.mark.parametrize("case", range(len(CORPUS)))
def test_corpus_matches_cedar(case):
    attrs, tags, ctx = CORPUS[case]
    want = cedar(ent(attrs, tags), ctx)
    assert ours(ent(attrs, tags), ctx) == want, (attrs, tags, ctx, want)


def test_corpus_covers_both_outcomes():
    outcomes = [cedar(ent(a, t), c) for a, t, c in CORPUS]
    assert sum(o is None for o in outcomes) >= 15
    assert sum(o is not None and o[0] == "Allow" for o in outcomes) >= 15


def test_without_schema_unchanged():
    """Without a schema the implicit forms are plain records and strings, as before."""
    ps = abac.CedarPolicies('permit(principal, action, resource) when '
                            '{ principal.boss == User::"bob" };')
    r = ps.is_authorized(dict(REQ, context={}), ent({"boss": ENT}))
    assert r.decision == "Deny" and not r.errors
    r = ps.is_authorized(dict(REQ, context=CTX), ent({"boss": ENT}), schema=SCHEMA)
    assert r.decision == "Allow"
    es = abac.CedarEntities(ent({"ip": "zzz"}))                 # a string, accepted
    assert len(es) == 3
    with pytest.raises(InvalidInputError):
        abac.CedarEntities(ent({"ip": "zzz"}), schema=SCHEMA)
    # human-readable schema text is accepted as well
    sch = abac.CedarSchema(
        "entity Team; entity User in [Team] {boss?: User, ip?: ipaddr};"
        " action a appliesTo {principal: User, resource: User};")
    es = abac.CedarEntities(ent({"boss": ENT, "ip": "10.0.0.1"})[:1], schema=sch)
    assert len(es) == 2  # 1.3.0: and the schema's action `a` (test_cedar_schema_actions.py)


def _rand_value(rng, kind):
    """A value for a declared kind, written in a random form: mostly a valid one (escaped or
    implicit), sometimes one that Cedar refuses."""
    good = {"ip": ["10.0.0.1", "127.0.0.1", "192.168.0.0/16", "::1"],
            "decimal": ["1.23", "-0.5", "2.0", "0.0001"],
            "datetime": ["2024-01-01", "2026-05-05T01:02:03Z", "2019-12-31T23:59:59.999Z"],
            "duration": ["1h", "3h", "-1d", "90m", "1s500ms"]}
    bad = {"ip": ["zzz", "1.2.3"], "decimal": ["1.23456", "x"], "datetime": ["2024-13-01", "x"],
           "duration": ["1x", ""]}
    ok = rng.random() < 0.93
    if kind == "User":
        uid = {"type": "User", "id": rng.choice(["bob", "alice", "carol"])}
        if ok:
            return rng.choice([uid, uid, {"__entity": uid}])
        return rng.choice([{"type": "Team", "id": "t"}, 'User::"bob"', 5, {"id": "bob"}])
    fn = {"ip": "ip", "decimal": "decimal", "datetime": "datetime", "duration": "duration"}[kind]
    if ok:
        arg = rng.choice(good[kind])
        return rng.choice([arg, arg, {"fn": fn, "arg": arg}, {"__extn": {"fn": fn, "arg": arg}}])
    arg = rng.choice(good[kind] + bad[kind])
    return rng.choice([rng.choice(bad[kind]), {"fn": rng.choice(["ip", "decimal"]), "arg": arg},
                       {"fn": "ipaddr", "arg": arg}, 3])


def test_random_matches_cedar():
    rng = random.Random(20261207)
    kinds = {"boss": "User", "ip": "ip", "d": "decimal", "dt": "datetime", "du": "duration"}
    loaded = 0
    for _ in range(300):
        attrs = {k: _rand_value(rng, v) for k, v in kinds.items() if rng.random() < 0.5}
        if rng.random() < 0.4:
            attrs["friends"] = [_rand_value(rng, "User") for _ in range(rng.randrange(3))]
        if rng.random() < 0.3:
            attrs["r"] = {"u": _rand_value(rng, "User"),
                          "ips": [_rand_value(rng, "ip") for _ in range(rng.randrange(3))]}
        tags = {"t": _rand_value(rng, "ip")} if rng.random() < 0.3 else None
        ctx = {"src": _rand_value(rng, "ip"), "who": _rand_value(rng, "User")}
        if rng.random() < 0.4:
            ctx["when"] = _rand_value(rng, "datetime")
        if rng.random() < 0.4:
            ctx["amt"] = _rand_value(rng, "decimal")
        want = cedar(ent(attrs, tags), ctx)
        loaded += want is not None
        assert ours(ent(attrs, tags), ctx) == want, (attrs, tags, ctx, want)
    assert 60 <= loaded <= 270, loaded
