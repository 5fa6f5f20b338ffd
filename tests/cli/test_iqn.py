"""`rltrack train --algo iqn`: the actor-learner backend end to end, with real processes."""

from __future__ import annotations

import hashlib
import json
import signal
import time
from pathlib import Path

import pytest
import torch

from tests.conftest import Cli


def values(cli: Cli, run_id: str, key: str) -> list[float]:
    rows = cli("metrics", run_id, "--key", key, "--json").json()
    return [m["value"] for m in sorted(rows, key=lambda m: m["timestep"])]


def test_smoke_with_two_actors_records_a_learning_run(cli: Cli) -> None:
    result = cli(
        "train", "--algo", "iqn", "--env", "CartPole-v1", "--num-actors", "2", "--mode", "smoke",
        "--no-progress",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    run_id = result.run_id
    show = cli("show", run_id, "--json").json()
    assert show["status"] == "completed" and show["backend"] == "actor-learner"
    assert show["timesteps"] == 4096
    assert show["config"]["hyperparams"]["publish_interval"] == 5
    assert show["config"]["torch_threads"] == 1  # the learner's, whatever the CPU count
    episodes = cli("episodes", run_id, "--json").json()
    assert (
        [e["index"] for e in episodes]
        == list(range(len(episodes)))
        == list(range(show["episodes"]))
    )
    assert sum(e["steps"] - e["drain_steps"] for e in episodes) == 4096
    assert {e["env_slot"] for e in episodes} == {0, 1}
    assert all(e["status"] in ("completed", "truncated") for e in episodes)
    assert all(e["epsilon"] is not None for e in episodes)

    epsilon = values(cli, run_id, "learner/epsilon")
    assert epsilon == sorted(epsilon, reverse=True) and epsilon[0] > epsilon[-1]
    versions = values(cli, run_id, "learner/weights_version")
    assert versions == sorted(versions) and versions[-1] > versions[0]
    grad = values(cli, run_id, "learner/grad_norm")
    assert grad and all(g > 0 for g in grad)
    keys = {m["key"] for m in cli("metrics", run_id, "--json").json()}
    assert {"losses/quantile_loss", "learner/grad_norm_clipped", "learner/updates_per_s",
            "learner/q_mean", "learner/actor_lag_versions"} <= keys  # fmt: skip

    kinds = {c["kind"] for c in show["checkpoints"]}
    assert {"periodic", "final"} <= kinds
    for c in show["checkpoints"]:
        assert hashlib.sha256(Path(c["path"]).read_bytes()).hexdigest() == c["sha256"]

    # Its checkpoints play again after training, greedily, and the result is recorded.
    evaluated = cli("evaluate", run_id, "--checkpoint", "latest", "--episodes", "2", "--json")
    assert evaluated.code == 0, evaluated.stderr
    (row,) = evaluated.json()
    assert row["timestep"] == 4096 and row["episodes"] == 2 and row["mean_reward"] >= 8
    assert [e["checkpoint_path"] for e in cli("show", run_id, "--json").json()["evaluations"]] == [
        row["checkpoint_path"]
    ]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        pytest.param(
            ("--device", "cuda"), "--device cuda",
            marks=pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available"),
        ),
        (("--num-actors", "-1"), "num_actors"),
    ],
)  # fmt: skip
def test_bad_iqn_settings_are_one_clear_line(cli: Cli, args: tuple[str, ...], needle: str) -> None:
    result = cli("train", "--algo", "iqn", "--mode", "smoke", "--no-progress", *args)
    assert result.code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0], result.stderr
    assert "run_id" not in result.stdout
    assert not list((cli.home / "runs").glob("*/processes.json")), "no process was started"


def test_children_exit_when_the_main_process_dies(cli: Cli) -> None:
    proc = cli.popen(
        "train", "--algo", "iqn", "--num-actors", "2", "--total-timesteps", "10000000",
        "--no-progress",
    )  # fmt: skip
    assert proc.stdout is not None
    run_id = proc.stdout.readline().split(": ", 1)[1].strip()
    pids_file = cli.home / "runs" / run_id / "processes.json"
    deadline = time.monotonic() + 120
    while not pids_file.exists() or not cli("episodes", run_id, "--json").json():
        assert time.monotonic() < deadline and proc.poll() is None, "training did not start"
        time.sleep(0.5)
    data = json.loads(pids_file.read_text())
    pids = [c["pid"] for c in (*data["actors"], *data["learners"])]
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in pids):
        assert time.monotonic() < deadline, "children outlived the main process"
        time.sleep(0.2)


def _alive(pid: int) -> bool:
    """Running (not a zombie waiting for its reaper)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        # ProcessLookupError: the process went away between opening its stat file and reading.
        return False
    return state not in ("Z", "X")
