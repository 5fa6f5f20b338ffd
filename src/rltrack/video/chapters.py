"""The chapters sidecar (``<out>.chapters.json``) and the video's artifact records.

Sidecar of one run::

    {"run_id": ..., "fps": 30, "size": [960, 540], "chapters": [
        {"milestone_pct": 10.0, "checkpoint_path": ..., "checkpoint_timestep": 2048,
         "training_episodes_completed": 57, "best_reward": 74.0, "avg_reward": 21.3,
         "training_hours": 0.01, "start_frame": 0, "end_frame": 93,
         "playback": [{"episode": 1, "score": 31.0, "frames": 32, "ended": true}, ...]},
        ...]}

Frames ``start_frame`` to ``end_frame - 1`` belong to the chapter (``end_frame`` is exclusive;
the next chapter starts there). A side-by-side video adds ``run_ids`` and ``runs`` (one
``{run_id, name, chapters}`` per run, chapters aligned by milestone: the same frames);
``run_id`` and ``chapters`` are then the first run's. Each run of the video gets an artifact
record (kind ``video``, ``video/mp4``) whose metadata holds the same, with its own chapters.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rltrack.video.context import RunContext
from rltrack.video.segment import SegmentResult


@dataclass(frozen=True, slots=True)
class ChapterRecord:
    milestone_pct: float
    checkpoint_path: str
    checkpoint_timestep: int
    checkpoint_kind: str
    training_episodes_completed: int
    best_reward: float | None
    avg_reward: float | None
    training_hours: float
    start_frame: int
    end_frame: int
    playback: tuple[dict[str, Any], ...]


def chapter_records(
    runs: Sequence[RunContext], segments: Sequence[SegmentResult]
) -> list[list[ChapterRecord]]:
    """Per run, its chapters with frame ranges from the segments (in milestone order)."""
    out: list[list[ChapterRecord]] = [[] for _ in runs]
    start = 0
    for seg in sorted(segments, key=lambda s: s.index):
        end = start + seg.frames
        for r, run in enumerate(runs):
            c = run.chapters[seg.index]
            out[r].append(
                ChapterRecord(
                    milestone_pct=c.milestone_pct,
                    checkpoint_path=c.checkpoint_path,
                    checkpoint_timestep=c.checkpoint_timestep,
                    checkpoint_kind=c.checkpoint_kind,
                    training_episodes_completed=c.training_episodes_completed,
                    best_reward=c.best_reward,
                    avg_reward=c.avg_reward,
                    training_hours=round(c.training_hours, 6),
                    start_frame=start,
                    end_frame=end,
                    playback=tuple(asdict(p) for p in seg.playback[r]),
                )
            )
        start = end
    return out


def sidecar(
    runs: Sequence[RunContext],
    chapters: Sequence[Sequence[ChapterRecord]],
    fps: int,
    size: tuple[int, int],
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "run_id": runs[0].run_id,
        "fps": fps,
        "size": list(size),
        "chapters": [asdict(c) for c in chapters[0]],
    }
    if len(runs) > 1:
        data["run_ids"] = [r.run_id for r in runs]
        data["runs"] = [
            {"run_id": r.run_id, "name": r.name, "chapters": [asdict(c) for c in ch]}
            for r, ch in zip(runs, chapters, strict=True)
        ]
    return data


def sidecar_path(out: Path) -> Path:
    return out.with_name(out.name + ".chapters.json")


def write_sidecar(path: Path, data: dict[str, Any]) -> None:
    part = path.with_name(f".{path.name}.part")
    part.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(part, path)


def artifact_metadata(
    run_index: int,
    runs: Sequence[RunContext],
    chapters: Sequence[Sequence[ChapterRecord]],
    fps: int,
    size: tuple[int, int],
    frames: int,
    chapters_path: Path,
    deterministic: bool,
) -> dict[str, Any]:
    """The artifact record's metadata for ``runs[run_index]``: its chapters and the video's."""
    meta: dict[str, Any] = {
        "fps": fps,
        "size": list(size),
        "frames": frames,
        "seconds": frames / fps,
        "codec": "h264",
        "pix_fmt": "yuv420p",
        "deterministic": deterministic,
        "chapters_path": str(chapters_path),
        "milestone_pcts": [c.milestone_pct for c in chapters[run_index]],
        "chapters": [asdict(c) for c in chapters[run_index]],
    }
    if len(runs) > 1:
        meta["side_by_side"] = [r.run_id for r in runs]
        meta["position"] = run_index
    return meta
