"""Shared pieces of the rllib backend's tests: a real local Ray per test module, an in-memory
event sink, a tiny PPO run's context and the checks every run's record must pass."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rltrack.config import build_config
from rltrack.training.context import TrainContext
from rltrack.training.events import (
    CheckpointSaved,
    EpisodeEnded,
    EpisodeStarted,
    MetricsLogged,
)
from tests.conftest import Sink

# Tiny PPO: 64-step batches, so a run of a few thousand steps has dozens of iterations (pulls,
# metrics, checkpoints) and episodes that span several of RLlib's 16-step chunks per env.
TINY_PPO = {
    "train_batch_size_per_learner": 64, "minibatch_size": 32, "num_epochs": 1,
    "model_config": {"fcnet_hiddens": [32, 32]},
}  # fmt: skip


@pytest.fixture(scope="module")
def ray_local() -> Iterator[None]:
    """One local Ray (2 CPUs) for the module's runs: they use it and leave it up."""
    import ray

    if ray.is_initialized():  # a Ray left up by a test of another module on this worker
        ray.shutdown()
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


def make_ctx(tmp_path: Path, sink: Sink, **overrides: Any) -> TrainContext:
    tiny = TINY_PPO if overrides.get("algo", "ppo") == "ppo" else {}
    hyperparams = {**tiny, **overrides.pop("hyperparams", {})}
    settings = {
        "algo": "ppo", "backend": "rllib", "env": "CartPole-v1", "seed": 1,
        "total_timesteps": 1024, "num_env_runners": 2, "num_envs_per_env_runner": 2,
        "progress": False, "device": "cpu", "hyperparams": hyperparams,
        "checkpoint_every_steps": 512, **overrides,
    }  # fmt: skip
    cfg = build_config(overrides=settings)
    return TrainContext(config=cfg, run_id="run", run_dir=tmp_path / "run", sink=sink)


def check_record(sink: Sink, slots: set[int]) -> list[EpisodeEnded]:
    """Every episode started once and ended once, indices 0..N-1 handed out in emission order,
    every training step in exactly one episode, checkpoints matching their files."""
    started = sink.of(EpisodeStarted)
    ended = sink.ended
    assert [e.index for e in started] == list(range(len(started)))
    assert [e.index for e in ended] == list(range(len(started))), "every episode ends once"
    assert {e.env_slot for e in ended} == slots
    end = sink.run_end
    assert end.episodes == len(ended)
    assert sum(e.steps - e.drain_steps for e in ended) == end.timesteps
    latest = {c.path: c for c in sink.of(CheckpointSaved)}  # best.zip is saved over
    assert latest
    for c in latest.values():
        if Path(c.path).exists():  # rotated ones are gone
            data = Path(c.path).read_bytes()
            assert hashlib.sha256(data).hexdigest() == c.sha256 and len(data) == c.size
    return ended


def metric_keys(sink: Sink) -> set[str]:
    return {k for m in sink.of(MetricsLogged) for k in m.values}
