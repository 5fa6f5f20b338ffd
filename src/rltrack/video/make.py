"""`rltrack video`: from runs in the store to an MP4, its chapters sidecar and artifact records.

1. Per run: the agent (runs of several agents), the checkpoints on disk, the milestones and,
   for each, the training context from the records (:mod:`rltrack.video.context`).
2. Before anything is rendered, each run's env is made with ``render_mode="rgb_array"`` and its
   first checkpoint loaded, so a run that cannot be filmed fails at once with its reason.
3. One segment per milestone (:mod:`rltrack.video.segment`), in this process or, with
   ``jobs > 1``, in that many worker processes at once (forked where the platform can; each
   has its own encoder).
4. The segments are joined (:func:`rltrack.video.encoder.concat`), the sidecar written, and the
   video registered as an artifact of each run (an ``ArtifactSaved`` written to the store).
"""

from __future__ import annotations

import contextlib
import hashlib
import multiprocessing as mp
import os
import queue as queue_mod
import shutil
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from rltrack.tracking.entities import Run
from rltrack.video.chapters import (
    ChapterRecord,
    artifact_metadata,
    chapter_records,
    sidecar,
    sidecar_path,
    write_sidecar,
)
from rltrack.video.context import (
    RunContext,
    agent_of,
    ancestry,
    checkpoint_pcts,
    run_context,
    usable_checkpoints,
)
from rltrack.video.encoder import H264Writer, children_cpu_s, concat
from rltrack.video.options import (
    MAX_RUNS,
    EncodeError,
    VideoError,
    VideoOptions,
    check_output,
    default_pcts,
)
from rltrack.video.policy import load_policy
from rltrack.video.segment import SegmentResult, SegmentSpec, render_segment
from rltrack.video.source import Timings, open_env


class Progress(Protocol):
    def start(self, total_frames: int | None, chapters: int) -> None: ...

    def advance(self, frames: int) -> None: ...

    def chapter_done(self) -> None: ...

    def stop(self) -> None: ...


class NoProgress:
    def start(self, total_frames: int | None, chapters: int) -> None:
        pass

    def advance(self, frames: int) -> None:
        pass

    def chapter_done(self) -> None:
        pass

    def stop(self) -> None:
        pass


@dataclass
class VideoResult:
    path: Path
    chapters_path: Path
    frames: int
    fps: int
    runs: list[RunContext]
    chapters: list[list[ChapterRecord]]
    timings: Timings
    encoder_cpu_s: float
    render_wall_s: float = 0.0
    registered: bool = False
    register_error: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return self.frames / self.fps


def default_output(home: Path, runs: Sequence[Run]) -> Path:
    """One run: ``<run folder>/videos/milestones.mp4``; several: ``<home>/videos/``."""
    if len(runs) == 1:
        run_dir = runs[0].metadata.get("run_dir")
        folder = Path(run_dir) if run_dir else home / "runs" / runs[0].id
        return folder / "videos" / "milestones.mp4"
    return home / "videos" / ("compare_" + "_".join(r.id[:8] for r in runs) + ".mp4")


def prepare(
    store: Any, runs: Sequence[Run], options: VideoOptions
) -> tuple[list[RunContext], list[str]]:
    """The runs' contexts, milestones resolved; warnings (milestones sharing a checkpoint)."""
    from rltrack.tracking.sql.training_progress import episodes_up_to
    from rltrack.tracking.store import NotFoundError

    if not 1 <= len(runs) <= MAX_RUNS:
        raise VideoError(f"give 1 to {MAX_RUNS} runs, not {len(runs)}")
    if len({r.id for r in runs}) != len(runs):
        raise VideoError("a run is given twice; give each run once")
    if options.agent is not None and len(runs) > 1:
        raise VideoError("--agent picks the agent of one run; side by side, each run's first")
    agents = [agent_of(r, options.agent if len(runs) == 1 else None) for r in runs]
    checkpoints = [
        usable_checkpoints(r, store.list_checkpoints(r.id), a)
        for r, a in zip(runs, agents, strict=True)
    ]
    if options.milestone_pcts is not None:
        pcts = options.milestone_pcts
    elif len(runs) == 1:
        pcts = checkpoint_pcts(runs[0], checkpoints[0])  # each checkpoint where it was saved
    else:
        pcts = default_pcts(min(len(c) for c in checkpoints))

    def read(run_id: str, timesteps: Sequence[int], agent: str | None) -> Sequence[Any]:
        return episodes_up_to(store, run_id, timesteps, agent_id=agent)

    def get_run(run_id: str) -> Run | None:
        try:
            return store.get_run(run_id)  # type: ignore[no-any-return]
        except NotFoundError:
            return None

    contexts = [
        run_context(r, c, pcts, a, read, ancestry(r, get_run))
        for r, c, a in zip(runs, checkpoints, agents, strict=True)
    ]
    warnings = [w for c in contexts for w in c.warnings]
    return contexts, warnings


def preflight(contexts: Sequence[RunContext], options: VideoOptions) -> None:
    """Make each run's env and load its first checkpoint: a run that cannot be filmed fails
    here, before any frame is rendered."""
    for ctx in contexts:
        env = open_env(ctx.env_id, ctx.env_kwargs, (320, 240))
        try:
            load_policy(
                ctx.algorithm,
                ctx.chapters[0].checkpoint_path,
                env.action_space,
                env.observation_space,
                deterministic=options.deterministic,
                backend=ctx.backend,
            )
        finally:
            env.close()


def make_video(
    store: Any,
    runs: Sequence[Run],
    options: VideoOptions,
    *,
    out: Path | None,
    home: Path,
    progress: Progress | None = None,
    warn: Callable[[str], None] | None = None,
) -> VideoResult:
    """Render, join, write the sidecar and register the video (see the module docstring)."""
    import torch

    progress = progress or NoProgress()
    contexts, warnings = prepare(store, runs, options)
    for w in warnings:
        if warn is not None:
            warn(w)
    path = check_output(out if out is not None else default_output(home, runs))
    count = len(contexts[0].chapters)
    budgets = options.chapter_frames(count)
    # Small networks run fastest on one thread, and the encoders want the other cores.
    torch.set_num_threads(1)
    preflight(contexts, options)
    specs = [
        SegmentSpec(
            index=i,
            count=count,
            runs=tuple(contexts),
            path="",
            fps=options.fps,
            width=options.width,
            height=options.height,
            episodes=options.episodes,
            budget=None if budgets is None else budgets[i],
            deterministic=options.deterministic,
        )
        for i in range(count)
    ]
    progress.start(None if budgets is None else sum(budgets), count)
    started = time.perf_counter()
    try:
        if min(options.jobs, count) <= 1:
            segments = render_stream(specs, path, progress)
        else:
            segments = render_parallel(specs, path, options.jobs, progress)
    finally:
        progress.stop()
    render_wall = time.perf_counter() - started

    chapters = chapter_records(contexts, segments)
    frames = sum(s.frames for s in segments)
    chapters_file = sidecar_path(path)
    write_sidecar(chapters_file, sidecar(contexts, chapters, options.fps, options.size))
    timings = Timings()
    for s in segments:
        timings.add(s.timings)
    result = VideoResult(
        path=path,
        chapters_path=chapters_file,
        frames=frames,
        fps=options.fps,
        runs=contexts,
        chapters=chapters,
        timings=timings,
        encoder_cpu_s=sum(s.encoder_cpu_s for s in segments),
        render_wall_s=render_wall,
        warnings=warnings,
    )
    register(store, result, options)
    return result


def register(store: Any, result: VideoResult, options: VideoOptions) -> None:
    """One artifact record per run (kind ``video``), keyed by (run, path): making the same
    video again updates its record."""
    from rltrack.tracking.store import StoreError
    from rltrack.training.events import ArtifactSaved

    digest = hashlib.sha256()
    with result.path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    size = result.path.stat().st_size
    events = [
        ArtifactSaved(
            run_id=ctx.run_id,
            kind="video",
            path=str(result.path),
            size=size,
            sha256=digest.hexdigest(),
            media_type="video/mp4",
            metadata=artifact_metadata(
                i,
                result.runs,
                result.chapters,
                options.fps,
                options.size,
                result.frames,
                result.chapters_path,
                options.deterministic,
            ),
        )
        for i, ctx in enumerate(result.runs)
    ]
    try:
        store.write(events)
    except StoreError as exc:
        result.register_error = str(exc)
        return
    result.registered = True


# -- rendering the segments --------------------------------------------------------------------
_queue: Any = None


def _init_worker(q: Any) -> None:
    global _queue
    _queue = q
    import torch

    torch.set_num_threads(1)


def _render_in_worker(spec: SegmentSpec) -> SegmentResult:
    q = _queue

    def report(frames: int) -> None:
        if q is not None:
            q.put(frames)

    return render_segment(spec, report)


def render_stream(
    specs: Sequence[SegmentSpec], path: Path, progress: Progress
) -> list[SegmentResult]:
    """Every milestone in this process, streamed into one encoder; the file appears at
    ``path`` only when it is complete."""
    part = path.with_name(f".{path.name}.part")
    cpu0 = children_cpu_s()
    spec0 = specs[0]
    writer = H264Writer(part, (spec0.width, spec0.height), spec0.fps, faststart=True)
    results = []
    try:
        for spec in specs:
            results.append(render_segment(spec, progress.advance, writer))
            progress.chapter_done()
        t0 = time.perf_counter()
        writer.close()
        results[-1].timings.encode += time.perf_counter() - t0
        os.replace(part, path)
    except BaseException:
        writer.abort()
        raise
    finally:
        part.unlink(missing_ok=True)
    results[-1].encoder_cpu_s = children_cpu_s() - cpu0
    return results


def render_parallel(
    specs: Sequence[SegmentSpec], path: Path, jobs: int, progress: Progress
) -> list[SegmentResult]:
    """Milestones in ``jobs`` worker processes at once, each into a segment file of its own;
    the segments are then joined into ``path``."""
    work = path.with_name(f".{path.name}.segments-{os.getpid()}")
    work.mkdir(exist_ok=True)
    try:
        specs = [replace(s, path=str(work / f"seg_{s.index:04d}.mp4")) for s in specs]
        segments = render_all(specs, jobs, progress)
        concat([Path(s.path) for s in specs], path)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return segments


def _pool_context() -> Any:
    # Fork where there is one: workers start in milliseconds with everything imported (torch,
    # SB3, OpenCV), where spawning re-imports all of it in each (seconds). Nothing in this
    # process has started GPU work or torch's thread pool (one thread, set above).
    methods = mp.get_all_start_methods()
    return mp.get_context("fork" if "fork" in methods else "spawn")


def render_all(specs: Sequence[SegmentSpec], jobs: int, progress: Progress) -> list[SegmentResult]:
    """Every segment, each to its own file, in ``jobs`` worker processes."""
    jobs = max(1, min(jobs, len(specs)))
    ctx = _pool_context()
    q = ctx.Queue()
    results = []
    pool = ProcessPoolExecutor(
        max_workers=jobs, mp_context=ctx, initializer=_init_worker, initargs=(q,)
    )
    pending: set[Future[SegmentResult]] = set()
    try:
        pending = {pool.submit(_render_in_worker, s) for s in specs}
        while pending:
            done, pending = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
            _drain(q, progress)
            for f in done:
                results.append(f.result())
                progress.chapter_done()
        _drain(q, progress)
    except BaseException as exc:
        # Stop the other workers now rather than let them finish their milestones.
        for f in pending:
            f.cancel()
        for proc in list(getattr(pool, "_processes", {}).values()):
            proc.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        if isinstance(exc, BrokenProcessPool):
            raise EncodeError(f"a video worker process died: {exc}") from None
        raise
    else:
        pool.shutdown(wait=True)
    finally:
        q.close()
    return results


def _drain(q: Any, progress: Progress) -> None:
    with contextlib.suppress(queue_mod.Empty, OSError, ValueError):
        while True:
            progress.advance(q.get_nowait())
