"""What an env runner tells the driver about its episodes: plain, picklable records.

A runner's tracking callback (:mod:`.callbacks`) appends :class:`Began` and :class:`Finished`
to its buffer as episodes start and end; the driver takes the buffer (through
``EnvRunnerGroup.foreach_env_runner``) as one :class:`RunnerReport`, which also says how far
every episode still in flight has got (:class:`InFlight`), so that the driver can close one
itself (its runner died, or did not finish the drain in time) with what it had so far.

Items are numbered per runner incarnation and stay in the runner's buffer until the driver
acknowledges them with the next pull: a report whose reply is lost (a pull that timed out) is
sent again, and the driver skips what it has already applied, so nothing is lost or doubled.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from rltrack.training.events import EpisodeStatus, StepRecord, TradeRecord


@dataclass(frozen=True, slots=True)
class Began:
    """An episode began in the runner's env ``env_index``; ``runner_steps`` is how many
    training steps the runner had taken then, ``time`` when (the runner's clock)."""

    env_index: int
    runner_steps: int
    time: dt.datetime


@dataclass(frozen=True, slots=True)
class Finished:
    """The episode in env ``env_index`` ended: its totals over every chunk RLlib cut it into."""

    env_index: int
    status: EpisodeStatus
    runner_steps: int
    steps: int
    drain_steps: int
    reward: float
    time: dt.datetime
    win: float | None = None
    epsilon: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    trades: tuple[TradeRecord, ...] = ()
    trace: tuple[StepRecord, ...] | None = None


@dataclass(frozen=True, slots=True)
class InFlight:
    """An episode still running when the report was taken, and its last ``info``'s metrics."""

    env_index: int
    steps: int
    drain_steps: int
    reward: float
    metrics: dict[str, Any] = field(default_factory=dict)
    trades: tuple[TradeRecord, ...] = ()


Item = Began | Finished


@dataclass(frozen=True, slots=True)
class RunnerReport:
    """Everything one runner recorded since its last report.

    ``incarnation`` is new each time RLlib (re)creates the runner: a report with a new one for a
    ``worker_index`` means the runner before it died, and its episodes in flight with it."""

    worker_index: int
    incarnation: str
    pid: int
    node: str  # the Ray node id
    num_envs: int
    first_seq: int  # the sequence number of items[0] among everything this incarnation recorded
    items: tuple[Item, ...]
    in_flight: tuple[InFlight, ...]
    runner_steps: int  # training steps this incarnation has taken in all


def empty_report(worker_index: int) -> RunnerReport:
    """The report of a runner that steps no envs (RLlib's local runner beside remote ones)."""
    import os

    return RunnerReport(worker_index, "", os.getpid(), "", 0, 0, (), (), 0)
