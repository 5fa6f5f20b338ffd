"""The dashboard's API types are generated from the OpenAPI document that the server serves:
web/src/api/schema.gen.ts is what the project's own openapi-typescript makes of /openapi.json,
so that the dashboard compiles against the document. `cd web && npm run gen:api` regenerates it
(from `python -m rltrack.api.openapi`, the same document without a server)."""

from __future__ import annotations

import difflib
import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.api.conftest import serve
from tests.conftest import REPO

WEB = REPO / "web"
GENERATED = WEB / "src" / "api" / "schema.gen.ts"
GENERATOR = WEB / "node_modules" / ".bin" / "openapi-typescript"


def test_the_dump_is_the_served_document(sqlite_url: str) -> None:
    dumped = subprocess.run(
        [sys.executable, "-m", "rltrack.api.openapi"],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    for client in serve(sqlite_url):
        served = client.get("/openapi.json").json()
    assert json.loads(dumped.stdout) == served


def test_the_committed_types_are_generated_from_the_served_document(
    sqlite_url: str, tmp_path: Path
) -> None:
    node = shutil.which("node")
    assert node is not None, "Node.js is needed to generate the dashboard's types"
    assert GENERATOR.exists(), f"{GENERATOR} is missing: run `npm ci` in web/ (make web)"
    document = tmp_path / "openapi.json"
    for client in serve(sqlite_url):
        document.write_text(client.get("/openapi.json").text, encoding="utf-8")
    out = tmp_path / "schema.gen.ts"
    result = subprocess.run(
        [node, str(GENERATOR), str(document), "--output", str(out)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    fresh = out.read_text(encoding="utf-8")
    committed = GENERATED.read_text(encoding="utf-8")
    diff = "".join(
        difflib.unified_diff(
            committed.splitlines(keepends=True),
            fresh.splitlines(keepends=True),
            str(GENERATED.relative_to(REPO)),
            "generated from /openapi.json",
            n=1,
        )  # fmt: skip
    )
    assert not diff, f"stale: run `cd web && npm run gen:api`\n{diff[:4000]}"
