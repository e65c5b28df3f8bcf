"""Enrich's steps after decode: enrich each record in session order, then publish the
results and commit the inputs in one Kafka transaction (exactly once), per fetch.

Spans and logs go out enriched on `spans.enriched` / `logs.enriched`; replay chunks only
feed dead-click detection (the writer reads `replay.raw` itself). Signals that settle by
wall time (a rage burst that stopped, a dead click whose window passed) go out on a tick.
"""

from __future__ import annotations

from collections.abc import Sequence

from exos_common.bus import Consumer, OutgoingRecord, TopicPartition
from exos_common.codec import encode
from exos_common.messages import LogRecord, SpanRecord
from exos_common.stream.loop import Decoded
from exos_common.stream.metrics import ConsumerMetrics
from exos_common.topics import Topic
from exos_enrich.enricher import SessionEnricher


def to_outgoing(record: SpanRecord | LogRecord) -> OutgoingRecord:
    topic = Topic.SPANS_ENRICHED if isinstance(record, SpanRecord) else Topic.LOGS_ENRICHED
    value, headers = encode(record)
    return OutgoingRecord(str(topic), value, record.session_id.encode(), headers)


class EnrichHandler:
    def __init__(
        self, consumer: Consumer, enricher: SessionEnricher, metrics: ConsumerMetrics
    ) -> None:
        self._consumer = consumer
        self._enricher = enricher
        self._metrics = metrics
        # Which partition each session's state came from, to drop it when that moves.
        self._partition_of: dict[str, int] = {}

    async def handle(self, batch: Sequence[Decoded]) -> None:
        outputs: list[OutgoingRecord] = []
        offsets: dict[TopicPartition, int] = {}
        for decoded in batch:
            message = decoded.message
            if message is not None:
                self._partition_of[message.session_id] = decoded.record.partition
                outputs += map(to_outgoing, self._enricher.process(message))
            offsets[decoded.record.topic_partition] = decoded.record.next_offset
        outputs += map(to_outgoing, self._enricher.flush_expired())
        await self._consumer.publish_and_commit(outputs, offsets)
        for tp in offsets:
            self._metrics.commits.labels(tp.topic).inc()

    async def tick(self) -> None:
        settled = self._enricher.flush_expired()
        if settled:
            await self._consumer.publish_and_commit(list(map(to_outgoing, settled)), {})

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
