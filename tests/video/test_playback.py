"""The playback counter and the frame source, on real envs and real (untrained) policies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from stable_baselines3 import PPO

from rltrack.video.options import VideoError
from rltrack.video.policy import load_policy
from rltrack.video.source import ChapterPlayer, PlaybackCounter, open_env


def test_counter_starts_at_one_and_goes_up_exactly_when_an_episode_ends() -> None:
    counter = PlaybackCounter()
    shown = []
    # Two episodes: 3 steps, then 2 steps; a frame after the reset and after each step.
    for length in (3, 2):
        counter.frame()
        shown.append(counter.episode)
        for step in range(length):
            counter.reward(1.0)
            counter.frame()
            shown.append(counter.episode)
            if step == length - 1:
                counter.end()
    assert shown == [1, 1, 1, 1, 2, 2, 2]
    assert [(p.episode, p.score, p.frames, p.ended) for p in counter.played] == [
        (1, 3.0, 4, True),
        (2, 2.0, 3, True),
    ]
    assert counter.episode == 3 and counter.score == 0 and counter.frames == 0


def test_counter_cut_records_an_unfinished_episode_only_when_it_showed_frames() -> None:
    counter = PlaybackCounter()
    counter.cut()
    assert counter.played == []
    counter.frame()
    counter.reward(0.5)
    counter.cut()
    assert [(p.episode, p.score, p.frames, p.ended) for p in counter.played] == [(1, 0.5, 1, False)]


@pytest.fixture
def cartpole_policy(tmp_path: Path) -> str:
    env = open_env("CartPole-v1", {}, (600, 400))
    model = PPO("MlpPolicy", env, seed=0, device="cpu", n_steps=64)
    path = tmp_path / "ppo.zip"
    model.save(path)
    env.close()
    return str(path)


def play(path: str, episodes: int | None, frames: int | None = None) -> tuple[list, list]:
    env = open_env("CartPole-v1", {}, (600, 400))
    policy = load_policy("ppo", path, env.action_space, env.observation_space, deterministic=False)
    player = ChapterPlayer(env, "CartPole-v1", policy, episodes, seed=7)
    shown = []
    for pf in player.frames():
        shown.append(pf)
        if frames is not None and len(shown) == frames:
            break
    played = player.finish()
    env.close()
    return shown, played


def test_player_numbers_episodes_from_one_and_shows_each_step(cartpole_policy: str) -> None:
    shown, played = play(cartpole_policy, episodes=3)
    numbers = [f.episode for f in shown]
    assert numbers[0] == 1 and shown[0].new_episode and shown[0].score == 0
    # The number changes only on the frame after an episode's final frame, by one.
    for prev, cur in zip(shown, shown[1:], strict=False):
        if prev.final:
            assert cur.episode == prev.episode + 1 and cur.new_episode and cur.score == 0
        else:
            assert cur.episode == prev.episode and not cur.new_episode
            assert cur.score == prev.score + 1  # CartPole: +1 per step
    assert shown[-1].final and numbers[-1] == 3
    assert [p.episode for p in played] == [1, 2, 3] and all(p.ended for p in played)
    assert [p.frames for p in played] == [numbers.count(k) for k in (1, 2, 3)]
    assert all(p.frames == p.score + 1 for p in played)
    # Frames are the env's RGB images; every decision shows its probabilities.
    assert shown[0].image.shape == (400, 600, 3) and shown[0].image.dtype == np.uint8
    for f in shown:
        if not f.final:
            assert f.readout is not None and abs(f.readout.values.sum() - 1) < 1e-6


def test_player_records_the_episode_cut_by_the_chapter_end(cartpole_policy: str) -> None:
    shown, played = play(cartpole_policy, episodes=None, frames=5)
    assert len(shown) == 5
    assert [(p.episode, p.frames, p.ended) for p in played] == [(1, 5, False)]
    # The same seed replays the same episode.
    again, _ = play(cartpole_policy, episodes=None, frames=5)
    assert all(np.array_equal(a.image, b.image) for a, b in zip(shown, again, strict=True))


def test_env_without_rgb_frames_is_refused() -> None:
    with pytest.raises(VideoError, match="rgb_array"):
        open_env("rltrack/MaskedBandit-v0", {}, (320, 240))
    with pytest.raises(VideoError, match="cannot be made"):
        open_env("NoSuchEnv-v9", {}, (320, 240))


def test_env_whose_data_is_gone_says_so_without_a_render_hint(tmp_path: Path) -> None:
    with pytest.raises(VideoError) as caught:
        open_env("rltrack/Trading-v0", {"data": str(tmp_path / "moved.csv")}, (320, 240))
    assert "moved.csv': no such file" in str(caught.value)
    assert "rgb_array" not in str(caught.value)


def test_trading_env_draws_at_the_game_size() -> None:
    env = open_env("rltrack/Trading-v0", {"episode_length": 50}, (500, 300))
    env.reset(seed=0)
    assert env.render().shape == (300, 500, 3)
    env.close()


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Acrobot-v1", "MountainCar-v0", "Pendulum-v1"])
def test_fast_frame_reader_gives_the_pixels_env_render_gives(env_id: str) -> None:
    """The video reads pygame-drawn frames through its own faster copy; the frames must be
    exactly what the env's render() returns, and pygame must be left as it was."""
    import pygame.surfarray

    from rltrack.video.source import frame_reader

    original = pygame.surfarray.pixels3d
    fast_env, plain_env = open_env(env_id, {}, (320, 240)), open_env(env_id, {}, (320, 240))
    try:
        read = frame_reader(fast_env)
        assert read != fast_env.render  # the fast path applies to this env
        for env in (fast_env, plain_env):
            env.reset(seed=3)
            env.action_space.seed(3)
        for _ in range(12):
            fast, plain = read(), plain_env.render()
            assert pygame.surfarray.pixels3d is original
            assert fast.shape == plain.shape and fast.dtype == plain.dtype == np.uint8
            assert fast.flags.c_contiguous
            np.testing.assert_array_equal(fast, plain)
            action = fast_env.action_space.sample()
            plain_env.action_space.sample()
            fast_env.step(action)
            plain_env.step(action)
    finally:
        fast_env.close()
        plain_env.close()


@pytest.mark.parametrize(
    ("depth", "masks"),
    [
        (32, (0xFF0000, 0xFF00, 0xFF, 0)),  # B, G, R, X bytes: what the envs draw on
        (32, (0xFF, 0xFF00, 0xFF0000, 0)),  # R, G, B, X
        (32, (0xFF00, 0xFF0000, 0xFF000000, 0)),  # X, R, G, B: no OpenCV code, numpy picks
        (24, None),  # 3 bytes a pixel: through pygame's own conversion
    ],
)
def test_fast_readout_matches_pixels3d_for_every_pixel_layout(
    depth: int, masks: tuple[int, ...] | None
) -> None:
    """The fast readout must give pixels3d's pixels whatever the surface's layout."""
    import pygame

    from rltrack.video.source import _rgb_view

    size = (37, 23)  # odd sizes: rows padded to the surface's pitch must not leak in
    surface = pygame.Surface(size, 0, depth, masks) if masks else pygame.Surface(size, 0, depth)
    rng = np.random.default_rng(0)
    colours = rng.integers(0, 256, size=(*size, 3))
    for x in range(size[0]):
        for y in range(size[1]):
            surface.set_at((x, y), tuple(int(c) for c in colours[x, y]))
    expected = np.array(pygame.surfarray.pixels3d(surface))
    got = _rgb_view(surface)
    assert got.shape == expected.shape == (*size, 3)
    np.testing.assert_array_equal(got, expected)
    assert np.transpose(got, (1, 0, 2)).flags.c_contiguous


def test_frame_reader_leaves_other_envs_render_alone() -> None:
    from rltrack.video.source import frame_reader

    env = open_env("rltrack/Trading-v0", {"episode_length": 32}, (320, 240))
    try:
        assert frame_reader(env) == env.render
    finally:
        env.close()
