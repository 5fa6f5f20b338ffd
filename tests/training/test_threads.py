"""How many CPU threads PyTorch trains with: one for small networks unless asked otherwise,
recorded with the run, and the caller's own setting back once training ends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from rltrack.config import ConfigError, build_config
from rltrack.training.context import TrainContext
from rltrack.training.events import RunEnded, RunStarted
from rltrack.training.runner import run_training
from tests.conftest import Sink
from tests.gym_envs import ThreadCountingCartPole


@pytest.fixture
def three_threads() -> Iterator[None]:
    """The caller's process uses 3 threads, a count no default of ours picks."""
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    ThreadCountingCartPole.seen = set()
    yield
    torch.set_num_threads(before)


def train(tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    """A short in-process PPO run on the thread-counting env; returns the recorded config."""
    settings = {
        "algo": "ppo", "env": "tests.gym_envs:ThreadCountingCartPole-v0", "seed": 0,
        "total_timesteps": 256, "progress": False, "device": "cpu",
        "hyperparams": {"n_steps": 128, "batch_size": 64, "n_epochs": 1}, **overrides,
    }  # fmt: skip
    sink = Sink()
    ctx = TrainContext(
        config=build_config(overrides=settings), run_id="run", run_dir=tmp_path, sink=sink
    )
    outcome = run_training(ctx, name="threads")
    assert outcome.status == "completed", outcome.error
    [started] = [e for e in sink.events if isinstance(e, RunStarted)]
    assert [e.status for e in sink.events if isinstance(e, RunEnded)] == ["completed"]
    return started.config


@pytest.mark.usefixtures("three_threads")
def test_mlp_policy_trains_on_one_thread_and_records_it(tmp_path: Path) -> None:
    config = train(tmp_path)
    assert config["policy"] == "MlpPolicy" and config["torch_threads"] == 1
    assert ThreadCountingCartPole.seen == {1}
    assert torch.get_num_threads() == 3, "the caller's thread count is restored"


@pytest.mark.usefixtures("three_threads")
def test_torch_threads_setting_is_used_and_recorded(tmp_path: Path) -> None:
    config = train(tmp_path, torch_threads=2)
    assert config["torch_threads"] == 2
    assert ThreadCountingCartPole.seen == {2}
    assert torch.get_num_threads() == 3


@pytest.mark.usefixtures("three_threads")
def test_serial_iqn_records_its_thread_count(tmp_path: Path) -> None:
    config = train(
        tmp_path, algo="iqn", num_actors=0, total_timesteps=300,
        hyperparams={"hidden_sizes": [16], "batch_size": 8, "learning_starts": 50},
    )  # fmt: skip
    assert config["torch_threads"] == 1
    assert ThreadCountingCartPole.seen == {1}
    assert torch.get_num_threads() == 3


@pytest.mark.parametrize("value", [0, -1, 1000])
def test_out_of_range_torch_threads_is_refused(value: int) -> None:
    with pytest.raises(ConfigError, match="torch_threads"):
        build_config(overrides={"torch_threads": value})
