"""Batches of decryption shares with one proof per holder per batch
(fedshare.phe.threshold.DecryptionShareBatch) against a Python-integer
reference: the verifier of docs/formats/phe-threshold.md ("PHTB") written
again with ``pow`` and ``hashlib``, honest batches combining to the
plaintexts, an altered share anywhere failing and being located, a proof
moved to another batch failing, and every truncation of the encoding refused.
"""
import hashlib
import math

import pytest

from fedshare import InvalidInputError, VerificationError
from fedshare.phe import insecure_seed, threshold
from fedshare.phe.threshold import BadHoldersError, DecryptionShareBatch

from shared_fixtures import PRIME1, PRIME2
from test_phe_threshold import big, key_id_of, parse_decshare, read_big, tag, u32


def u64(x):
    return x.to_bytes(8, "big")


def parse_batch(data):
    assert data[:5] == b"PHTB\x01"
    index = int.from_bytes(data[5:9], "big")
    key_id, digest = data[9:41], data[41:73]
    count = int.from_bytes(data[73:77], "big")
    off, ds = 77, []
    for _ in range(count):
        d, off = read_big(data, off)
        ds.append(d)
    e = data[off:off + 32]
    z, end = read_big(data, off + 32)
    assert end == len(data)
    return index, key_id, digest, ds, e, z


def list_digest(n, cs):
    h = hashlib.sha256(tag("fedshare/phe/threshold/v1/batch-ciphertexts") + big(n) + u64(len(cs)))
    for c in cs:
        h.update(big(c))
    return h.digest()


def verify_batch_reference(params, cs, data):
    """The PHTB verifier, in Python integers (steps 1-6 of the format page)."""
    n = params.public_key.n
    n2 = n * n
    index, key_id, digest, ds, e_bytes, z = parse_batch(data)
    if key_id != key_id_of(params) or not 1 <= index <= params.holders:
        return False
    if len(ds) != len(cs) or digest != list_digest(n, cs):
        return False
    if any(not 0 < d < n2 or math.gcd(d, n) != 1 for d in ds):
        return False
    h = hashlib.sha256(tag("fedshare/phe/threshold/v1/batch-coefficients") + key_id + u32(index)
                       + digest + u64(len(ds)))
    for d in ds:
        h.update(big(d))
    seed = h.digest()
    rho = [int.from_bytes(hashlib.sha256(tag("fedshare/phe/threshold/v1/batch-coefficient")
                                         + seed + u64(k)).digest()[:16], "big")
           for k in range(len(ds))]
    C = D = 1
    for c, d, r in zip(cs, ds, rho):
        C = C * pow(c, r, n2) % n2
        D = D * pow(d, r, n2) % n2
    e = int.from_bytes(e_bytes, "big")
    v, vi = params.verification_base, params.verification_keys[index - 1]
    a = pow(C, 4 * z, n2) * pow(D * D % n2, -e, n2) % n2
    b = pow(v, z, n2) * pow(vi, -e, n2) % n2
    h = hashlib.sha256(tag("fedshare/phe/threshold/v1/batch-proof") + key_id + u32(index) + seed
                       + big(C) + big(D) + big(a) + big(b)).digest()
    return h == e_bytes


def with_share(data, k, x):
    """The encoding with share k replaced by x."""
    off = 77
    for _ in range(k):
        off += 4 + int.from_bytes(data[off:off + 4], "big")
    end = off + 4 + int.from_bytes(data[off:off + 4], "big")
    return data[:off] + big(x) + data[end:]


@pytest.fixture(scope="module")
def key():
    params, shares = threshold.deal(threshold=2, holders=3, primes=(PRIME1, PRIME2),
                                    seed=insecure_seed(b"py-batch"))
    pk = params.public_key
    values = [0, 1, -1, 2**62, -(2**100), 123456789]
    cts = [pk.encrypt(v) for v in values]
    batches = [s.decrypt_share_batch(params, cts, seed=insecure_seed(b"b%d" % s.index))
               for s in shares]
    return params, shares, values, cts, batches


def test_honest_batches_verify_and_combine(key):
    params, shares, values, cts, batches = key
    for b in batches:
        assert len(b) == len(cts)
        b.verify(params, cts)
        assert verify_batch_reference(params, [c.to_int() for c in cts], b.to_bytes())
        # each share is c^(2Δ s_i) mod n²: the same value as a single share
        single = shares[b.index - 1].decrypt_share(params, cts[3])
        _, _, _, ds, _, _ = parse_batch(b.to_bytes())
        assert ds[3] == parse_decshare(single.to_bytes())[3]
    for pair in [(0, 1), (1, 2), (2, 0)]:
        assert threshold.combine_batch(params, cts, [batches[i] for i in pair]) == values
    assert threshold.combine_batch(params, cts, batches) == values


def test_altered_share_anywhere_fails_and_is_located(key):
    params, shares, values, cts, batches = key
    n = params.public_key.n
    n2 = n * n
    data = batches[0].to_bytes()
    _, _, _, ds, _, _ = parse_batch(data)
    cs = [c.to_int() for c in cts]
    for k in range(len(cts)):
        bad = with_share(data, k, ds[k] * (1 + n) % n2)
        assert not verify_batch_reference(params, cs, bad)
        b = DecryptionShareBatch.from_bytes(bad)
        with pytest.raises(VerificationError) as ei:
            threshold.verify_batch(params, cts, b)
        assert ei.value.code == threshold.ERR_PROOF_INVALID
        with pytest.raises(BadHoldersError) as ei:
            threshold.combine_batch(params, cts, [b, batches[1], batches[2]])
        assert ei.value.holders == [1]
        assert threshold.locate_batch(params, cts, b, [batches[1], batches[2]]) == [k]
    assert threshold.locate_batch(params, cts, batches[0], [batches[1], batches[2]]) == []


def test_replayed_proof_fails(key):
    params, shares, values, cts, batches = key
    pk = params.public_key
    other = [pk.encrypt(v) for v in values]
    b2 = shares[0].decrypt_share_batch(params, other, seed=insecure_seed(b"other"))
    with pytest.raises(VerificationError) as ei:
        threshold.verify_batch(params, other, batches[0])
    assert ei.value.code == threshold.ERR_WRONG_CIPHERTEXT
    with pytest.raises(VerificationError):
        threshold.verify_batch(params, list(reversed(cts)), batches[0])
    # batch 1's proof (e, z) on batch 2's shares
    a, b = batches[0].to_bytes(), b2.to_bytes()
    _, _, _, _, ea, za = parse_batch(a)
    _, _, _, _, eb, zb = parse_batch(b)
    mixed = b[:len(b) - len(eb) - len(big(zb))] + ea + big(za)
    assert parse_batch(mixed)[4] == ea
    with pytest.raises(VerificationError) as ei:
        threshold.verify_batch(params, other, DecryptionShareBatch.from_bytes(mixed))
    assert ei.value.code == threshold.ERR_PROOF_INVALID
    # batch 1 relabelled with batch 2's list digest
    relabelled = a[:41] + b[41:73] + a[73:]
    with pytest.raises(VerificationError) as ei:
        threshold.verify_batch(params, other, DecryptionShareBatch.from_bytes(relabelled))
    assert ei.value.code == threshold.ERR_PROOF_INVALID


def test_encoding_round_trip_and_truncations(key):
    params, shares, values, cts, batches = key
    data = batches[2].to_bytes()
    assert DecryptionShareBatch.from_bytes(data).to_bytes() == data
    for cut in range(len(data)):
        with pytest.raises(InvalidInputError):
            DecryptionShareBatch.from_bytes(data[:cut])
    with pytest.raises(InvalidInputError):
        DecryptionShareBatch.from_bytes(data + b"\0")


def test_bad_arguments(key):
    params, shares, values, cts, batches = key
    with pytest.raises(InvalidInputError):
        shares[0].decrypt_share_batch(params, [])
    with pytest.raises(InvalidInputError):
        shares[0].decrypt_share_batch(params, [1, 2])
    with pytest.raises(InvalidInputError):
        threshold.combine_batch(params, cts, [batches[0]])
    with pytest.raises(InvalidInputError):
        threshold.combine_batch(params, cts, [batches[0], batches[0]])


def test_property_batches_against_python_ints(key):
    """Random values and batch sizes: two random holders' batches combine to
    the values; a random share altered fails, is located, and the Python
    reference verifier agrees with libphe."""
    from hypothesis import given, settings, strategies as st

    params, shares, _, _, _ = key
    pk = params.public_key
    n, bound = pk.n, pk.n // 4

    @settings(max_examples=6, deadline=None, derandomize=True)
    @given(st.lists(st.integers(-bound, bound), min_size=1, max_size=4),
           st.sampled_from([(0, 1), (1, 2), (2, 0)]), st.integers(0, 3), st.integers(2, 2**64))
    def check(values, holders, pos, factor):
        cts = [pk.encrypt(v) for v in values]
        bs = [shares[h].decrypt_share_batch(params, cts) for h in holders]
        assert threshold.combine_batch(params, cts, bs) == values
        cs = [c.to_int() for c in cts]
        assert verify_batch_reference(params, cs, bs[0].to_bytes())
        pos %= len(values)
        data = bs[0].to_bytes()
        d = parse_batch(data)[3][pos]
        altered = with_share(data, pos, d * pow(factor, 2 * n, n * n) % (n * n)
                             if math.gcd(factor, n) == 1 else d * (1 + n) % (n * n))
        assert not verify_batch_reference(params, cs, altered)
        bad = DecryptionShareBatch.from_bytes(altered)
        with pytest.raises(VerificationError):
            threshold.verify_batch(params, cts, bad)
        third = [b for b in range(3) if b != holders[0]]
        good = [shares[h].decrypt_share_batch(params, cts) for h in third]
        assert threshold.locate_batch(params, cts, bad, good) == [pos]

    check()
