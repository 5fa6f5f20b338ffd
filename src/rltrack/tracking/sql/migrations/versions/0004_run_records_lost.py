"""runs.records_lost: records of the run the store refused and dropped

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 02:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


# Plain ALTER TABLE, not batch mode: a batch on SQLite copies the table and drops the old one,
# and dropping runs with foreign keys on would cascade to every episode of every run.


def upgrade() -> None:
    op.add_column(
        "runs", sa.Column("records_lost", sa.Integer(), server_default="0", nullable=False)
    )


def downgrade() -> None:
    op.drop_column("runs", "records_lost")
