"""Episodes: a run's episodes page by page and summarized, one episode with its trades and
steps, and the model an episode was played with."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query

from rltrack.api.deps import RunId, StoreDep
from rltrack.api.responses import NO_EPISODE, NO_RUN, errors
from rltrack.api.schemas import (
    CheckpointPublic,
    EpisodeDetailPublic,
    EpisodeModelPublic,
    EpisodePublic,
    EpisodesPagePublic,
    EpisodeSummaryPublic,
    StatSummaryPublic,
)
from rltrack.tracking.store import EpisodeFilter, EpisodeKey

router = APIRouter(tags=["episodes"])

EpisodeStatus = Literal["started", "completed", "truncated", "error"]
EpisodeSort = Literal["index", "-index", "total_reward", "-total_reward", "steps", "-steps"]
MAX_BIGINT = 2**63 - 1
MAX_CURSOR = 512
# A cursor is where the previous page stopped: the index of its last episode, then, when the
# page was sorted by a value, `_` and that episode's value (none when it had no value).
CURSOR_PATTERN = r"^([0-9]{1,18})(?:_(-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?))?$"
_CURSOR = re.compile(CURSOR_PATTERN)
Bound = Annotated[float | None, Query(allow_inf_nan=False)]
FILTERS = (
    "Bounds are inclusive; a lower bound above the upper one matches no episode. An episode "
    "without the value (a `pnl` or `sharpe_ratio` metric it did not report) matches no bound."
)


def episode_filter(
    status: EpisodeStatus | None = None,
    min_reward: Bound = None,
    max_reward: Bound = None,
    min_pnl: Annotated[
        float | None, Query(allow_inf_nan=False, description="Metric `pnl`.")
    ] = None,
    max_pnl: Bound = None,
    min_sharpe: Annotated[
        float | None, Query(allow_inf_nan=False, description="Metric `sharpe_ratio`.")
    ] = None,
    max_sharpe: Bound = None,
) -> EpisodeFilter:
    """The filters shared by the page and the summary."""
    return EpisodeFilter(
        status=status, min_reward=min_reward, max_reward=max_reward, min_pnl=min_pnl,
        max_pnl=max_pnl, min_sharpe=min_sharpe, max_sharpe=max_sharpe,
    )  # fmt: skip


FilterDep = Annotated[EpisodeFilter, Depends(episode_filter)]


def encode_cursor(key: EpisodeKey) -> str:
    if key.sort.removeprefix("-") == "index" or key.value is None:
        return str(key.index)
    return f"{key.index}_{key.value!r}"


def decode_cursor(cursor: str, sort: str) -> EpisodeKey:
    """The position a cursor (matching :data:`CURSOR_PATTERN`) names, in the order ``sort``.

    A cursor of another sort is a position all the same (the page continues after that index
    and value in this order). A value too large for a float is beyond every finite one."""
    m = _CURSOR.fullmatch(cursor)
    if m is None:  # FastAPI has checked the pattern already
        raise HTTPException(422, detail=f"cursor: not a cursor of this API: {cursor!r}")
    index, value = int(m.group(1)), m.group(2)
    if sort.removeprefix("-") == "index" or value is None:
        return EpisodeKey(sort=sort, value=None, index=index)
    return EpisodeKey(sort=sort, value=float(value), index=index)


@router.get(
    "/api/training-runs/{run_id}/episodes",
    response_model=EpisodesPagePublic,
    responses=errors({404: NO_RUN}),
    description="A page of the run's episodes. Ties in `total_reward` or `steps` are ordered "
    f"by index; episodes without a value come last in either direction. {FILTERS}",
)
def list_run_episodes(
    store: StoreDep,
    run_id: RunId,
    flt: FilterDep,
    sort: EpisodeSort = "index",
    cursor: Annotated[
        str | None,
        Query(
            max_length=MAX_CURSOR,
            pattern=CURSOR_PATTERN,
            description="The `next_cursor` of the previous page, given with the same `sort` "
            "and filters: `<index>` or `<index>_<value>`, the position of that page's last "
            "episode (its index, and its value of the sort when it has one). The page goes on "
            "after that position in the order `sort` gives.",
            examples=["250_0.75"],
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Any:
    after = decode_cursor(cursor, sort) if cursor else None
    run = store.get_run(run_id)
    page = store.episode_page(run.id, flt=flt, sort=sort, after=after, limit=limit)
    return EpisodesPagePublic(
        items=[EpisodePublic.of(e) for e in page.items],
        total=page.total,
        next_cursor=encode_cursor(page.next_cursor) if page.next_cursor is not None else None,
    )


@router.get(
    "/api/training-runs/{run_id}/episodes/summary",
    response_model=EpisodeSummaryPublic,
    responses=errors({404: NO_RUN}),
    description=f"Statistics of the run's episodes that match the filters. {FILTERS}",
)
def summarize_run_episodes(store: StoreDep, run_id: RunId, flt: FilterDep) -> Any:
    run = store.get_run(run_id)
    summary = store.episode_summary(run.id, flt)
    return EpisodeSummaryPublic(
        count=summary.count,
        metrics={k: StatSummaryPublic.of(v) for k, v in summary.metrics.items()},
    )


EpisodeId = Annotated[int, Path(ge=0, le=MAX_BIGINT)]


@router.get(
    "/api/episodes/{episode_id}",
    response_model=EpisodeDetailPublic,
    responses=errors({404: NO_EPISODE}),
)
def get_episode(store: StoreDep, episode_id: EpisodeId) -> Any:
    episode = store.get_episode(episode_id)
    trades = store.episode_trades(episode.id)
    steps = store.episode_steps(episode.id)
    return EpisodeDetailPublic.of(episode, trades, steps)


@router.get(
    "/api/v1/episodes/{episode_id}/model",
    response_model=EpisodeModelPublic,
    responses=errors({404: NO_EPISODE}),
    summary="The model an episode was played with",
    description="Hyperparameters are per run: `parameters` is the run's configuration, the "
    "same for every episode of the run. Weights are per checkpoint: `checkpoint` is the newest "
    "checkpoint saved at or before this episode's index (null when none was saved yet).",
)
def get_episode_model(store: StoreDep, episode_id: EpisodeId) -> Any:
    episode = store.get_episode(episode_id)
    run = store.get_run(episode.run_id)
    checkpoint = store.checkpoint_at(run.id, episode.index)
    return EpisodeModelPublic(
        parameters=run.config,
        checkpoint=CheckpointPublic.of(checkpoint) if checkpoint is not None else None,
    )
