"""Episode bookkeeping, once for every backend and integration: :class:`EpisodeBook`.

Indices are handed out in the order episodes *start*, from one counter for the whole run, so
they are unique and contiguous across parallel environments, actors and runners. Every
episode that starts is announced with :class:`EpisodeStarted` and later closed with exactly
one :class:`EpisodeEnded`: when its env ends it, or when training stops (finalized as
truncated, or error, with what it has so far). Steps taken after training stopped (the drain)
are counted apart, in ``drain_steps``.

Two adapters feed the book: :class:`EpisodeTracker` for code that sees every vectorized step
(SB3's callback, a Gymnasium vector env), and the actor-learner's ledger, which gets totals
from its actors' reports.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy.typing as npt

from rltrack.training.events import (
    EpisodeEnded,
    EpisodeStarted,
    EpisodeStatus,
    EventSink,
    StepRecord,
    TradeRecord,
    utcnow,
)

# Keys of an episode's final `info` that are not the env's own metrics.
RESERVED_INFO_KEYS = frozenset(
    {
        "terminal_observation", "final_observation", "final_info", "TimeLimit.truncated",
        "episode", "is_success", "win", "trades", "action_mask", "_final_observation",
        "_final_info", "_episode",
    }
)  # fmt: skip


def episode_metrics(info: Mapping[str, Any]) -> dict[str, float | int | bool | str | None]:
    """The env's metrics for an episode: every scalar in its final ``info`` (documented)."""
    out: dict[str, float | int | bool | str | None] = {}
    for key, value in info.items():
        if key in RESERVED_INFO_KEYS or key.startswith("_"):
            continue
        if isinstance(value, bool | int | str) or value is None:
            out[key] = value
        elif hasattr(value, "item") and getattr(value, "size", 2) == 1:
            value = value.item()  # numpy scalars and 0-d arrays
            out[key] = None if isinstance(value, float) and not math.isfinite(value) else value
        elif isinstance(value, float):
            out[key] = value if math.isfinite(value) else None
    return out


def win_of(info: Mapping[str, Any]) -> float | None:
    """1, 0.5 (tie) or 0 from ``info["win"]``, else from ``is_success``; None when neither."""
    for key in ("win", "is_success"):
        value = info.get(key)
        if value is not None:
            return float(value)
    return None


def outcome_of(info: Mapping[str, Any]) -> dict[str, Any]:
    """What an episode's final ``info`` says of it, as the keyword arguments of its end
    record: ``win``, ``metrics`` and ``trades``."""
    return {"win": win_of(info), "metrics": episode_metrics(info), "trades": trades_of(info)}


def trades_of(info: Mapping[str, Any]) -> tuple[TradeRecord, ...]:
    raw = info.get("trades") or ()
    out = []
    for t in raw:
        if isinstance(t, TradeRecord):
            out.append(t)
        else:
            out.append(
                TradeRecord(
                    direction=t["direction"],
                    entry_step=int(t["entry_step"]),
                    exit_step=int(t["exit_step"]),
                    entry_price=float(t["entry_price"]),
                    exit_price=float(t["exit_price"]),
                    quantity=float(t["quantity"]),
                    pnl=float(t["pnl"]),
                    costs=float(t["costs"]),
                    entry_time=_as_time(t.get("entry_time")),
                    exit_time=_as_time(t.get("exit_time")),
                )  # fmt: skip
            )
    return tuple(out)


def _as_time(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if hasattr(value, "to_pydatetime"):
        return _as_time(value.to_pydatetime())
    return _as_time(dt.datetime.fromisoformat(str(value)))


@dataclass(slots=True)
class LiveEpisode:
    """An episode in flight in one env slot."""

    index: int
    slot: int
    start_timestep: int
    start_time: dt.datetime
    agent_id: str | None = None
    group: int = 0  # whose recent rewards it joins (the agent of a run of several)
    owner: int | None = None  # who steps it (an actor), for finalizing one owner's episodes
    reward: float = 0.0
    steps: int = 0
    drain_steps: int = 0
    last_info: Mapping[str, Any] = field(default_factory=dict)
    trace: list[StepRecord] | None = None


class EpisodeBook:
    """The run's episodes: index allocation in start order, the live episode of each env slot,
    its end (completed, truncated or error) and what training shows of them (finished count,
    best and recent rewards). ``next_index`` takes indices from a counter shared with other
    books (several agents of one run)."""

    def __init__(
        self,
        sink: EventSink,
        run_id: str,
        *,
        first_index: int = 0,
        next_index: Callable[[], int] | None = None,
    ) -> None:
        self.sink = sink
        self.run_id = run_id
        self._counter = first_index
        self._next_index = next_index
        self.live: dict[int, LiveEpisode] = {}
        self.finished = 0
        self.recent: dict[int, deque[float]] = {}
        self.best_reward = -math.inf

    @property
    def started(self) -> int:
        """Indices this book has handed out (its own counter's next index)."""
        return self._counter

    def begin(
        self,
        slot: int,
        timestep: int,
        *,
        agent_id: str | None = None,
        group: int = 0,
        owner: int | None = None,
        time: dt.datetime | None = None,
        traced: bool = False,
    ) -> LiveEpisode:
        """Give the episode starting in ``slot`` the next index and announce it; ``traced``
        keeps its per-step trace."""
        if slot in self.live:
            raise RuntimeError(f"env slot {slot} began an episode while one was in flight there")
        index = self._take_index()
        now = time or utcnow()
        ep = LiveEpisode(
            index, slot, timestep, now, agent_id, group, owner, trace=[] if traced else None
        )
        self.live[slot] = ep
        self.sink.emit(EpisodeStarted(self.run_id, index, slot, timestep, agent_id, time=now))
        return ep

    def _take_index(self) -> int:
        if self._next_index is not None:
            return self._next_index()
        index, self._counter = self._counter, self._counter + 1
        return index

    def record(
        self,
        slot: int,
        status: EpisodeStatus,
        start_timestep: int,
        end_timestep: int,
        *,
        steps: int,
        reward: float,
        agent_id: str | None = None,
        start_time: dt.datetime | None = None,
        **end: Any,
    ) -> EpisodeEnded:
        """A whole episode at once, for a loop that counts its own: the next index, its start
        and its end (``end``: what :meth:`end` takes). The slot's live episode, if any, is
        not touched."""
        index = self._take_index()
        ep = LiveEpisode(
            index, slot, start_timestep, start_time or utcnow(), agent_id, reward=reward,
            steps=steps,
        )  # fmt: skip
        self.sink.emit(
            EpisodeStarted(self.run_id, index, slot, start_timestep, agent_id, time=ep.start_time)
        )
        return self._ended(ep, status, end_timestep, **end)

    def end(
        self,
        slot: int,
        status: EpisodeStatus,
        timestep: int,
        **end: Any,
    ) -> EpisodeEnded:
        """Close the episode in flight in ``slot`` (``end``: win, epsilon, metrics, trades,
        trace, time)."""
        return self._ended(self.live.pop(slot), status, timestep, **end)

    def _ended(
        self,
        ep: LiveEpisode,
        status: EpisodeStatus,
        timestep: int,
        *,
        win: float | None = None,
        epsilon: float | None = None,
        metrics: Mapping[str, Any] | None = None,
        trades: tuple[TradeRecord, ...] = (),
        trace: Sequence[StepRecord] | None = None,
        time: dt.datetime | None = None,
    ) -> EpisodeEnded:
        slot = ep.slot
        event = EpisodeEnded(
            run_id=self.run_id, index=ep.index, env_slot=slot, status=status,
            start_timestep=ep.start_timestep, end_timestep=timestep, steps=ep.steps,
            total_reward=ep.reward, start_time=ep.start_time, agent_id=ep.agent_id, win=win,
            epsilon=epsilon, metrics=dict(metrics or {}), trades=trades,
            trace=tuple(ep.trace or () if trace is None else trace), drain_steps=ep.drain_steps,
            **({"time": time} if time is not None else {}),
        )  # fmt: skip
        self.sink.emit(event)
        self.finished += 1
        if status != "error":
            self.recent.setdefault(ep.group, deque(maxlen=100)).append(ep.reward)
            self.best_reward = max(self.best_reward, ep.reward)
        return event

    def finalize(
        self, status: EpisodeStatus, timestep: int, owners: set[int] | None = None
    ) -> list[EpisodeEnded]:
        """Close the episodes in flight (of ``owners``, else all) with what they have so far."""
        slots = [s for s, ep in sorted(self.live.items()) if owners is None or ep.owner in owners]
        now = utcnow()
        return [self.end(s, status, timestep, time=now) for s in slots]

    def mean_recent_reward(self, group: int | None = None) -> float | None:
        """The mean reward of the last 100 episodes (of one group, else of every group)."""
        values = (
            list(self.recent.get(group, ()))
            if group is not None
            else [r for d in self.recent.values() for r in d]
        )
        return sum(values) / len(values) if values else None


class BookCounters:
    """What every adapter of a book shows of it (the adapters hold it as ``self.book``)."""

    book: EpisodeBook

    @property
    def live(self) -> dict[int, LiveEpisode]:
        """Env slot -> its episode in flight."""
        return self.book.live

    @property
    def started(self) -> int:
        return self.book.started

    @property
    def finished(self) -> int:
        return self.book.finished

    @property
    def best_reward(self) -> float:
        return self.book.best_reward

    @property
    def last_index(self) -> int | None:
        return self.book.started - 1 if self.book.started else None


class EpisodeTracker(BookCounters):
    """Adapts a vectorized step loop to the book: each env's episode gets every step's reward
    (and, every ``trace_every``-th episode, its trace); an episode that ends is closed with its
    final info's metrics, win and trades, and the next one in its env begins.

    Env ``i`` is the book's slot ``first_slot + i``. By default the tracker has a book of its
    own; given the ``book`` of a run that other integrations share, it keeps to its slots."""

    def __init__(
        self,
        sink: EventSink,
        run_id: str,
        *,
        agent_id: str | None = None,
        first_index: int = 0,
        epsilon: Callable[[], float | None] | None = None,
        trace_every: int = 0,
        next_index: Callable[[], int] | None = None,
        book: EpisodeBook | None = None,
        first_slot: int = 0,
    ) -> None:
        self.shared = book is not None
        self.book = book or EpisodeBook(
            sink, run_id, first_index=first_index, next_index=next_index
        )
        self.sink = sink
        self.run_id = run_id
        self.agent_id = agent_id
        self.epsilon = epsilon
        self.trace_every = trace_every
        self.first_slot = first_slot
        self.owner = first_slot if self.shared else None

    @property
    def live(self) -> dict[int, LiveEpisode]:
        """Env -> its episode in flight."""
        if not self.shared:
            return self.book.live
        first = self.first_slot
        return {s - first: ep for s, ep in self.book.live.items() if ep.owner == self.owner}

    @property
    def mean_recent_reward(self) -> float | None:
        return self.book.mean_recent_reward()

    def start(self, env: int, timestep: int) -> int:
        ep = self.book.begin(
            self.first_slot + env, timestep, agent_id=self.agent_id, owner=self.owner
        )
        if self.trace_every > 0 and ep.index % self.trace_every == 0:
            ep.trace = []
        return ep.index

    def step(
        self,
        rewards: Sequence[float] | npt.NDArray[Any],
        dones: Sequence[bool] | npt.NDArray[Any],
        infos: Sequence[Mapping[str, Any]],
        timestep: int,
        actions: Sequence[Any] | npt.NDArray[Any] | None = None,
    ) -> None:
        """One vectorized step: ``timestep`` is the global count after it. Ended episodes are
        closed and the next episode in their env started (vec envs reset automatically)."""
        for env, (reward, done, info) in enumerate(zip(rewards, dones, infos, strict=True)):
            self._advance(env, reward, info, actions)
            if done:
                self.end(env, final_status(info), timestep, info)
                self.start(env, timestep)

    def drain_step(
        self,
        rewards: Sequence[float] | npt.NDArray[Any],
        dones: Sequence[bool] | npt.NDArray[Any],
        infos: Sequence[Mapping[str, Any]],
        timestep: int,
        actions: Sequence[Any] | npt.NDArray[Any] | None = None,
    ) -> None:
        """A step taken after training stopped: only the envs still in flight count, and an
        episode that ends is not followed by a new one. ``timestep`` stays the training count."""
        live = self.book.live
        for env, (reward, done, info) in enumerate(zip(rewards, dones, infos, strict=True)):
            ep = live.get(self.first_slot + env)
            if ep is None:
                continue
            ep.drain_steps += 1
            self._advance(env, reward, info, actions)
            if done:
                self.end(env, final_status(info), timestep, info)

    def _advance(
        self,
        env: int,
        reward: float,
        info: Mapping[str, Any],
        actions: Sequence[Any] | npt.NDArray[Any] | None,
    ) -> None:
        ep = self.book.live[self.first_slot + env]
        ep.reward += float(reward)
        ep.steps += 1
        ep.last_info = info
        if ep.trace is not None:
            action = None if actions is None else _scalar(actions[env])
            ep.trace.append(step_record(ep.steps - 1, float(reward), info, action))

    def end(
        self,
        env: int,
        status: EpisodeStatus,
        timestep: int,
        info: Mapping[str, Any] | None = None,
    ) -> EpisodeEnded:
        slot = self.first_slot + env
        info = self.book.live[slot].last_info if info is None else info
        return self.book.end(
            slot, status, timestep, epsilon=self.epsilon() if self.epsilon is not None else None,
            **outcome_of(info),
        )  # fmt: skip

    def finalize_all(self, status: EpisodeStatus, timestep: int) -> list[EpisodeEnded]:
        """Close every episode still in flight with what it has so far (its last info)."""
        return [self.end(env, status, timestep) for env in sorted(self.live)]


def final_status(info: Mapping[str, Any]) -> EpisodeStatus:
    return "truncated" if info.get("TimeLimit.truncated", False) else "completed"


def _scalar(raw: Any) -> float:
    return float(raw.item() if hasattr(raw, "item") and getattr(raw, "size", 1) == 1 else raw)


def step_record(
    step: int, reward: float, info: Mapping[str, Any], action: float | None = None
) -> StepRecord:
    """One step of an episode's trace: the action (else ``info["action"]``), the reward, and
    the trading env's price, position and portfolio value; a non-finite number is None."""
    if action is None and info.get("action") is not None:
        action = float(info["action"])

    def num(key: str) -> float | None:
        value = info.get(key)
        if value is None:
            return None
        out = float(value)
        return out if math.isfinite(out) else None

    return StepRecord(
        step=step, action=action, reward=reward, price=num("price"),
        position=num("position"), portfolio_value=num("portfolio_value"),
    )  # fmt: skip
