"""The driver's calls to the env runners, for the backend and for a user's own RLlib script
(:mod:`rltrack.integrations.rllib`): take their reports into a ledger, close the episodes of
runners RLlib found dead, and drain them when training stops."""

from __future__ import annotations

import functools
from typing import Any

from rltrack.training.backends.rllib.callbacks import collect_report
from rltrack.training.backends.rllib.drain import DRAIN_GRACE_S, drain_runner
from rltrack.training.backends.rllib.ledger import RunnerLedger
from rltrack.training.backends.rllib.reports import RunnerReport

PULL_TIMEOUT_S = 120.0  # a runner's report; one that misses it is asked again next time


def pull(algo: Any, ledger: RunnerLedger) -> None:
    """Take every healthy runner's report into ``ledger``; then :func:`close_dead`."""
    collect = functools.partial(collect_report, acked=dict(ledger.acked))
    reports = algo.env_runner_group.foreach_env_runner(
        collect, local_env_runner=True, healthy_only=True, timeout_seconds=PULL_TIMEOUT_S
    )
    ledger.apply(reports)
    close_dead(algo, ledger)


def close_dead(algo: Any, ledger: RunnerLedger) -> None:
    """Runners RLlib marked unhealthy died with their episodes in flight: those end as error
    (a restarted runner starts new episodes; the old ones are never reported again)."""
    healthy = set(algo.env_runner_group.healthy_env_runner_ids())
    for worker in sorted(ledger.owners_in_flight()):
        if worker > 0 and worker not in healthy:
            ledger.close(worker, "error")


def drain(algo: Any, ledger: RunnerLedger, *, max_steps: int, timeout_s: float) -> None:
    """Finish the episodes in flight without learning (:mod:`.drain`): every runner that has
    some drains at once; a runner that does not answer within ``timeout_s`` plus a grace period
    has its episodes closed as truncated from its last report and is ignored from then on."""
    close_dead(algo, ledger)
    owners = ledger.owners_in_flight()
    if not owners or max_steps <= 0:
        return
    group = algo.env_runner_group
    run = functools.partial(
        drain_runner, max_steps=max_steps, timeout_s=timeout_s, acked=dict(ledger.acked)
    )
    reports: list[RunnerReport] = []
    if 0 in owners and group.local_env_runner is not None:
        reports.append(run(group.local_env_runner))
    remote = sorted(w for w in owners if w > 0)
    if remote:
        reports += group.foreach_env_runner(
            run, local_env_runner=False, remote_worker_ids=remote,
            timeout_seconds=timeout_s + DRAIN_GRACE_S,
        )  # fmt: skip
    ledger.apply(reports)
    close_dead(algo, ledger)
    for worker in sorted(ledger.owners_in_flight()):
        ledger.abandon(worker, "truncated")  # it did not answer in time
