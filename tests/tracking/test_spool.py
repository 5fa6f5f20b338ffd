"""Every event type survives the spool (JSON lines) unchanged, so a replay after an outage
writes exactly what training emitted."""

from __future__ import annotations

import datetime as dt
import json
import typing

from rltrack.tracking.spool import decode_event, encode_event
from rltrack.training.events import (
    ArtifactSaved,
    CheckpointRemoved,
    CheckpointSaved,
    EpisodeEnded,
    EpisodeStarted,
    EvaluationRecorded,
    Event,
    Heartbeat,
    MetricsLogged,
    RunEnded,
    RunStarted,
    StepRecord,
    TradeRecord,
)

T = dt.datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=dt.UTC)

ONE_OF_EACH: list[Event] = [
    RunStarted("r1", "name", "ppo", "CartPole-v1", "sb3", {"a": [1, 2]}, time=T, tags=("x",)),
    EpisodeStarted("r1", 3, env_slot=1, start_timestep=30, time=T),
    EpisodeEnded(
        run_id="r1",
        index=3,
        env_slot=1,
        status="completed",
        start_timestep=30,
        end_timestep=40,
        steps=10,
        total_reward=1.5,
        win=1.0,
        time=T,
        start_time=T,
        metrics={"pnl": 2.0},
        trades=(TradeRecord("long", 1, 4, 10.0, 11.0, 1.0, 1.0, 0.01, entry_time=T, exit_time=T),),
        trace=(StepRecord(0, 1.0, 0.5, 10.0, 1.0, 100.0),),
    ),  # fmt: skip
    MetricsLogged("r1", 40, {"loss": 0.25}, episodes=4, time=T),
    CheckpointSaved("r1", "ckpt/a.zip", 40, 3, "ab" * 32, 123, "periodic", time=T),
    CheckpointRemoved("r1", "ckpt/a.zip"),
    EvaluationRecorded("r1", "ckpt/a.zip", 5, 10.0, 1.0, win_rate=0.4, time=T),
    ArtifactSaved("r1", "video", "videos/a.mp4", 2048, media_type="video/mp4", created_at=T),
    Heartbeat("r1", 40, 4, time=T),
    RunEnded("r1", "completed", 40, 4, time=T),
]


def test_every_event_type_is_covered() -> None:
    assert {type(e) for e in ONE_OF_EACH} == set(typing.get_args(Event))


def test_events_round_trip_through_json() -> None:
    for event in ONE_OF_EACH:
        line = json.dumps(encode_event(event))
        assert decode_event(json.loads(line)) == event, type(event).__name__
