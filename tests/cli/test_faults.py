"""Every episode recorded whatever happens: drain, signals, kills, outages, concurrent writers.

Real trainer subprocesses against a real SQLite file and a real PostgreSQL server.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from rltrack.testing.postgres import PostgresServer
from tests.conftest import Cli, wait_for_episodes, wait_for_run_id
from tests.gym_envs import env_count


def assert_all_final(cli: Cli, run_id: str) -> list[dict]:
    episodes = cli("episodes", run_id, "--json").json()
    assert [e["index"] for e in episodes] == list(range(len(episodes)))
    assert all(e["status"] in ("completed", "truncated", "error") for e in episodes)
    for e in episodes:
        if e["status"] != "error":
            assert e["steps"] is not None and e["total_reward"] is not None
    return episodes


def test_drain_finishes_in_flight_episodes_of_eight_envs(cli: Cli) -> None:
    result = cli(
        "train", "--algo", "ppo", "--env", "CartPole-v1", "--num-envs", "8", "--mode", "smoke",
        "--total-timesteps", "2048", "--no-progress",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    check = cli("check", result.run_id, "--json")
    assert check.code == 0, check.stdout
    report = check.json()
    assert report["ok"] and report["counts"].get("started", 0) == 0 and not report["gaps"]
    episodes = assert_all_final(cli, result.run_id)
    show = cli("show", result.run_id, "--json").json()
    drained = [e for e in episodes if e["drain_steps"] > 0]
    assert drained, "some episodes were in flight when training stopped"
    # Drained steps are not training timesteps: the rest add up exactly.
    assert sum(e["steps"] - e["drain_steps"] for e in episodes) == show["timesteps"] == 2048
    # With a 1000-step budget every CartPole episode reaches its natural end.
    assert all(e["status"] == "completed" for e in drained)
    assert all(e["end_timestep"] == 2048 for e in drained)


def test_drain_budget_truncates_with_metrics_so_far(cli: Cli) -> None:
    result = cli(
        "train", "--algo", "ppo", "--env", "tests.gym_envs:Counting-v0", "--num-envs", "4",
        "--set", "env_kwargs.count_file=counts", "--set", "env_kwargs.length=1000",
        "--mode", "smoke", "--total-timesteps", "512", "--drain-max-steps", "5", "--no-progress",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    episodes = assert_all_final(cli, result.run_id)
    assert len(episodes) == 4
    assert all(e["status"] == "truncated" and e["drain_steps"] == 5 for e in episodes)
    assert all(e["steps"] == 128 + 5 for e in episodes)
    assert cli("check", result.run_id).code == 0


def test_sigterm_stops_drains_and_saves(cli: Cli) -> None:
    proc = cli.popen(
        "train", "--algo", "ppo", "--num-envs", "4", "--total-timesteps", "10000000",
        "--no-progress",
    )  # fmt: skip
    run_id = wait_for_run_id(proc)
    wait_for_episodes(cli, run_id, 20)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143, stderr
    assert "Traceback" not in stderr
    show = cli("show", run_id, "--json").json()
    assert show["status"] == "stopped"
    assert_all_final(cli, run_id)
    final = [c for c in show["checkpoints"] if c["kind"] == "final"]
    assert final and Path(final[0]["path"]).exists()
    assert cli("check", run_id).code == 0


def test_sigkill_is_detected_by_stale_heartbeat_and_repaired(cli: Cli) -> None:
    cli.env.update(RLTRACK_HEARTBEAT_S="0.5", RLTRACK_STALE_S="3")
    proc = cli.popen(
        "train", "--algo", "ppo", "--num-envs", "2", "--total-timesteps", "10000000",
        "--no-progress",
    )  # fmt: skip
    run_id = wait_for_run_id(proc)
    wait_for_episodes(cli, run_id, 5)
    assert cli("runs", "--json").json()[0]["status"] == "running"
    proc.kill()
    proc.communicate(timeout=30)
    deadline = time.monotonic() + 60  # only bounds the wait: the run is stale after 3 s
    status = "running"
    while time.monotonic() < deadline and status == "running":
        time.sleep(0.5)
        status = cli("runs", "--json").json()[0]["status"]
    assert status == "failed"
    show = cli("show", run_id, "--json").json()
    assert show["status"] == "failed" and show["error"] == "heartbeat lost"
    before = cli("check", run_id, "--json")
    assert before.code == 1 and before.json()["counts"]["started"] > 0
    repaired = cli("check", run_id, "--repair")
    assert repaired.code == 0, repaired.stdout + repaired.stderr
    assert cli("check", run_id).code == 0
    episodes = assert_all_final(cli, run_id)
    assert any(e["status"] == "error" for e in episodes)
    assert cli("show", run_id, "--json").json()["status"] == "failed"


def counting_train_args(count_file: Path, timesteps: int, sleep: float = 0.0) -> list[str]:
    return [
        "train", "--algo", "ppo", "--env", "tests.gym_envs:Counting-v0", "--num-envs", "2",
        "--set", f"env_kwargs.count_file={count_file}", "--set", "env_kwargs.length=20",
        "--set", f"env_kwargs.step_sleep={sleep}", "--set", "hyperparams.n_steps=64",
        "--total-timesteps", str(timesteps), "--drain-max-steps", "0", "--no-progress",
    ]  # fmt: skip


def assert_exactly_once(cli: Cli, run_id: str, count_file: Path) -> None:
    show = cli("show", run_id, "--json").json()
    assert show["status"] == "completed"
    episodes = assert_all_final(cli, run_id)
    completed = sum(e["status"] == "completed" for e in episodes)
    assert completed == env_count(str(count_file)) > 0
    assert cli("check", run_id).code == 0


@pytest.mark.postgres
def test_postgres_outage_mid_run_loses_nothing(
    tmp_path: Path, pg_server: PostgresServer, pg_url: str
) -> None:
    cli = Cli(tmp_path, db=pg_url)
    counts = tmp_path / "counts"
    # ~16 s of env steps alone, so the run is still training when the server comes back
    # (the writer retries every second: 10 s is ten failed attempts).
    proc = cli.popen(*counting_train_args(counts, 4000, sleep=0.004))
    run_id = wait_for_run_id(proc)
    wait_for_episodes(cli, run_id, 10)
    pg_server.stop()
    try:
        time.sleep(10)
    finally:
        pg_server.start()
    stdout, stderr = proc.communicate(timeout=180)
    assert proc.returncode == 0, stderr
    assert "spool" in stderr.lower()
    assert_exactly_once(cli, run_id, counts)


def test_sqlite_locked_for_a_while_loses_nothing(cli: Cli, tmp_path: Path) -> None:
    cli.env["RLTRACK_SQLITE_BUSY_MS"] = "500"
    counts = tmp_path / "counts"
    proc = cli.popen(*counting_train_args(counts, 4000, sleep=0.003))
    run_id = wait_for_run_id(proc)
    wait_for_episodes(cli, run_id, 10)
    # Another process takes the write lock and keeps it: the trainer cannot write for 8 s
    # (16 busy timeouts) and goes on training meanwhile (~12 s of env steps in all).
    conn = sqlite3.connect(cli.home / "rltrack.db", isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    try:
        time.sleep(8)
    finally:
        conn.execute("COMMIT")
        conn.close()
    stdout, stderr = proc.communicate(timeout=180)
    assert proc.returncode == 0, stderr
    assert "spool" in stderr.lower()
    assert_exactly_once(cli, run_id, counts)


def test_sync_replays_spool_of_a_run_that_ended_during_an_outage(
    tmp_path: Path, pg_server: PostgresServer, pg_url: str
) -> None:
    cli = Cli(tmp_path, db=pg_url)
    counts = tmp_path / "counts"
    cli.env["RLTRACK_CLOSE_TIMEOUT_S"] = "2"
    proc = cli.popen(*counting_train_args(counts, 1500, sleep=0.002))
    run_id = wait_for_run_id(proc)
    pg_server.stop()
    try:
        _, stderr = proc.communicate(timeout=180)
        assert proc.returncode == 0, stderr
        assert "rltrack sync" in stderr
    finally:
        pg_server.start()
    synced = cli("sync")
    assert synced.code == 0, synced.stderr
    assert run_id in synced.stdout
    assert_exactly_once(cli, run_id, counts)
    assert "nothing to sync" in cli("sync").stdout


def run_four_trainers(cli: Cli, tmp_path: Path) -> None:
    procs = []
    for i in range(4):
        counts = tmp_path / f"counts{i}"
        procs.append((cli.popen(*counting_train_args(counts, 1500), "--seed", str(i)), counts))
    results = []
    for proc, counts in procs:
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr
        assert "locked" not in stderr
        run_id = stdout.splitlines()[0].split(": ", 1)[1].strip()
        results.append((run_id, counts))
    for run_id, counts in results:
        assert_exactly_once(cli, run_id, counts)
    assert len(cli("runs", "--json").json()) == 4


def test_four_trainers_on_one_sqlite_file(cli: Cli, tmp_path: Path) -> None:
    run_four_trainers(cli, tmp_path)


@pytest.mark.postgres
def test_four_trainers_on_one_postgres_database(tmp_path: Path, pg_url: str) -> None:
    run_four_trainers(Cli(tmp_path, db=pg_url), tmp_path)


def test_unwritable_spool_location_is_refused_at_start(cli: Cli, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where RLTRACK_HOME's runs folder should be")
    cli.env["RLTRACK_HOME"] = str(blocker)
    cli.env["RLTRACK_DATABASE_URL"] = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    result = cli("train", "--mode", "smoke", "--no-progress")
    assert result.code == 2
    assert str(blocker) in result.stderr and "Traceback" not in result.stderr


def test_check_on_unknown_run_is_usage_error(cli: Cli) -> None:
    result = cli("check", "nope-nope")
    assert result.code == 2 and "no run" in result.stderr


def test_reading_a_database_that_does_not_exist_creates_nothing(cli: Cli, tmp_path: Path) -> None:
    typo = tmp_path / "typo" / "rltrak.db"
    url = f"sqlite:///{typo}"
    listed = cli("runs", "--json", "--db", url)
    assert listed.code == 0 and listed.json() == []
    for args in (("show", "abc"), ("episodes", "abc"), ("metrics", "abc"), ("check", "abc")):
        result = cli(*args, "--db", url)
        assert result.code == 2, args
        assert str(typo) in result.stderr and "Traceback" not in result.stderr
    assert not typo.parent.exists(), "no folder, no empty database left behind"


def test_a_database_given_by_its_path_is_that_sqlite_file(cli: Cli, tmp_path: Path) -> None:
    """`--db runs.db` is the SQLite file runs.db (relative to where the command runs), not a
    URL that never answers, with training spooled to nowhere the user meant."""
    result = cli(
        "train", "--algo", "ppo", "--env", "CartPole-v1", "--mode", "smoke",
        "--total-timesteps", "256", "--no-progress", "--db", "runs.db",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    assert "unreachable" not in result.stderr
    db = cli.home / "runs.db"
    assert db.is_file()
    for ref in ("runs.db", str(db), f"sqlite:///{db}"):
        listed = cli("runs", "--json", "--db", ref)
        assert [r["run_id"] for r in listed.json()] == [result.run_id], ref


@pytest.mark.parametrize(
    ("url", "needle"),
    [("nonsense://x", "unsupported database"), ("postgresql+psycopg://u@h:notaport/d", "URL")],
)
def test_training_refuses_a_database_url_that_can_never_work(
    cli: Cli, url: str, needle: str
) -> None:
    """A malformed URL is a usage error at start, not a server that is away for a while."""
    result = cli(
        "train", "--algo", "ppo", "--env", "CartPole-v1", "--mode", "smoke",
        "--total-timesteps", "256", "--no-progress", "--db", url,
    )  # fmt: skip
    assert result.code == 2
    assert needle in result.stderr and "Traceback" not in result.stderr
    assert "spooled" not in result.stderr
    assert not (cli.home / "runs").exists(), "no run folder or spool for a run that never began"


@contextmanager
def own_filesystem(where: Path, size: str = "32m") -> Iterator[Path]:
    """A tmpfs of our own. The tests run as root, where chmod does not stop writes; a full
    filesystem does."""
    where.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(filesystem: Path) -> Path:
    filler = filesystem / "filler"
    chunk = b"\0" * (1 << 20)
    with filler.open("wb") as f:
        try:
            while True:
                f.write(chunk)
                f.flush()
        except OSError:
            pass
    return filler


def test_sqlite_file_unwritable_for_a_while_loses_nothing(cli: Cli, tmp_path: Path) -> None:
    with own_filesystem(tmp_path / "fs") as fs:
        db = fs / "rltrack.db"
        cli.env["RLTRACK_DATABASE_URL"] = f"sqlite:///{db}"
        counts = tmp_path / "counts"
        proc = cli.popen(*counting_train_args(counts, 4000, sleep=0.003))
        run_id = wait_for_run_id(proc)
        wait_for_episodes(cli, run_id, 10)
        # Empty the write-ahead log so that the next write must grow a file, then leave no
        # room for it: from here on every write fails with "database or disk is full", for
        # 8 s of the run's ~12 s of env steps.
        conn = sqlite3.connect(db, isolation_level=None)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        filler = fill(fs)
        try:
            time.sleep(8)
        finally:
            filler.unlink()
        stdout, stderr = proc.communicate(timeout=180)
        assert proc.returncode == 0, stderr
        assert "spool" in stderr.lower()
        assert_exactly_once(cli, run_id, counts)
