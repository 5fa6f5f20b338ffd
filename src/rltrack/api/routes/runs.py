"""``/api/training-runs``: runs with their statistics and chart series; edits and deletes."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response

from rltrack.api.deps import ApiKeyDep, RunId, StoreDep
from rltrack.api.responses import NO_RUN, UNREADABLE_BODY, errors, write_errors
from rltrack.api.schemas import NO_NUL, AgentIdsPublic, RunPublic, RunSummaryPublic, RunUpdate
from rltrack.api.views import run_detail, run_summaries
from rltrack.tracking.store import PARAM_PART, RUN_STATUSES, RunFilter

router = APIRouter(prefix="/api/training-runs", tags=["training-runs"])

RunSort = Literal[
    "start_time", "-start_time", "name", "-name", "duration", "-duration", "episodes",
    "-episodes", "mean_reward", "-mean_reward",
]  # fmt: skip
PARAM_PREFIX = "param."
MAX_PARAM_NAME = 255
MAX_PARAM_VALUE = 1000
MAX_OFFSET = 10**9
_STATUS = f"(?:{'|'.join(RUN_STATUSES)})"
STATUS_PATTERN = f"^{_STATUS}(?:,{_STATUS})*$"
PARAM_NAME_PATTERN = r"^param\.[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$"
Text = Annotated[str | None, Query(max_length=255)]

LIST_DESCRIPTION = f"""Run summaries, newest first by default. The total count of runs that
match the filters (over all pages) is in the `X-Total-Count` header.

`status` takes one status or several separated by commas ({", ".join(RUN_STATUSES)}); a run
whose trainer stopped beating its heartbeat counts as failed.

**Hyperparameter filters** (the `param` object: each of its properties is a query parameter of
its own). Any query parameter `param.<name>=<value>` keeps the runs whose config has `<value>`
at `hyperparams.<name>` or at `<name>` (a dotted name is a nested path: `param.net.layers`).
The comparison is numeric when the value is a number (`param.learning_rate=0.0003` matches
`3e-4`), boolean for `true`/`false`, and exact text otherwise. Several `param.` filters must all
match. Names are made of letters, digits, `_` and `-` separated by dots (at most
{MAX_PARAM_NAME} characters); values are at most {MAX_PARAM_VALUE} characters.

`sort=episodes` orders by the run's progress counter (episodes its trainer reported), which
can trail the recorded `episodes` of a run still writing."""

# The `param.<name>` filters, which FastAPI cannot declare: an object whose properties are
# query parameters of their own (OpenAPI's form style, exploded).
PARAM_FILTERS: dict[str, Any] = {
    "name": "param",
    "in": "query",
    "required": False,
    "style": "form",
    "explode": True,
    "description": "Hyperparameter filters `param.<name>=<value>` (see above).",
    "example": {"param.learning_rate": "0.0003", "param.policy": "MlpPolicy"},
    "schema": {
        "type": "object",
        "propertyNames": {
            "pattern": PARAM_NAME_PATTERN,
            "maxLength": len(PARAM_PREFIX) + MAX_PARAM_NAME,
        },
        "additionalProperties": {
            "type": "string",
            "maxLength": MAX_PARAM_VALUE,
            "pattern": NO_NUL,
        },
    },
}
TOTAL_COUNT = {
    "X-Total-Count": {
        "description": "Runs matching the filters, over all pages.",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
    }
}


def _params(request: Request) -> tuple[tuple[str, str], ...]:
    params = []
    for key, value in request.query_params.multi_items():
        if not key.startswith(PARAM_PREFIX):
            continue
        name = key.removeprefix(PARAM_PREFIX)
        if (
            not name
            or not all(PARAM_PART.fullmatch(p) for p in name.split("."))
            or len(name) > MAX_PARAM_NAME
        ):
            raise HTTPException(
                422,
                detail=f"{key!r}: a hyperparameter name is letters, digits, _ and - "
                f"separated by dots, at most {MAX_PARAM_NAME} characters",
            )
        if len(value) > MAX_PARAM_VALUE:
            raise HTTPException(
                422, detail=f"{key}: the value is longer than {MAX_PARAM_VALUE} characters"
            )
        params.append((name, value))
    return tuple(params)


# RFC 3339's date-time (the schema's format); the zone may be left out (UTC), and so may the
# seconds.
_TIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]+))?)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})?"
)
TimeParam = Annotated[
    str | None,
    Query(
        json_schema_extra={"format": "date-time"},
        examples=["2026-01-31T12:00:00Z"],
        description="RFC 3339 (ISO 8601): `2026-01-31T12:00:00Z`; UTC when no zone is given. "
        "A time UTC cannot hold (year 9999 with a negative offset) is the latest time, and "
        "one before year 1 the earliest.",
    ),
]


def parse_time(name: str, text: str | None) -> dt.datetime | None:
    """An RFC 3339 time in UTC. One that UTC cannot hold (year 0, or year 1 or 9999 with an
    offset) becomes the earliest or latest time, which bounds the same runs; a leap second is
    the second before it."""
    if text is None:
        return None
    m = _TIME.fullmatch(text)
    bad = HTTPException(422, detail=f"{name}: not an RFC 3339 time: {text!r}")
    if m is None:
        raise bad
    year, month, day, hour, minute, second = (int(g or 0) for g in m.groups()[:6])
    zone = m.group(8)
    offset = dt.timedelta(0)
    if zone is not None and zone not in "Zz":
        sign = -1 if zone[0] == "-" else 1
        hours, minutes = int(zone[1:3]), int(zone[4:6])
        if hours > 23 or minutes > 59:
            raise bad
        offset = sign * dt.timedelta(hours=hours, minutes=minutes)
    micro = int((m.group(7) or "0")[:6].ljust(6, "0"))
    try:
        dt.date(year or 2000, month, day)  # year 0 is a leap year, as 2000
        if hour > 23 or minute > 59 or second > 60:
            raise ValueError
        if year == 0:
            return dt.datetime.min.replace(tzinfo=dt.UTC)
        local = dt.datetime(year, month, day, hour, minute, min(second, 59), micro, dt.UTC)
    except ValueError:
        raise bad from None
    try:
        return local - offset
    except OverflowError:
        early = offset > dt.timedelta(0)
        return (dt.datetime.min if early else dt.datetime.max).replace(tzinfo=dt.UTC)


@router.get(
    "",
    response_model=list[RunSummaryPublic],
    description=LIST_DESCRIPTION,
    responses={200: {"headers": TOTAL_COUNT}, **errors()},
    openapi_extra={"parameters": [PARAM_FILTERS]},
)
def list_training_runs(
    request: Request,
    response: Response,
    store: StoreDep,
    status: Annotated[
        str | None,
        Query(
            max_length=200,
            pattern=STATUS_PATTERN,
            description="One status or several, comma-separated.",
            examples=["completed,stopped"],
        ),
    ] = None,
    agent_id: Text = None,
    algorithm: Text = None,
    env: Annotated[str | None, Query(max_length=255, description="The environment id.")] = None,
    tag: Text = None,
    q: Annotated[
        str | None, Query(max_length=255, description="Text in the run's name (any case).")
    ] = None,
    started_after: TimeParam = None,
    started_before: TimeParam = None,
    sort: RunSort = "-start_time",
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    list_points: Annotated[
        int, Query(ge=2, le=2000, description="Chart points per run, at most.")
    ] = 50,
) -> Any:
    flt = RunFilter(
        status=tuple(status.split(",")) if status else None, agent_id=agent_id,
        algorithm=algorithm, env_id=env, tag=tag, q=q,
        started_after=parse_time("started_after", started_after),
        started_before=parse_time("started_before", started_before), params=_params(request),
        sort=sort, offset=offset, limit=limit,
    )  # fmt: skip
    runs = store.list_runs(flt)
    response.headers["X-Total-Count"] = str(store.count_runs(flt))
    return run_summaries(store, runs, list_points)


# Declared before /{run_id}, which would otherwise take "agents" as a run id.
@router.get("/agents/list", response_model=AgentIdsPublic, responses=errors())
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


@router.get("/{run_id}", response_model=RunPublic, responses=errors({404: NO_RUN}))
def get_training_run(store: StoreDep, run_id: RunId, max_points: MaxPoints = 2000) -> Any:
    return run_detail(store, store.get_run(run_id), max_points)


@router.patch(
    "/{run_id}",
    response_model=RunPublic,
    responses=write_errors(UNREADABLE_BODY),
    dependencies=[ApiKeyDep],
    description="Replace the run's tags and/or notes. Needs the `X-API-Key` header.",
)
def update_training_run(store: StoreDep, run_id: RunId, body: RunUpdate) -> Any:
    run = store.get_run(run_id)
    updated = store.update_run(run.id, tags=body.clean_tags(), notes=body.notes)
    return run_detail(store, updated, 2000)


@router.delete(
    "/{run_id}",
    status_code=204,
    responses=write_errors({409: "The run is still running."}),
    dependencies=[ApiKeyDep],
    description="Delete the run with its episodes, trades, steps, metrics, checkpoint and "
    "artifact records (not the files). Refused with 409 while the run is running. Needs the "
    "`X-API-Key` header.",
)
def delete_training_run(store: StoreDep, run_id: RunId) -> Response:
    run = store.get_run(run_id)
    store.delete_run(run.id)
    return Response(status_code=204)
