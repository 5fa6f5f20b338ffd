"""``/api/sweeps``: hyperparameter sweeps (groups of kind ``sweep``) with their Optuna studies."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request

from rltrack.api.deps import StoreDep
from rltrack.api.responses import errors
from rltrack.api.sweep_schemas import SweepPublic, SweepSummaryPublic
from rltrack.sweep.view import StudyReader
from rltrack.tracking.entities import Group
from rltrack.tracking.store import NotFoundError, Store

router = APIRouter(prefix="/api/sweeps", tags=["sweeps"])

NO_SWEEP = "No such group (by id, a prefix of it, or its name), or the group is not a sweep."
GroupId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=255,
        description="The sweep group's id, a prefix of it, or its name.",
        examples=["4c1f0e9a2b3d4e5f6a7b8c9d0e1f2a3b"],
    ),
]


def get_studies(request: Request, store: StoreDep) -> StudyReader:
    """The app's reader of studies, made on first use."""
    reader: StudyReader | None = getattr(request.app.state, "sweep_studies", None)
    if reader is None or reader.url != store.url:
        reader = StudyReader(store.url)
        request.app.state.sweep_studies = reader
    return reader


StudiesDep = Annotated[StudyReader, Depends(get_studies)]


def _study_name(group: Group) -> str:
    name = group.metadata.get("study_name")
    return name if isinstance(name, str) else group.name


def _sweep_group(store: Store, ref: str) -> Group:
    group = store.get_group(ref)
    if group.kind != "sweep":
        raise NotFoundError(
            f"group {group.name!r} holds {group.kind} runs, not a sweep; /api/groups shows it"
        )
    return group


@router.get(
    "",
    response_model=list[SweepSummaryPublic],
    responses=errors(),
    description="Every sweep, newest first, with its trials counted by state and its best value.",
)
def list_sweeps(store: StoreDep, studies: StudiesDep) -> Any:
    out = []
    for group in store.list_groups():
        if group.kind != "sweep":
            continue
        try:
            view = studies.read(_study_name(group), with_importances=False)
        except NotFoundError:
            continue  # a group whose sweep never made its study
        out.append(SweepSummaryPublic.of(group, view))
    return out


@router.get(
    "/{group_id}",
    response_model=SweepPublic,
    responses=errors({404: NO_SWEEP}),
    description="The sweep's study: its trials (parameters, state, value, run, intermediate "
    "values), the best trial, the optimisation history, parameter importances (empty, with "
    "the reason, before two trials complete) and each parameter's values for a "
    "parallel-coordinates view.",
)
def get_sweep(store: StoreDep, studies: StudiesDep, group_id: GroupId) -> Any:
    group = _sweep_group(store, group_id)
    name = _study_name(group)
    try:
        view = studies.read(name)
    except NotFoundError:
        raise NotFoundError(
            f"sweep {group.name!r} has no study in this database yet; `rltrack sweep` makes it"
        ) from None
    return SweepPublic.of(group, view)
