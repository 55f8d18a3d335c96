"""Issue 23, defect 7: every `fedshare` command refuses a bad number or a file
it cannot use with one line on stderr and exit code 2 — never a traceback —
and the secret files the CLI and the library write are mode 0600 from the
start (checked under umask 0). No node is needed: every refusal here happens
before anything is sent."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

HEX_ID = "ab" * 32


def run_cli(*args, umask=None, user=None, cwd=None):
    def pre():
        if umask is not None:
            os.umask(umask)
        if user is not None:
            os.setgid(user)
            os.setuid(user)
    return subprocess.run([sys.executable, "-m", "fedshare", *map(str, args)],
                          capture_output=True, text=True, timeout=120, cwd=cwd,
                          preexec_fn=pre if (umask is not None or user is not None) else None)


def assert_usage_error(r, *needles):
    err = r.stderr
    assert r.returncode == 2, (r.returncode, err)
    assert "Traceback" not in err, err
    assert err.endswith("\n") and err.count("\n") == 1, f"not one line: {err!r}"
    for n in needles:
        assert n in err, (n, err)


@pytest.fixture()
def files(tmp_path):
    conf = tmp_path / "c.conf"
    conf.write_text("")
    key = tmp_path / "m.key"
    key.write_text("cd" * 32)
    data = tmp_path / "d.csv"
    data.write_text("a,y\n1,0\n")
    return tmp_path, conf, key, data


def _member_cmds(conf, key, data):
    c = ["--config", conf, "--key", key]
    return {
        "access": ["access", "request", *c, "--data-id", HEX_ID],
        "task": ["task", "create", *c, "--model-id", HEX_ID, "--key-id", HEX_ID,
                 "--aggregator", "a", "--participant", f"a={HEX_ID}"],
        "trace": ["audit", "trace", *c, "--task", HEX_ID],
        "ceremony": ["keys", "ceremony", *c, "--holders", "a", "b", "--out", data.parent / "o"],
        "train": ["train", *c, "--task", HEX_ID],
        "node": ["node", conf],
        "demo": ["demo"],
    }


# (command, option, bad values, words the message must contain)
BAD_NUMBERS = [
    ("access", "--days", ["nan", "inf", "-inf", "1e300", "0", "-1", "36501", "x"], "--days"),
    ("access", "--uses", ["-1", "0", "4294967296", "1.5", "1e3", "nan"], "--uses"),
    ("task", "--lr", ["nan", "inf", "0", "-0.1", "1e309"], "--lr"),
    ("task", "--batch-size", ["0", "-1", "4294967296"], "--batch-size"),
    ("task", "--upload-every", ["0", "4294967296"], "--upload-every"),
    ("task", "--round-limit", ["0", "1001", "-5"], "--round-limit"),
    ("task", "--plaintext-bytes", ["0", "65537"], "--plaintext-bytes"),
    ("task", "--max-weight", ["0", "4294967296"], "--max-weight"),
    ("task", "--precision", ["nan", "0", "-1e-6", "inf"], "--precision"),
    ("task", "--clip", ["inf", "0", "-1", "nan", "1e39"], "--clip"),
    ("trace", "--max", ["0", "1000001", "-1"], "--max"),
    ("trace", "--from-time", ["-1", "1.5", "99999999999999999999"], "--from-time"),
    ("trace", "--to-time", ["-1", "nan"], "--to-time"),
    ("ceremony", "--threshold", ["0", "65", "-1"], "--threshold"),
    ("ceremony", "--bits", ["1024", "nan", "2047"], "--bits"),
    ("train", "--hidden", ["0", "65537"], "--hidden"),
    ("train", "--eval-fraction", ["0", "1", "1.5", "nan", "-inf"], "--eval-fraction"),
    ("train", "--seed", ["-1", "4294967296"], "--seed"),
    ("train", "--timeout", ["0", "nan", "inf", "-3", "1e300"], "--timeout"),
    ("train", "--threads", ["-1", "257"], "--threads"),
    ("train", "--standby", ["-1", "nan", "inf", "1e300"], "--standby"),
    ("train", "--torch-threads", ["0", "257"], "--torch-threads"),
    ("node", "--id", ["-1", "64", "2147483648"], "--id"),
    ("node", "--metrics-port", ["-1", "65536"], "--metrics-port"),
    ("node", "--block-period", ["-1", "3600001", "4294967296"], "--block-period"),
    ("node", "--sync", ["2", "-1"], "--sync"),
    ("demo", "--rounds", ["0", "1001"], "--rounds"),
    ("demo", "--lr", ["nan", "0", "inf"], "--lr"),
    ("demo", "--seed", ["-1", "4294967296"], "--seed"),
    ("demo", "--key-bits", ["1024", "inf"], "--key-bits"),
]


@pytest.mark.parametrize("cmd,option,values,needle", BAD_NUMBERS,
                         ids=[f"{c}{o}" for c, o, _, _ in BAD_NUMBERS])
def test_every_numeric_option_is_range_checked(files, cmd, option, values, needle):
    tmp, conf, key, data = files
    base = _member_cmds(conf, key, data)[cmd]
    for v in values:
        r = run_cli(*base, f"{option}={v}")
        assert_usage_error(r, needle)


def test_the_reported_values(files):
    """The exact commands of the report: each used to end in a traceback."""
    tmp, conf, key, data = files
    acc = _member_cmds(conf, key, data)["access"]
    for opt, v in (("--days", "nan"), ("--days", "inf"), ("--days", "1e300"),
                   ("--uses", "-1"), ("--uses", "4294967296")):
        assert_usage_error(run_cli(*acc, opt, v), opt)
    r = run_cli("data", "register", "--config", conf, "--key", key, "--file", tmp / "missing",
                "--label", "x")
    assert_usage_error(r, "--file", "missing", "No such file")


def test_every_file_option_reports_a_missing_file_or_a_directory(files):
    tmp, conf, key, data = files
    missing, a_dir = tmp / "nothing", tmp / "adir"
    a_dir.mkdir()
    c = ["--config", conf, "--key", key]
    cases = [
        (["access", "request", "--config", "{}", "--key", key, "--data-id", HEX_ID], "--config"),
        (["access", "request", "--config", conf, "--key", "{}", "--data-id", HEX_ID], "--key"),
        (["keys", "show", "--config", conf, "--key", "{}", "--key-id", HEX_ID], "--key"),
        (["data", "register", *c, "--file", "{}", "--label", "x"], "--file"),
        (["train", *c, "--task", HEX_ID, "--data", "{}", "--label", "y"], "--data"),
        (["train", *c, "--task", HEX_ID, "--scale", "{}"], "--scale"),
        (["train", *c, "--task", HEX_ID, "--share", "{}"], "--share"),
        (["train", "--config", "{}", "--key", key, "--task", HEX_ID], "--config"),
        (["node", "{}"], "config"),
        (["node", conf, "--key", "{}"], "--key"),
        (["verify-chain", "{}"], "config"),
        (["demo", "--data", "{}", data, data, "--label", "y"], "--data"),
    ]
    for argv, needle in cases:
        for bad, why in ((missing, "No such file"), (a_dir, "directory")):
            r = run_cli(*[bad if a == "{}" else a for a in argv])
            assert_usage_error(r, needle, why)
    # outputs: a directory where a file goes, a file in a missing directory,
    # a file where a directory goes
    for argv, needle in [
        (["train", *c, "--task", HEX_ID, "--report-json", a_dir], "--report-json"),
        (["train", *c, "--task", HEX_ID, "--dump-updates", missing / "x.npz"], "--dump-updates"),
        (["data", "register", *c, "--file", data, "--label", "x", "--seal-key", a_dir],
         "--seal-key"),
        (["node", conf, "--status-file", missing / "s"], "--status-file"),
        (["keys", "ceremony", *c, "--holders", "a", "--threshold", "1", "--out", data], "--out"),
        (["demo", "--workdir", data], "--workdir"),
        (["verify-chain", conf, "--data", data], "--data"),
    ]:
        assert_usage_error(run_cli(*argv), needle)


def test_bad_key_file_contents_are_one_line(files):
    tmp, conf, key, data = files
    for content in (b"xyz", b"\xff\xfe\x00binary", b"ab" * 31, b""):
        bad = tmp / "bad.key"
        bad.write_bytes(content)
        for argv in (["access", "request", "--config", conf, "--key", bad, "--data-id", HEX_ID],
                     ["node", conf, "--key", bad],
                     ["train", "--config", conf, "--key", bad, "--task", HEX_ID]):
            assert_usage_error(run_cli(*argv), "64 hex")
        sk = tmp / "bad.seal.key"
        sk.write_bytes(content)
        r = run_cli("data", "register", "--config", conf, "--key", key, "--file", data,
                    "--label", "x", "--seal-key", sk)
        assert_usage_error(r, "--seal-key", "64 hex")


def _world_dir():
    """A scratch directory another user may enter (pytest's tmp_path is 0700)."""
    d = Path(tempfile.mkdtemp(prefix="fedshare-cli-perm-"))
    d.chmod(0o755)
    return d


class _Result:
    def __init__(self, returncode, stderr):
        self.returncode, self.stderr = returncode, stderr


def _run_as_nobody(argv):
    """Root reads and writes through any mode bits, so as root the CLI runs in
    a forked child that has become 'nobody' (uid/gid 65534). The child cannot
    exec this interpreter (it may live under /root), so it runs fedshare.cli
    in the already loaded interpreter; everything it imports is loaded here
    first."""
    from fedshare import cli, consortium  # noqa: F401 (loaded before the fork)

    cli.build_parser()  # imports every subcommand's module
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        rc = 70
        try:
            os.close(rfd)
            os.dup2(wfd, 2)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            sys.stderr = os.fdopen(2, "w", buffering=1)
            rc = cli.main([str(a) for a in argv])
            sys.stderr.flush()
        except SystemExit as e:
            rc = e.code if isinstance(e.code, int) else 1
        except BaseException:
            import traceback

            traceback.print_exc()
        finally:
            try:
                sys.stderr.flush()
            finally:
                os._exit(rc)
    os.close(wfd)
    with os.fdopen(rfd, "rb") as f:
        err = f.read().decode()
    _, status = os.waitpid(pid, 0)
    return _Result(os.waitstatus_to_exitcode(status), err)


def _run_unprivileged(*argv):
    return _run_as_nobody(argv) if os.geteuid() == 0 else run_cli(*argv)


def test_unreadable_and_unwritable_files_are_one_line():
    """Permission errors, at parse time (unreadable inputs) and when writing
    (a directory that may not be written)."""
    import shutil

    d = _world_dir()
    try:
        conf, key, data = d / "c.conf", d / "m.key", d / "d.csv"
        conf.write_text("")
        key.write_text("cd" * 32)
        data.write_text("a,y\n1,0\n")
        for p in (conf, key, data):
            p.chmod(0o644)
        locked = d / "locked"
        locked.write_text("cd" * 32)
        locked.chmod(0)
        for argv, needle in [
            (["access", "request", "--config", conf, "--key", locked, "--data-id", HEX_ID],
             "--key"),
            (["access", "request", "--config", locked, "--key", key, "--data-id", HEX_ID],
             "--config"),
            (["data", "register", "--config", conf, "--key", key, "--file", locked,
              "--label", "x"], "--file"),
            (["node", locked], "config"),
        ]:
            assert_usage_error(_run_unprivileged(*argv), needle, "Permission denied")
        # FILE.key and FILE.sealed go beside FILE: a directory nobody may write
        ro = d / "ro"
        ro.mkdir()
        (ro / "d.csv").write_text("a,y\n1,0\n")
        (ro / "d.csv").chmod(0o644)
        ro.chmod(0o555)
        r = _run_unprivileged("data", "register", "--config", conf, "--key", key, "--file",
                              ro / "d.csv", "--label", "x")
        assert_usage_error(r, "Permission denied", "d.csv.key")
        assert not (ro / "d.csv.key").exists()
    finally:
        for p in d.rglob("*"):
            if p.is_dir():
                p.chmod(0o755)
        shutil.rmtree(d)


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.lstat().st_mode)


def test_secret_files_are_created_0600_under_umask_0(files):
    tmp, conf, key, data = files
    # data register: the seal key is created before the consortium is asked
    # (the empty configuration then fails the act: exit 1, the key is kept)
    r = run_cli("data", "register", "--config", conf, "--key", key, "--file", data,
                "--label", "x", umask=0)
    assert "Traceback" not in r.stderr and r.returncode in (1, 2), r.stderr
    seal_key = Path(str(data) + ".key")
    assert _mode(seal_key) == 0o600
    assert len(bytes.fromhex(seal_key.read_text())) == 32
    # an existing key is used again, never rewritten
    before = seal_key.read_bytes()
    run_cli("data", "register", "--config", conf, "--key", key, "--file", data, "--label", "x",
            umask=0)
    assert seal_key.read_bytes() == before and _mode(seal_key) == 0o600
    # an explicit --seal-key path
    sk = tmp / "explicit.key"
    run_cli("data", "register", "--config", conf, "--key", key, "--file", data, "--label", "x",
            "--seal-key", sk, umask=0)
    assert _mode(sk) == 0o600
    # the demo consortium's node and member seeds
    code = ("import os, sys, pathlib; os.umask(0); "
            "from fedshare._demo.experiment import Consortium; "
            "Consortium(pathlib.Path(sys.argv[1]))")
    work = tmp / "work"
    work.mkdir()
    subprocess.run([sys.executable, "-c", code, str(work)], check=True, timeout=120)
    keys = sorted(work.glob("*.key"))
    assert len(keys) == 8
    for k in keys:
        assert _mode(k) == 0o600, k
    # the helper itself: never world-readable, refuses to replace or follow
    from fedshare._cli.args import write_secret

    old = os.umask(0)
    try:
        write_secret(tmp / "s1", b"x")
        with pytest.raises(FileExistsError):
            write_secret(tmp / "s1", b"y")
        (tmp / "link").symlink_to(tmp / "target")
        with pytest.raises(FileExistsError):
            write_secret(tmp / "link", b"z")
        assert not (tmp / "target").exists()
    finally:
        os.umask(old)
    assert _mode(tmp / "s1") == 0o600 and (tmp / "s1").read_bytes() == b"x"
