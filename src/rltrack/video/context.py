"""The training context of each milestone, read from the run's records.

For a milestone at p% of training the run's checkpoint nearest to that point is played, and the
panel shows what the records say about training at that checkpoint's timestep:

* the target is ``start + p/100 * (end - start)`` timesteps, where ``start`` is the step a
  resumed run started from and ``end`` the run's last trained step (its ``timesteps``, or its
  newest checkpoint's while it still runs);
* the nearest checkpoint is the one with the smallest distance to the target among those whose
  file is still on disk (periodic checkpoints rotated out are gone from disk and records); on a
  tie the earlier one, which is the model that existed at that point. Checkpoints of one
  timestep (a periodic and a best one, or the final one) are the same weights: one of them is
  kept, ``final`` before ``periodic``, ``milestone`` and ``best``;
* training episodes completed, best and average episode reward come from the episodes table
  (:func:`rltrack.tracking.sql.training_progress.episodes_up_to`: episodes ended at or before
  the checkpoint's timestep), training hours from the checkpoint's record time minus the run's
  start time. A resumed run adds the runs it continues (their episodes up to where it resumed,
  and their training time): the numbers are those of the whole training behind the checkpoint.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rltrack.tracking.entities import Checkpoint, Run, pick_agent
from rltrack.video.options import DEFAULT_MILESTONES, VideoError

KIND_ORDER = {"final": 0, "periodic": 1, "milestone": 2, "best": 3}
# Hyperparameters worth a place in the top bar, in this order, with their short names.
KEY_HYPERPARAMS = (
    ("learning_rate", "lr"),
    ("gamma", "gamma"),
    ("n_steps", "n_steps"),
    ("batch_size", "batch"),
    ("n_epochs", "epochs"),
    ("clip_range", "clip"),
    ("ent_coef", "ent"),
    ("gae_lambda", "gae"),
    ("buffer_size", "buffer"),
    ("learning_starts", "starts"),
    ("train_freq", "train_freq"),
    ("target_update_interval", "target_every"),
    ("exploration_final_eps", "eps_end"),
    ("n_step", "n_step"),
    ("n_quantiles", "N"),
    ("k_quantiles", "K"),
    ("hidden_sizes", "hidden"),
    ("epsilon_end", "eps_end"),
    ("policy_kwargs", "policy"),
)


@dataclass(frozen=True, slots=True)
class ChapterContext:
    """What the TRAINING PROGRESS panel shows for one milestone, all from the run's records."""

    milestone_pct: float
    checkpoint_path: str
    checkpoint_kind: str
    checkpoint_timestep: int
    total_timesteps: int
    training_episodes_completed: int
    best_reward: float | None
    avg_reward: float | None
    training_hours: float


@dataclass(frozen=True, slots=True)
class RunContext:
    """A run as the video needs it; plain values only (it travels to worker processes)."""

    run_id: str
    name: str
    algorithm: str
    env_id: str
    backend: str
    seed: int | None
    agent_id: str | None
    env_kwargs: dict[str, Any]
    hyperparams: tuple[tuple[str, str], ...]
    total_timesteps: int
    chapters: tuple[ChapterContext, ...] = ()
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @property
    def short_id(self) -> str:
        return self.run_id[:8]


def agent_of(run: Run, agent: str | None) -> str | None:
    """The agent whose checkpoints and episodes are read (:func:`pick_agent`)."""
    try:
        return pick_agent(run, agent)
    except ValueError as exc:
        raise VideoError(str(exc)) from None


def usable_checkpoints(
    run: Run, checkpoints: Sequence[Checkpoint], agent: str | None
) -> list[Checkpoint]:
    """One checkpoint per timestep, whose file exists, oldest first; :class:`VideoError` when
    there is none (naming how to record some)."""
    label = f"run {run.name} ({run.id[:8]})"
    if agent is not None:
        checkpoints = [c for c in checkpoints if Path(c.path).parent.name == agent]
    if not checkpoints:
        raise VideoError(
            f"{label} has no checkpoints to play; train with --checkpoint-every-steps N (and "
            "--keep-checkpoints K to keep K of them) so that its progress can be filmed"
        )
    on_disk = [c for c in checkpoints if Path(c.path).is_file()]
    if not on_disk:
        raise VideoError(
            f"{label}: none of its {len(checkpoints)} checkpoint files exists any more (the "
            f"first is {checkpoints[0].path}); they were moved or deleted"
        )
    best: dict[int, Checkpoint] = {}
    for c in on_disk:
        held = best.get(c.timestep)
        if held is None or KIND_ORDER.get(c.kind, 9) < KIND_ORDER.get(held.kind, 9):
            best[c.timestep] = c
    return [best[t] for t in sorted(best)]


def training_span(run: Run, checkpoints: Sequence[Checkpoint]) -> tuple[int, int]:
    """(first, last) timestep of the run's training: a resumed run starts where its parent
    stopped; the end is what it trained, or its newest checkpoint while it still runs."""
    start = int(run.metadata.get("start_timestep", 0) or 0)
    end = max([run.timesteps, *(c.timestep for c in checkpoints)])
    return start, max(end, start)


def checkpoint_pcts(run: Run, checkpoints: Sequence[Checkpoint]) -> tuple[float, ...]:
    """The default milestones of one run: where each of its checkpoints was saved, as a
    percentage of training (at most :data:`DEFAULT_MILESTONES`, spread evenly over them, the
    newest always in), so that every milestone plays a checkpoint of its own."""
    start, end = training_span(run, checkpoints)
    n, k = len(checkpoints), min(len(checkpoints), DEFAULT_MILESTONES)
    picked = (
        [checkpoints[round(i * (n - 1) / (k - 1))] for i in range(k)]
        if k > 1
        else [checkpoints[-1]]
    )
    span = max(1, end - start)
    return tuple(round(100.0 * max(0, c.timestep - start) / span, 6) for c in picked)


def nearest(checkpoints: Sequence[Checkpoint], target: float) -> Checkpoint:
    """The checkpoint nearest to ``target`` timesteps; the earlier one on a tie."""
    return min(checkpoints, key=lambda c: (abs(c.timestep - target), c.timestep))


def hyperparams_of(run: Run) -> tuple[tuple[str, str], ...]:
    hp = run.config.get("hyperparams") or {}
    out = []
    for key, short in KEY_HYPERPARAMS:
        text = _short_value(hp[key]) if hp.get(key) is not None else ""
        if text:
            out.append((short, text))
    num_envs = run.config.get("num_envs")
    if isinstance(num_envs, int) and num_envs > 1:
        out.append(("envs", str(num_envs)))
    return tuple(out)


def _short_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, list | tuple):
        return "x".join(_short_value(v) for v in value)
    if isinstance(value, dict):
        return ",".join(f"{k}={_short_value(v)}" for k, v in value.items())
    return str(value)


def playback_env_kwargs(run: Run) -> dict[str, Any]:
    """The keyword arguments of the run's training env (its training date range included)."""
    kwargs = dict(run.config.get("env_kwargs") or {})
    train_range = run.config.get("train_range")
    if train_range:
        kwargs["date_range"] = train_range
    return kwargs


EpisodesUpTo = Callable[[str, Sequence[int], str | None], Sequence[Any]]


def ancestry(run: Run, get_run: Callable[[str], Run | None]) -> list[tuple[Run, int]]:
    """The runs a resumed run continues, nearest first, each with the timestep its child
    resumed from (its training up to there is the child's history too)."""
    out: list[tuple[Run, int]] = []
    child, seen = run, {run.id}
    while child.parent_run_id and child.parent_run_id not in seen and len(out) < 100:
        parent = get_run(child.parent_run_id)
        if parent is None:
            break
        out.append((parent, int(child.metadata.get("start_timestep", 0) or 0)))
        seen.add(parent.id)
        child = parent
    return out


@dataclass(slots=True)
class _Tally:
    """Episodes ended so far (count, best, sum of rewards) and training hours."""

    ended: int = 0
    best: float | None = None
    total: float = 0.0
    rewarded: int = 0
    hours: float = 0.0

    def add(self, ended: int, best: float | None, mean: float | None) -> _Tally:
        out = _Tally(self.ended + ended, self.best, self.total, self.rewarded, self.hours)
        if best is not None and math.isfinite(best):
            out.best = best if out.best is None else max(out.best, best)
        if mean is not None and math.isfinite(mean):
            out.total += mean * ended
            out.rewarded += ended
        return out

    @property
    def mean(self) -> float | None:
        return self.total / self.rewarded if self.rewarded else None


def run_context(
    run: Run,
    checkpoints: Sequence[Checkpoint],
    pcts: Sequence[float],
    agent: str | None,
    episodes_up_to: EpisodesUpTo,
    ancestors: Sequence[tuple[Run, int]] = (),
) -> RunContext:
    """The run and one :class:`ChapterContext` per milestone. ``checkpoints`` come from
    :func:`usable_checkpoints`; ``episodes_up_to(run_id, timesteps, agent_id)`` reads the
    episodes table (see :mod:`rltrack.tracking.sql.training_progress`). A resumed run's
    ``ancestors`` (:func:`ancestry`) add their episodes up to where it resumed, and their
    training time, so the numbers are those of the whole training so far."""
    start, end = training_span(run, checkpoints)
    chosen = [nearest(checkpoints, start + p / 100.0 * (end - start)) for p in pcts]
    base = _Tally()
    for parent, bound in ancestors:
        [s] = episodes_up_to(parent.id, [bound], None)
        base = base.add(int(s.ended), s.best_reward, s.mean_reward)
        finished = parent.end_time or parent.heartbeat_at or parent.start_time
        base.hours += max(0.0, (finished - parent.start_time).total_seconds() / 3600.0)
    stats = {
        s.timestep: s for s in episodes_up_to(run.id, sorted({c.timestep for c in chosen}), agent)
    }
    chapters = []
    for pct, c in zip(pcts, chosen, strict=True):
        s = stats[c.timestep]
        tally = base.add(int(s.ended), s.best_reward, s.mean_reward)
        hours = base.hours + max(0.0, (c.created_at - run.start_time).total_seconds() / 3600.0)
        chapters.append(
            ChapterContext(
                milestone_pct=float(pct),
                checkpoint_path=c.path,
                checkpoint_kind=c.kind,
                checkpoint_timestep=c.timestep,
                total_timesteps=end,
                training_episodes_completed=tally.ended,
                best_reward=tally.best,
                avg_reward=tally.mean,
                training_hours=hours,
            )
        )
    warnings = []
    for a, b in zip(chapters, chapters[1:], strict=False):
        if a.checkpoint_path == b.checkpoint_path:
            warnings.append(
                f"run {run.name} ({run.id[:8]}): milestones {round(a.milestone_pct, 1):g}% and "
                f"{round(b.milestone_pct, 1):g}% play the same checkpoint "
                f"(step {a.checkpoint_timestep}); "
                f"it keeps {len(checkpoints)} checkpoints: train with --keep-checkpoints to keep "
                "more, or ask for fewer milestones"
            )
    return RunContext(
        run_id=run.id,
        name=run.name,
        algorithm=run.algorithm,
        env_id=run.env_id,
        backend=run.backend,
        seed=run.seed,
        agent_id=agent if agent is not None else run.agent_id,
        env_kwargs=playback_env_kwargs(run),
        hyperparams=hyperparams_of(run),
        total_timesteps=end,
        chapters=tuple(chapters),
        warnings=tuple(warnings),
    )
