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
from collections.abc import Callable, Iterator
from email.utils import formatdate
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Header, HTTPException
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response, StreamingResponse

from rltrack import settings
from rltrack.api.deps import StoreDep
from rltrack.api.responses import error, errors

router = APIRouter(prefix="/api", tags=["files"])

MAX_BIGINT = 2**63 - 1
CHUNK = 256 * 1024
# One range: "bytes=first-last", "bytes=first-" or "bytes=-suffix" (RFC 9110 §14.1.2);
# positions beyond 19 digits are no file's (and would make int() slow, or refuse).
_RANGE = re.compile(r"bytes=([0-9]{0,19})-([0-9]{0,19})", re.IGNORECASE)
FileId = Annotated[int, PathParam(ge=0, le=MAX_BIGINT)]
# A media type as RFC 9110 writes one (type/subtype, then parameters); a record's that is not
# one is not sent: the file's name decides instead.
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_MEDIA_TYPE = re.compile(rf'{_TOKEN}/{_TOKEN}(?:[ \t]*;[ \t]*{_TOKEN}=(?:{_TOKEN}|"[^"\\]*"))*')
CHECKPOINT_TYPES = ("application/zip", "application/octet-stream")

_HEADERS: dict[str, Any] = {
    "Accept-Ranges": {"required": True, "schema": {"type": "string", "enum": ["bytes"]}},
    "ETag": {
        "description": "Changes when the file is rewritten; for `If-Range`.",
        "required": True,
        "schema": {"type": "string", "pattern": '^"[0-9a-f]{32}"$'},
    },
    "Last-Modified": {"required": True, "schema": {"type": "string"}},
    "Content-Disposition": {
        "description": "`attachment` with the file's name.",
        "required": True,
        "schema": {"type": "string", "pattern": "^attachment; filename\\*=utf-8''"},
    },
    "Content-Length": {"required": True, "schema": {"type": "integer", "minimum": 0}},
}


def file_responses(content_types: tuple[str, ...], what: str) -> dict[int | str, dict[str, Any]]:
    content: dict[str, Any] = {t: {} for t in content_types}
    return {
        200: {"description": f"The whole file: {what}.", "content": content, "headers": _HEADERS},
        206: {
            "description": "The requested byte range of the file.",
            "content": content,
            "headers": {
                **_HEADERS,
                "Content-Range": {
                    "required": True,
                    "schema": {"type": "string", "pattern": "^bytes [0-9]+-[0-9]+/[0-9]+$"},
                },
            },
        },
        **errors({404: "No such record, or its file is missing or outside the data root."}),
        416: error(
            "The range starts beyond the end of the file.",
            {
                "Content-Range": {
                    "description": "`bytes */<size>`.",
                    "required": True,
                    "schema": {"type": "string", "pattern": "^bytes \\*/[0-9]+$"},
                },
                "Accept-Ranges": _HEADERS["Accept-Ranges"],
            },
        ),
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


def artifact_media_type(recorded: str | None, name: str) -> str:
    """The record's media type when it is one, else the one the name suggests, else bytes."""
    if recorded is not None and _MEDIA_TYPE.fullmatch(recorded.strip()):
        return recorded.strip()
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def checkpoint_media_type(name: str) -> str:
    """A zip archive (Stable-Baselines3's checkpoints) or bytes (PyTorch's and the rest)."""
    return CHECKPOINT_TYPES[0] if name.lower().endswith(".zip") else CHECKPOINT_TYPES[1]


RangeHeader = Annotated[
    str | None,
    Header(
        alias="Range",
        description="One byte range: `bytes=first-last`, `bytes=first-` or `bytes=-suffix`. "
        "Any other value (several ranges, another unit) is ignored: the whole file is sent.",
        examples=["bytes=0-1023"],
    ),
]
IfRangeHeader = Annotated[
    str | None,
    Header(
        alias="If-Range",
        description="The `ETag` or `Last-Modified` of the file the client holds part of: when "
        "the file has changed since, `Range` is ignored and the whole file is sent.",
    ),
]


def serve_file(
    path: str, media_type: Callable[[str], str], wanted: str | None, if_range: str | None
) -> Response:
    resolved, st = registered_file(path)
    size = st.st_size
    # A validator for If-Range: changes when the file is rewritten.
    digest = hashlib.md5(f"{st.st_mtime_ns}-{size}".encode(), usedforsecurity=False).hexdigest()
    etag = f'"{digest}"'
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": etag,
        "Last-Modified": formatdate(st.st_mtime, usegmt=True),
        "Content-Disposition": f"attachment; filename*=utf-8''{quote(resolved.name)}",
    }
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
            _read(resolved, 0, size - 1), media_type=media_type(resolved.name), headers=headers
        )
    first, last = span
    headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    headers["Content-Length"] = str(last - first + 1)
    return StreamingResponse(
        _read(resolved, first, last),
        status_code=206,
        media_type=media_type(resolved.name),
        headers=headers,
    )


@router.get(
    "/artifacts/{artifact_id}/download",
    response_class=Response,
    responses=file_responses(
        ("video/mp4", "*/*"),
        "a video is `video/mp4`; another file has the media type its record names, else the "
        "one its name suggests, else `application/octet-stream`",
    ),
    description="The artifact's file. Supports a single HTTP Range (`bytes=first-last`, "
    "`bytes=first-`, `bytes=-suffix`) so that videos can seek.",
)
def download_artifact(
    store: StoreDep,
    artifact_id: FileId,
    range_: RangeHeader = None,
    if_range: IfRangeHeader = None,
) -> Response:
    artifact = store.get_artifact(artifact_id)
    return serve_file(
        artifact.path,
        lambda name: artifact_media_type(artifact.media_type, name),
        range_,
        if_range,
    )


@router.get(
    "/checkpoints/{checkpoint_id}/download",
    response_class=Response,
    responses=file_responses(
        CHECKPOINT_TYPES, "a zip archive when its name ends in `.zip`, else bytes"
    ),
    description="The checkpoint's file (the same rules and Range support as artifacts).",
)
def download_checkpoint(
    store: StoreDep,
    checkpoint_id: FileId,
    range_: RangeHeader = None,
    if_range: IfRangeHeader = None,
) -> Response:
    checkpoint = store.get_checkpoint(checkpoint_id)
    return serve_file(checkpoint.path, checkpoint_media_type, range_, if_range)
