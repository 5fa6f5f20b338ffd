"""The error answers, all ``{"detail": "<text>"}``: the store's errors mapped to HTTP answers,
refused input (FastAPI's validation errors as one sentence) and NUL characters in URLs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from rltrack.tracking.store import (
    AlreadyExistsError,
    ConflictError,
    NotFoundError,
    SchemaError,
    StoreError,
    UnavailableError,
)

RETRY_AFTER_S = 5


def store_error_response(exc: StoreError) -> JSONResponse:
    if isinstance(exc, NotFoundError):
        return JSONResponse({"detail": str(exc)}, status_code=404)
    if isinstance(exc, AlreadyExistsError | ConflictError):
        return JSONResponse({"detail": str(exc)}, status_code=409)
    if isinstance(exc, UnavailableError):
        return JSONResponse(
            {"detail": str(exc)},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
    if isinstance(exc, SchemaError):
        # Not cured by waiting: `rltrack db upgrade` (named in the message) is needed.
        return JSONResponse({"detail": str(exc)}, status_code=503)
    # Any other store error is the database refusing a query: say so, without a 500.
    return JSONResponse({"detail": f"database error: {exc}"}, status_code=503)


async def _handle_store_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StoreError)
    return store_error_response(exc)


def _location(loc: Sequence[Any]) -> str:
    """``("query", "limit")`` → ``limit``; ``("body", "tags", 0)`` → ``body.tags.0``."""
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("query", "path", "header") and len(parts) > 1:
        parts = parts[1:]
    return ".".join(parts)


def validation_message(exc: RequestValidationError) -> str:
    """The refused input as one sentence: ``<where>: <what>`` for each error."""
    messages = []
    for err in exc.errors():
        where = _location(err.get("loc", ()))
        msg = str(err.get("msg", "invalid"))
        messages.append(f"{where}: {msg}" if where else msg)
    return "; ".join(dict.fromkeys(messages)) or "invalid request"


async def _handle_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": validation_message(exc)}, status_code=422)


class RefuseNul:
    """422 for a NUL character anywhere in the path or the query: no route can use one, and
    PostgreSQL refuses it in text, which would otherwise surface as a database error."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            query: bytes = scope.get("query_string", b"")
            if "\x00" in scope.get("path", "") or b"\x00" in query or b"%00" in query.lower():
                response = JSONResponse(
                    {"detail": "NUL characters are not allowed in the path or the query"},
                    status_code=422,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def install(app: FastAPI) -> None:
    app.add_exception_handler(StoreError, _handle_store_error)
    app.add_exception_handler(RequestValidationError, _handle_validation_error)
    app.add_middleware(RefuseNul)
