"""Cedar schemas in libabac: the JSON and the human-readable formats, strict validation of
policy sets (equal pass/fail verdicts with Cedar's own validator, cedarpy, on a hand-written
corpus and on seeded random schema/policy pairs), and conformance of entities and requests."""
import json
import random

import pytest

from fedshare import abac
from fedshare.errors import InvalidInputError

SCHEMA = """
// a commented schema with every kind of declaration
type Ctx = {n: Long, s?: String};
entity Group;
entity User in [Group] = {age: Long, nick?: String, tags: Set<String>, boss?: User,
                          rec: {a: Long, b?: Bool}};
@doc("documents")
entity Doc = {owner: User, size: Long, "odd key": String} tags String;
entity Color enum ["red", "green"];
action view, edit appliesTo {principal: User, resource: Doc, context: Ctx};
action admin appliesTo {principal: Group, resource: Doc};
action "read all" in [view] appliesTo {principal: [User], resource: [Doc],
                                       context: {when: datetime, ip: ipaddr, d: decimal}};
"""

SCHEMA_JSON = {"": {
    "commonTypes": {"Ctx": {"type": "Record", "attributes": {
        "n": {"type": "Long"}, "s": {"type": "String", "required": False}}}},
    "entityTypes": {
        "Group": {},
        "User": {"memberOfTypes": ["Group"], "shape": {"type": "Record", "attributes": {
            "age": {"type": "Long"}, "nick": {"type": "String", "required": False},
            "tags": {"type": "Set", "element": {"type": "String"}},
            "boss": {"type": "Entity", "name": "User", "required": False},
            "rec": {"type": "Record", "attributes": {
                "a": {"type": "Long"}, "b": {"type": "Boolean", "required": False}}}}}},
        "Doc": {"shape": {"type": "Record", "attributes": {
            "owner": {"type": "Entity", "name": "User"}, "size": {"type": "Long"},
            "odd key": {"type": "String"}}}, "tags": {"type": "String"}},
        "Color": {"enum": ["red", "green"]}},
    "actions": {
        "view": {"appliesTo": {"principalTypes": ["User"], "resourceTypes": ["Doc"],
                               "context": {"type": "Ctx"}}},
        "edit": {"appliesTo": {"principalTypes": ["User"], "resourceTypes": ["Doc"],
                               "context": {"type": "Ctx"}}},
        "admin": {"appliesTo": {"principalTypes": ["Group"], "resourceTypes": ["Doc"]}},
        "read all": {"memberOf": [{"id": "view"}], "appliesTo": {
            "principalTypes": ["User"], "resourceTypes": ["Doc"],
            "context": {"type": "Record", "attributes": {
                "when": {"type": "Extension", "name": "datetime"},
                "ip": {"type": "Extension", "name": "ipaddr"},
                "d": {"type": "Extension", "name": "decimal"}}}}}}}}

P = 'permit(principal, action, resource) when { %s };'
# (policy, passes under SCHEMA?, code of the first error) — what Cedar 4's validator says
CORPUS = [
    (P % 'principal is User && principal.age > 1', True, None),
    (P % 'principal.age > 1', False, "UNKNOWN_ATTR"),
    (P % 'principal is User && principal.nick == "a"', False, "UNSAFE_ATTR"),
    (P % 'principal is User && principal has nick && principal.nick == "a"', True, None),
    (P % 'false && principal.nick == "a"', True, None),
    (P % 'principal has foo && principal.foo', True, None),
    (P % '[] == []', False, "TYPE"),
    (P % 'if true then 1 else "a"', False, "TYPE"),
    (P % '[1, "a"].contains(1)', False, "TYPE"),
    (P % '1 == "a"', True, None),
    (P % 'principal == resource', True, None),
    (P % 'principal in Foo::"g"', False, "UNKNOWN_TYPE"),
    (P % 'action == Action::"nope"', False, "UNKNOWN_TYPE"),
    (P % 'resource.getTag("x") == "a"', False, "UNSAFE_ATTR"),
    (P % 'resource.hasTag("x") && resource.getTag("x") == "a"', True, None),
    (P % 'context.s == "a"', False, "UNSAFE_ATTR"),
    (P % 'action in [Action::"view", Action::"edit"] && context has s && context.s like "a*"',
     True, None),
    (P % 'decimal("1.00000") == decimal("1.0")', False, "EXTENSION"),
    (P % 'decimal("1.0") < decimal("2.0")', False, "TYPE"),
    (P % 'decimal("1.0").lessThan(decimal("2.0"))', True, None),
    (P % 'datetime("2020-01-01").offset(duration("1h")) < datetime("2021-01-01")', True, None),
    (P % 'ip("1.2.3.x").isIpv4()', False, "EXTENSION"),
    (P % 'action == Action::"read all" && context.when < datetime("2021-01-01") && '
         'context.ip.isLoopback() && context.d.greaterThan(decimal("0.5"))', True, None),
    (P % '{a: 1} == {a: "x"}', False, "TYPE"),
    (P % 'principal is User && principal.rec == {a: 1}', False, "TYPE"),
    (P % 'principal is User && principal.tags.containsAll([1])', False, "TYPE"),
    (P % 'resource.owner.boss.age > 1', False, "UNSAFE_ATTR"),
    (P % 'resource.owner has boss && resource.owner.boss.age > 1', True, None),
    (P % 'resource["odd key"] like "*"', True, None),
    (P % 'Color::"red" == Color::"red"', True, None),
    (P % 'Color::"blue" == Color::"red"', False, "UNKNOWN_TYPE"),
    (P % '1 && false', False, "TYPE"),
    (P % 'true || principal.foo', True, None),
    (P % 'principal is User && (principal has nick || principal.nick == "a")', False,
     "UNSAFE_ATTR"),
    (P % 'if principal has age then principal.age > 1 else false', True, None),
    (P % 'principal in [resource, principal]', False, "TYPE"),
    (P % 'principal in [Group::"a", Group::"b"]', True, None),
    (P % '1 in principal', False, "TYPE"),
    (P % 'action.foo', False, "UNKNOWN_ATTR"),
    (P % 'principal.age.foo', False, "TYPE"),
    ('permit(principal == Doc::"x", action, resource);', False, "NOT_APPLICABLE"),
    ('permit(principal is Group, action == Action::"view", resource);', False, "NOT_APPLICABLE"),
    ('permit(principal is User in Group::"g", action, resource);', True, None),
    # "read all" is in view and has no context.n
    ('permit(principal, action in Action::"view", resource) when { context.n > 0 };', False,
     "UNKNOWN_ATTR"),
    ('permit(principal, action == Action::"zzz", resource);', False, "UNKNOWN_TYPE"),
    ('permit(principal == Zed::"x", action, resource);', False, "UNKNOWN_TYPE"),
    ('permit(principal, action, resource == User::"g");', False, "NOT_APPLICABLE"),
    ('forbid(principal, action == Action::"admin", resource) unless { principal == Group::"a" };',
     True, None),
]


@pytest.mark.parametrize("schema", [SCHEMA, SCHEMA_JSON, json.dumps(SCHEMA_JSON)],
                         ids=["cedar", "json-dict", "json-text"])
def test_corpus_verdicts(schema):
    s = abac.CedarSchema(schema)
    assert s.entity_type_count == 4 and s.action_count == 4
    for text, ok, code in CORPUS:
        r = s.validate(text)
        assert r.passed == ok, (text, r.errors)
        if not ok:
            assert r.errors[0].code == code, (text, r.errors)
            assert r.errors[0].policy_id == "policy0"
            assert "policy0" not in r.errors[0].message


def test_messages_read_like_cedars():
    s = abac.CedarSchema(SCHEMA)
    msgs = [e.message for e in s.validate(P % 'principal.age > 1').errors]
    assert "attribute `age` on entity type `Group` not found" in msgs
    msgs = [e.message for e in s.validate(P % 'principal is User && principal.nick == ""').errors]
    assert msgs == ["unable to guarantee safety of access to optional attribute `nick` on entity "
                    "type `User`"]
    r = s.validate('permit(principal, action, resource);\n'
                   'forbid(principal, action, resource) when { 1 + "a" == 2 };')
    assert [e.policy_id for e in r.errors] == ["policy1"]
    assert r.errors[0].message == "unexpected type: expected Long but saw String"
    assert r.errors[0].line == 2


def test_corpus_against_cedar():
    cedarpy = pytest.importorskip("cedarpy")
    s = abac.CedarSchema(SCHEMA)
    for text, ok, _ in CORPUS:
        assert cedarpy.validate_policies(text, SCHEMA).validation_passed == ok, text
        assert cedarpy.validate_policies(text, SCHEMA_JSON).validation_passed == ok, text
        assert s.validate(text).passed == ok


@pytest.mark.parametrize("bad,line", [
    ("entity User = {a: Long", 1),
    ("entity User;\nentity User;", 0),
    ("entity A in [B];", 0),
    ("action a appliesTo {principal: Nope, resource: A};", 0),
    ("type T = {x: T};\nentity E = {t: T};", 0),
    ("entity E = {a: Long,\n  b: Strin};", 0),
    ("namespace N {\n entity E;\n", 3),
    ("entity E;\naction a in [b];", 0),
    ("entity E\u00e9;", 1),
])
def test_schema_syntax_errors(bad, line):
    with pytest.raises(abac.PolicyError) as ei:
        abac.CedarSchema(bad)
    assert abac.CODES[ei.value.code] == "SCHEMA"
    assert ei.value.line == line
    assert ei.value.detail


@pytest.mark.parametrize("bad", [
    {"": {"entityTypes": {}, "actions": {}, "oops": 1}},
    {"": {"entityTypes": {"A": {"shape": {"type": "Long"}}}, "actions": {}}},
    {"": {"entityTypes": {"A": {"memberOfTypes": ["B"]}}, "actions": {}}},
    {"": {"entityTypes": {}, "actions": {"a": {"memberOf": [{"id": "a"}]}}}},
    {"": {"entityTypes": {"A": {"shape": {"type": "Record", "attributes": {
        "x": {"type": "Extension", "name": "float"}}}}}, "actions": {}}},
    {"": {"entityTypes": {}}},
    "[1]",
    '{"": {"entityTypes": {}, "actions": {}}} x',
])
def test_json_schema_errors(bad):
    with pytest.raises(abac.PolicyError) as ei:
        abac.CedarSchema(bad, format="json")
    assert abac.CODES[ei.value.code] == "SCHEMA"


def test_namespaces_and_qualified_names():
    s = abac.CedarSchema("""
        namespace App {
          entity Org;
          entity Member in [Org] = {org: Org};
          entity Dataset = {owner: Org, uses: Long};
          action train appliesTo {principal: Member, resource: Dataset, context: {purpose: String}};
        }
        entity Global;""")
    ok = ('permit(principal, action == App::Action::"train", resource is App::Dataset) '
          'when { principal in resource.owner && context.purpose == "training" && '
          'resource.uses < 100 };')
    assert s.validate(ok).passed
    r = s.validate('permit(principal, action == Action::"train", resource);')
    assert not r.passed and r.errors[0].code == "UNKNOWN_TYPE"
    r = s.validate('permit(principal in Org::"x", action, resource);')
    assert not r.passed and r.errors[0].code == "UNKNOWN_TYPE"


def test_entities_and_requests_conform():
    s = abac.CedarSchema(SCHEMA)
    good = [
        {"uid": {"type": "Group", "id": "g"}, "attrs": {}, "parents": []},
        {"uid": {"type": "User", "id": "u"}, "parents": [{"type": "Group", "id": "g"}],
         "attrs": {"age": 3, "tags": ["a"], "rec": {"a": 1}, "boss": {"__entity":
                   {"type": "User", "id": "u"}}}},
        {"uid": {"type": "Doc", "id": "d"}, "attrs": {
            "owner": {"__entity": {"type": "User", "id": "u"}}, "size": 1, "odd key": ""},
         "parents": [], "tags": {"x": "y"}},
        {"uid": {"type": "Action", "id": "read all"}, "attrs": {},
         "parents": [{"type": "Action", "id": "view"}]},
    ]
    s.check_entities(good)

    def refused(ents, code):
        with pytest.raises(InvalidInputError) as ei:
            s.check_entities(ents)
        assert abac.CODES[ei.value.code] == code, ei.value

    u = good[1]
    refused([{**u, "attrs": {**u["attrs"], "age": "3"}}], "ATTR_TYPE")
    refused([{**u, "attrs": {k: v for k, v in u["attrs"].items() if k != "age"}}],
            "REQUIRED_ATTR")
    refused([{**u, "attrs": {**u["attrs"], "zzz": 1}}], "UNKNOWN_ATTR")
    refused([{**u, "attrs": {**u["attrs"], "rec": {"a": 1, "b": 2}}}], "ATTR_TYPE")
    refused([{**u, "parents": [{"type": "Doc", "id": "d"}]}], "ATTR_TYPE")
    refused([{"uid": {"type": "Nope", "id": "x"}, "attrs": {}, "parents": []}], "UNKNOWN_TYPE")
    refused([{"uid": {"type": "Color", "id": "blue"}, "attrs": {}, "parents": []}],
            "UNKNOWN_TYPE")
    refused([{**good[2], "tags": {"x": 1}}], "ATTR_TYPE")
    refused([{**good[0], "tags": {"x": "y"}}], "UNKNOWN_ATTR")

    rq = {"principal": 'User::"u"', "action": 'Action::"view"', "resource": 'Doc::"d"',
          "context": {"n": 1}}
    s.check_request(rq)
    for bad, code in [({**rq, "principal": 'Group::"g"'}, "NOT_APPLICABLE"),
                      ({**rq, "action": 'Action::"nope"'}, "UNKNOWN_TYPE"),
                      ({**rq, "context": {}}, "REQUIRED_ATTR"),
                      ({**rq, "context": {"n": 1, "s": 2}}, "ATTR_TYPE"),
                      ({**rq, "context": {"n": 1, "x": 2}}, "UNKNOWN_ATTR")]:
        with pytest.raises(InvalidInputError) as ei:
            s.check_request(bad)
        assert abac.CODES[ei.value.code] == code, bad


# -- random schema/policy pairs against cedarpy ------------------------------------------------

PRIMS = ["Long", "String", "Bool"]
S_LIT = '"s"'


class SchemaGen:
    """A random schema, written in both formats, and random policies over it."""

    def __init__(self, r):
        self.r = r
        n = r.randrange(2, 5)
        self.ents = [f"E{i}" for i in range(n)]
        self.attrs = {}  # entity -> {name: (type, required)}
        self.mem = {}
        self.tags = {}
        for i, e in enumerate(self.ents):
            self.mem[e] = [x for x in self.ents[i + 1:] if r.random() < 0.4]
            self.attrs[e] = {f"a{k}": (self.rtype(1), r.random() < 0.7)
                             for k in range(r.randrange(0, 4))}
            self.tags[e] = r.choice([None, None, "String", "Long"])
        self.acts = {}
        self.agroups = {}
        for k in range(r.randrange(1, 4)):
            ctx = {f"c{j}": (self.rtype(1), r.random() < 0.7) for j in range(r.randrange(0, 3))}
            self.acts[f"act{k}"] = (r.sample(self.ents, r.randrange(1, len(self.ents) + 1)),
                                    r.sample(self.ents, r.randrange(1, len(self.ents) + 1)), ctx)
            self.agroups[f"act{k}"] = [f"act{j}" for j in range(k) if r.random() < 0.3]
        self.ns = r.choice(["", "", "NS"])

    def q(self, name):
        """a name as a policy writes it (qualified with the schema's namespace)"""
        return f"{self.ns}::{name}" if self.ns else name

    def rtype(self, d):
        r = self.r
        k = r.randrange(8 if d > 0 else 4)
        if k < 3:
            return PRIMS[k]
        if k == 3 or k == 4:
            return ("Entity", r.choice(self.ents)) if hasattr(self, "ents") else "Long"
        if k == 5:
            return ("Set", self.rtype(d - 1))
        if k == 6:
            return ("Record", {f"r{j}": (self.rtype(d - 1), r.random() < 0.7)
                               for j in range(r.randrange(1, 3))})
        return ("Ext", r.choice(["decimal", "ipaddr", "datetime", "duration"]))

    # -- the two formats -------------------------------------------------------------------------
    def human_t(self, t):
        if isinstance(t, str):
            return t
        if t[0] in ("Entity", "Ext"):
            return t[1]
        if t[0] == "Set":
            return f"Set<{self.human_t(t[1])}>"
        return self.human_rec(t[1])

    def human_rec(self, attrs):
        return "{" + ", ".join(f"{k}{'' if req else '?'}: {self.human_t(t)}"
                               for k, (t, req) in attrs.items()) + "}"

    def human(self):
        out = []
        for e in self.ents:
            s = f"entity {e}"
            if self.mem[e]:
                s += " in [" + ", ".join(self.mem[e]) + "]"
            s += " " + self.human_rec(self.attrs[e])
            if self.tags[e]:
                s += f" tags {self.tags[e]}"
            out.append(s + ";")
        for a, (pt, rt, ctx) in self.acts.items():
            grp = f" in [{', '.join(self.agroups[a])}]" if self.agroups[a] else ""
            out.append(f"action {a}{grp} appliesTo {{principal: [{', '.join(pt)}], "
                       f"resource: [{', '.join(rt)}], context: {self.human_rec(ctx)}}};")
        body = "\n".join(out)
        return f"namespace {self.ns} {{\n{body}\n}}" if self.ns else body

    def json_t(self, t):
        if isinstance(t, str):
            return {"type": "Boolean" if t == "Bool" else t}
        if t[0] == "Entity":
            return {"type": "Entity", "name": t[1]}
        if t[0] == "Ext":
            return {"type": "Extension", "name": t[1]}
        if t[0] == "Set":
            return {"type": "Set", "element": self.json_t(t[1])}
        return self.json_rec(t[1])

    def json_rec(self, attrs):
        return {"type": "Record", "attributes": {
            k: {**self.json_t(t), "required": req} for k, (t, req) in attrs.items()}}

    def json(self):
        ets = {}
        for e in self.ents:
            d = {"memberOfTypes": self.mem[e], "shape": self.json_rec(self.attrs[e])}
            if self.tags[e]:
                d["tags"] = self.json_t(self.tags[e])
            ets[e] = d
        acts = {a: {"appliesTo": {"principalTypes": pt, "resourceTypes": rt,
                                  "context": self.json_rec(ctx)},
                    "memberOf": [{"id": g} for g in self.agroups[a]]}
                for a, (pt, rt, ctx) in self.acts.items()}
        return {self.ns: {"entityTypes": ets, "actions": acts}}

    # -- policies ----------------------------------------------------------------------------------
    def ent_ref(self):
        r = self.r
        return f'{self.q(r.choice(self.ents + ["Nope"]))}::"x"'

    def scope(self, var):
        r = self.r
        k = r.randrange(5)
        if k == 0:
            return var
        if k == 1:
            return f"{var} == {self.ent_ref()}"
        if k == 2:
            return f"{var} in {self.ent_ref()}"
        if k == 3:
            return f"{var} is {self.q(r.choice(self.ents))}"
        return f"{var} is {self.q(r.choice(self.ents))} in {self.ent_ref()}"

    def ascope(self):
        r = self.r
        names = list(self.acts) + ["nope"]
        at = self.q("Action")
        k = r.randrange(4)
        if k == 0:
            return "action"
        if k == 1:
            return f'action == {at}::"{r.choice(names)}"'
        if k == 2:
            return f'action in {at}::"{r.choice(names)}"'
        return "action in [" + ", ".join(f'{at}::"{a}"' for a in r.sample(
            names, r.randrange(1, len(names) + 1))) + "]"

    def path(self):
        """an attribute access chain, maybe guarded, maybe not"""
        r = self.r
        base = r.choice(["principal", "resource", "context"])
        e = base
        for _ in range(r.randrange(1, 3)):
            e += "." + r.choice(["a0", "a1", "a2", "c0", "c1", "r0", "r1", "zz"])
        return e

    def guard(self, p):
        parts = p.split(".")
        gs = [f"{'.'.join(parts[:i])} has {parts[i]}" for i in range(1, len(parts))]
        return " && ".join(gs)

    def expr(self, d):
        r = self.r
        k = r.randrange(16 if d > 0 else 7)
        p = self.path()
        if k == 0:
            return f"{p} == {r.choice(['1', S_LIT, 'true', self.ent_ref()])}"
        if k == 1:
            return f"({self.guard(p) or 'true'}) && {p} == {r.choice(['1', S_LIT, 'true'])}"
        if k == 2:
            return f"{p} > {r.choice(['1', p])}"
        if k == 3:
            return f"{p}.contains({r.choice(['1', S_LIT, 'principal'])})"
        if k == 4:
            return f"principal in {r.choice([self.ent_ref(), 'resource', p])}"
        if k == 5:
            return (f"{r.choice(['principal', 'resource'])} is "
                    f"{self.q(r.choice(self.ents + ['Nope']))}")
        if k == 6:
            return f"{self.guard(p) or 'true'} && {p} like " + '"a*"'
        if k == 7:
            return f"({self.expr(d - 1)}) && ({self.expr(d - 1)})"
        if k == 8:
            return f"({self.expr(d - 1)}) || ({self.expr(d - 1)})"
        if k == 9:
            return f"!({self.expr(d - 1)})"
        if k == 10:
            return f"(if {self.expr(d - 1)} then {self.expr(d - 1)} else {self.expr(d - 1)})"
        if k == 11:
            return 'resource.hasTag("t") && resource.getTag("t") == ' + r.choice(['1', S_LIT])
        if k == 12:
            return f"{p} has {r.choice(['a0', 'r0', 'zz'])}"
        if k == 13:
            return f"[{p}, {r.choice(['1', S_LIT, p])}].contains({p})"
        return r.choice([
            f"{p}.lessThan(decimal(\"1.5\"))", f"{p}.isInRange(ip(\"10.0.0.0/8\"))",
            f"{p} < datetime(\"2024-01-01\")", f"{p}.toDays() > 1", f"{p}.isEmpty()",
            f"{p} + 1 > -{p}", f"{{a: {p}}}.a == {p}", f"{{a: 1, b: {p}}} has b",
            f"principal is {self.q(r.choice(self.ents))} in resource",
            f"action in {self.q('Action')}::\"act0\" && {p} == {p}",
            f"resource.getTag(\"t\") == {p}", f"{p} == {p}", f"{p} like \"*\"",
            f"{p}.containsAny([{p}])", f"if {p} then {p} else {p}"])

    def policy(self):
        r = self.r
        cond = ""
        if r.random() < 0.85:
            cond = f" {r.choice(['when', 'unless'])} {{ {self.expr(2)} }}"
        return (f"{r.choice(['permit', 'forbid'])}({self.scope('principal')}, {self.ascope()}, "
                f"{self.scope('resource')}){cond};")


def test_random_pairs_against_cedar():
    cedarpy = pytest.importorskip("cedarpy")
    rng = random.Random(20261207)
    passed = failed = 0
    for case in range(300):
        g = SchemaGen(rng)
        use_json = rng.random() < 0.5
        sch = g.json() if use_json else g.human()
        ours = abac.CedarSchema(sch)
        pol = g.policy()
        want = cedarpy.validate_policies(pol, sch)
        got = ours.validate(pol)
        assert got.passed == want.validation_passed, (
            f"case {case}\nschema:\n{sch if not use_json else json.dumps(sch)}\npolicy: {pol}\n"
            f"cedar: {[e.error for e in want.errors]}\nours: {got.errors}")
        passed += got.passed
        failed += not got.passed
    # both verdicts are exercised
    assert passed > 30 and failed > 30, (passed, failed)


def test_compile_with_schema():
    """CedarPolicies(text, schema=…): the set must validate; the schema is not in the encoding"""
    ok = 'permit(principal is User, action == Action::"view", resource) when { principal.age > 1 };'
    a = abac.CedarPolicies(ok, version=3, schema=SCHEMA)
    b = abac.CedarPolicies(ok, version=3, schema=SCHEMA_JSON)
    assert a.encode() == b.encode() == abac.CedarPolicies(ok, version=3).encode()
    with pytest.raises(abac.PolicyError) as ei:
        abac.CedarPolicies('permit(principal, action, resource);\n' + P % 'principal.nope',
                           schema=SCHEMA)
    assert abac.CODES[ei.value.code] == "UNKNOWN_ATTR"
    assert ei.value.line == 2 and "policy1" in ei.value.detail
    with pytest.raises(abac.PolicyError) as ei:
        abac.CedarPolicies(ok, schema="entity")
    assert abac.CODES[ei.value.code] == "SCHEMA"


def test_action_index_against_cedar():
    """The policy index (actions named by `==`, `in`, `in [...]`, the request action's ancestors,
    principal / resource types of the scope) decides as Cedar does, also when an action has more
    ancestors than the index follows (a chain of 20 groups) and when `==` names an ancestor."""
    cedarpy = pytest.importorskip("cedarpy")
    groups = [f"g{i}" for i in range(20)]
    ents = [{"uid": {"type": "Action", "id": "read"}, "attrs": {},
             "parents": [{"type": "Action", "id": "g0"}]}]
    ents += [{"uid": {"type": "Action", "id": g}, "attrs": {},
              "parents": [{"type": "Action", "id": groups[i + 1]}] if i + 1 < 20 else []}
             for i, g in enumerate(groups)]
    ents += [{"uid": {"type": "Action", "id": "write"}, "attrs": {}, "parents": [
        {"type": "Action", "id": "g3"}]}]
    ents += [{"uid": {"type": "Action", "id": "near"}, "attrs": {}, "parents": [
        {"type": "Action", "id": "g15"}, {"type": "Action", "id": "write"}]}]
    ents += [{"uid": {"type": "User", "id": "u"}, "attrs": {}, "parents": []}]
    pols = []
    rng = random.Random(7)
    for _ in range(120):
        a = rng.choice(["action", 'action == Action::"read"', 'action == Action::"g5"',
                        'action in Action::"g19"', 'action in Action::"g2"',
                        'action in [Action::"write", Action::"g0"]', 'action in Action::"write"',
                        'action in [Action::"read", Action::"read"]', 'action == Action::"g15"',
                        'action in Action::"g15"', 'action in [Action::"g16", Action::"near"]'])
        p = rng.choice(["principal", 'principal == User::"u"', "principal is User",
                        "principal is Group", 'principal == Group::"u"'])
        r = rng.choice(["resource", "resource is Doc", 'resource == Doc::"d"', "resource is File",
                        'resource in Doc::"d"'])
        pols.append(f"{rng.choice(['permit', 'permit', 'forbid'])}({p}, {a}, {r});")
    text = "\n".join(pols)
    ours = abac.CedarPolicies(text)
    es = abac.CedarEntities(ents)
    cps = cedarpy.PolicySet.from_str(text)
    allowed = 0
    for act in ["read", "write", "g5", "g0", "other", "near", "g15"]:
        for res in ['Doc::"d"', 'File::"f"']:
            rq = {"principal": 'User::"u"', "action": f'Action::"{act}"', "resource": res,
                  "context": {}}
            crq = {"principal": 'User::"u"', "action": f'Action::"{act}"', "resource": res,
                   "context": {}}
            want = cedarpy.is_authorized(crq, cps, ents)
            got = ours.is_authorized(rq, es)
            assert got.decision == want.decision.value, (act, res)
            assert sorted(got.reasons) == sorted(want.diagnostics.reasons), (act, res)
            allowed += got.allowed
    assert 0 < allowed < 14


# -- templates ----------------------------------------------------------------------------------

TEMPLATES = """
@id("owner")
permit(principal == ?principal, action == Action::"view", resource in ?resource)
  when { context.level > 1 };
forbid(principal in ?principal, action, resource)
  when { principal has blocked && principal.blocked };
permit(principal, action, resource == ?resource);
permit(principal is User in ?principal, action in [Action::"view", Action::"edit"], resource);
permit(principal, action, resource) when { context.level > 5 };
"""


def test_templates_link_and_decide_as_cedar():
    cedarpy = pytest.importorskip("cedarpy")
    ps = abac.CedarPolicies(TEMPLATES)
    assert ps.templates == ["policy0", "policy1", "policy2", "policy3"]
    links = [("policy0", "l0", 'User::"a"', 'Folder::"f"'), ("owner", "l1", 'User::"b"',
                                                                'Doc::"d1"'),
             ("policy1", "l2", 'Group::"g"', None), ("policy2", "l3", None, 'Doc::"d2"'),
             ("policy3", "l4", 'Group::"g"', None)]
    cps = cedarpy.PolicySet.from_str(TEMPLATES)
    for tmpl, nid, p, r in links:
        ps = ps.link(tmpl, nid, principal=p, resource=r)
        vals = {}
        if p:
            vals["?principal"] = p
        if r:
            vals["?resource"] = r
        cps = cps.with_linked("policy0" if tmpl == "owner" else tmpl, nid, vals)
    assert ps.ids[-5:] == ["l0", "l1", "l2", "l3", "l4"]
    assert ps.names[5] == "owner"  # a link keeps its template's annotations
    ents = [{"uid": {"type": "User", "id": u}, "attrs": {"blocked": u == "c"},
             "parents": [{"type": "Group", "id": "g"}] if u != "a" else []}
            for u in ("a", "b", "c")]
    ents += [{"uid": {"type": "Doc", "id": "d1"}, "attrs": {},
              "parents": [{"type": "Folder", "id": "f"}]},
             {"uid": {"type": "Doc", "id": "d2"}, "attrs": {}, "parents": []}]
    es = abac.CedarEntities(ents)
    seen = set()
    for u in ("a", "b", "c"):
        for act in ("view", "edit", "delete"):
            for d in ("d1", "d2"):
                for level in (0, 3, 9):
                    rq = {"principal": f'User::"{u}"', "action": f'Action::"{act}"',
                          "resource": f'Doc::"{d}"', "context": {"level": level}}
                    want = cedarpy.is_authorized(rq, cps, ents)
                    got = ps.is_authorized(rq, es)
                    assert got.decision == want.decision.value, rq
                    assert sorted(got.reasons) == sorted(want.diagnostics.reasons), rq
                    seen.update(got.reasons)
    assert {"l0", "l1", "l2", "l3", "l4", "policy4"} <= seen
    assert not seen & {"policy0", "policy1", "policy2", "policy3"}


def test_template_errors():
    ps = abac.CedarPolicies(TEMPLATES)
    with pytest.raises(InvalidInputError):
        ps.link("policy4", "x")  # not a template
    with pytest.raises(InvalidInputError):
        ps.link("policy0", "x", principal='User::"a"')  # ?resource missing
    with pytest.raises(InvalidInputError):
        ps.link("policy2", "x", principal='User::"a"', resource='Doc::"d"')  # extra slot
    with pytest.raises(InvalidInputError):
        ps.link("policy2", "x", resource="not a uid")
    with pytest.raises(InvalidInputError) as ei:
        ps.link("policy2", "policy1", resource='Doc::"d"')  # id taken
    assert abac.CODES[ei.value.code] == "DUPLICATE_RULE"
    with pytest.raises(InvalidInputError):
        ps.link("policy2", "a\x00b", resource='Doc::"d"')
    linked = ps.link("policy2", "x", resource='Doc::"d"')
    with pytest.raises(InvalidInputError) as ei:
        linked.link("policy2", "x", resource='Doc::"e"')
    assert abac.CODES[ei.value.code] == "DUPLICATE_RULE"
    assert linked.link("policy2", "y", resource='Doc::"e"').ids[-2:] == ["x", "y"]
    enc = linked.encode()  # 1.3.0: links encode canonically (ABCP version 2)
    assert enc[4] == 2 and ps.encode()[4] == 1  # the template set alone keeps version 1
    again = abac.CedarPolicies.decode(enc)
    assert again == linked and again.ids == linked.ids and again.link_count == 1
    assert again.encode() == enc
    assert linked == ps.link("policy2", "x", resource='Doc::"d"')  # same links, same set
    assert linked != ps.link("policy2", "x", resource='Doc::"e"')
    assert ps == abac.CedarPolicies(TEMPLATES) and len({linked, ps}) == 2
    for bad in ['permit(principal == ?resource, action, resource);',
                'permit(principal, action, resource in ?principal);',
                'permit(principal, action == ?action, resource);',
                'permit(principal, action, resource) when { principal == ?principal };']:
        with pytest.raises(abac.PolicyError):
            abac.CedarPolicies(bad)


def test_templates_validate_against_schema():
    s = abac.CedarSchema(SCHEMA)
    assert s.validate('permit(principal == ?principal, action == Action::"view", '
                      'resource in ?resource) when { context.n > 1 };').passed
    r = s.validate('permit(principal is User in ?principal, action, resource) when '
                   '{ principal.nope };')
    assert not r.passed and r.errors[0].code == "UNKNOWN_ATTR"


def test_template_validation_against_cedar():
    cedarpy = pytest.importorskip("cedarpy")
    s = abac.CedarSchema(SCHEMA)
    verdicts = []
    for text in open_lines('''
permit(principal == ?principal, action, resource);
permit(principal in ?principal, action == Action::"admin", resource) when { principal.age > 1 };
permit(principal is User in ?principal, action, resource) when { principal.age > 1 };
permit(principal is Doc in ?principal, action, resource);
permit(principal, action, resource in ?resource) when { resource.size > 1 };
permit(principal == ?principal, action, resource == ?resource) when { principal == resource.owner };
permit(principal is Group in ?principal, action == Action::"view", resource);
'''):
        ok = s.validate(text).passed
        assert ok == cedarpy.validate_policies(text, SCHEMA).validation_passed, text
        verdicts.append(ok)
    assert True in verdicts and False in verdicts


def open_lines(text):
    return [line for line in text.splitlines() if line.strip()]


# -- random entities and requests against the schema, with cedarpy --------------------------------

class ValueGen:
    """Values of a schema type, sometimes wrong (another type, a missing or an extra attribute)."""

    def __init__(self, g, r, bad=0.06):
        self.g, self.r, self.bad = g, r, bad

    def value(self, t, d=0):
        r = self.r
        if r.random() < self.bad or d > 4:
            return r.choice([1, "s", True, [1], {"zz": 1}])
        if isinstance(t, str):
            return {"Long": r.randrange(-5, 5), "String": "s", "Bool": r.random() < 0.5}[t]
        if t[0] == "Entity":
            typ = t[1] if r.random() > self.bad else r.choice(self.g.ents)
            return {"__entity": {"type": self.g.q(typ), "id": "x"}}
        if t[0] == "Ext":
            fn, arg = {"decimal": ("decimal", "1.5"), "ipaddr": ("ip", "10.0.0.1"),
                       "datetime": ("datetime", "2024-01-01"),
                       "duration": ("duration", "1h")}[t[1]]
            return {"__extn": {"fn": fn, "arg": arg}}
        if t[0] == "Set":
            return [self.value(t[1], d + 1) for _ in range(r.randrange(0, 3))]
        return self.record(t[1], d + 1)

    def record(self, attrs, d=0):
        r = self.r
        out = {}
        for k, (t, req) in attrs.items():
            if req and r.random() < self.bad:
                continue  # a required attribute left out
            if req or r.random() < 0.5:
                out[k] = self.value(t, d)
        if r.random() < self.bad:
            out["extra"] = 1
        return out


def test_random_entities_and_requests_against_cedar():
    cedarpy = pytest.importorskip("cedarpy")
    rng = random.Random(4242)
    ok_n = bad_n = 0
    for case in range(150):
        g = SchemaGen(rng)
        sch = g.json() if rng.random() < 0.5 else g.human()
        ours = abac.CedarSchema(sch)
        vg = ValueGen(g, rng)
        ents = []
        for i, e in enumerate(g.ents):
            typ = e if rng.random() > 0.03 else "Nope"
            parents = [{"type": g.q(p), "id": "x"} for p in g.mem[e] if rng.random() < 0.5]
            if rng.random() < 0.05:
                parents.append({"type": g.q(rng.choice(g.ents)), "id": "y"})
            ent = {"uid": {"type": g.q(typ), "id": f"x{i}"}, "attrs": vg.record(g.attrs[e]),
                   "parents": parents}
            if g.tags[e] and rng.random() < 0.5:
                ent["tags"] = {"t": vg.value(g.tags[e])}
            elif rng.random() < 0.03:
                ent["tags"] = {"t": 1}
            ents.append(ent)
        act = rng.choice(list(g.acts))
        pt, rt, ctx = g.acts[act]
        rq = {"principal": {"type": g.q(rng.choice(pt if rng.random() > 0.1 else g.ents)),
                            "id": "p"},
              "action": {"type": g.q("Action"), "id": act},
              "resource": {"type": g.q(rng.choice(rt if rng.random() > 0.1 else g.ents)),
                           "id": "r"},
              "context": vg.record(ctx)}
        want = cedarpy.is_authorized(rq, "permit(principal, action, resource);", ents,
                                     schema=sch)
        cedar_ok = want.decision.value != "NoDecision"
        try:
            ours.check_entities(ents)
            ours.check_request(rq)
            mine = True
        except InvalidInputError:
            mine = False
        assert mine == cedar_ok, (case, sch, ents, rq, want.diagnostics.errors)
        ok_n += mine
        bad_n += not mine
    assert ok_n > 20 and bad_n > 20, (ok_n, bad_n)


def test_large_schemas_stay_bounded():
    """3,000 entity types in one memberOf chain close quickly and `in` sees the whole chain; a
    policy that would be checked in more than 2^20 environments is refused with LIMIT."""
    n = 3000
    ets = {f"T{i}": {"memberOfTypes": [f"T{i + 1}"]} if i + 1 < n else {} for i in range(n)}
    acts = {"a": {"appliesTo": {"principalTypes": ["T0"], "resourceTypes": [f"T{n - 1}"]}}}
    s = abac.CedarSchema({"": {"entityTypes": ets, "actions": acts}})
    assert s.entity_type_count == n
    assert s.validate(f'permit(principal in T{n - 1}::"top", action, resource);').passed
    r = s.validate('permit(principal in T5::"x", action, resource is T0);')
    assert [e.code for e in r.errors] == ["NOT_APPLICABLE"]
    wide = [f"W{i}" for i in range(1100)]
    s = abac.CedarSchema({"": {"entityTypes": {w: {} for w in wide}, "actions": {
        "a": {"appliesTo": {"principalTypes": wide, "resourceTypes": wide}}}}})
    with pytest.raises(InvalidInputError) as ei:
        s.validate("permit(principal, action, resource);")
    assert abac.CODES[ei.value.code] == "LIMIT"



SCHEMA_TEXTS = [
 "entity A; entity A;",
 "entity A in [B];",
 "entity A = {a: Boolean};",
 "entity A = {a: Bool};",
 "entity A = {a: __cedar::Long};",
 "type Long = String; entity A;",
 "type T = {x: T}; entity A;",
 "entity A; action a in [b];",
 "entity A; action a in [a];",
 "entity A; action a appliesTo {principal: A};",
 "entity A; action a appliesTo {principal: A, resource: A, context: Long};",
 "entity A; type C = {n: Long}; action a appliesTo {principal: A, resource: A, context: C};",
 "entity A enum [\"x\"]; action a appliesTo {principal: A, resource: A};",
 "entity A enum []; ",
 "namespace N { entity A; } entity B in [N::A];",
 "namespace N { entity A; } namespace N { entity B; }",
 "entity A = {a: Set<Set<A>>, b: {c?: ipaddr}};",
 "entity A, B in [A];",
 "entity A in A;",
 "action a; action a;",
 "entity A tags Set<String>;",
 "entity A = {\"x y\": Long};",
 "entity A = {a: Long, a: String};",
 "entity Action; action a;",
 "entity A; action \"a b\" appliesTo {principal: [A], resource: [A]};",
 "entity A { a: Long };",
 "entity A = {a: Long,};",
 "entity A; action a appliesTo {};",
 "entity A; action a appliesTo {principal: [], resource: [A]};",
]


def test_schema_texts_accepted_as_cedar_accepts_them():
    """the human-readable schema reader accepts and refuses what Cedar does"""
    cedarpy = pytest.importorskip("cedarpy")
    for text in SCHEMA_TEXTS:
        r = cedarpy.validate_policies("permit(principal, action, resource);", text)
        cedar_ok = not any("Schema parse error" in e.error for e in r.errors)
        try:
            abac.CedarSchema(text)
            ours = True
        except abac.PolicyError:
            ours = False
        assert ours == cedar_ok, text



JE = {"A": {}}


def _one(entity_types, actions=None):
    """One schema in the empty namespace."""
    return {"": {"entityTypes": entity_types, "actions": {} if actions is None else actions}}


def _attrs(attrs):
    return {"shape": {"type": "Record", "attributes": attrs}}


SCHEMA_JSONS = [
 {"": {"entityTypes": JE}},
 {"": {"actions": {}}},
 {"": {"entityTypes": JE, "actions": {}, "foo": 1}},
 {"": {"entityTypes": JE, "actions": {"a": {"appliesTo": {"principalTypes": ["A"]}}}}},
 _one(JE, {"a": {"appliesTo": {"principalTypes": [], "resourceTypes": ["A"]}}}),
 {"": {"entityTypes": JE, "actions": {"a": {"appliesTo": {}}}}},
 _one({"A": _attrs({"x": {"type": "Bool"}})}),
 _one({"A": _attrs({"x": {"type": "EntityOrCommon", "name": "Long"}})}),
 _one({"A": _attrs({"x": {"type": "EntityOrCommon", "name": "Bool"}})}),
 _one({"A": _attrs({"x": {"type": "Entity", "name": "B"}})}),
 {"": {"entityTypes": {"A": {"shape": {"type": "Record"}}}, "actions": {}}},
 _one({"A": {"shape": {"type": "Set", "element": {"type": "Long"}}}}),
 {"": {"entityTypes": {"A": {"memberOfTypes": ["A"]}}, "actions": {}}},
 _one(JE, {"a": {"memberOf": [{"id": "b"}]}, "b": {"memberOf": [{"id": "a"}]}}),
 _one(JE, {"a": {"memberOf": [{"id": "b", "type": "Action"}]}, "b": {}}),
 {"": {"entityTypes": JE, "actions": {"a": {"attributes": {}}}}},
 {"": {"entityTypes": JE, "actions": {},
        "commonTypes": {"T": {"type": "Long"}, "U": {"type": "T"}}}},
 {"": {"entityTypes": JE, "actions": {}, "commonTypes": {"Long": {"type": "Long"}}}},
 {"": {"entityTypes": {"A": {"tags": {"type": "String"}}}, "actions": {}}},
 _one({"A": {"enum": ["a"], "shape": {"type": "Record", "attributes": {}}}}),
 {"N": {"entityTypes": JE,
        "actions": {"a": {"appliesTo": {"principalTypes": ["A"], "resourceTypes": ["N::A"]}}}}},
 {"": {"entityTypes": {"Action": {}}, "actions": {}}},
 _one(JE, {"a": {"appliesTo": {"principalTypes": ["A"], "resourceTypes": ["A"],
                               "context": {"type": "Long"}}}}),
]


def test_json_schemas_accepted_as_cedar_accepts_them():
    """the JSON schema reader accepts and refuses what Cedar does"""
    cedarpy = pytest.importorskip("cedarpy")
    for sch in SCHEMA_JSONS:
        r = cedarpy.validate_policies("permit(principal, action, resource);", sch)
        cedar_ok = not any("Schema parse error" in e.error for e in r.errors)
        try:
            abac.CedarSchema(sch)
            ours = True
        except abac.PolicyError:
            ours = False
        assert ours == cedar_ok, json.dumps(sch)


def test_parents_may_be_of_any_type_memberof_reaches():
    """as in Cedar, an entity's parent may be of any type its memberOfTypes reach transitively
    (found by the random entity test: refused before)"""
    s = abac.CedarSchema("entity C; entity B in [C]; entity A in [B]; entity D;")
    s.check_entities([{"uid": {"type": "A", "id": "a"}, "attrs": {},
                       "parents": [{"type": "C", "id": "c"}]}])
    with pytest.raises(InvalidInputError) as ei:
        s.check_entities([{"uid": {"type": "A", "id": "a"}, "attrs": {},
                           "parents": [{"type": "D", "id": "d"}]}])
    assert abac.CODES[ei.value.code] == "ATTR_TYPE"
