"""Property tests (hypothesis) of fedshare.fedavg against numpy / integer references."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fedshare import fedavg as F

f32_any_bits = hnp.arrays(np.uint32, st.integers(1, 300), elements=st.integers(0, 2**32 - 1))


@settings(max_examples=60, deadline=None)
@given(
    P=st.integers(8, 300),
    M=st.integers(1, 10_000),
    prec_exp=st.floats(-8.5, -1.0),
    clip=st.sampled_from([0.001, 0.1, 1.0, 7.5, 1000.0]),
    aligned=st.booleans(),
    data=st.data(),
)
def test_weighted_packed_mean_within_bound(P, M, prec_exp, clip, aligned, data):
    try:
        c = F.Codec(P, M, 10.0**prec_exp, clip, aligned)
    except F.errors.InvalidInputError:
        return  # no parameters fit (tested separately); nothing to check here
    m = data.draw(st.integers(1, 5))
    ws = data.draw(st.lists(st.integers(1, M), min_size=m, max_size=m))
    if sum(ws) > M:
        ws = [1] * min(m, M)
        m = len(ws)
    n = data.draw(st.integers(1, 400))
    lim = float(np.float32(2 * clip))
    elem = st.floats(-lim, lim, width=32, allow_nan=False)
    X = [data.draw(hnp.arrays(np.float32, n, elements=elem)) for _ in range(m)]
    acc = c.sum(c.pack(x, weight=w) for x, w in zip(X, ws))
    got = c.unpack(acc, n, sum(ws)).astype(np.float64)
    clipped = [np.clip(x.astype(np.float64), -np.float32(clip), np.float32(clip)) for x in X]
    exact = sum(w * x for w, x in zip(ws, clipped)) / sum(ws)
    assert np.all(np.abs(got - exact) <= c.error_bound)
    # the big-integer sum is the integer sum of the plaintexts
    ints = [c.to_ints(c.pack(x, weight=w)) for x, w in zip(X, ws)]
    assert c.to_ints(acc) == [sum(col) for col in zip(*ints)]


@settings(max_examples=80, deadline=None)
@given(a=f32_any_bits, data=st.data())
def test_delta_roundtrip_any_bit_patterns(a, data):
    b = a.copy()
    idx = data.draw(st.lists(st.integers(0, a.size - 1), max_size=a.size))
    for i in idx:
        b[i] = data.draw(st.integers(0, 2**32 - 1))
    base, nxt = a.view(np.float32), b.view(np.float32)
    d = F.delta_encode(base, nxt)
    assert np.array_equal(F.delta_apply(d, base).view(np.uint32), b)
    assert len(d) <= 77 + 10 * int(np.count_nonzero(a != b))


@settings(max_examples=60, deadline=None)
@given(hist=st.lists(st.floats(-1e6, 1e6), min_size=5, max_size=40),
       probe=st.floats(-1e7, 1e7), k=st.floats(0.5, 5.0))
def test_anomaly_verdict_matches_numpy(hist, probe, k):
    det = F.AnomalyDetector(k=k, warmup=5)
    det.accept(hist)
    h = np.array(hist)
    mu = h.mean()
    sd = h.std(ddof=1)
    lim = k * sd
    dist = abs(probe - mu)
    v = det.judge([probe])[0]
    # away from the edge, numpy's (differently ordered) sums agree
    if dist > lim * (1 + 1e-9) + 1e-9 * abs(mu):
        assert v == F.SUSPICIOUS
    elif dist < lim * (1 - 1e-9) - 1e-9 * abs(mu):
        assert v == F.ACCEPTED


@settings(max_examples=100, deadline=None)
@given(series=st.lists(st.floats(0, 1), min_size=0, max_size=60),
       thr=st.sampled_from([0.0, 0.001, 0.01]), r=st.integers(1, 5), limit=st.integers(1, 60))
def test_stop_rule_matches_reference(series, thr, r, limit):
    got = F.stop_decision(series, threshold=thr, patience=r, max_rounds=limit)
    run = 0
    for t in range(len(series) - 1, 0, -1):
        if series[t] - series[t - 1] < thr:
            run += 1
            if run >= r:
                break
        else:
            break
    want = "converged" if run >= r else ("limit" if len(series) >= limit else "continue")
    assert got == want
