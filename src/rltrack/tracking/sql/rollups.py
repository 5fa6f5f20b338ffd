"""Per-run rollups of episodes: what the charts and counts of a million-episode run read.

A run's episodes are cut by index into blocks of :data:`BLOCK` (100, the win-rate window).
Each block keeps counts by status, the sum, min and max of the finite rewards (with the index
of the min and max episode), and the sums of steps and wins. The write transaction that ends
episodes keeps the blocks they fall in equal to what a scan would give: episodes ending for
the first time (the common case) are added to their blocks' values (:func:`merge`); when
any of them had already ended (a spool replay, a rewrite), the touched blocks are recounted
from the episodes table (:func:`refresh`).

Reads then cost O(blocks), a hundredth of the episodes:
- a downsampled reward chart merges whole blocks into buckets and keeps each bucket's min and
  max episode, exactly as a scan would;
- the rolling win rate over the last 100 episodes, at a block's last index, is the block's
  own mean win;
- totals by status are sums of block counts.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, Table, bindparam, func, literal, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from rltrack.tracking.sql.models import EpisodeBlockRow, EpisodeRow

if TYPE_CHECKING:
    from sqlalchemy import Connection

BLOCK = 100
BLOCKS: Table = EpisodeBlockRow.__table__  # type: ignore[assignment]
EPISODES: Table = EpisodeRow.__table__  # type: ignore[assignment]
ENDED_STATUSES = ("completed", "truncated", "error")
_STATUS_COLUMN = {"completed": "completed", "truncated": "truncated", "error": "errored"}
# The min and max reward episode of a block are kept whole (index, steps, win, epsilon): a
# downsampled chart is then read from the blocks alone.
_EXTREME_FIELDS = ("", "_idx", "_steps", "_win", "_eps")
_VALUE_COLUMNS = (
    "ended", "completed", "truncated", "errored", "rewarded", "reward_sum",
    *(f"reward_min{f}" for f in _EXTREME_FIELDS), *(f"reward_max{f}" for f in _EXTREME_FIELDS),
    "steps_n", "steps_sum", "win_n", "win_sum", "timestep_max", "end_unix_max",
)  # fmt: skip
_SELECTED = (EPISODES.c.idx, EPISODES.c.status, EPISODES.c.total_reward, EPISODES.c.steps,
             EPISODES.c.win, EPISODES.c.epsilon, EPISODES.c.end_timestep,
             EPISODES.c.end_time)  # fmt: skip
# Block ranges read per query when refreshing: bounds the IN/OR list of one statement.
_RANGES_PER_QUERY = 200


@dataclass
class _Acc:
    ended: int = 0
    completed: int = 0
    truncated: int = 0
    errored: int = 0
    rewarded: int = 0
    reward_sum: float = 0.0
    reward_min: float | None = None
    reward_min_idx: int | None = None
    reward_min_steps: int | None = None
    reward_min_win: float | None = None
    reward_min_eps: float | None = None
    reward_max: float | None = None
    reward_max_idx: int | None = None
    reward_max_steps: int | None = None
    reward_max_win: float | None = None
    reward_max_eps: float | None = None
    steps_n: int = 0
    steps_sum: int = 0
    win_n: int = 0
    win_sum: float = 0.0
    timestep_max: int | None = None
    end_unix_max: float | None = None

    def add(
        self, idx: int, status: str, reward: Any, steps: Any, win: Any, eps: Any,
        end_timestep: Any = None, end_time: Any = None,
    ) -> None:  # fmt: skip
        column = _STATUS_COLUMN.get(status)
        if column is None:  # still running: not in any rollup yet
            return
        self.ended += 1
        if end_timestep is not None:
            self.timestep_max = _max(self.timestep_max, int(end_timestep))
        if end_time is not None:
            self.end_unix_max = _max(self.end_unix_max, _unix(end_time))
        setattr(self, column, getattr(self, column) + 1)
        if reward is not None and math.isfinite(reward):
            self.rewarded += 1
            self.reward_sum += reward
            # Ties keep the lowest index, as rows arrive in index order.
            if self.reward_min is None or reward < self.reward_min:
                self.reward_min, self.reward_min_idx = reward, idx
                self.reward_min_steps, self.reward_min_win, self.reward_min_eps = steps, win, eps
            if self.reward_max is None or reward > self.reward_max:
                self.reward_max, self.reward_max_idx = reward, idx
                self.reward_max_steps, self.reward_max_win, self.reward_max_eps = steps, win, eps
        if steps is not None:
            self.steps_n += 1
            self.steps_sum += int(steps)
        if win is not None and math.isfinite(win):
            self.win_n += 1
            self.win_sum += win

    def plus(self, new: _Acc) -> _Acc:
        """This block with ``new`` episodes added (a block of other episodes than its own)."""
        out = _Acc(
            ended=self.ended + new.ended, completed=self.completed + new.completed,
            truncated=self.truncated + new.truncated, errored=self.errored + new.errored,
            rewarded=self.rewarded + new.rewarded, reward_sum=self.reward_sum + new.reward_sum,
            steps_n=self.steps_n + new.steps_n, steps_sum=self.steps_sum + new.steps_sum,
            win_n=self.win_n + new.win_n, win_sum=self.win_sum + new.win_sum,
            timestep_max=_max(self.timestep_max, new.timestep_max),
            end_unix_max=_max(self.end_unix_max, new.end_unix_max),
        )  # fmt: skip
        for side, better in (("min", float.__lt__), ("max", float.__gt__)):
            mine, theirs = _extreme(self, side), _extreme(new, side)
            pick = mine
            if theirs[0] is not None and (
                mine[0] is None
                or better(float(theirs[0]), float(mine[0]))
                or (theirs[0] == mine[0] and theirs[1] < mine[1])  # ties: the lowest index
            ):
                pick = theirs
            for field, value in zip(_EXTREME_FIELDS, pick, strict=True):
                setattr(out, f"reward_{side}{field}", value)
        return out


def _max(a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else max(a, b)


def _unix(t: dt.datetime) -> float:
    """Seconds since the epoch of a time read back naive (UTC) or given aware."""
    return (t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC)).timestamp()


def _extreme(acc: _Acc, side: str) -> tuple[Any, ...]:
    return tuple(getattr(acc, f"reward_{side}{f}") for f in _EXTREME_FIELDS)


# (index, status, total reward, steps, win, epsilon, end timestep, end time) of an episode
_EpisodeValues = tuple[int, str, Any, Any, Any, Any, Any, Any]


def _ranges(blocks: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted block numbers as (first, last) runs of consecutive blocks."""
    out: list[tuple[int, int]] = []
    for b in sorted(set(blocks)):
        if out and b == out[-1][1] + 1:
            out[-1] = (out[-1][0], b)
        else:
            out.append((b, b))
    return out


def _upsert(conn: Connection) -> Any:
    """The blocks' upsert, built once per dialect (building it cost more than running it)."""
    name = conn.dialect.name
    stmt = _UPSERTS.get(name)
    if stmt is None:
        insert: Any = (postgresql.insert if name == "postgresql" else sqlite.insert)(BLOCKS)
        stmt = _UPSERTS[name] = insert.on_conflict_do_update(
            index_elements=["run_id", "block"],
            set_={c: insert.excluded[c] for c in _VALUE_COLUMNS},
        )
    return stmt


_UPSERTS: dict[str, Any] = {}


def refresh(conn: Connection, run_id: str, blocks: Iterable[int]) -> None:
    """Recompute ``blocks`` of ``run_id`` from its episodes (inside the caller's transaction)."""
    ranges = _ranges(blocks)
    ep = EPISODES.c
    for start in range(0, len(ranges), _RANGES_PER_QUERY):
        chunk = ranges[start : start + _RANGES_PER_QUERY]
        accs: dict[int, _Acc] = {b: _Acc() for lo, hi in chunk for b in range(lo, hi + 1)}
        in_ranges = [ep.idx.between(lo * BLOCK, (hi + 1) * BLOCK - 1) for lo, hi in chunk]
        rows = conn.execute(
            select(*_SELECTED)
            .where(ep.run_id == run_id, ep.status != "started", or_(*in_ranges))
            .order_by(ep.idx)
        )
        for idx, status, *values in rows:
            accs[int(idx) // BLOCK].add(int(idx), status, *values)
        _store(conn, run_id, accs)


def _store(conn: Connection, run_id: str, accs: dict[int, _Acc]) -> None:
    empty = [b for b, a in accs.items() if a.ended == 0]
    if empty:
        conn.execute(BLOCKS.delete().where(BLOCKS.c.run_id == run_id, BLOCKS.c.block.in_(empty)))
    rows = [
        {"run_id": run_id, "block": b, **{c: getattr(a, c) for c in _VALUE_COLUMNS}}
        for b, a in accs.items()
        if a.ended
    ]
    if rows:
        conn.execute(_upsert(conn), rows)


# Indices per statement when looking up which episodes had already ended.
_LOOKUP_CHUNK = 900


def already_ended(conn: Connection, run_id: str, indices: Sequence[int]) -> bool:
    """Whether any of these episodes of the run has already ended in the database (a replay or
    a rewrite, whose old values the rollups hold): primary-key lookups of the indices. The
    status is tested in the select list, not the WHERE clause, so that no planner walks the
    (run_id, status) index, which holds every ended episode of the run, instead. Driver-level
    SQL: SQLAlchemy's processing of a thousand bound parameters cost more than the lookups."""
    postgres = conn.dialect.name == "postgresql"
    mark = "%s" if postgres else "?"
    ordered = sorted(int(i) for i in indices)
    for start in range(0, len(ordered), _LOOKUP_CHUNK):
        chunk = ordered[start : start + _LOOKUP_CHUNK]
        # The range as well as the list: it makes the (run_id, idx) index the obvious plan even
        # to a planner without statistics (a new table), which otherwise guesses a few rows
        # per run and scans the run through any index that starts with run_id. PostgreSQL gets
        # the list as one array parameter, cast to the column's type.
        listed = "ANY(%s::bigint[])" if postgres else f"({', '.join('?' * len(chunk))})"
        sql = (
            f"SELECT sum(CASE WHEN status IN ({_ENDED_SQL}) THEN 1 ELSE 0 END) FROM episodes"
            f" WHERE run_id = {mark} AND idx BETWEEN {mark} AND {mark}"
            f" AND idx {'=' if postgres else 'IN'} {listed}"
        )
        params = (run_id, chunk[0], chunk[-1], *([chunk] if postgres else chunk))
        if conn.exec_driver_sql(sql, params).scalar():
            return True
    return False


_ENDED_SQL = ", ".join(f"'{s}'" for s in ENDED_STATUSES)


def merge(conn: Connection, run_id: str, episodes: Iterable[_EpisodeValues]) -> None:
    """Add episodes that have just ended for the first time to their blocks: the blocks' old
    values plus the new episodes' (what a recount would give, as none of them was counted).
    Costs O(episodes) in Python and a read of the touched blocks, not a re-read of every
    episode in them: the write path's common case. Rows are (index, status, total reward,
    steps, win, epsilon, end timestep, end time)."""
    accs: dict[int, _Acc] = {}
    # In index order, so that ties keep the lowest index, as a recount's scan does.
    for idx, status, *values in sorted(episodes, key=lambda e: e[0]):
        acc = accs.get(idx // BLOCK)
        if acc is None:
            acc = accs[idx // BLOCK] = _Acc()
        acc.add(idx, status, *values)
    accs = {b: a for b, a in accs.items() if a.ended}
    if not accs:
        return
    blocks = sorted(accs)
    for start in range(0, len(blocks), _LOOKUP_CHUNK):
        chunk = blocks[start : start + _LOOKUP_CHUNK]
        for row in conn.execute(_OLD_BLOCKS, {"run_id": run_id, "blocks": chunk}):
            old = _Acc(**dict(zip(_VALUE_COLUMNS, row[1:], strict=True)))
            accs[int(row[0])] = old.plus(accs[int(row[0])])
    _store(conn, run_id, accs)


_OLD_BLOCKS = select(BLOCKS.c.block, *(BLOCKS.c[c] for c in _VALUE_COLUMNS)).where(
    BLOCKS.c.run_id == bindparam("run_id"), BLOCKS.c.block.in_(bindparam("blocks", expanding=True))
)


def rebuild(conn: Connection, run_id: str) -> None:
    """Recompute every block of a run (after a repair, or to backfill an old database)."""
    ep = EPISODES.c
    conn.execute(BLOCKS.delete().where(BLOCKS.c.run_id == run_id))
    accs: dict[int, _Acc] = {}
    rows = conn.execute(
        select(*_SELECTED)
        .where(ep.run_id == run_id, ep.status != "started")
        .order_by(ep.idx)
        .execution_options(yield_per=10_000)
    )
    for idx, status, *values in rows:
        b = int(idx) // BLOCK
        acc = accs.get(b)
        if acc is None:
            if len(accs) >= 1000:  # flush as we go: memory stays flat on huge runs
                _store(conn, run_id, accs)
                accs = {}
            acc = accs[b] = _Acc()
        acc.add(int(idx), status, *values)
    _store(conn, run_id, accs)


# -- reads -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Extreme:
    """The min or max reward episode of a bucket of blocks."""

    idx: int
    reward: float
    steps: int | None
    win: float | None
    epsilon: float | None


@dataclass(frozen=True)
class Span:
    first_block: int
    last_block: int
    rewarded: int
    win_n: int


def spans(conn: Connection, run_ids: Sequence[str]) -> dict[str, Span]:
    """Each run's first and last block and its counts of rewarded and win episodes (runs
    without an ended episode are left out)."""
    if not run_ids:
        return {}
    b = BLOCKS.c
    rows = conn.execute(
        select(
            b.run_id, func.min(b.block), func.max(b.block), func.sum(b.rewarded),
            func.sum(b.win_n),
        ).where(b.run_id.in_(list(run_ids))).group_by(b.run_id)
    )  # fmt: skip
    return {
        str(r): Span(int(lo), int(hi), int(rewarded or 0), int(win_n or 0))
        for r, lo, hi, rewarded, win_n in rows
    }


def span(conn: Connection, run_id: str) -> Span | None:
    return spans(conn, [run_id]).get(run_id)


def bucket_extremes(
    conn: Connection, run_id: str, first_block: int, blocks_per_bucket: int
) -> list[Extreme]:
    """The min and the max reward episode of each bucket of ``blocks_per_bucket`` blocks
    (counted from ``first_block``). Chosen in SQL, so only those rows reach Python."""
    b = BLOCKS.c
    # Literal integers: the same expression is the partition of both window functions.
    bucket = (b.block - literal(first_block, BigInteger, literal_execute=True)) // literal(
        blocks_per_bucket, BigInteger, literal_execute=True
    )
    out: dict[int, Extreme] = {}
    for side in ("min", "max"):
        c = [b[f"reward_{side}{f}"] for f in _EXTREME_FIELDS]
        where = (b.run_id == run_id, b.rewarded > 0)
        stmt: Any
        if conn.dialect.name == "sqlite":
            # SQLite takes the bare columns of a min()/max() query from the row that has the
            # extreme: one pass over the blocks, no sort.
            agg = func.min if side == "min" else func.max
            stmt = select(agg(c[0]), *c[1:]).where(*where).group_by(bucket)
        else:
            value = c[0].asc() if side == "min" else c[0].desc()
            rank = func.row_number().over(partition_by=bucket, order_by=(value, c[1].asc()))
            ranked = select(*c, rank.label("rn")).where(*where).subquery()
            stmt = select(*list(ranked.c)[:-1]).where(ranked.c.rn == 1)
        for reward, idx, steps, win, eps in conn.execute(stmt):
            out.setdefault(int(idx), Extreme(int(idx), reward, steps, win, eps))
    return [out[i] for i in sorted(out)]


def block_win_rates(
    conn: Connection, run_id: str, *, below_block: int, last_block: int, step: int
) -> list[tuple[int, float]]:
    """(last index of the block, its mean win) for the blocks before ``below_block`` that
    have wins, every ``step``-th block counted back from ``last_block``."""
    b = BLOCKS.c
    rows = conn.execute(
        select(b.block, b.win_sum, b.win_n)
        .where(
            b.run_id == run_id,
            b.win_n > 0,
            b.block < below_block,
            (literal(last_block, BigInteger, literal_execute=True) - b.block) % step == 0,
        )
        .order_by(b.block)
    )
    return [((int(blk) + 1) * BLOCK - 1, float(ws) / int(wn)) for blk, ws, wn in rows]


@dataclass(frozen=True)
class Totals:
    ended: int
    completed: int
    truncated: int
    errored: int
    rewarded: int
    reward_sum: float
    reward_min: float | None
    reward_max: float | None
    steps_n: int
    steps_sum: int
    win_n: int
    win_sum: float

    def count(self, status: str) -> int:
        return int(getattr(self, _STATUS_COLUMN[status]))


def totals(conn: Connection, run_ids: Sequence[str]) -> dict[str, Totals]:
    """Each run's sums over its blocks (runs without an ended episode are left out)."""
    if not run_ids:
        return {}
    b = BLOCKS.c
    stmt = (
        select(
            b.run_id, func.sum(b.ended), func.sum(b.completed), func.sum(b.truncated),
            func.sum(b.errored), func.sum(b.rewarded), func.sum(b.reward_sum),
            func.min(b.reward_min), func.max(b.reward_max), func.sum(b.steps_n),
            func.sum(b.steps_sum), func.sum(b.win_n), func.sum(b.win_sum),
        ).where(b.run_id.in_(list(run_ids))).group_by(b.run_id)
    )  # fmt: skip
    out: dict[str, Totals] = {}
    for r in conn.execute(stmt):
        out[str(r[0])] = Totals(
            ended=int(r[1]), completed=int(r[2]), truncated=int(r[3]), errored=int(r[4]),
            rewarded=int(r[5]), reward_sum=float(r[6] or 0.0), reward_min=r[7], reward_max=r[8],
            steps_n=int(r[9]), steps_sum=int(r[10] or 0), win_n=int(r[11]),
            win_sum=float(r[12] or 0.0),
        )  # fmt: skip
    return out


def signature(conn: Connection, run_id: str) -> tuple[Any, ...]:
    """What changes whenever a run's episodes change: its rollup totals and the count of its
    running episodes (one indexed count each)."""
    t = totals(conn, [run_id]).get(run_id)
    ep = EPISODES.c
    running = conn.execute(
        select(func.count(), func.max(ep.idx)).where(ep.run_id == run_id, ep.status == "started")
    ).one()
    return (t, tuple(running))
