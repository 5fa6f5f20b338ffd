"""rltrack.init() in a user's own program: how each way of ending leaves the run, run in real
subprocesses against a real SQLite file."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import rltrack
from rltrack.tracking.store import open_store
from tests.conftest import REPO

PROGRAM = """
import sys, time
import rltrack
mode = sys.argv[1]
{open}
    for i in range(5):
        run.log_episode(float(i), 10)
        run.log_metrics({{"loss": 1.0 / (i + 1)}}, step=(i + 1) * 10)
    if mode == "raise":
        raise ValueError("boom in the loop")
    if mode in ("term", "ctrl-c"):
        print("ready", flush=True)
        time.sleep(60)
"""
WITH = 'with rltrack.init("lib-" + mode, config={"lr": 3e-4, "opt": dict}) as run:'
BARE = 'run = rltrack.init("lib-" + mode)\nif True:'


def start(tmp_path: Path, mode: str, opening: str = WITH) -> subprocess.Popen[str]:
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(PROGRAM.format(open=opening)))
    env = {**os.environ, "RLTRACK_HOME": str(tmp_path / "home"), "PYTHONPATH": str(REPO)}
    env.pop("RLTRACK_DATABASE_URL", None)
    return subprocess.Popen(
        [sys.executable, str(script), mode], env=env, cwd=tmp_path, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


def the_run(tmp_path: Path, name: str):  # type: ignore[no-untyped-def]
    store = open_store(f"sqlite:///{tmp_path / 'home' / 'rltrack.db'}")
    try:
        run = store.get_run(name)
        return run, store.list_episodes(run.id), store.list_metrics(run.id)
    finally:
        store.close()


@pytest.mark.parametrize(("opening", "mode"), [(WITH, "ok"), (BARE, "ok")])
def test_a_run_that_ends_normally_is_completed(tmp_path: Path, opening: str, mode: str) -> None:
    proc = start(tmp_path, mode, opening)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    run, episodes, metrics = the_run(tmp_path, "lib-ok")
    assert run.status == "completed" and run.backend == "library"
    assert [e.index for e in episodes] == [0, 1, 2, 3, 4]
    assert [e.total_reward for e in episodes] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert [e.end_timestep for e in episodes] == [10, 20, 30, 40, 50]
    assert len(metrics) == 5 and run.timesteps == 50
    if opening == WITH:
        assert run.config == {"lr": 3e-4, "opt": "builtins.dict"}


@pytest.mark.parametrize("opening", [WITH, BARE])
def test_an_exception_fails_the_run_with_the_error(tmp_path: Path, opening: str) -> None:
    proc = start(tmp_path, "raise", opening)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1 and "ValueError: boom in the loop" in err
    run, episodes, _ = the_run(tmp_path, "lib-raise")
    assert run.status == "failed" and run.error == "ValueError: boom in the loop"
    assert len(episodes) == 5


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_ctrl_c_stop_the_run(tmp_path: Path, sig: int) -> None:
    proc = start(tmp_path, "term" if sig == signal.SIGTERM else "ctrl-c")
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    # As Python would: killed by the signal (after its traceback, for Ctrl-C).
    assert proc.returncode == -sig, err
    run, episodes, _ = the_run(tmp_path, "lib-term" if sig == signal.SIGTERM else "lib-ctrl-c")
    assert run.status == "stopped" and len(episodes) == 5


def test_checkpoints_and_artifacts_are_recorded_with_their_files(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'rltrack.db'}"
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"weights" * 100)
    with rltrack.init("files", db=url) as run:
        digest = run.log_checkpoint(weights, step=100)
        run.log_artifact(weights, "report")
        with pytest.raises(FileNotFoundError, match="does not exist"):
            run.log_checkpoint(tmp_path / "missing.zip", step=1)
    store = open_store(url)
    try:
        [ckpt] = store.list_checkpoints(run.id)
        [artifact] = store.list_artifacts(run.id)
    finally:
        store.close()
    assert (ckpt.sha256, ckpt.size, ckpt.timestep) == (digest, 700, 100)
    assert artifact.kind == "report" and artifact.size == 700
    with pytest.raises(RuntimeError, match="has finished"):
        run.log_metrics({"x": 1.0}, 1)


def test_a_database_that_refuses_the_run_raises_before_training(tmp_path: Path) -> None:
    path = tmp_path / "rltrack.db"
    open_store(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TRIGGER no_runs BEFORE INSERT ON runs "
            "BEGIN SELECT RAISE(ABORT, 'no runs here'); END"
        )
    with pytest.raises(rltrack.RecordingError, match="no runs here"):
        rltrack.init("refused", db=f"sqlite:///{path}")


def test_a_server_away_at_start_spools_and_the_spool_replays(
    tmp_path: Path,
    pg_server,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setenv("RLTRACK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("RLTRACK_CLOSE_TIMEOUT_S", "1")  # finish() waits that long for it
    url = pg_server.create_database(f"lib_spool_{os.getpid()}")
    away = url.replace(f":{pg_server.port}/", ":1/")  # nothing listens on port 1
    with rltrack.init("spooled", db=away) as run:
        for i in range(3):
            run.log_episode(float(i), 5)
    spool = tmp_path / "home" / "runs" / run.id / "spool.jsonl"
    assert spool.stat().st_size > 0
    from rltrack.tracking.spool import Spool

    replayed = Spool(spool.parent).replay(open_store(url))
    assert replayed > 0
    store = open_store(url)
    try:
        assert store.get_run(run.id).status == "completed"
        assert [e.index for e in store.list_episodes(run.id)] == [0, 1, 2]
    finally:
        store.close()


def test_runs_of_a_script_join_a_group(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'lib.db'}"
    for seed in (0, 1):
        with rltrack.init(f"seed-{seed}", config={"seed": seed}, db=db, group="my-seeds") as run:
            run.log_episode(float(seed), 10)
    with pytest.raises(ValueError, match="give a name of 1 to 255 characters"):
        rltrack.init("bad", db=db, group="")
    store = open_store(db)
    group = store.get_group("my-seeds")
    assert (group.kind, group.runs) == ("manual", 2)
    assert {store.get_run(f"seed-{s}").group_id for s in (0, 1)} == {group.id}
    store.close()
