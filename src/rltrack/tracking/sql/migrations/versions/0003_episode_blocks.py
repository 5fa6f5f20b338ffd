"""episode_blocks: per-run rollups of episodes by blocks of 100 indices (backfilled by 0005);
artifacts keyed by (run_id, path); episodes indexed by reward and by steps

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 01:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "episode_blocks",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("block", sa.BigInteger(), nullable=False),
        sa.Column("ended", sa.Integer(), nullable=False),
        sa.Column("completed", sa.Integer(), nullable=False),
        sa.Column("truncated", sa.Integer(), nullable=False),
        sa.Column("errored", sa.Integer(), nullable=False),
        sa.Column("rewarded", sa.Integer(), nullable=False),
        sa.Column("reward_sum", sa.Float(), nullable=False),
        sa.Column("reward_min", sa.Float(), nullable=True),
        sa.Column("reward_min_idx", sa.BigInteger(), nullable=True),
        sa.Column("reward_min_steps", sa.BigInteger(), nullable=True),
        sa.Column("reward_min_win", sa.Float(), nullable=True),
        sa.Column("reward_min_eps", sa.Float(), nullable=True),
        sa.Column("reward_max", sa.Float(), nullable=True),
        sa.Column("reward_max_idx", sa.BigInteger(), nullable=True),
        sa.Column("reward_max_steps", sa.BigInteger(), nullable=True),
        sa.Column("reward_max_win", sa.Float(), nullable=True),
        sa.Column("reward_max_eps", sa.Float(), nullable=True),
        sa.Column("steps_n", sa.Integer(), nullable=False),
        sa.Column("steps_sum", sa.BigInteger(), nullable=False),
        sa.Column("win_n", sa.Integer(), nullable=False),
        sa.Column("win_sum", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_episode_blocks_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", "block", name=op.f("pk_episode_blocks")),
    )
    with op.batch_alter_table("episodes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_episodes_run_reward", ["run_id", "total_reward", "idx"], unique=False
        )
        batch_op.create_index("ix_episodes_run_steps", ["run_id", "steps", "idx"], unique=False)
    # Nothing wrote artifacts before this revision: the table is empty, the key cannot fail.
    with op.batch_alter_table("artifacts", schema=None) as batch_op:
        batch_op.create_unique_constraint(op.f("uq_artifacts_run_id"), ["run_id", "path"])
    # The runs recorded before this revision are backfilled by 0005, which adds the blocks'
    # last columns: rollups.rebuild writes the blocks as the code has them now.


def downgrade() -> None:
    with op.batch_alter_table("episodes", schema=None) as batch_op:
        batch_op.drop_index("ix_episodes_run_steps")
        batch_op.drop_index("ix_episodes_run_reward")
    with op.batch_alter_table("artifacts", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_artifacts_run_id"), type_="unique")
    op.drop_table("episode_blocks")
