"""What the actors, the learners and the main process say to each other.

Plain frozen dataclasses: they cross process boundaries by pickle. Actors report to the main
process in :class:`ActorReport` batches whose items keep the order things happened in, so the
main process can give every episode its global index and timesteps in one pass.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rltrack.training.events import EpisodeStatus, StepRecord, TradeRecord

# -- actor -> main --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Steps:
    """``n`` training env steps taken (all env slots of the actor together)."""

    n: int


@dataclass(frozen=True, slots=True)
class EpisodeBegan:
    slot: int  # the env's index inside its actor
    time: dt.datetime


@dataclass(frozen=True, slots=True)
class EpisodeFinished:
    slot: int
    status: EpisodeStatus
    steps: int  # training steps plus drain steps
    drain_steps: int
    reward: float
    time: dt.datetime
    win: float | None = None
    epsilon: float | None = None
    metrics: dict[str, float | int | bool | str | None] = field(default_factory=dict)
    trades: tuple[TradeRecord, ...] = ()
    trace: tuple[StepRecord, ...] = ()


ReportItem = Steps | EpisodeBegan | EpisodeFinished


@dataclass(frozen=True, slots=True)
class LiveEpisode:
    """An episode still running when a report was sent: what it has so far."""

    slot: int
    steps: int
    drain_steps: int
    reward: float


@dataclass(frozen=True, slots=True)
class ActorReport:
    actor_id: int
    items: tuple[ReportItem, ...]
    live: tuple[LiveEpisode, ...]
    weights_version: int


@dataclass(frozen=True, slots=True)
class TrainingDone:
    """The actor took its last training step (quota used, or a stop); it drains next."""

    actor_id: int


@dataclass(frozen=True, slots=True)
class ActorFinished:
    """The actor's last message: every episode it started has been reported finished."""

    actor_id: int


# -- actor -> learner ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TransitionBatch:
    """Stacked n-step transitions, one row each (a few arrays pickle far faster than many
    small ones)."""

    obs: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    next_obs: np.ndarray
    done: np.ndarray
    discount: np.ndarray

    def __len__(self) -> int:
        return int(self.action.shape[0])


# -- learner -> main -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LearnerReady:
    """The learner is built and listening; the actors start once every learner is."""

    agent: int


@dataclass(frozen=True, slots=True)
class LearnerMetrics:
    agent: int
    values: dict[str, float]


@dataclass(frozen=True, slots=True)
class LearnerProbe:
    """Where the learner's first update ran: the device of the model's parameters, of the
    batch it was given, and whether the model was in train mode. Sent once."""

    agent: int
    device: str
    local_device: str
    target_device: str
    batch_device: str
    train_mode: bool
    optimizer_owns_parameters: bool


@dataclass(frozen=True, slots=True)
class CheckpointWritten:
    agent: int
    request: int
    path: str
    training_step: int
    weights_version: int
    error: str | None = None


# -- any child -> main -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChildFailed:
    role: str  # "actor" or "learner"
    ident: int  # actor id or agent index
    error: str
    traceback: str


# -- main -> learner -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SaveCheckpoint:
    request: int
    path: str


@dataclass(frozen=True, slots=True)
class StopLearning:
    """No more updates: training is over (every actor of the agent is done, or a stop)."""


@dataclass(frozen=True, slots=True)
class Exit:
    pass


ControlMessage = SaveCheckpoint | StopLearning | Exit
Message = Any
