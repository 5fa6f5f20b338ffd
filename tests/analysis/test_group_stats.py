"""The group statistics agree with the same statistics recomputed here from the raw episodes
(every episode read back with list_episodes, blocks of 100 made here) with SciPy's own
functions (trim_mean for the IQM, the pairwise definition of P(X > Y)), the same bootstrap
seed, each statistic its own bootstrap call: to 1e-6, on SQLite and PostgreSQL."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator

import numpy as np
import pytest
from scipy import stats

from rltrack.analysis import analyze_group, compare_groups
from rltrack.analysis.groups import FEW_RUNS
from rltrack.analysis.stats import Estimate
from rltrack.tracking.entities import Run
from rltrack.tracking.store import Store, open_store
from tests.analysis.group_runs import group_events, noisy

SEED, REPS = 11, 1000
TOL = 1e-6


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = open_store(db_url)
    yield s
    s.close()


@pytest.fixture
def two_groups(store: Store) -> Store:
    # Runs of different lengths (the common range is the shortest run's), one run with a
    # partial last block, one still waiting for its first episode.
    store.write(
        group_events(
            "strong", "s", seeds=8, episodes=lambda s: 600 + 90 * s, reward=noisy(100.0),
            evaluations={0: 90.0, 2: 120.0, 3: 95.5}, empty=1,
        )
    )  # fmt: skip
    store.write(group_events("weak", "w", seeds=4, episodes=550, reward=noisy(60.0)))
    return store


def ci(data: tuple[np.ndarray, ...], statistic, **kw) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    r = stats.bootstrap(
        data, statistic, n_resamples=REPS, vectorized=True, method="percentile", rng=SEED, **kw
    )
    return np.asarray(r.confidence_interval.low), np.asarray(r.confidence_interval.high)


def raw_blocks(store: Store, run: Run, x: str) -> tuple[np.ndarray, np.ndarray]:
    """The run's blocks of 100 episodes from its raw episodes: (x, mean reward)."""
    by_block: dict[int, list[tuple[float, int, float]]] = defaultdict(list)
    last_ended: dict[int, int] = {}  # a block's last ended episode (a run's last block is partial)
    for e in store.list_episodes(run.id):
        if e.status != "started":
            last_ended[e.index // 100] = max(last_ended.get(e.index // 100, -1), e.index)
        if e.status == "started" or e.total_reward is None or not math.isfinite(e.total_reward):
            continue
        assert e.end_time is not None and e.end_timestep is not None
        by_block[e.index // 100].append((e.total_reward, e.end_timestep, e.end_time.timestamp()))
    xs, ys = [], []
    for block in sorted(by_block):
        rows = by_block[block]
        ys.append(sum(r[0] for r in rows) / len(rows))
        if x == "episode":
            xs.append(float(last_ended[block]))
        elif x == "timestep":
            xs.append(float(max(r[1] for r in rows)))
        else:
            xs.append(max(r[2] for r in rows) - run.start_time.timestamp())
    return np.maximum.accumulate(np.array(xs)), np.array(ys)


def close(e: Estimate, value: float, low: float | None, high: float | None) -> None:
    assert e.value == pytest.approx(value, abs=TOL)
    for got, want in ((e.low, low), (e.high, high)):
        assert (got is None) == (want is None), (e, low, high)
        if want is not None:
            assert got == pytest.approx(want, abs=TOL)


@pytest.mark.parametrize("x", ["episode", "timestep", "time"])
def test_the_curve_is_the_raw_episodes_iqm_and_mean_with_their_bootstrap(
    two_groups: Store, x: str
) -> None:
    store = two_groups
    a = analyze_group(store, "strong", x=x, points=40, seed=SEED, reps=REPS, per_run=True)  # type: ignore[arg-type]
    assert a.curve is not None
    runs = [r for r in store.list_runs() if r.group_id == a.group.id and r.episodes > 0]
    assert len(runs) == 8 and sorted(a.curve.run_ids) == sorted(r.id for r in runs)
    curves = {r.id: raw_blocks(store, r, x) for r in runs}
    lo = max(xs[0] for xs, _ in curves.values())
    hi = min(xs[-1] for xs, _ in curves.values())
    inside = max(int(((xs >= lo) & (xs <= hi)).sum()) for xs, _ in curves.values())
    grid = np.linspace(lo, hi, min(40, inside))
    assert [p.x for p in a.curve.points] == pytest.approx(grid.tolist(), abs=TOL)
    # Nothing is extrapolated: the curve ends where the shortest run ends.
    assert hi == min(xs[-1] for xs, _ in curves.values()) and grid[-1] == pytest.approx(hi)
    values = np.stack([np.interp(grid, *curves[r]) for r in a.curve.run_ids], axis=-1)
    iqm_low, iqm_high = ci((values,), lambda v, axis: stats.trim_mean(v, 0.25, axis=axis), axis=-1)
    mean_low, mean_high = ci((values,), np.mean, axis=-1)
    for k, p in enumerate(a.curve.points):
        close(p.iqm, stats.trim_mean(values[k], 0.25), iqm_low[k], iqm_high[k])
        close(p.mean, float(values[k].mean()), mean_low[k], mean_high[k])
        assert p.iqm.low is not None and p.iqm.high is not None
        assert p.iqm.low <= p.iqm.value <= p.iqm.high and p.runs == 8
    # Each run's own curve covers its own range, longer runs further than the aggregate.
    assert a.curve.per_run is not None and set(a.curve.per_run) == set(curves)
    for run_id, own in a.curve.per_run.items():
        xs, ys = curves[run_id]
        assert own[0][0] == pytest.approx(xs[0]) and own[-1][0] == pytest.approx(xs[-1])
        assert [y for _, y in own] == pytest.approx(np.interp([p[0] for p in own], xs, ys))


def test_final_scores_are_the_last_100_episodes_with_their_bootstrap(two_groups: Store) -> None:
    store = two_groups
    a = analyze_group(store, "strong", seed=SEED, reps=REPS, curve=False)
    runs = [r for r in store.list_runs() if r.group_id == a.group.id]
    scores = {}
    for r in runs:
        ended = [e.total_reward for e in store.list_episodes(r.id) if e.status != "started"]
        if ended:
            scores[r.id] = float(np.mean(ended[-100:]))
    assert a.final is not None and a.final.scores == pytest.approx(scores, abs=TOL)
    x = np.array([scores[k] for k in a.final.scores])
    gamma = 475.0  # CartPole-v1's reward threshold, from Gymnasium's registry
    assert a.target.value == gamma and a.target.source == "env"
    checks = {
        "iqm": lambda v, axis=-1: stats.trim_mean(v, 0.25, axis=axis),
        "median": np.median,
        "mean": np.mean,
        "optimality_gap": lambda v, axis=-1: np.mean(np.maximum(gamma - v, 0), axis=axis),
    }
    for name, fn in checks.items():
        low, high = ci((x,), fn)
        close(getattr(a.final, name), float(fn(x)), float(low), float(high))
    # The latest evaluation of each run's own policy (not the older one, nor a baseline's).
    assert a.evaluation is not None
    assert a.evaluation.scores == {"s-0": 90.0, "s-2": 120.0, "s-3": 95.5}
    ev = np.array([90.0, 120.0, 95.5])
    low, high = ci((ev,), checks["iqm"])
    close(a.evaluation.iqm, float(stats.trim_mean(ev, 0.25)), float(low), float(high))
    # The run still waiting for its first episode is skipped, and said to be.
    assert [s.run_id for s in a.skipped] == ["s-empty-0"]
    assert any("skipped" in n for n in a.notes)
    assert {m.run.id: m.latest_evaluation for m in a.runs}["s-1"] is None
    # A target given wins over the environment's.
    b = analyze_group(store, "strong", seed=SEED, reps=REPS, curve=False, target=100.0)
    assert b.target.source == "given" and b.final is not None and b.final.optimality_gap
    assert b.final.optimality_gap.value == pytest.approx(np.mean(np.maximum(100.0 - x, 0)))


def test_probability_of_improvement_and_profiles(two_groups: Store) -> None:
    store = two_groups
    c = compare_groups(store, ["strong", "weak"], seed=SEED, reps=REPS, curve=False)
    strong, weak = c.groups
    assert strong.final is not None and weak.final is not None
    x = np.array(list(strong.final.scores.values()))
    y = np.array(list(weak.final.scores.values()))

    def pairwise(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
        gt = (a[..., :, None] > b[..., None, :]).mean(axis=(-2, -1))
        eq = (a[..., :, None] == b[..., None, :]).mean(axis=(-2, -1))
        return np.asarray(gt + 0.5 * eq)

    pairs = {(i.x_group, i.y_group): i.probability for i in c.improvements}
    assert set(pairs) == {(strong.group.id, weak.group.id), (weak.group.id, strong.group.id)}
    for (gx, gy), (a, b) in {
        (strong.group.id, weak.group.id): (x, y),
        (weak.group.id, strong.group.id): (y, x),
    }.items():
        low, high = ci((a, b), pairwise, paired=False)
        close(pairs[gx, gy], float(pairwise(a, b)), float(low), float(high))
    assert pairs[strong.group.id, weak.group.id].value == 1.0
    # Profiles: one grid of taus from the lowest final score to the highest, for both groups.
    taus = np.linspace(min(x.min(), y.min()), max(x.max(), y.max()), 51)
    for profile, scores in zip(c.profiles, (x, y), strict=True):
        assert [t for t, _ in profile.points] == pytest.approx(taus.tolist())

        def above(v: np.ndarray, axis: int = -1) -> np.ndarray:
            return np.stack([(v > t).mean(axis=axis) for t in taus])

        low, high = ci((scores,), above)
        for k, (_, est) in enumerate(profile.points):
            close(est, float((scores > taus[k]).mean()), float(low[k]), float(high[k]))


def test_a_lone_run_has_estimates_without_intervals(store: Store) -> None:
    store.write(group_events("lone", "l", seeds=1, episodes=250, reward=noisy(10.0)))
    a = analyze_group(store, "lone", seed=SEED, reps=REPS)
    assert a.final is not None and a.curve is not None
    assert a.final.iqm.low is None and a.final.iqm.high is None and a.final.note == FEW_RUNS
    assert a.curve.points and all(p.iqm.low is None for p in a.curve.points)
    assert a.curve.note == FEW_RUNS and FEW_RUNS in a.notes
    scores = [e.total_reward for e in store.list_episodes("l-0")][-100:]
    assert a.final.iqm.value == pytest.approx(np.mean(scores))


def test_bad_arguments_name_the_fix(two_groups: Store) -> None:
    with pytest.raises(ValueError, match="x axis is one of episode, timestep, time"):
        analyze_group(two_groups, "strong", x="steps")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="compare at least two groups"):
        compare_groups(two_groups, ["strong", "strong"])
