"""The ClientApp: plain Flower training code; FedshareMod finds the node's
consortium member in the SuperNode's node config (fedshare-config, fedshare-key)."""
from flwr.app import Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from fedshare.flower import FedshareMod

from .task import accuracy, load_partition, local_train

app = ClientApp(mods=[FedshareMod()])


@app.train()
def train(msg: Message, context: Context) -> Message:
    X, y, _, _ = load_partition(int(context.node_config["partition-id"]))
    arrays = local_train(msg.content["arrays"], X, y)
    return Message(RecordDict({"arrays": arrays,
                               "metrics": MetricRecord({"num-examples": len(y)})}),
                   reply_to=msg)


@app.evaluate()
def evaluate(msg: Message, context: Context) -> Message:
    _, _, Xt, yt = load_partition(int(context.node_config["partition-id"]))
    acc = accuracy(msg.content["arrays"], Xt, yt)
    return Message(RecordDict({"metrics": MetricRecord({"accuracy": acc,
                                                        "num-examples": len(yt)})}),
                   reply_to=msg)
