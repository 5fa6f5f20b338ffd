"""``/api/compare``: several runs side by side, with the hyperparameters that differ."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from rltrack.api.deps import StoreDep
from rltrack.api.schemas import ComparePublic, ParamDiffPublic
from rltrack.api.views import run_detail
from rltrack.config import config_differences
from rltrack.tracking.entities import Run, finite_json

router = APIRouter(prefix="/api", tags=["compare"])

MIN_RUNS, MAX_RUNS = 2, 8


def differing_params(runs: Sequence[Run]) -> list[ParamDiffPublic]:
    return [
        ParamDiffPublic(
            key=key,
            values={r.id: finite_json(v) for r, v in zip(runs, values, strict=True)},
        )
        for key, values in config_differences([r.config for r in runs])
    ]


@router.get(
    "/compare",
    response_model=ComparePublic,
    responses={404: {"description": "One of the runs does not exist."}},
    description=f"{MIN_RUNS} to {MAX_RUNS} runs as in the run detail route, and the config "
    "keys (dotted paths) whose values differ between them (null where a run lacks the key).",
)
def compare_runs(
    store: StoreDep,
    run_ids: Annotated[
        str, Query(max_length=2000, description="Comma-separated run ids (or id prefixes).")
    ],
    max_points: Annotated[int, Query(ge=2, le=100_000)] = 2000,
) -> Any:
    refs = list(dict.fromkeys(r.strip() for r in run_ids.split(",") if r.strip()))
    if not MIN_RUNS <= len(refs) <= MAX_RUNS:
        raise HTTPException(
            422, detail=f"run_ids: give {MIN_RUNS} to {MAX_RUNS} distinct runs, comma-separated"
        )
    runs = [store.get_run(ref) for ref in refs]
    if len({r.id for r in runs}) != len(runs):
        raise HTTPException(422, detail="run_ids: the same run is named twice")
    return ComparePublic(
        runs=[run_detail(store, r, max_points) for r in runs],
        differing_params=differing_params(runs),
    )
