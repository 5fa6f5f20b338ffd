"""Live updates: the Server-Sent Events stream of run progress."""

from __future__ import annotations

import datetime as dt
import json
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from rltrack.api.routes import events
from rltrack.testing.postgres import PostgresServer
from rltrack.tracking.store import Store, open_store
from rltrack.training.events import Heartbeat, RunEnded
from tests.api.conftest import LiveServer, run_events


@pytest.fixture(autouse=True)
def fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events, "POLL_S", 0.1)
    monkeypatch.setattr(events, "KEEPALIVE_S", 0.6)
    monkeypatch.setattr(events, "CHECK_S", 0.05)


class Stream:
    """Reads an event stream in a thread, so that a test can wait for a message with a
    deadline instead of blocking on the socket. The thread that reads is the one that closes
    the stream (a socket closed under a blocked read would not reach the server)."""

    def __init__(self, client: httpx.Client, params: dict[str, str] | None = None) -> None:
        self.messages: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.skipped: list[tuple[str, Any]] = []  # what next() passed over
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._read, args=(client, params), daemon=True)
        self.thread.start()
        self.response: httpx.Response = self.next("open")

    def _read(self, client: httpx.Client, params: dict[str, str] | None) -> None:
        event = None
        try:
            with client.stream("GET", "/api/events", params=params, timeout=30) as response:
                self.messages.put(("open", response))
                for line in response.iter_lines():
                    if self._stop.is_set():
                        break
                    if line.startswith(":"):
                        self.messages.put(("comment", line[1:].strip()))
                    elif line.startswith("event: "):
                        event = line.removeprefix("event: ")
                    elif line.startswith("data: "):
                        data = json.loads(line.removeprefix("data: "))
                        self.messages.put((event or "message", data))
        except httpx.HTTPError:
            pass
        self.messages.put(("closed", None))

    def next(self, kind: str = "run", timeout: float = 10) -> Any:
        """The next message of this kind (others are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {kind} message within {timeout} s")
            try:
                got, data = self.messages.get(timeout=left)
            except queue.Empty:
                continue
            if got == kind:
                return data
            self.skipped.append((got, data))
            if got == "closed":
                raise AssertionError(f"the stream ended while waiting for {kind}")

    def close(self) -> None:
        """Disconnect at the next line the server sends (a keepalive at the latest)."""
        self._stop.set()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive()


@pytest.fixture
def stream(api: httpx.Client) -> Iterator[Any]:
    opened: list[Stream] = []

    def open_(**params: str) -> Stream:
        s = Stream(api, params)
        opened.append(s)
        return s

    yield open_
    for s in opened:
        s.close()


def _running(store: Store, run_id: str) -> None:
    now = dt.datetime.now(dt.UTC)
    store.write(run_events(run_id, episodes=2, status="running", start=now))


def test_run_updates(api: httpx.Client, store: Store, stream: Any) -> None:
    store.write(run_events("finished-before", episodes=3))
    _running(store, "live")
    s = stream()
    assert s.response.status_code == 200
    assert s.response.headers["content-type"].startswith("text/event-stream")
    # On connecting: the runs that are running, as they are.
    assert s.next() == {"run_id": "live", "status": "running", "episodes": 0, "timesteps": 0}

    store.write([Heartbeat("live", timesteps=500, episodes=7)])
    assert s.next() == {"run_id": "live", "status": "running", "episodes": 7, "timesteps": 500}
    store.write(run_events("newcomer", episodes=4))
    assert s.next() == {
        "run_id": "newcomer", "status": "completed", "episodes": 4, "timesteps": 40,
    }  # fmt: skip
    store.write([RunEnded("live", "stopped", timesteps=600, episodes=8)])
    assert s.next() == {"run_id": "live", "status": "stopped", "episodes": 8, "timesteps": 600}
    # Nothing changes: a keepalive comment keeps proxies from closing the stream.
    assert s.next("comment") == "keepalive"


def test_one_run(api: httpx.Client, store: Store, stream: Any) -> None:
    store.write(run_events("done", episodes=3))
    _running(store, "busy")
    s = stream(run_id="done")
    # The run asked for is sent on connecting even when it is not running.
    assert s.next() == {"run_id": "done", "status": "completed", "episodes": 3, "timesteps": 30}
    store.write([Heartbeat("busy", timesteps=10, episodes=1)])
    store.write(run_events("done-too", episodes=1))
    assert s.next("comment") == "keepalive"  # several polls later: nothing about other runs
    assert s.skipped == []
    waiting = stream(run_id="not-yet")
    store.write(run_events("not-yet", episodes=2))
    assert waiting.next()["run_id"] == "not-yet"


def test_disconnect_and_shutdown_end_the_stream(sqlite_url: str) -> None:
    """The HTTP side of the stream, the same whatever the database: SQLite only."""
    open_store(sqlite_url).close()
    server = LiveServer(sqlite_url)
    server.start()
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        s = Stream(client)
        s.next("comment")  # the stream is live
        s.close()
        # The server notices the client went away and closes its connection (a server that
        # did not would keep it until shutdown: the deadline only bounds the wait).
        deadline = time.monotonic() + 60
        while server.server.server_state.connections and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not server.server.server_state.connections

        s = Stream(client)
        s.next("comment")
        server.stop()  # with a client still listening: joins the server thread (15 s at most)
        assert not server.thread.is_alive()
        assert s.next("closed") is None


def test_database_outage_is_an_error_event(pg_server: PostgresServer, pg_url: str) -> None:
    store = open_store(pg_url)
    _running(store, "survivor")
    server = LiveServer(pg_url)
    server.start()
    try:
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            s = Stream(client)
            assert s.next()["run_id"] == "survivor"
            pg_server.stop()
            try:
                assert s.next("error", timeout=20)["detail"]
            finally:
                pg_server.start()
            store.write([Heartbeat("survivor", timesteps=99, episodes=9)])
            assert s.next(timeout=30)["episodes"] == 9
            s.close()
    finally:
        server.stop()
        store.close()
