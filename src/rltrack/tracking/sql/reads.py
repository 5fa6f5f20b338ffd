"""Run-level reads of the SQL store for the REST API: the runs list's filters and sort keys,
per-run episode statistics, live progress, training-metric series and artifacts.

:func:`run_stats` and :func:`mean_reward_sort_key` read the per-run rollups (rollups.py).
The JSON helpers work on SQLite (JSON as text) and PostgreSQL (jsonb).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Float,
    Table,
    and_,
    case,
    cast,
    extract,
    func,
    literal,
    literal_column,
    or_,
    select,
)

from rltrack.tracking.sql import rollups
from rltrack.tracking.sql.models import (
    ArtifactRow,
    EpisodeRow,
    MetricRow,
    RunGroupMemberRow,
    RunRow,
    RunTagRow,
    UTCDateTime,
)
from rltrack.tracking.store import (
    PARAM_PART,
    RUN_SORTS,
    RUN_STATUSES,
    MetricPoint,
    MetricSeries,
    RunFilter,
    RunStats,
)

if TYPE_CHECKING:
    from sqlalchemy import Connection, RowMapping
    from sqlalchemy.sql.elements import UnaryExpression

RUNS: Table = RunRow.__table__  # type: ignore[assignment]
TAGS: Table = RunTagRow.__table__  # type: ignore[assignment]
EPISODES: Table = EpisodeRow.__table__  # type: ignore[assignment]
METRICS: Table = MetricRow.__table__  # type: ignore[assignment]
ARTIFACTS: Table = ArtifactRow.__table__  # type: ignore[assignment]
# Bound parameters of one IN list, well under the drivers' limits (SQLite 32766, libpq 65535).
IN_CHUNK = 1000
WIN_WINDOW = 100
_NAN = float("nan")


# -- JSON values, on both backends -----------------------------------------------------------
def _sqlite_path(path: Sequence[str]) -> str:
    for part in path:
        if not PARAM_PART.fullmatch(part):
            raise ValueError(f"bad JSON path element {part!r}")
    return "$" + "".join(f'."{p}"' for p in path)


def json_number(dialect: str, column: Any, path: Sequence[str]) -> ColumnElement[Any]:
    """The number at ``path`` in a JSON column; NULL where it is missing or not a number
    (a string that happens to hold digits is not a number)."""
    if dialect == "postgresql":
        node = func.jsonb_extract_path(column, *path)
        text = func.jsonb_extract_path_text(column, *path)
        # CASE, not AND: PostgreSQL may evaluate the cast before a sibling condition.
        return case((func.jsonb_typeof(node) == "number", cast(text, Float)))
    p = _sqlite_path(path)
    return case((func.json_type(column, p).in_(("integer", "real")), func.json_extract(column, p)))


def json_equals(dialect: str, column: Any, path: Sequence[str], raw: str) -> ColumnElement[bool]:
    """The JSON value at ``path`` equals ``raw``: numerically when ``raw`` is a finite
    number, as a boolean for ``true``/``false``, else as a string."""
    try:
        number: float | None = float(raw)
    except ValueError:
        number = None
    if number is not None and math.isfinite(number):
        return json_number(dialect, column, path) == number
    if dialect == "postgresql":
        node = func.jsonb_extract_path(column, *path)
        text = func.jsonb_extract_path_text(column, *path)
        kind = "boolean" if raw in ("true", "false") else "string"
        return and_(func.jsonb_typeof(node) == kind, text == raw)
    p = _sqlite_path(path)
    if raw in ("true", "false"):
        return func.json_type(column, p) == raw
    return and_(func.json_type(column, p) == "text", func.json_extract(column, p) == raw)


def finite_or_null(dialect: str, column: Any) -> ColumnElement[Any]:
    """NaN as NULL. SQLite already stores NaN as NULL; PostgreSQL keeps it (and sorts it above
    every number), so a diverged reward would otherwise poison averages and orderings."""
    if dialect == "postgresql":
        return case((column == _NAN, None), else_=column)
    return column  # type: ignore[no-any-return]


# -- the runs list ---------------------------------------------------------------------------
def stale_cutoff(now: dt.datetime, stale_s: float) -> dt.datetime:
    return now - dt.timedelta(seconds=stale_s)


def run_conditions(
    dialect: str, flt: RunFilter, now: dt.datetime, stale_s: float
) -> list[ColumnElement[bool]]:
    """WHERE clauses of :class:`RunFilter` (its offset, limit and sort aside). A running run
    whose heartbeat is older than ``stale_s`` is reported failed, and filtered the same way."""
    r = RUNS.c
    where: list[ColumnElement[bool]] = []
    if flt.agent_id is not None:
        where.append(r.agent_id == flt.agent_id)
    if flt.algorithm is not None:
        where.append(r.algorithm == flt.algorithm)
    if flt.env_id is not None:
        where.append(r.env_id == flt.env_id)
    if flt.statuses:
        unknown = set(flt.statuses) - set(RUN_STATUSES)
        if unknown:
            raise ValueError(f"unknown run status {sorted(unknown)}")
        cutoff = stale_cutoff(now, stale_s)
        stale = and_(r.status == "running", r.heartbeat_at < cutoff)
        by_status = {
            "running": and_(
                r.status == "running", or_(r.heartbeat_at.is_(None), r.heartbeat_at >= cutoff)
            ),
            "failed": or_(r.status == "failed", stale),
            "completed": r.status == "completed",
            "stopped": r.status == "stopped",
        }
        where.append(or_(*(by_status[s] for s in dict.fromkeys(flt.statuses))))
    if flt.tag is not None:
        where.append(r.id.in_(select(TAGS.c.run_id).where(TAGS.c.tag == flt.tag)))
    if flt.group_id is not None:
        members = RunGroupMemberRow.__table__.c
        where.append(r.id.in_(select(members.run_id).where(members.group_id == flt.group_id)))
    if flt.q:
        where.append(r.name.icontains(flt.q, autoescape=True))
    if flt.started_after is not None:
        where.append(r.start_time >= flt.started_after)
    if flt.started_before is not None:
        where.append(r.start_time <= flt.started_before)
    for name, raw in flt.params:
        parts = name.split(".")
        where.append(
            or_(
                json_equals(dialect, r.config, ("hyperparams", *parts), raw),
                json_equals(dialect, r.config, parts, raw),
            )
        )
    return where


def duration_s(dialect: str, now: dt.datetime, stale_s: float) -> ColumnElement[Any]:
    """Seconds from start to end; to the last heartbeat for a run reported failed because its
    heartbeat is stale; to now while it runs."""
    r = RUNS.c
    now_v = literal(now, UTCDateTime())
    stale = and_(r.status == "running", r.heartbeat_at < stale_cutoff(now, stale_s))
    end = func.coalesce(r.end_time, case((stale, r.heartbeat_at), else_=now_v))
    if dialect == "postgresql":
        return extract("epoch", end - r.start_time)
    return (func.julianday(end) - func.julianday(r.start_time)) * 86400.0


def mean_reward_sort_key(dialect: str) -> ColumnElement[Any]:
    """The mean reward of a run's finished episodes, per row of ``runs``: what
    ``sort=mean_reward`` orders by. Read from the run's rollups (one row per 100 episodes)."""
    b = rollups.BLOCKS.c
    return (
        select(func.sum(b.reward_sum) / func.nullif(func.sum(b.rewarded), 0))
        .where(b.run_id == RUNS.c.id)
        .scalar_subquery()
    )


def episodes_sort_key() -> ColumnElement[Any]:
    """What ``sort=episodes`` orders by: the run's progress counter (kept by its logger), read
    from the run's own row rather than counted over every episode of every run."""
    return RUNS.c.episodes


def run_order(
    dialect: str, sort: str, now: dt.datetime, stale_s: float
) -> list[UnaryExpression[Any]]:
    name = sort.removeprefix("-")
    if name not in RUN_SORTS:
        raise ValueError(f"unknown run sort {sort!r}; choose one of {', '.join(RUN_SORTS)}")
    key: ColumnElement[Any]
    if name == "duration":
        key = duration_s(dialect, now, stale_s)
    elif name == "episodes":
        key = episodes_sort_key()
    elif name == "mean_reward":
        key = mean_reward_sort_key(dialect)
    elif name == "name":
        key = func.lower(RUNS.c.name)  # the same order on both backends, whatever the case
    else:
        key = RUNS.c.start_time
    ordered = key.desc() if sort.startswith("-") else key.asc()
    return [ordered.nulls_last(), RUNS.c.id.asc()]


def run_stats(
    conn: Connection, run_ids: Sequence[str], *, last_win_rate: bool = True
) -> dict[str, RunStats]:
    """Episode statistics per run, for the runs list and the run page, from the runs'
    rollups: O(blocks) per run, not O(episodes). Every run asked for gets an entry (empty
    statistics when it has no episodes). The last win rate costs one O(window) read per run
    that reports wins; ``last_win_rate=False`` skips it."""
    ep = EPISODES.c
    dialect = conn.dialect.name
    ids = list(dict.fromkeys(run_ids))
    totals: dict[str, rollups.Totals] = {}
    for start in range(0, len(ids), IN_CHUNK):
        totals.update(rollups.totals(conn, ids[start : start + IN_CHUNK]))
    out: dict[str, RunStats] = {}
    for run_id in ids:
        t = totals.get(run_id)
        win_rate = None
        # Only ended episodes report a win, and the rollups count those that do (as the
        # charts' rolling win rate does, a run whose rollups count none is skipped).
        if last_win_rate and (t is None or t.win_n > 0):
            # The last WIN_WINDOW episodes that report a win, read backwards through the
            # (run_id, idx) index: O(window) rows per run, whatever the run's length.
            last = (
                select(finite_or_null(dialect, ep.win).label("win"))
                .where(ep.run_id == run_id, ep.win.is_not(None))
                .order_by(ep.idx.desc())
                .limit(WIN_WINDOW)
                .subquery()
            )
            win_rate = _float(conn.execute(select(func.avg(last.c.win))).scalar())
        if t is None:
            out[run_id] = RunStats(last_win_rate=win_rate)
            continue
        out[run_id] = RunStats(
            finished=t.ended,
            mean_reward=t.reward_sum / t.rewarded if t.rewarded else None,
            max_reward=_float(t.reward_max), min_reward=_float(t.reward_min),
            mean_steps=t.steps_sum / t.steps_n if t.steps_n else None,
            last_win_rate=win_rate,
        )  # fmt: skip
    return out


def run_progress_rows(conn: Connection, run_id: str | None) -> list[RowMapping]:
    r = RUNS.c
    stmt = select(r.id, r.status, r.heartbeat_at, r.episodes, r.timesteps).order_by(r.id)
    if run_id is not None:
        stmt = stmt.where(r.id == run_id)
    return list(conn.execute(stmt).mappings())


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


# -- training metrics ------------------------------------------------------------------------
def metric_keys(conn: Connection, run_id: str) -> list[str]:
    m = METRICS.c
    stmt = select(m.key).where(m.run_id == run_id).distinct().order_by(m.key)
    return [str(k) for (k,) in conn.execute(stmt)]


def metric_series(conn: Connection, run_id: str, key: str, max_points: int) -> MetricSeries:
    """A metric by timestep; above ``max_points`` values the timestep range is cut into
    ``max_points // 2`` buckets of equal width, each keeping its lowest and highest value."""
    if max_points < 2:
        raise ValueError("max_points must be at least 2")
    m = METRICS.c
    where = [m.run_id == run_id, m.key == key]
    total, lo, hi = conn.execute(
        select(func.count(), func.min(m.timestep), func.max(m.timestep)).where(*where)
    ).one()
    total = int(total)
    if total <= max_points:
        rows = conn.execute(
            select(m.timestep, m.value, m.episodes).where(*where).order_by(m.timestep)
        )
        return MetricSeries([_metric_point(r) for r in rows], total=total, sampled=False)
    width = max(1, math.ceil((int(hi) - int(lo) + 1) / (max_points // 2)))
    # Literal integers: the same expression is the PARTITION BY of both windows.
    bucket = (m.timestep - literal_column(str(int(lo)), BigInteger)) // literal_column(
        str(width), BigInteger
    )
    ranked = (
        select(
            m.timestep,
            m.value,
            m.episodes,
            func.row_number()
            .over(partition_by=bucket, order_by=(m.value.asc(), m.timestep.asc()))
            .label("low"),
            func.row_number()
            .over(partition_by=bucket, order_by=(m.value.desc(), m.timestep.asc()))
            .label("high"),
        )
        .where(*where)
        .subquery()
    )
    rows = conn.execute(
        select(ranked.c.timestep, ranked.c.value, ranked.c.episodes)
        .where(or_(ranked.c.low == 1, ranked.c.high == 1))
        .order_by(ranked.c.timestep)
    )
    return MetricSeries([_metric_point(r) for r in rows], total=total, sampled=True)


def _metric_point(r: Any) -> MetricPoint:
    episodes = None if r.episodes is None else int(r.episodes)
    return MetricPoint(timestep=int(r.timestep), value=float(r.value), episodes=episodes)


# -- artifacts -------------------------------------------------------------------------------
def artifact_rows(conn: Connection, run_id: str) -> list[RowMapping]:
    a = ARTIFACTS.c
    stmt = select(ARTIFACTS).where(a.run_id == run_id).order_by(a.created_at, a.id)
    return list(conn.execute(stmt).mappings())


def artifact_row(conn: Connection, artifact_id: int) -> RowMapping | None:
    stmt = select(ARTIFACTS).where(ARTIFACTS.c.id == artifact_id)
    return conn.execute(stmt).mappings().first()
