"""`fedshare demo --server-optimizer` (issue 14): the demo creates its training
task with FedAdam as a task option; the ledger's task record names it with
the learning rate given, the centers train from and evaluate the optimizer's
model x_r, and the run completes with the accuracy reported."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from fedshare import errors, serveropt
from fedshare._demo import experiment

pytest.importorskip("torch")
pytest.importorskip("matplotlib")


def test_demo_with_fedadam_records_it_on_the_task_and_completes(tmp_path):
    report = tmp_path / "report"
    r = subprocess.run(
        [sys.executable, "-m", "fedshare", "demo", "--model", "logreg", "--split", "even",
         "--rounds", "3", "--key-ceremony", "dealt", "--server-optimizer", "fedadam",
         "--server-lr", "0.05", "--report", str(report), "--json"],
        capture_output=True, text=True, timeout=900)
    out = r.stdout
    assert r.returncode == 0, out + r.stderr
    want = serveropt.Adam(eta=0.05).describe()
    # read back from the regulator's copy of the task record on the ledger
    assert f"the task on the ledger names server optimizer adam ({want})" in out
    assert "server optimizer: FedAdam (eta 0.05, beta_1 0.9, beta_2 0.99, tau 0.001)" in out
    line = next(x for x in out.splitlines() if "federated (encrypted)" in x)
    assert " %" in line and "rounds" in line  # accuracy and rounds reported
    keys = {json.loads(x)["name"]: json.loads(x) for x in out.splitlines() if x.startswith("{")}
    assert keys["max_dev_encrypted_vs_plain"]["server_optimizer"] == "adam"
    assert keys["max_dev_encrypted_vs_plain"]["value"] <= keys["max_dev_encrypted_vs_plain"][
        "bound"]
    md = (report / "report.md").read_text()
    assert "- server optimizer: FedAdam (eta 0.05" in md
    assert "PASS" in out


def test_server_optimizer_options_are_checked():
    ns = argparse.Namespace(server_optimizer="fedyogi", server_lr=0.02, server_beta1=None,
                            server_beta2=0.9, server_tau=None)
    opt = experiment.server_optimizer_of(ns)
    assert opt == serveropt.Yogi(eta=0.02, beta_2=0.9)
    assert experiment.optimizer_name(opt).startswith("FedYogi (eta 0.02")
    ns = argparse.Namespace(server_optimizer="fedavg", server_lr=0.02, server_beta1=None,
                            server_beta2=None, server_tau=None)
    with pytest.raises(errors.InvalidInputError, match="need --server-optimizer"):
        experiment.server_optimizer_of(ns)
    ns.server_lr = None
    assert experiment.server_optimizer_of(ns) is None
    r = subprocess.run([sys.executable, "-m", "fedshare", "demo", "--server-optimizer", "sgd"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "invalid choice" in r.stderr
    r = subprocess.run([sys.executable, "-m", "fedshare", "demo", "--server-optimizer",
                        "fedadam", "--server-beta1", "1"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2 and "out of range" in r.stderr
