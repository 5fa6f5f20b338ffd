"""File downloads: artifacts and checkpoints, with HTTP Range for seeking in videos.

Only files that the database registers are served, and only when their path (absolute, or
relative to RLTRACK_HOME) resolves, symbolic links followed, to a regular file inside
RLTRACK_HOME. Anything else is a 404, so a record cannot be used to read arbitrary files.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re
import stat
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response, StreamingResponse

from rltrack import settings
from rltrack.api.deps import StoreDep

router = APIRouter(prefix="/api", tags=["files"])

MAX_BIGINT = 2**63 - 1
CHUNK = 256 * 1024
# One range: "bytes=first-last", "bytes=first-" or "bytes=-suffix" (RFC 9110 §14.1.2);
# positions beyond 19 digits are no file's (and would make int() slow, or refuse).
_RANGE = re.compile(r"bytes=([0-9]{0,19})-([0-9]{0,19})", re.IGNORECASE)
FileId = Annotated[int, PathParam(ge=0, le=MAX_BIGINT)]
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The whole file.", "content": {"application/octet-stream": {}}},
    206: {"description": "The requested byte range."},
    404: {"description": "No such record, or its file is missing or outside the data root."},
    416: {"description": "The range lies beyond the end of the file."},
}


def data_root() -> Path:
    return settings.home().resolve()


def registered_file(path: str) -> tuple[Path, os.stat_result]:
    """The file a record names, when it is a regular file inside the data root."""
    root = data_root()
    candidate = Path(path)
    if not candidate.is_absolute():
        candidate = root / candidate
    try:
        resolved = candidate.resolve()
        st = resolved.stat()
    except (OSError, RuntimeError, ValueError):  # missing, a symlink loop, a NUL in the path
        raise HTTPException(404, detail="the file is missing") from None
    if not resolved.is_relative_to(root):
        raise HTTPException(404, detail="the file is outside the data root: not served")
    if not stat.S_ISREG(st.st_mode):
        raise HTTPException(404, detail="the record does not name a regular file")
    return resolved, st


class _Unsatisfiable(Exception):
    def __init__(self, size: int) -> None:
        self.size = size


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive (first, last) byte of a satisfiable single range; None to send the whole
    file (no Range, or one this server ignores, as RFC 9110 allows: several ranges, another
    unit, bad syntax). Raises 416 for a range that starts past the end."""
    if header is None:
        return None
    m = _RANGE.fullmatch(header.strip())
    if m is None or (not m.group(1) and not m.group(2)):
        return None
    first_s, last_s = m.group(1), m.group(2)
    if first_s:
        first = int(first_s)
        last = min(int(last_s), size - 1) if last_s else size - 1
        if last_s and int(last_s) < first:
            return None  # invalid: ignored
        if first >= size:
            raise _Unsatisfiable(size)
        return first, last
    suffix = int(last_s)
    if suffix == 0 or size == 0:
        raise _Unsatisfiable(size)
    return max(0, size - suffix), size - 1


def _read(path: Path, first: int, last: int) -> Iterator[bytes]:
    with path.open("rb") as f:
        f.seek(first)
        left = last - first + 1
        while left > 0:
            chunk = f.read(min(CHUNK, left))
            if not chunk:  # the file shrank while it was being sent
                return
            left -= len(chunk)
            yield chunk


def serve_file(request: Request, path: str, media_type: str | None) -> Response:
    resolved, st = registered_file(path)
    size = st.st_size
    media_type = media_type or mimetypes.guess_type(resolved.name)[0] or "application/octet-stream"
    # A validator for If-Range: changes when the file is rewritten.
    digest = hashlib.md5(f"{st.st_mtime_ns}-{size}".encode(), usedforsecurity=False).hexdigest()
    etag = f'"{digest}"'
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": etag,
        "Last-Modified": formatdate(st.st_mtime, usegmt=True),
        "Content-Disposition": f"attachment; filename*=utf-8''{quote(resolved.name)}",
    }
    if_range = request.headers.get("if-range")
    wanted = request.headers.get("range")
    if if_range is not None and if_range not in (etag, headers["Last-Modified"]):
        wanted = None  # the file changed since the client's first part: send it whole
    try:
        span = _byte_range(wanted, size)
    except _Unsatisfiable as exc:
        return JSONResponse(
            {"detail": f"range not satisfiable: the file has {exc.size} bytes"},
            status_code=416,
            headers={"Content-Range": f"bytes */{exc.size}", "Accept-Ranges": "bytes"},
        )
    if span is None:
        headers["Content-Length"] = str(size)
        return StreamingResponse(
            _read(resolved, 0, size - 1), media_type=media_type, headers=headers
        )
    first, last = span
    headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    headers["Content-Length"] = str(last - first + 1)
    return StreamingResponse(
        _read(resolved, first, last), status_code=206, media_type=media_type, headers=headers
    )


@router.get(
    "/artifacts/{artifact_id}/download",
    response_class=Response,
    responses=RESPONSES,
    description="The artifact's file. Supports a single HTTP Range (`bytes=first-last`, "
    "`bytes=first-`, `bytes=-suffix`) so that videos can seek.",
)
def download_artifact(request: Request, store: StoreDep, artifact_id: FileId) -> Response:
    artifact = store.get_artifact(artifact_id)
    return serve_file(request, artifact.path, artifact.media_type)


@router.get(
    "/checkpoints/{checkpoint_id}/download",
    response_class=Response,
    responses=RESPONSES,
    description="The checkpoint's file (the same rules and Range support as artifacts).",
)
def download_checkpoint(request: Request, store: StoreDep, checkpoint_id: FileId) -> Response:
    checkpoint = store.get_checkpoint(checkpoint_id)
    return serve_file(request, checkpoint.path, None)
