"""OTLP export requests -> the pipeline's message models, one record per span or log
record, flattened the way the ClickHouse exporter stores rows. Pure: no I/O, no clock.

Session rule (docs/pipeline.md, "Sessions"): the session id is the resource attribute
`rum.sessionId`. A resource that carries other `rum.*` attributes but no session id
comes from the HyperDX browser SDK with a broken session: its records are rejected (and
counted in `partial_success`), because a browser record without a session can never be
joined to a replay or a visitor. A resource with no `rum.*` attribute at all is an
ordinary OpenTelemetry SDK (a server, a job): its records are accepted with an empty
session id, and routing keys them by trace id instead.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from exos_common.codec import PipelineRecord
from exos_common.messages import (
    SESSION_ID_ATTRIBUTE,
    Attributes,
    ClientContext,
    LogRecord,
    ReplayChunk,
    SpanEvent,
    SpanLink,
    SpanRecord,
)
from exos_ingest.bounding import Bounder
from exos_ingest.console import console_records
from exos_ingest.limits import Limits

REPLAY_EVENT_ATTRIBUTE = "rr-web.event"
SERVICE_NAME_ATTRIBUTE = "service.name"
BROWSER_ATTRIBUTE_PREFIX = "rum."

# Why a record was rejected: a short code (metrics label) and the sentence sent back in
# `partial_success.error_message`.
REJECTION_REASONS = {
    "no_session": "browser resource (rum.* attributes) without rum.sessionId; the HyperDX "
    "SDK sets it on every export once its session exists",
    "bad_trace_id": "trace_id must be 16 bytes and not all zero",
    "bad_span_id": "span_id must be 8 bytes and not all zero",
    "bad_parent_span_id": "parent_span_id must be empty or 8 bytes",
    "bad_log_ids": "trace_id must be empty or 16 bytes, span_id empty or 8 bytes",
    "too_many_records": "over the per-request limit (EXOS_INGEST_MAX_SPANS_PER_REQUEST / "
    "EXOS_INGEST_MAX_LOGS_PER_REQUEST); send smaller batches",
    "expired": "timestamp older than the table retention (EXOS_RETENTION_*_DAYS), with no "
    "sign of a wrong clock; it would be deleted on insert",
    "too_large": "larger than the bus message limit (EXOS_KAFKA_MAX_MESSAGE_BYTES)",
}

# pdata's SpanKind.String() and StatusCode.String(), which the exporter stores.
SPAN_KINDS = ("Unspecified", "Internal", "Server", "Client", "Producer", "Consumer")
STATUS_CODES = ("Unset", "Ok", "Error")
# The OpenTelemetry log data model's range; `SeverityNumber` is a UInt8 column.
MAX_SEVERITY_NUMBER = 24
# DateTime64(9) is an Int64 of nanoseconds.
MAX_TIMESTAMP_NS = (1 << 63) - 1


@dataclass(slots=True)
class Flattened:
    """What one request became: records to publish, how many of the request's own items
    (spans, log records) were rejected, by reason, and what was stored other than as
    sent (normalised, truncated, dropped parts of a record), by reason."""

    records: list[PipelineRecord] = field(default_factory=list)
    received: int = 0
    rejected: Counter[str] = field(default_factory=Counter)  # reason code -> count
    corrected: Counter[str] = field(default_factory=Counter)  # reason code -> count

    @property
    def rejected_count(self) -> int:
        # Capped: one span can become two records (console.error), both too large.
        return min(sum(self.rejected.values()), self.received)

    def reject(self, reason: str, count: int = 1) -> None:
        self.rejected[reason] += count

    def rejection_message(self, noun: str) -> str:
        """`partial_success.error_message`: how many of what were refused and why."""
        why = "; ".join(
            f"{count} {REJECTION_REASONS[reason]}"
            for reason, count in sorted(self.rejected.items())
        )
        return f"{self.rejected_count} of {self.received} {noun} rejected: {why}"


def session_of(resource: Attributes) -> str | None:
    """The record's session id; "" when the sender is not a browser SDK; None when it is
    a browser SDK that sent no session id (reject)."""
    session_id = resource.get(SESSION_ID_ATTRIBUTE, "")
    if session_id:
        return session_id
    if any(key.startswith(BROWSER_ATTRIBUTE_PREFIX) for key in resource):
        return None
    return ""


def hex_id(raw: bytes) -> str:
    """Lower-case hex, "" for an empty or all-zero id (the exporter's
    `TraceIDToHexOrEmptyString`)."""
    return raw.hex() if raw.strip(b"\x00") else ""


def flatten_traces(request: Any, client: ClientContext, limits: Limits | None = None) -> Flattened:
    """`ExportTraceServiceRequest` -> SpanRecords (plus LogRecords for browser console
    spans, see `console`), every field held to its column and to `limits`."""
    bound = Bounder(limits or Limits())
    out = Flattened()
    room = bound.limits.max_spans_per_request
    for resource_spans in request.resource_spans:
        resource = bound.attributes(resource_spans.resource.attributes)
        service_name = resource.get(SERVICE_NAME_ATTRIBUTE, "")
        session_id = session_of(resource)
        for scope_spans in resource_spans.scope_spans:
            spans = scope_spans.spans
            out.received += len(spans)
            if session_id is None:
                out.reject("no_session", len(spans))
                continue
            if len(spans) > room:
                out.reject("too_many_records", len(spans) - room)
            kept = spans[:room]
            room -= len(kept)
            common = _SpanCommon(
                session_id=session_id,
                service_name=service_name,
                resource=resource,
                scope_name=bound.text(scope_spans.scope.name),
                scope_version=bound.text(scope_spans.scope.version),
                client=client,
            )
            for span in kept:
                problem = _span_id_problem(span)
                if problem:
                    out.reject(problem)
                    continue
                record = _span_record(span, bound, common)
                out.records.extend(console_records(record, trace_flags=span.flags & 0xFF))
    out.corrected.update(bound.corrections)
    return out


@dataclass(frozen=True, slots=True)
class _SpanCommon:
    """What every span of one scope shares."""

    session_id: str
    service_name: str
    resource: Attributes
    scope_name: str
    scope_version: str
    client: ClientContext


def _span_record(span: trace_pb2.Span, bound: Bounder, common: _SpanCommon) -> SpanRecord:
    limits = bound.limits
    return SpanRecord(
        session_id=common.session_id,
        timestamp_ns=span.start_time_unix_nano,
        trace_id=span.trace_id.hex(),
        span_id=span.span_id.hex(),
        name=bound.text(span.name, limits.max_span_name_chars),
        service_name=common.service_name,
        parent_span_id=hex_id(span.parent_span_id),
        trace_state=bound.text(span.trace_state),
        kind=_enum_name(SPAN_KINDS, span.kind, bound, "span_kind"),
        duration_ns=_duration(span, bound),
        status_code=_enum_name(STATUS_CODES, span.status.code, bound, "status_code"),
        status_message=bound.text(span.status.message),
        resource_attributes=common.resource,
        scope_name=common.scope_name,
        scope_version=common.scope_version,
        attributes=bound.attributes(span.attributes),
        events=_events(span, bound),
        links=_links(span, bound),
        client=common.client,
    )


def _duration(span: trace_pb2.Span, bound: Bounder) -> int:
    start, end = span.start_time_unix_nano, span.end_time_unix_nano
    if end > MAX_TIMESTAMP_NS:
        bound.corrections["bad_end_time"] += 1
        return 0
    return max(0, end - start)


def _events(span: trace_pb2.Span, bound: Bounder) -> list[SpanEvent]:
    limit = bound.limits.max_events_per_span
    if len(span.events) > limit:
        bound.corrections["events_over_limit"] += len(span.events) - limit
    return [
        SpanEvent(
            e.time_unix_nano,
            bound.text(e.name, bound.limits.max_span_name_chars),
            bound.attributes(e.attributes),
        )
        for e in span.events[:limit]
    ]


def _links(span: trace_pb2.Span, bound: Bounder) -> list[SpanLink]:
    limit = bound.limits.max_links_per_span
    if len(span.links) > limit:
        bound.corrections["links_over_limit"] += len(span.links) - limit
    links = []
    for link in span.links[:limit]:
        if not _is_id(link.trace_id, 16) or not _is_id(link.span_id, 8):
            bound.corrections["bad_link_id"] += 1
            continue
        links.append(
            SpanLink(
                link.trace_id.hex(),
                link.span_id.hex(),
                bound.text(link.trace_state),
                bound.attributes(link.attributes),
            )
        )
    return links


def _is_id(raw: bytes, size: int) -> bool:
    return len(raw) == size and bool(raw.strip(b"\x00"))


def _span_id_problem(span: trace_pb2.Span) -> str | None:
    if not _is_id(span.trace_id, 16):
        return "bad_trace_id"
    if not _is_id(span.span_id, 8):
        return "bad_span_id"
    if len(span.parent_span_id) not in (0, 8):
        return "bad_parent_span_id"
    return None


def _enum_name(names: Sequence[str], number: int, bound: Bounder, reason: str) -> str:
    # Protobuf enums are open: any int32 arrives. Unknown ones are stored as the
    # unspecified name, as pdata prints them, and counted.
    if 0 <= number < len(names):
        return names[number]
    bound.corrections[reason] += 1
    return names[0]


def flatten_logs(request: Any, client: ClientContext, limits: Limits | None = None) -> Flattened:
    """`ExportLogsServiceRequest` -> LogRecords, and ReplayChunks for the records that
    carry `rr-web.event` (the collector's routing rule for `hyperdx_sessions`)."""
    bound = Bounder(limits or Limits())
    out = Flattened()
    room = bound.limits.max_logs_per_request
    for resource_logs in request.resource_logs:
        resource = bound.attributes(resource_logs.resource.attributes)
        session_id = session_of(resource)
        for scope_logs in resource_logs.scope_logs:
            log_records = scope_logs.log_records
            out.received += len(log_records)
            if session_id is None:
                out.reject("no_session", len(log_records))
                continue
            if len(log_records) > room:
                out.reject("too_many_records", len(log_records) - room)
            kept = log_records[:room]
            room -= len(kept)
            common = _LogCommon(
                session_id=session_id,
                service_name=resource.get(SERVICE_NAME_ATTRIBUTE, ""),
                resource=resource,
                resource_schema_url=bound.text(resource_logs.schema_url),
                scope_schema_url=bound.text(scope_logs.schema_url),
                scope_name=bound.text(scope_logs.scope.name),
                scope_version=bound.text(scope_logs.scope.version),
                scope_attributes=bound.attributes(scope_logs.scope.attributes),
                client=client,
            )
            for log in kept:
                if len(log.trace_id) not in (0, 16) or len(log.span_id) not in (0, 8):
                    out.reject("bad_log_ids")
                    continue
                out.records.append(_log_record(log, bound, common))
    out.corrected.update(bound.corrections)
    return out


@dataclass(frozen=True, slots=True)
class _LogCommon:
    """What every log record of one scope shares."""

    session_id: str
    service_name: str
    resource: Attributes
    resource_schema_url: str
    scope_schema_url: str
    scope_name: str
    scope_version: str
    scope_attributes: Attributes
    client: ClientContext


def _log_record(log: logs_pb2.LogRecord, bound: Bounder, common: _LogCommon) -> LogRecord:
    is_replay = any(kv.key == REPLAY_EVENT_ATTRIBUTE for kv in log.attributes)
    cls = ReplayChunk if is_replay else LogRecord
    return cls(
        session_id=common.session_id,
        timestamp_ns=_log_time(log, common.client),
        service_name=common.service_name,
        body=bound.body(log.body),
        observed_timestamp_ns=log.observed_time_unix_nano,
        trace_id=hex_id(log.trace_id),
        span_id=hex_id(log.span_id),
        trace_flags=log.flags & 0xFF,
        severity_text=bound.text(log.severity_text),
        severity_number=_severity(log.severity_number, bound),
        event_name=bound.text(log.event_name),
        resource_schema_url=common.resource_schema_url,
        resource_attributes=common.resource,
        scope_schema_url=common.scope_schema_url,
        scope_name=common.scope_name,
        scope_version=common.scope_version,
        scope_attributes=common.scope_attributes,
        attributes=bound.attributes(log.attributes),
        client=common.client,
    )


def _severity(number: int, bound: Bounder) -> int:
    # Out of the data model's range the number means nothing; 0 (unspecified) keeps the
    # record and its SeverityText rather than losing a log line over one field.
    if 0 <= number <= MAX_SEVERITY_NUMBER:
        return number
    bound.corrections["severity_number"] += 1
    return 0


def _log_time(log: logs_pb2.LogRecord, client: ClientContext) -> int:
    # The exporter falls back to the observed time; with neither set we use the arrival
    # time rather than 1970, which a TTL'd table would drop at once.
    return log.time_unix_nano or log.observed_time_unix_nano or client.received_at_ns


def count_data_points(request: Any) -> int:
    """Data points of an `ExportMetricsServiceRequest` (metrics are acknowledged, not
    stored yet; the count feeds the metrics and the response)."""
    total = 0
    for resource_metrics in request.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data")
                if kind is not None:
                    total += len(getattr(metric, kind).data_points)
    return total
