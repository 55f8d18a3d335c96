"""Paillier encryption (libphe): keys, ciphertexts, homomorphic operators,
batch calls on numpy int64 arrays, serialization, python-paillier interop.

    >>> from fedshare import phe
    >>> sk = phe.generate_keypair(2048)
    >>> pk = sk.public_key
    >>> c = pk.encrypt(20) + pk.encrypt(22) * 1
    >>> sk.decrypt(c)
    42

Plaintexts are Python ints in (−n/2, n/2) (a negative x travels as n − x) or,
for the batch calls, numpy int64 arrays. Batch calls run on libphe's thread
pool with the GIL released (CFFI API mode releases it around every C call).

Thread safety: keys, ciphertexts and contexts may be shared between Python
threads. Batch calls on one :class:`Context` (including the shared
:func:`default_context`) from several threads at once are serialised by
libphe: a second call waits until the running one has finished, then uses
every thread of the pool itself, so each result is the same as if the calls
had run one after another. Setting :attr:`Context.threads` waits for a
running batch call. A :class:`Pool` or a :class:`CiphertextArray` being
written (the output of a running call) is used by one thread at a time.
Give each thread its own :class:`Context` when the calls should overlap.

Randomness comes from the operating system (libsodium). The ``seed``
arguments exist for tests and known-answer vectors: they make every random
draw reproducible, so anyone who knows the seed can recompute the keys or
open the ciphertexts made with it. A seed is therefore accepted only when it
comes from :func:`insecure_seed`; a plain ``bytes`` seed raises
:class:`fedshare.errors.InvalidInputError`, so it cannot slip into
production by accident.

Threshold keys and shares live in :mod:`fedshare.phe.threshold`.
"""
from __future__ import annotations

import json
import os
import threading
from typing import (TYPE_CHECKING, Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple,
                    Union)

from .._native import error_class, load, make_checker
from ..errors import InvalidInputError

if TYPE_CHECKING:  # numpy is imported where it is used, not at import time
    import numpy as np
    from numpy.typing import ArrayLike

_mod = load("phe")
ffi, lib = _mod.ffi, _mod.lib



def _strerror(rc: int) -> str:
    return str(ffi.string(lib.phe_strerror(rc)).decode())


# Each code's exception comes from libphe/codes.tsv (fedshare._native).
check = make_checker("phe", _strerror)

KEY_SIZES = (2048, 3072, 4096)
version = ffi.string(lib.phe_version_string()).decode()


def _int_to_bytes(x: int) -> bytes:
    return x.to_bytes(max(1, (x.bit_length() + 7) // 8), "big")


class InsecureSeed:
    """A seed that makes libphe's randomness reproducible (tests and known
    answers only: whoever knows it can recompute the keys, open the
    ciphertexts and forge the proofs made with it). Made by
    :func:`insecure_seed`; the only kind of ``seed`` the API accepts."""

    __slots__ = ("_seed",)

    def __init__(self, seed: bytes):
        self._seed = bytes(seed)

    def __repr__(self) -> str:
        return "<fedshare.phe.InsecureSeed (tests only)>"


def insecure_seed(seed: Union[bytes, str]) -> InsecureSeed:
    """Wrap ``seed`` for the ``seed=`` arguments: **insecure, for tests and
    known-answer vectors only** — every random draw made with it (keys,
    encryption randomness, proofs) is reproducible by anyone who has it."""
    if isinstance(seed, str):
        seed = seed.encode()
    if not isinstance(seed, (bytes, bytearray)):
        raise InvalidInputError("insecure_seed takes bytes or str")
    return InsecureSeed(seed)


def _rng(seed: Optional[InsecureSeed]) -> Any:
    """A seeded libphe generator (from insecure_seed(); tests only), or NULL."""
    if seed is None:
        return ffi.NULL
    if not isinstance(seed, InsecureSeed):
        raise InvalidInputError(
            "seed= makes the randomness reproducible and is for tests only: "
            "pass fedshare.phe.insecure_seed(...) explicitly, or no seed in production")
    out = ffi.new("phe_rng **")
    check(lib.phe_rng_new_seeded(out, seed._seed, len(seed._seed)))
    return ffi.gc(out[0], lib.phe_rng_free)


class Context:
    """A thread pool for batch calls (``threads=0``: one per CPU).

    Any number of Python threads may pass the same context to batch calls:
    the calls run one at a time (each on the whole pool), and the others
    wait with the GIL released. Setting :attr:`threads` waits for the running
    call. The context is freed when the last reference goes.
    """

    def __init__(self, threads: int = 0):
        if not isinstance(threads, int) or threads < 0:
            raise InvalidInputError("threads must be a non-negative int")
        out = ffi.new("phe_ctx **")
        check(lib.phe_ctx_new(out, threads))
        self._ptr = ffi.gc(out[0], lib.phe_ctx_free)

    @property
    def threads(self) -> int:
        return int(lib.phe_ctx_threads(self._ptr))

    @threads.setter
    def threads(self, n: int) -> None:
        check(lib.phe_ctx_set_threads(self._ptr, n))


_default_ctx: Optional[Context] = None
_default_ctx_lock = threading.Lock()


def default_context() -> Context:
    """The shared context (all cores) used when a batch call is given none.

    One process-wide context, created on first use (under a lock, so threads
    racing here get the same one). Batch calls from several threads on it are
    serialised by libphe (see the module docstring).
    """
    global _default_ctx
    ctx = _default_ctx
    if ctx is None:
        with _default_ctx_lock:
            if _default_ctx is None:
                _default_ctx = Context(0)
            ctx = _default_ctx
    return ctx


def _new_ct_ptr() -> Any:
    out = ffi.new("phe_ciphertext **")
    check(lib.phe_ciphertext_new(out))
    return ffi.gc(out[0], lib.phe_ciphertext_free)


class PublicKey:
    """A Paillier public key: n, n², the DJN base h_s (and its table)."""

    def __init__(self, _ptr: Any, _owner: Any = None) -> None:
        self._ptr = _ptr
        self._owner = _owner  # keeps a borrowed key's secret key alive

    # -- construction ----------------------------------------------------
    @classmethod
    def from_bytes(cls, data: bytes) -> "PublicKey":
        """Decode and validate the canonical encoding ("PHEP", v1)."""
        out = ffi.new("phe_pubkey **")
        check(lib.phe_pubkey_decode(out, data, len(data)))
        return cls(ffi.gc(out[0], lib.phe_pubkey_free))

    @classmethod
    def from_n(cls, n: int, seed: Optional[InsecureSeed] = None) -> "PublicKey":
        """A key from its modulus alone (validated); a fresh DJN base is drawn."""
        if not isinstance(n, int) or n <= 0:
            raise InvalidInputError("n must be a positive int")
        nb = _int_to_bytes(n)
        out = ffi.new("phe_pubkey **")
        rc = lib.phe_pubkey_from_modulus(out, nb, len(nb), _rng(seed))
        if rc == lib.PHE_ERR_KEY_SIZE:  # say what was given, beside what is accepted
            raise error_class(rc)(f"phe: {_strerror(rc)} ({rc}): this modulus has "
                                  f"{n.bit_length()} bits", code=rc, library="phe")
        check(rc)
        return cls(ffi.gc(out[0], lib.phe_pubkey_free))

    # -- properties ------------------------------------------------------
    @property
    def bits(self) -> int:
        return int(lib.phe_pubkey_bits(self._ptr))

    @property
    def n(self) -> int:
        size = lib.phe_plaintext_size(self._ptr)
        buf = ffi.new("uint8_t[]", size)
        check(lib.phe_pubkey_modulus(self._ptr, buf, size))
        return int.from_bytes(ffi.buffer(buf, size), "big")

    @property
    def nsquare(self) -> int:
        return self.n ** 2

    @property
    def key_id(self) -> bytes:
        buf = ffi.new("uint8_t[32]")
        check(lib.phe_pubkey_id(self._ptr, buf))
        return bytes(ffi.buffer(buf, 32))

    @property
    def plaintext_size(self) -> int:
        return int(lib.phe_plaintext_size(self._ptr))

    @property
    def ciphertext_size(self) -> int:
        return int(lib.phe_ciphertext_size(self._ptr))

    def to_bytes(self) -> bytes:
        size = lib.phe_pubkey_encoded_size(self._ptr)
        buf = ffi.new("uint8_t[]", size)
        written = ffi.new("size_t *")
        check(lib.phe_pubkey_encode(self._ptr, buf, size, written))
        return bytes(ffi.buffer(buf, written[0]))

    def validate(self) -> None:
        check(lib.phe_pubkey_validate(self._ptr))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicKey) and bool(lib.phe_pubkey_equal(self._ptr, other._ptr))

    def __hash__(self) -> int:
        return hash(self.key_id)

    def __repr__(self) -> str:
        return f"<fedshare.phe.PublicKey {self.bits} bits id={self.key_id[:8].hex()}>"

    # -- plaintext conversion ----------------------------------------------
    def _encode_plain(self, m: int) -> bytes:
        if not isinstance(m, int) or isinstance(m, bool):
            raise InvalidInputError(f"plaintext must be an int, not {type(m).__name__}")
        n = self.n
        if not -(n // 2) <= m <= n // 2:
            raise InvalidInputError("plaintext out of range (|m| must be at most n/2)")
        return (m % n).to_bytes(self.plaintext_size, "big")

    def _decode_plain(self, raw: bytes) -> int:
        n = self.n
        m = int.from_bytes(raw, "big")
        return m - n if m > n // 2 else m

    # -- encryption ------------------------------------------------------
    def encrypt(self, m: int, mode: str = "djn",
                seed: Optional[InsecureSeed] = None) -> "Ciphertext":
        """Encrypt a Python int (mode 'djn', the default, or 'classic')."""
        modes = {"djn": lib.PHE_ENCRYPT_DJN, "classic": lib.PHE_ENCRYPT_CLASSIC}
        if mode not in modes:
            raise InvalidInputError(f"mode must be one of {sorted(modes)}")
        ct = _new_ct_ptr()
        rng = _rng(seed)
        if isinstance(m, int) and not isinstance(m, bool) and -(2**63) <= m < 2**63:
            check(lib.phe_encrypt_i64_mode(self._ptr, modes[mode], ct, m, rng))
        else:
            b = self._encode_plain(m)
            check(lib.phe_encrypt_bytes_mode(self._ptr, modes[mode], ct, b, len(b), rng))
        return Ciphertext(self, ct)

    def encrypt_array(self, values: "ArrayLike", ctx: Optional[Context] = None,
                      seed: Optional[InsecureSeed] = None) -> "CiphertextArray":
        """Encrypt a numpy int64 array (any shape, flattened) on the thread pool."""
        import numpy as np

        arr = np.ascontiguousarray(values, dtype=np.int64).reshape(-1)
        cts = CiphertextArray._alloc(self, arr.size)
        ptr = ffi.cast("const int64_t *", ffi.from_buffer(arr))
        ctx = ctx or default_context()
        check(lib.phe_encrypt_i64_batch(ctx._ptr, self._ptr, cts._arr, ptr, arr.size, _rng(seed)))
        return cts

    def encrypt_packed(self, packed: "ArrayLike", plaintext_bytes: Optional[int] = None,
                       ctx: Optional[Context] = None,
                       seed: Optional[InsecureSeed] = None) -> "CiphertextArray":
        """Encrypt big-endian plaintexts laid end to end (for example the
        ``uint8`` rows of ``fedshare.fedavg.Codec.pack``), one per
        ``plaintext_bytes`` (default: the row length of a 2-D array).
        The layout must fit below n whatever the values:
        ``8 * plaintext_bytes < bits(n)``, else ``InvalidInputError``."""
        import numpy as np

        if isinstance(packed, (bytes, bytearray, memoryview)):
            buf = np.frombuffer(packed, dtype=np.uint8)
        else:
            arr = np.asarray(packed)
            if arr.dtype != np.uint8:
                raise InvalidInputError("packed plaintexts must be uint8")
            if plaintext_bytes is None and arr.ndim == 2:
                plaintext_bytes = arr.shape[1]
            buf = np.ascontiguousarray(arr).reshape(-1)
        if (not isinstance(plaintext_bytes, int) or plaintext_bytes <= 0
                or buf.size % plaintext_bytes):
            raise InvalidInputError("the buffer is not a whole number of plaintexts")
        if 8 * plaintext_bytes >= self.bits:
            raise InvalidInputError(
                f"plaintext_bytes={plaintext_bytes} is too wide for a {self.bits}-bit key: "
                f"8 * plaintext_bytes must be below {self.bits} (rows could reach n)")
        count = buf.size // plaintext_bytes
        cts = CiphertextArray._alloc(self, count)
        ctx = ctx or default_context()
        check(lib.phe_encrypt_bytes_batch(ctx._ptr, self._ptr, cts._arr,
                                          ffi.cast("const uint8_t *", ffi.from_buffer(buf)),
                                          plaintext_bytes, plaintext_bytes, count, _rng(seed)))
        return cts

    def pool(self, capacity: int) -> "Pool":
        return Pool(self, capacity)

    # -- python-paillier interop -------------------------------------------
    def to_python_paillier(self) -> Any:
        """The same key as a ``phe.PaillierPublicKey`` (python-paillier)."""
        import phe as _pp

        return _pp.PaillierPublicKey(self.n)

    @classmethod
    def from_python_paillier(cls, pp_key: Any) -> "PublicKey":
        return cls.from_n(int(pp_key.n))

    def to_jwk(self) -> Dict[str, Any]:
        """python-paillier's serialisation form: ``{"n": <int>}`` (plus labels)."""
        return {"alg": "PAI-GN1", "kty": "DAJ", "n": self.n}


class SecretKey:
    """A Paillier secret key (p, q and CRT constants); holds its public key."""

    def __init__(self, _ptr: Any) -> None:
        self._ptr = _ptr
        self.public_key = PublicKey(lib.phe_seckey_pubkey(_ptr), _owner=self)

    @classmethod
    def generate(cls, bits: int = 2048, seed: Optional[InsecureSeed] = None) -> "SecretKey":
        if bits not in KEY_SIZES:
            raise InvalidInputError(f"key size must be one of {KEY_SIZES}")
        out = ffi.new("phe_seckey **")
        check(lib.phe_key_generate(out, bits, _rng(seed)))
        return cls(ffi.gc(out[0], lib.phe_seckey_free))

    @classmethod
    def from_bytes(cls, data: bytes) -> "SecretKey":
        out = ffi.new("phe_seckey **")
        check(lib.phe_seckey_decode(out, data, len(data)))
        return cls(ffi.gc(out[0], lib.phe_seckey_free))

    def to_bytes(self) -> bytes:
        """The canonical encoding ("PHES", v1). Secret: prefer :meth:`seal`."""
        size = lib.phe_seckey_encoded_size(self._ptr)
        buf = ffi.new("uint8_t[]", size)
        written = ffi.new("size_t *")
        check(lib.phe_seckey_encode(self._ptr, buf, size, written))
        data = bytes(ffi.buffer(buf, written[0]))
        ffi.memmove(buf, b"\0" * size, size)
        return data

    _STRENGTH = {
        "interactive": "PHE_KDF_INTERACTIVE",
        "moderate": "PHE_KDF_MODERATE",
        "sensitive": "PHE_KDF_SENSITIVE",
        "test-only-min": "PHE_KDF_TEST_ONLY_MIN",
    }

    @classmethod
    def _strength(cls, s: str) -> int:
        if s not in cls._STRENGTH:
            raise InvalidInputError(f"strength must be one of {sorted(cls._STRENGTH)}")
        return int(getattr(lib, cls._STRENGTH[s]))

    def seal(self, passphrase: bytes, strength: str = "interactive") -> bytes:
        """Encrypt under a passphrase (Argon2id + XChaCha20-Poly1305, "PHEF" v2).
        ``strength``: "interactive" (64 MiB, 2 passes), "moderate" (256 MiB,
        3), "sensitive" (256 MiB, 4): a reader refuses files asking for more
        than 256 MiB or 4 passes, before allocating anything."""
        passphrase = _as_bytes(passphrase)
        written = ffi.new("size_t *")
        st = self._strength(strength)
        check(lib.phe_seckey_seal(self._ptr, passphrase, len(passphrase), st, ffi.NULL, 0, written))
        buf = ffi.new("uint8_t[]", written[0])
        check(lib.phe_seckey_seal(self._ptr, passphrase, len(passphrase), st, buf, written[0],
                                  written))
        return bytes(ffi.buffer(buf, written[0]))

    @classmethod
    def unseal(cls, data: bytes, passphrase: bytes) -> "SecretKey":
        passphrase = _as_bytes(passphrase)
        out = ffi.new("phe_seckey **")
        check(lib.phe_seckey_unseal(out, data, len(data), passphrase, len(passphrase)))
        return cls(ffi.gc(out[0], lib.phe_seckey_free))

    def write_file(self, path: Union[str, "os.PathLike[str]"], passphrase: bytes,
                   strength: str = "interactive") -> None:
        passphrase = _as_bytes(passphrase)
        check(lib.phe_seckey_write_file(self._ptr, os.fsencode(path), passphrase,
                                        len(passphrase), self._strength(strength)))

    @classmethod
    def read_file(cls, path: Union[str, "os.PathLike[str]"], passphrase: bytes) -> "SecretKey":
        passphrase = _as_bytes(passphrase)
        out = ffi.new("phe_seckey **")
        check(lib.phe_seckey_read_file(out, os.fsencode(path), passphrase, len(passphrase)))
        return cls(ffi.gc(out[0], lib.phe_seckey_free))

    def validate(self) -> None:
        check(lib.phe_seckey_validate(self._ptr))

    def encrypt(self, m: int, seed: Optional[InsecureSeed] = None) -> "Ciphertext":
        """CRT encryption with the secret key (same distribution, faster)."""
        pk = self.public_key
        ct = _new_ct_ptr()
        rng = _rng(seed)
        if isinstance(m, int) and not isinstance(m, bool) and -(2**63) <= m < 2**63:
            check(lib.phe_seckey_encrypt_i64(self._ptr, ct, m, rng))
        else:
            b = pk._encode_plain(m)
            check(lib.phe_seckey_encrypt_bytes(self._ptr, ct, b, len(b), rng))
        return Ciphertext(pk, ct)

    def decrypt(self, c: "Ciphertext") -> int:
        """Decrypt to a Python int in (−n/2, n/2]."""
        if not isinstance(c, Ciphertext):
            raise InvalidInputError("decrypt takes a fedshare.phe.Ciphertext")
        size = self.public_key.plaintext_size
        buf = ffi.new("uint8_t[]", size)
        check(lib.phe_decrypt_bytes(self._ptr, c._ptr, buf, size))
        return self.public_key._decode_plain(bytes(ffi.buffer(buf, size)))

    def decrypt_array(self, cts: "CiphertextArray",
                      ctx: Optional[Context] = None) -> "np.ndarray":
        """Decrypt a :class:`CiphertextArray` into a numpy int64 array."""
        import numpy as np

        if not isinstance(cts, CiphertextArray):
            raise InvalidInputError("decrypt_array takes a CiphertextArray")
        out = np.empty(len(cts), dtype=np.int64)
        ctx = ctx or default_context()
        check(lib.phe_decrypt_i64_batch(ctx._ptr, self._ptr, cts._arr,
                                        ffi.cast("int64_t *", ffi.from_buffer(out)), len(cts)))
        return out

    def decrypt_packed(self, cts: "CiphertextArray", plaintext_bytes: int,
                       ctx: Optional[Context] = None) -> "np.ndarray":
        """Decrypt into a ``uint8`` array of shape (len(cts), plaintext_bytes):
        each row one big-endian plaintext m ∈ [0, n), as libfedavg unpacks them."""
        import numpy as np

        if not isinstance(cts, CiphertextArray):
            raise InvalidInputError("decrypt_packed takes a CiphertextArray")
        if not isinstance(plaintext_bytes, int) or plaintext_bytes <= 0:
            raise InvalidInputError("plaintext_bytes must be a positive int")
        # libphe writes whole plaintexts (phe_plaintext_size() bytes at least,
        # so its errors never depend on the values); narrower rows are cut
        # here, and a value that does not fit (an overflowed packed sum) is an
        # error rather than silently truncated.
        width = max(plaintext_bytes, self.public_key.plaintext_size)
        full = np.empty((len(cts), width), dtype=np.uint8)
        ctx = ctx or default_context()
        check(lib.phe_decrypt_bytes_batch(ctx._ptr, self._ptr, cts._arr,
                                          ffi.cast("uint8_t *", ffi.from_buffer(full)),
                                          width, width, len(cts)))
        cut = width - plaintext_bytes
        if cut and full[:, :cut].any():
            raise InvalidInputError(
                f"a decrypted plaintext does not fit in plaintext_bytes={plaintext_bytes} "
                "(the packed values overflowed their layout)")
        return np.ascontiguousarray(full[:, cut:])

    def to_python_paillier(self) -> Any:
        """The same key pair as python-paillier objects (public, private)."""
        import phe as _pp

        p, q = self._primes()
        pub = _pp.PaillierPublicKey(p * q)
        return pub, _pp.PaillierPrivateKey(pub, p, q)

    def _primes(self) -> Tuple[int, int]:
        data = self.to_bytes()
        # "PHES" 1 | u32 len | p | u32 len | q | …  (docs/formats/phe.md)
        off = 5
        vals = []
        for _ in range(2):
            ln = int.from_bytes(data[off:off + 4], "big")
            vals.append(int.from_bytes(data[off + 4:off + 4 + ln], "big"))
            off += 4 + ln
        return vals[0], vals[1]

    def __repr__(self) -> str:
        return f"<fedshare.phe.SecretKey {self.public_key.bits} bits>"


def _as_bytes(x: Any) -> bytes:
    if isinstance(x, str):
        return x.encode()
    if isinstance(x, (bytes, bytearray, memoryview)):
        return bytes(x)
    raise InvalidInputError("passphrase must be bytes or str")


def generate_keypair(bits: int = 2048, seed: Optional[InsecureSeed] = None) -> SecretKey:
    """A new secret key (its ``public_key`` attribute is the public key)."""
    return SecretKey.generate(bits, seed)


class Ciphertext:
    """An encrypted integer under ``public_key``. Operators: ``+`` and ``-``
    with ciphertexts or ints, ``*`` with ints, unary ``-``."""

    __slots__ = ("public_key", "_ptr")

    def __init__(self, public_key: PublicKey, _ptr: Any) -> None:
        self.public_key = public_key
        self._ptr = _ptr

    @classmethod
    def from_bytes(cls, public_key: PublicKey, data: bytes) -> "Ciphertext":
        ct = _new_ct_ptr()
        check(lib.phe_ciphertext_decode(public_key._ptr, ct, data, len(data)))
        return cls(public_key, ct)

    @classmethod
    def from_int(cls, public_key: PublicKey, c: int) -> "Ciphertext":
        """From the raw value c (python-paillier's ``ciphertext()``), checked."""
        if not isinstance(c, int) or c <= 0:
            raise InvalidInputError("ciphertext value must be a positive int")
        b = _int_to_bytes(c)
        ct = _new_ct_ptr()
        check(lib.phe_ciphertext_from_value(public_key._ptr, ct, b, len(b)))
        return cls(public_key, ct)

    def to_bytes(self) -> bytes:
        size = lib.phe_ciphertext_encoded_size(self._ptr)
        buf = ffi.new("uint8_t[]", size)
        written = ffi.new("size_t *")
        check(lib.phe_ciphertext_encode(self._ptr, buf, size, written))
        return bytes(ffi.buffer(buf, written[0]))

    def to_int(self) -> int:
        size = lib.phe_ciphertext_value_size(self.public_key._ptr)
        buf = ffi.new("uint8_t[]", size)
        check(lib.phe_ciphertext_value(self._ptr, buf, size))
        return int.from_bytes(ffi.buffer(buf, size), "big")

    def _new(self, ptr: Any) -> "Ciphertext":
        return Ciphertext(self.public_key, ptr)

    def __add__(self, other: object) -> "Ciphertext":
        out = _new_ct_ptr()
        pk = self.public_key
        if isinstance(other, Ciphertext):
            check(lib.phe_add(pk._ptr, out, self._ptr, other._ptr))
        elif isinstance(other, int) and not isinstance(other, bool):
            if -(2**63) <= other < 2**63:
                check(lib.phe_add_i64(pk._ptr, out, self._ptr, other))
            else:
                b = pk._encode_plain(other)
                check(lib.phe_add_bytes(pk._ptr, out, self._ptr, b, len(b)))
        else:
            return NotImplemented
        return self._new(out)

    __radd__ = __add__

    def __neg__(self) -> "Ciphertext":
        out = _new_ct_ptr()
        check(lib.phe_negate(self.public_key._ptr, out, self._ptr))
        return self._new(out)

    def __sub__(self, other: object) -> "Ciphertext":
        if isinstance(other, Ciphertext):
            return self + (-other)
        if isinstance(other, int) and not isinstance(other, bool):
            return self + (-other)
        return NotImplemented

    def __rsub__(self, other: object) -> "Ciphertext":
        if isinstance(other, int) and not isinstance(other, bool):
            return (-self) + other
        return NotImplemented

    def __mul__(self, k: object) -> "Ciphertext":
        if not isinstance(k, int) or isinstance(k, bool):
            return NotImplemented
        out = _new_ct_ptr()
        pk = self.public_key
        if -(2**63) <= k < 2**63:
            check(lib.phe_mul_i64(pk._ptr, out, self._ptr, k))
        else:
            b = pk._encode_plain(k)  # k mod n: a negative k is n − |k|
            check(lib.phe_mul_bytes(pk._ptr, out, self._ptr, b, len(b)))
        return self._new(out)

    __rmul__ = __mul__

    def rerandomize(self, seed: Optional[InsecureSeed] = None) -> "Ciphertext":
        out = _new_ct_ptr()
        check(lib.phe_rerandomize(self.public_key._ptr, out, self._ptr, _rng(seed)))
        return self._new(out)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Ciphertext)
                and bool(lib.phe_ciphertext_equal(self._ptr, other._ptr)))

    def __hash__(self) -> int:
        return hash(self.to_bytes())

    def __repr__(self) -> str:
        return f"<fedshare.phe.Ciphertext under {self.public_key.key_id[:8].hex()}>"

    # python-paillier interop
    def to_python_paillier(self, pp_public_key: Any = None) -> Any:
        """An ``EncryptedNumber`` of python-paillier (exponent 0)."""
        import phe as _pp

        pp_public_key = pp_public_key or self.public_key.to_python_paillier()
        return _pp.EncryptedNumber(pp_public_key, self.to_int(), 0)

    @classmethod
    def from_python_paillier(cls, public_key: PublicKey, enc: Any) -> "Ciphertext":
        if getattr(enc, "exponent", 0) != 0:
            raise InvalidInputError("only python-paillier integers (exponent 0) are supported")
        if int(enc.public_key.n) != public_key.n:
            raise InvalidInputError("python-paillier number is under another key")
        return cls.from_int(public_key, enc.ciphertext(be_secure=False))


class CiphertextArray:
    """A flat array of ciphertexts under one key, for the batch calls."""

    def __init__(self, public_key: PublicKey, handles: List[Any]) -> None:
        self.public_key = public_key
        self._handles = handles
        self._arr = ffi.new("phe_ciphertext *[]", handles)

    @classmethod
    def _alloc(cls, public_key: PublicKey, count: int) -> "CiphertextArray":
        return cls(public_key, [_new_ct_ptr() for _ in range(count)])

    @classmethod
    def from_list(cls, cts: Sequence[Ciphertext]) -> "CiphertextArray":
        if not cts:
            raise InvalidInputError("empty list")
        pk = cts[0].public_key
        return cls(pk, [c._ptr for c in cts])

    def __len__(self) -> int:
        return len(self._handles)

    def __getitem__(self, i: int) -> Ciphertext:
        return Ciphertext(self.public_key, self._handles[i])

    def __iter__(self) -> Iterator[Ciphertext]:
        for h in self._handles:
            yield Ciphertext(self.public_key, h)

    def _check_other(self, other: "CiphertextArray") -> None:
        if not isinstance(other, CiphertextArray) or len(other) != len(self):
            raise InvalidInputError("arrays must be CiphertextArrays of the same length")

    def add(self, other: "CiphertextArray", ctx: Optional[Context] = None) -> "CiphertextArray":
        self._check_other(other)
        out = CiphertextArray._alloc(self.public_key, len(self))
        ctx = ctx or default_context()
        check(lib.phe_add_batch(ctx._ptr, self.public_key._ptr, out._arr, self._arr, other._arr,
                                len(self)))
        return out

    __add__ = add

    def mul(self, k: "ArrayLike", ctx: Optional[Context] = None) -> "CiphertextArray":
        """Element-wise scalar multiply by a numpy int64 array (or one int)."""
        import numpy as np

        ks = np.ascontiguousarray(np.broadcast_to(np.asarray(k, dtype=np.int64), (len(self),)))
        out = CiphertextArray._alloc(self.public_key, len(self))
        ctx = ctx or default_context()
        check(lib.phe_mul_i64_batch(ctx._ptr, self.public_key._ptr, out._arr, self._arr,
                                    ffi.cast("const int64_t *", ffi.from_buffer(ks)), len(self)))
        return out

    __mul__ = mul

    def sum(self, ctx: Optional[Context] = None) -> Ciphertext:
        out = _new_ct_ptr()
        ctx = ctx or default_context()
        check(lib.phe_sum(ctx._ptr, self.public_key._ptr, out, self._arr, len(self)))
        return Ciphertext(self.public_key, out)

    def to_bytes_list(self) -> List[bytes]:
        return [c.to_bytes() for c in self]


class Pool:
    """Precomputed DJN randomness: an encryption then costs one multiplication."""

    def __init__(self, public_key: PublicKey, capacity: int):
        out = ffi.new("phe_pool **")
        check(lib.phe_pool_new(out, public_key._ptr, capacity))
        self.public_key = public_key
        self._ptr = ffi.gc(out[0], lib.phe_pool_free)

    def fill(self, ctx: Optional[Context] = None, seed: Optional[InsecureSeed] = None) -> None:
        ctx = ctx or default_context()
        check(lib.phe_pool_fill(self._ptr, ctx._ptr, _rng(seed)))

    @property
    def available(self) -> int:
        return int(lib.phe_pool_available(self._ptr))

    def encrypt(self, m: int) -> Ciphertext:
        ct = _new_ct_ptr()
        if isinstance(m, int) and not isinstance(m, bool) and -(2**63) <= m < 2**63:
            check(lib.phe_pool_encrypt_i64(self._ptr, ct, m))
        else:
            b = self.public_key._encode_plain(m)
            check(lib.phe_pool_encrypt_bytes(self._ptr, ct, b, len(b)))
        return Ciphertext(self.public_key, ct)


# -- python-paillier JSON form ---------------------------------------------
def to_python_paillier_json(public_key: PublicKey, cts: Iterable[Ciphertext]) -> str:
    """The JSON python-paillier's documentation uses to ship numbers:
    ``{"public_key": {"n": <int>}, "values": [["<c decimal>", <exponent>], …]}``."""
    values = []
    for c in cts:
        if c.public_key != public_key and c.public_key.n != public_key.n:
            raise InvalidInputError("ciphertext under another key")
        values.append([str(c.to_int()), 0])
    return json.dumps({"public_key": {"n": public_key.n}, "values": values})


def from_python_paillier_json(data: Union[str, bytes], public_key: Optional[PublicKey] = None
                              ) -> Tuple[PublicKey, List[Ciphertext]]:
    """Parse python-paillier's JSON form: returns ``(public_key, [Ciphertext, …])``.
    With ``public_key`` given, its n must match (and its DJN base is kept)."""
    try:
        obj = json.loads(data)
        n = int(obj["public_key"]["n"])
        values = obj["values"]
        pairs = [(int(v[0]), int(v[1])) for v in values]
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise InvalidInputError(f"not python-paillier JSON: {exc}") from exc
    if public_key is None:
        public_key = PublicKey.from_n(n)
    elif public_key.n != n:
        raise InvalidInputError("JSON key does not match the given public key")
    out = []
    for c, e in pairs:
        if e != 0:
            raise InvalidInputError("only python-paillier integers (exponent 0) are supported")
        out.append(Ciphertext.from_int(public_key, c))
    return public_key, out


__all__ = [
    "Context",
    "PublicKey",
    "SecretKey",
    "Ciphertext",
    "CiphertextArray",
    "Pool",
    "generate_keypair",
    "default_context",
    "to_python_paillier_json",
    "from_python_paillier_json",
    "KEY_SIZES",
    "check",
    "ffi",
    "lib",
]
