"""``/api/training-runs``: runs with their chart series, newest first."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from rltrack.api.deps import StoreDep
from rltrack.api.schemas import (
    AgentIdsPublic,
    CheckpointPathPublic,
    EpisodePointPublic,
    RunMetricsPublic,
    RunPublic,
    RunSummaryPublic,
    WinRatePointPublic,
    run_summary,
)
from rltrack.tracking.store import RunFilter, Store

router = APIRouter(prefix="/api/training-runs", tags=["training-runs"])

RunStatus = Literal["running", "completed", "stopped", "failed"]
WIN_WINDOW = 100
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such run."}}


def _metrics(store: Store, run_id: str, max_points: int) -> RunMetricsPublic:
    series = store.episode_series(run_id, max_points=max_points)
    wins = store.rolling_win_rate(run_id, max_points=max_points, window=WIN_WINDOW)
    return RunMetricsPublic(
        episodes=[EpisodePointPublic.of(p) for p in series.points],
        rolling_win_rate=[WinRatePointPublic.of(p) for p in wins],
        sampled=series.sampled,
        total=series.total,
    )


@router.get("", response_model=list[RunSummaryPublic])
def list_training_runs(
    store: StoreDep,
    agent_id: str | None = None,
    status: RunStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    list_points: Annotated[
        int, Query(ge=2, le=2000, description="Chart points per run, at most.")
    ] = 50,
) -> Any:
    runs = store.list_runs(RunFilter(status=status, agent_id=agent_id, limit=limit))
    counts = store.count_episodes_by_run([r.id for r in runs])
    return [run_summary(r, counts.get(r.id, 0), _metrics(store, r.id, list_points)) for r in runs]


# Declared before /{run_id}, which would otherwise take "agents" as a run id.
@router.get("/agents/list", response_model=AgentIdsPublic)
def list_agent_ids(store: StoreDep) -> Any:
    return AgentIdsPublic(agent_ids=store.list_agent_ids())


@router.get("/{run_id}", response_model=RunPublic, responses=NOT_FOUND)
def get_training_run(
    store: StoreDep,
    run_id: str,
    max_points: Annotated[
        int,
        Query(
            ge=2,
            le=100_000,
            description="Chart points, at most; a downsample keeps each bucket's lowest and "
            "highest reward episode.",
        ),
    ] = 2000,
) -> Any:
    run = store.get_run(run_id)
    counts = store.count_episodes_by_run([run.id])
    checkpoints = store.list_checkpoints(run.id)
    return {
        **run_summary(run, counts.get(run.id, 0), _metrics(store, run.id, max_points)),
        "backend": run.backend, "metadata": run.metadata, "error": run.error,
        "tags": run.tags, "seed": run.seed, "parent_run_id": run.parent_run_id,
        "timesteps": run.timesteps, "total_timesteps": run.total_timesteps,
        "heartbeat_at": run.heartbeat_at,
        "checkpoint_paths": [
            CheckpointPathPublic(episode=c.episode_index, path=c.path) for c in checkpoints
        ],
    }  # fmt: skip
