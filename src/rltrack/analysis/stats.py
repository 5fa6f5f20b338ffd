"""The statistics of a group of runs, after Agarwal et al. (2021), "Deep Reinforcement Learning
at the Edge of the Statistical Precipice" (rliable), computed with NumPy and SciPy.

rliable itself cannot be installed with this project's lock (rliable 1.2 needs arch<8, which
fails to import with pandas 3), so its definitions are followed here:

* **IQM**: the mean of the middle 50 % of the scores, ``scipy.stats.trim_mean(x, 0.25)`` (a
  quarter cut off each end: ``int(0.25 * n)`` scores).
* **median**, **mean**: as usual.
* **optimality gap**: the mean of ``max(gamma - score, 0)``, ``gamma`` a target score (the
  environment's ``reward_threshold``, or one the caller gives); lower is better.
* **probability of improvement** ``P(X > Y)``: the mean over all pairs of runs ``(x, y)`` of
  ``[x > y] + 0.5 [x = y]`` (the Mann-Whitney U statistic over ``n m``).
* **performance profile**: the fraction of runs whose score is above ``tau``, over a grid of
  ``tau``.

Confidence intervals are 95 % percentile bootstrap intervals from ``scipy.stats.bootstrap``
(``vectorized=True``, ``method="percentile"``), every call seeded with the same ``seed`` (its
``rng``), ``reps`` resamples (2000 by default). rliable's stratified bootstrap resamples runs
within each task; a group here is one environment (one task), so the stratified bootstrap is
the bootstrap over runs. A curve's points are one call: the runs are resampled as wholes, the
same resample for every x. The probability of improvement resamples each group independently
(``paired=False``), as rliable's ``StratifiedIndependentBootstrap``. With fewer than two runs
there is nothing to resample: the point estimates stand alone and their intervals are None.

Large groups are resampled in batches (SciPy's ``batch``) so that memory stays bounded; with
one sample the batches draw the same resamples as a single call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats

Array = NDArray[np.float64]
REPS = 2000
SEED = 0
CONFIDENCE = 0.95
# Values a statistic sees per batch of resamples, at most (8 bytes each: 32 MiB).
BATCH_CELLS = 4_000_000


@dataclass(frozen=True, slots=True)
class Estimate:
    """A point estimate and its 95 % confidence interval (None without one)."""

    value: float | None
    low: float | None = None
    high: float | None = None


def iqm(x: Array, axis: int = -1) -> Array:
    """The interquartile mean along ``axis``: ``scipy.stats.trim_mean(x, 0.25, axis)``, by a
    sort (a group holds few runs; the sort is faster than trim_mean's partition)."""
    x = np.moveaxis(np.asarray(x, dtype=np.float64), axis, -1)
    n = x.shape[-1]
    cut = int(0.25 * n)
    return np.asarray(np.sort(x, axis=-1)[..., cut : n - cut].mean(axis=-1), dtype=np.float64)


def optimality_gap(x: Array, gamma: float, axis: int = -1) -> Array:
    gap = np.maximum(gamma - np.asarray(x, dtype=np.float64), 0.0)
    return np.asarray(np.mean(gap, axis=axis), dtype=np.float64)


def _batch(cells_per_resample: int, reps: int) -> int:
    return max(1, min(reps, BATCH_CELLS // max(1, cells_per_resample)))


def bootstrap_ci(
    data: Array, statistic: Callable[..., Any], *, seed: int, reps: int
) -> tuple[Array, Array]:
    """The percentile interval of ``statistic`` over resamples of the last axis of ``data``
    (runs), the statistic's own leading axes kept."""
    result = stats.bootstrap(
        (data,), statistic, n_resamples=reps, vectorized=True, axis=-1, method="percentile",
        confidence_level=CONFIDENCE, rng=seed, batch=_batch(data.size, reps),
    )  # fmt: skip
    ci = result.confidence_interval
    return np.asarray(ci.low, dtype=np.float64), np.asarray(ci.high, dtype=np.float64)


def _estimates(values: Array, low: Array | None, high: Array | None) -> list[Estimate]:
    return [
        Estimate(float(v), None if low is None else float(lo), None if high is None else float(hi))
        for v, lo, hi in zip(
            values,
            low if low is not None else values,
            high if high is not None else values,
            strict=True,
        )
    ]


def score_estimates(
    scores: Array, *, gamma: float | None, seed: int = SEED, reps: int = REPS
) -> dict[str, Estimate]:
    """IQM, median, mean (and the optimality gap with ``gamma``) of one score per run, with
    their intervals (one bootstrap call for all of them)."""
    scores = np.asarray(scores, dtype=np.float64)

    def statistic(x: Array, axis: int = -1) -> Array:
        rows = [iqm(x, axis), np.median(x, axis=axis), np.mean(x, axis=axis)]
        if gamma is not None:
            rows.append(optimality_gap(x, gamma, axis))
        return np.stack(rows)

    names = ["iqm", "median", "mean"] + (["optimality_gap"] if gamma is not None else [])
    values = statistic(scores)
    if len(scores) < 2:
        return dict(zip(names, _estimates(values, None, None), strict=True))
    low, high = bootstrap_ci(scores, statistic, seed=seed, reps=reps)
    return dict(zip(names, _estimates(values, low, high), strict=True))


def curve_estimates(
    values: Array, *, seed: int = SEED, reps: int = REPS
) -> tuple[list[Estimate], list[Estimate]]:
    """IQM and mean across runs at each x: ``values`` is (x points, runs). One bootstrap call
    resamples the runs for every x at once."""
    values = np.asarray(values, dtype=np.float64)

    def statistic(y: Array, axis: int = -1) -> Array:
        return np.stack([iqm(y, axis), np.mean(y, axis=axis)])

    point = statistic(values)
    if values.shape[-1] > 1 and values.shape[0] > 0:
        low, high = bootstrap_ci(values, statistic, seed=seed, reps=reps)
        return _estimates(point[0], low[0], high[0]), _estimates(point[1], low[1], high[1])
    return _estimates(point[0], None, None), _estimates(point[1], None, None)


def probability_of_improvement(x: Array, y: Array) -> Array:
    """``P(X > Y)`` along the last axes of ``x`` and ``y`` (their leading axes paired): the
    Mann-Whitney U over ``n m``, from the ranks of both together (ties share their mean rank),
    so that memory grows with ``n + m``, not ``n m``."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    n, m = x.shape[-1], y.shape[-1]
    ranks = stats.rankdata(np.concatenate([x, y], axis=-1), axis=-1)
    u = ranks[..., :n].sum(axis=-1) - n * (n + 1) / 2.0
    return np.asarray(u / (n * m), dtype=np.float64)


def improvement_estimate(x: Array, y: Array, *, seed: int = SEED, reps: int = REPS) -> Estimate:
    """``P(X > Y)`` with its interval; each group resampled on its own."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    value = float(probability_of_improvement(x, y))
    if len(x) < 2 or len(y) < 2:
        return Estimate(value)

    def statistic(a: Array, b: Array, axis: int = -1) -> Array:
        return probability_of_improvement(a, b)

    result = stats.bootstrap(
        (x, y), statistic, n_resamples=reps, vectorized=True, paired=False,
        method="percentile", confidence_level=CONFIDENCE, rng=seed,
    )  # fmt: skip
    ci = result.confidence_interval
    return Estimate(value, float(ci.low), float(ci.high))


def profile_taus(groups: list[Array], points: int) -> Array:
    """A grid of ``points`` thresholds from the lowest score to the highest of all groups."""
    every = np.concatenate([np.asarray(g, dtype=np.float64) for g in groups if len(g)])
    if every.size == 0:
        return np.empty(0)
    return np.linspace(float(every.min()), float(every.max()), points)


def profile_estimates(
    scores: Array, taus: Array, *, seed: int = SEED, reps: int = REPS
) -> list[Estimate]:
    """The fraction of runs whose score is above each ``tau``, with its interval."""
    scores = np.asarray(scores, dtype=np.float64)

    def statistic(x: Array, axis: int = -1) -> Array:
        x = np.moveaxis(x, axis, -1)
        above = x[np.newaxis, ...] > taus.reshape(-1, *([1] * x.ndim))
        return np.asarray(above.mean(axis=-1), dtype=np.float64)

    values = statistic(scores)
    if len(scores) < 2 or len(taus) == 0:
        return _estimates(values, None, None)
    result = stats.bootstrap(
        (scores,), statistic, n_resamples=reps, vectorized=True, axis=-1, method="percentile",
        confidence_level=CONFIDENCE, rng=seed, batch=_batch(len(scores) * len(taus), reps),
    )  # fmt: skip
    ci = result.confidence_interval
    return _estimates(values, np.asarray(ci.low), np.asarray(ci.high))
