"""fedshare.fedavg against numpy / Python-integer references."""
import hashlib
import struct

import numpy as np
import pytest

import fedshare
from fedshare import fedavg as F


def rng(seed):
    return np.random.default_rng(seed)


# --- codec ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "P, M, prec, clip, aligned",
    [
        (255, 16, 1e-6, 1.0, False),
        (255, 15, 1e-6, 1.0, False),
        (255, 100, 1e-5, 0.05, True),
        (384, 1000, 1e-7, 4.0, False),
        (512, 2**32 - 1, 1e-9, 1.0, True),
        (32, 3, 1e-3, 10.0, False),
    ],
)
def test_parameter_selection_matches_the_documented_rule(P, M, prec, clip, aligned):
    c = F.Codec(P, M, prec, clip, aligned)
    f = 0
    while 2.0 ** -(f + 1) > prec:
        f += 1
    assert c.frac_bits == f
    Q = int(np.rint(np.float64(np.float32(clip)) * 2.0**f))
    need = (2 * Q * M).bit_length()
    if aligned:
        want = next(b for b in (16, 32, 64) if need <= b)
    else:
        want = max(8, -(-need // 8) * 8)
    assert c.slot_bits == want
    assert c.values_per_plaintext == 8 * P // want
    assert c.error_bound == pytest.approx(2.0 ** -(f + 1) + clip * 2.0**-23, rel=1e-6)
    assert F.Codec.from_bytes(c.to_bytes()) == c


@pytest.mark.parametrize(
    "P, M, prec, clip, bits, k",
    [
        (255, 16, 1e-6, 1.0, 25, 81),  # byte slots: 32 bits, 63 values
        (255, 1000, 1e-6, 8.0, 33, 61),  # the scale suite's codec before: 40 bits, 51 values
        (255, 300, 1e-5, 1.0, 26, 78),  # 3 participants of weight <= 100
        (255, 3, 1e-5, 1.0, 19, 107),  # 3 participants, unweighted
        (255, 15, 1e-6, 1.0, 24, 85),  # a multiple of 8: the byte layout
        (9, 2, 0.5, 1.0, 3, 24),
    ],
)
def test_dense_slots_are_exactly_the_bits_needed(P, M, prec, clip, bits, k):
    c = F.Codec(P, M, prec, clip, dense=True)
    assert (c.slot_bits, c.values_per_plaintext, c.dense) == (bits, k, True)
    byte = F.Codec(P, M, prec, clip)
    assert not byte.dense and c.error_bound == byte.error_bound
    enc = c.to_bytes()
    assert enc[4] == 2 and enc[23] == 2 and byte.to_bytes()[4] == 1
    assert F.Codec.from_bytes(enc) == c and F.Codec.from_bytes(enc).dense
    # a version-1 encoding claiming dense slots, or a version 2 without them: refused
    with pytest.raises(fedshare.InvalidInputError):
        F.Codec.from_bytes(enc[:4] + b"\x01" + enc[5:])
    with pytest.raises(fedshare.InvalidInputError):
        F.Codec.from_bytes(enc[:23] + b"\x00")
    assert "dense=True" in repr(c)


def test_for_participants_headroom():
    # N = 2 ... 10 unweighted: value bits bitlen(2Q) plus ceil(log2 N) at most
    for n in range(2, 11):
        c = F.Codec.for_participants(n)
        assert c.max_weight == n and c.dense and c.frac_bits == 16 and c.clip == 1.0
        q = 2**16
        headroom = (n - 1).bit_length()  # ceil(log2 n)
        assert c.slot_bits == (2 * q * n).bit_length() <= (2 * q).bit_length() + headroom
    c = F.Codec.for_participants(3, weight=100, precision=1e-6, clip=8.0)
    assert (c.max_weight, c.frac_bits, c.slot_bits) == (300, 19, 32)
    with pytest.raises(fedshare.InvalidInputError, match="participants"):
        F.Codec.for_participants(0)
    with pytest.raises(fedshare.InvalidInputError, match="32-bit"):
        F.Codec.for_participants(2**16, weight=2**16)
    with pytest.raises(fedshare.InvalidInputError, match=r"> 2\^30") as e:
        F.Codec.for_participants(3, precision=1e-12)  # does not fit the clip
    assert e.value.code == -302
    with pytest.raises(fedshare.InvalidInputError, match="smaller than one slot") as e:
        F.Codec.for_participants(10, weight=1000, plaintext_bytes=3)
    assert e.value.code == -309


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(precision=1e-12),  # Q > 2^30
        dict(plaintext_bytes=3, max_weight=2**32 - 1),  # slot wider than plaintext
        dict(precision=0.0),
        dict(clip=float("nan")),
        dict(clip=-1.0),
        dict(max_weight=0),
    ],
)
def test_impossible_parameters_raise(kwargs):
    with pytest.raises(fedshare.InvalidInputError):
        F.Codec(**kwargs)


def test_refusals_say_why():
    with pytest.raises(fedshare.InvalidInputError, match=r"Q = clip\*2\^f = .* > 2\^30"):
        F.Codec(precision=1e-12)
    with pytest.raises(fedshare.InvalidInputError,
                       match=r"smaller than one slot.*56-bit slots") as e:
        F.Codec(plaintext_bytes=6, max_weight=2**32 - 1)
    assert e.value.code == -309


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("aligned", [False, True])
def test_roundtrip_within_bound_random(seed, aligned):
    r = rng(seed)
    clip = float(r.choice([0.01, 0.5, 1.0, 3.0]))
    c = F.Codec(int(r.integers(8, 400)), int(r.integers(1, 5000)), float(10 ** r.uniform(-7, -2)),
                clip, aligned)
    n = int(r.integers(1, 5000))
    x = r.uniform(-clip, clip, n).astype(np.float32)
    p, clipped = c.pack(x, return_clipped=True)
    assert clipped == 0 and p.shape == (c.plaintexts(n), c.plaintext_bytes)
    y = c.unpack(p, n, 1)
    assert y.dtype == np.float32
    assert np.max(np.abs(y.astype(np.float64) - x)) <= c.error_bound


def test_adversarial_values():
    c = F.Codec(255, 16, 1e-6, 1.0)
    f32 = np.float32
    x = np.array([1.0, -1.0, 0.0, -0.0, np.nextafter(f32(1), f32(0)), -np.nextafter(f32(1), f32(0)),
                  1e-45, -1e-45, 2.0**-21, 3 * 2.0**-21, 5 * 2.0**-21, 1e30, -1e30,
                  np.finfo(np.float32).max, -np.finfo(np.float32).max], dtype=np.float32)
    p, clipped = c.pack(x, return_clipped=True)
    assert clipped == 4
    y = c.unpack(p, x.size).astype(np.float64)
    ref = np.clip(x.astype(np.float64), -1, 1)
    assert np.all(np.abs(y - ref) <= c.error_bound)
    # ties round to even: 1.5 and 2.5 units of 2^-20
    assert y[9] == 2 * 2.0**-20 and y[10] == 2 * 2.0**-20


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("pos", [0, 3, 63, 64, 99])
def test_nonfinite_rejected(bad, pos):
    c = F.Codec(255, 16, 1e-6, 1.0)
    x = np.zeros(100, dtype=np.float32)
    x[pos] = bad
    out = np.full((c.plaintexts(100), 255), 7, dtype=np.uint8)
    with pytest.raises(fedshare.InvalidInputError) as e:
        c.pack(x, out=out)
    assert e.value.code == F.E_NONFINITE
    assert not out.any()


def test_packed_layout_is_the_documented_integer():
    c = F.Codec(16, 1, 0.5, 3.0)  # f=0, Q=3, slot 8 bits, 16 per plaintext
    assert (c.frac_bits, c.slot_bits, c.values_per_plaintext) == (0, 8, 16)
    x = np.array([-3, -2, 0, 3, 1], dtype=np.float32)
    v = c.to_ints(c.pack(x))
    assert v == [sum(int(q + 3) << (8 * j) for j, q in enumerate(x))]
    assert c.to_bytes_be(c.pack(x)) == v[0].to_bytes(16, "big")


@pytest.mark.parametrize("seed", range(3))
def test_sum_of_M_vectors_at_the_overflow_edge(seed):
    M = 15
    c = F.Codec(255, M, 1e-6, 1.0)  # 2QM = 15 * 2^20 < 2^24 = 2^slot_bits
    assert c.slot_bits == 24
    r = rng(seed)
    n = 300
    xs = [np.where(r.random(n) < 0.5, -1.0, 1.0).astype(np.float32) for _ in range(M)]
    xs[0][:] = 1.0
    xs[1][:] = 1.0
    packed = [c.pack(x) for x in xs]
    ints = [c.to_ints(p) for p in packed]
    # Python big-integer sum == what Paillier addition gives
    total = [sum(col) for col in zip(*ints)]
    assert all(t < 2 ** (8 * 255) for t in total)
    acc = c.sum(packed)
    assert c.to_ints(acc) == total
    y = c.unpack(c.from_ints(total), n, M)
    assert np.array_equal(y, np.mean(np.stack(xs), axis=0, dtype=np.float64).astype(np.float32))
    # all at +clip with weight M: slots exactly at the top 2QM
    top = c.pack(np.ones(n, np.float32), weight=M)
    assert np.array_equal(c.unpack(top, n, M), np.ones(n, np.float32))
    # M+1: refused whichever way
    with pytest.raises(fedshare.InvalidInputError):
        c.unpack(acc, n, M + 1)
    with pytest.raises(fedshare.InvalidInputError):
        c.pack(xs[0], weight=M + 1)
    # one more +clip vector on top of M of them: 2Q(M+1) = 2^24 in every slot
    one = c.pack(np.ones(n, np.float32))
    extra = [a + b for a, b in zip(c.to_ints(top), c.to_ints(one))]
    assert any(t >= 2 ** (8 * 255) for t in extra)  # full plaintexts carry out of P bytes
    with pytest.raises(fedshare.InvalidInputError):
        c.from_ints(extra)
    with pytest.raises(fedshare.InvalidInputError):
        c.add(top.copy(), one)
    # 84 values leave the top slot empty: the carry stays inside and unpacking sees it
    t84, o84 = c.pack(np.ones(84, np.float32), weight=M), c.pack(np.ones(84, np.float32))
    s84 = c.add(t84.copy(), o84)
    for w in (M, M + 1):
        with pytest.raises(fedshare.InvalidInputError):
            c.unpack(s84, 84, w)


def test_packed_vector_encoding_roundtrip_and_view():
    c = F.Codec(128, 50, 1e-5, 0.5)
    x = rng(9).uniform(-0.5, 0.5, 1000).astype(np.float32)
    p = c.pack(x, weight=7)
    data = c.encode_packed(p, 1000, 7)
    c2, n, w, raw = F.Codec.decode_packed(data)
    assert (c2, n, w) == (c, 1000, 7)
    assert np.array_equal(raw, p) and not raw.flags.writeable
    with pytest.raises(fedshare.InvalidInputError):
        F.Codec.decode_packed(data[:-1])
    with pytest.raises(fedshare.InvalidInputError):
        F.Codec.decode_packed(data + b"\0")
    with pytest.raises(fedshare.InvalidInputError):
        c.encode_packed(p, 1000, 6)  # slots too large for weight 6


# --- FedAvg --------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_plain_fedavg_matches_numpy_double(seed):
    r = rng(seed)
    m, n = int(r.integers(1, 12)), int(r.integers(1, 3000))
    X = r.normal(0, 1, (m, n)).astype(np.float32)
    w = r.uniform(0, 10, m)
    ref = (np.sum(w[:, None] * X.astype(np.float64), axis=0) / w.sum()).astype(np.float32)
    got = F.average(list(X), w)
    # both are the double result rounded once: equal up to a double-rounding tie
    assert np.max(np.abs(got.astype(np.float64) - ref)) <= np.max(np.abs(ref)) * 2.0**-23
    out = np.empty(n, np.float32)
    assert F.average(X, w, out=out) is out and np.array_equal(out, got)


@pytest.mark.parametrize("seed", range(4))
def test_packed_fedavg_matches_plain_within_bound(seed):
    r = rng(seed)
    m, n = 10, 5000
    clip = 0.1
    sizes = r.integers(1, 600, m)  # integer data sizes used directly as weights
    c = F.Codec(255, int(sizes.sum()), 1e-6, clip)
    X = r.uniform(-clip, clip, (m, n)).astype(np.float32)
    acc = c.sum(c.pack(X[i], weight=int(sizes[i])) for i in range(m))
    packed = c.unpack(acc, n, int(sizes.sum()))
    plain = F.average(X, sizes.astype(np.float64))
    exact = np.sum(sizes[:, None] * X.astype(np.float64), axis=0) / sizes.sum()
    assert np.max(np.abs(packed - exact)) <= c.error_bound
    assert np.max(np.abs(packed.astype(np.float64) - plain)) <= c.error_bound + clip * 2.0**-23


def test_real_weights_quantized_with_stated_extra_bound():
    r = rng(5)
    m, n, clip = 6, 4000, 0.5
    w = r.uniform(0.1, 3.0, m)
    q = F.quantize_weights(w, 1 << 12)
    extra = F.weights_error_bound(w, q, clip)
    c = F.Codec(255, int(q.sum()), 1e-6, clip)
    X = r.uniform(-clip, clip, (m, n)).astype(np.float32)
    acc = c.sum(c.pack(X[i], weight=int(q[i])) for i in range(m))
    got = c.unpack(acc, n, int(q.sum()))
    exact = np.sum(w[:, None] * X.astype(np.float64), axis=0) / w.sum()
    assert extra > 0
    assert np.max(np.abs(got - exact)) <= c.error_bound + extra


def test_average_rejects_nonfinite_and_bad_weights():
    X = np.ones((3, 10), np.float32)
    X[1, 4] = np.nan
    with pytest.raises(fedshare.InvalidInputError):
        F.average(X)
    with pytest.raises(fedshare.InvalidInputError):
        F.average(np.ones((2, 3), np.float32), [0, 0])
    with pytest.raises(fedshare.InvalidInputError):
        F.average(np.ones((2, 3), np.float32), [1, -1])
    with pytest.raises(fedshare.InvalidInputError):
        F.average([np.ones(3, np.float32), np.ones(4, np.float32)])


@pytest.mark.parametrize("m", [1, 2, 5, 10, 33])
def test_median_and_trimmed_mean_match_numpy(m):
    r = rng(m)
    X = r.normal(0, 1, (m, 777)).astype(np.float32)
    med = F.median(X)
    ref = np.median(X.astype(np.float64), axis=0).astype(np.float32)
    assert np.array_equal(med, ref)
    k = (m - 1) // 2 if m > 2 else 0
    for t in range(k + 1):
        S = np.sort(X.astype(np.float64), axis=0)[t:m - t]
        ref_t = S.mean(axis=0).astype(np.float32)
        got = F.trimmed_mean(X, trim=t)
        assert np.max(np.abs(got - ref_t)) <= np.max(np.abs(ref_t)) * 2.0**-23
    if m >= 5:
        assert np.array_equal(F.trimmed_mean(X, proportion=0.2),
                              F.trimmed_mean(X, trim=int(0.2 * m)))
    with pytest.raises(fedshare.InvalidInputError):
        F.trimmed_mean(X, trim=m // 2 + (m % 2))


def test_stats_match_numpy():
    r = rng(3)
    x = r.normal(0, 1, 10001).astype(np.float32)
    g = r.normal(0, 1, 10001).astype(np.float32)
    x64, g64 = x.astype(np.float64), g.astype(np.float64)
    assert F.norm(x) == pytest.approx(np.linalg.norm(x64), rel=1e-13)
    assert F.cosine(x, g) == pytest.approx(x64 @ g64 / np.linalg.norm(x64) / np.linalg.norm(g64),
                                           rel=1e-12)
    assert F.cosine(x, np.zeros_like(x)) == 0.0
    x[5] = np.inf
    with pytest.raises(fedshare.InvalidInputError):
        F.norm(x)


# --- anomaly test ------------------------------------------------------------------------


def test_three_sigma_on_crafted_history():
    r = rng(11)
    hist = r.normal(5.0, 0.2, (40, 2))
    hist[:, 1] = r.uniform(0.6, 0.9, 40)
    det = F.AnomalyDetector(stats=2, k=3.0, warmup=5)
    assert list(det.judge([[100.0, 0.0]])) == [F.WARMUP]
    det.accept(hist)
    mu = hist.mean(axis=0)
    sd = hist.std(axis=0, ddof=1)
    got_mu, got_sd = det.moments(0)
    assert got_mu == pytest.approx(mu[0], rel=1e-14) and got_sd == pytest.approx(sd[0], rel=1e-12)
    probes = np.array([
        [mu[0], mu[1]],
        [mu[0] + 2.9 * sd[0], mu[1]],
        [mu[0] - 3.1 * sd[0], mu[1]],
        [mu[0], mu[1] + 3.2 * sd[1]],
        [mu[0] + 2.99 * sd[0], mu[1] - 2.99 * sd[1]],
    ])
    v = det.judge(probes)
    ref = (np.abs(probes - mu) > 3.0 * sd).any(axis=1).astype(np.uint8)
    assert list(v) == list(ref) == [0, 0, 1, 1, 0]
    assert len(det) == 40
    with pytest.raises(fedshare.InvalidInputError):
        det.judge([[np.nan, 0.0]])
    with pytest.raises(fedshare.InvalidInputError):
        det.accept([[1.0, 2.0, 3.0]])
    assert len(det) == 40


def test_anomaly_history_encoding_roundtrip():
    det = F.AnomalyDetector(stats=2, k=2.5, warmup=3, window=10)
    rows = rng(4).normal(0, 1, (14, 2))
    det.accept(rows)
    data = det.to_bytes()
    assert data[:5] == b"FAAN\x01" and len(data) == 33 + 10 * 2 * 8
    assert data[33:] == rows[4:].astype(">f8").tobytes()
    back = F.AnomalyDetector.from_bytes(data)
    assert back.to_bytes() == data and len(back) == 10 and back.moments(1) == det.moments(1)
    probe = [[0.1, 5.0], [0.0, 0.0]]
    assert list(back.judge(probe)) == list(det.judge(probe))
    with pytest.raises(fedshare.InvalidInputError):
        F.AnomalyDetector.from_bytes(data[:-8])


def test_anomaly_window_and_warmup_boundaries():
    det = F.AnomalyDetector(k=2.0, warmup=3, window=4)
    det.accept([1.0, 2.0])
    assert list(det.judge([50.0])) == [F.WARMUP]
    det.accept([3.0])
    assert list(det.judge([50.0])) == [F.SUSPICIOUS]
    det.accept([10.0, 11.0, 12.0])  # window keeps 3, 10, 11, 12
    mu, sd = det.moments()
    assert mu == np.mean([3, 10, 11, 12]) and sd == pytest.approx(np.std([3, 10, 11, 12], ddof=1))


# --- stop rule -------------------------------------------------------------------------------


def test_stop_rule_absolute_edges():
    t = 2.0**-10
    eq = [0.5 + i * t for i in range(4)]  # each gain exactly the threshold: not "less than"
    assert F.stop_decision(eq, threshold=t) == "continue"
    lt = [0.5, 0.5 + t / 2, 0.5 + t, 0.5 + 1.5 * t]
    assert F.stop_decision(lt, threshold=t) == "converged"
    assert F.stop_decision(lt[:3], threshold=t) == "continue"
    # a good round in between resets the run
    assert F.stop_decision([0.5, 0.5, 0.6, 0.6, 0.6], threshold=t) == "continue"
    assert F.stop_decision([0.5, 0.5, 0.6, 0.6, 0.6, 0.6], threshold=t) == "converged"
    # decreases count as no improvement
    assert F.stop_decision([0.9, 0.8, 0.7, 0.6], threshold=t) == "converged"


def test_stop_rule_defaults_percentage_points():
    # accuracy as a fraction: +0.2 pp per round keeps going, +0.05 pp x3 stops
    assert F.stop_decision([0.80, 0.802, 0.804, 0.806]) == "continue"
    assert F.stop_decision([0.80, 0.8005, 0.801, 0.8015]) == "converged"
    assert F.stop_decision(np.linspace(0, 1, 50)) == "limit"
    assert F.stop_decision(np.linspace(0, 1, 49)) == "continue"


def test_stop_rule_relative_edges():
    t = 2.0**-10
    rel = {"threshold": t, "patience": 1, "mode": "relative"}
    assert F.stop_decision([0.5, 0.5 + 2.0**-11], **rel) == "continue"
    assert F.stop_decision([0.5, 0.5 + 2.0**-12], **rel) == "converged"
    # loss: lower is better, relative
    assert F.stop_decision([2.0, 1.0], threshold=t, patience=1, mode="relative",
                           lower_is_better=True) == "continue"
    assert F.stop_decision([2.0, 2.0 - 2.0**-10], threshold=t, patience=1, mode="relative",
                           lower_is_better=True) == "converged"
    with pytest.raises(fedshare.InvalidInputError):
        F.stop_decision([0.1, np.nan])
    with pytest.raises(fedshare.InvalidInputError):
        F.stop_decision([0.1], patience=0)


# --- delta, digest, parameter ID -------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("frac", [0.0, 0.001, 0.1, 1.0])
def test_delta_roundtrip_bit_for_bit(seed, frac):
    r = rng(seed)
    n = int(r.integers(1, 20000))
    a = r.normal(0, 1, n).astype(np.float32)
    b = a.copy()
    idx = r.random(n) < frac
    b[idx] = r.normal(0, 1, idx.sum()).astype(np.float32)
    b.view(np.uint32)[r.integers(0, n)] = 0x7FC0DEAD  # NaN payload
    d = F.delta_encode(a, b)
    got = F.delta_apply(d, a)
    assert np.array_equal(got.view(np.uint32), b.view(np.uint32))
    changed = int(np.count_nonzero(a.view(np.uint32) != b.view(np.uint32)))
    assert len(d) <= 77 + 4 * changed + 6 * changed + 6  # header + words + at most a run each
    assert F.model_digest(b) == hashlib.sha256(b.astype(">f4").tobytes()).digest()
    with pytest.raises(fedshare.VerificationError):
        F.delta_apply(d, got if changed else a + 1)


def test_delta_compact_when_few_change():
    a = np.zeros(1_000_000, np.float32)
    b = a.copy()
    b[[10, 11, 500_000]] = 1.0
    d = F.delta_encode(a, b)
    assert len(d) == 77 + (1 + 1 + 8) + (3 + 1 + 4)
    with pytest.raises(fedshare.InvalidInputError):
        F.delta_apply(d[:-1], a)


def test_param_id_is_sha256_of_canonical_input():
    sig = bytes(range(64))
    inp = F.param_id_input(b"model-7", 12, sig)
    assert inp == b"FAPI\x01" + struct.pack(">I", 7) + b"model-7" + struct.pack(">QI", 12, 64) + sig
    assert F.param_id(b"model-7", 12, sig) == hashlib.sha256(inp).digest()
    assert F.param_id(b"model-7", 13, sig) != F.param_id(b"model-7", 12, sig)
    with pytest.raises(fedshare.InvalidInputError):
        F.param_id(b"", 1, sig)


# --- zero copy ------------------------------------------------------------------------------


def test_outputs_written_in_place_and_inputs_not_copied():
    c = F.Codec(255, 4, 1e-5, 1.0)
    x = np.linspace(-1, 1, 1000, dtype=np.float32)
    out = np.empty((c.plaintexts(1000), 255), np.uint8)
    assert c.pack(x, out=out) is out
    y = np.empty(1000, np.float32)
    assert c.unpack(out, 1000, 1, out=y) is y
    with pytest.raises(fedshare.InvalidInputError):
        c.unpack(out, 1000, 1, out=np.empty(1000, np.float64))
    assert F._f32(x) is not None and np.shares_memory(F._f32(x), x)


@pytest.mark.parametrize("m", [1, 3, 4, 5, 9, 13])
def test_plain_fedavg_is_bit_identical_to_fixed_order_reference(m):
    # The documented order: acc = w0*x0; acc += wi*xi (i = 1..m-1); acc / (w0 + w1 + ...).
    r = rng(100 + m)
    X = r.normal(0, 1, (m, 2049)).astype(np.float32)
    w = r.uniform(0.01, 5, m)
    acc = w[0] * X[0].astype(np.float64)
    for i in range(1, m):
        acc += w[i] * X[i].astype(np.float64)
    total = 0.0
    for wi in w:
        total += float(wi)
    assert np.array_equal(F.average(X, w), (acc / total).astype(np.float32))


class _CpuTensor:
    """Stands in for a CPU torch.Tensor: detach()/cpu() return itself, numpy() shares memory."""

    def __init__(self, a):
        self._a = a

    def detach(self):
        return self

    def cpu(self):
        return self

    def numpy(self):
        return self._a


def test_tensor_like_inputs_and_outputs_share_memory():
    x = np.linspace(-1, 1, 500, dtype=np.float32)
    t = _CpuTensor(x)
    assert np.shares_memory(F._f32(t), x)
    out_arr = np.empty(500, np.float32)
    out = _CpuTensor(out_arr)
    res = F.average([t, t], [1.0, 3.0], out=out)
    assert res is out and np.array_equal(out_arr, x)
    c = F.Codec(255, 4, 1e-5, 1.0)
    assert np.array_equal(c.unpack(c.pack(t), 500), c.unpack(c.pack(x), 500))
