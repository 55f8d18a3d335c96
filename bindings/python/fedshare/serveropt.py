"""fedshare.serveropt — server-side adaptive optimizers over a task's decrypted aggregates.

FedAdam and FedYogi of Reddi et al., "Adaptive Federated Optimization" (ICLR
2021, arXiv:2003.00295), with the conventions of Flower's ``FedAdam`` and
``FedYogi`` (flwr 1.42: moments start at zero; FedAdam's step size carries
the bias correction with exponent round + 1; FedYogi's none).

A fedshare task records, round by round, its *aggregate chain*: the global
model ``g_r = g_(r-1) + (decrypted weighted mean of the round's updates)``,
each ``g_r`` stored as a blob whose digest the round record holds. A server
optimizer turns that chain into the model the participants train from and
evaluate::

    x_0 = g_0                                  (the task's published model)
    for every round r that recorded a model:
        d_r = g_r - g_(r-1)                    (float64 of the float32 models)
        m_r = b1 m + (1 - b1) d_r
        v_r = b2 v + (1 - b2) d_r²                             (Adam)
        v_r = v - (1 - b2) d_r² sign(v - d_r²)                 (Yogi)
        x_r = float32(x_(r-1) + eta_r m_r / (sqrt(v_r) + tau))
    eta_r = eta sqrt(1 - b2^(r+1)) / (1 - b1^(r+1))            (Adam), eta (Yogi)

A round that recorded no model (refused, skipped) makes no step. Every
operation is an IEEE-754 basic operation or a square root on float64, both
correctly rounded, and the powers are repeated multiplications, so every
member that replays the chain gets the same bits: ``x_r`` is a deterministic
function of the ledger and the optimizer's four numbers
(:meth:`ServerOptimizer.describe`), which is how each participant checks the
model a Flower server sends it (:class:`fedshare.flower.FedshareMod`).
"""
from __future__ import annotations

import math
from typing import Any, Dict, Optional

import numpy as np

from . import errors

__all__ = ["ServerOptimizer", "Adam", "Yogi", "OptimizerState", "from_description", "parse",
           "from_task", "next_model", "replay", "CODES"]


def _power(base: float, k: int) -> float:
    """base**k by repeated multiplication (no libm pow: the same bits everywhere)."""
    out = 1.0
    for _ in range(k):
        out *= base
    return out


class ServerOptimizer:
    """A server optimizer's hyper-parameters (its state is an :class:`OptimizerState`).

    Args:
        eta: server learning rate.
        beta_1: first-moment decay, in [0, 1).
        beta_2: second-moment decay, in [0, 1).
        tau: adaptivity (added to sqrt(v)), > 0.
    """

    kind = ""

    def __init__(self, eta: float, beta_1: float, beta_2: float, tau: float):
        vals = (float(eta), float(beta_1), float(beta_2), float(tau))
        if not all(math.isfinite(v) for v in vals):
            raise errors.InvalidInputError("server optimizer parameters must be finite")
        if not (vals[0] > 0 and 0 <= vals[1] < 1 and 0 <= vals[2] < 1 and vals[3] > 0):
            raise errors.InvalidInputError("server optimizer: need eta > 0, 0 <= beta_1 < 1, "
                                           "0 <= beta_2 < 1, tau > 0")
        self.eta, self.beta_1, self.beta_2, self.tau = vals

    def describe(self) -> str:
        """The canonical text of the optimizer (exact: floats in hex), e.g.
        ``adam eta=0x1.999999999999ap-4 beta_1=… beta_2=… tau=…``; two members
        agree on the optimizer iff they agree on this text."""
        return (f"{self.kind} eta={self.eta.hex()} beta_1={self.beta_1.hex()} "
                f"beta_2={self.beta_2.hex()} tau={self.tau.hex()}")

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(eta={self.eta!r}, beta_1={self.beta_1!r}, "
                f"beta_2={self.beta_2!r}, tau={self.tau!r})")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ServerOptimizer) and self.describe() == other.describe()

    def __hash__(self) -> int:
        return hash(self.describe())

    def step_size(self, round: int) -> float:
        return self.eta

    def second_moment(self, v: np.ndarray, d2: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def start(self, initial: np.ndarray) -> "OptimizerState":
        """The state before round 1: x = the chain = the task's initial model."""
        return OptimizerState(self, initial)


class Adam(ServerOptimizer):
    """FedAdam (Flower's defaults: eta 0.1, beta_1 0.9, beta_2 0.99, tau 1e-3)."""

    kind = "adam"

    def __init__(self, eta: float = 0.1, beta_1: float = 0.9, beta_2: float = 0.99,
                 tau: float = 1e-3):
        super().__init__(eta, beta_1, beta_2, tau)

    def step_size(self, round: int) -> float:
        return (self.eta * math.sqrt(1.0 - _power(self.beta_2, round + 1))
                / (1.0 - _power(self.beta_1, round + 1)))

    def second_moment(self, v: np.ndarray, d2: np.ndarray) -> np.ndarray:
        return self.beta_2 * v + (1.0 - self.beta_2) * d2


class Yogi(ServerOptimizer):
    """FedYogi (Flower's defaults: eta 0.01, beta_1 0.9, beta_2 0.99, tau 1e-3)."""

    kind = "yogi"

    def __init__(self, eta: float = 1e-2, beta_1: float = 0.9, beta_2: float = 0.99,
                 tau: float = 1e-3):
        super().__init__(eta, beta_1, beta_2, tau)

    def second_moment(self, v: np.ndarray, d2: np.ndarray) -> np.ndarray:
        out: np.ndarray = v - (1.0 - self.beta_2) * d2 * np.sign(v - d2)
        return out


_KINDS = {"adam": Adam, "yogi": Yogi}


def from_description(text: str) -> ServerOptimizer:
    """The optimizer whose :meth:`ServerOptimizer.describe` is ``text``."""
    parts = text.split()
    if not parts or parts[0] not in _KINDS:
        raise errors.InvalidInputError(f"unknown server optimizer {text!r}")
    vals: Dict[str, float] = {}
    for p in parts[1:]:
        k, _, v = p.partition("=")
        try:
            vals[k] = float.fromhex(v)
        except ValueError:
            raise errors.InvalidInputError(f"bad server optimizer parameter {p!r}") from None
    if sorted(vals) != ["beta_1", "beta_2", "eta", "tau"]:
        raise errors.InvalidInputError(f"server optimizer {text!r}: needs eta, beta_1, "
                                       "beta_2, tau")
    opt = _KINDS[parts[0]](**vals)
    if opt.describe() != text:
        raise errors.InvalidInputError(f"server optimizer {text!r} is not canonical")
    return opt


class OptimizerState:
    """Where a server optimizer stands after a round: the model ``x`` it made,
    the chain model ``chain`` (the ledger's ``g_r``) it last stepped on, the
    moments, and that round."""

    def __init__(self, optimizer: ServerOptimizer, initial: np.ndarray):
        x = np.ascontiguousarray(initial, dtype=np.float32).reshape(-1)
        self.optimizer = optimizer
        self.x = x.copy()
        self.chain = x.copy()
        self.m: Optional[np.ndarray] = None
        self.v: Optional[np.ndarray] = None
        self.round = 0

    def step(self, round: int, chain_model: np.ndarray) -> np.ndarray:
        """Step with round ``round``'s recorded model ``g_r``; returns ``x_r``."""
        g = np.ascontiguousarray(chain_model, dtype=np.float32).reshape(-1)
        if g.size != self.chain.size:
            raise errors.InvalidInputError(f"the round's model has {g.size} parameters, the "
                                           f"previous one {self.chain.size}")
        if round <= self.round:
            raise errors.InvalidInputError(f"the optimizer is at round {self.round}; "
                                           f"cannot step round {round}")
        opt = self.optimizer
        d = g.astype(np.float64) - self.chain.astype(np.float64)
        d2 = d * d
        m = self.m if self.m is not None else np.zeros_like(d)
        v = self.v if self.v is not None else np.zeros_like(d)
        self.m = opt.beta_1 * m + (1.0 - opt.beta_1) * d
        self.v = opt.second_moment(v, d2)
        # (Yogi's v stays >= 0: each step moves it toward d² by less than the distance)
        step = opt.step_size(round) * self.m / (np.sqrt(self.v) + opt.tau)
        self.x = (self.x.astype(np.float64) + step).astype(np.float32)
        self.chain = g.copy()
        self.round = int(round)
        return self.x

    def skip(self, round: int) -> None:
        """Round ``round`` recorded no model (refused or skipped): no step."""
        if round <= self.round:
            raise errors.InvalidInputError(f"the optimizer is at round {self.round}")
        self.round = int(round)


def replay(member: Any, task_id: bytes, optimizer: ServerOptimizer, upto: int,
           state: Optional[OptimizerState] = None) -> OptimizerState:
    """The optimizer's state after round ``upto`` of a task, replayed from the
    ledger: the task's initial model, then each round's recorded model (every
    blob checked against its recorded digest). ``state`` (of an earlier round)
    is continued rather than replayed from the start."""
    from .consortium import lib
    from .consortium import model_digest

    if state is None:
        task = member.task(task_id)
        if task is None:
            raise errors.NotFoundError("no such task")
        rec = member.record(lib.FEDSHARE_REC_MODEL, bytes.fromhex(task["model_id"]))
        if rec is None:
            raise errors.NotFoundError("the task's model is not on the ledger")
        state = optimizer.start(fetch_model(member, bytes.fromhex(rec["model_digest"])))
    for r in range(state.round + 1, upto + 1):
        rnd = member.round(task_id, r)
        digest = rnd.get("global_model") if rnd else None
        if not digest or rnd.get("sum_refused"):
            state.skip(r)
            continue
        g = fetch_model(member, bytes.fromhex(digest))
        if model_digest(g).hex() != digest:  # pragma: no cover - fetch_model checked it
            raise errors.VerificationError(f"round {r}: the model is not the recorded one")
        state.step(r, g)
    return state


def fetch_model(member: Any, digest: bytes) -> np.ndarray:
    """A float32 model blob by its digest, checked against it."""
    from . import ledger
    from .consortium import config_ledger_text, model_digest

    lc = ledger.Client(ledger.Config(config_ledger_text(member.config)))
    try:
        blob = lc.blob_get(digest)
    finally:
        lc.close()
    model = np.frombuffer(blob, dtype=">f4").astype(np.float32)
    if model_digest(model) != digest:
        raise errors.VerificationError("a model blob does not match its digest")
    return model


#: the optimizer's number in a task's TASK_CREATE (docs/formats/fedshare.md)
CODES = {"fedavg": 0, "adam": 1, "yogi": 2}

_SHORT = {"eta": "eta", "beta1": "beta_1", "beta_1": "beta_1", "beta2": "beta_2",
          "beta_2": "beta_2", "tau": "tau"}


def parse(spec: Any) -> ServerOptimizer:
    """A server optimizer from a :class:`ServerOptimizer`, its canonical
    :meth:`ServerOptimizer.describe` text, or the command line's short form
    ``adam`` / ``yogi:eta=0.01,beta1=0.9,beta2=0.99,tau=0.001`` (the numbers
    not named keep Flower's defaults)."""
    if isinstance(spec, ServerOptimizer):
        return spec
    if not isinstance(spec, str):
        raise errors.InvalidInputError(f"not a server optimizer: {spec!r}")
    if " " in spec.strip():
        return from_description(spec.strip())
    kind, _, rest = spec.strip().partition(":")
    if kind not in _KINDS:
        raise errors.InvalidInputError(f"unknown server optimizer {kind!r} (adam, yogi)")
    vals: Dict[str, float] = {}
    for part in filter(None, rest.split(",")):
        k, _, v = part.partition("=")
        if k.strip() not in _SHORT:
            raise errors.InvalidInputError(f"server optimizer: unknown parameter {k!r}")
        try:
            vals[_SHORT[k.strip()]] = float(v)
        except ValueError:
            raise errors.InvalidInputError(f"bad server optimizer parameter {part!r}") from None
    return _KINDS[kind](**vals)


def from_task(task: Dict[str, Any]) -> Optional[ServerOptimizer]:
    """The server optimizer a task record names (None: FedAvg)."""
    kind = task.get("server_optimizer", "fedavg")
    if kind == "fedavg":
        return None
    if kind not in _KINDS:
        raise errors.InvalidInputError(f"unknown server optimizer {kind!r} in the task record")
    return _KINDS[kind](eta=float(task["server_eta"]), beta_1=float(task["server_beta1"]),
                        beta_2=float(task["server_beta2"]), tau=float(task["server_tau"]))


def next_model(member: Any, task_id: bytes, optimizer: ServerOptimizer, round: int,
               chain_model: np.ndarray,
               state: Optional[OptimizerState] = None) -> "tuple[np.ndarray, OptimizerState]":
    """x_r for round ``round`` of a task whose chain model g_r is ``chain_model``
    (recomputed from the shares): the optimizer replayed from the ledger up to
    round ``round`` − 1 (continuing ``state``), then one step. Returns x_r and
    the replayed state of round ``round`` − 1 (not stepped: the round may yet
    be disputed)."""
    import copy

    state = replay(member, task_id, optimizer, round - 1, state)
    x = copy.deepcopy(state).step(round, chain_model)
    return x, state
