"""The rllib backend (``--backend rllib``; the default for ``--algo appo`` and ``impala``):
Ray RLlib's new API stack with every episode of every env runner recorded.

Modules: :mod:`.backend` (the driver's loop), :mod:`.callbacks` (the env runners' episode
recorder), :mod:`.reports` (what runners send), :mod:`.ledger` (reports into the run's
:class:`~rltrack.training.episodes.EpisodeBook`), :mod:`.driver` (the driver's calls to the
runners: pull, dead runners, drain), :mod:`.drain` (on a runner), :mod:`.archive` (checkpoints
as one zip file), :mod:`.policy` (a checkpoint as a greedy policy), :mod:`.algorithms`
(``TrainConfig`` to ``AlgorithmConfig``), :mod:`.cluster` (Ray and the env on the runners).
The design and its measurements are in ``docs/rllib.md``.
"""
