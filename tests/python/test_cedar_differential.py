"""Differential test of libabac's Cedar engine against Cedar itself (cedarpy wraps Cedar's
Rust engine): seeded random entity graphs, policy sets and requests must give equal
decisions, equal reasons and equal erroring policies."""
import json
import random
import re

import pytest

from fedshare import abac

cedarpy = pytest.importorskip("cedarpy")

USERS = [f"u{i}" for i in range(6)]
GROUPS = [f"g{i}" for i in range(4)]
DOCS = [f"d{i}" for i in range(5)]
FOLDERS = [f"f{i}" for i in range(3)]
ACTIONS = ["view", "edit", "delete", "share"]
STRS = ["", "a", "abc", "alice", "bob", "a*c", "x\\y", "é"]
DATES = ["2026-01-01", "2026-06-01T08:00:00Z", "2026-06-01T08:00:00.500+0200", "1969-12-31",
         "2026-02-29"]
DURS = ["1d", "-2h30m", "0ms", "90s", "9223372036854775807ms", "1h1h"]


def q(s):
    return json.dumps(s, ensure_ascii=False)


def uid(t, i):
    return {"type": t, "id": i}


def lit_ent(t, i):
    return f"{t}::{q(i)}"


class Gen:
    def __init__(self, rng):
        self.r = rng

    def pick(self, xs):
        return xs[self.r.randrange(len(xs))]

    # -- typed expressions ------------------------------------------------------------------
    def long(self, d):
        r = self.r
        k = r.randrange(9 if d > 0 else 4)
        if k == 0:
            return str(self.pick([0, 1, 2, 7, 42, -3, 9223372036854775807, -9223372036854775808]))
        if k == 1:
            return self.pick(["principal.age", "resource.size", "context.n", "principal.rec.a"])
        if k == 2:
            return self.pick(["context.n", "principal.age"])
        if k == 3:
            return str(r.randrange(-5, 50))
        if k in (4, 5):
            return f"({self.long(d - 1)} {self.pick(['+', '-', '*'])} {self.long(d - 1)})"
        if k == 6:
            return f"-({self.long(d - 1)})"
        if k == 7:
            return f"(if {self.bool(d - 1)} then {self.long(d - 1)} else {self.long(d - 1)})"
        return f"({self.any(d - 1)})"  # maybe ill-typed

    def str_(self, d):
        k = self.r.randrange(4)
        if k == 0:
            return q(self.pick(STRS))
        if k == 1:
            return self.pick(["principal.name", "resource.title", "context.s"])
        if k == 2:
            return self.pick(["principal.owner.name", "resource.owner.name", "context.s"])
        return q(self.pick(STRS))

    def ent(self, d):
        k = self.r.randrange(6)
        if k == 0:
            return self.pick(["principal", "resource", "action"])
        if k == 1:
            return lit_ent("User", self.pick(USERS + ["ghost"]))
        if k == 2:
            return lit_ent("Group", self.pick(GROUPS))
        if k == 3:
            return self.pick(["resource.owner", "principal.manager", "context.who"])
        if k == 4:
            return lit_ent("Folder", self.pick(FOLDERS))
        return lit_ent("Action", self.pick(ACTIONS + ["readOnly"]))

    def set_(self, d):
        k = self.r.randrange(5)
        if k == 0:
            return "[]"
        if k == 1:
            return self.pick(["principal.tags", "context.tags", "resource.readers"])
        if k == 2:
            n = self.r.randrange(1, 4)
            return "[" + ", ".join(self.str_(d - 1) for _ in range(n)) + "]"
        if k == 3:
            n = self.r.randrange(1, 4)
            return "[" + ", ".join(self.ent(d - 1) for _ in range(n)) + "]"
        return "[" + ", ".join(self.long(d - 1) for _ in range(self.r.randrange(1, 3))) + "]"

    def rec(self, d):
        k = self.r.randrange(3)
        if k == 0:
            return self.pick(["principal.rec", "context", "context.r"])
        if k == 1:
            return "{a: %s, b: %s}" % (self.long(d - 1), self.str_(d - 1))
        return "{}"

    def any(self, d):
        f = self.pick([self.long, self.str_, self.ent, self.set_, self.rec, self.bool])
        return f(max(d, 0))

    def bool(self, d):
        e = self.bool_(d)
        return e if e.startswith("(") or " " not in e else f"({e})"

    def bool_(self, d):
        r = self.r
        if d <= 0:
            return self.pick(["true", "false", "principal.flag", "context.flag",
                              "principal has age", "context has n"])
        k = r.randrange(20)
        if k == 0:
            return f"{self.long(d - 1)} {self.pick(['<', '<=', '>', '>='])} {self.long(d - 1)}"
        if k == 1:
            a = self.pick([self.long, self.str_, self.ent, self.set_, self.rec])
            return f"{a(d - 1)} {self.pick(['==', '!='])} {a(d - 1)}"
        if k == 2:
            return f"{self.any(d - 1)} == {self.any(d - 1)}"
        if k == 3:
            return f"{self.ent(d - 1)} in {self.pick([self.ent, self.set_])(d - 1)}"
        if k == 4:
            return f"{self.pick([self.ent, self.rec])(d - 1)} has " + \
                self.pick(["age", "name", "flag", "a", "b", "owner", "\"tags\""])
        if k == 5:
            pat = self.pick(["a*", "*c", "*", "a*c", "alice", "\\*", "*l*", ""])
            return f"{self.str_(d - 1)} like {q(pat).replace(chr(92) * 2, chr(92))}"
        if k == 6:
            t = self.pick(["User", "Group", "Doc", "Folder"])
            if r.random() < 0.3:
                return f"{self.ent(d - 1)} is {t} in {self.ent(d - 1)}"
            return f"{self.ent(d - 1)} is {t}"
        if k == 7:
            m = self.pick(["contains", "containsAll", "containsAny", "isEmpty"])
            if m == "isEmpty":
                return f"{self.set_(d - 1)}.isEmpty()"
            arg = self.set_(d - 1) if m != "contains" else self.any(d - 1)
            return f"{self.set_(d - 1)}.{m}({arg})"
        if k in (8, 9):
            return f"({self.bool(d - 1)} && {self.bool(d - 1)})"
        if k in (10, 11):
            return f"({self.bool(d - 1)} || {self.bool(d - 1)})"
        if k == 12:
            return f"!({self.bool(d - 1)})"
        if k == 13:
            return f"(if {self.bool(d - 1)} then {self.bool(d - 1)} else {self.bool(d - 1)})"
        if k == 14:
            return self.pick(["principal.flag", "context.flag", "resource.public"])
        if k == 15:
            return f"{self.rec(d - 1)}.a {self.pick(['<', '=='])} {self.long(d - 1)}"
        if k == 16:
            return self.any(d - 1)  # maybe not a bool: a type error
        if k == 17:
            return f"{self.ent(d - 1)}.{self.pick(['age', 'name', 'flag'])} == " \
                   f"{self.any(d - 1)}"
        if k == 18:
            return f"{self.time(d - 1)} {self.pick(['<', '<=', '>', '>=', '==', '!='])} " \
                   f"{self.time(d - 1)}"
        return f"principal in {self.ent(d - 1)}"

    def time(self, d):
        """A datetime expression (sometimes a duration or a bad literal: errors)."""
        k = self.r.randrange(6)
        if k == 0:
            return f"datetime({q(self.pick(DATES))})"
        if k == 1:
            return "context.when"
        if k == 2 and d > 0:
            return f"{self.time(d - 1)}.offset(duration({q(self.pick(DURS))}))"
        if k == 3:
            return f"principal.since.offset(duration({q(self.pick(DURS))}))"
        if k == 4 and d > 0:
            return f"{self.time(d - 1)}.toDate()"
        return f"duration({q(self.pick(DURS))})"

    # -- policies ---------------------------------------------------------------------------
    def scope_pr(self, var, types, parent_type, parents):
        k = self.r.randrange(6)
        if k == 0:
            return f"{var} == {lit_ent(types[0], self.pick(types[1]))}"
        if k == 1:
            return f"{var} in {lit_ent(parent_type, self.pick(parents))}"
        if k == 2:
            return f"{var} is {types[0]}"
        if k == 3:
            return f"{var} is {types[0]} in {lit_ent(parent_type, self.pick(parents))}"
        return var

    def policy(self):
        r = self.r
        eff = "forbid" if r.random() < 0.3 else "permit"
        p = self.scope_pr("principal", ("User", USERS), "Group", GROUPS)
        k = r.randrange(4)
        if k == 0:
            a = f"action == {lit_ent('Action', self.pick(ACTIONS))}"
        elif k == 1:
            acts = ", ".join(lit_ent("Action", self.pick(ACTIONS + ["readOnly"]))
                             for _ in range(r.randrange(1, 3)))
            a = f"action in [{acts}]"
        elif k == 2:
            a = f"action in {lit_ent('Action', 'readOnly')}"
        else:
            a = "action"
        res = self.scope_pr("resource", ("Doc", DOCS), "Folder", FOLDERS)
        conds = ""
        for _ in range(r.randrange(0, 3)):
            conds += f" {self.pick(['when', 'unless'])} {{ {self.bool(r.randrange(1, 4))} }}"
        return f"{eff}({p}, {a}, {res}){conds};"

    # -- data -------------------------------------------------------------------------------
    def value_attrs(self, kind):
        r = self.r
        a = {}
        if r.random() < 0.8:
            a["age"] = self.pick([0, 17, 30, 65, 9223372036854775807, -9223372036854775807])
        if r.random() < 0.8:
            a["name"] = self.pick(STRS)
        if r.random() < 0.7:
            a["flag"] = r.random() < 0.5
        if r.random() < 0.6:
            a["tags"] = sorted({self.pick(STRS) for _ in range(r.randrange(0, 3))})
        if r.random() < 0.5:
            a["rec"] = {"a": r.randrange(-3, 40), "b": self.pick(STRS)}
        if r.random() < 0.4:
            a["manager"] = {"__entity": uid("User", self.pick(USERS + ["ghost"]))}
        if r.random() < 0.5:
            a["since"] = {"__extn": {"fn": "datetime", "arg": self.pick(DATES[:4])}}
        return a

    def entities(self):
        r = self.r
        out = []
        for i, g in enumerate(GROUPS):
            ps = [uid("Group", h) for h in GROUPS[i + 1:] if r.random() < 0.4]
            out.append({"uid": uid("Group", g), "attrs": {"name": g}, "parents": ps})
        for u in USERS:
            if r.random() < 0.15:
                continue  # this user does not exist
            ps = [uid("Group", g) for g in GROUPS if r.random() < 0.35]
            out.append({"uid": uid("User", u), "attrs": self.value_attrs("user"), "parents": ps})
        for i, f in enumerate(FOLDERS):
            ps = [uid("Folder", h) for h in FOLDERS[i + 1:] if r.random() < 0.5]
            out.append({"uid": uid("Folder", f), "attrs": {}, "parents": ps})
        for d in DOCS:
            attrs = {}
            if r.random() < 0.8:
                attrs["size"] = r.randrange(0, 100)
            if r.random() < 0.7:
                attrs["owner"] = {"__entity": uid("User", self.pick(USERS + ["ghost"]))}
            if r.random() < 0.6:
                attrs["title"] = self.pick(STRS)
            if r.random() < 0.5:
                attrs["public"] = r.random() < 0.5
            if r.random() < 0.5:
                attrs["readers"] = [{"__entity": uid("User", self.pick(USERS))}
                                    for _ in range(r.randrange(0, 3))]
            ps = [uid("Folder", f) for f in FOLDERS if r.random() < 0.4]
            out.append({"uid": uid("Doc", d), "attrs": attrs, "parents": ps})
        out.append({"uid": uid("Action", "readOnly"), "attrs": {}, "parents": []})
        for a in ACTIONS:
            ps = [uid("Action", "readOnly")] if a in ("view", "share") else []
            out.append({"uid": uid("Action", a), "attrs": {}, "parents": ps})
        return out

    def request(self):
        r = self.r
        ctx = {}
        if r.random() < 0.8:
            ctx["n"] = self.pick([0, 5, 100, -1, 9223372036854775807])
        if r.random() < 0.7:
            ctx["s"] = self.pick(STRS)
        if r.random() < 0.7:
            ctx["flag"] = r.random() < 0.5
        if r.random() < 0.5:
            ctx["tags"] = [self.pick(STRS) for _ in range(r.randrange(0, 3))]
        if r.random() < 0.4:
            ctx["who"] = {"__entity": uid("User", self.pick(USERS))}
        if r.random() < 0.4:
            ctx["r"] = {"a": r.randrange(0, 5), "b": "x"}
        if r.random() < 0.7:
            ctx["when"] = {"__extn": {"fn": "datetime", "arg": self.pick(DATES[:4])}}
        return {"principal": uid("User", self.pick(USERS + ["ghost"])),
                "action": uid("Action", self.pick(ACTIONS)),
                "resource": uid("Doc", self.pick(DOCS)),
                "context": ctx}


_ERR_ID = re.compile(r"policy `([^`]+)`")


def cedar_answer(req, policies, entities):
    r = cedarpy.is_authorized(req, policies, entities)
    errs = sorted({m.group(1) for e in r.diagnostics.errors for m in [_ERR_ID.search(e)] if m})
    return (str(r.decision).split(".")[-1], sorted(r.diagnostics.reasons), errs)


def ours(req, ps, es):
    a = ps.is_authorized(req, es)
    return (a.decision, sorted(a.reasons), sorted({p for p, _ in a.errors}))


def run_world(seed, n_policies, n_requests):
    g = Gen(random.Random(seed))
    text = "\n".join(g.policy() for _ in range(n_policies))
    ents = g.entities()
    try:
        cps = cedarpy.PolicySet.from_str(text)
    except ValueError:  # Cedar refuses the text: so must we
        with pytest.raises(abac.PolicyError):
            abac.CedarPolicies(text)
        return []
    ps = abac.CedarPolicies(text)
    es = abac.CedarEntities(ents)
    ces = cedarpy.Entities.from_json_str(json.dumps(ents))
    bad = []
    for _ in range(n_requests):
        req = g.request()
        want = cedar_answer(req, cps, ces)
        got = ours(req, ps, es)
        if want != got:
            bad.append((text, ents, req, want, got))
    return bad


def test_differential_against_cedar():
    """3000 seeded cases: 300 worlds of 6 policies and 10 requests each."""
    failures = []
    for seed in range(300):
        failures += run_world(seed, 6, 10)
        if len(failures) > 3:
            break
    assert not failures, "\n\n".join(
        f"policies:\n{t}\nrequest: {json.dumps(r)}\ncedar: {w}\nours:  {o}"
        for t, _, r, w, o in failures[:3])
