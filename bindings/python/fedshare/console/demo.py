"""The end of `make demo` in a terminal: the demo's four nodes started again
on their stores, and the console serving them on 127.0.0.1 until Ctrl-C
(`fedshare demo --console`)."""
from __future__ import annotations

import socket
from pathlib import Path
from typing import Dict, List

from .. import errors
from .._cli.args import read_hex_secret


def _free_port() -> int:
    from ..node import free_port  # below the ephemeral range: see there

    return free_port()


def _port(preferred: int) -> int:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            return 0


def serve_workdir(work: Path, *, sync: bool = False, port: int = 8600) -> int:
    """Start the nodes of a demo work directory (consortium.conf, nodeI.key,
    nodeI/), serve the console with the members' keys (NAME.member.key)
    unlocked, and stop the nodes when the console stops (Ctrl-C)."""
    from . import serve
    from ..ledger import Config
    from ..consortium import config_ledger_text

    config = work / "consortium.conf"
    n = Config(config_ledger_text(config)).replicas
    if not all((work / f"node{i}.key").exists() and (work / f"node{i}").is_dir()
               for i in range(n)):
        raise errors.Error(f"{work}: not a demo work directory (nodeI.key, nodeI/)")
    from ..node import NodeProcess, node_argv

    procs: List[NodeProcess] = []
    metrics: Dict[int, int] = {}
    try:
        for i in range(n):
            metrics[i] = _free_port()
            procs.append(NodeProcess(node_argv(config, id=i, key=work / f"node{i}.key",
                                               data_dir=work / f"node{i}", sync=sync,
                                               metrics_port=metrics[i]),
                                     work / f"node{i}.log"))
        seeds = {f.name[:-len(".member.key")]: read_hex_secret(f, "member key")
                 for f in sorted(work.glob("*.member.key"))}
        serve(config, port=_port(port), seeds=seeds, metrics=metrics,
              stores={f"node{i}": str(work / f"node{i}") for i in range(n)},
              announce=lambda line: print(
                  f"fedshare demo: the {line.replace('console ', 'console is at ')} "
                  "(the nodes run until Ctrl-C)", flush=True))
    finally:
        for p in procs:
            p.stop()
    return 0


__all__ = ["serve_workdir"]
