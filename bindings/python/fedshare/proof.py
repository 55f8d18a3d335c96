"""Proof bundles a third party checks offline (docs/formats/ledger-bundle.md).

:func:`export_bundle` asks the replicas of a consortium for a committed
transaction and its inclusion proof and packs them with the hash of the
chain's genesis membership; :func:`verify_bundle` checks a bundle with the
genesis membership alone — no store, no network. :func:`genesis` gives that
membership's encoding from a configuration file (what an auditor keeps).
"""
from __future__ import annotations

import os
from typing import Any, Dict, Union

from . import errors
from ._native import load, make_checker

_m = load("ledger")
ffi, lib = _m.ffi, _m.lib
check = make_checker("ledger", lambda rc: ffi.string(lib.ledger_strerror(rc)).decode())

PathLike = Union[str, "os.PathLike[str]"]
_LDMS = b"LDMS"


def _config(path: PathLike):
    from .ledger import Config

    try:
        return Config(path=os.fspath(path))
    except errors.Error:  # a fedshare configuration: its ledger part
        from .consortium import config_ledger_text

        return Config(config_ledger_text(path))


def _take(ptr: Any, n: int) -> bytes:
    try:
        return bytes(ffi.buffer(ptr, n))
    finally:
        lib.ledger_free(ptr)


def _membership(config: PathLike) -> Any:
    cfg = _config(config)
    m = ffi.new("ledger_membership **")
    check(lib.ledger_config_membership(cfg._p, m))
    return ffi.gc(m[0], lib.ledger_membership_free)


def genesis(config: PathLike) -> bytes:
    """The genesis membership's encoding (LDMS) of a consortium configuration."""
    m = _membership(config)
    out, n = ffi.new("uint8_t **"), ffi.new("size_t *")
    check(lib.ledger_membership_encode(m, out, n))
    return _take(out[0], n[0])


def export_bundle(config: PathLike, tx_hash: bytes, timeout_ms: int = 30000) -> bytes:
    """The bundle of committed transaction ``tx_hash`` (f+1 replicas' answer, its
    proof verified before it is packed)."""
    from .ledger import Client

    if not isinstance(tx_hash, (bytes, bytearray)) or len(tx_hash) != 32:
        raise errors.InvalidInputError("tx_hash must be 32 bytes")
    m = _membership(config)
    client = Client(_config(config), timeout_ms=min(timeout_ms, 10000))
    try:
        out, n = ffi.new("uint8_t **"), ffi.new("size_t *")
        check(lib.ledger_client_bundle(client._p, bytes(tx_hash), m, timeout_ms, out, n))
        return _take(out[0], n[0])
    finally:
        client.close()


def verify_bundle(bundle: bytes, genesis_membership: Union[bytes, PathLike]) -> Dict[str, Any]:
    """Verify ``bundle`` offline against the genesis membership (its LDMS bytes, or
    a file holding them, or a consortium configuration file). Returns what it
    proves; raises :class:`fedshare.errors.VerificationError` (or
    InvalidInputError for bytes that are not a bundle) when it does not verify."""
    g = genesis_membership
    if not isinstance(g, (bytes, bytearray)):
        with open(g, "rb") as f:
            head = f.read(4)
        g = open(g, "rb").read() if head == _LDMS else genesis(g)
    info = ffi.new("ledger_bundle_info *")
    tx = ffi.new("ledger_tx **")
    check(lib.ledger_bundle_verify(bytes(bundle), len(bundle), bytes(g), len(g), info, tx))
    try:
        n = ffi.new("size_t *")
        enc = lib.ledger_tx_encoding(tx[0], n)
        tx_bytes = bytes(ffi.buffer(enc, n[0]))
        pl = lib.ledger_tx_payload(tx[0], n)
        payload = bytes(ffi.buffer(pl, n[0])) if n[0] else b""
        sender = bytes(ffi.buffer(lib.ledger_tx_sender(tx[0]), 32))
        op, nonce = int(lib.ledger_tx_op(tx[0])), int(lib.ledger_tx_nonce(tx[0]))
    finally:
        lib.ledger_tx_free(tx[0])
    return {
        "height": int(info.height), "index": int(info.index),
        "timestamp_ms": int(info.timestamp), "header_format": int(info.header_format),
        "app_version": int(info.app_version), "tx_hash": bytes(info.tx_hash).hex(),
        "header_hash": bytes(info.header_hash).hex(), "state_root": bytes(info.state_root).hex(),
        "chain_id": bytes(info.chain_id).hex(), "op": op, "nonce": nonce,
        # format 2 carries the membership changes from genesis to the block
        "format_version": bundle[4], "membership_changes": int.from_bytes(bundle[38:40], "big"),
        "sender": sender.hex(), "payload": payload.hex(), "transaction": tx_bytes.hex(),
    }
