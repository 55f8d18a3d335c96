"""Replicas added and removed by quorum against `fedshare node` processes (issue 20,
part 2): `fedshare consortium member add|approve|remove|status` and the Member acts.
Genesis replicas 0…3 and a fifth configured replica: the five members add it
(4 of 5 approve; 3 of 5 do not), it votes from the change on (with replica 3
stopped, acts still commit: the 4-of-5 quorum needs it), then they remove it
again; refusals exit 3."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys

from fedshare import ledger
from fedshare.consortium import Member
from fedshare.reconfig import DELAY

from fedshare_cluster import Consortium


def _run(*args):
    return subprocess.run([sys.executable, "-m", "fedshare", "consortium", "member",
                           *map(str, args)], capture_output=True, text=True, timeout=300)


def _register(m: Member, i: int) -> None:
    m.register_data(hashlib.sha256(f"data-{i}".encode()).digest(), "ehr")


def test_replica_added_and_removed(tmp_path):
    cons = Consortium(tmp_path, spare_replicas=1)
    cons.start_all()
    cons.start(4)  # configured, not a member yet: it follows the chain
    members = []
    try:
        keys = []
        for i, s in enumerate(cons.seeds):
            k = tmp_path / f"m{i}.key"
            k.write_text(s.hex())
            keys.append(k)
        members = [Member(cons.config, s) for s in cons.seeds]
        conf = cons.config
        st = members[0].membership()
        assert st["members"] == 4 and st["f"] == 1 and st["quorum"] == 3
        assert [r["id"] for r in st["replicas"]] == [0, 1, 2, 3]

        r = _run("add", "--config", conf, "--key", keys[0], "--replica-key-file",
                 tmp_path / "node4.key", "--address", cons.addresses[4])
        assert r.returncode == 0, r.stderr
        change = json.loads(r.stdout)["change"]
        assert change["kind"] == "add_replica" and change["approvals"] == 1
        assert change["address"] == cons.addresses[4]
        cid = change["id"]
        # a replica's key is not a member (the governors are the consortium's members)
        r = _run("approve", cid, "--config", conf, "--key", tmp_path / "node0.key")
        assert r.returncode == 3 and "refused" in r.stderr
        members[1].membership_approve(cid)
        r = _run("approve", cid, "--config", conf, "--key", keys[1])
        assert r.returncode == 3  # a repeated approval
        members[2].membership_approve(cid)
        assert members[3].membership_change()["approvals"] == 3  # 3 of 5: not yet
        r = _run("approve", cid, "--config", conf, "--key", keys[3])
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["change"]["status"] == "approved"  # 4 of 5
        done = members[0].membership_change(cid)
        assert done["status"] == "approved"
        assert done["effective"] == done["decided_at"] + DELAY
        assert members[0].membership_change() is None

        i = 0
        while members[0].membership()["height"] <= done["effective"]:
            _register(members[i % 3], i)
            i += 1
        st = members[4].membership()
        assert st["members"] == 5 and st["quorum"] == 4
        assert st["replicas"][4] == {"id": 4, "key": ledger.Signer(
            bytes.fromhex((tmp_path / "node4.key").read_text())).public_key.hex(),
            "address": cons.addresses[4], "member": True}
        # replica 3 stops: every act now needs the new replica's vote
        cons.stop(3)
        _register(members[0], 1000)
        _register(members[1], 1001)

        # remove it again: 4 of 5
        members[4].replica_remove(st["replicas"][4]["key"])
        cid2 = members[4].membership_change()["id"]
        for k in (0, 1, 2):
            members[k].membership_approve(cid2)
        done2 = members[0].membership_change(cid2)
        assert done2["status"] == "approved" and done2["kind"] == "remove_replica"
        cons.start(3)
        while members[0].membership()["height"] <= done2["effective"]:
            _register(members[i % 3], i)
            i += 1
        r = _run("status", "--config", conf, "--key", keys[2])
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout)["membership"]
        assert out["members"] == 4 and out["replicas"][4]["member"] is False
        # at the earlier height the five were in force
        assert members[2].membership(done["effective"])["members"] == 5
        # removing below four replicas is refused
        r = _run("remove", "--config", conf, "--key", keys[0], "--replica-key-file",
                 tmp_path / "node0.key")
        assert r.returncode == 3 and "refused" in r.stderr
    finally:
        for m in members:
            m.close()
        cons.close()
