"""The dashboard: the built web app (web/ → src/rltrack/web/) served at ``/``.

Paths under ``/api`` stay the API's; any other GET path that is not a built file answers
``index.html``, so the app's own routes (``/runs/<id>``) survive a reload.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

WEB_ROOT = Path(__file__).resolve().parent.parent / "web"

NOT_BUILT = """<!doctype html><title>rltrack</title>
<h1>The rltrack dashboard is not built</h1>
<p>Build it with <code>make web</code> (needs Node.js and npm), then reload.
The API is served all the same: see <a href="/docs">/docs</a>.</p>"""


def install(app: FastAPI, root: Path = WEB_ROOT) -> None:
    root = root.resolve()

    @app.get("/{path:path}", include_in_schema=False)
    def dashboard(path: str, request: Request) -> Response:
        if path == "api" or path.startswith("api/"):
            raise HTTPException(404, detail=f"no API route {request.url.path}")
        index = root / "index.html"
        if not index.is_file():
            return HTMLResponse(NOT_BUILT, status_code=503)
        if path:
            candidate = (root / path).resolve()
            if candidate.is_relative_to(root) and candidate.is_file():
                return FileResponse(candidate)
        return FileResponse(index, headers={"Cache-Control": "no-cache"})
