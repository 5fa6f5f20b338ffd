"""The main process's record of every episode: global indices, timesteps, start and end events.

Actors report what happened in their env slots (:class:`ActorReport`); the ledger turns it into
:class:`EpisodeStarted` / :class:`EpisodeEnded` events. Indices come from one counter, in the
order the starts reach the main process, so they are unique and contiguous across actors and
agents. The run's timestep is the number of training steps reported so far; an episode's
start and end timesteps are that count when its start and its end arrived. Every report also
says how far each episode in flight has got, so an episode the main process has to close
itself (its actor died, or did not finish its drain in time) keeps its steps and reward.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import deque
from dataclasses import dataclass

from rltrack.training.backends.actor_learner.messages import (
    ActorReport,
    EpisodeBegan,
    EpisodeFinished,
    Steps,
)
from rltrack.training.events import EpisodeEnded, EpisodeStarted, EpisodeStatus, EventSink, utcnow


@dataclass(frozen=True)
class SlotOwner:
    """Who steps a block of env slots: an actor of one agent."""

    actor_id: int
    agent: int
    agent_id: str | None
    first_slot: int  # the actor's env j is the run's env slot first_slot + j


@dataclass
class _Live:
    index: int
    actor_id: int
    agent: int
    start_timestep: int
    start_time: dt.datetime
    steps: int = 0
    drain_steps: int = 0
    reward: float = 0.0


class EpisodeLedger:
    def __init__(
        self, sink: EventSink, run_id: str, owners: list[SlotOwner], *, start_timestep: int = 0
    ) -> None:
        self.sink = sink
        self.run_id = run_id
        self.owners = {o.actor_id: o for o in owners}
        self.timesteps = start_timestep
        self.start_timestep = start_timestep
        self.started = 0
        self.finished = 0
        self.live: dict[int, _Live] = {}  # run env slot -> episode
        self.recent: dict[int, deque[float]] = {o.agent: deque(maxlen=100) for o in owners}
        self.best_reward = -math.inf

    @property
    def trained(self) -> int:
        """Training steps taken in this run (without the resumed run's)."""
        return self.timesteps - self.start_timestep

    @property
    def last_index(self) -> int | None:
        return self.started - 1 if self.started else None

    def apply(self, report: ActorReport) -> None:
        owner = self.owners[report.actor_id]
        for item in report.items:
            if isinstance(item, Steps):
                self.timesteps += item.n
            elif isinstance(item, EpisodeBegan):
                self._start(owner, item)
            elif isinstance(item, EpisodeFinished):
                self._end(owner, item)
        for ep in report.live:
            live = self.live.get(owner.first_slot + ep.slot)
            if live is not None:
                live.steps, live.drain_steps, live.reward = ep.steps, ep.drain_steps, ep.reward

    def _start(self, owner: SlotOwner, item: EpisodeBegan) -> None:
        slot = owner.first_slot + item.slot
        if slot in self.live:
            # A start without the previous end cannot come from a working actor.
            raise RuntimeError(f"actor {owner.actor_id} began a second episode in env slot {slot}")
        index = self.started
        self.started += 1
        self.live[slot] = _Live(index, owner.actor_id, owner.agent, self.timesteps, item.time)
        self.sink.emit(
            EpisodeStarted(
                self.run_id, index, slot, self.timesteps, agent_id=owner.agent_id, time=item.time
            )
        )

    def _end(self, owner: SlotOwner, item: EpisodeFinished) -> None:
        slot = owner.first_slot + item.slot
        ep = self.live.pop(slot)
        self.sink.emit(
            EpisodeEnded(
                run_id=self.run_id,
                index=ep.index,
                env_slot=slot,
                status=item.status,
                start_timestep=ep.start_timestep,
                end_timestep=self.timesteps,
                steps=item.steps,
                total_reward=item.reward,
                start_time=ep.start_time,
                agent_id=owner.agent_id,
                win=item.win,
                epsilon=item.epsilon,
                metrics=item.metrics,
                trades=item.trades,
                trace=item.trace,
                drain_steps=item.drain_steps,
                time=item.time,
            )  # fmt: skip
        )
        self._count(ep.agent, item.status, item.reward)

    def _count(self, agent: int, status: EpisodeStatus, reward: float) -> None:
        self.finished += 1
        if status != "error":
            self.recent[agent].append(reward)
            self.best_reward = max(self.best_reward, reward)

    def finalize(self, status: EpisodeStatus, actor_ids: set[int] | None = None) -> int:
        """Close the episodes in flight (of ``actor_ids``, else all) with what the last report
        said about them. Returns how many were closed."""
        slots = [
            slot
            for slot, ep in sorted(self.live.items())
            if actor_ids is None or ep.actor_id in actor_ids
        ]
        now = utcnow()
        for slot in slots:
            ep = self.live.pop(slot)
            owner = self.owners[ep.actor_id]
            self.sink.emit(
                EpisodeEnded(
                    run_id=self.run_id,
                    index=ep.index,
                    env_slot=slot,
                    status=status,
                    start_timestep=ep.start_timestep,
                    end_timestep=self.timesteps,
                    steps=ep.steps,
                    total_reward=ep.reward,
                    start_time=ep.start_time,
                    agent_id=owner.agent_id,
                    drain_steps=ep.drain_steps,
                    time=now,
                )  # fmt: skip
            )
            self._count(ep.agent, status, ep.reward)
        return len(slots)

    def mean_recent_reward(self, agent: int | None = None) -> float | None:
        if agent is not None:
            values = list(self.recent[agent])
        else:
            values = [r for d in self.recent.values() for r in d]
        return sum(values) / len(values) if values else None
