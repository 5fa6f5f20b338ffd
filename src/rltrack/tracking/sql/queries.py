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
    case,
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


def episode_series(conn: Connection, run_id: str, max_points: int) -> EpisodeSeries:
    """Finished episodes (with a finite reward) by index. Above ``max_points`` the index range
    is cut into at most ``max_points // 2`` buckets of equal width, each keeping its min and
    max reward episode, so a single spike survives the sampling.

    A long run (at least ``max_points // 4`` blocks of 100) is sampled from the rollups alone,
    its buckets being whole blocks: O(blocks), not O(episodes). A shorter one is read whole
    (fewer than 25 rows per point asked for) and bucketed by episode."""
    if max_points < 2:
        raise ValueError("max_points must be at least 2")
    sp = rollups.span(conn, run_id)
    if sp is None:
        return EpisodeSeries([], total=0, sampled=False)
    buckets = max_points // 2
    if sp.rewarded > max_points and sp.last_block - sp.first_block + 1 >= max_points // 4:
        per_bucket = math.ceil((sp.last_block - sp.first_block + 1) / buckets)
        points = [
            EpisodePoint(
                episode=e.idx, total_reward=e.reward, steps=e.steps, win=e.win, epsilon=e.epsilon
            )
            for e in rollups.bucket_extremes(conn, run_id, sp.first_block, per_bucket)
        ]
        return EpisodeSeries(points, total=sp.rewarded, sampled=True)
    ep = EPISODES.c
    rows = conn.execute(
        select(ep.idx, ep.total_reward, ep.steps, ep.win, ep.epsilon)
        .where(ep.run_id == run_id, ep.status != "started", ep.total_reward.is_not(None))
        .order_by(ep.idx)
    )
    all_points = [_point(r) for r in rows if math.isfinite(r.total_reward)]
    if len(all_points) <= max_points:
        return EpisodeSeries(all_points, total=len(all_points), sampled=False)
    return EpisodeSeries(_bucket_extremes(all_points, buckets), total=len(all_points), sampled=True)


def _bucket_extremes(points: list[EpisodePoint], buckets: int) -> list[EpisodePoint]:
    """Each equal-width index bucket's min and max reward point (ties: the first)."""
    first = points[0].episode
    width = math.ceil((points[-1].episode - first + 1) / buckets)
    lows: dict[int, EpisodePoint] = {}
    highs: dict[int, EpisodePoint] = {}
    for p in points:
        assert p.total_reward is not None
        k = (p.episode - first) // width
        lo, hi = lows.get(k), highs.get(k)
        if lo is None or p.total_reward < lo.total_reward:  # type: ignore[operator]
            lows[k] = p
        if hi is None or p.total_reward > hi.total_reward:  # type: ignore[operator]
            highs[k] = p
    chosen = {p.episode: p for p in (*lows.values(), *highs.values())}
    return [chosen[i] for i in sorted(chosen)]


def rolling_win_rate(
    conn: Connection, run_id: str, max_points: int, window: int
) -> list[WinRatePoint]:
    """Mean win over the last ``window`` episodes that have one, at each episode, thinned to
    ``max_points`` counted back from the latest. For a long run (at least ``max_points // 4``
    blocks of 100, and the 100-episode window of the rollups) the points are the ends of the
    run's blocks, where the rolling value is the block's own mean, and the latest episode,
    computed exactly; a shorter run is computed from its episodes."""
    if max_points < 1 or window < 1:
        raise ValueError("max_points and window must be at least 1")
    sp = rollups.span(conn, run_id)
    if sp is None or sp.win_n == 0:
        return []
    blocks = sp.last_block - sp.first_block + 1
    if sp.win_n <= max_points or window != rollups.BLOCK or blocks < max_points // 4:
        return _rolling_win_rate_scan(conn, run_id, sp.win_n, max_points, window)
    ep = EPISODES.c
    last = conn.execute(
        select(ep.idx, ep.win)
        .where(ep.run_id == run_id, ep.win.is_not(None))
        .order_by(ep.idx.desc())
        .limit(window)
    ).all()
    last_idx = int(last[0][0])
    # Blocks that end before the latest episode; the latest one is computed exactly below.
    below = last_idx // rollups.BLOCK
    step = max(1, math.ceil((below - sp.first_block) / max(1, max_points - 1)))
    points = [
        WinRatePoint(episode=i, win_rate=w)
        for i, w in rollups.block_win_rates(
            conn, run_id, below_block=below, last_block=below - 1, step=step
        )
    ]
    points.append(WinRatePoint(episode=last_idx, win_rate=sum(w for _, w in last) / len(last)))
    return points


def _rolling_win_rate_scan(
    conn: Connection, run_id: str, n: int, max_points: int, window: int
) -> list[WinRatePoint]:
    ep = EPISODES.c
    with_win = [ep.run_id == run_id, ep.win.is_not(None)]
    step = math.ceil(n / max_points)
    # A running sum and its value `window` rows back: a moving average that costs O(1) a row.
    # (A ROWS BETWEEN k PRECEDING frame recomputes avg() over k rows for every row on
    # PostgreSQL, whose float avg has no inverse transition: ~10 s on a million episodes.)
    running = (
        select(
            ep.idx,
            func.sum(ep.win).over(order_by=ep.idx, rows=(None, 0)).label("cum"),
            func.row_number().over(order_by=ep.idx).label("rn"),
        )
        .where(*with_win)
        .subquery()
    )
    lagged = select(
        running.c.idx,
        running.c.rn,
        running.c.cum,
        func.lag(running.c.cum, window, 0.0).over(order_by=running.c.rn).label("before"),
    ).subquery()
    in_window = case((lagged.c.rn < window, lagged.c.rn), else_=window)
    stmt = select(lagged.c.idx, (lagged.c.cum - lagged.c.before) * 1.0 / in_window).order_by(
        lagged.c.idx
    )
    if step > 1:
        # Counted from the end so that the latest value is always a point.
        stmt = stmt.where((n - lagged.c.rn) % step == 0)
    return [WinRatePoint(episode=int(i), win_rate=float(w)) for i, w in conn.execute(stmt)]


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
