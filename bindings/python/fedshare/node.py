"""Run one consortium node (a PBFT replica running the contracts) in this
process, and verify a stopped node's stored chain.

``fedshare node CONFIG`` calls :func:`run`; the configuration file format is in
docs/guides/fedshare-node.md.
"""
from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from . import errors
from ._native import code_value
from .consortium import check, check_config, ffi, lib

PathLike = Union[str, "os.PathLike[str]"]

# Log state of every running node: the node's threads write to it until stop(),
# so it lives here, not only in the Node object a caller might drop unstopped.
_LOGS: Dict[int, Any] = {}  # node handle address -> its fedshare_py_log
_E_UPGRADE_NEEDED = code_value("LEDGER_E_UPGRADE_NEEDED")
#: exit status of `fedshare node` when it halted for a contract version it lacks
EXIT_UPGRADE_NEEDED = 4


class Node:
    """A running node; :meth:`stop` (or the context manager) stops it cleanly.

    The node's messages (an invalid configuration line, view changes, a stored
    chain that fails verification) go to stderr only with ``log_stderr=True``
    (the ``fedshare node`` command sets it; ``log_debug`` adds block fetches);
    a failed start names its cause in the exception either way.
    """

    def __init__(self, config: PathLike, *, id: Optional[int] = None,
                 data_dir: Optional[PathLike] = None, seed: Optional[bytes] = None,
                 sync: Optional[bool] = None, block_period_ms: int = 0,
                 metrics_port: Optional[int] = None, blob_quota_mib: int = 0,
                 blob_limit_mib: int = 0, log_stderr: bool = False, log_debug: bool = False):
        o = ffi.new("fedshare_node_options *")
        o.version = lib.FEDSHARE_NODE_OPTIONS_VERSION
        o.id = -1 if id is None else int(id)
        keep = []
        if data_dir is not None:
            keep.append(ffi.new("char[]", os.fsencode(os.fspath(data_dir))))
            o.data_dir = keep[-1]
        if seed is not None:
            if len(seed) != 32:
                raise errors.InvalidInputError("seed must be 32 bytes")
            keep.append(ffi.new("uint8_t[32]", seed))
            o.seed = keep[-1]
        o.sync = 0 if sync is None else (1 if sync else 2)
        o.block_period_ms = block_period_ms
        o.metrics_port = -1 if metrics_port is None else int(metrics_port)
        o.blob_quota_mib = int(blob_quota_mib)  # 0: 1024 MiB per member
        o.blob_limit_mib = int(blob_limit_mib)  # 0: half the store's map
        log = ffi.new("fedshare_py_log *")
        log.to_stderr = 1 if log_stderr else 0
        o.log = ffi.addressof(lib, "fedshare_py_log_fn")
        o.log_ctx = log
        o.log_level = lib.LEDGER_LOG_DEBUG if log_debug else lib.LEDGER_LOG_INFO
        p = ffi.new("fedshare_node **")
        rc = lib.fedshare_node_start(p, os.fsencode(os.fspath(config)), o)
        if rc < 0 and log.last_error[0] != b"\0":
            detail = ffi.string(log.last_error).decode(errors="replace")
            try:
                check(rc)
            except errors.Error as exc:
                raise type(exc)(f"{exc}: {detail}", code=rc, library=exc.library) from None
        check(rc)
        self._p = p[0]
        _LOGS[int(ffi.cast("uintptr_t", self._p))] = log

    @property
    def metrics_port(self) -> int:
        return int(lib.fedshare_node_metrics_port(self._p))

    @property
    def height(self) -> int:
        return int(lib.ledger_node_height(lib.fedshare_node_replica(self._p)))

    def tip(self) -> Tuple[int, int, bytes, bytes]:
        """(height, view, header hash, state root) of the node's chain."""
        t = ffi.new("ledger_tip *")
        r = lib.fedshare_node_replica(self._p)
        check(lib.ledger_node_tip(r, t))
        return (int(t.height), int(lib.ledger_node_view(r)), bytes(t.hash), bytes(t.state_root))

    def halted(self) -> Optional[Dict[str, Any]]:
        """None while the node runs; the upgrade plan (name, version, height) once it
        halted because that plan put in force a contract version this build lacks."""
        info = ffi.new("ledger_upgrade_info *")
        rc = lib.fedshare_node_halted(self._p, info)
        if rc == 0:
            return None
        if rc != _E_UPGRADE_NEEDED:
            check(rc)
        return {"name": ffi.string(info.name).decode(), "version": int(info.version),
                "height": int(info.height)}

    def metrics(self) -> str:
        """The Prometheus text the metrics endpoint serves."""
        out = ffi.new("char **")
        check(lib.fedshare_node_metrics(self._p, out))
        try:
            return str(ffi.string(out[0]).decode())
        finally:
            lib.fedshare_free(out[0])

    def stop(self) -> None:
        if getattr(self, "_p", None) is not None:
            lib.fedshare_node_stop(self._p)
            _LOGS.pop(int(ffi.cast("uintptr_t", self._p)), None)
            self._p = None

    def __enter__(self) -> "Node":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def verify_store(config: PathLike, data_dir: Optional[PathLike] = None) -> None:
    """Verify a stopped node's chain end to end; raises
    :class:`fedshare.VerificationError` naming the first bad block."""
    bad = ffi.new("uint64_t *")
    rc = lib.fedshare_verify_store(os.fsencode(os.fspath(config)),
                                   os.fsencode(os.fspath(data_dir)) if data_dir else ffi.NULL,
                                   bad)
    if rc == code_value("LEDGER_E_CORRUPT") or (rc < 0 and bad[0]):
        raise errors.VerificationError(f"stored chain fails at block {bad[0]}", code=rc,
                                       library="ledger")
    check_config(rc, config)


def _raise_fd_limit() -> None:
    """The node holds up to max_pending_conns + max_clients + 3n sockets (1,292 by
    default with 4 replicas), above the usual soft limit of 1,024: raise it to the hard one."""
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY or hard > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ImportError, ValueError, OSError):
        pass  # keep the limit we have; the node then pauses accepting when out of descriptors


def run(config: PathLike, *, status_file: Optional[PathLike] = None,
        console_port: Optional[int] = None, **kw: Any) -> int:
    """Run a node until SIGTERM or SIGINT; prints ``ready ID METRICS_PORT HEIGHT``, and the
    node's messages on stderr (LC_DEBUG set in the environment: block fetches too).
    Returns 0, or EXIT_UPGRADE_NEEDED (4) when the node halted because an upgrade put in
    force a contract version this build lacks (it executed nothing at or past that height).
    With ``console_port`` it also serves the read-only web console on 127.0.0.1 and
    prints ``console URL`` after the ready line (docs/guides/console.md)."""
    kw.setdefault("log_stderr", True)
    kw.setdefault("log_debug", bool(os.environ.get("LC_DEBUG")))
    _raise_fd_limit()
    stop = threading.Event()
    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, lambda *_: stop.set())
    with Node(config, **kw) as node:
        ident = kw.get("id")
        print(f"ready {-1 if ident is None else ident} {node.metrics_port} {node.height}",
              flush=True)
        stop_console = _console(config, console_port, ident, node, kw.get("data_dir"))
        def write_status() -> None:
            if status_file:
                h, v, hh, sr = node.tip()
                tmp = f"{status_file}.tmp"
                with open(tmp, "w") as f:
                    f.write(f"{h} {v} {hh.hex()} {sr.hex()}\n")
                os.replace(tmp, status_file)

        while not stop.wait(0.1):
            write_status()
            halt = node.halted()
            if halt is not None:  # exit status 4 (docs/fedshare-contracts.md §Versions)
                # the blocks up to the halt may have executed since the write
                # above: the file states the tip the node stopped at
                write_status()
                print(f"fedshare node: UPGRADE NEEDED: upgrade \"{halt['name']}\" puts contract "
                      f"version {halt['version']} in force at height {halt['height']}; this "
                      f"build executes versions 1 to {lib.FEDSHARE_CONTRACT_VERSION_MAX} "
                      f"(halted at height {node.height})", file=sys.stderr, flush=True)
                stop_console()
                return EXIT_UPGRADE_NEEDED
        stop_console()  # (a daemon thread: it cannot outlive the process either way)
    return 0


def _console(config: PathLike, port: Optional[int], ident: Optional[int], node: Node,
             data_dir: Optional[PathLike]) -> Callable[[], None]:
    """Start the console beside the node (``--console PORT``); returns its stop function."""
    if port is None:
        return lambda: None
    from .console import start_background

    metrics = {ident: node.metrics_port} if ident is not None and node.metrics_port else {}
    stores = {f"node{ident}": os.fspath(data_dir)} if ident is not None and data_dir else {}
    url, stop = start_background(config, port=port, metrics=metrics, stores=stores)
    print(f"console {url}", flush=True)
    stopper: Callable[[], None] = stop
    return stopper


def free_port() -> int:
    """A loopback TCP port free now, for a node on one machine (the demo, the
    tests). Random in [20000, 32768): below the kernel's ephemeral range
    (32768-60999 by default), which is where ``bind(0)`` would pick from and
    where every outgoing connection takes its source port, so a client cannot
    take the port between this call and the node's bind."""
    import random
    import socket

    rng = random.SystemRandom()
    for _ in range(1000):
        port = rng.randrange(20000, 32768)
        if port in _HANDED_OUT:  # free now, but promised to a node not yet started
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            _HANDED_OUT.add(port)
            return port
    raise errors.ResourceError("no free loopback port in 20000-32767")


# Ports this process has handed out: a consortium's configuration asks for
# several before any node binds one, and two equal random draws made a
# configuration with two replicas on one address (a fresh-clone make test
# failed with "replicas 0 and 1 share a key or address").
_HANDED_OUT: set[int] = set()


def node_argv(config: PathLike, *, id: int, key: PathLike, data_dir: PathLike,
              sync: bool = True, metrics_port: Optional[int] = None,
              status_file: Optional[PathLike] = None, extra: Sequence[str] = ()) -> List[str]:
    """The command line of ``fedshare node`` for one replica, run by this Python."""
    argv = [sys.executable, "-m", "fedshare", "node", os.fspath(config), "--id", str(id),
            "--key", os.fspath(key), "--data", os.fspath(data_dir), "--sync", "1" if sync else "0"]
    if metrics_port is not None:
        argv += ["--metrics-port", str(metrics_port)]
    if status_file is not None:
        argv += ["--status-file", os.fspath(status_file)]
    return argv + list(extra)


class NodeProcess:
    """A node in a process of its own: the one launcher the demo, the tests and
    the benchmarks use (``fedshare node``, or any program that prints the same
    ``ready ...`` line, such as ``fedshare-ledger-node``).

    The process runs in its own session, so :meth:`kill` takes its whole group
    and nothing outlives the caller. Starting waits for the ready line, bounded
    by ``timeout``; a node that exits or stays silent raises
    :class:`fedshare.Error` quoting the end of its log.
    """

    def __init__(self, argv: Sequence[str], log: PathLike, *, timeout: float = 30.0,
                 env: Optional[Dict[str, str]] = None):
        self.argv = [os.fspath(a) for a in argv]
        self.log = Path(log)
        with open(self.log, "ab") as logf:
            self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=logf,
                                         env=env, start_new_session=True)
        try:
            self.ready = self._wait_ready(timeout)
        except BaseException:
            self.kill()
            raise

    def _wait_ready(self, timeout: float) -> Tuple[str, ...]:
        deadline = time.monotonic() + timeout
        buf = b""
        assert self.proc.stdout is not None  # started with stdout=PIPE
        fd = self.proc.stdout.fileno()
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise errors.TimeoutError_(f"node did not start within {timeout:g} s; "
                                           f"log {self.log}:\n{self.log_tail()}")
            r, _, _ = select.select([fd], [], [], left)
            if r:
                chunk = os.read(fd, 256)
                if not chunk:  # exited before its ready line
                    self.proc.wait()
                    raise errors.Error(f"node exited with status {self.proc.returncode} before "
                                       f"it was ready; log {self.log}:\n{self.log_tail()}")
                buf += chunk
        line = buf.split(b"\n", 1)[0].decode(errors="replace")
        if not line.startswith("ready"):
            raise errors.Error(f"node printed {line!r} instead of its ready line; "
                               f"log {self.log}:\n{self.log_tail()}")
        return tuple(line.split()[1:])

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then SIGKILL to the group if it has not exited within ``timeout``."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._close_pipe()
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL the node's whole process group (a crash, as far as peers can tell)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self._close_pipe()

    def _close_pipe(self) -> None:
        if self.proc.stdout is not None and not self.proc.stdout.closed:
            self.proc.stdout.close()


__all__ = ["Node", "NodeProcess", "free_port", "node_argv", "run", "verify_store"]
