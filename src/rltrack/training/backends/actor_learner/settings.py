"""The actor-learner's own settings (``--num-actors``, ``--agents``), declared for the registry."""

from __future__ import annotations

from pydantic import Field

from rltrack.training.backends.registry import BackendSettings


class ActorLearnerSettings(BackendSettings):
    num_actors: int = Field(
        2,
        ge=0,
        le=64,
        title="actor processes per agent (0: serial, one process).",
        description="Actor processes per agent, each stepping num_envs envs; 0 runs one actor "
        "and the learner serially in the main process (tests, debugging).",
    )
    agents: int = Field(
        1,
        ge=1,
        le=32,
        title="independent agents trained side by side.",
        description="Independent agents trained side by side, each with its own actors, "
        "learner and shared model; total_timesteps is split evenly between them.",
    )
