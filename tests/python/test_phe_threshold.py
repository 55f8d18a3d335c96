"""fedshare.phe.threshold against a Python-integer reference.

The dealer runs from checked-in 1024-bit safe primes (tests/fixtures/safe_primes.h,
shared with the C tests) so the tests are fast; the ciphertexts, key
shares and decryption shares are re-derived with plain ``pow`` and the
proofs re-verified with ``hashlib`` from the byte layouts documented in
docs/formats/phe-threshold.md.
"""
import hashlib
import itertools
import math
import os

import pytest

from fedshare import InvalidInputError, VerificationError
from fedshare.phe import PublicKey, insecure_seed, threshold
from fedshare.phe.threshold import DecryptionShare, KeyShare, ThresholdParams
from shared_fixtures import PRIME1, PRIME2, PRIME3


# -- reference helpers ---------------------------------------------------------
def u32(x):
    return x.to_bytes(4, "big")


def big(x):
    b = x.to_bytes((x.bit_length() + 7) // 8, "big") if x else b""
    return u32(len(b)) + b


def tag(s):
    return u32(len(s)) + s.encode()


def read_big(data, off):
    ln = int.from_bytes(data[off:off + 4], "big")
    return int.from_bytes(data[off + 4:off + 4 + ln], "big"), off + 4 + ln


def parse_keyshare(data):
    assert data[:5] == b"PHTK\x01"
    t, holders, i = (int.from_bytes(data[5 + 4 * k:9 + 4 * k], "big") for k in range(3))
    key_id = data[17:49]
    s, end = read_big(data, 49)
    assert end == len(data)
    return t, holders, i, key_id, s


def parse_decshare(data):
    assert data[:5] == b"PHTD\x01"
    index = int.from_bytes(data[5:9], "big")
    key_id, digest = data[9:41], data[41:73]
    ci, off = read_big(data, 73)
    e = data[off:off + 32]
    z, end = read_big(data, off + 32)
    assert end == len(data)
    return index, key_id, digest, ci, e, z


def key_id_of(params):
    return hashlib.sha256(tag("fedshare/phe/threshold/v1/key-id") + params.to_bytes()).digest()


def ct_digest(n, c):
    return hashlib.sha256(tag("fedshare/phe/threshold/v1/ciphertext") + big(n) + big(c)).digest()


def verify_reference(params, c, share_bytes):
    """The verifier of docs/formats/phe-threshold.md, in Python integers."""
    n = params.public_key.n
    n2 = n * n
    index, key_id, digest, ci, e_bytes, z = parse_decshare(share_bytes)
    if key_id != key_id_of(params) or digest != ct_digest(n, c):
        return False
    if not 1 <= index <= params.holders or math.gcd(ci, n) != 1:
        return False
    v, vi = params.verification_base, params.verification_keys[index - 1]
    e = int.from_bytes(e_bytes, "big")
    a = pow(c, 4 * z, n2) * pow(pow(ci, 2, n2), -e, n2) % n2
    b = pow(v, z, n2) * pow(vi, -e, n2) % n2
    h = hashlib.sha256(tag("fedshare/phe/threshold/v1/decshare-proof") + key_id + u32(index)
                       + digest + big(ci) + big(a) + big(b)).digest()
    return h == e_bytes


def combine_reference(params, cis):
    """Π c_i^(2μ_i), μ_i = Δ·Π j/(j−i); M = L(·)·(4Δ²)^−1 mod n (None if not 1 mod n)."""
    n = params.public_key.n
    n2 = n * n
    delta = math.factorial(params.holders)
    acc = 1
    for i, ci in cis.items():
        num, den = delta, 1
        for j in cis:
            if j != i:
                num *= j
                den *= j - i
        assert num % den == 0
        acc = acc * pow(ci, 2 * (num // den), n2) % n2
    if (acc - 1) % n:
        return None
    m = (acc - 1) // n * pow(4 * delta * delta, -1, n) % n
    return m - n if m > n // 2 else m


@pytest.fixture(scope="module")
def key23():
    return threshold.deal(threshold=2, holders=3, primes=(PRIME1, PRIME2),
                          seed=insecure_seed(b"py-2-of-3"))


@pytest.fixture(scope="module")
def key35():
    return threshold.deal(threshold=3, holders=5, primes=(PRIME1, PRIME2),
                          seed=insecure_seed(b"py-3-of-5"))


# -- the ceremony --------------------------------------------------------------
@pytest.mark.parametrize("fixture", ["key23", "key35"])
def test_ceremony_against_reference(request, fixture):
    params, shares = request.getfixturevalue(fixture)
    p, q = PRIME1, PRIME2
    n = p * q
    n2 = n * n
    m = ((p - 1) // 2) * ((q - 1) // 2)
    pk = params.public_key
    assert pk.n == n and pk.bits == 2048
    assert params.key_id == key_id_of(params)
    delta = math.factorial(params.holders)
    assert params.delta == delta
    v = params.verification_base
    assert math.gcd(v, n) == 1 and 1 < v < n2
    svals = {}
    for k, share in enumerate(shares):
        t, holders, i, kid, s = parse_keyshare(share.to_bytes())
        assert (t, holders, i, kid) == (params.threshold, params.holders, k + 1, params.key_id)
        assert 0 < s <= n * m
        assert params.verification_keys[k] == pow(v, delta * s, n2)
        share.check(params)
        svals[i] = s
    # Any t shares interpolate f(0) = d with d ≡ 0 (mod m), d ≡ 1 (mod n).
    nm = n * m
    for subset in itertools.combinations(svals, params.threshold):
        d = 0
        for i in subset:
            num, den = 1, 1
            for j in subset:
                if j != i:
                    num *= j
                    den *= j - i
            d += svals[i] * num * pow(den, -1, nm)
        d %= nm
        assert d % m == 0 and d % n == 1


@pytest.mark.parametrize("fixture, value", [("key23", -31415926535), ("key35", 2**80 + 7)])
def test_every_subset_decrypts(request, fixture, value):
    params, shares = request.getfixturevalue(fixture)
    pk = params.public_key
    c = pk.encrypt(value)
    cint = c.to_int()
    n2 = pk.n ** 2
    delta = math.factorial(params.holders)
    ds = [s.decrypt_share(params, c, seed=insecure_seed(b"share%d" % s.index)) for s in shares]
    cis = {}
    for s, d in zip(shares, ds):
        raw = d.to_bytes()
        index, _, _, ci, _, _ = parse_decshare(raw)
        assert index == s.index == d.index
        assert ci == pow(cint, 2 * delta * parse_keyshare(s.to_bytes())[4], n2)
        assert verify_reference(params, cint, raw)
        threshold.verify(params, c, d)
        cis[index] = ci
    for subset in itertools.combinations(range(params.holders), params.threshold):
        picked = [ds[i] for i in subset]
        assert threshold.combine(params, c, picked) == value
        assert combine_reference(params, {i + 1: cis[i + 1] for i in subset}) == value
    assert threshold.combine(params, c, ds) == value  # more than t: first t are used


def test_t_minus_1_shares_do_not_decrypt(key35):
    params, shares = key35
    c = params.public_key.encrypt(99)
    ds = [s.decrypt_share(params, c) for s in shares[:2]]
    with pytest.raises(InvalidInputError) as info:
        threshold.combine(params, c, ds)
    assert info.value.code == threshold.ERR_TOO_FEW_SHARES
    # The same Lagrange arithmetic on t−1 shares does not give the plaintext.
    cis = {d.index: parse_decshare(d.to_bytes())[3] for d in ds}
    assert combine_reference(params, cis) != 99


def test_every_encryption_path_and_homomorphic_sum(key23):
    params, shares = key23
    pk = params.public_key
    total = pk.encrypt(1000, mode="classic") + pk.encrypt(-250) + 5
    total = total * 3 - pk.encrypt(15)
    ds = [shares[2].decrypt_share(params, total), shares[0].decrypt_share(params, total)]
    assert threshold.combine(params, total, ds) == (1000 - 250 + 5) * 3 - 15
    arr = pk.encrypt_array([1, 2, 3, -4])
    s = arr.sum()
    assert threshold.combine(params, s, [sh.decrypt_share(params, s) for sh in shares[1:]]) == 2
    # The public key travels on its own and still encrypts for the threshold key.
    pk2 = PublicKey.from_bytes(pk.to_bytes())
    c2 = pk2.encrypt(77)
    c2 = type(c2).from_bytes(pk, c2.to_bytes())
    assert threshold.combine(params, c2, [sh.decrypt_share(params, c2) for sh in shares[:2]]) == 77


# -- bad shares are named -------------------------------------------------------
def _mutate(data, at, bit=1):
    b = bytearray(data)
    b[at] ^= bit
    return bytes(b)


def test_tampered_and_misused_shares_are_named(key23):
    params, shares = key23
    pk = params.public_key
    c, other_c = pk.encrypt(5), pk.encrypt(6)
    d1, d2 = (s.decrypt_share(params, c) for s in shares[:2])
    raw = d1.to_bytes()

    def code_of(share, ct=c, sset=None):
        with pytest.raises((VerificationError, InvalidInputError)) as info:
            if sset is None:
                threshold.verify(params, ct, share)
            else:
                threshold.combine(params, ct, sset)
        return info.value.code

    forged_z = DecryptionShare.from_bytes(_mutate(raw, len(raw) - 1))
    assert code_of(forged_z) == threshold.ERR_PROOF_INVALID
    assert code_of(None, sset=[forged_z, d2]) == threshold.ERR_PROOF_INVALID
    assert not verify_reference(params, c.to_int(), forged_z.to_bytes())
    relabelled = DecryptionShare.from_bytes(_mutate(raw, 8, 0x03))  # holder 1 -> 2
    assert relabelled.index == 2
    assert code_of(relabelled) == threshold.ERR_PROOF_INVALID
    out_of_range = DecryptionShare.from_bytes(_mutate(raw, 8, 0x06))  # holder 1 -> 7
    assert code_of(out_of_range) == threshold.ERR_INDEX_RANGE
    assert code_of(DecryptionShare.from_bytes(_mutate(raw, 9))) == threshold.ERR_WRONG_KEY
    assert code_of(d1, ct=other_c) == threshold.ERR_WRONG_CIPHERTEXT
    assert code_of(None, sset=[d1, d1]) == threshold.ERR_DUPLICATE_SHARE
    with pytest.raises(InvalidInputError) as info:
        DecryptionShare.from_bytes(_mutate(raw, 8, 0x01))  # index 0
    assert info.value.code == threshold.ERR_INDEX_RANGE
    # a share of another threshold key (same primes, another ceremony)
    other_params, other_shares = threshold.deal(threshold=2, holders=3, primes=(PRIME1, PRIME3),
                                                seed=insecure_seed(b"other"))
    with pytest.raises(VerificationError) as info:
        other_shares[0].check(params)
    assert info.value.code == threshold.ERR_WRONG_KEY
    with pytest.raises(VerificationError) as info:
        other_shares[0].decrypt_share(params, c)
    assert info.value.code == threshold.ERR_WRONG_KEY
    with pytest.raises(InvalidInputError):  # ciphertext of another key
        shares[0].decrypt_share(params, other_params.public_key.encrypt(1))
    assert threshold.combine(params, c, [d2, d1]) == 5


# -- encodings ----------------------------------------------------------------
def test_encodings_round_trip(key23, tmp_path):
    params, shares = key23
    c = params.public_key.encrypt(-1)
    d = shares[1].decrypt_share(params, c)
    p2 = ThresholdParams.from_bytes(params.to_bytes())
    assert p2 == params and p2.to_bytes() == params.to_bytes()
    assert p2.public_key == params.public_key
    k2 = KeyShare.from_bytes(shares[1].to_bytes())
    assert k2.to_bytes() == shares[1].to_bytes() and k2.index == 2
    d2 = DecryptionShare.from_bytes(d.to_bytes())
    assert d2.to_bytes() == d.to_bytes()
    threshold.verify(p2, c, d2)
    assert threshold.combine(p2, c, [d2, shares[2].decrypt_share(p2, c)]) == -1

    sealed = shares[0].seal("pw", strength="test-only-min")
    assert sealed[:5] == b"PHTF\x02" and shares[0].to_bytes() not in sealed
    assert KeyShare.unseal(sealed, "pw").to_bytes() == shares[0].to_bytes()
    with pytest.raises(VerificationError):
        KeyShare.unseal(sealed, "wrong")
    with pytest.raises(VerificationError):
        KeyShare.unseal(_mutate(sealed, len(sealed) - 1), "pw")
    path = tmp_path / "holder1.phtf"
    shares[0].write_file(path, b"pw", strength="test-only-min")
    assert (os.stat(path).st_mode & 0o777) == 0o600
    assert KeyShare.read_file(path, b"pw").to_bytes() == shares[0].to_bytes()
    with pytest.raises(OSError):
        shares[0].write_file(path, b"pw", strength="test-only-min")  # never overwritten


@pytest.mark.parametrize("cls", [ThresholdParams, KeyShare, DecryptionShare])
def test_bad_bytes_are_refused(key23, cls):
    params, shares = key23
    good = {ThresholdParams: params.to_bytes(), KeyShare: shares[0].to_bytes(),
            DecryptionShare: shares[0].decrypt_share(params, params.public_key.encrypt(3))
            .to_bytes()}[cls]
    for cut in list(range(0, 40)) + [len(good) // 2, len(good) - 1]:
        with pytest.raises(InvalidInputError):
            cls.from_bytes(good[:cut])
    with pytest.raises(InvalidInputError):
        cls.from_bytes(good + b"\0")
    with pytest.raises(InvalidInputError):
        cls.from_bytes(good[:4] + b"\x02" + good[5:])
    with pytest.raises(InvalidInputError):
        cls.from_bytes("not bytes")


def test_bad_arguments():
    for kwargs in ({"threshold": 0, "holders": 3}, {"threshold": 4, "holders": 3},
                   {"threshold": 2, "holders": threshold.MAX_HOLDERS + 1}, {"bits": 1024}):
        with pytest.raises(InvalidInputError):
            threshold.deal(**kwargs)
    with pytest.raises(InvalidInputError) as info:
        threshold.deal(primes=(PRIME1, PRIME1))
    assert info.value.code == threshold.ERR_NOT_SAFE_PRIME
    with pytest.raises(InvalidInputError) as info:
        threshold.deal(primes=(PRIME1, PRIME2 + 2))
    assert info.value.code == threshold.ERR_NOT_SAFE_PRIME
    with pytest.raises(InvalidInputError):
        threshold.safe_prime(16)


def _is_probable_prime(x):
    if x < 2:
        return False
    for sp in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        if x % sp == 0:
            return x == sp
    d, r = x - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for a in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        y = pow(a, d, x)
        if y in (1, x - 1):
            continue
        for _ in range(r - 1):
            y = y * y % x
            if y == x - 1:
                break
        else:
            return False
    return True


def test_safe_prime_and_checked_in_primes():
    for P in (threshold.safe_prime(256, seed=insecure_seed(b"sp")), PRIME1, PRIME2, PRIME3):
        assert _is_probable_prime(P) and _is_probable_prime((P - 1) // 2)
    sp = insecure_seed(b"sp")
    assert threshold.safe_prime(256, seed=sp) == threshold.safe_prime(256, seed=sp)
    assert threshold.safe_prime(256, seed=insecure_seed(b"sp")).bit_length() == 256


def test_fresh_2048_bit_ceremony():
    """The full dealer ceremony with a real safe-prime search, once."""
    params, shares = threshold.deal(bits=2048, threshold=2, holders=3)
    n = params.public_key.n
    assert n.bit_length() == 2048
    c = params.public_key.encrypt(123)
    ds = [shares[0].decrypt_share(params, c), shares[2].decrypt_share(params, c)]
    assert threshold.combine(params, c, ds) == 123


def test_property_sums_against_python_ints(key23):
    """Random signed values (beyond int64 too), summed and scaled while
    encrypted, threshold-decrypt to the Python-integer result."""
    from hypothesis import given, settings, strategies as st

    params, shares = key23
    pk = params.public_key
    bound = pk.n // 8

    @settings(max_examples=12, deadline=None, derandomize=True)
    @given(st.lists(st.integers(-bound, bound), min_size=1, max_size=3),
           st.integers(-1000, 1000), st.sampled_from([(0, 1), (1, 2), (2, 0)]))
    def check(values, k, holders):
        c = pk.encrypt(values[0])
        for v in values[1:]:
            c = c + pk.encrypt(v)
        c = c * k
        want = (sum(values) * k) % pk.n
        want = want - pk.n if want > pk.n // 2 else want
        ds = [shares[h].decrypt_share(params, c) for h in holders]
        assert threshold.combine(params, c, ds) == want

    check()


def test_known_answers_shared_with_the_c_tests():
    """The seeded vectors of tests/phe/test_threshold.c, reproduced from Python."""
    params, shares = threshold.deal(threshold=2, holders=3, primes=(PRIME1, PRIME2),
                                    seed=insecure_seed(b"kat"))
    assert params.key_id.hex() == "f2fa22d8775a4423f1ff8dfbf6f681ef03576c9fb0a32f746be1f7af88f9d594"
    assert hashlib.sha256(shares[1].to_bytes()).hexdigest() == \
        "06d368c6cec40db3a57c347c3ed0f2f4c384c2f5c501e067c7647250af4ee398"
    c = params.public_key.encrypt(-42, seed=insecure_seed(b"kat-ct"))
    d = shares[1].decrypt_share(params, c, seed=insecure_seed(b"kat-share"))
    assert hashlib.sha256(d.to_bytes()).hexdigest() == \
        "2b5ffead3f692a112b103977b473095dff507d0eb4331f31bb64c26194c09781"
