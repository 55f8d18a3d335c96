"""Packed FedAvg through real Paillier encryption (python-paillier as the
independent reference): the product of ciphertexts decrypts to the
big-integer sum of the packed plaintexts, which unpacks to the weighted mean
within the codec bound, provided 2^(8P) <= n."""
import numpy as np
import pytest
from phe import paillier

from fedshare import fedavg as F


@pytest.fixture(scope="module")
def keypair():
    return paillier.generate_paillier_keypair(n_length=1024)


def test_encrypted_aggregation_equals_packed_sum(keypair):
    pub, sec = keypair
    P = (pub.n.bit_length() - 1) // 8  # the documented condition: 2^(8P) <= n
    assert 2 ** (8 * P) <= pub.n
    sizes = [120, 75, 300]
    clip = 0.05
    codec = F.Codec(P, sum(sizes), 1e-6, clip)
    r = np.random.default_rng(2)
    n = 2 * codec.values_per_plaintext + 5
    X = r.uniform(-clip, clip, (3, n)).astype(np.float32)
    X[0, :3] = [clip, -clip, 0.0]

    enc_sum = None
    for x, w in zip(X, sizes):
        cts = [pub.raw_encrypt(v) for v in codec.to_ints(codec.pack(x, weight=w))]
        enc_sum = cts if enc_sum is None else [a * b % pub.nsquare for a, b in zip(enc_sum, cts)]
    dec = [sec.raw_decrypt(c) for c in enc_sum]

    plain_sum = codec.sum(codec.pack(x, weight=w) for x, w in zip(X, sizes))
    assert dec == codec.to_ints(plain_sum)  # exactly the packed sum

    mean = codec.unpack(codec.from_ints(dec), n, sum(sizes))
    exact = (np.array(sizes, float)[:, None] * X.astype(np.float64)).sum(0) / sum(sizes)
    assert np.max(np.abs(mean - exact)) <= codec.error_bound
    plain = F.average(X, sizes)
    assert np.max(np.abs(mean.astype(np.float64) - plain)) <= codec.error_bound + clip * 2.0**-23



def test_fedshare_phe_batch_roundtrip():
    # The same pipeline through fedshare.phe's batch calls (uint8 rows in, uint8 rows out).
    from fedshare import phe

    sk = phe.generate_keypair(2048, seed=phe.insecure_seed(bytes(32)))
    pk = sk.public_key
    P = (pk.n.bit_length() - 1) // 8
    assert P == 255
    codec = F.Codec(P, 10, 1e-6, 1.0)
    r = np.random.default_rng(8)
    n = 3 * codec.values_per_plaintext + 1
    X = r.uniform(-1, 1, (4, n)).astype(np.float32)
    ws = [1, 2, 3, 4]
    acc = None
    for x, w in zip(X, ws):
        cts = pk.encrypt_packed(codec.pack(x, weight=w), seed=phe.insecure_seed(bytes([w]) * 32))
        acc = cts if acc is None else acc.add(cts)
    rows = sk.decrypt_packed(acc, P)
    assert np.array_equal(rows, codec.sum(codec.pack(x, weight=w) for x, w in zip(X, ws)))
    mean = codec.unpack(rows, n, sum(ws))
    exact = (np.array(ws, float)[:, None] * X.astype(np.float64)).sum(0) / sum(ws)
    assert np.max(np.abs(mean - exact)) <= codec.error_bound
