"""`fedshare policy diff|check|lint|update`: what a Cedar policy set permits, proven by the Z3 SMT
solver (libabac_analyze; docs/policy-analysis.md). `diff OLD NEW` says whether NEW is
equivalent to OLD, no more permissive, or permits something OLD denied, each difference with a
request that shows it; `check SET --invariant FILE` proves or refutes invariants written as
Cedar policies; `lint SET` names dead rules, permits shadowed by a forbid and conditions that
can raise an error. With `--schema FILE` (a Cedar schema, JSON or the human syntax) each of
them speaks only of the requests the schema allows, and says so. Exit 0: done (diff: NEW
permits nothing OLD denied; check: every invariant holds); 3: diff: NEW permits something OLD
denied, check: an invariant is refuted; 1: an error (policies outside the supported subset,
the solver gave no answer, analysis not built); 2: a usage error. `update DATA_ID NEW` (a
member, --config and --key) shows the diff of NEW against the version in force, signs it
after a confirmation (or --yes) and submits the update once the signatures (this member's and
those given with --signature) reach the quorum: exit 0 signed (and submitted, if the quorum is
reached), 1 not signed or an error, 3 the ledger refused it."""
from __future__ import annotations

import json
import sys
from typing import Any, Dict, List

from .args import UsageError, input_file

EXIT_FOUND = 3


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def _uid(u: Dict[str, str]) -> str:
    return f'{u["type"]}::{json.dumps(u["id"])}'


def _value(v: Any) -> str:
    """A Cedar JSON value written as Cedar's expression syntax would write it."""
    if isinstance(v, dict):
        if set(v) == {"__extn"} and isinstance(v["__extn"], dict):
            x = v["__extn"]
            return f'{x.get("fn")}({json.dumps(x.get("arg"))})'
        if set(v) == {"__entity"} and isinstance(v["__entity"], dict):
            return _uid(v["__entity"])
        return "{" + ", ".join(f"{json.dumps(k)}: {_value(v[k])}" for k in sorted(v)) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    return json.dumps(v)


def format_request(cx: Dict[str, Any], indent: str = "    ") -> str:
    """A counterexample as a few readable lines (request, context, entities); values are
    written as in Cedar's expressions (``datetime("…")``, ``Type::"id"``)."""
    rq = cx["request"]
    lines = [f"{indent}principal {_uid(rq['principal'])}, action {_uid(rq['action'])}, "
             f"resource {_uid(rq['resource'])}",
             f"{indent}context {_value(rq.get('context', {}))}"]
    for e in cx.get("entities", []):
        parents = ", ".join(_uid(p) for p in e.get("parents", []))
        attrs = _value(e.get("attrs", {}))
        lines.append(f"{indent}entity {_uid(e['uid'])} attrs {attrs}"
                     + (f" in [{parents}]" if parents else ""))
    return "\n".join(lines)


_VERDICT = {
    "equivalent": "equivalent: {new} permits exactly what {old} permits (proven)",
    "new_less_permissive": "{new} is no more permissive than {old} (proven); it denies something "
                           "{old} permitted",
    "new_more_permissive": "{new} permits something {old} denied; it denies nothing {old} "
                           "permitted (proven)",
    "incomparable": "{new} permits something {old} denied, and denies something {old} permitted",
}


UNCONFIRMED = ("possible difference (not confirmed): the solver's request relies on attributes "
               "of an entity reached through an attribute and no entity store realises it "
               "(docs/policy-analysis.md)")


def confirmed(cx: Any) -> bool:
    """A request the analyser returned was replayed through libabac and decides as said
    (``"confirmed": false``: a possible difference only, see :data:`UNCONFIRMED`)."""
    return bool(cx) and cx.get("confirmed", True) is not False


def format_diff(r: Dict[str, Any], new: str = "NEW", old: str = "OLD") -> str:
    """A diff's verdict and its requests as text; ``new`` and ``old`` name the two sets."""
    out = [_VERDICT[r["verdict"]].format(new=new, old=old)]
    for key, a, b in (("new_permits", new, old), ("old_permits", old, new)):
        cx = r.get(key)
        if not cx:
            continue
        out.append(f"  {a} permits, {b} denies:" if confirmed(cx)
                   else f"  {UNCONFIRMED}: {a} may permit what {b} denies:")
        out.append(format_request(cx))
    return "\n".join(out)


def _schema(args) -> Any:
    """The --schema file's text (None without one); the text answer then names it."""
    if not args.schema:
        return None
    if not args.json:
        print(f"under the schema {args.schema}: only the requests it allows are considered")
    return _read(args.schema)


def _diff(args) -> int:
    from ..abac_analyze import policy_diff

    r = policy_diff(_read(args.old), _read(args.new), schema=_schema(args),
                    timeout_ms=int(args.timeout * 1000))
    print(json.dumps(r, indent=2) if args.json else format_diff(r))
    return EXIT_FOUND if r["new_permits"] else 0


def _check(args) -> int:
    from ..abac_analyze import policy_check

    r = policy_check(_read(args.set), _read(args.invariant), schema=_schema(args),
                     timeout_ms=int(args.timeout * 1000))
    if args.json:
        print(json.dumps(r, indent=2))
    else:
        for inv in r["invariants"]:
            if inv["holds"]:
                print(f"{inv['id']}: holds (proven)")
            else:
                print(f"{inv['id']}: REFUTED by this permitted request:"
                      if confirmed(inv["counterexample"])
                      else f"{inv['id']}: not proven, {UNCONFIRMED}:")
                print(format_request(inv["counterexample"]))
    return 0 if r["all_hold"] else EXIT_FOUND


def _lint(args) -> int:
    from ..abac_analyze import policy_lint

    r = policy_lint(_read(args.set), schema=_schema(args), timeout_ms=int(args.timeout * 1000))
    if args.json:
        print(json.dumps(r, indent=2))
        return 0
    for p in r["policies"]:
        notes = [w for w, k in (("dead: never applies", "dead"),
                                ("shadowed: applies only where a forbid applies", "shadowed"),
                                ("its condition can raise an error (it then does not apply)",
                                 "may_error")) if p[k]]
        print(f"{p['id']} ({p['effect']}): " + ("; ".join(notes) if notes else "ok"))
        if p["may_error"] and p.get("error_example"):
            if not confirmed(p["error_example"]):
                print(f"  {UNCONFIRMED}:")
            print(format_request(p["error_example"]))
    return 0


def _quorum(n: int) -> int:
    return (2 * n) // 3 + 1  # more than two thirds of the set's members (docs/formats/abac.md)


def _signature_file(path: str) -> tuple:
    """(public key, signature) from another member's `policy update --json` output."""
    try:
        d = json.loads(_read(path))
        pk, sig = bytes.fromhex(d["signer"]), bytes.fromhex(d["signature"])
    except (ValueError, KeyError, TypeError) as e:
        raise UsageError(f"--signature: {path} is not the JSON output of `fedshare policy "
                         f"update --json` ({e})") from None
    if len(pk) != 32 or len(sig) != 64:
        raise UsageError(f"--signature: {path}: a 32-byte signer and a 64-byte signature")
    return pk, sig


def _confirm(args, version: int) -> bool:
    if args.yes:
        return True
    if not sys.stdin.isatty():
        print(f"not signed: pass --yes to sign version {version} without a prompt",
              file=sys.stderr)
        return False
    # the prompt on standard error: with --json, standard output holds only the JSON
    print(f"sign version {version} of this policy set? [y/N] ", end="", file=sys.stderr,
          flush=True)
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def _update(args) -> int:
    from .. import abac, errors
    from ..consortium import lib
    from .tasks import _h32, _seed
    from .upgrade import EXIT_REFUSED, _refused

    did = _h32(args.data_id, "data ID")
    text = _read(args.new)
    sigs: List[tuple] = [_signature_file(f) for f in args.signature or []]
    seed = _seed(args.key)
    from ..consortium import Member

    with Member(args.config, seed) as m:
        rec = m.record(lib.FEDSHARE_REC_POLICY, did)
        if not rec:
            raise errors.InvalidInputError(f"data set {did.hex()} has no policy to update")
        base = bytes.fromhex(rec["policy"])
        cur = abac.CedarPolicies.decode(base)
        nxt = abac.CedarPolicies(text, version=cur.version + 1, members=cur.members)
        from ..console import policytext

        out: Dict[str, Any] = {"data_id": did.hex(), "version": nxt.version,
                               "schema": args.schema}
        try:
            from ..abac_analyze import policy_diff

            # the ledger stores no schema with a policy (docs/formats/abac.md): --schema
            r = policy_diff(policytext.render(base), text,
                            schema=_read(args.schema) if args.schema else None,
                            timeout_ms=int(args.timeout * 1000))
            out["analysis"] = r
            shown = format_diff(r, "the proposal", f"version {cur.version}")
        except (errors.Error, ValueError) as e:
            out["analysis"] = None
            shown = f"not analysed: nothing is proven about what it changes ({e})"
        where = sys.stderr if args.json else sys.stdout
        if args.schema:
            print(f"under the schema {args.schema}: only the requests it allows are considered",
                  file=where)
        print(f"version {nxt.version} against version {cur.version} in force: {shown}",
              file=where)
        if not _confirm(args, nxt.version):
            return 1
        pk, sk = abac.keypair(seed)
        if pk not in cur.members:
            raise errors.InvalidInputError("this key is not a member of the policy set: its "
                                           "signature does not count")
        sig = cur.sign_update(nxt, sk)
        every = dict(sigs)
        every[pk] = sig
        out.update(signer=pk.hex(), signature=sig.hex(), signatures=len(every),
                   quorum=_quorum(len(cur.members)), submitted=None)
        if len(every) >= out["quorum"]:
            upd = cur.encode_update(nxt, sorted(every.items()))
            try:
                cur.apply_update(upd)  # checks every signature here before anything is sent
            except errors.Error as e:
                raise errors.InvalidInputError(
                    f"not submitted: the signatures given do not all sign this update (the "
                    f"same text as version {nxt.version} over version {cur.version}): {e}"
                ) from None
            try:
                out["submitted"] = m.update_policy(did, upd).hex()
            except errors.Error as e:
                if _refused(e):
                    print(f"fedshare policy update: refused: {e}", file=sys.stderr)
                    return EXIT_REFUSED
                raise
    print(json.dumps(out, indent=2))
    return 0


def add_parsers(sub) -> None:
    p = sub.add_parser("policy", help="Cedar policy analysis (proven by an SMT solver): diff, "
                                      "check, lint",
                       description=__doc__.splitlines()[0] + " " + " ".join(
                           __doc__.splitlines()[1:]))
    ps = p.add_subparsers(dest="policy_command", metavar="ACTION", required=True)

    def common(q):
        q.add_argument("--json", action="store_true", help="the analyzer's JSON answer")
        q.add_argument("--timeout", type=float, default=60.0,
                       help="seconds the solver may spend on each question (default 60)")
        q.add_argument("--schema", type=input_file, metavar="FILE",
                       help="a Cedar schema (JSON or the human syntax): consider only the "
                            "requests it allows")

    d = ps.add_parser("diff", help="compare two policy sets (exit 3: NEW permits something "
                                   "OLD denied)")
    d.add_argument("old", type=input_file, help="the policy set in force (Cedar text)")
    d.add_argument("new", type=input_file, help="the proposed policy set (Cedar text)")
    common(d)
    d.set_defaults(func=_diff)
    c = ps.add_parser("check", help="prove invariants (exit 3: one is refuted)")
    c.add_argument("set", type=input_file, help="the policy set (Cedar text)")
    c.add_argument("--invariant", required=True, type=input_file,
                   help="invariants as Cedar policies: forbid = never permitted, permit = every "
                        "permitted request in its scope satisfies its condition")
    common(c)
    c.set_defaults(func=_check)
    li = ps.add_parser("lint", help="dead rules, shadowed permits, conditions that can error")
    li.add_argument("set", type=input_file, help="the policy set (Cedar text)")
    common(li)
    li.set_defaults(func=_lint)
    u = ps.add_parser("update", help="show what NEW changes against the policy in force, sign "
                                     "it, and submit it once a quorum has signed")
    u.add_argument("data_id", help="the data set (64 hex)")
    u.add_argument("new", type=input_file, help="the proposed policy set (Cedar text)")
    u.add_argument("--config", required=True, type=input_file,
                   help="consortium configuration file")
    u.add_argument("--key", required=True, type=input_file,
                   help="this member's key file (64 hex)")
    u.add_argument("--signature", action="append", type=input_file, metavar="FILE",
                   help="another member's signature: its `policy update --json` output "
                        "(repeat; with this member's, the update is submitted at the quorum)")
    u.add_argument("--yes", action="store_true",
                   help="sign without asking (needed when standard input is not a terminal)")
    u.add_argument("--json", action="store_true",
                   help="standard output holds only the JSON result (the diff goes to standard "
                        "error); that output is what other members pass with --signature")
    u.add_argument("--timeout", type=float, default=60.0,
                   help="seconds the solver may spend on the diff (default 60)")
    u.add_argument("--schema", type=input_file, metavar="FILE",
                   help="a Cedar schema (JSON or the human syntax): the diff considers only "
                        "the requests it allows (the ledger stores no schema)")
    u.set_defaults(func=_update)
