"""fedshare.phe ⇄ python-paillier (the `phe` package), both ways, through
python-paillier's JSON form: {"public_key": {"n": <int>}, "values":
[["<ciphertext decimal>", <exponent>], …]} — and the known-answer vectors."""
import hashlib
import json
from pathlib import Path

import pytest

import fedshare
from fedshare import phe

pp = pytest.importorskip("phe")  # python-paillier is in requirements-dev.txt
from phe import paillier  # noqa: E402

KAT = Path(__file__).resolve().parents[1] / "phe" / "kat" / "phe_kat.exp"


@pytest.fixture(scope="module")
def pp_keys():
    return paillier.generate_paillier_keypair(n_length=2048)


@pytest.fixture(scope="module")
def our_key():
    return phe.generate_keypair(2048, seed=phe.insecure_seed(b"interop"))


def pp_json(pub, numbers):
    # Exactly the form python-paillier's documentation uses to ship numbers.
    return json.dumps({"public_key": {"n": pub.n},
                       "values": [(str(x.ciphertext()), x.exponent) for x in numbers]})


def test_python_paillier_key_and_ciphertexts_used_by_fedshare(pp_keys):
    pub, priv = pp_keys
    values = [0, 1, -1, 123456789, -(2**40), 2**62]
    data = pp_json(pub, [pub.encrypt(v) for v in values])
    pk, cts = phe.from_python_paillier_json(data)
    assert pk.n == pub.n
    total = cts[0]
    for c in cts[1:]:
        total = total + c
    scaled = cts[3] * -3 + 10
    # back to python-paillier, which holds the secret key
    back = json.loads(phe.to_python_paillier_json(pk, [total, scaled] + cts))
    assert back["public_key"]["n"] == pub.n
    nums = [paillier.EncryptedNumber(pub, int(c), int(e)) for c, e in back["values"]]
    assert priv.decrypt(nums[0]) == sum(values)
    assert priv.decrypt(nums[1]) == values[3] * -3 + 10
    assert [priv.decrypt(x) for x in nums[2:]] == values


def test_fedshare_key_and_ciphertexts_used_by_python_paillier(our_key):
    pk = our_key.public_key
    values = [5, -7, 2**50, -(2**63)]
    data = phe.to_python_paillier_json(pk, [pk.encrypt(v) for v in values])
    obj = json.loads(data)
    pub = paillier.PaillierPublicKey(n=int(obj["public_key"]["n"]))
    nums = [paillier.EncryptedNumber(pub, int(c), int(e)) for c, e in obj["values"]]
    # python-paillier computes on them, encrypts its own, and sends them back
    s = nums[0] + nums[1] + pub.encrypt(100)
    m = nums[2] * 2
    pk2, cts = phe.from_python_paillier_json(pp_json(pub, [s, m]), public_key=pk)
    assert pk2 is pk
    assert our_key.decrypt(cts[0]) == 5 - 7 + 100
    assert our_key.decrypt(cts[1]) == 2**51
    # and python-paillier's private key, built from ours, decrypts ours
    pub2, priv2 = our_key.to_python_paillier()
    assert pub2.n == pk.n
    assert [priv2.decrypt(x) for x in nums] == values


def test_object_level_conversions(our_key, pp_keys):
    pk = our_key.public_key
    c = pk.encrypt(-99)
    enc = c.to_python_paillier()
    _, priv = our_key.to_python_paillier()
    assert priv.decrypt(enc) == -99
    back = phe.Ciphertext.from_python_paillier(pk, enc * 2)
    assert our_key.decrypt(back) == -198
    pub, _ = pp_keys
    assert phe.PublicKey.from_python_paillier(pub).n == pub.n
    with pytest.raises(fedshare.InvalidInputError, match="another key"):
        phe.Ciphertext.from_python_paillier(pk, pub.encrypt(1))


def test_bad_json_and_fractional_numbers(pp_keys):
    pub, _ = pp_keys
    with pytest.raises(fedshare.InvalidInputError, match="exponent 0"):
        phe.from_python_paillier_json(pp_json(pub, [pub.encrypt(1.5)]))
    for bad in ("", "{}", '{"public_key": {"n": 5}, "values": []}', "[1]",
                '{"public_key": {"n": "x"}, "values": []}'):
        with pytest.raises(fedshare.InvalidInputError):
            phe.from_python_paillier_json(bad)
    # a ciphertext ≥ n² or sharing a factor with n is refused
    bad = json.dumps({"public_key": {"n": pub.n}, "values": [[str(pub.n ** 2), 0]]})
    with pytest.raises(fedshare.InvalidInputError, match="ciphertext"):
        phe.from_python_paillier_json(bad)
    bad = json.dumps({"public_key": {"n": pub.n}, "values": [[str(pub.n), 0]]})
    with pytest.raises(fedshare.InvalidInputError, match="ciphertext"):
        phe.from_python_paillier_json(bad)


def _kat():
    out = {}
    for line in KAT.read_text().splitlines():
        if line and not line.startswith("#"):
            parts = line.split()
            out[" ".join(parts[:-1])] = parts[-1]
    return out


def test_known_answers_match_c_and_python_integers():
    kat = _kat()
    sk = phe.generate_keypair(2048, seed=phe.insecure_seed(b"fedshare-kat-2048"))
    skb = sk.to_bytes()
    assert hashlib.sha256(skb).hexdigest() == kat["seckey"]
    assert hashlib.sha256(sk.public_key.to_bytes()).hexdigest() == kat["pubkey"]
    c = sk.public_key.encrypt(123456789, seed=phe.insecure_seed(b"fedshare-kat-enc"))
    assert hashlib.sha256(c.to_bytes()).hexdigest() == kat["djn 123456789"]
    # Independent arithmetic with Python integers (textbook Paillier, g = n + 1).
    p, q = sk._primes()
    n = p * q
    n2 = n * n
    assert n == sk.public_key.n and n.bit_length() == 2048 and p < q
    lam = (p - 1) * (q - 1) // __import__("math").gcd(p - 1, q - 1)
    mu = pow((pow(n + 1, lam, n2) - 1) // n, -1, n)
    assert (pow(c.to_int(), lam, n2) - 1) // n * mu % n == 123456789
    # h_s is an n-th residue: h_s^λ ≡ 1 (mod n²)
    pkb = sk.public_key.to_bytes()
    ln = int.from_bytes(pkb[5:9], "big")
    off = 9 + ln
    hs = int.from_bytes(pkb[off + 4:off + 4 + int.from_bytes(pkb[off:off + 4], "big")], "big")
    assert pow(hs, lam, n2) == 1 and hs != 1
