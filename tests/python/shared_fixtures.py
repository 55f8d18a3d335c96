"""Shared test fixtures: the checked-in safe primes.

The one source is tests/fixtures/safe_primes.h (the C tests, fuzz harnesses
and benchmarks include it); this module reads its string-literal macros so the
Python tests deal their threshold keys from the very same primes.
"""
import re
from pathlib import Path

_HEADER = Path(__file__).resolve().parent.parent / "fixtures" / "safe_primes.h"


def _read_primes() -> dict:
    # each macro: "#define NAME \" then lines of quoted hex, until a blank line
    out = {}
    for block in re.split(r"\n\s*\n", _HEADER.read_text()):
        for m in re.finditer(r"#define (SAFE_PRIME_\w+)((?:[^#])*)", block):
            out[m.group(1)] = int("".join(re.findall(r'"([0-9a-f]+)"', m.group(2))), 16)
    return out


SAFE_PRIMES = _read_primes()
PRIME1 = SAFE_PRIMES["SAFE_PRIME_1024_1"]
PRIME2 = SAFE_PRIMES["SAFE_PRIME_1024_2"]
PRIME3 = SAFE_PRIMES["SAFE_PRIME_1024_3"]
