"""The writer's stream handler: per partition, accumulate -> announce -> insert ->
commit, with the steps in exos_writer.steps and each batch's state in its BatchState.

One batch per partition, so a batch covers one contiguous offset range and its token
names it exactly. Before the insert the range is announced in the partition's commit
metadata; after the insert (and the quarantine of what ClickHouse refused) the next
offset is committed. ClickHouse down: the batch is kept, its partition paused, and the
insert retried with backoff while the loop keeps polling (the consumer stays in its
group); it resumes once the insert succeeds. Nothing is skipped but refused records,
and those are kept in the quarantine table and on the dead-letter topic.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from prometheus_client import CollectorRegistry

from exos_common.bus import CommitFailed, Consumer, TopicPartition
from exos_common.logs import get_logger
from exos_common.store import Store
from exos_common.stream.bounds import BatchBounds
from exos_common.stream.loop import Decoded
from exos_common.stream.metrics import ConsumerMetrics
from exos_writer.batch import BatchState, PartitionBatch
from exos_writer.metrics import WriterMetrics
from exos_writer.sinks import SINKS
from exos_writer.steps.accumulate import Accumulator, Reject
from exos_writer.steps.announce import Announcer
from exos_writer.steps.commit import Committer
from exos_writer.steps.insert import UNKNOWN_ERROR_RETRIES, Inserter
from exos_writer.steps.quarantine import Quarantine, RetryLater
from exos_writer.steps.restore import Restorer
from exos_writer.watchdog import ProgressWatchdog

log = get_logger("exos.writer")

DEFAULT_STALL_S = 120.0


class WriterHandler:
    def __init__(
        self,
        consumer: Consumer,
        store: Store,
        bounds: BatchBounds,
        metrics: ConsumerMetrics,
        reject: Reject,
        *,
        writer_metrics: WriterMetrics | None = None,
        watchdog: ProgressWatchdog | None = None,
        insert_timeout_s: float = 60.0,
        backoff_max_s: float = 30.0,
        unknown_error_retries: int = UNKNOWN_ERROR_RETRIES,
        clock: Callable[[], float] = time.monotonic,
        log_epoch: str = "",
    ) -> None:
        self._metrics = metrics
        self._clock = clock
        self._log_epoch = log_epoch
        self._backoff_max_s = backoff_max_s
        self._pause, self._resume = consumer.pause, consumer.resume
        self.writer_metrics = writer_metrics or WriterMetrics(CollectorRegistry())
        self.watchdog = watchdog or ProgressWatchdog(DEFAULT_STALL_S, clock)
        self._restorer = Restorer(consumer.committed, consumer.committed_metadata)
        self._accumulator = Accumulator(bounds, reject, clock)
        self._announcer = Announcer(consumer.commit)
        quarantine = Quarantine(
            store.insert, reject, self.writer_metrics, timeout_s=insert_timeout_s
        )
        self._inserter = Inserter(
            store.insert_raw,
            quarantine,
            self.writer_metrics,
            timeout_s=insert_timeout_s,
            unknown_error_retries=unknown_error_retries,
            store_answers=store.ping,
        )
        self._committer = Committer(consumer.commit)
        self._batches: dict[TopicPartition, PartitionBatch] = {}
        # Per partition, the offset the next record must have at least: the group's
        # commit when the partition was restored, then past the last record taken. A
        # record below it is already held or stored; taking it again would put it into
        # a second batch with another token.
        self._next_offsets: dict[TopicPartition, int] = {}
        self._committed = consumer.committed
        # Partitions the group has a commit on (found at restore, or made since).
        self._have_commit: set[TopicPartition] = set()

    async def handle(self, batch: Sequence[Decoded]) -> None:
        for decoded in batch:
            tp = decoded.record.topic_partition
            partition_batch = await self._batch_for(tp)
            if decoded.record.offset < self._next_offsets.get(tp, 0):
                if not await self._offsets_restarted(tp):
                    log.warning(
                        "record_below_position_dropped",
                        topic=tp.topic,
                        partition=tp.partition,
                        offset=decoded.record.offset,
                        expected=self._next_offsets[tp],
                    )
                    continue
                partition_batch = await self._batch_for(tp)
            self._next_offsets[tp] = decoded.record.next_offset
            self.watchdog.has_work(tp)
            await self._accumulator.add(partition_batch, decoded)

    async def _offsets_restarted(self, tp: TopicPartition) -> bool:
        """Offsets went backwards: a stale delivery, or the topic was deleted and
        recreated under this writer before its metadata refresh showed it (the consumer
        fell back to the new topic's start). Kafka drops a deleted topic's commits, so a
        partition that had one and has none now is a new incarnation: start it anew. What
        was held for the old topic cannot be committed anymore; it went with the topic."""
        if tp not in self._have_commit or await self._committed(tp) is not None:
            return False
        log.warning("partition_offsets_restarted", topic=tp.topic, partition=tp.partition)
        self._forget(tp)
        return True

    async def _batch_for(self, tp: TopicPartition) -> PartitionBatch:
        batch = self._batches.get(tp)
        if batch is None:
            restored = await self._restorer.restore(tp)
            if restored.committed is not None:
                self._next_offsets[tp] = restored.committed
                self._have_commit.add(tp)
            batch = PartitionBatch(tp, SINKS[tp.topic], restored.incarnation, self._log_epoch)
            batch.backoff.maximum_s = self._backoff_max_s
            if restored.pinned is not None:
                first, batch.pin_last, batch.pin_incarnation = restored.pinned
                log.info(
                    "batch_pinned",
                    topic=tp.topic,
                    partition=tp.partition,
                    first=first,
                    last=batch.pin_last,
                )
            self._batches[tp] = batch
        return batch

    async def tick(self) -> None:
        now = self._clock()
        for batch in list(self._batches.values()):
            self._accumulator.seal_if_due(batch)
            if batch.state is BatchState.BACKING_OFF and now < batch.retry_at:
                continue
            if batch.state is not BatchState.OPEN:
                await self._flush(batch)

    async def _flush(self, batch: PartitionBatch) -> bool:
        """Announce, insert, commit; on a failure a retry can fix, pause and back off.
        A refused commit drops the partition's batch and raises: a batch whose intent
        was refused is never inserted, and the next owner (maybe this writer, after it
        rejoined) restores the partition from the group's commit and intent."""
        started = self._clock()
        try:
            if batch.state is BatchState.DUE:
                await self._announcer.announce(batch)
            await self._inserter.insert(batch)
            await self._committer.commit(batch)
            self._have_commit.add(batch.tp)
        except RetryLater as exc:
            self._back_off(batch, exc)
            return False
        except CommitFailed:
            self._forget(batch.tp)
            raise
        self._observe(batch, started)
        self.watchdog.committed(batch.tp, work_left=bool(batch.backlog))
        await self._reopen(batch)
        return True

    def _back_off(self, batch: PartitionBatch, exc: BaseException) -> None:
        self._metrics.sink_errors.labels(batch.sink.table, str(batch.backoff.attempt + 1)).inc()
        delay = batch.backoff.next_delay()
        batch.state, batch.retry_at = BatchState.BACKING_OFF, self._clock() + delay
        if batch.paused_since is None:
            self._pause([batch.tp])
            batch.paused_since = self._clock()
            self._metrics.paused_partitions.inc()
        log.warning(
            "insert_failed_retrying",
            table=batch.sink.table,
            topic=batch.tp.topic,
            partition=batch.tp.partition,
            retry_in_s=round(delay, 2),
            error=str(exc)[:300],
        )

    def _observe(self, batch: PartitionBatch, started: float) -> None:
        now = self._clock()
        table = batch.sink.table
        self._metrics.batch_rows.labels(table).observe(batch.row_count)
        self._metrics.batch_bytes.labels(table).observe(batch.size.bytes)
        self._metrics.batch_age.labels(table).observe(batch.size.age(now))
        self._metrics.sink_duration.labels(table).observe(now - started)
        self._metrics.commits.labels(batch.tp.topic).inc()
        if batch.oldest_timestamp_ms is not None:
            latency = time.time() - batch.oldest_timestamp_ms / 1000
            self._metrics.latency.labels(batch.tp.topic).observe(max(latency, 0.0))

    async def _reopen(self, batch: PartitionBatch) -> None:
        if batch.paused_since is not None:
            self._metrics.paused_seconds.inc(self._clock() - batch.paused_since)
            self._metrics.paused_partitions.dec()
            self._resume([batch.tp])
            batch.paused_since = None
        backlog, batch.backlog = batch.backlog, []
        batch.reset()
        for decoded in backlog:
            await self._accumulator.add(batch, decoded)

    def _forget(self, tp: TopicPartition) -> PartitionBatch | None:
        """Drop everything held for a partition: its batch, backlog and position."""
        batch = self._batches.pop(tp, None)
        self._next_offsets.pop(tp, None)
        self._have_commit.discard(tp)
        self.watchdog.forget(tp)
        if batch is not None and batch.paused_since is not None:
            self._metrics.paused_partitions.dec()
            batch.paused_since = None
        return batch

    async def partitions_assigned(self, partitions: set[TopicPartition]) -> None:
        """Whatever is still held for these partitions came from an earlier assignment
        (a revoke that could not flush, records fetched before the rebalance): drop it.
        The consumer restarts them at the group's commit, and a partition's marks are
        read again with its first record."""
        for tp in partitions:
            if self._forget(tp) is not None:
                log.warning("stale_batch_dropped", topic=tp.topic, partition=tp.partition)

    async def partitions_revoked(self, partitions: set[TopicPartition]) -> None:
        """Flush what we hold for partitions that move (no retry); what fails stays
        uncommitted and its intent lets the next owner re-form the same batch. A refused
        commit (this member was expelled meanwhile) drops that batch uninserted."""
        leaving = [(tp, self._batches.get(tp)) for tp in sorted(partitions)]
        for tp, _ in leaving:
            self._forget(tp)
        for tp, batch in leaving:
            if batch is None:
                continue
            self._accumulator.seal(batch)
            try:
                while batch.state in (
                    BatchState.DUE,
                    BatchState.ANNOUNCED,
                ) and await self._flush(batch):
                    self._accumulator.seal(batch)
            except CommitFailed as exc:
                log.warning(
                    "revoked_batch_dropped",
                    topic=tp.topic,
                    partition=tp.partition,
                    reason=str(exc)[:300],
                )
            if batch.paused_since is not None:  # backed off while leaving
                self._metrics.paused_partitions.dec()
            self.watchdog.forget(tp)  # its progress is the next owner's to watch

    async def drain(self) -> None:
        """Shutdown: one more attempt for everything held, backing-off batches too."""
        for batch in list(self._batches.values()):
            self._accumulator.seal(batch)
            try:
                while batch.state is not BatchState.OPEN and await self._flush(batch):
                    self._accumulator.seal(batch)
            except CommitFailed as exc:  # left for the next owner, uninserted or pinned
                log.warning("drain_batch_dropped", topic=batch.tp.topic, reason=str(exc)[:300])
