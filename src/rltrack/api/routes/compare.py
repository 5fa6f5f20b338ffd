"""``/api/compare``: several runs side by side, with the hyperparameters that differ."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query

from rltrack.api.deps import StoreDep
from rltrack.api.responses import errors
from rltrack.api.schemas import ComparePublic, ParamDiffPublic
from rltrack.api.views import run_detail
from rltrack.config import config_differences
from rltrack.tracking.entities import Run, finite_json

router = APIRouter(prefix="/api", tags=["compare"])

MAX_RUNS = 8
RUN_IDS_PATTERN = rf"^[^,\x00]+(?:,[^,\x00]+){{0,{MAX_RUNS - 1}}}$"


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
    responses=errors({404: "One of the runs does not exist."}),
    description=f"1 to {MAX_RUNS} runs as in the run detail route, and the config keys "
    "(dotted paths) whose values differ between them (null where a run lacks the key). A run "
    "named twice (by its id and a prefix, say) is compared once.",
)
def compare_runs(
    store: StoreDep,
    run_ids: Annotated[
        str,
        Query(
            max_length=2000,
            pattern=RUN_IDS_PATTERN,
            description=f"1 to {MAX_RUNS} run ids (or id prefixes, or names), comma-separated.",
            examples=["9f1c2d3e,4b5a4678"],
        ),
    ],
    max_points: Annotated[int, Query(ge=2, le=100_000)] = 2000,
) -> Any:
    found = [store.get_run(ref) for ref in dict.fromkeys(r.strip() for r in run_ids.split(","))]
    runs = list({r.id: r for r in found}.values())
    return ComparePublic(
        runs=[run_detail(store, r, max_points) for r in runs],
        differing_params=differing_params(runs),
    )
