"""The overlay: a top bar and, beside each game, a panel of the training context, drawn with
OpenCV into one RGB frame buffer.

Everything that stays the same through a milestone (the top bar, labels, the TRAINING PROGRESS
numbers, the policy's action names) is drawn once per chapter into a static layer. Each frame
then touches only what changes: the game image, and the rectangles of the PLAYBACK numbers and
the POLICY bars, each restored from the static layer and redrawn, and only when its text
changed. A panel is ``full`` (one run: TRAINING PROGRESS, PLAYBACK, POLICY sections) or
``compact`` (a cell of the side-by-side grid: the same numbers in fewer lines).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from rltrack.video.context import ChapterContext, RunContext
from rltrack.video.policy import Readout

# RGB, as the frames are.
BACKGROUND = (14, 16, 21)
PANEL_BG = (24, 27, 35)
TOPBAR_BG = (32, 36, 47)
TEXT = (232, 234, 240)
MUTED = (138, 145, 160)
ACCENT = (92, 172, 255)
HIGHLIGHT = (255, 196, 64)
GOOD = (88, 214, 128)
BAR_BG = (46, 51, 64)
BAR = (92, 172, 255)
FONT = cv2.FONT_HERSHEY_SIMPLEX
LINE = cv2.LINE_AA


@dataclass(frozen=True, slots=True)
class Rect:
    x: int
    y: int
    w: int
    h: int

    @property
    def x2(self) -> int:
        return self.x + self.w

    @property
    def y2(self) -> int:
        return self.y + self.h


class Canvas:
    """The frame buffer and the static layer it is restored from."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.frame = np.zeros((height, width, 3), dtype=np.uint8)
        self.static = np.zeros_like(self.frame)

    def restore(self, r: Rect) -> None:
        self.frame[r.y : r.y2, r.x : r.x2] = self.static[r.y : r.y2, r.x : r.x2]

    def publish_static(self) -> None:
        np.copyto(self.frame, self.static)


@dataclass(frozen=True, slots=True)
class Style:
    font: float
    thick: int
    line: int
    pad: int

    @classmethod
    def scaled(cls, scale: float, *, font: float = 0.48, line: int = 21) -> Style:
        return cls(
            font * scale, max(1, round(scale)), max(10, round(line * scale)), round(10 * scale)
        )

    def text_size(self, text: str) -> tuple[int, int]:
        (w, h), _ = cv2.getTextSize(text, FONT, self.font, self.thick)
        return w, h


def put(img: np.ndarray, text: str, x: int, y: int, style: Style, color: tuple[int, ...]) -> None:
    cv2.putText(img, text, (x, y), FONT, style.font, color, style.thick, LINE)


def fit_text(text: str, width: int, style: Style) -> str:
    """``text`` cut (with "...") to fit ``width`` pixels."""
    if width <= 0:
        return ""
    if style.text_size(text)[0] <= width:
        return text
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if style.text_size(text[:mid] + "...")[0] <= width:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo] + "..." if lo else ""


def fmt_num(x: float | None) -> str:
    """Whole numbers as they are; others with two decimals, or four below 1 (the trading env's
    rewards are fractions of the starting balance)."""
    if x is None:
        return "-"
    if float(x).is_integer() and abs(x) < 1e9:
        return f"{int(x):,}"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.2f}" if abs(x) >= 1 else f"{x:.4f}"


def fmt_hours(h: float, short: bool = False) -> str:
    """Training hours; under 36 s also in seconds, which say more."""
    if h >= 0.01:
        return f"{h:.2f} h"
    return f"{h * 3600:.0f} s" if short else f"{h * 3600:.0f} s ({h:.4f} h)"


class TextField:
    """A dynamic text: restored and redrawn only when its text or colour changes."""

    def __init__(self, canvas: Canvas, rect: Rect, baseline: int, style: Style) -> None:
        self.canvas, self.rect, self.baseline, self.style = canvas, rect, baseline, style
        self.shown: tuple[str, tuple[int, ...]] | None = None

    def reset(self) -> None:
        self.shown = None

    def draw(self, text: str, color: tuple[int, ...] = TEXT) -> None:
        if self.shown == (text, color):
            return
        self.shown = (text, color)
        self.canvas.restore(self.rect)
        put(self.canvas.frame, text, self.rect.x, self.baseline, self.style, color)


class PolicyBars:
    """One row per action: name, a bar and the number; the action taken in the highlight
    colour. Probabilities fill the bar in proportion; Q-values are scaled between the row's
    lowest and highest; an action mean (continuous actions) grows left or right of centre."""

    def __init__(
        self,
        canvas: Canvas,
        rect: Rect,
        style: Style,
        labels: Sequence[str],
        kind: str,
    ) -> None:
        self.canvas, self.rect, self.style, self.kind = canvas, rect, style, kind
        self.labels = list(labels)
        self.rows = max(0, min(len(self.labels), rect.h // style.line))
        self.label_w = min(
            rect.w // 3, max((style.text_size(s)[0] for s in self.labels), default=0) + style.pad
        )
        self.num_w = style.text_size("-0000.00")[0] + style.pad // 2
        self.bar_x = rect.x + self.label_w
        self.bar_w = max(8, rect.w - self.label_w - self.num_w)
        self.bar_h = max(4, style.line * 5 // 9)
        # All actions fit: their names are static. Otherwise the rows show the best ones.
        self.static_labels = self.rows == len(self.labels)
        x0 = self.bar_x if self.static_labels else rect.x
        self.dynamic = Rect(x0, rect.y, rect.x2 - x0, self.rows * style.line)
        self.last: Readout | None = None

    def draw_static(self, img: np.ndarray) -> None:
        if not self.static_labels:
            return
        for i, label in enumerate(self.labels[: self.rows]):
            y = self.rect.y + i * self.style.line + self.style.line - self.style.pad // 2
            put(
                img,
                fit_text(label, self.label_w - self.style.pad // 2, self.style),
                self.rect.x,
                y,
                self.style,
                MUTED,
            )

    def reset(self) -> None:
        self.last = None

    def draw(self, readout: Readout) -> None:
        if self.rows == 0:
            return
        self.last = readout
        img, st = self.canvas.frame, self.style
        self.canvas.restore(self.dynamic)
        values = readout.values
        order = list(range(len(values)))
        if not self.static_labels:
            order.sort(key=lambda i: (i != readout.chosen, -values[i]))
            order = order[: self.rows]
        if self.kind == "mean":
            span = max(1.0, float(np.max(np.abs(values))))
        else:
            lo, hi = float(values.min()), float(values.max())
        for row, i in enumerate(order[: self.rows]):
            top = self.rect.y + row * st.line + (st.line - self.bar_h) // 2 - st.pad // 4
            base = self.rect.y + row * st.line + st.line - st.pad // 2
            v = float(values[i])
            color = HIGHLIGHT if i == readout.chosen else BAR
            cv2.rectangle(
                img, (self.bar_x, top), (self.bar_x + self.bar_w, top + self.bar_h), BAR_BG, -1
            )
            if self.kind == "probs":
                x1 = self.bar_x + round(np.clip(v, 0.0, 1.0) * self.bar_w)
                x0 = self.bar_x
            elif self.kind == "mean":
                mid = self.bar_x + self.bar_w // 2
                x0, x1 = sorted((mid, mid + round(v / span * self.bar_w / 2)))
            else:
                frac = (v - lo) / (hi - lo) if hi > lo else 1.0
                x0, x1 = self.bar_x, self.bar_x + max(2, round(frac * self.bar_w))
            if x1 > x0:
                cv2.rectangle(img, (x0, top), (x1, top + self.bar_h), color, -1)
            if not self.static_labels:
                put(
                    img,
                    fit_text(self.labels[i], self.label_w - st.pad // 2, st),
                    self.rect.x,
                    base,
                    st,
                    MUTED,
                )
            text = f"{v:.2f}" if self.kind == "probs" or abs(v) < 100 else f"{v:.0f}"
            put(
                img,
                text,
                self.bar_x + self.bar_w + st.pad // 2,
                base,
                st,
                HIGHLIGHT if i == readout.chosen else TEXT,
            )


def policy_kind(title: str) -> str:
    if title == "action probabilities":
        return "probs"
    if title == "action mean":
        return "mean"
    return "q"


class CellPanel:
    """The panel of one run's game: ``compact`` for a grid cell."""

    def __init__(
        self,
        canvas: Canvas,
        rect: Rect,
        style: Style,
        run: RunContext,
        labels: Sequence[str],
        policy_title: str,
        *,
        compact: bool,
        has_value: bool,
    ) -> None:
        self.canvas, self.rect, self.style, self.run = canvas, rect, style, run
        self.compact = compact
        self.policy_title = policy_title
        st = style
        self.x = rect.x + st.pad
        self.width = rect.w - 2 * st.pad
        self.label_w = round(self.width * 0.42)
        self.vx = self.x + (0 if compact else self.label_w)
        y = rect.y + st.pad // 2
        self.static_rows: list[tuple[str, int]] = []

        def row() -> int:
            nonlocal y
            y += st.line
            return y - st.pad // 2

        def field(width: int | None = None, x: int | None = None) -> TextField:
            base = row()
            fx = self.vx if x is None else x
            fw = (self.x + self.width - fx) if width is None else width
            r = Rect(fx, base - st.line + st.pad // 2, fw, st.line)
            return TextField(canvas, r, base, st)

        if compact:
            self.static_rows = [(k, row()) for k in ("name", "what", "step", "episodes", "reward")]
            self.playback = field(x=self.x)
            self.marker = field(x=self.x)
            self.score = self.frame = None
        else:
            self.static_rows = [("h_training", row())]
            self.static_rows += [
                (k, row()) for k in ("milestone", "bar", "step", "hours", "episodes", "best", "avg")
            ]
            y += st.line // 2
            self.static_rows.append(("h_playback", row()))
            self.playback = field()
            self.score = field()
            self.frame = field()
            self.marker = field(x=self.x)
            y += st.line // 2
        self.static_rows.append(("h_policy", row()))
        value_rows = 1 if has_value else 0
        bars_h = max(0, rect.y2 - y - value_rows * st.line - st.pad // 2)
        self.bars = PolicyBars(
            canvas, Rect(self.x, y, self.width, bars_h), st, labels, policy_kind(policy_title)
        )
        y += self.bars.rows * st.line
        self.value = field(x=self.x) if has_value else None
        self.fields = [
            f
            for f in (self.playback, self.score, self.frame, self.marker, self.value)
            if f is not None
        ]

    # -- per chapter --------------------------------------------------------------------
    def draw_static(self, chapter: ChapterContext, index: int, count: int) -> None:
        img, st = self.canvas.static, self.style
        r = self.rect
        img[r.y : r.y2, r.x : r.x2] = PANEL_BG
        pct = _pct(chapter.milestone_pct)
        step = f"{chapter.checkpoint_timestep:,} / {chapter.total_timesteps:,}"
        for key, base in self.static_rows:
            self._static_row(img, key, base, chapter, pct, step, index, count)
        self.bars.draw_static(img)
        if not self.compact:
            for f, label in (
                (self.playback, "episode"),
                (self.score, "score"),
                (self.frame, "frame"),
            ):
                if f is not None:
                    put(img, label, self.x, f.baseline, st, MUTED)
        for f in self.fields:
            f.reset()
        self.bars.reset()

    def _static_row(
        self,
        img: np.ndarray,
        key: str,
        base: int,
        c: ChapterContext,
        pct: str,
        step: str,
        index: int,
        count: int,
    ) -> None:
        st, run, w = self.style, self.run, self.width
        headers = {"h_training": "TRAINING PROGRESS", "h_playback": "PLAYBACK"}
        if key in headers:
            put(img, headers[key], self.x, base, st, ACCENT)
            return
        if key == "h_policy":
            if self.compact:
                put(img, fit_text(self.policy_title, w, st), self.x, base, st, MUTED)
                return
            put(img, "POLICY", self.x, base, st, ACCENT)
            dx = st.text_size("POLICY  ")[0]
            put(img, fit_text(self.policy_title, w - dx, st), self.x + dx, base, st, MUTED)
            return
        if key == "bar":
            top = base - st.line // 2
            x1 = self.x + w
            cv2.rectangle(img, (self.x, top), (x1, top + max(3, st.line // 4)), BAR_BG, -1)
            frac = c.checkpoint_timestep / c.total_timesteps if c.total_timesteps else 1.0
            xf = self.x + round(min(1.0, frac) * w)
            cv2.rectangle(img, (self.x, top), (xf, top + max(3, st.line // 4)), GOOD, -1)
            return
        if self.compact:
            text = {
                "name": run.name,
                "what": f"{run.algorithm}  {run.env_id}  seed {run.seed}",
                "step": f"{pct}  step {c.checkpoint_timestep:,}/{c.total_timesteps:,}",
                "episodes": f"train eps {c.training_episodes_completed:,}  "
                f"{fmt_hours(c.training_hours, short=True)}",
                "reward": f"best {fmt_num(c.best_reward)}  avg {fmt_num(c.avg_reward)}",
            }[key]
            color = TEXT if key == "name" else MUTED if key == "what" else TEXT
            put(img, fit_text(text, w, st), self.x, base, st, color)
            return
        label, value = {
            "milestone": ("milestone", f"{pct}  ({index + 1} of {count})"),
            "step": ("checkpoint", f"step {step}"),
            "hours": ("trained for", fmt_hours(c.training_hours)),
            "episodes": ("train episodes", f"{c.training_episodes_completed:,}"),
            "best": ("best reward", fmt_num(c.best_reward)),
            "avg": ("avg reward", fmt_num(c.avg_reward)),
        }[key]
        put(img, label, self.x, base, st, MUTED)
        put(img, fit_text(value, w - self.label_w, st), self.vx, base, st, TEXT)

    # -- per frame ----------------------------------------------------------------------
    def draw_frame(
        self,
        episode: int,
        episodes: int | None,
        score: float,
        frame_no: int,
        marker: str | None,
        readout: Readout | None,
    ) -> None:
        of = f" of {episodes}" if episodes is not None else ""
        if self.compact:
            self.playback.draw(f"ep {episode}{of}  score {fmt_num(score)}")
            if marker:
                self.marker.draw(marker, HIGHLIGHT)
            else:
                self.marker.draw(f"frame {frame_no:,}", MUTED)
        else:
            assert self.score is not None and self.frame is not None
            self.playback.draw(f"{episode}{of}")
            self.score.draw(fmt_num(score))
            self.frame.draw(f"{frame_no:,}")
            self.marker.draw(marker or "", HIGHLIGHT)
        if readout is not None:
            self.bars.draw(readout)
            if self.value is not None and readout.value is not None:
                self.value.draw(f"value estimate V(s)  {readout.value:.3f}", TEXT)

    def draw_done(self, played: int) -> None:
        self.marker.draw(f"done: {played} episode{'' if played == 1 else 's'} played", GOOD)


class TopBar:
    """The run (or, side by side, the milestone) across the top of the frame."""

    def __init__(self, canvas: Canvas, rect: Rect, style: Style) -> None:
        self.canvas, self.rect, self.style = canvas, rect, style

    def draw_run(self, run: RunContext) -> None:
        img, st, r = self.canvas.static, self.style, self.rect
        img[r.y : r.y2, r.x : r.x2] = TOPBAR_BG
        x, w = r.x + st.pad, r.w - 2 * st.pad
        what = (
            f"{run.algorithm.upper()}  |  {run.env_id}  |  seed {run.seed}  |  run {run.short_id}"
        )
        if run.agent_id:
            what += f"  |  agent {run.agent_id}"
        what_w = min(st.text_size(what)[0], w // 2)
        what = fit_text(what, what_w, st)
        put(
            img, what, r.x2 - st.pad - st.text_size(what)[0], r.y + st.line - st.pad // 4, st, MUTED
        )
        name = fit_text(run.name, w - what_w - st.pad, st)
        put(img, name, x, r.y + st.line - st.pad // 4, st, TEXT)
        hp = "   ".join(f"{k} {v}" for k, v in run.hyperparams) or "hyperparameters: defaults"
        put(img, fit_text(hp, w, st), x, r.y + 2 * st.line - st.pad // 4, st, ACCENT)

    def draw_milestone(self, chapter: ChapterContext, index: int, count: int, runs: int) -> None:
        img, st, r = self.canvas.static, self.style, self.rect
        img[r.y : r.y2, r.x : r.x2] = TOPBAR_BG
        text = f"MILESTONE {_pct(chapter.milestone_pct)}  ({index + 1} of {count})"
        put(img, text, r.x + st.pad, r.y + st.line - st.pad // 4, st, TEXT)
        right = f"{runs} runs side by side, aligned by milestone"
        put(
            img,
            right,
            r.x2 - st.pad - st.text_size(right)[0],
            r.y + st.line - st.pad // 4,
            st,
            MUTED,
        )


def _pct(value: float) -> str:
    """A milestone as people write it: 25%, 48.8% (one decimal at most)."""
    return f"{round(value, 1):g}%"
