"""/api/training-runs over a live server, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import httpx

from rltrack.tracking.store import Store
from tests.api.conftest import CONFIG, T0, run_events

RUN_KEYS = {
    "id", "run_id", "name", "agent_id", "algorithm", "env_id", "status", "start_time",
    "end_time", "config", "episodes", "metrics",
}  # fmt: skip


def test_list_runs_newest_first_with_counts_and_series(api: httpx.Client, store: Store) -> None:
    store.write(run_events("old", episodes=30, agent_id="a1", start=T0))
    store.write(run_events("new", episodes=120, agent_id="a2", start=T0 + dt.timedelta(hours=1)))
    r = api.get("/api/training-runs")
    assert r.status_code == 200
    runs = r.json()
    assert [x["id"] for x in runs] == ["new", "old"]
    new = runs[0]
    assert set(new) >= RUN_KEYS
    assert new["run_id"] == "new"
    assert new["episodes"] == 120
    assert new["config"] == CONFIG
    assert new["status"] == "completed"
    assert dt.datetime.fromisoformat(new["start_time"]) == T0 + dt.timedelta(hours=1)
    assert dt.datetime.fromisoformat(new["end_time"]) > dt.datetime.fromisoformat(new["start_time"])
    points = new["metrics"]["episodes"]
    assert 0 < len(points) <= 50
    assert set(points[0]) == {"episode", "total_reward", "steps", "win", "epsilon"}
    assert new["metrics"]["rolling_win_rate"] == []
    assert new["metrics"]["sampled"] is True and new["metrics"]["total"] == 120
    assert len(runs[1]["metrics"]["episodes"]) == 30  # under list_points: every episode

    few = api.get("/api/training-runs", params={"list_points": 10}).json()
    assert len(few[0]["metrics"]["episodes"]) <= 10

    by_agent = api.get("/api/training-runs", params={"agent_id": "a1"}).json()
    assert [x["id"] for x in by_agent] == ["old"]
    assert api.get("/api/training-runs", params={"status": "running"}).json() == []
    assert len(api.get("/api/training-runs", params={"status": "completed"}).json()) == 2
    assert [x["id"] for x in api.get("/api/training-runs", params={"limit": 1}).json()] == ["new"]


def test_agent_ids(api: httpx.Client, store: Store) -> None:
    assert api.get("/api/training-runs/agents/list").json() == {"agent_ids": []}
    store.write(run_events("r1", episodes=1, agent_id="zeta"))
    store.write(run_events("r2", episodes=1, agent_id="alpha"))
    store.write(run_events("r3", episodes=1, agent_id="alpha"))
    store.write(run_events("r4", episodes=1, agent_id=None))
    r = api.get("/api/training-runs/agents/list")
    assert r.status_code == 200
    assert r.json() == {"agent_ids": ["alpha", "zeta"]}


def test_run_detail(api: httpx.Client, store: Store) -> None:
    # Wins for the first 50 episodes, losses after; episode 7 reports no win.
    store.write(
        run_events(
            "detail",
            episodes=150,
            checkpoints=(10, 100),
            win=lambda i: None if i == 7 else (1.0 if i < 50 else 0.0),
        )  # fmt: skip
    )
    r = api.get("/api/training-runs/detail")
    assert r.status_code == 200
    run = r.json()
    assert set(run) >= RUN_KEYS
    assert run["config"] == CONFIG
    assert run["metadata"] == {"purpose": "api test"}
    assert run["checkpoint_paths"] == [
        {"episode": 10, "path": "/ck/detail/ep10.zip"},
        {"episode": 100, "path": "/ck/detail/ep100.zip"},
    ]
    metrics = run["metrics"]
    assert metrics["sampled"] is False and metrics["total"] == 150
    assert [p["episode"] for p in metrics["episodes"]] == list(range(150))
    assert metrics["episodes"][3] == {
        "episode": 3, "total_reward": 3.0, "steps": 10, "win": 1.0, "epsilon": 0.5,
    }  # fmt: skip
    rolling = {p["episode"]: p["win_rate"] for p in metrics["rolling_win_rate"]}
    assert 7 not in rolling and len(rolling) == 149
    assert rolling[0] == 1.0
    assert rolling[49] == 1.0
    # At episode 100, the last 100 episodes with a win value are 0..100 without 7:
    # 49 wins (0..49 without 7) out of 100.
    assert abs(rolling[100] - 0.49) < 1e-9
    assert rolling[149] == 0.0  # 50..149: all losses

    # A prefix of the id is enough, as on the command line.
    assert api.get("/api/training-runs/deta").json()["id"] == "detail"


def test_downsampling_keeps_spikes(api: httpx.Client, store: Store) -> None:
    spikes = {3217: 1e6, 1234: -1e6}
    store.write(
        run_events(
            "big",
            episodes=5000,
            reward=lambda i: spikes.get(i, float(i % 7)),
            win=lambda i: float(i % 3 == 0),
        )  # fmt: skip
    )
    r = api.get("/api/training-runs/big", params={"max_points": 200})
    assert r.status_code == 200
    metrics = r.json()["metrics"]
    points = metrics["episodes"]
    assert metrics["sampled"] is True
    assert metrics["total"] == 5000
    assert 0 < len(points) <= 200
    episodes = [p["episode"] for p in points]
    assert episodes == sorted(episodes) and len(set(episodes)) == len(episodes)
    by_episode = {p["episode"]: p["total_reward"] for p in points}
    assert by_episode[3217] == 1e6
    assert by_episode[1234] == -1e6
    assert episodes[0] < 100 and episodes[-1] > 4900  # the whole run is covered
    rolling = metrics["rolling_win_rate"]
    assert 0 < len(rolling) <= 200
    assert rolling[-1]["episode"] == 4999

    default = api.get("/api/training-runs/big").json()["metrics"]
    assert default["sampled"] is True and len(default["episodes"]) <= 2000
    everything = api.get("/api/training-runs/big", params={"max_points": 5000}).json()
    assert everything["metrics"]["sampled"] is False
    assert len(everything["metrics"]["episodes"]) == 5000


def test_unknown_run_404_and_bad_parameters_422(api: httpx.Client, store: Store) -> None:
    store.write(run_events("known", episodes=3))
    r = api.get("/api/training-runs/nope-nope")
    assert r.status_code == 404
    assert "nope-nope" in r.json()["detail"]
    for params in ({"max_points": 1}, {"max_points": "many"}, {"max_points": 10**7}):
        r = api.get("/api/training-runs/known", params=params)
        assert r.status_code == 422, params
        assert r.json()["detail"]
    for params in ({"status": "bogus"}, {"limit": 0}, {"limit": -5}, {"list_points": 0}):
        r = api.get("/api/training-runs", params=params)
        assert r.status_code == 422, params
        assert r.json()["detail"]
