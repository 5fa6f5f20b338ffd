"""Write routes: tags and notes, deleting a run, and the API key they need."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from rltrack.tracking.store import NotFoundError, Store
from rltrack.training.events import ArtifactSaved, EpisodeEnded, MetricsLogged, TradeRecord
from tests.api.conftest import T0, run_events

KEY = "s3cret-key"


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("RLTRACK_API_KEY", KEY)
    return {"X-API-Key": KEY}


def _ids(api: httpx.Client, **params: Any) -> list[str]:
    return [r["id"] for r in api.get("/api/training-runs", params=params).json()]


def test_writes_need_the_key(
    api: httpx.Client, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.write(run_events("guarded", episodes=2))
    monkeypatch.delenv("RLTRACK_API_KEY", raising=False)
    for headers in ({}, {"X-API-Key": "anything"}):
        r = api.patch("/api/training-runs/guarded", json={"notes": "x"}, headers=headers)
        assert r.status_code == 403
        assert r.json()["detail"] == (
            "write routes are disabled: set RLTRACK_API_KEY on the server"
        )
        assert api.delete("/api/training-runs/guarded", headers=headers).status_code == 403
    monkeypatch.setenv("RLTRACK_API_KEY", KEY)  # read at every request: no restart needed
    for headers in ({}, {"X-API-Key": "wrong"}, {"X-API-Key": KEY + "x"}, {"X-API-Key": ""}):
        r = api.patch("/api/training-runs/guarded", json={"notes": "x"}, headers=headers)
        assert r.status_code == 401, headers
        assert r.json()["detail"]
        assert api.delete("/api/training-runs/guarded", headers=headers).status_code == 401
    assert api.get("/api/training-runs/guarded").json()["notes"] is None  # nothing changed


def test_tags_and_notes(api: httpx.Client, store: Store, key: dict[str, str]) -> None:
    store.write(run_events("tagged", episodes=2, tags=("old", "keep")))
    store.write(run_events("untouched", episodes=2, tags=("old",)))
    assert _ids(api, tag="old") == ["untouched", "tagged"] or _ids(api, tag="old") == [
        "tagged", "untouched",
    ]  # fmt: skip

    r = api.patch("/api/training-runs/tagged", json={"tags": ["keep", "new", "new"]}, headers=key)
    assert r.status_code == 200, r.text
    assert r.json()["tags"] == ["keep", "new"] and r.json()["notes"] is None
    # The tag filter follows: the run left "old" and joined "new".
    assert _ids(api, tag="old") == ["untouched"]
    assert _ids(api, tag="new") == ["tagged"]
    assert _ids(api, tag="keep") == ["tagged"]

    r = api.patch("/api/training-runs/tagged", json={"notes": "lr too high?"}, headers=key)
    assert r.json()["notes"] == "lr too high?" and r.json()["tags"] == ["keep", "new"]
    both = api.patch("/api/training-runs/tagg", json={"tags": [], "notes": ""}, headers=key)
    assert both.status_code == 200  # an id prefix, as everywhere
    assert both.json()["tags"] == [] and both.json()["notes"] == ""
    assert _ids(api, tag="keep") == []
    assert api.get("/api/training-runs/tagged").json()["tags"] == []

    for body in (
        {}, {"tags": "a"}, {"tags": [""]}, {"tags": ["  "]}, {"tags": ["x" * 256]},
        {"notes": 5}, {"notes": "nul\x00"}, {"tags": ["nul\x00"]}, {"color": "red"},
        {"tags": [f"t{i}" for i in range(101)]},
    ):  # fmt: skip
        r = api.patch("/api/training-runs/untouched", json=body, headers=key)
        assert r.status_code == 422, body
        assert r.json()["detail"]
    r = api.patch(
        "/api/training-runs/untouched",
        content=b"not json",
        headers=key | {"Content-Type": "application/json"},
    )
    assert r.status_code == 422
    assert (
        api.patch("/api/training-runs/nope-nope", json={"notes": "x"}, headers=key).status_code
        == 404
    )
    assert api.get("/api/training-runs/untouched").json()["tags"] == ["old"]


def test_delete(api: httpx.Client, store: Store, key: dict[str, str]) -> None:
    store.write(run_events("doomed", episodes=20, checkpoints=(5,), tags=("x",)))
    store.write(run_events("child", episodes=2))
    traded = EpisodeEnded(
        run_id="doomed", index=20, env_slot=0, status="completed", start_timestep=0,
        end_timestep=1, steps=1, total_reward=1.0, start_time=T0,
        trades=(TradeRecord("long", 0, 1, 1.0, 2.0, 1.0, 1.0, 0.0),),
    )  # fmt: skip
    store.write(
        [
            traded, MetricsLogged("doomed", 10, {"loss": 1.0}),
            ArtifactSaved("doomed", "video", "v.mp4", size=1, created_at=T0),
        ]
    )  # fmt: skip
    now = dt.datetime.now(dt.UTC)
    store.write(run_events("busy", episodes=2, status="running", start=now))

    r = api.delete("/api/training-runs/busy", headers=key)
    assert r.status_code == 409 and "running" in r.json()["detail"]
    assert api.get("/api/training-runs/busy").status_code == 200

    page = api.get("/api/training-runs/doomed/episodes", params={"limit": 1000}).json()
    ids = [e["id"] for e in page["items"]]
    r = api.delete("/api/training-runs/doomed", headers=key)
    assert r.status_code == 204 and r.content == b""
    assert api.get("/api/training-runs/doomed").status_code == 404
    assert api.delete("/api/training-runs/doomed", headers=key).status_code == 404
    assert store.count_episodes_by_run(["doomed", "child"]) == {"child": 2}
    for episode_id in ids:
        with pytest.raises(NotFoundError):
            store.get_episode(episode_id)
    assert store.episode_trades(ids[-1]) == [] and store.list_metrics("doomed") == []
    assert store.list_checkpoints("doomed") == [] and store.list_artifacts("doomed") == []
    assert _ids(api, tag="x") == []
    assert sorted(_ids(api)) == ["busy", "child"]
