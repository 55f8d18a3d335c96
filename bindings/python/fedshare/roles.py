"""fedshare.roles — what each member does in a round, and the loop that does it.

A member of a training task plays one or more roles:

* :class:`Participant` — trains on its own data (a :class:`fedshare.torch.LocalTrainer`),
  uploads the encrypted update with its weight and anomaly statistics, and
  evaluates every round's global model, which it recomputes itself from the
  recorded decryption shares;
* :class:`KeyHolder` — checks the round's aggregate and posts its decryption
  share. Only t shares are needed: in round r the t holders that follow
  holder (r − 1) mod n in the key's share order share at once; the others
  stand by and share only if a share is refused or the round has waited
  ``standby_s`` in the decrypt phase (a silent or slow holder), so the round
  pays for t batches of shares, not n, and is never stalled by one holder;
* :class:`Aggregator` — sums the encrypted updates and finalizes the round.

:func:`run_member` reads the task record after each committed block and
performs whichever act is due, round after round, until the task is done,
and returns where the time went::

    report = run_member(member, task_id, participant=p, keyholder=k, timeout=120)
    report["rounds"][0]  # {"round": 1, "compute_s": …, "crypto_s": …, "ledger_s": …,
                         #  "waiting_s": …, "other_s": …, "wall_s": …, "accuracy": 0.93, …}

Several processes act on the same task at once, so an act may be refused
because another member's act moved the phase first (a third key holder's share
once t are recorded). Such refusals (``FEDSHARE_E_STATE`` -511,
``FEDSHARE_E_EXISTS`` -509) are tolerated only when the ledger shows they are
benign, and listed in the report; anything else is raised.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable, Dict, List, Optional, Set, Tuple, TypeVar

import numpy as np

from . import errors, fedavg, serveropt
from ._native import code_value
from .consortium import PHASES, Member, model_digest
from .phe.threshold import ThresholdParams

__all__ = ["Participant", "KeyHolder", "Aggregator", "run_member", "E_STATE", "E_EXISTS"]

log = logging.getLogger("fedshare.roles")

#: libfedshare's codes for "not in this phase" and "already done".
E_STATE = code_value("FEDSHARE_E_STATE")
E_EXISTS = code_value("FEDSHARE_E_EXISTS")
#: the decrypted sum had a slot out of range: the aggregator refused the round
E_RANGE = code_value("FEDSHARE_E_RANGE")

_UPLOAD, _AGGREGATE, _DECRYPT, _FINALIZE, _EVALUATE, _DONE = 1, 2, 3, 4, 5, 6


_T = TypeVar("_T")


class _Meter:
    """Splits the wall time of member calls into crypto (libphe) and ledger time,
    and counts local compute, for one act."""

    def __init__(self, member: Member):
        self.member = member
        self.compute = 0.0
        self.crypto = 0.0
        self.ledger = 0.0

    def call(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        c0 = self.member.crypto_seconds
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            dt = time.perf_counter() - t0
            dc = max(0.0, self.member.crypto_seconds - c0)
            self.crypto += min(dc, dt)
            self.ledger += max(0.0, dt - dc)

    def timings(self) -> Dict[str, float]:
        return {"compute_s": self.compute, "crypto_s": self.crypto, "ledger_s": self.ledger}


def _params(params: Any) -> Any:
    """The task key as a :class:`ThresholdParams` handle, for every act of
    every round: an encoding is decoded here, once, when the role is made, and
    never again (the package's one native module lets the handle cross into
    :mod:`fedshare.consortium` as it is). Anything else is passed on as given
    (a stand-in member in tests)."""
    if isinstance(params, (bytes, bytearray, memoryview)):
        return ThresholdParams.from_bytes(bytes(params))
    return params


class Participant:
    """A participant's acts: upload its update, evaluate the global model.

    Args:
        member: the participant's connected :class:`fedshare.consortium.Member`.
        task_id: the task (32 bytes).
        params_bytes: the task key's threshold parameters
            (:class:`fedshare.phe.threshold.ThresholdParams`, or its encoding,
            decoded once here).
        trainer: the local procedure on the participant's own training data;
            its ``samples`` is the FedAvg weight.
        codec: the task's codec (:class:`fedshare.fedavg.Codec`).
        eval_X, eval_y: the participant's held-out data for the evaluation
            (None, None when the training and evaluation run elsewhere — in a
            Flower ClientApp, for instance — and only :meth:`submit_update` and
            :meth:`record_evaluation` are used; ``trainer`` may then be None).
        threads: libphe threads for the encryption (0: one).
    """

    def __init__(self, member: Member, task_id: bytes, params_bytes: Any, trainer: Any,
                 codec: fedavg.Codec, eval_X: Any, eval_y: Any, *, threads: int = 0):
        if eval_y is not None and len(np.asarray(eval_y).reshape(-1)) == 0:
            raise errors.InvalidInputError("the participant needs evaluation data")
        self.member = member
        self.task_id = bytes(task_id)
        self.params = _params(params_bytes)
        self.trainer = trainer
        self.codec = codec
        self.eval_X = eval_X
        self.eval_y = eval_y
        self.threads = threads
        #: accuracy this participant measured per round.
        self.accuracy: Dict[int, float] = {}
        #: the last global model it recomputed (None before its first evaluation).
        self.global_model: Optional[np.ndarray] = None
        #: the round of :attr:`global_model`.
        self.global_round = 0
        #: norm and cosine reported with the last upload.
        self.last_stats: Dict[str, float] = {}
        #: the update uploaded in each round (this member's own, kept locally:
        #: `fedshare train --dump-updates` writes them for checks like the demo's
        #: encrypted-vs-plain comparison; they never leave the process otherwise).
        self.updates: Dict[int, np.ndarray] = {}
        self._trained_from: Optional[np.ndarray] = None  # the global model of the last upload
        #: where the last act's time went (kept when the act raises).
        self.meter = _Meter(member)
        self._opt: Any = False  # the task's server optimizer (None: FedAvg), read once
        self._opt_state: Optional[serveropt.OptimizerState] = None

    def server_optimizer(self, task: Optional[Dict[str, Any]] = None
                         ) -> Optional[serveropt.ServerOptimizer]:
        """The task's server optimizer (None: FedAvg), as its record names it."""
        if self._opt is False:
            if task is None:
                task = self.member.task(self.task_id)
            if task is None:
                raise errors.NotFoundError("no such task")
            self._opt = serveropt.from_task(task)
        return self._opt  # type: ignore[no-any-return]

    def model_of_round(self, round: int, chain_model: np.ndarray,
                       meter: Optional[_Meter] = None) -> np.ndarray:
        """The model round ``round`` trains its successors from and is evaluated
        by: the chain model g_r itself (FedAvg), or x_r, the task's server
        optimizer replayed from the ledger and stepped with g_r."""
        opt = self.server_optimizer()
        if opt is None:
            return chain_model
        m = meter if meter is not None else _Meter(self.member)
        t0 = time.perf_counter()
        x, self._opt_state = m.call(serveropt.next_model, self.member, self.task_id, opt, round,
                                    chain_model, self._opt_state)
        m.compute += time.perf_counter() - t0
        return x

    @property
    def eval_samples(self) -> int:
        if self.eval_y is None:
            return 0
        return int(len(np.asarray(self.eval_y).reshape(-1)))

    def current_global(self, task: Optional[Dict[str, Any]] = None,
                       meter: Optional[_Meter] = None) -> np.ndarray:
        """The task's current global model: the one this participant recomputed
        last if the task record's digest names it, else fetched (and checked
        against the recorded digest)."""
        meter = meter or _Meter(self.member)
        if task is None:
            task = meter.call(self.member.task, self.task_id)
        # with a server optimizer the participants train from x (the task
        # record's server_model, which every participant's evaluation vouched for)
        if task is not None and self.server_optimizer(task) is not None:
            want = task.get("server_model")
        else:
            want = task.get("global_model") if task is not None else None
        if self.global_model is not None and model_digest(self.global_model).hex() == want:
            return self.global_model
        if want is not None and task is not None and self.server_optimizer(task) is not None:
            x: np.ndarray = meter.call(serveropt.fetch_model, self.member, bytes.fromhex(want))
            return x
        model: np.ndarray = meter.call(self.member.fetch_global, self.task_id)[0]
        return model

    def upload(self, round: int, task: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """Train from the current global model, and upload the encrypted update
        of round ``round`` with weight = local data size, its L2 norm and its
        cosine to the previous global update (0 when there is none). Returns
        the act's timings and statistics."""
        m = self.meter = _Meter(self.member)
        g = self.current_global(task, m)
        t0 = time.perf_counter()
        update = self.trainer.train_round(g)
        m.compute += time.perf_counter() - t0
        return self.submit_update(round, g, update, int(self.trainer.samples), meter=m)

    def submit_update(self, round: int, base: np.ndarray, update: np.ndarray, weight: int,
                      meter: Optional[_Meter] = None) -> Dict[str, Any]:
        """Pack ``update`` (the local model minus ``base``, the round's global
        model it was trained from), encrypt it under the task's key and upload it
        with ``weight`` (the local training-set size), its L2 norm and its cosine
        to the previous global update. Returns the act's timings and statistics."""
        m = meter if meter is not None else _Meter(self.member)
        self.meter = m
        g = np.asarray(base, dtype=np.float32).reshape(-1)
        update = np.ascontiguousarray(update, dtype=np.float32).reshape(-1)
        if update.size != g.size:
            raise errors.InvalidInputError(f"the update has {update.size} parameters, the "
                                           f"global model {g.size}")
        norm = fedavg.norm(update)
        if self._trained_from is not None and self._trained_from.size == g.size:
            cos = fedavg.cosine(update, g - self._trained_from)
        else:
            cos = 0.0
        weight = int(weight)
        packed, clipped = self.codec.pack(update, weight=weight, return_clipped=True)
        if clipped:
            # the codec clips each value to ±clip: the global model then differs from
            # plain FedAvg by more than the codec's bound (docs/fedavg-codec.md)
            log.warning("round %d: %d update values exceed the task codec's clip %g and are "
                        "clipped", round, clipped, self.codec.clip)
        log.info("round %d: encrypting %d plaintexts (%d values each)", round, packed.shape[0],
                 self.codec.values_per_plaintext)
        m.call(self.member.upload_update, self.task_id, round, self.params, packed,
               self.codec.plaintext_bytes, weight, norm, cos, threads=self.threads)
        self._trained_from = g
        self.updates[round] = update
        self.last_stats = {"norm": norm, "cosine": cos, "weight": weight}
        return {**m.timings(), **self.last_stats}

    def evaluate(self, round: int) -> Dict[str, Any]:
        """Recompute round ``round``'s global model from the recorded shares,
        measure its accuracy on the evaluation data and record the evaluation
        (digest, accuracy, evaluation sample count)."""
        if self.eval_y is None:
            raise errors.InvalidInputError("this participant has no evaluation data")
        m = self.meter = _Meter(self.member)
        # the recomputed model's digest goes with the evaluation: the contract
        # records a dispute if it is not the aggregator's
        model = m.call(self.member.compute_global, self.task_id, round, self.params)
        # with a server optimizer: x_r replayed from the ledger (a forged x_r on
        # the ledger is disputed by this digest as a forged g_r is)
        model = self.model_of_round(round, model, m)
        t0 = time.perf_counter()
        acc = float(self.trainer.evaluate(model, self.eval_X, self.eval_y))
        m.compute += time.perf_counter() - t0
        return self.record_evaluation(round, model, acc, self.eval_samples, meter=m)

    def recompute_global(self, round: int, meter: Optional[_Meter] = None) -> np.ndarray:
        """Round ``round``'s global model recomputed from the recorded decryption
        shares (every proof verified); raises :class:`fedshare.VerificationError`
        unless its digest is the one the round records (for a caller that must
        not load a model the aggregator misstated, e.g. before a Flower evaluate)."""
        m = meter if meter is not None else _Meter(self.member)
        model = m.call(self.member.compute_global, self.task_id, round, self.params)
        rnd = m.call(self.member.round, self.task_id, round)
        recorded = rnd.get("global_model") if rnd else None
        if recorded is not None and recorded != model_digest(model).hex():
            raise errors.VerificationError(
                f"round {round}: the model recomputed from the shares is not the recorded one")
        return model

    def record_evaluation(self, round: int, model: np.ndarray, accuracy: float, samples: int,
                          meter: Optional[_Meter] = None) -> Dict[str, Any]:
        """Record this participant's evaluation of round ``round``'s model (the
        one it recomputed): its digest, the accuracy and the evaluation count."""
        m = meter if meter is not None else _Meter(self.member)
        self.meter = m
        digest = model_digest(model)
        acc = float(accuracy)
        m.call(self.member.evaluate, self.task_id, round, digest, acc, int(samples))
        self.accuracy[round] = acc
        self.global_model = model
        self.global_round = round
        return {**m.timings(), "accuracy": acc, "digest": digest.hex()}


class KeyHolder:
    """A key holder's act: check the aggregate and post a decryption share.

    Args:
        member: the holder's connected member client.
        task_id: the task.
        params_bytes: the task key's threshold parameters (as for :class:`Participant`).
        share: the holder's :class:`fedshare.phe.threshold.KeyShare` (unsealed).
        standby_s: seconds a standby holder (not one of the round's first t)
            waits in the decrypt phase before it shares anyway; None: a third
            of :func:`run_member`'s stall ``timeout``. A refused share ends the
            wait at once.
    """

    def __init__(self, member: Member, task_id: bytes, params_bytes: Any, share: Any,
                 *, standby_s: Optional[float] = None):
        if standby_s is not None and not standby_s >= 0:
            raise errors.InvalidInputError("standby_s must be a number of seconds >= 0")
        self.member = member
        self.task_id = bytes(task_id)
        self.params = _params(params_bytes)
        self.key_share = share
        self.standby_s = standby_s
        #: rounds in which this holder found the recorded aggregate wrong.
        self.mismatches: List[int] = []
        #: rounds in which this holder, a standby, shared in place of a first one.
        self.stood_in: List[int] = []
        #: where the last act's time went (kept when the act raises).
        self.meter = _Meter(member)
        # (key_id hex, [holder DIDs] or None): the key record, read once per key
        self._holders: Optional[Tuple[str, Optional[List[str]]]] = None
        #: while standing by: seconds after the decrypt phase began when it shares
        self.standby_total = 0.0

    def first_holders(self, task: Dict[str, Any], round: int) -> Optional[List[str]]:
        """The DIDs of the t holders that share first in ``round`` (the t that
        follow holder (round − 1) mod n in share order, so the work rotates), or
        None when the task record names no key (every holder then shares)."""
        key_id = task.get("key_id")
        if key_id is None or not hasattr(self.member, "key_holders"):
            return None
        if self._holders is None or self._holders[0] != key_id:
            try:
                hs: Optional[List[str]] = list(self.member.key_holders(bytes.fromhex(key_id)))
            except errors.NotFoundError:
                hs = None
            self._holders = (key_id, hs)
        hs = self._holders[1]
        if not hs:
            return None
        # a holder retired from the consortium, or that lost the key-holder role, is no
        # longer asked: the rotation runs over the holders in force
        active = self.holders_in_force()
        if active is not None:
            hs = [h for h in hs if h in active]
            if not hs:
                return None
        n, t = len(hs), min(int(task["threshold"]), len(hs))
        return [hs[(round - 1 + k) % n] for k in range(t)]

    def holders_in_force(self) -> Optional[Set[str]]:
        """The DIDs of the members that are key holders in the latest membership the
        chain records (docs/fedshare-contracts.md §Membership), or None while the
        configuration's members are in force."""
        rec_of = getattr(self.member, "members_record", None)
        rec = rec_of() if rec_of is not None else None
        if rec is None:
            return None
        return {e["did"] for e in rec["members"]
                if e["status"] == "active" and "keyholder" in e["roles"]}

    def left(self) -> bool:
        """This holder was retired or lost the key-holder role: it shares no more."""
        active = self.holders_in_force()
        return active is not None and self.member.did not in active

    def standby_left(self, task: Dict[str, Any], round: int, shares: List[Dict[str, Any]],
                     since: float, default_s: float) -> float:
        """Seconds this holder still stands by in ``round`` (0: it shares now).
        ``since``: seconds the round has been in the decrypt phase as this
        member saw it. A first holder never waits; a standby waits until
        ``standby_s`` (or ``default_s``) has passed, unless a share was refused."""
        first = self.first_holders(task, round)
        if first is None or self.member.did in first:
            return 0.0
        if any(s.get("refused") for s in shares):
            return 0.0
        limit = self.standby_s if self.standby_s is not None else default_s
        return max(0.0, limit - since)

    def share(self, round: int, check: bool = False) -> Dict[str, Any]:
        """Post this holder's decryption share of round ``round``'s aggregate
        (which it recomputes first; a wrong aggregate is refused by the act and
        raises :class:`fedshare.VerificationError`). With ``check`` (a holder
        that is also a participant) it first records an aggregate check; if the
        check finds a mismatch it posts no share and reports ``matched`` False."""
        m = self.meter = _Meter(self.member)
        out: Dict[str, Any] = {"matched": True, "checked": False}
        if check:
            out["checked"] = True
            if not m.call(self.member.check_aggregate, self.task_id, round, self.params):
                self.mismatches.append(round)
                out["matched"] = False
                return {**m.timings(), **out}
        log.info("round %d: decryption share", round)
        m.call(self.member.post_decryption_share, self.task_id, round, self.params,
               self.key_share)
        return {**m.timings(), **out}


class Aggregator:
    """The aggregator's acts: the encrypted sum, then the round's global model."""

    def __init__(self, member: Member, task_id: bytes, params_bytes: Any, *, threads: int = 0,
                 forge_server_model: Optional[Callable[[int, np.ndarray], np.ndarray]] = None):
        self.member = member
        self.task_id = bytes(task_id)
        self.params = _params(params_bytes)
        self.threads = threads
        #: where the last act's time went (kept when the act raises).
        self.meter = _Meter(member)
        self._opt: Any = False
        self._opt_state: Optional[serveropt.OptimizerState] = None
        #: tests only: (round, x_r) -> the x_r recorded instead (a cheating aggregator)
        self.forge_server_model = forge_server_model

    def aggregate(self, round: int) -> Dict[str, Any]:
        """Sum the accepted encrypted updates of ``round`` and record the sum's hash."""
        m = self.meter = _Meter(self.member)
        m.call(self.member.aggregate, self.task_id, round, self.params, threads=self.threads)
        return m.timings()

    def finalize(self, round: int) -> Dict[str, Any]:
        """Combine the shares into the new global model, store it and record its digest."""
        m = self.meter = _Meter(self.member)
        if self._opt is False:
            task = m.call(self.member.task, self.task_id)
            if task is None:
                raise errors.NotFoundError("no such task")
            self._opt = serveropt.from_task(task)
        if self._opt is None:
            m.call(self.member.finalize_round, self.task_id, round, self.params)
            return m.timings()
        # a server optimizer: x_r = the optimizer replayed from the ledger and
        # stepped with g_r, recorded beside g_r
        try:
            g = m.call(self.member.compute_global, self.task_id, round, self.params)
        except errors.Error:
            # the plain finalize records what is wrong (share verdicts, a sum out
            # of range) and raises it
            m.call(self.member.finalize_round, self.task_id, round, self.params)
            raise
        t0 = time.perf_counter()
        x, self._opt_state = m.call(serveropt.next_model, self.member, self.task_id, self._opt,
                                    round, g, self._opt_state)
        m.compute += time.perf_counter() - t0
        if self.forge_server_model is not None:
            x = self.forge_server_model(round, x)
        m.call(self.member.finalize_round, self.task_id, round, self.params, server_model=x)
        return m.timings()


# --- the loop -----------------------------------------------------------------

_KEYS = ("compute_s", "crypto_s", "ledger_s", "waiting_s", "other_s", "wall_s")


def _new_round(r: int) -> Dict[str, Any]:
    d: Dict[str, Any] = {"round": r}
    d.update({k: 0.0 for k in _KEYS})
    d["accuracy"] = None
    d["acts"] = []
    return d


def _index_of(task: Dict[str, Any], public_key: bytes) -> int:
    me = public_key.hex()
    for i, p in enumerate(task["participants"]):
        if p["public_key"] == me:
            return i
    return -1


#: Longest single wait for the next block before the task record is read again.
WAKE_MS = 2000


def run_member(member: Member, task_id: bytes, *, participant: Optional[Participant] = None,
               keyholder: Optional[KeyHolder] = None, aggregator: Optional[Aggregator] = None,
               timeout: float = 120.0, poll: float = 0.02, progress: bool = False,
               on_verdict: Optional[Callable[[Dict[str, Any]], None]] = None) -> Dict[str, Any]:
    """Play this member's roles in the task until it is done.

    Polls the task record and, in each round, uploads (phase upload, as
    participant), aggregates (phase aggregate, as aggregator), checks the
    aggregate and posts a share (phase decrypt, as key holder, while fewer than
    t shares are recorded — at once if it is one of the round's first t
    holders, else after the standby time or a refused share; the check only
    if also a participant), finalizes
    (phase finalize, as aggregator) and evaluates (phase evaluate, as
    participant). A participant that has not joined the task joins it first.

    Args:
        member: the member's connected client.
        task_id: the task.
        participant, keyholder, aggregator: the roles this member plays
            (at least one).
        timeout: seconds the task may stay in the same round and phase before
            :class:`fedshare.TimeoutError` is raised (a stalled consortium).
        poll: ignored (kept for compatibility): while nothing is due the member
            waits for the next committed block, not for a fixed interval.
        progress: show a progress line per round on stderr (tqdm if installed).
        on_verdict: called once per round this participant uploaded in, as soon
            as the round's updates are judged, with ``{"round", "verdict"
            ("accepted", "warmup" or "suspicious"), "left_out" (bool), "norm",
            "cosine"}``; a left-out update is also logged as a warning on the
            ``fedshare.roles`` logger.

    Returns:
        ``{"member": DID, "roles": [...], "rounds": [per round: round,
        compute_s (local torch work), crypto_s (libphe, from
        member.crypto_seconds), ledger_s (member calls minus crypto),
        waiting_s (waiting for the other members' acts), other_s (the rest:
        packing, statistics, bookkeeping), wall_s (their sum), accuracy (this
        participant's, or None), acts], "joining": the same keys for the time
        before round 1, "totals": sums over rounds and joining,
        "final_round", "stop_reason", "metrics" (the task's per-round metric),
        "global_model_digest" (the task's final model, fetched and checked),
        "computed_digest" (the last model this participant recomputed, or
        None), "benign_refusals": [{round, phase, act, code}],
        "aggregates_refused": rounds where a check or share found the
        recorded aggregate wrong, "stood_in": rounds in which this key holder,
        a standby, shared in place of one of the first t, "sums_refused": rounds this aggregator
        refused because the decrypted sum was out of range, "verdicts": {round: this participant's
        verdict}, "left_out": rounds in which its update was left out of the
        sum, "left_task": the round in which this participant, retired from the
        consortium, left the task (None if it did not; then it stops, and
        "global_model_digest" is None, unless another role still has work)}``.

    Raises:
        fedshare.TimeoutError: the task did not move for ``timeout`` seconds.
        fedshare.Error: any refusal or failure that is not a benign race.
    """
    from .torch import Progress

    if participant is None and keyholder is None and aggregator is None:
        raise errors.InvalidInputError("run_member needs at least one role")
    task_id = bytes(task_id)
    for role in (participant, keyholder, aggregator):
        if role is not None and (role.member is not member or role.task_id != task_id):
            raise errors.InvalidInputError("every role must act for this member and task")
    did = member.did
    roles = [n for n, r in (("participant", participant), ("keyholder", keyholder),
                            ("aggregator", aggregator)) if r is not None]
    rounds: Dict[int, Dict[str, Any]] = {}
    joining = _new_round(0)
    benign: List[Dict[str, Any]] = []
    refused_aggr: List[int] = []
    retried: Set[Tuple[Tuple[int, int], str, int]] = set()
    sums_refused: List[int] = []
    pending: List[int] = []  # rounds uploaded in, verdict not yet seen
    verdicts: Dict[int, str] = {}
    left_task: Optional[int] = None  # the round in which this participant left the task

    def see_verdicts(r_now: int, ph_now: int, task: Dict[str, Any]) -> None:
        for u in list(pending):
            if u == r_now and ph_now == _UPLOAD:
                continue  # still uploading: not judged yet
            rec = member.round(task_id, u)
            pi = _index_of(task, member.public_key)
            # judged once every participant still in the task uploaded (one that
            # was retired meanwhile is waited for no more)
            if rec is None or pi < 0 or not all(
                    x["present"] or p.get("left")
                    for x, p in zip(rec["updates"], task["participants"])):
                continue
            mine = rec["updates"][pi]
            if not mine["present"]:  # this participant left the task: its update was dropped
                pending.remove(u)
                continue
            v = mine.get("verdict", "accepted")
            pending.remove(u)
            verdicts[u] = v
            if v == "suspicious":
                log.warning("round %d: this member's update was LEFT OUT of the sum: the task's "
                            "anomaly rule judged it suspicious (norm %.4g, cosine %.3f); "
                            "`fedshare audit verdicts` shows the scores", u, mine["norm"],
                            mine["cosine"])
            if on_verdict is not None:
                on_verdict({"round": u, "verdict": v, "left_out": v == "suspicious",
                            "norm": mine["norm"], "cosine": mine["cosine"]})

    def slot(r: int) -> Dict[str, Any]:
        if r == 0:
            return joining
        if r not in rounds:
            rounds[r] = _new_round(r)
        return rounds[r]

    def charge(r: int, t0: float, waiting: float = 0.0, res: Optional[Dict[str, Any]] = None,
               act: Optional[str] = None) -> None:
        s = slot(r)
        wall = time.perf_counter() - t0
        s["waiting_s"] += waiting
        spent = waiting
        if res is not None:
            for k in ("compute_s", "crypto_s", "ledger_s"):
                s[k] += res[k]
                spent += res[k]
        other = max(0.0, wall - spent)
        s["other_s"] += other
        s["wall_s"] += spent + other  # = wall: every part is measured inside it
        if act:
            s["acts"].append(act)

    last_state = None
    last_change = time.monotonic()
    bar = Progress(total=None, desc=f"{did[-8:]} rounds", enabled=progress)
    shown_round = 0
    try:
        while True:
            t0 = time.perf_counter()
            task = member.task(task_id)
            if task is None:
                raise errors.NotFoundError("no such task", library="fedshare",
                                           code=code_value("FEDSHARE_E_NOT_FOUND"))
            r, ph = int(task["round"]), int(task["phase"])
            if pending:
                see_verdicts(r, ph, task)
            if ph == _DONE:
                charge(max(r, 0), t0, waiting=time.perf_counter() - t0)
                break
            state = (r, ph)
            now = time.monotonic()
            if state != last_state:
                last_state, last_change = state, now
                if r > shown_round:
                    if shown_round:
                        bar.update(1)
                    shown_round = r
            elif now - last_change > timeout:
                raise errors.TimeoutError_(
                    f"task stayed in round {r} phase {PHASES[ph]} for {timeout:g} s")
            read_s = time.perf_counter() - t0

            act, check = _due(member, task, r, ph, did, participant, keyholder, aggregator,
                              task_id, since=now - last_change, standby_default=timeout / 3)
            if act == "left":
                # retired from the consortium: this participant left the task, which
                # goes on without it; stop unless another role still has work
                if left_task is None:
                    left_task = r
                    log.warning("round %d: this member was retired and left the task; the "
                                "task goes on without it", r)
                if aggregator is None and (keyholder is None or keyholder.left()):
                    charge(r, t0, waiting=read_s)
                    break
                act = None
            if act == "standby":
                # not one of this round's first t holders: wait for their shares,
                # and step in once the standby time has passed
                assert keyholder is not None  # only a key holder stands by
                standby_until = last_change + keyholder.standby_total
                act = None
            else:
                standby_until = None
            if act is None:
                # nothing due: wait for the next committed block and look again
                # (whatever another member did is in it; no polling)
                w0 = time.perf_counter()
                left_ms = int((last_change + timeout - time.monotonic()) * 1000)
                try:
                    # at most WAKE_MS at a time: a block announcement that never
                    # reached us (a link that dropped and came back) costs one
                    # slice, not the whole stall timeout
                    wake_ms = min(left_ms, WAKE_MS)
                    if standby_until is not None:
                        wake_ms = min(wake_ms, int((standby_until - time.monotonic()) * 1000) + 1)
                    member.wait_height(member.seen_height + 1, timeout_ms=max(wake_ms, 1))
                except errors.TimeoutError_:
                    pass  # the stall check above names the phase
                charge(r, t0, waiting=read_s + time.perf_counter() - w0)
                continue

            role = {"upload": participant, "evaluate": participant, "share": keyholder,
                    "aggregate": aggregator, "finalize": aggregator}.get(act)
            if role is not None:
                role.meter = _Meter(member)
            bar.set_postfix(f"round {r}: {act}")
            try:
                if act == "join":
                    res = _plain(member, member.join_task, task_id)
                elif act == "upload":
                    assert participant is not None  # _due: an act of a role held
                    res = participant.upload(r, task)
                    pending.append(r)
                elif act == "aggregate":
                    assert aggregator is not None
                    res = aggregator.aggregate(r)
                elif act == "share":
                    assert keyholder is not None
                    first = keyholder.first_holders(task, r)
                    res = keyholder.share(r, check=check)
                    if first is not None and did not in first:
                        keyholder.stood_in.append(r)
                        log.info("round %d: shared as a standby holder", r)
                    if not res["matched"]:
                        refused_aggr.append(r)
                        log.warning("round %d: the recorded aggregate is not the sum of the "
                                    "recorded updates; the check refused it", r)
                elif act == "finalize":
                    assert aggregator is not None
                    res = aggregator.finalize(r)
                else:  # evaluate
                    assert participant is not None
                    res = participant.evaluate(r)
                    slot(r)["accuracy"] = res["accuracy"]
                    bar.set_postfix(f"round {r} accuracy {res['accuracy']:.4f}")
            except errors.VerificationError as e:
                if act == "finalize" and e.code == E_RANGE:
                    # a member wrote past its slots: the round is refused on the
                    # ledger (SUM_REFUSED), the global model stays, the task goes on
                    sums_refused.append(r)
                    assert role is not None  # finalize is the aggregator's
                    log.warning("round %d: the decrypted sum is out of the range the accepted "
                                "updates allow; the round was refused", r)
                    charge(r, t0, waiting=read_s, res=role.meter.timings(),
                           act="finalize-refused-sum")
                    continue
                if act != "share":
                    raise
                # the holder recomputed another sum: its act refused the aggregate
                refused_aggr.append(r)
                assert role is not None  # share is the key holder's
                log.warning("round %d: decryption share refused the aggregate: %s", r, e)
                charge(r, t0, waiting=read_s, res=role.meter.timings(),
                       act=f"{act}-refused-aggregate")
                continue
            except errors.Error as e:
                if e.code not in (E_STATE, E_EXISTS):
                    raise
                if not _benign(member, task_id, state, act, e.code, participant, did, retried):
                    raise
                benign.append({"round": r, "phase": PHASES[ph], "act": act, "code": e.code})
                if act == "upload" and r not in pending and r not in verdicts:
                    pending.append(r)  # our earlier attempt committed
                log.info("round %d: %s refused with %d after the phase moved on (benign)",
                         r, act, e.code)
                charge(r, t0, waiting=read_s,
                       res=role.meter.timings() if role is not None else None, act=f"{act}-late")
                continue
            charge(r, t0, waiting=read_s, res=res, act=act)
    finally:
        bar.close()

    final = task
    model = None
    if left_task is None:  # a member that left has no final model to fetch
        t0 = time.perf_counter()
        m = _Meter(member)
        model, _ = m.call(member.fetch_global, task_id)
        last = max(rounds) if rounds else 0
        charge(last, t0, res={"compute_s": 0.0, **{k: v for k, v in m.timings().items()
                                                   if k != "compute_s"}}, act="fetch-final")
    out_rounds = [rounds[k] for k in sorted(rounds)]
    totals = {k: sum(s[k] for s in out_rounds) + joining[k] for k in _KEYS}
    return {
        "member": did,
        "roles": roles,
        "rounds": out_rounds,
        "joining": joining,
        "totals": totals,
        "final_round": int(final["round"]),
        "stop_reason": int(final["stop_reason"]),
        "metrics": list(final["metrics"]),
        "global_model_digest": model_digest(model).hex() if model is not None else None,
        # with a server optimizer: x of the last round (what the participants train from)
        "server_model_digest": final.get("server_model"),
        "computed_digest": (model_digest(participant.global_model).hex()
                            if participant is not None and participant.global_model is not None
                            else None),
        "samples": int(participant.trainer.samples) if participant is not None else None,
        "eval_samples": participant.eval_samples if participant is not None else None,
        "benign_refusals": benign,
        "aggregates_refused": refused_aggr,
        "stood_in": list(keyholder.stood_in) if keyholder is not None else [],
        "sums_refused": sums_refused,
        "verdicts": verdicts,
        "left_out": sorted(r for r, v in verdicts.items() if v == "suspicious"),
        "left_task": left_task,
    }


def _plain(member: Member, fn: Callable[..., Any], *args: Any) -> Dict[str, float]:
    m = _Meter(member)
    m.call(fn, *args)
    return m.timings()


def _due(member: Member, task: Dict[str, Any], r: int, ph: int, did: str,
         participant: Optional[Participant], keyholder: Optional[KeyHolder],
         aggregator: Optional[Aggregator], task_id: bytes, since: float = 0.0,
         standby_default: float = 0.0) -> Tuple[Optional[str], bool]:
    """The act due now (or None) and, for a share, whether to check first —
    decided from the ledger's records, not from local memory, so a phase that
    goes back (a refused aggregate, a disputed model) is handled. A standby
    key holder gets ``("standby", False)`` while it waits (the seconds it
    stands by in all are left in ``keyholder.standby_total``)."""
    pi = _index_of(task, member.public_key) if participant is not None else -1
    if participant is not None and pi < 0:
        raise errors.AccessDeniedError("this member is not a participant of the task",
                                       code=code_value("FEDSHARE_E_ROLE"), library="fedshare")
    if participant is not None and task["participants"][pi].get("left"):
        return "left", False  # retired: the task goes on without this participant
    if ph == 0:
        if participant is not None and not task["participants"][pi]["joined"]:
            return "join", False
        return None, False
    if ph == _AGGREGATE and aggregator is not None:
        return "aggregate", False
    if ph == _FINALIZE and aggregator is not None:
        return "finalize", False
    if ph in (_UPLOAD, _EVALUATE) and participant is not None:
        rnd = member.round(task_id, r)
        u = rnd["updates"][pi] if rnd else None
        if ph == _UPLOAD and (u is None or not u["present"]):
            return "upload", False
        if ph == _EVALUATE and u is not None and not u["evaluated"]:
            return "evaluate", False
        return None, False
    if ph == _DECRYPT and keyholder is not None:
        if keyholder.left():
            return None, False  # retired, or no longer a key holder: never asked
        rnd = member.round(task_id, r)
        if rnd is None:
            return None, False
        shares = rnd["shares"]
        good = [s for s in shares if not s.get("refused")]
        if len(good) >= int(task["threshold"]) or any(s["holder"] == did for s in shares):
            return None, False
        left = keyholder.standby_left(task, r, shares, since, standby_default)
        if left > 0:
            keyholder.standby_total = since + left
            return "standby", False
        check = pi >= 0 and not rnd["updates"][pi]["checked"]
        return "share", check
    return None, False


def _benign(member: Member, task_id: bytes, state: Tuple[int, int], act: str, code: int,
            participant: Optional[Participant], did: str,
            retried: Set[Tuple[Tuple[int, int], str, int]]) -> bool:
    """Whether a refusal with ``code`` was a race lost to another member's act:
    the phase has moved on since the act was decided, or the act is already
    recorded (an earlier attempt of ours committed). The same refusal in the
    same unchanged state twice is not benign."""
    task = member.task(task_id)
    if task is None:
        return False
    now = (int(task["round"]), int(task["phase"]))
    if now != state:
        return True
    r = state[0]
    if code == E_EXISTS:
        rnd = member.round(task_id, r)
        if rnd is not None:
            if act == "share" and any(s["holder"] == did for s in rnd["shares"]):
                return True
            if participant is not None and act in ("upload", "evaluate"):
                pi = _index_of(task, member.public_key)
                u = rnd["updates"][pi]
                if (act == "upload" and u["present"]) or (act == "evaluate" and u["evaluated"]):
                    return True
        if act == "join":
            pi = _index_of(task, member.public_key)
            return pi >= 0 and bool(task["participants"][pi]["joined"])
    # same state: a phase may have left and come back between reads; retry once
    key = (state, act, code)
    if key in retried:
        return False
    retried.add(key)
    return True
