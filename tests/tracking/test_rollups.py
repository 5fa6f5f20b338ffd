"""The per-run rollups (episode_blocks) always equal what a scan of the episodes gives: after
writes in any order, replays, rewrites, episodes still running, non-finite rewards, a repair,
a delete, and a backfill of a database recorded before the rollups existed. The charts and
counts read from them are checked against brute force over the same episodes."""

from __future__ import annotations

import datetime as dt
import math
import random
import uuid
from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import select

from rltrack.tracking.sql import engine as eng
from rltrack.tracking.sql import queries, rollups
from rltrack.tracking.sql.store import RUNS, SqlStore
from rltrack.training.events import EpisodeEnded, EpisodeStarted, Event, RunStarted

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
def store(db_url: str) -> Iterator[SqlStore]:
    s = SqlStore(db_url)
    yield s
    s.close()


def started(run_id: str, i: int) -> EpisodeStarted:
    return EpisodeStarted(run_id, i, env_slot=i % 4, start_timestep=10 * i, time=T0)


def ended(run_id: str, i: int, reward: float, *, win: float | None, status: str) -> EpisodeEnded:
    return EpisodeEnded(
        run_id=run_id, index=i, env_slot=i % 4, status=status,  # type: ignore[arg-type]
        start_timestep=10 * i, end_timestep=10 * i + 9, steps=10 + i % 7, total_reward=reward,
        win=win, time=T0 + dt.timedelta(seconds=i), start_time=T0,
    )  # fmt: skip


def random_run(run_id: str, n: int, rng: random.Random) -> tuple[list[Event], set[int]]:
    """A run of ``n`` episodes written as a trainer with parallel envs would: every episode
    started, most ended out of order, some still running, some with odd rewards."""
    events: list[Event] = [RunStarted(run_id, "r", "ppo", "CartPole-v1", "sb3", {}, time=T0)]
    events += [started(run_id, i) for i in range(n)]
    running = set(rng.sample(range(n - 50, n), 7))
    finished = [i for i in range(n) if i not in running]
    rng.shuffle(finished)
    for i in finished:
        reward = rng.gauss(0.0, 10.0)
        if rng.random() < 0.01:
            reward = rng.choice([float("nan"), float("inf"), 1e6, -1e6])
        win = None if rng.random() < 0.05 else float(rng.random() < 0.4)
        status = rng.choice(["completed", "completed", "completed", "truncated", "error"])
        events.append(ended(run_id, i, reward, win=win, status=status))
    return events, running


def write_in_batches(store: SqlStore, events: list[Event], rng: random.Random) -> None:
    store.write(events[:1])
    rest = events[1:]
    i = 0
    while i < len(rest):
        k = rng.randint(1, 400)
        store.write(rest[i : i + k])
        i += k


def brute_blocks(store: SqlStore, run_id: str) -> dict[int, dict[str, object]]:
    """What every block must hold, from the episode rows themselves."""
    with store.engine.connect() as conn:
        ep = rollups.EPISODES.c
        rows = conn.execute(
            select(ep.idx, ep.status, ep.total_reward, ep.win)
            .where(ep.run_id == run_id, ep.status != "started")
            .order_by(ep.idx)
        ).all()
    out: dict[int, dict[str, object]] = {}
    for idx, status, reward, win in rows:
        b = out.setdefault(
            idx // rollups.BLOCK,
            {"ended": 0, "completed": 0, "truncated": 0, "errored": 0, "rewards": [], "wins": []},
        )
        b["ended"] = int(b["ended"]) + 1  # type: ignore[call-overload]
        key = {"completed": "completed", "truncated": "truncated", "error": "errored"}[status]
        b[key] = int(b[key]) + 1  # type: ignore[call-overload]
        if reward is not None and math.isfinite(reward):
            b["rewards"].append((reward, idx))  # type: ignore[attr-defined]
        if win is not None:
            b["wins"].append(win)  # type: ignore[attr-defined]
    return out


def stored_blocks(store: SqlStore, run_id: str) -> dict[int, dict[str, object]]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(rollups.BLOCKS).where(rollups.BLOCKS.c.run_id == run_id)
        ).mappings()
        return {int(r["block"]): dict(r) for r in rows}


def assert_rollups_match(store: SqlStore, run_id: str) -> None:
    expected, got = brute_blocks(store, run_id), stored_blocks(store, run_id)
    assert set(got) == set(expected)
    for block, want in expected.items():
        have = got[block]
        for key in ("ended", "completed", "truncated", "errored"):
            assert have[key] == want[key], (block, key)
        rewards: list[tuple[float, int]] = want["rewards"]  # type: ignore[assignment]
        assert have["rewarded"] == len(rewards)
        if rewards:
            lo = min(rewards, key=lambda r: (r[0], r[1]))
            hi = max(rewards, key=lambda r: (r[0], -r[1]))
            assert (have["reward_min"], have["reward_min_idx"]) == lo
            assert (have["reward_max"], have["reward_max_idx"]) == hi
            assert have["reward_sum"] == pytest.approx(sum(r for r, _ in rewards))
        wins: list[float] = want["wins"]  # type: ignore[assignment]
        assert have["win_n"] == len(wins)
        assert have["win_sum"] == pytest.approx(sum(wins))


def test_rollups_equal_a_scan_after_out_of_order_batches_and_replays(store: SqlStore) -> None:
    rng = random.Random(5)
    run_id = uuid.uuid4().hex
    events, _ = random_run(run_id, 2_345, rng)
    write_in_batches(store, events, rng)
    assert_rollups_match(store, run_id)
    # A spool replay writes a stretch again; a rewrite changes an episode's values.
    write_in_batches(store, events[1000:1600], rng)
    store.write([ended(run_id, 150, 5e6, win=1.0, status="completed")])
    assert_rollups_match(store, run_id)
    assert stored_blocks(store, run_id)[1]["reward_max"] == 5e6


def test_ties_across_batches_keep_the_lowest_index(store: SqlStore) -> None:
    """Episodes that end for the first time are added to their block's values; the block's
    extreme episode must still be the one a scan picks: on a tie, the lowest index."""
    run_id = uuid.uuid4().hex
    store.write([RunStarted(run_id, "r", "ppo", "CartPole-v1", "sb3", {}, time=T0)])
    store.write([ended(run_id, 7, 3.0, win=1.0, status="completed")])
    store.write([ended(run_id, 2, 3.0, win=0.0, status="truncated")])
    store.write([ended(run_id, 9, -1.0, win=None, status="error")])
    block = stored_blocks(store, run_id)[0]
    assert (block["reward_max"], block["reward_max_idx"], block["reward_max_win"]) == (3.0, 2, 0.0)
    assert (block["reward_min"], block["reward_min_idx"]) == (-1.0, 9)
    assert (block["ended"], block["completed"], block["truncated"], block["errored"]) == (
        3,
        1,
        1,
        1,
    )
    assert (block["win_n"], block["win_sum"], block["reward_sum"]) == (2, 1.0, 5.0)
    assert_rollups_match(store, run_id)


def test_counts_come_from_the_rollups_and_match_the_rows(store: SqlStore) -> None:
    rng = random.Random(11)
    run_id = uuid.uuid4().hex
    events, running = random_run(run_id, 1_234, rng)
    write_in_batches(store, events, rng)
    health = store.episode_health(run_id).counts
    with store.engine.connect() as conn:
        assert queries.count_episodes(conn, run_id) == 1_234
        assert queries.count_episodes(conn, run_id, "started") == len(running)
        for status in ("completed", "truncated", "error"):
            assert queries.count_episodes(conn, run_id, status) == health.get(status, 0)
        assert queries.count_episodes_by_run(conn, [run_id, "nope"]) == {run_id: 1_234}
    # A repair closes the running episodes as errors: the counts follow.
    assert store.repair_run(run_id, "crashed") == len(running)
    assert_rollups_match(store, run_id)
    with store.engine.connect() as conn:
        assert queries.count_episodes(conn, run_id, "started") == 0
        assert queries.count_episodes(conn, run_id, "error") == health.get("error", 0) + len(
            running
        )


def test_sampled_chart_keeps_each_buckets_extremes(store: SqlStore) -> None:
    rng = random.Random(3)
    run_id = uuid.uuid4().hex
    events, _ = random_run(run_id, 20_000, rng)
    write_in_batches(store, events, rng)
    series = store.episode_series(run_id, max_points=200)
    assert series.sampled and len(series.points) <= 200
    with store.engine.connect() as conn:
        ep = rollups.EPISODES.c
        rows = [
            (int(i), r)
            for i, r in conn.execute(
                select(ep.idx, ep.total_reward).where(
                    ep.run_id == run_id, ep.status != "started", ep.total_reward.is_not(None)
                )
            )
            if math.isfinite(r)
        ]
    assert series.total == len(rows)
    # Brute force: the same buckets (whole blocks, equal width), min and max of each.
    blocks = sorted({i // rollups.BLOCK for i, _ in rows})
    per = math.ceil((blocks[-1] - blocks[0] + 1) / 100)
    expected: set[int] = set()
    buckets: dict[int, list[tuple[float, int]]] = {}
    for i, r in rows:
        buckets.setdefault((i // rollups.BLOCK - blocks[0]) // per, []).append((r, i))
    for members in buckets.values():
        expected.add(min(members, key=lambda m: (m[0], m[1]))[1])
        expected.add(max(members, key=lambda m: (m[0], -m[1]))[1])
    assert [p.episode for p in series.points] == sorted(expected)
    by_idx = dict(rows)
    assert all(p.total_reward == by_idx[p.episode] for p in series.points)
    # The other chart columns are the episode's own.
    assert all(p.steps == 10 + p.episode % 7 for p in series.points)
    # The global spikes are in the chart.
    top = max(rows, key=lambda m: m[1])[0]
    assert top in {p.episode for p in series.points}


def test_sampled_win_rate_is_the_mean_of_the_last_hundred(store: SqlStore) -> None:
    run_id = uuid.uuid4().hex
    n = 10_000
    wins = [float((i * 7919) % 13 < 5) for i in range(n)]
    events: list[Event] = [RunStarted(run_id, "r", "ppo", "CartPole-v1", "sb3", {}, time=T0)]
    events += [ended(run_id, i, 1.0, win=wins[i], status="completed") for i in range(n)]
    store.write(events)
    points = store.rolling_win_rate(run_id, max_points=50, window=100)
    assert 2 <= len(points) <= 51
    assert points[-1].episode == n - 1
    for p in points:
        window = wins[max(0, p.episode - 99) : p.episode + 1]
        assert p.win_rate == pytest.approx(sum(window) / len(window))
    exact = store.rolling_win_rate(run_id, max_points=n, window=100)
    assert len(exact) == n
    assert exact[-1].win_rate == pytest.approx(points[-1].win_rate)


def test_old_database_is_backfilled_by_the_upgrade(db_url: str) -> None:
    store = SqlStore(db_url)
    rng = random.Random(8)
    run_id = uuid.uuid4().hex
    events, _ = random_run(run_id, 777, rng)
    write_in_batches(store, events, rng)
    before = stored_blocks(store, run_id)
    engine = store.engine
    cfg = eng.alembic_config(db_url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0002")  # as recorded by an rltrack before the rollups
    eng.upgrade(db_url, engine)
    # Sums of floats are equal up to their order of summation: the write path adds each
    # batch's sum to the block's, the backfill sums the block's episodes in one pass.
    for row in before.values():
        row.update(
            {k: pytest.approx(row[k], rel=1e-12, abs=1e-9) for k in ("reward_sum", "win_sum")}
        )
    assert stored_blocks(store, run_id) == before
    assert_rollups_match(store, run_id)
    store.close()


def test_deleting_a_run_deletes_its_rollups(store: SqlStore) -> None:
    run_id = uuid.uuid4().hex
    events: list[Event] = [RunStarted(run_id, "r", "ppo", "CartPole-v1", "sb3", {}, time=T0)]
    events += [ended(run_id, i, 1.0, win=None, status="completed") for i in range(250)]
    store.write(events)
    assert len(stored_blocks(store, run_id)) == 3
    with store.engine.begin() as conn:
        conn.execute(RUNS.delete().where(RUNS.c.id == run_id))  # cascades to everything
    assert stored_blocks(store, run_id) == {}


@pytest.mark.parametrize(("n", "max_points"), [(120, 100), (20_000, 2000), (60_000, 2000)])
def test_a_downsampled_chart_uses_most_of_its_points(
    store: SqlStore, n: int, max_points: int
) -> None:
    """Whatever the run's length, a sampled chart has at least half the points asked for,
    never more, and keeps the run's extremes."""
    run_id = uuid.uuid4().hex
    rng = random.Random(n)
    rewards = [rng.gauss(0.0, 1.0) for _ in range(n)]
    rewards[n // 3], rewards[n // 2] = 99.0, -99.0
    events: list[Event] = [RunStarted(run_id, "r", "ppo", "CartPole-v1", "sb3", {}, time=T0)]
    events += [ended(run_id, i, rewards[i], win=1.0, status="completed") for i in range(n)]
    store.write(events)
    series = store.episode_series(run_id, max_points=max_points)
    assert series.sampled and series.total == n
    assert max_points // 2 <= len(series.points) <= max_points
    assert {n // 3, n // 2} <= {p.episode for p in series.points}
    wins = store.rolling_win_rate(run_id, max_points=max_points, window=100)
    assert max_points // 4 <= len(wins) <= max_points
    assert wins[-1].episode == n - 1


def test_charts_of_several_runs_equal_each_runs_own(store: SqlStore) -> None:
    """The runs list reads its sparklines together; they are the ones the run page shows, at a
    coarse and a fine resolution (the same runs for both: writing 30,000 episodes is the
    test's cost, reading them back is cheap)."""
    rng = random.Random(2000)
    run_ids = []
    for n in (0, 7, 120, 1_500, 30_000):
        run_id = uuid.uuid4().hex
        run_ids.append(run_id)
        events, _ = random_run(run_id, n, rng) if n >= 50 else ([], set())
        if n < 50:
            events = [RunStarted(run_id, "r", "ppo", "CartPole-v1", "sb3", {}, time=T0)]
            events += [ended(run_id, i, float(i), win=None, status="completed") for i in range(n)]
        write_in_batches(store, events, rng)
    for max_points in (50, 2000):
        charts = store.run_charts(run_ids, max_points=max_points, window=100)
        assert list(charts) == run_ids
        for run_id in run_ids:
            series, wins = charts[run_id]
            assert series == store.episode_series(run_id, max_points=max_points)
            assert wins == store.rolling_win_rate(run_id, max_points=max_points, window=100)
            assert len(series.points) <= max_points and len(wins) <= max_points
