"""Training progress at given timesteps, from the episodes table: how many training episodes had
ended by each timestep, and the best and mean episode reward up to it.

The progress video reads this at each checkpoint it plays. An episode counts at timestep T when
it has a final status (anything but ``started``) and its ``end_timestep`` is at most T; backends
record ``end_timestep`` as the run's step count after the step that ended the episode, and save
a checkpoint after the episodes ending at its step are recorded, so ``<=`` is what "ended by the
checkpoint" means. Episodes closed by the end-of-training drain or by finalization carry the
run's last training timestep.

One statement answers every timestep: a ``CASE`` per timestep inside ``sum``/``max``/``avg``
over the run's episodes (one scan through the ``(run_id, idx)`` index), on SQLite and
PostgreSQL alike. NaN rewards (PostgreSQL keeps them) are left out of the reward statistics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, case, func, select

from rltrack.tracking.sql.models import EpisodeRow
from rltrack.tracking.sql.reads import finite_or_null

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from rltrack.tracking.store import Store

EPISODES: Table = EpisodeRow.__table__  # type: ignore[assignment]
# Three result columns per timestep; SQLite allows 2000 columns in a result by default.
MAX_TIMESTEPS = 500


@dataclass(frozen=True, slots=True)
class EpisodesUpTo:
    """The run's episodes that had ended by ``timestep``: how many, and their best and mean
    total reward (None when none had ended, or none has a finite reward)."""

    timestep: int
    ended: int
    best_reward: float | None
    mean_reward: float | None


def episodes_up_to_rows(
    conn: Connection,
    dialect: str,
    run_id: str,
    timesteps: Sequence[int],
    agent_id: str | None = None,
) -> list[EpisodesUpTo]:
    """:func:`episodes_up_to` on an open connection."""
    if not timesteps:
        return []
    if len(timesteps) > MAX_TIMESTEPS:
        raise ValueError(f"at most {MAX_TIMESTEPS} timesteps per call, got {len(timesteps)}")
    ep = EPISODES.c
    reward = finite_or_null(dialect, ep.total_reward)
    columns: list[Any] = []
    for i, t in enumerate(timesteps):
        by_then = ep.end_timestep <= int(t)
        columns += [
            func.coalesce(func.sum(case((by_then, 1), else_=0)), 0).label(f"n{i}"),
            func.max(case((by_then, reward))).label(f"best{i}"),
            func.avg(case((by_then, reward))).label(f"mean{i}"),
        ]
    conditions = [ep.run_id == run_id, ep.status != "started", ep.end_timestep.is_not(None)]
    if agent_id is not None:
        conditions.append(ep.agent_id == agent_id)
    row = conn.execute(select(*columns).where(*conditions)).one()
    out = []
    for i, t in enumerate(timesteps):
        best, mean = row[3 * i + 1], row[3 * i + 2]
        out.append(
            EpisodesUpTo(
                timestep=int(t),
                ended=int(row[3 * i] or 0),
                best_reward=None if best is None else float(best),
                mean_reward=None if mean is None else float(mean),
            )
        )
    return out


def episodes_up_to(
    store: Store, run_id: str, timesteps: Sequence[int], *, agent_id: str | None = None
) -> list[EpisodesUpTo]:
    """For each of ``timesteps`` (in the order given): the episodes of ``run_id`` (of
    ``agent_id`` only, when given) that had ended by it. Raises the store's
    ``UnavailableError`` / ``StoreError`` like its other reads."""
    from rltrack.tracking.sql.store import SqlStore

    if not isinstance(store, SqlStore):
        raise TypeError(f"episodes_up_to reads a SqlStore, not a {type(store).__name__}")
    with store._reading() as conn:
        return episodes_up_to_rows(conn, store.dialect, run_id, timesteps, agent_id)
