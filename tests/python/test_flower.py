"""fedshare.flower in a real Flower simulation against a real consortium.

docs/guides/flower.md runs as written — its Python blocks in order, as one
script — with four `fedshare node` processes (tests/python/fedshare_cluster.py),
three key-holder processes (`fedshare train --no-train`) and a Flower
simulation (Ray backend) of three SuperNodes whose ClientApp carries
FedshareMod and whose ServerApp runs FedshareFedAvg. Then:

- round by round, the global model the key holders decrypted equals Flower's
  own plain FedAvg (flwr's ``aggregate_arrayrecords``) of the very same client
  results, within the codec's error bound;
- the trail is complete: data registration, policy, access decisions, the
  task, each node's join, every encrypted update's hash, the aggregate's hash,
  the decryption shares, the model digest, the verdicts, every evaluation and
  the stop rule, read from the ledger and listed by `fedshare audit trace`.

The one substitution (as in test_fedshare_guide.py): `threshold.deal` uses the
checked-in 2048-bit test primes instead of searching for fresh safe primes.
Flower's telemetry and Ray's usage statistics are switched off: this test
talks to loopback only."""
from __future__ import annotations

import os

os.environ["FLWR_TELEMETRY_ENABLED"] = "0"
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")  # Ray's FutureWarning

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip("flwr")
pytest.importorskip("ray")
pytest.importorskip("sklearn")

from flwr.app import MetricRecord, RecordDict  # noqa: E402
from flwr.serverapp.strategy.strategy_utils import aggregate_arrayrecords  # noqa: E402

from fedshare import errors  # noqa: E402
from fedshare._demo.experiment import _fetch_model  # noqa: E402
from fedshare.flower import FedshareMod, flatten, unflatten  # noqa: E402

from guide_fixtures import python_blocks  # noqa: E402

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guides" / "flower.md"


@pytest.fixture(autouse=True)
def _restore_environment():
    """Ray (under Flower's simulation) writes PYTHONPATH, PYTHONBREAKPOINT and
    more into this process's environment; put it back after each test so that
    later tests' subprocesses (a fresh venv in test_wheel) do not inherit it."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def test_guide_blocks_are_found():
    # the task, the ClientApp, the ServerApp, the key holders, the run, the trail
    assert len(python_blocks(GUIDE)) == 6


def test_flower_simulation_encrypted_audited_equals_plain_fedavg(consortium, capsys):
    ns: dict = {"__name__": "guide"}
    try:
        for i, block in enumerate(python_blocks(GUIDE)):
            exec(compile(block, f"{GUIDE.name}[python block {i + 1}]", "exec"), ns)  # noqa: S102
    finally:
        for p in ns.get("holders", []):
            if p.poll() is None:
                p.kill()
                p.wait()
    out = capsys.readouterr().out.splitlines()
    agg, task_id, codec = ns["aggregator"], ns["task_id"], ns["codec"]

    # the task ran to its round limit (3), every round through Flower
    task = agg.task(task_id)
    assert task["phase"] == 6 and task["round"] == 3 and task["stop_reason"] == 2
    assert len(task["metrics"]) == 3 and task["metrics"][-1] > 0.85
    assert any(line.startswith("rounds 3 stop reason 2 accuracy") for line in out)
    assert "Flower's model is the ledger's: True" in out
    flower = ns["results"]["flower"]
    assert sorted(flower.evaluate_metrics_clientapp) == [1, 2, 3]
    assert flower.evaluate_metrics_clientapp[3]["fedshare-done"] == 1
    assert flower.evaluate_metrics_clientapp[3]["fedshare-metric"] == pytest.approx(
        task["metrics"][-1])

    # encrypted FedAvg = Flower's plain FedAvg of the same client results, per round
    like = ns["initial"]
    prev = flatten(like)
    worst = 0.0
    for r in (1, 2, 3):
        rnd = agg.round(task_id, r)
        assert [u["present"] for u in rnd["updates"]] == [True] * 3
        assert all(u["verdict"] in ("accepted", "warmup") for u in rnd["updates"])
        replies = []
        for pid in range(3):  # the ClientApp's training is deterministic: redo it
            X, y, _, _ = ns["load_partition"](pid)
            arrays = ns["local_train"](unflatten(prev, like), X, y)
            replies.append(RecordDict({"arrays": arrays,
                                       "metrics": MetricRecord({"num-examples": len(y)})}))
            assert rnd["updates"][pid]["weight"] == len(y)
        plain = flatten(aggregate_arrayrecords(replies, "num-examples")).astype(np.float64)
        model = _fetch_model(agg, bytes.fromhex(rnd["global_model"]))
        dev = float(np.max(np.abs(model - plain)))
        # the codec's bound, plus float32 rounding of the models themselves
        slack = 4 * np.finfo(np.float32).eps * max(1.0, float(np.max(np.abs(plain))))
        assert dev <= codec.error_bound + slack, (r, dev, codec.error_bound)
        worst = max(worst, dev)
        assert ns["results"]["history"][r - 1]["global_model"] == rnd["global_model"]
        prev = model.astype(np.float32)
    assert worst > 0  # the comparison is not vacuous: quantization shows
    assert np.array_equal(flatten(flower.arrays), prev)  # Flower ended with the ledger's model

    # the trail of the task, as `fedshare audit trace --task` listed it
    trail = ns["trail"]
    count = {a: trail.count(a) for a in set(trail)}
    assert count["task created"] == 1 and count["task joined"] == 3
    assert count["encrypted update uploaded"] == 9
    assert count["aggregate recorded"] == 3 and count["round finalized"] == 3
    assert count["decryption share posted"] >= 6  # t = 2 per round
    assert count["model evaluated"] == 9
    # and of a data set: registration, policy, the access decision, its use in the task
    from fedshare._demo.experiment import trace_data
    acts = [t["act"] for t in trace_data(Path("consortium.conf"), ns["data_ids"][1], {})]
    assert acts[:3] == ["data registered", "policy set", "access requested"]
    assert "encrypted update uploaded" in acts and acts[-1] == "model evaluated"
    d = agg.data(ns["data_ids"][1])
    assert d is not None


def test_mod_refuses_a_model_that_is_not_the_ledgers(consortium):
    """A train message whose arrays are not the task's global model: the mod
    refuses before the ClientApp trains (nothing is uploaded)."""
    from flwr.app import ConfigRecord, Context, Message, Metadata

    ns: dict = {"__name__": "guide"}
    exec(compile(python_blocks(GUIDE)[0], "flower.md[1]", "exec"), ns)  # the task only
    task_id = ns["task_id"]
    m = ns["hospitals"][0]
    mod = FedshareMod(config="consortium.conf", key="hospital-a.key")
    like = ns["initial"]
    wrong = unflatten(flatten(like) + 0.5, like)
    meta = Metadata(run_id=1, message_id="m1", src_node_id=0, dst_node_id=1,
                    reply_to_message_id="", group_id="", created_at=0.0, ttl=60.0,
                    message_type="train")
    msg = Message(RecordDict({"arrays": wrong,
                              "config": ConfigRecord({"fedshare-task": task_id.hex(),
                                                      "fedshare-round": 1})}),
                  metadata=meta)
    ctx = Context(run_id=1, node_id=1, node_config={}, state=RecordDict(), run_config={})
    called = []

    def app(message, context):
        called.append(message)
        raise AssertionError("the ClientApp must not run")

    with pytest.raises(errors.VerificationError, match="not the task's global model"):
        mod(msg, ctx, app)
    assert not called
    rnd = m.round(task_id, 1)
    assert rnd is None or all(not u["present"] for u in rnd["updates"])


def test_flatten_round_trips_a_torch_state_dict():
    torch = pytest.importorskip("torch")
    from flwr.app import ArrayRecord

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten(),
                              torch.nn.Linear(4 * 6 * 6, 2))
    arrays = ArrayRecord(net.state_dict())
    v = flatten(arrays)
    assert v.dtype == np.float32 and v.size == sum(p.numel() for p in net.parameters())
    back = unflatten(v, arrays).to_torch_state_dict()
    assert list(back) == list(net.state_dict())
    for k, t in net.state_dict().items():
        assert torch.equal(back[k], t)
    with pytest.raises(errors.InvalidInputError):
        unflatten(v[:-1], arrays)
    with pytest.raises(errors.InvalidInputError):
        unflatten(np.concatenate([v, np.zeros(1, np.float32)]), arrays)


def test_mod_finds_its_member_in_the_node_config(tmp_path):
    from flwr.app import Context

    seed = bytes(range(32))
    key = tmp_path / "hospital.key"
    key.write_text(seed.hex() + "\n")

    def ctx(node_config):
        return Context(run_id=1, node_id=1, node_config=node_config, state=RecordDict(),
                       run_config={})

    mod = FedshareMod()
    cfg = {"fedshare-config": "consortium.conf", "fedshare-key": str(key)}
    assert mod._identity(ctx(cfg)) == ("consortium.conf", seed)
    # an explicit key (bytes, or a function of the context) wins over the node config
    assert FedshareMod(key=lambda c: bytes(32))._identity(ctx(cfg))[1] == bytes(32)
    with pytest.raises(errors.InvalidInputError, match="no consortium configuration"):
        mod._identity(ctx({"fedshare-key": str(key)}))
    with pytest.raises(errors.InvalidInputError, match="no member key"):
        mod._identity(ctx({"fedshare-config": "consortium.conf"}))
    key.write_text("not hex")
    with pytest.raises(errors.InvalidInputError, match="32 bytes"):
        mod._identity(ctx(cfg))


class _Ledger:
    """The aggregator's view of a task, scripted (no nodes): what the strategy reads."""

    did = "did:key:z6MkAggregator"

    def __init__(self, phase, round_):
        self.record = {"aggregator": self.did, "participants": [{}, {}, {}],
                       "key_id": "00" * 32, "round_limit": 5, "phase": phase,
                       "round": round_, "global_model": "00" * 32, "metrics": [0.9, 0.91]}

    def task(self, task_id):
        return self.record

    def threshold_key(self, key_id):
        return object()  # a stand-in handle: nothing in these tests decrypts


def test_strategy_sends_nothing_once_the_stop_rule_ended_the_task():
    from flwr.app import ArrayRecord, ConfigRecord

    from fedshare.flower import FedshareFedAvg

    s = FedshareFedAvg(_Ledger(phase=6, round_=2), bytes(32))
    assert s.round_limit == 5 and s.min_train_nodes == 3 and s.min_evaluate_nodes == 3
    arrays = ArrayRecord([np.zeros(3, np.float32)])
    # Flower's loop goes on to its last round: nothing is sent, nothing aggregated
    assert s.configure_train(3, arrays, ConfigRecord(), grid=None) == []
    assert s.aggregate_train(3, []) == (None, None)
    assert s.configure_evaluate(3, arrays, ConfigRecord(), grid=None) == []
    assert s.aggregate_evaluate(3, []) is None
    assert s.done


def test_strategy_refuses_what_a_fedshare_task_cannot_do():
    from fedshare.flower import FedshareFedAvg

    with pytest.raises(errors.InvalidInputError, match="every participant"):
        FedshareFedAvg(_Ledger(phase=1, round_=1), bytes(32), fraction_train=0.5)
    other = _Ledger(phase=1, round_=1)
    other.record["aggregator"] = "did:key:z6MkSomeoneElse"
    with pytest.raises(errors.AccessDeniedError, match="aggregator"):
        FedshareFedAvg(other, bytes(32))
