"""`fedshare consortium member add|remove|approve|status`: replicas added and
removed by quorum (docs/ledger-protocol.md §Membership changes). Each takes the
consortium configuration (--config) and the member's key file (--key), prints
what it did as JSON, and exits 0 on success, 1 on an error, 2 on a usage
error, 3 when the ledger refused the act (not a member, a proposal already
open or a change not yet in force, a key already used, fewer than 4 replicas
left, a repeated approval). Changing a member's roles is not built."""
from __future__ import annotations

import json
import sys

from .. import errors
from .args import input_file, integer
from .upgrade import EXIT_REFUSED, _member, _refused


def _run(fn):
    def wrapper(args) -> int:
        try:
            with _member(args) as m:
                out = fn(m, args)
        except errors.Error as e:
            if _refused(e):
                print(f"fedshare consortium member {args.member_command}: refused: {e}",
                      file=sys.stderr)
                return EXIT_REFUSED
            raise
        print(json.dumps(out, indent=2))
        return 0
    return wrapper


def _replica_key(args) -> str:
    if args.replica_key_file:
        from .tasks import _seed

        from .. import ledger

        return ledger.Signer(_seed(args.replica_key_file)).public_key.hex()
    return args.replica_key


@_run
def _add(m, args):
    tx = m.replica_add(_replica_key(args), args.address)
    return {"proposed": "add_replica", "tx": tx.hex(), "change": m.membership_change()}


@_run
def _remove(m, args):
    tx = m.replica_remove(_replica_key(args))
    return {"proposed": "remove_replica", "tx": tx.hex(), "change": m.membership_change()}


@_run
def _approve(m, args):
    tx = m.membership_approve(args.id)
    # still open, or decided by this approval (then recorded under its id)
    change = m.membership_change()
    if change is None or change["id"] != args.id:
        change = m.membership_change(args.id)
    return {"approved": args.id, "tx": tx.hex(), "change": change}


@_run
def _status(m, args):
    return {"membership": m.membership(args.height),
            "change": m.membership_change(args.id) if args.id else m.membership_change()}


def add_parsers(cs) -> None:
    """Register `consortium member …` on the `consortium` subparsers."""
    u = cs.add_parser("member", help="replicas added and removed by quorum: add, remove, "
                                     "approve, status",
                      description="A change takes force two blocks after more than two thirds "
                                  "of the members approved it (docs/ledger-protocol.md "
                                  "§Membership changes).")
    us = u.add_subparsers(dest="member_command", metavar="ACTION", required=True)

    def common(p):
        p.add_argument("--config", required=True, type=input_file,
                       help="consortium configuration file")
        p.add_argument("--key", required=True, type=input_file,
                       help="this member's key file (64 hex)")

    def replica(p):
        g = p.add_mutually_exclusive_group(required=True)
        g.add_argument("--replica-key", help="the replica's Ed25519 public key, 64 hex")
        g.add_argument("--replica-key-file", type=input_file,
                       help="the replica's key file (its seed; only the public key is used)")

    p = us.add_parser("add", help="propose adding a replica (counts as this member's approval)")
    common(p)
    replica(p)
    p.add_argument("--address", required=True,
                   help="the replica's host:port, as the nodes' configuration lists it")
    p.set_defaults(func=_add)
    p = us.add_parser("remove", help="propose removing a replica")
    common(p)
    replica(p)
    p.set_defaults(func=_remove)
    p = us.add_parser("approve", help="approve the open proposal")
    common(p)
    p.add_argument("id", type=integer(1, 2**63), help="the proposal id")
    p.set_defaults(func=_approve)
    p = us.add_parser("status", help="the replicas in force and the open (or a) proposal")
    common(p)
    p.add_argument("--height", type=integer(1, 2**63), default=None,
                   help="membership at this height (default: the next block's)")
    p.add_argument("--id", type=integer(1, 2**63), default=None, help="a decided proposal")
    p.set_defaults(func=_status)
