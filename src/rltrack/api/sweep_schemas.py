"""Response models of the sweep routes: a sweep is a group of runs and the Optuna study whose
trials they are (see :mod:`rltrack.sweep.view`)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field

from rltrack.api.schemas import finite
from rltrack.sweep.view import Axis, StudyView, TrialView
from rltrack.tracking.entities import Group

TrialStateName = Literal["COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING"]
ParamValue = float | int | str | bool | None


class SweepTrialCountsPublic(BaseModel):
    complete: int = 0
    pruned: int = 0
    fail: int = 0
    running: int = 0
    waiting: int = Field(0, description="Queued: parameters to be tried (a retry).")

    @classmethod
    def of(cls, view: StudyView) -> SweepTrialCountsPublic:
        return cls(**{k.lower(): v for k, v in view.counts().items()})


class SweepSummaryPublic(BaseModel):
    group_id: str
    name: str
    created_at: dt.datetime
    runs: int = Field(description="Runs in the sweep's group (one per trial that started one).")
    study_name: str
    direction: Literal["maximize", "minimize"]
    objective: str = Field(
        description="`last100`: mean reward of the run's last 100 episodes; `evaluation`: "
        "its latest evaluation's mean reward."
    )
    trials: SweepTrialCountsPublic
    best_value: float | None

    @classmethod
    def of(cls, group: Group, view: StudyView) -> SweepSummaryPublic:
        return cls(
            group_id=group.id, name=group.name, created_at=group.created_at, runs=group.runs,
            study_name=view.study_name, direction=_direction(view.direction),
            objective=str(view.settings.get("objective", "last100")),
            trials=SweepTrialCountsPublic.of(view),
            best_value=finite(view.best.value) if view.best else None,
        )  # fmt: skip


class IntermediateValuePublic(BaseModel):
    step: int = Field(description="Timesteps the run had trained.")
    value: float = Field(description="Mean reward of its last 100 episodes ended by then.")


class SweepTrialPublic(BaseModel):
    number: int
    state: TrialStateName
    params: dict[str, ParamValue]
    value: float | None = Field(description="The objective; null unless the trial completed.")
    run_id: str | None = Field(description="The trial's run (null when none started).")
    intermediate_values: list[IntermediateValuePublic] = Field(
        description="What the pruner compared, by step."
    )
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    error: str | None = Field(description="Why a failed trial failed.")

    @classmethod
    def of(cls, t: TrialView) -> SweepTrialPublic:
        return cls(
            number=t.number, state=t.state,
            params=t.params, value=finite(t.value), run_id=t.run_id,
            intermediate_values=[
                IntermediateValuePublic(step=s, value=v) for s, v in t.intermediate
            ],
            started_at=t.started_at, finished_at=t.finished_at, error=t.error,
        )  # fmt: skip


class HistoryPointPublic(BaseModel):
    number: int = Field(description="A completed trial.")
    value: float
    best: float = Field(description="The best value of the trials up to this one.")


class ImportancePublic(BaseModel):
    param: str
    importance: float = Field(
        description="PED-ANOVA importance (Optuna's); the importances sum to 1."
    )


class ParamAxisPublic(BaseModel):
    param: str
    type: Literal["float", "int", "categorical"]
    log: bool
    low: float | None
    high: float | None
    choices: list[ParamValue] | None
    values: list[ParamValue] = Field(
        description="Each completed trial's value, in the order of `numbers`."
    )

    @classmethod
    def of(cls, a: Axis) -> ParamAxisPublic:
        return cls(
            param=a.param, type=a.kind,
            log=a.log, low=a.low, high=a.high, choices=a.choices, values=a.values,
        )  # fmt: skip


class ParallelCoordinatesPublic(BaseModel):
    numbers: list[int] = Field(description="The completed trials, in trial order.")
    values: list[float] = Field(description="Their objective values.")
    axes: list[ParamAxisPublic]


class SweepPublic(BaseModel):
    group_id: str
    name: str
    created_at: dt.datetime
    runs: int
    study_name: str
    direction: Literal["maximize", "minimize"]
    objective: str
    sampler: str | None
    pruner: str | None
    settings: dict[str, Any] = Field(description="What the sweep recorded in the study.")
    params: list[str] = Field(description="The parameters searched (config paths).")
    trial_counts: SweepTrialCountsPublic
    trials: list[SweepTrialPublic]
    best_trial: SweepTrialPublic | None
    history: list[HistoryPointPublic] = Field(description="Optimisation history.")
    importances: list[ImportancePublic] = Field(description="Most important first.")
    importances_note: str | None = Field(description="Why `importances` is empty.")
    parallel_coordinates: ParallelCoordinatesPublic

    @classmethod
    def of(cls, group: Group, view: StudyView) -> SweepPublic:
        s = view.settings
        return cls(
            group_id=group.id, name=group.name, created_at=group.created_at, runs=group.runs,
            study_name=view.study_name, direction=_direction(view.direction),
            objective=str(s.get("objective", "last100")),
            sampler=_text(s.get("sampler")), pruner=_text(s.get("pruner")),
            settings={k: v for k, v in s.items() if k != "rltrack_spec"},
            params=[a.param for a in view.axes], trial_counts=SweepTrialCountsPublic.of(view),
            trials=[SweepTrialPublic.of(t) for t in view.trials],
            best_trial=SweepTrialPublic.of(view.best) if view.best else None,
            history=[HistoryPointPublic(number=n, value=v, best=b) for n, v, b in view.history],
            importances=[
                ImportancePublic(param=k, importance=v)
                for k, v in sorted(view.importances.items(), key=lambda kv: -kv[1])
            ],
            importances_note=view.importance_note,
            parallel_coordinates=ParallelCoordinatesPublic(
                numbers=view.numbers, values=view.values,
                axes=[ParamAxisPublic.of(a) for a in view.axes],
            ),
        )  # fmt: skip


def _direction(value: str) -> Literal["maximize", "minimize"]:
    return "minimize" if value == "minimize" else "maximize"


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
