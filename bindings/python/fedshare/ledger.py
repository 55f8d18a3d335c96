"""fedshare.ledger — a thin client of the PBFT consortium ledger (libledger).

* :class:`Config` — the consortium configuration (member keys, addresses, f),
  from a file or text (docs/formats/ledger-consensus.md §Configuration).
* :class:`Signer` — an Ed25519 key that signs transactions.
* :class:`Client` — connects to the replicas; :meth:`Client.submit` sends a
  signed transaction and returns its :class:`Receipt` once f+1 replicas
  replied with the same commit and the inclusion proof verified against the
  members' keys; reads of state, blocks, transactions and traces; blobs.
* :func:`kv_put` / :func:`kv_delete` — payloads of the reference key-value app.

The replicas are run by the node program ``fedshare-ledger-node`` (one per
member; docs/guides/ledger.md).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, List, Optional, Tuple

from . import errors
from ._native import error_class, load, make_checker

_m = load("ledger")
ffi, lib = _m.ffi, _m.lib

# Each code's exception comes from libledger/codes.tsv (fedshare._native).
check = make_checker("ledger", lambda rc: ffi.string(lib.ledger_strerror(rc)).decode())

KV_PUT = lib.LEDGER_KV_OP_PUT
KV_DELETE = lib.LEDGER_KV_OP_DELETE


def _owned(ptr: Any, n: int) -> bytes:
    """Copy a buffer libledger returned and free it."""
    try:
        return bytes(ffi.buffer(ptr, n)) if n else b""
    finally:
        lib.ledger_free(ptr)


def kv_put(key: bytes, value: bytes) -> bytes:
    """Payload of a put of ``value`` under ``key`` (reference key-value app)."""
    out, n = ffi.new("uint8_t **"), ffi.new("size_t *")
    check(lib.ledger_kv_put_payload(key, len(key), value, len(value), out, n))
    return _owned(out[0], n[0])


def kv_delete(key: bytes) -> bytes:
    """Payload of a delete of ``key``."""
    out, n = ffi.new("uint8_t **"), ffi.new("size_t *")
    check(lib.ledger_kv_delete_payload(key, len(key), out, n))
    return _owned(out[0], n[0])


class Config:
    """A consortium configuration (immutable)."""

    def __init__(self, text: Optional[str] = None, *, path: Optional[str] = None):
        p = ffi.new("ledger_config **")
        err = ffi.new("char[]", lib.LEDGER_CONFIG_ERROR_BYTES)
        if path is not None:
            rc = lib.ledger_config_load_ex(p, os.fsencode(path), err, len(err))
        elif text is not None:
            b = text.encode()
            rc = lib.ledger_config_parse_ex(p, b, len(b), err, len(err))
        else:
            raise errors.InvalidInputError("Config needs text or path")
        if rc < 0 and err[0] != b"\0":  # the library's text names the line
            detail = ffi.string(err).decode(errors="replace")
            raise error_class(rc)(
                f"ledger: {ffi.string(lib.ledger_strerror(rc)).decode()} ({rc}): {detail}",
                code=rc, library="ledger")
        check(rc)
        self._p = ffi.gc(p[0], lib.ledger_config_free)

    @classmethod
    def load(cls, path: str) -> "Config":
        return cls(path=path)

    @property
    def replicas(self) -> int:
        return int(lib.ledger_config_replicas(self._p))

    @property
    def f(self) -> int:
        return int(lib.ledger_config_f(self._p))

    def address(self, i: int) -> str:
        a = lib.ledger_config_address(self._p, i)
        if a == ffi.NULL:
            raise errors.InvalidInputError(f"no replica {i}")
        return str(ffi.string(a).decode())


class Signer:
    """An Ed25519 signing key (the secret is wiped when freed)."""

    def __init__(self, seed: Optional[bytes] = None):
        p = ffi.new("ledger_signer **")
        if seed is None:
            check(lib.ledger_signer_generate(p))
        else:
            if len(seed) != 32:
                raise errors.InvalidInputError("seed must be 32 bytes")
            check(lib.ledger_signer_from_seed(p, seed))
        self._p = ffi.gc(p[0], lib.ledger_signer_free)

    @property
    def public_key(self) -> bytes:
        return bytes(ffi.buffer(lib.ledger_signer_public_key(self._p), 32))


class Transaction:
    """A signed transaction (op, sender, nonce, payload, signature)."""

    def __init__(self, signer: Signer, op: int, nonce: int, payload: bytes):
        p = ffi.new("ledger_tx **")
        check(lib.ledger_tx_create_signed(p, signer._p, op, nonce, payload, len(payload)))
        self._p = ffi.gc(p[0], lib.ledger_tx_free)

    @classmethod
    def _wrap(cls, ptr: Any) -> "Transaction":
        t = cls.__new__(cls)
        t._p = ffi.gc(ptr, lib.ledger_tx_free)
        return t

    @classmethod
    def decode(cls, data: bytes) -> "Transaction":
        p = ffi.new("ledger_tx **")
        check(lib.ledger_tx_decode(p, data, len(data)))
        return cls._wrap(p[0])

    @property
    def hash(self) -> bytes:
        return bytes(ffi.buffer(lib.ledger_tx_hash(self._p), 32))

    @property
    def op(self) -> int:
        return int(lib.ledger_tx_op(self._p))

    @property
    def nonce(self) -> int:
        return int(lib.ledger_tx_nonce(self._p))

    @property
    def sender(self) -> bytes:
        return bytes(ffi.buffer(lib.ledger_tx_sender(self._p), 32))

    @property
    def payload(self) -> bytes:
        n = ffi.new("size_t *")
        ptr = lib.ledger_tx_payload(self._p, n)
        return bytes(ffi.buffer(ptr, n[0])) if n[0] else b""

    def encode(self) -> bytes:
        n = ffi.new("size_t *")
        ptr = lib.ledger_tx_encoding(self._p, n)
        return bytes(ffi.buffer(ptr, n[0]))


@dataclass(frozen=True)
class Receipt:
    """Where a transaction was committed, as f+1 replicas and its proof agree."""

    height: int
    index: int
    status: int  #: 0 when applied, else the application's rejection code
    replies: int
    tx_hash: bytes
    block_hash: bytes
    proof: Optional[bytes]  #: the canonical encoding of the verified inclusion proof

    @property
    def applied(self) -> bool:
        return self.status == 0


@dataclass(frozen=True)
class Block:
    height: int
    timestamp: int
    header_hash: bytes
    state_root: bytes
    transactions: List[Transaction]


def _u64(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**64:
        raise errors.InvalidInputError(f"{what} must be an integer in [0, 2**64)")
    return value


class Client:
    """Connection to the replicas of one ledger. Usable from several threads."""

    def __init__(self, config: Config, timeout_ms: int = 5000, signer: Optional[Signer] = None):
        p = ffi.new("ledger_client **")
        check(lib.ledger_client_connect(p, config._p, timeout_ms))
        self._p = p[0]
        self._config = config
        self._read_mode = "session"
        if signer is not None:
            self.set_signer(signer)

    def set_signer(self, signer: Optional[Signer]) -> None:
        """The key that signs this client's blob puts (``None`` removes it).

        Replicas store only signed blobs from keys their node allows, within
        that key's quota; an unsigned put raises :class:`fedshare.errors.AccessDeniedError`
        (``LEDGER_E_BLOB_ANONYMOUS``)."""
        check(lib.ledger_client_set_signer(self._p, ffi.NULL if signer is None else signer._p))

    def close(self) -> None:
        if self._p is not None:
            lib.ledger_client_close(self._p)
            self._p = None

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - depends on GC timing
        try:
            self.close()
        except Exception:
            pass

    def submit(self, tx: Transaction, timeout_ms: int = 30000, proof: bool = True) -> Receipt:
        """Submit ``tx`` and wait for its commit. Raises on refusal or timeout."""
        r = ffi.new("ledger_receipt *")
        pp = ffi.new("ledger_proof **")
        flags = 0 if proof else lib.LEDGER_SUBMIT_NO_PROOF
        check(lib.ledger_client_submit(self._p, tx._p, flags, timeout_ms, r,
                                       pp if proof else ffi.NULL))
        enc = None
        if proof:
            out, n = ffi.new("uint8_t **"), ffi.new("size_t *")
            try:
                check(lib.ledger_proof_encode(pp[0], out, n))
                enc = _owned(out[0], n[0])
            finally:
                lib.ledger_proof_free(pp[0])
        return Receipt(r.height, r.index, r.status, r.replies, bytes(r.tx_hash),
                       bytes(r.block_hash), enc)

    def put(self, signer: Signer, nonce: int, key: bytes, value: bytes,
            **kw: Any) -> Receipt:
        """Submit a key-value put (reference application)."""
        return self.submit(Transaction(signer, KV_PUT, nonce, kv_put(key, value)), **kw)

    def get(self, key: bytes, timeout_ms: int = 5000) -> bytes:
        """The committed state stored under ``key`` (f+1 replicas agree)."""
        out, n = ffi.new("uint8_t **"), ffi.new("size_t *")
        check(lib.ledger_client_get(self._p, key, len(key), timeout_ms, out, n))
        return _owned(out[0], n[0]) if out[0] != ffi.NULL else b""

    def query(self, q: bytes, timeout_ms: int = 5000) -> bytes:
        """The application's answer to a read-only query (f+1 replicas agree)."""
        out, n = ffi.new("uint8_t **"), ffi.new("size_t *")
        check(lib.ledger_client_query(self._p, q, len(q), timeout_ms, out, n))
        return _owned(out[0], n[0]) if out[0] != ffi.NULL else b""

    def height(self, timeout_ms: int = 5000) -> int:
        """The highest height f+1 replicas have reached (raises the read floor to it)."""
        h = ffi.new("uint64_t *")
        check(lib.ledger_client_height(self._p, timeout_ms, h))
        return int(h[0])

    # -- read consistency (docs/ledger-protocol.md §Reads) -------------------
    @property
    def read_mode(self) -> str:
        """"session" (read-your-writes, monotonic reads; the default) or
        "linearizable" (every write whose receipt anyone held is seen)."""
        return self._read_mode

    @read_mode.setter
    def read_mode(self, mode: str) -> None:
        modes = {"session": lib.LEDGER_READ_SESSION,
                 "linearizable": lib.LEDGER_READ_LINEARIZABLE}
        if mode not in modes:
            raise errors.InvalidInputError(f"read mode must be one of {sorted(modes)}")
        check(lib.ledger_client_set_read_mode(self._p, modes[mode]))
        self._read_mode = mode

    @property
    def seen_height(self) -> int:
        """The read floor: no later read reflects a state older than this height."""
        return int(lib.ledger_client_seen_height(self._p))

    def observe(self, height: int) -> None:
        """Raise the read floor to ``height`` (e.g. another process's receipt height)."""
        check(lib.ledger_client_observe(self._p, _u64(height, "height")))

    def wait_height(self, height: int, timeout_ms: int = 30000) -> int:
        """Wait until f+1 replicas announce a block at ``height`` or above; returns the
        highest announced height. Raises TimeoutError_ at the deadline."""
        reached = ffi.new("uint64_t *")
        check(lib.ledger_client_wait_height(self._p, _u64(height, "height"), timeout_ms, reached))
        return int(reached[0])

    def block(self, height: int, timeout_ms: int = 5000) -> Block:
        """Block ``height``, its certificate checked against the members' keys."""
        p = ffi.new("ledger_block **")
        check(lib.ledger_client_block(self._p, height, timeout_ms, p))
        b = ffi.gc(p[0], lib.ledger_block_free)
        txs = []
        for i in range(lib.ledger_block_tx_count(b)):
            enc_n = ffi.new("size_t *")
            ptr = lib.ledger_tx_encoding(lib.ledger_block_tx(b, i), enc_n)
            txs.append(Transaction.decode(bytes(ffi.buffer(ptr, enc_n[0]))))
        return Block(lib.ledger_block_height(b), lib.ledger_block_timestamp(b),
                     bytes(ffi.buffer(lib.ledger_block_header_hash(b), 32)),
                     bytes(ffi.buffer(lib.ledger_block_state_root(b), 32)), txs)

    def transaction(self, tx_hash: bytes, timeout_ms: int = 5000) -> Tuple[Transaction, int, int]:
        """(transaction, height, index), checked by its inclusion proof."""
        p = ffi.new("ledger_tx **")
        h, i = ffi.new("uint64_t *"), ffi.new("uint32_t *")
        check(lib.ledger_client_tx(self._p, tx_hash, timeout_ms, p, h, i))
        return Transaction._wrap(p[0]), h[0], i[0]

    def trace(self, op: int, key: bytes, start: int = 0, max_entries: int = 1024,
              timeout_ms: int = 5000) -> List[Tuple[int, int]]:
        """(height, index) of every transaction that touched (op, key)."""
        out = ffi.new("ledger_trace_entry[]", max_entries)
        n = ffi.new("size_t *")
        check(lib.ledger_client_trace(self._p, op, key, len(key), start, timeout_ms, out,
                                      max_entries, n))
        return [(out[i].height, out[i].index) for i in range(n[0])]

    def trace_time(self, t0_ms: int, t1_ms: int, max_blocks: int = 4096,
                   timeout_ms: int = 5000) -> List[int]:
        """Heights of the blocks with t0 ≤ consensus timestamp ≤ t1."""
        out = ffi.new("uint64_t[]", max_blocks)
        n = ffi.new("size_t *")
        check(lib.ledger_client_trace_time(self._p, t0_ms, t1_ms, timeout_ms, out, max_blocks, n))
        return [out[i] for i in range(n[0])]

    def blob_put(self, data: bytes, timeout_ms: int = 10000) -> bytes:
        """Store a blob on the replicas (f+1 at least), signed by the client's
        signer (:meth:`set_signer`); returns its SHA-256.

        Raises :class:`~fedshare.errors.AccessDeniedError` without a signer or
        for a key the nodes do not allow, :class:`~fedshare.errors.ResourceError`
        over the key's quota or the nodes' blob high-water mark."""
        h = ffi.new("uint8_t[32]")
        check(lib.ledger_client_blob_put(self._p, data, len(data), timeout_ms, h))
        return bytes(h)

    def blob_get(self, blob_hash: bytes, timeout_ms: int = 10000) -> bytes:
        """Fetch a blob; its bytes are checked against the hash."""
        if len(blob_hash) != 32:
            raise errors.InvalidInputError("a blob hash is 32 bytes")
        out, n = ffi.new("uint8_t **"), ffi.new("size_t *")
        check(lib.ledger_client_blob_get(self._p, blob_hash, timeout_ms, out, n))
        return _owned(out[0], n[0])


__all__ = ["Config", "Signer", "Transaction", "Receipt", "Block", "Client", "kv_put",
           "kv_delete", "KV_PUT", "KV_DELETE", "check"]
