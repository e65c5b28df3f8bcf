"""Records -> Kafka records: which raw topic, which key, encoded with the pipeline codec.

Spans go to `otlp.spans.raw`, rrweb chunks to `replay.raw`, every other log record to
`otlp.logs.raw`. The key is the session id, so a session stays in one partition and in
order. Records without a session (server-side SDKs) are keyed by trace id, and when
they have none either by a key per request: a key is never empty, because a null key
would scatter one request's records round-robin over the partitions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from exos_common.bus import OutgoingRecord
from exos_common.codec import PipelineRecord, encode
from exos_common.messages import ReplayChunk, SpanRecord
from exos_common.topics import Topic

# Room for what Kafka adds to a record on top of key and value (headers, batch and
# record framing), so a record that passes here is not refused by the producer.
RECORD_OVERHEAD_BYTES = 1024


def topic_for(record: PipelineRecord) -> Topic:
    if isinstance(record, SpanRecord):
        return Topic.SPANS_RAW
    if isinstance(record, ReplayChunk):
        return Topic.REPLAY_RAW
    return Topic.LOGS_RAW


def partition_key(record: PipelineRecord, request_key: str) -> bytes:
    return (record.session_id or record.trace_id or request_key).encode()


@dataclass(slots=True)
class Routed:
    outgoing: list[OutgoingRecord] = field(default_factory=list)
    too_large: int = 0
    largest: int = 0


def route(records: Sequence[PipelineRecord], *, request_key: str, max_message_bytes: int) -> Routed:
    """Encode and address every record; records over the bus's message size are set
    aside (counted) instead of failing the whole request at the producer."""
    routed = Routed()
    for record in records:
        value, headers = encode(record)
        key = partition_key(record, request_key)
        size = len(value) + len(key) + RECORD_OVERHEAD_BYTES
        if size > max_message_bytes:
            routed.too_large += 1
            routed.largest = max(routed.largest, size)
            continue
        routed.outgoing.append(OutgoingRecord(str(topic_for(record)), value, key, headers))
    return routed
