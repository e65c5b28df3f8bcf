"""The replay service: `create_app` builds it from settings and a store, so the same
code runs alone (`exos serve replay`), in the all-in-one process, and in tests."""

from __future__ import annotations

from fastapi import FastAPI

from exos_common.service.limits import LimitedStoreProvider
from exos_common.service.readstore import create_read_app
from exos_common.store import Store
from exos_replay.api import page, recording, sessions
from exos_replay.settings import ReplaySettings


def create_app(settings: ReplaySettings | None = None, *, store: Store | None = None) -> FastAPI:
    settings = settings or ReplaySettings()
    # Every statement with the EXOS_QUERY_* limits; one a limit stopped answers 503/422.
    provider = LimitedStoreProvider(settings, store, settings)
    routers = [
        sessions.build_router(provider),
        recording.build_router(provider, settings),
        page.build_router(provider, settings),
    ]
    return create_read_app("EXOS replay", provider, routers)
