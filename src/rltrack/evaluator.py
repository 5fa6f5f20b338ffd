"""Evaluate a recorded run's checkpoints after training: ``rltrack evaluate``.

Training records a held-out evaluation only when the run names an evaluation range (the trading
env); this plays any of a run's checkpoints again, on any env, for as many episodes as asked, and
records each result as an ``evaluations`` row of the run (the API and the dashboard list them).

* Which checkpoints (:func:`pick_checkpoints`): ``final``, ``best``, ``latest`` (the newest
  timestep), a timestep (the checkpoint saved there), ``all`` (one per timestep, oldest first), or
  the path of a checkpoint file. Without a choice: the final checkpoint, else the latest.
* How: deterministically (the argmax or the distribution's mode), as the held-out evaluation
  plays (:mod:`rltrack.training.evaluate`): the first episode's reset is seeded with ``seed``
  (default: the run's seed, else 0), so two evaluations of one checkpoint give the same numbers.
* Where: the run's env with its ``env_kwargs``. For the trading env, on the run's evaluation
  range when it has one, else on ``date_range`` when given, else on its training data (then the
  numbers are in-sample, and :attr:`EvaluationPlan.notes` says so); buy-and-hold and random play
  the same range beside it unless ``baselines`` is off.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rltrack.config import ConfigError
from rltrack.tracking.entities import Checkpoint, Run, pick_agent
from rltrack.training.backends import registry
from rltrack.training.evaluate import (
    BASELINES,
    EvalSummary,
    PolicyLoader,
    StopFn,
    evaluate_baselines,
    evaluate_policy,
    is_trading_env,
    probe_env,
)
from rltrack.training.events import EvaluationRecorded

CHOICES = ("final", "best", "latest", "all")
KIND_ORDER = {"final": 0, "periodic": 1, "milestone": 2, "best": 3}


class EvaluateError(Exception):
    """An evaluation that cannot run as asked; the message names the problem and the fix."""


@dataclass(frozen=True, slots=True)
class Target:
    """A checkpoint file to play: ``kind`` and ``timestep`` when the run recorded it."""

    path: str
    kind: str | None
    timestep: int | None


@dataclass(frozen=True, slots=True)
class EvaluationPlan:
    run: Run
    targets: tuple[Target, ...]
    env_kwargs: dict[str, Any]
    episodes: int
    seed: int
    baselines: bool
    date_range: str | None  # the trading env's range played, None for other envs
    notes: tuple[str, ...] = ()

    @property
    def plays(self) -> int:
        """Policies :func:`run_plan` plays: each target, then the baselines."""
        return len(self.targets) + (len(BASELINES) if self.baselines else 0)


@dataclass(frozen=True, slots=True)
class Result:
    summary: EvalSummary
    target: Target | None  # None for a baseline
    seed: int
    date_range: str | None

    def event(self, run_id: str) -> EvaluationRecorded:
        """The ``evaluations`` row; its metrics also say how it was played (``seed``,
        ``date_range``) and when the checkpoint was saved (``checkpoint_timestep``)."""
        ev = self.summary.event(run_id)
        extra: dict[str, Any] = {"seed": self.seed}
        if self.date_range is not None:
            extra["date_range"] = self.date_range
        if self.target is not None and self.target.timestep is not None:
            extra["checkpoint_timestep"] = self.target.timestep
        return dataclasses.replace(ev, metrics={**ev.metrics, **extra})


def _label(run: Run) -> str:
    return f"run {run.name} ({run.id[:8]})"


def agent_checkpoints(
    run: Run, checkpoints: Sequence[Checkpoint], agent: str | None
) -> list[Checkpoint]:
    """The checkpoints of one agent: all of them for a run of one agent; for an actor-learner run
    of several, those of ``agent`` (default: the first), which live in a folder named after it."""
    try:
        chosen = pick_agent(run, agent)
    except ValueError as exc:
        raise EvaluateError(str(exc)) from None
    if chosen is None:
        return list(checkpoints)
    return [c for c in checkpoints if Path(c.path).parent.name == chosen]


def pick_checkpoints(
    run: Run, checkpoints: Sequence[Checkpoint], choices: Sequence[str]
) -> list[Target]:
    """The checkpoints that ``choices`` name (see the module's docstring), each once, in the
    order asked; :class:`EvaluateError` naming what exists when one names nothing."""
    recorded = sorted(checkpoints, key=lambda c: (c.timestep, c.created_at))
    out: dict[str, Target] = {}

    def add(c: Checkpoint) -> None:
        out.setdefault(c.path, Target(c.path, c.kind, c.timestep))

    def newest(kind: str | None) -> Checkpoint | None:
        matching = [c for c in recorded if kind is None or c.kind == kind]
        return matching[-1] if matching else None

    for choice in choices or ("default",):
        if choice in ("default", "final", "best", "latest", "all") and not recorded:
            if choice == "default":
                raise EvaluateError(
                    f"{_label(run)} recorded no checkpoints; train with "
                    "--checkpoint-every-steps N, or pass --checkpoint PATH to play a file"
                )
            raise EvaluateError(f"--checkpoint {choice}: {_label(run)} recorded no checkpoints")
        if choice == "default":
            add(newest("final") or newest(None))  # type: ignore[arg-type]
        elif choice in ("final", "best"):
            found = newest(choice)
            if found is None:
                kinds = ", ".join(sorted({c.kind for c in recorded}))
                raise EvaluateError(
                    f"--checkpoint {choice}: {_label(run)} saved no {choice} checkpoint (it has "
                    f"{kinds}); pick one of those, latest, all or a timestep"
                )
            add(found)
        elif choice == "latest":
            add(recorded[-1])
        elif choice == "all":
            # One per timestep: the same weights saved as two kinds; the final one by its name.
            by_step: dict[int, Checkpoint] = {}
            for c in recorded:
                held = by_step.get(c.timestep)
                if held is None or KIND_ORDER.get(c.kind, 9) < KIND_ORDER.get(held.kind, 9):
                    by_step[c.timestep] = c
            for c in by_step.values():
                add(c)
        elif choice.isdigit():
            step = int(choice)
            at = [c for c in recorded if c.timestep == step]
            if not at:
                steps = sorted({c.timestep for c in recorded})
                near = sorted(steps, key=lambda s: (abs(s - step), s))[:3]
                raise EvaluateError(
                    f"--checkpoint {choice}: {_label(run)} saved no checkpoint at timestep "
                    f"{step:,}; the nearest are at {', '.join(f'{s:,}' for s in sorted(near))}"
                    if recorded
                    else f"--checkpoint {choice}: {_label(run)} recorded no checkpoints"
                )
            add(at[-1])
        else:
            path = Path(choice).expanduser()
            if not path.is_file():
                raise EvaluateError(
                    f"--checkpoint {choice!r} is not {', '.join(CHOICES)}, a timestep, or a "
                    "checkpoint file that exists"
                )
            resolved = str(path.resolve())
            known = next((c for c in recorded if str(Path(c.path).resolve()) == resolved), None)
            if known is not None:
                add(known)
            else:
                out.setdefault(resolved, Target(resolved, None, None))
    missing = [t for t in out.values() if not Path(t.path).is_file()]
    if missing:
        raise EvaluateError(
            f"{_label(run)}: the checkpoint file {missing[0].path} does not exist any more (moved "
            "or deleted, e.g. rotated out by --keep-checkpoints, or saved on another machine); "
            "pick another with --checkpoint, or run this where the file is"
        )
    return list(out.values())


def plan(
    run: Run,
    checkpoints: Sequence[Checkpoint],
    *,
    choices: Sequence[str] = (),
    episodes: int | None = None,
    seed: int | None = None,
    date_range: str | None = None,
    baselines: bool = True,
    agent: str | None = None,
) -> EvaluationPlan:
    """What :func:`run_plan` will play, with every choice checked first."""
    config = run.config
    if episodes is not None and episodes < 1:
        raise EvaluateError(f"--episodes {episodes}: play at least 1 episode")
    if run.backend not in registry.names():
        raise EvaluateError(
            f"{_label(run)} was trained by the {run.backend!r} backend, which this rltrack "
            f"does not have (it has {', '.join(registry.names())}); upgrade rltrack"
        )
    targets = pick_checkpoints(run, agent_checkpoints(run, checkpoints, agent), choices)
    env_id = run.env_id
    env_kwargs = dict(config.get("env_kwargs") or {})
    notes: list[str] = []
    played_range: str | None = None
    if is_trading_env(env_id):
        train_range = config.get("train_range") or env_kwargs.get("date_range")
        played_range = date_range or config.get("eval_range") or train_range
        if played_range is not None:
            env_kwargs["date_range"] = played_range
        if played_range is None or played_range == train_range:
            notes.append(
                "the evaluation plays the run's training data, so its numbers are in-sample; "
                "pass --range START:END for dates it did not train on"
            )
    elif date_range is not None:
        raise EvaluateError(
            f"--range {date_range!r}: env {env_id!r} takes no date range; ranges are for the "
            "trading env rltrack/Trading-v0"
        )
    try:
        probe_env(env_id, env_kwargs, f"{_label(run)}: its env {env_id!r} cannot be made: ")
    except ConfigError as exc:
        raise EvaluateError(str(exc)) from None
    return EvaluationPlan(
        run=run,
        targets=tuple(targets),
        env_kwargs=env_kwargs,
        episodes=episodes or max(int(config.get("eval_episodes") or 1), 10),
        seed=seed if seed is not None else int(config.get("seed") or 0),
        baselines=baselines and is_trading_env(env_id),
        date_range=played_range,
        notes=tuple(notes),
    )


def loader(run: Run, seed: int) -> PolicyLoader:
    """How to load the run's checkpoints as deterministic policies (on the CPU): its backend's
    own loader, from the registry."""
    return registry.get(run.backend).load().policy_loader(run.algorithm, seed=seed, device="cpu")


def run_plan(
    p: EvaluationPlan,
    *,
    on_result: Callable[[Result], None] | None = None,
    should_stop: StopFn | None = None,
) -> list[Result]:
    """Play every target (then the baselines) and return the results in that order."""
    load = loader(p.run, p.seed)
    results = []
    for target in p.targets:
        try:
            policy = load(target.path)
        except Exception as exc:  # a file of another algorithm, or not a checkpoint at all
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise EvaluateError(
                f"{target.path} is not a {p.run.algorithm} checkpoint this run can play: {first}"
            ) from None
        summary = evaluate_policy(
            "agent", policy, p.run.env_id, p.env_kwargs, p.episodes, seed=p.seed,
            checkpoint_path=target.path, checkpoint_kind=target.kind, should_stop=should_stop,
        )  # fmt: skip
        results.append(Result(summary, target, p.seed, p.date_range))
        if on_result is not None:
            on_result(results[-1])
    if p.baselines:
        for summary in evaluate_baselines(
            p.run.env_id, p.env_kwargs, p.episodes, seed=p.seed, should_stop=should_stop
        ):
            results.append(Result(summary, None, p.seed, p.date_range))
            if on_result is not None:
                on_result(results[-1])
    return results
