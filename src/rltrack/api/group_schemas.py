"""Response models of the group routes: groups of runs as one experiment, their aggregate
curves and final scores with 95 % bootstrap confidence intervals, performance profiles and
probabilities of improvement (see :mod:`rltrack.analysis`)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field

from rltrack.analysis import stats
from rltrack.analysis.groups import (
    Curve,
    GroupAnalysis,
    GroupComparison,
    Improvement,
    Profile,
    Scores,
    SkippedRun,
    Target,
)
from rltrack.api.schemas import finite
from rltrack.tracking.entities import Group, finite_json

XAxisName = Literal["episode", "timestep", "time"]


class GroupPublic(BaseModel):
    id: str
    name: str
    kind: Literal["seeds", "sweep", "manual"]
    created_at: dt.datetime
    description: str | None
    metadata: dict[str, Any]
    runs: int = Field(description="Runs in the group.")

    @classmethod
    def of(cls, g: Group) -> GroupPublic:
        return cls(
            id=g.id, name=g.name, kind=g.kind,
            created_at=g.created_at, description=g.description,
            metadata=finite_json(g.metadata), runs=g.runs,
        )  # fmt: skip


class EstimatePublic(BaseModel):
    """A point estimate with its 95 % confidence interval; `low` and `high` are null when there
    is no interval (fewer than 2 runs)."""

    value: float | None
    low: float | None
    high: float | None

    @classmethod
    def of(cls, e: stats.Estimate) -> EstimatePublic:
        return cls(value=finite(e.value), low=finite(e.low), high=finite(e.high))


class CurvePointPublic(BaseModel):
    x: float = Field(description="Episode index, timestep or seconds since the runs started.")
    iqm: EstimatePublic = Field(description="Interquartile mean of the runs' rewards at x.")
    mean: EstimatePublic
    runs: int = Field(description="Runs the point is computed from.")


class RunCurvePointPublic(BaseModel):
    x: float
    y: float | None = Field(description="The run's mean reward at x (from its 100-episode blocks).")


class RunCurvePublic(BaseModel):
    run_id: str
    points: list[RunCurvePointPublic] = Field(description="Over the run's own range of x.")


class FinalScoresPublic(BaseModel):
    source: Literal["last_100", "evaluation"] = Field(
        description="`last_100`: each run's mean reward over its last 100 ended episodes; "
        "`evaluation`: the mean reward of each run's latest evaluation of its own policy."
    )
    scores: dict[str, float | None] = Field(description="The score of each run, by run id.")
    iqm: EstimatePublic
    median: EstimatePublic
    mean: EstimatePublic
    optimality_gap: EstimatePublic | None = Field(
        description="Mean of max(target - score, 0) (lower is better); null without a target."
    )
    note: str | None = Field(description="Why there are no intervals, when there are none.")

    @classmethod
    def of(cls, s: Scores | None) -> FinalScoresPublic | None:
        if s is None:
            return None
        gap = None if s.optimality_gap is None else EstimatePublic.of(s.optimality_gap)
        return cls(
            source=s.source,
            scores={k: finite(v) for k, v in s.scores.items()},
            iqm=EstimatePublic.of(s.iqm), median=EstimatePublic.of(s.median),
            mean=EstimatePublic.of(s.mean), optimality_gap=gap, note=s.note,
        )  # fmt: skip


class TargetPublic(BaseModel):
    value: float | None = Field(description="The target score of the optimality gap.")
    source: Literal["given", "env"] | None = Field(
        description="`given`: the `target` query parameter; `env`: the environment's "
        "reward threshold; null: no target."
    )
    note: str | None

    @classmethod
    def of(cls, t: Target) -> TargetPublic:
        return cls(value=finite(t.value), source=t.source, note=t.note)


class SkippedRunPublic(BaseModel):
    run_id: str
    name: str
    reason: str

    @classmethod
    def of(cls, s: SkippedRun) -> SkippedRunPublic:
        return cls(run_id=s.run_id, name=s.name, reason=s.reason)


class GroupRunPublic(BaseModel):
    id: str
    name: str
    status: str
    seed: int | None
    algorithm: str
    env_id: str
    start_time: dt.datetime
    episodes: int = Field(description="The run's progress counter of episodes.")
    last_100_mean: float | None = Field(
        description="Mean reward of its last 100 ended episodes (null: none has ended)."
    )
    last_100_episodes: int = Field(description="Episodes that mean is over (100 at most).")
    latest_evaluation: float | None = Field(
        description="Mean reward of its latest evaluation of its own policy (null: none)."
    )


class BootstrapPublic(BaseModel):
    method: Literal["percentile"] = "percentile"
    confidence: float = Field(description="Of every interval: 0.95.")
    resamples: int
    seed: int = Field(description="Every bootstrap call's random seed: the same seed, the same CI.")


class GroupStatsPublic(BaseModel):
    """A group's aggregates: its learning curve and its final scores."""

    group: GroupPublic
    x: XAxisName
    curve: list[CurvePointPublic] = Field(
        description="IQM and mean across the runs at common x points, over the range all "
        "runs cover (nothing is extrapolated)."
    )
    curve_note: str | None = Field(description="Why the curve is empty or has no intervals.")
    final_scores: FinalScoresPublic | None = Field(
        description="Over each run's last 100 episodes; null when no run has an ended episode."
    )
    evaluation_scores: FinalScoresPublic | None = Field(
        description="Over each run's latest evaluation; null when no run was evaluated."
    )
    target: TargetPublic
    skipped: list[SkippedRunPublic] = Field(description="Runs left out, with the reason.")
    notes: list[str]

    @staticmethod
    def fields(a: GroupAnalysis, curve: Curve) -> dict[str, Any]:
        return {
            "group": GroupPublic.of(a.group), "x": curve.x_axis,
            "curve": [
                CurvePointPublic(
                    x=p.x, iqm=EstimatePublic.of(p.iqm), mean=EstimatePublic.of(p.mean),
                    runs=p.runs,
                )
                for p in curve.points
            ],
            "curve_note": curve.note, "final_scores": FinalScoresPublic.of(a.final),
            "evaluation_scores": FinalScoresPublic.of(a.evaluation),
            "target": TargetPublic.of(a.target),
            "skipped": [SkippedRunPublic.of(s) for s in a.skipped], "notes": a.notes,
        }  # fmt: skip


def _bootstrap(seed: int, reps: int) -> BootstrapPublic:
    return BootstrapPublic(confidence=stats.CONFIDENCE, resamples=reps, seed=seed)


class GroupDetailPublic(GroupStatsPublic):
    runs: list[GroupRunPublic]
    per_run: list[RunCurvePublic] | None = Field(
        description="Each run's own curve (with `per_run=true`)."
    )
    bootstrap: BootstrapPublic

    @classmethod
    def of(cls, a: GroupAnalysis) -> GroupDetailPublic:
        assert a.curve is not None
        per_run = None
        if a.curve.per_run is not None:
            per_run = [
                RunCurvePublic(
                    run_id=run_id,
                    points=[RunCurvePointPublic(x=x, y=finite(y)) for x, y in points],
                )
                for run_id, points in a.curve.per_run.items()
            ]
        runs = [
            GroupRunPublic(
                id=m.run.id, name=m.run.name, status=m.run.status, seed=m.run.seed,
                algorithm=m.run.algorithm, env_id=m.run.env_id, start_time=m.run.start_time,
                episodes=m.run.episodes, last_100_mean=finite(m.last_100_mean),
                last_100_episodes=m.last_100_episodes,
                latest_evaluation=finite(m.latest_evaluation),
            )
            for m in a.runs
        ]  # fmt: skip
        return cls(
            **cls.fields(a, a.curve), runs=runs, per_run=per_run,
            bootstrap=_bootstrap(a.seed, a.reps),
        )  # fmt: skip


class ProfilePointPublic(BaseModel):
    tau: float
    fraction: EstimatePublic = Field(description="Fraction of runs whose score is above tau.")


class ProfilePublic(BaseModel):
    group_id: str
    points: list[ProfilePointPublic]

    @classmethod
    def of(cls, p: Profile) -> ProfilePublic:
        return cls(
            group_id=p.group_id,
            points=[ProfilePointPublic(tau=t, fraction=EstimatePublic.of(f)) for t, f in p.points],
        )


class ImprovementPublic(BaseModel):
    x: str = Field(description="A group id.")
    y: str = Field(description="Another group id.")
    probability: EstimatePublic = Field(
        description="P(X > Y): the probability that a run of x scores above a run of y "
        "(ties count half), over their final scores."
    )

    @classmethod
    def of(cls, i: Improvement) -> ImprovementPublic:
        return cls(x=i.x_group, y=i.y_group, probability=EstimatePublic.of(i.probability))


class GroupsComparePublic(BaseModel):
    groups: list[GroupStatsPublic]
    profiles: list[ProfilePublic] = Field(
        description="Performance profiles of the groups' final scores (last 100 episodes), "
        "over one grid of thresholds from the lowest score to the highest."
    )
    improvements: list[ImprovementPublic] = Field(description="Every ordered pair of groups.")
    bootstrap: BootstrapPublic
    notes: list[str]

    @classmethod
    def of(cls, c: GroupComparison, *, seed: int, reps: int) -> GroupsComparePublic:
        groups = []
        for a in c.groups:
            assert a.curve is not None
            groups.append(GroupStatsPublic(**GroupStatsPublic.fields(a, a.curve)))
        return cls(
            groups=groups, profiles=[ProfilePublic.of(p) for p in c.profiles],
            improvements=[ImprovementPublic.of(i) for i in c.improvements],
            bootstrap=_bootstrap(seed, reps), notes=c.notes,
        )  # fmt: skip
