"""Every training backend, in one place.

A backend is one module plus one :func:`register` call below. The module defines:

- ``build(ctx: TrainContext) -> Backend``: the backend for a run, built from its context
  (a :class:`~rltrack.config.ConfigError` for settings it cannot train with);
- ``policy_loader(algorithm: str, *, seed: int, device: str) -> PolicyLoader``: how one of its
  checkpoints becomes a policy that acts deterministically (``rltrack evaluate``, the held-out
  evaluation, and ``rltrack video`` for algorithms the video has no richer view of).

The registration says which algorithms the backend trains, for which of them it is the default,
and which settings only it reads. The config, the runner, the CLI, the evaluator and the video
ask this registry; nothing else knows backend names. This module imports no backend: each is
imported when a run needs it (a backend's dependencies, SB3 or Ray, load only then).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

if TYPE_CHECKING:
    from rltrack.training.context import TrainContext, TrainResult
    from rltrack.training.evaluate import PolicyLoader


class Backend(Protocol):
    """What the runner needs of a built backend."""

    name: str
    policy: str  # what trains: the SB3 policy class ("auto" resolved), or the agent's network
    torch_threads: int  # PyTorch CPU threads training uses ("torch_threads" resolved)

    @property
    def timesteps(self) -> int:
        """Training steps taken so far (a resumed run counts from its parent's)."""
        ...

    @property
    def episodes(self) -> int:
        """Episodes finished so far."""
        ...

    def hyperparams(self) -> dict[str, Any]:
        """The algorithm's settings as resolved (given ones plus defaults), JSON-ready."""
        ...

    def train(self) -> TrainResult: ...

    def close(self) -> None:
        """Release what building took (envs), for a run that never trains."""
        ...


class BackendModule(Protocol):
    def build(self, ctx: TrainContext) -> Backend: ...

    def policy_loader(self, algorithm: str, *, seed: int, device: str = "cpu") -> PolicyLoader: ...


@dataclass(frozen=True)
class BackendSpec:
    name: str
    module: str
    algorithms: tuple[str, ...]
    # Algorithms this backend trains unless --backend says otherwise.
    default_for: tuple[str, ...] = ()
    # Settings only this backend reads: giving one for another backend is a usage error.
    options: tuple[str, ...] = ()
    # How it trains in parallel, for messages: "SB3, which runs environments side by side ...".
    describe: str = ""

    def load(self) -> BackendModule:
        return cast("BackendModule", importlib.import_module(self.module))


_REGISTRY: dict[str, BackendSpec] = {}


def register(spec: BackendSpec) -> None:
    if spec.name in _REGISTRY:
        raise ValueError(f"backend {spec.name!r} is registered twice")
    for algo in spec.default_for:
        if algo not in spec.algorithms:
            raise ValueError(f"backend {spec.name!r}: default for {algo!r}, which it lacks")
        taken = [s.name for s in _REGISTRY.values() if algo in s.default_for]
        if taken:
            raise ValueError(f"{algo!r} has a default backend already: {taken[0]}")
    _REGISTRY[spec.name] = spec


def backends() -> tuple[BackendSpec, ...]:
    return tuple(_REGISTRY.values())


def names() -> tuple[str, ...]:
    return tuple(_REGISTRY)


def algorithms() -> tuple[str, ...]:
    """Every algorithm some backend trains, in registration order."""
    return tuple(dict.fromkeys(a for s in _REGISTRY.values() for a in s.algorithms))


def get(name: str) -> BackendSpec:
    """The backend called ``name``; ``KeyError`` naming the known ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown backend {name!r}; backends: {', '.join(_REGISTRY)}") from None


def default_backend(algorithm: str) -> str:
    for spec in _REGISTRY.values():
        if algorithm in spec.default_for:
            return spec.name
    for spec in _REGISTRY.values():
        if algorithm in spec.algorithms:
            return spec.name
    raise KeyError(f"unknown algorithm {algorithm!r}; algorithms: {', '.join(algorithms())}")


def owner_of(option: str) -> BackendSpec | None:
    """The backend that reads the backend-only setting ``option``."""
    return next((s for s in _REGISTRY.values() if option in s.options), None)


# -- the registrations ----------------------------------------------------------------------
register(
    BackendSpec(
        name="sb3",
        module="rltrack.training.backends.sb3",
        algorithms=("ppo", "dqn", "a2c", "maskable_ppo", "qrdqn"),
        default_for=("ppo", "dqn", "a2c", "maskable_ppo", "qrdqn"),
        describe="SB3, which runs environments side by side with --num-envs N",
    )
)
register(
    BackendSpec(
        name="actor-learner",
        module="rltrack.training.backends.actor_learner.backend",
        algorithms=("iqn",),
        default_for=("iqn",),
        options=("num_actors", "agents"),
        describe="rltrack's actor-learner: --num-actors processes per agent, --agents agents",
    )
)
register(
    BackendSpec(
        name="rllib",
        module="rltrack.training.backends.rllib.backend",
        algorithms=("ppo", "appo", "impala", "dqn"),
        default_for=("appo", "impala"),
        options=("num_env_runners", "num_envs_per_env_runner", "ray_address"),
        describe="Ray RLlib: --num-env-runners N Ray actors, each stepping "
        "--num-envs-per-env-runner M envs",
    )
)
