"""A store that connects on first use, for trainers that start while the database is away.

Only writes are needed on the training side: until the database answers, every write raises
:class:`UnavailableError`, which makes the RunLogger spool; the first write that can connect
opens the real store (creating or checking the schema) and replays go through it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
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
from rltrack.tracking.store import (
    BlockPoint,
    EpisodeFilter,
    EpisodeKey,
    EpisodePage,
    EpisodeSeries,
    EpisodeSummary,
    MetricSeries,
    RunFilter,
    RunProgress,
    RunStats,
    Store,
    UnavailableError,
    WinRatePoint,
    open_store,
)
from rltrack.training.events import Event


class DeferredStore(Store):
    def __init__(self, url: str) -> None:
        self.url = url
        self._store: Store | None = None

    def _real(self) -> Store:
        if self._store is None:
            self._store = open_store(self.url)  # raises UnavailableError while it is away
        return self._store

    def write(self, events: Sequence[Event]) -> None:
        self._real().write(events)

    def heartbeat(self, run_id: str, at: dt.datetime) -> None:
        self._real().heartbeat(run_id, at)

    def get_run(self, run_ref: str) -> Run:
        return self._real().get_run(run_ref)

    def list_runs(self, flt: RunFilter | None = None) -> list[Run]:
        return self._real().list_runs(flt)

    def list_episodes(
        self, run_id: str, *, status: str | None = None, limit: int | None = None
    ) -> list[Episode]:
        return self._real().list_episodes(run_id, status=status, limit=limit)

    def list_metrics(self, run_id: str, *, key: str | None = None) -> list[Metric]:
        return self._real().list_metrics(run_id, key=key)

    def list_checkpoints(self, run_id: str) -> list[Checkpoint]:
        return self._real().list_checkpoints(run_id)

    def count_episodes(self, run_id: str) -> dict[str, int]:
        return self._real().count_episodes(run_id)

    def list_evaluations(self, run_id: str) -> list[Evaluation]:
        return self._real().list_evaluations(run_id)

    def episode_health(self, run_id: str) -> EpisodeHealth:
        return self._real().episode_health(run_id)

    def repair_run(self, run_id: str, reason: str) -> int:
        return self._real().repair_run(run_id, reason)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()

    def ping(self) -> None:
        self._real().ping()

    def list_agent_ids(self) -> list[str]:
        return self._real().list_agent_ids()

    def count_episodes_by_run(self, run_ids: Sequence[str]) -> dict[str, int]:
        return self._real().count_episodes_by_run(run_ids)

    def get_episode(self, episode_id: int) -> Episode:
        return self._real().get_episode(episode_id)

    def episode_page(
        self,
        run_id: str,
        *,
        flt: EpisodeFilter | None = None,
        sort: str = "index",
        after: EpisodeKey | None = None,
        limit: int = 100,
    ) -> EpisodePage:
        return self._real().episode_page(run_id, flt=flt, sort=sort, after=after, limit=limit)

    def episode_series(self, run_id: str, *, max_points: int) -> EpisodeSeries:
        return self._real().episode_series(run_id, max_points=max_points)

    def rolling_win_rate(
        self, run_id: str, *, max_points: int, window: int = 100
    ) -> list[WinRatePoint]:
        return self._real().rolling_win_rate(run_id, max_points=max_points, window=window)

    def run_charts(
        self, run_ids: Sequence[str], *, max_points: int, window: int = 100
    ) -> dict[str, tuple[EpisodeSeries, list[WinRatePoint]]]:
        return self._real().run_charts(run_ids, max_points=max_points, window=window)

    def checkpoint_at(self, run_id: str, episode_index: int) -> Checkpoint | None:
        return self._real().checkpoint_at(run_id, episode_index)

    def count_runs(self, flt: RunFilter | None = None) -> int:
        return self._real().count_runs(flt)

    def run_stats(
        self, run_ids: Sequence[str], *, last_win_rate: bool = True
    ) -> dict[str, RunStats]:
        return self._real().run_stats(run_ids, last_win_rate=last_win_rate)

    def run_progress(self, run_id: str | None = None) -> list[RunProgress]:
        return self._real().run_progress(run_id)

    def episode_summary(self, run_id: str, flt: EpisodeFilter | None = None) -> EpisodeSummary:
        return self._real().episode_summary(run_id, flt)

    def episodes_after(self, run_id: str, after: int | None, limit: int) -> list[Episode]:
        return self._real().episodes_after(run_id, after, limit)

    def episode_metric_types(self, run_id: str) -> dict[str, set[str]]:
        return self._real().episode_metric_types(run_id)

    def episode_trades(self, episode_id: int) -> list[Trade]:
        return self._real().episode_trades(episode_id)

    def trades_after(
        self, run_id: str, after: tuple[int, int] | None, limit: int
    ) -> list[RunTrade]:
        return self._real().trades_after(run_id, after, limit)

    def episode_steps(self, episode_id: int) -> list[Step]:
        return self._real().episode_steps(episode_id)

    def metric_keys(self, run_id: str) -> list[str]:
        return self._real().metric_keys(run_id)

    def metric_series(self, run_id: str, key: str, *, max_points: int) -> MetricSeries:
        return self._real().metric_series(run_id, key, max_points=max_points)

    def get_checkpoint(self, checkpoint_id: int) -> Checkpoint:
        return self._real().get_checkpoint(checkpoint_id)

    def list_artifacts(self, run_id: str) -> list[Artifact]:
        return self._real().list_artifacts(run_id)

    def get_artifact(self, artifact_id: int) -> Artifact:
        return self._real().get_artifact(artifact_id)

    def update_run(
        self, run_id: str, *, tags: Sequence[str] | None = None, notes: str | None = None
    ) -> Run:
        return self._real().update_run(run_id, tags=tags, notes=notes)

    def delete_run(self, run_id: str) -> None:
        self._real().delete_run(run_id)

    def create_group(
        self, name: str, *, kind: str = "manual", description: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Group:  # fmt: skip
        return self._real().create_group(
            name, kind=kind, description=description, metadata=metadata
        )

    def get_group(self, ref: str) -> Group:
        return self._real().get_group(ref)

    def list_groups(self) -> list[Group]:
        return self._real().list_groups()

    def block_points(self, run_ids: Sequence[str]) -> dict[str, list[BlockPoint]]:
        return self._real().block_points(run_ids)

    def last_rewards(self, run_ids: Sequence[str], n: int = 100) -> dict[str, list[float]]:
        return self._real().last_rewards(run_ids, n)


__all__ = ["DeferredStore", "UnavailableError"]
