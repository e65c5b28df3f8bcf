"""The ClickHouse store of a read service (query-api, replay, insights).

The store is either given (the all-in-one process and tests share one) or opened in the
service's lifespan from its settings. Routers take the provider in their factory and
use `provider.get` as a dependency: in the all-in-one process the portal mounts the
services' routes on its own app, so a route must not look its store up on
`request.app`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, HTTPException
from prometheus_client import CollectorRegistry

from exos_common.service.errors import install_error_handlers
from exos_common.service.health import health_router
from exos_common.settings import ClickHouseSettings
from exos_common.store import Store, open_store


class StoreProvider:
    def __init__(self, settings: ClickHouseSettings, store: Store | None = None) -> None:
        self._settings = settings
        self._given = store
        self._store = store

    @asynccontextmanager
    async def lifespan(self) -> AsyncIterator[Store]:
        """Open the store unless one was given; close only what was opened here."""
        if self._given is not None:
            yield self._given
            return
        self._store = await asyncio.to_thread(open_store, self._settings)
        try:
            yield self._store
        finally:
            store, self._store = self._store, None
            store.close()

    def get(self) -> Store:
        """FastAPI dependency: the open store, or 503 while the service starts."""
        if self._store is None:
            raise HTTPException(503, "the ClickHouse client is not open yet")
        return self._store

    async def ready(self) -> bool:
        store = self._store
        return store is not None and await asyncio.to_thread(store.ping)


def create_read_app(
    title: str,
    provider: StoreProvider,
    routers: Iterable[APIRouter],
    *,
    registry: CollectorRegistry | None = None,
    on_close: Callable[[], Awaitable[None]] | None = None,
) -> FastAPI:
    """A read service's app: the store opened in the lifespan, the error envelope,
    `/healthz` `/readyz` (ClickHouse) `/metrics`, then the service's routers.
    `on_close` runs when the app stops (e.g. to close an HTTP client)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with provider.lifespan():
            try:
                yield
            finally:
                if on_close is not None:
                    await on_close()

    app = FastAPI(title=title, version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)
    app.include_router(
        health_router(registry or CollectorRegistry(), {"clickhouse": provider.ready})
    )
    for router in routers:
        app.include_router(router)
    return app
