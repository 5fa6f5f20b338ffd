"""Benchmark of the REST API at scale: a run of 1,000,000 episodes among 10,000 runs (SQLite).

Builds (or reuses, with ``--db``) a SQLite database through the store's own write path:
- one run of ``--episodes`` (1,000,000) episodes with a reward, a win, steps, epsilon and two
  trading metrics (``pnl``, ``sharpe_ratio``) each;
- ``--runs`` - 1 (9,999) more runs of ``--small-episodes`` (20) episodes, spread over four
  algorithms, six environments, five agents, three tags, four learning rates and every status.

Serves it with ``rltrack serve`` in a child process (so the client does not share the server's
GIL) and times, over HTTP on loopback, ``--repeat`` requests of each after two warm-ups:
- run detail of the big run (the chart series downsampled to 2000 points, and the win rate);
- an episodes page deep in the big run (a cursor at episode 900,000), and the first page sorted
  by reward and by steps;
- the summary of the big run's episodes (count, mean, median, min, max of every metric): its
  first request computes it (O(episodes)), the server keeps it until the run's episodes change;
- the runs list: the first page, and a filtered one (algorithm, status, a hyperparameter);
- a group of ``--group-runs`` (10) runs of ``--group-episodes`` (100,000) episodes each: its
  detail (runs, aggregate curve and final scores with bootstrap CIs), and the comparison of it
  with a second group of the same size (curves, final scores, profiles, P(X > Y));
and, in the same run, MLflow's ``get_metric_history`` for the same 1,000,000 points of one
metric (logged through ``log_batch`` into MLflow's SQLite store; loading is not timed).

Each row also shows the first request's time ("first ms", before any warm-up).
Goals (issue 5): run detail p95 <= 300 ms, any episodes page <= 50 ms, runs list <= 150 ms;
(issue 23): group detail and a comparison of two groups p95 <= 300 ms.
Prints a table and writes bench/results/api_scale.json.

    .venv/bin/python bench/api_scale.py [--episodes 1000000] [--runs 10000] [--db PATH]
        [--group-runs 10] [--group-episodes 100000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from _machine import add_idle_wait_option, foreign_cpu, wait_until_idle, write_report
from _serve import Server
from rltrack.tracking.store import open_store
from rltrack.training.events import EpisodeEnded, Event, RunEnded, RunStarted

RESULTS = Path(__file__).resolve().parent / "results" / "api_scale.json"
BIG_RUN = "big" + "0" * 29
ALGOS = ("ppo", "dqn", "a2c", "qrdqn")
ENVS = ("CartPole-v1", "Acrobot-v1", "MountainCar-v0", "LunarLander-v3", "Pong", "trading")
AGENTS = ("agent-a", "agent-b", "agent-c", "agent-d", "agent-e")
TAGS = ("baseline", "sweep", "ablation")
LRS = (0.0003, 0.001, 0.0001, 0.003)
STATUSES = ("completed", "completed", "completed", "stopped", "failed")
GOALS_MS = {
    "run detail": 300.0, "episodes page": 50.0, "runs list": 150.0, "group detail": 300.0,
    "groups compare": 300.0,
}  # fmt: skip
GROUPS = ("bench-ppo-seeds", "bench-dqn-seeds")  # two groups of the same size, rewards apart
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _episode(
    run_id: str, i: int, rng: random.Random, *, spikes: bool, level: float = 200.0
) -> EpisodeEnded:
    reward = level * (1.0 - math.exp(-i / 200_000)) + rng.gauss(0.0, 15.0)
    if spikes and rng.random() < 1e-5:
        reward = rng.choice([-5_000.0, 5_000.0])
    win = float(rng.random() < min(0.95, 0.1 + i / 1_100_000))
    return EpisodeEnded(
        run_id=run_id, index=i, env_slot=i % 8, status="completed", start_timestep=500 * i,
        end_timestep=500 * i + 499, steps=500, total_reward=reward, win=win,
        epsilon=max(0.05, 1.0 - i / 100_000), start_time=T0 + dt.timedelta(seconds=i),
        time=T0 + dt.timedelta(seconds=i + 1),
        metrics={"pnl": reward * 3.0, "sharpe_ratio": reward / 100.0},
    )  # fmt: skip


def build_database(url: str, *, episodes: int, runs: int, small: int, seed: int = 0) -> float:
    """Fill an empty database; returns the seconds it took."""
    rng = random.Random(seed)
    store = open_store(url)
    t = time.perf_counter()
    try:
        config = {"algo": "ppo", "hyperparams": {"learning_rate": 0.0003, "gamma": 0.99}}
        store.write(
            [RunStarted(BIG_RUN, "big-run", "ppo", "CartPole-v1", "sb3", config, time=T0,
                        agent_id="agent-a", tags=("baseline",))]
        )  # fmt: skip
        batch: list[Event] = []
        for i in range(episodes):
            batch.append(_episode(BIG_RUN, i, rng, spikes=True))
            if len(batch) == 20_000:
                store.write(batch)
                batch = []
                print(f"\r  big run: {i + 1:,} episodes", end="", file=sys.stderr, flush=True)
        end = T0 + dt.timedelta(seconds=episodes + 1)
        batch.append(RunEnded(BIG_RUN, "completed", episodes * 500, episodes, time=end))
        store.write(batch)
        print(file=sys.stderr)
        batch = []
        for r in range(runs - 1):
            run_id = f"r{r:031d}"
            algo, env = ALGOS[r % len(ALGOS)], ENVS[r % len(ENVS)]
            lr = LRS[(r // 7) % len(LRS)]
            start = T0 + dt.timedelta(minutes=r)
            batch.append(
                RunStarted(
                    run_id, f"{algo}-{env}-{r}", algo, env, "sb3",
                    {"algo": algo, "hyperparams": {"learning_rate": lr, "gamma": 0.99}},
                    time=start, agent_id=AGENTS[r % len(AGENTS)], tags=(TAGS[r % len(TAGS)],),
                )
            )  # fmt: skip
            batch.extend(_episode(run_id, i, rng, spikes=False) for i in range(small))
            status = STATUSES[r % len(STATUSES)]
            if r < runs - 20:  # the newest few are still running
                batch.append(
                    RunEnded(run_id, status, small * 500, small,  # type: ignore[arg-type]
                             time=start + dt.timedelta(minutes=3))
                )  # fmt: skip
            if len(batch) >= 20_000:
                store.write(batch)
                batch = []
                print(f"\r  other runs: {r + 1:,}", end="", file=sys.stderr, flush=True)
        store.write(batch)
        print(file=sys.stderr)
    finally:
        store.close()
    return time.perf_counter() - t


def build_groups(url: str, *, runs: int, episodes: int, seed: int = 1) -> float:
    """Add the two groups of ``runs`` runs of ``episodes`` episodes (seconds it took)."""
    rng = random.Random(seed)
    store = open_store(url)
    t = time.perf_counter()
    try:
        for g, (name, level) in enumerate(zip(GROUPS, (200.0, 150.0), strict=True)):
            for k in range(runs):
                run_id = f"g{g}s{k:02d}" + "0" * 26
                start = T0 + dt.timedelta(days=1, minutes=k)
                config = {"algo": "ppo", "hyperparams": {"learning_rate": 0.0003}, "seed": k}
                batch: list[Event] = [
                    RunStarted(run_id, f"{name}-{k}", "ppo", "CartPole-v1", "sb3", config,
                               seed=k, group=name, time=start)
                ]  # fmt: skip
                for i in range(episodes):
                    batch.append(_episode(run_id, i, rng, spikes=False, level=level))
                    if len(batch) == 20_000:
                        store.write(batch)
                        batch = []
                batch.append(RunEnded(run_id, "completed", episodes * 500, episodes,
                                      time=start + dt.timedelta(seconds=episodes + 1)))  # fmt: skip
                store.write(batch)
                print(f"\r  {name}: {k + 1} runs", end="", file=sys.stderr, flush=True)
            print(file=sys.stderr)
    finally:
        store.close()
    return time.perf_counter() - t


def has_groups(url: str) -> bool:
    store = open_store(url)
    try:
        return set(GROUPS) <= {g.name for g in store.list_groups()}
    finally:
        store.close()


def timed(fn: Callable[[], Any], repeat: int) -> dict[str, float]:
    t = time.perf_counter()
    fn()
    first_ms = (time.perf_counter() - t) * 1000.0  # cold: nothing cached by the server yet
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000.0)
    times.sort()
    return {
        "p50_ms": statistics.median(times),
        "p95_ms": times[min(len(times) - 1, math.ceil(0.95 * len(times)) - 1)],
        "max_ms": times[-1],
        "first_ms": first_ms,
        "n": float(len(times)),
    }


def api_cases(client: httpx.Client, episodes: int) -> dict[str, Callable[[], Any]]:
    from rltrack.api.routes.episodes import encode_cursor
    from rltrack.tracking.store import EpisodeKey

    # The cursor a client holds after paging to episode 900,000 (keyset: no OFFSET scan).
    deep = encode_cursor(EpisodeKey("index", None, int(episodes * 0.9)))

    def get(path: str, params: Any = None, **named: Any) -> Callable[[], Any]:
        def call() -> Any:
            r = client.get(path, params=params or named)
            r.raise_for_status()
            return r.json()

        return call

    run = f"/api/training-runs/{BIG_RUN}"
    return {
        "run detail (2000 points)": get(run),
        "episodes page at 900k": get(f"{run}/episodes", cursor=deep, limit=100),
        "episodes page by reward": get(f"{run}/episodes", sort="-total_reward", limit=100),
        "episodes page by steps": get(f"{run}/episodes", sort="-steps", limit=100),
        "episodes summary": get(f"{run}/episodes/summary"),
        "runs list": get("/api/training-runs", limit=50),
        "runs list, filtered": get(
            "/api/training-runs",
            algorithm="dqn",
            status="completed",
            **{"param.learning_rate": "0.001"},
            limit=50,
        ),
        "group detail": get(f"/api/groups/{GROUPS[0]}"),
        "groups compare (2 groups)": get(
            "/api/groups/compare", params=[("group", GROUPS[0]), ("group", GROUPS[1])]
        ),
    }


def goal_of(case: str) -> float | None:
    for prefix, ms in GOALS_MS.items():
        if case.startswith(prefix):
            return ms
    return None


def mlflow_history(points: int, tmp: Path) -> tuple[dict[str, float], float] | None:
    """MLflow's get_metric_history of ``points`` points of one metric; None without MLflow."""
    try:
        import mlflow
        from mlflow.entities import Metric
        from mlflow.tracking import MlflowClient
    except ImportError:
        return None
    import logging

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(tracking_uri=uri)
    run_id = client.create_run(client.create_experiment("scale")).info.run_id
    rng = random.Random(1)
    t = time.perf_counter()
    for start in range(0, points, 1000):
        client.log_batch(
            run_id,
            metrics=[
                Metric("total_reward", rng.gauss(0.0, 1.0), 0, i)
                for i in range(start, min(points, start + 1000))
            ],
        )
        print(f"\r  mlflow: {start + 1000:,} points", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    load_s = time.perf_counter() - t

    def call() -> Any:
        history = client.get_metric_history(run_id, "total_reward")
        assert len(history) == points, len(history)
        return history

    # Each call takes about a minute on a million points: one measured call after the warm-up.
    return timed(call, 1), load_s


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--episodes", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--small-episodes", type=int, default=20)
    ap.add_argument("--group-runs", type=int, default=10, help="runs of each of the 2 groups")
    ap.add_argument("--group-episodes", type=int, default=100_000, help="episodes of each")
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--db", type=Path, help="reuse (or build once into) this SQLite file")
    ap.add_argument("--no-mlflow", action="store_true")
    ap.add_argument("--out", type=Path, default=RESULTS)
    add_idle_wait_option(ap)
    args = ap.parse_args(argv)
    console = Console()

    with tempfile.TemporaryDirectory(prefix="rltrack-api-scale-") as tmp_name:
        tmp = Path(tmp_name)
        db = args.db or tmp / "scale.db"
        url = f"sqlite:///{db}"
        build_s = None
        if not db.exists():
            console.print(f"building {db} ({args.episodes:,} + {args.runs - 1:,} runs)…")
            build_s = build_database(
                url, episodes=args.episodes, runs=args.runs, small=args.small_episodes
            )
        groups_build_s = None
        if not has_groups(url):
            console.print(
                f"adding 2 groups of {args.group_runs} runs x {args.group_episodes:,} episodes…"
            )
            groups_build_s = build_groups(url, runs=args.group_runs, episodes=args.group_episodes)
        size_mb = db.stat().st_size / 2**20
        server = Server(url)
        results: dict[str, dict[str, float]] = {}
        try:
            with httpx.Client(base_url=server.base, timeout=120) as client:
                detail = client.get(f"/api/training-runs/{BIG_RUN}").json()
                assert detail["metrics"]["sampled"], "the big run must be downsampled"
                points = len(detail["metrics"]["episodes"])
                group = client.get(f"/api/groups/{GROUPS[0]}").json()
                assert len(group["runs"]) == args.group_runs and group["curve"], group["notes"]
                wait_until_idle(args.idle_wait)
                with foreign_cpu() as foreign:
                    for name, fn in api_cases(client, args.episodes).items():
                        results[name] = timed(fn, args.repeat)
        finally:
            server.stop()
        mlflow = None if args.no_mlflow else mlflow_history(args.episodes, tmp)

    table = Table(
        title=f"REST API over SQLite: {args.episodes:,} episodes, {args.runs:,} runs; 2 groups "
        f"of {args.group_runs} runs x {args.group_episodes:,} episodes"
    )
    for col in ("request", "first ms", "p50 ms", "p95 ms", "goal ms", "met"):
        table.add_column(col, justify="left" if col == "request" else "right")
    report_cases = {}
    for name, r in results.items():
        goal = goal_of(name)
        met = None if goal is None else r["p95_ms"] <= goal
        report_cases[name] = {**r, "goal_ms": goal, "met": met}
        table.add_row(
            name, f"{r['first_ms']:.1f}", f"{r['p50_ms']:.1f}", f"{r['p95_ms']:.1f}",
            "" if goal is None else f"{goal:.0f}",
            "" if met is None else ("yes" if met else "NO"),
        )  # fmt: skip
    if mlflow is not None:
        history, load_s = mlflow
        report_cases["mlflow get_metric_history (1M points)"] = {**history, "goal_ms": None}
        table.add_row(
            f"MLflow get_metric_history ({args.episodes:,} points)",
            f"{history['first_ms']:.1f}", f"{history['p50_ms']:.1f}",
            f"{history['p95_ms']:.1f}", "", "",
        )  # fmt: skip
    console.print(table)
    detail_p50 = results["run detail (2000 points)"]["p50_ms"]
    if mlflow is not None:
        console.print(
            f"run detail (all {args.episodes:,} episodes, drawn as {points} points) is "
            f"{mlflow[0]['p50_ms'] / detail_p50:.0f}x faster than MLflow's metric history of "
            "the same points"
        )
    report = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "episodes": args.episodes,
        "runs": args.runs,
        "database_mb": round(size_mb, 1),
        "build_s": build_s,
        "group_runs": args.group_runs,
        "group_episodes": args.group_episodes,
        "groups_build_s": groups_build_s,
        "group_curve_points": len(group["curve"]),
        "group_bootstrap": group["bootstrap"],
        "chart_points": points,
        "foreign_cores_during_api": foreign.cores,
        "cases": report_cases,
        "mlflow_load_s": None if mlflow is None else mlflow[1],
    }
    write_report(args.out, "api_scale", report, console)
    return 0


if __name__ == "__main__":
    sys.exit(main())
