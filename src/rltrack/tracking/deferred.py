"""A store that connects on first use, for trainers that start while the database is away.

Only writes are needed on the training side: until the database answers, every write raises
:class:`UnavailableError`, which makes the RunLogger spool; the first write that can connect
opens the real store (creating or checking the schema) and replays go through it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from rltrack.tracking.entities import (
    Checkpoint,
    Episode,
    EpisodeHealth,
    Evaluation,
    Metric,
    Run,
)
from rltrack.tracking.store import (
    EpisodePage,
    EpisodeSeries,
    RunFilter,
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
        status: str | None = None,
        after: int | None = None,
        limit: int = 100,
        min_reward: float | None = None,
        max_reward: float | None = None,
    ) -> EpisodePage:
        return self._real().episode_page(
            run_id, status=status, after=after, limit=limit, min_reward=min_reward,
            max_reward=max_reward,
        )  # fmt: skip

    def episode_series(self, run_id: str, *, max_points: int) -> EpisodeSeries:
        return self._real().episode_series(run_id, max_points=max_points)

    def rolling_win_rate(
        self, run_id: str, *, max_points: int, window: int = 100
    ) -> list[WinRatePoint]:
        return self._real().rolling_win_rate(run_id, max_points=max_points, window=window)

    def checkpoint_at(self, run_id: str, episode_index: int) -> Checkpoint | None:
        return self._real().checkpoint_at(run_id, episode_index)


__all__ = ["DeferredStore", "UnavailableError"]
