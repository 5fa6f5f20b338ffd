"""Hyperparameter sweeps: an Optuna study whose every trial is a tracked `rltrack train` run.

* :mod:`~rltrack.sweep.spec` reads and checks the sweep file (a train config plus a ``sweep:``
  section: sampler, pruner, objective, the search space).
* :mod:`~rltrack.sweep.study` keeps the study beside the runs, in Optuna's RDB storage on the
  same database, makes the sweep's group, and settles trials an earlier sweep left running.
* :mod:`~rltrack.sweep.curve` turns a run's recorded episodes into the intermediate values the
  pruner compares, on a fixed grid of timesteps so that trials are compared at equal steps.
* :mod:`~rltrack.sweep.runner` runs trials as `rltrack train` processes (several at once),
  feeds the pruner from the store while they run, and stops pruned ones with SIGINT, the
  way Ctrl-C stops a run: every episode ends final, the run ends ``stopped``.
* :mod:`~rltrack.sweep.view` reads a study back for the API (through Optuna's storage API).

Who owns shutdown: the sweep. Trial processes run in a session of their own, so a Ctrl-C in
the terminal reaches the sweep alone, which forwards one SIGINT to each trial, waits for them to
drain and records them, then exits 130.
"""
