"""The query-api service: `create_app` builds it from settings and a store, so the same
code runs alone (`exos serve query-api`), in the all-in-one process, and in tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from exos_common.service.errors import install_error_handlers
from exos_common.service.health import health_router
from exos_common.service.readstore import StoreProvider
from exos_common.store import Store
from exos_query_api.api import analytics, ocpm, process, site_health, stats
from exos_query_api.settings import QueryApiSettings


def create_app(settings: QueryApiSettings | None = None, *, store: Store | None = None) -> FastAPI:
    settings = settings or QueryApiSettings()
    provider = StoreProvider(settings, store)
    registry = CollectorRegistry()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with provider.lifespan():
            yield

    app = FastAPI(title="EXOS query-api", version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)
    app.include_router(health_router(registry, {"clickhouse": provider.ready}))
    for area in (stats, process, ocpm, analytics, site_health):
        app.include_router(area.build_router(provider))
    return app
