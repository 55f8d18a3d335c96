#!/usr/bin/env python3
"""Compare a shared library's exported symbols with a checked-in list (the union of
the lists given, so two parts of a room may each keep their own).

Usage: check_symbols.py LIBRARY.so EXPECTED.symbols [MORE.symbols ...]

Fails (exit 1) on any symbol added or lost, so the ABI never changes by
accident. EXPECTED holds one symbol per line; '#' starts a comment.
"""
import subprocess
import sys


def exported(lib):
    out = subprocess.run(["nm", "-D", "--defined-only", lib], check=True,
                         capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] in "TDRBVWiu":
            name = parts[2].split("@")[0]
            # Linker-provided markers and version nodes are not our ABI.
            if name.startswith("_") or name.isupper():
                continue
            names.add(name)
    return names


def expected(path):
    with open(path, encoding="utf-8") as f:
        return {l.split("#")[0].strip() for l in f} - {""}


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    have = exported(sys.argv[1])
    want = set().union(*(expected(p) for p in sys.argv[2:]))
    for name in sorted(have - want):
        print(f"exported but not listed: {name}")
    for name in sorted(want - have):
        print(f"listed but not exported: {name}")
    if have != want:
        return 1
    print(f"{len(have)} symbols match {' + '.join(sys.argv[2:])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
