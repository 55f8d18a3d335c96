"""A short, real consortium history for the console tests: four node processes
(fedshare_cluster), three hospitals' data sets with a policy each, access
decisions (permits and a deny), a recorded 2-of-3 key, and a task of two
encrypted rounds on synthetic vectors with evaluations (the accuracy curve)."""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Dict, List

import numpy as np

from fedshare import abac, errors, fedavg
from fedshare.consortium import Member, model_digest
from fedshare.phe import threshold

from fedshare_cluster import MEMBERS, Consortium
from shared_fixtures import PRIME1, PRIME2

A, B, C, REG, AGG = range(5)
N = 24  # model parameters
ROUNDS = 2
POLICY = """
@id("hospitals_train")
@obligation("no_export")
permit (principal is Member, action == Action::"train", resource is Dataset)
when {
  context.purpose == "training"
  && context.period_end < datetime("2030-01-01T00:00:00Z")
  && principal in [Organisation::"hospital-a", Organisation::"hospital-b",
                   Organisation::"hospital-c"]
  && principal.credentials.contains("irb")
};
"""


@dataclass
class World:
    cons: Consortium
    members: List[Member]
    data: List[bytes] = field(default_factory=list)
    task: bytes = b""
    denied_request: Dict = field(default_factory=dict)
    metrics: List[float] = field(default_factory=list)

    @property
    def names(self) -> List[str]:
        return [n for n, _, _ in MEMBERS]


def build(cons: Consortium) -> World:
    m = [Member(cons.config, s, timeout_ms=120000) for s in cons.seeds]
    w = World(cons, m)
    now = int(time.time())
    for i in (A, B, C):
        enc = hashlib.sha256(f"encrypted records of {i}".encode()).digest()
        did = m[i].register_data(enc, "ehr-synthetic", f"hospital {i}, synthetic vectors")
        m[i].set_policy(did, abac.CedarPolicies(POLICY, version=1,
                                                members=[x.public_key for x in m]))
        w.data.append(did)
    try:
        m[A].request_access(w.data[B], "train", "marketing", now, now + 3600)
    except errors.AccessDeniedError as e:
        w.denied_request = e.decision or {}
    m[A].request_access(w.data[B], "train", "training", now, now + 86400)
    m[A].request_access(w.data[C], "train", "training", now, now + 86400)

    params, shares = threshold.deal(threshold=2, holders=3, primes=(PRIME1, PRIME2))
    hashes = [hashlib.sha256(s.seal(b"pass-%d" % i)).digest() for i, s in enumerate(shares)]
    key_id = m[A].record_key(params, [m[i].public_key for i in (A, B, C)], hashes)
    init = np.linspace(-0.5, 0.5, N).astype(np.float32)
    model_id = m[AGG].publish_model(b"synthetic linear model", init, "synthetic")
    codec = fedavg.Codec(plaintext_bytes=255, max_weight=10000, precision=1e-5, clip=1.0)
    w.task = m[A].create_task(model_id, key_id, m[AGG].public_key,
                              [(m[i].public_key, w.data[i]) for i in (A, B, C)],
                              codec.to_bytes(), round_limit=ROUNDS, min_updates=2)
    for i in (A, B, C):
        m[i].join_task(w.task)
    rng = np.random.default_rng(3)
    pb = params.to_bytes()
    for r in range(1, ROUNDS + 1):
        for i in (A, B, C):
            u = (rng.standard_normal(N) * 0.05).astype(np.float32)
            m[i].upload_update(w.task, r, pb, codec.pack(u, weight=100 + i), codec.plaintext_bytes,
                               100 + i, 1.0 + 0.01 * i, 0.5)
        m[AGG].aggregate(w.task, r, pb)
        m[A].post_decryption_share(w.task, r, pb, shares[0])
        m[C].post_decryption_share(w.task, r, pb, shares[2])
        m[AGG].finalize_round(w.task, r, pb)
        metric = 0.70 + 0.08 * r
        for i in (A, B, C):
            model = m[i].compute_global(w.task, r, pb)
            m[i].evaluate(w.task, r, model_digest(model), metric, 50)
        w.metrics.append(metric)
    return w


if __name__ == "__main__":  # a consortium to look at by hand: prints the console command
    import sys
    import tempfile
    from pathlib import Path

    tmp = Path(tempfile.mkdtemp(prefix="console-world-"))
    cons = Consortium(tmp)
    cons.start_all()
    w = build(cons)
    print(tmp, flush=True)
    keys = []
    for (name, _, _), s in zip(MEMBERS, cons.seeds):
        (tmp / f"{name}.key").write_text(s.hex())
        keys += ["--key", f"{name}={tmp / (name + '.key')}"]
    args = ["--config", str(cons.config)] + keys
    for i, p in cons.metrics.items():
        args += ["--metrics", f"{i}={p}"]
    for i in range(4):
        args += ["--store", f"node{i}={tmp / f'data{i}'}"]
    print("fedshare console " + " ".join(args), flush=True)
    (tmp / "console.args").write_text("\n".join(args))
    try:
        sys.stdin.read() if sys.stdin.isatty() else time.sleep(3600)
    finally:
        cons.close()
