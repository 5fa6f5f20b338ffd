"""The H.264 writer on its own: every frame written comes back, in order, whatever the count."""

from __future__ import annotations

from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest

from rltrack.video.encoder import BATCH, H264Writer, probe


@pytest.mark.parametrize("count", [1, BATCH - 1, BATCH, 2 * BATCH + 3])
def test_every_frame_comes_back_in_order(tmp_path: Path, count: int) -> None:
    """Frames go to ffmpeg in batches; a partial batch at the end must not be lost, and the
    frames must keep their order (each is one flat grey, brighter frame by frame)."""
    out = tmp_path / "v.mp4"
    size = (64, 48)
    greys = [round(20 + 200 * i / max(1, count - 1)) for i in range(count)]
    writer = H264Writer(out, size, fps=30)
    for g in greys:
        writer.write(np.full((size[1], size[0], 3), g, dtype=np.uint8))
    writer.close()

    info = probe(out)
    assert (info.codec, info.frames, info.width, info.height) == ("h264", count, *size)
    reader = imageio_ffmpeg.read_frames(str(out))
    meta = next(reader)
    assert tuple(meta["size"]) == size
    decoded = [np.frombuffer(f, dtype=np.uint8).mean() for f in reader]
    assert len(decoded) == count
    # Flat frames survive H.264 within a few levels; the order is exact.
    assert np.allclose(decoded, greys, atol=3)
