"""A group of runs as one experiment: its aggregate learning curve, its final scores and their
comparison with other groups, read through the Store interface (rollup blocks, the last
episodes' rewards, evaluations) and computed by :mod:`rltrack.analysis.stats`.

* **Learning curve**: each run's rollup blocks (mean reward of 100 episodes) placed on the x
  axis (``episode``: the block's last index; ``timestep``: its latest end timestep; ``time``:
  its latest end, in seconds since the run started), made non-decreasing, and interpolated
  linearly onto common x points: ``n`` points evenly spaced over the range every run covers
  (from the latest first x to the earliest last x: nothing is extrapolated), ``n`` the
  smallest of ``points`` and the most blocks a run has in that range (2 at least; 1 when the
  range is one x). IQM and mean across runs at each x, with their intervals.
* **Final scores**: each run's mean reward over its last 100 ended episodes; and, where runs
  were evaluated, the mean reward of each run's latest evaluation of its own policy.
* Runs without an ended episode (with a reward) are skipped, and listed with the reason.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from rltrack.analysis import stats
from rltrack.analysis.stats import Array, Estimate
from rltrack.tracking.entities import Group, Run
from rltrack.tracking.store import BlockPoint, RunFilter, Store

XAxis = Literal["episode", "timestep", "time"]
X_AXES: tuple[XAxis, ...] = ("episode", "timestep", "time")
LAST_N = 100
POINTS = 100
PROFILE_POINTS = 51
FEW_RUNS = "fewer than 2 runs: point estimates only, without confidence intervals"


@dataclass(frozen=True, slots=True)
class CurvePoint:
    x: float
    iqm: Estimate
    mean: Estimate
    runs: int  # the runs at this x (every run the curve is computed from)


@dataclass(frozen=True, slots=True)
class Curve:
    x_axis: XAxis
    points: list[CurvePoint]
    run_ids: list[str]  # the runs it is computed from
    # Each run's own curve over its own range of x, (x, y) pairs (when asked for).
    per_run: dict[str, list[tuple[float, float]]] | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Scores:
    """One score per run (``source``: ``last_100`` or ``evaluation``) and their aggregates."""

    source: str
    scores: dict[str, float]
    iqm: Estimate
    median: Estimate
    mean: Estimate
    optimality_gap: Estimate | None  # None without a target score
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Target:
    """The score ``gamma`` of the optimality gap: given by the caller (``given``), the
    environment's ``reward_threshold`` (``env``), or none."""

    value: float | None
    source: str | None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class GroupRun:
    run: Run
    last_100_mean: float | None
    last_100_episodes: int
    latest_evaluation: float | None


@dataclass(frozen=True, slots=True)
class SkippedRun:
    run_id: str
    name: str
    reason: str


@dataclass(frozen=True, slots=True)
class GroupAnalysis:
    group: Group
    runs: list[GroupRun]
    skipped: list[SkippedRun]
    curve: Curve | None
    final: Scores | None  # None when no run has an ended episode
    evaluation: Scores | None  # None when no run was evaluated
    target: Target
    seed: int
    reps: int
    confidence: float = stats.CONFIDENCE
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Profile:
    """The fraction of the group's runs whose final score is above each ``tau``."""

    group_id: str
    points: list[tuple[float, Estimate]]  # (tau, fraction)


@dataclass(frozen=True, slots=True)
class Improvement:
    x_group: str
    y_group: str
    probability: Estimate  # P(X > Y)


@dataclass(frozen=True, slots=True)
class GroupComparison:
    groups: list[GroupAnalysis]
    profiles: list[Profile]
    improvements: list[Improvement]
    notes: list[str] = field(default_factory=list)


@functools.lru_cache(maxsize=256)
def env_threshold(env_id: str) -> float | None:
    """The environment's ``reward_threshold`` in Gymnasium's registry (None when it has none
    or is not registered here)."""
    import gymnasium

    try:
        threshold = gymnasium.spec(env_id).reward_threshold
    except gymnasium.error.Error:
        return None
    return None if threshold is None else float(threshold)


def pick_target(runs: Sequence[Run], given: float | None) -> Target:
    if given is not None:
        return Target(given, "given")
    envs = sorted({r.env_id for r in runs})
    if len(envs) != 1:
        why = "runs of several environments" if envs else "no runs"
        return Target(None, None, f"no optimality gap: {why}; give a target score")
    threshold = env_threshold(envs[0])
    if threshold is None:
        return Target(
            None, None, f"no optimality gap: {envs[0]} has no reward threshold; give a target"
        )
    return Target(threshold, "env")


# -- learning curves -----------------------------------------------------------------------
def run_xy(run: Run, blocks: Sequence[BlockPoint], x: XAxis) -> tuple[Array, Array]:
    """A run's blocks on the ``x`` axis (blocks without that x dropped), x non-decreasing."""
    if x == "episode":
        pairs = [(float(b.last_index), b.mean_reward) for b in blocks]
    elif x == "timestep":
        pairs = [
            (float(b.timestep_max), b.mean_reward) for b in blocks if b.timestep_max is not None
        ]
    else:
        start = run.start_time.timestamp()
        pairs = [
            (b.end_unix_max - start, b.mean_reward) for b in blocks if b.end_unix_max is not None
        ]
    xs = np.array([p[0] for p in pairs], dtype=np.float64)
    ys = np.array([p[1] for p in pairs], dtype=np.float64)
    return np.maximum.accumulate(xs) if xs.size else xs, ys


def common_x(curves: Sequence[tuple[Array, Array]], points: int) -> Array:
    """The x points every curve covers (see the module's docstring); empty when they share no
    range."""
    lo = max(float(xs[0]) for xs, _ in curves)
    hi = min(float(xs[-1]) for xs, _ in curves)
    if lo > hi:
        return np.empty(0)
    if lo == hi:
        return np.array([lo])
    inside = max(int(np.count_nonzero((xs >= lo) & (xs <= hi))) for xs, _ in curves)
    return np.linspace(lo, hi, max(2, min(points, inside)))


def learning_curve(
    runs: Sequence[Run], blocks: dict[str, list[BlockPoint]], *, x: XAxis = "episode",
    points: int = POINTS, seed: int = stats.SEED, reps: int = stats.REPS, per_run: bool = False,
) -> Curve:  # fmt: skip
    """IQM and mean across ``runs`` of their block means at common x points."""
    used: list[str] = []
    curves: list[tuple[Array, Array]] = []
    for run in runs:
        xs, ys = run_xy(run, blocks.get(run.id, []), x)
        if xs.size:
            used.append(run.id)
            curves.append((xs, ys))
    if not curves:
        return Curve(x, [], [], {} if per_run else None, f"no run has blocks with a {x}")
    grid = common_x(curves, points)
    if grid.size == 0:
        note = f"the runs share no range of {x}: nothing is drawn rather than extrapolated"
        return Curve(x, [], used, {} if per_run else None, note)
    values = np.stack([np.interp(grid, xs, ys) for xs, ys in curves], axis=-1)
    iqms, means = stats.curve_estimates(values, seed=seed, reps=reps)
    n = len(used)
    pts = [CurvePoint(float(v), i, m, n) for v, i, m in zip(grid, iqms, means, strict=True)]
    each = None
    if per_run:
        each = {r: own_curve(xs, ys, points) for r, (xs, ys) in zip(used, curves, strict=True)}
    return Curve(x, pts, used, each, FEW_RUNS if n < 2 else None)


def own_curve(xs: Array, ys: Array, points: int) -> list[tuple[float, float]]:
    """A run's curve over its own range: at most ``points`` evenly spaced x, interpolated."""
    grid = np.linspace(xs[0], xs[-1], max(1, min(points, xs.size)))
    return list(zip(grid.tolist(), np.interp(grid, xs, ys).tolist(), strict=True))


# -- final scores --------------------------------------------------------------------------
def latest_evaluation(store: Store, run_id: str) -> float | None:
    """The mean reward of the run's newest evaluation of its own policy."""
    own = [
        e for e in store.list_evaluations(run_id)
        if e.opponent in (None, "agent") and np.isfinite(e.mean_reward)
    ]  # fmt: skip
    return float(own[-1].mean_reward) if own else None  # the store orders them by time


def score_summary(
    source: str, scores: dict[str, float], target: Target, *, seed: int, reps: int
) -> Scores:
    values = np.array(list(scores.values()), dtype=np.float64)
    est = stats.score_estimates(values, gamma=target.value, seed=seed, reps=reps)
    return Scores(
        source=source, scores=scores, iqm=est["iqm"], median=est["median"], mean=est["mean"],
        optimality_gap=est.get("optimality_gap"), note=FEW_RUNS if len(values) < 2 else None,
    )  # fmt: skip


def group_runs(store: Store, group: Group) -> list[Run]:
    return store.list_runs(RunFilter(group_id=group.id, sort="start_time"))


def analyze_group(
    store: Store, ref: str | Group, *, x: XAxis = "episode", points: int = POINTS,
    seed: int = stats.SEED, reps: int = stats.REPS, per_run: bool = False,
    target: float | None = None, curve: bool = True,
) -> GroupAnalysis:  # fmt: skip
    """The group ``ref`` names (id, id prefix or name; :class:`NotFoundError`) with its runs,
    its learning curve (unless ``curve`` is False) and its final scores."""
    if x not in X_AXES:
        raise ValueError(f"x={x!r}: the x axis is one of {', '.join(X_AXES)}")
    if points < 1:
        raise ValueError(f"points={points}: give 1 or more")
    group = ref if isinstance(ref, Group) else store.get_group(ref)
    runs = group_runs(store, group)
    ids = [r.id for r in runs]
    blocks = store.block_points(ids)
    last = store.last_rewards(ids, n=LAST_N)
    evaluations = {r.id: latest_evaluation(store, r.id) for r in runs}
    members = [
        GroupRun(r, float(np.mean(last[r.id])) if last.get(r.id) else None,
                 len(last.get(r.id, [])), evaluations[r.id])
        for r in runs
    ]  # fmt: skip
    skipped = [
        SkippedRun(r.id, r.name, "no ended episode with a reward")
        for r in runs
        if not blocks.get(r.id) or not last.get(r.id)
    ]
    gone = {s.run_id for s in skipped}
    scored = [r for r in runs if r.id not in gone]
    tgt = pick_target(scored or runs, target)
    finals = {m.run.id: m.last_100_mean for m in members if m.run.id not in gone}
    final = (
        score_summary("last_100", {k: v for k, v in finals.items() if v is not None}, tgt,
                      seed=seed, reps=reps)
        if scored else None
    )  # fmt: skip
    evaluated = {k: v for k, v in evaluations.items() if v is not None}
    evaluation = (
        score_summary("evaluation", evaluated, tgt, seed=seed, reps=reps) if evaluated else None
    )
    drawn = (
        learning_curve(scored, blocks, x=x, points=points, seed=seed, reps=reps, per_run=per_run)
        if curve
        else None
    )
    notes = []
    if not runs:
        notes.append("the group has no runs")
    elif not scored:
        notes.append("no run of the group has an ended episode yet")
    elif len(scored) < 2:
        notes.append(FEW_RUNS)
    if skipped:
        notes.append(f"{len(skipped)} run(s) skipped: no ended episode with a reward")
    if tgt.note:
        notes.append(tgt.note)
    return GroupAnalysis(
        group=group, runs=members, skipped=skipped, curve=drawn, final=final,
        evaluation=evaluation, target=tgt, seed=seed, reps=reps, notes=notes,
    )  # fmt: skip


def compare_groups(
    store: Store, refs: Sequence[str], *, x: XAxis = "episode", points: int = POINTS,
    seed: int = stats.SEED, reps: int = stats.REPS, target: float | None = None,
    profile_points: int = PROFILE_POINTS, curve: bool = True,
) -> GroupComparison:  # fmt: skip
    """Each group's analysis, the performance profiles of their final scores over one grid
    of thresholds, and ``P(X > Y)`` for every ordered pair of groups. ``ValueError`` unless
    ``refs`` name at least two distinct groups."""
    found = list({g.id: g for g in (store.get_group(r) for r in refs)}.values())
    if len(found) < 2:
        raise ValueError(
            f"{' and '.join(refs)} name {len(found)} group(s); compare at least two groups"
        )
    analyses = [
        analyze_group(store, g, x=x, points=points, seed=seed, reps=reps, target=target,
                      curve=curve)
        for g in found
    ]  # fmt: skip
    finals = {
        a.group.id: np.array(list(a.final.scores.values()) if a.final else [], dtype=np.float64)
        for a in analyses
    }
    taus = stats.profile_taus(list(finals.values()), profile_points)
    profiles = [
        Profile(
            gid,
            list(
                zip(
                    taus.tolist(),
                    stats.profile_estimates(s, taus, seed=seed, reps=reps),
                    strict=True,
                )
            ),
        )
        for gid, s in finals.items()
        if s.size
    ]
    improvements = [
        Improvement(a, b, stats.improvement_estimate(finals[a], finals[b], seed=seed, reps=reps))
        for a in finals
        for b in finals
        if a != b and finals[a].size and finals[b].size
    ]
    notes = [
        f"group {a.group.name}: no final scores, left out of the profiles and the improvements"
        for a in analyses
        if a.final is None or not a.final.scores
    ]
    return GroupComparison(analyses, profiles, improvements, notes)
