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
    BigInteger,
    ColumnElement,
    Table,
    case,
    func,
    literal_column,
    or_,
    select,
)

from rltrack.tracking.entities import Checkpoint
from rltrack.tracking.sql.models import CheckpointRow, EpisodeRow, RunRow
from rltrack.tracking.store import EpisodePoint, EpisodeSeries, WinRatePoint

if TYPE_CHECKING:
    from sqlalchemy import Connection, RowMapping

EPISODES: Table = EpisodeRow.__table__  # type: ignore[assignment]
RUNS: Table = RunRow.__table__  # type: ignore[assignment]
CHECKPOINTS: Table = CheckpointRow.__table__  # type: ignore[assignment]
# Bound parameters of one IN list, well under the drivers' limits (SQLite 32766, libpq 65535).
_IN_CHUNK = 1000


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
    if not run_ids:
        return {}
    ep = EPISODES.c
    stmt = select(ep.run_id, func.count()).where(ep.run_id.in_(list(run_ids))).group_by(ep.run_id)
    return {str(run_id): int(n) for run_id, n in conn.execute(stmt)}


def episode_row(conn: Connection, episode_id: int) -> RowMapping | None:
    return conn.execute(select(EPISODES).where(EPISODES.c.id == episode_id)).mappings().first()


def episode_page(
    conn: Connection,
    run_id: str,
    *,
    status: str | None,
    after: int | None,
    limit: int,
    min_reward: float | None,
    max_reward: float | None,
) -> tuple[list[RowMapping], int, int | None]:
    """Rows of one keyset page (by idx), the count of all matching rows, the next cursor."""
    ep = EPISODES.c
    where: list[ColumnElement[bool]] = [ep.run_id == run_id]
    if status is not None:
        where.append(ep.status == status)
    if min_reward is not None:
        where.append(ep.total_reward >= min_reward)
    if max_reward is not None:
        where.append(ep.total_reward <= max_reward)
    total = int(conn.execute(select(func.count()).select_from(EPISODES).where(*where)).scalar_one())
    page_where = [*where, ep.idx > after] if after is not None else where
    rows = list(
        conn.execute(
            select(EPISODES).where(*page_where).order_by(ep.idx).limit(limit + 1)
        ).mappings()
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = int(rows[-1]["idx"])
    return rows, total, next_cursor


def _point(r: Any) -> EpisodePoint:
    return EpisodePoint(
        episode=int(r.idx), total_reward=r.total_reward, steps=r.steps, win=r.win,
        epsilon=r.epsilon,
    )  # fmt: skip


def episode_series(conn: Connection, run_id: str, max_points: int) -> EpisodeSeries:
    """Finished episodes (with a reward) by index; above ``max_points`` the index range is cut
    into ``max_points // 2`` buckets of equal width, each keeping its min and max reward
    episode, so a single spike survives the sampling."""
    if max_points < 2:
        raise ValueError("max_points must be at least 2")
    ep = EPISODES.c
    finished = [ep.run_id == run_id, ep.total_reward.is_not(None)]
    total, lo, hi = conn.execute(
        select(func.count(), func.min(ep.idx), func.max(ep.idx)).where(*finished)
    ).one()
    total = int(total)
    cols = (ep.idx, ep.total_reward, ep.steps, ep.win, ep.epsilon)
    if total <= max_points:
        rows = conn.execute(select(*cols).where(*finished).order_by(ep.idx))
        return EpisodeSeries([_point(r) for r in rows], total=total, sampled=False)
    buckets = max_points // 2
    width = max(1, math.ceil((int(hi) - int(lo) + 1) / buckets))
    # Literal integers: the same expression appears in SELECT and GROUP BY, as one text.
    bucket = (ep.idx - literal_column(str(int(lo)), BigInteger)) // literal_column(
        str(width), BigInteger
    )
    if conn.dialect.name == "sqlite":
        points = _extremes_sqlite(conn, finished, bucket)
    else:
        points = _extremes_joined(conn, finished, bucket)
    return EpisodeSeries(points, total=total, sampled=True)


def _extremes_sqlite(
    conn: Connection, where: list[ColumnElement[bool]], bucket: ColumnElement[Any]
) -> list[EpisodePoint]:
    """SQLite takes the bare columns of a min()/max() aggregate query from the row that has
    the minimum or maximum: one GROUP BY scan per extreme, no sort of the whole run."""
    ep = EPISODES.c
    found: dict[int, EpisodePoint] = {}
    for agg in (func.min, func.max):
        stmt = (
            select(agg(ep.total_reward).label("total_reward"), ep.idx, ep.steps, ep.win, ep.epsilon)
            .where(*where)
            .group_by(bucket)
        )
        for r in conn.execute(stmt):
            found.setdefault(int(r.idx), _point(r))
    return [found[i] for i in sorted(found)]


def _extremes_joined(
    conn: Connection, where: list[ColumnElement[bool]], bucket: ColumnElement[Any]
) -> list[EpisodePoint]:
    """Each bucket's min and max reward (one GROUP BY), then the lowest index that has each
    (one hash join): a third of the cost of ranking every row with window functions."""
    ep = EPISODES.c
    agg = (
        select(
            bucket.label("b"),
            func.min(ep.total_reward).label("lo"),
            func.max(ep.total_reward).label("hi"),
        )
        .where(*where)
        .group_by(bucket)
        .cte("buckets")
    )
    ends = (
        select(
            func.min(case((ep.total_reward == agg.c.lo, ep.idx))).label("lo_idx"),
            func.min(case((ep.total_reward == agg.c.hi, ep.idx))).label("hi_idx"),
        )
        .select_from(EPISODES.join(agg, agg.c.b == bucket))
        .where(*where, or_(ep.total_reward == agg.c.lo, ep.total_reward == agg.c.hi))
        .group_by(agg.c.b)
        .subquery()
    )
    chosen = sorted({int(i) for row in conn.execute(select(ends)) for i in row if i is not None})
    # The wide columns are read only for the chosen rows, through the (run_id, idx) index.
    points: list[EpisodePoint] = []
    for start in range(0, len(chosen), _IN_CHUNK):
        rows = conn.execute(
            select(ep.idx, ep.total_reward, ep.steps, ep.win, ep.epsilon)
            .where(where[0], ep.idx.in_(chosen[start : start + _IN_CHUNK]))
            .order_by(ep.idx)
        )
        points.extend(_point(r) for r in rows)
    return points


def rolling_win_rate(
    conn: Connection, run_id: str, max_points: int, window: int
) -> list[WinRatePoint]:
    if max_points < 1 or window < 1:
        raise ValueError("max_points and window must be at least 1")
    ep = EPISODES.c
    with_win = [ep.run_id == run_id, ep.win.is_not(None)]
    n = int(conn.execute(select(func.count()).select_from(EPISODES).where(*with_win)).scalar_one())
    if n == 0:
        return []
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
