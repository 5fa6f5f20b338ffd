"""Benchmark of what the SB3 integration costs a user's own script: the same PPO script plain
and with ``TrackingCallback``, as whole processes (interpreter start, imports, the model, the
run's records in a fresh SQLite file, its drain and final checkpoint, everything until exit).

The two run in alternating pairs (plain, tracked, then tracked, plain, ...) to cancel drift;
the goal compares the median wall times (≤ 3 %). Peak memory (max RSS) of each process is
reported too.

    .venv/bin/python bench/integration_overhead.py [--steps 100000] [--envs 8] [--pairs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from _machine import add_idle_wait_option, foreign_cpu, machine, wait_until_idle, write_report

RESULTS = Path(__file__).resolve().parent / "results" / "integration_overhead.json"
GOAL = 0.03


def worker(variant: str, steps: int, envs: int, home: str) -> None:
    """One whole training script, as a user would write it."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    env = make_vec_env("CartPole-v1", n_envs=envs, seed=0)
    model = PPO("MlpPolicy", env, n_steps=128, seed=0, device="cpu", verbose=0)
    callback = None
    if variant == "tracked":
        from rltrack.integrations.sb3 import TrackingCallback

        callback = TrackingCallback(name="bench", db=f"sqlite:///{home}/rltrack.db")
    model.learn(total_timesteps=steps, callback=callback)


def run_once(variant: str, steps: int, envs: int) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one process."""
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "RLTRACK_HOME": home}
        argv = [sys.executable, __file__, "--worker", variant, "--steps", str(steps),
                "--envs", str(envs), "--home", home]  # fmt: skip
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"the {variant} script failed")
        return wall, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--envs", type=int, default=8)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--worker", choices=("plain", "tracked"))
    parser.add_argument("--home")
    add_idle_wait_option(parser)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.steps, args.envs, args.home)
        return
    console = Console()
    results: dict[str, list[tuple[float, float]]] = {"plain": [], "tracked": []}
    foreign = []
    for pair in range(args.pairs):
        order = ("plain", "tracked") if pair % 2 == 0 else ("tracked", "plain")
        for variant in order:
            wait_until_idle(args.idle_wait)
            with foreign_cpu() as f:
                wall, rss = run_once(variant, args.steps, args.envs)
            results[variant].append((wall, rss))
            foreign.append(f.cores)
            console.print(f"pair {pair + 1} {variant:<8} {wall:7.2f} s  {rss:7.1f} MiB")
    med = {v: statistics.median(w for w, _ in r) for v, r in results.items()}
    rss = {v: max(m for _, m in r) for v, r in results.items()}
    overhead = med["tracked"] / med["plain"] - 1
    table = Table(title=f"SB3 PPO, {args.steps:,} steps, {args.envs} envs, whole processes")
    for col in ("script", "median wall s", "runs", "peak RSS MiB"):
        table.add_column(col)
    for v in ("plain", "tracked"):
        table.add_row(v, f"{med[v]:.2f}", " ".join(f"{w:.1f}" for w, _ in results[v]),
                      f"{rss[v]:.0f}")  # fmt: skip
    console.print(table)
    met = overhead <= GOAL
    console.print(
        f"overhead {overhead:+.1%} (goal ≤ {GOAL:.0%}): {'met' if met else 'NOT met'}; "
        f"memory {rss['tracked'] - rss['plain']:+.0f} MiB",
        highlight=False,
    )
    write_report(
        RESULTS,
        "integration_overhead",
        {
            "machine": machine(other_processes_cores=foreign),
            "steps": args.steps,
            "envs": args.envs,
            "pairs": args.pairs,
            "wall_s": {v: [w for w, _ in r] for v, r in results.items()},
            "peak_rss_mib": {v: [m for _, m in r] for v, r in results.items()},
            "median_s": med,
            "overhead": overhead,
            "goal": GOAL,
            "met": met,
        },  # fmt: skip
        console,
    )


if __name__ == "__main__":
    main()
