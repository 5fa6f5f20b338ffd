"""``python -m rltrack.cli``: the `rltrack` command."""

from rltrack.cli import main

main()
