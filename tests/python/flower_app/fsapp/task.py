"""The model and the data: logistic regression on one third of the Wisconsin
breast-cancer records per SuperNode (its node config's ``partition-id``), as
in docs/guides/flower.md."""
import numpy as np
from flwr.app import ArrayRecord

N_FEATURES = 30


def load_partition(pid: int):
    from sklearn.datasets import load_breast_cancer

    d = load_breast_cancer()
    X = ((d.data - d.data.mean(axis=0)) / d.data.std(axis=0)).astype(np.float32)
    y = (d.target == 0).astype(np.float32)
    part = np.array_split(np.random.default_rng(7).permutation(len(y)), 3)[pid]
    cut = int(0.8 * len(part))
    return X[part[:cut]], y[part[:cut]], X[part[cut:]], y[part[cut:]]


def local_train(arrays: ArrayRecord, X, y, lr: float = 0.5, steps: int = 10) -> ArrayRecord:
    w, b = (a.astype(np.float64) for a in arrays.to_numpy_ndarrays())
    for _ in range(steps):
        g = 1 / (1 + np.exp(-(X @ w + b))) - y
        w, b = w - lr * X.T @ g / len(y), b - lr * g.mean(keepdims=True)
    return ArrayRecord([w.astype(np.float32), b.astype(np.float32)])


def accuracy(arrays: ArrayRecord, X, y) -> float:
    w, b = arrays.to_numpy_ndarrays()
    return float((((X @ w + b) > 0) == (y == 1)).mean())
