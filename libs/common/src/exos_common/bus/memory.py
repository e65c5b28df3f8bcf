"""In-process bus for the all-in-one mode and pipeline tests.

It keeps Kafka's semantics that the services rely on (see `bus.port`): partitions
chosen by Kafka's murmur2 partitioner, per-partition order, consumer groups sharing
partitions, explicit commits, redelivery of uncommitted records after a rebalance,
pause/resume, revoke callbacks.

Without a directory, records live in memory for the life of the process (tests). With
one, the bus is durable (`exos up`): every publish and commit is written to the folder's
segment logs and state (`durable_log`) before it is acknowledged, through one group-commit
writer, and `start` reads the folder back so consumers resume where their groups
committed. Memory still holds every record some reading group has not committed; the
disk holds them too, for the next start.

`max_pending_bytes` bounds those bytes: a publish that would go over it raises `BusFull`
(ingest answers 503 with Retry-After). `publish_and_commit` is exempt: it moves records
along the pipeline and commits their input, so refusing it could only stall the drain.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path

from exos_common.bus.durable_log import BusLog, BusState, FsyncPolicy, GroupState, LogWrite
from exos_common.bus.errors import (
    BusFull,
    BusUnavailable,
    RecordTooLarge,
    UnknownTopic,
)
from exos_common.bus.group_commit import GroupCommit
from exos_common.bus.memory_consumer import InProcessConsumer
from exos_common.bus.memory_state import (
    MemoryGroup,
    MemoryPartition,
    MemoryTopic,
    PendingWrite,
    partition_for,
    record_bytes,
)
from exos_common.bus.port import (
    BusRecord,
    Delivery,
    OutgoingRecord,
    PartitionsCallback,
    SingleRecordPublish,
    TopicPartition,
)
from exos_common.topics import TopicSpec

EXPIRY_INTERVAL_S = 60.0


class InProcessBus(SingleRecordPublish):
    def __init__(
        self,
        max_message_bytes: int = 8 * 1024 * 1024,
        *,
        directory: Path | None = None,
        fsync: FsyncPolicy = "batch",
        max_pending_bytes: int | None = None,
        segment_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self.log_epoch = uuid.uuid4().hex[:12]
        self._max_message_bytes = max_message_bytes
        self._max_pending_bytes = max_pending_bytes
        self._topics: dict[str, MemoryTopic] = {}
        self._groups: dict[str, MemoryGroup] = {}
        self._arrived = asyncio.Condition()
        self._disk = BusLog(directory, fsync, segment_bytes) if directory is not None else None
        self._writes: GroupCommit[PendingWrite, LogWrite] | None = None
        self._in_flight_bytes = 0
        self._last_txn = 0  # the last transaction on disk
        self._last_txn_handed_out = 0
        self._to_release: dict[TopicPartition, int] = {}
        self._next_expiry = 0.0
        self.recovery_seconds = 0.0

    async def start(self) -> None:
        """With a directory: read it back (topics, records, groups' commits, epoch) and
        start the writer. Call before anything else uses the bus."""
        if self._disk is None or self._writes is not None:
            return None
        recovered = await asyncio.to_thread(self._disk.open)
        self.recovery_seconds = recovered.seconds
        self.log_epoch = recovered.state.epoch
        self._last_txn = recovered.state.last_txn
        for name, state in recovered.state.groups.items():
            self._groups[name] = MemoryGroup(
                committed=state.committed, metadata=state.metadata, topics=state.topics
            )
        counts: dict[str, int] = {}
        for tp in recovered.partitions:
            counts[tp.topic] = max(counts.get(tp.topic, 0), tp.partition + 1)
        for topic, count in counts.items():
            self._topics[topic] = MemoryTopic([MemoryPartition() for _ in range(count)])
        for tp, found in recovered.partitions.items():
            log = self._log(tp)
            log.base = found.records[0].offset if found.records else found.end
            log.reserved = found.end
            for record in found.records:
                log.append(record)
        self._writes = GroupCommit(
            self._prepare, self._disk.write, self._apply, grouped=self._disk.fsync != "always"
        )
        self._writes.start()

    async def stop(self) -> None:
        for group in self._groups.values():
            for member in list(group.members):
                await member.close()
        if self._disk is not None and self._writes is not None:
            await self._writes.stop()
            self._writes = None
            release = LogWrite([], None, dict(self._to_release))
            with contextlib.suppress(OSError):
                await asyncio.to_thread(self._disk.write, release)
            self._disk.close()

    @property
    def memory_only(self) -> bool:
        """True without a folder. With one, writes need the running writer: before
        `start` or after `stop` they are refused rather than kept in memory only."""
        if self._disk is None:
            return True
        if self._writes is None:
            raise BusUnavailable("the bus's log is not open (start() not called, or stopped)")
        return False

    async def ping(self) -> bool:
        """False once a write to the folder failed (e.g. disk full): not ready."""
        return self._writes is None or self._writes.failure is None

    async def ensure_topics(self, specs: Sequence[TopicSpec]) -> None:
        for spec in specs:
            retention = spec.configs.get("retention.ms")
            if spec.name in self._topics:  # e.g. read back from the folder
                self._topics[spec.name].retention_ms = int(retention) if retention else None
                continue
            self._topics[spec.name] = MemoryTopic(
                [MemoryPartition() for _ in range(spec.partitions)],
                retention_ms=int(retention) if retention else None,
            )
            if self._disk is not None:  # a few folders, once per topic
                for partition in range(spec.partitions):
                    self._disk.create_partition(TopicPartition(spec.name, partition))

    async def publish_many(self, records: Sequence[OutgoingRecord]) -> list[Delivery]:
        for record in records:
            self._check(record)
        self._check_room(records)
        if self.memory_only:
            deliveries = self._append_all(records)
        else:
            staged = self._stage_all(records)
            write = PendingWrite(staged, size_bytes=sum(record_bytes(r) for r in staged))
            await self._submit(write)
            deliveries = [Delivery(r.topic, r.partition, r.offset) for r in staged]
        await self._notify()
        return deliveries

    @property
    def pending_bytes(self) -> int:
        """Bytes of records some reading group has not committed (with those on their
        way to disk)."""
        read = self._read_topics()
        held = sum(
            log.size_bytes
            for name in read
            if name in self._topics
            for log in self._topics[name].partitions
        )
        return held + self._in_flight_bytes

    def _read_topics(self) -> set[str]:
        return {topic for group in self._groups.values() for topic in group.topics}

    def _check_room(self, records: Sequence[OutgoingRecord]) -> None:
        if self._max_pending_bytes is None:
            return
        read = self._read_topics()
        incoming = sum(record_bytes(r) for r in records if r.topic in read)
        pending = self.pending_bytes
        if pending and pending + incoming > self._max_pending_bytes:
            raise BusFull(
                f"{pending} bytes not yet committed by every group + {incoming} new > "
                f"limit {self._max_pending_bytes}"
            )

    async def _submit(self, write: PendingWrite) -> None:
        assert self._writes is not None
        self._in_flight_bytes += write.size_bytes
        try:
            await self._writes.submit(write)
        except OSError as exc:
            raise BusUnavailable(f"the bus log could not be written: {exc}") from exc

    def _stage_all(self, records: Sequence[OutgoingRecord]) -> list[BusRecord]:
        """Records with their offsets handed out, not yet visible to consumers."""
        staged = []
        for record in records:
            topic = self._topics[record.topic]
            partition = partition_for(record.key, len(topic.partitions), topic.round_robin)
            log = topic.partitions[partition]
            staged.append(
                BusRecord(
                    topic=record.topic,
                    partition=partition,
                    offset=log.reserved,
                    key=record.key,
                    value=record.value,
                    headers=list(record.headers),
                    timestamp_ms=int(time.time() * 1000),
                )
            )
            log.reserved += 1
        return staged

    def _append_all(self, records: Sequence[OutgoingRecord]) -> list[Delivery]:
        staged = self._stage_all(records)
        for record in staged:
            self._log(record.topic_partition).append(record)
        return [Delivery(r.topic, r.partition, r.offset) for r in staged]

    def _prepare(self, writes: list[PendingWrite]) -> LogWrite:
        """The disk write of queued writes: their records, then the state with their
        commits applied (only when some commit or transaction changes it)."""
        records = [(record, write.txn) for write in writes for record in write.records]
        state = None
        if any(write.group is not None or write.txn for write in writes):
            state = self._state()
            for write in writes:
                state.last_txn = max(state.last_txn, write.txn)
                if write.group is not None:
                    name = self._group_name(write.group)
                    state.groups[name].committed.update(write.offsets)
                    state.groups[name].metadata.update(
                        {tp: write.metadata.get(tp, "") for tp in write.offsets}
                    )
        release, self._to_release = self._to_release, {}
        return LogWrite(records, state, release)

    def _state(self) -> BusState:
        return BusState(
            epoch=self.log_epoch,
            last_txn=self._last_txn,
            groups={
                name: GroupState(set(group.topics), dict(group.committed), dict(group.metadata))
                for name, group in self._groups.items()
            },
        )

    def _group_name(self, group: MemoryGroup) -> str:
        return next(name for name, known in self._groups.items() if known is group)

    def _apply(self, writes: list[PendingWrite]) -> None:
        """Durable now: make the records visible and the commits effective."""
        for write in writes:
            self._in_flight_bytes -= write.size_bytes
            for record in write.records:
                self._log(record.topic_partition).append(record)
            self._last_txn = max(self._last_txn, write.txn)
            if write.group is not None:
                self._commit(write.group, write.offsets, write.metadata)
        if time.monotonic() >= self._next_expiry:
            self._next_expiry = time.monotonic() + EXPIRY_INTERVAL_S
            self.expire_unread(int(time.time() * 1000))

    def expire_unread(self, now_ms: int) -> None:
        """Drop records older than their topic's retention from topics no group reads
        (the dead letters, enrich's changelog), as Kafka's retention would; on disk
        their whole segments go with the next write. Read topics keep every record until
        committed: the bound, not time, limits them."""
        read = self._read_topics()
        for name, topic in self._topics.items():
            if name in read or topic.retention_ms is None:
                continue
            for partition, log in enumerate(topic.partitions):
                log.drop_before(log.older_than(now_ms - topic.retention_ms))
                if self._disk is not None:
                    self._to_release[TopicPartition(name, partition)] = log.base

    async def _notify(self) -> None:
        async with self._arrived:
            self._arrived.notify_all()

    def _check(self, record: OutgoingRecord) -> None:
        if record.topic not in self._topics:
            raise UnknownTopic(record.topic)
        size = len(record.value) + len(record.key or b"")
        if size > self._max_message_bytes:
            raise RecordTooLarge(f"{size} bytes > limit {self._max_message_bytes}")

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
        group = self._groups.setdefault(group_id, MemoryGroup())
        new_topics = set(topics) - group.topics
        group.topics.update(topics)
        if new_topics and not self.memory_only:  # keep the topic's records for it
            await self._submit(PendingWrite([], group=group))
        member = InProcessConsumer(
            self, group, tuple(topics), on_assign, on_revoke, transactional=bool(transactional_id)
        )
        group.members.append(member)
        await self._rebalance(group)
        return member

    async def _rebalance(self, group: MemoryGroup) -> None:
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

    def _log(self, tp: TopicPartition) -> MemoryPartition:
        return self._topics[tp.topic].partitions[tp.partition]

    def _commit(
        self,
        group: MemoryGroup,
        offsets: Mapping[TopicPartition, int],
        metadata: Mapping[TopicPartition, str],
    ) -> None:
        for tp, offset in offsets.items():
            group.committed[tp] = offset
            group.metadata[tp] = metadata.get(tp, "")
            self._release(tp)

    def _release(self, tp: TopicPartition) -> None:
        """Drop what every group reading the topic has committed (a topic no group reads,
        like the dead letters or a changelog, keeps everything); on disk, the segments
        wholly before that go with the next write."""
        readers = [g for g in self._groups.values() if tp.topic in g.topics]
        if readers:
            log = self._log(tp)
            log.drop_before(min(g.committed.get(tp, 0) for g in readers))
            if self._disk is not None:
                self._to_release[tp] = log.base
