"""Groups of recorded runs with known episodes, written through the store as trainers write
them (RunStarted with a group, then episodes): what the group statistics are tested on."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable

from rltrack.training.events import (
    EpisodeEnded,
    EpisodeStarted,
    EvaluationRecorded,
    Event,
    RunEnded,
    RunStarted,
)

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
Reward = Callable[[int, int], float]  # (seed, episode index) -> reward


def noisy(level: float) -> Reward:
    """A learning curve that rises to ``level`` with deterministic noise per seed."""

    def reward(seed: int, i: int) -> float:
        return level * (1.0 - math.exp(-i / 300.0)) + 7.0 * math.sin(1.7 * i + 3.1 * seed) + seed

    return reward


def group_events(
    group: str,
    prefix: str,
    *,
    seeds: int,
    episodes: int | Callable[[int], int],
    reward: Reward,
    env_id: str = "CartPole-v1",
    start: dt.datetime = T0,
    evaluations: dict[int, float] | None = None,
    empty: int = 0,
) -> list[Event]:
    """``seeds`` finished runs ``<prefix>-<seed>`` in ``group``; run ``seed`` has
    ``episodes(seed)`` episodes (10 steps each; its episodes take 1 + seed / 10 seconds), and
    ``evaluations[seed]`` its latest evaluation's mean reward (an older one, and one of a
    baseline, are there too). ``empty`` more runs join the group with one episode in flight."""
    count = episodes if callable(episodes) else (lambda _s: episodes)
    events: list[Event] = []
    for seed in range(seeds):
        run_id = f"{prefix}-{seed}"
        t0 = start + dt.timedelta(minutes=seed)
        events.append(
            RunStarted(
                run_id=run_id,
                name=f"{prefix}-seed{seed}",
                algorithm="ppo",
                env_id=env_id,
                backend="sb3",
                config={"algo": "ppo", "seed": seed},
                seed=seed,
                group=group,
                time=t0,
            )  # fmt: skip
        )
        pace = 1.0 + seed / 10.0
        for i in range(count(seed)):
            events.append(
                EpisodeEnded(
                    run_id=run_id,
                    index=i,
                    env_slot=0,
                    status="completed",
                    start_timestep=10 * i,
                    end_timestep=10 * i + 10,
                    steps=10,
                    total_reward=reward(seed, i),
                    start_time=t0 + dt.timedelta(seconds=pace * i),
                    time=t0 + dt.timedelta(seconds=pace * (i + 1)),
                )  # fmt: skip
            )
        if evaluations and seed in evaluations:
            for k, (mean, opponent) in enumerate(
                [(evaluations[seed] - 50.0, "agent"), (-1.0, "random"), (evaluations[seed], None)]
            ):
                events.append(
                    EvaluationRecorded(
                        run_id=run_id,
                        checkpoint_path=None,
                        episodes=5,
                        mean_reward=mean,
                        std_reward=1.0,
                        opponent=opponent,
                        time=t0 + dt.timedelta(hours=1, minutes=k),
                    )  # fmt: skip
                )
        n = count(seed)
        events.append(
            RunEnded(run_id, "completed", 10 * n, n, time=t0 + dt.timedelta(seconds=pace * n))
        )
    for k in range(empty):
        run_id = f"{prefix}-empty-{k}"
        events.append(
            RunStarted(
                run_id=run_id,
                name=f"{prefix}-empty{k}",
                algorithm="ppo",
                env_id=env_id,
                backend="sb3",
                config={"algo": "ppo"},
                seed=100 + k,
                group=group,
                time=start,
            )  # fmt: skip
        )
        events.append(EpisodeStarted(run_id, 0, env_slot=0, start_timestep=0, time=start))
    return events
