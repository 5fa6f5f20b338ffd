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

from dataclasses import dataclass

from rltrack.training.backends.actor_learner.messages import (
    ActorReport,
    EpisodeBegan,
    EpisodeFinished,
    Steps,
)
from rltrack.training.episodes import BookCounters, EpisodeBook
from rltrack.training.events import EpisodeStatus, EventSink


@dataclass(frozen=True)
class SlotOwner:
    """Who steps a block of env slots: an actor of one agent."""

    actor_id: int
    agent: int
    agent_id: str | None
    first_slot: int  # the actor's env j is the run's env slot first_slot + j


class EpisodeLedger(BookCounters):
    def __init__(
        self, sink: EventSink, run_id: str, owners: list[SlotOwner], *, start_timestep: int = 0
    ) -> None:
        self.book = EpisodeBook(sink, run_id)
        self.owners = {o.actor_id: o for o in owners}
        self.timesteps = start_timestep
        self.start_timestep = start_timestep

    @property
    def trained(self) -> int:
        """Training steps taken in this run (without the resumed run's)."""
        return self.timesteps - self.start_timestep

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
        self.book.begin(
            slot, self.timesteps, agent_id=owner.agent_id, group=owner.agent,
            owner=owner.actor_id, time=item.time,
        )  # fmt: skip

    def _end(self, owner: SlotOwner, item: EpisodeFinished) -> None:
        slot = owner.first_slot + item.slot
        ep = self.live[slot]
        ep.steps, ep.drain_steps, ep.reward = item.steps, item.drain_steps, item.reward
        self.book.end(
            slot, item.status, self.timesteps, win=item.win, epsilon=item.epsilon,
            metrics=item.metrics, trades=item.trades, trace=item.trace, time=item.time,
        )  # fmt: skip

    def finalize(self, status: EpisodeStatus, actor_ids: set[int] | None = None) -> int:
        """Close the episodes in flight (of ``actor_ids``, else all) with what the last report
        said about them. Returns how many were closed."""
        return len(self.book.finalize(status, self.timesteps, actor_ids))

    def mean_recent_reward(self, agent: int | None = None) -> float | None:
        return self.book.mean_recent_reward(agent)
