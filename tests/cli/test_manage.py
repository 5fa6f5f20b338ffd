"""`rltrack tag`, `rltrack delete` and `rltrack compare`: a run's tags and notes, removing runs
with their folders (never a running one, never without --yes when nobody can be asked), and runs
side by side."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from rltrack.tracking.spool import SPOOL_NAME
from rltrack.tracking.store import Store, open_store
from rltrack.training.events import EvaluationRecorded, RunStarted
from tests.api.conftest import run_events
from tests.conftest import Cli


@pytest.fixture
def store(cli: Cli) -> Iterator[Store]:
    s = open_store(f"sqlite:///{cli.home / 'rltrack.db'}")
    yield s
    s.close()


def folder_of(cli: Cli, run_id: str) -> Path:
    folder = cli.home / "runs" / run_id
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "checkpoints" / "final.zip").write_bytes(b"x" * 2048)
    return folder


def test_tags_and_notes(cli: Cli, store: Store) -> None:
    store.write(run_events("tagged", episodes=2))
    added = cli("tag", "tagged", "baseline", "lr-sweep", "--notes", "first try")
    assert added.code == 0, added.stderr
    assert "baseline, lr-sweep" in added.stdout and "first try" in added.stdout
    assert cli("tag", "tagged", "--remove", "lr-sweep").code == 0
    run = store.get_run("tagged")
    assert (run.tags, run.notes) == (["baseline"], "first try")
    # The runs list filters by them, as the dashboard does.
    store.write(run_events("untagged", episodes=1))
    assert [r["run_id"] for r in cli("runs", "--tag", "baseline", "--json").json()] == ["tagged"]
    assert cli("runs", "--tag", "lr-sweep", "--json").json() == []
    assert [r["run_id"] for r in cli("runs", "--search", "NAME-UNT", "--json").json()] == [
        "untagged"
    ]
    assert len(cli("runs", "--algo", "ppo", "--env", "CartPole-v1", "--json").json()) == 2
    assert cli("runs", "--algo", "dqn", "--json").json() == []

    missing = cli("tag", "tagged", "--remove", "nope")
    assert missing.code == 2 and "has no tag 'nope'; its tags are baseline" in missing.stderr
    assert cli("tag", "tagged", " ").code == 2
    shown = cli("tag", "tagged")
    assert shown.code == 0 and "baseline" in shown.stdout
    text = cli("show", "tagged").stdout
    assert "tags        baseline" in text and "notes       first try" in text
    assert cli("show", "tagged", "--json").json()["notes"] == "first try"
    assert store.get_run("tagged").tags == ["baseline"]


def test_delete_removes_records_and_folder(cli: Cli, store: Store) -> None:
    store.write(run_events("parent", episodes=5, checkpoints=(2,)))
    child = run_events("child", episodes=3)
    child[0] = dataclasses.replace(child[0], parent_run_id="parent")
    store.write(child)
    store.write(run_events("kept", episodes=3))
    parent_dir, kept_dir = folder_of(cli, "parent"), folder_of(cli, "kept")
    (kept_dir / SPOOL_NAME).write_text("")

    # Nobody to ask: nothing happens without --yes.
    refused = cli("delete", "parent")
    assert refused.code == 2 and "pass --yes" in refused.stderr
    assert "5 episodes" in refused.stderr and "2.0 KB" in refused.stderr
    assert store.get_run("parent").episodes == 5 and parent_dir.exists()

    done = cli("delete", "parent", "--yes")
    assert done.code == 0, done.stderr
    assert "deleted name-parent (parent)" in done.stdout
    assert cli("show", "parent").code == 2 and not parent_dir.exists()
    # The run it was resumed into stays, no longer linked.
    assert store.get_run("child").parent_run_id is None and store.get_run("child").episodes == 3

    # --keep-files keeps the folder, but not records spooled for a replay that would bring the
    # run back.
    assert cli("delete", "kept", "--keep-files", "-y").code == 0
    assert (kept_dir / "checkpoints" / "final.zip").exists()
    assert not (kept_dir / SPOOL_NAME).exists()
    assert [r["run_id"] for r in cli("runs", "--json").json()] == ["child"]


def test_a_running_run_is_not_deleted(cli: Cli, store: Store) -> None:
    now = dt.datetime.now(dt.UTC)
    events = run_events("live", episodes=2, start=now, status="running")
    assert isinstance(events[0], RunStarted)
    store.write(events)
    refused = cli("delete", "live", "--yes")
    assert refused.code == 2 and "is still running: stop it first" in refused.stderr
    assert store.get_run("live").status == "running"
    assert cli("delete", "nosuch", "--yes").code == 2


def test_compare_results_and_differing_settings(cli: Cli, store: Store) -> None:
    base = {"algo": "ppo", "hyperparams": {"learning_rate": 0.0003, "gamma": 0.99}, "seed": 1}
    other = {"algo": "ppo", "hyperparams": {"learning_rate": 0.001, "gamma": 0.99}, "seed": 2}
    store.write(run_events("slow", episodes=150, config=base, reward=lambda i: float(i)))
    store.write(run_events("fast", episodes=20, config=other, reward=lambda i: 2.0 * i))
    t = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
    store.write(
        [
            EvaluationRecorded("fast", None, 5, 30.0, 1.0, opponent="agent", time=t),
            EvaluationRecorded("fast", None, 5, 99.0, 0.0, opponent="random", time=t),
            EvaluationRecorded("fast", None, 5, 35.0, 2.0, opponent="agent", time=t + t.resolution),
        ]
    )
    result = cli("compare", "slow", "fast", "--json")
    assert result.code == 0, result.stderr
    body = result.json()
    assert body["runs"] == ["slow", "fast"]
    res = body["results"]
    assert res["episodes"] == {"slow": 150, "fast": 20}
    assert res["best reward"] == {"slow": 149.0, "fast": 38.0}
    # The newest 100 episodes: 50..149 for the long run, all 20 for the short one.
    assert res["last 100 mean"] == {"slow": 99.5, "fast": 19.0}
    assert res["mean reward"]["slow"] == pytest.approx(74.5)
    # The newest evaluation of the agent itself (not a baseline); none for the other run.
    assert res["latest evaluation"] == {"slow": None, "fast": 35.0}
    assert body["differing_params"] == [
        {"key": "hyperparams.learning_rate", "values": {"slow": 0.0003, "fast": 0.001}}
    ]
    # Episodes still in flight have no reward yet: the newest 100 that have one are counted.
    store.write(
        run_events("open", episodes=110, config=base, reward=float, started=range(100, 110))
    )
    with_open = cli("compare", "slow", "open", "--json").json()["results"]
    assert with_open["last 100 mean"]["open"] == 49.5
    table = cli("compare", "slow", "fast").stdout
    assert "hyperparams.learning_rate" in table and "99.5" in table

    for args, needle in (
        (("slow",), "compare takes 2 to 8 distinct runs, got 1"),
        (("slow", "slow"), "got 1"),
        (("slow", "nope"), "nope"),
    ):
        refused = cli("compare", *args)
        assert refused.code == 2 and needle in refused.stderr, refused.stderr
