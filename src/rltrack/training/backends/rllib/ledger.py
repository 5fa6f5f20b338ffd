"""The driver's record of every episode of an RLlib run: it feeds the runners' reports to the
run's one :class:`~rltrack.training.episodes.EpisodeBook`.

Indices: the book hands them out in the order the starts are fed to it. One pull takes a report
from every runner; their items are merged into one sequence by the time the runner stamped on
each (``heapq.merge``: a runner's own items keep their order whatever its clock does), so
indices follow start order across runners as closely as their clocks agree, and are unique and
contiguous because one counter in one process hands them all out.

Env slots: runner ``w`` (RLlib's worker index, 1-based; 0 is the driver's own runner when
there are no remote ones) steps slots ``(w - 1) * M .. (w - 1) * M + M - 1`` with ``M`` envs
per runner. A restarted runner keeps its worker index, so its slots too.

Timesteps: the run's count is the resumed run's plus every runner incarnation's training steps
as reported; an episode's start and end timestep are that count when its start and end were
fed to the book.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from typing import Any

from rltrack.training.backends.rllib.reports import Began, Finished, Item, RunnerReport
from rltrack.training.episodes import (
    BookCounters,
    EpisodeBook,
    outcome_of,
)
from rltrack.training.events import EpisodeStatus, EventSink


class RunnerLedger(BookCounters):
    def __init__(
        self,
        sink: EventSink,
        run_id: str,
        *,
        envs_per_runner: int,
        agent_id: str | None = None,
        start_timestep: int = 0,
    ) -> None:
        self.book = EpisodeBook(sink, run_id)
        self.envs_per_runner = envs_per_runner
        self.agent_id = agent_id
        self.start_timestep = start_timestep
        self.incarnations: dict[int, str] = {}  # worker index -> its current incarnation
        self.pids: dict[int, int] = {}
        self.nodes: dict[int, str] = {}
        self._steps: dict[tuple[int, str], int] = {}  # (worker, incarnation) -> steps taken
        self.acked: dict[str, int] = {}  # incarnation -> sequence number of its next item
        self.abandoned: set[int] = set()  # runners whose episodes the driver closed itself

    # -- counters -------------------------------------------------------------------------
    @property
    def trained(self) -> int:
        """Training steps taken in this run (without a resumed run's)."""
        return sum(self._steps.values())

    @property
    def timesteps(self) -> int:
        return self.start_timestep + self.trained

    def mean_recent_reward(self) -> float | None:
        return self.book.mean_recent_reward()

    def slot(self, worker_index: int, env_index: int) -> int:
        return max(worker_index - 1, 0) * self.envs_per_runner + env_index

    def owners_in_flight(self) -> set[int]:
        """The runners (worker indices) that have episodes in flight."""
        return {ep.owner for ep in self.book.live.values() if ep.owner is not None}

    # -- reports --------------------------------------------------------------------------
    def apply(self, reports: Iterable[RunnerReport]) -> None:
        """Feed one pull's reports to the book, their items merged in time order."""
        fresh = [r for r in reports if r.incarnation and r.worker_index not in self.abandoned]
        for report in fresh:
            w = report.worker_index
            known = self.incarnations.get(w)
            if known is not None and known != report.incarnation:
                # RLlib restarted this runner: the episodes of the one that died died with it.
                self.close(w, "error")
            self.incarnations[w] = report.incarnation
            self.pids[w] = report.pid
            self.nodes[w] = report.node
        for report, item in _merged(fresh, self.acked):
            self._steps[(report.worker_index, report.incarnation)] = item.runner_steps
            slot = self.slot(report.worker_index, item.env_index)
            if isinstance(item, Began):
                self._begin(report.worker_index, slot, item)
            else:
                self._end(slot, item)
        for report in fresh:
            self._steps[(report.worker_index, report.incarnation)] = report.runner_steps
            for ep in report.in_flight:
                live = self.book.live.get(self.slot(report.worker_index, ep.env_index))
                if live is not None:
                    live.steps, live.drain_steps, live.reward = ep.steps, ep.drain_steps, ep.reward
                    live.last_info = {**ep.metrics, "trades": ep.trades}

    def _begin(self, worker_index: int, slot: int, item: Began) -> None:
        if slot in self.book.live:
            # Not from a working runner: the one before it in this slot never ended.
            self._close_slot(slot, "error")
        self.book.begin(
            slot, self.timesteps, agent_id=self.agent_id, owner=worker_index, time=item.time
        )

    def _end(self, slot: int, item: Finished) -> None:
        ep = self.book.live.get(slot)
        if ep is None:
            return  # closed by the driver already (its runner was given up on)
        ep.steps, ep.drain_steps, ep.reward = item.steps, item.drain_steps, item.reward
        self.book.end(
            slot, item.status, self.timesteps, win=item.win, epsilon=item.epsilon,
            metrics=item.metrics, trades=item.trades, trace=item.trace, time=item.time,
        )  # fmt: skip

    # -- closing what the runners cannot ----------------------------------------------------
    def close(self, worker_index: int | None, status: EpisodeStatus) -> int:
        """Close the episodes in flight of runner ``worker_index`` (None: of every runner) with
        what their last report said (steps, reward, metrics and trades so far)."""
        slots = [
            s
            for s, ep in sorted(self.book.live.items())
            if worker_index is None or ep.owner == worker_index
        ]
        for slot in slots:
            self._close_slot(slot, status)
        return len(slots)

    def abandon(self, worker_index: int, status: EpisodeStatus) -> int:
        """Close runner ``worker_index``'s episodes and ignore what it reports from now on."""
        self.abandoned.add(worker_index)
        return self.close(worker_index, status)

    def _close_slot(self, slot: int, status: EpisodeStatus) -> None:
        info: dict[str, Any] = dict(self.book.live[slot].last_info)
        self.book.end(slot, status, self.timesteps, **outcome_of(info))


def _merged(
    reports: list[RunnerReport], acked: dict[str, int]
) -> Iterator[tuple[RunnerReport, Item]]:
    """The reports' items not applied before, merged by time; ``acked`` moves past them."""
    streams = []
    for r in reports:
        skip = max(acked.get(r.incarnation, 0) - r.first_seq, 0)
        streams.append([(item.time, r.worker_index, r, item) for item in r.items[skip:]])
        acked[r.incarnation] = max(acked.get(r.incarnation, 0), r.first_seq + len(r.items))
    for _time, _w, report, item in heapq.merge(*streams, key=lambda t: (t[0], t[1])):
        yield report, item
