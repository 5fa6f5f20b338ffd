"""`rltrack train`: build the config, open (or defer) the store, train and record the run."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.markup import escape

from rltrack import settings
from rltrack.cli.common import (
    DbOpt,
    app,
    err,
    fail,
    open_run,
    out,
)
from rltrack.config import ALGORITHMS, BACKENDS, ConfigError, build_config, deep_merge, parse_set
from rltrack.tracking.entities import Run
from rltrack.training.backends import registry


def with_backend_flags(command: Callable[..., None]) -> Callable[..., None]:
    """``command`` with a ``--flag`` for every setting a registered backend declares (from its
    pydantic field: its type, and its title as the help), passed to it in ``**backend_settings``."""
    signature = inspect.signature(command, eval_str=True)
    params = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
    flags = []
    for name, (spec, info) in registry.settings_fields().items():
        kind = info.annotation if info.annotation is not None else str
        help_text = f"{spec.name}: {info.title or info.description or name}"
        annotation = Annotated[kind | None, typer.Option(help=help_text)]  # type: ignore[valid-type]
        flags.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None,
                                       annotation=annotation))  # fmt: skip
        command.__annotations__[name] = annotation
    at = next(i for i, p in enumerate(params) if p.name == "total_timesteps")
    params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in params]
    command.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*params[:at], *flags, *params[at:]]
    )
    return command


@app.command()
@with_backend_flags
def train(
    algo: Annotated[str | None, typer.Option(help=f"Algorithm: {', '.join(ALGORITHMS)}.")] = None,
    env: Annotated[str | None, typer.Option(help="Gymnasium env id.")] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="YAML config file (see conf/).")
    ] = None,
    mode: Annotated[str | None, typer.Option(help="Preset: smoke or full.")] = None,
    backend: Annotated[
        str | None, typer.Option(help=f"{', '.join(BACKENDS)} (default: the algorithm's own).")
    ] = None,
    num_envs: Annotated[int | None, typer.Option(help="Parallel environments.")] = None,
    vec_env: Annotated[str | None, typer.Option(help="dummy or subproc.")] = None,
    total_timesteps: Annotated[int | None, typer.Option(help="Environment steps.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    seeds: Annotated[
        str | None,
        typer.Option(help="One run per seed, as one group: 0-4, 0,3,7 or 0-2,9."),
    ] = None,
    parallel: Annotated[
        int | None, typer.Option(min=1, max=64, help="With --seeds: runs at once (default 1).")
    ] = None,
    group: Annotated[
        str | None, typer.Option(help="Group the run joins (made if new); --seeds names theirs.")
    ] = None,
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
    tensorboard: Annotated[
        Path | None,
        typer.Option(
            help="Also write the run's metrics and episodes as TensorBoard event files here."
        ),
    ] = None,
    db: DbOpt = None,
    **backend_settings: Any,
) -> None:
    """Train an agent and record the whole run."""
    from rltrack.envs import UnknownEnvError, check_env_id

    overrides: dict[str, Any] = {
        "algo": algo, "env": env, "mode": mode, "backend": backend, "num_envs": num_envs,
        "vec_env": vec_env, **backend_settings, "total_timesteps": total_timesteps, "seed": seed,
        "group": group,
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
            store, source = open_run(db, ref)
            parent = source if resume else None
            base = {
                k: v for k, v in source.config.items() if k not in ("run_name", "mode", "group")
            }
        flags = {
            k: f"--{k.replace('_', '-')}" for k, v in backend_settings.items() if v is not None
        }
        cfg = build_config(file=config, overrides=overrides, base=base, written=flags)
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
    seed_list = None
    if seeds is not None:
        from rltrack.cli.seeds import parse_seeds

        if seed is not None:
            fail("--seed and --seeds: give one (--seeds 0-4 trains one run per seed)")
        if resume:
            fail("--seeds starts new runs; --resume continues one run: give one of them")
        seed_list = parse_seeds(seeds)
    elif parallel is not None:
        fail("--parallel runs the seeds of --seeds side by side; give --seeds too")
    if cfg.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            fail("--device cuda: no CUDA device is available here; use --device cpu or auto")
    if store is None:
        store = _store_for_training(db)
    if seed_list is not None:
        from rltrack.cli.seeds import train_seeds

        train_seeds(cfg, seed_list, parallel or 1, store, tensorboard)
    _train(cfg, store, parent, tensorboard)


def _store_for_training(db: str | None) -> Any:
    """A server that is away at start does not stop training: records go to the spool until it
    answers. A SQLite location that cannot hold a database is a usage error."""
    from rltrack.tracking.session import RecordingError, open_store_for_writing
    from rltrack.tracking.sql.engine import safe_url

    try:
        store, url, deferred = open_store_for_writing(db)
    except RecordingError as exc:
        fail(str(exc))
    if deferred:
        err.print(
            f"[yellow]database {safe_url(url)} unreachable at start[/]; training goes on and "
            "records are spooled until it answers",
            highlight=False,
        )
    return store


def _train(cfg: Any, store: Any, parent: Run | None, tensorboard: Path | None) -> NoReturn:
    from rltrack.tracking.session import RecordingError, open_recorder
    from rltrack.tracking.sinks import Sinks, make_sink
    from rltrack.tracking.spool import SPOOL_NAME
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
    spool_path = run_dir_for(settings.home(), run_id) / SPOOL_NAME

    def outage(exc: Exception) -> None:
        err.print(
            f"[yellow]database unreachable[/] ({exc}); training goes on, records are spooled "
            f"to {spool_path} and replayed when it answers",
            highlight=False,
        )

    def recovered(n: int) -> None:
        err.print(f"[green]database back[/]: {n} spooled records replayed", highlight=False)

    try:
        extras = [make_sink("tensorboard", str(tensorboard))] if tensorboard else []
    except OSError as exc:
        fail(f"--tensorboard {tensorboard}: cannot write event files there ({exc.strerror or exc})")
    try:
        recorder = open_recorder(store, store.url, run_id, on_outage=outage, on_recovered=recovered)
    except RecordingError as exc:
        fail(str(exc))
    logger, spool, run_dir = recorder.logger, recorder.spool, recorder.run_dir
    sink = Sinks(logger, extras) if extras else logger
    progress = _Progress(cfg, resume_step) if cfg.progress else None
    ctx = TrainContext(
        config=cfg, run_id=run_id, run_dir=run_dir, sink=sink,
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
        recorder.discard_run_dir()  # nothing was recorded for a refused run
        fail(str(exc))
    finally:
        if progress:
            progress.stop()
    state = logger.close()
    if isinstance(sink, Sinks):
        sink.close()
    if not outcome.recorded:
        recorder.discard_run_dir()  # nothing was trained or recorded
        err.print(
            f"[red]error:[/] {escape(str(outcome.error))}; nothing was trained", highlight=False
        )
        raise typer.Exit(outcome.exit_code)
    if state == "spooled":
        err.print(
            f"[yellow]the database is still unreachable[/]: {logger.written} records written, "
            f"the rest kept in {spool.path}; run `rltrack sync` when it is back",
            highlight=False,
        )
    elif state == "failed" and not outcome.records_lost:
        err.print(
            f"[red]error:[/] {logger.dropped} records could not be kept: {logger.failure}",
            highlight=False,
        )
    colour = {"completed": "green", "stopped": "yellow", "failed": "red"}[outcome.status]
    out.print(
        f"[bold {colour}]{outcome.status}[/] run {name} ({run_id}): "
        f"{outcome.timesteps} timesteps, {outcome.episodes} episodes"
        + (f"\n[red]{outcome.error}[/]" if outcome.error else ""),
        highlight=False,
    )
    lost = outcome.records_lost or (logger.dropped if state == "failed" else 0)
    if lost:
        cause = logger.records_lost(run_id, timeout=0).cause or str(logger.failure)
        err.print(
            f"[red]error:[/] the record of this run is incomplete: the database refused {lost} "
            f"records ({escape(cause)}); `rltrack check {run_id[:8]}` lists what is missing",
            highlight=False,
        )
    out.print(
        f"data: {run_dir}  database: {store.url}\n"
        f"look at it: rltrack show {run_id[:8]}  ·  rltrack episodes {run_id[:8]}",
        highlight=False,
    )
    raise typer.Exit(outcome.exit_code or (1 if lost else 0))


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
