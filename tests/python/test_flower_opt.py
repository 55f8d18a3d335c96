"""Server optimizers (FedAdam, FedYogi) on fedshare's decrypted aggregates,
against Flower's own FedAdam and FedYogi.

- fedshare.serveropt is Flower's algorithm: fed the same aggregates, Flower's
  FedAdam / FedYogi and fedshare's replay give the same models (float32
  rounding of the models only);
- through the codec (pack, sum, unpack: the arithmetic of the encrypted sum
  without the encryption) FedAdam stays within the codec's bound carried
  through Adam's step (docs/fedshare-contracts.md, "Server optimizers");
- in a Flower simulation against a live consortium (the Flower guide's task,
  ClientApp and key holders; FedshareFedAdam / FedshareFedYogi as the
  strategy, the mod given the same optimizer) every round's model Flower
  passes on is the one each member replays from the ledger, and one Flower
  step of its own FedAdam / FedYogi from the same state on the plain client
  results lands within the bound;
- a mod refuses a server that names another optimizer, or none.
"""
from __future__ import annotations

import math
import os

os.environ["FLWR_TELEMETRY_ENABLED"] = "0"
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip("flwr")

from flwr.app import (ArrayRecord, ConfigRecord, Context, Message, Metadata,  # noqa: E402
                      MetricRecord, RecordDict)
from flwr.serverapp.strategy import FedAdam, FedYogi  # noqa: E402

from fedshare import errors, fedavg  # noqa: E402
from fedshare.flower import OPTIMIZER_KEY, FedshareMod, flatten, unflatten  # noqa: E402
from fedshare.serveropt import Adam, Yogi, from_description, replay  # noqa: E402

from guide_fixtures import python_blocks  # noqa: E402

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guides" / "flower.md"
EPS32 = float(np.finfo(np.float32).eps)


@pytest.fixture(autouse=True)
def _restore_environment():
    """Ray writes into this process's environment; put it back (see test_flower)."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def _reply(i: int, arrays: np.ndarray, n: int) -> Message:
    meta = Metadata(run_id=1, message_id=f"r{i}", src_node_id=i + 1, dst_node_id=0,
                    reply_to_message_id=f"m{i}", group_id="1", created_at=0.0, ttl=60.0,
                    message_type="train")
    return Message(RecordDict({"arrays": ArrayRecord([np.asarray(arrays)]),
                               "metrics": MetricRecord({"num-examples": n})}), metadata=meta)


def _pair(kind: str, **kw):
    return (Adam(**kw), FedAdam(**kw)) if kind == "adam" else (Yogi(**kw), FedYogi(**kw))


def _adam_gain(beta_1: float, beta_2: float) -> float:
    """1 + K, K bounding |m| / sqrt(v) of Adam's moments (Cauchy-Schwarz; needs
    beta_1² < beta_2): a change of at most e in every round's aggregate moves
    m/(sqrt(v)+tau) by at most (1 + K) e / tau."""
    return 1 + math.sqrt((1 - beta_1) ** 2 / ((1 - beta_2) * (1 - beta_1 ** 2 / beta_2)))


@pytest.mark.parametrize("kind", ["adam", "yogi"])
def test_replay_is_flowers_optimizer_on_the_same_aggregates(kind):
    rng = np.random.default_rng(5)
    n, rounds = 400, 8
    ours, flower = _pair(kind, eta=0.05, beta_1=0.9, beta_2=0.99, tau=1e-2)
    x0 = rng.normal(0, 0.5, n).astype(np.float32)
    st = ours.start(x0)
    xf = x0.astype(np.float64)
    drift = rng.normal(0, 0.02, n)
    worst = 0.0
    for r in range(1, rounds + 1):
        # the round's recorded model g_r (float32, as on the ledger)
        g = (st.chain.astype(np.float64) + drift + rng.normal(0, 0.01, n)).astype(np.float32)
        d = g.astype(np.float64) - st.chain.astype(np.float64)
        x = st.step(r, g)
        # Flower: its current model, and one reply of that model plus the same aggregate
        flower.current_arrays = {"0": xf}
        arrays, _ = flower.aggregate_train(r, [_reply(0, xf + d, 1)])
        xf = arrays["0"].numpy()
        dev = float(np.max(np.abs(x.astype(np.float64) - xf)))
        # ours rounds x to float32 each round (the model's type); Flower here keeps float64
        assert dev <= r * EPS32 * max(1.0, float(np.max(np.abs(xf)))), (r, dev)
        worst = max(worst, dev)
    assert worst > 0 and float(np.max(np.abs(xf - x0))) > 0.1  # the optimizer moved
    assert from_description(ours.describe()) == ours


def test_fedadam_through_the_codec_stays_within_the_bound():
    """Three clients' updates, weighted; Flower's FedAdam on the plain results,
    fedshare's on the codec's sum (what the key holders decrypt)."""
    rng = np.random.default_rng(11)
    n, rounds, weights = 300, 6, [120, 80, 45]
    eta, b1, b2, tau = 0.05, 0.9, 0.99, 1e-2
    ours, flower = _pair("adam", eta=eta, beta_1=b1, beta_2=b2, tau=tau)
    codec = fedavg.Codec(plaintext_bytes=255, max_weight=1000, precision=1e-6, clip=4.0)
    x0 = rng.normal(0, 0.5, n).astype(np.float32)
    st = ours.start(x0)
    xf = x0.copy()
    drift = rng.normal(0, 0.02, (3, n))
    bound = 0.0
    for r in range(1, rounds + 1):
        ups = [(drift[i] + rng.normal(0, 0.01, n)).astype(np.float32) for i in range(3)]
        # fedshare: the codec's sum, unpacked to the weighted mean, added in float32
        packed = codec.sum([codec.pack(u, weight=w) for u, w in zip(ups, weights)])
        mean = codec.unpack(packed, n, total_weight=sum(weights))
        g = (st.chain + mean).astype(np.float32)
        x = st.step(r, g)
        # Flower: FedAdam on the plain trained arrays (its model plus each update)
        flower.current_arrays = {"0": xf}
        arrays, _ = flower.aggregate_train(
            r, [_reply(i, (xf + u).astype(np.float32), w)
                for i, (u, w) in enumerate(zip(ups, weights))])
        xf = arrays["0"].numpy().astype(np.float32)
        # each round's aggregate differs by the codec's bound plus float32 rounding
        # of the models it is added to; Adam carries that through (1 + K) / tau
        big = max(1.0, float(np.max(np.abs(g))), float(np.max(np.abs(xf))))
        e = codec.error_bound + 4 * EPS32 * big
        bound += ours.step_size(r) * _adam_gain(b1, b2) * e / tau + 2 * EPS32 * big
        dev = float(np.max(np.abs(x.astype(np.float64) - xf.astype(np.float64))))
        assert dev <= bound, (r, dev, bound)
    assert dev > 0


def test_optimizer_text_is_exact_and_checked():
    a = Adam(eta=0.1, tau=1e-3)
    assert a.describe().startswith("adam eta=0x1.999999999999ap-4 ")
    assert from_description(a.describe()) == a and Yogi() != Adam()
    for bad in ("sgd eta=0x1p-4", "adam eta=0x1p-4", "adam eta=1 beta_1=0 beta_2=0 tau=1",
                a.describe() + " extra=0x0p+0"):
        with pytest.raises(errors.InvalidInputError):
            from_description(bad)
    for kw in ({"eta": 0}, {"beta_1": 1.0}, {"tau": -1}, {"eta": float("nan")}):
        with pytest.raises(errors.InvalidInputError):
            Adam(**kw)
    st = a.start(np.zeros(3, np.float32))
    st.step(1, np.ones(3, np.float32))
    with pytest.raises(errors.InvalidInputError):
        st.step(1, np.ones(3, np.float32))  # a round steps once
    with pytest.raises(errors.InvalidInputError):
        st.step(2, np.ones(4, np.float32))


# --- against a live consortium --------------------------------------------------------

def _run(ns: dict, strategy_cls, optimizer) -> None:
    """The guide's task, ClientApp functions and key holders; a ClientApp whose
    mod has the optimizer; a ServerApp with the optimizer's strategy."""
    from flwr.clientapp import ClientApp
    from flwr.serverapp import Grid, ServerApp
    from flwr.simulation import run_simulation

    blocks = python_blocks(GUIDE)
    exec(compile(blocks[0], "flower.md[1]", "exec"), ns)  # noqa: S102 (the task)
    exec(compile(blocks[1], "flower.md[2]", "exec"), ns)  # noqa: S102 (train/evaluate code)
    here, hospitals = ns["HERE"], ns["HOSPITALS"]
    client = ClientApp(mods=[FedshareMod(
        config=os.path.join(here, "consortium.conf"),
        key=lambda ctx: os.path.join(here, hospitals[ctx.node_config["partition-id"]] + ".key"),
        server_optimizer=optimizer)])
    client.train()(ns["train"])
    client.evaluate()(ns["evaluate"])
    server = ServerApp()
    results = ns.setdefault("results", {})

    @server.main()
    def main(grid: Grid, context: Context):
        strategy = strategy_cls(ns["aggregator"], ns["task_id"], eta=optimizer.eta,
                                beta_1=optimizer.beta_1, beta_2=optimizer.beta_2,
                                tau=optimizer.tau)
        results["flower"] = strategy.start(grid=grid, initial_arrays=ns["initial"])
        results["history"] = strategy.history

    exec(compile(blocks[3], "flower.md[4]", "exec"), ns)  # noqa: S102 (the key holders)
    run_simulation(server_app=server, client_app=client, num_supernodes=3,
                   backend_config={"init_args": {"num_cpus": 3, "include_dashboard": False},
                                   "client_resources": {"num_cpus": 1, "num_gpus": 0.0}})
    for p in ns["holders"]:
        assert p.wait(timeout=120) == 0


# Yogi differs from Adam only in fedshare.serveropt (checked above against
# Flower's FedYogi); one simulation keeps this file's run time near half a minute.
@pytest.mark.parametrize("kind", ["adam"])
def test_flower_simulation_with_a_server_optimizer(consortium, kind):
    from fedshare.flower import FedshareFedAdam, FedshareFedYogi
    from fedshare.serveropt import fetch_model

    eta, b1, b2, tau = (0.05, 0.9, 0.99, 1e-2)
    optimizer = Adam(eta, b1, b2, tau) if kind == "adam" else Yogi(eta, b1, b2, tau)
    ns: dict = {"__name__": "guide"}
    try:
        _run(ns, FedshareFedAdam if kind == "adam" else FedshareFedYogi, optimizer)
    finally:
        for p in ns.get("holders", []):
            if p.poll() is None:
                p.kill()
                p.wait()
    agg, task_id, codec, like = ns["aggregator"], ns["task_id"], ns["codec"], ns["initial"]
    task = agg.task(task_id)
    assert task["phase"] == 6 and task["round"] == 3 and len(task["metrics"]) == 3
    flower_result = ns["results"]["flower"]

    # every member replays Flower's models from the ledger alone
    from fedshare.consortium import model_digest
    st = replay(ns["hospitals"][1], task_id, optimizer, 3)
    assert np.array_equal(flatten(flower_result.arrays), st.x)
    history = ns["results"]["history"]
    assert [h["round"] for h in history] == [1, 2, 3]
    # the optimizer changed what Flower got: not the ledger's FedAvg chain
    assert all(h["served_model"] != h["global_model"] for h in history)

    # round by round: Flower's own optimizer, one step from the same state, on
    # the plain client results, and on the decrypted aggregate itself
    prev = ns["hospitals"][0]
    state = replay(prev, task_id, optimizer, 0)
    for r in (1, 2, 3):
        rnd = agg.round(task_id, r)
        assert rnd["global_model"] == history[r - 1]["global_model"]
        g = fetch_model(agg, bytes.fromhex(rnd["global_model"]))
        base = state.x.copy()
        m0, v0 = state.m, state.v
        d = g.astype(np.float64) - state.chain.astype(np.float64)
        x = state.step(r, g)
        assert history[r - 1]["served_model"] == model_digest(x).hex()
        # the plain results: the ClientApp's training is deterministic, redo it
        replies = []
        for pid in range(3):
            X, y, _, _ = ns["load_partition"](pid)
            arrays = ns["local_train"](unflatten(base, like), X, y)
            replies.append((flatten(arrays), len(y)))
        for aggregate, tol_codec in (("plain", codec.error_bound), ("decrypted", 0.0)):
            flower = (FedAdam if kind == "adam" else FedYogi)(
                eta=eta, beta_1=b1, beta_2=b2, tau=tau)
            flower.current_arrays = {"0": base.astype(np.float64)}
            if m0 is not None:
                flower.m_t = {"0": m0.copy()}
                flower.v_t = {"0": v0.copy()}
            msgs = ([_reply(i, a, w) for i, (a, w) in enumerate(replies)]
                    if aggregate == "plain" else [_reply(0, base.astype(np.float64) + d, 1)])
            out, _ = flower.aggregate_train(r, msgs)
            xf = out["0"].numpy().astype(np.float64)
            big = max(1.0, float(np.max(np.abs(g))), float(np.max(np.abs(xf))))
            e = tol_codec + 4 * EPS32 * big
            gain = _adam_gain(b1, b2) if kind == "adam" else None
            dev = float(np.max(np.abs(x.astype(np.float64) - xf)))
            if aggregate == "decrypted":  # the same algorithm on the same aggregate
                assert dev <= 2 * EPS32 * big, (kind, r, dev)
            elif gain is not None:  # Adam: the codec's bound through one step
                assert dev <= optimizer.step_size(r) * gain * e / tau + 2 * EPS32 * big, \
                    (r, dev)
            else:  # Yogi: the aggregates agree within the codec bound (see the docs)
                plain = np.average(np.stack([a for a, _ in replies]).astype(np.float64),
                                   axis=0, weights=[w for _, w in replies])
                assert float(np.max(np.abs(base + d - plain))) <= e
    assert np.array_equal(state.x, st.x)


def test_mod_refuses_a_server_optimizer_it_did_not_agree_to(consortium):
    ns: dict = {"__name__": "guide"}
    exec(compile(python_blocks(GUIDE)[0], "flower.md[1]", "exec"), ns)  # noqa: S102
    task_id, like = ns["task_id"], ns["initial"]
    meta = Metadata(run_id=1, message_id="m1", src_node_id=0, dst_node_id=1,
                    reply_to_message_id="", group_id="", created_at=0.0, ttl=60.0,
                    message_type="train")
    ctx = Context(run_id=1, node_id=1, node_config={}, state=RecordDict(), run_config={})

    def message(optimizer, arrays=like):
        cfg = {"fedshare-task": task_id.hex(), "fedshare-round": 1}
        if optimizer is not None:
            cfg[OPTIMIZER_KEY] = optimizer.describe()
        return Message(RecordDict({"arrays": arrays, "config": ConfigRecord(cfg)}),
                       metadata=meta)

    def app(message, context):
        raise AssertionError("the ClientApp must not run")

    cases = [(None, Adam()),                # a FedAvg node, a FedAdam server
             (Adam(), None),                # a FedAdam node, a FedAvg server
             (Adam(eta=0.1), Adam(eta=0.2)),  # other hyper-parameters
             (Adam(), Yogi())]
    for mine, servers in cases:
        mod = FedshareMod(config="consortium.conf", key="hospital-a.key",
                          server_optimizer=mine)
        with pytest.raises(errors.VerificationError, match="not the one this node agreed to"):
            mod(message(servers), ctx, app)
    # the agreed optimizer, but arrays that are not its replay of the ledger (x_0)
    mod = FedshareMod(config="consortium.conf", key="hospital-a.key", server_optimizer=Adam())
    wrong = unflatten(flatten(like) + 0.25, like)
    with pytest.raises(errors.VerificationError, match="after the server optimizer"):
        mod(message(Adam(), wrong), ctx, app)
    rnd = ns["hospitals"][0].round(task_id, 1)
    assert rnd is None or all(not u["present"] for u in rnd["updates"])


# --- the optimizer as a task option on the ledger ---------------------------------------

TASK_ADAM = Adam(eta=0.05, beta_1=0.9, beta_2=0.99, tau=1e-2)


def test_task_option_drives_the_strategy_and_the_mods(consortium):
    """A task created with FedAdam as its option: the guide's plain
    FedshareFedAvg and FedshareMod (neither told of any optimizer) apply the
    task's FedAdam; every model Flower passes on is fedshare.serveropt's step
    on the same recorded aggregates, the ledger records each x_r and the
    evaluations name it; a strategy or a mod given another optimizer is refused."""
    from flwr.serverapp import Grid, ServerApp
    from flwr.simulation import run_simulation

    from fedshare.consortium import model_digest
    from fedshare.flower import FedshareFedAvg, FedshareFedYogi
    from fedshare.flower import FedshareFedAdam
    from fedshare.serveropt import fetch_model

    blocks = python_blocks(GUIDE)
    old = "learning_rate=0.5, round_limit=3)"
    assert blocks[0].count(old) == 1
    ns: dict = {"__name__": "guide", "TASK_ADAM": TASK_ADAM}
    exec(compile(blocks[0].replace(old, "learning_rate=0.5, round_limit=3, "  # noqa: S102
                                        "server_optimizer=TASK_ADAM)"), "flower.md[1]", "exec"),
         ns)
    exec(compile(blocks[1], "flower.md[2]", "exec"), ns)  # noqa: S102 (the ClientApp code)
    agg, task_id, like = ns["aggregator"], ns["task_id"], ns["initial"]
    assert agg.task(task_id)["server_optimizer"] == "adam"
    results: dict = {}
    server = ServerApp()

    @server.main()
    def main(grid: Grid, context: Context):
        strategy = FedshareFedAvg(agg, task_id)  # reads the optimizer from the task
        assert strategy.optimizer == TASK_ADAM
        results["flower"] = strategy.start(grid=grid, initial_arrays=like)
        results["history"] = strategy.history

    try:
        exec(compile(blocks[3], "flower.md[4]", "exec"), ns)  # noqa: S102 (the key holders)
        run_simulation(server_app=server, client_app=ns["client"], num_supernodes=3,
                       backend_config={"init_args": {"num_cpus": 3, "include_dashboard": False},
                                       "client_resources": {"num_cpus": 1, "num_gpus": 0.0}})
        for p in ns["holders"]:
            assert p.wait(timeout=120) == 0
    finally:
        for p in ns.get("holders", []):
            if p.poll() is None:
                p.kill()
                p.wait()
    task = agg.task(task_id)
    assert task["phase"] == 6 and task["round"] == 3
    history = results["history"]
    assert [h["round"] for h in history] == [1, 2, 3]
    # fedshare.serveropt on the same inputs: the recorded models g_0 … g_r
    state = TASK_ADAM.start(flatten(like))
    for r in (1, 2, 3):
        rnd = agg.round(task_id, r)
        g = fetch_model(agg, bytes.fromhex(rnd["global_model"]))
        x = state.step(r, g)
        assert history[r - 1]["served_model"] == model_digest(x).hex() == rnd["server_model"]
        assert rnd["server_model"] != rnd["global_model"]  # Adam, not FedAvg
    assert np.array_equal(flatten(results["flower"].arrays), state.x)
    assert task["server_model"] == model_digest(state.x).hex()
    # the evaluations named x_r (the contract disputes any other digest): no disputes
    assert all(agg.round(task_id, r)["models_disputed"] == 0 for r in (1, 2, 3))

    # a mismatch with the task's option is refused, clearly
    with pytest.raises(errors.VerificationError, match="the task on the ledger names"):
        FedshareFedAdam(agg, task_id, eta=0.1, tau=1e-2)
    with pytest.raises(errors.VerificationError, match="the task on the ledger names"):
        FedshareFedYogi(agg, task_id, eta=0.05, tau=1e-2)
    agreed = FedshareFedAdam(agg, task_id, eta=0.05, tau=1e-2)
    assert agreed.optimizer == TASK_ADAM == agreed.task_optimizer
    meta = Metadata(run_id=1, message_id="m1", src_node_id=0, dst_node_id=1,
                    reply_to_message_id="", group_id="", created_at=0.0, ttl=60.0,
                    message_type="evaluate")
    ctx = Context(run_id=1, node_id=1, node_config={}, state=RecordDict(), run_config={})
    msg = Message(RecordDict({"arrays": like, "config": ConfigRecord(
        {"fedshare-task": task_id.hex(), "fedshare-round": 1,
         OPTIMIZER_KEY: TASK_ADAM.describe()})}), metadata=meta)

    def app(message, context):
        raise AssertionError("the ClientApp must not run")

    mod = FedshareMod(config="consortium.conf", key="hospital-a.key", server_optimizer=Yogi())
    with pytest.raises(errors.VerificationError, match="the task on the ledger names"):
        mod(msg, ctx, app)
    # a server that names no optimizer (or another) on this task: refused too
    msg.content["config"] = ConfigRecord({"fedshare-task": task_id.hex(), "fedshare-round": 1})
    with pytest.raises(errors.VerificationError, match="not the one this node agreed to"):
        FedshareMod(config="consortium.conf", key="hospital-a.key")(msg, ctx, app)
