"""What the console reads: the consortium's members (from the configuration),
the nodes (their metrics endpoints), and the ledger through the client API.

:class:`LedgerView` keeps an index of every committed act, read block by block
with each block's commit certificate checked by the client (blocks never
change once committed, so the index only grows), and reads records (data sets,
policies, decisions, tasks, rounds) from the state f+1 replicas agree on.
Nothing here writes to the ledger; the acts a member signs go through
:class:`fedshare.consortium.Member` (see ``web.py``).
"""
from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from .. import errors, ledger
from ..consortium import check, config_ledger_text, ffi, lib
from ..did import did_from_public_key

OP_NAMES = {
    0x0F01: "data registered", 0x0F02: "data updated", 0x0F03: "data retired",
    0x0F10: "policy set", 0x0F11: "policy updated", 0x0F12: "access requested",
    0x0F20: "key recorded", 0x0F30: "model published", 0x0F31: "task created",
    0x0F32: "task joined", 0x0F33: "encrypted update uploaded", 0x0F34: "aggregate recorded",
    0x0F35: "aggregate checked", 0x0F36: "decryption share posted",
    0x0F37: "round finalized", 0x0F38: "model evaluated", 0x0F39: "share refused",
    0x0F3A: "decrypted sum refused (out of range)",
}
ROLE_BITS = ((1, "provider"), (2, "aggregator"), (4, "keyholder"), (8, "publisher"),
             (16, "regulator"))
PHASES = ("joining", "upload", "aggregate", "decrypt", "finalize", "evaluate", "done")
STOP_REASONS = {0: "", 1: "converged", 2: "round limit"}
# ops whose payload (after the version byte) starts with a data ID / a task ID
_DATA_OPS = (0x0F02, 0x0F03, 0x0F10, 0x0F11, 0x0F12)
_TASK_OPS = tuple(range(0x0F32, 0x0F3B))


def parse_hex32(text: str, what: str) -> bytes:
    """64 hex digits → 32 bytes; raises InvalidInputError naming ``what``."""
    t = (text or "").strip().lower()
    if len(t) != 64 or any(c not in "0123456789abcdef" for c in t):
        raise errors.InvalidInputError(f"{what} must be 64 hex digits")
    return bytes.fromhex(t)


@dataclass(frozen=True)
class MemberInfo:
    name: str
    key: bytes
    org: str
    roles: Tuple[str, ...]

    @property
    def did(self) -> str:
        return did_from_public_key(self.key)


@dataclass
class Act:
    height: int
    index: int
    time_ms: int
    op: int
    sender: bytes
    tx_hash: bytes
    payload: bytes

    @property
    def name(self) -> str:
        return OP_NAMES.get(self.op, hex(self.op))

    @property
    def subject_id(self) -> Optional[bytes]:
        """The data ID or task ID the act names (None for the others)."""
        if self.op in _DATA_OPS or self.op in _TASK_OPS:
            return self.payload[1:33] if len(self.payload) >= 33 else None
        return None


@dataclass
class Index:
    height: int = 0
    acts: List[Act] = field(default_factory=list)
    datasets: Dict[bytes, Act] = field(default_factory=dict)   # data ID -> registration
    policy_acts: Dict[bytes, List[Act]] = field(default_factory=dict)
    requests: List[Act] = field(default_factory=list)
    tasks: Dict[bytes, Act] = field(default_factory=dict)      # task ID -> creation
    by_subject: Dict[bytes, List[Act]] = field(default_factory=dict)


def load_members(config: "str | os.PathLike[str]") -> List[MemberInfo]:
    """The configuration's members (name, key, organisation, roles), in file order."""
    c = ffi.new("fedshare_consortium **")
    text = ffi.new("char **")
    check(lib.fedshare_config_load(os.fsencode(os.fspath(config)), text, c, ffi.NULL, ffi.NULL))
    lib.fedshare_free(text[0])
    try:
        out = []
        for i in range(lib.fedshare_consortium_size(c[0])):
            bits = lib.fedshare_consortium_roles(c[0], i)
            out.append(MemberInfo(
                name=ffi.string(lib.fedshare_consortium_name(c[0], i)).decode(),
                key=bytes(ffi.buffer(lib.fedshare_consortium_key(c[0], i), 32)),
                org=ffi.string(lib.fedshare_consortium_org(c[0], i)).decode(),
                roles=tuple(n for b, n in ROLE_BITS if bits & b)))
        return out
    finally:
        lib.fedshare_consortium_free(c[0])


def _text(payload: bytes, at: int) -> Tuple[str, int]:
    n = struct.unpack(">I", payload[at:at + 4])[0]
    return payload[at + 4:at + 4 + n].decode("utf-8", "replace"), at + 4 + n


def parse_metrics(page: str) -> Dict[str, float]:
    out = {}
    for line in page.splitlines():
        if line and not line.startswith("#"):
            k, _, v = line.rpartition(" ")
            try:
                out[k] = float(v)
            except ValueError:
                pass
    return out


class LedgerView:
    """The console's reading side. Thread-safe (requests run in a pool)."""

    def __init__(self, config: "str | os.PathLike[str]", *,
                 metrics: Optional[Dict[int, int]] = None,
                 stores: Optional[Dict[str, str]] = None, timeout_ms: int = 5000):
        self.config = os.fspath(config)
        self.members = load_members(config)
        self._names = {m.key: m.name for m in self.members}
        self.lconfig = ledger.Config(config_ledger_text(config))
        self.replicas = self.lconfig.replicas
        self.f = self.lconfig.f
        self.metrics_ports = dict(metrics or {})
        self.stores = dict(stores or {})
        self.timeout_ms = timeout_ms
        self._lc: Optional[ledger.Client] = None
        self._lock = threading.RLock()
        self._index = Index()
        self._outcomes: Dict[bytes, int] = {}

    # -- connection ----------------------------------------------------------
    def client(self) -> ledger.Client:
        with self._lock:
            if self._lc is None:
                lc = ledger.Client(self.lconfig, timeout_ms=self.timeout_ms)
                lc.read_mode = "linearizable"  # every act whose receipt anyone held is seen
                self._lc = lc
            return self._lc

    def observe(self, height: int) -> None:
        """Reads from now on reflect at least ``height`` (an act this console made)."""
        self.client().observe(height)

    def close(self) -> None:
        with self._lock:
            if self._lc is not None:
                self._lc.close()
                self._lc = None

    # -- names -------------------------------------------------------------
    def name(self, key: bytes) -> str:
        return self._names.get(bytes(key), bytes(key).hex()[:16] + "…")

    def member(self, name: str) -> Optional[MemberInfo]:
        return next((m for m in self.members if m.name == name), None)

    def name_of_did(self, did: str) -> str:
        for m in self.members:
            if m.did == did:
                return m.name
        return did

    # -- the index of acts ---------------------------------------------------
    def refresh(self) -> Index:
        """Read every block committed since the last call; returns the index."""
        with self._lock:
            lc = self.client()
            # the read floor may be above what f+1 replicas announced (an act of
            # this console that observe() recorded): read up to it as well
            top = max(lc.height(), lc.seen_height)
            ix = self._index
            for h in range(ix.height + 1, top + 1):
                try:
                    b = lc.block(h, timeout_ms=self.timeout_ms)  # commit certificate checked
                except errors.NotFoundError:
                    break  # not yet on f+1 replicas: the next refresh reads it
                for i, tx in enumerate(b.transactions):
                    self._add(ix, Act(h, i, b.timestamp, tx.op, tx.sender, tx.hash, tx.payload))
                ix.height = h
            return ix

    def _add(self, ix: Index, a: Act) -> None:
        ix.acts.append(a)
        if a.op == 0x0F01 and len(a.payload) >= 33 + 4:
            label, _ = _text(a.payload, 33)
            out = ffi.new("uint8_t[32]")
            if lib.fedshare_data_id(a.payload[1:33], a.sender, a.time_ms, label.encode(),
                                    out) == 0:
                did = bytes(out)
                ix.datasets[did] = a
                ix.by_subject.setdefault(did, []).append(a)
            return
        if a.op == 0x0F31:
            ix.tasks[a.tx_hash] = a
            ix.by_subject.setdefault(a.tx_hash, []).append(a)
            return
        sid = a.subject_id
        if sid is None:
            return
        ix.by_subject.setdefault(sid, []).append(a)
        if a.op in (0x0F10, 0x0F11):
            ix.policy_acts.setdefault(sid, []).append(a)
        elif a.op == 0x0F12:
            ix.requests.append(a)

    # -- records -----------------------------------------------------------
    def record(self, kind: int, ident: bytes, ident2: Optional[bytes] = None,
               round: int = 0) -> Optional[Dict[str, Any]]:
        """A state record as JSON (None when there is none), agreed by f+1 replicas."""
        key, n = ffi.new(f"uint8_t[{lib.FEDSHARE_KEY_MAX}]"), ffi.new("size_t *")
        check(lib.fedshare_state_key(kind, ident, ident2 if ident2 is not None else ffi.NULL,
                                     round, key, n))
        try:
            raw = self.client().get(bytes(ffi.buffer(key, n[0])), timeout_ms=self.timeout_ms)
        except errors.NotFoundError:
            return None
        if not raw:
            return None
        j = ffi.new("char **")
        check(lib.fedshare_record_json(kind, raw, len(raw), j))
        try:
            return json.loads(ffi.string(j[0]).decode())
        finally:
            lib.fedshare_free(j[0])

    def outcome(self, tx_hash: bytes) -> Optional[int]:
        """The recorded outcome of an act (0 applied, else the refusal code)."""
        if tx_hash in self._outcomes:
            return self._outcomes[tx_hash]
        r = self.record(lib.FEDSHARE_REC_OUTCOME, tx_hash)
        if r is None:
            return None
        self._outcomes[tx_hash] = int(r["code"])
        return self._outcomes[tx_hash]

    def policy_encoding(self, data_id: bytes) -> Optional[bytes]:
        r = self.record(lib.FEDSHARE_REC_POLICY, data_id)
        return bytes.fromhex(r["policy"]) if r else None

    # -- nodes -------------------------------------------------------------
    def nodes(self) -> List[Dict[str, Any]]:
        """Each replica of the configuration: its address, and what its metrics
        endpoint says now (height, view, peers, …) when the console knows its port."""
        out = []
        for i in range(self.replicas):
            row: Dict[str, Any] = {"id": i, "address": self.lconfig.address(i), "up": None,
                                   "metrics": {}}
            port = self.metrics_ports.get(i)
            if port:
                try:
                    page = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics",
                                                  timeout=2).read().decode()
                    row["metrics"] = parse_metrics(page)
                    row["up"] = True
                except OSError:
                    row["up"] = False
            out.append(row)
        return out

    # -- the audit trace -------------------------------------------------------
    def trace(self, kind: str, key: bytes, t0_ms: Optional[int] = None,
              t1_ms: Optional[int] = None, limit: int = 2000) -> List[Dict[str, Any]]:
        """Every act touching a data set / sent by a member / of a task (kind "data",
        "member", "task"), or every act in [t0, t1] (kind "time"), oldest first; each
        row's inclusion proof is fetched and checked by the client."""
        lc = self.client()
        self.refresh()
        if kind == "time":
            pairs: List[Tuple[int, int]] = []
            for h in lc.trace_time(t0_ms or 0, t1_ms if t1_ms is not None else 2**63 - 1,
                                   max_blocks=limit):
                b = self._block(h)
                pairs.extend((h, i) for i in range(len(b.transactions)))
        else:
            op = {"data": lib.FEDSHARE_TRACE_DATA, "member": lib.FEDSHARE_TRACE_MEMBER,
                  "task": lib.FEDSHARE_TRACE_TASK}[kind]
            pairs = lc.trace(op, key, max_entries=limit)
        rows = []
        for h, i in pairs[:limit]:
            b = self._block(h)
            if t0_ms is not None and b.timestamp < t0_ms:
                continue
            if t1_ms is not None and b.timestamp > t1_ms:
                continue
            tx = b.transactions[i]
            try:  # the transaction again, by hash, checked by its inclusion proof
                _, ph, pi = lc.transaction(tx.hash, timeout_ms=self.timeout_ms)
                proof = "verified" if (ph, pi) == (h, i) else f"proof names {ph}/{pi}"
            except errors.Error as e:
                proof = f"failed: {e}"
            rows.append({"height": h, "index": i, "time_ms": b.timestamp, "op": tx.op,
                         "act": OP_NAMES.get(tx.op, hex(tx.op)), "sender": tx.sender,
                         "by": self.name(tx.sender), "tx": tx.hash.hex(),
                         "outcome": self.outcome(tx.hash), "proof": proof,
                         "subject": Act(h, i, b.timestamp, tx.op, tx.sender, tx.hash,
                                        tx.payload).subject_id})
        return rows

    def _block(self, h: int) -> ledger.Block:
        cache: Optional[Dict[int, ledger.Block]] = getattr(self, "_blocks", None)
        if cache is None:
            cache = {}
            self._blocks = cache
        if h not in cache:
            if len(cache) > 4096:
                cache.clear()
            cache[h] = self.client().block(h, timeout_ms=self.timeout_ms)
        return cache[h]

    # -- the chain check ---------------------------------------------------
    def verify_stores(self) -> List[Dict[str, Any]]:
        """Each configured store verified end to end as `fedshare verify-chain` does
        (links, Merkle roots, certificates, signatures, state roots), on a
        consistent copy taken with ``mdb_copy`` (a read transaction, so a running
        node goes on committing); names the first bad block."""
        from ..node import verify_store

        out = []
        for label, path in sorted(self.stores.items()):
            row: Dict[str, Any] = {"store": label, "path": path, "ok": False, "bad_block": None,
                                   "message": "", "seconds": 0.0}
            t = time.monotonic()
            tmp = tempfile.mkdtemp(prefix="fedshare-console-verify-")
            try:
                if not os.path.exists(os.path.join(path, "data.mdb")):
                    raise errors.IOFailureError(f"no store at {path}")
                copier = shutil.which("mdb_copy")
                if copier is None:
                    raise errors.Error("mdb_copy (Debian package lmdb-utils) is not installed")
                p = subprocess.run([copier, path, tmp], capture_output=True, timeout=300)
                if p.returncode != 0:
                    raise errors.IOFailureError(
                        f"mdb_copy failed: {p.stderr.decode(errors='replace').strip()}")
                verify_store(self.config, tmp)
                row["ok"] = True
                row["message"] = ("every block verifies (links, Merkle roots, certificates, "
                                  "signatures, state roots)")
            except errors.VerificationError as e:
                row["message"] = str(e)
                text = str(e)
                if "at block " in text:
                    try:
                        row["bad_block"] = int(text.split("at block ", 1)[1].split()[0])
                    except ValueError:
                        pass
            except (errors.Error, OSError, subprocess.SubprocessError) as e:
                row["message"] = str(e)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            row["seconds"] = time.monotonic() - t
            out.append(row)
        return out


__all__ = ["LedgerView", "MemberInfo", "Act", "Index", "OP_NAMES", "PHASES", "parse_hex32",
           "load_members", "parse_metrics"]
