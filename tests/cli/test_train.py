"""`rltrack train` end to end: real subprocesses, a real SQLite file, the CLI read-back commands."""

from __future__ import annotations

import functools
import hashlib
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Cli, Result, wait_for_episodes, wait_for_run_id


def train(cli: Cli, *args: str) -> Result:
    result = cli("train", "--mode", "smoke", "--no-progress", *args)
    assert result.code == 0, result.stderr
    return result


def check_complete_record(cli: Cli, run_id: str, num_envs: int) -> list[dict]:
    show = cli("show", run_id, "--json").json()
    assert show["status"] == "completed"
    episodes = cli("episodes", run_id, "--json").json()
    assert [e["index"] for e in episodes] == list(range(len(episodes)))
    for e in episodes:
        assert e["status"] in ("completed", "truncated")
        assert e["total_reward"] is not None and e["steps"] > 0 and e["end_time"] is not None
    # Every step trained belongs to exactly one episode, the in-flight ones included; the steps
    # taken afterwards to finish those (the drain) are not training timesteps.
    trained = sum(e["steps"] - e["drain_steps"] for e in episodes)
    assert trained == show["timesteps"] == 4096
    assert {e["env_slot"] for e in episodes} == set(range(num_envs))
    # The episodes in flight at the end were drained to their natural end.
    assert all(e["status"] == "completed" for e in episodes)
    assert sum(e["drain_steps"] > 0 for e in episodes) <= num_envs
    assert show["episodes"] == len(episodes)
    kinds = {c["kind"] for c in show["checkpoints"]}
    assert {"periodic", "final"} <= kinds
    for c in show["checkpoints"]:
        data = Path(c["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == c["sha256"]
    return episodes


def test_ppo_four_envs_records_every_episode(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    result = train(cli, "--algo", "ppo", "--env", "CartPole-v1", "--seed", "1", "--num-envs", "4")
    run_id = result.run_id
    assert "completed" in result.stdout
    episodes = check_complete_record(cli, run_id, 4)
    assert all(e["epsilon"] is None for e in episodes)
    keys = {m["key"] for m in cli("metrics", run_id, "--json").json()}
    assert "rollout/ep_rew_mean" in keys and "time/fps" in keys
    rew = cli("metrics", run_id, "--key", "rollout/ep_rew_mean", "--json").json()
    assert rew and all(m["episodes"] is not None for m in rew)
    runs = cli("runs", "--json").json()
    assert [r["run_id"] for r in runs] == [run_id]
    assert runs[0]["algorithm"] == "ppo" and runs[0]["env_id"] == "CartPole-v1"
    # The newest episodes, and the best ones, without printing the whole run.
    newest = cli("episodes", run_id, "--sort", "-index", "--limit", "3", "--json").json()
    assert [e["index"] for e in newest] == [e["index"] for e in episodes[::-1][:3]]
    best = cli("episodes", run_id, "--sort", "-total_reward", "--limit", "5", "--json").json()
    top = sorted(episodes, key=lambda e: (-e["total_reward"], e["index"]))[:5]
    assert [e["index"] for e in best] == [e["index"] for e in top]
    table = cli("episodes", run_id, "--limit", "2")
    assert f"2 of {len(episodes)} episodes" in table.stderr
    # --json streams the episodes a keyset page at a time (5,000; 7 here), the same list.
    from rltrack.cli import query

    monkeypatch.setattr(query, "_all_episodes", functools.partial(query._all_episodes, page=7))
    assert len(episodes) > 7 and cli("episodes", run_id, "--json").json() == episodes
    # A table stops at TABLE_ROWS (1,000; 5 here) and says how to see more; JSON has them all.
    monkeypatch.setattr("rltrack.cli.common.TABLE_ROWS", 5)
    capped = cli("episodes", run_id)
    assert f"5 of {len(episodes)} episodes, by index; --limit N" in capped.stderr
    assert capped.stdout.count("completed") == 5
    assert len(cli("episodes", run_id, "--json").json()) == len(episodes)
    bad = cli("episodes", run_id, "--sort", "reward")
    assert bad.code == 2 and "total_reward" in bad.stderr
    # Without --key, one row per metric with its last value (a long run logs thousands).
    summary = cli("metrics", run_id)
    assert summary.stdout.count("rollout/ep_rew_mean") == 1 and "--key KEY" in summary.stderr
    row = next(line for line in summary.stdout.splitlines() if "rollout/ep_rew_mean" in line)
    assert f"{rew[-1]['value']:.4g}" in row and str(rew[-1]["timestep"]) in row
    # A mistyped metric key names the run's keys instead of an empty answer.
    typo = cli("metrics", run_id, "--key", "rollout/ep_rew_man")
    assert typo.code == 0 and "rollout/ep_rew_mean" in typo.stderr


def test_dqn_records_epsilon_per_episode(cli: Cli) -> None:
    # 1e4, as configs write it, is a float; SB3 sizes its replay buffer with it. DQN's
    # max_grad_norm defaults to the int 10 but is a float.
    run_id = train(
        cli, "--algo", "dqn", "--env", "CartPole-v1", "--set", "hyperparams.buffer_size=1e4",
        "--set", "hyperparams.max_grad_norm=0.5",
    ).run_id  # fmt: skip
    assert cli("show", run_id, "--json").json()["config"]["hyperparams"]["buffer_size"] == 1e4
    episodes = check_complete_record(cli, run_id, 1)
    eps = [e["epsilon"] for e in episodes]
    assert all(x is not None for x in eps)
    assert eps[0] > eps[-1], "epsilon decays over the run"
    assert eps == sorted(eps, reverse=True)


def test_maskable_ppo_on_masked_env_records_wins(cli: Cli) -> None:
    run_id = train(
        cli, "--algo", "maskable_ppo", "--env", "rltrack/MaskedBandit-v0", "--num-envs", "2"
    ).run_id
    episodes = cli("episodes", run_id, "--json").json()
    done = [e for e in episodes if e["status"] == "completed"]
    assert done and all(e["win"] in (0.0, 1.0) for e in done)
    assert all("hit_rate" in e["metrics"] for e in done)
    # With masks the agent never picks a disallowed arm, so no step costs -1.
    assert all(e["total_reward"] >= 0 for e in episodes)


def test_resume_continues_as_linked_run(cli: Cli) -> None:
    first = train(cli, "--algo", "ppo", "--num-envs", "2").run_id
    second = cli("train", "--resume", first[:8], "--total-timesteps", "1024", "--no-progress")
    assert second.code == 0, second.stderr
    show = cli("show", second.run_id, "--json").json()
    assert show["parent_run_id"] == first
    assert show["status"] == "completed"
    assert show["timesteps"] == 4096 + 1024
    episodes = cli("episodes", second.run_id, "--json").json()
    assert episodes[0]["index"] == 0 and episodes[0]["start_timestep"] == 4096
    assert sum(e["steps"] - e["drain_steps"] for e in episodes) == 1024
    # A list cut by --limit says so.
    assert [r["run_id"] for r in cli("runs", "--limit", "1", "--json").json()] == [second.run_id]
    assert "the newest 1 of 2 runs" in cli("runs", "--limit", "1").stderr
    assert "of 2 runs" not in cli("runs").stderr
    # --like starts a new, unlinked run from the first one's settings, with fresh weights.
    like = cli(
        "train", "--like", first[:8], "--seed", "9", "--total-timesteps", "512", "--no-progress"
    )
    assert like.code == 0, like.stderr
    copy = cli("show", like.run_id, "--json").json()
    original = cli("show", first, "--json").json()
    assert copy["parent_run_id"] is None and copy["timesteps"] == 512
    assert copy["config"]["seed"] == 9 and copy["config"]["num_envs"] == 2
    assert copy["config"]["hyperparams"] == original["config"]["hyperparams"]
    assert cli("episodes", like.run_id, "--json").json()[0]["start_timestep"] == 0
    both = cli("train", "--like", first[:8], "--resume", first[:8], "--no-progress")
    assert both.code == 2 and "give one" in both.stderr
    # A checkpoint cannot continue as another algorithm or in another env.
    for flag, other in (("--algo", "dqn"), ("--env", "Acrobot-v1")):
        refused = cli("train", "--resume", first[:8], flag, other, "--no-progress")
        assert refused.code == 2 and f"{flag} {other}: --resume continues run" in refused.stderr


def test_ctrl_c_stops_with_130(cli: Cli) -> None:
    proc = cli.popen(
        "train", "--algo", "ppo", "--total-timesteps", "10000000", "--num-envs", "2",
        "--no-progress",
    )  # fmt: skip
    run_id = wait_for_run_id(proc)
    wait_for_episodes(cli, run_id, 2)  # stop a run that is under way
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    show = cli("show", run_id, "--json").json()
    assert show["status"] == "stopped"
    episodes = cli("episodes", run_id, "--json").json()
    assert episodes and all(e["status"] != "started" for e in episodes)
    assert sum(e["steps"] - e["drain_steps"] for e in episodes) == show["timesteps"] > 0
    assert any(c["kind"] == "final" for c in show["checkpoints"])


def test_exception_in_env_fails_the_run(cli: Cli) -> None:
    result = cli(
        "train", "--algo", "ppo", "--env", "tests.gym_envs:CrashingCartPole-v0",
        "--total-timesteps", "5000", "--set", "env_kwargs.crash_at=300", "--no-progress",
    )  # fmt: skip
    assert result.code == 1
    show = cli("show", result.run_id, "--json").json()
    assert show["status"] == "failed"
    assert "RuntimeError" in show["error"] and "simulated env failure" in show["error"]
    assert show["metadata"]["error_type"] == "RuntimeError"
    assert "Traceback" in show["metadata"]["traceback"]
    episodes = cli("episodes", result.run_id, "--json").json()
    assert episodes[-1]["status"] == "error"
    assert all(e["status"] != "started" for e in episodes)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--algo", "sac"), "algo"),
        (("--env", "CartPol-v1"), "CartPole-v1"),
        (("--total-timesteps", "-5"), "total_timesteps"),
        (("--num-envs", "0"), "num_envs"),
        (("--set", "hyperparams.nonsense=1"), "nonsense"),
        (("--set", "policy=Foo"), "auto, MlpPolicy, CnnPolicy"),
        (("--db", "sqlite:////proc/no/such/dir/x.db"), "/proc/no"),
        (("--resume", "doesnotexist"), "doesnotexist"),
        (("--set", "hyperparams.n_steps=abc"), "n_steps='abc'"),
        (("--set", "hyperparams.gamma=abc"), "gamma='abc': PPO wants a number"),
        (("--set", "hyperparams.n_steps=64.5"), "n_steps=64.5: PPO wants a whole number"),
        (("--num-actors", "4"), "--num-envs"),
        (("--agents", "2"), "actor-learner"),
        # An env whose optional dependency is missing: Gymnasium's own advice, exit 2.
        (("--env", "LunarLander-v3"), 'pip install "gymnasium[box2d]"'),
        (("--env", "nosuchmodule:Coin-v0"), "run from the folder that holds nosuchmodule.py"),
        (("--algo", "maskable_ppo", "--env", "CartPole-v1"), "action_masks()"),
        (("--set", "hyperparams.policy_kwargs.optimizer_class=torch.optim.Nope"), "Nope"),
        (("--tensorboard", "/proc/no/such/dir"), "--tensorboard /proc/no/such/dir: cannot write"),
    ],
)
def test_bad_input_is_one_clear_line(cli: Cli, args: tuple[str, ...], needle: str) -> None:
    result = cli("train", "--mode", "smoke", "--no-progress", *args)
    assert result.code == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0], result.stderr
    assert "run_id" not in result.stdout


def test_bad_config_files(cli: Cli) -> None:
    (cli.home / "broken.yaml").write_text("algo: ppo\n  env: [oops\n")
    (cli.home / "unknown.yaml").write_text("algo: ppo\nlearning_rate: 0.1\n")
    broken = cli("train", "--config", "broken.yaml")
    assert broken.code == 2 and "line 2" in broken.stderr and "Traceback" not in broken.stderr
    unknown = cli("train", "--config", "unknown.yaml")
    assert unknown.code == 2 and "learning_rate" in unknown.stderr
    assert "hyperparams.learning_rate" in unknown.stderr
    missing = cli("train", "--config", "nope.yaml")
    assert missing.code == 2 and "nope.yaml" in missing.stderr


def test_read_back_commands_refuse_unknown_runs(cli: Cli) -> None:
    for command in ("show", "episodes", "metrics"):
        result = cli(command, "0123456789abcdef")
        assert result.code == 2 and "no run" in result.stderr
        assert "Traceback" not in result.stderr
    assert cli("runs", "--status", "bogus").code == 2


def test_box2d_is_not_in_the_tested_set() -> None:
    """The LunarLander case above needs Box2D missing, as it is from the locked versions."""
    import importlib.util

    assert importlib.util.find_spec("Box2D") is None


def test_env_module_in_the_current_folder_trains_from_the_installed_command(
    cli: Cli, tmp_path: Path
) -> None:
    """`--env myenvs:Coin-v0` from the folder holding myenvs.py, with the `rltrack` script
    (whose own folder, not the current one, heads sys.path), also in subprocess envs."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "myenvs.py").write_text(COIN_ENV)
    script = Path(sys.executable).parent / "rltrack"
    env = {k: v for k, v in cli.env.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [str(script), "train", "--env", "myenvs:Coin-v0", "--mode", "smoke", "--no-progress",
         "--total-timesteps", "256", "--num-envs", "2", "--vec-env", "subproc"],
        capture_output=True, text=True, timeout=240, env=env, cwd=project,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    run_id = Result(proc.returncode, proc.stdout, proc.stderr).run_id
    episodes = cli("episodes", run_id, "--json").json()
    assert len(episodes) >= 256 // 10 and all(e["steps"] == 10 for e in episodes)


COIN_ENV = """
import gymnasium as gym
import numpy as np


class Coin(gym.Env):
    observation_space = gym.spaces.Box(0.0, 1.0, (1,), dtype=np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1, np.float32), {}

    def step(self, action):
        self.t += 1
        reward = float(action == self.np_random.integers(2))
        return np.zeros(1, np.float32), reward, self.t >= 10, False, {}


gym.register("Coin-v0", entry_point=Coin)
"""
