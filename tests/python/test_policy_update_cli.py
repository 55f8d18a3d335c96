"""`fedshare policy update` against a live consortium: each signer sees what the proposal
changes against the version in force (proven by libabac_analyze) before signing; nothing is
signed without a confirmation or --yes; the signatures of a quorum, passed as files, submit
the update; a signature over another text is refused before anything is sent."""
from __future__ import annotations

import hashlib
import io
import json
import sys

import pytest

from fedshare import abac, abac_analyze, cli, ledger
from fedshare.console import policytext
from fedshare.consortium import Member, lib

from fedshare_cluster import MEMBERS, Consortium

pytestmark = pytest.mark.skipif(not abac_analyze.available(),
                                reason="libabac_analyze not built (no z3 at build time)")

V1 = 'permit (principal, action == Action::"train", resource)\n' \
     'when { context.purpose == "training" };\n'
MORE = V1 + 'permit (principal, action == Action::"read", resource)\n' \
            'when { context.purpose == "audit" };\n'
SAME = 'permit (principal, action, resource)\n' \
       'when { action == Action::"train" && context.purpose == "training" };\n'


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("policy-update")
    cons = Consortium(tmp)
    try:
        cons.start_all()
        keys = []
        for (name, _, _), seed in zip(MEMBERS, cons.seeds):
            (tmp / f"{name}.key").write_text(seed.hex())
            keys.append(str(tmp / f"{name}.key"))
        with Member(cons.config, cons.seeds[0], timeout_ms=120000) as a:
            did = a.register_data(hashlib.sha256(b"records").digest(), "ehr", "synthetic")
            a.set_policy(did, abac.CedarPolicies(V1, version=1, members=[
                ledger.Signer(s).public_key for s in cons.seeds]))
        yield cons, tmp, keys, did.hex()
    finally:
        cons.close()


def _policy(cons, did):
    """(version, text) of the policy in force, read from the ledger."""
    with Member(cons.config, cons.seeds[3], timeout_ms=120000) as m:
        enc = bytes.fromhex(m.record(lib.FEDSHARE_REC_POLICY, bytes.fromhex(did))["policy"])
    return policytext.parts(enc)[0], policytext.render(enc)


def test_signers_see_the_diff_and_a_quorum_submits(world, tmp_path, capsys, monkeypatch):
    cons, tmp, keys, did = world
    more, same = tmp_path / "more.cedar", tmp_path / "same.cedar"
    more.write_text(MORE)
    same.write_text(SAME)
    base = ["policy", "update", did, "--config", str(cons.config)]

    # no --yes and no terminal: the diff is shown, nothing is signed
    rc = cli.main(base + [str(more), "--key", keys[0]])
    out = capsys.readouterr()
    assert rc == 1 and "pass --yes" in out.err and '"signature"' not in out.out
    assert out.out.startswith("version 2 against version 1 in force: the proposal permits "
                              "something version 1 denied")
    assert 'action Action::"read"' in out.out and '"purpose": "audit"' in out.out
    rc = cli.main(base + [str(same), "--key", keys[0]])
    out = capsys.readouterr()
    assert rc == 1 and "in force: equivalent" in out.out

    # at a terminal it asks; an answer other than y signs nothing
    class Terminal(io.StringIO):
        def isatty(self):
            return True
    monkeypatch.setattr(sys, "stdin", Terminal("n\n"))
    rc = cli.main(base + [str(more), "--key", keys[0]])
    out = capsys.readouterr()
    assert rc == 1 and out.err.endswith("sign version 2 of this policy set? [y/N] ")
    assert '"signature"' not in out.out
    monkeypatch.setattr(sys, "stdin", Terminal("y\n"))
    rc = cli.main(base + [str(more), "--key", keys[0], "--json"])
    out = capsys.readouterr()
    assert rc == 0 and json.loads(out.out)["signatures"] == 1  # the prompt is not in the JSON
    monkeypatch.undo()

    # three signatures (of five members; the quorum is four) submit nothing
    files = []
    for k in keys[:3]:
        rc = cli.main(base + [str(more), "--key", k, "--yes", "--json"])
        out = capsys.readouterr()
        assert rc == 0, out.err
        r = json.loads(out.out)  # only the JSON on stdout; the diff on stderr
        assert "permits something version 1 denied" in out.err
        assert r["analysis"]["verdict"] == "new_more_permissive" and r["quorum"] == 4
        assert r["submitted"] is None and r["signatures"] == 1
        files.append(tmp_path / f"sig{len(files)}.json")
        files[-1].write_text(out.out)
    assert _policy(cons, did)[0] == 1

    # a signature over another text does not count: refused here, nothing sent
    rc = cli.main(base + [str(same), "--key", keys[1], "--yes", "--json"])
    wrong = tmp_path / "wrong.json"
    wrong.write_text(capsys.readouterr().out)
    assert rc == 0
    rc = cli.main(base + [str(more), "--key", keys[4], "--yes", "--signature", str(files[0]),
                          "--signature", str(files[2]), "--signature", str(wrong)])
    out = capsys.readouterr()
    assert rc == 1 and "do not all sign this update" in out.err
    assert _policy(cons, did)[0] == 1

    # the fourth member, with the three others' signatures: submitted, version 2 in force
    sig_args = [a for f in files for a in ("--signature", str(f))]
    rc = cli.main(base + [str(more), "--key", keys[4], "--yes"] + sig_args)
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert out.out.startswith("version 2 against version 1 in force")
    r = json.loads(out.out[out.out.index("\n{") + 1:])
    assert r["signatures"] == 4 and len(r["submitted"]) == 64
    assert _policy(cons, did) == (2, MORE)


UPDATE_SCHEMA = """
entity Member;
entity Dataset;
action train appliesTo { principal: Member, resource: Dataset, context: { purpose: String } };
action read appliesTo { principal: Member, resource: Dataset, context: { purpose: String } };
action export;
"""


def test_the_diff_before_signing_is_under_the_schema_given(world, tmp_path, capsys):
    cons, tmp, keys, did = world
    version, text = _policy(cons, did)
    prop, sch = tmp_path / "export.cedar", tmp_path / "s.cedarschema"
    # export is declared without appliesTo: under the schema it is never a request's action
    prop.write_text(text + 'permit (principal, action == Action::"export", resource);\n')
    sch.write_text(UPDATE_SCHEMA)
    base = ["policy", "update", did, str(prop), "--config", str(cons.config), "--key", keys[0]]
    rc = cli.main(base)
    out = capsys.readouterr()
    assert rc == 1 and f"in force: the proposal permits something version {version}" in out.out
    rc = cli.main(base + ["--schema", str(sch)])
    out = capsys.readouterr()
    assert rc == 1 and "pass --yes" in out.err  # nothing signed without --yes
    assert out.out.startswith(f"under the schema {sch}: only the requests it allows")
    assert f"version {version + 1} against version {version} in force: equivalent" in out.out
    assert _policy(cons, did)[0] == version
