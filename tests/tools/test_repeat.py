#!/usr/bin/env python3
"""Run the test suites many times with every core kept busy, and count failures per test.

    test_repeat.py --build build --meson .venv/bin/meson [--c-runs 20] [--py-runs 5]
                   [--python .venv/bin/python] [--load N]

Timing-dependent tests show up here and not in one quiet run: each run of the
C suite (`meson test --no-suite fuzz`) and of pytest happens while N busy loops
(default: one per core) compete for the CPU. The busy loops are child processes
killed when the script ends, however it ends. Prints one line per run and a
table of the tests that failed at least once; exits 1 if any did.
"""
from __future__ import annotations

import argparse
import collections
import json
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import time


def burn(stop_at: float) -> None:
    x = 0
    while time.monotonic() < stop_at:  # bounded: never outlives the run by more than that
        x = (x * 1103515245 + 12345) & 0xFFFFFFFF


def c_run(meson: str, build: str) -> tuple[int, list[str]]:
    proc = subprocess.run([meson, "test", "-C", build, "--no-suite", "fuzz", "--no-rebuild"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    failed = []
    log = os.path.join(build, "meson-logs", "testlog.json")
    with open(log, encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            if rec.get("result") not in ("OK", "SKIP", "EXPECTEDFAIL"):
                failed.append(f"{rec['name']} ({rec.get('result')})")
    if proc.returncode != 0 and not failed:
        failed.append(f"meson test exited {proc.returncode}")
    return proc.returncode, failed


def py_run(python: str, tests: str) -> tuple[int, list[str]]:
    proc = subprocess.run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rf", tests],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", proc.stdout, flags=re.M)
    if proc.returncode != 0 and not failed:
        failed.append(f"pytest exited {proc.returncode}")
    return proc.returncode, failed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--meson", default=".venv/bin/meson")
    ap.add_argument("--python", default=".venv/bin/python")
    ap.add_argument("--tests", default="tests/python")
    ap.add_argument("--c-runs", type=int, default=20)
    ap.add_argument("--py-runs", type=int, default=0)
    ap.add_argument("--load", type=int, default=os.cpu_count() or 1,
                    help="busy loops competing for the CPU (default: one per core)")
    ap.add_argument("--max-hours", type=float, default=6.0,
                    help="the busy loops stop after this long at the latest")
    a = ap.parse_args()
    if a.c_runs < 0 or a.py_runs < 0 or a.load < 0 or not 0 < a.max_hours <= 48:
        ap.error("runs and load must be >= 0, --max-hours in (0, 48]")

    stop_at = time.monotonic() + a.max_hours * 3600
    burners = [multiprocessing.Process(target=burn, args=(stop_at,), daemon=True)
               for _ in range(a.load)]
    for b in burners:
        b.start()

    def stop(*_):
        for b in burners:
            b.terminate()
        sys.exit(130)

    signal.signal(signal.SIGTERM, stop)
    counts: collections.Counter = collections.Counter()
    runs = {"C": 0, "pytest": 0}
    bad_runs = {"C": 0, "pytest": 0}
    try:
        for kind, n, fn in (("C", a.c_runs, lambda: c_run(a.meson, a.build)),
                            ("pytest", a.py_runs, lambda: py_run(a.python, a.tests))):
            for i in range(1, n + 1):
                t0 = time.monotonic()
                _, failed = fn()
                runs[kind] += 1
                bad_runs[kind] += bool(failed)
                counts.update(f"{kind}: {t}" for t in failed)
                print(f"{kind} run {i}/{n} under load {a.load}: "
                      f"{'ok' if not failed else 'FAILED ' + ', '.join(failed)} "
                      f"({time.monotonic() - t0:.0f} s)", flush=True)
    finally:
        for b in burners:
            b.terminate()
            b.join()
    print(f"\nsummary: C {runs['C'] - bad_runs['C']}/{runs['C']} runs green, "
          f"pytest {runs['pytest'] - bad_runs['pytest']}/{runs['pytest']} runs green, "
          f"load {a.load} busy loop(s) on {os.cpu_count()} core(s)")
    for name, k in counts.most_common():
        print(f"  {k:3d} × {name}")
    return 1 if counts else 0


if __name__ == "__main__":
    sys.exit(main())
