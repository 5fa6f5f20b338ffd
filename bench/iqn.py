"""IQN on CartPole-v1 against SB3 DQN and SB3 PPO: env steps and wall time to solve, same run.

Every contender trains on CartPole-v1 from scratch, one seed at a time, and every
``--eval-every`` env steps its current policy plays ``--eval-episodes`` (20) seeded episodes
deterministically (greedy, epsilon 0). A seed is solved at the first evaluation whose mean
return is >= 475 (CartPole-v1's threshold), and training stops there. ``train_s`` is the wall
time spent training up to that point, evaluations excluded (the same rule for all three).
Evaluating every 1,000 steps (rather than 2,500, as earlier runs did) places the solve point
within 1,000 steps: a coarse grid charges up to a grid step too many, which is a fifth of a
12,500-step solve but a twentieth of a 50,000-step one.

* **IQN, actor-learner** (the goal's contender): ``rltrack train --algo iqn --num-actors 1``
  with :data:`CARTPOLE_HYPERPARAMS` (one learner step per env step), tracked in its own SQLite
  file, checkpointing every ``--eval-every`` env steps. The checkpoints are evaluated after the
  run, in order; the first that solves gives the env steps, and its time (``created_at``) less
  the first episode's start gives ``train_s``. So tracking is included, evaluations are not,
  and neither is starting the processes (``startup_s``, reported apart; SB3's model
  construction is not counted either). The run trains ``--iqn-max-steps`` steps whatever
  happens, since evaluating during the run would take CPU from it.
* **IQN, serial classes** (a reference): the same classes stepped in one process, as
  ``--num-actors 0`` does, via ``iqn_serial_tuning.train_seed`` (evaluations paused, like
  SB3's). The gap to the actor-learner is what running acting beside learning buys.
* **SB3 DQN** with rl-zoo's tuned CartPole-v1 hyperparameters (our ``--mode full`` preset for
  ``dqn``: 256x256, lr 2.3e-3, 128 gradient steps every 256 env steps, ...).
* **SB3 PPO** with rl-zoo's tuned CartPole-v1 hyperparameters (8 envs, n_steps 32, batch 256,
  20 epochs, gamma 0.98, GAE lambda 0.8, linear schedules from lr 1e-3 and clip 0.2).

The goal: IQN solves in at least 2 of 3 seeds, with a median wall time to solve at most half
of SB3 DQN's. Then, throughput of the real multi-process backend: ``rltrack train --algo iqn
--num-actors A`` for A = 0, 1, 2, 4 on a temporary SQLite database, a fixed number of env
steps each, reporting env steps/s (the run's timesteps over its training phase: the first
episode's start to the last one's end, so not the seconds spent spawning processes) and learner
updates/s (the learner's own ``learner/updates_per_s``, averaged over the run). On a 2-core
machine the learner and the actors share two cores, so more actors mostly trade learner
updates for env steps.

    .venv/bin/python bench/iqn.py [--seeds 0 1 2] [--throughput-steps 20000] [--skip-solve]

Not part of ``make test``: it takes about 30 minutes on the 2-core machine.

``--device`` picks the IQN learner's device and ``--sb3-device`` SB3's (both ``auto`` by default:
CUDA where there is one); ``--contenders`` trains only some of them. On a 16-core machine with an
H100 (2026-11-23; ``results/iqn_h100*.json``), the learner replaying its update as a CUDA graph
solved in a median of 7.6 s (3 of 3 seeds, 6k-17k env steps; a further 6-8 s starting the
processes, not counted, as above) against SB3 DQN's 54.8 s on the CPU and 61.7 s on the GPU, i.e.
0.14x; the same IQN with a CPU learner took 44.6 s (seed 0).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import yaml
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select
from stable_baselines3 import DQN, PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env

from _machine import add_idle_wait_option, foreign_cpu, machine, wait_until_idle, write_report
from iqn_serial_tuning import evaluate, play, train_seed
from rltrack.agents.iqn import CARTPOLE_HYPERPARAMS, IQNConfig, IQNPolicy, load_checkpoint
from rltrack.config import PRESETS
from rltrack.tracking.sql.models import EpisodeRow
from rltrack.tracking.sql.store import SqlStore

EPISODES = EpisodeRow.__table__

RESULTS = Path(__file__).resolve().parent / "results" / "iqn.json"
ENV_ID = "CartPole-v1"
TARGET = 475.0
GOAL_WALL_FRACTION = 0.5
GOAL_SOLVED_SEEDS = 2

# rl-zoo (hyperparams/ppo.yml, CartPole-v1); lin_x is a schedule from x down to 0.
PPO_ZOO: dict[str, Any] = {
    "n_envs": 8, "n_steps": 32, "batch_size": 256, "gae_lambda": 0.8, "gamma": 0.98,
    "n_epochs": 20, "ent_coef": 0.0, "learning_rate": 1e-3, "clip_range": 0.2,
}  # fmt: skip
DQN_ZOO: dict[str, Any] = PRESETS["full"]["dqn"]["hyperparams"]


class SolveCallback(BaseCallback):
    """Evaluates the SB3 model every ``eval_every`` env steps and stops training once solved;
    the time spent evaluating is kept apart from the training time."""

    def __init__(self, eval_every: int, episodes: int, seed: int) -> None:
        super().__init__()
        self.eval_every, self.episodes, self.seed = eval_every, episodes, seed
        self.next_eval = eval_every
        self.eval_s = 0.0
        self.evals: list[dict[str, float]] = []
        self.solved_at: int | None = None

    def _on_step(self) -> bool:
        if self.num_timesteps < self.next_eval:
            return True
        self.next_eval += self.eval_every
        t = time.perf_counter()
        returns = play(
            lambda o: self.model.predict(o, deterministic=True)[0],
            self.episodes,
            seed=1_000_000 + 1_000 * self.seed,
        )
        self.eval_s += time.perf_counter() - t
        mean = statistics.fmean(returns)
        self.evals.append(
            {"step": self.num_timesteps, "mean_return": mean, "min_return": min(returns)}
        )
        if mean >= TARGET:
            self.solved_at = self.num_timesteps
            return False
        return True


def train_sb3(
    algo: str, seed: int, max_steps: int, eval_every: int, episodes: int, device: str = "auto"
) -> dict[str, Any]:
    if algo == "dqn":
        hp = dict(DQN_ZOO)
        model: Any = DQN(
            "MlpPolicy", make_vec_env(ENV_ID, n_envs=1, seed=seed), seed=seed, device=device, **hp
        )
    else:
        hp = dict(PPO_ZOO)
        lr, clip, n_envs = hp.pop("learning_rate"), hp.pop("clip_range"), hp.pop("n_envs")
        model = PPO(
            "MlpPolicy", make_vec_env(ENV_ID, n_envs=n_envs, seed=seed), seed=seed,
            learning_rate=lambda p: lr * p, clip_range=lambda p: clip * p, device=device, **hp,
        )  # fmt: skip
    callback = SolveCallback(eval_every, episodes, seed)
    t = time.perf_counter()
    model.learn(total_timesteps=max_steps, callback=callback)
    wall = time.perf_counter() - t
    return {
        "seed": seed,
        "solved": callback.solved_at is not None,
        "steps_to_solve": callback.solved_at,
        "train_s": round(wall - callback.eval_s, 2),
        "wall_s": round(wall, 2),
        "best_eval": max((e["mean_return"] for e in callback.evals), default=None),
        "evals": callback.evals,
    }


def train_iqn(seed: int, max_steps: int, eval_every: int, episodes: int) -> dict[str, Any]:
    return train_seed(
        dict(CARTPOLE_HYPERPARAMS), seed, max_steps=max_steps, train_every=1,
        eval_every=eval_every, eval_episodes=episodes, target=TARGET,
    )  # fmt: skip


def rltrack_train(name: str, folder: Path, **config: Any) -> tuple[str, float]:
    """``rltrack train --algo iqn`` on CartPole-v1 with the tuned preset as a subprocess, tracked
    in a SQLite file of its own; returns the database URL and the process's wall time."""
    cfg = {
        "algo": "iqn", "env": ENV_ID, "run_name": name,
        "hyperparams": {k: list(v) if isinstance(v, tuple) else v
                        for k, v in CARTPOLE_HYPERPARAMS.items()},
        **config,
    }  # fmt: skip
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    db = f"sqlite:///{folder / f'{name}.db'}"
    env = {**os.environ, "RLTRACK_HOME": str(folder / f"home-{name}")}
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "rltrack.cli", "train", "--config", str(path), "--db", db],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"rltrack train ({name}) failed:\n{proc.stderr[-2000:]}")
    return db, wall


def training_phase(store: SqlStore, run_id: str) -> tuple[dt.datetime, dt.datetime]:
    """The first episode's start and the last one's end: the run's own span also holds
    spawning the processes (a few seconds each) and closing them."""
    ep = EPISODES.c
    with store.engine.connect() as conn:
        first, last = conn.execute(
            select(func.min(ep.start_time), func.max(ep.end_time)).where(ep.run_id == run_id)
        ).one()
    return first, last


def train_iqn_actor_learner(
    seed: int, max_steps: int, eval_every: int, episodes: int, actors: int, **settings: Any
) -> dict[str, Any]:
    """The real backend (``rltrack train --algo iqn --num-actors A``, tracked), checkpointing
    every ``eval_every`` env steps; afterwards each checkpoint is evaluated in order, and the
    first that solves gives the env steps and the wall time to solve: its ``created_at`` less
    the first episode's start. Evaluating after the run keeps it off the two cores while
    training runs; the price is that the run goes on to ``max_steps`` after it has solved."""
    with tempfile.TemporaryDirectory(prefix="rltrack-bench-iqn-solve-") as tmp:
        db, wall = rltrack_train(
            f"solve-{seed}", Path(tmp), num_actors=actors, seed=seed,
            total_timesteps=max_steps, checkpoint_every_steps=eval_every,
            keep_checkpoints=max_steps // eval_every + 1, **settings,
        )  # fmt: skip
        store = SqlStore(db)
        try:
            (run,) = store.list_runs()
            first, _last = training_phase(store, run.id)
            checkpoints, seen = [], set()
            for c in store.list_checkpoints(run.id):  # by timestep; "final" is at max_steps
                if c.kind in ("periodic", "final") and c.timestep not in seen:
                    seen.add(c.timestep)
                    checkpoints.append(c)
            startup_s = (first - run.start_time).total_seconds()
            evals: list[dict[str, float]] = []
            solved: Any = None
            for ckpt in checkpoints:
                payload = load_checkpoint(ckpt.path)
                cfg = IQNConfig.from_hyperparams(payload["config"])
                policy = IQNPolicy(int(payload["obs_dim"]), int(payload["n_actions"]), cfg, seed)
                policy.network.load_state_dict(payload["local"])
                returns = evaluate(policy, episodes, seed=1_000_000 + 1_000 * seed)
                mean = statistics.fmean(returns)
                evals.append(
                    {"step": ckpt.timestep, "mean_return": mean, "min_return": min(returns),
                     "train_s": round((ckpt.created_at - first).total_seconds(), 2),
                     "learner_steps": ckpt.metrics.get("training_step")}
                )  # fmt: skip
                if mean >= TARGET:
                    solved = evals[-1]
                    break
        finally:
            store.close()
    return {
        "seed": seed,
        "solved": solved is not None,
        "steps_to_solve": solved["step"] if solved else None,
        "train_s": solved["train_s"] if solved else None,
        "learner_steps": solved["learner_steps"] if solved else None,
        "startup_s": round(startup_s, 2),
        "process_s": round(wall, 2),
        "best_eval": max((e["mean_return"] for e in evals), default=None),
        "evals": evals,
    }


def throughput(actors: int, steps: int, folder: Path, **settings: Any) -> dict[str, Any]:
    """One tracked run of the real backend; its speed read back from the database."""
    db, wall = rltrack_train(
        f"bench-iqn-{actors}-actors", folder, num_actors=actors, total_timesteps=steps, seed=0,
        checkpoint_every_steps=steps, **settings,
    )  # fmt: skip
    store = SqlStore(db)
    try:
        (run,) = store.list_runs()
        assert run.end_time is not None
        run_s = (run.end_time - run.start_time).total_seconds()
        ups = [
            p.value
            for p in store.metric_series(run.id, "learner/updates_per_s", max_points=10_000).points
        ]
        versions = store.metric_series(run.id, "learner/weights_version", max_points=10_000).points
        episodes = sum(store.count_episodes(run.id).values())
        first, last = training_phase(store, run.id)
        train_s = (last - first).total_seconds()
    finally:
        store.close()
    return {
        "actors": actors,
        "status": run.status,
        "timesteps": run.timesteps,
        "episodes": episodes,
        "train_s": round(train_s, 2),
        "run_s": round(run_s, 2),
        "process_s": round(wall, 2),
        "env_steps_per_s": run.timesteps / train_s,
        "learner_updates_per_s": statistics.fmean(ups) if ups else None,
        "weights_version": versions[-1].value if versions else None,
    }


def _median(rows: list[dict[str, Any]], key: str) -> float | None:
    solved = [r[key] for r in rows if r["solved"]]
    return statistics.median(solved) if solved else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--eval-every", type=int, default=1_000)
    ap.add_argument("--eval-episodes", type=int, default=20)
    ap.add_argument(
        "--iqn-max-steps", type=int, default=30_000,
        help="IQN's step budget; the actor-learner run always trains this long",
    )  # fmt: skip
    ap.add_argument("--solve-actors", type=int, default=1, help="actor processes of the IQN run")
    ap.add_argument("--dqn-max-steps", type=int, default=100_000)
    ap.add_argument("--ppo-max-steps", type=int, default=200_000)
    ap.add_argument("--throughput-steps", type=int, default=20_000)
    ap.add_argument("--actors", type=int, nargs="*", default=[0, 1, 2, 4])
    ap.add_argument("--skip-solve", action="store_true", help="only the throughput table")
    ap.add_argument("--torch-threads", type=int, default=1)
    ap.add_argument(
        "--device", default="auto", choices=["auto", "cpu", "cuda"],
        help="where IQN's learner trains (auto: CUDA where there is one)",
    )  # fmt: skip
    ap.add_argument(
        "--learner-threads", type=int, default=1,
        help="PyTorch threads of IQN's learner process (its torch_threads setting)",
    )  # fmt: skip
    ap.add_argument(
        "--sb3-device", default="auto", choices=["auto", "cpu", "cuda"],
        help="where SB3's DQN and PPO train (auto: CUDA where there is one)",
    )  # fmt: skip
    ap.add_argument(
        "--contenders", nargs="+", choices=["iqn", "iqn_serial", "dqn", "ppo"],
        default=["iqn", "iqn_serial", "dqn", "ppo"], help="which contenders train to solve",
    )  # fmt: skip
    ap.add_argument("--out", type=Path, default=RESULTS)
    add_idle_wait_option(ap)
    args = ap.parse_args()
    torch.set_num_threads(args.torch_threads)
    console = Console()
    iqn_settings = {"device": args.device, "torch_threads": args.learner_threads}

    solve: dict[str, list[dict[str, Any]]] = {"iqn": [], "iqn_serial": [], "dqn": [], "ppo": []}
    contenders: dict[str, Callable[[int], dict[str, Any]]] = {
        "iqn": lambda s: train_iqn_actor_learner(
            s,
            args.iqn_max_steps,
            args.eval_every,
            args.eval_episodes,
            args.solve_actors,
            **iqn_settings,
        ),
        "iqn_serial": lambda s: train_iqn(
            s, args.iqn_max_steps, args.eval_every, args.eval_episodes
        ),
        "dqn": lambda s: train_sb3(
            "dqn", s, args.dqn_max_steps, args.eval_every, args.eval_episodes, args.sb3_device
        ),
        "ppo": lambda s: train_sb3(
            "ppo", s, args.ppo_max_steps, args.eval_every, args.eval_episodes, args.sb3_device
        ),
    }
    for name in set(contenders) - set(args.contenders):
        del contenders[name], solve[name]
    labels = {
        "iqn": f"rltrack IQN (actor-learner, {args.solve_actors} actor)",
        "iqn_serial": "rltrack IQN (serial classes)",
        "dqn": "SB3 DQN (rl-zoo)",
        "ppo": "SB3 PPO (rl-zoo)",
    }
    foreign: dict[str, float | None] = {}
    if not args.skip_solve:
        # Seeds outermost: a slow spell of the machine hits every contender alike.
        with foreign_cpu() as f:
            for seed in args.seeds:
                for name, train in contenders.items():
                    wait_until_idle(args.idle_wait)
                    row = train(seed)
                    solve[name].append(row)
                    console.print(
                        f"{labels[name]} seed {seed}: solved={row['solved']} "
                        f"steps={row['steps_to_solve']} train_s={row['train_s']} "
                        f"best={row['best_eval']}"
                    )
        foreign["solve"] = f.cores

    rows_tp: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="rltrack-bench-iqn-") as tmp, foreign_cpu() as f:
        for a in args.actors:
            wait_until_idle(args.idle_wait)
            rows_tp.append(throughput(a, args.throughput_steps, Path(tmp), **iqn_settings))
            console.print(f"{a} actors: {rows_tp[-1]}")
    foreign["throughput"] = f.cores

    goals: list[dict[str, Any]] = []
    if not args.skip_solve:
        table = Table(
            title=f"{ENV_ID} to a mean of >= {TARGET:.0f} over {args.eval_episodes} "
            "deterministic episodes (training time; evaluations excluded)"
        )
        for col in ("contender", "solved", "median env steps", "median train s", "per seed"):
            table.add_column(col, justify="right" if col != "contender" else "left")
        for name, rows in solve.items():
            per_seed = ", ".join(
                f"{r['steps_to_solve']} / {r['train_s']:.0f}s" if r["solved"] else "-" for r in rows
            )
            steps, secs = _median(rows, "steps_to_solve"), _median(rows, "train_s")
            table.add_row(
                labels[name], f"{sum(r['solved'] for r in rows)}/{len(rows)}",
                f"{steps:,.0f}" if steps is not None else "-",
                f"{secs:.1f}" if secs is not None else "-", per_seed,
            )  # fmt: skip
        console.print(table)
    if not args.skip_solve and {"iqn", "dqn"} <= set(solve):
        iqn_solved = sum(r["solved"] for r in solve["iqn"])
        goals.append(
            {
                "goal": f"IQN solves in >= {GOAL_SOLVED_SEEDS} of {len(args.seeds)} seeds",
                "value": iqn_solved,
                "passed": iqn_solved >= GOAL_SOLVED_SEEDS,
            }
        )
        iqn_s, dqn_s = _median(solve["iqn"], "train_s"), _median(solve["dqn"], "train_s")
        ratio = iqn_s / dqn_s if iqn_s is not None and dqn_s is not None else None
        goals.append(
            {
                "goal": f"IQN median wall time to solve <= {GOAL_WALL_FRACTION}x SB3 DQN's",
                "value": ratio,
                "passed": None if ratio is None else ratio <= GOAL_WALL_FRACTION,
            }
        )

    tp = Table(title=f"rltrack train --algo iqn on {ENV_ID}: {args.throughput_steps:,} env steps")
    for col in ("actors", "env steps/s", "learner updates/s", "weights version", "episodes"):
        tp.add_column(col, justify="right")
    for r in rows_tp:
        tp.add_row(
            str(r["actors"]), f"{r['env_steps_per_s']:,.0f}",
            f"{r['learner_updates_per_s']:,.0f}" if r["learner_updates_per_s"] else "-",
            f"{r['weights_version']:.0f}" if r["weights_version"] is not None else "-",
            f"{r['episodes']:,}",
        )  # fmt: skip
    console.print(tp)
    for g in goals:
        mark = {True: "met", False: "NOT met", None: "n/a"}[g["passed"]]
        value = g["value"]
        shown = f"{value:.2f}" if isinstance(value, float) else str(value)
        console.print(f"{g['goal']}: {shown} ({mark})")

    report = {
        "machine": machine(
            torch=torch.__version__, torch_threads=args.torch_threads, foreign_cores=foreign,
            device=args.device, sb3_device=args.sb3_device, learner_threads=args.learner_threads,
            gpu=torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        ),
        "params": {
            "env": ENV_ID, "target": TARGET, "eval_every": args.eval_every,
            "eval_episodes": args.eval_episodes, "seeds": args.seeds,
            "iqn_hyperparams": {k: list(v) if isinstance(v, tuple) else v
                                for k, v in CARTPOLE_HYPERPARAMS.items()},
            "dqn_hyperparams": DQN_ZOO, "ppo_hyperparams": PPO_ZOO,
            "throughput_steps": args.throughput_steps, "solve_actors": args.solve_actors,
            "iqn_max_steps": args.iqn_max_steps,
        },
        "goals": goals,
        "solve": solve,
        "throughput": rows_tp,
    }  # fmt: skip
    write_report(args.out, "iqn", report, console)
    return 0


if __name__ == "__main__":
    sys.exit(main())
