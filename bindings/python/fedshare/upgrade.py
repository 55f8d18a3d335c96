"""Contract upgrades by quorum (docs/ledger-protocol.md §Upgrades,
docs/fedshare-contracts.md §Versions).

A member proposes a plan — a name, the contract version it brings, the SHA-256
of the contract build, the height H at which it takes force (at least
``LEAD_MIN`` blocks ahead) — and the members approve it; with approvals from
more than two thirds of them before H it takes force at H on every node. More
than two thirds can cancel it before H. :class:`UpgradeActs` gives
:class:`fedshare.consortium.Member` these acts; ``fedshare consortium upgrade``
is the command line.
"""
from __future__ import annotations

import hashlib
import os
from typing import Any, Dict, Optional, Union

from . import errors
from ._native import code_value, load

_m = load("fedshare")
ffi, lib = _m.ffi, _m.lib

#: Least lead, in blocks, between the proposing block and the activation height.
LEAD_MIN = int(lib.LEDGER_UPGRADE_LEAD_MIN)
#: Status names of a plan (the record's ``status``).
STATUSES = ("proposed", "approved", "cancelled", "activated", "expired")
_OPEN_KEY = b"\xffLDG/open"
_E_NOT_FOUND = code_value("LEDGER_E_NOT_FOUND")

PathLike = Union[str, "os.PathLike[str]"]


def build_hash(path: PathLike) -> bytes:
    """SHA-256 of a contract build (a file), as a plan names it."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.digest()


def _name(name: str) -> bytes:
    if not isinstance(name, str):
        raise errors.InvalidInputError("the plan name must be a string")
    b = name.encode()
    ok = 1 <= len(b) <= int(lib.LEDGER_UPGRADE_NAME_MAX) and all(
        c.isascii() and (c.isalnum() or c in "._-") for c in name)
    if not ok:
        raise errors.InvalidInputError(
            "the plan name must be 1 … 64 characters of A-Z a-z 0-9 . _ -")
    return b


def _take_ledger(ptr: Any, n: int) -> bytes:
    try:
        return bytes(ffi.buffer(ptr, n))
    finally:
        lib.ledger_free(ptr)


def _ledger_check(rc: int) -> None:
    from .consortium import check

    check(rc)


def decode_plan(record: bytes) -> Dict[str, Any]:
    """A plan record (the state value under 0xFF "LDG/plan/" ‖ name) as a dict."""
    info = ffi.new("ledger_upgrade_info *")
    _ledger_check(lib.ledger_upgrade_decode(info, record, len(record)))
    return {
        "name": ffi.string(info.name).decode(),
        "version": int(info.version),
        "build_hash": bytes(info.build_hash).hex(),
        "height": int(info.height),
        "proposed_at": int(info.proposed_at),
        "status": STATUSES[info.status],
        "approvals": int(info.approvals),
        "cancels": int(info.cancels),
        "decided_at": int(info.decided_at),
    }


class UpgradeActs:
    """The upgrade acts of a member (mixed into :class:`fedshare.consortium.Member`,
    which provides ``submit``, ``_p`` and ``_timeout``)."""

    _p: Any
    _timeout: int

    def _ledger(self) -> Any:
        return lib.fedshare_client_ledger(self._p)

    def upgrade_propose(self, name: str, version: int, build_hash: bytes,
                        height: int) -> bytes:
        """Propose a plan (it counts as this member's approval); returns the
        transaction hash. ``height`` must be at least ``LEAD_MIN`` above the
        proposing block."""
        for v, what, hi in ((version, "version", 2**32), (height, "height", 2**64)):
            if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v < hi:
                raise errors.InvalidInputError(f"{what} must be a positive integer")
        if not isinstance(build_hash, (bytes, bytearray)) or len(build_hash) != 32:
            raise errors.InvalidInputError("build_hash must be 32 bytes")
        out, n = ffi.new("uint8_t **"), ffi.new("size_t *")
        _ledger_check(lib.ledger_upgrade_propose_payload(_name(name), version, bytes(build_hash),
                                                         height, out, n))
        payload = _take_ledger(out[0], n[0])
        return self.submit(int(lib.LEDGER_OP_UPGRADE_PROPOSE), payload)  # type: ignore

    def _vote(self, op: int, name: str) -> bytes:
        out, n = ffi.new("uint8_t **"), ffi.new("size_t *")
        _ledger_check(lib.ledger_upgrade_name_payload(_name(name), out, n))
        return self.submit(op, _take_ledger(out[0], n[0]))  # type: ignore

    def upgrade_approve(self, name: str) -> bytes:
        """Approve the open plan ``name`` (before its height)."""
        return self._vote(int(lib.LEDGER_OP_UPGRADE_APPROVE), name)

    def upgrade_cancel(self, name: str) -> bytes:
        """Vote to cancel the open plan ``name`` (before its height)."""
        return self._vote(int(lib.LEDGER_OP_UPGRADE_CANCEL), name)

    def _get(self, key: bytes) -> Optional[bytes]:
        out, n = ffi.new("uint8_t **"), ffi.new("size_t *")
        rc = lib.ledger_client_get(self._ledger(), key, len(key), self._timeout, out, n)
        if rc == _E_NOT_FOUND:
            return None
        _ledger_check(rc)
        return _take_ledger(out[0], n[0]) if out[0] != ffi.NULL else b""

    def upgrade_plan(self, name: Optional[str] = None) -> Optional[Dict[str, Any]]:
        """Plan ``name`` (any status), or the open plan; None when there is none."""
        if name is None:
            open_name = self._get(_OPEN_KEY)
            if open_name is None:
                return None
            name = open_name.decode()
        key, kl = ffi.new("uint8_t[96]"), ffi.new("size_t *")
        _ledger_check(lib.ledger_upgrade_key(_name(name), key, kl))
        rec = self._get(bytes(ffi.buffer(key, kl[0])))
        return None if rec is None else decode_plan(rec)

    @property
    def app_version(self) -> int:
        """The contract version a transaction submitted now must name."""
        v = ffi.new("uint32_t *")
        _ledger_check(lib.ledger_client_app_version(self._ledger(), self._timeout, v))
        return int(v[0])

    def upgrade_status(self, name: Optional[str] = None) -> Dict[str, Any]:
        """The version in force, the chain's height, and plan ``name`` (or the open plan)."""
        h = ffi.new("uint64_t *")
        _ledger_check(lib.ledger_client_height(self._ledger(), self._timeout, h))
        return {"app_version": self.app_version, "height": int(h[0]),
                "plan": self.upgrade_plan(name)}
