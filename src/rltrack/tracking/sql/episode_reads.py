"""Episode-level reads of the SQL store for the REST API: filtered keyset pages in several
orders, summaries, batches for export, metric keys, trades and steps.

Pages read O(page) rows when ordered by index; ordered by reward or steps they sort the
run's matching episodes in the database (no per-run index on those columns).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Table,
    and_,
    case,
    cast,
    func,
    literal_column,
    or_,
    select,
    true,
)

from rltrack.tracking.sql import queries
from rltrack.tracking.sql.models import EpisodeRow, StepRow, TradeRow
from rltrack.tracking.sql.reads import finite_or_null, json_number
from rltrack.tracking.store import (
    EPISODE_SORTS,
    EpisodeFilter,
    EpisodeKey,
    EpisodeSummary,
    StatSummary,
)

if TYPE_CHECKING:
    from sqlalchemy import Connection, RowMapping

EPISODES: Table = EpisodeRow.__table__  # type: ignore[assignment]
TRADES: Table = TradeRow.__table__  # type: ignore[assignment]
STEPS: Table = StepRow.__table__  # type: ignore[assignment]
SUMMARY_COLUMNS = ("total_reward", "steps", "win", "epsilon")
# json_each / jsonb_typeof type names → one vocabulary.
_JSON_TYPES = {
    "integer": "number", "real": "number", "number": "number", "true": "boolean",
    "false": "boolean", "boolean": "boolean", "text": "string", "string": "string",
    "null": "null", "object": "object", "array": "array",
}  # fmt: skip


def episode_conditions(
    dialect: str, run_id: str, flt: EpisodeFilter | None
) -> list[ColumnElement[bool]]:
    ep = EPISODES.c
    where: list[ColumnElement[bool]] = [ep.run_id == run_id]
    if flt is None:
        return where
    if flt.status is not None:
        where.append(ep.status == flt.status)
    bounds: list[tuple[ColumnElement[Any], float | None, float | None]] = [
        (finite_or_null(dialect, ep.total_reward), flt.min_reward, flt.max_reward),
        (json_number(dialect, ep.metrics, ("pnl",)), flt.min_pnl, flt.max_pnl),
        (json_number(dialect, ep.metrics, ("sharpe_ratio",)), flt.min_sharpe, flt.max_sharpe),
    ]
    for value, lo, hi in bounds:
        if lo is not None:
            where.append(value >= lo)
        if hi is not None:
            where.append(value <= hi)
    return where


def _sort_value(dialect: str, name: str) -> ColumnElement[Any]:
    ep = EPISODES.c
    if name == "total_reward":
        return finite_or_null(dialect, ep.total_reward)
    if name == "steps":
        return ep.steps
    return ep.idx


def _after(value: ColumnElement[Any], key: EpisodeKey, desc: bool) -> ColumnElement[bool]:
    """Rows after ``key`` in the order (value, idx), both ascending or both descending, with
    missing values last in either direction."""
    idx = EPISODES.c.idx
    past_idx = idx < key.index if desc else idx > key.index
    if key.value is None:
        return and_(value.is_(None), past_idx)
    past_value = value < key.value if desc else value > key.value
    return or_(past_value, and_(value == key.value, past_idx), value.is_(None))


def episode_count(
    conn: Connection, run_id: str, flt: EpisodeFilter | None, where: Sequence[Any]
) -> int:
    """Episodes matching the filter: from the rollups when it is at most a status (no scan of
    a long run), else counted over the matching rows."""
    if flt is None or flt == EpisodeFilter(status=flt.status):
        return queries.count_episodes(conn, run_id, None if flt is None else flt.status)
    return int(conn.execute(select(func.count()).select_from(EPISODES).where(*where)).scalar_one())


def episode_page(
    conn: Connection,
    run_id: str,
    *,
    flt: EpisodeFilter | None,
    sort: str,
    after: EpisodeKey | None,
    limit: int,
) -> tuple[list[RowMapping], int, EpisodeKey | None]:
    """Rows of one keyset page, the count of all matching rows, the key of the next page."""
    name, desc = sort.removeprefix("-"), sort.startswith("-")
    if name not in EPISODE_SORTS:
        raise ValueError(f"unknown episode sort {sort!r}")
    if after is not None and after.sort != sort:
        raise ValueError(f"a cursor of sort {after.sort!r} cannot continue sort {sort!r}")
    dialect = conn.dialect.name
    ep = EPISODES.c
    where = episode_conditions(dialect, run_id, flt)
    total = episode_count(conn, run_id, flt, where)
    page_where = list(where)
    value: ColumnElement[Any]
    if name == "index":
        order = [ep.idx.desc() if desc else ep.idx.asc()]
        if after is not None:
            page_where.append(ep.idx < after.index if desc else ep.idx > after.index)
        value = ep.idx
    else:
        value = _sort_value(dialect, name)
        ordered = value.desc() if desc else value.asc()
        order = [ordered.nulls_last(), ep.idx.desc() if desc else ep.idx.asc()]
        if after is not None:
            page_where.append(_after(value, after, desc))
    stmt = select(EPISODES, value.label("sort_value")).where(*page_where).order_by(*order)
    rows = list(conn.execute(stmt.limit(limit + 1)).mappings())
    next_key = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        v = last["sort_value"]
        next_key = EpisodeKey(sort, None if v is None else float(v), int(last["idx"]))
    return rows, total, next_key


def episodes_after(
    conn: Connection, run_id: str, after: int | None, limit: int
) -> list[RowMapping]:
    ep = EPISODES.c
    stmt = select(EPISODES).where(ep.run_id == run_id)
    if after is not None:
        stmt = stmt.where(ep.idx > after)
    return list(conn.execute(stmt.order_by(ep.idx).limit(limit)).mappings())


def _json_items(dialect: str) -> Any:
    """The episode metrics as rows (key, value, type), joined to each episode."""
    if dialect == "postgresql":
        items = func.jsonb_each(EPISODES.c.metrics).table_valued("key", "value").alias("item")
        return items, func.jsonb_typeof(items.c.value)
    items = func.json_each(EPISODES.c.metrics).table_valued("key", "value", "type").alias("item")
    return items, items.c.type


def _json_item_number(dialect: str, items: Any, kind: Any) -> ColumnElement[Any]:
    if dialect == "postgresql":
        # jsonb #>> '{}': the scalar as text (its digits), then a float.
        text = items.c.value.op("#>>")(literal_column("'{}'"))
        return case((kind == "number", cast(text, Float)))
    return case((kind.in_(("integer", "real")), items.c.value))


def _median(conn: Connection, value: ColumnElement[Any], where: Sequence[Any], n: int) -> Any:
    """The middle value (the mean of the two middle ones for an even count), sorted by the
    database: O(n log n) there, O(1) rows here."""
    if n == 0:
        return None
    stmt = (
        select(value.label("v"))
        .select_from(EPISODES)
        .where(*where, value.is_not(None))
        .order_by(value)
        .offset((n - 1) // 2)
        .limit(1 if n % 2 else 2)
    )
    middle = [float(v) for (v,) in conn.execute(stmt)]
    return sum(middle) / len(middle) if middle else None


def episode_summary(conn: Connection, run_id: str, flt: EpisodeFilter | None) -> EpisodeSummary:
    dialect = conn.dialect.name
    ep = EPISODES.c
    where = episode_conditions(dialect, run_id, flt)
    values = {name: finite_or_null(dialect, ep[name]) for name in SUMMARY_COLUMNS}
    aggregates: list[ColumnElement[Any]] = [func.count()]
    for v in values.values():
        aggregates += [func.count(v), func.avg(v), func.min(v), func.max(v)]
    row = conn.execute(select(*aggregates).select_from(EPISODES).where(*where)).one()
    count = int(row[0])
    stats: dict[str, StatSummary] = {}
    for i, (name, v) in enumerate(values.items()):
        n, mean, lo, hi = row[1 + 4 * i : 5 + 4 * i]
        stats[name] = StatSummary(
            count=int(n), mean=_f(mean), median=_median(conn, v, where, int(n)), min=_f(lo),
            max=_f(hi),
        )  # fmt: skip

    for key, stat in _metric_key_stats(conn, where):
        stats.setdefault(key, stat)  # a metric named like a column would not shadow it
    return EpisodeSummary(count=count, metrics=stats)


def _metric_key_stats(
    conn: Connection, where: Sequence[ColumnElement[bool]]
) -> list[tuple[str, StatSummary]]:
    """Count, mean, median, min and max of every numeric key of the episode metrics: one
    GROUP BY over the metrics, then one ordered OFFSET query per key for its median (faster
    on SQLite than numbering every value with a window, measured)."""
    items, kind = _json_items(conn.dialect.name)
    number = _json_item_number(conn.dialect.name, items, kind)
    numeric = number.is_not(None)
    joined = EPISODES.join(items, true())
    by_key = (
        select(items.c.key, func.count(), func.avg(number), func.min(number), func.max(number))
        .select_from(joined)
        .where(*where, numeric)
        .group_by(items.c.key)
        .order_by(items.c.key)
    )
    out = []
    for key, n, mean, lo, hi in list(conn.execute(by_key)):
        n = int(n)
        middle = (
            select(number)
            .select_from(joined)
            .where(*where, items.c.key == key, numeric)
            .order_by(number)
            .offset((n - 1) // 2)
            .limit(1 if n % 2 else 2)
        )
        mid = [float(v) for (v,) in conn.execute(middle)]
        median = sum(mid) / len(mid) if mid else None
        out.append(
            (str(key), StatSummary(count=n, mean=_f(mean), median=median, min=_f(lo), max=_f(hi)))
        )
    return out


def episode_metric_types(conn: Connection, run_id: str) -> dict[str, set[str]]:
    items, kind = _json_items(conn.dialect.name)
    stmt = (
        select(items.c.key, kind)
        .select_from(EPISODES.join(items, true()))
        .where(EPISODES.c.run_id == run_id)
        .distinct()
    )
    out: dict[str, set[str]] = {}
    for key, k in conn.execute(stmt):
        out.setdefault(str(key), set()).add(_JSON_TYPES.get(str(k), str(k)))
    return dict(sorted(out.items()))


def trade_rows(conn: Connection, episode_id: int) -> list[RowMapping]:
    t = TRADES.c
    return list(
        conn.execute(select(TRADES).where(t.episode_id == episode_id).order_by(t.seq)).mappings()
    )


def trades_after(
    conn: Connection, run_id: str, after: tuple[int, int] | None, limit: int
) -> list[RowMapping]:
    """The run's trades by (episode index, seq), each with ``episode_index``."""
    t, ep = TRADES.c, EPISODES.c
    stmt = (
        select(ep.idx.label("episode_index"), TRADES)
        .join(EPISODES, t.episode_id == ep.id)
        .where(ep.run_id == run_id)
    )
    if after is not None:
        idx, seq = after
        # idx >= the last one's bounds the index range; the OR alone would scan from the start.
        stmt = stmt.where(ep.idx >= idx, or_(ep.idx > idx, t.seq > seq))
    return list(conn.execute(stmt.order_by(ep.idx, t.seq).limit(limit)).mappings())


def step_rows(conn: Connection, episode_id: int) -> list[RowMapping]:
    s = STEPS.c
    return list(
        conn.execute(select(STEPS).where(s.episode_id == episode_id).order_by(s.step)).mappings()
    )


def _f(value: Any) -> float | None:
    return None if value is None else float(value)
