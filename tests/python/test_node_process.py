"""fedshare.node.NodeProcess, the one node launcher of the demo, tests and
benchmarks: it waits for the ready line, and a node that fails to start is an
exception quoting its log, never a hang or a half-started process left behind."""
import os
import sys

import pytest

import fedshare
import fedshare.errors
from fedshare.node import NodeProcess, node_argv


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def test_ready_line_is_parsed_and_stop_ends_the_process(tmp_path):
    prog = "import sys, signal; print('ready 2 9100 7', flush=True); signal.pause()"
    p = NodeProcess([sys.executable, "-c", prog], tmp_path / "n.log", timeout=30)
    assert p.ready == ("2", "9100", "7")
    assert p.running()
    assert p.stop(timeout=30) == -15  # SIGTERM
    assert not p.running()


def test_exit_before_ready_names_the_status_and_quotes_the_log(tmp_path):
    prog = "import sys; sys.stderr.write('bad config line 3\\n'); sys.exit(4)"
    with pytest.raises(fedshare.Error, match=r"status 4[\s\S]*bad config line 3"):
        NodeProcess([sys.executable, "-c", prog], tmp_path / "n.log", timeout=30)


def test_a_silent_node_times_out_and_is_killed(tmp_path):
    pidfile = tmp_path / "pid"
    prog = f"import os, time; open({str(pidfile)!r}, 'w').write(str(os.getpid())); time.sleep(600)"
    with pytest.raises(fedshare.errors.TimeoutError_):  # also the builtin TimeoutError
        NodeProcess([sys.executable, "-c", prog], tmp_path / "n.log", timeout=1)
    pid = int(pidfile.read_text())
    assert not _alive(pid)  # killed with its group, not left running


def test_a_wrong_first_line_is_refused(tmp_path):
    prog = "import time; print('hello', flush=True); time.sleep(600)"
    with pytest.raises(fedshare.Error, match="instead of its ready line"):
        NodeProcess([sys.executable, "-c", prog], tmp_path / "n.log", timeout=30)


def test_node_argv_is_the_fedshare_node_command(tmp_path):
    argv = node_argv(tmp_path / "c.conf", id=3, key=tmp_path / "k", data_dir=tmp_path / "d",
                     sync=False, metrics_port=0, status_file=tmp_path / "s")
    assert argv[:4] == [sys.executable, "-m", "fedshare", "node"]
    assert argv[argv.index("--id") + 1] == "3" and argv[argv.index("--sync") + 1] == "0"
    assert argv[argv.index("--status-file") + 1] == str(tmp_path / "s")


def test_free_port_is_below_the_ephemeral_range_and_binds():
    import socket

    from fedshare.node import free_port

    lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    for _ in range(20):
        port = free_port()
        assert 20000 <= port < 32768 and port < max(lo, 32768)
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))  # free when returned
