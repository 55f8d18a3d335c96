"""Action entities from the schema (libabac 1.3.0): entities read with a Cedar schema get the
schema's actions as entities, their action groups as parents and the groups' closure as
ancestors, so `action in Action::"group"` holds without the entities listing any action. An
action the entities list too must be exactly the declared one (its ancestors, closed over the
entities given, are its groups' closure, and it has no attributes), else the input is refused
— as Cedar does. Differential against Cedar itself (cedarpy, ``schema=``) on hand-written cases
and on seeded random action hierarchies, listed actions, policies and requests."""
import json
import random

import pytest

from fedshare import abac
from fedshare.errors import InvalidInputError

cedarpy = pytest.importorskip("cedarpy")


def schema(groups, ns=""):
    """groups: action id -> list of its groups (ids in the same namespace)."""
    acts = {}
    for a, gs in groups.items():
        d = {"memberOf": [{"id": g} for g in gs]} if gs else {}
        d["appliesTo"] = {"principalTypes": ["User"], "resourceTypes": ["Doc"]}
        acts[a] = d
    return {ns: {"entityTypes": {"User": {}, "Doc": {}}, "actions": acts}}


def act(i, parents, t="Action"):
    return {"uid": {"type": t, "id": i}, "attrs": {},
            "parents": [{"type": t, "id": p} for p in parents]}


def req(a, t="Action", ns=""):
    pre = ns + "::" if ns else ""
    return {"principal": {"type": pre + "User", "id": "u"}, "action": {"type": t, "id": a},
            "resource": {"type": pre + "Doc", "id": "d"}, "context": {}}


def cedar(request, policies, entities, sch):
    r = cedarpy.is_authorized(request, policies, json.dumps(entities), schema=sch)
    if r.decision == cedarpy.Decision.NoDecision:
        return None
    return (r.decision.value, sorted(r.diagnostics.reasons), bool(r.diagnostics.errors))


def ours(request, policies, entities, sch):
    try:
        r = abac.CedarPolicies(policies).is_authorized(request, entities,
                                                       schema=abac.CedarSchema(sch))
    except InvalidInputError:
        return None
    return (r.decision, sorted(r.reasons), bool(r.errors))


CHAIN = {"read": ["readers"], "readers": ["all"], "all": [], "write": []}
IN_ALL = 'permit(principal, action in Action::"all", resource);'
CASES = [
    # (groups, listed entities, policy, request action)
    (CHAIN, [], IN_ALL, "read"),
    (CHAIN, [], IN_ALL, "write"),
    (CHAIN, [], 'permit(principal, action in Action::"readers", resource);', "readers"),
    (CHAIN, [], 'permit(principal, action in [Action::"write", Action::"readers"], resource);',
     "read"),
    (CHAIN, [], 'permit(principal, action, resource) when { action in Action::"all" };', "read"),
    (CHAIN, [], 'forbid(principal, action in Action::"readers", resource);\n' + IN_ALL, "read"),
    (CHAIN, [act("read", ["readers", "all"])], IN_ALL, "read"),    # exactly as declared
    (CHAIN, [act("read", ["all", "readers", "all"])], IN_ALL, "read"),
    (CHAIN, [act("read", ["readers"]), act("readers", ["all"])], IN_ALL, "read"),
    (CHAIN, [act("readers", ["all"])], IN_ALL, "read"),
    (CHAIN, [act("all", [])], IN_ALL, "read"),
    (CHAIN, [act("read", ["readers"])], IN_ALL, "read"),            # not closed: refused
    (CHAIN, [act("read", [])], IN_ALL, "read"),                     # refused
    (CHAIN, [act("read", ["write"])], IN_ALL, "read"),              # refused
    (CHAIN, [act("readers", [])], IN_ALL, "read"),                  # refused
    (CHAIN, [act("zzz", [])], IN_ALL, "read"),                      # undeclared: refused
    (CHAIN, [dict(act("read", ["readers", "all"]), attrs={"x": 1})], IN_ALL, "read"),
    (CHAIN, [], IN_ALL, "nope"),                                    # request refused
    ({"read": ["g1", "g2"], "g1": ["top"], "g2": ["top"], "top": []}, [],
     'permit(principal, action in Action::"top", resource);', "read"),
    ({"read": ["g1", "g2"], "g1": ["top"], "g2": ["top"], "top": []},
     [act("read", ["g1", "g2", "top"])], 'permit(principal, action in Action::"g2", resource);',
     "read"),
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_cases_match_cedar(case):
    groups, ents, pol, a = CASES[case]
    sch = schema(groups)
    ents = ents + [{"uid": {"type": "User", "id": "u"}, "attrs": {}, "parents": []}]
    want = cedar(req(a), pol, ents, sch)
    assert ours(req(a), pol, ents, sch) == want, (groups, ents, pol, a, want)


def test_cases_cover_outcomes():
    outs = []
    for groups, ents, pol, a in CASES:
        outs.append(cedar(req(a), pol, ents, schema(groups)))
    assert sum(o is None for o in outs) >= 6
    assert sum(o is not None and o[0] == "Allow" for o in outs) >= 8


def test_namespaced_and_cross_namespace_groups():
    sch = {"NS": {"entityTypes": {"User": {}, "Doc": {}},
                  "actions": {"read": {"memberOf": [{"id": "g"},
                                                    {"id": "h", "type": "Other::Action"}],
                                       "appliesTo": {"principalTypes": ["User"],
                                                     "resourceTypes": ["Doc"]}},
                              "g": {}}},
           "Other": {"entityTypes": {}, "actions": {"h": {}}}}
    r = req("read", "NS::Action", "NS")
    for pol in ('permit(principal, action in Other::Action::"h", resource);',
                'permit(principal, action in NS::Action::"g", resource);',
                'permit(principal, action in Action::"g", resource);'):
        want = cedar(r, pol, [], sch)
        assert ours(r, pol, [], sch) == want, pol
    es = abac.CedarEntities([], schema=sch)
    assert len(es) == 3


def test_without_schema_no_action_entities():
    assert len(abac.CedarEntities([])) == 0
    assert len(abac.CedarEntities([], schema=schema(CHAIN))) == 4
    r = abac.CedarPolicies(IN_ALL).is_authorized(req("read"), [])
    assert r.decision == "Deny"


def test_random_matches_cedar():
    rng = random.Random(202612071)
    compared = allowed = refused = 0
    for _ in range(150):
        n = rng.randrange(2, 7)
        ids = [f"a{k}" for k in range(n)]
        # a DAG: an action's groups come later in the list
        groups = {a: sorted(rng.sample(ids[k + 1:], rng.randrange(min(3, n - k - 1) + 1)))
                  for k, a in enumerate(ids)}
        closure = {}
        for a in reversed(ids):
            c = set(groups[a])
            for g in groups[a]:
                c |= closure[g]
            closure[a] = c
        listed = []
        for a in ids:
            x = rng.random()
            if x < 0.25:
                listed.append(act(a, sorted(closure[a])))      # as declared
            elif x < 0.35:
                listed.append(act(a, groups[a]))                # direct groups only
            elif x < 0.4:  # any later action: acyclic (libabac closes cycles, Cedar refuses
                k = ids.index(a)  # them: docs/abac-language.md, "Hierarchy")
                listed.append(act(a, rng.sample(ids[k + 1:], min(len(ids) - k - 1,
                                                                 rng.randrange(2)))))
        rng.shuffle(listed)
        pols = []
        for _ in range(rng.randrange(1, 4)):
            eff = rng.choice(["permit", "permit", "forbid"])
            k = rng.random()
            if k < 0.5:
                scope = f'action in Action::"{rng.choice(ids)}"'
            elif k < 0.7:
                scope = f'action == Action::"{rng.choice(ids)}"'
            elif k < 0.85:
                scope = "action in [" + ", ".join(
                    f'Action::"{x}"' for x in rng.sample(ids, rng.randrange(1, 3))) + "]"
            else:
                scope = "action"
            cond = (f' when {{ action in Action::"{rng.choice(ids)}" }}'
                    if rng.random() < 0.3 else "")
            pols.append(f"{eff}(principal, {scope}, resource){cond};")
        pol = "\n".join(pols)
        r = req(rng.choice(ids))
        sch = schema(groups)
        want = cedar(r, pol, listed, sch)
        assert ours(r, pol, listed, sch) == want, (groups, listed, pol, r, want)
        compared += 1
        refused += want is None
        allowed += want is not None and want[0] == "Allow"
    assert compared == 150 and refused >= 10 and allowed >= 20, (refused, allowed)
