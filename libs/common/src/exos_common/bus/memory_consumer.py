"""A member of a consumer group on the in-process bus."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING

from exos_common.bus.errors import BusError, CommitFailed
from exos_common.bus.memory_state import MemoryGroup, PendingWrite, record_bytes
from exos_common.bus.port import BusRecord, OutgoingRecord, PartitionsCallback, TopicPartition

if TYPE_CHECKING:
    from exos_common.bus.memory import InProcessBus


class InProcessConsumer:
    def __init__(
        self,
        bus: InProcessBus,
        group: MemoryGroup,
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
            log = self._bus._log(tp)
            # A group that joins after others released records starts at the oldest kept.
            position = max(self._positions[tp], log.base)
            taken = log.since(position, max_records - len(batch))
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
        self._check_assigned(offsets)
        if self._bus.memory_only:
            self._bus._commit(self.group, offsets, metadata or {})
        else:
            await self._bus._submit(
                PendingWrite(
                    [], group=self.group, offsets=dict(offsets), metadata=dict(metadata or {})
                )
            )

    def _check_assigned(self, offsets: Mapping[TopicPartition, int]) -> None:
        for tp in offsets:
            if tp not in self._positions:
                raise CommitFailed(f"{tp} is not assigned to this consumer")

    async def committed(self, partition: TopicPartition) -> int | None:
        return self.group.committed.get(partition)

    async def committed_metadata(self, partition: TopicPartition) -> str:
        return self.group.metadata.get(partition, "")

    async def publish_and_commit(
        self, records: Sequence[OutgoingRecord], offsets: Mapping[TopicPartition, int]
    ) -> None:
        if not self._transactional:
            raise BusError("publish_and_commit needs a consumer with a transactional_id")
        self._check_assigned(offsets)  # refuse before publishing anything: all or nothing
        for record in records:
            self._bus._check(record)
        bus = self._bus
        if bus.memory_only:
            bus._append_all(records)
            bus._commit(self.group, offsets, {})
        else:
            # One write: its records count on disk only once the state naming its
            # transaction is durable, and that state holds its commit.
            staged = bus._stage_all(records)
            bus._last_txn_handed_out = max(bus._last_txn_handed_out, bus._last_txn) + 1
            write = PendingWrite(
                staged,
                txn=bus._last_txn_handed_out,
                group=self.group,
                offsets=dict(offsets),
                size_bytes=sum(record_bytes(r) for r in staged),
            )
            await bus._submit(write)
        await bus._notify()

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
