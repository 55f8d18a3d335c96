"""One native module (issue 17, item 2): the five libraries are compiled into
ONE extension module, fedshare._native._lib, and every room's Python module
uses its ffi and lib; so a key made by fedshare.phe crosses into
fedshare.consortium and fedshare.roles as the handle it is. Shown by counting,
over a real round against four live nodes, the calls that decode (or encode)
a key: none once the task key is loaded."""
from __future__ import annotations

import collections
import contextlib
import hashlib
import importlib
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import fedshare
from fedshare import _native, abac, fedavg
from fedshare.consortium import Member
from fedshare.phe import threshold
from fedshare.roles import Aggregator, KeyHolder, Participant

from fedshare_cluster import Consortium
from test_phe_threshold import PRIME1, PRIME2

A, B, C, REG, AGG = range(5)
N = 40  # model parameters

ROOM_MODULES = ("fedshare.phe", "fedshare.phe.threshold", "fedshare.ledger", "fedshare.fedavg",
                "fedshare.abac", "fedshare.did", "fedshare.consortium", "fedshare.node")

#: the libphe calls that turn a key into bytes or bytes into a key
KEY_CODEC_CALLS = (
    "phe_pubkey_decode", "phe_pubkey_encode", "phe_pubkey_from_modulus",
    "phe_seckey_decode", "phe_seckey_encode", "phe_seckey_unseal", "phe_seckey_seal",
    "phe_seckey_read_file",
    "phe_threshold_params_decode", "phe_threshold_params_encode",
    "phe_threshold_keyshare_decode", "phe_threshold_keyshare_encode",
    "phe_threshold_keyshare_unseal", "phe_threshold_keyshare_seal",
    "phe_threshold_keyshare_read_file",
)

POLICY = """
@id("hospitals_train")
@obligation("no_export")
permit (principal is Member, action == Action::"train", resource is Dataset)
when {
  context.purpose == "training"
  && principal in [Organisation::"hospital-a", Organisation::"hospital-b",
                   Organisation::"hospital-c"]
  && principal.credentials.contains("irb")
};
"""


def test_one_extension_module_serves_every_room():
    native = Path(_native.__file__).parent
    exts = sorted(p.name for p in native.iterdir() if p.suffix in (".so", ".pyd"))
    assert len(exts) == 1 and exts[0].startswith("_lib."), exts
    for room in _native.ROOMS:
        assert _native.load(room).lib is _native.lib
    for name in ROOM_MODULES:
        mod = importlib.import_module(name)
        assert mod.lib is _native.lib and mod.ffi is _native.ffi, name
    with pytest.raises(ImportError):
        _native.load("nonsense")


class _CountingLib:
    """The native lib, every function looked up through it counted by name."""

    def __init__(self, lib):
        self._lib = lib
        self.calls: collections.Counter = collections.Counter()

    def __getattr__(self, name):
        value = getattr(self._lib, name)
        if not callable(value):
            return value
        calls = self.calls

        def counted(*args):
            calls[name] += 1
            return value(*args)

        return counted


@contextlib.contextmanager
def counting_native_calls():
    """Every fedshare module's ``lib`` replaced by a counting view of the one
    native lib for the duration (all of them are the same lib, so one counter
    sees every room)."""
    for name in ROOM_MODULES:
        importlib.import_module(name)
    real = _native.lib
    counter = _CountingLib(real)
    swapped = [mod for name, mod in list(sys.modules.items())
               if name.startswith("fedshare") and getattr(mod, "lib", None) is real]
    assert len(swapped) >= len(ROOM_MODULES)
    for mod in swapped:
        mod.lib = counter
    try:
        yield counter.calls
    finally:
        for mod in swapped:
            mod.lib = real


class StubTrainer:
    """The local training of a participant, reduced to a fixed small update."""

    def __init__(self, i: int, samples: int):
        self.samples = samples
        self.update = (np.random.default_rng(i).standard_normal(N) * 0.05).astype(np.float32)

    def train_round(self, global_model):
        return self.update.copy()

    def evaluate(self, model, X, y):
        return 0.9


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    cons = Consortium(tmp_path_factory.mktemp("native"))
    cons.start_all()
    members = [Member(cons.config, s, timeout_ms=120000) for s in cons.seeds]
    yield cons, members
    for m in members:
        m.close()
    cons.close()


def test_a_round_decodes_no_key_once_it_is_loaded(world):
    cons, m = world
    now = int(time.time())
    data = []
    for i in (A, B, C):
        did = m[i].register_data(hashlib.sha256(b"records %d" % i).digest(), "ehr-synthetic")
        m[i].set_policy(did, abac.CedarPolicies(POLICY, version=1,
                                                members=[x.public_key for x in m]))
        data.append(did)
    for i in (B, C):
        m[A].request_access(data[i], "train", "training", now, now + 86400)
    params, shares = threshold.deal(threshold=2, holders=3, primes=(PRIME1, PRIME2))
    share_hashes = [hashlib.sha256(s.seal(b"pass-%d" % i, strength="test-only-min")).digest()
                    for i, s in enumerate(shares)]
    key_id = m[A].record_key(params, [m[i].public_key for i in (A, B, C)], share_hashes)
    init = np.zeros(N, np.float32)
    model_id = m[AGG].publish_model(b"stub model, 40 weights", init, "stub")
    codec = fedavg.Codec(plaintext_bytes=255, max_weight=10000, precision=1e-5, clip=1.0)
    task = m[A].create_task(model_id, key_id, m[AGG].public_key,
                            [(m[i].public_key, data[i]) for i in (A, B, C)], codec.to_bytes(),
                            round_limit=1)
    for i in (A, B, C):
        m[i].join_task(task)

    # the key loaded as `fedshare train` loads it: read from the ledger and
    # decoded once per process (here: once per member) ...
    keys = {i: m[i].threshold_key(key_id) for i in (A, B, C, AGG)}
    assert keys[A] == params
    samples = {A: 120, B: 200, C: 80}
    evX, evy = np.zeros((2, 1), np.float32), np.zeros(2)
    parts = {i: Participant(m[i], task, keys[i], StubTrainer(i, samples[i]), codec, evX, evy)
             for i in (A, B, C)}
    holders = {A: KeyHolder(m[A], task, keys[A], shares[0]),
               C: KeyHolder(m[C], task, keys[C], shares[2])}
    # ... or handed over as its encoding: decoded once, when the role is made
    agg = Aggregator(m[AGG], task, keys[AGG].to_bytes())

    # ... and the whole round: no key is decoded or encoded again
    with counting_native_calls() as calls:
        for i in (A, B, C):
            parts[i].upload(1)
        agg.aggregate(1)
        assert holders[C].share(1, check=True)["matched"]
        holders[A].share(1)
        agg.finalize(1)
        for i in (A, B, C):
            parts[i].evaluate(1)
    assert {k: calls[k] for k in KEY_CODEC_CALLS if calls[k]} == {}
    # the counter saw the round's calls (so it would have seen a decoding)
    assert calls["fedshare_upload_update"] == 3 and calls["fedshare_compute_global"] == 3
    assert calls["fedshare_post_decryption_share"] == 2
    assert calls["fedshare_aggregate"] == 1 and calls["fedshare_finalize_round"] == 1

    t = m[REG].task(task)
    assert t["phase"] == 6 and t["round"] == 1
    final, rounds = m[REG].fetch_global(task)
    expect = np.average(np.stack([parts[i].trainer.update for i in (A, B, C)]), axis=0,
                        weights=[samples[i] for i in (A, B, C)])
    assert rounds == 1 and np.max(np.abs(final - expect)) <= codec.error_bound + 1e-6
    for i in (A, B, C):
        assert np.array_equal(parts[i].global_model, final)

    # an act handed the key's encoding decodes it on that call, and the counter sees it
    with counting_native_calls() as calls:
        m[REG].task(task)
        fedshare.consortium._key_of(params.to_bytes())
    assert calls["phe_threshold_params_decode"] == 1


def test_a_phe_context_crosses_as_its_handle():
    from fedshare import consortium
    from fedshare.phe import Context

    ctx = Context(2)
    assert consortium._ctx(ctx) == ctx._ptr  # the pool fedshare.phe made, not a new one
    assert consortium._ctx(0) == consortium.ffi.NULL
