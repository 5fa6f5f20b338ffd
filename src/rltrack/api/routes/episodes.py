"""Episodes: a run's episodes page by page and summarized, one episode with its trades and
steps, and the model an episode was played with."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query

from rltrack.api.deps import StoreDep
from rltrack.api.schemas import (
    CheckpointPublic,
    EpisodeDetailPublic,
    EpisodeModelPublic,
    EpisodePublic,
    EpisodesPagePublic,
    EpisodeSummaryPublic,
    StatSummaryPublic,
)
from rltrack.tracking.store import EPISODE_SORTS, EpisodeFilter, EpisodeKey

router = APIRouter(tags=["episodes"])

EpisodeStatus = Literal["started", "completed", "truncated", "error"]
EpisodeSort = Literal["index", "-index", "total_reward", "-total_reward", "steps", "-steps"]
MAX_BIGINT = 2**63 - 1
MAX_CURSOR = 512
Bound = Annotated[float | None, Query(allow_inf_nan=False)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such run."}}


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
    """The filters shared by the page and the summary (bounds are inclusive)."""
    for name, lo, hi in (
        ("reward", min_reward, max_reward), ("pnl", min_pnl, max_pnl),
        ("sharpe", min_sharpe, max_sharpe),
    ):  # fmt: skip
        if lo is not None and hi is not None and lo > hi:
            raise HTTPException(422, detail=f"min_{name} must not be above max_{name}")
    return EpisodeFilter(
        status=status, min_reward=min_reward, max_reward=max_reward, min_pnl=min_pnl,
        max_pnl=max_pnl, min_sharpe=min_sharpe, max_sharpe=max_sharpe,
    )  # fmt: skip


FilterDep = Annotated[EpisodeFilter, Depends(episode_filter)]


def encode_cursor(key: EpisodeKey) -> str:
    raw = json.dumps({"s": key.sort, "v": key.value, "i": key.index}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> EpisodeKey:
    """The key a cursor stands for; 422 for anything that is not a cursor of this sort."""
    bad = HTTPException(422, detail="cursor: not a cursor of this API (pass `next_cursor` back)")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError):
        raise bad from None
    if not isinstance(data, dict) or set(data) != {"s", "v", "i"}:
        raise bad
    s, v, i = data["s"], data["v"], data["i"]
    if (
        not isinstance(s, str)
        or s.removeprefix("-") not in EPISODE_SORTS
        or not isinstance(i, int)
        or isinstance(i, bool)
        or not 0 <= i <= MAX_BIGINT
    ):
        raise bad
    value: float | None = None
    if v is not None:
        if not isinstance(v, int | float) or isinstance(v, bool):
            raise bad
        try:
            value = float(v)
        except OverflowError:  # an integer beyond any float
            raise bad from None
    if s != sort:
        raise HTTPException(
            422, detail=f"cursor: it continues sort={s}, not sort={sort}; start again without it"
        )
    return EpisodeKey(sort=s, value=value, index=i)


@router.get(
    "/api/training-runs/{run_id}/episodes",
    response_model=EpisodesPagePublic,
    responses=NOT_FOUND,
    description="A page of the run's episodes. Ties in `total_reward` or `steps` are ordered "
    "by index; episodes without a value come last in either direction.",
)
def list_run_episodes(
    store: StoreDep,
    run_id: str,
    flt: FilterDep,
    sort: EpisodeSort = "index",
    cursor: Annotated[
        str | None,
        Query(max_length=MAX_CURSOR, description="The `next_cursor` of the previous page."),
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
    responses=NOT_FOUND,
)
def summarize_run_episodes(store: StoreDep, run_id: str, flt: FilterDep) -> Any:
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
    responses={404: {"description": "No such episode."}},
)
def get_episode(store: StoreDep, episode_id: EpisodeId) -> Any:
    episode = store.get_episode(episode_id)
    trades = store.episode_trades(episode.id)
    steps = store.episode_steps(episode.id)
    return EpisodeDetailPublic.of(episode, trades, steps)


@router.get(
    "/api/v1/episodes/{episode_id}/model",
    response_model=EpisodeModelPublic,
    responses={404: {"description": "No such episode."}},
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
