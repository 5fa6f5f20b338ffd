"""What the pruner compares: a run's mean episode reward at fixed timesteps, read from the store
while the run trains, and the trial's final value.

Optuna's pruners compare trials at equal steps (the median pruner takes, at step s, the values
other trials reported at exactly s), so values are reported on a grid: at ``report_every``,
``2 * report_every``, ... timesteps, the mean reward of the last 100 episodes that had ended by
then. A grid point is reported once it is settled, that is, once an episode that started at or
after it is recorded with every episode before it final: episode indices are given in start
order, so no episode that ended before the point can still come. The values depend on the
run alone, never on when the store was polled.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from statistics import fmean

from rltrack.tracking.entities import Episode
from rltrack.tracking.store import Store

WINDOW = 100  # episodes in a mean, as the last100 objective
PAGE = 1000  # episodes read per query


class Curve:
    """The intermediate values of one run, read incrementally."""

    def __init__(self, run_id: str, report_every: int) -> None:
        self.run_id = run_id
        self.report_every = report_every
        self.after: int | None = None  # the last index of the final prefix read so far
        self.horizon = -1  # the latest start timestep in that prefix
        self.reported = 0  # the last grid point reported
        self._pending: list[
            tuple[int, int, float | None]
        ] = []  # (end, index, reward), not yet counted
        self._window: deque[float] = deque(maxlen=WINDOW)

    def poll(self, store: Store) -> list[tuple[int, float]]:
        """Read what the run recorded since the last poll; the grid points it settled."""
        while True:
            page = store.episodes_after(self.run_id, self.after, PAGE)
            taken = self._take(page)
            if taken < PAGE or taken < len(page):
                break
        return self._settle(self.horizon)

    def finish(self, store: Store, timesteps: int) -> list[tuple[int, float]]:
        """Once the run has ended, every episode is final: the points up to ``timesteps``."""
        while True:
            page = store.episodes_after(self.run_id, self.after, PAGE)
            for e in page:
                self._add(e)
            if len(page) < PAGE:
                break
        return self._settle(timesteps)

    def _take(self, page: Sequence[Episode]) -> int:
        """Take the final episodes that continue the prefix; how many were taken."""
        n = 0
        for e in page:
            expected = 0 if self.after is None else self.after + 1
            if e.index != expected or e.status == "started":
                break
            self._add(e)
            n += 1
        return n

    def _add(self, e: Episode) -> None:
        self.after = e.index if self.after is None else max(self.after, e.index)
        self.horizon = max(self.horizon, e.start_timestep)
        if e.status == "started":
            return
        end = e.end_timestep if e.end_timestep is not None else e.start_timestep
        reward = (
            e.total_reward if e.total_reward is not None and math.isfinite(e.total_reward) else None
        )
        self._pending.append((end, e.index, reward))

    def _settle(self, until: int) -> list[tuple[int, float]]:
        points = []
        while self.reported + self.report_every <= until:
            at = self.reported + self.report_every
            self._pending.sort()
            counted = [p for p in self._pending if p[0] <= at]
            self._pending = [p for p in self._pending if p[0] > at]
            self._window.extend(r for _, _, r in counted if r is not None)
            self.reported = at
            if self._window:
                points.append((at, fmean(self._window)))
        return points


def last100(store: Store, run_id: str) -> float | None:
    """The mean reward of the run's last 100 ended episodes (None when none has one)."""
    rewards = store.last_rewards([run_id], WINDOW).get(run_id, [])
    return fmean(rewards) if rewards else None


def latest_evaluation(store: Store, run_id: str) -> float | None:
    """The mean reward of the run's latest evaluation of its own checkpoints (the baselines
    evaluated beside it, buy-and-hold and random, have no checkpoint)."""
    own = [e for e in store.list_evaluations(run_id) if e.checkpoint_id is not None]
    if not own or not math.isfinite(own[-1].mean_reward):
        return None
    return own[-1].mean_reward


def objective_value(store: Store, run_id: str, objective: str) -> float | None:
    return latest_evaluation(store, run_id) if objective == "evaluation" else last100(store, run_id)
