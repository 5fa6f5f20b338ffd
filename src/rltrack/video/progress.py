"""The progress bar of `rltrack video` (rich, on the error stream)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class RichProgress:
    """Frames rendered (of the total when ``--total-seconds`` fixes it) and milestones done."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress: Progress | None = None
        self.task: TaskID | None = None
        self.chapters = 0
        self.done = 0

    def start(self, total_frames: int | None, chapters: int) -> None:
        self.chapters = chapters
        columns: list[Any] = [TextColumn("[bold]video")]
        if total_frames is not None:
            columns += [BarColumn(), TextColumn("{task.completed:,.0f}/{task.total:,.0f} frames")]
        else:
            columns += [BarColumn(), TextColumn("{task.fields[frames]:,} frames")]
        columns += [
            TextColumn("milestones {task.fields[done]}/{task.fields[chapters]}"),
            TimeElapsedColumn(),
        ]
        if total_frames is not None:
            columns.append(TimeRemainingColumn())
        self.progress = Progress(*columns, console=self.console, transient=False)
        # Without a frame total the bar follows the milestones done.
        self.task = self.progress.add_task(
            "video",
            total=total_frames if total_frames is not None else chapters,
            frames=0,
            done=0,
            chapters=chapters,
        )
        self.by_frames = total_frames is not None
        self.frames = 0
        self.progress.start()

    def advance(self, frames: int) -> None:
        if self.progress is None or self.task is None:
            return
        self.frames += frames
        if self.by_frames:
            self.progress.update(self.task, advance=frames, frames=self.frames)
        else:
            self.progress.update(self.task, frames=self.frames)

    def chapter_done(self) -> None:
        if self.progress is None or self.task is None:
            return
        self.done += 1
        if self.by_frames:
            self.progress.update(self.task, done=self.done)
        else:
            self.progress.update(self.task, advance=1, done=self.done)

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
