"""e2e suite: the three-hospital experiment (`fedshare demo`), measured.

Keys (../shared/BENCHMARKS.md), all from one run of the demo with its default
configurations (logistic regression and MLP, even and skewed splits):
  max_dev_encrypted_vs_plain  largest |encrypted − plain FedAvg| parameter
                              difference over every round of every configuration,
                              on the very updates the hospitals uploaded; target:
                              the codec's stated bound ("bound").
  accuracy_gap_pp             centralized − federated (encrypted) accuracy on
                              each center's held-out test records, averaged over
                              the centers (as multi-center benchmarks report),
                              the worst configuration, percentage points; "ci95"
                              is its 95 % interval, paired record by record
                              (fedshare._demo.experiment.center_gap_interval);
                              "per_config" gives [gap, low, high] of each.
                              accuracy_gap_pp_pooled: the same on the pooled
                              test records (the key's earlier definition).
  rounds_extra                federated − centralized rounds to stop, worst;
                              both stop rules read accuracy over the same
                              records, the union of the centers' evaluation
                              records (the ledger's sample-weighted metric;
                              the baseline's pooled evaluation). "per_config":
                              [centralized, encrypted, plain FedAvg] rounds;
                              plain_rounds_extra: plain FedAvg − centralized.
                              rounds_extra_test (report): rounds the encrypted
                              run needs beyond the centralized model to first
                              reach the centralized model's accuracy at its
                              stop, on the per-center test records averaged
                              over centers (per_config: [target %, centralized
                              round, extra or null]).
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
