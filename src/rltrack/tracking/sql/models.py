"""SQLAlchemy tables of the training history. Only the SQL store imports this module."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Stores naive UTC, returns aware UTC, on every backend."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value


Json = JSON().with_variant(JSONB(), "postgresql")
# Integer primary keys are rowids on SQLite (fast), BIGINT identities on PostgreSQL.
BigId = BigInteger().with_variant(Integer(), "sqlite")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class RunRow(Base):
    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), index=True)
    agent_id: Mapped[str | None] = mapped_column(String(255), index=True)
    algorithm: Mapped[str] = mapped_column(String(64))
    env_id: Mapped[str] = mapped_column(String(255))
    backend: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), index=True)
    config: Mapped[dict[str, Any]] = mapped_column(Json)
    start_time: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    end_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    host: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None] = mapped_column(Integer)
    git_commit: Mapped[str | None] = mapped_column(String(64))
    seed: Mapped[int | None] = mapped_column(BigInteger)
    tags: Mapped[list[str]] = mapped_column(Json, default=list)
    parent_run_id: Mapped[str | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    error: Mapped[str | None] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", Json, default=dict)
    notes: Mapped[str | None] = mapped_column(Text)
    total_timesteps: Mapped[int | None] = mapped_column(BigInteger)
    # Progress counters, advanced by every write batch of the run's logger.
    timesteps: Mapped[int] = mapped_column(BigInteger, default=0)
    episodes: Mapped[int] = mapped_column(BigInteger, default=0)
    # Records of the run the store refused and dropped (0 for a complete record).
    records_lost: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class RunGroupRow(Base):
    """Runs that form one experiment: the seeds of one setting, the trials of a sweep, or runs
    a user put together with --group NAME."""

    __tablename__ = "run_groups"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # seeds, sweep or manual
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    description: Mapped[str | None] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", Json, default=dict)


class RunGroupMemberRow(Base):
    """The group a run belongs to (at most one): a table of its own, so that adding groups
    altered no column of runs (SQLite cannot add a named reference in place)."""

    __tablename__ = "run_group_members"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    group_id: Mapped[str] = mapped_column(
        ForeignKey("run_groups.id", ondelete="CASCADE"), index=True
    )


class RunTagRow(Base):
    __tablename__ = "run_tags"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(255), primary_key=True, index=True)


class EpisodeRow(Base):
    __tablename__ = "episodes"
    __table_args__ = (UniqueConstraint("run_id", "idx"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    idx: Mapped[int] = mapped_column(BigInteger)
    env_slot: Mapped[int] = mapped_column(Integer)
    agent_id: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    start_time: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    end_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    start_timestep: Mapped[int] = mapped_column(BigInteger)
    end_timestep: Mapped[int | None] = mapped_column(BigInteger)
    steps: Mapped[int | None] = mapped_column(BigInteger)
    total_reward: Mapped[float | None] = mapped_column(Float)
    win: Mapped[float | None] = mapped_column(Float)
    epsilon: Mapped[float | None] = mapped_column(Float)
    # Steps taken after training stopped (the drain); included in `steps`, not in timesteps.
    drain_steps: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    metrics: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)


class TradeRow(Base):
    __tablename__ = "trades"
    __table_args__ = (UniqueConstraint("episode_id", "seq"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("episodes.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    direction: Mapped[str] = mapped_column(String(8))
    entry_step: Mapped[int] = mapped_column(Integer)
    exit_step: Mapped[int] = mapped_column(Integer)
    entry_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    exit_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    entry_price: Mapped[float] = mapped_column(Float)
    exit_price: Mapped[float] = mapped_column(Float)
    quantity: Mapped[float] = mapped_column(Float)
    pnl: Mapped[float] = mapped_column(Float)
    costs: Mapped[float] = mapped_column(Float)


class StepRow(Base):
    __tablename__ = "steps"

    episode_id: Mapped[int] = mapped_column(
        ForeignKey("episodes.id", ondelete="CASCADE"), primary_key=True
    )
    step: Mapped[int] = mapped_column(Integer, primary_key=True)
    action: Mapped[float | None] = mapped_column(Float)
    reward: Mapped[float] = mapped_column(Float)
    price: Mapped[float | None] = mapped_column(Float)
    position: Mapped[float | None] = mapped_column(Float)
    portfolio_value: Mapped[float | None] = mapped_column(Float)


class MetricRow(Base):
    __tablename__ = "metrics"
    __table_args__ = (UniqueConstraint("run_id", "key", "timestep"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    timestep: Mapped[int] = mapped_column(BigInteger)
    value: Mapped[float] = mapped_column(Float)
    wall_time: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    episodes: Mapped[int | None] = mapped_column(BigInteger)


class CheckpointRow(Base):
    __tablename__ = "checkpoints"
    __table_args__ = (UniqueConstraint("run_id", "path"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(Text)
    timestep: Mapped[int] = mapped_column(BigInteger)
    episode_index: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    metrics: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)


class ArtifactRow(Base):
    __tablename__ = "artifacts"
    __table_args__ = (UniqueConstraint("run_id", "path"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    path: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    media_type: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", Json, default=dict)


class EvaluationRow(Base):
    __tablename__ = "evaluations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    checkpoint_id: Mapped[int | None] = mapped_column(
        ForeignKey("checkpoints.id", ondelete="SET NULL")
    )
    episodes: Mapped[int] = mapped_column(Integer)
    mean_reward: Mapped[float] = mapped_column(Float)
    std_reward: Mapped[float] = mapped_column(Float)
    win_rate: Mapped[float | None] = mapped_column(Float)
    mean_length: Mapped[float | None] = mapped_column(Float)
    opponent: Mapped[str | None] = mapped_column(String(255))
    metrics: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class EpisodeBlockRow(Base):
    """Rollup of a run's episodes with index in [block * 100, block * 100 + 99] that have
    ended (see rollups.py); kept by the write transaction that ends them."""

    __tablename__ = "episode_blocks"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    block: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    ended: Mapped[int] = mapped_column(Integer)
    completed: Mapped[int] = mapped_column(Integer)
    truncated: Mapped[int] = mapped_column(Integer)
    errored: Mapped[int] = mapped_column(Integer)
    rewarded: Mapped[int] = mapped_column(Integer)
    reward_sum: Mapped[float] = mapped_column(Float)
    # The block's min and max reward episode, whole: a downsampled chart reads only blocks.
    reward_min: Mapped[float | None] = mapped_column(Float)
    reward_min_idx: Mapped[int | None] = mapped_column(BigInteger)
    reward_min_steps: Mapped[int | None] = mapped_column(BigInteger)
    reward_min_win: Mapped[float | None] = mapped_column(Float)
    reward_min_eps: Mapped[float | None] = mapped_column(Float)
    reward_max: Mapped[float | None] = mapped_column(Float)
    reward_max_idx: Mapped[int | None] = mapped_column(BigInteger)
    reward_max_steps: Mapped[int | None] = mapped_column(BigInteger)
    reward_max_win: Mapped[float | None] = mapped_column(Float)
    reward_max_eps: Mapped[float | None] = mapped_column(Float)
    steps_n: Mapped[int] = mapped_column(Integer)
    steps_sum: Mapped[int] = mapped_column(BigInteger)
    win_n: Mapped[int] = mapped_column(Integer)
    win_sum: Mapped[float] = mapped_column(Float)
    # The latest end of the block's episodes: its x on a group's curve by timestep or time.
    timestep_max: Mapped[int | None] = mapped_column(BigInteger)
    end_unix_max: Mapped[float | None] = mapped_column(Float)


Index("ix_episodes_run_status", EpisodeRow.run_id, EpisodeRow.status)
# Episodes pages sorted by reward or length (best or worst first) read O(page) rows through these.
# idx last: ties (many episodes of the same length) come out in page order without a sort.
Index("ix_episodes_run_reward", EpisodeRow.run_id, EpisodeRow.total_reward, EpisodeRow.idx)
Index("ix_episodes_run_steps", EpisodeRow.run_id, EpisodeRow.steps, EpisodeRow.idx)
