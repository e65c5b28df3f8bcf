"""The store the SQL console's and Ask AI's statements run on.

With a read-only user of their own (EXOS_INSIGHTS_CLICKHOUSE_USER, on a ClickHouse
server) they run on a client logged in as that user, so the server itself refuses what
the guard might let through: writes, other tables, files, URLs. Everything else of the
service (conversation memory, the prompt's grounding) stays on the service's store.
Without one, or on chDB (no users), the statements run on the service's store.
"""

from __future__ import annotations

import threading

from fastapi import HTTPException

from exos_common.service.readstore import StoreProvider
from exos_common.settings import StoreSettings
from exos_common.store import Store, StoreError, open_store


class ReaderProvider:
    def __init__(self, settings: StoreSettings | None, service: StoreProvider) -> None:
        self._settings = settings
        self._service = service
        self._store: Store | None = None
        self._lock = threading.Lock()

    @property
    def own_user(self) -> bool:
        return self._settings is not None

    def get(self) -> Store:
        """FastAPI dependency (sync: FastAPI runs it in a worker thread, so opening the
        client on first use does not block the event loop)."""
        service = self._service.get()  # 503 while the service starts, as for any route
        if self._settings is None:
            return service
        with self._lock:
            if self._store is None:
                try:
                    self._store = open_store(self._settings)
                except StoreError as exc:
                    # A wrong password or a missing grant is the operator's to fix: say
                    # so, and try again on the next statement.
                    raise HTTPException(
                        503, f"the console's ClickHouse user was refused: {exc.name}"
                    ) from exc
            return self._store

    async def close(self) -> None:
        with self._lock:
            store, self._store = self._store, None
        if store is not None:
            store.close()
