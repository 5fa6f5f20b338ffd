"""Held-out evaluation: the numbers of agents and baselines, range checks, and the events the
SB3 and actor-learner backends emit after training (collected by a list sink, no database)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from stable_baselines3 import PPO

from rltrack.config import ConfigError, TrainConfig, build_config
from rltrack.envs import make_env
from rltrack.training.backends.actor_learner import ActorLearnerBackend
from rltrack.training.backends.sb3 import Sb3Backend
from rltrack.training.context import TrainContext
from rltrack.training.evaluate import (
    EvaluationStopped,
    check_ranges,
    evaluate_baselines,
    evaluate_checkpoint,
    evaluate_policy,
    held_out_evaluation,
    iqn_loader,
    is_trading_env,
    play,
    random_policy,
    ranges_overlap,
    sb3_loader,
    summarize,
)
from rltrack.training.events import CheckpointSaved, EpisodeEnded, EvaluationRecorded, Event

TRADING = "rltrack/Trading-v0"
TRAIN = "2020-01-01:2020-12-31"
HELD_OUT = "2021-01-01:"
WINDOW = 10
COMMISSION, SLIPPAGE = 0.001, 2 / 10_000  # the env's defaults
METRICS = (
    "pnl", "pnl_pct", "sharpe_ratio", "sortino_ratio", "max_drawdown", "calmar_ratio",
    "annualized_return", "trades_count", "exposure", "benchmark_return",
    "final_portfolio_value", "initial_portfolio_value",
)  # fmt: skip


class ListSink:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def emit(self, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


def write_bars(path: Path, n: int = 400, seed: int = 0) -> Path:
    """A seeded random walk of n business days from 2020-01-01 (2020: 262 bars)."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0004, 0.012, n)))
    open_ = np.concatenate([[100.0], close[:-1]]) * (1.0 + rng.normal(0.0, 0.002, n))
    high = np.maximum(open_, close) * (1.0 + rng.uniform(0.0, 0.01, n))
    low = np.minimum(open_, close) * (1.0 - rng.uniform(0.0, 0.01, n))
    frame = pd.DataFrame(
        {
            "Date": pd.bdate_range("2020-01-01", periods=n).strftime("%Y-%m-%d"),
            "Open": open_, "High": high, "Low": low, "Close": close,
            "Volume": rng.integers(1_000, 5_000, n),
        }
    )  # fmt: skip
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def bars(tmp_path: Path) -> Path:
    return write_bars(tmp_path / "bars.csv")


def held_out_kwargs(bars: Path, **extra: Any) -> dict[str, Any]:
    return {"data": str(bars), "window_size": WINDOW, "date_range": HELD_OUT, **extra}


def held_out_frame(bars: Path) -> pd.DataFrame:
    frame = pd.read_csv(bars)
    return frame[frame.Date >= "2021-01-01"].reset_index(drop=True)


def tiny_ppo(bars: Path, path: Path, timesteps: int = 128) -> Path:
    env = make_env(TRADING, {"data": str(bars), "window_size": WINDOW, "date_range": TRAIN})
    model = PPO("MlpPolicy", env, n_steps=64, batch_size=32, n_epochs=1, seed=0, device="cpu")
    model.learn(timesteps)
    model.save(path)
    return path


# -- baselines ------------------------------------------------------------------------------
def test_buy_and_hold_earns_the_benchmark_less_costs(bars: Path) -> None:
    hold, rand = evaluate_baselines(TRADING, held_out_kwargs(bars), 1, seed=0)
    assert (hold.opponent, hold.checkpoint_path, hold.episodes) == ("buy_and_hold", None, 1)
    frame = held_out_frame(bars)
    # Bought at the Open after the first window, sold at the last Close: the env's benchmark.
    bench = frame.Close.iloc[-1] / frame.Open.iloc[WINDOW + 1] - 1.0
    m = hold.metrics
    assert m["benchmark_return"] == pytest.approx(bench)
    # All-in with commission and slippage on the way in and on the way out.
    net = (1 + bench) * (1 - SLIPPAGE) * (1 - COMMISSION) / ((1 + SLIPPAGE) * (1 + COMMISSION))
    assert m["pnl_pct"] == pytest.approx((net - 1.0) * 100.0)
    assert m["pnl"] == pytest.approx(100_000.0 * (net - 1.0))
    assert m["trades_count"] == 1 and m["exposure"] == 1.0
    assert hold.win_rate == m["win_rate"] == (1.0 if m["pnl"] > 0 else 0.0)
    assert hold.mean_length == len(frame) - WINDOW - 1
    assert hold.std_reward == 0.0
    # The pnl reward sums to pnl / initial balance.
    assert hold.mean_reward == pytest.approx(m["pnl"] / 100_000.0)


def test_random_baseline_is_seeded_and_averages_at_least_five_episodes(bars: Path) -> None:
    kwargs = held_out_kwargs(bars)
    _, first = evaluate_baselines(TRADING, kwargs, 1, seed=3)
    _, again = evaluate_baselines(TRADING, kwargs, 1, seed=3)
    _, other = evaluate_baselines(TRADING, kwargs, 1, seed=4)
    assert first.opponent == "random" and first.checkpoint_path is None
    assert first.episodes == 5
    assert first.rewards == again.rewards and first.metrics == again.metrics
    assert first.rewards != other.rewards
    # Five different random episodes on the same bars: a spread, and many trades.
    assert first.std_reward > 0.0 and len(set(first.rewards)) == 5
    assert first.metrics["trades_count"] > 10
    assert first.mean_reward == pytest.approx(sum(first.rewards) / 5)
    _, seven = evaluate_baselines(TRADING, kwargs, 7, seed=3)
    assert seven.episodes == 7


def test_agent_and_baselines_see_the_same_windows(bars: Path, tmp_path: Path) -> None:
    # With episode_length the start bars are random, drawn from the evaluation seed: every
    # policy gets the same ones, so their buy-and-hold benchmark is the same.
    model = tiny_ppo(bars, tmp_path / "m.zip")
    kwargs = held_out_kwargs(bars, episode_length=20)
    agent = evaluate_checkpoint(PPO, str(model), TRADING, kwargs, 5, seed=7, device="cpu")
    hold, rand = evaluate_baselines(TRADING, kwargs, 5, seed=7)
    assert agent.episodes == hold.episodes == rand.episodes == 5
    assert agent.mean_length == hold.mean_length == rand.mean_length == 20
    bench = agent.metrics["benchmark_return"]
    assert hold.metrics["benchmark_return"] == pytest.approx(bench)
    assert rand.metrics["benchmark_return"] == pytest.approx(bench)
    # Different windows have different benchmarks: the seed did move the start.
    hold_other, _ = evaluate_baselines(TRADING, kwargs, 5, seed=8)
    assert hold_other.metrics["benchmark_return"] != pytest.approx(bench)


# -- agents ---------------------------------------------------------------------------------
def test_checkpoint_evaluation_is_deterministic_and_matches_a_replay(
    bars: Path, tmp_path: Path
) -> None:
    model_path = tiny_ppo(bars, tmp_path / "m.zip")
    kwargs = held_out_kwargs(bars)
    agent = evaluate_checkpoint(
        PPO, str(model_path), TRADING, kwargs, 3, seed=0, device="cpu", kind="final"
    )
    assert agent.opponent == "agent" and agent.checkpoint_path == str(model_path)
    assert agent.checkpoint_kind == "final"
    # A whole-range episode played deterministically is the same every time.
    assert agent.episodes == 3 and len(set(agent.rewards)) == 1 and agent.std_reward == 0.0
    assert agent.mean_length == len(held_out_frame(bars)) - WINDOW - 1
    for key in METRICS:
        assert agent.metrics[key] is not None and math.isfinite(agent.metrics[key]), key
    if agent.metrics["trades_count"] == 0:
        assert agent.win_rate is None
    else:
        assert agent.win_rate == agent.metrics["win_rate"] and 0.0 <= agent.win_rate <= 1.0
    # The same numbers as playing the saved model by hand on the held-out bars.
    model = PPO.load(model_path, device="cpu")
    env = make_env(TRADING, kwargs)
    obs, _ = env.reset(seed=0)
    done, total = False, 0.0
    while not done:
        action, _ = model.predict(obs, deterministic=True)
        obs, reward, terminated, truncated, info = env.step(int(action))
        total += float(reward)
        done = terminated or truncated
    assert agent.mean_reward == pytest.approx(total)
    assert agent.metrics["pnl"] == pytest.approx(info["pnl"])
    assert agent.metrics["trades_count"] == len(info["trades"])


def test_evaluation_works_for_envs_without_trading(tmp_path: Path) -> None:
    model = PPO("MlpPolicy", "CartPole-v1", n_steps=64, batch_size=32, seed=0, device="cpu")
    model.save(tmp_path / "cartpole.zip")
    agent = evaluate_checkpoint(
        PPO, str(tmp_path / "cartpole.zip"), "CartPole-v1", {}, 2, seed=0, device="cpu"
    )
    assert agent.episodes == 2 and agent.mean_length >= 8
    assert agent.mean_reward == agent.mean_length  # CartPole pays 1 per step
    assert agent.win_rate is None
    assert evaluate_baselines("CartPole-v1", {}, 2, seed=0) == []
    assert not is_trading_env("CartPole-v1") and is_trading_env(TRADING)


def test_win_rate_comes_from_the_envs_win() -> None:
    env = make_env("rltrack/MaskedBandit-v0", {"length": 4})
    outcomes = play(env, random_policy(0), 12, seed=0)
    summary = summarize("random", outcomes)
    wins = [o.final_info["win"] for o in outcomes]
    assert summary.win_rate == pytest.approx(sum(wins) / len(wins))
    assert summary.metrics["hit_rate"] == pytest.approx(
        sum(o.final_info["hit_rate"] for o in outcomes) / 12
    )


def test_masked_agent_only_picks_allowed_actions(tmp_path: Path) -> None:
    from sb3_contrib import MaskablePPO

    env = make_env("rltrack/MaskedBandit-v0")
    model = MaskablePPO("MlpPolicy", env, n_steps=64, seed=0, device="cpu")
    model.save(tmp_path / "masked.zip")
    agent = evaluate_checkpoint(
        MaskablePPO, str(tmp_path / "masked.zip"), "rltrack/MaskedBandit-v0", {}, 5, seed=0,
        device="cpu", masked=True,
    )  # fmt: skip
    assert agent.episodes == 5
    assert min(agent.rewards) >= 0.0  # a disallowed arm would cost -1


def test_a_stop_request_abandons_the_evaluation(bars: Path) -> None:
    calls = 0

    def stop_after_ten() -> bool:
        nonlocal calls
        calls += 1
        return calls > 10

    with pytest.raises(EvaluationStopped):
        evaluate_policy(
            "random", random_policy(0), TRADING, held_out_kwargs(bars), 1, seed=0,
            should_stop=stop_after_ten,
        )  # fmt: skip


# -- date ranges ----------------------------------------------------------------------------
def config(**over: Any) -> TrainConfig:
    base: dict[str, Any] = {"env": TRADING, "progress": False, "device": "cpu"}
    return build_config(overrides={**base, **over})


def test_ranges_overlap_reads_ranges_as_the_env_does() -> None:
    assert not ranges_overlap("2020-01-01:2020-12-31", "2021-01-01:")
    assert ranges_overlap("2020-01-01:2020-12-31", "2020-12-31:")
    assert ranges_overlap(":", "2021-01-01:2021-01-02")
    assert not ranges_overlap(":2019-12-31", "2020-01-01:")
    # A bare END date keeps its whole day.
    assert ranges_overlap(":2020-06-30", "2020-06-30 12:00:")
    assert not ranges_overlap(":2020-06-30 11:00", "2020-06-30 12:00:")


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"env": "CartPole-v1", "train_range": TRAIN}, "takes no date range"),
        ({"env": "CartPole-v1", "eval_range": HELD_OUT}, "takes no date range"),
        ({"train_range": TRAIN, "eval_range": "2020-12-01:"}, "overlaps the training range"),
        ({"eval_range": HELD_OUT}, "trains on the whole data set"),
        (
            {"env_kwargs": {"date_range": "2020-06-01:"}, "eval_range": "2021-01-01:"},
            "overlaps the training range '2020-06-01:'",
        ),
        (
            {"env_kwargs": {"date_range": TRAIN}, "train_range": TRAIN},
            "both set the training data",
        ),
        ({"train_range": "2020-02-30:2020-12-31"}, "--train-range"),
        ({"train_range": "2020-12-31:2020-01-01"}, "is after end"),
    ],
)
def test_bad_ranges_are_refused(over: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        check_ranges(config(**over))


def test_disjoint_ranges_are_accepted() -> None:
    check_ranges(config(train_range=TRAIN, eval_range=HELD_OUT))
    check_ranges(config(env_kwargs={"date_range": TRAIN}, eval_range=HELD_OUT))
    check_ranges(config(train_range=TRAIN))
    check_ranges(config(env="CartPole-v1"))


# -- the backend ----------------------------------------------------------------------------
def backend_config(bars: Path, **over: Any) -> TrainConfig:
    settings: dict[str, Any] = {
        "algo": "ppo", "total_timesteps": 512, "checkpoint_every_steps": 128, "seed": 0,
        "env_kwargs": {"data": str(bars), "window_size": WINDOW, "episode_length": 40},
        "hyperparams": {"n_steps": 64, "batch_size": 32, "n_epochs": 1},
        "train_range": TRAIN, "eval_range": HELD_OUT, "eval_episodes": 2,
    }  # fmt: skip
    return config(**settings).model_copy(update=over)


def evaluation_events(sink: ListSink) -> tuple[list[EvaluationRecorded], dict[str, str]]:
    """The evaluations a backend recorded (the final and best checkpoints', then the baselines',
    all after the final checkpoint they refer to) and the saved checkpoints' paths by kind."""
    evals = sink.of(EvaluationRecorded)
    saved = {c.kind: c.path for c in sink.of(CheckpointSaved)}
    assert [(e.opponent, e.checkpoint_path) for e in evals] == [
        ("agent", saved["final"]), ("agent", saved["best"]),
        ("buy_and_hold", None), ("random", None),
    ]  # fmt: skip
    final_at = next(i for i, e in enumerate(sink.events) if getattr(e, "kind", "") == "final")
    assert sink.events.index(evals[0]) > final_at
    return evals, saved


def test_backend_trains_on_the_train_range_and_records_held_out_evaluations(
    bars: Path, tmp_path: Path
) -> None:
    sink = ListSink()
    cfg = backend_config(bars)
    result = Sb3Backend(TrainContext(cfg, "run-eval", tmp_path / "run", sink)).train()
    assert not result.stopped
    # Every trade of training lies in the training range.
    trades = [t for e in sink.of(EpisodeEnded) for t in e.trades]
    assert trades
    assert all(t.exit_time is not None and t.exit_time.year == 2020 for t in trades)

    evals, saved = evaluation_events(sink)
    assert [e.episodes for e in evals] == [2, 2, 2, 5]
    for e in evals:
        assert e.run_id == "run-eval" and e.mean_length == 40
        for key in METRICS:
            assert e.metrics[key] is not None, (e.opponent, key)
        if e.metrics["trades_count"]:
            assert e.win_rate is not None
    # The same ground for all: the held-out benchmark of the seeded windows.
    benches = {round(e.metrics["benchmark_return"], 12) for e in evals if e.opponent != "random"}
    assert len(benches) == 1
    # And the direct evaluation gives the same numbers as the recorded ones.
    again = held_out_evaluation(cfg, sb3_loader(PPO, device="cpu"), [("final", saved["final"])])
    assert again[0].mean_reward == pytest.approx(evals[0].mean_reward)


def iqn_backend_config(bars: Path, **over: Any) -> TrainConfig:
    """IQN, serial (its actor and learner in this process), tiny."""
    hyperparams = {"hidden_sizes": (16,), "batch_size": 8, "learning_starts": 50}
    return backend_config(bars, algo="iqn", num_actors=0, hyperparams=hyperparams, **over)


def test_iqn_actor_learner_records_held_out_evaluations(bars: Path, tmp_path: Path) -> None:
    sink = ListSink()
    cfg = iqn_backend_config(bars)
    result = ActorLearnerBackend(TrainContext(cfg, "run-iqn", tmp_path / "run", sink)).train()
    assert not result.stopped
    evals, saved = evaluation_events(sink)
    for e in evals:
        assert e.run_id == "run-iqn" and e.episodes >= 2 and e.mean_length == 40
        assert all(e.metrics[key] is not None for key in METRICS), e.opponent
    # Greedy play with seeded quantile fractions repeats exactly.
    again = held_out_evaluation(cfg, iqn_loader(0), [("final", saved["final"])])
    assert again[0].mean_reward == pytest.approx(evals[0].mean_reward)
    assert again[0].metrics == pytest.approx(evals[0].metrics)


def test_each_iqn_agent_has_its_checkpoints_evaluated(bars: Path, tmp_path: Path) -> None:
    sink = ListSink()
    cfg = iqn_backend_config(bars, agents=2)
    ActorLearnerBackend(TrainContext(cfg, "run-two", tmp_path / "run", sink)).train()
    # best.pt is rewritten whenever it improves: the same four files in the end.
    saved = {c.path for c in sink.of(CheckpointSaved) if c.kind in ("final", "best")}
    assert len(saved) == 4 and len({Path(p).parent for p in saved}) == 2  # a folder per agent
    evals = sink.of(EvaluationRecorded)
    agents = [e.checkpoint_path for e in evals if e.opponent == "agent"]
    assert len(agents) == 4 and set(agents) == saved
    assert [e.opponent for e in evals[4:]] == ["buy_and_hold", "random"]


def test_iqn_refuses_a_held_out_range_the_env_refuses(bars: Path, tmp_path: Path) -> None:
    cfg = iqn_backend_config(bars, eval_range="2030-01-01:")
    with pytest.raises(ConfigError, match="--eval-range"):
        ActorLearnerBackend(TrainContext(cfg, "run-bad", tmp_path / "run", ListSink()))


def test_a_stopped_run_skips_the_evaluation(bars: Path, tmp_path: Path) -> None:
    sink = ListSink()
    ctx = TrainContext(backend_config(bars), "run-stop", tmp_path / "run", sink)
    backend = Sb3Backend(ctx)
    ctx.stop.request()
    assert backend.train().stopped
    assert {c.kind for c in sink.of(CheckpointSaved)} == {"final"}
    assert sink.of(EvaluationRecorded) == []


def test_no_eval_range_no_evaluation(bars: Path, tmp_path: Path) -> None:
    sink = ListSink()
    cfg = backend_config(bars, eval_range=None, total_timesteps=128)
    Sb3Backend(TrainContext(cfg, "run-no-eval", tmp_path / "run", sink)).train()
    assert sink.of(EvaluationRecorded) == []


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"env_kwargs": {"data": "/no/such/bars.csv"}}, "no such file"),
        ({"env_kwargs": {"data": "/no/such/bars.csv"}, "vec_env": "subproc"}, "no such file"),
        ({"eval_range": "2021-07-01:"}, "--eval-range '2021-07-01:': .*fewer than"),
        ({"env_kwargs": {"window_size": WINDOW, "bogus": 1}}, "bogus"),
    ],
)
def test_backend_refuses_bad_env_input_as_config_errors(
    bars: Path, tmp_path: Path, over: dict[str, Any], message: str
) -> None:
    env_kwargs = {**backend_config(bars).env_kwargs, **over.pop("env_kwargs", {})}
    cfg = backend_config(bars, env_kwargs=env_kwargs, **over)
    with pytest.raises(ConfigError, match=message):
        Sb3Backend(TrainContext(cfg, "run-bad", tmp_path / "run", ListSink()))
