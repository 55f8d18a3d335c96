"""libfedshare end to end with real nodes: four `fedshare node` processes on
loopback (3 hospitals' replicas + the regulator's), five members, a 2-of-3
consortium key, and a training task of several rounds on synthetic vectors —
with every refusal the issue names: access denied for wrong purpose, expired
period, exhausted count and a non-member; a policy update with too few
signatures; a cheating aggregator; a 3-sigma outlier left out; a node killed
and restarted mid-task; the trace of a data set from registration to the last
round; and every node's chain verified end to end after the run."""
from __future__ import annotations

import hashlib
import time
import urllib.request

import numpy as np
import pytest

from fedshare import abac, errors, fedavg, ledger
from fedshare.consortium import Member, config_ledger_text, ffi, lib, model_digest
from fedshare.node import verify_store
from fedshare.phe import threshold

from fedshare_cluster import Consortium
from shared_fixtures import PRIME1, PRIME2

A, B, C, REG, AGG = range(5)
N = 60  # model parameters

POLICY = """
@id("hospitals_train")
@obligation("no_export")
permit (principal is Member, action == Action::"train", resource is Dataset)
when {
  context.purpose == "training"
  && context.period_end < datetime("2030-01-01T00:00:00Z")
  && resource.uses < 2
  && principal in [Organisation::"hospital-a", Organisation::"hospital-b",
                   Organisation::"hospital-c"]
  && principal.credentials.contains("irb")
};
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    cons = Consortium(tmp_path_factory.mktemp("consortium"))
    cons.start_all()
    members = [Member(cons.config, s, timeout_ms=120000) for s in cons.seeds]  # loaded machines
    yield cons, members
    for m in members:
        m.close()
    cons.close()


def policy_for(members, version=1, text=POLICY):
    return abac.CedarPolicies(text, version=version, members=[m.public_key for m in members])


def test_task_end_to_end(world):
    cons, m = world
    now = int(time.time())

    # -- data sets and their policies ----------------------------------------
    data = []
    for i in (A, B, C):
        enc = hashlib.sha256(f"encrypted records of {i}".encode()).digest()
        did = m[i].register_data(enc, "ehr-synthetic", f"hospital {i}, synthetic vectors")
        assert m[REG].data(did)["owner"] == m[i].did
        m[i].set_policy(did, policy_for(m))
        data.append(did)

    # -- access decisions ------------------------------------------------------
    with pytest.raises(errors.AccessDeniedError) as e:
        m[A].request_access(data[B], "train", "marketing", now, now + 3600)
    assert e.value.decision["effect"] == "deny" and e.value.decision["purpose"] == "marketing"
    with pytest.raises(errors.AccessDeniedError):  # period ends after the policy's window
        m[A].request_access(data[B], "train", "training", now, 1900000000)
    with pytest.raises(errors.AccessDeniedError):  # the regulator's org is not a hospital
        m[REG].request_access(data[B], "train", "training", now, now + 3600)
    outsider = hashlib.sha256(b"not a member").digest()
    with pytest.raises(errors.AccessDeniedError):  # refused before it is even sent
        Member(cons.config, outsider)
    granted = m[A].request_access(data[B], "train", "training", now, now + 86400)
    assert granted["effect"] == "permit"
    assert [r["id"] for r in granted["rules"]] == ["hospitals_train"]
    assert [o["id"] for o in granted["obligations"]] == ["no_export"]
    m[A].request_access(data[C], "train", "training", now, now + 86400)

    # -- policy update with too few signatures ---------------------------------
    cur = policy_for(m)
    nxt = policy_for(m, version=2, text=POLICY.replace("resource.uses < 2", "resource.uses < 1"))
    sigs = []
    for i in (A, B, C):
        _, sk = abac.keypair(cons.seeds[i])
        sigs.append((m[i].public_key, cur.sign_update(nxt, sk)))
    with pytest.raises(errors.AccessDeniedError) as e:  # 3 of 5 is not > 2/3
        m[B].update_policy(data[B], cur.encode_update(nxt, sigs))
    assert e.value.code == -516

    # -- key, model, task -------------------------------------------------------
    params, shares = threshold.deal(threshold=2, holders=3, primes=(PRIME1, PRIME2))
    share_hashes = [hashlib.sha256(s.seal(b"pass-%d" % i)).digest() for i, s in enumerate(shares)]
    key_id = m[A].record_key(params, [m[i].public_key for i in (A, B, C)], share_hashes)
    assert m[REG].key_params(key_id) == params.to_bytes()
    init = np.linspace(-0.5, 0.5, N).astype(np.float32)
    model_id = m[AGG].publish_model(b"synthetic linear model, 60 weights", init, "synthetic")
    codec = fedavg.Codec(plaintext_bytes=255, max_weight=10000, precision=1e-5, clip=1.0)
    task = m[A].create_task(model_id, key_id, m[AGG].public_key,
                            [(m[i].public_key, data[i]) for i in (A, B, C)], codec.to_bytes(),
                            round_limit=4, anomaly_warmup=3, stop_patience=3, min_updates=2)
    assert m[REG].task(task)["min_updates"] == 2  # round 3 below keeps two updates
    # B's grant had one use: a second task on it is refused
    with pytest.raises(errors.AccessDeniedError):
        m[A].create_task(model_id, key_id, m[AGG].public_key,
                         [(m[i].public_key, data[i]) for i in (A, B, C)], codec.to_bytes())
    for i in (A, B, C):
        m[i].join_task(task)
    assert m[REG].task(task)["phase"] == 1

    rng = np.random.default_rng(7)
    weights = {A: 120, B: 200, C: 80}
    params_b = params.to_bytes()
    previous = init.copy()
    killed = False
    for r in range(1, 5):
        ups = {}
        for i in (A, B, C):
            u = (rng.standard_normal(N) * 0.05).astype(np.float32)
            norm = 1.0 + 0.01 * i
            if r == 3 and i == C:  # an outlier: far outside the accepted history
                u *= 10
                norm = 50.0
            ups[i] = u
            packed = codec.pack(u, weight=weights[i])
            m[i].upload_update(task, r, params_b, packed, codec.plaintext_bytes, weights[i],
                               norm, 0.5)
        rnd = m[REG].round(task, r)
        verdicts = [u["verdict"] for u in rnd["updates"]]
        if r == 3:
            assert verdicts[C] == "suspicious" and rnd["total_weight"] == 320
        else:
            assert "suspicious" not in verdicts
        if r == 2:
            # a cheating aggregator records a sum that is not the sum
            out, n = ffi.new("uint8_t **"), ffi.new("size_t *")
            lib.fedshare_payload_aggregate(task, r, hashlib.sha256(b"forged").digest(), out, n)
            m[AGG].submit(lib.FEDSHARE_OP_AGGREGATE, bytes(ffi.buffer(out[0], n[0])))
            lib.fedshare_free(out[0])
            with pytest.raises(errors.VerificationError):
                m[A].post_decryption_share(task, r, params_b, shares[0])
            assert m[REG].round(task, r)["aggregates_refused"] == 1
        m[AGG].aggregate(task, r, params_b)
        assert m[B].check_aggregate(task, r, params_b)
        if r == 2 and not killed:
            cons.kill(1)  # a replica dies mid-task (kill -9); f = 1 keeps the rest going
            killed = True
        m[A].post_decryption_share(task, r, params_b, shares[0])
        m[C].post_decryption_share(task, r, params_b, shares[2])
        m[AGG].finalize_round(task, r, params_b)
        if r == 3 and killed:
            cons.start(1)  # restarts from its LMDB and catches up
        accepted = [i for i in (A, B, C) if not (r == 3 and i == C)]
        w = np.array([weights[i] for i in accepted], dtype=np.float64)
        expect = previous + np.average(np.stack([ups[i] for i in accepted]), axis=0,
                                       weights=w).astype(np.float32)
        for i in (A, B, C):
            model = m[i].compute_global(task, r, params_b)
            assert np.max(np.abs(model - expect)) <= codec.error_bound + 1e-6
            m[i].evaluate(task, r, model_digest(model), 0.80 + 0.05 * r, 50)
        previous = model
        global_model, rounds = m[REG].fetch_global(task)
        assert rounds == r and np.array_equal(global_model, model)
    t = m[REG].task(task)
    assert t["phase"] == 6 and t["stop_reason"] == 2 and len(t["metrics"]) == 4

    # -- the restarted replica caught up ---------------------------------------
    deadline = time.monotonic() + 120  # generous: the restarted replica catches up under load
    while time.monotonic() < deadline:
        s = [cons.status(i) for i in range(4)]
        if all(s) and len({x[3] for x in s}) == 1 and len({x[0] for x in s}) == 1:
            break
        time.sleep(0.2)
    assert len({cons.status(i)[3] for i in range(4)}) == 1

    # -- the trace of hospital B's data set, complete and in order -------------
    lc = ledger.Client(ledger.Config(config_ledger_text(cons.config)))
    trail = lc.trace(lib.FEDSHARE_TRACE_DATA, data[B])
    heights = [h for h, _ in trail]
    assert heights == sorted(heights)
    assert len(trail) >= 2 + 1 + 4 * 8  # register, policy, grant, 4 rounds of acts
    ops = [lc.block(h).transactions[i].op for h, i in trail]
    assert ops[0] == lib.FEDSHARE_OP_DATA_REGISTER
    assert ops[-1] == lib.FEDSHARE_OP_EVALUATION  # the last act of the last round
    for op in (lib.FEDSHARE_OP_POLICY_SET, lib.FEDSHARE_OP_ACCESS_REQUEST,
               lib.FEDSHARE_OP_TASK_CREATE, lib.FEDSHARE_OP_UPDATE_UPLOAD,
               lib.FEDSHARE_OP_AGGREGATE, lib.FEDSHARE_OP_DECRYPTION_SHARE,
               lib.FEDSHARE_OP_ROUND_FINALIZE):
        assert op in ops
    # each act in the trail is proven included in a certified block
    for h, i in trail[:3]:
        tx = lc.block(h).transactions[i]
        _, height, index = lc.transaction(tx.hash)
        assert (height, index) == (h, i)
    lc.close()

    # -- metrics ---------------------------------------------------------------
    page = urllib.request.urlopen(f"http://127.0.0.1:{cons.metrics[0]}/metrics", timeout=10).read()
    assert b"fedshare_height " in page and b"fedshare_transactions_total " in page

    # -- every node's chain verifies end to end --------------------------------
    for i in range(4):
        cons.stop(i)
    for i in range(4):
        verify_store(cons.config, cons.tmp / f"data{i}")
