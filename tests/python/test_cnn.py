"""fedshare.torch.cnn: a convolutional model of realistic size (10^5 parameters
by default) and one encrypted FedAvg round with it at small scale.

Three hospitals hold disjoint parts of scikit-learn's digits (8×8 images, 10
classes); each trains a narrow CNN for one local round (SGD, cross-entropy),
packs its update with its sample count as weight, encrypts it under a 2-of-3
threshold key; the ciphertexts are added, two holders make their batches of
decryption shares (one proof each), the batches are verified and combined,
and the unpacked weighted mean must be plain FedAvg of the same updates within
the codec's stated error bound."""
from __future__ import annotations

import numpy as np
import pytest

from fedshare import errors, fedavg
from fedshare import torch as ft
from fedshare.phe import threshold

from shared_fixtures import PRIME1, PRIME2


def test_default_cnn_is_of_realistic_size_and_classifies_digit_images():
    model = ft.cnn(seed=0)
    n = ft.parameter_count(model)
    assert n == 151_306 and 10**5 <= n <= 10**6
    import torch

    out = model(torch.zeros(5, 64))
    assert tuple(out.shape) == (5, 10)
    # same seed, same initial weights; another seed, others
    assert np.array_equal(ft.flatten_parameters(ft.cnn(seed=0)), ft.flatten_parameters(model))
    assert not np.array_equal(ft.flatten_parameters(ft.cnn(seed=1)),
                              ft.flatten_parameters(model))
    for bad in ({"side": 7}, {"side": 0}, {"classes": 1}, {"width": 0}, {"hidden": True}):
        with pytest.raises(errors.InvalidInputError):
            ft.cnn(**bad)


def test_one_encrypted_round_of_a_cnn_equals_plain_fedavg():
    from sklearn.datasets import load_digits

    d = load_digits()
    X = (d.data / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    parts = np.array_split(np.random.default_rng(5).permutation(len(y)), [700, 1300])
    init = ft.flatten_parameters(ft.cnn(width=4, hidden=16, seed=3)).copy()
    updates, weights = [], []
    for h, idx in enumerate(parts):
        trainer = ft.LocalTrainer(ft.cnn(width=4, hidden=16, seed=3), X[idx], y[idx], lr=0.05,
                                  seed=10 + h, loss="ce")
        updates.append(trainer.train_round(init))
        weights.append(int(trainer.samples))
    assert all(np.abs(u).max() > 0 for u in updates)  # each hospital learned something

    codec = fedavg.Codec(plaintext_bytes=255, max_weight=2000, precision=1e-5, clip=1.0)
    n = init.size
    params, shares = threshold.deal(threshold=2, holders=3, primes=(PRIME1, PRIME2))
    pk = params.public_key
    total = None
    for u, w in zip(updates, weights):
        ct = pk.encrypt_packed(codec.pack(u, weight=w), codec.plaintext_bytes)
        total = ct if total is None else total.add(ct)
    assert total is not None and len(total) == codec.plaintexts(n)
    batches = [shares[i].decrypt_share_batch(params, total) for i in (0, 2)]
    sums = threshold.combine_batch(params, total, batches)
    packed = np.frombuffer(b"".join(int(v).to_bytes(codec.plaintext_bytes, "big")
                                    for v in sums), np.uint8)
    mean = codec.unpack(packed, n, total_weight=sum(weights))
    plain = np.average(np.stack([np.clip(u, -codec.clip, codec.clip) for u in updates]),
                       axis=0, weights=weights)
    assert np.max(np.abs(mean - plain)) <= codec.error_bound + 1e-7
    # the new global model is the old one plus the mean, and it still classifies
    model = ft.cnn(width=4, hidden=16, seed=3)
    ft.restore_parameters(model, init + mean)
    assert 0.0 <= ft.accuracy(model, X, y, loss="ce") <= 1.0
