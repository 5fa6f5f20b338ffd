"""Envs for the tests, used as `tests.gym_envs:<id>` (Gymnasium imports the module first)."""

from __future__ import annotations

import os
import time
from typing import Any

import gymnasium as gym
import numpy as np
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


class CountingEnv(gym.Env[Any, Any]):
    """Fixed-length episodes that the env counts itself: one line per episode it ends, in
    ``count_file`` (suffixed with the pid), so tests can compare the database with the env."""

    def __init__(self, count_file: str, length: int = 40, step_sleep: float = 0.0) -> None:
        from gymnasium import spaces

        self.count_file = f"{count_file}.{os.getpid()}"
        self.length = length
        self.step_sleep = step_sleep
        self.observation_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self.action_space = spaces.Discrete(2)
        self._t = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        super().reset(seed=seed)
        self._t = 0
        return np.zeros(2, dtype=np.float32), {}

    def step(self, action: Any) -> Any:
        if self.step_sleep:
            time.sleep(self.step_sleep)
        self._t += 1
        done = self._t >= self.length
        obs = np.array([self._t / self.length, float(action)], dtype=np.float32)
        if done:
            with open(self.count_file, "a") as f:
                f.write("end\n")
        return obs, float(action), done, False, {"env_steps": self._t} if done else {}


gym.register(id="Counting-v0", entry_point=CountingEnv)


def env_count(count_file: str) -> int:
    """Episodes ended, as counted by every CountingEnv process that wrote ``count_file``."""
    import glob

    return sum(len(open(p).read().splitlines()) for p in glob.glob(f"{count_file}.*"))


class ThreadCountingCartPole(CartPoleEnv):
    """CartPole that notes, at every step, how many CPU threads PyTorch uses in its process
    (the training process, with in-process envs): ``seen`` holds the distinct counts."""

    seen: set[int] = set()

    def step(self, action: Any) -> Any:
        import torch

        ThreadCountingCartPole.seen.add(torch.get_num_threads())
        return super().step(action)


gym.register(
    id="ThreadCountingCartPole-v0", entry_point=ThreadCountingCartPole, max_episode_steps=500
)
