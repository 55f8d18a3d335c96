"""fedshare.fedavg — the arithmetic of secure federated averaging.

Arrays cross into C without copies: a C-contiguous ``float32`` numpy array (or
a CPU ``torch.Tensor``, through ``Tensor.numpy()``, which shares memory) is
handed to libfedavg as is; results are written into a caller-provided ``out=``
array or a freshly allocated numpy array. Anything else (float64, strided) is
converted once with :func:`numpy.ascontiguousarray`.

* :class:`Codec` — fixed-point quantization and BatchCrypt-style packing of an
  update into big plaintexts for Paillier (``fedshare.phe``); unpacking of the
  decrypted sum into the weighted mean, within :attr:`Codec.error_bound`.
* :func:`average`, :func:`median`, :func:`trimmed_mean` — plain aggregation.
* :class:`AnomalyDetector`, :func:`norm`, :func:`cosine` — the k-sigma test.
* :func:`stop_decision` — the stop rule.
* :func:`delta_encode`, :func:`delta_apply`, :func:`model_digest` — exact deltas.
* :func:`param_id` — SHA-256(model ID ‖ round ‖ aggregator signature).

Formats: docs/formats/fedavg.md; bound and parameter choice: docs/fedavg-codec.md.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence, Union

from numpy.typing import ArrayLike

import numpy as np

from . import errors
from ._native import code_value, load, make_checker

_m = load("fedavg")
ffi, lib = _m.ffi, _m.lib

# Each code's exception comes from libfedavg/codes.tsv (fedshare._native).
check = make_checker("fedavg", lambda rc: ffi.string(lib.fedavg_strerror(rc)).decode())

E_NONFINITE = code_value("FEDAVG_E_NONFINITE")
E_PARAMS = code_value("FEDAVG_E_PARAMS")
E_OVERFLOW = code_value("FEDAVG_E_OVERFLOW")
E_FORMAT = code_value("FEDAVG_E_FORMAT")
E_MISMATCH = code_value("FEDAVG_E_MISMATCH")

__all__ = [
    "Codec",
    "average",
    "median",
    "trimmed_mean",
    "norm",
    "cosine",
    "AnomalyDetector",
    "RoundJudge",
    "RULES",
    "stop_decision",
    "delta_encode",
    "delta_apply",
    "model_digest",
    "param_id",
    "param_id_input",
    "quantize_weights",
    "weights_error_bound",
    "version",
]


def version() -> str:
    """The C library's version string."""
    return str(ffi.string(lib.fedavg_version_string()).decode())


# --- array plumbing ---------------------------------------------------------


#: the participants' updates: a 2-D array (one row each) or a sequence of arrays
Updates = Union[np.ndarray, Iterable[ArrayLike]]


def _f32(x: ArrayLike) -> np.ndarray:
    """A 1-D C-contiguous float32 view of x (no copy when it already is one)."""
    if not isinstance(x, np.ndarray) and hasattr(x, "detach") and hasattr(x, "numpy"):
        x = x.detach().cpu().numpy()  # torch: shares memory for CPU tensors
    a = np.ascontiguousarray(x, dtype=np.float32)
    return a.reshape(-1)


def _f64(x: ArrayLike) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float64).reshape(-1)


def _u8(x: ArrayLike) -> np.ndarray:
    if isinstance(x, (bytes, bytearray, memoryview)):
        return np.frombuffer(x, dtype=np.uint8)
    return np.ascontiguousarray(x, dtype=np.uint8).reshape(-1)


def _ptr(kind: str, a: np.ndarray) -> Any:
    return ffi.cast(kind, ffi.from_buffer(a))


def _wptr(kind: str, a: np.ndarray) -> Any:
    return ffi.cast(kind, ffi.from_buffer(a, require_writable=True))


def _out_f32(out: Any, n: int) -> np.ndarray:
    if out is None:
        return np.empty(n, dtype=np.float32)
    if not isinstance(out, np.ndarray) and hasattr(out, "numpy"):
        out = out.detach().numpy()
    if out.dtype != np.float32 or not out.flags.c_contiguous or out.size != n:
        raise errors.InvalidInputError(f"out must be a C-contiguous float32 array of {n} values")
    flat: np.ndarray = out.reshape(-1)
    return flat


def _rows(updates: Updates) -> tuple[list[np.ndarray], int]:
    if isinstance(updates, np.ndarray) and updates.ndim == 2:
        rows = [_f32(r) for r in updates]
    else:
        rows = [_f32(u) for u in updates]
    if not rows:
        raise errors.InvalidInputError("no updates")
    n = rows[0].size
    if any(r.size != n for r in rows):
        raise errors.InvalidInputError("updates differ in length")
    return rows, n


def _row_ptrs(rows: Sequence[np.ndarray]) -> tuple[Any, list[Any]]:
    bufs = [ffi.from_buffer(r) for r in rows]
    arr = ffi.new("float *[]", [ffi.cast("float *", b) for b in bufs])
    return arr, bufs  # keep bufs alive while arr is used


# --- codec -------------------------------------------------------------------

#: precision and clip of :meth:`Codec.for_participants` (the default of new tasks)
DEFAULT_PRECISION = 1e-5
DEFAULT_CLIP = 1.0


def _explain(cfg: Any) -> str:
    """The numbers behind a refused parameter request (same rules as the C code)."""
    import math

    prec, clip = cfg.precision, cfg.clip
    if not (math.isfinite(prec) and prec > 0 and math.isfinite(clip) and clip > 0):
        return "precision and clip must be finite and positive"
    f = 0
    while 2.0 ** -(f + 1) > prec and f <= 126:
        f += 1
    q = round(clip * 2.0**f) if f <= 126 else math.inf
    if q > 2**30:
        return (f"precision {prec:g} needs f = {f} fractional bits, so Q = clip*2^f = {q:g} "
                f"> 2^30: ask for precision >= {clip * 2.0**-31:g} or a smaller clip")
    need = (2 * int(q) * max(cfg.max_weight, 1)).bit_length()
    bits = max(8, -(-need // 8) * 8)
    if cfg.flags & lib.FEDAVG_CODEC_ALIGNED_SLOTS:
        bits = next((b for b in (16, 32, 64) if need <= b), 0)
    elif cfg.flags & lib.FEDAVG_CODEC_BIT_SLOTS:
        bits = max(need, 1) if need <= 64 else 0
    return (f"f = {f}, Q = {int(q)}, 2*Q*M needs {need} bits -> {bits}-bit slots; "
            f"plaintext of {cfg.plaintext_bytes} bytes holds "
            f"{8 * cfg.plaintext_bytes // bits if bits else 0} "
            f"(max_weight {cfg.max_weight})")


class Codec:
    """Quantization and packing parameters (immutable).

    ``Codec(plaintext_bytes, max_weight, precision, clip)`` chooses the scale
    2^f (smallest f with 2^-(f+1) <= precision), the slot width (the smallest
    multiple of 8 bits — or 16/32/64 with ``aligned=True``, or exactly the
    bits needed with ``dense=True`` — that holds 2·Q·max_weight) and the
    values per plaintext, or raises :class:`fedshare.InvalidInputError` saying
    why none fits. :meth:`for_participants` derives max_weight from the number
    of participants and packs densely (what a task should use).

    The packed plaintexts must stay below the Paillier modulus n: choose
    ``plaintext_bytes <= (n.bit_length() - 1) // 8`` (255 for 2048-bit n).
    """

    __slots__ = ("_c",)

    def __init__(
        self,
        plaintext_bytes: int = 255,
        max_weight: int = 16,
        precision: float = 1e-6,
        clip: float = 1.0,
        aligned: bool = False,
        *,
        dense: bool = False,
        _handle: Any = None,
    ) -> None:
        if _handle is not None:
            self._c = _handle
            return
        cfg = ffi.new("fedavg_codec_config *")
        lib.fedavg_codec_config_init(cfg)
        for name, v, hi in (("plaintext_bytes", plaintext_bytes, 2**32 - 1),
                            ("max_weight", max_weight, 2**32 - 1)):
            if not isinstance(v, (int, np.integer)) or not 0 <= v <= hi:
                raise errors.InvalidInputError(f"{name} must be an integer in 0..{hi}")
        cfg.plaintext_bytes = int(plaintext_bytes)
        cfg.max_weight = int(max_weight)
        cfg.precision = float(precision)
        cfg.clip = float(clip)
        cfg.flags = ((lib.FEDAVG_CODEC_ALIGNED_SLOTS if aligned else 0)
                     | (lib.FEDAVG_CODEC_BIT_SLOTS if dense else 0))
        out = ffi.new("fedavg_codec **")
        try:
            check(lib.fedavg_codec_select(out, cfg))
        except errors.InvalidInputError as exc:
            raise type(exc)(f"{exc}; {_explain(cfg)}", code=exc.code, library="fedavg") from None
        self._c = ffi.gc(out[0], lib.fedavg_codec_free)

    @classmethod
    def for_participants(cls, participants: int, *, weight: int = 1,
                         precision: float = DEFAULT_PRECISION, clip: float = DEFAULT_CLIP,
                         plaintext_bytes: int = 255) -> "Codec":
        """The dense codec for summing the updates of ``participants`` (N)
        members, each packed with an integer weight of at most ``weight``
        (1: unweighted; a data size otherwise): M = N·weight, and the slot is
        exactly bitlen(2·Q·M) bits — bitlen(2Q) + ceil(log2 M) at most, i.e.
        ceil(log2 N) bits of headroom above the offset value when weight is 1.
        The defaults (precision 10⁻⁵, clip 1) are the task default: the demo
        reaches its plain accuracy with them (docs/fedavg-codec.md, "Choosing
        the precision")."""
        for name, v in (("participants", participants), ("weight", weight)):
            if not isinstance(v, (int, np.integer)) or not 1 <= v < 2**32:
                raise errors.InvalidInputError(f"{name} must be an integer >= 1")
        m = int(participants) * int(weight)
        if m >= 2**32:
            raise errors.InvalidInputError(
                f"participants × weight = {m} does not fit the codec's 32-bit max_weight")
        return cls(plaintext_bytes, m, precision, clip, dense=True)

    # parameters
    @property
    def dense(self) -> bool:
        """True for bit-granular slots (``FAPR`` version 2)."""
        return bool(lib.fedavg_codec_flags(self._c) & lib.FEDAVG_CODEC_BIT_SLOTS)

    @property
    def plaintext_bytes(self) -> int:
        return int(lib.fedavg_codec_plaintext_bytes(self._c))

    @property
    def slot_bits(self) -> int:
        return int(lib.fedavg_codec_slot_bits(self._c))

    @property
    def values_per_plaintext(self) -> int:
        return int(lib.fedavg_codec_values_per_plaintext(self._c))

    @property
    def frac_bits(self) -> int:
        return int(lib.fedavg_codec_frac_bits(self._c))

    @property
    def scale(self) -> float:
        return float(2.0 ** self.frac_bits)

    @property
    def max_weight(self) -> int:
        return int(lib.fedavg_codec_max_weight(self._c))

    @property
    def clip(self) -> float:
        return float(lib.fedavg_codec_clip(self._c))

    @property
    def error_bound(self) -> float:
        """Bound on |unpacked weighted mean − exact weighted mean of clipped inputs|."""
        return float(lib.fedavg_codec_error_bound(self._c))

    def plaintexts(self, n: int) -> int:
        return int(lib.fedavg_codec_plaintexts(self._c, n))

    def packed_bytes(self, n: int) -> int:
        return int(lib.fedavg_codec_packed_bytes(self._c, n))

    def __repr__(self) -> str:
        return (f"Codec(plaintext_bytes={self.plaintext_bytes}, max_weight={self.max_weight}, "
                f"frac_bits={self.frac_bits}, clip={self.clip}, slot_bits={self.slot_bits}, "
                f"values_per_plaintext={self.values_per_plaintext}"
                f"{', dense=True' if self.dense else ''})")

    # canonical encoding
    def to_bytes(self) -> bytes:
        buf = ffi.new("uint8_t[]", lib.fedavg_codec_encoded_bytes())
        check(lib.fedavg_codec_encode(self._c, buf, len(buf)))
        return bytes(ffi.buffer(buf))

    @classmethod
    def from_bytes(cls, data: bytes) -> "Codec":
        out = ffi.new("fedavg_codec **")
        check(lib.fedavg_codec_decode(out, ffi.from_buffer(data), len(data)))
        return cls(_handle=ffi.gc(out[0], lib.fedavg_codec_free))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Codec) and self.to_bytes() == other.to_bytes()

    def __hash__(self) -> int:
        return hash(self.to_bytes())

    # packing
    def pack(self, x: ArrayLike, weight: int = 1, out: np.ndarray | None = None,
             return_clipped: bool = False) -> Any:
        """Quantize and pack ``x`` times the integer ``weight``.

        Returns a ``uint8`` array of shape (plaintexts, plaintext_bytes): each
        row one big-endian plaintext (slot 0 least significant). With
        ``return_clipped`` returns ``(packed, count of |x| > clip)``.
        """
        a = _f32(x)
        n = a.size
        size = self.packed_bytes(n)
        if n == 0 or size == 0:
            raise errors.InvalidInputError("nothing to pack")
        if out is None:
            out = np.empty((self.plaintexts(n), self.plaintext_bytes), dtype=np.uint8)
        elif out.dtype != np.uint8 or not out.flags.c_contiguous or out.size != size:
            raise errors.InvalidInputError(
                f"out must be a C-contiguous uint8 array of {size} bytes")
        if not isinstance(weight, (int, np.integer)) or not 0 <= weight < 2**32:
            raise errors.InvalidInputError("weight must be an integer in 1..max_weight")
        clipped = ffi.new("size_t *")
        check(lib.fedavg_codec_pack(self._c, _ptr("float *", a), n, int(weight),
                                    _wptr("uint8_t *", out), size, clipped))
        return (out, int(clipped[0])) if return_clipped else out

    def add(self, acc: np.ndarray, packed: ArrayLike) -> np.ndarray:
        """acc += packed, plaintext by plaintext as big integers (in place)."""
        b = _u8(packed)
        if acc.dtype != np.uint8 or not acc.flags.c_contiguous or acc.size != b.size:
            raise errors.InvalidInputError(
                "acc must be a C-contiguous uint8 array of the same size")
        check(lib.fedavg_codec_add(self._c, _wptr("uint8_t *", acc), _ptr("uint8_t *", b), b.size))
        return acc

    def sum(self, packed_vectors: Iterable[ArrayLike]) -> np.ndarray:
        """Plain big-integer sum of packed vectors (what Paillier addition yields)."""
        acc = None
        for p in packed_vectors:
            if acc is None:
                acc = np.array(_u8(p), copy=True).reshape(-1, self.plaintext_bytes)
            else:
                self.add(acc, p)
        if acc is None:
            raise errors.InvalidInputError("no packed vectors")
        return acc

    def unpack(self, packed: ArrayLike, n: int, total_weight: int = 1,
               out: np.ndarray | None = None) -> np.ndarray:
        """The weighted mean from a (summed) packed form: float32 array of n values."""
        b = _u8(packed)
        o = _out_f32(out, n)
        if not isinstance(total_weight, (int, np.integer)) or not 0 <= total_weight < 2**64:
            raise errors.InvalidInputError("total_weight must be a non-negative integer")
        check(lib.fedavg_codec_unpack(self._c, _ptr("uint8_t *", b), b.size, n,
                                      int(total_weight), _wptr("float *", o)))
        return o if out is None else out

    # hand-over to fedshare.phe
    def to_ints(self, packed: ArrayLike) -> list[int]:
        """The packed plaintexts as Python ints (big-endian rows)."""
        b = _u8(packed).tobytes()
        P = self.plaintext_bytes
        if len(b) % P:
            raise errors.InvalidInputError("packed length is not a multiple of plaintext_bytes")
        return [int.from_bytes(b[i:i + P], "big") for i in range(0, len(b), P)]

    def to_bytes_be(self, packed: ArrayLike) -> bytes:
        """The packed plaintexts as one contiguous big-endian byte string
        (plaintext_bytes each), as libphe's batch calls take them."""
        return _u8(packed).tobytes()

    def from_ints(self, values: Iterable[int]) -> np.ndarray:
        """Plaintexts (e.g. a decrypted sum) back into the packed array form."""
        P = self.plaintext_bytes
        rows = []
        for v in values:
            v = int(v)
            if v < 0 or v.bit_length() > 8 * P:
                raise errors.InvalidInputError(
                    f"plaintext out of range 0..2^{8 * P}: the sum overflowed or n is too small")
            rows.append(v.to_bytes(P, "big"))
        return np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(len(rows), P).copy()

    def encode_packed(self, packed: ArrayLike, n: int, weight: int) -> bytes:
        """Canonical packed-vector encoding ("FAPK")."""
        b = _u8(packed)
        size = int(lib.fedavg_packed_encoded_bytes(self._c, n))
        if size == 0:
            raise errors.InvalidInputError("bad value count")
        out = ffi.new("uint8_t[]", size)
        check(lib.fedavg_packed_encode(self._c, _ptr("uint8_t *", b), b.size, n, int(weight),
                                       out, size))
        return bytes(ffi.buffer(out))

    @staticmethod
    def decode_packed(data: bytes) -> tuple["Codec", int, int, np.ndarray]:
        """Decode "FAPK": (codec, n, total weight, packed array — a view of data)."""
        mv = memoryview(data)
        c = ffi.new("fedavg_codec **")
        n = ffi.new("uint64_t *")
        w = ffi.new("uint32_t *")
        off = ffi.new("size_t *")
        check(lib.fedavg_packed_decode(ffi.from_buffer(mv), len(mv), c, n, w, off))
        codec = Codec(_handle=ffi.gc(c[0], lib.fedavg_codec_free))
        raw = np.frombuffer(mv, dtype=np.uint8, offset=off[0])
        return codec, int(n[0]), int(w[0]), raw.reshape(-1, codec.plaintext_bytes)


def quantize_weights(weights: ArrayLike, resolution: int = 1 << 16) -> np.ndarray:
    """Integer weights q_i = round(w_i / sum(w) * resolution) for packed FedAvg."""
    w = _f64(weights)
    q = np.empty(w.size, dtype=np.uint32)
    if w.size == 0:
        raise errors.InvalidInputError("no weights")
    check(lib.fedavg_weights_quantize(_ptr("double *", w), w.size, int(resolution),
                                      _wptr("uint32_t *", q)))
    return q


def weights_error_bound(weights: ArrayLike, qweights: ArrayLike, clip: float) -> float:
    """Extra averaging error from using integer weights ``qweights`` for ``weights``."""
    w = _f64(weights)
    q = np.ascontiguousarray(qweights, dtype=np.uint32).reshape(-1)
    if w.size != q.size or w.size == 0:
        raise errors.InvalidInputError("weights and qweights differ in length")
    out = ffi.new("double *")
    check(lib.fedavg_weights_error_bound(_ptr("double *", w), _ptr("uint32_t *", q), w.size,
                                         float(clip), out))
    return float(out[0])


# --- plain aggregation -------------------------------------------------------


def average(updates: Updates, weights: ArrayLike | None = None, out: Any = None) -> np.ndarray:
    """Weighted FedAvg: sum_i w_i x_i / sum_i w_i, accumulated in double in
    participant order, rounded once to float32. ``updates``: a sequence of
    arrays (or a 2-D array, one row per participant)."""
    rows, n = _rows(updates)
    w = np.ones(len(rows)) if weights is None else _f64(weights)
    if w.size != len(rows):
        raise errors.InvalidInputError("one weight per update")
    o = _out_f32(out, n)
    ptrs, _keep = _row_ptrs(rows)
    check(lib.fedavg_average(ptrs, _ptr("double *", w), len(rows), n, _wptr("float *", o)))
    return o if out is None else out


def median(updates: Updates, out: Any = None) -> np.ndarray:
    """Coordinate-wise median (mean of the two middle values for an even count)."""
    rows, n = _rows(updates)
    o = _out_f32(out, n)
    ptrs, _keep = _row_ptrs(rows)
    check(lib.fedavg_median(ptrs, len(rows), n, _wptr("float *", o)))
    return o if out is None else out


def trimmed_mean(updates: Updates, trim: int | None = None, proportion: float | None = None,
                 out: Any = None) -> np.ndarray:
    """Coordinate-wise trimmed mean dropping ``trim`` values at each end
    (or ``int(proportion * m)``, as scipy.stats.trim_mean)."""
    rows, n = _rows(updates)
    if (trim is None) == (proportion is None):
        raise errors.InvalidInputError("give exactly one of trim or proportion")
    k = int(proportion * len(rows)) if proportion is not None else trim
    if not isinstance(k, (int, np.integer)) or k < 0:
        raise errors.InvalidInputError("trim must be a non-negative integer")
    o = _out_f32(out, n)
    ptrs, _keep = _row_ptrs(rows)
    check(lib.fedavg_trimmed_mean(ptrs, len(rows), n, int(k), _wptr("float *", o)))
    return o if out is None else out


def norm(x: ArrayLike) -> float:
    """Euclidean norm in a fixed summation order (identical on every replica)."""
    a = _f32(x)
    out = ffi.new("double *")
    check(lib.fedavg_stat_norm(_ptr("float *", a), a.size, out))
    return float(out[0])


def cosine(x: ArrayLike, g: ArrayLike) -> float:
    """Cosine similarity of x and g (0 when either is zero), fixed order."""
    a, b = _f32(x), _f32(g)
    if a.size != b.size:
        raise errors.InvalidInputError("vectors differ in length")
    out = ffi.new("double *")
    check(lib.fedavg_stat_cosine(_ptr("float *", a), _ptr("float *", b), a.size, out))
    return float(out[0])


# --- anomaly test ----------------------------------------------------------------

ACCEPTED, SUSPICIOUS, WARMUP = 0, 1, 2


class AnomalyDetector:
    """The k-sigma test of per-participant statistics against accepted history.

    ``judge(stats)`` (rows of ``stats`` values per update) returns verdicts
    (0 accepted, 1 suspicious, 2 accepted during warm-up) without changing the
    history; ``accept(stats)`` appends accepted rows.
    """

    def __init__(self, stats: int = 1, k: float = 3.0, warmup: int = 5, window: int = 0,
                 *, _handle: Any = None) -> None:
        if _handle is not None:
            self._a = _handle
            self.stats = int(stats)
            return
        cfg = ffi.new("fedavg_anomaly_config *")
        lib.fedavg_anomaly_config_init(cfg)
        cfg.stats, cfg.k, cfg.warmup, cfg.window = int(stats), float(k), int(warmup), int(window)
        out = ffi.new("fedavg_anomaly **")
        check(lib.fedavg_anomaly_new(out, cfg))
        self._a = ffi.gc(out[0], lib.fedavg_anomaly_free)
        self.stats = int(stats)

    def _matrix(self, stats: ArrayLike) -> np.ndarray:
        s = np.ascontiguousarray(stats, dtype=np.float64)
        if s.ndim <= 1 and self.stats == 1:
            s = s.reshape(-1, 1)
        if s.ndim == 1:
            s = s.reshape(1, -1)
        if s.ndim != 2 or s.shape[1] != self.stats or s.shape[0] == 0:
            raise errors.InvalidInputError(f"stats must have rows of {self.stats} values")
        return s

    def judge(self, stats: ArrayLike) -> np.ndarray:
        s = self._matrix(stats)
        v = np.empty(s.shape[0], dtype=np.uint8)
        check(lib.fedavg_anomaly_judge(self._a, _ptr("double *", s), s.shape[0],
                                       _wptr("uint8_t *", v)))
        return v

    def accept(self, stats: ArrayLike) -> None:
        s = self._matrix(stats)
        check(lib.fedavg_anomaly_accept(self._a, _ptr("double *", s), s.shape[0]))

    def moments(self, s: int = 0) -> tuple[float, float]:
        """(mean, sample standard deviation) of statistic ``s`` over the history."""
        mu, sd = ffi.new("double *"), ffi.new("double *")
        check(lib.fedavg_anomaly_moments(self._a, int(s), mu, sd))
        return float(mu[0]), float(sd[0])

    def __len__(self) -> int:
        return int(lib.fedavg_anomaly_count(self._a))

    def to_bytes(self) -> bytes:
        """Canonical encoding ("FAAN") of configuration and history."""
        size = lib.fedavg_anomaly_encoded_bytes(self._a)
        out = ffi.new("uint8_t[]", size)
        check(lib.fedavg_anomaly_encode(self._a, out, size))
        return bytes(ffi.buffer(out))

    @classmethod
    def from_bytes(cls, data: bytes) -> "AnomalyDetector":
        out = ffi.new("fedavg_anomaly **")
        check(lib.fedavg_anomaly_decode(out, ffi.from_buffer(data), len(data)))
        stats = int.from_bytes(bytes(data[5:9]), "big")
        return cls(stats=stats, _handle=ffi.gc(out[0], lib.fedavg_anomaly_free))


# --- judging a round under a task's rule -----------------------------------------

#: Anomaly rules (fedavg_round_judge): the seed's pooled k-sigma test, robust
#: (MAD over round and history, or the member's own baseline), each half, and
#: robust2, the default (robust with the cosine judged as its gap to the round's
#: median cosine).
RULES = {"pooled": 0, "robust": 1, "member": 2, "mad": 3, "robust2": 4}


class RoundJudge:
    """A task's anomaly rule with its accepted history, as the training contract
    runs it: ``judge(members, norms, cosines)`` calls libfedavg's
    ``fedavg_round_judge`` on the round and appends the accepted updates
    (verdict 0 or 2) to the history, newest ``window`` kept.
    ``k``/``warmup`` of the pooled rule default to the task defaults (3, 5)."""

    def __init__(self, rule: str = "robust2", *, k: float | None = None, warmup: int = 5,
                 window: int = 1024):
        if rule not in RULES:
            raise errors.InvalidInputError(f"unknown rule {rule!r} (one of {sorted(RULES)})")
        self.cfg = ffi.new("fedavg_judge_config *")
        lib.fedavg_judge_config_init(self.cfg)
        self.cfg.rule = RULES[rule]
        if k is not None:
            self.cfg.k = float(k)
        elif rule == "pooled":
            self.cfg.k = 3.0
        self.cfg.warmup = int(warmup)
        self.cfg.window = int(window)
        self.rule = rule
        self.hist_members = np.zeros(0, dtype=np.uint32)
        self.hist_stats = np.zeros((0, 2), dtype=np.float64)

    def judge(self, members: ArrayLike, norms: ArrayLike, cosines: ArrayLike) -> np.ndarray:
        mem = np.ascontiguousarray(members, dtype=np.uint32)
        nrm = np.ascontiguousarray(norms, dtype=np.float64)
        cos = np.ascontiguousarray(cosines, dtype=np.float64)
        m = mem.shape[0]
        if m == 0 or nrm.shape != (m,) or cos.shape != (m,):
            raise errors.InvalidInputError("members, norms and cosines: one value per update")
        v = np.empty(m, dtype=np.uint8)
        st = np.empty((m, 2), dtype=np.float64)
        h = self.hist_members.shape[0]
        hm = _ptr("uint32_t *", self.hist_members) if h else ffi.NULL
        hs = _ptr("double *", self.hist_stats) if h else ffi.NULL
        check(lib.fedavg_round_judge(self.cfg, _ptr("uint32_t *", mem), _ptr("double *", nrm),
                                     _ptr("double *", cos), m, hm, hs, h,
                                     _wptr("uint8_t *", v), _wptr("double *", st)))
        ok = v != SUSPICIOUS
        self.hist_members = np.ascontiguousarray(
            np.concatenate([self.hist_members, mem[ok]])[-self.cfg.window:])
        self.hist_stats = np.ascontiguousarray(
            np.concatenate([self.hist_stats, st[ok]])[-self.cfg.window:])
        return v


# --- stop rule ------------------------------------------------------------------

_DECISIONS = {0: "continue", 1: "converged", 2: "limit"}


def stop_decision(metrics: Sequence[float], threshold: float = 0.001, patience: int = 3,
                  max_rounds: int = 50,
                  mode: str = "absolute", lower_is_better: bool = False) -> str:
    """'continue', 'converged' or 'limit' after the rounds whose metrics are given.

    Round t >= 2 improved by metrics[t] - metrics[t-1] (negated when
    ``lower_is_better``); in ``mode='relative'`` divided by |metrics[t-1]|.
    The default threshold 0.001 in absolute mode is 0.1 percentage point of an
    accuracy given as a fraction. Converged when the last ``patience`` rounds
    each improved by strictly less than ``threshold``.
    """
    if mode not in ("absolute", "relative"):
        raise errors.InvalidInputError("mode is 'absolute' or 'relative'")
    cfg = ffi.new("fedavg_stop_config *")
    lib.fedavg_stop_config_init(cfg)
    cfg.threshold, cfg.patience, cfg.max_rounds = float(threshold), int(patience), int(max_rounds)
    cfg.mode = 0 if mode == "absolute" else 1
    cfg.lower_is_better = 1 if lower_is_better else 0
    m = _f64(metrics)
    d = ffi.new("int *")
    check(lib.fedavg_stop_evaluate(cfg, _ptr("double *", m), m.size, d))
    return _DECISIONS[d[0]]


# --- deltas and IDs -------------------------------------------------------------


def model_digest(x: ArrayLike) -> bytes:
    """SHA-256 of the model's float32 values as big-endian IEEE-754 bits."""
    a = _f32(x)
    out = ffi.new("uint8_t[32]")
    check(lib.fedavg_model_digest(_ptr("float *", a), a.size, out))
    return bytes(ffi.buffer(out))


def delta_encode(base: ArrayLike, next_model: ArrayLike) -> bytes:
    """Exact, compact delta ("FADL") from ``base`` to ``next_model``."""
    a, b = _f32(base), _f32(next_model)
    if a.size != b.size or a.size == 0:
        raise errors.InvalidInputError("models differ in length or are empty")
    size = ffi.new("size_t *")
    check(lib.fedavg_delta_size(_ptr("float *", a), _ptr("float *", b), a.size, size))
    out = ffi.new("uint8_t[]", size[0])
    ln = ffi.new("size_t *")
    check(lib.fedavg_delta_encode(_ptr("float *", a), _ptr("float *", b), a.size, out, size[0], ln))
    return bytes(ffi.buffer(out, ln[0]))


def delta_apply(delta: bytes, base: ArrayLike, out: Any = None) -> np.ndarray:
    """The next model from ``base`` and a delta; raises VerificationError on a wrong base."""
    a = _f32(base)
    o = _out_f32(out, a.size)
    check(lib.fedavg_delta_apply(ffi.from_buffer(delta), len(delta), _ptr("float *", a), a.size,
                                 _wptr("float *", o)))
    return o if out is None else out


def param_id_input(model_id: bytes, round: int, signature: bytes) -> bytes:
    """The canonical bytes hashed into the parameter ID ("FAPI")."""
    size = lib.fedavg_param_id_input_bytes(len(model_id), len(signature))
    out = ffi.new("uint8_t[]", max(size, 1))
    if not 0 <= round < 2**64:
        raise errors.InvalidInputError("round must fit in 64 bits")
    check(lib.fedavg_param_id_input(model_id, len(model_id), round, signature, len(signature),
                                    out, size))
    return bytes(ffi.buffer(out, size))


def param_id(model_id: bytes, round: int, signature: bytes) -> bytes:
    """SHA-256(model ID ‖ round ‖ aggregator signature), canonical encoding."""
    if not 0 <= round < 2**64:
        raise errors.InvalidInputError("round must fit in 64 bits")
    out = ffi.new("uint8_t[32]")
    check(lib.fedavg_param_id(model_id, len(model_id), round, signature, len(signature), out))
    return bytes(ffi.buffer(out))
