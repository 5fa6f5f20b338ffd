"""The sweep file is checked whole before any trial starts: each problem is one line on stderr,
exit 2, naming the key and the fix; a study or group of the same name that does not fit is
refused the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from rltrack.sweep.spec import SpecError, parse_spec
from rltrack.sweep.study import open_storage, open_study
from rltrack.tracking.store import open_store
from tests.conftest import Cli

BASE: dict[str, Any] = {"algo": "ppo", "env": "CartPole-v1", "mode": "smoke"}
LR = {"type": "float", "low": 1e-4, "high": 1e-2, "log": True}


def sweep_file(tmp: Path, sweep: Any, **base: Any) -> Path:
    data = {**BASE, **base}
    if sweep is not None:
        data["sweep"] = sweep
    path = tmp / "sweep.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def one_error_line(result: Any) -> str:
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert result.code == 2, (result.stdout, result.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    return str(lines[0])


def params(**p: Any) -> dict[str, Any]:
    return {f"hyperparams.{k}": v for k, v in p.items()}


CASES = [
    (None, {}, "add `sweep:` with `params:`"),
    ({"name": "s"}, {}, "sweep.params: give the search space"),
    ({"params": params(learning_rate=LR), "trails": 3}, {}, "sweep.trails: unknown setting"),
    ({"params": params(learning_rate=LR), "sampler": "cmaes"}, {}, "sweep.sampler: 'cmaes'"),
    ({"params": params(learning_rate=LR), "pruner": "asha"}, {}, "sweep.pruner: 'asha'"),
    (
        {"params": params(learning_rate=LR), "pruner": {"type": "median", "patience": 3}},
        {},
        "sweep.pruner.patience: not a setting of the median pruner",
    ),
    ({"params": params(learning_rate=LR), "objective": "best"}, {}, "sweep.objective: 'best'"),
    ({"params": params(learning_rate=LR), "name": "a b"}, {}, "sweep.name: 'a b'"),
    (
        {"params": params(gamma={"type": "normal", "low": 0.9, "high": 0.99})},
        {},
        "sweep.params.hyperparams.gamma.type: 'normal'",
    ),
    (
        {"params": params(gamma={"type": "float", "low": 0.99, "high": 0.9})},
        {},
        "sweep.params.hyperparams.gamma: low (0.99) must be below high (0.9)",
    ),
    (
        {"params": params(learning_rate={"type": "float", "low": 0, "high": 1e-2, "log": True})},
        {},
        "log scale needs low > 0",
    ),
    (
        {"params": params(n_steps={"type": "categorical", "choices": []})},
        {},
        "sweep.params.hyperparams.n_steps.choices: give a non-empty list",
    ),
    (
        {"params": params(learning_rate=LR), "sampler": "grid"},
        {},
        "the grid sampler needs categorical choices",
    ),
    (
        {"params": {"total_timesteps": {"type": "int", "low": -5, "high": 100}}},
        {},
        "sweep.params.total_timesteps = -5",
    ),
    ({"params": params(learning_rate=LR)}, {"algo": "sac"}, "the train settings: config error"),
    ({"params": params(learning_rate=LR)}, {"run_name": "x"}, "run_name: each trial sets"),
    ({"params": params(learning_rate=LR), "objective": "evaluation"}, {}, "set eval_range"),
    ({"params": params(learning_rate=LR), "report_every": 10**9}, {}, "sweep.report_every"),
]


@pytest.mark.parametrize(("sweep", "base", "needle"), CASES)
def test_a_bad_sweep_file_is_one_line_naming_the_fix(
    cli: Cli, tmp_path: Path, sweep: Any, base: dict[str, Any], needle: str
) -> None:
    path = sweep_file(tmp_path, sweep, **base)
    line = one_error_line(cli.in_process("sweep", "--config", str(path), "--trials", "2"))
    assert needle in line
    assert not (cli.home / "rltrack.db").exists()  # refused before the database is opened


def test_a_missing_file_and_bad_trials(cli: Cli, tmp_path: Path) -> None:
    missing = cli.in_process("sweep", "--config", str(tmp_path / "nope.yaml"), "--trials", "2")
    assert "does not exist" in one_error_line(missing)
    path = sweep_file(tmp_path, {"params": params(learning_rate=LR)})
    zero = cli.in_process("sweep", "--config", str(path), "--trials", "0")
    assert zero.code == 2 and "--trials" in zero.stderr


def test_the_yaml_reads_exponents_and_defaults(tmp_path: Path) -> None:
    spec = parse_spec(
        yaml.safe_load(
            "algo: ppo\nmode: smoke\nsweep:\n  params:\n"
            "    hyperparams.learning_rate: {type: float, low: 1e-4, high: 1e-2, log: true}\n"
            "    hyperparams.n_steps: {type: categorical, choices: [64, 128]}\n"
        ),
        default_name="from-file",
    )
    assert spec.name == "from-file" and spec.sampler == "tpe" and spec.pruner.type == "median"
    assert spec.objective == "last100" and spec.direction == "maximize"
    assert spec.params[0].low == 1e-4 and spec.params[0].log
    assert spec.report_every == 4096 // 8  # the smoke preset's total_timesteps, in 8 reports
    config = spec.trial_config({"hyperparams.learning_rate": 0.001}, "from-file-trial-0")
    assert config["hyperparams"]["learning_rate"] == 0.001
    assert config["group"] == "from-file" and config["tags"] == ["sweep:from-file"]
    with pytest.raises(SpecError, match="grid"):
        parse_spec({**BASE, "sweep": {"sampler": "grid", "params": params(learning_rate=LR)}})


def test_a_study_or_group_of_that_name_that_does_not_fit_is_refused(
    cli: Cli, tmp_path: Path
) -> None:
    url = f"sqlite:///{cli.home / 'rltrack.db'}"
    store = open_store(url)
    try:
        store.create_group("by-hand", kind="manual")
        earlier = parse_spec(
            {**BASE, "sweep": {"name": "lr", "params": params(gamma=LR)}}, default_name="x"
        )
        open_study(open_storage(url), earlier)
    finally:
        store.close()
    clash = sweep_file(tmp_path, {"name": "by-hand", "params": params(learning_rate=LR)})
    line = one_error_line(cli.in_process("sweep", "--config", str(clash), "--trials", "2"))
    assert "already names a group of manual runs; give the sweep another name" in line
    other = sweep_file(tmp_path, {"name": "lr", "params": params(learning_rate=LR)})
    line = one_error_line(cli.in_process("sweep", "--config", str(other), "--trials", "2"))
    assert "made by a sweep with other params (search space)" in line
