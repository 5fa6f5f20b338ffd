"""How a run is shown: the summary of the runs list and the full run of the detail page, built
from the store's entities (shared by the runs routes and the comparison)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

from rltrack.api.schemas import (
    CheckpointPathPublic,
    EpisodePointPublic,
    RunMetricsPublic,
    RunPublic,
    RunStatsPublic,
    RunSummaryPublic,
    WinRatePointPublic,
)
from rltrack.tracking.entities import Run, finite_json
from rltrack.tracking.store import EpisodeSeries, RunStats, Store, WinRatePoint

WIN_WINDOW = 100


def duration_s(run: Run, now: dt.datetime) -> float | None:
    """End minus start; now minus start while it runs; up to the last heartbeat for a run that
    is reported failed because its heartbeat went stale (it has no end time)."""
    if run.end_time is not None:
        end = run.end_time
    elif run.status == "running":
        end = now
    elif run.heartbeat_at is not None:
        end = run.heartbeat_at
    else:
        return None
    return max(0.0, (end - run.start_time).total_seconds())


def chart_metrics(store: Store, run_id: str, max_points: int) -> RunMetricsPublic:
    series = store.episode_series(run_id, max_points=max_points)
    wins = store.rolling_win_rate(run_id, max_points=max_points, window=WIN_WINDOW)
    return _chart_public(series, wins)


def _chart_public(series: EpisodeSeries, wins: list[WinRatePoint]) -> RunMetricsPublic:
    return RunMetricsPublic(
        episodes=[EpisodePointPublic.of(p) for p in series.points],
        rolling_win_rate=[WinRatePointPublic.of(p) for p in wins],
        sampled=series.sampled,
        total=series.total,
    )


def _summary_fields(
    run: Run, episodes: int, metrics: RunMetricsPublic, stats: RunStats, now: dt.datetime
) -> dict[str, Any]:
    return {
        "id": run.id, "run_id": run.id, "name": run.name, "agent_id": run.agent_id,
        "algorithm": run.algorithm, "env_id": run.env_id, "status": run.status,
        "start_time": run.start_time, "end_time": run.end_time,
        "duration_s": duration_s(run, now), "timesteps": run.timesteps, "tags": run.tags,
        "config": finite_json(run.config), "episodes": episodes, "metrics": metrics,
        "stats": RunStatsPublic.of(stats), "records_lost": run.records_lost,
        "group_id": run.group_id,
    }  # fmt: skip


def run_summaries(store: Store, runs: Sequence[Run], list_points: int) -> list[RunSummaryPublic]:
    ids = [r.id for r in runs]
    counts = store.count_episodes_by_run(ids)
    charts = store.run_charts(ids, max_points=list_points, window=WIN_WINDOW)
    # The last win rate is the rolling win rate's last point, which the charts already hold
    # (both are the mean over the last WIN_WINDOW wins): no second read per run.
    stats = {
        run_id: dataclasses.replace(s, last_win_rate=charts[run_id][1][-1].win_rate)
        if charts[run_id][1]
        else s
        for run_id, s in store.run_stats(ids, last_win_rate=False).items()
    }
    now = dt.datetime.now(dt.UTC)
    return [
        RunSummaryPublic(
            **_summary_fields(
                r,
                counts.get(r.id, 0),
                _chart_public(*charts[r.id]),
                stats.get(r.id, RunStats()),
                now,
            )  # fmt: skip
        )
        for r in runs
    ]


def run_detail(store: Store, run: Run, max_points: int) -> RunPublic:
    counts = store.count_episodes_by_run([run.id])
    stats = store.run_stats([run.id]).get(run.id, RunStats())
    checkpoints = store.list_checkpoints(run.id)
    fields = _summary_fields(
        run, counts.get(run.id, 0), chart_metrics(store, run.id, max_points), stats,
        dt.datetime.now(dt.UTC),
    )  # fmt: skip
    return RunPublic(
        **fields,
        backend=run.backend, metadata=finite_json(run.metadata), error=run.error,
        notes=run.notes, seed=run.seed, parent_run_id=run.parent_run_id,
        total_timesteps=run.total_timesteps, heartbeat_at=run.heartbeat_at,
        checkpoint_paths=[
            CheckpointPathPublic(episode=c.episode_index, path=c.path) for c in checkpoints
        ],
    )  # fmt: skip
