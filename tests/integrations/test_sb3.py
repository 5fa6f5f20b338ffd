"""TrackingCallback in a user's own SB3 script: beside the user's callbacks, over two learn()
calls into one run, with checkpoints, metrics and the drain."""

from __future__ import annotations

import hashlib
from pathlib import Path

from stable_baselines3 import DQN, PPO
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.env_util import make_vec_env

import rltrack
from rltrack.integrations.sb3 import TrackingCallback
from rltrack.tracking.store import open_store


class CountSteps(BaseCallback):
    def __init__(self) -> None:
        super().__init__()
        self.steps = 0

    def _on_step(self) -> bool:
        self.steps += 1
        return True


def test_a_callback_of_its_own_run_beside_the_users(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'rltrack.db'}"
    model = PPO("MlpPolicy", make_vec_env("CartPole-v1", n_envs=2, seed=0), n_steps=64,
                batch_size=32, n_epochs=1, seed=0)  # fmt: skip
    counter = CountSteps()
    tracking = TrackingCallback(name="own", db=url, checkpoint_every_steps=256, tags=["t"])
    model.learn(512, callback=CallbackList([counter, tracking]))
    assert counter.steps == 256  # the user's callback saw every step too
    assert tracking.run is not None and tracking.run.status == "completed"
    store = open_store(url)
    try:
        run = store.get_run("own")
        episodes = store.list_episodes(run.id)
        checkpoints = store.list_checkpoints(run.id)
        keys = {m.key for m in store.list_metrics(run.id)}
    finally:
        store.close()
    assert (run.algorithm, run.env_id, run.tags) == ("ppo", "CartPole-v1", ["t"])
    assert run.config["hyperparams"]["n_steps"] == 64
    assert [e.index for e in episodes] == list(range(len(episodes)))
    assert {e.env_slot for e in episodes} == {0, 1}
    # Every training step belongs to one episode; the drain finished the ones in flight.
    assert sum(e.steps - e.drain_steps for e in episodes) == 512
    assert all(e.status == "completed" for e in episodes)
    assert {"periodic", "final"} <= {c.kind for c in checkpoints}
    for c in checkpoints:
        assert hashlib.sha256(Path(c.path).read_bytes()).hexdigest() == c.sha256
    assert "rollout/ep_rew_mean" in keys and "train/loss" in keys


def test_two_learn_calls_share_a_given_run(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'rltrack.db'}"
    model = DQN("MlpPolicy", make_vec_env("CartPole-v1", n_envs=1, seed=0), learning_starts=50,
                buffer_size=1000, seed=0)  # fmt: skip
    with rltrack.init("shared", db=url) as run:
        model.learn(300, callback=TrackingCallback(run))
        model.learn(300, callback=TrackingCallback(run), reset_num_timesteps=False)
        assert run.status == "running"  # a given run is the caller's to finish
    store = open_store(url)
    try:
        episodes = store.list_episodes(run.id)
        recorded = store.get_run(run.id)
    finally:
        store.close()
    assert recorded.status == "completed" and recorded.timesteps == 600
    assert [e.index for e in episodes] == list(range(len(episodes)))
    assert all(e.epsilon is not None for e in episodes)
    # The two learn calls took env slots of their own.
    assert {e.env_slot for e in episodes} == {0, 1}
