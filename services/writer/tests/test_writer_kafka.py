"""The writer over a real Kafka broker: a topic deleted and recreated restarts its
offsets at 0, and its new batches must not be taken for retries of the old topic's
batches (same offsets, so the same tokens before tokens named the incarnation)."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import CollectorRegistry

from exos_common.bus import Bus, OutgoingRecord, create_bus
from exos_common.bus.kafka import connection_options
from exos_common.codec import encode
from exos_common.messages import SpanRecord
from exos_common.settings import KafkaSettings
from exos_common.store import Store
from exos_common.stream.bounds import BatchBounds
from exos_common.stream.deadletter import DeadLetterSink
from exos_common.stream.loop import ConsumerLoop, LoopConfig
from exos_common.stream.metrics import ConsumerMetrics
from exos_common.testing.kafka import KafkaBroker
from exos_common.topics import Topic, TopicSpec
from exos_writer.handler import WriterHandler

pytestmark = pytest.mark.kafka

SPANS = str(Topic.SPANS_ENRICHED)
NOW_NS = time.time_ns() // 1_000_000_000 * 1_000_000_000


def spans(first_id: int, count: int) -> list[OutgoingRecord]:
    out = []
    for i in range(first_id, first_id + count):
        span = SpanRecord("s1", NOW_NS + i, f"{i:032x}", f"{i:016x}", "click", "portal")
        value, headers = encode(span)
        out.append(OutgoingRecord(SPANS, value, b"s1", headers))
    return out


async def delete_topic(settings: KafkaSettings) -> None:
    """Delete the topic (if there) and wait until the deletion is done."""
    admin = AIOKafkaAdminClient(client_id="writer-test", **connection_options(settings))
    await admin.start()
    try:
        if SPANS in await admin.list_topics():
            await admin.delete_topics([SPANS])
        deadline = time.monotonic() + 30
        while SPANS in await admin.list_topics():
            if time.monotonic() > deadline:
                raise AssertionError("topic deletion did not finish")
            await asyncio.sleep(0.2)
    finally:
        await admin.close()


async def recreate_topic(settings: KafkaSettings, bus: Bus) -> None:
    """Delete the topic (if there) and create it anew, once the deletion is done."""
    await delete_topic(settings)
    deadline = time.monotonic() + 30
    while True:  # the broker may still refuse the name while it finishes the deletion
        try:
            await bus.ensure_topics([TopicSpec(SPANS, 1, 1, {})])
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


async def write_all(bus: Bus, store: Store, group: str) -> None:
    metrics = ConsumerMetrics(CollectorRegistry())

    def factory(consumer: Any) -> WriterHandler:
        return WriterHandler(
            consumer,
            store,
            BatchBounds(max_rows=1000, max_bytes=10**9, max_age_s=0.1),
            metrics,
            DeadLetterSink(bus, group, metrics).send,
            backoff_max_s=0.1,
            log_epoch=bus.log_epoch,
        )

    loop = ConsumerLoop(bus, LoopConfig((SPANS,), group, fetch_timeout_s=0.1), factory, metrics)
    await loop.start()
    try:
        assert await loop.wait_caught_up(60), "the writer did not catch up"
    finally:
        await loop.stop()


def stored(store: Store) -> tuple[int, int]:
    row = store.query_rows("SELECT count(), uniqExact(SpanId) FROM otel_traces")[0]
    return int(row[0]), int(row[1])


async def test_a_recreated_topic_restarting_its_offsets_is_not_deduplicated_away(
    kafka_broker: KafkaBroker, store: Store
) -> None:
    settings = KafkaSettings(kafka_bootstrap=kafka_broker.bootstrap)
    bus = create_bus("kafka", settings)
    await bus.start()
    group = f"writer-{uuid.uuid4().hex[:8]}"
    try:
        await recreate_topic(settings, bus)
        await bus.publish_many(spans(0, 10))  # offsets 0-9
        await write_all(bus, store, group)
        assert stored(store) == (10, 10)

        await recreate_topic(settings, bus)
        deliveries = await bus.publish_many(spans(100, 10))  # offsets 0-9 again
        assert [d.offset for d in deliveries] == list(range(10))
        await write_all(bus, store, group)
        assert stored(store) == (20, 20)
    finally:
        # The broker is shared by the session's tests: leave no one-partition copy of a
        # pipeline topic behind (the next service to start creates it with its settings).
        await delete_topic(settings)
        await bus.stop()


async def wait_stored(store: Store, want: tuple[int, int], timeout_s: float) -> tuple[int, int]:
    deadline = time.monotonic() + timeout_s
    got = stored(store)
    while got != want and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        got = stored(store)
    return got


async def test_a_running_writer_stores_a_topic_recreated_under_it(
    kafka_broker: KafkaBroker, store: Store
) -> None:
    settings = KafkaSettings(kafka_bootstrap=kafka_broker.bootstrap)
    bus = create_bus("kafka", settings)
    await bus.start()
    group = f"writer-{uuid.uuid4().hex[:8]}"
    metrics = ConsumerMetrics(CollectorRegistry())

    def factory(consumer: Any) -> WriterHandler:
        return WriterHandler(
            consumer,
            store,
            BatchBounds(max_rows=1000, max_bytes=10**9, max_age_s=0.1),
            metrics,
            DeadLetterSink(bus, group, metrics).send,
            backoff_max_s=0.1,
        )

    loop = ConsumerLoop(bus, LoopConfig((SPANS,), group, fetch_timeout_s=0.1), factory, metrics)
    try:
        await recreate_topic(settings, bus)
        await loop.start()
        await bus.publish_many(spans(0, 10))  # offsets 0-9
        assert await wait_stored(store, (10, 10), 60) == (10, 10)
        # Deleted and recreated while the writer runs: the new topic's offsets restart at
        # 0, and the writer must take its records for new ones, without a restart.
        await recreate_topic(settings, bus)
        await bus.publish_many(spans(100, 10))  # offsets 0-9 again
        assert await wait_stored(store, (20, 20), 120) == (20, 20)
        assert loop.running
    finally:
        await loop.stop()
        await delete_topic(settings)
        await bus.stop()
