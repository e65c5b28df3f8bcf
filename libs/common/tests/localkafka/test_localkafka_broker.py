"""Against a real broker: the session's `kafka_broker` and the Maven cache it came from."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import UnknownTopicOrPartitionError
from aiokafka.structs import OffsetAndMetadata, TopicPartition

from exos_common.localkafka import BrokerStartError, KafkaDist, fetch_kafka, free_port, start_broker
from exos_common.settings import KafkaSettings, RuntimeSettings
from exos_common.testing.kafka import KafkaBroker

pytestmark = pytest.mark.kafka


async def _create_topic(bootstrap: str, partitions: int) -> str:
    topic = f"localkafka-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        response = await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()
    assert [(name, code) for name, code, *_ in response.topic_errors] == [(topic, 0)]
    return topic


async def test_keyed_record_round_trip_with_manual_commit(kafka_broker: KafkaBroker) -> None:
    topic = await _create_topic(kafka_broker.bootstrap, partitions=3)
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_broker.bootstrap, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        sent = await producer.send_and_wait(topic, b"session-start", key=b"session-42")
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_broker.bootstrap,
        group_id=f"g-{topic}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    tp = TopicPartition(topic, sent.partition)
    await consumer.start()
    try:
        batch = {}
        for _ in range(10):  # the first polls may only complete the group join
            batch = await consumer.getmany(timeout_ms=1000)
            if batch:
                break
        records = batch.get(tp, [])
        await consumer.commit({tp: OffsetAndMetadata(records[0].offset + 1, "")})
        committed = await consumer.committed(tp)
    finally:
        await consumer.stop()

    assert list(batch) == [tp]
    assert len(records) == 1
    assert (records[0].key, records[0].value, records[0].offset) == (
        b"session-42",
        b"session-start",
        0,
    )
    assert sent.offset == 0
    assert committed == 1


async def test_accepts_a_multi_mib_record(kafka_broker: KafkaBroker) -> None:
    # rrweb full snapshots: the broker limit follows EXOS_KAFKA_MAX_MESSAGE_BYTES (8 MiB).
    topic = await _create_topic(kafka_broker.bootstrap, partitions=1)
    snapshot = b"s" * (6 * 1024 * 1024)
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_broker.bootstrap, acks="all", max_request_size=8 * 1024 * 1024
    )
    await producer.start()
    try:
        sent = await producer.send_and_wait(topic, snapshot, key=b"replay-1")
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka_broker.bootstrap,
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=16 * 1024 * 1024,
    )
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek(tp, 0)
        record = await consumer.getone()
    finally:
        await consumer.stop()

    assert sent.offset == 0
    assert len(record.value or b"") == 6 * 1024 * 1024


async def test_topics_are_not_auto_created(kafka_broker: KafkaBroker) -> None:
    missing = f"never-created-{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(bootstrap_servers=kafka_broker.bootstrap, request_timeout_ms=1500)
    await producer.start()
    try:
        with pytest.raises(UnknownTopicOrPartitionError):
            await producer.send_and_wait(missing, b"x")
    finally:
        await producer.stop()
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_broker.bootstrap)
    await admin.start()
    try:
        assert missing not in await admin.list_topics()
    finally:
        await admin.close()


def test_second_fetch_uses_cache_without_maven(monkeypatch: pytest.MonkeyPatch) -> None:
    version = KafkaSettings().kafka_version
    cache_dir = RuntimeSettings().cache_dir
    fetch_kafka(version, cache_dir)  # Maven only if no run fetched it before
    monkeypatch.setenv("PATH", "/nonexistent")  # no mvn reachable

    dist = fetch_kafka(version, cache_dir)

    assert dist.cached is True
    assert (dist.libs / f"kafka_2.13-{version}.jar").is_file()
    assert (dist.home / "pom.xml").is_file()


def test_broker_that_dies_reports_its_log(tmp_path: Path) -> None:
    # Jars missing: the JVM exits at once. The error must say so instead of timing out.
    (tmp_path / "kraft-logs").mkdir()
    (tmp_path / "kraft-logs" / "meta.properties").write_text("")  # skip formatting
    (tmp_path / "nowhere" / "libs").mkdir(parents=True)
    dist = KafkaDist(version="0", home=tmp_path / "nowhere", cached=True)

    with pytest.raises(BrokerStartError, match="exited during start-up") as failure:
        start_broker(dist, tmp_path, free_port(), max_message_bytes=1 << 20, timeout_s=30)

    assert "kafka.Kafka" in str(failure.value)  # "Could not find or load main class ..."
    assert not (tmp_path / "kafka.pid").exists()


def test_fresh_fetch_with_maven_is_atomic(tmp_path: Path) -> None:
    version = KafkaSettings().kafka_version

    first = fetch_kafka(version, tmp_path)
    second = fetch_kafka(version, tmp_path)

    assert (first.cached, second.cached) == (False, True)
    assert first.home == second.home == tmp_path / "kafka" / version
    jars = {jar.name for jar in first.libs.iterdir()}
    assert {f"kafka_2.13-{version}.jar", "log4j-slf4j-impl-2.24.3.jar"} <= jars
    assert [p.name for p in (tmp_path / "kafka").iterdir()] == [version]  # no staging left
