"""scale suite: one full encrypted, audited round at every model size.

The consortium of the demo (fedshare._demo.experiment.Experiment): four node
processes replicating the ledger by PBFT on loopback, three hospitals and a
regulator, a 2-of-3 consortium key (2048-bit n) from a recorded ceremony with
shares sealed at rest, each hospital's data set registered with its policy,
access granted, a task created and joined. Then, per size, the three hospitals
run as three processes (benchmarks/suites/scale_member.py) playing every role
with fedshare.roles.run_member, as `fedshare train` does: upload (pack +
encrypt + blob + act), aggregate, aggregate checks, decryption shares (one
batch with one proof per holder), finalize (verify + combine, verdicts),
evaluations (each participant verifies and recombines the model itself). Every
act is a ledger transaction. The model is SYNTHETIC at every size: each
hospital's update is a random float32 vector (no training), so the figures are
the cost of the protocol, not of PyTorch.

Keys (../shared/BENCHMARKS.md): round_seconds_31, round_seconds_1m. Also
round_seconds_10k and round_seconds_100k, and per size the split
(split_<part>_<size>, seconds on the round's critical path):
  pack_encrypt    the slowest upload act minus its ledger time (pack + encrypt)
  upload          that act's ledger time (blob put + the act's commit)
  aggregate       the aggregate act minus its ledger time (blob fetches are ledger)
  shares          the share act that completed the t-th (2nd) share, minus its
                  ledger time (the holder's own recomputation of the aggregate,
                  the batch of shares and its proof)
  verify_combine  crypto time of finalize + the slowest evaluation (batch proofs
                  verified, shares combined, by the aggregator and again by each
                  participant)
  consensus       ledger time of the aggregate, share, finalize and evaluate acts
                  on the critical path (blob traffic and commits)
  waiting         the rest of the round's wall time (block waits between acts,
                  unpacking, scheduling of three processes on two cores)
--quick: skips 1M. FEDSHARE_SCALE_SIZES=100k,1m (say) runs only those sizes (for
measuring one size on a busy machine; the contract check then reports the keys
not printed).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUICK_SKIPS = ("round_seconds_1m",)
SIZES = [(31, "31"), (10_000, "10k"), (100_000, "100k"), (1_000_000, "1m")]
MEMBER = Path(__file__).resolve().parent / "scale_member.py"
#: each member's weight (its synthetic sample count, scale_member.py's default)
SAMPLES = 100


def _codec():
    """The task's codec at every size: the default task codec for 3 hospitals of
    weight <= 100 (fedshare.fedavg.Codec.for_participants: dense slots, precision
    1e-5, clip 1; M = 300): 26-bit slots, 78 values per 2048-bit plaintext. Until
    issue 12's dense packing the suite used byte slots, precision 1e-6, clip 8,
    M = 1000: 40-bit slots, 51 values (benchmarks/results/scale.md)."""
    from fedshare import fedavg

    return fedavg.Codec.for_participants(3, weight=SAMPLES)


def _task(exp, n_params: int, tag: str):
    import hashlib
    import secrets

    import numpy as np

    from fedshare._demo.experiment import A, B, C

    data_ids = []
    for h in range(3):
        did = exp.members[h].register_data(hashlib.sha256(secrets.token_bytes(32)).digest(),
                                           "synthetic-records", f"scale suite {tag}")
        exp.members[h].set_policy(did, exp.policy)
        data_ids.append(did)
    now = int(time.time())
    for h in (B, C):
        exp.members[A].request_access(data_ids[h], "train", "training", now, now + 86400)
    w0 = np.zeros(n_params, np.float32)
    model_id = exp.members[A].publish_model(f"synthetic {n_params} ({secrets.token_hex(4)})"
                                            .encode(), w0, f"synthetic model, {tag}")
    codec = _codec()
    task = exp.members[A].create_task(
        model_id, exp.key_id, exp.members[A].public_key,
        [(exp.members[h].public_key, data_ids[h]) for h in range(3)], codec.to_bytes(),
        round_limit=1, anomaly_warmup=6)
    for h in range(3):
        exp.members[h].join_task(task)
    return task


def _one_round(exp, work: Path, n_params: int, tag: str) -> dict:
    from fedshare._demo.experiment import HOSPITALS

    task = _task(exp, n_params, tag)
    procs, outs = [], []
    for h in range(3):
        out = work / f"{tag}-{HOSPITALS[h]}.json"
        outs.append(out)
        cmd = [sys.executable, str(MEMBER), str(exp.cons.config), str(exp.cons.member_keys[h]),
               str(exp.share_files[h]), task.hex(), str(n_params), str(out)]
        if h == 0:
            cmd.append("--aggregator")
        env = dict(os.environ, FEDSHARE_SHARE_PASSPHRASE=exp.passphrases[h])
        log = open(work / f"{tag}-{HOSPITALS[h]}.log", "wb")
        procs.append(subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=log))
    for h, p in enumerate(procs):
        line = p.stdout.readline()
        if line.strip() != b"ready":
            raise RuntimeError(f"scale member {h} did not start; see {work}/{tag}-*.log")
    t_go = time.time()
    for p in procs:
        p.stdin.write(b"go\n")
        p.stdin.flush()
    for h, p in enumerate(procs):
        if p.wait(timeout=7200) != 0:
            raise RuntimeError(f"scale member {h} failed; see {work}/{tag}-{HOSPITALS[h]}.log")
    reps = [json.loads(o.read_text()) for o in outs]
    wall = max(r["t_end"] for r in reps) - t_go
    acts = [a for r in reps for a in r["acts_timed"]]

    def slowest(name):
        xs = [a for a in acts if a["act"] == name]
        return max(xs, key=lambda a: a["wall_s"]) if xs else None

    # shares: the act that completed the t-th share (t = 2); a third holder's
    # batch runs on beside finalize and evaluate and is not on the path
    done = sorted((a for a in acts if a["act"] == "share"), key=lambda a: a["start"] + a["wall_s"])
    sh = done[1] if len(done) >= 2 else slowest("share")
    up, ag = slowest("upload"), slowest("aggregate")
    fi, ev = slowest("finalize"), slowest("evaluate")
    z = {"wall_s": 0.0, "crypto_s": 0.0, "ledger_s": 0.0, "compute_s": 0.0}
    up, ag, sh, fi, ev = (x or z for x in (up, ag, sh, fi, ev))
    split = {
        "pack_encrypt": up["wall_s"] - up["ledger_s"],
        "upload": up["ledger_s"],
        "aggregate": ag["wall_s"] - ag["ledger_s"],
        "shares": sh["wall_s"] - sh["ledger_s"],
        "verify_combine": fi["crypto_s"] + ev["crypto_s"],
        "consensus": ag["ledger_s"] + sh["ledger_s"] + fi["ledger_s"] + ev["ledger_s"],
    }
    # finalize/evaluate time that is neither crypto nor ledger (unpacking) goes to waiting
    split["waiting"] = max(0.0, wall - sum(split.values()))
    shares = exp.members[3].round(task, 1)["shares"]
    return {"wall": wall, "split": split, "task": task.hex(),
            "shares_posted": len(shares),
            "shares_verified": sum(bool(s.get("verified")) for s in shares),
            "final_round": reps[0]["final_round"]}


def run(ctx):
    from fedshare._demo.experiment import Experiment

    codec = _codec()
    sizes = [s for s in SIZES if not (ctx.quick and s[0] >= 1_000_000)]
    only = os.environ.get("FEDSHARE_SCALE_SIZES")
    if only:
        sizes = [s for s in SIZES if s[1] in only.split(",")]
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="fedshare-scale-") as tmp:
        work = Path(tmp)
        exp = Experiment(work, seed=7, key_bits=2048)
        try:
            for n, tag in sizes:
                r = _one_round(exp, work, n, tag)
                extra = {"params": n, "ciphertexts": codec.plaintexts(n),
                         "values_per_ciphertext": codec.values_per_plaintext,
                         "slot_bits": codec.slot_bits, "frac_bits": codec.frac_bits,
                         "clip": codec.clip, "max_weight": codec.max_weight,
                         "dense": codec.dense, "hospitals": 3, "t": 2,
                         "l": 3, "nodes": 4, "key_bits": 2048, "model": "synthetic",
                         "shares_posted": r["shares_posted"],
                         "shares_verified_on_ledger": r["shares_verified"],
                         "loadavg_1m": round(os.getloadavg()[0], 1),
                         "loadavg_at_start": round(load0, 1)}
                ctx.emit(f"round_seconds_{tag}", round(r["wall"], 3), "s", **extra)
                for part, v in r["split"].items():
                    ctx.emit(f"split_{part}_{tag}", round(v, 3), "s", params=n)
        finally:
            exp.close()
