"""The console's web application (Starlette): server-rendered pages, small
inline scripts, an inline SVG chart; no build step and nothing fetched from
elsewhere. :func:`create_app` builds it; ``fedshare console`` serves it
with uvicorn (``__init__.py``)."""
from __future__ import annotations

import datetime as _dt
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from .. import errors
from ..consortium import lib
from ..verdicts import left_rounds
from . import policytext
from .auth import COOKIE, Auth, Principal, is_loopback
from .chain import PHASES, STOP_REASONS, LedgerView, parse_hex32

log = logging.getLogger("fedshare.console")
_HERE = Path(__file__).resolve().parent
MAX_TEXT = 64 * 1024


class HTTPProblem(Exception):
    """A clear 4xx page: bad input, not found, not allowed."""

    def __init__(self, status: int, title: str, detail: str = ""):
        super().__init__(detail or title)
        self.status, self.title, self.detail = status, title, detail


def when(ms: Optional[int]) -> str:
    if ms is None:
        return ""
    return _dt.datetime.fromtimestamp(ms / 1000, _dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def chart_svg(values: List[float], width: int = 560, height: int = 220) -> Markup:
    """The accuracy curve as an inline SVG: one point per round."""
    pad_l, pad_r, pad_t, pad_b = 48, 16, 16, 32
    if not values:
        return Markup('<p class="muted">no evaluated round yet</p>')
    lo, hi = min(values), max(values)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.05, hi + 0.05
    span = hi - lo
    lo, hi = lo - 0.1 * span, hi + 0.1 * span
    n = len(values)
    w, h = width - pad_l - pad_r, height - pad_t - pad_b

    def xy(i: int, v: float):
        x = pad_l + (w * i / (n - 1) if n > 1 else w / 2)
        return x, pad_t + h * (1 - (v - lo) / (hi - lo))

    pts = [xy(i, v) for i, v in enumerate(values)]
    parts = [f'<svg class="chart" role="img" aria-label="accuracy per round" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}">',
             f'<rect x="{pad_l}" y="{pad_t}" width="{w}" height="{h}" class="plot"/>']
    for k in range(5):
        v = lo + (hi - lo) * k / 4
        y = pad_t + h * (1 - k / 4)
        parts.append(f'<line x1="{pad_l}" x2="{pad_l + w}" y1="{y:.1f}" y2="{y:.1f}" '
                     'class="grid"/>')
        parts.append(f'<text x="{pad_l - 6}" y="{y + 4:.1f}" text-anchor="end">{v:.3f}</text>')
    for i, (x, _) in enumerate(pts):
        parts.append(f'<text x="{x:.1f}" y="{pad_t + h + 18}" text-anchor="middle">{i + 1}</text>')
    parts.append('<polyline class="line" points="' +
                 " ".join(f"{x:.1f},{y:.1f}" for x, y in pts) + '"/>')
    for i, (x, y) in enumerate(pts):
        parts.append(f'<circle class="pt" cx="{x:.1f}" cy="{y:.1f}" r="4">'
                     f'<title>round {i + 1}: {values[i]:.4f}</title></circle>')
    parts.append(f'<text x="{pad_l + w / 2}" y="{height - 2}" text-anchor="middle">round</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


@dataclass
class Proposal:
    """A policy update collecting its members' signatures in this server."""
    ident: int
    data_id: bytes
    text: str
    version: int
    base: bytes                 # encoding of the set in force when proposed
    nxt: bytes                  # encoding of the proposed set
    by: str
    signatures: Dict[str, bytes] = field(default_factory=dict)  # member name -> signature
    submitted: Optional[str] = None  # the outcome once submitted
    analysis: Dict[str, Any] = field(default_factory=dict)  # see analyse_update


class Console:
    """State of one console server: the ledger view, unlocked member keys, auth."""

    def __init__(self, view: LedgerView, auth: Auth, seeds: Dict[str, bytes]):
        self.view = view
        self.auth = auth
        self.seeds = dict(seeds)
        self._members: Dict[str, Any] = {}
        self._lock = threading.Lock()
        self.proposals: List[Proposal] = []
        self.task_seen: Dict[tuple, bool] = {}

    def member(self, name: str):
        """The Member connection of an unlocked key (made once)."""
        from ..consortium import Member

        with self._lock:
            if name not in self._members:
                self._members[name] = Member(self.view.config, self.seeds[name])
            return self._members[name]

    def close(self) -> None:
        for m in self._members.values():
            m.close()
        self.view.close()

    def actors(self, p: Principal) -> List[str]:
        """The unlocked members this principal may act as."""
        return [n for n in self.seeds if p.may_act_as(n)] if p.role != "regulator" else []


# -- visibility for the member role -----------------------------------------------

def _my_data(c: Console, p: Principal, ix) -> set:
    me = c.view.member(p.member) if p.member else None
    return {d for d, a in ix.datasets.items() if me and a.sender == me.key}


def can_see_request(c: Console, p: Principal, act, ix) -> bool:
    if p.sees_all:
        return True
    me = c.view.member(p.member) if p.member else None
    if me is None:  # a member principal whose member the ledger does not (yet) list
        return False
    return act.sender == me.key or act.subject_id in _my_data(c, p, ix)


def can_see_task(c: Console, p: Principal, task: Dict[str, Any]) -> bool:
    if p.sees_all:
        return True
    me = c.view.member(p.member) if p.member else None
    if me is None:  # a member principal whose member the ledger does not (yet) list
        return False
    did = me.did
    return did in ([task.get("creator"), task.get("aggregator")] +
                   [x.get("did") for x in task.get("participants", [])])


# -- request helpers ------------------------------------------------------------------

def _principal(request: Request) -> Principal:
    return request.state.principal


async def _form(request: Request) -> Dict[str, str]:
    if int(request.headers.get("content-length") or 0) > MAX_TEXT * 2:
        raise HTTPProblem(413, "Request too large", "a form is at most 128 KiB")
    form = await request.form()
    out = {}
    for k, v in form.items():
        if not isinstance(v, str):
            raise HTTPProblem(400, "Bad form", "files are not accepted")
        out[k] = v
    return out


def _check_csrf(c: Console, p: Principal, form: Dict[str, str]) -> None:
    if not c.auth.csrf_ok(p, form.get("csrf")):
        raise HTTPProblem(403, "Form expired", "reload the page and submit the form again")


def _data_id(text: str) -> bytes:
    try:
        return parse_hex32(text, "a data ID")
    except errors.InvalidInputError as e:
        raise HTTPProblem(400, "Malformed data ID", f"{e}; got {text[:80]!r}") from None


def _task_id(text: str) -> bytes:
    try:
        return parse_hex32(text, "a task ID")
    except errors.InvalidInputError as e:
        raise HTTPProblem(400, "Malformed task ID", f"{e}; got {text[:80]!r}") from None


def _acting(c: Console, p: Principal, name: str) -> str:
    if p.role == "regulator":
        raise HTTPProblem(403, "Read-only", "the regulator role reads; it does not act")
    if name not in c.seeds:
        raise HTTPProblem(403, "Key not unlocked",
                          f"{name!r} has no key unlocked in this console (fedshare console --key)")
    if not p.may_act_as(name):
        raise HTTPProblem(403, "Not yours", f"you may not act as {name}")
    return name


def _int(text: str, what: str, lo: int, hi: int) -> int:
    try:
        v = int(str(text).strip())
    except ValueError:
        raise HTTPProblem(400, f"Bad {what}", f"{what} must be a whole number") from None
    if not lo <= v <= hi:
        raise HTTPProblem(400, f"Bad {what}", f"{what} must be {lo} … {hi}")
    return v


def _time_arg(text: Optional[str], what: str) -> Optional[int]:
    """A time-range bound: seconds since the epoch or YYYY-MM-DD[THH:MM[:SS]] (UTC) → ms."""
    if not text:
        return None
    t = text.strip()
    if t.isdigit():
        return _int(t, what, 0, 2**53) * 1000
    for fmt in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M",
                "%Y-%m-%d"):
        try:
            d = _dt.datetime.strptime(t, fmt).replace(tzinfo=_dt.timezone.utc)
            return int(d.timestamp() * 1000)
        except ValueError:
            pass
    raise HTTPProblem(400, f"Bad {what}",
                      f"{what} must be seconds since the epoch or YYYY-MM-DD[THH:MM[:SS]] (UTC)")


# -- pages ------------------------------------------------------------------------------

ANALYSIS_TIMEOUT_MS = 10000


def analyse_update(base: bytes, next_text: str,
                   timeout_ms: int = ANALYSIS_TIMEOUT_MS,
                   schema: Optional[Tuple[str, str]] = None) -> Dict[str, Any]:
    """What a proposed policy set changes against the version in force, for its signers:
    ``{"state", "verdict", "detail", "schema", "new_permits", "old_permits"}``. With
    ``schema`` (its name and its text) only the requests it allows are considered and
    ``schema`` names it (else None). ``state`` is a
    verdict of :func:`fedshare.abac_analyze.policy_diff` (proven) or ``"unavailable"`` /
    ``"no_answer"`` / ``"unsupported"`` / ``"error"``, when nothing is proven and the page
    says so; ``new_permits`` / ``old_permits`` are requests rendered as text."""
    from .. import abac_analyze
    from .._cli.policy import UNCONFIRMED, confirmed, format_request

    try:
        base_version, _, base_text = policytext.parts(base)
    except ValueError as e:
        return {"state": "error", "verdict": "not analysed",
                "detail": f"The policy in force could not be read ({e}). Nothing is proven: "
                          "compare the texts before signing."}
    v = f"version {base_version}"
    try:
        r = abac_analyze.policy_diff(base_text, next_text,
                                     schema=schema[1] if schema else None, timeout_ms=timeout_ms)
    except abac_analyze.AnalysisUnavailable:
        return {"state": "unavailable", "verdict": "not analysed",
                "detail": "Policy analysis is not available on this server (libabac_analyze "
                          "is not built: it needs z3). Nothing is proven about what this "
                          f"proposal changes: compare its text with {v} before signing."}
    except abac_analyze.UnsupportedPolicyError as e:
        return {"state": "unsupported", "verdict": "not analysed",
                "detail": f"The policies use Cedar outside the subset the analysis encodes "
                          f"({e}). Nothing is proven: compare the texts before signing."}
    except abac_analyze.AnalysisError as e:
        return {"state": "no_answer", "verdict": "no answer",
                "detail": f"The solver gave no answer within its limit ({timeout_ms / 1000:g} s "
                          f"per question; {e}). "
                          "Nothing is proven: compare the texts before signing."}
    except errors.Error as e:
        return {"state": "error", "verdict": "not analysed",
                "detail": f"The analysis failed ({e}). Nothing is proven: compare the texts "
                          "before signing."}
    verdict, detail = {
        "equivalent": ("equivalent", f"The proposal permits exactly what {v} permits "
                                     "(proven)."),
        "new_less_permissive": ("no more permissive",
                                f"The proposal permits nothing {v} denies (proven); it denies "
                                f"some requests {v} permits."),
        "new_more_permissive": ("permits more",
                                f"The proposal permits requests {v} denies; it denies nothing "
                                f"{v} permits (proven)."),
        "incomparable": ("permits more and denies some",
                         f"The proposal permits requests {v} denies, and denies requests {v} "
                         "permits."),
    }[r["verdict"]]
    if schema:
        detail = (f"Under the schema {schema[0]}: only the requests it allows are considered. "
                  + detail)
    unconfirmed = [k for k in ("new_permits", "old_permits")
                   if r.get(k) and not confirmed(r[k])]
    if unconfirmed:
        detail += (" Not confirmed: " + UNCONFIRMED[0].upper() + UNCONFIRMED[1:] + " ("
                   + " and ".join("the request the proposal may permit" if k == "new_permits"
                                  else f"the request {v} may permit" for k in unconfirmed)
                   + ").")
    return {"state": r["verdict"], "verdict": verdict, "detail": detail,
            "schema": schema[0] if schema else None,
            "unconfirmed": unconfirmed,
            "new_permits": format_request(r["new_permits"], "") if r.get("new_permits") else "",
            "old_permits": format_request(r["old_permits"], "") if r.get("old_permits") else ""}


def create_app(view: LedgerView, *, tokens=None, seeds: Optional[Dict[str, bytes]] = None,
               bind_host: str = "127.0.0.1", refresh_seconds: float = 2.0,
               analysis_timeout_ms: int = ANALYSIS_TIMEOUT_MS,
               policy_schema: Optional[Tuple[str, str]] = None) -> Starlette:
    auth = Auth(tokens)
    c = Console(view, auth, seeds or {})
    env = Environment(loader=FileSystemLoader(str(_HERE / "templates")),
                      autoescape=select_autoescape(["html"]))
    env.filters["when"] = when
    env.filters["short"] = lambda h: (h[:12] + "…") if isinstance(h, str) and len(h) > 16 else h
    env.globals.update(PHASES=PHASES, STOP_REASONS=STOP_REASONS)
    env.filters["refusal"] = _refusal

    def page(request: Request, name: str, status: int = 200, **ctx) -> HTMLResponse:
        p = getattr(request.state, "principal", None)
        for k, v in dict(principal=p, csrf=auth.csrf(p) if p else "",
                         actors=c.actors(p) if p else [], nav=request.url.path,
                         name=view.name, height=view._index.height).items():
            ctx.setdefault(k, v)
        return HTMLResponse(env.get_template(name).render(**ctx), status_code=status)

    def problem(request: Request, status: int, title: str, detail: str) -> HTMLResponse:
        return page(request, "problem.html", status=status, title=title, detail=detail)

    # -- consortium -----------------------------------------------------------
    def consortium(request: Request):
        ix = view.refresh()
        return page(request, "consortium.html", members=view.members, nodes=view.nodes(),
                    height=ix.height, acts=len(ix.acts), f=view.f,
                    refresh_ms=int(refresh_seconds * 1000))

    def api_nodes(request: Request):
        ix = view.refresh()
        return JSONResponse({"height": ix.height, "acts": len(ix.acts), "nodes": view.nodes()})

    # -- data sets ----------------------------------------------------------------
    def datasets(request: Request):
        ix = view.refresh()
        rows = []
        for did, act in ix.datasets.items():
            rec = view.record(lib.FEDSHARE_REC_DATA, did)
            if rec is None:
                continue  # a refused registration
            pol = view.policy_encoding(did)
            rows.append({"id": did.hex(), "owner": view.name(act.sender), "rec": rec,
                         "policy_version": _ps_version(pol)})
        return page(request, "datasets.html", rows=rows)

    def dataset(request: Request):
        return dataset_page(request, _data_id(request.path_params["data_id"]))

    def dataset_page(request: Request, did: bytes, **extra) -> HTMLResponse:
        p = _principal(request)
        ix = view.refresh()
        rec = view.record(lib.FEDSHARE_REC_DATA, did)
        if rec is None:
            raise HTTPProblem(404, "Unknown data set", f"no data set has the ID {did.hex()}")
        owner = view.name(ix.datasets[did].sender) if did in ix.datasets else rec["owner"]
        enc = view.policy_encoding(did)
        versions = _policy_versions(view, ix.policy_acts.get(did, []))
        reqs = [_request_row(view, a) for a in ix.requests
                if a.subject_id == did and can_see_request(c, p, a, ix)]
        props = [x for x in c.proposals if x.data_id == did]
        return page(request, "dataset.html", data_id=did.hex(), rec=rec, owner=owner,
                    policy_text=_policy_text(enc), policy_version=_ps_version(enc),
                    versions=versions, requests=reqs, proposals=props,
                    stale={x.ident for x in props if enc != x.base},
                    quorum=_quorum(len(view.members)), **extra)

    # -- access ---------------------------------------------------------------------
    def access(request: Request):
        p = _principal(request)
        ix = view.refresh()
        rows = [_request_row(view, a) for a in ix.requests if can_see_request(c, p, a, ix)]
        return page(request, "access.html", requests=rows[::-1],
                    datasets=[(d.hex(), view.name(a.sender)) for d, a in ix.datasets.items()],
                    preset=request.query_params.get("data_id", ""))

    async def access_submit(request: Request):
        p = _principal(request)
        form = await _form(request)
        _check_csrf(c, p, form)
        name = _acting(c, p, form.get("member", ""))
        did = _data_id(form.get("data_id", ""))
        action = form.get("action", "train").strip()
        purpose = form.get("purpose", "training").strip()
        for what, v in (("action", action), ("purpose", purpose)):
            if not 1 <= len(v.encode()) <= 64:
                raise HTTPProblem(400, f"Bad {what}", f"{what} must be 1 … 64 bytes")
        days = form.get("days", "30").strip()
        try:
            d = float(days)
        except ValueError:
            d = -1.0
        if not 0 < d <= 36500:
            raise HTTPProblem(400, "Bad period", "days must be a number > 0 and at most 36500")
        uses = _int(form.get("uses", "1"), "uses", 1, 2**32 - 1)
        if did not in view.refresh().datasets:
            raise HTTPProblem(404, "Unknown data set", f"no data set has the ID {did.hex()}")
        now = int(time.time())
        from starlette.concurrency import run_in_threadpool

        def act():
            try:
                return c.member(name).request_access(did, action, purpose, now,
                                                     now + int(round(d * 86400)), uses), None
            except errors.AccessDeniedError as e:
                return getattr(e, "decision", None) or {}, str(e)
        decision, refusal = await run_in_threadpool(act)
        view.observe(c.member(name).seen_height)
        view.refresh()
        return page(request, "decision.html", decision=decision, refusal=refusal,
                    member=name, data_id=did.hex(), status=200)

    # -- policy updates ----------------------------------------------------------------
    async def _proposed(request: Request):
        """(member, data ID, text) of a propose/preview form, checked."""
        p = _principal(request)
        form = await _form(request)
        _check_csrf(c, p, form)
        name = _acting(c, p, form.get("member", ""))
        did = _data_id(request.path_params["data_id"])
        text = form.get("policy", "")
        if not text.strip() or len(text) > MAX_TEXT:
            raise HTTPProblem(400, "Bad policy", "the policy text is empty or over 64 KiB")
        return name, did, text

    def _compiled(did: bytes, text: str):
        """(encoding in force, its set, the proposed set) or an HTTPProblem."""
        from .. import abac

        base = view.policy_encoding(did)
        if base is None:
            raise HTTPProblem(404, "No policy", "this data set has no policy to update")
        cur = abac.CedarPolicies.decode(base)
        try:
            nxt = abac.CedarPolicies(text, version=cur.version + 1, members=cur.members)
        except errors.InvalidInputError as e:
            raise HTTPProblem(400, "The policy does not compile", str(e)) from None
        return base, cur, nxt

    async def policy_preview(request: Request):
        """What a draft changes against the version in force, before anyone signs it."""
        name, did, text = await _proposed(request)
        from starlette.concurrency import run_in_threadpool

        def analyse() -> Dict[str, Any]:
            base, _, _ = _compiled(did, text)
            return analyse_update(base, text, analysis_timeout_ms, policy_schema)
        preview = await run_in_threadpool(analyse)
        return await run_in_threadpool(dataset_page, request, did, preview=preview, draft=text,
                                       draft_member=name)

    async def policy_propose(request: Request):
        name, did, text = await _proposed(request)
        from starlette.concurrency import run_in_threadpool

        def propose() -> Proposal:
            base, cur, nxt = _compiled(did, text)
            # what it changes, proven against the version in force, shown to every signer
            analysis = analyse_update(base, text, analysis_timeout_ms, policy_schema)
            with c._lock:
                prop = Proposal(len(c.proposals) + 1, did, text, cur.version + 1, base,
                                nxt.encode(), name, analysis=analysis)
                c.proposals.append(prop)
            _sign(c, prop, name)
            return prop
        prop = await run_in_threadpool(propose)
        return RedirectResponse(f"/data/{did.hex()}#proposal-{prop.ident}", status_code=303)

    async def policy_sign(request: Request):
        p = _principal(request)
        form = await _form(request)
        _check_csrf(c, p, form)
        name = _acting(c, p, form.get("member", ""))
        did = _data_id(request.path_params["data_id"])
        ident = _int(form.get("proposal", ""), "proposal", 1, 2**31)
        prop = next((x for x in c.proposals if x.ident == ident and x.data_id == did), None)
        if prop is None:
            raise HTTPProblem(404, "Unknown proposal", f"no proposal {ident} for this data set")
        if prop.submitted is None:
            from starlette.concurrency import run_in_threadpool
            await run_in_threadpool(_sign, c, prop, name)
        view.refresh()
        return RedirectResponse(f"/data/{did.hex()}#proposal-{prop.ident}", status_code=303)

    # -- tasks --------------------------------------------------------------------------
    def tasks(request: Request):
        p = _principal(request)
        ix = view.refresh()
        rows = []
        for tid, act in ix.tasks.items():
            t = view.record(lib.FEDSHARE_REC_TASK, tid)
            if t is None or not can_see_task(c, p, t):
                continue
            rows.append({"id": tid.hex(), "creator": view.name(act.sender), "t": t,
                         "height": act.height})
        return page(request, "tasks.html", rows=rows[::-1])

    def task(request: Request):
        p = _principal(request)
        tid = _task_id(request.path_params["task_id"])
        t = view.record(lib.FEDSHARE_REC_TASK, tid)
        if t is None:
            raise HTTPProblem(404, "Unknown task", f"no task has the ID {tid.hex()}")
        if not can_see_task(c, p, t):
            raise HTTPProblem(403, "Not your task",
                              "a member sees the tasks it creates, joins or aggregates")
        parts = t.get("participants", [])
        recs = {r: view.record(lib.FEDSHARE_REC_ROUND, tid, round=r)
                for r in range(1, int(t.get("round", 0)) + 1)}
        # participants retired from the consortium while the task ran: the round they left in
        left = left_rounds(t, recs.get)
        rounds = []
        for r, rec in recs.items():
            if rec is None:
                continue
            ups = []
            for k, u in enumerate(rec.get("updates", [])):
                who = view.name_of_did(parts[k]["did"]) if k < len(parts) else str(k)
                ups.append(dict(u, member=who,
                                left=k in left and r >= left[k] and not u.get("present")))
            shares = [dict(s, member=view.name_of_did(s.get("holder", ""))) for s in
                      rec.get("shares", [])]
            rounds.append({"round": r, "rec": rec, "updates": ups, "shares": shares,
                           "metric": (rec["metric_sum"] / rec["samples"]) if rec.get("samples")
                           else None})
        metrics = [float(x) for x in t.get("metrics", [])]
        return page(request, "task.html", task_id=tid.hex(), t=t, rounds=rounds,
                    participants=[dict(x, member=view.name_of_did(x["did"]), left_in=left.get(k))
                                  for k, x in enumerate(parts)],
                    creator=view.name_of_did(t.get("creator", "")),
                    aggregator=view.name_of_did(t.get("aggregator", "")),
                    chart=chart_svg(metrics), metrics=metrics)

    # -- audit trace -------------------------------------------------------------------------
    def trace(request: Request):
        p = _principal(request)
        q = request.query_params
        given = [k for k in ("data_id", "member", "task") if q.get(k)]
        t0, t1 = _time_arg(q.get("from"), "from"), _time_arg(q.get("to"), "to")
        if t0 is not None and t1 is not None and t0 > t1:
            raise HTTPProblem(400, "Bad time range", "'from' is after 'to'")
        if len(given) > 1:
            raise HTTPProblem(400, "One subject at a time",
                              "give one of data ID, member or task (with an optional time range)")
        rows, subject = None, ""
        ix = view.refresh()
        if given:
            k = given[0]
            if k == "data_id":
                key, kind, subject = _data_id(q[k]), "data", f"data set {q[k].strip()}"
            elif k == "task":
                key, kind, subject = _task_id(q[k]), "task", f"task {q[k].strip()}"
            else:
                m = view.member(q[k].strip())
                if m is None:
                    raise HTTPProblem(404, "Unknown member",
                                      f"{q[k][:64]!r} is not a member of the consortium")
                key, kind, subject = m.key, "member", f"member {m.name}"
            rows = view.trace(kind, key, t0, t1)
        elif t0 is not None or t1 is not None:
            rows = view.trace("time", b"", t0, t1)
            subject = "every act in the time range"
        if rows is not None and not p.sees_all:
            me = view.member(p.member) if p.member else None
            my_key = me.key if me is not None else None
            mine = _my_data(c, p, ix)
            my_tasks = {tid for tid in ix.tasks if _task_visible_cached(c, p, tid)}
            rows = [r for r in rows if r["sender"] == my_key or r["subject"] in mine
                    or r["subject"] in my_tasks]
        return page(request, "trace.html", rows=rows, subject=subject, q=q,
                    members=[m.name for m in view.members],
                    all_verified=rows is not None and all(r["proof"] == "verified" for r in rows))

    # -- chain check -------------------------------------------------------------------------------
    def chain(request: Request):
        run = request.query_params.get("run") == "1"
        results = view.verify_stores() if run else None
        ix = view.refresh()
        return page(request, "chain.html", results=results, stores=sorted(view.stores.items()),
                    height=ix.height)

    # -- login -------------------------------------------------------------------------
    async def login(request: Request):
        if request.method == "GET":
            return page(request, "login.html", error="")
        form = await _form(request)
        p = auth.principal(None, form.get("token", "").strip())
        if p is None:
            return page(request, "login.html", status=401, error="that token is not valid")
        r = RedirectResponse("/", status_code=303)
        r.set_cookie(COOKIE, form["token"].strip(), httponly=True, samesite="strict",
                     secure=request.url.scheme == "https")
        return r

    def logout(request: Request):
        r = RedirectResponse("/login", status_code=303)
        r.delete_cookie(COOKIE)
        return r

    def health(request: Request):
        return Response("ok\n", media_type="text/plain")

    routes = [
        Route("/", consortium), Route("/api/nodes", api_nodes),
        Route("/data", datasets), Route("/data/{data_id}", dataset),
        Route("/data/{data_id}/propose", policy_propose, methods=["POST"]),
        Route("/data/{data_id}/preview", policy_preview, methods=["POST"]),
        Route("/data/{data_id}/sign", policy_sign, methods=["POST"]),
        Route("/access", access), Route("/access", access_submit, methods=["POST"]),
        Route("/tasks", tasks), Route("/tasks/{task_id}", task),
        Route("/trace", trace), Route("/chain", chain),
        Route("/login", login, methods=["GET", "POST"]), Route("/logout", logout),
        Route("/health", health),
    ]

    async def guard(request: Request, call_next):
        path = request.url.path
        # a page reached under another host name (DNS rebinding) is refused on loopback
        if is_loopback(bind_host) and not auth.required:
            host = (request.headers.get("host") or "").rsplit(":", 1)[0].strip("[]")
            if host and not is_loopback(host) and host != "testserver":
                return problem(request, 403, "Wrong host",
                               "this console answers on its loopback address only")
        if request.method == "POST":
            origin = request.headers.get("origin")
            if origin and origin != "null":
                host = request.headers.get("host", "")
                if origin.split("://", 1)[-1] != host:
                    request.state.principal = None
                    return problem(request, 403, "Cross-site form",
                                   "a form from another site was refused")
        bearer = request.headers.get("authorization", "")
        token = bearer[7:].strip() if bearer.lower().startswith("bearer ") else None
        p = auth.principal(token, request.cookies.get(COOKIE))
        request.state.principal = p
        if p is None and path not in ("/login", "/health"):
            if path.startswith("/api/") or token is not None:
                return JSONResponse({"error": "a token is needed"}, status_code=401,
                                    headers={"WWW-Authenticate": "Bearer"})
            return page(request, "login.html", status=401, error="")
        try:
            return await call_next(request)
        except HTTPProblem as e:
            return problem(request, e.status, e.title, e.detail)
        except errors.InvalidInputError as e:
            return problem(request, 400, "Bad input", str(e))
        except errors.NotFoundError as e:
            return problem(request, 404, "Not found", str(e))
        except errors.AccessDeniedError as e:
            return problem(request, 403, "Refused", str(e))
        except errors.Error as e:
            log.warning("consortium error on %s: %s", path, e)
            return problem(request, 502, "The consortium did not answer",
                           f"{e} (the nodes may be down or busy; try again)")
        except Exception:  # never a stack trace to the browser
            log.exception("console error on %s", path)
            return problem(request, 500, "Console error",
                           "the console failed on this page; its log has the details")

    async def not_found(request: Request, exc):
        if not hasattr(request.state, "principal"):
            request.state.principal = None
        status = getattr(exc, "status_code", 404)
        title = "Not found" if status == 404 else "Method not allowed" if status == 405 \
            else "Bad request"
        return problem(request, status, title, f"no page {request.url.path[:200]}"
                       if status == 404 else "")

    app = Starlette(routes=routes, debug=False,
                    middleware=[Middleware(BaseHTTPMiddleware, dispatch=guard)],
                    exception_handlers={400: not_found, 404: not_found, 405: not_found})
    app.state.console = c
    return app


def _task_visible_cached(c: Console, p: Principal, tid: bytes) -> bool:
    k = (p.member, tid)  # a task's creator, aggregator and participants never change
    if k not in c.task_seen:
        t = c.view.record(lib.FEDSHARE_REC_TASK, tid)
        c.task_seen[k] = t is not None and bool(t) and can_see_task(c, p, t)
    return c.task_seen[k]


def _refusal(code: int) -> str:
    """A recorded refusal code with its meaning ("-512: access denied")."""
    from ..consortium import ffi
    try:
        return f"{code}: {ffi.string(lib.fedshare_strerror(int(code))).decode()}"
    except (TypeError, ValueError, AttributeError):
        return str(code)


def _quorum(n: int) -> int:
    return (2 * n) // 3 + 1


def _ps_version(enc: Optional[bytes]) -> Optional[int]:
    if not enc:
        return None
    from .. import abac
    try:
        return abac.CedarPolicies.decode(enc).version
    except errors.Error:
        return None


def _policy_text(enc: Optional[bytes]) -> str:
    if enc is None:
        return ""
    try:
        return policytext.render(enc)
    except ValueError as e:
        from .. import abac
        try:
            ids = ", ".join(abac.CedarPolicies.decode(enc).names)
        except errors.Error:
            ids = "unreadable"
        return f"// the text could not be rendered ({e}); policies: {ids}\n"


def _policy_versions(view: LedgerView, acts) -> List[Dict[str, Any]]:
    """Each POLICY_SET / POLICY_UPDATE act of a data set: version, outcome, signers."""
    from .. import abac
    rows = []
    for a in acts:
        row = {"height": a.height, "time_ms": a.time_ms, "act": a.name, "by": view.name(a.sender),
               "tx": a.tx_hash.hex(), "outcome": view.outcome(a.tx_hash), "version": None,
               "signers": [], "text": ""}
        try:
            n = int.from_bytes(a.payload[33:37], "big")
            body = a.payload[37:37 + n]
            if a.op == 0x0F10:
                ps = abac.CedarPolicies.decode(body)
                row["version"] = ps.version
                row["signers"] = [(view.name(a.sender), "the owner's first version (no quorum)")]
                row["text"] = _policy_text(body)
            else:
                _, nxt, sigs = policytext.render_update(body)
                row["version"] = abac.CedarPolicies.decode(nxt).version
                row["signers"] = [(view.name(k), s.hex()) for k, s in sigs]
                row["text"] = _policy_text(nxt)
        except (ValueError, errors.Error) as e:
            row["text"] = f"// unreadable: {e}"
        rows.append(row)
    return rows


def _request_row(view: LedgerView, a) -> Dict[str, Any]:
    d = view.record(lib.FEDSHARE_REC_DECISION, a.tx_hash) or {}
    return {"height": a.height, "time_ms": a.time_ms, "by": view.name(a.sender),
            "data_id": (a.subject_id or b"").hex(), "tx": a.tx_hash.hex(), "d": d,
            "outcome": view.outcome(a.tx_hash)}


def _sign(c: Console, prop: Proposal, name: str) -> None:
    """Sign a proposal as ``name``; with a quorum of signatures, submit the update."""
    from .. import abac

    seed = c.seeds[name]
    pk, sk = abac.keypair(seed)
    cur, nxt = abac.CedarPolicies.decode(prop.base), abac.CedarPolicies.decode(prop.nxt)
    if pk not in cur.members:
        raise HTTPProblem(403, "Not a signer", f"{name} is not a member of the policy set")
    prop.signatures[name] = cur.sign_update(nxt, sk)
    if len(prop.signatures) < _quorum(len(cur.members)):
        return
    keys = {n: abac.keypair(c.seeds[n])[0] for n in prop.signatures}
    upd = cur.encode_update(nxt, sorted(((keys[n], s) for n, s in prop.signatures.items()),
                                        key=lambda x: x[0]))
    try:
        tx = c.member(name).update_policy(prop.data_id, upd)
        prop.submitted = f"applied in transaction {tx.hex()}"
    except errors.Error as e:
        prop.submitted = f"refused: {e}"
    c.view.observe(c.member(name).seen_height)


__all__ = ["create_app", "chart_svg", "HTTPProblem"]
