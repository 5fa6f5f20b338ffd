"""Ray for a run: join the cluster given with ``--ray-address``, or start a local one sized to
this machine and stop it afterwards; and make rltrack's envs on the env runners.

A process that has initialized Ray already (a user's script, the tests' shared cluster) keeps
its connection: the run uses it and leaves it up. A local Ray is started with
``address="local"``, so that neither ``RAY_ADDRESS`` nor a ``ray start`` cluster left running on
the machine captures a run that did not ask for it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import warnings
from dataclasses import dataclass
from typing import Any

import gymnasium as gym

from rltrack.config import ConfigError, TrainConfig
from rltrack.envs import make_env
from rltrack.training.backends.rllib.settings import RLlibSettings

QUIET = logging.ERROR
CONNECT_TIMEOUT_S = 5.0  # a --ray-address that accepts no connection in this long is refused


@dataclass
class RayConnection:
    owned: bool  # this run started Ray (or joined a cluster) and shuts its connection down
    address: str
    cpus: float  # the cluster's CPUs, as Ray counts them

    def close(self) -> None:
        import ray

        if self.owned and ray.is_initialized():
            ray.shutdown()


def quiet_ray() -> None:
    """Only RLlib's and Ray's errors on the console, none of their start-up chatter."""
    for name in ("ray", "ray.rllib", "ray.tune", "ray.data", "ray.train"):
        logging.getLogger(name).setLevel(QUIET)
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"ray(\.|$)")
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")


def connect(cfg: TrainConfig) -> RayConnection:
    """Ray for the run; a :class:`ConfigError` when ``--ray-address`` names no cluster."""
    import ray

    quiet_ray()
    address = RLlibSettings.of(cfg).ray_address
    if address is not None:
        _check_reachable(address)
    if ray.is_initialized():
        return RayConnection(False, _address(), _cpus())
    kwargs: dict[str, Any] = {"log_to_driver": False, "logging_level": QUIET}
    if address is not None:
        try:
            ray.init(address=address, **kwargs)
        except (ConnectionError, ValueError, RuntimeError, TimeoutError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(
                f"--ray-address {address}: no Ray cluster to join there ({first}); "
                "start one with `ray start --head`, or leave --ray-address out for a local Ray"
            ) from None
    else:
        ray.init(address="local", num_cpus=os.cpu_count() or 1, include_dashboard=False, **kwargs)
    return RayConnection(True, _address(), _cpus())


def _check_reachable(address: str) -> None:
    """A HOST:PORT that nothing answers on is a ConfigError at once: ``ray.init`` would retry
    it for many minutes."""
    host, sep, port = address.rpartition(":")
    if address == "auto" or address.startswith(("ray://", "local")):
        return
    if not sep or not host or not port.isdigit():
        raise ConfigError(
            f"--ray-address {address!r}: write auto, or HOST:PORT of the cluster's head node "
            "(its GCS port, 6379 unless `ray start --head --port` said otherwise)"
        )
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise ConfigError(
            f"--ray-address {address}: no Ray cluster answers there ({exc.strerror or exc}); "
            "start one with `ray start --head`, or leave --ray-address out for a local Ray"
        ) from None


def _address() -> str:
    import ray

    return str(ray.get_runtime_context().gcs_address)


def _cpus() -> float:
    import ray

    return float(ray.cluster_resources().get("CPU", 0.0))  # type: ignore[no-untyped-call]


def cpus_per_runner(cluster_cpus: float, num_env_runners: int) -> float:
    """A whole CPU per env runner where the cluster has them, else an even share, so that every
    runner is placed at once (on 2 CPUs, 4 runners get half a CPU each)."""
    if num_env_runners == 0:
        return 1.0
    if cluster_cpus <= 0:
        raise ConfigError(
            f"--num-env-runners {num_env_runners}: the Ray cluster has no CPU to place env "
            "runners on; add a node with CPUs, or use --num-env-runners 0"
        )
    return min(1.0, round(cluster_cpus / num_env_runners, 4))


class EnvCreator:
    """Makes the run's env on an env runner as :func:`rltrack.envs.make_env` does everywhere
    else (rltrack's envs, ``module:EnvId``, Atari's preprocessing). Picklable."""

    def __init__(self, env_id: str, env_kwargs: dict[str, Any]) -> None:
        self.env_id = env_id
        self.env_kwargs = dict(env_kwargs)

    def __call__(self, env_context: Any = None) -> gym.Env[Any, Any]:
        return make_env(self.env_id, dict(self.env_kwargs))


def register_env(env_id: str, env_kwargs: dict[str, Any]) -> str:
    """Register the run's env with Ray (every node's runners find it by the returned name)."""
    from ray.tune.registry import register_env as ray_register_env

    digest = hashlib.sha1(
        json.dumps([env_id, env_kwargs], sort_keys=True, default=str).encode()
    ).hexdigest()[:12]
    name = f"rltrack-{digest}"
    ray_register_env(name, EnvCreator(env_id, env_kwargs))
    return name
