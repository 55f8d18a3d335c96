"""One center's trainer process for ``fedshare demo --model cnn``: the CNN
(:func:`fedshare.torch.cnn`) on the center's own CSV of 8×8 digit images
with class labels 0–9, driven by the one participant loop,
:func:`fedshare.roles.run_member` (as ``fedshare train`` drives it for the
binary models; ``fedshare train`` reads only 0/1 labels).

    python -m fedshare._demo.trainer --config C --key K --task T --data CSV
        --label digit --scale S.json --share SHARE --passphrase-env VAR
        --seed N --width W --hidden H --report-json R [--aggregator]

The CSV has a header row, the 64 pixel columns and the label column; the
held-out evaluation rows are ``fedshare train``'s own split (same rule, same
seed), so the demo's baselines see the same records.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Dict, Optional, Sequence

import numpy as np


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m fedshare._demo.trainer")
    for a in ("--config", "--key", "--task", "--data", "--label", "--scale", "--share",
              "--passphrase-env", "--report-json", "--dump-updates"):
        p.add_argument(a, required=a not in ("--dump-updates",))
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--width", type=int, required=True)
    p.add_argument("--hidden", type=int, required=True)
    p.add_argument("--eval-fraction", type=float, default=0.2)
    p.add_argument("--aggregator", action="store_true")
    p.add_argument("--timeout", type=float, default=600.0)
    args = p.parse_args(argv)

    import torch

    from .. import fedavg
    from .. import torch as ft
    from .._cli.train import _load_scale, _split
    from ..consortium import Member
    from ..phe.threshold import KeyShare
    from ..roles import Aggregator, KeyHolder, Participant, run_member

    torch.set_num_threads(1)
    with open(args.data) as f:
        names = [c.strip() for c in f.readline().split(",")]
    arr = np.loadtxt(args.data, delimiter=",", skiprows=1, ndmin=2)
    li = names.index(args.label)
    y = arr[:, li].astype(np.int64)
    X = np.delete(arr, li, axis=1)
    feats = [n for i, n in enumerate(names) if i != li]
    mean, std = _load_scale(args.scale, feats)
    X = ((X - mean) / std).astype(np.float32)
    tr, ev = _split(len(y), args.eval_fraction, args.seed)
    seed = bytes.fromhex(open(args.key).read().strip())
    task_id = bytes.fromhex(args.task)
    share = KeyShare.read_file(args.share, os.environ[args.passphrase_env].encode())
    with Member(args.config, seed) as member:
        task = member.task(task_id)
        if task is None:
            print(f"no task {args.task} on the ledger", file=sys.stderr)
            return 1
        params = member.threshold_key(bytes.fromhex(task["key_id"]))
        codec = fedavg.Codec.from_bytes(bytes.fromhex(task["codec"]))
        model = ft.cnn(side=int(round(np.sqrt(X.shape[1]))), classes=10, width=args.width,
                       hidden=args.hidden)
        trainer = ft.LocalTrainer(model, X[tr], y[tr], lr=float(task["learning_rate"]),
                                  batch_size=int(task["batch_size"]),
                                  upload_every=int(task["upload_every"]), seed=args.seed,
                                  loss="ce")
        part = Participant(member, task_id, params, trainer, codec, X[ev], y[ev])
        holder = KeyHolder(member, task_id, params, share)
        agg = Aggregator(member, task_id, params) if args.aggregator else None
        report = run_member(member, task_id, participant=part, keyholder=holder,
                            aggregator=agg, timeout=args.timeout, progress=False)
    report.update({"task": task_id.hex(), "model": "cnn",
                   "n_parameters": ft.parameter_count(model), "train_samples": int(len(tr)),
                   "eval_samples": int(len(ev))})
    if args.dump_updates:
        updates: Dict[str, Any] = {f"r{r}": u for r, u in part.updates.items()}
        np.savez(args.dump_updates, **updates)
    tmp = args.report_json + ".tmp"
    with open(tmp, "w") as f:
        json.dump(report, f, indent=1)
    os.replace(tmp, args.report_json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
