"""Plain records that leave the store. ORM rows never do; these are what callers see."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass, field
from typing import Any


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def finite_json(value: Any) -> Any:
    """``value`` with every non-finite float inside it (NaN, ±inf: not JSON) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_json(v) for v in value]
    return value


def to_jsonable(obj: Any) -> Any:
    """Dataclass → JSON-ready dict with ISO 8601 times."""
    if isinstance(obj, dt.datetime):
        return obj.isoformat()
    if isinstance(obj, dict):
        return {k: to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if hasattr(obj, "__dataclass_fields__"):
        return to_jsonable(asdict(obj))
    return obj


@dataclass(frozen=True, slots=True)
class Run:
    id: str
    name: str
    algorithm: str
    env_id: str
    backend: str
    status: str
    config: dict[str, Any]
    start_time: dt.datetime
    end_time: dt.datetime | None
    heartbeat_at: dt.datetime | None
    agent_id: str | None = None
    host: str | None = None
    pid: int | None = None
    git_commit: str | None = None
    seed: int | None = None
    tags: list[str] = field(default_factory=list)
    parent_run_id: str | None = None
    error: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    total_timesteps: int | None = None
    timesteps: int = 0
    episodes: int = 0
    notes: str | None = None
    # Records the store refused and dropped; the cause is metadata["records_lost_cause"].
    records_lost: int = 0
    group_id: str | None = None


GROUP_KINDS = ("seeds", "sweep", "manual")


@dataclass
class Group:
    """Runs that form one experiment: the seeds of one setting (``rltrack train --seeds``), the
    trials of a sweep, or runs joined with ``--group NAME`` (manual)."""

    id: str
    name: str
    kind: str
    created_at: dt.datetime
    description: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    runs: int = 0  # how many runs it holds


def pick_agent(run: Run, agent: str | None) -> str | None:
    """The agent of ``run`` whose records are read: ``None`` for a run of one agent; ``agent``
    (default: the first) for an actor-learner run of several, named ``<agent_id>-<k>``.
    ``ValueError`` (naming the agents there are) for an agent the run does not have."""
    n = int(run.config.get("agents", 1) or 1)
    label = f"run {run.name} ({run.id[:8]})"
    if n <= 1:
        if agent is not None and agent != run.agent_id:
            raise ValueError(
                f"--agent {agent!r}: {label} trains one agent ({run.agent_id or 'unnamed'}); "
                "drop --agent"
            )
        return None
    base = run.config.get("agent_id") or "agent"
    ids = [f"{base}-{k}" for k in range(n)]
    if agent is None:
        return ids[0]
    if agent not in ids:
        raise ValueError(f"--agent {agent!r}: {label} has agents {', '.join(ids)}")
    return agent


@dataclass(frozen=True, slots=True)
class Episode:
    id: int
    run_id: str
    index: int
    env_slot: int
    status: str
    start_timestep: int
    start_time: dt.datetime
    agent_id: str | None = None
    end_timestep: int | None = None
    end_time: dt.datetime | None = None
    steps: int | None = None
    total_reward: float | None = None
    win: float | None = None
    epsilon: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    drain_steps: int = 0


@dataclass(frozen=True, slots=True)
class Trade:
    id: int
    episode_id: int
    direction: str
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
class RunTrade:
    """A trade with its place in the run: the episode's index and its order in the episode."""

    episode_index: int
    seq: int
    trade: Trade


@dataclass(frozen=True, slots=True)
class Step:
    episode_id: int
    step: int
    action: float | None
    reward: float
    price: float | None
    position: float | None
    portfolio_value: float | None


@dataclass(frozen=True, slots=True)
class Metric:
    key: str
    timestep: int
    value: float
    wall_time: dt.datetime
    episodes: int | None = None


@dataclass(frozen=True, slots=True)
class Checkpoint:
    id: int
    run_id: str
    path: str
    timestep: int
    episode_index: int | None
    sha256: str
    size: int
    kind: str
    created_at: dt.datetime
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Artifact:
    id: int
    run_id: str
    kind: str
    path: str
    size: int
    created_at: dt.datetime
    sha256: str | None = None
    media_type: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Evaluation:
    id: int
    run_id: str
    checkpoint_id: int | None
    episodes: int
    mean_reward: float
    std_reward: float
    created_at: dt.datetime
    win_rate: float | None = None
    mean_length: float | None = None
    opponent: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    checkpoint_path: str | None = None


@dataclass(frozen=True, slots=True)
class EpisodeHealth:
    """What `rltrack check` reports: a run is complete when every episode is final."""

    counts: dict[str, int]
    started: list[int]
    missing_metrics: list[int]
    missing_trades: list[int]
    gaps: list[tuple[int, int]]

    @property
    def ok(self) -> bool:
        return not (self.started or self.missing_metrics or self.missing_trades or self.gaps)
