"""The sweep file: a train config (the keys of `rltrack train --config`) and a ``sweep:`` section
with the study's settings and its search space. Read once and checked whole: every problem is
a :class:`SpecError` whose one line names the key and the fix.

```yaml
algo: ppo
env: CartPole-v1
mode: smoke
hyperparams: {n_epochs: 4}
sweep:
  name: cartpole-ppo
  sampler: tpe                 # tpe | random | grid
  pruner: median               # median | hyperband | none, or {type: median, n_startup_trials: 2}
  objective: last100           # last100 | evaluation
  direction: maximize          # maximize | minimize
  seed: 0
  params:
    hyperparams.learning_rate: {type: float, low: 1e-4, high: 1e-2, log: true}
    hyperparams.n_steps: {type: categorical, choices: [64, 128]}
```
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from math import prod
from pathlib import Path
from typing import Any

import yaml

from rltrack.config import (
    ConfigError,
    TrainConfig,
    build_config,
    deep_merge,
    read_exponents,
    read_yaml,
)

SAMPLERS = ("tpe", "random", "grid")
PRUNERS = ("median", "hyperband", "none")
OBJECTIVES = ("last100", "evaluation")
DIRECTIONS = ("maximize", "minimize")
PARAM_TYPES = ("float", "int", "categorical")
SWEEP_KEYS = ("name", "sampler", "pruner", "objective", "direction", "seed", "report_every",
              "params")  # fmt: skip
PRUNER_KEYS = {
    "median": ("type", "n_startup_trials", "n_warmup_steps"),
    "hyperband": ("type", "min_resource", "reduction_factor"),
    "none": ("type",),
}
# Keys a trial sets itself: its run's name and group are the sweep's.
TRIAL_OWNED = ("run_name", "group", "resume")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}")
PATH_PART = re.compile(r"[A-Za-z0-9_\-]+")
# Intermediate values per trial when `report_every` is not given.
DEFAULT_REPORTS = 8

Scalar = None | bool | int | float | str


class SpecError(ValueError):
    """A sweep file that cannot be used; the message names the key and the fix."""


@dataclass(frozen=True)
class ParamSpec:
    """One dimension of the search space: a dotted config path and its distribution."""

    key: str
    type: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Scalar, ...] = ()

    def probes(self) -> list[Scalar]:
        """Values that bound what a trial may get: each must make a valid config."""
        if self.type == "categorical":
            return list(self.choices)
        assert self.low is not None and self.high is not None
        cast = int if self.type == "int" else float
        return [cast(self.low), cast(self.high)]

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.type == "categorical":
            out["choices"] = list(self.choices)
        else:
            out |= {"low": self.low, "high": self.high, "log": self.log}
            if self.step is not None:
                out["step"] = self.step
        return out


@dataclass(frozen=True)
class PrunerSpec:
    type: str = "median"
    n_startup_trials: int = 5
    n_warmup_steps: int = 0
    min_resource: int | None = None
    reduction_factor: int = 3

    def describe(self) -> str:
        if self.type == "median":
            return (f"median (after {self.n_startup_trials} trials, from step "
                    f"{self.n_warmup_steps})")  # fmt: skip
        return self.type


@dataclass(frozen=True)
class SweepSpec:
    name: str
    base: dict[str, Any]  # the train config, without the sweep section
    params: tuple[ParamSpec, ...]
    sampler: str = "tpe"
    pruner: PrunerSpec = field(default_factory=PrunerSpec)
    objective: str = "last100"
    direction: str = "maximize"
    seed: int | None = None
    report_every: int = 1
    total_timesteps: int = 1

    @property
    def grid(self) -> dict[str, list[Scalar]]:
        """The grid sampler's search space (every parameter is categorical)."""
        return {p.key: list(p.choices) for p in self.params}

    @property
    def grid_size(self) -> int:
        return prod(len(p.choices) for p in self.params)

    def trial_config(self, values: Mapping[str, Any], run_name: str) -> dict[str, Any]:
        """The train config of one trial: the base with the trial's values at their paths,
        the run named and in the sweep's group, tagged ``sweep:<name>``."""
        config = dict(self.base)
        for key, value in values.items():
            config = with_path(config, key, value)
        tags = [str(t) for t in config.get("tags") or []]
        config["tags"] = list(dict.fromkeys([*tags, f"sweep:{self.name}"]))
        config["group"] = self.name
        config["run_name"] = run_name
        config["progress"] = False
        return config

    def fingerprint(self) -> str:
        """What a trial measures: two sweeps of one name must agree on it to share a study."""
        return json.dumps(
            {"base": self.base, "params": {p.key: p.as_dict() for p in self.params},
             "objective": self.objective, "direction": self.direction},
            sort_keys=True, default=str,
        )  # fmt: skip

    def describe(self) -> dict[str, Any]:
        """The group's metadata and the study's record of its settings."""
        return {
            "study_name": self.name, "objective": self.objective, "direction": self.direction,
            "sampler": self.sampler, "pruner": self.pruner.type, "seed": self.seed,
            "report_every": self.report_every,
            "params": {p.key: p.as_dict() for p in self.params},
        }  # fmt: skip


def with_path(config: Mapping[str, Any], key: str, value: Any) -> dict[str, Any]:
    """``config`` with ``value`` at the dotted ``key`` (nested mappings made as needed)."""
    nested: Any = value
    for part in reversed(key.split(".")):
        nested = {part: nested}
    return deep_merge(dict(config), nested)


def load_spec(path: str | os.PathLike[str]) -> SweepSpec:
    """The sweep in the file at ``path``, checked whole (:class:`SpecError` otherwise)."""
    try:
        data = read_yaml(path)
    except ConfigError as exc:
        raise SpecError(str(exc)) from None
    return parse_spec(data, default_name=Path(path).stem)


def parse_spec(data: Mapping[str, Any], *, default_name: str = "sweep") -> SweepSpec:
    raw = data.get("sweep")
    if raw is None:
        raise SpecError(
            "sweep: the file has no sweep section; add `sweep:` with `params:` (the search "
            "space), e.g. hyperparams.learning_rate: {type: float, low: 1e-4, high: 1e-2}"
        )
    if not isinstance(raw, Mapping):
        raise SpecError(f"sweep: must be a mapping of settings ({', '.join(SWEEP_KEYS)})")
    for key in raw:
        if key not in SWEEP_KEYS:
            raise SpecError(f"sweep.{key}: unknown setting; the sweep section takes "
                            f"{', '.join(SWEEP_KEYS)}")  # fmt: skip
    base = {k: v for k, v in data.items() if k != "sweep"}
    for key in TRIAL_OWNED:
        if key in base:
            raise SpecError(
                f"{key}: each trial sets its own (runs are named <sweep name>-trial-<n> and join "
                f"the group named by sweep.name); remove {key} from the sweep file"
            )
    name = raw.get("name", default_name)
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise SpecError(
            f"sweep.name: {name!r} is not a usable name; give 1 to 100 letters, digits, "
            "'_', '.' or '-', starting with a letter or digit"
        )
    sampler = _choice(raw, "sampler", SAMPLERS, "tpe")
    objective = _choice(raw, "objective", OBJECTIVES, "last100")
    direction = _choice(raw, "direction", DIRECTIONS, "maximize")
    seed = raw.get("seed")
    if seed is not None and (not _is_int(seed) or seed < 0):
        raise SpecError(f"sweep.seed: {seed!r} is not a seed; give a whole number >= 0")
    params = _params(raw.get("params"))
    if sampler == "grid":
        for p in params:
            if p.type != "categorical":
                raise SpecError(
                    f"sweep.params.{p.key}: the grid sampler needs categorical choices; write "
                    f"{{type: categorical, choices: [...]}}, or use sampler: tpe or random"
                )
    config = check_config(base, "the train settings")
    for p in params:
        for value in p.probes():
            check_config(with_path(base, p.key, value), f"sweep.params.{p.key} = {value!r}")
    if objective == "evaluation" and not config.eval_range:
        raise SpecError(
            "sweep.objective: evaluation needs runs that are evaluated when they end (set "
            "eval_range, for a trading env); otherwise use objective: last100"
        )
    report_every = raw.get("report_every", max(1, config.total_timesteps // DEFAULT_REPORTS))
    if not _is_int(report_every) or not 0 < report_every <= config.total_timesteps:
        raise SpecError(
            f"sweep.report_every: {report_every!r}; give the timesteps between intermediate "
            f"values, a whole number from 1 to total_timesteps ({config.total_timesteps})"
        )
    return SweepSpec(
        name=name, base=base, params=params, sampler=sampler,
        pruner=_pruner(raw.get("pruner", "median")), objective=objective, direction=direction,
        seed=seed, report_every=report_every, total_timesteps=config.total_timesteps,
    )  # fmt: skip


def check_config(config: Mapping[str, Any], what: str) -> TrainConfig:
    """``config`` as `rltrack train --config` would build it; a refusal names ``what``."""
    with tempfile.TemporaryDirectory(prefix="rltrack-sweep-") as tmp:
        file = Path(tmp) / "trial.yaml"
        file.write_text(yaml.safe_dump(dict(config), sort_keys=False))
        try:
            return build_config(file=file)
        except ConfigError as exc:
            message = str(exc).replace(f" (in {file} or the command line)", "")
            raise SpecError(f"{what}: {message}") from None


def _choice(raw: Mapping[str, Any], key: str, options: tuple[str, ...], default: str) -> str:
    value = raw.get(key, default)
    if value not in options:
        raise SpecError(f"sweep.{key}: {value!r} is not one; choose {' or '.join(options)}")
    return str(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _params(raw: Any) -> tuple[ParamSpec, ...]:
    example = "e.g. hyperparams.learning_rate: {type: float, low: 1e-4, high: 1e-2, log: true}"
    if not isinstance(raw, Mapping) or not raw:
        raise SpecError(f"sweep.params: give the search space, one config path each, {example}")
    out = []
    for key, spec in raw.items():
        key = str(key)
        if not all(PATH_PART.fullmatch(p) for p in key.split(".")):
            raise SpecError(f"sweep.params.{key}: a config path is names joined by dots, "
                            f"{example}")  # fmt: skip
        if key.split(".")[0] in ("sweep", *TRIAL_OWNED, "tags"):
            raise SpecError(f"sweep.params.{key}: the sweep sets this itself; search over "
                            "training settings, e.g. hyperparams.gamma")  # fmt: skip
        out.append(_param(key, spec))
    return tuple(out)


def _param(key: str, spec: Any) -> ParamSpec:
    where = f"sweep.params.{key}"
    if not isinstance(spec, Mapping):
        raise SpecError(
            f"{where}: give a mapping with type ({', '.join(PARAM_TYPES)}), e.g. "
            "{type: float, low: 0.9, high: 0.999} or {type: categorical, choices: [64, 128]}"
        )
    spec = read_exponents(dict(spec))  # 1e-4 is text to YAML
    kind = spec.get("type")
    if kind not in PARAM_TYPES:
        raise SpecError(f"{where}.type: {kind!r}; choose {', '.join(PARAM_TYPES)}")
    allowed = ("type", "choices") if kind == "categorical" else ("type", "low", "high", "log",
                                                                   "step")  # fmt: skip
    for k in spec:
        if k not in allowed:
            raise SpecError(f"{where}.{k}: not a setting of a {kind} parameter; it takes "
                            f"{', '.join(allowed)}")  # fmt: skip
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise SpecError(f"{where}.choices: give a non-empty list, e.g. [64, 128]")
        for c in choices:
            if not (c is None or isinstance(c, bool | int | float | str)):
                raise SpecError(f"{where}.choices: {c!r} is not a number, text, boolean or "
                                "null; a choice must be one of those")  # fmt: skip
        if len({json.dumps(c) for c in choices}) != len(choices):
            raise SpecError(f"{where}.choices: a choice is repeated; list each once")
        return ParamSpec(key=key, type=kind, choices=tuple(choices))
    check = _is_int if kind == "int" else _is_number
    noun = "whole number" if kind == "int" else "number"
    for bound in ("low", "high"):
        if not check(spec.get(bound)):
            raise SpecError(f"{where}.{bound}: {spec.get(bound)!r}; give a {noun}")
    low, high = spec["low"], spec["high"]
    if not low < high:
        raise SpecError(f"{where}: low ({low}) must be below high ({high})")
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise SpecError(f"{where}.log: {log!r}; give true or false")
    if log and low <= 0:
        raise SpecError(f"{where}.low: a log scale needs low > 0 (got {low}); raise it or drop "
                        "log: true")  # fmt: skip
    step = spec.get("step")
    if step is not None:
        if not check(step) or step <= 0:
            raise SpecError(f"{where}.step: {step!r}; give a positive {noun}")
        if log and (kind == "float" or step != 1):
            raise SpecError(f"{where}.step: a log scale takes no step; drop one of them")
    return ParamSpec(key=key, type=kind, low=low, high=high, log=log, step=step)


def _pruner(raw: Any) -> PrunerSpec:
    """``median``, or a mapping with its ``type`` and settings."""
    options = " or ".join(PRUNERS)
    spec: Any = {"type": raw} if isinstance(raw, str) else raw
    if not isinstance(spec, Mapping) or spec.get("type") not in PRUNERS:
        kind = spec.get("type") if isinstance(spec, Mapping) else spec
        raise SpecError(f"sweep.pruner: {kind!r}; choose {options}, or write "
                        "{type: median, n_startup_trials: 5, n_warmup_steps: 0}")  # fmt: skip
    kind = str(spec["type"])
    for key, value in spec.items():
        if key not in PRUNER_KEYS[kind]:
            raise SpecError(f"sweep.pruner.{key}: not a setting of the {kind} pruner; it takes "
                            f"{', '.join(PRUNER_KEYS[kind])}")  # fmt: skip
        least = 2 if key == "reduction_factor" else 1 if key == "min_resource" else 0
        if key != "type" and (not _is_int(value) or value < least):
            raise SpecError(f"sweep.pruner.{key}: {value!r}; give a whole number >= {least}")
    return PrunerSpec(**{str(k): v for k, v in spec.items()})
