"""Benchmark of a trained trading agent against buy-and-hold and random on held-out GOOGL bars.

PPO with the ``--mode full`` preset (SB3's default PPO hyperparameters, checkpoints every
20,000 steps, the ``"pnl"`` reward, whole-range episodes) trains on the daily GOOGL bars of
``--train-range`` (default 2009-05-22:2015-12-31) through the real backend path,
``Sb3Backend(ctx).train()``, with a sink that keeps the events in memory instead of a
database. The backend then evaluates the ``final`` and ``best`` checkpoints deterministically
on ``--eval-range`` (default 2016-01-01 to the end of the data, 2018-08-29) beside the
buy-and-hold and random baselines, exactly as ``rltrack train --eval-range`` records them.
For context, the final checkpoint and the baselines are also played on the training range
(in-sample), which shows how much of the agent's training result carries over.

Runtime: ``--timesteps`` 200,000 (the full preset) took 7 minutes on the 2-core machine while
other processes kept 1.3 of its cores busy (about 500 steps/s; less time on an idle machine),
so the whole benchmark stays under 10 minutes. Torch runs one thread (``--torch-threads``):
for this small MLP on a shared machine, one thread trained at ~615 steps/s and two at ~95.
Evaluation takes seconds. Whatever the table shows is reported as it is: one seed, one data
set.

    .venv/bin/python bench/trading_agent.py [--timesteps 200000] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.table import Table

from _machine import foreign_cpu, machine, write_report
from rltrack.config import TrainConfig, build_config
from rltrack.training.backends.sb3 import Sb3Backend, algorithm_class
from rltrack.training.context import TrainContext
from rltrack.training.evaluate import EvalSummary, evaluate_baselines, evaluate_checkpoint
from rltrack.training.events import CheckpointSaved, EpisodeEnded, EvaluationRecorded, Event

RESULTS = Path(__file__).resolve().parent / "results" / "trading_agent.json"
ENV = "rltrack/Trading-v0"
SHOWN = (
    ("pnl_pct", "pnl %", "{:+.1f}"), ("sharpe_ratio", "Sharpe", "{:.2f}"),
    ("sortino_ratio", "Sortino", "{:.2f}"), ("max_drawdown", "max DD", "{:.1%}"),
    ("calmar_ratio", "Calmar", "{:.2f}"), ("win_rate", "win rate", "{:.0%}"),
    ("trades_count", "trades", "{:.0f}"), ("exposure", "exposure", "{:.0%}"),
)  # fmt: skip


class MemorySink:
    """Keeps every event in memory, in order."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def emit(self, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


def row_of(
    opponent: str,
    checkpoint: str | None,
    episodes: int,
    mean_reward: float,
    std_reward: float,
    metrics: dict[str, Any],
) -> dict[str, Any]:
    return {
        "policy": opponent if checkpoint is None else f"{opponent} ({checkpoint})",
        "episodes": episodes,
        "mean_reward": mean_reward,
        "std_reward": std_reward,
        "metrics": metrics,
    }


def from_event(e: EvaluationRecorded, kinds: dict[str, str]) -> dict[str, Any]:
    kind = kinds.get(e.checkpoint_path or "") if e.checkpoint_path else None
    return row_of(e.opponent or "?", kind, e.episodes, e.mean_reward, e.std_reward, e.metrics)


def from_summary(s: EvalSummary) -> dict[str, Any]:
    return row_of(s.opponent, s.checkpoint_kind, s.episodes, s.mean_reward, s.std_reward, s.metrics)


def table(title: str, rows: list[dict[str, Any]]) -> Table:
    t = Table(title=title)
    t.add_column("policy")
    t.add_column("episodes", justify="right")
    for _, label, _ in SHOWN:
        t.add_column(label, justify="right")
    t.add_column("reward (mean ± std)", justify="right")
    for r in rows:
        m = r["metrics"]
        cells = ["-" if m.get(key) is None else fmt.format(m[key]) for key, _, fmt in SHOWN]
        reward = f"{r['mean_reward']:+.3f} ± {r['std_reward']:.3f}"
        t.add_row(r["policy"], str(r["episodes"]), *cells, reward)
    return t


def config(args: argparse.Namespace) -> TrainConfig:
    return build_config(
        overrides={
            "algo": "ppo", "env": ENV, "mode": "full", "total_timesteps": args.timesteps,
            "seed": args.seed, "device": "cpu", "progress": False,
            "env_kwargs": {"data": args.data}, "train_range": args.train_range,
            "eval_range": args.eval_range, "eval_episodes": args.eval_episodes,
            "torch_threads": args.torch_threads,
        }
    )  # fmt: skip


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--timesteps", type=int, default=200_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default="googl")
    p.add_argument("--train-range", default="2009-05-22:2015-12-31")
    p.add_argument("--eval-range", default="2016-01-01:")
    p.add_argument("--eval-episodes", type=int, default=1)
    p.add_argument("--torch-threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args()
    torch.set_num_threads(args.torch_threads)
    console = Console(width=150)
    cfg = config(args)
    sink = MemorySink()
    with tempfile.TemporaryDirectory(prefix="rltrack-bench-") as tmp:
        ctx = TrainContext(cfg, "bench-trading-agent", Path(tmp), sink)
        backend = Sb3Backend(ctx)
        console.print(
            f"training PPO on {args.data} {args.train_range} for {args.timesteps:,} steps "
            f"(seed {args.seed}, {torch.get_num_threads()} torch thread(s))…"
        )
        with foreign_cpu() as foreign:
            t0 = time.perf_counter()
            result = backend.train()
            train_eval_s = time.perf_counter() - t0
        saved = sink.of(CheckpointSaved)
        kinds = {c.path: c.kind for c in saved}
        held_out = [from_event(e, kinds) for e in sink.of(EvaluationRecorded)]
        final = next(c for c in reversed(saved) if c.kind == "final")
        # In-sample, for context: the same policies on the training range.
        train_kwargs = {**cfg.env_kwargs, "date_range": args.train_range}
        t1 = time.perf_counter()
        in_sample = [
            evaluate_checkpoint(
                algorithm_class("ppo"), final.path, ENV, train_kwargs, cfg.eval_episodes,
                seed=args.seed, device="cpu", kind="final",
            ),
            *evaluate_baselines(ENV, train_kwargs, cfg.eval_episodes, seed=args.seed),
        ]  # fmt: skip
        in_sample_s = time.perf_counter() - t1
    episodes = sink.of(EpisodeEnded)
    in_sample_rows = [from_summary(s) for s in in_sample]
    console.print(table(f"held-out: {args.data} {args.eval_range}", held_out))
    console.print(table(f"in-sample: {args.data} {args.train_range}", in_sample_rows))
    console.print(
        f"{result.timesteps:,} timesteps, {len(episodes)} training episodes, "
        f"train + held-out evaluation {train_eval_s:.0f} s, in-sample evaluation "
        f"{in_sample_s:.1f} s; other processes used {foreign.cores or 0:.2f} cores meanwhile"
    )
    report = {
        "machine": machine(
            torch_threads=torch.get_num_threads(), foreign_cores=foreign.cores
        ),
        "params": {
            "algo": "ppo", "mode": "full", "timesteps": args.timesteps, "seed": args.seed,
            "data": args.data, "train_range": args.train_range, "eval_range": args.eval_range,
            "eval_episodes": args.eval_episodes, "hyperparams": backend.hyperparams(),
            "reward": "pnl",
        },
        "timing_s": {"train_and_held_out_eval": train_eval_s, "in_sample_eval": in_sample_s},
        "training": {
            "timesteps": result.timesteps, "episodes": len(episodes),
            "last_episode_pnl_pct": episodes[-1].metrics.get("pnl_pct") if episodes else None,
            "checkpoints": [{"kind": c.kind, "timestep": c.timestep} for c in saved],
        },
        "held_out": held_out,
        "in_sample": in_sample_rows,
    }  # fmt: skip
    write_report(args.out, "trading_agent", report, console)
    return 0


if __name__ == "__main__":
    sys.exit(main())
