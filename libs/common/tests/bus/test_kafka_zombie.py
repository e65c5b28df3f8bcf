"""A transactional member expelled from its group (its event loop starved past the
session timeout, as under CPU load) must not commit the batch it still holds: the
partition already belongs to the next member, which processes the same records.

Member A runs in its own thread and event loop; after fetching it blocks that loop (no
heartbeat goes out) until member B has taken the partition over and committed every
record. Then A tries to commit its stale batch. Read with read_committed, the output
topic must hold each input record exactly once.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections import Counter

import pytest

from exos_common.bus import BusRecord, Consumer, OutgoingRecord, TopicPartition, create_bus
from exos_common.bus.errors import MembershipLost
from exos_common.settings import KafkaSettings
from exos_common.testing.kafka import KafkaBroker
from exos_common.topics import TopicSpec

pytestmark = pytest.mark.kafka

INPUTS = 20
TAKEOVER_TIMEOUT_S = 60.0


async def _drain(consumer: Consumer, expected: int, timeout_s: float) -> list[BusRecord]:
    records: list[BusRecord] = []
    deadline = asyncio.get_running_loop().time() + timeout_s
    while len(records) < expected and asyncio.get_running_loop().time() < deadline:
        records += await consumer.fetch(max_records=500, timeout_s=0.5)
    return records


def _outputs(sink: str, records: list[BusRecord]) -> list[OutgoingRecord]:
    return [OutgoingRecord(sink, b"out-" + r.value, r.key) for r in records]


class StarvedMember:
    """Member A: fetches, then starves its own event loop until told to go on."""

    def __init__(self, settings: KafkaSettings, source: str, sink: str, group: str) -> None:
        self._settings, self._source, self._sink, self._group = settings, source, sink, group
        self.fetched = threading.Event()
        self.go_on = threading.Event()
        self.outcome: BaseException | None = None
        self.committed_stale_batch = False

    def run(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        bus = create_bus("kafka", self._settings)
        await bus.start()
        worker = await bus.consumer(
            [self._source], self._group, transactional_id=f"{self._group}-a"
        )
        try:
            records = await _drain(worker, INPUTS, 20.0)
            self.fetched.set()
            # A blocking wait: heartbeats stop exactly as when a busy CPU starves the loop.
            self.go_on.wait(TAKEOVER_TIMEOUT_S + 30)
            try:
                await worker.publish_and_commit(
                    _outputs(self._sink, records),
                    {TopicPartition(self._source, 0): records[-1].next_offset},
                )
                self.committed_stale_batch = True
            except MembershipLost as exc:
                self.outcome = exc
        finally:
            await worker.close()
            await bus.stop()


async def _read_committed(settings: KafkaSettings, topic: str) -> Counter[bytes]:
    bus = create_bus("kafka", settings)
    await bus.start()
    seen: Counter[bytes] = Counter()
    try:
        async for batch in bus.read_partition(topic, 0):
            seen.update(r.value for r in batch)
    finally:
        await bus.stop()
    return seen


async def test_a_member_expelled_while_holding_a_batch_cannot_commit_it(
    kafka_broker: KafkaBroker,
) -> None:
    settings = KafkaSettings(kafka_bootstrap=kafka_broker.bootstrap, kafka_client_id="zombie")
    bus = create_bus("kafka", settings)
    await bus.start()
    run = uuid.uuid4().hex[:8]
    source, sink, group = f"zombie.in.{run}", f"zombie.out.{run}", f"zombie-{run}"
    await bus.ensure_topics([TopicSpec(source, 1, 1, {}), TopicSpec(sink, 1, 1, {})])
    await bus.publish_many([OutgoingRecord(source, b"%d" % i, b"k") for i in range(INPUTS)])

    member_a = StarvedMember(settings, source, sink, group)
    thread = threading.Thread(target=member_a.run, name="member-a")
    thread.start()
    member_b: Consumer | None = None
    try:
        assert await asyncio.to_thread(member_a.fetched.wait, 30.0), "member A fetched nothing"
        # B joins; A cannot answer the rebalance, so the coordinator expels it and the
        # partition goes to B, which starts from the last committed offset (none).
        member_b = await bus.consumer([source], group, transactional_id=f"{group}-b")
        records = await _drain(member_b, INPUTS, TAKEOVER_TIMEOUT_S)
        assert [r.value for r in records] == [b"%d" % i for i in range(INPUTS)]
        await member_b.publish_and_commit(
            _outputs(sink, records), {TopicPartition(source, 0): records[-1].next_offset}
        )
    finally:
        member_a.go_on.set()
        await asyncio.to_thread(thread.join, 60.0)
        if member_b is not None:
            await member_b.close()

    seen = await _read_committed(settings, sink)
    await bus.stop()
    assert seen == Counter({b"out-%d" % i: 1 for i in range(INPUTS)})
    assert not member_a.committed_stale_batch
    assert isinstance(member_a.outcome, MembershipLost)
