"""Prototype, not shipped: variants of the robust anomaly rule's cosine test,
measured on the robust suite's synthetic consortia (benchmarks/suites/robust.py,
the same 40 seeds and 40 rounds). `Proto` is a numpy copy of libfedavg's robust
rule (MAD pool + per-member baseline; it reproduces the C rule's figures
exactly with the defaults) with three switches: the cosine test two-sided,
the cosine judged against the round's updates only (not pooled with the
history), and the cosine floor / k. Findings: benchmarks/results/robust.md
§Prototype. Run: PYTHONPATH=<installed package> python benchmarks/results/robust-prototype.py
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "suites"))
import robust as R  # noqa: E402
from fedshare.fedavg import RoundJudge  # noqa: E402


class Proto:
    """numpy copy of the robust rule; cosine one- or two-sided, pooled with the
    history or the round only."""

    def __init__(self, two_sided=False, k=3.5, fc=0.15, fn=0.4, round_only=False):
        self.two, self.k, self.fc, self.fn, self.ro = two_sided, k, fc, fn, round_only
        self.hm, self.hs = [], []

    def judge(self, members, norms, cos):
        m = len(norms)
        med = np.median(norms)
        ratio = np.minimum(norms / med, 1e6) if med > 0 else np.ones(m)
        logs = np.log(np.maximum(ratio, 1e-6))
        hs = np.array(self.hs[-1024:]).reshape(-1, 2)
        hm = self.hm[-1024:]
        pl = np.r_[logs, np.log(np.maximum(hs[:, 0], 1e-6))]
        mu = np.median(pl)
        su = max(1.4826 * np.median(np.abs(pl - mu)), self.fn)
        pc = np.asarray(cos) if self.ro else np.r_[cos, hs[:, 1]]
        mc = np.median(pc)
        sc = max(1.4826 * np.median(np.abs(pc - mc)), self.fc)
        v = np.zeros(m, dtype=np.uint8)
        for i in range(m):
            bad = False
            if m >= 3:
                d = abs(cos[i] - mc) if self.two else mc - cos[i]
                bad = abs(logs[i] - mu) > self.k * su or d > self.k * sc
            own = [np.log(max(s[0], 1e-6)) for mm, s in zip(hm, hs) if mm == i]
            if len(own) >= 5:
                om = np.median(own)
                os_ = max(1.4826 * np.median(np.abs(np.array(own) - om)), self.fn)
                bad = bad or abs(logs[i] - om) > self.k * os_
            v[i] = 1 if bad else 0
        for i in range(m):
            if v[i] != 1:
                self.hm.append(i)
                self.hs.append([ratio[i], cos[i]])
        return v


VARIANTS = [
    ("C robust (shipped)", lambda: RoundJudge("robust")),
    ("proto, as shipped", lambda: Proto()),
    ("two-sided", lambda: Proto(two_sided=True)),
    ("round-only", lambda: Proto(round_only=True)),
    ("round-only, two-sided", lambda: Proto(two_sided=True, round_only=True)),
    ("round-only, floor 0.12", lambda: Proto(round_only=True, fc=0.12)),
    ("round-only, k 3.0", lambda: Proto(round_only=True, k=3.0)),
    ("round-only, floor 0.1 k 3.0", lambda: Proto(round_only=True, k=3.0, fc=0.1)),
]

if __name__ == "__main__":
    for name, make in VARIANTS:
        rows = []
        for seed in range(40):
            rows += R.simulate(seed, make(), lr=0.01)
        s = R.shares(rows)
        print(f"{name:28s} false exclusion {s['false_exclusion_rate']:.4f}  scale "
              f"{s['detection_rate_scale']:.3f}  signflip {s['detection_rate_signflip']:.3f}  "
              f"noise {s['detection_rate_noise']:.3f}  labelflip "
              f"{s['detection_rate_labelflip']:.3f}  drift {s['detection_rate_drift']:.3f}",
              flush=True)
