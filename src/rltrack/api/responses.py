"""What the routes document besides their success: every error answer is ``ErrorPublic``
(``{"detail": "<text>"}``), with the status codes each route really gives."""

from __future__ import annotations

from typing import Any

from rltrack.api.errors import RETRY_AFTER_S
from rltrack.api.schemas import ErrorPublic

Responses = dict[int | str, dict[str, Any]]

BAD_INPUT = (
    "A parameter or the body breaks the schema, the query has a parameter the route does not "
    "take, or the path or the query holds a NUL character."
)
RETRY_AFTER = {
    "description": f"Seconds to wait before trying again ({RETRY_AFTER_S}); absent when waiting "
    "will not help (the database schema needs `rltrack db upgrade`).",
    "schema": {"type": "integer", "minimum": 0},
}
UNAVAILABLE = "The database cannot be reached or refused the query."
NO_RUN = "No such run (nor a run whose id starts with, or whose name is, this text)."
NO_EPISODE = "No such episode."


def error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"model": ErrorPublic, "description": description}
    if headers:
        doc["headers"] = headers
    return doc


def errors(described: dict[int, str] | None = None) -> Responses:
    """The error answers of a route: 422 and 503, which any route can give, and ``described``
    (status → description)."""
    out: Responses = {code: error(text) for code, text in (described or {}).items()}
    out[422] = error(BAD_INPUT)
    out[503] = error(UNAVAILABLE, {"Retry-After": RETRY_AFTER})
    return out


def write_errors(described: dict[int, str] | None = None) -> Responses:
    """The error answers of a route that changes a run (it needs the X-API-Key header)."""
    out = errors(
        {403: "RLTRACK_API_KEY is not set on the server: writes are disabled.", 404: NO_RUN}
        | (described or {})
    )
    out[401] = error(
        "Missing or wrong X-API-Key.",
        {
            "WWW-Authenticate": {
                "description": "`X-API-Key`: the header that authenticates.",
                "required": True,
                "schema": {"type": "string"},
            }
        },
    )
    return out


# A body that cannot even be read as text (FastAPI's answer, before any validation).
UNREADABLE_BODY = {400: "The body is not UTF-8 text."}
