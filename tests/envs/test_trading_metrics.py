"""The trading metrics on value paths worked out by hand."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from rltrack.envs.trading_metrics import (
    DifferentialSharpe,
    EpisodeStats,
    Trade,
    final_metrics,
    sharpe_ratio,
    sortino_ratio,
)


def stats_of(values: list[float], holding: list[bool] | None = None) -> EpisodeStats:
    stats = EpisodeStats(values[0])
    for i, v in enumerate(values[1:]):
        stats.add(v, holding[i] if holding else False, 0.5)
    return stats


def trade(pnl: float) -> Trade:
    return Trade("long", 0, 1, "2024-01-01", "2024-01-02", 10.0, 11.0, 1.0, pnl, 0.1)


def test_a_hand_worked_path() -> None:
    # 100 -> 110 -> 99 -> 121 -> 108.9: returns +10 %, -10 %, +22.2... %, -10 %.
    values = [100.0, 110.0, 99.0, 121.0, 108.9]
    stats = stats_of(values, [True, True, False, True])
    r = [0.10, -0.10, 121 / 99 - 1, -0.10]
    mean = sum(r) / 4
    std = math.sqrt(sum((x - mean) ** 2 for x in r) / 3)
    assert sharpe_ratio(stats, 252) == pytest.approx(mean / std * math.sqrt(252))
    downside = math.sqrt((0.1**2 + 0.1**2) / 4)
    assert sortino_ratio(stats, 252) == pytest.approx(mean / downside * math.sqrt(252))
    # Peaks 110 then 121; drawdowns (110 - 99) / 110 = 0.1 and (121 - 108.9) / 121 = 0.1.
    assert stats.max_drawdown == pytest.approx(0.1)

    out = final_metrics(stats, [trade(5.0), trade(-1.0), trade(0.0)], periods_per_year=4,
                        benchmark_return=0.25)  # fmt: skip
    assert out["pnl"] == pytest.approx(8.9) and out["pnl_pct"] == pytest.approx(8.9)
    assert out["win_rate"] == pytest.approx(1 / 3)  # a pnl of exactly 0 is not a win
    assert out["trades_count"] == 3 and out["exposure"] == 0.75
    assert out["total_reward"] == 2.0 and out["total_steps"] == 4
    # 4 steps at 4 periods a year is one year: the annualized return is the return.
    assert out["calmar_ratio"] == pytest.approx(0.089 / 0.1)
    assert out["benchmark_return"] == 0.25
    assert out["trades"][0] == {
        "direction": "long", "entry_step": 0, "exit_step": 1, "entry_time": "2024-01-01",
        "exit_time": "2024-01-02", "entry_price": 10.0, "exit_price": 11.0, "quantity": 1.0,
        "pnl": 5.0, "costs": 0.1,
    }  # fmt: skip


def test_degenerate_paths_give_zero_ratios() -> None:
    one = stats_of([100.0, 105.0])  # a single return
    assert sharpe_ratio(one, 252) == 0.0 and sortino_ratio(one, 252) == 0.0
    steady = stats_of([100.0, 101.0, 102.01, 103.0301])  # +1 % every step: std 0
    assert sharpe_ratio(steady, 252) == 0.0
    assert sortino_ratio(steady, 252) == 0.0  # no downside
    assert steady.max_drawdown == 0.0
    out = final_metrics(steady, [], periods_per_year=252, benchmark_return=0.0)
    assert out["win_rate"] is None and out["calmar_ratio"] == 0.0 and out["trades"] == []
    flat = stats_of([100.0] * 5)
    assert sharpe_ratio(flat, 252) == 0.0 and flat.max_drawdown == 0.0


def test_ruin_is_a_drawdown_of_one() -> None:
    stats = stats_of([100.0, 50.0, -10.0])
    assert stats.max_drawdown == 1.0


def test_running_moments_match_numpy_over_a_long_path() -> None:
    rng = np.random.default_rng(0)
    r = rng.normal(0.0004, 0.02, 100_000)
    values = (1e6 * np.cumprod(np.concatenate([[1.0], 1 + r]))).tolist()
    stats = stats_of(values)
    expected = r.mean() / r.std(ddof=1) * math.sqrt(252)
    assert sharpe_ratio(stats, 252) == pytest.approx(expected, rel=1e-9)
    peaks = np.maximum.accumulate(values)
    assert stats.max_drawdown == pytest.approx(float(((peaks - values) / peaks).max()))
    assert statistics.fmean(r) == pytest.approx(stats.mean, rel=1e-9)


def test_differential_sharpe_by_hand() -> None:
    eta = 0.5
    dsr = DifferentialSharpe(eta)
    assert dsr.update(0.1) == 0.0  # A = B = 0: no variance yet
    # A1 = 0.5 * 0.1 = 0.05, B1 = 0.5 * 0.01 = 0.005, var = 0.005 - 0.0025 = 0.0025
    # D2 = (B1 * (R - A1) - A1 * (R^2 - B1) / 2) / var^1.5 with R = -0.1
    d = (0.005 * (-0.1 - 0.05) - 0.5 * 0.05 * (0.01 - 0.005)) / 0.0025**1.5
    assert dsr.update(-0.1) == pytest.approx(max(-10.0, d))
    assert d == pytest.approx(-7.0)  # (-0.00075 - 0.000125) / 0.000125
    dsr.reset()
    assert dsr.update(0.3) == 0.0
    # After R = -0.01 (A = -1e-4, B = 1e-6) a return of 1.0 gives D ~ 5e-5 / 9.9e-10: clipped.
    clipped = DifferentialSharpe(0.01, clip=2.0)
    clipped.update(-0.01)
    assert clipped.update(1.0) == 2.0
    assert clipped.update(-1.0) == -2.0
