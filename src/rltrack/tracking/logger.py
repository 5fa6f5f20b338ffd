"""RunLogger: takes events from a training backend and writes them in batches on a thread.

``emit`` only appends to a queue, so training never waits for the database. A writer thread
takes whatever has queued up (at most ``batch_size`` events) and writes it in one transaction.
Every ``heartbeat_s`` seconds it also writes a heartbeat with the run's progress counters.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable

from rltrack.tracking.store import Store, StoreError, UnavailableError
from rltrack.training.events import (
    EpisodeEnded,
    Event,
    Heartbeat,
    MetricsLogged,
    RunEnded,
    RunStarted,
)

log = logging.getLogger(__name__)


def heartbeat_interval_s() -> float:
    return float(os.environ.get("RLTRACK_HEARTBEAT_S", "5"))


class RunLogger:
    """An :class:`~rltrack.training.events.EventSink` that persists events to a store."""

    def __init__(
        self,
        store: Store,
        *,
        batch_size: int = 1000,
        flush_interval_s: float = 0.25,
        heartbeat_s: float | None = None,
        on_unavailable: Callable[[Exception], None] | None = None,
    ) -> None:
        self.store = store
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.heartbeat_s = heartbeat_interval_s() if heartbeat_s is None else heartbeat_s
        self.on_unavailable = on_unavailable
        self._queue: deque[Event] = deque()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Condition()
        self._in_flight = 0
        self._failure: BaseException | None = None
        # Progress per run, for heartbeats: (timesteps, finished episodes).
        self._progress: dict[str, list[int]] = {}
        self._ended: set[str] = set()
        self._last_beat = time.monotonic()
        self.written = 0
        self._thread = threading.Thread(target=self._run, name="rltrack-writer", daemon=True)
        self._thread.start()

    # -- the training side ------------------------------------------------------------
    def emit(self, event: Event) -> None:
        if isinstance(event, EpisodeEnded):
            p = self._progress.setdefault(event.run_id, [0, 0])
            p[1] += 1
            if event.end_timestep > p[0]:
                p[0] = event.end_timestep
        elif isinstance(event, MetricsLogged):
            p = self._progress.setdefault(event.run_id, [0, 0])
            if event.timestep > p[0]:
                p[0] = event.timestep
        elif isinstance(event, RunStarted):
            self._progress.setdefault(event.run_id, [0, 0])
        elif isinstance(event, RunEnded):
            self._ended.add(event.run_id)
        self._queue.append(event)
        if len(self._queue) >= self.batch_size:
            self._wake.set()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything emitted so far is written. False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        self._wake.set()
        with self._idle:
            while self._queue or self._in_flight:
                if self._failure is not None:
                    return False
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._idle.wait(0.05 if remaining is None else min(0.05, remaining))
                self._wake.set()
        return True

    def close(self, timeout: float | None = None) -> bool:
        ok = self.flush(timeout)
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5)
        return ok

    @property
    def failure(self) -> BaseException | None:
        return self._failure

    # -- the writer thread ------------------------------------------------------------
    def _run(self) -> None:
        while True:
            self._wake.wait(self.flush_interval_s)
            self._wake.clear()
            self._maybe_beat()
            while self._queue:
                batch = self._take()
                try:
                    self._write(batch)
                finally:
                    with self._idle:
                        self._in_flight = 0
                        self._idle.notify_all()
            with self._idle:
                self._idle.notify_all()
            if self._stop.is_set() and not self._queue:
                return

    def _take(self) -> list[Event]:
        n = min(len(self._queue), self.batch_size)
        with self._idle:
            self._in_flight = n
        return [self._queue.popleft() for _ in range(n)]

    def _write(self, batch: list[Event]) -> None:
        delay = 0.5
        while True:
            try:
                self.store.write(batch)
                self.written += len(batch)
                return
            except UnavailableError as exc:
                if self.on_unavailable is not None:
                    self.on_unavailable(exc)
                log.warning("database unavailable, retrying in %.1fs: %s", delay, exc)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
            except StoreError as exc:
                # A bug, not an outage: keep the failure for the caller, do not spin.
                self._failure = exc
                log.error("could not write %d events: %s", len(batch), exc)
                return

    def _maybe_beat(self) -> None:
        now = time.monotonic()
        if now - self._last_beat < self.heartbeat_s:
            return
        self._last_beat = now
        for run_id, (timesteps, episodes) in list(self._progress.items()):
            if run_id not in self._ended:
                self._queue.append(Heartbeat(run_id, timesteps=timesteps, episodes=episodes))
