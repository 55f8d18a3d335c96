"""e2e suite: the three-hospital experiment (`fedshare demo`), measured.

Keys (../shared/BENCHMARKS.md), all from one run of the demo with its default
configurations (logistic regression and MLP, even and skewed splits):
  max_dev_encrypted_vs_plain  largest |encrypted − plain FedAvg| parameter
                              difference over every round of every configuration,
                              on the very updates the hospitals uploaded; target:
                              the codec's stated bound ("bound").
  accuracy_gap_pp             centralized − federated (encrypted) test accuracy,
                              the worst configuration, percentage points.
  rounds_extra                federated − centralized rounds to stop, worst.
  overhead_share              (crypto + consensus) ÷ round wall time, logistic
                              regression on the even split.
  demo_seconds                wall time of the whole demo (after the build).
--quick: logistic regression, even split, 10 rounds (a smoke run; not for RESULTS.md).
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time


def run(ctx):
    with tempfile.TemporaryDirectory(prefix="fedshare-e2e-") as tmp:
        cmd = [sys.executable, "-m", "fedshare", "demo", "--json", "--report", tmp + "/report"]
        if ctx.quick:
            cmd += ["--model", "logreg", "--split", "even", "--rounds", "10"]
        t0 = time.monotonic()
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
        wall = time.monotonic() - t0
        if p.returncode not in (0, 1):
            raise RuntimeError(f"fedshare demo failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
        for line in p.stdout.splitlines():
            if line.startswith("{"):
                rec = json.loads(line)
                name, value, unit = rec.pop("name"), rec.pop("value"), rec.pop("unit")
                rec.pop("suite", None)
                if name == "demo_seconds":
                    rec["process_seconds"] = round(wall, 1)
                ctx.emit(name, value, unit, **rec)
