"""What a run recorded besides episodes: training metrics, checkpoints, evaluations,
artifacts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from rltrack.api.deps import RunId, StoreDep
from rltrack.api.responses import NO_RUN, errors
from rltrack.api.schemas import (
    ArtifactPublic,
    CheckpointPublic,
    EvaluationPublic,
    MetricPointPublic,
    MetricSeriesPublic,
    RunTrainingMetricsPublic,
)

router = APIRouter(prefix="/api/training-runs", tags=["training-runs"])

NOT_FOUND = errors({404: NO_RUN})
MAX_KEYS = 50
# At most MAX_KEYS keys: as many commas less one. Short enough that a query of them, each
# character percent-encoded, stays within what the HTTP server reads (64 KiB).
KEYS_PATTERN = rf"^[^,\x00]*(?:,[^,\x00]*){{0,{MAX_KEYS - 1}}}$"
MAX_KEYS_LENGTH = 4000


@router.get(
    "/{run_id}/metrics",
    response_model=RunTrainingMetricsPublic,
    responses=NOT_FOUND,
    description="Training metrics (losses, learning rate, fps, ...) by timestep. `keys` lists "
    "every key the run logged; `series` holds the keys asked for with `keys=a,b` (a key the "
    f"run never logged gets an empty series; at most {MAX_KEYS} keys), each downsampled to "
    "`max_points` keeping each bucket's lowest and highest value.",
)
def get_run_metrics(
    store: StoreDep,
    run_id: RunId,
    keys: Annotated[
        str | None,
        Query(
            max_length=MAX_KEYS_LENGTH,
            pattern=KEYS_PATTERN,
            description=f"Comma-separated metric keys (at most {MAX_KEYS}; empty ones are "
            "skipped).",
            examples=["loss,fps"],
        ),
    ] = None,
    max_points: Annotated[int, Query(ge=2, le=100_000)] = 2000,
) -> Any:
    run = store.get_run(run_id)
    wanted = list(dict.fromkeys(k.strip() for k in (keys or "").split(",") if k.strip()))
    series = {}
    for key in wanted:
        s = store.metric_series(run.id, key, max_points=max_points)
        series[key] = MetricSeriesPublic(
            points=[MetricPointPublic.of(p) for p in s.points], total=s.total, sampled=s.sampled
        )
    return RunTrainingMetricsPublic(keys=store.metric_keys(run.id), series=series)


@router.get(
    "/{run_id}/checkpoints",
    response_model=list[CheckpointPublic],
    responses=NOT_FOUND,
    description="The run's checkpoints by timestep; `/api/checkpoints/{id}/download` serves "
    "the file.",
)
def list_run_checkpoints(store: StoreDep, run_id: RunId) -> Any:
    run = store.get_run(run_id)
    return [CheckpointPublic.of(c) for c in store.list_checkpoints(run.id)]


@router.get("/{run_id}/evaluations", response_model=list[EvaluationPublic], responses=NOT_FOUND)
def list_run_evaluations(store: StoreDep, run_id: RunId) -> Any:
    run = store.get_run(run_id)
    return [EvaluationPublic.of(e) for e in store.list_evaluations(run.id)]


@router.get("/{run_id}/artifacts", response_model=list[ArtifactPublic], responses=NOT_FOUND)
def list_run_artifacts(store: StoreDep, run_id: RunId) -> Any:
    run = store.get_run(run_id)
    return [ArtifactPublic.of(a) for a in store.list_artifacts(run.id)]
