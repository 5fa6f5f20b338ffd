"""The env runner's side of tracking: an RLlib callback that keeps each env's episode whole.

RLlib cuts an episode into chunks at every ``sample()`` boundary: a new ``SingleAgentEpisode``
with the same ``id_`` continues it, and only the last chunk reaches ``on_episode_end`` (with the
earlier ones in ``prev_episode_chunks``). The totals of an episode still in flight, which the
driver needs to close it when training stops or its runner dies, are in no RLlib object. So
the recorder adds up every step itself in ``on_episode_step``, for the episode live in each env
slot whatever chunk the step landed in, and closes it in ``on_episode_end``.

What it records goes into a buffer of :mod:`.reports` items that the driver takes with
:func:`collect_report`. Nothing here writes to a database or allocates indices: the driver's
:class:`~rltrack.training.episodes.EpisodeBook` does that, once for the run.

While draining (:mod:`.drain`), steps of the episodes in flight count as drain steps, an episode
that reaches the step bound is closed as truncated on the spot, and episodes that begin are not
tracked (they are not part of the run).
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from typing import Any

from ray.rllib.callbacks.callbacks import RLlibCallback

from rltrack.training.backends.rllib.reports import (
    Began,
    Finished,
    InFlight,
    Item,
    RunnerReport,
    empty_report,
)
from rltrack.training.episodes import episode_metrics, outcome_of, step_record, trades_of
from rltrack.training.events import EpisodeStatus, StepRecord, utcnow

# The key of the runners' env_config under which the driver passes tracking settings.
SETTINGS_KEY = "rltrack_tracking"
# The attribute of an env runner that holds its recorder.
RECORDER_ATTR = "rltrack_recorder"


@dataclass(slots=True)
class _Live:
    steps: int = 0
    drain_steps: int = 0
    reward: float = 0.0
    last_info: Any = field(default_factory=dict)
    trace: list[StepRecord] | None = None


class EpisodeRecorder(RLlibCallback):
    """Records every episode of one env runner (one instance per runner, made by RLlib)."""

    def __init__(self) -> None:
        super().__init__()
        self.incarnation = uuid.uuid4().hex
        self.worker_index = 0
        self.num_envs = 0
        self.node = ""
        self.trace_every = 0
        self.drain_max_steps: int | None = None  # set while draining
        self.items: list[Item] = []  # not yet acknowledged by the driver
        self.first_seq = 0  # the sequence number of items[0]
        self.live: dict[int, _Live] = {}
        self.runner_steps = 0
        self._begun = 0

    @property
    def draining(self) -> bool:
        return self.drain_max_steps is not None

    # -- RLlib's callbacks ----------------------------------------------------------------
    def on_environment_created(
        self, *, env_runner: Any, env_context: Any = None, **kwargs: Any
    ) -> None:
        settings = dict((env_context or {}).get(SETTINGS_KEY) or {})
        self.trace_every = int(settings.get("trace_every", 0))
        self.worker_index = int(env_runner.worker_index or 0)
        self.num_envs = int(env_runner.num_envs)
        self.node = _node_id()
        setattr(env_runner, RECORDER_ATTR, self)

    def on_episode_start(self, *, env_index: int, **kwargs: Any) -> None:
        if env_index in self.live:
            # RLlib reset the env under an episode in flight (a failed env step): it is lost.
            self._finish(env_index, "error", None)
        if self.draining:
            return
        traced = self.trace_every > 0 and self._begun % self.trace_every == 0
        self._begun += 1
        self.live[env_index] = _Live(trace=[] if traced else None)
        self.items.append(Began(env_index, self.runner_steps, utcnow()))

    def on_episode_step(self, *, episode: Any, env_index: int, **kwargs: Any) -> None:
        ep = self.live.get(env_index)
        if ep is None:
            return
        reward = float(episode.get_rewards(-1))
        info = episode.get_infos(-1)
        ep.reward += reward
        ep.steps += 1
        ep.last_info = info
        if ep.trace is not None:
            ep.trace.append(step_record(ep.steps - 1, reward, info, _action(episode)))
        if self.drain_max_steps is None:
            self.runner_steps += 1
            return
        ep.drain_steps += 1
        if ep.drain_steps >= self.drain_max_steps and not episode.is_done:
            self._finish(env_index, "truncated", None)  # the drain's step bound

    def on_episode_end(
        self, *, episode: Any, env_index: int, rl_module: Any = None, **kwargs: Any
    ) -> None:
        if env_index not in self.live:
            return
        status: EpisodeStatus = "truncated" if episode.is_truncated else "completed"
        self._finish(env_index, status, _epsilon(rl_module))

    # -- the driver's side ----------------------------------------------------------------
    def _finish(self, env_index: int, status: EpisodeStatus, epsilon: float | None) -> None:
        ep = self.live.pop(env_index)
        info = ep.last_info
        self.items.append(
            Finished(
                env_index=env_index,
                status=status,
                runner_steps=self.runner_steps,
                steps=ep.steps,
                drain_steps=ep.drain_steps,
                reward=ep.reward,
                time=utcnow(),
                epsilon=epsilon,
                **outcome_of(info),
                trace=tuple(ep.trace) if ep.trace is not None else None,
            )  # fmt: skip
        )

    def truncate_in_flight(self) -> None:
        """Close every episode in flight as truncated with what it has so far."""
        for env_index in sorted(self.live):
            self._finish(env_index, "truncated", None)

    def fail_in_flight(self) -> None:
        """Close every episode in flight as error (its env failed) with what it has so far."""
        for env_index in sorted(self.live):
            self._finish(env_index, "error", None)

    def report(self, acked: int = 0) -> RunnerReport:
        """Everything recorded that the driver has not acknowledged (``acked``: the sequence
        number after the last item it applied), and where the episodes in flight are."""
        done = min(max(acked - self.first_seq, 0), len(self.items))
        del self.items[:done]
        self.first_seq += done
        items = tuple(self.items)
        in_flight = tuple(
            InFlight(
                i,
                ep.steps,
                ep.drain_steps,
                ep.reward,
                episode_metrics(ep.last_info),
                trades_of(ep.last_info),
            )  # fmt: skip
            for i, ep in sorted(self.live.items())
        )
        return RunnerReport(
            self.worker_index, self.incarnation, os.getpid(), self.node,
            self.num_envs, self.first_seq, items, in_flight, self.runner_steps,
        )  # fmt: skip


def recorder_of(env_runner: Any) -> EpisodeRecorder | None:
    """The runner's recorder; None for a runner that steps no envs (RLlib's local runner
    beside remote ones)."""
    recorder = getattr(env_runner, RECORDER_ATTR, None)
    return recorder if isinstance(recorder, EpisodeRecorder) else None


def collect_report(env_runner: Any, *, acked: dict[str, int] | None = None) -> RunnerReport:
    """Run on each env runner (``foreach_env_runner``): what it recorded that the driver has not
    acknowledged; ``acked`` maps runner incarnations to the driver's next sequence number."""
    recorder = recorder_of(env_runner)
    if recorder is None:
        return empty_report(int(env_runner.worker_index or 0))
    return recorder.report((acked or {}).get(recorder.incarnation, 0))


def _node_id() -> str:
    """The Ray node this runner lives on (its id, as ``ray.nodes()`` names it)."""
    import ray

    try:
        return str(ray.get_runtime_context().get_node_id())
    except Exception:
        return ""


def _epsilon(rl_module: Any) -> float | None:
    """The exploration epsilon of an epsilon-greedy module (RLlib's DQN) at this step."""
    schedule = getattr(rl_module, "epsilon_schedule", None)
    if schedule is None:
        return None
    value = schedule.get_current_value()
    return float(value.item() if hasattr(value, "item") else value)


def _action(episode: Any) -> float | None:
    action = episode.get_actions(-1)
    try:
        return float(action.item() if hasattr(action, "item") else action)
    except (TypeError, ValueError):
        return None  # a vector action: the trace keeps scalar actions only
