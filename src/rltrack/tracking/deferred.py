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
from rltrack.tracking.store import RunFilter, Store, UnavailableError, open_store
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


__all__ = ["DeferredStore", "UnavailableError"]
