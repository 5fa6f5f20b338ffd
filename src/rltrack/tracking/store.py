"""The store interface: every read and write of the training history goes through it.

One implementation (``rltrack.tracking.sql.SqlStore``) serves SQLite and PostgreSQL, chosen
by URL; :func:`open_store` imports it lazily so that importing this module stays cheap.
"""

from __future__ import annotations

import abc
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from rltrack.tracking.entities import (
    Checkpoint,
    Episode,
    EpisodeHealth,
    Evaluation,
    Metric,
    Run,
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


class SchemaError(StoreError):
    """The database schema is missing or older than this version of rltrack."""


@dataclass(frozen=True, slots=True)
class RunFilter:
    status: str | None = None
    agent_id: str | None = None
    algorithm: str | None = None
    env_id: str | None = None
    limit: int | None = None
    offset: int = 0


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
    next_cursor: int | None


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
        status: str | None = None,
        after: int | None = None,
        limit: int = 100,
        min_reward: float | None = None,
        max_reward: float | None = None,
    ) -> EpisodePage:
        """Episodes of a run with an index above ``after``, by index (keyset pagination);
        ``total`` counts every episode that matches the filters."""

    @abc.abstractmethod
    def episode_series(self, run_id: str, *, max_points: int) -> EpisodeSeries: ...

    @abc.abstractmethod
    def rolling_win_rate(
        self, run_id: str, *, max_points: int, window: int = 100
    ) -> list[WinRatePoint]:
        """Mean win over the last ``window`` episodes that have a win value, at most
        ``max_points`` of them (the last always included); empty when no episode has one."""

    @abc.abstractmethod
    def checkpoint_at(self, run_id: str, episode_index: int) -> Checkpoint | None:
        """The newest checkpoint saved at or before ``episode_index``, or None."""


def open_store(url: str, *, create: bool = True) -> Store:
    """Open the store at ``url``. With ``create`` a new database is created at the current
    schema; an existing one at an older schema raises :class:`SchemaError` naming
    ``rltrack db upgrade``."""
    from rltrack.tracking.sql.store import SqlStore

    return SqlStore(url, create=create)
