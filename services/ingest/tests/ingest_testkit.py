"""Helpers shared by the ingest tests (settings, reading topics back)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from exos_common.bus import Bus, BusRecord
from exos_common.codec import PipelineRecord, decode, records_of
from exos_ingest.settings import IngestSettings

# `make_client(**settings)` of conftest: the app on the test's bus, as an httpx client.
AppClient = Callable[..., Awaitable[httpx.AsyncClient]]

API_KEY = "test-key-123"
PEER = ("203.0.113.7", 51234)
# "Now" for the app under test: 10 s after the samples' first span (Unix 1_764_307_200 s);
# the app judges record times by it, so the samples never age out of retention.
SAMPLE_NOW_NS = 1_764_307_210_000_000_000


def settings_for(**overrides: Any) -> IngestSettings:
    values: dict[str, Any] = {
        "ingest_api_keys": f"{API_KEY},second-key",
        "ingest_max_body_bytes": 4 * 1024 * 1024,
        "ingest_max_decompressed_bytes": 6 * 1024 * 1024,
    }
    values.update(overrides)
    return IngestSettings(**values)


async def drain(bus: Bus, topic: str, group: str = "test") -> list[BusRecord]:
    """Everything on `topic` so far (a fresh group reads from the start)."""
    consumer = await bus.consumer([topic], f"{group}-{topic}")
    try:
        records: list[BusRecord] = []
        while batch := await consumer.fetch(1000, 0.05):
            records.extend(batch)
        return records
    finally:
        await consumer.close()


def decoded(records: list[BusRecord]) -> list[PipelineRecord]:
    """The pipeline records the bus records hold, batches opened, in order."""
    return [one for r in records for one in records_of(decode(r.value, r.headers))]
