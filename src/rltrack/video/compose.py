"""Where things go in a frame: the top bar, and one cell (game and panel) per run.

One run fills the frame: its game on the left, the full panel on the right. Two runs stand side
by side, three or four in a 2x2 grid, each cell with a compact panel (below its game when the
cell is tall, beside it otherwise), under a bar that names the milestone they all play.

A game frame is placed without scaling when it fits and is less than twice the room; smaller
ones are enlarged by a whole factor with nearest-neighbour (pixel art stays sharp), larger ones
shrunk with area averaging; the scaled image is written straight into the frame buffer.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from rltrack.video.panel import BACKGROUND, HIGHLIGHT, Canvas, Rect, Style


@dataclass(frozen=True, slots=True)
class CellLayout:
    game: Rect
    panel: Rect
    compact: bool


@dataclass(frozen=True, slots=True)
class Layout:
    top: Rect
    top_style: Style
    panel_style: Style
    cells: tuple[CellLayout, ...]


def layout_for(runs: int, width: int, height: int) -> Layout:
    scale = height / 540.0
    if runs == 1:
        style = Style.scaled(scale)
        top_h = 2 * style.line + style.pad // 2
        panel_w = max(220, round(width * 0.35))
        body = height - top_h
        cell = CellLayout(
            game=Rect(0, top_h, width - panel_w, body),
            panel=Rect(width - panel_w, top_h, panel_w, body),
            compact=False,
        )
        return Layout(Rect(0, 0, width, top_h), style, style, (cell,))
    cols, rows = (2, 1) if runs == 2 else (2, 2)
    top_style = Style.scaled(scale)
    top_h = top_style.line + top_style.pad // 2
    cw, ch = width // cols, (height - top_h) // rows
    compact = Style.scaled(min(cw / 480.0, ch / 257.0, scale), font=0.4, line=16)
    cells = []
    for k in range(runs):
        x, y = (k % cols) * cw, top_h + (k // cols) * ch
        if ch > 0.75 * cw:  # tall: the panel below the game
            ph = round(ch * 0.45)
            cells.append(CellLayout(Rect(x, y, cw, ch - ph), Rect(x, y + ch - ph, cw, ph), True))
        else:
            pw = round(cw * 0.42)
            cells.append(CellLayout(Rect(x, y, cw - pw, ch), Rect(x + cw - pw, y, pw, ch), True))
    return Layout(Rect(0, 0, width, top_h), top_style, compact, tuple(cells))


class GameSlot:
    """Puts game frames into their rectangle of the canvas (see the module docstring)."""

    def __init__(self, canvas: Canvas, rect: Rect, marker_px: int) -> None:
        self.canvas, self.rect, self.marker_px = canvas, rect, marker_px
        self.shape: tuple[int, ...] | None = None
        self.target = rect
        self.interp: int | None = None

    def draw_static(self) -> None:
        r = self.rect
        self.canvas.static[r.y : r.y2, r.x : r.x2] = BACKGROUND
        self.shape = None

    def _fit(self, h: int, w: int) -> None:
        r = self.rect
        if w <= r.w and h <= r.h:
            k = min(r.w // w, r.h // h)
            tw, th = (w * k, h * k) if k >= 2 else (w, h)
            self.interp = cv2.INTER_NEAREST if k >= 2 else None
        else:
            f = min(r.w / w, r.h / h)
            tw, th = max(1, int(w * f)), max(1, int(h * f))
            self.interp = cv2.INTER_AREA
        self.target = Rect(r.x + (r.w - tw) // 2, r.y + (r.h - th) // 2, tw, th)

    def place(self, image: np.ndarray, marker: bool) -> None:
        if image.shape != self.shape:
            self._fit(image.shape[0], image.shape[1])
            self.shape = image.shape
            self.canvas.restore(self.rect)
        t, frame = self.target, self.canvas.frame
        dst = frame[t.y : t.y2, t.x : t.x2]
        if self.interp is None:
            np.copyto(dst, image)
        else:
            cv2.resize(image, (t.w, t.h), dst=dst, interpolation=self.interp)
        if marker:
            # A frame of marker_px drawn inside the game image, so that the next image placed
            # covers all of it (a cv2.rectangle line this thick would spill outside the image,
            # onto background that nothing redraws, and stay there).
            m = max(1, min(self.marker_px, t.w // 2, t.h // 2))
            frame[t.y : t.y + m, t.x : t.x2] = HIGHLIGHT
            frame[t.y2 - m : t.y2, t.x : t.x2] = HIGHLIGHT
            frame[t.y : t.y2, t.x : t.x + m] = HIGHLIGHT
            frame[t.y : t.y2, t.x2 - m : t.x2] = HIGHLIGHT
