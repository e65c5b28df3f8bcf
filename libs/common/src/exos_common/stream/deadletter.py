"""The dead-letter step: a record no retry can process goes to `exos.deadletter` with
its original key, value and headers plus where it came from and why (headers), before
any batching, so the rest of the stream goes on. An outage is never a dead letter."""

from __future__ import annotations

import time

from exos_common.bus import Bus, BusRecord
from exos_common.codec import dead_letter_headers
from exos_common.logs import get_logger
from exos_common.messages import DeadLetter
from exos_common.stream.metrics import ConsumerMetrics
from exos_common.topics import Topic

log = get_logger("exos.deadletter")


class DeadLetterSink:
    def __init__(self, bus: Bus, consumer_group: str, metrics: ConsumerMetrics) -> None:
        self._bus = bus
        self._group = consumer_group
        self._metrics = metrics

    async def send(self, record: BusRecord, error: Exception) -> None:
        letter = DeadLetter(
            source_topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            reason=str(error),
            error_type=type(error).__name__,
            consumer_group=self._group,
            failed_at_ns=time.time_ns(),
        )
        await self._bus.publish(
            str(Topic.DEAD_LETTER),
            record.value,
            key=record.key,
            headers=[*record.headers, *dead_letter_headers(letter)],
        )
        self._metrics.dead_letters.labels(record.topic, letter.error_type).inc()
        log.warning(
            "dead_letter",
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            reason=letter.reason[:200],
        )
