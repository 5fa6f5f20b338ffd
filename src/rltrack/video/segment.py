"""One milestone's segment: every run's checkpoint of that milestone played side by side (one
run: alone), each frame composed and streamed to the encoder.

A segment runs until each run has played its episodes, or, with a frame budget (the milestone's
share of ``--total-seconds``), for exactly that many frames: a run whose episodes end early holds
its last frame, and an episode still running when the budget is spent is cut. Segments are
independent, so :mod:`rltrack.video.make` renders several at once in worker processes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rltrack.video.compose import CellLayout, GameSlot, layout_for
from rltrack.video.context import RunContext
from rltrack.video.encoder import H264Writer, children_cpu_s
from rltrack.video.panel import Canvas, CellPanel, Style, TopBar
from rltrack.video.policy import ActorCriticView, load_policy
from rltrack.video.source import (
    ChapterPlayer,
    EpisodePlayback,
    PlayFrame,
    Timings,
    action_labels,
    open_env,
)

PROGRESS_EVERY = 8  # frames between progress reports


@dataclass(frozen=True, slots=True)
class SegmentSpec:
    """Milestone ``index`` of ``count`` for ``runs`` (plain data: it goes to worker processes)."""

    index: int
    count: int
    runs: tuple[RunContext, ...]
    path: str
    fps: int
    width: int
    height: int
    episodes: int | None
    budget: int | None
    deterministic: bool


@dataclass(slots=True)
class SegmentResult:
    index: int
    frames: int
    playback: list[list[EpisodePlayback]]
    timings: Timings = field(default_factory=Timings)
    encoder_cpu_s: float = 0.0


class _Cell:
    def __init__(
        self,
        spec: SegmentSpec,
        run: RunContext,
        canvas: Canvas,
        cell: CellLayout,
        style: Style,
        marker_frames: int,
    ) -> None:
        chapter = run.chapters[spec.index]
        game = cell.game
        self.env = open_env(run.env_id, run.env_kwargs, (game.w, game.h))
        self.policy = load_policy(
            run.algorithm,
            chapter.checkpoint_path,
            self.env.action_space,
            self.env.observation_space,
            deterministic=spec.deterministic,
            backend=run.backend,
        )
        labels = action_labels(self.env, self.policy.n_values)
        self.panel = CellPanel(
            canvas,
            cell.panel,
            style,
            run,
            labels,
            self.policy.title,
            compact=cell.compact,
            has_value=isinstance(self.policy, ActorCriticView),
        )
        self.panel.draw_static(chapter, spec.index, spec.count)
        self.slot = GameSlot(canvas, game, max(2, round(4 * style.line / 21)))
        self.slot.draw_static()
        seed = 0 if run.seed is None else int(run.seed)
        self.player = ChapterPlayer(self.env, run.env_id, self.policy, spec.episodes, seed)
        self.frames: Iterator[PlayFrame] = self.player.frames()
        self.episodes = spec.episodes
        self.marker_frames = marker_frames
        self.marker_left = 0
        self.active = True

    def advance(self, frame_no: int, timings: Timings) -> bool:
        """Show this run's next frame; False when its episodes are all played."""
        pf = next(self.frames, None)
        t0 = time.perf_counter()
        if pf is None:
            self.active = False
            self.panel.draw_done(len(self.player.counter.played))
            timings.panel += time.perf_counter() - t0
            return False
        if pf.new_episode:
            self.marker_left = self.marker_frames
        if pf.final:
            self.marker_left = 0  # a held last frame must not keep the marker
        marker = f"NEW EPISODE {pf.episode}" if self.marker_left > 0 else None
        self.slot.place(pf.image, marker is not None)
        self.panel.draw_frame(pf.episode, self.episodes, pf.score, frame_no, marker, pf.readout)
        self.marker_left -= 1
        timings.panel += time.perf_counter() - t0
        return True

    def close(self) -> list[EpisodePlayback]:
        played = self.player.finish()
        self.frames = iter(())
        self.env.close()
        return played


def render_segment(
    spec: SegmentSpec,
    progress: Callable[[int], None] | None = None,
    writer: H264Writer | None = None,
) -> SegmentResult:
    """Render milestone ``spec.index``: into ``writer`` when given (the caller closes it),
    else into a file of its own at ``spec.path``."""
    layout = layout_for(len(spec.runs), spec.width, spec.height)
    canvas = Canvas(spec.width, spec.height)
    top = TopBar(canvas, layout.top, layout.top_style)
    if len(spec.runs) == 1:
        top.draw_run(spec.runs[0])
    else:
        top.draw_milestone(
            spec.runs[0].chapters[spec.index], spec.index, spec.count, len(spec.runs)
        )
    marker_frames = max(8, spec.fps // 2)
    cells: list[_Cell] = []
    timings = Timings()
    own = writer is None
    try:
        for run, cell in zip(spec.runs, layout.cells, strict=False):
            cells.append(_Cell(spec, run, canvas, cell, layout.panel_style, marker_frames))
        canvas.publish_static()
        cpu0 = children_cpu_s()
        out = writer or H264Writer(Path(spec.path), (spec.width, spec.height), spec.fps, threads=1)
        frames = 0
        try:
            while spec.budget is None or frames < spec.budget:
                shown = False
                for c in cells:
                    if c.active:
                        shown = c.advance(frames + 1, timings) or shown
                if not shown and spec.budget is None:
                    break
                t0 = time.perf_counter()
                out.write(canvas.frame)
                timings.encode += time.perf_counter() - t0
                frames += 1
                if progress is not None and frames % PROGRESS_EVERY == 0:
                    progress(PROGRESS_EVERY)
            if own:
                t0 = time.perf_counter()
                out.close()
                timings.encode += time.perf_counter() - t0
        except BaseException:
            if own:
                out.abort()
            raise
        if progress is not None and frames % PROGRESS_EVERY:
            progress(frames % PROGRESS_EVERY)
        for c in cells:
            timings.render += c.player.timings.render
            timings.policy += c.player.timings.policy
        playback = [c.close() for c in cells]
        cells = []
    finally:
        for c in cells:
            c.env.close()
    timings.frames = frames
    cpu = children_cpu_s() - cpu0 if own else 0.0
    return SegmentResult(spec.index, frames, playback, timings, cpu)
