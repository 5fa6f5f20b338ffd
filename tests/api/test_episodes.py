"""Episode pages and the model of an episode, over a live server."""

from __future__ import annotations

from typing import Any

import httpx

from rltrack.tracking.store import Store
from tests.api.conftest import CONFIG, run_events


def _pages(api: httpx.Client, run: str, **params: Any) -> list[dict[str, Any]]:
    pages, after = [], None
    while True:
        query = {**params, **({"after": after} if after is not None else {})}
        r = api.get(f"/api/training-runs/{run}/episodes", params=query)
        assert r.status_code == 200, r.text
        page = r.json()
        pages.append(page)
        after = page["next_cursor"]
        if after is None:
            return pages


def test_pages_join_to_every_episode_once(api: httpx.Client, store: Store) -> None:
    store.write(run_events("paged", episodes=250, started=(248, 249)))
    store.write(run_events("other", episodes=5))
    pages = _pages(api, "paged", limit=40)
    assert len(pages) == 7
    items = [item for page in pages for item in page["items"]]
    assert [i["index"] for i in items] == list(range(250))
    assert len({i["id"] for i in items}) == 250
    assert all(page["total"] == 250 for page in pages)
    assert all(len(page["items"]) == 40 for page in pages[:-1])

    first = items[3]
    assert first["run_id"] == "paged" and first["status"] == "completed"
    assert first["total_reward"] == 3.0 and first["steps"] == 10 and first["epsilon"] == 0.5
    assert first["metrics"] == {"pnl": 3.0}
    assert first["start_time"].startswith("2026-01-01T00:00:03")
    assert items[249]["status"] == "started" and items[249]["total_reward"] is None

    started = _pages(api, "paged", status="started")
    assert [i["index"] for p in started for i in p["items"]] == [248, 249]
    high = _pages(api, "paged", min_reward=8, max_reward=9, limit=7)
    high_items = [i for p in high for i in p["items"]]
    assert {i["total_reward"] for i in high_items} == {8.0, 9.0}
    assert len(high_items) == high[0]["total"] == 48  # 248 and 249 are in flight


def test_episode_page_errors(api: httpx.Client, store: Store) -> None:
    store.write(run_events("errs", episodes=3))
    assert api.get("/api/training-runs/no-such-run/episodes").status_code == 404
    for params in (
        {"limit": 0}, {"limit": 100_000}, {"after": "x"}, {"status": "running"},
        {"min_reward": "nan"}, {"min_reward": 5, "max_reward": 1}, {"after": 2**70},
    ):  # fmt: skip
        r = api.get("/api/training-runs/errs/episodes", params=params)
        assert r.status_code == 422, params
        assert r.json()["detail"]
    past_end = api.get("/api/training-runs/errs/episodes", params={"after": 10}).json()
    assert past_end == {"items": [], "total": 3, "next_cursor": None}


def _episode_ids(api: httpx.Client, run: str) -> dict[int, int]:
    pages = _pages(api, run, limit=1000)
    return {i["index"]: i["id"] for p in pages for i in p["items"]}


def test_model_of_an_episode(api: httpx.Client, store: Store) -> None:
    store.write(run_events("model", episodes=80, checkpoints=(10, 50)))
    ids = _episode_ids(api, "model")

    def model(index: int) -> dict[str, Any]:
        r = api.get(f"/api/v1/episodes/{ids[index]}/model")
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    assert model(5) == {"parameters": CONFIG, "checkpoint": None}
    at_10 = model(10)["checkpoint"]
    assert at_10["path"] == "/ck/model/ep10.zip" and at_10["episode_index"] == 10
    assert model(49)["checkpoint"]["path"] == "/ck/model/ep10.zip"
    assert model(50)["checkpoint"]["path"] == "/ck/model/ep50.zip"
    last = model(79)
    assert last["checkpoint"]["path"] == "/ck/model/ep50.zip"
    assert last["parameters"] == CONFIG
    assert {"id", "timestep", "kind", "sha256", "size", "created_at"} <= set(last["checkpoint"])

    assert api.get("/api/v1/episodes/999999999/model").status_code == 404
    assert "detail" in api.get("/api/v1/episodes/999999999/model").json()
    assert api.get("/api/v1/episodes/-1/model").status_code == 422
    assert api.get("/api/v1/episodes/abc/model").status_code == 422
    assert api.get(f"/api/v1/episodes/{2**64}/model").status_code == 422


def test_model_route_documents_what_is_per_run(api: httpx.Client) -> None:
    spec = api.get("/openapi.json").json()
    op = spec["paths"]["/api/v1/episodes/{episode_id}/model"]["get"]
    text = op["description"].lower()
    assert "hyperparameters are per run" in text
    assert "weights are per checkpoint" in text


def test_non_finite_rewards_are_null_not_a_500(api: httpx.Client, store: Store) -> None:
    odd = {1: float("nan"), 2: float("inf"), 3: float("-inf")}
    store.write(run_events("odd", episodes=6, reward=lambda i: odd.get(i, 1.0)))
    r = api.get("/api/training-runs/odd/episodes")
    assert r.status_code == 200, r.text
    rewards = [i["total_reward"] for i in r.json()["items"]]
    assert rewards[0] == 1.0 and rewards[4] == 1.0
    assert all(v is None for v in rewards[1:4])
    for path in ("/api/training-runs/odd", "/api/training-runs"):
        assert api.get(path).status_code == 200
    assert api.get("/api/training-runs/odd", params={"max_points": 2}).status_code == 200
