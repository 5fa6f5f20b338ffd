"""State in shared memory: each agent's published model, its epsilon, the run's stop flag.

:class:`SharedModel` holds the local **and** the target network of one agent, their
parameters and buffers in shared memory (``share_memory_()``), with a version counter and
the current epsilon. The agent's learner is its only writer: :meth:`SharedModel.publish`
copies both networks under the lock and bumps the version before releasing it. Actors read
the version without the lock (one aligned 64-bit word) and only when it changed copy the
local network into their own CPU policy under the same lock, so a copy never mixes two
publishes. Every acquire has a timeout: a process killed while holding the lock makes the
others skip a publish or a pull, never hang.

Epsilon is a single ``double`` with one writer (the learner) and a lock-free read. The stop
flag is a single byte with one writer (the main process). Neither needs a lock, and an
``Event`` would not do: its internal lock could be left held by a killed actor.
"""

from __future__ import annotations

from dataclasses import dataclass
from multiprocessing.context import SpawnContext
from typing import Any

import torch
from torch import nn

from rltrack.agents.iqn import IQNConfig, IQNNetwork

LOCK_TIMEOUT_S = 5.0

RUNNING, DRAIN, HARD_STOP = 0, 1, 2


class SharedModel:
    """One agent's published local and target networks, version counter and epsilon."""

    def __init__(
        self,
        ctx: SpawnContext,
        obs_dim: int,
        n_actions: int,
        cfg: IQNConfig,
        *,
        seed: int | None = None,
        epsilon: float | None = None,
    ) -> None:
        generator = torch.Generator()
        if seed is None:
            generator.seed()
        else:
            generator.manual_seed(seed)
        # The agent's initial weights; its learner starts from a copy of them.
        self.local = IQNNetwork(obs_dim, n_actions, cfg, generator)
        self.target = IQNNetwork(obs_dim, n_actions, cfg, generator)
        self.target.load_state_dict(self.local.state_dict())
        for net in (self.local, self.target):
            net.eval()
            net.requires_grad_(False)
            net.share_memory()
        self._lock = ctx.Lock()
        self._version = ctx.RawValue("q", 0)
        self._epsilon = ctx.RawValue("d", cfg.epsilon_start if epsilon is None else epsilon)
        self._updates = ctx.RawValue("q", 0)

    # -- the learner's side ---------------------------------------------------------------
    def publish(self, local: nn.Module, target: nn.Module, timeout: float = LOCK_TIMEOUT_S) -> int:
        """Copy both networks in and bump the version, all under the lock. Returns the new
        version, or -1 when the lock could not be had within ``timeout`` (nothing copied)."""
        if not self._lock.acquire(timeout=timeout):
            return -1
        try:
            with torch.no_grad():
                _copy_state(local, self.local)
                _copy_state(target, self.target)
            self._version.value += 1
            return int(self._version.value)
        finally:
            self._lock.release()

    def load(self, local_state: dict[str, Any], target_state: dict[str, Any]) -> None:
        """Initial weights (a resumed checkpoint's), before any process reads them."""
        self.local.load_state_dict(local_state)
        self.target.load_state_dict(target_state)

    @property
    def epsilon(self) -> float:
        return float(self._epsilon.value)

    @epsilon.setter
    def epsilon(self, value: float) -> None:
        self._epsilon.value = float(value)

    @property
    def version(self) -> int:
        return int(self._version.value)

    @property
    def updates(self) -> int:
        """Learner steps taken in this run (the learner is its only writer; the actors pace
        themselves by it)."""
        return int(self._updates.value)

    @updates.setter
    def updates(self, value: int) -> None:
        self._updates.value = int(value)

    # -- the actors' side -----------------------------------------------------------------
    def pull(self, into: nn.Module, known_version: int, timeout: float = LOCK_TIMEOUT_S) -> int:
        """Copy the local network into ``into`` if a newer version was published. Returns the
        version ``into`` now holds (``known_version`` when nothing was copied)."""
        if self._version.value == known_version:
            return known_version
        if not self._lock.acquire(timeout=timeout):
            return known_version
        try:
            with torch.no_grad():
                _copy_state(self.local, into)
            return int(self._version.value)
        finally:
            self._lock.release()

    def snapshot(
        self, timeout: float = LOCK_TIMEOUT_S
    ) -> tuple[int, dict[str, Any], dict[str, Any]]:
        """The version and copies of both networks' state, read consistently under the lock."""
        if not self._lock.acquire(timeout=timeout):
            raise TimeoutError("the shared model's lock is held by another process")
        try:
            local = {k: v.clone() for k, v in self.local.state_dict().items()}
            target = {k: v.clone() for k, v in self.target.state_dict().items()}
            return int(self._version.value), local, target
        finally:
            self._lock.release()


def _copy_state(src: nn.Module, dst: nn.Module) -> None:
    dst_state = dst.state_dict()
    src_state = src.state_dict()
    if dst_state.keys() != src_state.keys():
        raise ValueError("the networks differ: cannot copy one into the other")
    for key, value in src_state.items():
        dst_state[key].copy_(value)


class RunFlags:
    """The run's state as the main process sets it: running, drain (stop training, finish the
    episodes in flight) or hard stop (finish nothing, exit now); and whether the actors may
    start (once every learner is ready, so that none misses the start of the run)."""

    def __init__(self, ctx: SpawnContext) -> None:
        self._state = ctx.RawValue("b", RUNNING)
        self._go = ctx.RawValue("b", 0)

    @property
    def go(self) -> bool:
        return bool(self._go.value)

    def start(self) -> None:
        self._go.value = 1

    @property
    def state(self) -> int:
        return int(self._state.value)

    def set(self, state: int) -> None:
        if state > self._state.value:  # only ever escalates
            self._state.value = state


class ActorVersions:
    """The weights version each of an agent's actors acts with, and the training env steps
    each has taken (each actor writes its own entries; the learner reads the versions to report
    how far the actors lag, the actors read the steps to keep to the replay ratio)."""

    def __init__(self, ctx: SpawnContext, n: int) -> None:
        self._values = ctx.RawArray("q", n)
        self._steps = ctx.RawArray("q", n)

    def add_steps(self, index: int, n: int) -> None:
        self._steps[index] += n

    def total_steps(self) -> int:
        return int(sum(self._steps))

    def __len__(self) -> int:
        return len(self._values)

    def set(self, index: int, version: int) -> None:
        self._values[index] = version

    def lag(self, published: int) -> int:
        """Versions between the newest published one and the oldest any actor uses."""
        if not len(self._values):
            return 0
        return max(0, published - int(min(self._values)))


@dataclass(frozen=True)
class AgentShared:
    """Everything one agent's processes share."""

    model: SharedModel
    versions: ActorVersions
