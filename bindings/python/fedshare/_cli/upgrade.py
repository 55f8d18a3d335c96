"""`fedshare consortium upgrade propose|approve|cancel|status`: contract upgrades
by quorum (docs/fedshare-contracts.md §Versions). Each takes the consortium
configuration (--config) and the member's key file (--key), prints what it did
as JSON, and exits 0 on success, 1 on an error, 2 on a usage error, 3 when the
ledger refused the act (not a member, a plan already open, too short a lead,
a vote after the height, a repeated vote)."""
from __future__ import annotations

import json
import sys

from .. import errors
from .._native import code_value
from .args import input_file, integer

EXIT_REFUSED = 3


def _member(args):
    from ..consortium import Member
    from .tasks import _seed

    return Member(args.config, _seed(args.key))


#: the ledger refused the act (LEDGER_E_REJECTED), or it was built for another
#: contract version (LEDGER_E_TX_APP_VERSION)
_REFUSALS = (code_value("LEDGER_E_REJECTED"), code_value("LEDGER_E_TX_APP_VERSION"),
             code_value("FEDSHARE_E_NOT_MEMBER"))


def _refused(exc: errors.Error) -> bool:
    return getattr(exc, "code", None) in _REFUSALS


def _run(fn):
    def wrapper(args) -> int:
        try:
            with _member(args) as m:
                out = fn(m, args)
        except errors.Error as e:
            if _refused(e):
                print(f"fedshare consortium upgrade {args.upgrade_command}: refused: {e}",
                      file=sys.stderr)
                return EXIT_REFUSED
            raise
        print(json.dumps(out, indent=2))
        return 0
    return wrapper


def _build_hash(args) -> bytes:
    from ..upgrade import build_hash

    if args.build_hash:
        try:
            b = bytes.fromhex(args.build_hash)
        except ValueError:
            b = b""
        if len(b) != 32:
            raise errors.InvalidInputError("--build-hash must be 64 hex characters")
        return b
    return build_hash(args.build)


@_run
def _propose(m, args):
    height = args.height
    if height is None:
        from ..upgrade import LEAD_MIN

        height = m.upgrade_status()["height"] + LEAD_MIN + args.lead_extra
    tx = m.upgrade_propose(args.name, args.version, _build_hash(args), height)
    return {"proposed": args.name, "version": args.version, "height": height, "tx": tx.hex(),
            "plan": m.upgrade_plan(args.name)}


@_run
def _approve(m, args):
    tx = m.upgrade_approve(args.name)
    return {"approved": args.name, "tx": tx.hex(), "plan": m.upgrade_plan(args.name)}


@_run
def _cancel(m, args):
    tx = m.upgrade_cancel(args.name)
    return {"cancel_vote": args.name, "tx": tx.hex(), "plan": m.upgrade_plan(args.name)}


@_run
def _status(m, args):
    return m.upgrade_status(args.name)


def add_parsers(sub) -> None:
    """Register `consortium upgrade …` on the top-level subparsers."""
    c = sub.add_parser("consortium", help="the consortium's own decisions: contract upgrades, "
                                          "replicas")
    cs = c.add_subparsers(dest="consortium_command", metavar="ACTION", required=True)
    from .member import add_parsers as add_member_parsers

    add_member_parsers(cs)
    u = cs.add_parser("upgrade", help="contract upgrades by quorum: propose, approve, cancel, "
                                      "status",
                      description="A plan takes force at its height when more than two thirds "
                                  "of the members approved it before; as many can cancel it "
                                  "before (docs/fedshare-contracts.md §Versions).")
    us = u.add_subparsers(dest="upgrade_command", metavar="ACTION", required=True)

    def common(p):
        p.add_argument("--config", required=True, type=input_file,
                       help="consortium configuration file")
        p.add_argument("--key", required=True, type=input_file,
                       help="this member's key file (64 hex)")

    p = us.add_parser("propose", help="propose a plan (counts as this member's approval)")
    common(p)
    p.add_argument("name", help="plan name: 1 … 64 of A-Z a-z 0-9 . _ -")
    p.add_argument("--version", required=True, type=integer(2, 2**32 - 1),
                   help="the contract version the plan brings")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--build", type=input_file, help="the contract build (its SHA-256 is named)")
    g.add_argument("--build-hash", help="the build's SHA-256, 64 hex")
    p.add_argument("--height", type=integer(1, 2**63), default=None,
                   help="activation height (default: the chain's height + the least lead "
                        "+ --lead-extra)")
    p.add_argument("--lead-extra", type=integer(0, 1_000_000), default=8,
                   help="blocks beyond the least lead when --height is not given (default 8)")
    p.set_defaults(func=_propose)
    for name, fn, what in (("approve", _approve, "approve the open plan"),
                           ("cancel", _cancel, "vote to cancel the open plan")):
        q = us.add_parser(name, help=what)
        common(q)
        q.add_argument("name")
        q.set_defaults(func=fn)
    s = us.add_parser("status", help="the version in force, the height, and a plan")
    common(s)
    s.add_argument("name", nargs="?", default=None, help="plan name (default: the open plan)")
    s.set_defaults(func=_status)
