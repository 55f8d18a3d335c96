"""Verdicts people can see, and the decrypted sum range-checked (issue 18),
against a live consortium (four `fedshare node` processes on loopback):

* a short task in which hospital C, a `fedshare train` process, trains on
  records whose features are 300x too large, so its updates are far larger
  than the others': the default (robust) rule leaves each of them out; C's
  own client warns on stderr per round and counts them, and its report lists
  them; A and B (in-process :func:`fedshare.roles.run_member`) get an
  ``on_verdict`` event per round saying they were kept; ``fedshare audit
  verdicts`` / ``task show`` print the
  verdict, statistic, scores, threshold and history per round and member and
  the line "member hospital-c left out in 3 of 3 rounds"; the replay through
  libfedavg gives the ledger's verdicts; ``/metrics`` counts the exclusions
  per member;
* a member that lies about its statistics and writes past its slots into its
  neighbour's: its update is accepted (the statistics look honest), but the
  threshold-decrypted sum has a slot outside [0, 2·Q·W]; the aggregator's
  finalize refuses the round on the ledger (SUM_REFUSED), the global model
  stays, and only the aggregator may say so.

The honest-but-shifted center kept over 40 rounds while x10 is caught, under
the default rule, is tests/python/test_round_judge.py and
tests/fedavg/test_judge.c (libfedavg's fedavg_round_judge, which the contract
runs)."""
from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import threading
import time
import urllib.request

import numpy as np
import pytest

from fedshare import abac, errors, fedavg
from fedshare.consortium import Member, ffi, lib
from fedshare.phe import threshold
from fedshare.roles import Aggregator, KeyHolder, Participant, run_member
from fedshare.verdicts import format_table, task_verdicts

from fedshare_cluster import Consortium
from shared_fixtures import PRIME1, PRIME2

A, B, C, REG, AGG = range(5)
N = 60
ROUNDS = 3

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


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    cons = Consortium(tmp_path_factory.mktemp("verdicts"))
    cons.start_all()
    m = [Member(cons.config, s, timeout_ms=120000) for s in cons.seeds]
    data = []
    for i in (A, B, C):
        did = m[i].register_data(hashlib.sha256(f"records {i}".encode()).digest(),
                                 "ehr-synthetic", f"hospital {i}")
        m[i].set_policy(did, abac.CedarPolicies(POLICY, version=1,
                                                members=[x.public_key for x in m]))
        data.append(did)
    now = int(time.time())
    for i in (B, C):
        m[A].request_access(data[i], "train", "training", now, now + 86400, uses=5)
    params, shares = threshold.deal(threshold=2, holders=3, primes=(PRIME1, PRIME2))
    hashes = [hashlib.sha256(s.seal(b"p%d" % i)).digest() for i, s in enumerate(shares)]
    key_id = m[A].record_key(params, [m[i].public_key for i in (A, B, C)], hashes)
    init = np.zeros(N, dtype=np.float32)
    model_id = m[AGG].publish_model(b"synthetic, 60 weights", init, "synthetic")
    codec = fedavg.Codec(plaintext_bytes=255, max_weight=10000, precision=1e-5, clip=1.0)
    yield {"cons": cons, "m": m, "data": data, "params": params, "shares": shares,
           "key_id": key_id, "model_id": model_id, "codec": codec}
    for x in m:
        x.close()
    cons.close()


def new_task(w, **kw):
    m = w["m"]
    task = m[A].create_task(w["model_id"], w["key_id"], m[AGG].public_key,
                            [(m[i].public_key, w["data"][i]) for i in (A, B, C)],
                            w["codec"].to_bytes(), min_updates=2, **kw)
    for i in (A, B, C):
        m[i].join_task(task)
    return task


class Trainer:
    """A stand-in for LocalTrainer: small random updates, `scale` times larger."""

    def __init__(self, seed: int, samples: int, scale: float = 1.0):
        self.rng = np.random.default_rng(seed)
        self.samples = samples
        self.scale = scale

    def train_round(self, g):
        return (self.rng.standard_normal(N) * 0.02 * self.scale).astype(np.float32)

    def evaluate(self, w, X, y):
        return 0.9


def metric_lines(cons, i):
    with urllib.request.urlopen(f"http://127.0.0.1:{cons.metrics[i]}/metrics", timeout=10) as r:
        text = r.read().decode()
    return dict(re.findall(r'^fedshare_updates_excluded_total\{member="([^"]+)"\} (\d+)$', text,
                           flags=re.M))


def test_scaled_update_left_out_and_every_client_told(world, tmp_path):
    m, cons = world["m"], world["cons"]
    task = new_task(world, round_limit=ROUNDS)
    pb = world["params"].to_bytes()
    told = {i: [] for i in (A, B)}
    reports, failures = {}, []

    def play(i):
        try:
            p = Participant(m[i], task, pb, Trainer(i, 100 + 20 * i), world["codec"],
                            np.zeros((4, 2)), np.zeros(4))
            k = KeyHolder(m[i], task, pb, world["shares"][i])
            reports[i] = run_member(m[i], task, participant=p, keyholder=k, timeout=120,
                                    on_verdict=told[i].append)
        except Exception as e:  # pragma: no cover - reported below
            failures.append((i, e))

    def aggregate():
        try:
            reports[AGG] = run_member(m[AGG], task, aggregator=Aggregator(m[AGG], task, pb),
                                      timeout=120)
        except Exception as e:  # pragma: no cover
            failures.append((AGG, e))

    # hospital C trains with `fedshare train` on records whose features are 300x
    # larger than they should be: its updates are far larger than the others'
    rng = np.random.default_rng(9)
    X = rng.standard_normal((80, N - 1)) * 300
    y = (X[:, 0] > 0).astype(int)
    csv = tmp_path / "c.csv"
    csv.write_text(",".join([f"f{j}" for j in range(N - 1)] + ["label"]) + "\n" + "\n".join(
        ",".join(f"{v:.3f}" for v in row) + f",{lab}" for row, lab in zip(X, y)) + "\n")
    key = tmp_path / "c.key"
    key.write_text(cons.seeds[C].hex())
    trainer_c = subprocess.Popen(
        [sys.executable, "-m", "fedshare", "train", "--config", str(cons.config), "--key",
         str(key), "--task", task.hex(), "--data", str(csv), "--label", "label", "--quiet",
         "--report-json", str(tmp_path / "c.json"), "--timeout", "120"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    threads = [threading.Thread(target=play, args=(i,)) for i in (A, B)]
    threads.append(threading.Thread(target=aggregate))
    for t in threads:
        t.start()
    try:
        out_c, err_c = trainer_c.communicate(timeout=300)
    finally:
        if trainer_c.poll() is None:
            trainer_c.kill()
            trainer_c.wait()
    for t in threads:
        t.join(timeout=300)
    assert not failures, failures
    assert trainer_c.returncode == 0, err_c
    assert m[REG].task(task)["phase"] == 6

    # C's own client said so, round by round, and counted them; A and B were told
    # they were kept
    for r in range(1, ROUNDS + 1):
        assert f"warning: round {r}: this member's update was LEFT OUT" in err_c
    assert "left out in 3 of 3 rounds (rounds 1, 2, 3)" in out_c
    assert json.loads((tmp_path / "c.json").read_text())["left_out"] == [1, 2, 3]
    for i in (A, B):
        assert reports[i]["left_out"] == []
        assert [v["verdict"] for v in told[i]] == ["accepted"] * 3
        assert [v["round"] for v in told[i]] == [1, 2, 3]

    # every verdict, with what it was decided on
    names = {m[i].public_key.hex(): n for i, n in
             zip((A, B, C), ("hospital-a", "hospital-b", "hospital-c"))}
    v = task_verdicts(m[REG], task, names)
    assert v["rule"] == "robust2" and v["threshold"] == 3.5
    assert v["replay_matches"]
    assert v["left_out"] == {"hospital-a": [], "hospital-b": [], "hospital-c": [1, 2, 3]}
    for rd in v["rounds"]:
        c = rd["updates"][C]
        assert c["verdict"] == "suspicious" and c["ratio"] > 3
        assert c["scores"]["pool_norm"] > 3.5  # the score that left it out
        for u in rd["updates"][:2]:
            assert u["verdict"] == "accepted" and u["scores"]["pool_norm"] <= 3.5
            assert u["history"]["pool"] >= 3
    text = format_table(v)
    assert "member hospital-c left out in 3 of 3 rounds (rounds 1, 2, 3)" in text
    assert "member hospital-a left out in 0 of 3 rounds" in text

    # the same through the command line, as the regulator
    key = cons.tmp / "regulator.key"
    key.write_text(cons.seeds[REG].hex())
    for cmd in (["audit", "verdicts"], ["task", "show"]):
        r = subprocess.run([sys.executable, "-m", "fedshare", *cmd, "--config", str(cons.config),
                            "--key", str(key), "--task", task.hex()],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert "member hospital-c left out in 3 of 3 rounds" in r.stdout
        assert r.stdout.count("LEFT OUT") == 3 and "the same verdicts as the ledger" in r.stdout

    # /metrics counts them per member: every replica that executed the rounds
    counts = [metric_lines(cons, i) for i in range(4)]
    assert all(c.get("hospital-a") == "0" for c in counts)
    assert sum(c.get("hospital-c") == "3" for c in counts) >= 3  # 2f+1 executed each block
    assert all(int(c.get("hospital-c", "0")) <= 3 for c in counts)


@pytest.mark.parametrize("where", ["neighbour", "out_of_the_plaintext"])
def test_member_overflowing_its_slots_is_refused(world, where):
    m = world["m"]
    codec = world["codec"]
    if where == "out_of_the_plaintext":
        # slots fill the plaintext exactly (no padding): a carry out of the top
        # slot leaves the plaintext's bytes
        codec = fedavg.Codec(plaintext_bytes=codec.values_per_plaintext * codec.slot_bits // 8,
                             max_weight=10000, precision=1e-5, clip=1.0)
        assert codec.values_per_plaintext * codec.slot_bits == 8 * codec.plaintext_bytes
    m_task = m[A].create_task(world["model_id"], world["key_id"], m[AGG].public_key,
                              [(m[i].public_key, world["data"][i]) for i in (A, B, C)],
                              codec.to_bytes(), min_updates=2, round_limit=2)
    for i in (A, B, C):
        m[i].join_task(m_task)
    task = m_task
    pb = world["params"].to_bytes()
    weights = {A: 120, B: 200, C: 80}
    rng = np.random.default_rng(5)
    q = round(codec.clip * 2 ** codec.frac_bits)
    bits, P, k = codec.slot_bits, codec.plaintext_bytes, codec.values_per_plaintext
    assert k >= 3
    for i in (A, B, C):
        u = (rng.standard_normal(N) * 0.02).astype(np.float32)
        packed = np.array(codec.pack(u, weight=weights[i]), dtype=np.uint8).reshape(-1, P)
        if i == C:
            # C lies: its statistics look honest (so the anomaly rule accepts
            # the update) but it writes past its slots
            first = int.from_bytes(packed[0].tobytes(), "big")
            if where == "neighbour":
                # past slot 0 into slot 1: Q·M there, far beyond what weight 80
                # and the clip allow
                first += (q * codec.max_weight) << bits
            else:
                # its top slot full: the sum carries out of the plaintext
                top = (first >> (bits * (k - 1))) & ((1 << bits) - 1)
                first += ((1 << bits) - 1 - top) << (bits * (k - 1))
            packed[0] = np.frombuffer(first.to_bytes(P, "big"), dtype=np.uint8)
        m[i].upload_update(task, 1, pb, packed.ravel(), P, weights[i], float(np.linalg.norm(u)),
                           0.0)
    rnd = m[REG].round(task, 1)
    assert [u["verdict"] for u in rnd["updates"]] == ["accepted"] * 3  # the lie got past
    m[AGG].aggregate(task, 1, pb)
    m[A].post_decryption_share(task, 1, pb, world["shares"][A])
    m[B].post_decryption_share(task, 1, pb, world["shares"][B])
    assert m[REG].task(task)["phase"] == 4  # finalize

    # only the aggregator may refuse a sum, and only the recorded aggregate's
    out, n = ffi.new("uint8_t **"), ffi.new("size_t *")
    agg = bytes.fromhex(rnd_agg := m[REG].round(task, 1)["aggregate"])
    assert rnd_agg
    lib.fedshare_payload_sum_refused(task, 1, agg, out, n)
    payload = bytes(ffi.buffer(out[0], n[0]))
    lib.fedshare_free(out[0])
    with pytest.raises(errors.AccessDeniedError):
        m[A].submit(lib.FEDSHARE_OP_SUM_REFUSED, payload)
    lib.fedshare_payload_sum_refused(task, 1, hashlib.sha256(b"another").digest(), out, n)
    other = bytes(ffi.buffer(out[0], n[0]))
    lib.fedshare_free(out[0])
    with pytest.raises(errors.VerificationError):
        m[AGG].submit(lib.FEDSHARE_OP_SUM_REFUSED, other)
    assert m[REG].task(task)["phase"] == 4 and not m[REG].round(task, 1)["sum_refused"]

    # the aggregator decrypts, finds the sum out of range, and refuses the round
    with pytest.raises(errors.VerificationError) as e:
        m[AGG].finalize_round(task, 1, pb)
    assert e.value.code == -518
    rnd = m[REG].round(task, 1)
    assert rnd["sum_refused"] and "global_model" not in rnd
    t = m[REG].task(task)
    assert t["round"] == 2 and t["phase"] == 1 and t["metrics"] == []  # the task goes on
    model, rounds = m[REG].fetch_global(task)
    assert rounds == 0 and np.array_equal(model, np.zeros(N, dtype=np.float32))  # unchanged
    # a participant cannot compute a model from the refused round either
    with pytest.raises(errors.Error):
        m[B].compute_global(task, 1, pb)
    v = task_verdicts(m[REG], task)
    assert v["rounds"][0]["sum_refused"]
    assert "rounds refused for a decrypted sum out of range: 1" in format_table(v)


class FakeLedger:
    """Round records as the contract writes them, from RoundJudge's verdicts."""

    def __init__(self, rule, norms, flip=None, cosines=None):
        self.rule = rule
        judge = fedavg.RoundJudge(rule, k=3.0 if rule == "pooled" else None, warmup=3)
        self.rounds = {}
        for r, ns in enumerate(norms, start=1):
            cs = cosines[r - 1] if cosines else [0.4] * len(ns)
            self.n = len(ns)
            v = judge.judge(np.arange(len(ns), dtype=np.uint32), np.array(ns), np.array(cs))
            names = ["accepted", "suspicious", "warmup"]
            ups = [{"present": True, "norm": n, "cosine": c, "weight": 10,
                    "verdict": names[int(x)]} for n, c, x in zip(ns, cs, v)]
            if flip == r:
                ups[0]["verdict"] = "suspicious" if ups[0]["verdict"] != "suspicious" \
                    else "accepted"
            self.rounds[r] = {"updates": ups, "skipped": False}

    def task(self, task_id):
        return {"anomaly_rule": self.rule, "anomaly_k": 3.0, "anomaly_warmup": 3,
                "round": len(self.rounds),
                "participants": [{"public_key": f"{i:064x}", "did": f"did:key:z{i}" * 2}
                                 for i in range(self.n)]}

    def round(self, task_id, r):
        return self.rounds.get(r)


def test_replay_of_each_rule_and_a_verdict_the_rule_would_not_give():
    norms = [[1.0, 1.1, 0.9]] * 6 + [[1.0, 1.05, 9.0]]
    for rule in ("robust2", "robust", "pooled", "mad", "member"):
        v = task_verdicts(FakeLedger(rule, norms), b"\0" * 32)
        assert v["replay_matches"], rule
        last = v["rounds"][-1]["updates"][2]
        assert last["verdict"] == "suspicious"  # a sudden x9: every rule, member too
        assert last["scores"], rule  # judged against enough history
    first = task_verdicts(FakeLedger("pooled", norms), b"\0" * 32)["rounds"][0]["updates"][0]
    assert first["scores"] == {} and first["history"] == {"pool": 0}  # warm-up: not judged
    assert "not judged (too little history)" in format_table(
        task_verdicts(FakeLedger("pooled", norms), b"\0" * 32))
    # a ledger verdict the rule does not give is shown as recorded and flagged
    v = task_verdicts(FakeLedger("robust", norms, flip=2), b"\0" * 32)
    assert not v["replay_matches"]
    assert "DIFFERENT verdicts from the ledger's" in format_table(v)


def test_robust2_verdicts_show_the_cosine_gap_that_left_a_flip_out():
    # five members; the round's cosines move together (0.85, 0.15 in turn) and
    # member 4 reports about minus the round's level (a sign flip): robust2
    # leaves it out in the aligned rounds, the replay matches, and the score
    # shown is the gap to the round's median in units of the gaps' scale
    rng = np.random.default_rng(9)
    norms, cosines = [], []
    for r in range(1, 13):
        level = 0.85 if r % 2 else 0.15
        norms.append(list(1 + 0.1 * rng.uniform(-1, 1, 5)))
        c = list(level + 0.05 * rng.uniform(-1, 1, 5))
        c[4] = -c[4]
        cosines.append(c)
    v = task_verdicts(FakeLedger("robust2", norms, cosines=cosines), b"\0" * 32)
    assert v["rule"] == "robust2" and v["replay_matches"]
    for rd in v["rounds"]:
        flip = rd["updates"][4]
        c = sorted(u["cosine"] for u in rd["updates"])
        for u in rd["updates"]:
            assert u["cosine_gap"] == u["cosine"] - c[2]  # the statistic robust2 judges
        if rd["round"] % 2:
            assert flip["verdict"] == "suspicious"
            assert flip["scores"]["pool_cosine"] > 3.5
        for u in rd["updates"][:4]:
            assert u["verdict"] == "accepted" and u["scores"]["pool_cosine"] <= 3.5
    assert list(v["left_out"].values())[4] == [1, 3, 5, 7, 9, 11]
    assert "(gap -" in format_table(v)


def test_robust2_with_three_members_is_robust():
    # the demo's case: three centers, the third honest but different; with 3
    # updates robust2 judges as robust does (no gaps: the median member's
    # would be 0 by construction), so the replay, scores and verdicts agree
    rng = np.random.default_rng(4)
    norms, cosines = [], []
    for r in range(1, 13):
        level = 0.9 if r % 2 else 0.4
        norms.append(list(1 + 0.1 * rng.uniform(-1, 1, 3)))
        cosines.append([0.0] * 3 if r == 1 else [level, level - 0.02, level - 0.6])
    v2 = task_verdicts(FakeLedger("robust2", norms, cosines=cosines), b"\0" * 32)
    v1 = task_verdicts(FakeLedger("robust", norms, cosines=cosines), b"\0" * 32)
    assert v2["replay_matches"] and v1["replay_matches"]
    for a, b in zip(v2["rounds"], v1["rounds"]):
        for x, y in zip(a["updates"], b["updates"]):
            assert "cosine_gap" not in x
            assert x["verdict"] == y["verdict"] and x["scores"] == y["scores"]
    assert list(v2["left_out"].values())[2] == []
