"""fedshare.abac_analyze and `fedshare policy diff|check|lint` (libabac_analyze, z3): the demo's
policy set and the seed's data-use policy (docs/guides/abac.md) analysed, every request the
solver returns replayed here through fedshare.abac (libabac's evaluator) and deciding as the
solver said, the CLI's exit codes and output, and clear errors outside the supported subset.
Skipped where the package was built without z3."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from fedshare import abac, abac_analyze, cli
from fedshare._demo.experiment import HOSPITALS, POLICY

pytestmark = pytest.mark.skipif(not abac_analyze.available(),
                                reason="libabac_analyze not built (no z3 at build time)")

ROOT = Path(__file__).resolve().parents[2]

DEMO = POLICY.format(end="2027-01-01T00:00:00Z",
                     orgs=", ".join(f'Organisation::"{h}"' for h in HOSPITALS[:3]))


def _seed() -> str:
    """The seed's data-use policy, as the abac guide shows it."""
    text = (ROOT / "docs" / "guides" / "abac.md").read_text()
    m = re.search(r'TEXT = """\n(.*?)"""', text, re.S)
    assert m, "the guide's policy text moved"
    return m.group(1)


SEED = _seed()


def replay(policy_text: str, cx: dict) -> str:
    """libabac's decision on a counterexample (request and entities as the solver made them)."""
    return abac.CedarPolicies(policy_text).is_authorized(
        cx["request"], abac.CedarEntities(cx["entities"])).decision


def test_demo_and_seed_equal_to_themselves_and_looser_versions_found():
    for text in (DEMO, SEED):
        r = abac_analyze.policy_diff(text, text)
        assert r == {"verdict": "equivalent", "new_permits": None, "old_permits": None,
                     "under_schema": False}
    looser = DEMO.replace("resource.uses < 100", "resource.uses <= 100")
    r = abac_analyze.policy_diff(DEMO, looser)
    assert r["verdict"] == "new_more_permissive" and r["old_permits"] is None
    cx = r["new_permits"]
    assert (cx["old"], cx["new"]) == ("Deny", "Allow")
    assert replay(DEMO, cx) == "Deny" and replay(looser, cx) == "Allow"
    # the witness is the one request the change lets through: 100 uses
    (res,) = [e for e in cx["entities"] if e["uid"] == cx["request"]["resource"]]
    assert res["attrs"]["uses"] == 100
    # dropping the export ban from the seed does permit more: an action "train" that is
    # itself in Action::"export" (Cedar's action groups) was forbidden and is now permitted
    no_ban = SEED[:SEED.index('@id("no-raw-export")')]
    r = abac_analyze.policy_diff(SEED, no_ban)
    assert r["verdict"] == "new_more_permissive"
    cx = r["new_permits"]
    assert cx["request"]["action"] == {"type": "Action", "id": "train"}
    (act,) = [e for e in cx["entities"] if e["uid"] == cx["request"]["action"]]
    assert {p["id"] for p in act["parents"]} & {"export", "download"}
    assert replay(SEED, cx) == "Deny" and replay(no_ban, cx) == "Allow"
    # the re-export in fedshare.abac is the same function
    assert abac.policy_diff is abac_analyze.policy_diff


INVARIANTS = """
@id("never-export")
forbid (principal, action in [Action::"export", Action::"download"], resource);
@id("train-needs-purpose")
permit (principal, action == Action::"train", resource) when { context.purpose == "training" };
@id("only-members")
permit (principal, action, resource) when { principal is Member };
@id("under-50-uses")
permit (principal, action, resource) when { resource.uses < 50 };
"""


def test_invariants_of_the_demo_policy():
    r = abac_analyze.policy_check(DEMO, INVARIANTS)
    holds = {i["id"]: i["holds"] for i in r["invariants"]}
    assert holds == {"never-export": True, "train-needs-purpose": True, "only-members": True,
                     "under-50-uses": False}
    assert r["all_hold"] is False
    (bad,) = [i for i in r["invariants"] if not i["holds"]]
    assert replay(DEMO, bad["counterexample"]) == "Allow"
    (res,) = [e for e in bad["counterexample"]["entities"]
              if e["uid"] == bad["counterexample"]["request"]["resource"]]
    assert 50 <= res["attrs"]["uses"] < 100


def test_lint_names_dead_shadowed_and_erroring_rules():
    text = SEED + """
@id("never") permit (principal, action, resource) when { context.n > 5 && context.n < 3 };
@id("shadowed") permit (principal, action == Action::"download", resource is Dataset);
"""
    r = abac_analyze.policy_lint(text)
    by = {p["id"]: p for p in r["policies"]}
    assert by["never"]["dead"] and not by["never"]["shadowed"]
    assert by["shadowed"]["shadowed"] and not by["shadowed"]["dead"]
    assert not by["train-only"]["dead"] and not by["train-only"]["shadowed"]
    # the seed's permit reads attributes that may be absent: it can raise an error, and the
    # example does make libabac report one for it
    assert by["train-only"]["may_error"]
    resp = abac.CedarPolicies(text).is_authorized(
        by["train-only"]["error_example"]["request"],
        abac.CedarEntities(by["train-only"]["error_example"]["entities"]))
    assert "policy0" in [e[0] for e in resp.errors]
    assert not by["no-raw-export"]["may_error"]


def test_unsupported_and_syntax_errors_are_clear():
    like = 'permit (principal, action, resource) when { context.s like "a*" };'
    with pytest.raises(abac_analyze.UnsupportedPolicyError, match="`like` is not supported"):
        abac_analyze.policy_diff(SEED, like)
    with pytest.raises(abac.PolicyError, match="NEW: line 1"):
        abac_analyze.policy_diff(SEED, "permit (principal, action")


def _run(capsys, *argv):
    rc = cli.main(list(argv))
    return rc, capsys.readouterr()


def test_cli_policy_diff_check_lint(tmp_path, capsys):
    old, new, inv = tmp_path / "old.cedar", tmp_path / "new.cedar", tmp_path / "inv.cedar"
    old.write_text(DEMO)
    new.write_text(DEMO.replace("resource.uses < 100", "resource.uses < 1000"))
    inv.write_text(INVARIANTS)
    rc, out = _run(capsys, "policy", "diff", str(old), str(old))
    assert rc == 0 and out.out.startswith("equivalent")
    rc, out = _run(capsys, "policy", "diff", str(old), str(new))
    assert rc == 3
    assert "NEW permits something OLD denied" in out.out
    assert 'action Action::"train"' in out.out
    rc, out = _run(capsys, "policy", "diff", str(new), str(old), "--json")
    assert rc == 0
    r = json.loads(out.out)
    assert r["verdict"] == "new_less_permissive"
    assert replay(DEMO, r["old_permits"]) == "Deny"
    rc, out = _run(capsys, "policy", "check", str(old), "--invariant", str(inv))
    assert rc == 3
    assert "never-export: holds (proven)" in out.out
    assert "under-50-uses: REFUTED" in out.out
    rc, out = _run(capsys, "policy", "lint", str(old))
    assert rc == 0 and "no_raw_export (forbid): ok" in out.out
    bad = tmp_path / "bad.cedar"
    bad.write_text('permit (principal, action, resource) when { context.s like "a*" };')
    rc, out = _run(capsys, "policy", "diff", str(old), str(bad))
    assert rc == 1 and "`like` is not supported" in out.err
    with pytest.raises(SystemExit) as e:  # argparse: a usage error
        cli.main(["policy", "diff", str(old), str(tmp_path / "missing.cedar")])
    assert e.value.code == 2
    assert "missing.cedar" in capsys.readouterr().err


SEED_SCHEMA = """
entity Org;
entity Member in [Org] = { credentials: Set<String> };
entity Dataset = { uses: Long };
action train, export, download appliesTo {
  principal: Member, resource: Dataset, context: { purpose: String, now: Long } };
"""


def replay_conforming(policy_text: str, schema: abac.CedarSchema, cx: dict) -> str:
    """libabac's decision on a request the solver made under a schema, read with the schema
    (non-conforming input is refused there) and checked against it."""
    es = abac.CedarEntities(cx["entities"], schema=schema)
    schema.check_entities(es)
    schema.check_request(cx["request"])
    return abac.CedarPolicies(policy_text).is_authorized(cx["request"], es,
                                                         schema=schema).decision


def test_under_a_schema_only_the_requests_it_allows_count():
    schema = abac.CedarSchema(SEED_SCHEMA)
    no_ban = SEED[:SEED.index('@id("no-raw-export")')]
    # without a schema an action `train` in Action::"export" shows a difference; under the
    # schema train is in no group, so dropping the ban changes nothing
    assert abac_analyze.policy_diff(SEED, no_ban)["verdict"] == "new_more_permissive"
    for s in (SEED_SCHEMA, schema):
        r = abac_analyze.policy_diff(SEED, no_ban, schema=s)
        assert r == {"verdict": "equivalent", "new_permits": None, "old_permits": None,
                     "under_schema": True}
    # a difference under the schema comes with a conforming request, required attributes the
    # policies do not read filled in
    looser = SEED.replace("resource.uses < 100", "resource.uses < 150")
    r = abac_analyze.policy_diff(SEED, looser, schema=schema)
    assert r["verdict"] == "new_more_permissive" and r["under_schema"] is True
    cx = r["new_permits"]
    assert replay_conforming(SEED, schema, cx) == "Deny"
    assert replay_conforming(looser, schema, cx) == "Allow"
    # lint: every attribute the seed's permit reads is required and typed, so under the
    # schema it cannot raise an error (without it, it can)
    by = {p["id"]: p for p in abac_analyze.policy_lint(SEED, schema=schema)["policies"]}
    assert not by["train-only"]["may_error"] and not by["train-only"]["dead"]
    assert abac_analyze.policy_lint(SEED)["policies"][0]["may_error"]
    # an invariant that holds only under the schema
    inv = '@id("dataset-only") permit (principal, action, resource) when { resource is Dataset };'
    assert abac_analyze.policy_check(no_ban, inv, schema=schema)["all_hold"] is True
    assert abac_analyze.policy_check(no_ban, inv)["all_hold"] is True
    inv2 = '@id("members") permit (principal, action, resource) when { principal in Org::"x" };'
    r = abac_analyze.policy_check(no_ban, inv2, schema=schema)
    (bad,) = r["invariants"]
    assert not bad["holds"] and replay_conforming(no_ban, schema, bad["counterexample"]) == "Allow"
    with pytest.raises(abac.PolicyError, match="schema"):
        abac_analyze.policy_lint(SEED, schema="entity Member = {")


def test_cli_policy_under_a_schema(tmp_path, capsys):
    old, new, sch = tmp_path / "old.cedar", tmp_path / "new.cedar", tmp_path / "s.cedarschema"
    old.write_text(SEED)
    new.write_text(SEED[:SEED.index('@id("no-raw-export")')])
    sch.write_text(SEED_SCHEMA)
    rc, out = _run(capsys, "policy", "diff", str(old), str(new))
    assert rc == 3
    rc, out = _run(capsys, "policy", "diff", str(old), str(new), "--schema", str(sch))
    assert rc == 0
    assert out.out.startswith(f"under the schema {sch}: only the requests it allows")
    assert "equivalent" in out.out
    rc, out = _run(capsys, "policy", "lint", str(old), "--schema", str(sch), "--json")
    assert rc == 0 and json.loads(out.out)["under_schema"] is True
    rc, out = _run(capsys, "policy", "lint", str(old), "--schema", str(sch))
    assert rc == 0 and "train-only (permit): ok" in out.out


def test_sets_of_longs_are_analysed():
    old = 'permit (principal, action, resource) when { principal.n.containsAll([3, 5]) };'
    new = ('permit (principal, action, resource) when { principal.n.contains(3) && '
           'principal.n.contains(5) };')
    assert abac_analyze.policy_diff(old, new)["verdict"] == "equivalent"
    looser = 'permit (principal, action, resource) when { principal.n.containsAny([3, 5]) };'
    r = abac_analyze.policy_diff(old, looser)
    assert r["verdict"] == "new_more_permissive"
    cx = r["new_permits"]
    assert replay(old, cx) == "Deny" and replay(looser, cx) == "Allow"
    (p,) = [e for e in cx["entities"] if e["uid"] == cx["request"]["principal"]]
    assert set(p["attrs"]["n"]) & {3, 5} and not {3, 5} <= set(p["attrs"]["n"])
    # and under a schema that declares them
    schema = abac.CedarSchema("entity U = { n: Set<Long> }; action a appliesTo "
                              "{ principal: U, resource: U };")
    r = abac_analyze.policy_diff(old, looser, schema=schema)
    assert r["verdict"] == "new_more_permissive"
    assert replay_conforming(looser, schema, r["new_permits"]) == "Allow"


OWNER_SCHEMA = """
entity Member = { level: Long };
entity Dataset = { owner: Member };
action read appliesTo { principal: Member, resource: Dataset };
"""


def test_attributes_of_entities_reached_through_attributes(tmp_path, capsys):
    """resource.owner.level: the owner carries attributes (docs/policy-analysis.md,
    restriction 2 lifted); a difference only through them is found and replayed."""
    own3 = 'permit (principal, action, resource) when { resource.owner.level > 3 };'
    own5 = own3.replace("> 3", "> 5")
    schema = abac.CedarSchema(OWNER_SCHEMA)
    for s in (None, schema):
        (p,) = abac_analyze.policy_lint(own3, schema=s)["policies"]
        assert p["dead"] is False
        r = abac_analyze.policy_diff(own3, own5, schema=s)
        assert r["verdict"] == "new_less_permissive"
        cx = r["old_permits"]
        assert cx["confirmed"] is True
        if s is None:
            assert replay(own3, cx) == "Allow" and replay(own5, cx) == "Deny"
        else:
            assert replay_conforming(own3, s, cx) == "Allow"
            assert replay_conforming(own5, s, cx) == "Deny"
        owner = cx["entities"][[e["uid"] for e in cx["entities"]].index(
            next(e["attrs"]["owner"]["__entity"] for e in cx["entities"]
                 if e["uid"] == cx["request"]["resource"]))]
        assert owner["attrs"]["level"] in (4, 5)
    # a model no entity store realises (a record read field by field on one path, as a long
    # on the other): a possible difference, said to be unconfirmed
    none = "permit (principal, action, resource) when { false };"
    odd = ("permit (principal, action, resource) when { resource.owner == principal && "
           "resource.owner.info.x == 1 && principal.info == 5 };")
    r = abac_analyze.policy_diff(none, odd)
    assert r["new_permits"]["confirmed"] is False
    old, new = tmp_path / "none.cedar", tmp_path / "odd.cedar"
    old.write_text(none)
    new.write_text(odd)
    rc, out = _run(capsys, "policy", "diff", str(old), str(new))
    assert rc == 3 and "possible difference (not confirmed)" in out.out
