"""Enriched payloads: rows already in a ClickHouse input format of their table.

One message carries the rows of one session for one table as JSONCompactEachRow: one
JSON array per row, one row per line, columns in the order of `TABLE_COLUMNS`. The
writer concatenates the payloads of a batch and inserts the bytes as they are, without
parsing a row in Python; when ClickHouse refuses a batch, the lines let it split a
payload down to the one row ClickHouse refuses without parsing either
(`bench/bench_insert_formats.py` compared this format with the others).

Headers: `exos-schema: rows/1`, `exos-table` (the target table), `exos-rows` (the row
count, checked against the lines).

The encoder never lets ClickHouse change a value silently: ClickHouse wraps 300 into a
UInt8 column as 44, so an integer outside its column's type is written as a string
naming it, which ClickHouse refuses with a parse error, and the writer quarantines that
row with where it came from.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from exos_common.store import Store

from exos_common.codec import SCHEMA_HEADER, Headers, PipelineRecord, PoisonRecord, decode
from exos_common.messages import (
    SESSION_ID_ATTRIBUTE,
    LogRecord,
    SpanEvent,
    SpanLink,
    SpanRecord,
)

PAYLOAD_SCHEMA = b"rows/1"
TABLE_HEADER = "exos-table"
ROWS_HEADER = "exos-rows"
PAYLOAD_FORMAT = "JSONCompactEachRow"

TRACE_COLUMNS = (
    "Timestamp",
    "TraceId",
    "SpanId",
    "ParentSpanId",
    "TraceState",
    "SpanName",
    "SpanKind",
    "ServiceName",
    "ResourceAttributes",
    "ScopeName",
    "ScopeVersion",
    "SpanAttributes",
    "Duration",
    "StatusCode",
    "StatusMessage",
    "Events.Timestamp",
    "Events.Name",
    "Events.Attributes",
    "Links.TraceId",
    "Links.SpanId",
    "Links.TraceState",
    "Links.Attributes",
)
REPLAY_COLUMNS = (
    "Timestamp",
    "TraceId",
    "SpanId",
    "TraceFlags",
    "SeverityText",
    "SeverityNumber",
    "ServiceName",
    "Body",
    "ResourceSchemaUrl",
    "ResourceAttributes",
    "ScopeSchemaUrl",
    "ScopeName",
    "ScopeVersion",
    "ScopeAttributes",
    "LogAttributes",
)
LOG_COLUMNS = (*REPLAY_COLUMNS, "EventName")

TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "otel_traces": TRACE_COLUMNS,
    "otel_logs": LOG_COLUMNS,
    "hyperdx_sessions": REPLAY_COLUMNS,
}

_UINT8_MAX = 2**8 - 1
_UINT64_MAX = 2**64 - 1
_INT64_MAX = 2**63 - 1
_NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class TablePayload:
    """Rows of one table as `PAYLOAD_FORMAT` lines, each ending in a newline."""

    table: str
    row_count: int
    body: bytes

    def headers(self) -> list[tuple[str, bytes]]:
        return [
            (SCHEMA_HEADER, PAYLOAD_SCHEMA),
            (TABLE_HEADER, self.table.encode()),
            (ROWS_HEADER, str(self.row_count).encode()),
        ]


def timestamp(ns: int) -> str | int:
    """DateTime64(9) as JSON: decimal seconds in a string (a JSON integer would be read
    as whole seconds, a float would lose nanoseconds). The seconds always have 10
    digits: ClickHouse reads 8 digits as YYYYMMDD and refuses fewer than 9 followed
    by a fraction, so a moment before 2001 would be refused or stored wrong."""
    if not 0 <= ns <= _INT64_MAX:
        return _refused("DateTime64(9) nanoseconds", ns)
    seconds, fraction = divmod(ns, _NS)
    return f"{seconds:010d}.{fraction:09d}"


def uint(value: int, maximum: int, type_name: str) -> int | str:
    return value if 0 <= value <= maximum else _refused(type_name, value)


def _refused(type_name: str, value: object) -> str:
    # Not a number, so ClickHouse refuses the row instead of wrapping the value.
    return f"out of range for {type_name}: {value}"


def trace_row(span: SpanRecord) -> list[Any]:
    return [
        timestamp(span.timestamp_ns),
        span.trace_id,
        span.span_id,
        span.parent_span_id,
        span.trace_state,
        span.name,
        span.kind,
        span.service_name,
        span.resource_attributes,
        span.scope_name,
        span.scope_version,
        span.attributes,
        uint(span.duration_ns, _UINT64_MAX, "UInt64"),
        span.status_code,
        span.status_message,
        [timestamp(event.timestamp_ns) for event in span.events],
        [event.name for event in span.events],
        [event.attributes for event in span.events],
        [link.trace_id for link in span.links],
        [link.span_id for link in span.links],
        [link.trace_state for link in span.links],
        [link.attributes for link in span.links],
    ]


def replay_row(log: LogRecord) -> list[Any]:
    return [
        timestamp(log.timestamp_ns or log.observed_timestamp_ns),
        log.trace_id,
        log.span_id,
        uint(log.trace_flags, _UINT8_MAX, "UInt8"),
        log.severity_text,
        uint(log.severity_number, _UINT8_MAX, "UInt8"),
        log.service_name,
        log.body,
        log.resource_schema_url,
        log.resource_attributes,
        log.scope_schema_url,
        log.scope_name,
        log.scope_version,
        log.scope_attributes,
        log.attributes,
    ]


def log_row(log: LogRecord) -> list[Any]:
    return [*replay_row(log), log.event_name]


ROW_BUILDERS: dict[str, tuple[type, Callable[[Any], list[Any]]]] = {
    "otel_traces": (SpanRecord, trace_row),
    "otel_logs": (LogRecord, log_row),
    "hyperdx_sessions": (LogRecord, replay_row),
}


def encode_line(table: str, record: PipelineRecord) -> bytes:
    """One row as one line; TypeError for a record that is not this table's, or that
    JSON cannot hold (e.g. a lone surrogate in a string)."""
    message_type, build = ROW_BUILDERS[table]
    if not isinstance(record, message_type):
        raise TypeError(f"{table} takes {message_type.__name__} records")
    return orjson.dumps(build(record), option=orjson.OPT_APPEND_NEWLINE)


def encode_payload(table: str, records: Iterable[PipelineRecord]) -> TablePayload:
    lines = [encode_line(table, record) for record in records]
    return TablePayload(table, len(lines), b"".join(lines))


def insert_payload(store: Store, payload: TablePayload, *, dedup_token: str | None = None) -> int:
    """Insert a payload's rows as they are (the writer's path, without its batching)."""
    return store.insert_raw(
        payload.table,
        TABLE_COLUMNS[payload.table],
        payload.body,
        PAYLOAD_FORMAT,
        dedup_token=dedup_token,
    )


def header(headers: Headers, name: str) -> bytes | None:
    for key, value in headers:
        if key == name:
            return value
    return None


def is_payload(headers: Headers) -> bool:
    return header(headers, SCHEMA_HEADER) == PAYLOAD_SCHEMA


def decode_payload(value: bytes, headers: Headers) -> TablePayload:
    """The payload of a `rows/1` message, checked without parsing a row: a known table,
    a row count that matches the lines, a body that ends its last line. PoisonRecord
    otherwise."""
    table = (header(headers, TABLE_HEADER) or b"").decode("utf-8", "replace")
    if table not in TABLE_COLUMNS:
        raise PoisonRecord(f"rows/1: unknown table {table!r}")
    raw_count = header(headers, ROWS_HEADER) or b""
    try:
        row_count = int(raw_count)
    except ValueError:
        raise PoisonRecord(f"rows/1: row count {raw_count!r} is not a number") from None
    if row_count < 1 or value.count(b"\n") != row_count or not value.endswith(b"\n"):
        raise PoisonRecord(f"rows/1: {row_count} rows announced, body does not hold them")
    return TablePayload(table, row_count, value)


def line_bounds(body: bytes) -> list[int]:
    """Where each line starts, and the end: line i is body[b[i]:b[i + 1]]. Only a
    bisection needs it."""
    bounds = [0]
    find = body.find
    start = find(b"\n")
    while start != -1:
        bounds.append(start + 1)
        start = find(b"\n", start + 1)
    return bounds


def lines(body: bytes) -> Sequence[bytes]:
    bounds = line_bounds(body)
    return [body[a:b] for a, b in pairwise(bounds)]


def read_rows(body: bytes) -> list[list[Any]]:
    """The rows of a payload as JSON values (tests and diagnostics; the writer never
    parses a row)."""
    return [orjson.loads(line) for line in lines(body)]


def _nanoseconds(value: str) -> int:
    seconds, _, fraction = value.partition(".")
    return int(seconds) * _NS + int(fraction.ljust(9, "0")[:9] or 0)


def read_spans(body: bytes) -> list[SpanRecord]:
    """An `otel_traces` payload back as spans (tests and diagnostics)."""
    spans = []
    for row in read_rows(body):
        (ts, trace_id, span_id, parent, state, name, kind, service, resource) = row[:9]
        (scope_name, scope_version, attributes, duration, status, status_message) = row[9:15]
        events = [SpanEvent(_nanoseconds(t), n, a) for t, n, a in zip(*row[15:18], strict=True)]
        links = [SpanLink(*link) for link in zip(*row[18:22], strict=True)]
        spans.append(
            SpanRecord(
                resource.get(SESSION_ID_ATTRIBUTE, ""),
                _nanoseconds(ts),
                trace_id,
                span_id,
                name,
                service,
                parent,
                state,
                kind,
                duration,
                status,
                status_message,
                resource,
                scope_name,
                scope_version,
                attributes,
                events,
                links,
            )
        )
    return spans


def spans_in_message(value: bytes, headers: Headers) -> list[SpanRecord]:
    """The spans a `spans.enriched` message holds, as a payload or (written before
    payloads) one span of its own; none for anything else (tests and diagnostics)."""
    if is_payload(headers):
        payload = decode_payload(value, headers)
        return read_spans(payload.body) if payload.table == "otel_traces" else []
    record = decode(value, headers)
    return [record] if isinstance(record, SpanRecord) else []
