"""TrackingCallback in a user's own RLlib script, on a real local Ray (2 CPUs): tiny PPO on
CartPole with one env runner of two envs, a run of its own or one the user made, and drain."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from ray.rllib.algorithms.ppo import PPOConfig

import rltrack
from rltrack.integrations.rllib import TrackingCallback, drain
from rltrack.tracking.store import open_store
from tests.rllib_fixtures import ray_local

__all__ = ["ray_local"]


def train(callbacks: type, iterations: int = 2) -> tuple[Any, float]:
    """A tiny PPO built with ``callbacks``, trained ``iterations`` times; the algorithm and the
    env steps its runners sampled."""
    config = (
        PPOConfig()
        .environment("CartPole-v1")
        .env_runners(num_env_runners=1, num_envs_per_env_runner=2)
        .training(train_batch_size_per_learner=64, minibatch_size=32, num_epochs=1)
        .rl_module(model_config={"fcnet_hiddens": [32, 32]})  # tests.rllib_fixtures.TINY_PPO
        .debugging(seed=1, log_level="ERROR")
        .callbacks(callbacks)
    )
    algo = config.build_algo()
    sampled = 0.0
    for _ in range(iterations):
        sampled = algo.train()["env_runners"]["num_env_steps_sampled_lifetime"]
    return algo, sampled


def stored(url: str, name: str) -> tuple[Any, list[Any], set[str]]:
    store = open_store(url)
    try:
        run = store.get_run(name)
        return run, store.list_episodes(run.id), {m.key for m in store.list_metrics(run.id)}
    finally:
        store.close()


@pytest.mark.usefixtures("ray_local")
def test_the_plain_class_records_a_run_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'rltrack.db'}"
    monkeypatch.setenv("RLTRACK_DATABASE_URL", url)
    monkeypatch.setattr("sys.argv", ["my_rllib_script.py"])
    algo, sampled = train(TrackingCallback)
    try:
        run = drain(algo)
    finally:
        algo.stop()
    assert run.status == "completed" and not run.book.live
    record, episodes, keys = stored(url, run.name)
    assert run.name.startswith("my_rllib_script__")
    assert (record.algorithm, record.env_id, record.status) == ("ppo", "CartPole-v1", "completed")
    assert record.config["hyperparams"]["train_batch_size_per_learner"] == 64
    assert [e.index for e in episodes] == list(range(len(episodes))) and len(episodes) > 2
    assert {e.env_slot for e in episodes} == {0, 1}
    # Every sampled step is in exactly one episode; CartPole pays 1 a step; the drain finished
    # the two episodes in flight (steps beyond the sampled ones, no learning).
    assert sum(e.steps - e.drain_steps for e in episodes) == sampled == record.timesteps
    assert all(e.total_reward == e.steps and e.status == "completed" for e in episodes)
    assert sum(e.drain_steps > 0 for e in episodes) == 2
    assert {"rollout/ep_rew_mean", "time/fps", "rllib/learners/default_policy/total_loss"} <= keys
    assert not any(k.startswith("rllib/config/") for k in keys)


@pytest.mark.usefixtures("ray_local")
def test_a_given_run_is_shared_and_left_to_finish(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'rltrack.db'}"
    run = rltrack.init("mine", db=url, tags=["t"])
    assert run.log_episode(3.0, 3) == 0  # an episode of the user's own, before RLlib's
    algo, sampled = train(TrackingCallback.using(run), iterations=1)
    try:
        assert drain(algo, max_steps=0) is run  # no drain: the episodes in flight truncated
    finally:
        algo.stop()
    assert run.status == "running" and not run.book.live
    run.log_metrics({"mine": 1.0}, step=run.timestep)
    run.finish()
    record, episodes, keys = stored(url, "mine")
    assert record.status == "completed" and record.tags == ["t"]
    assert [e.index for e in episodes] == list(range(len(episodes)))
    rllib = episodes[1:]
    assert sum(e.steps for e in rllib) == sampled and not any(e.drain_steps for e in rllib)
    assert [e.status for e in rllib].count("truncated") == 2
    assert {"mine", "rollout/ep_rew_mean"} <= keys


def test_misuse_is_refused() -> None:
    with pytest.raises(ValueError, match="not both"):
        TrackingCallback.using(object(), name="x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="records nothing"):
        drain(SimpleNamespace(callbacks=[]))
