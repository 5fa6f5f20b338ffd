"""Groups of runs (one experiment: seeds, a sweep's trials) and what their statistics are
computed from: the runs' rollup blocks and their last episodes' rewards."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, func, select

from rltrack.tracking.entities import GROUP_KINDS, Group
from rltrack.tracking.sql.models import EpisodeRow, RunGroupMemberRow, RunGroupRow, RunRow
from rltrack.tracking.sql.rollups import BLOCK, BLOCKS
from rltrack.tracking.store import BlockPoint, NotFoundError

if TYPE_CHECKING:
    from sqlalchemy import Connection

GROUPS: Table = RunGroupRow.__table__  # type: ignore[assignment]
RUNS: Table = RunRow.__table__  # type: ignore[assignment]
EPISODES: Table = EpisodeRow.__table__  # type: ignore[assignment]
MEMBERS: Table = RunGroupMemberRow.__table__  # type: ignore[assignment]
# A run's row with the id of its group (None when it has none).
RUNS_WITH_GROUP = select(RUNS, MEMBERS.c.group_id).select_from(
    RUNS.outerjoin(MEMBERS, MEMBERS.c.run_id == RUNS.c.id)
)
# Runs per IN list.
_CHUNK = 500


def check_group(name: str, kind: str) -> None:
    if kind not in GROUP_KINDS:
        raise ValueError(f"unknown group kind {kind!r}; kinds: {', '.join(GROUP_KINDS)}")
    if not name.strip() or len(name) > 255 or "\x00" in name:
        raise ValueError(f"group name {name!r}: give 1 to 255 characters")


def group_entity(r: Any, runs: int = 0) -> Group:
    return Group(
        id=r["id"], name=r["name"], kind=r["kind"], created_at=r["created_at"],
        description=r["description"], metadata=r["metadata"] or {}, runs=runs,
    )  # fmt: skip


def new_group_row(
    name: str, kind: str, at: dt.datetime, description: str | None, metadata: dict[str, Any] | None
) -> dict[str, Any]:
    check_group(name, kind)
    return {
        "id": uuid.uuid4().hex, "name": name, "kind": kind, "created_at": at,
        "description": description, "metadata": metadata or {},
    }  # fmt: skip


def by_name(conn: Connection, name: str) -> Group:
    row = conn.execute(select(GROUPS).where(GROUPS.c.name == name)).mappings().one()
    return group_entity(row, _counts(conn, [row["id"]]).get(row["id"], 0))


def _counts(conn: Connection, group_ids: Sequence[str]) -> dict[str, int]:
    rows = conn.execute(
        select(MEMBERS.c.group_id, func.count())
        .where(MEMBERS.c.group_id.in_(list(group_ids)))
        .group_by(MEMBERS.c.group_id)
    )
    return {str(g): int(n) for g, n in rows}


def get(conn: Connection, ref: str) -> Group:
    g = GROUPS.c
    row = conn.execute(select(GROUPS).where((g.id == ref) | (g.name == ref))).mappings().first()
    # An id prefix of 4 characters at least, as for runs.
    if row is None and len(ref) >= 4 and all(ch in "0123456789abcdef" for ch in ref):
        matches = conn.execute(select(GROUPS).where(g.id.startswith(ref)).limit(2)).mappings()
        found = list(matches)
        row = found[0] if len(found) == 1 else None
    if row is None:
        raise NotFoundError(f"no group {ref!r}; `rltrack group` lists the groups")
    return group_entity(row, _counts(conn, [row["id"]]).get(row["id"], 0))


def listing(conn: Connection) -> list[Group]:
    rows = list(conn.execute(select(GROUPS).order_by(GROUPS.c.created_at.desc())).mappings())
    counts = _counts(conn, [r["id"] for r in rows]) if rows else {}
    return [group_entity(r, counts.get(r["id"], 0)) for r in rows]


def block_points(conn: Connection, run_ids: Sequence[str]) -> dict[str, list[BlockPoint]]:
    b = BLOCKS.c
    out: dict[str, list[BlockPoint]] = {r: [] for r in run_ids}
    ids = list(dict.fromkeys(run_ids))
    for start in range(0, len(ids), _CHUNK):
        rows = conn.execute(
            select(
                b.run_id,
                b.block,
                b.reward_sum,
                b.rewarded,
                b.timestep_max,
                b.end_unix_max,
                b.ended,
            )
            .where(b.run_id.in_(ids[start : start + _CHUNK]), b.rewarded > 0)
            .order_by(b.run_id, b.block)
        )
        for run_id, block, reward_sum, rewarded, ts, t, ended in rows:
            # A run's last block may be partly filled: it ends at its last ended episode
            # (episodes end in the end, so a block's ended ones are its first indices).
            out[str(run_id)].append(
                BlockPoint(
                    block=int(block),
                    last_index=int(block) * BLOCK + int(ended) - 1,
                    mean_reward=float(reward_sum) / int(rewarded),
                    rewarded=int(rewarded),
                    timestep_max=None if ts is None else int(ts),
                    end_unix_max=None if t is None else float(t),
                )  # fmt: skip
            )
    return out


def last_rewards(conn: Connection, run_ids: Sequence[str], n: int) -> dict[str, list[float]]:
    """One indexed read of at most ``n`` rows per run: the (run_id, idx) index, newest first."""
    e = EPISODES.c
    out: dict[str, list[float]] = {}
    for run_id in dict.fromkeys(run_ids):
        rows = conn.execute(
            select(e.total_reward)
            .where(
                e.run_id == run_id,
                e.status.in_(("completed", "truncated", "error")),
                e.total_reward.is_not(None),
            )
            .order_by(e.idx.desc())
            .limit(n)
        )
        values = [float(v) for (v,) in rows]
        out[run_id] = [v for v in reversed(values) if math.isfinite(v)]
    return out
