"""When an exactly-once check fails: where the extra or missing rows came from — the
enriched topic (enrich published twice) or the table (the writer inserted twice) — and,
for the topic, where each copy sits and what the enrich replicas said about their group
membership meanwhile (an expelled replica committing a stale batch shows there)."""

from __future__ import annotations

import asyncio
import re
from collections import Counter, defaultdict
from pathlib import Path

from exos_common.bus import create_bus
from exos_common.settings import KafkaSettings
from exos_common.store import Store
from exos_common.table_payload import spans_in_message as enriched_spans

from . import kafka_offsets

SpanKey = tuple[str, str, str]
SHOWN_COPIES = 5
# What the enrich and writer processes log when the group expels them, a transaction or
# commit is refused, or a new assignment drops what the previous one left behind.
MEMBERSHIP_EVENTS = re.compile(
    r"membership_lost|Heartbeat session expired|member_id was not recognized"
    r"|generation id is not\s+current|because it is rebalancing|transaction not committed"
    r"|stable_offsets_waited|stable_offsets_unknown|stale_fetch_dropped|stale_batch_dropped"
    r"|revoked_batch_dropped|record_below_position_dropped|drain_batch_dropped"
)


async def _topic_span_copies(
    bootstrap: str, topic: str
) -> tuple[dict[SpanKey, list[tuple[int, int]]], dict[SpanKey, str]]:
    """Each span on the topic (read_committed), the partition/offset of every copy, and
    its service (the table check may leave some services out, the topic scan does not).
    Every partition the topic has: an earlier test on the shared broker may have created
    it with more than the platform's."""
    partitions = await kafka_offsets.partitions_of(bootstrap, [topic])
    bus = create_bus("kafka", KafkaSettings(kafka_bootstrap=bootstrap))
    await bus.start()
    copies: dict[SpanKey, list[tuple[int, int]]] = defaultdict(list)
    services: dict[SpanKey, str] = {}
    try:
        for tp in partitions:
            async for batch in bus.read_partition(topic, tp.partition):
                for record in batch:
                    for message in enriched_spans(record.value, record.headers):
                        key = (message.trace_id, message.span_id, message.name)
                        copies[key].append((record.partition, record.offset))
                        services[key] = message.service_name
    finally:
        await bus.stop()
    return copies, services


def membership_events(log_dir: Path) -> dict[str, int]:
    """Per enrich and writer log file, how many membership events it logged."""
    logs = [*sorted(log_dir.glob("enrich-*.log")), *sorted(log_dir.glob("writer-*.log"))]
    return {
        path.name: sum(1 for line in path.open(errors="replace") if MEMBERSHIP_EVENTS.search(line))
        for path in logs
    }


def explain(store: Store, bootstrap: str, where: str, log_dir: Path | None = None) -> str:
    table = store.query_rows(
        "SELECT SpanName, count() FROM (SELECT SpanName, count() AS n FROM otel_traces "
        f"WHERE 1 {where} GROUP BY TraceId, SpanId, SpanName HAVING n > 1) GROUP BY SpanName"
    )
    copies, services = asyncio.run(_topic_span_copies(bootstrap, "spans.enriched"))
    twice = {key: where_ for key, where_ in copies.items() if len(where_) > 1}
    by_name = Counter(f"{services[key]}/{key[2]}" for key in twice)
    shown = [f"{name} at {where_}" for (_, _, name), where_ in list(twice.items())[:SHOWN_COPIES]]
    text = (
        f"duplicated in otel_traces by SpanName: {dict(table)}; "
        f"duplicated on spans.enriched (read_committed): {dict(by_name)} of {len(copies)} spans"
        f"; copies (partition, offset): {shown}"
    )
    stored_twice = store.query_rows(
        "SELECT TraceId, SpanId, SpanName FROM otel_traces "
        f"WHERE 1 {where} GROUP BY TraceId, SpanId, SpanName HAVING count() > 1 LIMIT 50"
    )
    # Stored twice but on the topic once: the writer inserted one record twice.
    writer_twice = [
        f"{name} at {copies.get((trace, span, name))}"
        for trace, span, name in stored_twice
        if len(copies.get((trace, span, name), [])) == 1
    ]
    text += (
        f"; stored twice but once on the topic: {len(writer_twice)} of {len(stored_twice)} "
        f"(partition, offset): {writer_twice[:SHOWN_COPIES]}"
    )
    if log_dir is not None:
        text += f"; membership events per log: {membership_events(log_dir)}"
    return text
