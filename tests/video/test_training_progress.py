"""The training context the video reads: episodes ended by a timestep, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

from rltrack.tracking.sql.training_progress import episodes_up_to
from rltrack.tracking.store import open_store
from rltrack.training.events import EpisodeEnded, EpisodeStarted, RunStarted

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def test_episodes_ended_by_each_timestep(db_url: str) -> None:
    store = open_store(db_url)
    run = "r" * 32
    events: list = [RunStarted(run, "progress", "ppo", "CartPole-v1", "sb3", {}, time=T0)]
    # (end timestep, reward, status, agent): ends at 10, 20, ... some of two agents, one error.
    ended = [
        (10 * (i + 1), float((i * 7) % 11), "error" if i == 5 else "completed", f"a{i % 2}")
        for i in range(12)
    ]
    for i, (end, reward, status, agent) in enumerate(ended):
        events.append(
            EpisodeEnded(run, i, 0, status, end - 10, end, 10, reward, T0, agent_id=agent, time=T0)
        )
    events.append(EpisodeStarted(run, 12, 0, 120, agent_id="a0", time=T0))  # still running
    store.write(events)

    asked = [5, 10, 35, 60, 120, 10_000]
    for agent in (None, "a0", "a1"):
        got = episodes_up_to(store, run, asked, agent_id=agent)
        assert [g.timestep for g in got] == asked
        for g in got:
            rewards = [r for end, r, _, a in ended if end <= g.timestep and agent in (None, a)]
            assert g.ended == len(rewards)
            assert g.best_reward == (max(rewards) if rewards else None)
            if rewards:
                assert abs(g.mean_reward - sum(rewards) / len(rewards)) < 1e-9
            else:
                assert g.mean_reward is None
    assert episodes_up_to(store, "no-such-run", [100])[0].ended == 0
    assert episodes_up_to(store, run, []) == []
    store.close()
