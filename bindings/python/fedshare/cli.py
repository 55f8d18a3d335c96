"""The `fedshare` command line.

Subcommands are added as their rooms land; each has ``--help``, prints errors
to stderr and returns a non-zero exit code on failure: 2 for a bad argument or
a file that cannot be read or written (one line, nothing was done), 1 for an
error of the consortium or a library.
"""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

from . import __version__
from ._cli.args import (ArgumentParser, UsageError, input_dir, input_file, integer, output_path,
                        read_hex_secret)
from ._cli.args import report as _report_usage
from .errors import Error


def _cmd_demo(args: argparse.Namespace) -> int:
    from ._demo import command as demo

    return demo.run(args)


def _cmd_node(args: argparse.Namespace) -> int:
    from . import node

    seed = read_hex_secret(args.key, "--key") if args.key else None
    return node.run(args.config, id=args.id, data_dir=args.data, sync=args.sync,
                    block_period_ms=args.block_period, metrics_port=args.metrics_port,
                    seed=seed, status_file=args.status_file,
                    blob_quota_mib=args.blob_quota_mib, blob_limit_mib=args.blob_limit_mib,
                    console_port=args.console)


def _mib(text: str) -> int:
    """A size in MiB for --blob-quota-mib / --blob-limit-mib: 0 … 4194304 (4 TiB)."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of MiB: {text!r}") from None
    if not 0 <= v <= 4194304:
        raise argparse.ArgumentTypeError(f"out of range 0 … 4194304 MiB: {v}")
    return v


def _cmd_verify_chain(args: argparse.Namespace) -> int:
    from . import node

    node.verify_store(args.config, args.data)
    print(f"{args.data or 'chain'}: every block verifies (links, Merkle roots, certificates, "
          "signatures, state roots)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="fedshare", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"fedshare {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    d = sub.add_parser("demo", help="the three-hospital experiment of the seed paper",
                       description="Three hospitals train one model without sharing records "
                                   "(four nodes, a 2-of-3 key, encrypted rounds), compared with "
                                   "centralized training; writes a report.")
    from ._demo import command as _demo

    _demo.add_arguments(d)
    d.set_defaults(func=_cmd_demo)

    try:
        from ._cli.train import add_train_parser
    except ImportError:  # the trainer needs the torch extra
        pass
    else:
        add_train_parser(sub)

    from ._cli import tasks as _cli_tasks

    _cli_tasks.add_parsers(sub)

    from ._cli import proof as _cli_proof
    from ._cli import upgrade as _cli_upgrade

    _cli_upgrade.add_parsers(sub)
    _cli_proof.add_parsers(sub)
    from ._cli import policy as _cli_policy  # fedshare policy diff|check|lint (optional z3)

    _cli_policy.add_parsers(sub)

    from . import console as _console

    _console.add_parser(sub)

    n = sub.add_parser("node", help="run one consortium node (a PBFT replica with the contracts)",
                       description="Run one node until SIGTERM/SIGINT; prints "
                                   "'ready ID METRICS_PORT HEIGHT' once serving. Exits 4 "
                                   "when an upgrade puts in force a contract version this "
                                   "build lacks (UPGRADE NEEDED, nothing executed at or past "
                                   "its height).")
    n.add_argument("config", type=input_file, help="consortium configuration file")
    n.add_argument("--id", type=integer(0, 63), default=None,
                   help="replica index, 0 … 63 (default: the file's id)")
    n.add_argument("--data", default=None, help="data directory (default: the file's data_dir)")
    n.add_argument("--key", type=input_file, default=None,
                   help="file with the node's 64-hex Ed25519 seed")
    n.add_argument("--sync", type=integer(0, 1), choices=(0, 1), default=None,
                   help="1: fsync every block (default); 0: no fsync (tests)")
    n.add_argument("--block-period", type=integer(0, 3_600_000), default=0,
                   help="longest block wait, ms (0 … 3600000; 0: the file's)")
    n.add_argument("--metrics-port", type=integer(0, 65535), default=None,
                   help="health/metrics HTTP port on 127.0.0.1 (0: none)")
    n.add_argument("--status-file", type=output_path, default=None,
                   help="rewrite 'HEIGHT VIEW HASH ROOT' here")
    n.add_argument("--blob-quota-mib", type=_mib, default=0,
                   help="blob MiB each consortium member may store on this node (0: 1024)")
    n.add_argument("--blob-limit-mib", type=_mib, default=0,
                   help="the store's blob high-water mark, MiB (0: half the LMDB map)")
    n.add_argument("--console", type=integer(0, 65535), default=None, metavar="PORT",
                   help="also serve the read-only web console on 127.0.0.1:PORT (0: any free "
                        "port); docs/guides/console.md")
    n.set_defaults(func=_cmd_node)

    v = sub.add_parser("verify-chain", help="verify a stopped node's stored chain end to end",
                       description="Re-check every hash link, Merkle root, certificate, "
                                   "signature and state root; name the first bad block.")
    v.add_argument("config", type=input_file, help="consortium configuration file")
    v.add_argument("--data", type=input_dir, default=None, help="the node's data directory")
    v.set_defaults(func=_cmd_verify_chain)
    return p


def main(argv: "Sequence[str] | None" = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    prog = f"fedshare {args.command}"
    try:
        return int(args.func(args) or 0)
    except (UsageError, OSError) as exc:  # a bad argument or file: one line, exit 2
        return _report_usage(prog, exc)
    except Error as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
