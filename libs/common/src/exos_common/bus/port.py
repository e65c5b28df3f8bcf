"""The bus port: what the services need from a message bus, and nothing more.

Two adapters implement it with the same semantics (one contract test suite runs
against both): Kafka in production, and an in-process bus for the all-in-one mode.

Semantics, the same on both:
- `publish` returns only when the bus has acknowledged the record (Kafka: acks=all on
  an idempotent producer), with the partition and offset it got.
- A keyed record goes to partition `murmur2(key) % partitions` (Kafka's default
  partitioner), so every record of one key is in one partition, in publish order.
- Consumers of one group share the partitions of their topics; each record reaches one
  member of each group. A consumer pulls batches with `fetch` and commits explicit
  next-offsets per partition with `commit`; nothing is committed automatically, so
  whatever was fetched but not committed is delivered again after a restart or a
  rebalance (at-least-once).
- `pause`/`resume` stop and restart fetching from partitions without leaving the group.
- When partitions are taken away (rebalance, close), the consumer calls `on_revoke`
  first, so the owner can flush and commit what it holds for them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from exos_common.topics import TopicSpec

Headers = list[tuple[str, bytes]]


@dataclass(frozen=True, slots=True, order=True)
class TopicPartition:
    topic: str
    partition: int


@dataclass(slots=True)
class OutgoingRecord:
    topic: str
    value: bytes
    key: bytes | None = None
    headers: Headers = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Delivery:
    """Where an acknowledged record was stored."""

    topic: str
    partition: int
    offset: int


@dataclass(slots=True)
class BusRecord:
    """A record as a consumer receives it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: Headers
    timestamp_ms: int

    @property
    def topic_partition(self) -> TopicPartition:
        return TopicPartition(self.topic, self.partition)

    @property
    def next_offset(self) -> int:
        """The offset to commit once this record is done (Kafka commits the next one)."""
        return self.offset + 1


PartitionsCallback = Callable[[set[TopicPartition]], Awaitable[None]]


class SingleRecordPublish:
    """`publish` for adapters that implement `publish_many`: one code path for both."""

    async def publish_many(self, records: Sequence[OutgoingRecord]) -> list[Delivery]:
        raise NotImplementedError

    async def publish(
        self,
        topic: str,
        value: bytes,
        *,
        key: bytes | None = None,
        headers: Headers | None = None,
    ) -> Delivery:
        return (await self.publish_many([OutgoingRecord(topic, value, key, headers or [])]))[0]


class Consumer(Protocol):
    async def fetch(self, max_records: int, timeout_s: float) -> list[BusRecord]:
        """Up to `max_records` records from assigned, unpaused partitions; waits at most
        `timeout_s` for the first one and returns [] when none came."""
        ...

    async def commit(
        self,
        offsets: Mapping[TopicPartition, int],
        metadata: Mapping[TopicPartition, str] | None = None,
    ) -> None:
        """Commit next-offsets (`BusRecord.next_offset`) per partition for the group, with
        an optional short metadata string per partition (read back by `committed_metadata`)."""
        ...

    async def committed(self, partition: TopicPartition) -> int | None: ...

    async def committed_metadata(self, partition: TopicPartition) -> str:
        """The metadata of the group's last commit on `partition` ("" when none)."""
        ...

    async def publish_and_commit(
        self, records: Sequence[OutgoingRecord], offsets: Mapping[TopicPartition, int]
    ) -> None:
        """Publish `records` and commit `offsets` atomically: after a crash either both
        happened or neither did (Kafka: one transaction). Only for consumers created
        with a `transactional_id`."""
        ...

    def assignment(self) -> set[TopicPartition]: ...

    def pause(self, partitions: Collection[TopicPartition]) -> None: ...

    def resume(self, partitions: Collection[TopicPartition]) -> None: ...

    def paused(self) -> set[TopicPartition]: ...

    async def lag(self) -> dict[TopicPartition, int]:
        """Records per assigned partition between the group's commit and the log end."""
        ...

    async def close(self) -> None:
        """Leave the group (calling `on_revoke` first). Does not commit by itself."""
        ...


class Bus(Protocol):
    # Names this incarnation of the topics' logs: an offset identifies a record only
    # within it. Kafka's logs outlive every process (""). The in-process bus names its
    # folder once, when it creates it, and keeps the name across restarts (offsets go on
    # where they were, so a batch retried after a crash keeps its dedup token); without
    # a folder it starts at offset 0 in each process, so it names itself anew (a
    # writer's dedup token must not match a batch of an earlier run).
    log_epoch: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def ping(self) -> bool:
        """True when the bus answers (readiness)."""
        ...

    async def ensure_topics(self, specs: Sequence[TopicSpec]) -> None:
        """Create missing topics; existing ones are left as they are."""
        ...

    async def publish(
        self,
        topic: str,
        value: bytes,
        *,
        key: bytes | None = None,
        headers: Headers | None = None,
    ) -> Delivery: ...

    async def publish_many(self, records: Sequence[OutgoingRecord]) -> list[Delivery]:
        """Publish several records at once; returns when all are acknowledged (raises
        if any was not, after which the caller must treat the whole call as failed)."""
        ...

    def read_partition(self, topic: str, partition: int) -> AsyncIterator[list[BusRecord]]:
        """Every committed record of one partition, oldest first, in batches, up to the
        end the partition had when reading started; outside any consumer group (for
        restoring state from a compacted changelog topic)."""
        ...

    async def consumer(
        self,
        topics: Sequence[str],
        group_id: str,
        *,
        on_assign: PartitionsCallback | None = None,
        on_revoke: PartitionsCallback | None = None,
        transactional_id: str | None = None,
    ) -> Consumer:
        """A started consumer that has joined `group_id` (and reads from the earliest
        offset where the group has no commit yet). Partitions are assigned per topic in
        ranges, so consumers of topics with equal partition counts get the same partition
        numbers of each (co-partitioning: one session's spans and replay meet in one
        consumer). With `transactional_id`, `publish_and_commit` is available; the id
        must stay the same across restarts of one replica, so a restarted replica fences
        its predecessor."""
        ...
