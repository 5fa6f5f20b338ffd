"""``rltrack.init()``: the run of a user's own training code, with `rltrack train`'s guarantees.

The records take the same way as `rltrack train`'s: the run folder, its spool while the
database is away, the RunLogger and its heartbeat. A run whose own record the database refuses
raises :class:`RecordingError` before the user's code trains. Episodes get their indices from
the run's one :class:`~rltrack.training.episodes.EpisodeBook`, shared by every integration of
the run (wrappers, callbacks) and by :meth:`Run.log_episode`.

How a run ends:

- :meth:`Run.finish` (``status`` completed by default);
- an exception leaving ``with rltrack.init(...)``: failed, with the error; Ctrl-C: stopped,
  and the exception goes on as Python would;
- SIGTERM (when the program has no handler of its own): stopped, then the process exits as it
  would have (killed by SIGTERM, exit status 143);
- a process that exits without finishing: completed at exit, or failed with the error of an
  uncaught exception, or stopped after Ctrl-C.

Episodes still in flight in an integration when the run ends are closed as truncated (failed:
error) with what they have so far.
"""

from __future__ import annotations

import atexit
import datetime as dt
import os
import signal
import socket
import sys
import threading
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from rltrack.jsonable import jsonable
from rltrack.tracking.session import RecordingError, open_recorder, open_store_for_writing
from rltrack.training.checkpoints import sha256_of
from rltrack.training.episodes import EpisodeBook, trades_of
from rltrack.training.events import (
    ArtifactSaved,
    CheckpointKind,
    CheckpointSaved,
    EpisodeStatus,
    MetricsLogged,
    RecordRefused,
    RunStarted,
    RunStatus,
)
from rltrack.training.runner import announce, git_commit, record_end

__all__ = ["Run", "RecordingError", "init"]

Closer = Callable[[EpisodeStatus, int], None]


class Run:
    """A run being recorded. Made by :func:`init`; a context manager."""

    def __init__(
        self, *, name: str, config: Mapping[str, Any], db: str | None, agent_id: str | None,
        tags: Sequence[str], algorithm: str | None, env_id: str | None,
        group: str | None = None,
    ) -> None:  # fmt: skip
        self.id = uuid.uuid4().hex
        self.name = name
        self.agent_id = agent_id
        store, url, deferred = open_store_for_writing(db)
        self._recorder = open_recorder(store, url, self.id, deferred=deferred)
        self.logger = self._recorder.logger
        self.run_dir: Path = self._recorder.run_dir
        self.book = EpisodeBook(self.logger, self.id)
        self.status: RunStatus = "running"
        self._closers: list[Closer] = []
        self._slots = 0
        self._timestep = 0
        self._lock = threading.Lock()
        started = RunStarted(
            run_id=self.id, name=name, algorithm=algorithm or "custom", env_id=env_id or "custom",
            backend="library", config=jsonable(dict(config)), agent_id=agent_id,
            seed=_seed_of(config), tags=tuple(dict.fromkeys(tags)), host=socket.gethostname(),
            pid=os.getpid(), git_commit=git_commit(),
            metadata={"run_dir": str(self.run_dir.resolve()), "argv": list(sys.argv)},
            group=group,
        )  # fmt: skip
        try:
            announce(self.logger, started)
        except RecordRefused as exc:
            self.logger.close(timeout=5)
            self._recorder.discard_run_dir()
            raise RecordingError(f"{exc}; nothing of this run can be recorded") from None
        _install_exit_hooks(self)

    # -- what a training loop records -----------------------------------------------------
    @property
    def timestep(self) -> int:
        """The largest step any record of the run has named so far."""
        return self._timestep

    def _advance(self, step: int) -> None:
        if step > self._timestep:
            self._timestep = step

    def add_steps(self, n: int) -> int:
        """Count ``n`` env steps an integration took; returns the run's step after them."""
        with self._lock:
            self._timestep += n
            return self._timestep

    def log_metrics(self, values: Mapping[str, float], step: int) -> None:
        """Training metrics at ``step`` (losses, learning rate, ...): one point per key."""
        self._check_open()
        numbers = {k: float(v) for k, v in values.items()}
        self._advance(step)
        self.logger.emit(MetricsLogged(self.id, int(step), numbers))

    def log_episode(
        self, reward: float, steps: int, *, step: int | None = None,
        status: EpisodeStatus = "completed", metrics: Mapping[str, Any] | None = None,
        trades: Sequence[Any] = (), win: float | None = None, epsilon: float | None = None,
        env_slot: int = 0, started_at: dt.datetime | None = None,
    ) -> int:  # fmt: skip
        """One finished episode, for loops that count their own. ``step`` is the run's
        training step at its end (default: the run's latest plus ``steps``). Returns its
        index, the next in the run's order."""
        self._check_open()
        end = self._timestep + int(steps) if step is None else int(step)
        with self._lock:
            ended = self.book.record(
                env_slot, status, max(end - int(steps), 0), end, steps=int(steps),
                reward=float(reward), agent_id=self.agent_id, start_time=started_at, win=win,
                epsilon=epsilon, metrics=dict(metrics or {}), trades=trades_of({"trades": trades}),
            )  # fmt: skip
        self._advance(end)
        return ended.index

    def log_checkpoint(
        self, path: str | os.PathLike[str], step: int, kind: CheckpointKind = "periodic",
        metrics: Mapping[str, float] | None = None,
    ) -> str:  # fmt: skip
        """A checkpoint file written by the user's code; recorded with its sha256 and size.
        Returns the sha256."""
        self._check_open()
        file = _existing_file(path, "checkpoint")
        digest = sha256_of(file)
        last = self.book.started - 1 if self.book.started else None
        self.logger.emit(
            CheckpointSaved(
                self.id,
                str(file.resolve()),
                int(step),
                last,
                digest,
                file.stat().st_size,
                kind,
                dict(metrics or {}),
            )  # fmt: skip
        )
        self._advance(step)
        return digest

    def log_artifact(
        self, path: str | os.PathLike[str], kind: str, metadata: Mapping[str, Any] | None = None
    ) -> None:
        """Any file of the run (a video, a report): shown on its page and downloadable."""
        self._check_open()
        file = _existing_file(path, "artifact")
        self.logger.emit(
            ArtifactSaved(
                self.id,
                kind,
                str(file.resolve()),
                size=file.stat().st_size,
                metadata=dict(metadata or {}),
            )  # fmt: skip
        )

    # -- for integrations -------------------------------------------------------------------
    def reserve_slots(self, n: int, closer: Closer) -> int:
        """``n`` env slots of the run's own, for an integration whose episodes in flight
        ``closer(status, timestep)`` closes when the run ends. Returns the first slot."""
        with self._lock:
            first, self._slots = self._slots, self._slots + n
            self._closers.append(closer)
        return first

    def release(self, closer: Closer) -> None:
        with self._lock:
            if closer in self._closers:
                self._closers.remove(closer)

    # -- the end ------------------------------------------------------------------------------
    def finish(self, status: RunStatus = "completed", *, error: str | None = None) -> None:
        """Close what is in flight, record how the run ended and wait for the records to be
        written (or spooled, if the database is away). A second call does nothing."""
        if status not in ("completed", "stopped", "failed"):
            raise ValueError(f"status {status!r}: a run finishes completed, stopped or failed")
        with self._lock:
            if self.status != "running":
                return
            self.status = status
            closers = list(self._closers)
        for close in closers:
            close("error" if status == "failed" else "truncated", self._timestep)
        self.book.finalize("error" if status == "failed" else "truncated", self._timestep)
        record_end(self.logger, self.id, status, self._timestep, self.book.finished, error)
        self.logger.close()
        _EXIT_HOOKS.pop(self.id, None)

    def _check_open(self) -> None:
        if self.status != "running":
            raise RuntimeError(f"run {self.name} ({self.id[:8]}) has finished ({self.status})")

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None:
            self.finish("completed")
        elif isinstance(exc, KeyboardInterrupt):
            self.finish("stopped")
        else:
            self.finish("failed", error=f"{type(exc).__name__}: {exc}")

    def __repr__(self) -> str:
        return f"<rltrack.Run {self.name} ({self.id[:8]}) {self.status}>"


def init(
    name: str | None = None, *, config: Mapping[str, Any] | None = None, db: str | None = None,
    agent_id: str | None = None, tags: Sequence[str] = (), algorithm: str | None = None,
    env_id: str | None = None, group: str | None = None,
) -> Run:  # fmt: skip
    """Start recording a run of your own training code; see :class:`Run`. ``db`` as
    ``--db`` (a URL or a SQLite path; default RLTRACK_DATABASE_URL, else SQLite in
    RLTRACK_HOME); ``config``: the run's settings, recorded once (any value: a class by its
    import path, anything else JSON cannot hold by its repr); ``group``: the group (one
    experiment, e.g. the seeds of one setting) the run joins, made if new."""
    if group is not None and not 1 <= len(group) <= 255:
        raise ValueError(f"group {group!r}: give a name of 1 to 255 characters")
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    default = f"{Path(sys.argv[0]).stem or 'python'}__{stamp}"
    return Run(
        name=name or default, config=config or {}, db=db, agent_id=agent_id, tags=tags,
        algorithm=algorithm, env_id=env_id, group=group,
    )  # fmt: skip


def _seed_of(config: Mapping[str, Any]) -> int | None:
    seed = config.get("seed")
    return seed if isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0 else None


def _existing_file(path: str | os.PathLike[str], what: str) -> Path:
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"{what} {file} does not exist (write it before logging it)")
    return file


# -- process exit and SIGTERM ----------------------------------------------------------------
_EXIT_HOOKS: dict[str, Run] = {}
_last_uncaught: list[BaseException] = []
_hooks_installed = False


def _install_exit_hooks(run: Run) -> None:
    global _hooks_installed
    _EXIT_HOOKS[run.id] = run
    if _hooks_installed:
        return
    _hooks_installed = True
    atexit.register(_finish_at_exit)
    previous_hook = sys.excepthook

    def excepthook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        _last_uncaught.append(exc)
        previous_hook(kind, exc, tb)

    sys.excepthook = excepthook
    if threading.current_thread() is threading.main_thread() and signal.getsignal(
        signal.SIGTERM
    ) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, _on_sigterm)


def _finish_at_exit() -> None:
    exc = _last_uncaught[-1] if _last_uncaught else None
    for run in list(_EXIT_HOOKS.values()):
        if exc is None:
            run.finish("completed")
        elif isinstance(exc, KeyboardInterrupt):
            run.finish("stopped")
        else:
            run.finish("failed", error="".join(traceback.format_exception_only(exc)).strip())


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    for run in list(_EXIT_HOOKS.values()):
        run.finish("stopped")
    # Then exit as the process would have without us: killed by SIGTERM.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)
