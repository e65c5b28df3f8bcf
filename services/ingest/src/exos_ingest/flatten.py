"""OTLP export requests -> the pipeline's message models, one record per span or log
record, flattened the way the ClickHouse exporter stores rows. Pure: no I/O, no clock.

Session rule (README, "Ingest"): the session id is the resource attribute
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
from exos_ingest.anyvalue import as_string, attributes
from exos_ingest.console import console_records

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
    "too_large": "larger than the bus message limit (EXOS_KAFKA_MAX_MESSAGE_BYTES)",
}

# pdata's SpanKind.String() and StatusCode.String(), which the exporter stores.
SPAN_KINDS = ("Unspecified", "Internal", "Server", "Client", "Producer", "Consumer")
STATUS_CODES = ("Unset", "Ok", "Error")


@dataclass(slots=True)
class Flattened:
    """What one request became: records to publish, and how many of the request's own
    items (spans, log records, data points) were rejected, by reason."""

    records: list[PipelineRecord] = field(default_factory=list)
    received: int = 0
    rejected: Counter[str] = field(default_factory=Counter)  # reason code -> count

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


def flatten_traces(request: Any, client: ClientContext) -> Flattened:
    """`ExportTraceServiceRequest` -> SpanRecords (plus LogRecords for browser console
    spans, see `console`)."""
    out = Flattened()
    for resource_spans in request.resource_spans:
        resource = attributes(resource_spans.resource.attributes)
        service_name = resource.get(SERVICE_NAME_ATTRIBUTE, "")
        session_id = session_of(resource)
        for scope_spans in resource_spans.scope_spans:
            spans = scope_spans.spans
            out.received += len(spans)
            if session_id is None:
                out.reject("no_session", len(spans))
                continue
            for span in spans:
                problem = _span_id_problem(span)
                if problem:
                    out.reject(problem)
                    continue
                record = SpanRecord(
                    session_id=session_id,
                    timestamp_ns=span.start_time_unix_nano,
                    trace_id=span.trace_id.hex(),
                    span_id=span.span_id.hex(),
                    name=span.name,
                    service_name=service_name,
                    parent_span_id=hex_id(span.parent_span_id),
                    trace_state=span.trace_state,
                    kind=_name(SPAN_KINDS, span.kind),
                    duration_ns=max(0, span.end_time_unix_nano - span.start_time_unix_nano),
                    status_code=_name(STATUS_CODES, span.status.code),
                    status_message=span.status.message,
                    resource_attributes=resource,
                    scope_name=scope_spans.scope.name,
                    scope_version=scope_spans.scope.version,
                    attributes=attributes(span.attributes),
                    events=[
                        SpanEvent(e.time_unix_nano, e.name, attributes(e.attributes))
                        for e in span.events
                    ],
                    links=[
                        SpanLink(
                            hex_id(link.trace_id),
                            hex_id(link.span_id),
                            link.trace_state,
                            attributes(link.attributes),
                        )
                        for link in span.links
                    ],
                    client=client,
                )
                out.records.extend(console_records(record, trace_flags=span.flags & 0xFF))
    return out


def _span_id_problem(span: trace_pb2.Span) -> str | None:
    if len(span.trace_id) != 16 or not span.trace_id.strip(b"\x00"):
        return "bad_trace_id"
    if len(span.span_id) != 8 or not span.span_id.strip(b"\x00"):
        return "bad_span_id"
    if len(span.parent_span_id) not in (0, 8):
        return "bad_parent_span_id"
    return None


def _name(names: Sequence[str], number: int) -> str:
    return names[number] if 0 <= number < len(names) else names[0]


def flatten_logs(request: Any, client: ClientContext) -> Flattened:
    """`ExportLogsServiceRequest` -> LogRecords, and ReplayChunks for the records that
    carry `rr-web.event` (the collector's routing rule for `hyperdx_sessions`)."""
    out = Flattened()
    for resource_logs in request.resource_logs:
        resource = attributes(resource_logs.resource.attributes)
        service_name = resource.get(SERVICE_NAME_ATTRIBUTE, "")
        session_id = session_of(resource)
        for scope_logs in resource_logs.scope_logs:
            log_records = scope_logs.log_records
            out.received += len(log_records)
            if session_id is None:
                out.reject("no_session", len(log_records))
                continue
            scope = scope_logs.scope
            scope_attributes = attributes(scope.attributes)
            for log in log_records:
                if len(log.trace_id) not in (0, 16) or len(log.span_id) not in (0, 8):
                    out.reject("bad_log_ids")
                    continue
                record_attributes = attributes(log.attributes)
                is_replay = any(kv.key == REPLAY_EVENT_ATTRIBUTE for kv in log.attributes)
                cls = ReplayChunk if is_replay else LogRecord
                out.records.append(
                    cls(
                        session_id=session_id,
                        timestamp_ns=_log_time(log, client),
                        service_name=service_name,
                        body=as_string(log.body),
                        observed_timestamp_ns=log.observed_time_unix_nano,
                        trace_id=hex_id(log.trace_id),
                        span_id=hex_id(log.span_id),
                        trace_flags=log.flags & 0xFF,
                        severity_text=log.severity_text,
                        severity_number=log.severity_number,
                        event_name=log.event_name,
                        resource_schema_url=resource_logs.schema_url,
                        resource_attributes=resource,
                        scope_schema_url=scope_logs.schema_url,
                        scope_name=scope.name,
                        scope_version=scope.version,
                        scope_attributes=scope_attributes,
                        attributes=record_attributes,
                        client=client,
                    )
                )
    return out


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
