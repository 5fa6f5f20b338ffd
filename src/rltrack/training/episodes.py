"""Episode bookkeeping shared by every backend: one global index per episode, whatever slot.

Indices are handed out in the order episodes *start*, from one counter for the whole run, so
they are unique and contiguous across parallel environments (and actors). Every episode that
starts is announced with :class:`EpisodeStarted` and later closed with exactly one
:class:`EpisodeEnded`: when the env ends it, or when training stops (:meth:`finalize_all`).
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
class _Live:
    index: int
    start_timestep: int
    start_time: dt.datetime
    reward: float = 0.0
    steps: int = 0
    drain_steps: int = 0
    last_info: Mapping[str, Any] = field(default_factory=dict)
    trace: list[StepRecord] | None = None


class EpisodeTracker:
    """Tracks the episode running in each env slot and emits its start and end events."""

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
    ) -> None:
        self.sink = sink
        self.run_id = run_id
        self.agent_id = agent_id
        self._counter = first_index
        self._next_index = next_index
        self.epsilon = epsilon
        self.trace_every = trace_every
        self.live: dict[int, _Live] = {}
        self.finished = 0
        self.recent_rewards: deque[float] = deque(maxlen=100)
        self.best_reward = -math.inf

    def _take_index(self) -> int:
        if self._next_index is not None:
            return self._next_index()
        index = self._counter
        self._counter += 1
        return index

    @property
    def started(self) -> int:
        return self._counter

    def start(self, slot: int, timestep: int) -> int:
        index = self._take_index()
        now = utcnow()
        traced = self.trace_every > 0 and index % self.trace_every == 0
        self.live[slot] = _Live(index, timestep, now, trace=[] if traced else None)
        self.sink.emit(
            EpisodeStarted(self.run_id, index, slot, timestep, agent_id=self.agent_id, time=now)
        )
        return index

    def step(
        self,
        rewards: Sequence[float] | npt.NDArray[Any],
        dones: Sequence[bool] | npt.NDArray[Any],
        infos: Sequence[Mapping[str, Any]],
        timestep: int,
        actions: Sequence[Any] | npt.NDArray[Any] | None = None,
    ) -> None:
        """One vectorized step: ``timestep`` is the global count after it. Ended episodes are
        closed and the next episode in their slot started (vec envs reset automatically)."""
        for slot, (reward, done, info) in enumerate(zip(rewards, dones, infos, strict=True)):
            self._advance(slot, reward, info, actions)
            if done:
                self.end(slot, _final_status(info), timestep, info)
                self.start(slot, timestep)

    def drain_step(
        self,
        rewards: Sequence[float] | npt.NDArray[Any],
        dones: Sequence[bool] | npt.NDArray[Any],
        infos: Sequence[Mapping[str, Any]],
        timestep: int,
        actions: Sequence[Any] | npt.NDArray[Any] | None = None,
    ) -> None:
        """A step taken after training stopped: only the slots still in flight count, and an
        episode that ends is not followed by a new one. ``timestep`` stays the training count."""
        for slot, (reward, done, info) in enumerate(zip(rewards, dones, infos, strict=True)):
            if slot not in self.live:
                continue
            self.live[slot].drain_steps += 1
            self._advance(slot, reward, info, actions)
            if done:
                self.end(slot, _final_status(info), timestep, info)

    def _advance(
        self,
        slot: int,
        reward: float,
        info: Mapping[str, Any],
        actions: Sequence[Any] | npt.NDArray[Any] | None,
    ) -> None:
        ep = self.live[slot]
        ep.reward += float(reward)
        ep.steps += 1
        ep.last_info = info
        if ep.trace is not None:
            ep.trace.append(_step_record(ep.steps - 1, reward, info, actions, slot))

    def end(
        self,
        slot: int,
        status: EpisodeStatus,
        timestep: int,
        info: Mapping[str, Any] | None = None,
    ) -> EpisodeEnded:
        ep = self.live.pop(slot)
        info = ep.last_info if info is None else info
        epsilon = self.epsilon() if self.epsilon is not None else None
        event = EpisodeEnded(
            run_id=self.run_id, index=ep.index, env_slot=slot, status=status,
            start_timestep=ep.start_timestep, end_timestep=timestep, steps=ep.steps,
            total_reward=ep.reward, start_time=ep.start_time, agent_id=self.agent_id,
            win=win_of(info), epsilon=epsilon, metrics=episode_metrics(info),
            trades=trades_of(info), trace=tuple(ep.trace or ()), drain_steps=ep.drain_steps,
        )  # fmt: skip
        self.sink.emit(event)
        self.finished += 1
        if status != "error":
            self.recent_rewards.append(ep.reward)
            self.best_reward = max(self.best_reward, ep.reward)
        return event

    def finalize_all(self, status: EpisodeStatus, timestep: int) -> list[EpisodeEnded]:
        """Close every episode still in flight with what it has so far."""
        return [self.end(slot, status, timestep) for slot in sorted(self.live)]

    @property
    def mean_recent_reward(self) -> float | None:
        if not self.recent_rewards:
            return None
        return sum(self.recent_rewards) / len(self.recent_rewards)


def _final_status(info: Mapping[str, Any]) -> EpisodeStatus:
    return "truncated" if info.get("TimeLimit.truncated", False) else "completed"


def _step_record(
    step: int,
    reward: float,
    info: Mapping[str, Any],
    actions: Sequence[Any] | npt.NDArray[Any] | None,
    slot: int,
) -> StepRecord:
    action = None
    if actions is not None:
        raw = actions[slot]
        action = float(raw.item() if hasattr(raw, "item") and getattr(raw, "size", 1) == 1 else raw)
    elif "action" in info:
        action = float(info["action"])

    def num(key: str) -> float | None:
        v = info.get(key)
        return None if v is None else float(v)

    return StepRecord(
        step=step, action=action, reward=float(reward), price=num("price"),
        position=num("position"), portfolio_value=num("portfolio_value"),
    )  # fmt: skip
