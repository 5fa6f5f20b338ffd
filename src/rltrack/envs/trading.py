"""A single-instrument trading env: go flat, long or short on OHLCV bars, with costs and metrics.

Registered as ``rltrack/Trading-v0``. One step is one bar.

Timing and execution
    At bar t the agent sees the features of bars t-window_size+1 .. t (all known at the close
    of bar t) and picks a target position. A change of position executes at the **Open of bar
    t+1**, the next price it could trade at; the step then ends at the close of bar t+1, where
    the portfolio is marked to market (``info["price"]`` is that close). A trade's
    ``entry_step`` / ``exit_step`` is the 0-based number of the step in which it executed (the
    ``step`` of the per-step trace), its ``entry_time`` / ``exit_time`` the date of that bar.

Position sizing
    All-in, no leverage: on entry the whole portfolio value (all cash, since a position is only
    opened from flat) buys ``quantity = equity / (fill * (1 + commission_rate))`` units, so the
    notional plus its commission is exactly the equity. A short is symmetric: it sells the same
    quantity and holds the proceeds as cash. Switching long <-> short closes the position and
    opens the new one at the same Open, with costs on both legs.

Costs
    Slippage moves each fill ``slippage_bps / 10_000`` of the price against the trader (buys
    higher, sells lower); commission is ``commission_rate`` times the traded notional at the
    fill price. A trade's ``costs`` are both legs' commission plus slippage, and its ``pnl`` is
    ``direction * quantity * (exit_price - entry_price) - costs`` with the raw bar prices, so
    the trades' pnl add up to the episode's pnl.

End of an episode
    The episode ends at the last bar of the data range (or of ``episode_length`` bars after a
    random start), when the portfolio value falls to 0 or below, or at the next step after
    :meth:`TradingEnv.signal_graceful_shutdown`. A position still open then is closed at that
    bar's Close, with costs, and counted as a trade. The natural end (and ruin) is reported as
    ``terminated=True``: the data simply ends, there is nothing to bootstrap from; a graceful
    shutdown is reported as ``truncated=True``, since the episode could have gone on. The final
    ``info`` adds the metrics of :mod:`rltrack.envs.trading_metrics` and ``trades``.

Rewards (``reward=``), with v the portfolio value after a step and v' the one before
    ``"pnl"``: (v - v') / initial_balance, the change of value in units of the starting balance
    (so the episode's rewards sum to pnl / initial_balance). ``"log_return"``: log(v / v'), with
    the ratio floored at 1e-12. ``"differential_sharpe"``: Moody & Saffell's differential Sharpe
    ratio of the simple returns v / v' - 1 with decay ``dsr_eta`` (default 0.01, i.e. moments
    averaged over ~100 steps), see :class:`rltrack.envs.trading_metrics.DifferentialSharpe`.

Observation
    float32, ``window_size * 3 + 2`` values in [-10, 10]: the window of features from
    :func:`rltrack.envs.trading_data.make_features` (log return, high-low range / close, volume
    change; z-scored), row by row, oldest bar first, then the position (-1, 0, 1) and the
    unrealized PnL of the open position as a fraction of the equity at its entry (0 when flat).
"""

from __future__ import annotations

import math
import numbers
import os
from typing import Any

import gymnasium as gym
import numpy as np
import pandas as pd
from gymnasium import spaces

from rltrack.envs.trading_data import (
    FEATURE_CLIP,
    FEATURE_NAMES,
    load_market_data,
    make_features,
    range_bounds,
    slice_dates,
)
from rltrack.envs.trading_metrics import DifferentialSharpe, EpisodeStats, Trade, final_metrics
from rltrack.envs.trading_render import ENTRY_LONG, ENTRY_SHORT, EXIT, TradingRenderer

REWARDS = ("pnl", "log_return", "differential_sharpe")
ACTIONS = ("flat", "long", "short")
_TARGET = (0, 1, -1)  # action -> position
_DIRECTION = {1: "long", -1: "short"}
_POS_NAME = {1: "LONG", -1: "SHORT", 0: "FLAT"}


def _int_arg(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _float_arg(name: str, value: Any, lo: float, hi: float = math.inf, *, lo_open: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    x = float(value)
    if (x <= lo if lo_open else x < lo) or x >= hi:
        low = f"> {lo}" if lo_open else f">= {lo}"
        high = f" and < {hi}" if math.isfinite(hi) else ""
        raise ValueError(f"{name} must be {low}{high}, got {value}")
    return x


class TradingEnv(gym.Env[np.ndarray, int]):
    """Trade one instrument on OHLCV bars: Discrete(3) actions 0 flat, 1 long, 2 short.

    See the module docstring for execution, sizing, costs, rewards and the final metrics.
    ``data`` is a DataFrame, a CSV path, ``"googl"`` (the default) or ``"eurusd"``;
    ``date_range="START:END"`` keeps the bars in that inclusive range. Defaults: a 30-bar window,
    100,000 starting balance, commission 0.1 % of notional, slippage 2 bps, whole-range episodes,
    the ``"pnl"`` reward, 252 periods a year (use about 6240 for hourly FX). ``dsr_eta`` is the
    decay of the differential Sharpe reward; ``render_size`` the (width, height) of frames.
    Through wrappers, call ``env.unwrapped.signal_graceful_shutdown()``.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 30}

    def __init__(
        self,
        data: pd.DataFrame | str | os.PathLike[str] | None = None,
        *,
        date_range: str | None = None,
        window_size: int = 30,
        initial_balance: float = 100_000.0,
        commission_rate: float = 0.001,
        slippage_bps: float = 2.0,
        episode_length: int | None = None,
        reward: str = "pnl",
        dsr_eta: float = 0.01,
        periods_per_year: float = 252,
        render_mode: str | None = None,
        render_size: tuple[int, int] = (960, 540),
    ) -> None:
        self.window_size = _int_arg("window_size", window_size, 1)
        self.initial_balance = _float_arg("initial_balance", initial_balance, 0.0, lo_open=True)
        self.commission_rate = _float_arg("commission_rate", commission_rate, 0, 1, lo_open=False)
        self.slippage_bps = _float_arg("slippage_bps", slippage_bps, 0, 10_000, lo_open=False)
        self.episode_length = (
            None if episode_length is None else _int_arg("episode_length", episode_length, 1)
        )
        if reward not in REWARDS:
            raise ValueError(
                f"unknown reward {reward!r}; valid rewards: {', '.join(repr(r) for r in REWARDS)}"
            )
        self.reward_name = reward
        self.dsr_eta = _float_arg("dsr_eta", dsr_eta, 0.0, 1.0, lo_open=True)
        self.periods_per_year = _float_arg("periods_per_year", periods_per_year, 0.0, lo_open=True)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"unknown render_mode {render_mode!r}; valid: None, "
                f"{', '.join(repr(m) for m in self.metadata['render_modes'])}"
            )
        self.render_mode = render_mode

        # Features are computed on the whole data set and then cut to the range, so a range's
        # first bars are scaled by the history before it, exactly as they were then.
        full = load_market_data(data)
        self.market = slice_dates(full, date_range) if date_range is not None else full
        lo, hi = range_bounds(full, self.market)
        n = len(self.market)
        # Bar 0 has no previous close, so the first window ends at bar window_size; one more
        # bar is needed to trade into, and episode_length bars after a start.
        steps = self.episode_length or 1
        needed = self.window_size + 1 + steps
        if n < needed:
            what = f"episode_length {self.episode_length}" if self.episode_length else "one step"
            raise ValueError(
                f"{self.market.name}: {n} rows, fewer than the {needed} that window_size "
                f"{self.window_size} and {what} need (window_size + 1 + steps)"
            )
        self._n = n
        self._open: list[float] = self.market.open.tolist()
        self._close: list[float] = self.market.close.tolist()
        self._times = self.market.iso_times()
        self._n_features = len(FEATURE_NAMES)
        self._flat_features = make_features(full)[lo:hi].ravel()
        self._obs_dim = self.window_size * self._n_features + 2
        self.observation_space = spaces.Box(
            -FEATURE_CLIP, FEATURE_CLIP, shape=(self._obs_dim,), dtype=np.float32
        )
        self.action_space = spaces.Discrete(len(ACTIONS))  # type: ignore[assignment, unused-ignore]
        self._reward_code = REWARDS.index(reward)
        self._slip = self.slippage_bps / 10_000.0
        self._dsr = DifferentialSharpe(self.dsr_eta)
        self._renderer = TradingRenderer(*render_size) if render_mode == "rgb_array" else None
        self._shutdown = False
        self._done = True
        self._start_episode(self.window_size, n - 1)

    # -- episode state ---------------------------------------------------------------------
    def _start_episode(self, t0: int, end: int) -> None:
        self._t0 = self._t = t0
        self._end = end
        self._cash = self.initial_balance
        self._qty = 0.0
        self._position = 0
        self._value = self.initial_balance
        self._entry_value = self._entry_price = self._entry_costs = 0.0
        self._entry_step = 0
        self._trades: list[Trade] = []
        self._stats = EpisodeStats(self.initial_balance)
        self._dsr.reset()
        if self._renderer is not None:
            self._pos_hist = np.zeros(self._n, dtype=np.int8)
            self._val_hist = np.full(self._n, self.initial_balance)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode: over the whole range, or ``episode_length`` bars from a random
        start drawn from the env's seeded generator."""
        super().reset(seed=seed)
        w, n = self.window_size, self._n
        if self.episode_length is None:
            t0 = w
        else:
            t0 = int(self.np_random.integers(w, n - self.episode_length))
        self._start_episode(t0, n - 1 if self.episode_length is None else t0 + self.episode_length)
        self._shutdown = False
        self._done = False
        info = {"portfolio_value": self._value, "position": 0, "price": self._close[t0]}
        return self._observation(), info

    def signal_graceful_shutdown(self) -> None:
        """End the episode at the next step: it closes any open position at that bar's Close
        and reports the final metrics (``truncated=True``). ``reset()`` clears the request."""
        self._shutdown = True

    # -- trading -----------------------------------------------------------------------------
    def _close_position(self, price: float, step: int, bar: int) -> None:
        d = self._position
        q = abs(self._qty)
        fill = price * (1.0 - self._slip * d)
        commission = self.commission_rate * q * fill
        self._cash += self._qty * fill - commission
        costs = self._entry_costs + commission + q * price * self._slip
        entry, entry_step = self._entry_price, self._entry_step
        pnl = d * q * (price - entry) - costs
        times = self._times[self._t0 + entry_step + 1], self._times[bar]
        trade = Trade(_DIRECTION[d], entry_step, step, *times, entry, price, q, pnl, costs)
        self._trades.append(trade)
        self._qty = 0.0
        self._position = 0

    def _open_position(self, target: int, price: float, step: int) -> None:
        equity = self._cash
        if equity <= 0.0:
            return
        fill = price * (1.0 + self._slip * target)
        q = equity / (fill * (1.0 + self.commission_rate))
        commission = self.commission_rate * q * fill
        self._cash = equity - target * q * fill - commission
        self._qty = target * q
        self._position = target
        self._entry_value = equity
        self._entry_price = price
        self._entry_step = step
        self._entry_costs = commission + q * price * self._slip

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        a = int(action)
        if a < 0 or a > 2:
            raise ValueError(f"action must be 0 (flat), 1 (long) or 2 (short), got {action!r}")
        if self._done:
            raise RuntimeError("the episode has ended; call reset() before step()")
        t = self._t + 1
        k = t - self._t0 - 1  # this step's number in the episode
        target = _TARGET[a]
        if target != self._position:
            if self._position != 0:
                self._close_position(self._open[t], k, t)
            if target != 0:
                self._open_position(target, self._open[t], k)
        self._t = t
        close = self._close[t]
        holding = self._position
        value = self._cash + self._qty * close
        shutdown = self._shutdown
        end = shutdown or t >= self._end or value <= 0.0
        if end and holding != 0:
            self._close_position(close, k, t)
            value = self._cash
        prev = self._value
        self._value = value
        code = self._reward_code
        if code == 0:
            reward = (value - prev) / self.initial_balance
        elif code == 1:
            reward = math.log(max(value / prev, 1e-12)) if prev > 0.0 else 0.0
        else:
            reward = self._dsr.update(value / prev - 1.0 if prev > 0.0 else 0.0)
        self._stats.add(value, holding != 0, reward)
        if self._renderer is not None:
            self._pos_hist[t] = holding
            self._val_hist[t] = value
        info: dict[str, Any] = {
            "portfolio_value": value, "position": self._position, "price": close, "action": a,
        }  # fmt: skip
        if end:
            self._done = True
            benchmark = close / self._open[self._t0 + 1] - 1.0
            summary = final_metrics(
                self._stats, self._trades, periods_per_year=self.periods_per_year,
                benchmark_return=benchmark,
            )  # fmt: skip
            info.update(summary)
        return self._observation(), reward, end and not shutdown, shutdown, info

    def _observation(self) -> np.ndarray:
        f = self._n_features
        t = self._t
        obs = np.empty(self._obs_dim, dtype=np.float32)
        obs[:-2] = self._flat_features[(t - self.window_size + 1) * f : (t + 1) * f]
        obs[-2] = self._position
        if self._position:
            upnl = (self._cash + self._qty * self._close[t]) / self._entry_value - 1.0
            obs[-1] = min(FEATURE_CLIP, max(-FEATURE_CLIP, upnl))
        else:
            obs[-1] = 0.0
        return obs

    # -- rendering ---------------------------------------------------------------------------
    def render(self) -> np.ndarray | None:  # type: ignore[override, unused-ignore]
        """The frame of the last bars, (height, width, 3) uint8, for ``render_mode="rgb_array"``."""
        renderer = self._renderer
        if renderer is None:
            return None
        t, t0 = self._t, self._t0
        lo = max(t0, t - renderer.bars + 1)
        markers: list[tuple[int, float, int]] = []
        for tr in reversed(self._trades):
            exit_bar = t0 + tr.exit_step + 1
            if exit_bar < lo:
                break
            markers.append((exit_bar - lo, tr.exit_price, EXIT))
            entry_bar = t0 + tr.entry_step + 1
            if entry_bar >= lo:
                kind = ENTRY_LONG if tr.direction == "long" else ENTRY_SHORT
                markers.append((entry_bar - lo, tr.entry_price, kind))
        if self._position and t0 + self._entry_step + 1 >= lo:
            kind = ENTRY_LONG if self._position > 0 else ENTRY_SHORT
            markers.append((t0 + self._entry_step + 1 - lo, self._entry_price, kind))
        value = self._value
        header = (
            f"{self.market.name}  {self._times[t]}  step {t - t0}/{self._end - t0}  "
            f"{_POS_NAME[self._position]}  value {value:,.2f}  "
            f"pnl {(value / self.initial_balance - 1.0) * 100.0:+.2f}%"
        )
        return renderer.draw(
            self.market.close[lo : t + 1], self._pos_hist[lo : t + 1], self._val_hist[lo : t + 1],
            markers, self.initial_balance, header,
        )  # fmt: skip
