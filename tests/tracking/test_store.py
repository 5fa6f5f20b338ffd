"""Tests of SqlStore on SQLite and PostgreSQL: what is written reads back equal, writes are
idempotent, run lookup and listing, stale heartbeats, and SQLite's connection settings."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from rltrack.tracking.sql.store import SqlStore
from rltrack.tracking.store import (
    NotFoundError,
    RunFilter,
    SchemaError,
    StoreError,
    UnavailableError,
    open_store,
)
from rltrack.training.events import (
    CheckpointRemoved,
    CheckpointSaved,
    EpisodeEnded,
    EpisodeStarted,
    Event,
    Heartbeat,
    MetricsLogged,
    RunEnded,
    RunStarted,
    StepRecord,
    TradeRecord,
)
from tests.conftest import Cli

T0 = dt.datetime(2025, 5, 4, 10, 30, 15, 123456, tzinfo=dt.UTC)
CEST = dt.timezone(dt.timedelta(hours=2))
CONFIG: dict[str, Any] = {
    "algo": "dqn",
    "env": "CartPole-v1",
    "total_timesteps": 4096,
    "hyperparams": {"gamma": 0.98, "policy_kwargs": {"net_arch": [64, 64]}, "note": None},
    "tags": ["a", "b"],
    "progress": False,
    "unicode": "π ≈ 3.14",
}


@pytest.fixture
def store(db_url: str) -> Iterator[SqlStore]:
    s = SqlStore(db_url)
    yield s
    s.close()


def new_id() -> str:
    return uuid.uuid4().hex


def utc_aware(value: dt.datetime | None) -> bool:
    return value is not None and value.utcoffset() == dt.timedelta(0)


def run_started(run_id: str | None = None, **kw: Any) -> RunStarted:
    fields: dict[str, Any] = {
        "run_id": run_id or new_id(), "name": "CartPole-v1__dqn__0__x", "algorithm": "dqn",
        "env_id": "CartPole-v1", "backend": "sb3", "config": CONFIG, "agent_id": "agent-1",
        "seed": 7, "tags": ("nightly", "baseline"), "host": "box", "pid": 4242,
        "git_commit": "abc123", "total_timesteps": 4096, "metadata": {"python": "3.11"},
        # Now-ish, so that the run is alive; a fixed offset zone to check conversion to UTC.
        "time": dt.datetime.now(CEST),
    }  # fmt: skip
    fields.update(kw)
    return RunStarted(**fields)


def episode(
    run_id: str, index: int, *, status: str = "completed", slot: int = 0, **kw: Any
) -> tuple[EpisodeStarted, EpisodeEnded]:
    start_time = T0 + dt.timedelta(seconds=index)
    started = EpisodeStarted(run_id, index, slot, index * 10, agent_id="agent-1", time=start_time)
    fields: dict[str, Any] = {
        "run_id": run_id, "index": index, "env_slot": slot, "status": status,
        "start_timestep": index * 10, "end_timestep": index * 10 + 9, "steps": 9,
        "total_reward": 1.5 * index, "start_time": start_time, "agent_id": "agent-1",
        "win": 0.5, "epsilon": 0.05,
        "metrics": {"pnl": -3.25, "trades_count": 2, "flag": True, "label": "x", "gone": None},
        "time": start_time + dt.timedelta(milliseconds=750),
    }  # fmt: skip
    fields.update(kw)
    return started, EpisodeEnded(**fields)


TRADES = (
    TradeRecord("long", 1, 4, 100.0, 101.5, 2.0, 3.0, 0.1, entry_time=T0, exit_time=T0),
    TradeRecord("short", 5, 8, 101.5, 100.0, 1.0, 1.5, 0.05),
)
TRACE = (
    StepRecord(0, 1.0, 0.5, price=100.0, position=1.0, portfolio_value=1000.0),
    StepRecord(1, None, -0.25),
)


def full_batch(run_id: str, tmp_path: Path) -> list[Event]:
    ev: list[Event] = [run_started(run_id)]
    for i in range(3):
        started, ended = episode(run_id, i, slot=i % 2)
        if i == 1:
            ended = episode(run_id, i, slot=1, trades=TRADES, trace=TRACE)[1]
        ev += [started, ended]
    ev.append(EpisodeStarted(run_id, 3, 0, 30, time=T0))  # still in flight
    ev.append(MetricsLogged(run_id, 100, {"losses/td_loss": 0.25, "rollout/ep_rew": 9.0}, 2, T0))
    ev.append(MetricsLogged(run_id, 200, {"losses/td_loss": 0.125}, 3, T0))
    ev.append(
        CheckpointSaved(
            run_id,
            str(tmp_path / "step_1.zip"),
            100,
            1,
            "ab" * 32,
            1234,
            "periodic",
            {"mean_reward_100": 12.5},
            T0,
        )  # fmt: skip
    )
    return ev


def count_rows(store: SqlStore, table: str) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def trade_rows(store: SqlStore) -> list[dict[str, Any]]:
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(text("SELECT * FROM trades ORDER BY id")).mappings()]


def step_rows(store: SqlStore) -> list[dict[str, Any]]:
    with store.engine.connect() as conn:
        query = text("SELECT * FROM steps ORDER BY episode_id, step")
        return [dict(r) for r in conn.execute(query).mappings()]


# -- round trips -----------------------------------------------------------------------------
def test_run_reads_back_equal(store: SqlStore) -> None:
    start = run_started()
    store.write([start])
    run = store.get_run(start.run_id)
    assert run.id == start.run_id
    assert (run.name, run.algorithm, run.env_id, run.backend) == (
        start.name, "dqn", "CartPole-v1", "sb3",
    )  # fmt: skip
    assert run.status == "running"
    assert run.config == CONFIG
    assert run.tags == ["nightly", "baseline"]
    assert (run.agent_id, run.seed, run.host, run.pid, run.git_commit) == (
        "agent-1", 7, "box", 4242, "abc123",
    )  # fmt: skip
    assert run.metadata == {"python": "3.11"}
    assert run.total_timesteps == 4096
    assert run.start_time == start.time
    assert utc_aware(run.start_time)
    assert run.heartbeat_at == start.time
    assert run.end_time is None
    assert (run.timesteps, run.episodes, run.error) == (0, 0, None)


def test_episodes_read_back_equal(store: SqlStore, tmp_path: Path) -> None:
    run_id = new_id()
    batch = full_batch(run_id, tmp_path)
    store.write(batch)
    episodes = store.list_episodes(run_id)
    assert [e.index for e in episodes] == [0, 1, 2, 3]
    ended = {e.index: e for e in batch if isinstance(e, EpisodeEnded)}
    for ep in episodes[:3]:
        want = ended[ep.index]
        assert ep.run_id == run_id
        assert ep.status == "completed"
        assert ep.env_slot == want.env_slot
        assert ep.agent_id == "agent-1"
        assert (ep.start_timestep, ep.end_timestep, ep.steps) == (
            want.start_timestep, want.end_timestep, want.steps,
        )  # fmt: skip
        assert ep.total_reward == want.total_reward
        assert (ep.win, ep.epsilon) == (0.5, 0.05)
        assert ep.metrics == want.metrics
        assert ep.start_time == want.start_time and utc_aware(ep.start_time)
        assert ep.end_time == want.time and utc_aware(ep.end_time)
    in_flight = episodes[3]
    assert in_flight.status == "started"
    assert (in_flight.end_time, in_flight.end_timestep, in_flight.steps) == (None, None, None)
    assert in_flight.total_reward is None
    assert in_flight.metrics == {}
    assert store.list_episodes(run_id, status="started") == [in_flight]
    assert store.list_episodes(run_id, limit=2) == episodes[:2]
    assert store.list_episodes(new_id()) == []


def test_metrics_read_back_equal(store: SqlStore, tmp_path: Path) -> None:
    run_id = new_id()
    store.write(full_batch(run_id, tmp_path))
    metrics = store.list_metrics(run_id)
    assert [(m.key, m.timestep, m.value, m.episodes) for m in metrics] == [
        ("losses/td_loss", 100, 0.25, 2),
        ("losses/td_loss", 200, 0.125, 3),
        ("rollout/ep_rew", 100, 9.0, 2),
    ]
    assert all(m.wall_time == T0 and utc_aware(m.wall_time) for m in metrics)
    assert [m.timestep for m in store.list_metrics(run_id, key="losses/td_loss")] == [100, 200]


def test_checkpoints_read_back_equal(store: SqlStore, tmp_path: Path) -> None:
    run_id = new_id()
    store.write(full_batch(run_id, tmp_path))
    (ckpt,) = store.list_checkpoints(run_id)
    assert ckpt.run_id == run_id
    assert ckpt.path == str(tmp_path / "step_1.zip")
    assert (ckpt.timestep, ckpt.episode_index, ckpt.kind) == (100, 1, "periodic")
    assert (ckpt.sha256, ckpt.size) == ("ab" * 32, 1234)
    assert ckpt.metrics == {"mean_reward_100": 12.5}
    assert ckpt.created_at == T0 and utc_aware(ckpt.created_at)


def test_run_end_is_recorded(store: SqlStore) -> None:
    start = run_started()
    end_time = dt.datetime.now(dt.UTC)
    store.write([start])
    store.write(
        [RunEnded(start.run_id, "failed", 5000, 42, "ValueError: boom", {"sps": 900}, end_time)]
    )
    run = store.get_run(start.run_id)
    assert run.status == "failed"
    assert run.error == "ValueError: boom"
    assert (run.timesteps, run.episodes) == (5000, 42)
    assert run.end_time == end_time and utc_aware(run.end_time)
    # Metadata from the end is merged into what the start recorded.
    assert run.metadata == {"python": "3.11", "sps": 900}


def test_heartbeat_event_updates_progress(store: SqlStore) -> None:
    start = run_started()
    store.write([start])
    beat = dt.datetime.now(dt.UTC)
    store.write([Heartbeat(start.run_id, timesteps=1234, episodes=56, time=beat)])
    run = store.get_run(start.run_id)
    assert (run.timesteps, run.episodes) == (1234, 56)
    assert run.heartbeat_at == beat
    assert run.status == "running"


# -- idempotency -----------------------------------------------------------------------------
TABLES = ("runs", "run_tags", "episodes", "trades", "steps", "metrics", "checkpoints")


def test_writing_the_same_batch_twice_creates_no_duplicates(
    store: SqlStore, tmp_path: Path
) -> None:
    run_id = new_id()
    batch = full_batch(run_id, tmp_path)
    store.write(batch)
    counts = {t: count_rows(store, t) for t in TABLES}
    snapshot = (
        store.get_run(run_id),
        store.list_episodes(run_id),
        store.list_metrics(run_id),
        store.list_checkpoints(run_id),
        trade_rows(store),
        step_rows(store),
    )
    assert counts == {
        "runs": 1, "run_tags": 2, "episodes": 4, "trades": 2, "steps": 2, "metrics": 3,
        "checkpoints": 1,
    }  # fmt: skip

    store.write(batch)
    store.write(batch[1:])  # a replay without the run start, too
    assert {t: count_rows(store, t) for t in TABLES} == counts
    assert (
        store.get_run(run_id),
        store.list_episodes(run_id),
        store.list_metrics(run_id),
        store.list_checkpoints(run_id),
        trade_rows(store),
        step_rows(store),
    ) == snapshot


def test_started_then_ended_in_two_batches_keeps_one_final_row(store: SqlStore) -> None:
    start = run_started()
    started, ended = episode(start.run_id, 0, metrics={"pnl": 4.0})
    store.write([start, started])
    (first,) = store.list_episodes(start.run_id)
    assert first.status == "started"
    assert first.end_time is None

    store.write([ended])
    (final,) = store.list_episodes(start.run_id)
    assert final.id == first.id
    assert final.status == "completed"
    assert final.steps == 9
    assert final.end_time == ended.time
    assert final.metrics == {"pnl": 4.0}
    assert store.count_episodes(start.run_id) == {"completed": 1}


def test_late_started_replay_does_not_overwrite_the_final_row(store: SqlStore) -> None:
    start = run_started()
    started, ended = episode(start.run_id, 0, status="truncated")
    store.write([start, started, ended])
    # Replayed after the final row landed, alone and after the end within one batch.
    for replay in ([started], [ended, started], [started, started]):
        store.write(replay)
        (ep,) = store.list_episodes(start.run_id)
        assert ep.status == "truncated"
        assert ep.steps == 9
        assert ep.end_time == ended.time
        assert ep.metrics == ended.metrics


def test_final_row_can_be_corrected_by_a_later_end(store: SqlStore) -> None:
    start = run_started()
    started, ended = episode(start.run_id, 0, status="truncated", steps=3)
    store.write([start, started, ended])
    _, again = episode(start.run_id, 0, status="completed", steps=12)
    store.write([again])
    (ep,) = store.list_episodes(start.run_id)
    assert (ep.status, ep.steps) == ("completed", 12)


def test_trades_and_steps_are_linked_to_their_episode(store: SqlStore) -> None:
    start = run_started()
    s0, e0 = episode(start.run_id, 0)
    s1, e1 = episode(start.run_id, 1, trades=TRADES, trace=TRACE)
    store.write([start, s0, s1])
    store.write([e0, e1])
    store.write([e1])  # a replay of the end writes no second set of trades or steps
    episode_ids = {e.index: e.id for e in store.list_episodes(start.run_id)}

    trades = trade_rows(store)
    assert [t["episode_id"] for t in trades] == [episode_ids[1]] * 2
    assert [t["seq"] for t in trades] == [0, 1]
    first = trades[0]
    assert (first["direction"], first["entry_step"], first["exit_step"]) == ("long", 1, 4)
    assert (first["entry_price"], first["exit_price"], first["quantity"]) == (100.0, 101.5, 2.0)
    assert (first["pnl"], first["costs"]) == (3.0, 0.1)
    assert first["entry_time"] is not None
    assert trades[1]["direction"] == "short"
    assert trades[1]["entry_time"] is None

    steps = step_rows(store)
    assert [(s["episode_id"], s["step"]) for s in steps] == [(episode_ids[1], i) for i in (0, 1)]
    assert (steps[0]["action"], steps[0]["reward"], steps[0]["price"]) == (1.0, 0.5, 100.0)
    assert (steps[0]["position"], steps[0]["portfolio_value"]) == (1.0, 1000.0)
    assert (steps[1]["action"], steps[1]["price"], steps[1]["reward"]) == (None, None, -0.25)


def test_metric_rewritten_at_the_same_timestep_keeps_one_value(store: SqlStore) -> None:
    start = run_started()
    store.write([start, MetricsLogged(start.run_id, 10, {"loss": 1.0}, time=T0)])
    store.write([MetricsLogged(start.run_id, 10, {"loss": 2.0}, time=T0)])
    assert [(m.timestep, m.value) for m in store.list_metrics(start.run_id)] == [(10, 2.0)]


def test_nan_metric_does_not_lose_the_batch(store: SqlStore) -> None:
    # SB3 logs NaN for train/explained_variance when the returns have no variance, and a
    # diverging loss is NaN: the batch around it (episodes!) must still be written.
    start = run_started()
    started, ended = episode(start.run_id, 0)
    store.write(
        [
            start,
            started,
            MetricsLogged(start.run_id, 10, {"train/explained_variance": math.nan, "ok": 1.0}),
            MetricsLogged(start.run_id, 20, {"train/loss": math.inf}),
            ended,
        ]
    )
    assert [e.status for e in store.list_episodes(start.run_id)] == ["completed"]
    values = {m.key: m.value for m in store.list_metrics(start.run_id)}
    assert values["ok"] == 1.0
    assert "train/explained_variance" not in values or math.isnan(
        values["train/explained_variance"]
    )


# -- checkpoints -----------------------------------------------------------------------------
def test_checkpoint_removal_deletes_the_row(store: SqlStore, tmp_path: Path) -> None:
    start = run_started()
    other = run_started()

    def saved(run_id: str, name: str, step: int) -> CheckpointSaved:
        path = str(tmp_path / name)
        return CheckpointSaved(run_id, path, step, None, "0" * 64, 10, "periodic", time=T0)

    store.write([start, other, saved(start.run_id, "a.zip", 1), saved(start.run_id, "b.zip", 2)])
    store.write([saved(other.run_id, "a.zip", 1)])
    store.write([CheckpointRemoved(start.run_id, str(tmp_path / "a.zip"))])
    assert [Path(c.path).name for c in store.list_checkpoints(start.run_id)] == ["b.zip"]
    # The other run's checkpoint with the same path is untouched.
    assert [Path(c.path).name for c in store.list_checkpoints(other.run_id)] == ["a.zip"]
    # Saved and rotated out within one batch: never shows up.
    store.write(
        [saved(start.run_id, "c.zip", 3), CheckpointRemoved(start.run_id, str(tmp_path / "c.zip"))]
    )
    assert [Path(c.path).name for c in store.list_checkpoints(start.run_id)] == ["b.zip"]
    # Removing twice is harmless.
    store.write([CheckpointRemoved(start.run_id, str(tmp_path / "a.zip"))])
    assert count_rows(store, "checkpoints") == 2


def test_resaved_best_checkpoint_updates_its_row(store: SqlStore, tmp_path: Path) -> None:
    start = run_started()
    path = str(tmp_path / "best.zip")
    store.write([start, CheckpointSaved(start.run_id, path, 100, 3, "1" * 64, 10, "best")])
    store.write([CheckpointSaved(start.run_id, path, 300, 9, "2" * 64, 20, "best", {"r": 1.0})])
    (ckpt,) = store.list_checkpoints(start.run_id)
    assert (ckpt.timestep, ckpt.episode_index, ckpt.sha256, ckpt.size) == (300, 9, "2" * 64, 20)
    assert ckpt.metrics == {"r": 1.0}


# -- finding runs ----------------------------------------------------------------------------
def test_get_run_by_id_prefix_and_name(store: SqlStore) -> None:
    a = run_started("abcd1111" + "0" * 24, name="first")
    b = run_started("abcd2222" + "0" * 24, name="second")
    store.write([a, b])
    assert store.get_run(a.run_id).name == "first"
    assert store.get_run("abcd1").id == a.run_id
    assert store.get_run("abcd2222").id == b.run_id
    assert store.get_run("second").id == b.run_id


def test_get_run_unknown_raises_not_found(store: SqlStore) -> None:
    store.write([run_started("abcd1111" + "0" * 24, name="first")])
    for ref in ("ffff", "ffffffff" + "0" * 24, "nobody", "%", "abcd_111", ""):
        with pytest.raises(NotFoundError, match="no run"):
            store.get_run(ref)


def test_get_run_ambiguous_prefix_raises_not_found_listing_them(store: SqlStore) -> None:
    a = run_started("abcd1111" + "0" * 24, name="first")
    b = run_started("abcd2222" + "0" * 24, name="second")
    store.write([a, b])
    with pytest.raises(NotFoundError, match="several") as info:
        store.get_run("abcd")
    assert a.run_id in str(info.value) and b.run_id in str(info.value)


def test_get_run_with_a_name_shared_by_two_runs_is_ambiguous(store: SqlStore) -> None:
    store.write([run_started(name="same"), run_started(name="same")])
    with pytest.raises(NotFoundError, match="several"):
        store.get_run("same")


def test_list_runs_newest_first_and_filters(store: SqlStore) -> None:
    now = dt.datetime.now(dt.UTC)
    old = run_started(name="old", algorithm="ppo", agent_id="x", time=now - dt.timedelta(hours=2))
    mid = run_started(name="mid", env_id="Acrobot-v1", time=now - dt.timedelta(hours=1))
    new = run_started(name="new", agent_id="x", time=now)
    store.write([mid, new, old])
    store.write([RunEnded(old.run_id, "completed", 10, 1, time=now)])
    store.write([RunEnded(mid.run_id, "stopped", 10, 1, time=now)])

    def names(**kw: Any) -> list[str]:
        return [r.name for r in store.list_runs(RunFilter(**kw))]

    assert [r.name for r in store.list_runs()] == ["new", "mid", "old"]
    assert names(agent_id="x") == ["new", "old"]
    assert names(algorithm="ppo") == ["old"]
    assert names(env_id="Acrobot-v1") == ["mid"]
    assert names(status="completed") == ["old"]
    assert names(status="stopped") == ["mid"]
    assert names(status="running") == ["new"]
    assert names(status="failed") == []
    assert names(limit=2) == ["new", "mid"]
    assert names(limit=2, offset=1) == ["mid", "old"]
    assert names(agent_id="nobody") == []


def test_stale_heartbeat_is_reported_failed(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RLTRACK_STALE_S", "5")
    now = dt.datetime.now(dt.UTC)
    dead = run_started(name="dead", time=now - dt.timedelta(minutes=10))
    alive = run_started(name="alive", time=now)
    finished = run_started(name="finished", time=now - dt.timedelta(hours=1))
    store.write([dead, alive, finished])
    store.write([RunEnded(finished.run_id, "completed", 1, 1, time=now - dt.timedelta(hours=1))])

    run = store.get_run(dead.run_id)
    assert run.status == "failed"
    assert run.error == "heartbeat lost"
    assert store.get_run(alive.run_id).status == "running"
    assert store.get_run(finished.run_id).status == "completed"
    assert store.get_run(finished.run_id).error is None

    listed = {r.name: r for r in store.list_runs()}
    assert (listed["dead"].status, listed["dead"].error) == ("failed", "heartbeat lost")
    assert [r.name for r in store.list_runs(RunFilter(status="failed"))] == ["dead"]
    assert [r.name for r in store.list_runs(RunFilter(status="running"))] == ["alive"]

    # A heartbeat brings it back.
    store.heartbeat(dead.run_id, dt.datetime.now(dt.UTC))
    assert store.get_run(dead.run_id).status == "running"
    assert store.get_run(dead.run_id).error is None


def test_stale_threshold_comes_from_the_environment(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = run_started(time=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=60))
    store.write([start])
    monkeypatch.setenv("RLTRACK_STALE_S", "3600")
    assert store.get_run(start.run_id).status == "running"
    monkeypatch.setenv("RLTRACK_STALE_S", "10")
    assert store.get_run(start.run_id).status == "failed"


def test_count_episodes_by_status(store: SqlStore) -> None:
    start = run_started()
    other = run_started()
    events: list[Event] = [start, other]
    for i, status in enumerate(["completed", "completed", "truncated", "error"]):
        events += episode(start.run_id, i, status=status)
    events.append(EpisodeStarted(start.run_id, 4, 0, 40))
    events += episode(other.run_id, 0)
    store.write(events)
    assert store.count_episodes(start.run_id) == {
        "completed": 2, "truncated": 1, "error": 1, "started": 1,
    }  # fmt: skip
    assert store.count_episodes(other.run_id) == {"completed": 1}
    assert store.count_episodes(new_id()) == {}


def test_write_of_nothing_is_a_no_op(store: SqlStore) -> None:
    store.write([])
    assert store.list_runs() == []


def test_episode_of_an_unknown_run_is_refused(store: SqlStore) -> None:
    # Foreign keys are enforced on both backends, so orphans cannot be written.
    started, _ = episode(new_id(), 0)
    with pytest.raises(StoreError):
        store.write([started])
    assert count_rows(store, "episodes") == 0


def test_open_store_returns_a_working_store(db_url: str) -> None:
    s = open_store(db_url)
    try:
        start = run_started()
        s.write([start])
        assert s.get_run(start.run_id).id == start.run_id
    finally:
        s.close()


def test_data_survives_reopening(db_url: str) -> None:
    start = run_started()
    first = SqlStore(db_url)
    first.write([start, *episode(start.run_id, 0)])
    first.close()
    again = SqlStore(db_url, create=False)
    try:
        assert [e.status for e in again.list_episodes(start.run_id)] == ["completed"]
    finally:
        again.close()


# -- SQLite specifics ------------------------------------------------------------------------
def test_sqlite_uses_wal_and_foreign_keys(sqlite_url: str) -> None:
    s = SqlStore(sqlite_url)
    try:
        with s.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
    finally:
        s.close()


def test_sqlite_creates_missing_folders(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "rltrack.db"
    s = SqlStore(f"sqlite:///{path}")
    try:
        s.write([run_started()])
    finally:
        s.close()
    assert path.exists()


def test_sqlite_location_that_cannot_be_created_is_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "somefile"
    blocker.write_text("not a folder")
    db = blocker / "sub" / "rltrack.db"
    with pytest.raises(UnavailableError) as info:
        SqlStore(f"sqlite:///{db}")
    message = str(info.value)
    assert str(blocker) in message
    assert "--db" in message or "RLTRACK_HOME" in message


def test_a_file_that_is_not_a_database_is_refused_and_kept(cli: Cli, tmp_path: Path) -> None:
    notes = tmp_path / "notes.db"
    notes.write_text("my notes, not a database\n" * 100)
    with pytest.raises(SchemaError, match="not a database"):
        SqlStore(f"sqlite:///{notes}")
    result = cli("runs", "--db", f"sqlite:///{notes}")
    assert result.code == 2 and "Traceback" not in result.stderr
    assert str(notes) in result.stderr and "not a database" in result.stderr
    assert notes.read_text() == "my notes, not a database\n" * 100


def test_sqlite_under_proc_is_unavailable() -> None:
    with pytest.raises(UnavailableError, match="/proc/rltrack-test"):
        SqlStore("sqlite:////proc/rltrack-test/rltrack.db")


def test_unsupported_url_is_unavailable() -> None:
    with pytest.raises(UnavailableError, match="mysql"):
        SqlStore("mysql://localhost/x")


def test_non_finite_numbers_in_json_columns_do_not_fail_the_write(
    store: SqlStore, tmp_path: Path
) -> None:
    # YAML's `.inf` is a valid hyperparameter value and a NaN can reach checkpoint metrics;
    # PostgreSQL's JSONB refuses the `Infinity`/`NaN` tokens that json.dumps writes.
    config = {**CONFIG, "hyperparams": {"max_grad_norm": math.inf, "gamma": 0.9}}
    start = run_started(config=config)
    ckpt = CheckpointSaved(
        start.run_id, str(tmp_path / "best.zip"), 1, None, "0" * 64, 1, "best",
        {"mean_reward_100": math.nan, "ok": 2.0},
    )  # fmt: skip
    store.write([start, ckpt])
    run = store.get_run(start.run_id)
    assert run.config["hyperparams"]["gamma"] == 0.9
    assert "max_grad_norm" in run.config["hyperparams"]
    assert store.list_checkpoints(start.run_id)[0].metrics["ok"] == 2.0
