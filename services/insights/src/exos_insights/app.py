"""The insights service: `create_app` builds it from settings and a store, so the same
code runs alone (`exos serve insights`), in the all-in-one process, and in tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from exos_common.service.errors import install_error_handlers
from exos_common.service.health import health_router
from exos_common.service.readstore import StoreProvider
from exos_common.store import Store
from exos_insights.api import ask, console, docs, page
from exos_insights.ask import AskAI
from exos_insights.grounding import GroundingCache
from exos_insights.llm import Model
from exos_insights.metrics import InsightsMetrics
from exos_insights.settings import InsightsSettings


def create_app(settings: InsightsSettings | None = None, *, store: Store | None = None) -> FastAPI:
    settings = settings or InsightsSettings()
    provider = StoreProvider(settings, store)
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

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with provider.lifespan():
            try:
                yield
            finally:
                if model is not None:
                    await model.close()

    app = FastAPI(title="EXOS insights", version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)
    app.include_router(health_router(registry, {"clickhouse": provider.ready}))
    app.include_router(docs.build_router(provider, settings, grounding))
    app.include_router(console.build_router(provider, settings, metrics))
    app.include_router(ask.build_router(provider, ask_ai, metrics))
    app.include_router(page.build_router(settings))
    return app
