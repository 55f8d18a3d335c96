"""abac suite: libabac's Cedar engine against Cedar itself (cedarpy) on the same Cedar text.

For each of the 10, 100 and 1,000-rule sets, bench_abac generates Cedar policy text, Cedar JSON
entities and Cedar JSON requests, loads them into libabac's Cedar engine, times
abac_cedar_is_authorized on one core and the loading of the entities, and dumps the three texts
with its decisions. Cedar then gets exactly the same texts: the policy set and the entities are
parsed outside the timed region and the batch call decides the same requests. Decisions and
reasons (policy ids) of both engines are compared request by request; the ratio of throughputs
is taken pair by pair in this run.
"""
from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

SIZES = (10, 100, 1000)
def _cedar_run(cedarpy, policies, entities, creqs, budget):
    """Time cedarpy's batch call; returns (decisions/s, results of one batch, batches)."""
    try:  # the batch call itself, without cedarpy's per-result json.loads in Python
        from cedarpy import _internal

        def batch():
            return _internal.is_authorized_batch(creqs, policies, entities._inner, None, False)
    except (ImportError, AttributeError):  # pragma: no cover - other cedarpy layouts
        def batch():
            return [json.dumps({"decision": r.decision.value,
                                "diagnostics": {"reason": r.diagnostics.reasons,
                                                "errors": r.diagnostics.errors}})
                    for r in cedarpy.is_authorized_batch(creqs, policies, entities)]

    n, t0, out = 0, time.perf_counter(), None
    while True:
        res = batch()
        if out is None:
            out = res
        n += len(creqs)
        el = time.perf_counter() - t0
        if el >= budget:
            return n / el, out, n // len(creqs)


def run(ctx):
    import cedarpy

    budget = 0.3 if ctx.quick else 2.0
    nreq = 300 if ctx.quick else 1000
    ratios, loads = {}, {}
    for size in SIZES:
        with tempfile.TemporaryDirectory() as tmp:
            recs = ctx.run_c("benchmarks/abac/bench_abac", "--rules", str(size), "--requests",
                             str(nreq), "--dump", tmp)
            ours = next(r["value"] for r in recs if r["name"] == f"decisions_per_s_{size}")
            loads[size] = next(r["value"] for r in recs
                               if r["name"] == f"entities_load_per_s_{size}")
            ours_built = next(r["value"] for r in recs
                              if r["name"] == f"decisions_with_request_build_per_s_{size}")
            mine = Path(tmp, "decisions.txt").read_text().splitlines()
            cedar_src = Path(tmp, "policies.cedar").read_text()
            ents_json = Path(tmp, "entities.json").read_text()
            creqs = [json.loads(line)
                     for line in Path(tmp, "requests.jsonl").read_text().splitlines()]
        for r in creqs:  # a string: cedarpy passes it through instead of json.dumps per call
            r["context"] = json.dumps(r["context"])
        # outside the timed region: parse the same policy text and entity JSON
        policies = cedarpy.PolicySet.from_str(cedar_src)
        entities = cedarpy.Entities.from_json_str(ents_json)
        cedar_dps, results, batches = _cedar_run(cedarpy, policies, entities, creqs, budget)

        disagree = rule_disagree = errors = 0
        authz_us = build_us = 0
        for line, res in zip(mine, results):
            res = json.loads(res)
            m = res.get("metrics", {})
            authz_us += m.get("authz_duration_micros", 0)
            build_us += m.get("build_request_duration_micros", 0)
            want = line.split()
            allowed = res["decision"] == "Allow"
            if allowed != (want[0] == "permit"):
                disagree += 1
            diag = res.get("diagnostics", {})
            errors += len(diag.get("errors", []))
            if sorted(diag.get("reason", [])) != sorted(want[1:]):
                rule_disagree += 1
        if len(results) != len(mine):
            disagree += abs(len(results) - len(mine))
        ratio = ours / cedar_dps
        ratios[size] = ratio
        ctx.emit(f"cedar_decisions_per_s_{size}", round(cedar_dps), "1/s", rules=size,
                 requests=len(creqs), batches=batches,
                 what="cedarpy _internal.is_authorized_batch, policies/entities pre-parsed")
        ctx.emit(f"speedup_vs_cedar_{size}", round(ratio, 2), "ratio", rules=size)
        ctx.emit(f"speedup_vs_cedar_with_request_build_{size}", round(ours_built / cedar_dps, 2),
                 "ratio", rules=size, what="ours including reading the request's JSON")
        # cedarpy's own per-request metrics: the engine's authorization time alone (no request
        # building, no Python), as a floor for Cedar's cost
        if authz_us:
            authz_dps = len(results) / (authz_us * 1e-6)
            ctx.emit(f"cedar_authz_only_decisions_per_s_{size}", round(authz_dps), "1/s",
                     rules=size, mean_authz_us=round(authz_us / len(results), 2),
                     mean_build_request_us=round(build_us / len(results), 2),
                     what="from cedarpy metrics authz_duration_micros (1 us resolution)")
            ctx.emit(f"speedup_vs_cedar_authz_only_{size}", round(ours / authz_dps, 2), "ratio",
                     rules=size)
        ctx.emit(f"disagreements_{size}", disagree, "requests", rules=size,
                 deciding_rule_disagreements=rule_disagree, cedar_errors=errors,
                 permits=sum(1 for line in mine if line.startswith("permit")), requests=len(mine))
    worst = min(ratios, key=ratios.get)
    if loads:
        ctx.emit("entities_load_per_s", round(min(loads.values())), "1/s",
                 per_set={str(k): round(v) for k, v in loads.items()},
                 what="entities from Cedar's JSON per second (slowest of the three sets)")
    ctx.emit("speedup_vs_cedar_min", round(ratios[worst], 2), "ratio", worst_set=worst,
             per_set={str(k): round(v, 2) for k, v in ratios.items()})
    _policy_analysis(ctx)


def _policy_analysis(ctx):
    """libabac_analyze (z3): a 100-rule set diffed against a copy with one rule loosened, the
    same set against itself reversed, and the demo's set (docs/policy-analysis.md)."""
    rel = "libabac/analyze/bench_analyze"
    if not (ctx.build_dir / rel).exists():  # built only where z3 is found
        for key in ("policy_diff_seconds_100", "policy_diff_seconds_demo"):
            ctx.emit(key, "not built (no z3)", "s")
        return
    ctx.run_c(rel)

