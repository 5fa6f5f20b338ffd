"""`rltrack sweep`: search hyperparameters with Optuna, every trial a tracked run."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from rltrack import settings
from rltrack.cli.common import DbOpt, app, err, fail, fmt, out


@app.command()
def sweep(
    config: Annotated[
        Path,
        typer.Option(
            "--config", help="Sweep file: a train config and a `sweep:` section (docs/sweeps.md)."
        ),
    ],
    trials: Annotated[
        int,
        typer.Option(
            min=1, help="Finished trials (complete or pruned) the study should hold in total."
        ),
    ],
    parallel: Annotated[int, typer.Option(min=1, max=64, help="Trials that train at once.")] = 1,
    db: DbOpt = None,
) -> None:
    """Search hyperparameters with Optuna: every trial is an `rltrack train` run of the sweep's
    group, tagged sweep:NAME. Trials whose episode rewards trail are pruned (stopped as Ctrl-C
    stops a run, tagged pruned).

    The study lives beside the runs in the same database; running the same command again
    continues it until it holds --trials finished trials. Ctrl-C stops the trials in flight,
    which drain and are tried again when the sweep continues."""
    from rltrack.sweep.runner import SweepRunner
    from rltrack.sweep.spec import SpecError, load_spec
    from rltrack.sweep.study import open_storage, open_study, settle_left_running, sweep_group
    from rltrack.tracking.sql.engine import safe_url
    from rltrack.tracking.store import StoreError, open_store

    try:
        spec = load_spec(config)
    except SpecError as exc:
        fail(f"{config}: {exc}")
    url = settings.database_url(db)
    try:
        store = open_store(url, create=True)
    except StoreError as exc:
        fail(str(exc))
    try:
        storage = open_storage(url)
        group = sweep_group(store, spec)
        study = open_study(storage, spec)
        settle_left_running(study, store, spec, say=_note)
    except SpecError as exc:
        fail(f"{config}: {exc}")
    except StoreError as exc:
        fail(str(exc), code=1)
    target = trials
    if spec.sampler == "grid" and trials > spec.grid_size:
        _note(f"the grid holds {spec.grid_size} points; the sweep stops after those")
        target = spec.grid_size
    runner = SweepRunner(spec, store, study, url, on_finished=_print_trial, say=_note)
    done = runner.finished_count()
    out.print(
        f"[bold]sweep {escape(spec.name)}[/]: {done}/{target} trials finished; "
        f"{spec.objective} {spec.direction}d, sampler {spec.sampler}, pruner "
        f"{spec.pruner.describe()}; study and runs in {safe_url(url)}, group {group.id[:8]}",
        highlight=False,
    )
    outcome = runner.run(target, parallel)
    _print_best(study)
    again = shlex.join(["rltrack", "sweep", "--config", str(config), "--trials", str(trials)]
                       + (["--parallel", str(parallel)] if parallel > 1 else []))  # fmt: skip
    if outcome.interrupted:
        err.print(
            f"[yellow]interrupted[/]: {outcome.finished} of {target} trials finished; the study "
            f"is kept, continue it with: {escape(again)}",
            highlight=False,
        )
        raise typer.Exit(130)
    if outcome.gave_up is not None:
        fail(f"trials fail one after another, the last with: {outcome.gave_up}", code=1)
    out.print(
        f"look at it: rltrack runs --tag sweep:{spec.name}  ·  the dashboard's sweep page",
        highlight=False,
    )


def _note(text: str) -> None:
    err.print(escape(text), highlight=False)


def _params(params: dict[str, Any]) -> str:
    return " ".join(f"{k.removeprefix('hyperparams.')}={_value(v)}" for k, v in params.items())


def _value(v: Any) -> str:
    return fmt(v) if isinstance(v, float) else str(v)


def _print_trial(f: Any) -> None:
    run = f" run {f.run_id[:8]}" if f.run_id else ""
    if f.state == "complete":
        result = f"[green]value {fmt(f.value)}[/]"
    elif f.state == "pruned":
        at = f" at {f.step:,} steps" if f.step is not None else ""
        result = f"[yellow]pruned{at}[/]"
    else:
        result = f"[red]failed[/]: {escape(f.error or '')}"
    out.print(f"trial {f.number:>3}  {result}  {escape(_params(f.params))} {run}", highlight=False)


def _print_best(study: Any) -> None:
    try:
        best = study.best_trial
    except ValueError:
        out.print("no trial has completed yet", highlight=False)
        return
    run = best.user_attrs.get("run_id", "")
    out.print(
        f"[bold]best[/]: trial {best.number}, value {fmt(best.value)}, "
        f"{escape(_params(best.params))}, run {str(run)[:8]}",
        highlight=False,
    )
