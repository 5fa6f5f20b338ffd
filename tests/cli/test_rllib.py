"""`rltrack train --backend rllib` end to end: the real command (its own local Ray), SQLite, the
read-back commands, SIGTERM, evaluate and video on its runs."""

from __future__ import annotations

import hashlib
import signal
import socket
from pathlib import Path

import pytest

from tests.conftest import Cli, wait_for_episodes, wait_for_run_id


def check_episodes(cli: Cli, run_id: str, slots: set[int]) -> list[dict]:
    episodes = cli("episodes", run_id, "--json").json()
    assert [e["index"] for e in episodes] == list(range(len(episodes)))
    assert {e["env_slot"] for e in episodes} == slots
    assert all(e["status"] != "started" and e["end_time"] is not None for e in episodes)
    check = cli("check", run_id)
    assert check.code == 0, check.stdout + check.stderr
    return episodes


def test_smoke_ppo_on_two_runners_and_evaluate(cli: Cli) -> None:
    result = cli(
        "train", "--backend", "rllib", "--algo", "ppo", "--env", "CartPole-v1",
        "--num-env-runners", "2", "--mode", "smoke", "--no-progress",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    run_id = result.run_id
    show = cli("show", run_id, "--json").json()
    assert show["status"] == "completed" and show["backend"] == "rllib"
    assert show["config"]["num_env_runners"] == 2
    assert show["config"]["hyperparams"]["train_batch_size_per_learner"] == 256
    assert show["config"]["policy"] == "DefaultPPOTorchRLModule"
    episodes = check_episodes(cli, run_id, {0, 1})
    assert sum(e["steps"] - e["drain_steps"] for e in episodes) == show["timesteps"] >= 4096
    assert all(e["total_reward"] == e["steps"] for e in episodes)  # CartPole: 1 per step
    assert {"periodic", "best", "final"} <= {c["kind"] for c in show["checkpoints"]}
    for c in show["checkpoints"]:
        data = Path(c["path"]).read_bytes()
        assert c["path"].endswith(".zip") and c["size"] == len(data)
        assert hashlib.sha256(data).hexdigest() == c["sha256"]
    keys = {m["key"] for m in cli("metrics", run_id, "--json").json()}
    assert {"rollout/ep_rew_mean", "time/fps", "rllib/env_runners/episode_return_mean"} <= keys
    evaluated = cli("evaluate", run_id, "--checkpoint", "final", "--episodes", "2")
    assert evaluated.code == 0, evaluated.stderr
    assert "final.zip" in evaluated.stdout
    (evaluation,) = cli("show", run_id, "--json").json()["evaluations"]
    assert evaluation["episodes"] == 2 and evaluation["mean_reward"] > 0
    # rltrack video plays RLlib's PPO module through the registry's loader (an ActionView).
    video = cli("video", run_id, "--total-seconds", "2", timeout=240)
    assert video.code == 0, video.stderr
    [mp4] = (cli.home / "runs" / run_id / "videos").glob("*.mp4")
    assert mp4.stat().st_size > 1000


def test_sigterm_drains_stops_with_143_and_the_video_plays_it(cli: Cli) -> None:
    proc = cli.popen(
        "train", "--algo", "appo", "--env", "CartPole-v1", "--num-env-runners", "2",
        "--num-envs-per-env-runner", "2", "--mode", "smoke", "--total-timesteps", "1000000",
        "--no-progress",
    )  # fmt: skip
    try:
        run_id = wait_for_run_id(proc)
        wait_for_episodes(cli, run_id, 10, timeout=120)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, stderr
    show = cli("show", run_id, "--json").json()
    assert show["status"] == "stopped" and show["backend"] == "rllib"
    episodes = check_episodes(cli, run_id, {0, 1, 2, 3})
    assert any(e["drain_steps"] > 0 for e in episodes), "the episodes in flight were drained"
    assert "final" in {c["kind"] for c in show["checkpoints"]}
    video = cli("video", run_id, "--total-seconds", "3", timeout=240)
    assert video.code == 0, video.stderr
    assert list((cli.home / "runs" / run_id / "videos").glob("*.mp4"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--algo", "a2c", "--num-env-runners", "2"), "--num-env-runners is for the rllib backend"),
        (("--backend", "rllib", "--algo", "a2c"), "backend: rllib trains --algo ppo, appo"),
        (("--algo", "appo", "--set", "hyperparams.n_steps=8"), "n_steps: not a setting of RLlib"),
        (("--algo", "impala", "--num-envs", "4"), "--num-env-runners N and --num-envs-per-env"),
        (("--algo", "appo", "--num-env-runners", "-1"), "num_env_runners: Input should be"),
        (("--algo", "appo", "--ray-address", "PORT"), "127.0.0.1:PORT: no Ray cluster answers"),
    ],
)
def test_bad_input_is_one_clear_line(cli: Cli, args: tuple[str, ...], needle: str) -> None:
    port = str(free_port())
    args = tuple(a.replace("PORT", f"127.0.0.1:{port}") for a in args)
    result = cli.in_process("train", "--no-progress", *args)
    assert result.code == 2, result.stdout + result.stderr
    assert needle.replace("PORT", port) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
