"""fedshare.did: the did:key specification's published examples, errors, and base58
cross-checked against an independent pure-Python implementation written here."""
import json
import random

import pytest

import fedshare
from fedshare import did as D
from fedshare import errors

# --- an independent reference: base58btc from the definition -----------------------

ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def ref_b58encode(data: bytes) -> str:
    zeros = len(data) - len(data.lstrip(b"\0"))
    n = int.from_bytes(data, "big")
    digits = []
    while n:
        n, r = divmod(n, 58)
        digits.append(ALPHABET[r])
    return "1" * zeros + "".join(reversed(digits))


def ref_b58decode(text: str) -> bytes:
    ones = len(text) - len(text.lstrip("1"))
    n = 0
    for ch in text:
        n = n * 58 + ALPHABET.index(ch)
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\0" * ones + body


def ref_did(pk: bytes) -> str:
    return "did:key:z" + ref_b58encode(b"\xed\x01" + pk)


# --- the spec's test vectors (test-vectors/ed25519-x25519.json) ---------------------

VECTORS = [
    ("did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp",
     "4zvwRjXUKGfvwnParsHAS3HuSVzV5cA4McphgmoCtajS",
     "z6LShs9GGnqk85isEBzzshkuVWrVKsRp24GnDuHk8QWkARMW",
     "7By6kV2t2d188odEM4ExAve1UithKT6dLva4dwsDT3ak"),
    ("did:key:z6MkjchhfUsD6mmvni8mCdXHw216Xrm9bQe2mBH1P5RDjVJG",
     "6ASf5EcmmEHTgDJ4X4ZT5vT6iHVJBXPg5AN5YoTCpGWt",
     "z6LSrHyXiPBhUbvPUtyUCdf32sniiMGPTAesgHrtEa4FePtr",
     "FcoNC5NqP9CePWbhfz95iHaEsCjGkZUioK9Ck7Qiw286"),
    ("did:key:z6MknGc3ocHs3zdPiJbnaaqDi58NGb4pk1Sp9WxWufuXSdxf",
     "8pM1DN3RiT8vbom5u1sNryaNT1nyL8CTTW3b5PwWXRBH",
     "z6LSkkqoZRC34AEpbkhZCqLDcHQVAxuLpQ7kC8XCXMVUfvjE",
     "A5fe37PAxhX5WNKngBpGHhC1KpNE7nwbK9oX2tqwxYxU"),
    ("did:key:z6MkvqoYXQfDDJRv8L4wKzxYeuKyVZBfi9Qo6Ro8MiLH3kDQ",
     "HPYVwAQmskwT1qEEeRzhoomyfyupJGASQQtCXSNG8XS2",
     "z6LSiUo6AEDat8Ze4nQzDo67SGuHLLwsUGkxndHGUjsywHow",
     "7ocvdvQinfqtyQ3Dh9aA7ggoVCQkmfaoueZazHETDv3B"),
    ("did:key:z6MkwW6aqMnjgrhJXFUko3NnZPGzVpkNzhYK7yEhnsibmLwL",
     "J3qYF7YJMKCqQke47UQwiHizgFUXapHxRxKmxbkar89x",
     "z6LSrGb3qm4xMCEBjvwkLb2WEcXfTM94Tu1RyGCbT5wbg8i9",
     "FbQtKTG6FjWSeYZyowWYv2KBcCbwmHqH6HUuxdJ4xkwP"),
]

# The spec's example document (did:key:z6MkhaXg…), member for member.
EXAMPLE_DID = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
EXAMPLE_X = "z6LSj72tK8brWgZja8NLRwPigth2T9QRiG1uH9oKZuKjdh9p"
_VM = EXAMPLE_DID + "#" + EXAMPLE_DID[8:]
EXAMPLE_DOC = {
    "@context": [
        "https://www.w3.org/ns/did/v1",
        "https://w3id.org/security/suites/ed25519-2020/v1",
        "https://w3id.org/security/suites/x25519-2020/v1",
    ],
    "id": EXAMPLE_DID,
    "verificationMethod": [{
        "id": _VM,
        "type": "Ed25519VerificationKey2020",
        "controller": EXAMPLE_DID,
        "publicKeyMultibase": EXAMPLE_DID[8:],
    }],
    "authentication": [_VM],
    "assertionMethod": [_VM],
    "capabilityDelegation": [_VM],
    "capabilityInvocation": [_VM],
    "keyAgreement": [{
        "id": EXAMPLE_DID + "#" + EXAMPLE_X,
        "type": "X25519KeyAgreementKey2020",
        "controller": EXAMPLE_DID,
        "publicKeyMultibase": EXAMPLE_X,
    }],
}


@pytest.mark.parametrize("did, pub_b58, x_id, x_pub_b58", VECTORS)
def test_spec_vectors(did, pub_b58, x_id, x_pub_b58):
    pk = ref_b58decode(pub_b58)
    assert len(pk) == 32
    assert D.public_key_from_did(did) == pk
    assert D.did_from_public_key(pk) == did == ref_did(pk)
    doc = D.did_document(did)
    assert doc["id"] == did
    assert doc["keyAgreement"][0]["id"] == did + "#" + x_id
    assert doc["keyAgreement"][0]["publicKeyMultibase"] == x_id
    assert len(D.did_document_json(did)) == 1360  # the size docs/formats/fedshare-did.md states
    # the key-agreement id is multibase(0xec 0x01 ‖ the X25519 key the spec lists)
    assert ref_b58decode(x_id[1:]) == b"\xec\x01" + ref_b58decode(x_pub_b58)


def test_spec_example_document():
    assert D.did_document(EXAMPLE_DID) == EXAMPLE_DOC
    text = D.did_document_json(EXAMPLE_DID)
    # canonical: the example's member order, no white space
    assert text == json.dumps(EXAMPLE_DOC, separators=(",", ":"))
    assert list(json.loads(text)) == [
        "@context", "id", "verificationMethod", "authentication", "assertionMethod",
        "capabilityDelegation", "capabilityInvocation", "keyAgreement",
    ]


def test_accepts_bytes_like_inputs():
    did, pub_b58 = VECTORS[1][0], VECTORS[1][1]
    pk = ref_b58decode(pub_b58)
    assert D.did_from_public_key(bytearray(pk)) == did
    assert D.did_from_public_key(memoryview(pk)) == did
    assert D.public_key_from_did(did.encode()) == pk
    assert len(did) == D.DID_LENGTH == 56


def test_ledger_signer_key_to_did_and_back():
    from fedshare import ledger

    signer = ledger.Signer(bytes(32))  # the spec's first vector uses the all-zero seed
    assert D.did_from_public_key(signer.public_key) == VECTORS[0][0]
    rng = random.Random(7)
    for _ in range(20):
        s = ledger.Signer(bytes(rng.getrandbits(8) for _ in range(32)))
        d = D.did_from_public_key(s.public_key)
        assert d == ref_did(s.public_key)
        assert D.public_key_from_did(d) == s.public_key


GOOD = VECTORS[0][0]
PK0 = ref_b58decode(VECTORS[0][1])

MALFORMED = [
    "",
    "did:key:",
    "did:key:z",
    GOOD[:-1],                         # truncated
    GOOD + "1",                        # one more digit
    GOOD.replace("did:key:", "did:kex:"),
    GOOD.upper(),
    "DID:key:" + GOOD[8:],
    "did:key:Z" + GOOD[9:],            # wrong multibase
    "did:key:u" + GOOD[9:],
    GOOD[:20] + "0" + GOOD[21:],       # '0' is not in the alphabet
    GOOD[:20] + "l" + GOOD[21:],
    GOOD[:20] + "\u00e9" + GOOD[22:],  # non-ASCII
    GOOD + "#" + GOOD[8:],             # DID URL with fragment
    GOOD + "?service=x",
    GOOD + "/path",
    " " + GOOD,
    GOOD + "\n",
    "did:key:" + VECTORS[0][2],        # x25519-pub multicodec
    ref_did(PK0)[:-3],
    "did:key:z" + ref_b58encode(b"\xe7\x01" + PK0),      # secp256k1-pub code
    "did:key:z" + ref_b58encode(b"\xed\x81\x00" + PK0),  # non-minimal varint
    "did:key:z" + ref_b58encode(b"\xed\x01" + PK0[:31]),  # 31-byte key
    "did:key:z" + ref_b58encode(b"\xed\x01" + PK0 + b"\0"),  # 33-byte key
    "did:key:z" + ref_b58encode(b"\0\xed\x01" + PK0),       # leading zero byte
    ref_did(bytes([1]) + bytes(31)),   # identity point (small order)
    ref_did(bytes(32)),                # y = 0, small order
    ref_did(bytes([2]) + bytes(31)),   # y = 2: not on the curve
    ref_did(b"\xed" + b"\xff" * 30 + b"\x7f"),  # y = p: not canonical
]


@pytest.mark.parametrize("bad", MALFORMED)
def test_malformed_dids_are_refused(bad):
    for fn in (D.public_key_from_did, D.did_document, D.did_document_json):
        with pytest.raises(D.DidError) as info:
            fn(bad)
        assert info.value.code == D.E_DID and info.value.library == "fedshare"
        assert isinstance(info.value, errors.InvalidInputError)
        assert isinstance(info.value, ValueError) and isinstance(info.value, fedshare.Error)


@pytest.mark.parametrize("key", [bytes([1]) + bytes(31), bytes(32), bytes([2]) + bytes(31)])
def test_invalid_points_have_no_did(key):
    with pytest.raises(D.DidError):
        D.did_from_public_key(key)


@pytest.mark.parametrize("key", [b"", bytes(31), bytes(33), "00" * 32, 12, None])
def test_wrong_key_type_or_size(key):
    with pytest.raises(errors.InvalidInputError) as info:
        D.did_from_public_key(key)
    assert not isinstance(info.value, D.DidError)


@pytest.mark.parametrize("value", [None, 56, ["did:key:"]])
def test_wrong_did_type(value):
    with pytest.raises(errors.InvalidInputError):
        D.public_key_from_did(value)


def test_base58_matches_the_reference():
    rng = random.Random(2026)
    for length in range(0, 257):
        for zeros in (0, 1, 3):
            if zeros > length:
                continue
            data = bytes(zeros) + bytes(rng.getrandbits(8) for _ in range(length - zeros))
            text = D.base58_encode(data)
            assert text == ref_b58encode(data)
            if len(text) <= 256:
                assert D.base58_decode(text) == data == ref_b58decode(text)
    for _ in range(300):
        text = "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(0, 257)))
        assert D.base58_decode(text) == ref_b58decode(text)
        assert D.base58_encode(D.base58_decode(text)) == text


def test_base58_errors():
    for bad in ["0", "O", "I", "l", "2g=", "a b", "\u00e9"]:
        with pytest.raises(errors.InvalidInputError) as info:
            D.base58_decode(bad)
        assert info.value.code == D.E_FORMAT
    with pytest.raises(errors.InvalidInputError):
        D.base58_decode("1" * 257)
    assert D.base58_decode("1" * 256) == bytes(256)
    with pytest.raises(errors.InvalidInputError) as info:
        D.base58_encode(bytes(257))
    assert info.value.code == D.E_INVALID
    with pytest.raises(errors.InvalidInputError):
        D.base58_encode("text")


def test_submodule_is_lazy_attribute():
    assert fedshare.did is D
