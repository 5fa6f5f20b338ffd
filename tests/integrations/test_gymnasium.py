"""RecordEpisodes over real Gymnasium envs and vector envs, into a real SQLite file."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv

import rltrack
from rltrack.integrations.gymnasium import RecordEpisodes
from rltrack.tracking.store import open_store


def read(url: str, run_id: str):  # type: ignore[no-untyped-def]
    store = open_store(url)
    try:
        return store.get_run(run_id), store.list_episodes(run_id)
    finally:
        store.close()


def vector(kind: type, mode: AutoresetMode, n: int = 4, env_id: str = "CartPole-v1"):  # type: ignore[no-untyped-def]
    return kind([lambda: gym.make(env_id) for _ in range(n)], autoreset_mode=mode)


@pytest.mark.parametrize(
    ("kind", "mode"),
    [
        (SyncVectorEnv, AutoresetMode.NEXT_STEP),
        (SyncVectorEnv, AutoresetMode.SAME_STEP),
        (AsyncVectorEnv, AutoresetMode.NEXT_STEP),
    ],
)
def test_a_vector_loop_stopped_mid_episode_records_exactly_what_it_summed(
    tmp_path: Path, kind: type, mode: AutoresetMode
) -> None:
    url = f"sqlite:///{tmp_path / 'rltrack.db'}"
    run = rltrack.init("loop", db=url, config={"mode": mode.value})
    envs = RecordEpisodes(vector(kind, mode), run)
    rng = np.random.default_rng(0)
    envs.reset(seed=1)
    summed: dict[int, list[float]] = defaultdict(lambda: [0.0])  # per env, per episode
    resetting = np.zeros(4, dtype=bool)
    for _ in range(300):  # CartPole episodes end every ~20 random steps: many per env
        _, rewards, terms, truncs, _ = envs.step(rng.integers(2, size=4))
        for i in range(4):
            if resetting[i]:
                resetting[i] = False
                summed[i].append(0.0)
                continue
            summed[i][-1] += float(rewards[i])
            if terms[i] or truncs[i]:
                if mode == AutoresetMode.SAME_STEP:
                    summed[i].append(0.0)
                else:
                    resetting[i] = True
    run.finish()  # mid-episode: the ones in flight close as truncated
    envs.close()

    recorded, episodes = read(url, run.id)
    assert recorded.status == "completed"
    assert [e.index for e in episodes] == list(range(len(episodes)))
    assert all(e.status in ("completed", "truncated") for e in episodes)
    by_slot: dict[int, list[float]] = defaultdict(list)
    for e in episodes:  # in index order: each slot's episodes in the order they ran
        by_slot[e.env_slot].append(e.total_reward or 0.0)
    for i in range(4):
        assert by_slot[i] == pytest.approx(summed[i]), i
    resets = sum(len(v) - 1 for v in summed.values()) if mode == AutoresetMode.NEXT_STEP else 0
    assert sum(e.steps or 0 for e in episodes) == recorded.timesteps == 1200 - resets
    assert sum(e.status == "truncated" for e in episodes) >= 1


def test_disabled_autoreset_and_partial_resets(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'rltrack.db'}"
    with rltrack.init("disabled", db=url) as run:
        envs = RecordEpisodes(vector(SyncVectorEnv, AutoresetMode.DISABLED, n=2), run)
        envs.reset(seed=0)
        ended = 0
        for _ in range(200):
            _, _, terms, truncs, _ = envs.step(np.zeros(2, dtype=np.int64))
            done = terms | truncs
            if done.any():
                ended += int(done.sum())
                envs.reset(options={"reset_mask": done})
        envs.close()
    recorded, episodes = read(url, run.id)
    assert [e.index for e in episodes] == list(range(len(episodes)))
    assert sum(e.status == "completed" for e in episodes) == ended
    assert sum(e.steps or 0 for e in episodes) == 400


def test_a_single_trading_env_records_metrics_trades_and_its_slot(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'rltrack.db'}"
    with rltrack.init("single", db=url, env_id="rltrack/Trading-v0") as run:
        first = RecordEpisodes(gym.make("CartPole-v1"), run)
        env = RecordEpisodes(gym.make("rltrack/Trading-v0", episode_length=60), run)
        env.reset(seed=0)
        first.reset(seed=0)
        rng = np.random.default_rng(1)
        for _ in range(150):
            _, _, term, trunc, _ = env.step(int(rng.integers(3)))
            if term or trunc:
                env.reset()
        env.close()
        first.close()  # its one episode, never stepped to an end: truncated
    _, episodes = read(url, run.id)
    trading = [e for e in episodes if e.env_slot == 1]
    assert [e.index for e in episodes] == list(range(len(episodes)))
    assert {e.env_slot for e in episodes} == {0, 1}
    finished = [e for e in trading if e.status == "completed"]
    assert len(finished) == 2
    for e in finished:
        assert {"pnl", "sharpe_ratio", "max_drawdown", "trades_count"} <= e.metrics.keys()
        assert e.steps == 60
    store = open_store(url)
    try:
        trades = store.episode_trades(finished[0].id)
    finally:
        store.close()
    assert len(trades) == finished[0].metrics["trades_count"]


def test_wrapping_something_else_is_refused(tmp_path: Path) -> None:
    with (
        rltrack.init("bad", db=f"sqlite:///{tmp_path / 'x.db'}") as run,
        pytest.raises(TypeError, match="gymnasium.Env"),
    ):
        RecordEpisodes(object(), run)
