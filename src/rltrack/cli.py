"""The `rltrack` command: thin Typer commands over config, training, the store and the API."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import shutil
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Column, Table

from rltrack import settings
from rltrack.config import ALGORITHMS, ConfigError, build_config, deep_merge, parse_set
from rltrack.tracking.entities import Episode, Metric, Run, to_jsonable

app = typer.Typer(
    help="Train RL agents and keep a complete, queryable history of every run.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema commands.", no_args_is_help=True)
app.add_typer(db_app, name="db")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

EXIT_USAGE = 2
# The most rows a table of `rltrack episodes` (without --limit) or `metrics --key` prints.
TABLE_ROWS = 1000

DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL, or the path of a SQLite file (default: RLTRACK_DATABASE_URL, else "
        "SQLite in RLTRACK_HOME).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def missing_database(db: str | None) -> Path | None:
    """The SQLite file the command would read when it does not exist (else None)."""
    from rltrack.tracking.sql.engine import sqlite_path
    from rltrack.tracking.store import DatabaseURLError

    url = settings.database_url(db)
    try:
        path = sqlite_path(url) if url.startswith("sqlite") else None
    except DatabaseURLError:
        return None  # open_store names the bad URL
    return path if path is not None and not path.exists() else None


def open_store(db: str | None, *, runs: Sequence[str]) -> Any:
    """The store of a command that reads the recorded ``runs`` (and may add to them). A SQLite
    file that does not exist is an error naming it, not a new empty database: a mistyped --db
    would otherwise leave a stray file, and folders, behind."""
    from rltrack.tracking.store import StoreError, open_store

    missing = missing_database(db)
    if missing is not None:
        fail(
            f"no run {', '.join(runs)}: there is no database at {missing} (nothing has trained "
            "there yet); train a run first, or point --db or RLTRACK_DATABASE_URL at another"
        )
    try:
        return open_store(settings.database_url(db), create=True)
    except StoreError as exc:
        fail(str(exc))


def find_run(store: Any, ref: str) -> Run:
    from rltrack.tracking.store import NotFoundError

    try:
        run: Run = store.get_run(ref)
    except NotFoundError as exc:
        fail(str(exc))
    return run


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(to_jsonable(data), indent=2) + "\n")


def print_json_stream(items: Iterable[Any]) -> None:
    """A JSON array of ``items``, written as they come, laid out as :func:`print_json` would
    lay out the whole list."""
    write = sys.stdout.write
    first = True
    for item in items:
        text = json.dumps(to_jsonable(item), indent=2).replace("\n", "\n  ")
        write(("[\n  " if first else ",\n  ") + text)
        first = False
    write("[]\n" if first else "\n]\n")


# -- train ----------------------------------------------------------------------------------
@app.command()
def train(
    algo: Annotated[str | None, typer.Option(help=f"Algorithm: {', '.join(ALGORITHMS)}.")] = None,
    env: Annotated[str | None, typer.Option(help="Gymnasium env id.")] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="YAML config file (see conf/).")
    ] = None,
    mode: Annotated[str | None, typer.Option(help="Preset: smoke or full.")] = None,
    backend: Annotated[str | None, typer.Option(help="sb3 or actor-learner.")] = None,
    num_envs: Annotated[int | None, typer.Option(help="Parallel environments.")] = None,
    vec_env: Annotated[str | None, typer.Option(help="dummy or subproc.")] = None,
    num_actors: Annotated[
        int | None,
        typer.Option(help="actor-learner: actor processes per agent (0: serial, one process)."),
    ] = None,
    agents: Annotated[
        int | None, typer.Option(help="actor-learner: independent agents trained side by side.")
    ] = None,
    total_timesteps: Annotated[int | None, typer.Option(help="Environment steps.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    run_name: Annotated[str | None, typer.Option(help="Name of the run.")] = None,
    agent_id: Annotated[str | None, typer.Option(help="Agent the run trains.")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="Tag (repeatable).")] = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu, cuda or mps.")] = None,
    torch_threads: Annotated[
        int | None,
        typer.Option(help="PyTorch CPU threads (default: 1, or PyTorch's for CNN policies)."),
    ] = None,
    checkpoint_every_steps: Annotated[int | None, typer.Option()] = None,
    checkpoint_every_episodes: Annotated[int | None, typer.Option()] = None,
    keep_checkpoints: Annotated[int | None, typer.Option(help="Periodic ones kept.")] = None,
    data: Annotated[
        str | None, typer.Option(help="Trading env: OHLCV CSV path, or googl / eurusd.")
    ] = None,
    data_range: Annotated[
        str | None, typer.Option(help="Trading env: date range START:END of the data.")
    ] = None,
    train_range: Annotated[
        str | None, typer.Option(help="Trading env: date range START:END to train on.")
    ] = None,
    eval_range: Annotated[
        str | None, typer.Option(help="Trading env: held-out range START:END to evaluate on.")
    ] = None,
    trace_every: Annotated[
        int | None, typer.Option(help="Record every K-th episode's per-step trace (1: all).")
    ] = None,
    drain_max_steps: Annotated[
        int | None, typer.Option(help="Steps per env to finish in-flight episodes at the end.")
    ] = None,
    drain_timeout: Annotated[
        float | None, typer.Option(help="Seconds the end-of-training drain may take.")
    ] = None,
    resume: Annotated[
        str | None, typer.Option(help="Continue from this run's last checkpoint as a new run.")
    ] = None,
    like: Annotated[
        str | None,
        typer.Option(
            help="Start a new run with this run's settings (fresh weights); options given "
            "override them, e.g. --like RUN --seed 2."
        ),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override any setting: key=value, e.g. hyperparams.gamma=0.98."),
    ] = None,
    progress: Annotated[bool | None, typer.Option(help="Show a progress bar.")] = None,
    db: DbOpt = None,
) -> None:
    """Train an agent and record the whole run."""
    from rltrack.envs import UnknownEnvError, check_env_id

    overrides: dict[str, Any] = {
        "algo": algo, "env": env, "mode": mode, "backend": backend, "num_envs": num_envs,
        "vec_env": vec_env, "num_actors": num_actors, "agents": agents,
        "total_timesteps": total_timesteps, "seed": seed,
        "run_name": run_name, "agent_id": agent_id, "tags": tuple(tag) if tag else None,
        "device": device, "torch_threads": torch_threads,
        "checkpoint_every_steps": checkpoint_every_steps,
        "checkpoint_every_episodes": checkpoint_every_episodes,
        "keep_checkpoints": keep_checkpoints, "progress": progress,
        "drain_max_steps": drain_max_steps, "drain_timeout": drain_timeout,
        "train_range": train_range, "eval_range": eval_range, "trace_every": trace_every,
    }  # fmt: skip
    try:
        extra = parse_set(set_ or [])
        env_kwargs = {k: v for k, v in (("data", data), ("date_range", data_range)) if v}
        if env_kwargs:
            extra = deep_merge({"env_kwargs": env_kwargs}, extra)
        overrides = {**{k: v for k, v in overrides.items() if v is not None}, **extra}
        store = None
        parent = None
        base: dict[str, Any] = {}
        if resume and like:
            fail("--resume continues a run and --like starts a new one from its settings; give one")
        if resume or like:
            ref = resume or like
            assert ref is not None
            store = open_store(db, runs=[ref])
            source = find_run(store, ref)
            parent = source if resume else None
            base = {k: v for k, v in source.config.items() if k not in ("run_name", "mode")}
        cfg = build_config(file=config, overrides=overrides, base=base)
        check_env_id(cfg.env)
    except (ConfigError, UnknownEnvError) as exc:
        fail(str(exc))
    if parent is not None:
        # A checkpoint holds one algorithm's networks for one env's spaces.
        for flag, now, then in (
            ("--algo", cfg.algo, parent.algorithm),
            ("--env", cfg.env, parent.env_id),
        ):
            if now != then:
                fail(
                    f"{flag} {now}: --resume continues run {parent.id[:8]}, which trained {then}; "
                    f"leave {flag} out, or start a new run without --resume"
                )
    if cfg.resolved_backend == "sb3":
        for flag, given in (("--num-actors", num_actors), ("--agents", agents)):
            if given is not None:
                fail(
                    f"{flag} is for the actor-learner backend (--algo iqn); {cfg.algo} trains "
                    "with SB3, which runs environments side by side with --num-envs N"
                )
    if cfg.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            fail("--device cuda: no CUDA device is available here; use --device cpu or auto")
    if store is None:
        store = _store_for_training(db)
    _train(cfg, store, parent)


def _store_for_training(db: str | None) -> Any:
    """A server that is away at start does not stop training: records go to the spool until it
    answers. A SQLite location that cannot hold a database is a usage error."""
    from rltrack.tracking.deferred import DeferredStore
    from rltrack.tracking.sql.engine import is_sqlite, normalize_url, safe_url
    from rltrack.tracking.store import DatabaseURLError, StoreError, UnavailableError
    from rltrack.tracking.store import open_store as open_url

    url = normalize_url(settings.database_url(db))
    try:
        return open_url(url)
    except UnavailableError as exc:
        if is_sqlite(url) or isinstance(exc, DatabaseURLError):
            fail(str(exc))
        err.print(
            f"[yellow]database {safe_url(url)} unreachable at start[/] ({exc}); training "
            "goes on and records are spooled until it answers",
            highlight=False,
        )
        return DeferredStore(url)
    except StoreError as exc:
        fail(str(exc))


def _train(cfg: Any, store: Any, parent: Run | None) -> NoReturn:
    from rltrack.tracking.logger import RunLogger
    from rltrack.tracking.spool import Spool, SpoolError
    from rltrack.training.context import TrainContext
    from rltrack.training.runner import (
        default_run_name,
        new_run_id,
        run_dir_for,
        run_training,
    )

    resume_path, resume_step = None, 0
    if parent is not None:
        checkpoints = store.list_checkpoints(parent.id)
        usable = [c for c in checkpoints if Path(c.path).exists()]
        if not usable:
            fail(f"run {parent.id} has no checkpoint file to resume from")
        last = max(usable, key=lambda c: (c.kind == "final", c.timestep))
        resume_path, resume_step = Path(last.path), last.timestep

    run_id = new_run_id()
    run_dir = run_dir_for(settings.home(), run_id)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"cannot create the run folder {run_dir}: {exc.strerror}; set RLTRACK_HOME")
    spool = Spool(run_dir, db_url=store.url)
    try:
        spool.check_writable()
    except SpoolError as exc:
        fail(str(exc))

    def outage(exc: Exception) -> None:
        err.print(
            f"[yellow]database unreachable[/] ({exc}); training goes on, records are spooled "
            f"to {spool.path} and replayed when it answers",
            highlight=False,
        )

    def recovered(n: int) -> None:
        err.print(f"[green]database back[/]: {n} spooled records replayed", highlight=False)

    logger = RunLogger(store, spool=spool, on_outage=outage, on_recovered=recovered)
    progress = _Progress(cfg, resume_step) if cfg.progress else None
    ctx = TrainContext(
        config=cfg, run_id=run_id, run_dir=run_dir, sink=logger,
        progress=progress.update if progress else None,
        resume_checkpoint=resume_path, resume_timestep=resume_step,
    )  # fmt: skip
    name = cfg.run_name or default_run_name(cfg)

    def started(run_id: str) -> None:
        print(f"run_id: {run_id}", flush=True)
        if progress:
            progress.start()

    try:
        outcome = run_training(
            ctx, name=name, parent_run_id=parent.id if parent else None, on_started=started
        )
    except ConfigError as exc:
        logger.close(timeout=5)
        with contextlib.suppress(OSError):
            run_dir.rmdir()  # nothing was recorded for a refused run
        fail(str(exc))
    finally:
        if progress:
            progress.stop()
    state = logger.close()
    if state == "spooled":
        err.print(
            f"[yellow]the database is still unreachable[/]: {logger.written} records written, "
            f"the rest kept in {spool.path}; run `rltrack sync` when it is back",
            highlight=False,
        )
    elif state == "failed":
        err.print(
            f"[red]warning:[/] {logger.dropped} records could not be kept: {logger.failure}",
            highlight=False,
        )
    colour = {"completed": "green", "stopped": "yellow", "failed": "red"}[outcome.status]
    out.print(
        f"[bold {colour}]{outcome.status}[/] run {name} ({run_id}): "
        f"{outcome.timesteps} timesteps, {outcome.episodes} episodes"
        + (f"\n[red]{outcome.error}[/]" if outcome.error else ""),
        highlight=False,
    )
    out.print(
        f"data: {run_dir}  database: {store.url}\n"
        f"look at it: rltrack show {run_id[:8]}  ·  rltrack episodes {run_id[:8]}",
        highlight=False,
    )
    raise typer.Exit(outcome.exit_code)


class _Progress:
    def __init__(self, cfg: Any, start: int) -> None:
        from rich.progress import (
            BarColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("[bold]train"),
            BarColumn(),
            TextColumn("{task.completed:,.0f}/{task.total:,.0f} steps"),
            TextColumn("ep {task.fields[episodes]}"),
            TextColumn("reward {task.fields[reward]}"),
            TextColumn("{task.fields[sps]} steps/s"),
            TimeRemainingColumn(),
            console=err,
            transient=False,
        )
        self.start_step = start
        self.task = self.progress.add_task(
            "train", total=cfg.total_timesteps, episodes=0, reward="-", sps="-"
        )
        import time

        self._clock = time.monotonic
        self._t0 = self._clock()

    def start(self) -> None:
        self.progress.start()

    def stop(self) -> None:
        self.progress.stop()

    def update(self, timesteps: int, episodes: int, reward: float | None) -> None:
        done = timesteps - self.start_step
        elapsed = max(self._clock() - self._t0, 1e-9)
        self.progress.update(
            self.task, completed=done, episodes=episodes,
            reward="-" if reward is None else f"{reward:.1f}", sps=f"{done / elapsed:,.0f}",
        )  # fmt: skip


# -- reading back ---------------------------------------------------------------------------
def run_summary(run: Run) -> dict[str, Any]:
    return {
        "run_id": run.id, "name": run.name, "agent_id": run.agent_id,
        "algorithm": run.algorithm, "env_id": run.env_id, "backend": run.backend,
        "status": run.status, "start_time": run.start_time, "end_time": run.end_time,
        "episodes": run.episodes, "timesteps": run.timesteps, "tags": run.tags,
        "parent_run_id": run.parent_run_id, "error": run.error,
    }  # fmt: skip


STATUSES = ("running", "completed", "stopped", "failed")


@app.command()
def runs(
    status: Annotated[str | None, typer.Option(help=f"One of {', '.join(STATUSES)}.")] = None,
    agent_id: Annotated[str | None, typer.Option()] = None,
    tag: Annotated[str | None, typer.Option(help="Runs with this tag.")] = None,
    algo: Annotated[str | None, typer.Option(help="Runs of this algorithm.")] = None,
    env: Annotated[str | None, typer.Option(help="Runs on this env id.")] = None,
    search: Annotated[
        str | None, typer.Option(help="Runs whose name contains this text (any case).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 50,
    json_: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    """List runs, newest first."""
    from rltrack.tracking.store import RunFilter

    if status is not None and status not in STATUSES:
        fail(f"--status {status!r}: choose one of {', '.join(STATUSES)}")
    missing = missing_database(db)
    if missing is not None:
        # Nothing trained there yet: no runs, and no empty database created to say so.
        if json_:
            print_json([])
        else:
            err.print(f"no runs recorded yet: there is no database at {missing}", highlight=False)
        return
    store = open_store(db, runs=[])
    flt = RunFilter(status=status, agent_id=agent_id, tag=tag, algorithm=algo, env_id=env, q=search)
    found = store.list_runs(dataclasses.replace(flt, limit=limit))
    if json_:
        print_json([run_summary(r) for r in found])
        return
    table = Table("run", "name", "algo", "env", "status", "episodes", "timesteps", "started")
    colours = {"completed": "green", "running": "cyan", "stopped": "yellow", "failed": "red"}
    for r in found:
        table.add_row(
            r.id[:8], r.name, r.algorithm, r.env_id,
            f"[{colours.get(r.status, 'white')}]{r.status}[/]", str(r.episodes),
            str(r.timesteps), r.start_time.strftime("%Y-%m-%d %H:%M:%S"),
        )  # fmt: skip
    out.print(table)
    if len(found) == limit:
        total = store.count_runs(flt)
        if total > limit:
            err.print(f"the newest {limit} of {total:,} runs; --limit N for more", highlight=False)


@app.command()
def show(run: str, json_: JsonOpt = False, db: DbOpt = None) -> None:
    """One run: its configuration, progress and checkpoints."""
    store = open_store(db, runs=[run])
    r = find_run(store, run)
    counts = store.count_episodes(r.id)
    checkpoints = store.list_checkpoints(r.id)
    data = {
        **run_summary(r),
        "notes": r.notes,
        "config": r.config,
        "metadata": r.metadata,
        "episodes": sum(n for s, n in counts.items() if s != "started"),
        "episodes_by_status": counts,
        "checkpoints": [
            {
                "episode": c.episode_index,
                "timestep": c.timestep,
                "path": c.path,
                "sha256": c.sha256,
                "size": c.size,
                "kind": c.kind,
            }
            for c in checkpoints
        ],  # fmt: skip
    }
    data["evaluations"] = [
        {
            "checkpoint_path": e.checkpoint_path,
            "opponent": e.opponent,
            "episodes": e.episodes,
            "mean_reward": e.mean_reward,
            "std_reward": e.std_reward,
            "win_rate": e.win_rate,
            "mean_length": e.mean_length,
            "metrics": e.metrics,
        }  # fmt: skip
        for e in store.list_evaluations(r.id)
    ]
    if json_:
        print_json(data)
        return
    out.print(f"[bold]{r.name}[/]  ({r.id})", highlight=False)
    for key in ("status", "algorithm", "env_id", "backend", "agent_id", "start_time",
                "end_time", "timesteps", "episodes", "parent_run_id", "error",
                "notes"):  # fmt: skip
        value = data[key]
        if value is not None:
            out.print(f"  {key:<11} {to_jsonable(value)}", highlight=False)
    if r.tags:
        out.print(f"  {'tags':<11} {', '.join(r.tags)}", highlight=False)
    out.print(f"  {'by status':<11} {counts}", highlight=False)
    out.print("  hyperparams " + json.dumps(r.config.get("hyperparams", {})), highlight=False)
    for c in data["checkpoints"]:
        out.print(f"  checkpoint  {c['kind']:<8} step {c['timestep']:>9}  {c['path']}")
    for e in data["evaluations"]:
        played = f" {_checkpoint_label(e['checkpoint_path'])}" if e["checkpoint_path"] else ""
        out.print(
            f"  evaluation  {(e['opponent'] or '-') + played:<24} reward {e['mean_reward']:.4g} "
            f"± {e['std_reward']:.3g} over {e['episodes']} episodes",
            highlight=False,
        )


def _checkpoint_label(path: str) -> str:
    """Which checkpoint an evaluation played: ``final.zip``, or ``agent-1/best.pt`` for one of
    several agents (each has its own folder under the run's checkpoints)."""
    p = Path(path)
    return p.name if p.parent.name == "checkpoints" else f"{p.parent.name}/{p.name}"


@app.command()
def episodes(
    run: str,
    status: Annotated[
        str | None, typer.Option(help="started, completed, truncated or error.")
    ] = None,
    sort: Annotated[
        str,
        typer.Option(
            help="index, total_reward or steps; a leading - sorts descending "
            "(-index: newest first, -total_reward: best first)."
        ),
    ] = "index",
    limit: Annotated[
        int | None, typer.Option(min=1, help="Only the first N episodes in that order.")
    ] = None,
    json_: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    """The episodes of a run: a table of the first 1,000 in --sort order (--limit N for
    another number), or all of them with --json."""
    from rltrack.tracking.store import EPISODE_SORTS, EpisodeFilter

    if status is not None and status not in ("started", "completed", "truncated", "error"):
        fail(f"--status {status!r}: choose one of started, completed, truncated, error")
    if sort.removeprefix("-") not in EPISODE_SORTS:
        choices = ", ".join(EPISODE_SORTS)
        fail(f"--sort {sort!r}: choose one of {choices}, each with a leading - for descending")
    store = open_store(db, runs=[run])
    r = find_run(store, run)
    # A table stops at TABLE_ROWS unless --limit says otherwise (a long run has a million
    # episodes, which no terminal wants); --json gives them all.
    cap = limit if limit is not None or json_ else TABLE_ROWS
    if sort == "index" and cap is None and status is None:
        # Every episode as JSON, page by page: a run of a million would otherwise be held
        # whole, twice (entities, then dicts), before the first byte is written.
        print_json_stream(_episode_item(e) for e in _all_episodes(store, r.id))
        return
    if sort == "index" and cap is None:
        rows = store.list_episodes(r.id, status=status)
    else:
        page = store.episode_page(
            r.id, flt=EpisodeFilter(status=status), sort=sort, limit=cap or 2**31 - 1
        )
        rows = page.items
        if not json_ and len(rows) < page.total:
            more = "" if limit is not None else "; --limit N shows more, --json all of them"
            err.print(f"{len(rows):,} of {page.total:,} episodes, by {sort}{more}", highlight=False)
    if json_:
        print_json([_episode_item(e) for e in rows])
        return
    table = Table("index", "slot", "status", "reward", "steps", "end step", "win", "epsilon")
    for e in rows:
        table.add_row(
            str(e.index), str(e.env_slot), e.status, _fmt(e.total_reward), str(e.steps),
            str(e.end_timestep), _fmt(e.win), _fmt(e.epsilon),
        )  # fmt: skip
    out.print(table)


def _episode_item(e: Episode) -> dict[str, Any]:
    return {
        "index": e.index, "env_slot": e.env_slot, "status": e.status,
        "total_reward": e.total_reward, "steps": e.steps, "start_timestep": e.start_timestep,
        "end_timestep": e.end_timestep, "start_time": e.start_time, "end_time": e.end_time,
        "win": e.win, "epsilon": e.epsilon, "drain_steps": e.drain_steps, "metrics": e.metrics,
    }  # fmt: skip


def _all_episodes(store: Any, run_id: str, page: int = 5000) -> Iterator[Episode]:
    """Every episode of a run by index, read a keyset page at a time."""
    after: int | None = None
    while True:
        batch = store.episodes_after(run_id, after, page)
        yield from batch
        if len(batch) < page:
            return
        after = batch[-1].index


@app.command()
def metrics(
    run: str,
    key: Annotated[
        str | None, typer.Option(help="Only this key, e.g. rollout/ep_rew_mean.")
    ] = None,
    json_: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    """Training metrics of a run (losses, rewards, fps, ...): the last value of each, the
    points of one with --key (a table of the first 1,000), or every point with --json."""
    store = open_store(db, runs=[run])
    r = find_run(store, run)
    rows = store.list_metrics(r.id, key=key)
    if key is not None and not rows:
        keys = store.metric_keys(r.id)
        err.print(
            f"run {r.id[:8]} has no metric {key!r}"
            + (f"; its metrics: {', '.join(keys)}" if keys else " (it has logged none yet)"),
            highlight=False,
        )
    if json_:
        print_json(
            [
                {
                    "key": m.key,
                    "timestep": m.timestep,
                    "value": m.value,
                    "wall_time": m.wall_time,
                    "episodes": m.episodes,
                }
                for m in rows
            ]  # fmt: skip
        )
        return
    if key is None:
        out.print(_metrics_by_key(rows))
        if rows:
            err.print(
                "one row per metric, with its last value; --key KEY for its points, --json for "
                "every point",
                highlight=False,
            )
        return
    table = Table("key", "timestep", "value", "episodes")
    for m in rows[:TABLE_ROWS]:
        table.add_row(m.key, str(m.timestep), _fmt(m.value), str(m.episodes))
    out.print(table)
    if len(rows) > TABLE_ROWS:
        err.print(
            f"the first {TABLE_ROWS:,} of {len(rows):,} points of {key}; --json for all of them",
            highlight=False,
        )


def _metrics_by_key(rows: Sequence[Metric]) -> Table:
    """A run's metrics at a glance: per key, its number of points, its last value (and the
    timestep of it), and its smallest and largest finite values."""
    by_key: dict[str, list[Metric]] = {}
    for m in rows:  # ordered by key, then timestep
        by_key.setdefault(m.key, []).append(m)
    table = Table("points", "last step", "last value", "min", "max")
    # Keys in full: they are what --key takes.
    table.columns.insert(0, Column("key", no_wrap=True, min_width=max(map(len, by_key), default=3)))
    for k, points in by_key.items():
        finite = [m.value for m in points if math.isfinite(m.value)]
        last = points[-1]
        table.add_row(
            k, f"{len(points):,}", str(last.timestep), _fmt(last.value),
            _fmt(min(finite)) if finite else "-", _fmt(max(finite)) if finite else "-",
        )  # fmt: skip
    return table


@app.command()
def compare(
    runs: Annotated[list[str], typer.Argument(help="Two to eight runs (id, id prefix or name).")],
    json_: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    """Runs side by side: their results, and the settings that differ between them."""
    from rltrack.config import config_differences

    refs = list(dict.fromkeys(runs))
    if not 2 <= len(refs) <= 8:
        fail(f"compare takes 2 to 8 distinct runs, got {len(refs)}")
    store = open_store(db, runs=refs)
    found = list({r.id: r for r in (find_run(store, ref) for ref in refs)}.values())
    if len(found) < 2:
        fail(f"{' and '.join(refs)} are the same run; name at least two")
    stats = store.run_stats([r.id for r in found])
    rows: list[tuple[str, list[Any]]] = [
        ("name", [r.name for r in found]),
        ("algorithm", [r.algorithm for r in found]),
        ("env", [r.env_id for r in found]),
        ("seed", [r.seed for r in found]),
        ("status", [r.status for r in found]),
        ("timesteps", [r.timesteps for r in found]),
        ("episodes", [stats[r.id].finished for r in found]),
        ("mean reward", [stats[r.id].mean_reward for r in found]),
        ("last 100 mean", [_last_mean_reward(store, r.id) for r in found]),
        ("best reward", [stats[r.id].max_reward for r in found]),
        ("mean length", [stats[r.id].mean_steps for r in found]),
        ("win rate (last 100)", [stats[r.id].last_win_rate for r in found]),
        ("latest evaluation", [_latest_evaluation(store, r.id) for r in found]),
    ]
    rows = [(k, v) for k, v in rows if any(x is not None for x in v)]
    ignored = ("run_name", "tags", "seed")  # the seed has its own row above
    differing = [
        (k, v) for k, v in config_differences([r.config for r in found]) if k not in ignored
    ]
    if json_:
        print_json(
            {
                "runs": [r.id for r in found],
                "results": {k: dict(zip([r.id for r in found], v, strict=True)) for k, v in rows},
                "differing_params": [
                    {"key": k, "values": dict(zip([r.id for r in found], v, strict=True))}
                    for k, v in differing
                ],
            }
        )
        return
    table = Table("", *(r.id[:8] for r in found))
    for key, values in rows:
        table.add_row(key, *(_cell(v) for v in values))
    if differing:
        table.add_section()
        for key, values in differing:
            table.add_row(key, *(_cell(v) for v in values))
    out.print(table)
    if not differing:
        err.print("their settings are the same (names, tags and seeds aside)", highlight=False)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return _fmt(value)
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _last_mean_reward(store: Any, run_id: str, n: int = 100) -> float | None:
    """Mean reward of the run's newest ``n`` finished episodes."""
    page = store.episode_page(run_id, sort="-index", limit=n + 16)
    rewards = [e.total_reward for e in page.items if e.total_reward is not None][:n]
    return sum(rewards) / len(rewards) if rewards else None


def _latest_evaluation(store: Any, run_id: str) -> float | None:
    """Mean reward of the run's newest evaluation of its own policy."""
    agent = [e for e in store.list_evaluations(run_id) if e.opponent in (None, "agent")]
    return max(agent, key=lambda e: e.created_at).mean_reward if agent else None


@app.command()
def check(
    run: str,
    repair: Annotated[
        bool,
        typer.Option(
            "--repair",
            help="Mark a run whose heartbeat was lost as failed and close its open episodes.",
        ),
    ] = False,
    json_: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    """Is every episode of a run final, with its metrics? Exit 0 only when it is."""
    store = open_store(db, runs=[run])
    r = find_run(store, run)
    repaired = 0
    if repair:
        if r.status == "running":
            fail(
                f"run {r.id} is still alive (heartbeat at {r.heartbeat_at:%H:%M:%S} UTC); "
                "stop it first, or wait until its heartbeat is stale (RLTRACK_STALE_S)"
            )
        repaired = store.repair_run(r.id, r.error or "heartbeat lost")
        r = store.get_run(r.id)
    health = store.episode_health(r.id)
    report = {
        "run_id": r.id, "name": r.name, "status": r.status, "error": r.error,
        "ok": health.ok, "episodes": sum(health.counts.values()), "counts": health.counts,
        "started": health.started, "missing_metrics": health.missing_metrics,
        "missing_trades": health.missing_trades, "gaps": health.gaps, "repaired": repaired,
    }  # fmt: skip
    if json_:
        print_json(report)
    else:
        out.print(f"[bold]{r.name}[/] ({r.id})  status {r.status}", highlight=False)
        if r.error:
            out.print(f"  error           {r.error}", highlight=False)
        by_status = ", ".join(f"{k} {v}" for k, v in sorted(health.counts.items())) or "none"
        out.print(f"  episodes        {report['episodes']} ({by_status})", highlight=False)
        for label, items in (
            ("left started", health.started),
            ("missing metrics", health.missing_metrics),
            ("missing trades", health.missing_trades),
            ("index gaps", [f"{a}..{b}" for a, b in health.gaps]),
        ):
            shown = ", ".join(map(str, items[:20])) + (" …" if len(items) > 20 else "")
            out.print(f"  {label:<15} {shown or 'none'}", highlight=False)
        if repaired:
            out.print(f"  repaired        {repaired} episodes closed as error", highlight=False)
        out.print("[green]OK[/]: every episode is final" if health.ok else "[red]NOT OK[/]")
    raise typer.Exit(0 if health.ok else 1)


@app.command()
def tag(
    run: Annotated[str, typer.Argument(help="Run (id, id prefix or name).")],
    add: Annotated[list[str] | None, typer.Argument(help="Tags to add.")] = None,
    remove: Annotated[
        list[str] | None, typer.Option("--remove", help="A tag to remove (repeatable).")
    ] = None,
    notes: Annotated[
        str | None, typer.Option(help="Replace the run's notes ('' clears them).")
    ] = None,
    db: DbOpt = None,
) -> None:
    """Add or remove a run's tags, or set its notes; with neither, print them."""
    store = open_store(db, runs=[run])
    r = find_run(store, run)
    blank = [t for t in (*(add or ()), *(remove or ())) if not t.strip()]
    if blank:
        fail("a tag cannot be empty")
    unknown = [t for t in remove or () if t not in r.tags]
    if unknown:
        fail(
            f"run {r.id[:8]} has no tag {', '.join(map(repr, unknown))}; its tags are "
            + (", ".join(r.tags) or "none")
        )
    if add or remove or notes is not None:
        tags = [t for t in (*r.tags, *(add or ())) if t not in (remove or ())]
        r = store.update_run(r.id, tags=tags if (add or remove) else None, notes=notes)
    out.print(f"[bold]{r.name}[/] ({r.id[:8]})", highlight=False)
    out.print(f"  tags   {', '.join(r.tags) or '-'}", highlight=False)
    out.print(f"  notes  {r.notes or '-'}", highlight=False)


@app.command()
def delete(
    runs: Annotated[list[str], typer.Argument(help="Runs (id, id prefix or name).")],
    keep_files: Annotated[
        bool,
        typer.Option("--keep-files", help="Keep each run's folder (checkpoints, videos)."),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Delete without asking.")] = False,
    db: DbOpt = None,
) -> None:
    """Delete runs: their records (episodes, trades, metrics, checkpoints, evaluations) and
    their run folders."""
    store = open_store(db, runs=runs)
    found = list({r.id: r for r in (find_run(store, ref) for ref in runs)}.values())
    running = [r for r in found if r.status == "running"]
    if running:
        fail(
            f"run {running[0].name} ({running[0].id[:8]}) is still running: stop it first "
            "(or, if its trainer was killed, wait until its heartbeat is stale)"
        )
    folders = {r.id: _run_folder(r) for r in found}
    for r in found:
        folder = folders[r.id]
        where = "kept" if keep_files else f"{folder} ({_size(folder)})" if folder else "no folder"
        err.print(
            f"  {r.name} ({r.id[:8]}): {r.status}, {r.episodes:,} episodes; files: {where}",
            highlight=False,
        )
    if not yes:
        if not sys.stdin.isatty():
            fail("deleting asks for confirmation; pass --yes to delete without asking")
        if not typer.confirm(f"Delete {len(found)} run{'s' if len(found) != 1 else ''}?"):
            raise typer.Exit(1)
    from rltrack.tracking.spool import SPOOL_NAME
    from rltrack.tracking.store import StoreError

    for r in found:
        try:
            store.delete_run(r.id)
        except StoreError as exc:
            fail(str(exc), 1)
        folder = folders[r.id]
        if folder is not None:
            if keep_files:
                # Spooled records would bring the run back at the next `rltrack sync`.
                (folder / SPOOL_NAME).unlink(missing_ok=True)
            else:
                shutil.rmtree(folder, ignore_errors=True)
        out.print(f"deleted {r.name} ({r.id[:8]})", highlight=False)


def _run_folder(r: Run) -> Path | None:
    """The run's own folder (named by its id), when it exists."""
    folder = Path(r.metadata.get("run_dir") or settings.home() / "runs" / r.id)
    return folder if folder.name == r.id and folder.is_dir() else None


def _size(folder: Path) -> str:
    total = float(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()))
    for unit in ("B", "KB", "MB", "GB"):
        if total < 1024 or unit == "GB":
            return f"{total:.0f} {unit}" if unit == "B" else f"{total:.1f} {unit}"
        total /= 1024
    return ""


@app.command()
def sync(db: DbOpt = None) -> None:
    """Replay spooled records of runs that ended while their database was away."""
    from rltrack.tracking.spool import Spool, find_spools
    from rltrack.tracking.store import StoreError
    from rltrack.tracking.store import open_store as open_url

    folders = find_spools(settings.home())
    if not folders:
        out.print(f"nothing to sync in {settings.home()}", highlight=False)
        return
    failed = 0
    for folder in folders:
        spool = Spool(folder)
        url = settings.database_url(db) if db else (spool.target_url or settings.database_url())
        try:
            store = open_url(url)
            written = spool.replay(store)
            store.close()
        except StoreError as exc:
            failed += 1
            err.print(f"[red]{folder.name}[/]: still cannot write: {exc}", highlight=False)
            continue
        out.print(f"run {folder.name}: {written} records replayed", highlight=False)
    raise typer.Exit(1 if failed else 0)


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
    json_: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    """Play a run's checkpoints deterministically and record the results as its evaluations."""
    from rltrack.evaluator import EvaluateError, Result, plan, run_plan
    from rltrack.tracking.store import StoreError

    store = open_store(db, runs=[run])
    r = find_run(store, run)
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

    def keep(result: Result) -> None:
        nonlocal unrecorded
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
        table = Table(
            Column("policy", no_wrap=True), Column("checkpoint", no_wrap=True), "step", "episodes",
            Column("reward ± std", no_wrap=True), "length",
            *(("win rate",) if wins else ()), title=f"{r.name} ({r.id[:8]})",
        )  # fmt: skip
        for row in rows:
            table.add_row(
                row["policy"],
                _checkpoint_label(row["checkpoint_path"]) if row["checkpoint_path"] else "-",
                "-" if row["timestep"] is None else f"{row['timestep']:,}",
                str(row["episodes"]), f"{_fmt(row['mean_reward'])} ± {_fmt(row['std_reward'])}",
                _fmt(row["mean_length"]),
                *(() if not wins else (
                    "-" if row["win_rate"] is None else f"{100 * row['win_rate']:.1f}%",
                )),
            )  # fmt: skip
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
def export(
    run: Annotated[str, typer.Argument(help="Run (id, id prefix or name).")],
    table: Annotated[
        str, typer.Option(help="episodes (one row each, metrics as columns) or trades.")
    ] = "episodes",
    format_: Annotated[str, typer.Option("--format", help="csv, json or parquet.")] = "csv",
    out_path: Annotated[
        Path | None,
        typer.Option("--out", help="File to write (default: standard output; - also means it)."),
    ] = None,
    db: DbOpt = None,
) -> None:
    """Write a run's episodes or trades as CSV, JSON or Parquet (the dashboard's export)."""
    from rltrack.exporters import FORMATS, TABLES, export
    from rltrack.tracking.store import StoreError

    if table not in TABLES:
        fail(f"--table {table!r}: choose one of {', '.join(TABLES)}")
    if format_ not in FORMATS:
        fail(f"--format {format_!r}: choose one of {', '.join(FORMATS)}")
    to_stdout = out_path is None or str(out_path) == "-"
    if to_stdout and format_ == "parquet" and sys.stdout.isatty():
        fail("--format parquet is binary: pass --out FILE, or redirect standard output")
    if not to_stdout:
        assert out_path is not None
        if out_path.is_dir():
            fail(f"--out {out_path} is a folder; name a file in it")
        if not out_path.parent.is_dir():
            fail(f"--out {out_path}: the folder {out_path.parent} does not exist")
    store = open_store(db, runs=[run])
    r = find_run(store, run)
    try:
        chunks = export(store, r.id, table, format_)  # type: ignore[arg-type]
        if to_stdout:
            sink = sys.stdout.buffer
            for chunk in chunks:
                sink.write(chunk.encode() if isinstance(chunk, str) else chunk)
            sink.flush()
            return
        assert out_path is not None
        part = out_path.with_name(f".{out_path.name}.part")
        try:
            with part.open("wb") as f:
                for chunk in chunks:
                    f.write(chunk.encode() if isinstance(chunk, str) else chunk)
            part.replace(out_path)
        finally:
            part.unlink(missing_ok=True)
    except StoreError as exc:
        fail(str(exc), 1)
    except BrokenPipeError:
        raise  # a reader that stopped early (| head): Click exits quietly
    except OSError as exc:
        fail(f"could not write {out_path or 'standard output'}: {exc.strerror or exc}", 1)
    err.print(
        f"{table} of {r.name} ({r.id[:8]}) written to {out_path} as {format_}", highlight=False
    )


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


def _fmt(value: float | None) -> str:
    """Four significant digits, but whole numbers from 10,000 up in full (12,000 steps, not
    1.2e+04)."""
    if value is None:
        return "-"
    if math.isfinite(value) and 1e4 <= abs(value) < 1e15:
        return f"{value:,.0f}"
    return f"{value:.4g}"


# -- database -------------------------------------------------------------------------------
@db_app.command("upgrade")
def db_upgrade(db: DbOpt = None) -> None:
    """Create the schema, or bring an older one to this version of rltrack."""
    from rltrack.tracking.sql import engine as eng
    from rltrack.tracking.store import StoreError

    url = eng.normalize_url(settings.database_url(db))
    try:
        if eng.is_sqlite(url):
            eng.check_sqlite_location(url)
        engine = eng.make_engine(url)
        before, after = eng.upgrade(url, engine)
    except StoreError as exc:
        fail(str(exc))
    except Exception as exc:  # sqlalchemy's OperationalError when the server is away
        fail(f"cannot upgrade {eng.safe_url(url)}: {exc}")
    if before == after:
        out.print(f"{eng.safe_url(url)} is up to date (revision {after})", highlight=False)
    else:
        out.print(f"{eng.safe_url(url)}: {before or 'empty'} → {after}", highlight=False)


# -- serve ----------------------------------------------------------------------------------
@app.command()
def serve(
    host: Annotated[
        str, typer.Option(help="Address to bind; 0.0.0.0 exposes the API to the network.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
    db: DbOpt = None,
) -> None:
    """Serve the read-only REST API (and its OpenAPI docs at /docs)."""
    import uvicorn

    from rltrack.api import create_app
    from rltrack.api.app import GRACEFUL_SHUTDOWN_S
    from rltrack.tracking.sql import engine as eng
    from rltrack.tracking.store import StoreError

    url = settings.database_url(db)
    # A URL that can never work is a usage error now, not a 503 on every request later; a
    # server that is merely down is fine (the API answers 503 until it is back).
    try:
        if eng.is_sqlite(eng.normalize_url(url)):
            eng.check_sqlite_location(eng.normalize_url(url))
        eng.make_engine(url).dispose()
    except StoreError as exc:
        fail(str(exc))
    _check_listen(host, port)
    out.print(
        f"serving {eng.safe_url(eng.normalize_url(url))} on http://{host}:{port}", highlight=False
    )
    uvicorn.run(
        create_app(url, freeze_gc=True), host=host, port=port, log_level="info",
        # Live event streams never end by themselves: cut them off at shutdown.
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )  # fmt: skip


def _check_listen(host: str, port: int) -> None:
    """Exit 2 naming the problem when ``serve`` could not listen at host:port (a port already
    taken, an address this machine does not have), rather than uvicorn's log lines and exit 3.
    Binds the way uvicorn will (SO_REUSEADDR), then lets go."""
    import errno
    import socket

    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        fail(f"--host {host!r}: {exc.strerror}; give an address such as 127.0.0.1 or 0.0.0.0")
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                fail(
                    f"port {port} on {host} is in use (another rltrack serve?); stop it or pass "
                    "--port with a free one"
                )
            fail(f"cannot listen on {host}:{port}: {exc.strerror}; pass another --host or --port")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
