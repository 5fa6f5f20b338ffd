"""A real uvicorn server on a free loopback port, over a database filled through the store."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from rltrack.api import create_app
from rltrack.api.app import GRACEFUL_SHUTDOWN_S
from rltrack.testing.postgres import free_port
from rltrack.tracking.store import Store, open_store
from rltrack.training.events import (
    CheckpointSaved,
    EpisodeEnded,
    EpisodeStarted,
    Event,
    RunEnded,
    RunStarted,
)

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
CONFIG = {"algo": "ppo", "learning_rate": 0.0003, "gamma": 0.99, "net": {"layers": [64, 64]}}


class LiveServer:
    """uvicorn serving the app in a background thread."""

    def __init__(self, db_url: str) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(db_url), host="127.0.0.1", port=self.port, log_level="warning",
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        )  # fmt: skip
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self, timeout: float = 20.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while True:
            try:
                httpx.get(f"{self.base_url}/api/health", timeout=5)
                return
            except httpx.TransportError:
                if time.monotonic() > deadline or not self.thread.is_alive():
                    raise RuntimeError("the API server did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = open_store(db_url)
    yield s
    s.close()


def serve(db_url: str) -> Iterator[httpx.Client]:
    server = LiveServer(db_url)
    server.start()
    try:
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            yield client
    finally:
        server.stop()


@pytest.fixture
def api(db_url: str, store: Store) -> Iterator[httpx.Client]:
    """A client of a live server over ``db_url`` (whose schema ``store`` created)."""
    yield from serve(db_url)


def run_events(
    run_id: str,
    *,
    episodes: int,
    agent_id: str | None = "agent-a",
    start: dt.datetime = T0,
    reward: Any = None,
    win: Any = None,
    checkpoints: Iterable[int] = (),
    started: Iterable[int] = (),
    status: str = "completed",
    metrics: Any = None,
    config: dict[str, Any] | None = None,
    tags: tuple[str, ...] = (),
) -> list[Event]:
    """A finished run with ``episodes`` episodes; ``reward(i)``, ``win(i)`` and ``metrics(i)``
    give their values (reward i % 10, no win, pnl i by default); ``started`` are left in
    flight. ``status="running"`` leaves the run running (no RunEnded)."""
    reward = reward or (lambda i: float(i % 10))
    win = win or (lambda i: None)
    metrics = metrics or (lambda i: {"pnl": float(i)})
    in_flight = set(started)
    events: list[Event] = [
        RunStarted(
            run_id=run_id,
            name=f"name-{run_id}",
            algorithm="ppo",
            env_id="CartPole-v1",
            backend="sb3",
            config=CONFIG if config is None else config,
            agent_id=agent_id,
            tags=tags,
            seed=7,
            metadata={"purpose": "api test"},
            time=start,
        )  # fmt: skip
    ]
    for i in range(episodes):
        t = start + dt.timedelta(seconds=i)
        if i in in_flight:
            events.append(EpisodeStarted(run_id, i, env_slot=0, start_timestep=10 * i, time=t))
            continue
        events.append(
            EpisodeEnded(
                run_id=run_id,
                index=i,
                env_slot=0,
                status="completed",
                start_timestep=10 * i,
                end_timestep=10 * i + 10,
                steps=10,
                total_reward=reward(i),
                start_time=t,
                win=win(i),
                epsilon=0.5,
                metrics=metrics(i),
                time=t + dt.timedelta(milliseconds=500),
            )  # fmt: skip
        )
    for idx in checkpoints:
        events.append(
            CheckpointSaved(
                run_id=run_id,
                path=f"/ck/{run_id}/ep{idx}.zip",
                timestep=10 * idx,
                episode_index=idx,
                sha256="0" * 64,
                size=123,
                kind="periodic",
                time=start + dt.timedelta(seconds=idx),
            )  # fmt: skip
        )
    if status == "running":
        return events
    events.append(
        RunEnded(
            run_id=run_id,
            status=status,  # type: ignore[arg-type]
            timesteps=10 * episodes,
            episodes=episodes,
            time=start + dt.timedelta(seconds=episodes),
        )  # fmt: skip
    )
    return events
