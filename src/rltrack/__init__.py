"""rltrack: train reinforcement-learning agents and keep a complete record of every run.

The library, for training code of your own::

    import rltrack

    with rltrack.init("my-run", config={"lr": 3e-4}) as run:
        ...
        run.log_episode(reward, steps)
        run.log_metrics({"loss": loss}, step)

Integrations: :mod:`rltrack.integrations.gymnasium` (any env or vector env),
:mod:`rltrack.integrations.sb3` (a callback). Importing rltrack registers its envs with
Gymnasium (``gym.make("rltrack/Trading-v0")``, ``rltrack/MaskedBandit-v0``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rltrack.envs import register_envs

if TYPE_CHECKING:
    from rltrack.run import RecordingError, Run, init

__all__ = ["RecordingError", "Run", "init"]

register_envs()


def __getattr__(name: str) -> Any:
    # The library loads on first use: `import rltrack` stays light for processes that only
    # need the envs (actor processes, env workers).
    if name in __all__:
        from rltrack import run

        return getattr(run, name)
    raise AttributeError(f"module 'rltrack' has no attribute {name!r}")
