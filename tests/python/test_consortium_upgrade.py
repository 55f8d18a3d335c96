"""Contract upgrades by quorum against four `fedshare node` processes (issue 20):
`fedshare consortium upgrade propose|approve|cancel|status` and the Member acts.
A plan approved by 4 of the 5 members takes force at its height and the members'
acts go on under version 2; a second plan is cancelled by 4 of 5 before its
height; refusals (not a member, a repeated vote) exit 3."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys

from fedshare import errors
from fedshare.consortium import Member
from fedshare.upgrade import LEAD_MIN

from fedshare_cluster import Consortium


def _run(*args):
    return subprocess.run([sys.executable, "-m", "fedshare", "consortium", "upgrade",
                           *map(str, args)], capture_output=True, text=True, timeout=300)


def _register(m: Member, i: int) -> None:
    m.register_data(hashlib.sha256(f"data-{i}".encode()).digest(), "ehr")


def test_upgrade_by_quorum(tmp_path):
    cons = Consortium(tmp_path)
    cons.start_all()
    members = []
    try:
        keys = []
        for i, s in enumerate(cons.seeds):
            k = tmp_path / f"m{i}.key"
            k.write_text(s.hex())
            keys.append(k)
        members = [Member(cons.config, s) for s in cons.seeds]
        _register(members[0], -1)  # a first block (the chain's height is read below)
        conf = cons.config
        build = tmp_path / "contracts-v2.bin"
        build.write_bytes(b"contract build v2")

        r = _run("propose", "robust-rule", "--config", conf, "--key", keys[4], "--version", 2,
                 "--build", build, "--lead-extra", 6)
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout)
        height = out["height"]
        assert out["plan"]["status"] == "proposed"
        assert out["plan"]["build_hash"] == hashlib.sha256(b"contract build v2").hexdigest()
        assert out["plan"]["approvals"] == 1
        # a replica's key is not a member: refused before ordering
        r = _run("approve", "robust-rule", "--config", conf, "--key", tmp_path / "node0.key")
        assert r.returncode == 3 and "refused" in r.stderr
        for i in (0, 1):
            r = _run("approve", "robust-rule", "--config", conf, "--key", keys[i])
            assert r.returncode == 0, r.stderr
        r = _run("approve", "robust-rule", "--config", conf, "--key", keys[1])
        assert r.returncode == 3  # a repeated vote
        r = _run("status", "--config", conf, "--key", keys[3])
        st = json.loads(r.stdout)
        assert st["app_version"] == 1 and st["plan"]["status"] == "proposed"
        assert st["plan"]["approvals"] == 3  # 3 of 5 is not more than two thirds
        members[3].upgrade_approve("robust-rule")  # the regulator: 4 of 5
        assert members[2].upgrade_plan("robust-rule")["status"] == "approved"

        # the members' acts go on across the activation height
        i = 0
        while members[0].upgrade_status()["height"] < height + 1:
            _register(members[i % 3], i)
            i += 1
        _register(members[1], 1000)  # built for version 2 (after one refusal, or at once)
        st = members[2].upgrade_status("robust-rule")
        assert st["app_version"] == 2
        assert st["plan"]["status"] == "activated" and st["plan"]["decided_at"] == height
        r = _run("status", "robust-rule", "--config", conf, "--key", keys[0])
        assert r.returncode == 0 and json.loads(r.stdout)["plan"]["status"] == "activated"

        # a second plan (version 3), cancelled by 4 of 5 before its height
        h = members[0].upgrade_status()["height"]
        members[0].upgrade_propose("next", 3, b"\x33" * 32, h + LEAD_MIN + 20)
        for k in (1, 2, 3):
            members[k].upgrade_cancel("next")
        assert members[4].upgrade_plan("next")["status"] == "proposed"
        members[4].upgrade_cancel("next")
        plan = members[4].upgrade_plan("next")
        assert plan["status"] == "cancelled" and plan["cancels"] == 4
        assert members[4].upgrade_plan() is None  # nothing open
        assert members[4].app_version == 2
    finally:
        for m in members:
            m.close()
        cons.close()


def test_nodes_halt_for_a_version_they_lack(tmp_path):
    """A plan for contract version 3 (this build executes 1 and 2), approved by 4
    of 5: every node that committed block H-1 halts — exit status 4, UPGRADE
    NEEDED naming the plan and the version — and no node executes H."""
    cons = Consortium(tmp_path)
    cons.start_all()
    members = []
    try:
        members = [Member(cons.config, s, timeout_ms=15000) for s in cons.seeds]
        _register(members[0], -1)
        h = members[0].upgrade_status()["height"]
        height = h + LEAD_MIN + 4
        members[0].upgrade_propose("needs-v3", 3, b"\x03" * 32, height)
        for k in (1, 2, 3):
            members[k].upgrade_approve("needs-v3")
        assert members[4].upgrade_plan()["status"] == "approved"
        # acts until block H-1 is committed: then every node halts at once (the
        # act that lands in H-1 may see its nodes gone before it reads its outcome)
        i = 0
        try:
            while members[0].upgrade_status()["height"] < height - 1:
                _register(members[i % 3], i)
                i += 1
        except errors.Error:
            pass
        # a quorum committed H-1 and halted; a replica that missed those commits
        # cannot fetch them from halted peers and stays below, executing nothing
        halted = []
        for i in range(4):
            try:
                code = cons.procs[i].proc.wait(timeout=60 if len(halted) < 3 else 5)
            except subprocess.TimeoutExpired:
                continue
            assert code == 4, (i, code)
            halted.append(i)
        assert len(halted) >= 3, halted
        for i in range(4):
            st = cons.status(i)
            assert st is not None and st[0] <= height - 1
            if i in halted:
                log = (tmp_path / f"node{i}.log").read_text()
                assert "UPGRADE NEEDED" in log and '"needs-v3"' in log and "version 3" in log
                assert st[0] == height - 1
    finally:
        for m in members:
            m.close()
        cons.close()
