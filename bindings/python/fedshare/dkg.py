"""The consortium key without a dealer: libphe's dealerless key generation
(``phe/dkg.h``, docs/phe-dkg.md) run among the key holders over a direct,
encrypted channel between them.

Each key holder runs :func:`ceremony` on its own machine (the CLI:
``fedshare keys ceremony --dealerless``). The holders connect to each other
over TCP (holder i dials every holder j < i and accepts the others); every
frame is a libsodium ``crypto_box`` between the holders' X25519 keys derived
from their members' Ed25519 (DID) keys, so a message can be read only by its
recipient and is known to come from its sender: a relay or an eavesdropper
learns sizes and timing only. libphe runs the protocol; at the end every
holder has the same :class:`~fedshare.phe.threshold.ThresholdParams` and its
own :class:`~fedshare.phe.threshold.KeyShare`, the same objects the dealer
ceremony hands out, so decryption works unchanged. A last exchange compares
the key IDs and carries each holder's sealed-share hash, so that the first
holder records the key on the ledger and the others check the record.

:class:`Dkg` is the bare state machine (one holder), :func:`generate` runs
every holder in this process (tests, the demo).

Frame format (docs/formats/phe-dkg.md, "Ceremony channel"): ``u32 length`` ‖
24-byte nonce ‖ crypto_box(kind ‖ body); a connection starts with a
clear ``u32`` naming the dialling holder, then a boxed HELLO carrying the
session id.
"""
from __future__ import annotations

import hashlib
import os
import queue
import socket
import struct
import threading
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ._native import load
from .errors import Error, InvalidInputError, VerificationError
from .phe import check
from .phe.threshold import KeyShare, ThresholdParams

_m = load("phe")
ffi: Any = _m.ffi
lib: Any = _m.lib

ERR_STATE = lib.PHE_ERR_DKG_STATE
ERR_SESSION = lib.PHE_ERR_DKG_SESSION
ERR_ROUND = lib.PHE_ERR_DKG_ROUND
ERR_DUPLICATE = lib.PHE_ERR_DKG_DUPLICATE
ERR_BLAME = lib.PHE_ERR_DKG_BLAME
ERR_INCONSISTENT = lib.PHE_ERR_DKG_INCONSISTENT
ERR_GIVE_UP = lib.PHE_ERR_DKG_GIVE_UP

#: frame kinds inside the box
_HELLO, _MSG, _DONE, _FAIL = 1, 2, 3, 4
_MAX_FRAME = 80 << 20
_SESSION_TAG = b"fedshare/dkg/v1/session\0"

Messages = List[Tuple[int, bytes]]


def session_id(label: str, holders: Sequence[bytes], threshold: int, bits: int) -> bytes:
    """The 32-byte session every holder derives from the ceremony's label (unique
    per ceremony, e.g. a date and a counter), the holders' public keys in share
    order, t and the modulus size."""
    h = hashlib.sha256(_SESSION_TAG)
    lab = label.encode()
    h.update(struct.pack(">I", len(lab)) + lab)
    h.update(struct.pack(">III", len(holders), threshold, bits))
    for pk in holders:
        if len(pk) != 32:
            raise InvalidInputError("holder keys must be 32 bytes")
        h.update(pk)
    return h.digest()


class Dkg:
    """One holder's libphe state (``phe_dkg``): :meth:`start`, then
    :meth:`handle` for every message received; each returns the messages to
    send as ``(to, bytes)`` pairs (``to`` 0: every other holder)."""

    def __init__(self, session: bytes, bits: int, threshold: int, holders: int,
                 index: int) -> None:
        if not isinstance(session, (bytes, bytearray)) or len(session) != 32:
            raise InvalidInputError("session must be 32 bytes")
        out = ffi.new("phe_dkg **")
        check(lib.phe_dkg_new(out, bytes(session), bits, threshold, holders, index, ffi.NULL))
        self._ptr = ffi.gc(out[0], lib.phe_dkg_free)
        self.index = index
        self.holders = holders

    @staticmethod
    def _take(msgs: Any, count: Any) -> Messages:
        try:
            return [(int(msgs[0][k].to), bytes(ffi.buffer(msgs[0][k].data, msgs[0][k].len)))
                    for k in range(count[0])]
        finally:
            lib.phe_dkg_msgs_free(msgs[0], count[0])

    def start(self) -> Messages:
        msgs, count = ffi.new("phe_dkg_msg **"), ffi.new("size_t *")
        check(lib.phe_dkg_start(self._ptr, msgs, count))
        return self._take(msgs, count)

    def handle(self, data: bytes) -> Messages:
        """Take one message; raises on a bad one (:attr:`blamed` names a
        deviating holder after ERR_BLAME / ERR_INCONSISTENT)."""
        msgs, count = ffi.new("phe_dkg_msg **"), ffi.new("size_t *")
        rc = lib.phe_dkg_handle(self._ptr, data, len(data), msgs, count)
        out = self._take(msgs, count)
        check(rc)
        return out

    @property
    def done(self) -> bool:
        return bool(lib.phe_dkg_done(self._ptr))

    @property
    def blamed(self) -> int:
        return int(lib.phe_dkg_blamed(self._ptr))

    def stats(self) -> Dict[str, int]:
        c, b, r = ffi.new("uint64_t *"), ffi.new("uint64_t *"), ffi.new("uint32_t *")
        check(lib.phe_dkg_stats(self._ptr, c, b, r))
        return {"candidates": int(c[0]), "bytes_sent": int(b[0]), "rounds": int(r[0])}

    def commitment_hash(self) -> bytes:
        """The ceremony's final commitment hash (what the last round compared;
        the same at every holder), once :attr:`done`."""
        out = ffi.new("uint8_t[32]")
        check(lib.phe_dkg_commitment_hash(self._ptr, out))
        return bytes(out)

    def finish(self) -> Tuple[ThresholdParams, KeyShare]:
        pp, ks = ffi.new("phe_threshold_params **"), ffi.new("phe_threshold_keyshare **")
        check(lib.phe_dkg_finish(self._ptr, pp, ks))
        return (ThresholdParams(ffi.gc(pp[0], lib.phe_threshold_params_free)),
                KeyShare(ffi.gc(ks[0], lib.phe_threshold_keyshare_free)))


def generate(bits: int = 2048, threshold: int = 2, holders: int = 3,
             session: Optional[bytes] = None) -> Tuple[ThresholdParams, List[KeyShare]]:
    """Every holder in this process (no network): the dealerless key as
    :func:`fedshare.phe.threshold.deal` returns a dealt one. For tests and the
    single-machine demo — one process then sees every share, as a dealer would."""
    session = session or os.urandom(32)
    ds = [Dkg(session, bits, threshold, holders, i) for i in range(1, holders + 1)]
    q: List[Tuple[int, int, bytes]] = []

    def post(frm: int, msgs: Messages) -> None:
        for to, data in msgs:
            for j in range(1, holders + 1):
                if j != frm and (to == 0 or to == j):
                    q.append((frm, j, data))

    for d in ds:
        post(d.index, d.start())
    k = 0
    while k < len(q):
        _, to, data = q[k]
        q[k] = (0, 0, b"")
        k += 1
        post(to, ds[to - 1].handle(data))
    if not all(d.done for d in ds):
        raise Error("the key generation stopped before the end")
    results = [d.finish() for d in ds]
    return results[0][0], [r[1] for r in results]


# -- the channel between holders ------------------------------------------------

class CeremonyError(Error):
    """The ceremony failed; :attr:`blamed` names a holder shown to deviate (0: none)."""

    def __init__(self, message: str, blamed: int = 0, code: Optional[int] = None) -> None:
        super().__init__(message, code=code, library="fedshare")
        self.blamed = blamed


def attest(seed: bytes, params: ThresholdParams, session: bytes, commitment: bytes,
           share_hash: bytes) -> bytes:
    """This holder's attestation of a dealerless key: its member key's (``seed``)
    Ed25519 signature over the key's public parameters (public key and
    verification keys), the session, the final commitment hash and its own
    sealed-share hash (``fedshare_key_attest``; docs/formats/fedshare.md)."""
    from .consortium import ffi as cffi_, lib as clib, check as ccheck

    for v, what in ((seed, "seed"), (session, "session"), (commitment, "commitment"),
                    (share_hash, "share hash")):
        if not isinstance(v, (bytes, bytearray)) or len(v) != 32:
            raise InvalidInputError(f"{what} must be 32 bytes")
    enc = params.to_bytes()
    sig = cffi_.new("uint8_t[64]")
    ccheck(clib.fedshare_key_attest(bytes(seed), enc, len(enc), bytes(session),
                                    bytes(commitment), bytes(share_hash), sig))
    return bytes(sig)


def attestation_ok(holder: bytes, params: ThresholdParams, session: bytes, commitment: bytes,
                   share_hash: bytes, signature: bytes) -> bool:
    """True when ``signature`` is holder key ``holder``'s attestation of these fields."""
    from .consortium import lib as clib

    if len(holder) != 32 or len(session) != 32 or len(commitment) != 32 or \
            len(share_hash) != 32 or len(signature) != 64:
        return False
    enc = params.to_bytes()
    return clib.fedshare_key_attestation_verify(bytes(holder), enc, len(enc), bytes(session),
                                                bytes(commitment), bytes(share_hash),
                                                bytes(signature)) == 0


class _Box:
    """crypto_box keys of one holder toward every other (precomputed)."""

    def __init__(self, seed: bytes, peers: Dict[int, bytes]) -> None:
        if len(seed) != 32:
            raise InvalidInputError("the member seed must be 32 bytes")
        pk, sk = ffi.new("unsigned char[32]"), ffi.new("unsigned char[64]")
        xsk = ffi.new("unsigned char[32]")
        lib.crypto_sign_seed_keypair(pk, sk, seed)
        if lib.crypto_sign_ed25519_sk_to_curve25519(xsk, sk) != 0:
            raise Error("key conversion failed")
        self.public = bytes(ffi.buffer(pk, 32))
        self._k: Dict[int, Any] = {}
        for j, epk in peers.items():
            xpk = ffi.new("unsigned char[32]")
            k = ffi.new("unsigned char[32]")
            if lib.crypto_sign_ed25519_pk_to_curve25519(xpk, epk) != 0 or \
                    lib.crypto_box_beforenm(k, xpk, xsk) != 0:
                raise InvalidInputError(f"holder {j}'s public key is not a usable Ed25519 key")
            self._k[j] = k
        lib.sodium_memzero(sk, 64)
        lib.sodium_memzero(xsk, 32)

    def seal(self, j: int, kind: int, body: bytes) -> bytes:
        m = bytes([kind]) + body
        n = os.urandom(24)
        c = ffi.new("unsigned char[]", len(m) + 16)
        lib.crypto_box_easy_afternm(c, m, len(m), n, self._k[j])
        return n + bytes(ffi.buffer(c, len(m) + 16))

    def open(self, j: int, frame: bytes) -> Tuple[int, bytes]:
        if len(frame) < 24 + 16 + 1:
            raise VerificationError(f"short frame from holder {j}")
        m = ffi.new("unsigned char[]", len(frame) - 40)
        if lib.crypto_box_open_easy_afternm(m, frame[24:], len(frame) - 24, frame[:24],
                                            self._k[j]) != 0:
            raise VerificationError(f"a frame from holder {j}'s connection did not "
                                    "authenticate")
        out = bytes(ffi.buffer(m, len(frame) - 40))
        return out[0], out[1:]


def _recv_exact(s: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            raise ConnectionError("connection closed")
        buf += chunk
    return bytes(buf)


def _recv_frame(s: socket.socket) -> bytes:
    (n,) = struct.unpack(">I", _recv_exact(s, 4))
    if n > _MAX_FRAME:
        raise VerificationError("frame too large")
    return _recv_exact(s, n)


def _send_frame(s: socket.socket, frame: bytes) -> None:
    s.sendall(struct.pack(">I", len(frame)) + frame)


def ceremony(me: int, seed: bytes, holders: Sequence[bytes],
             addresses: Sequence[Tuple[str, int]], threshold: int, session: bytes,
             bits: int = 2048, timeout: float = 1800.0,
             on_done: Optional[Any] = None,
             on_connected: Optional[Any] = None
             ) -> Tuple[ThresholdParams, KeyShare, Dict[str, Any]]:
    """Run holder ``me`` (1-based) of a dealerless ceremony: ``holders`` are the
    holders' Ed25519 public keys in share order, ``addresses[i]`` where holder
    i+1 listens (this holder listens on its own). ``on_done(params, share)`` is
    called when the key is made and returns this holder's 32-byte sealed-share
    hash (or 32 zero bytes), exchanged in the last step; ``on_connected()`` when
    every holder is connected, before the first message. Returns the key, this
    holder's share and a report: stats, every holder's share hash, the
    session, the final commitment hash, every holder's attestation
    (:func:`attest`, each checked here against that holder's key), elapsed
    seconds. Raises :class:`CeremonyError` on any failure — nothing is kept,
    the ceremony can be run again with a new session."""
    nh = len(holders)
    if len(addresses) != nh or not 1 <= me <= nh:
        raise InvalidInputError("one address per holder; me in 1 … holders")
    box = _Box(seed, {j: holders[j - 1] for j in range(1, nh + 1) if j != me})
    if box.public != holders[me - 1]:
        raise InvalidInputError("the seed is not holder me's key")
    deadline = time.monotonic() + timeout
    t0 = time.monotonic()
    socks: Dict[int, socket.socket] = {}
    inbox: "queue.Queue[Tuple[int, Optional[bytes], Optional[BaseException]]]" = queue.Queue()
    lst = socket.create_server(addresses[me - 1], reuse_port=False)
    lst.settimeout(1.0)
    try:
        # dial lower indexes (they may start later: keep trying until the deadline)
        for j in range(1, me):
            while True:
                try:
                    s = socket.create_connection(addresses[j - 1], timeout=5.0)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise CeremonyError(f"holder {j} did not answer at "
                                            f"{addresses[j - 1]}") from None
                    time.sleep(0.2)
            s.settimeout(None)
            s.sendall(struct.pack(">I", me))
            _send_frame(s, box.seal(j, _HELLO, session))
            socks[j] = s
        # accept higher indexes
        while len([j for j in socks if j > me]) < nh - me:
            try:
                s, _ = lst.accept()
            except socket.timeout:
                if time.monotonic() > deadline:
                    raise CeremonyError("not every holder connected") from None
                continue
            s.settimeout(30.0)
            try:
                (j,) = struct.unpack(">I", _recv_exact(s, 4))
                if not me < j <= nh or j in socks:
                    raise VerificationError("unexpected holder index")
                kind, body = box.open(j, _recv_frame(s))
                if kind != _HELLO or body != session:
                    raise VerificationError("another session")
            except (OSError, Error, struct.error):
                s.close()  # a stranger or a stale connection: not the ceremony's
                continue
            s.settimeout(None)
            socks[j] = s

        def reader(j: int, s: socket.socket) -> None:
            try:
                while True:
                    inbox.put((j, _recv_frame(s), None))
            except BaseException as e:  # noqa: BLE001 - handed to the main loop
                inbox.put((j, None, e))

        for j, s in socks.items():
            threading.Thread(target=reader, args=(j, s), daemon=True).start()
        if on_connected:
            on_connected()

        def send(msgs: Messages) -> None:
            for to, data in msgs:
                for j in ([to] if to else [k for k in socks]):
                    try:
                        _send_frame(socks[j], box.seal(j, _MSG, data))
                    except OSError as e:
                        raise CeremonyError(f"holder {j}'s connection failed: {e}") from None

        d = Dkg(session, bits, threshold, nh, me)
        send(d.start())
        done_from: Dict[int, bytes] = {}
        early: List[Tuple[int, bytes]] = []
        report: Dict[str, Any] = {}
        params: Optional[ThresholdParams] = None
        share: Optional[KeyShare] = None
        my_done = b""
        commitment = b""
        while params is None or len(done_from) < nh - 1:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CeremonyError("the ceremony timed out")
            try:
                j, frame, err = inbox.get(timeout=min(left, 5.0))
            except queue.Empty:
                continue
            if frame is None:
                if j in done_from or any(j == k for k, _ in early):
                    continue  # holder j finished and left: its DONE came first
                raise CeremonyError(f"holder {j}'s connection ended: {err}")
            kind, body = box.open(j, frame)
            if kind == _FAIL:
                raise CeremonyError(f"holder {j} stopped: {body.decode(errors='replace')}")
            if kind == _DONE:
                if params is None:
                    early.append((j, body))
                else:
                    done_from[j] = body
                continue
            if kind != _MSG:
                raise CeremonyError(f"unexpected frame kind {kind} from holder {j}")
            try:
                send(d.handle(body))
            except Error as e:
                blamed = d.blamed
                for k in socks:
                    try:
                        _send_frame(socks[k], box.seal(k, _FAIL, str(e).encode()))
                    except OSError:
                        pass
                raise CeremonyError(f"key generation failed: {e}"
                                    + (f" (holder {blamed} deviated)" if blamed else ""),
                                    blamed=blamed, code=getattr(e, "code", None)) from e
            if d.done and params is None:
                params, share = d.finish()
                h = bytes(on_done(params, share) if on_done else bytes(32))
                commitment = d.commitment_hash()
                my_done = params.key_id + h + attest(seed, params, session, commitment, h)
                for k in socks:
                    _send_frame(socks[k], box.seal(k, _DONE, my_done))
                for j2, b2 in early:
                    done_from[j2] = b2
        assert params is not None and share is not None
        hashes = [b""] * nh
        sigs = [b""] * nh
        hashes[me - 1], sigs[me - 1] = my_done[32:64], my_done[64:]
        for j, body in done_from.items():
            if len(body) != 128 or body[:32] != my_done[:32]:
                raise CeremonyError(f"holder {j} ended with another key", blamed=j)
            hashes[j - 1], sigs[j - 1] = body[32:64], body[64:]
            if not attestation_ok(holders[j - 1], params, session, commitment, hashes[j - 1],
                                  sigs[j - 1]):
                raise CeremonyError(f"holder {j}'s attestation does not verify", blamed=j)
        report = dict(d.stats(), share_hashes=hashes, session=bytes(session),
                      commitment=commitment, attestations=sigs,
                      seconds=time.monotonic() - t0)
        return params, share, report
    except OSError as e:  # a peer that vanished while this holder was writing to it
        raise CeremonyError(f"a holder's connection failed: {e}") from None
    finally:
        for s in socks.values():
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        lst.close()
