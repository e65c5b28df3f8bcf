"""Records -> Kafka records: which raw topic, which key, one batch per (session, signal).

Spans go to `otlp.spans.raw`, rrweb chunks to `replay.raw`, every other log record to
`otlp.logs.raw`. The records of one request that share a topic and a key travel as one
`RecordBatch` message, so Kafka's per-message cost is paid per session, not per span.
The key is the session id, so a session stays in one partition and in order. Records
without a session (server-side SDKs) are keyed by trace id, and when they have none
either by a key per request: a key is never empty, because a null key would scatter one
request's records round-robin over the partitions.

`replay.raw` is also read by the writer, which stores each chunk as it is; until it reads
batches, rrweb chunks go one per message (the version-1 form). A chunk is up to ~1 MB,
so the per-message cost matters little there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from exos_common.bus import OutgoingRecord
from exos_common.codec import (
    PipelineRecord,
    batch_value_size,
    encode_batch,
    encode_body,
    record_headers,
)
from exos_common.messages import ReplayChunk, SpanRecord
from exos_common.topics import Topic

# Room for what Kafka adds to a record on top of key and value (headers, batch and
# record framing), so a record that passes here is not refused by the producer.
RECORD_OVERHEAD_BYTES = 1024
BATCHED_TOPICS = frozenset({Topic.SPANS_RAW, Topic.LOGS_RAW})


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


@dataclass(slots=True)
class _Group:
    """The encoded records of one (topic, key), in request order."""

    record_type: type
    bodies: list[bytes] = field(default_factory=list)


def route(records: Sequence[PipelineRecord], *, request_key: str, max_message_bytes: int) -> Routed:
    """Encode and address every record, one message per (topic, key); records that
    alone exceed the bus's message size are set aside (counted) instead of failing the
    whole request at the producer, and a batch that would exceed it is split."""
    routed = Routed()
    groups: dict[tuple[Topic, bytes], _Group] = {}
    for record in records:
        body = encode_body(record)
        key = partition_key(record, request_key)
        size = batch_value_size(len(body), 1) + len(key) + RECORD_OVERHEAD_BYTES
        if size > max_message_bytes:
            routed.too_large += 1
            routed.largest = max(routed.largest, size)
            continue
        topic = topic_for(record)
        group = groups.get((topic, key))
        if group is None:
            group = groups[(topic, key)] = _Group(type(record))
        group.bodies.append(body)
    for (topic, key), group in groups.items():
        if topic in BATCHED_TOPICS:
            routed.outgoing += _batches(str(topic), key, group, max_message_bytes)
        else:
            routed.outgoing += _singles(str(topic), key, group)
    return routed


def _batches(topic: str, key: bytes, group: _Group, max_message_bytes: int) -> list[OutgoingRecord]:
    # Greedy in request order: each message holds as many records as fit the limit.
    room = max_message_bytes - len(key) - RECORD_OVERHEAD_BYTES
    out: list[OutgoingRecord] = []
    pending: list[bytes] = []
    pending_size = 0
    for body in group.bodies:
        if pending and batch_value_size(pending_size + len(body), len(pending) + 1) > room:
            out.append(_message(topic, key, group.record_type, pending))
            pending, pending_size = [], 0
        pending.append(body)
        pending_size += len(body)
    if pending:
        out.append(_message(topic, key, group.record_type, pending))
    return out


def _message(topic: str, key: bytes, record_type: type, bodies: list[bytes]) -> OutgoingRecord:
    value, headers = encode_batch(record_type, bodies)
    return OutgoingRecord(topic, value, key, headers)


def _singles(topic: str, key: bytes, group: _Group) -> list[OutgoingRecord]:
    headers = record_headers(group.record_type)
    return [OutgoingRecord(topic, body, key, headers) for body in group.bodies]
