"""The `fedshare node` and `fedshare verify-chain` commands and their errors,
and the consortium client's refusals that need no running node."""
from __future__ import annotations

import subprocess
import sys

import pytest

from fedshare import errors
from fedshare.cli import main
from fedshare.consortium import Member, config_ledger_text
from fedshare.node import verify_store

from fedshare_cluster import Consortium


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "fedshare", *args], capture_output=True,
                          text=True, timeout=60)


def test_help_of_each_command():
    for cmd in ("node", "verify-chain"):
        r = run_cli(cmd, "--help")
        assert r.returncode == 0 and "usage: fedshare " + cmd in r.stdout


def test_node_with_a_bad_configuration_fails_clearly(tmp_path):
    bad = tmp_path / "bad.conf"
    bad.write_text("member x nothex roles=provider\n")
    r = run_cli("node", str(bad), "--id", "0")
    assert r.returncode == 1 and "invalid consortium configuration" in r.stderr
    r = run_cli("node", str(tmp_path / "missing.conf"))
    assert r.returncode == 1 and "fedshare node:" in r.stderr


def test_verify_chain_of_a_missing_store_fails(tmp_path):
    cons = Consortium(tmp_path)
    assert main(["verify-chain", str(cons.config), "--data", str(tmp_path / "nothing")]) == 1
    with pytest.raises(errors.IOFailureError):
        verify_store(cons.config, tmp_path / "nothing")


def test_config_split_and_membership(tmp_path):
    cons = Consortium(tmp_path)
    text = config_ledger_text(cons.config)
    assert "member" not in text and "replica 3" in text
    with pytest.raises(errors.InvalidInputError):
        Member(cons.config, b"short")


def test_verify_chain_names_a_tampered_block(tmp_path):
    """The seed paper's tamper test through the CLI: run a node set, commit acts,
    stop, flip bytes of a stored block's value, and verify-chain names a block."""
    import hashlib
    import time

    cons = Consortium(tmp_path)
    cons.start_all()
    try:
        with Member(cons.config, cons.seeds[0]) as a:
            for i in range(3):
                a.register_data(hashlib.sha256(b"d%d" % i).digest(), "label-to-tamper", "x")
        time.sleep(0.5)
    finally:
        for i in range(4):
            cons.stop(i)
    assert main(["verify-chain", str(cons.config), "--data", str(tmp_path / "data0")]) == 0
    data = (tmp_path / "data0" / "data.mdb").read_bytes()
    marker = b"label-to-tamper"  # inside stored transaction payloads (and state records)
    assert data.count(marker) >= 3
    (tmp_path / "data0" / "data.mdb").write_bytes(data.replace(marker, b"LABEL-TO-TAMPER"))
    with pytest.raises(errors.VerificationError) as e:
        verify_store(cons.config, tmp_path / "data0")
    assert "fails at block" in str(e.value)
