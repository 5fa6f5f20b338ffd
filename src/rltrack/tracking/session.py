"""Where a run's records go, opened once for `rltrack train` and for ``rltrack.init()`` alike.

:func:`open_recorder` resolves the database (``--db`` / ``db=``, else RLTRACK_DATABASE_URL, else
SQLite in RLTRACK_HOME), makes the run folder and its spool, and starts the RunLogger. A server
that is away at start does not stop anything: records are spooled until it answers (a
:class:`DeferredStore`). What can never work (a malformed URL, a SQLite file whose folder cannot
hold it, a run folder or spool that cannot be written) raises :class:`RecordingError`, whose
message names the fix.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rltrack import settings
from rltrack.tracking.logger import RunLogger
from rltrack.tracking.spool import Spool, SpoolError
from rltrack.tracking.store import Store


class RecordingError(ValueError):
    """The run's records could not be kept anywhere: the message says what to fix."""


@dataclass
class Recorder:
    store: Store
    url: str
    run_dir: Path
    spool: Spool
    logger: RunLogger
    deferred: bool  # the database was away at start: records spool until it answers

    def discard_run_dir(self) -> None:
        """Remove the run folder of a run that recorded nothing (refused before it started)."""
        with contextlib.suppress(OSError):
            self.spool.path.unlink(missing_ok=True)
            self.run_dir.rmdir()


def open_store_for_writing(db: str | None) -> tuple[Store, str, bool]:
    """The store records go to, its URL, and whether it is deferred (its server is away)."""
    from rltrack.tracking.deferred import DeferredStore
    from rltrack.tracking.sql.engine import is_sqlite, normalize_url
    from rltrack.tracking.store import DatabaseURLError, StoreError, UnavailableError, open_store

    url = normalize_url(settings.database_url(db))
    try:
        return open_store(url), url, False
    except UnavailableError as exc:
        if is_sqlite(url) or isinstance(exc, DatabaseURLError):
            raise RecordingError(str(exc)) from None
        return DeferredStore(url), url, True
    except StoreError as exc:
        raise RecordingError(str(exc)) from None


def open_recorder(
    store: Store,
    url: str,
    run_id: str,
    *,
    deferred: bool = False,
    on_outage: Callable[[Exception], None] | None = None,
    on_recovered: Callable[[int], None] | None = None,
) -> Recorder:
    """The run folder (``$RLTRACK_HOME/runs/<run_id>``), its spool and a RunLogger on ``store``."""
    run_dir = settings.home() / "runs" / run_id
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RecordingError(
            f"cannot create the run folder {run_dir}: {exc.strerror}; set RLTRACK_HOME"
        ) from None
    spool = Spool(run_dir, db_url=url)
    try:
        spool.check_writable()
    except SpoolError as exc:
        raise RecordingError(str(exc)) from None
    logger = RunLogger(store, spool=spool, on_outage=on_outage, on_recovered=on_recovered)
    return Recorder(store, url, run_dir, spool, logger, deferred)
