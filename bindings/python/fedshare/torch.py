"""fedshare.torch — PyTorch models as the flat float32 vectors fedshare trains.

A consortium task sees a model as one float32 vector (the parameters in
``module.parameters()`` order, each flattened row-major). This module moves
models in and out of that form and runs the seed paper's local procedure::

    from fedshare import torch as fst
    model = fst.logistic_regression(30)
    trainer = fst.LocalTrainer(model, X, y, lr=0.1, seed=1)   # SGD, batch 32
    update = trainer.train_round(global_vec)   # 10 batches; local - global
    acc = trainer.evaluate(global_vec + update, X_eval, y_eval)

Copies: :func:`flatten_parameters` and :func:`flatten_gradients` return a
numpy *view* (no copy) when the module's parameters (gradients) live in one
flat float32 CPU buffer — :func:`make_flat` arranges that, and
:class:`LocalTrainer` calls it — and a fresh array otherwise. Numpy inputs are
wrapped with :func:`torch.from_numpy` (shared memory), never copied on the way
in; :func:`restore_parameters` writes once, into the parameters.
"""
from __future__ import annotations

import sys
import time
import weakref
from typing import Any, Iterable, Iterator, Optional, Sequence, Union

import numpy as np
import torch
from torch import nn

from . import errors

__all__ = [
    "flatten_parameters",
    "restore_parameters",
    "flatten_gradients",
    "make_flat",
    "parameter_count",
    "structure",
    "LocalTrainer",
    "logistic_regression",
    "cnn",
    "mlp",
    "accuracy",
    "Progress",
    "progress",
]

ArrayLike = Union[np.ndarray, torch.Tensor, Sequence[float]]

# module -> (flat parameter tensor, flat gradient tensor) made by make_flat
_FLAT: "weakref.WeakKeyDictionary[nn.Module, tuple]" = weakref.WeakKeyDictionary()


def _params(module: nn.Module) -> list:
    if not isinstance(module, nn.Module):
        raise errors.InvalidInputError("expected a torch.nn.Module")
    ps = list(module.parameters())
    if not ps:
        raise errors.InvalidInputError("the module has no parameters")
    for p in ps:
        if p.device.type != "cpu":
            raise errors.InvalidInputError("fedshare.torch works on CPU tensors; move the model "
                                           "with .cpu() first")
    return ps


def parameter_count(module: nn.Module) -> int:
    """Number of scalar parameters (the length of the task's model vector)."""
    return sum(p.numel() for p in _params(module))


def structure(module: nn.Module) -> bytes:
    """Bytes that describe the architecture (class names and parameter names,
    shapes and dtypes, in order) — what ``Member.publish_model`` hashes."""
    lines = [type(module).__name__, repr(module)]
    for name, p in module.named_parameters():
        lines.append(f"{name} {tuple(p.shape)} {p.dtype}")
    return "\n".join(lines).encode()


def _as_f32_tensor(vec: ArrayLike, n: int, what: str = "vector") -> torch.Tensor:
    """A 1-D float32 CPU tensor of n values sharing memory with vec when it can."""
    if isinstance(vec, torch.Tensor):
        t = vec.detach()
        if t.device.type != "cpu":
            raise errors.InvalidInputError(f"{what} must be on the CPU")
        t = t.reshape(-1)
        if t.dtype != torch.float32:
            t = t.to(torch.float32)
    else:
        a = np.asarray(vec)
        if a.dtype != np.float32 or not a.flags.c_contiguous:
            a = np.ascontiguousarray(a, dtype=np.float32)
        t = torch.from_numpy(a.reshape(-1)) if a.flags.writeable else torch.from_numpy(
            a.reshape(-1).copy())
    if t.numel() != n:
        raise errors.InvalidInputError(f"{what} has {t.numel()} values; the model has {n}")
    if not bool(torch.isfinite(t).all()):
        raise errors.InvalidInputError(f"{what} has a NaN or infinite value")
    return t


def _flat_of(module: nn.Module, ps: list) -> Optional[tuple]:
    """The module's flat buffers if its parameters are still views of them."""
    flat = _FLAT.get(module)
    if flat is None:
        return None
    fp, _ = flat
    off = 0
    base = fp.data_ptr()
    for p in ps:
        if p.dtype != torch.float32 or p.data_ptr() != base + 4 * off or not p.is_contiguous():
            return None
        off += p.numel()
    return flat if off == fp.numel() else None


def make_flat(module: nn.Module) -> np.ndarray:
    """Move the module's parameters (and gradients) into one flat float32 buffer
    each, in place, so that :func:`flatten_parameters` and
    :func:`flatten_gradients` return views with no copy. Values are kept; the
    parameters become float32. Returns the parameter vector (a view).

    Optimizers built *before* this call keep references to the old tensors:
    call it first (``LocalTrainer`` does)."""
    ps = _params(module)
    if _flat_of(module, ps) is None:
        with torch.no_grad():
            fp = torch.cat([p.detach().reshape(-1).to(torch.float32) for p in ps])
            fg = torch.zeros_like(fp)
            off = 0
            for p in ps:
                n = p.numel()
                p.data = fp[off:off + n].view(p.shape)
                p.grad = fg[off:off + n].view(p.shape)
                off += n
        _FLAT[module] = (fp, fg)
    return _FLAT[module][0].numpy()


def flatten_parameters(module: nn.Module) -> np.ndarray:
    """The parameters as one float32 vector (``module.parameters()`` order).

    A view of the parameters (writing to it changes the model) when the module
    was made flat by :func:`make_flat`; a new array otherwise."""
    ps = _params(module)
    flat = _flat_of(module, ps)
    if flat is not None:
        return flat[0].numpy()
    return torch.cat([p.detach().reshape(-1).to(torch.float32) for p in ps]).numpy()


def restore_parameters(module: nn.Module, vec: ArrayLike) -> None:
    """Load a flat vector (numpy array or CPU tensor) into the module's
    parameters, in place. Raises :class:`fedshare.InvalidInputError` on a wrong
    length or a non-finite value (and changes nothing)."""
    ps = _params(module)
    n = sum(p.numel() for p in ps)
    src = _as_f32_tensor(vec, n, "parameter vector")
    with torch.no_grad():
        flat = _flat_of(module, ps)
        if flat is not None:
            if flat[0].data_ptr() != src.data_ptr():
                flat[0].copy_(src)
            return
        off = 0
        for p in ps:
            k = p.numel()
            p.copy_(src[off:off + k].view(p.shape))
            off += k


def flatten_gradients(module: nn.Module) -> np.ndarray:
    """The gradients as one float32 vector (zeros where a parameter has none).

    A view when the module was made flat by :func:`make_flat` and autograd
    accumulated into the flat buffer (gradients zeroed in place, not set to
    None); a new array otherwise."""
    ps = _params(module)
    flat = _flat_of(module, ps)
    if flat is not None:
        fg = flat[1]
        off, ok = 0, True
        for p in ps:
            if p.grad is None or p.grad.data_ptr() != fg.data_ptr() + 4 * off:
                ok = False
                break
            off += p.numel()
        if ok:
            return fg.numpy()
    parts = [(p.grad.detach() if p.grad is not None else torch.zeros_like(p)).reshape(-1)
             .to(torch.float32) for p in ps]
    return torch.cat(parts).numpy()


# --- models -------------------------------------------------------------------


def _seeded(seed: Optional[int], build):
    if seed is None:
        return build()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def logistic_regression(n_features: int, seed: Optional[int] = None) -> nn.Module:
    """Binary logistic regression: one linear layer giving a logit
    (``n_features + 1`` parameters). ``seed`` makes the initial weights
    reproducible without touching torch's global generator."""
    if not isinstance(n_features, int) or n_features < 1:
        raise errors.InvalidInputError("n_features must be a positive int")
    return _seeded(seed, lambda: nn.Sequential(nn.Linear(n_features, 1)))


def mlp(n_features: int, hidden: int = 16, seed: Optional[int] = None) -> nn.Module:
    """A small binary classifier: linear → ReLU → linear giving a logit
    (``(n_features + 1)·hidden + hidden + 1`` parameters)."""
    if not isinstance(n_features, int) or n_features < 1:
        raise errors.InvalidInputError("n_features must be a positive int")
    if not isinstance(hidden, int) or hidden < 1:
        raise errors.InvalidInputError("hidden must be a positive int")
    return _seeded(seed, lambda: nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU(),
                                               nn.Linear(hidden, 1)))


def cnn(side: int = 8, classes: int = 10, width: int = 32, hidden: int = 128,
        seed: Optional[int] = None) -> nn.Module:
    """A small convolutional classifier of ``side``×``side`` grey images given
    as flat rows of ``side²`` features (scikit-learn's digits: 8×8, 10
    classes; train it with ``LocalTrainer(..., loss="ce")``): conv 3×3
    (``width`` channels) → ReLU → conv 3×3 (2·``width``) → ReLU → max-pool 2 →
    linear (``hidden``) → ReLU → linear (``classes`` logits). The defaults
    have 151,306 parameters: a model of realistic size for the encrypted round
    (2,402 ciphertexts at 63 values per 2048-bit plaintext), still trained in
    seconds on a CPU."""
    for name, v, lo in (("side", side, 2), ("classes", classes, 2), ("width", width, 1),
                        ("hidden", hidden, 1)):
        if not isinstance(v, int) or isinstance(v, bool) or v < lo:
            raise errors.InvalidInputError(f"{name} must be an int >= {lo}")
    if side % 2:
        raise errors.InvalidInputError("side must be even (one 2×2 max-pool)")
    half = side // 2
    return _seeded(seed, lambda: nn.Sequential(
        nn.Unflatten(1, (1, side, side)),
        nn.Conv2d(1, width, 3, padding=1), nn.ReLU(),
        nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(2 * width * half * half, hidden), nn.ReLU(),
        nn.Linear(hidden, classes)))


# --- data -------------------------------------------------------------------------


def _features(X: ArrayLike) -> torch.Tensor:
    if isinstance(X, torch.Tensor):
        t = X.detach()
        if t.device.type != "cpu":
            raise errors.InvalidInputError("X must be on the CPU")
        t = t.to(torch.float32)
    else:
        a = np.asarray(X)
        if a.dtype != np.float32 or not a.flags.c_contiguous or not a.flags.writeable:
            a = np.ascontiguousarray(a, dtype=np.float32)
            if not a.flags.writeable:
                a = a.copy()
        t = torch.from_numpy(a)
    if t.ndim != 2 or t.shape[0] == 0 or t.shape[1] == 0:
        raise errors.InvalidInputError("X must be a non-empty 2-D array (samples × features)")
    if not bool(torch.isfinite(t).all()):
        raise errors.InvalidInputError("X has a NaN or infinite value")
    return t


def _labels(y: ArrayLike, n: int, loss: str) -> torch.Tensor:
    t = y.detach() if isinstance(y, torch.Tensor) else torch.as_tensor(np.asarray(y))
    t = t.reshape(-1)
    if t.numel() != n:
        raise errors.InvalidInputError(f"y has {t.numel()} labels for {n} samples")
    if t.is_floating_point() and not bool(torch.isfinite(t).all()):
        raise errors.InvalidInputError("y has a NaN or infinite value")
    if loss == "bce":
        if not bool(((t == 0) | (t == 1)).all()):
            raise errors.InvalidInputError("binary labels must be 0 or 1")
        return t.to(torch.float32)
    if t.is_floating_point() and not bool((t == t.round()).all()):
        raise errors.InvalidInputError("class labels must be integers")
    t = t.to(torch.int64)
    if bool((t < 0).any()):
        raise errors.InvalidInputError("class labels must be non-negative")
    return t


def _predict(model: nn.Module, X: torch.Tensor, loss: str) -> torch.Tensor:
    out = model(X)
    if loss == "bce":
        return (out.reshape(-1) > 0).to(torch.int64)
    return out.argmax(dim=1)


def accuracy(model: nn.Module, X: ArrayLike, y: ArrayLike, loss: str = "bce") -> float:
    """Share of samples the model classifies correctly (a logit > 0 is class 1
    for ``loss="bce"``; the arg-max for ``"ce"``)."""
    if loss not in ("bce", "ce"):
        raise errors.InvalidInputError('loss must be "bce" or "ce"')
    Xt = _features(X)
    yt = _labels(y, Xt.shape[0], loss)
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            pred = _predict(model, Xt, loss)
    finally:
        model.train(was)
    return float((pred == yt.to(torch.int64)).to(torch.float64).mean())


class LocalTrainer:
    """The seed paper's local procedure on one member's data.

    Each :meth:`train_round` loads the global model, runs exactly
    ``upload_every`` SGD steps on mini-batches of ``batch_size`` samples drawn
    in order from a seeded shuffle of the local data (reshuffled with the same
    generator when exhausted, so a batch may span two shuffles; the position
    carries over between rounds), and returns the update ``local − global``.

    Args:
        model: the architecture (its parameters are moved into a flat buffer,
            see :func:`make_flat`; the trainer owns it from now on).
        X: local features, samples × features (float32; shared, not copied).
        y: local labels (0/1 for ``loss="bce"``, class indices for ``"ce"``).
        lr: the SGD learning rate (the task's ``learning_rate``).
        batch_size: samples per step (a local data set smaller than this
            trains on all of it each step).
        upload_every: SGD steps per round (the task's ``upload_every``).
        seed: seeds the shuffle; same seed, same data, same global model →
            the same update, bit for bit.
        loss: ``"bce"`` (one logit, binary) or ``"ce"`` (one logit per class).
    """

    def __init__(self, model: nn.Module, X: ArrayLike, y: ArrayLike, *, lr: float,
                 batch_size: int = 32, upload_every: int = 10, seed: int,
                 loss: str = "bce"):
        if loss not in ("bce", "ce"):
            raise errors.InvalidInputError('loss must be "bce" or "ce"')
        if not (isinstance(lr, (int, float)) and np.isfinite(lr) and lr > 0):
            raise errors.InvalidInputError("lr must be a finite positive number")
        for name, v in (("batch_size", batch_size), ("upload_every", upload_every)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise errors.InvalidInputError(f"{name} must be a positive int")
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise errors.InvalidInputError("seed must be an int")
        self.X = _features(X)
        self.y = _labels(y, self.X.shape[0], loss)
        self.model = model
        self.loss = loss
        self.lr = float(lr)
        self.batch_size = int(batch_size)
        self.upload_every = int(upload_every)
        self.seed = seed
        make_flat(model)
        self.n_parameters = parameter_count(model)
        self._opt = torch.optim.SGD(model.parameters(), lr=self.lr)
        self._loss_fn = nn.BCEWithLogitsLoss() if loss == "bce" else nn.CrossEntropyLoss()
        self._gen = torch.Generator().manual_seed(seed)
        self._order = torch.randperm(self.samples, generator=self._gen)
        self._pos = 0
        #: SGD steps run so far (all rounds).
        self.steps = 0
        #: seconds spent in the last :meth:`train_round` (the local compute).
        self.last_seconds = 0.0
        #: mean training loss over the last round's batches.
        self.last_loss = float("nan")

    @property
    def samples(self) -> int:
        """The local data size: the member's FedAvg weight."""
        return int(self.X.shape[0])

    def _next_batch(self) -> torch.Tensor:
        k = min(self.batch_size, self.samples)
        parts = []
        while k:
            if self._pos == self.samples:
                self._order = torch.randperm(self.samples, generator=self._gen)
                self._pos = 0
            take = min(k, self.samples - self._pos)
            parts.append(self._order[self._pos:self._pos + take])
            self._pos += take
            k -= take
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    def train_round(self, global_vec: ArrayLike) -> np.ndarray:
        """Load ``global_vec``, run ``upload_every`` SGD batches, and return the
        update (local − global) as a new float32 array."""
        t0 = time.perf_counter()
        g = _as_f32_tensor(global_vec, self.n_parameters, "global model")
        restore_parameters(self.model, g)
        self.model.train()
        total = 0.0
        for _ in range(self.upload_every):
            idx = self._next_batch()
            xb, yb = self.X[idx], self.y[idx]
            self._opt.zero_grad(set_to_none=False)  # keep gradients in the flat buffer
            out = self.model(xb)
            loss = self._loss_fn(out.reshape(-1) if self.loss == "bce" else out, yb)
            loss.backward()
            self._opt.step()
            total += float(loss.detach())
            self.steps += 1
        self.last_loss = total / self.upload_every
        upd = flatten_parameters(self.model) - g.numpy()
        if not np.all(np.isfinite(upd)):
            raise errors.InvalidInputError("training diverged (NaN or infinite parameters): "
                                           "lower the learning rate")
        self.last_seconds = time.perf_counter() - t0
        return upd

    def evaluate(self, vec: ArrayLike, X: ArrayLike, y: ArrayLike) -> float:
        """Accuracy of the model with parameters ``vec`` on (X, y). Loads ``vec``
        into the trainer's model (the next :meth:`train_round` loads its own)."""
        restore_parameters(self.model, vec)
        return accuracy(self.model, X, y, self.loss)


# --- progress -----------------------------------------------------------------------


class Progress:
    """A progress display: tqdm's bar when tqdm is installed, otherwise one
    plain line on stderr at most every ``interval`` seconds and at the end.
    Disabled (silent) with ``enabled=False``. Use as a context manager."""

    def __init__(self, total: Optional[int] = None, desc: str = "", *, enabled: bool = True,
                 interval: float = 1.0, stream: Any = None):
        self.total = total
        self.desc = desc
        self.n = 0
        self.enabled = enabled
        self._interval = interval
        self._stream = stream if stream is not None else sys.stderr
        self._last = 0.0
        self._postfix = ""
        self._bar = None
        if enabled:
            try:
                from tqdm import tqdm  # optional
                self._bar = tqdm(total=total, desc=desc, file=self._stream, leave=True)
            except ImportError:
                self._bar = None

    def update(self, k: int = 1) -> None:
        """Advance by k."""
        self.n += k
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(k)
            return
        now = time.monotonic()
        if now - self._last >= self._interval or (self.total is not None and self.n >= self.total):
            self._last = now
            self._line()

    def set_postfix(self, text: str) -> None:
        """Extra text after the counter (e.g. the last accuracy)."""
        self._postfix = text
        if self.enabled and self._bar is not None:
            self._bar.set_postfix_str(text)

    def write(self, text: str) -> None:
        """A message line that does not break the bar."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.write(text, file=self._stream)
        else:
            print(text, file=self._stream, flush=True)

    def _line(self) -> None:
        tot = f"/{self.total}" if self.total is not None else ""
        post = f" {self._postfix}" if self._postfix else ""
        print(f"{self.desc}: {self.n}{tot}{post}", file=self._stream, flush=True)

    def close(self) -> None:
        """Finish the display."""
        if self.enabled and self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def progress(iterable: Optional[Iterable] = None, *, total: Optional[int] = None,
             desc: str = "", enabled: bool = True) -> Union[Progress, Iterator]:
    """Progress on training and long crypto work. With an iterable, yields its
    items while counting them; without, returns a :class:`Progress` to update."""
    if iterable is None:
        return Progress(total=total, desc=desc, enabled=enabled)
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]

    def gen():
        with Progress(total=total, desc=desc, enabled=enabled) as p:
            for item in iterable:
                yield item
                p.update(1)
    return gen()

