"""Hostile input through ingest -> enrich -> writer in one process (in-process bus, chDB),
interleaved with valid browser sessions: every request is answered in time, every record
ingest accepted is stored once (or quarantined with a reason), every valid session lands
whole, no partition stalls, and the pipeline still works afterwards. Then the writer
alone gets records ingest would never produce, straight on the enriched topics."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from exos_common.bus import OutgoingRecord
from exos_common.bus.memory import InProcessBus
from exos_common.schema import migrate
from exos_common.settings import StoreSettings
from exos_common.store import Store, open_store
from exos_common.topics import pipeline_topic_specs
from exos_enrich.app import create_app as create_enrich
from exos_enrich.settings import EnrichSettings
from exos_ingest.app import create_app as create_ingest
from exos_ingest.settings import IngestSettings
from exos_writer.app import create_app as create_writer
from exos_writer.settings import WriterSettings

from . import checks
from .ledger import poster

API_KEY = "hostile-key"


@dataclass
class InProcessPipeline:
    ingest: httpx.AsyncClient
    writer: httpx.AsyncClient
    bus: InProcessBus
    store: Store


@pytest.fixture
async def pipeline(chdb_path: Path) -> AsyncIterator[InProcessPipeline]:
    database = f"hostile_{uuid.uuid4().hex[:8]}"
    store_settings = StoreSettings(
        clickhouse_url=f"chdb://{chdb_path}", clickhouse_database=database
    )
    store = open_store(store_settings, create_database=True)
    migrate(store, store_settings, dedup_window=1000)
    bus = InProcessBus()
    await bus.ensure_topics(pipeline_topic_specs(2, 1, 16 * 1024 * 1024))
    ingest = create_ingest(IngestSettings(ingest_api_keys=API_KEY), bus=bus)
    enrich = create_enrich(
        EnrichSettings(enrich_signal_settle_s=0.5, frustration_client_grace_ms=0), bus=bus
    )
    writer = create_writer(
        WriterSettings(
            writer_batch_age_s=0.1,
            writer_stall_s=10,
            clickhouse_url=f"chdb://{chdb_path}",
            clickhouse_database=database,
        ),
        bus=bus,
        store=store,
    )
    async with AsyncExitStack() as stack:
        for app in (ingest, enrich, writer):
            await stack.enter_async_context(app.router.lifespan_context(app))
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app, client=("198.51.100.9", 5000)),
                    base_url=f"http://{name}",
                    timeout=30,
                )
            )
            for name, app in (("ingest", ingest), ("writer", writer))
        ]
        yield InProcessPipeline(clients[0], clients[1], bus, store)
    await bus.stop()
    store.command(f"DROP DATABASE IF EXISTS {database}")
    store.close()


async def test_hostile_traffic_among_valid_sessions(pipeline: InProcessPipeline) -> None:
    started = time.monotonic()
    ledger = await checks.hostile_run(
        poster(pipeline.ingest, API_KEY),
        pipeline.store,
        lambda: pipeline.writer.get("/readyz"),
        lambda: pipeline.writer.get("/metrics"),
    )
    print(f"in-process hostile run: {ledger.summary()}, {time.monotonic() - started:.1f} s")


async def test_records_ingest_never_produces_are_quarantined_alone(
    pipeline: InProcessPipeline,
) -> None:
    async def publish(records: Sequence[OutgoingRecord]) -> None:
        await pipeline.bus.publish_many(records)

    await checks.bypass_run(
        publish,
        pipeline.store,
        lambda: pipeline.writer.get("/readyz"),
        lambda: pipeline.writer.get("/metrics"),
    )
