"""t-of-n threshold Paillier decryption (libphe's ``phe/threshold.h``).

A dealer runs :func:`deal` once: it generates n = pq from two safe primes,
shares the decryption key among ``holders`` key holders so that any
``threshold`` of them can decrypt, and publishes :class:`ThresholdParams`
(the ordinary :class:`fedshare.phe.PublicKey` everyone encrypts with, plus
the verification values). Each holder keeps one :class:`KeyShare`.

    >>> from fedshare.phe import threshold
    >>> params, shares = threshold.deal(bits=2048, threshold=2, holders=3)
    >>> pk = params.public_key
    >>> c = pk.encrypt(20) + pk.encrypt(22)
    >>> d1 = shares[0].decrypt_share(params, c)     # holder 1
    >>> d3 = shares[2].decrypt_share(params, c)     # holder 3
    >>> threshold.combine(params, c, [d1, d3])      # verifies both proofs first
    42

A :class:`DecryptionShare` carries a zero-knowledge proof that it was made
with the holder's real key share; :func:`verify` checks it, :func:`combine`
checks every share it is given and raises :class:`fedshare.VerificationError`
(with ``.code`` naming the reason, see ``ERR_*`` below) rather than combine a
bad one. :meth:`KeyShare.decrypt_share_batch` makes one holder's shares of a
whole list of ciphertexts with ONE proof (:class:`DecryptionShareBatch`,
:func:`verify_batch`, :func:`combine_batch`, :func:`locate_batch`). The
ceremony and its trust assumptions: docs/guides/phe-threshold.md; every
encoding: docs/formats/phe-threshold.md.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Iterable, List, Optional, Sequence, Tuple, Union

from ..errors import InvalidInputError, VerificationError
from . import (Ciphertext, CiphertextArray, Context, InsecureSeed, PublicKey,
               _as_bytes, _rng, check, ffi, lib)

#: ciphertexts as a CiphertextArray or any iterable of Ciphertext objects
Ciphertexts = Union[CiphertextArray, Iterable[Ciphertext]]
#: a passphrase: text (UTF-8) or bytes
Passphrase = Union[str, bytes, bytearray, memoryview]

# Error codes (also ``exc.code`` of the exceptions raised here).
ERR_PARAMS = lib.PHE_ERR_THRESHOLD_PARAMS
ERR_NOT_SAFE_PRIME = lib.PHE_ERR_THRESHOLD_NOT_SAFE_PRIME
ERR_INDEX_RANGE = lib.PHE_ERR_THRESHOLD_INDEX_RANGE
ERR_DUPLICATE_SHARE = lib.PHE_ERR_THRESHOLD_DUPLICATE_SHARE
ERR_TOO_FEW_SHARES = lib.PHE_ERR_THRESHOLD_TOO_FEW_SHARES
ERR_WRONG_KEY = lib.PHE_ERR_THRESHOLD_WRONG_KEY
ERR_WRONG_CIPHERTEXT = lib.PHE_ERR_THRESHOLD_WRONG_CIPHERTEXT
ERR_PROOF_INVALID = lib.PHE_ERR_THRESHOLD_PROOF_INVALID
ERR_SHARE_VALUE = lib.PHE_ERR_THRESHOLD_SHARE_VALUE
ERR_COMBINE_FAILED = lib.PHE_ERR_THRESHOLD_COMBINE_FAILED


MAX_HOLDERS = int(lib.PHE_THRESHOLD_MAX_HOLDERS)
MAX_BATCH = int(lib.PHE_THRESHOLD_MAX_BATCH)
KEY_SIZES = (2048, 3072, 4096)

_STRENGTH = {
    "interactive": "PHE_KDF_INTERACTIVE",
    "moderate": "PHE_KDF_MODERATE",
    "sensitive": "PHE_KDF_SENSITIVE",
    "test-only-min": "PHE_KDF_TEST_ONLY_MIN",
}


def _strength(s: str) -> int:
    if s not in _STRENGTH:
        raise InvalidInputError(f"strength must be one of {sorted(_STRENGTH)}")
    return int(getattr(lib, _STRENGTH[s]))


def _bytes_of(data: Any, what: str) -> bytes:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidInputError(f"{what} must be bytes")
    return bytes(data)


def _encode(size_fn: Callable[[Any], int], enc_fn: Callable[..., int], ptr: Any) -> bytes:
    size = size_fn(ptr)
    buf = ffi.new("uint8_t[]", size)
    written = ffi.new("size_t *")
    check(enc_fn(ptr, buf, size, written))
    return bytes(ffi.buffer(buf, written[0]))


def _fields(data: bytes, offset: int, count: int) -> Tuple[List[int], int]:
    """Read ``count`` big-integer fields (u32 length + big-endian) at offset."""
    out = []
    for _ in range(count):
        ln = int.from_bytes(data[offset:offset + 4], "big")
        out.append(int.from_bytes(data[offset + 4:offset + 4 + ln], "big"))
        offset += 4 + ln
    return out, offset


class ThresholdParams:
    """The public side of a threshold key: the public key, t, l, the
    verification base v and one verification key v_i per holder."""

    def __init__(self, _ptr: Any) -> None:
        self._ptr = _ptr
        self.public_key = PublicKey(lib.phe_threshold_params_pubkey(_ptr), _owner=self)

    @classmethod
    def from_bytes(cls, data: bytes) -> "ThresholdParams":
        """Decode and validate the canonical encoding ("PHTP", v1)."""
        data = _bytes_of(data, "data")
        out = ffi.new("phe_threshold_params **")
        check(lib.phe_threshold_params_decode(out, data, len(data)))
        return cls(ffi.gc(out[0], lib.phe_threshold_params_free))

    def to_bytes(self) -> bytes:
        return _encode(lib.phe_threshold_params_encoded_size, lib.phe_threshold_params_encode,
                       self._ptr)

    @property
    def threshold(self) -> int:
        """t: how many holders must take part in a decryption."""
        return int(lib.phe_threshold_params_threshold(self._ptr))

    @property
    def holders(self) -> int:
        """l: how many key shares exist."""
        return int(lib.phe_threshold_params_holders(self._ptr))

    @property
    def key_id(self) -> bytes:
        """SHA-256 over the encoding (with a domain tag): names this key."""
        buf = ffi.new("uint8_t[32]")
        check(lib.phe_threshold_params_key_id(self._ptr, buf))
        return bytes(ffi.buffer(buf, 32))

    @property
    def delta(self) -> int:
        """Δ = l! (the factor that keeps the Lagrange coefficients integral)."""
        d = 1
        for i in range(2, self.holders + 1):
            d *= i
        return d

    def _values(self) -> Tuple[int, int, int, List[int]]:
        data = self.to_bytes()
        vals, _ = _fields(data, 13, 3 + self.holders)
        return vals[0], vals[1], vals[2], vals[3:]

    @property
    def verification_base(self) -> int:
        """v, a random square in Z*_{n²}."""
        return self._values()[2]

    @property
    def verification_keys(self) -> List[int]:
        """[v_1, …, v_l] with v_i = v^(Δ·s_i) mod n²."""
        return self._values()[3]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ThresholdParams) and self.key_id == other.key_id

    def __hash__(self) -> int:
        return hash(self.key_id)

    def __repr__(self) -> str:
        return (f"<fedshare.phe.threshold.ThresholdParams {self.threshold}-of-{self.holders} "
                f"{self.public_key.bits} bits id={self.key_id[:8].hex()}>")


class KeyShare:
    """One holder's secret share s_i of the decryption key. Keep it secret:
    store it with :meth:`write_file` (encrypted under a passphrase)."""

    def __init__(self, _ptr: Any) -> None:
        self._ptr = _ptr

    @property
    def index(self) -> int:
        """The holder's index i, 1 … l."""
        return int(lib.phe_threshold_keyshare_index(self._ptr))

    @classmethod
    def from_bytes(cls, data: bytes) -> "KeyShare":
        data = _bytes_of(data, "data")
        out = ffi.new("phe_threshold_keyshare **")
        check(lib.phe_threshold_keyshare_decode(out, data, len(data)))
        return cls(ffi.gc(out[0], lib.phe_threshold_keyshare_free))

    def to_bytes(self) -> bytes:
        """The canonical encoding ("PHTK", v1). Secret: prefer :meth:`seal`."""
        size = lib.phe_threshold_keyshare_encoded_size(self._ptr)
        buf = ffi.new("uint8_t[]", size)
        written = ffi.new("size_t *")
        check(lib.phe_threshold_keyshare_encode(self._ptr, buf, size, written))
        data = bytes(ffi.buffer(buf, written[0]))
        ffi.memmove(buf, b"\0" * size, size)
        return data

    def check(self, params: ThresholdParams) -> None:
        """Raise unless this share belongs to ``params`` (v^(Δ·s_i) = v_i)."""
        check(lib.phe_threshold_keyshare_check(params._ptr, self._ptr))

    def decrypt_share(self, params: ThresholdParams, ciphertext: Ciphertext,
                      seed: Optional[InsecureSeed] = None) -> "DecryptionShare":
        """This holder's decryption share of ``ciphertext``, with its proof."""
        if not isinstance(params, ThresholdParams) or not isinstance(ciphertext, Ciphertext):
            raise InvalidInputError("decrypt_share takes ThresholdParams and a Ciphertext")
        out = ffi.new("phe_threshold_decshare **")
        check(lib.phe_threshold_decshare_create(out, params._ptr, self._ptr, ciphertext._ptr,
                                                _rng(seed)))
        return DecryptionShare(ffi.gc(out[0], lib.phe_threshold_decshare_free))

    def decrypt_share_batch(self, params: ThresholdParams, ciphertexts: Ciphertexts,
                            ctx: Optional[Context] = None,
                            seed: Optional[InsecureSeed] = None) -> "DecryptionShareBatch":
        """This holder's decryption shares of a list of ciphertexts (or a
        :class:`CiphertextArray`) with ONE proof for the whole batch.
        ``ctx``: a thread pool for the exponentiations (default: this thread)."""
        if not isinstance(params, ThresholdParams):
            raise InvalidInputError("decrypt_share_batch takes ThresholdParams")
        cts = _ct_array(ciphertexts)
        out = ffi.new("phe_threshold_decshare_batch **")
        check(lib.phe_threshold_decshare_batch_create(
            out, params._ptr, self._ptr, ffi.cast("const phe_ciphertext *const *", cts._arr),
            len(cts), ctx._ptr if ctx is not None else ffi.NULL, _rng(seed)))
        return DecryptionShareBatch(ffi.gc(out[0], lib.phe_threshold_decshare_batch_free))

    def seal(self, passphrase: Passphrase, strength: str = "interactive",
             seed: Optional[InsecureSeed] = None) -> bytes:
        """Encrypt under a passphrase: Argon2id + XChaCha20-Poly1305 ("PHTF", v2)."""
        passphrase = _as_bytes(passphrase)
        st = _strength(strength)
        size = lib.phe_threshold_keyshare_sealed_size(self._ptr)
        buf = ffi.new("uint8_t[]", size)
        written = ffi.new("size_t *")
        check(lib.phe_threshold_keyshare_seal(self._ptr, passphrase, len(passphrase), st,
                                              _rng(seed), buf, size, written))
        return bytes(ffi.buffer(buf, written[0]))

    @classmethod
    def unseal(cls, data: bytes, passphrase: Passphrase) -> "KeyShare":
        data = _bytes_of(data, "data")
        passphrase = _as_bytes(passphrase)
        out = ffi.new("phe_threshold_keyshare **")
        check(lib.phe_threshold_keyshare_unseal(out, data, len(data), passphrase,
                                                len(passphrase)))
        return cls(ffi.gc(out[0], lib.phe_threshold_keyshare_free))

    def write_file(self, path: Union[str, "os.PathLike[str]"], passphrase: Passphrase,
                   strength: str = "interactive") -> None:
        """Seal into a new file (mode 0600; an existing file is never replaced)."""
        passphrase = _as_bytes(passphrase)
        check(lib.phe_threshold_keyshare_write_file(self._ptr, os.fsencode(path), passphrase,
                                                    len(passphrase), _strength(strength),
                                                    ffi.NULL))

    @classmethod
    def read_file(cls, path: Union[str, "os.PathLike[str]"], passphrase: Passphrase) -> "KeyShare":
        passphrase = _as_bytes(passphrase)
        out = ffi.new("phe_threshold_keyshare **")
        check(lib.phe_threshold_keyshare_read_file(out, os.fsencode(path), passphrase,
                                                   len(passphrase)))
        return cls(ffi.gc(out[0], lib.phe_threshold_keyshare_free))

    def __repr__(self) -> str:
        return f"<fedshare.phe.threshold.KeyShare holder {self.index}>"


class DecryptionShare:
    """c_i = c^(2Δ·s_i) mod n² with a Fiat–Shamir proof of correctness."""

    def __init__(self, _ptr: Any) -> None:
        self._ptr = _ptr

    @property
    def index(self) -> int:
        return int(lib.phe_threshold_decshare_index(self._ptr))

    @classmethod
    def from_bytes(cls, data: bytes) -> "DecryptionShare":
        """Decode ("PHTD", v1): structure only; :func:`verify` checks the proof."""
        data = _bytes_of(data, "data")
        out = ffi.new("phe_threshold_decshare **")
        check(lib.phe_threshold_decshare_decode(out, data, len(data)))
        return cls(ffi.gc(out[0], lib.phe_threshold_decshare_free))

    def to_bytes(self) -> bytes:
        return _encode(lib.phe_threshold_decshare_encoded_size,
                       lib.phe_threshold_decshare_encode, self._ptr)

    def verify(self, params: ThresholdParams, ciphertext: Ciphertext) -> None:
        verify(params, ciphertext, self)

    def __repr__(self) -> str:
        return f"<fedshare.phe.threshold.DecryptionShare holder {self.index}>"


class DecryptionShareBatch:
    """One holder's decryption shares of a batch of ciphertexts with one
    Fiat–Shamir proof for the whole batch (docs/phe-security.md, "Batch
    proofs")."""

    def __init__(self, _ptr: Any) -> None:
        self._ptr = _ptr

    @property
    def index(self) -> int:
        """The holder who made (and answers for) this batch."""
        return int(lib.phe_threshold_decshare_batch_index(self._ptr))

    def __len__(self) -> int:
        return int(lib.phe_threshold_decshare_batch_count(self._ptr))

    @classmethod
    def from_bytes(cls, data: bytes) -> "DecryptionShareBatch":
        """Decode ("PHTB", v1): structure only; :func:`verify_batch` checks the proof."""
        data = _bytes_of(data, "data")
        out = ffi.new("phe_threshold_decshare_batch **")
        check(lib.phe_threshold_decshare_batch_decode(out, data, len(data)))
        return cls(ffi.gc(out[0], lib.phe_threshold_decshare_batch_free))

    def to_bytes(self) -> bytes:
        return _encode(lib.phe_threshold_decshare_batch_encoded_size,
                       lib.phe_threshold_decshare_batch_encode, self._ptr)

    def verify(self, params: ThresholdParams, ciphertexts: Ciphertexts) -> None:
        verify_batch(params, ciphertexts, self)

    def __repr__(self) -> str:
        return (f"<fedshare.phe.threshold.DecryptionShareBatch holder {self.index}, "
                f"{len(self)} shares>")


def _ct_array(ciphertexts: Ciphertexts) -> CiphertextArray:
    if isinstance(ciphertexts, CiphertextArray):
        return ciphertexts
    cts = list(ciphertexts)
    if not cts or not all(isinstance(c, Ciphertext) for c in cts):
        raise InvalidInputError("ciphertexts must be a non-empty list of Ciphertext objects")
    return CiphertextArray.from_list(cts)


def _batch_list(batches: Iterable[DecryptionShareBatch]) -> List[DecryptionShareBatch]:
    blist = list(batches)
    if not all(isinstance(b, DecryptionShareBatch) for b in blist):
        raise InvalidInputError("batches must be DecryptionShareBatch objects")
    return blist


def deal(bits: int = 2048, threshold: int = 2, holders: int = 3,
         primes: Optional[Tuple[int, int]] = None,
         seed: Optional[InsecureSeed] = None) -> Tuple[ThresholdParams, List[KeyShare]]:
    """The dealer ceremony: returns the public parameters and one key share per
    holder (``shares[i]`` belongs to holder i+1).

    ``primes=(p, q)`` uses two given safe primes (pre-generated keys, tests)
    instead of searching for new ones; ``seed`` (from
    :func:`fedshare.phe.insecure_seed`) makes every random draw reproducible
    (tests only)."""
    for name, v in (("threshold", threshold), ("holders", holders)):
        if not isinstance(v, int) or isinstance(v, bool):
            raise InvalidInputError(f"{name} must be an int")
    if not 1 <= threshold <= holders <= MAX_HOLDERS:
        raise InvalidInputError(f"need 1 <= threshold <= holders <= {MAX_HOLDERS}")
    pp_out = ffi.new("phe_threshold_params **")
    ks_out = ffi.new("phe_threshold_keyshare *[]", holders)
    rng = _rng(seed)
    if primes is None:
        if bits not in KEY_SIZES:
            raise InvalidInputError(f"key size must be one of {KEY_SIZES}")
        check(lib.phe_threshold_deal(pp_out, ks_out, bits, threshold, holders, rng))
    else:
        p, q = primes
        if not all(isinstance(x, int) and x > 0 for x in (p, q)):
            raise InvalidInputError("primes must be two positive ints")
        pb = p.to_bytes((p.bit_length() + 7) // 8, "big")
        qb = q.to_bytes((q.bit_length() + 7) // 8, "big")
        check(lib.phe_threshold_deal_with_primes(pp_out, ks_out, pb, len(pb), qb, len(qb),
                                                 threshold, holders, rng))
    params = ThresholdParams(ffi.gc(pp_out[0], lib.phe_threshold_params_free))
    shares = [KeyShare(ffi.gc(ks_out[i], lib.phe_threshold_keyshare_free))
              for i in range(holders)]
    return params, shares


def safe_prime(bits: int, seed: Optional[InsecureSeed] = None) -> int:
    """A safe prime P = 2P'+1 of exactly ``bits`` bits (64 … 4096)."""
    if not isinstance(bits, int) or not 64 <= bits <= 4096:
        raise InvalidInputError("bits must be an int in 64 … 4096")
    size = (bits + 7) // 8
    buf = ffi.new("uint8_t[]", size)
    check(lib.phe_threshold_safe_prime(buf, size, bits, _rng(seed)))
    return int.from_bytes(ffi.buffer(buf, size), "big")


def verify(params: ThresholdParams, ciphertext: Ciphertext, share: DecryptionShare) -> None:
    """Raise :class:`fedshare.VerificationError` (or InvalidInputError for an
    index out of range) unless ``share`` is holder ``share.index``'s correct
    decryption share of ``ciphertext``."""
    if not isinstance(share, DecryptionShare) or not isinstance(ciphertext, Ciphertext) \
            or not isinstance(params, ThresholdParams):
        raise InvalidInputError("verify takes ThresholdParams, a Ciphertext and a DecryptionShare")
    check(lib.phe_threshold_decshare_verify(params._ptr, ciphertext._ptr, share._ptr))


def combine(params: ThresholdParams, ciphertext: Ciphertext,
            shares: Sequence[DecryptionShare]) -> int:
    """Verify every share and combine the first t of them into the plaintext,
    a Python int in (−n/2, n/2] (a negative x was encrypted as n − x)."""
    if not isinstance(params, ThresholdParams) or not isinstance(ciphertext, Ciphertext):
        raise InvalidInputError("combine takes ThresholdParams and a Ciphertext")
    shares = list(shares)
    if not all(isinstance(s, DecryptionShare) for s in shares):
        raise InvalidInputError("shares must be DecryptionShare objects")
    arr = ffi.new("phe_threshold_decshare *[]", [s._ptr for s in shares] or [ffi.NULL])
    pk = params.public_key
    size = pk.plaintext_size
    buf = ffi.new("uint8_t[]", size)
    check(lib.phe_threshold_combine_bytes(params._ptr, ciphertext._ptr,
                                          ffi.cast("const phe_threshold_decshare *const *", arr),
                                          len(shares), buf, size))
    return pk._decode_plain(bytes(ffi.buffer(buf, size)))


def verify_batch(params: ThresholdParams, ciphertexts: Ciphertexts,
                 batch: DecryptionShareBatch) -> None:
    """Raise :class:`fedshare.VerificationError` unless ``batch`` holds holder
    ``batch.index``'s correct shares of exactly these ciphertexts (same order)."""
    if not isinstance(params, ThresholdParams) or not isinstance(batch, DecryptionShareBatch):
        raise InvalidInputError("verify_batch takes ThresholdParams and a DecryptionShareBatch")
    cts = _ct_array(ciphertexts)
    check(lib.phe_threshold_verify_batch(params._ptr,
                                         ffi.cast("const phe_ciphertext *const *", cts._arr),
                                         len(cts), batch._ptr))


class BadHoldersError(VerificationError):
    """A batch did not verify; :attr:`holders` names every holder whose batch
    failed (``code`` is the first failure's libphe code)."""

    def __init__(self, code: int, holders: List[int]):
        super().__init__(f"{ffi.string(lib.phe_strerror(code)).decode()} (holders {holders})",
                         code=code, library="phe")
        self.holders = holders


def combine_batch(params: ThresholdParams, ciphertexts: Ciphertexts,
                  batches: Sequence[DecryptionShareBatch]) -> List[int]:
    """Verify every batch, then combine the first t into the plaintexts
    (Python ints in (−n/2, n/2]). A batch that fails raises
    :class:`BadHoldersError` naming every failing holder; nothing is combined."""
    if not isinstance(params, ThresholdParams):
        raise InvalidInputError("combine_batch takes ThresholdParams")
    cts = _ct_array(ciphertexts)
    blist = _batch_list(batches)
    arr = ffi.new("phe_threshold_decshare_batch *[]", [b._ptr for b in blist] or [ffi.NULL])
    pk = params.public_key
    size = pk.plaintext_size
    buf = ffi.new("uint8_t[]", size * len(cts))
    bad = ffi.new("uint64_t *")
    rc = lib.phe_threshold_combine_batch_bytes(
        params._ptr, ffi.cast("const phe_ciphertext *const *", cts._arr), len(cts),
        ffi.cast("const phe_threshold_decshare_batch *const *", arr), len(blist), buf, size,
        size, bad)
    if rc != 0 and bad[0]:
        raise BadHoldersError(rc, [i + 1 for i in range(MAX_HOLDERS) if bad[0] >> i & 1])
    check(rc)
    raw = bytes(ffi.buffer(buf, size * len(cts)))
    return [pk._decode_plain(raw[k * size:(k + 1) * size]) for k in range(len(cts))]


def locate_batch(params: ThresholdParams, ciphertexts: Ciphertexts, suspect: DecryptionShareBatch,
                 good: Sequence[DecryptionShareBatch]) -> List[int]:
    """Positions (0-based) of the wrong shares in ``suspect``, found exactly
    from t verified batches of other holders (``good``)."""
    if not isinstance(params, ThresholdParams) or not isinstance(suspect, DecryptionShareBatch):
        raise InvalidInputError("locate_batch takes ThresholdParams and a DecryptionShareBatch")
    cts = _ct_array(ciphertexts)
    glist = _batch_list(good)
    arr = ffi.new("phe_threshold_decshare_batch *[]", [b._ptr for b in glist] or [ffi.NULL])
    flags = ffi.new("uint8_t[]", len(cts))
    nbad = ffi.new("size_t *")
    check(lib.phe_threshold_locate_batch(
        params._ptr, ffi.cast("const phe_ciphertext *const *", cts._arr), len(cts), suspect._ptr,
        ffi.cast("const phe_threshold_decshare_batch *const *", arr), len(glist), flags, nbad))
    return [k for k in range(len(cts)) if flags[k]]


__all__ = [
    "DecryptionShareBatch",
    "BadHoldersError",
    "verify_batch",
    "combine_batch",
    "locate_batch",
    "MAX_BATCH",
    "ThresholdParams",
    "KeyShare",
    "DecryptionShare",
    "deal",
    "safe_prime",
    "verify",
    "combine",
    "MAX_HOLDERS",
    "KEY_SIZES",
    "ERR_PARAMS",
    "ERR_NOT_SAFE_PRIME",
    "ERR_INDEX_RANGE",
    "ERR_DUPLICATE_SHARE",
    "ERR_TOO_FEW_SHARES",
    "ERR_WRONG_KEY",
    "ERR_WRONG_CIPHERTEXT",
    "ERR_PROOF_INVALID",
    "ERR_SHARE_VALUE",
    "ERR_COMBINE_FAILED",
]
