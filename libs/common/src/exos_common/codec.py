"""Versioned wire encoding of the pipeline messages: orjson bodies, schema in a header.

The `exos-schema` header names the record type and its version (`span/1`), so a
consumer knows what it holds before parsing, and a new version can be rolled out while
old messages are still on the topic: decoders for every supported version stay here.
orjson was chosen over protobuf by `bench/bench_codec.py` (docs/adr/0002-orjson-message-codec.md).

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
    ReplayChunk,
    SpanEvent,
    SpanLink,
    SpanRecord,
)

SCHEMA_HEADER = "exos-schema"
Headers = Sequence[tuple[str, bytes]]
PipelineRecord = SpanRecord | LogRecord | ReplayChunk


class PoisonRecord(ValueError):
    """A message that no retry can process: wrong schema, bad JSON, missing fields."""


_SCHEMA_OF: dict[type, bytes] = {
    SpanRecord: b"span/1",
    LogRecord: b"log/1",
    ReplayChunk: b"replay/1",
}


def encode(record: PipelineRecord) -> tuple[bytes, list[tuple[str, bytes]]]:
    """Encode a record for the bus: (value, headers)."""
    schema = _SCHEMA_OF[type(record)]
    return orjson.dumps(record), [(SCHEMA_HEADER, schema)]


def schema_of(headers: Headers) -> str:
    for name, value in headers:
        if name == SCHEMA_HEADER:
            return value.decode("ascii", errors="replace")
    raise PoisonRecord(f"missing {SCHEMA_HEADER} header")


def decode(value: bytes, headers: Headers) -> PipelineRecord:
    """Decode a message from the bus; raises PoisonRecord when it cannot be decoded."""
    schema = schema_of(headers)
    decoder = _DECODERS.get(schema)
    if decoder is None:
        raise PoisonRecord(f"unsupported schema {schema!r}")
    try:
        data = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise PoisonRecord(f"invalid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise PoisonRecord("message body is not a JSON object")
    try:
        return decoder(data)
    except (TypeError, KeyError, ValueError) as exc:
        raise PoisonRecord(f"{schema}: {exc}") from exc


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
