"""An actor: steps its envs with a CPU copy of its agent's policy and feeds the learner.

Each actor owns ``num_envs`` envs (its env slots), an :class:`~rltrack.agents.iqn.IQNPolicy`
and one n-step accumulator per env. Before each step it pulls the newest published weights
(only when the version changed) and reads epsilon from shared memory. Its n-step transitions
go to its learner in batches; what happened to its episodes goes to the main process in
:class:`ActorReport` batches. It takes exactly ``quota`` training steps, or fewer when the main
process asks it to stop; then it drains: the episodes in flight are stepped to their end
without sending transitions, within ``drain_max_steps`` per env and ``drain_timeout`` seconds,
and whatever is still running after that is reported truncated.

The same class runs inside an actor process (:func:`run_actor_process`) and, stepped by hand,
in the serial mode (``--num-actors 0``).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from rltrack.agents.iqn import IQNConfig, IQNPolicy, NStepAccumulator, Transition
from rltrack.envs import make_env
from rltrack.training.backends.actor_learner.channels import Writer
from rltrack.training.backends.actor_learner.messages import (
    ActorFinished,
    ActorReport,
    ChildFailed,
    EpisodeBegan,
    EpisodeFinished,
    LiveEpisode,
    ReportItem,
    Steps,
    TrainingDone,
    TransitionBatch,
)
from rltrack.training.backends.actor_learner.shared import (
    HARD_STOP,
    RUNNING,
    ActorVersions,
    RunFlags,
    SharedModel,
)
from rltrack.training.episodes import outcome_of, step_record
from rltrack.training.events import EpisodeStatus, StepRecord, utcnow


@dataclass(frozen=True)
class ActorSpec:
    actor_id: int  # unique in the run; its env slots are actor_id * num_envs + j
    agent: int
    index_in_agent: int
    env_id: str
    env_kwargs: dict[str, Any]
    num_envs: int
    quota: int  # training env steps to take, all slots together
    obs_dim: int
    n_actions: int
    iqn: IQNConfig
    seed: int | None = None
    trace_every: int = 0
    drain_max_steps: int = 1000
    drain_timeout: float = 30.0
    report_every_s: float = 0.1
    transitions_per_batch: int = 64


@dataclass
class ActorLinks:
    model: SharedModel
    versions: ActorVersions
    flags: RunFlags
    to_learner: Writer
    to_main: Writer


@dataclass
class _Episode:
    seq: int  # the actor's own count of episodes, for the trace sampling
    steps: int = 0
    drain_steps: int = 0
    reward: float = 0.0
    trace: list[StepRecord] | None = None


@dataclass
class _Pending:
    items: list[ReportItem] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)


def sub_seed(seed: int | None, *keys: int) -> int | None:
    """A seed for one part of the run (an actor, an env, a learner) derived from the run's."""
    if seed is None:
        return None
    return int(np.random.SeedSequence([seed, *keys]).generate_state(1)[0])


class Actor:
    def __init__(self, spec: ActorSpec, links: ActorLinks) -> None:
        self.spec = spec
        self.links = links
        self.envs = [make_env(spec.env_id, spec.env_kwargs) for _ in range(spec.num_envs)]
        self.policy = IQNPolicy(
            spec.obs_dim, spec.n_actions, spec.iqn, seed=sub_seed(spec.seed, 10, spec.actor_id)
        )
        self.rng = np.random.default_rng(sub_seed(spec.seed, 11, spec.actor_id))
        self.version = -1
        self.quota_left = spec.quota
        self.training_steps = 0
        self.obs = np.zeros((spec.num_envs, spec.obs_dim), dtype=np.float32)
        self.nstep = [NStepAccumulator(spec.iqn.n_step, spec.iqn.gamma) for _ in self.envs]
        self.live: dict[int, _Episode] = {}
        self._episodes_begun = 0
        self._pending = _Pending()
        self._last_report = time.monotonic()
        self.finished = False
        # Actor processes keep to the replay ratio (see _keep_pace); the serial mode paces its
        # actors itself, stepping the learner between them.
        self.paced = True
        self._sync_weights()

    # -- the training phase ---------------------------------------------------------------
    def start(self) -> None:
        """Reset every env and begin its first episode."""
        for j, env in enumerate(self.envs):
            env_seed = sub_seed(self.spec.seed, 12, self.spec.actor_id, j)
            obs, _info = env.reset(seed=env_seed)
            self.obs[j] = _flat(obs, self.spec.obs_dim)
            self._begin(j)
        self._report()

    def step(self) -> bool:
        """One training step of the actor's envs. False when training is over for it: its
        quota is used up or the main process asked it to stop (nothing was stepped then)."""
        k = min(self.spec.num_envs, self.quota_left)
        if k == 0 or self.links.flags.state != RUNNING:
            return False
        if self.paced and not self._keep_pace():
            return False
        self._sync_weights()
        epsilon = self.links.model.epsilon
        actions, _q = self.policy.act(self.obs, epsilon, self.rng)
        mark = len(self._pending.items)
        for j in range(k):
            self._step_env(j, int(actions[j]), epsilon, learning=True)
        self.quota_left -= k
        self.training_steps += k
        self.links.versions.add_steps(self.spec.index_in_agent, k)
        self._insert_steps(mark, k)
        if len(self._pending.transitions) >= self.spec.transitions_per_batch:
            self._send_transitions()
        if time.monotonic() - self._last_report >= self.spec.report_every_s:
            self._report()
        return True

    def _keep_pace(self) -> bool:
        """Wait while the agent's actors are more than ``env_steps_per_update`` env steps per
        learner step ahead of the learner, beyond the ``learning_starts`` steps that fill
        replay. Until the learner's first step they may also take the steps that every env's
        n-step accumulator still holds back (n - 1 each), so that replay does reach
        ``learning_starts``; a learner slow to start (a CUDA context, a loaded machine) no
        longer lets them run ahead on the untrained policy. What the actor holds for the
        learner goes out first, or the two could wait on each other. False when the run stops
        meanwhile."""
        cfg, links = self.spec.iqn, self.links
        model, flags = links.model, links.flags
        held_back = (cfg.n_step - 1) * self.spec.num_envs * len(links.versions)
        waited = False
        while flags.state == RUNNING:
            updates = model.updates
            allowed = cfg.learning_starts + cfg.env_steps_per_update * updates
            if updates == 0:
                allowed += held_back
            if links.versions.total_steps() < allowed:
                return True
            if not waited:
                self._send_transitions()
                waited = True
            if time.monotonic() - self._last_report >= self.spec.report_every_s:
                self._report()
            time.sleep(0.001)
        return False

    def end_training(self) -> None:
        """Send what is left for the learner and tell the main process training is over."""
        self._send_transitions()
        self._report()
        self.links.to_main.send(TrainingDone(self.spec.actor_id))

    # -- the drain ------------------------------------------------------------------------
    def drain(self) -> int:
        """Step the episodes in flight to their end without learning; returns steps taken."""
        spec = self.spec
        deadline = time.monotonic() + spec.drain_timeout
        taken = 0
        while self.live and taken < spec.drain_max_steps:
            if time.monotonic() > deadline or self.links.flags.state == HARD_STOP:
                break
            self._sync_weights()
            epsilon = self.links.model.epsilon
            actions, _q = self.policy.act(self.obs, epsilon, self.rng)
            for j in sorted(self.live):
                self._step_env(j, int(actions[j]), epsilon, learning=False)
            taken += 1
            if time.monotonic() - self._last_report >= spec.report_every_s:
                self._report()
        return taken

    def finish(self) -> None:
        """Report every episode still in flight as truncated, then the actor's last word."""
        for j in sorted(self.live):
            self._end(j, "truncated", self.links.model.epsilon, None)
        self._report()
        self.links.to_main.send(ActorFinished(self.spec.actor_id))
        self.finished = True

    def close(self) -> None:
        for env in self.envs:
            env.close()

    def run(self, parent_alive: Any = None) -> None:
        """The whole life of an actor process: train, drain (unless told to stop hard),
        finish. ``parent_alive`` is checked now and then; the actor ends when it answers False."""
        flags = self.links.flags
        last_check = time.monotonic()
        while not flags.go and flags.state == RUNNING:
            time.sleep(0.01)
            now = time.monotonic()
            if parent_alive is not None and now - last_check > 0.5:
                last_check = now
                if not parent_alive():
                    return
        if flags.state != RUNNING:  # stopped before the run began: no episode to report
            self.end_training()
            self.finish()
            return
        self.start()
        while self.step():
            now = time.monotonic()
            if parent_alive is not None and now - last_check > 0.5:
                last_check = now
                if not parent_alive():
                    return
        self.end_training()
        if self.links.flags.state != HARD_STOP:
            self.drain()
        self.finish()

    # -- one env ---------------------------------------------------------------------------
    def _step_env(self, j: int, action: int, epsilon: float, *, learning: bool) -> None:
        env = self.envs[j]
        next_obs, reward, terminated, truncated, info = env.step(action)
        flat_next = _flat(next_obs, self.spec.obs_dim)
        ep = self.live[j]
        ep.steps += 1
        ep.reward += float(reward)
        if not learning:
            ep.drain_steps += 1
        if ep.trace is not None:
            ep.trace.append(step_record(ep.steps - 1, float(reward), info, float(action)))
        if learning:
            ready = self.nstep[j].push(
                self.obs[j], action, float(reward), flat_next, bool(terminated),
                bool(truncated),
            )  # fmt: skip
            self._pending.transitions.extend(ready)
        if terminated or truncated:
            status: EpisodeStatus = "truncated" if truncated and not terminated else "completed"
            self._end(j, status, epsilon, info)
            obs, _info = env.reset()
            self.obs[j] = _flat(obs, self.spec.obs_dim)
            if learning:
                self._begin(j)
            else:
                self.nstep[j].reset()
        else:
            self.obs[j] = flat_next

    def _begin(self, j: int) -> None:
        seq = self._episodes_begun
        self._episodes_begun += 1
        every = self.spec.trace_every
        self.live[j] = _Episode(seq, trace=[] if every > 0 and seq % every == 0 else None)
        self._pending.items.append(EpisodeBegan(j, utcnow()))

    def _end(
        self, j: int, status: EpisodeStatus, epsilon: float, info: Mapping[str, Any] | None
    ) -> None:
        ep = self.live.pop(j)
        info = info or {}
        self._pending.items.append(
            EpisodeFinished(
                slot=j,
                status=status,
                steps=ep.steps,
                drain_steps=ep.drain_steps,
                reward=ep.reward,
                time=utcnow(),
                epsilon=epsilon,
                **outcome_of(info),
                trace=tuple(ep.trace or ()),
            )  # fmt: skip
        )

    def _insert_steps(self, at: int, n: int) -> None:
        """Count ``n`` steps before the episode events they caused (queued from ``at`` on)."""
        items = self._pending.items
        before = items[at - 1] if at > 0 else None
        if isinstance(before, Steps):
            items[at - 1] = Steps(before.n + n)
        else:
            items.insert(at, Steps(n))

    # -- messages -----------------------------------------------------------------------
    def _sync_weights(self) -> None:
        version = self.links.model.pull(self.policy.network, self.version)
        if version != self.version:
            self.version = version
            self.links.versions.set(self.spec.index_in_agent, version)

    def _send_transitions(self) -> None:
        batch = self._pending.transitions
        if not batch:
            return
        self._pending.transitions = []
        self.links.to_learner.send(stack_transitions(batch))

    def _report(self) -> None:
        live = tuple(
            LiveEpisode(j, ep.steps, ep.drain_steps, ep.reward)
            for j, ep in sorted(self.live.items())
        )
        items, self._pending.items = self._pending.items, []
        self.links.to_main.send(ActorReport(self.spec.actor_id, tuple(items), live, self.version))
        self._last_report = time.monotonic()


def stack_transitions(batch: list[Transition]) -> TransitionBatch:
    return TransitionBatch(
        obs=np.stack([np.asarray(t.obs, dtype=np.float32) for t in batch]),
        action=np.asarray([t.action for t in batch], dtype=np.int64),
        reward=np.asarray([t.reward for t in batch], dtype=np.float32),
        next_obs=np.stack([np.asarray(t.next_obs, dtype=np.float32) for t in batch]),
        done=np.asarray([t.done for t in batch], dtype=np.float32),
        discount=np.asarray([t.discount for t in batch], dtype=np.float32),
    )


def _flat(obs: Any, obs_dim: int) -> np.ndarray:
    return np.asarray(obs, dtype=np.float32).reshape(obs_dim)


def child_setup(threads: int) -> None:
    """Children leave shutdown to the main process: Ctrl-C in a terminal reaches the whole
    process group, and a child must not die of it mid-step."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    torch.set_num_threads(max(1, threads))


def parent_alive() -> bool:
    parent = multiprocessing.parent_process()
    return parent is None or parent.is_alive()


def run_actor_process(spec: ActorSpec, links: ActorLinks) -> None:
    """Entry point of an actor process (spawn start method)."""
    child_setup(1)
    actor: Actor | None = None
    try:
        actor = Actor(spec, links)
        actor.run(parent_alive)
    except (BrokenPipeError, ConnectionError, EOFError) as exc:
        # The main process or the learner is gone; the main process (if alive) reports it.
        _try_send(links.to_main, ChildFailed("actor", spec.actor_id, _describe(exc), ""))
        os._exit(3)
    except BaseException as exc:
        _try_send(
            links.to_main,
            ChildFailed("actor", spec.actor_id, _describe(exc), traceback.format_exc()),
        )
        os._exit(1)
    finally:
        if actor is not None:
            actor.close()
    links.to_main.close()
    links.to_learner.close()


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _try_send(writer: Writer, message: Any) -> None:
    with contextlib.suppress(OSError, ValueError):
        writer.send(message)
