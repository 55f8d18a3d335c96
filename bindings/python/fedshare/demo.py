"""`fedshare demo`: the most complete end-to-end flow built so far.

The three-hospital experiment comes with libfedshare; until then this module
runs whatever flow the built rooms allow and says what it is.
"""
from __future__ import annotations

import argparse
import importlib.util


def run(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("fedshare._native._phe") is None:
        print("fedshare demo: no room is built yet, so there is no flow to run "
              "(the threshold-Paillier demo arrives with libphe).")
        return 0
    from . import _demo_threshold

    return _demo_threshold.run(args)
