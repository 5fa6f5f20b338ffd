"""Completeness queries of the SQL store: what `rltrack check` reports and `--repair` fixes."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import Table, and_, exists, func, select, update

from rltrack.tracking.entities import EpisodeHealth
from rltrack.tracking.sql.models import EpisodeRow, RunRow, TradeRow

if TYPE_CHECKING:
    from sqlalchemy import Connection

EPISODES: Table = EpisodeRow.__table__  # type: ignore[assignment]
TRADES: Table = TradeRow.__table__  # type: ignore[assignment]
RUNS: Table = RunRow.__table__  # type: ignore[assignment]
LIST_LIMIT = 1000


def episode_health(conn: Connection, run_id: str) -> EpisodeHealth:
    ep = EPISODES.c
    counts = {
        status: int(n)
        for status, n in conn.execute(
            select(ep.status, func.count()).where(ep.run_id == run_id).group_by(ep.status)
        )
    }
    started = [
        int(i)
        for (i,) in conn.execute(
            select(ep.idx)
            .where(ep.run_id == run_id, ep.status == "started")
            .order_by(ep.idx)
            .limit(LIST_LIMIT)
        )
    ]
    missing = [
        int(i)
        for (i,) in conn.execute(
            select(ep.idx)
            .where(
                ep.run_id == run_id,
                ep.status.in_(("completed", "truncated")),
                (ep.total_reward.is_(None)) | (ep.steps.is_(None)) | (ep.end_time.is_(None)),
            )
            .order_by(ep.idx)
            .limit(LIST_LIMIT)
        )
    ]
    # Trading episodes say how many trades they made; each of those must be in the trades table.
    trades_count = ep.metrics["trades_count"].as_float()
    missing_trades = [
        int(i)
        for (i,) in conn.execute(
            select(ep.idx)
            .where(
                ep.run_id == run_id,
                trades_count > 0,
                ~exists().where(TRADES.c.episode_id == ep.id),
            )
            .order_by(ep.idx)
            .limit(LIST_LIMIT)
        )
    ]
    return EpisodeHealth(
        counts=counts,
        started=started,
        missing_metrics=missing,
        missing_trades=missing_trades,
        gaps=_gaps(conn, run_id),
    )


def _gaps(conn: Connection, run_id: str) -> list[tuple[int, int]]:
    """Ranges of indices (first, last) that no episode has, between 0 and the highest one."""
    ep = EPISODES.c
    nxt = func.lead(ep.idx).over(order_by=ep.idx).label("nxt")
    inner = select(ep.idx.label("idx"), nxt).where(ep.run_id == run_id).subquery()
    gaps = [
        (int(a) + 1, int(b) - 1)
        for a, b in conn.execute(
            select(inner.c.idx, inner.c.nxt)
            .where(inner.c.nxt - inner.c.idx > 1)
            .order_by(inner.c.idx)
            .limit(LIST_LIMIT)
        )
    ]
    first = conn.execute(select(func.min(ep.idx)).where(ep.run_id == run_id)).scalar()
    if first is not None and first > 0:
        gaps.insert(0, (0, int(first) - 1))
    return gaps


def finalize_started(conn: Connection, run_id: str, status: str, at: dt.datetime) -> int:
    """Close every episode left `started` with ``status`` (``error``); returns how many."""
    ep = EPISODES.c
    result = conn.execute(
        update(EPISODES)
        .where(and_(ep.run_id == run_id, ep.status == "started"))
        # What the episode did after its start died with the process: steps and reward stay
        # unknown (NULL) rather than a made-up zero.
        .values(status=status, end_time=at)
    )
    return int(result.rowcount or 0)


def mark_run_failed(conn: Connection, run_id: str, error: str, at: dt.datetime) -> None:
    conn.execute(
        update(RUNS)
        .where(RUNS.c.id == run_id, RUNS.c.status == "running")
        .values(status="failed", error=error, end_time=at)
    )
