"""Benchmark of what tracking costs training: SB3 PPO on CartPole-v1 with tracking on and off.

Three variants of the same seeded run (PPO, 8 DummyVecEnv envs, n_steps=128, CPU):

* on: the real backend path, ``Sb3Backend(ctx).train()`` with ``ctx.sink`` a ``RunLogger``
  on a fresh SQLite file; timed from the RunStarted event to ``logger.close()`` returning,
  so every row is committed inside the time;
* off: the same ``Sb3Backend`` with a sink that discards every event;
* plain: ``PPO(...).learn()`` without our callback, which shows what the callback itself costs.

Backend and model construction are outside the time for all three. Periodic checkpoints are
off and so is the end-of-training drain (``drain_max_steps=0``); the backend's final checkpoint
is saved in "on" and "off" alike. The variants run in rotating order, ``--repeat`` rounds, to
cancel drift; the goal compares the median of "on" with the median of "off".

    .venv/bin/python bench/tracking_overhead.py [--timesteps 20000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.table import Table
from stable_baselines3 import PPO

from _machine import add_idle_wait_option, foreign_cpu, machine, wait_until_idle, write_report
from rltrack.config import TrainConfig
from rltrack.tracking.logger import RunLogger
from rltrack.tracking.store import open_store
from rltrack.training.backends.sb3 import Sb3Backend, build_vec_env, policy_name
from rltrack.training.context import TrainContext
from rltrack.training.events import Event, RunEnded, RunStarted

RESULTS = Path(__file__).resolve().parent / "results" / "tracking_overhead.json"
GOAL_OVERHEAD = 0.03
LOAD_BEFORE = os.getloadavg()[0]


class DiscardSink:
    """Tracking off: every event is dropped."""

    def emit(self, event: Event) -> None:
        pass


def thread_cpu_s(name: str) -> float | None:
    """CPU seconds used so far by this process's thread called ``name`` (Linux), else None."""
    for thread in threading.enumerate():
        if thread.name == name and thread.native_id is not None:
            try:
                stat = Path(f"/proc/self/task/{thread.native_id}/stat").read_text()
            except OSError:
                return None
            fields = stat.rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return None


def config(timesteps: int) -> TrainConfig:
    return TrainConfig(
        algo="ppo",
        env="CartPole-v1",
        num_envs=8,
        total_timesteps=timesteps,
        hyperparams={"n_steps": 128},
        progress=False,
        seed=0,
        device="cpu",
        checkpoint_every_steps=None,
        checkpoint_every_episodes=None,
        drain_max_steps=0,
        # The backend trains on this many threads; plain SB3 on the process's, set the same.
        torch_threads=torch.get_num_threads(),
    )


def run_backend(cfg: TrainConfig, folder: Path, *, tracked: bool) -> dict[str, Any]:
    run_id = uuid.uuid4().hex
    store = open_store(f"sqlite:///{folder / 'rltrack.db'}") if tracked else None
    sink = RunLogger(store) if store is not None else DiscardSink()
    try:
        ctx = TrainContext(config=cfg, run_id=run_id, run_dir=folder / "run", sink=sink)
        backend = Sb3Backend(ctx)
        t = time.perf_counter()
        sink.emit(
            RunStarted(
                run_id=run_id,
                name="overhead",
                algorithm=cfg.algo,
                env_id=cfg.env,
                backend=backend.name,
                config=cfg.model_dump(mode="json"),
                seed=cfg.seed,
                total_timesteps=cfg.total_timesteps,
            )
        )
        result = backend.train()
        sink.emit(RunEnded(run_id, "completed", result.timesteps, result.episodes))
        writer_cpu = None
        if isinstance(sink, RunLogger):
            sink.flush()
            writer_cpu = thread_cpu_s("rltrack-writer")
            state = sink.close()
            if state != "written" or sink.failure is not None:
                raise RuntimeError(f"RunLogger closed {state}: {sink.failure}")
        elapsed = time.perf_counter() - t
        out: dict[str, Any] = {
            "seconds": elapsed,
            "timesteps": result.timesteps,
            "episodes": result.episodes,
            "writer_thread_cpu_s": writer_cpu,
        }
        if store is not None:
            stored = sum(store.count_episodes(run_id).values())
            if stored != result.episodes:
                raise RuntimeError(f"{result.episodes} episodes ran, {stored} were stored")
            out["episodes_stored"] = stored
            out["metrics_stored"] = len(store.list_metrics(run_id))
        return out
    finally:
        if store is not None:
            store.close()


def run_plain(cfg: TrainConfig, folder: Path) -> dict[str, Any]:
    env = build_vec_env(cfg)
    try:
        policy = policy_name(cfg.policy, env.observation_space)  # "auto" -> MlpPolicy
        model = PPO(policy, env, seed=cfg.seed, device=cfg.device, verbose=0, **cfg.hyperparams)
        t = time.perf_counter()
        model.learn(total_timesteps=cfg.total_timesteps, progress_bar=False)
        elapsed = time.perf_counter() - t
        return {"seconds": elapsed, "timesteps": model.num_timesteps, "episodes": None}
    finally:
        env.close()


VARIANTS: dict[str, str] = {
    "on": "Sb3Backend + RunLogger → SQLite (tracking on)",
    "off": "Sb3Backend + discarding sink (tracking off)",
    "plain": "plain SB3 PPO.learn(), no callback",
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--timesteps", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument(
        "--torch-threads",
        type=int,
        default=1,
        help="torch intra-op threads (default 1: on 2 cores, 2 threads make run times swing "
        "by 3x whenever anything else runs; 0 keeps torch's default)",
    )
    add_idle_wait_option(ap)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    if args.torch_threads > 0:
        torch.set_num_threads(args.torch_threads)
    console = Console(width=max(Console().width, 110))
    cfg = config(args.timesteps)
    order = list(VARIANTS)
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in order}

    with tempfile.TemporaryDirectory(prefix="rltrack-overhead-") as tmp:
        root = Path(tmp)
        fns: dict[str, Callable[[Path], dict[str, Any]]] = {
            "on": lambda f: run_backend(cfg, f, tracked=True),
            "off": lambda f: run_backend(cfg, f, tracked=False),
            "plain": lambda f: run_plain(cfg, f),
        }
        console.print(
            f"[bold]PPO CartPole-v1, 8 envs, {args.timesteps:,} steps, {args.repeat} rounds, "
            f"torch threads {torch.get_num_threads()}"
        )
        # Warm-up, untimed: torch's first steps and the imports' lazy work happen here.
        warm = root / "warmup"
        warm.mkdir()
        run_plain(config(2048), warm)
        for r in range(args.repeat):
            # Rotate the order every round so no variant always runs first (warm-up, drift).
            for variant in order[r % 3 :] + order[: r % 3]:
                folder = root / f"{variant}{r}"
                folder.mkdir()
                if args.idle_wait > 0:
                    wait_until_idle(args.idle_wait)
                with foreign_cpu() as foreign:
                    res = fns[variant](folder)
                res["other_processes_cores"] = foreign.cores
                runs[variant].append(res)
                busy = (
                    "" if foreign.cores is None else f", other processes {foreign.cores:.2f} cores"
                )
                console.print(
                    f"  round {r + 1} {variant:5s}: {res['seconds']:.2f} s, "
                    f"{res['timesteps'] / res['seconds']:,.0f} steps/s, "
                    f"episodes {res['episodes']}{busy}",
                    highlight=False,
                )

    medians = {v: statistics.median(x["seconds"] for x in runs[v]) for v in order}
    overhead = medians["on"] / medians["off"] - 1
    callback = medians["off"] / medians["plain"] - 1
    # The same comparison round by round (on and off ran minutes apart at most), and the
    # spread of identical "off" runs: the resolution this machine allows.
    paired = statistics.median(
        a["seconds"] / b["seconds"] - 1 for a, b in zip(runs["on"], runs["off"], strict=True)
    )
    off_s = [x["seconds"] for x in runs["off"]]
    spread = (max(off_s) - min(off_s)) / medians["off"]
    writer = [x["writer_thread_cpu_s"] for x in runs["on"] if x["writer_thread_cpu_s"] is not None]
    writer_share = (
        statistics.median(w / x["seconds"] for w, x in zip(writer, runs["on"], strict=False))
        if writer
        else None
    )
    goal = {
        "goal": f"tracking on vs off <= {GOAL_OVERHEAD:.0%} of wall time (medians)",
        "value": overhead,
        "target": GOAL_OVERHEAD,
        "passed": overhead <= GOAL_OVERHEAD,
    }

    table = Table(title=f"Tracking overhead: PPO CartPole-v1, {args.timesteps:,} steps")
    table.add_column("variant")
    table.add_column(f"median s ({args.repeat} runs)", justify="right")
    table.add_column("min s", justify="right")
    table.add_column("max s", justify="right")
    table.add_column("steps/s", justify="right")
    table.add_column("vs off", justify="right")
    for v in order:
        secs = [x["seconds"] for x in runs[v]]
        steps = runs[v][0]["timesteps"]
        table.add_row(
            VARIANTS[v],
            f"{medians[v]:.2f}",
            f"{min(secs):.2f}",
            f"{max(secs):.2f}",
            f"{steps / medians[v]:,.0f}",
            f"{medians[v] / medians['off'] - 1:+.1%}",
        )
    console.print(table)
    verdict = "[green]PASS" if goal["passed"] else "[red]FAIL"
    console.print(f"{goal['goal']}: {overhead:+.2%}  {verdict}")
    console.print(f"callback alone (off vs plain SB3): {callback:+.2%}", highlight=False)
    console.print(
        f"on vs off, median of the per-round ratios: {paired:+.2%}; spread of the {args.repeat} "
        f"identical 'off' runs: {spread:.1%} of their median",
        highlight=False,
    )
    if writer_share is not None:
        console.print(
            f"RunLogger writer thread CPU: median {statistics.median(writer):.3f} s per run, "
            f"{writer_share:.2%} of the run's wall time",
            highlight=False,
        )
    on_runs = runs["on"]
    console.print(
        f"tracked per run: {on_runs[0].get('episodes_stored')} episodes, "
        f"{on_runs[0].get('metrics_stored')} metric values",
        highlight=False,
    )

    report = {
        "machine": machine(
            torch_threads=torch.get_num_threads(), load_average_1m_before=LOAD_BEFORE
        ),
        "config": cfg.model_dump(mode="json"),
        "repeat": args.repeat,
        "statistic": "median",
        "variants": VARIANTS,
        "runs": runs,
        "median_s": medians,
        "overhead_on_vs_off": overhead,
        "overhead_on_vs_off_paired_median": paired,
        "off_spread_of_median": spread,
        "writer_thread_cpu_share_median": writer_share,
        "callback_off_vs_plain": callback,
        "goals": [goal],
    }
    write_report(args.out, "tracking_overhead", report, console)
    return 0


if __name__ == "__main__":
    sys.exit(main())
