"""Dependencies of the routes: the store the application was created with."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from rltrack.tracking.store import Store


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


StoreDep = Annotated[Store, Depends(get_store)]
