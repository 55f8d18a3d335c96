"""fedshare: privacy-preserving federated training across institutions.

Submodules (each imported on first use):

* :mod:`fedshare.phe` — Paillier encryption, homomorphic sums, threshold decryption.
* :mod:`fedshare.fedavg` — quantize/pack model updates, FedAvg, round rules.
* :mod:`fedshare.abac` — attribute-based access-control policies.
* :mod:`fedshare.ledger` — client of the PBFT consortium ledger.

Every error is a :class:`fedshare.Error`; see :mod:`fedshare.errors`.
"""
from __future__ import annotations

import importlib
from typing import Any

from ._version import __version__
from .errors import (
    AccessDeniedError,
    Error,
    InvalidInputError,
    IOFailureError,
    NotFoundError,
    ResourceError,
    VerificationError,
)

# The public modules (docs/python-package.md); _native, _cli and _demo are private.
_SUBMODULES = {"phe", "fedavg", "serveropt", "abac", "ledger", "did", "data", "verdicts",
               "consortium", "upgrade", "members", "proof", "dkg", "node", "roles", "torch",
               "flower", "cli", "errors"}


def __getattr__(name: str) -> Any:
    # Lazy submodules keep `import fedshare` cheap (no torch, no numpy load).
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'fedshare' has no attribute {name!r}")


__all__ = [
    "__version__",
    "Error",
    "InvalidInputError",
    "VerificationError",
    "AccessDeniedError",
    "NotFoundError",
    "ResourceError",
    "IOFailureError",
]
