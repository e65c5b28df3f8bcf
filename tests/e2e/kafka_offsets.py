"""What a test reads and sets on the real Kafka broker around a consumer group: start a new
group at the topics' current end, compare its commits with the end offsets, and read a
whole topic (the dead letters) without joining a group."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import OffsetAndMetadata, TopicPartition

from exos_common.bus import create_bus, ensure_pipeline_topics
from exos_common.bus.kafka import connection_options
from exos_common.settings import KafkaSettings
from exos_common.topics import Topic


def settings(bootstrap: str) -> KafkaSettings:
    return KafkaSettings(kafka_bootstrap=bootstrap)


async def ensure_topics(bootstrap: str, partitions: int) -> None:
    config = KafkaSettings(kafka_bootstrap=bootstrap, kafka_topic_partitions=partitions)
    bus = create_bus("kafka", config)
    await bus.start()
    try:
        await ensure_pipeline_topics(bus, config)
    finally:
        await bus.stop()


async def partitions_of(
    bootstrap: str, topics: Sequence[str], timeout_s: float = 20.0
) -> list[TopicPartition]:
    """The topics' partitions, once the broker reports all of them (a topic just created
    takes a moment to appear)."""
    admin = AIOKafkaAdminClient(**connection_options(settings(bootstrap)))
    await admin.start()
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            described = await admin.describe_topics(list(topics))
            known = {d["topic"]: [p["partition"] for p in d["partitions"]] for d in described}
            if all(known.get(topic) for topic in topics):
                return [TopicPartition(t, p) for t in topics for p in sorted(known[t])]
            if time.monotonic() > deadline:
                raise TimeoutError(f"partitions of {list(topics)} unknown: {known}")
            await asyncio.sleep(0.2)
    finally:
        await admin.close()


async def end_offsets(bootstrap: str, topics: Sequence[str]) -> dict[TopicPartition, int]:
    partitions = await partitions_of(bootstrap, topics)
    consumer = AIOKafkaConsumer(**connection_options(settings(bootstrap)))
    await consumer.start()
    try:
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        return {tp: int(offset) for tp, offset in ends.items()}
    finally:
        await consumer.stop()


async def start_group_at_end(bootstrap: str, group: str, topics: Sequence[str]) -> None:
    """Commit the topics' end offsets for a group that has none yet, so its first member
    reads only what is published from now on (the broker is shared by a session's tests
    and a new group starts at the earliest record)."""
    ends = await end_offsets(bootstrap, topics)
    consumer = AIOKafkaConsumer(
        group_id=group, enable_auto_commit=False, **connection_options(settings(bootstrap))
    )
    await consumer.start()
    try:
        consumer.assign(list(ends))
        await consumer.commit({tp: OffsetAndMetadata(end, "") for tp, end in ends.items()})
    finally:
        await consumer.stop()


ENRICH_INPUTS = (Topic.SPANS_RAW, Topic.LOGS_RAW, Topic.REPLAY_RAW)
WRITER_INPUTS = (Topic.SPANS_ENRICHED, Topic.LOGS_ENRICHED, Topic.REPLAY_RAW)


async def start_pipeline_groups_at_end(env: Mapping[str, str]) -> None:
    """The broker is shared by the session's tests, and a new group starts at the earliest
    record: without this, a platform's enrich and writer re-read every earlier test's
    records into their own database (the same spans enriched and stored again)."""
    bootstrap = env["EXOS_KAFKA_BOOTSTRAP"]
    await ensure_topics(bootstrap, int(env["EXOS_KAFKA_TOPIC_PARTITIONS"]))
    for group, topics in (
        (env["EXOS_ENRICH_GROUP"], ENRICH_INPUTS),
        (env["EXOS_WRITER_GROUP"], WRITER_INPUTS),
    ):
        await start_group_at_end(bootstrap, group, [str(t) for t in topics])


async def committed_offsets(bootstrap: str, group: str) -> dict[TopicPartition, int]:
    admin = AIOKafkaAdminClient(**connection_options(settings(bootstrap)))
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
        return {tp: int(entry.offset) for tp, entry in offsets.items()}
    finally:
        await admin.close()


async def read_topic(bootstrap: str, topic: str) -> list[bytes]:
    """Every value in `topic` from its beginning to its current end."""
    ends = await end_offsets(bootstrap, [topic])
    consumer = AIOKafkaConsumer(
        enable_auto_commit=False,
        isolation_level="read_committed",
        **connection_options(settings(bootstrap)),
    )
    await consumer.start()
    try:
        consumer.assign(list(ends))
        await consumer.seek_to_beginning(*ends)
        values: list[bytes] = []
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            batches = await consumer.getmany(timeout_ms=1000)
            values += [r.value for records in batches.values() for r in records if r.value]
        return values
    finally:
        await consumer.stop()


async def group_members(bootstrap: str, group: str) -> int:
    """How many members the group has once it is stable (0 while it rebalances)."""
    admin = AIOKafkaAdminClient(**connection_options(settings(bootstrap)))
    await admin.start()
    try:
        [response] = await admin.describe_consumer_groups([group])
        described = response.to_object()["groups"][0]
        return len(described["members"]) if described["state"] == "Stable" else 0
    finally:
        await admin.close()
