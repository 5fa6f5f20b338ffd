"""Engines for SQLite and PostgreSQL with the settings rltrack relies on, and the schema check."""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, OperationalError

from rltrack.jsonable import json_default, jsonable
from rltrack.tracking.store import DatabaseURLError, SchemaError, UnavailableError

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# The newest migration in migrations/versions. Opening a database compares its revision with
# this constant instead of asking Alembic, whose import and script scan cost every command
# ~0.15 s; a test checks that it is Alembic's head.
HEAD_REVISION = "0005"


def sqlite_busy_timeout_ms() -> int:
    """How long a SQLite writer waits for another one's lock (RLTRACK_SQLITE_BUSY_MS)."""
    return int(os.environ.get("RLTRACK_SQLITE_BUSY_MS", "30000"))


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def json_dumps(value: Any) -> str:
    """JSON for the JSON columns: NaN and infinities become null (JSON has no such numbers
    and PostgreSQL's jsonb refuses them), the same on every backend. A value JSON cannot hold
    (a class, a NumPy number) is written in its readable form (:mod:`rltrack.jsonable`)."""
    try:
        return json.dumps(value, allow_nan=False, default=json_default)
    except ValueError:
        return json.dumps(_finite(jsonable(value)), allow_nan=False)
    except TypeError:  # a key JSON cannot hold (a tuple, a class)
        return json_dumps(jsonable(value))


def normalize_url(url: str) -> str:
    """Accept the common spellings: ``postgresql://`` means psycopg 3 (the driver we ship)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def sqlite_path(url: str) -> Path | None:
    database = parse_url(url).database
    if not database or database == ":memory:":
        return None
    return Path(database)


def check_sqlite_location(url: str) -> None:
    """Refuse at once a SQLite path whose folder cannot hold the database."""
    path = sqlite_path(url)
    if path is None:
        return
    folder = path.parent if str(path.parent) else Path(".")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UnavailableError(
            f"cannot create the database folder {folder}: {exc.strerror}; "
            "pass --db with a writable location or set RLTRACK_HOME"
        ) from exc
    if path.exists():
        if not os.access(path, os.R_OK | os.W_OK):
            raise UnavailableError(
                f"the database file {path} is not writable; fix its permissions or pass --db"
            )
    elif not os.access(folder, os.W_OK | os.X_OK):
        raise UnavailableError(
            f"the database folder {folder} is not writable; pass --db with a writable "
            "location or set RLTRACK_HOME"
        )


def parse_url(url: str) -> URL:
    """SQLAlchemy's URL of ``url``; :class:`DatabaseURLError` naming it (password hidden) when
    it is not one."""
    try:
        return make_url(url)
    except (ArgumentError, ValueError) as exc:  # ValueError: a port that is not a number
        raise DatabaseURLError(
            f"not a database URL: {hide_password(url)!r}; use sqlite:///path/to.db, the path "
            "of a SQLite file, or postgresql+psycopg://user@host:port/dbname"
        ) from exc


def hide_password(url: str) -> str:
    """``scheme://user:secret@host`` as ``scheme://user:***@host``, for a URL that SQLAlchemy
    cannot parse (and so cannot render without its password)."""
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)


def make_engine(url: str) -> Engine:
    url = normalize_url(url)
    parsed = parse_url(url)
    kwargs: dict[str, Any] = {"json_serializer": json_dumps}
    if parsed.get_backend_name() == "sqlite":
        kwargs["connect_args"] = {"timeout": sqlite_busy_timeout_ms() / 1000}
    elif parsed.get_backend_name() == "postgresql":
        kwargs["pool_pre_ping"] = True
        kwargs["connect_args"] = {"connect_timeout": 5}
    else:
        raise DatabaseURLError(
            f"unsupported database {parsed.get_backend_name()!r} in {safe_url(url)!r}; "
            "rltrack supports sqlite:/// and postgresql+psycopg://"
        )
    try:
        engine = create_engine(url, **kwargs)
    except Exception as exc:  # a missing driver, a malformed query string, ...
        raise DatabaseURLError(f"cannot use database URL {safe_url(url)!r}: {exc}") from exc
    if parsed.get_backend_name() == "sqlite":
        _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" hook decide how transactions start (see below).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={sqlite_busy_timeout_ms()}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the write lock up front: a deferred transaction that reads and then
        # writes can fail with SQLITE_BUSY without waiting when another process wrote first.
        if conn.get_execution_options().get("sqlite_immediate"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision(url: str) -> str:
    """The newest revision as Alembic finds it in the migration scripts."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return _revision_on(conn)


def upgrade(url: str, engine: Engine) -> tuple[str | None, str]:
    """Bring the database to the newest schema. Returns (before, after) revisions.

    Several trainers may start at once on a new database: the upgrade holds the write lock
    (SQLite) or an advisory lock (PostgreSQL) from before it reads the current revision, so
    exactly one of them migrates and the others find the schema done.
    """
    from alembic import command

    cfg = alembic_config(url)
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(7271)"))
        before = _revision_on(conn)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return before, head_revision(url)


def _revision_on(conn: Any) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
    return row[0] if row else None


def ensure_schema(url: str, engine: Engine, *, create: bool) -> None:
    """Create a new database at the newest schema; refuse an outdated one with the fix."""
    try:
        with engine.connect() as conn:
            current = _revision_on(conn)
            tables = current is None and inspect(conn).has_table("runs")
    except OperationalError as exc:
        raise UnavailableError(f"cannot reach the database at {safe_url(url)}: {exc.orig}") from exc
    except DatabaseError as exc:
        # Reached, but not a database it can read: a SQLite path that holds some other file.
        raise SchemaError(
            f"{safe_url(url)} is not a database rltrack can read ({exc.orig}); point --db or "
            "RLTRACK_DATABASE_URL at an rltrack database, or move the file away to start anew"
        ) from exc
    head = HEAD_REVISION
    if current == head:
        return
    if current is None and not tables:
        if not create:
            raise SchemaError(
                f"the database at {safe_url(url)} has no rltrack tables; "
                f"run `rltrack db upgrade --db {safe_url(url)}` to create them"
            )
        try:
            upgrade(url, engine)
        except OperationalError as exc:
            raise UnavailableError(
                f"cannot create the schema at {safe_url(url)}: {exc.orig}"
            ) from exc
        return
    raise SchemaError(
        f"the database at {safe_url(url)} has schema revision {current or 'unknown'}, "
        f"this rltrack needs {head}; run `rltrack db upgrade --db {safe_url(url)}`"
    )


def safe_url(url: str) -> str:
    """The URL with any password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return hide_password(url)
