"""Membership changes by quorum: replicas added and removed inside the chain
(docs/ledger-protocol.md §Membership changes).

A member proposes adding a replica (its Ed25519 key and its address, which the
nodes' configuration lists) or removing one; the proposal is its first
approval, and the other members approve it by id. When more than two thirds of
the members approved, in block h, the new membership is in force from height
h + 2 (``DELAY``). :class:`ReconfigActs` gives :class:`fedshare.consortium.Member`
these acts; ``fedshare consortium member`` is the command line. Changing a
member's roles, or adding and retiring fedshare members, is not built.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from . import errors
from ._native import code_value, load

_m = load("fedshare")
ffi, lib = _m.ffi, _m.lib

#: A change approved in block h is in force from h + DELAY.
DELAY = int(lib.LEDGER_MEMBER_DELAY)
#: A proposal not approved within TTL blocks expires.
TTL = int(lib.LEDGER_MEMBER_TTL)
#: Status names of a proposal (the record's ``status``).
STATUSES = ("proposed", "approved", "expired")
KINDS = {1: "add_replica", 2: "remove_replica"}
_OPEN_KEY = b"\xffLDG/mprop"
_CHG_PREFIX = b"\xffLDG/mchg/"
_E_NOT_FOUND = code_value("LEDGER_E_NOT_FOUND")


def _check(rc: int) -> None:
    from .consortium import check

    check(rc)


def _key(key: Any) -> bytes:
    if isinstance(key, str):
        try:
            key = bytes.fromhex(key)
        except ValueError:
            key = b""
    if not isinstance(key, (bytes, bytearray)) or len(key) != 32:
        raise errors.InvalidInputError("a replica key is 32 bytes (64 hex)")
    return bytes(key)


def decode_change(record: bytes) -> Dict[str, Any]:
    """A proposal record (0xFF "LDG/mprop", or 0xFF "LDG/mchg/" ‖ id) as a dict."""
    c = ffi.new("ledger_member_change *")
    _check(lib.ledger_member_change_decode(c, record, len(record)))
    return {
        "id": int(c.id),
        "kind": KINDS[int(c.kind)],
        "replica_key": bytes(c.key).hex(),
        "address": ffi.string(c.addr).decode(),
        "proposed_at": int(c.proposed_at),
        "status": STATUSES[c.status],
        "decided_at": int(c.decided_at),
        "effective": int(c.effective),
        "approvals": int(c.approvals),
    }


class ReconfigActs:
    """The membership acts of a member (mixed into :class:`fedshare.consortium.Member`,
    which provides ``submit``, ``_p`` and ``_timeout``)."""

    _p: Any
    _timeout: int

    def _rledger(self) -> Any:
        return lib.fedshare_client_ledger(self._p)

    def _propose(self, kind: int, key: Any, address: Optional[str]) -> bytes:
        out, n = ffi.new("uint8_t **"), ffi.new("size_t *")
        addr = ffi.NULL if address is None else address.encode()
        _check(lib.ledger_member_propose_payload(kind, _key(key), addr, out, n))
        try:
            payload = bytes(ffi.buffer(out[0], n[0]))
        finally:
            lib.ledger_free(out[0])
        return self.submit(int(lib.LEDGER_OP_MEMBER_PROPOSE), payload)  # type: ignore

    def replica_add(self, key: Any, address: str) -> bytes:
        """Propose adding the replica with this Ed25519 key (32 bytes or 64 hex)
        at ``address`` ("host:port", as the nodes' configuration lists it); counts
        as this member's approval. Returns the transaction hash."""
        if not isinstance(address, str) or not address:
            raise errors.InvalidInputError("the address must be 'host:port'")
        return self._propose(int(lib.LEDGER_MEMBER_ADD_REPLICA), key, address)

    def replica_remove(self, key: Any) -> bytes:
        """Propose removing the replica with this key (its id is never reused)."""
        return self._propose(int(lib.LEDGER_MEMBER_REMOVE_REPLICA), key, None)

    def membership_approve(self, change_id: int) -> bytes:
        """Approve the open proposal ``change_id``."""
        if isinstance(change_id, bool) or not isinstance(change_id, int) or change_id < 1:
            raise errors.InvalidInputError("change_id must be a positive integer")
        pl = ffi.new("uint8_t[8]")
        _check(lib.ledger_member_approve_payload(change_id, pl))
        return self.submit(int(lib.LEDGER_OP_MEMBER_APPROVE), bytes(pl))  # type: ignore

    def membership_change(self, change_id: Optional[int] = None) -> Optional[Dict[str, Any]]:
        """Proposal ``change_id`` once decided, or the open one; None when there is none."""
        key = _OPEN_KEY if change_id is None else _CHG_PREFIX + int(change_id).to_bytes(8, "big")
        out, n = ffi.new("uint8_t **"), ffi.new("size_t *")
        rc = lib.ledger_client_get(self._rledger(), key, len(key), self._timeout, out, n)
        if rc == _E_NOT_FOUND:
            return None
        _check(rc)
        try:
            rec = bytes(ffi.buffer(out[0], n[0]))
        finally:
            lib.ledger_free(out[0])
        return decode_change(rec)

    def membership(self, height: Optional[int] = None) -> Dict[str, Any]:
        """The replicas in force at ``height`` (default: the next block's):
        f, the quorum and each replica slot (id, key, address, member or removed)."""
        if height is None:
            h = ffi.new("uint64_t *")
            _check(lib.ledger_client_height(self._rledger(), self._timeout, h))
            height = int(h[0]) + 1
        mp = ffi.new("ledger_membership **")
        _check(lib.ledger_client_membership(self._rledger(), height, self._timeout, mp))
        m = mp[0]
        try:
            slots: List[Dict[str, Any]] = []
            for i in range(int(lib.ledger_membership_size(m))):
                a = lib.ledger_membership_address(m, i)
                slots.append({"id": i,
                              "key": bytes(ffi.buffer(lib.ledger_membership_key(m, i), 32)).hex(),
                              "address": None if a == ffi.NULL else ffi.string(a).decode(),
                              "member": bool(lib.ledger_membership_active(m, i))})
            n = int(lib.ledger_membership_count(m))
            f = int(lib.ledger_membership_f(m))
            return {"height": height, "members": n, "f": f, "quorum": (n + f) // 2 + 1,
                    "replicas": slots}
        finally:
            lib.ledger_membership_free(m)
