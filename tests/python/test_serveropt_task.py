"""Issue 14: a server optimizer (FedAdam) as an option of the training task,
end to end with real node processes: the task record carries the optimizer,
the aggregator records x_r beside g_r each round, every participant replays
x_r from the ledger before it evaluates and trains, and a forged x_r is
disputed like a forged model."""
from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from fedshare import errors, serveropt
from fedshare import torch as fst
from fedshare.consortium import model_digest
from fedshare.roles import Aggregator, KeyHolder, Participant, run_member

from test_roles import A, B, C, REG, task, world  # noqa: F401 (the cluster fixtures)

ROUNDS = 3
ADAM = serveropt.Adam(eta=0.05, beta_1=0.9, beta_2=0.99, tau=1e-3)


def _run_task(world, task, optimizer, forge=None):  # noqa: F811
    """Create a task with ``optimizer``, run hospitals A (participant, key holder,
    aggregator), B and C (participants, key holders) in threads, each with its
    own member client; returns the task ID and the participants."""
    import torch
    torch.set_num_threads(1)
    cons, m = world
    now = int(time.time())
    for i in (B, C):  # a grant is used up by the task it was asked for
        m[A].request_access(task["data_ids"][i], "train", "training", now, now + 86400)
    tid = m[A].create_task(task["model_id"], task["key_id"], m[A].public_key,
                           [(m[i].public_key, task["data_ids"][i]) for i in (A, B, C)],
                           task["codec"].to_bytes(), learning_rate=0.1, round_limit=ROUNDS,
                           server_optimizer=optimizer)
    X = (task["X"] - task["X"].mean(axis=0)) / task["X"].std(axis=0)
    y = task["y"].astype(np.float64)
    parts, agg = {}, None
    for i in (A, B, C):
        idx = task["parts"][i]
        model = fst.logistic_regression(X.shape[1], seed=0)
        tr = fst.LocalTrainer(model, X[idx[:-30]], y[idx[:-30]], lr=0.1, batch_size=32,
                              upload_every=10, seed=i)
        parts[i] = Participant(m[i], tid, task["params"], tr, task["codec"], X[idx[-30:]],
                               y[idx[-30:]])
    agg = Aggregator(m[A], tid, task["params"], forge_server_model=forge)
    holders = {i: KeyHolder(m[i], tid, task["params"], task["shares"][i], standby_s=1)
               for i in (A, B, C)}
    with ThreadPoolExecutor(3) as ex:
        futs = {i: ex.submit(run_member, m[i], tid, participant=parts[i],
                             keyholder=holders[i], aggregator=agg if i == A else None,
                             timeout=120, progress=False) for i in (A, B, C)}
        reports = {i: f.result(timeout=300) for i, f in futs.items()}
    return tid, parts, reports


def _reference_adam(opt, x0, deltas):
    """FedAdam (Reddi et al. 2021; Flower's step-size convention) written out
    here on its own: x_r from x_0 and the pseudo-gradients d_1 … d_r."""
    x = x0.astype(np.float64)
    m = np.zeros_like(x)
    v = np.zeros_like(x)
    out = []
    for r, d in enumerate(deltas, start=1):
        m = opt.beta_1 * m + (1 - opt.beta_1) * d
        v = opt.beta_2 * v + (1 - opt.beta_2) * d * d
        eta_r = opt.eta * math.sqrt(1 - opt.beta_2 ** (r + 1)) / (1 - opt.beta_1 ** (r + 1))
        x = x + eta_r * m / (np.sqrt(v) + opt.tau)
        out.append(x.copy())
    return out


def test_adam_task_every_member_replays_x(world, task):  # noqa: F811
    cons, m = world
    tid, parts, reports = _run_task(world, task, ADAM)
    t = m[REG].task(tid)
    assert t["phase"] == 6 and t["round"] == ROUNDS
    assert t["server_optimizer"] == "adam"
    assert serveropt.from_task(t) == ADAM  # the four numbers exactly as agreed
    codec = task["codec"]
    x0 = task["init"]
    deltas, xs = [], []
    for r in range(1, ROUNDS + 1):
        rec = m[REG].round(tid, r)
        assert rec["models_disputed"] == 0
        # x_r on the ledger = serveropt's replay from the ledger (by any member)
        state = serveropt.replay(m[B], tid, ADAM, r)
        assert model_digest(state.x).hex() == rec["server_model"]
        x = serveropt.fetch_model(m[C], bytes.fromhex(rec["server_model"]))
        assert np.array_equal(x, state.x)
        xs.append(x)
        # the plain aggregate of the accepted updates (their weights: the trainers' sizes)
        ups = [(parts[i].updates[r], parts[i].trainer.samples)
               for k, i in enumerate((A, B, C)) if rec["updates"][k]["verdict"] != "suspicious"]
        assert len(ups) >= 2
        num = sum(np.clip(u.astype(np.float64), -codec.clip, codec.clip) * w for u, w in ups)
        deltas.append(num / sum(w for _, w in ups))
    # every participant evaluated x_r, and trained its last update from x_(R-1)
    last = m[REG].round(tid, ROUNDS)["server_model"]
    for i in (A, B, C):
        assert model_digest(parts[i].global_model).hex() == last
        assert reports[i]["server_model_digest"] == last
        assert np.array_equal(parts[i]._trained_from, xs[-2])
    # x_r = reference FedAdam on the plain aggregates, within the codec's bound:
    # the chain's d_r is within the codec's error bound (plus the float32
    # rounding of g_r) of the plain mean per parameter, and Adam's step moves
    # at most eta_r/tau per unit of d, for each round's d so far
    ref = _reference_adam(ADAM, x0, deltas)
    err = codec.error_bound + 1e-6
    tol = 0.0
    for r in range(1, ROUNDS + 1):
        eta_r = ADAM.eta * math.sqrt(1 - ADAM.beta_2 ** (r + 1)) / (1 - ADAM.beta_1 ** (r + 1))
        tol += eta_r * r * err / ADAM.tau
        gap = np.max(np.abs(xs[r - 1].astype(np.float64) - ref[r - 1]))
        assert gap <= tol + 1e-6, (r, gap, tol)
    # and x is not the aggregate chain: the optimizer did move the model
    g = serveropt.fetch_model(m[A], bytes.fromhex(t["global_model"]))
    assert np.max(np.abs(g - xs[-1])) > 10 * tol


def test_a_forged_x_is_disputed(world, task):  # noqa: F811
    cons, m = world
    forged = []

    def forge(r, x):
        if r == 1 and not forged:
            forged.append(r)
            return x + np.float32(0.01)
        return x

    tid, parts, _ = _run_task(world, task, "adam:eta=0.05", forge=forge)
    assert forged == [1]
    rec = m[REG].round(tid, 1)
    assert rec["models_disputed"] >= 1
    t = m[REG].task(tid)
    assert t["phase"] == 6
    for r in range(1, t["round"] + 1):
        state = serveropt.replay(m[B], tid, ADAM, r)
        assert model_digest(state.x).hex() == m[REG].round(tid, r)["server_model"]


def test_server_optimizer_text_forms():
    assert serveropt.parse("adam") == serveropt.Adam()
    assert serveropt.parse("yogi:eta=0.02,beta1=0.8") == serveropt.Yogi(eta=0.02, beta_1=0.8)
    assert serveropt.parse(ADAM.describe()) == ADAM
    for bad in ("sgd", "adam:eta=0", "adam:beta1=1", "adam:gamma=1", "adam:eta=x", 3):
        with pytest.raises(errors.InvalidInputError):
            serveropt.parse(bad)
