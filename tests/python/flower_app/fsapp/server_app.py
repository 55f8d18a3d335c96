"""The ServerApp: FedshareFedAvg played by the task's aggregator, whose
consortium configuration, key, task and initial arrays come from the run
config; it writes what Flower ended with to the run config's ``result``."""
import json

import numpy as np
from flwr.app import ArrayRecord, Context
from flwr.serverapp import Grid, ServerApp

from fedshare.consortium import Member, model_digest
from fedshare.flower import FedshareFedAvg, flatten

app = ServerApp()


@app.main()
def main(grid: Grid, context: Context) -> None:
    cfg = context.run_config
    with open(str(cfg["aggregator-key"])) as f:
        seed = bytes.fromhex(f.read().strip())
    member = Member(str(cfg["fedshare-config"]), seed)
    with np.load(str(cfg["initial"])) as z:
        initial = ArrayRecord([z[k].astype(np.float32) for k in z.files])
    strategy = FedshareFedAvg(member, bytes.fromhex(str(cfg["task-id"])))
    result = strategy.start(grid=grid, initial_arrays=initial)
    with open(str(cfg["result"]), "w") as f:
        json.dump({"final_model": model_digest(flatten(result.arrays)).hex(),
                   "history": strategy.history,
                   "evaluate": {str(k): dict(v) for k, v in
                                result.evaluate_metrics_clientapp.items()}}, f)
