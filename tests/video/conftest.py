"""Real tiny training runs (the real runner, a real SQLite file) for the video tests, trained
once per session in one RLTRACK_HOME."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rltrack.config import build_config
from rltrack.tracking.logger import RunLogger
from rltrack.tracking.store import Store, open_store
from rltrack.training.context import TrainContext
from rltrack.training.runner import new_run_id, run_dir_for, run_training
from tests.conftest import Cli

CHECKPOINT_EVERY = 512
TIMESTEPS = 2048


@dataclass
class Home:
    path: Path
    url: str
    cli: Cli

    def store(self) -> Store:
        return open_store(self.url)


def train(home: Home, name: str, resume: str | None = None, **overrides: Any) -> str:
    """One run through the real runner and RunLogger (``resume``: continue that run from its
    final checkpoint, as `rltrack train --resume` does); returns its id."""
    cfg = build_config(overrides={"progress": False, "device": "cpu", **overrides})
    store = open_store(home.url)
    checkpoint, start = None, 0
    if resume is not None:
        [final] = [c for c in store.list_checkpoints(resume) if c.kind == "final"]
        checkpoint, start = Path(final.path), final.timestep
    logger = RunLogger(store)
    run_id = new_run_id()
    ctx = TrainContext(
        config=cfg,
        run_id=run_id,
        run_dir=run_dir_for(home.path, run_id),
        sink=logger,
        resume_checkpoint=checkpoint,
        resume_timestep=start,
    )
    try:
        run_training(ctx, name=name, parent_run_id=resume)
    finally:
        assert logger.close() == "written"
        store.close()
    return run_id


@pytest.fixture(scope="session")
def home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    path = tmp_path_factory.mktemp("video-home")
    url = f"sqlite:///{path / 'rltrack.db'}"
    return Home(path, url, Cli(path, url))


@pytest.fixture(scope="session")
def ppo_run(home: Home) -> str:
    """PPO on CartPole with a checkpoint every 512 steps, all kept."""
    return train(
        home,
        "ppo-cartpole",
        algo="ppo",
        env="CartPole-v1",
        seed=3,
        total_timesteps=TIMESTEPS,
        checkpoint_every_steps=CHECKPOINT_EVERY,
        keep_checkpoints=10,
        hyperparams={"n_steps": 128, "batch_size": 64, "n_epochs": 2},
    )


@pytest.fixture(scope="session")
def dqn_run(home: Home) -> str:
    return train(
        home,
        "dqn-cartpole",
        algo="dqn",
        env="CartPole-v1",
        seed=1,
        total_timesteps=TIMESTEPS,
        checkpoint_every_steps=CHECKPOINT_EVERY,
        keep_checkpoints=10,
        hyperparams={
            "learning_starts": 256,
            "buffer_size": 5000,
            "train_freq": 4,
            "target_update_interval": 256,
            "exploration_fraction": 0.5,
        },
    )


@pytest.fixture
def store(home: Home) -> Iterator[Store]:
    s = home.store()
    yield s
    s.close()
