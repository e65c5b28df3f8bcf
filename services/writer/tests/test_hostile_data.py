"""Hostile data through the whole writer chain: in-process bus, real chDB.

A log with severityNumber 300 (the column is UInt8) and a span whose timestamp is 2^63 ns
(past DateTime64(9)) reach the writer mixed into 40 valid sessions. Before, ClickHouse's
refusal was taken for an outage and retried forever: the partition stalled. Now both are
quarantined and everything else lands exactly once. Only public surfaces are read: the
tables, the dead-letter topic, the group's lag, metrics, /readyz.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from writer_testkit import sample

from exos_common.bus import BusRecord, OutgoingRecord, TopicPartition
from exos_common.bus.memory import InProcessBus
from exos_common.codec import encode
from exos_common.messages import LogRecord, SpanRecord
from exos_common.store import Store, StoreUnavailable
from exos_common.stream.bounds import BatchBounds
from exos_common.stream.deadletter import DeadLetterSink
from exos_common.stream.loop import ConsumerLoop, LoopConfig
from exos_common.stream.metrics import ConsumerMetrics
from exos_common.table_payload import encode_payload
from exos_common.topics import Topic, pipeline_topic_specs
from exos_writer.app import create_app
from exos_writer.batch import BatchState, PartitionBatch
from exos_writer.handler import WriterHandler
from exos_writer.metrics import WriterMetrics
from exos_writer.settings import WriterSettings
from exos_writer.sinks import SINKS
from exos_writer.steps.insert import Inserter
from exos_writer.steps.quarantine import Quarantine

GROUP = "exos-writer"
NOW_NS = time.time_ns() // 1_000_000_000 * 1_000_000_000
SPANS, LOGS = str(Topic.SPANS_ENRICHED), str(Topic.LOGS_ENRICHED)
SESSIONS = 40
BAD_AT = 20  # offset of the bad record in each topic


def span(i: int, timestamp_ns: int | None = None) -> SpanRecord:
    session = f"s{i}"
    return SpanRecord(
        session_id=session,
        timestamp_ns=NOW_NS + i if timestamp_ns is None else timestamp_ns,
        trace_id=f"{i:032x}",
        span_id=f"{i:016x}",
        name="click",
        service_name="portal",
        resource_attributes={"rum.sessionId": session},
    )


def log(i: int, severity_number: int = 9) -> LogRecord:
    session = f"s{i}"
    return LogRecord(
        session_id=session,
        timestamp_ns=NOW_NS + i,
        service_name="portal",
        body=f"log {i}",
        severity_number=severity_number,
        resource_attributes={"rum.sessionId": session},
    )


def outgoing(record: SpanRecord | LogRecord, topic: str) -> OutgoingRecord:
    value, headers = encode(record)
    return OutgoingRecord(topic, value, record.session_id.encode(), headers)


def hostile_mix() -> tuple[list[OutgoingRecord], OutgoingRecord, OutgoingRecord]:
    """40 valid sessions (a span and a log each) with one bad span and one bad log at
    offset 20 of their topics; returns the records and the two bad ones."""
    bad_span = outgoing(span(1000, timestamp_ns=2**63), SPANS)
    bad_log = outgoing(log(1000, severity_number=300), LOGS)
    spans = [outgoing(span(i), SPANS) for i in range(SESSIONS)]
    logs = [outgoing(log(i), LOGS) for i in range(SESSIONS)]
    spans.insert(BAD_AT, bad_span)
    logs.insert(BAD_AT, bad_log)
    return spans + logs, bad_span, bad_log


class FlakyStore(Store):
    """The real store's client, down for the next `failures` inserts, or killed (a
    BaseException no step handles) right after the `kill_after`-th successful insert."""

    def __init__(self, store: Store, failures: int = 0, kill_after: int | None = None) -> None:
        super().__init__(store.client)
        self.failures = failures
        self.kill_after = kill_after
        self.inserts = 0

    def insert(self, *args: Any, **kwargs: Any) -> int:
        return self._flaky(super().insert, *args, **kwargs)

    def insert_raw(self, *args: Any, **kwargs: Any) -> int:
        return self._flaky(super().insert_raw, *args, **kwargs)

    def _flaky(self, insert: Callable[..., int], *args: Any, **kwargs: Any) -> int:
        if self.failures > 0:
            self.failures -= 1
            raise StoreUnavailable(0, "connection refused")
        written = insert(*args, **kwargs)
        self.inserts += 1
        if self.kill_after is not None and self.inserts >= self.kill_after:
            raise WriterKilled
        return written


class WriterKilled(BaseException):
    pass


@pytest.fixture
async def bus() -> AsyncIterator[InProcessBus]:
    instance = InProcessBus()
    await instance.ensure_topics(pipeline_topic_specs(1, 1, 8 * 1024 * 1024))
    yield instance
    await instance.stop()


def make_loop(bus: InProcessBus, store: Any) -> tuple[ConsumerLoop, ConsumerMetrics, WriterMetrics]:
    registry = CollectorRegistry()
    metrics, writer_metrics = ConsumerMetrics(registry), WriterMetrics(registry)

    def factory(consumer: Any) -> WriterHandler:
        return WriterHandler(
            consumer,
            store,
            BatchBounds(max_rows=1000, max_bytes=10**9, max_age_s=0.05),
            metrics,
            DeadLetterSink(bus, GROUP, metrics).send,
            writer_metrics=writer_metrics,
            backoff_max_s=0.05,
            log_epoch=bus.log_epoch,
        )

    config = LoopConfig(tuple(SINKS), GROUP, fetch_timeout_s=0.05, decode_payloads=True)
    return ConsumerLoop(bus, config, factory, metrics), registry


def stored(store: Store, table: str, id_column: str) -> tuple[int, int]:
    row = store.query_rows(f"SELECT count(), uniqExact({id_column}) FROM {table}")[0]
    return int(row[0]), int(row[1])


# The payload encoder writes a value outside its column's type as text, which ClickHouse
# refuses: 300 for a UInt8 where a number must be, 2^63 ns where a DateTime64(9) must be.
REFUSED_UINT8 = "CANNOT_PARSE_INPUT_ASSERTION_FAILED"
REFUSED_TIME = "CANNOT_PARSE_DATETIME"


def quarantine_rows(store: Store) -> list[tuple[Any, ...]]:
    return store.query_rows(
        "SELECT target_table, topic, partition, offset, row_index, error_class, error_name, "
        "base64Decode(raw_message) FROM exos_quarantine ORDER BY target_table"
    )


async def dead_letters(bus: InProcessBus) -> list[bytes]:
    return [
        record.value
        async for batch in bus.read_partition(str(Topic.DEAD_LETTER), 0)
        for record in batch
    ]


async def wait_until(condition: Any, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def run_until_caught_up(loop: ConsumerLoop, timeout_s: float = 30.0) -> float:
    started = time.monotonic()
    await loop.start()
    assert await loop.wait_caught_up(timeout_s), "the writer did not get past the bad records"
    elapsed = time.monotonic() - started
    await loop.stop()
    return elapsed


def assert_everything_landed_once(store: Store, bad_span: bytes, bad_log: bytes) -> None:
    assert stored(store, "otel_traces", "SpanId") == (SESSIONS, SESSIONS)
    assert stored(store, "otel_logs", "Body") == (SESSIONS, SESSIONS)
    assert quarantine_rows(store) == [
        ("otel_logs", LOGS, 0, BAD_AT, -1, "data", REFUSED_UINT8, bad_log.decode()),
        ("otel_traces", SPANS, 0, BAD_AT, -1, "data", REFUSED_TIME, bad_span.decode()),
    ]


async def test_bad_records_are_quarantined_and_everything_else_lands_once(
    bus: InProcessBus, store: Store
) -> None:
    records, bad_span, bad_log = hostile_mix()
    await bus.publish_many(records)
    loop, registry = make_loop(bus, store)
    await run_until_caught_up(loop)

    assert_everything_landed_once(store, bad_span.value, bad_log.value)
    assert sorted(await dead_letters(bus)) == sorted([bad_span.value, bad_log.value])
    reason = store.query_rows(
        "SELECT error_text FROM exos_quarantine WHERE target_table = 'otel_logs'"
    )[0][0]
    assert reason.startswith(f"otel_logs refused {REFUSED_UINT8}:")
    assert "SeverityNumber" in reason
    for table, name in (("otel_traces", REFUSED_TIME), ("otel_logs", REFUSED_UINT8)):
        quarantined = "exos_writer_quarantined_records_total"
        assert sample(registry, quarantined, table=table, reason=name) == 1
        # 41 records, the bad one at offset 20: halves [0-19] [20-40], then [20-29]
        # [30-40], [20-24] [25-29], [20-21] [22-24], [20] [21]: 10 sub-inserts.
        assert sample(registry, "exos_writer_bisection_inserts_total", table=table) == 10
    dead = {"topic": SPANS, "error_type": "RefusedByClickHouse"}
    assert sample(registry, "exos_consumer_dead_letters_total", **dead) == 1
    assert sample(registry, "exos_sink_errors_total", sink="otel_traces", attempt="1") == 0


async def test_an_outage_during_hostile_data_still_pauses_retries_and_loses_nothing(
    bus: InProcessBus, store: Store
) -> None:
    records, bad_span, bad_log = hostile_mix()
    await bus.publish_many(records)
    flaky = FlakyStore(store, failures=4)
    loop, registry = make_loop(bus, flaky)
    await run_until_caught_up(loop)

    assert flaky.failures == 0
    assert_everything_landed_once(store, bad_span.value, bad_log.value)
    assert sample(registry, "exos_consumer_paused_partitions") == 0
    assert sample(registry, "exos_consumer_paused_seconds_total") > 0
    transient = sum(
        sample(registry, "exos_writer_insert_errors_total", table=t, error_class="transient")
        for t in ("otel_traces", "otel_logs")
    )
    assert transient == 4


async def test_a_writer_killed_mid_bisection_stores_each_record_once(
    bus: InProcessBus, store: Store
) -> None:
    records, bad_span, bad_log = hostile_mix()
    await bus.publish_many(records)
    # The whole batch is refused, so the first successful insert is bisection's first
    # half: the writer dies right after it, before any commit.
    killed = FlakyStore(store, kill_after=1)
    first, _ = make_loop(bus, killed)
    await first.start()
    await wait_until(lambda: first.failure is not None)
    await first.stop()
    assert isinstance(first.failure, WriterKilled)
    half_stored = stored(store, "otel_traces", "SpanId")[0] + stored(store, "otel_logs", "Body")[0]
    assert 0 < half_stored < 2 * SESSIONS

    second, _ = make_loop(bus, store)
    await run_until_caught_up(second)
    assert_everything_landed_once(store, bad_span.value, bad_log.value)


async def test_stall_watchdog_turns_readiness_red_naming_the_partition_then_green(
    bus: InProcessBus, store: Store
) -> None:
    flaky = FlakyStore(store, failures=10**6)  # ClickHouse down
    settings = WriterSettings(
        writer_stall_s=0.3, writer_batch_age_s=0.05, writer_backoff_max_s=0.05
    )
    app = create_app(settings, bus=bus, store=flaky)
    await bus.publish_many([outgoing(span(i), SPANS) for i in range(3)])
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://writer") as client,
    ):

        async def readiness() -> tuple[int, dict[str, str]]:
            answer = await client.get("/readyz")
            return answer.status_code, answer.json()["checks"]

        async def stalled_gauge() -> str:
            text = (await client.get("/metrics")).text
            return next(
                line for line in text.splitlines() if line.startswith("exos_writer_stalled")
            )

        assert (await readiness())[0] == 200  # work, but not for long yet
        await asyncio.sleep(0.5)
        status, checks = await readiness()
        assert status == 503
        assert checks[f"progress {SPANS}[0]"] == "failing"
        assert checks["clickhouse"] == "ok"
        assert await stalled_gauge() == "exos_writer_stalled_partitions 1.0"

        flaky.failures = 0  # ClickHouse back
        deadline = time.monotonic() + 10
        while (await readiness())[0] != 200:
            assert time.monotonic() < deadline, "readiness stayed red"
            await asyncio.sleep(0.05)
        assert await stalled_gauge() == "exos_writer_stalled_partitions 0.0"
    assert stored(store, "otel_traces", "SpanId") == (3, 3)


async def test_a_record_of_several_rows_loses_only_its_refused_row(store: Store) -> None:
    """The next redesign puts one session's spans in one record: the insert step splits
    such a record by rows and quarantines only the refused one."""
    registry = CollectorRegistry()
    metrics = WriterMetrics(registry)
    letters: list[tuple[BusRecord, Exception]] = []

    async def dead_letter(record: BusRecord, error: Exception) -> None:
        letters.append((record, error))

    batch = PartitionBatch(TopicPartition(SPANS, 0), SINKS[SPANS], "inc1")
    for offset, spans in enumerate(
        [[span(0)], [span(1), span(2, timestamp_ns=2**63), span(3)], [span(4)]]
    ):
        record = BusRecord(SPANS, 0, offset, b"s", f"record {offset}".encode(), [], 0)
        batch.add(record, encode_payload("otel_traces", spans))
    batch.state = BatchState.ANNOUNCED
    quarantine = Quarantine(store.insert, dead_letter, metrics, timeout_s=30)
    await Inserter(store.insert_raw, quarantine, metrics, timeout_s=30).insert(batch)

    ids = store.query_rows("SELECT SpanId FROM otel_traces ORDER BY SpanId")
    assert [r[0] for r in ids] == [f"{i:016x}" for i in (0, 1, 3, 4)]
    assert quarantine_rows(store) == [
        ("otel_traces", SPANS, 0, 1, 1, "data", REFUSED_TIME, "record 1"),
    ]
    assert [(r.offset, str(e).split(":")[0]) for r, e in letters] == [
        (1, "otel_traces refused row 1")
    ]
    # Records [0-2] refused -> [0] ok, [1-2] refused -> [1] refused, then its rows:
    # [0] ok, [1-2] refused -> [1] refused alone, [2] ok; then record [2] ok: 8 inserts.
    assert sample(registry, "exos_writer_bisection_inserts_total", table="otel_traces") == 8
