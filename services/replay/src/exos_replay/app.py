"""The replay service: `create_app` builds it from settings and a store, so the same
code runs alone (`exos serve replay`), in the all-in-one process, and in tests."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI

from exos_common.service.limits import LimitedStoreProvider
from exos_common.service.pii import PiiPolicy
from exos_common.service.readstore import create_read_app
from exos_common.service.trust import install_service_trust
from exos_common.settings import ServiceTrustSettings
from exos_common.store import Store
from exos_replay.api import page, recording, sessions
from exos_replay.settings import ReplaySettings


def create_app(
    settings: ReplaySettings | None = None,
    *,
    store: Store | None = None,
    trust: ServiceTrustSettings | None = None,
) -> FastAPI:
    """`trust`: the gateway's credential this service requires and the roles that see
    personal data (default: `settings`)."""
    settings = settings or ReplaySettings()
    trust = trust or settings
    pii = PiiPolicy.from_settings(trust)
    # Every statement with the EXOS_QUERY_* limits; one a limit stopped answers 503/422.
    provider = LimitedStoreProvider(settings, store, settings)
    # A recording shows what the person saw and typed: all of it is personal data.
    replay_only = APIRouter(dependencies=[Depends(pii.required("a session's replay"))])
    replay_only.include_router(recording.build_router(provider, settings))
    replay_only.include_router(page.build_router(provider, settings))
    routers = [sessions.build_router(provider, pii), replay_only]
    app = create_read_app("EXOS replay", provider, routers)
    install_service_trust(app, trust)
    return app
