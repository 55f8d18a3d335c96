"""`fedshare consortium member …`: the consortium's membership changed by quorum.

Replicas (docs/ledger-protocol.md §Membership changes): `add`, `remove`,
`approve ID`. Members (docs/fedshare-contracts.md §Membership): `roles`,
`join`, `retire`, and `approve ID --member` for their proposals (the two kinds
of proposal are numbered apart). `status` shows both: the replicas and the
members in force and the open (or a given) proposal of each kind.

Each takes the consortium configuration (--config) and the member's key file
(--key), prints what it did as JSON, and exits 0 on success, 1 on an error, 2
on a usage error, 3 when the ledger or the contracts refused the act (not a
member, a retired member, a proposal already open or a change not yet in
force, a key already used, fewer than 4 replicas or fewer than t key holders
of a recorded key left, a participant or aggregator of a task in progress, a
repeated approval, an unknown or expired proposal)."""
from __future__ import annotations

import json
import sys

from .. import errors
from .args import input_file, integer
from .._native import code_value
from .upgrade import EXIT_REFUSED, _member, _refused

#: refusals of the member acts by the contracts (their recorded outcome)
_MEMBER_REFUSALS = tuple(code_value(n) for n in (
    "FEDSHARE_E_NOT_MEMBER", "FEDSHARE_E_ROLE", "FEDSHARE_E_EXISTS", "FEDSHARE_E_NOT_FOUND",
    "FEDSHARE_E_STATE", "FEDSHARE_E_QUORUM", "FEDSHARE_E_RETIRED", "FEDSHARE_E_KEYHOLDERS",
    "FEDSHARE_E_IN_TASK"))


def _run(fn):
    def wrapper(args) -> int:
        try:
            with _member(args) as m:
                out = fn(m, args)
        except errors.Error as e:
            if _refused(e) or getattr(e, "code", None) in _MEMBER_REFUSALS:
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


def _member_key(args) -> str:
    if args.member_key_file:
        from .tasks import _seed

        from .. import ledger

        return ledger.Signer(_seed(args.member_key_file)).public_key.hex()
    return args.member_key


def _roles(text: str):
    """--roles: comma-separated role names (an unknown one is a usage error, exit 2)."""
    import argparse

    from ..members import ROLES

    roles = [r for r in text.split(",") if r]
    bad = [r for r in roles if r not in ROLES]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown role {bad[0]!r}: one of {', '.join(ROLES)}")
    return roles


@_run
def _roles_cmd(m, args):
    tx = m.member_roles(_member_key(args), args.roles)
    return {"proposed": "roles", "tx": tx.hex(), "change": m.member_change()}


@_run
def _join(m, args):
    creds = [c for c in (args.credentials or "").split(",") if c]
    tx = m.member_join(_member_key(args), args.name, args.roles, org=args.org or "",
                       credentials=creds)
    return {"proposed": "join", "tx": tx.hex(), "change": m.member_change()}


@_run
def _retire(m, args):
    tx = m.member_retire(_member_key(args))
    return {"proposed": "retire", "tx": tx.hex(), "change": m.member_change()}


@_run
def _approve(m, args):
    if args.member:
        tx = m.member_approve(args.id)
        return {"approved": args.id, "tx": tx.hex(), "change": m.member_change(args.id)}
    tx = m.membership_approve(args.id)
    # still open, or decided by this approval (then recorded under its id)
    change = m.membership_change()
    if change is None or change["id"] != args.id:
        change = m.membership_change(args.id)
    return {"approved": args.id, "tx": tx.hex(), "change": change}


@_run
def _status(m, args):
    return {"membership": m.membership(args.height),
            "change": m.membership_change(args.id) if args.id else m.membership_change(),
            "members": m.members_status(args.height),
            "member_change": (m.member_change(args.member_id) if args.member_id
                              else m.member_change())}


def add_parsers(cs) -> None:
    """Register `consortium member …` on the `consortium` subparsers."""
    u = cs.add_parser("member", help="the membership changed by quorum: replicas (add, "
                                     "remove), members (roles, join, retire), approve, status",
                      description="A change takes force two blocks after more than two thirds "
                                  "of the members approved it (docs/ledger-protocol.md "
                                  "§Membership changes, docs/fedshare-contracts.md "
                                  "§Membership).")
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
    def member(p):
        g = p.add_mutually_exclusive_group(required=True)
        g.add_argument("--member-key", help="the member's Ed25519 public key, 64 hex")
        g.add_argument("--member-key-file", type=input_file,
                       help="the member's key file (its seed; only the public key is used)")

    p = us.add_parser("roles", help="propose that a member hold exactly these roles")
    common(p)
    member(p)
    p.add_argument("--roles", required=True, type=_roles,
                   help="comma-separated: provider, aggregator, keyholder, publisher, regulator "
                        "(empty: none)")
    p.set_defaults(func=_roles_cmd)
    p = us.add_parser("join", help="propose adding a member (its key is its did:key)")
    common(p)
    member(p)
    p.add_argument("--name", required=True, help="the member's name (unique)")
    p.add_argument("--roles", required=True, type=_roles, help="comma-separated roles")
    p.add_argument("--org", default="", help="its organisation")
    p.add_argument("--credentials", default="", help="comma-separated credentials")
    p.set_defaults(func=_join)
    p = us.add_parser("retire", help="propose retiring a member")
    common(p)
    member(p)
    p.set_defaults(func=_retire)
    p = us.add_parser("approve", help="approve the open proposal (--member: a member one)")
    common(p)
    p.add_argument("id", type=integer(1, 2**63), help="the proposal id")
    p.add_argument("--member", action="store_true",
                   help="a member proposal (roles, join, retire), not a replica one")
    p.set_defaults(func=_approve)
    p = us.add_parser("status", help="the replicas and members in force and the open (or a "
                                     "given) proposal of each kind")
    common(p)
    p.add_argument("--height", type=integer(1, 2**63), default=None,
                   help="membership at this height (default: the next block's)")
    p.add_argument("--id", type=integer(1, 2**63), default=None, help="a decided proposal")
    p.add_argument("--member-id", type=integer(1, 2**63), default=None,
                   help="a member proposal")
    p.set_defaults(func=_status)
