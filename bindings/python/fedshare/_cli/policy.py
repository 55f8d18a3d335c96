"""`fedshare policy diff|check|lint`: what a Cedar policy set permits, proven by the Z3 SMT
solver (libabac_analyze; docs/policy-analysis.md). `diff OLD NEW` says whether NEW is
equivalent to OLD, no more permissive, or permits something OLD denied, each difference with a
request that shows it; `check SET --invariant FILE` proves or refutes invariants written as
Cedar policies; `lint SET` names dead rules, permits shadowed by a forbid and conditions that
can raise an error. Exit 0: done (diff: NEW permits nothing OLD denied; check: every invariant
holds); 3: diff: NEW permits something OLD denied, check: an invariant is refuted; 1: an error
(policies outside the supported subset, the solver gave no answer, analysis not built); 2: a
usage error."""
from __future__ import annotations

import json
from typing import Any, Dict

from .args import input_file

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
    "equivalent": "equivalent: NEW permits exactly what OLD permits (proven)",
    "new_less_permissive": "NEW is no more permissive than OLD (proven); it denies something "
                           "OLD permitted",
    "new_more_permissive": "NEW permits something OLD denied; it denies nothing OLD permitted "
                           "(proven)",
    "incomparable": "NEW permits something OLD denied, and denies something OLD permitted",
}


def format_diff(r: Dict[str, Any]) -> str:
    out = [_VERDICT[r["verdict"]]]
    if r.get("new_permits"):
        out += ["  NEW permits, OLD denies:", format_request(r["new_permits"])]
    if r.get("old_permits"):
        out += ["  OLD permits, NEW denies:", format_request(r["old_permits"])]
    return "\n".join(out)


def _diff(args) -> int:
    from ..abac_analyze import policy_diff

    r = policy_diff(_read(args.old), _read(args.new), timeout_ms=int(args.timeout * 1000))
    print(json.dumps(r, indent=2) if args.json else format_diff(r))
    return EXIT_FOUND if r["new_permits"] else 0


def _check(args) -> int:
    from ..abac_analyze import policy_check

    r = policy_check(_read(args.set), _read(args.invariant), timeout_ms=int(args.timeout * 1000))
    if args.json:
        print(json.dumps(r, indent=2))
    else:
        for inv in r["invariants"]:
            if inv["holds"]:
                print(f"{inv['id']}: holds (proven)")
            else:
                print(f"{inv['id']}: REFUTED by this permitted request:")
                print(format_request(inv["counterexample"]))
    return 0 if r["all_hold"] else EXIT_FOUND


def _lint(args) -> int:
    from ..abac_analyze import policy_lint

    r = policy_lint(_read(args.set), timeout_ms=int(args.timeout * 1000))
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
            print(format_request(p["error_example"]))
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
