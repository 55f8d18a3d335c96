"""fedshare.fedavg.RoundJudge: libfedavg's fedavg_round_judge through the binding."""
import numpy as np
import pytest

from fedshare import errors, fedavg


def test_default_keeps_shifted_member_and_catches_scaled():
    rng = np.random.default_rng(3)
    j = fedavg.RoundJudge()  # the default rule: robust
    assert j.rule == "robust"
    kept = caught = 0
    for r in range(1, 41):
        norms = (1 + 0.15 * rng.uniform(-1, 1, 5)) / (1 + 0.1 * r)
        cos = 0.7 + 0.1 * rng.uniform(-1, 1, 5)
        norms[4] *= 3.0  # honest but shifted
        cos[4] = 0.4 + 0.1 * rng.uniform(-1, 1)
        if r % 10 == 0:
            norms[1] *= 10.0
        v = j.judge(np.arange(5), norms, cos)
        kept += v[4] != fedavg.SUSPICIOUS
        caught += r % 10 == 0 and v[1] == fedavg.SUSPICIOUS
    assert kept == 40
    assert caught == 4


def test_unknown_rule_and_bad_values_refused():
    with pytest.raises(errors.InvalidInputError):
        fedavg.RoundJudge("median-of-means")
    j = fedavg.RoundJudge("mad")
    with pytest.raises(errors.Error):
        j.judge([0, 1, 2], [1.0, float("nan"), 1.0], [0.0, 0.0, 0.0])
    assert len(j.hist_members) == 0
