"""The default task codec (fedshare.fedavg.Codec.for_participants: dense slots,
precision 1e-5, clip 1) keeps the demo's accuracy.

The demo's setting (fedshare._demo.experiment: Wisconsin breast cancer, three
hospitals, each standardizing with its own statistics, 20 % of each one's
records held out, SGD lr 0.1, 10 steps of 32 records per round, 50 rounds),
trained twice with the same seeds: plain FedAvg in float64 and FedAvg whose
mean goes through the codec (pack with the sample count as weight, big-integer
sum, unpack — exactly what Paillier decryption of the sum returns). The
accuracy on the held-out records must not drop by more than the e2e key's
accuracy-gap target (0.3 percentage points), and every round's packed mean must
be within the codec's stated bound of the plain mean of the clipped updates."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")

from fedshare import data, fedavg  # noqa: E402
from fedshare import torch as ft  # noqa: E402
from fedshare._demo.experiment import _make_model, load_default, split_hospitals  # noqa: E402

ROUNDS, LR, SEED = 50, 0.1, 7


@pytest.fixture(autouse=True)
def _one_torch_thread():
    # tiny models: torch's thread pool only contends with itself (10x slower on a busy machine)
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _run(model_name: str, split: str, codec) -> tuple[float, float]:
    ds = load_default()
    hosp = split_hospitals(ds, split, np.random.default_rng(SEED))
    train, test = [], []
    for h, idx in enumerate(hosp):
        perm = np.random.default_rng(SEED + 100 + h).permutation(idx)
        k = max(1, int(round(0.2 * len(perm))))
        test.append(np.sort(perm[:k]))
        train.append(np.sort(perm[k:]))
    X, _ = data.scale(ds.X, hosp, train)
    trainers = [ft.LocalTrainer(_make_model(model_name, X.shape[1], SEED), X[idx], ds.y[idx],
                                lr=LR, batch_size=32, upload_every=10, seed=SEED + 1 + h)
                for h, idx in enumerate(train)]
    w = ft.flatten_parameters(_make_model(model_name, X.shape[1], SEED))
    weights = [int(t.samples) for t in trainers]
    worst = 0.0
    for _ in range(ROUNDS):
        ups = [t.train_round(w) for t in trainers]
        if codec is None:
            mean = np.average(np.stack(ups), axis=0, weights=weights)
        else:
            acc = codec.sum(codec.pack(u, weight=wt) for u, wt in zip(ups, weights))
            mean = codec.unpack(acc, w.size, sum(weights))
            clipped = np.stack([np.clip(u.astype(np.float64), -codec.clip, codec.clip)
                                for u in ups])
            ref = np.average(clipped, axis=0, weights=weights)
            worst = max(worst, float(np.max(np.abs(mean - ref))))
            assert worst <= codec.error_bound
        w = (w + mean).astype(np.float32)
    Xt, yt = X[np.concatenate(test)], ds.y[np.concatenate(test)]
    return float(trainers[0].evaluate(w, Xt, yt)), worst


@pytest.mark.parametrize("model_name,split", [("logreg", "even"), ("logreg", "skewed"),
                                              ("mlp", "even")])
def test_default_task_codec_keeps_the_demo_accuracy(model_name, split):
    plain, _ = _run(model_name, split, None)
    ds = load_default()
    total = len(ds.y)  # every sample weight is at most the whole data set
    codec = fedavg.Codec.for_participants(3, weight=total)
    assert codec.dense and codec.frac_bits == 16 and codec.clip == 1.0
    packed, worst = _run(model_name, split, codec)
    assert abs(packed - plain) * 100 <= 0.3, (model_name, split, plain, packed, worst)
