"""fedavg suite: packing throughput and plain FedAvg vs numpy (same run).

Keys (../shared/BENCHMARKS.md):
  pack_values_per_s  the slowest of the measured slot widths (24, 32, 64 bits),
                     one core, 1 M float32 values, from the C program.
  fedavg_vs_numpy    fedshare.fedavg.average time / numpy time, 10 participants,
                     1 M parameters, both through Python on the same arrays,
                     best of several alternating repetitions. numpy is given
                     its fastest variant of the same double arithmetic
                     (see numpy_variants below); details name each.
"""
from __future__ import annotations

import time

import numpy as np


def _best(fn, reps):
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def numpy_variants(X: np.ndarray, w: np.ndarray, fits: bool):
    """numpy doing the same arithmetic: sum_i w_i * float64(x_i), / sum(w), to float32."""

    def loop():
        acc = w[0] * X[0].astype(np.float64)
        for i in range(1, X.shape[0]):
            acc += w[i] * X[i].astype(np.float64)
        return (acc / w.sum()).astype(np.float32)

    def dot():  # BLAS dgemv on the whole stack upcast to float64
        return ((w @ X.astype(np.float64)) / w.sum()).astype(np.float32)

    def average():  # what a numpy user writes
        return np.average(X, axis=0, weights=w).astype(np.float32)

    v = {"numpy_loop": loop}
    if fits:
        v["numpy_dot"] = dot
        v["numpy_average"] = average
    return v


def run(ctx):
    from fedshare import fedavg as F

    recs = ctx.run_c("benchmarks/fedavg/bench_fedavg")
    packs = [r for r in recs if r["name"].startswith("pack_values_per_s_")]
    slowest = min(packs, key=lambda r: r["value"])
    ctx.emit("pack_values_per_s", slowest["value"], "values/s", threads=1,
             slot_bits=slowest["slot_bits"], n=slowest["n"],
             note="slowest of the measured slot widths (24/32/64 bits)")

    # Python-side codec throughput (bindings included), default codec.
    n = 1_000_000
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, n).astype(np.float32)
    c = F.Codec(255, 16, 1e-6, 1.0)
    out = np.empty((c.plaintexts(n), c.plaintext_bytes), np.uint8)
    reps = 3 if ctx.quick else 10
    t = _best(lambda: c.pack(x, out=out), reps)
    ctx.emit("py_pack_values_per_s", n / t, "values/s", slot_bits=c.slot_bits, threads=1)
    y = np.empty(n, np.float32)
    t = _best(lambda: c.unpack(out, n, 1, out=y), reps)
    ctx.emit("py_unpack_values_per_s", n / t, "values/s", slot_bits=c.slot_bits, threads=1)

    for m in (3, 10, 100):
        if ctx.quick and m == 100:
            continue
        X = rng.uniform(-1, 1, (m, n)).astype(np.float32)
        w = rng.integers(50, 500, m).astype(np.float64)
        ours_out = np.empty(n, np.float32)
        variants = numpy_variants(X, w, fits=m <= 10)
        r = 2 if ctx.quick else (4 if m == 100 else 10)
        # Alternate ours and numpy's so that drift hits both alike.
        t_ours, t_np = float("inf"), {k: float("inf") for k in variants}
        for _ in range(r):
            # Called within this iteration; the defaults bind this iteration's arrays.
            t_ours = min(t_ours, _best(lambda X=X, w=w, o=ours_out: F.average(X, w, out=o), 1))
            for k, fn in variants.items():
                t_np[k] = min(t_np[k], _best(fn, 1))
        ref = variants["numpy_loop"]()
        dev = float(np.max(np.abs(ref.astype(np.float64) - ours_out)))
        fastest = min(t_np, key=t_np.get)
        ratio = t_ours / t_np[fastest]
        details = {k: round(v * 1e3, 3) for k, v in t_np.items()}
        ctx.emit(f"fedavg_vs_numpy_{m}", ratio, "ratio", participants=m, n=n,
                 ours_ms=round(t_ours * 1e3, 3), numpy_ms=details, numpy_variant=fastest,
                 max_abs_diff=dev)
        if m == 10:
            ctx.emit("fedavg_vs_numpy", ratio, "ratio", participants=m, n=n,
                     ours_ms=round(t_ours * 1e3, 3), numpy_ms=details, numpy_variant=fastest)
        # Packed FedAvg (codec + big-integer sums) on the same data, for the record.
        if m <= 10:
            codec = F.Codec(255, int(w.sum()), 1e-6, 1.0)
            def packed(codec=codec, X=X, w=w, m=m):
                acc = codec.pack(X[0], weight=int(w[0]))
                for i in range(1, m):
                    codec.add(acc, codec.pack(X[i], weight=int(w[i])))
                return codec.unpack(acc, n, int(w.sum()))
            tp = _best(packed, 2 if ctx.quick else 4)
            got = packed()
            ctx.emit(f"fedavg_packed_ms_{m}", tp * 1e3, "ms", participants=m, n=n,
                     slot_bits=codec.slot_bits,
                     max_dev_vs_plain=float(np.max(np.abs(got.astype(np.float64) - ours_out))),
                     bound=codec.error_bound + 2.0**-23)
            del packed  # its defaults hold X
        del X
