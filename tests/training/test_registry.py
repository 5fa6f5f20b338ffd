"""The backend seam: a backend is one module plus one registration, and then the config, the
runner, the evaluator and the video all take it, with no other change anywhere."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from rltrack.cli.train import with_backend_flags
from rltrack.config import PRESETS, ConfigError, build_config
from rltrack.evaluator import plan, run_plan
from rltrack.tracking.logger import RunLogger
from rltrack.tracking.store import open_store
from rltrack.training.backends import registry
from rltrack.training.backends.registry import BackendSpec
from rltrack.training.context import TrainContext
from rltrack.training.runner import run_training
from rltrack.video.policy import ActionView, load_policy
from tests.toy_backend import ToySettings

TOY = BackendSpec(
    name="toy",
    module="tests.toy_backend",
    algorithms=("random",),
    default_for=("random",),
    settings="tests.toy_backend:ToySettings",
    presets={"smoke": {"random": {"sticky": 0.25, "total_timesteps": 500}}},
    describe="the toy backend, which plays at random",
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
    assert run.config["sticky"] == 0.0  # its own setting, recorded with its default
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


@pytest.mark.usefixtures("toy_registered")
def test_a_backends_own_settings_and_presets_come_from_its_registration() -> None:
    cfg = build_config(overrides={"algo": "random", "mode": "smoke"})
    assert (ToySettings.of(cfg).sticky, cfg.total_timesteps) == (0.25, 500)
    assert cfg.checkpoint_every_steps == PRESETS["smoke"]["common"]["checkpoint_every_steps"]
    assert build_config(overrides={"algo": "random", "sticky": 0.5}).model_dump()["sticky"] == 0.5
    with pytest.raises(ConfigError, match=r"sticky: Input should be less than or equal to 1"):
        build_config(overrides={"algo": "random", "sticky": 2})
    # Another backend's setting names its backend, in a config file as on the command line.
    with pytest.raises(ConfigError, match="sticky is for the toy backend .--algo random.; ppo "):
        build_config(overrides={"algo": "ppo", "sticky": 0.5})
    with pytest.raises(ConfigError, match="--num-actors is for the actor-learner backend"):
        build_config(overrides={"algo": "random", "num_actors": 2},
                     written={"num_actors": "--num-actors"})  # fmt: skip
    # A config taken from a run of another backend (--like) leaves that backend's settings.
    like = build_config(base={"algo": "random", "sticky": 0.75, "num_actors": 3})
    assert like.model_dump()["sticky"] == 0.75 and "num_actors" not in like.model_dump()


@pytest.mark.usefixtures("toy_registered")
def test_a_backends_settings_are_flags_of_the_train_command() -> None:
    seen: dict[str, object] = {}

    def command(total_timesteps: int | None = None, **backend_settings: object) -> None:
        seen.update(total_timesteps=total_timesteps, **backend_settings)

    app = typer.Typer()
    app.command()(with_backend_flags(command))
    app.command("other")(lambda: None)
    result = CliRunner().invoke(app, ["command", "--sticky", "0.5", "--total-timesteps", "9"])
    assert result.exit_code == 0, result.output
    assert seen["sticky"] == 0.5 and seen["total_timesteps"] == 9 and seen["num_actors"] is None
    result = CliRunner().invoke(app, ["command", "--sticky", "lots"])
    assert result.exit_code == 2 and "Invalid value for '--sticky'" in result.output
    help_text = CliRunner().invoke(app, ["command", "--help"], env={"COLUMNS": "200"}).output
    assert "toy: chance of repeating the last action" in help_text


def test_every_backend_setting_is_a_train_flag() -> None:
    from rltrack.cli import app

    text = CliRunner().invoke(app, ["train", "--help"], env={"COLUMNS": "200"}).output
    for name, (spec, info) in registry.settings_fields().items():
        assert f"--{name.replace('_', '-')} " in text and f"{spec.name}: {info.title}" in text
