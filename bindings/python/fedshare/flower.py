"""fedshare.flower — the encrypted, audited fedshare round inside a Flower app.

Flower (``pip install 'fedshare[flower]'``, flwr 1.42) runs the app: its
ServerApp sends train and evaluate messages, its ClientApps train. Two pieces
put fedshare underneath without changing the training code:

* :class:`FedshareMod`, a client-side Flower *mod* (``ClientApp(mods=[...])``).
  On a train message it checks the arrays it received against the task's
  global model digest on the ledger, lets the ClientApp train, then packs
  the update (trained minus received), encrypts it under the consortium key
  and uploads it through :class:`fedshare.roles.Participant` — the reply to
  the server carries the metrics and no arrays. On an evaluate message it
  recomputes the round's global model from the recorded decryption shares
  (every proof verified), refuses unless its hash is the recorded one and the
  arrays Flower delivered are that model, lets the ClientApp evaluate, and
  records the evaluation (digest, accuracy, evaluation count) on the ledger.
* :class:`FedshareFedAvg`, a Flower strategy (a subclass of Flower's message
  API ``FedAvg``) played by the task's aggregator. It sums the encrypted
  updates on the ledger (:class:`fedshare.roles.Aggregator`), waits for the
  threshold key holders' decryption shares, finalizes the round and hands
  Flower the new global model, read back from the ledger and checked against
  its digest. It ends the run when the task's stop rule does. On a task
  created with a server optimizer (FedAdam, FedYogi: an option of the
  training task, :meth:`fedshare.consortium.Member.create_task`) it applies
  that optimizer and hands Flower ``x_r``, the model the ledger records
  beside the decrypted ``g_r``; the mods read the option from the task too,
  and a strategy or mod given another optimizer is refused.
* :class:`FedshareFedAdam` and :class:`FedshareFedYogi`: the same, with a
  server-side adaptive optimizer (:mod:`fedshare.serveropt`, Reddi et al.
  2021) applied to the decrypted aggregates. The model Flower passes on is a
  deterministic function of the ledger's recorded models and the optimizer's
  four numbers; each node's mod, given the same optimizer
  (``FedshareMod(server_optimizer=...)``), replays it and refuses any other.

The key holders decrypt: each runs ``fedshare train --no-train --share …``
(:func:`fedshare.roles.run_member` as key holder), so no single party —
least of all the server — can decrypt an update. Every act (data registered,
access decided by policy, each update's hash, the aggregate's hash, the
anomaly verdicts, the shares, the model digest, the evaluations and the stop
rule) is a ledger transaction: ``fedshare audit trace --task ID`` lists them.

A Flower node finds its fedshare identity in its node config
(``flower-supernode --node-config 'fedshare-config="consortium.conf"
fedshare-key="hospital-a.key"'``) or through the ``key`` callable given to
the mod (a simulation maps ``partition-id`` to a member). The guide:
docs/guides/flower.md.

Flower's telemetry is switched off (``FLWR_TELEMETRY_ENABLED=0``) when this
module is imported before flwr, unless the variable is set already.
"""
from __future__ import annotations

import logging
import os
import threading
from typing import Any, Callable, Dict, Iterable, List, Optional, Set, Tuple, Union

import numpy as np

os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")

from flwr.app import (Array, ArrayRecord, ConfigRecord, Context, Message,  # noqa: E402
                      MetricRecord, RecordDict)
from flwr.serverapp import Grid  # noqa: E402
from flwr.serverapp.strategy import FedAvg  # noqa: E402
from flwr.serverapp.strategy.result import Result  # noqa: E402

from . import errors, fedavg  # noqa: E402
from ._native import code_value  # noqa: E402
from .consortium import PHASES, Member, model_digest  # noqa: E402
from .roles import Aggregator, Participant  # noqa: E402
from .serveropt import (Adam, OptimizerState, ServerOptimizer, Yogi, from_task,  # noqa: E402
                        replay)
from .verdicts import left_rounds  # noqa: E402

__all__ = ["FedshareMod", "FedshareFedAvg", "FedshareFedAdam", "FedshareFedYogi", "flatten",
           "unflatten", "TASK_KEY", "ROUND_KEY", "OPTIMIZER_KEY", "LEFT_TASK"]

log = logging.getLogger("fedshare.flower")

#: Said in the error a mod answers with when its member left the task (it was
#: retired from the consortium while the task ran); the strategy reads it.
LEFT_TASK = "left the fedshare task"

#: ConfigRecord keys the strategy sets on every message.
TASK_KEY, ROUND_KEY = "fedshare-task", "fedshare-round"
#: ConfigRecord key naming the server optimizer (its canonical text; absent: FedAvg).
OPTIMIZER_KEY = "fedshare-server-optimizer"
#: The ConfigRecord a train reply carries instead of arrays.
REPLY_KEY = "fedshare"

PathLike = Union[str, "os.PathLike[str]"]
_DONE = PHASES.index("done")


# --- the model as one float32 vector --------------------------------------------------

def flatten(arrays: ArrayRecord) -> np.ndarray:
    """The arrays of an ArrayRecord, in order, as one float32 vector (the
    fedshare task's model; its digest is :func:`fedshare.consortium.model_digest`)."""
    parts = [np.asarray(a, dtype=np.float32).reshape(-1) for a in arrays.to_numpy_ndarrays()]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


def unflatten(vector: np.ndarray, like: ArrayRecord) -> ArrayRecord:
    """``vector`` cut back into the keys, shapes and dtypes of ``like``."""
    vector = np.asarray(vector, dtype=np.float32).reshape(-1)
    out, at = [], 0
    keys = list(like.keys())
    for a in like.to_numpy_ndarrays():
        n = int(np.prod(a.shape)) if a.shape else 1
        if at + n > vector.size:
            raise errors.InvalidInputError("the model vector is shorter than the arrays")
        out.append(vector[at:at + n].reshape(a.shape).astype(a.dtype))
        at += n
    if at != vector.size:
        raise errors.InvalidInputError(f"the model vector has {vector.size} parameters, the "
                                       f"arrays {at}")
    return ArrayRecord({k: _array(v) for k, v in zip(keys, out)})


def _array(a: np.ndarray) -> Array:
    return Array(np.ascontiguousarray(a))


def _config(msg: Message) -> ConfigRecord:
    for rec in msg.content.config_records.values():
        if TASK_KEY in rec:
            return rec
    raise errors.InvalidInputError("the message carries no fedshare task (is the server's "
                                   "strategy fedshare.flower.FedshareFedAvg?)")


def _arrays(content: RecordDict) -> Tuple[str, ArrayRecord]:
    recs = list(content.array_records.items())
    if len(recs) != 1:
        raise errors.InvalidInputError(f"expected one ArrayRecord, found {len(recs)}")
    return recs[0]


def _number(value: object, what: str) -> Union[int, float, str]:
    """A scalar of a Flower record, for int()/float(); a list is refused."""
    if not isinstance(value, (int, float, str)):
        raise errors.InvalidInputError(f"{what} must be a number, not {type(value).__name__}")
    return value


def _metrics(content: RecordDict) -> MetricRecord:
    recs = list(content.metric_records.values())
    if len(recs) != 1:
        raise errors.InvalidInputError(f"expected one MetricRecord, found {len(recs)}")
    return recs[0]


# --- the client side ------------------------------------------------------------------

_MEMBERS: Dict[Tuple[str, bytes], Member] = {}
_PARTICIPANTS: Dict[Tuple[str, bytes, bytes], Participant] = {}
_OPT_STATES: Dict[Tuple[str, bytes, bytes, str], OptimizerState] = {}
_LOCK = threading.Lock()


def _read_seed(key: Union[bytes, PathLike]) -> bytes:
    if isinstance(key, (bytes, bytearray)):
        seed = bytes(key)
    else:
        with open(key) as f:
            text = f.read().strip()
        try:
            seed = bytes.fromhex(text)
        except ValueError:
            seed = b""
    if len(seed) != 32:
        raise errors.InvalidInputError("a member key is 32 bytes (64 hex digits in its file)")
    return seed


class FedshareMod:
    """A Flower client mod that puts a ClientApp's updates under fedshare.

    Args:
        config: the consortium configuration file (default: the node config's
            ``fedshare-config``).
        key: this node's member seed — a file of 64 hex digits, the 32 bytes,
            or a callable ``(Context) -> file or bytes`` (default: the node
            config's ``fedshare-key``).
        weight_key: the train reply's metric that is the FedAvg weight
            (Flower's ``"num-examples"``; an integer count of local records).
        accuracy_key: the evaluate reply's metric recorded as the accuracy.
        threads: libphe threads for the encryption (0: one).
        timeout_ms: deadline of each ledger act.
        server_optimizer: the server optimizer this node agreed to
            (:class:`fedshare.serveropt.Adam` or :class:`~fedshare.serveropt.Yogi`,
            for a server running :class:`FedshareFedAdam` or
            :class:`FedshareFedYogi`); None: the task's (a task option on the
            ledger), or plain FedAvg. On a task that names an optimizer, any
            other one given here is refused. The mod refuses a
            message from a server that names another one, and checks every
            model it receives against its own replay of the optimizer over the
            ledger's recorded models.

    The mod keeps one member connection and one
    :class:`fedshare.roles.Participant` per (configuration, member, task) in
    the process; it holds only plain values itself, so a simulation can ship
    it to its workers.
    """

    def __init__(self, config: Optional[PathLike] = None,
                 key: Union[None, bytes, PathLike, Callable[[Context], Any]] = None, *,
                 weight_key: str = "num-examples", accuracy_key: str = "accuracy",
                 threads: int = 0, timeout_ms: int = 60000,
                 server_optimizer: Optional[ServerOptimizer] = None):
        self.config = os.fspath(config) if config is not None else None
        self.server_optimizer = server_optimizer
        self.key = key
        self.weight_key = weight_key
        self.accuracy_key = accuracy_key
        self.threads = threads
        self.timeout_ms = timeout_ms

    # -- who am I -----------------------------------------------------------
    def _identity(self, context: Context) -> Tuple[str, bytes]:
        config = self.config or context.node_config.get("fedshare-config")
        if not config:
            raise errors.InvalidInputError("no consortium configuration: give FedshareMod "
                                           "config= or the node config 'fedshare-config'")
        if not isinstance(config, str):
            raise errors.InvalidInputError("the node config 'fedshare-config' must be a path, "
                                           f"not {type(config).__name__}")
        key: Any = self.key
        if key is None:
            key = context.node_config.get("fedshare-key")
        elif callable(key):
            key = key(context)
        if key is None:
            raise errors.InvalidInputError("no member key: give FedshareMod key= or the node "
                                           "config 'fedshare-key'")
        return os.fspath(config), _read_seed(key)

    def member(self, context: Context) -> Member:
        """This node's connected member client (one per process and identity)."""
        config, seed = self._identity(context)
        with _LOCK:
            m = _MEMBERS.get((config, seed))
            if m is None:
                m = _MEMBERS[(config, seed)] = Member(config, seed, timeout_ms=self.timeout_ms)
            return m

    def participant(self, context: Context, task_id: bytes) -> Participant:
        """This node's participant role in the task (its key and codec read from the ledger)."""
        config, seed = self._identity(context)
        k = (config, seed, task_id)
        with _LOCK:
            p = _PARTICIPANTS.get(k)
        if p is not None:
            return p
        m = self.member(context)
        task = m.task(task_id)
        if task is None:
            raise errors.NotFoundError("no such task", code=code_value("FEDSHARE_E_NOT_FOUND"),
                                      library="fedshare")
        if not any(x["public_key"] == m.public_key.hex() for x in task["participants"]):
            raise errors.AccessDeniedError("this member is not a participant of the task",
                                           code=code_value("FEDSHARE_E_ROLE"),
                                           library="fedshare")
        params = m.threshold_key(bytes.fromhex(task["key_id"]))  # decoded once
        codec = fedavg.Codec.from_bytes(bytes.fromhex(task["codec"]))
        p = Participant(m, task_id, params, None, codec, None, None, threads=self.threads)
        with _LOCK:
            return _PARTICIPANTS.setdefault(k, p)

    def optimizer(self, p: Participant) -> Optional[ServerOptimizer]:
        """The server optimizer of this node's rounds in the task: the one the
        task names on the ledger (a task option), else the one given to the mod
        (agreed out of band on a FedAvg task), else None (FedAvg). A mod given
        an optimizer other than the task's refuses."""
        task_opt = p.server_optimizer()
        mine = self.server_optimizer
        if task_opt is not None and mine is not None and task_opt != mine:
            raise errors.VerificationError(
                f"the task on the ledger names the server optimizer {task_opt.describe()}, "
                f"not the one this node was given ({mine.describe()})")
        return task_opt if task_opt is not None else mine

    def _check_optimizer(self, cfg: ConfigRecord, opt: Optional[ServerOptimizer]) -> None:
        declared = cfg.get(OPTIMIZER_KEY)
        if declared is not None and not isinstance(declared, str):
            raise errors.InvalidInputError(f"{OPTIMIZER_KEY} must be a string")
        mine = opt.describe() if opt is not None else None
        if declared != mine:
            raise errors.VerificationError(
                f"the server's optimizer ({declared or 'FedAvg'}) is not the one this node "
                f"agreed to ({mine or 'FedAvg'})")

    def optimizer_state(self, context: Context, p: Participant, upto: int,
                        optimizer: Optional[ServerOptimizer] = None) -> OptimizerState:
        """The server optimizer's state after round ``upto``, replayed from the
        ledger (continuing this process's last replay when it can); ``optimizer``
        defaults to :meth:`optimizer`'s."""
        opt = optimizer if optimizer is not None else self.optimizer(p)
        if opt is None:
            raise errors.InvalidInputError("no server optimizer: neither the task nor this "
                                           "mod names one")
        config, seed = self._identity(context)
        k = (config, seed, p.task_id, opt.describe())
        with _LOCK:
            st = _OPT_STATES.get(k)
        if st is not None and st.round == upto:
            return st
        st = replay(p.member, p.task_id, opt, upto,
                    st if st is not None and st.round < upto else None)
        with _LOCK:
            _OPT_STATES[k] = st
        return st

    # -- the mod ------------------------------------------------------------
    def __call__(self, msg: Message, context: Context,
                 call_next: Callable[[Message, Context], Message]) -> Message:
        kind = msg.metadata.message_type
        if kind.split(".")[0] == "train":
            return self._train(msg, context, call_next)
        if kind.split(".")[0] == "evaluate":
            return self._evaluate(msg, context, call_next)
        return call_next(msg, context)

    def _join(self, p: Participant, task: Dict[str, Any], r: int) -> Dict[str, Any]:
        """Join the task if this member has not yet (a member normally joins when
        it agrees to the task, before the run), then wait for the round's upload
        phase, which needs every participant joined: nodes that join here must
        run at the same time."""
        me = p.member.public_key.hex()
        if not any(x["public_key"] == me and x["joined"] for x in task["participants"]):
            try:
                p.member.join_task(p.task_id)
            except errors.Error as e:  # joined by an earlier attempt of ours
                if e.code != -509:
                    raise
        return p.member.wait_phase(p.task_id, r, ["upload"], timeout=self.timeout_ms / 1000)

    def _train(self, msg: Message, context: Context,
               call_next: Callable[[Message, Context], Message]) -> Message:
        cfg = _config(msg)
        task_id, r = bytes.fromhex(str(cfg[TASK_KEY])), int(_number(cfg[ROUND_KEY], "round"))
        p = self.participant(context, task_id)
        task = p.member.task(task_id)
        _still_in(p, task, r)
        if task is not None and int(task["phase"]) == 0:
            task = self._join(p, task, r)
        if task is None or int(task["round"]) != r or PHASES[int(task["phase"])] != "upload":
            raise errors.InvalidInputError(f"the task is not uploading round {r}")
        opt = self.optimizer(p)
        self._check_optimizer(cfg, opt)
        _, received = _arrays(msg.content)
        base = flatten(received)
        # the model Flower sent must be the one the ledger records as current
        # (under a server optimizer: the one it makes of the ledger's models)
        expected = task["global_model"]
        if opt is not None:
            st = self.optimizer_state(context, p, r - 1, opt)
            if model_digest(st.chain).hex() != task["global_model"]:
                raise errors.VerificationError(f"round {r}: the replayed chain is not the "
                                               "task's global model on the ledger")
            expected = model_digest(st.x).hex()
            if "server_model" in task and task["server_model"] != expected:
                raise errors.VerificationError(f"round {r}: the task's recorded x is not "
                                               "this node's replay of the server optimizer")
        if model_digest(base).hex() != expected:
            raise errors.VerificationError(f"round {r}: the arrays received are not the "
                                           "task's global model on the ledger"
                                           + (" (after the server optimizer)"
                                              if opt is not None else ""))
        reply = call_next(msg, context)
        if reply.has_error():
            return reply
        _, trained = _arrays(reply.content)
        metrics = _metrics(reply.content)
        weight = metrics.get(self.weight_key)
        if (not isinstance(weight, (int, float)) or int(weight) != weight
                or int(weight) < 1):
            raise errors.InvalidInputError(f"the train reply's {self.weight_key!r} must be a "
                                           "positive integer (the FedAvg weight)")
        update = flatten(trained) - base
        big = float(np.max(np.abs(update))) if update.size else 0.0
        if big > p.codec.clip:
            # the codec clips each value to ±clip: say so, since the global model
            # then differs from plain FedAvg by more than the codec's bound
            log.warning("round %d: an update value of %.3g exceeds the task codec's clip %g "
                        "and is clipped", r, big, p.codec.clip)
        res = p.submit_update(r, base, update, int(weight))
        p.updates.pop(r, None)  # kept only for `fedshare train --dump-updates`; not here
        out = RecordDict()
        for name, rec in reply.content.metric_records.items():
            out[name] = rec
        out[REPLY_KEY] = ConfigRecord({"round": r, "member": p.member.did,
                                       "norm": float(res["norm"]),
                                       "crypto_s": float(res["crypto_s"]),
                                       "ledger_s": float(res["ledger_s"])})
        log.info("round %d: %s uploaded its encrypted update", r, p.member.did[-8:])
        return Message(out, reply_to=msg)

    def _evaluate(self, msg: Message, context: Context,
                  call_next: Callable[[Message, Context], Message]) -> Message:
        cfg = _config(msg)
        task_id, r = bytes.fromhex(str(cfg[TASK_KEY])), int(_number(cfg[ROUND_KEY], "round"))
        p = self.participant(context, task_id)
        _still_in(p, p.member.task(task_id), r)
        opt = self.optimizer(p)
        self._check_optimizer(cfg, opt)
        model = p.recompute_global(r)  # from the shares, proofs checked, = the recorded digest
        served = model
        if opt is not None:  # x_r: the optimizer's step on the round's model
            st = self._cached_state(context, p, opt)
            if st is None or st.round != r:
                st = self.optimizer_state(context, p, r - 1, opt)
                st.step(r, model)
            served = st.x
        _, received = _arrays(msg.content)
        got = flatten(received)
        if model_digest(got) != model_digest(served):
            dev = float(np.max(np.abs(got - served))) if got.size == served.size else None
            raise errors.VerificationError(
                f"round {r}: the arrays received are not the global model recomputed from "
                f"the ledger ({got.size} values, {served.size} recomputed, largest "
                f"difference {dev})")
        reply = call_next(msg, context)
        if reply.has_error():
            return reply
        metrics = _metrics(reply.content)
        if self.accuracy_key not in metrics or self.weight_key not in metrics:
            raise errors.InvalidInputError(f"the evaluate reply needs the metrics "
                                           f"{self.accuracy_key!r} and {self.weight_key!r}")
        # a task that names its optimizer records evaluations of x_r (the contract
        # disputes any other digest); an optimizer agreed out of band on a FedAvg
        # task records them under the chain's g_r, while the accuracy is x_r's
        recorded = served if p.server_optimizer() is not None else model
        p.record_evaluation(r, recorded, float(_number(metrics[self.accuracy_key], "accuracy")),
                            int(_number(metrics[self.weight_key], "weight")))
        return reply

    def _cached_state(self, context: Context, p: Participant,
                      opt: Optional[ServerOptimizer]) -> Optional[OptimizerState]:
        if opt is None:
            return None
        config, seed = self._identity(context)
        with _LOCK:
            return _OPT_STATES.get((config, seed, p.task_id, opt.describe()))


# --- the server side ------------------------------------------------------------------

def _still_in(p: Participant, task: Optional[Dict[str, Any]], r: int) -> None:
    """Refuse at once, with the reason, when this member left the task (it was
    retired from the consortium while the task ran): the task goes on without it,
    and nothing of it would be accepted (FEDSHARE_E_RETIRED)."""
    if task is None:
        return
    me = p.member.public_key.hex()
    for i, x in enumerate(task["participants"]):
        if x.get("public_key") == me and x.get("left"):
            k = left_rounds(task, lambda q: p.member.round(p.task_id, q)).get(i)
            raise errors.AccessDeniedError(
                f"round {r}: this member ({p.member.did}) was retired from the consortium "
                f"and {LEFT_TASK} in round {k}; the task goes on without it",
                code=code_value("FEDSHARE_E_RETIRED"), library="fedshare")


def _left_nodes(r: int, what: str, replies: List[Message]) -> List[int]:
    """The Flower nodes that answered that their member left the task."""
    out = []
    for m in replies:
        if m.has_error() and LEFT_TASK in (m.error.reason or ""):
            log.warning("round %d: node %d did not %s: its member left the task (retired "
                        "from the consortium); it is no longer sent messages", r,
                        m.metadata.src_node_id, what)
            out.append(int(m.metadata.src_node_id))
    return out


def _raise_failures(r: int, what: str, replies: List[Message], expected: int) -> None:
    """A fedshare round needs every participant's act: a node that failed (or
    did not answer) would leave the task waiting, so the run stops here, saying why."""
    bad = [m for m in replies if m.has_error() and LEFT_TASK not in (m.error.reason or "")]
    replies = [m for m in replies if not m.has_error() or m in bad]
    for m in bad:
        log.warning("round %d: node %d failed to %s: %s", r, m.metadata.src_node_id, what,
                    m.error.reason)
    if bad:
        raise errors.Error(f"round {r}: {len(bad)} of {len(replies)} nodes failed to {what} "
                           f"(first: {(bad[0].error.reason or '').strip()[-300:]})")
    if len(replies) < expected:
        raise errors.TimeoutError_(f"round {r}: {len(replies)} of {expected} nodes answered "
                                   f"the {what} message")


class FedshareFedAvg(FedAvg):
    """Flower's FedAvg with the sum done under encryption on the fedshare ledger.

    Args:
        member: the task's aggregator (a connected
            :class:`fedshare.consortium.Member`).
        task_id: the task (created beforehand; its participants are the
            Flower nodes).
        timeout: seconds to wait for each phase (the uploads, the key
            holders' shares, the evaluations).
        threads: libphe threads for the encrypted sum.
        **kwargs: Flower FedAvg options (metric aggregation functions, keys);
            every node trains and evaluates in every round, since the task
            expects each participant's update and evaluation.
    """

    def __init__(self, member: Member, task_id: bytes, *, timeout: float = 300.0,
                 threads: int = 0, **kwargs: Any):
        task = member.task(task_id)
        if task is None:
            raise errors.NotFoundError("no such task", code=code_value("FEDSHARE_E_NOT_FOUND"),
                                      library="fedshare")
        if task["aggregator"] != member.did:
            raise errors.AccessDeniedError("the strategy runs as the task's aggregator, "
                                           f"{task['aggregator']}",
                                           code=code_value("FEDSHARE_E_ROLE"), library="fedshare")
        n = len(task["participants"])
        for k in ("fraction_train", "fraction_evaluate", "min_train_nodes",
                  "min_evaluate_nodes"):
            if k in kwargs:
                raise errors.InvalidInputError(f"{k}: every participant trains and evaluates "
                                               "in every round of a fedshare task")
        kwargs.setdefault("min_available_nodes", n)
        super().__init__(fraction_train=1.0, fraction_evaluate=1.0, min_train_nodes=n,
                         min_evaluate_nodes=n, **kwargs)
        self.member = member
        self.task_id = bytes(task_id)
        self.timeout = timeout
        self.params = member.threshold_key(bytes.fromhex(task["key_id"]))
        self.aggregator = Aggregator(member, self.task_id, self.params, threads=threads)
        self.participants = n
        #: participants that left the task (retired from the consortium while it
        #: ran): participant index -> the round they left in; never waited for
        self.left: Dict[int, Optional[int]] = {}
        #: Flower nodes whose member left the task: sent nothing more
        self.left_nodes: Set[int] = set()
        #: called once per participant that left: ``on_left(did, round)``
        self.on_left: Optional[Callable[[str, Optional[int]], None]] = None
        self.round_limit = int(task["round_limit"])
        #: the fedshare round of each Flower round (they differ after a skipped round)
        self.rounds: Dict[int, int] = {}
        #: per fedshare round: the global model's digest and the ledger's metric
        self.history: List[Dict[str, Any]] = []
        self._like: Optional[ArrayRecord] = None
        #: the server optimizer the task names on the ledger (None: FedAvg); the
        #: strategy applies it, and the ledger records its x_r every round
        self.task_optimizer: Optional[ServerOptimizer] = from_task(task)
        #: the optimizer this strategy applies: the task's, or (subclasses given
        #: one for a FedAvg task) one agreed out of band
        self.optimizer: Optional[ServerOptimizer] = self.task_optimizer
        self.state: Optional[OptimizerState] = None
        if self.task_optimizer is not None:
            log.info("the fedshare task names the server optimizer %s",
                     self.task_optimizer.describe())

    # -- the task's state -------------------------------------------------------
    def _task(self) -> Dict[str, Any]:
        t = self.member.task(self.task_id)
        if t is None:
            raise errors.NotFoundError("no such task", code=code_value("FEDSHARE_E_NOT_FOUND"),
                                      library="fedshare")
        return t

    def _note_left(self, task: Dict[str, Any]) -> None:
        """Participants that left the task are no longer waited for: the nodes
        Flower waits for and samples shrink to the participants still in the task,
        and each one that left is said once (a warning, and ``on_left``)."""
        for i, x in enumerate(task["participants"]):
            if x.get("left") and i not in self.left:
                k = left_rounds(task, lambda q: self.member.round(self.task_id, q)).get(i)
                self.left[i] = k
                did = str(x.get("did", i))
                log.warning("participant %s left the fedshare task in round %s (retired from "
                            "the consortium): the task goes on without it, and the strategy "
                            "no longer waits for it", did, k)
                if self.on_left is not None:
                    self.on_left(did, k)
        n = sum(1 for x in task["participants"] if not x.get("left"))
        self.participants = n
        self.min_train_nodes = self.min_evaluate_nodes = n
        self.min_available_nodes = min(self.min_available_nodes, n)

    def _without_left(self, msgs: Iterable[Message]) -> List[Message]:
        return [m for m in msgs if int(m.metadata.dst_node_id) not in self.left_nodes]

    @property
    def done(self) -> bool:
        """Whether the task has ended (stop rule or round limit)."""
        return int(self._task()["phase"]) == _DONE

    def _inject(self, config: ConfigRecord, r: int) -> ConfigRecord:
        config[TASK_KEY] = self.task_id.hex()
        config[ROUND_KEY] = r
        if self.optimizer is not None:
            config[OPTIMIZER_KEY] = self.optimizer.describe()
        return config

    # -- what Flower is handed: the ledger's model itself (FedAvg), or x_r --------
    def _state(self, upto: int) -> OptimizerState:
        if self.optimizer is None:
            raise errors.InvalidInputError("this strategy has no server optimizer")
        if self.state is None or self.state.round != upto:
            self.state = replay(self.member, self.task_id, self.optimizer, upto,
                                self.state if self.state is not None
                                and self.state.round < upto else None)
        return self.state

    def _expected(self, task: Dict[str, Any]) -> str:
        """The digest of the model Flower must hold now."""
        if self.optimizer is None:
            return str(task["global_model"])
        phase, r = int(task["phase"]), int(task["round"])
        upto = r if phase == _DONE else (0 if phase == 0 else r - 1)
        st = self._state(upto)
        if model_digest(st.chain).hex() != task["global_model"]:
            raise errors.VerificationError("the replayed chain is not the task's global model")
        x = model_digest(st.x).hex()
        if self.task_optimizer is not None and task.get("server_model") != x:
            raise errors.VerificationError("the task's recorded x is not the server "
                                           "optimizer replayed from the ledger")
        return x

    def _served(self, r: int, model: np.ndarray) -> np.ndarray:
        """The model Flower gets after round ``r``, whose recorded model is ``model``."""
        if self.optimizer is None:
            return model
        x = self._state(r - 1).step(r, model).copy()
        if self.task_optimizer is not None:
            rnd = self.member.round(self.task_id, r)
            if rnd is None or rnd.get("server_model") != model_digest(x).hex():
                raise errors.VerificationError(f"round {r}: the recorded x_r is not the "
                                               "server optimizer's step")
        return x

    # -- Flower's loop ------------------------------------------------------------
    def start(self, grid: Grid, initial_arrays: ArrayRecord, num_rounds: Optional[int] = None,
              timeout: float = 3600, train_config: Optional[ConfigRecord] = None,
              evaluate_config: Optional[ConfigRecord] = None,
              evaluate_fn: Optional[Callable[[int, ArrayRecord], Optional[MetricRecord]]] = None
              ) -> Result:
        """Flower's ``Strategy.start``, after checking that the initial arrays are
        the task's current global model. ``num_rounds`` defaults to the task's
        round limit; rounds after the stop rule ends the task send nothing."""
        task = self._task()
        if model_digest(flatten(initial_arrays)).hex() != self._expected(task):
            raise errors.VerificationError("the initial arrays are not the task's current "
                                           "global model")
        self._like = initial_arrays
        return super().start(grid, initial_arrays, num_rounds=num_rounds or self.round_limit,
                             timeout=timeout, train_config=train_config,
                             evaluate_config=evaluate_config, evaluate_fn=evaluate_fn)

    def configure_train(self, server_round: int, arrays: ArrayRecord, config: ConfigRecord,
                        grid: Grid) -> Iterable[Message]:
        task = self._task()
        if int(task["phase"]) == _DONE:
            log.info("flower round %d: the fedshare task has ended; nothing to train",
                     server_round)
            return []
        r = int(task["round"])
        if int(task["phase"]) == 0:
            r = 1  # participants that have not joined yet join when the message comes
        else:
            task = self.member.wait_phase(self.task_id, r, ["upload"], timeout=self.timeout)
            if int(task["phase"]) == _DONE:
                return []
            r = int(task["round"])
        if model_digest(flatten(arrays)).hex() != self._expected(task):
            raise errors.VerificationError(f"round {r}: Flower's arrays are not the task's "
                                           "global model")
        self._like = arrays
        self.rounds[server_round] = r
        self._note_left(task)
        return self._without_left(
            super().configure_train(server_round, arrays, self._inject(config, r), grid))

    def aggregate_train(self, server_round: int, replies: Iterable[Message]
                        ) -> Tuple[Optional[ArrayRecord], Optional[MetricRecord]]:
        r = self.rounds.get(server_round)
        if r is None:
            return None, None
        replies = list(replies)
        good = [m for m in replies if not m.has_error()]
        self.left_nodes.update(_left_nodes(r, "train", replies))
        self._note_left(self._task())
        _raise_failures(r, "train", replies, self.participants)
        # every upload is on the ledger: the task moves to aggregate (or skips the round)
        t = self.member.wait_phase(self.task_id, r, ["aggregate"], timeout=self.timeout)
        if int(t["round"]) != r or int(t["phase"]) == _DONE:
            log.warning("round %d was skipped by the task (too few accepted updates)", r)
            return None, None
        self.aggregator.aggregate(r)
        # the key holders post their decryption shares; then the model is ours to finalize
        t = self.member.wait_phase(self.task_id, r, ["finalize"], timeout=self.timeout)
        if int(t["round"]) != r:
            return None, None
        self.aggregator.finalize(r)
        # the round's model (the task's current model changes only once the round's
        # evaluations are in): recomputed from the shares, each proof checked, and
        # held to the digest the round records
        model = self.member.compute_global(self.task_id, r, self.params)
        rnd = self.member.round(self.task_id, r)
        if rnd is None or rnd.get("global_model") != model_digest(model).hex():
            raise errors.VerificationError(f"round {r}: the model is not the recorded one")
        verdicts = [u["verdict"] for u in rnd["updates"]] if rnd else []
        served = self._served(r, model)
        self.history.append({"round": r, "global_model": model_digest(model).hex(),
                             "served_model": model_digest(served).hex(),
                             "verdicts": verdicts})
        metrics = None
        with_metrics = [m.content for m in good if len(m.content.metric_records) == 1]
        if with_metrics:
            metrics = self.train_metrics_aggr_fn(with_metrics, self.weighted_by_key)
        metrics = metrics if metrics is not None else MetricRecord()
        metrics["fedshare-round"] = r
        metrics["fedshare-accepted"] = sum(v != "suspicious" for v in verdicts)
        if self._like is None:
            raise errors.InvalidInputError("no arrays to shape the model like")
        return unflatten(served, self._like), metrics

    def configure_evaluate(self, server_round: int, arrays: ArrayRecord, config: ConfigRecord,
                           grid: Grid) -> Iterable[Message]:
        r = self.rounds.get(server_round)
        if r is None:
            return []
        t = self._task()
        if int(t["round"]) != r or PHASES[int(t["phase"])] != "evaluate":
            return []
        self._note_left(t)
        return self._without_left(
            super().configure_evaluate(server_round, arrays, self._inject(config, r), grid))

    def aggregate_evaluate(self, server_round: int, replies: Iterable[Message]
                           ) -> Optional[MetricRecord]:
        r = self.rounds.get(server_round)
        if r is None:
            return None
        replies = list(replies)
        good = [m.content for m in replies if not m.has_error()]
        self.left_nodes.update(_left_nodes(r, "evaluate", replies))
        self._note_left(self._task())
        _raise_failures(r, "evaluate", replies, self.participants)
        metrics = self.evaluate_metrics_aggr_fn(good, self.weighted_by_key) if good else None
        # every evaluation is on the ledger: the contract applies the stop rule
        t = self.member.wait_phase(self.task_id, r + 1, ["upload"], timeout=self.timeout)
        metrics = metrics if metrics is not None else MetricRecord()
        if len(t["metrics"]) >= 1:
            metrics["fedshare-metric"] = float(t["metrics"][-1])
        metrics["fedshare-done"] = int(int(t["phase"]) == _DONE)
        if self.history and self.history[-1]["round"] == r:
            self.history[-1]["metric"] = metrics.get("fedshare-metric")
        if int(t["phase"]) == _DONE:
            log.info("fedshare task done after round %d (stop reason %d)", r,
                     int(t["stop_reason"]))
        return metrics


class _FedshareFedOpt(FedshareFedAvg):
    """FedshareFedAvg whose model, handed to Flower, is a server optimizer's
    (:mod:`fedshare.serveropt`) over the ledger's recorded models. On a task
    that names a server optimizer it must be that one (the Flower run and the
    ledger agree); on a FedAvg task it is agreed out of band."""

    def __init__(self, member: Member, task_id: bytes, optimizer: ServerOptimizer, *,
                 timeout: float = 300.0, threads: int = 0, **kwargs: Any):
        super().__init__(member, task_id, timeout=timeout, threads=threads, **kwargs)
        if self.task_optimizer is not None and self.task_optimizer != optimizer:
            raise errors.VerificationError(
                f"the task on the ledger names the server optimizer "
                f"{self.task_optimizer!r} ({self.task_optimizer.describe()}); this strategy "
                f"was given {optimizer!r}: give it the task's numbers, or use "
                "FedshareFedAvg, which applies the task's optimizer")
        self.optimizer = optimizer

    def summary(self) -> None:
        log.info("fedshare server optimizer: %r", self.optimizer)
        super().summary()


class FedshareFedAdam(_FedshareFedOpt):
    """:class:`FedshareFedAvg` with FedAdam on the server (Reddi et al. 2021; Flower's
    ``FedAdam`` conventions): the decrypted aggregates drive Adam's moments,
    and Flower's model is ``x_r`` of :mod:`fedshare.serveropt`. Each node's
    mod must be given the same optimizer: ``FedshareMod(server_optimizer=
    fedshare.serveropt.Adam(eta, beta_1, beta_2, tau))`` (:attr:`optimizer`).

    Args: as :class:`FedshareFedAvg`, plus Flower's ``eta`` (0.1), ``beta_1``
    (0.9), ``beta_2`` (0.99), ``tau`` (1e-3).
    """

    def __init__(self, member: Member, task_id: bytes, *, eta: float = 0.1,
                 beta_1: float = 0.9, beta_2: float = 0.99, tau: float = 1e-3,
                 **kwargs: Any):
        super().__init__(member, task_id, Adam(eta, beta_1, beta_2, tau), **kwargs)


class FedshareFedYogi(_FedshareFedOpt):
    """:class:`FedshareFedAvg` with FedYogi on the server (Reddi et al. 2021; Flower's
    ``FedYogi`` conventions); the nodes' mods get
    ``server_optimizer=fedshare.serveropt.Yogi(eta, beta_1, beta_2, tau)``.

    Args: as :class:`FedshareFedAvg`, plus Flower's ``eta`` (0.01), ``beta_1``
    (0.9), ``beta_2`` (0.99), ``tau`` (1e-3).
    """

    def __init__(self, member: Member, task_id: bytes, *, eta: float = 1e-2,
                 beta_1: float = 0.9, beta_2: float = 0.99, tau: float = 1e-3,
                 **kwargs: Any):
        super().__init__(member, task_id, Yogi(eta, beta_1, beta_2, tau), **kwargs)
