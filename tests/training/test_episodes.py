"""Tests of EpisodeTracker: global episode indices across env slots, one end per start,
finalization of in-flight episodes, wins, metrics, trades and sampled traces."""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

from rltrack.training.episodes import EpisodeTracker, episode_metrics, trades_of, win_of
from rltrack.training.events import EpisodeEnded, EpisodeStarted, Event, TradeRecord

RUN = "run0123456789abcdef"


class ListSink:
    """Collects every event, in emission order."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def emit(self, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


class FakeVecEnv:
    """Slots whose episodes last a given number of steps each; returns plain python lists."""

    def __init__(self, lengths: list[list[int]]) -> None:
        self.lengths = [list(x) for x in lengths]
        self.left = [q.pop(0) for q in self.lengths]
        self.timestep = 0

    def step(self) -> tuple[list[float], list[bool], list[dict[str, Any]]]:
        rewards, dones, infos = [], [], []
        self.timestep += len(self.left)
        for slot in range(len(self.left)):
            self.left[slot] -= 1
            done = self.left[slot] == 0
            rewards.append(1.0 + slot / 10)
            dones.append(done)
            infos.append({"slot": slot})
            if done:
                self.left[slot] = self.lengths[slot].pop(0) if self.lengths[slot] else 10**9
        return rewards, dones, infos


def drive(tracker: EpisodeTracker, env: FakeVecEnv, n_steps: int) -> None:
    for slot in range(len(env.left)):
        tracker.start(slot, 0)
    for _ in range(n_steps):
        rewards, dones, infos = env.step()
        tracker.step(rewards, dones, infos, env.timestep)


def one_slot_episode(tracker: EpisodeTracker, infos: list[Mapping[str, Any]]) -> EpisodeEnded:
    """Runs one episode in slot 0 whose per-step infos are given; the last step ends it."""
    if 0 not in tracker.live:
        tracker.start(0, 0)
    sink: ListSink = tracker.sink  # type: ignore[assignment]
    before = len(sink.of(EpisodeEnded))
    for i, info in enumerate(infos):
        tracker.step([0.5], [i == len(infos) - 1], [info], i + 1)
    ended = sink.of(EpisodeEnded)
    assert len(ended) == before + 1
    return ended[-1]


# -- indices and lifecycle -------------------------------------------------------------------
def test_indices_unique_and_contiguous_in_start_order() -> None:
    sink = ListSink()
    tracker = EpisodeTracker(sink, RUN)
    # Three slots whose episodes have different lengths, so they end out of slot order.
    env = FakeVecEnv([[5, 2, 7, 3], [1, 1, 4, 2, 6], [3, 3, 3, 3]])
    drive(tracker, env, 12)

    started = sink.of(EpisodeStarted)
    assert [e.index for e in started] == list(range(len(started)))
    # Start timesteps never go backwards in start order.
    assert [e.start_timestep for e in started] == sorted(e.start_timestep for e in started)
    assert {e.env_slot for e in started} == {0, 1, 2}
    assert tracker.started == len(started)


def test_every_started_episode_ends_exactly_once() -> None:
    sink = ListSink()
    tracker = EpisodeTracker(sink, RUN)
    rng = random.Random(3)
    env = FakeVecEnv([[rng.randint(1, 6) for _ in range(30)] for _ in range(4)])
    drive(tracker, env, 40)
    tracker.finalize_all("truncated", env.timestep)

    started = [e.index for e in sink.of(EpisodeStarted)]
    ended = [e.index for e in sink.of(EpisodeEnded)]
    assert sorted(ended) == started
    assert len(set(ended)) == len(ended)
    assert tracker.live == {}
    assert tracker.finished == len(started)
    # Each end comes after its own start in the stream.
    position = {id(e): i for i, e in enumerate(sink.events)}
    start_at = {e.index: position[id(e)] for e in sink.of(EpisodeStarted)}
    for e in sink.of(EpisodeEnded):
        assert position[id(e)] > start_at[e.index]
        assert e.status != "started"


def test_ended_episode_records_slot_steps_reward_and_timesteps() -> None:
    sink = ListSink()
    tracker = EpisodeTracker(sink, RUN, agent_id="agent-a")
    env = FakeVecEnv([[3], [2]])
    drive(tracker, env, 3)

    by_index = {e.index: e for e in sink.of(EpisodeEnded)}
    slot1 = by_index[1]  # slot 1 started second, ended after 2 steps at timestep 4
    assert slot1.env_slot == 1
    assert slot1.steps == 2
    assert slot1.total_reward == pytest.approx(2 * 1.1)
    assert (slot1.start_timestep, slot1.end_timestep) == (0, 4)
    assert slot1.status == "completed"
    assert slot1.agent_id == "agent-a"
    slot0 = by_index[0]
    assert (slot0.steps, slot0.end_timestep) == (3, 6)
    # The episode that replaced slot 1 started at the timestep the previous one ended.
    third = next(e for e in sink.of(EpisodeStarted) if e.index == 2)
    assert (third.env_slot, third.start_timestep) == (1, 4)


def test_finalize_all_truncates_in_flight_episodes_with_steps_so_far() -> None:
    sink = ListSink()
    tracker = EpisodeTracker(sink, RUN)
    env = FakeVecEnv([[100], [2, 100], [100]])
    drive(tracker, env, 5)
    assert len(sink.of(EpisodeEnded)) == 1

    final = tracker.finalize_all("truncated", env.timestep)
    assert [e.env_slot for e in final] == [0, 1, 2]
    assert [e.status for e in final] == ["truncated"] * 3
    assert [e.steps for e in final] == [5, 3, 5]
    assert all(e.end_timestep == env.timestep for e in final)
    assert final[0].total_reward == pytest.approx(5.0)
    # The last non-final info is kept as the episode's metrics.
    assert final[2].metrics == {"slot": 2}
    assert sink.of(EpisodeEnded)[-3:] == final
    assert tracker.finalize_all("truncated", env.timestep) == []


def test_finalize_all_with_error_status() -> None:
    sink = ListSink()
    tracker = EpisodeTracker(sink, RUN)
    drive(tracker, FakeVecEnv([[9], [9]]), 2)
    final = tracker.finalize_all("error", 4)
    assert [e.status for e in final] == ["error", "error"]
    # Errored episodes do not count towards the reward statistics.
    assert tracker.mean_recent_reward is None


def test_sum_of_steps_equals_timesteps() -> None:
    sink = ListSink()
    tracker = EpisodeTracker(sink, RUN)
    rng = random.Random(7)
    env = FakeVecEnv([[rng.randint(1, 9) for _ in range(50)] for _ in range(5)])
    drive(tracker, env, 57)
    tracker.finalize_all("truncated", env.timestep)
    assert sum(e.steps for e in sink.of(EpisodeEnded)) == env.timestep == 57 * 5


def test_time_limit_truncation_is_reported_as_truncated() -> None:
    sink = ListSink()
    tracker = EpisodeTracker(sink, RUN)
    ended = one_slot_episode(tracker, [{}, {"TimeLimit.truncated": True}])
    assert ended.status == "truncated"
    ended = one_slot_episode(tracker, [{"TimeLimit.truncated": False}])
    assert ended.status == "completed"


def test_first_index_continues_a_resumed_run() -> None:
    sink = ListSink()
    tracker = EpisodeTracker(sink, RUN, first_index=40)
    drive(tracker, FakeVecEnv([[1, 1], [1, 1]]), 1)
    assert [e.index for e in sink.of(EpisodeStarted)] == [40, 41, 42, 43]


def test_shared_index_source_across_trackers() -> None:
    counter = iter(range(1000))
    sink = ListSink()
    a = EpisodeTracker(sink, RUN, agent_id="a", next_index=lambda: next(counter))
    b = EpisodeTracker(sink, RUN, agent_id="b", next_index=lambda: next(counter))
    a.start(0, 0)
    b.start(0, 0)
    a.start(1, 0)
    assert [(e.agent_id, e.index) for e in sink.of(EpisodeStarted)] == [
        ("a", 0),
        ("b", 1),
        ("a", 2),
    ]


def test_epsilon_is_sampled_at_episode_end() -> None:
    eps = [0.9]
    sink = ListSink()
    tracker = EpisodeTracker(sink, RUN, epsilon=lambda: eps[0])
    tracker.start(0, 0)
    eps[0] = 0.3
    ended = one_slot_episode(tracker, [{}])
    assert ended.epsilon == 0.3


def test_best_and_recent_rewards() -> None:
    sink = ListSink()
    tracker = EpisodeTracker(sink, RUN)
    tracker.start(0, 0)
    for rewards in ([1.0, 2.0], [5.0], [0.5]):
        for i, r in enumerate(rewards):
            tracker.step([r], [i == len(rewards) - 1], [{}], 0)
    assert tracker.best_reward == 5.0
    assert tracker.mean_recent_reward == pytest.approx((3.0 + 5.0 + 0.5) / 3)


# -- win -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("info", "win"),
    [
        ({"win": 1}, 1.0),
        ({"win": 0.5}, 0.5),
        ({"win": False}, 0.0),
        ({"is_success": True}, 1.0),
        ({"is_success": np.bool_(False)}, 0.0),
        ({"win": 0, "is_success": True}, 0.0),
        ({"score": 3}, None),
        ({"win": None}, None),
    ],
)
def test_win_from_info(info: dict[str, Any], win: float | None) -> None:
    assert win_of(info) == win
    sink = ListSink()
    ended = one_slot_episode(EpisodeTracker(sink, RUN), [{}, info])
    assert ended.win == win


# -- metrics ---------------------------------------------------------------------------------
def test_episode_metrics_are_finite_scalars_of_the_final_info() -> None:
    final_info = {
        "pnl": np.float64(12.5),
        "trades_count": np.int64(3),
        "flag": np.bool_(True),
        "sharpe_ratio": float("nan"),
        "max_drawdown": np.float32("nan"),
        "infinite": float("inf"),
        "neg_inf": np.float64("-inf"),
        "zero_d": np.array(2.5),
        "label": "long-only",
        "nothing": None,
        "plain_int": 7,
        "plain_float": 0.25,
        # Not scalars: left out.
        "vector": np.array([1.0, 2.0]),
        "nested": {"a": 1},
        "a_list": [1, 2],
        # Reserved keys and private ones: left out.
        "terminal_observation": np.zeros(4),
        "final_observation": np.zeros(4),
        "TimeLimit.truncated": False,
        "episode": {"r": 1.0, "l": 2},
        "is_success": True,
        "win": 1,
        "trades": [],
        "action_mask": np.ones(2, dtype=bool),
        "_private": 1,
    }
    sink = ListSink()
    ended = one_slot_episode(EpisodeTracker(sink, RUN), [{"pnl": 1.0}, final_info])
    m = ended.metrics
    assert m == {
        "pnl": 12.5,
        "trades_count": 3,
        "flag": True,
        "sharpe_ratio": None,
        "max_drawdown": None,
        "infinite": None,
        "neg_inf": None,
        "zero_d": 2.5,
        "label": "long-only",
        "nothing": None,
        "plain_int": 7,
        "plain_float": 0.25,
    }
    # Plain python types, ready for JSON.
    assert type(m["pnl"]) is float
    assert type(m["trades_count"]) is int
    assert type(m["flag"]) is bool
    assert m == episode_metrics(final_info)


def test_metrics_come_from_the_final_info_not_an_earlier_one() -> None:
    sink = ListSink()
    ended = one_slot_episode(
        EpisodeTracker(sink, RUN), [{"pnl": 1.0, "only_early": 3}, {"pnl": 2.0}]
    )
    assert ended.metrics == {"pnl": 2.0}


# -- trades ----------------------------------------------------------------------------------
def test_trades_are_parsed_into_trade_records() -> None:
    when = dt.datetime(2024, 3, 1, 12, 0)
    raw = [
        {
            "direction": "long", "entry_step": np.int64(2), "exit_step": 5,
            "entry_price": np.float32(100.0), "exit_price": "101.5", "quantity": 2,
            "pnl": 3.0, "costs": 0.1, "entry_time": when,
            "exit_time": "2024-03-01T13:00:00+00:00",
        },
        {
            "direction": "short", "entry_step": 6, "exit_step": 9, "entry_price": 101.5,
            "exit_price": 100.0, "quantity": 1.0, "pnl": 1.5, "costs": 0.05,
        },
    ]  # fmt: skip
    premade = TradeRecord("long", 10, 11, 1.0, 2.0, 1.0, 1.0, 0.0)
    sink = ListSink()
    ended = one_slot_episode(EpisodeTracker(sink, RUN), [{}, {"trades": [*raw, premade]}])
    first, second, third = ended.trades
    assert first == TradeRecord(
        direction="long", entry_step=2, exit_step=5, entry_price=100.0, exit_price=101.5,
        quantity=2.0, pnl=3.0, costs=0.1, entry_time=when.replace(tzinfo=dt.UTC),
        exit_time=dt.datetime(2024, 3, 1, 13, 0, tzinfo=dt.UTC),
    )  # fmt: skip
    assert type(first.entry_step) is int
    assert type(first.entry_price) is float
    assert second.direction == "short"
    assert second.entry_time is None and second.exit_time is None
    assert third is premade
    assert "trades" not in ended.metrics
    assert trades_of({}) == ()


# -- traces ----------------------------------------------------------------------------------
def test_trace_is_recorded_only_every_kth_episode() -> None:
    sink = ListSink()
    tracker = EpisodeTracker(sink, RUN, trace_every=3)
    tracker.start(0, 0)
    for episode in range(7):
        for step in range(2):
            info = {"price": 100.0 + step, "position": 1, "portfolio_value": 1000 + episode}
            tracker.step([0.5], [step == 1], [info], 0, actions=[np.int64(step % 2)])
    traced = {e.index: e.trace for e in sink.of(EpisodeEnded)}
    assert [i for i, t in traced.items() if t] == [0, 3, 6]
    trace = traced[3]
    assert [s.step for s in trace] == [0, 1]
    assert [s.action for s in trace] == [0.0, 1.0]
    assert trace[1].price == 101.0
    assert trace[1].position == 1.0
    assert trace[1].portfolio_value == 1003.0
    assert [s.reward for s in trace] == [0.5, 0.5]


def test_no_trace_by_default() -> None:
    sink = ListSink()
    tracker = EpisodeTracker(sink, RUN)
    drive(tracker, FakeVecEnv([[2, 2], [2, 2]]), 4)
    assert all(e.trace == () for e in sink.of(EpisodeEnded))


def test_trace_of_a_truncated_episode_holds_its_steps_so_far() -> None:
    sink = ListSink()
    tracker = EpisodeTracker(sink, RUN, trace_every=1)
    tracker.start(0, 0)
    for _ in range(3):
        tracker.step([1.0], [False], [{"action": 2}], 0)
    (ended,) = tracker.finalize_all("truncated", 3)
    assert [s.step for s in ended.trace] == [0, 1, 2]
    assert all(s.action == 2.0 for s in ended.trace)
    assert all(s.price is None for s in ended.trace)
    assert not math.isnan(ended.total_reward)
