"""The consumer loop hands a batched message to a handler that takes batches, and
dead-letters it (never drops it unread) for one that reads single records."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from prometheus_client import CollectorRegistry

from exos_common.bus import Consumer, OutgoingRecord, TopicPartition
from exos_common.bus.memory import InProcessBus
from exos_common.bus.port import TopicSpec
from exos_common.codec import encode, encode_batch, encode_body
from exos_common.messages import LogRecord
from exos_common.stream.loop import ConsumerLoop, Decoded, LoopConfig
from exos_common.stream.metrics import ConsumerMetrics

TOPIC = "loop.batches"
LOGS = [LogRecord("s1", 1, "portal", body="a"), LogRecord("s1", 2, "portal", body="b")]


class Collecting:
    def __init__(self, consumer: Consumer, seen: list[Decoded], done: asyncio.Event) -> None:
        self.consumer, self.seen, self.done = consumer, seen, done

    async def handle(self, batch: Sequence[Decoded]) -> None:
        self.seen.extend(batch)
        await self.consumer.commit({d.record.topic_partition: d.record.next_offset for d in batch})
        if len(self.seen) >= 2:
            self.done.set()

    async def tick(self) -> None:
        return None

    async def partitions_assigned(self, partitions: set[TopicPartition]) -> None:
        return None

    async def partitions_revoked(self, partitions: set[TopicPartition]) -> None:
        return None

    async def drain(self) -> None:
        return None


async def run_loop(accepts_batches: bool) -> tuple[list[Decoded], InProcessBus]:
    bus = InProcessBus()
    await bus.ensure_topics([TopicSpec(TOPIC, 1, 1, {}), TopicSpec("exos.deadletter", 1, 1, {})])
    value, headers = encode_batch(LogRecord, [encode_body(log) for log in LOGS])
    single_value, single_headers = encode(LOGS[0])
    await bus.publish_many(
        [
            OutgoingRecord(TOPIC, value, b"s1", headers),
            OutgoingRecord(TOPIC, single_value, b"s1", single_headers),
        ]
    )
    seen: list[Decoded] = []
    done = asyncio.Event()
    config = LoopConfig((TOPIC,), "g", fetch_timeout_s=0.05, accepts_batches=accepts_batches)
    loop = ConsumerLoop(
        bus, config, lambda c: Collecting(c, seen, done), ConsumerMetrics(CollectorRegistry())
    )
    await loop.start()
    await asyncio.wait_for(done.wait(), 5)
    await loop.stop()
    return seen, bus


async def dead_letters(bus: InProcessBus) -> list[bytes]:
    consumer = await bus.consumer(["exos.deadletter"], "reader")
    records = await consumer.fetch(10, 0.1)
    await consumer.close()
    return [r.value for r in records]


async def test_a_handler_that_takes_batches_gets_the_batch_and_single_records() -> None:
    seen, bus = await run_loop(accepts_batches=True)
    assert [list(d.records) for d in seen] == [LOGS, [LOGS[0]]]
    assert seen[0].batch is not None and seen[0].message is None
    assert seen[1].message == LOGS[0] and seen[1].batch is None
    assert await dead_letters(bus) == []
    await bus.stop()


async def test_a_single_record_handler_gets_a_batch_dead_lettered() -> None:
    seen, bus = await run_loop(accepts_batches=False)
    assert [list(d.records) for d in seen] == [[], [LOGS[0]]]
    (letter,) = await dead_letters(bus)
    assert letter.startswith(b"[") and b'"body":"b"' in letter
    await bus.stop()
