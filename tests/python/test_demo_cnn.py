"""`fedshare demo --model cnn` (issue 12): a convolutional network on
scikit-learn's digits (8×8 images, 10 classes) beside the demo's two binary
models, trained by three center processes through the one participant loop,
aggregated under encryption; the report gives its parameter count and the
per-round time split (each phase by the consensus timestamps of its acts on
the ledger, and the busiest center's own crypto/compute/ledger/waiting
split). Small here (width 4, 16 hidden units: 2,570 parameters, 2 rounds) to
stay fast; the default is 151,306 parameters."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from fedshare._demo import experiment

pytest.importorskip("torch")
pytest.importorskip("matplotlib")
pytest.importorskip("sklearn")


def test_demo_cnn_reports_parameters_and_the_time_split(tmp_path):
    report = tmp_path / "report"
    r = subprocess.run(
        [sys.executable, "-m", "fedshare", "demo", "--model", "cnn", "--cnn-width", "4",
         "--cnn-hidden", "16", "--rounds", "2", "--key-ceremony", "dealt",
         "--report", str(report), "--json"], capture_output=True, text=True, timeout=900)
    out = r.stdout
    assert r.returncode == 0, out + r.stderr
    assert "on scikit-learn's digits" in out and "training cnn on the even split" in out
    line = next(x for x in out.splitlines() if "2,570 parameters; per round (" in x)
    for phase in experiment.PHASES:
        assert phase in line
    keys = {json.loads(x)["name"]: json.loads(x) for x in out.splitlines() if x.startswith("{")}
    dev = keys["max_dev_encrypted_vs_plain"]
    assert dev["configs"] == ["cnn/even"] and dev["value"] <= dev["bound"]
    gap = keys["accuracy_gap_pp"]
    assert gap["ci95"][0] <= gap["value"] <= gap["ci95"][1]
    md = (report / "report.md").read_text()
    assert "## Time per round" in md and "cnn (2,570 parameters), mean over 1 round (round 1" in md
    for phase in experiment.PHASES:
        assert f"| {phase} | " in md
    assert "The busiest center's own split" in md
    assert "a CNN (fedshare.torch.cnn" in md and "10 classes" in md
    assert "PASS" in out


def test_cnn_options_are_checked(tmp_path):
    a = tmp_path / "a.csv"
    a.write_text("x,label\n1,0\n2,1\n")
    r = subprocess.run([sys.executable, "-m", "fedshare", "demo", "--model", "cnn", "--data",
                        str(a), str(a), "--label", "label"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 1 and "--model cnn trains on scikit-learn's digits" in r.stderr
    r = subprocess.run([sys.executable, "-m", "fedshare", "demo", "--model", "cnn",
                        "--split", "skewed"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "even split" in r.stderr
    r = subprocess.run([sys.executable, "-m", "fedshare", "demo", "--model", "cnn",
                        "--cnn-width", "0"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    ds = experiment.load_digits()
    parts = experiment.split_hospitals(ds, "even", __import__("numpy").random.default_rng(1))
    assert sum(len(p) for p in parts) == len(ds.y) == 1797
    for p in parts:  # stratified: every class at every center
        assert len(set(ds.y[p].tolist())) == 10
