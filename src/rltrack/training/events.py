"""Typed events that training backends emit and sinks (the RunLogger, the console) consume.

Backends never talk to a database: they describe what happened with these dataclasses and
hand them to an :class:`EventSink`. Every event is keyed so that writing it twice has the
same effect as writing it once (episodes by ``(run_id, index)``, metrics by
``(run_id, key, timestep)``, checkpoints by ``(run_id, path)``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeAlias, runtime_checkable

RunStatus = Literal["running", "completed", "stopped", "failed"]
EpisodeStatus = Literal["started", "completed", "truncated", "error"]
CheckpointKind = Literal["periodic", "best", "final", "milestone"]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class RunStarted:
    run_id: str
    name: str
    algorithm: str
    env_id: str
    backend: str
    config: dict[str, Any]
    agent_id: str | None = None
    seed: int | None = None
    tags: tuple[str, ...] = ()
    parent_run_id: str | None = None
    host: str | None = None
    pid: int | None = None
    git_commit: str | None = None
    total_timesteps: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    # The name of the group the run joins (made, as kind "manual", if there is none yet).
    group: str | None = None
    time: dt.datetime = field(default_factory=utcnow)


@dataclass(frozen=True, slots=True)
class EpisodeStarted:
    run_id: str
    index: int
    env_slot: int
    start_timestep: int
    agent_id: str | None = None
    time: dt.datetime = field(default_factory=utcnow)


@dataclass(frozen=True, slots=True)
class TradeRecord:
    direction: Literal["long", "short"]
    entry_step: int
    exit_step: int
    entry_price: float
    exit_price: float
    quantity: float
    pnl: float
    costs: float
    entry_time: dt.datetime | None = None
    exit_time: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class StepRecord:
    step: int
    action: float | None
    reward: float
    price: float | None = None
    position: float | None = None
    portfolio_value: float | None = None


@dataclass(frozen=True, slots=True)
class EpisodeEnded:
    """The final record of an episode. ``status`` is never ``started``."""

    run_id: str
    index: int
    env_slot: int
    status: EpisodeStatus
    start_timestep: int
    end_timestep: int
    steps: int
    total_reward: float
    start_time: dt.datetime
    agent_id: str | None = None
    win: float | None = None
    epsilon: float | None = None
    metrics: dict[str, float | int | bool | str | None] = field(default_factory=dict)
    trades: tuple[TradeRecord, ...] = ()
    trace: tuple[StepRecord, ...] = ()
    # Steps taken after training stopped, to finish the episode without learning. They are
    # part of ``steps`` but not of the run's training timesteps.
    drain_steps: int = 0
    time: dt.datetime = field(default_factory=utcnow)


@dataclass(frozen=True, slots=True)
class EvaluationRecorded:
    """A deterministic evaluation of a checkpoint (or of a baseline policy beside it)."""

    run_id: str
    checkpoint_path: str | None
    episodes: int
    mean_reward: float
    std_reward: float
    win_rate: float | None = None
    mean_length: float | None = None
    opponent: str | None = None  # the policy evaluated: "agent", "buy_and_hold", "random", ...
    metrics: dict[str, Any] = field(default_factory=dict)
    time: dt.datetime = field(default_factory=utcnow)


@dataclass(frozen=True, slots=True)
class MetricsLogged:
    run_id: str
    timestep: int
    values: dict[str, float]
    episodes: int | None = None
    time: dt.datetime = field(default_factory=utcnow)


@dataclass(frozen=True, slots=True)
class CheckpointSaved:
    run_id: str
    path: str
    timestep: int
    episode_index: int | None
    sha256: str
    size: int
    kind: CheckpointKind
    metrics: dict[str, float] = field(default_factory=dict)
    time: dt.datetime = field(default_factory=utcnow)


@dataclass(frozen=True, slots=True)
class CheckpointRemoved:
    """A periodic checkpoint rotated out by the keep-last-N policy."""

    run_id: str
    path: str


@dataclass(frozen=True, slots=True)
class ArtifactSaved:
    """A file of the run worth keeping beside it: a progress video, a report, an export.
    ``path`` is absolute or relative to RLTRACK_HOME; keyed by ``(run_id, path)``."""

    run_id: str
    kind: str  # "video", "report", "export", ...
    path: str
    size: int
    sha256: str | None = None
    media_type: str | None = None
    created_at: dt.datetime = field(default_factory=utcnow)
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RunEnded:
    """``records_lost``: records of the run the store refused and nothing could keep (a run
    with any is not a plain success); ``metadata["records_lost_cause"]`` says why."""

    run_id: str
    status: RunStatus
    timesteps: int
    episodes: int
    error: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    time: dt.datetime = field(default_factory=utcnow)
    records_lost: int = 0


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """The run is alive; its progress counters so far. Beaten by the RunLogger."""

    run_id: str
    timesteps: int
    episodes: int
    time: dt.datetime = field(default_factory=utcnow)


Event: TypeAlias = (
    RunStarted
    | EpisodeStarted
    | EpisodeEnded
    | MetricsLogged
    | CheckpointSaved
    | CheckpointRemoved
    | RunEnded
    | Heartbeat
    | EvaluationRecorded
    | ArtifactSaved
)


class EventSink(Protocol):
    """Where backends send events. ``emit`` must be cheap: it is called on the training path."""

    def emit(self, event: Event) -> None: ...


class FanOut:
    """Sends every event to several sinks (the RunLogger, the console progress, ...)."""

    def __init__(self, *sinks: EventSink) -> None:
        self.sinks = sinks

    def emit(self, event: Event) -> None:
        for sink in self.sinks:
            sink.emit(event)


class RecordRefused(RuntimeError):
    """The store refused a run's own record (RunStarted) for a reason other than an outage:
    nothing of the run could be kept, so it must not train."""


@dataclass(frozen=True, slots=True)
class RecordLoss:
    """Records of one run that were refused and dropped, and the first refusal's cause."""

    count: int = 0
    cause: str | None = None


@runtime_checkable
class RecordKeeper(Protocol):
    """A sink that keeps records and can say which it could not keep (the RunLogger). The
    runner asks it before training whether the run's record was kept, and at the end how
    many records were lost."""

    def emit(self, event: Event) -> None: ...

    def confirm_run(self, run_id: str) -> None:
        """Wait until the run's RunStarted is written (or spooled through an outage); raise
        :class:`RecordRefused`, naming the cause, when the store refused it."""
        ...

    def records_lost(self, run_id: str) -> RecordLoss:
        """Wait until everything emitted so far is written or spooled; the run's losses."""
        ...
