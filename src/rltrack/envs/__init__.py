"""Environment factory and rltrack's own Gymnasium envs (registered on import).

Atari games (``ALE/<Game>-v5``, with ale-py installed: ``pip install 'rltrack[atari]'``) are
made with the standard preprocessing, so that training, evaluation and videos all see the same
env: Gymnasium's :class:`~gymnasium.wrappers.AtariPreprocessing` (up to 30 no-ops at reset, an
action repeated for 4 frames with the last two max-pooled, 84x84 grayscale) and the last 4
frames stacked, an observation of shape (4, 84, 84). Following Machado et al. (2018), losing a
life does not end the episode and rewards are not clipped: an episode is a whole game and its
reward is the game's score, which is what the run's records should say (v5's sticky actions,
repeat probability 0.25, stay on). ``render()`` still gives the game's full-colour frames.
"""

from __future__ import annotations

import difflib
import importlib
import os
import sys
from typing import Any

import gymnasium as gym

_REGISTERED = False


def register_envs() -> None:
    global _REGISTERED
    if _REGISTERED:
        return
    _REGISTERED = True
    gym.register(
        id="rltrack/MaskedBandit-v0",
        entry_point="rltrack.envs.masked:MaskedBanditEnv",
        max_episode_steps=200,
    )
    gym.register(id="rltrack/Trading-v0", entry_point="rltrack.envs.trading:TradingEnv")


class UnknownEnvError(ValueError):
    pass


ATARI_PREFIX = "ALE/"
ATARI_FRAME_SKIP = 4
ATARI_FRAME_STACK = 4
ATARI_SCREEN = 84


def is_atari(env_id: str) -> bool:
    return env_id.startswith(ATARI_PREFIX)


def _register_atari(env_id: str) -> None:
    """Register ale-py's games (once); a clear error when ale-py is not installed."""
    try:
        import ale_py
    except ImportError:
        raise UnknownEnvError(
            f"env {env_id!r} is an Atari game, which needs ale-py (it ships the ROMs): "
            "pip install 'rltrack[atari]'"
        ) from None
    # Only errors from the emulator, not its banner on every env made.
    ale_py.ALEInterface.setLoggerMode(ale_py.LoggerMode.Error)
    if env_id not in gym.registry:
        gym.register_envs(ale_py)


def import_env_module(env_id: str) -> None:
    """Import the module of a ``module:EnvId`` id (which registers the env). A module that is
    not on the path is looked for in the current folder too, as ``python -m`` and a plain
    script would (the ``rltrack`` command's own folder is the venv's bin/); processes started
    later (spawn) inherit the path."""
    if ":" not in env_id:
        return
    module = env_id.partition(":")[0]
    try:
        importlib.import_module(module)
        return
    except ModuleNotFoundError as exc:
        here = os.getcwd()
        root = module.partition(".")[0]
        if exc.name != root or here in sys.path or "" in sys.path:
            raise UnknownEnvError(_import_hint(env_id, module, exc)) from None
    except ImportError as exc:
        raise UnknownEnvError(_import_hint(env_id, module, exc)) from None
    sys.path.append(here)
    try:
        importlib.import_module(module)
    except ImportError as exc:
        sys.path.remove(here)
        raise UnknownEnvError(_import_hint(env_id, module, exc)) from None


def _import_hint(env_id: str, module: str, exc: ImportError) -> str:
    where = module.replace(".", "/") + ".py"
    return (
        f"env {env_id!r}: cannot import module {module!r} ({exc}); run from the folder that "
        f"holds {where}, or add that folder to PYTHONPATH"
    )


def check_env_id(env_id: str) -> None:
    """Raise :class:`UnknownEnvError` naming close matches when ``env_id`` is not registered,
    and Gymnasium's own advice (``pip install "gymnasium[box2d]"``) when the env needs a
    package that is not installed."""
    register_envs()
    name = env_id
    if is_atari(env_id):
        _register_atari(env_id)
    if ":" in env_id:
        import_env_module(env_id)
        name = env_id.partition(":")[2]
    if name in gym.registry:
        _check_entry_point(env_id, gym.registry[name].entry_point)
        return
    ids = sorted(gym.registry)
    close = difflib.get_close_matches(name, ids, n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    shown = ", ".join(ids[:40]) + (f", … ({len(ids)} in all)" if len(ids) > 40 else "")
    raise UnknownEnvError(f"unknown env {env_id!r}; {hint}registered envs: {shown}")


def _check_entry_point(env_id: str, entry_point: Any) -> None:
    """Import a registered env's code, which is where a missing optional dependency shows."""
    if not isinstance(entry_point, str):
        return
    from gymnasium.envs.registration import load_env_creator

    try:
        load_env_creator(entry_point)
    except gym.error.DependencyNotInstalled as exc:
        raise UnknownEnvError(
            f"env {env_id!r} needs a package that is not installed: {exc}"
        ) from None
    except ImportError as exc:
        raise UnknownEnvError(
            f"env {env_id!r}: its code ({entry_point}) cannot be imported: {exc}"
        ) from None


def make_env(
    env_id: str, env_kwargs: dict[str, Any] | None = None, **extra: Any
) -> gym.Env[Any, Any]:
    register_envs()
    import_env_module(env_id)
    kwargs = {**(env_kwargs or {}), **extra}
    if is_atari(env_id):
        return _make_atari(env_id, kwargs)
    return gym.make(env_id, **kwargs)


def _make_atari(env_id: str, kwargs: dict[str, Any]) -> gym.Env[Any, Any]:
    """The game with the preprocessing of the module docstring; ``kwargs`` go to the game
    (``repeat_action_probability``, ``mode``, ``difficulty``, ``render_mode``...)."""
    from gymnasium.wrappers import AtariPreprocessing, FrameStackObservation

    _register_atari(env_id)
    if "frameskip" in kwargs:
        raise ValueError(
            f"frameskip: Atari envs repeat each action for {ATARI_FRAME_SKIP} frames in their "
            "preprocessing; leave frameskip out of env_kwargs"
        )
    game = gym.make(env_id, frameskip=1, **kwargs)
    env = AtariPreprocessing(
        game, noop_max=30, frame_skip=ATARI_FRAME_SKIP, screen_size=ATARI_SCREEN,
        terminal_on_life_loss=False, grayscale_obs=True,
    )  # fmt: skip
    return FrameStackObservation(env, ATARI_FRAME_STACK)
