"""Tests of the typed training config: YAML loading, presets, overrides, errors, `--set` parsing."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from rltrack.config import PRESETS, ConfigError, TrainConfig, build_config, parse_set


def write(tmp_path: Path, text: str, name: str = "train.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# -- loading and precedence ------------------------------------------------------------------
def test_yaml_file_values_are_loaded(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "algo: dqn\n"
        "env: Acrobot-v1\n"
        "num_envs: 4\n"
        "total_timesteps: 5000\n"
        "tags: [nightly, baseline]\n"
        "hyperparams:\n"
        "  gamma: 0.95\n"
        "  policy_kwargs: {net_arch: [64, 64]}\n",
    )
    cfg = build_config(file=path)
    assert cfg.algo == "dqn"
    assert cfg.env == "Acrobot-v1"
    assert cfg.num_envs == 4
    assert cfg.total_timesteps == 5000
    assert cfg.tags == ("nightly", "baseline")
    assert cfg.hyperparams == {"gamma": 0.95, "policy_kwargs": {"net_arch": [64, 64]}}
    assert cfg.resolved_backend == "sb3"


def test_empty_yaml_file_gives_defaults(tmp_path: Path) -> None:
    cfg = build_config(file=write(tmp_path, "# nothing set\n"))
    assert cfg == TrainConfig()
    assert cfg.total_timesteps == 100_000


def test_missing_file_is_a_config_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match="nope.yaml"):
        build_config(file=missing)


def test_command_line_overrides_beat_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "algo: ppo\ntotal_timesteps: 5000\nseed: 1\nhyperparams: {gamma: 0.9, ent_coef: 0.1}\n",
    )
    cfg = build_config(
        file=path,
        overrides={"total_timesteps": 777, "seed": None, **parse_set(["hyperparams.gamma=0.98"])},
    )
    assert cfg.total_timesteps == 777
    # None means "not given on the command line": the file's value stays.
    assert cfg.seed == 1
    # A nested override replaces one key and keeps its siblings from the file.
    assert cfg.hyperparams == {"gamma": 0.98, "ent_coef": 0.1}


def test_smoke_preset_is_applied(tmp_path: Path) -> None:
    cfg = build_config(file=write(tmp_path, "algo: ppo\nmode: smoke\n"))
    assert cfg.mode == "smoke"
    assert cfg.total_timesteps == PRESETS["smoke"]["common"]["total_timesteps"] == 4096
    assert cfg.checkpoint_every_steps == 1024
    assert cfg.hyperparams == {"n_steps": 128, "batch_size": 64, "n_epochs": 4}


def test_smoke_preset_follows_the_algorithm(tmp_path: Path) -> None:
    cfg = build_config(overrides={"mode": "smoke", "algo": "dqn"})
    assert cfg.hyperparams["learning_starts"] == 500
    assert "n_steps" not in cfg.hyperparams


def test_preset_values_can_be_overridden_by_file_and_command_line(tmp_path: Path) -> None:
    path = write(tmp_path, "mode: smoke\ntotal_timesteps: 2048\nhyperparams: {n_steps: 256}\n")
    from_file = build_config(file=path)
    assert from_file.total_timesteps == 2048
    assert from_file.hyperparams == {"n_steps": 256, "batch_size": 64, "n_epochs": 4}

    cli = build_config(
        file=path, overrides={"total_timesteps": 100, **parse_set(["hyperparams.batch_size=32"])}
    )
    assert cli.total_timesteps == 100
    assert cli.hyperparams == {"n_steps": 256, "batch_size": 32, "n_epochs": 4}
    assert cli.checkpoint_every_steps == 1024


def test_numbers_written_with_an_exponent_are_numbers(tmp_path: Path) -> None:
    """YAML 1.1 (PyYAML) reads 1e-3 as text; an RL config is full of them."""
    path = write(
        tmp_path,
        "hyperparams: {learning_rate: 1e-3, buffer_size: 1E6, net_arch: [2.5e+1, 64]}\n"
        "env_kwargs: {initial_balance: 1e5, name: e5x}\n",
    )
    cfg = build_config(file=path, overrides=parse_set(["hyperparams.gamma=9.9e-1"]))
    assert cfg.hyperparams["learning_rate"] == 0.001
    assert cfg.hyperparams["buffer_size"] == 1_000_000.0
    assert cfg.hyperparams["net_arch"] == [25.0, 64] and cfg.hyperparams["gamma"] == 0.99
    assert cfg.env_kwargs == {"initial_balance": 100_000.0, "name": "e5x"}


def test_mode_given_on_the_command_line_applies_the_preset(tmp_path: Path) -> None:
    path = write(tmp_path, "algo: ppo\n")
    cfg = build_config(file=path, overrides={"mode": "smoke"})
    assert cfg.total_timesteps == 4096


def test_unknown_mode_names_the_choices() -> None:
    with pytest.raises(ConfigError, match="smoke") as info:
        build_config(overrides={"mode": "turbo"})
    assert "mode" in str(info.value)


# -- validation errors -----------------------------------------------------------------------
def test_unknown_key_names_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, "algo: ppo\ntotal_timestep: 100\n")
    with pytest.raises(ConfigError) as info:
        build_config(file=path)
    message = str(info.value)
    assert "total_timestep:" in message
    assert "unknown setting" in message
    # It says where the bad value came from and lists what would have been valid.
    assert str(path) in message
    assert "total_timesteps" in message


def test_negative_total_timesteps_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        build_config(file=write(tmp_path, "total_timesteps: -5\n"))
    message = str(info.value)
    assert "total_timesteps" in message
    assert "-5" in message


def test_zero_envs_names_the_field() -> None:
    with pytest.raises(ConfigError, match="num_envs") as info:
        build_config(overrides={"num_envs": 0})
    assert "greater than or equal to 1" in str(info.value)


def test_wrong_type_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="total_timesteps") as info:
        build_config(file=write(tmp_path, "total_timesteps: lots\n"))
    assert "lots" in str(info.value)


def test_unknown_algorithm_names_the_field() -> None:
    with pytest.raises(ConfigError, match="algo"):
        build_config(overrides={"algo": "sac"})


def test_all_problems_are_reported_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        build_config(overrides={"num_envs": 0, "total_timesteps": -1, "bogus": 1})
    message = str(info.value)
    for field in ("num_envs", "total_timesteps", "bogus"):
        assert field in message


def test_malformed_yaml_reports_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "algo: ppo\nenv: CartPole-v1\nhyperparams:\n  gamma: [0.9\n  lr: 3\n")
    with pytest.raises(ConfigError) as info:
        build_config(file=path)
    message = str(info.value)
    assert "not valid YAML" in message
    assert str(path) in message
    assert "line 5" in message


def test_bad_indentation_reports_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "algo: ppo\n  seed: 1\n")
    with pytest.raises(ConfigError, match=r"line 2\b"):
        build_config(file=path)


def test_yaml_list_is_a_clear_error(tmp_path: Path) -> None:
    path = write(tmp_path, "- algo: ppo\n- seed: 1\n")
    with pytest.raises(ConfigError) as info:
        build_config(file=path)
    message = str(info.value)
    assert "mapping" in message
    assert "list" in message
    assert str(path) in message


def test_yaml_scalar_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="mapping"):
        build_config(file=write(tmp_path, "just a string\n"))


# -- frozen ----------------------------------------------------------------------------------
def test_config_is_frozen() -> None:
    cfg = build_config(overrides={"total_timesteps": 10})
    with pytest.raises(ValidationError):
        cfg.total_timesteps = 20  # type: ignore[misc]
    assert cfg.total_timesteps == 10


def test_config_round_trips_through_its_saved_form() -> None:
    cfg = build_config(overrides={"mode": "smoke", "tags": ["a", "b", "a"]})
    assert cfg.tags == ("a", "b")  # duplicates dropped, order kept
    again = build_config(base=cfg.model_dump(mode="json"))
    assert again == cfg


# -- --set parsing ---------------------------------------------------------------------------
def test_parse_set_nested_and_typed_values() -> None:
    got = parse_set(
        [
            "hyperparams.gamma=0.98",
            "hyperparams.policy_kwargs.net_arch=[32, 32]",
            "num_envs=4",
            "progress=false",
            "env=CartPole-v1",
            "run_name = spaced ",
        ]
    )
    assert got == {
        "hyperparams": {"gamma": 0.98, "policy_kwargs": {"net_arch": [32, 32]}},
        "num_envs": 4,
        "progress": False,
        "env": "CartPole-v1",
        "run_name": "spaced",
    }
    assert isinstance(got["hyperparams"]["gamma"], float)


def test_parse_set_value_with_equals_sign_and_unparsable_yaml_stays_a_string() -> None:
    got = parse_set(["env_kwargs.expr=a=b", "run_name=[oops"])
    assert got == {"env_kwargs": {"expr": "a=b"}, "run_name": "[oops"}


def test_parse_set_empty_value_is_an_empty_string() -> None:
    assert parse_set(["run_name="]) == {"run_name": ""}


@pytest.mark.parametrize("item", ["hyperparams.gamma", "=0.98", "  =1"])
def test_parse_set_malformed_names_the_item_and_the_fix(item: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_set([item])
    message = str(info.value)
    assert repr(item) in message
    assert "key=value" in message


def test_parse_set_empty_path_segment_is_rejected() -> None:
    # `hyperparams..gamma` is a typo; silently creating a key "" hides it until SB3 fails.
    with pytest.raises(ConfigError, match=r"hyperparams\.\.gamma"):
        parse_set(["hyperparams..gamma=0.98"])


def test_parse_set_conflicting_paths_is_a_config_error() -> None:
    # A scalar and then a nested key under it cannot both hold: the user needs a message,
    # not a TypeError traceback.
    with pytest.raises(ConfigError, match="hyperparams"):
        parse_set(["hyperparams=3", "hyperparams.gamma=0.9"])


def test_set_overrides_validate_like_the_file() -> None:
    with pytest.raises(ConfigError, match="num_envs"):
        build_config(overrides=parse_set(["num_envs=0"]))
