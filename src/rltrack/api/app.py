"""The application factory: ``create_app(url_or_store)`` → a FastAPI app over one store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from rltrack.api import errors, web
from rltrack.api.routes import episodes, health, runs
from rltrack.tracking.store import Store

StoreSource = Store | str | Callable[[], Store]


def _open(source: StoreSource) -> tuple[Store, bool]:
    """The store and whether the app owns it (and closes it at shutdown)."""
    if isinstance(source, Store):
        return source, False
    if isinstance(source, str):
        # Connects on first use: the server starts (and answers 503) while the database is away.
        from rltrack.tracking.deferred import DeferredStore

        return DeferredStore(source), True
    return source(), True


def create_app(store_factory_or_url: StoreSource) -> FastAPI:
    """An app reading from a database URL, a store factory, or a store the caller owns."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store, owned = _open(store_factory_or_url)
        app.state.store = store
        try:
            yield
        finally:
            if owned:
                store.close()

    app = FastAPI(
        title="rltrack",
        description="Read-only API over the training history that rltrack records.",
        version="0.1.0",
        lifespan=lifespan,
    )
    errors.install(app)
    app.include_router(health.router)
    app.include_router(runs.router)
    app.include_router(episodes.router)
    web.install(app)  # last: its catch-all path must not shadow an API route
    return app
