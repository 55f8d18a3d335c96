"""The consortium's members changed by quorum: a member's roles, a member joining
(its key, hence its did:key, its name, organisation, roles and credentials) and
a member retiring (docs/fedshare-contracts.md §Membership).

A member proposes a change; the proposal is its first approval, and the other
members approve it by id. When more than two thirds of the members in force
approved, in block h, the change is in force from height h + 2 (``DELAY``, the
rule of replica changes). From then on the contracts decide with the new
membership: a retired member's acts and signatures are refused
(``FEDSHARE_E_RETIRED``), a member loses the acts of a role it lost, and
policy-update quorums count the members in force. Retiring a key holder, or
taking the role from one, is refused when it would leave a recorded key with
fewer than t key holders (``FEDSHARE_E_KEYHOLDERS``). A participant of a task
in progress may retire: from the act that decides it the task goes on without
it, and its task acts are refused (``FEDSHARE_E_RETIRED``); retiring the
aggregator of a task in progress, or a participant whose task would keep fewer
participants than its minimum of accepted updates, is refused
(``FEDSHARE_E_IN_TASK``). :class:`MemberActs` gives
:class:`fedshare.consortium.Member` these acts; ``fedshare consortium member
roles|join|retire|approve-member|members`` is the command line.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Sequence

from . import errors
from ._native import load

_m = load("fedshare")
ffi, lib = _m.ffi, _m.lib

#: A change approved in block h is in force from h + DELAY.
DELAY = 2
#: A proposal not approved within TTL blocks expires.
TTL = int(lib.FEDSHARE_MEMBER_TTL)
#: Role names, as the configuration file spells them, and their bits.
ROLES = {"provider": 1, "aggregator": 2, "keyholder": 4, "publisher": 8, "regulator": 16}


def role_bits(roles: Iterable[str]) -> int:
    """The role bits of role names (``provider``, ``aggregator``, ``keyholder``,
    ``publisher``, ``regulator``)."""
    if isinstance(roles, str):
        roles = [r for r in roles.split(",") if r]
    bits = 0
    for r in roles:
        if r not in ROLES:
            raise errors.InvalidInputError(f"unknown role {r!r}: one of {', '.join(ROLES)}")
        bits |= ROLES[r]
    return bits


def _key(key: Any) -> bytes:
    if isinstance(key, str):
        try:
            key = bytes.fromhex(key)
        except ValueError:
            key = b""
    if not isinstance(key, (bytes, bytearray)) or len(key) != 32:
        raise errors.InvalidInputError("a member key is 32 bytes (64 hex)")
    return bytes(key)


def _change_id(change_id: int) -> bytes:
    if isinstance(change_id, bool) or not isinstance(change_id, int) or change_id < 1:
        raise errors.InvalidInputError("change_id must be a positive integer")
    return bytes(24) + change_id.to_bytes(8, "big")


class MemberActs:
    """The membership acts of a member (mixed into :class:`fedshare.consortium.Member`,
    which provides ``submit``, ``record`` and ``wait_height``)."""

    def submit(self, op: int, payload: bytes,
               timeout_ms: Optional[int] = None) -> bytes:  # pragma: no cover - Member's
        raise NotImplementedError

    def record(self, kind: int, ident: bytes, ident2: Optional[bytes] = None,
               round: int = 0) -> Optional[Dict[str, Any]]:  # pragma: no cover - Member's
        raise NotImplementedError

    def _member_propose(self, kind: int, key: Any, roles: int, name: Optional[str] = None,
                        org: Optional[str] = None, credentials: Sequence[str] = ()) -> bytes:
        out, n = ffi.new("uint8_t **"), ffi.new("size_t *")
        keep = [ffi.new("char[]", c.encode()) for c in credentials]
        creds = ffi.new("const char *[]", keep) if keep else ffi.NULL
        from .consortium import _take, check

        check(lib.fedshare_payload_member_propose(
            kind, _key(key), roles, name.encode() if name else ffi.NULL,
            org.encode() if org else ffi.NULL, creds, len(keep), out, n))
        return self.submit(int(lib.FEDSHARE_OP_MEMBER_PROPOSE), _take(out[0], n[0]))

    def member_roles(self, key: Any, roles: Iterable[str]) -> bytes:
        """Propose that the member with this key (32 bytes or 64 hex) hold exactly
        ``roles`` (names; may be empty); counts as this member's approval."""
        return self._member_propose(int(lib.FEDSHARE_MEMBER_ROLES), key, role_bits(roles))

    def member_join(self, key: Any, name: str, roles: Iterable[str], org: str = "",
                    credentials: Sequence[str] = ()) -> bytes:
        """Propose adding a member: its Ed25519 public key (its did:key), a name
        (1…64 of ``[A-Za-z0-9._:-]``, unique), roles, organisation and credentials."""
        return self._member_propose(int(lib.FEDSHARE_MEMBER_JOIN), key, role_bits(roles), name,
                                    org or None, list(credentials))

    def member_retire(self, key: Any) -> bytes:
        """Propose retiring the member with this key (its key never comes back).
        Once decided, every task in progress it takes part in goes on without it;
        refused with ``FEDSHARE_E_IN_TASK`` when it aggregates a task in progress or a
        task of it would keep fewer participants than its minimum of accepted updates,
        and with ``FEDSHARE_E_KEYHOLDERS`` when a key would keep fewer than t holders."""
        return self._member_propose(int(lib.FEDSHARE_MEMBER_RETIRE), key, 0)

    def member_approve(self, change_id: int) -> bytes:
        """Approve the open membership change ``change_id``."""
        _change_id(change_id)
        out, n = ffi.new("uint8_t **"), ffi.new("size_t *")
        from .consortium import _take, check

        check(lib.fedshare_payload_member_approve(change_id, out, n))
        return self.submit(int(lib.FEDSHARE_OP_MEMBER_APPROVE), _take(out[0], n[0]))

    def member_change(self, change_id: Optional[int] = None) -> Optional[Dict[str, Any]]:
        """Membership change ``change_id`` (default: the open one, or the last one);
        None when there is none. ``status`` is proposed, approved or expired (a
        proposal past ``expires_after`` is expired even before a new one closes it)."""
        if change_id is None:
            rec = self.members_record()
            if rec is None:
                return None
            change_id = rec["open_change"] or rec["last_change"]
            if not change_id:
                return None
        return self.record(int(lib.FEDSHARE_REC_MEMBER_CHANGE), _change_id(change_id))

    def members_record(self) -> Optional[Dict[str, Any]]:
        """The membership the chain records (None until the first proposal: the
        configuration's members are in force then)."""
        return self.record(int(lib.FEDSHARE_REC_MEMBERS), bytes(32))

    def members(self, height: Optional[int] = None) -> List[Dict[str, Any]]:
        """The members in force at ``height`` (default: the latest the chain
        records): each with key, did, name, org, roles and credentials."""
        rec = self.members_record()
        if rec is None:
            from .consortium import config_members

            return config_members(self)
        out = []
        for e in rec["members"]:
            later = height is None or height >= e["since"]
            status = e["status"] if later else e["status_before"]
            if status != "active":
                continue
            out.append({"key": e["key"], "did": e["did"], "name": e["name"], "org": e["org"],
                        "roles": e["roles"] if later else e["roles_before"],
                        "credentials": e["credentials"]})
        return out

    def members_status(self, height: Optional[int] = None) -> Dict[str, Any]:
        """The members in force, the retired ones, and the open (or last) change."""
        rec = self.members_record()
        retired = []
        if rec is not None:
            retired = [e["did"] for e in rec["members"]
                       if (e["status"] if height is None or height >= e["since"]
                           else e["status_before"]) == "retired"]
        return {"members": self.members(height), "retired": retired,
                "change": self.member_change()}
