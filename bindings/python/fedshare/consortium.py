"""A member's view of the consortium: acts on the contracts, records, and the
operations of each role, over libfedshare's C client.

Every act is a signed ledger transaction; :class:`Member` waits for its commit
(f+1 replicas, a verified inclusion proof) and then reads the act's recorded
*outcome*. An act the contracts refuse raises the matching
:class:`fedshare.Error` subclass, and the refusal itself stays on the ledger::

    from fedshare.consortium import Member
    with Member("consortium.conf", seed) as hospital:
        data_id = hospital.register_data(enc_hash, "ehr-cardiology")
        hospital.set_policy(data_id, policy_set)          # fedshare.abac.CedarPolicies
        decision = other.request_access(data_id, "train", "training", t0, t1)

The arithmetic (encryption, homomorphic sums, decryption shares, the new global
model) runs in C. Keys cross into it as the handles :mod:`fedshare.phe` made
(:class:`fedshare.phe.threshold.ThresholdParams`, ``KeyShare``): the package has
one native module, so libfedshare takes the very ``phe_threshold_params *`` and
``phe_threshold_keyshare *`` the key objects hold, with no encoding and no
decoding on the way. An encoding (bytes) is still accepted and is decoded on
that call; a caller that acts every round holds the objects instead
(:meth:`Member.threshold_key`, :mod:`fedshare.roles`).
Formats: docs/formats/fedshare.md; rules: docs/fedshare-contracts.md.
"""
from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Literal, Optional, Sequence, Tuple, Union

import numpy as np

from . import errors
from ._native import code_value, load, make_checker
from .phe import Context
from .phe.threshold import KeyShare, ThresholdParams
from .members import MemberActs
from .reconfig import ReconfigActs
from .upgrade import UpgradeActs

#: a threshold key: its parameters, or their encoding (decoded on each call)
KeyParams = Union[ThresholdParams, bytes]

_m = load("fedshare")
ffi, lib = _m.ffi, _m.lib

PathLike = Union[str, "os.PathLike[str]"]

#: Phases of a task (the task record's ``phase``).
PHASES = ("joining", "upload", "aggregate", "decrypt", "finalize", "evaluate", "done")


def _strerror(rc: int) -> str:
    return str(ffi.string(lib.fedshare_strerror(rc)).decode())


# Each code's exception comes from the code tables (fedshare._native): libfedshare's
# own and those it passes on from the four libraries alike.
check = make_checker("fedshare", _strerror)
_E_NOT_FOUND = code_value("FEDSHARE_E_NOT_FOUND")


class ContractError(errors.Error):
    """Base of refusals recorded by the contracts (the act is on the ledger with this code)."""


def _h32(value: bytes, what: str) -> bytes:
    if not isinstance(value, (bytes, bytearray)) or len(value) != 32:
        raise errors.InvalidInputError(f"{what} must be 32 bytes")
    return bytes(value)


def _take(ptr: Any, n: int) -> bytes:
    try:
        return bytes(ffi.buffer(ptr, n))
    finally:
        lib.fedshare_free(ptr)


def _take_json(ptr: Any) -> Dict[str, Any]:
    try:
        doc: Dict[str, Any] = json.loads(ffi.string(ptr).decode())
        return doc
    finally:
        lib.fedshare_free(ptr)


def describe_key_record(r: Dict[str, Any]) -> Dict[str, Any]:
    """The provenance of a key record (its JSON form): see :meth:`Member.key_provenance`."""
    made = str(r.get("made", "dealt"))
    hs = r.get("holders", [])
    out: Dict[str, Any] = {"made": made, "holders": [str(h["did"]) for h in hs],
                           "dealer": r.get("dealer") if made == "dealt" else None,
                           "recorded_by": r.get("recorded_by", r.get("dealer"))}
    if made == "dealerless":
        out["session"] = bytes.fromhex(r["session"])
        out["commitment"] = bytes.fromhex(r["commitment"])
        out["attestations"] = [bytes.fromhex(h["attestation"]) for h in hs]
        out["attested"] = bool(hs) and all(h.get("attested") is True for h in hs)
    return out


def key_provenance_line(r: Dict[str, Any], names: Optional[Dict[str, str]] = None) -> str:
    """One line for a key record: who made it, and whether every holder attested
    it (``names``: member name by DID, to print names instead of DIDs)."""
    d = describe_key_record(r)
    nm = names or {}

    def who(dids: Sequence[str]) -> str:
        return ", ".join(nm.get(x, x) for x in dids)

    if d["made"] == "dealerless":
        if d["attested"]:
            return f"made without a dealer by holders {who(d['holders'])}, each attested"
        bad = [str(h["did"]) for h in r["holders"] if h.get("attested") is not True]
        return (f"made without a dealer by holders {who(d['holders'])}; attestation NOT "
                f"valid for {who(bad)}")
    return f"dealt by {who([str(d['dealer'])])} to holders {who(d['holders'])}"


def _key_of(params: KeyParams) -> ThresholdParams:
    """The key as the handle fedshare.phe made, passed on as it is; an encoding
    is decoded here (once per call: hold a ThresholdParams to act every round)."""
    if isinstance(params, ThresholdParams):
        return params
    if not isinstance(params, (bytes, bytearray, memoryview)):
        raise errors.InvalidInputError("params must be a ThresholdParams or its encoding")
    return ThresholdParams.from_bytes(bytes(params))


def _share_of(share: Union[KeyShare, bytes]) -> KeyShare:
    """The key share's handle (an encoding is decoded on this call)."""
    if isinstance(share, KeyShare):
        return share
    if not isinstance(share, (bytes, bytearray, memoryview)):
        raise errors.InvalidInputError("share must be a KeyShare or its encoding")
    return KeyShare.from_bytes(bytes(share))


def _pubkey(key: ThresholdParams) -> Any:
    """The key's ``phe_pubkey *`` (borrowed from the parameters it belongs to)."""
    return lib.phe_threshold_params_pubkey(key._ptr)


def config_ledger_text(path: PathLike) -> str:
    """The ledger's part of a fedshare configuration file (relative paths resolved),
    for :class:`fedshare.ledger.Config`."""
    text = ffi.new("char **")
    check(lib.fedshare_config_load(os.fsencode(os.fspath(path)), text, ffi.NULL, ffi.NULL,
                                   ffi.NULL))
    try:
        return str(ffi.string(text[0]).decode())
    finally:
        lib.fedshare_free(text[0])


def config_error(path: PathLike) -> str:
    """Why a configuration file is refused, in the parsers' words ("" when it is not):
    the libraries print nothing, so the text reaches the user through the exception."""
    text, line = ffi.new("char **"), ffi.new("uint32_t *")
    rc = lib.fedshare_config_load(os.fsencode(os.fspath(path)), text, ffi.NULL, ffi.NULL, line)
    if rc == code_value("FEDSHARE_E_CONFIG") and line[0]:
        return f"line {line[0]}: invalid fedshare setting"
    if rc < 0:
        return ""
    try:
        err, cfg = ffi.new("char[]", 1024), ffi.new("ledger_config **")
        b = ffi.string(text[0])
        if lib.ledger_config_parse_ex(cfg, b, len(b), err, len(err)) == 0:
            lib.ledger_config_free(cfg[0])
            return ""
        return str("ledger config: " + ffi.string(err).decode(errors="replace"))
    finally:
        lib.fedshare_free(text[0])


def check_config(rc: int, path: PathLike) -> int:
    """check(rc), with the parsers' text when the configuration was refused."""
    if rc in (code_value("FEDSHARE_E_CONFIG"), code_value("LEDGER_E_CONFIG")):
        detail = config_error(path)
        if detail:
            try:
                check(rc)
            except errors.Error as exc:
                raise type(exc)(f"{exc}: {os.fspath(path)}: {detail}", code=rc,
                                library=exc.library) from None
    return check(rc)


def config_members(m: Any) -> List[Dict[str, Any]]:
    """The members of a Member's configuration file (in force until the chain records a
    membership change), in the form of :meth:`MemberActs.members`."""
    from .did import did_from_public_key
    from .members import ROLES

    c = lib.fedshare_client_consortium(m._p)
    out = []
    for i in range(int(lib.fedshare_consortium_size(c))):
        key = bytes(ffi.buffer(lib.fedshare_consortium_key(c, i), 32))
        bits = int(lib.fedshare_consortium_roles(c, i))
        out.append({"key": key.hex(), "did": did_from_public_key(key),
                    "name": ffi.string(lib.fedshare_consortium_name(c, i)).decode(),
                    "org": ffi.string(lib.fedshare_consortium_org(c, i)).decode(),
                    "roles": [r for r, b in ROLES.items() if bits & b],
                    "credentials": None})
    return out


class Member(UpgradeActs, ReconfigActs, MemberActs):
    """One consortium member connected to the nodes of a configuration file.

    The contract upgrade acts (``upgrade_propose``, ``upgrade_approve``,
    ``upgrade_cancel``, ``upgrade_status``) come from :class:`fedshare.upgrade.UpgradeActs`;
    the replica acts (``replica_add``, ``replica_remove``, ``membership_approve``,
    ``membership_change``, ``membership``) from :class:`fedshare.reconfig.ReconfigActs`;
    the member acts (``member_roles``, ``member_join``, ``member_retire``,
    ``member_approve``, ``member_change``, ``members``) from
    :class:`fedshare.members.MemberActs`.

    Args:
        config: the consortium configuration (docs/guides/fedshare-node.md).
        seed: the member's 32-byte Ed25519 seed (its identity; keep it secret).
        timeout_ms: default deadline of each act.
    """

    def __init__(self, config: PathLike, seed: bytes, timeout_ms: int = 30000):
        seed = _h32(seed, "seed")
        p = ffi.new("fedshare_client **")
        with _gil_free():
            rc = lib.fedshare_client_connect(p, os.fsencode(os.fspath(config)), seed,
                                             min(timeout_ms, 10000))
        check_config(rc, config)
        self._p = p[0]
        self._timeout = timeout_ms
        self.config = os.fspath(config)
        self.public_key = bytes(ffi.buffer(lib.fedshare_client_public_key(self._p), 32))

    # -- life -------------------------------------------------------------
    def close(self) -> None:
        """Close the connections."""
        if getattr(self, "_p", None) is not None:
            lib.fedshare_client_close(self._p)
            self._p = None

    def __enter__(self) -> "Member":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - depends on GC timing
        self.close()

    @property
    def crypto_seconds(self) -> float:
        """Seconds this member's client has spent inside libphe (encryption, sums,
        decryption shares, combination) since it connected."""
        return float(lib.fedshare_client_crypto_ns(self._p) / 1e9)

    def wait_phase(self, task_id: bytes, round: int, phases: Sequence[Union[str, int]],
                   timeout: float = 120.0,
                   poll: Optional[float] = None) -> Dict[str, Any]:
        """Wait until the task is in round ``round`` at one of ``phases`` (names or
        numbers; "done" always ends the wait) and return its record.

        No polling: the task is read, and while it is not there yet the member
        waits for the next committed block (announced by f+1 replicas) and reads
        again at that height. ``poll`` is accepted for compatibility and ignored."""
        import time as _time
        del poll
        want = {PHASES.index(p) if isinstance(p, str) else int(p) for p in
                ((phases,) if isinstance(phases, (str, int)) else phases)}
        deadline = _time.monotonic() + timeout
        while True:
            t = self.task(task_id)
            if t is not None and (t["phase"] == 6 or (t["round"] == round and t["phase"] in want)
                                  or t["round"] > round):
                return t
            left_ms = int((deadline - _time.monotonic()) * 1000)
            try:
                if left_ms <= 0:
                    raise errors.TimeoutError_("deadline")
                # a slice at a time: a missed block announcement costs one slice
                self.wait_height(self.seen_height + 1, timeout_ms=min(left_ms, 2000))
            except errors.TimeoutError_:
                if _time.monotonic() < deadline:
                    continue
                raise errors.TimeoutError_(
                    f"task not at round {round} phase {sorted(want)} after {timeout} s "
                    f"(now {t and (t['round'], t['phase'])})") from None

    # -- read consistency (docs/ledger-protocol.md §Reads) -------------------
    @property
    def seen_height(self) -> int:
        """The read floor: no later read of this member reflects an older state."""
        return int(lib.ledger_client_seen_height(lib.fedshare_client_ledger(self._p)))

    def observe(self, height: int) -> None:
        """Raise the read floor to ``height`` (another process's act, for instance)."""
        if isinstance(height, bool) or not isinstance(height, int) or not 0 <= height < 2**64:
            raise errors.InvalidInputError("height must be an integer in [0, 2**64)")
        check(lib.ledger_client_observe(lib.fedshare_client_ledger(self._p), height))

    def wait_height(self, height: int, timeout_ms: Optional[int] = None) -> int:
        """Wait until f+1 replicas announce a block at ``height`` or above; returns the
        highest announced height (raises TimeoutError_ at the deadline)."""
        if isinstance(height, bool) or not isinstance(height, int) or not 0 <= height < 2**64:
            raise errors.InvalidInputError("height must be an integer in [0, 2**64)")
        reached = ffi.new("uint64_t *")
        with _gil_free():
            rc = lib.ledger_client_wait_height(lib.fedshare_client_ledger(self._p), height,
                                               timeout_ms or self._timeout, reached)
        check(rc)
        return int(reached[0])

    @property
    def read_mode(self) -> str:
        """"linearizable" (the default: every act whose receipt anyone held is seen)
        or "session" (cheaper: this member's own acts and monotonic reads)."""
        return getattr(self, "_read_mode", "linearizable")

    @read_mode.setter
    def read_mode(self, mode: str) -> None:
        modes = {"session": lib.LEDGER_READ_SESSION,
                 "linearizable": lib.LEDGER_READ_LINEARIZABLE}
        if mode not in modes:
            raise errors.InvalidInputError(f"read mode must be one of {sorted(modes)}")
        check(lib.ledger_client_set_read_mode(lib.fedshare_client_ledger(self._p), modes[mode]))
        self._read_mode = mode

    @property
    def did(self) -> str:
        """The member's did:key identifier."""
        from .did import did_from_public_key
        return did_from_public_key(self.public_key)

    # -- acts and records -------------------------------------------------
    def submit(self, op: int, payload: bytes, timeout_ms: Optional[int] = None) -> bytes:
        """Sign and submit an act; return its transaction hash once applied.
        Raises the refusal's exception (the refused act stays on the ledger)."""
        h = ffi.new("uint8_t[32]")
        rc = lib.fedshare_client_submit(self._p, op, payload, len(payload),
                                        timeout_ms or self._timeout, h, ffi.NULL)
        check(rc)
        return bytes(h)

    def _submit_owned(self, rc: int, out: Any, n: Any, op: int) -> bytes:
        check(rc)
        return self.submit(op, _take(out[0], n[0]))

    def record(self, kind: int, ident: bytes, ident2: Optional[bytes] = None,
               round: int = 0) -> Optional[Dict[str, Any]]:
        """A record as a dict (None when there is none); kinds are ``lib.FEDSHARE_REC_*``."""
        j = ffi.new("char **")
        rc = lib.fedshare_client_record_json(self._p, kind, _h32(ident, "id"),
                                             ident2 if ident2 is not None else ffi.NULL,
                                             round, self._timeout, j)
        if rc == _E_NOT_FOUND:
            return None
        check(rc)
        return _take_json(j[0])

    def outcome(self, tx_hash: bytes) -> int:
        """The recorded outcome code of an act (0: applied)."""
        r = self.record(lib.FEDSHARE_REC_OUTCOME, tx_hash)
        if r is None:
            raise errors.NotFoundError("no such act", code=_E_NOT_FOUND, library="fedshare")
        return int(r["code"])

    def data(self, data_id: bytes) -> Optional[Dict[str, Any]]:
        return self.record(lib.FEDSHARE_REC_DATA, data_id)

    def task(self, task_id: bytes) -> Optional[Dict[str, Any]]:
        return self.record(lib.FEDSHARE_REC_TASK, task_id)

    def round(self, task_id: bytes, round: int) -> Optional[Dict[str, Any]]:
        return self.record(lib.FEDSHARE_REC_ROUND, task_id, round=round)

    def decision(self, request_hash: bytes) -> Optional[Dict[str, Any]]:
        return self.record(lib.FEDSHARE_REC_DECISION, request_hash)

    # -- registry and permission -------------------------------------------
    def register_data(self, enc_hash: bytes, label: str, description: str = "",
                      lineage: Sequence[bytes] = ()) -> bytes:
        """Register a data set by the SHA-256 of its encrypted form; returns its data ID."""
        lin = b"".join(_h32(x, "lineage entry") for x in lineage)
        out = ffi.new("uint8_t[32]")
        with _gil_free():
            rc = lib.fedshare_register_data(self._p, _h32(enc_hash, "enc_hash"), label.encode(),
                                            description.encode(), lin or ffi.NULL, len(lineage),
                                            self._timeout, out)
        check(rc)
        return bytes(out)

    def update_data(self, data_id: bytes, enc_hash: bytes, description: str) -> bytes:
        out, n = ffi.new("uint8_t **"), ffi.new("size_t *")
        rc = lib.fedshare_payload_data_update(_h32(data_id, "data_id"), _h32(enc_hash, "enc_hash"),
                                              description.encode(), out, n)
        return self._submit_owned(rc, out, n, lib.FEDSHARE_OP_DATA_UPDATE)

    def retire_data(self, data_id: bytes) -> bytes:
        out, n = ffi.new("uint8_t **"), ffi.new("size_t *")
        rc = lib.fedshare_payload_data_retire(_h32(data_id, "data_id"), out, n)
        return self._submit_owned(rc, out, n, lib.FEDSHARE_OP_DATA_RETIRE)

    def set_policy(self, data_id: bytes, policy: Any) -> bytes:
        """The first policy of one's data set (a :class:`fedshare.abac.CedarPolicies` of
        version 1 naming every consortium member, or its encoding)."""
        enc = policy.encode() if hasattr(policy, "encode") else bytes(policy)
        out, n = ffi.new("uint8_t **"), ffi.new("size_t *")
        rc = lib.fedshare_payload_policy_set(_h32(data_id, "data_id"), enc, len(enc), out, n)
        return self._submit_owned(rc, out, n, lib.FEDSHARE_OP_POLICY_SET)

    def update_policy(self, data_id: bytes, signed_update: bytes) -> bytes:
        """A new policy version: a libabac signed Cedar update (``CedarPolicies.encode_update``)."""
        out, n = ffi.new("uint8_t **"), ffi.new("size_t *")
        rc = lib.fedshare_payload_policy_update(_h32(data_id, "data_id"), signed_update,
                                                len(signed_update), out, n)
        return self._submit_owned(rc, out, n, lib.FEDSHARE_OP_POLICY_UPDATE)

    def request_access(self, data_id: bytes, action: str, purpose: str, t0: int, t1: int,
                       uses: int = 1) -> Dict[str, Any]:
        """Ask for access. Returns the recorded decision when permitted; raises
        :class:`fedshare.AccessDeniedError` (with ``.decision``) when denied."""
        j = ffi.new("char **")
        with _gil_free():
            rc = lib.fedshare_request_access(self._p, _h32(data_id, "data_id"), action.encode(),
                                             purpose.encode(), t0, t1, uses, self._timeout, j)
        decision = _take_json(j[0]) if j[0] != ffi.NULL else None
        try:
            check(rc)
        except errors.AccessDeniedError as e:
            e.decision = decision
            raise
        return decision or {}

    # -- keys and models ---------------------------------------------------
    def record_key(self, params: KeyParams, holders: Sequence[bytes],
                   share_hashes: Sequence[bytes], *,
                   dealerless: Optional[Dict[str, Any]] = None) -> bytes:
        """Record a threshold key (its public parameters, holders in share order,
        hashes of the sealed shares); returns the key ID.

        A key made without a dealer passes ``dealerless={"session": 32 bytes,
        "commitment": 32 bytes, "attestations": [64 bytes per holder, share
        order]}`` (:func:`fedshare.dkg.attest`): the contract records it only
        when every holder's attestation verifies against its registered key
        (otherwise :class:`~fedshare.errors.VerificationError`, code
        FEDSHARE_E_ATTESTATION, nothing recorded). Without it the record says
        the key was dealt."""
        key = _key_of(params)
        enc = key.to_bytes()
        hs = b"".join(_h32(h, "holder") for h in holders)
        ss = b"".join(_h32(h, "share hash") for h in share_hashes)
        if len(holders) != len(share_hashes):
            raise errors.InvalidInputError("one share hash per holder")
        out, n = ffi.new("uint8_t **"), ffi.new("size_t *")
        if dealerless is None:
            rc = lib.fedshare_payload_key_record(enc, len(enc), hs, ss, len(holders), out, n)
        else:
            att = list(dealerless.get("attestations") or [])
            if len(att) != len(holders) or any(len(a) != 64 for a in att):
                raise errors.InvalidInputError("one 64-byte attestation per holder")
            rc = lib.fedshare_payload_key_record_dealerless(
                enc, len(enc), hs, ss, len(holders),
                _h32(dealerless.get("session", b""), "session"),
                _h32(dealerless.get("commitment", b""), "commitment"),
                b"".join(bytes(a) for a in att), out, n)
        self._submit_owned(rc, out, n, lib.FEDSHARE_OP_KEY_RECORD)
        return key.key_id

    def key_provenance(self, key_id: bytes) -> Dict[str, Any]:
        """How a recorded key was made: ``made`` ("dealt" or "dealerless"),
        ``holders`` (DIDs in share order), ``dealer`` (the dealt key's dealer
        DID, else None), and for a dealerless key ``session``, ``commitment``
        (bytes) and ``attested`` (True when every holder's attestation
        verifies against its key — checked again on this record)."""
        r = self.record(lib.FEDSHARE_REC_KEY, key_id)
        if r is None:
            raise errors.NotFoundError("no such key", code=_E_NOT_FOUND, library="fedshare")
        return describe_key_record(r)

    def key_params(self, key_id: bytes) -> bytes:
        """The recorded threshold parameters of a key (their encoding, checked against the ID)."""
        enc, _ = self._recorded_key(key_id)
        return enc

    def threshold_key(self, key_id: bytes) -> ThresholdParams:
        """The recorded threshold parameters of a key, decoded once and checked
        against the ID: the object to hand to every act of every round."""
        _, key = self._recorded_key(key_id)
        return key

    def key_holders(self, key_id: bytes) -> List[str]:
        """The DIDs of a recorded key's holders in share order (share index i + 1)."""
        r = self.record(lib.FEDSHARE_REC_KEY, key_id)
        if r is None:
            raise errors.NotFoundError("no such key", code=_E_NOT_FOUND, library="fedshare")
        return [str(h["did"]) for h in r["holders"]]

    def _recorded_key(self, key_id: bytes) -> Tuple[bytes, ThresholdParams]:
        r = self.record(lib.FEDSHARE_REC_KEY, key_id)
        if r is None:
            raise errors.NotFoundError("no such key", code=_E_NOT_FOUND, library="fedshare")
        enc = bytes.fromhex(r["params"])
        key = ThresholdParams.from_bytes(enc)
        if key.key_id != bytes(key_id):
            raise errors.VerificationError("key record does not match its ID")
        return enc, key

    def put_model(self, model: np.ndarray) -> bytes:
        """Store a model blob; returns its digest (libfedavg's model digest)."""
        x = np.ascontiguousarray(model, dtype=np.float32).ravel()
        d = ffi.new("uint8_t[32]")
        check(lib.fedshare_put_model(self._p, ffi.from_buffer("float[]", x), x.size,
                                     self._timeout, d))
        return bytes(d)

    def publish_model(self, structure: bytes, model: np.ndarray, description: str = "") -> bytes:
        """Publish an initial model (publisher role): its structure (any bytes that
        describe the architecture; hashed) and parameters. Returns the model ID."""
        import hashlib
        structure_hash = hashlib.sha256(structure).digest()
        digest = self.put_model(model)
        out, n = ffi.new("uint8_t **"), ffi.new("size_t *")
        rc = lib.fedshare_payload_model_publish(structure_hash, digest, int(np.size(model)),
                                                description.encode(), out, n)
        self._submit_owned(rc, out, n, lib.FEDSHARE_OP_MODEL_PUBLISH)
        mid = ffi.new("uint8_t[32]")
        check(lib.fedshare_model_id(structure_hash, digest, mid))
        return bytes(mid)

    # -- training ----------------------------------------------------------
    def create_task(self, model_id: bytes, key_id: bytes, aggregator: bytes,
                    participants: Sequence[Tuple[bytes, bytes]], codec: bytes, *,
                    learning_rate: float = 0.01, batch_size: int = 32, upload_every: int = 10,
                    round_limit: int = 50, stop_threshold: float = 0.001, stop_patience: int = 3,
                    anomaly_k: float = 3.0, anomaly_warmup: int = 5,
                    min_updates: int = 0, anomaly_rule: str = "robust2",
                    server_optimizer: Any = None) -> bytes:
        """Create a training task; ``participants`` is a list of (public key, data ID),
        at least two; ``codec`` the libfedavg codec encoding. ``min_updates`` is the
        number of accepted updates a round needs before its sum may be decrypted
        (2 … number of participants; 0: 3 with three or more participants, else 2);
        a round with fewer is skipped. ``anomaly_rule`` is "robust2" (the default:
        median and MAD over the round and the history, the cosine judged as its
        gap to the round's median cosine, and each member against its own
        history), "robust3" (robust2, and when the round's median cosine is below
        0 a gap far above it is suspicious too), "robust" (the same with the raw
        cosine), "pooled" (the seed's
        k-sigma test, which uses ``anomaly_k`` and ``anomaly_warmup``), "member"
        or "mad". ``server_optimizer`` (None: FedAvg) is a
        :class:`fedshare.serveropt.Adam` or :class:`~fedshare.serveropt.Yogi`, or
        its text ("adam", "yogi:eta=0.01,beta1=0.9", or the canonical
        :meth:`~fedshare.serveropt.ServerOptimizer.describe`): the participants
        then train from and evaluate x_r, the optimizer applied to the
        aggregate chain, which the aggregator records with each round.
        Returns the task ID."""
        s = ffi.new("fedshare_task_spec *")
        lib.fedshare_task_spec_init(s)
        ffi.memmove(s.model_id, _h32(model_id, "model_id"), 32)
        ffi.memmove(s.key_id, _h32(key_id, "key_id"), 32)
        ffi.memmove(s.aggregator, _h32(aggregator, "aggregator"), 32)
        parts = b"".join(_h32(p, "participant") for p, _ in participants)
        datas = b"".join(_h32(d, "data ID") for _, d in participants)
        keep = [ffi.from_buffer(parts), ffi.from_buffer(datas), ffi.from_buffer(codec)]
        s.n_participants = len(participants)
        s.participants, s.data_ids, s.codec = keep
        s.codec_len = len(codec)
        s.learning_rate = learning_rate
        s.batch_size = batch_size
        s.upload_every = upload_every
        s.round_limit = round_limit
        s.stop_threshold = stop_threshold
        s.stop_patience = stop_patience
        s.anomaly_k = anomaly_k
        s.anomaly_warmup = anomaly_warmup
        s.min_updates = min_updates
        from .fedavg import RULES as rules
        if anomaly_rule not in rules:
            raise errors.InvalidInputError(f"unknown anomaly rule {anomaly_rule!r}")
        s.anomaly_rule = rules[anomaly_rule]
        if server_optimizer is not None:
            from . import serveropt
            opt = serveropt.parse(server_optimizer)
            s.server_optimizer = serveropt.CODES[opt.kind]
            s.server_eta, s.server_beta1 = opt.eta, opt.beta_1
            s.server_beta2, s.server_tau = opt.beta_2, opt.tau
        out, n = ffi.new("uint8_t **"), ffi.new("size_t *")
        rc = lib.fedshare_payload_task_create(s, out, n)
        return self._submit_owned(rc, out, n, lib.FEDSHARE_OP_TASK_CREATE)

    def join_task(self, task_id: bytes) -> None:
        with _gil_free():
            rc = lib.fedshare_join_task(self._p, _h32(task_id, "task_id"), self._timeout)
        check(rc)

    def upload_update(self, task_id: bytes, round: int, params: KeyParams, packed: np.ndarray,
                      plaintext_bytes: int, weight: int, norm: float, cosine: float,
                      threads: Union[int, Context] = 0) -> None:
        """Encrypt a packed update (libfedavg's raw packed bytes) under the task's key
        and upload it with its weight and anomaly statistics. ``threads``: a
        :class:`fedshare.phe.Context`, or a thread count (0: one thread)."""
        key = _key_of(params)
        raw = np.ascontiguousarray(packed, dtype=np.uint8).ravel()
        if raw.size % plaintext_bytes:
            raise errors.InvalidInputError("packed size is not a multiple of plaintext_bytes")
        ctx = _ctx(threads)
        with _gil_free():
            rc = lib.fedshare_upload_update(self._p, _h32(task_id, "task_id"), round, _pubkey(key),
                                            ctx, ffi.from_buffer(raw), raw.size // plaintext_bytes,
                                            plaintext_bytes, weight, float(norm), float(cosine),
                                            self._timeout)
        check(rc)

    def aggregate(self, task_id: bytes, round: int, params: KeyParams,
                  threads: Union[int, Context] = 0) -> None:
        """Aggregator: sum the accepted encrypted updates and record the sum's hash."""
        key = _key_of(params)
        with _gil_free():
            rc = lib.fedshare_aggregate(self._p, _h32(task_id, "task_id"), round, _pubkey(key),
                                        _ctx(threads), self._timeout)
        check(rc)

    def check_aggregate(self, task_id: bytes, round: int, params: KeyParams) -> bool:
        """Recompute the round's aggregate and record the check; True if it matched
        (a mismatch makes the contract refuse the aggregate)."""
        key = _key_of(params)
        m = ffi.new("int *")
        with _gil_free():
            rc = lib.fedshare_check_aggregate(self._p, _h32(task_id, "task_id"), round,
                                              _pubkey(key), ffi.NULL, self._timeout, m)
        check(rc)
        return bool(m[0])

    def post_decryption_share(self, task_id: bytes, round: int, params: KeyParams,
                              share: Union[KeyShare, bytes]) -> None:
        """Key holder: decrypt the aggregate one recomputed (shares with proofs);
        raises VerificationError if the recorded aggregate was not the sum
        (then the act refused it)."""
        key = _key_of(params)
        sh = _share_of(share)
        with _gil_free():
            rc = lib.fedshare_post_decryption_share(self._p, _h32(task_id, "task_id"), round,
                                                    key._ptr, sh._ptr, self._timeout)
        check(rc)

    def compute_global(self, task_id: bytes, round: int, params: KeyParams) -> np.ndarray:
        """Round ``round``'s global model recomputed from the recorded shares
        (each proof verified): previous model + weighted mean update."""
        key = _key_of(params)
        out, n = ffi.new("float **"), ffi.new("size_t *")
        with _gil_free():
            rc = lib.fedshare_compute_global(self._p, _h32(task_id, "task_id"), round, key._ptr,
                                             self._timeout, out, n)
        check(rc)
        return np.frombuffer(_take(out[0], 4 * n[0]), dtype=np.float32).copy()

    def finalize_round(self, task_id: bytes, round: int, params: KeyParams,
                       server_model: Optional[np.ndarray] = None) -> None:
        """Aggregator: compute the global model, store it and its delta, record its
        digest; for a task with a server optimizer also store ``server_model``
        (x_r, which the caller computed: :mod:`fedshare.serveropt`) and record
        its digest."""
        key = _key_of(params)
        tid = _h32(task_id, "task_id")
        if server_model is None:
            with _gil_free():
                rc = lib.fedshare_finalize_round(self._p, tid, round, key._ptr, self._timeout)
        else:
            x = np.ascontiguousarray(server_model, dtype=np.float32).reshape(-1)
            buf = ffi.from_buffer("float[]", x)
            with _gil_free():
                rc = lib.fedshare_finalize_round_server(self._p, tid, round, key._ptr, buf,
                                                        x.size, self._timeout)
        check(rc)

    def fetch_global(self, task_id: bytes) -> Tuple[np.ndarray, int]:
        """The task's current global model, checked against its recorded digest, and
        the number of rounds it is the result of (0: the initial model)."""
        out, n, r = ffi.new("float **"), ffi.new("size_t *"), ffi.new("uint32_t *")
        with _gil_free():
            rc = lib.fedshare_fetch_global(self._p, _h32(task_id, "task_id"), self._timeout,
                                           out, n, r)
        check(rc)
        return np.frombuffer(_take(out[0], 4 * n[0]), dtype=np.float32).copy(), int(r[0])

    def evaluate(self, task_id: bytes, round: int, model_digest: bytes, metric: float,
                 samples: int) -> None:
        """Record one's evaluation of round ``round``'s model (by the digest one computed)."""
        with _gil_free():
            rc = lib.fedshare_evaluate(self._p, _h32(task_id, "task_id"), round,
                                       _h32(model_digest, "digest"), float(metric), samples,
                                       self._timeout)
        check(rc)


_CTXS: Dict[int, Any] = {}


def _ctx(threads: Union[int, Context]) -> Any:
    """A libphe thread pool: a :class:`fedshare.phe.Context` passed on as the
    handle it is, or one kept here per thread count (0 or 1: no pool)."""
    if isinstance(threads, Context):
        return threads._ptr
    if threads <= 1:
        return ffi.NULL
    if threads not in _CTXS:
        p = ffi.new("phe_ctx **")
        check(lib.phe_ctx_new(p, threads))
        _CTXS[threads] = ffi.gc(p[0], lib.phe_ctx_free)
    return _CTXS[threads]


class _gil_free:
    """Marker for calls that block on the network; CFFI's out-of-line API mode
    releases the GIL around every C call already, so this only documents it."""

    def __enter__(self) -> "_gil_free":
        return self

    def __exit__(self, *exc: object) -> Literal[False]:
        return False


def model_digest(model: np.ndarray) -> bytes:
    """libfedavg's digest of a float32 model (SHA-256 of its big-endian bits)."""
    import hashlib
    x = np.ascontiguousarray(model, dtype=">f4").ravel()
    return hashlib.sha256(x.tobytes()).digest()


__all__ = ["Member", "PHASES", "config_ledger_text", "model_digest", "lib", "ffi"]
