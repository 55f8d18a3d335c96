"""Members' roles changed, members added and retired by quorum against `fedshare node`
processes (issue 20, part 2; docs/fedshare-contracts.md §Membership):
`fedshare consortium member roles|join|retire|approve --member|status` and the
Member acts. Five genesis members, so more than two thirds is 4 of 5 (3 of 5 is
not); a change approved in block h is in force from h + 2. A retired key holder
is no longer asked for shares and the next round decrypts with t of the rest;
retiring one more holder below t is refused with the reason."""
from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import urllib.request

import numpy as np
import pytest

from fedshare import errors, ledger
from fedshare._native import code_value
from fedshare.consortium import Member
from fedshare.members import DELAY
from fedshare.node import verify_store

import fedshare_cluster
from fedshare_cluster import Consortium

A, B, C, REG, PUB = range(5)


def _run(*args):
    return subprocess.run([sys.executable, "-m", "fedshare", "consortium", "member",
                           *map(str, args)], capture_output=True, text=True, timeout=300)


def _advance(m: Member, height: int, tag: str) -> None:
    """Commit harmless acts until the next block is at ``height`` or later."""
    i = 0
    while m.seen_height < height - 1:
        m.register_data(hashlib.sha256(f"{tag}-{i}".encode()).digest(), "ehr")
        i += 1


def _code(exc: BaseException) -> int:
    return int(getattr(exc, "code", 0))


def test_roles_join_retire(tmp_path):
    cons = Consortium(tmp_path)
    cons.start_all()
    members = []
    try:
        keys = []
        for i, s in enumerate(cons.seeds):
            k = tmp_path / f"m{i}.key"
            k.write_text(s.hex())
            keys.append(k)
        members = [Member(cons.config, s) for s in cons.seeds]
        conf = cons.config
        reg = members[REG]
        model = np.zeros(4, dtype=np.float32)
        # (a read of an empty chain times out: the first block comes first)
        members[A].register_data(hashlib.sha256(b"first").digest(), "ehr")
        # the regulator may not publish (its client says which role it lacks)
        with pytest.raises(errors.Error) as e:
            reg.publish_model(b"mlp", model)
        assert _code(e.value) in (code_value("FEDSHARE_E_ROLE"), code_value("LEDGER_E_REJECTED"))
        st = reg.members_status()
        assert len(st["members"]) == 5 and st["change"] is None

        # roles: 3 of 5 approvals do not take it into force, the 4th does, at h + 2
        r = _run("roles", "--config", conf, "--key", keys[A], "--member-key",
                 reg.public_key.hex(), "--roles", "regulator,publisher")
        assert r.returncode == 0, r.stderr
        change = json.loads(r.stdout)["change"]
        assert change["kind"] == "roles" and change["status"] == "proposed"
        assert change["approvals"] == [members[A].did]
        cid = change["id"]
        r = _run("approve", cid, "--member", "--config", conf, "--key", keys[B])
        assert r.returncode == 0, r.stderr
        r = _run("approve", cid, "--member", "--config", conf, "--key", keys[B])
        assert r.returncode == 3 and "refused" in r.stderr  # a repeated approval
        members[C].member_approve(cid)
        assert reg.member_change(cid)["status"] == "proposed"  # 3 of 5
        with pytest.raises(errors.Error):
            reg.publish_model(b"mlp", model)
        r = _run("approve", cid, "--member", "--config", conf, "--key", keys[PUB])
        assert r.returncode == 0, r.stderr
        done = json.loads(r.stdout)["change"]
        assert done["status"] == "approved" and len(done["approvals"]) == 4
        assert done["effective"] == done["decided_at"] + DELAY
        _advance(members[A], done["effective"], "roles")
        reg.publish_model(b"mlp", model)  # in force
        assert "publisher" in [m for m in reg.members() if m["name"] == "regulator"][0]["roles"]

        # a new member: its acts are refused before the change's height, accepted from it
        seed = hashlib.sha256(f"newbie-{tmp_path}".encode()).digest()
        (tmp_path / "newbie.key").write_text(seed.hex())
        pk = ledger.Signer(seed).public_key
        # the configuration a joining member is handed lists it too (its client checks)
        conf2 = tmp_path / "newbie.conf"
        conf2.write_text(conf.read_text() + f"member hospital-d {pk.hex()} roles=provider "
                                            "org=hospital-d credentials=irb\n")
        newbie = Member(conf2, seed)
        members.append(newbie)
        with pytest.raises(errors.Error):
            newbie.register_data(hashlib.sha256(b"d-0").digest(), "ehr")
        with pytest.raises(errors.Error):  # the nodes store blobs of members only
            newbie.put_model(np.ones(3, dtype=np.float32))
        r = _run("join", "--config", conf, "--key", keys[A], "--member-key-file",
                 tmp_path / "newbie.key", "--name", "hospital-d", "--roles", "provider",
                 "--org", "hospital-d", "--credentials", "irb")
        assert r.returncode == 0, r.stderr
        cid = json.loads(r.stdout)["change"]["id"]
        assert cid == 2
        for i in (B, C, REG):
            members[i].member_approve(cid)
        done = members[A].member_change(cid)
        assert done["status"] == "approved" and done["name"] == "hospital-d"
        # block h + 1 is not yet its
        if members[A].seen_height < done["effective"] - 1:
            with pytest.raises(errors.Error):
                newbie.register_data(hashlib.sha256(b"d-1").digest(), "ehr")
        _advance(members[A], done["effective"], "join")
        newbie.register_data(hashlib.sha256(b"d-2").digest(), "ehr")
        assert len(newbie.members()) == 6
        newbie.put_model(np.ones(3, dtype=np.float32))  # a member now: its blobs are stored

        # hospital C retires: six members now, so 5 approvals are needed
        r = _run("retire", "--config", conf, "--key", keys[A], "--member-key",
                 members[C].public_key.hex())
        assert r.returncode == 0, r.stderr
        cid = json.loads(r.stdout)["change"]["id"]
        for i in (B, REG, PUB):
            members[i].member_approve(cid)
        assert members[A].member_change(cid)["status"] == "proposed"  # 4 of 6
        newbie.member_approve(cid)
        done = members[A].member_change(cid)
        assert done["status"] == "approved"
        _advance(members[A], done["effective"], "retire")
        with pytest.raises(errors.Error) as e:
            members[C].register_data(hashlib.sha256(b"c-late").digest(), "ehr")
        assert _code(e.value) == code_value("FEDSHARE_E_RETIRED")
        with pytest.raises(errors.Error):  # nor its blobs
            members[C].put_model(np.full(3, 2.0, dtype=np.float32))
        r = _run("roles", "--config", conf, "--key", keys[C], "--member-key",
                 reg.public_key.hex(), "--roles", "regulator")
        assert r.returncode == 3 and "retired" in r.stderr
        st = members[A].members_status()
        assert members[C].did in st["retired"] and len(st["members"]) == 5
        r = _run("status", "--config", conf, "--key", keys[A])
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["member_change"]["id"] == cid

        # every node's chain replays from genesis to the same state roots (the contracts'
        # state, the membership records included, is inside them)
        for m in members:
            m.close()
        members = []
        for i in range(4):
            cons.stop(i)
            verify_store(conf, tmp_path / f"data{i}")

    finally:
        for m in members:
            m.close()
        cons.close()


def _breast_cancer_task(cons, m, holders, **task_args):
    """Hospitals A, B and C each register their part of the Wisconsin data
    (test_roles), A is granted B's and C's; a 2-of-3 key is dealt to
    ``holders`` (share{k}.phts sealed with "pass-{k}"), a logistic regression
    published, and A creates a task of A, B and C that A aggregates. Returns
    ``(task_id, params, codec, X, y, names, parts)``."""
    import time

    from fedshare import abac, fedavg
    from fedshare import torch as fst
    from fedshare.phe import threshold

    from shared_fixtures import PRIME1, PRIME2
    from test_roles import POLICY, breast_cancer_split, write_csv

    tmp = cons.tmp
    X, y, names, parts = breast_cancer_split()
    scale = {"columns": names, "mean": X.mean(axis=0).tolist(), "std": X.std(axis=0).tolist()}
    (tmp / "scale.json").write_text(json.dumps(scale))
    data_ids = []
    for i in (A, B, C):
        csv = tmp / f"hospital{i}.csv"
        write_csv(csv, X[parts[i]], y[parts[i]], names)
        (tmp / f"member{i}.key").write_text(cons.seeds[i].hex())
        did = m[i].register_data(hashlib.sha256(csv.read_bytes()).digest(), "ehr-breast-cancer")
        m[i].set_policy(did, abac.CedarPolicies(POLICY, version=1,
                                                members=[x.public_key for x in m]))
        data_ids.append(did)
    now = int(time.time())
    for i in (B, C):
        m[A].request_access(data_ids[i], "train", "training", now, now + 86400)
    params, shares = threshold.deal(threshold=2, holders=3, primes=(PRIME1, PRIME2))
    for k, s in zip(holders, shares):
        s.write_file(tmp / f"share{k}.phts", f"pass-{k}".encode())
    share_hashes = [hashlib.sha256((tmp / f"share{k}.phts").read_bytes()).digest()
                    for k in holders]
    key_id = m[A].record_key(params, [m[k].public_key for k in holders], share_hashes)
    model = fst.logistic_regression(len(names), seed=0)
    model_id = m[PUB].publish_model(fst.structure(model), fst.flatten_parameters(model).copy())
    codec = fedavg.Codec.for_participants(3, weight=334)
    tid = m[A].create_task(model_id, key_id, m[A].public_key,
                           [(m[i].public_key, data_ids[i]) for i in (A, B, C)],
                           codec.to_bytes(), learning_rate=0.1, **task_args)
    return tid, params, codec, X, y, names, parts


@pytest.fixture()
def keyholders(tmp_path):
    saved = fedshare_cluster.MEMBERS
    # A aggregates; C holds no share; D holds a share but trains nothing
    fedshare_cluster.MEMBERS = [("hospital-a", "provider,keyholder,aggregator", "hospital-a"),
                                ("hospital-b", "provider,keyholder", "hospital-b"),
                                ("hospital-c", "provider", "hospital-c"),
                                *saved[3:],
                                ("hospital-d", "keyholder", "hospital-d")]
    try:
        cons = Consortium(tmp_path)
    finally:
        fedshare_cluster.MEMBERS = saved
    cons.start_all()
    members = [Member(cons.config, s) for s in cons.seeds]
    yield cons, members
    for m in members:
        m.close()
    cons.close()


def test_retired_key_holder_is_not_asked(keyholders):
    """A 2-of-3 key held by A, B and D. Round 2's first holders would be B and D;
    D retires before the task runs, so the rotation goes over A and B: round 2
    decrypts with A's and B's shares and nobody stands in (a standby waits 40 s,
    so a round that waited for D would show it). Retiring A then would leave one
    holder: refused with FEDSHARE_E_KEYHOLDERS, and the CLI names the reason."""
    from test_roles import trainer_args

    cons, m = keyholders
    D = 5
    tmp = cons.tmp
    tid, *_ = _breast_cancer_task(cons, m, (A, B, D), round_limit=2)

    # D retires (6 members: 5 approvals)
    m[A].member_retire(m[D].public_key)
    cid = m[A].member_change()["id"]
    for i in (B, C, REG, PUB):
        m[i].member_approve(cid)
    done = m[A].member_change(cid)
    assert done["status"] == "approved"
    _advance(m[A], done["effective"], "retire-d")
    assert m[D].did not in {x["did"] for x in m[A].members()}

    env = dict(os.environ, **{f"FS_PASS_{i}": f"pass-{i}" for i in (A, B)})
    procs = {}
    for i in (A, B, C):
        args = trainer_args(cons, tid, i, "--standby", "40", "--timeout", "60")
        if i == A:
            args.append("--aggregator")
        if i == C:  # a participant only
            k = args.index("--share")
            del args[k:k + 4]
        procs[i] = subprocess.Popen([sys.executable, "-m", "fedshare._cli.train", *args],
                                    env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    start_new_session=True)
    outs = {}
    try:
        for i, p in procs.items():
            out, err = p.communicate(timeout=150)
            outs[i] = (p.returncode, out.decode(), err.decode())
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
    for i, (rc, _out, err) in outs.items():
        assert rc == 0, f"hospital {i}: exit {rc}\n{err}"
    t = m[REG].task(tid)
    assert t["phase"] == 6 and t["round"] == 2
    for r in (1, 2):
        rec = m[REG].round(tid, r)
        assert {s["holder"] for s in rec["shares"]} == {m[A].did, m[B].did}, r
    reps = {i: json.loads((tmp / f"report{i}.json").read_text()) for i in (A, B)}
    assert reps[A]["stood_in"] == [] and reps[B]["stood_in"] == []

    # A and B are the last holders of a 2-of-3 key: neither may leave
    (tmp / "b.key").write_text(cons.seeds[B].hex())
    r = _run("retire", "--config", cons.config, "--key", tmp / "b.key", "--member-key",
             m[A].public_key.hex())
    assert r.returncode == 3, r.stderr
    assert "fewer key holders" in r.stderr
    with pytest.raises(errors.Error) as e:
        m[B].member_roles(m[A].public_key, ["provider", "aggregator"])
    assert _code(e.value) == code_value("FEDSHARE_E_KEYHOLDERS")


def test_member_cli_usage_errors(tmp_path):
    """Usage errors exit 2 before anything is sent: an unknown role, a missing member key."""
    key = tmp_path / "m.key"
    key.write_text("00" * 32)
    conf = tmp_path / "c.conf"
    conf.write_text("# nothing\n")
    r = _run("roles", "--config", conf, "--key", key, "--member-key", "00" * 32,
             "--roles", "provider,bogus")
    assert r.returncode == 2 and "unknown role 'bogus'" in r.stderr
    r = _run("retire", "--config", conf, "--key", key)
    assert r.returncode == 2 and "--member-key" in r.stderr
    r = _run("approve", "x", "--member", "--config", conf, "--key", key)
    assert r.returncode == 2


def _wait_task(m: Member, tid: bytes, pred, what: str, timeout: float = 120.0):
    """The task record once ``pred`` holds for it, waiting block by block
    (bounded by ``timeout``)."""
    import time
    end = time.monotonic() + timeout
    while True:
        t = m.task(tid)
        if t is not None and pred(t):
            return t
        left = end - time.monotonic()
        assert left > 0, f"timed out waiting for {what}: {t and (t['round'], t['phase'])}"
        try:
            m.wait_height(m.seen_height + 1, timeout_ms=int(min(left, 2.0) * 1000) + 1)
        except errors.TimeoutError_:
            pass


@pytest.fixture()
def hospitals(tmp_path):
    saved = fedshare_cluster.MEMBERS
    # hospital A is also the task's aggregator (the demo's layout)
    fedshare_cluster.MEMBERS = [("hospital-a", "provider,keyholder,aggregator", "hospital-a"),
                                *saved[1:]]
    try:
        cons = Consortium(tmp_path)
    finally:
        fedshare_cluster.MEMBERS = saved
    cons.start_all()
    members = [Member(cons.config, s) for s in cons.seeds]
    yield cons, members
    for m in members:
        m.close()
    cons.close()


def test_participant_retires_mid_task(hospitals):
    """A 3-round task of A, B and C (a minimum of 2 accepted updates; 2-of-3 key
    held by the three). A and B run `fedshare train` processes (A aggregates); C
    takes part in round 1 from here. After round 1, with A's and B's round-2
    updates in, C is retired (4 of 5 approve): the round no longer waits for C and
    closes, C's round-2 upload is refused with FEDSHARE_E_RETIRED (its client reads
    why before storing anything) and so is its evaluation act (by the contract,
    recorded); rounds 2 and 3 complete with A and B, the verdict table replays the
    ledger's verdicts and names C as retired, and every node's chain replays from
    genesis. Fails on the code before: the retirement was refused with
    FEDSHARE_E_IN_TASK and the trainers timed out waiting for C."""
    from fedshare import torch as fst
    from fedshare.roles import Participant
    from fedshare.verdicts import task_verdicts

    from test_roles import trainer_args

    cons, m = hospitals
    tid, params, codec, X, y, names, parts = _breast_cancer_task(
        cons, m, (A, B, C), round_limit=3, min_updates=2)
    mean, std = X.mean(axis=0), X.std(axis=0)
    model = fst.logistic_regression(len(names), seed=0)
    task = m[REG].task(tid)

    # C in this process: round 1 only
    Xc = ((X[parts[C]] - mean) / std).astype(np.float32)
    yc = y[parts[C]]
    trainer = fst.LocalTrainer(fst.logistic_regression(len(names), seed=0), Xc, yc, lr=0.1,
                               batch_size=int(task["batch_size"]),
                               upload_every=int(task["upload_every"]), seed=12)
    part_c = Participant(m[C], tid, params, trainer, codec, Xc[-40:], yc[-40:])

    env = dict(os.environ, **{f"FS_PASS_{i}": f"pass-{i}" for i in (A, B)})
    procs = {}
    for i in (A, B):
        args = trainer_args(cons, tid, i, "--standby", "1", "--timeout", "120")
        if i == A:
            args.append("--aggregator")
        procs[i] = subprocess.Popen([sys.executable, "-m", "fedshare._cli.train", *args],
                                    env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    start_new_session=True)
    outs = {}
    try:
        m[C].join_task(tid)
        t = _wait_task(m[C], tid, lambda t: t["round"] == 1 and t["phase"] == 1, "round 1")
        part_c.upload(1, t)
        _wait_task(m[C], tid, lambda t: t["round"] == 1 and t["phase"] == 5, "round 1 evaluate")
        part_c.evaluate(1)

        # round 2: A's and B's updates in, the round waits for C
        def ab_in(t):
            if t["round"] != 2 or t["phase"] != 1:
                return False
            rec = m[REG].round(tid, 2)
            return rec is not None and rec["updates"][A]["present"] \
                and rec["updates"][B]["present"]
        _wait_task(m[REG], tid, ab_in, "A's and B's round-2 updates")
        assert not m[REG].round(tid, 2)["updates"][C]["present"]

        m[REG].member_retire(m[C].public_key)
        cid = m[REG].member_change()["id"]
        for i in (PUB, C, A):
            m[i].member_approve(cid)
        done = m[REG].member_change(cid)
        assert done["status"] == "approved"
        t = m[REG].task(tid)
        assert t["participants"][C].get("left") is True
        assert not t["participants"][A].get("left") and not t["participants"][B].get("left")
        assert (t["round"], t["phase"]) != (2, 1)  # the round closed without C

        # C's round-2 upload: refused, with the reason
        packed = codec.pack(np.zeros(fst.parameter_count(model), dtype=np.float32),
                            weight=len(yc))
        with pytest.raises(errors.Error) as e:
            m[C].upload_update(tid, 2, params, packed, codec.plaintext_bytes, len(yc), 0.0, 0.0)
        assert _code(e.value) == code_value("FEDSHARE_E_RETIRED")
        # and any act of its in the task, by the contract (whatever the phase by now)
        with pytest.raises(errors.Error) as e:
            m[C].evaluate(tid, 2, bytes(32), 0.5, 40)
        assert _code(e.value) == code_value("FEDSHARE_E_RETIRED")

        for i, p in procs.items():
            out, err = p.communicate(timeout=300)
            outs[i] = (p.returncode, out.decode(), err.decode())
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
    for i, (rc, out, err) in outs.items():
        assert rc == 0, f"hospital {i}: exit {rc}\n{err}"
        assert "done after 3 rounds" in out, out

    t = m[REG].task(tid)
    assert t["phase"] == 6 and t["round"] == 3 and len(t["metrics"]) == 3
    for r in (2, 3):
        rec = m[REG].round(tid, r)
        assert [u["present"] for u in rec["updates"]] == [True, True, False], r
        assert not rec["updates"][C]["evaluated"]
        assert rec["total_weight"] == sum(u["weight"] for u in rec["updates"][:2]
                                          if u["verdict"] != "suspicious"), r
    assert m[REG].round(tid, 1)["updates"][C]["present"]
    v = task_verdicts(m[REG], tid)
    assert v["judged_rounds"] == 3 and v["replay_matches"]
    assert [len(rd["updates"]) for rd in v["rounds"]] == [3, 2, 2]
    assert v["retired"] == [m[C].did[-8:]] and v["left_in"] == {m[C].did[-8:]: 2}

    # /metrics: the task has one participant that left, on every replica that
    # executed the deciding act (2f+1 executed each block)
    def left_gauge(i):
        with urllib.request.urlopen(f"http://127.0.0.1:{cons.metrics[i]}/metrics",
                                    timeout=10) as r:
            text = r.read().decode()
        assert "# TYPE fedshare_task_participants_left gauge" in text
        return re.findall(r'^fedshare_task_participants_left\{task="([0-9a-f]{16})"\} (\d+)$',
                          text, flags=re.M)
    gauges = [left_gauge(i) for i in range(4)]
    assert sum(g == [(tid[:8].hex(), "1")] for g in gauges) >= 3, gauges
    assert all(g in ([], [(tid[:8].hex(), "1")]) for g in gauges), gauges

    for x in m:
        x.close()
    m.clear()
    for i in range(4):
        cons.stop(i)
        verify_store(cons.config, cons.tmp / f"data{i}")
