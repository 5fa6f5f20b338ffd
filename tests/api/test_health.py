"""Health, the database going away and coming back, and the `rltrack serve` command."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from rltrack.testing.postgres import PostgresServer, free_port
from rltrack.tracking.store import Store, open_store
from tests.api.conftest import run_events, serve


def test_health_ok(api: httpx.Client) -> None:
    r = api.get("/api/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "ok"}


def _wait_for(client: httpx.Client, path: str, status: int, timeout: float = 30) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        r = client.get(path)
        if r.status_code == status or time.monotonic() > deadline:
            return r
        time.sleep(0.2)


def test_postgres_outage_is_503_with_retry_after_then_recovers(
    pg_server: PostgresServer, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RLTRACK_API_KEY", "k")
    store: Store = open_store(pg_url)
    store.write(run_events("outage", episodes=20))
    store.close()
    for api in serve(pg_url):
        assert api.get("/api/health").status_code == 200
        assert len(api.get("/api/training-runs").json()) == 1
        pg_server.stop()
        try:
            for path in (
                "/api/health", "/api/training-runs", "/api/training-runs/outage",
                "/api/training-runs/outage/episodes", "/api/training-runs/agents/list",
                "/api/v1/episodes/1/model", "/api/training-runs/outage/episodes/summary",
                "/api/training-runs/outage/metrics", "/api/training-runs/outage/checkpoints",
                "/api/training-runs/outage/evaluations", "/api/training-runs/outage/artifacts",
                "/api/training-runs/outage/export", "/api/episodes/1",
                "/api/compare?run_ids=a,b", "/api/artifacts/1/download",
                "/api/checkpoints/1/download",
            ):  # fmt: skip
                r = api.get(path)
                assert r.status_code == 503, (path, r.text)
                assert r.headers["retry-after"] == "5"
                assert r.json()["detail"]
            headers = {"X-API-Key": "k"}
            for r in (
                api.patch("/api/training-runs/outage", json={"notes": "n"}, headers=headers),
                api.delete("/api/training-runs/outage", headers=headers),
            ):
                assert r.status_code == 503 and r.headers["retry-after"] == "5", r.text
        finally:
            pg_server.start()
        r = _wait_for(api, "/api/health", 200)
        assert r.status_code == 200 and r.json() == {"status": "ok", "database": "ok"}
        runs = api.get("/api/training-runs")
        assert runs.status_code == 200 and [x["id"] for x in runs.json()] == ["outage"]


def test_rltrack_serve_command(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'served.db'}"
    store = open_store(url)
    store.write(run_events("served", episodes=5))
    store.close()
    port = free_port()
    env = {**os.environ, "RLTRACK_HOME": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rltrack.cli", "serve", "--port", str(port), "--db", url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/training-runs", timeout=5)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "rltrack serve did not answer"
                time.sleep(0.2)
        assert r.status_code == 200
        assert [x["id"] for x in r.json()] == ["served"]
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_database_away_at_startup_is_503_not_a_crash() -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing"
    for api in serve(url):
        r = api.get("/api/health")
        assert r.status_code == 503
        assert r.headers["retry-after"] == "5"
        assert r.json()["database"] == "unavailable"
        r = api.get("/api/training-runs")
        assert r.status_code == 503 and r.json()["detail"]
