"""Dependencies of the routes: the store the application was created with, and the API key
that write routes need."""

from __future__ import annotations

import hmac
import os
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, Security
from fastapi.security import APIKeyHeader

from rltrack.tracking.store import Store

API_KEY_ENV = "RLTRACK_API_KEY"
_api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description=f"Must equal the server's {API_KEY_ENV}; write routes answer 403 while that "
    "variable is unset.",
)


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def require_api_key(key: Annotated[str | None, Security(_api_key_header)]) -> None:
    """Read at every request, so that setting or rotating the key needs no restart."""
    expected = os.environ.get(API_KEY_ENV)
    if not expected:
        raise HTTPException(
            403, detail=f"write routes are disabled: set {API_KEY_ENV} on the server"
        )
    if key is None or not hmac.compare_digest(key.encode(), expected.encode()):
        raise HTTPException(
            401, detail="missing or wrong X-API-Key", headers={"WWW-Authenticate": "X-API-Key"}
        )


StoreDep = Annotated[Store, Depends(get_store)]
ApiKeyDep = Depends(require_api_key)
# A run in a path: its id, an unambiguous prefix of it (4 characters at least) or its name.
RunId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=255,
        description="The run's id, a prefix of it (at least 4 characters), or its name.",
        examples=["9f1c2d3e4b5a46789abcdef012345678"],
    ),
]
