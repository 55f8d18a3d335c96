"""Proof bundles (docs/formats/ledger-bundle.md) against four `fedshare node`
processes: `fedshare proof export|genesis|verify` and fedshare.proof. The
bundle of a member's act verifies with the genesis membership alone, after
every node is gone; a flipped byte and another consortium's genesis do not."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from fedshare import errors
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
    assert info["op"] == 0xFF01 and info["header_format"] == 2 and info["app_version"] == 1
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
