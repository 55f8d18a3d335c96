"""`fedshare keys ceremony --dealerless` against live nodes: three key holders
as three CLI processes run libphe's dealerless key generation over their
encrypted channel, the first records the key, the others check the record;
the recorded key decrypts a sum with every pair of the sealed shares.
Also the in-process generator (fedshare.dkg.generate) and the channel's
refusals."""
from __future__ import annotations

import hashlib
import itertools
import os
import subprocess
import sys

import pytest

from fedshare import dkg, errors
from fedshare._native import code_value
from fedshare.consortium import Member, lib
from fedshare.phe import threshold

from fedshare_cluster import Consortium, free_port

HOLDERS = ["hospital-a", "hospital-b", "hospital-c"]


def _cli(*args, env=None):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.Popen([sys.executable, "-m", "fedshare", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e)


def test_dealerless_ceremony_with_live_nodes(tmp_path):
    cons = Consortium(tmp_path)
    cons.start_all()
    try:
        keys = []
        for i in range(3):
            k = tmp_path / f"m{i}.key"
            k.write_text(cons.seeds[i].hex())
            keys.append(k)
        addrs = [f"{h}=127.0.0.1:{free_port()}" for h in HOLDERS]
        env = {"FEDSHARE_PASSPHRASE_" + h.upper().replace("-", "_"): h for h in HOLDERS}
        def start(session):
            return [_cli("keys", "ceremony", "--dealerless", "--config", cons.config,
                         "--key", keys[i], "--holders", *HOLDERS, "--me", h,
                         "--threshold", 2, "--session", session, "--addresses", *addrs,
                         "--strength", "interactive", "--timeout", 900,
                         "--out", tmp_path / f"out{i}", env=env)
                    for i, h in enumerate(HOLDERS)]

        # a holder that crashes mid-way: the others fail cleanly, nothing is recorded
        procs = start("test ceremony 1")
        line = procs[2].stdout.readline()
        assert "holders connected" in line, line
        procs[2].kill()
        procs[2].wait()
        for p in procs[:2]:
            _, e = p.communicate(timeout=600)
            assert p.returncode == 1 and "nothing was recorded" in e, e
        for i in range(2):  # a share sealed before the failure would be left: none is
            assert not (tmp_path / f"out{i}" / f"{HOLDERS[i]}.share").exists()
        # restarted with a new session: the key is made and recorded
        procs = start("test ceremony 2")
        outs = [p.communicate(timeout=1200) for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0], [e for _, e in outs]
        ids = {o.split("key ", 1)[1].split(":", 1)[0] for o, _ in outs}
        assert len(ids) == 1
        key_id = bytes.fromhex(ids.pop())
        with Member(cons.config, cons.seeds[3]) as auditor:
            rec = auditor.record(lib.FEDSHARE_REC_KEY, key_id)
            params = auditor.threshold_key(key_id)
        assert rec["threshold"] == 2 and len(rec["holders"]) == 3
        # the record says how the key was made, with every holder's valid attestation
        assert rec["made"] == "dealerless" and "dealer" not in rec
        assert [h["attested"] for h in rec["holders"]] == [True, True, True]
        with Member(cons.config, cons.seeds[3]) as auditor:
            prov = auditor.key_provenance(key_id)
        assert prov["made"] == "dealerless" and prov["attested"] is True
        assert prov["dealer"] is None and len(prov["attestations"]) == 3
        assert prov["session"] == dkg.session_id("test ceremony 2", [cons.public_key(i) for i in
                                                                     range(3)], 2, 2048)
        for i in range(3):  # each attestation verifies against its holder's key, and only it
            hh = bytes.fromhex(rec["holders"][i]["sealed_share"])
            assert dkg.attestation_ok(cons.public_key(i), params, prov["session"],
                                      prov["commitment"], hh, prov["attestations"][i])
            assert not dkg.attestation_ok(cons.public_key((i + 1) % 3), params, prov["session"],
                                          prov["commitment"], hh, prov["attestations"][i])
        p = _cli("keys", "show", "--config", cons.config, "--key", keys[0],
                 "--key-id", key_id.hex())
        o, e = p.communicate(timeout=120)
        assert p.returncode == 0, e
        assert ("made without a dealer by holders hospital-a, hospital-b, hospital-c, each "
                "attested") in o, o
        # a forged attestation is refused with its code and records nothing new
        forged = list(prov["attestations"])
        forged[1] = bytes([forged[1][0] ^ 1]) + forged[1][1:]
        hs = [bytes.fromhex(h["sealed_share"]) for h in rec["holders"]]
        with Member(cons.config, cons.seeds[0]) as holder1:
            with pytest.raises(errors.VerificationError) as ei:
                holder1.record_key(params, [cons.public_key(i) for i in range(3)], hs,
                                   dealerless={"session": prov["session"],
                                               "commitment": prov["commitment"],
                                               "attestations": forged})
            assert ei.value.code == code_value("FEDSHARE_E_ATTESTATION")
            assert holder1.record(lib.FEDSHARE_REC_KEY, key_id) == rec
        shares = []
        for i, h in enumerate(HOLDERS):
            f = tmp_path / f"out{i}" / f"{h}.share"
            assert rec["holders"][i]["sealed_share"] == hashlib.sha256(f.read_bytes()).hexdigest()
            s = threshold.KeyShare.read_file(f, h)
            s.check(params)
            assert s.index == i + 1
            shares.append(s)
        pk = params.public_key
        c = pk.encrypt(1234) + pk.encrypt(-34) + pk.encrypt(800)
        for sub in itertools.combinations(range(3), 2):
            ds = [shares[i].decrypt_share(params, c) for i in sub]
            assert threshold.combine(params, c, ds) == 2000
        # the share files are never replaced: a second run refuses before any work
        p = _cli("keys", "ceremony", "--dealerless", "--config", cons.config, "--key", keys[0],
                 "--holders", *HOLDERS, "--me", HOLDERS[0], "--session", "again",
                 "--addresses", *addrs, "--out", tmp_path / "out0", env=env)
        _, e = p.communicate(timeout=120)
        assert p.returncode == 2 and "exists" in e
    finally:
        cons.close()


def test_five_holders_three_of_five(tmp_path):
    """Five key holders as five CLI processes, t = 3: recorded as dealerless with
    five valid attestations; every 3-subset of the sealed shares decrypts."""
    extra = [("hospital-d", "provider,keyholder", "hospital-d"),
             ("hospital-e", "provider,keyholder", "hospital-e")]
    holders = HOLDERS + [n for n, _, _ in extra]
    idx = [0, 1, 2, 5, 6]  # the members' order in the consortium file
    cons = Consortium(tmp_path, extra_members=extra)
    cons.start_all()
    try:
        keys = []
        for i in idx:
            k = tmp_path / f"m{i}.key"
            k.write_text(cons.seeds[i].hex())
            keys.append(k)
        addrs = [f"{h}=127.0.0.1:{free_port()}" for h in holders]
        env = {"FEDSHARE_PASSPHRASE_" + h.upper().replace("-", "_"): h for h in holders}
        procs = [_cli("keys", "ceremony", "--dealerless", "--config", cons.config,
                      "--key", keys[i], "--holders", *holders, "--me", h, "--threshold", 3,
                      "--session", "five", "--addresses", *addrs, "--strength", "interactive",
                      "--timeout", 900, "--out", tmp_path / f"out{i}", env=env)
                 for i, h in enumerate(holders)]
        outs = [p.communicate(timeout=1200) for p in procs]
        assert [p.returncode for p in procs] == [0] * 5, [e for _, e in outs]
        key_id = bytes.fromhex(outs[0][0].split("key ", 1)[1].split(":", 1)[0])
        with Member(cons.config, cons.seeds[3]) as auditor:
            rec = auditor.record(lib.FEDSHARE_REC_KEY, key_id)
            prov = auditor.key_provenance(key_id)
            params = auditor.threshold_key(key_id)
        assert rec["threshold"] == 3 and prov["made"] == "dealerless"
        assert [h["attested"] for h in rec["holders"]] == [True] * 5
        shares = [threshold.KeyShare.read_file(tmp_path / f"out{i}" / f"{h}.share", h)
                  for i, h in enumerate(holders)]
        pk = params.public_key
        c = pk.encrypt(40) + pk.encrypt(2)
        for sub in itertools.combinations(range(5), 3):
            ds = [shares[i].decrypt_share(params, c) for i in sub]
            assert threshold.combine(params, c, ds) == 42
    finally:
        cons.close()


def test_dealerless_options_are_checked(tmp_path):
    cons = Consortium(tmp_path)
    k = tmp_path / "m0.key"
    k.write_text(cons.seeds[0].hex())
    base = ["keys", "ceremony", "--dealerless", "--config", cons.config, "--key", k,
            "--holders", *HOLDERS, "--out", tmp_path / "o"]
    for extra, msg in ((["--me", "regulator", "--session", "s"], "--me must be one of"),
                       (["--me", HOLDERS[0]], "--session"),
                       (["--me", HOLDERS[0], "--session", "s", "--addresses",
                         "hospital-a=127.0.0.1:1"], "no address for hospital-b"),
                       (["--me", HOLDERS[0], "--session", "s", "--addresses", "nonsense"],
                        "NAME=HOST:PORT")):
        p = _cli(*base, *extra)
        _, e = p.communicate(timeout=120)
        assert p.returncode == 2 and msg in e, e


def test_generate_in_process_and_the_state_machine_refuses_garbage():
    params, shares = dkg.generate(bits=2048, threshold=2, holders=3)
    pk = params.public_key
    c = pk.encrypt(41) + pk.encrypt(1)
    for sub in itertools.combinations(shares, 2):
        assert threshold.combine(params, c, [s.decrypt_share(params, c) for s in sub]) == 42
    d = dkg.Dkg(b"s" * 32, 2048, 2, 3, 1)
    with pytest.raises(errors.Error) as e:
        d.handle(b"garbage")
    assert e.value.code == dkg.ERR_STATE  # not started
    assert len(d.start()) == 2
    with pytest.raises(errors.Error):
        d.handle(b"PHDK" + bytes(60))
    assert not d.done and d.blamed == 0
    with pytest.raises(errors.InvalidInputError):
        dkg.Dkg(b"short", 2048, 2, 3, 1)
    with pytest.raises(errors.InvalidInputError):
        dkg.session_id("x", [b"short"], 2, 2048)
