"""Benchmark of `rltrack video`: composed and encoded frames per second at 960x540.

Two real runs are trained first (PPO on CartPole-v1 and on the trading env, 2,048 steps, a
checkpoint every 512, in a temporary RLTRACK_HOME with SQLite); then, for each, the real
``make_video`` renders ``--seconds`` of video at 30 fps over 4 milestones (the frame count is
fixed by the time budget), with ``--jobs`` milestones rendered at once, ``--repeat`` times.

Reported per run and jobs (medians):

* fps: frames / wall time of rendering and encoding every milestone (workers started, models
  loaded, envs made, frames played, composed and encoded, each segment's file finished);
* end to end: frames / wall time of the whole ``make_video`` (reading the records, checking the
  envs, joining the segments, the sidecar and the artifact records too);
* the time per frame, summed over the processes that render: env steps and rendering
  (the env's own ``render()``), the policy's forward pass, the panel (game image placed, panel
  redrawn), encoding in our process (colour conversion, handing the frame to ffmpeg and waiting
  when it is behind), and the CPU time of the ffmpeg encoders themselves (another process).

Also measured, once per env: "compose only", our part alone in one process (game image placed,
panel redrawn, frame converted to yuv420p) on recorded frames, without the env or ffmpeg.

Goal: >= 300 frames/s (10x real time at 30 fps) for both envs, end to end.

    .venv/bin/python bench/video.py [--seconds 40] [--jobs 1,2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.table import Table

from _machine import add_idle_wait_option, foreign_cpu, machine, wait_until_idle, write_report
from rltrack.config import build_config
from rltrack.tracking.logger import RunLogger
from rltrack.tracking.store import open_store
from rltrack.training.context import TrainContext
from rltrack.training.runner import new_run_id, run_dir_for, run_training
from rltrack.video.make import make_video
from rltrack.video.options import build_options

RESULTS = Path(__file__).resolve().parent / "results" / "video.json"
GOAL_FPS = 300.0
LOAD_BEFORE = os.getloadavg()[0]
RUNS: dict[str, dict[str, Any]] = {
    "CartPole-v1": {"env": "CartPole-v1"},
    "rltrack/Trading-v0": {"env": "rltrack/Trading-v0", "env_kwargs": {"episode_length": 256}},
}


def train(home: Path, url: str, name: str, spec: dict[str, Any]) -> str:
    cfg = build_config(
        overrides={
            "algo": "ppo",
            "total_timesteps": 2048,
            "checkpoint_every_steps": 512,
            "keep_checkpoints": 10,
            "progress": False,
            "device": "cpu",
            "seed": 0,
            "hyperparams": {"n_steps": 256, "batch_size": 64, "n_epochs": 2},
            **spec,
        }
    )
    store = open_store(url)
    logger = RunLogger(store)
    run_id = new_run_id()
    ctx = TrainContext(cfg, run_id, run_dir_for(home, run_id), logger)
    outcome = run_training(ctx, name=name)
    logger.close()
    store.close()
    if outcome.status != "completed":
        raise RuntimeError(f"training {name} ended {outcome.status}: {outcome.error}")
    return run_id


def measure(
    store: Any, run_id: str, home: Path, seconds: float, jobs: int, out: Path
) -> dict[str, Any]:
    options = build_options(milestones=4, total_seconds=seconds, jobs=jobs)
    run = store.get_run(run_id)
    t = time.perf_counter()
    result = make_video(store, [run], options, out=out, home=home)
    total = time.perf_counter() - t
    n, tm = result.frames, result.timings
    return {
        "frames": n,
        "render_wall_s": result.render_wall_s,
        "total_wall_s": total,
        "fps": n / result.render_wall_s,
        "end_to_end_fps": n / total,
        "ms_per_frame": {
            "render": 1e3 * tm.render / n,
            "policy": 1e3 * tm.policy / n,
            "panel": 1e3 * tm.panel / n,
            "encode": 1e3 * tm.encode / n,
            "ffmpeg_cpu": 1e3 * result.encoder_cpu_s / n,
        },
        "bytes": out.stat().st_size,
    }


def compose_only(store: Any, run_id: str, frames: int = 3000) -> dict[str, float]:
    """Our part alone, in one process: the game image placed, the panel redrawn and the frame
    converted to yuv420p, on 100 recorded frames of the run's env and its policy's readouts
    (no env stepping, no ffmpeg). Frames/s and ms per frame of each step."""
    import cv2
    import numpy as np

    from rltrack.video.compose import GameSlot, layout_for
    from rltrack.video.make import prepare
    from rltrack.video.panel import Canvas, CellPanel, TopBar
    from rltrack.video.policy import ActorCriticView, load_policy
    from rltrack.video.source import ChapterPlayer, action_labels, open_env

    options = build_options(milestones=1, jobs=1)
    [ctx], _ = prepare(store, [store.get_run(run_id)], options)
    layout = layout_for(1, 960, 540)
    cell = layout.cells[0]
    env = open_env(ctx.env_id, ctx.env_kwargs, (cell.game.w, cell.game.h))
    policy = load_policy(
        ctx.algorithm,
        ctx.chapters[0].checkpoint_path,
        env.action_space,
        env.observation_space,
        deterministic=False,
    )
    player = ChapterPlayer(env, ctx.env_id, policy, None, 0)
    recorded = [pf for pf, _ in zip(player.frames(), range(100), strict=False)]
    env.close()
    canvas = Canvas(960, 540)
    TopBar(canvas, layout.top, layout.top_style).draw_run(ctx)
    panel = CellPanel(
        canvas,
        cell.panel,
        layout.panel_style,
        ctx,
        action_labels(env, policy.n_values),
        policy.title,
        compact=False,
        has_value=isinstance(policy, ActorCriticView),
    )
    panel.draw_static(ctx.chapters[0], 0, 1)
    slot = GameSlot(canvas, cell.game, 4)
    slot.draw_static()
    canvas.publish_static()
    yuv = np.empty((810, 960), dtype=np.uint8)
    place = draw = convert = 0.0
    clock = time.perf_counter
    for i in range(frames):
        pf = recorded[i % len(recorded)]
        t0 = clock()
        slot.place(pf.image, i % 40 < 15)
        t1 = clock()
        panel.draw_frame(pf.episode, None, pf.score + i, i + 1, None, pf.readout)
        t2 = clock()
        cv2.cvtColor(canvas.frame, cv2.COLOR_RGB2YUV_I420, dst=yuv)
        t3 = clock()
        place, draw, convert = place + t1 - t0, draw + t2 - t1, convert + t3 - t2
    total = place + draw + convert
    return {
        "fps": frames / total,
        "place_ms": 1e3 * place / frames,
        "panel_ms": 1e3 * draw / frames,
        "yuv_ms": 1e3 * convert / frames,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--seconds", type=float, default=40.0, help="video length per measurement")
    ap.add_argument("--jobs", default="1,2", help="comma-separated --jobs values to measure")
    ap.add_argument("--repeat", type=int, default=3)
    add_idle_wait_option(ap)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    jobs_list = [int(j) for j in args.jobs.split(",")]
    console = Console(width=max(Console().width, 140))
    results: dict[str, dict[str, list[dict[str, Any]]]] = {}
    with tempfile.TemporaryDirectory(prefix="rltrack-video-bench-") as tmp:
        home = Path(tmp)
        url = f"sqlite:///{home / 'rltrack.db'}"
        console.print("[bold]training the runs to film[/] (PPO, 2,048 steps each)")
        run_ids = {name: train(home, url, name, spec) for name, spec in RUNS.items()}
        store = open_store(url)
        # Warm-up, untimed: imports and first calls.
        measure(store, run_ids["CartPole-v1"], home, 2.0, 1, home / "warmup.mp4")
        composed = {}
        for name, run_id in run_ids.items():
            if args.idle_wait > 0:
                wait_until_idle(args.idle_wait)
            composed[name] = compose_only(store, run_id)
            c = composed[name]
            console.print(
                f"  compose only {name:20s}: {c['fps']:6.0f} fps (place {c['place_ms']:.2f} ms, "
                f"panel {c['panel_ms']:.2f} ms, yuv {c['yuv_ms']:.2f} ms)",
                highlight=False,
            )
        for r in range(args.repeat):
            for name, run_id in run_ids.items():
                for jobs in jobs_list:
                    if args.idle_wait > 0:
                        wait_until_idle(args.idle_wait)
                    with foreign_cpu() as foreign:
                        res = measure(store, run_id, home, args.seconds, jobs, home / "v.mp4")
                    res["other_processes_cores"] = foreign.cores
                    results.setdefault(name, {}).setdefault(str(jobs), []).append(res)
                    busy = "" if foreign.cores is None else f", others {foreign.cores:.2f} cores"
                    console.print(
                        f"  round {r + 1} {name:20s} jobs {jobs}: {res['fps']:6.0f} fps, "
                        f"end to end {res['end_to_end_fps']:5.0f} fps{busy}",
                        highlight=False,
                    )
        store.close()

    table = Table(
        title=f"rltrack video at 960x540, 30 fps, {args.seconds:g} s per video, "
        f"medians of {args.repeat}"
    )
    for col in (
        "env",
        "jobs",
        "frames",
        "fps",
        "end to end",
        "render ms",
        "policy ms",
        "panel ms",
        "encode ms",
        "ffmpeg cpu ms",
        "others",
    ):
        table.add_column(col, justify="left" if col == "env" else "right")
    summary: dict[str, dict[str, Any]] = {}
    best: dict[str, float] = {}
    for name, by_jobs in results.items():
        for jobs, runs in by_jobs.items():

            def med(key: str, sub: str | None = None, runs: list[dict[str, Any]] = runs) -> float:
                return statistics.median(r[key][sub] if sub else r[key] for r in runs)

            split = {k: med("ms_per_frame", k) for k in runs[0]["ms_per_frame"]}
            others = [r["other_processes_cores"] for r in runs if r["other_processes_cores"]]
            row = {
                "frames": runs[0]["frames"],
                "fps": med("fps"),
                "end_to_end_fps": med("end_to_end_fps"),
                "ms_per_frame": split,
                "other_processes_cores": statistics.median(others) if others else None,
            }
            summary.setdefault(name, {})[jobs] = row
            best[name] = max(best.get(name, 0.0), row["fps"])
            table.add_row(
                name,
                jobs,
                str(row["frames"]),
                f"{row['fps']:.0f}",
                f"{row['end_to_end_fps']:.0f}",
                *(f"{split[k]:.2f}" for k in split),
                "-"
                if row["other_processes_cores"] is None
                else f"{row['other_processes_cores']:.2f}",
            )
    console.print(table)
    goals = []
    for name, fps in best.items():
        goal = {
            "goal": f"{name}: >= {GOAL_FPS:.0f} composed and encoded frames/s at 960x540",
            "value": fps,
            "target": GOAL_FPS,
            "passed": fps >= GOAL_FPS,
        }
        goals.append(goal)
        verdict = "[green]PASS" if goal["passed"] else "[red]FAIL"
        console.print(f"{goal['goal']}: best {fps:.0f} fps  {verdict}")

    report = {
        "machine": machine(
            torch_threads=torch.get_num_threads(), load_average_1m_before=LOAD_BEFORE
        ),
        "config": {
            "size": "960x540",
            "fps": 30,
            "seconds": args.seconds,
            "milestones": 4,
            "jobs": jobs_list,
            "runs": RUNS,
        },
        "repeat": args.repeat,
        "statistic": "median",
        "runs": results,
        "summary": summary,
        "compose_only": composed,
        "goals": goals,
    }
    write_report(args.out, "video", report, console)
    return 0


if __name__ == "__main__":
    sys.exit(main())
