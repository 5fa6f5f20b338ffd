"""What every `rltrack` command shares: the Typer app, the consoles, opening the store,
finding a run, failing with exit code 2, JSON output and number formatting."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from rltrack import settings
from rltrack.tracking.entities import Run, to_jsonable

app = typer.Typer(
    help="Train RL agents and keep a complete, queryable history of every run.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema commands.", no_args_is_help=True)
app.add_typer(db_app, name="db")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

EXIT_USAGE = 2
# The most rows a table of `rltrack episodes` (without --limit) or `metrics --key` prints.
TABLE_ROWS = 1000

DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL, or the path of a SQLite file (default: RLTRACK_DATABASE_URL, else "
        "SQLite in RLTRACK_HOME).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """One line on stderr and the exit code; the message is text, never markup (pip's
    ``gymnasium[box2d]`` must print as written)."""
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def missing_database(db: str | None) -> Path | None:
    """The SQLite file the command would read when it does not exist (else None)."""
    from rltrack.tracking.sql.engine import sqlite_path
    from rltrack.tracking.store import DatabaseURLError

    url = settings.database_url(db)
    try:
        path = sqlite_path(url) if url.startswith("sqlite") else None
    except DatabaseURLError:
        return None  # open_store names the bad URL
    return path if path is not None and not path.exists() else None


def open_store(db: str | None, *, runs: Sequence[str]) -> Any:
    """The store of a command that reads the recorded ``runs`` (and may add to them). A SQLite
    file that does not exist is an error naming it, not a new empty database: a mistyped --db
    would otherwise leave a stray file, and folders, behind."""
    from rltrack.tracking.store import StoreError, open_store

    missing = missing_database(db)
    if missing is not None:
        fail(
            f"no run {', '.join(runs)}: there is no database at {missing} (nothing has trained "
            "there yet); train a run first, or point --db or RLTRACK_DATABASE_URL at another"
        )
    try:
        return open_store(settings.database_url(db), create=True)
    except StoreError as exc:
        fail(str(exc))


def find_run(store: Any, ref: str) -> Run:
    from rltrack.tracking.store import NotFoundError

    try:
        run: Run = store.get_run(ref)
    except NotFoundError as exc:
        fail(str(exc))
    return run


def open_run(db: str | None, ref: str) -> tuple[Any, Run]:
    """The store and the run ``ref`` names in it (exit 2 naming what is missing)."""
    store = open_store(db, runs=[ref])
    return store, find_run(store, ref)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(to_jsonable(data), indent=2) + "\n")


def print_json_stream(items: Iterable[Any]) -> None:
    """A JSON array of ``items``, written as they come, laid out as :func:`print_json` would
    lay out the whole list."""
    write = sys.stdout.write
    first = True
    for item in items:
        text = json.dumps(to_jsonable(item), indent=2).replace("\n", "\n  ")
        write(("[\n  " if first else ",\n  ") + text)
        first = False
    write("[]\n" if first else "\n]\n")


def run_summary(run: Run) -> dict[str, Any]:
    return {
        "run_id": run.id, "name": run.name, "agent_id": run.agent_id,
        "algorithm": run.algorithm, "env_id": run.env_id, "backend": run.backend,
        "status": run.status, "start_time": run.start_time, "end_time": run.end_time,
        "episodes": run.episodes, "timesteps": run.timesteps, "tags": run.tags,
        "parent_run_id": run.parent_run_id, "error": run.error,
        "records_lost": run.records_lost,
    }  # fmt: skip


STATUSES = ("running", "completed", "stopped", "failed")


def lost_records_line(run: Run) -> str:
    """How many records of ``run`` the database refused, and why; empty when none."""
    if not run.records_lost:
        return ""
    cause = run.metadata.get("records_lost_cause")
    return f"{run.records_lost} records refused by the database" + (f" ({cause})" if cause else "")


def checkpoint_label(path: str) -> str:
    """Which checkpoint an evaluation played: ``final.zip``, or ``agent-1/best.pt`` for one of
    several agents (each has its own folder under the run's checkpoints)."""
    p = Path(path)
    return p.name if p.parent.name == "checkpoints" else f"{p.parent.name}/{p.name}"


def fmt(value: float | None) -> str:
    """Four significant digits, but whole numbers from 10,000 up in full (12,000 steps, not
    1.2e+04)."""
    if value is None:
        return "-"
    if math.isfinite(value) and 1e4 <= abs(value) < 1e15:
        return f"{value:,.0f}"
    return f"{value:.4g}"
