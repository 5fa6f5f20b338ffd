"""``/api/groups``: groups of runs as one experiment (seeds, a sweep's trials, runs joined by
name), with their aggregate learning curves, final scores and comparisons, each estimate with
its 95 % bootstrap confidence interval."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query

from rltrack.analysis import stats
from rltrack.analysis.groups import analyze_group, compare_groups
from rltrack.api.deps import StoreDep
from rltrack.api.group_schemas import (
    GroupDetailPublic,
    GroupPublic,
    GroupsComparePublic,
    XAxisName,
)
from rltrack.api.responses import errors
from rltrack.api.schemas import NO_NUL

router = APIRouter(prefix="/api/groups", tags=["groups"])

MAX_GROUPS = 8
MAX_POINTS = 500
EXAMPLE_GROUPS = ("CartPole-v1__ppo__seeds", "CartPole-v1__dqn__seeds")
NO_GROUP = "No such group (nor a group whose id starts with, or whose name is, this text)."

XParam = Annotated[
    XAxisName,
    Query(
        description="The curve's x axis: `episode` (episode index), `timestep`, or `time` "
        "(seconds since each run started)."
    ),
]
PointsParam = Annotated[
    int,
    Query(
        ge=2,
        le=MAX_POINTS,
        description="Curve points, at most (fewer when the runs have fewer blocks of 100 "
        "episodes in their common range).",
    ),
]
SeedParam = Annotated[
    int,
    Query(ge=0, le=2**32 - 1, description="The bootstrap's random seed (same seed, same CIs)."),
]
TargetParam = Annotated[
    float | None,
    Query(
        ge=-1e12,
        le=1e12,
        allow_inf_nan=False,
        description="The target score of the optimality gap; default: the environment's "
        "reward threshold (Gymnasium's registry), if it has one.",
    ),
]
GroupRef = Annotated[
    str,
    Path(
        min_length=1,
        max_length=255,
        description="The group's id, a prefix of it, or its name.",
        examples=[EXAMPLE_GROUPS[0]],
    ),
]
GroupRefItem = Annotated[str, Query(min_length=1, max_length=255, pattern=NO_NUL)]


@router.get(
    "",
    response_model=list[GroupPublic],
    responses=errors(),
    description="Every group, newest first, with its kind and its count of runs.",
)
def list_groups(store: StoreDep) -> Any:
    return [GroupPublic.of(g) for g in store.list_groups()]


# Declared before /{group_id}, which would otherwise take "compare" as a group.
@router.get(
    "/compare",
    response_model=GroupsComparePublic,
    responses=errors({404: "One of the groups does not exist."}),
    description=f"2 to {MAX_GROUPS} groups side by side: each group's aggregate curve and "
    "final scores, the performance profiles of their final scores, and the probability of "
    "improvement P(X > Y) for every ordered pair, all with 95 % bootstrap intervals. Names "
    "that are one group (its id and its name, say) are a 422, as are fewer than two groups.",
)
def compare(
    store: StoreDep,
    group: Annotated[
        list[GroupRefItem],
        Query(
            min_length=2,
            max_length=MAX_GROUPS,
            description=f"2 to {MAX_GROUPS} groups (id, id prefix or name), the parameter "
            "repeated: `group=A&group=B`.",
            examples=[list(EXAMPLE_GROUPS)],
            json_schema_extra={"uniqueItems": True},
        ),
    ],
    x: XParam = "episode",
    points: PointsParam = 100,
    seed: SeedParam = stats.SEED,
    target: TargetParam = None,
) -> Any:
    named = [g for g in group if group.count(g) > 1]
    if named:
        raise HTTPException(422, detail=f"group: {named[0]!r} is named twice; name each once")
    try:
        comparison = compare_groups(store, group, x=x, points=points, seed=seed, target=target)
    except ValueError as exc:
        raise HTTPException(422, detail=f"group: {exc}") from None
    return GroupsComparePublic.of(comparison, seed=seed, reps=stats.REPS)


@router.get(
    "/{group_id}",
    response_model=GroupDetailPublic,
    responses=errors({404: NO_GROUP}),
    description="The group with its runs (status, seed, mean of the last 100 episodes, latest "
    "evaluation), its aggregate learning curve (IQM and mean across runs) and its final "
    "scores (IQM, median, mean, optimality gap), each with a 95 % bootstrap interval. Runs "
    "without an ended episode are listed in `skipped`; with fewer than 2 runs the estimates "
    "have no intervals (`notes` says so).",
)
def get_group(
    store: StoreDep,
    group_id: GroupRef,
    x: XParam = "episode",
    points: PointsParam = 100,
    seed: SeedParam = stats.SEED,
    per_run: Annotated[bool, Query(description="Add each run's own curve.")] = False,
    target: TargetParam = None,
) -> Any:
    analysis = analyze_group(
        store, group_id, x=x, points=points, seed=seed, per_run=per_run, target=target
    )
    return GroupDetailPublic.of(analysis)
