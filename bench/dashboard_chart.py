"""Benchmark of the dashboard on a long run: time until a 1,000,000-episode run's reward chart is
drawn in a real browser.

Builds (or reuses, with ``--db``) a SQLite database with one run of ``--episodes`` episodes,
written through the store's own write path (``SqlStore.write``) as a trainer writes them: an
``EpisodeStarted`` and an ``EpisodeEnded`` per episode, ~20,000 events per batch. Rewards climb
with Gaussian noise, and a few rare spikes that a downsample must keep.

Serves it with ``rltrack serve`` in a child process and opens the run's page (``/runs/<id>``)
``--repeat`` times in Debian's Chromium (through Playwright), each time in a fresh browser
context (empty cache), after one warm-up load that is reported apart. The figure is the time
from navigation start to the reward chart being drawn: the dashboard's
``performance.mark('chart-drawn:reward')``, set when uPlot has drawn the chart's canvas. Beside
it: the run-detail API request as the browser timed it, and the points the chart drew.

Goal: p95 <= 1.5 s. Prints a table and writes bench/results/dashboard_chart.json.

    .venv/bin/python bench/dashboard_chart.py [--episodes 1000000] [--repeat 10] [--db PATH]
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import platform
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, sync_playwright
from rich.console import Console
from rich.table import Table

from _machine import add_idle_wait_option, wait_until_idle, write_report
from _serve import Server
from rltrack.api.web import WEB_ROOT
from rltrack.tracking.store import open_store
from rltrack.training.events import EpisodeEnded, EpisodeStarted, Event, RunEnded, RunStarted

RESULTS = Path(__file__).resolve().parent / "results" / "dashboard_chart.json"
RUN_ID = "dash" + "0" * 28
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
GOAL_MS = 1500.0
EVENTS_PER_BATCH = 20_000
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


# -- the database --------------------------------------------------------------------------------
def episode_events(i: int, rng: random.Random) -> tuple[EpisodeStarted, EpisodeEnded]:
    reward = 200.0 * (1.0 - math.exp(-i / 200_000)) + rng.gauss(0.0, 25.0)
    if rng.random() < 2e-5:  # about twenty spikes in a million episodes
        reward = rng.choice([-3_000.0, 4_000.0])
    steps = max(1, int(rng.gauss(300, 40)))
    start = T0 + dt.timedelta(seconds=i)
    started = EpisodeStarted(RUN_ID, i, env_slot=i % 8, start_timestep=300 * i, time=start)
    ended = EpisodeEnded(
        run_id=RUN_ID,
        index=i,
        env_slot=i % 8,
        status="completed",
        start_timestep=300 * i,
        end_timestep=300 * i + steps,
        steps=steps,
        total_reward=reward,
        start_time=start,
        win=float(rng.random() < min(0.95, 0.05 + i / 1_000_000)),
        epsilon=max(0.05, 1.0 - i / 100_000),
        metrics={"pnl": reward * 2.0},
        time=start + dt.timedelta(seconds=1),
    )
    return started, ended


def build_database(url: str, episodes: int, seed: int = 0) -> float:
    """Writes the run into an empty database; returns the seconds it took."""
    rng = random.Random(seed)
    store = open_store(url)
    t = time.perf_counter()
    try:
        config = {
            "algo": "dqn",
            "env": "CartPole-v1",
            "hyperparams": {"learning_rate": 0.0001, "gamma": 0.99, "buffer_size": 1_000_000},
        }
        store.write(
            [
                RunStarted(
                    RUN_ID, "million-episodes", "dqn", "CartPole-v1", "sb3", config,
                    agent_id="agent-a", total_timesteps=300 * episodes, time=T0,
                )
            ]
        )  # fmt: skip
        batch: list[Event] = []
        for i in range(episodes):
            batch.extend(episode_events(i, rng))
            if len(batch) >= EVENTS_PER_BATCH:
                store.write(batch)
                batch = []
                print(f"\r  {i + 1:,} episodes written", end="", file=sys.stderr, flush=True)
        end = T0 + dt.timedelta(seconds=episodes + 1)
        batch.append(RunEnded(RUN_ID, "completed", 300 * episodes, episodes, time=end))
        store.write(batch)
        print(file=sys.stderr)
    finally:
        store.close()
    return time.perf_counter() - t


def has_run(path: Path, episodes: int) -> bool:
    """Whether the SQLite file at ``path`` already holds the finished run."""
    if not path.is_file():
        return False
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            row = conn.execute("SELECT status FROM runs WHERE id = ?", (RUN_ID,)).fetchone()
            if row is None or row[0] != "completed":
                return False
            (count,) = conn.execute(
                "SELECT count(*) FROM episodes WHERE run_id = ?", (RUN_ID,)
            ).fetchone()
            return bool(count == episodes)
    except sqlite3.Error:
        return False


# -- the server and the browser --------------------------------------------------------------------
MEASURE = """() => {
  const mark = performance.getEntriesByName('chart-drawn:reward')[0];
  const api = performance.getEntriesByType('resource')
    .filter((e) => /\\/api\\/training-runs\\/[^/?]+(\\?|$)/.test(e.name))[0];
  const nav = performance.getEntriesByType('navigation')[0];
  const chart = document.querySelector('[data-chart="reward"]');
  return {
    drawn_ms: mark ? mark.startTime : null,
    api_ms: api ? api.responseEnd - api.startTime : null,
    api_start_ms: api ? api.startTime : null,
    dom_content_loaded_ms: nav ? nav.domContentLoadedEventEnd : null,
    points: chart ? Number(chart.getAttribute('data-points')) : null,
  };
}"""


def load_once(browser: Browser, url: str) -> dict[str, Any]:
    """Opens ``url`` in a fresh context; the timings of its reward chart."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        page = context.new_page()
        page.goto(url, wait_until="commit")
        page.wait_for_selector('[data-chart="reward"][data-drawn="true"]', timeout=120_000)
        result: dict[str, Any] = page.evaluate(MEASURE)
        return result
    finally:
        context.close()


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (q in [0, 100])."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    k = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--episodes", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=10, help="measured page loads")
    ap.add_argument("--db", type=Path, help="reuse (or build once into) this SQLite file")
    ap.add_argument("--out", type=Path, default=RESULTS)
    add_idle_wait_option(ap)
    args = ap.parse_args(argv)
    console = Console()
    load_before = os.getloadavg()[0]

    if not CHROMIUM.is_file():
        console.print(f"[red]needs Debian's Chromium at {CHROMIUM}: apt-get install chromium")
        return 2
    if not (WEB_ROOT / "index.html").is_file():
        console.print(f"[red]the dashboard is not built in {WEB_ROOT}: run `make web`")
        return 2

    with tempfile.TemporaryDirectory(prefix="rltrack-dash-bench-") as tmp:
        db = args.db or Path(tmp) / "rltrack.db"
        url = f"sqlite:///{db}"
        build_s: float | None = None
        if has_run(db, args.episodes):
            console.print(f"reusing {db} ({args.episodes:,} episodes)")
        else:
            if db.exists():
                console.print(f"[red]{db} exists without the finished run: remove it first")
                return 2
            console.print(f"writing {args.episodes:,} episodes into {db} …")
            build_s = build_database(url, args.episodes)
            console.print(f"  built in {build_s:.1f} s ({args.episodes / build_s:,.0f} episodes/s)")
        size_mb = db.stat().st_size / 2**20

        server = Server(url)
        page_url = f"{server.base}/runs/{RUN_ID}"
        waited = wait_until_idle(args.idle_wait)
        loads: list[dict[str, Any]] = []
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=False
                )
                try:
                    warmup = load_once(browser, page_url)
                    # (No foreign-CPU figure: the server and the browser are this process's
                    # own children, still running, and would count as foreign.)
                    for _ in range(args.repeat):
                        loads.append(load_once(browser, page_url))
                finally:
                    browser.close()
        finally:
            server.stop()

    drawn = [float(x["drawn_ms"]) for x in loads]
    api = [float(x["api_ms"]) for x in loads if x["api_ms"] is not None]
    figures = {
        "p50_ms": percentile(drawn, 50),
        "p95_ms": percentile(drawn, 95),
        "min_ms": min(drawn),
        "max_ms": max(drawn),
        "mean_ms": statistics.fmean(drawn),
        "api_p50_ms": percentile(api, 50) if api else None,
        "api_p95_ms": percentile(api, 95) if api else None,
    }
    meets_goal = figures["p95_ms"] <= GOAL_MS

    table = Table(title=f"Reward chart of a {args.episodes:,}-episode run, navigation → drawn")
    table.add_column("")
    table.add_column("p50", justify="right")
    table.add_column("p95", justify="right")
    table.add_column("min", justify="right")
    table.add_column("max", justify="right")
    table.add_row(
        f"chart drawn ({args.repeat} loads)",
        *(f"{figures[k]:.0f} ms" for k in ("p50_ms", "p95_ms", "min_ms", "max_ms")),
    )
    if api:
        table.add_row(
            "  run-detail API request",
            f"{figures['api_p50_ms']:.0f} ms",
            f"{figures['api_p95_ms']:.0f} ms",
            f"{min(api):.0f} ms",
            f"{max(api):.0f} ms",
        )
    table.add_row("warm-up load (not counted)", f"{warmup['drawn_ms']:.0f} ms", "", "", "")
    console.print(table)
    points = {x["points"] for x in loads}
    console.print(
        f"points drawn: {', '.join(str(p) for p in sorted(points))} · goal p95 ≤ {GOAL_MS:.0f} ms: "
        + ("[green]met" if meets_goal else "[red]not met")
    )
    if load_before > 0.5 * (os.cpu_count() or 1):
        console.print(f"[yellow]the machine was busy before the run (load {load_before:.1f})")

    result = {
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "sqlite": sqlite3.sqlite_version,
            "chromium": chromium_version(),
            "load_average_1m_before": load_before,
            "idle_wait_s": waited,
        },
        "episodes": args.episodes,
        "database_mb": size_mb,
        "build_s": build_s,
        "repeat": args.repeat,
        "goal_p95_ms": GOAL_MS,
        "meets_goal": meets_goal,
        "figures": figures,
        "warmup": warmup,
        "loads": loads,
    }
    write_report(args.out, "dashboard_chart", result, console)
    return 0


def chromium_version() -> str | None:
    try:
        out = subprocess.run(
            [str(CHROMIUM), "--version"], capture_output=True, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return out.strip() or None


if __name__ == "__main__":
    sys.exit(main())
