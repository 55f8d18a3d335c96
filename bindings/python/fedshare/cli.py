"""The `fedshare` command line.

Subcommands are added as their rooms land; each has ``--help``, prints errors
to stderr and returns a non-zero exit code on failure.
"""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

from . import __version__
from .errors import Error


def _cmd_demo(args: argparse.Namespace) -> int:
    from . import demo

    return demo.run(args)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fedshare", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"fedshare {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    d = sub.add_parser("demo", help="run the most complete end-to-end flow built so far")
    d.add_argument("--seed", type=int, default=None, help="seed for reproducible inputs")
    d.set_defaults(func=_cmd_demo)
    return p


def main(argv: "Sequence[str] | None" = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except Error as exc:
        print(f"fedshare {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
