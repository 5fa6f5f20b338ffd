"""What recording an SB3 model takes, for the sb3 backend and for a user's own
``model.learn(callback=rltrack.integrations.sb3.TrackingCallback())`` alike: its resolved
hyperparameters, SB3's logger output as metrics events, and the drain of the episodes in
flight once ``learn`` returns."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.logger import KVWriter
from stable_baselines3.common.vec_env import VecEnv

from rltrack.training.episodes import EpisodeTracker
from rltrack.training.events import EventSink, MetricsLogged

# Hyperparameters worth showing next to a run, read back from the built model.
RESOLVED_HYPERPARAMS = (
    "learning_rate", "gamma", "n_steps", "batch_size", "n_epochs", "gae_lambda", "clip_range",
    "ent_coef", "vf_coef", "max_grad_norm", "buffer_size", "learning_starts", "tau",
    "train_freq", "gradient_steps", "target_update_interval", "exploration_fraction",
    "exploration_initial_eps", "exploration_final_eps", "policy_kwargs",
)  # fmt: skip


def resolved_hyperparams(model: BaseAlgorithm, given: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in RESOLVED_HYPERPARAMS:
        value = getattr(model, name, None)
        if name == "train_freq" and value is not None:
            value = int(value.frequency)
        if name == "clip_range" and callable(value):
            value = float(value(1.0))
        if value is None or callable(value):
            continue
        if isinstance(value, np.generic):
            value = value.item()
        out[name] = value
    out.update(given)
    return out


class MetricsWriter(KVWriter):
    """SB3 logger output that turns each ``dump(step)`` into one MetricsLogged event."""

    def __init__(self, sink: EventSink, run_id: str, tracker: EpisodeTracker) -> None:
        self.sink, self.run_id, self.tracker = sink, run_id, tracker

    def write(self, key_values: dict[str, Any], key_excluded: Any, step: int = 0) -> None:
        values = {
            k: float(v)
            for k, v in key_values.items()
            if isinstance(v, int | float | np.number) and not isinstance(v, bool)
        }
        if values:
            self.sink.emit(
                MetricsLogged(self.run_id, int(step), values, episodes=self.tracker.finished)
            )

    def close(self) -> None:
        pass


def drain(
    model: BaseAlgorithm,
    env: VecEnv,
    tracker: EpisodeTracker,
    obs: Any,
    timesteps: int,
    *,
    max_steps: int,
    timeout_s: float,
    masked: bool = False,
    give_up: Callable[[], bool] = lambda: False,
) -> int:
    """Step the episodes in flight to their end with the current policy, without learning,
    for at most ``max_steps`` steps and ``timeout_s`` seconds (or until ``give_up()``); the
    envs that can are asked to wind down first. Returns the steps taken."""
    live = sorted(tracker.live)
    if obs is None or not live or max_steps == 0:
        return 0
    if env.has_attr("signal_graceful_shutdown"):
        env.env_method("signal_graceful_shutdown", indices=live)
    deadline = time.monotonic() + timeout_s
    taken = 0
    while tracker.live and taken < max_steps:
        if time.monotonic() > deadline or give_up():
            break
        if masked:
            from sb3_contrib.common.maskable.utils import get_action_masks

            actions, _ = model.predict(obs, action_masks=get_action_masks(env))  # type: ignore[call-arg]
        else:
            actions, _ = model.predict(obs, deterministic=False)
        obs, rewards, dones, infos = env.step(actions)
        tracker.drain_step(rewards, dones, infos, timesteps, actions)
        taken += 1
    return taken
