"""fedshare.abac: parse, validate, evaluate, explain, canonical form, signed updates."""
import datetime as dt

import pytest

import fedshare
from fedshare import abac

SCHEMA = """
subject { org: string, credentials: set<string>, clearance: int }
resource { uses: int, owner: string, sensitivity: int }
context { purpose: string, now: timestamp, export_raw: bool }
"""

PAPER = """
permit train_only (subject, action == "train", resource is "dataset")
when {
  context.purpose == "training"
  && context.now >= time("2026-01-01T00:00:00Z") && context.now < time("2027-01-01T00:00:00Z")
  && resource.uses < 100
  && subject.org in ["hospital_a", "hospital_b"]
  && ["ethics_approval", "gcp_certified"] in subject.credentials
}
obligations [no_export, log_access];
forbid no_raw_export (subject, action in ["export", "download"], resource)
when { context has export_raw && context.export_raw };
permit consortium_read (subject, action == "read", resource)
when { subject in "consortium" && subject.clearance >= resource.sensitivity };
"""


def req(**over):
    r = {
        "action": "train",
        "subject": {"id": "alice", "type": "user", "org": "hospital_a",
                    "credentials": {"gcp_certified", "ethics_approval", "phd"},
                    "clearance": 2},
        "resource": {"id": "d1", "type": "dataset", "uses": 10, "owner": "hospital_a",
                     "sensitivity": 3},
        "context": {"purpose": "training",
                    "now": abac.Timestamp.from_datetime(
                        dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc))},
    }
    for k, v in over.items():
        part, _, name = k.partition("__")
        if name:
            r[part] = dict(r[part], **{name: v})
        else:
            r[part] = v
    return r


@pytest.fixture(scope="module")
def paper():
    return abac.parse(PAPER, schema=SCHEMA)


def test_paper_permit(paper):
    d = paper.evaluate(req())
    assert d.allowed and d.effect == "permit"
    assert d.rules == ["train_only"]
    assert d.obligations == ["no_export", "log_access"]


@pytest.mark.parametrize("over,condition", [
    ({"context__purpose": "marketing"}, 'context.purpose == "training"'),
    ({"context__now": abac.Timestamp(1767225599)}, "context.now >= time(1767225600)"),
    ({"context__now": dt.datetime(2027, 1, 1, tzinfo=dt.timezone.utc)},
     "context.now < time(1798761600)"),
    ({"resource__uses": 100}, "resource.uses < 100"),
    ({"subject__org": "bank"}, 'subject.org in ["hospital_a", "hospital_b"]'),
    ({"subject__credentials": ["gcp_certified"]},
     '["ethics_approval", "gcp_certified"] in subject.credentials'),
])
def test_paper_denials_explained(paper, over, condition):
    d = paper.explain(req(**over))
    assert not d.allowed and d.rules == [] and d.obligations == []
    ex = {e.rule: e for e in d.explanations}
    assert ex["train_only"].reason == "condition"
    assert ex["train_only"].condition == condition
    assert ex["train_only"].line >= 3
    assert ex["consortium_read"].reason == "action"


def test_forbid_export_and_hierarchy(paper):
    d = paper.evaluate(req(action="export", context__export_raw=True))
    assert not d.allowed and d.rules == ["no_raw_export"]
    # no forbid and no permit: default deny
    d = paper.evaluate(req(action="export", context__export_raw=False))
    assert not d.allowed and d.rules == []
    # entity hierarchy: alice -> team -> consortium
    parents = {"alice": ["team"], "team": ["consortium"]}
    r = req(action="read")
    assert not paper.is_allowed(r)  # not in the group
    r["subject"] = dict(r["subject"], ancestors=abac.ancestors("alice", parents), clearance=3)
    assert abac.ancestors("alice", parents) == ["consortium", "team"]
    assert paper.evaluate(r).rules == ["consortium_read"]


def test_runtime_error_reported():
    ps = abac.parse('permit p (subject, action, resource) when { context.level > 3 };'
                    'permit q (subject, action, resource) when { context has level };')
    d = ps.evaluate({"action": "x", "context": {}})
    assert not d.allowed and d.errors == [("p", "MISSING_ATTR")]
    d = ps.explain({"action": "x", "context": {"level": "high"}})
    assert d.allowed and d.rules == ["q"] and d.errors == [("p", "RUNTIME_TYPE")]
    assert [(e.rule, e.reason, e.condition) for e in d.explanations] == \
        [("p", "error", "context.level > 3")]


def test_parse_errors_name_line_column():
    with pytest.raises(abac.PolicyError) as ei:
        abac.parse("permit a (subject, action, resource)\n  when { context.x == }")
    e = ei.value
    assert (e.line, e.column) == (2, 23) and "expected an expression" in e.detail
    assert isinstance(e, fedshare.InvalidInputError) and isinstance(e, ValueError)
    assert e.code == -402 and e.library == "abac"
    with pytest.raises(abac.PolicyError) as ei:
        abac.parse("permit a (subject, action, resource) when { context.y };", schema=SCHEMA)
    assert ei.value.code == -405 and "not declared" in ei.value.detail
    with pytest.raises(abac.PolicyError) as ei:
        abac.parse("", schema="context { x: float }")
    assert ei.value.code == -404 and (ei.value.line, ei.value.column) == (1, 14)


def test_validate():
    assert abac.validate(PAPER, SCHEMA) == []
    errs = abac.validate('permit a (subject, action, resource) when { resource.uses == "3" };',
                         SCHEMA)
    assert len(errs) == 1 and errs[0][:2] == (1, 59) and "found int and string" in errs[0][2]


def test_request_errors(paper):
    with pytest.raises(fedshare.InvalidInputError):
        paper.evaluate(req(resource__uses="many"))  # schema says int
    with pytest.raises(fedshare.InvalidInputError):
        paper.evaluate({"action": 3})
    with pytest.raises(fedshare.InvalidInputError):
        paper.evaluate({"actor": "x"})
    with pytest.raises(fedshare.InvalidInputError):
        paper.evaluate(req(subject__credentials=["a", 1]))
    with pytest.raises(fedshare.InvalidInputError):
        paper.evaluate(req(context__now=dt.datetime(2026, 1, 1)))  # naive datetime
    with pytest.raises(fedshare.InvalidInputError):
        paper.evaluate(req(resource__uses=2**63))
    with pytest.raises(fedshare.InvalidInputError):
        paper.evaluate(req(context__purpose=1.5))


def test_canonical_form_and_decode(paper):
    other = abac.parse("// same rules, other layout\n" + " ".join(PAPER.split()), schema=SCHEMA)
    assert other.encode() == paper.encode() and other.hash() == paper.hash()
    assert other == paper and hash(other) == hash(paper)
    back = abac.PolicySet.decode(paper.encode())
    assert back.encode() == paper.encode()
    assert back.rule_ids == ["train_only", "no_raw_export", "consortium_read"]
    assert back.evaluate(req()).obligations == ["no_export", "log_access"]
    with pytest.raises(fedshare.InvalidInputError):
        abac.PolicySet.decode(paper.encode()[:-1])
    with pytest.raises(fedshare.InvalidInputError):
        abac.PolicySet.decode(paper.encode() + b"\0")
    with pytest.raises(fedshare.InvalidInputError):
        abac.PolicySet.decode(b"XXXX" + paper.encode()[4:])


def members(n, base=0):
    return [abac.keypair(bytes([base + i + 1]) * 32) for i in range(n)]


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6, 7, 10])
def test_quorum_threshold(n):
    keys = members(n)
    pks = [pk for pk, _ in keys]
    cur = abac.parse("permit a (subject, action, resource);", version=1, members=pks)
    nxt = abac.parse("permit b (subject, action, resource);", version=2, members=pks)
    sigs = {pk: cur.sign_update(nxt, sk) for pk, sk in keys}
    k = 2 * n // 3
    few = abac.encode_update(cur, nxt, dict(list(sigs.items())[:k]))
    with pytest.raises(fedshare.AccessDeniedError) as ei:
        cur.apply_update(few)
    assert ei.value.code == -445
    enough = abac.encode_update(cur, nxt, list(sigs.items())[:k + 1])
    new = abac.apply_update(cur, enough)
    assert new == nxt and new.version == 2 and sorted(new.members) == sorted(pks)
    with pytest.raises(fedshare.AccessDeniedError) as ei:
        new.apply_update(enough)
    assert ei.value.code == -441  # replay


def test_update_refusals():
    keys = members(4)
    pks = [pk for pk, _ in keys]
    v1 = abac.parse("permit a (subject, action, resource);", version=1, members=pks)
    v2 = abac.parse("permit b (subject, action, resource);", version=2, members=pks)
    v1b = abac.parse("permit c (subject, action, resource);", version=1, members=pks)
    sign = {pk: v1.sign_update(v2, sk) for pk, sk in keys}
    # stale version
    stale = v1.encode_update(v1b, {pk: v1.sign_update(v1b, sk) for pk, sk in keys})
    with pytest.raises(fedshare.AccessDeniedError) as ei:
        v1.apply_update(stale)
    assert ei.value.code == -440
    # non-member
    outsider_pk, outsider_sk = members(1, base=50)[0]
    bad = dict(list(sign.items())[:2])
    bad[outsider_pk] = v1.sign_update(v2, outsider_sk)
    with pytest.raises(fedshare.AccessDeniedError) as ei:
        v1.apply_update(v1.encode_update(v2, bad))
    assert ei.value.code == -443
    # bad signature
    forged = dict(sign)
    first = next(iter(forged))
    forged[first] = bytes(64)
    with pytest.raises(fedshare.VerificationError) as ei:
        v1.apply_update(v1.encode_update(v2, forged))
    assert ei.value.code == -444
    # duplicate signer
    with pytest.raises(fedshare.AccessDeniedError) as ei:
        v1.encode_update(v2, [(first, sign[first]), (first, sign[first])])
    assert ei.value.code == -442
    # wrong base
    with pytest.raises(fedshare.AccessDeniedError) as ei:
        v1b.apply_update(v1.encode_update(v2, sign))
    assert ei.value.code == -446
    assert v1.update_message(v2) != v1.update_message(v1b)
    with pytest.raises(fedshare.InvalidInputError):
        abac.keypair(b"short")
    with pytest.raises(fedshare.InvalidInputError):
        abac.parse("", members=[b"x" * 31])
    with pytest.raises(fedshare.InvalidInputError):
        abac.parse("", members=[b"x" * 32, b"x" * 32])


def test_version():
    assert abac.version_string().count(".") == 2


def test_nul_in_attribute_name_refused_not_truncated():
    # Regression (issue 21): names crossed to C NUL-terminated, so "k\0zz" set attribute "k"
    # and `context has k` permitted.
    ps = abac.parse("permit p (subject, action, resource) when { context has k };")
    with pytest.raises(fedshare.InvalidInputError, match="NUL"):
        ps.evaluate({"action": "x", "context": {"k\x00zz": 1}})
    with pytest.raises(fedshare.InvalidInputError, match="NUL"):
        ps.evaluate({"action": "x", "subject": {"id": "u", "k\x00": True}})
    assert ps.evaluate({"action": "x", "context": {"k": 1}}).allowed
    with pytest.raises(abac.PolicyError, match="NUL"):
        abac.parse('permit p (subject, action, resource) when { context has "k\x00" };')
