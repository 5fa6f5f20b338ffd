"""``/api/health``: the server answers and so does its database."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from rltrack.api.deps import StoreDep
from rltrack.api.errors import RETRY_AFTER_S
from rltrack.api.schemas import HealthPublic
from rltrack.tracking.store import StoreError

router = APIRouter(prefix="/api", tags=["health"])


@router.get(
    "/health",
    response_model=HealthPublic,
    responses={503: {"description": "The database cannot be reached."}},
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
