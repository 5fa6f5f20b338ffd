"""The `rltrack` command: thin Typer commands over config, training, the store and the API.

One module per group of commands: :mod:`~rltrack.cli.train`, :mod:`~rltrack.cli.query` (reading
runs back), :mod:`~rltrack.cli.manage` (tags, deleting, exporting, syncing, the schema),
:mod:`~rltrack.cli.play` (evaluations and videos) and :mod:`~rltrack.cli.serve`; what they share
is in :mod:`~rltrack.cli.common`.
"""

from __future__ import annotations

import sys

from rltrack.cli.common import app, err, flowing_help

# Importing a module registers its commands; `rltrack --help` lists them in this order.
# isort: off
from rltrack.cli import train, sweep, query, groups, play, manage, serve  # noqa: F401, E402

# isort: on
# Docstrings are wrapped for the source; help shows each paragraph as one, wrapped to the terminal.
flowing_help(app)

__all__ = ["app", "main"]


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
