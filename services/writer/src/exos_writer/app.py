"""The writer service: `create_app` builds it from settings, a bus and a store, so the
same code runs alone (`exos serve writer`), in the all-in-one process, and in tests."""

from __future__ import annotations

import gc
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from exos_common.bus import Bus, Consumer, create_bus
from exos_common.service.errors import install_error_handlers
from exos_common.service.health import ReadinessCheck, health_router
from exos_common.store import Store, open_store
from exos_common.stream.bounds import BatchBounds
from exos_common.stream.deadletter import DeadLetterSink
from exos_common.stream.loop import ConsumerLoop, LoopConfig, consuming
from exos_common.stream.metrics import ConsumerMetrics
from exos_writer.handler import WriterHandler
from exos_writer.metrics import WriterMetrics
from exos_writer.settings import WriterSettings
from exos_writer.sinks import SINKS
from exos_writer.watchdog import ProgressWatchdog

# A batch keeps some 15 container objects per record alive (the row's dicts and lists)
# until it is inserted; with CPython's default thresholds (700, 10, 10) the collector
# then ran every ~45 records and took about a third of the writer's time: decoding and
# building rows went from 25.9k to 42.8k records/s with these, and bench/bench_writer.py
# from 7.0k to 9.6-10.6k rows/s. Young objects are collected 14x less often; the ratios
# between generations stay. Process-wide: in the all-in-one process it applies to every
# service.
GC_THRESHOLDS = (10_000, 10, 10)


def create_app(
    settings: WriterSettings | None = None,
    *,
    bus: Bus | None = None,
    store: Store | None = None,
) -> FastAPI:
    settings = settings or WriterSettings()
    registry = CollectorRegistry()
    metrics = ConsumerMetrics(registry)
    writer_metrics = WriterMetrics(registry)
    # One watchdog for the process: it outlives the handler of each group membership,
    # and readiness reads it even while the loop is stuck inside an insert.
    watchdog = ProgressWatchdog(settings.writer_stall_s, time.monotonic)
    writer_metrics.stalled_partitions.set_function(lambda: len(watchdog.stalled()))
    owns_bus, owns_store = bus is None, store is None
    the_bus = bus or create_bus("kafka", settings)
    state: dict[str, object] = {}

    def handler_factory(consumer: Consumer) -> WriterHandler:
        the_store = state["store"]
        assert isinstance(the_store, Store)
        return WriterHandler(
            consumer,
            the_store,
            BatchBounds(
                settings.writer_batch_rows, settings.writer_batch_bytes, settings.writer_batch_age_s
            ),
            metrics,
            DeadLetterSink(the_bus, settings.writer_group, metrics).send,
            writer_metrics=writer_metrics,
            watchdog=watchdog,
            insert_timeout_s=settings.writer_insert_timeout_s,
            backoff_max_s=settings.writer_backoff_max_s,
            log_epoch=the_bus.log_epoch,
        )

    loop = ConsumerLoop(
        the_bus,
        LoopConfig(
            topics=tuple(SINKS),
            group_id=settings.writer_group,
            fetch_max_records=settings.writer_fetch_max_records,
            decode_payloads=True,
        ),
        handler_factory,
        metrics,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state["store"] = store or open_store(settings)
        gc.set_threshold(*GC_THRESHOLDS)
        try:
            async with consuming(loop, the_bus, owns_bus=owns_bus, settings=settings):
                yield
        finally:
            if owns_store:
                the_store = state["store"]
                assert isinstance(the_store, Store)
                the_store.close()

    async def store_answers() -> bool:
        the_store = state.get("store")
        return isinstance(the_store, Store) and the_store.ping()

    async def loop_running() -> bool:
        return loop.running

    app = FastAPI(title="EXOS writer", lifespan=lifespan)
    install_error_handlers(app)

    async def failing() -> bool:
        return False

    def readiness_checks() -> dict[str, ReadinessCheck]:
        checks: dict[str, ReadinessCheck] = {
            "kafka": the_bus.ping,
            "clickhouse": store_answers,
            "consumer": loop_running,
        }
        # Each stalled partition is a failing check of its own, so /readyz names it.
        for tp in watchdog.stalled():
            checks[f"progress {tp.topic}[{tp.partition}]"] = failing
        return checks

    app.include_router(health_router(registry, readiness_checks))
    app.state.loop = loop
    app.state.watchdog = watchdog
    return app
