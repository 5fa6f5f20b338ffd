"""Performance metrics of a trading episode, accumulated step by step in O(1) and summed up once.

Definitions (``r_t`` is the simple return of the portfolio value from one step to the next,
``v_t`` the portfolio value after step t, ``v_0`` the initial balance, n the number of steps):

* ``sharpe_ratio`` = mean(r) / std(r, ddof=1) * sqrt(periods_per_year); 0 when n < 2 or the
  standard deviation is 0. No risk-free rate.
* ``sortino_ratio`` = mean(r) / sqrt(mean(min(r, 0)^2)) * sqrt(periods_per_year), the downside
  deviation taken over all n returns with target 0; 0 when n < 2 or no return is negative.
* ``max_drawdown`` = max over t of (peak_t - v_t) / peak_t with peak_t = max(v_0 .. v_t): a
  fraction in [0, 1] (a value at or below 0 counts as a drawdown of 1).
* ``calmar_ratio`` = annualized return / max_drawdown, the annualized return being
  (v_n / v_0) ** (periods_per_year / n) - 1; 0 when max_drawdown is 0.
* ``win_rate`` = completed trades with pnl > 0 / completed trades; None without trades.
* ``exposure`` = steps that ended holding a position / n.

The mean and variance use Welford's update, so they stay accurate over long episodes.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple


class Trade(NamedTuple):
    """A completed round trip. Prices are the raw bar prices at which it was executed;
    ``costs`` = commissions + slippage of both legs; ``pnl`` = direction * quantity *
    (exit_price - entry_price) - costs, so it is the trade's net effect on the portfolio."""

    direction: str
    entry_step: int
    exit_step: int
    entry_time: str
    exit_time: str
    entry_price: float
    exit_price: float
    quantity: float
    pnl: float
    costs: float


class EpisodeStats:
    """Running sums of one episode; :meth:`add` is called once per step."""

    __slots__ = (
        "initial_value", "value", "steps", "mean", "m2", "downside_sq", "peak", "max_drawdown",
        "in_position", "total_reward",
    )  # fmt: skip

    def __init__(self, initial_value: float) -> None:
        self.initial_value = initial_value
        self.value = initial_value
        self.steps = 0
        self.mean = 0.0
        self.m2 = 0.0
        self.downside_sq = 0.0
        self.peak = initial_value
        self.max_drawdown = 0.0
        self.in_position = 0
        self.total_reward = 0.0

    def add(self, value: float, holding: bool, reward: float) -> None:
        """One step that moved the portfolio to ``value``, ended holding a position or not."""
        prev = self.value
        r = value / prev - 1.0 if prev > 0.0 else 0.0
        self.value = value
        self.steps += 1
        delta = r - self.mean
        self.mean += delta / self.steps
        self.m2 += delta * (r - self.mean)
        if r < 0.0:
            self.downside_sq += r * r
        if value > self.peak:
            self.peak = value
        else:
            dd = (self.peak - value) / self.peak if value > 0.0 else 1.0
            if dd > self.max_drawdown:
                self.max_drawdown = dd
        if holding:
            self.in_position += 1
        self.total_reward += reward


def sharpe_ratio(stats: EpisodeStats, periods_per_year: float) -> float:
    if stats.steps < 2:
        return 0.0
    var = stats.m2 / (stats.steps - 1)
    if var <= 0.0:
        return 0.0
    return stats.mean / math.sqrt(var) * math.sqrt(periods_per_year)


def sortino_ratio(stats: EpisodeStats, periods_per_year: float) -> float:
    if stats.steps < 2 or stats.downside_sq <= 0.0:
        return 0.0
    downside = math.sqrt(stats.downside_sq / stats.steps)
    return stats.mean / downside * math.sqrt(periods_per_year)


def annualized_return(initial: float, final: float, steps: int, periods_per_year: float) -> float:
    if steps < 1 or initial <= 0.0:
        return 0.0
    if final <= 0.0:
        return -1.0
    try:
        return float((final / initial) ** (periods_per_year / steps)) - 1.0
    except OverflowError:
        return math.inf


def final_metrics(
    stats: EpisodeStats,
    trades: list[Trade],
    *,
    periods_per_year: float,
    benchmark_return: float,
) -> dict[str, Any]:
    """The episode's summary for the final ``info`` (``trades`` as a list of dicts)."""
    initial, final = stats.initial_value, stats.value
    cagr = annualized_return(initial, final, stats.steps, periods_per_year)
    mdd = stats.max_drawdown
    wins = sum(1 for t in trades if t.pnl > 0.0)
    return {
        "initial_portfolio_value": initial,
        "final_portfolio_value": final,
        "pnl": final - initial,
        "pnl_pct": (final - initial) / initial * 100.0,
        "sharpe_ratio": sharpe_ratio(stats, periods_per_year),
        "sortino_ratio": sortino_ratio(stats, periods_per_year),
        "max_drawdown": mdd,
        "calmar_ratio": cagr / mdd if mdd > 0.0 else 0.0,
        "annualized_return": cagr,
        "win_rate": wins / len(trades) if trades else None,
        "trades_count": len(trades),
        "exposure": stats.in_position / stats.steps if stats.steps else 0.0,
        "benchmark_return": benchmark_return,
        "total_reward": stats.total_reward,
        "total_steps": stats.steps,
        "trades": [t._asdict() for t in trades],
    }


class DifferentialSharpe:
    """Moody & Saffell's differential Sharpe ratio, the reward for ``reward="differential_sharpe"``.

    With exponential moving estimates of the first and second moments of the returns R_t,
    A_t = A_{t-1} + eta * (R_t - A_{t-1}) and B_t = B_{t-1} + eta * (R_t^2 - B_{t-1}), the reward
    is D_t = (B_{t-1} * dA - A_{t-1} * dB / 2) / (B_{t-1} - A_{t-1}^2) ** 1.5 with
    dA = R_t - A_{t-1} and dB = R_t^2 - B_{t-1}: the first-order effect of R_t on a Sharpe ratio
    with decay rate eta (Moody & Saffell, "Learning to Trade via Direct Reinforcement", 2001).
    A and B start at 0; D_t is 0 while B - A^2 is below ``min_variance`` (the first steps, and
    after a long flat spell) and is clipped to [-clip, clip], because dividing by a tiny variance
    would otherwise dwarf every later reward.
    """

    __slots__ = ("eta", "clip", "min_variance", "a", "b")

    def __init__(self, eta: float = 0.01, clip: float = 10.0, min_variance: float = 1e-12) -> None:
        self.eta = eta
        self.clip = clip
        self.min_variance = min_variance
        self.a = 0.0
        self.b = 0.0

    def reset(self) -> None:
        self.a = 0.0
        self.b = 0.0

    def update(self, r: float) -> float:
        a, b = self.a, self.b
        da = r - a
        db = r * r - b
        var = b - a * a
        d = 0.0
        if var > self.min_variance:
            d = (b * da - 0.5 * a * db) / (var * math.sqrt(var))
            d = max(-self.clip, min(self.clip, d))
        self.a = a + self.eta * da
        self.b = b + self.eta * db
        return d
