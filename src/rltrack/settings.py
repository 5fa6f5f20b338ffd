"""Where rltrack keeps its data, from the environment: RLTRACK_HOME and RLTRACK_DATABASE_URL."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    return Path(os.environ.get("RLTRACK_HOME", "./rltrack-data"))


def database_url(explicit: str | None = None) -> str:
    """``--db`` beats ``RLTRACK_DATABASE_URL`` beats SQLite in RLTRACK_HOME."""
    if explicit:
        return explicit
    env = os.environ.get("RLTRACK_DATABASE_URL")
    if env:
        return env
    return f"sqlite:///{home() / 'rltrack.db'}"
