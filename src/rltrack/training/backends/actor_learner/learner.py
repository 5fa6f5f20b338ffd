"""A learner: one per agent, the only writer of its agent's shared model.

It drains its actors' transition pipes into its own :class:`~rltrack.agents.iqn.ReplayBuffer`
(one writer, no locking), and once ``learning_starts`` transitions are in, runs
:meth:`IQNLearner.learn` on sampled batches (on ``device``; the model in train mode; gradients
clipped to ``max_grad_norm``). Every ``publish_interval`` learner steps it publishes the local
and the target network to the shared model, and every ``epsilon_decay_freq`` steps it writes
the scheduled epsilon there. It reports metrics to the main process about twice a second and
writes checkpoints when the main process asks (from its own :meth:`IQNLearner.checkpoint`, so
the optimizer state and ``training_step`` come along).

Its weights come from the shared model (the agent's seeded initial weights) or from a
checkpoint when the run resumes; either way the optimizer is created after the copy
(:meth:`IQNLearner.load_weights`, :meth:`IQNLearner.from_checkpoint`), so its parameters and
state belong to the weights it trains.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from rltrack.agents.iqn import (
    EpsilonSchedule,
    IQNConfig,
    IQNLearner,
    LearnStats,
    ReplayBuffer,
    load_checkpoint,
)
from rltrack.training.backends.actor_learner.actor import (
    child_setup,
    parent_alive,
    sub_seed,
)
from rltrack.training.backends.actor_learner.channels import Reader, Writer, drain_reader, ready
from rltrack.training.backends.actor_learner.messages import (
    CheckpointWritten,
    ChildFailed,
    Exit,
    LearnerMetrics,
    LearnerProbe,
    LearnerReady,
    SaveCheckpoint,
    StopLearning,
    TransitionBatch,
)
from rltrack.training.backends.actor_learner.shared import ActorVersions, SharedModel


@dataclass(frozen=True)
class LearnerSpec:
    agent: int
    obs_dim: int
    n_actions: int
    iqn: IQNConfig
    device: str = "cpu"
    seed: int | None = None
    resume: str | None = None  # checkpoint file to continue from
    metrics_every_s: float = 0.5
    threads: int = 1


@dataclass
class LearnerLinks:
    model: SharedModel
    versions: ActorVersions
    from_actors: list[Reader]
    control: Reader
    to_main: Writer


@dataclass
class _Window:
    """Update statistics since the last metrics report."""

    started: float = field(default_factory=time.monotonic)
    n: int = 0
    loss: float = 0.0
    grad_norm: float = 0.0
    grad_norm_clipped: float = 0.0
    q_mean: float = 0.0

    def add(self, stats: LearnStats) -> None:
        self.n += 1
        self.loss += stats.loss
        self.grad_norm += stats.grad_norm
        self.grad_norm_clipped += stats.grad_norm_clipped
        self.q_mean += stats.q_mean


class Learner:
    def __init__(self, spec: LearnerSpec, links: LearnerLinks) -> None:
        self.spec = spec
        self.links = links
        cfg = spec.iqn
        self.device = torch.device(spec.device)
        if spec.resume is not None:
            self.learner = IQNLearner.from_checkpoint(load_checkpoint(spec.resume), self.device)
        else:
            self.learner = IQNLearner(
                spec.obs_dim,
                spec.n_actions,
                cfg,
                self.device,
                seed=sub_seed(spec.seed, 20, spec.agent),
            )
            _version, local, target = links.model.snapshot()
            self.learner.load_weights(local, target)
        self.replay = ReplayBuffer((spec.obs_dim,), cfg.buffer_size)
        self.schedule = EpsilonSchedule(
            cfg.epsilon_start, cfg.epsilon_end, cfg.epsilon_decay_steps, cfg.epsilon_decay_freq
        )
        self.rng = np.random.default_rng(sub_seed(spec.seed, 21, spec.agent))
        self.version = links.model.version
        links.model.epsilon = self.schedule.value(self.learner.training_step)
        self.open_actors = list(links.from_actors)
        self.learning = True
        self.exit = False
        self.publish_timeouts = 0
        self.probe: LearnerProbe | None = None
        self._window = _Window()
        self._last_metrics = time.monotonic()
        self._last_published_step = self.learner.training_step

    @property
    def training_step(self) -> int:
        return int(self.learner.training_step)

    # -- one round ------------------------------------------------------------------------
    def poll(self, updates: int = 1) -> bool:
        """Handle the main process's requests, take in the actors' transitions, and run up to
        ``updates`` learner steps. Returns whether there was anything to do."""
        busy = self._handle_control()
        busy = self._ingest() or busy
        if self.learning and updates > 0 and len(self.replay) >= self.spec.iqn.learning_starts:
            for _ in range(updates):
                self.update()
            busy = True
        if self._window.n and time.monotonic() - self._last_metrics >= self.spec.metrics_every_s:
            self._send_metrics()
        return busy

    def update(self) -> LearnStats:
        cfg = self.spec.iqn
        batch = self.replay.sample(cfg.batch_size, self.rng)
        stats = self._probed_learn(batch) if self.probe is None else self.learner.learn(batch)
        self._window.add(stats)
        self.links.model.updates += 1
        step = self.training_step
        if step % cfg.publish_interval == 0:
            self.publish()
        if step % cfg.epsilon_decay_freq == 0:
            self.links.model.epsilon = self.schedule.value(step)
        return stats

    def publish(self) -> None:
        version = self.links.model.publish(self.learner.local, self.learner.target)
        if version < 0:
            self.publish_timeouts += 1  # the lock was held too long; try at the next interval
        else:
            self.version = version
            self._last_published_step = self.training_step

    def run(self) -> None:
        """The learner process's loop: until the main process says Exit (or is gone)."""
        last_check = time.monotonic()
        while not self.exit:
            if not self.poll(1):
                ready([*self.open_actors, self.links.control], 0.05)
            now = time.monotonic()
            if now - last_check > 0.5:
                last_check = now
                if not parent_alive():
                    return

    # -- inputs ---------------------------------------------------------------------------
    def _ingest(self) -> bool:
        busy = False
        for reader in list(self.open_actors):
            batches, closed = drain_reader(reader, 64)
            for batch in batches:
                if isinstance(batch, TransitionBatch):
                    self.replay.add_arrays(
                        batch.obs, batch.action, batch.reward, batch.next_obs, batch.done,
                        batch.discount,
                    )  # fmt: skip
            if closed:
                # The actor finished (or died: the main process notices and decides).
                self.open_actors.remove(reader)
            busy = busy or bool(batches)
        return busy

    def _handle_control(self) -> bool:
        messages, closed = drain_reader(self.links.control, 16)
        for message in messages:
            if isinstance(message, SaveCheckpoint):
                self._save(message)
            elif isinstance(message, StopLearning):
                self.stop_learning()
            elif isinstance(message, Exit):
                self.exit = True
        if closed:
            self.exit = True  # the main process is gone
        return bool(messages)

    def stop_learning(self) -> None:
        if not self.learning:
            return
        self.learning = False
        if self.training_step != self._last_published_step:
            self.publish()  # the actors drain, and the final checkpoint is saved, with these
        if self._window.n:
            self._send_metrics()

    # -- outputs --------------------------------------------------------------------------
    def _save(self, request: SaveCheckpoint) -> None:
        try:
            torch.save(self.learner.checkpoint(), request.path)
        except Exception as exc:  # reported to the main process, which fails the save
            reply = CheckpointWritten(
                self.spec.agent, request.request, request.path, self.training_step, self.version,
                error=f"{type(exc).__name__}: {exc}",
            )  # fmt: skip
        else:
            reply = CheckpointWritten(
                self.spec.agent, request.request, request.path, self.training_step, self.version
            )
        self.links.to_main.send(reply)

    def metrics(self) -> dict[str, float]:
        w = self._window
        elapsed = max(time.monotonic() - w.started, 1e-9)
        n = max(w.n, 1)
        return {
            "losses/quantile_loss": w.loss / n,
            "learner/epsilon": self.links.model.epsilon,
            "learner/grad_norm": w.grad_norm / n,
            "learner/grad_norm_clipped": w.grad_norm_clipped / n,
            "learner/q_mean": w.q_mean / n,
            "learner/weights_version": float(self.version),
            "learner/updates_per_s": w.n / elapsed,
            "learner/actor_lag_versions": float(self.links.versions.lag(self.version)),
            "learner/training_step": float(self.training_step),
            "learner/replay_size": float(len(self.replay)),
            # Publishes skipped because the lock stayed taken (a process died holding it).
            "learner/publish_timeouts": float(self.publish_timeouts),
        }

    def _send_metrics(self) -> None:
        values = {k: v for k, v in self.metrics().items() if math.isfinite(v)}
        self.links.to_main.send(LearnerMetrics(self.spec.agent, values))
        self._window = _Window()
        self._last_metrics = time.monotonic()

    def _probed_learn(self, batch: dict[str, np.ndarray]) -> LearnStats:
        """The first update, watched: where the batch and the model are, and the mode."""
        seen: dict[str, Any] = {}

        def hook(module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            if "batch" not in seen:
                tensor = next(
                    (a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor)), None
                )
                seen["batch"] = str(tensor.device) if tensor is not None else "none"
                seen["train"] = module.training

        handle = self.learner.local.register_forward_pre_hook(hook, with_kwargs=True)
        try:
            stats = self.learner.learn(batch)
        finally:
            handle.remove()
        params = {id(p) for p in self.learner.local.parameters()}
        owned = {id(p) for g in self.learner.optimizer.param_groups for p in g["params"]}
        self.probe = LearnerProbe(
            agent=self.spec.agent,
            device=str(self.device),
            local_device=str(next(self.learner.local.parameters()).device),
            target_device=str(next(self.learner.target.parameters()).device),
            batch_device=str(seen.get("batch", "none")),
            train_mode=bool(seen.get("train", False)),
            optimizer_owns_parameters=params == owned,
        )
        self.links.to_main.send(self.probe)
        return stats


def run_learner_process(spec: LearnerSpec, links: LearnerLinks) -> None:
    """Entry point of a learner process (spawn start method)."""
    child_setup(spec.threads)
    try:
        learner = Learner(spec, links)
        links.to_main.send(LearnerReady(spec.agent))
        learner.run()
    except BaseException as exc:
        error = f"{type(exc).__name__}: {exc}"
        with contextlib.suppress(OSError, ValueError):
            links.to_main.send(ChildFailed("learner", spec.agent, error, traceback.format_exc()))
        os._exit(1)
    links.to_main.close()
