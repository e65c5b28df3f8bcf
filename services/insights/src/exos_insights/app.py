"""The insights service: `create_app` builds it from settings and a store, so the same
code runs alone (`exos serve insights`), in the all-in-one process, and in tests."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI
from prometheus_client import CollectorRegistry

from exos_common.service.pii import PiiPolicy
from exos_common.service.readstore import StoreProvider, create_read_app
from exos_common.service.trust import install_service_trust
from exos_common.settings import ServiceTrustSettings
from exos_common.store import Store
from exos_insights.api import ask, console, docs, page
from exos_insights.ask import AskAI
from exos_insights.grounding import GroundingCache
from exos_insights.llm import Model
from exos_insights.metrics import InsightsMetrics
from exos_insights.reader import ReaderProvider
from exos_insights.settings import InsightsSettings


def create_app(
    settings: InsightsSettings | None = None,
    *,
    store: Store | None = None,
    trust: ServiceTrustSettings | None = None,
) -> FastAPI:
    """`trust`: the gateway's credential this service requires and the roles that see
    personal data (default: `settings`)."""
    settings = settings or InsightsSettings()
    trust = trust or settings
    pii = PiiPolicy.from_settings(trust)
    provider = StoreProvider(settings, store)
    # A given store (the all-in-one process, tests) is used for everything.
    reader = ReaderProvider(settings.reader_store_settings() if store is None else None, provider)
    registry = CollectorRegistry()
    metrics = InsightsMetrics.on(registry)
    grounding = GroundingCache(
        settings.allowed_tables,
        settings.insights_grounding_sample_rows,
        settings.insights_grounding_ttl_s,
    )
    # Without a model, ask answers 503 saying how to configure one; the rest works.
    model = Model(settings, metrics) if settings.model_configured else None
    ask_ai = AskAI(settings, model, grounding) if model is not None else None

    # The console and Ask AI read the raw tables, e-mails and IPs included.
    raw_tables = APIRouter(dependencies=[Depends(pii.required("the SQL console and Ask AI"))])
    raw_tables.include_router(console.build_router(reader, settings, metrics))
    raw_tables.include_router(ask.build_router(provider, reader, ask_ai, metrics))
    routers = [
        docs.build_router(provider, settings, grounding),
        raw_tables,
        page.build_router(settings),
    ]

    async def on_close() -> None:
        await reader.close()
        if model is not None:
            await model.close()

    app = create_read_app("EXOS insights", provider, routers, registry=registry, on_close=on_close)
    install_service_trust(app, trust)
    return app
