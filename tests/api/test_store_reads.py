"""The store reads behind the API, called directly, through SqlStore and DeferredStore."""

from __future__ import annotations

import pytest

from rltrack.tracking.deferred import DeferredStore
from rltrack.tracking.store import (
    EpisodeFilter,
    EpisodeKey,
    NotFoundError,
    RunFilter,
    RunProgress,
    RunStats,
    Store,
)
from tests.api.conftest import run_events


@pytest.mark.parametrize("deferred", [False, True])
def test_reads(db_url: str, store: Store, deferred: bool) -> None:
    store.write(
        run_events(
            "reads",
            episodes=1000,
            checkpoints=(0, 500),
            win=lambda i: float(i % 4 == 0),
            reward=lambda i: 1000.0 if i == 777 else (-1000.0 if i == 3 else float(i % 5)),
        )  # fmt: skip
    )
    s: Store = DeferredStore(db_url) if deferred else store
    s.ping()
    assert s.list_agent_ids() == ["agent-a"]
    assert s.count_episodes_by_run(["reads", "missing"]) == {"reads": 1000}
    assert s.count_episodes_by_run([]) == {}

    series = s.episode_series("reads", max_points=20)
    assert series.sampled and series.total == 1000 and len(series.points) <= 20
    rewards = {p.episode: p.total_reward for p in series.points}
    assert rewards[777] == 1000.0 and rewards[3] == -1000.0
    assert not s.episode_series("reads", max_points=1000).sampled
    with pytest.raises(ValueError):
        s.episode_series("reads", max_points=1)

    wins = s.rolling_win_rate("reads", max_points=10)
    assert len(wins) == 10 and wins[-1].episode == 999
    assert all(abs(w.win_rate - 0.25) < 1e-9 for w in wins)
    assert s.rolling_win_rate("missing", max_points=10) == []

    page = s.episode_page("reads", after=EpisodeKey("index", None, 989), limit=5)
    assert [e.index for e in page.items] == [990, 991, 992, 993, 994]
    assert page.total == 1000 and page.next_cursor == EpisodeKey("index", 994.0, 994)
    last = s.episode_page("reads", after=page.next_cursor, limit=5)
    assert len(last.items) == 5 and last.next_cursor is None
    top = s.episode_page("reads", sort="-total_reward", limit=2, flt=EpisodeFilter(min_pnl=700))
    assert [e.index for e in top.items] == [777, 999] and top.total == 300
    with pytest.raises(ValueError):
        s.episode_page("reads", sort="-steps", after=page.next_cursor)

    episode = s.get_episode(page.items[0].id)
    assert episode.index == 990 and episode.run_id == "reads"
    with pytest.raises(NotFoundError):
        s.get_episode(10**12)
    checkpoint = s.checkpoint_at("reads", 499)
    assert checkpoint is not None and checkpoint.episode_index == 0
    assert s.checkpoint_at("missing", 10) is None

    stats = s.run_stats(["reads", "missing"])
    assert stats["reads"].finished == 1000 and stats["reads"].max_reward == 1000.0
    assert stats["reads"].last_win_rate == 0.25 and stats["missing"] == RunStats()
    assert s.count_runs(RunFilter(status="completed")) == 1
    assert s.count_runs(RunFilter(params=(("gamma", "0.5"),))) == 0
    assert s.run_progress("reads") == [RunProgress("reads", "completed", 1000, 10000)]
    assert s.run_progress("missing") == []
    summary = s.episode_summary("reads", EpisodeFilter(max_pnl=9))
    assert summary.count == 10 and summary.metrics["pnl"].median == 4.5
    assert [e.index for e in s.episodes_after("reads", 997, 10)] == [998, 999]
    assert s.episode_metric_types("reads") == {"pnl": {"number"}}
    assert s.episode_trades(episode.id) == [] and s.episode_steps(episode.id) == []
    assert s.metric_keys("reads") == [] and s.metric_series("reads", "x", max_points=5).total == 0
    assert s.get_checkpoint(checkpoint.id).path == checkpoint.path
    with pytest.raises(NotFoundError):
        s.get_checkpoint(10**12)
    assert s.list_artifacts("reads") == []
    with pytest.raises(NotFoundError):
        s.get_artifact(10**12)

    if deferred:
        s.close()
