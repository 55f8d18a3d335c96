"""fedshare.verdicts — every anomaly verdict of a task, explained.

The training contract records each update's verdict (accepted, warm-up,
suspicious = left out of the round's sum) with the statistics the member
reported (norm, cosine). :func:`task_verdicts` reads a task's round records and
replays the task's rule round by round over the recorded statistics, so that
each verdict comes with what it was decided on:

* the **statistic**: the update's norm ÷ the round's median norm, and its
  cosine to the previous global update (robust2 judges that cosine's gap to
  the round's median cosine);
* its **scores**: robust z-scores (distance to the median in units of
  max(1.4826·MAD, floor)) of the log norm ratio and of the cosine (low side
  only; robust2: the cosine's gap in units of max(1.4826·median |gap|, floor))
  against the round and the accepted history, and of the log norm ratio
  against the member's own accepted history; for the pooled rule the k·σ
  distances of both statistics to the history's mean;
* the **threshold** (the rule's k) and the **history** judged against (entries
  in the pool, the member's own entries).

The verdict shown is always the ledger's. The replay runs libfedavg's
``fedavg_round_judge`` (the function the contract runs) and says whether it
gives the recorded verdicts (``replay_matches``); the scores are recomputed
here from the same definitions (docs/fedshare-contracts.md §Anomaly rules).

``fedshare task show`` and ``fedshare audit verdicts`` print this table.
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Optional

import numpy as np

__all__ = ["task_verdicts", "left_out", "left_rounds", "format_table", "summary_lines"]

# the contract's settings (libfedshare training.c, libfedavg FEDAVG_JUDGE_CONFIG_INIT)
HIST_MAX = 1024
RATIO_MAX = 1e6
MAD_SCALE = 1.4826
GAP_MIN_MEMBERS = 4  # FEDAVG_GAP_MIN_MEMBERS
_DEFAULTS = {"k": 3.5, "min_members": 3, "min_own": 5, "floor_norm": 0.4, "floor_cosine": 0.15}


def _robust(v: List[float], floor: float):
    a = np.asarray(v, dtype=np.float64)
    med = float(np.median(a))
    s = MAD_SCALE * float(np.median(np.abs(a - med)))
    return med, max(s, floor)


def _median_c(v) -> float:
    """The median as libfedavg computes it (a/2 + b/2 for an even count), so
    that the gaps shown are the contract's to the last bit."""
    a = np.sort(np.asarray(v, dtype=np.float64))
    n = a.size
    return float(a[n // 2]) if n % 2 else float(a[n // 2 - 1] / 2 + a[n // 2] / 2)


def _log_ratio(r: float) -> float:
    return math.log(max(r, 1.0 / RATIO_MAX))


def left_rounds(task: Dict[str, Any], round_record) -> Dict[int, int]:
    """The round in which each participant that left the task (retired from the
    consortium while it ran; ``"left": true`` in the TASK record) left it.

    The TASK record keeps only the flag; the round is read from the round records:
    the first round without its update (it left before uploading, or its upload
    was dropped when it left), else the task's current round (it left after its
    last update was judged: that round completed with its update in the sum).

    Args:
        task: the TASK record as JSON (``Member.task``).
        round_record: ``round -> round record JSON or None`` (``Member.round``).

    Returns:
        ``{participant index: round}``, only for participants that left.
    """
    last = int(task.get("round", 0))
    out: Dict[int, int] = {}
    for i, p in enumerate(task.get("participants", [])):
        if not p.get("left"):
            continue
        k = last
        for r in range(1, last + 1):
            rec = round_record(r)
            ups = rec.get("updates", []) if rec else []
            if rec is not None and i < len(ups) and not ups[i].get("present"):
                k = r
                break
        out[i] = max(k, 1)
    return out


def task_verdicts(member, task_id: bytes, names: Optional[Dict[str, str]] = None
                  ) -> Dict[str, Any]:
    """The verdicts of every judged round of a task, with statistic, scores,
    threshold and history (see the module text).

    Args:
        member: a connected :class:`fedshare.consortium.Member` (any member may read).
        task_id: the task.
        names: public key (hex) → a name to show (default: the DID's tail).

    Returns:
        ``{"rule", "threshold", "rounds": [{"round", "skipped", "updates": [{
        "member", "verdict", "ratio", "cosine", ("cosine_gap" under robust2 and robust3),
        "weight", "scores": {...},
        "history": {...}, "replayed"}]}], "replay_matches": bool,
        "left_out": {member: [rounds]}, "judged_rounds": n, "retired": [members that
        were retired while the task ran and left it], "left_in": {retired member: the
        round it left the task in (:func:`left_rounds`)}, "took_part": {member: judged
        rounds with its update}}``.
    """
    from . import errors
    from .fedavg import RoundJudge

    task = member.task(task_id)
    if task is None:
        raise errors.NotFoundError("no such task", code=-510, library="fedshare")
    rule = task.get("anomaly_rule", "pooled")
    names = names or {}
    who = [names.get(p["public_key"], p["did"][-8:]) for p in task["participants"]]
    # participants retired while the task ran: no update from the round they left in
    # (if still uploading), and their history entries were dropped when they left
    gone = {i for i, p in enumerate(task["participants"]) if p.get("left")}
    forgotten: set = set()
    if rule == "pooled":
        k = float(task["anomaly_k"])
        judge = RoundJudge("pooled", k=k, warmup=int(task["anomaly_warmup"]), window=HIST_MAX)
    else:
        k = _DEFAULTS["k"]
        judge = RoundJudge(rule, window=HIST_MAX)
    hist_m: List[int] = []
    hist_s: List[List[float]] = []
    rounds: List[Any] = []
    left: Dict[Any, List[Any]] = {w: [] for w in who}
    matches = True
    last = int(task["round"])
    for r in range(1, last + 1):
        rec = member.round(task_id, r)
        if rec is None or not all(u["present"] or i in gone
                                  for i, u in enumerate(rec["updates"])):
            continue  # still uploading: not judged yet
        idx = [i for i, u in enumerate(rec["updates"]) if u["present"]]
        for i in sorted(gone - forgotten - set(idx)):  # it left before this round was judged
            forgotten.add(i)
            keep = judge.hist_members != i
            judge.hist_members = np.ascontiguousarray(judge.hist_members[keep])
            judge.hist_stats = np.ascontiguousarray(judge.hist_stats[keep])
            kept = [j for j, m_ in enumerate(hist_m) if m_ != i]
            hist_m, hist_s = [hist_m[j] for j in kept], [hist_s[j] for j in kept]
        ups = [rec["updates"][i] for i in idx]
        n = len(ups)  # the updates judged
        norms = np.array([u["norm"] for u in ups], dtype=np.float64)
        cos = np.array([u["cosine"] for u in ups], dtype=np.float64)
        replay = judge.judge(np.array(idx, dtype=np.uint32), norms, cos)
        med = float(np.median(norms))
        ratio = [min(x / med, RATIO_MAX) if med > 0 else 1.0 for x in norms]
        # robust2's second statistic (from 4 updates a round; with 3 it judges as robust)
        use_gap = rule in ("robust2", "robust3") and n >= GAP_MIN_MEMBERS
        # robust3's capture test: most members move against the previous global step
        capture = use_gap and rule == "robust3" and _median_c(cos) < 0
        gap = cos - _median_c(cos)
        hm, hs = hist_m[-HIST_MAX:], hist_s[-HIST_MAX:]
        rows = []
        for i, (pi, u) in enumerate(zip(idx, ups)):
            scores: Dict[str, Optional[float]] = {}
            hist: Dict[str, int] = {}
            if rule == "pooled":
                hist["pool"] = len(hs)
                if len(hs) >= max(2, int(task["anomaly_warmup"])):
                    a = np.asarray(hs)
                    mean, sd = a.mean(axis=0), a.std(axis=0, ddof=1)
                    for j, key in ((0, "ratio"), (1, "cosine")):
                        d = abs((ratio, cos)[j][i] - mean[j])
                        scores[key] = (d / sd[j]) if sd[j] > 0 else (0.0 if d == 0 else math.inf)
            else:
                if rule != "member" and n >= _DEFAULTS["min_members"]:
                    pl = [_log_ratio(x) for x in ratio] + [_log_ratio(s[0]) for s in hs]
                    mu, su = _robust(pl, _DEFAULTS["floor_norm"])
                    if use_gap:  # the gap to the round's median cosine
                        pc = list(gap) + [s[1] for s in hs]
                        sc = max(MAD_SCALE * float(np.median(np.abs(pc))),
                                 _DEFAULTS["floor_cosine"])
                        scores["pool_cosine"] = (abs(gap[i]) if capture else -gap[i]) / sc
                    else:
                        pc = list(cos) + [s[1] for s in hs]
                        mc, sc = _robust(pc, _DEFAULTS["floor_cosine"])
                        scores["pool_cosine"] = (mc - cos[i]) / sc
                    scores["pool_norm"] = abs(_log_ratio(ratio[i]) - mu) / su
                    hist["pool"] = len(pl)
                if rule != "mad":
                    own = [_log_ratio(s[0]) for m_, s in zip(hm, hs) if m_ == pi]
                    hist["own"] = len(own)
                    if len(own) >= _DEFAULTS["min_own"]:
                        om, os_ = _robust(own, _DEFAULTS["floor_norm"])
                        scores["own_norm"] = abs(_log_ratio(ratio[i]) - om) / os_
            verdict = u.get("verdict", "accepted")
            rv = {0: "accepted", 1: "suspicious", 2: "warmup"}[int(replay[i])]
            matches = matches and rv == verdict
            row = {"member": who[pi], "verdict": verdict, "ratio": ratio[i],
                   "cosine": float(cos[i]), "weight": u.get("weight"), "scores": scores,
                   "history": hist, "replayed": rv}
            if use_gap:
                row["cosine_gap"] = float(gap[i])
            rows.append(row)
            if verdict == "suspicious":
                left[who[pi]].append(r)
        for i, (pi, u) in enumerate(zip(idx, ups)):  # the contract's history: participant order
            if u.get("verdict") != "suspicious":
                hist_m.append(pi)
                hist_s.append([ratio[i], float(gap[i] if use_gap else cos[i])])
        rounds.append({"round": r, "skipped": bool(rec.get("skipped")),
                       "sum_refused": bool(rec.get("sum_refused")), "updates": rows})
    return {"task": task_id.hex(), "rule": rule, "threshold": k, "members": who,
            "rounds": rounds, "replay_matches": matches, "left_out": left,
            "judged_rounds": len(rounds), "retired": [who[i] for i in sorted(gone)],
            "left_in": {who[i]: k for i, k in
                        left_rounds(task, lambda r: member.round(task_id, r)).items()},
            "took_part": {who[i]: sum(1 for rd in rounds
                                      if any(u["member"] == who[i] for u in rd["updates"]))
                          for i in range(len(who))}}


def left_out(member, task_id: bytes, public_key: bytes) -> List[int]:
    """Rounds of a task in which this member's update was left out (its
    recorded verdict is "suspicious")."""
    task = member.task(task_id)
    me = public_key.hex()
    idx = [i for i, p in enumerate(task["participants"]) if p["public_key"] == me]
    if not idx:
        return []
    gone = {i for i, p in enumerate(task["participants"]) if p.get("left")}
    out = []
    for r in range(1, int(task["round"]) + 1):
        rec = member.round(task_id, r)
        if rec and all(u["present"] or i in gone for i, u in enumerate(rec["updates"])) \
                and rec["updates"][idx[0]].get("verdict") == "suspicious":
            out.append(r)
    return out


def _fmt_scores(s: Dict[str, Optional[float]]) -> str:
    if not s:
        return "not judged (too little history)"
    return " ".join(f"{k}={v:.2f}" for k, v in s.items())


def format_table(v: Dict[str, Any]) -> str:
    """The verdicts as text, one line per round and member."""
    L = [f"anomaly rule {v['rule']}: an update is left out when a score exceeds "
         f"{v['threshold']:g}",
         f"{'round':>5}  {'member':<14} {'verdict':<11} {'norm ratio':>10} {'cosine':>7}  "
         f"scores (threshold {v['threshold']:g}); history"]
    for rd in v["rounds"]:
        for u in rd["updates"]:
            hist = ", ".join(f"{k} {n}" for k, n in u["history"].items()) or "none"
            verdict = "LEFT OUT" if u["verdict"] == "suspicious" else u["verdict"]
            gap = f" (gap {u['cosine_gap']:+.3f})" if "cosine_gap" in u else ""
            L.append(f"{rd['round']:>5}  {u['member']:<14} {verdict:<11} {u['ratio']:>10.3f} "
                     f"{u['cosine']:>7.3f}{gap}  {_fmt_scores(u['scores'])}; history {hist}")
        if rd["skipped"]:
            L.append(f"{rd['round']:>5}  (round skipped: too few accepted updates)")
        if rd.get("sum_refused"):
            L.append(f"{rd['round']:>5}  (round REFUSED: the decrypted sum was out of the range "
                     "the accepted updates allow; the model stayed)")
    L.extend(summary_lines(v))
    refused = [rd["round"] for rd in v["rounds"] if rd.get("sum_refused")]
    if refused:
        L.append(f"rounds refused for a decrypted sum out of range: "
                 f"{', '.join(map(str, refused))}")
    L.append("replayed with libfedavg from the recorded statistics: "
             + ("the same verdicts as the ledger" if v["replay_matches"]
                else "DIFFERENT verdicts from the ledger's"))
    return "\n".join(L)


def summary_lines(v: Dict[str, Any]) -> List[str]:
    """One line per member: "member X left out in k of n rounds"; for a member
    that left the task (retired from the consortium while it ran), "member X left
    the task in round k", and its exclusions counted over the rounds it took part
    in only (the rounds after it left are not exclusions)."""
    n = v["judged_rounds"]
    left_in = v.get("left_in", {})
    gone = set(v.get("retired", []))
    took = v.get("took_part", {})
    lines = []
    for m, r in v["left_out"].items():
        rounds = f" (rounds {', '.join(map(str, r))})" if r else ""
        if m in gone:
            k = left_in.get(m)
            n_m = took.get(m, n)
            lines.append(f"member {m} left the task in round {k} (retired from the "
                         f"consortium); left out in {len(r)} of the {n_m} rounds it took "
                         f"part in{rounds}" if k is not None else
                         f"member {m} left the task (retired from the consortium); left "
                         f"out in {len(r)} of the {n_m} rounds it took part in{rounds}")
        else:
            lines.append(f"member {m} left out in {len(r)} of {n} rounds{rounds}")
    return lines
