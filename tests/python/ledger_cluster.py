"""A cluster of fedshare-ledger-node processes on loopback, for the tests.

Each node runs in its own session (process group); :meth:`Cluster.close`
kills every group with SIGKILL, so nothing outlives a test. Ports come from
the kernel (bind to port 0), so parallel runs do not collide.
"""
from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Dict, List, Optional

from fedshare import ledger, node
from fedshare.node import NodeProcess

ROOT = Path(__file__).resolve().parents[2]


def node_binary(fault: bool = False) -> Optional[Path]:
    name = "fedshare-ledger-node-fault" if fault else "fedshare-ledger-node"
    env = os.environ.get("FEDSHARE_LEDGER_NODE_FAULT" if fault else "FEDSHARE_LEDGER_NODE")
    p = Path(env) if env else ROOT / "build" / "libledger" / "src" / "consensus" / "node" / name
    return p if p.exists() else None


def free_port() -> int:
    return node.free_port()  # below the ephemeral range: see there


class Cluster:
    def __init__(self, tmp: Path, n: int = 4, fault: bool = False, block_period_ms: int = 10,
                 view_timeout_ms: int = 1000, trace_dir: Optional[Path] = None):
        self.tmp, self.n, self.f = tmp, n, (n - 1) // 3
        self.binary = node_binary(fault)
        # trace validation (docs/formal.md): with the fault-injection node, each
        # replica appends its protocol events to trace_dir/replica-<i>.trace
        self.trace_dir = trace_dir
        self._faults: Dict[int, str] = {}
        self.procs: Dict[int, NodeProcess] = {}
        self.view_timeout_ms = view_timeout_ms
        lines = [f"chain_id {hashlib.sha256(str(tmp).encode()).hexdigest()}", f"f {self.f}",
                 f"block_period_ms {block_period_ms}", f"view_timeout_ms {view_timeout_ms}"]
        for i in range(n):
            seed = hashlib.sha256(f"node-{i}-{tmp}".encode()).digest()
            (tmp / f"node{i}.key").write_text(seed.hex())
            pk = ledger.Signer(seed).public_key
            lines.append(f"replica {i} 127.0.0.1:{free_port()} {pk.hex()}")
        self.config_path = tmp / "ledger.conf"
        self.config_path.write_text("\n".join(lines) + "\n")
        self.config = ledger.Config.load(str(self.config_path))

    def start(self, i: int, timeout: float = 20.0) -> None:
        args = [str(self.binary), str(self.config_path), "--id", str(i), "--key",
                str(self.tmp / f"node{i}.key"), "--data", str(self.tmp / f"data{i}"),
                "--sync", "0", "--status-file", str(self.tmp / f"status{i}")]
        if "fault" in self.binary.name:
            args += ["--fault-file", str(self.tmp / f"fault{i}")]
            if self.trace_dir is not None:  # read once at start, before the loop runs
                (self.tmp / f"fault{i}").write_text(self._fault_text(i, self._faults.get(i, "")))
        self.procs[i] = NodeProcess(args, self.tmp / f"log{i}", timeout=timeout)

    def start_all(self) -> None:
        for i in range(self.n):
            self.start(i)

    def kill(self, i: int) -> None:
        """kill -9 the node's whole process group."""
        p = self.procs.pop(i, None)
        if p is not None:
            p.kill()

    def _fault_text(self, i: int, text: str) -> str:
        if self.trace_dir is None:
            return text
        return f"trace {self.trace_dir / f'replica-{i}.trace'}\n" + text

    def set_fault(self, i: int, text: str) -> None:
        path = self.tmp / f"fault{i}"
        tmp = self.tmp / f"fault{i}.tmp"
        self._faults[i] = text
        tmp.write_text(self._fault_text(i, text))
        os.replace(tmp, path)
        now = time.time()
        self._fault_gen = getattr(self, "_fault_gen", 0) + 1
        os.utime(path, (now, now + self._fault_gen))  # a new mtime even within a second
        # the node acknowledges the settings it applied (FILE.applied: their mtime)
        want = str(int(os.stat(path).st_mtime))
        ack = self.tmp / f"fault{i}.applied"
        deadline = time.monotonic() + 30
        while True:
            try:
                if ack.read_text().strip() == want:
                    return
            except OSError:
                pass
            if i not in self.procs or time.monotonic() > deadline:
                raise AssertionError(f"node {i} did not apply fault settings {want}")
            time.sleep(0.01)

    def status(self, i: int) -> Optional[List[str]]:
        try:
            return (self.tmp / f"status{i}").read_text().split()
        except OSError:
            return None

    def wait_converged(self, ids, timeout: float = 60.0, min_height: int = 0) -> List[List[str]]:
        """Wait until the given nodes report the same height (at least
        ``min_height``), header hash and state root."""
        deadline = time.monotonic() + timeout
        while True:
            st = [self.status(i) for i in ids]
            if (all(st) and len({(s[0], s[2], s[3]) for s in st}) == 1
                    and int(st[0][0]) >= min_height):
                return st
            if time.monotonic() > deadline:
                raise AssertionError(f"replicas did not converge: {st}")
            time.sleep(0.1)

    def client(self) -> ledger.Client:
        return ledger.Client(self.config, timeout_ms=5000)

    def close(self) -> None:
        for i in list(self.procs):
            self.kill(i)
