"""End-to-end fixtures: the built dashboard served by a real uvicorn on a loopback port, over a
real SQLite file filled through the store, driven by Debian's Chromium through Playwright.

The dashboard must be built first (``make web``; ``make test`` does it). Screenshots of every
test go to ``test-output/e2e/``.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from rltrack.api.web import WEB_ROOT
from rltrack.tracking.store import Store, open_store
from rltrack.training.events import (
    CheckpointSaved,
    EpisodeEnded,
    EpisodeStarted,
    EvaluationRecorded,
    Event,
    MetricsLogged,
    RunEnded,
    RunStarted,
    StepRecord,
    TradeRecord,
)
from tests.api.conftest import LiveServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "e2e"
T0 = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)

PPO_CONFIG = {
    "algo": "ppo",
    "env": "CartPole-v1",
    "num_envs": 4,
    "total_timesteps": 30000,
    "seed": 1,
    "hyperparams": {"learning_rate": 0.0003, "gamma": 0.99, "n_steps": 256, "batch_size": 64},
}
DQN_CONFIG = {
    "algo": "dqn",
    "env": "CartPole-v1",
    "num_envs": 1,
    "total_timesteps": 20000,
    "seed": 2,
    "hyperparams": {"learning_rate": 0.001, "gamma": 0.98, "batch_size": 64, "buffer_size": 50000},
}
TRADING_CONFIG = {
    "algo": "ppo",
    "env": "rltrack/Trading-v0",
    "seed": 3,
    "hyperparams": {"learning_rate": 0.0001, "gamma": 0.95},
}


@dataclass(frozen=True)
class SeededRun:
    id: str
    name: str
    episodes: int


@dataclass(frozen=True)
class Seeded:
    """What the shared database holds: three finished runs."""

    ppo: SeededRun
    dqn: SeededRun
    trading: SeededRun
    trading_episode_trades: int


def run_started(
    run_id: str,
    name: str,
    *,
    algorithm: str,
    env_id: str,
    config: dict[str, object],
    agent_id: str,
    tags: tuple[str, ...] = (),
    start: dt.datetime = T0,
    total_timesteps: int | None = None,
) -> RunStarted:
    return RunStarted(
        run_id=run_id,
        name=name,
        algorithm=algorithm,
        env_id=env_id,
        backend="sb3",
        config=config,
        agent_id=agent_id,
        seed=int(config.get("seed", 0)),
        tags=tags,
        total_timesteps=total_timesteps,
        metadata={"host": "e2e-host"},
        time=start,
    )


def episode(
    run_id: str,
    index: int,
    *,
    reward: float,
    start: dt.datetime,
    steps: int = 20,
    win: float | None = None,
    metrics: dict[str, float | int | bool | str | None] | None = None,
    trades: tuple[TradeRecord, ...] = (),
    trace: tuple[StepRecord, ...] = (),
) -> list[Event]:
    """An EpisodeStarted and its EpisodeEnded, as a backend emits them."""
    t = start + dt.timedelta(seconds=index)
    return [
        EpisodeStarted(run_id, index, env_slot=index % 4, start_timestep=steps * index, time=t),
        EpisodeEnded(
            run_id=run_id,
            index=index,
            env_slot=index % 4,
            status="completed",
            start_timestep=steps * index,
            end_timestep=steps * (index + 1),
            steps=steps,
            total_reward=reward,
            start_time=t,
            win=win,
            epsilon=None,
            metrics=metrics or {},
            trades=trades,
            trace=trace,
            time=t + dt.timedelta(milliseconds=800),
        ),
    ]


def learning_run(
    run_id: str,
    name: str,
    *,
    episodes: int,
    algorithm: str,
    config: dict[str, object],
    agent_id: str,
    tags: tuple[str, ...],
    status: str,
    start: dt.datetime,
    seed: int,
) -> list[Event]:
    """A CartPole-like run whose reward climbs with noise; a win when the reward is above 150."""
    rng = random.Random(seed)
    events: list[Event] = [
        run_started(
            run_id,
            name,
            algorithm=algorithm,
            env_id="CartPole-v1",
            config=config,
            agent_id=agent_id,
            tags=tags,
            start=start,
            total_timesteps=20 * episodes,
        )
    ]
    for i in range(episodes):
        reward = min(500.0, 20 + 3.0 * i + rng.gauss(0, 15))
        events += episode(
            run_id,
            i,
            reward=round(reward, 2),
            start=start,
            steps=max(1, int(reward)),
            win=1.0 if reward > 150 else 0.0,
            metrics={"x_position": round(rng.uniform(-1, 1), 3)},
        )
    for k in range(1, 11):
        timestep = k * 2 * episodes
        events.append(
            MetricsLogged(
                run_id,
                timestep,
                {"train/loss": 2.0 / k, "train/entropy": 0.7 - 0.03 * k},
                episodes=episodes * k // 10,
                time=start + dt.timedelta(seconds=k),
            )
        )
    for idx, kind in ((episodes // 2, "periodic"), (episodes - 1, "final")):
        events.append(
            CheckpointSaved(
                run_id=run_id,
                path=f"/data/runs/{run_id}/checkpoints/ep{idx}.zip",
                timestep=20 * idx,
                episode_index=idx,
                sha256="ab" * 32,
                size=145_000,
                kind=kind,
                time=start + dt.timedelta(seconds=idx),
            )
        )
    events.append(
        EvaluationRecorded(
            run_id=run_id,
            checkpoint_path=f"/data/runs/{run_id}/checkpoints/ep{episodes // 2}.zip",
            episodes=10,
            mean_reward=150.0,
            std_reward=12.5,
            mean_length=150.0,
            opponent="agent",
            time=start + dt.timedelta(seconds=episodes),
        )
    )
    events.append(
        EvaluationRecorded(
            run_id=run_id,
            checkpoint_path=f"/data/runs/{run_id}/checkpoints/ep{episodes - 1}.zip",
            episodes=10,
            mean_reward=312.5,
            std_reward=21.25,
            win_rate=0.9,
            mean_length=312.5,
            opponent="agent",
            time=start + dt.timedelta(seconds=episodes + 1),
        )
    )
    events.append(
        RunEnded(
            run_id,
            status,
            timesteps=20 * episodes,
            episodes=episodes,
            time=start + dt.timedelta(seconds=episodes + 2),
        )
    )
    return events


def trading_trace(n_steps: int, seed: int) -> tuple[list[float], tuple[StepRecord, ...]]:
    """A price walk and the per-step trace of an agent trading it."""
    rng = random.Random(seed)
    prices = [100.0]
    for _ in range(n_steps - 1):
        prices.append(round(prices[-1] * math.exp(rng.gauss(0.0005, 0.012)), 4))
    value = 10_000.0
    trace = []
    for step, price in enumerate(prices):
        if step:
            value *= 1 + rng.gauss(0.0004, 0.01)
        trace.append(
            StepRecord(
                step=step,
                action=float(step % 3),
                reward=round(rng.gauss(0, 1), 4),
                price=price,
                position=float(step % 2),
                portfolio_value=round(value, 2),
            )
        )
    return prices, tuple(trace)


def trading_run(run_id: str, *, start: dt.datetime, episodes: int = 4) -> tuple[list[Event], int]:
    """A trading run whose episodes carry trades and a traced price; returns the events and
    the number of trades of each episode."""
    n_trades = 6
    events: list[Event] = [
        run_started(
            run_id,
            "googl-trader",
            algorithm="ppo",
            env_id="rltrack/Trading-v0",
            config=TRADING_CONFIG,
            agent_id="trader",
            tags=("trading",),
            start=start,
        )
    ]
    for i in range(episodes):
        prices, trace = trading_trace(120, seed=100 + i)
        trades = []
        for k in range(n_trades):
            entry, exit_ = 5 + 18 * k, 5 + 18 * k + 12
            direction = "long" if k % 2 == 0 else "short"
            sign = 1 if direction == "long" else -1
            pnl = round(sign * (prices[exit_] - prices[entry]) * 10 - 0.5, 4)
            trades.append(
                TradeRecord(
                    direction=direction,
                    entry_step=entry,
                    exit_step=exit_,
                    entry_price=prices[entry],
                    exit_price=prices[exit_],
                    quantity=10.0,
                    pnl=pnl,
                    costs=0.5,
                )
            )
        total = round(sum(t.pnl for t in trades), 4)
        events += episode(
            run_id,
            i,
            reward=total,
            start=start,
            steps=len(trace),
            trades=tuple(trades),
            trace=trace,
            metrics={
                "pnl": total,
                "sharpe_ratio": 0.8 + i / 10,
                "max_drawdown": 0.042,
                "trades_count": n_trades,
                "final_portfolio_value": trace[-1].portfolio_value,
            },
        )
    events.append(
        RunEnded(
            run_id,
            "completed",
            timesteps=120 * episodes,
            episodes=episodes,
            time=start + dt.timedelta(seconds=episodes + 1),
        )
    )
    return events, n_trades


def seed_database(store: Store) -> Seeded:
    ppo = SeededRun("e2e-ppo-0000-0000-000000000001", "cartpole-ppo-baseline", 120)
    dqn = SeededRun("e2e-dqn-0000-0000-000000000002", "cartpole-dqn-sweep", 80)
    trading = SeededRun("e2e-trd-0000-0000-000000000003", "googl-trader", 4)
    store.write(
        learning_run(
            ppo.id,
            ppo.name,
            episodes=ppo.episodes,
            algorithm="ppo",
            config=PPO_CONFIG,
            agent_id="agent-a",
            tags=("baseline",),
            status="completed",
            start=T0,
            seed=1,
        )
    )
    store.write(
        learning_run(
            dqn.id,
            dqn.name,
            episodes=dqn.episodes,
            algorithm="dqn",
            config=DQN_CONFIG,
            agent_id="agent-b",
            tags=("sweep",),
            status="stopped",
            start=T0 + dt.timedelta(hours=1),
            seed=2,
        )
    )
    events, n_trades = trading_run(trading.id, start=T0 + dt.timedelta(hours=2))
    store.write(events)
    return Seeded(ppo=ppo, dqn=dqn, trading=trading, trading_episode_trades=n_trades)


# -- fixtures ---------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.fail(
            f"the end-to-end tests need Debian's Chromium at {CHROMIUM}: "
            "run `apt-get install chromium` (.ci/run installs it)"
        )
    if not (WEB_ROOT / "index.html").is_file():
        pytest.fail(f"the dashboard is not built in {WEB_ROOT}: run `make web`")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=False)
        yield b
        b.close()


@dataclass
class Site:
    base_url: str
    db_url: str


def _serve(db_url: str) -> Iterator[Site]:
    server = LiveServer(db_url)
    server.start()
    try:
        yield Site(server.base_url, db_url)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Seeded]:
    """A SQLite file with three finished runs, shared by the tests that only read."""
    url = f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'rltrack.db'}"
    store = open_store(url)
    try:
        return url, seed_database(store)
    finally:
        store.close()


@pytest.fixture(scope="session")
def site(seeded: tuple[str, Seeded]) -> Iterator[Site]:
    yield from _serve(seeded[0])


@pytest.fixture
def fresh_db(tmp_path: Path) -> Iterator[tuple[str, Store]]:
    """An empty SQLite database of the test's own, and the store to write into it."""
    url = f"sqlite:///{tmp_path / 'rltrack.db'}"
    store = open_store(url)
    yield url, store
    store.close()


@pytest.fixture
def fresh_site(fresh_db: tuple[str, Store]) -> Iterator[Site]:
    """A server over ``fresh_db``."""
    yield from _serve(fresh_db[0])


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser page. Its screenshot is saved under test-output/e2e/ at the end, and an
    uncaught script error in it fails the test."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    pg.set_default_timeout(15_000)
    yield pg
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        pg.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
    finally:
        context.close()
    assert not errors, "\n".join(errors)
