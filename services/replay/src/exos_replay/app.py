"""The replay service: `create_app` builds it from settings and a store, so the same
code runs alone (`exos serve replay`), in the all-in-one process, and in tests."""

from __future__ import annotations

from fastapi import FastAPI

from exos_common.service.readstore import StoreProvider, create_read_app
from exos_common.store import Store
from exos_replay.api import page, recording, sessions
from exos_replay.settings import ReplaySettings


def create_app(settings: ReplaySettings | None = None, *, store: Store | None = None) -> FastAPI:
    settings = settings or ReplaySettings()
    provider = StoreProvider(settings, store)
    routers = [
        sessions.build_router(provider),
        recording.build_router(provider, settings),
        page.build_router(provider, settings),
    ]
    return create_read_app("EXOS replay", provider, routers)
