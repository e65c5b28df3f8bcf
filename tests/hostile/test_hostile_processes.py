"""The hostile scenarios of test_hostile_pipeline.py against ingest, enrich and writer as
separate `exos serve` processes over a real Kafka broker and the embedded ClickHouse
server: the same requests, records and checks."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass

import httpx
import pytest

from exos_common.bus import OutgoingRecord
from exos_common.bus.kafka import KafkaBus
from exos_common.settings import KafkaSettings, StoreSettings
from exos_common.store import Store, open_store
from exos_common.testing.processes import Platform, prepare_database

from ..e2e import kafka_offsets
from . import checks
from .ledger import poster

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse_server]

# Short batch ages and settle time so the test waits less; a stall shows within 10 s.
OVERRIDES = {
    "EXOS_WRITER_BATCH_AGE_S": "0.2",
    "EXOS_ENRICH_SIGNAL_SETTLE_S": "2",
    "EXOS_WRITER_STALL_S": "10",
}


@dataclass
class Processes:
    platform: Platform
    store: Store
    bootstrap: str
    client: httpx.AsyncClient

    async def writer_readyz(self) -> httpx.Response:
        return await self.client.get(f"{self.platform.writer.url}/readyz")

    async def writer_metrics(self) -> httpx.Response:
        return await self.client.get(f"{self.platform.writer.url}/metrics")


@pytest.fixture(scope="module")
def running(
    kafka_broker: object, clickhouse_server: object, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    """One platform and database for the module's tests (starting one takes ~25 s);
    each test tells its records apart by its own run id."""
    database = f"hostile_{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "EXOS_KAFKA_BOOTSTRAP": kafka_broker.bootstrap,  # type: ignore[attr-defined]
        "EXOS_CLICKHOUSE_URL": clickhouse_server.url,  # type: ignore[attr-defined]
        "EXOS_CLICKHOUSE_DATABASE": database,
        "EXOS_KAFKA_TOPIC_PARTITIONS": "4",
    }
    prepare_database(env["EXOS_CLICKHOUSE_URL"], database, dedup_window=10_000)
    platform = Platform(
        env,
        tmp_path_factory.mktemp("hostile"),
        api_key=f"key-{uuid.uuid4().hex[:6]}",
        overrides=OVERRIDES,
    )
    asyncio.run(kafka_offsets.start_pipeline_groups_at_end(platform.env))
    platform.start()
    yield platform
    platform.stop()


@pytest.fixture
async def processes(running: Platform) -> AsyncIterator[Processes]:
    store = open_store(
        StoreSettings(
            clickhouse_url=running.env["EXOS_CLICKHOUSE_URL"],
            clickhouse_database=running.env["EXOS_CLICKHOUSE_DATABASE"],
        )
    )
    async with httpx.AsyncClient(timeout=30) as client:
        yield Processes(running, store, running.env["EXOS_KAFKA_BOOTSTRAP"], client)
    store.close()


async def test_hostile_traffic_among_valid_sessions(processes: Processes) -> None:
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=processes.platform.ingest.url, timeout=30) as ingest:
        ledger = await checks.hostile_run(
            poster(ingest, processes.platform.api_key),
            processes.store,
            processes.writer_readyz,
            processes.writer_metrics,
        )
    print(f"processes hostile run: {ledger.summary()}, {time.monotonic() - started:.1f} s")


async def test_records_ingest_never_produces_are_quarantined_alone(
    processes: Processes,
) -> None:
    bus = KafkaBus(KafkaSettings(kafka_bootstrap=processes.bootstrap))
    await bus.start()

    async def publish(records: Sequence[OutgoingRecord]) -> None:
        await bus.publish_many(records)

    try:
        await checks.bypass_run(
            publish, processes.store, processes.writer_readyz, processes.writer_metrics
        )
    finally:
        await bus.stop()
