"""Benchmark of the tracking write path: RunLogger ingest against raw sqlite3 and MLflow.

Writes N episodes (5 scalar metrics each) the way a training backend emits them: a RunStarted,
then an EpisodeStarted / EpisodeEnded pair per episode with 8 env slots interleaved, then a
RunEnded. The RunLogger is timed from its first ``emit`` to ``close()`` returning, when every
row is committed; the events are built beforehand, as the backend builds them, untimed.

Side by side, from the same episodes:

* the floor: raw ``sqlite3`` ``executemany`` of plain INSERTs in WAL mode, 1000 rows per
  transaction, into rltrack's own episodes table (same columns, keys, indexes, foreign key).
  Twice: with the rows (JSON text for the metrics, text for the times) built from the
  episodes inside the timed loop with ``json.dumps`` and ``isoformat``, as any writer of these
  columns must ("encode + executemany", the floor the goal uses), and with the rows built
  beforehand, untimed ("pre-encoded", the database's own cost, reported beside it);
* MLflow ``log_batch`` on a SQLite backend store: one run, each episode's 5 metrics plus its
  reward as 6 metrics at ``step`` = episode index, 1000 metrics per call at most (MLflow's
  limit), so 166 episodes per call. Its ``Metric`` objects are built beforehand, untimed.

Every figure is the median of ``--repeat`` runs, each into a fresh database. PostgreSQL is
measured when its server binaries are installed (a throwaway server is started).

    .venv/bin/python bench/tracking_ingest.py [--episodes 20000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from _machine import add_idle_wait_option, foreign_cpu, machine, wait_until_idle, write_report
from rltrack.testing.postgres import PostgresServer, PostgresUnavailable, find_pg_bin
from rltrack.tracking.logger import RunLogger
from rltrack.tracking.store import open_store
from rltrack.training.events import EpisodeEnded, EpisodeStarted, Event, RunEnded, RunStarted

RESULTS = Path(__file__).resolve().parent / "results" / "tracking_ingest.json"
SLOTS = 8
METRIC_KEYS = ("pnl", "sharpe_ratio", "max_drawdown", "win_rate", "trades_count")
MLFLOW_BATCH = 1000  # MLflow's log_batch limit on metrics per call

GOAL_SQLITE_EPS = 40_000.0
GOAL_FLOOR_FRACTION = 0.5
GOAL_MLFLOW_FACTOR = 20.0

# Other processes on a 2-core machine move every figure: recorded with the results.
LOAD_BEFORE = os.getloadavg()[0]


# -- the episodes ----------------------------------------------------------------------
class Episode:
    """One episode's plain values, from which every contender builds its own input."""

    __slots__ = (
        "index",
        "slot",
        "start_timestep",
        "end_timestep",
        "steps",
        "reward",
        "status",
        "metrics",
        "start_time",
        "end_time",
    )

    def __init__(self, **values: Any) -> None:
        for k, v in values.items():
            setattr(self, k, v)


def make_episodes(n: int, seed: int = 0) -> list[Episode]:
    rng = random.Random(seed)
    t0 = dt.datetime.now(dt.UTC)
    timestep = 0
    out = []
    for i in range(n):
        steps = rng.randint(20, 500)
        start = timestep
        timestep += steps
        start_time = t0 + dt.timedelta(microseconds=start * 37)
        out.append(
            Episode(
                index=i,
                slot=i % SLOTS,
                start_timestep=start,
                end_timestep=timestep,
                steps=steps,
                reward=rng.uniform(-50, 200),
                status="truncated" if rng.random() < 0.1 else "completed",
                metrics={
                    "pnl": rng.gauss(0, 100),
                    "sharpe_ratio": rng.gauss(0.5, 1),
                    "max_drawdown": -abs(rng.gauss(0, 0.2)),
                    "win_rate": rng.random(),
                    "trades_count": rng.randint(0, 60),
                },
                start_time=start_time,
                end_time=start_time + dt.timedelta(microseconds=steps * 37 * SLOTS),
            )
        )
    return out


def make_events(run_id: str, episodes: list[Episode]) -> list[Event]:
    """The events in the order an 8-env backend emits them: an episode's start, then the
    episodes of the other slots, then its end immediately followed by the slot's next start."""
    started = {
        e.index: EpisodeStarted(run_id, e.index, e.slot, e.start_timestep, time=e.start_time)
        for e in episodes
    }
    ended = {
        e.index: EpisodeEnded(
            run_id=run_id,
            index=e.index,
            env_slot=e.slot,
            status=e.status,
            start_timestep=e.start_timestep,
            end_timestep=e.end_timestep,
            steps=e.steps,
            total_reward=e.reward,
            start_time=e.start_time,
            metrics=dict(e.metrics),
            time=e.end_time,
        )
        for e in episodes
    }
    events: list[Event] = [
        RunStarted(
            run_id=run_id,
            name="bench",
            algorithm="ppo",
            env_id="Bench-v0",
            backend="sb3",
            config={"num_envs": SLOTS},
            seed=0,
            total_timesteps=episodes[-1].end_timestep,
        )
    ]
    n = len(episodes)
    events.extend(started[i] for i in range(min(SLOTS, n)))
    for i in range(n):
        events.append(ended[i])
        if i + SLOTS < n:
            events.append(started[i + SLOTS])
    events.append(RunEnded(run_id, "completed", episodes[-1].end_timestep, n))
    return events


# -- the contenders --------------------------------------------------------------------
def time_runlogger(url: str, episodes: list[Episode]) -> float:
    """Seconds from the first emit to close() returning, all rows committed and checked."""
    store = open_store(url)
    try:
        run_id = uuid.uuid4().hex
        events = make_events(run_id, episodes)
        logger = RunLogger(store)
        t = time.perf_counter()
        for ev in events:
            logger.emit(ev)
        state = logger.close()
        elapsed = time.perf_counter() - t
        if state != "written" or logger.failure is not None:
            raise RuntimeError(f"RunLogger closed {state}: {logger.failure}")
        counts = store.count_episodes(run_id)
        done = counts.get("completed", 0) + counts.get("truncated", 0)
        if done != len(episodes) or sum(counts.values()) != len(episodes):
            raise RuntimeError(f"expected {len(episodes)} finished episodes, found {counts}")
        return elapsed
    finally:
        store.close()


FLOOR_INSERT = (
    "INSERT INTO episodes (run_id, idx, env_slot, agent_id, status, start_time, end_time,"
    " start_timestep, end_timestep, steps, total_reward, win, epsilon, metrics)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def floor_database(path: Path, run_id: str) -> None:
    """rltrack's own schema (so the same table, keys, indexes and foreign key) and one run."""
    store = open_store(f"sqlite:///{path}")
    try:
        store.write([RunStarted(run_id, "floor", "ppo", "Bench-v0", "raw", {})])
    finally:
        store.close()


def time_sqlite_floor(
    path: Path, episodes: list[Episode], *, pre_encoded: bool, batch: int = 1000
) -> float:
    """Raw sqlite3: plain INSERT executemany, WAL, ``batch`` rows per transaction.

    With ``pre_encoded`` the rows (JSON text, ISO times) are built before the clock starts:
    the database's own cost. Without it the rows are built from the episodes inside the timed
    loop, with ``json.dumps`` and ``isoformat``: what any writer of these columns pays."""
    run_id = uuid.uuid4().hex

    def rows_of(eps: list[Episode]) -> list[tuple[Any, ...]]:
        dumps = json.dumps
        return [
            (
                run_id,
                e.index,
                e.slot,
                None,
                e.status,
                e.start_time.isoformat(" ", "microseconds")[:26],
                e.end_time.isoformat(" ", "microseconds")[:26],
                e.start_timestep,
                e.end_timestep,
                e.steps,
                e.reward,
                None,
                None,
                dumps(e.metrics),
            )
            for e in eps
        ]

    chunks = [episodes[i : i + batch] for i in range(0, len(episodes), batch)]
    encoded = [rows_of(c) for c in chunks] if pre_encoded else []
    floor_database(path, run_id)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        t = time.perf_counter()
        for i, chunk in enumerate(chunks):
            rows = encoded[i] if pre_encoded else rows_of(chunk)
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(FLOOR_INSERT, rows)
            conn.execute("COMMIT")
        elapsed = time.perf_counter() - t
        (count,) = conn.execute("SELECT count(*) FROM episodes").fetchone()
        if count != len(episodes):
            raise RuntimeError(f"floor wrote {count} rows, expected {len(episodes)}")
        return elapsed
    finally:
        conn.close()


def mlflow_available() -> str | None:
    """None when MLflow's SQLAlchemy store can be used, else why not."""
    try:
        import mlflow  # noqa: F401
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore  # noqa: F401
    except ImportError as exc:
        return f"not installed ({exc}); pip install -c constraints.txt -e '.[bench]'"
    return None


def time_mlflow(folder: Path, episodes: list[Episode]) -> float:
    """MLflow log_batch on a SQLite backend store: 6 metrics per episode, 1000 per call."""
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{folder / 'mlflow.db'}")
    experiment = client.create_experiment("bench", artifact_location=str(folder / "artifacts"))
    run_id = client.create_run(experiment).info.run_id
    per_call = MLFLOW_BATCH // (len(METRIC_KEYS) + 1)
    calls = []
    for i in range(0, len(episodes), per_call):
        metrics = []
        for e in episodes[i : i + per_call]:
            ms = int(e.end_time.timestamp() * 1000)
            metrics.extend(Metric(k, float(v), ms, e.index) for k, v in e.metrics.items())
            metrics.append(Metric("reward", e.reward, ms, e.index))
        calls.append(metrics)
    t = time.perf_counter()
    for metrics in calls:
        client.log_batch(run_id, metrics=metrics)
    elapsed = time.perf_counter() - t
    history = client.get_metric_history(run_id, "reward")
    if len(history) != len(episodes):
        raise RuntimeError(f"MLflow stored {len(history)} rewards, expected {len(episodes)}")
    client.set_terminated(run_id)
    return elapsed


# -- running and reporting -------------------------------------------------------------
LABELS = {
    "runlogger_sqlite": "RunLogger → SQLite",
    "runlogger_postgres": "RunLogger → PostgreSQL",
    "sqlite3_floor": "raw sqlite3: encode + executemany (floor)",
    "sqlite3_executemany_only": "raw sqlite3: executemany of pre-encoded rows",
    "mlflow_sqlite": "MLflow log_batch → SQLite",
}


def summarize(n: int, seconds: list[float], others: list[float | None]) -> dict[str, Any]:
    median = statistics.median(seconds)
    return {
        "episodes": n,
        "seconds": seconds,
        "median_s": median,
        "episodes_per_s": n / median,
        "episodes_per_s_each": [n / s for s in seconds],
        "other_processes_cores_each": others,
    }


def measure(
    contenders: dict[str, Callable[[int], float]],
    n: int,
    repeat: int,
    console: Console,
    *,
    idle_wait_s: float,
) -> dict[str, dict[str, Any]]:
    """Runs the contenders round-robin, ``repeat`` rounds, so drift hits them alike. Before
    each run, waits (at most ``idle_wait_s``) for other processes to leave the CPUs alone."""
    seconds: dict[str, list[float]] = {key: [] for key in contenders}
    others: dict[str, list[float | None]] = {key: [] for key in contenders}
    for r in range(repeat):
        for key, fn in contenders.items():
            if idle_wait_s > 0:
                wait_until_idle(idle_wait_s)
            with foreign_cpu() as foreign:
                s = fn(r)
            seconds[key].append(s)
            others[key].append(foreign.cores)
            busy = "" if foreign.cores is None else f" (other processes: {foreign.cores:.2f} cores)"
            console.print(
                f"  #{r + 1} {LABELS[key]}: {s:.3f} s, {n / s:,.0f} episodes/s{busy}",
                highlight=False,
            )
    return {key: summarize(n, seconds[key], others[key]) for key in contenders}


def goal(text: str, value: float | None, target: float) -> dict[str, Any]:
    return {
        "goal": text,
        "value": value,
        "target": target,
        "passed": None if value is None else value >= target,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--episodes", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--mlflow-episodes",
        type=int,
        default=None,
        help="episodes for MLflow (default: --episodes)",
    )
    ap.add_argument("--no-mlflow", action="store_true")
    ap.add_argument("--no-postgres", action="store_true")
    add_idle_wait_option(ap)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    console = Console(width=max(Console().width, 110))
    n, repeat = args.episodes, args.repeat
    episodes = make_episodes(n)
    results: dict[str, Any] = {}
    notes: dict[str, str] = {}

    with tempfile.TemporaryDirectory(prefix="rltrack-bench-") as tmp:
        root = Path(tmp)
        console.print(f"[bold]{n:,} episodes x {len(METRIC_KEYS)} metrics, median of {repeat}")
        results.update(
            measure(
                {
                    "runlogger_sqlite": lambda r: time_runlogger(
                        f"sqlite:///{root / f'rl{r}.db'}", episodes
                    ),
                    "sqlite3_floor": lambda r: time_sqlite_floor(
                        root / f"floor{r}.db", episodes, pre_encoded=False
                    ),
                    "sqlite3_executemany_only": lambda r: time_sqlite_floor(
                        root / f"pre{r}.db", episodes, pre_encoded=True
                    ),
                },
                n,
                repeat,
                console,
                idle_wait_s=args.idle_wait,
            )
        )

        if args.no_postgres:
            notes["runlogger_postgres"] = "skipped (--no-postgres)"
        elif find_pg_bin() is None:
            notes["runlogger_postgres"] = "not available (no PostgreSQL server binaries)"
        else:
            try:
                with PostgresServer(root / "pg") as pg:
                    results.update(
                        measure(
                            {
                                "runlogger_postgres": lambda r: time_runlogger(
                                    pg.create_database(f"bench{r}"), episodes
                                )
                            },
                            n,
                            repeat,
                            console,
                            idle_wait_s=args.idle_wait,
                        )
                    )
            except PostgresUnavailable as exc:
                notes["runlogger_postgres"] = f"not available ({exc})"

        why_not = "skipped (--no-mlflow)" if args.no_mlflow else mlflow_available()
        if why_not is None:
            logging.getLogger("mlflow").setLevel(logging.WARNING)
            logging.getLogger("alembic").setLevel(logging.WARNING)
            warnings.filterwarnings("ignore", module="mlflow")
            m = min(n, args.mlflow_episodes or n)
            results.update(
                measure(
                    {
                        "mlflow_sqlite": lambda r: time_mlflow(
                            _fresh(root / f"mlflow{r}"), episodes[:m]
                        )
                    },
                    m,
                    repeat,
                    console,
                    idle_wait_s=args.idle_wait,
                )
            )
            if m < n:
                notes["mlflow_sqlite"] = f"timed on {m:,} episodes, not {n:,}"
        else:
            notes["mlflow_sqlite"] = why_not

    rl = results["runlogger_sqlite"]["episodes_per_s"]
    floor = results["sqlite3_floor"]["episodes_per_s"]
    bare = results["sqlite3_executemany_only"]["episodes_per_s"]
    mlflow = results.get("mlflow_sqlite", {}).get("episodes_per_s")
    goals = [
        goal(f"RunLogger on SQLite >= {GOAL_SQLITE_EPS:,.0f} episodes/s", rl, GOAL_SQLITE_EPS),
        goal(
            f"RunLogger on SQLite >= {GOAL_FLOOR_FRACTION:.0%} of the raw sqlite3 floor "
            "(encode + executemany)",
            rl / floor,
            GOAL_FLOOR_FRACTION,
        ),
        goal(
            f"  stricter: >= {GOAL_FLOOR_FRACTION:.0%} of raw sqlite3 executemany of "
            "pre-encoded rows",
            rl / bare,
            GOAL_FLOOR_FRACTION,
        ),
        goal(
            f"RunLogger on SQLite >= {GOAL_MLFLOW_FACTOR:.0f}x MLflow log_batch",
            None if mlflow is None else rl / mlflow,
            GOAL_MLFLOW_FACTOR,
        ),
    ]

    table = Table(title=f"Tracking ingest: {n:,} episodes x {len(METRIC_KEYS)} metrics")
    table.add_column("writer")
    table.add_column("episodes", justify="right")
    table.add_column(f"median s ({repeat} runs)", justify="right")
    table.add_column("episodes/s", justify="right")
    table.add_column("RunLogger SQLite is", justify="right")
    for key, label in LABELS.items():
        if key in results:
            res = results[key]
            label += f" [{notes[key]}]" if key in notes else ""
            table.add_row(
                label,
                f"{res['episodes']:,}",
                f"{res['median_s']:.3f}",
                f"{res['episodes_per_s']:,.0f}",
                f"{rl / res['episodes_per_s']:.2f}x",
            )
        else:
            table.add_row(label, "-", "-", notes.get(key, "not run"), "-")
    console.print(table)
    goal_table = Table(title="Goals")
    goal_table.add_column("goal")
    goal_table.add_column("measured", justify="right")
    goal_table.add_column("target", justify="right")
    goal_table.add_column("result")
    verdict = {True: "[green]PASS", False: "[red]FAIL", None: "[yellow]not measured"}
    for g in goals:
        shown = "-" if g["value"] is None else f"{g['value']:,.2f}"
        goal_table.add_row(g["goal"], shown, f"{g['target']:,.2f}", verdict[g["passed"]])
    console.print(goal_table)

    report = {
        "machine": machine(sqlite=sqlite3.sqlite_version, load_average_1m_before=LOAD_BEFORE),
        "episodes": n,
        "metrics_per_episode": len(METRIC_KEYS),
        "repeat": repeat,
        "statistic": "median",
        "labels": {k: v for k, v in LABELS.items()},
        "results": results,
        "notes": notes,
        "goals": goals,
    }
    write_report(args.out, "tracking_ingest", report, console)
    return 0


def _fresh(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


if __name__ == "__main__":
    sys.exit(main())
