"""Property test: libabac decides like a small independent reference evaluator.

Random policy sets (as Python ASTs, rendered to text) and random requests (with attributes
missing or of the wrong type now and then, so runtime errors happen) are decided by
fedshare.abac and by `reference_decide` below, written from docs/abac-language.md alone.
Effect, deciding rules, obligations and the rules that raised errors must agree.
"""
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fedshare import abac

STRS = ["a", "b", "c", "train", "read", "g1", "g2", "u1"]
INTS = [-3, 0, 1, 2, 5, 100]
ACTIONS = ["train", "read", "export"]
TYPES = ["dataset", "model"]


class MissingAttr(Exception):
    pass


class TypeErr(Exception):
    pass


# ---- ASTs: tuples. ('lit', kind, value) kind in int,str,bool,time,iset,sset;
# ('attr', name); ('has', name); ('action',); ('subject',); (op, a, b); ('not', a)

def ints():
    return st.one_of(st.sampled_from(INTS).map(lambda v: ("lit", "int", v)),
                     st.sampled_from(["i", "j"]).map(lambda n: ("attr", n)))


def strs():
    return st.one_of(st.sampled_from(STRS).map(lambda v: ("lit", "str", v)),
                     st.just(("attr", "s")), st.just(("action",)))


def isets():
    return st.one_of(
        st.lists(st.sampled_from(INTS), min_size=1, max_size=4).map(
            lambda v: ("lit", "iset", frozenset(v))),
        st.just(("attr", "is")))


def ssets():
    return st.one_of(
        st.lists(st.sampled_from(STRS), min_size=1, max_size=4).map(
            lambda v: ("lit", "sset", frozenset(v))),
        st.just(("attr", "ss")))


def atoms():
    cmp_ops = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])
    return st.one_of(
        st.sampled_from([("lit", "bool", True), ("lit", "bool", False), ("attr", "b")]),
        st.tuples(cmp_ops, ints(), ints()),
        st.tuples(st.sampled_from(["<", ">=", "=="]), st.just(("attr", "t")),
                  st.sampled_from([0, 50, 100]).map(lambda v: ("lit", "time", v))),
        st.tuples(st.sampled_from(["==", "!="]), strs(), strs()),
        st.tuples(st.just("in"), ints(), isets()),
        st.tuples(st.just("in"), strs(), ssets()),
        st.tuples(st.just("in"), ssets(), ssets()),
        st.tuples(st.just("in"), st.just(("subject",)),
                  st.one_of(st.sampled_from(STRS).map(lambda v: ("lit", "str", v)), ssets())),
        st.tuples(st.just("=="), st.just(("subject",)),
                  st.sampled_from(STRS).map(lambda v: ("lit", "str", v))),
        st.sampled_from(["i", "s", "b", "zz"]).map(lambda n: ("has", n)),
    )


def conds():
    return st.recursive(
        atoms(),
        lambda inner: st.one_of(st.tuples(st.sampled_from(["&&", "||"]), inner, inner),
                                st.tuples(st.just("not"), inner)),
        max_leaves=8)


rules = st.lists(
    st.fixed_dictionaries({
        "effect": st.sampled_from(["permit", "permit", "forbid"]),
        "actions": st.lists(st.sampled_from(ACTIONS), max_size=2, unique=True),
        "rtype": st.one_of(st.none(), st.sampled_from(TYPES)),
        "cond": st.one_of(st.none(), conds()),
        "obls": st.lists(st.sampled_from(["o1", "o2", "o3"]), max_size=2),
    }),
    max_size=8)


def q(s):
    return '"' + s + '"'


def render(e, rev=False):
    k = e[0]
    if k == "lit":
        kind, v = e[1], e[2]
        if kind == "int":
            return str(v)
        if kind == "str":
            return q(v)
        if kind == "bool":
            return "true" if v else "false"
        if kind == "time":
            return f"time({v})"
        if kind == "iset":
            return "[" + ", ".join(str(x) for x in sorted(v, reverse=rev)) + "]"
        return "[" + ", ".join(q(x) for x in sorted(v, reverse=rev)) + "]"
    if k == "attr":
        return "context." + e[1]
    if k == "has":
        return "context has " + e[1]
    if k == "action":
        return "action"
    if k == "subject":
        return "subject"
    if k == "not":
        return "!(" + render(e[1], rev) + ")"
    if k in ("&&", "||"):
        return "(" + render(e[1], rev) + ") " + k + " (" + render(e[2], rev) + ")"
    return render(e[1], rev) + " " + k + " " + render(e[2], rev)


def render_set(rs, rev=False):
    """Policy text; with ``rev`` the same policies laid out differently (other order of set
    elements and actions, duplicates, comments, line breaks)."""
    out = []
    for n, r in enumerate(rs):
        scope_a = ""
        if r["actions"]:
            acts = list(reversed(r["actions"])) + r["actions"][:1] if rev else r["actions"]
            scope_a = " in [" + ", ".join(q(a) for a in acts) + "]"
        scope_r = f" is {q(r['rtype'])}" if r["rtype"] else ""
        s = f"{r['effect']} r{n} (subject, action{scope_a}, resource{scope_r})"
        if r["cond"] is not None:
            s += ((" // condition\n  when {\n" if rev else " when { ")
                  + render(r["cond"], rev) + " }")
        if r["effect"] == "permit" and r["obls"]:
            s += " obligations [" + ", ".join(r["obls"] + r["obls"][:1] * rev) + "]"
        out.append(s + ";")
    return "\n".join(out)


# ---- the reference evaluator ----------------------------------------------------------------

def typed(v):
    """Python request value -> (type, value)."""
    if isinstance(v, bool):
        return ("bool", v)
    if isinstance(v, abac.Timestamp):
        return ("time", int(v))
    if isinstance(v, int):
        return ("int", v)
    if isinstance(v, str):
        return ("str", v)
    if all(isinstance(x, str) for x in v):
        return ("sset", frozenset(v))
    return ("iset", frozenset(v))


def value(e, req):
    k = e[0]
    if k == "lit":
        return (e[1], e[2])
    if k == "attr":
        if e[1] not in req["context"]:
            raise MissingAttr
        return typed(req["context"][e[1]])
    if k == "action":
        return ("str", req["action"])
    if k == "subject":
        return ("entity", req["subject"]["id"])
    return ("bool", truth(e, req))


def truth(e, req):
    k = e[0]
    if k == "lit":
        if e[1] != "bool":
            raise TypeErr
        return e[2]
    if k == "attr":
        t, v = value(e, req)
        if t != "bool":
            raise TypeErr
        return v
    if k == "has":
        return e[1] in req["context"]
    if k == "not":
        return not truth(e[1], req)
    if k == "&&":
        return truth(e[1], req) and truth(e[2], req)
    if k == "||":
        return truth(e[1], req) or truth(e[2], req)
    a, b = value(e[1], req), value(e[2], req)
    if k in ("==", "!="):
        ta = "str" if a[0] == "entity" else a[0]
        tb = "str" if b[0] == "entity" else b[0]
        if ta != tb:
            raise TypeErr
        return (a[1] == b[1]) == (k == "==")
    if k in ("<", "<=", ">", ">="):
        if a[0] != b[0] or a[0] not in ("int", "time"):
            raise TypeErr
        return {"<": a[1] < b[1], "<=": a[1] <= b[1], ">": a[1] > b[1], ">=": a[1] >= b[1]}[k]
    assert k == "in"
    if a[0] == "entity":
        group = {a[1], *req["subject"]["ancestors"]}
        if b[0] == "str":
            return b[1] in group
        if b[0] == "sset":
            return bool(group & b[1])
        raise TypeErr
    if b[0] not in ("iset", "sset"):
        raise TypeErr
    elem = "str" if b[0] == "sset" else "int"
    if a[0] == elem:
        return a[1] in b[1]
    if a[0] == b[0]:
        return a[1] <= b[1]
    raise TypeErr


def reference_decide(rs, req):
    def scope(r):
        return ((not r["actions"] or req["action"] in r["actions"])
                and (r["rtype"] is None or req["resource"]["type"] == r["rtype"]))

    def run(effect):
        hits, errs = [], []
        for n, r in enumerate(rs):
            if r["effect"] != effect or not scope(r):
                continue
            try:
                if r["cond"] is None or truth(r["cond"], req):
                    hits.append(f"r{n}")
            except MissingAttr:
                errs.append((f"r{n}", "MISSING_ATTR"))
            except TypeErr:
                errs.append((f"r{n}", "RUNTIME_TYPE"))
        return hits, errs

    forbids, ferrs = run("forbid")
    if forbids:
        return False, forbids, [], ferrs
    permits, perrs = run("permit")
    obls = []
    for n, r in enumerate(rs):
        if f"r{n}" in permits:
            for o in r["obls"]:
                if o not in obls:
                    obls.append(o)
    return bool(permits), permits, obls, ferrs + perrs


# ---- requests ---------------------------------------------------------------------------

def maybe(strategy):
    return st.one_of(st.none(), strategy)


requests = st.fixed_dictionaries({
    "action": st.sampled_from(ACTIONS + ["other"]),
    "rtype": st.sampled_from(TYPES + ["report"]),
    "subject": st.sampled_from(STRS),
    "ancestors": st.lists(st.sampled_from(["g1", "g2", "g3"]), max_size=2, unique=True),
    "i": maybe(st.sampled_from(INTS)),
    "j": maybe(st.one_of(st.sampled_from(INTS), st.sampled_from(STRS))),  # wrong type now and then
    "s": maybe(st.one_of(st.sampled_from(STRS + ["not-in-policy"]), st.sampled_from(INTS))),
    "b": maybe(st.one_of(st.booleans(), st.just(7))),
    "t": maybe(st.one_of(st.sampled_from([0, 49, 50, 100, 101]).map(abac.Timestamp),
                         st.sampled_from([50]))),
    "is": maybe(st.lists(st.sampled_from(INTS), max_size=4).map(frozenset)),
    "ss": maybe(st.lists(st.sampled_from(STRS + ["zz"]), max_size=4).map(frozenset)),
})


def build(r):
    ctx = {k: r[k] for k in ("i", "j", "s", "b", "t", "is", "ss") if r[k] is not None}
    return {
        "action": r["action"],
        "subject": {"id": r["subject"], "type": "user", "ancestors": r["ancestors"]},
        "resource": {"id": "x", "type": r["rtype"]},
        "context": ctx,
    }


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rs=rules, reqs=st.lists(requests, min_size=1, max_size=6))
def test_matches_reference(rs, reqs):
    ps = abac.parse(render_set(rs))
    decoded = abac.PolicySet.decode(ps.encode())
    # the canonical form depends on the meaning only, not on the layout
    assert abac.parse(render_set(rs, rev=True)).hash() == ps.hash()
    for r in reqs:
        req = build(r)
        want_allowed, want_rules, want_obls, want_errs = reference_decide(rs, req)
        for p in (ps, decoded):
            d = p.evaluate(req)
            assert d.allowed == want_allowed, render_set(rs)
            assert d.rules == want_rules, render_set(rs)
            assert d.obligations == want_obls
            assert d.errors == want_errs, render_set(rs)
        # explain names exactly the in-scope permits that did not match
        ex = ps.explain(req)
        assert ex.allowed == want_allowed
        missed = {e.rule for e in ex.explanations}
        for n, rr in enumerate(rs):
            if rr["effect"] == "permit":
                assert (f"r{n}" in missed) == (f"r{n}" not in reference_decide(
                    [x if x["effect"] == "permit" else dict(x, effect="skip") for x in rs],
                    req)[1])
