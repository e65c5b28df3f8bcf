"""The enrich service: `create_app` builds it from settings and a bus, so the same code
runs alone (`exos serve enrich`), in the all-in-one process, and in tests.

It consumes the three raw topics (co-partitioned, so one session's spans and rrweb
events meet in one replica), enriches in session order and publishes to the enriched
topics exactly once. It also answers `GET /api/visitor` for the portal.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from exos_common.bus import Bus, Consumer, create_bus
from exos_common.service.errors import install_error_handlers
from exos_common.service.health import health_router
from exos_common.stream.loop import ConsumerLoop, LoopConfig, consuming
from exos_common.stream.metrics import ConsumerMetrics
from exos_enrich.api.visitor import visitor_router
from exos_enrich.enricher import SessionEnricher
from exos_enrich.geo import build_geo
from exos_enrich.pipeline import ENRICH_INPUTS, EnrichHandler
from exos_enrich.settings import EnrichSettings
from exos_enrich.useragent import UserAgentParser
from exos_enrich.visitor import VisitorResolver, VisitStore


def create_app(settings: EnrichSettings | None = None, *, bus: Bus | None = None) -> FastAPI:
    settings = settings or EnrichSettings()
    registry = CollectorRegistry()
    metrics = ConsumerMetrics(registry)
    owns_bus = bus is None
    the_bus = bus or create_bus("kafka", settings)
    geo = build_geo(
        city_mmdb=settings.geoip_mmdb,
        asn_mmdb=settings.geoip_asn_mmdb,
        offline_file=settings.geoip_offline_file,
    )
    user_agents = UserAgentParser()
    enricher = SessionEnricher(settings, geo, user_agents)

    def handler_factory(consumer: Consumer) -> EnrichHandler:
        return EnrichHandler(consumer, the_bus, enricher, metrics)

    loop = ConsumerLoop(
        the_bus,
        LoopConfig(
            topics=ENRICH_INPUTS,
            group_id=settings.enrich_group,
            fetch_max_records=settings.enrich_fetch_max_records,
            transactional_id=f"{settings.enrich_group}-{settings.instance_id}",
            accepts_batches=True,
        ),
        handler_factory,
        metrics,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with consuming(loop, the_bus, owns_bus=owns_bus, settings=settings):
            yield

    async def loop_running() -> bool:
        return loop.running

    app = FastAPI(title="EXOS enrich", lifespan=lifespan)
    install_error_handlers(app)
    app.include_router(health_router(registry, {"kafka": the_bus.ping, "consumer": loop_running}))
    resolver = VisitorResolver(geo, user_agents, VisitStore(settings.enrich_visitor_store_size))
    app.include_router(visitor_router(resolver, trusted_proxies=settings.trusted_proxy_networks))
    app.state.loop = loop
    app.state.enricher = enricher
    return app
