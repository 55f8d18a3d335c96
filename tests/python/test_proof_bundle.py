"""Proof bundles (docs/formats/ledger-bundle.md) against four `fedshare node`
processes: `fedshare proof export|genesis|verify` and fedshare.proof. The
bundle of a member's act verifies with the genesis membership alone, after
every node is gone, also across two membership changes (format 2); a flipped
byte and another consortium's genesis do not."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time

import pytest

from fedshare import errors, ledger
from fedshare.consortium import Member
from fedshare.proof import export_bundle, genesis, verify_bundle

from fedshare_cluster import Consortium


def _run(*args):
    return subprocess.run([sys.executable, "-m", "fedshare", "proof", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def test_bundle_export_and_offline_verify(tmp_path):
    cons = Consortium(tmp_path)
    cons.start_all()
    try:
        with Member(cons.config, cons.seeds[0]) as m:
            m.register_data(b"\x01" * 32, "ehr")  # a first block
            h = m.upgrade_status()["height"]
            tx = m.upgrade_propose("audited", 2, b"\x42" * 32, h + 100)
        r = _run("export", "--config", cons.config, "--tx", tx.hex(), "--out",
                 tmp_path / "act.bundle")
        assert r.returncode == 0, r.stderr
        r = _run("genesis", "--config", cons.config, "--out", tmp_path / "genesis.ldms")
        assert r.returncode == 0, r.stderr
        # the Python call exports the same act; its bytes may differ from the
        # CLI's (each replica keeps the 2f+1 COMMIT signatures it collected
        # first, so the certificate depends on which replica answered)
        api_bundle = export_bundle(cons.config, tx)
    finally:
        cons.close()  # from here on: no node, no store
    r = _run("verify", tmp_path / "act.bundle", "--genesis", tmp_path / "genesis.ldms")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["tx_hash"] == tx.hex()
    assert info["op"] == 0xFF01 and info["header_format"] == 3 and info["app_version"] == 1
    assert info["sender"] == cons.public_key(0).hex()
    # the consortium configuration serves as the genesis too
    r = _run("verify", tmp_path / "act.bundle", "--genesis", cons.config)
    assert r.returncode == 0, r.stderr
    b = bytearray((tmp_path / "act.bundle").read_bytes())
    g = (tmp_path / "genesis.ldms").read_bytes()
    assert verify_bundle(bytes(b), g)["height"] == info["height"]
    api_info = verify_bundle(api_bundle, g)
    assert api_info["tx_hash"] == tx.hex() and api_info["height"] == info["height"]
    for i in (0, 10, 45, len(b) // 2, len(b) - 1):
        b[i] ^= 0x01
        with pytest.raises((errors.VerificationError, errors.InvalidInputError)):
            verify_bundle(bytes(b), g)
        b[i] ^= 0x01
    (tmp_path / "flipped.bundle").write_bytes(bytes(b[:-1]) + bytes([b[-1] ^ 0x80]))
    r = _run("verify", tmp_path / "flipped.bundle", "--genesis", tmp_path / "genesis.ldms")
    assert r.returncode == 1 and "does not verify" in r.stderr
    # another consortium's genesis (never started: only its configuration)
    other = tmp_path / "other"
    other.mkdir()
    r = _run("verify", tmp_path / "act.bundle", "--genesis", Consortium(other).config)
    assert r.returncode == 1 and "does not verify" in r.stderr
    assert genesis(cons.config) == g


def _wait_all(cons: Consortium, height: int, timeout: float = 60.0) -> None:
    """Until every running node's status file reports at least ``height``: a
    replica checks an act against its own state before ordering, and one that
    has not executed the proposal yet refuses its approval."""
    deadline = time.monotonic() + timeout
    while True:
        hs = [(cons.status(i) or (0,))[0] for i in cons.procs]
        if min(hs) >= height:
            return
        assert time.monotonic() < deadline, f"nodes at {hs}, waiting for {height}"
        time.sleep(0.05)


def _fill_past(m: Member, height: int, tag: str) -> None:
    i = 0
    while m.membership()["height"] <= height:
        m.register_data(hashlib.sha256(f"{tag}-{i}".encode()).digest(), "ehr")
        i += 1


def test_bundle_across_two_membership_changes(tmp_path):
    """4 → 5 → 4 replicas (replica 4 added, then replica 1 removed) while a
    member acts; the bundle of an act after both verifies offline from the
    genesis membership alone (format 2, two changes), and a flipped byte or
    another consortium's genesis does not."""
    cons = Consortium(tmp_path, spare_replicas=1)
    cons.start_all()
    cons.start(4)  # configured, not a member yet: it follows the chain
    members = []
    try:
        members = [Member(cons.config, s) for s in cons.seeds]
        node4 = ledger.Signer(bytes.fromhex((tmp_path / "node4.key").read_text())).public_key
        node1 = ledger.Signer(bytes.fromhex((tmp_path / "node1.key").read_text())).public_key
        for kind, act in (("add", lambda: members[0].replica_add(node4, cons.addresses[4])),
                          ("remove", lambda: members[0].replica_remove(node1))):
            act()
            change = members[0].membership_change()
            cid = change["id"]
            _wait_all(cons, change["proposed_at"])
            for k in (1, 2, 3):  # 4 of the 5 members
                members[k].membership_approve(cid)
            done = members[0].membership_change(cid)
            assert done["status"] == "approved", kind
            if kind == "remove":
                cons.stop(1)  # it no longer counts; the four others go on
            _fill_past(members[0], done["effective"], kind)
            _wait_all(cons, done["effective"])
        assert members[0].membership()["members"] == 4
        h = members[2].upgrade_status()["height"]
        tx = members[2].upgrade_propose("audited", 2, b"\x42" * 32, h + 100)
        r = _run("export", "--config", cons.config, "--tx", tx.hex(), "--out",
                 tmp_path / "act.bundle")
        assert r.returncode == 0, r.stderr
        api_bundle = export_bundle(cons.config, tx)
    finally:
        for m in members:
            m.close()
        cons.close()  # from here on: no node, no store
    g = genesis(cons.config)
    r = _run("verify", tmp_path / "act.bundle", "--genesis", cons.config)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["tx_hash"] == tx.hex()
    assert info["format_version"] == 2 and info["membership_changes"] == 2
    assert verify_bundle(api_bundle, g)["membership_changes"] == 2
    b = bytearray((tmp_path / "act.bundle").read_bytes())
    for i in (4, 39, 45, 300, len(b) // 2, len(b) - 1):
        b[i] ^= 0x01
        with pytest.raises((errors.VerificationError, errors.InvalidInputError)):
            verify_bundle(bytes(b), g)
        b[i] ^= 0x01
    other = tmp_path / "other"
    other.mkdir()
    r = _run("verify", tmp_path / "act.bundle", "--genesis", Consortium(other).config)
    assert r.returncode == 1 and "does not verify" in r.stderr
