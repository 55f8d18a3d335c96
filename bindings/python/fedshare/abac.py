"""Attribute-based access control (libabac) from Python.

    >>> from fedshare import abac
    >>> ps = abac.parse('''
    ...   permit train_only (subject, action == "train", resource is "dataset")
    ...   when { context.purpose == "training" && resource.uses < 100 }
    ...   obligations [no_export];
    ... ''', schema="resource { uses: int } context { purpose: string }")
    >>> d = ps.evaluate({"action": "train",
    ...                  "resource": {"id": "d1", "type": "dataset", "uses": 3},
    ...                  "context": {"purpose": "training"}})
    >>> d.allowed, d.rules, d.obligations
    (True, ['train_only'], ['no_export'])

Requests are plain dicts: ``action`` (str); ``subject`` and ``resource`` (dicts whose ``id``,
``type`` and ``ancestors`` keys describe the entity and whose other keys are attributes — or
put attributes under ``attrs``); ``context`` (dict of attributes). Values: ``bool``, ``int``,
``str``, :class:`Timestamp` (or an aware ``datetime``), and sets/lists/tuples of ``str`` or of
``int``. The language is described in docs/abac-language.md.
"""
from __future__ import annotations

import calendar
import datetime as _dt
import threading
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from . import _codes, _native
from .errors import InvalidInputError

_m = _native.load("abac")
ffi, lib = _m.ffi, _m.lib

SUBJECT, RESOURCE, CONTEXT = 0, 1, 2
PERMIT, DENY = 1, 0
_EXPLAIN = 1

#: code -> name of every libabac return code (its C name without ``ABAC_E_``),
#: from libabac/codes.tsv
CODES = {c.value: c.name[len("ABAC_E_"):] for c in _codes.CODES.values() if c.library == "abac"}
_POLICY_CODES = frozenset(_native.code_value("ABAC_E_" + n) for n in (
    "SYNTAX", "TYPE", "SCHEMA", "UNKNOWN_ATTR", "DUPLICATE_RULE", "LIMIT"))
_E_ATTR_TYPE = _native.code_value("ABAC_E_ATTR_TYPE")
_REASONS = {1: "action", 2: "resource_type", 3: "condition", 4: "error"}


class PolicyError(InvalidInputError):
    """A policy or schema that does not parse or type-check.

    Attributes: ``line`` and ``column`` (1-based) and ``detail`` (what was expected).
    """

    def __init__(self, message: str, code: "int | None" = None, library: str = "abac",
                 line: int = 0, column: int = 0, detail: str = ""):
        super().__init__(message, code=code, library=library)
        self.line = line
        self.column = column
        self.detail = detail


def _strerror(rc: int) -> str:
    return str(ffi.string(lib.abac_strerror(rc)).decode())


# Each code's exception comes from libabac/codes.tsv (fedshare._native).
check = _native.make_checker("abac", _strerror)


class Timestamp(int):
    """Integer seconds since 1970-01-01T00:00:00Z, typed as a timestamp attribute."""

    @classmethod
    def from_datetime(cls, dt: _dt.datetime) -> "Timestamp":
        if dt.tzinfo is None:
            raise InvalidInputError("abac: a datetime needs a time zone", library="abac")
        return cls(calendar.timegm(dt.astimezone(_dt.timezone.utc).timetuple()))


@dataclass
class Explanation:
    """Why one permit rule did not match."""

    rule: str
    reason: str  # "action", "resource_type", "condition" or "error"
    condition: str = ""  # first failing sub-condition, canonical syntax
    line: int = 0
    column: int = 0


@dataclass
class Decision:
    """The outcome of :meth:`PolicySet.evaluate`."""

    allowed: bool
    rules: list[str] = field(default_factory=list)  # ids of the deciding rules
    obligations: list[Any] = field(default_factory=list)
    errors: list[Any] = field(default_factory=list)  # (rule id, error name) of rules that failed
    explanations: list[Any] = field(default_factory=list)

    @property
    def effect(self) -> str:
        return "permit" if self.allowed else "deny"


def _b(s: str) -> bytes:
    if not isinstance(s, str):
        raise InvalidInputError(f"abac: expected a string, got {type(s).__name__}", library="abac")
    return s.encode("utf-8")


class PolicySet:
    """A compiled, immutable policy set (rules, schema, version and members)."""

    def __init__(self, _ptr: Any) -> None:
        self._ptr = ffi.gc(_ptr, lib.abac_policyset_free)
        self._local = threading.local()

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def compile(cls, text: str, schema: "str | None" = None, version: int = 0,
                members: Sequence[bytes] = ()) -> "PolicySet":
        src = _b(text)
        opts = ffi.new("abac_compile_options *")
        lib.abac_compile_options_init(opts)
        keep = []
        if schema is not None:
            sb = ffi.new("char[]", _b(schema))
            keep.append(sb)
            opts.schema = sb
            opts.schema_len = len(_b(schema))
        if not 0 <= int(version) < 2**64:
            raise InvalidInputError("abac: version out of range", library="abac")
        opts.set_version = int(version)
        members = list(members)
        for m in members:
            if not isinstance(m, (bytes, bytearray)) or len(m) != 32:
                raise InvalidInputError("abac: members are 32-byte Ed25519 public keys",
                                        library="abac")
        if members:
            mb = ffi.new("uint8_t[]", b"".join(bytes(m) for m in members))
            keep.append(mb)
            opts.members = mb
            opts.n_members = len(members)
        out = ffi.new("abac_policyset **")
        line = ffi.new("uint32_t *")
        col = ffi.new("uint32_t *")
        msg = ffi.new("char[512]")
        rc = lib.abac_policyset_compile(src, len(src), opts, out, line, col, msg, 512)
        if rc in _POLICY_CODES:
            detail = ffi.string(msg).decode("utf-8", "replace")
            raise PolicyError(f"abac: {_strerror(rc)} at line {line[0]}, column {col[0]}: "
                              f"{detail}", code=rc, line=line[0], column=col[0], detail=detail)
        check(rc)
        return cls(out[0])

    @classmethod
    def decode(cls, data: bytes) -> "PolicySet":
        """Decode the canonical binary form (untrusted bytes)."""
        out = ffi.new("abac_policyset **")
        data = bytes(data)
        check(lib.abac_policyset_decode(data, len(data), out))
        return cls(out[0])

    # -- properties --------------------------------------------------------------------------
    @property
    def rule_ids(self) -> list[str]:
        return [ffi.string(lib.abac_policyset_rule_id(self._ptr, i)).decode()
                for i in range(lib.abac_policyset_rule_count(self._ptr))]

    @property
    def version(self) -> int:
        return int(lib.abac_policyset_version(self._ptr))

    @property
    def members(self) -> list[bytes]:
        return [bytes(ffi.buffer(lib.abac_policyset_member(self._ptr, i), 32))
                for i in range(lib.abac_policyset_member_count(self._ptr))]

    def encode(self) -> bytes:
        n = lib.abac_policyset_encoded_size(self._ptr)
        buf = ffi.new("uint8_t[]", max(n, 1))
        got = ffi.new("size_t *")
        check(lib.abac_policyset_encode(self._ptr, buf, n, got))
        return bytes(ffi.buffer(buf, got[0]))

    def hash(self) -> bytes:
        out = ffi.new("uint8_t[32]")
        check(lib.abac_policyset_hash(self._ptr, out))
        return bytes(out)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PolicySet) and self.encode() == other.encode()

    def __hash__(self) -> int:
        return hash(self.hash())

    # -- evaluation --------------------------------------------------------------------------
    def _decision(self) -> Any:
        d = getattr(self._local, "dec", None)
        if d is None:
            p = ffi.new("abac_decision **")
            check(lib.abac_decision_new(self._ptr, p))
            d = self._local.dec = ffi.gc(p[0], lib.abac_decision_free)
        return d

    def _request(self, req: Mapping[str, Any]) -> Any:
        if not isinstance(req, Mapping):
            raise InvalidInputError("abac: a request is a dict", library="abac")
        unknown = set(req) - {"action", "subject", "resource", "context"}
        if unknown:
            raise InvalidInputError(f"abac: unknown request keys {sorted(unknown)}",
                                    library="abac")
        n_vals, n_bytes = 8, 256
        for part in ("subject", "resource", "context"):
            for k, v in _attrs(req.get(part) or {}, part).items():
                n_vals += 1 + (len(v) if isinstance(v, (set, frozenset, list, tuple)) else 0)
                n_bytes += len(str(k)) + _size(v)
            ent = req.get(part) or {}
            if part != "context":
                for a in ent.get("ancestors", ()) or ():
                    n_bytes += len(str(a)) + 8
                n_bytes += len(str(ent.get("id", ""))) + len(str(ent.get("type", ""))) + 16
        n_bytes += len(str(req.get("action", "")))
        out = ffi.new("abac_request **")
        check(lib.abac_request_new(self._ptr, lib.abac_request_arena_size(self._ptr, n_vals,
                                                                           n_bytes), out))
        r = ffi.gc(out[0], lib.abac_request_free)
        if "action" in req and req["action"] is not None:
            a = _b(req["action"])
            check(lib.abac_request_set_action(r, a, len(a)))
        for scope, part in ((SUBJECT, "subject"), (RESOURCE, "resource")):
            ent = req.get(part)
            if ent is None:
                continue
            if not isinstance(ent, Mapping):
                raise InvalidInputError(f"abac: request['{part}'] is a dict", library="abac")
            if "id" in ent:
                i = _b(ent["id"])
                t = _b(ent["type"]) if ent.get("type") is not None else ffi.NULL
                check(lib.abac_request_set_entity(r, scope, i, len(i), t,
                                                  0 if t == ffi.NULL else len(t)))
            for g in ent.get("ancestors", ()) or ():
                gb = _b(g)
                check(lib.abac_request_add_ancestor(r, scope, gb, len(gb)))
        for scope, part in ((SUBJECT, "subject"), (RESOURCE, "resource"), (CONTEXT, "context")):
            for name, value in _attrs(req.get(part) or {}, part).items():
                _set(r, scope, name, value)
        return r

    def evaluate(self, request: Mapping[str, Any], explain: bool = False) -> Decision:
        """Decide ``request``; with ``explain`` also say why each permit did not match."""
        r = self._request(request)
        d = self._decision()
        rc = lib.abac_decide(self._ptr, r, d, _EXPLAIN if explain else 0)
        check(rc)
        ids = self.rule_ids
        dec = Decision(allowed=rc == PERMIT)
        dec.rules = [ids[lib.abac_decision_rule(d, i)]
                     for i in range(lib.abac_decision_rule_count(d))]
        dec.obligations = [ffi.string(lib.abac_decision_obligation(d, i)).decode()
                           for i in range(lib.abac_decision_obligation_count(d))]
        ri = ffi.new("size_t *")
        code = ffi.new("int *")
        for i in range(lib.abac_decision_error_count(d)):
            check(lib.abac_decision_error(d, i, ri, code))
            dec.errors.append((ids[ri[0]], CODES.get(code[0], str(code[0]))))
        if explain:
            why = ffi.new("int *")
            text = ffi.new("char[1024]")
            line = ffi.new("uint32_t *")
            col = ffi.new("uint32_t *")
            for i in range(lib.abac_decision_explain_count(d)):
                check(lib.abac_decision_explain(d, i, ri, why, text, 1024, line, col))
                dec.explanations.append(Explanation(
                    rule=ids[ri[0]], reason=_REASONS.get(why[0], str(why[0])),
                    condition=ffi.string(text).decode("utf-8", "replace"),
                    line=line[0], column=col[0]))
        return dec

    def explain(self, request: Mapping[str, Any]) -> Decision:
        """:meth:`evaluate` with explanations."""
        return self.evaluate(request, explain=True)

    def is_allowed(self, request: Mapping[str, Any]) -> bool:
        return self.evaluate(request).allowed

    # -- updates -----------------------------------------------------------------------------
    def update_message(self, next_set: "PolicySet") -> bytes:
        """The 32 bytes each member signs to move from this set to ``next_set``."""
        out = ffi.new("uint8_t[32]")
        check(lib.abac_update_message(self._ptr, next_set._ptr, out))
        return bytes(out)

    def sign_update(self, next_set: "PolicySet", seckey: bytes) -> bytes:
        """A member's Ed25519 signature (64 bytes) of the update to ``next_set``."""
        if not isinstance(seckey, (bytes, bytearray)) or len(seckey) != 64:
            raise InvalidInputError("abac: a secret key is 64 bytes", library="abac")
        sig = ffi.new("uint8_t[64]")
        check(lib.abac_update_sign(self._ptr, next_set._ptr, bytes(seckey), sig))
        return bytes(sig)

    def encode_update(self, next_set: "PolicySet",
                      signatures: "Mapping[bytes, bytes] | Iterable[tuple[bytes, bytes]]") -> bytes:
        """Encode a signed update from {public key: signature} (or (pk, sig) pairs)."""
        pairs = list(signatures.items() if isinstance(signatures, Mapping) else signatures)
        for pk, sig in pairs:
            if len(pk) != 32 or len(sig) != 64:
                raise InvalidInputError("abac: (32-byte key, 64-byte signature) pairs",
                                        library="abac")
        pks = b"".join(bytes(p) for p, _ in pairs)
        sigs = b"".join(bytes(s) for _, s in pairs)
        n = lib.abac_update_encoded_size(next_set._ptr, len(pairs))
        buf = ffi.new("uint8_t[]", n)
        got = ffi.new("size_t *")
        check(lib.abac_update_encode(self._ptr, next_set._ptr, pks or ffi.NULL,
                                     sigs or ffi.NULL, len(pairs), buf, n, got))
        return bytes(ffi.buffer(buf, got[0]))

    def apply_update(self, update: bytes) -> "PolicySet":
        """Verify a signed update against this (current) set and return the new set.

        Raises :class:`fedshare.AccessDeniedError` for a stale version, a replay, a duplicate
        signer, a non-member or too few signatures, :class:`fedshare.VerificationError` for a
        bad signature and :class:`fedshare.InvalidInputError` for malformed bytes.
        """
        out = ffi.new("abac_policyset **")
        update = bytes(update)
        check(lib.abac_update_apply(self._ptr, update, len(update), out))
        return PolicySet(out[0])


def _attrs(ent: Mapping[str, Any], part: str) -> dict[str, Any]:
    if not isinstance(ent, Mapping):
        raise InvalidInputError(f"abac: request['{part}'] is a dict", library="abac")
    if part == "context":
        return dict(ent)
    out = {k: v for k, v in ent.items() if k not in ("id", "type", "ancestors", "attrs")}
    out.update(ent.get("attrs") or {})
    return out


def _size(v: Any) -> int:
    if isinstance(v, str):
        return len(v.encode("utf-8")) + 8
    if isinstance(v, (set, frozenset, list, tuple)):
        return sum(_size(x) for x in v) + 8
    return 8


def _set(r: Any, scope: int, name: str, value: Any) -> None:
    nb = _b(name)
    if b"\0" in nb:  # C names end at NUL: "k\0zz" would silently become "k"
        raise InvalidInputError(f"abac: attribute name {name!r} contains a NUL byte",
                                library="abac")
    if isinstance(value, bool):
        check(lib.abac_request_set_bool(r, scope, nb, int(value)))
    elif isinstance(value, _dt.datetime):
        check(lib.abac_request_set_timestamp(r, scope, nb, Timestamp.from_datetime(value)))
    elif isinstance(value, Timestamp):
        check(lib.abac_request_set_timestamp(r, scope, nb, int(value)))
    elif isinstance(value, int):
        if not -(2**63) <= value < 2**63:
            raise InvalidInputError("abac: integers are int64", library="abac")
        rc = lib.abac_request_set_int(r, scope, nb, value)
        if rc == _E_ATTR_TYPE:  # the schema says timestamp: an int is seconds
            rc = lib.abac_request_set_timestamp(r, scope, nb, value)
        check(rc)
    elif isinstance(value, str):
        vb = _b(value)
        check(lib.abac_request_set_string(r, scope, nb, vb, len(vb)))
    elif isinstance(value, (set, frozenset, list, tuple)):
        items = list(value)
        if all(isinstance(x, str) for x in items):  # also the empty set
            bs = [_b(x) for x in items]
            keep = [ffi.new("char[]", b) for b in bs]
            ptrs = ffi.new("char *[]", keep) if keep else ffi.NULL
            lens = ffi.new("size_t[]", [len(b) for b in bs]) if bs else ffi.NULL
            rc = lib.abac_request_set_string_set(r, scope, nb, ptrs, lens, len(bs))
            if rc == _E_ATTR_TYPE and not items:
                rc = lib.abac_request_set_int_set(r, scope, nb, ffi.NULL, 0)
            check(rc)
        elif all(isinstance(x, int) and not isinstance(x, bool) for x in items):
            for x in items:
                if not -(2**63) <= x < 2**63:
                    raise InvalidInputError("abac: integers are int64", library="abac")
            check(lib.abac_request_set_int_set(r, scope, nb, ffi.new("int64_t[]", items),
                                               len(items)))
        else:
            raise InvalidInputError(f"abac: attribute {name!r}: a set holds only strings or "
                                    "only integers", library="abac")
    else:
        raise InvalidInputError(f"abac: attribute {name!r}: unsupported value type "
                                f"{type(value).__name__}", library="abac")


def parse(text: str, schema: "str | None" = None, version: int = 0,
          members: Sequence[bytes] = ()) -> PolicySet:
    """Compile policy text (optionally checked against a schema). Raises :class:`PolicyError`
    with ``line``, ``column`` and ``detail``."""
    return PolicySet.compile(text, schema=schema, version=version, members=members)


def validate(text: str, schema: str) -> list[tuple[int, int, str]]:
    """Check policy text against a schema; return [] when it is valid, else a list with the
    first error as ``(line, column, detail)``."""
    try:
        PolicySet.compile(text, schema=schema)
    except PolicyError as e:
        return [(e.line, e.column, e.detail)]
    return []


def evaluate(policies: "PolicySet | str", request: Mapping[str, Any],
             schema: "str | None" = None, explain: bool = False) -> Decision:
    """Decide one request (compiling ``policies`` first when given as text)."""
    ps = policies if isinstance(policies, PolicySet) else parse(policies, schema=schema)
    return ps.evaluate(request, explain=explain)


def explain(policies: "PolicySet | str", request: Mapping[str, Any],
            schema: "str | None" = None) -> Decision:
    return evaluate(policies, request, schema=schema, explain=True)


def keypair(seed: bytes) -> tuple[bytes, bytes]:
    """(public key 32 bytes, secret key 64 bytes) of a member from a 32-byte seed."""
    if not isinstance(seed, (bytes, bytearray)) or len(seed) != 32:
        raise InvalidInputError("abac: a seed is 32 bytes", library="abac")
    pk = ffi.new("uint8_t[32]")
    sk = ffi.new("uint8_t[64]")
    check(lib.abac_keypair_from_seed(bytes(seed), pk, sk))
    return bytes(pk), bytes(sk)


def sign_update(current: PolicySet, next_set: PolicySet, seckey: bytes) -> bytes:
    return current.sign_update(next_set, seckey)


def encode_update(current: PolicySet, next_set: PolicySet,
                  signatures: "Mapping[bytes, bytes] | Iterable[tuple[bytes, bytes]]") -> bytes:
    return current.encode_update(next_set, signatures)


def apply_update(current: PolicySet, update: bytes) -> PolicySet:
    return current.apply_update(update)


def ancestors(entity: str, parents: Mapping[str, Iterable[str]]) -> list[str]:
    """Transitive closure of ``parents`` from ``entity`` (sorted), for a request's
    ``ancestors`` list."""
    seen, todo = set(), list(parents.get(entity, ()))
    while todo:
        g = todo.pop()
        if g not in seen:
            seen.add(g)
            todo.extend(parents.get(g, ()))
    seen.discard(entity)
    return sorted(seen)


def version_string() -> str:
    return str(ffi.string(lib.abac_version_string()).decode())


# -- Cedar ----------------------------------------------------------------------------------
# Cedar policy text, Cedar's JSON entities and requests (libabac/include/abac/cedar.h).

_E_JSON = _native.code_value("ABAC_E_JSON")


def _json_bytes(v: Any) -> bytes:
    import json
    if isinstance(v, (bytes, bytearray)):
        return bytes(v)
    if isinstance(v, str):
        return v.encode("utf-8")
    return json.dumps(v, ensure_ascii=False).encode("utf-8")


@dataclass
class CedarResponse:
    """Cedar's answer: ``decision`` ("Allow" or "Deny"), ``reasons`` (ids of the deciding
    policies) and ``errors`` ((policy id, error name) of the policies that raised an error)."""

    decision: str
    reasons: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)

    @property
    def allowed(self) -> bool:
        return self.decision == "Allow"


class CedarEntities:
    """Entities in Cedar's JSON entity format (a list of dicts, or its JSON text)."""

    def __init__(self, entities: Any = ()) -> None:
        data = _json_bytes(list(entities) if isinstance(entities, tuple) else entities)
        out = ffi.new("abac_cedar_entities **")
        msg = ffi.new("char[256]")
        rc = lib.abac_cedar_entities_parse_json(out, data, len(data), msg, 256)
        if rc == _E_JSON:
            raise InvalidInputError("abac: Cedar entities: " +
                                    ffi.string(msg).decode("utf-8", "replace"), code=rc,
                                    library="abac")
        check(rc)
        self._ptr = ffi.gc(out[0], lib.abac_cedar_entities_free)

    def __len__(self) -> int:
        return int(lib.abac_cedar_entity_count(self._ptr))


class CedarPolicies:
    """A Cedar policy set parsed from text. Policy ids are "policy0", "policy1", … in source
    order (Cedar's ids for one text); :meth:`annotation` reads ``@id("…")`` and the others."""

    def __init__(self, text: str, version: int = 0, members: Sequence[bytes] = ()) -> None:
        """Parse ``text``; ``version`` and ``members`` (32-byte Ed25519 public keys) make it a
        versioned set whose later versions need more than 2/3 of the members' signatures."""
        src = _b(text)
        opts = ffi.new("abac_compile_options *")
        lib.abac_compile_options_init(opts)
        if not 0 <= int(version) < 2**64:
            raise InvalidInputError("abac: version out of range", library="abac")
        opts.set_version = int(version)
        members = list(members)
        for m in members:
            if not isinstance(m, (bytes, bytearray)) or len(m) != 32:
                raise InvalidInputError("abac: members are 32-byte Ed25519 public keys",
                                        library="abac")
        if members:
            mb = ffi.new("uint8_t[]", b"".join(bytes(m) for m in members))
            opts.members = mb
            opts.n_members = len(members)
        out = ffi.new("abac_cedar_policies **")
        line = ffi.new("uint32_t *")
        col = ffi.new("uint32_t *")
        msg = ffi.new("char[512]")
        rc = lib.abac_cedar_policies_compile(out, src, len(src), opts, line, col, msg, 512)
        if rc in _POLICY_CODES:
            detail = ffi.string(msg).decode("utf-8", "replace")
            raise PolicyError(f"abac: {_strerror(rc)} at line {line[0]}, column {col[0]}: "
                              f"{detail}", code=rc, line=line[0], column=col[0], detail=detail)
        check(rc)
        self._own(out[0])

    def _own(self, ptr: Any) -> None:
        self._ptr = ffi.gc(ptr, lib.abac_cedar_policies_free)
        self._local = threading.local()
        self.ids = [ffi.string(lib.abac_cedar_policy_id(self._ptr, i)).decode()
                    for i in range(lib.abac_cedar_policy_count(self._ptr))]

    @classmethod
    def decode(cls, data: bytes) -> "CedarPolicies":
        """Decode the canonical encoding (ABCP; untrusted bytes)."""
        out = ffi.new("abac_cedar_policies **")
        data = bytes(data)
        check(lib.abac_cedar_policies_decode(out, data, len(data)))
        ps = cls.__new__(cls)
        ps._own(out[0])
        return ps

    @property
    def version(self) -> int:
        return int(lib.abac_cedar_policies_version(self._ptr))

    @property
    def members(self) -> list[bytes]:
        return [bytes(ffi.buffer(lib.abac_cedar_policies_member(self._ptr, i), 32))
                for i in range(lib.abac_cedar_policies_member_count(self._ptr))]

    @property
    def names(self) -> list[str]:
        """Each policy's name as the ledger records it: its ``@id`` annotation, else its id."""
        return [self.annotation(i, "id") or pid for i, pid in enumerate(self.ids)]

    def encode(self) -> bytes:
        """The canonical encoding the ledger stores and hashes (version, members, text)."""
        n = lib.abac_cedar_policies_encoded_size(self._ptr)
        buf = ffi.new("uint8_t[]", max(n, 1))
        got = ffi.new("size_t *")
        check(lib.abac_cedar_policies_encode(self._ptr, buf, n, got))
        return bytes(ffi.buffer(buf, got[0]))

    def hash(self) -> bytes:
        out = ffi.new("uint8_t[32]")
        check(lib.abac_cedar_policies_hash(self._ptr, out))
        return bytes(out)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CedarPolicies) and self.encode() == other.encode()

    def __hash__(self) -> int:
        return hash(self.hash())

    def update_message(self, next_set: "CedarPolicies") -> bytes:
        """The 32 bytes each member signs to move from this set to ``next_set``."""
        out = ffi.new("uint8_t[32]")
        check(lib.abac_cedar_update_message(self._ptr, next_set._ptr, out))
        return bytes(out)

    def sign_update(self, next_set: "CedarPolicies", seckey: bytes) -> bytes:
        """A member's Ed25519 signature (64 bytes) of the update to ``next_set``."""
        if not isinstance(seckey, (bytes, bytearray)) or len(seckey) != 64:
            raise InvalidInputError("abac: a secret key is 64 bytes", library="abac")
        sig = ffi.new("uint8_t[64]")
        check(lib.abac_cedar_update_sign(self._ptr, next_set._ptr, bytes(seckey), sig))
        return bytes(sig)

    def encode_update(self, next_set: "CedarPolicies",
                      signatures: "Mapping[bytes, bytes] | Iterable[tuple[bytes, bytes]]") -> bytes:
        """Encode a signed update (ABCU) from {public key: signature} (or (pk, sig) pairs)."""
        pairs = list(signatures.items() if isinstance(signatures, Mapping) else signatures)
        for pk, sig in pairs:
            if len(pk) != 32 or len(sig) != 64:
                raise InvalidInputError("abac: (32-byte key, 64-byte signature) pairs",
                                        library="abac")
        pks = b"".join(bytes(p) for p, _ in pairs)
        sigs = b"".join(bytes(s) for _, s in pairs)
        n = lib.abac_cedar_update_encoded_size(next_set._ptr, len(pairs))
        buf = ffi.new("uint8_t[]", n)
        got = ffi.new("size_t *")
        check(lib.abac_cedar_update_encode(self._ptr, next_set._ptr, pks or ffi.NULL,
                                           sigs or ffi.NULL, len(pairs), buf, n, got))
        return bytes(ffi.buffer(buf, got[0]))

    def apply_update(self, update: bytes) -> "CedarPolicies":
        """Verify a signed update against this (current) set and return the new set (raises
        as :meth:`PolicySet.apply_update`)."""
        out = ffi.new("abac_cedar_policies **")
        update = bytes(update)
        check(lib.abac_cedar_update_apply(out, self._ptr, update, len(update)))
        ps = CedarPolicies.__new__(CedarPolicies)
        ps._own(out[0])
        return ps

    def __len__(self) -> int:
        return len(self.ids)

    def annotation(self, i: int, key: str) -> "str | None":
        kb = _b(key)
        n = ffi.new("size_t *")
        p = lib.abac_cedar_policy_annotation(self._ptr, i, kb, len(kb), n)
        return None if p == ffi.NULL else bytes(ffi.buffer(p, n[0])).decode("utf-8")

    def is_authorized(self, request: Any, entities: "CedarEntities | Any" = ()) -> CedarResponse:
        """Decide a request ({"principal", "action", "resource", "context"}; uids as
        ``{"type": T, "id": I}`` or ``'T::"i"'``) against ``entities``."""
        es = entities if isinstance(entities, CedarEntities) else CedarEntities(entities)
        data = _json_bytes(request)
        rq = ffi.new("abac_cedar_request **")
        msg = ffi.new("char[256]")
        rc = lib.abac_cedar_request_parse_json(rq, data, len(data), msg, 256)
        if rc == _E_JSON:
            raise InvalidInputError("abac: Cedar request: " +
                                    ffi.string(msg).decode("utf-8", "replace"), code=rc,
                                    library="abac")
        check(rc)
        r = ffi.gc(rq[0], lib.abac_cedar_request_free)
        resp = getattr(self._local, "resp", None)
        if resp is None:
            p = ffi.new("abac_cedar_response **")
            check(lib.abac_cedar_response_new(p, self._ptr, 0))
            resp = self._local.resp = ffi.gc(p[0], lib.abac_cedar_response_free)
        rc = lib.abac_cedar_is_authorized(self._ptr, es._ptr, r, resp)
        check(rc)
        out = CedarResponse("Allow" if rc == PERMIT else "Deny")
        out.reasons = [self.ids[lib.abac_cedar_response_reason(resp, i)]
                       for i in range(lib.abac_cedar_response_reason_count(resp))]
        pi = ffi.new("size_t *")
        code = ffi.new("int *")
        for i in range(lib.abac_cedar_response_error_count(resp)):
            check(lib.abac_cedar_response_error(resp, i, pi, code))
            out.errors.append((self.ids[pi[0]], CODES.get(code[0], str(code[0]))))
        return out


def cedar_is_authorized(request: Any, policies: "CedarPolicies | str",
                        entities: "CedarEntities | Any" = ()) -> CedarResponse:
    """Decide one Cedar request (parsing ``policies`` first when given as text)."""
    ps = policies if isinstance(policies, CedarPolicies) else CedarPolicies(policies)
    return ps.is_authorized(request, entities)


__all__ = [
    "PolicySet", "Decision", "Explanation", "PolicyError", "Timestamp", "parse", "validate",
    "evaluate", "explain", "keypair", "sign_update", "encode_update", "apply_update",
    "ancestors", "version_string", "CODES", "CedarPolicies", "CedarEntities", "CedarResponse",
    "cedar_is_authorized",
]
