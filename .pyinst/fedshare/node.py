"""Run one consortium node (a PBFT replica running the contracts) in this
process, and verify a stopped node's stored chain.

``fedshare node CONFIG`` calls :func:`run`; the configuration file format is in
docs/guides/fedshare-node.md.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Optional, Union

from . import errors
from .consortium import check, ffi, lib

PathLike = Union[str, "os.PathLike[str]"]


class Node:
    """A running node; :meth:`stop` (or the context manager) stops it cleanly."""

    def __init__(self, config: PathLike, *, id: Optional[int] = None,
                 data_dir: Optional[PathLike] = None, seed: Optional[bytes] = None,
                 sync: Optional[bool] = None, block_period_ms: int = 0,
                 metrics_port: Optional[int] = None):
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
        p = ffi.new("fedshare_node **")
        check(lib.fedshare_node_start(p, os.fsencode(os.fspath(config)), o))
        self._p = p[0]

    @property
    def metrics_port(self) -> int:
        return int(lib.fedshare_node_metrics_port(self._p))

    @property
    def height(self) -> int:
        return int(lib.ledger_node_height(lib.fedshare_node_replica(self._p)))

    def tip(self) -> tuple:
        """(height, view, header hash, state root) of the node's chain."""
        t = ffi.new("ledger_tip *")
        r = lib.fedshare_node_replica(self._p)
        check(lib.ledger_node_tip(r, t))
        return (int(t.height), int(lib.ledger_node_view(r)), bytes(t.hash), bytes(t.state_root))

    def metrics(self) -> str:
        """The Prometheus text the metrics endpoint serves."""
        out = ffi.new("char **")
        check(lib.fedshare_node_metrics(self._p, out))
        try:
            return ffi.string(out[0]).decode()
        finally:
            lib.fedshare_free(out[0])

    def stop(self) -> None:
        if getattr(self, "_p", None) is not None:
            lib.fedshare_node_stop(self._p)
            self._p = None

    def __enter__(self) -> "Node":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def verify_store(config: PathLike, data_dir: Optional[PathLike] = None) -> None:
    """Verify a stopped node's chain end to end; raises
    :class:`fedshare.VerificationError` naming the first bad block."""
    bad = ffi.new("uint64_t *")
    rc = lib.fedshare_verify_store(os.fsencode(os.fspath(config)),
                                   os.fsencode(os.fspath(data_dir)) if data_dir else ffi.NULL,
                                   bad)
    if rc == -211 or (rc < 0 and bad[0]):  # LEDGER_E_CORRUPT
        raise errors.VerificationError(f"stored chain fails at block {bad[0]}", code=rc,
                                       library="ledger")
    check(rc)


def run(config: PathLike, *, status_file: Optional[PathLike] = None, **kw) -> int:
    """Run a node until SIGTERM or SIGINT; prints ``ready ID METRICS_PORT HEIGHT``."""
    stop = threading.Event()
    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, lambda *_: stop.set())
    with Node(config, **kw) as node:
        ident = kw.get("id")
        print(f"ready {-1 if ident is None else ident} {node.metrics_port} {node.height}",
              flush=True)
        while not stop.wait(0.1):
            if status_file:
                h, v, hh, sr = node.tip()
                tmp = f"{status_file}.tmp"
                with open(tmp, "w") as f:
                    f.write(f"{h} {v} {hh.hex()} {sr.hex()}\n")
                os.replace(tmp, status_file)
    return 0


__all__ = ["Node", "run", "verify_store"]
