"""A rebalance waits for the batch being handled: the revoke callback runs only after
the handler finished publishing and committing, so the partition's next owner starts
after that commit, never before it (which would process the batch twice)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from prometheus_client import CollectorRegistry

from exos_common.bus import BusRecord, Consumer, OutgoingRecord, TopicPartition
from exos_common.bus.memory import InProcessBus
from exos_common.bus.port import PartitionsCallback, TopicSpec
from exos_common.codec import encode
from exos_common.messages import SpanRecord
from exos_common.stream.loop import ConsumerLoop, Decoded, LoopConfig
from exos_common.stream.metrics import ConsumerMetrics

TOPIC = "loop.rebalance"


class SlowHandler:
    """Handles one batch slowly (an in-flight transaction) and records the order."""

    def __init__(self, consumer: Consumer, events: list[str], release: asyncio.Event) -> None:
        self.consumer = consumer
        self.events = events
        self.release = release
        self.handling = asyncio.Event()

    async def handle(self, batch: Sequence[Decoded]) -> None:
        self.events.append("handle-start")
        self.handling.set()
        await self.release.wait()
        offsets = {r.record.topic_partition: r.record.next_offset for r in batch}
        await self.consumer.commit(offsets)
        self.events.append("committed")

    async def tick(self) -> None:
        return None

    async def partitions_assigned(self, partitions: set[TopicPartition]) -> None:
        return None

    async def partitions_revoked(self, partitions: set[TopicPartition]) -> None:
        self.events.append("revoke")

    async def drain(self) -> None:
        return None


async def test_revoke_waits_for_the_batch_in_flight() -> None:
    bus = InProcessBus()
    # The records are not pipeline messages: they go to the dead-letter topic, the
    # handler still owns and commits their offsets.
    await bus.ensure_topics([TopicSpec(TOPIC, 2, 1, {}), TopicSpec("exos.deadletter", 1, 1, {})])
    await bus.publish_many(
        [OutgoingRecord(TOPIC, b"x", key=f"k{i}".encode(), headers=[]) for i in range(10)]
    )
    events: list[str] = []
    release = asyncio.Event()
    handlers: list[SlowHandler] = []

    def factory(consumer: Consumer) -> SlowHandler:
        handlers.append(SlowHandler(consumer, events, release))
        return handlers[-1]

    loop = ConsumerLoop(
        bus,
        LoopConfig(topics=(TOPIC,), group_id="g"),
        factory,
        ConsumerMetrics(CollectorRegistry()),
    )
    await loop.start()
    await asyncio.wait_for(handlers[0].handling.wait(), 5)
    # A second member joins while the first is inside handle(): the group rebalances.
    joining = asyncio.create_task(bus.consumer([TOPIC], "g"))
    await asyncio.sleep(0.2)
    assert events == ["handle-start"]  # the revoke is waiting for the batch
    release.set()
    second = await asyncio.wait_for(joining, 5)
    assert events[:3] == ["handle-start", "committed", "revoke"]
    # What the first member committed is where the new owner starts: nothing twice.
    moved = second.assignment()
    assert moved
    for tp in moved:
        assert await second.committed(tp) is not None
    await second.close()
    await loop.stop()


class RecordingHandler:
    def __init__(self) -> None:
        self.events: list[str] = []

    async def handle(self, batch: Sequence[Decoded]) -> None:
        self.events += [f"handle {d.record.offset}" for d in batch]

    async def tick(self) -> None:
        return None

    async def partitions_assigned(self, partitions: set[TopicPartition]) -> None:
        self.events.append("assigned")

    async def partitions_revoked(self, partitions: set[TopicPartition]) -> None:
        self.events.append("revoked")
        await asyncio.sleep(0.05)  # flushing what it held

    async def drain(self) -> None:
        return None


def span_record(partition: int, offset: int) -> BusRecord:
    value, headers = encode(SpanRecord("s1", 1, "0" * 32, "0" * 16, "click", "portal"))
    return BusRecord(TOPIC, partition, offset, b"s1", value, headers, 0)


class RebalancedMidFetch:
    """A consumer whose group starts rebalancing as its first fetch returns a record of
    partition 0 at offset 7 and one of partition 1 at offset 3: the revoke of `moved`
    begins before the loop takes the records and runs while they wait (then those
    partitions are assigned again, read from the commit). The next fetch returns what
    the consumer reads again from the group's commits."""

    def __init__(
        self,
        on_assign: PartitionsCallback,
        on_revoke: PartitionsCallback,
        moved: set[int],
    ) -> None:
        self._on_assign, self._on_revoke = on_assign, on_revoke
        self._moved = {TopicPartition(TOPIC, p) for p in moved}
        self.fetches = 0
        self.rebalance: asyncio.Task[None] | None = None
        self.settled_before_return = False

    async def fetch(self, max_records: int, timeout_s: float) -> list[BusRecord]:
        self.fetches += 1
        if self.fetches == 1 and self.settled_before_return:
            # The rebalance ended while the fetch waited: it returns what it read from
            # the new assignment's positions, which have moved past these records.
            await self._rebalance()
            return [span_record(0, 7), span_record(1, 3)]
        if self.fetches == 1:
            self.rebalance = asyncio.create_task(self._rebalance())
            await asyncio.sleep(0)  # the revoke starts
            return [span_record(0, 7), span_record(1, 3)]
        if self.fetches == 2 and self.settled_before_return:
            return []
        if self.fetches == 2:
            return [
                span_record(tp.partition, {0: 7, 1: 3}[tp.partition]) for tp in sorted(self._moved)
            ]
        await asyncio.sleep(timeout_s)
        return []

    async def _rebalance(self) -> None:
        await self._on_revoke(self._moved)
        await self._on_assign(self._moved)

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition(TOPIC, 0)}

    async def lag(self) -> dict[TopicPartition, int]:
        return {}

    async def close(self) -> None:
        return None


class OneConsumerBus:
    log_epoch = ""

    def __init__(self, moved: set[int], settled_before_return: bool = False) -> None:
        self.moved = moved
        self.settled_before_return = settled_before_return
        self.consumers: list[RebalancedMidFetch] = []

    async def consumer(
        self,
        topics: Sequence[str],
        group_id: str,
        *,
        on_assign: PartitionsCallback,
        on_revoke: PartitionsCallback,
        transactional_id: str | None = None,
    ) -> RebalancedMidFetch:
        self.consumers.append(RebalancedMidFetch(on_assign, on_revoke, self.moved))
        self.consumers[-1].settled_before_return = self.settled_before_return
        return self.consumers[-1]


@pytest.mark.parametrize(
    ("moved", "settled_before_return", "events"),
    [
        # Kafka's eager rebalance moves every partition: both records come again.
        ({0, 1}, False, ["revoked", "assigned", "handle 7", "handle 3"]),
        # The in-process bus moves only what changes owner: partition 0's record of the
        # first fetch is still current (its position was kept), partition 1's comes again.
        ({1}, False, ["revoked", "handle 7", "assigned", "handle 3"]),
        # Read after the rebalance ended: current, handled (dropping them would lose
        # them, the positions are past them).
        ({0, 1}, True, ["revoked", "assigned", "handle 7", "handle 3"]),
    ],
)
async def test_records_fetched_before_their_partition_moved_are_dropped_not_handled(
    moved: set[int], settled_before_return: bool, events: list[str]
) -> None:
    bus = OneConsumerBus(moved, settled_before_return)
    handler = RecordingHandler()
    loop = ConsumerLoop(
        bus,  # type: ignore[arg-type]
        LoopConfig(topics=(TOPIC,), group_id="g", fetch_timeout_s=0.01),
        lambda consumer: handler,
        ConsumerMetrics(CollectorRegistry()),
    )
    await loop.start()
    for _ in range(200):
        if bus.consumers[0].fetches >= 3:
            break
        await asyncio.sleep(0.01)
    await loop.stop()
    # Each record is handled once.
    assert handler.events == ["assigned", *events]
