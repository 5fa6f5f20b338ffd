"""A recorded trading run, as ``rltrack train`` on ``rltrack/Trading-v0`` writes one: episodes
with trades, a sampled step trace and the environment's metrics, training metrics, checkpoints
whose files exist, an evaluation and a video artifact."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

from rltrack.training.events import (
    ArtifactSaved,
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

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
ENV_ID = "rltrack/Trading-v0"
CONFIG = {
    "algo": "iqn",
    "env": {"id": ENV_ID, "reward": "pnl", "commission": 0.001},
    "hyperparams": {"learning_rate": 0.0001, "gamma": 0.99, "n_quantiles": 32},
}
STEPS = 20  # bars per episode
BALANCE = 10_000.0


def _trades(i: int) -> tuple[TradeRecord, ...]:
    """Episode ``i``'s trades: long, then short, alternately winning and losing."""
    trades = []
    for k in range(1 + i % 3):
        entry = 100.0 + k + math.sin(i)
        exit_ = entry + (1.5 if (i + k) % 2 == 0 else -0.75)
        direction = "long" if k % 2 == 0 else "short"
        sign = 1.0 if direction == "long" else -1.0
        quantity, costs = 10.0, 0.2
        trades.append(
            TradeRecord(
                direction=direction,
                entry_step=5 * k,
                exit_step=5 * k + 4,
                entry_price=entry,
                exit_price=exit_,
                quantity=quantity,
                pnl=sign * quantity * (exit_ - entry) - costs,
                costs=costs,
                entry_time=T0 + dt.timedelta(hours=5 * k),
                exit_time=T0 + dt.timedelta(hours=5 * k + 4),
            )  # fmt: skip
        )
    return tuple(trades)


def _episode(run_id: str, i: int, start: dt.datetime) -> EpisodeEnded:
    trades = _trades(i)
    pnl = sum(t.pnl for t in trades)
    wins = sum(1 for t in trades if t.pnl > 0)
    trace = tuple(
        StepRecord(
            step=s,
            action=float(s % 3),
            reward=pnl / BALANCE / STEPS,
            price=100.0 + s / 10,
            position=float(s % 2),
            portfolio_value=BALANCE + pnl * s / STEPS,
        )  # fmt: skip
        for s in range(0, STEPS, 4)
    )
    return EpisodeEnded(
        run_id=run_id, index=i, env_slot=i % 2, status="completed" if i % 7 else "truncated",
        start_timestep=STEPS * i, end_timestep=STEPS * (i + 1), steps=STEPS,
        total_reward=pnl / BALANCE, start_time=start, win=1.0 if pnl > 0 else 0.0,
        epsilon=max(0.05, 1.0 - i / 20),
        metrics={
            "pnl": pnl, "pnl_pct": pnl / BALANCE * 100, "sharpe_ratio": pnl / 10,
            "max_drawdown": 0.01 * (i % 5), "win_rate": wins / len(trades),
            "trades_count": len(trades), "initial_portfolio_value": BALANCE,
            "final_portfolio_value": BALANCE + pnl,
        },
        trades=trades, trace=trace, time=start + dt.timedelta(seconds=1),
    )  # fmt: skip


def trading_run_events(run_id: str, home: Path, *, episodes: int = 30) -> list[Event]:
    """The run's events; its checkpoint and video files are written under ``home`` (the
    server's RLTRACK_HOME), so that the download routes find them."""
    checkpoints = (home / "checkpoints" / run_id).resolve()
    checkpoints.mkdir(parents=True, exist_ok=True)
    (home / "videos").mkdir(exist_ok=True)
    video = home / "videos" / f"{run_id}.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4)
    events: list[Event] = [
        RunStarted(
            run_id=run_id,
            name=f"iqn-trading-{run_id}",
            algorithm="iqn",
            env_id=ENV_ID,
            backend="actor-learner",
            config=CONFIG,
            agent_id="trader",
            seed=3,
            tags=("trading", "iqn"),
            total_timesteps=STEPS * episodes,
            metadata={"purpose": "schemathesis"},
            time=T0,
        )  # fmt: skip
    ]
    for i in range(episodes):
        start = T0 + dt.timedelta(seconds=2 * i)
        events.append(_episode(run_id, i, start))
        if i % 10 == 9:
            path = checkpoints / f"ep{i}.zip"
            path.write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip archive
            events.append(
                CheckpointSaved(
                    run_id=run_id,
                    path=str(path),
                    timestep=STEPS * (i + 1),
                    episode_index=i,
                    sha256="0" * 64,
                    size=path.stat().st_size,
                    kind="final" if i == episodes - 1 else "periodic",
                    metrics={"mean_reward": 0.01},
                    time=start,
                )  # fmt: skip
            )
            events.append(
                MetricsLogged(
                    run_id,
                    STEPS * (i + 1),
                    {"loss": 1.0 / (i + 1), "fps": 500.0},
                    episodes=i + 1,
                    time=start,
                )  # fmt: skip
            )
    end = T0 + dt.timedelta(seconds=2 * episodes)
    last = str(checkpoints / f"ep{episodes - 1}.zip")
    events += [
        EvaluationRecorded(
            run_id, last, episodes=5, mean_reward=0.002, std_reward=0.001, win_rate=0.6,
            mean_length=STEPS, opponent="agent", metrics={"pnl": 20.0, "sharpe_ratio": 1.2},
            time=end,
        ),
        ArtifactSaved(
            run_id, "video", str(video), size=video.stat().st_size, media_type="video/mp4",
            created_at=end, metadata={"episodes": [0, episodes - 1]},
        ),
        RunEnded(run_id, "completed", timesteps=STEPS * episodes, episodes=episodes, time=end),
    ]  # fmt: skip
    return events


def running_run_events(run_id: str, now: dt.datetime) -> list[Event]:
    """A run still training (heartbeat fresh), with one episode in flight."""
    return [
        RunStarted(
            run_id=run_id, name=f"live-{run_id}", algorithm="iqn", env_id=ENV_ID,
            backend="actor-learner", config=CONFIG, agent_id="trader", time=now,
        ),
        EpisodeStarted(run_id, 0, env_slot=0, start_timestep=0, time=now),
    ]  # fmt: skip
