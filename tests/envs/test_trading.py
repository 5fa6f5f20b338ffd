"""TradingEnv against values worked out by hand, plus Gymnasium, SB3, seeding, shutdown, render."""

from __future__ import annotations

import math
import statistics
import warnings
from typing import Any

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest
from gymnasium.utils.env_checker import check_env

from rltrack.envs import make_env, register_envs
from rltrack.envs.trading import TradingEnv
from rltrack.envs.trading_render import LONG_SHADE, SHORT_SHADE, TradingRenderer

# Ten made-up daily bars: Open, High, Low, Close, Volume. With window_size=2 the episode starts
# at bar 2 and takes 7 steps; step k executes at Open[k + 3] and is marked at Close[k + 3].
BARS = [
    (100, 101, 99, 100, 1000),  # 0
    (100, 102, 99, 101, 1100),  # 1
    (101, 103, 100, 102, 1200),  # 2  the first observation
    (102, 105, 101, 104, 1300),  # 3  step 0: buy at 102
    (104, 104.5, 102, 103, 1250),  # 4  step 1: hold
    (103, 103.5, 99, 100, 1400),  # 5  step 2: sell at 103 and go short at 103
    (100, 106, 99.5, 105, 1500),  # 6  step 3: hold the short
    (106, 107, 104, 104, 1350),  # 7  step 4: cover at 106 (a losing short)
    (104, 106, 103.5, 105, 1200),  # 8  step 5: buy at 104
    (105, 108, 104.5, 107, 1600),  # 9  step 6: the end: the long is closed at Close 107
]
ACTIONS = [1, 1, 2, 2, 0, 1, 1]  # 0 flat, 1 long, 2 short
DATES = pd.date_range("2024-01-01", periods=len(BARS), freq="D")
register_envs()


def bars_frame() -> pd.DataFrame:
    df = pd.DataFrame(BARS, columns=["Open", "High", "Low", "Close", "Volume"])
    df.insert(0, "Date", DATES)
    return df


Infos = list[dict[str, Any]]


def run(env: TradingEnv, actions: list[int]) -> tuple[list[float], Infos, bool, bool]:
    env.reset(seed=0)
    rewards, infos = [], []
    terminated = truncated = False
    for a in actions:
        _, reward, terminated, truncated, info = env.step(a)
        rewards.append(reward)
        infos.append(info)
    return rewards, infos, terminated, truncated


def test_hand_checked_episode_with_costs() -> None:
    c, s, v0 = 0.001, 10 / 10_000, 100_000.0  # commission 0.1 %, slippage 10 bps
    env = TradingEnv(bars_frame(), window_size=2, commission_rate=c, slippage_bps=10)
    rewards, infos, terminated, truncated = run(env, ACTIONS)

    # Step 0: all-in long at Open[3] = 102, filled at 102 * (1 + s); notional + commission = v0.
    q1 = v0 / (102 * (1 + s) * (1 + c))
    v = [v0, q1 * 104, q1 * 103]  # marked at Close[3], Close[4]
    # Step 2: sell q1 at 103 * (1 - s), less commission; short the whole cash at 103 * (1 - s).
    cash = q1 * 103 * (1 - s) * (1 - c)
    q2 = cash / (103 * (1 - s) * (1 + c))
    cash += q2 * 103 * (1 - s) * (1 - c)
    v += [cash - q2 * 100, cash - q2 * 105]  # Close[5], Close[6]
    # Step 4: buy back q2 at 106 * (1 + s) plus commission; step 5: long again at 104 * (1 + s).
    cash -= q2 * 106 * (1 + s) * (1 + c)
    q3 = cash / (104 * (1 + s) * (1 + c))
    v += [cash, q3 * 105]
    # Step 6: the last bar: the open long is sold at Close[9] = 107, with slippage and commission.
    final = q3 * 107 * (1 - s) * (1 - c)
    v.append(final)

    assert terminated and not truncated
    assert [i["portfolio_value"] for i in infos] == pytest.approx(v[1:], rel=1e-12)
    assert [i["price"] for i in infos] == [104, 103, 100, 105, 104, 105, 107]
    assert [i["position"] for i in infos] == [1, 1, -1, -1, 0, 1, 0]
    assert [i["action"] for i in infos] == ACTIONS
    info = infos[-1]
    assert info["initial_portfolio_value"] == v0
    assert info["final_portfolio_value"] == pytest.approx(final, rel=1e-12)
    assert info["pnl"] == pytest.approx(final - v0, rel=1e-9)
    assert info["pnl_pct"] == pytest.approx((final - v0) / v0 * 100, rel=1e-9)
    # pnl reward: change of value over the initial balance.
    assert rewards == pytest.approx([(b - a) / v0 for a, b in zip(v, v[1:], strict=False)])
    assert info["total_reward"] == pytest.approx((final - v0) / v0, rel=1e-9)
    assert info["total_steps"] == 7

    r = [b / a - 1 for a, b in zip(v, v[1:], strict=False)]
    assert info["sharpe_ratio"] == pytest.approx(
        statistics.mean(r) / statistics.stdev(r) * math.sqrt(252), rel=1e-9
    )
    downside = math.sqrt(sum(min(x, 0.0) ** 2 for x in r) / len(r))
    assert info["sortino_ratio"] == pytest.approx(statistics.mean(r) / downside * math.sqrt(252))
    # The peak is v[3] (after the short's first bar); the trough v[5], after covering at 106.
    assert v[3] == max(v[:6]) and v[5] == min(v[3:])
    mdd = (v[3] - v[5]) / v[3]
    assert mdd == pytest.approx(0.05872, abs=1e-5)  # 103,305.66 down to 97,239.67
    assert info["max_drawdown"] == pytest.approx(mdd, rel=1e-12)
    cagr = (final / v0) ** (252 / 7) - 1
    assert info["calmar_ratio"] == pytest.approx(cagr / mdd, rel=1e-9)
    # Positions held during steps 0..6: long, long, short, short, flat, long, long.
    assert info["exposure"] == pytest.approx(6 / 7)
    assert info["benchmark_return"] == pytest.approx(107 / 102 - 1)  # Open[3] -> Close[9]

    # The trades: a winning long, a losing short, and the long still open at the end.
    costs1 = c * q1 * 102 * (1 + s) + q1 * 102 * s + c * q1 * 103 * (1 - s) + q1 * 103 * s
    costs2 = c * q2 * 103 * (1 - s) + q2 * 103 * s + c * q2 * 106 * (1 + s) + q2 * 106 * s
    costs3 = c * q3 * 104 * (1 + s) + q3 * 104 * s + c * q3 * 107 * (1 - s) + q3 * 107 * s
    expected = [
        ("long", 0, 2, "2024-01-04", "2024-01-06", 102, 103, q1, q1 * (103 - 102) - costs1),
        ("short", 2, 4, "2024-01-06", "2024-01-08", 103, 106, q2, q2 * (103 - 106) - costs2),
        ("long", 5, 6, "2024-01-09", "2024-01-10", 104, 107, q3, q3 * (107 - 104) - costs3),
    ]
    keys = (
        "direction", "entry_step", "exit_step", "entry_time", "exit_time", "entry_price",
        "exit_price", "quantity", "pnl", "costs",
    )  # fmt: skip
    approx = {"quantity", "pnl", "costs"}
    trades = info["trades"]
    assert len(trades) == info["trades_count"] == 3
    for trade, values, costs in zip(trades, expected, (costs1, costs2, costs3), strict=True):
        assert set(trade) == set(keys)
        for key, want in zip(keys, (*values, costs), strict=True):
            assert trade[key] == (pytest.approx(want, rel=1e-9) if key in approx else want)
    assert [t["pnl"] > 0 for t in trades] == [True, False, True]
    assert info["win_rate"] == pytest.approx(2 / 3)
    assert sum(t["pnl"] for t in trades) == pytest.approx(final - v0, rel=1e-9)


def test_without_costs_the_pnl_is_the_price_moves() -> None:
    env = TradingEnv(bars_frame(), window_size=2, commission_rate=0.0, slippage_bps=0.0)
    _, infos, _, _ = run(env, ACTIONS)
    # long 102 -> 103, short 103 -> 106, long 104 -> 107, each with the whole portfolio.
    final = 100_000 * (103 / 102) * (1 - (106 - 103) / 103) * (107 / 104)
    info = infos[-1]
    assert info["final_portfolio_value"] == pytest.approx(final, rel=1e-12)
    assert [t["costs"] for t in info["trades"]] == [0.0, 0.0, 0.0]
    assert info["trades"][0]["quantity"] == pytest.approx(100_000 / 102)


def test_log_return_and_differential_sharpe_rewards() -> None:
    frame = bars_frame()
    base = TradingEnv(frame, window_size=2, commission_rate=0.0, slippage_bps=0.0)
    _, infos, _, _ = run(base, ACTIONS)
    v = [100_000.0] + [i["portfolio_value"] for i in infos]
    r = [b / a - 1 for a, b in zip(v, v[1:], strict=False)]

    env = TradingEnv(frame, window_size=2, commission_rate=0, slippage_bps=0, reward="log_return")
    rewards, *_ = run(env, ACTIONS)
    assert rewards == pytest.approx([math.log(1 + x) for x in r])

    eta = 0.1
    env = TradingEnv(
        frame, window_size=2, commission_rate=0, slippage_bps=0, reward="differential_sharpe",
        dsr_eta=eta,
    )  # fmt: skip
    rewards, *_ = run(env, ACTIONS)
    # Moody & Saffell: D = (B dA - A dB / 2) / (B - A^2)^1.5 with the moments before the step.
    a = b = 0.0
    want = []
    for x in r:
        var = b - a * a
        want.append(0.0 if var <= 1e-12 else (b * (x - a) - 0.5 * a * (x * x - b)) / var**1.5)
        a, b = a + eta * (x - a), b + eta * (x * x - b)
    assert want[0] == 0.0 and want[1] != 0.0
    assert rewards == pytest.approx([max(-10.0, min(10.0, d)) for d in want])


def test_flat_episode_has_no_trades_and_zero_ratios() -> None:
    env = TradingEnv(bars_frame(), window_size=2)
    _, infos, terminated, _ = run(env, [0] * 7)
    info = infos[-1]
    assert terminated
    assert info["trades"] == [] and info["trades_count"] == 0 and info["win_rate"] is None
    assert info["pnl"] == 0.0 and info["sharpe_ratio"] == 0.0 and info["max_drawdown"] == 0.0
    assert info["exposure"] == 0.0 and info["calmar_ratio"] == 0.0


def test_step_after_the_end_and_bad_actions_raise() -> None:
    env = TradingEnv(bars_frame(), window_size=2)
    run(env, ACTIONS)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)
    env.reset()
    with pytest.raises(ValueError, match="action"):
        env.step(3)


def test_observation_holds_the_window_position_and_unrealized_pnl() -> None:
    env = TradingEnv(bars_frame(), window_size=3, commission_rate=0.0, slippage_bps=0.0)
    obs, _ = env.reset()
    assert obs.shape == (3 * 3 + 2,) and obs.dtype == np.float32
    assert obs[-2:].tolist() == [0.0, 0.0]
    obs, *_ = env.step(1)  # long at Open[4] = 104, marked at Close[4] = 103
    assert obs[-2] == 1.0
    assert obs[-1] == pytest.approx(103 / 104 - 1, rel=1e-6)
    obs, *_ = env.step(2)  # short at Open[5] = 103, marked at Close[5] = 100
    assert obs[-2] == -1.0
    assert obs[-1] == pytest.approx((103 - 100) / 103, rel=1e-6)


def test_googl_is_the_default_and_eurusd_is_offered() -> None:
    env = TradingEnv()
    assert len(env.market) == 2335
    assert str(env.market.dates[0])[:10] == "2009-05-22"
    assert env.market.close[0] == pytest.approx(196.946945)
    fx = TradingEnv(data="eurusd", window_size=24, periods_per_year=24 * 260)
    assert len(fx.market) == 6225
    assert str(fx.market.dates[0]) == "2017-01-01T22:00:00.000000000"


def test_make_with_data_path_and_date_range(tmp_path: Any) -> None:
    path = tmp_path / "bars.csv"
    bars_frame().to_csv(path, index=False)
    env = make_env("rltrack/Trading-v0", {"data": str(path), "window_size": 2})
    env.reset(seed=0)
    assert len(env.unwrapped.market) == 10  # type: ignore[attr-defined]
    env = gym.make("rltrack/Trading-v0", data="googl", date_range="2015-01-01:2015-12-31")
    market = env.unwrapped.market  # type: ignore[attr-defined]
    # 2015 had 252 NYSE trading days.
    assert len(market) == 252
    assert str(market.dates[0])[:10] == "2015-01-02" and str(market.dates[-1])[:10] == "2015-12-31"
    _, info = env.reset(seed=0)
    *_, info = env.step(1)
    assert info["price"] == pytest.approx(float(market.close[31]))


def test_random_starts_are_seeded_and_reproducible() -> None:
    def starts(seed: int) -> tuple[str, ...]:
        """The entry date of five always-long episodes: the first bar each one trades in."""
        env = TradingEnv(episode_length=20)
        env.reset(seed=seed)
        out = []
        for _ in range(5):
            for step in range(20):
                _, _, terminated, _, info = env.step(1)
                assert terminated == (step == 19)
            (trade,) = info["trades"]
            out.append(trade["entry_time"])
            env.reset()
        return tuple(out)

    assert starts(7) == starts(7)
    assert starts(7) != starts(8)
    assert len(set(starts(7))) > 1  # each reset draws a new start
    env = TradingEnv()  # without episode_length: always the whole range
    env.reset(seed=1)
    a = env.step(0)[4]["price"]
    env.reset(seed=2)
    assert env.step(0)[4]["price"] == a == env.market.close[31]


def test_graceful_shutdown_closes_the_position_with_final_metrics() -> None:
    env = TradingEnv(bars_frame(), window_size=2, commission_rate=0.0, slippage_bps=0.0)
    env.reset()
    env.step(1)  # long at Open[3] = 102
    env.signal_graceful_shutdown()
    _, reward, terminated, truncated, info = env.step(1)  # bar 4, closed at Close[4] = 103
    assert truncated and not terminated
    assert info["position"] == 0 and info["total_steps"] == 2
    assert info["final_portfolio_value"] == pytest.approx(100_000 * 103 / 102)
    assert info["trades"] == [
        {
            "direction": "long", "entry_step": 0, "exit_step": 1, "entry_time": "2024-01-04",
            "exit_time": "2024-01-05", "entry_price": 102.0, "exit_price": 103.0,
            "quantity": pytest.approx(100_000 / 102), "pnl": pytest.approx(100_000 / 102),
            "costs": 0.0,
        }
    ]  # fmt: skip
    assert info["benchmark_return"] == pytest.approx(103 / 102 - 1)
    env.signal_graceful_shutdown()
    env.reset()  # clears the request
    *_, terminated, truncated, info = env.step(1)
    assert not terminated and not truncated and "pnl" not in info


def test_rgb_array_frames_show_the_position() -> None:
    def frame_after(actions: list[int]) -> np.ndarray:
        env = TradingEnv(window_size=10, render_mode="rgb_array")
        env.reset()
        for a in actions:
            env.step(a)
        frame = env.render()
        assert frame is not None
        return frame

    flat = frame_after([0] * 30)
    assert flat.shape == (540, 960, 3) and flat.dtype == np.uint8
    longs = frame_after([0] * 29 + [1])
    shorts = frame_after([0] * 29 + [2])
    assert not np.array_equal(flat, longs) and not np.array_equal(longs, shorts)
    assert not (flat == LONG_SHADE).all(axis=2).any()
    assert (longs == LONG_SHADE).all(axis=2).any() and (shorts == SHORT_SHADE).all(axis=2).any()
    small = TradingEnv(window_size=10, render_mode="rgb_array", render_size=(320, 180))
    small.reset()
    frame = small.render()
    assert frame is not None and frame.shape == (180, 320, 3)
    assert TradingEnv(window_size=10).render() is None


@pytest.mark.parametrize("width", [160, 300, 320, 480, 624, 960, 1280])
def test_position_shading_covers_exactly_the_bars_in_view_at_any_size(width: int) -> None:
    """The shaded columns are those of the bars in view, for every count of bars. At 300 pixels
    wide, 85 bars once asked for one column too many (85 * 2.2 = 187.00000000000003) and the
    frame failed with an IndexError (side-by-side videos draw the chart in cells about that
    small); at 624, the game's width in a one-run video, 30 bars left a column unshaded."""
    renderer = TradingRenderer(width, 200)
    top, _ = renderer.price_box
    row = top + 2  # inside the price panel, above any grid line
    for m in range(1, renderer.bars + 1):
        frame = renderer.draw(
            closes=np.full(m, 100.0),  # a flat price: its line runs along the bottom
            positions=np.ones(m, dtype=np.int8),  # long in every bar: all shaded
            values=np.full(m, 1000.0),
            markers=[],
            initial_value=1000.0,
            header="",
        )
        shaded = (frame[row, renderer.left : renderer.right] == LONG_SHADE).all(axis=1)
        expected = np.flatnonzero(renderer.col_bar < m)
        assert np.array_equal(np.flatnonzero(shaded), expected), f"{m} bars"


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"episode_length": 5, "reward": "differential_sharpe"}, {"render_mode": "rgb_array"}],
)
def test_gymnasium_check_env_passes(kwargs: dict[str, Any]) -> None:
    # Through gymnasium.make, so that the env has a spec and check_env tries each render mode.
    env = gym.make("rltrack/Trading-v0", data=bars_frame(), window_size=2, **kwargs).unwrapped
    assert isinstance(env, TradingEnv)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env)


def test_sb3_ppo_learns_a_few_hundred_steps() -> None:
    from stable_baselines3 import PPO

    env = TradingEnv(window_size=10, episode_length=100)
    model = PPO("MlpPolicy", env, n_steps=64, batch_size=32, device="cpu", seed=0)
    model.learn(256)
    assert model.num_timesteps >= 256


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reward": "sharpe"}, "unknown reward 'sharpe'; valid rewards: 'pnl', 'log_return', "),
        ({"reward": "sharpe"}, "'differential_sharpe'"),
        ({"commission_rate": -0.001}, "commission_rate must be >= 0"),
        ({"slippage_bps": -1}, "slippage_bps must be >= 0"),
        ({"window_size": 0}, "window_size must be >= 1"),
        ({"window_size": 2.5}, "window_size must be an integer"),
        ({"episode_length": 0}, "episode_length must be >= 1"),
        ({"initial_balance": 0}, "initial_balance must be > 0"),
        ({"periods_per_year": -1}, "periods_per_year must be > 0"),
        ({"dsr_eta": 1.5}, "dsr_eta must be > 0.0 and < 1.0"),
        ({"render_mode": "human"}, "unknown render_mode 'human'"),
        ({"window_size": 9}, "10 rows, fewer than the 11 that window_size 9 and one step"),
        ({"window_size": 2, "episode_length": 8}, "fewer than the 11 .* episode_length 8"),
        ({"data": "nope.csv"}, "no such file"),
        ({"data": 3}, "data must be a DataFrame"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs: dict[str, Any], message: str) -> None:
    kwargs = {"data": bars_frame(), **kwargs}
    with pytest.raises(ValueError, match=message):
        TradingEnv(**kwargs)
