"""The query-api service: `create_app` builds it from settings and a store, so the same
code runs alone (`exos serve query-api`), in the all-in-one process, and in tests."""

from __future__ import annotations

from fastapi import FastAPI

from exos_common.service.limits import LimitedStoreProvider
from exos_common.service.readstore import create_read_app
from exos_common.service.trust import install_service_trust
from exos_common.settings import ServiceTrustSettings
from exos_common.store import Store
from exos_query_api.api import analytics, ocpm, process, site_health, stats
from exos_query_api.settings import QueryApiSettings


def create_app(
    settings: QueryApiSettings | None = None,
    *,
    store: Store | None = None,
    trust: ServiceTrustSettings | None = None,
) -> FastAPI:
    """`trust`: the gateway's credential this service requires (default: `settings`)."""
    settings = settings or QueryApiSettings()
    # Every statement with the EXOS_QUERY_* limits; one a limit stopped answers 503/422.
    provider = LimitedStoreProvider(settings, store, settings)
    areas = (stats, process, ocpm, analytics, site_health)
    app = create_read_app(
        "EXOS query-api", provider, [area.build_router(provider) for area in areas]
    )
    install_service_trust(app, trust or settings)
    return app
