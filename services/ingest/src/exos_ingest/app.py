"""The ingest app: settings + bus -> FastAPI app with the OTLP routes, CORS, health and
metrics. `exos serve ingest` runs `create_app()`; the all-in-one mode and tests pass
their own bus."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from prometheus_client import CollectorRegistry

from exos_common.bus import Bus, create_bus, ensure_pipeline_topics
from exos_common.logs import get_logger
from exos_common.service.errors import install_error_handlers
from exos_common.service.health import health_router
from exos_ingest.api.otlp import OtlpReceiver, otlp_router
from exos_ingest.metrics import IngestMetrics
from exos_ingest.settings import IngestSettings, refuse_anonymous_distributed

log = get_logger("exos_ingest")

# What the HyperDX SDK's preflights ask for (`authorization,content-encoding,
# content-type`), plus what OpenTelemetry JS exporters may add.
CORS_HEADERS = ["authorization", "content-type", "content-encoding", "accept", "x-api-key"]


def create_app(
    settings: IngestSettings | None = None,
    *,
    bus: Bus | None = None,
    clock: Callable[[], int] = time.time_ns,
) -> FastAPI:
    """With `bus=None` the app owns a Kafka bus: it starts it, creates the pipeline topics
    and stops it in its lifespan. A bus passed in is used as it is (its owner starts and
    stops it). `clock` (Unix ns) is the receive time that records' clocks are judged by;
    tests fix it.

    Owning the Kafka bus is distributed mode (`exos serve ingest`): there, no API keys is
    refused unless anonymous access is switched on, and CORS grants only the configured
    origins."""
    settings = settings or IngestSettings()
    owns_bus = bus is None
    if owns_bus:
        refuse_anonymous_distributed(settings)
    the_bus: Bus = create_bus("kafka", settings) if bus is None else bus
    registry = CollectorRegistry()
    metrics = IngestMetrics(registry)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if not settings.api_keys:
            log.warning(
                "ingest_open",
                message="EXOS_INGEST_API_KEYS is unset: anyone reaching ingest can send data",
                allow_anonymous=settings.ingest_allow_anonymous,
            )
        if owns_bus:
            await the_bus.start()
            try:
                await ensure_pipeline_topics(the_bus, settings)
            except BaseException:
                await the_bus.stop()
                raise
        log.info(
            "ingest_started",
            kafka=settings.kafka_bootstrap if owns_bus else "given",
            cors_origins=settings.cors_origins(distributed=owns_bus),
            rate_limit_records_per_s=settings.ingest_rate_limit_records_per_s,
        )
        try:
            yield
        finally:
            receiver.slots.close()
            if owns_bus:
                await the_bus.stop()  # flushes the producer: nothing acknowledged is lost

    app = FastAPI(
        title="EXOS ingest",
        summary="OTLP/HTTP receiver for the HyperDX browser SDK and OpenTelemetry SDKs",
        version="0.1.0",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins(distributed=owns_bus),
        allow_methods=["POST"],
        allow_headers=CORS_HEADERS,
        expose_headers=["Retry-After"],
        max_age=settings.ingest_cors_max_age_s,
    )
    app.include_router(health_router(registry, {"kafka": the_bus.ping}))
    receiver = OtlpReceiver(settings, the_bus, metrics, clock)
    app.include_router(otlp_router(receiver))
    app.state.settings = settings
    app.state.bus = the_bus
    app.state.metrics = metrics
    app.state.slots = receiver.slots
    return app
