"""The `fedshare` subcommands of a member's tasks: keys, data, access, task,
audit. Each takes the consortium configuration (--config) and the member's key
file (--key: its 64-hex Ed25519 seed), prints what it did, and exits 0 on
success, 1 on an error (the message says which), 2 on a usage error (a
numeric option out of range, a file that cannot be read or written: one line,
checked before anything is sent), 3 when the contracts refused the act (it is
on the ledger with its reason)."""
from __future__ import annotations

import argparse
import getpass
import hashlib
import json
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

from .. import _codes, errors
from .args import (U32_MAX, UsageError, input_file, integer, output_dir, output_path,
                        read_hex_secret, real, write_secret)

EXIT_REFUSED = 3


def _seed(path: str) -> bytes:
    return read_hex_secret(path, "--key")  # OSError, UsageError: exit 2, one line (cli.main)


def _member(args):
    from ..consortium import Member

    return Member(args.config, _seed(args.key))


def _h32(s: str, what: str) -> bytes:
    try:
        b = bytes.fromhex(s)
    except ValueError:
        b = b""
    if len(b) != 32:
        raise errors.InvalidInputError(f"{what} must be 64 hex characters")
    return b


def _names(config: str) -> Dict[str, bytes]:
    """Member names → public keys, from the configuration's member lines."""
    out = {}
    try:
        text = Path(config).read_text()
    except UnicodeDecodeError:
        raise UsageError(f"--config: {config} is not a text file") from None
    for ln, line in enumerate(text.splitlines(), start=1):
        t = line.split("#", 1)[0].split()
        if len(t) >= 3 and t[0] == "member":
            try:
                pk = bytes.fromhex(t[2])
            except ValueError:
                pk = b""
            if len(pk) != 32:
                raise UsageError(f"--config: {config}:{ln}: member {t[1]}'s key is not 64 hex")
            out[t[1]] = pk
    return out


def _passphrase(name: str) -> bytes:
    env = os.environ.get("FEDSHARE_PASSPHRASE_" + name.upper().replace("-", "_"))
    if env is not None:
        return env.encode()
    return getpass.getpass(f"passphrase for {name}'s key share: ").encode()


def _refused(exc: errors.Error) -> bool:
    # libfedshare's own codes of kind invalid/denied/notfound/verify are the
    # contracts' refusals; an invalid configuration (FEDSHARE_E_CONFIG) and the
    # machine's failures (memory, I/O, crypto set-up) are not
    code = _codes.CODES.get(exc.code) if exc.code is not None else None
    return isinstance(exc, errors.AccessDeniedError) or (
        code is not None and code.library == "fedshare" and code.name != "FEDSHARE_E_CONFIG"
        and code.kind not in ("resource", "io", "internal"))


def _act(fn):
    """Run an act; a refusal by the contracts exits 3 with its reason."""
    def wrapper(args) -> int:
        try:
            return fn(args)
        except errors.Error as e:
            if _refused(e):
                print(f"fedshare {args.command}: refused: {e}", file=sys.stderr)
                d = getattr(e, "decision", None)
                if d:
                    print(json.dumps(d, indent=2))
                return EXIT_REFUSED
            raise
    return wrapper


# -- keys --------------------------------------------------------------------

@_act
def _keys_ceremony(args) -> int:
    from ..phe import threshold

    names = _names(args.config)
    missing = [h for h in args.holders if h not in names]
    if missing:
        raise errors.InvalidInputError(f"not members: {', '.join(missing)}")
    if len(set(args.holders)) != len(args.holders):
        raise UsageError("--holders: a member is named twice")
    if args.threshold > len(args.holders):
        raise UsageError(f"--threshold {args.threshold} is more than the {len(args.holders)} "
                         "holders")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in [args.me] if args.dealerless else args.holders:
        # share files are never replaced: say so before the work
        if name and os.path.lexists(out / f"{name}.share"):
            raise UsageError(f"--out: {out / (name + '.share')} exists (a share file is never "
                             "replaced)")
    if args.dealerless:
        return _keys_ceremony_dealerless(args, names, out)
    _seed(args.key)
    t = time.monotonic()
    params, shares = threshold.deal(bits=args.bits, threshold=args.threshold,
                                    holders=len(args.holders))
    hashes = []
    for name, share in zip(args.holders, shares):
        f = out / f"{name}.share"
        share.write_file(f, _passphrase(name), strength=args.strength)
        hashes.append(hashlib.sha256(f.read_bytes()).digest())
        print(f"  {name}: share {share.index} sealed to {f}")
    with _member(args) as m:
        key_id = m.record_key(params, [names[h] for h in args.holders], hashes)
    print(f"key {key_id.hex()}: {args.threshold} of {len(args.holders)}, {args.bits} bits, "
          f"recorded ({time.monotonic() - t:.1f} s). The dealer (this machine) saw the whole "
          "key: wipe it.")
    return 0


def _address(text: str) -> Tuple[str, Tuple[str, int]]:
    name, sep, hp = text.partition("=")
    host, sep2, port = hp.rpartition(":")
    if not sep or not sep2 or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--addresses: {text!r} is not NAME=HOST:PORT")
    return name, (host, int(port))


def _keys_ceremony_dealerless(args, names: Dict[str, bytes], out: Path) -> int:
    """Holder --me's part of a dealerless ceremony (fedshare.dkg, docs/phe-dkg.md):
    every holder runs this command with the same --holders, --threshold, --bits,
    --session and --addresses; the first holder records the key, the others check
    the record."""
    from .. import dkg
    from ..consortium import describe_key_record, lib

    if args.me not in args.holders:
        raise UsageError("--me must be one of --holders")
    if not args.session:
        raise UsageError("--dealerless needs --session (a label unique to this ceremony)")
    addrs = dict(_address(a) for a in (args.addresses or []))
    missing = [h for h in args.holders if h not in addrs]
    if missing:
        raise UsageError(f"--addresses: no address for {', '.join(missing)}")
    seed = _seed(args.key)
    holders = [names[h] for h in args.holders]
    me = args.holders.index(args.me) + 1
    session = dkg.session_id(args.session, holders, args.threshold, args.bits)
    passphrase = _passphrase(args.me)
    share_file = out / f"{args.me}.share"

    def seal(params, share) -> bytes:
        share.write_file(share_file, passphrase, strength=args.strength)
        return hashlib.sha256(share_file.read_bytes()).digest()

    t = time.monotonic()
    try:
        params, share, report = dkg.ceremony(
            me, seed, holders, [addrs[h] for h in args.holders], args.threshold, session,
            bits=args.bits, timeout=args.timeout, on_done=seal,
            on_connected=lambda: print(f"  {args.me}: all {len(holders)} holders connected",
                                       flush=True))
    except dkg.CeremonyError as e:
        blamed = f" (deviating holder: {args.holders[e.blamed - 1]})" if e.blamed else ""
        print(f"fedshare keys ceremony: failed: {e}{blamed}; nothing was recorded — run it "
              "again with a new --session", file=sys.stderr)
        return 1
    print(f"  {args.me}: share {share.index} sealed to {share_file} "
          f"({report['candidates']} candidates, {report['rounds']} rounds, "
          f"{report['bytes_sent']} bytes sent, {report['seconds']:.1f} s)")
    with _member(args) as m:
        if me == 1:
            key_id = m.record_key(params, holders, report["share_hashes"], dealerless={
                "session": report["session"], "commitment": report["commitment"],
                "attestations": report["attestations"]})
        else:
            key_id = params.key_id
            deadline = time.monotonic() + args.timeout
            rec = m.record(lib.FEDSHARE_REC_KEY, key_id)
            while rec is None and time.monotonic() < deadline:
                try:  # a new block, or five seconds without one
                    m.wait_height(m.seen_height + 1, timeout_ms=5000)
                except errors.Error:
                    pass
                rec = m.record(lib.FEDSHARE_REC_KEY, key_id)
            if rec is None:
                raise errors.NotFoundError(f"holder {args.holders[0]} did not record key "
                                           f"{key_id.hex()}")
            got = [bytes.fromhex(h["sealed_share"]) for h in rec["holders"]]
            if got != report["share_hashes"]:
                raise errors.VerificationError("the recorded share hashes are not the "
                                               "ceremony's")
            prov = describe_key_record(rec)
            if prov["made"] != "dealerless" or not prov["attested"] or \
                    prov["session"] != report["session"] or \
                    prov["commitment"] != report["commitment"]:
                raise errors.VerificationError("the key record is not this ceremony's "
                                               "attested dealerless key")
    print(f"key {key_id.hex()}: {args.threshold} of {len(args.holders)}, {args.bits} bits, "
          f"made without a dealer by holders {', '.join(args.holders)}, each attested, "
          f"recorded ({time.monotonic() - t:.1f} s). No machine saw the whole key.")
    return 0


@_act
def _keys_show(args) -> int:
    from ..consortium import key_provenance_line, lib

    with _member(args) as m:
        r = m.record(lib.FEDSHARE_REC_KEY, _h32(args.key_id, "key ID"))
    if r is None:
        raise errors.NotFoundError("no such key")
    from ..did import did_from_public_key

    r.pop("params", None)
    print(json.dumps(r, indent=2))
    names = {did_from_public_key(pk): name for name, pk in _names(args.config).items()}
    print(key_provenance_line(r, names))
    return 0


# -- data and access -----------------------------------------------------------

@_act
def _data_register(args) -> int:
    from ..consortium import ffi, lib

    raw = Path(args.file).read_bytes()
    key_path = Path(args.seal_key or (args.file + ".key"))
    if os.path.lexists(key_path):
        key = read_hex_secret(key_path, "--seal-key", "key")
    else:
        key = secrets.token_bytes(32)
        write_secret(key_path, key.hex().encode())  # mode 0600 from the start
    buf = ffi.new("uint8_t[]", len(raw) + lib.FEDSHARE_SEAL_OVERHEAD)
    if lib.fedshare_data_seal(key, raw, len(raw), buf) != 0:
        raise errors.Error("sealing failed")
    sealed = bytes(ffi.buffer(buf, len(raw) + lib.FEDSHARE_SEAL_OVERHEAD))
    Path(args.file + ".sealed").write_bytes(sealed)
    with _member(args) as m:
        data_id = m.register_data(hashlib.sha256(sealed).digest(), args.label,
                                  args.description)
    print(f"data {data_id.hex()} registered (sealed copy {args.file}.sealed, key {key_path})")
    return 0


@_act
def _access_request(args) -> int:
    now = int(time.time())
    with _member(args) as m:
        d = m.request_access(_h32(args.data_id, "data ID"), args.action, args.purpose, now,
                             now + int(round(args.days * 86400)), args.uses)
    print(json.dumps(d, indent=2))
    return 0


# -- tasks -----------------------------------------------------------------------

def _min_updates(text: str) -> int:
    """--min-updates: 0 (the default rule) or 2 ... 64; argparse reports a bad value
    in one line (exit 2)."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if v != 0 and not 2 <= v <= 64:
        raise argparse.ArgumentTypeError("must be 2 ... 64 (or 0 for the default)")
    return v


@_act
def _server_optimizer(text: str) -> Any:
    """An argparse type: ``adam`` or ``yogi`` with optional ``:eta=…,beta1=…``."""
    from .. import serveropt
    try:
        return serveropt.parse(text)
    except errors.InvalidInputError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


_server_optimizer.__name__ = "server optimizer"


def _task_create(args) -> int:
    from .. import fedavg

    names = _names(args.config)
    parts = []
    for p in args.participant:
        name, _, data = p.partition("=")
        if name not in names:
            raise errors.InvalidInputError(f"{name}: not a member")
        parts.append((names[name], _h32(data, "data ID")))
    if args.aggregator not in names:
        raise errors.InvalidInputError(f"{args.aggregator}: not a member")
    codec = fedavg.Codec(plaintext_bytes=args.plaintext_bytes, max_weight=args.max_weight,
                         precision=args.precision, clip=args.clip, dense=args.slots == "dense")
    with _member(args) as m:
        task = m.create_task(_h32(args.model_id, "model ID"), _h32(args.key_id, "key ID"),
                             names[args.aggregator], parts, codec.to_bytes(),
                             learning_rate=args.lr, batch_size=args.batch_size,
                             upload_every=args.upload_every, round_limit=args.round_limit,
                             min_updates=args.min_updates, anomaly_rule=args.anomaly_rule,
                             server_optimizer=args.server_optimizer)
    print(f"task {task.hex()} created; participants join it with `fedshare train`")
    return 0


def _verdicts(args) -> dict:
    from ..verdicts import task_verdicts

    names = {v.hex(): k for k, v in _names(args.config).items()}
    with _member(args) as m:
        return task_verdicts(m, _h32(args.task, "task ID"), names)


@_act
def _task_show(args) -> int:
    """The task record and, per round and member, every anomaly verdict."""
    from ..consortium import PHASES

    names = {v.hex(): k for k, v in _names(args.config).items()}
    with _member(args) as m:
        t = m.task(_h32(args.task, "task ID"))
    if t is None:
        raise errors.NotFoundError("no such task", code=-510, library="fedshare")
    v = _verdicts(args)
    if args.json:
        print(json.dumps({"task": t, "verdicts": v}, indent=2))
        return 0
    parts = ", ".join(names.get(p["public_key"], p["did"]) for p in t["participants"])
    print(f"task {args.task}: round {t['round']}, phase {PHASES[t['phase']]}, "
          f"participants {parts}")
    if t["metrics"]:
        print(f"metric per finalized round: {', '.join(f'{x:.4f}' for x in t['metrics'])}")
    print(_fmt_verdicts(v))
    return 0


def _fmt_verdicts(v) -> str:
    from ..verdicts import format_table

    return format_table(v)


@_act
def _audit_verdicts(args) -> int:
    """Every verdict of a task: round, member, verdict, statistic, score,
    threshold, history."""
    v = _verdicts(args)
    print(json.dumps(v, indent=2) if args.json else _fmt_verdicts(v))
    return 0


# -- audit -------------------------------------------------------------------------

@_act
def _audit_trace(args) -> int:
    from .. import ledger
    from ..consortium import config_ledger_text, lib
    from .._demo.experiment import _OP_NAMES

    names = {v: k for k, v in _names(args.config).items()}
    if sum(x is not None for x in (args.data_id, args.member, args.task)) != 1:
        raise errors.InvalidInputError("give exactly one of --data-id, --member, --task")
    if args.data_id:
        op, key = lib.FEDSHARE_TRACE_DATA, _h32(args.data_id, "data ID")
    elif args.task:
        op, key = lib.FEDSHARE_TRACE_TASK, _h32(args.task, "task ID")
    else:
        by_name = _names(args.config)
        if args.member not in by_name:
            raise errors.InvalidInputError(f"{args.member}: not a member")
        op, key = lib.FEDSHARE_TRACE_MEMBER, by_name[args.member]
    lc = ledger.Client(ledger.Config(config_ledger_text(args.config)))
    rows: List[dict] = []
    try:
        cache: Dict[int, ledger.Block] = {}
        for h, i in lc.trace(op, key, max_entries=args.max):
            b = cache.get(h) or cache.setdefault(h, lc.block(h))  # certificate checked
            if args.from_time and b.timestamp < args.from_time * 1000:
                continue
            if args.to_time and b.timestamp > args.to_time * 1000:
                continue
            tx = b.transactions[i]
            rows.append({"height": h, "index": i, "time_ms": b.timestamp,
                         "act": _OP_NAMES.get(tx.op, hex(tx.op)),
                         "by": names.get(tx.sender, tx.sender.hex()), "tx": tx.hash.hex()})
    finally:
        lc.close()
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for r in rows:
            print(f"{r['height']:>7} {r['index']:>4}  {r['act']:<28} {r['by']:<14} {r['tx'][:16]}")
        print(f"{len(rows)} acts, each read from a block whose commit certificate was checked")
    return 0


def add_parsers(sub) -> None:
    def common(p):
        p.add_argument("--config", required=True, type=input_file,
                       help="consortium configuration file")
        p.add_argument("--key", required=True, type=input_file,
                       help="this member's key file (64 hex)")

    k = sub.add_parser("keys", help="the consortium's threshold key: ceremony, show")
    ks = k.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    c = ks.add_parser("ceremony", help="deal a t-of-n key, seal the shares, record it",
                      description="The dealer ceremony (docs/fedshare-contracts.md §Keys): "
                                  "passphrases come from FEDSHARE_PASSPHRASE_<HOLDER> or a "
                                  "prompt.")
    common(c)
    c.add_argument("--holders", nargs="+", required=True, help="member names, share order")
    c.add_argument("--threshold", type=integer(1, 64), default=2,
                   help="shares needed to decrypt, 1 … the number of holders (default 2)")
    c.add_argument("--bits", type=integer(2048, 4096), choices=(2048, 3072, 4096), default=2048)
    c.add_argument("--strength", choices=("interactive", "moderate", "sensitive"),
                   default="moderate", help="Argon2id cost of sealing the shares")
    c.add_argument("--out", required=True, type=output_dir,
                   help="directory for the sealed share files (created; files never replaced)")
    c.add_argument("--dealerless", action="store_true",
                   help="no dealer: the holders generate the key together (docs/phe-dkg.md); "
                        "each holder runs this command with --me, --session, --addresses")
    c.add_argument("--me", help="--dealerless: this holder's member name")
    c.add_argument("--session", help="--dealerless: a label unique to this ceremony, the same "
                                     "at every holder")
    c.add_argument("--addresses", nargs="+", metavar="NAME=HOST:PORT",
                   help="--dealerless: where each holder listens (its own included)")
    c.add_argument("--timeout", type=float, default=1800.0,
                   help="--dealerless: seconds before the ceremony gives up (default 1800)")
    c.set_defaults(func=_keys_ceremony)
    s = ks.add_parser("show", help="the recorded key: threshold and holders")
    common(s)
    s.add_argument("--key-id", required=True)
    s.set_defaults(func=_keys_show)

    d = sub.add_parser("data", help="data sets: register")
    ds = d.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    r = ds.add_parser("register", help="seal a data file and register its hash",
                      description="Seals FILE (XChaCha20-Poly1305 under a key kept in "
                                  "FILE.key) and registers the sealed copy's SHA-256.")
    common(r)
    r.add_argument("--file", required=True, type=input_file,
                   help="the data file; FILE.sealed is written beside it")
    r.add_argument("--label", required=True, help="type label, e.g. ehr-cardiology")
    r.add_argument("--description", default="")
    r.add_argument("--seal-key", type=output_path, default=None,
                   help="key file (default FILE.key); created with mode 0600 if it does not "
                        "exist")
    r.set_defaults(func=_data_register)

    a = sub.add_parser("access", help="access to a data set: request")
    as_ = a.add_subparsers(dest="access_command", metavar="ACTION", required=True)
    q = as_.add_parser("request", help="ask for access; the policy decides (exit 3: denied)")
    common(q)
    q.add_argument("--data-id", required=True)
    q.add_argument("--action", default="train")
    q.add_argument("--purpose", default="training")
    q.add_argument("--days", type=real(0, 36500, lo_open=True), default=30.0,
                   help="length of the period from now, in days: > 0 and at most 36500 "
                        "(default 30)")
    q.add_argument("--uses", type=integer(1, U32_MAX), default=1,
                   help=f"number of uses, 1 … {U32_MAX} (default 1)")
    q.set_defaults(func=_access_request)

    t = sub.add_parser("task", help="training tasks: create, show")
    ts = t.add_subparsers(dest="task_command", metavar="ACTION", required=True)
    tc = ts.add_parser("create", help="create a training task")
    common(tc)
    tc.add_argument("--model-id", required=True)
    tc.add_argument("--key-id", required=True)
    tc.add_argument("--aggregator", required=True, help="member name")
    tc.add_argument("--participant", action="append", required=True, metavar="NAME=DATA_ID")
    tc.add_argument("--lr", type=real(0, 1e6, lo_open=True), default=0.1,
                    help="learning rate, > 0 and at most 1e6 (default 0.1)")
    tc.add_argument("--batch-size", type=integer(1, U32_MAX), default=32)
    tc.add_argument("--upload-every", type=integer(1, U32_MAX), default=10,
                    help="local steps between uploads (default 10)")
    tc.add_argument("--round-limit", type=integer(1, 1000), default=50,
                    help="rounds at most, 1 … 1000 (default 50)")
    tc.add_argument("--min-updates", type=_min_updates, default=0, metavar="N",
                    help="accepted updates a round needs before its sum is decrypted "
                         "(2 ... participants; default 3 with 3 or more participants, else 2); "
                         "a round with fewer is skipped")
    tc.add_argument("--anomaly-rule", choices=("robust2", "robust", "pooled", "member", "mad"),
                    default="robust2",
                    help="how updates are judged before the sum (default robust2: median and "
                         "MAD over the round and the history, the cosine as its gap to the "
                         "round's median, and each member against its own history; pooled: "
                         "the seed's 3-sigma test; docs/fedshare-contracts.md)")
    tc.add_argument("--server-optimizer", default=None, metavar="KIND[:K=V,...]",
                    type=_server_optimizer,
                    help="a server optimizer over the decrypted aggregates: adam or yogi, "
                         "optionally with eta=, beta1=, beta2=, tau= (Flower's defaults "
                         "otherwise), e.g. adam:eta=0.05,beta1=0.9; default: plain FedAvg "
                         "(docs/fedshare-contracts.md \u00a7Server optimizers)")
    tc.add_argument("--plaintext-bytes", type=integer(1, 65536), default=255,
                    help="bytes per packed plaintext, 1 … 65536, below the key's n (default 255)")
    tc.add_argument("--max-weight", type=integer(1, U32_MAX), default=100000,
                    help="largest summed weight (default 100000)")
    tc.add_argument("--precision", type=real(0, 1e6, lo_open=True),
                    default=1e-5,  # fedavg.DEFAULT_PRECISION (not imported: a fast --help)
                    help="codec precision: the largest quantization error of one value, > 0 "
                         "(default 1e-5, which keeps the demo's accuracy; "
                         "docs/fedavg-codec.md)")
    tc.add_argument("--clip", type=real(0, 3.4e38, lo_open=True), default=8.0,
                    help="largest |value| encoded, > 0 (default 8)")
    tc.add_argument("--slots", choices=("dense", "bytes"), default="dense",
                    help="codec slot widths: dense (exactly the bits the clip, precision and "
                         "max weight need; codec format version 2, libfedavg 0.2.0) or bytes "
                         "(whole bytes, the codec of earlier releases); default dense")
    tc.set_defaults(func=_task_create)
    tsh = ts.add_parser("show", help="a task: its state and every anomaly verdict (per round "
                        "and member: verdict, statistic, scores, threshold, history)")
    common(tsh)
    tsh.add_argument("--task", required=True, help="the task ID (64 hex)")
    tsh.add_argument("--json", action="store_true")
    tsh.set_defaults(func=_task_show)

    au = sub.add_parser("audit", help="the audit trail: trace, verdicts")
    aus = au.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    av = aus.add_parser("verdicts", help="every anomaly verdict of a task (per round and "
                        "member: verdict, statistic, scores, threshold, history)")
    common(av)
    av.add_argument("--task", required=True, help="the task ID (64 hex)")
    av.add_argument("--json", action="store_true")
    av.set_defaults(func=_audit_verdicts)
    tr = aus.add_parser("trace", help="every act touching a data set, member or task")
    common(tr)
    tr.add_argument("--data-id")
    tr.add_argument("--member")
    tr.add_argument("--task")
    tr.add_argument("--from-time", type=integer(0, 2**63 // 1000), default=None,
                    help="seconds since the epoch")
    tr.add_argument("--to-time", type=integer(0, 2**63 // 1000), default=None,
                    help="seconds since the epoch")
    tr.add_argument("--max", type=integer(1, 1_000_000), default=100000,
                    help="acts listed at most, 1 … 1000000 (default 100000)")
    tr.add_argument("--json", action="store_true")
    tr.set_defaults(func=_audit_trace)
