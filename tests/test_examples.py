"""Each script in examples/ runs as a user would run it, with tiny step counts, and its run is
in the database whole: completed, episodes 0..N-1, and `rltrack check` passes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, Cli

EXAMPLES = {
    "sb3_callback.py": ("example-sb3-ppo", ["--steps", "1024", "--envs", "2"]),
    "cleanrl_dqn.py": ("example-cleanrl-dqn", ["--steps", "2000", "--envs", "4"]),
    "rllib_callback.py": ("example-rllib-ppo", ["--iterations", "2", "--batch", "256"]),
}


def test_every_example_is_tested() -> None:
    assert {p.name for p in (REPO / "examples").glob("*.py")} == set(EXAMPLES)


@pytest.mark.parametrize("script", sorted(EXAMPLES))
def test_example_records_a_whole_run(cli: Cli, tmp_path: Path, script: str) -> None:
    name, args = EXAMPLES[script]
    db = f"sqlite:///{tmp_path / 'examples.db'}"
    env = {**cli.env, "RLTRACK_DATABASE_URL": db}
    proc = subprocess.run(
        [sys.executable, str(REPO / "examples" / script), *args], env=env, cwd=tmp_path,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert len(Path(REPO / "examples" / script).read_text().splitlines()) <= 80
    cli.env["RLTRACK_DATABASE_URL"] = db
    [run] = cli("runs", "--json").json()
    assert run["name"] == name and run["status"] == "completed"
    episodes = cli("episodes", run["run_id"], "--json").json()
    assert episodes and [e["index"] for e in episodes] == list(range(len(episodes)))
    assert all(e["status"] in ("completed", "truncated") for e in episodes)
    check = cli("check", run["run_id"])
    assert check.code == 0, check.stdout
