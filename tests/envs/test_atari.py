"""Atari games through rltrack's env factory: the standard preprocessing, whole games as
episodes, the game's own score, and clear errors."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from rltrack.envs import UnknownEnvError, check_env_id, make_env


def test_observations_are_four_stacked_84x84_frames_and_render_is_the_colour_screen() -> None:
    env = make_env("ALE/Breakout-v5", render_mode="rgb_array")
    try:
        obs, info = env.reset(seed=0)
        assert env.observation_space.shape == obs.shape == (4, 84, 84)
        assert obs.dtype == np.uint8 and info["lives"] == 5
        obs, *_ = env.step(1)  # FIRE
        frame = env.render()
        assert frame.shape == (210, 160, 3) and frame.dtype == np.uint8
        assert len(np.unique(frame.reshape(-1, 3), axis=0)) > 4  # colours, not grey
        assert env.unwrapped.get_action_meanings() == ["NOOP", "FIRE", "RIGHT", "LEFT"]
    finally:
        env.close()


def random_game(env_id: str, seed: int, max_steps: int) -> list[tuple[float, bool, dict]]:
    """(reward, episode over, info) of each step of one seeded random-action episode."""
    env = make_env(env_id)
    try:
        env.reset(seed=seed)
        env.action_space.seed(seed)
        steps = []
        for _ in range(max_steps):
            _, reward, terminated, truncated, info = env.step(env.action_space.sample())
            steps.append((float(reward), bool(terminated), info))
            if terminated or truncated:
                break
        return steps
    finally:
        env.close()


def test_an_episode_is_a_whole_game_not_a_life() -> None:
    steps = random_game("ALE/Breakout-v5", seed=1, max_steps=10_000)
    _, terminated, info = steps[-1]
    assert terminated and info["lives"] == 0
    # Every life was lost within the one episode, and only the last step ended it.
    assert {i["lives"] for _, _, i in steps} == {0, 1, 2, 3, 4, 5}
    assert not any(ended for _, ended, _ in steps[:-1])


def test_rewards_are_the_game_score_not_clipped() -> None:
    rewards = [r for r, _, _ in random_game("ALE/SpaceInvaders-v5", seed=0, max_steps=3_000)]
    # Space Invaders pays 5 to 30 points an alien; clipping would make every reward 1.
    assert max(rewards) > 1


def test_frameskip_is_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="frameskip"):
        make_env("ALE/Breakout-v5", {"frameskip": 4})


def test_misspelt_game_names_the_close_ones() -> None:
    check_env_id("ALE/Breakout-v5")
    with pytest.raises(UnknownEnvError, match="ALE/Breakout-v5"):
        check_env_id("ALE/Breakuot-v5")


def test_without_ale_py_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ale_py", None)  # import ale_py now raises ImportError
    with pytest.raises(UnknownEnvError, match=r"needs ale-py.*pip install 'rltrack\[atari\]'"):
        check_env_id("ALE/Breakout-v5")


def test_auto_policy_is_the_cnn_for_frames_and_the_mlp_for_vectors() -> None:
    from rltrack.training.backends.sb3 import policy_name

    atari = make_env("ALE/Breakout-v5")
    cartpole = make_env("CartPole-v1")
    try:
        assert policy_name("auto", atari.observation_space) == "CnnPolicy"
        assert policy_name("auto", cartpole.observation_space) == "MlpPolicy"
        # A name given is kept, whatever the observations.
        assert policy_name("MlpPolicy", atari.observation_space) == "MlpPolicy"
    finally:
        atari.close()
        cartpole.close()
