"""Game images placed in their slot: the new-episode marker shows, then leaves nothing behind."""

from __future__ import annotations

import numpy as np
import pytest

from rltrack.video.compose import GameSlot
from rltrack.video.panel import HIGHLIGHT, Canvas, Rect

SLOT = Rect(10, 50, 614, 490)


def slot_on_canvas() -> tuple[Canvas, GameSlot]:
    canvas = Canvas(960, 540)
    slot = GameSlot(canvas, SLOT, marker_px=4)
    slot.draw_static()
    canvas.publish_static()
    return canvas, slot


@pytest.mark.parametrize(
    "shape",
    [(210, 160, 3), (400, 600, 3), (700, 900, 3)],
    ids=["atari-scaled-up", "cartpole-as-is", "large-scaled-down"],
)
def test_marker_frames_the_game_and_is_gone_on_the_next_frame(shape: tuple[int, int, int]) -> None:
    rng = np.random.default_rng(0)
    first = rng.integers(0, 100, size=shape, dtype=np.uint8)
    second = rng.integers(0, 100, size=shape, dtype=np.uint8)  # never the marker's colour

    canvas, slot = slot_on_canvas()
    slot.place(first, marker=True)
    t = slot.target
    border = np.concatenate(
        [
            canvas.frame[t.y, t.x : t.x2],
            canvas.frame[t.y2 - 1, t.x : t.x2],
            canvas.frame[t.y : t.y2, t.x],
            canvas.frame[t.y : t.y2, t.x2 - 1],
        ]
    )
    assert (border == HIGHLIGHT).all()
    slot.place(second, marker=False)

    reference, ref_slot = slot_on_canvas()
    ref_slot.place(second, marker=False)
    assert ref_slot.target == t
    # Not one pixel of the marker left, inside the image or around it.
    assert np.array_equal(canvas.frame, reference.frame)
