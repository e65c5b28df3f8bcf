"""Ingest over a real Apache Kafka broker: records land and read back; a broker outage
is a 503 with Retry-After within the publish timeout, and ingest recovers by itself once
the broker is back on the same data folder and port."""

from __future__ import annotations

import asyncio
import gzip
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import ingest_samples as sample
import pytest
from ingest_testkit import API_KEY, decoded, settings_for

from exos_common.bus import BusRecord, create_bus
from exos_common.codec import PipelineRecord
from exos_common.localkafka import free_port, start_local_broker, stop_broker
from exos_common.messages import ReplayChunk
from exos_common.testing.kafka import KafkaBroker
from exos_common.topics import Topic
from exos_ingest.app import create_app
from exos_ingest.settings import IngestSettings

pytestmark = pytest.mark.kafka

JSON = {"content-type": "application/json", "authorization": API_KEY}
PROTOBUF = {"content-type": "application/x-protobuf", "authorization": API_KEY}


@asynccontextmanager
async def ingest_client(settings: IngestSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)  # owns a Kafka bus: starts it, creates the topics
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest.test") as client:
            yield client


async def read_sessions(
    settings: IngestSettings, topics: list[str], sessions: set[str], expected: int
) -> list[tuple[BusRecord, PipelineRecord]]:
    """Records of `sessions` on `topics` (the pipeline topics are shared by the tests of
    the session's broker, so others' records are skipped), waiting for `expected`."""
    bus = create_bus("kafka", settings)
    consumer = await bus.consumer(topics, f"ingest-test-{uuid.uuid4().hex[:8]}")
    found: list[tuple[BusRecord, PipelineRecord]] = []
    try:
        deadline = time.monotonic() + 60
        while len(found) < expected and time.monotonic() < deadline:
            for record in await consumer.fetch(500, 1.0):
                if record.key is not None and record.key.decode() in sessions:
                    found += [(record, message) for message in decoded([record])]
    finally:
        await consumer.close()
    return found


def traces_for(session_id: str) -> bytes:
    return sample.json_bytes(sample.hyperdx_traces(session_id=session_id))


async def test_ingest_over_kafka_round_trip(kafka_broker: KafkaBroker) -> None:
    settings = settings_for(kafka_bootstrap=kafka_broker.bootstrap)
    session = f"kafka-{uuid.uuid4().hex}"
    snapshot_json = '{"type":2,"data":{"node":"' + "z" * (3 * 1024 * 1024) + '"}}'
    replay = sample.replay_log_request(session, [sample.RRWEB_SNAPSHOT], big_body=snapshot_json)
    async with ingest_client(settings) as client:
        traces = await client.post("/v1/traces", content=traces_for(session), headers=JSON)
        assert traces.status_code == 200, traces.text
        logs = await client.post(
            "/v1/logs",
            content=gzip.compress(replay.SerializeToString()),
            headers={**PROTOBUF, "content-encoding": "gzip"},
        )
        assert logs.status_code == 200, logs.text
        assert (await client.get("/readyz")).status_code == 200

    topics = [Topic.SPANS_RAW, Topic.LOGS_RAW, Topic.REPLAY_RAW]
    found = await read_sessions(settings, [str(t) for t in topics], {session}, expected=6)
    by_topic: dict[str, list[PipelineRecord]] = {}
    for record, message in found:
        by_topic.setdefault(record.topic, []).append(message)
    assert sorted(r.name for r in by_topic[Topic.SPANS_RAW]) == [  # type: ignore[union-attr]
        "click",
        "console.error",
        "webvitals",
    ]
    assert sorted(r.severity_text for r in by_topic[Topic.LOGS_RAW]) == ["error", "info"]  # type: ignore[union-attr]
    (chunk,) = by_topic[Topic.REPLAY_RAW]
    assert isinstance(chunk, ReplayChunk)
    assert chunk.body == snapshot_json  # 3 MiB through Kafka (limit 8 MiB)
    assert len({record.partition for record, _ in found if record.topic != Topic.REPLAY_RAW}) == 1


async def test_broker_outage_is_503_then_ingest_recovers(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "kafka", free_port()
    broker = await asyncio.to_thread(start_local_broker, data_dir, port)
    publish_timeout_s = 3.0
    settings = settings_for(
        kafka_bootstrap=broker.bootstrap,
        kafka_publish_timeout_s=publish_timeout_s,
        kafka_topic_partitions=2,
        ingest_retry_after_s=2,
    )
    accepted: set[str] = set()
    try:
        async with ingest_client(settings) as client:
            before = f"before-{uuid.uuid4().hex}"
            response = await client.post("/v1/traces", content=traces_for(before), headers=JSON)
            assert response.status_code == 200
            accepted.add(before)

            await asyncio.to_thread(stop_broker, data_dir)
            started = time.monotonic()
            response = await client.post(
                "/v1/traces", content=traces_for(f"during-{uuid.uuid4().hex}"), headers=JSON
            )
            elapsed = time.monotonic() - started
            assert response.status_code == 503
            assert response.headers["retry-after"] == "2"
            assert "nothing was accepted" in response.json()["message"]
            assert elapsed < publish_timeout_s + 2.0
            assert (await client.get("/readyz")).status_code == 503

            await asyncio.to_thread(start_local_broker, data_dir, port)
            # Same process, same producer: the sender retries as a client would.
            deadline = time.monotonic() + 90
            while True:
                after = f"after-{uuid.uuid4().hex}"
                response = await client.post("/v1/traces", content=traces_for(after), headers=JSON)
                if response.status_code == 200:
                    accepted.add(after)
                    break
                assert response.status_code == 503
                assert time.monotonic() < deadline, "ingest did not recover"
                await asyncio.sleep(1.0)
            assert (await client.get("/readyz")).status_code == 200

        found = await read_sessions(
            settings, [str(Topic.SPANS_RAW)], accepted, expected=3 * len(accepted)
        )
        # Every span of every acknowledged request is on Kafka (the 503'd one may be
        # there too: a retried request can duplicate, never lose).
        assert sorted(record.key.decode() for record, _ in found if record.key) == sorted(
            session for session in accepted for _ in range(3)
        )
    finally:
        await asyncio.to_thread(stop_broker, data_dir)
