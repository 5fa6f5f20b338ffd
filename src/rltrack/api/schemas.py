"""Response models of the API. Times are ISO 8601 (UTC)."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import PurePath
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic.json_schema import SkipJsonSchema

from rltrack.tracking.entities import (
    Artifact,
    Checkpoint,
    Episode,
    Evaluation,
    Step,
    Trade,
    finite_json,
)
from rltrack.tracking.store import (
    EpisodePoint,
    MetricPoint,
    RunStats,
    StatSummary,
    WinRatePoint,
)


def finite(value: float | None) -> float | None:
    """NaN and infinities are not JSON: a diverged reward is shown as unknown (null)."""
    return value if value is None or math.isfinite(value) else None


class ErrorPublic(BaseModel):
    """Every error the API answers (4xx, 503): one sentence that says what is wrong."""

    detail: str


class HealthPublic(BaseModel):
    status: str
    database: str


class HealthErrorPublic(ErrorPublic):
    status: str = Field(description="`error`.")
    database: str = Field(description="`unavailable`.")


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


class RunStatsPublic(BaseModel):
    finished: int = Field(description="Episodes that ended (completed, truncated or error).")
    mean_reward: float | None
    max_reward: float | None
    min_reward: float | None
    mean_steps: float | None
    last_win_rate: float | None = Field(
        description="Mean win over the last 100 episodes that report one; null when none does."
    )

    @classmethod
    def of(cls, s: RunStats) -> RunStatsPublic:
        return cls(
            finished=s.finished, mean_reward=finite(s.mean_reward),
            max_reward=finite(s.max_reward), min_reward=finite(s.min_reward),
            mean_steps=finite(s.mean_steps), last_win_rate=finite(s.last_win_rate),
        )  # fmt: skip


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
    duration_s: float | None = Field(
        description="End minus start; up to now while the run is running, up to its last "
        "heartbeat when it was reported failed for a stale heartbeat."
    )
    timesteps: int
    tags: list[str]
    config: dict[str, Any]
    episodes: int = Field(description="Episodes recorded in the database.")
    records_lost: int = Field(
        description="Records of the run the database refused and dropped while it trained "
        "(0: the record is complete); the run's metadata.records_lost_cause says why."
    )
    group_id: str | None = Field(
        description="The group (one experiment: seeds, a sweep) the run belongs to, if any; "
        "/api/groups/{group_id} has its statistics."
    )
    metrics: RunMetricsPublic
    stats: RunStatsPublic


class CheckpointPathPublic(BaseModel):
    episode: int | None
    path: str


class RunPublic(RunSummaryPublic):
    backend: str
    metadata: dict[str, Any]
    error: str | None
    notes: str | None
    seed: int | None
    parent_run_id: str | None
    total_timesteps: int | None
    heartbeat_at: dt.datetime | None
    checkpoint_paths: list[CheckpointPathPublic]


class AgentIdsPublic(BaseModel):
    agent_ids: list[str]


class _EpisodeFields(BaseModel):
    """What the episode pages and the episode detail both show."""

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
    total_reward: float | None
    win: float | None
    epsilon: float | None
    drain_steps: int
    metrics: dict[str, Any]


class EpisodePublic(_EpisodeFields):
    steps: int | None

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
    next_cursor: str | None = Field(
        description="Pass as `cursor` (with the same sort) for the next page; null on the last "
        "page. Opaque."
    )


class TradePublic(BaseModel):
    seq: int = Field(description="The trade's position in the episode, from 0.")
    direction: str
    entry_step: int
    exit_step: int
    entry_time: dt.datetime | None
    exit_time: dt.datetime | None
    entry_price: float | None
    exit_price: float | None
    quantity: float | None
    pnl: float | None
    costs: float | None

    @classmethod
    def of(cls, seq: int, t: Trade) -> TradePublic:
        return cls(
            seq=seq, direction=t.direction, entry_step=t.entry_step, exit_step=t.exit_step,
            entry_time=t.entry_time, exit_time=t.exit_time,
            entry_price=finite(t.entry_price), exit_price=finite(t.exit_price),
            quantity=finite(t.quantity), pnl=finite(t.pnl), costs=finite(t.costs),
        )  # fmt: skip


class ExportTradePublic(TradePublic):
    """A trade in the JSON export of a run's trades."""

    episode_index: int
    episode_id: int


class StepPublic(BaseModel):
    step: int
    action: float | None
    reward: float | None
    price: float | None
    position: float | None
    portfolio_value: float | None

    @classmethod
    def of(cls, s: Step) -> StepPublic:
        return cls(
            step=s.step, action=finite(s.action), reward=finite(s.reward),
            price=finite(s.price), position=finite(s.position),
            portfolio_value=finite(s.portfolio_value),
        )  # fmt: skip


class EpisodeDetailPublic(_EpisodeFields):
    """An episode as in the pages, except that ``steps`` is its recorded step trace and the
    number of steps it took is ``step_count``."""

    step_count: int | None = Field(description="Steps the episode took (`steps` in pages).")
    trades: list[TradePublic] = Field(description="In the order they were made.")
    steps: list[StepPublic] = Field(
        description="The recorded step trace (often sampled, possibly empty), by step."
    )

    @classmethod
    def of(cls, e: Episode, trades: list[Trade], steps: list[Step]) -> EpisodeDetailPublic:
        fields = EpisodePublic.of(e).model_dump()
        fields["step_count"] = fields.pop("steps")
        return cls(
            **fields,
            # Trades are written numbered 0, 1, ... in the order they were made.
            trades=[TradePublic.of(seq, t) for seq, t in enumerate(trades)],
            steps=[StepPublic.of(s) for s in steps],
        )


class StatSummaryPublic(BaseModel):
    count: int
    mean: float | None
    median: float | None
    min: float | None
    max: float | None

    @classmethod
    def of(cls, s: StatSummary) -> StatSummaryPublic:
        return cls(
            count=s.count, mean=finite(s.mean), median=finite(s.median), min=finite(s.min),
            max=finite(s.max),
        )  # fmt: skip


class EpisodeSummaryPublic(BaseModel):
    count: int = Field(description="Episodes matching the filters.")
    metrics: dict[str, StatSummaryPublic] = Field(
        description="`total_reward`, `steps`, `win`, `epsilon` and every numeric key of the "
        "episode metrics, over the matching episodes that have a value."
    )


class MetricPointPublic(BaseModel):
    timestep: int
    value: float | None
    episodes: int | None

    @classmethod
    def of(cls, p: MetricPoint) -> MetricPointPublic:
        return cls(timestep=p.timestep, value=finite(p.value), episodes=p.episodes)


class MetricSeriesPublic(BaseModel):
    points: list[MetricPointPublic]
    total: int = Field(description="Values of the key, before downsampling.")
    sampled: bool


class RunTrainingMetricsPublic(BaseModel):
    keys: list[str] = Field(description="Every training metric key of the run.")
    series: dict[str, MetricSeriesPublic]


class EvaluationPublic(BaseModel):
    id: int
    checkpoint_id: int | None
    checkpoint_path: str | None
    episodes: int
    mean_reward: float | None
    std_reward: float | None
    win_rate: float | None
    mean_length: float | None
    opponent: str | None
    metrics: dict[str, Any]
    created_at: dt.datetime

    @classmethod
    def of(cls, e: Evaluation) -> EvaluationPublic:
        return cls(
            id=e.id, checkpoint_id=e.checkpoint_id, checkpoint_path=e.checkpoint_path,
            episodes=e.episodes, mean_reward=finite(e.mean_reward),
            std_reward=finite(e.std_reward), win_rate=finite(e.win_rate),
            mean_length=finite(e.mean_length), opponent=e.opponent,
            metrics=finite_json(e.metrics), created_at=e.created_at,
        )  # fmt: skip


class ArtifactPublic(BaseModel):
    id: int
    kind: str
    name: str = Field(description="The file's name.")
    size: int
    media_type: str | None
    created_at: dt.datetime
    metadata: dict[str, Any]
    url: str = Field(description="Downloads the file (HTTP Range supported).")

    @classmethod
    def of(cls, a: Artifact) -> ArtifactPublic:
        return cls(
            id=a.id, kind=a.kind, name=PurePath(a.path).name, size=a.size,
            media_type=a.media_type, created_at=a.created_at, metadata=finite_json(a.metadata),
            url=f"/api/artifacts/{a.id}/download",
        )  # fmt: skip


class RunEventPublic(BaseModel):
    """The data of an `event: run` of the live updates (/api/events)."""

    run_id: str
    status: str
    episodes: int = Field(description="The run's progress counter of episodes.")
    timesteps: int


class ParamDiffPublic(BaseModel):
    key: str = Field(description="A dotted path into the runs' config.")
    values: dict[str, Any] = Field(description="The value per run id (null where missing).")


class ComparePublic(BaseModel):
    runs: list[RunPublic]
    differing_params: list[ParamDiffPublic]


# Text the database can store: no NUL (PostgreSQL refuses it in text). A tag also has a
# character other than ASCII white space (which is stripped from its ends).
NO_NUL = r"^[^\x00]*$"
TAG_PATTERN = r"^[^\x00]*[^\x00\t\n\v\f\r ][^\x00]*$"
TAG_SPACE = "\t\n\v\f\r "
Tag = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=TAG_PATTERN)]


class RunUpdate(BaseModel):
    """A change to a run: the fields given replace the run's; at least one is needed (null is
    not a value: leave a field out to keep it)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "minProperties": 1,
            "examples": [{"tags": ["baseline", "gpu"], "notes": "The best of the lr sweep."}],
        },
    )

    tags: Annotated[list[Tag], Field(max_length=100)] | SkipJsonSchema[None] = Field(
        default=None,
        description="The run's new tags (replacing the old), each stripped of the ASCII white "
        "space at its ends.",
    )
    notes: (
        Annotated[str, StringConstraints(max_length=100_000, pattern=NO_NUL)] | SkipJsonSchema[None]
    ) = None

    @model_validator(mode="before")
    @classmethod
    def _given(cls, data: Any) -> Any:
        if isinstance(data, dict):
            if not data:
                raise ValueError("give `tags`, `notes` or both")
            for key, value in data.items():
                if value is None:
                    raise ValueError(f"{key}: null is not a value (leave it out to keep it)")
        return data

    @model_validator(mode="after")
    def _unicode(self) -> RunUpdate:
        for text in [*(self.tags or ()), self.notes or ""]:
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate, which JSON can escape
                raise ValueError("tags and notes must be valid Unicode text") from None
        return self

    def clean_tags(self) -> list[str] | None:
        return None if self.tags is None else [t.strip(TAG_SPACE) for t in self.tags]


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
