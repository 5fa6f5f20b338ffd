"""A study read back for the dashboard, through Optuna's storage API: its trials with their
runs and intermediate values, the best trial, the optimisation history, parameter importances
and the search space's axes for a parallel-coordinates view."""

from __future__ import annotations

import datetime as dt
import math
import threading
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.storages import RDBStorage
from optuna.trial import FrozenTrial, TrialState

from rltrack.sweep.study import open_storage
from rltrack.tracking.store import NotFoundError, UnavailableError

MIN_FOR_IMPORTANCE = 2  # completed trials an importance needs at least


@dataclass(frozen=True)
class TrialView:
    number: int
    state: str  # Optuna's state name: COMPLETE, PRUNED, FAIL, RUNNING, WAITING
    params: dict[str, Any]
    value: float | None
    run_id: str | None
    intermediate: list[tuple[int, float]]
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    error: str | None


@dataclass(frozen=True)
class Axis:
    """One parameter of the search space, and each completed trial's value of it."""

    param: str
    kind: str  # float, int, categorical
    log: bool
    low: float | None
    high: float | None
    choices: list[Any] | None
    values: list[Any]


@dataclass(frozen=True)
class StudyView:
    study_name: str
    direction: str
    settings: dict[str, Any]  # what the sweep recorded: objective, sampler, pruner, ...
    trials: list[TrialView]
    best: TrialView | None
    history: list[tuple[int, float, float]]  # (number, value, best so far), completed trials
    importances: dict[str, float]
    importance_note: str | None  # why there are none
    axes: list[Axis] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)  # the completed trials the axes hold
    values: list[float] = field(default_factory=list)  # and their values

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for t in self.trials:
            out[t.state] = out.get(t.state, 0) + 1
        return out


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _utc(at: dt.datetime | None) -> dt.datetime | None:
    """Optuna keeps naive local times; the API speaks UTC."""
    return None if at is None else at.astimezone(dt.UTC)


def _trial(t: FrozenTrial) -> TrialView:
    run_id = t.user_attrs.get("run_id")
    error = t.user_attrs.get("error")
    return TrialView(
        number=t.number, state=t.state.name, params=dict(t.params),
        value=_finite(t.value) if t.state == TrialState.COMPLETE else None,
        run_id=run_id if isinstance(run_id, str) else None,
        intermediate=[(s, v) for s, v in sorted(t.intermediate_values.items()) if math.isfinite(v)],
        started_at=_utc(t.datetime_start), finished_at=_utc(t.datetime_complete),
        error=error if isinstance(error, str) else None,
    )  # fmt: skip


def _axis(name: str, dist: BaseDistribution, values: list[Any]) -> Axis:
    if isinstance(dist, CategoricalDistribution):
        return Axis(name, "categorical", False, None, None, list(dist.choices), values)
    assert isinstance(dist, FloatDistribution | IntDistribution)
    kind = "int" if isinstance(dist, IntDistribution) else "float"
    return Axis(name, kind, dist.log, float(dist.low), float(dist.high), None, values)


def importances(study: optuna.Study, completed: int) -> tuple[dict[str, float], str | None]:
    """PED-ANOVA importances (summing to 1), or none and the reason. (Optuna's default,
    fANOVA, needs scikit-learn, which rltrack does not install; PED-ANOVA needs only numpy,
    is deterministic and fast.)"""
    if completed < MIN_FOR_IMPORTANCE:
        return {}, (f"parameter importances need {MIN_FOR_IMPORTANCE} completed trials; the "
                    f"study has {completed}")  # fmt: skip
    evaluator = optuna.importance.PedAnovaImportanceEvaluator()
    try:
        found = optuna.importance.get_param_importances(study, evaluator=evaluator)
    except (ValueError, RuntimeError) as exc:
        return {}, f"parameter importances cannot be computed: {exc}"
    values = {k: float(v) for k, v in found.items() if math.isfinite(v)}
    if not values:
        return {}, "no parameter varies across the completed trials"
    return values, None


def read_study(storage: RDBStorage, study_name: str, *, with_importances: bool = True) -> StudyView:
    """The study ``study_name``; :class:`NotFoundError` when the database has none."""
    try:
        study = optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:
        raise NotFoundError(f"no study {study_name!r} in this database") from None
    frozen = study.get_trials(deepcopy=False)
    trials = [_trial(t) for t in frozen]
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    complete = [t for t in trials if t.state == "COMPLETE" and t.value is not None]
    history: list[tuple[int, float, float]] = []
    best: TrialView | None = None
    sign = 1.0 if maximize else -1.0
    for t in complete:
        value = t.value or 0.0
        if best is None or sign * value > sign * (best.value or 0.0):
            best = t
        history.append((t.number, value, best.value or 0.0))
    found, note = importances(study, len(complete)) if with_importances else ({}, None)
    dists: dict[str, BaseDistribution] = {}
    for ft in frozen:
        for name, dist in ft.distributions.items():
            dists.setdefault(name, dist)
    done = [f for f in frozen if f.state == TrialState.COMPLETE and _finite(f.value) is not None]
    axes = [_axis(n, d, [f.params.get(n) for f in done]) for n, d in dists.items()]
    return StudyView(
        study_name=study_name, direction="maximize" if maximize else "minimize",
        settings=dict(study.user_attrs), trials=trials, best=best, history=history,
        importances=found, importance_note=note, axes=axes, numbers=[f.number for f in done],
        values=[float(f.value) for f in done if f.value is not None],
    )  # fmt: skip


class StudyReader:
    """Opens Optuna's storage on a database on first use (read only: no table is made)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._storage: RDBStorage | None = None
        self._lock = threading.Lock()

    def storage(self) -> RDBStorage:
        with self._lock:
            if self._storage is None:
                try:
                    self._storage = open_storage(self.url, create=False)
                except Exception as exc:  # the database's own error, whatever its driver
                    raise UnavailableError(f"cannot read the sweep studies: {exc}") from exc
            return self._storage

    def read(self, study_name: str, *, with_importances: bool = True) -> StudyView:
        try:
            return read_study(self.storage(), study_name, with_importances=with_importances)
        except optuna.exceptions.StorageInternalError as exc:
            raise UnavailableError(f"cannot read the study {study_name!r}: {exc}") from exc
