"""Runs a sweep's trials: each an `rltrack train` process of its own (``parallel`` at once),
watched through the store while it trains, pruned with SIGINT, recorded in the study.

One thread does it all, in a loop of short sleeps: it starts trials while there is room, reads
each running trial's new episodes every ``poll_s`` and reports the settled points of its curve,
and records trials whose process has ended. Signals only set flags; the loop forwards them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import optuna
import yaml
from optuna.trial import TrialState

from rltrack.sweep.curve import Curve, objective_value
from rltrack.sweep.spec import SweepSpec
from rltrack.sweep.study import owner_attrs, requeue, search_space
from rltrack.tracking.store import NotFoundError, Store, StoreError

# Trials that fail one after another before the sweep gives up (a setting no trial can train).
MAX_FAILURES = 3
TICK_S = 0.1
DRAIN_WAIT_S = 120  # how long a stopped trial may take to drain before it is killed


@dataclass(frozen=True)
class Finished:
    """A trial the sweep recorded: what the CLI prints."""

    number: int
    state: str  # complete, pruned, fail
    params: dict[str, Any]
    value: float | None
    run_id: str | None
    step: int | None = None  # the last step reported (where a pruned trial stopped)
    error: str | None = None


@dataclass
class Outcome:
    finished: int  # complete + pruned trials of the study
    interrupted: bool
    gave_up: str | None = None  # the error of the last trial, when too many failed


@dataclass
class _Running:
    trial: optuna.Trial
    proc: subprocess.Popen[str]
    stderr: Path
    run_name: str
    run_id: str | None = None
    curve: Curve | None = None
    last_step: int | None = None
    pruning: bool = False
    signals: int = 0  # SIGINTs forwarded by a Ctrl-C
    stopped_at: float | None = None
    lines: list[str] = field(default_factory=list)

    def read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("run_id: ") and self.run_id is None:
                self.run_id = line.split(": ", 1)[1].strip()
            self.lines.append(line.rstrip("\n"))
            del self.lines[:-20]

    def error(self) -> str:
        text = self.stderr.read_text(errors="replace") if self.stderr.exists() else ""
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        last = next((ln for ln in reversed(lines) if ln.startswith("error:")), None)
        last = last or (lines[-1] if lines else f"exit code {self.proc.returncode}")
        return last.removeprefix("error:").strip()


class _Stop:
    def __init__(self) -> None:
        self.requests = 0

    def handler(self, signum: int, _frame: FrameType | None) -> None:
        self.requests += 1


@contextmanager
def _signals(stop: _Stop) -> Iterator[None]:
    previous = {s: signal.signal(s, stop.handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


class SweepRunner:
    def __init__(
        self,
        spec: SweepSpec,
        store: Store,
        study: optuna.Study,
        db_url: str,
        *,
        on_finished: Callable[[Finished], None],
        say: Callable[[str], None],
        poll_s: float = 1.0,
    ) -> None:
        self.spec, self.store, self.study, self.db_url = spec, store, study, db_url
        self.on_finished, self.say, self.poll_s = on_finished, say, poll_s
        self.space = search_space(spec)
        self.running: list[_Running] = []
        self.failures = 0
        self.last_error: str | None = None

    def finished_count(self) -> int:
        states = (TrialState.COMPLETE, TrialState.PRUNED)
        return len(self.study.get_trials(deepcopy=False, states=states))

    def run(self, n_trials: int, parallel: int) -> Outcome:
        """Run trials until the study holds ``n_trials`` finished ones (complete or pruned)."""
        stop = _Stop()
        with tempfile.TemporaryDirectory(prefix="rltrack-sweep-") as tmp, _signals(stop):
            try:
                return self._loop(Path(tmp), n_trials, parallel, stop)
            finally:
                self._stop_all()

    def _loop(self, tmp: Path, n_trials: int, parallel: int, stop: _Stop) -> Outcome:
        finished = self.finished_count()
        next_poll = time.monotonic()
        while True:
            giving_up = self.failures >= MAX_FAILURES
            while (
                not stop.requests and not giving_up and len(self.running) < parallel
                and finished + len(self.running) < n_trials
            ):  # fmt: skip
                self.running.append(self._start(tmp))
            if not self.running:
                break
            for t in self.running:
                while t.signals < min(stop.requests, 2):  # a second Ctrl-C: stop at once
                    self._signal(t)
                    t.signals += 1
                    t.stopped_at = t.stopped_at or time.monotonic()
            polling = time.monotonic() >= next_poll
            if polling:
                next_poll = time.monotonic() + self.poll_s
            for t in list(self.running):
                if t.proc.poll() is not None:
                    self.running.remove(t)
                    finished += self._record(t, interrupted=bool(stop.requests))
                elif polling and not t.pruning and not stop.requests:
                    self._watch(t)
                elif t.stopped_at and time.monotonic() - t.stopped_at > DRAIN_WAIT_S:
                    t.proc.kill()
            time.sleep(TICK_S)
        gave_up = self.last_error if self.failures >= MAX_FAILURES else None
        return Outcome(finished=self.finished_count(), interrupted=bool(stop.requests),
                       gave_up=gave_up)  # fmt: skip

    # -- one trial ----------------------------------------------------------------------------
    def _start(self, tmp: Path) -> _Running:
        trial = self.study.ask(self.space)
        for key, value in owner_attrs().items():
            trial.set_user_attr(key, value)
        run_name = f"{self.spec.name}-trial-{trial.number}"
        trial.set_user_attr("run_name", run_name)
        config = tmp / f"trial-{trial.number}.yaml"
        config.write_text(yaml.safe_dump(self.spec.trial_config(trial.params, run_name),
                                         sort_keys=False))  # fmt: skip
        stderr = tmp / f"trial-{trial.number}.stderr"
        argv = [sys.executable, "-m", "rltrack.cli", "train", "--config", str(config),
                "--no-progress"]  # fmt: skip
        # The URL travels in the environment, not argv, where `ps` would show a password.
        env = {**os.environ, "RLTRACK_DATABASE_URL": self.db_url, "PYTHONUNBUFFERED": "1"}
        with stderr.open("w") as err:
            # A session of its own: a Ctrl-C in the terminal reaches the sweep alone, which
            # forwards one SIGINT (two would stop the trial without draining its episodes).
            proc = subprocess.Popen(
                argv, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL, text=True,
                env=env, start_new_session=True,
            )  # fmt: skip
        t = _Running(trial=trial, proc=proc, stderr=stderr, run_name=run_name)
        threading.Thread(target=t.read_stdout, daemon=True).start()
        return t

    def _signal(self, t: _Running) -> None:
        with contextlib.suppress(ProcessLookupError):
            t.proc.send_signal(signal.SIGINT)

    def _watch(self, t: _Running) -> None:
        """Report the trial's newly settled points; SIGINT it when the pruner says so."""
        if t.run_id is None:
            return
        if t.curve is None:
            t.trial.set_user_attr("run_id", t.run_id)
            t.curve = Curve(t.run_id, self.spec.report_every)
        try:
            points = t.curve.poll(self.store)
        except StoreError:
            return  # the trainer spools while the database is away; so does the watch
        self._report(t, points)
        if points and t.trial.should_prune():
            t.pruning = True
            self._signal(t)
            t.stopped_at = time.monotonic()

    def _report(self, t: _Running, points: list[tuple[int, float]]) -> None:
        for step, value in points:
            t.trial.report(value, step)
            t.last_step = step

    def _record(self, t: _Running, *, interrupted: bool) -> int:
        """Tell the study how the trial ended; 1 when it counts as finished."""
        code = t.proc.wait()
        trial, run_id = t.trial, t.run_id
        if run_id is not None:
            trial.set_user_attr("run_id", run_id)
        params = dict(trial.params)
        # A SIGINT that came as the run was ending may find it completed (the process may
        # even die of it on its way out): then it is a whole run, and the trial completes.
        completed = run_id is not None and self._completed(run_id)
        signalled = t.pruning or t.signals > 0
        if t.pruning and run_id is not None and not completed:
            self._tag(run_id, "pruned")
            self.study.tell(trial, state=TrialState.PRUNED)
            self.failures = 0
            self._finished(Finished(trial.number, "pruned", params, None, run_id, t.last_step))
            return 1
        if run_id is not None and (code == 0 or (completed and signalled)):
            value = self._final_value(t, run_id)
            if value is not None:
                self.study.tell(trial, value)
                self.failures = 0
                self._finished(Finished(trial.number, "complete", params, value, run_id,
                                        t.last_step))  # fmt: skip
                return 1
            error = f"the run has no {self.spec.objective} value (no ended episode?)"
        elif interrupted:
            if run_id is not None:
                self._tag(run_id, "interrupted")
            trial.set_user_attr("error", "interrupted (Ctrl-C)")
            requeue(self.study, trial.number, params, "interrupted (Ctrl-C)")
            self.say(f"trial {trial.number} interrupted"
                     + (f" (run {run_id[:8]} stopped)" if run_id else ""))  # fmt: skip
            return 0
        else:
            error = t.error()
        trial.set_user_attr("error", error[:1000])
        self.study.tell(trial, state=TrialState.FAIL)
        self.failures += 1
        self.last_error = error
        self._finished(Finished(trial.number, "fail", params, None, run_id, error=error))
        return 0

    def _completed(self, run_id: str) -> bool:
        try:
            return self.store.get_run(run_id).status == "completed"
        except NotFoundError:
            return False

    def _final_value(self, t: _Running, run_id: str) -> float | None:
        try:
            run = self.store.get_run(run_id)
            if t.curve is None:
                t.curve = Curve(run_id, self.spec.report_every)
            self._report(t, t.curve.finish(self.store, run.timesteps))
            return objective_value(self.store, run_id, self.spec.objective)
        except NotFoundError:
            return None

    def _tag(self, run_id: str, tag: str) -> None:
        run = self.store.get_run(run_id)
        if tag not in run.tags:
            self.store.update_run(run_id, tags=[*run.tags, tag])

    def _finished(self, f: Finished) -> None:
        self.on_finished(f)

    def _stop_all(self) -> None:
        """Whatever ended the loop (an error of its own included), no trial outlives it."""
        for t in self.running:
            if t.proc.poll() is None:
                self._signal(t)
        for t in self.running:
            try:
                t.proc.wait(timeout=DRAIN_WAIT_S)
            except subprocess.TimeoutExpired:
                t.proc.kill()
                t.proc.wait()
            with contextlib.suppress(Exception):  # the sweep's own error is the one to show
                requeue(self.study, t.trial.number, dict(t.trial.params), "the sweep stopped")
        self.running.clear()
