"""What a backend gets to train with, and what it hands back. No I/O beyond the run folder."""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rltrack.config import TrainConfig
from rltrack.training.events import EventSink


class StopRequest:
    """Set by signal handlers; backends poll it once per step and stop after that step."""

    def __init__(self) -> None:
        self.requested = False
        self.signum: int | None = None
        self.hard = False  # a second Ctrl-C: skip the drain

    def request(self, signum: int = signal.SIGINT) -> None:
        if self.requested:
            self.hard = True
        self.requested = True
        self.signum = self.signum or signum

    @property
    def exit_code(self) -> int:
        return 128 + (self.signum or signal.SIGINT)


@dataclass
class TrainContext:
    config: TrainConfig
    run_id: str
    run_dir: Path
    sink: EventSink
    stop: StopRequest = field(default_factory=StopRequest)
    progress: Callable[[int, int, float | None], None] | None = None
    resume_checkpoint: Path | None = None
    resume_timestep: int = 0

    @property
    def checkpoint_dir(self) -> Path:
        return self.run_dir / "checkpoints"


@dataclass
class TrainResult:
    timesteps: int
    episodes: int
    stopped: bool = False
