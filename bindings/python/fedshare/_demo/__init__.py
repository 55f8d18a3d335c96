"""``fedshare demo`` and the experiment behind it (private: the report's
numbers, not an API).

* :mod:`fedshare._demo.command` — the ``demo`` subcommand's arguments and dispatch.
* :mod:`fedshare._demo.experiment` — a consortium of node processes, one
  ``fedshare train`` process per center, the baselines and the report.
* :mod:`fedshare._demo.threshold` — ``demo --crypto-only``: the threshold-Paillier check.
"""
