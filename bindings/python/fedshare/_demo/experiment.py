"""The seed paper's experiment (section 3): three hospitals train one
disease-prediction model without sharing patient records, compared with the
same model trained on the pooled data.

Everything the contracts do happens for real: four node processes (three
hospitals and a regulator) replicate the ledger by PBFT on loopback; a 2-of-3
consortium key comes from a recorded ceremony (without a dealer by default),
its shares sealed at rest;
each hospital seals its records, registers them and sets a policy; hospital A
is granted access by policy and creates the task; each hospital is a separate
trainer process holding only its own CSV; rounds are aggregated under
encryption, decrypted by threshold, hashes verified, the stop rule applied; the
trail is traced, and a stored block is tampered with to show that verification
names it.

``fedshare demo`` runs it on the Wisconsin diagnostic breast-cancer data that
ships with scikit-learn; ``--data A.csv B.csv … --label COLUMN`` runs it on
one's own records, 2 to 10 centers (each its own trainer process, all of them
key holders of a t-of-n key), with ``--test TA.csv TB.csv …`` a held-out test
CSV per center. Accuracy is reported per center and averaged over centers (as
multi-center benchmarks report it) beside the pooled test accuracy, each with a
95 % confidence interval. The report (Markdown and PNG plots) goes to ``--report``.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .. import errors
from .._cli.args import input_file, integer, output_dir, real, write_secret

#: The centers' names (the first ``n`` of them take part in a run).
HOSPITALS = tuple(f"hospital-{c}" for c in "abcdefghij")
#: Centers a run may have.
MIN_CENTERS, MAX_CENTERS = 2, 10
#: Hospital A (dealer, aggregator, task creator), hospital B (whose trail is
#: shown); REG is the regulator's node (node indices, not member indices).
A, B, C, REG = 0, 1, 2, 3


def key_threshold(centers: int) -> int:
    """t of the t-of-n consortium key over ``centers`` holders: a majority, at least 2."""
    return max(2, centers // 2 + 1) if centers > 2 else 2


POLICY = """
// Each hospital's data: model training only, by member hospitals with an ethics
// approval, within the study period, at most 100 uses; never export raw data.
@id("hospitals_train")
@obligation("no_export")
permit (principal is Member, action == Action::"train", resource is Dataset)
when {{
  context.purpose == "training"
  && context.now < datetime("{end}")
  && context.period_end <= datetime("{end}")
  && resource.uses < 100
  && principal in [{orgs}]
  && principal.credentials.contains("irb")
}};

@id("no_raw_export")
forbid (principal, action in [Action::"export", Action::"download"], resource is Dataset);
"""


def _free_port() -> int:
    from ..node import free_port  # below the ephemeral range: see there

    return free_port()


def _say(msg: str) -> None:
    print(msg, flush=True)


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------

@dataclass
class Dataset:
    X: np.ndarray  # float64, unscaled (each center scales its own: fedshare.data.scale)
    y: np.ndarray  # float32 labels 0/1
    feature_names: List[str]
    label: str
    source: str
    #: the data-set label recorded on the ledger (what the records are)
    ledger_label: str = "breast-cancer-records"
    #: how the label was read, and what the loader did to each file (fedshare.data)
    label_rule: str = "0/1"
    counts: List[Dict[str, Any]] = field(default_factory=list)
    #: feature scaling: "center" (each center its own) or "federated"
    scaling: str = "center"
    #: the bundled Wisconsin set (the report quotes the seed paper only for it)
    bundled: bool = False


def load_default() -> Dataset:
    """Wisconsin diagnostic breast cancer (569 patients, 30 features), bundled
    with scikit-learn; label 1 = malignant."""
    from sklearn.datasets import load_breast_cancer

    d = load_breast_cancer()
    y = (d.target == 0).astype(np.float32)  # sklearn: 0 malignant, 1 benign
    return Dataset(d.data.astype(np.float64), y, list(d.feature_names), "malignant",
                   "Wisconsin diagnostic breast cancer (scikit-learn)", bundled=True)


def load_digits() -> Dataset:
    """scikit-learn's handwritten digits (1,797 8×8 grey images, 10 classes),
    pixels scaled to [0, 1]: the CNN's data set."""
    from sklearn.datasets import load_digits as _load

    d = _load()
    return Dataset((d.data / 16.0).astype(np.float64), d.target.astype(np.float32),
                   [f"px{i}" for i in range(d.data.shape[1])], "digit",
                   "handwritten digits, 8×8 images, 10 classes (scikit-learn)",
                   ledger_label="digit-images", label_rule="class 0–9")


def load_csvs(paths: Sequence[str], label: str, options: Any = None,
              scaling: str = "center") -> Tuple[Dataset, List[np.ndarray]]:
    """One CSV per hospital, same columns, read by :mod:`fedshare.data` (missing
    values, files without a header, a label rule, categorical columns: the
    ``options``, a :class:`fedshare.data.LoadOptions`; by default a header line
    and a 0/1 label named ``label``)."""
    from .. import data

    opt = options if options is not None else data.LoadOptions(label=label)
    t = data.load_centers(paths, opt)
    return Dataset(t.X, t.y, t.feature_names, t.label, t.source, t.ledger_label, t.label_rule,
                   t.counts, scaling), t.owners


def split_hospitals(ds: Dataset, mode: str, rng: np.random.Generator) -> List[np.ndarray]:
    """Indices of each hospital's records: 'even' (stratified thirds) or 'skewed'
    (sizes 50/30/20 % and label skew: A mostly benign, C mostly malignant)."""
    idx = rng.permutation(len(ds.y))
    if mode == "even" and ds.label_rule == "class 0–9":  # the digits: stratified by class
        return [np.sort(np.concatenate([idx[ds.y[idx] == c][i::3] for c in range(10)]))
                for i in range(3)]
    if mode == "even":
        pos, neg = idx[ds.y[idx] == 1], idx[ds.y[idx] == 0]
        return [np.sort(np.concatenate([pos[i::3], neg[i::3]])) for i in range(3)]
    if mode != "skewed":
        raise errors.InvalidInputError("split is 'even' or 'skewed'")
    pos, neg = list(idx[ds.y[idx] == 1]), list(idx[ds.y[idx] == 0])
    sizes = [int(0.5 * len(idx)), int(0.3 * len(idx))]
    sizes.append(len(idx) - sum(sizes))
    malignant_share = [0.15, 0.40, 0.75]
    out = []
    for h in range(3):
        want_pos = min(len(pos), int(round(sizes[h] * malignant_share[h]))) if h < 2 else len(pos)
        take_pos = pos[:want_pos]
        pos = pos[want_pos:]
        want_neg = sizes[h] - len(take_pos) if h < 2 else len(neg)
        take_neg = neg[:want_neg]
        neg = neg[want_neg:]
        out.append(np.sort(np.array(take_pos + take_neg, dtype=np.int64)))
    return out


# ---------------------------------------------------------------------------
# The consortium
# ---------------------------------------------------------------------------

class Consortium:
    """Four node processes and the members' keys, in a work directory."""

    def __init__(self, work: Path, block_period_ms: int = 10, sync: bool = False,
                 centers: int = 3):
        from .. import ledger

        if not MIN_CENTERS <= centers <= MAX_CENTERS:
            raise errors.InvalidInputError(
                f"a consortium of {MIN_CENTERS} to {MAX_CENTERS} centers, not {centers}")
        self.work = work
        self.centers = centers
        self.procs: Dict[int, Any] = {}  # fedshare.node.NodeProcess
        self.metrics_port = {i: _free_port() for i in range(4)}
        self.sync = sync
        lines = [f"chain_id {secrets.token_hex(32)}", "f 1", f"block_period_ms {block_period_ms}",
                 "view_timeout_ms 2000"]
        for i in range(4):
            seed = secrets.token_bytes(32)
            key = work / f"node{i}.key"
            key.unlink(missing_ok=True)  # a fresh key per run, as the chain is
            write_secret(key, seed.hex().encode())  # mode 0600 from the start
            lines.append(f"replica {i} 127.0.0.1:{_free_port()} "
                         f"{ledger.Signer(seed).public_key.hex()}")
        self.member_keys: List[Path] = []
        roles = (["provider,keyholder,aggregator,publisher"] +
                 ["provider,keyholder"] * (centers - 1) + ["regulator"])
        for name, role in zip(list(HOSPITALS[:centers]) + ["regulator"], roles):
            seed = secrets.token_bytes(32)
            key = work / f"{name}.member.key"
            key.unlink(missing_ok=True)
            write_secret(key, seed.hex().encode())
            self.member_keys.append(key)
            lines.append(f"member {name} {ledger.Signer(seed).public_key.hex()} roles={role} "
                         f"org={name} credentials=irb")
        self.config = work / "consortium.conf"
        self.config.write_text("\n".join(lines) + "\n")

    def seed(self, i: int) -> bytes:
        return bytes.fromhex(self.member_keys[i].read_text().strip())

    def start(self, i: int) -> None:
        from ..node import NodeProcess, node_argv

        argv = node_argv(self.config, id=i, key=self.work / f"node{i}.key",
                         data_dir=self.work / f"node{i}", sync=self.sync,
                         metrics_port=self.metrics_port[i])
        try:
            self.procs[i] = NodeProcess(argv, self.work / f"node{i}.log")
        except errors.Error as exc:
            self.close()
            raise errors.Error(f"node {i} did not start: {exc}") from None

    def stop(self, i: int) -> None:
        p = self.procs.pop(i, None)
        if p is not None:
            p.stop(timeout=30)

    def metrics(self, i: int) -> Dict[str, float]:
        import urllib.request

        page = urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port[i]}/metrics",
                                      timeout=10).read().decode()
        out = {}
        for line in page.splitlines():
            if line and not line.startswith("#"):
                k, v = line.rsplit(" ", 1)
                out[k] = float(v)
        return out

    def close(self) -> None:
        for i in list(self.procs):
            self.procs.pop(i).kill()


# ---------------------------------------------------------------------------
# One configuration: model × split
# ---------------------------------------------------------------------------

@dataclass
class RunResult:
    model: str
    split: str
    sizes: List[int]
    fed_accuracy: float = 0.0
    plain_accuracy: float = 0.0  # plain FedAvg, no anomaly filter
    #: plain FedAvg with the very verdicts of the encrypted run (its left-out
    #: updates left out, its skipped rounds skipped): encrypted vs this = encryption alone
    plain_verdict_accuracy: float = 0.0
    central_accuracy: float = 0.0
    fed_rounds: int = 0
    central_rounds: int = 0
    fed_curve: List[float] = field(default_factory=list)
    plain_curve: List[float] = field(default_factory=list)
    plain_verdict_curve: List[float] = field(default_factory=list)
    #: fedshare.verdicts.task_verdicts of the encrypted run
    verdicts: Dict[str, Any] = field(default_factory=dict)
    central_curve: List[float] = field(default_factory=list)
    max_dev: float = 0.0
    codec_bound: float = 0.0
    round_seconds: float = 0.0
    compute_seconds: float = 0.0
    crypto_seconds: float = 0.0
    ledger_seconds: float = 0.0
    wall_seconds: float = 0.0
    task_id: str = ""
    data_ids: List[str] = field(default_factory=list)
    stop_reason: str = ""
    #: the centers' names, test-set sizes, and per model ("centralized",
    #: "plain", "encrypted") the accuracy on each center's own test records
    centers: List[str] = field(default_factory=list)
    test_sizes: List[int] = field(default_factory=list)
    center_accuracy: Dict[str, List[float]] = field(default_factory=dict)
    #: evaluation records behind the stop rule's last metric: the union of the
    #: members' evaluation counts, as the ledger recorded them
    eval_records: int = 0
    #: the task's server optimizer as the ledger records it ("fedavg", "adam",
    #: "yogi") and its canonical text (fedshare.serveropt; "" for FedAvg)
    server_optimizer: str = "fedavg"
    server_optimizer_text: str = ""
    #: rounds plain FedAvg (no encryption, no filter) took to stop
    plain_rounds: int = 0
    #: per model, per center: which of the center's test records it classifies right
    center_correct: Dict[str, List[np.ndarray]] = field(default_factory=dict)
    #: the model's parameter count
    n_parameters: int = 0
    #: per round, the accuracy on each center's test records averaged over the
    #: centers: of the centralized model, and of the encrypted run's model
    #: (x_r under a server optimizer), read back from the ledger
    central_test_curve: List[float] = field(default_factory=list)
    fed_test_curve: List[float] = field(default_factory=list)
    #: mean seconds per round of each phase, by the consensus timestamps of the
    #: acts on the ledger (:func:`round_phases`), and the busiest member's own split
    phases: Dict[str, float] = field(default_factory=dict)
    member_split: Dict[str, float] = field(default_factory=dict)


def _write_csv(path: Path, X: np.ndarray, y: np.ndarray, names: List[str], label: str) -> None:
    import csv

    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(list(names) + [label])
        for row, lab in zip(X, y):
            w.writerow([repr(float(v)) for v in row] + [int(lab)])


def _local_eval_split(n: int, fraction: float, seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """The (train, eval) split each trainer makes of its own records: `fedshare
    train`'s own rule, so the centralized baseline sees the same samples."""
    from .._cli.train import _split

    return _split(n, fraction, seed)


def centralized(model_name: str, X: np.ndarray, y: np.ndarray, Xe: np.ndarray, ye: np.ndarray,
                Xt: np.ndarray, yt: np.ndarray, *, lr: float, rounds: int, seed: int,
                stop_threshold: float, stop_patience: int,
                per_center: Optional[Sequence[Tuple[np.ndarray, np.ndarray]]] = None,
                test_curve: Optional[List[float]] = None) -> Tuple[List[float], int, float, Any]:
    """The baseline: the same model, hyper-parameters and gradient steps per
    round (upload_every batches of 32) on the pooled training records, stopped
    by the same rule on the pooled evaluation records. With ``per_center``
    (each center's test records) and ``test_curve``, each round's accuracy on
    them, averaged over the centers, is appended to ``test_curve`` (never read
    by the stop rule)."""
    from .. import fedavg
    from .. import torch as ft

    model = _make_model(model_name, X.shape[1], seed)
    trainer = ft.LocalTrainer(model, X, y, lr=lr, batch_size=32, upload_every=10, seed=seed,
                              loss=_loss(model_name))
    w = ft.flatten_parameters(model)
    curve: List[float] = []
    for _ in range(1, rounds + 1):
        w = w + trainer.train_round(w)
        curve.append(trainer.evaluate(w, Xe, ye))
        if per_center is not None and test_curve is not None:
            test_curve.append(float(np.mean([trainer.evaluate(w, a, b) for a, b in per_center])))
        if fedavg.stop_decision(curve, stop_threshold, stop_patience, rounds) != "continue":
            break
    return curve, len(curve), trainer.evaluate(w, Xt, yt), w


def plain_fedavg(model_name: str, parts: List[Tuple[np.ndarray, np.ndarray, np.ndarray,
                                                    np.ndarray]], Xt, yt, *, lr: float,
                 rounds: int, seed: int, stop_threshold: float, stop_patience: int,
                 masks: Optional[Dict[int, List[bool]]] = None,
                 optimizer: Any = None,
                 ) -> Tuple[List[float], int, float, np.ndarray]:
    """FedAvg without encryption, same local procedure and seeds, in process:
    the 'federated (plain)' columns of the table. Without ``masks`` every
    update is averaged (no anomaly filter); with them, round r averages only
    the hospitals with ``masks[r][h]`` True (the encrypted run's accepted
    updates), and a round with none left is skipped like the contract skips it
    (the model stays, no metric, it counts toward the limit). With
    ``optimizer`` (a :class:`fedshare.serveropt.ServerOptimizer`) the rounds
    chain the plain means as the task's aggregate chain does and the centers
    train from and are evaluated on x_r, the optimizer's model."""
    from .. import fedavg
    from .. import torch as ft

    trainers = []
    for h, (X, y, _, _) in enumerate(parts):
        trainers.append(ft.LocalTrainer(_make_model(model_name, X.shape[1], seed), X, y, lr=lr,
                                        batch_size=32, upload_every=10, seed=seed + 1 + h,
                                        loss=_loss(model_name)))
    w = ft.flatten_parameters(_make_model(model_name, parts[0][0].shape[1], seed))
    state = optimizer.start(w) if optimizer is not None else None
    chain = w
    curve: List[float] = []
    for r in range(1, rounds + 1):
        ups = [t.train_round(w) for t in trainers]
        keep = masks.get(r, [True] * len(trainers)) if masks is not None else \
            [True] * len(trainers)
        if not any(keep):
            if state is not None:
                state.skip(r)
            continue
        chain = (chain + np.average(np.stack([u for u, k in zip(ups, keep) if k]), axis=0,
                                    weights=[t.samples for t, k in zip(trainers, keep) if k])
                 ).astype(np.float32)
        w = state.step(r, chain).copy() if state is not None else chain
        acc = sum(t.evaluate(w, Xe, ye) * len(ye) for t, (_, _, Xe, ye) in zip(trainers, parts))
        curve.append(acc / sum(len(p[3]) for p in parts))
        if fedavg.stop_decision(curve, stop_threshold, stop_patience, rounds) != "continue":
            break
    return curve, len(curve), trainers[0].evaluate(w, Xt, yt), w


def verdict_masks(verdicts: Dict[str, Any]) -> Dict[int, List[bool]]:
    """Round → which hospitals' updates the encrypted run kept (none in a
    skipped round), from :func:`fedshare.verdicts.task_verdicts`."""
    out = {}
    for rd in verdicts.get("rounds", []):
        out[rd["round"]] = [False] * len(rd["updates"]) \
            if rd["skipped"] or rd.get("sum_refused") else \
            [u["verdict"] != "suspicious" for u in rd["updates"]]
    return out


def _make_model(name: str, n_features: int, seed: int):
    import torch

    from .. import torch as ft

    torch.manual_seed(seed)
    if name == "logreg":
        return ft.logistic_regression(n_features)
    if name == "mlp":
        return ft.mlp(n_features, hidden=16)
    if name == "cnn":
        side = int(round(np.sqrt(n_features)))
        if side * side != n_features:
            raise errors.InvalidInputError(f"the cnn takes square images: {n_features} "
                                           "features are not side × side pixels")
        return ft.cnn(side=side, classes=10, **CNN_SHAPE)
    raise errors.InvalidInputError("model is 'logreg', 'mlp' or 'cnn'")


#: the demo CNN's shape (``--cnn-width``, ``--cnn-hidden``; fedshare.torch.cnn's
#: defaults: 151,306 parameters on 8×8 images)
CNN_SHAPE: Dict[str, int] = {"width": 32, "hidden": 128}


def _loss(model_name: str) -> str:
    """The CNN classifies ten digits (cross-entropy); the others are binary."""
    return "ce" if model_name == "cnn" else "bce"


def _correct(model_name: str, n_features: int, w: np.ndarray, X: np.ndarray,
             y: np.ndarray) -> np.ndarray:
    """Which records (rows of X) the model with parameters ``w`` classifies
    right (a logit > 0 is class 1, as :func:`fedshare.torch.accuracy`)."""
    import torch

    from .. import torch as ft

    model = _make_model(model_name, n_features, 0)
    ft.restore_parameters(model, np.asarray(w, dtype=np.float32))
    model.eval()
    with torch.no_grad():
        out = model(torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)))
    pred = (out.argmax(dim=1) if _loss(model_name) == "ce"
            else (out.reshape(-1) > 0)).numpy().astype(np.int64)
    return np.asarray(pred == np.asarray(y).reshape(-1).astype(np.int64))


# ---------------------------------------------------------------------------
# Audit: the trail of one data set, and the tamper test
# ---------------------------------------------------------------------------

_OP_NAMES = {
    0x0F01: "data registered", 0x0F02: "data updated", 0x0F03: "data retired",
    0x0F10: "policy set", 0x0F11: "policy updated", 0x0F12: "access requested",
    0x0F20: "key recorded", 0x0F30: "model published", 0x0F31: "task created",
    0x0F32: "task joined", 0x0F33: "encrypted update uploaded", 0x0F34: "aggregate recorded",
    0x0F35: "aggregate checked", 0x0F36: "decryption share posted",
    0x0F37: "round finalized", 0x0F38: "model evaluated", 0x0F39: "decryption share refused",
    0x0F3A: "decrypted sum refused (out of range)",
}


def trace_data(config: Path, data_id: bytes, names: Dict[bytes, str]) -> List[Dict[str, Any]]:
    """Every act that touched a data set, in ledger order, each read from a
    block whose commit certificate the client checked, with its outcome."""
    from .. import ledger
    from ..consortium import config_ledger_text, lib

    lc = ledger.Client(ledger.Config(config_ledger_text(config)))
    try:
        rows = []
        blocks: Dict[int, Any] = {}
        for h, i in lc.trace(lib.FEDSHARE_TRACE_DATA, data_id, max_entries=100000):
            b = blocks.get(h) or blocks.setdefault(h, lc.block(h))
            tx = b.transactions[i]
            rows.append({"height": h, "index": i, "time_ms": b.timestamp, "op": tx.op,
                         "act": _OP_NAMES.get(tx.op, hex(tx.op)),
                         "by": names.get(tx.sender, tx.sender.hex()[:16]),
                         "tx": tx.hash.hex()})
        return rows
    finally:
        lc.close()


#: the round's phases, in order, as :func:`round_phases` names them
PHASES = ("train + pack + encrypt + upload", "aggregate (encrypted sum)", "decryption shares",
          "verify + combine + finalize", "each center recomputes from the shares + evaluates")


def round_phases(config: Path, task_id: bytes, rounds: int) -> Dict[str, float]:
    """Mean seconds per round of each phase of a task, measured by the
    consensus timestamps of its acts on the ledger (read from certified
    blocks): from the act that opened the round (the previous round's last
    evaluation) to the last upload; then to the aggregate; to the last
    decryption share before the finalize; to the finalize; to the last
    evaluation. Each phase holds the computing of the members who act in it,
    their waiting for one another and the consensus on their acts. Round 1 is
    left out when there are more (it opens at the last join, before the
    trainer processes have started). ``"round"``: the whole round;
    ``"rounds"``: how many rounds the mean is over."""
    from .. import ledger
    from ..consortium import config_ledger_text, lib

    lc = ledger.Client(ledger.Config(config_ledger_text(config)))
    try:
        acts: Dict[Tuple[int, int], List[int]] = {}
        joined = 0
        blocks: Dict[int, Any] = {}
        for h, i in lc.trace(lib.FEDSHARE_TRACE_TASK, task_id, max_entries=100000):
            b = blocks.get(h) or blocks.setdefault(h, lc.block(h))
            tx = b.transactions[i]
            pl = tx.payload
            if tx.op in (0x0F31, 0x0F32):
                joined = max(joined, int(b.timestamp))
            elif 0x0F33 <= tx.op <= 0x0F38:
                # task ID · u32 round, after the payload's version byte
                at = 1 if pl[1:33] == task_id else 0 if pl[:32] == task_id else -1
                if at < 0 or len(pl) < at + 36:
                    continue
                r = int.from_bytes(pl[at + 32:at + 36], "big")
                acts.setdefault((tx.op, r), []).append(int(b.timestamp))
    finally:
        lc.close()
    sums = dict.fromkeys(PHASES + ("round",), 0.0)
    done = 0
    opened = joined
    for r in range(1, rounds + 1):
        up, ag, fi, ev = (acts.get((op, r)) for op in (0x0F33, 0x0F34, 0x0F37, 0x0F38))
        if not (up and ag and fi and ev) or (r == 1 and rounds > 1):
            opened = max(ev) if ev else opened
            continue
        t_fin = max(fi)
        sh = [t for t in acts.get((0x0F36, r), []) if t <= t_fin] or [max(ag)]
        marks = [opened, max(up), max(ag), max(sh), t_fin, max(ev)]
        for name, a, b in zip(PHASES, marks, marks[1:]):
            sums[name] += max(0, b - a) / 1000.0
        sums["round"] += (marks[-1] - marks[0]) / 1000.0
        done += 1
        opened = max(ev)
    out = {k: v / max(done, 1) for k, v in sums.items()}
    out["rounds"] = float(done)
    return out


def phase_lines(r: "RunResult") -> List[str]:
    """The per-round time split of a run, as report lines."""
    if not r.phases:
        return []
    ph, ms = r.phases, r.member_split
    n = int(ph.get("rounds", 0))
    L = [f"Per round, {r.model} ({r.n_parameters:,} parameters), mean over "
         f"{n} round{'s' if n != 1 else ''} (round 1, which includes the trainer processes' "
         "start, left out when there are more), by the consensus timestamps of the acts on "
         f"the ledger ({ph['round']:.2f} s a round):", "",
         "| phase | seconds per round | share |", "|---|---|---|"]
    for name in PHASES:
        L.append(f"| {name} | {ph[name]:.3f} | {ph[name] / max(ph['round'], 1e-9):.0%} |")
    L.append("")
    L.append("The busiest center's own split of its round (its trainer's measurements): "
             f"local compute (training, evaluation) {ms.get('compute_s', 0):.3f} s; "
             f"cryptography (encryption, decryption shares and their proofs, verification "
             f"and combination: libphe) {ms.get('crypto_s', 0):.3f} s; its own ledger acts "
             f"to commit and its reads {ms.get('ledger_s', 0):.3f} s; waiting for the others "
             f"{ms.get('waiting_s', 0):.3f} s; the rest (packing, statistics, bookkeeping) "
             f"{ms.get('other_s', 0):.3f} s.")
    return L


def tamper_test(cons: Consortium, node: int, height_hint: int) -> Dict[str, Any]:
    """Stop one node, copy its store, change bytes of one stored block in the
    copy, and show that chain verification names it; the node restarts on its
    untouched store."""
    from ..node import verify_store

    cons.stop(node)
    src = cons.work / f"node{node}"
    copy = cons.work / f"node{node}-tampered"
    shutil.copytree(src, copy)
    try:
        verify_store(cons.config, src)
        clean = True
    except errors.Error:
        clean = False
    data = (copy / "data.mdb").read_bytes()
    # the label of every registered data set sits inside stored transaction payloads
    # (and in state records); change its letters' case everywhere in the copy
    marker = b"breast-cancer-records"
    if marker not in data:
        marker = b"hospital records"
    count = data.count(marker)
    result = {"clean_before": clean, "edits": count, "named_block": None, "message": ""}
    if count:
        (copy / "data.mdb").write_bytes(data.replace(marker, marker.upper()))
        try:
            verify_store(cons.config, copy)
            result["message"] = "verification did not notice"
        except errors.VerificationError as e:
            result["message"] = str(e)
            result["named_block"] = int(str(e).rsplit(" ", 1)[-1])
    shutil.rmtree(copy, ignore_errors=True)
    cons.start(node)
    return result


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------

def _verdict_summary(v: Dict[str, Any]) -> List[str]:
    from ..verdicts import summary_lines

    return summary_lines(v)


def verdict_table(v: Dict[str, Any]) -> List[str]:
    """The rounds x members table of verdicts (markdown): ✓ accepted, w warm-up,
    ✗ left out; a member that left the task (retired from the consortium while it
    ran) has "left" from the round it left in, not an exclusion."""
    members = v["members"]
    left_in = v.get("left_in", {})
    L = ["| round | " + " | ".join(members) + " |", "|---|" + "---|" * len(members)]
    mark = {"accepted": "✓", "warmup": "w", "suspicious": "✗"}
    for rd in v["rounds"]:
        by = {u["member"]: u["verdict"] for u in rd["updates"]}
        cells = [mark.get(by[m], "?") if m in by
                 else ("left" if m in left_in and rd["round"] >= left_in[m] else "—")
                 for m in members]
        L.append(f"| {rd['round']}{' (skipped)' if rd['skipped'] else ''} | "
                 + " | ".join(cells) + " |")
    return L


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def wilson_interval(p: float, n: int, z: float = 1.96) -> Tuple[float, float]:
    """The 95 % Wilson score interval of an accuracy ``p`` measured on ``n`` records
    (Wilson 1927): unlike p ± z·√(p(1−p)/n) it stays inside [0, 1] and is not empty
    at p = 1, which a small test set often gives."""
    if n <= 0:
        return 0.0, 1.0
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, c - h), min(1.0, c + h)


def center_mean_interval(ps: Sequence[float], ns: Sequence[int],
                         z: float = 1.96) -> Tuple[float, float, float]:
    """The unweighted mean of per-center accuracies and its 95 % interval, the
    centers' test sets taken as independent samples: var = Σ p(1−p)/n / k²
    (each center's binomial variance; a center at 0 or 1 adds the variance of
    one error in n+1 records instead of none)."""
    k = len(ps)
    mean = float(np.mean(ps))
    var = sum(max(p * (1 - p), 1 / (n + 1)) / n for p, n in zip(ps, ns)) / (k * k)
    h = z * float(np.sqrt(var))
    return mean, max(0.0, mean - h), min(1.0, mean + h)


def center_gap_interval(a: Sequence[np.ndarray], b: Sequence[np.ndarray],
                        z: float = 1.96) -> Tuple[float, float, float]:
    """The mean over centers of (accuracy of model a − accuracy of model b) on
    each center's test records, and its 95 % interval, paired record by record:
    per center the differences d_i ∈ {−1, 0, 1} of the two models' correctness
    have mean g_c and variance s_c²/n_c; the centers are independent samples, so
    var = Σ s_c²/n_c / k². Where the two models agree on every record of a
    center (s_c = 0) the variance of one disagreement in n_c + 1 records is
    taken instead of none."""
    k = len(a)
    gaps, var = [], 0.0
    for ca, cb in zip(a, b):
        d = ca.astype(np.float64) - cb.astype(np.float64)
        n = len(d)
        gaps.append(float(d.mean()))
        s2 = float(d.var(ddof=1)) if n > 1 else 1.0
        var += max(s2, 1 / (n + 1)) / n
    mean = float(np.mean(gaps))
    h = z * float(np.sqrt(var / (k * k)))
    return mean, mean - h, mean + h


def _pct_ci(p: float, n: int) -> str:
    lo, hi = wilson_interval(p, n)
    return f"{100 * p:.1f} % [{100 * lo:.1f}, {100 * hi:.1f}]"


def center_table(r: "RunResult") -> List[str]:
    """Markdown rows: accuracy per center and averaged over centers, with 95 %
    intervals, for centralized, plain FedAvg and encrypted FedAvg."""
    models = [("centralized", "centralized"), ("plain", "federated (plain)"),
              ("encrypted", "federated (encrypted)")]
    L = ["| center (test records) | " + " | ".join(t for _, t in models) + " |",
         "|---|" + "---|" * len(models)]
    for h, name in enumerate(r.centers):
        n = r.test_sizes[h]
        L.append(f"| {name} ({n}) | " + " | ".join(
            _pct_ci(r.center_accuracy[k][h], n) for k, _ in models) + " |")
    cells = []
    for k, _ in models:
        m, lo, hi = center_mean_interval(r.center_accuracy[k], r.test_sizes)
        cells.append(f"{100 * m:.1f} % [{100 * lo:.1f}, {100 * hi:.1f}]")
    L.append(f"| **mean over {len(r.centers)} centers** | " + " | ".join(cells) + " |")
    pooled = [r.central_accuracy, r.plain_accuracy, r.fed_accuracy]
    L.append(f"| pooled test records ({sum(r.test_sizes)}) | " +
             " | ".join(_pct_ci(p, sum(r.test_sizes)) for p in pooled) + " |")
    return L


def write_report(out: Path, results: List[RunResult], ds: Dataset, ledger_stats: Dict[str, float],
                 trail: List[Dict[str, Any]], tamper: Dict[str, Any], setup: Dict[str, Any],
                 demo_seconds: float) -> Path:
    """report.md and its PNG plots in ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    for r in results:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot(range(1, len(r.central_curve) + 1), r.central_curve, label="centralized")
        ax.plot(range(1, len(r.plain_curve) + 1), r.plain_curve,
                label="federated (plain, no filter)")
        ax.plot(range(1, len(r.plain_verdict_curve) + 1), r.plain_verdict_curve, "--",
                label="federated (plain, the encrypted run's verdicts)")
        ax.plot(range(1, len(r.fed_curve) + 1), r.fed_curve, "o-", ms=3,
                label="federated (encrypted, on the ledger)")
        ax.set_xlabel("round")
        ax.set_ylabel("accuracy (evaluation records)")
        ax.set_title(f"{r.model}, {r.split} split")
        ax.legend(loc="lower right", fontsize=8)
        fig.tight_layout()
        fig.savefig(out / f"curve-{r.model}-{r.split}.png", dpi=110)
        plt.close(fig)
    main = results[0]
    fig, ax = plt.subplots(figsize=(5, 3))
    parts = [main.compute_seconds, main.crypto_seconds, main.ledger_seconds]
    other = max(0.0, main.round_seconds - sum(parts))
    ax.barh(["local compute", "encryption/decryption", "consensus + ledger", "other"],
            parts + [other])
    ax.set_xlabel("seconds per round")
    ax.set_title(f"where a round's time goes ({main.model}, {main.split})")
    fig.tight_layout()
    fig.savefig(out / "time-shares.png", dpi=110)
    plt.close(fig)

    L = []
    paper = ds.bundled  # the seed paper's figures are quoted only for its own data
    if paper:
        L.append("# The three-hospital experiment — fedshare's run of the seed paper's "
                 "section 3\n")
    else:
        L.append("# fedshare: centers train one model on their own records\n")
    L.append(f"Data: {ds.source}; {len(ds.y)} records, {len(ds.feature_names)} features, label "
             f"`{ds.label}` ({ds.label_rule}; "
             + (f"{len(np.unique(ds.y))} classes" if ds.label_rule == "class 0–9"
                else f"{int(ds.y.sum())} positive") + "). Each center is a "
             "separate trainer process that reads only its own CSV. Four node processes "
             "replicate the ledger by PBFT on loopback; the consortium key is "
             f"{setup.get('key', '2-of-3')}.\n")
    if ds.counts:
        L.append("What the loader did with each file (rows read; dropped for a missing value; "
                 "dropped for a missing label; values imputed with the center's own column "
                 "mean):\n")
        for c in ds.counts:
            miss = ", ".join(f"{k} {v}" for k, v in c["missing_by_column"].items()) or "none"
            L.append(f"- `{c['file']}`: {c['rows']} rows, {c['kept']} kept; "
                     f"{c['dropped_missing']} dropped (missing value), {c['dropped_label']} "
                     f"dropped (no label), {c['imputed']} imputed; missing by column: {miss}")
        L.append("")
    L.append("## Accuracy" + (" — the paper's table, with our numbers\n" if paper else "\n"))
    L.append("| model | split (records per center) | centralized | plain FedAvg, no filter | "
             "plain FedAvg, the encrypted run's verdicts | federated (encrypted) | "
             "encryption: encrypted − plain with verdicts (pp) | filter: plain with verdicts "
             "− plain without (pp) | gap to centralized (pp) | rounds to stop: centralized / "
             "federated | max deviation encrypted vs plain FedAvg (codec bound) |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        L.append(f"| {r.model} | {r.split} ({'/'.join(map(str, r.sizes))}) | "
                 f"{_pct(r.central_accuracy)} | {_pct(r.plain_accuracy)} | "
                 f"{_pct(r.plain_verdict_accuracy)} | {_pct(r.fed_accuracy)} | "
                 f"{100 * (r.fed_accuracy - r.plain_verdict_accuracy):+.2f} | "
                 f"{100 * (r.plain_verdict_accuracy - r.plain_accuracy):+.2f} | "
                 f"{100 * (r.central_accuracy - r.fed_accuracy):+.2f} | "
                 f"{r.central_rounds} / {r.fed_rounds} ({r.stop_reason}) | "
                 f"{r.max_dev:.2e} ({r.codec_bound:.2e}) |")
    L.append("\nAccuracy is measured on held-out test records (each center's own test file, or 20 "
             "% of each center's records, never used for training or for the stop rule). Two plain"
             " (unencrypted) FedAvg baselines run in this process with the same local procedure "
             "and seeds: one averages every update (no anomaly filter), the other leaves out "
             "exactly the updates the encrypted run's anomaly rule left out and skips the rounds "
             "it skipped. So the encrypted − plain-with-verdicts gap is the cost of encryption "
             "alone, and plain-with-verdicts − plain-without is the filter's own cost."
             + (" The paper reports 89.2 % centralized vs 88.9 % federated, 32 vs 34 rounds."
                if paper else "") + "\n")
    L.append("## Verdicts: whose update was left out\n")
    L.append("The training contract judges every update before the encrypted sum "
             "(docs/fedshare-contracts.md §Anomaly rules); a left-out update is not in that "
             "round's model, and its owner's trainer says so. Per round and center "
             "(✓ accepted, w accepted during warm-up, ✗ left out; \"left\": the center was "
             "retired from the consortium and left the task, its later rounds are not "
             "exclusions):\n")
    for r in results:
        v = r.verdicts
        if not v:
            continue
        L.append(f"**{r.model}, {r.split}** (rule `{v['rule']}`, threshold {v['threshold']:g}; "
                 f"`fedshare audit verdicts --task {r.task_id}` gives the scores):\n")
        for line in _verdict_summary(v):
            L.append(f"- {line}")
        L.append("")
        L.extend(verdict_table(v))
        L.append("")
    L.append("## Accuracy per center (95 % intervals)\n")
    for r in results:
        L.append(f"{r.model}, {r.split}: the stop rule read the sample-weighted accuracy over "
                 f"{r.eval_records} evaluation records, the union of every center's evaluation "
                 "records as the ledger recorded their counts. Intervals: Wilson per center "
                 "and pooled; for the mean over centers, the centers' binomial variances.\n")
        L.extend(center_table(r))
        if r.center_correct:
            g, lo, hi = center_gap_interval(r.center_correct["centralized"],
                                            r.center_correct["encrypted"])
            L.append(f"\nGap centralized − federated (encrypted), mean over centers of each "
                     f"center's test accuracy: {100 * g:+.2f} points (95 % interval "
                     f"{100 * lo:+.2f} to {100 * hi:+.2f}, paired record by record). Rounds "
                     f"to stop: centralized {r.central_rounds}, plain FedAvg {r.plain_rounds}, "
                     f"encrypted {r.fed_rounds}.")
            tgt, c_r, extra = rounds_to_reach(r)
            L.append(f"The centralized model's accuracy at its stop, {tgt:.1f} % on these test "
                     f"records averaged over centers, was first reached in round {c_r} by the "
                     "centralized model and "
                     + (f"in round {c_r + extra} by the encrypted run." if extra is not None else
                        f"not within the encrypted run's {r.fed_rounds} rounds.")
                     + " (Test records are never read by the stop rule.)")
        L.append("")
    L.append("## Ledger and time\n")
    L.append(f"- Ledger: {ledger_stats.get('transactions', 0):.0f} transactions in "
             f"{ledger_stats.get('height', 0):.0f} blocks; {ledger_stats.get('tps', 0):.1f} "
             f"transactions per second over the run{' (the paper: 28.3 TPS)' if paper else ''}"
             f"; mean commit latency {1000 * ledger_stats.get('latency_s', 0):.1f} ms"
             f"{' (the paper: 1.2 s)' if paper else ''}.")
    L.append(f"- A round ({main.model}, {main.split}) took {main.round_seconds:.3f} s of wall "
             f"time. The busiest hospital spent {main.compute_seconds:.3f} s of it in local "
             f"compute (training {10} batches and evaluating), {main.crypto_seconds:.3f} s in "
             f"its own encryption, decryption shares, proofs and combination, and "
             f"{main.ledger_seconds:.3f} s in its own ledger acts and reads; the rest of the "
             "round it waited for the others' crypto and for consensus. So crypto + consensus "
             f"(everything but local compute) is "
             f"{1 - main.compute_seconds / max(main.round_seconds, 1e-9):.0%} of the round"
             + (" (the paper: 35 %; its model and local work were larger — see "
                "benchmarks/RESULTS.md)." if paper else "."))
    L.append(f"- The whole run took {demo_seconds:.0f} s.\n")
    L.append("## Time per round\n")
    for r in results:
        L.append(f"**{r.model}, {r.split}**: ")
        L.extend(phase_lines(r))
        L.append("")
    L.append("![time shares](time-shares.png)\n")
    L.append("## Per-round curves\n")
    for r in results:
        L.append(f"![{r.model} {r.split}](curve-{r.model}-{r.split}.png)")
    L.append("\n## The trail of one data set\n")
    L.append(f"Every act that touched center B's data set `{main.data_ids[1][:16]}…` "
             f"({len(trail)} acts), read from certified blocks:\n")
    L.append("| height | act | by |")
    L.append("|---|---|---|")
    shown: List[Optional[Dict[str, Any]]] = (
        list(trail) if len(trail) <= 24 else [*trail[:14], None, *trail[-8:]])
    for t in shown:
        if t is None:
            L.append("| … | … | … |")
        else:
            L.append(f"| {t['height']} | {t['act']} | {t['by']} |")
    L.append("\n## Tamper test\n")
    L.append(f"A copy of the regulator's store before the edit verified "
             f"{'clean' if tamper.get('clean_before') else 'NOT clean'}; one byte of a stored "
             f"block changed, and verification said: *{tamper.get('message')}*.\n")
    L.append("## Set-up and simplifications\n")
    for k, v in setup.items():
        L.append(f"- {k}: {v}")
    path = out / "report.md"
    path.write_text("\n".join(L) + "\n")
    return path


# ---------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------

class Experiment:
    """Nodes, members and the consortium key, shared by every configuration run."""

    def __init__(self, work: Path, *, seed: int, key_bits: int = 2048, sync: bool = False,
                 centers: int = 3, key_ceremony: str = "dealt",
                 anomaly_rule: str = "robust2", server_optimizer: Any = None):
        from .. import abac, serveropt
        from ..consortium import Member
        from ..phe import threshold

        self.work, self.seed, self.anomaly_rule = work, seed, anomaly_rule
        #: the tasks' server optimizer (None: FedAvg), a task option on the ledger
        self.server_optimizer = (serveropt.parse(server_optimizer)
                                 if server_optimizer is not None else None)
        work.mkdir(parents=True, exist_ok=True)
        self.t0 = time.monotonic()
        self.cons = Consortium(work, sync=sync, centers=centers)
        self.centers = n = centers
        self.threshold = key_threshold(n)
        for i in range(4):
            self.cons.start(i)
        # members: the n centers, then the regulator
        self.members = [Member(self.cons.config, self.cons.seed(i)) for i in range(n + 1)]
        self.regulator = self.members[n]
        self.names = {m.public_key: nm for m, nm in
                      zip(self.members, list(HOSPITALS[:n]) + ["regulator"])}
        # -- the key ceremony: hospital A deals, or (key_ceremony "dealerless", n >= 3) the
        # n hospitals generate it together over their encrypted channel (fedshare.dkg);
        # each share sealed under its holder's passphrase
        t = time.monotonic()
        if key_ceremony == "auto":
            key_ceremony = "dealerless" if key_bits == 2048 and n >= 3 else "dealt"
        if key_ceremony == "dealerless" and n >= 3:
            params, shares = self._dealerless_key(key_bits, n)
            self.key_ceremony = "dealerless"
        else:
            params, shares = threshold.deal(bits=key_bits, threshold=self.threshold, holders=n)
            self.key_ceremony = "dealt"
        self.ceremony_seconds = time.monotonic() - t
        self.params = params.to_bytes()
        self.share_files, self.passphrases = [], []
        hashes = []
        for i, s in enumerate(shares):
            pw = secrets.token_hex(16)
            f = work / f"{HOSPITALS[i]}.share"
            s.write_file(f, pw.encode(), strength="interactive")
            self.share_files.append(f)
            self.passphrases.append(pw)
            hashes.append(hashlib.sha256(f.read_bytes()).digest())
        self.key_id = self.members[A].record_key(params, [m.public_key for m in self.members[:n]],
                                                 hashes)
        end = _dt.datetime.fromtimestamp(int(time.time()) + 365 * 86400, _dt.timezone.utc)
        self.policy_text = POLICY.format(
            end=end.strftime("%Y-%m-%dT%H:%M:%SZ"),
            orgs=", ".join(f'Organisation::"{h}"' for h in HOSPITALS[:n]))
        self.policy = abac.CedarPolicies(self.policy_text, version=1,
                                         members=[m.public_key for m in self.members])
        self.models: Dict[str, bytes] = {}
        # the configuration the trainer processes connect with (a test may point
        # it at a recording proxy)
        self.trainer_config: Path = self.cons.config

    def close(self) -> None:
        for m in self.members:
            m.close()
        self.cons.close()

    def _dealerless_key(self, key_bits: int, n: int):
        """The n hospitals run fedshare.dkg.ceremony, each in its own thread with its
        member key, over loopback TCP (docs/phe-dkg.md): the same protocol and channel
        as `fedshare keys ceremony --dealerless` on n machines."""
        import threading

        from .. import dkg
        from ..node import free_port

        pks = [m.public_key for m in self.members[:n]]
        addrs = [("127.0.0.1", free_port()) for _ in range(n)]
        session = dkg.session_id(f"fedshare demo {self.work} {time.time_ns()}", pks,
                                 self.threshold, key_bits)
        out: List[Any] = [None] * n

        def holder(i: int) -> None:
            try:
                out[i] = dkg.ceremony(i + 1, self.cons.seed(i), pks, addrs, self.threshold,
                                      session, bits=key_bits, timeout=1800)
            except BaseException as e:  # noqa: BLE001 - re-raised below
                out[i] = e

        ths = [threading.Thread(target=holder, args=(i,), daemon=True) for i in range(n)]
        for th in ths:
            th.start()
        for th in ths:
            th.join()
        for r in out:
            if isinstance(r, BaseException):
                raise r
        self.dkg_report = out[0][2]
        return out[0][0], [r[1] for r in out]

    def run_config(self, ds: Dataset, owners: Optional[List[np.ndarray]], model_name: str,
                   split: str, *, lr: float, rounds: int, threads: int = 1,
                   tests: Optional[List[np.ndarray]] = None) -> RunResult:
        """One model on one split. ``owners``: each center's record indices in
        ``ds`` (None: :func:`split_hospitals` of the default data); ``tests``:
        each center's held-out test records (None: 20 % of its records)."""
        from .. import fedavg, serveropt
        from .. import torch as ft
        from ..consortium import ffi, lib, model_digest

        rng = np.random.default_rng(self.seed)
        hosp = owners if owners is not None else split_hospitals(ds, split, rng)
        n = self.centers
        if len(hosp) != n or (tests is not None and len(tests) != n):
            raise errors.InvalidInputError(f"this consortium has {n} centers: one training "
                                           "set (and at most one test set) per center")
        train_parts, test_idx = [], []
        for h, idx in enumerate(hosp):
            if tests is not None:  # the center's own held-out test file
                test_idx.append(np.sort(tests[h]))
                train_parts.append(np.sort(idx))
                continue
            # each hospital keeps 20 % of its records aside as test records (the report's)
            perm = np.random.default_rng(self.seed + 100 + h).permutation(idx)
            k = max(1, int(round(0.2 * len(perm))))
            test_idx.append(np.sort(perm[:k]))
            train_parts.append(np.sort(perm[k:]))
        # each hospital scales its records with its own statistics (or the
        # consortium's, from each hospital's sums): never over pooled records
        from .. import data

        # (a center's held-out test file is scaled with that center's statistics)
        scaled = [np.concatenate([hosp[h], tests[h]]) for h in range(n)] if tests is not None \
            else hosp
        X, scales = data.scale(ds.X, scaled, train_parts, mode=ds.scaling)
        y = ds.y
        scale_files = []
        for h, sc in enumerate(scales):
            scale_files.append(self.work / f"scale-{model_name}-{split}-{HOSPITALS[h]}.json")
            scale_files[-1].write_text(json.dumps(sc))
        # the records each hospital trains and evaluates on (the trainer's own split rule)
        parts = []
        for h, idx in enumerate(train_parts):
            tr, ev = _local_eval_split(len(idx), 0.2, self.seed + 1 + h)
            parts.append((X[idx[tr]], y[idx[tr]], X[idx[ev]], y[idx[ev]]))
        Xt = X[np.concatenate(test_idx)]
        yt = y[np.concatenate(test_idx)]

        res = RunResult(model_name, split, [len(i) for i in train_parts])
        res.centers = list(HOSPITALS[:n])
        res.test_sizes = [len(i) for i in test_idx]
        # -- each hospital seals its records, registers them, sets its policy
        data_ids = []
        for h, idx in enumerate(train_parts):
            csv_path = self.work / f"{HOSPITALS[h]}-{model_name}-{split}.csv"
            _write_csv(csv_path, ds.X[idx], y[idx], ds.feature_names, ds.label)
            raw = csv_path.read_bytes()
            key = secrets.token_bytes(32)
            sealed = ffi.new("uint8_t[]", len(raw) + lib.FEDSHARE_SEAL_OVERHEAD)
            if lib.fedshare_data_seal(key, raw, len(raw), sealed) != 0:
                raise errors.Error("sealing failed")
            enc = bytes(ffi.buffer(sealed, len(raw) + lib.FEDSHARE_SEAL_OVERHEAD))
            (self.work / f"{csv_path.name}.sealed").write_bytes(enc)
            did = self.members[h].register_data(hashlib.sha256(enc).digest(),
                                                ds.ledger_label,
                                                f"{HOSPITALS[h]} hospital records, {len(idx)} "
                                                f"rows, label {ds.label}")
            self.members[h].set_policy(did, self.policy)
            data_ids.append(did)
        res.data_ids = [d.hex() for d in data_ids]
        now = int(time.time())
        for h in range(1, n):
            self.members[A].request_access(data_ids[h], "train", "training", now, now + 86400)
        # -- the initial model, the codec, the task
        model = _make_model(model_name, X.shape[1], self.seed)
        w0 = ft.flatten_parameters(model)
        res.n_parameters = int(w0.size)
        if model_name not in self.models:  # one published initial model per architecture
            self.models[model_name] = self.members[A].publish_model(
                f"{model_name} over {X.shape[1]} standardized features".encode(), w0,
                f"{model_name} for {ds.label}")
        model_id = self.models[model_name]
        total = sum(len(p[0]) for p in parts)
        # dense bit slots, as `fedshare task create` makes by default: fewer
        # ciphertexts for the same error bound (docs/fedavg-codec.md)
        codec = fedavg.Codec(plaintext_bytes=255, max_weight=max(total, 1), precision=1e-6,
                             clip=8.0, dense=True)
        res.codec_bound = codec.error_bound
        task = self.members[A].create_task(
            model_id, self.key_id, self.members[A].public_key,
            [(self.members[h].public_key, data_ids[h]) for h in range(n)], codec.to_bytes(),
            learning_rate=lr, round_limit=rounds, stop_threshold=0.001, stop_patience=3,
            anomaly_k=3.0, anomaly_warmup=6, anomaly_rule=self.anomaly_rule,
            server_optimizer=self.server_optimizer)
        res.task_id = task.hex()
        for h in range(n):
            self.members[h].join_task(task)
        # -- one trainer process per center, each with only its own CSV
        t_start = time.monotonic()
        procs, reports = [], []
        for h in range(n):
            rep = self.work / f"{HOSPITALS[h]}-{model_name}-{split}.report.json"
            reports.append(rep)
            common = ["--config", str(self.trainer_config), "--key",
                      str(self.cons.member_keys[h]), "--task", task.hex(),
                      "--data", str(self.work / f"{HOSPITALS[h]}-{model_name}-{split}.csv"),
                      "--label", ds.label, "--scale", str(scale_files[h]),
                      "--share", str(self.share_files[h]), "--passphrase-env",
                      "FEDSHARE_SHARE_PASSPHRASE", "--eval-fraction", "0.2",
                      "--seed", str(self.seed + 1 + h), "--report-json", str(rep),
                      "--dump-updates", str(rep) + ".updates.npz"]
            if model_name == "cnn":  # ten classes: the demo's own trainer, same loop
                cmd = [sys.executable, "-m", "fedshare._demo.trainer", *common,
                       "--width", str(CNN_SHAPE["width"]), "--hidden", str(CNN_SHAPE["hidden"])]
            else:
                cmd = [sys.executable, "-m", "fedshare", "train", *common, "--model",
                       model_name, "--quiet"]
            if h == A:
                cmd.append("--aggregator")
            env = dict(os.environ, FEDSHARE_SHARE_PASSPHRASE=self.passphrases[h])
            log = open(self.work / f"{HOSPITALS[h]}-{model_name}-{split}.log", "wb")
            procs.append(subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT))
        for h, p in enumerate(procs):
            if p.wait(timeout=1800) != 0:
                raise errors.Error(f"{HOSPITALS[h]}'s trainer failed; see "
                                   f"{self.work / f'{HOSPITALS[h]}-{model_name}-{split}.log'}")
        res.wall_seconds = time.monotonic() - t_start
        # -- what the ledger says
        rec = self.regulator.task(task)
        if rec is None:
            raise errors.NotFoundError(f"the ledger has no task {task.hex()}")
        res.fed_curve = list(rec["metrics"])
        res.fed_rounds = len(res.fed_curve)
        res.stop_reason = {1: "converged", 2: "round limit"}.get(rec["stop_reason"], "?")
        res.server_optimizer = str(rec.get("server_optimizer", "fedavg"))
        opt = serveropt.from_task(rec)
        res.server_optimizer_text = opt.describe() if opt is not None else ""
        if opt is None:
            global_model, _ = self.regulator.fetch_global(task)
        else:
            # the model the centers train from and evaluate is x, the optimizer's,
            # replayed here from the ledger and held to the digest the task records
            global_model = serveropt.replay(self.regulator, task, opt,
                                            int(rec["round"])).x.astype(np.float64)
            if model_digest(global_model.astype(np.float32)).hex() != rec["server_model"]:
                raise errors.VerificationError("the replayed server optimizer's model is not "
                                               "the one the task records")
        last = self.regulator.round(task, int(rec["round"]))
        res.eval_records = int(last.get("samples", 0)) if last else 0
        probe = ft.LocalTrainer(_make_model(model_name, X.shape[1], self.seed), Xt, yt, lr=lr,
                                batch_size=32, upload_every=10, seed=0, loss=_loss(model_name))
        res.fed_accuracy = probe.evaluate(global_model, Xt, yt)
        # -- every verdict of the run (the ledger's, with what it was decided on)
        from ..verdicts import task_verdicts

        res.verdicts = task_verdicts(self.members[REG], task,
                                     {m.public_key.hex(): n for m, n in
                                      zip(self.members, HOSPITALS)})
        # -- encrypted vs plain FedAvg on the very same updates, round by round
        res.max_dev = self._max_deviation(task, reports, res.fed_rounds, w0)
        # -- time shares from the trainers' own measurements
        reps = [json.loads(r.read_text()) for r in reports]
        res.round_seconds = res.wall_seconds / max(res.fed_rounds, 1)
        def per_round(key: str) -> float:  # the busiest hospital's mean per round
            return max(sum(x[key] for x in rp["rounds"]) for rp in reps) / max(res.fed_rounds, 1)

        res.compute_seconds = per_round("compute_s")
        res.crypto_seconds = per_round("crypto_s")
        res.ledger_seconds = per_round("ledger_s")
        res.member_split = {k: per_round(k) for k in ("compute_s", "crypto_s", "ledger_s",
                                                      "waiting_s", "other_s")}
        res.phases = round_phases(self.cons.config, task, res.fed_rounds)
        # -- baselines in this process: centralized and plain FedAvg
        Xp = np.concatenate([p[0] for p in parts])
        yp = np.concatenate([p[1] for p in parts])
        Xe = np.concatenate([p[2] for p in parts])
        ye = np.concatenate([p[3] for p in parts])
        per_center = [(X[i], y[i]) for i in test_idx]
        res.central_curve, res.central_rounds, res.central_accuracy, central_w = centralized(
            model_name, Xp, yp, Xe, ye, Xt, yt, lr=lr, rounds=rounds, seed=self.seed,
            stop_threshold=0.001, stop_patience=3, per_center=per_center,
            test_curve=res.central_test_curve)
        # the encrypted run's model of every round, from the ledger, on the same records
        model_r = w0.astype(np.float64)
        for r in range(1, res.fed_rounds + 1):
            rnd = self.regulator.round(task, r)
            digest = (rnd or {}).get("server_model" if opt is not None else "global_model")
            if digest:
                model_r = (serveropt.fetch_model(self.regulator, bytes.fromhex(digest))
                           .astype(np.float64))
            res.fed_test_curve.append(float(np.mean([probe.evaluate(model_r, a, b)
                                                     for a, b in per_center])))
        res.plain_curve, res.plain_rounds, res.plain_accuracy, plain_w = plain_fedavg(
            model_name, parts, Xt, yt, lr=lr, rounds=rounds, seed=self.seed,
            stop_threshold=0.001, stop_patience=3, optimizer=opt)
        res.plain_verdict_curve, _, res.plain_verdict_accuracy, _ = plain_fedavg(
            model_name, parts, Xt, yt, lr=lr, rounds=rounds, seed=self.seed,
            stop_threshold=0.001, stop_patience=3, masks=verdict_masks(res.verdicts),
            optimizer=opt)
        # -- accuracy on each center's own test records (and which records are right)
        for name, w in (("centralized", central_w), ("plain", plain_w),
                        ("encrypted", global_model)):
            res.center_correct[name] = [_correct(model_name, X.shape[1], w, X[i], y[i])
                                        for i in test_idx]
            res.center_accuracy[name] = [float(c.mean()) for c in res.center_correct[name]]
        return res

    def _max_deviation(self, task: bytes, reports: List[Path], rounds: int,
                       w0: np.ndarray) -> float:
        """max over rounds and parameters of |encrypted global_r − plain global_r|,
        where plain global_r = global_{r−1} + the weighted mean (float64, rounded
        to float32 like the model) of the very updates the hospitals uploaded."""
        ups = []
        for rp in reports:
            z = np.load(str(rp) + ".updates.npz")
            ups.append({int(k[1:]): z[k] for k in z.files})
        m = self.regulator
        prev = w0.astype(np.float32)
        worst = 0.0
        for r in range(1, rounds + 1):
            rec = m.round(task, r)
            if rec is None or "global_model" not in rec:
                continue
            accepted = [h for h, u in enumerate(rec["updates"])
                        if u["present"] and u["verdict"] != "suspicious"]
            w = np.array([rec["updates"][h]["weight"] for h in accepted], dtype=np.float64)
            plain = np.average(np.stack([ups[h][r].astype(np.float64) for h in accepted]),
                               axis=0, weights=w)
            model = _fetch_model(m, bytes.fromhex(rec["global_model"])).astype(np.float32)
            plain_model = (prev + plain.astype(np.float32)).astype(np.float32)
            worst = max(worst, float(np.max(np.abs(model.astype(np.float64) -
                                                   plain_model.astype(np.float64)))))
            prev = model
        return worst


def _fetch_model(member, digest: bytes) -> np.ndarray:
    """A model blob by its digest (checked by the ledger client against the hash)."""
    from .. import ledger
    from ..consortium import config_ledger_text

    lc = ledger.Client(ledger.Config(config_ledger_text(member.config)))
    try:
        blob = lc.blob_get(digest)
    finally:
        lc.close()
    if hashlib.sha256(blob).digest() != digest:
        raise errors.VerificationError("model blob does not match its digest")
    return np.frombuffer(blob, dtype=">f4").astype(np.float64)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", nargs="+", metavar="CSV", default=None, type=input_file,
                   help=f"one CSV per center ({MIN_CENTERS} to {MAX_CENTERS}, each its own "
                        "trainer process) with the same columns (default: the Wisconsin "
                        "breast-cancer data bundled with scikit-learn, three hospitals)")
    p.add_argument("--test", nargs="+", metavar="CSV", default=None, type=input_file,
                   help="a held-out test CSV per center, in --data's order (default: 20 %% of "
                        "each center's records)")
    p.add_argument("--label", default=None,
                   help="the label column of the CSVs (0/1, or see --positive)")
    p.add_argument("--model", choices=("logreg", "mlp", "both", "cnn"), default="both",
                   help="logreg, mlp, both (default), or cnn: a convolutional network of "
                        "realistic size on scikit-learn's digits (8×8 images, 10 classes; "
                        "even split; its own data, not --data)")
    p.add_argument("--cnn-width", type=integer(1, 256), default=CNN_SHAPE["width"],
                   help="the cnn's first convolution channels (default 32: 151,306 "
                        "parameters with --cnn-hidden 128)")
    p.add_argument("--cnn-hidden", type=integer(1, 4096), default=CNN_SHAPE["hidden"],
                   help="the cnn's hidden units (default 128)")
    p.add_argument("--split", choices=("even", "skewed", "both"), default="both",
                   help="how the default data is split over the hospitals")
    p.add_argument("--rounds", type=integer(1, 1000), default=50,
                   help="round limit, 1 … 1000 (the paper: 50)")
    p.add_argument("--lr", type=real(0, 1e6, lo_open=True), default=0.1,
                   help="SGD learning rate, > 0 (default 0.1)")
    p.add_argument("--seed", type=integer(0, 2**32 - 1), default=1,
                   help="seed of splits, models and shuffles, 0 … 2^32-1 (default 1)")
    p.add_argument("--key-bits", type=integer(2048, 4096), choices=(2048, 3072, 4096),
                   default=2048)
    p.add_argument("--key-ceremony", choices=("auto", "dealerless", "dealt"), default="auto",
                   help="how the consortium key is made: the hospitals together without a "
                        "dealer (docs/phe-dkg.md), or dealt by hospital A (faster; the dealer "
                        "sees the whole key). auto (default): dealerless for a 2048-bit key "
                        "and 3 or more centers, else dealt")
    p.add_argument("--sync", action="store_true", help="fsync every block (slower, durable)")
    p.add_argument("--anomaly-rule", choices=("robust2", "robust", "pooled", "member", "mad"),
                   default="robust2",
                   help="the tasks' anomaly rule (default robust2; pooled: the seed's 3-sigma "
                        "test; docs/fedshare-contracts.md)")
    p.add_argument("--server-optimizer", choices=("fedavg", "fedadam", "fedyogi"),
                   default="fedavg",
                   help="the tasks' server optimizer, an option of the training task on the "
                        "ledger (docs/fedshare-contracts.md §Server optimizers; default fedavg)")
    p.add_argument("--server-lr", type=real(0, 1e6, lo_open=True), default=None,
                   help="the server optimizer's learning rate eta (default Flower's: 0.1 for "
                        "fedadam, 0.01 for fedyogi)")
    p.add_argument("--server-beta1", type=real(0, 1, hi_open=True), default=None,
                   help="its first-moment decay beta_1, 0 <= beta_1 < 1 (default 0.9)")
    p.add_argument("--server-beta2", type=real(0, 1, hi_open=True), default=None,
                   help="its second-moment decay beta_2, 0 <= beta_2 < 1 (default 0.99)")
    p.add_argument("--server-tau", type=real(0, 1e6, lo_open=True), default=None,
                   help="its adaptivity tau, > 0 (default 0.001)")
    p.add_argument("--workdir", default=None, type=output_dir,
                   help="keep nodes' stores, keys and logs here")
    p.add_argument("--report", default="fedshare-report", type=output_dir,
                   help="directory of report.md + plots")
    p.add_argument("--json", action="store_true",
                   help="print the e2e benchmark keys as JSON lines (benchmarks/run)")
    from .. import data

    data.add_arguments(p)


def e2e_keys(results: List[RunResult], demo_seconds: float) -> List[Dict[str, Any]]:
    """The e2e benchmark keys (../shared/BENCHMARKS.md) of a demo run, each a
    JSON-ready dict. accuracy_gap_pp is measured on the per-center held-out
    test records, averaged over centers (as multi-center benchmarks report),
    worst configuration, with its paired 95 % interval
    (:func:`center_gap_interval`); rounds_extra is the worst configuration's
    federated − centralized rounds to stop, both stop rules reading accuracy
    over the same records (the union of the centers' evaluation records: the
    ledger's sample-weighted metric, the baseline's pooled evaluation), with
    plain FedAvg's own extra rounds beside it (what federation costs without
    encryption)."""
    main = results[0]
    reach = {f"{r.model}/{r.split}": rounds_to_reach(r) for r in results}
    known = [v[2] for v in reach.values() if v[2] is not None]
    common = {"bound": min(r.codec_bound for r in results),
              "configs": [f"{r.model}/{r.split}" for r in results],
              "server_optimizer": main.server_optimizer}
    gaps = [center_gap_interval(r.center_correct["centralized"], r.center_correct["encrypted"])
            for r in results]
    worst = max(range(len(results)), key=lambda i: gaps[i][0])
    g, lo, hi = gaps[worst]
    extra = [r.fed_rounds - r.central_rounds for r in results]
    wr = max(range(len(results)), key=lambda i: extra[i])
    out: List[Dict[str, Any]] = [
        {"name": "max_dev_encrypted_vs_plain", "value": max(r.max_dev for r in results),
         "unit": "abs"},
        {"name": "accuracy_gap_pp", "value": 100 * g, "unit": "points",
         "ci95": [100 * lo, 100 * hi], "measured_on": "per-center test records, mean over "
         "centers", "worst_config": f"{results[worst].model}/{results[worst].split}",
         "per_config": {f"{r.model}/{r.split}": [round(100 * x, 3) for x in gp]
                        for r, gp in zip(results, gaps)},
         "test_records": [sum(r.test_sizes) for r in results][worst]},
        {"name": "rounds_extra", "value": extra[wr], "unit": "rounds",
         "worst_config": f"{results[wr].model}/{results[wr].split}",
         "per_config": {f"{r.model}/{r.split}": [r.central_rounds, r.fed_rounds,
                                                 r.plain_rounds] for r in results},
         "per_config_fields": ["centralized", "federated (encrypted)", "plain FedAvg"],
         "eval_records": results[wr].eval_records,
         "plain_rounds_extra": max(r.plain_rounds - r.central_rounds for r in results)},
        {"name": "rounds_extra_test",
         "value": max(known) if len(known) == len(reach) else None, "unit": "rounds",
         "measured_on": "per-center test records, mean over centers (never read by the "
         "stop rule)",
         "per_config": reach,
         "per_config_fields": ["target accuracy (centralized model at its stop)",
                               "centralized rounds to reach it", "federated extra rounds "
                               "to reach it (null: not within the run)"]},
        {"name": "accuracy_gap_pp_pooled",
         "value": 100 * max(r.central_accuracy - r.fed_accuracy for r in results),
         "unit": "points", "measured_on": "the pooled test records"},
        {"name": "overhead_share",
         "value": 1 - main.compute_seconds / max(main.round_seconds, 1e-9), "unit": "fraction"},
        {"name": "demo_seconds", "value": demo_seconds, "unit": "s"},
    ]
    return [{"suite": "e2e", **rec, **common} for rec in out]


def rounds_to_reach(r: RunResult) -> Tuple[float, int, Optional[int]]:
    """(target, c, extra): the target is the centralized model's accuracy at
    its stop, on each center's test records averaged over the centers; c the
    first round its curve reaches the target; extra the encrypted run's first
    such round − c (None when it does not reach it within its rounds)."""
    if not r.central_test_curve:
        return 0.0, 0, None
    target = r.central_test_curve[-1]
    c = next(i for i, a in enumerate(r.central_test_curve, 1) if a >= target - 1e-12)
    f = next((i for i, a in enumerate(r.fed_test_curve, 1) if a >= target - 1e-12), None)
    return round(100 * target, 3), c, (f - c if f is not None else None)


def server_optimizer_of(args: argparse.Namespace) -> Any:
    """The :class:`fedshare.serveropt.ServerOptimizer` the command line asks
    for (None: FedAvg); the numbers not given keep Flower's defaults."""
    from .. import serveropt

    kind = getattr(args, "server_optimizer", "fedavg") or "fedavg"
    given: Dict[str, float] = {}
    for k, a in (("eta", "server_lr"), ("beta_1", "server_beta1"), ("beta_2", "server_beta2"),
                 ("tau", "server_tau")):
        if getattr(args, a, None) is not None:
            given[k] = float(getattr(args, a))
    if kind == "fedavg":
        if given:
            raise errors.InvalidInputError(
                "--server-lr/--server-beta1/--server-beta2/--server-tau need "
                "--server-optimizer fedadam or fedyogi")
        return None
    return {"fedadam": serveropt.Adam, "fedyogi": serveropt.Yogi}[kind](**given)


def optimizer_name(opt: Any) -> str:
    """'FedAvg', or e.g. 'FedAdam (eta 0.1, beta_1 0.9, beta_2 0.99, tau 0.001)'."""
    if opt is None:
        return "FedAvg"
    name = {"adam": "FedAdam", "yogi": "FedYogi"}[opt.kind]
    return (f"{name} (eta {opt.eta:g}, beta_1 {opt.beta_1:g}, beta_2 {opt.beta_2:g}, "
            f"tau {opt.tau:g})")


def run(args: argparse.Namespace) -> int:
    t0 = time.monotonic()
    tests = None
    server_opt = server_optimizer_of(args)
    if getattr(args, "test", None) and not args.data:
        raise errors.InvalidInputError("--test needs --data")
    if args.model == "cnn":
        if args.data:
            raise errors.InvalidInputError("--model cnn trains on scikit-learn's digits; "
                                           "--data is for the binary models")
        if args.split == "skewed":
            raise errors.InvalidInputError("--model cnn runs on the even split")
        CNN_SHAPE.update(width=args.cnn_width, hidden=args.cnn_hidden)
        ds, owners = load_digits(), None
        ds.scaling = args.scaling
        configs = [("cnn", "even")]
    elif args.data:
        if not args.label:
            raise errors.InvalidInputError("--data needs --label")
        n = len(args.data)
        if not MIN_CENTERS <= n <= MAX_CENTERS:
            raise errors.InvalidInputError(
                f"--data takes {MIN_CENTERS} to {MAX_CENTERS} CSVs (one per center), not {n}")
        if args.test and len(args.test) != n:
            raise errors.InvalidInputError(
                f"--test takes one CSV per center: {n}, not {len(args.test)}")
        from .. import data

        ds, owners = load_csvs(list(args.data) + list(args.test or []), args.label,
                               data.options_from_args(args), scaling=args.scaling)
        for c in ds.counts:
            _say(f"  {c['file']}: {c['rows']} rows, {c['kept']} kept ({c['dropped_missing']} "
                 f"dropped for a missing value, {c['dropped_label']} without a label, "
                 f"{c['imputed']} values imputed)")
        if args.test:
            owners, tests = owners[:n], owners[n:]
            ds.source = (f"{', '.join(args.data)} (training); {', '.join(args.test)} "
                         "(held-out test)")
        configs = [(m, "given") for m in (("logreg", "mlp") if args.model == "both"
                                          else (args.model,))]
    else:
        ds, owners = load_default(), None
        ds.scaling = args.scaling
        models = ("logreg", "mlp") if args.model == "both" else (args.model,)
        splits = ("even", "skewed") if args.split == "both" else (args.split,)
        configs = [(m, s) for s in splits for m in models]
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="fedshare-demo-"))
    work.mkdir(parents=True, exist_ok=True)
    centers = len(owners) if owners is not None else 3
    what = "three-hospital" if centers == 3 else f"{centers}-center"
    _say(f"fedshare demo: the {what} experiment "
         + ("of the seed paper (section 3)" if ds.bundled else
            "on scikit-learn's digits" if args.model == "cnn" else "on the centers' own CSVs"))
    _say(f"  data: {ds.source}; work directory {work}")
    exp = Experiment(work, seed=args.seed, key_bits=args.key_bits, sync=args.sync,
                     centers=centers, key_ceremony=getattr(args, "key_ceremony", "auto"),
                     anomaly_rule=getattr(args, "anomaly_rule", "robust2"),
                     server_optimizer=server_opt)
    try:
        how = ("made by the hospitals without a dealer" if exp.key_ceremony == "dealerless"
               else "dealt by hospital A")
        _say(f"  4 nodes up (PBFT, f = 1); {exp.threshold}-of-{centers} consortium key {how} "
             f"and recorded ({exp.ceremony_seconds:.1f} s); shares sealed at rest")
        _say(f"  server optimizer: {optimizer_name(server_opt)}, an option of each training "
             "task on the ledger")
        results = []
        for model_name, split in configs:
            _say(f"  training {model_name} on the {split} split …")
            r = exp.run_config(ds, owners, model_name, split, lr=args.lr, rounds=args.rounds,
                               tests=tests)
            _say(f"    centralized {_pct(r.central_accuracy)} in {r.central_rounds} rounds; "
                 f"federated (encrypted) {_pct(r.fed_accuracy)} in {r.fed_rounds} rounds "
                 f"({r.stop_reason}); plain FedAvg {_pct(r.plain_accuracy)} without the "
                 f"filter, {_pct(r.plain_verdict_accuracy)} with the encrypted run's verdicts; "
                 f"max deviation {r.max_dev:.1e} ≤ bound {r.codec_bound:.1e}: "
                 f"{'yes' if r.max_dev <= r.codec_bound else 'NO'}")
            for k, label in (("centralized", "centralized"), ("plain", "plain FedAvg"),
                             ("encrypted", "encrypted")):
                m, lo, hi = center_mean_interval(r.center_accuracy[k], r.test_sizes)
                per = ", ".join(f"{c[-1].upper()} {_pct(a)}"
                                for c, a in zip(r.centers, r.center_accuracy[k]))
                _say(f"    {label}: per center {per}; mean over {len(r.centers)} centers "
                     f"{_pct(m)} (95 % CI {100 * lo:.1f}–{100 * hi:.1f})")
            g, lo, hi = center_gap_interval(r.center_correct["centralized"],
                                            r.center_correct["encrypted"])
            _say(f"    gap centralized − encrypted, mean over centers: {100 * g:+.2f} points "
                 f"(95 % CI {100 * lo:+.2f} to {100 * hi:+.2f}); rounds to stop: centralized "
                 f"{r.central_rounds}, plain FedAvg {r.plain_rounds}, encrypted {r.fed_rounds}")
            tgt, c_r, extra = rounds_to_reach(r)
            _say(f"    the centralized model's test accuracy at its stop ({tgt:.1f} %, mean over "
                 f"centers) reached in round {c_r} centralized, "
                 + (f"round {c_r + extra} encrypted" if extra is not None
                    else f"not within the encrypted run's {r.fed_rounds} rounds"))
            _say(f"    stop rule on {r.eval_records} evaluation records (the union of the "
                 f"centers', recorded on the ledger)")
            _say(f"    the task on the ledger names server optimizer {r.server_optimizer}"
                 + (f" ({r.server_optimizer_text})" if r.server_optimizer_text else ""))
            for line in _verdict_summary(r.verdicts):
                _say(f"    {line}")
            ph = r.phases
            if ph:
                _say(f"    {r.n_parameters:,} parameters; per round ({ph['round']:.2f} s, "
                     "consensus timestamps): " + "; ".join(f"{k} {ph[k]:.2f} s"
                                                          for k in PHASES))
            results.append(r)
        stats = exp.cons.metrics(REG)  # the regulator's node
        ledger_stats = {"transactions": stats.get("fedshare_transactions_total", 0),
                        "height": stats.get("fedshare_height", 0),
                        "tps": stats.get("fedshare_transactions_total", 0) /
                        max(time.monotonic() - exp.t0, 1e-9),
                        "latency_s": stats.get("fedshare_commit_latency_seconds_sum", 0) /
                        max(stats.get("fedshare_commit_latency_seconds_count", 0), 1)}
        trail = trace_data(exp.cons.config, bytes.fromhex(results[0].data_ids[B]), exp.names)
        tamper = tamper_test(exp.cons, REG, 1)
        _say(f"  trail of hospital B's data set: {len(trail)} acts, from "
             f"'{trail[0]['act']}' to '{trail[-1]['act']}'")
        _say(f"  tamper test: {tamper['message']}")
        demo_seconds = time.monotonic() - t0
        setup = {
            "model": (f"a CNN (fedshare.torch.cnn: two 3×3 convolutions of {args.cnn_width} and "
                      f"{2 * args.cnn_width} channels, max-pool, {args.cnn_hidden} hidden units, "
                      f"10 classes; {results[0].n_parameters:,} parameters)"
                      if args.model == "cnn" else
                      "logistic regression and an MLP (16 hidden units)")
                     + " in PyTorch; SGD, batch "
                     f"32, {10} batches per round (an encrypted upload every 10 batches), "
                     f"learning rate {args.lr}, weight = local data size",
            "stop rule": "accuracy on the hospitals' evaluation records improved by less than "
                         f"0.1 point for 3 rounds in a row, or {args.rounds} rounds",
            "feature scaling": ("each center standardizes its records with the mean/std of its "
                                "own training records (never pooled records)"
                                if ds.scaling == "center" else
                                "every center with the consortium's mean/variance, combined "
                                "from each center's count, sum and sum of squares (in this "
                                "process; a consortium would add them by secure aggregation); "
                                "never pooled records"),
            "server optimizer": optimizer_name(server_opt) + (
                ", an option of the training task on the ledger (the aggregator records x_r "
                "beside the decrypted FedAvg model g_r; every center replays x_r from the "
                "ledger before it evaluates and trains; the plain baselines apply the same "
                "optimizer to their plain means)" if server_opt is not None else
                " (the decrypted weighted mean is the next global model)"),
            "key": f"{args.key_bits}-bit threshold Paillier, {exp.threshold} of {centers} "
                   "(every center a holder), "
                   + ("made without a dealer by the centers (docs/phe-dkg.md)"
                      if exp.key_ceremony == "dealerless" else "dealer = hospital A"),
            "ledger": "4 replicas, f = 1, block period 10 ms, fsync "
                      + ("on" if args.sync else "off"),
            "machine": f"{os.cpu_count()} cores, shared",
        }
        report = write_report(Path(args.report), results, ds, ledger_stats, trail, tamper, setup,
                              demo_seconds)
        _say(f"  report: {report}")
        ok = all(r.max_dev <= r.codec_bound for r in results) and tamper["named_block"] is not None
        if args.json:
            for rec in e2e_keys(results, demo_seconds):
                print(json.dumps(rec))
        _say("PASS" if ok else "FAIL: a check above did not hold")
        return 0 if ok else 1
    finally:
        exp.close()
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
