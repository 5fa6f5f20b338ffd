"""Checkpoint files of a run: periodic ones (the last N kept), the best one and the final one.

Each save is announced with a :class:`CheckpointSaved` carrying the file's sha256 and size,
each rotation with :class:`CheckpointRemoved`, so the records always match the files on disk.
"""

from __future__ import annotations

import hashlib
import os
from collections import deque
from collections.abc import Callable
from pathlib import Path

from rltrack.training.events import CheckpointKind, CheckpointRemoved, CheckpointSaved, EventSink

SaveFn = Callable[[Path], None]


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class CheckpointManager:
    def __init__(
        self,
        sink: EventSink,
        run_id: str,
        folder: Path,
        *,
        keep_last: int = 3,
        every_steps: int | None = None,
        every_episodes: int | None = None,
        suffix: str = ".zip",
    ) -> None:
        self.sink = sink
        self.run_id = run_id
        self.folder = folder
        self.keep_last = keep_last
        self.every_steps = every_steps
        self.every_episodes = every_episodes
        self.suffix = suffix
        self._periodic: deque[Path] = deque()
        self._next_step = every_steps
        self._next_episode = every_episodes
        self.best_score: float | None = None
        self.saved: list[CheckpointSaved] = []

    def due(self, timestep: int, episodes: int) -> bool:
        """Whether a periodic checkpoint is due; advances the schedule when it is."""
        due = False
        if self._next_step is not None and timestep >= self._next_step:
            assert self.every_steps is not None
            while self._next_step <= timestep:
                self._next_step += self.every_steps
            due = True
        if self._next_episode is not None and episodes >= self._next_episode:
            assert self.every_episodes is not None
            while self._next_episode <= episodes:
                self._next_episode += self.every_episodes
            due = True
        return due

    def save(
        self,
        save_fn: SaveFn,
        kind: CheckpointKind,
        timestep: int,
        episode_index: int | None,
        metrics: dict[str, float] | None = None,
    ) -> CheckpointSaved:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = {"best": "best", "final": "final"}.get(kind, f"step_{timestep:012d}")
        path = self.folder / f"{name}{self.suffix}"
        tmp = path.with_name(path.name + ".tmp")
        save_fn(tmp)
        # SB3 appends ".zip" when the name lacks it; accept either spelling.
        written = tmp if tmp.exists() else tmp.with_name(tmp.name + ".zip")
        os.replace(written, path)
        event = CheckpointSaved(
            run_id=self.run_id, path=str(path.resolve()), timestep=timestep,
            episode_index=episode_index, sha256=sha256_of(path), size=path.stat().st_size,
            kind=kind, metrics=dict(metrics or {}),
        )  # fmt: skip
        self.sink.emit(event)
        self.saved.append(event)
        if kind == "periodic":
            self._periodic.append(path)
            while len(self._periodic) > self.keep_last:
                old = self._periodic.popleft()
                old.unlink(missing_ok=True)
                self.sink.emit(CheckpointRemoved(self.run_id, str(old.resolve())))
        return event

    def save_periodic(
        self,
        save_fn: SaveFn,
        timestep: int,
        episode_index: int | None,
        score: float | None,
        metrics: dict[str, float] | None = None,
    ) -> None:
        """A periodic checkpoint, and a best one too when ``score`` beats every earlier one."""
        self.save(save_fn, "periodic", timestep, episode_index, metrics)
        if score is not None and (self.best_score is None or score > self.best_score):
            self.best_score = score
            self.save(save_fn, "best", timestep, episode_index, metrics)
