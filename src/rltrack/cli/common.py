"""What every `rltrack` command shares: the Typer app, the consoles, opening the store,
finding a run, failing with exit code 2, JSON output, number formatting, tables that fit the
terminal and help texts that flow."""

from __future__ import annotations

import inspect
import json
import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Column, Table
from rich.text import Text

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
import_app = typer.Typer(help="Bring runs recorded by other tools.", no_args_is_help=True)
app.add_typer(import_app, name="import")

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


# -- help texts ------------------------------------------------------------------------------
def flowing(text: str) -> str:
    """``text`` (a docstring) with each paragraph on one line: Typer's rich help keeps the line
    breaks of the source, which at 80 columns break sentences in the middle. Paragraphs (blank
    line apart) stay apart, and one that starts with Click's ``\\b`` keeps its lines."""
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(p if p.startswith("\b") else " ".join(p.split()) for p in paragraphs)


def flowing_help(typer_app: typer.Typer) -> None:
    """Give every command of ``typer_app`` (and of its groups) its docstring as flowing help:
    the source keeps docstrings wrapped at 100 columns, the terminal wraps them to its width."""
    if isinstance(typer_app.info.help, str):
        typer_app.info.help = flowing(typer_app.info.help)
    for command in typer_app.registered_commands:
        doc = command.help if command.help is not None else inspect.getdoc(command.callback)
        if doc:
            command.help = flowing(doc)
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            flowing_help(group.typer_instance)


# -- tables that fit the terminal ------------------------------------------------------------
def cut_middle(text: str, width: int) -> str:
    """``text`` in at most ``width`` cells, its middle given up for an ellipsis: the start and
    the end of a run name both tell runs apart (``CartPole-v1__p…__20261206-0201``)."""
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    head = _take(text, width // 2)
    tail = _take(text[::-1], width - 1 - cell_len(head))[::-1]
    return f"{head}…{tail}"


def _take(text: str, cells: int) -> str:
    """The longest start of ``text`` that fits in ``cells`` cells."""
    used = 0
    for n, char in enumerate(text):
        used += cell_len(char)
        if used > cells:
            return text[:n]
    return text


class MiddleCut:
    """A one-line cell that, given fewer cells than it has, is cut in the middle."""

    def __init__(self, text: str, style: str = "") -> None:
        self.text, self.style = text, style

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(1, cell_len(self.text)).with_maximum(options.max_width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Text(cut_middle(self.text, options.max_width), style=self.style, no_wrap=True)


Cell = str | Text | MiddleCut


@dataclass(frozen=True)
class Col:
    """A column of :func:`fit_table`.

    ``drop``: 0 for a column always shown; when the terminal is too narrow for all columns, the
    ones with the highest ``drop`` give way first, whole (equal ranks go together).
    ``floor``: None for a column as wide as its widest cell (ids, statuses, numbers); else the
    narrowest the column is made before columns are dropped: its cells are then cut in the
    middle (text cells, :class:`MiddleCut`) or, with ``wrap``, wrapped. ``ratio``: its share of
    the room left once every column has its floor, up to its full width."""

    header: str
    drop: int = 0
    floor: int | None = None
    ratio: int = 1
    wrap: bool = False


# Each column of a rich table (box and padding 1) takes 3 cells besides its own; the table 1.
PER_COLUMN, PER_TABLE = 3, 1


def _plain(cell: Cell) -> str:
    return cell.text if isinstance(cell, MiddleCut) else str(cell)


def natural_widths(cols: Sequence[Col], rows: Sequence[Sequence[Cell] | None]) -> list[int]:
    """The width each column takes when nothing is cut: its widest cell, header included."""
    cells = [row for row in rows if row is not None]
    widths = []
    for i, col in enumerate(cols):
        lines = [line for row in cells for line in _plain(row[i]).splitlines()]
        widths.append(max(map(cell_len, [col.header, *lines])))
    return widths


def floor_widths(cols: Sequence[Col], natural: Sequence[int]) -> list[int]:
    """The narrowest each column is made before a column is dropped."""
    return [
        n if col.floor is None else min(n, max(col.floor, cell_len(col.header)))
        for col, n in zip(cols, natural, strict=True)
    ]


def fit_table(
    cols: Sequence[Col],
    rows: Iterable[Sequence[Cell] | None],
    *,
    width: int | None = None,
) -> Table:
    """A table of ``rows`` (None: a line between sections) no wider than ``width`` (default:
    the terminal's): columns dropped in their ``drop`` order while the rest do not fit at their
    floors, then the room left shared out by ``ratio``. As wide as its content, no wider."""
    rows = list(rows)
    room = out.width if width is None else width
    natural = natural_widths(cols, rows)
    floor = floor_widths(cols, natural)
    keep = list(range(len(cols)))

    def spare() -> int:
        return room - PER_TABLE - sum(PER_COLUMN + widths[i] for i in keep)

    widths = dict(enumerate(floor))
    while spare() < 0 and any(cols[i].drop for i in keep):
        last = max(cols[i].drop for i in keep)
        keep = [i for i in keep if cols[i].drop != last]
    while spare() > 0:
        wanting = [i for i in keep if widths[i] < natural[i]]
        if not wanting:
            break
        left, total = spare(), sum(cols[i].ratio for i in wanting)
        for i in sorted(wanting, key=lambda i: -cols[i].ratio):
            share = max(1, left * cols[i].ratio // total)
            widths[i] += min(share, natural[i] - widths[i], spare())
    # Not even the columns kept fit at their floors: those that may be cut shrink further (rich
    # squeezes the others, to an ellipsis, should that not be enough).
    for i in reversed(keep):
        if spare() < 0 and cols[i].floor is not None:
            widths[i] -= max(0, min(-spare(), widths[i] - 4))
    table = Table(
        *(
            Column(
                cols[i].header, width=max(widths[i], 1), no_wrap=not cols[i].wrap,
                overflow="fold" if cols[i].wrap else "ellipsis",
            )
            for i in keep
        )
    )  # fmt: skip
    for row in rows:
        if row is None:
            table.add_section()
            continue
        cells = (row[i] for i in keep)
        table.add_row(
            *(
                MiddleCut(c) if isinstance(c, str) and cols[i].floor and not cols[i].wrap else c
                for i, c in zip(keep, cells, strict=True)
            )
        )
    return table
