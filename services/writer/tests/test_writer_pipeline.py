"""The writer's chain driven step by step: in-process bus, real chDB, known counts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from writer_testkit import sample

from exos_common.bus import OutgoingRecord, TopicPartition
from exos_common.bus.memory import InProcessBus
from exos_common.codec import encode
from exos_common.messages import ReplayChunk, SpanRecord
from exos_common.store import Store, StoreUnavailable
from exos_common.stream.bounds import BatchBounds
from exos_common.stream.deadletter import DeadLetterSink
from exos_common.stream.loop import ConsumerLoop, LoopConfig
from exos_common.stream.metrics import ConsumerMetrics
from exos_common.table_payload import encode_payload
from exos_common.topics import Topic, pipeline_topic_specs
from exos_writer.handler import WriterHandler
from exos_writer.sinks import SINKS
from exos_writer.tokens import parse_mark

GROUP = "exos-writer"
# Recent times: rows older than the tables' 30-day TTL are dropped on insert.
NOW_NS = time.time_ns() // 1_000_000_000 * 1_000_000_000
SPANS = str(Topic.SPANS_ENRICHED)


def span(i: int, session: str = "s1") -> SpanRecord:
    return SpanRecord(
        session_id=session,
        timestamp_ns=NOW_NS + i,
        trace_id=f"{i:032x}",
        span_id=f"{i:016x}",
        name="click",
        service_name="portal",
        resource_attributes={"rum.sessionId": session},
    )


def as_outgoing(record: SpanRecord | ReplayChunk, topic: str = SPANS) -> OutgoingRecord:
    """A span as enrich publishes it (a one-row payload), a replay chunk as ingest does."""
    if isinstance(record, SpanRecord):
        payload = encode_payload("otel_traces", [record])
        return OutgoingRecord(topic, payload.body, record.session_id.encode(), payload.headers())
    value, headers = encode(record)
    return OutgoingRecord(topic, value, record.session_id.encode(), headers)


class WriterKilled(BaseException):
    """The process dying: not an error any step handles."""


class FlakyStore:
    """The real store, failing the first `failures` inserts as an outage would, and
    optionally raising `crash` right AFTER a successful insert (a writer killed between
    insert and commit)."""

    def __init__(self, store: Store, failures: int = 0, crash_after: int | None = None) -> None:
        self._store = store
        self.failures = failures
        self.crash_after = crash_after
        self.inserts = 0

    def insert(self, *args: Any, **kwargs: Any) -> int:
        return self._flaky(self._store.insert, *args, **kwargs)

    def insert_raw(self, *args: Any, **kwargs: Any) -> int:
        return self._flaky(self._store.insert_raw, *args, **kwargs)

    def _flaky(self, insert: Callable[..., int], *args: Any, **kwargs: Any) -> int:
        if self.failures > 0:
            self.failures -= 1
            raise StoreUnavailable(0, "connection refused")
        written = insert(*args, **kwargs)
        self.inserts += 1
        if self.crash_after is not None and self.inserts >= self.crash_after:
            raise WriterKilled("writer killed after insert")
        return written

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


@pytest.fixture
async def bus() -> AsyncIterator[InProcessBus]:
    instance = InProcessBus()
    await instance.ensure_topics(pipeline_topic_specs(1, 1, 8 * 1024 * 1024))
    yield instance
    await instance.stop()


def make_loop(
    bus: InProcessBus, store: Any, bounds: BatchBounds
) -> tuple[ConsumerLoop, CollectorRegistry]:
    registry = CollectorRegistry()
    metrics = ConsumerMetrics(registry)

    def factory(consumer: Any) -> WriterHandler:
        return WriterHandler(
            consumer,
            store,
            bounds,
            metrics,
            DeadLetterSink(bus, GROUP, metrics).send,
            backoff_max_s=0.05,
            log_epoch=bus.log_epoch,
        )

    loop = ConsumerLoop(
        bus,
        LoopConfig(tuple(SINKS), GROUP, fetch_timeout_s=0.05, decode_payloads=True),
        factory,
        metrics,
    )
    return loop, registry


async def group_commit(bus: InProcessBus, tp: TopicPartition) -> tuple[int | None, str]:
    """The group's committed offset and metadata, as its next member reads them."""
    consumer = await bus.consumer([tp.topic], GROUP)
    try:
        return await consumer.committed(tp), await consumer.committed_metadata(tp)
    finally:
        await consumer.close()


async def wait_for(condition: Any, timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        if asyncio.get_running_loop().time() >= deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def count(store: Store, table: str = "otel_traces") -> int:
    return int(store.query_rows(f"SELECT count() FROM {table}")[0][0])


async def test_batches_by_rows_and_age_then_commits(bus: InProcessBus, store: Store) -> None:
    await bus.publish_many([as_outgoing(span(i)) for i in range(25)])
    loop, registry = make_loop(bus, store, BatchBounds(max_rows=10, max_bytes=10**9, max_age_s=0.3))
    await loop.start()
    await wait_for(lambda: count(store) == 25)
    assert await loop.wait_caught_up(10)
    await loop.stop()
    assert (await group_commit(bus, TopicPartition(SPANS, 0)))[0] == 25
    # 10 + 10 by rows, then the last 5 by age.
    assert sample(registry, "exos_batch_rows_sum", sink="otel_traces") == 25
    assert sample(registry, "exos_consumer_commits_total", topic=SPANS) == 3
    names = store.query_rows("SELECT DISTINCT SpanName, ServiceName FROM otel_traces")
    assert names == [("click", "portal")]


async def test_a_restarted_in_process_bus_does_not_repeat_dedup_tokens(store: Store) -> None:
    """`exos up` restarts its in-process bus at offset 0: the next run's first batch has
    the offsets of the last run's first batch, and must not be taken for its retry."""
    bounds = BatchBounds(max_rows=10, max_bytes=10**9, max_age_s=0.3)
    for run, first_span in enumerate((0, 100)):
        bus = InProcessBus()
        await bus.ensure_topics(pipeline_topic_specs(1, 1, 8 * 1024 * 1024))
        await bus.publish_many([as_outgoing(span(first_span + i)) for i in range(10)])
        loop, _ = make_loop(bus, store, bounds)
        await loop.start()
        await wait_for(lambda run=run: count(store) == 10 * (run + 1))
        await loop.stop()
        await bus.stop()
    assert count(store) == 20


async def test_poison_and_wrong_type_records_are_dead_lettered_rest_lands(
    bus: InProcessBus, store: Store
) -> None:
    good = [as_outgoing(span(i)) for i in range(3)]
    poison = OutgoingRecord(SPANS, b"{not json", b"s1", [("exos-schema", b"span/1")])
    chunk = ReplayChunk(session_id="s1", timestamp_ns=NOW_NS, service_name="portal", body="{}")
    wrong_topic = as_outgoing(chunk, topic=SPANS)  # a replay chunk on the spans topic
    await bus.publish_many([good[0], poison, good[1], wrong_topic, good[2]])
    loop, registry = make_loop(bus, store, BatchBounds(100, 10**9, 0.1))
    await loop.start()
    await wait_for(lambda: count(store) == 3)
    assert await loop.wait_caught_up(10)
    await loop.stop()
    assert (await group_commit(bus, TopicPartition(SPANS, 0)))[0] == 5

    letters = [r async for batch in bus.read_partition(str(Topic.DEAD_LETTER), 0) for r in batch]
    assert [r.value for r in letters] == [b"{not json", wrong_topic.value]
    headers = dict(letters[0].headers)
    assert headers["exos-dlq-source-topic"] == SPANS.encode()
    assert headers["exos-dlq-offset"] == b"1"
    assert headers["exos-dlq-error-type"] == b"PoisonRecord"
    assert dict(letters[1].headers)["exos-dlq-error-type"] == b"TypeError"
    dead = {"topic": SPANS, "error_type": "PoisonRecord"}
    assert sample(registry, "exos_consumer_dead_letters_total", **dead) == 1


async def test_clickhouse_outage_pauses_retries_and_loses_nothing(
    bus: InProcessBus, store: Store
) -> None:
    flaky = FlakyStore(store, failures=3)
    await bus.publish_many([as_outgoing(span(i)) for i in range(8)])
    loop, registry = make_loop(bus, flaky, BatchBounds(100, 10**9, 0.05))
    await loop.start()
    await wait_for(lambda: count(store) == 8)
    await bus.publish_many([as_outgoing(span(i)) for i in range(8, 12)])
    await wait_for(lambda: count(store) == 12)
    await loop.stop()
    assert flaky.failures == 0
    errors = "exos_sink_errors_total"
    assert sample(registry, errors, sink="otel_traces", attempt="1") == 1
    assert sample(registry, errors, sink="otel_traces", attempt="3") == 1
    assert sample(registry, "exos_consumer_paused_partitions") == 0
    assert sample(registry, "exos_consumer_paused_seconds_total") > 0


async def test_writer_killed_between_insert_and_commit_stores_each_row_once(
    bus: InProcessBus, store: Store
) -> None:
    await bus.publish_many([as_outgoing(span(i)) for i in range(6)])
    tp = TopicPartition(SPANS, 0)
    crashing = FlakyStore(store, crash_after=1)
    first, _ = make_loop(bus, crashing, BatchBounds(100, 10**9, 0.05))
    await first.start()
    await wait_for(lambda: first.failure is not None)
    await first.stop()
    # The batch was inserted, its commit never happened; the intent names its range.
    assert count(store) == 6
    offset, metadata = await group_commit(bus, tp)
    assert offset == 0
    assert parse_mark(metadata).first == 0 and parse_mark(metadata).last == 5

    # More records arrived meanwhile; the next writer re-forms [0, 5] exactly.
    await bus.publish_many([as_outgoing(span(i)) for i in range(6, 9)])
    second, _ = make_loop(bus, store, BatchBounds(100, 10**9, 0.05))
    await second.start()
    assert await second.wait_caught_up(10)
    await second.stop()
    assert (await group_commit(bus, tp))[0] == 9
    assert count(store) == 9
    ids = store.query_rows("SELECT count(DISTINCT SpanId) FROM otel_traces")
    assert ids == [(9,)]


async def test_replay_chunks_land_in_hyperdx_sessions_in_exact_order(
    bus: InProcessBus, store: Store
) -> None:
    chunks = [
        ReplayChunk(
            session_id="s9",
            timestamp_ns=NOW_NS + (i // 2),  # two chunks share a time
            service_name="portal",
            body=f"part{i}",
            scope_name="rum.rr-web",
            resource_attributes={"rum.sessionId": "s9"},
            attributes={
                "rr-web.event": str(i // 2 + 1),
                "rr-web.chunk": str(i % 2 + 1),
                "rr-web.total-chunks": "2",
            },
        )
        for i in range(6)
    ]
    await bus.publish_many([as_outgoing(c, topic=str(Topic.REPLAY_RAW)) for c in chunks])
    loop, _ = make_loop(bus, store, BatchBounds(100, 10**9, 0.05))
    await loop.start()
    await wait_for(lambda: count(store, "hyperdx_sessions") == 6)
    await loop.stop()
    rows = store.query_rows(
        "SELECT events FROM hyperdx_sessions WHERE session_id = 's9' "
        "ORDER BY Timestamp, toUInt32(LogAttributes['rr-web.event']), "
        "toUInt32(LogAttributes['rr-web.chunk'])"
    )
    assert [r[0] for r in rows] == [f"part{i}" for i in range(6)]
    nanos = store.query_rows("SELECT toUnixTimestamp64Nano(max(timestamp)) FROM hyperdx_sessions")
    assert nanos == [(NOW_NS + 2,)]
