"""The writer's steps after decode: accumulate per partition -> insert -> commit.

One batch per partition, so a batch covers one contiguous offset range and its
deduplication token `table:topic:partition:first-last` names it exactly. Before the
insert, the range is written into the partition's commit metadata (an intent, at the
batch's first offset); after the insert, the next offset is committed. A writer that
dies in between leaves the intent behind, and whoever owns the partition next re-forms
exactly that batch, whose token ClickHouse has seen: nothing is lost or stored twice.

ClickHouse down: the batch is kept, its partition paused, and the insert retried with
backoff while the loop keeps polling (so the consumer stays in its group); it resumes
when the insert succeeds. Nothing is skipped.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from exos_common.bus import BusRecord, Consumer, TopicPartition
from exos_common.logs import get_logger
from exos_common.store import Store, StoreError
from exos_common.stream.backoff import Backoff
from exos_common.stream.bounds import BatchBounds, BatchSize
from exos_common.stream.loop import Decoded
from exos_common.stream.metrics import ConsumerMetrics
from exos_writer.sinks import SINKS, TableSink

log = get_logger("exos.writer")

INTENT_PREFIX = "exos-batch:"
Reject = Callable[[BusRecord, Exception], Awaitable[None]]


def intent(first: int, last: int) -> str:
    return f"{INTENT_PREFIX}{first}-{last}"


def parse_intent(metadata: str) -> tuple[int, int] | None:
    if not metadata.startswith(INTENT_PREFIX):
        return None
    first, _, last = metadata[len(INTENT_PREFIX) :].partition("-")
    try:
        return int(first), int(last)
    except ValueError:
        return None


@dataclass
class PartitionBatch:
    tp: TopicPartition
    sink: TableSink
    rows: list[list[Any]] = field(default_factory=list)
    size: BatchSize = field(default_factory=BatchSize)
    first: int | None = None
    last: int | None = None
    oldest_timestamp_ms: int | None = None
    pin_last: int | None = None  # the range a previous owner announced, to re-form exactly
    intent_committed: bool = False
    sealed: bool = False  # due, being inserted or retried: new records wait in the backlog
    backlog: list[Decoded] = field(default_factory=list)
    retry_at: float | None = None
    backoff: Backoff = field(default_factory=Backoff)
    paused_since: float | None = None
    log_epoch: str = ""

    @property
    def dedup_token(self) -> str:
        where = f"{self.tp.topic}:{self.tp.partition}:{self.first}-{self.last}"
        if self.log_epoch:  # offsets restart with each in-process bus
            where = f"{self.log_epoch}:{where}"
        return f"{self.sink.table}:{where}"

    def reset(self) -> None:
        self.rows, self.size = [], BatchSize()
        self.first = self.last = self.oldest_timestamp_ms = self.pin_last = None
        self.intent_committed = self.sealed = False
        self.retry_at = None
        self.backoff.reset()


class WriterHandler:
    def __init__(
        self,
        consumer: Consumer,
        store: Store,
        bounds: BatchBounds,
        metrics: ConsumerMetrics,
        reject: Reject,
        *,
        insert_timeout_s: float = 60.0,
        backoff_max_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        log_epoch: str = "",
    ) -> None:
        self._log_epoch = log_epoch
        self._consumer = consumer
        self._store = store
        self._bounds = bounds
        self._metrics = metrics
        self._reject = reject
        self._insert_timeout_s = insert_timeout_s
        self._backoff_max_s = backoff_max_s
        self._clock = clock
        self._batches: dict[TopicPartition, PartitionBatch] = {}

    async def handle(self, batch: Sequence[Decoded]) -> None:
        for decoded in batch:
            pb = await self._batch_for(decoded.record.topic_partition)
            if pb.sealed:
                pb.backlog.append(decoded)
                continue
            await self._add(pb, decoded)

    async def _batch_for(self, tp: TopicPartition) -> PartitionBatch:
        pb = self._batches.get(tp)
        if pb is None:
            pb = PartitionBatch(tp, SINKS[tp.topic], log_epoch=self._log_epoch)
            pb.backoff.maximum_s = self._backoff_max_s
            await self._load_intent(pb)
            self._batches[tp] = pb
        return pb

    async def _load_intent(self, pb: PartitionBatch) -> None:
        announced = parse_intent(await self._consumer.committed_metadata(pb.tp))
        if announced is not None and await self._consumer.committed(pb.tp) == announced[0]:
            pb.pin_last, pb.intent_committed = announced[1], True
            log.info(
                "batch_pinned",
                topic=pb.tp.topic,
                partition=pb.tp.partition,
                first=announced[0],
                last=announced[1],
            )

    async def _add(self, pb: PartitionBatch, decoded: Decoded) -> None:
        record = decoded.record
        if pb.first is None:
            pb.first = record.offset
        pb.last = record.offset
        if pb.oldest_timestamp_ms is None:
            pb.oldest_timestamp_ms = record.timestamp_ms
        pb.size.add(len(record.value), self._clock())
        if decoded.message is not None:
            try:
                pb.rows.append(pb.sink.row(decoded.message))
            except (TypeError, ValueError) as exc:
                await self._reject(record, exc)
        if self._due(pb):
            pb.sealed = True

    def _due(self, pb: PartitionBatch) -> bool:
        if pb.pin_last is not None:
            return pb.last is not None and pb.last >= pb.pin_last
        return pb.size.full(self._bounds, self._clock())

    async def tick(self) -> None:
        now = self._clock()
        for pb in list(self._batches.values()):
            if not pb.sealed and pb.first is not None and self._due(pb):
                pb.sealed = True
            if pb.sealed and (pb.retry_at is None or now >= pb.retry_at):
                await self._flush(pb)

    async def _flush(self, pb: PartitionBatch) -> bool:
        """Insert the batch and commit past it; on an outage, pause and schedule a retry."""
        assert pb.first is not None and pb.last is not None
        started = self._clock()
        try:
            if not pb.intent_committed:
                await self._consumer.commit({pb.tp: pb.first}, {pb.tp: intent(pb.first, pb.last)})
                pb.intent_committed = True
            if pb.rows:
                await asyncio.wait_for(
                    asyncio.to_thread(
                        self._store.insert,
                        pb.sink.table,
                        pb.rows,
                        pb.sink.columns,
                        dedup_token=pb.dedup_token,
                    ),
                    self._insert_timeout_s,
                )
            await self._consumer.commit({pb.tp: pb.last + 1})
        except (StoreError, TimeoutError, OSError) as exc:
            self._retry_later(pb, exc)
            return False
        self._observe(pb, started)
        await self._reopen(pb)
        return True

    def _retry_later(self, pb: PartitionBatch, exc: BaseException) -> None:
        self._metrics.sink_errors.labels(pb.sink.table, str(pb.backoff.attempt + 1)).inc()
        delay = pb.backoff.next_delay()
        pb.retry_at = self._clock() + delay
        if pb.paused_since is None:
            self._consumer.pause([pb.tp])
            pb.paused_since = self._clock()
            self._metrics.paused_partitions.inc()
        log.warning(
            "insert_failed_retrying",
            table=pb.sink.table,
            topic=pb.tp.topic,
            partition=pb.tp.partition,
            retry_in_s=round(delay, 2),
            error=str(exc)[:300],
        )

    def _observe(self, pb: PartitionBatch, started: float) -> None:
        now = self._clock()
        table = pb.sink.table
        self._metrics.batch_rows.labels(table).observe(len(pb.rows))
        self._metrics.batch_bytes.labels(table).observe(pb.size.bytes)
        self._metrics.batch_age.labels(table).observe(pb.size.age(now))
        self._metrics.sink_duration.labels(table).observe(now - started)
        self._metrics.commits.labels(pb.tp.topic).inc()
        if pb.oldest_timestamp_ms is not None:
            latency = time.time() - pb.oldest_timestamp_ms / 1000
            self._metrics.latency.labels(pb.tp.topic).observe(max(latency, 0.0))

    async def _reopen(self, pb: PartitionBatch) -> None:
        if pb.paused_since is not None:
            self._metrics.paused_seconds.inc(self._clock() - pb.paused_since)
            self._metrics.paused_partitions.dec()
            self._consumer.resume([pb.tp])
            pb.paused_since = None
        backlog, pb.backlog = pb.backlog, []
        pb.reset()
        for decoded in backlog:
            if pb.sealed:
                pb.backlog.append(decoded)
            else:
                await self._add(pb, decoded)

    async def partitions_assigned(self, partitions: set[TopicPartition]) -> None:
        """Nothing to restore: a partition's intent is read with its first record."""

    async def partitions_revoked(self, partitions: set[TopicPartition]) -> None:
        """Flush what we hold for partitions that move (one attempt); what fails stays
        uncommitted and its intent lets the next owner re-form the same batch."""
        for tp in partitions:
            pb = self._batches.pop(tp, None)
            if pb is None:
                continue
            while pb.first is not None and pb.retry_at is None and await self._flush(pb):
                pass
            if pb.paused_since is not None:
                self._metrics.paused_partitions.dec()

    async def drain(self) -> None:
        for pb in list(self._batches.values()):
            while pb.first is not None and await self._flush(pb):
                pass
