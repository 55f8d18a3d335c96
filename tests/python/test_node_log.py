"""The libraries do not print (docs/contributing.md): a configuration error
reaches the Python caller as exception text, a node started from Python writes
nothing to stderr unless asked, and the ``fedshare node`` command still prints
the node's messages on stderr (through the log callback it sets)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from fedshare import errors, ledger
from fedshare.node import Node

from fedshare_cluster import Consortium


def _bad_f(tmp_path):
    """A consortium file whose line 2 is an invalid `f` setting."""
    c = Consortium(tmp_path)
    lines = c.config.read_text().splitlines()
    assert lines[1] == "f 1"
    lines[1] = "f x"
    bad = tmp_path / "bad.conf"
    bad.write_text("\n".join(lines) + "\n")
    return bad, bytes.fromhex((tmp_path / "node0.key").read_text())


def test_ledger_config_error_names_the_line(capfd):
    text = "chain_id " + "01" * 32 + "\nbogus 1\n"
    with pytest.raises(errors.InvalidInputError) as e:
        ledger.Config(text)
    assert "line 2: invalid setting 'bogus'" in str(e.value)
    assert e.value.code == -250
    assert capfd.readouterr().err == ""


def test_node_start_error_in_exception_not_on_stderr(tmp_path, capfd):
    bad, seed = _bad_f(tmp_path)
    with pytest.raises(errors.Error) as e:
        Node(bad, id=0, seed=seed, data_dir=tmp_path / "d0")
    assert "ledger config: line 2: invalid setting 'f'" in str(e.value)
    # a bad member line: fedshare's own parser, the file's line
    (tmp_path / "m").mkdir()
    c = Consortium(tmp_path / "m")
    lines = c.config.read_text().splitlines()
    n = next(i for i, line in enumerate(lines) if line.startswith("member"))
    lines[n] = "member broken"
    (tmp_path / "m" / "bad.conf").write_text("\n".join(lines) + "\n")
    with pytest.raises(errors.Error) as e:
        Node(tmp_path / "m" / "bad.conf", id=0, seed=seed, data_dir=tmp_path / "d1")
    assert f"line {n + 1}: invalid fedshare setting" in str(e.value)
    assert capfd.readouterr().err == ""


def test_node_is_quiet_by_default(tmp_path, capfd):
    c = Consortium(tmp_path)
    seed = bytes.fromhex((tmp_path / "node0.key").read_text())
    with Node(c.config, id=0, seed=seed, data_dir=tmp_path / "d0", metrics_port=0) as node:
        assert node.height == 0
    assert capfd.readouterr().err == ""


def test_node_command_prints_the_line(tmp_path):
    bad, _ = _bad_f(tmp_path)
    r = subprocess.run([sys.executable, "-m", "fedshare", "node", str(bad), "--id", "0",
                        "--key", str(tmp_path / "node0.key"), "--data", str(tmp_path / "d")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    # the node's own message (the log callback writing to stderr), as before
    assert "ledger config: line 2: invalid setting 'f'" in r.stderr.splitlines(), r.stderr
    assert "Traceback" not in r.stderr


def test_member_and_verify_store_name_the_line(tmp_path, capfd):
    from fedshare.consortium import Member
    from fedshare.node import verify_store

    bad, seed = _bad_f(tmp_path)
    with pytest.raises(errors.Error) as e:
        Member(bad, seed, timeout_ms=1000)
    assert "ledger config: line 2: invalid setting 'f'" in str(e.value)
    with pytest.raises(errors.Error) as e:
        verify_store(bad, tmp_path / "d")
    assert "ledger config: line 2: invalid setting 'f'" in str(e.value)
    assert capfd.readouterr().err == ""
