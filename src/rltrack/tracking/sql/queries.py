"""Read queries of the SQL store that the REST API needs: pages, chart series, lookups.

Each function takes an open Connection and reads O(page) or O(points) rows where the
schema allows it. The chart series (:func:`episode_series`, :func:`rolling_win_rate`) still
scan a run's episodes once (GROUP BY bucket / window functions); per-run rollups that make
them O(points) are still to do.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Table,
    func,
    select,
)

from rltrack.tracking.entities import Checkpoint
from rltrack.tracking.sql import rollups
from rltrack.tracking.sql.models import CheckpointRow, EpisodeRow, RunRow
from rltrack.tracking.store import EpisodePoint, EpisodeSeries, WinRatePoint

if TYPE_CHECKING:
    from sqlalchemy import Connection, RowMapping

EPISODES: Table = EpisodeRow.__table__  # type: ignore[assignment]
RUNS: Table = RunRow.__table__  # type: ignore[assignment]
CHECKPOINTS: Table = CheckpointRow.__table__  # type: ignore[assignment]


def ping(conn: Connection) -> None:
    conn.execute(select(1)).scalar()


def agent_ids(conn: Connection) -> list[str]:
    stmt = (
        select(RUNS.c.agent_id)
        .where(RUNS.c.agent_id.is_not(None))
        .distinct()
        .order_by(RUNS.c.agent_id)
    )
    return [str(a) for (a,) in conn.execute(stmt)]


def count_episodes_by_run(conn: Connection, run_ids: Sequence[str]) -> dict[str, int]:
    """Episodes recorded per run: the ended ones from the rollups, plus those still running."""
    if not run_ids:
        return {}
    ended = rollups.totals(conn, run_ids)
    ep = EPISODES.c
    running = {
        str(r): int(n)
        for r, n in conn.execute(
            select(ep.run_id, func.count())
            .where(ep.run_id.in_(list(run_ids)), ep.status == "started")
            .group_by(ep.run_id)
        )
    }
    out = {r: (ended[r].ended if r in ended else 0) + int(running.get(r, 0)) for r in run_ids}
    return {r: n for r, n in out.items() if n}


def count_episodes(conn: Connection, run_id: str, status: str | None = None) -> int:
    """Episodes of a run, or those with ``status``, without scanning the episodes: the
    ended ones from the rollups, the running ones through the (run_id, status) index."""
    ep = EPISODES.c
    running = 0
    if status in (None, "started"):
        running = int(
            conn.execute(
                select(func.count()).where(ep.run_id == run_id, ep.status == "started")
            ).scalar_one()
        )
        if status == "started":
            return running
    t = rollups.totals(conn, [run_id]).get(run_id)
    ended = 0 if t is None else (t.count(status) if status is not None else t.ended)
    return ended + running


def episode_row(conn: Connection, episode_id: int) -> RowMapping | None:
    return conn.execute(select(EPISODES).where(EPISODES.c.id == episode_id)).mappings().first()


def _point(r: Any) -> EpisodePoint:
    return EpisodePoint(
        episode=int(r.idx), total_reward=r.total_reward, steps=r.steps, win=r.win,
        epsilon=r.epsilon,
    )  # fmt: skip


# -- chart series ----------------------------------------------------------------------------
# A long run (at least max_points // 4 blocks of 100, and more values than points asked for) is
# sampled from its rollups alone: O(blocks), not O(episodes). A shorter one is read whole
# (fewer than 25 rows per point asked for), several runs in one query for the runs list.


def _from_blocks(sp: rollups.Span | None, count: int, max_points: int) -> bool:
    return (
        sp is not None
        and count > max_points
        and sp.last_block - sp.first_block + 1 >= max_points // 4
    )


def _chart_rows(conn: Connection, run_ids: Sequence[str]) -> dict[str, list[EpisodePoint]]:
    """Every ended episode of these runs, by index: the rows of runs read whole."""
    out: dict[str, list[EpisodePoint]] = {r: [] for r in run_ids}
    if not run_ids:
        return out
    ep = EPISODES.c
    rows = conn.execute(
        select(ep.run_id, ep.idx, ep.total_reward, ep.steps, ep.win, ep.epsilon)
        .where(ep.run_id.in_(list(run_ids)), ep.status != "started")
        .order_by(ep.run_id, ep.idx)
    )
    for r in rows:
        out[str(r.run_id)].append(_point(r))
    return out


def _series_of(rows: list[EpisodePoint], max_points: int) -> EpisodeSeries:
    """Finished episodes with a finite reward; above ``max_points`` the index range is cut
    into ``max_points // 2`` buckets of equal width, each keeping its min and max reward
    episode (ties: the first), so a single spike survives the sampling."""
    points = [p for p in rows if p.total_reward is not None and math.isfinite(p.total_reward)]
    if len(points) <= max_points:
        return EpisodeSeries(points, total=len(points), sampled=False)
    first = points[0].episode
    width = math.ceil((points[-1].episode - first + 1) / (max_points // 2))
    lows: dict[int, EpisodePoint] = {}
    highs: dict[int, EpisodePoint] = {}
    for p in points:
        k = (p.episode - first) // width
        reward = p.total_reward
        assert reward is not None
        lo, hi = lows.get(k), highs.get(k)
        if lo is None or reward < lo.total_reward:  # type: ignore[operator]
            lows[k] = p
        if hi is None or reward > hi.total_reward:  # type: ignore[operator]
            highs[k] = p
    chosen = {p.episode: p for p in (*lows.values(), *highs.values())}
    return EpisodeSeries([chosen[i] for i in sorted(chosen)], total=len(points), sampled=True)


def _series_of_blocks(
    conn: Connection, run_id: str, sp: rollups.Span, max_points: int
) -> EpisodeSeries:
    """The same buckets made of whole blocks, their extremes chosen in SQL from the rollups."""
    per_bucket = math.ceil((sp.last_block - sp.first_block + 1) / (max_points // 2))
    points = [
        EpisodePoint(
            episode=e.idx, total_reward=e.reward, steps=e.steps, win=e.win, epsilon=e.epsilon
        )
        for e in rollups.bucket_extremes(conn, run_id, sp.first_block, per_bucket)
    ]
    return EpisodeSeries(points, total=sp.rewarded, sampled=True)


def _win_rates_of(rows: list[EpisodePoint], max_points: int, window: int) -> list[WinRatePoint]:
    """At each episode that has a win, the mean win of the last ``window`` such episodes
    (fewer at the start); every ``ceil(n / max_points)``-th, counted back from the latest."""
    wins = [(p.episode, p.win) for p in rows if p.win is not None and math.isfinite(p.win)]
    n = len(wins)
    step = math.ceil(n / max_points) if n else 1
    cum = [0.0]
    for _, w in wins:
        cum.append(cum[-1] + w)
    return [
        WinRatePoint(episode=idx, win_rate=(cum[rn] - cum[max(0, rn - window)]) / min(rn, window))
        for rn, (idx, _) in enumerate(wins, start=1)
        if (n - rn) % step == 0
    ]


def _win_rates_of_blocks(
    conn: Connection, run_id: str, sp: rollups.Span, max_points: int, window: int
) -> list[WinRatePoint]:
    """The ends of the run's blocks, where the 100-episode rolling value is the block's own
    mean, thinned counted back from the end, and the latest episode, computed exactly."""
    ep = EPISODES.c
    last = conn.execute(
        select(ep.idx, ep.win)
        .where(ep.run_id == run_id, ep.win.is_not(None))
        .order_by(ep.idx.desc())
        .limit(window)
    ).all()
    last_idx = int(last[0][0])
    below = last_idx // rollups.BLOCK  # blocks that end before the latest episode
    step = max(1, math.ceil((below - sp.first_block) / max(1, max_points - 1)))
    points = [
        WinRatePoint(episode=i, win_rate=w)
        for i, w in rollups.block_win_rates(
            conn, run_id, below_block=below, last_block=below - 1, step=step
        )
    ]
    points.append(WinRatePoint(episode=last_idx, win_rate=sum(w for _, w in last) / len(last)))
    return points


def _check(max_points: int, window: int) -> None:
    if max_points < 2 or window < 1:
        raise ValueError("max_points must be at least 2 and window at least 1")


def run_charts(
    conn: Connection, run_ids: Sequence[str], max_points: int, window: int
) -> dict[str, tuple[EpisodeSeries, list[WinRatePoint]]]:
    """The reward series and rolling win rate of each run: the runs read whole in one query,
    the long ones from their rollups."""
    _check(max_points, window)
    spans = rollups.spans(conn, run_ids)
    blocks_series = {
        r for r in run_ids if _from_blocks(spans.get(r), _rewarded(spans, r), max_points)
    }
    blocks_wins = {
        r
        for r in run_ids
        if window == rollups.BLOCK and _from_blocks(spans.get(r), _win_n(spans, r), max_points)
    }
    rows = _chart_rows(conn, [r for r in run_ids if not (r in blocks_series and r in blocks_wins)])
    out: dict[str, tuple[EpisodeSeries, list[WinRatePoint]]] = {}
    for r in run_ids:
        sp = spans.get(r)
        if sp is not None and sp.win_n == 0:
            wins: list[WinRatePoint] = []
        elif r in blocks_wins:
            assert sp is not None
            wins = _win_rates_of_blocks(conn, r, sp, max_points, window)
        else:
            wins = _win_rates_of(rows[r], max_points, window)
        if r in blocks_series:
            assert sp is not None
            series = _series_of_blocks(conn, r, sp, max_points)
        else:
            series = _series_of(rows[r], max_points)
        out[r] = (series, wins)
    return out


def _rewarded(spans: dict[str, rollups.Span], run_id: str) -> int:
    sp = spans.get(run_id)
    return 0 if sp is None else sp.rewarded


def _win_n(spans: dict[str, rollups.Span], run_id: str) -> int:
    sp = spans.get(run_id)
    return 0 if sp is None else sp.win_n


def episode_series(conn: Connection, run_id: str, max_points: int) -> EpisodeSeries:
    """A run's finished episodes with a finite reward, downsampled to ``max_points``."""
    _check(max_points, 1)
    sp = rollups.span(conn, run_id)
    if sp is not None and _from_blocks(sp, sp.rewarded, max_points):
        return _series_of_blocks(conn, run_id, sp, max_points)
    return _series_of(_chart_rows(conn, [run_id])[run_id], max_points)


def rolling_win_rate(
    conn: Connection, run_id: str, max_points: int, window: int
) -> list[WinRatePoint]:
    """Mean win over the last ``window`` episodes that have one, thinned to ``max_points``
    counted back from the latest episode."""
    _check(max(2, max_points), window)
    sp = rollups.span(conn, run_id)
    if sp is None or sp.win_n == 0:
        return []
    if window == rollups.BLOCK and _from_blocks(sp, sp.win_n, max_points):
        return _win_rates_of_blocks(conn, run_id, sp, max_points, window)
    return _win_rates_of(_chart_rows(conn, [run_id])[run_id], max_points, window)


def checkpoint_at(conn: Connection, run_id: str, episode_index: int) -> Checkpoint | None:
    ck = CHECKPOINTS.c
    r = (
        conn.execute(
            select(CHECKPOINTS)
            .where(
                ck.run_id == run_id,
                ck.episode_index.is_not(None),
                ck.episode_index <= episode_index,
            )
            .order_by(ck.episode_index.desc(), ck.timestep.desc(), ck.id.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    if r is None:
        return None
    return Checkpoint(
        id=r["id"], run_id=r["run_id"], path=r["path"], timestep=r["timestep"],
        episode_index=r["episode_index"], sha256=r["sha256"], size=r["size"], kind=r["kind"],
        created_at=r["created_at"], metrics=r["metrics"] or {},
    )  # fmt: skip
