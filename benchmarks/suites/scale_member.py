"""One hospital of the scale suite, as its own process (benchmarks/suites/scale.py).

    python scale_member.py CONFIG KEYFILE SHAREFILE TASK_HEX PARAMS OUT.json [--aggregator]

The share's passphrase comes in FEDSHARE_SHARE_PASSPHRASE. The member sets
everything up (imports, connection, unsealed share, roles), prints "ready",
waits for one line on stdin, then plays its roles with fedshare.roles.run_member
exactly as `fedshare train` does, except that the trainer is synthetic: each
round's update is a random float32 vector of PARAMS values (no training; the
point is the cost of the encrypted, audited round). Every act is timed
(wall, crypto, ledger) and written with the run_member report to OUT.json.
"""
from __future__ import annotations

import json
import os
import sys
import time

import numpy as np


class SyntheticTrainer:
    """The LocalTrainer interface with a random update and a constant accuracy."""

    def __init__(self, params: int, seed: int, samples: int = 100):
        self.rng = np.random.default_rng(seed)
        self.params = params
        self.samples = samples

    def train_round(self, global_model):
        # small steps well inside the codec's clip bound
        return self.rng.normal(0.0, 1e-3, self.params).astype(np.float32)

    def evaluate(self, model, X, y) -> float:
        return 0.5


def main() -> int:
    config, keyfile, sharefile, task_hex, params_n, out = sys.argv[1:7]
    is_aggregator = "--aggregator" in sys.argv[7:]
    from fedshare import fedavg
    from fedshare import torch as _ft  # noqa: F401  (run_member imports it: not in the round)
    from fedshare.consortium import Member
    from fedshare.phe.threshold import KeyShare
    from fedshare.roles import Aggregator, KeyHolder, Participant, run_member

    seed = bytes.fromhex(open(keyfile).read().strip())
    share = KeyShare.read_file(sharefile, os.environ["FEDSHARE_SHARE_PASSPHRASE"].encode())
    task_id = bytes.fromhex(task_hex)
    acts = []

    def timed(obj, name):
        f = getattr(obj, name)

        def g(*a, **k):
            t_abs, t0 = time.time(), time.perf_counter()
            res = f(*a, **k)
            acts.append({"act": name, "start": t_abs, "wall_s": time.perf_counter() - t0,
                         **{k2: res[k2] for k2 in ("compute_s", "crypto_s", "ledger_s")}})
            return res

        setattr(obj, name, g)

    with Member(config, seed) as member:
        task = member.task(task_id)
        params = member.key_params(bytes.fromhex(task["key_id"]))
        codec = fedavg.Codec.from_bytes(bytes.fromhex(task["codec"]))
        trainer = SyntheticTrainer(int(params_n), seed=int.from_bytes(seed[:4], "big"))
        participant = Participant(member, task_id, params, trainer, codec,
                                  np.zeros((1, 1), np.float32), np.zeros(1, np.float32))
        keyholder = KeyHolder(member, task_id, params, share)
        aggregator = Aggregator(member, task_id, params) if is_aggregator else None
        for obj, names in ((participant, ("upload", "evaluate")), (keyholder, ("share",)),
                           (aggregator, ("aggregate", "finalize"))):
            for n in names:
                if obj is not None:
                    timed(obj, n)
        print("ready", flush=True)
        sys.stdin.readline()  # the go
        t0 = time.time()
        report = run_member(member, task_id, participant=participant, keyholder=keyholder,
                            aggregator=aggregator, timeout=3600)
        t1 = time.time()
    report["acts_timed"] = acts
    report["t_start"], report["t_end"] = t0, t1
    with open(out + ".tmp", "w") as f:
        json.dump(report, f)
    os.replace(out + ".tmp", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
