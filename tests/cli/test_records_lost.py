"""A run whose records the database refuses is never a plain success.

The database is a real SQLite file; a trigger in it refuses what a test names, as a schema
change, a constraint or a bug in a write would: for a reason other than an outage, which the
spool covers instead.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.api.conftest import serve
from tests.conftest import Cli


def refusing_database(cli: Cli, trigger: str) -> str:
    """A database at this version's schema with ``trigger`` installed; its URL."""
    path = cli.home / "rltrack.db"
    url = f"sqlite:///{path}"
    assert cli("db", "upgrade", "--db", url).code == 0
    with sqlite3.connect(path) as conn:
        conn.execute(trigger)
    return url


def test_a_run_whose_own_record_is_refused_trains_nothing(cli: Cli) -> None:
    url = refusing_database(
        cli,
        "CREATE TRIGGER no_runs BEFORE INSERT ON runs "
        "BEGIN SELECT RAISE(ABORT, 'runs refused by the test trigger'); END",
    )
    result = cli("train", "--algo", "a2c", "--mode", "smoke", "--no-progress", "--db", url)
    assert result.code == 1, result.stdout + result.stderr
    # One line naming the cause; nothing claims success, and no run id was handed out.
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "runs refused by the test trigger" in lines[0] and "nothing was trained" in lines[0]
    assert "completed" not in result.stdout and "run_id" not in result.stdout
    assert "Traceback" not in result.stderr
    assert cli("runs", "--json", "--db", url).json() == []
    # No run folder is left behind for a run that never was.
    assert not any((cli.home / "runs").glob("*/checkpoints"))


def test_records_refused_during_training_are_counted_shown_and_fail_the_run(cli: Cli) -> None:
    url = refusing_database(
        cli,
        "CREATE TRIGGER no_episode_3 BEFORE INSERT ON episodes WHEN NEW.idx = 3 "
        "BEGIN SELECT RAISE(ABORT, 'episode 3 refused by the test trigger'); END",
    )
    result = cli("train", "--algo", "ppo", "--mode", "smoke", "--no-progress", "--db", url)
    run_id = result.run_id
    assert result.code == 1, result.stdout + result.stderr
    assert "the record of this run is incomplete" in result.stderr
    assert "episode 3 refused by the test trigger" in result.stderr

    show = cli("show", run_id, "--json", "--db", url).json()
    # Only the refused episode is missing: its neighbours in the same batches were kept.
    assert show["records_lost"] >= 1
    assert "episode 3 refused" in show["metadata"]["records_lost_cause"]
    indices = [e["index"] for e in cli("episodes", run_id, "--json", "--db", url).json()]
    assert 3 not in indices and indices == [i for i in range(len(indices) + 1) if i != 3]
    text = cli("show", run_id, "--db", url).stdout
    assert "records refused by the database" in text

    check = cli("check", run_id, "--json", "--db", url)
    assert check.code == 1
    report = check.json()
    assert report["ok"] is False and report["records_lost"] == show["records_lost"]
    assert report["gaps"] == [[3, 3]]

    client = next(iter_api := serve(url))
    try:
        run = client.get(f"/api/training-runs/{run_id}").json()
        assert run["records_lost"] == show["records_lost"]
        listed = client.get("/api/training-runs").json()
        assert listed[0]["records_lost"] == show["records_lost"]
    finally:
        iter_api.close()


def test_a_complete_run_reports_no_loss(cli: Cli, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ok.db'}"
    result = cli("train", "--algo", "ppo", "--mode", "smoke", "--no-progress", "--db", url)
    assert result.code == 0, result.stderr
    report = cli("check", result.run_id, "--json", "--db", url).json()
    assert report["ok"] is True and report["records_lost"] == 0
