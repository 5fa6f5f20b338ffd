"""Tests of the schema and its Alembic migrations: new databases get the head revision, old or
unknown ones are refused with the fix, `rltrack db upgrade` works, and the migration builds
exactly the tables the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from rltrack.tracking.sql import engine as eng
from rltrack.tracking.sql.models import Base
from rltrack.tracking.sql.store import SqlStore
from rltrack.tracking.store import SchemaError
from rltrack.training.events import RunStarted
from tests.conftest import Cli

EXPECTED_TABLES = {
    "runs", "run_tags", "episodes", "trades", "steps", "metrics", "checkpoints", "artifacts",
    "evaluations", "episode_blocks", "run_groups", "run_group_members",
}  # fmt: skip

HEAD = "0005"  # the newest migration in src/rltrack/tracking/sql/migrations/versions


def table_names(url: str) -> set[str]:
    engine = eng.make_engine(url)
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def revision_of(url: str) -> str | None:
    engine = eng.make_engine(url)
    try:
        return eng.current_revision(engine)
    finally:
        engine.dispose()


def set_revision(url: str, revision: str) -> None:
    engine = eng.make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    finally:
        engine.dispose()


def a_run() -> RunStarted:
    return RunStarted(uuid.uuid4().hex, "r", "ppo", "CartPole-v1", "sb3", {"x": 1})


def test_fresh_database_gets_the_head_revision(db_url: str) -> None:
    head = eng.head_revision(db_url)
    # The constant that opening a database checks against is the scripts' head.
    assert head == HEAD == eng.HEAD_REVISION
    SqlStore(db_url).close()
    assert revision_of(db_url) == head
    assert table_names(db_url) == EXPECTED_TABLES
    # Opening it again is fine, and so is opening it without permission to create.
    SqlStore(db_url).close()
    SqlStore(db_url, create=False).close()


def test_empty_database_without_create_names_the_upgrade_command(db_url: str) -> None:
    with pytest.raises(SchemaError, match="rltrack db upgrade"):
        SqlStore(db_url, create=False)
    assert table_names(db_url) == set()


@pytest.mark.parametrize("revision", ["0000", "ffffdeadbeef"])
def test_database_at_another_revision_is_refused(db_url: str, revision: str) -> None:
    SqlStore(db_url).close()
    set_revision(db_url, revision)
    with pytest.raises(SchemaError) as info:
        SqlStore(db_url)
    message = str(info.value)
    assert "rltrack db upgrade" in message
    assert revision in message
    assert HEAD in message
    # The refusal changed nothing.
    assert revision_of(db_url) == revision


def test_tables_without_a_revision_are_refused(db_url: str) -> None:
    SqlStore(db_url).close()
    engine = eng.make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE alembic_version"))
    finally:
        engine.dispose()
    with pytest.raises(SchemaError, match="rltrack db upgrade"):
        SqlStore(db_url)


def test_schema_error_hides_the_password(pg_url: str) -> None:
    url = pg_url.replace("postgres@", "postgres:s3cret@")
    with pytest.raises(SchemaError) as info:
        SqlStore(url, create=False)
    assert "s3cret" not in str(info.value)
    assert "rltrack db upgrade" in str(info.value)


def test_db_upgrade_command_creates_then_reports_up_to_date(cli: Cli, db_url: str) -> None:
    first = cli("db", "upgrade", "--db", db_url, timeout=60)
    assert first.code == 0, first.stderr
    assert HEAD in first.stdout
    assert "up to date" not in first.stdout
    assert table_names(db_url) == EXPECTED_TABLES
    assert revision_of(db_url) == HEAD

    second = cli("db", "upgrade", "--db", db_url, timeout=60)
    assert second.code == 0, second.stderr
    assert "up to date" in second.stdout

    # The database it made is usable without creating anything.
    store = SqlStore(db_url, create=False)
    try:
        run = a_run()
        store.write([run])
        assert store.get_run(run.run_id).name == "r"
    finally:
        store.close()


def test_db_upgrade_uses_rltrack_home_by_default(cli: Cli) -> None:
    result = cli("db", "upgrade", timeout=60)
    assert result.code == 0, result.stderr
    db = cli.home / "rltrack.db"
    assert db.exists()
    assert revision_of(f"sqlite:///{db}") == HEAD


def test_db_upgrade_refuses_an_unknown_revision(cli: Cli, sqlite_url: str) -> None:
    SqlStore(sqlite_url).close()
    set_revision(sqlite_url, "ffffdeadbeef")
    result = cli("db", "upgrade", "--db", sqlite_url, timeout=60)
    assert result.code != 0
    assert "ffffdeadbeef" in result.stderr


def test_db_upgrade_unwritable_location(cli: Cli, tmp_path: Path) -> None:
    blocker = tmp_path / "somefile"
    blocker.write_text("")
    result = cli("db", "upgrade", "--db", f"sqlite:///{blocker}/x/rltrack.db", timeout=60)
    assert result.code != 0
    assert str(blocker) in result.stderr
    assert "Traceback" not in result.stderr


def test_migration_matches_the_models(db_url: str) -> None:
    SqlStore(db_url).close()  # built by the Alembic migration, not by create_all
    engine = eng.make_engine(db_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diffs = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diffs == []


def test_migration_downgrades_and_upgrades_again(db_url: str) -> None:
    store = SqlStore(db_url)
    store.write([a_run()])
    store.close()
    engine = eng.make_engine(db_url)
    try:
        cfg = eng.alembic_config(db_url)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "base")
        assert table_names(db_url) == set()
        before, after = eng.upgrade(db_url, engine)
        assert (before, after) == (None, HEAD)
    finally:
        engine.dispose()
    assert table_names(db_url) == EXPECTED_TABLES
