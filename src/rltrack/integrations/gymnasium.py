"""``RecordEpisodes(env, run)``: every episode of a Gymnasium env or vector env, recorded.

Works with a single env and with a vector env (sync or async) in each autoreset mode:

- ``NextStep`` (Gymnasium's default): an env that ended is reset by the next ``step``, whose
  reward belongs to no episode; its new episode begins there.
- ``SameStep``: the env is reset within the step that ended it; the ended episode's final info
  comes in ``info["final_info"]``.
- ``Disabled``: the caller resets ended envs with ``reset(options={"reset_mask": mask})``.

Each episode gets the run's next index when it begins (in start order across every env and
every integration of the run), its env slot, reward, length, and from its final info its
metrics, trades and win. A ``reset`` in the middle of an episode ends it as truncated. On
``close()``, and when the run finishes, the episodes in flight are closed as truncated (error
for a failed run) with their reward and length so far.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv, VectorWrapper

from rltrack.run import Run
from rltrack.training.episodes import episode_metrics, trades_of, win_of
from rltrack.training.events import EpisodeStatus

__all__ = ["RecordEpisodes"]

_owners = itertools.count(1)


class _Recorder:
    """What both wrappers share: the run's book for ``n`` env slots of their own."""

    def __init__(self, run: Run, n: int) -> None:
        self.run = run
        self.owner = next(_owners)
        self.first_slot = run.reserve_slots(n, self.finalize)
        self.closed = False

    def begin(self, i: int) -> None:
        slot = self.first_slot + i
        if slot in self.run.book.live:
            self.run.book.end(slot, "truncated", self.run.timestep)  # abandoned by a reset
        self.run.book.begin(slot, self.run.timestep, agent_id=self.run.agent_id, owner=self.owner)

    def advance(self, i: int, reward: float) -> None:
        ep = self.run.book.live.get(self.first_slot + i)
        if ep is not None:
            ep.reward += float(reward)
            ep.steps += 1

    def end(self, i: int, terminated: bool, info: Mapping[str, Any]) -> None:
        slot = self.first_slot + i
        if slot not in self.run.book.live:
            return
        status: EpisodeStatus = "completed" if terminated else "truncated"
        self.run.book.end(
            slot, status, self.run.timestep, win=win_of(info), metrics=episode_metrics(info),
            trades=trades_of(info),
        )  # fmt: skip

    def finalize(self, status: EpisodeStatus, timestep: int) -> None:
        self.run.book.finalize(status, timestep, {self.owner})

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self.run.status == "running":
                self.finalize("truncated", self.run.timestep)
            self.run.release(self.finalize)


class _RecordEnv(gym.Wrapper[Any, Any, Any, Any]):
    def __init__(self, env: gym.Env[Any, Any], run: Run) -> None:
        super().__init__(env)
        self._rec = _Recorder(run, 1)

    def reset(self, **kwargs: Any) -> Any:
        out = super().reset(**kwargs)
        self._rec.begin(0)
        return out

    def step(self, action: Any) -> Any:
        obs, reward, terminated, truncated, info = super().step(action)
        self._rec.run.add_steps(1)
        self._rec.advance(0, float(reward))
        if terminated or truncated:
            self._rec.end(0, bool(terminated), info)
        return obs, reward, terminated, truncated, info

    def close(self) -> None:
        self._rec.close()
        self.env.close()


class _RecordVectorEnv(VectorWrapper):
    def __init__(self, env: VectorEnv[Any, Any, Any], run: Run) -> None:
        super().__init__(env)
        self._rec = _Recorder(run, env.num_envs)
        self._mode = AutoresetMode(env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP))
        self._resetting = np.zeros(env.num_envs, dtype=bool)

    def reset(self, *, seed: Any = None, options: dict[str, Any] | None = None) -> Any:
        out = self.env.reset(seed=seed, options=options)
        mask = (options or {}).get("reset_mask")
        for i in range(self.num_envs):
            if mask is None or mask[i]:
                self._rec.begin(i)
                self._resetting[i] = False
        return out

    def step(self, actions: Any) -> Any:
        obs, rewards, terms, truncs, infos = self.env.step(actions)
        stepped = [i for i in range(self.num_envs) if not self._resetting[i]]
        self._rec.run.add_steps(len(stepped))
        for i in range(self.num_envs):
            if self._resetting[i]:  # NextStep: this step reset env i; its new episode begins
                self._resetting[i] = False
                self._rec.begin(i)
                continue
            self._rec.advance(i, rewards[i])
            if terms[i] or truncs[i]:
                if self._mode == AutoresetMode.SAME_STEP:
                    final = _env_info(infos.get("final_info", {}), i)
                    self._rec.end(i, bool(terms[i]), final)
                    self._rec.begin(i)
                else:
                    self._rec.end(i, bool(terms[i]), _env_info(infos, i))
                    self._resetting[i] = self._mode == AutoresetMode.NEXT_STEP
        return obs, rewards, terms, truncs, infos

    def close(self, **kwargs: Any) -> None:
        self._rec.close()
        self.env.close(**kwargs)


def _env_info(infos: Mapping[str, Any], i: int) -> dict[str, Any]:
    """Env ``i``'s own info out of a vector env's batched one (``key`` arrays with ``_key``
    masks saying which envs have it)."""
    out: dict[str, Any] = {}
    for key, value in infos.items():
        if key.startswith("_"):
            continue
        mask = infos.get(f"_{key}")
        if mask is not None and not mask[i]:
            continue
        out[key] = _env_info(value, i) if isinstance(value, Mapping) else value[i]
    return out


class RecordEpisodes:
    """``RecordEpisodes(env, run)``: ``env`` (a Gymnasium env or vector env) with every
    episode recorded into ``run``; use it as you would ``env``."""

    def __new__(cls, env: Any, run: Run) -> Any:
        if isinstance(env, VectorEnv):
            return _RecordVectorEnv(env, run)
        if isinstance(env, gym.Env):
            return _RecordEnv(env, run)
        raise TypeError(
            f"RecordEpisodes wraps a gymnasium.Env or gymnasium.vector.VectorEnv, not "
            f"{type(env).__name__}"
        )
