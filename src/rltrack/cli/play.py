"""Playing a run's checkpoints again: `evaluate` (numbers) and `video` (a film)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.measure import Measurement
from rich.text import Text

from rltrack import settings
from rltrack.cli.common import (
    Col,
    DbOpt,
    JsonOpt,
    app,
    checkpoint_label,
    cut_middle,
    err,
    fail,
    find_run,
    fit_table,
    fmt,
    open_run,
    open_store,
    out,
    print_json,
)


@app.command()
def evaluate(
    run: Annotated[str, typer.Argument(help="Run (id, id prefix or name).")],
    checkpoint: Annotated[
        list[str] | None,
        typer.Option(
            help="final, best, latest, all, a timestep, or a checkpoint file; repeat for several "
            "(default: final, else latest)."
        ),
    ] = None,
    episodes: Annotated[
        int | None,
        typer.Option(
            help="Episodes per checkpoint (default: the run's eval_episodes, at least 10)."
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed of the first reset (default: the run's seed, else 0).")
    ] = None,
    date_range: Annotated[
        str | None,
        typer.Option(
            "--range",
            help="Trading env: the dates to play, START:END (default: the run's eval range, else "
            "its training data).",
        ),
    ] = None,
    baselines: Annotated[
        bool, typer.Option(help="Trading env: play buy-and-hold and random beside it.")
    ] = True,
    agent: Annotated[
        str | None, typer.Option(help="Runs of several agents: the agent to evaluate.")
    ] = None,
    record: Annotated[
        bool, typer.Option(help="Record the results as evaluations of the run.")
    ] = True,
    progress: Annotated[
        bool, typer.Option(help="Say on stderr as each checkpoint is done.")
    ] = True,
    json_: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    """Play a run's checkpoints deterministically and record the results as its evaluations."""
    from rltrack.evaluator import EvaluateError, Result, plan, run_plan
    from rltrack.tracking.store import StoreError

    store, r = open_run(db, run)
    try:
        p = plan(
            r, store.list_checkpoints(r.id), choices=checkpoint or (), episodes=episodes,
            seed=seed, date_range=date_range, baselines=baselines, agent=agent,
        )  # fmt: skip
    except EvaluateError as exc:
        fail(str(exc))
    for note in p.notes:
        err.print(f"[yellow]note:[/] {note}", highlight=False)
    recorded: list[Result] = []
    unrecorded: str | None = None

    total = p.plays
    done = 0

    def keep(result: Result) -> None:
        nonlocal unrecorded, done
        done += 1
        if progress:
            s = result.summary
            what = checkpoint_label(s.checkpoint_path) if s.checkpoint_path else s.opponent
            err.print(
                f"  [{done}/{total}] {what}: reward {fmt(s.mean_reward)} ± {fmt(s.std_reward)}",
                highlight=False,
            )
        if not record or unrecorded is not None:
            return
        try:
            store.write([result.event(r.id)])
        except StoreError as exc:
            unrecorded = str(exc)
        else:
            recorded.append(result)

    err.print(
        f"evaluating {len(p.targets)} checkpoint{'s' if len(p.targets) != 1 else ''} of "
        f"{r.name} ({r.id[:8]}), {p.episodes} episodes each, seed {p.seed}"
        + (f", dates {p.date_range}" if p.date_range else ""),
        highlight=False,
    )
    try:
        results = run_plan(p, on_result=keep)
    except EvaluateError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        fail(f"stopped; {len(recorded)} evaluations were recorded before that", 130)
    rows = [_evaluation_row(x) for x in results]
    if json_:
        print_json(rows)
    else:
        wins = any(row["win_rate"] is not None for row in rows)
        cells = [
            (
                row["policy"],
                checkpoint_label(row["checkpoint_path"]) if row["checkpoint_path"] else "-",
                "-" if row["timestep"] is None else f"{row['timestep']:,}",
                str(row["episodes"]), f"{fmt(row['mean_reward'])} ± {fmt(row['std_reward'])}",
                fmt(row["mean_length"]),
                "-" if row["win_rate"] is None else f"{100 * row['win_rate']:.1f}%",
            )
            for row in rows
        ]  # fmt: skip
        cols = EVALUATION_COLUMNS if wins else EVALUATION_COLUMNS[:-1]
        table = fit_table(cols, (c[: len(cols)] for c in cells))
        # The run above the table in one line: its name cut in the middle, its id prefix.
        width = Measurement.get(out, out.options, table).maximum
        table.title = Text(f"{cut_middle(r.name, width - 11)} ({r.id[:8]})", style="table.title")
        out.print(table)
    if unrecorded is not None:
        fail(f"the results above are not recorded: {unrecorded}", 1)
    if record:
        err.print(
            f"recorded {len(recorded)} evaluation{'s' if len(recorded) != 1 else ''} of run "
            f"{r.id[:8]} "
            f"(rltrack show {r.id[:8]}, the dashboard's run page)",
            highlight=False,
        )


# Which policy, which checkpoint and its reward stay; on a narrow terminal the episodes (the same
# for every row) give way first, then the length, the step and the win rate.
EVALUATION_COLUMNS = (
    Col("policy", floor=12),
    Col("checkpoint", floor=12),
    Col("step", drop=2),
    Col("episodes", drop=4),
    Col("reward ± std"),
    Col("length", drop=3),
    Col("win rate", drop=1),
)


def _evaluation_row(result: Any) -> dict[str, Any]:
    s = result.summary
    return {
        "policy": s.opponent, "checkpoint_path": s.checkpoint_path,
        "checkpoint_kind": s.checkpoint_kind,
        "timestep": result.target.timestep if result.target is not None else None,
        "episodes": s.episodes, "mean_reward": s.mean_reward, "std_reward": s.std_reward,
        "mean_length": s.mean_length, "win_rate": s.win_rate, "seed": result.seed,
        "date_range": result.date_range, "rewards": list(s.rewards), "metrics": s.metrics,
    }  # fmt: skip


@app.command()
def video(
    runs: Annotated[
        list[str], typer.Argument(help="Run (id, id prefix or name); two to four side by side.")
    ],
    out_path: Annotated[
        Path | None,
        typer.Option(
            "--out", help="MP4 to write (default: the run folder's videos/milestones.mp4)."
        ),
    ] = None,
    milestones: Annotated[
        int | None, typer.Option(help="Milestones evenly through training (default: up to 10).")
    ] = None,
    milestone_pcts: Annotated[
        str | None, typer.Option(help="Milestones as percentages of training, e.g. 10,25,50,100.")
    ] = None,
    episodes_per_milestone: Annotated[
        int | None,
        typer.Option(
            help="Episodes played per milestone (default 1; with --total-seconds: as many as fit)."
        ),
    ] = None,
    total_seconds: Annotated[
        float | None, typer.Option(help="Length of the video, split evenly across milestones.")
    ] = None,
    fps: Annotated[int, typer.Option(help="Frames per second (one env step per frame).")] = 30,
    size: Annotated[str, typer.Option(help="WIDTHxHEIGHT of the video.")] = "960x540",
    deterministic: Annotated[
        bool, typer.Option("--deterministic", help="Play the most likely action.")
    ] = False,
    agent: Annotated[
        str | None, typer.Option(help="Runs of several agents: the agent to film.")
    ] = None,
    jobs: Annotated[int, typer.Option(help="Milestones rendered at once (0: one per CPU).")] = 0,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    db: DbOpt = None,
) -> None:
    """Film a run's checkpoints at milestones of its training, with the training context."""

    from rltrack.video.make import make_video
    from rltrack.video.options import EncodeError, VideoError, build_options
    from rltrack.video.progress import RichProgress

    try:
        options = build_options(
            milestones=milestones, milestone_pcts=milestone_pcts,
            episodes=episodes_per_milestone, total_seconds=total_seconds, fps=fps, size=size,
            deterministic=deterministic, agent=agent, jobs=jobs,
        )  # fmt: skip
    except VideoError as exc:
        fail(str(exc))
    store = open_store(db, runs=runs)
    found = [find_run(store, ref) for ref in runs]
    try:
        result = make_video(
            store, found, options, out=out_path, home=settings.home(),
            progress=RichProgress(err) if progress else None,
            warn=lambda text: err.print(f"[yellow]warning:[/] {text}", highlight=False),
        )  # fmt: skip
    except VideoError as exc:
        fail(str(exc))
    except EncodeError as exc:
        fail(str(exc), code=1)
    out.print(
        f"[bold green]video[/] {result.path}  ({result.frames} frames, {result.seconds:.1f} s, "
        f"{len(result.chapters[0])} milestones)\nchapters: {result.chapters_path}",
        highlight=False,
    )
    if not result.registered:
        fail(f"the video is written but not registered with its runs: {result.register_error}", 1)
    if not result.path.is_relative_to(settings.home().resolve()):
        err.print(
            f"[yellow]note:[/] {result.path} is outside RLTRACK_HOME ({settings.home()}); the "
            "API and dashboard serve only files inside it",
            highlight=False,
        )
