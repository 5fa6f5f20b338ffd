"""A backend written the way the registry asks of one (a module with ``build`` and
``policy_loader``), as a user adding a backend would: seeded random play on any discrete env,
tracked with the shared episode bookkeeping, its "checkpoint" a JSON file of its seed. The
registry test registers it and trains, evaluates and films through rltrack's own commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from pydantic import Field

from rltrack.envs import make_env
from rltrack.training.backends.registry import BackendSettings
from rltrack.training.checkpoints import CheckpointManager
from rltrack.training.context import TrainContext, TrainResult
from rltrack.training.episodes import EpisodeTracker
from rltrack.training.evaluate import Policy, PolicyLoader


class ToySettings(BackendSettings):
    """The toy's own setting: the registry makes it a config key and a `--sticky` flag."""

    sticky: float = Field(0.0, ge=0.0, le=1.0, title="chance of repeating the last action.")


class RandomBackend:
    name = "toy"
    policy = "uniform random"
    torch_threads = 1

    def __init__(self, ctx: TrainContext) -> None:
        self.ctx = ctx
        self.env = make_env(ctx.config.env, ctx.config.env_kwargs)
        self.tracker = EpisodeTracker(ctx.sink, ctx.run_id, agent_id=ctx.config.agent_id)
        self.checkpoints = CheckpointManager(
            ctx.sink, ctx.run_id, ctx.checkpoint_dir, suffix=".json"
        )
        self.steps = 0
        self.sticky = ToySettings.of(ctx.config).sticky

    @property
    def timesteps(self) -> int:
        return self.steps

    @property
    def episodes(self) -> int:
        return self.tracker.finished

    def hyperparams(self) -> dict[str, Any]:
        return {"seed": self.ctx.config.seed}

    def close(self) -> None:
        self.env.close()

    def train(self) -> TrainResult:
        cfg = self.ctx.config
        rng = np.random.default_rng(cfg.seed)
        self.env.reset(seed=cfg.seed)
        self.tracker.start(0, 0)
        action = 0
        while self.steps < cfg.total_timesteps and not self.ctx.stop.requested:
            if rng.random() >= self.sticky:
                action = int(rng.integers(self.env.action_space.n))  # type: ignore[attr-defined]
            _, reward, terminated, truncated, info = self.env.step(action)
            self.steps += 1
            done = terminated or truncated
            info = {**info, "TimeLimit.truncated": truncated and not terminated}
            self.tracker.step([reward], [done], [info], self.steps)
            if done:
                self.env.reset()
        self.tracker.finalize_all("truncated", self.steps)
        self.checkpoints.save(self._save, "final", self.steps, self.tracker.started - 1)
        self.close()
        return TrainResult(self.steps, self.tracker.finished, stopped=self.ctx.stop.requested)

    def _save(self, path: Path) -> None:
        path.write_text(json.dumps({"seed": self.ctx.config.seed}))


def build(ctx: TrainContext) -> RandomBackend:
    return RandomBackend(ctx)


def policy_loader(algorithm: str, *, seed: int, device: str = "cpu") -> PolicyLoader:
    def load(path: str) -> Policy:
        rng = np.random.default_rng(json.loads(Path(path).read_text())["seed"] + seed)

        def act(obs: Any, env: gym.Env[Any, Any]) -> int:
            return int(rng.integers(env.action_space.n))  # type: ignore[attr-defined]

        return act

    return load
