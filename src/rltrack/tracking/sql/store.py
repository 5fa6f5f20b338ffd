"""The SQL store: SQLite and PostgreSQL through SQLAlchemy Core, idempotent batch writes."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from operator import attrgetter
from typing import Any

from sqlalchemy import Connection, Insert, Table, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError, StatementError

from rltrack.jsonable import json_default
from rltrack.tracking.entities import (
    Artifact,
    Checkpoint,
    Episode,
    EpisodeHealth,
    Evaluation,
    Group,
    Metric,
    Run,
    RunTrade,
    Step,
    Trade,
)
from rltrack.tracking.sql import engine as eng
from rltrack.tracking.sql import episode_reads, groups, health, queries, reads, rollups
from rltrack.tracking.sql.models import (
    ArtifactRow,
    CheckpointRow,
    EpisodeRow,
    EvaluationRow,
    MetricRow,
    RunRow,
    RunTagRow,
    StepRow,
    TradeRow,
)
from rltrack.tracking.store import (
    BlockPoint,
    ConflictError,
    EpisodeFilter,
    EpisodeKey,
    EpisodePage,
    EpisodeSeries,
    EpisodeSummary,
    MetricSeries,
    NotFoundError,
    RunFilter,
    RunProgress,
    RunStats,
    Store,
    StoreError,
    UnavailableError,
    WinRatePoint,
)
from rltrack.training.events import (
    ArtifactSaved,
    CheckpointRemoved,
    CheckpointSaved,
    EpisodeEnded,
    EpisodeStarted,
    EvaluationRecorded,
    Event,
    Heartbeat,
    MetricsLogged,
    RunEnded,
    RunStarted,
)

RUNS: Table = RunRow.__table__  # type: ignore[assignment]
TAGS: Table = RunTagRow.__table__  # type: ignore[assignment]
EPISODES: Table = EpisodeRow.__table__  # type: ignore[assignment]
TRADES: Table = TradeRow.__table__  # type: ignore[assignment]
STEPS: Table = StepRow.__table__  # type: ignore[assignment]
METRICS: Table = MetricRow.__table__  # type: ignore[assignment]
CHECKPOINTS: Table = CheckpointRow.__table__  # type: ignore[assignment]
EVALUATIONS: Table = EvaluationRow.__table__  # type: ignore[assignment]
ARTIFACTS: Table = ArtifactRow.__table__  # type: ignore[assignment]

# The hot rows (episodes, metrics) bypass SQLAlchemy's per-row type processing (see write()).
# An episode row is the event's attributes named here, in this order, as they are, followed by
# the encoded columns that _started_params / _ended_params append. A new column of an episode
# is one more (column, attribute) pair here; _HotSql checks every name against the table.
_EPISODE_KEY = ("run_id", "idx")
_EPISODE_STARTED_PLAIN = (
    ("run_id", "run_id"), ("idx", "index"), ("env_slot", "env_slot"), ("agent_id", "agent_id"),
    ("start_timestep", "start_timestep"),
)  # fmt: skip
_EPISODE_STARTED_ENCODED = ("status", "start_time", "metrics")
_EPISODE_ENDED_PLAIN = (
    *_EPISODE_STARTED_PLAIN, ("status", "status"), ("end_timestep", "end_timestep"),
    ("steps", "steps"), ("total_reward", "total_reward"), ("win", "win"), ("epsilon", "epsilon"),
    ("drain_steps", "drain_steps"),
)  # fmt: skip
_EPISODE_ENDED_ENCODED = ("start_time", "end_time", "metrics")
_METRIC_KEY = ("run_id", "key", "timestep")
_METRIC_COLUMNS = (*_METRIC_KEY, "value", "wall_time", "episodes")
# Columns whose bound values need a cast on PostgreSQL (JSON text → jsonb).
_JSON_COLUMNS = frozenset({"metrics"})


# Episode summaries kept per process (one per run, the newest filter).
_SUMMARY_CACHE = 32


def stale_after_s() -> float:
    """Seconds without a heartbeat after which a running run is reported failed."""
    return float(os.environ.get("RLTRACK_STALE_S", "30"))


class SqlStore(Store):
    def __init__(self, url: str, *, create: bool = True) -> None:
        self.url = eng.normalize_url(url)
        if eng.is_sqlite(self.url):
            eng.check_sqlite_location(self.url)
        self.engine = eng.make_engine(self.url)
        self.dialect = self.engine.dialect.name
        eng.ensure_schema(self.url, self.engine, create=create)
        self._sql = _HotSql(self.dialect)
        self._summary_lock = threading.Lock()
        self._summaries: OrderedDict[str, tuple[Any, EpisodeSummary]] = OrderedDict()
        self._bind_time: Callable[[dt.datetime], Any] = (
            _sqlite_time if self.dialect == "sqlite" else _naive_utc
        )

    def close(self) -> None:
        self.engine.dispose()

    # -- plumbing ---------------------------------------------------------------------
    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        try:
            with (
                self.engine.connect().execution_options(sqlite_immediate=True) as conn,
                conn.begin(),
            ):
                yield conn
        except (OperationalError, DBAPIError) as exc:
            if _is_unavailable(exc):
                raise UnavailableError(f"database unavailable: {exc.orig}") from exc
            raise StoreError(f"database error: {exc.orig}") from exc
        except StatementError as exc:
            # A value SQLAlchemy could not bind (e.g. a config that is not JSON): a bad event,
            # which must reach the logger as a StoreError, not kill its writer thread.
            raise StoreError(f"cannot write: {exc.orig}") from exc

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except (OperationalError, DBAPIError) as exc:
            if _is_unavailable(exc):
                raise UnavailableError(f"database unavailable: {exc.orig}") from exc
            raise StoreError(f"database error: {exc.orig}") from exc

    def _insert(self, table: Table) -> Insert:
        if self.dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    def _upsert(self, table: Table, keys: Sequence[str], columns: Sequence[str]) -> Insert:
        stmt: Any = self._insert(table)
        return stmt.on_conflict_do_update(  # type: ignore[no-any-return]
            index_elements=list(keys), set_={c: stmt.excluded[c] for c in columns}
        )

    def _insert_ignore(self, table: Table, keys: Sequence[str]) -> Insert:
        stmt: Any = self._insert(table)
        return stmt.on_conflict_do_nothing(index_elements=list(keys))  # type: ignore[no-any-return]

    # -- writes -----------------------------------------------------------------------
    def write(self, events: Sequence[Event]) -> None:
        if not events:
            return
        b = _Batch.collect(events)
        # The hot rows (episodes, metrics) are encoded here, before the transaction, into the
        # values the column types would bind (naive-UTC times, JSON text) and written through
        # the driver's executemany: SQLAlchemy's per-row type processing cost more than the
        # database itself. Everything else is rare and goes through SQLAlchemy Core.
        try:
            started = self._started_params(b.episodes_started)
            ended = self._ended_params(b.episodes_ended)
            metrics = self._metric_params(b.metrics)
        except (TypeError, ValueError, AttributeError, RecursionError) as exc:
            raise StoreError(f"cannot encode events for the database: {exc}") from exc
        with self._writing() as conn:
            for run in b.runs_started:
                self._start_run(conn, run)
            if started:
                conn.exec_driver_sql(self._sql.episode_started, started)
            if ended:
                # Asked before the upsert: afterwards every one of them has ended.
                rewritten = self._rewritten_runs(conn, b.episodes_ended)
                conn.exec_driver_sql(self._sql.episode_ended, ended)
                self._write_trades_and_steps(conn, b.episodes_ended)
                self._update_rollups(conn, b.episodes_ended, rewritten)
            if metrics:
                conn.exec_driver_sql(self._sql.metric, metrics)
            if b.checkpoints:
                conn.execute(
                    self._upsert(
                        CHECKPOINTS,
                        ("run_id", "path"),
                        (
                            "timestep",
                            "episode_index",
                            "sha256",
                            "size",
                            "kind",
                            "created_at",
                            "metrics",
                        ),
                    ),
                    [_checkpoint_row(c) for c in b.checkpoints],
                )
            for evaluation in b.evaluations:
                self._write_evaluation(conn, evaluation)
            for artifact in b.artifacts:
                self._write_artifact(conn, artifact)
            for removed in b.checkpoints_removed:
                conn.execute(
                    delete(CHECKPOINTS).where(
                        CHECKPOINTS.c.run_id == removed.run_id, CHECKPOINTS.c.path == removed.path
                    )
                )
            for beat in b.heartbeats:
                conn.execute(
                    update(RUNS)
                    # A heartbeat replayed after the run ended must not touch its final counts.
                    .where(RUNS.c.id == beat.run_id, RUNS.c.status == "running")
                    .values(
                        heartbeat_at=beat.time, timesteps=beat.timesteps, episodes=beat.episodes
                    )
                )
            for end in b.runs_ended:
                self._end_run(conn, end)

    def _start_run(self, conn: Connection, ev: RunStarted) -> None:
        row = {
            "id": ev.run_id, "name": ev.name, "agent_id": ev.agent_id,
            "algorithm": ev.algorithm, "env_id": ev.env_id, "backend": ev.backend,
            "status": "running", "config": ev.config, "start_time": ev.time,
            "heartbeat_at": ev.time, "host": ev.host, "pid": ev.pid,
            "git_commit": ev.git_commit, "seed": ev.seed, "tags": list(ev.tags),
            "parent_run_id": ev.parent_run_id, "meta": ev.metadata,
            "total_timesteps": ev.total_timesteps, "timesteps": 0, "episodes": 0,
        }  # fmt: skip
        # The ORM attribute "meta" maps to the column "metadata".
        row["metadata"] = row.pop("meta")
        conn.execute(self._insert_ignore(RUNS, ("id",)), [row])
        if ev.group is not None:
            group = self._ensure_group(conn, ev.group, "manual", ev.time, None, None)
            conn.execute(
                self._insert_ignore(groups.MEMBERS, ("run_id",)),
                [{"run_id": ev.run_id, "group_id": group.id}],
            )
        if ev.tags:
            conn.execute(
                self._insert_ignore(TAGS, ("run_id", "tag")),
                [{"run_id": ev.run_id, "tag": t} for t in ev.tags],
            )

    def _end_run(self, conn: Connection, ev: RunEnded) -> None:
        values: dict[str, Any] = {
            "status": ev.status, "end_time": ev.time, "heartbeat_at": ev.time,
            "timesteps": ev.timesteps, "episodes": ev.episodes, "error": ev.error,
            "records_lost": ev.records_lost,
        }  # fmt: skip
        if ev.metadata:
            current = conn.execute(select(RUNS.c.metadata).where(RUNS.c.id == ev.run_id)).scalar()
            values["metadata"] = {**(current or {}), **ev.metadata}
        conn.execute(update(RUNS).where(RUNS.c.id == ev.run_id).values(**values))

    def _write_evaluation(self, conn: Connection, ev: EvaluationRecorded) -> None:
        ev_c = EVALUATIONS.c
        # Keyed by (run, opponent, time): a spool replay finds the row and writes nothing.
        if conn.execute(
            select(ev_c.id).where(
                ev_c.run_id == ev.run_id, ev_c.opponent == ev.opponent, ev_c.created_at == ev.time
            )
        ).first():
            return
        checkpoint_id = None
        if ev.checkpoint_path is not None:
            checkpoint_id = conn.execute(
                select(CHECKPOINTS.c.id).where(
                    CHECKPOINTS.c.run_id == ev.run_id, CHECKPOINTS.c.path == ev.checkpoint_path
                )
            ).scalar()
        conn.execute(
            EVALUATIONS.insert().values(
                run_id=ev.run_id,
                checkpoint_id=checkpoint_id,
                episodes=ev.episodes,
                mean_reward=ev.mean_reward,
                std_reward=ev.std_reward,
                win_rate=ev.win_rate,
                mean_length=ev.mean_length,
                opponent=ev.opponent,
                metrics=ev.metrics,
                created_at=ev.time,
            )  # fmt: skip
        )

    def _write_artifact(self, conn: Connection, ev: ArtifactSaved) -> None:
        row = {
            "run_id": ev.run_id, "path": ev.path, "kind": ev.kind, "size": ev.size,
            "sha256": ev.sha256, "media_type": ev.media_type, "created_at": ev.created_at,
            "metadata": ev.metadata,
        }  # fmt: skip
        conn.execute(self._upsert(ARTIFACTS, ("run_id", "path"), list(row)[2:]), [row])

    def list_evaluations(self, run_id: str) -> list[Evaluation]:
        ev_c = EVALUATIONS.c
        stmt = (
            select(EVALUATIONS, CHECKPOINTS.c.path.label("checkpoint_path"))
            .select_from(EVALUATIONS.outerjoin(CHECKPOINTS, ev_c.checkpoint_id == CHECKPOINTS.c.id))
            .where(ev_c.run_id == run_id)
            .order_by(ev_c.created_at, ev_c.id)
        )
        with self._reading() as conn:
            return [
                Evaluation(
                    id=r["id"],
                    run_id=r["run_id"],
                    checkpoint_id=r["checkpoint_id"],
                    episodes=r["episodes"],
                    mean_reward=r["mean_reward"],
                    std_reward=r["std_reward"],
                    created_at=r["created_at"],
                    win_rate=r["win_rate"],
                    mean_length=r["mean_length"],
                    opponent=r["opponent"],
                    metrics=r["metrics"] or {},
                    checkpoint_path=r["checkpoint_path"],
                )  # fmt: skip
                for r in conn.execute(stmt).mappings()
            ]

    def _write_trades_and_steps(self, conn: Connection, ended: Sequence[EpisodeEnded]) -> None:
        detailed = [e for e in ended if e.trades or e.trace]
        if not detailed:
            return
        ids = self._episode_ids(conn, [(e.run_id, e.index) for e in detailed])
        trades, steps = [], []
        for e in detailed:
            episode_id = ids[(e.run_id, e.index)]
            for seq, t in enumerate(e.trades):
                trades.append(
                    {
                        "episode_id": episode_id,
                        "seq": seq,
                        "direction": t.direction,
                        "entry_step": t.entry_step,
                        "exit_step": t.exit_step,
                        "entry_time": t.entry_time,
                        "exit_time": t.exit_time,
                        "entry_price": t.entry_price,
                        "exit_price": t.exit_price,
                        "quantity": t.quantity,
                        "pnl": t.pnl,
                        "costs": t.costs,
                    }  # fmt: skip
                )
            for s in e.trace:
                steps.append(
                    {
                        "episode_id": episode_id,
                        "step": s.step,
                        "action": s.action,
                        "reward": s.reward,
                        "price": s.price,
                        "position": s.position,
                        "portfolio_value": s.portfolio_value,
                    }  # fmt: skip
                )
        if trades:
            conn.execute(self._insert_ignore(TRADES, ("episode_id", "seq")), trades)
        if steps:
            conn.execute(self._insert_ignore(STEPS, ("episode_id", "step")), steps)

    def _rewritten_runs(self, conn: Connection, ended: Sequence[EpisodeEnded]) -> set[str]:
        """The runs of which some of these episodes had already ended (replays, rewrites)."""
        by_run: dict[str, list[int]] = {}
        for e in ended:
            by_run.setdefault(e.run_id, []).append(e.index)
        return {r for r, indices in by_run.items() if rollups.already_ended(conn, r, indices)}

    def _update_rollups(
        self, conn: Connection, ended: Sequence[EpisodeEnded], rewritten: set[str]
    ) -> None:
        """Episodes ending for the first time are added to their blocks; a run with a rewritten
        episode has its touched blocks recounted from the episodes table (the old values are
        in the blocks and cannot be subtracted exactly)."""
        by_run: dict[str, list[EpisodeEnded]] = {}
        for e in ended:
            by_run.setdefault(e.run_id, []).append(e)
        for run_id, eps in by_run.items():
            if run_id in rewritten:
                rollups.refresh(conn, run_id, {e.index // rollups.BLOCK for e in eps})
            else:
                rollups.merge(
                    conn, run_id,
                    (
                        (e.index, e.status, e.total_reward, e.steps, e.win, e.epsilon,
                         e.end_timestep, e.time)
                        for e in eps
                    ),
                )  # fmt: skip

    def _started_params(self, started: Sequence[EpisodeStarted]) -> list[tuple[Any, ...]]:
        """Rows for _HotSql.episode_started: _EPISODE_STARTED_PLAIN, then status,
        start_time, metrics."""
        plain, t = _started_plain, self._bind_time
        return [plain(e) + ("started", t(e.time), "{}") for e in started]

    def _ended_params(self, ended: Sequence[EpisodeEnded]) -> list[tuple[Any, ...]]:
        """Rows for _HotSql.episode_ended: _EPISODE_ENDED_PLAIN, then start_time, end_time,
        metrics, encoded as the column types would bind them."""
        plain, t, dumps = _ended_plain, self._bind_time, _json_dumps
        return [plain(e) + (t(e.start_time), t(e.time), dumps(e.metrics)) for e in ended]

    def _metric_params(self, logged: Sequence[MetricsLogged]) -> list[tuple[Any, ...]]:
        t = self._bind_time
        rows: list[tuple[Any, ...]] = []
        for ev in logged:
            wall_time = t(ev.time)
            # NaN (SB3's explained variance of constant returns, a diverged loss) is no
            # measurement: it is left out rather than refused with the whole batch.
            rows.extend(
                (ev.run_id, k, ev.timestep, float(v), wall_time, ev.episodes)
                for k, v in ev.values.items()
                if math.isfinite(v)
            )
        return rows

    def _episode_ids(
        self, conn: Connection, keys: Sequence[tuple[str, int]]
    ) -> dict[tuple[str, int], int]:
        out: dict[tuple[str, int], int] = {}
        by_run: dict[str, list[int]] = {}
        for run_id, index in keys:
            by_run.setdefault(run_id, []).append(index)
        for run_id, indices in by_run.items():
            rows = conn.execute(
                select(EPISODES.c.id, EPISODES.c.idx).where(
                    EPISODES.c.run_id == run_id, EPISODES.c.idx.in_(indices)
                )
            )
            out.update({(run_id, int(idx)): int(id_) for id_, idx in rows})
        return out

    def heartbeat(self, run_id: str, at: dt.datetime) -> None:
        with self._writing() as conn:
            conn.execute(update(RUNS).where(RUNS.c.id == run_id).values(heartbeat_at=at))

    # -- reads ------------------------------------------------------------------------
    def get_run(self, run_ref: str) -> Run:
        with self._reading() as conn:
            row = (
                conn.execute(groups.RUNS_WITH_GROUP.where(RUNS.c.id == run_ref)).mappings().first()
            )
            if row is None:
                matches = list(
                    conn.execute(
                        groups.RUNS_WITH_GROUP.where(
                            or_(
                                RUNS.c.id.startswith(run_ref, autoescape=True),
                                RUNS.c.name == run_ref,
                            )
                        ).limit(5)
                    ).mappings()
                )
                if not matches or len(run_ref) < 4 and matches[0]["name"] != run_ref:
                    raise NotFoundError(
                        f"no run {run_ref!r}; `rltrack runs` lists the runs in "
                        f"{eng.safe_url(self.url)}"
                    )
                if len(matches) > 1:
                    names = ", ".join(f"{m['id']} ({m['name']})" for m in matches)
                    raise NotFoundError(
                        f"{run_ref!r} matches several runs: {names}; give more of the run id"
                    )
                row = matches[0]
            return _run_entity(row)

    def list_runs(self, flt: RunFilter | None = None) -> list[Run]:
        """Runs matching ``flt`` (filters and sort in reads.py). Raises ``ValueError`` for an
        unknown status or sort."""
        flt = flt or RunFilter()
        stale, now = stale_after_s(), dt.datetime.now(dt.UTC)
        stmt = groups.RUNS_WITH_GROUP.where(
            *reads.run_conditions(self.dialect, flt, now, stale)
        ).order_by(*reads.run_order(self.dialect, flt.sort, now, stale))
        if flt.offset:
            stmt = stmt.offset(flt.offset)
        if flt.limit is not None:
            stmt = stmt.limit(flt.limit)
        with self._reading() as conn:
            return [_run_entity(r, stale) for r in conn.execute(stmt).mappings()]

    def list_episodes(
        self, run_id: str, *, status: str | None = None, limit: int | None = None
    ) -> list[Episode]:
        stmt = select(EPISODES).where(EPISODES.c.run_id == run_id).order_by(EPISODES.c.idx)
        if status is not None:
            stmt = stmt.where(EPISODES.c.status == status)
        if limit is not None:
            stmt = stmt.limit(limit)
        with self._reading() as conn:
            return [_episode_entity(r) for r in conn.execute(stmt).mappings()]

    def count_episodes(self, run_id: str) -> dict[str, int]:
        stmt = (
            select(EPISODES.c.status, func.count())
            .where(EPISODES.c.run_id == run_id)
            .group_by(EPISODES.c.status)
        )
        with self._reading() as conn:
            return {status: int(n) for status, n in conn.execute(stmt)}

    def list_metrics(self, run_id: str, *, key: str | None = None) -> list[Metric]:
        stmt = (
            select(METRICS)
            .where(METRICS.c.run_id == run_id)
            .order_by(METRICS.c.key, METRICS.c.timestep)
        )
        if key is not None:
            stmt = stmt.where(METRICS.c.key == key)
        with self._reading() as conn:
            return [
                Metric(
                    key=r["key"],
                    timestep=r["timestep"],
                    value=r["value"],
                    wall_time=r["wall_time"],
                    episodes=r["episodes"],
                )  # fmt: skip
                for r in conn.execute(stmt).mappings()
            ]

    def list_checkpoints(self, run_id: str) -> list[Checkpoint]:
        stmt = (
            select(CHECKPOINTS)
            .where(CHECKPOINTS.c.run_id == run_id)
            .order_by(CHECKPOINTS.c.timestep, CHECKPOINTS.c.id)
        )
        with self._reading() as conn:
            return [
                Checkpoint(
                    id=r["id"],
                    run_id=r["run_id"],
                    path=r["path"],
                    timestep=r["timestep"],
                    episode_index=r["episode_index"],
                    sha256=r["sha256"],
                    size=r["size"],
                    kind=r["kind"],
                    created_at=r["created_at"],
                    metrics=r["metrics"] or {},
                )  # fmt: skip
                for r in conn.execute(stmt).mappings()
            ]

    def episode_health(self, run_id: str) -> EpisodeHealth:
        with self._reading() as conn:
            return health.episode_health(conn, run_id)

    def repair_run(self, run_id: str, reason: str) -> int:
        now = dt.datetime.now(dt.UTC)
        with self._writing() as conn:
            health.mark_run_failed(conn, run_id, reason, now)
            closed = health.finalize_started(conn, run_id, "error", now)
            if closed:
                rollups.rebuild(conn, run_id)
            return closed

    # -- reads for the API (SQL in queries.py) ----------------------------------------
    def ping(self) -> None:
        with self._reading() as conn:
            queries.ping(conn)

    def list_agent_ids(self) -> list[str]:
        with self._reading() as conn:
            return queries.agent_ids(conn)

    def count_episodes_by_run(self, run_ids: Sequence[str]) -> dict[str, int]:
        with self._reading() as conn:
            return queries.count_episodes_by_run(conn, run_ids)

    def get_episode(self, episode_id: int) -> Episode:
        with self._reading() as conn:
            row = queries.episode_row(conn, episode_id)
        if row is None:
            raise NotFoundError(f"no episode with id {episode_id}")
        return _episode_entity(row)

    def episode_page(
        self,
        run_id: str,
        *,
        flt: EpisodeFilter | None = None,
        sort: str = "index",
        after: EpisodeKey | None = None,
        limit: int = 100,
    ) -> EpisodePage:
        with self._reading() as conn:
            rows, total, cursor = episode_reads.episode_page(
                conn, run_id, flt=flt, sort=sort, after=after, limit=limit
            )
        return EpisodePage([_episode_entity(r) for r in rows], total=total, next_cursor=cursor)

    def episode_series(self, run_id: str, *, max_points: int) -> EpisodeSeries:
        with self._reading() as conn:
            return queries.episode_series(conn, run_id, max_points)

    def rolling_win_rate(
        self, run_id: str, *, max_points: int, window: int = 100
    ) -> list[WinRatePoint]:
        with self._reading() as conn:
            return queries.rolling_win_rate(conn, run_id, max_points, window)

    def run_charts(
        self, run_ids: Sequence[str], *, max_points: int, window: int = 100
    ) -> dict[str, tuple[EpisodeSeries, list[WinRatePoint]]]:
        with self._reading() as conn:
            return queries.run_charts(conn, run_ids, max_points, window)

    def checkpoint_at(self, run_id: str, episode_index: int) -> Checkpoint | None:
        with self._reading() as conn:
            return queries.checkpoint_at(conn, run_id, episode_index)

    # -- more reads for the API (SQL in reads.py and episode_reads.py) -----------------
    def count_runs(self, flt: RunFilter | None = None) -> int:
        flt = flt or RunFilter()
        where = reads.run_conditions(self.dialect, flt, dt.datetime.now(dt.UTC), stale_after_s())
        with self._reading() as conn:
            return int(
                conn.execute(select(func.count()).select_from(RUNS).where(*where)).scalar_one()
            )

    def run_stats(
        self, run_ids: Sequence[str], *, last_win_rate: bool = True
    ) -> dict[str, RunStats]:
        with self._reading() as conn:
            return reads.run_stats(conn, run_ids, last_win_rate=last_win_rate)

    def run_progress(self, run_id: str | None = None) -> list[RunProgress]:
        stale = stale_after_s()
        now = dt.datetime.now(dt.UTC)
        with self._reading() as conn:
            rows = reads.run_progress_rows(conn, run_id)
        out = []
        for r in rows:
            status, beat = r["status"], r["heartbeat_at"]
            if status == "running" and beat is not None and (now - beat).total_seconds() > stale:
                status = "failed"  # as _run_entity reports it
            out.append(
                RunProgress(r["id"], status, int(r["episodes"] or 0), int(r["timesteps"] or 0))
            )
        return out

    def episode_summary(self, run_id: str, flt: EpisodeFilter | None = None) -> EpisodeSummary:
        """Exact medians need every value: O(episodes) the first time. The answer is kept
        (a few per process) under the run's rollup totals, which any write that changes the
        run's episodes changes, so a finished run's summary is computed once."""
        with self._reading() as conn:
            signature = (rollups.signature(conn, run_id), flt)
            with self._summary_lock:
                cached = self._summaries.get(run_id)
                if cached is not None and cached[0] == signature:
                    self._summaries.move_to_end(run_id)
                    return cached[1]
            summary = episode_reads.episode_summary(conn, run_id, flt)
        with self._summary_lock:
            self._summaries[run_id] = (signature, summary)
            self._summaries.move_to_end(run_id)
            while len(self._summaries) > _SUMMARY_CACHE:
                self._summaries.popitem(last=False)
        return summary

    def episodes_after(self, run_id: str, after: int | None, limit: int) -> list[Episode]:
        with self._reading() as conn:
            rows = episode_reads.episodes_after(conn, run_id, after, limit)
        return [_episode_entity(r) for r in rows]

    def episode_metric_types(self, run_id: str) -> dict[str, set[str]]:
        with self._reading() as conn:
            return episode_reads.episode_metric_types(conn, run_id)

    def episode_trades(self, episode_id: int) -> list[Trade]:
        with self._reading() as conn:
            rows = episode_reads.trade_rows(conn, episode_id)
        return [_trade_entity(r) for r in rows]

    def trades_after(
        self, run_id: str, after: tuple[int, int] | None, limit: int
    ) -> list[RunTrade]:
        with self._reading() as conn:
            rows = episode_reads.trades_after(conn, run_id, after, limit)
        return [RunTrade(r["episode_index"], r["seq"], _trade_entity(r)) for r in rows]

    def episode_steps(self, episode_id: int) -> list[Step]:
        with self._reading() as conn:
            rows = episode_reads.step_rows(conn, episode_id)
        return [_step_entity(r) for r in rows]

    def metric_keys(self, run_id: str) -> list[str]:
        with self._reading() as conn:
            return reads.metric_keys(conn, run_id)

    def metric_series(self, run_id: str, key: str, *, max_points: int) -> MetricSeries:
        with self._reading() as conn:
            return reads.metric_series(conn, run_id, key, max_points)

    def get_checkpoint(self, checkpoint_id: int) -> Checkpoint:
        with self._reading() as conn:
            r = (
                conn.execute(select(CHECKPOINTS).where(CHECKPOINTS.c.id == checkpoint_id))
                .mappings()
                .first()
            )
        if r is None:
            raise NotFoundError(f"no checkpoint with id {checkpoint_id}")
        return Checkpoint(
            id=r["id"], run_id=r["run_id"], path=r["path"], timestep=r["timestep"],
            episode_index=r["episode_index"], sha256=r["sha256"], size=r["size"],
            kind=r["kind"], created_at=r["created_at"], metrics=r["metrics"] or {},
        )  # fmt: skip

    def list_artifacts(self, run_id: str) -> list[Artifact]:
        with self._reading() as conn:
            return [_artifact_entity(r) for r in reads.artifact_rows(conn, run_id)]

    def get_artifact(self, artifact_id: int) -> Artifact:
        with self._reading() as conn:
            r = reads.artifact_row(conn, artifact_id)
        if r is None:
            raise NotFoundError(f"no artifact with id {artifact_id}")
        return _artifact_entity(r)

    # -- edits ---------------------------------------------------------------------------
    def update_run(
        self, run_id: str, *, tags: Sequence[str] | None = None, notes: str | None = None
    ) -> Run:
        with self._writing() as conn:
            if conn.execute(select(RUNS.c.id).where(RUNS.c.id == run_id)).first() is None:
                raise NotFoundError(f"no run {run_id!r}")
            values: dict[str, Any] = {}
            if notes is not None:
                values["notes"] = notes
            if tags is not None:
                unique = list(dict.fromkeys(tags))
                values["tags"] = unique
                # run_tags (the index of the tag filter) always holds exactly runs.tags.
                conn.execute(delete(TAGS).where(TAGS.c.run_id == run_id))
                if unique:
                    conn.execute(TAGS.insert(), [{"run_id": run_id, "tag": t} for t in unique])
            if values:
                conn.execute(update(RUNS).where(RUNS.c.id == run_id).values(**values))
        return self.get_run(run_id)

    # -- groups ---------------------------------------------------------------------------------
    def _ensure_group(
        self, conn: Connection, name: str, kind: str, at: dt.datetime,
        description: str | None, metadata: dict[str, Any] | None,
    ) -> Group:  # fmt: skip
        """The group called ``name``, made (of ``kind``) if there is none: an insert that a
        group of that name, made by another process meanwhile, turns into nothing."""
        row = groups.new_group_row(name, kind, at, description, metadata)
        conn.execute(self._insert_ignore(groups.GROUPS, ("name",)), [row])
        return groups.by_name(conn, name)

    def create_group(
        self, name: str, *, kind: str = "manual", description: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Group:  # fmt: skip
        now = dt.datetime.now(dt.UTC)
        with self._writing() as conn:
            return self._ensure_group(conn, name, kind, now, description, metadata)

    def get_group(self, ref: str) -> Group:
        with self._reading() as conn:
            return groups.get(conn, ref)

    def list_groups(self) -> list[Group]:
        with self._reading() as conn:
            return groups.listing(conn)

    def block_points(self, run_ids: Sequence[str]) -> dict[str, list[BlockPoint]]:
        with self._reading() as conn:
            return groups.block_points(conn, run_ids)

    def last_rewards(self, run_ids: Sequence[str], n: int = 100) -> dict[str, list[float]]:
        with self._reading() as conn:
            return groups.last_rewards(conn, run_ids, n)

    def delete_run(self, run_id: str) -> None:
        with self._writing() as conn:
            row = (
                conn.execute(select(RUNS.c.status, RUNS.c.heartbeat_at).where(RUNS.c.id == run_id))
                .mappings()
                .first()
            )
            if row is None:
                raise NotFoundError(f"no run {run_id!r}")
            beat = row["heartbeat_at"]
            alive = beat is None or (
                (dt.datetime.now(dt.UTC) - beat).total_seconds() <= stale_after_s()
            )
            if row["status"] == "running" and alive:
                raise ConflictError(f"run {run_id} is still running: stop it before deleting it")
            # Episodes, trades, steps, metrics, checkpoints, evaluations, artifacts and tags
            # go with it (ON DELETE CASCADE; SQLite connections enable foreign keys).
            conn.execute(delete(RUNS).where(RUNS.c.id == run_id))


class _Batch:
    """Events of one write, grouped by table in an order that satisfies foreign keys."""

    def __init__(self) -> None:
        self.runs_started: list[RunStarted] = []
        self.episodes_started: list[EpisodeStarted] = []
        self.episodes_ended: list[EpisodeEnded] = []
        self.metrics: list[MetricsLogged] = []
        self.checkpoints: list[CheckpointSaved] = []
        self.checkpoints_removed: list[CheckpointRemoved] = []
        self.heartbeats: list[Heartbeat] = []
        self.evaluations: list[EvaluationRecorded] = []
        self.runs_ended: list[RunEnded] = []
        self.artifacts: list[ArtifactSaved] = []

    @classmethod
    def collect(cls, events: Sequence[Event]) -> _Batch:
        b = cls()
        ended: dict[tuple[str, int], EpisodeEnded] = {}
        for ev in events:
            if isinstance(ev, EpisodeEnded):
                ended[(ev.run_id, ev.index)] = ev
            elif isinstance(ev, EpisodeStarted):
                b.episodes_started.append(ev)
            elif isinstance(ev, MetricsLogged):
                b.metrics.append(ev)
            elif isinstance(ev, RunStarted):
                b.runs_started.append(ev)
            elif isinstance(ev, CheckpointSaved):
                b.checkpoints.append(ev)
            elif isinstance(ev, CheckpointRemoved):
                b.checkpoints_removed.append(ev)
            elif isinstance(ev, Heartbeat):
                b.heartbeats.append(ev)
            elif isinstance(ev, EvaluationRecorded):
                b.evaluations.append(ev)
            elif isinstance(ev, RunEnded):
                b.runs_ended.append(ev)
            elif isinstance(ev, ArtifactSaved):
                b.artifacts.append(ev)
        # An episode that starts and ends inside one batch is written once, as its final row.
        b.episodes_started = [e for e in b.episodes_started if (e.run_id, e.index) not in ended]
        b.episodes_ended = list(ended.values())
        # A checkpoint removed after being saved in the same batch needs no insert.
        gone = {(c.run_id, c.path) for c in b.checkpoints_removed}
        b.checkpoints = [c for c in b.checkpoints if (c.run_id, c.path) not in gone]
        return b


def _checkpoint_row(c: CheckpointSaved) -> dict[str, Any]:
    return {
        "run_id": c.run_id, "path": c.path, "timestep": c.timestep,
        "episode_index": c.episode_index, "sha256": c.sha256, "size": c.size, "kind": c.kind,
        "created_at": c.time, "metrics": c.metrics,
    }  # fmt: skip


class _HotSql:
    """Driver-level SQL of the hot writes, in the dialect's parameter style. Same statements as
    SQLAlchemy's ``on_conflict_do_*`` constructs would render: the idempotent upserts keyed by
    (run_id, idx) for episodes and (run_id, key, timestep) for metrics."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        started = (*(c for c, _ in _EPISODE_STARTED_PLAIN), *_EPISODE_STARTED_ENCODED)
        ended = (*(c for c, _ in _EPISODE_ENDED_PLAIN), *_EPISODE_ENDED_ENCODED)
        final = tuple(c for c in ended if c not in _EPISODE_KEY)
        self.episode_started = self._insert(EPISODES, started, _EPISODE_KEY, ())
        self.episode_ended = self._insert(EPISODES, ended, _EPISODE_KEY, final)
        self.metric = self._insert(METRICS, _METRIC_COLUMNS, _METRIC_KEY, ("value", "wall_time"))

    def _placeholder(self, column: str) -> str:
        if self.dialect == "postgresql":
            return "%s::jsonb" if column in _JSON_COLUMNS else "%s"
        return "?"

    def _insert(
        self, table: Table, columns: Sequence[str], keys: Sequence[str], update: Sequence[str]
    ) -> str:
        missing = [c for c in (*columns, *keys, *update) if c not in table.c]
        if missing or len(set(columns)) != len(columns):
            raise AssertionError(f"hot insert into {table.name}: bad columns {columns}")
        values = ", ".join(self._placeholder(c) for c in columns)
        sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({values}) "
        sql += f"ON CONFLICT ({', '.join(keys)}) "
        if not update:
            return sql + "DO NOTHING"
        return sql + "DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in update)


_started_plain = attrgetter(*(a for _, a in _EPISODE_STARTED_PLAIN))
_ended_plain = attrgetter(*(a for _, a in _EPISODE_ENDED_PLAIN))
_UTC = dt.UTC


def _make_json_dumps() -> Callable[[Any], str]:
    """``json.dumps`` with its default settings (what SQLAlchemy's JSON type binds), without
    the encoder that ``json.dumps`` builds on every call: a quarter of its cost on a small
    metrics dict. Falls back to ``json.dumps`` where CPython's C encoder is missing."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return eng.json_dumps
    defaults = json.JSONEncoder()
    # markers=None: no circular-reference bookkeeping, so no state shared between threads;
    # a self-referencing value raises RecursionError instead of ValueError.
    encode = make(
        None, json_default, json.encoder.encode_basestring_ascii, None,
        defaults.key_separator, defaults.item_separator, False, False, False,
    )  # fmt: skip

    def dumps(value: Any) -> str:
        if isinstance(value, str):
            return json.dumps(value)
        try:
            return "".join(encode(value, 0))
        # NaN or infinity: not JSON (PostgreSQL refuses it); store null. A key JSON cannot
        # hold (TypeError): its readable form.
        except (ValueError, TypeError):
            return eng.json_dumps(value)

    probe = {"a": 1.5, "b": None, "c": True, "d": "é\n", "e": [1, 2.5], "f": 10**20}
    return dumps if dumps(probe) == json.dumps(probe) else eng.json_dumps


_json_dumps = _make_json_dumps()


def _naive_utc(value: dt.datetime) -> dt.datetime:
    """What :class:`~rltrack.tracking.sql.models.UTCDateTime` binds: naive UTC."""
    if value.tzinfo is _UTC:
        return value.replace(tzinfo=None)
    if value.tzinfo is not None:
        value = value.astimezone(_UTC).replace(tzinfo=None)
    return value


# SQLAlchemy's SQLite DATETIME storage format: always with microseconds.
_SQLITE_DATETIME = "%04d-%02d-%02d %02d:%02d:%02d.%06d"


def _sqlite_time(value: dt.datetime) -> str:
    """The text SQLAlchemy's SQLite DATETIME stores for :func:`_naive_utc` of ``value``."""
    if value.tzinfo is not None and value.tzinfo is not _UTC:
        value = value.astimezone(_UTC)
    return _SQLITE_DATETIME % (
        value.year, value.month, value.day, value.hour, value.minute, value.second,
        value.microsecond,
    )  # fmt: skip


def _run_entity(r: Any, stale_s: float | None = None) -> Run:
    status, error = r["status"], r["error"]
    stale = stale_after_s() if stale_s is None else stale_s
    beat = r["heartbeat_at"]
    if (
        status == "running"
        and beat is not None
        and ((dt.datetime.now(dt.UTC) - beat).total_seconds() > stale)
    ):
        status, error = "failed", error or "heartbeat lost"
    return Run(
        id=r["id"], name=r["name"], algorithm=r["algorithm"], env_id=r["env_id"],
        backend=r["backend"], status=status, config=r["config"] or {},
        start_time=r["start_time"], end_time=r["end_time"], heartbeat_at=beat,
        agent_id=r["agent_id"], host=r["host"], pid=r["pid"], git_commit=r["git_commit"],
        seed=r["seed"], tags=list(r["tags"] or []), parent_run_id=r["parent_run_id"],
        error=error, metadata=r["metadata"] or {}, total_timesteps=r["total_timesteps"],
        timesteps=r["timesteps"] or 0, episodes=r["episodes"] or 0, notes=r["notes"],
        records_lost=r["records_lost"] or 0, group_id=r["group_id"],
    )  # fmt: skip


def _trade_entity(r: Any) -> Trade:
    return Trade(
        id=r["id"], episode_id=r["episode_id"], direction=r["direction"],
        entry_step=r["entry_step"], exit_step=r["exit_step"], entry_price=r["entry_price"],
        exit_price=r["exit_price"], quantity=r["quantity"], pnl=r["pnl"], costs=r["costs"],
        entry_time=r["entry_time"], exit_time=r["exit_time"],
    )  # fmt: skip


def _step_entity(r: Any) -> Step:
    return Step(
        episode_id=r["episode_id"], step=r["step"], action=r["action"], reward=r["reward"],
        price=r["price"], position=r["position"], portfolio_value=r["portfolio_value"],
    )  # fmt: skip


def _artifact_entity(r: Any) -> Artifact:
    return Artifact(
        id=r["id"], run_id=r["run_id"], kind=r["kind"], path=r["path"], size=r["size"],
        created_at=r["created_at"], sha256=r["sha256"], media_type=r["media_type"],
        metadata=r["metadata"] or {},
    )  # fmt: skip


def _episode_entity(r: Any) -> Episode:
    return Episode(
        id=r["id"], run_id=r["run_id"], index=r["idx"], env_slot=r["env_slot"],
        status=r["status"], start_timestep=r["start_timestep"], start_time=r["start_time"],
        agent_id=r["agent_id"], end_timestep=r["end_timestep"], end_time=r["end_time"],
        steps=r["steps"], total_reward=r["total_reward"], win=r["win"], epsilon=r["epsilon"],
        metrics=r["metrics"] or {}, drain_steps=r["drain_steps"] or 0,
    )  # fmt: skip


def _is_unavailable(exc: SQLAlchemyError) -> bool:
    """Errors that a later retry can cure: connection loss, locks, read-only or full disks."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, OperationalError):
        return True
    text = str(getattr(exc, "orig", exc)).lower()
    return any(
        s in text
        for s in ("readonly", "read-only", "locked", "connection", "server closed", "disk i/o")
    )
