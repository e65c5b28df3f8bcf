"""A member that takes a partition over must start from the offsets of the previous
owner's last transaction, not from the older commit that is still visible while that
transaction settles.

The previous owner is a transactional producer that processed records 0-9: its
transaction, holding input offset 10 for the group, stays open while the new member
joins and is assigned the partition. Only once the new member's start returned (or 20 s
passed, when the start waits for stable offsets) is the transaction settled. The new
member must then read from the offset the settled state says: 10 after a commit, the
older commit (5) after an abort.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka import TopicPartition as KafkaTopicPartition

from exos_common.bus import BusRecord, Consumer, OutgoingRecord, TopicPartition, create_bus
from exos_common.bus.kafka import connection_options, producer_options
from exos_common.settings import KafkaSettings
from exos_common.testing.kafka import KafkaBroker
from exos_common.topics import TopicSpec

pytestmark = pytest.mark.kafka

INPUTS = 20
EARLIER_COMMIT = 5  # committed by an earlier, settled transaction
PENDING_COMMIT = 10  # held by the open transaction of the previous owner
SETTLE_AFTER_S = 20.0


async def _drain(consumer: Consumer, expected: int, timeout_s: float) -> list[BusRecord]:
    records: list[BusRecord] = []
    deadline = asyncio.get_running_loop().time() + timeout_s
    while len(records) < expected and asyncio.get_running_loop().time() < deadline:
        records += await consumer.fetch(max_records=500, timeout_s=0.5)
    return records


async def _previous_owner(settings: KafkaSettings, group: str) -> AIOKafkaProducer:
    options = producer_options(settings, connection_options(settings))
    producer = AIOKafkaProducer(**options | {"transactional_id": f"{group}-previous"})
    await producer.start()
    return producer


async def _commit_in_transaction(
    producer: AIOKafkaProducer, source: str, sink: str, group: str, offset: int
) -> None:
    await producer.begin_transaction()
    await producer.send_and_wait(sink, b"out-%d" % offset)
    await producer.send_offsets_to_transaction({KafkaTopicPartition(source, 0): offset}, group)


@pytest.mark.parametrize(("settle", "start_at"), [("commit", 10), ("abort", 5)])
async def test_a_new_member_starts_where_the_pending_transaction_settles(
    kafka_broker: KafkaBroker, settle: str, start_at: int
) -> None:
    settings = KafkaSettings(kafka_bootstrap=kafka_broker.bootstrap, kafka_client_id="stable")
    bus = create_bus("kafka", settings)
    await bus.start()
    run = uuid.uuid4().hex[:8]
    source, sink, group = f"stable.in.{run}", f"stable.out.{run}", f"stable-{run}"
    await bus.ensure_topics([TopicSpec(source, 1, 1, {}), TopicSpec(sink, 1, 1, {})])
    await bus.publish_many([OutgoingRecord(source, b"%d" % i, b"k") for i in range(INPUTS)])

    previous = await _previous_owner(settings, group)
    consumer: Consumer | None = None
    try:
        await _commit_in_transaction(previous, source, sink, group, EARLIER_COMMIT)
        await previous.commit_transaction()
        await _commit_in_transaction(previous, source, sink, group, PENDING_COMMIT)

        joining = asyncio.create_task(
            bus.consumer([source], group, transactional_id=f"{group}-next")
        )
        # Settle once the new member is in (its start returned), or after 20 s when the
        # start waits for the pending transaction, as it must.
        await asyncio.wait([joining], timeout=SETTLE_AFTER_S)
        started_before_settling = joining.done()
        if settle == "commit":
            await previous.commit_transaction()
        else:
            await previous.abort_transaction()
        consumer = await joining

        records = await _drain(consumer, INPUTS - start_at, 30.0)
        assert [r.offset for r in records] == list(range(start_at, INPUTS))
        assert not started_before_settling, "the new member started on an unsettled commit"
        assert await consumer.committed(TopicPartition(source, 0)) == start_at
    finally:
        if consumer is not None:
            await consumer.close()
        await previous.stop()
        await bus.stop()
