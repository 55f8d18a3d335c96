"""A consortium of `python -m fedshare node` processes on loopback, for the tests.

Four replicas (f = 1) and five members: three hospitals (provider, key
holder), a regulator, and an aggregator that also publishes models. Each node
is a :class:`fedshare.node.NodeProcess` (the demo's launcher too), in its own
session; :meth:`Consortium.close` kills every group, so nothing outlives a
test. Ports: :func:`fedshare.node.free_port` (below the ephemeral range).
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from fedshare import ledger, node
from fedshare.node import NodeProcess, node_argv

MEMBERS = [
    ("hospital-a", "provider,keyholder", "hospital-a"),
    ("hospital-b", "provider,keyholder", "hospital-b"),
    ("hospital-c", "provider,keyholder", "hospital-c"),
    ("regulator", "regulator", "regulator"),
    ("aggregator", "aggregator,publisher", "consortium"),
]


def free_port() -> int:
    return node.free_port()  # below the ephemeral range: see there


class Consortium:
    def __init__(self, tmp: Path, block_period_ms: int = 10,
                 extra_members: Sequence[Tuple[str, str, str]] = (), spare_replicas: int = 0):
        """``spare_replicas``: replicas 4, 5, … are configured but not in the
        genesis membership (``genesis_replicas 4``); they join by a membership change."""
        self.tmp = tmp
        self.procs: Dict[int, NodeProcess] = {}
        self.metrics: Dict[int, int] = {}
        self.addresses: List[str] = []
        lines = [f"chain_id {hashlib.sha256(str(tmp).encode()).hexdigest()}", "f 1",
                 f"block_period_ms {block_period_ms}", "view_timeout_ms 1000"]
        if spare_replicas:
            lines.append("genesis_replicas 4")
        for i in range(4 + spare_replicas):
            seed = hashlib.sha256(f"node-{i}-{tmp}".encode()).digest()
            (tmp / f"node{i}.key").write_text(seed.hex())
            pk = ledger.Signer(seed).public_key.hex()
            self.addresses.append(f"127.0.0.1:{free_port()}")
            lines.append(f"replica {i} {self.addresses[-1]} {pk}")
        self.seeds: List[bytes] = []
        for name, roles, org in [*MEMBERS, *extra_members]:
            seed = hashlib.sha256(f"member-{name}-{tmp}".encode()).digest()
            self.seeds.append(seed)
            pk = ledger.Signer(seed).public_key
            lines.append(f"member {name} {pk.hex()} roles={roles} org={org} credentials=irb")
        self.config = tmp / "consortium.conf"
        self.config.write_text("\n".join(lines) + "\n")

    def public_key(self, i: int) -> bytes:
        return ledger.Signer(self.seeds[i]).public_key

    def start(self, i: int, timeout: float = 30.0) -> None:
        port = self.metrics.setdefault(i, free_port())
        argv = node_argv(self.config, id=i, key=self.tmp / f"node{i}.key",
                         data_dir=self.tmp / f"data{i}", sync=False, metrics_port=port,
                         status_file=self.tmp / f"status{i}")
        self.procs[i] = NodeProcess(argv, self.tmp / f"node{i}.log", timeout=timeout)

    def start_all(self) -> None:
        for i in range(4):
            self.start(i)

    def kill(self, i: int) -> None:
        p = self.procs.pop(i, None)
        if p is not None:
            p.kill()

    def stop(self, i: int) -> None:
        p = self.procs.pop(i, None)
        if p is not None:
            p.stop(timeout=20)

    def status(self, i: int):
        try:
            h, v, hh, sr = (self.tmp / f"status{i}").read_text().split()
            return int(h), int(v), hh, sr
        except (FileNotFoundError, ValueError):
            return None

    def close(self) -> None:
        for i in list(self.procs):
            self.kill(i)
