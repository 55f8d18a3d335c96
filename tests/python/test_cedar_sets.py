"""Versioned Cedar policy sets from Python (fedshare.abac.CedarPolicies): the canonical
encoding the ledger stores and hashes, and updates signed by more than 2/3 of the members."""
from __future__ import annotations

import hashlib

import pytest

from fedshare import abac, errors

TEXT = """
// a comment the encoding keeps
@id("train") @obligation("no_export")
permit (principal, action == Action::"train", resource) when { resource.uses < 100 };
forbid (principal, action == Action::"export", resource);
"""
KEYS = [abac.keypair(bytes([i + 1]) * 32) for i in range(4)]
MEMBERS = [pk for pk, _ in KEYS]


def test_encoding_round_trips_and_hashes():
    ps = abac.CedarPolicies(TEXT, version=7, members=MEMBERS)
    assert ps.version == 7 and ps.members == sorted(MEMBERS)
    assert ps.ids == ["policy0", "policy1"] and ps.names == ["train", "policy1"]
    enc = ps.encode()
    assert enc[:4] == b"ABCP" and TEXT.encode() in enc
    assert ps.hash() == hashlib.sha256(enc).digest()
    again = abac.CedarPolicies.decode(enc)
    assert again == ps and again.encode() == enc and again.annotation(0, "obligation") == \
        "no_export"
    for bad in (b"", enc[:-1], enc + b"\0", b"ABPS" + enc[4:]):
        with pytest.raises(errors.InvalidInputError):
            abac.CedarPolicies.decode(bad)
    with pytest.raises(errors.InvalidInputError):
        abac.CedarPolicies(TEXT, members=[b"short"])


def test_update_needs_more_than_two_thirds():
    v1 = abac.CedarPolicies(TEXT, version=1, members=MEMBERS)
    v2 = abac.CedarPolicies(TEXT.replace("100", "200"), version=2, members=MEMBERS)
    sigs = [(pk, v1.sign_update(v2, sk)) for pk, sk in KEYS]
    with pytest.raises(errors.AccessDeniedError) as e:  # 2 of 4 is not > 2/3
        v1.apply_update(v1.encode_update(v2, sigs[:2]))
    assert e.value.code == -445
    forged = [(sigs[0][0], bytes(64))] + sigs[1:3]
    with pytest.raises(errors.VerificationError):
        v1.apply_update(v1.encode_update(v2, forged))
    upd = v1.encode_update(v2, sigs[:3])
    assert upd[:4] == b"ABCU"
    cur = v1.apply_update(upd)
    assert cur == v2 and cur.version == 2
    with pytest.raises(errors.AccessDeniedError):  # the same update again: not newer
        cur.apply_update(upd)
    r = cur.is_authorized({"principal": 'M::"a"', "action": 'Action::"train"',
                           "resource": {"type": "D", "id": "d"}},
                          [{"uid": {"type": "D", "id": "d"}, "attrs": {"uses": 150},
                            "parents": []}])
    assert r.allowed and r.reasons == ["policy0"]


def test_version_and_keys():
    assert abac.version_string().split(".")[0] == "1"  # 1.0.0: the original API left the ABI
    pk, sk = abac.keypair(bytes(32))
    assert len(pk) == 32 and len(sk) == 64 and sk[32:] == pk
    with pytest.raises(errors.InvalidInputError):
        abac.keypair(b"short")


def test_linked_set_on_the_ledger():
    """libabac 1.3.0: a set with template links encodes (ABCP version 2), hashes and is replaced
    by a quorum-signed update like any other; a set without links keeps version 1."""
    tmpl = 'permit(principal == ?principal, action == Action::"train", resource in ?resource);'
    v1 = abac.CedarPolicies(tmpl, version=1, members=MEMBERS)
    v2 = abac.CedarPolicies(tmpl, version=2, members=MEMBERS).link(
        "policy0", "alice-d1", principal='M::"alice"', resource='D::"d1"')
    assert v1.encode()[4] == 1 and v2.encode()[4] == 2
    assert v2.hash() == hashlib.sha256(v2.encode()).digest()
    sigs = [(pk, v1.sign_update(v2, sk)) for pk, sk in KEYS[:3]]
    cur = v1.apply_update(v1.encode_update(v2, sigs))
    assert cur == v2 and cur.link_count == 1 and cur.ids == ["policy0", "alice-d1"]
    r = cur.is_authorized({"principal": 'M::"alice"', "action": 'Action::"train"',
                           "resource": 'D::"d1"'})
    assert r.allowed and r.reasons == ["alice-d1"]
    enc = v2.encode()
    for cut in range(len(enc)):
        with pytest.raises(errors.InvalidInputError):
            abac.CedarPolicies.decode(enc[:cut])
