"""Stable-Baselines3 backend: any SB3 / sb3-contrib algorithm, tracked through a callback.

With ``train_range`` set, the training envs get it as their ``date_range``. With
``eval_range`` set, the ``final`` and ``best`` checkpoints are evaluated on that held-out range
after the final checkpoint is saved, beside the baselines of
:mod:`rltrack.training.evaluate`, and each result is emitted as an ``EvaluationRecorded``. A
run stopped by a signal skips the evaluation (it should end promptly; the checkpoints are on
disk), and a stop requested while it runs abandons it without emitting partial results.
"""

from __future__ import annotations

import inspect
import signal
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.preprocessing import is_image_space
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv

from rltrack.config import EPSILON_GREEDY, ConfigError, TrainConfig
from rltrack.envs import make_env
from rltrack.jsonable import resolve_class_paths
from rltrack.training.checkpoints import CheckpointManager
from rltrack.training.context import TrainContext, TrainResult
from rltrack.training.episodes import EpisodeTracker
from rltrack.training.evaluate import (
    PolicyLoader,
    check_ranges,
    eval_env_kwargs,
    final_and_best,
    probe_env,
    record_held_out_evaluation,
    sb3_loader,
    train_env_kwargs,
)
from rltrack.training.sb3_recording import MetricsWriter, drain, resolved_hyperparams


def algorithm_class(algo: str) -> type[BaseAlgorithm]:
    if algo in ("ppo", "dqn", "a2c"):
        import stable_baselines3 as sb3

        return {"ppo": sb3.PPO, "dqn": sb3.DQN, "a2c": sb3.A2C}[algo]  # type: ignore[return-value]
    if algo in ("maskable_ppo", "qrdqn"):
        import sb3_contrib

        return {"maskable_ppo": sb3_contrib.MaskablePPO, "qrdqn": sb3_contrib.QRDQN}[algo]  # type: ignore[return-value]
    raise ConfigError(f"algo: {algo!r} is not an SB3 algorithm; use --backend actor-learner")


def policy_name(policy: str, observation_space: gym.Space[Any]) -> str:
    """``auto``: SB3's CNN policy for image observations (Atari's stacked frames), the MLP
    otherwise; any other name as given."""
    if policy != "auto":
        return policy
    return "CnnPolicy" if is_image_space(observation_space) else "MlpPolicy"


def _env_factory(env_id: str, env_kwargs: dict[str, Any], ignore_sigint: bool) -> Any:
    def make() -> Any:
        if ignore_sigint:
            # The parent owns shutdown: a Ctrl-C must not kill the env workers mid-step.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        return make_env(env_id, env_kwargs)

    return make


def build_vec_env(cfg: TrainConfig) -> VecEnv:
    """The training envs, with ``train_range`` (when set) as their ``date_range``."""
    subproc = cfg.vec_env == "subproc"
    return make_vec_env(
        _env_factory(cfg.env, train_env_kwargs(cfg), subproc),
        n_envs=cfg.num_envs,
        seed=cfg.seed,
        vec_env_cls=SubprocVecEnv if subproc else DummyVecEnv,
    )


def _build_checked(cfg: TrainConfig) -> VecEnv:
    """The training envs; an env that refuses its arguments (a bad data path, too few rows in a
    range, an unknown keyword) is a ConfigError, and so is a held-out range it refuses."""
    prefix = f"env {cfg.env}: "
    if cfg.vec_env == "subproc":
        # A worker process would only die with the env's error: build one here first.
        probe_env(cfg.env, train_env_kwargs(cfg), prefix)
    try:
        env = build_vec_env(cfg)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{prefix}{exc}") from None
    if cfg.eval_range is not None:
        try:
            probe_env(cfg.env, eval_env_kwargs(cfg), f"--eval-range {cfg.eval_range!r}: ")
        except ConfigError:
            env.close()
            raise
    return env


class _TrackingCallback(BaseCallback):
    def __init__(self, backend: Sb3Backend) -> None:
        super().__init__()
        self.b = backend
        self._last_progress = 0.0

    def _on_training_start(self) -> None:
        for slot in range(self.training_env.num_envs):
            self.b.tracker.start(slot, self.num_timesteps)

    def _on_step(self) -> bool:
        b = self.b
        # The observation the envs are in now: SB3 only stores it after the callback returns.
        b.current_obs = self.locals.get("new_obs")
        b.tracker.step(
            self.locals["rewards"], self.locals["dones"], self.locals["infos"],
            self.num_timesteps, self.locals.get("actions"),
        )  # fmt: skip
        if b.checkpoints.due(self.num_timesteps, b.tracker.finished):
            b.save_periodic(self.num_timesteps)
        now = time.monotonic()
        if b.ctx.progress is not None and now - self._last_progress > 0.2:
            self._last_progress = now
            b.ctx.progress(self.num_timesteps, b.tracker.finished, b.tracker.mean_recent_reward)
        return not b.ctx.stop.requested


class Sb3Backend:
    name = "sb3"

    def __init__(self, ctx: TrainContext) -> None:
        self.ctx = ctx
        cfg = ctx.config
        cls = algorithm_class(cfg.algo)
        self.model_cls = cls
        check_ranges(cfg)
        self.env = _build_checked(cfg)
        self.policy = policy_name(cfg.policy, self.env.observation_space)
        self.torch_threads = cfg.torch_threads or (
            torch.get_num_threads() if self.policy == "CnnPolicy" else 1
        )
        aliases = getattr(cls, "policy_aliases", {})
        if aliases and self.policy not in aliases:
            self.env.close()
            raise ConfigError(
                f"policy: {cfg.policy!r} is not a {cls.__name__} policy; use auto, "
                f"{', '.join(aliases)}"
            )
        if cfg.algo == "maskable_ppo":
            from sb3_contrib.common.maskable.utils import is_masking_supported

            if not is_masking_supported(self.env):
                self.env.close()
                raise ConfigError(
                    f"algo: maskable_ppo needs an env that says which actions are valid (an "
                    f"action_masks() method); {cfg.env} has none. Use ppo, or an env with "
                    "masks such as rltrack/MaskedBandit-v0"
                )
        try:
            # A recorded run names classes by import path (optimizer_class: torch.optim.Adam):
            # --resume and --like, and a config file, give them back as classes.
            hyperparams = resolve_class_paths(_numbers_checked(cls, cfg.hyperparams))
        except (ConfigError, ValueError) as exc:
            self.env.close()
            raise ConfigError(str(exc)) from None
        try:
            if ctx.resume_checkpoint is not None:
                self.model = cls.load(ctx.resume_checkpoint, env=self.env, device=cfg.device)
            else:
                self.model = cls(
                    self.policy, self.env, seed=cfg.seed, device=cfg.device, verbose=0,
                    **hyperparams,
                )  # fmt: skip
        except TypeError as exc:
            self.env.close()
            raise ConfigError(_type_error(cls, exc)) from None
        except (ValueError, AssertionError) as exc:
            self.env.close()
            raise ConfigError(f"hyperparams: {cls.__name__} refused them: {exc}") from None
        epsilon = (
            (lambda: float(self.model.exploration_rate))  # type: ignore[attr-defined]
            if cfg.algo in EPSILON_GREEDY
            else None
        )
        self.tracker = EpisodeTracker(
            ctx.sink, ctx.run_id, agent_id=cfg.agent_id, epsilon=epsilon,
            trace_every=cfg.trace_every,
        )  # fmt: skip
        self.checkpoints = CheckpointManager(
            ctx.sink, ctx.run_id, ctx.checkpoint_dir, keep_last=cfg.keep_checkpoints,
            every_steps=cfg.checkpoint_every_steps, every_episodes=cfg.checkpoint_every_episodes,
        )  # fmt: skip
        self.current_obs: Any = None
        self.model.set_logger(Logger(None, [MetricsWriter(ctx.sink, ctx.run_id, self.tracker)]))

    @property
    def timesteps(self) -> int:
        return int(self.model.num_timesteps)

    @property
    def episodes(self) -> int:
        return self.tracker.finished

    def close(self) -> None:
        self.env.close()

    def hyperparams(self) -> dict[str, Any]:
        return resolved_hyperparams(self.model, self.ctx.config.hyperparams)

    def _save(self, path: Path) -> None:
        self.model.save(path)

    def save_periodic(self, timestep: int) -> None:
        mean = self.tracker.mean_recent_reward
        metrics = {"mean_reward_100": mean} if mean is not None else {}
        self.checkpoints.save_periodic(self._save, timestep, self.tracker.last_index, mean, metrics)

    def train(self) -> TrainResult:
        cfg = self.ctx.config
        stop = self.ctx.stop
        threads = torch.get_num_threads()
        torch.set_num_threads(self.torch_threads)
        try:
            self.model.learn(
                total_timesteps=cfg.total_timesteps,
                callback=_TrackingCallback(self),
                reset_num_timesteps=self.ctx.resume_checkpoint is None,
                progress_bar=False,
            )
            timesteps = self.model.num_timesteps
            if not stop.hard:
                self.drain(timesteps)
            self._finish(timesteps)
            if cfg.eval_range is not None and not stop.requested:
                self.evaluate()
        except KeyboardInterrupt:
            # A second Ctrl-C: no drain, close what is in flight at once, keep the weights.
            timesteps = self.model.num_timesteps
            self._finish(timesteps)
            raise
        except BaseException:
            self.tracker.finalize_all("error", self.model.num_timesteps)
            raise
        finally:
            self.env.close()
            torch.set_num_threads(threads)
        return TrainResult(timesteps, self.tracker.finished, stopped=stop.requested)

    def _finish(self, timesteps: int) -> None:
        self.tracker.finalize_all("truncated", timesteps)
        if self.ctx.progress is not None:
            self.ctx.progress(timesteps, self.tracker.finished, self.tracker.mean_recent_reward)
        mean = self.tracker.mean_recent_reward
        metrics = {"mean_reward_100": mean} if mean is not None else {}
        self.checkpoints.save(self._save, "final", timesteps, self.tracker.last_index, metrics)

    def evaluate(self) -> None:
        """Evaluate the final and best checkpoints and the baselines on ``eval_range``."""
        cfg = self.ctx.config
        load = sb3_loader(self.model_cls, device=cfg.device, masked=cfg.algo == "maskable_ppo")
        record_held_out_evaluation(self.ctx, load, final_and_best(self.checkpoints.saved))

    def drain(self, timesteps: int) -> int:
        """Step the episodes in flight to their end with the current policy, without learning,
        within ``drain_max_steps`` per env and ``drain_timeout`` seconds. Returns steps taken."""
        cfg = self.ctx.config
        return drain(
            self.model, self.env, self.tracker, self.current_obs, timesteps,
            max_steps=cfg.drain_max_steps, timeout_s=cfg.drain_timeout,
            masked=cfg.algo == "maskable_ppo", give_up=lambda: self.ctx.stop.hard,
        )  # fmt: skip


def _numbers_checked(cls: type, hyperparams: dict[str, Any]) -> dict[str, Any]:
    """``hyperparams`` checked against the constructor's annotations: text where it takes
    only numbers, or a fraction where it takes only whole ones (``int``), is a
    :class:`ConfigError` naming the keys (SB3 takes ``gamma="abc"`` without a word and fails a
    rollout later, or fails deep inside with a message that names neither key nor value); a
    whole float for an ``int`` (``buffer_size: 1e6``) is passed as an int (SB3 sizes arrays
    with it). Annotations, not defaults: DQN's ``max_grad_norm: float = 10`` takes 0.5."""
    params = inspect.signature(cls).parameters
    out, wrong, whole = dict(hyperparams), [], True
    for k, v in hyperparams.items():
        if k not in params:
            continue
        ann = params[k].annotation
        text = ann if isinstance(ann, str) else getattr(ann, "__name__", str(ann))
        kinds = {part.strip() for part in text.split("|")}
        if not kinds & {"int", "float"} or "str" in kinds:
            continue
        counts = "float" not in kinds
        if isinstance(v, str):
            wrong.append(k)
            whole = whole and counts
        elif counts and isinstance(v, float):
            if v.is_integer():
                out[k] = int(v)
            else:
                wrong.append(k)
    if wrong:
        given = ", ".join(f"{k}={hyperparams[k]!r}" for k in wrong)
        kind = "a whole number" if whole else "a number"
        raise ConfigError(f"hyperparams: {given}: {cls.__name__} wants {kind} there")
    return out


def _type_error(cls: type, exc: TypeError) -> str:
    """What the algorithm's TypeError means for the user: most often a keyword it does not
    take."""
    text = str(exc)
    if "unexpected keyword argument" in text:
        return f"hyperparams: {text} (not a {cls.__name__} argument)"
    return f"hyperparams: {cls.__name__} refused them: {text}"


# -- the registry's entry points (rltrack.training.backends.registry) -------------------------
def build(ctx: TrainContext) -> Sb3Backend:
    return Sb3Backend(ctx)


def policy_loader(algorithm: str, *, seed: int, device: str = "cpu") -> PolicyLoader:
    """SB3's deterministic action (the seed does not enter); MaskablePPO under the env's
    ``action_masks()``."""
    return sb3_loader(algorithm_class(algorithm), device=device, masked=algorithm == "maskable_ppo")
