"""``python -m rltrack.api.openapi [--out FILE]``: the API's OpenAPI document, printed (or
written) without a server or a database. The dashboard's TypeScript types are generated from it
(``npm run gen:api`` in web/)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def document() -> dict[str, Any]:
    """The document of the app that ``rltrack serve`` serves (no database is opened)."""
    from rltrack.api.app import create_app

    return create_app("sqlite://").openapi()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rltrack.api.openapi",
        description="Print the API's OpenAPI document (JSON) without a server or a database.",
    )
    parser.add_argument("--out", type=Path, help="write the document here (else to stdout)")
    args = parser.parse_args(argv)
    text = json.dumps(document(), indent=2, ensure_ascii=False) + "\n"
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
