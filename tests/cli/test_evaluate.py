"""`rltrack evaluate`: a run's checkpoints played again after training, the results recorded as
the run's evaluations (read back through `rltrack show`), and bad choices refused."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from tests.conftest import Cli


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Cli, str]:
    home = tmp_path_factory.mktemp("evaluate") / "home"
    home.mkdir()
    cli = Cli(home)
    result = cli(
        "train", "--algo", "ppo", "--env", "CartPole-v1", "--mode", "smoke", "--seed", "5",
        "--no-progress",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    return cli, result.run_id


def evaluations(cli: Cli, run_id: str) -> list[dict]:
    return list(cli("show", run_id, "--json").json()["evaluations"])


def test_every_checkpoint_played_and_recorded(trained: tuple[Cli, str]) -> None:
    cli, run_id = trained
    checkpoints = cli("show", run_id, "--json").json()["checkpoints"]
    before = evaluations(cli, run_id)

    result = cli("evaluate", run_id[:8], "--checkpoint", "all", "--episodes", "3", "--json")
    assert result.code == 0, result.stderr
    rows = result.json()
    # One row per timestep that has a checkpoint, oldest first, the final one by its name.
    steps = sorted({c["timestep"] for c in checkpoints})
    assert [r["timestep"] for r in rows] == steps
    final = next(c for c in checkpoints if c["kind"] == "final")
    assert rows[-1]["checkpoint_path"] == final["path"] and rows[-1]["checkpoint_kind"] == "final"
    for r in rows:
        assert r["policy"] == "agent" and r["episodes"] == 3 and r["seed"] == 5
        assert r["mean_reward"] == pytest.approx(statistics.fmean(r["rewards"]))
        # CartPole pays 1 a step: the reward is the length.
        assert r["mean_length"] == pytest.approx(r["mean_reward"])
    assert f"recorded {len(rows)} evaluations of run {run_id[:8]}" in result.stderr
    # Each checkpoint is reported as it is done.
    assert f"[{len(rows)}/{len(rows)}] final.zip: reward" in result.stderr

    added = evaluations(cli, run_id)[len(before) :]
    assert [(e["checkpoint_path"], e["episodes"]) for e in added] == [
        (r["checkpoint_path"], 3) for r in rows
    ]
    for e, r in zip(added, rows, strict=True):
        assert e["mean_reward"] == pytest.approx(r["mean_reward"])
        assert e["metrics"]["seed"] == 5 and e["metrics"]["checkpoint_timestep"] == r["timestep"]

    # The same checkpoint and seed play the same episodes again; --no-record keeps it out.
    again = cli(
        "evaluate", run_id, "--checkpoint", str(rows[-1]["timestep"]), "--episodes", "3",
        "--no-record", "--json",
    )  # fmt: skip
    assert again.code == 0, again.stderr
    assert again.json()[0]["rewards"] == rows[-1]["rewards"]
    assert len(evaluations(cli, run_id)) == len(before) + len(rows)


def test_the_table_names_each_checkpoint(trained: tuple[Cli, str]) -> None:
    cli, run_id = trained
    result = cli("evaluate", run_id, "--checkpoint", "best", "--episodes", "1", "--no-record")
    assert result.code == 0, result.stderr
    assert "best.zip" in result.stdout and "reward ± std" in result.stdout
    assert "recorded" not in result.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--checkpoint", "7"), "saved no checkpoint at timestep 7; the nearest are at"),
        (("--checkpoint", "nonsense"), "'nonsense' is not final, best, latest, all, a timestep"),
        (("--episodes", "0"), "--episodes 0: play at least 1 episode"),
        (("--range", "2020-01-01:2020-06-30"), "env 'CartPole-v1' takes no date range"),
        (("--agent", "agent-1"), "trains one agent"),
    ],
)
def test_bad_choices_are_one_line_and_record_nothing(
    trained: tuple[Cli, str], args: tuple[str, ...], needle: str
) -> None:
    cli, run_id = trained
    before = len(evaluations(cli, run_id))
    result = cli("evaluate", run_id, *args)
    assert result.code == 2, result.stderr
    assert needle in result.stderr and "Traceback" not in result.stderr
    assert len(evaluations(cli, run_id)) == before


def test_a_file_that_is_no_checkpoint(trained: tuple[Cli, str], tmp_path: Path) -> None:
    cli, run_id = trained
    junk = tmp_path / "notes.zip"
    junk.write_text("not a model")
    result = cli("evaluate", run_id, "--checkpoint", str(junk), "--episodes", "1")
    assert result.code == 2
    assert f"{junk} is not a ppo checkpoint this run can play" in result.stderr
    assert "Traceback" not in result.stderr
    unknown = cli("evaluate", "nosuchrun")
    assert unknown.code == 2 and "nosuchrun" in unknown.stderr
