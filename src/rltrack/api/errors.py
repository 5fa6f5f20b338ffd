"""One exception handler that maps the store's errors to HTTP answers, all as ``{"detail"}``."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from rltrack.tracking.store import (
    AlreadyExistsError,
    NotFoundError,
    SchemaError,
    StoreError,
    UnavailableError,
)

RETRY_AFTER_S = 5


def store_error_response(exc: StoreError) -> JSONResponse:
    if isinstance(exc, NotFoundError):
        return JSONResponse({"detail": str(exc)}, status_code=404)
    if isinstance(exc, AlreadyExistsError):
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


def install(app: FastAPI) -> None:
    app.add_exception_handler(StoreError, _handle_store_error)
