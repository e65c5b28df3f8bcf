"""One contract for the bus port, run against the in-process bus and a real Kafka broker.

Every test makes its own topics and groups (uuid names), so they share one broker.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka.partitioner import murmur2

from exos_common.bus import (
    Bus,
    BusError,
    BusRecord,
    Consumer,
    OutgoingRecord,
    RecordTooLarge,
    TopicPartition,
    create_bus,
)
from exos_common.bus.memory import InProcessBus
from exos_common.settings import KafkaSettings
from exos_common.topics import TopicSpec

PARTITIONS = 3


@pytest.fixture(
    params=[
        pytest.param("memory", id="memory"),
        pytest.param("durable", id="durable"),
        pytest.param("kafka", id="kafka", marks=pytest.mark.kafka),
    ]
)
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[Bus]:
    if request.param == "kafka":
        broker = request.getfixturevalue("kafka_broker")
        settings = KafkaSettings(kafka_bootstrap=broker.bootstrap, kafka_client_id="contract")
        instance = create_bus("kafka", settings)
    elif request.param == "durable":  # the in-process bus with its folder (`exos up`)
        instance = InProcessBus(directory=request.getfixturevalue("tmp_path") / "bus")
    else:
        instance = create_bus("memory")
    await instance.start()
    yield instance
    await instance.stop()


async def new_topic(bus: Bus, partitions: int = PARTITIONS) -> str:
    name = f"contract.{uuid.uuid4().hex[:12]}"
    await bus.ensure_topics([TopicSpec(name, partitions, 1, {"max.message.bytes": "8388608"})])
    return name


async def drain(consumer: Consumer, expected: int, timeout_s: float = 20.0) -> list[BusRecord]:
    """Fetch until `expected` records arrived (or the timeout passed)."""
    records: list[BusRecord] = []
    deadline = asyncio.get_running_loop().time() + timeout_s
    while len(records) < expected and asyncio.get_running_loop().time() < deadline:
        records += await consumer.fetch(max_records=500, timeout_s=0.5)
    return records


def group() -> str:
    return f"g-{uuid.uuid4().hex[:8]}"


async def test_publish_acknowledges_with_partition_of_kafka_partitioner(bus: Bus) -> None:
    topic = await new_topic(bus)
    delivery = await bus.publish(topic, b"v", key=b"session-42")
    assert delivery.topic == topic
    assert delivery.partition == (murmur2(b"session-42") & 0x7FFFFFFF) % PARTITIONS
    assert delivery.offset == 0
    again = await bus.publish(topic, b"v2", key=b"session-42")
    assert (again.partition, again.offset) == (delivery.partition, 1)


async def test_records_of_one_key_keep_their_order_in_one_partition(bus: Bus) -> None:
    topic = await new_topic(bus)
    sessions = [f"s{i}".encode() for i in range(6)]
    await bus.publish_many(
        [
            OutgoingRecord(topic, f"{s.decode()}:{n}".encode(), s)
            for n in range(20)
            for s in sessions
        ]
    )
    consumer = await bus.consumer([topic], group())
    records = await drain(consumer, 120)
    await consumer.close()
    assert len(records) == 120
    for session in sessions:
        mine = [r for r in records if r.key == session]
        assert {r.partition for r in mine} == {mine[0].partition}
        assert [r.value for r in mine] == [f"{session.decode()}:{n}".encode() for n in range(20)]


async def test_key_value_and_headers_round_trip(bus: Bus) -> None:
    topic = await new_topic(bus)
    headers = [("exos-schema", b"span/1"), ("trace", b"\x00\xff")]
    await bus.publish(topic, b'{"a":1}', key=b"k", headers=headers)
    consumer = await bus.consumer([topic], group())
    [record] = await drain(consumer, 1)
    await consumer.close()
    assert (record.key, record.value, record.offset) == (b"k", b'{"a":1}', 0)
    assert [h for h in record.headers if h[0] in ("exos-schema", "trace")] == headers
    assert record.timestamp_ms > 1_700_000_000_000


async def test_three_mebibyte_record_round_trips(bus: Bus) -> None:
    topic = await new_topic(bus, partitions=1)
    snapshot = b'{"type":2,"data":"' + b"x" * (3 * 1024 * 1024) + b'"}'
    await bus.publish(topic, snapshot, key=b"s")
    consumer = await bus.consumer([topic], group())
    [record] = await drain(consumer, 1)
    await consumer.close()
    assert record.value == snapshot


async def test_record_over_the_limit_is_refused_and_nothing_is_stored(bus: Bus) -> None:
    topic = await new_topic(bus, partitions=1)
    with pytest.raises(RecordTooLarge):
        await bus.publish(topic, b"x" * (9 * 1024 * 1024), key=b"s")
    delivery = await bus.publish(topic, b"small", key=b"s")
    assert delivery.offset == 0


async def test_fetch_returns_at_most_max_records_and_empty_after_timeout(bus: Bus) -> None:
    topic = await new_topic(bus, partitions=1)
    await bus.publish_many([OutgoingRecord(topic, str(i).encode(), b"k") for i in range(10)])
    consumer = await bus.consumer([topic], group())
    first: list[BusRecord] = []
    while len(first) < 4:
        first += await consumer.fetch(max_records=4 - len(first), timeout_s=1)
    assert [r.value for r in first] == [b"0", b"1", b"2", b"3"]
    rest = await drain(consumer, 6)
    assert [r.value for r in rest] == [str(i).encode() for i in range(4, 10)]
    assert await consumer.fetch(max_records=10, timeout_s=0.3) == []
    await consumer.close()


async def test_uncommitted_records_are_delivered_again_committed_ones_are_not(bus: Bus) -> None:
    topic = await new_topic(bus, partitions=1)
    name = group()
    await bus.publish_many([OutgoingRecord(topic, str(i).encode(), b"k") for i in range(10)])
    first = await bus.consumer([topic], name)
    records = await drain(first, 10)
    tp = TopicPartition(topic, 0)
    await first.commit({tp: records[5].next_offset})  # 0..5 done, 6..9 not
    await first.close()

    second = await bus.consumer([topic], name)
    assert await second.committed(tp) == 6
    again = await drain(second, 4)
    await second.close()
    assert [r.value for r in again] == [b"6", b"7", b"8", b"9"]


async def test_each_group_gets_every_record_members_share_partitions(bus: Bus) -> None:
    topic = await new_topic(bus, partitions=4)
    values = {f"v{i}".encode() for i in range(40)}
    await bus.publish_many([OutgoingRecord(topic, v, v) for v in sorted(values)])
    shared = group()
    a = await bus.consumer([topic], shared)
    b = await bus.consumer([topic], shared)
    # b joining rebalanced a: both now own two of the four partitions.
    for _ in range(50):
        if len(a.assignment()) == 2 and len(b.assignment()) == 2:
            break
        await asyncio.sleep(0.2)
    assert a.assignment().isdisjoint(b.assignment())
    assert len(a.assignment() | b.assignment()) == 4
    got_a, got_b = await asyncio.gather(drain(a, 40, 8), drain(b, 40, 8))
    assert {r.value for r in got_a}.isdisjoint({r.value for r in got_b})
    assert {r.value for r in got_a} | {r.value for r in got_b} == values

    other = await bus.consumer([topic], group())
    assert {r.value for r in await drain(other, 40)} == values
    for consumer in (a, b, other):
        await consumer.close()


async def test_revoke_callback_runs_before_partitions_move(bus: Bus) -> None:
    topic = await new_topic(bus, partitions=2)
    shared = group()
    revoked: list[set[TopicPartition]] = []

    async def on_revoke(partitions: set[TopicPartition]) -> None:
        revoked.append(partitions)

    first = await bus.consumer([topic], shared, on_revoke=on_revoke)
    assert first.assignment() == {TopicPartition(topic, 0), TopicPartition(topic, 1)}
    second_task = asyncio.create_task(bus.consumer([topic], shared))
    # Kafka rebalances when the first member takes part in the group protocol again.
    while not second_task.done():
        await first.fetch(max_records=1, timeout_s=0.2)
    second = await second_task
    moved = second.assignment()
    assert len(moved) == 1
    assert revoked and moved <= set().union(*revoked)
    await second.close()
    await first.close()


async def test_paused_partitions_are_not_fetched_until_resumed(bus: Bus) -> None:
    topic = await new_topic(bus, partitions=2)
    key_for = {}
    for i in range(50):  # find one key per partition
        key = f"k{i}".encode()
        key_for.setdefault((murmur2(key) & 0x7FFFFFFF) % 2, key)
    await bus.publish(topic, b"p0", key=key_for[0])
    await bus.publish(topic, b"p1", key=key_for[1])
    consumer = await bus.consumer([topic], group())
    p0 = TopicPartition(topic, 0)
    consumer.pause([p0])
    assert consumer.paused() == {p0}
    got = await drain(consumer, 1)
    assert [r.value for r in got] == [b"p1"]
    assert await consumer.fetch(max_records=10, timeout_s=0.5) == []
    consumer.resume([p0])
    assert consumer.paused() == set()
    assert [r.value for r in await drain(consumer, 1)] == [b"p0"]
    await consumer.close()


async def test_lag_counts_records_after_the_commit(bus: Bus) -> None:
    topic = await new_topic(bus, partitions=1)
    await bus.publish_many([OutgoingRecord(topic, b"x", b"k") for _ in range(5)])
    consumer = await bus.consumer([topic], group())
    records = await drain(consumer, 5)
    tp = TopicPartition(topic, 0)
    assert await consumer.lag() == {tp: 5}
    await consumer.commit({tp: records[1].next_offset})
    assert await consumer.lag() == {tp: 3}
    await consumer.close()


async def test_topics_with_equal_partitions_are_co_partitioned(bus: Bus) -> None:
    spans, replay = await new_topic(bus, partitions=4), await new_topic(bus, partitions=4)
    shared = group()
    a = await bus.consumer([spans, replay], shared)
    b_task = asyncio.create_task(bus.consumer([spans, replay], shared))
    while not b_task.done():
        await a.fetch(max_records=1, timeout_s=0.2)
    b = await b_task
    # b has its share once it joined; a learns of the new assignment on a later poll.
    deadline = asyncio.get_running_loop().time() + 30
    while len(a.assignment()) != 4 and asyncio.get_running_loop().time() < deadline:
        await a.fetch(max_records=1, timeout_s=0.2)
    for member in (a, b):
        by_topic = {
            topic: {tp.partition for tp in member.assignment() if tp.topic == topic}
            for topic in (spans, replay)
        }
        assert len(by_topic[spans]) == 2
        assert by_topic[spans] == by_topic[replay]
    await b.close()
    await a.close()


async def test_commit_metadata_is_read_back_by_the_next_member(bus: Bus) -> None:
    topic = await new_topic(bus, partitions=1)
    await bus.publish(topic, b"x", key=b"k")
    name, tp = group(), TopicPartition(topic, 0)
    first = await bus.consumer([topic], name)
    await drain(first, 1)
    await first.commit({tp: 0}, {tp: "pending:0-0"})
    await first.close()
    second = await bus.consumer([topic], name)
    assert await second.committed(tp) == 0
    assert await second.committed_metadata(tp) == "pending:0-0"
    await second.commit({tp: 1})
    assert await second.committed_metadata(tp) == ""
    await second.close()


async def test_publish_and_commit_happen_together(bus: Bus) -> None:
    source, sink = await new_topic(bus, partitions=1), await new_topic(bus, partitions=1)
    await bus.publish_many([OutgoingRecord(source, str(i).encode(), b"k") for i in range(3)])
    name, tp = group(), TopicPartition(source, 0)
    worker = await bus.consumer([source], name, transactional_id=f"tx-{name}")
    records = await drain(worker, 3)
    await worker.publish_and_commit(
        [OutgoingRecord(sink, r.value.upper() + b"!", r.key) for r in records],
        {tp: records[-1].next_offset},
    )
    # Kafka writes a transaction's offsets when its commit marker lands: shortly after.
    for _ in range(50):
        if await worker.committed(tp) == 3:
            break
        await asyncio.sleep(0.2)
    assert await worker.committed(tp) == 3
    await worker.close()

    reader = await bus.consumer([sink], group())
    assert [r.value for r in await drain(reader, 3)] == [b"0!", b"1!", b"2!"]
    await reader.close()


async def test_publish_and_commit_needs_a_transactional_consumer(bus: Bus) -> None:
    topic = await new_topic(bus, partitions=1)
    plain = await bus.consumer([topic], group())
    with pytest.raises(BusError, match="transactional_id"):
        await plain.publish_and_commit([], {})
    await plain.close()


async def test_read_partition_returns_every_record_in_order_outside_any_group(bus: Bus) -> None:
    topic = await new_topic(bus, partitions=2)
    key_for_zero = next(
        k for k in (f"k{i}".encode() for i in range(100)) if (murmur2(k) & 0x7FFFFFFF) % 2 == 0
    )
    await bus.publish_many(
        [OutgoingRecord(topic, str(i).encode(), key_for_zero) for i in range(1500)]
    )
    got = [r async for batch in bus.read_partition(topic, 0) for r in batch]
    assert [r.value for r in got] == [str(i).encode() for i in range(1500)]
    assert [r async for batch in bus.read_partition(topic, 1) for r in batch] == []
