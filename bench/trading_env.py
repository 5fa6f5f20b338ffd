"""Benchmark of the trading env: steps/s with random actions beside gym-anytrading, and frames/s.

Every contender steps the same pre-drawn random actions (drawing them is not timed) on the same
GOOGL daily bars from gym-anytrading's package, with the same window, resetting whenever an
episode ends:

* ``rltrack`` — :class:`rltrack.envs.trading.TradingEnv` itself, whole-range episodes;
* ``rltrack_make`` — the same through ``gymnasium.make("rltrack/Trading-v0")``, with the
  wrappers Gymnasium adds (order enforcing, passive env checker);
* ``rltrack_random_starts`` — ``episode_length=256`` from seeded random starts (more resets);
* ``rltrack_dsr`` — the differential-Sharpe reward;
* ``gym_anytrading_stocks`` — ``gym_anytrading.envs.StocksEnv(df=STOCKS_GOOGL, window_size,
  frame_bound=(window_size, len(df)))``, the env that ``stocks-v0`` registers.

Render: ``render()`` frames/s of ``render_mode="rgb_array"`` at 960x540 (the default) and at
480x270, each frame after a step with a random action (only ``render()`` is timed).
Figures are medians of ``--repeat`` rounds; a round times every contender once, in turn.

    .venv/bin/python bench/trading_env.py [--steps 200000] [--repeat 5] [--frames 600]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from rich.console import Console
from rich.table import Table

from _machine import write_report
from rltrack.envs import register_envs
from rltrack.envs.trading import TradingEnv

RESULTS = Path(__file__).resolve().parent / "results" / "trading_env.json"
GOAL_STEPS_PER_S = 50_000.0
GOAL_FRAMES_PER_S = 300.0


def steps_per_second(env: gym.Env[Any, Any], actions: list[int]) -> float:
    env.reset(seed=0)
    step = env.step
    reset = env.reset
    start = time.perf_counter()
    for a in actions:
        _, _, terminated, truncated, _ = step(a)
        if terminated or truncated:
            reset()
    return len(actions) / (time.perf_counter() - start)


def frames_per_second(env: TradingEnv, actions: list[int]) -> float:
    env.reset(seed=0)
    elapsed = 0.0
    for a in actions:
        _, _, terminated, truncated, _ = env.step(a)
        if terminated or truncated:
            env.reset()
        start = time.perf_counter()
        frame = env.render()
        elapsed += time.perf_counter() - start
        assert frame is not None
    return len(actions) / elapsed


def anytrading_env(window_size: int) -> gym.Env[Any, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from gym_anytrading.datasets import STOCKS_GOOGL
        from gym_anytrading.envs import StocksEnv

    df = STOCKS_GOOGL.copy()
    env: gym.Env[Any, Any] = StocksEnv(
        df=df, window_size=window_size, frame_bound=(window_size, len(df))
    )
    return env


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--steps", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--frames", type=int, default=600)
    ap.add_argument("--window-size", type=int, default=30)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    console = Console(width=max(Console().width, 110))
    register_envs()
    w = args.window_size
    actions = np.random.default_rng(0).integers(0, 3, args.steps).tolist()

    contenders: dict[str, Callable[[], gym.Env[Any, Any]]] = {
        "rltrack": lambda: TradingEnv(window_size=w),
        "rltrack_make": lambda: gym.make("rltrack/Trading-v0", window_size=w),
        "rltrack_random_starts": lambda: TradingEnv(window_size=w, episode_length=256),
        "rltrack_dsr": lambda: TradingEnv(window_size=w, reward="differential_sharpe"),
        "gym_anytrading_stocks": lambda: anytrading_env(w),
    }
    console.print(
        f"[bold]{args.steps:,} random-action steps on GOOGL daily bars (window {w}), "
        f"median of {args.repeat}"
    )
    # Rounds: each round times every contender once, so slow drift of a shared machine spreads
    # over all of them instead of landing on one.
    envs = {name: make() for name, make in contenders.items()}
    runs: dict[str, list[float]] = {name: [] for name in contenders}
    for r in range(args.repeat):
        for name, env in envs.items():
            runs[name].append(steps_per_second(env, actions))
        console.print(
            f"  round {r + 1}: " + ", ".join(f"{k} {v[-1]:,.0f}" for k, v in runs.items())
        )
    steps: dict[str, dict[str, Any]] = {}
    for name, env in envs.items():
        env.close()
        median = statistics.median(runs[name])
        steps[name] = {"steps_per_s": median, "runs": runs[name], "us_per_step": 1e6 / median}

    frame_actions = actions[: args.frames]
    render: dict[str, dict[str, Any]] = {}
    for width, height in ((960, 540), (480, 270)):
        env = TradingEnv(window_size=w, render_mode="rgb_array", render_size=(width, height))
        fps_runs = [frames_per_second(env, frame_actions) for _ in range(args.repeat)]
        median = statistics.median(fps_runs)
        render[f"{width}x{height}"] = {"frames_per_s": median, "runs": fps_runs}
        console.print(f"  render {width}x{height}: {median:,.0f} frames/s")

    ours = steps["rltrack"]["steps_per_s"]
    theirs = steps["gym_anytrading_stocks"]["steps_per_s"]
    fps = render["960x540"]["frames_per_s"]
    passed = {"steps_per_s": ours >= GOAL_STEPS_PER_S, "render_fps": fps >= GOAL_FRAMES_PER_S}

    table = Table(title="Trading env: random-action steps/s (GOOGL daily, one process)")
    table.add_column("env")
    table.add_column("steps/s", justify="right")
    table.add_column("µs/step", justify="right")
    table.add_column("vs gym-anytrading", justify="right")
    for name, row in steps.items():
        table.add_row(
            name, f"{row['steps_per_s']:,.0f}", f"{row['us_per_step']:.1f}",
            f"{row['steps_per_s'] / theirs:.2f}x",
        )  # fmt: skip
    console.print(table)
    rtable = Table(title="render_mode='rgb_array' frames/s")
    rtable.add_column("size")
    rtable.add_column("frames/s", justify="right")
    rtable.add_column("ms/frame", justify="right")
    for size, row in render.items():
        rtable.add_row(size, f"{row['frames_per_s']:,.0f}", f"{1e3 / row['frames_per_s']:.2f}")
    console.print(rtable)
    for key, goal, value in (
        ("steps_per_s", GOAL_STEPS_PER_S, ours),
        ("render_fps", GOAL_FRAMES_PER_S, fps),
    ):
        verdict = "[green]PASS" if passed[key] else "[red]FAIL"
        console.print(f"{verdict}[/] {key}: {value:,.0f} (goal >= {goal:,.0f})")

    report = {
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpus": os.cpu_count(),
        },  # fmt: skip
        "params": {
            "steps": args.steps,
            "repeat": args.repeat,
            "frames": args.frames,
            "window_size": w,
            "data": "gym-anytrading STOCKS_GOOGL",
        },  # fmt: skip
        "steps": steps,
        "render": render,
        "goals": {"steps_per_s": GOAL_STEPS_PER_S, "render_fps_960x540": GOAL_FRAMES_PER_S},
        "pass": passed,
        "speedup_vs_gym_anytrading": ours / theirs,
    }
    write_report(args.out, "trading_env", report, console)
    return 0 if all(passed.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
