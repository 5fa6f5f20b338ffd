"""The store interface: every read and write of the training history goes through it.

One implementation (``rltrack.tracking.sql.SqlStore``) serves SQLite and PostgreSQL, chosen
by URL; :func:`open_store` imports it lazily so that importing this module stays cheap.
"""

from __future__ import annotations

import abc
import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rltrack.tracking.entities import (
    Artifact,
    Checkpoint,
    Episode,
    EpisodeHealth,
    Evaluation,
    Group,
    Metric,
    Run,
    RunTrade,
    Step,
    Trade,
)
from rltrack.training.events import Event


class StoreError(Exception):
    """Base class of the store's errors."""


class NotFoundError(StoreError):
    pass


class AlreadyExistsError(StoreError):
    pass


class UnavailableError(StoreError):
    """The database cannot be reached (down, unwritable, locked for too long)."""


class DatabaseURLError(UnavailableError):
    """The database URL itself is wrong (malformed, an unsupported database, a driver that is
    not installed): no server will ever answer at it, so waiting or retrying cannot help."""


class SchemaError(StoreError):
    """The database schema is missing or older than this version of rltrack."""


class ConflictError(StoreError):
    """The change contradicts the record's state (deleting a run that is still running)."""


RUN_STATUSES = ("running", "completed", "stopped", "failed")
# One element of a hyperparameter name in RunFilter.params (names are these, joined by dots).
PARAM_PART = re.compile(r"[A-Za-z0-9_\-]+")
RUN_SORTS = ("start_time", "name", "duration", "episodes", "mean_reward")


@dataclass(frozen=True, slots=True)
class RunFilter:
    """Which runs :meth:`Store.list_runs` returns, in which order. ``status`` is one status or
    several; a running run whose heartbeat is stale counts as failed. ``params`` are
    ``(name, value)`` pairs matched against ``config["hyperparams"][name]`` or
    ``config[name]`` (a dotted name is a nested path), numerically when ``value`` is a
    number. ``sort`` is one of :data:`RUN_SORTS`, ``-`` first for descending."""

    status: str | tuple[str, ...] | None = None
    agent_id: str | None = None
    algorithm: str | None = None
    env_id: str | None = None
    limit: int | None = None
    offset: int = 0
    tag: str | None = None
    q: str | None = None
    started_after: dt.datetime | None = None
    started_before: dt.datetime | None = None
    params: tuple[tuple[str, str], ...] = ()
    sort: str = "-start_time"
    group_id: str | None = None  # runs of this group only

    @property
    def statuses(self) -> tuple[str, ...]:
        if self.status is None:
            return ()
        return (self.status,) if isinstance(self.status, str) else self.status


@dataclass(frozen=True, slots=True)
class RunStats:
    """Statistics of a run's episodes: ``finished`` counts those that ended; rewards and
    steps are over the finished ones that have them; ``last_win_rate`` is the mean win of the
    last 100 episodes that report one (None when none does)."""

    finished: int = 0
    mean_reward: float | None = None
    max_reward: float | None = None
    min_reward: float | None = None
    mean_steps: float | None = None
    last_win_rate: float | None = None


@dataclass(frozen=True, slots=True)
class RunProgress:
    """What the live-update stream watches: a run's status and progress counters."""

    run_id: str
    status: str
    episodes: int
    timesteps: int


EPISODE_SORTS = ("index", "total_reward", "steps")


@dataclass(frozen=True, slots=True)
class EpisodeFilter:
    """Bounds (inclusive) on a run's episodes; ``pnl`` and ``sharpe`` are the ``pnl`` and
    ``sharpe_ratio`` keys of the episode metrics (episodes without them do not match)."""

    status: str | None = None
    min_reward: float | None = None
    max_reward: float | None = None
    min_pnl: float | None = None
    max_pnl: float | None = None
    min_sharpe: float | None = None
    max_sharpe: float | None = None


@dataclass(frozen=True, slots=True)
class EpisodeKey:
    """Where a keyset page of episodes stops: the sort value and index of its last episode."""

    sort: str
    value: float | None
    index: int


@dataclass(frozen=True, slots=True)
class StatSummary:
    count: int
    mean: float | None
    median: float | None
    min: float | None
    max: float | None


@dataclass(frozen=True, slots=True)
class EpisodeSummary:
    """``count`` episodes match; ``metrics`` summarizes each numeric column and metric key."""

    count: int
    metrics: dict[str, StatSummary] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MetricPoint:
    timestep: int
    value: float
    episodes: int | None


@dataclass(frozen=True, slots=True)
class MetricSeries:
    """A training metric by timestep, at most ``max_points`` values; when sampled, each
    bucket of consecutive timesteps keeps its lowest and highest value."""

    points: list[MetricPoint]
    total: int
    sampled: bool


@dataclass(frozen=True, slots=True)
class EpisodePoint:
    """One episode of a chart series."""

    episode: int
    total_reward: float | None
    steps: int | None
    win: float | None
    epsilon: float | None


@dataclass(frozen=True, slots=True)
class EpisodeSeries:
    """A run's finished episodes for a chart, at most ``max_points`` of them. When sampled,
    each bucket of consecutive indices keeps its lowest- and highest-reward episodes."""

    points: list[EpisodePoint]
    total: int
    sampled: bool


@dataclass(frozen=True, slots=True)
class WinRatePoint:
    episode: int
    win_rate: float


@dataclass(frozen=True, slots=True)
class EpisodePage:
    """A keyset page of episodes: ``next_cursor`` is the ``after`` of the next page."""

    items: list[Episode]
    total: int
    next_cursor: EpisodeKey | None


class Store(abc.ABC):
    url: str

    # -- writes -------------------------------------------------------------------------
    @abc.abstractmethod
    def write(self, events: Sequence[Event]) -> None:
        """Apply events in order, in one transaction. Idempotent: writing the same events again
        changes nothing. Raises :class:`UnavailableError` when the database cannot be reached."""

    @abc.abstractmethod
    def heartbeat(self, run_id: str, at: dt.datetime) -> None: ...

    # -- reads --------------------------------------------------------------------------
    @abc.abstractmethod
    def get_run(self, run_ref: str) -> Run:
        """A run by id, unique id prefix or unique name. Raises :class:`NotFoundError`."""

    @abc.abstractmethod
    def list_runs(self, flt: RunFilter | None = None) -> list[Run]: ...

    @abc.abstractmethod
    def list_episodes(
        self, run_id: str, *, status: str | None = None, limit: int | None = None
    ) -> list[Episode]: ...

    @abc.abstractmethod
    def list_metrics(self, run_id: str, *, key: str | None = None) -> list[Metric]: ...

    @abc.abstractmethod
    def list_checkpoints(self, run_id: str) -> list[Checkpoint]: ...

    @abc.abstractmethod
    def count_episodes(self, run_id: str) -> dict[str, int]: ...

    @abc.abstractmethod
    def list_evaluations(self, run_id: str) -> list[Evaluation]: ...

    @abc.abstractmethod
    def episode_health(self, run_id: str) -> EpisodeHealth:
        """Episodes left started or without metrics, missing trades, gaps in the indices."""

    @abc.abstractmethod
    def repair_run(self, run_id: str, reason: str) -> int:
        """Mark a run that is no longer alive as failed with ``reason`` (when it still says
        running) and close its episodes left started as ``error``. Returns episodes closed."""

    @abc.abstractmethod
    def close(self) -> None: ...

    # -- reads for the API --------------------------------------------------------------
    @abc.abstractmethod
    def ping(self) -> None:
        """Returns when the database answers; raises :class:`UnavailableError` otherwise."""

    @abc.abstractmethod
    def list_agent_ids(self) -> list[str]:
        """The distinct agent ids of all runs, sorted."""

    @abc.abstractmethod
    def count_episodes_by_run(self, run_ids: Sequence[str]) -> dict[str, int]:
        """Episodes in the database per run (runs without episodes are left out)."""

    @abc.abstractmethod
    def get_episode(self, episode_id: int) -> Episode:
        """An episode by its database id. Raises :class:`NotFoundError`."""

    @abc.abstractmethod
    def episode_page(
        self,
        run_id: str,
        *,
        flt: EpisodeFilter | None = None,
        sort: str = "index",
        after: EpisodeKey | None = None,
        limit: int = 100,
    ) -> EpisodePage:
        """Episodes of a run that match ``flt``, ordered by ``sort`` (one of
        :data:`EPISODE_SORTS`, ``-`` first for descending; ties and missing values by index,
        missing values last), those after ``after`` (keyset pagination); ``total`` counts every
        episode that matches the filters. Raises ``ValueError`` for a key of another sort."""

    @abc.abstractmethod
    def episode_series(self, run_id: str, *, max_points: int) -> EpisodeSeries: ...

    @abc.abstractmethod
    def rolling_win_rate(
        self, run_id: str, *, max_points: int, window: int = 100
    ) -> list[WinRatePoint]:
        """Mean win over the last ``window`` episodes that have a win value, at most
        ``max_points`` of them (the last always included); empty when no episode has one."""

    def run_charts(
        self, run_ids: Sequence[str], *, max_points: int, window: int = 100
    ) -> dict[str, tuple[EpisodeSeries, list[WinRatePoint]]]:
        """:meth:`episode_series` and :meth:`rolling_win_rate` of several runs (the runs
        list's sparklines); a store may read them together."""
        return {
            r: (
                self.episode_series(r, max_points=max_points),
                self.rolling_win_rate(r, max_points=max_points, window=window),
            )
            for r in run_ids
        }

    @abc.abstractmethod
    def checkpoint_at(self, run_id: str, episode_index: int) -> Checkpoint | None:
        """The newest checkpoint saved at or before ``episode_index``, or None."""

    # -- more reads for the API -----------------------------------------------------------
    @abc.abstractmethod
    def count_runs(self, flt: RunFilter | None = None) -> int:
        """How many runs match ``flt``, ignoring its ``offset`` and ``limit``."""

    @abc.abstractmethod
    def run_stats(
        self, run_ids: Sequence[str], *, last_win_rate: bool = True
    ) -> dict[str, RunStats]:
        """Episode statistics per run (runs without episodes get empty statistics). With
        ``last_win_rate=False`` that field is left None, for callers that already have it
        (the last point of :meth:`run_charts`' rolling win rate)."""

    @abc.abstractmethod
    def run_progress(self, run_id: str | None = None) -> list[RunProgress]:
        """Status and progress counters of every run (or of one run, when it exists)."""

    @abc.abstractmethod
    def episode_summary(self, run_id: str, flt: EpisodeFilter | None = None) -> EpisodeSummary:
        """Count, mean, median, min and max of ``total_reward``, ``steps``, ``win``,
        ``epsilon`` and every numeric key of the episode metrics, over matching episodes."""

    @abc.abstractmethod
    def episodes_after(self, run_id: str, after: int | None, limit: int) -> list[Episode]:
        """Up to ``limit`` episodes of a run with an index above ``after``, by index."""

    @abc.abstractmethod
    def episode_metric_types(self, run_id: str) -> dict[str, set[str]]:
        """Every key of the run's episode metrics and the JSON types of its values
        (``number``, ``boolean``, ``string``, ``null``, ``object``, ``array``), by key."""

    @abc.abstractmethod
    def episode_trades(self, episode_id: int) -> list[Trade]:
        """The episode's trades in the order they were made."""

    @abc.abstractmethod
    def trades_after(
        self, run_id: str, after: tuple[int, int] | None, limit: int
    ) -> list[RunTrade]:
        """Up to ``limit`` trades of a run after ``after`` = (episode index, seq), ordered by
        episode index and then by the order they were made (keyset paging)."""

    @abc.abstractmethod
    def episode_steps(self, episode_id: int) -> list[Step]:
        """The episode's recorded steps (a sampled trace), by step."""

    @abc.abstractmethod
    def metric_keys(self, run_id: str) -> list[str]:
        """Every training metric key the run logged, sorted."""

    @abc.abstractmethod
    def metric_series(self, run_id: str, key: str, *, max_points: int) -> MetricSeries: ...

    @abc.abstractmethod
    def get_checkpoint(self, checkpoint_id: int) -> Checkpoint:
        """A checkpoint by its database id. Raises :class:`NotFoundError`."""

    @abc.abstractmethod
    def list_artifacts(self, run_id: str) -> list[Artifact]: ...

    @abc.abstractmethod
    def get_artifact(self, artifact_id: int) -> Artifact:
        """An artifact by its database id. Raises :class:`NotFoundError`."""

    # -- edits ----------------------------------------------------------------------------
    @abc.abstractmethod
    def update_run(
        self, run_id: str, *, tags: Sequence[str] | None = None, notes: str | None = None
    ) -> Run:
        """Replace the run's tags and/or notes (None leaves them as they are)."""

    # -- groups: runs that form one experiment ---------------------------------------------
    @abc.abstractmethod
    def create_group(
        self, name: str, *, kind: str = "manual", description: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Group:  # fmt: skip
        """The group called ``name``, made if there is none (an existing one is returned as
        it is, whatever ``kind``). ``ValueError`` for an unknown kind or an unusable name."""

    @abc.abstractmethod
    def get_group(self, ref: str) -> Group:
        """A group by id, unique id prefix or name; :class:`NotFoundError` naming the ref."""

    @abc.abstractmethod
    def list_groups(self) -> list[Group]:
        """Every group, newest first, with its count of runs."""

    @abc.abstractmethod
    def block_points(self, run_ids: Sequence[str]) -> dict[str, list[BlockPoint]]:
        """Each run's rollup blocks in order (runs without an ended episode get none): what
        a group's curves are computed from, O(episodes / 100) rows."""

    @abc.abstractmethod
    def last_rewards(self, run_ids: Sequence[str], n: int = 100) -> dict[str, list[float]]:
        """The finite rewards of each run's last ``n`` ended episodes, in index order."""

    @abc.abstractmethod
    def delete_run(self, run_id: str) -> None:
        """Delete the run and everything recorded for it. Raises :class:`ConflictError`
        while it is running and :class:`NotFoundError` when there is no such run."""


@dataclass(frozen=True, slots=True)
class BlockPoint:
    """One rollup block of a run (episodes ``block * 100`` .. ``block * 100 + 99`` that have
    ended): the mean of their finite rewards, and where the block ends on each x-axis."""

    block: int
    last_index: int  # the block's last ended episode index (its first ``ended``, in order)
    mean_reward: float
    rewarded: int  # episodes with a finite reward
    timestep_max: int | None  # the latest end timestep of its episodes
    end_unix_max: float | None  # the latest end of its episodes, seconds since the epoch


def open_store(url: str, *, create: bool = True) -> Store:
    """Open the store at ``url``. With ``create`` a new database is created at the current
    schema; an existing one at an older schema raises :class:`SchemaError` naming
    ``rltrack db upgrade``."""
    from rltrack.tracking.sql.store import SqlStore

    return SqlStore(url, create=create)
