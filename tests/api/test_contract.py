"""Requests are held to the OpenAPI document: its paths, their methods (OPTIONS and 405 name
them all in Allow) and their query parameters are all there is; every error is `{"detail"}`
with one sentence."""

from __future__ import annotations

import httpx

from rltrack.tracking.store import Store
from tests.api.conftest import run_events


def test_methods_are_the_documented_ones(api: httpx.Client, store: Store) -> None:
    store.write(run_events("m", episodes=1))
    r = api.options("/api/training-runs/m")
    assert r.status_code == 204 and r.headers["allow"] == "GET, PATCH, DELETE, OPTIONS"
    assert api.options("/api/health").headers["allow"] == "GET, OPTIONS"
    for method in ("PUT", "POST", "TRACE", "HEAD"):
        r = api.request(method, "/api/training-runs/m")
        assert r.status_code == 405 and r.headers["allow"] == "GET, PATCH, DELETE, OPTIONS"
        assert method == "HEAD" or method in r.json()["detail"]
    r = api.request("DELETE", "/api/training-runs/m/episodes")
    assert r.status_code == 405 and r.headers["allow"] == "GET, OPTIONS"
    # A path no route has is a 404 whatever the method, the dashboard's paths aside.
    for method in ("GET", "PATCH", "OPTIONS"):
        r = api.request(method, "/api/no-such-route")
        assert r.status_code == 404 and "/api/no-such-route" in r.json()["detail"]


def test_unknown_query_parameters_are_refused(api: httpx.Client, store: Store) -> None:
    store.write(run_events("q", episodes=3))
    r = api.get("/api/training-runs/q/episodes", params={"limt": 1})
    assert r.status_code == 422
    assert "'limt'" in r.json()["detail"] and "limit" in r.json()["detail"]
    assert api.get("/api/health", params={"x": ""}).status_code == 422
    assert api.get("/api/training-runs", params={"param.algo": "ppo"}).status_code == 200
    assert api.get("/api/training-runs", params={"paramalgo": "ppo"}).status_code == 422
    r = api.get("/api/training-runs/q/episodes", params={"limit": 2, "sort": "-index"})
    assert [e["index"] for e in r.json()["items"]] == [2, 1]


def test_validation_errors_are_one_sentence(api: httpx.Client, store: Store) -> None:
    store.write(run_events("v", episodes=1))
    r = api.get("/api/training-runs", params={"limit": 0, "sort": "nope"})
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert isinstance(detail, str) and "limit: Input should be" in detail and "; " in detail
    assert "sort: Input should be 'start_time'" in detail
    r = api.get("/api/training-runs/v%00x")
    assert r.status_code == 422 and "NUL" in r.json()["detail"]
