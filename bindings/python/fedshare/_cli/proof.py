"""`fedshare proof export|genesis|verify`: proof bundles a third party checks
offline (docs/formats/ledger-bundle.md). `export` asks the consortium's
replicas (--config) for a committed transaction's bundle; `genesis` writes
the genesis membership an auditor keeps; `verify` needs only the bundle and
that genesis — no store, no network. Exit 0: done (verify: the bundle
verifies, what it proves is printed as JSON); 1: an error, or the bundle does
not verify (the reason is printed); 2: a usage error."""
from __future__ import annotations

import json
import sys

from .. import errors
from .args import input_file, output_path


def _h32(s: str) -> bytes:
    try:
        b = bytes.fromhex(s)
    except ValueError:
        b = b""
    if len(b) != 32:
        raise errors.InvalidInputError("--tx must be 64 hex characters")
    return b


def _export(args) -> int:
    from ..proof import export_bundle

    b = export_bundle(args.config, _h32(args.tx))
    with open(args.out, "wb") as f:
        f.write(b)
    print(f"bundle {args.out}: {len(b)} bytes")
    return 0


def _genesis(args) -> int:
    from ..proof import genesis

    g = genesis(args.config)
    with open(args.out, "wb") as f:
        f.write(g)
    print(f"genesis {args.out}: {len(g)} bytes")
    return 0


def _verify(args) -> int:
    from ..proof import verify_bundle

    with open(args.bundle, "rb") as f:
        bundle = f.read()
    try:
        info = verify_bundle(bundle, args.genesis)
    except (errors.VerificationError, errors.InvalidInputError) as e:
        print(f"fedshare proof verify: does not verify: {e}", file=sys.stderr)
        return 1
    print(json.dumps(info, indent=2))
    return 0


def add_parsers(sub) -> None:
    """Register `proof …` on the top-level subparsers."""
    p = sub.add_parser("proof", help="proof bundles checked offline: export, genesis, verify")
    ps = p.add_subparsers(dest="proof_command", metavar="ACTION", required=True)
    e = ps.add_parser("export", help="a committed transaction's bundle, from the replicas")
    e.add_argument("--config", required=True, type=input_file,
                   help="consortium configuration file")
    e.add_argument("--tx", required=True, help="transaction hash, 64 hex")
    e.add_argument("--out", required=True, type=output_path, help="bundle file to write")
    e.set_defaults(func=_export)
    g = ps.add_parser("genesis", help="write the genesis membership (LDMS) of a configuration")
    g.add_argument("--config", required=True, type=input_file,
                   help="consortium configuration file")
    g.add_argument("--out", required=True, type=output_path)
    g.set_defaults(func=_genesis)
    v = ps.add_parser("verify", help="verify a bundle offline against the genesis membership")
    v.add_argument("bundle", type=input_file)
    v.add_argument("--genesis", required=True, type=input_file,
                   help="the genesis membership (from `fedshare proof genesis`) or the "
                        "consortium configuration file")
    v.set_defaults(func=_verify)
