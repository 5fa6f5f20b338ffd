"""Where rltrack keeps its data, from the environment: RLTRACK_HOME and RLTRACK_DATABASE_URL."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    return Path(os.environ.get("RLTRACK_HOME", "./rltrack-data"))


def database_url(explicit: str | None = None) -> str:
    """``--db`` beats ``RLTRACK_DATABASE_URL`` beats SQLite in RLTRACK_HOME. Either may be a
    URL or the path of a SQLite file (see :func:`as_url`)."""
    if explicit:
        return as_url(explicit)
    env = os.environ.get("RLTRACK_DATABASE_URL")
    if env:
        return as_url(env)
    return f"sqlite:///{home() / 'rltrack.db'}"


def as_url(value: str) -> str:
    """A database URL as given, or a file path (``runs.db``, ``~/rl/runs.db``, nothing like
    ``scheme://``) as the URL of that SQLite file: what ``--db runs.db`` obviously means. The
    path is made absolute, so that what is recorded with it (a spool's target, the run folder
    printed) still names the same file from another directory."""
    if "://" in value or value.startswith("sqlite:"):
        return value
    return f"sqlite:///{Path(value).expanduser().absolute()}"
