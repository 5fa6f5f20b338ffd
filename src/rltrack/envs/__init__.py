"""Environment factory and rltrack's own Gymnasium envs (registered on import)."""

from __future__ import annotations

import difflib
import importlib
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


def check_env_id(env_id: str) -> None:
    """Raise :class:`UnknownEnvError` naming close matches when ``env_id`` is not registered."""
    register_envs()
    name = env_id
    if ":" in env_id:
        module, _, name = env_id.partition(":")
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise UnknownEnvError(
                f"env {env_id!r}: cannot import module {module!r}: {exc}"
            ) from None
    if name in gym.registry:
        return
    ids = sorted(gym.registry)
    close = difflib.get_close_matches(name, ids, n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    shown = ", ".join(ids[:40]) + (f", … ({len(ids)} in all)" if len(ids) > 40 else "")
    raise UnknownEnvError(f"unknown env {env_id!r}; {hint}registered envs: {shown}")


def make_env(
    env_id: str, env_kwargs: dict[str, Any] | None = None, **extra: Any
) -> gym.Env[Any, Any]:
    register_envs()
    return gym.make(env_id, **{**(env_kwargs or {}), **extra})
