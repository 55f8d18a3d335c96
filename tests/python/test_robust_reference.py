"""The robust suite's reference directions (benchmarks/suites/robust.py) with
libfedavg's robust2 judge: what the cosine to the previous global update (what
clients report today) cannot see, and what a reference in which every member
counts once (the sum of unit-norm updates, a what-if: not in the contract, see
benchmarks/results/robust.md) would let the same judge catch; and robust3's
capture test on the statistics clients report today. Consortia are built on
dev seeds only (never the held-out 100-199)."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from fedshare import fedavg

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "suites" / "robust.py"
_spec = importlib.util.spec_from_file_location("robust_suite", _PATH)
robust = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(robust)


def _run(seed, make, reference, rounds=40):
    rows = robust.simulate(seed, fedavg.RoundJudge("robust2"), rounds=rounds,
                           reference=reference, make=make)
    n = len(make(np.random.default_rng(seed)))
    return [rows[i::n] for i in range(n)]  # per center: (attack, kind, left out, round)


def test_round1_flip_needs_the_rounds_own_unit_sum():
    # six centers, the last (2,000 records) flips signs from round 1
    spec = [(200, 0, None), (2000, 0, None), (200, 1, None), (200, 3, None), (200, 2, None),
            (2000, 0, ("signflip", 1))]
    make = robust.make_centers(spec)
    # the previous global update does not exist in round 1: every cosine is 0
    by = _run(0, make, "global", rounds=1)
    assert not any(c[0][2] for c in by)
    # against the round's unit-norm sum without its own, the flip is caught
    by = _run(0, make, "unit", rounds=1)
    assert by[5][0][2]
    assert not any(c[0][2] for c in by[:5])


def test_heavy_flipper_captures_the_global_reference():
    # dev seed 14 of the heavy-flipper diagnostic: three honest 200-record
    # centers and one 2,000-record sign flipper from round 1
    make = robust.make_heavy_flippers
    cs = make(np.random.default_rng(14))
    flipper = [i for i, c in enumerate(cs) if c["att"] is not None]
    assert len(cs) == 4 and flipper == [3] and cs[3]["size"] == 2000
    assert cs[3]["att"] == ("signflip", 1)
    assert all(c["size"] == 200 for c in cs[:3])
    # accepted in round 1, its weight steers every later global update: its
    # cosine to it is high and the honest members' low — robust2 never sees it
    by = _run(14, make, "global")
    assert sum(x[2] for x in by[3]) == 0
    # every member counted once: it is left out in all 40 rounds, no honest one
    by = _run(14, make, "unit")
    assert sum(x[2] for x in by[3]) == 40
    assert not any(x[2] for c in by[:3] for x in c)


@pytest.mark.parametrize("reference", ["global", "unit"])
def test_shifted_center_kept_scaled_caught(reference):
    # an honest 200-record center with shifted features, 40 rounds; a x10 attacker from round 5
    spec = [(200, 1, None), (200, 0, None), (2000, 0, None), (200, 3, None),
            (200, 0, ("scale", 5))]
    by = _run(0, robust.make_centers(spec), reference)
    assert len(by[0]) == 40 and by[0][0][1] == 1
    assert sum(x[2] for x in by[0]) == 0
    assert sum(x[2] for x in by[4] if x[0] == "scale") >= 35


def test_robust3_catches_the_heavy_flipper_after_round1():
    # the same consortium, clients reporting as today (cosine to the previous
    # global update): robust3's capture test (the round's median cosine below 0)
    # leaves the flipper out in every round but round 1, no honest member
    rows = robust.simulate(14, fedavg.RoundJudge("robust3"), make=robust.make_heavy_flippers)
    by = [rows[i::4] for i in range(4)]
    assert [x[3] for x in by[3] if x[2]] == list(range(2, 41))
    assert not any(x[2] for c in by[:3] for x in c)


class _FakeMember:
    """The two reads task_verdicts makes, from a judge's own verdicts."""

    def __init__(self, rule, rounds):
        self._task = {"anomaly_rule": rule, "round": len(rounds), "anomaly_k": 3.0,
                      "anomaly_warmup": 5,
                      "participants": [{"public_key": f"{i:02x}" * 32, "did": f"did:x:{i:08d}"}
                                       for i in range(5)]}
        self._rounds = rounds

    def task(self, task_id):
        return self._task

    def round(self, task_id, r):
        return self._rounds[r - 1]


def test_verdicts_replay_robust3_and_score_the_high_side():
    # members 3 and 4 steer the reference (cosine 0.9, the others -0.6): the
    # contract's robust3 verdicts, replayed by fedshare.verdicts, match, and the
    # left-out members' cosine score is the gap above the median over the scale
    rng = np.random.default_rng(2)
    j = fedavg.RoundJudge("robust3")
    rounds = []
    for _ in range(12):
        norms = 1 + 0.15 * rng.uniform(-1, 1, 5)
        cos = -0.6 + 0.1 * rng.uniform(-1, 1, 5)
        cos[3:] = 0.9
        v = j.judge(np.arange(5), norms, cos)
        names = {0: "accepted", 1: "suspicious", 2: "warmup"}
        rounds.append({"updates": [{"present": True, "norm": float(norms[i]),
                                    "cosine": float(cos[i]), "weight": 100,
                                    "verdict": names[int(v[i])]} for i in range(5)]})
    from fedshare import verdicts
    out = verdicts.task_verdicts(_FakeMember("robust3", rounds), b"\x01" * 32)
    assert out["replay_matches"]
    assert out["rule"] == "robust3"
    assert [len(out["left_out"][w]) for w in out["members"]] == [0, 0, 0, 12, 12]
    for rnd in out["rounds"]:
        for u in rnd["updates"][3:]:
            assert u["verdict"] == "suspicious"
            assert u["cosine_gap"] > 1.4
            assert u["scores"]["pool_cosine"] > 3.5
        assert all(u["scores"]["pool_cosine"] < 3.5 for u in rnd["updates"][:3])


def test_gated_capture_whatif_keeps_the_catch_and_the_converged_regime():
    # the suite's what-if robust3_gated (not a contract rule: benchmarks/results/
    # robust.md §Follow-up 2): robust3's capture test only in a round whose mean
    # |cosine| is >= 0.5. Dev seed 14 of the heavy-flipper diagnostic: caught in
    # rounds 2-40 as under robust3, no honest member left out
    rows = robust.simulate(14, robust.GatedCapture(), make=robust.make_heavy_flippers)
    by = [rows[i::4] for i in range(4)]
    assert [x[3] for x in by[3] if x[2]] == list(range(2, 41))
    assert not any(x[2] for c in by[:3] for x in c)
    # dev seed 26, converged regime (lr 0.1): robust3 leaves out 22 honest
    # updates, robust2 none, and the gate keeps robust2's count
    def honest_left_out(judge):
        return sum(1 for x in robust.simulate(26, judge, lr=0.1) if x[0] is None and x[2])
    assert honest_left_out(fedavg.RoundJudge("robust2")) == 0
    assert honest_left_out(fedavg.RoundJudge("robust3")) == 22
    assert honest_left_out(robust.GatedCapture()) == 0


def _by(seed, rule, reference, make=None, lr=0.01):
    rows = robust.simulate(seed, fedavg.RoundJudge(rule), lr=lr, reference=reference, make=make)
    n = len((make or robust.make_consortium)(np.random.default_rng(seed)))
    return [rows[i::n] for i in range(n)]


def test_ksum_robust3_keeps_the_capture_catch():
    # dev seed 14 of the heavy-flipper diagnostic (what-if ksum5_robust3: the
    # cosine to the sum of the last 5 global updates, robust3's judge): the
    # 2,000-record flipper accepted in round 1 is left out in rounds 2-40, no
    # honest member is
    by = _by(14, "robust3", "ksum", robust.make_heavy_flippers)
    assert [x[3] for x in by[3] if x[2]] == list(range(2, 41))
    assert not any(x[2] for c in by[:3] for x in c)


def test_ksum_reference_calms_the_converged_capture_test():
    # dev seed 26, converged regime (lr 0.1): against the previous global
    # update robust3's capture test takes a large honest center for a captor
    # (22 honest updates left out, robust2 none); against the sum of the last 5
    # global updates (SGD noise averaged) it leaves out at most 1
    def honest_out(rule, ref):
        return sum(x[2] for c in _by(26, rule, ref, lr=0.1) for x in c if x[0] is None)

    assert honest_out("robust2", "global") == 0
    assert honest_out("robust3", "global") == 22
    assert honest_out("robust2", "ksum") == 0
    assert honest_out("robust3", "ksum") <= 1


@pytest.mark.parametrize("rule", ["robust2", "robust3"])
def test_ksum_shifted_center_kept_scaled_caught(rule):
    spec = [(200, 1, None), (200, 0, None), (2000, 0, None), (200, 3, None),
            (200, 0, ("scale", 5))]
    by = _by(0, rule, "ksum", robust.make_centers(spec))
    assert sum(x[2] for x in by[0]) == 0
    assert sum(x[2] for x in by[4] if x[0] == "scale") >= 35


@pytest.mark.parametrize("gate", [False, True])
def test_loo_capture_reproduces_robust2_and_robust3(gate):
    # the own-removed-cosine what-if with its gate never / always open gives
    # robust2's / robust3's verdicts (dev seed 14 of the diagnostic)
    rule = "robust3" if gate else "robust2"
    ref = robust.simulate(14, fedavg.RoundJudge(rule), make=robust.make_heavy_flippers)
    got = robust.simulate(14, robust.LooCapture(lambda i, c, loo: gate),
                          make=robust.make_heavy_flippers)
    assert got == ref
    assert sum(x[2] for x in got) == (39 if gate else 0)
