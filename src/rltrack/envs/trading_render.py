"""RGB frames of a trading episode, drawn with numpy and OpenCV (not matplotlib), fast for video.

A frame shows a header line (date, step, position, portfolio value, PnL), the close price of
the last ``bars`` bars with the background shaded by the position held in each bar (green long,
red short, none flat), entry markers (green triangle up for a long, red triangle down for a
short) and exit markers (white circles), and below it the portfolio value over the same bars
with a dashed line at the initial balance. The background is drawn once; each frame copies it,
writes the shading as one broadcast array assignment and draws two polylines and a few markers.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

# Colours are RGB triples: frames are RGB, as Gymnasium's rgb_array asks (not OpenCV's BGR).
BACKGROUND = (18, 20, 26)
PANEL = (28, 31, 40)
GRID = (52, 56, 68)
TEXT = (225, 228, 235)
MUTED = (140, 146, 160)
PRICE = (235, 235, 240)
EQUITY = (90, 170, 255)
LONG_SHADE = (24, 70, 44)
SHORT_SHADE = (84, 30, 34)
LONG_MARK = (60, 220, 110)
SHORT_MARK = (255, 80, 80)
EXIT_MARK = (245, 245, 245)

ENTRY_LONG, ENTRY_SHORT, EXIT = 1, -1, 0


class TradingRenderer:
    """Draws frames of ``width`` x ``height`` pixels showing up to ``bars`` bars."""

    def __init__(self, width: int = 960, height: int = 540, bars: int = 120) -> None:
        if width < 160 or height < 120:
            raise ValueError(f"render size must be at least 160x120, got {width}x{height}")
        if bars < 2:
            raise ValueError(f"bars must be at least 2, got {bars}")
        self.width, self.height, self.bars = width, height, bars
        self.scale = height / 540.0
        self.font_scale = 0.5 * self.scale
        self.thick = max(1, round(self.scale))
        self.left = round(10 * self.scale)
        self.right = width - round(86 * self.scale)
        self.header_h = round(30 * self.scale)
        gap = round(8 * self.scale)
        bottom = height - round(10 * self.scale)
        split = self.header_h + round((bottom - self.header_h) * 0.68)
        self.price_box = (self.header_h + gap // 2, split - gap // 2)
        self.equity_box = (split + gap // 2, bottom)
        self.plot_w = self.right - self.left
        self.bar_w = self.plot_w / bars
        # Which bar (offset in the view) each pixel column of the plot belongs to.
        self.col_bar = np.minimum((np.arange(self.plot_w) / self.bar_w).astype(np.intp), bars - 1)
        self.shades = np.array([SHORT_SHADE, PANEL, LONG_SHADE], dtype=np.uint8)
        self.background = self._background()

    def _background(self) -> np.ndarray:
        img = np.empty((self.height, self.width, 3), dtype=np.uint8)
        img[:] = BACKGROUND
        for top, bottom in (self.price_box, self.equity_box):
            img[top:bottom, self.left : self.right] = PANEL
            for k in range(1, 4):
                y = top + (bottom - top) * k // 4
                img[y, self.left : self.right] = GRID
        return img

    def _y(self, values: np.ndarray, box: tuple[int, int], lo: float, hi: float) -> np.ndarray:
        top, bottom = box
        pad = 6 * self.scale
        span = hi - lo if hi > lo else 1.0
        return bottom - pad - (values - lo) / span * (bottom - top - 2 * pad)

    def _text(self, img: np.ndarray, text: str, x: int, y: int, color: tuple[int, ...]) -> None:
        cv2.putText(
            img, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, self.font_scale, color, self.thick,
            cv2.LINE_AA,
        )  # fmt: skip

    def draw(
        self,
        closes: np.ndarray,
        positions: np.ndarray,
        values: np.ndarray,
        markers: Sequence[tuple[int, float, int]],
        initial_value: float,
        header: str,
    ) -> np.ndarray:
        """One frame. ``closes``, ``positions`` (-1/0/1) and ``values`` hold the bars in view,
        oldest first (at most ``bars``); ``markers`` are (offset in the view, price, kind) with
        kind :data:`ENTRY_LONG`, :data:`ENTRY_SHORT` or :data:`EXIT`."""
        img = self.background.copy()
        m = min(len(closes), self.bars)
        closes, positions, values = closes[-m:], positions[-m:], values[-m:]
        top, bottom = self.price_box
        # The plot's columns that belong to the m bars in view (col_bar never decreases);
        # ceil(m * bar_w) would round up one column too many when m * bar_w lands a hair above
        # a whole number (85 * 2.2 = 187.00000000000003).
        ncols = int(np.searchsorted(self.col_bar, m))
        if ncols > 0:
            shade = self.shades[positions[self.col_bar[:ncols]].astype(np.intp) + 1]
            img[top:bottom, self.left : self.left + ncols] = shade[None, :, :]
        xs = self.left + (np.arange(m) + 0.5) * self.bar_w
        if m:
            p_lo, p_hi = float(closes.min()), float(closes.max())
            for _, price, _ in markers:
                p_lo, p_hi = min(p_lo, price), max(p_hi, price)
            ys = self._y(closes, self.price_box, p_lo, p_hi)
            pts = np.stack([xs, ys], axis=1).astype(np.int32)
            cv2.polylines(img, [pts], False, PRICE, self.thick, cv2.LINE_AA)
            self._markers(img, markers, p_lo, p_hi)
            self._axis(img, self.price_box, p_lo, p_hi, "{:,.2f}")
            v_lo = min(float(values.min()), initial_value)
            v_hi = max(float(values.max()), initial_value)
            base = int(self._y(np.array([initial_value]), self.equity_box, v_lo, v_hi)[0])
            for x in range(self.left, self.right, 12):
                img[base, x : min(x + 6, self.right)] = MUTED
            eys = self._y(values, self.equity_box, v_lo, v_hi)
            pts = np.stack([xs, eys], axis=1).astype(np.int32)
            cv2.polylines(img, [pts], False, EQUITY, self.thick + 1, cv2.LINE_AA)
            self._axis(img, self.equity_box, v_lo, v_hi, "{:,.0f}")
        self._text(img, header, self.left, round(20 * self.scale), TEXT)
        return img

    def _markers(
        self, img: np.ndarray, markers: Sequence[tuple[int, float, int]], lo: float, hi: float
    ) -> None:
        if not markers:
            return
        r = max(3, round(6 * self.scale))
        # Exits first, so that an entry at the same bar (a reversal) is drawn over its circle.
        ordered = sorted(markers, key=lambda mk: mk[2] != EXIT)
        # Every marker's pixel position in one vectorised pass (a busy view holds dozens).
        where = np.array([(offset, price) for offset, price, _ in ordered], dtype=np.float64)
        xs = np.rint(self.left + (where[:, 0] + 0.5) * self.bar_w).astype(np.int32)
        ys = np.rint(self._y(where[:, 1], self.price_box, lo, hi)).astype(np.int32)
        # Each entry's triangle, tip up for a long and down for a short: (x, y - d), (x - r,
        # y + d), (x + r, y + d) with d = +-r.
        d = np.array([r if kind == ENTRY_LONG else -r for _, _, kind in ordered], dtype=np.int32)
        tris = np.empty((len(ordered), 3, 2), dtype=np.int32)
        tris[:, :, 0] = xs[:, None] + np.array([0, -r, r], dtype=np.int32)
        tris[:, 0, 1], tris[:, 1, 1], tris[:, 2, 1] = ys - d, ys + d, ys + d
        points = zip(xs.tolist(), ys.tolist(), ordered, strict=True)
        for i, (x, y, (_, _, kind)) in enumerate(points):
            if kind == EXIT:
                cv2.circle(img, (x, y), r - 1, EXIT_MARK, self.thick, cv2.LINE_AA)
            else:
                color = LONG_MARK if kind == ENTRY_LONG else SHORT_MARK
                cv2.fillConvexPoly(img, tris[i], color, cv2.LINE_AA)

    def _axis(self, img: np.ndarray, box: tuple[int, int], lo: float, hi: float, fmt: str) -> None:
        x = self.right + round(6 * self.scale)
        top, bottom = box
        self._text(img, fmt.format(hi), x, top + round(14 * self.scale), MUTED)
        self._text(img, fmt.format(lo), x, bottom - round(4 * self.scale), MUTED)
