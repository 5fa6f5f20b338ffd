"""TensorBoard both ways: SB3's tensorboard_log imported as runs, and a run exported as event
files that TensorBoard's own EventAccumulator reads back point for point."""

from __future__ import annotations

from pathlib import Path

import pytest
from stable_baselines3 import PPO
from tensorboard.backend.event_processing.event_accumulator import SCALARS, EventAccumulator

import rltrack
from rltrack.tracking.store import open_store
from rltrack.tracking.tensorboard import EPISODE_LENGTH, EPISODE_REWARD, read_scalars
from tests.conftest import Cli


@pytest.fixture(scope="module")
def sb3_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tb")
    model = PPO("MlpPolicy", "CartPole-v1", n_steps=128, batch_size=64, n_epochs=1, seed=0,
                tensorboard_log=str(folder))  # fmt: skip
    model.learn(512)
    model.learn(256)  # a second learn: SB3 writes PPO_2
    return folder


def points_of(folder: Path, tag: str) -> list[tuple[int, float]]:
    acc = EventAccumulator(str(folder), size_guidance={SCALARS: 0})
    acc.Reload()
    return [(e.step, e.value) for e in acc.Scalars(tag)]


def test_sb3_tensorboard_log_imports_as_runs_of_its_metrics(cli: Cli, sb3_logs: Path) -> None:
    result = cli("import", "tensorboard", str(sb3_logs), "--name", "from-tb")
    assert result.code == 0, result.stderr
    runs = {r["name"]: r for r in cli("runs", "--json").json()}
    assert set(runs) == {"from-tb/PPO_1", "from-tb/PPO_2"}
    first = runs["from-tb/PPO_1"]
    assert first["status"] == "completed" and first["algorithm"] == "ppo"
    metric = cli("metrics", first["run_id"], "--key", "rollout/ep_rew_mean", "--json").json()
    expected = points_of(sb3_logs / "PPO_1", "rollout/ep_rew_mean")
    assert [(m["timestep"], m["value"]) for m in metric] == [
        (s, pytest.approx(v)) for s, v in expected
    ]
    # The same folder again: nothing new.
    assert cli("import", "tensorboard", str(sb3_logs), "--name", "from-tb").code == 0
    assert len(cli("runs", "--json").json()) == 2


def test_import_refuses_a_folder_without_event_files(cli: Cli, tmp_path: Path) -> None:
    result = cli("import", "tensorboard", str(tmp_path))
    assert result.code == 2 and "no TensorBoard event files" in result.stderr


def test_export_reads_back_in_tensorboard_with_the_same_points(cli: Cli, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'rltrack.db'}"
    with rltrack.init("to-tb", db=db) as run:
        for i in range(30):
            run.log_episode(float(i) / 2, 10 + i)
            run.log_metrics({"loss": 1.0 / (i + 1), "lr": 3e-4}, step=(i + 1) * 10)
    out = tmp_path / "tb-out"
    result = cli("export", run.id, "--format", "tensorboard", "--out", str(out), "--db", db)
    assert result.code == 0, result.stderr
    scalars = read_scalars(out)
    store = open_store(db)
    try:
        metrics = store.list_metrics(run.id)
        episodes = store.list_episodes(run.id)
    finally:
        store.close()
    for key in ("loss", "lr"):
        assert scalars[key] == [
            (m.timestep, pytest.approx(m.value)) for m in metrics if m.key == key
        ]
    assert scalars[EPISODE_REWARD] == [(e.index, pytest.approx(e.total_reward)) for e in episodes]
    assert scalars[EPISODE_LENGTH] == [(e.index, e.steps) for e in episodes]
    refused = cli("export", run.id, "--format", "tensorboard", "--db", db)
    assert refused.code == 2 and "--out FOLDER" in refused.stderr


def test_train_writes_tensorboard_beside_the_database(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "tb-train"
    result = cli("train", "--mode", "smoke", "--no-progress", "--tensorboard", str(out))
    assert result.code == 0, result.stderr
    scalars = read_scalars(out)
    episodes = cli("episodes", result.run_id, "--json").json()
    assert scalars[EPISODE_REWARD] == [
        (e["index"], pytest.approx(e["total_reward"])) for e in episodes
    ]
    points = cli("metrics", result.run_id, "--key", "rollout/ep_rew_mean", "--json").json()
    assert scalars["rollout/ep_rew_mean"] == [
        (p["timestep"], pytest.approx(p["value"])) for p in points
    ]
