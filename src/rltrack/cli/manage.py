"""Looking after recorded runs: `tag`, `delete`, `export`, `sync` and `db upgrade`."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Annotated

import typer

from rltrack import settings
from rltrack.cli.common import (
    DbOpt,
    app,
    db_app,
    err,
    fail,
    find_run,
    import_app,
    open_run,
    open_store,
    out,
)
from rltrack.tracking.entities import Run


@app.command()
def tag(
    run: Annotated[str, typer.Argument(help="Run (id, id prefix or name).")],
    add: Annotated[list[str] | None, typer.Argument(help="Tags to add.")] = None,
    remove: Annotated[
        list[str] | None, typer.Option("--remove", help="A tag to remove (repeatable).")
    ] = None,
    notes: Annotated[
        str | None, typer.Option(help="Replace the run's notes ('' clears them).")
    ] = None,
    db: DbOpt = None,
) -> None:
    """Add or remove a run's tags, or set its notes; with neither, print them."""
    store, r = open_run(db, run)
    blank = [t for t in (*(add or ()), *(remove or ())) if not t.strip()]
    if blank:
        fail("a tag cannot be empty")
    unknown = [t for t in remove or () if t not in r.tags]
    if unknown:
        fail(
            f"run {r.id[:8]} has no tag {', '.join(map(repr, unknown))}; its tags are "
            + (", ".join(r.tags) or "none")
        )
    if add or remove or notes is not None:
        tags = [t for t in (*r.tags, *(add or ())) if t not in (remove or ())]
        r = store.update_run(r.id, tags=tags if (add or remove) else None, notes=notes)
    out.print(f"[bold]{r.name}[/] ({r.id[:8]})", highlight=False)
    out.print(f"  tags   {', '.join(r.tags) or '-'}", highlight=False)
    out.print(f"  notes  {r.notes or '-'}", highlight=False)


@app.command()
def delete(
    runs: Annotated[list[str], typer.Argument(help="Runs (id, id prefix or name).")],
    keep_files: Annotated[
        bool,
        typer.Option("--keep-files", help="Keep each run's folder (checkpoints, videos)."),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Delete without asking.")] = False,
    db: DbOpt = None,
) -> None:
    """Delete runs: their records (episodes, trades, metrics, checkpoints, evaluations) and
    their run folders."""
    store = open_store(db, runs=runs)
    found = list({r.id: r for r in (find_run(store, ref) for ref in runs)}.values())
    running = [r for r in found if r.status == "running"]
    if running:
        fail(
            f"run {running[0].name} ({running[0].id[:8]}) is still running: stop it first "
            "(or, if its trainer was killed, wait until its heartbeat is stale)"
        )
    folders = {r.id: _run_folder(r) for r in found}
    for r in found:
        folder = folders[r.id]
        where = "kept" if keep_files else f"{folder} ({_size(folder)})" if folder else "no folder"
        err.print(
            f"  {r.name} ({r.id[:8]}): {r.status}, {r.episodes:,} episodes; files: {where}",
            highlight=False,
        )
    if not yes:
        if not sys.stdin.isatty():
            fail("deleting asks for confirmation; pass --yes to delete without asking")
        if not typer.confirm(f"Delete {len(found)} run{'s' if len(found) != 1 else ''}?"):
            raise typer.Exit(1)
    from rltrack.tracking.spool import SPOOL_NAME
    from rltrack.tracking.store import StoreError

    for r in found:
        try:
            store.delete_run(r.id)
        except StoreError as exc:
            fail(str(exc), 1)
        folder = folders[r.id]
        if folder is not None:
            if keep_files:
                # Spooled records would bring the run back at the next `rltrack sync`.
                (folder / SPOOL_NAME).unlink(missing_ok=True)
            else:
                shutil.rmtree(folder, ignore_errors=True)
        out.print(f"deleted {r.name} ({r.id[:8]})", highlight=False)


def _run_folder(r: Run) -> Path | None:
    """The run's own folder (named by its id), when it exists."""
    folder = Path(r.metadata.get("run_dir") or settings.home() / "runs" / r.id)
    return folder if folder.name == r.id and folder.is_dir() else None


def _size(folder: Path) -> str:
    total = float(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()))
    for unit in ("B", "KB", "MB", "GB"):
        if total < 1024 or unit == "GB":
            return f"{total:.0f} {unit}" if unit == "B" else f"{total:.1f} {unit}"
        total /= 1024
    return ""


@app.command()
def sync(db: DbOpt = None) -> None:
    """Replay spooled records of runs that ended while their database was away."""
    from rltrack.tracking.spool import Spool, find_spools
    from rltrack.tracking.store import StoreError
    from rltrack.tracking.store import open_store as open_url

    folders = find_spools(settings.home())
    if not folders:
        out.print(f"nothing to sync in {settings.home()}", highlight=False)
        return
    failed = 0
    for folder in folders:
        spool = Spool(folder)
        url = settings.database_url(db) if db else (spool.target_url or settings.database_url())
        try:
            store = open_url(url)
            written = spool.replay(store)
            store.close()
        except StoreError as exc:
            failed += 1
            err.print(f"[red]{folder.name}[/]: still cannot write: {exc}", highlight=False)
            continue
        out.print(f"run {folder.name}: {written} records replayed", highlight=False)
    raise typer.Exit(1 if failed else 0)


@app.command()
def export(
    run: Annotated[str, typer.Argument(help="Run (id, id prefix or name).")],
    table: Annotated[
        str, typer.Option(help="episodes (one row each, metrics as columns) or trades.")
    ] = "episodes",
    format_: Annotated[
        str, typer.Option("--format", help="csv, json, parquet or tensorboard.")
    ] = "csv",
    out_path: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="File to write (default: standard output; - also means it); for tensorboard, "
            "the folder of event files.",
        ),
    ] = None,
    db: DbOpt = None,
) -> None:
    """Write a run's episodes or trades as CSV, JSON or Parquet (the dashboard's export), or
    its metrics and each episode's reward and length as TensorBoard event files."""
    from rltrack.exporters import FORMATS, TABLES, export
    from rltrack.tracking.store import StoreError

    if format_ == "tensorboard":
        _export_tensorboard(db, run, out_path)
        return
    if table not in TABLES:
        fail(f"--table {table!r}: choose one of {', '.join(TABLES)}")
    if format_ not in FORMATS:
        fail(f"--format {format_!r}: choose one of {', '.join((*FORMATS, 'tensorboard'))}")
    to_stdout = out_path is None or str(out_path) == "-"
    if to_stdout and format_ == "parquet" and sys.stdout.isatty():
        fail("--format parquet is binary: pass --out FILE, or redirect standard output")
    if not to_stdout:
        assert out_path is not None
        if out_path.is_dir():
            fail(f"--out {out_path} is a folder; name a file in it")
        if not out_path.parent.is_dir():
            fail(f"--out {out_path}: the folder {out_path.parent} does not exist")
    store, r = open_run(db, run)
    try:
        chunks = export(store, r.id, table, format_)  # type: ignore[arg-type]
        if to_stdout:
            sink = sys.stdout.buffer
            for chunk in chunks:
                sink.write(chunk.encode() if isinstance(chunk, str) else chunk)
            sink.flush()
            return
        assert out_path is not None
        part = out_path.with_name(f".{out_path.name}.part")
        try:
            with part.open("wb") as f:
                for chunk in chunks:
                    f.write(chunk.encode() if isinstance(chunk, str) else chunk)
            part.replace(out_path)
        finally:
            part.unlink(missing_ok=True)
    except StoreError as exc:
        fail(str(exc), 1)
    except BrokenPipeError:
        raise  # a reader that stopped early (| head): Click exits quietly
    except OSError as exc:
        fail(f"could not write {out_path or 'standard output'}: {exc.strerror or exc}", 1)
    err.print(
        f"{table} of {r.name} ({r.id[:8]}) written to {out_path} as {format_}", highlight=False
    )


def _export_tensorboard(db: str | None, run: str, out_path: Path | None) -> None:
    from rltrack.tracking.tensorboard import export_run

    if out_path is None or str(out_path) == "-":
        fail("--format tensorboard writes event files: pass --out FOLDER")
    if out_path.exists() and not out_path.is_dir():
        fail(f"--out {out_path} is a file; TensorBoard's event files go in a folder")
    store, r = open_run(db, run)
    try:
        out_path.mkdir(parents=True, exist_ok=True)
        points = export_run(store, r.id, out_path)
    except OSError as exc:
        fail(f"could not write {out_path}: {exc.strerror or exc}", 1)
    out.print(
        f"{points} points of {r.name} ({r.id[:8]}) written to {out_path}; look at them with: "
        f"tensorboard --logdir {out_path}",
        highlight=False,
    )


@import_app.command("tensorboard")
def import_tensorboard(
    folder: Annotated[Path, typer.Argument(help="Folder of TensorBoard event files.")],
    name: Annotated[
        str | None, typer.Option(help="Name of the run (several: NAME/<subfolder>).")
    ] = None,
    db: DbOpt = None,
) -> None:
    """Import TensorBoard event files as runs of metrics: each folder that holds event files
    (SB3's tensorboard_log writes PPO_1/, PPO_2/, ...) becomes one run. Importing the same
    folder again adds nothing."""
    from rltrack.tracking.store import StoreError
    from rltrack.tracking.store import open_store as open_url
    from rltrack.tracking.tensorboard import TensorBoardError, import_runs

    try:
        store = open_url(settings.database_url(db))
        imported = import_runs(store, folder, name)
    except (TensorBoardError, StoreError) as exc:
        fail(str(exc))
    for run_id, run_name, points in imported:
        out.print(f"imported {run_name} ({run_id[:8]}): {points} points", highlight=False)


# -- database -------------------------------------------------------------------------------
@db_app.command("upgrade")
def db_upgrade(db: DbOpt = None) -> None:
    """Create the schema, or bring an older one to this version of rltrack."""
    from rltrack.tracking.sql import engine as eng
    from rltrack.tracking.store import StoreError

    url = eng.normalize_url(settings.database_url(db))
    try:
        if eng.is_sqlite(url):
            eng.check_sqlite_location(url)
        engine = eng.make_engine(url)
        before, after = eng.upgrade(url, engine)
    except StoreError as exc:
        fail(str(exc))
    except Exception as exc:  # sqlalchemy's OperationalError when the server is away
        fail(f"cannot upgrade {eng.safe_url(url)}: {exc}")
    if before == after:
        out.print(f"{eng.safe_url(url)} is up to date (revision {after})", highlight=False)
    else:
        out.print(f"{eng.safe_url(url)}: {before or 'empty'} → {after}", highlight=False)
