"""`import rltrack` registers its envs with Gymnasium, and both pass Gymnasium's and SB3's env
checkers, so they work in a user's own script like any other env."""

from __future__ import annotations

import subprocess
import sys
import warnings

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import rltrack  # noqa: F401  (registers the envs)
from tests.conftest import REPO


def test_import_rltrack_is_enough_in_a_fresh_process() -> None:
    code = (
        "import rltrack, gymnasium as gym; "
        'gym.make("rltrack/Trading-v0"); gym.make("rltrack/MaskedBandit-v0")'
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("env_id", ["rltrack/Trading-v0", "rltrack/MaskedBandit-v0"])
def test_both_envs_pass_gymnasiums_and_sb3s_checkers(env_id: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gym_check_env(gym.make(env_id).unwrapped)
        sb3_check_env(gym.make(env_id).unwrapped)
