"""The frame source: a checkpoint played in the run's env with ``render_mode="rgb_array"``.

A played episode shows one frame after its reset and one after each step. The playback episode
number starts at 1 and goes up exactly when an episode ends (:class:`PlaybackCounter`); the
frame after the step that ends an episode still belongs to that episode and shows its final
score. Each milestone's chapter replays from the same seed (the run's), so milestones start
from the same states and differ only by the policy.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import cv2
import gymnasium as gym
import numpy as np

from rltrack.video.options import VideoError
from rltrack.video.policy import PolicyView, Readout

# Episodes without an end in sight (no time limit) are cut after this many frames.
MAX_EPISODE_FRAMES = 30 * 60 * 20
# Names of the actions of envs that do not say them (classic control), by env id prefix.
KNOWN_ACTIONS: dict[str, tuple[str, ...]] = {
    "CartPole": ("left", "right"),
    "MountainCar-": ("left", "none", "right"),
    "Acrobot": ("-1", "0", "+1"),
    "LunarLander-": ("none", "left", "main", "right"),
}
# Envs whose render() draws with pygame and returns np.array(pygame.surfarray.pixels3d(surface))
# and nothing else that touches pixels3d: gymnasium's classic control and Box2D envs.
PYGAME_COPY_MODULES = ("gymnasium.envs.classic_control.", "gymnasium.envs.box2d.")


def frame_reader(env: Any) -> Callable[[], Any]:
    """``env.render``, made faster for gymnasium's pygame-drawn envs (``PYGAME_COPY_MODULES``).

    Those copy their frame out of the surface with ``np.array(pygame.surfarray.pixels3d(s))``:
    pixels3d is a view with a 4-byte pixel stride and reversed channels, and numpy gathers it
    byte by byte, which is two thirds of CartPole's 3.5 ms render. While their render() runs,
    pixels3d is replaced by :func:`_rgb_view`, the same (x, y, channel) pixels converted in one
    vectorised pass: the same pixels (the tests compare them) for ~2 ms less per frame. These
    envs only read the view; it is not a live one."""
    if not type(env.unwrapped).__module__.startswith(PYGAME_COPY_MODULES):
        return env.render  # type: ignore[no-any-return]
    try:
        import pygame.surfarray as surfarray
    except ImportError:
        return env.render  # type: ignore[no-any-return]
    pixels3d = surfarray.pixels3d

    def render() -> Any:
        surfarray.pixels3d = _rgb_view
        try:
            return env.render()
        finally:
            surfarray.pixels3d = pixels3d

    return render


def _rgb_view(surface: Any) -> np.ndarray:
    """A pygame surface's pixels as an (x, y, channel) RGB array, like ``pixels3d``'s view (but a
    copy), laid out so that the transpose to (y, x, channel) is C-contiguous.

    32-bit surfaces (what these envs draw on) are read straight from the surface's memory, one
    row of B, G, R, X bytes after another, and converted by OpenCV (~0.1 ms for CartPole's
    600x400, against ~1 ms for ``pygame.image.tobytes``); any other layout goes through
    ``tobytes``."""
    w, h = surface.get_size()
    if surface.get_bytesize() == 4:
        # Which byte of a pixel holds R, G and B, from the masks' shifts and the byte order.
        r, g, b = (
            shift // 8 if sys.byteorder == "little" else 3 - shift // 8
            for shift in surface.get_shifts()[:3]
        )
        code = {(2, 1, 0): cv2.COLOR_BGRA2RGB, (0, 1, 2): cv2.COLOR_RGBA2RGB}.get((r, g, b))
        raw = np.frombuffer(surface.get_buffer(), dtype=np.uint8)
        pixels = raw.reshape(h, surface.get_pitch() // 4, 4)[:, :w]
        if code is not None:
            rgb = cv2.cvtColor(pixels, code)
        else:
            rgb = np.ascontiguousarray(pixels[..., [r, g, b]])
    else:
        import pygame

        rgb = np.frombuffer(pygame.image.tobytes(surface, "RGB"), dtype=np.uint8)
        rgb = rgb.reshape(h, w, 3)
    return rgb.transpose(1, 0, 2)


@dataclass(slots=True)
class EpisodePlayback:
    """One played episode: its number (from 1), total reward, frames shown, and whether it
    reached its end (False: the chapter's time ran out first)."""

    episode: int
    score: float
    frames: int
    ended: bool = True


class PlaybackCounter:
    """The PLAYBACK panel's episode number and score. Frames are counted with :meth:`frame`
    as they are shown; :meth:`end` closes the current episode and starts the next number."""

    def __init__(self) -> None:
        self.episode = 1
        self.score = 0.0
        self.frames = 0
        self.played: list[EpisodePlayback] = []

    def frame(self) -> None:
        self.frames += 1

    def reward(self, reward: float) -> None:
        self.score += float(reward)

    def end(self, ended: bool = True) -> EpisodePlayback:
        record = EpisodePlayback(self.episode, self.score, self.frames, ended)
        self.played.append(record)
        self.episode += 1
        self.score = 0.0
        self.frames = 0
        return record

    def cut(self) -> None:
        """The chapter stops: an episode with frames shown is recorded as not ended."""
        if self.frames > 0:
            self.end(ended=False)


@dataclass(slots=True)
class Timings:
    """Seconds spent per stage of making frames: env steps and rendering, the policy's forward
    pass, composing the frame (game image and panel), and encoding (colour conversion and
    handing the frame to ffmpeg, waiting when it is behind)."""

    render: float = 0.0
    policy: float = 0.0
    panel: float = 0.0
    encode: float = 0.0
    frames: int = 0

    def add(self, other: Timings) -> None:
        self.render += other.render
        self.policy += other.policy
        self.panel += other.panel
        self.encode += other.encode
        self.frames += other.frames


@dataclass(slots=True)
class PlayFrame:
    image: np.ndarray
    episode: int
    score: float
    new_episode: bool
    final: bool
    readout: Readout | None


def open_env(env_id: str, env_kwargs: dict[str, Any], game_size: tuple[int, int]) -> Any:
    """The run's env rendering RGB frames; the trading env draws at ``game_size`` directly.
    :class:`VideoError` when the env cannot render."""
    from rltrack.envs import make_env
    from rltrack.training.evaluate import is_trading_env

    # pygame (classic control) needs neither a display nor sound to draw into a surface.
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    kwargs = dict(env_kwargs)
    if is_trading_env(env_id):
        kwargs["render_size"] = game_size
    hint = "a video needs an env that renders RGB frames (render_mode='rgb_array')"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            env = make_env(env_id, kwargs, render_mode="rgb_array")
        except ValueError as exc:  # the env's own settings (its data, a range): no render hint
            raise VideoError(f"env {env_id} cannot be made for a video: {exc}") from None
        except (TypeError, gym.error.Error, ImportError) as exc:
            raise VideoError(f"env {env_id} cannot be made for a video: {exc}; {hint}") from None
    modes = env.metadata.get("render_modes") or []
    if "rgb_array" not in modes:
        env.close()
        raise VideoError(
            f"env {env_id} cannot render: its render modes are {list(modes) or 'none'}; {hint}"
        )
    return env


def check_frame(env_id: str, image: Any) -> np.ndarray:
    if (
        not isinstance(image, np.ndarray)
        or image.ndim != 3
        or image.shape[2] != 3
        or image.shape[0] < 2
        or image.shape[1] < 2
    ):
        shape = getattr(image, "shape", None)
        raise VideoError(
            f"env {env_id} rendered {type(image).__name__} {shape or ''}, not an RGB frame "
            "(height, width, 3); a video needs render_mode='rgb_array' frames"
        )
    return image if image.dtype == np.uint8 else np.clip(image, 0, 255).astype(np.uint8)


def action_labels(env: Any, n: int) -> tuple[str, ...]:
    """Names for the policy panel: the env's own (Atari's ``get_action_meanings``, the trading
    env's actions), known ones for classic control, else ``a0, a1, ...``."""
    unwrapped = env.unwrapped
    meanings = getattr(unwrapped, "get_action_meanings", None)
    if callable(meanings):
        with contextlib.suppress(Exception):
            names = tuple(str(m).lower() for m in meanings())
            if len(names) == n:
                return names
    from rltrack.envs.trading import ACTIONS, TradingEnv

    if isinstance(unwrapped, TradingEnv) and len(ACTIONS) == n:
        return ACTIONS
    env_id = env.spec.id if env.spec is not None else ""
    for prefix, names in KNOWN_ACTIONS.items():
        if env_id.startswith(prefix) and len(names) == n:
            return names
    return tuple(f"a{i}" for i in range(n))


@dataclass
class ChapterPlayer:
    """Plays ``episodes`` episodes (None: until the consumer stops) of ``policy`` in ``env``;
    :meth:`frames` yields each frame with the numbers the panel shows."""

    env: Any
    env_id: str
    policy: PolicyView
    episodes: int | None
    seed: int
    timings: Timings = field(default_factory=Timings)
    counter: PlaybackCounter = field(default_factory=PlaybackCounter)
    max_episode_frames: int = MAX_EPISODE_FRAMES
    _last_final: bool = False
    _render: Callable[[], Any] = field(init=False)

    def __post_init__(self) -> None:
        self._render = frame_reader(self.env)

    def frames(self) -> Iterator[PlayFrame]:
        env, policy, counter, t = self.env, self.policy, self.counter, self.timings
        render = self._render
        clock = time.perf_counter
        policy.seed(self.seed)
        k = 0
        while self.episodes is None or k < self.episodes:
            t0 = clock()
            obs, _ = env.reset(seed=self.seed if k == 0 else None)
            t1 = clock()
            action, readout = policy.act(obs, env)
            t2 = clock()
            image = check_frame(self.env_id, render())
            t.render += (t1 - t0) + (clock() - t2)
            t.policy += t2 - t1
            counter.frame()
            self._last_final = False
            yield PlayFrame(image, counter.episode, counter.score, True, False, readout)
            while True:
                t0 = clock()
                obs, reward, terminated, truncated, _ = env.step(action)
                counter.reward(float(reward))
                ended = bool(terminated or truncated)
                done = ended or counter.frames + 1 >= self.max_episode_frames
                t1 = clock()
                shown: Readout | None = None
                if not done:
                    action, shown = policy.act(obs, env)
                t2 = clock()
                image = render()
                t.render += (t1 - t0) + (clock() - t2)
                t.policy += t2 - t1
                counter.frame()
                self._last_final = done
                yield PlayFrame(image, counter.episode, counter.score, False, done, shown)
                if done:
                    counter.end(ended=ended)
                    self._last_final = False
                    break
            k += 1

    def finish(self) -> list[EpisodePlayback]:
        """The episodes played; one cut short by the end of the chapter is recorded too."""
        if self.counter.frames > 0:
            self.counter.end(ended=self._last_final)
        return list(self.counter.played)
