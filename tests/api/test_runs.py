"""/api/training-runs over a live server, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import httpx
import pytest

from rltrack.tracking.store import Store
from rltrack.training.events import Event, RunStarted
from tests.api.conftest import CONFIG, T0, run_events

RUN_KEYS = {
    "id", "run_id", "name", "agent_id", "algorithm", "env_id", "status", "start_time",
    "end_time", "duration_s", "timesteps", "tags", "config", "episodes", "metrics", "stats",
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


def _run(run_id: str, episodes: int = 3, **started: Any) -> list[Event]:
    """run_events with other RunStarted fields (name, algorithm, env_id, ...)."""
    keys = {"agent_id", "start", "reward", "win", "status", "config", "tags", "started"}
    events = run_events(
        run_id, episodes=episodes, **{k: started.pop(k) for k in keys & started.keys()}
    )
    assert isinstance(events[0], RunStarted)
    return [dataclasses.replace(events[0], **started), *events[1:]]


def _ids(api: httpx.Client, **params: Any) -> list[str]:
    r = api.get("/api/training-runs", params=params)
    assert r.status_code == 200, (params, r.text)
    return [x["id"] for x in r.json()]


def test_list_filters(api: httpx.Client, store: Store) -> None:
    hour = dt.timedelta(hours=1)
    store.write(_run("ppo-cart", name="PPO CartPole baseline", tags=("baseline", "cpu")))
    store.write(
        _run(
            "dqn-lunar", algorithm="dqn", env_id="LunarLander-v3", name="dqn lunar",
            start=T0 + hour, agent_id="agent-b", status="stopped", tags=("gpu",),
            config={"hyperparams": {"learning_rate": 3e-4, "policy": "MlpPolicy", "norm": True},
                    "net": {"width": 64}},
        )
    )  # fmt: skip
    store.write(
        _run(
            "ppo-trade", name="Trading PPO", env_id="Trading-v0", start=T0 + 2 * hour,
            status="failed", config={"learning_rate": 0.001, "hyperparams": {"policy": "Cnn"}},
        )
    )  # fmt: skip
    assert _ids(api) == ["ppo-trade", "dqn-lunar", "ppo-cart"]
    assert _ids(api, status="stopped,failed") == ["ppo-trade", "dqn-lunar"]
    assert _ids(api, status="completed") == ["ppo-cart"]
    assert _ids(api, agent_id="agent-b") == ["dqn-lunar"]
    assert _ids(api, algorithm="ppo") == ["ppo-trade", "ppo-cart"]
    assert _ids(api, env="LunarLander-v3") == ["dqn-lunar"]
    assert _ids(api, tag="cpu") == ["ppo-cart"] and _ids(api, tag="nope") == []
    assert _ids(api, q="ppo") == ["ppo-trade", "ppo-cart"]  # any case, anywhere in the name
    assert _ids(api, q="%") == [] and _ids(api, q="_") == []  # not LIKE wildcards
    assert _ids(api, started_after="2026-01-01T00:30:00Z") == ["ppo-trade", "dqn-lunar"]
    assert _ids(api, started_before="2026-01-01T01:00:00") == ["dqn-lunar", "ppo-cart"]
    assert _ids(api, started_before="2026-01-01T02:00:00+01:00") == ["dqn-lunar", "ppo-cart"]
    assert _ids(api, started_after="2026-01-01T00:30:00Z", started_before="2026-01-01T01:30Z") == [
        "dqn-lunar"
    ]

    # Hyperparameters: at hyperparams.<name> or at <name>; numbers compare as numbers.
    assert _ids(api, **{"param.learning_rate": "0.0003"}) == ["dqn-lunar", "ppo-cart"]
    assert _ids(api, **{"param.learning_rate": "3e-4"}) == ["dqn-lunar", "ppo-cart"]
    assert _ids(api, **{"param.learning_rate": "1e-3"}) == ["ppo-trade"]
    assert _ids(api, **{"param.policy": "MlpPolicy"}) == ["dqn-lunar"]
    assert _ids(api, **{"param.norm": "true"}) == ["dqn-lunar"]
    assert _ids(api, **{"param.norm": "1"}) == []  # true is not the number 1
    assert _ids(api, **{"param.net.width": "64"}) == ["dqn-lunar"]
    assert _ids(api, **{"param.algo": "ppo", "param.gamma": "0.99"}) == ["ppo-cart"]
    assert _ids(api, **{"param.gamma": "0.99", "param.policy": "Cnn"}) == []
    assert _ids(api, **{"param.missing": "x"}) == []

    # Times UTC cannot hold bound as the earliest or the latest time; a leap second is the
    # second before it.
    assert _ids(api, started_after="9999-12-31T23:59:59-23:00") == []
    assert _ids(api, started_before="0001-01-01T00:00:00+05:00") == []
    assert _ids(api, started_after="0000-01-01T00:00:00Z") == ["ppo-trade", "dqn-lunar", "ppo-cart"]
    assert _ids(api, started_before="2026-01-01T00:59:60Z") == ["ppo-cart"]  # 00:59:59

    for params in (
        {"status": "bogus"}, {"status": "completed,nope"}, {"status": ","},
        {"status": "completed, failed"}, {"sort": "reward"}, {"offset": -1},
        {"started_after": "yesterday"}, {"started_after": "1767225600"},
        {"started_after": "2026-02-30T00:00:00Z"}, {"started_after": "2026-01-01T00:00:00+24:00"},
        {"param.": "1"}, {"param.a..b": "1"}, {"param.a b": "1"}, {'param.a"b': "1"},
        {"param.a": "x" * 1001}, {"stauts": "failed"}, {"param": "x"},
    ):  # fmt: skip
        r = api.get("/api/training-runs", params=params)
        assert r.status_code == 422, params
        assert isinstance(r.json()["detail"], str), params


def test_sort_pages_and_total_count(api: httpx.Client, store: Store) -> None:
    minute = dt.timedelta(minutes=1)
    store.write(_run("a", episodes=20, name="alpha", start=T0, reward=lambda i: 5.0))
    store.write(_run("b", episodes=5, name="Bravo", start=T0 + minute, reward=lambda i: -1.0))
    store.write(_run("c", episodes=60, name="charlie", start=T0 + 2 * minute,
                     reward=lambda i: 2.0))  # fmt: skip
    store.write(_run("d", episodes=0, name="delta", start=T0 + 3 * minute))
    assert _ids(api, sort="start_time") == ["a", "b", "c", "d"]
    assert _ids(api, sort="-start_time") == ["d", "c", "b", "a"]
    assert _ids(api, sort="name") == ["a", "b", "c", "d"]  # alpha, Bravo, charlie: any case
    assert _ids(api, sort="-name") == ["d", "c", "b", "a"]
    assert _ids(api, sort="-episodes") == ["c", "a", "b", "d"]
    assert _ids(api, sort="episodes") == ["d", "b", "a", "c"]
    assert _ids(api, sort="duration") == ["d", "b", "a", "c"]  # 0, 5, 20 and 60 s
    assert _ids(api, sort="-duration") == ["c", "a", "b", "d"]
    # Runs without a finished episode have no mean: last in either direction.
    assert _ids(api, sort="-mean_reward") == ["a", "c", "b", "d"]
    assert _ids(api, sort="mean_reward") == ["b", "c", "a", "d"]

    r = api.get("/api/training-runs", params={"sort": "start_time", "offset": 1, "limit": 2})
    assert [x["id"] for x in r.json()] == ["b", "c"]
    assert r.headers["x-total-count"] == "4"
    r = api.get("/api/training-runs", params={"status": "failed", "limit": 1})
    assert r.json() == [] and r.headers["x-total-count"] == "0"
    r = api.get("/api/training-runs", params={"offset": 10})
    assert r.json() == [] and r.headers["x-total-count"] == "4"


def test_summary_stats_duration_and_tags(
    api: httpx.Client, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.write(
        _run(
            "done", episodes=200, tags=("x", "y"), started=(199,),
            reward=lambda i: float(i), win=lambda i: None if i % 2 else float(i >= 100),
        )
    )  # fmt: skip
    now = dt.datetime.now(dt.UTC)
    store.write(_run("live", episodes=4, start=now - dt.timedelta(seconds=20), status="running"))
    store.heartbeat("live", now)
    store.write(_run("dead", episodes=2, start=now - dt.timedelta(hours=2), status="running"))
    store.heartbeat("dead", now - dt.timedelta(hours=1))

    runs = {x["id"]: x for x in api.get("/api/training-runs").json()}
    done = runs["done"]
    assert set(done) >= RUN_KEYS
    assert done["tags"] == ["x", "y"] and done["timesteps"] == 2000
    assert done["duration_s"] == 200.0
    assert done["stats"] == {
        "finished": 199, "mean_reward": 99.0, "max_reward": 198.0, "min_reward": 0.0,
        "mean_steps": 10.0,
        # The last 100 episodes that report a win: the even ones from 0 to 198 → 50 wins.
        "last_win_rate": 0.5,
    }  # fmt: skip
    live = runs["live"]
    assert live["status"] == "running" and live["end_time"] is None
    assert 19 <= live["duration_s"] < 120
    assert live["stats"]["last_win_rate"] is None and live["stats"]["finished"] == 4
    dead = runs["dead"]
    assert dead["status"] == "failed"  # stale heartbeat
    assert dead["duration_s"] == pytest.approx(3600, abs=1)  # up to its last heartbeat
    assert _ids(api, status="running") == ["live"]
    assert _ids(api, status="failed") == ["dead"]

    detail = api.get("/api/training-runs/done").json()
    assert detail["stats"] == done["stats"] and detail["duration_s"] == 200.0

    # A run long enough for the list's sparkline to come from the rollups: its last win rate
    # is still the exact mean of the last 100 wins (episodes 1,900..1,999; one in four won).
    store.write(_run("long", episodes=2000, win=lambda i: float(i % 4 == 0)))
    long = next(x for x in api.get("/api/training-runs").json() if x["id"] == "long")
    assert long["metrics"]["sampled"] is True
    assert long["stats"]["last_win_rate"] == 0.25
    assert api.get("/api/training-runs/long").json()["stats"] == long["stats"]
    assert detail["notes"] is None and detail["tags"] == ["x", "y"]
