"""Serial IQN on CartPole-v1: env steps and seconds until the greedy policy solves it, per seed.

One process, one env, the same classes the actor-learner backend runs
(:mod:`rltrack.agents.iqn`): an :class:`IQNPolicy` acts epsilon-greedily (epsilon from the
:class:`EpsilonSchedule` at the learner's step), an :class:`NStepAccumulator` feeds a
:class:`ReplayBuffer`, and an :class:`IQNLearner` takes one update every ``--train-every`` env
steps once ``learning_starts`` transitions are in replay; the policy gets the learner's weights
every ``publish_interval`` learner steps, as actors do.

Every ``--eval-every`` env steps the current weights play ``--eval-episodes`` episodes (seeded,
epsilon 0, run side by side in one batch); the seed counts as solved at the first evaluation whose
mean return is >= ``--target`` (475, CartPole-v1's threshold), and training stops there.
``train_s`` is the wall time spent training up to that point (evaluations excluded);
``wall_s`` includes them. Hyperparameters are :data:`CARTPOLE_HYPERPARAMS` unless ``--set
key=value`` (a JSON value) overrides one.

    .venv/bin/python bench/iqn_serial_tuning.py [--seeds 0 1 2] [--max-steps 50000]
        [--train-every 1] [--set n_step=3 --set learning_rate=0.001]

How the preset was found (env steps to solve for seeds 0, 1, 2; "-" not solved or stopped;
all with 64x64 units, N = N' = K = 16, 3-step returns, batch 64, epsilon to 0.02):

* lr 1e-3, hard target every 250, epsilon over 8k, learning_starts 1000: -, best eval 464 in
  50k steps. The greedy policy balanced the pole but drifted into x = -2.4 after ~230 steps;
  lr 5e-4 / target every 500, soft targets (tau 0.005) and gamma 0.995 were no better by 17-25k.
* 128x128 units with N = N' = K = 32: about 3x the time per update and no faster to learn
  (stopped at 7.5k).
* lr 2e-3, target every 150: 7.5k, 25k, 27.5k; the same training every 2 env steps: 50k, 37.5k,
  27.5k; with batch 128: 17.5k on seed 0 at 1.5x the time per update.
* lr 2e-3, target every 150, epsilon over 5k, learning_starts 500 (:data:`CARTPOLE_HYPERPARAMS`):
  17.5k, 12.5k, 12.5k; training every 2 env steps instead: 35k, 32.5k, 42.5k (more learner
  steps in all, so slower in wall time too).

Attempts to need fewer or cheaper learner updates from that preset (2026-11-22, evaluations every
1,000 steps; each solved 3 of 3 seeds, none beat the preset):

* training every 2 env steps, with the epsilon decay (2,500) and the target interval (75) halved
  so that they stay the same in env steps: 26k, 21k, 29k env steps, i.e. 10.5k-14.5k learner
  updates, about as many as the preset's 12.5k-17.5k;
* the same with batch 128: 30k and 27k on seeds 0 and 1 (stopped there);
* N = N' = K = 8 (an update takes ~4.6 ms instead of ~6 ms): 21k, 22k, 16k.

And on 2026-11-22, later:

* batch 32 (512 rows, ~4.3 ms per env step here against ~6.5 for the preset): 9k, 29k, 19k
  env steps (36, 129 and 87 s), so a median of 87 s: fewer seconds per update, more updates.
* ``torch.compile`` (inductor, CPU) of the whole loss (both target passes, the online pass and
  the quantile Huber loss): 20 s to compile, then 5.5-7.1 ms per update against 6.2-6.8 ms
  eager in alternating blocks of 500 updates, i.e. no gain. Of an eager update (4.5 ms in a
  quiet moment), the no-grad target side is ~1 ms; the GEMMs of 1,024 x 64 rows run at ~50
  GFLOP/s on one thread and make a third of it.

And on 2026-11-22, evaluations every 1,000 steps, at most 20k env steps ("-" not solved by then):

* n-step 5: 7k, 8k, -; dueling head: 5k, -, 11k; n-step 5 with the dueling head: 15k, 6k, 3k;
  target every 100 with lr 3e-3: 16k, 9k, 8k; target every 300: -, -, 20k; learning_starts 200
  with epsilon over 2.5k: 19k, 19k, 12k.
* The best of those on seeds 0-2, n-step 5 with the dueling head, checked on seeds 3-6: -, -,
  3k, 14k; the preset on the same seeds: 12k, -, 14k, 8k (and 18k, 8k, 18k on seeds 0-2). Over
  the seven seeds both have a median of 14k env steps; the preset solved 6 of 7, the other 5
  of 7. Three seeds cannot tell these settings apart, so the preset stays.

An update's cost grows with its rows (batch x quantiles): ~2 ms at 16 rows, ~2.9 ms at 256,
~4.6 ms at 512 and ~6 ms at the preset's 1,024, so halving the rows saves a quarter of the time;
these runs show it costs more updates than that.

Per update, 16 quantiles of 64 units took ~4-8 ms on this shared 2-core machine (one torch
thread); wall times move with what else runs (``foreign_cores`` in the results).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from _machine import add_idle_wait_option, foreign_cpu, machine, wait_until_idle, write_report
from rltrack.agents.iqn import (
    CARTPOLE_HYPERPARAMS,
    EpsilonSchedule,
    IQNConfig,
    IQNLearner,
    IQNPolicy,
    NStepAccumulator,
    ReplayBuffer,
)

RESULTS = Path(__file__).resolve().parent / "results" / "iqn_serial_tuning.json"
ENV_ID = "CartPole-v1"


def evaluate(policy: IQNPolicy, episodes: int, seed: int) -> list[float]:
    """Returns of ``episodes`` greedy episodes of the IQN policy."""
    rng = np.random.default_rng(seed)  # unused at epsilon 0; act() wants one
    return play(lambda obs: policy.act(obs, 0.0, rng)[0], episodes, seed)


def play(act: Callable[[np.ndarray], Any], episodes: int, seed: int) -> list[float]:
    """Returns of ``episodes`` seeded episodes, stepped side by side so that one call of
    ``act`` (a batch of observations -> their actions) serves every live env."""
    envs = [gym.make(ENV_ID) for _ in range(episodes)]
    obs = np.stack([env.reset(seed=seed + i)[0] for i, env in enumerate(envs)])
    returns = np.zeros(episodes)
    live = np.ones(episodes, dtype=bool)
    while live.any():
        rows = np.flatnonzero(live)
        for row, action in zip(rows, act(obs[rows]), strict=True):
            next_obs, reward, terminated, truncated, _ = envs[row].step(int(action))
            obs[row] = next_obs
            returns[row] += float(reward)
            live[row] = not (terminated or truncated)
    for env in envs:
        env.close()
    return returns.tolist()


def train_seed(
    hp: dict[str, Any],
    seed: int,
    *,
    max_steps: int,
    train_every: int,
    eval_every: int,
    eval_episodes: int,
    target: float,
    verbose: bool = False,
) -> dict[str, Any]:
    cfg = IQNConfig.from_hyperparams(hp)
    env = gym.make(ENV_ID)
    obs_dim = int(np.prod(env.observation_space.shape or (1,)))
    n_actions = int(env.action_space.n)  # type: ignore[attr-defined]
    learner = IQNLearner(obs_dim, n_actions, cfg, "cpu", seed=seed)
    policy = IQNPolicy(obs_dim, n_actions, cfg, seed=seed + 10_000)
    policy.network.load_state_dict(learner.local.state_dict())
    replay = ReplayBuffer((obs_dim,), cfg.buffer_size)
    nstep = NStepAccumulator(cfg.n_step, cfg.gamma)
    epsilon = EpsilonSchedule.from_config(cfg)
    rng = np.random.default_rng(seed)

    evals: list[dict[str, float]] = []
    episodes, losses = 0, []
    solved_at: int | None = None
    train_s = eval_s = 0.0
    obs, _ = env.reset(seed=seed)
    start = time.perf_counter()
    for step in range(1, max_steps + 1):
        action = int(policy.act(obs, epsilon.value(learner.training_step), rng)[0][0])
        next_obs, reward, terminated, truncated, _ = env.step(action)
        replay.add(nstep.push(obs, action, float(reward), next_obs, terminated, truncated))
        obs = next_obs
        if terminated or truncated:
            obs, _ = env.reset()
            episodes += 1
        if len(replay) >= cfg.learning_starts and step % train_every == 0:
            losses.append(learner.learn(replay.sample(cfg.batch_size, rng)).loss)
            if learner.training_step % cfg.publish_interval == 0:
                policy.network.load_state_dict(learner.local.state_dict())
        if step % eval_every == 0:
            train_s += time.perf_counter() - start
            policy.network.load_state_dict(learner.local.state_dict())
            t0 = time.perf_counter()
            returns = evaluate(policy, eval_episodes, seed=1_000_000 + 1_000 * seed)
            eval_s += time.perf_counter() - t0
            mean = statistics.fmean(returns)
            evals.append({"step": step, "mean_return": mean, "min_return": min(returns)})
            if verbose:
                print(
                    f"  seed {seed} step {step:6d} train_s {train_s:7.1f} "
                    f"eval mean {mean:6.1f} min {min(returns):5.0f} "
                    f"eps {epsilon.value(learner.training_step):.3f}",
                    flush=True,
                )
            start = time.perf_counter()
            if mean >= target:
                solved_at = step
                break
    else:
        train_s += time.perf_counter() - start
    env.close()
    return {
        "seed": seed,
        "solved": solved_at is not None,
        "steps_to_solve": solved_at,
        "train_s": round(train_s, 2),
        "wall_s": round(train_s + eval_s, 2),
        "learner_steps": learner.training_step,
        "episodes": episodes,
        "final_loss": statistics.fmean(losses[-100:]) if losses else None,
        "best_eval": max((e["mean_return"] for e in evals), default=None),
        "evals": evals,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--max-steps", type=int, default=50_000)
    parser.add_argument("--train-every", type=int, default=1, help="env steps per learner step")
    parser.add_argument("--eval-every", type=int, default=2_500)
    parser.add_argument("--eval-episodes", type=int, default=20)
    parser.add_argument("--target", type=float, default=475.0)
    parser.add_argument("--torch-threads", type=int, default=1)
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=JSON", help="override a hyperparameter"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--verbose", action="store_true", help="print every evaluation")
    add_idle_wait_option(parser)
    args = parser.parse_args()

    torch.set_num_threads(args.torch_threads)
    hp = dict(CARTPOLE_HYPERPARAMS)
    for item in args.set:
        key, _, value = item.partition("=")
        hp[key] = json.loads(value)
    cfg = IQNConfig.from_hyperparams(hp)  # fail on a bad override before any training

    console = Console()
    rows = []
    with foreign_cpu() as foreign:
        for seed in args.seeds:
            wait_until_idle(args.idle_wait)
            row = train_seed(
                hp,
                seed,
                max_steps=args.max_steps,
                train_every=args.train_every,
                eval_every=args.eval_every,
                eval_episodes=args.eval_episodes,
                target=args.target,
                verbose=args.verbose,
            )
            rows.append(row)
            console.print(
                f"seed {seed}: solved={row['solved']} steps={row['steps_to_solve']} "
                f"train_s={row['train_s']} best_eval={row['best_eval']}"
            )

    table = Table(title=f"IQN serial on {ENV_ID}: mean of {args.eval_episodes} greedy episodes")
    for col in ("seed", "solved", "steps to solve", "train s", "wall s", "best eval"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(
            str(r["seed"]),
            "yes" if r["solved"] else "no",
            str(r["steps_to_solve"] or "-"),
            f"{r['train_s']:.1f}",
            f"{r['wall_s']:.1f}",
            f"{r['best_eval']:.1f}" if r["best_eval"] is not None else "-",
        )
    console.print(table)
    solved = [r for r in rows if r["solved"]]
    console.print(f"solved {len(solved)}/{len(rows)} seeds within {args.max_steps} env steps")

    report = {
        "machine": machine(
            torch=torch.__version__, torch_threads=args.torch_threads, foreign_cores=foreign.cores
        ),
        "params": {
            "env": ENV_ID,
            "max_steps": args.max_steps,
            "train_every": args.train_every,
            "eval_every": args.eval_every,
            "eval_episodes": args.eval_episodes,
            "target": args.target,
            "hyperparams": cfg.to_dict(),
        },
        "summary": {
            "solved_seeds": len(solved),
            "seeds": len(rows),
            "median_steps_to_solve": (
                statistics.median(r["steps_to_solve"] for r in solved) if solved else None
            ),
            "median_train_s_to_solve": (
                statistics.median(r["train_s"] for r in solved) if solved else None
            ),
        },
        "runs": rows,
    }
    write_report(args.out, "iqn_serial_tuning", report, console)


if __name__ == "__main__":
    main()
