"""``/api/training-runs``: runs with their statistics and chart series; edits and deletes."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response

from rltrack.api.deps import ApiKeyDep, StoreDep
from rltrack.api.schemas import AgentIdsPublic, RunPublic, RunSummaryPublic, RunUpdate
from rltrack.api.views import run_detail, run_summaries
from rltrack.tracking.store import PARAM_PART, RUN_STATUSES, RunFilter

router = APIRouter(prefix="/api/training-runs", tags=["training-runs"])

RunSort = Literal[
    "start_time", "-start_time", "name", "-name", "duration", "-duration", "episodes",
    "-episodes", "mean_reward", "-mean_reward",
]  # fmt: skip
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such run."}}
WRITE: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or wrong X-API-Key."},
    403: {"description": "RLTRACK_API_KEY is not set on the server: writes are disabled."},
    **NOT_FOUND,
}
PARAM_PREFIX = "param."
MAX_OFFSET = 10**9
Text = Annotated[str | None, Query(max_length=255)]

LIST_DESCRIPTION = f"""Run summaries, newest first by default. The total count of runs that
match the filters (over all pages) is in the `X-Total-Count` header.

`status` takes one status or several separated by commas ({", ".join(RUN_STATUSES)}); a run
whose trainer stopped beating its heartbeat counts as failed.

**Hyperparameter filters.** Any query parameter `param.<name>=<value>` keeps the runs whose
config has `<value>` at `hyperparams.<name>` or at `<name>` (a dotted name is a nested path:
`param.net.layers`). The comparison is numeric when the value is a number
(`param.learning_rate=0.0003` matches `3e-4`), boolean for `true`/`false`, and exact text
otherwise. Several `param.` filters must all match. Names are made of letters, digits, `_`
and `-` separated by dots.

`sort=episodes` orders by the run's progress counter (episodes its trainer reported), which
can trail the recorded `episodes` of a run still writing."""


def _statuses(raw: str | None) -> tuple[str, ...]:
    if raw is None:
        return ()
    statuses = tuple(s.strip() for s in raw.split(",") if s.strip())
    bad = [s for s in statuses if s not in RUN_STATUSES]
    if bad or not statuses:
        raise HTTPException(
            422, detail=f"status: {raw!r}; give one or more of {', '.join(RUN_STATUSES)}"
        )
    return statuses


def _params(request: Request) -> tuple[tuple[str, str], ...]:
    params = []
    for key, value in request.query_params.multi_items():
        if not key.startswith(PARAM_PREFIX):
            continue
        name = key.removeprefix(PARAM_PREFIX)
        if not name or not all(PARAM_PART.fullmatch(p) for p in name.split(".")) or len(name) > 255:
            raise HTTPException(
                422,
                detail=f"{key!r}: a hyperparameter name is letters, digits, _ and - "
                "separated by dots",
            )
        if len(value) > 1000:
            raise HTTPException(422, detail=f"{key}: the value is too long")
        params.append((name, value))
    return tuple(params)


def _utc(name: str, value: dt.datetime | None) -> dt.datetime | None:
    """A time without a zone is UTC."""
    if value is None:
        return None
    try:
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise HTTPException(422, detail=f"{name}: out of range") from None


@router.get("", response_model=list[RunSummaryPublic], description=LIST_DESCRIPTION)
def list_training_runs(
    request: Request,
    response: Response,
    store: StoreDep,
    status: Annotated[
        str | None, Query(max_length=200, description="One status or several, comma-separated.")
    ] = None,
    agent_id: Text = None,
    algorithm: Text = None,
    env: Annotated[str | None, Query(max_length=255, description="The environment id.")] = None,
    tag: Text = None,
    q: Annotated[
        str | None, Query(max_length=255, description="Text in the run's name (any case).")
    ] = None,
    started_after: Annotated[
        dt.datetime | None, Query(description="ISO 8601; UTC when no zone is given.")
    ] = None,
    started_before: Annotated[
        dt.datetime | None, Query(description="ISO 8601; UTC when no zone is given.")
    ] = None,
    sort: RunSort = "-start_time",
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    list_points: Annotated[
        int, Query(ge=2, le=2000, description="Chart points per run, at most.")
    ] = 50,
) -> Any:
    flt = RunFilter(
        status=_statuses(status) or None, agent_id=agent_id, algorithm=algorithm, env_id=env,
        tag=tag, q=q, started_after=_utc("started_after", started_after),
        started_before=_utc("started_before", started_before), params=_params(request),
        sort=sort, offset=offset, limit=limit,
    )  # fmt: skip
    runs = store.list_runs(flt)
    response.headers["X-Total-Count"] = str(store.count_runs(flt))
    return run_summaries(store, runs, list_points)


# Declared before /{run_id}, which would otherwise take "agents" as a run id.
@router.get("/agents/list", response_model=AgentIdsPublic)
def list_agent_ids(store: StoreDep) -> Any:
    return AgentIdsPublic(agent_ids=store.list_agent_ids())


MaxPoints = Annotated[
    int,
    Query(
        ge=2,
        le=100_000,
        description="Chart points, at most; a downsample keeps each bucket's lowest and "
        "highest reward episode.",
    ),
]


@router.get("/{run_id}", response_model=RunPublic, responses=NOT_FOUND)
def get_training_run(store: StoreDep, run_id: str, max_points: MaxPoints = 2000) -> Any:
    return run_detail(store, store.get_run(run_id), max_points)


@router.patch(
    "/{run_id}",
    response_model=RunPublic,
    responses=WRITE,
    dependencies=[ApiKeyDep],
    description="Replace the run's tags and/or notes. Needs the `X-API-Key` header.",
)
def update_training_run(store: StoreDep, run_id: str, body: RunUpdate) -> Any:
    if body.tags is None and body.notes is None:
        raise HTTPException(422, detail="give `tags`, `notes` or both")
    run = store.get_run(run_id)
    updated = store.update_run(run.id, tags=body.tags, notes=body.notes)
    return run_detail(store, updated, 2000)


@router.delete(
    "/{run_id}",
    status_code=204,
    responses={**WRITE, 409: {"description": "The run is still running."}},
    dependencies=[ApiKeyDep],
    description="Delete the run with its episodes, trades, steps, metrics, checkpoint and "
    "artifact records (not the files). Refused with 409 while the run is running. Needs the "
    "`X-API-Key` header.",
)
def delete_training_run(store: StoreDep, run_id: str) -> Response:
    run = store.get_run(run_id)
    store.delete_run(run.id)
    return Response(status_code=204)
