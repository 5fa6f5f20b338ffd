"""The dashboard: the built web app (web/ → src/rltrack/web/) served at ``/``.

Paths under ``/api`` stay the API's; any other GET path that is not a built file answers
``index.html``, so the app's own routes (``/runs/<id>``) survive a reload. Built assets carry a
content hash in their names: they are cached by browsers for good and kept in memory here,
gzipped once for the clients that accept it (the app's script shrinks to about a third, which
matters to a team reaching the server over a network). ``index.html`` is revalidated each time.
"""

from __future__ import annotations

import gzip
import mimetypes
import threading
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

WEB_ROOT = Path(__file__).resolve().parent.parent / "web"
IMMUTABLE = "public, max-age=31536000, immutable"
COMPRESSIBLE = (".js", ".css", ".svg", ".json", ".map", ".txt", ".html")
MAX_CACHED_BYTES = 8 * 2**20  # a built asset above this is streamed from disk instead

NOT_BUILT = """<!doctype html><title>rltrack</title>
<h1>The rltrack dashboard is not built</h1>
<p>Build it with <code>make web</code> (needs Node.js and npm), then reload.
The API is served all the same: see <a href="/docs">/docs</a>.</p>"""


@dataclass(frozen=True)
class _Asset:
    body: bytes
    gzipped: bytes | None
    media_type: str


class _AssetCache:
    """Hashed build assets in memory, read (and gzipped) on first use."""

    def __init__(self) -> None:
        self._assets: dict[Path, _Asset] = {}
        self._lock = threading.Lock()

    def get(self, path: Path) -> _Asset | None:
        asset = self._assets.get(path)
        if asset is not None:
            return asset
        if path.stat().st_size > MAX_CACHED_BYTES:
            return None
        body = path.read_bytes()
        compress = path.suffix in COMPRESSIBLE and len(body) > 1024
        gzipped = gzip.compress(body, compresslevel=6, mtime=0) if compress else None
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        asset = _Asset(body, gzipped if gzipped and len(gzipped) < len(body) else None, media_type)
        with self._lock:
            self._assets[path] = asset
        return asset


def _accepts_gzip(request: Request) -> bool:
    return "gzip" in request.headers.get("accept-encoding", "").lower()


def _asset_response(cache: _AssetCache, path: Path, request: Request) -> Response:
    asset = cache.get(path)
    if asset is None:
        return FileResponse(path, headers={"Cache-Control": IMMUTABLE})
    headers = {"Cache-Control": IMMUTABLE, "Vary": "Accept-Encoding"}
    body = asset.body
    if asset.gzipped is not None and _accepts_gzip(request):
        headers["Content-Encoding"] = "gzip"
        body = asset.gzipped
    return Response(body, media_type=asset.media_type, headers=headers)


def install(app: FastAPI, root: Path = WEB_ROOT) -> None:
    root = root.resolve()
    cache = _AssetCache()

    @app.get("/{path:path}", include_in_schema=False)
    def dashboard(path: str, request: Request) -> Response:
        if path == "api" or path.startswith("api/"):
            raise HTTPException(404, detail=f"no API route {request.url.path}")
        index = root / "index.html"
        if not index.is_file():
            return HTMLResponse(NOT_BUILT, status_code=503)
        # Dot files (the build stamp) are not part of the app.
        if path and not any(part.startswith(".") for part in path.split("/")):
            candidate = (root / path).resolve()
            if candidate.is_relative_to(root) and candidate.is_file():
                if path.startswith("assets/"):
                    return _asset_response(cache, candidate, request)
                return FileResponse(candidate, headers={"Cache-Control": "no-cache"})
        return FileResponse(index, headers={"Cache-Control": "no-cache"})
