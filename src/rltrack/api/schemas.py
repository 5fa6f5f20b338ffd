"""Response models of the API. Times are ISO 8601 (UTC)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from pydantic import BaseModel, Field

from rltrack.tracking.entities import Checkpoint, Episode, Run
from rltrack.tracking.store import EpisodePoint, WinRatePoint


def finite(value: float | None) -> float | None:
    """NaN and infinities are not JSON: a diverged reward is shown as unknown (null)."""
    return value if value is None or math.isfinite(value) else None


class HealthPublic(BaseModel):
    status: str
    database: str


class EpisodePointPublic(BaseModel):
    episode: int
    total_reward: float | None
    steps: int | None
    win: float | None
    epsilon: float | None

    @classmethod
    def of(cls, p: EpisodePoint) -> EpisodePointPublic:
        return cls(
            episode=p.episode, total_reward=finite(p.total_reward), steps=p.steps,
            win=finite(p.win), epsilon=finite(p.epsilon),
        )  # fmt: skip


class WinRatePointPublic(BaseModel):
    episode: int
    win_rate: float | None

    @classmethod
    def of(cls, p: WinRatePoint) -> WinRatePointPublic:
        return cls(episode=p.episode, win_rate=finite(p.win_rate))


class RunMetricsPublic(BaseModel):
    episodes: list[EpisodePointPublic]
    rolling_win_rate: list[WinRatePointPublic] = Field(
        description="Mean win over the last 100 episodes that have a win value; empty when "
        "the environment reports no wins."
    )
    sampled: bool = Field(description="True when `episodes` is a downsample of the run.")
    total: int = Field(description="Finished episodes of the run, before downsampling.")


class RunSummaryPublic(BaseModel):
    id: str
    run_id: str = Field(description="Same as `id`.")
    name: str
    agent_id: str | None
    algorithm: str
    env_id: str
    status: str
    start_time: dt.datetime
    end_time: dt.datetime | None
    config: dict[str, Any]
    episodes: int = Field(description="Episodes recorded in the database.")
    metrics: RunMetricsPublic


class CheckpointPathPublic(BaseModel):
    episode: int | None
    path: str


class RunPublic(RunSummaryPublic):
    backend: str
    metadata: dict[str, Any]
    error: str | None
    tags: list[str]
    seed: int | None
    parent_run_id: str | None
    timesteps: int
    total_timesteps: int | None
    heartbeat_at: dt.datetime | None
    checkpoint_paths: list[CheckpointPathPublic]


class AgentIdsPublic(BaseModel):
    agent_ids: list[str]


class EpisodePublic(BaseModel):
    id: int = Field(description="The episode's database id (for /api/v1/episodes/{id}/...).")
    index: int = Field(description="The episode's index within its run.")
    run_id: str
    env_slot: int
    agent_id: str | None
    status: str
    start_time: dt.datetime
    end_time: dt.datetime | None
    start_timestep: int
    end_timestep: int | None
    steps: int | None
    total_reward: float | None
    win: float | None
    epsilon: float | None
    drain_steps: int
    metrics: dict[str, Any]

    @classmethod
    def of(cls, e: Episode) -> EpisodePublic:
        return cls(
            id=e.id, index=e.index, run_id=e.run_id, env_slot=e.env_slot, agent_id=e.agent_id,
            status=e.status, start_time=e.start_time, end_time=e.end_time,
            start_timestep=e.start_timestep, end_timestep=e.end_timestep, steps=e.steps,
            total_reward=finite(e.total_reward), win=finite(e.win), epsilon=finite(e.epsilon),
            drain_steps=e.drain_steps, metrics=e.metrics,
        )  # fmt: skip


class EpisodesPagePublic(BaseModel):
    items: list[EpisodePublic]
    total: int = Field(description="Episodes matching the filters, over all pages.")
    next_cursor: int | None = Field(
        description="Pass as `after` for the next page; null on the last page."
    )


class CheckpointPublic(BaseModel):
    id: int
    path: str
    episode_index: int | None
    timestep: int
    kind: str
    sha256: str
    size: int
    created_at: dt.datetime
    metrics: dict[str, Any]

    @classmethod
    def of(cls, c: Checkpoint) -> CheckpointPublic:
        return cls(
            id=c.id, path=c.path, episode_index=c.episode_index, timestep=c.timestep,
            kind=c.kind, sha256=c.sha256, size=c.size, created_at=c.created_at,
            metrics=c.metrics,
        )  # fmt: skip


class EpisodeModelPublic(BaseModel):
    parameters: dict[str, Any] = Field(
        description="The run's hyperparameters (its config): the same for every episode of the run."
    )
    checkpoint: CheckpointPublic | None = Field(
        description="The newest checkpoint saved at or before the episode: the weights the "
        "agent had then. Null when none was saved yet."
    )


def run_summary(run: Run, episodes: int, metrics: RunMetricsPublic) -> dict[str, Any]:
    return {
        "id": run.id, "run_id": run.id, "name": run.name, "agent_id": run.agent_id,
        "algorithm": run.algorithm, "env_id": run.env_id, "status": run.status,
        "start_time": run.start_time, "end_time": run.end_time, "config": run.config,
        "episodes": episodes, "metrics": metrics,
    }  # fmt: skip
