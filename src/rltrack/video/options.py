"""What `rltrack video` is asked to make, validated once: milestones, timing, size, output."""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

MAX_RUNS = 4
MAX_MILESTONES = 100
MIN_SIZE = (480, 270)  # below this the panel text is unreadable
MAX_SIZE = (3840, 2160)
DEFAULT_MILESTONES = 10
# Episodes per milestone when neither --episodes-per-milestone nor --total-seconds is given.
DEFAULT_EPISODES = 1


class VideoError(Exception):
    """A video that cannot be made as asked; the message names the problem and the fix. The
    command exits 2 for these (usage errors)."""


class EncodeError(Exception):
    """The encoder failed on the way (ffmpeg died, the disk filled up); the command exits 1."""


@dataclass(frozen=True, slots=True)
class VideoOptions:
    """``milestone_pcts`` ascending, in (0, 100], or None for the default: one milestone per
    checkpoint, at most :data:`DEFAULT_MILESTONES` (one run: where its checkpoints were saved,
    :func:`~rltrack.video.context.checkpoint_pcts`; side by side: evenly, :func:`default_pcts`).
    ``episodes`` None means as many as fit in each milestone's share of ``total_seconds``
    (which is then set). ``jobs`` is the most processes that render milestones at once."""

    milestone_pcts: tuple[float, ...] | None
    episodes: int | None
    total_seconds: float | None
    fps: int
    width: int
    height: int
    deterministic: bool = False
    agent: str | None = None
    jobs: int = 1

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    def chapter_frames(self, k: int) -> list[int] | None:
        """Frames of each of ``k`` chapters when ``total_seconds`` splits the time: the total
        ``round(total_seconds * fps)`` in equal shares, the first chapters one frame longer
        when it does not divide evenly; None without ``total_seconds``."""
        if self.total_seconds is None:
            return None
        total = round(self.total_seconds * self.fps)
        if total < k:
            raise VideoError(
                f"--total-seconds {self.total_seconds:g} at {self.fps} fps is {total} frames, "
                f"fewer than the {k} milestones; give more seconds or fewer milestones"
            )
        return [total // k + (1 if i < total % k else 0) for i in range(k)]


def parse_size(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d{2,5})\s*[xX]\s*(\d{2,5})\s*", text)
    if m is None:
        raise VideoError(f"--size {text!r}: write it as WIDTHxHEIGHT, e.g. 960x540")
    w, h = int(m.group(1)), int(m.group(2))
    if w % 2 or h % 2:
        raise VideoError(
            f"--size {text!r}: H.264 in yuv420p needs an even width and height, e.g. 960x540"
        )
    if not (MIN_SIZE[0] <= w <= MAX_SIZE[0] and MIN_SIZE[1] <= h <= MAX_SIZE[1]):
        raise VideoError(
            f"--size {text!r}: choose between {MIN_SIZE[0]}x{MIN_SIZE[1]} and "
            f"{MAX_SIZE[0]}x{MAX_SIZE[1]}"
        )
    return w, h


def parse_pcts(text: str) -> tuple[float, ...]:
    """``"10,20,50"`` → (10.0, 20.0, 50.0): sorted, distinct, each in (0, 100]."""
    values = []
    for part in text.split(","):
        part = part.strip().rstrip("%")
        try:
            x = float(part)
        except ValueError:
            raise VideoError(
                f"--milestone-pcts {text!r}: {part!r} is not a number; write percentages of "
                "training separated by commas, e.g. 10,25,50,100"
            ) from None
        if not (math.isfinite(x) and 0 < x <= 100):
            raise VideoError(
                f"--milestone-pcts {text!r}: {part} is not in (0, 100]; each milestone is a "
                "percentage of training"
            )
        values.append(x)
    pcts = tuple(sorted(set(values)))
    if len(pcts) > MAX_MILESTONES:
        raise VideoError(f"--milestone-pcts: at most {MAX_MILESTONES} milestones")
    return pcts


def default_pcts(checkpoints: int) -> tuple[float, ...]:
    """Without --milestones or --milestone-pcts: as many milestones as the run has distinct
    checkpoints, at most :data:`DEFAULT_MILESTONES`."""
    return even_pcts(max(1, min(DEFAULT_MILESTONES, checkpoints)))


def even_pcts(k: int) -> tuple[float, ...]:
    """``k`` milestones evenly through training, the last at 100%: 100/k, 200/k, ..., 100."""
    if not 1 <= k <= MAX_MILESTONES:
        raise VideoError(f"--milestones {k}: choose 1 to {MAX_MILESTONES}")
    return tuple(round(100.0 * (i + 1) / k, 6) for i in range(k))


def build_options(
    *,
    milestones: int | None = None,
    milestone_pcts: str | None = None,
    episodes: int | None = None,
    total_seconds: float | None = None,
    fps: int = 30,
    size: str = "960x540",
    deterministic: bool = False,
    agent: str | None = None,
    jobs: int = 0,
    cpu_count: int | None = None,
) -> VideoOptions:
    """The command's options, checked, with ``rltrack video``'s defaults; ``jobs`` 0 picks one
    process per CPU (``cpu_count``, this machine's when not given; never more than there are
    milestones). On 2 CPUs that is 2 jobs: each job's worker and its one-thread x264 leave
    gaps that the other job fills: ~30-40 % more frames/s than one job whose x264 threads
    (``bench/video.py``, jobs 1 and 2 measured in the same run)."""
    if milestones is not None and milestone_pcts is not None:
        raise VideoError("give --milestones or --milestone-pcts, not both")
    pcts: tuple[float, ...] | None = None
    if milestone_pcts is not None:
        pcts = parse_pcts(milestone_pcts)
    elif milestones is not None:
        pcts = even_pcts(milestones)
    if not 1 <= fps <= 120:
        raise VideoError(f"--fps {fps}: choose 1 to 120 frames per second")
    width, height = parse_size(size)
    if episodes is not None and episodes < 1:
        raise VideoError(f"--episodes-per-milestone {episodes}: play at least one episode")
    if total_seconds is not None:
        if not (math.isfinite(total_seconds) and total_seconds > 0):
            raise VideoError(f"--total-seconds {total_seconds}: give a positive duration")
    elif episodes is None:
        episodes = DEFAULT_EPISODES
    if jobs < 0:
        raise VideoError(f"--jobs {jobs}: give 0 (automatic) or a number of processes")
    if jobs == 0:
        cpus = (os.cpu_count() or 1) if cpu_count is None else cpu_count
        jobs = max(1, cpus)
    return VideoOptions(
        milestone_pcts=pcts,
        episodes=episodes,
        total_seconds=total_seconds,
        fps=fps,
        width=width,
        height=height,
        deterministic=deterministic,
        agent=agent,
        jobs=jobs,
    )


def check_output(path: Path) -> Path:
    """The absolute output path, once its folder exists (created when missing) and a file can
    be written there; :class:`VideoError` naming the problem otherwise."""
    path = path.expanduser()
    if path.is_dir():
        raise VideoError(f"--out {path} is a folder; give a file path ending in .mp4")
    if path.suffix.lower() != ".mp4":
        raise VideoError(f"--out {path}: the video is an H.264 MP4; give a path ending in .mp4")
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise VideoError(
            f"--out {path}: cannot create the folder {folder}: {exc.strerror or exc}; choose "
            "another --out"
        ) from None
    probe = folder / f".{path.name}.write-test"
    try:
        with probe.open("wb") as f:
            f.write(b"\0")
        probe.unlink()
        if path.exists():
            with path.open("ab"):
                pass
    except OSError as exc:
        raise VideoError(
            f"--out {path} cannot be written: {exc.strerror or exc}; choose another --out"
        ) from None
    return path.resolve()
