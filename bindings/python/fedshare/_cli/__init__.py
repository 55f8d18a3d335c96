"""The command line's subcommands (private; :mod:`fedshare.cli` is the entry
point and the ``fedshare`` console script).

* :mod:`fedshare._cli.args` — argument types and the usage-error rules every
  subcommand shares (exit code 2, one line, nothing done).
* :mod:`fedshare._cli.tasks` — the consortium commands (keys, tasks, audit …).
* :mod:`fedshare._cli.upgrade` — ``fedshare consortium upgrade``: contract
  upgrades by quorum.
* :mod:`fedshare._cli.proof` — ``fedshare proof``: bundles checked offline.
* :mod:`fedshare._cli.train` — ``fedshare train``: one member's trainer process,
  driving :func:`fedshare.roles.run_member`.
"""
