"""Ledger suite: replica processes of the reference key-value ledger on this
machine, clients submitting signed transactions with 256-byte payloads.

For 4, 7 and 10 replicas a closed-loop run measures committed transactions
per second; for 4 replicas a second run paces the clients at half that
throughput and reports the median and 99th-percentile commit latency there.
Every run also reports where the CPU goes (node and client CPU seconds per
committed transaction). Prints tps_4, p50_ms_4, p99_ms_4, tps_10 (BENCHMARKS.md).
"""
from __future__ import annotations

NODE = "libledger/src/consensus/node/fedshare-ledger-node"
BENCH = "benchmarks/ledger/bench_ledger"


def _run(ctx, replicas: int, clients: int, seconds: float, rate: float = 0.0) -> dict:
    args = ["--node", str(ctx.c_bench(NODE)), "--replicas", str(replicas),
            "--clients", str(clients), "--seconds", str(seconds), "--block-period", "5"]
    if rate > 0:
        args += ["--rate", f"{rate:.0f}"]
    recs = ctx.run_c(BENCH, *args, timeout=600)
    rec = recs[-1]
    return rec


def run(ctx) -> None:
    # the cost of one message authentication: link MAC vs Ed25519 (transport choice)
    ctx.run_c("benchmarks/ledger/bench_auth", timeout=300)
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
