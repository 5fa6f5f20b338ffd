"""Where a run's events go besides the database, chosen by name (as SB3's logger picks its
output formats): the RunLogger always, and on request

- ``tensorboard``: TensorBoard event files in a folder (``rltrack train --tensorboard DIR``).

A sink that fails (a full disk, say) is switched off with one warning: the database's records,
which the RunLogger keeps, never depend on it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from rltrack.tracking.logger import RunLogger
from rltrack.training.events import Event, RecordLoss

log = logging.getLogger(__name__)


class ClosingSink(Protocol):
    def emit(self, event: Event) -> None: ...

    def close(self) -> None: ...


def _tensorboard(folder: str) -> ClosingSink:
    from rltrack.tracking.tensorboard import TensorBoardSink

    return TensorBoardSink(folder)


SINKS: dict[str, Callable[[str], ClosingSink]] = {"tensorboard": _tensorboard}


def make_sink(name: str, arg: str) -> ClosingSink:
    try:
        factory = SINKS[name]
    except KeyError:
        raise ValueError(f"unknown sink {name!r}; sinks: {', '.join(SINKS)}") from None
    return factory(arg)


class Sinks:
    """The RunLogger, which keeps the records (a RecordKeeper), and the sinks beside it."""

    def __init__(self, logger: RunLogger, extras: Sequence[ClosingSink]) -> None:
        self.logger = logger
        self.extras = list(extras)

    def emit(self, event: Event) -> None:
        self.logger.emit(event)
        for sink in list(self.extras):
            try:
                sink.emit(event)
            except Exception as exc:  # noqa: BLE001 - never let a side sink stop training
                self.extras.remove(sink)
                log.warning("%s stopped: %s", type(sink).__name__, exc)

    def confirm_run(self, run_id: str) -> None:
        self.logger.confirm_run(run_id)

    def records_lost(self, run_id: str) -> RecordLoss:
        return self.logger.records_lost(run_id)

    def close(self, **_: Any) -> None:
        for sink in self.extras:
            try:
                sink.close()
            except Exception as exc:  # noqa: BLE001
                log.warning("%s did not close: %s", type(sink).__name__, exc)
