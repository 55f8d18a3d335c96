"""`fedshare train`: one member's trainer process for a training task.

It reads only this member's own CSV, takes the hyper-parameters, the codec and
the key from the task record on the ledger, and plays the member's roles —
participant (if the task names it), key holder (with ``--share``), aggregator
(with ``--aggregator``) — until the task is done; then it writes where the time
went (``--report-json``).

Exit codes: 0 the task is done; 1 a refusal, failure or timeout from the
consortium; 2 bad arguments or input files (nothing was sent); 130 interrupted.

The coordinator wires :func:`add_train_parser` into ``fedshare.cli``; this
module also runs alone: ``python -m fedshare._cli.train --config … --key …``.
"""
from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import os
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .args import (ArgumentParser, UsageError, input_file, integer, output_path,
                        read_hex_secret, real)
from .args import report as _report_usage
from ..errors import Error

__all__ = ["add_train_parser", "main", "run", "load_csv", "UsageError"]

DESCRIPTION = ("Train in a fedshare task as one member: the local procedure on this member's "
               "own CSV (participant), decryption shares (--share), aggregation (--aggregator).")

EPILOG = """exit codes: 0 task done; 1 refused, failed or timed out; 2 bad arguments or input
files; 130 interrupted.
The CSV has a header row; every column but --label is a numeric feature, in the
order the task's model expects; labels are 0 or 1. --scale FILE is the published
feature scaling, JSON {"mean": [...], "std": [...]} (optionally "columns": [...]
naming them); each feature becomes (x - mean) / std; --scale-own standardizes with
this member's own training rows instead. Without either, features are used raw.
Clinical files (missing-value markers, no header line, a 0-4 label, text
categories): --missing, --na, --no-header/--columns, --positive, --categorical
read the CSV with fedshare.data; anything unusable is refused naming the file,
line and column."""


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, type=input_file,
                   help="consortium configuration file")
    p.add_argument("--key", required=True, type=input_file,
                   help="file with this member's 64-hex Ed25519 seed (its identity)")
    p.add_argument("--task", required=True, help="the task ID (64 hex)")
    p.add_argument("--data", default=None, type=input_file,
                   help="this member's CSV (required if the task names it a participant)")
    p.add_argument("--label", default=None, help="the CSV's label column")
    p.add_argument("--model", choices=("logreg", "mlp"), default="logreg",
                   help="architecture of the task's model (default logreg)")
    p.add_argument("--hidden", type=integer(1, 65536), default=16,
                   help="MLP hidden units, 1 … 65536 (default 16)")
    p.add_argument("--scale", default=None, type=input_file,
                   help="published feature scaling (JSON mean/std)")
    p.add_argument("--scale-own", action="store_true",
                   help="standardize with the mean/std of this member's own training rows "
                        "(per-center scaling; not with --scale)")
    g = p.add_argument_group(
        "clinical CSVs (any of these reads --data with fedshare.data: missing values, files "
        "without a header, label rules, one-hot columns)")
    g.add_argument("--positive", default=None, metavar="RULE",
                   help="positive labels: a rule like '>0' or a list of values like '2,3,4'")
    g.add_argument("--missing", choices=("drop", "impute", "refuse"), default=None,
                   help="rows with a missing value (?, empty, NA): drop, impute this member's "
                        "own column mean, or refuse")
    g.add_argument("--na", default=None, metavar="MARKERS",
                   help="comma-separated missing-value markers (default '?,,NA')")
    g.add_argument("--no-header", action="store_true",
                   help="the CSV has no header line; name the columns with --columns")
    g.add_argument("--columns", default=None, metavar="NAMES",
                   help="comma-separated column names of a file without a header")
    g.add_argument("--categorical", action="append", default=[], metavar="COLUMN=A|B|…",
                   help="one-hot encode a column over the categories given (the same list at "
                        "every member, so the features line up); repeatable")
    p.add_argument("--share", default=None, type=input_file,
                   help="this member's sealed key-share file")
    p.add_argument("--passphrase-env", default=None, metavar="VAR",
                   help="environment variable holding the share's passphrase")
    p.add_argument("--aggregator", action="store_true",
                   help="also act as the task's aggregator (must be the one it names)")
    p.add_argument("--no-train", action="store_true",
                   help="a participant whose training and evaluation run elsewhere (a Flower "
                        "ClientApp with fedshare.flower.FedshareMod): play only the key "
                        "holder (--share) and aggregator roles here")
    p.add_argument("--eval-fraction", type=real(0, 1, lo_open=True, hi_open=True), default=0.2,
                   help="share of the local data held out for evaluation, in (0, 1) "
                        "(default 0.2)")
    p.add_argument("--seed", type=integer(0, 2**32 - 1), default=0,
                   help="seeds the evaluation split and the batch shuffle, 0 … 2^32-1 "
                        "(default 0)")
    p.add_argument("--timeout", type=real(0, 4_294_967, lo_open=True), default=300.0,
                   help="seconds the task may stall before giving up, > 0 and at most "
                        "4294967 (default 300)")
    p.add_argument("--standby", type=real(0, 4_294_967), default=None, metavar="SECONDS",
                   help="a key holder that is not one of the round's first t waits this long "
                        "in the decrypt phase before it shares anyway (default: a third of "
                        "--timeout)")
    p.add_argument("--threads", type=integer(0, 256), default=0,
                   help="libphe threads, 0 … 256 (default: one)")
    p.add_argument("--torch-threads", type=integer(1, 256), default=1,
                   help="torch intra-op threads, 1 … 256 (default 1: the models are small)")
    p.add_argument("--dump-updates", default=None, metavar="FILE", type=output_path,
                   help="write this member's own uploaded updates (numpy .npz, keys r1, r2, …) "
                        "to a local file, for checks; nothing is sent")
    p.add_argument("--report-json", default=None, metavar="FILE", type=output_path,
                   help="write the per-round timings and accuracy here")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument("--verbose", action="store_true", help="log every act on stderr")


def add_train_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``train`` subcommand on an ``argparse`` subparsers object;
    its ``func`` default is :func:`run` (which returns the exit code)."""
    p = subparsers.add_parser("train", help="train in a task as one member (participant, "
                              "key holder, aggregator)", description=DESCRIPTION, epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    _configure(p)
    p.set_defaults(func=run)
    return p


def build_parser() -> argparse.ArgumentParser:
    """The standalone parser (``python -m fedshare._cli.train``)."""
    p = ArgumentParser(prog="fedshare train", description=DESCRIPTION, epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    _configure(p)
    return p


# --- inputs -------------------------------------------------------------------------


def _read_seed(path: str) -> bytes:
    try:
        return read_hex_secret(path, "--key")
    except OSError as e:
        raise UsageError(f"--key: cannot read {path}: {e.strerror}") from None


def _task_id(text: str) -> bytes:
    try:
        t = bytes.fromhex(text.strip())
    except ValueError:
        t = b""
    if len(t) != 32:
        raise UsageError("--task must be 64 hex digits")
    return t


def load_csv(path: str, label: str) -> Tuple[np.ndarray, np.ndarray, List[str]]:
    """Features (float32, samples × features), 0/1 labels (float32) and the
    feature column names of a CSV with a header row. Raises
    :class:`UsageError` naming the file, row and column of any problem."""
    try:
        f = open(path, newline="")
    except OSError as e:
        raise UsageError(f"--data: cannot read {path}: {e.strerror}") from None
    try:
        return _parse_csv(f, path, label)
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not a text (UTF-8) CSV file") from None
    except OSError as e:
        raise UsageError(f"--data: cannot read {path}: {e.strerror}") from None


def _parse_csv(f, path: str, label: str) -> Tuple[np.ndarray, np.ndarray, List[str]]:
    with f:
        reader = csv.reader(f)
        header = next(reader, None)
        if not header:
            raise UsageError(f"{path}: empty file (a header row is needed)")
        header = [h.strip() for h in header]
        if label not in header:
            raise UsageError(f"{path}: no column {label!r} (columns: {', '.join(header)})")
        if len(set(header)) != len(header):
            raise UsageError(f"{path}: duplicate column names")
        li = header.index(label)
        names = [h for i, h in enumerate(header) if i != li]
        if not names:
            raise UsageError(f"{path}: no feature columns besides {label!r}")
        rows: List[List[float]] = []
        labels: List[float] = []
        for ln, row in enumerate(reader, start=2):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(header):
                raise UsageError(f"{path}:{ln}: {len(row)} fields, the header has {len(header)}")
            vals = []
            for i, c in enumerate(row):
                try:
                    v = float(c)
                except ValueError:
                    raise UsageError(f"{path}:{ln}: column {header[i]!r}: not a number: {c!r}") \
                        from None
                if not math.isfinite(v):
                    raise UsageError(f"{path}:{ln}: column {header[i]!r}: not finite")
                vals.append(v)
            y = vals.pop(li)
            if y not in (0.0, 1.0):
                raise UsageError(f"{path}:{ln}: label {row[li]!r} is not 0 or 1")
            rows.append(vals)
            labels.append(y)
    if not rows:
        raise UsageError(f"{path}: no data rows")
    return np.asarray(rows, dtype=np.float32), np.asarray(labels, dtype=np.float32), names


def _uses_loader(args: argparse.Namespace) -> bool:
    return bool(args.positive is not None or args.missing is not None or args.na is not None
                or args.no_header or args.columns or args.categorical)


def _load_data(args: argparse.Namespace) -> Tuple[np.ndarray, np.ndarray, List[str]]:
    """This member's CSV: the plain reader (a header, numbers, 0/1 labels), or
    fedshare.data's when any clinical-CSV option is given."""
    if not _uses_loader(args):
        return load_csv(args.data, args.label)
    from .. import data
    from ..errors import InvalidInputError

    if any("=" not in c for c in args.categorical):
        raise UsageError("--categorical: give the categories (COLUMN=A|B|…), the same at every "
                         "member, so that the one-hot features line up")
    opt = data.LoadOptions(
        label=args.label, positive=args.positive, missing=args.missing or "drop",
        na_values=tuple(args.na.split(",")) if args.na is not None else data.NA_DEFAULT,
        header=not args.no_header,
        columns=[c.strip() for c in args.columns.split(",")] if args.columns else None,
        categorical=list(args.categorical))
    try:
        t = data.load_centers([args.data], opt)
    except InvalidInputError as e:
        raise UsageError(str(e)) from None
    c = t.counts[0]
    if c["dropped_missing"] or c["dropped_label"] or c["imputed"]:
        print(f"fedshare train: {args.data}: {c['rows']} rows, {c['kept']} kept "
              f"({c['dropped_missing']} dropped for a missing value, {c['dropped_label']} "
              f"without a label, {c['imputed']} values imputed)", file=sys.stderr)
    return t.X.astype(np.float32), t.y, t.feature_names


def _load_scale(path: str, names: List[str]) -> Tuple[np.ndarray, np.ndarray]:
    try:
        with open(path) as f:
            s = json.load(f)
    except OSError as e:
        raise UsageError(f"--scale: cannot read {path}: {e.strerror}") from None
    except ValueError as e:
        raise UsageError(f"--scale: {path} is not JSON: {e}") from None
    if not isinstance(s, dict) or "mean" not in s or "std" not in s:
        raise UsageError(f"--scale: {path} needs \"mean\" and \"std\" lists")
    try:
        mean = np.asarray(s["mean"], dtype=np.float64).reshape(-1)
        std = np.asarray(s["std"], dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise UsageError(f"--scale: {path}: mean and std must be lists of numbers") from None
    cols = s.get("columns")
    if cols is not None:
        if not isinstance(cols, list) or len(cols) != len(mean):
            raise UsageError(f"--scale: {path}: \"columns\" must name each mean/std entry")
        missing = [n for n in names if n not in cols]
        if missing or len(cols) != len(names):
            raise UsageError(f"--scale: {path}: columns differ from the CSV's "
                             f"(missing: {', '.join(missing) or 'none'})")
        order = [cols.index(n) for n in names]
        mean, std = mean[order], std[order]
    if len(mean) != len(names) or len(std) != len(names):
        raise UsageError(f"--scale: {path}: {len(mean)} means and {len(std)} stds for "
                         f"{len(names)} features")
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std)) and np.all(std > 0)):
        raise UsageError(f"--scale: {path}: means must be finite and stds positive")
    return mean, std


def _split(n: int, fraction: float, seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """Indices of (training, evaluation) rows: a seeded permutation."""
    if not 0.0 < fraction < 1.0:
        raise UsageError("--eval-fraction must be between 0 and 1 (exclusive)")
    n_eval = max(1, int(round(n * fraction)))
    if n - n_eval < 1:
        raise UsageError(f"--data has {n} rows: too few to hold out {fraction:g} for evaluation")
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_eval:]), np.sort(perm[:n_eval])


# --- the command ------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    """Run the ``train`` subcommand; returns the exit code (errors go to stderr)."""
    try:
        return _run(args)
    except (UsageError, OSError) as e:  # bad arguments or files: one line
        return _report_usage("fedshare train", e)
    except Error as e:
        code = f" (code {e.code})" if getattr(e, "code", None) is not None else ""
        print(f"fedshare train: {type(e).__name__}: {e}{code}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("fedshare train: interrupted", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace) -> int:
    if args.verbose:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                            format="%(asctime)s %(name)s: %(message)s")
    # everything local is checked before anything is sent
    seed = _read_seed(args.key)
    task_id = _task_id(args.task)
    if not os.path.exists(args.config):
        raise UsageError(f"--config: no such file: {args.config}")
    if (args.data is None) != (args.label is None):
        raise UsageError("--data and --label go together")
    if args.hidden < 1:
        raise UsageError("--hidden must be positive")
    if args.timeout <= 0:
        raise UsageError("--timeout must be positive")
    if args.threads < 0:
        raise UsageError("--threads must not be negative")
    if args.torch_threads < 1:
        raise UsageError("--torch-threads must be positive")
    data = None
    if args.scale and args.scale_own:
        raise UsageError("--scale and --scale-own: give one")
    if args.data is not None:
        X, y, names = _load_data(args)
        if args.scale:
            mean, std = _load_scale(args.scale, names)
            X = ((X - mean) / std).astype(np.float32)
        tr, ev = _split(len(y), args.eval_fraction, args.seed)
        if args.scale_own:  # this member's own training rows only
            mean = X[tr].astype(np.float64).mean(axis=0)
            std = X[tr].astype(np.float64).std(axis=0)
            std[std <= 1e-12] = 1.0
            X = ((X - mean) / std).astype(np.float32)
        data = (X[tr], y[tr], X[ev], y[ev], names)
    elif args.scale or args.scale_own:
        raise UsageError("--scale and --scale-own need --data")
    share = None
    if args.share is not None:
        if not args.passphrase_env:
            raise UsageError("--share needs --passphrase-env VAR (the passphrase's variable)")
        if args.passphrase_env not in os.environ:
            raise UsageError(f"--passphrase-env: ${args.passphrase_env} is not set")
        if not os.path.exists(args.share):
            raise UsageError(f"--share: no such file: {args.share}")
        from ..phe.threshold import KeyShare
        try:
            share = KeyShare.read_file(args.share, os.environ[args.passphrase_env].encode())
        except Error as e:
            raise UsageError(f"--share: cannot unseal {args.share} (wrong passphrase or not "
                             f"a sealed key share): {e}") from None
    elif args.passphrase_env:
        raise UsageError("--passphrase-env needs --share")

    from .. import fedavg
    from ..consortium import Member
    from ..roles import Aggregator, KeyHolder, run_member

    with Member(args.config, seed) as member:
        task = member.task(task_id)
        if task is None:
            raise UsageError(f"--task: no task {args.task} on the ledger")
        # decoded once here; every act of every round takes this handle as it is
        params = member.threshold_key(bytes.fromhex(task["key_id"]))
        if share is not None:
            try:
                share.check(params)  # it belongs to this key
            except Error:
                raise UsageError(f"--share: {args.share} is not a share of the task's key "
                                 f"{task['key_id']}") from None
        codec = fedavg.Codec.from_bytes(bytes.fromhex(task["codec"]))
        me = member.public_key.hex()
        is_participant = any(p["public_key"] == me for p in task["participants"])
        participant = keyholder = aggregator = None
        info: Dict[str, Any] = {"task": task_id.hex(), "model": None}
        if getattr(args, "no_train", False):
            if data is not None:
                raise UsageError("--no-train: this process trains nothing; --data is not used")
        elif is_participant:
            if data is None:
                raise UsageError("the task names this member a participant: give --data and "
                                 "--label")
            participant, info = _participant(args, member, task_id, task, params, codec, data)
        elif data is not None:
            raise UsageError("this member is not a participant of the task: --data is not used")
        if share is not None:
            keyholder = KeyHolder(member, task_id, params, share, standby_s=args.standby)
        if args.aggregator:
            if task["aggregator"] != member.did:
                raise UsageError(f"--aggregator: the task's aggregator is {task['aggregator']}, "
                                 f"not this member ({member.did})")
            aggregator = Aggregator(member, task_id, params, threads=args.threads)
        if participant is None and keyholder is None and aggregator is None:
            raise UsageError("this member has no role in the task: not a participant, and "
                             "neither --share nor --aggregator given")
        def told(v: Dict[str, Any]) -> None:  # shown even with --quiet: it is about our work
            if v["left_out"]:
                print(f"fedshare train: warning: round {v['round']}: this member's update was "
                      f"LEFT OUT of the round's sum (the task's anomaly rule judged it "
                      f"suspicious; norm {v['norm']:.4g}, cosine {v['cosine']:.3f}); see "
                      f"`fedshare audit verdicts --task {task_id.hex()}`", file=sys.stderr,
                      flush=True)

        report = run_member(member, task_id, participant=participant, keyholder=keyholder,
                            aggregator=aggregator, timeout=args.timeout,
                            progress=not args.quiet, on_verdict=told)
    report.update(info)
    if args.dump_updates and participant is not None:
        np.savez(args.dump_updates, **{f"r{r}": u for r, u in participant.updates.items()})
    if args.report_json:
        tmp = args.report_json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(report, f, indent=1)
        os.replace(tmp, args.report_json)
    accs = [r["accuracy"] for r in report["rounds"] if r["accuracy"] is not None]
    tail = f"; last accuracy {accs[-1]:.4f}" if accs else ""
    if participant is not None:
        lo = report["left_out"]
        tail += (f"; this member's update left out in {len(lo)} of {len(report['verdicts'])} "
                 f"rounds" + (f" (rounds {', '.join(map(str, lo))})" if lo else ""))
    if report.get("left_task") is not None:
        print(f"task {task_id.hex()[:16]}: this member was retired from the consortium and "
              f"left the task in round {report['left_task']}; the task goes on without it{tail}")
        return 0
    print(f"task {task_id.hex()[:16]} done after {report['final_round']} rounds "
          f"(stop reason {report['stop_reason']}){tail}")
    return 0


def _participant(args, member, task_id: bytes, task: Dict[str, Any], params, codec, data):
    import torch

    from .. import torch as fst
    from ..roles import Participant

    torch.set_num_threads(args.torch_threads)

    Xtr, ytr, Xev, yev, names = data
    n_features = Xtr.shape[1]
    model = (fst.logistic_regression(n_features) if args.model == "logreg"
             else fst.mlp(n_features, hidden=args.hidden))
    global_vec, _ = member.fetch_global(task_id)
    n = fst.parameter_count(model)
    if global_vec.size != n:
        raise UsageError(f"the task's model has {global_vec.size} parameters but --model "
                         f"{args.model} on {n_features} features has {n}: the model or the "
                         "CSV's columns do not match the task")
    if len(ytr) > codec.max_weight:
        raise UsageError(f"{len(ytr)} training rows exceed the codec's max weight "
                         f"{codec.max_weight}")
    trainer = fst.LocalTrainer(model, Xtr, ytr, lr=float(task["learning_rate"]),
                               batch_size=int(task["batch_size"]),
                               upload_every=int(task["upload_every"]), seed=args.seed)
    p = Participant(member, task_id, params, trainer, codec, Xev, yev, threads=args.threads)
    info = {"task": task_id.hex(), "model": args.model, "n_parameters": n,
            "features": names, "label": args.label, "train_samples": int(len(ytr)),
            "eval_samples": int(len(yev))}
    return p, info


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``fedshare train`` as a standalone command; returns the exit code."""
    args = build_parser().parse_args(argv)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
