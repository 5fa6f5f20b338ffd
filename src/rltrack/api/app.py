"""The application factory: ``create_app(url_or_store)`` → a FastAPI app over one store."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from rltrack.api import document, errors, web
from rltrack.api.contract import DocumentContract
from rltrack.api.routes import (
    compare,
    episodes,
    events,
    export,
    files,
    groups,
    health,
    records,
    runs,
    sweeps,
)
from rltrack.tracking.store import Store

StoreSource = Store | str | Callable[[], Store]
# Seconds uvicorn waits for open responses at shutdown before cancelling them: a live event
# stream never ends by itself (``rltrack serve`` and the tests pass this to uvicorn).
GRACEFUL_SHUTDOWN_S = 3


def _open(source: StoreSource) -> tuple[Store, bool]:
    """The store and whether the app owns it (and closes it at shutdown)."""
    if isinstance(source, Store):
        return source, False
    if isinstance(source, str):
        # Connects on first use: the server starts (and answers 503) while the database is away.
        from rltrack.tracking.deferred import DeferredStore

        return DeferredStore(source), True
    return source(), True


def create_app(store_factory_or_url: StoreSource, *, freeze_gc: bool = False) -> FastAPI:
    """An app reading from a database URL, a store factory, or a store the caller owns.

    ``freeze_gc`` (for a process that only serves, as ``rltrack serve``): once started, the
    objects alive (modules, the engine, the routes: some 100k) move to the collector's
    permanent generation. Otherwise every full collection walks them all, and a request that
    happens to trigger one takes some 80 ms more (the runs list's p95 doubled)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store, owned = _open(store_factory_or_url)
        app.state.store = store
        if freeze_gc:
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            if owned:
                store.close()

    app = FastAPI(
        title="rltrack",
        description="The training history that rltrack records: runs, episodes, trades, "
        "metrics, checkpoints, evaluations and artifacts, with live updates. Routes that change "
        "anything need the `X-API-Key` header (see docs/api.md).",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.add_middleware(DocumentContract, document=lambda: app.openapi())
    errors.install(app)
    for module in (health, runs, episodes, records, export, compare, files, events, groups, sweeps):
        app.include_router(module.router)
    web.install(app)  # last: its catch-all path must not shadow an API route
    document.install(app)
    return app
