"""One training run from start to end: run events, signals, failures, exit codes."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from rltrack.config import TrainConfig
from rltrack.training.backends import registry
from rltrack.training.backends.registry import Backend
from rltrack.training.context import StopRequest, TrainContext
from rltrack.training.events import (
    EventSink,
    RecordKeeper,
    RecordRefused,
    RunEnded,
    RunStarted,
    RunStatus,
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def new_run_id() -> str:
    return uuid.uuid4().hex


def default_run_name(cfg: TrainConfig) -> str:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    env = cfg.env.replace("/", "-").replace(":", "-")
    return f"{env}__{cfg.algo}__{cfg.seed}__{stamp}"


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=2, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def make_backend(ctx: TrainContext) -> Backend:
    """The run's backend, as the registry builds it."""
    return registry.get(ctx.config.resolved_backend).load().build(ctx)


@contextmanager
def graceful_signals(stop: StopRequest) -> Iterator[None]:
    """First SIGINT/SIGTERM: stop after the current step. Second SIGINT: stop at once."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        already = stop.requested
        stop.request(signum)
        if already and signum == signal.SIGINT:
            raise KeyboardInterrupt

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


@dataclass
class RunOutcome:
    run_id: str
    status: RunStatus
    exit_code: int
    timesteps: int
    episodes: int
    error: str | None = None
    # Records the store refused and dropped; a run with any exits non-zero.
    records_lost: int = 0
    # False when the store refused the run's own record: nothing was trained or kept.
    recorded: bool = True


def run_training(
    ctx: TrainContext,
    *,
    name: str,
    parent_run_id: str | None = None,
    on_started: Callable[[str], None] | None = None,
) -> RunOutcome:
    """Build the backend, announce the run, train, and record how it ended.

    Configuration errors raised while building the backend propagate before anything is
    recorded; everything after the run is announced ends in a RunEnded event. When the sink
    keeps records (a :class:`RecordKeeper`), a run whose own record the store refuses stops
    before its first step, and one that lost records on the way does not end as a success.
    """
    cfg = ctx.config
    backend = make_backend(ctx)
    config = cfg.model_dump(mode="json")
    config["hyperparams"] = backend.hyperparams()
    config["policy"] = backend.policy
    config["backend"] = backend.name
    config["torch_threads"] = backend.torch_threads
    started = RunStarted(
            run_id=ctx.run_id,
            name=name,
            algorithm=cfg.algo,
            env_id=cfg.env,
            backend=backend.name,
            config=config,
            agent_id=cfg.agent_id,
            seed=cfg.seed,
            tags=cfg.tags,
            parent_run_id=parent_run_id,
            host=socket.gethostname(),
            pid=os.getpid(),
            git_commit=git_commit(),
            total_timesteps=cfg.total_timesteps,
            metadata={"run_dir": str(ctx.run_dir.resolve()), "start_timestep": ctx.resume_timestep},
            group=cfg.group,
    )  # fmt: skip
    try:
        announce(ctx.sink, started)
    except RecordRefused as exc:
        backend.close()
        return RunOutcome(ctx.run_id, "failed", EXIT_FAILED, 0, 0, str(exc), recorded=False)
    if on_started is not None:
        on_started(ctx.run_id)

    def end(
        status: RunStatus, code: int, timesteps: int, episodes: int, error: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> RunOutcome:  # fmt: skip
        lost = record_end(ctx.sink, ctx.run_id, status, timesteps, episodes, error, metadata)
        if lost and code == EXIT_OK:
            code = EXIT_FAILED
        return RunOutcome(ctx.run_id, status, code, timesteps, episodes, error, records_lost=lost)

    try:
        with graceful_signals(ctx.stop):
            result = backend.train()
    except KeyboardInterrupt:
        return end("stopped", ctx.stop.exit_code, backend.timesteps, backend.episodes)
    except Exception as exc:
        return end(
            "failed",
            EXIT_FAILED,
            backend.timesteps,
            backend.episodes,
            error=f"{type(exc).__name__}: {exc}",
            metadata={
                "error_type": type(exc).__name__,
                "error_message": str(exc),
                "traceback": traceback.format_exc(),
            },
        )
    if ctx.stop.requested:
        return end("stopped", ctx.stop.exit_code, result.timesteps, result.episodes)
    return end("completed", EXIT_OK, result.timesteps, result.episodes)


def announce(sink: EventSink, started: RunStarted) -> None:
    """Emit the run's own record. When the sink keeps records (a :class:`RecordKeeper`), wait
    until it is kept (written, or spooled through an outage); :class:`RecordRefused` when the
    store refused it: nothing of the run could be kept, so it must not go on."""
    sink.emit(started)
    if isinstance(sink, RecordKeeper):
        sink.confirm_run(started.run_id)


def record_end(
    sink: EventSink,
    run_id: str,
    status: RunStatus,
    timesteps: int,
    episodes: int,
    error: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> int:
    """Emit the run's RunEnded with the records the store refused so far (and the first
    refusal's cause in its metadata); returns how many were lost."""
    loss = sink.records_lost(run_id) if isinstance(sink, RecordKeeper) else None
    lost = loss.count if loss is not None else 0
    meta = dict(metadata or {})
    if loss is not None and loss.cause is not None:
        meta["records_lost_cause"] = loss.cause
    sink.emit(
        RunEnded(run_id, status, timesteps, episodes, error, metadata=meta, records_lost=lost)
    )
    return lost


def run_dir_for(home: Path, run_id: str) -> Path:
    return home / "runs" / run_id
