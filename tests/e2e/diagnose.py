"""When an exactly-once check fails: where the extra or missing rows came from — the
enriched topic (enrich published twice) or the table (the writer inserted twice)."""

from __future__ import annotations

import asyncio
from collections import Counter

from exos_common.bus import create_bus
from exos_common.codec import decode
from exos_common.messages import SpanRecord
from exos_common.settings import KafkaSettings
from exos_common.store import Store


async def _topic_span_ids(
    bootstrap: str, topic: str, partitions: int
) -> Counter[tuple[str, str, str]]:
    bus = create_bus("kafka", KafkaSettings(kafka_bootstrap=bootstrap))
    await bus.start()
    seen: Counter[tuple[str, str, str]] = Counter()
    try:
        for partition in range(partitions):
            async for batch in bus.read_partition(topic, partition):
                for record in batch:
                    message = decode(record.value, record.headers)
                    if isinstance(message, SpanRecord):
                        seen[(message.trace_id, message.span_id, message.name)] += 1
    finally:
        await bus.stop()
    return seen


def explain(store: Store, bootstrap: str, partitions: int, where: str) -> str:
    table = store.query_rows(
        "SELECT SpanName, count() FROM (SELECT SpanName, count() AS n FROM otel_traces "
        f"WHERE 1 {where} GROUP BY TraceId, SpanId, SpanName HAVING n > 1) GROUP BY SpanName"
    )
    topic = asyncio.run(_topic_span_ids(bootstrap, "spans.enriched", partitions))
    twice = Counter(name for (_, _, name), n in topic.items() if n > 1)
    return (
        f"duplicated in otel_traces by SpanName: {dict(table)}; "
        f"duplicated on spans.enriched (read_committed): {dict(twice)} of {len(topic)} spans"
    )
