"""Typed training configuration: YAML file, then presets, then command-line overrides.

A config is validated once, when it is built, and frozen afterwards. Every error names the
field, what was wrong with it and where it came from (file or command line).
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from rltrack.training.backends import registry

# What trains what is the backend registry's: config asks it (a leaf module, no backend loaded).
ALGORITHMS = registry.algorithms()
BACKENDS = registry.names()
_DEFAULTS = "; ".join(f"{s.name} for {', '.join(s.default_for)}" for s in registry.backends())
EPSILON_GREEDY = ("dqn", "qrdqn", "iqn")


class ConfigError(ValueError):
    """A configuration that cannot be used; the message says which field and how to fix it."""


class TrainConfig(BaseModel):
    """Everything `rltrack train` needs. Saved with the run as its hyperparameters.

    Besides the fields below, a config holds the settings of its backend (``num_actors`` for
    the actor-learner, ``num_env_runners`` for rllib, ...): each backend declares them in the
    registry, and they are validated here, as top-level keys, with their defaults filled in
    (read them with the backend's ``BackendSettings.of(config)``). Another backend's setting,
    or a key nobody declares, is an error."""

    model_config = ConfigDict(extra="allow", frozen=True)

    algo: str = Field(
        "ppo", description=f"Algorithm: {', '.join(ALGORITHMS)} (each trained by a backend)."
    )
    env: str = Field(
        "CartPole-v1",
        description="Gymnasium env id (also `module:EnvId`, which imports module first).",
    )
    env_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Keyword arguments for gymnasium.make."
    )
    backend: str | None = Field(
        None,
        description=f"Training backend: {', '.join(BACKENDS)}; default: the algorithm's own "
        f"({_DEFAULTS}).",
    )
    num_envs: int = Field(1, ge=1, le=256, description="Parallel environments.")
    vec_env: Literal["dummy", "subproc"] = Field(
        "dummy", description="How parallel envs run: in-process (dummy) or one process each."
    )
    total_timesteps: int = Field(100_000, gt=0, description="Environment steps to train for.")
    seed: int | None = Field(0, ge=0, description="Random seed (None: not seeded).")
    run_name: str | None = Field(
        None, min_length=1, max_length=255, description="Default: {env}__{algo}__{seed}__{time}."
    )
    agent_id: str | None = Field(None, min_length=1, max_length=255)
    tags: tuple[str, ...] = Field((), description="Free-form labels for filtering runs.")
    group: str | None = Field(
        None,
        min_length=1,
        max_length=255,
        description="The group (one experiment: seeds, a sweep) the run joins; made if new.",
    )
    policy: str = Field(
        "auto",
        description="SB3 policy class name; auto: CnnPolicy for image observations (Atari), "
        "MlpPolicy otherwise.",
    )
    hyperparams: dict[str, Any] = Field(
        default_factory=dict, description="Keyword arguments for the algorithm's constructor."
    )
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    torch_threads: int | None = Field(
        None,
        ge=1,
        le=256,
        description="PyTorch CPU threads of the process that trains (the learners' for "
        "actor-learner). Default: 1 for MLP policies and IQN's networks, whose small matrix "
        "products gain nothing from more threads while the extra threads spin for CPU that "
        "parallel runs need; PyTorch's own default for CNN policies.",
    )
    checkpoint_every_steps: int | None = Field(None, ge=1)
    checkpoint_every_episodes: int | None = Field(None, ge=1)
    keep_checkpoints: int = Field(
        3, ge=1, description="Periodic checkpoints kept (plus best, final)."
    )
    resume: str | None = Field(None, description="Run id whose last checkpoint to continue from.")
    trace_every: int = Field(
        100,
        ge=0,
        description="Record the per-step trace (action, reward, price, position, portfolio "
        "value) of every K-th episode; 1 records all, 0 none.",
    )
    train_range: str | None = Field(
        None, description="Trading env: date range START:END to train on (sets date_range)."
    )
    eval_range: str | None = Field(
        None,
        description="Trading env: held-out date range START:END; after training the final and "
        "best checkpoints are evaluated on it, beside buy-and-hold and random baselines.",
    )
    eval_episodes: int = Field(1, ge=1, description="Episodes per held-out evaluation.")
    drain_max_steps: int = Field(
        1000,
        ge=0,
        description="When training stops, episodes in flight are stepped to their end "
        "without learning for at most this many steps per env (0: no drain).",
    )
    drain_timeout: float = Field(
        30.0, ge=0, description="Seconds the drain may take at most; then the rest truncate."
    )
    progress: bool = Field(True, description="Show a progress bar on the console.")
    mode: Literal["smoke", "full"] | None = Field(None, description="Preset that was applied.")

    @field_validator("algo")
    @classmethod
    def _known_algo(cls, v: str) -> str:
        if v not in registry.algorithms():
            raise ValueError(f"unknown algorithm; choose one of {', '.join(registry.algorithms())}")
        return v

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, v: str | None) -> str | None:
        if v is not None and v not in registry.names():
            raise ValueError(f"unknown backend; choose one of {', '.join(registry.names())}")
        return v

    @model_validator(mode="after")
    def _backend_trains_algo(self) -> TrainConfig:
        spec = registry.get(self.resolved_backend)
        if self.algo not in spec.algorithms:
            default = registry.default_backend(self.algo)
            raise ValueError(
                f"backend: {spec.name} trains --algo {', '.join(spec.algorithms)} only; "
                f"{self.algo} trains with --backend {default}"
            )
        return self

    @model_validator(mode="wrap")
    @classmethod
    def _no_unknown_keys(cls, data: Any, handler: ModelWrapValidatorHandler[TrainConfig]) -> Any:
        """A key that neither the config nor any backend declares, reported with the other
        problems (a config allows extra keys: its backend's settings)."""
        unknown = []
        if isinstance(data, Mapping):
            unknown = [
                unknown_setting(str(k))
                for k in data
                if k not in cls.model_fields and registry.owner_of(str(k)) is None
            ]
        try:
            config = handler(data)
        except ValidationError as exc:
            if not unknown:
                raise
            raise ValueError("; ".join([*map(_problem, exc.errors()), *unknown])) from None
        if unknown:
            raise ValueError("; ".join(unknown))
        return config

    @model_validator(mode="after")
    def _backend_settings(self, info: ValidationInfo) -> TrainConfig:
        given = dict(self.model_extra or {})
        spec = registry.get(self.resolved_backend)
        # How the caller wrote each setting: `--num-actors` on the command line.
        written = (info.context or {}).get("written", {})
        for key in given:
            owner = registry.owner_of(key)
            if owner is not None and owner is not spec:
                raise ValueError(
                    f"{written.get(key, key)} is for the {owner.name} backend (--algo "
                    f"{', '.join(owner.algorithms)}); {self.algo} trains with {spec.describe}"
                )
        model = spec.settings_model()
        if model is not None:
            try:
                resolved = model.model_validate(given)
            except ValidationError as exc:
                raise ValueError("; ".join(map(_problem, exc.errors()))) from None
            object.__setattr__(self, "__pydantic_extra__", resolved.model_dump())
        return self

    @field_validator("env")
    @classmethod
    def _env_not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must name a Gymnasium env id, e.g. CartPole-v1")
        return v

    @field_validator("tags")
    @classmethod
    def _tags_clean(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for tag in v:
            if not tag.strip() or len(tag) > 255:
                raise ValueError(f"tag {tag!r} must be 1 to 255 characters")
        return tuple(dict.fromkeys(v))

    @field_validator("train_range", "eval_range")
    @classmethod
    def _range_shape(cls, v: str | None) -> str | None:
        if v is not None and ":" not in v:
            raise ValueError("write a date range as START:END, e.g. 2010-01-01:2015-12-31")
        return v

    @property
    def resolved_backend(self) -> str:
        return self.backend if self.backend is not None else registry.default_backend(self.algo)


# Presets are data: a mode's common settings here, then the algorithm's own, which the backend
# that trains it declares in the registry (SB3's n_steps means nothing to RLlib's PPO).
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "smoke": {"common": {"total_timesteps": 4096, "checkpoint_every_steps": 1024}},
    "full": {"common": {"total_timesteps": 200_000, "checkpoint_every_steps": 20_000}},
}


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def preset(mode: str | None, algo: str, backend: str | None = None) -> dict[str, Any]:
    """The preset's common settings, then those the backend that trains ``algo`` (``backend``,
    else the algorithm's default) declares for it."""
    if mode is None:
        return {}
    if mode not in PRESETS:
        raise ConfigError(f"mode: unknown preset {mode!r}; choose one of {', '.join(PRESETS)}")
    if backend is None and algo in registry.algorithms():
        backend = registry.default_backend(algo)
    own = registry.get(backend).preset(mode, algo) if backend in registry.names() else {}
    return deep_merge(PRESETS[mode]["common"], dict(own))


def read_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    p = Path(path)
    try:
        text = p.read_text()
    except FileNotFoundError:
        raise ConfigError(f"config file {p} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {p}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"config file {p} is not valid YAML{where}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"config file {p} must hold a mapping of settings (key: value), "
            f"not a {type(data).__name__}"
        )
    return data


def parse_set(assignments: list[str]) -> dict[str, Any]:
    """`--set a.b=value` overrides; the value is read as YAML (numbers, lists, booleans)."""
    out: dict[str, Any] = {}
    for item in assignments:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: write it as key=value, e.g. hyperparams.gamma=0.98")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        parts = key.strip().split(".")
        if any(not part.strip() for part in parts):
            raise ConfigError(f"--set {item!r}: the key has an empty part; write a.b=value")
        node = out
        for depth, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                prefix = ".".join(parts[: depth + 1])
                raise ConfigError(f"--set {item!r}: {prefix} was already set to a value")
            node = child
        if isinstance(node.get(parts[-1]), dict):
            raise ConfigError(f"--set {item!r}: {key.strip()} already holds settings below it")
        node[parts[-1]] = value
    return out


def build_config(
    *,
    file: str | os.PathLike[str] | None = None,
    overrides: dict[str, Any] | None = None,
    base: dict[str, Any] | None = None,
    written: Mapping[str, str] | None = None,
) -> TrainConfig:
    """base (a resumed run's config) < preset < file < overrides, validated once. ``written``
    says how the caller wrote a setting (``{"num_actors": "--num-actors"}``), for messages."""
    file_data = read_yaml(file) if file is not None else {}
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    layers = (overrides, file_data, base or {})
    mode = next((d["mode"] for d in layers if "mode" in d), None)
    algo = str(next((d["algo"] for d in layers if "algo" in d), "ppo"))
    backend = next((d["backend"] for d in layers if d.get("backend") is not None), None)
    backend = backend if isinstance(backend, str) else None
    # The settings of another backend in the run a config is taken from (--like, --resume)
    # are that run's, not this one's: a recorded sb3 run of before the registry holds them all.
    resolved = backend or (
        registry.default_backend(algo) if algo in registry.algorithms() else None
    )
    inherited = {
        k: v
        for k, v in (base or {}).items()
        if (owner := registry.owner_of(k)) is None or owner.name == resolved
    }
    from_file = deep_merge(inherited, file_data)
    merged = deep_merge(preset(mode, algo, backend), from_file)
    merged = deep_merge(merged, overrides)
    for section in ("hyperparams", "env_kwargs"):
        if isinstance(merged.get(section), dict):
            merged[section] = read_exponents(merged[section])
    source = f" (in {file} or the command line)" if file else ""
    try:
        return TrainConfig.model_validate(merged, context={"written": dict(written or {})})
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc) + source) from None


# 1e-3, 2.5E+6: numbers to anyone, text to YAML 1.1 (PyYAML wants a dot: 1.0e-3).
_EXPONENT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def read_exponents(value: Any) -> Any:
    """``value`` with every string written like ``1e-3`` read as the float it means, in nested
    dicts and lists too: ``learning_rate: 1e-3`` in a config file, or ``--set
    hyperparams.learning_rate=1e-3``, would otherwise reach the algorithm as the text
    "1e-3"."""
    if isinstance(value, str) and _EXPONENT.fullmatch(value.strip()):
        return float(value)
    if isinstance(value, dict):
        return {k: read_exponents(v) for k, v in value.items()}
    if isinstance(value, list):
        return [read_exponents(v) for v in value]
    return value


def unknown_setting(field: str) -> str:
    known = ", ".join([*TrainConfig.model_fields, *registry.settings_fields()])
    hint = f" (an algorithm argument? write it as hyperparams.{field})" if "." not in field else ""
    return f"{field}: unknown setting{hint}; known settings are {known}"


def _problem(err: Any) -> str:
    field = ".".join(str(p) for p in err["loc"]) or "config"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        return unknown_setting(field)
    if not err["loc"]:  # a rule across settings: its message names them
        return msg
    return f"{field}: {msg} (got {err.get('input')!r})"


def format_validation_error(exc: ValidationError) -> str:
    return "config error: " + "; ".join(map(_problem, exc.errors()))


# -- comparing configs ----------------------------------------------------------------------------
_MISSING = object()


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as dotted keys; lists and scalars (and empty mappings) are values."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, f"{path}."))
        else:
            out[path] = value
    return out


def _same(a: Any, b: Any) -> bool:
    """Equal values: 1 and 1.0 are the same number, True is not 1, a missing key differs
    from every value (null included)."""
    if a is _MISSING or b is _MISSING:
        return a is b
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    return bool(a == b)


def config_differences(configs: Sequence[Mapping[str, Any]]) -> list[tuple[str, list[Any]]]:
    """The dotted keys whose values are not the same in every config, sorted, each with its
    value in each config (None where a config lacks the key)."""
    flat = [flatten(c) for c in configs]
    out = []
    for key in sorted(set().union(*flat)):
        values = [f.get(key, _MISSING) for f in flat]
        if any(not _same(values[0], v) for v in values[1:]):
            out.append((key, [None if v is _MISSING else v for v in values]))
    return out
