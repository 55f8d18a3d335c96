"""fedshare under a real Flower deployment: a SuperLink and three SuperNodes as
processes (flwr 1.42's `flower-superlink`, `flower-supernode`), the app
(tests/python/flower_app) submitted with `flwr run`, against a live fedshare
consortium (four `fedshare node` processes, three key-holder processes).

Each SuperNode names its consortium member in its node config
(``fedshare-config``, ``fedshare-key``): the path a deployment uses, where the
simulation test passes a function of the partition instead. The ServerApp runs
in the SuperLink's ServerApp process, the ClientApps in the SuperNodes' — the
mod and the strategy meet only through Flower's messages and the ledger.

Offline: everything listens on loopback; the SuperLink is started with
``--disable-runtime-dependency-installation`` (the SuperNodes install nothing
by default), so the app runs in this environment and nothing is fetched.
Flower's telemetry is off. Waits: the task's "done" phase on the ledger (the
aggregator waits block by block), the key holders' and `flwr run`'s exits,
each bounded."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("flwr")
pytest.importorskip("sklearn")

from fedshare.node import free_port  # noqa: E402

from guide_fixtures import python_blocks  # noqa: E402

HERE = Path(__file__).resolve().parent
GUIDE = HERE.parents[1] / "docs" / "guides" / "flower.md"
APP = HERE / "flower_app"
BIN = Path(sys.executable).parent
# seconds for each wait (the whole test took 157–193 s at load average 20–30 on 2 cores)
TIMEOUT = 300


def _start(argv, log: Path, env) -> subprocess.Popen:
    # its own session, so that the test can stop it with everything it started
    return subprocess.Popen(argv, stdout=open(log, "wb"), stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)


def _wait_listening(port: int, p: subprocess.Popen, log: Path, timeout: float) -> None:
    """Until the process accepts connections on ``port`` (it says so by
    accepting), or has exited (then its log says why), or ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing listens on {port} after {timeout} s: "
                                 f"{log.read_text()[-2000:]}")
        try:  # a pause that ends at once if the process exits
            p.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            continue
        raise AssertionError(f"{p.args[0]} exited ({p.returncode}): {log.read_text()[-2000:]}")


def _stop(p: subprocess.Popen) -> None:
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGTERM)
            p.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


@pytest.mark.skipif(not all((BIN / b).exists() for b in ("flower-superlink",
                                                         "flower-supernode", "flwr")),
                    reason="flwr's scripts are not beside this interpreter")
def test_flower_deployment_superlink_supernodes_flwr_run(consortium, tmp_path):
    ns: dict = {"__name__": "guide", "os": os}  # (the guide's block 2 imports os)
    blocks = python_blocks(GUIDE)
    # the guide's task, with two rounds instead of three: every message here
    # starts a ClientApp process, so a round costs several seconds more than
    # in the simulation
    task_block = blocks[0].replace("round_limit=3", "round_limit=2")
    assert task_block != blocks[0]
    exec(compile(task_block, "flower.md[1]", "exec"), ns)  # noqa: S102 (the task)
    agg, task_id = ns["aggregator"], ns["task_id"]
    np.savez(tmp_path / "initial.npz", *ns["initial"].to_numpy_ndarrays())
    app = tmp_path / "app"
    shutil.copytree(APP, app, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "flwr-home").mkdir()
    link = free_port()
    (tmp_path / "flwr-home" / "config.toml").write_text(
        f'[superlink]\ndefault = "test"\n\n[superlink.test]\n'
        f'address = "127.0.0.1:{link}"\ninsecure = true\n')
    env = dict(os.environ, FLWR_HOME=str(tmp_path / "flwr-home"), FLWR_TELEMETRY_ENABLED="0",
               PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    procs = []
    try:
        exec(compile(blocks[3], "flower.md[4]", "exec"), ns)  # noqa: S102 (key holders)
        procs.append(_start([str(BIN / "flower-superlink"), "--insecure",
                             "--disable-runtime-dependency-installation",
                             "--port", str(link)], tmp_path / "superlink.log", env))
        # `flwr run` connects once: the SuperLink must listen first (the
        # SuperNodes retry on their own)
        _wait_listening(link, procs[0], tmp_path / "superlink.log", TIMEOUT)
        for pid, name in enumerate(ns["HOSPITALS"]):
            node_config = (f'partition-id={pid} '
                           f'fedshare-config="{tmp_path / "consortium.conf"}" '
                           f'fedshare-key="{tmp_path / (name + ".key")}"')
            procs.append(_start([str(BIN / "flower-supernode"), "--insecure",
                                 "--superlink", f"127.0.0.1:{link}", "--port", str(free_port()),
                                 "--node-config", node_config],
                                tmp_path / f"supernode-{pid}.log", env))
        run_config = (f'fedshare-config="{tmp_path / "consortium.conf"}" '
                      f'aggregator-key="{tmp_path / "aggregator.key"}" '
                      f'task-id="{task_id.hex()}" initial="{tmp_path / "initial.npz"}" '
                      f'result="{tmp_path / "result.json"}"')
        run = subprocess.run([str(BIN / "flwr"), "run", str(app), "test", "--stream",
                              "--run-config", run_config], env=env, capture_output=True,
                             text=True, timeout=TIMEOUT)
        assert run.returncode == 0, (run.stdout[-3000:] + run.stderr[-3000:] + "\nsuperlink: "
                                     + (tmp_path / "superlink.log").read_text()[-3000:])
        # the task ends on the ledger; the key holders then exit
        task = agg.wait_phase(task_id, 1 << 30, ["done"], timeout=TIMEOUT)
        for p in ns["holders"]:
            assert p.wait(timeout=120) == 0
    finally:
        for p in ns.get("holders", []):
            if p.poll() is None:
                p.kill()
                p.wait()
        for p in procs:
            _stop(p)

    assert task["phase"] == 6 and task["round"] == 2 and task["stop_reason"] == 2
    assert len(task["metrics"]) == 2 and task["metrics"][-1] > 0.85
    # the ServerApp's result: Flower's final model is the ledger's, round by round
    result = json.loads((tmp_path / "result.json").read_text())
    assert [h["round"] for h in result["history"]] == [1, 2]
    for h in result["history"]:
        rnd = agg.round(task_id, h["round"])
        assert h["global_model"] == rnd["global_model"]
        # one update and one evaluation per participant: each SuperNode acted
        # as the member its node config names
        assert [u["present"] for u in rnd["updates"]] == [True] * 3
        assert all(u["evaluated"] for u in rnd["updates"])
    assert result["final_model"] == task["global_model"]
    assert result["evaluate"]["2"]["fedshare-done"] == 1
