"""Tests of RunLogger against a real store: nothing emitted is lost, writes are batched,
heartbeats keep a run alive with its progress, and flush/close honour their timeouts."""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from rltrack.tracking.logger import RunLogger
from rltrack.tracking.sql.store import SqlStore
from rltrack.tracking.store import StoreError
from rltrack.training.events import (
    CheckpointRemoved,
    CheckpointSaved,
    EpisodeEnded,
    EpisodeStarted,
    Event,
    MetricsLogged,
    RunEnded,
    RunStarted,
)


class RecordingStore(SqlStore):
    """The real SQL store, remembering the size of every batch it was asked to write."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.batches: list[int] = []

    def write(self, events: Sequence[Event]) -> None:
        super().write(events)
        self.batches.append(len(events))


@pytest.fixture
def store(db_url: str) -> Iterator[RecordingStore]:
    s = RecordingStore(db_url)
    yield s
    s.close()


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[RecordingStore]:
    s = RecordingStore(sqlite_url)
    yield s
    s.close()


def run_started(**kw: object) -> RunStarted:
    fields: dict[str, object] = {
        "run_id": uuid.uuid4().hex, "name": "logger-test", "algorithm": "ppo",
        "env_id": "CartPole-v1", "backend": "sb3", "config": {"seed": 1},
    }  # fmt: skip
    fields.update(kw)
    return RunStarted(**fields)  # type: ignore[arg-type]


def episode_events(run_id: str, index: int, steps: int = 10) -> tuple[Event, Event]:
    start = index * steps
    started = EpisodeStarted(run_id, index, index % 4, start)
    ended = EpisodeEnded(
        run_id=run_id, index=index, env_slot=index % 4, status="completed",
        start_timestep=start, end_timestep=start + steps, steps=steps,
        total_reward=float(index), start_time=started.time, metrics={"pnl": index / 2},
    )  # fmt: skip
    return started, ended


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_everything_emitted_is_written_after_close(store: RecordingStore, tmp_path: Path) -> None:
    logger = RunLogger(store, batch_size=100, flush_interval_s=0.01, heartbeat_s=60)
    start = run_started()
    logger.emit(start)
    n = 750
    for i in range(n):
        started, ended = episode_events(start.run_id, i)
        logger.emit(started)
        logger.emit(ended)
        if i % 50 == 0:
            logger.emit(MetricsLogged(start.run_id, (i + 1) * 10, {"losses/loss": i / 10}))
    # One episode still in flight when training stops, finalized as truncated.
    logger.emit(EpisodeStarted(start.run_id, n, 0, n * 10))
    logger.emit(
        EpisodeEnded(
            run_id=start.run_id,
            index=n,
            env_slot=0,
            status="truncated",
            start_timestep=n * 10,
            end_timestep=n * 10 + 3,
            steps=3,
            total_reward=0.5,
            start_time=start.time,
        )  # fmt: skip
    )
    for k in range(3):
        path = str(tmp_path / f"step_{k}.zip")
        logger.emit(CheckpointSaved(start.run_id, path, k * 100, k, "0" * 64, 10, "periodic"))
    logger.emit(CheckpointRemoved(start.run_id, str(tmp_path / "step_0.zip")))
    logger.emit(RunEnded(start.run_id, "completed", n * 10 + 3, n + 1))
    assert logger.close(timeout=30) == "written"
    assert logger.failure is None

    assert store.count_episodes(start.run_id) == {"completed": n, "truncated": 1}
    episodes = store.list_episodes(start.run_id)
    assert [e.index for e in episodes] == list(range(n + 1))
    assert episodes[123].metrics == {"pnl": 61.5}
    assert len(store.list_metrics(start.run_id, key="losses/loss")) == n // 50
    assert [Path(c.path).name for c in store.list_checkpoints(start.run_id)] == [
        "step_1.zip",
        "step_2.zip",
    ]
    run = store.get_run(start.run_id)
    assert run.status == "completed"
    assert (run.timesteps, run.episodes) == (n * 10 + 3, n + 1)
    assert logger.written == sum(store.batches)


def test_events_are_written_in_batches(store: RecordingStore) -> None:
    logger = RunLogger(store, batch_size=64, flush_interval_s=0.01, heartbeat_s=60)
    start = run_started()
    logger.emit(start)
    for i in range(400):
        for event in episode_events(start.run_id, i):
            logger.emit(event)
    assert logger.close(timeout=30)
    total = 1 + 2 * 400
    assert sum(store.batches) == total
    assert max(store.batches) <= 64
    # Far fewer transactions than events: at least the full batches are used.
    assert len(store.batches) <= total // 64 + 10
    assert store.count_episodes(start.run_id) == {"completed": 400}


def test_flush_makes_events_visible_before_close(store: RecordingStore) -> None:
    # The writer sleeps for an hour between rounds: only flush waking it can write the
    # events within flush's timeout (no assertion on how long it took).
    logger = RunLogger(store, flush_interval_s=3600.0, heartbeat_s=7200)
    try:
        start = run_started()
        logger.emit(start)
        for event in episode_events(start.run_id, 0):
            logger.emit(event)
        assert logger.flush(timeout=120) is True
        assert store.count_episodes(start.run_id) == {"completed": 1}
    finally:
        logger.close(timeout=30)


def test_heartbeat_carries_progress_and_keeps_the_run_alive(
    store: RecordingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RLTRACK_STALE_S", "30")
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
    start = run_started(time=long_ago)
    store.write([start])
    assert store.get_run(start.run_id).status == "failed"  # stale until the logger beats

    logger = RunLogger(store, flush_interval_s=0.02, heartbeat_s=0.05)
    try:
        logger.emit(start)
        for i in range(3):
            for event in episode_events(start.run_id, i, steps=100):
                logger.emit(event)
        logger.emit(MetricsLogged(start.run_id, 512, {"charts/SPS": 1000.0}))
        assert wait_for(lambda: store.get_run(start.run_id).heartbeat_at != start.time)
        assert wait_for(lambda: store.get_run(start.run_id).timesteps == 512)
        run = store.get_run(start.run_id)
        assert run.status == "running"
        assert run.error is None
        assert run.episodes == 3
        assert run.heartbeat_at is not None
        assert dt.datetime.now(dt.UTC) - run.heartbeat_at < dt.timedelta(seconds=10)

        # The beat keeps going while the run lives.
        first = run.heartbeat_at
        assert wait_for(lambda: store.get_run(start.run_id).heartbeat_at != first)
    finally:
        logger.close(timeout=10)


def test_no_heartbeat_after_the_run_ended(store: RecordingStore) -> None:
    logger = RunLogger(store, flush_interval_s=0.02, heartbeat_s=0.05)
    start = run_started()
    end = RunEnded(start.run_id, "completed", 100, 2)
    try:
        logger.emit(start)
        logger.emit(end)
        assert logger.flush(timeout=10)
        time.sleep(0.3)  # several heartbeat periods
        assert logger.flush(timeout=10)
    finally:
        logger.close(timeout=10)
    run = store.get_run(start.run_id)
    assert run.status == "completed"
    assert run.heartbeat_at == end.time
    assert (run.timesteps, run.episodes) == (100, 2)


def test_emit_does_not_wait_for_a_locked_database(sqlite_store: RecordingStore) -> None:
    logger = RunLogger(sqlite_store, batch_size=100, flush_interval_s=0.01, heartbeat_s=60)
    start = run_started()
    db = sqlite_store.engine.url.database
    assert db is not None
    other = sqlite3.connect(db, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        # Every emit returns while the lock is held: the events wait in the logger's queue.
        logger.emit(start)
        for i in range(2000):
            for event in episode_events(start.run_id, i):
                logger.emit(event)
        assert logger.written == 0
        # Nothing can be written while the lock is held: flush gives up at its timeout
        # and says so, instead of waiting for the lock.
        assert logger.flush(timeout=0.3) is False
        assert logger.written == 0
    finally:
        other.execute("ROLLBACK")
        other.close()
    # Once the lock is gone, everything lands.
    assert logger.close(timeout=60) == "written"
    assert sqlite_store.count_episodes(start.run_id) == {"completed": 2000}


def test_flush_and_close_report_events_that_could_not_be_written(store: RecordingStore) -> None:
    # `rltrack train` warns that records could not be kept when close() says "failed".
    logger = RunLogger(store, flush_interval_s=0.01, heartbeat_s=60)
    try:
        # An episode of a run that was never started cannot be stored (foreign key).
        for event in episode_events(uuid.uuid4().hex, 0):
            logger.emit(event)
        assert logger.flush(timeout=10) is False
        assert isinstance(logger.failure, StoreError)
    finally:
        closed = logger.close(timeout=5)
    assert closed == "failed"


def test_one_bad_event_does_not_lose_the_rest_of_its_batch(store: RecordingStore) -> None:
    logger = RunLogger(store, flush_interval_s=0.5, heartbeat_s=60)
    start = run_started()
    logger.emit(start)
    for i in range(5):
        for event in episode_events(start.run_id, i):
            logger.emit(event)
    orphan = episode_events(uuid.uuid4().hex, 0)
    for event in orphan:
        logger.emit(event)  # lands in the same batch as the good ones
    logger.close(timeout=10)
    assert store.count_episodes(start.run_id) == {"completed": 5}
