"""H.264 MP4 through the ffmpeg binary that imageio-ffmpeg ships: streaming writes, joining the
milestones' segments, and reading a file back.

Frames stream into ``imageio_ffmpeg.write_frames`` a few at a time (:data:`BATCH`); nothing else
is kept. The RGB frame is converted to yuv420p here, with OpenCV (BT.601, limited range, tagged
so in the stream), which halves what goes through the pipe and saves ffmpeg its own, slower,
conversion. x264 runs with the ``ultrafast`` preset at a constant quantiser of 20 (see
:data:`QP`): the frames are flat-coloured drawings, which stay sharp at that quality, and
encoding is the costliest stage of a frame, ahead of the env's rendering.

Each milestone is encoded as its own segment (so that several can be rendered at once); the
segments are joined with the concat demuxer without re-encoding, and ``+faststart`` puts the
index at the front so that browsers start playing before the whole file has arrived.
"""

from __future__ import annotations

import contextlib
import os
import re
import resource
import subprocess
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import imageio_ffmpeg
import numpy as np

from rltrack.video.options import EncodeError

PRESET = "ultrafast"
# Constant quantiser 20 rather than CRF 23: the same quality on the trading chart (PSNR 50.2 vs
# 50.1 dB against the frames we sent; CartPole 54.8 vs 56.8 dB, both far past visible), files
# about as large (trading +5 %, CartPole -13 %), and x264 spends ~15 % less CPU a frame without
# CRF's rate control (measured at 960x540 on recorded frames of both envs: 2.9 vs 3.5 ms a
# frame for the trading chart, 2.3 vs 2.7 ms for CartPole).
QP = 20
COLOR_TAGS = ("-colorspace", "smpte170m", "-color_range", "tv")
# Frames go to ffmpeg this many at a time. Fed one by one at ~250 frames/s, ffmpeg's threads
# wake for every frame and it spends ~3.1 ms of CPU a frame; eight at a time, ~2.7 ms (its
# input thread queues them, so the write does not wait for the encoding). In the whole video
# that is a few percent more frames/s, for a buffer of 8 frames (6 MB at 960x540).
BATCH = 8


def children_cpu_s() -> float:
    """CPU seconds of this process's finished (waited-for) children: the ffmpeg encoders."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


class H264Writer:
    """Writes RGB frames of ``size`` (width, height) to an H.264 MP4 at ``path``.

    ``threads`` is x264's thread count (0: its own choice). Each frame is converted into a
    preallocated yuv420p buffer of :data:`BATCH` frames, which goes to ffmpeg's pipe when it is
    full or the writer closes (the write waits when the encoder is behind). A writer thread was
    tried, to overlap the pipe write with drawing the next frame, first frame by frame, then
    with two batches filled and sent in turn: on 2 cores neither gained anything measurable (the
    first made the policy's time swing with GIL hand-offs), and neither did a 1 MB pipe; more
    cores are used by rendering several milestones at once instead (``--jobs``)."""

    def __init__(
        self,
        path: Path,
        size: tuple[int, int],
        fps: int,
        *,
        faststart: bool = False,
        threads: int = 0,
    ) -> None:
        self.path = path
        w, h = size
        self.batch = np.empty((BATCH, h * 3 // 2, w), dtype=np.uint8)
        self.pending = 0  # frames converted into ``batch`` and not yet sent
        self.frames = 0
        self._gen: Generator[None, Any, None] | None = imageio_ffmpeg.write_frames(
            str(path),
            (w, h),
            fps=fps,
            codec="libx264",
            pix_fmt_in="yuv420p",
            pix_fmt_out="yuv420p",
            quality=None,
            macro_block_size=2,
            ffmpeg_log_level="error",
            output_params=[
                "-preset",
                PRESET,
                "-qp",
                str(QP),
                # 0 lets x264 pick (frame threads: one stream uses the core our process leaves
                # free); segments rendered side by side ask for 1, since x264's threads cost
                # ~15 % more CPU per frame and the cores are busy rendering milestones.
                "-threads",
                str(threads),
                *COLOR_TAGS,
                *(("-movflags", "+faststart") if faststart else ()),
                "-f",
                "mp4",
            ],
        )
        self._gen.send(None)

    def write(self, rgb: np.ndarray) -> None:
        if self._gen is None:
            raise EncodeError(f"the writer of {self.path} is closed")
        cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420, dst=self.batch[self.pending])
        self.pending += 1
        self.frames += 1
        if self.pending == len(self.batch):
            self._flush()

    def _flush(self) -> None:
        assert self._gen is not None
        frames, self.pending = self.batch[: self.pending], 0
        try:
            self._gen.send(frames)
        except OSError as exc:
            self.abort()
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise EncodeError(f"ffmpeg stopped taking frames for {self.path}: {first}") from None

    def close(self) -> None:
        """Finish the file (waits for ffmpeg)."""
        if self._gen is not None:
            if self.pending:
                self._flush()
            gen, self._gen = self._gen, None
            gen.close()

    def abort(self) -> None:
        """Stop without a usable file (ffmpeg is killed)."""
        if self._gen is not None:
            gen, self._gen = self._gen, None
            with contextlib.suppress(KeyboardInterrupt, StopIteration, ValueError):
                gen.throw(KeyboardInterrupt)


def concat(segments: Sequence[Path], out: Path) -> None:
    """Join MP4 segments encoded alike into ``out`` (written to a temporary name first)."""
    listing = out.with_name(f".{out.name}.segments.txt")
    part = out.with_name(f".{out.name}.part")
    lines = "".join("file '" + str(p).replace("'", "'\\''") + "'\n" for p in segments)
    listing.write_text(lines)
    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-nostdin",
        "-v",
        "error",
        "-y",
        "-f",
        "concat",
        "-safe",
        "0",
        "-i",
        str(listing),
        "-c",
        "copy",
        "-movflags",
        "+faststart",
        "-f",
        "mp4",
        str(part),
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise EncodeError(
                f"ffmpeg could not join the segments into {out}: {proc.stderr.strip()[-500:]}"
            )
        os.replace(part, out)
    finally:
        listing.unlink(missing_ok=True)
        part.unlink(missing_ok=True)


@dataclass(frozen=True, slots=True)
class VideoInfo:
    """What ffmpeg reads back from a video file."""

    codec: str
    pix_fmt: str
    width: int
    height: int
    fps: float
    frames: int
    seconds: float


_STREAM = re.compile(
    r"Stream #\d+:\d+.*?: Video: (?P<codec>\w+).*?, (?P<pix>\w+)(?:\([^)]*\))?, "
    r"(?P<w>\d+)x(?P<h>\d+).*?(?P<fps>[\d.]+) fps"
)


def probe(path: Path) -> VideoInfo:
    """Codec, pixel format and size from ``ffmpeg -i`` (the binary imageio-ffmpeg ships), and
    the frame count and duration from ``imageio_ffmpeg.count_frames_and_secs`` (it decodes)."""
    proc = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    m = _STREAM.search(proc.stderr)
    if m is None:
        raise EncodeError(f"ffmpeg finds no video stream in {path}: {proc.stderr.strip()[-300:]}")
    frames, seconds = imageio_ffmpeg.count_frames_and_secs(str(path))
    return VideoInfo(
        codec=m.group("codec"),
        pix_fmt=m.group("pix"),
        width=int(m.group("w")),
        height=int(m.group("h")),
        fps=float(m.group("fps")),
        frames=int(frames),
        seconds=float(seconds),
    )
