"""In-process bus for the all-in-one mode and pipeline tests.

It keeps Kafka's semantics that the services rely on (see `bus.port`): partitions
chosen by Kafka's murmur2 partitioner, per-partition order, consumer groups sharing
partitions, explicit commits, redelivery of uncommitted records after a rebalance,
pause/resume, revoke callbacks. Records live in memory for the life of the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import uuid
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from dataclasses import dataclass, field

from aiokafka.partitioner import murmur2

from exos_common.bus.errors import BusError, CommitFailed, RecordTooLarge, UnknownTopic
from exos_common.bus.port import (
    BusRecord,
    Delivery,
    OutgoingRecord,
    PartitionsCallback,
    SingleRecordPublish,
    TopicPartition,
)
from exos_common.topics import TopicSpec


def partition_for(key: bytes | None, partitions: int, round_robin: itertools.count[int]) -> int:
    """Kafka's default partitioner: murmur2 of the key, positive, modulo partitions."""
    if key is None:
        return next(round_robin) % partitions
    return int(murmur2(key) & 0x7FFFFFFF) % partitions


@dataclass
class _Log:
    """One partition: `records[0]` has offset `base`. Records every group consuming the
    topic has committed are dropped, so memory holds only what is still to be done."""

    records: list[BusRecord] = field(default_factory=list)
    base: int = 0

    @property
    def end(self) -> int:
        return self.base + len(self.records)

    def since(self, offset: int, limit: int) -> list[BusRecord]:
        start = max(offset - self.base, 0)
        return self.records[start : start + limit]

    def drop_before(self, offset: int) -> None:
        if offset > self.base:
            del self.records[: offset - self.base]
            self.base = offset


@dataclass
class _Topic:
    partitions: list[_Log]
    round_robin: itertools.count[int] = field(default_factory=itertools.count)


@dataclass
class _Group:
    members: list[InProcessConsumer] = field(default_factory=list)
    committed: dict[TopicPartition, int] = field(default_factory=dict)
    metadata: dict[TopicPartition, str] = field(default_factory=dict)
    topics: set[str] = field(default_factory=set)  # every topic the group ever read


class InProcessBus(SingleRecordPublish):
    def __init__(self, max_message_bytes: int = 8 * 1024 * 1024) -> None:
        self.log_epoch = uuid.uuid4().hex[:12]
        self._max_message_bytes = max_message_bytes
        self._topics: dict[str, _Topic] = {}
        self._groups: dict[str, _Group] = {}
        self._arrived = asyncio.Condition()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        for group in self._groups.values():
            for member in list(group.members):
                await member.close()

    async def ping(self) -> bool:
        return True

    async def ensure_topics(self, specs: Sequence[TopicSpec]) -> None:
        for spec in specs:
            self._topics.setdefault(spec.name, _Topic([_Log() for _ in range(spec.partitions)]))

    async def publish_many(self, records: Sequence[OutgoingRecord]) -> list[Delivery]:
        deliveries = self._append_all(records)
        await self._notify()
        return deliveries

    def _append_all(self, records: Sequence[OutgoingRecord]) -> list[Delivery]:
        for record in records:
            self._check(record)
        return [self._append(record) for record in records]

    async def _notify(self) -> None:
        async with self._arrived:
            self._arrived.notify_all()

    def _check(self, record: OutgoingRecord) -> None:
        if record.topic not in self._topics:
            raise UnknownTopic(record.topic)
        size = len(record.value) + len(record.key or b"")
        if size > self._max_message_bytes:
            raise RecordTooLarge(f"{size} bytes > limit {self._max_message_bytes}")

    def _append(self, record: OutgoingRecord) -> Delivery:
        topic = self._topics[record.topic]
        partition = partition_for(record.key, len(topic.partitions), topic.round_robin)
        log = topic.partitions[partition]
        log.records.append(
            BusRecord(
                topic=record.topic,
                partition=partition,
                offset=log.end,
                key=record.key,
                value=record.value,
                headers=list(record.headers),
                timestamp_ms=int(time.time() * 1000),
            )
        )
        return Delivery(record.topic, partition, log.end - 1)

    async def read_partition(self, topic: str, partition: int) -> AsyncIterator[list[BusRecord]]:
        if topic not in self._topics:
            raise UnknownTopic(topic)
        log = self._topics[topic].partitions[partition]
        position, end = log.base, log.end
        while position < end:
            batch = log.since(position, min(1000, end - position))
            if not batch:
                return
            yield batch
            position += len(batch)

    async def consumer(
        self,
        topics: Sequence[str],
        group_id: str,
        *,
        on_assign: PartitionsCallback | None = None,
        on_revoke: PartitionsCallback | None = None,
        transactional_id: str | None = None,
    ) -> InProcessConsumer:
        for topic in topics:
            if topic not in self._topics:
                raise UnknownTopic(topic)
        group = self._groups.setdefault(group_id, _Group())
        group.topics.update(topics)
        member = InProcessConsumer(
            self, group, tuple(topics), on_assign, on_revoke, transactional=bool(transactional_id)
        )
        group.members.append(member)
        await self._rebalance(group)
        return member

    async def _rebalance(self, group: _Group) -> None:
        """Assign each topic's partitions in contiguous ranges over its subscribers (in
        join order), revoking before assigning, as Kafka's range assignor does: topics
        with equal partition counts are co-partitioned."""
        wanted: dict[InProcessConsumer, set[TopicPartition]] = {m: set() for m in group.members}
        topics = sorted({topic for member in group.members for topic in member.topics})
        for topic in topics:
            subscribers = [m for m in group.members if topic in m.topics]
            partition_count = len(self._topics[topic].partitions)
            share, extra = divmod(partition_count, len(subscribers))
            start = 0
            for index, member in enumerate(subscribers):
                count = share + (1 if index < extra else 0)
                wanted[member] |= {TopicPartition(topic, p) for p in range(start, start + count)}
                start += count
        for member, partitions in wanted.items():
            await member.revoke(member.assignment() - partitions)
        for member, partitions in wanted.items():
            await member.assign(partitions - member.assignment())

    def _leave(self, member: InProcessConsumer) -> None:
        member.group.members.remove(member)

    def _log(self, tp: TopicPartition) -> _Log:
        return self._topics[tp.topic].partitions[tp.partition]

    def _release(self, tp: TopicPartition) -> None:
        """Drop what every group reading the topic has committed (a topic no group reads,
        like the dead letters or a changelog, keeps everything)."""
        readers = [g for g in self._groups.values() if tp.topic in g.topics]
        if readers:
            self._log(tp).drop_before(min(g.committed.get(tp, 0) for g in readers))


class InProcessConsumer:
    def __init__(
        self,
        bus: InProcessBus,
        group: _Group,
        topics: tuple[str, ...],
        on_assign: PartitionsCallback | None,
        on_revoke: PartitionsCallback | None,
        *,
        transactional: bool = False,
    ) -> None:
        self.group = group
        self._transactional = transactional
        self.topics = topics
        self._bus = bus
        self._on_assign = on_assign
        self._on_revoke = on_revoke
        self._positions: dict[TopicPartition, int] = {}
        self._paused: set[TopicPartition] = set()
        self._closed = False

    async def revoke(self, partitions: set[TopicPartition]) -> None:
        if partitions and self._on_revoke is not None:
            await self._on_revoke(set(partitions))
        for tp in partitions:
            self._positions.pop(tp, None)
            self._paused.discard(tp)

    async def assign(self, partitions: set[TopicPartition]) -> None:
        for tp in partitions:
            self._positions[tp] = self.group.committed.get(tp, 0)
        if partitions and self._on_assign is not None:
            await self._on_assign(set(partitions))

    async def fetch(self, max_records: int, timeout_s: float) -> list[BusRecord]:
        deadline = time.monotonic() + timeout_s
        while True:
            batch = self._take(max_records)
            remaining = deadline - time.monotonic()
            if batch or remaining <= 0 or self._closed:
                return batch
            async with self._bus._arrived:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._bus._arrived.wait(), remaining)

    def _take(self, max_records: int) -> list[BusRecord]:
        batch: list[BusRecord] = []
        for tp in sorted(self._positions):
            if tp in self._paused:
                continue
            position = self._positions[tp]
            taken = self._bus._log(tp).since(position, max_records - len(batch))
            self._positions[tp] = position + len(taken)
            batch.extend(taken)
            if len(batch) >= max_records:
                break
        return batch

    async def commit(
        self,
        offsets: Mapping[TopicPartition, int],
        metadata: Mapping[TopicPartition, str] | None = None,
    ) -> None:
        self._commit_now(offsets, metadata or {})

    def _commit_now(
        self, offsets: Mapping[TopicPartition, int], metadata: Mapping[TopicPartition, str]
    ) -> None:
        for tp in offsets:
            if tp not in self._positions:
                raise CommitFailed(f"{tp} is not assigned to this consumer")
        for tp, offset in offsets.items():
            self.group.committed[tp] = offset
            self.group.metadata[tp] = metadata.get(tp, "")
            self._bus._release(tp)

    async def committed(self, partition: TopicPartition) -> int | None:
        return self.group.committed.get(partition)

    async def committed_metadata(self, partition: TopicPartition) -> str:
        return self.group.metadata.get(partition, "")

    async def publish_and_commit(
        self, records: Sequence[OutgoingRecord], offsets: Mapping[TopicPartition, int]
    ) -> None:
        if not self._transactional:
            raise BusError("publish_and_commit needs a consumer with a transactional_id")
        for tp in offsets:  # refuse before publishing anything: all or nothing
            if tp not in self._positions:
                raise CommitFailed(f"{tp} is not assigned to this consumer")
        self._bus._append_all(records)
        self._commit_now(offsets, {})
        await self._bus._notify()

    def assignment(self) -> set[TopicPartition]:
        return set(self._positions)

    def pause(self, partitions: Collection[TopicPartition]) -> None:
        self._paused |= set(partitions) & set(self._positions)

    def resume(self, partitions: Collection[TopicPartition]) -> None:
        self._paused -= set(partitions)

    def paused(self) -> set[TopicPartition]:
        return set(self._paused)

    async def lag(self) -> dict[TopicPartition, int]:
        return {
            tp: self._bus._log(tp).end - self.group.committed.get(tp, 0) for tp in self._positions
        }

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self.revoke(self.assignment())
        self._bus._leave(self)
        if self.group.members:
            await self._bus._rebalance(self.group)
