"""Access control in the Cedar language (libabac) from Python.

    >>> from fedshare import abac
    >>> ps = abac.CedarPolicies('''
    ...   @id("train_only")
    ...   permit (principal, action == Action::"train", resource is Dataset)
    ...   when { context.purpose == "training" && resource.uses < 100 };
    ... ''')
    >>> r = ps.is_authorized(
    ...     {"principal": 'Member::"alice"', "action": 'Action::"train"',
    ...      "resource": 'Dataset::"d1"', "context": {"purpose": "training"}},
    ...     [{"uid": {"type": "Dataset", "id": "d1"}, "attrs": {"uses": 3}, "parents": []}])
    >>> r.decision, r.reasons, ps.names
    ('Allow', ['policy0'], ['train_only'])

Requests and entities are Cedar's JSON (as dicts or text); a set made with ``version`` and
``members`` has the canonical encoding the ledger stores and is replaced by updates signed by
more than two thirds of its members. The language is described in docs/abac-language.md.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from . import _codes, _native
from .errors import InvalidInputError

_m = _native.load("abac")
ffi, lib = _m.ffi, _m.lib

PERMIT, DENY = 1, 0

#: code -> name of every libabac return code (its C name without ``ABAC_E_``),
#: from libabac/codes.tsv
CODES = {c.value: c.name[len("ABAC_E_"):] for c in _codes.CODES.values() if c.library == "abac"}
_POLICY_CODES = frozenset(_native.code_value("ABAC_E_" + n) for n in (
    "SYNTAX", "TYPE", "SCHEMA", "UNKNOWN_ATTR", "DUPLICATE_RULE", "LIMIT", "UNKNOWN_TYPE",
    "UNSAFE_ATTR", "NOT_APPLICABLE", "EXTENSION"))


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


def _b(s: str) -> bytes:
    if not isinstance(s, str):
        raise InvalidInputError(f"abac: expected a string, got {type(s).__name__}", library="abac")
    return s.encode("utf-8")


def keypair(seed: bytes) -> tuple[bytes, bytes]:
    """(public key 32 bytes, secret key 64 bytes) of a member from a 32-byte seed."""
    if not isinstance(seed, (bytes, bytearray)) or len(seed) != 32:
        raise InvalidInputError("abac: a seed is 32 bytes", library="abac")
    pk = ffi.new("uint8_t[32]")
    sk = ffi.new("uint8_t[64]")
    check(lib.abac_keypair_from_seed(bytes(seed), pk, sk))
    return bytes(pk), bytes(sk)


def version_string() -> str:
    return str(ffi.string(lib.abac_version_string()).decode())


# -- Cedar ----------------------------------------------------------------------------------
# Cedar policy text, Cedar's JSON entities and requests (libabac/include/abac/cedar.h).

_E_JSON = _native.code_value("ABAC_E_JSON")
_E_NOMEM = _native.code_value("ABAC_E_NOMEM")


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
    """Entities in Cedar's JSON entity format (a list of dicts, or its JSON text).

    With ``schema`` (a :class:`CedarSchema`, or what its constructor takes) values are read by
    the types the schema declares, as Cedar does: ``{"type": T, "id": I}`` for an entity
    reference without ``__entity``, ``{"fn": F, "arg": A}`` or the argument alone
    (``"10.0.0.1"``) for an extension value without ``__extn``; entities that do not conform to
    the schema are refused (:class:`InvalidInputError` with the libabac code)."""

    def __init__(self, entities: Any = (), schema: Any = None) -> None:
        data = _json_bytes(list(entities) if isinstance(entities, tuple) else entities)
        out = ffi.new("abac_cedar_entities **")
        msg = ffi.new("char[256]")
        if schema is None:
            rc = lib.abac_cedar_entities_parse_json(out, data, len(data), msg, 256)
        else:
            sch = _schema(schema)
            rc = lib.abac_cedar_entities_parse_json_schema(out, data, len(data), sch._ptr, msg,
                                                           256)
        if rc == _E_JSON or (schema is not None and rc < 0 and rc != _E_NOMEM):
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

    def __init__(self, text: str, version: int = 0, members: Sequence[bytes] = (),
                 schema: Any = None) -> None:
        """Parse ``text``; ``version`` and ``members`` (32-byte Ed25519 public keys) make it a
        versioned set whose later versions need more than 2/3 of the members' signatures.
        With ``schema`` (JSON as a dict or text, or the human-readable syntax) the policies
        must also validate against it (:class:`PolicyError` with the first error)."""
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
        if schema is not None:
            sb = _json_bytes(schema)
            sbuf = ffi.new("char[]", sb)
            opts.schema = sbuf
            opts.schema_len = len(sb)
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

    @property
    def link_count(self) -> int:
        """Number of template links (they follow the text's policies)."""
        return int(lib.abac_cedar_policies_link_count(self._ptr))

    def __eq__(self, other: object) -> bool:
        """Equal canonical encodings (template links included: ABCP version 2)."""
        if not isinstance(other, CedarPolicies):
            return False
        return self.encode() == other.encode()

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

    @property
    def templates(self) -> list[str]:
        """Ids of the templates (policies with ``?principal`` / ``?resource`` in their scope;
        they decide nothing, their links do)."""
        return [pid for i, pid in enumerate(self.ids)
                if lib.abac_cedar_policy_is_template(self._ptr, i) == 1]

    def link(self, template: "str | int", new_id: str, principal: "str | None" = None,
             resource: "str | None" = None) -> "CedarPolicies":
        """A new set with template ``template`` (its id, its ``@id`` annotation or its index)
        linked as policy ``new_id``, its slots set to ``principal`` / ``resource`` (entity uids
        in Cedar syntax, ``'User::"alice"'``). The links are part of the set's canonical encoding
        (ABCP version 2, since libabac 1.3.0)."""
        if isinstance(template, int):
            idx = template
        else:
            cands = [i for i, pid in enumerate(self.ids) if pid == template]
            if not cands:
                cands = [i for i in range(len(self.ids)) if self.annotation(i, "id") == template
                         and lib.abac_cedar_policy_is_template(self._ptr, i) == 1]
            if len(cands) != 1:
                raise InvalidInputError(f"abac: no single template {template!r}", library="abac")
            idx = cands[0]
        if not 0 <= idx < len(self.ids):
            raise InvalidInputError("abac: template index out of range", library="abac")
        nb = _b(new_id)
        pb = _b(principal) if principal is not None else None
        rb = _b(resource) if resource is not None else None
        out = ffi.new("abac_cedar_policies **")
        check(lib.abac_cedar_policies_link(out, self._ptr, idx, nb, len(nb),
                                           pb if pb is not None else ffi.NULL,
                                           len(pb) if pb is not None else 0,
                                           rb if rb is not None else ffi.NULL,
                                           len(rb) if rb is not None else 0))
        ps = CedarPolicies.__new__(CedarPolicies)
        ps._own(out[0])
        return ps

    def annotation(self, i: int, key: str) -> "str | None":
        kb = _b(key)
        n = ffi.new("size_t *")
        p = lib.abac_cedar_policy_annotation(self._ptr, i, kb, len(kb), n)
        return None if p == ffi.NULL else bytes(ffi.buffer(p, n[0])).decode("utf-8")

    def is_authorized(self, request: Any, entities: "CedarEntities | Any" = (),
                      schema: Any = None) -> CedarResponse:
        """Decide a request ({"principal", "action", "resource", "context"}; uids as
        ``{"type": T, "id": I}`` or ``'T::"i"'``) against ``entities``.

        With ``schema`` the context (and ``entities`` unless already a :class:`CedarEntities`)
        are read by the schema's declared types, as :class:`CedarEntities` describes, and a
        request or entities that do not conform are refused (:class:`InvalidInputError`)."""
        sch = None if schema is None else _schema(schema)
        es = (entities if isinstance(entities, CedarEntities)
              else CedarEntities(entities, schema=sch))
        data = _json_bytes(request)
        rq = ffi.new("abac_cedar_request **")
        msg = ffi.new("char[256]")
        if sch is None:
            rc = lib.abac_cedar_request_parse_json(rq, data, len(data), msg, 256)
        else:
            rc = lib.abac_cedar_request_parse_json_schema(rq, data, len(data), sch._ptr, msg, 256)
        if rc == _E_JSON or (sch is not None and rc < 0 and rc != _E_NOMEM):
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


# -- schemas (libabac 1.1.0) ------------------------------------------------------------------

@dataclass
class ValidationError:
    """One error of :meth:`CedarSchema.validate`: the policy's id, the error's name (a libabac
    code without ``ABAC_E_``: UNKNOWN_TYPE, UNKNOWN_ATTR, UNSAFE_ATTR, TYPE, EXTENSION,
    NOT_APPLICABLE), Cedar's words for it, and where in the policy text it is."""

    policy_id: str
    code: str
    message: str
    line: int = 0
    column: int = 0


#: Kinds of :class:`ValidationWarning` (libabac 1.3.0), Cedar's validator warnings.
WARNING_KINDS = {1: "MixedScriptString", 2: "BidiCharsInString", 3: "BidiCharsInIdentifier",
                 4: "MixedScriptIdentifier", 5: "ConfusableIdentifier", 6: "ImpossiblePolicy"}


@dataclass
class ValidationWarning:
    """One warning of :meth:`CedarSchema.validate` (libabac 1.3.0): the policy's id, the kind
    (Cedar's name: MixedScriptString, BidiCharsInString, BidiCharsInIdentifier,
    MixedScriptIdentifier, ConfusableIdentifier, ImpossiblePolicy), Cedar's message and where
    in the policy text it is. Warnings do not fail validation."""

    policy_id: str
    kind: str
    message: str
    line: int = 0
    column: int = 0


@dataclass
class ValidationResult:
    """``passed`` is True when there are no ``errors``; ``warnings`` do not count."""

    errors: list[ValidationError] = field(default_factory=list)
    warnings: list[ValidationWarning] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.errors

    def __bool__(self) -> bool:
        return self.passed


class CedarSchema:
    """A Cedar schema, from Cedar's JSON schema format (a dict, or text starting with ``{``) or
    from the human-readable schema syntax (other text); ``format`` ("json" or "cedar") forces
    one. Raises :class:`PolicyError` (code SCHEMA) with the line and column of a syntax error."""

    def __init__(self, schema: Any, format: "str | None" = None) -> None:
        if format not in (None, "json", "cedar"):
            raise InvalidInputError("abac: schema format is 'json' or 'cedar'", library="abac")
        if isinstance(schema, (dict, list)):
            format = format or "json"
        data = _json_bytes(schema)
        if format is None:
            format = "json" if data.lstrip()[:1] == b"{" else "cedar"
        out = ffi.new("abac_cedar_schema **")
        msg = ffi.new("char[512]")
        line = ffi.new("uint32_t *")
        col = ffi.new("uint32_t *")
        if format == "json":
            rc = lib.abac_cedar_schema_parse_json(out, data, len(data), msg, 512)
        else:
            rc = lib.abac_cedar_schema_parse(out, data, len(data), line, col, msg, 512)
        if rc in _POLICY_CODES:
            detail = ffi.string(msg).decode("utf-8", "replace")
            raise PolicyError(f"abac: {_strerror(rc)}: {detail}", code=rc, line=line[0],
                              column=col[0], detail=detail)
        check(rc)
        self._ptr = ffi.gc(out[0], lib.abac_cedar_schema_free)
        self.text = data.decode("utf-8", "replace")  # for fedshare.abac_analyze(schema=…)

    @property
    def entity_type_count(self) -> int:
        return int(lib.abac_cedar_schema_entity_type_count(self._ptr))

    @property
    def action_count(self) -> int:
        return int(lib.abac_cedar_schema_action_count(self._ptr))

    def validate(self, policies: "CedarPolicies | str") -> ValidationResult:
        """Validate a policy set in Cedar's strict mode (see abac_cedar_validate())."""
        ps = policies if isinstance(policies, CedarPolicies) else CedarPolicies(policies)
        out = ffi.new("abac_cedar_validation **")
        check(lib.abac_cedar_validate(out, self._ptr, ps._ptr))
        v = ffi.gc(out[0], lib.abac_cedar_validation_free)
        res = ValidationResult()
        pi = ffi.new("size_t *")
        code = ffi.new("int *")
        m = ffi.new("const char **")
        ml = ffi.new("size_t *")
        line = ffi.new("uint32_t *")
        col = ffi.new("uint32_t *")
        for i in range(lib.abac_cedar_validation_error_count(v)):
            check(lib.abac_cedar_validation_error(v, i, pi, code, m, ml, line, col))
            res.errors.append(ValidationError(
                ps.ids[pi[0]], CODES.get(code[0], str(code[0])),
                bytes(ffi.buffer(m[0], ml[0])).decode("utf-8", "replace"), line[0], col[0]))
        for i in range(lib.abac_cedar_validation_warning_count(v)):
            check(lib.abac_cedar_validation_warning(v, i, pi, code, m, ml, line, col))
            res.warnings.append(ValidationWarning(
                ps.ids[pi[0]], WARNING_KINDS.get(code[0], str(code[0])),
                bytes(ffi.buffer(m[0], ml[0])).decode("utf-8", "replace"), line[0], col[0]))
        return res

    def check_entities(self, entities: "CedarEntities | Any") -> None:
        """Raise :class:`InvalidInputError` (with the libabac code) unless every entity
        conforms to the schema."""
        es = entities if isinstance(entities, CedarEntities) else CedarEntities(entities)
        msg = ffi.new("char[512]")
        rc = lib.abac_cedar_schema_check_entities(self._ptr, es._ptr, msg, 512)
        if rc:
            raise InvalidInputError("abac: entities do not conform to the schema: " +
                                    ffi.string(msg).decode("utf-8", "replace"), code=rc,
                                    library="abac")

    def check_request(self, request: Any) -> None:
        """Raise :class:`InvalidInputError` unless the request's action applies to its
        principal and resource types and its context has the action's context type."""
        data = _json_bytes(request)
        rq = ffi.new("abac_cedar_request **")
        msg = ffi.new("char[512]")
        rc = lib.abac_cedar_request_parse_json(rq, data, len(data), msg, 512)
        if rc == _E_JSON:
            raise InvalidInputError("abac: Cedar request: " +
                                    ffi.string(msg).decode("utf-8", "replace"), code=rc,
                                    library="abac")
        check(rc)
        r = ffi.gc(rq[0], lib.abac_cedar_request_free)
        rc = lib.abac_cedar_schema_check_request(self._ptr, r, msg, 512)
        if rc:
            raise InvalidInputError("abac: request does not conform to the schema: " +
                                    ffi.string(msg).decode("utf-8", "replace"), code=rc,
                                    library="abac")


def _schema(schema: Any) -> "CedarSchema":
    return schema if isinstance(schema, CedarSchema) else CedarSchema(schema)


def validate_policies(policies: "CedarPolicies | str",
                      schema: "CedarSchema | str | dict[str, Any]") -> ValidationResult:
    """Validate Cedar policies against a schema (a :class:`CedarSchema`, JSON as a dict or
    text, or the human-readable syntax)."""
    s = schema if isinstance(schema, CedarSchema) else CedarSchema(schema)
    return s.validate(policies)


def cedar_is_authorized(request: Any, policies: "CedarPolicies | str",
                        entities: "CedarEntities | Any" = (), schema: Any = None) -> CedarResponse:
    """Decide one Cedar request (parsing ``policies`` first when given as text); with
    ``schema``, entities and context are read by its declared types (see :class:`CedarEntities`)."""
    ps = policies if isinstance(policies, CedarPolicies) else CedarPolicies(policies)
    return ps.is_authorized(request, entities, schema=schema)


__all__ = [
    "PolicyError", "keypair", "version_string", "CODES", "CedarPolicies", "CedarEntities",
    "CedarResponse", "cedar_is_authorized", "CedarSchema", "ValidationError", "ValidationResult",
    "ValidationWarning", "WARNING_KINDS",
    "validate_policies",
]
from .abac_analyze import policy_check, policy_diff, policy_lint  # noqa: E402,F401 (z3 analysis, optional: fedshare.abac_analyze)
