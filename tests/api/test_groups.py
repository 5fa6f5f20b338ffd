"""``/api/groups``: groups with their runs, aggregate curves and final scores with intervals,
and their comparison, through a live server over SQLite and PostgreSQL."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from rltrack.analysis import analyze_group
from rltrack.tracking.store import Store
from tests.analysis.group_runs import group_events, noisy


@pytest.fixture
def groups(store: Store) -> Store:
    store.write(
        group_events(
            "ppo-seeds", "p", seeds=5, episodes=lambda s: 500 + 50 * s, reward=noisy(100.0),
            evaluations={1: 80.0, 2: 85.0}, empty=1,
        )
    )  # fmt: skip
    store.write(group_events("dqn-seeds", "d", seeds=3, episodes=400, reward=noisy(40.0)))
    store.write(group_events("one-run", "o", seeds=1, episodes=300, reward=noisy(5.0)))
    return store


def test_the_groups_list(api: httpx.Client, groups: Store) -> None:
    r = api.get("/api/groups")
    assert r.status_code == 200
    body = {g["name"]: g for g in r.json()}
    assert set(body) == {"ppo-seeds", "dqn-seeds", "one-run"}
    assert body["ppo-seeds"]["runs"] == 6 and body["ppo-seeds"]["kind"] == "manual"
    assert body["dqn-seeds"]["runs"] == 3


def test_a_group_with_its_runs_curve_and_final_scores(api: httpx.Client, groups: Store) -> None:
    r = api.get("/api/groups/ppo-seeds", params={"points": 20, "seed": 3, "per_run": "true"})
    assert r.status_code == 200, r.text
    g = r.json()
    assert g["group"]["name"] == "ppo-seeds" and g["x"] == "episode"
    runs = {run["id"]: run for run in g["runs"]}
    assert len(runs) == 6 and runs["p-2"]["seed"] == 2 and runs["p-2"]["status"] == "completed"
    assert runs["p-1"]["latest_evaluation"] == 80.0 and runs["p-0"]["latest_evaluation"] is None
    assert runs["p-empty-0"]["last_100_mean"] is None
    last = [e.total_reward for e in groups.list_episodes("p-3")][-100:]
    assert runs["p-3"]["last_100_mean"] == pytest.approx(np.mean(last))
    assert runs["p-3"]["last_100_episodes"] == 100
    assert g["skipped"] == [
        {"run_id": "p-empty-0", "name": "p-empty0", "reason": "no ended episode with a reward"}
    ]
    # The same numbers as the analysis computes (itself checked against the raw episodes).
    want = analyze_group(groups, "ppo-seeds", points=20, seed=3, per_run=True)
    assert want.curve is not None and want.final is not None
    assert len(g["curve"]) == len(want.curve.points) == 5  # blocks 0..4 of the shortest run
    for got, p in zip(g["curve"], want.curve.points, strict=True):
        assert got["x"] == p.x and got["runs"] == 5
        assert got["iqm"] == {"value": p.iqm.value, "low": p.iqm.low, "high": p.iqm.high}
        assert got["iqm"]["low"] <= got["iqm"]["value"] <= got["iqm"]["high"]
    final = g["final_scores"]
    assert final["source"] == "last_100" and len(final["scores"]) == 5
    assert final["iqm"]["value"] == want.final.iqm.value
    assert final["iqm"]["low"] == want.final.iqm.low and final["iqm"]["high"] is not None
    # CartPole-v1's reward threshold (475) is the target of the optimality gap.
    assert g["target"] == {"value": 475.0, "source": "env", "note": None}
    assert final["optimality_gap"]["value"] == pytest.approx(475.0 - final["mean"]["value"])
    assert g["evaluation_scores"]["scores"] == {"p-1": 80.0, "p-2": 85.0}
    assert g["bootstrap"] == {"method": "percentile", "confidence": 0.95, "resamples": 2000,
                              "seed": 3}  # fmt: skip
    per_run = {c["run_id"]: c["points"] for c in g["per_run"]}
    assert set(per_run) == set(final["scores"])
    assert per_run["p-4"][-1]["x"] > g["curve"][-1]["x"]  # a longer run goes further alone
    # The id, or a prefix of it, names the group too; a given target replaces the env's.
    by_id = api.get(f"/api/groups/{g['group']['id'][:10]}", params={"target": 50}).json()
    assert by_id["group"]["name"] == "ppo-seeds" and by_id["per_run"] is None
    assert by_id["target"]["source"] == "given"
    timed = api.get("/api/groups/ppo-seeds", params={"x": "time"}).json()
    assert timed["x"] == "time" and timed["curve"][0]["x"] == pytest.approx(100.0 * 1.4)


def test_a_group_of_one_run_says_there_are_no_intervals(api: httpx.Client, groups: Store) -> None:
    g = api.get("/api/groups/one-run").json()
    assert g["final_scores"]["iqm"]["low"] is None and g["final_scores"]["note"]
    assert any("fewer than 2 runs" in n for n in g["notes"])
    assert g["curve"] and g["curve"][0]["iqm"]["high"] is None and g["curve_note"]


def test_comparing_groups(api: httpx.Client, groups: Store) -> None:
    r = api.get("/api/groups/compare", params=[("group", "ppo-seeds"), ("group", "dqn-seeds")])
    assert r.status_code == 200, r.text
    c = r.json()
    ids = [g["group"]["id"] for g in c["groups"]]
    assert [g["group"]["name"] for g in c["groups"]] == ["ppo-seeds", "dqn-seeds"]
    assert all(g["curve"] and g["final_scores"] for g in c["groups"])
    probability = {(i["x"], i["y"]): i["probability"] for i in c["improvements"]}
    assert probability[ids[0], ids[1]] == {"value": 1.0, "low": 1.0, "high": 1.0}
    assert probability[ids[1], ids[0]]["value"] == 0.0
    assert [p["group_id"] for p in c["profiles"]] == ids
    first = c["profiles"][0]["points"]
    assert first[0]["fraction"]["value"] == 1.0 and first[-1]["fraction"]["value"] == 0.0
    assert [p["tau"] for p in first] == [p["tau"] for p in c["profiles"][1]["points"]]


def test_bad_requests(api: httpx.Client, groups: Store) -> None:
    r = api.get("/api/groups/no-such-group")
    assert r.status_code == 404 and "no group 'no-such-group'" in r.json()["detail"]
    r = api.get("/api/groups/ppo-seeds", params={"x": "steps"})
    assert r.status_code == 422 and r.json()["detail"].startswith("x: Input should be")
    for params in ({"points": 1}, {"points": 100_000}, {"target": "inf"}, {"seed": -1}):
        assert api.get("/api/groups/ppo-seeds", params=params).status_code == 422, params
    r = api.get("/api/groups/ppo-seeds", params={"group": "x"})
    assert r.status_code == 422 and "unknown query parameter 'group'" in r.json()["detail"]
    one = api.get("/api/groups/compare", params={"group": "ppo-seeds"})
    assert one.status_code == 422 and "group:" in one.json()["detail"]
    twice = api.get("/api/groups/compare", params=[("group", "ppo-seeds")] * 2)
    assert twice.status_code == 422 and "'ppo-seeds' is named twice" in twice.json()["detail"]
    gid = api.get("/api/groups/ppo-seeds").json()["group"]["id"]
    alias = api.get("/api/groups/compare", params=[("group", "ppo-seeds"), ("group", gid)])
    assert alias.status_code == 422 and "compare at least two groups" in alias.json()["detail"]
    r = api.get("/api/groups/compare", params=[("group", "ppo-seeds"), ("group", "nope")])
    assert r.status_code == 404 and "'nope'" in r.json()["detail"]
    r = api.get("/api/groups/compare", params=[("group", "ppo-seeds"), ("group", "one-run"),
                                               ("per_run", "true")])  # fmt: skip
    assert r.status_code == 422 and "'per_run'" in r.json()["detail"]
