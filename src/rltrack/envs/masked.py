"""A small env with invalid actions, for MaskablePPO: pick the marked arm among the allowed ones.

Each step one of ``n_arms`` arms is marked (one-hot in the observation) and about half of the
others are disallowed (``action_masks()``). Picking the marked arm pays 1, any other allowed arm
0, a disallowed arm -1. An episode is ``length`` steps; it is a win when more than half of the
picks hit the marked arm.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class MaskedBanditEnv(gym.Env[np.ndarray, int | np.int64]):
    metadata = {"render_modes": []}

    def __init__(self, n_arms: int = 6, length: int = 20) -> None:
        if n_arms < 2:
            raise ValueError(f"n_arms must be at least 2, got {n_arms}")
        if length < 1:
            raise ValueError(f"length must be at least 1, got {length}")
        self.n_arms, self.length = n_arms, length
        self.observation_space = spaces.Box(0.0, 1.0, shape=(2 * n_arms,), dtype=np.float32)
        self.action_space = spaces.Discrete(n_arms)
        self._target = 0
        self._mask = np.ones(n_arms, dtype=bool)
        self._t = 0
        self._hits = 0

    def _draw(self) -> np.ndarray:
        self._target = int(self.np_random.integers(self.n_arms))
        self._mask = self.np_random.random(self.n_arms) < 0.5
        self._mask[self._target] = True
        obs = np.zeros(2 * self.n_arms, dtype=np.float32)
        obs[self._target] = 1.0
        obs[self.n_arms :] = self._mask
        return obs

    def action_masks(self) -> np.ndarray:
        return self._mask.copy()

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._t, self._hits = 0, 0
        return self._draw(), {}

    def step(self, action: int | np.int64) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        action = int(action)
        if not self._mask[action]:
            reward = -1.0
        elif action == self._target:
            reward, self._hits = 1.0, self._hits + 1
        else:
            reward = 0.0
        self._t += 1
        terminated = self._t >= self.length
        info: dict[str, Any] = {}
        if terminated:
            info = {
                "win": float(self._hits * 2 > self.length),
                "hit_rate": self._hits / self.length,
            }
        return self._draw(), reward, terminated, False, info
