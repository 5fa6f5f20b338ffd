"""Envs for the tests, used as `tests.envs:<id>` (Gymnasium imports the module first)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
from gymnasium.envs.classic_control.cartpole import CartPoleEnv


class CrashingCartPole(CartPoleEnv):
    """CartPole that raises inside `step` once the whole process has taken `crash_at` steps."""

    def __init__(self, crash_at: int = 300, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.crash_at = crash_at
        self.steps_taken = 0

    def step(self, action: Any) -> Any:
        self.steps_taken += 1
        if self.steps_taken >= self.crash_at:
            raise RuntimeError(f"simulated env failure at step {self.steps_taken}")
        return super().step(action)


gym.register(id="CrashingCartPole-v0", entry_point=CrashingCartPole, max_episode_steps=500)
