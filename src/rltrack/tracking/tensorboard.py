"""TensorBoard both ways, with TensorBoard's own reader and PyTorch's writer of its format.

- :func:`import_runs`: each folder of event files under a directory (SB3's ``tensorboard_log``
  writes one per run: ``PPO_1/``, ``PPO_2/``) becomes an rltrack run of its scalars. The run id
  comes from the folder's path, so importing the same folder again writes nothing new.
- :func:`export_run`: a run's metrics, and each episode's reward and length (by episode
  index), as event files that ``tensorboard --logdir`` shows.
- :class:`TensorBoardSink`: the same while training, beside the RunLogger (the sink called
  ``tensorboard``, :mod:`rltrack.tracking.sinks`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rltrack.tracking.store import Store
from rltrack.training.events import (
    EpisodeEnded,
    Event,
    MetricsLogged,
    RunEnded,
    RunStarted,
)

EVENT_FILE = "events.out.tfevents.*"
EPISODE_REWARD, EPISODE_LENGTH = "episode/reward", "episode/length"
_NAMESPACE = uuid.UUID("5b0b2f8e-2f8d-4a8e-9f65-0c6b1b1f7a10")


class TensorBoardError(ValueError):
    """A folder or file TensorBoard cannot read: the message names it."""


@dataclass
class EventRun:
    folder: Path
    scalars: dict[str, list[tuple[int, float, float]]]  # tag -> (step, wall time, value)


def find_event_runs(root: Path) -> list[EventRun]:
    """Every folder under ``root`` (itself included) that holds event files, with its
    scalars as TensorBoard's EventAccumulator reads them (every point, none sampled away)."""
    from tensorboard.backend.event_processing.event_accumulator import (
        SCALARS,
        EventAccumulator,
    )

    if not root.is_dir():
        raise TensorBoardError(f"{root} is not a folder")
    folders = sorted({p.parent for p in root.rglob(EVENT_FILE)})
    runs = []
    for folder in folders:
        acc = EventAccumulator(str(folder), size_guidance={SCALARS: 0})
        try:
            acc.Reload()
        except Exception as exc:  # noqa: BLE001 - a corrupt file: say which
            raise TensorBoardError(f"cannot read the event files in {folder}: {exc}") from None
        scalars = {
            tag: [(e.step, e.wall_time, e.value) for e in acc.Scalars(tag)]
            for tag in acc.Tags().get("scalars", [])
        }
        runs.append(EventRun(folder, scalars))
    return runs


def import_events(run: EventRun, root: Path, name: str) -> list[Event]:
    """The records of one event-file run: started, its metrics by step, ended."""
    run_id = uuid.uuid5(_NAMESPACE, str(run.folder.resolve())).hex
    by_step: dict[int, dict[str, float]] = defaultdict(dict)
    wall: dict[int, float] = {}
    for tag, points in run.scalars.items():
        for step, wall_time, value in points:
            by_step[step][tag] = value
            wall[step] = max(wall.get(step, 0.0), wall_time)
    times = sorted(wall.values())
    start = _time(times[0]) if times else dt.datetime.now(dt.UTC)
    end = _time(times[-1]) if times else start
    algorithm = run.folder.name.rsplit("_", 1)[0].lower() or "imported"
    last = max(by_step, default=0)
    events: list[Event] = [
        RunStarted(
            run_id=run_id,
            name=name,
            algorithm=algorithm,
            env_id="unknown",
            backend="tensorboard",
            config={},
            tags=("tensorboard",),
            total_timesteps=last,
            metadata={"imported_from": str(run.folder.resolve())},
            time=start,
        )  # fmt: skip
    ]
    events += [
        MetricsLogged(run_id, step, values, time=_time(wall[step]))
        for step, values in sorted(by_step.items())
    ]
    events.append(RunEnded(run_id, "completed", last, 0, time=end))
    return events


def import_runs(store: Store, root: Path, name: str | None = None) -> list[tuple[str, str, int]]:
    """Import every event-file run under ``root``; (run id, name, points) for each."""
    runs = find_event_runs(root)
    if not runs:
        raise TensorBoardError(f"no TensorBoard event files ({EVENT_FILE}) under {root}")
    out = []
    for run in runs:
        rel = run.folder.relative_to(root).as_posix()
        label = name or root.resolve().name
        run_name = label if len(runs) == 1 else f"{label}/{rel}"
        events = import_events(run, root, run_name)
        store.write(events)
        points = sum(len(p) for p in run.scalars.values())
        out.append((events[0].run_id, run_name, points))
    return out


def _time(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


# -- writing --------------------------------------------------------------------------------
class TensorBoardSink:
    """Writes what a run records as TensorBoard scalars into ``folder``: every metric at its
    timestep, each episode's reward and length at its index. ``emit`` only queues (the writer
    has a thread of its own)."""

    def __init__(self, folder: str | Path) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.folder = Path(folder)
        self.writer = SummaryWriter(log_dir=str(self.folder))

    def emit(self, event: Event) -> None:
        if isinstance(event, MetricsLogged):
            wall = event.time.timestamp()
            for key, value in event.values.items():
                self.writer.add_scalar(key, value, event.timestep, walltime=wall)
        elif isinstance(event, EpisodeEnded):
            wall = event.time.timestamp()
            self.writer.add_scalar(EPISODE_REWARD, event.total_reward, event.index, walltime=wall)
            self.writer.add_scalar(EPISODE_LENGTH, event.steps, event.index, walltime=wall)
        elif isinstance(event, RunEnded):
            self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def export_run(store: Store, run_id: str, folder: Path) -> int:
    """Write run ``run_id``'s metrics and episodes as event files in ``folder``; returns the
    points written."""
    sink = TensorBoardSink(folder)
    n = 0
    try:
        for event in _run_events(store, run_id):
            sink.emit(event)
            n += len(event.values) if isinstance(event, MetricsLogged) else 2
    finally:
        sink.close()
    return n


def _run_events(store: Store, run_id: str) -> Iterator[MetricsLogged | EpisodeEnded]:
    for m in store.list_metrics(run_id):
        yield MetricsLogged(run_id, m.timestep, {m.key: m.value}, time=m.wall_time)
    after: int | None = None
    while True:
        page = store.episodes_after(run_id, after, 5000)
        if not page:
            return
        for e in page:
            if e.total_reward is None or e.steps is None:
                continue
            yield EpisodeEnded(
                run_id=run_id, index=e.index, env_slot=e.env_slot, status=e.status,  # type: ignore[arg-type]
                start_timestep=e.start_timestep, end_timestep=e.end_timestep or 0,
                steps=e.steps, total_reward=e.total_reward, start_time=e.start_time,
                time=e.end_time or e.start_time,
            )  # fmt: skip
        after = page[-1].index


def read_scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar under ``folder`` as TensorBoard reads it back: tag -> [(step, value)]."""
    out: dict[str, list[tuple[int, float]]] = {}
    for run in find_event_runs(folder):
        for tag, points in run.scalars.items():
            out.setdefault(tag, []).extend((s, v) for s, _, v in points)
    return out
