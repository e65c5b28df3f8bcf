"""The writer as its own process over a real Kafka broker and the embedded ClickHouse
server: SIGKILL it mid-stream, restart it, and every record is stored exactly once."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from exos_common.bus import OutgoingRecord, create_bus
from exos_common.codec import encode
from exos_common.messages import SpanRecord
from exos_common.settings import KafkaSettings
from exos_common.store import Store
from exos_common.topics import Topic

from . import kafka_offsets
from .conftest import ServiceProcess

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse_server]


def spans(run: str, start: int, count: int) -> list[OutgoingRecord]:
    now = time.time_ns()
    out = []
    for i in range(start, start + count):
        session = f"{run}-s{i % 17}"
        value, headers = encode(
            SpanRecord(
                session_id=session,
                timestamp_ns=now + i,
                trace_id=f"{i:032x}",
                span_id=f"{i:016x}",
                name="click",
                service_name="e2e",
                resource_attributes={"rum.sessionId": session},
            )
        )
        out.append(OutgoingRecord(str(Topic.SPANS_ENRICHED), value, session.encode(), headers))
    return out


def stored(store: Store, run: str) -> tuple[int, int]:
    row = store.query_rows(
        "SELECT count(), uniqExact(SpanId) FROM otel_traces "
        "WHERE startsWith(ResourceAttributes['rum.sessionId'], {run:String})",
        {"run": run},
    )[0]
    return int(row[0]), int(row[1])


async def publish(bootstrap: str, records: list[OutgoingRecord]) -> None:
    bus = create_bus("kafka", KafkaSettings(kafka_bootstrap=bootstrap))
    await bus.start()
    try:
        for i in range(0, len(records), 500):
            await bus.publish_many(records[i : i + 500])
    finally:
        await bus.stop()


def wait_until(condition: object, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        time.sleep(0.2)


def test_writer_killed_mid_stream_stores_every_record_once(
    platform_env: dict[str, str], e2e_store: Store, tmp_path: object
) -> None:
    run = uuid.uuid4().hex[:8]
    env = platform_env | {
        "EXOS_WRITER_GROUP": f"writer-{run}",
        "EXOS_WRITER_BATCH_ROWS": "200",  # many small batches: the kill lands between them
        "EXOS_WRITER_BATCH_AGE_S": "0.2",
    }
    bootstrap = env["EXOS_KAFKA_BOOTSTRAP"]
    # The broker is shared by the session's tests and a new group starts at the earliest
    # record: this writer reads only what this test publishes.
    partitions = int(env.get("EXOS_KAFKA_TOPIC_PARTITIONS", "4"))
    asyncio.run(kafka_offsets.ensure_topics(bootstrap, partitions))
    writer_topics = [str(Topic.SPANS_ENRICHED), str(Topic.LOGS_ENRICHED), str(Topic.REPLAY_RAW)]
    asyncio.run(
        kafka_offsets.start_group_at_end(bootstrap, env["EXOS_WRITER_GROUP"], writer_topics)
    )
    writer = ServiceProcess("writer", env, tmp_path)  # type: ignore[arg-type]
    writer.start()
    total = 6000

    asyncio.run(publish(bootstrap, spans(run, 0, 3000)))
    wait_until(lambda: stored(e2e_store, run)[0] >= 600, 60)
    writer.kill()
    asyncio.run(publish(bootstrap, spans(run, 3000, 3000)))
    writer.start()
    wait_until(lambda: stored(e2e_store, run)[0] >= total, 120)
    assert "exos_batch_rows_count" in writer.metrics()
    assert writer.stop(), writer.log_tail()
    assert stored(e2e_store, run) == (total, total)
