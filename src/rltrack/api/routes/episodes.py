"""Episodes: a run's episodes page by page, and the model an episode was played with."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query

from rltrack.api.deps import StoreDep
from rltrack.api.schemas import (
    CheckpointPublic,
    EpisodeModelPublic,
    EpisodePublic,
    EpisodesPagePublic,
)

router = APIRouter(tags=["episodes"])

EpisodeStatus = Literal["started", "completed", "truncated", "error"]
MAX_BIGINT = 2**63 - 1
RewardBound = Annotated[float | None, Query(allow_inf_nan=False)]


@router.get(
    "/api/training-runs/{run_id}/episodes",
    response_model=EpisodesPagePublic,
    responses={404: {"description": "No such run."}},
)
def list_run_episodes(
    store: StoreDep,
    run_id: str,
    status: EpisodeStatus | None = None,
    after: Annotated[
        int | None,
        Query(ge=-1, le=MAX_BIGINT, description="The `next_cursor` of the previous page."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    min_reward: RewardBound = None,
    max_reward: RewardBound = None,
) -> Any:
    if min_reward is not None and max_reward is not None and min_reward > max_reward:
        raise HTTPException(422, detail="min_reward must not be above max_reward")
    run = store.get_run(run_id)
    page = store.episode_page(
        run.id, status=status, after=after, limit=limit, min_reward=min_reward,
        max_reward=max_reward,
    )  # fmt: skip
    return EpisodesPagePublic(
        items=[EpisodePublic.of(e) for e in page.items],
        total=page.total,
        next_cursor=page.next_cursor,
    )


@router.get(
    "/api/v1/episodes/{episode_id}/model",
    response_model=EpisodeModelPublic,
    responses={404: {"description": "No such episode."}},
    summary="The model an episode was played with",
    description="Hyperparameters are per run: `parameters` is the run's configuration, the "
    "same for every episode of the run. Weights are per checkpoint: `checkpoint` is the newest "
    "checkpoint saved at or before this episode's index (null when none was saved yet).",
)
def get_episode_model(
    store: StoreDep,
    episode_id: Annotated[int, Path(ge=0, le=MAX_BIGINT)],
) -> Any:
    episode = store.get_episode(episode_id)
    run = store.get_run(episode.run_id)
    checkpoint = store.checkpoint_at(run.id, episode.index)
    return EpisodeModelPublic(
        parameters=run.config,
        checkpoint=CheckpointPublic.of(checkpoint) if checkpoint is not None else None,
    )
