"""fedshare.roles and `fedshare train` end to end: the Wisconsin breast-cancer
data (scikit-learn's copy) split over three hospitals, four node processes,
and one `python -m fedshare._cli.train` process per hospital — hospital A is
participant, key holder and aggregator, B and C participants and key holders
of a 2-of-3 key — for a short task; then the CLI's errors, and run_member's
handling of races against a scripted ledger."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from fedshare import abac, errors, fedavg
from fedshare import torch as fst
from fedshare._cli.train import load_csv, main as train_main
from fedshare.consortium import Member, model_digest
from fedshare.phe import threshold
from fedshare.roles import Aggregator, KeyHolder, Participant, run_member

import fedshare_cluster
from fedshare_cluster import Consortium
from shared_fixtures import PRIME1, PRIME2

A, B, C, REG, PUB = range(5)
ROUNDS = 3
KEYS = ("compute_s", "crypto_s", "ledger_s", "waiting_s", "other_s")

POLICY = """
@id("hospitals_train")
@obligation("no_export")
permit (principal is Member, action == Action::"train", resource is Dataset)
when {
  context.purpose == "training"
  && principal in [Organisation::"hospital-a", Organisation::"hospital-b",
                   Organisation::"hospital-c"]
  && principal.credentials.contains("irb")
};
"""


def breast_cancer_split(seed=3):
    from sklearn.datasets import load_breast_cancer
    d = load_breast_cancer()
    X, y = d.data.astype(np.float64), d.target.astype(np.int64)
    names = [n.replace(" ", "_") for n in d.feature_names]
    perm = np.random.default_rng(seed).permutation(len(y))
    parts = np.split(perm, [230, 420])  # 230, 190, 149 records: uneven sizes
    return X, y, names, parts


def write_csv(path: Path, X, y, names, label="diagnosis"):
    lines = [",".join(names + [label])]
    for row, lab in zip(X, y):
        lines.append(",".join(repr(float(v)) for v in row) + f",{int(lab)}")
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    saved = fedshare_cluster.MEMBERS
    # hospital A is also the task's aggregator (the demo's layout)
    fedshare_cluster.MEMBERS = [("hospital-a", "provider,keyholder,aggregator", "hospital-a")] + \
        saved[1:]
    try:
        cons = Consortium(tmp_path_factory.mktemp("roles"))
    finally:
        fedshare_cluster.MEMBERS = saved
    cons.start_all()
    members = [Member(cons.config, s) for s in cons.seeds]
    yield cons, members
    for m in members:
        m.close()
    cons.close()


@pytest.fixture(scope="module")
def task(world):
    """The data sets registered, access granted, the key dealt and sealed, the
    model published and the task created — everything before the trainers."""
    cons, m = world
    tmp = cons.tmp
    X, y, names, parts = breast_cancer_split()
    scale = {"columns": names, "mean": X.mean(axis=0).tolist(), "std": X.std(axis=0).tolist()}
    (tmp / "scale.json").write_text(json.dumps(scale))
    data_ids = []
    for i in (A, B, C):
        csv = tmp / f"hospital{i}.csv"
        write_csv(csv, X[parts[i]], y[parts[i]], names)
        (tmp / f"member{i}.key").write_text(cons.seeds[i].hex())
        did = m[i].register_data(hashlib.sha256(csv.read_bytes()).digest(), "ehr-breast-cancer",
                                 f"hospital {'ABC'[i]}: Wisconsin diagnostic records")
        m[i].set_policy(did, abac.CedarPolicies(POLICY, version=1,
                                                members=[x.public_key for x in m]))
        data_ids.append(did)
    now = int(time.time())
    for i in (B, C):
        m[A].request_access(data_ids[i], "train", "training", now, now + 86400)
    params, shares = threshold.deal(threshold=2, holders=3, primes=(PRIME1, PRIME2))
    for i, s in enumerate(shares):
        s.write_file(tmp / f"share{i}.phts", f"pass-{i}".encode())
    share_hashes = [hashlib.sha256((tmp / f"share{i}.phts").read_bytes()).digest()
                    for i in range(3)]
    key_id = m[A].record_key(params, [m[i].public_key for i in (A, B, C)], share_hashes)
    model = fst.logistic_regression(len(names), seed=0)
    init = fst.flatten_parameters(model).copy()
    model_id = m[PUB].publish_model(fst.structure(model), init, "logistic regression, 30 features")
    # the task default: dense slots (FAPR version 2), M = 3 members x weight <= 334
    codec = fedavg.Codec.for_participants(3, weight=334)
    assert codec.dense and codec.max_weight == 1002 and codec.slot_bits == 27
    task_id = m[A].create_task(model_id, key_id, m[A].public_key,
                               [(m[i].public_key, data_ids[i]) for i in (A, B, C)],
                               codec.to_bytes(), learning_rate=0.1, round_limit=ROUNDS)
    return {"task": task_id, "params": params, "shares": shares, "codec": codec,
            "X": X, "y": y, "names": names, "parts": parts, "init": init,
            "key_id": key_id, "model_id": model_id, "data_ids": data_ids}


def trainer_args(cons, task_id, i, *extra):
    tmp = cons.tmp
    args = ["--config", str(cons.config), "--key", str(tmp / f"member{i}.key"),
            "--task", task_id.hex(), "--data", str(tmp / f"hospital{i}.csv"),
            "--label", "diagnosis", "--scale", str(tmp / "scale.json"),
            "--share", str(tmp / f"share{i}.phts"), "--passphrase-env", f"FS_PASS_{i}",
            "--seed", str(10 + i), "--report-json", str(tmp / f"report{i}.json"), "--quiet"]
    return args + list(extra)


def test_three_hospitals_train_to_the_end(world, task):
    cons, m = world
    env = dict(os.environ, **{f"FS_PASS_{i}": f"pass-{i}" for i in range(3)})
    procs = {}
    for i in (A, B, C):
        extra = ["--aggregator"] if i == A else []
        procs[i] = subprocess.Popen(
            [sys.executable, "-m", "fedshare._cli.train",
             *trainer_args(cons, task["task"], i, *extra)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    outs = {}
    try:
        for i, p in procs.items():
            out, err = p.communicate(timeout=150)
            outs[i] = (p.returncode, out.decode(), err.decode())
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
    for i, (rc, out, err) in outs.items():
        assert rc == 0, f"hospital {i}: exit {rc}\n{err}"
        assert f"done after {ROUNDS} rounds" in out

    t = m[REG].task(task["task"])
    assert t["phase"] == 6 and t["round"] == ROUNDS and t["stop_reason"] == 2  # round limit
    assert len(t["metrics"]) == ROUNDS
    final, rounds = m[REG].fetch_global(task["task"])
    assert rounds == ROUNDS
    digest = model_digest(final).hex()

    reports = {i: json.loads((cons.tmp / f"report{i}.json").read_text()) for i in (A, B, C)}
    shares_posted = {r: 0 for r in range(1, ROUNDS + 1)}
    for i, rep in reports.items():
        assert rep["member"] == m[i].did
        assert rep["final_round"] == ROUNDS and rep["metrics"] == t["metrics"]
        # every participant recomputed the model the aggregator recorded
        assert rep["global_model_digest"] == digest
        assert rep["computed_digest"] == digest
        assert rep["train_samples"] + rep["eval_samples"] == len(task["parts"][i])
        assert rep["samples"] == rep["train_samples"]
        assert [r["round"] for r in rep["rounds"]] == list(range(1, ROUNDS + 1))
        for r in rep["rounds"]:
            # the parts add up to the round's wall time, none negative
            assert all(r[k] >= 0 for k in KEYS)
            assert sum(r[k] for k in KEYS) == pytest.approx(r["wall_s"], rel=1e-9, abs=1e-9)
            assert "upload" in r["acts"] and "evaluate" in r["acts"]
            assert r["crypto_s"] > 0 and r["compute_s"] > 0 and r["ledger_s"] > 0
            assert r["accuracy"] is not None
            shares_posted[r["round"]] += r["acts"].count("share")
        for k in KEYS + ("wall_s",):
            assert rep["totals"][k] == pytest.approx(
                sum(r[k] for r in rep["rounds"]) + rep["joining"][k], rel=1e-9, abs=1e-9)
        # benign races are listed with the act and the code, nothing else
        for b in rep["benign_refusals"]:
            assert b["code"] in (-511, -509) and b["act"] in ("share", "join")
        assert rep["aggregates_refused"] == []
        assert rep["stood_in"] == []
        assert rep["rounds"][-1]["accuracy"] > 0.85
    for r in reports[A]["rounds"]:
        assert "aggregate" in r["acts"] and "finalize" in r["acts"]
    for i in (B, C):
        assert not any("aggregate" in r["acts"] for r in reports[i]["rounds"])
    assert all(n >= 2 for n in shares_posted.values())  # t = 2 shares each round
    # each holder posted ONE batch of shares with one proof (FSDS version 2 holding a
    # libphe PHTB batch), and the aggregator recorded the t batches it verified
    from fedshare import ledger
    from fedshare.consortium import config_ledger_text

    lc = ledger.Client(ledger.Config(config_ledger_text(m[REG].config)))
    try:
        for r in range(1, ROUNDS + 1):
            rec = m[REG].round(task["task"], r)
            assert sum(bool(s["verified"]) for s in rec["shares"]) >= 2
            assert not any(s["refused"] for s in rec["shares"])
            # only the round's first t = 2 holders shared (rotating with the
            # round); the third stood by and was not needed
            n = 3
            first = {m[(A, B, C)[(r - 1 + k) % n]].did for k in range(2)}
            assert {s["holder"] for s in rec["shares"]} == first, r
            for s in rec["shares"]:
                blob = lc.blob_get(bytes.fromhex(s["blob"]))
                assert blob[:5] == b"FSDS\x02" and blob[13:17] == b"PHTB"
    finally:
        lc.close()
    # the last round's metric is the sample-weighted mean of the hospitals' accuracy
    accs = [reports[i]["rounds"][-1]["accuracy"] for i in (A, B, C)]
    ns = [reports[i]["eval_samples"] for i in (A, B, C)]
    assert t["metrics"][-1] == pytest.approx(np.average(accs, weights=ns), abs=1e-12)
    assert t["metrics"][-1] > 0.85

    # the federated model classifies the pooled data well (published scaling)
    Xs = (task["X"] - task["X"].mean(axis=0)) / task["X"].std(axis=0)
    model = fst.logistic_regression(30)
    fst.restore_parameters(model, final)
    assert fst.accuracy(model, Xs, task["y"]) > 0.85
    assert not np.array_equal(final, task["init"])


def test_a_silent_key_holder_is_replaced_by_a_standby(world, task):
    """Hospital B holds a share but never posts it (it trains without --share).
    B is one of the first t = 2 holders in rounds 1 and 2 (the first t rotate
    with the round): the standby holder (C in round 1, A in round 2) shares
    once the standby time has passed, and the task completes."""
    cons, m = world
    now = int(time.time())
    for i in (B, C):  # a grant is used up by the task it was asked for
        m[A].request_access(task["data_ids"][i], "train", "training", now, now + 86400)
    tid = m[A].create_task(task["model_id"], task["key_id"], m[A].public_key,
                           [(m[i].public_key, task["data_ids"][i]) for i in (A, B, C)],
                           task["codec"].to_bytes(), learning_rate=0.1, round_limit=2)
    env = dict(os.environ, **{f"FS_PASS_{i}": f"pass-{i}" for i in range(3)})
    procs = {}
    for i in (A, B, C):
        args = trainer_args(cons, tid, i, "--standby", "1", "--timeout", "60")
        if i == A:
            args.append("--aggregator")
        if i == B:  # the silent holder: a participant only
            k = args.index("--share")
            del args[k:k + 4]  # --share FILE --passphrase-env VAR
        procs[i] = subprocess.Popen([sys.executable, "-m", "fedshare._cli.train", *args],
                                    env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    start_new_session=True)
    outs = {}
    try:
        for i, p in procs.items():
            out, err = p.communicate(timeout=150)
            outs[i] = (p.returncode, out.decode(), err.decode())
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
    for i, (rc, _out, err) in outs.items():
        assert rc == 0, f"hospital {i}: exit {rc}\n{err}"
    t = m[REG].task(tid)
    assert t["phase"] == 6 and t["round"] == 2
    for r in (1, 2):
        rec = m[REG].round(tid, r)
        # round 1: A first, C standing in; round 2: C first, A standing in
        assert {s["holder"] for s in rec["shares"]} == {m[A].did, m[C].did}, r
        assert not any(s["refused"] for s in rec["shares"])
    reps = {i: json.loads((cons.tmp / f"report{i}.json").read_text()) for i in (A, C)}
    assert reps[C]["stood_in"] == [1] and reps[A]["stood_in"] == [2]


def test_cli_errors_against_the_consortium(world, task, capsys):
    cons, m = world
    tmp = cons.tmp
    os.environ["FS_PASS_1"] = "pass-1"
    try:
        # an unknown task
        args = trainer_args(cons, hashlib.sha256(b"no task").digest(), B)
        assert train_main(args) == 2
        assert "no task" in capsys.readouterr().err
        # B is not the task's aggregator
        assert train_main(trainer_args(cons, task["task"], B, "--aggregator")) == 2
        assert "aggregator is" in capsys.readouterr().err
        # --no-train with --data: the training runs elsewhere (a Flower ClientApp)
        assert train_main(trainer_args(cons, task["task"], B, "--no-train")) == 2
        assert "--no-train: this process trains nothing" in capsys.readouterr().err
        # the MLP does not match the task's model
        assert train_main(trainer_args(cons, task["task"], B, "--model", "mlp")) == 2
        assert "parameters" in capsys.readouterr().err
        # a share of another key
        other, oshares = threshold.deal(threshold=2, holders=3, primes=(PRIME1, PRIME2))
        oshares[1].write_file(tmp / "other1.phts", b"pass-1")
        args = trainer_args(cons, task["task"], B)
        args[args.index("--share") + 1] = str(tmp / "other1.phts")
        assert train_main(args) == 2
        assert "not a share of the task's key" in capsys.readouterr().err
        # a wrong passphrase
        os.environ["FS_PASS_1"] = "wrong"
        assert train_main(trainer_args(cons, task["task"], B)) == 2
        assert "cannot unseal" in capsys.readouterr().err
        os.environ["FS_PASS_1"] = "pass-1"
        # the regulator is no participant: --data is refused, and with no role nothing runs
        (tmp / "member3.key").write_text(cons.seeds[REG].hex())
        args = trainer_args(cons, task["task"], REG)
        args[args.index("--data") + 1] = str(tmp / "hospital1.csv")
        k = args.index("--share")
        del args[k:k + 4]  # --share FILE --passphrase-env VAR
        assert train_main(args) == 2
        assert "not a participant" in capsys.readouterr().err
        base = ["--config", str(cons.config), "--key", str(tmp / "member3.key"),
                "--task", task["task"].hex(), "--quiet"]
        assert train_main(base) == 2
        assert "no role" in capsys.readouterr().err
    finally:
        del os.environ["FS_PASS_1"]


def test_cli_input_errors(tmp_path, capsys):
    key = tmp_path / "k"
    key.write_text("ab" * 32)
    conf = tmp_path / "c.conf"
    conf.write_text("")
    csv = tmp_path / "d.csv"
    csv.write_text("a,b,y\n1,2,0\n3,4,1\n5,6,1\n")
    base = ["--config", str(conf), "--key", str(key), "--task", "cd" * 32]

    def err(argv, *needles):
        try:  # checked by the parser (SystemExit) or after it (a return code)
            rc = train_main(argv)
        except SystemExit as ex:
            rc = ex.code
        assert rc == 2
        e = capsys.readouterr().err
        assert e.count("\n") == 1 and "Traceback" not in e, e
        for n in needles:
            assert n in e, e

    with pytest.raises(SystemExit) as ex:
        train_main(["--help"])
    assert ex.value.code == 0 and "exit codes" in capsys.readouterr().out
    with pytest.raises(SystemExit) as ex:
        train_main(["--key", str(key)])  # --config, --task missing
    assert ex.value.code == 2
    capsys.readouterr()
    bad = tmp_path / "bad.key"
    bad.write_text("xyz")
    err(["--config", str(conf), "--key", str(bad), "--task", "cd" * 32], "64 hex")
    err(["--config", str(conf), "--key", str(tmp_path / "none"), "--task", "cd" * 32],
        "--key", "No such file")
    err(base[:-1] + ["cd"], "--task")
    err(["--config", str(tmp_path / "none.conf")] + base[2:], "--config")
    err(base + ["--data", str(csv)], "--label")
    err(base + ["--data", str(csv), "--label", "z"], "no column 'z'")
    csv2 = tmp_path / "e.csv"
    csv2.write_text("a,b,y\n1,x,0\n")
    err(base + ["--data", str(csv2), "--label", "y"], "e.csv:2", "'b'", "not a number")
    csv2.write_text("a,b,y\n1,2,2\n")
    err(base + ["--data", str(csv2), "--label", "y"], "not 0 or 1")
    csv2.write_text("a,b,y\n1,2\n")
    err(base + ["--data", str(csv2), "--label", "y"], "2 fields")
    csv2.write_text("")
    err(base + ["--data", str(csv2), "--label", "y"], "empty")
    err(base + ["--data", str(csv), "--label", "y", "--eval-fraction", "1.5"], "eval-fraction")
    sc = tmp_path / "s.json"
    sc.write_text(json.dumps({"mean": [0.0], "std": [1.0]}))
    err(base + ["--data", str(csv), "--label", "y", "--scale", str(sc)], "1 means")
    sc.write_text(json.dumps({"mean": [0.0, 0.0], "std": [1.0, 0.0]}))
    err(base + ["--data", str(csv), "--label", "y", "--scale", str(sc)], "positive")
    sc.write_text(json.dumps({"columns": ["a", "q"], "mean": [0, 0], "std": [1, 1]}))
    err(base + ["--data", str(csv), "--label", "y", "--scale", str(sc)], "missing: b")
    err(base + ["--share", str(tmp_path / "s")], "--share", "No such file")
    (tmp_path / "s").write_bytes(b"PHTF")
    err(base + ["--share", str(tmp_path / "s")], "--passphrase-env")
    err(base + ["--share", str(tmp_path / "s"), "--passphrase-env", "FS_NOT_SET_VAR_X"],
        "not set")
    err(base + ["--passphrase-env", "HOME"], "needs --share")
    # the CSV reader: columns in order, label taken out
    X, y, names = load_csv(str(csv), "y")
    assert names == ["a", "b"] and X.tolist() == [[1, 2], [3, 4], [5, 6]]
    assert y.tolist() == [0.0, 1.0, 1.0] and X.dtype == np.float32


# --- run_member against a scripted ledger ----------------------------------------------


#: the task key of the scripted rounds: the scripted member never reads it (a
#: key given as bytes would be decoded when the role is made).
PARAMS = object()


class ScriptedMember:
    """Just enough of Member for a key holder in one round: the task sits in
    decrypt; posting a share either wins or loses a race as scripted."""

    def __init__(self, share_outcome):
        self.public_key = b"\x01" * 32
        self.did = "did:key:zScripted"
        self.crypto_seconds = 0.0
        self.phase = 3
        self.shares = []
        self.share_outcome = share_outcome
        self.calls = []

    def task(self, task_id):
        return {"round": 1, "phase": self.phase, "threshold": 2, "participants": [],
                "stop_reason": 2 if self.phase == 6 else 0, "metrics": [0.9][:self.phase == 6],
                "global_model": "00" * 32}

    def round(self, task_id, r):
        return {"updates": [], "shares": list(self.shares)}

    seen_height = 1

    def wait_height(self, height, timeout_ms=None):
        # the next block: the others finalize and evaluate
        if self.phase in (4, 5):
            self.phase += 1
        if self.phase == 3:
            raise errors.TimeoutError_("still decrypting")
        self.seen_height = height
        return height

    def post_decryption_share(self, task_id, r, params, share):
        self.calls.append("share")
        time.sleep(0.002)
        self.crypto_seconds += 0.001  # of the 2 ms
        exc = self.share_outcome(self)
        if exc is not None:
            raise exc
        self.shares.append({"holder": self.did})
        self.phase = 4

    def fetch_global(self, task_id):
        return np.zeros(3, np.float32), 1


def lose_race(mem):
    mem.shares = [{"holder": "x"}, {"holder": "y"}]
    mem.phase = 4  # two others posted first
    return errors.InvalidInputError("not in this phase", code=-511, library="fedshare")


def test_run_member_tolerates_a_lost_race_and_lists_it():
    mem = ScriptedMember(lose_race)
    tid = b"\x02" * 32
    rep = run_member(mem, tid, keyholder=KeyHolder(mem, tid, PARAMS, object()), timeout=5)
    assert mem.calls == ["share"]
    assert rep["benign_refusals"] == [{"round": 1, "phase": "decrypt", "act": "share",
                                       "code": -511}]
    assert rep["rounds"][0]["acts"] == ["share-late", "fetch-final"]
    # the lost act's time is still counted where it went
    assert rep["rounds"][0]["crypto_s"] == pytest.approx(0.001)
    assert rep["final_round"] == 1 and rep["roles"] == ["keyholder"]


def test_run_member_wins_the_race():
    mem = ScriptedMember(lambda m: None)
    tid = b"\x02" * 32
    rep = run_member(mem, tid, keyholder=KeyHolder(mem, tid, PARAMS, object()), timeout=5)
    assert rep["benign_refusals"] == [] and rep["rounds"][0]["acts"][0] == "share"
    r = rep["rounds"][0]
    assert r["crypto_s"] == pytest.approx(0.001)
    assert sum(r[k] for k in KEYS) == pytest.approx(r["wall_s"], rel=1e-9, abs=1e-9)


def test_run_member_raises_refusals_that_are_not_races():
    tid = b"\x02" * 32
    # the phase did not move: the same refusal twice is raised, not swallowed
    mem = ScriptedMember(lambda m: errors.InvalidInputError("state", code=-511,
                                                            library="fedshare"))
    with pytest.raises(errors.InvalidInputError):
        run_member(mem, tid, keyholder=KeyHolder(mem, tid, PARAMS, object()), timeout=5)
    assert mem.calls == ["share", "share"]
    # any other code is raised at once
    mem = ScriptedMember(lambda m: errors.AccessDeniedError("role", code=-507,
                                                            library="fedshare"))
    with pytest.raises(errors.AccessDeniedError):
        run_member(mem, tid, keyholder=KeyHolder(mem, tid, PARAMS, object()), timeout=5)
    assert mem.calls == ["share"]
    # a wrong aggregate found by the share is reported, and the loop goes on
    def forged(m):
        if len(m.calls) == 1:
            return errors.VerificationError("aggregate mismatch", code=-514, library="fedshare")
        return None
    mem = ScriptedMember(forged)
    rep = run_member(mem, tid, keyholder=KeyHolder(mem, tid, PARAMS, object()), timeout=5)
    assert rep["aggregates_refused"] == [1] and mem.calls == ["share", "share"]
    # a stalled task times out
    mem = ScriptedMember(lambda m: errors.InvalidInputError("x", code=-511, library="fedshare"))
    mem.shares = [{"holder": mem.did}]  # nothing due: it only waits
    with pytest.raises(errors.TimeoutError_):
        run_member(mem, tid, keyholder=KeyHolder(mem, tid, PARAMS, object()), timeout=0.3)


def test_roles_refuse_bad_wiring():
    mem = ScriptedMember(lambda m: None)
    tid = b"\x02" * 32
    with pytest.raises(errors.InvalidInputError):
        run_member(mem, tid, timeout=1)
    with pytest.raises(errors.InvalidInputError):
        run_member(mem, tid, keyholder=KeyHolder(mem, b"\x03" * 32, PARAMS, object()), timeout=1)
    X = np.zeros((4, 2), np.float32)
    tr = fst.LocalTrainer(fst.logistic_regression(2), X, np.zeros(4), lr=0.1, seed=0)
    codec = fedavg.Codec(plaintext_bytes=255, max_weight=100, precision=1e-4)
    with pytest.raises(errors.InvalidInputError):
        Participant(mem, tid, PARAMS, tr, codec, X[:0], np.zeros(0))
    assert Aggregator(mem, tid, PARAMS).task_id == tid
