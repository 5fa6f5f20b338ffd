"""``/api/sweeps`` on a live server, on SQLite and PostgreSQL: a small finished sweep whose
study lies in Optuna's storage beside the runs (made by the sweep's own code: its group, its
study, trials asked and told as the sweep does) and whose trials are recorded runs."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx
import optuna
import pytest
from optuna.trial import TrialState

from rltrack.sweep.spec import SweepSpec, parse_spec
from rltrack.sweep.study import open_storage, open_study, search_space, sweep_group
from rltrack.tracking.sql import engine as eng
from rltrack.tracking.store import Store, open_store
from rltrack.training.events import RunStarted
from tests.api.conftest import run_events

SPEC = {
    "algo": "ppo",
    "mode": "smoke",
    "sweep": {
        "name": "lr-sweep",
        "sampler": "random",
        "seed": 1,
        "params": {
            "hyperparams.learning_rate": {"type": "float", "low": 1e-5, "high": 1e-2, "log": True},
            "hyperparams.n_steps": {"type": "categorical", "choices": [64, 128]},
        },
    },
}
# What each trial ends as: (state, the rewards of its episodes).
PLAN = [
    ("complete", 10.0),
    ("complete", 30.0),
    ("pruned", 2.0),
    ("complete", 20.0),
    ("fail", None),
]


def record_trial(store: Store, spec: SweepSpec, study: optuna.Study, i: int) -> optuna.Trial:
    state, reward = PLAN[i]
    trial = study.ask(search_space(spec))
    if state == "fail":
        trial.set_user_attr("error", "simulated env failure")
        study.tell(trial, state=TrialState.FAIL)
        return trial
    run_id = f"run-{i}"
    events = run_events(
        run_id, episodes=4, reward=lambda _: reward,
        status="stopped" if state == "pruned" else "completed",
        config=spec.trial_config(trial.params, f"{spec.name}-trial-{trial.number}"),
        tags=(f"sweep:{spec.name}",) + (("pruned",) if state == "pruned" else ()),
    )  # fmt: skip
    events[0] = dataclasses.replace(events[0], group=spec.name)
    assert isinstance(events[0], RunStarted)
    store.write(events)
    trial.set_user_attr("run_id", run_id)
    assert reward is not None
    for step in (256, 512):
        trial.report(reward + step / 1000, step)
    if state == "pruned":
        study.tell(trial, state=TrialState.PRUNED)
    else:
        study.tell(trial, reward)
    return trial


@pytest.fixture
def sweep(store: Store, db_url: str) -> dict[str, Any]:
    spec = parse_spec(SPEC)
    group = sweep_group(store, spec)
    study = open_study(open_storage(db_url), spec)
    trials = [record_trial(store, spec, study, i) for i in range(len(PLAN))]
    # A second sweep that has one completed trial: too few for importances.
    small = parse_spec({**SPEC, "sweep": {**SPEC["sweep"], "name": "small"}})
    small_group = sweep_group(store, small)
    small_study = open_study(open_storage(db_url), small)
    t = small_study.ask(search_space(small))
    small_study.tell(t, 5.0)
    store.create_group("seeds-of-x", kind="seeds")
    return {
        "group": group, "small": small_group, "params": [t.params for t in trials],
    }  # fmt: skip


def test_the_sweep_of_a_group(api: httpx.Client, sweep: dict[str, Any]) -> None:
    group = sweep["group"]
    r = api.get(f"/api/sweeps/{group.id}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["name"] == "lr-sweep" and body["study_name"] == "lr-sweep"
    assert body["direction"] == "maximize" and body["objective"] == "last100"
    assert body["sampler"] == "random" and body["pruner"] == "median"
    assert body["runs"] == 4  # the failed trial never started a run
    assert body["params"] == ["hyperparams.learning_rate", "hyperparams.n_steps"]
    assert body["trial_counts"] == {"complete": 3, "pruned": 1, "fail": 1, "running": 0,
                                    "waiting": 0}  # fmt: skip
    trials = body["trials"]
    assert [t["state"] for t in trials] == ["COMPLETE", "COMPLETE", "PRUNED", "COMPLETE", "FAIL"]
    assert [t["value"] for t in trials] == [10.0, 30.0, None, 20.0, None]
    assert [t["run_id"] for t in trials] == ["run-0", "run-1", "run-2", "run-3", None]
    assert [t["params"] for t in trials] == sweep["params"]
    assert trials[2]["intermediate_values"] == [
        {"step": 256, "value": 2.0 + 256 / 1000}, {"step": 512, "value": 2.0 + 512 / 1000},
    ]  # fmt: skip
    assert trials[4]["error"] == "simulated env failure"
    assert trials[0]["started_at"].endswith("Z") and trials[0]["finished_at"] is not None
    assert body["best_trial"]["number"] == 1 and body["best_trial"]["value"] == 30.0
    assert body["history"] == [
        {"number": 0, "value": 10.0, "best": 10.0},
        {"number": 1, "value": 30.0, "best": 30.0},
        {"number": 3, "value": 20.0, "best": 30.0},
    ]
    importances = body["importances"]
    assert body["importances_note"] is None
    assert {i["param"] for i in importances} == set(body["params"])
    assert sum(i["importance"] for i in importances) == pytest.approx(1.0)
    assert importances == sorted(importances, key=lambda i: -i["importance"])
    parallel = body["parallel_coordinates"]
    assert parallel["numbers"] == [0, 1, 3] and parallel["values"] == [10.0, 30.0, 20.0]
    lr, n_steps = parallel["axes"]
    assert lr["param"] == "hyperparams.learning_rate" and lr["type"] == "float" and lr["log"]
    assert (lr["low"], lr["high"]) == (1e-5, 1e-2)
    assert lr["values"] == [sweep["params"][n]["hyperparams.learning_rate"] for n in (0, 1, 3)]
    assert n_steps["type"] == "categorical" and n_steps["choices"] == [64, 128]
    # By name too; the runs of the trials are the group's.
    assert api.get("/api/sweeps/lr-sweep").json()["group_id"] == group.id


def test_too_few_trials_give_no_importances_and_say_why(
    api: httpx.Client, sweep: dict[str, Any]
) -> None:
    body = api.get(f"/api/sweeps/{sweep['small'].id}").json()
    assert body["importances"] == []
    assert "need 2 completed trials; the study has 1" in body["importances_note"]
    assert body["best_trial"]["value"] == 5.0 and len(body["history"]) == 1


def test_the_list_of_sweeps(api: httpx.Client, sweep: dict[str, Any]) -> None:
    r = api.get("/api/sweeps")
    assert r.status_code == 200
    by_name = {s["name"]: s for s in r.json()}
    assert set(by_name) == {"lr-sweep", "small"}  # the seeds group is no sweep
    s = by_name["lr-sweep"]
    assert s["group_id"] == sweep["group"].id and s["best_value"] == 30.0 and s["runs"] == 4
    assert s["trials"]["complete"] == 3 and s["trials"]["pruned"] == 1


def test_what_is_not_a_sweep_is_404_and_bad_queries_422(
    api: httpx.Client, sweep: dict[str, Any]
) -> None:
    for ref in ("no-such-sweep", "seeds-of-x"):
        r = api.get(f"/api/sweeps/{ref}")
        assert r.status_code == 404 and isinstance(r.json()["detail"], str), r.text
    assert "not a sweep" in api.get("/api/sweeps/seeds-of-x").json()["detail"]
    r = api.get("/api/sweeps", params={"limit": 3})
    assert r.status_code == 422 and "unknown query parameter 'limit'" in r.json()["detail"]


def test_no_sweep_yet_is_an_empty_list(api: httpx.Client) -> None:
    assert api.get("/api/sweeps").json() == []


def test_the_study_leaves_rltracks_schema_alone(sweep: dict[str, Any], db_url: str) -> None:
    """Optuna's tables share the database but not rltrack's Alembic revision."""
    engine = eng.make_engine(db_url)
    try:
        assert eng.current_revision(engine) == eng.HEAD_REVISION
    finally:
        engine.dispose()
    again = open_store(db_url)  # the schema check passes
    try:
        assert again.get_group("lr-sweep").runs == 4
    finally:
        again.close()
    storage = open_storage(db_url, create=False)
    assert len(optuna.load_study(study_name="lr-sweep", storage=storage).trials) == len(PLAN)
