"""The backend seam: a backend is one module plus one registration, and then the config, the
runner, the evaluator and the video all take it, with no other change anywhere."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rltrack.config import ConfigError, build_config
from rltrack.evaluator import plan, run_plan
from rltrack.tracking.logger import RunLogger
from rltrack.tracking.store import open_store
from rltrack.training.backends import registry
from rltrack.training.backends.registry import BackendSpec
from rltrack.training.context import TrainContext
from rltrack.training.runner import run_training
from rltrack.video.policy import ActionView, load_policy

TOY = BackendSpec(
    name="toy", module="tests.toy_backend", algorithms=("random",), default_for=("random",)
)


@pytest.fixture
def toy_registered(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setitem(registry._REGISTRY, TOY.name, TOY)
    yield


def test_the_shipped_backends_are_registered() -> None:
    assert registry.names()[:2] == ("sb3", "actor-learner")
    assert registry.default_backend("ppo") == "sb3"
    assert registry.default_backend("iqn") == "actor-learner"
    with pytest.raises(ValueError, match="registered twice"):
        registry.register(registry.get("sb3"))


@pytest.mark.usefixtures("toy_registered")
def test_one_module_and_one_registration_train_evaluate_and_film(tmp_path: Path) -> None:
    cfg = build_config(overrides={"algo": "random", "total_timesteps": 300, "seed": 3})
    assert cfg.resolved_backend == "toy"
    url = f"sqlite:///{tmp_path / 'rltrack.db'}"
    store = open_store(url)
    logger = RunLogger(store)
    ctx = TrainContext(config=cfg, run_id="a" * 32, run_dir=tmp_path / "run", sink=logger)
    outcome = run_training(ctx, name="toy-run")
    assert logger.close() == "written"
    assert (outcome.status, outcome.exit_code, outcome.timesteps) == ("completed", 0, 300)

    run = store.get_run("toy-run")
    assert run.backend == "toy" and run.config["hyperparams"] == {"seed": 3}
    episodes = store.list_episodes(run.id)
    assert [e.index for e in episodes] == list(range(len(episodes))) and episodes
    assert sum(e.steps or 0 for e in episodes) == 300
    assert store.episode_health(run.id).ok

    # rltrack evaluate: the plan finds the checkpoint, the backend's loader plays it.
    [checkpoint] = store.list_checkpoints(run.id)
    p = plan(run, [checkpoint], choices=["final"], episodes=3)
    [result] = run_plan(p)
    assert result.summary.episodes == 3

    # rltrack video: no view of its own, so it plays through the loader, showing the action.
    env = __import__("gymnasium").make("CartPole-v1")
    view = load_policy("random", checkpoint.path, env.action_space, env.observation_space,
                       deterministic=True, backend="toy")  # fmt: skip
    assert isinstance(view, ActionView)
    obs, _ = env.reset(seed=0)
    action, readout = view.act(obs, env)
    assert readout.chosen == action and readout.values.sum() == 1.0
    store.close()


def test_an_unknown_backend_or_algorithm_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="unknown backend; choose one of sb3, actor-learner"):
        build_config(overrides={"backend": "toy"})
    with pytest.raises(ConfigError, match="unknown algorithm"):
        build_config(overrides={"algo": "random"})
