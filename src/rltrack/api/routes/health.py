"""``/api/health``: the server answers and so does its database."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from rltrack.api.deps import StoreDep
from rltrack.api.errors import RETRY_AFTER_S
from rltrack.api.responses import BAD_INPUT, RETRY_AFTER, error
from rltrack.api.schemas import HealthErrorPublic, HealthPublic
from rltrack.tracking.store import StoreError

router = APIRouter(prefix="/api", tags=["health"])


@router.get(
    "/health",
    response_model=HealthPublic,
    responses={
        422: error(BAD_INPUT),
        503: {
            "model": HealthErrorPublic,
            "description": "The database cannot be reached.",
            "headers": {"Retry-After": RETRY_AFTER},
        },
    },
)
def get_health(store: StoreDep) -> Any:
    try:
        store.ping()
    except StoreError as exc:
        return JSONResponse(
            {"detail": str(exc), "status": "error", "database": "unavailable"},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
    return HealthPublic(status="ok", database="ok")
