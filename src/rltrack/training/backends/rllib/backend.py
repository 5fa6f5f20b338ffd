"""The rllib backend's driver: build the RLlib algorithm, train it iteration by iteration, and
turn what the env runners report into the run's record.

After every ``algo.train()`` the driver pulls each runner's report (``foreach_env_runner``) and
feeds it to the run's :class:`~.ledger.RunnerLedger`, emits the iteration's result as metrics
(``rllib/<path>``, numeric leaves only, plus ``rollout/ep_rew_mean`` and ``time/fps`` as the
other backends log them), closes the episodes of runners RLlib found dead, and saves a
checkpoint when one is due. It stops at ``total_timesteps`` or on a stop request, then drains
(:mod:`.drain`), closes what is left as truncated and saves the final checkpoint.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from collections.abc import Mapping
from typing import Any

import torch

from rltrack.config import ConfigError
from rltrack.training.backends.rllib import algorithms, archive, driver
from rltrack.training.backends.rllib.callbacks import SETTINGS_KEY, EpisodeRecorder
from rltrack.training.backends.rllib.cluster import (
    connect,
    cpus_per_runner,
    quiet_ray,
    register_env,
)
from rltrack.training.backends.rllib.driver import PULL_TIMEOUT_S
from rltrack.training.backends.rllib.ledger import RunnerLedger
from rltrack.training.backends.rllib.policy import rllib_loader
from rltrack.training.backends.rllib.settings import RLlibSettings
from rltrack.training.checkpoints import CheckpointManager
from rltrack.training.context import TrainContext, TrainResult
from rltrack.training.evaluate import (
    PolicyLoader,
    check_ranges,
    eval_env_kwargs,
    final_and_best,
    probe_env,
    record_held_out_evaluation,
    train_env_kwargs,
)
from rltrack.training.events import MetricsLogged

PIDS_FILE = "processes.json"
__all__ = ["PULL_TIMEOUT_S", "RLlibBackend", "build", "policy_loader", "result_metrics"]
# Top-level result entries that are not training metrics.
SKIPPED_RESULTS = frozenset(
    {"config", "pid", "timestamp", "date", "hostname", "node_ip", "trial_id", "done"}
)


def result_metrics(result: Mapping[str, Any], prefix: str = "rllib/") -> dict[str, float]:
    """The numeric leaves of an RLlib result dict, as ``rllib/<path>`` (finite ones only)."""
    out: dict[str, float] = {}

    def walk(node: Mapping[str, Any], path: str) -> None:
        for key, value in node.items():
            if not path and key in SKIPPED_RESULTS:
                continue
            name = f"{path}{key}"
            if isinstance(value, Mapping):
                walk(value, f"{name}/")
            elif isinstance(value, bool) or value is None:
                continue
            elif isinstance(value, int | float) or (
                hasattr(value, "item") and getattr(value, "size", 2) == 1
            ):
                number = float(value.item() if hasattr(value, "item") else value)
                if math.isfinite(number):
                    out[f"{prefix}{name}"] = number

    walk(result, "")
    return out


def resolve_gpus(device: str) -> int:
    """GPUs for the learner: ``cuda`` needs one, ``auto`` takes one when there is one."""
    cuda = torch.cuda.is_available()
    if device == "cuda" and not cuda:
        raise ConfigError("device: --device cuda, but no CUDA device is available here")
    if device == "mps":
        raise ConfigError("device: RLlib does not train on mps; use --device cpu or auto")
    return 1 if device == "cuda" or (device == "auto" and cuda) else 0


class RLlibBackend:
    name = "rllib"

    def __init__(self, ctx: TrainContext) -> None:
        self.ctx = ctx
        cfg = ctx.config
        opts = RLlibSettings.of(cfg)
        quiet_ray()  # before RLlib's modules load: some log deprecations as they import
        check_ranges(cfg)
        self.policy = algorithms.module_name(cfg.algo)
        if cfg.policy not in ("auto", self.policy):  # a recorded run names its module
            raise ConfigError(
                f"policy: {cfg.policy!r}: the rllib backend trains RLlib's default RLModule of "
                f"the algorithm ({self.policy}); shape it with hyperparams.model_config (e.g. "
                "fcnet_hiddens)"
            )
        if cfg.num_envs != 1:
            raise ConfigError(
                f"--num-envs {cfg.num_envs} is for the sb3 and actor-learner backends; RLlib "
                "takes --num-env-runners N and --num-envs-per-env-runner M"
            )
        # Settings RLlib would refuse are refused before Ray starts (seconds saved).
        algorithms.split_hyperparams(cfg.algo, algorithms.config_class(cfg.algo), cfg.hyperparams)
        self.gpus = resolve_gpus(cfg.device)
        self.env_kwargs = train_env_kwargs(cfg)
        probe_env(cfg.env, self.env_kwargs, f"env {cfg.env}: ")
        if cfg.eval_range is not None:
            probe_env(cfg.env, eval_env_kwargs(cfg), f"--eval-range {cfg.eval_range!r}: ")
        self.torch_threads = cfg.torch_threads or 1
        self.ledger = RunnerLedger(
            ctx.sink, ctx.run_id, envs_per_runner=opts.num_envs_per_env_runner,
            agent_id=cfg.agent_id, start_timestep=ctx.resume_timestep,
        )  # fmt: skip
        self.checkpoints = CheckpointManager(
            ctx.sink, ctx.run_id, ctx.checkpoint_dir, keep_last=cfg.keep_checkpoints,
            every_steps=cfg.checkpoint_every_steps, every_episodes=cfg.checkpoint_every_episodes,
            suffix=".zip",
        )  # fmt: skip
        self.ray = connect(cfg)
        self.algo: Any = None
        try:
            self.config = algorithms.build_config(
                cfg, register_env(cfg.env, self.env_kwargs),
                env_config={SETTINGS_KEY: {"trace_every": cfg.trace_every}},
                cpus_per_runner=cpus_per_runner(self.ray.cpus, opts.num_env_runners),
                gpus_per_learner=self.gpus, callbacks=EpisodeRecorder,
            )  # fmt: skip
            with _threads(self.torch_threads):
                self.algo = self.config.build_algo()
                if ctx.resume_checkpoint is not None:
                    archive.restore(self.algo, ctx.resume_checkpoint)
        except (archive.CheckpointError, KeyError, ValueError, RuntimeError) as exc:
            restoring = ctx.resume_checkpoint is not None and self.algo is not None
            self.close()
            if not restoring:
                raise
            raise ConfigError(
                f"resume: {ctx.resume_checkpoint} cannot be restored into this {cfg.algo} run: "
                f"{exc}"
            ) from None
        except BaseException:
            self.close()
            raise
        self._pids_written: dict[int, int] = {}

    # -- the Backend protocol ---------------------------------------------------------------
    @property
    def timesteps(self) -> int:
        return self.ledger.timesteps

    @property
    def episodes(self) -> int:
        return self.ledger.finished

    def hyperparams(self) -> dict[str, Any]:
        return algorithms.resolved_hyperparams(
            self.ctx.config.algo, self.config, self.ctx.config.hyperparams
        )

    def close(self) -> None:
        """Stop the algorithm's env runners, and Ray when this run started it."""
        if self.algo is not None:
            with contextlib.suppress(Exception):
                self.algo.stop()
            self.algo = None
        self.ray.close()

    def train(self) -> TrainResult:
        cfg = self.ctx.config
        stop = self.ctx.stop
        started = time.monotonic()
        try:
            with _threads(self.torch_threads):
                while self.ledger.trained < cfg.total_timesteps and not stop.requested:
                    result = self.algo.train()
                    self.pull()
                    self._log(result, time.monotonic() - started)
                    if self.checkpoints.due(self.ledger.timesteps, self.ledger.finished):
                        self._save_periodic()
                    self._progress()
                if not stop.hard:
                    self.drain()
                self._finish()
                if cfg.eval_range is not None and not stop.requested:
                    self.evaluate()
        except KeyboardInterrupt:
            # A second Ctrl-C: no drain; close what is in flight, keep the weights if we can.
            self.ledger.close(None, "truncated")
            with contextlib.suppress(Exception):
                self._finish()
            raise
        except BaseException:
            self.ledger.close(None, "error")
            raise
        finally:
            self.close()
        return TrainResult(self.ledger.timesteps, self.ledger.finished, stopped=stop.requested)

    # -- the runners ------------------------------------------------------------------------
    def pull(self) -> None:
        """Take every runner's report into the ledger (see :mod:`.driver`)."""
        driver.pull(self.algo, self.ledger)
        self._write_pids()

    def drain(self) -> None:
        """Finish the episodes in flight without learning (see :mod:`.drain`)."""
        cfg = self.ctx.config
        driver.drain(
            self.algo, self.ledger, max_steps=cfg.drain_max_steps, timeout_s=cfg.drain_timeout
        )

    # -- metrics, progress, checkpoints -------------------------------------------------------
    def _log(self, result: Mapping[str, Any], elapsed: float) -> None:
        values = result_metrics(result)
        values["time/fps"] = self.ledger.trained / max(elapsed, 1e-9)
        mean = self.ledger.mean_recent_reward()
        if mean is not None:
            values["rollout/ep_rew_mean"] = mean
        self.ctx.sink.emit(
            MetricsLogged(
                self.ctx.run_id, self.ledger.timesteps, values, episodes=self.ledger.finished
            )
        )

    def _progress(self) -> None:
        if self.ctx.progress is not None:
            self.ctx.progress(
                self.ledger.timesteps, self.ledger.finished, self.ledger.mean_recent_reward()
            )

    def _checkpoint_metrics(self) -> dict[str, float]:
        mean = self.ledger.mean_recent_reward()
        metrics = {"training_iteration": float(self.algo.iteration)}
        if mean is not None:
            metrics["mean_reward_100"] = mean
        return metrics

    def _save_periodic(self) -> None:
        metrics = self._checkpoint_metrics()
        self.checkpoints.save_periodic(
            archive.saver(self.algo), self.ledger.timesteps, self.ledger.last_index,
            metrics.get("mean_reward_100"), metrics,
        )  # fmt: skip

    def _finish(self) -> None:
        self.ledger.close(None, "truncated")
        self._progress()
        self.checkpoints.save(
            archive.saver(self.algo), "final", self.ledger.timesteps, self.ledger.last_index,
            self._checkpoint_metrics(),
        )  # fmt: skip

    def evaluate(self) -> None:
        """Evaluate the final and best checkpoints and the baselines on ``eval_range``."""
        record_held_out_evaluation(self.ctx, rllib_loader(), final_and_best(self.checkpoints.saved))

    def _write_pids(self) -> None:
        """``runs/<id>/processes.json``: the driver's pid and each env runner's pid and node."""
        if self._pids_written == self.ledger.pids:
            return
        self._pids_written = dict(self.ledger.pids)
        runners = {
            str(w): {"pid": pid, "node": self.ledger.nodes.get(w)}
            for w, pid in sorted(self.ledger.pids.items())
        }
        self.ctx.run_dir.mkdir(parents=True, exist_ok=True)
        path = self.ctx.run_dir / PIDS_FILE
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps({"driver": os.getpid(), "env_runners": runners}))
        os.replace(tmp, path)


@contextlib.contextmanager
def _threads(n: int) -> Any:
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# -- the registry's entry points (rltrack.training.backends.registry) -------------------------
def build(ctx: TrainContext) -> RLlibBackend:
    return RLlibBackend(ctx)


def policy_loader(algorithm: str, *, seed: int, device: str = "cpu") -> PolicyLoader:
    """The checkpoint's RLModule, acting greedily (argmax of the action logits for discrete
    actions) on the CPU; the seed does not enter."""
    return rllib_loader()
