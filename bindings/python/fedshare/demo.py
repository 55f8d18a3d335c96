"""`fedshare demo` (what `make demo` runs): the most complete end-to-end flow
built so far.

The three-hospital training demo comes with libfedshare. Until then this
dispatches to the interim threshold-Paillier demo
(:mod:`fedshare._demo_threshold`): a 2-of-3 consortium key from the dealer
ceremony, three parties' encrypted vectors summed while encrypted, a verified
threshold decryption and the check against the plain sum. It says plainly
that it is the interim demo and exits non-zero if a check fails.
"""
from __future__ import annotations

import argparse
import importlib.util


def run(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("fedshare._native._phe") is None:
        print("fedshare demo: libphe is not built into this installation, so there is no flow "
              "to run (reinstall with `pip install .` from a checkout that has libphe).")
        return 1
    from . import _demo_threshold

    return _demo_threshold.run(args)
