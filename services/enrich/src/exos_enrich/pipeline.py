"""Enrich's steps after decode: enrich each record in session order, then publish the
results, the new state of every session touched, and the input offsets in one Kafka
transaction (exactly once), per fetch.

Spans and logs go out enriched on `spans.enriched` / `logs.enriched`, already as rows
of their table (`exos_common.table_payload`): one message per session and table per
fetch, which the writer inserts as it is. Replay chunks only feed dead-click detection
(the writer reads `replay.raw` itself). Signals that settle by
wall time (a rage burst that stopped, a dead click whose window passed) go out on a tick.

Session state survives a rebalance the way Kafka Streams' state stores do: each
transaction also writes a snapshot of every session it changed to the compacted topic
`enrich.state`, keyed by session id, so it is co-partitioned with the inputs and always
consistent with the committed offsets. A replica given partition p first loads the
snapshots of partition p, then continues exactly where the previous owner committed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from exos_common.bus import Bus, Consumer, OutgoingRecord, TopicPartition
from exos_common.logs import get_logger
from exos_common.messages import SpanRecord
from exos_common.stream.loop import Decoded
from exos_common.stream.metrics import ConsumerMetrics
from exos_common.table_payload import TablePayload, encode_line
from exos_common.topics import Topic
from exos_enrich.enricher import EnrichedRecord, SessionEnricher

log = get_logger("exos.enrich")
STATE_TOPIC = str(Topic.ENRICH_STATE)


# A session's payload is cut at about this size: far below the topics' message limit
# (enriched rows are larger than the raw records they come from), and small enough that
# a bisection of one record stays cheap. A single larger row still travels alone.
PAYLOAD_MAX_BYTES = 1 << 20


def to_outgoing(
    records: Iterable[EnrichedRecord], max_bytes: int = PAYLOAD_MAX_BYTES
) -> list[OutgoingRecord]:
    """One payload message per session and table (more when it would pass `max_bytes`),
    sessions in the order they first appear, each session's rows in their order; keyed
    by session as the inputs are."""
    lines: dict[tuple[str, str], list[bytes]] = {}
    for record in records:
        table = "otel_traces" if isinstance(record, SpanRecord) else "otel_logs"
        lines.setdefault((table, record.session_id), []).append(encode_line(table, record))
    out = []
    for (table, session_id), rows in lines.items():
        for chunk in _cut(rows, max_bytes):
            payload = TablePayload(table, len(chunk), b"".join(chunk))
            out.append(
                OutgoingRecord(_TOPICS[table], payload.body, session_id.encode(), payload.headers())
            )
    return out


_TOPICS = {"otel_traces": str(Topic.SPANS_ENRICHED), "otel_logs": str(Topic.LOGS_ENRICHED)}


def _cut(rows: list[bytes], max_bytes: int) -> Iterator[list[bytes]]:
    chunk: list[bytes] = []
    size = 0
    for row in rows:
        if chunk and size + len(row) > max_bytes:
            yield chunk
            chunk, size = [], 0
        chunk.append(row)
        size += len(row)
    if chunk:
        yield chunk


class EnrichHandler:
    def __init__(
        self,
        consumer: Consumer,
        bus: Bus,
        enricher: SessionEnricher,
        metrics: ConsumerMetrics,
    ) -> None:
        self._consumer = consumer
        self._bus = bus
        self._enricher = enricher
        self._metrics = metrics
        # Which partition each session's state came from, to drop it when that moves.
        self._partition_of: dict[str, int] = {}

    async def handle(self, batch: Sequence[Decoded]) -> None:
        enriched: list[EnrichedRecord] = []
        offsets: dict[TopicPartition, int] = {}
        for decoded in batch:
            records = decoded.records  # one session's batch, or one record
            if records:
                partition = decoded.record.partition
                for session in {record.session_id for record in records}:
                    self._partition_of[session] = partition
                enriched += self._enricher.process_batch(records)
            offsets[decoded.record.topic_partition] = decoded.record.next_offset
        enriched += self._enricher.flush_expired()
        outputs = to_outgoing(enriched)
        await self._consumer.publish_and_commit(outputs + self._state_changes(), offsets)
        for tp in offsets:
            self._metrics.commits.labels(tp.topic).inc()

    async def tick(self) -> None:
        settled = to_outgoing(self._enricher.flush_expired())
        changes = self._state_changes()
        if settled or changes:
            await self._consumer.publish_and_commit(settled + changes, {})

    def _state_changes(self) -> list[OutgoingRecord]:
        """A snapshot per session changed since the last transaction; an empty value
        (a tombstone for compaction) for one that ended."""
        return [
            OutgoingRecord(STATE_TOPIC, self._enricher.snapshot(session) or b"", session.encode())
            for session in sorted(self._enricher.take_touched())
        ]

    async def partitions_assigned(self, partitions: set[TopicPartition]) -> None:
        restored = 0
        for partition in sorted({tp.partition for tp in partitions}):
            async for batch in self._bus.read_partition(STATE_TOPIC, partition):
                for record in batch:
                    restored += self._restore(record.key, record.value, partition)
        if restored:
            log.info("sessions_restored", sessions=restored, partitions=sorted(partitions))

    def _restore(self, key: bytes | None, value: bytes, partition: int) -> int:
        if key is None:
            return 0
        session = key.decode()
        if not value:  # tombstone: the session ended
            self._enricher.forget([session])
            self._partition_of.pop(session, None)
            return 0
        if self._enricher.restore(value):
            self._partition_of[session] = partition
            return 1
        return 0

    async def partitions_revoked(self, partitions: set[TopicPartition]) -> None:
        # Everything fetched is already published and committed (one transaction per
        # fetch); only the session state of partitions that move is dropped.
        moved = {tp.partition for tp in partitions}
        self._enricher.forget_if(lambda session: self._partition_of.get(session) in moved)
        for session in [s for s, p in self._partition_of.items() if p in moved]:
            del self._partition_of[session]

    async def drain(self) -> None:
        await self.tick()


ENRICH_INPUTS = (str(Topic.SPANS_RAW), str(Topic.LOGS_RAW), str(Topic.REPLAY_RAW))
