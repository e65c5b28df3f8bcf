"""The fetch loop every consumer service runs: fetch -> decode -> dead-letter poison ->
hand to the handler -> tick. The handler owns batching, its sink and the commit, so the
commit is always the last step of its chain and nothing commits on its own
(docs/adr/0003-own-stream-loop-on-aiokafka.md).

Lifecycle: `start` joins the group and runs the loop as a task; `stop` stops fetching,
lets the handler flush and commit (`drain`), then leaves the group, within a grace
period. An exception escaping the handler stops the loop without committing: the
service reports itself dead and the uncommitted records are delivered again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

from exos_common.bus import (
    Bus,
    BusRecord,
    Consumer,
    MembershipLost,
    TopicPartition,
    ensure_pipeline_topics,
)
from exos_common.codec import PipelineRecord, PoisonRecord, decode
from exos_common.logs import get_logger
from exos_common.messages import RecordBatch
from exos_common.settings import KafkaSettings
from exos_common.stream.deadletter import DeadLetterSink
from exos_common.stream.metrics import ConsumerMetrics
from exos_common.table_payload import TablePayload, decode_payload, is_payload

log = get_logger("exos.stream")

LAG_REFRESH_S = 5.0


@dataclass(slots=True)
class Decoded:
    """A fetched record and what it holds: one `message` (a version-1 record) or a
    `batch`; both None when it was dead-lettered (the handler still owns its offset)."""

    record: BusRecord
    message: PipelineRecord | TablePayload | None
    batch: RecordBatch | None = None

    @property
    def records(self) -> Sequence[PipelineRecord]:
        """The pipeline records it holds (none for a table payload)."""
        if self.batch is not None:
            return self.batch.records
        if self.message is None or isinstance(self.message, TablePayload):
            return ()
        return (self.message,)


class StreamHandler(Protocol):
    async def handle(self, batch: Sequence[Decoded]) -> None: ...

    async def tick(self) -> None:
        """Called after every fetch, also an empty one: flush what is due, retry."""
        ...

    async def partitions_assigned(self, partitions: set[TopicPartition]) -> None:
        """Before the first record of these partitions is handed over (restore state)."""
        ...

    async def partitions_revoked(self, partitions: set[TopicPartition]) -> None: ...

    async def drain(self) -> None:
        """Shutdown: flush and commit everything held."""
        ...


@dataclass(frozen=True, slots=True)
class LoopConfig:
    topics: tuple[str, ...]
    group_id: str
    fetch_max_records: int = 1000
    fetch_timeout_s: float = 0.2
    transactional_id: str | None = None
    # Whether the handler takes `Decoded.batch`; a consumer that reads single records
    # dead-letters a batch instead of dropping it unread.
    accepts_batches: bool = False
    # Take `rows/1` table payloads (the writer); elsewhere they are poison like any
    # schema the consumer does not know.
    decode_payloads: bool = False


class ConsumerLoop:
    def __init__(
        self,
        bus: Bus,
        config: LoopConfig,
        handler_factory: Callable[[Consumer], StreamHandler],
        metrics: ConsumerMetrics,
    ) -> None:
        self._bus = bus
        self._config = config
        self._handler_factory = handler_factory
        self._metrics = metrics
        self._dead_letters = DeadLetterSink(bus, config.group_id, metrics)
        self._consumer: Consumer | None = None
        self._handler: StreamHandler | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        # Held while a fetched batch is handled (published, inserted, committed) and
        # while a rebalance callback runs: Kafka's client runs the rebalance in its own
        # task, and a revoke that let the group re-join while a transaction was still
        # committing made the next owner start from the offsets before it (the batch
        # was produced twice; seen with two enrich replicas and one killed).
        self._processing = asyncio.Lock()
        # Revoke callbacks count their start and end, and each revoked partition keeps
        # the count: a record a fetch returned before its partition's revoke started or
        # ended, and handled after, belongs to an assignment that is gone (the partition
        # is another member's, or ours again from the committed offset, where the
        # consumer reads it again), so it is dropped, never handled. Only revokes: a
        # record of a partition just assigned is already read from its new position.
        self._rebalances = 0
        self._revoked_at: dict[TopicPartition, int] = {}
        self.last_progress = time.monotonic()
        self.failure: BaseException | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        self._consumer = await self._bus.consumer(
            list(self._config.topics),
            self._config.group_id,
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            transactional_id=self._config.transactional_id,
        )
        self._handler = self._handler_factory(self._consumer)
        # The first assignment came while the consumer was being created.
        await self._handler.partitions_assigned(self._consumer.assignment())
        self._task = asyncio.create_task(self._run(), name=f"consume-{self._config.group_id}")

    async def _on_assign(self, partitions: set[TopicPartition]) -> None:
        async with self._processing:
            if self._handler is not None and self.failure is None:
                await self._handler.partitions_assigned(partitions)

    async def _on_revoke(self, partitions: set[TopicPartition]) -> None:
        # The first assignment happens while the consumer is created, before the handler;
        # after a failure the handler's state is suspect: leave it all uncommitted.
        self._revoking(partitions)
        async with self._processing:
            try:
                if self._handler is not None and self.failure is None:
                    await self._handler.partitions_revoked(partitions)
            finally:
                self._revoking(partitions)

    def _revoking(self, partitions: set[TopicPartition]) -> None:
        self._rebalances += 1
        self._revoked_at |= dict.fromkeys(partitions, self._rebalances)

    def _current(self, records: list[BusRecord], fetched_at: int) -> list[BusRecord]:
        """The records whose partition no revoke touched since the fetch returned."""
        if fetched_at == self._rebalances:
            return records
        current = [r for r in records if self._revoked_at.get(r.topic_partition, 0) <= fetched_at]
        if len(current) < len(records):
            log.info(
                "stale_fetch_dropped",
                group=self._config.group_id,
                records=len(records) - len(current),
            )
        return current

    async def _run(self) -> None:
        assert self._consumer is not None and self._handler is not None
        next_lag = 0.0
        try:
            while not self._stopping.is_set():
                records = await self._consumer.fetch(
                    self._config.fetch_max_records, self._config.fetch_timeout_s
                )
                # What a fetch returns belongs to the assignment of that moment (the
                # adapters see to it); from here on a revoke can make it stale.
                rebalances = self._rebalances
                async with self._processing:
                    records = self._current(records, rebalances)
                    try:
                        if records:
                            await self._handler.handle(await self._decode(records))
                        await self._handler.tick()
                    except MembershipLost as exc:
                        # Nothing of it was committed. The rejoin that follows revokes
                        # (the handler drops its state) and assigns again from the
                        # committed offsets, so these records are not lost.
                        self._metrics.membership_lost.inc()
                        log.warning("membership_lost", group=self._config.group_id, reason=str(exc))
                self.last_progress = time.monotonic()
                if self.last_progress >= next_lag:
                    await self._refresh_lag()
                    next_lag = self.last_progress + LAG_REFRESH_S
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            self.failure = exc
            log.exception("consumer_loop_failed", group=self._config.group_id)
            raise

    async def _decode(self, records: list[BusRecord]) -> list[Decoded]:
        decoded = []
        for record in records:
            self._metrics.records.labels(record.topic).inc()
            try:
                decoded.append(self._decode_one(record))
            except PoisonRecord as exc:
                await self._dead_letters.send(record, exc)
                decoded.append(Decoded(record, None))
        return decoded

    def _decode_one(self, record: BusRecord) -> Decoded:
        if self._config.decode_payloads and is_payload(record.headers):
            return Decoded(record, decode_payload(record.value, record.headers))
        message = decode(record.value, record.headers)
        if not isinstance(message, RecordBatch):
            return Decoded(record, message)
        if not self._config.accepts_batches:
            raise PoisonRecord(f"{self._config.group_id} reads single records, not batches")
        return Decoded(record, None, message)

    async def _refresh_lag(self) -> None:
        assert self._consumer is not None
        for tp, lag in (await self._consumer.lag()).items():
            self._metrics.lag.labels(tp.topic, str(tp.partition)).set(lag)

    async def wait_caught_up(self, timeout_s: float) -> bool:
        """Wait until every assigned partition is committed up to its end (nothing
        fetched or waiting is left): how a process drains before a clean stop."""
        deadline = time.monotonic() + timeout_s
        while self.running and self._consumer is not None and time.monotonic() < deadline:
            if all(lag == 0 for lag in (await self._consumer.lag()).values()):
                return True
            await asyncio.sleep(0.1)
        return False

    async def stop(self, grace_s: float = 25.0) -> None:
        """Stop fetching, flush and commit, leave the group (within `grace_s`)."""
        self._stopping.set()
        if self._task is not None:
            try:
                async with asyncio.timeout(grace_s):
                    await asyncio.gather(self._task, return_exceptions=True)
            except TimeoutError:
                self._task.cancel()
        try:
            if self._handler is not None and self.failure is None:
                async with asyncio.timeout(grace_s):
                    await self._handler.drain()
        except TimeoutError:
            log.error("drain_timed_out", group=self._config.group_id)
        finally:
            if self._consumer is not None:
                await self._consumer.close()


@asynccontextmanager
async def consuming(
    loop: ConsumerLoop, bus: Bus, *, owns_bus: bool, settings: KafkaSettings
) -> AsyncIterator[None]:
    """A consumer service's lifespan: start the bus it owns (creating the pipeline
    topics), run the loop, and on exit stop the loop (flush, commit) before the bus."""
    if owns_bus:
        await bus.start()
        await ensure_pipeline_topics(bus, settings)
    await loop.start()
    try:
        yield
    finally:
        await loop.stop()
        if owns_bus:
            await bus.stop()
