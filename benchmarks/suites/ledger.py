"""Ledger suite: replica processes of the reference key-value ledger on this
machine, clients submitting signed transactions with 256-byte payloads.

For 4, 7 and 10 replicas a closed-loop run measures committed transactions
per second; for 4 replicas a second run paces the clients at half that
throughput and reports the median and 99th-percentile commit latency there.
Every run also reports where the CPU goes (node and client CPU seconds per
committed transaction). Prints tps_4, p50_ms_4, p99_ms_4, tps_10 (BENCHMARKS.md).

The membership run (issue 20): five configured replicas, genesis 0…3, 1,000
blocks of history, then a 4 → 5 → 4 cycle under closed-loop load
(benchmarks/ledger/bench_reconfig.c). Prints reconfig_seconds_4to5 (from the
approving receipt of the addition until the new replica has executed the
change's height and is within one block of the tip) and
tps_during_reconfig_ratio (throughput during the cycle / steady throughput,
both counted from one uninterrupted load; detail fields give each phase).

The flood run (issue 23) repeats the paced 4-replica load twice in one
process: calm, then while 2,000 idle and 100 slow-handshake connections are
held open to replica 0 (the first primary). Prints p99_ms_under_flood_ratio
(p99 under flood / calm p99) and rss_mib_under_flood (replica 0's largest
resident memory during the flood). The bench takes the hard descriptor limit
(soft -> hard); it needs about 2,400 descriptors.
"""
from __future__ import annotations

from pathlib import Path

NODE = "libledger/src/consensus/node/fedshare-ledger-node"
BENCH = "benchmarks/ledger/bench_ledger"


def _run(ctx, replicas: int, clients: int, seconds: float, rate: float = 0.0,
         flood: bool = False):
    args = ["--node", str(ctx.c_bench(NODE)), "--replicas", str(replicas),
            "--clients", str(clients), "--seconds", str(seconds), "--block-period", "5"]
    if rate > 0:
        args += ["--rate", f"{rate:.0f}"]
    if flood:
        args.append("--flood")
    recs = ctx.run_c(BENCH, *args, timeout=600)
    if flood:
        return recs
    rec = recs[-1]
    return rec


def _fd_hard_limit() -> int:
    try:
        import resource
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        return 1 << 30 if hard == resource.RLIM_INFINITY else hard
    except ImportError:
        return 0


def run(ctx) -> None:
    # the cost of one message authentication: link MAC vs Ed25519 (transport choice)
    ctx.run_c("benchmarks/ledger/bench_auth", timeout=300)
    # offline verification of an exported proof bundle (docs/formats/ledger-bundle.md):
    # the key on a bundle spanning two membership changes (format 2), and the same
    # measure on a bundle with none (format 1) for comparison
    vectors = Path(__file__).resolve().parents[2] / "tests/ledger/vectors"
    ctx.run_c("benchmarks/ledger/bench_bundle", str(vectors / "bundle_v2.hex"), timeout=300)
    ctx.run_c("benchmarks/ledger/bench_bundle", str(vectors / "bundle_v1.hex"),
              "--name", "proof_verify_per_s_no_change", timeout=300)
    # a membership change under load: 4 -> 5 -> 4 with 1,000 blocks of history
    ctx.run_c("benchmarks/ledger/bench_reconfig", "--node", str(ctx.c_bench(NODE)),
              "--history", "1000", "--clients", "32", "--seconds", "5", timeout=600)
    seconds = 3 if ctx.quick else 10
    tps = {}
    for n in (4, 7, 10):
        rec = _run(ctx, n, 128, seconds)
        tps[n] = rec["value"]
        ctx.emit(f"tps_{n}", rec["value"], "tx/s", replicas=n, clients=rec["clients"],
                 p50_ms=rec["p50_ms"], p99_ms=rec["p99_ms"],
                 cpu_us_per_tx_nodes=rec["cpu_us_per_tx_nodes"],
                 cpu_us_per_tx_client=rec["cpu_us_per_tx_client"], closed_loop=True)
    half = max(tps[4] / 2.0, 1.0)
    rec = _run(ctx, 4, 64, seconds, rate=half)
    ctx.emit("p50_ms_4", rec["p50_ms"], "ms", offered_tx_per_s=round(half),
             achieved_tx_per_s=rec["value"], replicas=4)
    ctx.emit("p99_ms_4", rec["p99_ms"], "ms", offered_tx_per_s=round(half),
             achieved_tx_per_s=rec["value"], replicas=4)
    # the same paced load under a connection flood (2,000 idle + 100 slow HELLOs)
    if _fd_hard_limit() < 4096:
        print(f"ledger: flood run skipped: the hard descriptor limit is {_fd_hard_limit()} "
              "(needs 4,096; raise it with ulimit -Hn)", flush=True)
        return
    recs = _run(ctx, 4, 64, seconds, rate=half, flood=True)
    fl = [r for r in recs if r.get("name") == "flood"][-1]
    ctx.emit("p99_ms_under_flood_ratio", fl["value"], "ratio", p99_ms_calm=fl["p99_ms_calm"],
             p99_ms_flood=fl["p99_ms_flood"], offered_tx_per_s=round(half),
             flood_idle=fl["flood_idle"], flood_slow=fl["flood_slow"], replicas=4)
    ctx.emit("rss_mib_under_flood", fl["rss_mib_flood"], "MiB", rss_mib_before=fl["rss_mib_before"],
             flood_idle=fl["flood_idle"], flood_slow=fl["flood_slow"], replica=0)
