"""fedshare.torch: flat vectors in and out of modules (no copies where torch
allows), the local procedure (exactly upload_every batches, deterministic with
a seed), the two models learning a separable problem, and the progress helper."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from torch import nn

from fedshare import errors
from fedshare import torch as fst


def toy(n=200, d=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(np.float32)
    w = rng.standard_normal(d)
    y = (X @ w > 0).astype(np.float32)
    return X, y


def test_flatten_restore_round_trip_and_order():
    m = fst.mlp(4, hidden=3, seed=1)
    assert fst.parameter_count(m) == 4 * 3 + 3 + 3 + 1
    v = fst.flatten_parameters(m)
    assert v.dtype == np.float32 and v.shape == (19,)
    expect = np.concatenate([p.detach().numpy().ravel() for p in m.parameters()])
    assert np.array_equal(v, expect)
    new = np.arange(19, dtype=np.float32) / 10
    fst.restore_parameters(m, new)
    assert np.array_equal(fst.flatten_parameters(m), new)
    assert np.array_equal(m[0].weight.detach().numpy(), new[:12].reshape(3, 4))
    assert np.array_equal(m[2].bias.detach().numpy(), new[18:])
    # a tensor works as well as an array
    fst.restore_parameters(m, torch.from_numpy(new * 2))
    assert np.array_equal(fst.flatten_parameters(m), new * 2)


def test_restore_refuses_bad_vectors_and_changes_nothing():
    m = fst.logistic_regression(3, seed=0)
    before = fst.flatten_parameters(m).copy()
    for bad in (np.zeros(3, np.float32), np.zeros(5, np.float32),
                np.array([0, 0, np.nan, 0], np.float32), np.array([np.inf, 0, 0, 0])):
        with pytest.raises(errors.InvalidInputError):
            fst.restore_parameters(m, bad)
        assert np.array_equal(fst.flatten_parameters(m), before)
    with pytest.raises(errors.InvalidInputError):
        fst.flatten_parameters(nn.ReLU())
    with pytest.raises(errors.InvalidInputError):
        fst.flatten_parameters("not a module")


def test_flat_module_shares_memory_no_copy():
    m = fst.mlp(4, hidden=3, seed=2)
    before = fst.flatten_parameters(m).copy()
    view = fst.make_flat(m)
    assert np.array_equal(view, before)  # values kept
    v1 = fst.flatten_parameters(m)
    assert np.shares_memory(v1, view)
    for p in m.parameters():
        assert np.shares_memory(p.detach().numpy(), v1)
    # writing through the model shows in the vector and vice versa
    with torch.no_grad():
        m[0].bias[1] = 7.5
    assert v1[12 + 1] == 7.5
    v1[0] = -3.0
    assert float(m[0].weight.detach()[0, 0]) == -3.0
    # restore from a numpy array copies once into the flat buffer
    src = np.linspace(-1, 1, 19).astype(np.float32)
    fst.restore_parameters(m, src)
    assert np.array_equal(v1, src) and not np.shares_memory(v1, src)
    # without make_flat the result is a copy (torch cannot give one view)
    m2 = fst.mlp(4, hidden=3, seed=2)
    c = fst.flatten_parameters(m2)
    assert not any(np.shares_memory(c, p.detach().numpy()) for p in m2.parameters())


def test_gradients():
    X, y = toy(16, 4)
    m = fst.logistic_regression(4, seed=3)
    g0 = fst.flatten_gradients(m)
    assert np.array_equal(g0, np.zeros(5, np.float32))  # no gradient yet: zeros
    loss = nn.BCEWithLogitsLoss()(m(torch.from_numpy(X)).reshape(-1), torch.from_numpy(y))
    loss.backward()
    g = fst.flatten_gradients(m)
    expect = np.concatenate([p.grad.numpy().ravel() for p in m.parameters()])
    assert np.array_equal(g, expect) and np.any(g != 0)
    # analytic gradient of the mean BCE of a linear model: X^T (sigmoid(z) - y) / n
    w = m[0].weight.detach().numpy().ravel()
    b = float(m[0].bias.detach())
    z = X @ w + b
    r = 1 / (1 + np.exp(-z)) - y
    assert np.allclose(g[:4], X.T @ r / len(y), atol=1e-6)
    assert np.isclose(g[4], r.mean(), atol=1e-6)
    # flat module: gradients accumulate into the flat buffer, returned as a view
    fst.make_flat(m)
    loss = nn.BCEWithLogitsLoss()(m(torch.from_numpy(X)).reshape(-1), torch.from_numpy(y))
    loss.backward()
    gv = fst.flatten_gradients(m)
    assert np.allclose(gv, g, atol=1e-6)
    assert all(np.shares_memory(gv, p.grad.numpy()) for p in m.parameters())


def test_local_procedure_runs_exactly_upload_every_batches():
    X, y = toy(100, 5)
    m = fst.logistic_regression(5, seed=0)
    t = fst.LocalTrainer(m, X, y, lr=0.1, batch_size=32, upload_every=10, seed=4)
    assert t.samples == 100
    seen = []
    orig_forward = m.forward

    def counting_forward(x):
        seen.append(x.shape[0])
        return orig_forward(x)
    m.forward = counting_forward
    g = np.zeros(6, np.float32)
    u = t.train_round(g)
    assert seen == [32] * 10 and t.steps == 10
    assert u.dtype == np.float32 and u.shape == (6,) and np.any(u != 0)
    t.train_round(g)
    assert seen == [32] * 20 and t.steps == 20
    # the batches cycle through a shuffle: 320 draws from 100 samples cover every sample
    t2 = fst.LocalTrainer(fst.logistic_regression(5), X, y, lr=0.1, seed=4)
    drawn = [t2._next_batch() for _ in range(10)]
    first_epoch = torch.cat(drawn)[:100]
    assert sorted(first_epoch.tolist()) == list(range(100))
    # a local data set smaller than a batch trains on all of it each step
    small = fst.LocalTrainer(fst.logistic_regression(5), X[:7], y[:7], lr=0.1, seed=1,
                             upload_every=3)
    assert sorted(small._next_batch().tolist()) == list(range(7))


def test_update_is_local_minus_global_and_deterministic():
    X, y = toy(120, 5, seed=1)
    g = np.random.default_rng(5).standard_normal(6).astype(np.float32) * 0.1

    def run(seed):
        t = fst.LocalTrainer(fst.logistic_regression(5, seed=9), X, y, lr=0.05, seed=seed)
        return t, [t.train_round(g) for _ in range(3)]

    t1, a = run(11)
    _, b = run(11)
    _, c = run(12)
    for u, v in zip(a, b):
        assert np.array_equal(u, v)  # bit for bit
    assert not np.array_equal(a[0], c[0])
    # the returned update is exactly local - global
    assert np.array_equal(a[2], fst.flatten_parameters(t1.model) - g)
    # the global model passed in is never modified
    assert np.array_equal(g, np.random.default_rng(5).standard_normal(6).astype(np.float32) * 0.1)
    # the manual procedure gives the same first update
    gen = torch.Generator().manual_seed(11)
    order = torch.randperm(120, generator=gen)
    w = torch.from_numpy(g.copy())
    for k in range(10):
        idx = order[32 * k:32 * (k + 1)] if 32 * (k + 1) <= 120 else None
        if idx is None:
            break
        wt = w.clone().requires_grad_(True)
        z = torch.from_numpy(X)[idx] @ wt[:5] + wt[5]
        loss = nn.BCEWithLogitsLoss()(z, torch.from_numpy(y)[idx])
        loss.backward()
        w = (wt - 0.05 * wt.grad).detach()
    t3 = fst.LocalTrainer(fst.logistic_regression(5), X, y, lr=0.05, seed=11, upload_every=3)
    u3 = t3.train_round(g)
    assert np.allclose(u3, (w - torch.from_numpy(g)).numpy(), atol=1e-6)


@pytest.mark.parametrize("factory", [fst.logistic_regression, fst.mlp])
def test_models_learn_a_separable_problem(factory):
    Xa, ya = toy(600, 6, seed=2)
    X, y, Xe, ye = Xa[:400], ya[:400], Xa[400:], ya[400:]
    m = factory(6, seed=0)
    t = fst.LocalTrainer(m, X, y, lr=0.5, seed=0)
    g = fst.flatten_parameters(m).copy()
    start = t.evaluate(g, Xe, ye)
    for _ in range(10):  # 100 SGD steps, the global model following the local one
        g = g + t.train_round(g)
    acc = t.evaluate(g, Xe, ye)
    assert acc >= 0.95 and acc > start
    assert 0.0 <= t.last_loss < 0.3


def test_cross_entropy_loss_multiclass():
    rng = np.random.default_rng(3)
    centers = np.array([[3, 0], [-3, 0], [0, 3]], np.float32)
    lab = rng.integers(0, 3, 300)
    X = (centers[lab] + rng.standard_normal((300, 2)) * 0.5).astype(np.float32)
    m = nn.Sequential(nn.Linear(2, 3))
    t = fst.LocalTrainer(m, X, lab, lr=0.3, seed=0, loss="ce")
    g = fst.flatten_parameters(m).copy()
    for _ in range(5):
        g = g + t.train_round(g)
    assert t.evaluate(g, X, lab) > 0.95


def test_trainer_refuses_bad_input():
    X, y = toy(20, 3)
    m = fst.logistic_regression(3)
    with pytest.raises(errors.InvalidInputError):
        fst.LocalTrainer(m, X, y, lr=-1, seed=0)
    with pytest.raises(errors.InvalidInputError):
        fst.LocalTrainer(m, X, y, lr=0.1, seed=0, batch_size=0)
    with pytest.raises(errors.InvalidInputError):
        fst.LocalTrainer(m, X, y, lr=0.1, seed=0, loss="mse")
    with pytest.raises(errors.InvalidInputError):
        fst.LocalTrainer(m, X, y[:5], lr=0.1, seed=0)
    with pytest.raises(errors.InvalidInputError):
        fst.LocalTrainer(m, X, y + 2, lr=0.1, seed=0)  # labels not 0/1
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(errors.InvalidInputError):
        fst.LocalTrainer(m, bad, y, lr=0.1, seed=0)
    t = fst.LocalTrainer(m, X, y, lr=0.1, seed=0)
    with pytest.raises(errors.InvalidInputError):
        t.train_round(np.zeros(3, np.float32))
    with pytest.raises(errors.InvalidInputError):
        fst.logistic_regression(0)
    with pytest.raises(errors.InvalidInputError):
        fst.mlp(3, hidden=0)


def test_divergence_is_reported():
    X, y = toy(64, 3)
    X = X * 1e19
    t = fst.LocalTrainer(fst.logistic_regression(3, seed=0), X, y, lr=1e30, seed=0)
    with pytest.raises(errors.InvalidInputError, match="diverged"):
        t.train_round(np.ones(4, np.float32))


def test_structure_describes_the_architecture():
    a, b = fst.mlp(5, 4), fst.mlp(5, 8)
    assert fst.structure(a) == fst.structure(fst.mlp(5, 4, seed=3))
    assert fst.structure(a) != fst.structure(b)
    assert b"(8, 5)" in fst.structure(b)


def test_progress_plain_lines_and_disabled():
    s = io.StringIO()
    with fst.Progress(total=3, desc="train", interval=0.0, stream=s) as p:
        for _ in range(3):
            p.update()
        p.set_postfix("acc 0.9")
        p.write("note")
    out = s.getvalue()
    if p._bar is None:  # tqdm not installed: plain lines
        assert "train: 3/3" in out and "note" in out
    s2 = io.StringIO()
    with fst.Progress(total=3, desc="quiet", enabled=False, stream=s2) as p:
        p.update(3)
        p.write("nothing")
    assert s2.getvalue() == "" and p.n == 3
    assert list(fst.progress(range(4), desc="x", enabled=False)) == [0, 1, 2, 3]
