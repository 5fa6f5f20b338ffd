"""``TrackingCallback``: a Stable-Baselines3 ``model.learn(callback=...)`` recorded as
`rltrack train` records it: every episode (indices in start order across the envs), SB3's
logger metrics, checkpoints every N steps with their sha256, and at the end of ``learn`` the
episodes in flight drained (stepped to their end without learning, within bounds) or closed
as truncated. It combines with other callbacks (a list, or SB3's ``CallbackList``).

With ``run=None`` it starts a run of its own when training starts (``init_kwargs`` go to
:func:`rltrack.init`; the algorithm, env id and resolved hyperparameters are filled in) and
finishes it when training ends. Given a run, it records into it and leaves finishing to you,
so several ``learn`` calls can share one run.
"""

from __future__ import annotations

from typing import Any

from stable_baselines3.common.callbacks import BaseCallback

import rltrack
from rltrack.run import Run
from rltrack.training.checkpoints import CheckpointManager
from rltrack.training.episodes import EpisodeTracker
from rltrack.training.events import EpisodeStatus
from rltrack.training.sb3_recording import MetricsWriter, drain, resolved_hyperparams

__all__ = ["TrackingCallback"]


class TrackingCallback(BaseCallback):
    def __init__(
        self,
        run: Run | None = None,
        *,
        checkpoint_every_steps: int | None = None,
        keep_checkpoints: int = 3,
        drain_max_steps: int = 1000,
        drain_timeout: float = 30.0,
        verbose: int = 0,
        **init_kwargs: Any,
    ) -> None:
        super().__init__(verbose)
        if checkpoint_every_steps is not None and checkpoint_every_steps < 1:
            raise ValueError(f"checkpoint_every_steps={checkpoint_every_steps}: give 1 or more")
        if keep_checkpoints < 1 or drain_max_steps < 0 or drain_timeout < 0:
            raise ValueError(
                "keep_checkpoints must be 1 or more, drain_max_steps and drain_timeout 0 or more"
            )
        self.run = run
        self.owns_run = run is None
        self.init_kwargs = init_kwargs
        self.checkpoint_every_steps = checkpoint_every_steps
        self.keep_checkpoints = keep_checkpoints
        self.drain_max_steps = drain_max_steps
        self.drain_timeout = drain_timeout
        self.tracker: EpisodeTracker | None = None
        self._writer: MetricsWriter | None = None

    def _on_training_start(self) -> None:
        model = self.model
        if self.run is None or self.run.status != "running":
            spec = getattr(self.training_env.envs[0], "spec", None) if hasattr(
                self.training_env, "envs"
            ) else None  # fmt: skip
            kwargs = {
                "algorithm": type(model).__name__.lower(),
                "env_id": getattr(spec, "id", None),
                "config": {"hyperparams": resolved_hyperparams(model, {}), "seed": model.seed},
                **self.init_kwargs,
            }
            self.run = rltrack.init(**kwargs)
            self.owns_run = True
        run = self.run
        n = self.training_env.num_envs
        first = run.reserve_slots(n, self._close)
        exploration = getattr(model, "exploration_rate", None)
        self.tracker = EpisodeTracker(
            run.logger, run.id, agent_id=run.agent_id, book=run.book, first_slot=first,
            epsilon=(lambda: float(model.exploration_rate)) if exploration is not None else None,  # type: ignore[attr-defined]
        )  # fmt: skip
        for env in range(n):
            self.tracker.start(env, model.num_timesteps)
        self.checkpoints = CheckpointManager(
            run.logger, run.id, run.run_dir / "checkpoints", keep_last=self.keep_checkpoints,
            every_steps=self.checkpoint_every_steps,
        )  # fmt: skip
        self._writer = MetricsWriter(run.logger, run.id, self.tracker)
        model.logger.output_formats.append(self._writer)

    def _on_step(self) -> bool:
        assert self.tracker is not None and self.run is not None
        self.tracker.step(
            self.locals["rewards"], self.locals["dones"], self.locals["infos"],
            self.num_timesteps, self.locals.get("actions"),
        )  # fmt: skip
        self.run._advance(self.num_timesteps)
        if self.checkpoints.due(self.num_timesteps, self.tracker.finished):
            self.checkpoints.save_periodic(
                self.model.save, self.num_timesteps, self.tracker.last_index,
                self.tracker.mean_recent_reward,
            )  # fmt: skip
        return True

    def _on_training_end(self) -> None:
        assert self.tracker is not None and self.run is not None
        timesteps = self.num_timesteps
        drain(
            self.model, self.training_env, self.tracker, self.model._last_obs, timesteps,
            max_steps=self.drain_max_steps, timeout_s=self.drain_timeout,
            masked=type(self.model).__name__ == "MaskablePPO",
        )  # fmt: skip
        self.tracker.finalize_all("truncated", timesteps)
        mean = self.tracker.mean_recent_reward
        self.checkpoints.save(
            self.model.save, "final", timesteps, self.tracker.last_index,
            {"mean_reward_100": mean} if mean is not None else {},
        )  # fmt: skip
        if self._writer in self.model.logger.output_formats:
            self.model.logger.output_formats.remove(self._writer)
        self.run.release(self._close)
        if self.owns_run:
            self.run.finish()

    def _close(self, status: EpisodeStatus, timestep: int) -> None:
        """The run ends while ``learn`` is still going (an exception, a signal)."""
        if self.tracker is not None:
            self.tracker.finalize_all(status, timestep)
