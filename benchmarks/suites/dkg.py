"""benchmarks/run --suite dkg: dealerless key generation against TNO's peer.

Ours: build/benchmarks/phe/bench_dkg (3 key holders as separate processes
connected by socketpairs; median wall seconds of several runs at 2048 bits,
then at 1024 bits for the comparison). TNO: ``tno.mpc.protocols.distributed_keygen``
(semi-honest, Nishide–Sakurai / Veugen–Attema–Spini), 3 parties as separate
Python processes over its HTTP pool on 127.0.0.1, same machine, same run;
its time is the wall time from spawning the parties until every one has
printed its key. It is skipped (and the ratio not printed) when the package is
not installed: ``pip install tno.mpc.protocols.distributed_keygen
'tno.mpc.communication~=4.8' 'tno.mpc.encryption_schemes.utils<0.16'``.
With ``--full`` it also runs TNO at 2048 bits (over an hour here) against the
median of our 2048-bit runs and prints the report key dkg_speedup_vs_tno_2048_3.

Before/after in one run: ``DKG_BASELINE_BUILD=<another meson build dir>`` (e.g.
main's tree built into a scratch directory) also runs that build's bench_dkg
at 2048 bits, before ours, reported as ``baseline_dkg_*`` keys.
``DKG_SKIP_TNO=1`` leaves the TNO peer out (its 1024-bit run takes 3 to 17
minutes on this machine).
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

_TNO_PARTY = r"""
import asyncio, sys, time
from tno.mpc.communication import Pool
from tno.mpc.protocols.distributed_keygen import DistributedPaillier
i, n, bits, base = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
async def main():
    pool = Pool()
    pool.add_http_server(port=base + i, addr="127.0.0.1")
    for j in range(n):
        if j != i:
            pool.add_http_client(f"local{j}", "127.0.0.1", port=base + j)
    s = await DistributedPaillier.from_security_parameter(pool, 1, bits, distributed=True)
    print(f"DONE {s.public_key.n.bit_length()}", flush=True)
    await pool.shutdown()
asyncio.run(main())
"""


def _free_base(n: int) -> int:
    for base in range(47100, 60000, 17):
        ok = True
        for i in range(n):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", base + i))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no free ports")


def _tno_available() -> bool:
    r = subprocess.run([sys.executable, "-c", "import tno.mpc.protocols.distributed_keygen"],
                       capture_output=True)
    return r.returncode == 0


def _tno_seconds(bits: int, parties: int = 3, timeout: float = 3600) -> float:
    base = _free_base(parties)
    t0 = time.monotonic()
    procs = [subprocess.Popen([sys.executable, "-c", _TNO_PARTY, str(i), str(parties), str(bits),
                               str(base)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True) for i in range(parties)]
    done = 0
    try:
        for p in procs:
            line = p.stdout.readline()
            while line and not line.startswith("DONE"):
                line = p.stdout.readline()
            if not line:
                raise RuntimeError("a TNO party ended without a key")
            done += 1
            if time.monotonic() - t0 > timeout:
                raise RuntimeError("TNO timed out")
        return time.monotonic() - t0
    finally:
        for p in procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _baseline(ctx, build: str, runs: str) -> None:
    cmd = [os.path.join(build, "benchmarks/phe/bench_dkg"), "--bits", "2048", "--holders", "3",
           "--runs", runs]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=7200)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")
    for line in proc.stdout.splitlines():
        if line.strip().startswith("{"):
            rec = json.loads(line)
            extra = {k: v for k, v in rec.items() if k not in ("name", "value", "unit")}
            ctx.emit("baseline_" + rec["name"], rec["value"], rec["unit"], build=build, **extra)


def run(ctx) -> None:
    runs = "1" if ctx.quick else "5"
    baseline = os.environ.get("DKG_BASELINE_BUILD")
    if baseline:
        _baseline(ctx, baseline, runs)
    ours_2048 = ctx.run_c("benchmarks/phe/bench_dkg", "--bits", "2048", "--holders", "3",
                          "--runs", runs)
    ours_1024 = ctx.run_c("benchmarks/phe/bench_dkg", "--bits", "1024", "--holders", "3",
                          "--runs", "3" if ctx.quick else "9")
    med = next(r for r in ours_1024 if r["name"] == "dkg_seconds_1024_3")["value"]
    if os.environ.get("DKG_SKIP_TNO"):
        print("benchmarks/run: DKG_SKIP_TNO set; dkg_speedup_vs_tno_1024_3 not measured",
              file=sys.stderr)
        return
    if not _tno_available():
        print("benchmarks/run: tno.mpc.protocols.distributed_keygen not installed; "
              "dkg_speedup_vs_tno_1024_3 not measured", file=sys.stderr)
        return
    tno = _tno_seconds(1024)
    ctx.emit("tno_dkg_seconds_1024_3", round(tno, 2), "s", parties=3, processes=3,
             transport="HTTP on 127.0.0.1")
    ctx.emit("dkg_speedup_vs_tno_1024_3", round(tno / med, 2), "ratio", tno_seconds=round(tno, 2),
             ours_median_seconds=med, note="one TNO run against the median of ours, same run")
    if ctx.full:
        med_2048 = next(r for r in ours_2048 if r["name"] == "dkg_seconds_2048_3")["value"]
        tno_2048 = _tno_seconds(2048, timeout=4 * 3600)
        ctx.emit("tno_dkg_seconds_2048_3", round(tno_2048, 2), "s", parties=3, processes=3,
                 transport="HTTP on 127.0.0.1")
        ctx.emit("dkg_speedup_vs_tno_2048_3", round(tno_2048 / med_2048, 2), "ratio",
                 tno_seconds=round(tno_2048, 2), ours_median_seconds=med_2048,
                 note="one TNO run against the median of ours, same run (--full)")
