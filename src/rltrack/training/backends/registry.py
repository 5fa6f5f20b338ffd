"""Every training backend, in one place.

A backend is one module plus one :func:`register` call below. The module defines:

- ``build(ctx: TrainContext) -> Backend``: the backend for a run, built from its context
  (a :class:`~rltrack.config.ConfigError` for settings it cannot train with);
- ``policy_loader(algorithm: str, *, seed: int, device: str) -> PolicyLoader``: how one of its
  checkpoints becomes a policy that acts deterministically (``rltrack evaluate``, the held-out
  evaluation, and ``rltrack video`` for algorithms the video has no richer view of).

The registration says which algorithms the backend trains, for which of them it is the default,
its presets (``--mode smoke|full``: the settings of each algorithm it trains), and where its own
settings are declared: a :class:`BackendSettings` model in a light module of the backend (no
SB3 or Ray import), named ``"module:Class"``. Those settings become top-level config keys, with
their defaults, validation and ``--flags`` of ``rltrack train`` made from the model; giving one
to a run of another backend is a usage error. The config, the runner, the CLI, the evaluator and
the video ask this registry; nothing else knows backend names. This module imports no backend:
each is imported when a run needs it (a backend's dependencies, SB3 or Ray, load only then).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol, Self, cast

from pydantic import BaseModel, ConfigDict
from pydantic.fields import FieldInfo

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


class BackendSettings(BaseModel):
    """The settings only one backend reads. A subclass declares them as pydantic fields; each
    field's ``title`` (else its description) is its ``--flag``'s help."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def of(cls, config: BaseModel) -> Self:
        """These settings of a run's config (validated there already, defaults filled in)."""
        extra = config.model_extra or {}
        return cls.model_validate({k: extra[k] for k in cls.model_fields if k in extra})


# mode ("smoke", "full") -> algorithm -> settings: what `--mode` sets for one algorithm.
Presets = Mapping[str, Mapping[str, Mapping[str, Any]]]


@dataclass(frozen=True)
class BackendSpec:
    name: str
    module: str
    algorithms: tuple[str, ...]
    # Algorithms this backend trains unless --backend says otherwise.
    default_for: tuple[str, ...] = ()
    # "module:Class" of its BackendSettings, when it reads settings of its own.
    settings: str | None = None
    presets: Presets = field(default_factory=dict)
    # How it trains in parallel, for messages: "SB3, which runs environments side by side ...".
    describe: str = ""

    def load(self) -> BackendModule:
        return cast("BackendModule", importlib.import_module(self.module))

    def settings_model(self) -> type[BackendSettings] | None:
        return _settings_class(self.settings) if self.settings else None

    @property
    def options(self) -> tuple[str, ...]:
        """The names of the settings only this backend reads."""
        model = self.settings_model()
        return tuple(model.model_fields) if model else ()

    def preset(self, mode: str, algorithm: str) -> Mapping[str, Any]:
        return self.presets.get(mode, {}).get(algorithm, {})


@cache
def _settings_class(path: str) -> type[BackendSettings]:
    module, _, name = path.partition(":")
    cls = getattr(importlib.import_module(module), name)
    if not (isinstance(cls, type) and issubclass(cls, BackendSettings)):
        raise TypeError(f"{path} is not a BackendSettings model")
    return cls


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


def settings_fields() -> dict[str, tuple[BackendSpec, FieldInfo]]:
    """Every backend-only setting, by name, with its backend and its pydantic field."""
    out: dict[str, tuple[BackendSpec, FieldInfo]] = {}
    for spec in _REGISTRY.values():
        model = spec.settings_model()
        for name, info in (model.model_fields if model else {}).items():
            if name in out:
                raise ValueError(f"setting {name!r} is declared by {out[name][0].name} already")
            out[name] = (spec, info)
    return out


# -- the registrations ----------------------------------------------------------------------
_SB3_DQN_SMOKE = {
    "hyperparams": {
        "learning_starts": 500, "buffer_size": 10_000, "exploration_fraction": 0.5,
        "train_freq": 4, "target_update_interval": 500,
    }
}  # fmt: skip
_SB3_PPO_SMOKE = {"hyperparams": {"n_steps": 128, "batch_size": 64, "n_epochs": 4}}
register(
    BackendSpec(
        name="sb3",
        module="rltrack.training.backends.sb3",
        algorithms=("ppo", "dqn", "a2c", "maskable_ppo", "qrdqn"),
        default_for=("ppo", "dqn", "a2c", "maskable_ppo", "qrdqn"),
        presets={
            "smoke": {
                "ppo": _SB3_PPO_SMOKE, "maskable_ppo": _SB3_PPO_SMOKE,
                "a2c": {"hyperparams": {"n_steps": 8}},
                "dqn": _SB3_DQN_SMOKE, "qrdqn": _SB3_DQN_SMOKE,
            },
            "full": {
                # rl-zoo's tuned CartPole-v1 settings.
                "dqn": {
                    "hyperparams": {
                        "learning_rate": 2.3e-3, "batch_size": 64, "buffer_size": 100_000,
                        "learning_starts": 1000, "gamma": 0.99, "target_update_interval": 10,
                        "train_freq": 256, "gradient_steps": 128, "exploration_fraction": 0.16,
                        "exploration_final_eps": 0.04, "policy_kwargs": {"net_arch": [256, 256]},
                    }
                },
            },
        },
        describe="SB3, which runs environments side by side with --num-envs N",
    )
)  # fmt: skip
register(
    BackendSpec(
        name="actor-learner",
        module="rltrack.training.backends.actor_learner.backend",
        algorithms=("iqn",),
        default_for=("iqn",),
        settings="rltrack.training.backends.actor_learner.settings:ActorLearnerSettings",
        presets={
            # Small and quick (well under a minute with 2 actors on 2 cores), yet long enough to
            # show a few hundred learner updates, dozens of publishes and epsilon going down.
            "smoke": {
                "iqn": {
                    "hyperparams": {
                        "learning_starts": 256, "buffer_size": 10_000, "batch_size": 32,
                        "hidden_sizes": [64, 64], "n_quantiles": 16, "n_target_quantiles": 16,
                        "k_quantiles": 8, "target_update_interval": 100, "publish_interval": 5,
                        "epsilon_decay_steps": 300, "epsilon_decay_freq": 10,
                    }
                }
            }
        },
        describe="rltrack's actor-learner: --num-actors processes per agent, --agents agents",
    )
)  # fmt: skip
register(
    BackendSpec(
        name="rllib",
        module="rltrack.training.backends.rllib.backend",
        algorithms=("ppo", "appo", "impala", "dqn"),
        default_for=("appo", "impala"),
        settings="rltrack.training.backends.rllib.settings:RLlibSettings",
        presets={
            # A tiny train batch, so that a smoke run takes ~16 quick iterations.
            "smoke": {
                "ppo": {
                    "hyperparams": {
                        "train_batch_size_per_learner": 256, "minibatch_size": 64, "num_epochs": 4,
                    }
                },
                "appo": {"hyperparams": {"train_batch_size_per_learner": 256}},
                "impala": {"hyperparams": {"train_batch_size_per_learner": 256}},
                "dqn": {
                    "hyperparams": {
                        "num_steps_sampled_before_learning_starts": 500,
                        "train_batch_size_per_learner": 32,
                        "replay_buffer_config": {"capacity": 10_000},
                        "epsilon": [[0, 1.0], [2000, 0.05]], "target_network_update_freq": 500,
                    }
                },
            }
        },
        describe="Ray RLlib: --num-env-runners N Ray actors, each stepping "
        "--num-envs-per-env-runner M envs",
    )
)  # fmt: skip
