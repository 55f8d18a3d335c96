"""Multi-process tests of the ledger: fedshare-ledger-node replicas on
loopback, the Python thin client over the C client API. Every test kills
every process it started (process groups, SIGKILL) and is bounded in time."""
from __future__ import annotations

import hashlib
import sys
import threading
import time

import pytest

from fedshare import errors, ledger

from ledger_cluster import ROOT, Cluster, node_binary

pytestmark = pytest.mark.skipif(node_binary() is None,
                                reason="fedshare-ledger-node not built (make build)")


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(tmp_path)
    c.start_all()
    yield c
    c.close()


def put_many(client, signer, prefix: bytes, count: int, start_nonce: int = 1):
    out = []
    for k in range(count):
        out.append(client.put(signer, start_nonce + k, prefix + b"%d" % k, b"value %d" % k))
    return out


def test_four_replicas_agree_and_client_reads(cluster):
    with cluster.client() as cl:
        alice, bob = ledger.Signer(b"a" * 32), ledger.Signer(b"b" * 32)
        receipts = put_many(cl, alice, b"alice/", 10) + put_many(cl, bob, b"bob/", 10)
        for r in receipts:
            assert r.applied and r.height >= 1 and r.replies >= 2 and r.proof
        assert cl.query(b"alice/3") == b"value 3"
        assert cl.get(b"bob/7").endswith(b"value 7")
        # a key belongs to its first writer: the application refuses bob's put before ordering
        with pytest.raises(errors.AccessDeniedError):
            cl.put(bob, 11, b"alice/0", b"stolen", timeout_ms=5000)
        assert cl.query(b"alice/0") == b"value 0"
        # replaying a committed nonce is refused
        with pytest.raises(errors.Error):
            cl.submit(ledger.Transaction(alice, ledger.KV_PUT, 1, ledger.kv_put(b"x", b"y")),
                      timeout_ms=5000)
        blk = cl.block(receipts[0].height)
        assert blk.header_hash == receipts[0].block_hash
        assert receipts[0].tx_hash in [t.hash for t in blk.transactions]
        tx, h, i = cl.transaction(receipts[5].tx_hash)
        assert (h, i) == (receipts[5].height, receipts[5].index) and tx.nonce == 6
        trace = cl.trace(ledger.KV_PUT, b"alice/2")
        assert (receipts[2].height, receipts[2].index) in trace
        assert receipts[0].height in cl.trace_time(0, 2**63)
        blob = bytes(range(256)) * 100
        # blobs: an unsigned put and a key that is not a replica's are refused
        with pytest.raises(errors.AccessDeniedError) as e:
            cl.blob_put(blob)
        assert e.value.code == -260
        cl.set_signer(alice)
        with pytest.raises(errors.AccessDeniedError) as e:
            cl.blob_put(blob)
        assert e.value.code == -261
        with pytest.raises(errors.NotFoundError):
            cl.blob_get(hashlib.sha256(blob).digest())
        # the plain ledger node lets its replicas' member keys put blobs
        cl.set_signer(ledger.Signer(bytes.fromhex((cluster.tmp / "node1.key").read_text())))
        digest = cl.blob_put(blob)
        assert cl.blob_get(digest) == blob
        with pytest.raises(errors.NotFoundError):
            cl.blob_get(b"\0" * 32)
        with pytest.raises(errors.NotFoundError):
            cl.query(b"nobody")
        top = cl.height()
    st = cluster.wait_converged(range(4), min_height=top)
    assert int(st[0][0]) >= top


def test_concurrent_clients(cluster):
    with cluster.client() as cl:
        errs = []

        def worker(k):
            try:
                put_many(cl, ledger.Signer(bytes([k]) * 32), b"w%d/" % k, 8)
            except Exception as e:  # reported below
                errs.append(e)

        ts = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
        [t.start() for t in ts]
        [t.join(120) for t in ts]
        assert not errs
        assert cl.query(b"w5/7") == b"value 7"
    cluster.wait_converged(range(4))


def test_kill_primary_view_change(cluster):
    with cluster.client() as cl:
        s = ledger.Signer(b"p" * 32)
        put_many(cl, s, b"before/", 3)
        cluster.kill(0)  # the primary of view 0, kill -9
        rs = put_many(cl, s, b"after/", 5, start_nonce=4)
        assert all(r.applied for r in rs)
        st = cluster.wait_converged([1, 2, 3], min_height=rs[-1].height)
        assert int(st[0][1]) >= 1  # the view moved on
        # the old primary restarts from its LMDB store and catches up
        cluster.start(0)
        back = put_many(cl, s, b"back/", 2, start_nonce=9)
    cluster.wait_converged(range(4), min_height=back[-1].height)


def test_restart_under_load_catches_up(cluster):
    with cluster.client() as cl:
        stop = threading.Event()
        done = []

        def load():
            s = ledger.Signer(b"L" * 32)
            nonce = 1
            while not stop.is_set():
                cl.put(s, nonce, b"load/%d" % nonce, b"x" * 200, proof=False, timeout_ms=20000)
                done.append(nonce)
                nonce += 1

        t = threading.Thread(target=load)
        t.start()
        try:
            def wait_for(count, seconds=60.0):
                deadline = time.monotonic() + seconds
                while len(done) < count:
                    assert time.monotonic() < deadline, "load stalled"
                    time.sleep(0.05)

            for victim in (3, 2):
                wait_for(10 * (4 - victim))
                cluster.kill(victim)  # kill -9 at a random point of the load
                wait_for(len(done) + 10)
                cluster.start(victim)
        finally:
            stop.set()
            t.join(60)
    st = cluster.wait_converged(range(4))
    assert int(st[0][0]) >= 1


def test_bad_config_and_inputs(tmp_path):
    with pytest.raises(errors.InvalidInputError):
        ledger.Config("f 1\n")
    with pytest.raises(errors.InvalidInputError):
        ledger.Signer(b"short")
    with pytest.raises(errors.IOFailureError):
        ledger.Config.load(str(tmp_path / "missing.conf"))


@pytest.mark.skipif(node_binary(fault=True) is None, reason="fault-injection node not built")
def test_partition_heal_and_equivocation(tmp_path):
    c = Cluster(tmp_path, fault=True)
    try:
        c.start_all()
        with c.client() as cl:
            s = ledger.Signer(b"q" * 32)
            put_many(cl, s, b"a/", 2)
            # isolate replica 2 from every other replica
            c.set_fault(2, "block 0 1 3\n")
            for i in (0, 1, 3):
                c.set_fault(i, "block 2\n")
            top = put_many(cl, s, b"b/", 5, start_nonce=3)[-1].height
            c.wait_converged([0, 1, 3], min_height=top)
            for i in range(4):
                c.set_fault(i, "")
            top = put_many(cl, s, b"c/", 2, start_nonce=8)[-1].height
            c.wait_converged(range(4), min_height=top)
            # the current primary equivocates: no two blocks at one height, a new view
            st = c.status(0)
            primary = int(st[1]) % 4
            c.set_fault(primary, "equivocate 1\n")
            put_many(cl, s, b"d/", 4, start_nonce=10)
            c.set_fault(primary, "")
            last = put_many(cl, s, b"e/", 1, start_nonce=14)[-1]
        # every replica's status at the last commit's height at least (the status
        # files lag the chain: without the height this could read the old view)
        st = c.wait_converged(range(4), min_height=last.height)
        assert int(st[0][1]) > primary or int(st[0][1]) >= 1
    finally:
        c.close()


@pytest.mark.skipif(node_binary(fault=True) is None, reason="fault-injection node not built")
def test_trace_validation_processes(tmp_path):
    """Trace validation with processes (docs/formal.md): four
    fedshare-ledger-node-fault replicas append their protocol events; the
    primary is killed with SIGKILL (a view change) and restarted (catch-up);
    tests/formal/trace_check.py then replays every replica's every step
    against the PBFT model's transitions and must find none it does not allow."""
    sys.path.insert(0, str(ROOT / "tests" / "formal"))
    import trace_check

    traces = tmp_path / "traces"
    traces.mkdir()
    c = Cluster(tmp_path, fault=True, trace_dir=traces)
    try:
        c.start_all()
        with c.client() as cl:
            s = ledger.Signer(b"t" * 32)
            top = put_many(cl, s, b"a/", 3)[-1].height
            # the status file is written after the node executed a block: wait
            # for it (reading it at once could find none yet)
            st = c.wait_converged(range(4), min_height=top)[0]
            primary = int(st[1]) % 4
            c.kill(primary)
            put_many(cl, s, b"b/", 3, start_nonce=4)
            c.start(primary)
            top = put_many(cl, s, b"c/", 2, start_nonce=7)[-1].height
        c.wait_converged(range(4), min_height=top)
    finally:
        c.close()
    fails, summary = trace_check.check([str(traces)])
    assert fails == [], "\n".join(fails[:20]) + "\n" + summary
    assert "4 replicas" in summary
    assert "highest view 0," not in summary  # the view change was traced
