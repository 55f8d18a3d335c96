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
    r = run_cli("node", str(tmp_path / "missing.conf"))  # a file error: one line, exit 2
    assert r.returncode == 2 and "fedshare node: error:" in r.stderr
    assert "missing.conf: No such file" in r.stderr and r.stderr.count("\n") == 1


def test_verify_chain_of_a_missing_store_fails(tmp_path):
    cons = Consortium(tmp_path)
    with pytest.raises(SystemExit) as ex:  # checked by the parser: exit 2
        main(["verify-chain", str(cons.config), "--data", str(tmp_path / "nothing")])
    assert ex.value.code == 2
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
            height = a.seen_height
        # node 0 (whose store is tampered below) has executed every act
        deadline = time.monotonic() + 60
        while (cons.status(0) or (0,))[0] < height:
            assert time.monotonic() < deadline, f"node 0 stayed below height {height}"
            time.sleep(0.02)
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


def _run(*args, env=None):
    import os

    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "fedshare", *map(str, args)],
                          capture_output=True, text=True, timeout=300, env=e)


def test_member_commands_against_live_nodes(tmp_path):
    """keys ceremony/show, data register, access request (denied → exit 3,
    permitted → 0), task create, audit trace — each against four live nodes."""
    import hashlib

    import numpy as np

    from fedshare import abac

    cons = Consortium(tmp_path)
    cons.start_all()
    try:
        keys = []
        for i, s in enumerate(cons.seeds):
            k = tmp_path / f"m{i}.key"
            k.write_text(s.hex())
            keys.append(k)
        conf = cons.config
        env = {"FEDSHARE_PASSPHRASE_HOSPITAL_A": "a", "FEDSHARE_PASSPHRASE_HOSPITAL_B": "b",
               "FEDSHARE_PASSPHRASE_HOSPITAL_C": "c"}
        r = _run("keys", "ceremony", "--config", conf, "--key", keys[0], "--holders",
                 "hospital-a", "hospital-b", "hospital-c", "--strength", "interactive",
                 "--out", tmp_path / "shares", env=env)
        assert r.returncode == 0, r.stderr
        key_id = r.stdout.split("key ", 1)[1].split(":", 1)[0]
        assert (tmp_path / "shares" / "hospital-b.share").exists()
        r = _run("keys", "show", "--config", conf, "--key", keys[3], "--key-id", key_id)
        assert r.returncode == 0 and '"threshold": 2' in r.stdout
        assert '"made": "dealt"' in r.stdout
        assert "dealt by hospital-a to holders hospital-a, hospital-b, hospital-c" in r.stdout
        # a non-keyholder cannot deal
        r = _run("keys", "ceremony", "--config", conf, "--key", keys[3], "--holders",
                 "hospital-a", "hospital-b", "--out", tmp_path / "x", env=env)
        assert r.returncode == 3 and "refused" in r.stderr

        rec = tmp_path / "records.csv"
        rec.write_text("age,label\n50,1\n61,0\n")
        r = _run("data", "register", "--config", conf, "--key", keys[1], "--file", rec,
                 "--label", "ehr")
        assert r.returncode == 0, r.stderr
        data_id = r.stdout.split()[1]
        assert (tmp_path / "records.csv.sealed").read_bytes()[:4] == b"FSDE"
        # no policy yet: denied, recorded, exit 3
        r = _run("access", "request", "--config", conf, "--key", keys[0], "--data-id", data_id)
        assert r.returncode == 3 and '"effect": "deny"' in r.stdout
        from fedshare.consortium import Member

        with Member(conf, cons.seeds[1]) as b:
            b.set_policy(bytes.fromhex(data_id), abac.CedarPolicies(
                'permit (principal, action == Action::"train", resource) '
                'when { context.purpose == "training" };', version=1,
                members=[cons.public_key(i) for i in range(5)]))
        r = _run("access", "request", "--config", conf, "--key", keys[0], "--data-id", data_id)
        assert r.returncode == 0 and '"effect": "permit"' in r.stdout
        r = _run("access", "request", "--config", conf, "--key", keys[0], "--data-id", "zz")
        assert r.returncode == 1 and "64 hex" in r.stderr

        with Member(conf, cons.seeds[4]) as agg:
            model_id = agg.publish_model(b"toy", np.zeros(4, np.float32))
        with Member(conf, cons.seeds[0]) as a:
            own = a.register_data(hashlib.sha256(b"a").digest(), "ehr")
        task_args = ("task", "create", "--config", conf, "--key", keys[0], "--model-id",
                     model_id.hex(), "--key-id", key_id, "--aggregator", "aggregator",
                     "--participant", f"hospital-a={own.hex()}", "--participant",
                     f"hospital-b={data_id}", "--max-weight", "1000")
        # a minimum of one accepted update would let a round decrypt one update
        r = _run(*task_args, "--min-updates", "1")
        assert r.returncode == 2 and "must be 2" in r.stderr and "Traceback" not in r.stderr
        r = _run(*task_args, "--anomaly-rule", "median")
        assert r.returncode == 2 and "Traceback" not in r.stderr
        # a server optimizer out of range, or unknown, is refused before anything is sent
        for bad in ("adam:beta1=1", "sgd", "yogi:eta=-1", "adam:gamma=2"):
            r = _run(*task_args, "--server-optimizer", bad)
            assert r.returncode == 2 and "Traceback" not in r.stderr, (bad, r.stderr)
        # the seed's pooled 3-sigma rule stays a named option (robust2 is the default);
        # the server optimizer goes on the ledger with the task (issue 14)
        r = _run(*task_args, "--min-updates", "2", "--anomaly-rule", "pooled",
                 "--server-optimizer", "adam:eta=0.05,beta1=0.8")
        assert r.returncode == 0, r.stderr
        with Member(conf, cons.seeds[3]) as reg:
            t = reg.task(bytes.fromhex(r.stdout.split()[1]))
            assert t["min_updates"] == 2 and t["anomaly_rule"] == "pooled"
            assert t["server_optimizer"] == "adam"
            assert (t["server_eta"], t["server_beta1"], t["server_beta2"], t["server_tau"]) == \
                (0.05, 0.8, 0.99, 1e-3)

        r = _run("audit", "trace", "--config", conf, "--key", keys[3], "--data-id", data_id)
        assert r.returncode == 0
        assert "data registered" in r.stdout and "access requested" in r.stdout
        assert "task created" in r.stdout
        r = _run("audit", "trace", "--config", conf, "--key", keys[3], "--member", "hospital-a",
                 "--json")
        assert r.returncode == 0 and '"act": "key recorded"' in r.stdout
        r = _run("audit", "trace", "--config", conf, "--key", keys[3])
        assert r.returncode == 1 and "exactly one" in r.stderr
    finally:
        cons.close()
