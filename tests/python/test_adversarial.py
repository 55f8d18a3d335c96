"""The adversarial suite against a live consortium (four `fedshare node`
processes on loopback), bounded in time and traffic: what a party with no key
can do to a node's port and store, and that the honest members' acts still
commit meanwhile (issue 23; docs/threat-model.md lists every limit).

The insider's bad messages (a bad decryption share, an overflowing evaluation,
a round left with one accepted update, a policy on a retired data set) are
exercised on a real store and through live in-process nodes by the C tests
of the same suite: `meson test --suite adversarial` (test_contracts.c,
test_round.c, test_transport_limits.c, test_node.c)."""
from __future__ import annotations

import hashlib
import os
import re
import resource
import select
import socket
import struct
import time
import urllib.request

import pytest

from fedshare import errors, ledger
from fedshare.consortium import Member, config_ledger_text

from fedshare_cluster import Consortium

HELLO_BYTES = 106  # docs/formats/ledger-consensus.md: the largest first frame a node accepts
IDLE_SOCKETS = 1100  # more than the transport's old fixed table of 1,024


@pytest.fixture(scope="module")
def cons(tmp_path_factory):
    c = Consortium(tmp_path_factory.mktemp("adversarial"))
    try:
        c.start_all()
        yield c
    finally:
        c.close()


def replica_addr(cons: Consortium, i: int):
    m = re.search(rf"^replica {i} ([0-9.]+):(\d+) ", cons.config.read_text(), flags=re.M)
    return m.group(1), int(m.group(2))


def metric(cons: Consortium, i: int, name: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{cons.metrics[i]}/metrics", timeout=10) as r:
        text = r.read().decode()
    m = re.search(rf"^{name} (\S+)$", text, flags=re.M)
    assert m, f"{name} not in /metrics"
    return float(m.group(1))


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        kib = int(re.search(r"^VmRSS:\s+(\d+) kB", f.read(), flags=re.M).group(1))
    return kib / 1024


def closed_by_peer(s: socket.socket, timeout: float) -> bool:
    """True once the node has closed `s` (EOF or reset), waiting at most `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        p = select.poll()  # select() cannot watch descriptors above 1023
        p.register(s, select.POLLIN | select.POLLERR | select.POLLHUP)
        if not p.poll(left * 1000):
            return False
        try:
            if s.recv(65536) == b"":
                return True
        except (ConnectionResetError, OSError):
            return True


def member(cons: Consortium, i: int) -> Member:
    return Member(cons.config, cons.seeds[i], timeout_ms=60000)


def honest_act(cons: Consortium) -> None:
    """A provider registers a data set and the regulator reads it: both commit."""
    enc = hashlib.sha256(os.urandom(32)).digest()
    with member(cons, 0) as a, member(cons, 3) as reg:
        data_id = a.register_data(enc, "ehr", "adversarial suite")
        rec = reg.data(data_id)
        assert rec is not None and rec["label"] == "ehr"


def test_flood_slowloris_and_oversized_frames_do_not_lock_members_out(cons):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = IDLE_SOCKETS + 256
    assert hard >= need, f"this test needs {need} file descriptors (hard limit {hard})"
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, need), hard))
    host, port = replica_addr(cons, 0)
    node_pid = cons.procs[0].pid
    rss_before = rss_mib(node_pid)
    idle, loris, big = [], [], []
    try:
        for _ in range(IDLE_SOCKETS):  # connect, send nothing
            idle.append(socket.create_connection((host, port), timeout=10))
        for _ in range(20):  # a HELLO that never finishes
            s = socket.create_connection((host, port), timeout=10)
            s.sendall(struct.pack(">I", HELLO_BYTES) + b"\x01")
            loris.append(s)
        for _ in range(10):  # a first frame announced at 16 MiB
            s = socket.create_connection((host, port), timeout=10)
            s.sendall(struct.pack(">I", 16 << 20) + b"\x00" * 4096)
            big.append(s)
        # the honest members' acts commit while all of it is held
        honest_act(cons)
        rss_during = rss_mib(node_pid)
        assert rss_during <= 256, f"node 0 holds {rss_during:.0f} MiB under the flood"
        assert rss_during - rss_before < 64, (rss_before, rss_during)
        # an oversized first frame is refused at once, before any allocation
        for s in big:
            assert closed_by_peer(s, 30), "a 16 MiB first frame was not refused"
        # the handshake deadline closes the slow HELLOs and the idle sockets
        for s in loris:
            assert closed_by_peer(s, 60), "a slow HELLO was held past the deadline"
        for s in idle[:50] + idle[-50:]:
            assert closed_by_peer(s, 60), "an idle socket was held past the deadline"
    finally:
        for s in idle + loris + big:
            s.close()
    honest_act(cons)


def test_anonymous_and_non_member_blob_puts_store_nothing(cons):
    before = [metric(cons, i, "fedshare_blob_bytes") for i in range(4)]
    cfg = ledger.Config(config_ledger_text(cons.config))
    blob = os.urandom(1 << 20)
    with ledger.Client(cfg, timeout_ms=10000) as anon:
        with pytest.raises(errors.AccessDeniedError):
            anon.blob_put(blob)
        anon.set_signer(ledger.Signer(hashlib.sha256(b"not a member").digest()))
        with pytest.raises(errors.AccessDeniedError):
            anon.blob_put(blob)
    assert [metric(cons, i, "fedshare_blob_bytes") for i in range(4)] == before
    # a member's put is stored, and its acts still commit
    import numpy as np
    with member(cons, 4) as agg:
        agg.put_model(np.arange(1000, dtype=np.float32))
    after = [metric(cons, i, "fedshare_blob_bytes") for i in range(4)]
    assert sum(a > b for a, b in zip(after, before)) >= 2  # f+1 stored it
    honest_act(cons)


def test_out_of_range_evaluation_is_refused_before_it_is_sent(cons):
    with member(cons, 0) as a:
        h0 = a.seen_height
        for metric_value, samples in ((1e308, 4_000_000_000), (float("nan"), 10),
                                      (float("inf"), 10), (0.5, 0)):
            with pytest.raises((errors.InvalidInputError, ValueError, OverflowError)):
                a.evaluate(b"\x11" * 32, 1, b"\x22" * 32, metric_value, samples)
        assert a.seen_height == h0  # nothing was submitted
    honest_act(cons)
