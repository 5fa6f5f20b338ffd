"""The rllib backend's own settings (``--num-env-runners``, ``--num-envs-per-env-runner``,
``--ray-address``), declared for the registry; no Ray import here."""

from __future__ import annotations

from pydantic import Field

from rltrack.training.backends.registry import BackendSettings


class RLlibSettings(BackendSettings):
    num_env_runners: int = Field(
        2,
        ge=0,
        le=256,
        title="Ray env runners stepping envs (0: in the driver process).",
        description="Ray actors that step the envs (RLlib's EnvRunners); 0 steps them in the "
        "driver process.",
    )
    num_envs_per_env_runner: int = Field(
        1,
        ge=1,
        le=256,
        title="envs each env runner steps side by side.",
        description="Envs each env runner steps side by side.",
    )
    ray_address: str | None = Field(
        None,
        min_length=1,
        title="Ray cluster to join (auto or HOST:PORT; default: a local Ray).",
        description="The Ray cluster to join (auto, or HOST:PORT of a head node); default: a "
        "local Ray started for the run and stopped after it.",
    )
