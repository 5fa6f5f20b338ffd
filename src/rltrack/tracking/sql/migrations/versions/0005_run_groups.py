"""run_groups and run_group_members: runs that form one experiment (seeds, a sweep's trials);
episode_blocks.timestep_max and end_unix_max: a block's x on a group's curve

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 05:40:00
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# New tables and plain ALTER TABLE, no batch mode (see 0004): a batch on SQLite copies and
# drops the table, and dropping runs would cascade to every episode.


def upgrade() -> None:
    op.create_table(
        "run_groups",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "metadata",
            sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql"),
            nullable=False,
        ),
        sa.UniqueConstraint("name", name="uq_run_groups_name"),
    )
    op.create_table(
        "run_group_members",
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("group_id", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name="fk_run_group_members_run_id_runs", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["group_id"], ["run_groups.id"], name="fk_run_group_members_group_id_run_groups",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", name="pk_run_group_members"),
    )  # fmt: skip
    op.create_index("ix_run_group_members_group_id", "run_group_members", ["group_id"])
    op.add_column("episode_blocks", sa.Column("timestep_max", sa.BigInteger(), nullable=True))
    op.add_column("episode_blocks", sa.Column("end_unix_max", sa.Float(), nullable=True))
    # Runs recorded before 0003 have no blocks yet: built whole, as the code has them now.
    from rltrack.tracking.sql import rollups

    conn = op.get_bind()
    unrolled = conn.execute(
        sa.text(
            "SELECT id FROM runs r WHERE NOT EXISTS (SELECT 1 FROM episode_blocks b"
            " WHERE b.run_id = r.id) AND EXISTS (SELECT 1 FROM episodes e"
            " WHERE e.run_id = r.id AND e.status <> 'started')"
        )
    ).all()
    for (run_id,) in unrolled:
        rollups.rebuild(conn, run_id)
    # The blocks of 0003 and 0004 get their latest end from their episodes, computed as the
    # write path computes it (rollups._unix), so that both agree to the bit.
    rows = conn.execute(
        sa.text(
            "SELECT run_id, idx / 100 AS block, max(end_timestep), max(end_time) FROM episodes"
            " WHERE status <> 'started' GROUP BY run_id, idx / 100"
        )
    ).all()
    update = sa.text(
        "UPDATE episode_blocks SET timestep_max = :ts, end_unix_max = :t"
        " WHERE run_id = :run_id AND block = :block"
    )
    for start in range(0, len(rows), 5000):
        conn.execute(
            update,
            [
                {"run_id": r, "block": int(b), "ts": ts, "t": _unix(t)}
                for r, b, ts, t in rows[start : start + 5000]
            ],
        )


def _unix(t: object) -> float | None:
    """A time as read back by plain SQL (naive UTC; SQLite gives text) in seconds."""
    if t is None:
        return None
    if isinstance(t, str):
        t = dt.datetime.fromisoformat(t)
    assert isinstance(t, dt.datetime)
    return (t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC)).timestamp()


def downgrade() -> None:
    op.drop_column("episode_blocks", "end_unix_max")
    op.drop_column("episode_blocks", "timestep_max")
    op.drop_table("run_group_members")
    op.drop_table("run_groups")
