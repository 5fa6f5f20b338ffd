"""From a :class:`~rltrack.config.TrainConfig` to an RLlib ``AlgorithmConfig`` (new API stack).

``hyperparams`` are RLlib's own settings, each routed to the method that takes it: the
algorithm's ``training()`` (``lr``, ``gamma``, ``train_batch_size_per_learner``, ``num_epochs``,
``minibatch_size``, DQN's ``epsilon`` and ``replay_buffer_config``, ...), ``env_runners()`` for
:data:`ENV_RUNNER_KEYS`, ``reporting()`` for :data:`REPORTING_KEYS`, ``fault_tolerance()`` for
:data:`FAULT_TOLERANCE_KEYS` and ``rl_module(model_config=...)`` for ``model_config``. A key none of
them takes, text where a number belongs, or a combination RLlib's validation refuses is a
:class:`~rltrack.config.ConfigError` naming it.
"""

from __future__ import annotations

import importlib
import inspect
import math
from typing import Any, NamedTuple

from rltrack.config import ConfigError, TrainConfig
from rltrack.training.backends.rllib.settings import RLlibSettings

# algo -> (module, config class)
CONFIG_CLASSES = {
    "ppo": ("ray.rllib.algorithms.ppo", "PPOConfig"),
    "appo": ("ray.rllib.algorithms.appo", "APPOConfig"),
    "impala": ("ray.rllib.algorithms.impala", "IMPALAConfig"),
    "dqn": ("ray.rllib.algorithms.dqn", "DQNConfig"),
}
ENV_RUNNER_KEYS = (
    "rollout_fragment_length", "batch_mode", "explore", "sample_timeout_s",
    "max_requests_in_flight_per_env_runner", "episode_lookback_horizon",
)  # fmt: skip
REPORTING_KEYS = (
    "min_time_s_per_iteration", "min_sample_timesteps_per_iteration",
    "min_train_timesteps_per_iteration", "metrics_num_episodes_for_smoothing",
)  # fmt: skip
FAULT_TOLERANCE_KEYS = (
    "restart_failed_env_runners", "max_num_env_runner_restarts",
    "delay_between_env_runner_restarts_s",
)  # fmt: skip
# rltrack's defaults for them. An iteration ends where the driver pulls the runners' reports
# and looks at the stop request and the step budget; IMPALA's and APPO's last 10 s at least.
REPORTING_DEFAULTS: dict[str, dict[str, Any]] = {
    "appo": {"min_time_s_per_iteration": 1.0},
    "impala": {"min_time_s_per_iteration": 1.0},
}
# Settings that rltrack sets from its own options; as hyperparams they would contradict them.
OWN_KEYS = {
    "num_env_runners": "--num-env-runners", "num_envs_per_env_runner": "--num-envs-per-env-runner",
    "seed": "--seed", "num_learners": "the rllib backend (one learner, in the driver)",
}  # fmt: skip
# Resolved settings recorded with the run (plus every one given), per algorithm.
COMMON_RESOLVED = (
    "lr", "gamma", "train_batch_size_per_learner", "grad_clip", "rollout_fragment_length",
    "min_time_s_per_iteration",
)  # fmt: skip
RESOLVED = {
    "ppo": COMMON_RESOLVED + (
        "num_epochs", "minibatch_size", "lambda_", "clip_param", "vf_clip_param",
        "entropy_coeff", "vf_loss_coeff", "use_kl_loss", "kl_coeff", "kl_target",
    ),
    "appo": COMMON_RESOLVED + (
        "vtrace", "vf_loss_coeff", "entropy_coeff", "clip_param", "use_kl_loss",
        "target_network_update_freq", "circular_buffer_num_batches",
        "circular_buffer_iterations_per_batch",
    ),
    "impala": COMMON_RESOLVED + ("vtrace", "vf_loss_coeff", "entropy_coeff"),
    "dqn": COMMON_RESOLVED + (
        "epsilon", "target_network_update_freq", "num_steps_sampled_before_learning_starts",
        "replay_buffer_config", "n_step", "double_q", "dueling", "training_intensity",
        "tau", "td_error_loss_fn",
    ),
}  # fmt: skip
# A failed env runner is restarted (RLlib's default), after 1 s rather than RLlib's 60.
FAULT_TOLERANCE_DEFAULTS = {
    "restart_failed_env_runners": True, "delay_between_env_runner_restarts_s": 1.0,
}  # fmt: skip


def config_class(algo: str) -> type:
    try:
        module, name = CONFIG_CLASSES[algo]
    except KeyError:
        raise ConfigError(
            f"algo: {algo!r} is not an RLlib algorithm here; use {', '.join(CONFIG_CLASSES)}"
        ) from None
    cls: type = getattr(importlib.import_module(module), name)
    return cls


def module_name(algo: str) -> str:
    """The class name of the algorithm's default RLModule (what trains; the run's ``policy``)."""
    config = config_class(algo)().framework("torch")
    return str(config.get_default_rl_module_spec().module_class.__name__)


def training_keys(cls: type) -> set[str]:
    """The keyword arguments of ``training()`` along the config class's bases."""
    keys: set[str] = set()
    for klass in cls.__mro__:
        method = klass.__dict__.get("training")
        if method is None:
            continue
        for name, p in inspect.signature(method).parameters.items():
            if p.kind == p.KEYWORD_ONLY:
                keys.add(name)
    return keys


class Split(NamedTuple):
    """``hyperparams`` by the ``AlgorithmConfig`` method that takes them."""

    training: dict[str, Any]
    env_runners: dict[str, Any]
    reporting: dict[str, Any]
    fault_tolerance: dict[str, Any]
    model_config: dict[str, Any] | None


def split_hyperparams(algo: str, cls: type, hyperparams: dict[str, Any]) -> Split:
    """``hyperparams`` split by method (rltrack's defaults filled in); a ConfigError for a key
    no method takes."""
    train_keys = training_keys(cls)
    training: dict[str, Any] = {}
    runners: dict[str, Any] = {}
    reporting: dict[str, Any] = {
        "metrics_num_episodes_for_smoothing": 100,
        **REPORTING_DEFAULTS.get(algo, {}),
    }
    faults: dict[str, Any] = dict(FAULT_TOLERANCE_DEFAULTS)
    model: dict[str, Any] | None = None
    unknown = []
    for key, value in hyperparams.items():
        if key in OWN_KEYS:
            raise ConfigError(f"hyperparams.{key}: set it with {OWN_KEYS[key]}")
        if key == "model_config":
            if not isinstance(value, dict):
                raise ConfigError(
                    f"hyperparams.model_config: a mapping of RLModule settings, e.g. "
                    f"{{fcnet_hiddens: [64, 64]}}, not {value!r}"
                )
            model = value
        elif key in ENV_RUNNER_KEYS:
            runners[key] = value
        elif key in REPORTING_KEYS:
            reporting[key] = value
        elif key in FAULT_TOLERANCE_KEYS:
            faults[key] = value
        elif key in train_keys:
            training[key] = value
        else:
            unknown.append(key)
    if unknown:
        raise ConfigError(
            f"hyperparams: {', '.join(sorted(unknown))}: not a setting of RLlib's "
            f"{cls.__name__}.training() ({algo}); e.g. {', '.join(RESOLVED[algo][:6])}, or "
            f"{', '.join(ENV_RUNNER_KEYS[:2])}, {REPORTING_KEYS[0]}, model_config"
        )
    return Split(training, runners, reporting, faults, model)


def numbers_checked(config: Any, given: dict[str, Any]) -> dict[str, Any]:
    """Text where the default is a number, or a fraction where it is a whole number, is a
    ConfigError naming the keys; a whole float for an int setting becomes an int."""
    out, wrong = dict(given), []
    for key, value in given.items():
        default = getattr(config, key, None)
        if isinstance(default, bool) or not isinstance(default, int | float):
            continue
        if isinstance(value, str):
            wrong.append(key)
        elif isinstance(default, int) and isinstance(value, float):
            if value.is_integer():
                out[key] = int(value)
            elif key not in ("lr", "gamma"):  # RLlib's defaults of 0/1 are ints for floats
                wrong.append(key)
    if wrong:
        given_s = ", ".join(f"{k}={given[k]!r}" for k in wrong)
        raise ConfigError(f"hyperparams: {given_s}: RLlib wants a number there")
    return out


def build_config(
    cfg: TrainConfig,
    env_name: str,
    *,
    env_config: dict[str, Any],
    cpus_per_runner: float,
    gpus_per_learner: int,
    callbacks: type,
) -> Any:
    """The ``AlgorithmConfig`` of the run, validated (a ConfigError when RLlib refuses it)."""
    cls = config_class(cfg.algo)
    opts = RLlibSettings.of(cfg)
    split = split_hyperparams(cfg.algo, cls, dict(cfg.hyperparams))
    config = cls()
    training, runners, reporting, faults = (
        numbers_checked(config, part)
        for part in (split.training, split.env_runners, split.reporting, split.fault_tolerance)
    )
    try:
        config = (
            config.environment(env_name, env_config=env_config)
            .framework("torch")
            .env_runners(
                num_env_runners=opts.num_env_runners,
                num_envs_per_env_runner=opts.num_envs_per_env_runner,
                num_cpus_per_env_runner=cpus_per_runner,
                **runners,
            )
            .learners(num_learners=0, num_gpus_per_learner=gpus_per_learner)
            .callbacks(callbacks)
            .fault_tolerance(**faults)
            .debugging(seed=cfg.seed, log_level="ERROR")
            .reporting(**reporting)
            .training(**training)
        )
        if split.model_config is not None:
            config = config.rl_module(model_config=split.model_config)
        config.validate()
    except TypeError as exc:
        raise ConfigError(f"hyperparams: RLlib's {cls.__name__} refused them: {exc}") from None
    except ValueError as exc:
        raise ConfigError(f"hyperparams: RLlib's {cls.__name__} refused them: {exc}") from None
    return config


def resolved_hyperparams(algo: str, config: Any, given: dict[str, Any]) -> dict[str, Any]:
    """The settings worth showing beside the run (RLlib's values), plus every one given."""
    from rltrack.jsonable import jsonable

    out: dict[str, Any] = {}
    for key in RESOLVED[algo]:
        value = getattr(config, key, None)
        if value is None or callable(value) or type(value).__name__ == "_NotProvided":
            continue
        if isinstance(value, float) and not math.isfinite(value):
            continue
        out[key] = jsonable(value)
    out.update(given)
    return out
