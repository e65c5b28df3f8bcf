"""The ClickHouse store of a read service (query-api, replay, insights).

The store is either given (the all-in-one process and tests share one) or opened in the
service's lifespan from its settings. Routers take the provider in their factory and
use `provider.get` as a dependency: in the all-in-one process the portal mounts the
services' routes on its own app, so a route must not look its store up on
`request.app`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import HTTPException

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
