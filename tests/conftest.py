"""Shared fixtures: real SQLite files, a real PostgreSQL server, the real `rltrack` command."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rltrack.testing.postgres import PostgresServer
from rltrack.training.events import EpisodeEnded, Event, MetricsLogged, RunEnded

REPO = Path(__file__).resolve().parents[1]
_db_counter = itertools.count()
# Commands that start no training: run in-process by the `cli` fixture (a subprocess would
# spend seconds importing torch for each).
IN_PROCESS = frozenset(
    {
        "runs",
        "show",
        "episodes",
        "metrics",
        "check",
        "sync",
        "db",
        "tag",
        "delete",
        "compare",
        "export",
        "evaluate",
    }
)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session (Debian's postgresql; .ci/run installs it).

    Its cluster lives in its own folder under the system temp dir, not pytest's: another pytest
    session resets /tmp/pytest-of-<user> to owner-only, which locks the postgres user out."""
    root = Path(tempfile.mkdtemp(prefix="rltrack-pg-"))
    try:
        with PostgresServer(root / "cluster") as server:
            yield server
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> str:
    """A fresh, empty database on the session's server."""
    return pg_server.create_database(f"rltrack_test_{os.getpid()}_{next(_db_counter)}")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'rltrack.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test that takes it runs against SQLite and against PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'rltrack.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    @property
    def run_id(self) -> str:
        for line in self.stdout.splitlines():
            if line.startswith("run_id: "):
                return line.split(": ", 1)[1].strip()
        raise AssertionError(f"no run_id line in output:\n{self.stdout}\n{self.stderr}")


class Sink:
    """Keeps every event; ``on_event`` sees each as it is emitted."""

    def __init__(self, on_event: Callable[[Event], None] | None = None) -> None:
        self.events: list[Event] = []
        self.on_event = on_event

    def emit(self, event: Event) -> None:
        self.events.append(event)
        if self.on_event is not None:
            self.on_event(event)

    def of(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def metric(self, key: str) -> list[tuple[int, float]]:
        """(timestep, value) of ``key`` in every MetricsLogged emitted."""
        return [(m.timestep, m.values[key]) for m in self.of(MetricsLogged) if key in m.values]

    @property
    def ended(self) -> list[EpisodeEnded]:
        """The episodes' final records, by index."""
        return sorted(self.of(EpisodeEnded), key=lambda e: e.index)

    @property
    def run_end(self) -> RunEnded:
        (end,) = self.of(RunEnded)
        return end


class Cli:
    """Runs the real `rltrack` command in a subprocess with its own RLTRACK_HOME."""

    def __init__(self, home: Path, db: str | None = None) -> None:
        self.home = home
        self.db = db
        self.env = {
            **os.environ,
            "RLTRACK_HOME": str(home),
            "COLUMNS": "200",
            # The checkout first; a PYTHONPATH of the caller's (packages kept outside the venv)
            # stays after it.
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        }
        if db:
            self.env["RLTRACK_DATABASE_URL"] = db
        else:
            self.env.pop("RLTRACK_DATABASE_URL", None)

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "rltrack.cli", *args]

    def __call__(self, *args: str, timeout: float = 240, **kw: Any) -> Result:
        if args and args[0] in IN_PROCESS and not kw:
            return self.in_process(*args)
        proc = subprocess.run(
            self.argv(*args), capture_output=True, text=True, timeout=timeout, env=self.env,
            cwd=self.home, **kw,
        )  # fmt: skip
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def in_process(self, *args: str) -> Result:
        """Read-back commands run in this process (the same Typer app, with this Cli's
        environment): a subprocess would spend seconds importing torch for a query."""
        from typer.testing import CliRunner

        from rltrack.cli import app

        saved_env, saved_cwd = dict(os.environ), os.getcwd()
        os.environ.clear()
        os.environ.update(self.env)
        os.chdir(self.home)
        try:
            result = CliRunner().invoke(app, list(args), catch_exceptions=False)
        finally:
            os.chdir(saved_cwd)
            os.environ.clear()
            os.environ.update(saved_env)
        return Result(result.exit_code, result.stdout, result.stderr)

    def popen(self, *args: str, **kw: Any) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.argv(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=self.env, cwd=self.home, **kw,
        )  # fmt: skip


def wait_for_run_id(proc) -> str:  # type: ignore[no-untyped-def]
    line = proc.stdout.readline()
    assert line.startswith("run_id: "), (line, proc.stderr.read() if proc.poll() else "")
    return line.split(": ", 1)[1].strip()


def wait_for_episodes(cli: Cli, run_id: str, at_least: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = cli("episodes", run_id, "--json")
        if result.code == 0 and len(result.json()) >= at_least:
            return
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} did not record {at_least} episodes in {timeout}s")


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    home = tmp_path / "home"
    home.mkdir()
    return Cli(home)
