"""Versioned wire encoding of the pipeline messages: orjson bodies, schema in a header.

The `exos-schema` header names the record type and its version (`span/1`), so a
consumer knows what it holds before parsing, and a new version can be rolled out while
old messages are still on the topic: decoders for every supported version stay here.
orjson was chosen over protobuf by `bench/bench_codec.py` (docs/adr/0002-orjson-message-codec.md).

Version 2 (`spans/2`, `logs/2`, `replay/2`) is a batch: a JSON array of version-1
bodies, with the number of records in the `exos-count` header. Version-1 messages (one
record each) are still decoded, so a consumer upgraded first reads what an old ingest
left on the topic; a consumer must be upgraded before ingest starts writing batches.

Anything that cannot be decoded raises `PoisonRecord`: the consumer dead-letters that
record alone and goes on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from exos_common.messages import (
    ClientContext,
    DeadLetter,
    LogRecord,
    RecordBatch,
    ReplayChunk,
    SpanEvent,
    SpanLink,
    SpanRecord,
)

SCHEMA_HEADER = "exos-schema"
COUNT_HEADER = "exos-count"
Headers = Sequence[tuple[str, bytes]]
PipelineRecord = SpanRecord | LogRecord | ReplayChunk
BusMessage = PipelineRecord | RecordBatch


class PoisonRecord(ValueError):
    """A message that no retry can process: wrong schema, bad JSON, missing fields."""


_SCHEMA_OF: dict[type, bytes] = {
    SpanRecord: b"span/1",
    LogRecord: b"log/1",
    ReplayChunk: b"replay/1",
}


_BATCH_SCHEMA_OF: dict[type, bytes] = {
    SpanRecord: b"spans/2",
    LogRecord: b"logs/2",
    ReplayChunk: b"replay/2",
}
_RECORD_SCHEMA_OF_BATCH = {"spans/2": "span/1", "logs/2": "log/1", "replay/2": "replay/1"}


def encode(record: PipelineRecord) -> tuple[bytes, list[tuple[str, bytes]]]:
    """Encode a record for the bus: (value, headers)."""
    schema = _SCHEMA_OF[type(record)]
    return orjson.dumps(record), [(SCHEMA_HEADER, schema)]


def record_headers(record_type: type) -> list[tuple[str, bytes]]:
    """The headers of a version-1 (one record) message whose value is `encode_body`."""
    return [(SCHEMA_HEADER, _SCHEMA_OF[record_type])]


def encode_body(record: PipelineRecord) -> bytes:
    """One record's body as it appears inside a batch (and as a version-1 value)."""
    return orjson.dumps(record)


def encode_batch(
    record_type: type, bodies: Sequence[bytes]
) -> tuple[bytes, list[tuple[str, bytes]]]:
    """A batch of records of `record_type` from their `encode_body` bodies: the array is
    joined from bytes already encoded, so a batch split to fit the message limit does
    not encode any record twice."""
    schema = _BATCH_SCHEMA_OF[record_type]
    value = b"[" + b",".join(bodies) + b"]"
    return value, [(SCHEMA_HEADER, schema), (COUNT_HEADER, str(len(bodies)).encode())]


def batch_value_size(bodies_size: int, count: int) -> int:
    """The length of `encode_batch`'s value for `count` bodies of `bodies_size` bytes."""
    return bodies_size + max(count - 1, 0) + 2


def _header(headers: Headers, wanted: str) -> str | None:
    for name, value in headers:
        if name == wanted:
            return value.decode("ascii", errors="replace")
    return None


def record_count(headers: Headers) -> int:
    """How many records a message carries, from its headers alone (1 for version 1)."""
    declared = _header(headers, COUNT_HEADER)
    return int(declared) if declared is not None and declared.isdigit() else 1


def schema_of(headers: Headers) -> str:
    schema = _header(headers, SCHEMA_HEADER)
    if schema is None:
        raise PoisonRecord(f"missing {SCHEMA_HEADER} header")
    return schema


def decode(value: bytes, headers: Headers) -> BusMessage:
    """Decode a message from the bus: a `RecordBatch` for version 2, a single record for
    version 1; raises PoisonRecord when it cannot be decoded."""
    schema = schema_of(headers)
    record_schema = _RECORD_SCHEMA_OF_BATCH.get(schema)
    if record_schema is not None:
        return _decode_batch(schema, record_schema, value, headers)
    decoder = _decoder(schema)
    data = _loads(value)
    if not isinstance(data, dict):
        raise PoisonRecord("message body is not a JSON object")
    try:
        return decoder(data)
    except (TypeError, KeyError, ValueError) as exc:
        raise PoisonRecord(f"{schema}: {exc}") from exc


def records_of(message: BusMessage) -> Sequence[PipelineRecord]:
    """The records a decoded message holds, in order (one for a version-1 message)."""
    return message.records if isinstance(message, RecordBatch) else (message,)


def _decoder(schema: str) -> Callable[[dict[str, Any]], PipelineRecord]:
    decoder = _DECODERS.get(schema)
    if decoder is None:
        raise PoisonRecord(f"unsupported schema {schema!r}")
    return decoder


def _loads(value: bytes) -> Any:
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise PoisonRecord(f"invalid JSON: {exc}") from exc


def _decode_batch(schema: str, record_schema: str, value: bytes, headers: Headers) -> RecordBatch:
    # The count header is checked against the body: a batch cut short or padded is
    # refused whole rather than half-processed.
    declared = _header(headers, COUNT_HEADER)
    if declared is None or not declared.isdigit():
        raise PoisonRecord(f"{schema}: missing or invalid {COUNT_HEADER} header")
    data = _loads(value)
    if not isinstance(data, list):
        raise PoisonRecord(f"{schema}: message body is not a JSON array")
    if len(data) != int(declared):
        raise PoisonRecord(f"{schema}: {COUNT_HEADER} says {declared}, body has {len(data)}")
    decoder = _decoder(record_schema)
    records = []
    for index, item in enumerate(data):
        if not isinstance(item, dict):
            raise PoisonRecord(f"{schema}: record {index} is not a JSON object")
        try:
            records.append(decoder(item))
        except (TypeError, KeyError, ValueError) as exc:
            raise PoisonRecord(f"{schema}: record {index}: {exc}") from exc
    return RecordBatch(records)  # type: ignore[arg-type]  # one decoder: one record type


def _check_scalars(cls: type, data: Mapping[str, Any]) -> None:
    # Wrong scalar types would only fail later, at the ClickHouse insert, for the whole
    # batch; catching them here keeps the damage to this one record.
    for name, expected in _SCALAR_TYPES[cls].items():
        if name in data and not isinstance(data[name], expected):
            raise TypeError(f"field {name!r} must be {expected.__name__}")


def _client(data: Mapping[str, Any] | None) -> ClientContext:
    return ClientContext(**data) if data else ClientContext()


def _decode_span_v1(data: dict[str, Any]) -> SpanRecord:
    _check_scalars(SpanRecord, data)
    data["events"] = [SpanEvent(**e) for e in data.get("events", ())]
    data["links"] = [SpanLink(**link) for link in data.get("links", ())]
    data["client"] = _client(data.get("client"))
    return SpanRecord(**data)


def _log_decoder_v1(cls: type[LogRecord]) -> Callable[[dict[str, Any]], LogRecord]:
    def decode_log(data: dict[str, Any]) -> LogRecord:
        _check_scalars(cls, data)
        data["client"] = _client(data.get("client"))
        return cls(**data)

    return decode_log


def _scalar_types(cls: type) -> dict[str, type]:
    simple = {"int": int, "str": str}
    return {f.name: simple[str(f.type)] for f in dataclasses.fields(cls) if str(f.type) in simple}


_SCALAR_TYPES: dict[type, dict[str, type]] = {
    cls: _scalar_types(cls) for cls in (SpanRecord, LogRecord, ReplayChunk)
}

_DECODERS: dict[str, Callable[[dict[str, Any]], PipelineRecord]] = {
    "span/1": _decode_span_v1,
    "log/1": _log_decoder_v1(LogRecord),
    "replay/1": _log_decoder_v1(ReplayChunk),
}


# Dead letters keep the original bytes as the value; where they came from and why
# travels in headers, so the value can be re-published untouched.
_DLQ_PREFIX = "exos-dlq-"


def dead_letter_headers(letter: DeadLetter) -> list[tuple[str, bytes]]:
    fields = {
        "source-topic": letter.source_topic,
        "partition": str(letter.partition),
        "offset": str(letter.offset),
        "reason": letter.reason[:4096],
        "error-type": letter.error_type,
        "consumer-group": letter.consumer_group,
        "failed-at-ns": str(letter.failed_at_ns),
    }
    return [(_DLQ_PREFIX + name, value.encode()) for name, value in fields.items()]


def decode_dead_letter(key: bytes | None, value: bytes, headers: Headers) -> DeadLetter:
    found = {
        name[len(_DLQ_PREFIX) :]: raw.decode()
        for name, raw in headers
        if name.startswith(_DLQ_PREFIX)
    }
    try:
        return DeadLetter(
            source_topic=found["source-topic"],
            partition=int(found["partition"]),
            offset=int(found["offset"]),
            key=key,
            value=value,
            reason=found["reason"],
            error_type=found["error-type"],
            consumer_group=found["consumer-group"],
            failed_at_ns=int(found["failed-at-ns"]),
        )
    except (KeyError, ValueError) as exc:
        raise PoisonRecord(f"not a dead letter: {exc}") from exc
