"""A real sweep: `rltrack sweep` running real `rltrack train` processes (two at once) on a real
SQLite file, PPO on CartPole at smoke settings. The learning rate spans good values and
values too small to learn anything, so trials that trail are pruned; a Ctrl-C mid-sweep stops
the trials in flight, and running the sweep again continues the study to 6 finished trials."""

from __future__ import annotations

import queue
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from rltrack.sweep.study import open_storage
from rltrack.tracking.sql import engine as eng
from rltrack.tracking.store import RunFilter, Store, open_store
from tests.conftest import Cli
from tests.sweep.specs import cartpole_lr_spec

NAME = "cartpole-lr"
SPEC = cartpole_lr_spec(NAME)
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def lines_of(proc: subprocess.Popen[str]) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    return lines


def wait_for_trial_lines(lines: queue.Queue[str], n: int, timeout: float) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while sum(line.startswith("trial") for line in seen) < n:
        seen.append(lines.get(timeout=max(0.1, deadline - time.monotonic())))
    return seen


@pytest.fixture
def store(cli: Cli) -> Iterator[Store]:
    s = open_store(f"sqlite:///{cli.home / 'rltrack.db'}")
    yield s
    s.close()


def wait_for_a_trial_training(store: Store, group_id: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = store.list_runs(RunFilter(group_id=group_id, status="running"))
        if any(store.count_episodes(r.id).get("completed", 0) >= 3 for r in runs):
            return
        time.sleep(0.2)
    raise AssertionError("no trial of the sweep trained after the first two finished")


def study(cli: Cli, name: str = NAME) -> optuna.Study:
    url = f"sqlite:///{cli.home / 'rltrack.db'}"
    return optuna.load_study(study_name=name, storage=open_storage(url, create=False))


def test_a_sweep_prunes_stops_on_ctrl_c_and_continues(cli: Cli, tmp_path: Path) -> None:
    spec = tmp_path / "sweep.yaml"
    spec.write_text(SPEC)
    args = ("sweep", "--config", str(spec), "--trials", "6", "--parallel", "2")
    proc = cli.popen(*args)
    try:
        lines = lines_of(proc)
        first = wait_for_trial_lines(lines, 2, timeout=150)
        db = open_store(f"sqlite:///{cli.home / 'rltrack.db'}")
        try:
            group = db.get_group(NAME)
            wait_for_a_trial_training(db, group.id)
        finally:
            db.close()
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert f"continue it with: rltrack sweep --config {spec} --trials 6 --parallel 2" in stderr
    assert first[0].startswith(f"sweep {NAME}: 0/6 trials finished")

    before = study(cli)
    kept = {t.number: (t.state, t.value) for t in before.get_trials(states=FINISHED)}
    interrupted = before.get_trials(states=(TrialState.FAIL,))
    assert len(kept) >= 2 and interrupted, [(t.number, t.state) for t in before.trials]
    assert not before.get_trials(states=(TrialState.RUNNING,))
    # The interrupted trials' parameters wait to be tried again.
    waiting = before.get_trials(states=(TrialState.WAITING,))
    assert sorted(t.user_attrs["retry_of"] for t in waiting) == [t.number for t in interrupted]
    last_before = max(t.number for t in before.get_trials(states=(*FINISHED, TrialState.FAIL)))

    again = cli(*args, timeout=300)
    assert again.code == 0, again.stderr
    assert f"sweep {NAME}: {len(kept)}/6 trials finished" in again.stdout
    assert "best: trial" in again.stdout

    after = study(cli)
    finished = after.get_trials(states=FINISHED)
    assert len(finished) == 6
    assert not after.get_trials(states=(TrialState.RUNNING, TrialState.WAITING))
    # Finished trials were kept as they were; new ones continued the numbering (the queued
    # retries were numbered when the first sweep queued them).
    assert {t.number: (t.state, t.value) for t in finished if t.number in kept} == kept
    assert min(t.number for t in finished if t.number not in kept) > last_before
    retried = {t.user_attrs.get("retry_of") for t in after.trials} - {None}
    assert retried == {t.number for t in interrupted}
    # The only failures are the interrupted trials (a late SIGINT that finds a run completing
    # completes its trial).
    errors = {t.user_attrs.get("error") for t in after.get_trials(states=(TrialState.FAIL,))}
    assert errors == {"interrupted (Ctrl-C)"}
    pruned = [t for t in finished if t.state == TrialState.PRUNED]
    assert pruned, [(t.number, t.params, t.value) for t in finished]
    best = after.best_trial
    assert best.params["hyperparams.learning_rate"] > 1e-4  # a rate that learns wins

    db = open_store(f"sqlite:///{cli.home / 'rltrack.db'}")
    try:
        group = db.get_group(NAME)
        assert group.kind == "sweep" and group.metadata["objective"] == "last100"
        runs = {r.id: r for r in db.list_runs(RunFilter(group_id=group.id))}
        with_runs = [t for t in after.trials if "run_id" in t.user_attrs]
        # Every trial that started training is a run of the group, tagged with the sweep.
        assert {t.user_attrs["run_id"] for t in with_runs} == set(runs)
        assert all(f"sweep:{NAME}" in r.tags for r in runs.values())
        for t in finished:
            run = runs[t.user_attrs["run_id"]]
            assert run.name == f"{NAME}-trial-{t.number}"
            assert (
                run.config["hyperparams"]["learning_rate"] == t.params["hyperparams.learning_rate"]
            )
            if t.state == TrialState.PRUNED:
                assert run.status == "stopped" and "pruned" in run.tags
                assert max(t.intermediate_values) <= run.timesteps <= 2048
            else:
                assert run.status == "completed" and "pruned" not in run.tags
                assert t.intermediate_values[2048] == pytest.approx(t.value)
        for t in interrupted:
            if "run_id" in t.user_attrs:
                run = runs[t.user_attrs["run_id"]]
                assert run.status == "stopped" and "interrupted" in run.tags
    finally:
        db.close()
    # Every episode of every run is final: the pruned and interrupted ones drained.
    for run_id in runs:
        check = cli("check", run_id)
        assert check.code == 0, check.stdout
    # The study's tables sit beside rltrack's, whose schema revision is still its own.
    engine = eng.make_engine(f"sqlite:///{cli.home / 'rltrack.db'}")
    try:
        assert eng.current_revision(engine) == eng.HEAD_REVISION
    finally:
        engine.dispose()


def test_a_sweep_whose_trials_all_fail_gives_up_naming_the_error(cli: Cli, tmp_path: Path) -> None:
    """A setting that no trial can train with (the algorithm refuses an argument, which only
    `rltrack train` finds out) stops the sweep after three failures in a row, not never."""
    spec = tmp_path / "broken.yaml"
    spec.write_text(
        "algo: ppo\nmode: smoke\nsweep:\n  name: broken\n  params:\n"
        "    hyperparams.nonsense: {type: categorical, choices: [1, 2]}\n"
    )
    result = cli("sweep", "--config", str(spec), "--trials", "5", "--parallel", "3")
    assert result.code == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert "error: trials fail one after another, the last with:" in result.stderr
    assert "nonsense" in result.stderr.splitlines()[-1]
    # No trial starts after the third failure; those already training end (failing too).
    printed = sum(" failed: " in line for line in result.stdout.splitlines())
    failed = study(cli, "broken").get_trials()
    assert 3 <= printed == len(failed) <= 5
    assert all(t.state == TrialState.FAIL for t in failed)
    assert all("nonsense" in t.user_attrs["error"] for t in failed)
