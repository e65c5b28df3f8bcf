"""The in-memory state of the in-process bus: partitions, topics, groups, and writes on
their way to disk."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiokafka.partitioner import murmur2

from exos_common.bus.port import BusRecord, OutgoingRecord, TopicPartition

if TYPE_CHECKING:
    from exos_common.bus.memory_consumer import InProcessConsumer


def partition_for(key: bytes | None, partitions: int, round_robin: itertools.count[int]) -> int:
    """Kafka's default partitioner: murmur2 of the key, positive, modulo partitions."""
    if key is None:
        return next(round_robin) % partitions
    return int(murmur2(key) & 0x7FFFFFFF) % partitions


def record_bytes(record: BusRecord | OutgoingRecord) -> int:
    headers = sum(len(name) + len(value) for name, value in record.headers)
    return len(record.value) + len(record.key or b"") + headers


@dataclass
class MemoryPartition:
    """One partition: `records[0]` has offset `base`. Records every group consuming the
    topic has committed are dropped, so memory holds only what is still to be done.
    `reserved` is the next offset to hand out: ahead of `end` while a write is on its
    way to disk."""

    records: list[BusRecord] = field(default_factory=list)
    base: int = 0
    reserved: int = 0
    size_bytes: int = 0

    @property
    def end(self) -> int:
        return self.base + len(self.records)

    def append(self, record: BusRecord) -> None:
        self.records.append(record)
        self.size_bytes += record_bytes(record)

    def since(self, offset: int, limit: int) -> list[BusRecord]:
        start = max(offset - self.base, 0)
        return self.records[start : start + limit]

    def drop_before(self, offset: int) -> None:
        if offset > self.base:
            dropped = self.records[: offset - self.base]
            self.size_bytes -= sum(record_bytes(r) for r in dropped)
            del self.records[: offset - self.base]
            self.base = offset

    def older_than(self, timestamp_ms: int) -> int:
        """The offset of the first record at or after `timestamp_ms` (publish times only
        grow within a partition, so everything before it is older)."""
        count = 0
        for record in self.records:
            if record.timestamp_ms >= timestamp_ms:
                break
            count += 1
        return self.base + count


@dataclass
class MemoryTopic:
    partitions: list[MemoryPartition]
    round_robin: itertools.count[int] = field(default_factory=itertools.count)
    retention_ms: int | None = None  # applies while no group reads the topic


@dataclass
class MemoryGroup:
    members: list[InProcessConsumer] = field(default_factory=list)
    committed: dict[TopicPartition, int] = field(default_factory=dict)
    metadata: dict[TopicPartition, str] = field(default_factory=dict)
    topics: set[str] = field(default_factory=set)  # every topic the group ever read


@dataclass
class PendingWrite:
    """One acknowledged-together unit: records (of one transaction when `txn`), and/or a
    group's commit."""

    records: list[BusRecord]
    txn: int = 0
    group: MemoryGroup | None = None
    offsets: Mapping[TopicPartition, int] = field(default_factory=dict)
    metadata: Mapping[TopicPartition, str] = field(default_factory=dict)
    size_bytes: int = 0
