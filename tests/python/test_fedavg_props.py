"""Property tests (hypothesis) of fedshare.fedavg against numpy / integer references."""
import numpy as np
import pytest
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


# --- dense (bit-granular) slots: every width, N = 2 ... 10 participants ---------------


def _reference_slots(x, w, f, Q, clip):
    """Slot values by the documented rule, in Python integers (numpy rounds half to even)."""
    xc = np.clip(x.astype(np.float64), -np.float32(clip), np.float32(clip))
    return [w * (int(q) + Q) for q in np.rint(xc * 2.0**f)]


@settings(max_examples=120, deadline=None)
@given(
    N=st.integers(2, 10),
    f=st.integers(0, 30),
    clip=st.sampled_from([0.01, 0.125, 1.0, 3.0, 8.0, 100.0]),
    wmax=st.sampled_from([1, 1, 7, 100, 1000, 2**20]),
    P=st.sampled_from([255, 383, 33, 9]),
    data=st.data(),
)
def test_dense_sum_of_n_encodings_within_bound(N, f, clip, wmax, P, data):
    """The sum of N dense encodings decodes to the weighted mean of the clipped
    values within the stated bound; the slot layout is the documented one
    (slot j at bits [w·j, w·(j+1)) of the big-endian plaintext) and the width is
    exactly bitlen(2QM), M = N·wmax."""
    try:
        c = F.Codec.for_participants(N, weight=wmax, precision=2.0 ** -(f + 1), clip=clip,
                                     plaintext_bytes=P)
    except F.errors.InvalidInputError as e:
        # refused only when it does not fit, and with the existing codes
        Q = round(np.float64(np.float32(clip)) * 2.0**f)
        need = max(1, (2 * Q * N * wmax).bit_length())
        assert (Q > 2**30 and e.code == -302) or (need > 8 * P and e.code == -309)
        return
    assert c.dense and c.frac_bits == f
    Q = int(np.rint(np.float64(np.float32(clip)) * 2.0**f))
    bits = max(1, (2 * Q * N * wmax).bit_length())
    assert c.slot_bits == bits and c.values_per_plaintext == 8 * P // bits
    k = c.values_per_plaintext
    n = data.draw(st.integers(1, 3 * k + 1))
    lim = float(np.float32(1.5 * clip))
    elem = st.floats(-lim, lim, width=32, allow_nan=False)
    X = [data.draw(hnp.arrays(np.float32, n, elements=elem)) for _ in range(N)]
    ws = data.draw(st.lists(st.integers(1, wmax), min_size=N, max_size=N))
    packed = [c.pack(x, weight=w) for x, w in zip(X, ws)]
    # layout against the integer reference
    for x, w, p in zip(X, ws, packed):
        slots = _reference_slots(x, w, f, Q, clip)
        want = [sum(s << (bits * j) for j, s in enumerate(slots[t:t + k]))
                for t in range(0, n, k)]
        assert c.to_ints(p) == want
    acc = c.sum(packed)
    W = sum(ws)
    got = c.unpack(acc, n, W).astype(np.float64)
    clipped = [np.clip(x.astype(np.float64), -np.float32(clip), np.float32(clip)) for x in X]
    exact = sum(w * x for w, x in zip(ws, clipped)) / W
    assert np.all(np.abs(got - exact) <= c.error_bound)
    # the packed sum is accepted as a sum of weight W, and not as one of a smaller weight
    # when some slot exceeds 2Q(W-1)
    F.Codec.decode_packed(c.encode_packed(acc, n, W))
    if W > 1:
        sums = [sum(col) for col in zip(*[_reference_slots(x, w, f, Q, clip)
                                          for x, w in zip(X, ws)])]
        if max(sums) > 2 * Q * (W - 1):
            with pytest.raises(F.errors.InvalidInputError):
                c.unpack(acc, n, W - 1)


@settings(max_examples=40, deadline=None)
@given(N=st.integers(2, 10), data=st.data())
def test_dense_out_of_range_refused_with_existing_codes(N, data):
    c = F.Codec.for_participants(N, weight=3)
    n = data.draw(st.integers(1, 300))
    x = data.draw(hnp.arrays(np.float32, n, elements=st.floats(-1, 1, width=32)))
    with pytest.raises(F.errors.InvalidInputError) as e:
        c.pack(x, weight=3 * N + 1)  # weight above M
    assert e.value.code == -300
    p = c.pack(x, weight=1)
    with pytest.raises(F.errors.InvalidInputError) as e:
        c.unpack(p, n, 3 * N + 1)  # total weight above M
    assert e.value.code == -303
    bad = x.copy()
    bad[data.draw(st.integers(0, n - 1))] = np.nan
    with pytest.raises(F.errors.InvalidInputError) as e:
        c.pack(bad)
    assert e.value.code == -301
