"""The rllib backend on a real local Ray (one per module, 2 CPUs): tiny PPO runs through the
runner, every event checked."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from rltrack.envs import make_env
from rltrack.training.backends import registry
from rltrack.training.backends.rllib.backend import PIDS_FILE
from rltrack.training.episodes import episode_metrics
from rltrack.training.events import (
    CheckpointSaved,
    EpisodeEnded,
    EvaluationRecorded,
    Event,
    MetricsLogged,
)
from rltrack.training.runner import run_training
from tests.rllib_fixtures import Sink, check_record, make_ctx, metric_keys, ray_local

pytestmark = pytest.mark.usefixtures("ray_local")
__all__ = ["ray_local"]

TRADING_METRICS = ("pnl", "sharpe_ratio", "max_drawdown", "trades_count")


def test_two_runners_record_every_episode_whole(tmp_path: Path) -> None:
    sink = Sink()
    ctx = make_ctx(tmp_path, sink, total_timesteps=1536)
    outcome = run_training(ctx, name="two-runners")
    assert outcome.status == "completed" and outcome.exit_code == 0, outcome.error
    ended = check_record(sink, slots={0, 1, 2, 3})
    assert sink.run_end.timesteps >= 1536
    # CartPole pays 1 per step, so an episode's reward is its length: the totals add up every
    # chunk RLlib cut the episode into (16 steps per env and sample here), across iterations.
    assert all(e.total_reward == e.steps for e in ended)
    assert any(e.steps - e.drain_steps > 16 for e in ended), "some episodes spanned chunks"
    # Both runners' episodes, interleaved: indices follow start order, not runner order.
    by_runner = [{e.index for e in ended if e.env_slot // 2 == w} for w in (0, 1)]
    assert all(by_runner) and min(by_runner[1]) < max(by_runner[0])
    assert all(e.status == "completed" and e.epsilon is None for e in ended)
    # The run's timesteps are exactly what RLlib's runners sampled.
    sampled = [
        m.values["rllib/env_runners/num_env_steps_sampled_lifetime"]
        for m in sink.of(MetricsLogged)
        if "rllib/env_runners/num_env_steps_sampled_lifetime" in m.values
    ]
    assert sampled[-1] == sink.run_end.timesteps
    keys = metric_keys(sink)
    assert {"rollout/ep_rew_mean", "time/fps", "rllib/learners/default_policy/total_loss"} <= keys
    assert all(k.startswith(("rllib/", "rollout/", "time/")) for k in keys)
    assert not any(k.startswith("rllib/config/") for k in keys)
    kinds = [c.kind for c in sink.of(CheckpointSaved)]
    assert "periodic" in kinds and kinds[-1] == "final"
    pids = json.loads((ctx.run_dir / PIDS_FILE).read_text())
    assert set(pids["env_runners"]) == {"1", "2"}

    # The final checkpoint plays greedily through the registry's loader (evaluate, video).
    final = next(c for c in sink.of(CheckpointSaved) if c.kind == "final")
    load = registry.get("rllib").load().policy_loader("ppo", seed=0)
    policy = load(final.path)
    env = make_env("CartPole-v1", {})
    obs, _ = env.reset(seed=0)
    actions = [policy(obs, env)]
    assert actions[0] in (0, 1) and policy(obs, env) == actions[0], "deterministic"


def test_stop_drains_in_flight_episodes_within_the_step_bound(tmp_path: Path) -> None:
    def stop_after_some(event: Event) -> None:
        if isinstance(event, EpisodeEnded) and event.index >= 20:
            ctx.stop.request(signal.SIGTERM)

    sink = Sink(stop_after_some)
    ctx = make_ctx(tmp_path, sink, total_timesteps=50_000, drain_max_steps=8)
    outcome = run_training(ctx, name="drained")
    assert outcome.status == "stopped" and outcome.exit_code == 143
    ended = check_record(sink, slots={0, 1, 2, 3})
    drained = [e for e in ended if e.drain_steps > 0]
    assert drained, "the episodes in flight were stepped on"
    assert all(e.drain_steps <= 8 for e in ended)
    # Each closed at its natural end, or as truncated at the bound, with its steps so far.
    for e in drained:
        assert e.status == "completed" or (e.status == "truncated" and e.drain_steps == 8)
        assert e.total_reward == e.steps
    assert sink.of(CheckpointSaved)[-1].kind == "final"


def test_drain_timeout_zero_closes_in_flight_as_truncated(tmp_path: Path) -> None:
    sink = Sink()
    ctx = make_ctx(tmp_path, sink, total_timesteps=256, drain_timeout=0)
    assert run_training(ctx, name="no-drain").status == "completed"
    ended = check_record(sink, slots={0, 1, 2, 3})
    assert all(e.drain_steps == 0 for e in ended), "nothing was stepped after training"
    # At most one episode in flight per env (none where one had just ended), closed as it stood.
    last = [e for e in ended if e.status == "truncated"]
    assert 1 <= len(last) == len({e.env_slot for e in last}) <= 4
    assert all(e.steps > 0 and e.total_reward == e.steps for e in last)


def test_killed_runner_errors_its_episodes_and_the_run_goes_on(tmp_path: Path) -> None:
    killed: dict[str, int] = {}

    def kill_runner_one(event: Event) -> None:
        pids = ctx.run_dir / PIDS_FILE
        if killed or not isinstance(event, EpisodeEnded) or event.index < 12 or not pids.exists():
            return
        pid = int(json.loads(pids.read_text())["env_runners"]["1"]["pid"])
        os.kill(pid, signal.SIGKILL)
        killed["pid"], killed["at"] = pid, event.index

    sink = Sink(kill_runner_one)
    ctx = make_ctx(tmp_path, sink, total_timesteps=6144)
    outcome = run_training(ctx, name="killed-runner")
    assert killed, "a runner was killed"
    assert outcome.status == "completed" and sink.run_end.timesteps >= 6144
    ended = check_record(sink, slots={0, 1, 2, 3})
    errors = [e for e in ended if e.status == "error"]
    # Runner 1 (env slots 0 and 1) had one episode in flight in each env when it died.
    assert sorted(e.env_slot for e in errors) == [0, 1]
    assert all(e.steps > 0 and e.total_reward == e.steps for e in errors)
    # RLlib restarted it (a new process): its slots have new episodes after the lost ones.
    later = [e for e in ended if e.env_slot in (0, 1) and e.index > max(x.index for x in errors)]
    assert later, "the restarted runner's episodes are recorded"
    pids = json.loads((ctx.run_dir / PIDS_FILE).read_text())["env_runners"]
    assert int(pids["1"]["pid"]) != killed["pid"]


def test_trading_env_records_metrics_and_trades(tmp_path: Path) -> None:
    sink = Sink()
    ctx = make_ctx(
        tmp_path, sink, env="rltrack/Trading-v0", total_timesteps=512, trace_every=3,
        env_kwargs={"episode_length": 40}, train_range="2014-01-01:2016-12-31",
        eval_range="2017-01-01:2017-12-31",
    )  # fmt: skip
    assert run_training(ctx, name="trading").status == "completed"
    # The held-out evaluation played the final and best checkpoints and the baselines.
    evaluations = {(e.opponent, Path(e.checkpoint_path or "").name) for e in sink.of(
        EvaluationRecorded
    )}  # fmt: skip
    assert evaluations == {
        ("agent", "final.zip"), ("agent", "best.zip"), ("buy_and_hold", ""), ("random", ""),
    }  # fmt: skip
    ended = check_record(sink, slots={0, 1, 2, 3})
    # The keys an episode of the env reports at its end, as SB3's runs record them.
    env: gym.Env[Any, Any] = make_env("rltrack/Trading-v0", {"episode_length": 40})
    env.reset(seed=0)
    info: dict[str, Any] = {}
    done = False
    while not done:
        _, _, terminated, truncated, info = env.step(env.action_space.sample())
        done = terminated or truncated
    expected = set(episode_metrics(info))
    assert set(TRADING_METRICS) <= expected
    for e in ended:
        assert set(e.metrics) == expected, e
        assert len(e.trades) == e.metrics["trades_count"]
        assert sum(t.pnl for t in e.trades) == pytest.approx(e.metrics["pnl"], abs=1e-6)
    # The drain asked the envs in flight to wind down: each ended at its next step.
    drained = [e for e in ended if e.drain_steps > 0]
    assert drained and all(e.status == "truncated" and e.drain_steps == 1 for e in drained)
    assert all(e.status == "completed" for e in ended if e.drain_steps == 0)
    traced = [e for e in ended if e.trace]
    assert traced and all(len(e.trace) == e.steps for e in traced)
    assert all(np.isfinite(s.portfolio_value) for e in traced for s in e.trace)


def test_dqn_records_epsilon_and_resumes(tmp_path: Path) -> None:
    hyper = {
        "num_steps_sampled_before_learning_starts": 100, "train_batch_size_per_learner": 16,
        "epsilon": [[0, 1.0], [600, 0.1]], "replay_buffer_config": {"capacity": 2000},
        "min_sample_timesteps_per_iteration": 100, "rollout_fragment_length": 8,
    }  # fmt: skip
    sink = Sink()
    ctx = make_ctx(
        tmp_path, sink, algo="dqn", total_timesteps=800, hyperparams=hyper,
        num_env_runners=1, num_envs_per_env_runner=1,
    )  # fmt: skip
    assert run_training(ctx, name="dqn").status == "completed"
    ended = check_record(sink, slots={0})
    eps = [e.epsilon for e in ended]
    # What the module explored with when each episode ended: RLlib's schedule over its own
    # step count (which lags between syncs, so not strictly monotonic), from 1.0 down to 0.1.
    assert all(x is not None and 0.1 - 1e-6 <= x <= 1.0 for x in eps)
    assert eps[0] > 0.9 and eps[-1] < 0.5
    final = next(c for c in sink.of(CheckpointSaved) if c.kind == "final")

    resumed = Sink()
    ctx2 = make_ctx(
        tmp_path / "2", resumed, algo="dqn", total_timesteps=400, hyperparams=hyper,
        num_env_runners=1, num_envs_per_env_runner=1,
    )  # fmt: skip
    ctx2.resume_checkpoint, ctx2.resume_timestep = Path(final.path), final.timestep
    assert run_training(ctx2, name="dqn-resumed").status == "completed"
    ended2 = resumed.ended
    assert ended2[0].index == 0 and ended2[0].start_timestep == final.timestep
    # total_timesteps more steps, counted on from the parent's.
    trained = sum(e.steps - e.drain_steps for e in ended2)
    assert resumed.run_end.timesteps == final.timestep + trained and trained >= 400
    # The schedule goes on from the parent's steps: the resumed run explores less from the start.
    assert ended2[0].epsilon is not None and ended2[0].epsilon < eps[0]
