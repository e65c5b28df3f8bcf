"""The replay service: `create_app` builds it from settings and a store, so the same
code runs alone (`exos serve replay`), in the all-in-one process, and in tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from exos_common.service.errors import install_error_handlers
from exos_common.service.health import health_router
from exos_common.service.readstore import StoreProvider
from exos_common.store import Store
from exos_replay.api import page, recording, sessions
from exos_replay.settings import ReplaySettings


def create_app(settings: ReplaySettings | None = None, *, store: Store | None = None) -> FastAPI:
    settings = settings or ReplaySettings()
    provider = StoreProvider(settings, store)
    registry = CollectorRegistry()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with provider.lifespan():
            yield

    app = FastAPI(title="EXOS replay", version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)
    app.include_router(health_router(registry, {"clickhouse": provider.ready}))
    app.include_router(sessions.build_router(provider))
    app.include_router(recording.build_router(provider, settings))
    app.include_router(page.build_router(provider, settings))
    return app
