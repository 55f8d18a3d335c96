"""`fedshare demo` (what `make demo` runs): the three-hospital experiment of the
seed paper (:mod:`fedshare._demo.experiment`), or with ``--crypto-only`` the short
threshold-Paillier check (:mod:`fedshare._demo.threshold`: a 2-of-3 key, three
parties' encrypted vectors summed while encrypted, a verified threshold
decryption, the check against the plain sum)."""
from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    from . import experiment

    p.add_argument("--crypto-only", action="store_true",
                   help="only the threshold-Paillier check (seconds; no nodes, no training)")
    p.add_argument("--console", action="store_true",
                   help="then serve the web console on the demo's nodes until Ctrl-C "
                        "(make demo does in a terminal; docs/guides/console.md)")
    experiment.add_arguments(p)


def run(args: argparse.Namespace) -> int:
    if getattr(args, "crypto_only", False):
        from . import threshold as _demo_threshold

        return _demo_threshold.run(args)
    from . import experiment

    if not getattr(args, "console", False):
        return experiment.run(args)
    import shutil
    import tempfile
    from pathlib import Path

    keep = args.workdir  # the console needs the nodes' stores after the run
    args.workdir = keep or tempfile.mkdtemp(prefix="fedshare-demo-")
    try:
        rc = experiment.run(args)
        from ..console.demo import serve_workdir

        serve_workdir(Path(args.workdir), sync=args.sync)
        return rc
    finally:
        if not keep:
            shutil.rmtree(args.workdir, ignore_errors=True)
