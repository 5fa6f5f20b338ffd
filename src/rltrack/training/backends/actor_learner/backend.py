"""The actor-learner backend: the main process's side of an IQN run.

It checks the configuration (before any process starts), lays out the run (which actor steps
which env slots for which agent, how many steps each takes), starts the children, and then
is the only part of the run that talks to the tracker: it turns the actors' reports into
episode events (global indices, timesteps), forwards the learners' metrics, asks the learners
for checkpoints, polls the stop request, waits for the drain, and notices dead children.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import multiprocessing
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from rltrack.agents.iqn import EpsilonSchedule, IQNConfig, load_checkpoint
from rltrack.config import ConfigError, TrainConfig
from rltrack.envs import make_env
from rltrack.training.backends.actor_learner.actor import ActorSpec, sub_seed
from rltrack.training.backends.actor_learner.learner import LearnerSpec
from rltrack.training.backends.actor_learner.ledger import EpisodeLedger, SlotOwner
from rltrack.training.backends.actor_learner.messages import (
    ActorFinished,
    ActorReport,
    CheckpointWritten,
    ChildFailed,
    LearnerMetrics,
    LearnerProbe,
    LearnerReady,
    Message,
    SaveCheckpoint,
    StopLearning,
    TrainingDone,
)
from rltrack.training.backends.actor_learner.settings import ActorLearnerSettings
from rltrack.training.backends.actor_learner.shared import (
    DRAIN,
    HARD_STOP,
    RUNNING,
    ActorVersions,
    AgentShared,
    RunFlags,
    SharedModel,
)
from rltrack.training.backends.actor_learner.workers import (
    Plan,
    ProcessWorkers,
    SerialWorkers,
    Workers,
)
from rltrack.training.checkpoints import CheckpointManager
from rltrack.training.context import TrainContext, TrainResult
from rltrack.training.evaluate import (
    PolicyLoader,
    check_ranges,
    eval_env_kwargs,
    eval_seed,
    final_and_best,
    iqn_loader,
    probe_env,
    record_held_out_evaluation,
    train_env_kwargs,
)
from rltrack.training.events import EpisodeStatus, MetricsLogged

PIDS_FILE = "processes.json"
CHECKPOINT_TIMEOUT_S = 120.0  # a learner writing one checkpoint file
DRAIN_GRACE_S = 15.0  # beyond drain_timeout, before an actor that has not finished is killed
SILENCE_LIMIT_S = 180.0  # an actor that sends nothing for this long is stuck
STARTUP_LIMIT_S = 300.0  # the learners must be ready (built, listening) within this
SHUTDOWN_TIMEOUT_S = 10.0
METRICS_EVERY_S = 1.0  # the main process's rollout/ and time/ metrics
LEARNER_METRICS_EVERY_S = 0.5


class ActorLearnerError(RuntimeError):
    """A child process of the run died or failed; the run fails with this message."""


class ChildTraceback(Exception):
    """The traceback a failed child sent, chained under the error so the run records it."""


def iqn_config(hyperparams: dict[str, Any]) -> IQNConfig:
    try:
        return IQNConfig.from_hyperparams(dict(hyperparams))
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"hyperparams: {exc}") from None


def resolve_device(requested: str) -> str:
    """``auto`` picks CUDA, then MPS, then the CPU; naming one that is absent is an error."""
    cuda = torch.cuda.is_available()
    mps = bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
    if requested == "cuda" and not cuda:
        raise ConfigError(
            "device: --device cuda, but no CUDA device is available here; use --device cpu or auto"
        )
    if requested == "mps" and not mps:
        raise ConfigError(
            "device: --device mps, but no MPS device is available here; use --device cpu or auto"
        )
    if requested == "auto":
        return "cuda" if cuda else "mps" if mps else "cpu"
    return requested


def env_dims(env_id: str, env_kwargs: dict[str, Any]) -> tuple[int, int]:
    """Observation size and action count of the env; ConfigError when IQN cannot train on it."""
    try:
        env = make_env(env_id, env_kwargs)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"env {env_id}: {exc}") from None
    try:
        obs_space, act_space = env.observation_space, env.action_space
    finally:
        env.close()
    if not isinstance(act_space, gym.spaces.Discrete):
        raise ConfigError(
            f"env {env_id}: iqn needs a discrete action space, not {type(act_space).__name__}"
        )
    if not isinstance(obs_space, gym.spaces.Box):
        raise ConfigError(
            f"env {env_id}: iqn needs a Box observation space, not {type(obs_space).__name__}"
        )
    if len(obs_space.shape) == 3 and obs_space.dtype == np.uint8:  # frames, as Atari's
        raise ConfigError(
            f"env {env_id}: iqn's network is an MLP over flat observations, and this env gives "
            f"images of shape {obs_space.shape}; train it with --algo ppo, dqn or qrdqn (their "
            "CNN policy), or give iqn an env with vector observations"
        )
    return int(np.prod(obs_space.shape)), int(act_space.n)


def agent_ids(cfg: TrainConfig) -> list[str | None]:
    """One agent keeps the configured agent_id; several get ``{agent_id or 'agent'}-{k}``."""
    agents = ActorLearnerSettings.of(cfg).agents
    if agents == 1:
        return [cfg.agent_id]
    base = cfg.agent_id or "agent"
    return [f"{base}-{k}" for k in range(agents)]


def split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if k < total % parts else 0) for k in range(parts)]


class ActorLearnerBackend:
    name = "actor-learner"
    policy = "IQNNetwork"  # rltrack.agents.iqn's own network; SB3's policy setting does not apply

    def __init__(self, ctx: TrainContext) -> None:
        self.ctx = ctx
        cfg = ctx.config
        self.opts = ActorLearnerSettings.of(cfg)
        check_ranges(cfg)
        self.iqn = iqn_config(cfg.hyperparams)
        self.device = resolve_device(cfg.device)
        self.env_kwargs = train_env_kwargs(cfg)
        self.obs_dim, self.n_actions = env_dims(cfg.env, self.env_kwargs)
        if cfg.eval_range is not None:
            probe_env(cfg.env, eval_env_kwargs(cfg), f"--eval-range {cfg.eval_range!r}: ")
        self.agent_ids = agent_ids(cfg)
        # IQN's small networks run no faster on more threads (two were measured against one
        # for the learner), and serially several times slower while the threads fight.
        self.torch_threads = cfg.torch_threads or 1
        self.resume: dict[str, Any] | None = None
        if ctx.resume_checkpoint is not None:
            self.resume = self._resume_payload(ctx.resume_checkpoint)
        actors_per_agent = max(self.opts.num_actors, 1)
        owners = []
        for actor_id in range(actors_per_agent * self.opts.agents):
            agent = actor_id // actors_per_agent
            owners.append(
                SlotOwner(actor_id, agent, self.agent_ids[agent], actor_id * cfg.num_envs)
            )
        self.tracker = EpisodeLedger(
            ctx.sink, ctx.run_id, owners, start_timestep=ctx.resume_timestep
        )
        self.checkpoints = [
            CheckpointManager(
                ctx.sink,
                ctx.run_id,
                ctx.checkpoint_dir if self.opts.agents == 1 else ctx.checkpoint_dir / str(agent_id),
                keep_last=cfg.keep_checkpoints,
                every_steps=cfg.checkpoint_every_steps,
                every_episodes=cfg.checkpoint_every_episodes,
                suffix=".pt",
            )  # fmt: skip
            for agent_id in self.agent_ids
        ]
        self.probes: dict[int, LearnerProbe] = {}
        self.last_metrics: dict[int, dict[str, float]] = {}
        self.plan: Plan | None = None
        self.workers: Workers | None = None
        self._requests = itertools.count()
        self._replies: dict[tuple[int, int], CheckpointWritten] = {}
        self._training_done: set[int] = set()
        self._finished: set[int] = set()
        self._learning_stopped: set[int] = set()
        self._deadlines: dict[int, float] = {}
        self._heard: dict[int, float] = {}
        self._ready: set[int] = set()
        self._started = time.monotonic()

    def _resume_payload(self, path: Path) -> dict[str, Any]:
        if self.opts.agents > 1:
            raise ConfigError(
                "resume: a run of several agents cannot be resumed yet; resume with --agents 1"
            )
        try:
            payload = load_checkpoint(path)
            dims = (int(payload["obs_dim"]), int(payload["n_actions"]))
        except Exception as exc:
            raise ConfigError(f"resume: {path} is not an IQN checkpoint ({exc})") from None
        if dims != (self.obs_dim, self.n_actions):
            raise ConfigError(
                f"resume: {path} was trained on observations of size {dims[0]} with {dims[1]} "
                f"actions; env {self.ctx.config.env} has {self.obs_dim} and {self.n_actions}"
            )
        return payload

    @property
    def timesteps(self) -> int:
        return self.tracker.timesteps

    def hyperparams(self) -> dict[str, Any]:
        return self.iqn.to_dict()

    @property
    def episodes(self) -> int:
        return self.tracker.finished

    def close(self) -> None:
        """Nothing to release: processes and envs start in :meth:`train`."""

    def metric_prefix(self, agent: int) -> str:
        return "" if len(self.agent_ids) == 1 else f"{self.agent_ids[agent]}/"

    # -- the run's layout -----------------------------------------------------------------
    def build_plan(self) -> Plan:
        cfg = self.ctx.config
        ctx = multiprocessing.get_context("spawn")
        actors_per_agent = max(self.opts.num_actors, 1)
        start_step = int(self.resume["training_step"]) if self.resume else 0
        schedule = EpsilonSchedule(
            self.iqn.epsilon_start, self.iqn.epsilon_end, self.iqn.epsilon_decay_steps,
            self.iqn.epsilon_decay_freq,
        )  # fmt: skip
        shared: list[AgentShared] = []
        for agent in range(self.opts.agents):
            model = SharedModel(
                ctx, self.obs_dim, self.n_actions, self.iqn,
                seed=sub_seed(cfg.seed, 2, agent), epsilon=schedule.value(start_step),
            )  # fmt: skip
            if self.resume is not None:
                model.load(self.resume["local"], self.resume["target"])
            shared.append(AgentShared(model, ActorVersions(ctx, actors_per_agent)))
        learners = [
            LearnerSpec(
                agent=agent,
                obs_dim=self.obs_dim,
                n_actions=self.n_actions,
                iqn=self.iqn,
                device=self.device,
                seed=cfg.seed,
                resume=str(self.ctx.resume_checkpoint) if self.resume is not None else None,
                metrics_every_s=LEARNER_METRICS_EVERY_S,
                threads=self.torch_threads,
            )  # fmt: skip
            for agent in range(self.opts.agents)
        ]
        actors = []
        for agent, share in enumerate(split(cfg.total_timesteps, self.opts.agents)):
            for k, quota in enumerate(split(share, actors_per_agent)):
                actor_id = agent * actors_per_agent + k
                actors.append(
                    ActorSpec(
                        actor_id=actor_id,
                        agent=agent,
                        index_in_agent=k,
                        env_id=cfg.env,
                        env_kwargs=self.env_kwargs,
                        num_envs=cfg.num_envs,
                        quota=quota,
                        obs_dim=self.obs_dim,
                        n_actions=self.n_actions,
                        iqn=self.iqn,
                        seed=cfg.seed,
                        trace_every=cfg.trace_every,
                        drain_max_steps=cfg.drain_max_steps,
                        drain_timeout=cfg.drain_timeout,
                    )  # fmt: skip
                )
        return Plan(actors, learners, shared, RunFlags(ctx), self.agent_ids)

    # -- training -------------------------------------------------------------------------
    def train(self) -> TrainResult:
        cfg = self.ctx.config
        stop = self.ctx.stop
        self.plan = self.build_plan()
        threads = torch.get_num_threads()
        try:
            if self.opts.num_actors > 0:
                self.workers = ProcessWorkers(multiprocessing.get_context("spawn"), self.plan)
            else:
                torch.set_num_threads(self.torch_threads)
                self.workers = SerialWorkers(self.plan)
            self._write_pids()
            self._loop()
            self._finish(final_timeout=CHECKPOINT_TIMEOUT_S)
            if cfg.eval_range is not None and not stop.requested:
                self.evaluate()
        except KeyboardInterrupt:
            # A second Ctrl-C: no drain; close what is in flight, keep the weights if quick.
            self._give_up("truncated")
            # If the learner cannot write the final weights quickly, the run is still stopped.
            with contextlib.suppress(Exception):
                self._finish(final_timeout=5.0)
            raise
        except BaseException:
            self._give_up("error")
            raise
        finally:
            if self.workers is not None:
                self.workers.shutdown(SHUTDOWN_TIMEOUT_S)
            torch.set_num_threads(threads)
        return TrainResult(self.tracker.timesteps, self.tracker.finished, stopped=stop.requested)

    def _give_up(self, status: EpisodeStatus) -> None:
        """Stop every child at once and close the episodes in flight with ``status``; whatever
        the actors still report about them is ignored from now on."""
        assert self.plan is not None
        self.plan.flags.set(HARD_STOP)
        self.tracker.finalize(status)
        self._finished |= {a.actor_id for a in self.plan.actors}

    def _loop(self) -> None:
        assert self.plan is not None and self.workers is not None
        cfg = self.ctx.config
        stop = self.ctx.stop
        flags = self.plan.flags
        every = {a.actor_id for a in self.plan.actors}
        started = self._started = time.monotonic()
        self._heard = dict.fromkeys(every, started)
        last_progress = last_metrics = 0.0
        last_metrics_step = -1
        while self._finished < every:
            now = time.monotonic()
            if stop.requested and flags.state == RUNNING:
                flags.set(DRAIN)
                for agent in range(self.opts.agents):
                    self._stop_learning(agent)
                for actor_id in every - self._finished:
                    self._deadlines.setdefault(actor_id, now + cfg.drain_timeout + DRAIN_GRACE_S)
            if stop.hard and flags.state != HARD_STOP:
                flags.set(HARD_STOP)
                for actor_id in every - self._finished:
                    self._deadlines[actor_id] = min(
                        self._deadlines.get(actor_id, now + 2.0), now + 2.0
                    )
            for message in self.workers.poll(0.05):
                self._handle(message)
            self._check_children(now)
            if flags.state == RUNNING and self.checkpoints[0].due(
                self.tracker.timesteps, self.tracker.finished
            ):
                self._save_periodic()
            late = {a for a, t in self._deadlines.items() if a not in self._finished and now > t}
            if late:
                # They did not finish their drain in time: kill them, close their episodes.
                self.workers.abandon(late)
                self.tracker.finalize("truncated", late)
                self._finished |= late
            if self.ctx.progress is not None and now - last_progress > 0.2:
                last_progress = now
                self.ctx.progress(
                    self.tracker.timesteps, self.tracker.finished, self.tracker.mean_recent_reward()
                )
            if now - last_metrics > METRICS_EVERY_S and self.tracker.timesteps != last_metrics_step:
                last_metrics, last_metrics_step = now, self.tracker.timesteps
                self._rollout_metrics(now - started)

    def _finish(self, final_timeout: float) -> None:
        for agent in range(self.opts.agents):
            self._stop_learning(agent)
        self.tracker.finalize("truncated")
        for agent, manager in enumerate(self.checkpoints):
            metrics = self._checkpoint_metrics(agent)
            manager.save(
                self._saver(agent, metrics, final_timeout), "final", self.tracker.timesteps,
                self.tracker.last_index, metrics,
            )  # fmt: skip
        if self.ctx.progress is not None:
            self.ctx.progress(
                self.tracker.timesteps, self.tracker.finished, self.tracker.mean_recent_reward()
            )

    def evaluate(self) -> None:
        """Evaluate every agent's final and best checkpoints, then the baselines, on
        ``eval_range``, in this process (the actors are done and the learners idle)."""
        torch.set_num_threads(self.torch_threads)
        targets = [t for manager in self.checkpoints for t in final_and_best(manager.saved)]
        load = iqn_loader(eval_seed(self.ctx.config))
        record_held_out_evaluation(self.ctx, load, targets)

    def _stop_learning(self, agent: int) -> None:
        assert self.workers is not None
        if agent not in self._learning_stopped:
            self._learning_stopped.add(agent)
            self.workers.control(agent, StopLearning())

    # -- messages -------------------------------------------------------------------------
    def _handle(self, message: Message) -> None:
        assert self.plan is not None
        if isinstance(message, ActorReport):
            if message.actor_id in self._finished:
                return  # an actor given up on (killed after its drain time): closed already
            self._heard[message.actor_id] = time.monotonic()
            self.tracker.apply(message)
        elif isinstance(message, LearnerMetrics):
            self.last_metrics[message.agent] = message.values
            prefix = self.metric_prefix(message.agent)
            self.ctx.sink.emit(
                MetricsLogged(
                    self.ctx.run_id,
                    self.tracker.timesteps,
                    {f"{prefix}{k}": v for k, v in message.values.items()},
                    episodes=self.tracker.finished,
                )  # fmt: skip
            )
        elif isinstance(message, TrainingDone):
            self._training_done.add(message.actor_id)
            cfg = self.ctx.config
            self._deadlines.setdefault(
                message.actor_id, time.monotonic() + cfg.drain_timeout + DRAIN_GRACE_S
            )
            agent = self.plan.actors[message.actor_id].agent
            mine = {a.actor_id for a in self.plan.actors if a.agent == agent}
            if mine <= self._training_done:
                self._stop_learning(agent)
        elif isinstance(message, ActorFinished):
            self._finished.add(message.actor_id)
        elif isinstance(message, CheckpointWritten):
            self._replies[(message.agent, message.request)] = message
        elif isinstance(message, LearnerReady):
            self._ready.add(message.agent)
            if len(self._ready) == len(self.plan.learners):
                self.plan.flags.start()
                self._heard = dict.fromkeys(self._heard, time.monotonic())
        elif isinstance(message, LearnerProbe):
            self.probes[message.agent] = message
        elif isinstance(message, ChildFailed):
            who = self._who(message.role, message.ident)
            error = ActorLearnerError(f"{who} failed: {message.error}")
            if message.traceback:
                raise error from ChildTraceback(message.traceback)
            raise error

    def _check_children(self, now: float) -> None:
        assert self.workers is not None and self.plan is not None
        lost = self.workers.lost()
        if lost:
            raise ActorLearnerError(
                "; ".join(lost) + ": the run fails (dead actors and learners are not restarted)"
            )
        if not self.plan.flags.go:
            if now - self._started > STARTUP_LIMIT_S:
                waiting = sorted(set(range(len(self.plan.learners))) - self._ready)
                raise ActorLearnerError(
                    f"{self._who('learner', waiting[0])} was not ready within "
                    f"{STARTUP_LIMIT_S:.0f} s; the run fails"
                )
            return
        silent = [
            a
            for a, t in self._heard.items()
            if a not in self._finished and now - t > SILENCE_LIMIT_S
        ]
        if silent:
            raise ActorLearnerError(
                f"{self._who('actor', silent[0])} sent nothing for {SILENCE_LIMIT_S:.0f} s: it "
                "is stuck; the run fails"
            )

    def _who(self, role: str, ident: int) -> str:
        assert self.plan is not None
        if role == "actor":
            agent = self.plan.actors[ident].agent
            return f"actor {ident} of {self.agent_ids[agent] or f'agent-{agent}'}"
        return f"learner of {self.agent_ids[ident] or f'agent-{ident}'}"

    # -- metrics and checkpoints ----------------------------------------------------------
    def _rollout_metrics(self, elapsed: float) -> None:
        values: dict[str, float] = {"time/fps": self.tracker.trained / max(elapsed, 1e-9)}
        for agent in range(len(self.agent_ids)):
            mean = self.tracker.mean_recent_reward(agent)
            if mean is not None:
                values[f"{self.metric_prefix(agent)}rollout/ep_rew_mean"] = mean
        self.ctx.sink.emit(
            MetricsLogged(
                self.ctx.run_id, self.tracker.timesteps, values, episodes=self.tracker.finished
            )
        )

    def _checkpoint_metrics(self, agent: int) -> dict[str, float]:
        mean = self.tracker.mean_recent_reward(agent)
        return {"mean_reward_100": mean} if mean is not None else {}

    def _save_periodic(self) -> None:
        for agent, manager in enumerate(self.checkpoints):
            metrics = self._checkpoint_metrics(agent)
            manager.save_periodic(
                self._saver(agent, metrics, CHECKPOINT_TIMEOUT_S), self.tracker.timesteps,
                self.tracker.last_index, metrics.get("mean_reward_100"), metrics,
            )  # fmt: skip

    def _saver(
        self, agent: int, metrics: dict[str, float], timeout: float
    ) -> Callable[[Path], None]:
        """A save function for CheckpointManager: the agent's learner writes the file; the main
        process keeps handling messages while it waits. The learner's training step and
        weights version go into ``metrics``, which the manager reads after the save."""

        def save(path: Path) -> None:
            assert self.workers is not None
            request = next(self._requests)
            self.workers.control(agent, SaveCheckpoint(request, str(path)))
            deadline = time.monotonic() + timeout
            while (agent, request) not in self._replies:
                if time.monotonic() > deadline:
                    raise ActorLearnerError(
                        f"{self._who('learner', agent)} did not write checkpoint {path} within "
                        f"{timeout:.0f} s"
                    )
                for message in self.workers.poll(0.05):
                    self._handle(message)
                self._check_children(time.monotonic())
            reply = self._replies.pop((agent, request))
            if reply.error is not None:
                raise ActorLearnerError(
                    f"{self._who('learner', agent)} could not write {path}: {reply.error}"
                )
            metrics["training_step"] = float(reply.training_step)
            metrics["weights_version"] = float(reply.weights_version)

        return save

    def _write_pids(self) -> None:
        assert self.workers is not None
        self.ctx.run_dir.mkdir(parents=True, exist_ok=True)
        path = self.ctx.run_dir / PIDS_FILE
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.workers.pids()))
        os.replace(tmp, path)


# -- the registry's entry points (rltrack.training.backends.registry) -------------------------
def build(ctx: TrainContext) -> ActorLearnerBackend:
    return ActorLearnerBackend(ctx)


def policy_loader(algorithm: str, *, seed: int, device: str = "cpu") -> PolicyLoader:
    """IQN's local network, greedy on the mean of K quantiles drawn from a generator seeded
    with ``seed`` (on the CPU, whatever ``device``)."""
    return iqn_loader(seed)
